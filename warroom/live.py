"""The live layer: the one place that pushes state changes to browsers.

Services call `publish(kind, audience=..., **payload)` inside their transaction. The event
is stored with an id from a PostgreSQL sequence, allocated under a transaction-level
advisory lock so that ids are handed out in commit order: once id N is visible, every
event with a smaller id has committed or rolled back. After commit the event is rendered
once and `group_send` to each audience group. Browsers replay what they missed from the
table (see `replay`), so nothing relies on every push arriving.

Every event payload carries `summary` (plain text, escaped when rendered) and `actor`.
A kind may add its own template `live/<kind>.html` that swaps other parts of the page.

An app above the core that reacts to a kind after it commits subscribes in its
`AppConfig.ready()` with `on_commit(kind, receiver)` (the Wall's notices to people on
deck, see wall/apps.py): this module imports no app.
"""

import asyncio
import atexit
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.template.loader import render_to_string, select_template
from django.utils import timezone

from . import roles
from .models import LiveEvent, LiveGroup

# pg_advisory_xact_lock key that serializes event allocation ("WARR" in ASCII).
ALLOCATION_LOCK = 0x57415252
logger = logging.getLogger(__name__)
ROOM = "room"
# Pushed live but never replayed nor listed: "who is looking at this case" is stale once missed.
EPHEMERAL = ("case.presence", "room.presence")
SUMMARY_LIMIT = 500
# kind -> what runs after an event of that kind commits; filled by on_commit at start-up.
_subscribers: dict[str, list[Callable[[LiveEvent], None]]] = {}


def role_group(role: str) -> str:
    return f"role.{roles.slug(role)}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def groups_for(*, user_id: int, held_roles: Iterable[str]) -> list[str]:
    """The groups a signed-in user's socket joins: the room, each role held, and their own."""
    return [ROOM, *sorted(role_group(role) for role in held_roles), user_group(user_id)]


@dataclass(frozen=True)
class Group:
    """How an event counts into a group of its like: `key` says which events are alike
    (with the kind and the audience's role groups), `one` and `many` name them after a
    count, `link` is the filtered list that shows them all."""

    key: str
    one: str
    many: str
    link: str = ""


def _grouped(kind: str, audience: list[str], group: Group) -> LiveGroup | None:
    """The open group this event joins (or a new one), counted; called under the
    allocation lock, so two events never open two groups for one key."""
    seconds = settings.LIVE_GROUP_SECONDS
    if seconds <= 0:
        return None
    # The assignee's own group would split a burst per person; the roles see the group.
    shared = [g for g in audience if not g.startswith("user.")] or audience
    now = timezone.now()
    key = f"{kind}:{group.key}"[:120]
    row = (LiveGroup.objects.select_for_update().filter(key=key, audience=shared, closes_at__gt=now)
           .order_by("-id").first())
    if row is None:
        row = LiveGroup(key=key, kind=kind, audience=shared, one=group.one[:200], many=group.many[:200],
                        link=group.link[:300], opened_at=now, closes_at=now + timedelta(seconds=seconds))
    row.count += 1
    return row


def group_payload(row: LiveGroup) -> dict:
    return {"id": row.id, "count": row.count, "summary": row.summary(), "link": row.link,
            "since": row.opened_at.isoformat(), "until": row.closes_at.isoformat(), "first": row.count == 1,
            "seconds": int((row.closes_at - row.opened_at).total_seconds())}


def publish(kind: str, *, audience: Iterable[str] = (ROOM,), summary: str, actor: str = "", group: Group | None = None,
            **payload) -> LiveEvent:
    """Store a live event and push it to `audience` after the surrounding transaction
    commits. With `group`, the event also counts into the open group of its like (see
    LiveGroup): its rail item is the group's, re-rendered with the new count."""
    audience = sorted(set(audience))
    if not audience:
        raise ValueError("a live event needs at least one audience group")
    # No savepoint: inside a caller's transaction this is part of it (an ingest batch
    # publishing fifty events would otherwise pay a hundred savepoint round trips).
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ALLOCATION_LOCK])
        row = _grouped(kind, audience, group) if group is not None else None
        if row is not None and row.id is None:
            row.save()
        event = LiveEvent.objects.create(
            kind=kind,
            audience=audience,
            payload={"summary": summary[:SUMMARY_LIMIT], "actor": actor, **payload,
                     **({"group": group_payload(row)} if row is not None else {})},
            group_id=row.id if row is not None else None,
        )
        if row is not None:
            row.first_event_id = row.first_event_id or event.id
            row.last_event_id = event.id
            row.save(update_fields=["count", "first_event_id", "last_event_id"])
        transaction.on_commit(partial(_send, event))
        for receiver in _subscribers.get(kind, ()):
            transaction.on_commit(partial(receiver, event))
    return event


