"""Triage's writes: opening cases (one per mention, or one incident per spike or crisis
alert), taking and assigning them without two people answering the same customer,
escalating, waiting (the SLA clock stops), replying through approvals, closing, and
recording each SLA breach once. Every decision is audited and pushed live."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from warroom import audit, live, roles
from warroom.errors import Conflict, Forbidden, InvalidInput

from .models import Case, CaseEvent, Priority, SlaPolicy, Team

DEFAULT_SLA = {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (1440, 4320)}
AGENTS = frozenset({roles.COMMUNITY_MANAGER, roles.LEAD, roles.ADMIN})
TEAM_ROLE = {Team.SOCIAL: roles.COMMUNITY_MANAGER, Team.SUPPORT: roles.COMMUNITY_MANAGER,
             Team.PR: roles.PRODUCER, Team.LEGAL: roles.LEGAL}


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "system"


def sla_minutes(priority: str) -> tuple[int, int]:
    policy = SlaPolicy.objects.filter(priority=priority).first()
    return (policy.first_response_minutes, policy.resolution_minutes) if policy else DEFAULT_SLA[priority]


def case_audience(case: Case) -> list[str]:
    """Who sees a case's changes live: the agents, the team it is with, its assignee."""
    groups = {live.role_group(r) for r in (roles.COMMUNITY_MANAGER, roles.LEAD, roles.ADMIN)}
    groups.add(live.role_group(TEAM_ROLE[case.team]))
    if case.assignee_id:
        groups.add(live.user_group(case.assignee_id))
    return sorted(groups)


def _changed(case: Case, kind: str, actor, summary: str, text: str = "", post=None, audit_details=None) -> None:
    """Record one change to a case: history, version, audit, live push."""
    case.version += 1
    case.save()
    CaseEvent.objects.create(case=case, actor=actor, kind=kind, text=text, post=post)
    audit.record(actor=actor, action=f"case.{kind}", obj=case, details=audit_details or {})
    live.publish(f"case.{kind}", audience=case_audience(case), summary=summary, actor=_name(actor) if actor else "",
                 case_id=case.id, status=case.status, priority=case.priority, team=case.team,
                 assignee=_name(case.assignee) if case.assignee_id else "", version=case.version)


def _require(user, allowed=AGENTS, what="work cases") -> None:
    if not roles.has_role(user, allowed):
        raise Forbidden(f"Your role cannot {what}.")


def _due(opened: datetime, priority: str) -> tuple[datetime, datetime]:
    first, resolution = sla_minutes(priority)
    return opened + timedelta(minutes=first), opened + timedelta(minutes=resolution)


@transaction.atomic
def case_open_from_mention(*, mention_id: int, priority: str = Priority.P3, team: str = Team.SOCIAL,
                           tags: list[str] | None = None, actor=None) -> Case:
    """One case per mention: opening it again returns the case that exists."""
    from listening.models import Mention

    existing = Case.objects.filter(mention_id=mention_id).first()
    if existing:
        return existing
    mention = Mention.objects.get(id=mention_id)
    now = timezone.now()
    first_due, resolution_due = _due(now, priority)
    case = Case.objects.create(
        title=f"@{mention.author_handle}: {mention.text[:200]}", mention=mention, priority=priority, team=team,
        tags=list(tags or []), opened_at=now, first_response_due=first_due, resolution_due=resolution_due, version=0,
    )
    _changed(case, "opened", actor, f"{priority} case opened: {case.title[:120]}")
    return case


@transaction.atomic
def incident_open_or_join(*, alert_id: int, mention_ids: list[int], priority: str) -> Case:
    """A spike or crisis alert is one incident: one case, one owner, all its mentions."""
    from listening.models import Alert

    alert = Alert.objects.get(id=alert_id)
    case = Case.objects.select_for_update().filter(alert=alert).first()
    if case is None:
        now = timezone.now()
        first_due, resolution_due = _due(now, priority)
        case = Case.objects.create(title=f"Incident: {alert.title}", alert=alert, priority=priority, tags=["incident"],
                                   opened_at=now, first_response_due=first_due, resolution_due=resolution_due, version=0)
        case.mentions.add(*mention_ids)
        _changed(case, "opened", None, f"{priority} incident opened: {alert.title}",
                 audit_details={"alert": alert.id, "mentions": len(mention_ids)})
        return case
    case.mentions.add(*mention_ids)
    _changed(case, "grouped", None, f"{len(mention_ids)} more mention(s) on incident #{case.id}",
             audit_details={"mentions": len(mention_ids)})
    return case


@transaction.atomic
def case_take(*, case_id: int, user) -> Case:
    """'a': the case is mine. Two people pressing at once: one wins, the other is told who."""
    _require(user)
    case = Case.objects.select_for_update().get(id=case_id)
    if case.assignee_id == user.id:
        return case
    if case.assignee_id:
        raise Conflict(f"{_name(case.assignee)} already has this case.")
    case.assignee = user
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    _changed(case, "assigned", user, f"{_name(user)} took case #{case.id}")
    return case


@transaction.atomic
def case_assign(*, case_id: int, user, assignee) -> Case:
    """The lead hands a case to someone (or takes it back from someone)."""
    _require(user, {roles.LEAD, roles.ADMIN}, "assign cases to others")
    if not roles.has_role(assignee, AGENTS | {roles.LEGAL, roles.PRODUCER}):
        raise InvalidInput(f"{_name(assignee)} has no role that works cases.")
    case = Case.objects.select_for_update().get(id=case_id)
    case.assignee = assignee
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    _changed(case, "assigned", user, f"Case #{case.id} assigned to {_name(assignee)}")
    return case


