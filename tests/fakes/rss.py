"""A loopback news-feed server for tests: an RSS 2.0 feed and an Atom feed over the same items,
with ETag / Last-Modified and 304 answers, plus knobs for failures, slowness and raw bodies.

    def test_something(rss_feed):
        rss_feed.add_item("Title", "<p>Summary</p>", guid="urn:x:1")
        rss_feed.rss_url, rss_feed.atom_url      # the two feeds
        rss_feed.fail_next(status=503, retry_after="30")
        rss_feed.delay_next(2.0)                 # next answer starts after 2 s (or at teardown)
        rss_feed.trickle_next(interval=0.05)     # next body is sent one byte at a time
        rss_feed.serve_raw(b"<rss><channel>", "application/rss+xml")  # until serve_feed()
        rss_feed.conditional = False             # no ETag / Last-Modified, never 304
        rss_feed.requests[-1].headers["if-none-match"]   # header names are lower-cased
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

import pytest

RSS_PATH = "/feed.rss"
ATOM_PATH = "/feed.atom"
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass
class FeedItem:
    title: str
    summary: str
    guid: str | None  # None: no <guid>/<id> element
    link: str | None  # None: no <link>
    published: datetime | str | None  # None: no date; str: written verbatim
    author: str | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


@dataclass
class _Plan:
    status: int | None = None  # None: answer the feed as usual
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float | None = None


class FakeFeedServer:
    title = "Fake Wire"

    def __init__(self):
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._items: list[FeedItem] = []
        self._version = 0
        self._plans: deque[_Plan] = deque()
        self._raw: tuple[bytes, str, int, dict, bool] | None = None
        self.conditional = True
        self.requests: list[RecordedRequest] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.rss_url = self.base_url + RSS_PATH
        self.atom_url = self.base_url + ATOM_PATH
        self.url = self.rss_url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- control --------------------------------------------------------------------------

    def start(self) -> "FakeFeedServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._released.set()  # wake delayed or trickling answers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_item(self, title: str, summary: str, guid: str | None = None, link: str | None = None,
                 published: datetime | str | None = None, author: str | None = None, *,
                 no_guid: bool = False, no_date: bool = False) -> FeedItem:
        """Add an item on top of both feeds. guid defaults to a unique URN (no_guid=True: none);
        published defaults to a fixed, increasing time (no_date=True: none)."""
        with self._lock:
            self._version += 1
            n = len(self._items) + 1
            if guid is None and not no_guid:
                guid = f"urn:fake-wire:item:{n}"
            if published is None and not no_date:
                published = EPOCH + timedelta(minutes=n)
            item = FeedItem(title, summary, guid, link, published, author)
            self._items.append(item)
            return item

    def fail_next(self, status: int = 503, retry_after: str | int | None = None, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> None:
        """The next request gets this status (once)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._plans.append(_Plan(status=status, body=body or f"status {status}\n".encode(), headers=extra))

    def delay_next(self, seconds: float) -> None:
        """The next request is answered normally, but only after `seconds` (cut short at teardown)."""
        with self._lock:
            self._plans.append(_Plan(delay=seconds))

    def trickle_next(self, interval: float = 0.05) -> None:
        """The next answer sends its body one byte every `interval` seconds."""
        with self._lock:
            self._plans.append(_Plan(trickle=interval))

    def serve_raw(self, body: bytes, content_type: str = "application/rss+xml", *, status: int = 200,
                  headers: dict[str, str] | None = None, content_length: bool = True) -> None:
        """Serve these exact bytes on both feed paths until serve_feed(); no ETag unless in headers.
        content_length=False omits the header (the body ends when the connection closes)."""
        with self._lock:
            self._raw = (body, content_type, status, dict(headers or {}), content_length)

    def serve_feed(self) -> None:
        with self._lock:
            self._raw = None

    @property
    def last_modified(self) -> datetime:
        return EPOCH + timedelta(seconds=self._version)  # whole seconds, strictly increasing

    # --- rendering ------------------------------------------------------------------------

    def render_rss(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
            f"<title>{escape(self.title)}</title><link>{escape(self.base_url)}/</link>",
            "<description>Loopback test feed</description><language>en-us</language>",
        ]
        for item in reversed(self._items):
            out.append("<item>")
            out.append(f"<title>{escape(item.title)}</title>")
            out.append(f"<description>{escape(item.summary)}</description>")
            if item.guid is not None:
                out.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
            if item.link is not None:
                out.append(f"<link>{escape(item.link)}</link>")
            if item.published is not None:
                stamp = item.published if isinstance(item.published, str) else format_datetime(item.published, usegmt=True)
                out.append(f"<pubDate>{escape(stamp)}</pubDate>")
            if item.author:
                out.append(f"<dc:creator>{escape(item.author)}</dc:creator>")
            out.append("</item>")
        out.append("</channel></rss>")
        return "\n".join(out).encode("utf-8")

    def render_atom(self) -> bytes:
        updated = self.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
            f"<title>{escape(self.title)}</title><id>urn:fake-wire:feed</id><updated>{updated}</updated>",
            f'<link rel="alternate" href={quoteattr(self.base_url + "/")}/>',
        ]
        for item in reversed(self._items):
            out.append("<entry>")
            out.append(f'<title type="text">{escape(item.title)}</title>')
            out.append(f'<summary type="html">{escape(item.summary)}</summary>')
            if item.guid is not None:
                out.append(f"<id>{escape(item.guid)}</id>")
            if item.link is not None:
                out.append(f'<link rel="alternate" href={quoteattr(item.link)}/>')
            if item.published is not None:
                stamp = item.published if isinstance(item.published, str) else item.published.strftime("%Y-%m-%dT%H:%M:%SZ")
                out.append(f"<published>{escape(stamp)}</published><updated>{escape(stamp)}</updated>")
            if item.author:
                out.append(f"<author><name>{escape(item.author)}</name></author>")
            out.append("</entry>")
        out.append("</feed>")
        return "\n".join(out).encode("utf-8")

    # --- serving --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, handler.path, headers))
            plan = self._plans.popleft() if self._plans else _Plan()
            raw = self._raw
            path = handler.path.split("?", 1)[0]
            if plan.status is not None:
                answer = (plan.status, plan.body, {"Content-Type": "text/plain", **plan.headers}, True)
            elif path not in (RSS_PATH, ATOM_PATH):
                answer = (404, b"not found\n", {"Content-Type": "text/plain"}, True)
            elif raw is not None:
                body, content_type, status, extra, content_length = raw
                answer = (status, body, {"Content-Type": content_type, **extra}, content_length)
            else:
                answer = self._feed_answer(path, headers)
        if plan.delay and self._released.wait(plan.delay):
            return  # torn down while waiting
        status, body, extra, content_length = answer
        try:
            handler.send_response(status)
            for name, value in extra.items():
                handler.send_header(name, value)
            if content_length:
                handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if plan.trickle is None:
                handler.wfile.write(body)
            else:
                for i in range(len(body)):
                    if self._released.wait(plan.trickle):
                        return
                    handler.wfile.write(body[i:i + 1])
                    handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as clients under test do

    def _feed_answer(self, path: str, headers: dict[str, str]):
        body = self.render_rss() if path == RSS_PATH else self.render_atom()
        content_type = "application/rss+xml; charset=utf-8" if path == RSS_PATH else "application/atom+xml; charset=utf-8"
        if not self.conditional:
            return 200, body, {"Content-Type": content_type}, True
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}-{self._version}"'
        modified = self.last_modified
        validators = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True)}
        if "if-none-match" in headers:  # RFC 9110: If-None-Match wins over If-Modified-Since
            tags = [t.strip() for t in headers["if-none-match"].split(",")]
            if etag in tags or "*" in tags:
                return 304, b"", validators, False
        elif "if-modified-since" in headers:
            try:
                since = parsedate_to_datetime(headers["if-modified-since"])
            except (TypeError, ValueError):
                since = None
            if since is not None and since.tzinfo is not None and modified <= since:
                return 304, b"", validators, False
        return 200, body, {"Content-Type": content_type, **validators}, True


@pytest.fixture
def rss_feed(settings):
    settings.RSS_ALLOW_INTERNAL_FEEDS = True  # the fake listens on loopback, which the room refuses otherwise
    fake = FakeFeedServer().start()
    try:
        yield fake
    finally:
        fake.close()
