"""Ingest: each mention stored once, bounded, enriched, rule-matched, with the cursor
moved in the same transaction; alerts group matches; a spike raises one alert."""

from warroom.text import without_bidi_controls
from datetime import timedelta

import pytest
from django.utils import timezone

from listening import services
from listening.models import Alert, AlertRule, Mention, ReadUsage, Source
from tests.listening import factories as f
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)


def rule(user=None, **fields) -> AlertRule:
    fields.setdefault("name", "Blackout")
    fields.setdefault("query", "blackout")
    return services.rule_create(user=user, **fields)


def test_duplicates_within_and_across_batches_are_stored_once():
    source = f.source()
    batch = [f.fetched("one", external_id="a"), f.fetched("one again", external_id="a"), f.fetched("two", external_id="b")]
    first = services.mention_ingest_batch(source_id=source.id, fetched=batch)
    second = services.mention_ingest_batch(source_id=source.id, fetched=batch + [f.fetched("three", external_id="c")])
    assert (first.received, first.stored) == (3, 2)
    assert second.stored == 1
    assert sorted(Mention.objects.values_list("external_id", flat=True)) == ["a", "b", "c"]
    assert Mention.objects.get(external_id="a").text == "one"


def test_an_id_with_a_nul_is_refused_with_a_note_on_the_source_and_the_rest_is_stored():
    """Dropping the NUL would make "a\\0b" the same mention as "ab": the one with the NUL is
    refused, said on the source's health, and never merged with the other."""
    source = f.source()
    batch = [f.fetched("plain ab", external_id="ab"), f.fetched("with a NUL", external_id="a\x00b"),
             f.fetched("another", external_id="c")]
    result = services.mention_ingest_batch(source_id=source.id, fetched=batch)
    assert (result.received, result.stored, result.refused) == (3, 2, 1)
    assert sorted(Mention.objects.values_list("external_id", "text")) == [("ab", "plain ab"), ("c", "another")]
    source.refresh_from_db()
    assert "1 mention was refused: an id with a NUL character" in source.last_error
    assert '"a\\0b"' in source.last_error  # the id as the sender can find it, the NUL visible

    # The other order: "a\0b" first, then "ab" is still a new mention, not a duplicate of it.
    other = f.source()
    first = services.mention_ingest_batch(source_id=other.id, fetched=[f.fetched("NUL first", external_id="x\x00y")])
    second = services.mention_ingest_batch(source_id=other.id, fetched=[f.fetched("plain second", external_id="xy")])
    assert (first.stored, first.refused, second.stored) == (0, 1, 1)
    assert Mention.objects.get(external_id="xy").text == "plain second"
    other.refresh_from_db()
    assert other.last_error == ""  # the next clean batch clears the note


def test_the_cursor_moves_with_the_rows_and_health_is_recorded():
    source = f.source(Source.Kind.RSS, query="https://example.org/feed")
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched()], cursor={"etag": "v2"}, reads=0)
    source.refresh_from_db()
    assert source.cursor == {"etag": "v2"}
    assert source.last_success_at is not None and source.consecutive_failures == 0
    assert source.next_poll_at > timezone.now()


def test_a_stale_lease_stores_its_rows_but_does_not_move_the_cursor():
    source = f.source(Source.Kind.RSS, query="https://example.org/feed", cursor={"etag": "new"}, lease_token="theirs")
    result = services.mention_ingest_batch(
        source_id=source.id, fetched=[f.fetched("late but kept")], cursor={"etag": "old"}, lease_token="mine"
    )
    source.refresh_from_db()
    assert result.stored == 1 and source.cursor == {"etag": "new"}


