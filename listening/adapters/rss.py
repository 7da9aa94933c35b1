"""RSS / Atom / news-feed adapter: `fetch(source)` for Source.Kind.RSS, where `source.query`
is the feed's URL.

The feed is fetched here with `requests` (conditional GET, timeouts, a size cap) and only the
bytes are handed to feedparser, so feedparser never opens a URL or a file itself.

Cursor shape (JSON, stored on the source once the mentions are stored):

    {
        "etag": str,       # the last ETag the feed sent; sent back as If-None-Match
        "modified": str,   # the last Last-Modified it sent; sent back as If-Modified-Since
        "seen": [str],     # external ids already returned, newest first, bounded
    }

Every key is optional; a missing or malformed value is treated as absent.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import io
import re
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import urlsplit

import feedparser
import requests
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from listening.adapters import FetchedMention, FetchResult, PermanentError, RateLimited, TransientError
from warroom import netguard
from warroom.netguard import NotPublic

# Module constants so tests (and operators) can tune them.
CONNECT_TIMEOUT = 5.0  # seconds to open the connection
READ_TIMEOUT = 15.0  # seconds the server may stay silent while answering
TOTAL_TIMEOUT = 60.0  # seconds for the whole body, against a server that trickles bytes
MAX_BYTES = 5 * 1024 * 1024  # the most body the room reads (after decompression)
MAX_REDIRECTS = 5
MAX_ENTRIES = 1000  # entries read from one response
SEEN_LIMIT = 500  # external ids remembered in the cursor (at least every id in the last response)
MAX_RETRY_AFTER = timedelta(hours=24)
FIRST_POLL_WINDOW = timedelta(hours=24)  # what a new source reads of a feed's past
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)  # a 429 that does not say how long to wait
USER_AGENT = "Warroom/0.1 (+rss)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
EXTERNAL_ID_MAX = 128  # Mention.external_id
LANG_MAX = 12  # Mention.lang
_CHUNK = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
_URI_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S")
_LANG_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def fetch(source) -> FetchResult:
    url = (source.query or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PermanentError("The feed URL must be a full web address starting with http:// or https://.")
    host = parts.hostname
    cursor = source.cursor if isinstance(source.cursor, dict) else {}

    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    etag = _str_or_empty(cursor.get("etag"))
    modified = _str_or_empty(cursor.get("modified"))
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified

    with requests.Session() as session:
        session.max_redirects = MAX_REDIRECTS
        if not settings.RSS_ALLOW_INTERNAL_FEEDS:
            session.trust_env = False  # no proxy from the environment: the guard must see the feed's own address
            session.mount("http://", _PublicOnlyAdapter())
            session.mount("https://", _PublicOnlyAdapter())
        try:
            response = session.get(url, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), stream=True)
        except NotPublic as error:
            raise PermanentError(f"{error} The room only reads feeds on the public internet.") from error
        except requests.exceptions.Timeout as error:
            if isinstance(error, requests.exceptions.ConnectTimeout):
                raise TransientError(
                    f"Could not connect to {host} within {_secs(CONNECT_TIMEOUT)}; the room will try again."
                ) from error
            raise TransientError(
                f"The feed at {host} did not answer within {_secs(READ_TIMEOUT)}; the room will try again."
            ) from error
        except requests.exceptions.TooManyRedirects as error:
            raise PermanentError(
                f"The feed at {host} redirected more than {MAX_REDIRECTS} times: check the URL."
            ) from error
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader) as error:
            raise PermanentError(f"The feed URL could not be used ({_short(error)}): check the URL.") from error
        except requests.exceptions.SSLError as error:
            raise TransientError(
                f"The secure connection to {host} failed ({_short(error)}); the room will try again."
            ) from error
        except requests.exceptions.RequestException as error:
            raise TransientError(
                f"Could not reach the feed at {host} ({_short(error)}); the room will try again."
            ) from error

        with response:
            _raise_for_status(response, host, source)
            if response.status_code == 304:
                return FetchResult(mentions=[], cursor=dict(cursor))
            body = _read_capped(response, host)
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            final_url = response.url

    response_headers.setdefault("content-location", final_url)
    new_cursor = dict(cursor)
    if response_headers.get("etag"):
        new_cursor["etag"] = response_headers["etag"]
    if response_headers.get("last-modified"):
        new_cursor["modified"] = response_headers["last-modified"]
    return _parse(body, response_headers, url, host, cursor, new_cursor)


# --- HTTP -------------------------------------------------------------------------------------
#
# A lead types the feed URL, and the worker fetching it sits inside our network: without a
# guard, a "feed" at http://169.254.169.254/ or http://10.0.0.5:6379/ would make the worker
# read internal services (server-side request forgery). Every connection, redirects
# included, checks the addresses the host resolves to (IPv4 inside IPv6 wrappers unwrapped)
# and the port (80 or 443) before connecting, and the address it actually connected to
# after (so a DNS answer that changes in between is caught too): warroom/netguard.py.


class _GuardedConnection(HTTPConnection):
    def _new_conn(self):
        netguard.check_host(self.host, self.port)
        sock = super()._new_conn()
        try:
            netguard.check_peer(self.host, sock.getpeername()[0])
        except NotPublic:
            sock.close()
            raise
        return sock


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _PublicOnlyAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}



def _raise_for_status(response, host: str, source) -> None:
    code = response.status_code
    if 200 <= code < 300 or code == 304:
        return
    status = _status_words(code)
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if code in (429, 503) and retry_after is not None:
        raise RateLimited(
            f"The feed answered {status} and asked the room to wait until "
            f"{retry_after:%Y-%m-%d %H:%M:%S} UTC.",
            retry_after,
        )
    if code == 429:
        wait = max(DEFAULT_RATE_LIMIT_WAIT, timedelta(seconds=getattr(source, "poll_interval", 0) or 0))
        reset = datetime.now(timezone.utc) + wait
        raise RateLimited(f"The feed answered {status}; the room will wait until {reset:%Y-%m-%d %H:%M:%S} UTC.", reset)
    if code >= 500:
        raise TransientError(f"The feed's server answered {status}; the room will try again.")
    if code == 404:
        raise PermanentError(f"The feed answered {status}: check the URL.")
    if code == 410:
        raise PermanentError(f"The feed answered {status}: the publisher removed it; find its new address.")
    if code == 401:
        raise PermanentError(f"The feed answered {status}: it needs a login the room does not have.")
    if code == 403:
        raise PermanentError(f"The feed answered {status}: the site refuses the room; check the URL.")
    if code in (408, 425):
        raise TransientError(f"The feed answered {status}; the room will try again.")
    if 400 <= code < 500:
        raise PermanentError(f"The feed answered {status}: check the URL.")
    raise TransientError(f"The feed answered an unexpected {status}; the room will try again.")


def _read_capped(response, host: str) -> bytes:
    """The body, decompressed, refusing more than MAX_BYTES and more than TOTAL_TIMEOUT."""
    too_big = PermanentError(
        f"The feed at {host} is larger than {_size(MAX_BYTES)}, the most the room reads: "
        "point the source at a smaller feed."
    )
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > MAX_BYTES:  # compressed or not, decoded it is no smaller
        raise too_big

    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # read1 returns what has arrived; deadline checks stay live
    deadline = time.monotonic() + TOTAL_TIMEOUT
    buffer = io.BytesIO()
    size = 0
    try:
        while True:
            chunk = read(_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BYTES:
                raise too_big
            buffer.write(chunk)
            if time.monotonic() > deadline:
                raise TransientError(
                    f"The feed at {host} took longer than {_secs(TOTAL_TIMEOUT)} to send; the room will try again."
                )
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as error:
        raise TransientError(
            f"The feed at {host} stopped sending for more than {_secs(READ_TIMEOUT)}; the room will try again."
        ) from error
    except urllib3.exceptions.DecodeError as error:
        raise TransientError(
            f"The feed at {host} sent a body that could not be decompressed; the room will try again."
        ) from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise TransientError(
            f"The connection to {host} broke while reading the feed ({_short(error)}); the room will try again."
        ) from error
    return buffer.getvalue()


def _retry_after(value: str | None) -> datetime | None:
    """Retry-After as an aware UTC datetime (delta-seconds or an HTTP date), bounded; None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    now = datetime.now(timezone.utc)
    if value.isdigit():
        when = now + min(timedelta(seconds=int(value[:9])), MAX_RETRY_AFTER)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        when = when.astimezone(timezone.utc)
    return min(max(when, now), now + MAX_RETRY_AFTER)


