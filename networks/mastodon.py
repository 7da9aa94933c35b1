"""Mastodon for the room: a Mastodon.py client for an account's instance (or the loopback
fake MASTODON_API_BASE_URL names in tests and the demo), its failures in the words of
networks/errors.py, and the publisher interface of networks/base.py. Listening's Mastodon
adapter fetches through `client_for` and `translated_errors`.

Settings read here (getattr with defaults): MASTODON_API_BASE_URL (empty: the account's
own instance URL), MASTODON_TIMEOUT_SECONDS (10).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import MaxRetryError, NewConnectionError
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from .base import Channel, Found, Limits, MediaFile, Published
from .errors import PermanentError, PublishOutcomeUnknown, RateLimited, TransientError

NETWORK = "mastodon"
LABEL = "Mastodon"
LIMITS = Limits(max_chars=500, url_chars=23, counts="code points", max_media=4,
                max_image_bytes=16 * 1024 * 1024, max_video_bytes=99 * 1024 * 1024)
DEFAULT_TIMEOUT = 10.0
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
DETAIL_LIMIT = 300
STATUS_ID = re.compile(r"[0-9]{1,30}")
ASSUMED_VERSION = "4.3.0"  # so Mastodon.py does not ask the instance for its version first


def valid_id(value) -> str | None:
    """`value` as a Mastodon id (digits, as a string), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    return str(value) if isinstance(value, str) and STATUS_ID.fullmatch(value) else None


# --- client ----------------------------------------------------------------------------

def base_url(channel: Channel) -> str:
    """Where requests go: MASTODON_API_BASE_URL when set (the fake), else the account's instance."""
    override = getattr(settings, "MASTODON_API_BASE_URL", "") or ""
    return (override or channel.instance_url).rstrip("/")


