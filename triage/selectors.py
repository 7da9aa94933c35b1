"""Reads for the Queue: the open cases a user may see, sorted by what is due first, one
case with its history, the canned replies filled for a case, and who is looking at a case.

Scoping is decided here, on the server, for the page, its live row fetches and every
action: community managers, the lead and admins see every case; legal sees the cases
whose team is legal; producers the cases whose team is PR."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import models
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from warroom import roles
from warroom.errors import WarroomError

from .models import Case, CaseEvent, Priority, Team

QUEUE_LIMIT = 200
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
        .annotate(
            due_at=models.Case(models.When(first_responded_at__isnull=True, then=F("first_response_due")),
                               default=F("resolution_due")),
            mention_count=Coalesce(Subquery(mention_counts, output_field=IntegerField()), Value(0)),
        )
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
        _scoped(user).select_related("mention", "mention__source", "assignee").filter(id=case_id).first()
        if case_id else None
    )
    if case is None:
        raise CaseNotFound(f"Case #{case_id or '?'} is not in your queue.")
    case.is_breached = bool(case.first_response_breached_at or case.resolution_breached_at)
    case.due_at = case.first_response_due if case.first_responded_at is None else case.resolution_due
    if events:
        case.history = list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("-at", "-id")[:100])
    return case


def queue_tags(user) -> list[str]:
    """The tags on the open cases `user` may see, for the tag filter."""
    tags = _scoped(user).exclude(status=Case.Status.RESOLVED).values_list("tags", flat=True)
    return sorted({tag for row in tags for tag in row})[:200]


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