@transaction.atomic
def case_escalate(*, case_id: int, user, team: str, note: str) -> Case:
    _require(user)
    if team not in (Team.LEGAL, Team.PR, Team.SUPPORT):
        raise InvalidInput("Escalate to legal, PR or support.")
    note = (note or "").replace("\x00", "").strip()
    if not note:
        raise InvalidInput(f"Note is empty: tell {Team(team).label} what they need to know.")
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status == Case.Status.RESOLVED:
        raise Conflict("This case is resolved; reopen it before escalating.")
    case.team, case.status = team, Case.Status.ESCALATED
    _changed(case, "escalated", user, f"Case #{case.id} escalated to {Team(team).label}: {note[:120]}", text=note[:4000],
             audit_details={"team": team, "note": note[:1000]})
    return case


@transaction.atomic
def case_wait(*, case_id: int, user) -> Case:
    """Waiting on the customer: the SLA clock stops until they answer."""
    _require(user)
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status in (Case.Status.WAITING, Case.Status.RESOLVED):
        raise Conflict(f"This case is {case.get_status_display().lower()}.")
    case.status, case.waiting_since = Case.Status.WAITING, timezone.now()
    _changed(case, "waiting", user, f"Case #{case.id} waits on the customer")
    return case


@transaction.atomic
def case_customer_answered(*, case_id: int) -> Case:
    """The customer wrote again: the clock restarts, shifted by the time spent waiting."""
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status != Case.Status.WAITING:
        return case
    waited = timezone.now() - case.waiting_since
    case.first_response_due = case.first_response_due + waited if case.first_response_due else None
    case.resolution_due = case.resolution_due + waited if case.resolution_due else None
    case.status, case.waiting_since = Case.Status.OPEN, None
    _changed(case, "customer_answered", None, f"The customer answered on case #{case.id}")
    return case


@transaction.atomic
def case_close(*, case_id: int, user) -> Case:
    _require(user, AGENTS | {roles.LEGAL, roles.PRODUCER}, "close cases")
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status == Case.Status.RESOLVED:
        raise Conflict("This case is already resolved.")
    case.status, case.resolved_at, case.waiting_since = Case.Status.RESOLVED, timezone.now(), None
    _changed(case, "closed", user, f"Case #{case.id} resolved")
    return case


@transaction.atomic
def case_tag(*, case_id: int, user, tag: str) -> Case:
    _require(user, what="tag cases")
    tag = (tag or "").replace("\x00", "").strip()[:40]
    if not tag:
        raise InvalidInput("Tag is empty.")
    case = Case.objects.select_for_update().get(id=case_id)
    if tag not in case.tags:
        case.tags = [*case.tags, tag]
        _changed(case, "tagged", user, f"Case #{case.id} tagged {tag}", audit_details={"tag": tag})
    return case


@transaction.atomic
def case_note(*, case_id: int, user, text: str) -> Case:
    _require(user, AGENTS | {roles.LEGAL, roles.PRODUCER}, "add notes")
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Note is empty.")
    case = Case.objects.select_for_update().get(id=case_id)
    _changed(case, "noted", user, f"Note on case #{case.id}", text=text[:4000])
    return case


@transaction.atomic
def case_reply(*, case_id: int, user, account_id: int, text: str, seen_version: int, checklist: dict[str, bool],
               override_reason: str = ""):
    """Answer the customer through approvals (legal's Yes/No, then publishing). Refused if
    the case changed since the agent loaded it, so no customer gets two answers."""
    from approvals import services as approvals

    _require(user)
    case = Case.objects.select_for_update(of=("self",)).select_related("mention").get(id=case_id)
    if case.version != seen_version:
        last = case.events.order_by("-at", "-id").first()
        raise Conflict(f"This case changed since you opened it ({last.kind.replace('_', ' ')} by {_name(last.actor)} "
                       f"at {last.at:%H:%M}): read it again before replying.")
    if case.mention is None:
        raise InvalidInput("This case has no single mention to reply to; reply from one of its mentions.")
    post = approvals.post_create(author=user, account_id=account_id, text=text, in_reply_to=case.mention.external_id,
                                 publish_on_approval=True)
    post = approvals.post_submit(post_id=post.id, user=user, checklist=checklist, override_reason=override_reason)
    if case.first_responded_at is None:
        case.first_responded_at = timezone.now()
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    _changed(case, "replied", user, f"Reply on case #{case.id} sent to legal", text=post.text, post=post)
    return post


def sla_check(*, now: datetime | None = None) -> list[int]:
    """Record each breach once, and tell the room."""
    now = now or timezone.now()
    breached = []
    with transaction.atomic():
        late_first = Case.objects.select_for_update(skip_locked=True).filter(
            first_responded_at__isnull=True, first_response_breached_at__isnull=True, first_response_due__lt=now,
        ).exclude(status__in=(Case.Status.RESOLVED, Case.Status.WAITING))
        for case in late_first:
            case.first_response_breached_at = now
            _changed(case, "breached", None, f"SLA breached: no first response on {case.priority} case #{case.id}",
                     audit_details={"target": "first_response", "due": case.first_response_due.isoformat()})
            breached.append(case.id)
        late_resolution = Case.objects.select_for_update(skip_locked=True).filter(
            resolved_at__isnull=True, resolution_breached_at__isnull=True, resolution_due__lt=now,
        ).exclude(status__in=(Case.Status.RESOLVED, Case.Status.WAITING))
        for case in late_resolution:
            case.resolution_breached_at = now
            _changed(case, "breached", None, f"SLA breached: {case.priority} case #{case.id} not resolved in time",
                     audit_details={"target": "resolution", "due": case.resolution_due.isoformat()})
            breached.append(case.id)
    return breached
