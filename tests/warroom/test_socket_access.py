"""A room socket ends when its user's right to read ends: sign-out, deactivation, a new
password, a change of groups (the Django admin's included), or, when the close message is
lost, the socket's own periodic check. And a socket is bounded: it must say hello in time,
what it keeps before hello is bounded, and so is the number of sockets one user holds."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client

from tests.warroom.test_consumers import HOST, ORIGIN, announce, closed_with, receive_events, refused_with
from warroom import live, roles, sessions
from warroom.asgi import application
from warroom.consumers import Hub

pytestmark = pytest.mark.django_db(transaction=True)

SIGNED_OUT, ACCESS_CHANGED, UNAUTHENTICATED, FORBIDDEN = 4410, 4409, 4401, 4403


@pytest.fixture(autouse=True)
def no_sockets_counted():
    """Socket counts live in Redis per user id, and ids start again in every test database."""
    client = sessions._redis()
    pattern = sessions._sockets_key(0).removesuffix("0") + "*"
    for key in client.scan_iter(pattern):
        client.delete(key)
    yield


def signed_in(user) -> tuple[Client, tuple[bytes, bytes]]:
    """A browser's session for `user`: the Django test client holding it, and its cookie."""
    client = Client()
    client.force_login(user)
    return client, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def open_socket(cookie, hello: bool = True) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=[ORIGIN, HOST, cookie])
    connected, code = await communicator.connect()
    assert connected, code
    if hello:
        await communicator.send_to(text_data=json.dumps({"type": "hello", "after": 0}))
        assert await receive_events(communicator) == []
    return communicator


def run(function, *args, **kwargs):
    return database_sync_to_async(function)(*args, **kwargs)


async def legal_on_the_room(make_user) -> tuple[User, tuple[bytes, bytes], WebsocketCommunicator]:
    """A legal user signed in, with the room open: (user, session cookie, socket)."""
    user = await run(make_user, roles.LEGAL)
    _, cookie = await run(signed_in, user)
    return user, cookie, await open_socket(cookie)


async def test_signing_out_closes_that_sessions_sockets_as_signed_out_and_the_others_reconnect(make_user):
    lena = await run(make_user, roles.LEGAL, "lena")
    laptop, laptop_cookie = await run(signed_in, lena)
    _, phone_cookie = await run(signed_in, lena)
    tabs = [await open_socket(laptop_cookie) for _ in range(2)]
    phone = await open_socket(phone_cookie)

    response = await run(laptop.post, "/logout/")
    assert response.status_code == 302

    assert [await closed_with(tab) for tab in tabs] == [SIGNED_OUT, SIGNED_OUT]
    assert await closed_with(phone) == ACCESS_CHANGED
    # The phone's page reconnects at once and its session still signs Lena in; the laptop's is gone.
    again = await open_socket(phone_cookie)
    assert await refused_with([ORIGIN, HOST, laptop_cookie]) == UNAUTHENTICATED
    await again.disconnect()


async def test_no_push_reaches_a_signed_out_socket(make_user):
    lead = await run(make_user, roles.LEAD)
    lena = await run(make_user, roles.LEGAL)
    client, cookie = await run(signed_in, lena)
    socket = await open_socket(cookie)
    await run(client.post, "/logout/")
    assert await closed_with(socket) == SIGNED_OUT
    await announce(lead, "After the sign-out")
    assert await socket.receive_nothing(timeout=1)


def deactivate(user) -> None:
    user.is_active = False


def new_password(user) -> None:
    user.set_password("another long passphrase entirely")


@pytest.mark.parametrize("change", [deactivate, new_password])
async def test_deactivation_or_a_new_password_closes_the_users_sockets_and_the_reconnect_is_refused(make_user, change):
    lena, cookie, socket = await legal_on_the_room(make_user)

    change(lena)
    await run(lena.save)

    assert await closed_with(socket) == ACCESS_CHANGED
    assert await refused_with([ORIGIN, HOST, cookie]) == UNAUTHENTICATED


