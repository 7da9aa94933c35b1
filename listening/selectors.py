"""Reads for the Feed, sources, rules and alerts pages."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from . import query
from .models import Alert, AlertRule, Mention, ReadUsage, Source

PAGE_SIZE = 50


def mention_feed(
    *, source: int | None = None, sentiment: str = "", lang: str = "", rule: int | None = None, q: str = "",
    alert: int | None = None, before: int | None = None,
) -> list[Mention]:
    """Newest first, keyset-paginated by id, filtered; one query."""
    mentions: QuerySet[Mention] = Mention.objects.select_related("source")
    if source:
        mentions = mentions.filter(source_id=source)
    if sentiment:
        mentions = mentions.filter(sentiment_label=sentiment)
    if lang:
        mentions = mentions.filter(lang=lang)
    if rule:
        mentions = mentions.filter(rule_ids__contains=[rule])
    if q:
        mentions = mentions.extra(
            where=["to_tsvector('simple', listening_mention.text) @@ websearch_to_tsquery('simple', %s)"], params=[q]
        )
    if alert:
        mentions = mentions.filter(alerts__id=alert)
    if before:
        mentions = mentions.filter(id__lt=before)
    return list(mentions.order_by("-id")[:PAGE_SIZE])


def mention_row(mention: dict, *, source_name: str, rule_names: dict[int, str]) -> dict:
    """What a Feed row shows, from a Mention's fields or an ingest row: the page render and
    the live push both use it, so they cannot drift."""
    text = mention["text"]
    return {
        "id": mention["id"],
        "source": source_name,
        "source_id": mention["source_id"],
        "handle": mention["author_handle"],
        "name": mention["author_name"],
        "followers": mention["author_followers"],
        "text": text[:1000],
        "truncated": mention["truncated"] or len(text) > 1000,
        "lang": mention["lang"],
        "sentiment": round(mention["sentiment"], 2),
        "sentiment_label": mention["sentiment_label"],
        "rule_ids": list(mention["rule_ids"]),
        "rules": [rule_names[r] for r in mention["rule_ids"] if r in rule_names],
        "url": mention["url"],
        "posted_at": mention["posted_at"].isoformat(),
    }


def feed_rows(mentions: list[Mention]) -> list[dict]:
    names = rule_names()
    return [mention_row(vars(m), source_name=m.source.name, rule_names=names) for m in mentions]


def rule_names() -> dict[int, str]:
    return dict(AlertRule.objects.values_list("id", "name"))


def feed_languages() -> list[str]:
    return sorted(set(settings.LISTENING_LANGUAGES))


def source_list() -> list[Source]:
    return list(Source.objects.order_by("name"))


def source_health(source: Source, now=None) -> dict:
    now = now or timezone.now()
    if not source.enabled:
        state = "disabled"
    elif source.rate_limited_until and source.rate_limited_until > now:
        state = "rate-limited"
    elif source.consecutive_failures:
        state = "failing"
    elif source.last_success_at:
        state = "ok"
    else:
        state = "waiting"
    return {"state": state}


def usage_by_source(now=None) -> dict[int, dict]:
    now = now or timezone.now()
    month_start = now.replace(day=1).date()
    rows = (
        ReadUsage.objects.filter(day__gte=month_start)
        .values("source_id")
        .annotate(month=Sum("reads"), today=Sum("reads", filter=Q(day=now.date())))
    )
    return {row["source_id"]: row for row in rows}


def budget_summary() -> dict:
    split = budget_split()
    used = split["listening"] + split["engagement"]
    cap = settings.X_MONTHLY_READ_CAP
    return {
        "used": used,
        "listening": split["listening"],
        "engagement": split["engagement"],
        "cap": cap,
        "percent": round(100 * used / cap, 1) if cap else 0,
        "pace": round(budget_pace(), 1),
        "engagement_pace": engagement_pace(),
    }


def rule_list() -> list[AlertRule]:
    since = timezone.now() - timedelta(hours=24)
    return list(
        AlertRule.objects.annotate(alerts_24h=Count("alerts", filter=Q(alerts__opened_at__gte=since))).order_by("-enabled", "name")
    )


def alert_list(*, open_only: bool = False, limit: int = 50) -> list[Alert]:
    alerts = Alert.objects.select_related("rule", "acknowledged_by").order_by("-opened_at")
    if open_only:
        alerts = alerts.filter(state=Alert.State.OPEN)
    return list(alerts[:limit])


def alert_get(alert_id: int) -> Alert:
    return Alert.objects.select_related("rule", "acknowledged_by").get(id=alert_id)


def alert_find(alert_id: int) -> Alert | None:
    return Alert.objects.select_related("rule").filter(id=alert_id).first()


def alert_mentions(alert: Alert, limit: int = 200) -> list[Mention]:
    return list(alert.mentions.select_related("source").order_by("-id")[:limit])


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _x_reads(now: datetime):
    metered = Q(source__kind__in=(Source.Kind.X_SEARCH, Source.Kind.X_MENTIONS)) | Q(purpose=ReadUsage.Purpose.ENGAGEMENT)
    return ReadUsage.objects.filter(metered, day__gte=_month_start(now).date())


def budget_used(*, now: datetime | None = None) -> int:
    """X posts read this month: listening's polls and the engagement reads of our posts."""
    return _x_reads(now or timezone.now()).aggregate(total=Sum("reads"))["total"] or 0


