"""Reads for the Queue: the open cases a user may see, sorted by what is due first, one
case with its history, the canned replies filled for a case, and who is looking at a case.

Scoping is decided here, on the server, for the page, its live row fetches and every
action: community managers, the lead and admins see every case; legal sees the cases
whose team is legal; producers the cases whose team is PR."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, models
from django.db.models import Count, F, Func, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from warroom import presence, roles
from warroom.errors import WarroomError

from .models import DEFAULT_SLA, TEAM_ROLE, Case, CaseEvent, Priority, SlaPolicy, Team, TriageRule

QUEUE_LIMIT = 200
THREAD_SHOWN = 20
SEES_ALL = frozenset({roles.COMMUNITY_MANAGER, roles.LEAD, roles.ADMIN})
ROLE_TEAMS = {roles.LEGAL: Team.LEGAL, roles.PRODUCER: Team.PR}


class CaseNotFound(WarroomError):
    status = 404


@dataclass(frozen=True)
class QueueFilters:
    mine: bool = False
    team: str = ""
    priority: str = ""
    breached: bool = False
    tag: str = ""

    @classmethod
    def from_query(cls, query) -> "QueueFilters":
        """Read the Queue's filter form; values that are not choices are ignored."""
        team = query.get("team", "")
        priority = query.get("priority", "")
        return cls(
            mine=query.get("mine") == "1",
            team=team if team in Team.values else "",
            priority=priority if priority in Priority.values else "",
            breached=query.get("breached") == "1",
            tag=query.get("tag", "").strip()[:40],
        )

    def active(self) -> bool:
        return any((self.mine, self.team, self.priority, self.breached, self.tag))

    def as_query(self) -> dict[str, str]:
        values = {"mine": "1" if self.mine else "", "team": self.team, "priority": self.priority,
                  "breached": "1" if self.breached else "", "tag": self.tag}
        return {key: value for key, value in values.items() if value}


def visible_teams(user) -> list[str] | None:
    """The teams whose cases `user` may see; None means every team."""
    held = roles.roles_of(user)
    if held & SEES_ALL:
        return None
    return [team for role, team in ROLE_TEAMS.items() if role in held]


def _scoped(user) -> QuerySet[Case]:
    cases = Case.objects.all()
    teams = visible_teams(user)
    return cases if teams is None else cases.filter(team__in=teams)


def case_queue(*, user, filters: QueueFilters = QueueFilters(), case_id: int | None = None,
               limit: int = QUEUE_LIMIT) -> list[Case]:
    """Open cases `user` may see, matching `filters`, soonest due first, in one query.

    A case is due at its first-response target until someone answered, then at its
    resolution target; cases without a target come last. Each case carries `due_at`,
    `mention_count` (an incident's mentions), `is_breached` and `present` (who is viewing
    or replying, from the cache: one round trip to Redis for the page, no query). With `case_id`, the same
    read for one case: the live row fetch asks whether that row belongs on this page."""
    now = timezone.now()
    mention_counts = (Case.mentions.through.objects.filter(case_id=OuterRef("pk")).order_by()
                      .values("case_id").annotate(n=Count("*")).values("n"))
    cases = (
        _scoped(user)
        .exclude(status=Case.Status.RESOLVED)
        .select_related("mention", "mention__source", "assignee")
        .annotate(mention_count=Coalesce(Subquery(mention_counts, output_field=IntegerField()), Value(0)))
    )
    if case_id is not None:
        cases = cases.filter(id=case_id)
    if filters.mine:
        cases = cases.filter(assignee_id=user.id)
    if filters.team:
        cases = cases.filter(team=filters.team)
    if filters.priority:
        cases = cases.filter(priority=filters.priority)
    if filters.breached:
        cases = cases.filter(
            Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
            | (Q(first_responded_at__isnull=True, first_response_due__lt=now) & ~Q(status=Case.Status.WAITING))
        )
    if filters.tag:
        cases = cases.filter(tags__contains=[filters.tag])
    rows = list(cases.order_by(F("due_at").asc(nulls_last=True), "id")[:limit])
    present = cache.get_many([presence_key(case.id) for case in rows]) if rows else {}
    for case in rows:
        case.is_breached = bool(case.first_response_breached_at or case.resolution_breached_at)
        case.present = _current(present.get(presence_key(case.id)), now)
    return rows


