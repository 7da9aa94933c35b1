"""Request bodies are capped before anything stores them, per route: webhooks 1 MB (what
the receiver reads), the playbook import 512 KB of YAML (plus room for the multipart
framing around it), media uploads MEDIA_UPLOAD_MAX_MB, everything else
(forms) 256 KB. Over the limit the answer is 413 with
a message, and the rest of the body is never read.

Two guards, one rule (`limit_for`):
- `BodyLimit`, the ASGI middleware around Django (warroom/asgi.py): refuses a declared
  Content-Length over the limit before reading anything, and stops reading a streamed body
  the moment it passes the limit, so Django never spools it (under any ASGI server).
- `install_daphne_guard`: daphne (Twisted) receives the whole body, into a temporary file
  past 100 KB, before it calls the application at all, so a middleware alone would let a
  50 MB upload fill the disk first. The guard replaces daphne's request class with one that
  answers 413 as soon as the headers declare too much, or the body received passes the
  limit, closes the connection and keeps (in memory) only bodies within the limit.
"""

import json
import re
from functools import cache
from io import BytesIO
from urllib.parse import unquote

KB = 1024
FORM_LIMIT = 256 * KB
MULTIPART_ROOM = 64 * KB
# The limits the apps' own readers enforce again on what they parse (listening/webhooks.py,
# playbooks/yaml_io.py): declared here, in the core, so both sides read one number.
WEBHOOK_LIMIT = 1024 * KB
PLAYBOOK_IMPORT_LIMIT = 512 * KB


@cache
def _routes() -> tuple[tuple[re.Pattern, int], ...]:
    return (
        (re.compile(r"^/hooks/"), WEBHOOK_LIMIT),
        (re.compile(r"^/playbooks/$"), PLAYBOOK_IMPORT_LIMIT + MULTIPART_ROOM),  # the import posts here
        (re.compile(r"^/approvals/media/$"), media_upload_limit()),  # uploads: files of up to MEDIA_UPLOAD_MAX_MB
    )


def media_upload_limit() -> int:
    """What an upload to the content library may carry: MEDIA_UPLOAD_MAX_MB of files, and the form."""
    from django.conf import settings

    return getattr(settings, "MEDIA_UPLOAD_MAX_MB", 100) * 1024 * KB + MULTIPART_ROOM


def limit_for(path: str) -> int:
    """The most body, in bytes, a request to `path` may carry."""
    return next((limit for pattern, limit in _routes() if pattern.match(path)), FORM_LIMIT)


def refusal(path: str, limit: int) -> tuple[bytes, bytes]:
    """(content type, body) of the 413: JSON for the webhook receivers, text for people."""
    message = f"The request body is larger than {limit // KB} KB, the most {path} accepts. Nothing was stored."
    if path.startswith("/hooks/"):
        return b"application/json", json.dumps({"error": message}).encode()
    return b"text/plain; charset=utf-8", message.encode()


class BodyLimit:
    """ASGI middleware: HTTP bodies over the route's limit end in 413, unread."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        limit = limit_for(path)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await self._refuse(send, path, limit)
        received = 0
        refused = False

        async def capped_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await self._refuse(send, path, limit)
                    # Django reads this as the client going away, and stops without answering.
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, capped_receive, send)

    @staticmethod
    async def _refuse(send, path: str, limit: int) -> None:
        content_type, body = refusal(path, limit)
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


def install_daphne_guard() -> None:
    """Make daphne's HTTP requests capped ones (see the module docstring). Idempotent; does
    nothing where daphne is not installed."""
    try:
        from daphne import http_protocol
    except ImportError:
        return
    if getattr(http_protocol.WebRequest, "capped", False):
        return

    class CappedWebRequest(http_protocol.WebRequest):
        capped = True
        _target = "/"
        _limit = FORM_LIMIT
        _seen = 0
        _refused = False

        def gotLength(self, length):
            # Called once the headers are in; the request line is still only the channel's.
            self._target = unquote(self.channel._path.split(b"?", 1)[0].decode("ascii", "replace"))
            self._limit = limit_for(self._target)
            self.content = BytesIO()  # never a temporary file: what is kept is within the limit
            if length is not None and length > self._limit:
                self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" for a body we refuse
                self._refuse()

        def handleContentChunk(self, data):
            if self._refused:
                return
            self._seen += len(data)
            if self._seen > self._limit:
                self._refuse()
                return
            self.content.write(data)

        def _refuse(self) -> None:
            self._refused = True
            content_type, body = refusal(self._target, self._limit)
            transport = self.channel.transport
            transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: " + content_type
                + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
            transport.loseConnection()  # after the answer is written; the rest of the body is not read

        def process(self):
            if not self._refused:
                return super().process()

    http_protocol.WebRequest = CappedWebRequest
