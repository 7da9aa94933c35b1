"""Crisis mode: one declared state across the room. Declaring pauses the outgoing queue
(its reason names the crisis), holds scheduled posts and fire-ready playbook variants
(the pause holds them; the crisis keeps their ids for the review), starts the timeline,
reaches the contact tree after commit, audits and pushes, in one transaction. New cases
matching the crisis's terms go to the crisis team at P1 (ingest calls `mentions_route`).
Standing down resumes the queue with the lead's choice of what to release and saves the
report. The lead declares from the room; an alert rule with "declare crisis" declares
from ingest (room/flows/ingest.alert_actions, through listening's alert_matched hook)."""

from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from approvals import services as approvals
from approvals.models import Post
from listening import query as query_language
from triage import selectors as triage_selectors
from triage import services as triage
from triage.models import Priority, Team
from warroom import audit, live, notices, roles
from warroom.errors import Conflict, Forbidden, InvalidInput

from ..models import Crisis, CrisisContact, CrisisEntry, CrisisNotice

# pg_advisory_xact_lock key that serializes declaring ("CRIS" in ASCII).
DECLARE_LOCK = 0x43524953
CASES_PER_BATCH = 50
# Live kinds a crisis's timeline records: decisions, alerts (spikes among them) and posts.
TIMELINE_KINDS = ("alert.raised", "queue.paused", "queue.resumed", "approval.requested", "post.approved",
                  "post.rejected", "post.scheduled", "post.published", "post.failed", "post.held", "post.needs_check",
                  "case.escalated", "case.breached", "scenario.fired", "room.announced")


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "system"


def _one_line(text, limit: int) -> str:
    return " ".join(str(text or "").replace("\x00", "").split())[:limit]


def crisis_open() -> Crisis | None:
    return Crisis.objects.filter(open=True).first()


def _held_now() -> list[int]:
    """Posts a pause keeps from leaving: scheduled ones and cleared playbook variants."""
    scheduled = Post.objects.filter(state=Post.State.SCHEDULED, holding=False).values_list("id", flat=True)
    ready = Post.objects.filter(state=Post.State.APPROVED, fire_only=True, holding=False).values_list("id", flat=True)
    return sorted({*scheduled, *ready})


def _entry(crisis: Crisis, kind: str, summary: str, actor: str = "", event_id: int | None = None) -> None:
    CrisisEntry.objects.create(crisis=crisis, kind=kind, summary=_one_line(summary, 500), actor=actor[:150],
                               event_id=event_id)


@transaction.atomic
def crisis_declare(*, user, name: str, reason: str, terms: str = "", alert_id: int | None = None) -> tuple[Crisis, bool]:
    """Declare a crisis (the lead, or an alert rule with user None). Declaring while one is
    open changes nothing and returns it: (crisis, created)."""
    if user is not None and not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can declare a crisis.")
    name, reason, terms = _one_line(name, 120), _one_line(reason, 400), _one_line(terms, 1000)
    if not name:
        raise InvalidInput("Name is empty: call the crisis something the room will recognise.")
    if not reason:
        raise InvalidInput("Reason is empty: say what happened, for the room and the log.")
    if terms:
        query_language.parse(terms)  # QuerySyntaxError says what is wrong
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DECLARE_LOCK])
    existing = crisis_open()
    if existing is not None:
        return existing, False
    pause_reason = f"Crisis \u201c{name}\u201d: {reason}"[:500]
    try:
        approvals.queue_pause(user=user, reason=pause_reason)
        paused = True
    except Conflict:
        paused = False  # paused already: that pause holds everything, and its reason stands
    crisis = Crisis.objects.create(name=name, reason=reason, terms=terms, opened_by=user, alert_id=alert_id,
                                   paused_queue=paused, pause_reason=approvals.queue_state().reason, held=_held_now())
    _entry(crisis, "crisis.declared", f"Crisis declared: {name} \u2014 {reason}", _name(user))
    audit.record(actor=user, action="crisis.declare", obj=crisis,
                 details={"reason": reason, "terms": terms, "alert": alert_id, "paused_queue": paused,
                          "held": crisis.held})
    live.publish("crisis.declared", summary=f"Crisis declared: {name} \u2014 {reason}", actor=_name(user),
                 crisis_id=crisis.id, name=name, reason=reason)
    from .. import tasks  # tasks imports this module

    tasks.crisis_notify.delay_on_commit(crisis.id)
    return crisis, True


def mentions_route(*, new_rows: list[tuple[int, dict]]) -> list[int]:
    """New mentions matching the open crisis's terms get a P1 case for the crisis team, in
    the ingest transaction (before the lead's triage rules open the rest)."""
    crisis = crisis_open()
    if crisis is None or not crisis.terms:
        return []
    compiled = query_language.parse(crisis.terms)
    matched = [mention_id for mention_id, row in new_rows
               if compiled.matches(query_language.tokenize(row.get("text", "")))][:CASES_PER_BATCH]
    if not matched:
        return []
    return [case.id for case in triage.cases_open_from_mentions(
        mention_ids=matched, priority=Priority.P1, team=Team.CRISIS, tags=["crisis"], team_fixed=True)]