def case_get(*, case_id: int | None, user, events: bool = True) -> Case:
    """One case `user` may see (resolved ones too), with its history in `case.history`.
    A case outside the user's teams is reported exactly like one that does not exist."""
    case = (
        _scoped(user).select_related("mention", "mention__source", "assignee", "rule").filter(id=case_id).first()
        if case_id else None
    )
    if case is None:
        raise CaseNotFound(f"Case #{case_id or '?'} is not in your queue.")
    case.is_breached = bool(case.first_response_breached_at or case.resolution_breached_at)
    if events:
        # The thread: later mentions by the customer, or an incident's mentions, newest first.
        case.thread = list(case.mentions.select_related("source").order_by("-posted_at", "-id")[:THREAD_SHOWN])
        case.thread_count = case.mentions.count() if len(case.thread) == THREAD_SHOWN else len(case.thread)
        case.history = list(CaseEvent.objects.filter(case=case).select_related("actor", "post", "post__account").order_by("-at", "-id")[:100])
    return case


def queue_tags(user) -> list[str]:
    """The tags on the open cases `user` may see, for the tag filter."""
    tags = (_scoped(user).exclude(status=Case.Status.RESOLVED).filter(tags__len__gt=0)
            .annotate(tag=Func(F("tags"), function="unnest")).values_list("tag", flat=True).distinct())
    return sorted(tags)[:200]


def assignable_users() -> list:
    """People a lead can hand a case to: everyone holding a role that works cases."""
    return list(get_user_model().objects.filter(is_active=True, groups__name__in=roles.ALL).distinct()
                .order_by("first_name", "username"))


# --- Canned replies ----------------------------------------------------------------------

CANNED_RESPONSES = (
    ("Sorry, DM us", "Hi {author}, we're sorry about this. Please DM us your order details so we can make it right (ref {case})."),
    ("Looking into it", "Thanks {author}, we're looking into this now and will come back to you here shortly (ref {case})."),
    ("Thanks!", "Thanks so much {author}! We're glad you enjoyed it."),
    ("Fixed", "Hi {author}, this should be fixed now. Let us know if anything still looks wrong (ref {case})."),
)


def canned_for(case: Case) -> list[tuple[str, str]]:
    """The canned replies with {author} (the customer's @handle) and {case} (#id) filled."""
    author = f"@{case.mention.author_handle}" if case.mention and case.mention.author_handle else "there"
    return [(label, text.replace("{author}", author).replace("{case}", f"#{case.id}"))
            for label, text in CANNED_RESPONSES]


# --- Presence ----------------------------------------------------------------------------
#
# Kept in the cache (Redis), never in the database: per case, user id -> {who, doing,
# alive_until, show_until}. `alive_until` is a minute ahead and refreshed every 20 s by an
# open page: it answers "is someone replying right now" for the collision warning.
# `show_until` is how long other pages keep showing the badge after the last push; pushes
# are rarer than refreshes so the room's history is not flooded with them.

PRESENCE_SECONDS = 60
BADGE_SECONDS = 300


def presence_key(case_id: int) -> str:
    return f"triage:presence:{case_id}"


def case_presence(case_id: int, now: datetime | None = None) -> dict[str, dict]:
    """Who is viewing or replying to a case right now: user id -> entry."""
    return _alive(cache.get(presence_key(case_id)), now or timezone.now())


def _alive(present: dict | None, now: datetime) -> dict[str, dict]:
    now_ts = now.timestamp()
    return {uid: entry for uid, entry in (present or {}).items() if entry.get("alive_until", 0) > now_ts}


def _current(present: dict | None, now: datetime) -> list[dict]:
    return [{"uid": uid, **entry} for uid, entry in _alive(present, now).items()]