def test_any_unicode_is_accepted_nul_stripped_and_long_text_flagged():
    source = f.source()
    texts = {
        "emoji": "🏈🔥😱 lights OUT",
        "rtl": "\u202bمرحبا Crunchwave\u202c שלום",
        "zero-width": "black\u200bout",
        "nul": "null\x00byte",
        "surrogate": "lone \ud800 surrogate",
        "long": "x" * 12_000,
    }
    services.mention_ingest_batch(
        source_id=source.id, fetched=[f.fetched(text, external_id=key) for key, text in texts.items()]
    )
    stored = {m.external_id: m for m in Mention.objects.all()}
    assert stored["emoji"].text == texts["emoji"]
    assert stored["rtl"].text == without_bidi_controls(texts["rtl"]) and "\u202b" not in stored["rtl"].text  # embedding controls stripped, letters kept
    assert stored["zero-width"].text == "black\u200bout"
    assert stored["nul"].text == "nullbyte"
    assert "\ud800" not in stored["surrogate"].text and stored["surrogate"].text.startswith("lone ")
    assert len(stored["long"].text) == Mention.MAX_TEXT and stored["long"].truncated
    assert not stored["emoji"].truncated


def test_mentions_are_enriched_with_sentiment_and_language():
    source = f.source()
    services.mention_ingest_batch(
        source_id=source.id,
        fetched=[
            f.fetched("I love this ad, best commercial of the night!", external_id="pos"),
            f.fetched("Worst chips ever, stale and disgusting. I want a refund.", external_id="neg"),
            f.fetched("¡Qué apagón tan increíble en el estadio, no lo puedo creer!", external_id="es"),
        ],
    )
    by_id = {m.external_id: m for m in Mention.objects.all()}
    assert by_id["pos"].sentiment_label == "positive" and by_id["pos"].sentiment > 0.3
    assert by_id["neg"].sentiment_label == "negative" and by_id["neg"].sentiment < -0.3
    assert by_id["pos"].lang == "en" and by_id["es"].lang == "es"


def test_texts_too_short_to_judge_get_language_und_instead_of_a_guess():
    source = f.source()
    texts = {"one": "a", "word": "lol", "emoji": "ok 🔥🔥", "digits": "#94 !!", "cjk": "火事", "en": "What a blackout tonight",
             "tagged": "si"}
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(text, external_id=key, lang="es" if key == "tagged" else "") for key, text in texts.items()
    ])
    langs = dict(Mention.objects.values_list("external_id", "lang"))
    assert {key: langs[key] for key in ("one", "word", "emoji", "digits")} == dict.fromkeys(("one", "word", "emoji", "digits"), "und")
    assert langs["cjk"] in {"ja", "zh"} and langs["en"] == "en"
    assert langs["tagged"] == "es"  # the platform's own tag still wins over "too short"


def test_matches_within_the_regroup_window_join_one_alert(make_user):
    lead = make_user("lead")
    blackout = rule(lead)
    source = f.source()
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("Total blackout at the stadium")])
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("blackout still going"), f.fetched("nice ad")])
    alert = Alert.objects.get()
    assert alert.rule == blackout and alert.mention_count == 2
    assert set(Mention.objects.filter(rule_ids__contains=[blackout.id]).values_list("text", flat=True)) == {
        "Total blackout at the stadium", "blackout still going"
    }
    assert LiveEvent.objects.filter(kind="alert.raised").count() == 1
    assert LiveEvent.objects.filter(kind="alert.updated").count() == 0  # within 10 s of the last push
    assert AuditEntry.objects.filter(action="alert.raise").count() == 1

    Alert.objects.filter(id=alert.id).update(last_match_at=timezone.now() - timedelta(seconds=11))
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("blackout, third batch")])
    updated = LiveEvent.objects.get(kind="alert.updated")
    assert updated.payload["count"] == 3


def test_sentiment_and_influence_rules(make_user):
    lead = make_user("lead")
    angry = rule(lead, name="Angry", kind="sentiment", query="", sentiment_at_most=-0.5)
    big = rule(lead, name="Big accounts", kind="influence", query="", min_followers=1_000_000)
    source = f.source()
    services.mention_ingest_batch(
        source_id=source.id,
        fetched=[
            f.fetched("This is disgusting, the worst, I hate it", external_id="angry"),
            f.fetched("Nice ad", external_id="celebrity", author_followers=5_000_000),
        ],
    )
    assert Mention.objects.get(external_id="angry").rule_ids == [angry.id]
    assert Mention.objects.get(external_id="celebrity").rule_ids == [big.id]


