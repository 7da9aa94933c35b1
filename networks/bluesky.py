"""Bluesky for the room: an atproto client logged in as an account (handle + app password)
on its PDS (or the loopback fake BLUESKY_API_BASE_URL names in tests and the demo), its
failures in the words of networks/errors.py, and the publisher interface of
networks/base.py. Listening's Bluesky adapter fetches through `session_for`, `query` and
`translated_errors`.

A login (com.atproto.server.createSession) is rate limited by Bluesky per handle (30 per
five minutes), so each process keeps one logged-in client per account and reuses it; an
answer that the session is no longer valid logs in again once.

Settings read here (getattr with defaults): BLUESKY_API_BASE_URL (empty: the account's PDS,
https://bsky.social by default), BLUESKY_TIMEOUT_SECONDS (10).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from atproto import Client, models
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    RequestException,
    UnauthorizedError,
)
from atproto_core.exceptions import AtProtocolError
from django.conf import settings

from .base import Channel, Found, Limits, MediaFile, Published
from .errors import PermanentError, PublishOutcomeUnknown, RateLimited, TransientError

NETWORK = "bluesky"
LABEL = "Bluesky"
LIMITS = Limits(max_chars=300, counts="graphemes", max_media=4, media_types=("image/png", "image/jpeg", "image/gif",
                "image/webp"), max_image_bytes=1_000_000)
DEFAULT_PDS = "https://bsky.social"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
DETAIL_LIMIT = 300
POST_URI = re.compile(r"at://(did:[a-z]+:[A-Za-z0-9._:%-]{1,200}|[A-Za-z0-9.-]{1,253})/app\.bsky\.feed\.post/([A-Za-z0-9._~:-]{1,64})")
HANDLE = re.compile(r"(?=.{3,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

_sessions: dict[tuple[str, str, str], Client] = {}  # logged-in clients, per account, in this process
_sessions_lock = threading.Lock()
T = TypeVar("T")


def valid_uri(value) -> str | None:
    """`value` when it is the at:// URI of a post, else None."""
    return value if isinstance(value, str) and len(value) <= 128 and POST_URI.fullmatch(value) else None


# --- client ----------------------------------------------------------------------------

def base_url(channel: Channel) -> str:
    override = getattr(settings, "BLUESKY_API_BASE_URL", "") or ""
    return (override or channel.instance_url or DEFAULT_PDS).rstrip("/")


