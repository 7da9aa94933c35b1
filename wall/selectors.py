"""Reads for the Wall and the story arcs. Charts read the per-minute rollup and the
per-day topic table, never the mention table, so they stay fast at millions of mentions.
The status panels read small sets (open alerts, open cases, open approval requests)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from approvals import selectors as approvals_selectors
from approvals.models import ApprovalRequest, Post, Tracked
from listening.models import Alert, AlertRule
from playbooks import selectors as playbooks_selectors
from playbooks.models import Firing
from triage import selectors as triage_selectors
from triage.models import Case
from warroom import roles

from .models import Topic, TopicDay

VOLUME_MAX_MINUTES = 24 * 60
ARC_MAX_DAYS = 120


def _now_minute(now: datetime | None) -> datetime:
    return (now or timezone.now()).replace(second=0, microsecond=0)


def _minutes(start: datetime, end: datetime) -> dict[datetime, tuple[int, int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT minute, sum(total), sum(positive), sum(neutral), sum(negative) FROM wall_mentionminute "
            "WHERE minute >= %s AND minute <= %s GROUP BY minute",
            [start, end],
        )
        return {row[0]: tuple(int(v) for v in row[1:]) for row in cursor.fetchall()}


def volume_series(*, minutes: int = 60, now: datetime | None = None) -> dict:
    """Mentions per minute for the last `minutes` minutes (the current minute last), with
    the minutes a spike alert covered marked."""
    minutes = max(5, min(minutes, VOLUME_MAX_MINUTES))
    end = _now_minute(now)
    start = end - timedelta(minutes=minutes - 1)
    rows = _minutes(start, end)
    totals = [rows.get(start + timedelta(minutes=i), (0,))[0] for i in range(minutes)]
    spikes = []
    for alert in (Alert.objects.filter(kind=AlertRule.Kind.SPIKE, opened_at__lte=end + timedelta(minutes=1))
                  .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
                  .select_related("rule").order_by("opened_at")[:20]):
        began = alert.opened_at - timedelta(minutes=alert.rule.spike_window_minutes)
        first = max(0, int((began - start).total_seconds() // 60))
        last = minutes - 1 if alert.ended_at is None else min(minutes - 1, int((alert.ended_at - start).total_seconds() // 60))
        if last >= first:
            spikes.append({"from": first, "to": last, "title": alert.title[:120], "open": alert.ended_at is None})
    return {"start": start.isoformat(), "step": 60, "total": totals, "spikes": spikes,
            "peak": max(totals), "now": totals[-1], "sum": sum(totals)}


def sentiment_series(*, minutes: int = 60, bucket: int = 5, now: datetime | None = None) -> dict:
    """Sentiment share (positive, neutral, negative) per `bucket` minutes over the last
    `minutes` minutes, and over the whole span."""
    end = _now_minute(now)
    buckets = max(1, minutes // bucket)
    start = end - timedelta(minutes=buckets * bucket - 1)
    rows = _minutes(start, end)
    series = {"positive": [], "neutral": [], "negative": [], "total": []}
    for b in range(buckets):
        pos = neu = neg = 0
        for i in range(bucket):
            row = rows.get(start + timedelta(minutes=b * bucket + i))
            if row:
                pos, neu, neg = pos + row[1], neu + row[2], neg + row[3]
        series["positive"].append(pos)
        series["neutral"].append(neu)
        series["negative"].append(neg)
        series["total"].append(pos + neu + neg)
    overall = {k: sum(series[k]) for k in ("positive", "neutral", "negative")}
    total = sum(overall.values())
    shares = {k: round(100 * v / total) if total else 0 for k, v in overall.items()}
    return {"start": start.isoformat(), "step": bucket * 60, **series, "overall": overall, "shares": shares}


def response_series(*, hours: int = 24, user=None, now: datetime | None = None) -> dict:
    """Median minutes to a first response, per hour the response was given, over the last
    `hours` hours (cases the user's role sees); None for an hour without responses."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    teams = triage_selectors.visible_teams(user) if user is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc('hour', first_responded_at), count(*), percentile_cont(0.5) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM first_responded_at - opened_at)) FROM triage_case"
            " WHERE first_responded_at >= %s" + (" AND team = ANY(%s)" if teams is not None else "") + " GROUP BY 1",
            [start] + ([teams] if teams is not None else []),
        )
        rows = {hour: (count, median) for hour, count, median in cursor.fetchall()}
    medians, counts = [], []
    for i in range(hours):
        count, median = rows.get(start + timedelta(hours=i), (0, None))
        counts.append(count)
        medians.append(round(median / 60, 1) if median is not None else None)
    return {"start": start.isoformat(), "step": 3600, "median_minutes": medians, "responses": counts}


@dataclass
class WallStatus:
    open_alerts: list
    open_alert_count: int
    breached_count: int
    oldest_waiting: Case | None
    open_case_count: int
    legal_waiting: int
    legal_oldest: ApprovalRequest | None
    banner: object
    median_response_minutes: float | None
    event_now: object = None  # playbooks.selectors.EventNow: tonight's event and its lit scenarios
    posted_tonight: list = ()  # PostedTonight, newest first


TONIGHT = timedelta(hours=12)


