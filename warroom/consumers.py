"""The room socket: one per open page. It refuses anonymous users and users without a
role, joins the user's groups, replays what the page missed, then relays live events."""

import asyncio
import json
import logging
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import live, presence, roles

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_MESSAGE = 4400
MAX_CLIENT_MESSAGE = 1000
logger = logging.getLogger(__name__)
# The periodic sweep looks only at events at least this old: younger ones are still on
# their way through the hub, and re-sending them from the table would double the work of
# a server that is already busy.
SETTLE = timedelta(seconds=1)


class Hub:
    """The room's pushes for this process: one channel-layer channel per group that any
    socket here is in, read once, each push handed straight to the sockets of that group.

    Left to Channels, every socket reads its own channel: at 200 sockets x 20 events a
    second that is 4,000 queue hand-offs and task wake-ups a second before anything is
    written, and the web process falls behind. One hub per event loop (daphne runs one)."""

    _hubs: dict[asyncio.AbstractEventLoop, "Hub"] = {}

    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, set] = {}
        self.readers: dict[str, asyncio.Task] = {}
        self.joined: dict[str, asyncio.Future] = {}

    @classmethod
    def of(cls, layer) -> "Hub":
        loop = asyncio.get_running_loop()
        hub = cls._hubs.get(loop)
        if hub is None or hub.layer is not layer:
            hub = cls._hubs[loop] = cls(layer)
        return hub

    async def join(self, group: str, consumer) -> None:
        self.members.setdefault(group, set()).add(consumer)
        if group not in self.joined:  # the first socket here in this group subscribes for all of them
            future = self.joined[group] = asyncio.get_running_loop().create_future()
            try:
                channel = await self.layer.new_channel(prefix="hub.")
                await self.layer.group_add(group, channel)
            except BaseException:
                self.joined.pop(group, None)
                future.cancel()  # sockets waiting on it fail to connect, and their pages retry
                raise
            future.set_result(channel)
            if self.joined.get(group) is not future:  # every socket here left while this one subscribed
                await self.layer.group_discard(group, channel)
                return
            self.readers[group] = asyncio.create_task(self._read(group, channel))
        await asyncio.shield(self.joined[group])  # later sockets wait until the subscription stands

    async def leave(self, group: str, consumer) -> None:
        members = self.members.get(group, set())
        members.discard(consumer)
        if members or group not in self.joined:
            return
        joined = self.joined.pop(group)
        del self.members[group]
        reader = self.readers.pop(group, None)
        if reader:
            reader.cancel()
        if joined.done():
            await self.layer.group_discard(group, joined.result())

    async def _read(self, group: str, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            if message.get("type") != "live.event":
                continue
            for consumer in list(self.members.get(group, ())):
                try:
                    await consumer.live_event(message)
                except Exception:  # noqa: BLE001 - one socket going away must not stop the others' pushes
                    logger.debug("push to a closing socket failed", exc_info=True)


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        held = await database_sync_to_async(roles.roles_of)(user)
        if not held:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.live_groups = live.groups_for(user_id=user.id, held_roles=held)
        self.verified: int | None = None  # every event up to here has been sent
        self.sent: set[int] = set()  # ids above `verified` already sent
        self.early: list[dict] = []  # pushes that arrived before the page said where it was
        self.sync_task: asyncio.Task | None = None
        hub = Hub.of(self.channel_layer)
        for group in self.live_groups:
            await hub.join(group, self)
        await self.accept()

    async def disconnect(self, code):
        if self.sync_task:
            self.sync_task.cancel()
        await presence.socket_left(self)
        hub = Hub.of(self.channel_layer)
        for group in getattr(self, "live_groups", []):
            await hub.leave(group, self)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE:
                raise ValueError
            message = json.loads(text_data)
            kind = message["type"]
            after = int(message.get("after", 0))
            if after < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        if kind == "hello" and self.verified is None:
            await self.catch_up(after)
            self.sync_task = asyncio.create_task(self.keep_in_sync())
            if isinstance(message.get("page"), str):  # pages say where they are; other clients are not people
                await presence.socket_entered(self, message["page"])

    async def catch_up(self, after: int) -> None:
        """Send everything after `after` that this user may see, then the pushes that
        arrived meanwhile, each once and in id order."""
        result = await database_sync_to_async(live.replay)(after=after, groups=self.live_groups)
        if result.overflow:
            await self.send("<!--live reload-->")
        for event_id, html in result.messages:
            await self.send(html)
        self.verified = result.up_to
        early, self.early = sorted(self.early, key=lambda m: m["id"]), []
        for message in early:
            await self.live_event(message)
        await self.send(f"<!--live verified={self.verified}-->")

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a hop to the
        # shared database thread; relaying a push touches no database, and at 200 sockets
        # x 20 events/s those hops were the web process's bottleneck.
        if message["type"] == "live.event":
            await self.live_event(message)
            return
        await super().dispatch(message)

    async def live_event(self, message: dict) -> None:
        if self.verified is None:
            self.early.append(message)
            return
        event_id = message["id"]
        if event_id <= self.verified or event_id in self.sent:
            return
        self.sent.add(event_id)
        await self.send(message["html"])

    async def keep_in_sync(self) -> None:
        """channels-redis drops pushes to a channel over capacity: every few seconds, send
        what the table holds that this socket has not sent, and advance the watermark."""
        while True:
            await asyncio.sleep(settings.LIVE_SYNC_SECONDS)
            # Off the shared database thread: 200 sockets' sweeps must not queue behind each other.
            result = await database_sync_to_async(live.replay, thread_sensitive=False)(
                after=self.verified, groups=self.live_groups, skip=set(self.sent), settled=SETTLE
            )
            if result.overflow:
                await self.send("<!--live reload-->")
                return
            for event_id, html in result.messages:
                if event_id not in self.sent:
                    self.sent.add(event_id)
                    await self.send(html)
            if result.up_to > self.verified:
                self.verified = result.up_to
                self.sent = {event_id for event_id in self.sent if event_id > self.verified}
                await self.send(f"<!--live verified={self.verified}-->")
