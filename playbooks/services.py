"""Playbooks' writes: building an event (contacts, guardrails, scenarios, variants, the
run-of-show), sending variants to legal through approvals, suggesting scenarios when
listening hears their trigger, firing a variant exactly once, and drills.

A variant's content and approval are an approvals Post: legal answers it on the approvals
page like any other post, and a fire schedules it "now" through approvals' publishing, so
the pause, the content-hash check and exactly-once delivery are approvals' own."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from approvals import engagement as approvals_engagement
from approvals import services as approvals
from approvals.models import Account, Post
from approvals.tasks import post_publish as post_publish_task
from listening import services as listening
from listening.adapters import demo
from listening.models import AlertRule
from networks import registry
from networks.errors import AdapterError
from warroom import audit, live, roles
from warroom.errors import Conflict, Forbidden, InvalidInput

from . import tasks
from .models import Contact, Drill, Event, Firing, Moment, Scenario, Suggestion, Variant

BUILDERS = frozenset({roles.PRODUCER, roles.LEAD, roles.ADMIN})
FIRERS = BUILDERS
AUDIENCE = [live.role_group(role) for role in (roles.PRODUCER, roles.LEGAL, roles.LEAD, roles.ADMIN)]
# An event listens for its triggers from an hour before it starts to an hour after it ends.
LISTEN_MARGIN = timedelta(hours=1)
GUARDRAIL_KEYS = ("do", "dont", "sensitive_topics", "checklist")
MAX_LIST = 50
MAX_ITEM = 300


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "system"


def _builder(user) -> None:
    if not roles.has_role(user, BUILDERS):
        raise Forbidden("Only a producer, the lead or an admin can change playbooks.")


def _text(value, label: str, limit: int, *, required: bool = True) -> str:
    value = ("" if value is None else str(value)).replace("\x00", "").strip()
    if required and not value:
        raise InvalidInput(f"{label} is empty.")
    if len(value) > limit:
        raise InvalidInput(f"{label} is {len(value)} characters; the limit is {limit}.")
    return value


def _strings(values, label: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [line for part in values.splitlines() for line in part.split(",")] if label == "Hashtags" \
            else values.splitlines()
    if not isinstance(values, (list, tuple)):
        raise InvalidInput(f"{label} must be a list of words or lines.")
    cleaned = [_text(v, label, MAX_ITEM, required=False) for v in values]
    cleaned = [v for v in cleaned if v]
    if len(cleaned) > MAX_LIST:
        raise InvalidInput(f"{label} has {len(cleaned)} entries; the limit is {MAX_LIST}.")
    return cleaned


def zone(name: str) -> str:
    name = (name or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Time zone {name[:64]!r} is not a known IANA zone, e.g. America/New_York.") from None
    return name


def _window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at is None or ends_at is None:
        raise InvalidInput("Start and end: give both.")
    if ends_at <= starts_at:
        raise InvalidInput("End must be after the start.")


def guardrails_clean(value) -> dict:
    value = value or {}
    if not isinstance(value, dict):
        raise InvalidInput("Guardrails must be the do, dont, sensitive_topics and checklist lists.")
    labels = {"do": "Do", "dont": "Don't", "sensitive_topics": "Sensitive topics", "checklist": "Checklist"}
    return {key: _strings(value.get(key), labels[key]) for key in GUARDRAIL_KEYS}


def _accounts(account_ids) -> list[Account]:
    ids = [int(i) for i in account_ids or []]
    accounts = list(Account.objects.filter(id__in=ids, sandbox=False))
    if len(accounts) != len(set(ids)):
        raise InvalidInput("Accounts: choose the brand's accounts (sandbox accounts are for drills).")
    return accounts


# --- Building an event ------------------------------------------------------------------

@transaction.atomic
def event_create(*, user, name: str, starts_at: datetime, ends_at: datetime, time_zone: str = "UTC",
                 hashtags=None, account_ids=None, guardrails=None) -> Event:
    _builder(user)
    name = _text(name, "Name", 200)
    _window(starts_at, ends_at)
    if Event.objects.filter(name=name).exists():
        raise Conflict(f"An event named \u201c{name}\u201d already exists.")
    event = Event.objects.create(name=name, starts_at=starts_at, ends_at=ends_at, time_zone=zone(time_zone),
                                 hashtags=_strings(hashtags, "Hashtags"), guardrails=guardrails_clean(guardrails),
                                 created_by=user)
    event.accounts.set(_accounts(account_ids))
    audit.record(actor=user, action="event.create", obj=event)
    return event


@transaction.atomic
def event_update(*, user, event_id: int, name: str, starts_at: datetime, ends_at: datetime, time_zone: str,
                 hashtags=None, account_ids=None, guardrails=None) -> Event:
    _builder(user)
    event = Event.objects.select_for_update().get(id=event_id)
    name = _text(name, "Name", 200)
    _window(starts_at, ends_at)
    if Event.objects.filter(name=name).exclude(id=event.id).exists():
        raise Conflict(f"Another event is named \u201c{name}\u201d.")
    accounts = _accounts(account_ids)
    used = set(Post.objects.filter(variant__scenario__event=event).values_list("account_id", flat=True))
    missing = used - {a.id for a in accounts}
    if missing:
        names = ", ".join(str(a) for a in Account.objects.filter(id__in=missing))
        raise Conflict(f"Variants are written for {names}: keep the account or delete those variants first.")
    event.name, event.starts_at, event.ends_at, event.time_zone = name, starts_at, ends_at, zone(time_zone)
    event.hashtags, event.guardrails = _strings(hashtags, "Hashtags"), guardrails_clean(guardrails)
    event.save()
    event.accounts.set(accounts)
    audit.record(actor=user, action="event.update", obj=event)
    return event


@transaction.atomic
def contact_add(*, user, event_id: int, name: str, role: str = "", phone: str = "", email: str = "") -> Contact:
    _builder(user)
    event = Event.objects.select_for_update().get(id=event_id)
    phone = _text(phone, "Phone", 40, required=False)
    if phone and not all(c.isdigit() or c in "+-() ." for c in phone):
        raise InvalidInput("Phone: digits, spaces and + - ( ) only, e.g. +1 212 555 0100.")
    email = _text(email, "E-mail", 254, required=False)
    if email and "@" not in email:
        raise InvalidInput("E-mail must contain an @.")
    order = (event.contacts.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    contact = Contact.objects.create(event=event, name=_text(name, "Name", 120), role=_text(role, "Role", 120, required=False),
                                     phone=phone, email=email, order=order)
    audit.record(actor=user, action="event.contact_add", obj=event, details={"contact": contact.name})
    return contact


@transaction.atomic
def contact_remove(*, user, contact_id: int) -> None:
    _builder(user)
    contact = Contact.objects.select_related("event").get(id=contact_id)
    audit.record(actor=user, action="event.contact_remove", obj=contact.event, details={"contact": contact.name})
    contact.delete()


def _rule_for(trigger: str, rule_id) -> AlertRule | None:
    if trigger not in (Scenario.Trigger.RULE, Scenario.Trigger.SPIKE):
        return None
    rule = AlertRule.objects.filter(id=rule_id).first() if rule_id else None
    if rule is None:
        raise InvalidInput("Rule: choose the listening rule that triggers this scenario.")
    if trigger == Scenario.Trigger.SPIKE and rule.kind != AlertRule.Kind.SPIKE:
        raise InvalidInput(f"Rule \u201c{rule.name}\u201d is not a spike rule.")
    return rule


@transaction.atomic
def scenario_create(*, user, event_id: int, name: str, trigger: str = "manual", rule_id=None, keywords=None,
                    expires_minutes: int = 15) -> Scenario:
    _builder(user)
    event = Event.objects.select_for_update().get(id=event_id)
    name = _text(name, "Scenario name", 200)
    if trigger not in Scenario.Trigger.values:
        raise InvalidInput(f"Trigger must be one of: {', '.join(Scenario.Trigger.values)}.")
    keywords = _strings(keywords, "Keywords")
    if trigger == Scenario.Trigger.KEYWORDS and not keywords:
        raise InvalidInput("Keywords: give at least one word or phrase that tells the room it is happening.")
    if not isinstance(expires_minutes, int) or not 1 <= expires_minutes <= 24 * 60:
        raise InvalidInput("Expires after: between 1 and 1440 minutes.")
    if event.scenarios.filter(name=name).exists():
        raise Conflict(f"This event already has a scenario named \u201c{name}\u201d.")
    order = (event.scenarios.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    scenario = Scenario.objects.create(event=event, name=name, trigger=trigger, rule=_rule_for(trigger, rule_id),
                                       keywords=keywords, expires_minutes=expires_minutes, order=order)
    audit.record(actor=user, action="scenario.create", obj=scenario, details={"event": event.id, "trigger": trigger})
    return scenario


@transaction.atomic
def variant_create(*, user, scenario_id: int, account_id: int, text: str, media=None, label: str = "") -> Variant:
    """A draft variant (an approvals post with no time: it goes out when fired)."""
    _builder(user)
    scenario = Scenario.objects.select_for_update().select_related("event").get(id=scenario_id)
    if not scenario.event.accounts.filter(id=account_id).exists():
        raise InvalidInput("Account: choose one of this event's accounts.")
    post = approvals.post_create(author=user, account_id=account_id, text=text, media=media, fire_only=True)
    order = (scenario.variants.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    variant = Variant.objects.create(scenario=scenario, post=post, label=_text(label, "Label", 120, required=False),
                                     order=order)
    audit.record(actor=user, action="variant.create", obj=variant.post, details={"scenario": scenario.id})
    return variant


def sensitive_hits(event: Event, text: str) -> list[str]:
    folded = text.casefold()
    return [topic for topic in event.guardrails.get("sensitive_topics", []) if topic.casefold() in folded]


@transaction.atomic
def variant_submit(*, user, variant_id: int, checklist: dict[str, bool], override_reason: str = "") -> Variant:
    """Send a variant to legal. The author affirms approvals' three questions and the
    event's own checklist; a variant touching a sensitive topic needs a reason."""
    _builder(user)
    variant = Variant.objects.select_related("scenario__event", "post").get(id=variant_id)
    event = variant.scenario.event
    unticked = [q for q in event.guardrails.get("checklist", []) if not checklist.get(q)]
    if unticked:
        raise InvalidInput(f"Tick every item of the event's checklist before sending to legal: {unticked[0]}")
    override_reason = _text(override_reason, "Override reason", 500, required=False)
    hits = sensitive_hits(event, variant.post.text)
    if hits and not override_reason:
        raise InvalidInput(f"The text touches the event's sensitive topics ({', '.join(hits)}): edit it, or give a reason.")
    if hits:
        audit.record(actor=user, action="variant.sensitive_override", obj=variant.post,
                     details={"topics": hits, "reason": override_reason})
    approvals.post_submit(post_id=variant.post_id, user=user, checklist=checklist, override_reason=override_reason)
    variant.post.refresh_from_db()
    return variant