def timeline_record(event) -> None:
    """After a live event of a TIMELINE_KINDS kind commits: the open crisis records it, once."""
    crisis = crisis_open()
    if crisis is None or event.created_at < crisis.opened_at:
        return
    try:
        with transaction.atomic():
            _entry(crisis, event.kind, event.payload.get("summary", ""), event.payload.get("actor", ""), event.id)
    except IntegrityError:
        pass  # recorded already


def holding_fire(*, user, post_id: int) -> Post:
    """Fire a holding statement from the crisis banner (approvals checks legal's Yes)."""
    with transaction.atomic():
        post = approvals.holding_fire(post_id=post_id, user=user)
        crisis = crisis_open()
        if crisis is not None:
            _entry(crisis, "holding.fired", f"Holding statement fired on {post.account}: {post.text}", _name(user))
        live.publish("holding.fired", summary=f"Holding statement fired on {post.account}: {post.text[:120]}",
                     actor=_name(user), post_id=post.id)
    return post


def holding_statements() -> list[Post]:
    """Holding statements legal cleared for their exact text, ready to fire, per account."""
    posts = Post.objects.filter(holding=True, state=Post.State.APPROVED).select_related("account").order_by("account__name", "id")
    return [post for post in posts if post.approved_hash == post.content_hash()]


def crisis_notify(*, crisis_id: int) -> int:
    """Reach each contact on each channel once (a claimed row per crisis, channel and
    contact, so a retried task sends nothing twice). Returns how many notices this run sent."""
    crisis = Crisis.objects.filter(id=crisis_id).first()
    if crisis is None:
        return 0
    link = settings.PUBLIC_BASE_URL.rstrip("/") + "/"
    subject = f"[Warroom] CRISIS: {crisis.name}"
    text = (f"A crisis was declared at {crisis.opened_at:%H:%M} UTC by {_name(crisis.opened_by)}: {crisis.reason}\n"
            f"The outgoing queue is paused. The room: {link}\n")
    sent = 0
    channels = [import_string(path)() for path in settings.CRISIS_CHANNELS]
    for contact in CrisisContact.objects.filter(enabled=True):
        for channel in channels:
            if not channel.wanted(contact):
                continue
            try:
                with transaction.atomic():
                    notice = CrisisNotice.objects.create(key=f"{crisis.id}:{channel.name}:{contact.id}", crisis=crisis,
                                                         channel=channel.name, contact=contact)
            except IntegrityError:
                continue
            sent += notices.deliver(notice, partial(channel.send, contact=contact, subject=subject, text=text),
                                    what="crisis notice")
    return sent


RELEASE_CHOICES = ("all", "none")


@transaction.atomic
def crisis_stand_down(*, user, crisis_id: int, release) -> Crisis:
    """The lead ends the crisis and says what of the held posts goes out: "all", "none" or
    a list of post ids. Nothing is released without that choice."""
    if not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can stand the crisis down.")
    if release not in RELEASE_CHOICES and not isinstance(release, list):
        raise InvalidInput("Choose what to release of the held posts: all, some or none.")
    crisis = Crisis.objects.select_for_update().filter(id=crisis_id).first()
    if crisis is None or not crisis.open:
        raise Conflict("This crisis is over already.")
    queue = approvals.queue_state()
    released: list[int] = []
    due = [post.id for post in approvals.came_due_while_paused()]
    if queue.paused:
        released = approvals.queue_resume(user=user, release=release)
    now = timezone.now()
    crisis.open, crisis.closed_by, crisis.closed_at, crisis.released = False, user, now, released
    _entry(crisis, "crisis.stood_down", f"Stood down: {len(released)} released, {len(due) - len(released)} held",
           _name(user))
    crisis.report = report_build(crisis, due=due)
    crisis.save()
    audit.record(actor=user, action="crisis.stand_down", obj=crisis,
                 details={"released": released, "came_due": due})
    live.publish("crisis.closed", summary=f"Crisis stood down: {crisis.name}", actor=_name(user), crisis_id=crisis.id)
    return crisis


def report_build(crisis: Crisis, *, due: list[int]) -> dict:
    """What the crisis report says: its timeline, response times, what was held, what went out."""
    end = crisis.closed_at or timezone.now()
    out = Post.objects.filter(published_at__gte=crisis.opened_at, published_at__lte=end).select_related("account")
    held = Post.objects.filter(id__in=sorted({*crisis.held, *due})).select_related("account")
    return {
        "name": crisis.name, "reason": crisis.reason, "terms": crisis.terms,
        "opened_at": crisis.opened_at.isoformat(), "closed_at": end.isoformat(),
        "opened_by": _name(crisis.opened_by), "closed_by": _name(crisis.closed_by),
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary, "actor": e.actor}
                     for e in crisis.entries.all()],
        "responses": triage_selectors.first_responses_between(start=crisis.opened_at, end=end),
        "held": [{"id": p.id, "account": str(p.account), "text": p.text, "released": p.id in crisis.released}
                 for p in held],
        "went_out": [{"id": p.id, "account": str(p.account), "text": p.text, "at": p.published_at.isoformat(),
                      "holding": p.holding} for p in out],
    }