def test_a_crisis_rule_raises_a_p1_alert_and_pauses_the_outgoing_queue(make_user):
    from approvals.services import queue_state

    crisis = rule(make_user("lead"), name="Safety", kind="crisis", query='"allergic reaction" OR peanuts', priority="P3")
    source = f.source()
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("My kid had an allergic reaction after Crunchwave")])
    alert = Alert.objects.get(rule=crisis)
    assert alert.priority == "P1"
    queue = queue_state()
    assert queue.paused and "Safety" in queue.reason and queue.paused_by is None
    assert AuditEntry.objects.filter(action="queue.pause", actor=None).count() == 1
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("peanuts again")])  # already paused: no error
    assert AuditEntry.objects.filter(action="queue.pause").count() == 1


def test_acknowledging_an_alert_is_audited_once(make_user):
    rule(make_user("lead"))
    manager = make_user("community manager")
    services.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("blackout")])
    alert = Alert.objects.get()
    services.alert_acknowledge(alert_id=alert.id, user=manager)
    with pytest.raises(services.Conflict):
        services.alert_acknowledge(alert_id=alert.id, user=manager)
    assert AuditEntry.objects.filter(action="alert.acknowledge", actor=manager).count() == 1


def _mentions_at(source, when, count, text="lights out at the stadium"):
    services.mention_ingest_batch(
        source_id=source.id, fetched=[f.fetched(text, posted_at=when) for _ in range(count)]
    )


def test_a_spike_raises_one_alert_per_spike(make_user):
    spike = rule(
        make_user("lead"), name="Volume", kind="spike", query="", spike_window_minutes=5, spike_baseline_minutes=60,
        spike_factor=3, spike_min_count=20,
    )
    source = f.source()
    now = timezone.now()
    for minute in range(5, 65, 5):  # a quiet hour: 2 mentions per 5 minutes
        _mentions_at(source, now - timedelta(minutes=minute), 2)
    assert services.spikes_check(now=now) == []

    _mentions_at(source, now - timedelta(minutes=2), 40)  # the blackout
    assert len(services.spikes_check(now=now)) == 1
    _mentions_at(source, now - timedelta(minutes=1), 30)
    assert services.spikes_check(now=now + timedelta(seconds=30)) == []  # same spike: no second alert
    alert = Alert.objects.get(rule=spike)
    assert alert.peak == 70 and alert.ended_at is None

    later = now + timedelta(minutes=20)
    assert services.spikes_check(now=later) == []
    alert.refresh_from_db()
    assert alert.ended_at == later

    _mentions_at(source, later + timedelta(minutes=9), 60)  # a second blackout
    assert len(services.spikes_check(now=later + timedelta(minutes=10))) == 1
    assert Alert.objects.filter(rule=spike).count() == 2


def test_x_reads_are_metered_and_polling_slows_before_the_cap(settings):
    settings.X_MONTHLY_READ_CAP = 1000
    source = f.source(Source.Kind.X_SEARCH, query="crunchwave", poll_interval=60)
    services.mention_ingest_batch(source_id=source.id, fetched=[f.fetched()], reads=600)
    assert services.selectors.budget_pace() == 1.0
    services.mention_ingest_batch(source_id=source.id, fetched=[], reads=250)
    assert ReadUsage.objects.get(source=source).reads == 850
    assert 4 < services.selectors.budget_pace() < 7
    source.refresh_from_db()
    assert source.next_poll_at - source.last_polled_at > timedelta(seconds=240)
    services.mention_ingest_batch(source_id=source.id, fetched=[], reads=200)
    assert services.budget_paused(source=source)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"query": "blackout AND"}, "position"),
        ({"query": '"lights out'}, "position"),
        ({"query": "", "kind": "keyword"}, "Query is empty"),
        ({"kind": "sentiment", "query": ""}, "Sentiment at most is empty"),
        ({"name": ""}, "Name is empty"),
        ({"priority": "P9"}, "Priority"),
    ],
)
def test_a_bad_rule_is_refused_with_a_clear_message(make_user, fields, message):
    with pytest.raises(services.InvalidInput, match=message):
        rule(make_user("lead"), **fields)
    assert not AlertRule.objects.exists()


