"""The room socket's Origin check: scheme, host and port must be this site's own origin
(as the request's Host and the TLS proxy give it) or one in CSRF_TRUSTED_ORIGINS."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from tests.warroom.test_consumers import session_cookie
from warroom import roles
from warroom.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def handshake(make_user, origin: str | None, host: str = "127.0.0.1:8000", scheme: str = "ws", **headers) -> bool:
    """Whether a signed-in lead's socket is let through with these headers."""
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)(roles.LEAD))
    sent = [(b"host", host.encode()), cookie]
    if origin is not None:
        sent.append((b"origin", origin.encode()))
    sent += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    communicator = WebsocketCommunicator(application, "/ws/room/", headers=sent)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


async def test_the_sites_own_origin_is_let_through(make_user):
    assert await handshake(make_user, "http://127.0.0.1:8000")
    assert await handshake(make_user, "http://localhost:8000", host="localhost:8000")


@pytest.mark.parametrize("origin", [
    "http://127.0.0.1:1",  # the same host on another port: another program on this machine
    "http://127.0.0.1",  # port 80
    "https://127.0.0.1:8000",  # another scheme
    "http://localhost:8000",  # another host, though allowed to be served
    "http://127.0.0.1:8000.evil.example",
    "null",
    "",
])
async def test_an_origin_differing_in_scheme_host_or_port_is_refused(make_user, origin):
    assert not await handshake(make_user, origin)


async def test_no_origin_or_a_host_not_served_is_refused(make_user):
    assert not await handshake(make_user, None)
    # A page on a rebound name: its origin matches its Host, which is not in ALLOWED_HOSTS.
    assert not await handshake(make_user, "http://rebound.example:8000", host="rebound.example:8000")


async def test_behind_the_tls_proxy_the_origin_is_https(make_user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["room.example.com"]
    assert await handshake(make_user, "https://room.example.com", host="room.example.com", x_forwarded_proto="https")
    assert not await handshake(make_user, "http://room.example.com", host="room.example.com", x_forwarded_proto="https")
    assert not await handshake(make_user, "https://room.example.com", host="room.example.com")


async def test_a_wss_socket_has_an_https_origin(make_user):
    assert await handshake(make_user, "https://127.0.0.1:8000", scheme="wss")
    assert not await handshake(make_user, "http://127.0.0.1:8000", scheme="wss")


async def test_csrf_trusted_origins_are_let_through_exactly(make_user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://room.example.com", "https://*.brand.example"]
    assert await handshake(make_user, "https://room.example.com")
    assert await handshake(make_user, "https://room.example.com:443")
    assert await handshake(make_user, "https://tv.brand.example")
    assert not await handshake(make_user, "http://room.example.com")
    assert not await handshake(make_user, "https://room.example.com:8443")
    assert not await handshake(make_user, "https://evil-brand.example")
