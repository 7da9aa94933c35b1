"""Presence on the room socket: a page that says where it is appears in the room's list
(pushed to everyone as room.presence), and is gone as soon as its socket closes or, when
its process died, once its entry expires."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from tests.warroom.test_consumers import HOST, ORIGIN, session_cookie
from warroom import live, presence, roles
from warroom.asgi import application
from warroom.models import LiveEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("nobody_present")]


async def open_page(user, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=[ORIGIN, HOST, session_cookie(user)])
    connected, code = await communicator.connect()
    assert connected, code
    await communicator.send_to(text_data=json.dumps({"type": "hello", "after": 0, "page": path}))
    return communicator


async def presence_message(communicator, timeout: float = 3) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = await communicator.receive_from(timeout=timeout)
        if 'id="room-presence"' in text:
            return text
    raise AssertionError("no presence push")


async def test_a_page_appears_for_everyone_and_is_gone_when_its_socket_closes(make_user):
    maya = await database_sync_to_async(make_user)(roles.COMMUNITY_MANAGER, "maya")
    leo = await database_sync_to_async(make_user)(roles.LEAD, "leo")
    wall = await open_page(leo, "/wall/")
    assert "Leo" in await presence_message(wall)
    queue = await open_page(maya, "/queue/")
    pushed = await presence_message(wall)
    assert "Maya" in pushed and "community manager" in pushed and "on Queue" in pushed and "on Wall" in pushed
    await queue.disconnect()
    pushed = await presence_message(wall)
    assert "Maya" not in pushed and "Leo" in pushed
    assert [p["name"] for p in await database_sync_to_async(presence.presence_list)()] == ["Leo"]
    await wall.disconnect()
    assert await database_sync_to_async(presence.presence_list)() == []
    # Pushed, never replayed: a page that reconnects renders the list as it is now.
    assert await database_sync_to_async(LiveEvent.objects.filter(kind="room.presence").count)() >= 4
    replayed = await database_sync_to_async(live.replay)(after=0, groups=["room"])
    assert not any("room-presence" in html for _, html in replayed.messages)


async def test_a_socket_without_a_page_is_not_a_person(make_user):
    leo = await database_sync_to_async(make_user)(roles.LEAD, "leo")
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=[ORIGIN, HOST, session_cookie(leo)])
    await communicator.connect()
    await communicator.send_to(text_data=json.dumps({"type": "hello", "after": 0}))
    await communicator.receive_from(timeout=3)  # verified marker
    assert await database_sync_to_async(presence.presence_list)() == []
    await communicator.disconnect()


def test_an_entry_whose_socket_stopped_refreshing_expires(make_user, settings):
    settings.PRESENCE_SECONDS = 1
    maya, leo = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.LEAD, "leo")
    presence.presence_enter(channel="specific.dead", user=maya, page="/feed/")
    presence.presence_enter(channel="specific.alive", user=leo, page="/wall/")
    assert [p["pages"] for p in presence.presence_list()] == [["Wall"], ["Feed"]]
    time.sleep(0.6)
    presence.presence_refresh(channel="specific.alive")
    time.sleep(0.6)
    presence.presence_refresh(channel="specific.alive")  # prunes the dead one and tells the room
    assert [p["name"] for p in presence.presence_list()] == ["Leo"]
    assert "Maya" not in LiveEvent.objects.filter(kind="room.presence").latest("id").payload["summary"]


def test_every_page_renders_who_is_in_the_room(make_user):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    presence.presence_enter(channel="specific.x", user=make_user(roles.LEGAL, "ana"), page="/approvals/")
    client = Client()
    client.force_login(maya)
    html = client.get("/").content.decode()
    assert 'id="room-presence"' in html and "Ana" in html and "on Approvals" in html


def test_concurrent_comings_and_goings_end_with_a_push_of_the_final_list(make_user):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    people = [make_user(roles.COMMUNITY_MANAGER, f"cm{n}") for n in range(6)]

    def come_and_go(n: int) -> None:
        try:
            presence.presence_enter(channel=f"specific.{n}", user=people[n], page="/queue/")
            if n % 2:
                presence.presence_leave(channel=f"specific.{n}")
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(come_and_go, range(6)))
    final = presence.presence_list()
    assert [p["name"] for p in final] == ["Cm0", "Cm2", "Cm4"]
    assert LiveEvent.objects.filter(kind="room.presence").latest("id").payload["present"] == final