# --- The room: who can take round-robin cases ---------------------------------------------

def team_members_in_room(team: str) -> list:
    """The people of a team (by the role that works its cases) who have the room open now,
    in a stable order (by id) so round-robin takes turns fairly."""
    present = presence.present_user_ids()
    if not present:
        return []
    return list(get_user_model().objects.filter(id__in=present, is_active=True, groups__name=TEAM_ROLE[team])
                .distinct().order_by("id"))


# --- Response KPIs for the lead -----------------------------------------------------------

KPI_WINDOWS = (("24h", 24), ("7d", 24 * 7))


@dataclass(frozen=True)
class PriorityKpi:
    priority: str
    window: str
    cases: int
    met: int
    missed: int
    median_minutes: float | None
    p90_minutes: float | None

    @property
    def attainment(self) -> float | None:
        judged = self.met + self.missed
        return round(100 * self.met / judged, 1) if judged else None

    @property
    def bar(self) -> int:
        return round(60 * (self.attainment or 0) / 100)


def _minutes(seconds) -> float | None:
    return round(seconds / 60, 1) if seconds is not None else None


def response_kpis(*, now: datetime | None = None) -> dict:
    """First-response time (median, p90) and SLA attainment per priority over the last
    24 hours and 7 days, in one pass over the week's cases (the opened_at index bounds it).

    A case counts as met when its first response was published by its target (which moved
    on while it waited on the customer), as missed when it breached or was answered late;
    an unanswered case still inside its target is not judged yet."""
    now = now or timezone.now()
    windows = {label: now - timedelta(hours=hours) for label, hours in KPI_WINDOWS}
    met = "(first_responded_at IS NOT NULL AND first_responded_at <= first_response_due)"
    missed = (f"(first_response_breached_at IS NOT NULL OR first_responded_at > first_response_due "
              f"OR (first_responded_at IS NULL AND first_response_due < %(now)s AND status <> 'waiting'))")
    response = "extract(epoch from first_responded_at - opened_at)"
    columns = []
    for label in windows:
        since = f"opened_at >= %(since_{label})s"
        columns += [
            f"count(*) FILTER (WHERE {since})",
            f"count(*) FILTER (WHERE {since} AND {met})",
            f"count(*) FILTER (WHERE {since} AND NOT ({met}) AND {missed})",
            f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {response}) "  # one sort for both
            f"FILTER (WHERE {since} AND first_responded_at IS NOT NULL)",
        ]
    sql = (f"SELECT coalesce(priority, 'all'), {', '.join(columns)} FROM triage_case "
           f"WHERE opened_at >= %(since_7d)s GROUP BY ROLLUP (priority)")
    params = {"now": now, **{f"since_{label}": since for label, since in windows.items()}}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        for n, label in enumerate(windows):
            cases, met_n, missed_n, percentiles = row[1 + 4 * n: 5 + 4 * n]
            median, p90 = percentiles or (None, None)
            found[(row[0], label)] = PriorityKpi(row[0], label, cases, met_n, missed_n, _minutes(median), _minutes(p90))
    table = []
    for priority in [*Priority.values, "all"]:
        cells = [found.get((priority, label), PriorityKpi(priority, label, 0, 0, 0, None, None)) for label in windows]
        table.append({"priority": priority, "cells": cells, **{cell.window: cell for cell in cells}})
    return {"rows": table, "windows": [label for label in windows], "as_of": now}


KPI_KEY = "triage:kpis"
KPI_SECONDS = 150  # beat refreshes every minute; a missed beat still leaves a snapshot


def kpi_snapshot(*, refresh: bool = False) -> dict:
    """The KPI page's figures, computed at most once a minute for everyone (a beat task
    keeps them fresh) rather than on every load: over a week of cases at a million
    mentions the percentiles take most of a second, and a lead's view a minute old is as
    useful. `as_of` on the snapshot says how old it is."""
    snapshot = None if refresh else cache.get(KPI_KEY)
    if snapshot is None:
        now = timezone.now()
        snapshot = {"kpis": response_kpis(now=now), "backlog": backlog_by_team(now=now),
                    "by_day": first_response_by_day(now=now), "as_of": now}
        cache.set(KPI_KEY, snapshot, KPI_SECONDS)
    return snapshot


