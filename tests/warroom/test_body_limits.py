"""Request bodies are capped before anything stores them: over the route's limit the
answer is 413 with a message, a declared Content-Length is refused before the body is
read, and a streamed body is cut off as soon as it passes the limit, so a 50 MB upload
neither reaches Django nor fills the disk on the way."""

import asyncio
import os
import select
import socket
from pathlib import Path

import pytest
from django.core.asgi import get_asgi_application
from django.urls import resolve

from tests.conftest import Server, free_port
from warroom.bodylimit import FORM_LIMIT, KB, BodyLimit, limit_for

MB = 1024 * KB
FIFTY_MB = 50 * MB


def spooled_bytes(pid: int, spool: Path) -> int:
    """What the server holds on disk for request bodies: the regular files it has open (a
    temporary file is unlinked at once, so only /proc sees it) plus any file in its spool."""
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("/") and not target.startswith(("/dev/", "/proc/")) and not target.endswith(".log"):
                stat = os.stat(f"/proc/{pid}/fd/{fd}")
                if (stat.st_mode & 0o170000) == 0o100000 and (target.startswith(str(spool)) or "(deleted)" in target):
                    held += stat.st_size
        except OSError:
            continue
    return held + sum(path.stat().st_size for path in spool.rglob("*") if path.is_file())


def read_answer(sock: socket.socket, timeout: float = 30) -> tuple[int, bytes, bytes]:
    """(status, head, body) of the answer on the socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None)
    try:
        while length is not None and len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except OSError:
        pass
    return int(head.split(b" ", 2)[1]), head, body


def stream_body(port: int, path: str, *, total: int, pid: int, spool: Path, chunk: int = MB):
    """POST `total` bytes with chunked transfer encoding, a megabyte at a time, watching for
    an early answer and for what the server spools. Returns (status, head, body, bytes sent, most spooled)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    sent, most = 0, 0
    piece = b"x" * chunk
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body ended
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
            most = max(most, spooled_bytes(pid, spool))
        else:
            sock.sendall(b"0\r\n\r\n")
        status, head, body = read_answer(sock)
        most = max(most, spooled_bytes(pid, spool))
        return status, head, body, sent, most
    finally:
        sock.close()


@pytest.fixture
def spooling_server(transactional_db, tmp_path):
    """A daphne whose temporary files (Twisted's and Django's alike) go to an empty folder."""
    spool = tmp_path / "spool"
    spool.mkdir()
    server = Server(free_port(), tmp_path / "daphne.log", TMPDIR=str(spool))
    server.start()
    yield server, spool
    server.stop()


def test_the_limits_follow_the_routes():
    assert resolve("/hooks/abc/").url_name == "webhook" and limit_for("/hooks/abc/") == 1 * MB
    assert resolve("/playbooks/").url_name == "playbooks" and 512 * KB < limit_for("/playbooks/") <= 600 * KB
    assert limit_for("/announce/") == limit_for("/playbooks/1/") == limit_for("/login/") == FORM_LIMIT == 256 * KB


@pytest.mark.parametrize(("path", "kind"), [("/hooks/some-token/", b"application/json"), ("/login/", b"text/plain")])
def test_a_50_mb_streamed_body_is_cut_off_with_a_413_and_nothing_is_spooled(spooling_server, path, kind):
    server, spool = spooling_server
    status, head, body, sent, most = stream_body(server.port, path, total=FIFTY_MB, pid=server.process.pid, spool=spool)
    assert status == 413 and b"Content-Type: " + kind in head
    assert f"larger than {limit_for(path) // KB} KB".encode() in body and b"Nothing was stored" in body
    assert sent < 8 * MB, f"the server kept reading: {sent} bytes went in before it answered"
    assert most < 2 * MB, f"the server spooled {most} bytes of the body"
    assert not any(spool.iterdir())
    assert server.process.poll() is None


def test_a_declared_content_length_over_the_limit_is_answered_before_any_body_is_sent(spooling_server):
    server, _ = spooling_server
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(
            f"POST /hooks/some-token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {FIFTY_MB}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        status, _, body = read_answer(sock)
    finally:
        sock.close()
    assert status == 413 and b'"error": "The request body is larger than 1024 KB' in body


def test_a_body_within_the_limit_still_reaches_the_room(spooling_server):
    """Just under a megabyte to a webhook address that does not exist: the receiver itself answers."""
    server, spool = spooling_server
    status, _, body, sent, _ = stream_body(
        server.port, "/hooks/no-such-token/", total=MB - 64 * KB, chunk=64 * KB, pid=server.process.pid, spool=spool,
    )
    assert sent == MB - 64 * KB
    assert status == 404 and b"No webhook source has this address." in body


# -- the ASGI middleware on its own, for any ASGI server ---------------------------------


def call(app, *, path: str, chunks: int, chunk: int = MB, headers=()) -> tuple[list[dict], int]:
    """Drive an ASGI app with a body of `chunks` chunks; (messages sent, chunks it read)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if pulled == chunks:
            await asyncio.Event().wait()  # the body is over; the client stays connected
        pulled += 1
        return {"type": "http.request", "body": b"x" * chunk, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    return sent, pulled


@pytest.mark.django_db(transaction=True)
def test_the_middleware_stops_reading_a_streamed_body_past_the_limit():
    sent, pulled = call(BodyLimit(get_asgi_application()), path="/hooks/x/", chunks=50)
    assert pulled == 2, "it read past the limit"
    assert sent[0]["status"] == 413 and b"larger than 1024 KB" in sent[1]["body"]
    assert len(sent) == 2  # Django, told the client left, answered nothing more


@pytest.mark.django_db(transaction=True)
def test_the_middleware_refuses_a_declared_length_without_reading():
    sent, pulled = call(BodyLimit(get_asgi_application()), path="/login/", chunks=50,
                        headers=[(b"content-length", str(FIFTY_MB).encode())])
    assert pulled == 0 and sent[0]["status"] == 413


@pytest.mark.django_db(transaction=True)
def test_without_the_middleware_django_reads_the_whole_body():
    """The check above can fail: Django alone reads every chunk before it answers."""
    _, pulled = call(get_asgi_application(), path="/hooks/x/", chunks=5)
    assert pulled == 5