async def test_a_save_that_changes_no_access_keeps_the_socket(make_user):
    lena, cookie, socket = await legal_on_the_room(make_user)
    lena.first_name = "Lena M."
    await run(lena.save)
    assert await socket.receive_nothing(timeout=1)
    await socket.disconnect()


async def test_removing_the_users_role_closes_the_socket_and_the_reconnect_is_forbidden(make_user):
    lena, cookie, socket = await legal_on_the_room(make_user)

    legal = await run(Group.objects.get, name=roles.LEGAL)
    await run(lena.groups.remove, legal)

    assert await closed_with(socket) == ACCESS_CHANGED
    assert await refused_with([ORIGIN, HOST, cookie]) == FORBIDDEN


async def test_a_role_given_from_the_groups_side_reconnects_with_its_pushes(make_user):
    lead = await run(make_user, roles.LEAD)
    lena, cookie, socket = await legal_on_the_room(make_user)

    producers = await run(Group.objects.get, name=roles.PRODUCER)
    await run(producers.user_set.add, lena)

    assert await closed_with(socket) == ACCESS_CHANGED
    socket = await open_socket(cookie)
    await run(live.publish, "room.test", audience=[live.role_group(roles.PRODUCER)], summary="for producers",
              actor=lead.username)
    [(_, html)] = await receive_events(socket, until_verified=False)
    assert "for producers" in html
    await socket.disconnect()


def admin_change_groups(admin: User, user: User, groups: list[Group]) -> int:
    """The Django admin's user form, submitted as a person would: the user's fields as they
    are, with `groups` ticked."""
    client = Client()
    client.force_login(admin)
    joined = user.date_joined
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
        "is_active": "on", "groups": [group.id for group in groups],
        "date_joined_0": joined.strftime("%Y-%m-%d"), "date_joined_1": joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.strftime("%Y-%m-%d"), "initial-date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "", "last_login_1": "", "_save": "Save",
    }
    return client.post(f"/admin/auth/user/{user.id}/change/", data).status_code


async def test_a_role_removed_in_the_django_admin_closes_the_socket(make_user):
    admin = await run(make_user, roles.ADMIN, is_staff=True, is_superuser=True)
    lena, cookie, socket = await legal_on_the_room(make_user)
    producers = await run(Group.objects.get, name=roles.PRODUCER)

    assert await run(admin_change_groups, admin, lena, [producers]) == 302

    assert await run(lambda: sorted(lena.groups.values_list("name", flat=True))) == [roles.PRODUCER]
    assert await closed_with(socket) == ACCESS_CHANGED


async def test_deleting_a_role_group_closes_its_members_sockets(make_user):
    lena, cookie, socket = await legal_on_the_room(make_user)
    await run(lambda: Group.objects.get(name=roles.LEGAL).delete())
    assert await closed_with(socket) == ACCESS_CHANGED


@pytest.mark.parametrize("missed", ["session deleted", "role row deleted", "deactivated by update"])
async def test_a_change_whose_close_message_never_came_is_caught_by_the_sync(make_user, settings, missed):
    """Each change here bypasses the signals (as a lost pub/sub message would): only the
    socket's own check within LIVE_SYNC_SECONDS can end it."""
    settings.LIVE_SYNC_SECONDS = 0.3
    lena = await run(make_user, roles.LEGAL)
    client, cookie = await run(signed_in, lena)
    socket = await open_socket(cookie)
    assert await socket.receive_nothing(timeout=0.8)  # a few syncs go by with nothing to say

    if missed == "session deleted":
        await run(lambda: Session.objects.filter(session_key=client.session.session_key).delete())
    elif missed == "role row deleted":
        await run(lambda: User.groups.through.objects.filter(user_id=lena.id).delete())
    else:
        await run(lambda: User.objects.filter(id=lena.id).update(is_active=False))

    assert await closed_with(socket, timeout=5) == ACCESS_CHANGED


