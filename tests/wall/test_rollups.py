"""The per-minute rollup the Wall's charts read: kept in the ingest transaction, never
counting a mention twice, equal to a recount, and the selectors shaped from it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from listening import services as listening
from listening.models import Alert, AlertRule
from tests.listening import factories as f
from wall import rollups, selectors
from wall.models import MentionMinute

pytestmark = pytest.mark.django_db(transaction=True)


def _rollup() -> dict:
    return {(r.minute, r.source_id): (r.total, r.positive, r.neutral, r.negative)
            for r in MentionMinute.objects.order_by("minute", "source_id")}


def test_ingest_counts_each_new_mention_once_per_minute_and_sentiment():
    source = f.source()
    now = timezone.now().replace(second=30, microsecond=0)
    batch = [
        f.fetched("I love this, best ad ever, wonderful", external_id="a", posted_at=now),
        f.fetched("This is terrible, awful, I hate it", external_id="b", posted_at=now),
        f.fetched("The game starts at eight", external_id="c", posted_at=now - timedelta(minutes=1)),
    ]
    listening.mention_ingest_batch(source_id=source.id, fetched=batch)
    listening.mention_ingest_batch(source_id=source.id, fetched=batch)  # re-delivered: nothing new
    minute = now.replace(second=0)
    assert _rollup() == {
        (minute - timedelta(minutes=1), source.id): (1, 0, 1, 0),
        (minute, source.id): (2, 1, 0, 1),
    }
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("Great", external_id="d", posted_at=now)])
    assert _rollup()[(minute, source.id)] == (3, 2, 0, 1)


def test_a_recount_equals_what_ingest_kept():
    now = timezone.now()
    for source in (f.source(), f.source()):
        listening.mention_ingest_batch(source_id=source.id, fetched=[
            f.fetched(text, posted_at=now - timedelta(minutes=n % 7, seconds=n))
            for n, text in enumerate(["great stuff", "awful", "meh", "love it", "hate it", "ok"] * 5)
        ])
    kept = _rollup()
    assert rollups.mention_minutes_rebuild() == len(kept)
    assert _rollup() == kept
    assert sum(v[0] for v in kept.values()) == 60


def test_volume_series_fills_quiet_minutes_and_marks_an_open_spike():
    source = f.source()
    now = timezone.now()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("blackout in the stadium", posted_at=now - timedelta(minutes=m)) for m in (0, 0, 0, 2, 30)
    ])
    rule = AlertRule.objects.create(name="Volume", kind=AlertRule.Kind.SPIKE, spike_window_minutes=5)
    Alert.objects.create(rule=rule, kind=rule.kind, priority="P2", title="Spike: Volume (3 in 5 min)", opened_at=now)
    data = selectors.volume_series(minutes=60, now=now)
    assert len(data["total"]) == 60
    assert data["total"][-1] == 3 and data["total"][-3] == 1 and data["total"][-31] == 1
    assert data["sum"] == 5 and data["peak"] == 3
    assert data["spikes"] == [{"from": 54, "to": 59, "title": "Spike: Volume (3 in 5 min)", "open": True}]


def test_sentiment_series_gives_shares_per_five_minutes():
    source = f.source()
    now = timezone.now()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("I love it, wonderful", posted_at=now), f.fetched("awful, hate it", posted_at=now),
        f.fetched("awful, terrible", posted_at=now), f.fetched("the kickoff is at 6", posted_at=now),
    ])
    data = selectors.sentiment_series(now=now)
    assert len(data["total"]) == 12 and data["total"][-1] == 4
    assert data["overall"] == {"positive": 1, "neutral": 1, "negative": 2}
    assert data["shares"] == {"positive": 25, "neutral": 25, "negative": 50}