def _new_client(channel: Channel) -> Client:
    from atproto_client.request import Request

    timeout = float(getattr(settings, "BLUESKY_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    return Client(base_url=base_url(channel), request=Request(timeout=timeout))


def _key(channel: Channel) -> tuple[str, str, str]:
    return base_url(channel), channel.handle.casefold(), hashlib.sha256(channel.secret.encode()).hexdigest()


def session_for(channel: Channel, *, fresh: bool = False) -> Client:
    """A client logged in as the account: the one this process logged in earlier (atproto
    refreshes its session when it nears expiry) unless `fresh`, else a new login with the
    handle and app password (one createSession)."""
    if not channel.handle or not channel.secret:
        raise PermanentError("This Bluesky account or source needs its handle and an app password.")
    key = _key(channel)
    with _sessions_lock:
        kept = None if fresh else _sessions.get(key)
    if kept is not None:
        return kept
    client = _new_client(channel)
    with translated_errors(login=True):
        client.login(channel.handle, channel.secret, fetch_bsky_profile=False)
    with _sessions_lock:
        _sessions[key] = client
    return client


def forget_session(channel: Channel) -> None:
    with _sessions_lock:
        _sessions.pop(_key(channel), None)


def with_session(channel: Channel, call: Callable[[Client], T]) -> T:
    """`call(client)` as the account; when the kept session is refused (401: not a 403,
    which refuses the account itself), once more after a fresh login (a refused request
    created nothing)."""
    client = session_for(channel)
    try:
        return call(client)
    except PermanentError as error:
        cause = error.__cause__
        if not isinstance(cause, UnauthorizedError) or getattr(cause.response, "status_code", None) != 401:
            raise
    forget_session(channel)
    return call(session_for(channel, fresh=True))


def query(client: Client, nsid: str, params) -> dict:
    """One XRPC query through atproto's client (`params` its Params model for `nsid`), its
    JSON as sent: listening maps it field by field, so one malformed post does not sink the
    page as parsing it into atproto's models would."""
    with translated_errors():
        response = client.invoke_query(nsid, params=params)
    content = response.content
    if not isinstance(content, dict):
        raise TransientError(f"Bluesky sent an answer to {nsid} we could not read (not a JSON object).")
    return content


# --- errors ----------------------------------------------------------------------------

def _detail(exc: RequestErrorBase) -> str:
    content = getattr(exc.response, "content", None)
    error = getattr(content, "error", None) or (content.get("error") if isinstance(content, dict) else None)
    message = getattr(content, "message", None) or (content.get("message") if isinstance(content, dict) else None)
    return ": ".join(str(part) for part in (error, message) if part)[:DETAIL_LIMIT]


def _status(exc: RequestErrorBase) -> str:
    return str(exc.response.status_code) if exc.response is not None else ""


def _never_sent(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout))


@contextmanager
def translated_errors(*, publishing: bool = False, login: bool = False) -> Iterator[None]:
    """Turns atproto's failures into networks/errors.py's errors, in words."""
    uncertain = PublishOutcomeUnknown if publishing else TransientError
    maybe = " Bluesky may have published it: check the account before trying again." if publishing else ""
    try:
        yield
    except RateLimitExceededError as exc:
        reset_at = exc.reset_at
        said = reset_at is not None
        if reset_at is None and exc.retry_after is not None:
            reset_at, said = datetime.now(timezone.utc) + timedelta(seconds=exc.retry_after), True
        reset_at = reset_at or datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT
        message = f"Bluesky rate limit: no requests until {reset_at:%H:%M} UTC"
        if not said:
            message += " (Bluesky did not say when; waiting 5 minutes)"
        raise RateLimited(message, reset_at) from exc
    except UnauthorizedError as exc:
        what = "the handle and app password" if login else "the session"
        raise PermanentError(f"Bluesky did not accept {what} ({_status(exc)}): {_detail(exc)}. "
                             "Check the account's handle and app password.") from exc
    except BadRequestError as exc:
        raise PermanentError(f"Bluesky refused the request ({_status(exc)}): {_detail(exc)}") from exc
    except InvokeTimeoutError as exc:
        seconds = float(getattr(settings, "BLUESKY_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
        if _never_sent(exc):
            raise TransientError(f"Could not connect to Bluesky within {seconds:g} s.") from exc
        raise uncertain(f"Bluesky did not answer within {seconds:g} s.{maybe}") from exc
    except NetworkError as exc:
        if exc.response is None and _never_sent(exc):
            raise TransientError(f"Could not reach Bluesky ({type(exc.__cause__).__name__}).") from exc
        status = f" ({_status(exc)}: {_detail(exc)})" if exc.response is not None else ""
        raise uncertain(f"Bluesky had a server or network error{status}.{maybe}") from exc
    except RequestException as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500:
            raise uncertain(f"Bluesky had a server error ({status}): {_detail(exc)}.{maybe}") from exc
        raise PermanentError(f"Bluesky refused the request ({status}): {_detail(exc)}") from exc
    except LoginRequiredError as exc:
        raise PermanentError("Bluesky needs a login for this: check the account's handle and app password.") from exc
    except (AtProtocolError, ValueError) as exc:  # an answer atproto could not parse into its models
        raise uncertain(f"Bluesky sent a response we could not read ({type(exc).__name__}).{maybe}") from exc


# --- the publisher interface -----------------------------------------------------------

def channel_clean(channel: Channel) -> Channel:
    """A handle (name.bsky.social or the account's own domain), an app password, and a PDS
    (https://bsky.social unless the account lives elsewhere)."""
    handle = channel.handle.strip().removeprefix("@")
    if not HANDLE.fullmatch(handle):
        raise PermanentError(f"{channel.handle[:60]!r} is not a Bluesky handle: like brand.bsky.social.")
    if not channel.secret:
        raise PermanentError("App password is empty: create one under Settings > Privacy and security > App passwords.")
    url = (channel.instance_url or DEFAULT_PDS).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise PermanentError("PDS URL: the server's https:// address (leave it empty for https://bsky.social).")
    return replace(channel, handle=handle, instance_url=url)


def guarded_url(channel: Channel) -> str | None:
    """The PDS a person typed, for the SSRF guard; None when BLUESKY_API_BASE_URL (the
    operator's) sends requests elsewhere, or for Bluesky's own server."""
    if getattr(settings, "BLUESKY_API_BASE_URL", ""):
        return None
    url = channel.instance_url.rstrip("/")
    return url if url and url != DEFAULT_PDS else None


def _strong_ref(post) -> models.ComAtprotoRepoStrongRef.Main:
    return models.ComAtprotoRepoStrongRef.Main(uri=post.uri, cid=post.cid)


def _reply_ref(client: Client, uri: str) -> models.AppBskyFeedPost.ReplyRef:
    """Parent and root of a reply to `uri` (Bluesky needs both, with their CIDs)."""
    with translated_errors():
        found = client.get_posts([uri]).posts
    if not found:
        raise PermanentError("The post to reply to is gone from Bluesky (deleted, or not visible to the account).")
    parent = found[0]
    reply = getattr(parent.record, "reply", None)
    root = reply.root if reply is not None else _strong_ref(parent)
    return models.AppBskyFeedPost.ReplyRef(parent=_strong_ref(parent), root=root)


def _embed(client: Client, media: Sequence[MediaFile]):
    images = []
    for item in media:
        if not item.mime_type.startswith("image/"):
            raise PermanentError(f"Bluesky takes images here, not {item.mime_type}.")
        with translated_errors():
            blob = client.upload_blob(item.data).blob
        images.append(models.AppBskyEmbedImages.Image(alt=item.alt_text or "", image=blob))
    return models.AppBskyEmbedImages.Main(images=images) if images else None


def publish(channel: Channel, text: str, *, reply_to: str | None = None, media: Sequence[MediaFile] = ()) -> Published:
    """Create one post (a reply when `reply_to` is a post's at:// URI), its images uploaded
    as blobs first. One createRecord request, never retried here."""
    if reply_to and valid_uri(reply_to) is None:
        raise PermanentError(f"{reply_to[:60]!r} is not a Bluesky post to reply to.")

    def send(client: Client):
        reply = _reply_ref(client, reply_to) if reply_to else None
        embed = _embed(client, media)
        with translated_errors(publishing=True):
            return client.send_post(text, profile_identify=channel.handle, reply_to=reply, embed=embed)

    created = with_session(channel, send)  # a refused session (401) created nothing: logged in again once
    uri = valid_uri(getattr(created, "uri", None))
    if uri is None:
        raise PublishOutcomeUnknown("Bluesky accepted the post but its answer carried no post URI: check the "
                                    "account before trying again.")
    return Published(id=uri, url=post_url(channel, uri))


def delete(channel: Channel, post_id: str) -> None:
    if valid_uri(post_id) is None:
        raise PermanentError(f"{post_id[:60]!r} is not a Bluesky post.")

    def call(client: Client) -> None:
        with translated_errors():
            client.delete_post(post_id)
    with_session(channel, call)


def lookup(channel: Channel, post_id: str) -> Found | None:
    if valid_uri(post_id) is None:
        return None

    def call(client: Client):
        with translated_errors():
            return client.get_posts([post_id]).posts
    found = with_session(channel, call)
    if not found:
        return None
    return Found(id=found[0].uri, text=str(getattr(found[0].record, "text", "")), url=post_url(channel, found[0].uri))


def repost(channel: Channel, post_id: str) -> Published:
    """Repost one post as the account: an app.bsky.feed.repost record whose subject is the
    post (its URI and CID, looked up first). The repost record's URI is kept; the URL is
    the post's. One createRecord request, never retried here."""
    if valid_uri(post_id) is None:
        raise PermanentError(f"{post_id[:60]!r} is not a Bluesky post to repost.")

    def send(client: Client):
        with translated_errors():
            found = client.get_posts([post_id]).posts
        if not found:
            raise PermanentError("The post to repost is gone from Bluesky (deleted, or not visible to the account).")
        record = models.AppBskyFeedRepost.Record(created_at=client.get_current_time_iso(),
                                                 subject=_strong_ref(found[0]))
        with translated_errors(publishing=True):
            return client.app.bsky.feed.repost.create(channel.handle, record)

    created = with_session(channel, send)
    uri = getattr(created, "uri", None)
    if not isinstance(uri, str) or not uri.startswith("at://") or len(uri) > 128:
        raise PublishOutcomeUnknown("Bluesky accepted the repost but its answer carried no URI: check the account "
                                    "before trying again.")
    return Published(id=uri, url=post_url(channel, post_id))


LOOKUP_BATCH = 25  # app.bsky.feed.getPosts takes up to 25 uris


def _count(post, name: str) -> int:
    value = getattr(post, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def engagement(channel: Channel, ids: list[str]) -> dict[str, dict]:
    """The counts of these posts, by URI (app.bsky.feed.getPosts: likeCount, repostCount,
    replyCount, quoteCount; Bluesky gives no impressions, None). Posts Bluesky no longer
    shows are left out. One request per 25 URIs, as the account. Raises
    networks/errors.py's errors."""
    uris = [uri for uri in dict.fromkeys(ids) if valid_uri(uri)]
    found: dict[str, dict] = {}
    for start in range(0, len(uris), LOOKUP_BATCH):
        batch = uris[start:start + LOOKUP_BATCH]

        def call(client: Client, batch=batch):
            with translated_errors():
                return client.get_posts(batch).posts
        for post in with_session(channel, call):
            if post.uri not in batch:
                continue
            found[post.uri] = {"likes": _count(post, "like_count"), "reposts": _count(post, "repost_count"),
                               "replies": _count(post, "reply_count"), "quotes": _count(post, "quote_count"),
                               "impressions": None}
    return found


def post_url(channel: Channel, post_id: str) -> str:
    match = POST_URI.fullmatch(post_id)
    if match is None:
        return ""
    return f"https://bsky.app/profile/{match.group(1)}/post/{match.group(2)}"
