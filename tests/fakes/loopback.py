"""What the loopback fakes of Mastodon and Bluesky share: a threaded HTTP server on
127.0.0.1, every request recorded, and scripted failures for upcoming requests (a status
with its body, a truncated JSON body, a slow answer, after N good requests, N times).
Each fake subclasses `LoopbackFake`, routes in `route()` and says how its network sends
a rate limit in `rate_limit_headers()`."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, list[str]]  # query parameters, every value (Mastodon repeats `types[]`)
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.time() when it arrived

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else default


@dataclass
class Failure:
    """What the fake does to one upcoming request (see LoopbackFake.fail_next)."""

    status: int | None = None
    reset_at: int | None = None  # epoch seconds the rate limit resets at, with a 429
    malformed: bool = False
    delay: float | None = None
    body: Any = None
    after: int = 0  # requests to let through untouched first
    times: int = 1
    path: str | None = None  # only requests whose path starts with this


@dataclass
class Answer:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of the JSON of `payload`


class Refusal(Exception):
    """An error answer the network would send: status and its JSON body."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.payload, self.headers = status, payload, headers or {}


class LoopbackFake:
    name = "fake"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._failures: list[Failure] = []
        self._requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self, port: int = 0):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = fake.name
            sys_version = ""

            def do_GET(self):
                fake._handle(self)

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that hung up (a timeout test) is not an error of the fake

        self._stopping.clear()
        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- control -------------------------------------------------------------------

    def fail_next(self, status: int | None = None, *, reset_in: float = 60, reset_at: int | None = None,
                  malformed: bool = False, delay: float | None = None, body: Any = None, after: int = 0,
                  times: int = 1, path: str | None = None) -> Failure:
        if status == 429 and reset_at is None:
            reset_at = int(time.time() + reset_in)
        failure = Failure(status=status, reset_at=reset_at, malformed=malformed, delay=delay, body=body,
                          after=after, times=times, path=path)
        with self.lock:
            self._failures.append(failure)
        return failure

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    # --- for subclasses ------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def rate_limit_headers(self, failure: Failure | None) -> dict[str, str]:
        return {}

    def error_body(self, status: int) -> Any:
        return {"error": f"HTTP {status}"}

    # --- HTTP ----------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        headers = {key.lower(): value for key, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        request = RecordedRequest(handler.command, split.path, parse_qs(split.query, keep_blank_values=True), headers,
                                  raw, time.time())
        with self.lock:
            self._requests.append(request)
            failure = self._take_failure(request.path)
        rate = self.rate_limit_headers(failure)
        if failure is not None and failure.status is not None:
            payload = failure.body if failure.body is not None else self.error_body(failure.status)
            answer = Answer(failure.status, payload, rate)
        else:
            try:
                answer = self.route(request)
            except Refusal as refusal:
                answer = Answer(refusal.status, refusal.payload, refusal.headers)
            answer.headers = {**rate, **answer.headers}
            if failure is not None and failure.malformed:
                answer = Answer(200, None, answer.headers, raw=b'{"cut": [{"id": "1", "text": "cut off')
        if failure is not None and failure.delay:
            self._stopping.wait(failure.delay)
        body = answer.raw if answer.raw is not None else (b"" if answer.payload is None else
                                                           json.dumps(answer.payload).encode())
        try:
            handler.send_response(answer.status)
            if body or answer.status != 204:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _take_failure(self, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.path is not None and not path.startswith(failure.path):
                continue
            if failure.after > 0:
                failure.after -= 1
                return None
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            return failure
        return None


# What the demo's fans say on Mastodon and Bluesky (`--chatter`): enough to see the networks
# in the Feed, a rule or two matching, nothing that would look like a real person.
CHATTER = (
    ("snackfan", "Halftime and the Crunchwave ad is the only thing keeping me awake"),
    ("lena_watches", "Did anyone else's stream just die? Crunchwave please tell me you saw that"),
    ("dadjokes", "Crunchwave chips survive a blackout better than the stadium lights"),
    ("angry_ann", "Crunchwave your delivery never showed up, worst Super Bowl snack plan ever"),
    ("marco_p", "That Crunchwave commercial with the glowing bag was genius"),
    ("quietkid", "Team Crunchwave all the way, lights out or not"),
)