@transaction.atomic
def variant_follow_up_add(*, user, variant_id: int, text: str, likes: int, within_minutes: int = 60,
                          checklist: dict[str, bool], kind: str = "reply") -> Post:
    """Ride the wave: a reply to this variant, the next post of its thread, or a repost
    of it, prepared ahead and sent to legal for its exact content at once; it fires by
    itself, once, when the variant passes `likes` likes within `within_minutes` of going
    out (room/flows/engagement.py), never while paused."""
    _builder(user)
    variant = Variant.objects.select_related("post").get(id=variant_id)
    follow_up = approvals_engagement.follow_up_create(user=user, parent_post_id=variant.post_id, text=text,
                                                      likes=likes, within_minutes=within_minutes, kind=kind)
    return approvals.post_submit(post_id=follow_up.post_id, user=user, checklist=checklist)


@transaction.atomic
def variant_wrap_links(*, user, variant_id: int) -> Variant:
    """Put every URL of a variant behind the room's own short links, tagged with the
    account and this event (utm_campaign); an edit like any other, so it goes back to legal."""
    _builder(user)
    variant = Variant.objects.select_related("post", "scenario__event").get(id=variant_id)
    approvals_engagement.post_wrap_links(user=user, post_id=variant.post_id, campaign=variant.scenario.event.name)
    variant.post.refresh_from_db()
    return variant