@dataclass
class Pending:
    """One event of a batch for `publish_many`: what `publish` takes, as a value."""

    kind: str
    audience: Iterable[str]
    summary: str
    actor: str = ""
    payload: dict | None = None
    group: Group | None = None


def publish_many(events: list[Pending]) -> list[LiveEvent]:
    """Store several events in one INSERT under one take of the allocation lock (an ingest
    batch opening fifty cases), each pushed after commit like `publish`'s, in order. Events
    with a `group` count into it as `publish`'s do: the batch looks each group up once."""
    if not events:
        return []
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ALLOCATION_LOCK])
        rows, groups = [], {}
        for pending in events:
            audience = sorted(set(pending.audience))
            if not audience:
                raise ValueError("a live event needs at least one audience group")
            row = None
            if pending.group is not None:
                alike = (pending.kind, tuple(g for g in audience if not g.startswith("user.")) or tuple(audience),
                         pending.group.key)
                if alike in groups:
                    row = groups[alike]
                    if row is not None:
                        row.count += 1
                else:
                    row = groups[alike] = _grouped(pending.kind, audience, pending.group)
                    if row is not None and row.id is None:
                        row.save()
            rows.append(LiveEvent(kind=pending.kind, audience=audience, group_id=row.id if row is not None else None,
                                  payload={"summary": pending.summary[:SUMMARY_LIMIT], "actor": pending.actor,
                                           **(pending.payload or {}),
                                           **({"group": group_payload(row)} if row is not None else {})}))
        stored = LiveEvent.objects.bulk_create(rows)
        for row in groups.values():
            if row is None:
                continue
            mine = [event.id for event in stored if event.group_id == row.id]
            row.first_event_id = row.first_event_id or mine[0]
            row.last_event_id = mine[-1]
            row.save(update_fields=["count", "first_event_id", "last_event_id"])
        for event in stored:
            transaction.on_commit(partial(_send, event))
            for receiver in _subscribers.get(event.kind, ()):
                transaction.on_commit(partial(receiver, event))
    return stored


def on_commit(kind: str, receiver: Callable[[LiveEvent], None]) -> None:
    """After each event of `kind` commits, call `receiver(event)` (after its push is handed
    to the sender). Called from an app's `AppConfig.ready()`, once per kind; subscribing
    the same receiver again changes nothing."""
    receivers = _subscribers.setdefault(kind, [])
    if receiver not in receivers:
        receivers.append(receiver)


_rendered: "OrderedDict[tuple, str]" = OrderedDict()
_rendered_lock = threading.Lock()
RENDERED_KEEP = 2000


def render(event: LiveEvent) -> str:
    """The htmx message for one event: an id marker the page reads, then out-of-band swaps.
    An event never changes, so its message is kept (the newest few thousand, per process):
    a catch-up or a sweep on many sockets renders each event once."""
    key = (event.id, event.created_at)  # an id alone could come back after a database reset
    with _rendered_lock:
        html = _rendered.get(key)
    if html is None:
        template = select_template([f"live/{event.kind}.html", "live/_default.html"])
        html = f"<!--live id={event.id}-->" + template.render({"event": event, "p": event.payload})
        with _rendered_lock:
            _rendered[key] = html
            while len(_rendered) > RENDERED_KEEP:
                _rendered.popitem(last=False)
    return html


def render_row(event: LiveEvent) -> str:
    return render_to_string("live/_row.html", {"event": event, "p": event.payload})


_sender: tuple[int, asyncio.AbstractEventLoop, asyncio.Queue] | None = None
_sender_lock = threading.Lock()
DRAIN_SECONDS = 10


