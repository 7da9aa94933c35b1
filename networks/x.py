"""X (API v2) for the room: a tweepy client pointed where the environment says, its
failures in the words of networks/errors.py, and publishing. tweepy talks to the fixed
host https://api.twitter.com; a transport mounted on its requests session sends those
requests to X_API_BASE_URL when it is set (the loopback fake in tests and the demo) and
enforces X_TIMEOUT_SECONDS on every request. Listening's X adapter fetches through
`client_for` and `translated_errors`; approvals and drills publish through the interface
of networks/base.py (`publish`, `delete`, `lookup`, `post_url`); room/flows/engagement.py
reads what went out with `engagement`.

Settings read here (getattr with defaults): X_BEARER_TOKEN, X_API_BASE_URL,
X_TIMEOUT_SECONDS (10), and for publishing X_CONSUMER_KEY, X_CONSUMER_SECRET,
X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET (OAuth 1.0a user context) or X_USER_ACCESS_TOKEN
(OAuth 2.0 user context), and X_SANDBOX_USER_ACCESS_TOKEN for drills.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import requests
import tweepy
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .base import Channel, Found, Limits, MediaFile, Published
from .errors import PermanentError, PublishOutcomeUnknown, RateLimited, TransientError

NETWORK = "x"
LABEL = "X"
READS_BUDGETED = True  # every post read counts against the monthly cap listening keeps
LIMITS = Limits(max_chars=280, url_chars=23, counts="weighted", max_media=4)

X_HOST = "https://api.twitter.com"
UPLOAD_HOST = "https://upload.twitter.com"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)
DETAIL_LIMIT = 300
POST_ID = re.compile(r"[0-9]{1,20}")


# --- transport -------------------------------------------------------------------------

class XTransport(HTTPAdapter):
    """Sends requests for https://api.twitter.com to `base_url` instead (when given), with
    a timeout (seconds X may stay silent while connecting or between bytes) and no retries."""

    def __init__(self, *, base_url: str = "", timeout: float = DEFAULT_TIMEOUT, host: str = X_HOST):
        super().__init__(max_retries=0)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.host = host

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if self.base_url and request.url.startswith(self.host + "/"):
            request.url = self.base_url + request.url[len(self.host):]
            # The session chose proxies for api.twitter.com; choose them again for the real target.
            proxies = requests.utils.get_environ_proxies(request.url)
        return super().send(request, stream=stream, timeout=self.timeout if timeout is None else timeout,
                            verify=verify, cert=cert, proxies=proxies)


def client_for(**credentials) -> tweepy.Client:
    """A tweepy client with these credentials, sending to X_API_BASE_URL when it is set."""
    # return_type=dict: tweepy's Tweet/User objects parse eagerly, so one bad created_at would
    # sink a whole page; the raw JSON lets us skip just that post.
    client = tweepy.Client(**credentials, return_type=dict, wait_on_rate_limit=False)
    timeout = float(getattr(settings, "X_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    client.session.mount(X_HOST + "/", XTransport(base_url=settings.X_API_BASE_URL or "", timeout=timeout))
    return client


_clients: dict[tuple, tweepy.Client] = {}


def client_cached(**credentials) -> tweepy.Client:
    """`client_for`, made once per process (a forked worker makes its own) and thread for each
    set of credentials and target, and kept: publishing reuses the client and its kept-alive
    connection instead of a new client and TLS handshake per post."""
    key = (os.getpid(), threading.get_ident(), settings.X_API_BASE_URL or "", getattr(settings, "X_TIMEOUT_SECONDS", DEFAULT_TIMEOUT),
           tuple(sorted(credentials.items())))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = client_for(**credentials)
    return client


def _client_forget(client: tweepy.Client) -> None:
    """After a failed call: the next one starts from a fresh client and connection."""
    for key, kept in list(_clients.items()):
        if kept is client:
            del _clients[key]
    client.session.close()


# --- errors ----------------------------------------------------------------------------

def _detail(exc: tweepy.HTTPException) -> str:
    detail = "; ".join(str(message) for message in exc.api_messages if message)
    if not detail:
        try:
            detail = exc.response.text.strip()
        except (AttributeError, ValueError):
            detail = ""
    return detail[:DETAIL_LIMIT]


def _status(exc: tweepy.HTTPException) -> str:
    return f"{exc.response.status_code} {exc.response.reason}".strip()


def _rate_limited(exc: tweepy.TooManyRequests) -> RateLimited:
    reset = exc.reset_time
    if reset is None:
        reset_at = datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT
    else:
        reset_at = datetime.fromtimestamp(reset, tz=timezone.utc)
    when = f"{reset_at:%H:%M} UTC"
    if reset_at - datetime.now(timezone.utc) > timedelta(hours=20):
        when = f"{reset_at:%Y-%m-%d %H:%M} UTC"
    message = f"X rate limit: no requests until {when}"
    if reset is None:
        message += " (X did not say when; waiting 15 minutes)"
    detail = _detail(exc)
    if detail and detail.lower() != "too many requests":
        message += f" ({detail})"
    return RateLimited(message, reset_at)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach X (so a post cannot have been made)."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


@contextmanager
def translated_errors(*, publishing: bool = False) -> Iterator[None]:
    """Turns tweepy and requests failures into networks/errors.py's errors, in words."""
    uncertain = PublishOutcomeUnknown if publishing else TransientError
    maybe = " X may have published it: check the account before trying again." if publishing else ""
    try:
        yield
    except tweepy.TooManyRequests as exc:
        raise _rate_limited(exc) from exc
    except tweepy.Unauthorized as exc:
        hint = "X_BEARER_TOKEN" if not publishing else "the posting credentials (X_ACCESS_TOKEN and friends)"
        raise PermanentError(f"X did not accept the credentials ({_status(exc)}): {_detail(exc)}. Check {hint}.") from exc
    except tweepy.Forbidden as exc:
        hint = ""
        if publishing and "application-only" in _detail(exc).lower():
            hint = " Posting needs user-context credentials: set X_ACCESS_TOKEN and friends or X_USER_ACCESS_TOKEN."
        raise PermanentError(f"X refused the request ({_status(exc)}): {_detail(exc)}.{hint}") from exc
    except (tweepy.BadRequest, tweepy.NotFound) as exc:
        raise PermanentError(f"X refused the request ({_status(exc)}): {_detail(exc)}") from exc
    except tweepy.TwitterServerError as exc:
        raise uncertain(f"X had a server error ({_status(exc)}): {_detail(exc)}.{maybe}") from exc
    except tweepy.HTTPException as exc:
        raise PermanentError(f"X answered {_status(exc)}: {_detail(exc)}") from exc
    except requests.exceptions.JSONDecodeError as exc:
        raise uncertain(f"X sent a response that is not valid JSON ({exc.msg} at character {exc.pos}).{maybe}") from exc
    except requests.Timeout as exc:
        seconds = float(getattr(settings, "X_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
        if _never_sent(exc):
            raise TransientError(f"Could not connect to X within {seconds:g} s.") from exc
        raise uncertain(f"X did not answer within {seconds:g} s.{maybe}") from exc
    except requests.RequestException as exc:
        if publishing and not _never_sent(exc):
            raise uncertain(f"The connection to X failed mid-request ({type(exc).__name__}).{maybe}") from exc
        raise TransientError(f"Could not reach X ({type(exc).__name__}: {str(exc)[:DETAIL_LIMIT]}).") from exc
    except ValueError as exc:  # tweepy's int() of a garbled x-rate-limit-reset header
        raise uncertain(f"X sent a response we could not read ({str(exc)[:DETAIL_LIMIT]}).{maybe}") from exc
    except tweepy.TweepyException as exc:  # the v1.1 API's own parse errors (a truncated answer)
        raise uncertain(f"X sent a response we could not read ({str(exc)[:DETAIL_LIMIT]}).{maybe}") from exc


def valid_id(value) -> str | None:
    """`value` when it is an X id (of a post or a user) as X writes them, else None."""
    return value if isinstance(value, str) and POST_ID.fullmatch(value) else None


# --- publishing ------------------------------------------------------------------------

def _publishing_credentials(*, sandbox: bool = False) -> tuple[dict[str, str], bool]:
    """User-context credentials (tweepy.Client keyword arguments) and whether tweepy should
    sign with OAuth 1.0a.

    `sandbox` (drills) posts only with X_SANDBOX_USER_ACCESS_TOKEN, the sandbox account's
    own token, and never falls back to the brand's credentials.

    X posts on behalf of a user: either OAuth 1.0a (X_CONSUMER_KEY, X_CONSUMER_SECRET,
    X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET) or an OAuth 2.0 user access token
    (X_USER_ACCESS_TOKEN, sent as a bearer). Without either, the app's X_BEARER_TOKEN is
    sent: the loopback fake accepts it, real X answers 403 and the error says what to set."""
    if sandbox:
        token = getattr(settings, "X_SANDBOX_USER_ACCESS_TOKEN", "") or ""
        if not token:
            raise PermanentError("No sandbox account to post to: set X_SANDBOX_USER_ACCESS_TOKEN. Drills never "
                                 "post with the brand's credentials.")
        return {"bearer_token": token}, False
    names = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
    oauth1 = {name: getattr(settings, name, "") or "" for name in names}
    if all(oauth1.values()):
        return {"consumer_key": oauth1["X_CONSUMER_KEY"], "consumer_secret": oauth1["X_CONSUMER_SECRET"],
                "access_token": oauth1["X_ACCESS_TOKEN"], "access_token_secret": oauth1["X_ACCESS_TOKEN_SECRET"]}, True
    if any(oauth1.values()):
        missing = ", ".join(name for name, value in oauth1.items() if not value)
        raise PermanentError(f"X posting credentials are incomplete: {missing} not set.")
    user_token = getattr(settings, "X_USER_ACCESS_TOKEN", "") or ""
    if user_token:
        return {"bearer_token": user_token}, False
    if not settings.X_BEARER_TOKEN:
        raise PermanentError("No X credentials to post with: set X_ACCESS_TOKEN and friends or X_USER_ACCESS_TOKEN.")
    return {"bearer_token": settings.X_BEARER_TOKEN}, False


def _publishing_client(*, sandbox: bool = False) -> tuple[tweepy.Client, bool]:
    credentials, user_auth = _publishing_credentials(sandbox=sandbox)
    return client_cached(**credentials), user_auth


def _upload_api(*, sandbox: bool = False) -> tweepy.API:
    """tweepy's v1.1 API (the media upload lives there) with the posting credentials, its
    api.twitter.com and upload.twitter.com requests sent to X_API_BASE_URL when it is set."""
    credentials, oauth1 = _publishing_credentials(sandbox=sandbox)
    if oauth1:
        auth = tweepy.OAuth1UserHandler(credentials["consumer_key"], credentials["consumer_secret"],
                                        credentials["access_token"], credentials["access_token_secret"])
    else:
        auth = tweepy.OAuth2BearerHandler(credentials["bearer_token"])
    timeout = float(getattr(settings, "X_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    api = tweepy.API(auth, timeout=timeout, wait_on_rate_limit=False, retry_count=0)
    base_url = settings.X_API_BASE_URL or ""
    api.session.mount(X_HOST + "/", XTransport(base_url=base_url, timeout=timeout))
    api.session.mount(UPLOAD_HOST + "/", XTransport(base_url=base_url, timeout=timeout, host=UPLOAD_HOST))
    return api


def _category(file) -> str:
    if file.is_video:
        return "tweet_video"
    return "tweet_gif" if file.content_type == "image/gif" and file.animated else "tweet_image"


def upload_media(files, *, sandbox: bool = False) -> list[str]:
    """Upload each file (networks.base.MediaFile) through X's chunked media upload, as
    tweepy does it: INIT with the size, type and category, APPEND in segments, FINALIZE,
    and STATUS while X processes a video; then the alt text (media/metadata/create).
    Returns X's media ids, in order. Nothing is posted, so a failure is never
    PublishOutcomeUnknown: the post is tried again (or fails) like any refused call."""
    api = _upload_api(sandbox=sandbox)
    media_ids = []
    try:
        for file in files:
            with translated_errors():
                media = api.chunked_upload(file.filename, file=io.BytesIO(file.data), file_type=file.content_type,
                                           media_category=_category(file), wait_for_async_finalize=True)
            info = getattr(media, "processing_info", None) or {}
            if info.get("state") == "failed":
                error = info.get("error") or {}
                raise PermanentError(f"X could not process the {file.content_type} file: "
                                     f"{error.get('message') or error.get('name') or 'no reason given'}.")
            media_id = valid_id(getattr(media, "media_id_string", None) or str(getattr(media, "media_id", "")))
            if media_id is None:
                raise TransientError("X's media upload answered without a media id.")
            if file.alt_text and not file.is_video:
                with translated_errors():
                    api.create_media_metadata(media_id, file.alt_text[:1000])
            media_ids.append(media_id)
    finally:
        api.session.close()
    return media_ids


def publish(channel: Channel, text: str, *, reply_to: str | None = None, media: Sequence[MediaFile] = ()) -> Published:
    """Create one post on X (a reply when `reply_to` is a post id), its media uploaded
    first through `upload_media`, and return its id.

    Sends exactly one create request and never retries. Raises RateLimited, PermanentError,
    or TransientError; PublishOutcomeUnknown (a TransientError) when X may have created the
    post anyway, so the caller must check before sending it again. X's credentials come
    from the environment (see the module's docstring); a sandbox channel posts only with
    X_SANDBOX_USER_ACCESS_TOKEN."""
    media_ids = upload_media(list(media), sandbox=channel.sandbox) if media else []
    client, user_auth = _publishing_client(sandbox=channel.sandbox)  # kept per process and credentials
    try:
        with translated_errors(publishing=True):
            body = client.create_tweet(text=text, in_reply_to_tweet_id=reply_to or None, media_ids=media_ids or None,
                                       user_auth=user_auth)
    except BaseException:
        _client_forget(client)
        raise
    data = body.get("data") if isinstance(body, dict) else None
    post_id = valid_id(data.get("id")) if isinstance(data, dict) else None
    if post_id is None:
        raise PublishOutcomeUnknown("X accepted the post but its answer carried no post id: check the account "
                                    "before trying again.")
    return Published(id=post_id, url=post_url(channel, post_id))


def delete(channel: Channel, post_id: str) -> None:
    """Delete one of the account's posts."""
    client, user_auth = _publishing_client(sandbox=channel.sandbox)
    try:
        with translated_errors():
            client.delete_tweet(post_id, user_auth=user_auth)
    except BaseException:
        _client_forget(client)
        raise


def lookup(channel: Channel, post_id: str) -> Found | None:
    """The post with this id as X holds it, or None when X has no such post."""
    if valid_id(post_id) is None:
        return None
    client, user_auth = _publishing_client(sandbox=channel.sandbox)
    try:
        with translated_errors():
            body = client.get_tweet(post_id, user_auth=user_auth)
    except PermanentError as error:
        if isinstance(error.__cause__, tweepy.NotFound):
            return None
        _client_forget(client)
        raise
    except BaseException:
        _client_forget(client)
        raise
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or valid_id(data.get("id")) is None:
        return None  # X answers 200 with only `errors` for a post it does not hold
    return Found(id=data["id"], text=str(data.get("text", "")), url=post_url(channel, data["id"]))


def repost(channel: Channel, post_id: str) -> Published:
    """Retweet one post as the account (tweepy's `Client.retweet`). X's answer names no id
    of the retweet itself (`{"data": {"retweeted": true}}`), so the id kept is the post
    retweeted, where a person sees it. One request, never retried here."""
    if valid_id(post_id) is None:
        raise PermanentError(f"{post_id[:60]!r} is not an X post to repost.")
    client, user_auth = _publishing_client(sandbox=channel.sandbox)
    try:
        with translated_errors(publishing=True):
            body = client.retweet(post_id, user_auth=user_auth)
    except BaseException:
        _client_forget(client)
        raise
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("retweeted") is not True:
        raise PublishOutcomeUnknown("X answered the repost without saying it retweeted: check the account before "
                                    "trying again.")
    return Published(id=post_id, url=post_url(channel, post_id))


def channel_clean(channel: Channel) -> Channel:
    """The account as typed, checked: an X handle; X's credentials live in the environment."""
    handle = channel.handle.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", handle):
        raise PermanentError(f"{channel.handle[:40]!r} is not an X handle: up to 15 letters, digits or underscores.")
    if channel.instance_url or channel.secret:
        raise PermanentError("X accounts take no server or token here: X's credentials are set in the environment.")
    return replace(channel, handle=handle)


def guarded_url(channel: Channel) -> str | None:
    """None: X's host is fixed (and X_API_BASE_URL is set by the operator, not typed in a form)."""
    return None


def post_url(channel: Channel, post_id: str) -> str:
    return f"https://x.com/{channel.handle or 'i'}/status/{post_id}"


# --- engagement ------------------------------------------------------------------------

LOOKUP_BATCH = 100  # GET /2/tweets takes up to 100 ids


def _count(metrics: dict, name: str) -> int | None:
    value = metrics.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def engagement(channel: Channel | None, ids: list[str]) -> dict[str, dict]:
    """The public counts of these posts, by id: likes, reposts, replies, quotes and
    impressions (None where X does not give them). Posts X no longer shows (deleted,
    protected) are left out. One request per 100 ids, with the app's bearer token; every
    post returned is one read against the monthly cap. Raises networks/errors.py's errors."""
    ids = [post_id for post_id in dict.fromkeys(ids) if valid_id(post_id)]
    if not ids:
        return {}
    if not settings.X_BEARER_TOKEN:
        raise PermanentError("No X credentials to read engagement with: set X_BEARER_TOKEN.")
    client = client_for(bearer_token=settings.X_BEARER_TOKEN)
    found: dict[str, dict] = {}
    try:
        for start in range(0, len(ids), LOOKUP_BATCH):
            with translated_errors():
                body = client.get_tweets(ids[start:start + LOOKUP_BATCH], tweet_fields=["public_metrics"])
            for item in (body.get("data") or []) if isinstance(body, dict) else []:
                post_id = valid_id(item.get("id")) if isinstance(item, dict) else None
                metrics = item.get("public_metrics") if post_id else None
                if not isinstance(metrics, dict):
                    continue
                found[post_id] = {
                    "likes": _count(metrics, "like_count") or 0,
                    "reposts": _count(metrics, "retweet_count") or 0,
                    "replies": _count(metrics, "reply_count") or 0,
                    "quotes": _count(metrics, "quote_count") or 0,
                    "impressions": _count(metrics, "impression_count"),
                }
    finally:
        client.session.close()
    return found
