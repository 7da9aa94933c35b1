"""The Wall's writes: notification preferences, notices sent once per (event, person),
and story arcs (a tracked query whose daily counts are kept up to date in batches)."""

from datetime import datetime, time, timedelta
from functools import partial

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services as approvals
from approvals.models import ApprovalRequest
from listening import query as query_language
from listening.models import Mention
from warroom import audit, live, notices, presence, roles
from warroom.errors import Forbidden, InvalidInput
from warroom.models import LiveEvent, LiveGroup

from . import tasks
from .models import Notification, NotificationPreference, Topic, TopicDay


# Live event kinds that reach people on deck, and the preference that lets each through.
NOTIFY = {
    "case.escalated": "escalations",
    "case.breached": "breaches",
    "queue.paused": "pauses",
    "scenario.fired": "scenarios",
}
PREFERENCE_FIELDS = ("on_deck", "email", "escalations", "breaches", "pauses", "scenarios")
SUBJECT_LIMIT = 150
SLACK_TIMEOUT = 5


# --- Preferences ------------------------------------------------------------------------

def notification_preference_get(user) -> NotificationPreference:
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


@transaction.atomic
def notification_preference_set(*, user, **fields: bool) -> NotificationPreference:
    """Save what one person wants to hear about while away from the room."""
    unknown = set(fields) - set(PREFERENCE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown notification setting: {', '.join(sorted(unknown))}.")
    if fields.get("on_deck") and fields.get("email", True) and not user.email:
        raise InvalidInput("You have no e-mail address on your account: ask an admin to add one before going on deck.")
    preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    for name, value in fields.items():
        setattr(preference, name, bool(value))
    preference.updated_at = timezone.now()
    preference.save()
    audit.record(actor=user, action="notifications.set", obj=user, details={k: bool(v) for k, v in fields.items()})
    return preference


# --- Notices ------------------------------------------------------------------------------

def wants(event: LiveEvent) -> bool:
    """Escalations matter to people away from the room only at P1."""
    if event.kind not in NOTIFY:
        return False
    if event.kind == "case.escalated":
        return event.payload.get("priority") == "P1"
    return True


def people_on_deck(*, event: LiveEvent | None = None) -> list[NotificationPreference]:
    """People on call who are not in the room now (and, for an event, who may see it and want it)."""
    prefs = NotificationPreference.objects.filter(on_deck=True, user__is_active=True).select_related("user")
    if event is not None:
        prefs = prefs.filter(**{NOTIFY[event.kind]: True})
    present = presence.present_user_ids()
    chosen = []
    for pref in prefs.order_by("user_id"):
        if pref.user_id in present:
            continue
        if event is not None:
            groups = live.groups_for(user_id=pref.user_id, held_roles=roles.roles_of(pref.user))
            if not set(groups) & set(event.audience):
                continue
        chosen.append(pref)
    return chosen


def _claim(*, event: LiveEvent, channel: str, user=None) -> Notification | None:
    """The row that says this notice is being sent; None when another run claimed it.
    An event of a group claims for its group: one notice per group and person."""
    subject = f"g{event.group_id}" if event.group_id else str(event.id)
    key = f"{subject}:{channel}:{user.id if user else 'room'}"
    try:
        with transaction.atomic():
            return Notification.objects.create(key=key, event_id=event.id, kind=event.kind, channel=channel, user=user)
    except IntegrityError:
        return None


def _one_line(text: str, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


def event_notify(*, event_id: int) -> int:
    """Tell the people on deck about one live event, each once: a notice is claimed (a
    unique row per event and person) before it is sent, so a retried task sends nothing
    twice. A crash between claim and send loses that one notice rather than doubling it;
    the row keeps the error. Returns how many notices this run sent."""
    event = LiveEvent.objects.filter(id=event_id).first()
    if event is None or not wants(event):
        return 0
    summary = _one_line(event.payload.get("summary", ""), 1000)
    link, where = settings.PUBLIC_BASE_URL.rstrip("/") + "/wall/", "The Wall"
    group = LiveGroup.objects.filter(id=event.group_id).first() if event.group_id else None
    if group is not None:  # the whole burst, as counted now (the task runs when its window closes)
        seconds = int((group.closes_at - group.opened_at).total_seconds())
        window = "in the last minute" if seconds == 60 else f"within {seconds} s"
        summary = f"{group.summary()} {window}"
        if group.link:
            link, where = settings.PUBLIC_BASE_URL.rstrip("/") + group.link, "All of them"
    sent = 0
    for pref in people_on_deck(event=event):
        if not (pref.email and pref.user.email):
            continue
        notice = _claim(event=event, channel=Notification.Channel.EMAIL, user=pref.user)
        if notice is None:
            continue
        sent += notices.deliver(notice, partial(
            send_mail,
            subject=f"[Warroom] {_one_line(summary, SUBJECT_LIMIT)}",
            message=f"{summary}\n\nYou are on deck and not in the room. {where}: {link}\n"
                    f"Change what you receive: {settings.PUBLIC_BASE_URL.rstrip('/')}/wall/notifications/\n",
            from_email=None, recipient_list=[pref.user.email],
        ))
    if settings.SLACK_WEBHOOK_URL:
        notice = _claim(event=event, channel=Notification.Channel.SLACK)
        if notice is not None:
            text = f"{summary} <{link}|{'Open the Wall' if group is None else 'See them all'}>"
            sent += notices.deliver(notice, partial(_slack_post, text), what="Slack notice")
    return sent


def _slack_post(text: str) -> None:
    response = requests.post(settings.SLACK_WEBHOOK_URL, json={"text": text}, timeout=SLACK_TIMEOUT)
    response.raise_for_status()


def approval_notify(*, event_id: int) -> int:
    """An approval request waits: each approver on deck who is not in the room and may
    answer it gets an e-mail with their own signed, single-use link to answer it from a
    phone (never Slack: the link is for one person). Claimed once per (event, person)
    like every notice. Returns how many notices this run sent."""
    event = LiveEvent.objects.filter(id=event_id, kind="approval.requested").first()
    request_id = event.payload.get("request_id") if event else None
    request = ApprovalRequest.objects.filter(id=request_id, state=ApprovalRequest.State.OPEN).first() if request_id else None
    if request is None:
        return 0
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    summary = _one_line(event.payload.get("summary", ""), 1000)
    sent = 0
    for pref in people_on_deck():
        if not (pref.email and pref.user.email) or not roles.has_role(pref.user, {roles.LEGAL, roles.LEAD}):
            continue
        if not approvals.may_answer(request_id=request.id, user=pref.user):
            continue
        notice = _claim(event=event, channel=Notification.Channel.EMAIL, user=pref.user)
        if notice is None:
            continue
        def send(user=pref.user) -> None:
            link, token = approvals.approval_link_issue(request_id=request.id, user=user)
            send_mail(
                subject=f"[Warroom] Your answer: {_one_line(summary, SUBJECT_LIMIT)}",
                message=f"{summary}\n\nYou are on deck and not in the room. Answer Yes or No from here "
                        f"(sign in first; the link answers once, for this exact text, until "
                        f"{link.expires_at:%H:%M} UTC):\n{base}/approvals/away/{token}/\n\n"
                        f"Change what you receive: {base}/wall/notifications/\n",
                from_email=None, recipient_list=[user.email],
            )
        sent += notices.deliver(notice, send, what="approval notice")
    return sent


# --- Story arcs ---------------------------------------------------------------------------

@transaction.atomic
def topic_create(*, user, name: str, query: str, days_back: int = 28) -> Topic:
    """Track a story: its query is checked now, and its arc is counted from `days_back` days ago."""
    if not roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        raise Forbidden("Only the lead tracks story arcs.")
    name = _one_line(name, 120)
    query = (query or "").replace("\x00", "").strip()
    if not name:
        raise InvalidInput("Name is empty: call the story something the room will recognise.")
    if not query:
        raise InvalidInput("Query is empty: say which mentions belong to this story, e.g. blackout OR \"lights out\".")
    if len(query) > 1000:
        raise InvalidInput("Query is longer than 1000 characters.")
    query_language.parse(query)  # QuerySyntaxError is an InvalidInput naming what is wrong
    if not 1 <= days_back <= 120:
        raise InvalidInput("Days back must be between 1 and 120.")
    topic = Topic.objects.create(name=name, query=query, created_by=user,
                                 since=timezone.now().date() - timedelta(days=days_back - 1))
    audit.record(actor=user, action="topic.create", obj=topic, details={"query": query, "days_back": days_back})
    tasks.topic_refresh.delay_on_commit(topic.id)
    return topic


def topic_refresh(*, topic_id: int, batch: int = 20_000, max_batches: int = 1000) -> int:
    """Count the mentions stored since the last run into the topic's days. Each batch is
    one transaction under the topic's row lock, so two workers never count a mention twice.
    Returns how many mentions matched."""
    matched = 0
    for _ in range(max_batches):
        with transaction.atomic():
            topic = Topic.objects.select_for_update(skip_locked=True).filter(id=topic_id, enabled=True).first()
            if topic is None:
                return matched
            compiled = query_language.parse(topic.query)
            since = timezone.make_aware(datetime.combine(topic.since, time.min))
            rows = list(Mention.objects.filter(id__gt=topic.scanned_to_id).order_by("id")
                        .values_list("id", "text", "posted_at", "sentiment", "sentiment_label")[:batch])
            if not rows:
                return matched
            days: dict = {}
            for _id, text, posted_at, score, label in rows:
                if posted_at < since or not compiled.matches(query_language.tokenize(text)):
                    continue
                day = days.setdefault(timezone.localtime(posted_at).date(), [0, 0, 0, 0, 0.0])
                day[0] += 1
                day[{"positive": 1, "negative": 3}.get(label, 2)] += 1
                day[4] += score
                matched += 1
            for day, (total, pos, neu, neg, score_sum) in days.items():
                row, _ = TopicDay.objects.select_for_update().get_or_create(topic=topic, day=day)
                row.total += total
                row.positive += pos
                row.neutral += neu
                row.negative += neg
                row.sentiment_sum += score_sum
                row.save()
            topic.scanned_to_id = rows[-1][0]
            topic.save(update_fields=["scanned_to_id"])
        if len(rows) < batch:
            return matched
    return matched