# --- parsing ----------------------------------------------------------------------------------


def _parse(body: bytes, response_headers: dict, url: str, host: str, old_cursor: dict, new_cursor: dict) -> FetchResult:
    try:
        # A stream, never bytes or str: given those, feedparser would try them as a URL or a file name.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as error:  # a third-party parser of hostile input; report, don't crash the poller
        raise TransientError(f"The feed at {host} could not be read ({_short(error)}); the room will try again.") from error

    entries = list(parsed.get("entries") or [])
    notes: list[str] = []
    bozo = bool(parsed.get("bozo"))
    problem = _short(parsed.get("bozo_exception")) if bozo else ""
    if not entries:
        if bozo:
            raise TransientError(
                f"The feed at {host} could not be parsed ({problem}): check that the URL is an RSS or Atom feed."
            )
        if body.strip() and not parsed.get("version"):
            raise TransientError(f"The address {host} did not answer an RSS or Atom feed: check the URL.")
    elif bozo:
        notes.append(f"The feed at {host} is not well-formed ({problem}); the room read {len(entries)} items anyway.")
    if len(entries) > MAX_ENTRIES:
        notes.append(f"The feed at {host} lists {len(entries)} items; the room read the first {MAX_ENTRIES}.")
        entries = entries[:MAX_ENTRIES]

    feed = parsed.get("feed") or {}
    feed_title = _plain(feed.get("title", ""), (feed.get("title_detail") or {}).get("type"))
    feed_lang = _lang(feed.get("language")) or _lang(response_headers.get("content-language"))
    now = datetime.now(timezone.utc)

    seen = [s for s in old_cursor.get("seen", []) if isinstance(s, str)] if isinstance(old_cursor.get("seen"), list) else []
    seen_set = set(seen)
    current_ids: list[str] = []
    mentions: list[FetchedMention] = []
    for entry in entries:
        try:
            mention = _mention(entry, url, host, feed_title, feed_lang, now)
        except Exception as error:  # one odd entry must not sink the whole feed
            notes.append(f"One item of the feed at {host} could not be read ({_short(error)}).")
            continue
        if mention is None or mention.external_id in current_ids:
            continue
        current_ids.append(mention.external_id)
        if mention.external_id not in seen_set:
            mentions.append(mention)

    if "seen" not in old_cursor:  # a new source: start from the present, not the feed's archive
        recent = [m for m in mentions if now - m.posted_at <= FIRST_POLL_WINDOW]
        if len(recent) < len(mentions):
            notes.append(f"First read of the feed at {host}: {len(mentions) - len(recent)} items older than "
                         f"{FIRST_POLL_WINDOW.total_seconds() / 3600:g} hours were skipped.")
        mentions = recent
    mentions.sort(key=lambda m: m.posted_at)
    current_set = set(current_ids)
    limit = max(SEEN_LIMIT, len(current_ids))
    new_cursor["seen"] = (current_ids + [s for s in seen if s not in current_set])[:limit]
    return FetchResult(mentions=mentions, cursor=new_cursor, notes=notes)