def test_a_poll_of_several_pages_stores_each_in_order_and_keeps_the_lease_until_the_last():
    """ingest_pages (source_poll's pipeline): page n + 1 is enriched while page n is stored;
    every page moves the cursor in its own transaction, the lease is held until the last."""
    from listening.adapters import FetchResult

    source = f.source(Source.Kind.DEMO, query="speed=10")
    claimed, token = services.source_claim(source_id=source.id)
    seen = []

    def pages():
        for n in range(3):
            if n:  # the page before this one is stored, the lease still held
                stored = Source.objects.get(id=source.id)
                seen.append((stored.cursor, stored.lease_token == token))
            yield FetchResult(mentions=[f.fetched(f"page {n} post {i}: lights out") for i in range(4)],
                              cursor={"page": n}, more=n < 2)

    results = services.ingest_pages(source=claimed, pages=pages(), lease_token=token)
    assert [r.stored for r in results] == [4, 4, 4]
    # Page 1 was fetched (and enriched) before page 0 was stored; page 2 after page 0 was.
    assert seen == [(source.cursor, True), ({"page": 0}, True)]
    source.refresh_from_db()
    assert (source.cursor, source.lease_token, source.lease_until) == ({"page": 2}, "", None)
    assert Mention.objects.count() == 12
    assert sorted({m.lang for m in Mention.objects.all()}) == ["en"]  # enriched on the helper thread


def test_a_page_that_cannot_be_fetched_ends_the_poll_after_the_pages_before_it():
    from listening.adapters import FetchResult, TransientError

    source = f.source(Source.Kind.DEMO, query="speed=10")
    claimed, token = services.source_claim(source_id=source.id)

    def pages():
        yield FetchResult(mentions=[f.fetched("first page")], cursor={"page": 0}, more=True)
        raise TransientError("the feed went away")

    results = services.ingest_pages(source=claimed, pages=pages(), lease_token=token)
    assert [r.stored for r in results] == [1]
    source.refresh_from_db()
    assert source.cursor == {"page": 0} and source.lease_token == ""
    assert source.next_poll_at <= timezone.now()  # there was more: the next poll asks again from here


def test_a_batch_opens_its_cases_in_bulk_one_live_event_each_and_the_audit_chain_holds(make_user):
    """The sentiment rule opens a case per angry mention, with one statement per table:
    every case has its history, audit entry and live event, and the audit chain verifies."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from triage.models import Case, CaseEvent
    from warroom import audit

    services.rule_create(user=None, name="Angry", kind="sentiment", query="", sentiment_at_most=-0.3,
                         open_case=True, priority="P2")
    source = f.source()
    angry = [f.fetched(f"Terrible awful disgusting ad, I hate it {i}") for i in range(12)]
    with CaptureQueriesContext(connection) as queries:
        services.mention_ingest_batch(source_id=source.id, fetched=angry + [f.fetched("nice game")])
    cases = list(Case.objects.order_by("id"))
    assert len(cases) == 12 and {c.priority for c in cases} == {"P2"}
    assert CaseEvent.objects.filter(kind="opened").count() == 12
    assert sorted(int(i) for i in AuditEntry.objects.filter(action="case.opened").values_list("object_id", flat=True)) \
        == [c.id for c in cases]
    events = LiveEvent.objects.filter(kind="case.opened").order_by("id")
    assert [e.payload["case_id"] for e in events] == [c.id for c in cases]
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT INTO \"triage_case")]
    assert len(inserts) == 2  # the cases, their history: one statement each
    assert audit.verify().intact
