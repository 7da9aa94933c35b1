"""Who is in the room: one entry per open socket (who, their role, the page they are on),
kept in Redis with an expiry the socket refreshes. Closing a tab removes its entry at
once; a socket whose process died expires within PRESENCE_SECONDS. Every change is
pushed to the room as the ephemeral live event `room.presence` (never replayed: a page
that reconnects renders the current list instead)."""

import asyncio
import json
import time

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.urls import Resolver404, resolve

from warroom import live, roles

MAX_PAGE = 200
MAX_LISTED = 100
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return _client


def _keys() -> tuple[str, str]:
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "warroom")
    return f"{prefix}:presence:expiry", f"{prefix}:presence:who"


def page_label(path: str) -> str:
    """What a person is looking at, named as the navigation names it."""
    try:
        name = resolve(path).url_name or ""
    except Resolver404:
        return "elsewhere"
    labels = {name: label for name, label, _ in roles.NAVIGATION}
    labels.update({"topics": "Story arcs", "topic": "Story arcs", "notification_settings": "Notifications"})
    return labels.get(name, name.replace("_", " ") or "elsewhere")


def presence_list(*, now: float | None = None) -> list[dict]:
    """Everyone connected now, one entry per person with the pages they have open, by name."""
    now = now or time.time()
    expiry, who = _keys()
    client = _redis()
    channels = client.zrangebyscore(expiry, now, "+inf")
    people: dict[int, dict] = {}
    if channels:
        for raw in client.hmget(who, channels):
            if raw is None:
                continue
            entry = json.loads(raw)
            person = people.setdefault(entry["uid"], {"uid": entry["uid"], "name": entry["name"], "role": entry["role"], "pages": []})
            if entry["page"] not in person["pages"]:
                person["pages"].append(entry["page"])
    listed = sorted(people.values(), key=lambda p: (p["name"].lower(), p["uid"]))
    return listed[:MAX_LISTED]


def present_user_ids() -> set[int]:
    return {person["uid"] for person in presence_list()}


def _publish() -> None:
    """Push the list as it is now. It is read under the live layer's allocation lock, so
    a later event id always carries a later list (pages drop a push older than the list
    they show: see static/wall/presence.js)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [live.ALLOCATION_LOCK])
        present = presence_list()
        names = ", ".join(p["name"] for p in present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
        live.publish("room.presence", summary=f"In the room: {names or 'nobody'}", present=present)


def _prune(now: float) -> bool:
    """Drop entries whose socket stopped refreshing; True when any were dropped."""
    expiry, who = _keys()
    client = _redis()
    stale = client.zrangebyscore(expiry, "-inf", now)
    if not stale:
        return False
    pipe = client.pipeline()
    pipe.zrem(expiry, *stale)
    pipe.hdel(who, *stale)
    pipe.execute()
    return True


def presence_enter(*, channel: str, user, page: str) -> None:
    now = time.time()
    expiry, who = _keys()
    before = presence_list(now=now)
    entry = {"uid": user.id, "name": (user.get_full_name() or user.get_username())[:150],
             "role": roles.primary_role(user) or "", "page": page_label(page[:MAX_PAGE])}
    pipe = _redis().pipeline()
    pipe.hset(who, channel, json.dumps(entry))
    pipe.zadd(expiry, {channel: now + settings.PRESENCE_SECONDS})
    pipe.execute()
    _prune(now)
    if presence_list(now=now) != before:
        _publish()


def presence_refresh(*, channel: str) -> None:
    """The socket is still open: keep its entry, and drop any that expired meanwhile."""
    now = time.time()
    expiry, _ = _keys()
    _redis().zadd(expiry, {channel: now + settings.PRESENCE_SECONDS}, xx=True)
    if _prune(now):
        _publish()


def presence_leave(*, channel: str) -> None:
    now = time.time()
    expiry, who = _keys()
    before = presence_list(now=now)
    pipe = _redis().pipeline()
    pipe.zrem(expiry, channel)
    pipe.hdel(who, channel)
    pipe.execute()
    if presence_list(now=now) != before:
        _publish()


# --- The socket's side: called by warroom.consumers.RoomConsumer --------------------------

async def socket_entered(consumer, page: str) -> None:
    """Record the socket and keep refreshing it while it is open."""
    if getattr(consumer, "_presence_task", None) is not None:
        return
    await database_sync_to_async(presence_enter)(channel=consumer.channel_name, user=consumer.scope["user"], page=page)

    async def refresh() -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_SECONDS / 3)
            await database_sync_to_async(presence_refresh)(channel=consumer.channel_name)

    consumer._presence_task = asyncio.create_task(refresh())


async def socket_left(consumer) -> None:
    task = getattr(consumer, "_presence_task", None)
    if task is None:
        return
    task.cancel()
    consumer._presence_task = None
    await database_sync_to_async(presence_leave)(channel=consumer.channel_name)
