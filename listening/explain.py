"""What is new in a spike: the terms and hashtags whose share of mentions rose most against
the baseline before it (by smoothed lift, not raw count), the authors with the widest reach,
the links shared most, and a few sample mentions. Plain SQL and counters, no model; computed
once when a spike alert is raised and stored on it, so no page recounts it."""

import logging
import re
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Left

from .models import AlertRule, Mention
from .query import tokenize

# Bounds: what is read and what is stored. A spike of 50,000 mentions is judged on a sample
# of this many per period (the newest of the spike, an even spread of the baseline).
SAMPLE_MENTIONS = 1000
TEXT_HEAD = 1000  # characters of each mention read, as enrichment does
TOP_TERMS = 10
TOP_HASHTAGS = 5
TOP_AUTHORS = 5
TOP_LINKS = 5
SAMPLES = 5
MIN_SPIKE_MENTIONS = 2  # a term in one spike mention is an anecdote, not what the spike is about
# A rule's own baseline thinner than this says little: the spike is set against everything the
# room heard in that span instead.
MIN_BASELINE = 20
MAX_TERM = 60
MAX_URL = 300
MAX_NAME = 100
MAX_TEXT = 280

logger = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\"…"

# Words that say nothing about what a spike is about, in the languages the room hears most.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being below
between both but by can cannot could couldn did didn do does doesn doing don down during each few for
from further had hadn has hasn have haven having he her here hers herself him himself his how i if in
into is isn it its itself just let ll me more most mustn my myself no nor not now of off on once only or
other ought our ours ourselves out over own re same shan she should shouldn so some such than that the
their theirs them themselves then there these they this those through to too under until up ve very was
wasn we were weren what when where which while who whom why will with won would wouldn you your yours
yourself yourselves im ive id youre thats dont cant wont get got gonna like just really also still even
rt via amp one would us lol omg yes yeah oh ok okay said says say
el la los las un una unos unas y o de del al en que es por con para se su sus lo le les no si mas muy
le la les un une des et ou de du au aux en est que qui pour par avec sur ce cette ces pas plus ne il elle
der die das ein eine und oder zu von mit ist im auf für nicht es sie er wir ich den dem des
o a os as um uma e ou de do da dos das em no na nos nas que com para por não se
""".split())


def _bound(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _links(text: str) -> set[str]:
    return {_bound(m.group(0).rstrip(_URL_TRAILING), MAX_URL) for m in _URL.finditer(text)}


def _words(text: str) -> tuple[set[str], set[str]]:
    """(terms, hashtags) of one mention, each counted once per mention. Links, @handles,
    numbers, stopwords and one-letter Latin words are left out."""
    terms, tags = set(), set()
    for word in tokenize(_URL.sub(" ", text)).words:
        if word[0] == "@":
            continue
        bare = word[1:] if word[0] == "#" else word
        if not bare or bare.isdigit() or (len(bare) < 2 and bare.isascii()) or bare in STOPWORDS:
            continue
        (tags if word[0] == "#" else terms).add(_bound(word, MAX_TERM))
    return terms, tags


def lift(spike: int, spike_total: int, baseline: int, baseline_total: int) -> float:
    """How many times more often a term appears in the spike's mentions than in the
    baseline's: each share smoothed by one mention with it and one without (Laplace), so a
    term never seen before has a large but finite lift and a term seen once stays modest."""
    return ((spike + 1) / (spike_total + 2)) / ((baseline + 1) / (baseline_total + 2))


def _share(count: int, total: int) -> float:
    return round(100 * count / total, 1) if total else 0.0


def _ranked(spike: Counter, base: Counter, spike_total: int, base_total: int, top: int) -> list[dict]:
    """Terms by lift; with no baseline at all there is nothing to lift against, and every
    term is new: they rank by count, without a lift."""
    rows = []
    for term, count in spike.items():
        if count < MIN_SPIKE_MENTIONS:
            continue
        value = round(lift(count, spike_total, base[term], base_total), 2) if base_total else None
        if value is not None and value <= 1:
            continue  # no more common than before: not what is new
        rows.append({"term": term, "spike": count, "baseline": base[term], "lift": value,
                     "spike_share": _share(count, spike_total), "baseline_share": _share(base[term], base_total)})
    rows.sort(key=lambda r: (-(r["lift"] or 0), -r["spike"], r["term"]))
    return rows[:top]


def _count(rows: list[tuple]) -> tuple[Counter, Counter, Counter, dict]:
    terms, tags, links, words_of = Counter(), Counter(), Counter(), {}
    for mention_id, head in rows:
        words, hashtags = _words(head)
        terms.update(words)
        tags.update(hashtags)
        links.update(_links(head))
        words_of[mention_id] = words | hashtags
    return terms, tags, links, words_of


def _sample(m: dict) -> dict:
    url = m["url"] if m["url"].lower().startswith(("https://", "http://")) and len(m["url"]) <= MAX_URL else ""
    return {"id": m["id"], "handle": _bound(m["author_handle"], MAX_NAME), "name": _bound(m["author_name"], MAX_NAME),
            "followers": m["author_followers"], "text": _bound(m["head"], MAX_TEXT), "url": url,
            "posted_at": m["posted_at"].isoformat()}


def spike_mentions(rule: AlertRule) -> QuerySet:
    """The mentions a spike rule counts (the same set spikes_check judges)."""
    mentions = Mention.objects.all()
    if rule.query.strip():
        mentions = mentions.filter(rule_ids__contains=[rule.id])
    return mentions


def spike_explain(*, rule: AlertRule, now: datetime) -> dict:
    """The explanation of the spike `rule` sees at `now`: its window (the last
    spike_window_minutes) against the baseline span before it (the rule's own mentions
    there, or all the room's when those are fewer than MIN_BASELINE). Bounded in size.
    Empty if it cannot be worked out: the alert matters more than its explanation."""
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the alert's transaction usable
            return _explain(rule=rule, now=now)
    except Exception:
        logger.exception("The spike of rule %s could not be explained", rule.id)
        return {}


def _explain(*, rule: AlertRule, now: datetime) -> dict:
    window = timedelta(minutes=rule.spike_window_minutes)
    baseline_span = timedelta(minutes=rule.spike_baseline_minutes)
    mentions = spike_mentions(rule)
    in_spike = mentions.filter(posted_at__gt=now - window, posted_at__lte=now)
    span = {"posted_at__gt": now - window - baseline_span, "posted_at__lte": now - window}
    in_baseline, scope = mentions.filter(**span), "rule"
    baseline_count = in_baseline.count()
    if baseline_count < MIN_BASELINE and rule.query.strip():
        in_baseline, scope = Mention.objects.filter(**span), "room"
        baseline_count = in_baseline.count()

    spike_rows = list(in_spike.annotate(head=Left("text", TEXT_HEAD)).order_by("-posted_at", "-id")
                      .values_list("id", "head")[:SAMPLE_MENTIONS])
    # An even spread over the baseline, the same every time: ids in the order of their hash.
    picked = in_baseline.annotate(spread=RawSQL("hashint8(listening_mention.id)", [])).order_by("spread", "id")
    base_rows = list(Mention.objects.filter(id__in=list(picked.values_list("id", flat=True)[:SAMPLE_MENTIONS]))
                     .annotate(head=Left("text", TEXT_HEAD)).values_list("id", "head"))
    s_terms, s_tags, s_links, words_of = _count(spike_rows)
    b_terms, b_tags, b_links, _ = _count(base_rows)
    s_total, b_total = len(spike_rows), len(base_rows)

    terms = _ranked(s_terms, b_terms, s_total, b_total, TOP_TERMS)
    hashtags = _ranked(s_tags, b_tags, s_total, b_total, TOP_HASHTAGS)
    links = sorted(s_links.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LINKS]

    authors = (
        in_spike.exclude(author_handle="")
        .values("platform", "author_handle")
        .annotate(reach=Max("author_followers"), mentions=Count("id"), name=Max("author_name"))
        .order_by("-reach", "-mentions", "author_handle")[:TOP_AUTHORS]
    )

    # Samples: the spike's mentions that carry most of its top words, widest reach first;
    # each first adds top words the ones before it lacked, then the rest fill in; one per text
    # (a hundred reposts of one post are one sample).
    top_words = {r["term"] for r in terms} | {r["term"] for r in hashtags}
    mine = {i: words_of[i] & top_words for i, _ in spike_rows}
    candidates = sorted(mine, key=lambda i: -len(mine[i]))[: SAMPLES * 20]  # stable: newest first among equals
    by_id = {m["id"]: m for m in Mention.objects.filter(id__in=candidates).annotate(head=Left("text", MAX_TEXT + 1))
             .values("id", "author_handle", "author_name", "author_followers", "head", "url", "posted_at")}
    ordered = sorted(candidates, key=lambda i: (-len(mine[i]), -by_id[i]["author_followers"], -i))
    chosen, covered, seen_texts = [], set(), set()
    for adds_something in (True, False):
        for i in ordered:
            key = by_id[i]["head"].strip().lower()
            if len(chosen) == SAMPLES or key in seen_texts or (adds_something and not mine[i] - covered):
                continue
            chosen.append(i)
            covered |= mine[i]
            seen_texts.add(key)
    samples = [_sample(by_id[i]) for i in chosen]

    return {
        "window": {"from": (now - window).isoformat(), "to": now.isoformat(), "minutes": rule.spike_window_minutes,
                   "mentions": in_spike.count(), "read": s_total},
        "baseline": {"from": (now - window - baseline_span).isoformat(), "minutes": rule.spike_baseline_minutes,
                     "mentions": baseline_count, "read": b_total, "scope": scope},
        "terms": terms,
        "hashtags": hashtags,
        "authors": [{"platform": a["platform"], "handle": _bound(a["author_handle"], MAX_NAME),
                     "name": _bound(a["name"] or "", MAX_NAME), "followers": a["reach"], "mentions": a["mentions"]}
                    for a in authors],
        "links": [{"url": url, "spike": count, "baseline": b_links[url]} for url, count in links],
        "samples": samples,
    }