def _sender_loop() -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
    """One event loop per process, on its own thread, for every push this process sends,
    in commit order. channels-redis keeps its Redis connections per event loop: a fresh
    loop per event (async_to_sync) would open new connections for every push. Made again
    after a fork."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            queue: asyncio.Queue = asyncio.Queue()
            threading.Thread(target=loop.run_forever, name="live-sender", daemon=True).start()
            asyncio.run_coroutine_threadsafe(_sender_work(queue), loop)
            _sender = (os.getpid(), loop, queue)
        return _sender[1], _sender[2]


async def _sender_work(queue: asyncio.Queue) -> None:
    layer = get_channel_layer()
    while True:
        item = await queue.get()
        try:
            if isinstance(item, LiveEvent):
                groups, message = item.audience, {"type": "live.event", "id": item.id, "html": render(item)}
            else:
                groups, message = item
            await asyncio.gather(*(layer.group_send(group, message) for group in groups))
        except Exception:  # noqa: BLE001 - events are stored and sockets re-check access: the periodic sweep covers it
            logger.exception("could not push %s", item)
        finally:
            queue.task_done()


def _send(item: LiveEvent | tuple[list[str], dict]) -> None:
    """Hand the event to this process's sender and return: the transaction that made it
    (an ingest batch opening fifty cases, say) does not wait for fifty Redis round trips."""
    loop, queue = _sender_loop()
    loop.call_soon_threadsafe(queue.put_nowait, item)


def control(*, groups: Iterable[str], message: dict) -> None:
    """Tell the sockets in `groups` something that is not an event (a socket must close,
    say): never stored nor replayed, sent after the surrounding transaction commits, in
    order with the events. Pub/sub may drop it; what it says must also be found by the
    sockets' own periodic checks."""
    transaction.on_commit(partial(_send, (sorted(set(groups)), message)))


@atexit.register
def _drain() -> None:
    """A process that exits (a management command, a worker shutting down) sends what it queued first."""
    if _sender is None or _sender[0] != os.getpid():
        return
    loop, queue = _sender[1], _sender[2]
    try:
        asyncio.run_coroutine_threadsafe(queue.join(), loop).result(timeout=DRAIN_SECONDS)
    except Exception:  # noqa: BLE001 - at exit, a push not sent is caught up by the pages' sweep
        pass


def latest_id() -> int:
    """The newest committed event id: a page rendered now reflects everything up to it."""
    return LiveEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def recent(*, groups: list[str], up_to: int, limit: int = 30) -> list[LiveEvent]:
    """The newest events a user may see, for the activity rail of a page render."""
    events = LiveEvent.objects.filter(id__lte=up_to, audience__overlap=groups).exclude(kind__in=EPHEMERAL)
    # A group shows once, as its newest event up to the watermark (which carries its count).
    newest_in_group = (LiveEvent.objects.filter(group_id=OuterRef("group_id"), id__lte=up_to,
                                                audience__overlap=groups).order_by("-id").values("id")[:1])
    events = events.filter(Q(group_id__isnull=True) | Q(id=Subquery(newest_in_group)))
    return list(events.order_by("-id")[:limit])


@dataclass
class Replay:
    messages: list[tuple[int, str]]  # (event id, rendered message), oldest first
    up_to: int  # every event this user may see with an id up to here is in `messages` or in `skip`
    overflow: bool  # more than the replay limit were missed: the page should reload


def replay(*, after: int, groups: list[str], skip: Iterable[int] = (), settled: timedelta | None = None) -> Replay:
    """What a socket missed after event `after`, rendered, oldest first. With `settled`,
    only events at least that old count (and `up_to` stops before the first younger one):
    the periodic sweep leaves the newest to the pushes still under way."""
    top = latest_id()
    if settled is not None:
        young = LiveEvent.objects.filter(id__gt=after, id__lte=top, created_at__gt=timezone.now() - settled)
        first_young = young.order_by("id").values_list("id", flat=True).first()
        if first_young is not None:
            top = first_young - 1
    skip = set(skip)
    limit = settings.LIVE_REPLAY_LIMIT
    visible = (LiveEvent.objects.filter(id__gt=after, id__lte=top, audience__overlap=groups)
               .exclude(kind__in=EPHEMERAL).order_by("id"))
    ids = list(visible.values_list("id", flat=True)[: limit + 1])
    if len(ids) > limit:
        return Replay(messages=[], up_to=top, overflow=True)
    wanted = [event_id for event_id in ids if event_id not in skip]
    events = LiveEvent.objects.filter(id__in=wanted).order_by("id") if wanted else []
    return Replay(messages=[(event.id, render(event)) for event in events], up_to=max(top, after), overflow=False)