def _mention(entry, feed_url: str, host: str, feed_title: str, feed_lang: str, now: datetime) -> FetchedMention | None:
    title_detail = entry.get("title_detail") or {}
    summary_detail = entry.get("summary_detail") or {}
    title = _plain(entry.get("title", ""), title_detail.get("type"))
    summary_raw, summary_type = entry.get("summary", ""), summary_detail.get("type")
    if not summary_raw and entry.get("content"):
        content = entry["content"][0]
        summary_raw, summary_type = content.get("value", ""), content.get("type")
    summary = _plain(summary_raw, summary_type)
    if summary == title:
        summary = ""
    text = " — ".join(part for part in (title, summary) if part)

    link = _str_or_empty(entry.get("link")).strip()
    if urlsplit(link).scheme.lower() not in ("http", "https"):
        link = ""
    if not text:
        if not link:
            return None  # nothing to show (e.g. the cut-off tail of a truncated feed)
        text = link

    posted_at = now
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = entry.get(key)
        if stamp:
            try:
                posted_at = min(datetime.fromtimestamp(calendar.timegm(stamp), tz=timezone.utc), now)
            except (TypeError, ValueError, OverflowError, OSError):
                continue
            break

    published = _str_or_empty(entry.get("published") or entry.get("updated"))
    author = _clean(_str_or_empty(entry.get("author"))) or feed_title
    lang = (
        _lang(summary_detail.get("language"))
        or _lang(title_detail.get("language"))
        or _lang(entry.get("language"))
        or feed_lang
    )
    return FetchedMention(
        external_id=_external_id(entry, link, feed_url, title, published),
        text=text,
        posted_at=posted_at,
        author_handle=host,
        author_name=author,
        url=link,
        lang=lang,
    )


