"""The room socket: one per open page. It refuses anonymous users and users without a
role, joins the user's groups, replays what the page missed, then relays live events,
until the user's right to read ends (see warroom.sessions)."""

import asyncio
import json
import logging
import random
from collections import deque
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import live, presence, roles, sessions, twofactor

# Close codes the page reads (static/warroom/live.js). A refusal is sent after accepting:
# a socket closed before its handshake completes reaches the browser as a bare 1006.
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHENTICATED = 4401  # no valid session: the page shows "signed out"
CLOSE_FORBIDDEN = 4403  # signed in without a role
CLOSE_HELLO_TIMEOUT = 4408  # the page did not say hello in time: it reconnects
CLOSE_ACCESS_CHANGED = 4409  # password, activation, groups or session changed: the page reconnects and its connect decides
CLOSE_SIGNED_OUT = 4410  # this socket's session signed out: the page shows "signed out"
CLOSE_TOO_MANY = 4429  # the user holds LIVE_SOCKETS_PER_USER sockets already
CLOSE_TRY_AGAIN = 1013  # the sync could not re-check the session: the page retries with its backoff
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
            kind = message.get("type")
            if kind not in ("live.event", sessions.ACCESS):
                continue
            for consumer in list(self.members.get(group, ())):
                try:
                    if kind == "live.event":
                        await consumer.live_event(message)
                    else:
                        consumer.access_changed(message)
                except Exception:  # noqa: BLE001 - one socket going away must not stop the others' pushes
                    logger.debug("push to a closing socket failed", exc_info=True)


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.live_groups: list[str] = []
        self.claimed = False
        self.ended = False
        self.hello_task: asyncio.Task | None = None
        self.sync_task: asyncio.Task | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(twofactor.session_passes)(user, self.scope["session"]):
            await self.refuse(CLOSE_UNAUTHENTICATED)  # the second factor is still to come
            return
        self.held = await database_sync_to_async(roles.roles_of)(user)
        if not self.held:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.session_key = self.scope["session"].session_key
        self.session_tag = sessions.session_tag(self.session_key)
        self.claimed = await database_sync_to_async(sessions.socket_claim, thread_sensitive=False)(
            user_id=user.id, channel=self.channel_name
        )
        if not self.claimed:
            await self.refuse(CLOSE_TOO_MANY)
            return
        self.live_groups = live.groups_for(user_id=user.id, held_roles=self.held)
        self.verified: int | None = None  # every event up to here has been sent
        self.sent: set[int] = set()  # ids above `verified` already sent
        # Pushes that arrived before the page said where it was. Bounded: what falls out
        # is in the event table, and the periodic sweep sends it.
        self.early: deque[dict] = deque(maxlen=settings.LIVE_EARLY_LIMIT)
        hub = Hub.of(self.channel_layer)
        for group in self.live_groups:
            await hub.join(group, self)
        await self.accept()
        self.hello_task = asyncio.create_task(self.expect_hello())

    async def refuse(self, code: int) -> None:
        await self.accept()
        self.end(code)

    def end(self, code: int) -> None:
        """Stop relaying at once, then close with `code` (the page reads it). The closing
        runs on a task of its own: the caller may be the hub's reader of one of this
        socket's groups, or its sync, and letting go of them cancels them."""
        if self.ended:
            return
        self.ended = True
        self.closing = asyncio.create_task(self._close(code))

    async def _close(self, code: int) -> None:
        await self.let_go()
        await self.close(code=code)

    async def let_go(self) -> None:
        current = asyncio.current_task()
        for task in (self.hello_task, self.sync_task):
            if task is not None and task is not current:
                task.cancel()
        await presence.socket_left(self)
        hub = Hub.of(self.channel_layer)
        groups, self.live_groups = self.live_groups, []
        for group in groups:
            await hub.leave(group, self)
        if self.claimed:
            self.claimed = False
            await database_sync_to_async(sessions.socket_release, thread_sensitive=False)(
                user_id=self.scope["user"].id, channel=self.channel_name
            )

    async def disconnect(self, code):
        self.ended = True
        await self.let_go()

    async def expect_hello(self) -> None:
        await asyncio.sleep(settings.LIVE_HELLO_SECONDS)
        if self.verified is None and self.sync_task is None:
            self.end(CLOSE_HELLO_TIMEOUT)

    def access_changed(self, message: dict) -> None:
        """The user signed out, or their password, activation or groups changed: close.
        Only the signed-out session's sockets close as signed out; the others reconnect,
        and their connect says whether the user may still read, and what."""
        signed_out = bool(message.get("signed_out")) and message["signed_out"] == self.session_tag
        self.end(CLOSE_SIGNED_OUT if signed_out else CLOSE_ACCESS_CHANGED)

    async def still_allowed(self) -> bool:
        """The session still signs this user in, with the roles the socket joined with."""
        held = await database_sync_to_async(sessions.socket_access, thread_sensitive=False)(session_key=self.session_key)
        return held == self.held

    async def receive(self, text_data=None, bytes_data=None):
        if self.ended:
            return
        try:
            if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE:
                raise ValueError
            message = json.loads(text_data)
            kind = message["type"]
            after = int(message.get("after", 0))
            if after < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self.end(CLOSE_BAD_MESSAGE)
            return
        if kind == "hello" and self.verified is None and self.sync_task is None:
            if self.hello_task:
                self.hello_task.cancel()
            # What happened between the connect and now (a close message sent before this
            # socket joined its groups) is caught here rather than a sync later.
            if not await self.still_allowed():
                self.end(CLOSE_ACCESS_CHANGED)
                return
            self.sync_task = asyncio.create_task(self.keep_in_sync())
            await self.catch_up(after)
            if isinstance(message.get("page"), str):  # pages say where they are; other clients are not people
                await presence.socket_entered(self, message["page"])

    async def catch_up(self, after: int) -> None:
        """Send everything after `after` that this user may see, then the pushes that
        arrived meanwhile, each once and in id order."""
        result = await database_sync_to_async(live.replay)(after=after, groups=self.live_groups)
        if self.ended:  # the user's access ended while the replay was read
            return
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
        if self.ended:
            return
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
        what the table holds that this socket has not sent, and advance the watermark.
        Each time, first check that the user may still read it: a close message can be
        dropped too.

        The first sweep comes at a random point of the second half of the first interval:
        pages opened together (a deploy, a server restart) would otherwise sweep together
        every few seconds, a burst of database work that delays the pushes in flight."""
        delay = settings.LIVE_SYNC_SECONDS * (0.5 + random.random() / 2)
        while True:
            await asyncio.sleep(delay)
            delay = settings.LIVE_SYNC_SECONDS
            if self.verified is None:  # still catching up
                continue
            try:
                allowed = await self.still_allowed()
            except Exception:  # noqa: BLE001 - unable to tell whether the user may still read: stop, the page retries
                logger.warning("could not re-check a room socket's session; closing it", exc_info=True)
                self.end(CLOSE_TRY_AGAIN)
                return
            if not allowed:
                self.end(CLOSE_ACCESS_CHANGED)
                return
            await database_sync_to_async(sessions.socket_refresh, thread_sensitive=False)(
                user_id=self.scope["user"].id, channel=self.channel_name
            )
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