def budget_split(*, now: datetime | None = None) -> dict[str, int]:
    """This month's X reads by purpose, for the meter."""
    rows = _x_reads(now or timezone.now()).values("purpose").annotate(total=Sum("reads"))
    split = {ReadUsage.Purpose.LISTENING.value: 0, ReadUsage.Purpose.ENGAGEMENT.value: 0}
    split.update({row["purpose"]: row["total"] or 0 for row in rows})
    return split


# Engagement reads give way to listening: they stretch from half the cap and wait
# altogether from ENGAGEMENT_RESERVE, so the last tenth of the month's reads is listening's.
ENGAGEMENT_STRETCH_FROM = 0.5
ENGAGEMENT_RESERVE = 0.9
ENGAGEMENT_MAX_STRETCH = 24.0


def engagement_pace(*, now: datetime | None = None) -> float | None:
    """How much longer than its schedule an engagement read waits: 1x under half the
    monthly cap, rising to 24x by 90 %; None from 90 %: no engagement reads at all (the
    rest is kept for listening, which never stops for them)."""
    cap = settings.X_MONTHLY_READ_CAP
    if cap <= 0:
        return 1.0
    used = budget_used(now=now) / cap
    if used >= ENGAGEMENT_RESERVE:
        return None
    if used < ENGAGEMENT_STRETCH_FROM:
        return 1.0
    span = (used - ENGAGEMENT_STRETCH_FROM) / (ENGAGEMENT_RESERVE - ENGAGEMENT_STRETCH_FROM)
    return round(1.0 + (ENGAGEMENT_MAX_STRETCH - 1.0) * span, 2)


def budget_pace(*, now: datetime | None = None) -> float:
    """How much slower than configured X sources poll: 1x under 70 % of the monthly cap,
    rising to 10x by 95 %, so the room slows down before the cap rather than hitting it."""
    cap = settings.X_MONTHLY_READ_CAP
    if cap <= 0:
        return 1.0
    used = budget_used(now=now) / cap
    if used < 0.7:
        return 1.0
    if used >= 0.95:
        return 10.0
    return 1.0 + 9.0 * (used - 0.7) / 0.25


def crisis_terms_in(text: str, *, extra_terms: list[str] = ()) -> list[str]:
    """What a post's text touches that the room should not: blocked terms, and the topics
    of crisis or spike alerts open right now (approvals' guardrail lint asks this)."""
    doc = query.tokenize(text)
    hits = []
    for term in extra_terms:
        try:
            if query.parse(f'"{term}"' if " " in term else term).matches(doc):
                hits.append(f'"{term}" (a blocked term)')
        except query.QuerySyntaxError:
            continue
    since = timezone.now() - timedelta(hours=2)
    live_rules = AlertRule.objects.filter(
        alerts__state=Alert.State.OPEN, alerts__ended_at__isnull=True, alerts__last_match_at__gte=since,
        kind__in=(AlertRule.Kind.CRISIS, AlertRule.Kind.SPIKE),
    ).exclude(query="").distinct()
    for rule in live_rules:
        try:
            if query.parse(rule.query).matches(doc):
                hits.append(f'"{rule.name}" (a crisis topic spiking now)')
        except query.QuerySyntaxError:
            continue
    return hits