def _external_id(entry, link: str, feed_url: str, title: str, published: str) -> str:
    """The entry's id/guid, else its link, else a hash of title + published.

    Mentions are unique per platform ("rss") across every feed, so an id that is not a URI
    (a bare "42", common in small CMSs) is qualified with the feed URL, and one too long for
    the column is hashed rather than cut (cutting could merge two items). An id with a NUL
    is refused: cleaning it would merge "a\\0b" with "ab"."""
    if "\x00" in _str_or_empty(entry.get("id")):
        raise ValueError("its id contains a NUL character, so it could be mistaken for another item")
    raw = _clean(_str_or_empty(entry.get("id"))) or link
    if not raw:
        digest = hashlib.sha256(f"{feed_url}\n{title}\n{published}".encode("utf-8", "replace")).hexdigest()
        return f"sha256:{digest}"
    if not _URI_LIKE.match(raw):
        raw = f"{feed_url}#{raw}"
    if len(raw) > EXTERNAL_ID_MAX:
        raw = "sha256:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()
    return raw


# --- text -------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    SKIP = {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math", "head", "title"}
    BLOCK = {
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "td",
        "th", "table", "pre", "hr", "section", "article", "header", "footer", "figure", "figcaption", "dd", "dt",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)  # entities become characters (html.unescape)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def _html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _plain(value, content_type: str | None) -> str:
    """Plain text from a feedparser value: (already sanitised) HTML loses its tags, text stays text."""
    value = _str_or_empty(value)
    if not value:
        return ""
    if content_type and ("html" in content_type or "xml" in content_type):
        value = _html_to_text(value)
    return _clean(value)


def _clean(value: str) -> str:
    return _SPACE.sub(" ", _CONTROL.sub("", value)).strip()


def _lang(value) -> str:
    value = _str_or_empty(value).strip()
    if not value or len(value) > LANG_MAX or not _LANG_TAG.match(value):
        return ""
    return value


# --- words ------------------------------------------------------------------------------------


def _str_or_empty(value) -> str:
    return value if isinstance(value, str) else ""


def _status_words(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _short(error) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = error.args[0] if error.args else error
        reason = getattr(reason, "reason", reason)
        if isinstance(reason, urllib3.exceptions.NameResolutionError):
            return "the host name does not resolve"
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return "the connection was refused"
        text = str(reason)
    else:
        text = str(error) or type(error).__name__
    text = _clean(text)
    return text if len(text) <= 160 else text[:157] + "..."


def _secs(seconds: float) -> str:
    return f"{seconds:g} seconds" if seconds != 1 else "1 second"


def _size(nbytes: int) -> str:
    return f"{nbytes / (1024 * 1024):g} MB"