async def test_a_sync_that_cannot_check_the_session_closes_the_socket_for_a_retry(make_user, settings):
    """Failing to tell whether the user may still read ends the socket rather than
    streaming on unchecked; the page retries with its usual backoff."""
    settings.LIVE_SYNC_SECONDS = 0.3
    _, _, socket = await legal_on_the_room(make_user)
    settings.SESSION_ENGINE = "warroom.no_such_session_engine"  # as if the session store were down
    assert await closed_with(socket, timeout=5) == 1013


async def test_a_socket_that_never_says_hello_is_closed(make_user, settings):
    settings.LIVE_HELLO_SECONDS = 0.3
    _, cookie = await run(signed_in, await run(make_user, roles.LEGAL))
    socket = await open_socket(cookie, hello=False)
    assert await closed_with(socket) == 4408


def consumer_of(user_id: int):
    [consumer] = Hub._hubs[asyncio.get_running_loop()].members[live.user_group(user_id)]
    return consumer


async def test_what_a_socket_keeps_before_hello_is_bounded_and_nothing_is_lost(make_user, settings):
    settings.LIVE_EARLY_LIMIT = 5
    settings.LIVE_HELLO_SECONDS = 60
    lead = await run(make_user, roles.LEAD)
    lena = await run(make_user, roles.LEGAL)
    _, cookie = await run(signed_in, lena)
    before = await run(live.latest_id)
    socket = await open_socket(cookie, hello=False)

    for n in range(12):
        await announce(lead, f"early {n}")
    newest = await run(live.latest_id)
    consumer = consumer_of(lena.id)
    deadline = time.monotonic() + 5
    while newest not in [message["id"] for message in consumer.early]:
        assert time.monotonic() < deadline, "the pushes never reached the socket"
        await asyncio.sleep(0.05)
    assert len(consumer.early) == 5  # the newest five; the table has the rest

    await socket.send_to(text_data=json.dumps({"type": "hello", "after": before}))
    replayed = await receive_events(socket)
    assert [html.split("early ")[1].split("<")[0] for _, html in replayed] == [str(n) for n in range(12)]
    await socket.disconnect()


async def test_each_user_holds_a_bounded_number_of_sockets_across_processes(make_user, settings):
    settings.LIVE_SOCKETS_PER_USER = 3
    lena = await run(make_user, roles.LEGAL)
    _, cookie = await run(signed_in, lena)
    # One socket of hers is open on another web process: it counts through Redis.
    await run(sessions.socket_claim, user_id=lena.id, channel="specific.other-process!1")
    here = [await open_socket(cookie) for _ in range(2)]

    assert await refused_with([ORIGIN, HOST, cookie]) == 4429
    # Another user is not held to Lena's count.
    _, maya_cookie = await run(signed_in, await run(make_user, roles.COMMUNITY_MANAGER))
    maya = await open_socket(maya_cookie)

    await here[0].disconnect()  # closing a tab frees its place at once
    assert await run(sessions.sockets_held, user_id=lena.id) == 2
    again = await open_socket(cookie)
    for socket in (here[1], again, maya):
        await socket.disconnect()
    assert await run(sessions.sockets_held, user_id=lena.id) == 1  # the other process's


def test_a_socket_of_a_process_that_died_stops_counting(make_user, settings, time_machine):
    settings.LIVE_SOCKETS_PER_USER = 1
    lena = make_user(roles.LEGAL)
    time_machine.move_to("2030-01-01 12:00:00", tick=False)
    assert sessions.socket_claim(user_id=lena.id, channel="specific.dead!1")
    assert not sessions.socket_claim(user_id=lena.id, channel="specific.alive!1")
    time_machine.shift(sessions._ttl() + 1)  # it never refreshed its entry
    assert sessions.socket_claim(user_id=lena.id, channel="specific.alive!1")
    assert sessions.sockets_held(user_id=lena.id) == 1