@dataclass
class PostedTonight:
    text: str
    account: str
    published_at: datetime
    likes: int
    reposts: int
    replies: int
    quotes: int
    read_at: datetime | None


def posted_tonight(*, now: datetime | None = None, drill: bool = False, limit: int = 6) -> list[PostedTonight]:
    """What we posted in the last 12 hours and its latest engagement (the rolled-up
    counts, never the series): the brand's posts, or a running drill's sandbox posts."""
    now = now or timezone.now()
    tracked = list(Tracked.objects.filter(published_at__gte=now - TONIGHT, sandbox=drill)
                   .select_related("post", "account").order_by("-published_at", "-id")[:limit])
    drill_texts = {}
    if drill:
        firings = Firing.objects.filter(platform_id__in=[t.platform_id for t in tracked]).select_related("variant__post")
        drill_texts = {firing.platform_id: firing.variant.post.text for firing in firings}
    return [PostedTonight(text=(t.post.text if t.post else drill_texts.get(t.platform_id, ""))[:280],
                          account=f"@{t.account.handle}", published_at=t.published_at, likes=t.likes,
                          reposts=t.reposts, replies=t.replies, quotes=t.quotes, read_at=t.last_read_at)
            for t in tracked]


def wall_status(*, user=None, now: datetime | None = None) -> WallStatus:
    """What the room must see at a glance: a handful of small queries. With `user`, the
    cases are those the Queue shows that user (legal sees legal's, producers PR's), and
    alert titles are left out for roles that may not open the alerts page."""
    now = now or timezone.now()
    alerts = Alert.objects.filter(state=Alert.State.OPEN).filter(Q(ended_at__isnull=True) | ~Q(kind=AlertRule.Kind.SPIKE))
    open_cases = Case.objects.exclude(status=Case.Status.RESOLVED)
    teams = triage_selectors.visible_teams(user) if user is not None else None
    if teams is not None:
        open_cases = open_cases.filter(team__in=teams)
    sees_alerts = user is None or roles.has_role(user, roles.PAGE_ROLES["alerts"])
    breached = open_cases.filter(
        Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        | (Q(first_responded_at__isnull=True, first_response_due__lt=now) & ~Q(status=Case.Status.WAITING))
    )
    waiting = (open_cases.filter(first_responded_at__isnull=True).exclude(status=Case.Status.WAITING)
               .order_by("opened_at", "id"))
    legal = ApprovalRequest.objects.filter(state=ApprovalRequest.State.OPEN, step=ApprovalRequest.Step.LEGAL,
                                           post__state=Post.State.PENDING)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_responded_at - opened_at)) "
            "FROM triage_case WHERE first_responded_at >= %s" + (" AND team = ANY(%s)" if teams is not None else ""),
            [now - timedelta(hours=24)] + ([teams] if teams is not None else []),
        )
        median = cursor.fetchone()[0]
    event_now = playbooks_selectors.event_now(now=now)
    return WallStatus(
        open_alerts=list(alerts.order_by("-opened_at")[:5]) if sees_alerts else [],
        open_alert_count=alerts.count(),
        breached_count=breached.count(),
        oldest_waiting=waiting.first(),
        open_case_count=open_cases.count(),
        legal_waiting=legal.count(),
        legal_oldest=legal.select_related("post").order_by("created_at", "id").first(),
        banner=approvals_selectors.queue_banner(),
        median_response_minutes=round(median / 60, 1) if median is not None else None,
        event_now=event_now,
        posted_tonight=posted_tonight(now=now, drill=bool(event_now and event_now.drill)),
    )


# --- Story arcs ---------------------------------------------------------------------------

def topic_list() -> list[Topic]:
    return list(Topic.objects.order_by("-created_at", "-id"))


def topic_arc(*, topic: Topic, today: date | None = None) -> dict:
    """One row per day from the topic's start to today (at most ARC_MAX_DAYS), zeros included."""
    today = today or timezone.now().date()
    first = max(topic.since, today - timedelta(days=ARC_MAX_DAYS - 1))
    rows = {d.day: d for d in TopicDay.objects.filter(topic=topic, day__gte=first, day__lte=today)}
    days = []
    for i in range((today - first).days + 1):
        day = first + timedelta(days=i)
        row = rows.get(day)
        total = row.total if row else 0
        days.append({
            "day": day.isoformat(), "total": total,
            "positive": row.positive if row else 0, "neutral": row.neutral if row else 0,
            "negative": row.negative if row else 0,
            "sentiment": round(row.sentiment_sum / total, 3) if row and total else None,
        })
    peak = max((d["total"] for d in days), default=0)
    for i, d in enumerate(days):  # bar geometry for the page's SVG (10 units a day, 200 high)
        d["x"], d["h"] = i * 10 + 1, round(190 * d["total"] / peak) if peak else 0
        d["y"] = 200 - d["h"]
        d["tone"] = ("neg" if d["sentiment"] < -0.05 else "pos" if d["sentiment"] > 0.05 else "neu") if d["sentiment"] is not None else "neu"
    return {"topic": topic.name, "query": topic.query, "days": days, "peak": peak,
            "sum": sum(d["total"] for d in days), "width": len(days) * 10}
