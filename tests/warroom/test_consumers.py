"""The room socket against the real Redis channel layer: who may join, what they receive,
and catch-up after a cut, each event once and in order."""

import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from warroom import live, roles, services
from warroom.asgi import application
from warroom.models import LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOST = (b"host", b"127.0.0.1:8000")  # a browser sends both; the origin must be this host's own
MARKER = re.compile(r"^<!--live (id|verified)=(\d+)-->")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connect(headers, after: int | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=headers)
    connected, code = await communicator.connect()
    assert connected, code
    if after is not None:
        await communicator.send_to(text_data=json.dumps({"type": "hello", "after": after}))
    return communicator


async def receive_events(communicator, until_verified: bool = True, timeout: float = 3) -> list[tuple[int, str]]:
    """Messages up to and including the next "verified" marker, as (id, html) of events."""
    events = []
    while True:
        text = await communicator.receive_from(timeout=timeout)
        kind, number = MARKER.match(text).groups()
        if kind == "verified":
            return events
        events.append((int(number), text))
        if not until_verified:
            return events


def announce(user, text: str):
    return database_sync_to_async(services.announcement_post)(author=user, text=text)


async def closed_with(communicator, timeout: float = 3) -> int:
    """The close code the server sent, skipping whatever it pushed before closing."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"]


async def refused_with(headers) -> int:
    """A refusal is sent after accepting, so that the page can read why."""
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return await closed_with(communicator)


async def test_anonymous_socket_is_refused():
    assert await refused_with([ORIGIN, HOST]) == 4401


async def test_foreign_origin_is_refused(make_user):
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(roles.LEAD))
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=[(b"origin", b"http://evil.example"), HOST, cookie])
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_user_without_a_role_is_refused(make_user):
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(None))
    assert await refused_with([ORIGIN, HOST, cookie]) == 4403


async def test_a_malformed_client_message_closes_the_socket(make_user):
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(roles.LEGAL))
    communicator = await connect([ORIGIN, HOST, cookie])
    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_output(timeout=3))["code"] == 4400


async def test_a_published_event_reaches_every_connected_role(make_user):
    lead = await database_sync_to_async(make_user)(roles.LEAD)
    sockets = []
    for role in (roles.LEGAL, roles.COMMUNITY_MANAGER):
        cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(role))
        socket = await connect([ORIGIN, HOST, cookie], after=0)
        assert await receive_events(socket) == []
        sockets.append(socket)

    await announce(lead, "<b>Kick-off</b> in five")

    event = await database_sync_to_async(LiveEvent.objects.get)()
    for socket in sockets:
        [(event_id, html)] = await receive_events(socket, until_verified=False)
        assert event_id == event.id
        assert "&lt;b&gt;Kick-off&lt;/b&gt; in five" in html and "<b>Kick-off" not in html
        await socket.disconnect()


async def test_sockets_of_one_process_share_one_subscription_per_group(make_user):
    """The hub reads each group once for all its sockets here, and lets go when the last leaves."""
    import asyncio

    from warroom.consumers import Hub

    lead = await database_sync_to_async(make_user)(roles.LEAD)
    cookies = [await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(roles.LEGAL))
               for _ in range(3)]
    sockets = [await connect([ORIGIN, HOST, cookie], after=0) for cookie in cookies]
    for socket in sockets:
        assert await receive_events(socket) == []
    hub = Hub._hubs[asyncio.get_running_loop()]
    assert len(hub.members["room"]) == 3 and len(hub.members["role.legal"]) == 3
    assert len(hub.readers) == len(hub.joined) == 5  # room, role.legal, and each user's own group

    await announce(lead, "One read, three sockets")
    for socket in sockets:
        [(_, html)] = await receive_events(socket, until_verified=False)
        assert "One read, three sockets" in html
    for socket in sockets:
        await socket.disconnect()
    assert hub.members == {} and hub.readers == {} and hub.joined == {}


async def test_reconnect_replays_what_was_missed_in_order_then_goes_live(make_user):
    lead = await database_sync_to_async(make_user)(roles.LEAD)
    legal = await database_sync_to_async(make_user)(roles.LEGAL)
    cookie = await database_sync_to_async(session_cookie)(legal)
    seen = (await announce(lead, "before the cut")) and await database_sync_to_async(live.latest_id)()

    for n in range(3):
        await announce(lead, f"missed {n}")
    legal_only = await database_sync_to_async(live.publish)(
        "room.test", audience=[live.role_group(roles.LEGAL)], summary="for legal only"
    )
    await database_sync_to_async(live.publish)(
        "room.test", audience=[live.role_group(roles.PRODUCER)], summary="for producers only"
    )

    socket = await connect([ORIGIN, HOST, cookie], after=seen)
    replayed = await receive_events(socket)
    assert [html.split("missed ")[1][0] for _, html in replayed[:3]] == ["0", "1", "2"]
    assert replayed[3][0] == legal_only.id
    assert len(replayed) == 4  # nothing before the cut, nothing for producers
    assert [event_id for event_id, _ in replayed] == sorted(event_id for event_id, _ in replayed)

    await announce(lead, "live again")
    [(event_id, html)] = await receive_events(socket, until_verified=False)
    assert "live again" in html and event_id > replayed[-1][0]
    await socket.disconnect()


async def test_a_dropped_push_is_recovered_by_the_periodic_sync(make_user, settings):
    settings.LIVE_SYNC_SECONDS = 0.2
    lead = await database_sync_to_async(make_user)(roles.LEAD)
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(roles.LEGAL))
    socket = await connect([ORIGIN, HOST, cookie], after=await database_sync_to_async(live.latest_id)())
    assert await receive_events(socket) == []

    # An event stored but whose push never arrived, as when channels-redis drops a
    # message for a channel over capacity.
    dropped = await database_sync_to_async(LiveEvent.objects.create)(
        kind="room.test", audience=[live.ROOM], payload={"summary": "dropped push", "actor": ""}
    )
    await announce(lead, "delivered push")

    # The sweep leaves events younger than a second to the pushes under way, so the
    # dropped one may come a marker or two after the delivered one: read until it does.
    ids = []
    while dropped.id not in ids:
        ids += [event_id for event_id, _ in await receive_events(socket, timeout=5)]
    assert len(ids) == len(set(ids)) == 2
    await socket.disconnect()