def backlog_by_team(*, now: datetime | None = None) -> list[dict]:
    """Open cases per team: how many, how many breached, unassigned, and the oldest due."""
    now = now or timezone.now()
    rows = (Case.objects.exclude(status=Case.Status.RESOLVED).values("team").order_by("team")
            .annotate(open=Count("id"),
                      breached=Count("id", filter=Q(first_response_breached_at__isnull=False)
                                     | Q(resolution_breached_at__isnull=False)),
                      unassigned=Count("id", filter=Q(assignee__isnull=True)),
                      escalated=Count("id", filter=Q(status=Case.Status.ESCALATED)),
                      oldest_due=models.Min("due_at")))
    by_team = {row["team"]: row for row in rows}
    largest = max((row["open"] for row in rows), default=0) or 1
    return [{"team": value, "label": label, "open": 0, "breached": 0, "unassigned": 0, "escalated": 0,
             "oldest_due": None, **by_team.get(value, {}), "width": round(100 * by_team.get(value, {}).get("open", 0) / largest)}
            for value, label in Team.choices]


def first_response_by_day(*, days: int = 7, now: datetime | None = None) -> list[dict]:
    """Median first-response minutes and cases per day, oldest first, for the chart."""
    now = now or timezone.now()
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc('day', opened_at AT TIME ZONE 'UTC') AS day, count(*), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch from first_responded_at - opened_at)) "
            "FILTER (WHERE first_responded_at IS NOT NULL) "
            "FROM triage_case WHERE opened_at >= %s GROUP BY 1 ORDER BY 1", [start])
        found = {row[0].date(): (row[1], _minutes(row[2])) for row in cursor.fetchall()}
    series = []
    for n in range(days):
        day = (start + timedelta(days=n)).date()
        cases, median = found.get(day, (0, None))
        series.append({"day": day, "cases": cases, "median": median})
    top = max((point["median"] or 0 for point in series), default=0) or 1
    for point in series:  # a 120-high chart area, bars up to 110
        point["height"] = round(110 * (point["median"] or 0) / top)
        point["y"] = 120 - point["height"]
        point["label_y"] = point["y"] - 3
    return series


def first_responses_between(*, start: datetime, end: datetime) -> dict:
    """Cases opened between `start` and `end`: how many, how many answered, and the median
    and 90th percentile minutes to their first response (the post-event report's figures)."""
    cases = Case.objects.filter(opened_at__gte=start, opened_at__lte=end)
    first_response = cases.aggregate(n=Count("id"), answered=Count("id", filter=Q(first_responded_at__isnull=False)),
                                     first=Min("opened_at"))
    times = [(c.first_responded_at - c.opened_at).total_seconds() / 60
             for c in cases.filter(first_responded_at__isnull=False).only("opened_at", "first_responded_at")[:5000]]
    times.sort()
    return {"cases": first_response["n"], "answered": first_response["answered"],
            "median_minutes": round(times[len(times) // 2], 1) if times else None,
            "p90_minutes": round(times[int(len(times) * 0.9)], 1) if times else None}


def triage_rule_list() -> list:
    """The rules in the order they are tried, with how many cases each routed."""
    return list(TriageRule.objects.select_related("alert_rule", "last_assignee")
                .annotate(case_count=Count("cases")).order_by("position", "id"))


def sla_policies() -> list:
    """One row per priority, the defaults where the lead set nothing."""
    stored = {policy.priority: policy for policy in SlaPolicy.objects.all()}
    return [stored.get(p) or SlaPolicy(priority=p, first_response_minutes=DEFAULT_SLA[p][0],
                                       resolution_minutes=DEFAULT_SLA[p][1]) for p in Priority.values]