@transaction.atomic
def variant_edit(*, user, variant_id: int, text: str, media=None) -> Variant:
    """Change a variant's content. If legal had answered or was asked, the approval is void
    and the variant goes back to legal as a new request (approvals.post_edit)."""
    _builder(user)
    variant = Variant.objects.select_related("post").get(id=variant_id)
    approvals.post_edit(post_id=variant.post_id, user=user, text=text, media=media)
    variant.post.refresh_from_db()
    return variant


@transaction.atomic
def moment_add(*, user, event_id: int, at: datetime, title: str, scenario_ids=()) -> Moment:
    _builder(user)
    event = Event.objects.select_for_update().get(id=event_id)
    if at is None:
        raise InvalidInput("Time: give the moment's date and time.")
    moment = Moment.objects.create(event=event, at=at, title=_text(title, "Moment", 200))
    scenarios = list(event.scenarios.filter(id__in=[int(i) for i in scenario_ids or []]))
    moment.scenarios.set(scenarios)
    audit.record(actor=user, action="event.moment_add", obj=event, details={"moment": moment.title})
    return moment


# --- Suggestions: listening hears a trigger ------------------------------------------------

def _listening_events(now: datetime) -> tuple[dict[int, Drill | None], bool]:
    """The events listening for their triggers now, each with its running drill (None when
    it is the real night)."""
    drills = {d.event_id: d for d in Drill.objects.filter(ended_at__isnull=True)}
    live_ids = set(Event.objects.filter(starts_at__lte=now + LISTEN_MARGIN, ends_at__gte=now - LISTEN_MARGIN)
                   .values_list("id", flat=True))
    return {**{i: None for i in live_ids}, **drills}, bool(drills or live_ids)