def client_for(channel: Channel) -> Mastodon:
    url = base_url(channel)
    if not url:
        raise PermanentError("This Mastodon account or source has no instance URL: add the instance's https:// address.")
    timeout = float(getattr(settings, "MASTODON_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    return Mastodon(access_token=channel.secret or None, api_base_url=url, ratelimit_method="throw",
                    request_timeout=timeout, mastodon_version=ASSUMED_VERSION, version_check_mode="created")


def instance_host(channel: Channel) -> str:
    """The instance's host as mention ids carry it ("<host>:<status id>" fits the 128
    characters of an id: a host longer than 96 is stood for by a digest of it)."""
    host = urlsplit(channel.instance_url).hostname or "mastodon"
    return host if len(host) <= 96 else "h-" + hashlib.sha256(host.encode()).hexdigest()[:32]


# --- errors ----------------------------------------------------------------------------

def _reset_at(client: Mastodon | None) -> tuple[datetime, bool]:
    reset = getattr(client, "ratelimit_reset", None) if client is not None else None
    if isinstance(reset, (int, float)) and reset > 0:
        return datetime.fromtimestamp(reset, tz=timezone.utc), True
    return datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT, False


def _never_sent(exc: BaseException) -> bool:
    """True when the request certainly did not reach the instance (Mastodon.py wraps the
    requests exception; its context is the original)."""
    cause = exc.__context__
    if isinstance(cause, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = cause.args[0] if cause.args else None
        return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
    return False


def _api_detail(exc: MastodonAPIError) -> tuple[str, str]:
    args = exc.args
    status = f"{args[1]} {args[2]}".strip() if len(args) >= 3 else ""
    detail = str(args[3]) if len(args) >= 4 and args[3] else ""
    return status, detail[:DETAIL_LIMIT]


@contextmanager
def translated_errors(client: Mastodon | None = None, *, publishing: bool = False) -> Iterator[None]:
    """Turns Mastodon.py's failures into networks/errors.py's errors, in words."""
    uncertain = PublishOutcomeUnknown if publishing else TransientError
    maybe = " Mastodon may have published it: check the account before trying again." if publishing else ""
    try:
        yield
    except MastodonRatelimitError as exc:
        reset_at, said = _reset_at(client)
        message = f"Mastodon rate limit: no requests until {reset_at:%H:%M} UTC"
        if not said:
            message += " (the instance did not say when; waiting 5 minutes)"
        raise RateLimited(message, reset_at) from exc
    except MastodonUnauthorizedError as exc:
        status, detail = _api_detail(exc)
        raise PermanentError(f"Mastodon did not accept the access token ({status}): {detail}. "
                             "Check the account's token and its scopes.") from exc
    except MastodonNotFoundError as exc:
        status, detail = _api_detail(exc)
        raise PermanentError(f"Mastodon has no such thing ({status}): {detail}") from exc
    except MastodonServerError as exc:
        status, detail = _api_detail(exc)
        raise uncertain(f"Mastodon had a server error ({status}): {detail}.{maybe}") from exc
    except MastodonNetworkError as exc:
        seconds = float(getattr(settings, "MASTODON_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
        if _never_sent(exc):
            raise TransientError(f"Could not reach Mastodon ({str(exc)[:DETAIL_LIMIT]}).") from exc
        cause = exc.__context__
        if isinstance(cause, requests.Timeout):
            raise uncertain(f"Mastodon did not answer within {seconds:g} s.{maybe}") from exc
        raise uncertain(f"The connection to Mastodon failed ({str(exc)[:DETAIL_LIMIT]}).{maybe}") from exc
    except MastodonAPIError as exc:
        status, detail = _api_detail(exc)
        if not status:  # Mastodon.py could not parse the answer as JSON
            raise uncertain(f"Mastodon sent a response that is not valid JSON.{maybe}") from exc
        raise PermanentError(f"Mastodon refused the request ({status}): {detail}") from exc
    except MastodonIllegalArgumentError as exc:
        raise PermanentError(f"Mastodon.py refused the request: {str(exc)[:DETAIL_LIMIT]}") from exc
    except MastodonError as exc:
        raise uncertain(f"Mastodon failed ({type(exc).__name__}: {str(exc)[:DETAIL_LIMIT]}).{maybe}") from exc


# --- text ------------------------------------------------------------------------------

class _Text(HTMLParser):
    """A status's HTML content as the plain text a person reads: paragraphs and line breaks
    kept, tags dropped, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()


# --- the publisher interface -----------------------------------------------------------

def channel_clean(channel: Channel) -> Channel:
    """An instance URL (https, a host) and an access token, as an account needs them."""
    url = channel.instance_url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise PermanentError("Instance URL: the instance's address, like https://mastodon.social.")
    if not channel.secret:
        raise PermanentError("Access token is empty: create one under Preferences > Development on the instance "
                             "(scopes read and write).")
    handle = channel.handle.strip().removeprefix("@").split("@", 1)[0]
    if not re.fullmatch(r"[A-Za-z0-9_]{1,30}", handle):
        raise PermanentError(f"{channel.handle[:40]!r} is not a Mastodon username (letters, digits, underscores).")
    return replace(channel, instance_url=url, handle=handle)


def guarded_url(channel: Channel) -> str | None:
    """The instance a person typed, for the SSRF guard; None when MASTODON_API_BASE_URL
    (set by the operator) sends the requests elsewhere."""
    if getattr(settings, "MASTODON_API_BASE_URL", ""):
        return None
    return channel.instance_url or None


def local_id(channel: Channel, post_id: str) -> str:
    """A mention's id as the room stores it ("<instance host>:<id>", since ids are per
    instance) as this account's instance knows it; PermanentError when it is another's."""
    host, sep, status_id = post_id.rpartition(":")
    if sep and host and host != instance_host(channel):
        raise PermanentError(f"This post is on {host[:80]}; the account {channel.handle} is on "
                             f"{instance_host(channel)}: reply from an account on the same instance.")
    if valid_id(status_id) is None:
        raise PermanentError(f"{post_id[:60]!r} is not a Mastodon post id.")
    return status_id


def _upload(client: Mastodon, media: MediaFile) -> str:
    with translated_errors(client, publishing=False):
        attachment = client.media_post(media.data, mime_type=media.mime_type, description=media.alt_text or None,
                                       file_name=media.filename)
    media_id = valid_id(attachment.get("id")) if isinstance(attachment, dict) else None
    if media_id is None:
        raise TransientError("Mastodon accepted a media file but sent no id for it.")
    return media_id


def publish(channel: Channel, text: str, *, reply_to: str | None = None, media: Sequence[MediaFile] = (),
            idempotency_key: str | None = None) -> Published:
    """Post one status (a reply when `reply_to` is a mention's id), after uploading its
    media through the instance's media endpoint. One create request, never retried here;
    `idempotency_key` makes the instance answer a repeat with the first status."""
    client = client_for(channel)
    try:
        reply_id = local_id(channel, reply_to) if reply_to else None
        media_ids = [_upload(client, item) for item in media]
        with translated_errors(client, publishing=True):
            status = client.status_post(text, in_reply_to_id=reply_id, media_ids=media_ids or None,
                                        idempotency_key=idempotency_key)
    finally:
        client.session.close()
    status_id = valid_id(status.get("id")) if isinstance(status, dict) else None
    if status_id is None:
        raise PublishOutcomeUnknown("Mastodon accepted the post but its answer carried no id: check the account "
                                    "before trying again.")
    url = status.get("url") if isinstance(status.get("url"), str) else post_url(channel, status_id)
    return Published(id=status_id, url=url)


def delete(channel: Channel, post_id: str) -> None:
    client = client_for(channel)
    try:
        with translated_errors(client):
            client.status_delete(local_id(channel, post_id))
    finally:
        client.session.close()


def lookup(channel: Channel, post_id: str) -> Found | None:
    client = client_for(channel)
    try:
        with translated_errors(client):
            status = client.status(local_id(channel, post_id))
    except PermanentError as error:
        if isinstance(error.__cause__, MastodonNotFoundError):
            return None
        raise
    finally:
        client.session.close()
    status_id = valid_id(status.get("id")) if isinstance(status, dict) else None
    if status_id is None:
        return None
    return Found(id=status_id, text=plain_text(str(status.get("content") or "")), url=str(status.get("url") or ""))


def repost(channel: Channel, post_id: str) -> Published:
    """Reblog (boost) one status as the account; the reblog's own id is kept. One request,
    never retried here."""
    client = client_for(channel)
    try:
        with translated_errors(client, publishing=True):
            status = client.status_reblog(local_id(channel, post_id))
    finally:
        client.session.close()
    status_id = valid_id(status.get("id")) if isinstance(status, dict) else None
    if status_id is None:
        raise PublishOutcomeUnknown("Mastodon accepted the reblog but its answer carried no id: check the account "
                                    "before trying again.")
    return Published(id=status_id, url=post_url(channel, post_id))


LOOKUP_BATCH = 20  # GET /api/v1/statuses?id[]= takes a page of ids


def _count(status, name: str) -> int:
    value = status.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def engagement(channel: Channel, ids: list[str]) -> dict[str, dict]:
    """The counts of these statuses, by the id given: favourites as likes, reblogs as
    reposts, replies; Mastodon counts no quotes (0) and no impressions (None). Statuses the
    instance no longer shows are left out. One request per 20 ids (GET /api/v1/statuses
    with id[], Mastodon 4.3). Raises networks/errors.py's errors."""
    wanted: dict[str, str] = {}
    for post_id in dict.fromkeys(ids):
        try:
            wanted[local_id(channel, post_id)] = post_id
        except PermanentError:
            continue
    if not wanted:
        return {}
    client = client_for(channel)
    found: dict[str, dict] = {}
    local = list(wanted)
    try:
        for start in range(0, len(local), LOOKUP_BATCH):
            with translated_errors(client):
                statuses = client.statuses(local[start:start + LOOKUP_BATCH])
            for status in statuses if isinstance(statuses, list) else []:
                status_id = valid_id(status.get("id")) if isinstance(status, dict) else None
                if status_id not in wanted:
                    continue
                found[wanted[status_id]] = {
                    "likes": _count(status, "favourites_count"), "reposts": _count(status, "reblogs_count"),
                    "replies": _count(status, "replies_count"), "quotes": 0, "impressions": None,
                }
    finally:
        client.session.close()
    return found


def post_url(channel: Channel, post_id: str) -> str:
    return f"{channel.instance_url.rstrip('/')}/@{channel.handle}/{post_id.rpartition(':')[2]}"
