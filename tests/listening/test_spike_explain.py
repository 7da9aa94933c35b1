"""A spike alert's explanation: terms and hashtags by smoothed lift against the baseline,
checked against a recount done here by hand; stopwords left out; sizes bounded; stored
when the spike is raised; shown (escaped, isolated) on the Alerts page, the Feed and the Wall."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from listening import services
from listening.models import Alert
from tests.listening import factories as f
from warroom import roles

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = '<script>window.pwned=1</script>'
BASELINE = ["great game at the stadium #SuperBowl", "halftime snacks are ready #SuperBowl"]
SPIKE = (
    [("lights out at the stadium #blackout https://t.co/abc", f"fan{i}", 10 * i) for i in range(20)]
    + [("the power is out, lights out everywhere #SuperBowl https://t.co/abc.", f"viewer{i}", 5) for i in range(10)]
    + [("stadium blackout is wild #blackout #SuperBowl", "espn" if i < 2 else f"watcher{i}", 5_000_000 if i < 2 else 50)
       for i in range(10)]
    + [("a zeppelin over the stadium", "pilot", 1)]  # "zeppelin" once: not what the spike is about
)


def spike_rule(user):
    return services.rule_create(
        user=user, name="Volume", kind="spike", query="", spike_window_minutes=5, spike_baseline_minutes=60,
        spike_factor=3, spike_min_count=20,
    )


def seed(source, now):
    for k, minute in enumerate(range(6, 66, 5)):  # the baseline hour: 2 a slot, 24 in all
        services.mention_ingest_batch(source_id=source.id, fetched=[
            f.fetched(BASELINE[j], posted_at=now - timedelta(minutes=minute), author_handle=f"regular{k}{j}")
            for j in range(2)
        ])
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(f"{text} {i}", posted_at=now - timedelta(minutes=2, seconds=i), author_handle=handle,
                  author_name=handle.upper(), author_followers=followers)
        for i, (text, handle, followers) in enumerate(SPIKE)
    ])


# The recount: a deliberately simple split of the plain ASCII texts above, independent of the
# room's tokenizer, and the lift written out as the README states it.
RECOUNT_STOPWORDS = {"the", "at", "is", "out", "are", "a", "over"}


def recount(texts):
    terms, tags = Counter(), Counter()
    for text in texts:
        words = set(re.findall(r"#?[a-z]+", re.sub(r"https?://\S+", " ", text.lower()))) - RECOUNT_STOPWORDS
        terms.update(w for w in words if not w.startswith("#"))
        tags.update(w for w in words if w.startswith("#"))
    return terms, tags


def by_hand(s, s_total, b, b_total):
    return ((s + 1) / (s_total + 2)) / ((b + 1) / (b_total + 2))


def test_lift_matches_a_recount_by_hand(make_user):
    rule = spike_rule(make_user(roles.LEAD))
    source = f.source()
    now = timezone.now()
    seed(source, now)
    raised = services.spikes_check(now=now)
    assert len(raised) == 1
    e = Alert.objects.get(rule=rule).explanation  # stored on the alert when raised

    baseline_texts = [BASELINE[j] for _ in range(12) for j in range(2)]
    spike_texts = [text for text, _, _ in SPIKE]
    s_terms, s_tags = recount(spike_texts)
    b_terms, b_tags = recount(baseline_texts)
    S, B = len(spike_texts), len(baseline_texts)
    assert (e["window"]["mentions"], e["baseline"]["mentions"]) == (S, B) == (41, 24)

    def expected(spike, base):
        rows = [(round(by_hand(c, S, base[t], B), 2), c, t) for t, c in spike.items() if c >= 2]
        rows = [r for r in rows if r[0] > 1]
        return [(t, c, base[t], lift) for lift, c, t in sorted(rows, key=lambda r: (-r[0], -r[1], r[2]))]

    got_terms = [(t["term"], t["spike"], t["baseline"], t["lift"]) for t in e["terms"]]
    assert got_terms == expected(s_terms, b_terms)
    # Spelled out: "lights" is in 30 of 41 spike mentions and none of 24 before.
    assert got_terms[0] == ("lights", 30, 0, round((31 / 43) / (1 / 26), 2))
    assert ("stadium", 31, 12, round((32 / 43) / (13 / 26), 2)) in got_terms
    assert [t["term"] for t in e["terms"]][:5] == ["lights", "blackout", "everywhere", "power", "wild"]

    got_tags = [(t["term"], t["spike"], t["baseline"], t["lift"]) for t in e["hashtags"]]
    assert got_tags == expected(s_tags, b_tags) == [("#blackout", 30, 0, round((31 / 43) / (1 / 26), 2))]
    # #SuperBowl is in 20 of 41 now but was in every baseline mention: not new, so not listed.
    assert "#superbowl" not in {t["term"] for t in e["hashtags"]}

    # A term seen once is neither listed nor infinitely lifted.
    assert "zeppelin" not in {t["term"] for t in e["terms"]}
    assert by_hand(1, S, 0, B) < by_hand(30, S, 0, B)

    # Stopwords never count as what is new, however common.
    assert not {t["term"] for t in e["terms"]} & {"the", "at", "is", "out", "a"}

    assert e["authors"][0] == {"platform": "webhook", "handle": "espn", "name": "ESPN", "followers": 5_000_000,
                               "mentions": 2}
    # The link with a trailing full stop is the same link.
    assert e["links"] == [{"url": "https://t.co/abc", "spike": 30, "baseline": 0}]

    samples = e["samples"]
    assert len(samples) == 5 and len({s["text"] for s in samples}) == 5
    assert samples[0]["handle"] == "espn"  # most of the top words, then the widest reach
    # Each kind of spike mention is sampled before a second of any kind; the zeppelin adds nothing new.
    kinds = [next(k for k, word in enumerate(("wild", "everywhere", "lights", "zeppelin")) if word in s["text"])
             for s in samples]
    assert kinds[:3] == [0, 2, 1] and 3 not in kinds
    assert samples[1]["handle"] == "fan19" and samples[2]["handle"].startswith("viewer")


def test_the_explanation_is_computed_once_per_spike(make_user):
    rule = spike_rule(make_user(roles.LEAD))
    source = f.source()
    now = timezone.now()
    seed(source, now)
    services.spikes_check(now=now)
    first = Alert.objects.get(rule=rule).explanation
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(f"totally different words {i}", posted_at=now) for i in range(30)
    ])
    services.spikes_check(now=now + timedelta(seconds=30))  # the same spike goes on
    assert Alert.objects.get(rule=rule).explanation == first


def test_sizes_are_bounded(make_user):
    rule = spike_rule(make_user(roles.LEAD))
    source = f.source()
    now = timezone.now()
    long_name, long_url = "N" * 5000, "https://example.com/" + "p" * 2000
    batch = []
    for i in range(60):
        words = " ".join(f"word{chr(97 + i % 26)}{chr(97 + (i + k) % 26)}" for k in range(40))
        tags = " ".join(f"#tag{chr(97 + (i + k) % 26)}" for k in range(20))
        batch.append(f.fetched(f"{'x' * 100} {words} {tags} {long_url}", posted_at=now - timedelta(minutes=1),
                               author_handle=f"h{i}", author_name=long_name, author_followers=i))
    services.mention_ingest_batch(source_id=source.id, fetched=batch)
    services.spikes_check(now=now)
    e = Alert.objects.get(rule=rule).explanation
    assert len(e["terms"]) == 10 and len(e["hashtags"]) == 5
    assert len(e["authors"]) == 5 and len(e["links"]) == 1 and len(e["samples"]) == 5
    assert all(len(a["name"]) <= 100 for a in e["authors"])
    assert all(len(s["text"]) <= 280 and len(s["name"]) <= 100 for s in e["samples"])
    assert all(len(link["url"]) <= 300 for link in e["links"])
    assert all(len(t["term"]) <= 60 for t in e["terms"])


def test_the_explanation_is_shown_escaped_on_alerts_feed_and_wall(make_user):
    lead = make_user(roles.LEAD, "leo")
    rule = spike_rule(lead)
    source = f.source()
    now = timezone.now()
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(f"kaboom {HOSTILE} \u202eevil #Mayhem https://t.co/{HOSTILE} {i}",
                  posted_at=now - timedelta(minutes=1), author_handle=f"h{i}", author_name=f"\u202e{HOSTILE}", author_followers=100 + i)
        for i in range(25)
    ])
    services.spikes_check(now=now)
    alert = Alert.objects.get(rule=rule)
    client = Client()
    client.force_login(lead)

    pages = {
        "alerts": client.get(reverse("alerts")).content.decode(),
        "feed": client.get(reverse("feed"), {"alert": alert.id}).content.decode(),
        "wall": client.get(reverse("wall_panels"), HTTP_HX_REQUEST="true").content.decode(),
    }
    for name, html in pages.items():
        assert f'id="spike-why-{alert.id}"' in html, name
        assert "<bdi>kaboom</bdi>" in html and "<bdi>#mayhem</bdi>" in html, name
        assert HOSTILE not in html and "\u202e" not in html, name
    for name in ("alerts", "feed"):
        html = pages[name]
        assert "What is new:" in html and "Sample mentions" in html
        assert "<bdi>&lt;script&gt;window.pwned=1&lt;/script&gt;</bdi>" in html  # the author's name, escaped
        assert "124 followers" in html  # widest reach first
    assert "widest reach" in pages["wall"]


def test_a_thin_rule_baseline_gives_way_to_the_room_and_an_empty_one_ranks_by_count(make_user):
    lead = make_user(roles.LEAD)
    rule = services.rule_create(user=lead, name="Blackout", kind="spike", query="blackout OR outage",
                                spike_window_minutes=2, spike_baseline_minutes=20, spike_factor=3, spike_min_count=15)
    source = f.source()
    now = timezone.now()
    services.mention_ingest_batch(source_id=source.id, fetched=[  # the room's chatter before: no blackout in it
        f.fetched(f"halftime snacks crunchwave {i}", posted_at=now - timedelta(minutes=10)) for i in range(30)
    ])
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(f"stadium blackout power outage {i}", posted_at=now - timedelta(minutes=1)) for i in range(12)
    ] + [f.fetched(f"blackout crunchwave {i}", posted_at=now - timedelta(minutes=1)) for i in range(8)])
    services.spikes_check(now=now)
    e = Alert.objects.get(rule=rule).explanation
    assert e["baseline"] == {**e["baseline"], "scope": "room", "mentions": 30, "read": 30}
    S, B = 20, 30
    assert [(t["term"], t["lift"]) for t in e["terms"]] == [
        ("blackout", round(by_hand(20, S, 0, B), 2)),
        ("outage", round(by_hand(12, S, 0, B), 2)), ("power", round(by_hand(12, S, 0, B), 2)),
        ("stadium", round(by_hand(12, S, 0, B), 2)),
    ]  # "crunchwave" is in 8 of 20 now and 30 of 30 before: less common, not new

    quiet = services.rule_create(user=lead, name="Quiet", kind="spike", query="zeppelin", spike_window_minutes=2,
                                 spike_baseline_minutes=20, spike_factor=3, spike_min_count=15)
    later = now + timedelta(hours=2)  # nothing at all in the 20 minutes before
    services.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(f"zeppelin {'over the bay' if i < 5 else 'landing'} {i}", posted_at=later - timedelta(minutes=1))
        for i in range(16)
    ])
    services.spikes_check(now=later)
    e = Alert.objects.get(rule=quiet).explanation
    assert e["baseline"]["read"] == 0
    assert [(t["term"], t["spike"], t["lift"]) for t in e["terms"]] == [
        ("zeppelin", 16, None), ("landing", 11, None), ("bay", 5, None),
    ]