def scenarios_match_mentions(*, new_rows: list[tuple[int, dict]], now: datetime) -> list[Suggestion]:
    """Listening's ingest hook (inside its transaction): suggest every listening scenario a
    new mention triggers, by rule or by keyword."""
    events, any_live = _listening_events(now)
    if not any_live:
        return []
    scenarios = Scenario.objects.filter(event_id__in=list(events),
                                        trigger__in=[Scenario.Trigger.RULE, Scenario.Trigger.KEYWORDS])
    suggested = []
    for scenario in scenarios.select_related("event", "rule"):
        for mention_id, row in sorted(new_rows, key=lambda pair: pair[0]):
            reason = _matches(scenario, row)
            if reason:
                count = sum(1 for _, other in new_rows if _matches(scenario, other))
                suggested.append(_suggest(scenario=scenario, drill=events[scenario.event_id], reason=reason,
                                          mention_id=mention_id, triggered_at=row.get("received_at") or now,
                                          matches=count, now=now))
                break
    return suggested


def _matches(scenario: Scenario, row: dict) -> str:
    who = f"@{row.get('author_handle', '')}"
    if scenario.trigger == Scenario.Trigger.RULE:
        if scenario.rule_id in row.get("rule_ids", ()):
            return f"Rule \u201c{scenario.rule.name}\u201d matched {who}: {row.get('text', '')[:200]}"
        return ""
    folded = row.get("text", "").casefold()
    word = next((k for k in scenario.keywords if k.casefold() in folded), None)
    return f"\u201c{word}\u201d in {who}: {row.get('text', '')[:200]}" if word else ""


def scenarios_match_alert(*, alert, now: datetime) -> list[Suggestion]:
    """Listening's hook for a new spike alert (inside its transaction)."""
    events, any_live = _listening_events(now)
    if not any_live:
        return []
    scenarios = Scenario.objects.filter(event_id__in=list(events), trigger=Scenario.Trigger.SPIKE, rule_id=alert.rule_id)
    return [_suggest(scenario=s, drill=events[s.event_id], reason=alert.title[:500], alert_id=alert.id,
                     triggered_at=alert.opened_at, matches=alert.mention_count or 1, now=now)
            for s in scenarios.select_related("event")]


def _suggest(*, scenario: Scenario, drill: Drill | None, reason: str, triggered_at: datetime, matches: int,
             now: datetime, mention_id: int | None = None, alert_id: int | None = None, actor=None) -> Suggestion:
    Scenario.objects.select_for_update().filter(id=scenario.id).first()  # one open suggestion per scenario
    open_one = Suggestion.objects.filter(scenario=scenario, drill=drill, state=Suggestion.State.SUGGESTED).first()
    if open_one is not None and open_one.expires_at > now:
        Suggestion.objects.filter(id=open_one.id).update(matches=open_one.matches + matches)
        return open_one
    if open_one is not None:
        _expire(open_one, now)
    suggestion = Suggestion.objects.create(
        scenario=scenario, drill=drill, reason=reason[:500], mention_id=mention_id, alert_id=alert_id,
        triggered_at=triggered_at, suggested_at=timezone.now(), expires_at=now + timedelta(minutes=scenario.expires_minutes),
        matches=matches)
    audit.record(actor=actor, action="scenario.suggest", obj=scenario,
                 details={"suggestion": suggestion.id, "drill": drill.id if drill else None, "reason": reason[:300]})
    _publish("scenario.suggested", scenario, f"{'Drill: ' if drill else ''}Scenario suggested: {scenario.name}",
             actor, suggestion_id=suggestion.id, reason=suggestion.reason, drill=bool(drill))
    return suggestion


def _publish(kind: str, scenario: Scenario, summary: str, actor=None, **extra) -> None:
    live.publish(kind, audience=AUDIENCE, summary=summary, actor=_name(actor) if actor else "",
                 event_id=scenario.event_id, scenario_id=scenario.id, scenario=scenario.name, **extra)


def _expire(suggestion: Suggestion, now: datetime) -> None:
    suggestion.state, suggestion.decided_at = Suggestion.State.EXPIRED, now
    suggestion.save(update_fields=["state", "decided_at"])
    audit.record(actor=None, action="scenario.expire", obj=suggestion.scenario, details={"suggestion": suggestion.id})
    _publish("scenario.expired", suggestion.scenario, f"Suggestion expired: {suggestion.scenario.name}",
             suggestion_id=suggestion.id)


def suggestions_expire(*, now: datetime | None = None) -> int:
    """Suggestions nobody acted on in time expire (beat runs it; safe to run twice)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Suggestion.objects.select_for_update(skip_locked=True).select_related("scenario").filter(
            state=Suggestion.State.SUGGESTED, expires_at__lte=now)
        count = 0
        for suggestion in due:
            _expire(suggestion, now)
            count += 1
    return count


@transaction.atomic
def scenario_suggest_manually(*, user, scenario_id: int) -> Suggestion:
    """Someone in the room says it is happening: light the scenario up for everyone."""
    if not roles.has_role(user, FIRERS):
        raise Forbidden("Only a producer, the lead or an admin can call a scenario.")
    scenario = Scenario.objects.select_related("event").get(id=scenario_id)
    drill = Drill.objects.filter(event_id=scenario.event_id, ended_at__isnull=True).first()
    now = timezone.now()
    return _suggest(scenario=scenario, drill=drill, reason=f"Called by {_name(user)}", triggered_at=now, matches=1, now=now,
                    actor=user)


@transaction.atomic
def suggestion_skip(*, user, suggestion_id: int, note: str = "") -> Suggestion:
    if not roles.has_role(user, FIRERS):
        raise Forbidden("Only a producer, the lead or an admin can skip a scenario.")
    suggestion = Suggestion.objects.select_for_update().select_related("scenario").get(id=suggestion_id)
    if suggestion.state != Suggestion.State.SUGGESTED:
        raise Conflict(f"This suggestion is already {suggestion.get_state_display().lower()}.")
    suggestion.state, suggestion.decided_by, suggestion.decided_at = Suggestion.State.SKIPPED, user, timezone.now()
    suggestion.note = _text(note, "Note", 500, required=False)
    suggestion.save()
    audit.record(actor=user, action="scenario.skip", obj=suggestion.scenario,
                 details={"suggestion": suggestion.id, "note": suggestion.note})
    _publish("scenario.skipped", suggestion.scenario, f"Skipped: {suggestion.scenario.name}", user,
             suggestion_id=suggestion.id)
    return suggestion


# --- Firing -------------------------------------------------------------------------------

def _pause_refusal() -> None:
    queue = approvals.queue_state()
    if queue.paused:
        since = f" since {queue.paused_at:%H:%M} UTC" if queue.paused_at else ""
        raise Conflict(f"Not fired: the outgoing queue is paused{since} \u2014 {queue.reason}")


@transaction.atomic
def variant_fire(*, user, variant_id: int, suggestion_id: int | None = None) -> Firing:
    """Fire a variant: at once, exactly once, unless the queue is paused. In a running drill
    it goes to the drill's sandbox account instead, never to the brand's."""
    if not roles.has_role(user, FIRERS):
        raise Forbidden("Only a producer, the lead or an admin can fire a scenario.")
    variant = Variant.objects.select_related("scenario__event", "post").get(id=variant_id)
    scenario = variant.scenario
    Scenario.objects.select_for_update().filter(id=scenario.id).first()
    _pause_refusal()
    drill = Drill.objects.filter(event_id=scenario.event_id, ended_at__isnull=True).first()
    post = Post.objects.select_for_update().get(id=variant.post_id)
    if post.state != Post.State.APPROVED or post.approved_hash != post.content_hash():
        if post.state in (Post.State.SCHEDULED, Post.State.PUBLISHING, Post.State.PUBLISHED) and drill is None:
            raise Conflict(f"Already fired: this variant is {post.get_state_display().lower()}.")
        raise Conflict(f"Not fired: legal has not approved this exact text (it is {post.get_state_display().lower()}).")
    if Firing.objects.filter(variant=variant, drill=drill).exists():
        raise Conflict("Already fired" + (" in this drill." if drill else "."))
    suggestion = _open_suggestion(scenario, drill, suggestion_id)
    now = timezone.now()
    firing = Firing.objects.create(variant=variant, suggestion=suggestion, drill=drill, fired_by=user, fired_at=now,
                                   sandbox_account=drill.sandbox_account if drill else None)
    if suggestion is not None:
        suggestion.state, suggestion.decided_by, suggestion.decided_at = Suggestion.State.FIRED, user, now
        suggestion.save()
    if drill is None:
        approvals.post_schedule(post_id=post.id, user=user, publish_at=now, firing=True)
        post_publish_task.delay_on_commit(post.id)
    else:
        tasks.drill_publish.delay_on_commit(firing.id)
    audit.record(actor=user, action="scenario.fire", obj=scenario,
                 details={"variant": variant.id, "post": post.id, "drill": drill.id if drill else None,
                          "suggestion": suggestion.id if suggestion else None})
    where = f"the sandbox {drill.sandbox_account}" if drill else str(post.account)
    _publish("scenario.fired", scenario, f"{'Drill: ' if drill else ''}Fired \u201c{scenario.name}\u201d on {where}",
             user, variant_id=variant.id, firing_id=firing.id, drill=bool(drill))
    return firing


def _open_suggestion(scenario: Scenario, drill: Drill | None, suggestion_id: int | None) -> Suggestion | None:
    suggestions = Suggestion.objects.select_for_update().filter(scenario=scenario, drill=drill,
                                                                state=Suggestion.State.SUGGESTED)
    if suggestion_id:
        suggestions = suggestions.filter(id=suggestion_id)
    return suggestions.order_by("-suggested_at").first()


def drill_publish(*, firing_id: int) -> str:
    """Send a drill firing to the sandbox account, at most once (the task may run twice)."""
    with transaction.atomic():
        firing = (Firing.objects.select_for_update(of=("self",)).select_related("variant__post", "sandbox_account")
                  .filter(id=firing_id).first())
        if firing is None:
            return "gone"
        if firing.sent_at is not None:
            return "done"
        if firing.drill_id is None or firing.sandbox_account is None or not firing.sandbox_account.sandbox:
            firing.error = "Not a drill firing to a sandbox account: nothing sent."
            firing.sent_at = timezone.now()
            firing.save()
            return "refused"
        firing.sent_at = timezone.now()
        firing.save(update_fields=["sent_at"])
    try:
        channel = approvals.account_channel(firing.sandbox_account)
        approvals.channel_guard(channel)
        platform_id = registry.module(channel.network).publish(channel, firing.variant.post.text).id
    except AdapterError as error:
        Firing.objects.filter(id=firing.id).update(error=str(error)[:500])
        return "failed"
    Firing.objects.filter(id=firing.id).update(platform_id=platform_id, published_at=timezone.now())
    return "published"


# --- Drills -------------------------------------------------------------------------------

@transaction.atomic
def drill_start(*, user, event_id: int, sandbox_account_id: int, replay_speed: float | None = None) -> Drill:
    """Rehearse an event: until the drill ends, its triggers suggest as on the night and a
    fire goes to the sandbox account. With `replay_speed`, a demo replay of a Super Bowl
    night (listening's demo source) starts at that speed and stops with the drill."""
    if not roles.has_role(user, FIRERS):
        raise Forbidden("Only a producer, the lead or an admin can run a drill.")
    event = Event.objects.select_for_update().get(id=event_id)
    now = timezone.now()
    if event.starts_at - LISTEN_MARGIN <= now <= event.ends_at + LISTEN_MARGIN:
        raise Conflict("The event is live: drills rehearse before it, never during it.")
    if event.drills.filter(ended_at__isnull=True).exists():
        raise Conflict("A drill of this event is already running.")
    account = Account.objects.filter(id=sandbox_account_id, sandbox=True).first()
    if account is None:
        raise InvalidInput("Sandbox account: choose a sandbox account; drills never post to a real one.")
    replay = None
    if replay_speed is not None:
        low, high = demo.SPEED_RANGE
        if not isinstance(replay_speed, (int, float)) or not low <= replay_speed <= high:
            raise InvalidInput(f"Replay speed: between {low:g} and {high:g} times real time.")
        replay = listening.source_create(user=user, name=f"Drill replay: {event.name}"[:120], kind="demo",
                                         query_text=f"speed={replay_speed:g} pause=86400", poll_interval=5)
    drill = Drill.objects.create(event=event, sandbox_account=account, started_by=user, started_at=now,
                                 replay_source=replay)
    audit.record(actor=user, action="drill.start", obj=event,
                 details={"drill": drill.id, "sandbox": account.id, "replay": replay.id if replay else None})
    live.publish("drill.started", audience=AUDIENCE, summary=f"Drill started: {event.name}", actor=_name(user),
                 event_id=event.id, drill_id=drill.id)
    return drill


@transaction.atomic
def drill_stop(*, user, drill_id: int) -> Drill:
    if not roles.has_role(user, FIRERS):
        raise Forbidden("Only a producer, the lead or an admin can end a drill.")
    drill = Drill.objects.select_for_update().select_related("event").get(id=drill_id)
    if drill.ended_at is not None:
        raise Conflict("This drill has already ended.")
    drill.ended_at = timezone.now()
    drill.save()
    if drill.replay_source_id:
        listening.source_set_enabled(source_id=drill.replay_source_id, user=user, enabled=False)
    drill.suggestions.filter(state=Suggestion.State.SUGGESTED).update(state=Suggestion.State.EXPIRED,
                                                                      decided_at=drill.ended_at)
    audit.record(actor=user, action="drill.stop", obj=drill.event, details={"drill": drill.id})
    live.publish("drill.ended", audience=AUDIENCE, summary=f"Drill ended: {drill.event.name}", actor=_name(user),
                 event_id=drill.event_id, drill_id=drill.id)
    return drill
