"""Reddit for the room: a praw client for a script app (client id and secret, and the
account's username and password), pointed at Reddit or at the loopback fake that
REDDIT_API_BASE_URL names in tests and the demo; its failures in the words of
networks/errors.py, and the publisher interface of networks/base.py. Listening's Reddit
adapter fetches through `client_for` and `translated_errors`.

A post is a self post in the account's subreddit (`Channel.community`; empty: the
account's profile, u_<username>): its first line is the title, the rest the body, as
networks/limits.py counts them. A reply (`reply_to` a fullname, t3_ a post or t1_ a
comment) is a comment. Ids are Reddit's fullnames ("t3_abc123", "t1_def456").

Settings read here (getattr with defaults): REDDIT_API_BASE_URL (empty: Reddit's own
https://oauth.reddit.com, and https://www.reddit.com for the access token; set: both go
there), REDDIT_TIMEOUT_SECONDS (10), REDDIT_USER_AGENT.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import praw
import prawcore
import requests
from django.conf import settings
from praw.exceptions import ClientException, PRAWException, RedditAPIException
from prawcore.sessions import RetryStrategy
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .base import Channel, Found, Limits, MediaFile, Published
from .errors import PermanentError, PublishOutcomeUnknown, RateLimited, TransientError
from .limits import reddit_title_body

NETWORK = "reddit"
LABEL = "Reddit"
LIMITS = Limits(max_chars=40300, counts="code points", max_media=0)
DEFAULT_TIMEOUT = 10.0
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
DETAIL_LIMIT = 300
OAUTH_URL = "https://oauth.reddit.com"
TOKEN_URL = "https://www.reddit.com"
USER_AGENT = "warroom:brand-room:v1 (script app)"
FULLNAME = re.compile(r"t[13]_[0-9a-z]{1,13}")
USERNAME = re.compile(r"[A-Za-z0-9_-]{3,20}")
SUBREDDIT = re.compile(r"(?:u_[A-Za-z0-9_-]{3,20}|[A-Za-z0-9][A-Za-z0-9_]{1,20})")
RATELIMIT_TEXT = re.compile(r"([0-9]{1,4}) (milliseconds?|seconds?|minutes?)")


def valid_fullname(value) -> str | None:
    """`value` as a Reddit fullname of a post or comment, else None."""
    return value if isinstance(value, str) and FULLNAME.fullmatch(value) else None


# --- client ----------------------------------------------------------------------------

def base_urls() -> tuple[str, str]:
    """(oauth_url, reddit_url): REDDIT_API_BASE_URL for both when set (the fake)."""
    override = (getattr(settings, "REDDIT_API_BASE_URL", "") or "").rstrip("/")
    return (override, override) if override else (OAUTH_URL, TOKEN_URL)


class _SendOnce(RetryStrategy):
    """prawcore's retry strategy that never retries (nor sleeps before the first try)."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> "_SendOnce":
        return self

    def should_retry_on_failure(self) -> bool:
        return False


class _TimedSession(requests.Session):
    """A requests session that holds every request to REDDIT_TIMEOUT_SECONDS: prawcore
    passes its own 16 s to API requests whatever the requestor was given."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs["timeout"] = self.timeout
        return super().request(*args, **kwargs)


def client_for(channel: Channel) -> praw.Reddit:
    """A praw client as this account (username and password given) or as the app alone
    (read-only: listening needs no user). Retries are off: a create request is sent once."""
    if not channel.client_id or not channel.client_secret:
        raise PermanentError("This Reddit account or source has no client id or secret: create a script app "
                             "under reddit.com/prefs/apps and copy both.")
    oauth_url, reddit_url = base_urls()
    timeout = float(getattr(settings, "REDDIT_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    user = {"username": channel.handle, "password": channel.secret} if channel.handle and channel.secret else {}
    client = praw.Reddit(client_id=channel.client_id, client_secret=channel.client_secret,
                         user_agent=getattr(settings, "REDDIT_USER_AGENT", "") or USER_AGENT,
                         oauth_url=oauth_url, reddit_url=reddit_url, check_for_updates=False,
                         check_for_async=False, ratelimit_seconds=0,
                         requestor_kwargs={"session": _TimedSession(timeout), "timeout": timeout}, **user)
    # prawcore retries 5xx, dropped connections and read timeouts on its own (twice): a
    # create request retried so can publish twice. praw gives no option for it.
    for core in (client._core, client._read_only_core):
        core._retry_strategy_class = _SendOnce
    return client


def close(client: praw.Reddit) -> None:
    try:
        client._core.requestor.close()
    except AttributeError:  # pragma: no cover - a praw without the attribute: nothing to close
        pass


def authorize(client: praw.Reddit) -> None:
    """Get the access token first, so a failure there is never taken for a post's."""
    with translated_errors():
        client._core.authorizer.refresh()


# --- errors ----------------------------------------------------------------------------

def reset_from(response) -> tuple[datetime, bool]:
    """When Reddit's rate limit resets: X-Ratelimit-Reset is seconds from the answer's
    Date (Reddit's clock) or, without a Date, from now."""
    headers = getattr(response, "headers", None) or {}
    seconds = headers.get("x-ratelimit-reset")
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT, False
    start = datetime.now(timezone.utc)
    if headers.get("date"):
        try:
            start = parsedate_to_datetime(headers["date"]).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return start + timedelta(seconds=max(0.0, seconds)), True


def _detail(response) -> tuple[str, str]:
    status = f"{response.status_code} {response.reason or ''}".strip() if response is not None else ""
    detail = ""
    try:
        body = response.json()
    except (ValueError, AttributeError):
        body = None
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("reason", "explanation", "message", "error_description")
                 if body.get(key) and str(body[key]) not in status]
        detail = "; ".join(parts)
    elif response is not None:
        detail = (response.text or "").strip()
    return status, detail[:DETAIL_LIMIT]


def _never_sent(exc: prawcore.RequestException) -> bool:
    cause = exc.original_exception
    if isinstance(cause, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = cause.args[0] if cause.args else None
        return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
    return False


def _ratelimit_seconds(exc: RedditAPIException) -> float | None:
    for item in exc.items:
        if item.error_type == "RATELIMIT":
            found = RATELIMIT_TEXT.search(item.message or "")
            if not found:
                return DEFAULT_RATE_LIMIT_WAIT.total_seconds()
            amount, unit = int(found.group(1)), found.group(2)
            return amount * 60 if unit.startswith("minute") else (1 if unit.startswith("milli") else amount)
    return None


@contextmanager
def translated_errors(*, publishing: bool = False) -> Iterator[None]:
    """Turns praw's and prawcore's failures into networks/errors.py's errors, in words."""
    uncertain = PublishOutcomeUnknown if publishing else TransientError
    maybe = " Reddit may have published it: check the account before trying again." if publishing else ""
    try:
        yield
    except prawcore.TooManyRequests as exc:
        reset_at, said = reset_from(exc.response)
        message = f"Reddit rate limit: no requests until {reset_at:%H:%M} UTC"
        if not said:
            message += " (Reddit did not say when; waiting 5 minutes)"
        raise RateLimited(message, reset_at) from exc
    except prawcore.OAuthException as exc:
        raise PermanentError(f"Reddit did not accept the username and password ({exc.error}"
                             f"{': ' + exc.description if exc.description else ''}). Check the account's password, "
                             "and that the script app lists this user as a developer.") from exc
    except (prawcore.Forbidden, prawcore.InsufficientScope, prawcore.InvalidToken) as exc:
        status, detail = _detail(exc.response)
        if exc.response is not None and exc.response.status_code == 401:
            raise PermanentError(f"Reddit did not accept the app's credentials ({status}): {detail or 'unauthorized'}. "
                                 "Check the client id, the secret and the password.") from exc
        raise PermanentError(f"Reddit refused the request ({status}): {detail or 'forbidden'}") from exc
    except prawcore.NotFound as exc:
        status, detail = _detail(exc.response)
        raise PermanentError(f"Reddit has no such thing ({status}): {detail}") from exc
    except prawcore.ServerError as exc:
        status, detail = _detail(exc.response)
        raise uncertain(f"Reddit had a server error ({status}): {detail}.{maybe}") from exc
    except prawcore.BadJSON as exc:
        raise uncertain(f"Reddit sent a response that is not valid JSON.{maybe}") from exc
    except prawcore.RequestException as exc:
        cause = exc.original_exception
        if _never_sent(exc):
            raise TransientError(f"Could not reach Reddit ({str(cause)[:DETAIL_LIMIT]}).") from exc
        if isinstance(cause, requests.Timeout):
            seconds = float(getattr(settings, "REDDIT_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
            raise uncertain(f"Reddit did not answer within {seconds:g} s.{maybe}") from exc
        if isinstance(cause, ValueError):  # an access-token answer that is not JSON
            raise TransientError("Reddit sent a response that is not valid JSON.") from exc
        raise uncertain(f"The connection to Reddit failed ({str(cause)[:DETAIL_LIMIT]}).{maybe}") from exc
    except prawcore.ResponseException as exc:
        status, detail = _detail(exc.response)
        if exc.response is not None and exc.response.status_code == 401:
            raise PermanentError(f"Reddit did not accept the app's client id and secret ({status}). "
                                 "Check both under reddit.com/prefs/apps.") from exc
        raise PermanentError(f"Reddit refused the request ({status}): {detail}") from exc
    except RedditAPIException as exc:
        seconds = _ratelimit_seconds(exc)
        if seconds is not None:
            reset_at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
            raise RateLimited(f"Reddit rate limit: no posts until {reset_at:%H:%M} UTC ({str(exc)[:DETAIL_LIMIT]})",
                              reset_at) from exc
        raise PermanentError(f"Reddit refused the post: {str(exc)[:DETAIL_LIMIT]}") from exc
    except ValueError as exc:  # praw could not read an answer (a body that is not JSON)
        raise uncertain(f"Reddit sent a response that is not valid JSON.{maybe}") from exc
    except (ClientException, PRAWException) as exc:
        raise uncertain(f"Reddit failed ({type(exc).__name__}: {str(exc)[:DETAIL_LIMIT]}).{maybe}") from exc


# --- the publisher interface -----------------------------------------------------------

def channel_clean(channel: Channel) -> Channel:
    """A script app's client id and secret, a username and password, and the subreddit
    posts go to (empty: the account's profile)."""
    handle = channel.handle.strip().removeprefix("/").removeprefix("u/").removeprefix("@")
    if not USERNAME.fullmatch(handle):
        raise PermanentError(f"{channel.handle[:40]!r} is not a Reddit username (3 to 20 letters, digits, _ or -).")
    client_id, client_secret = channel.client_id.strip(), channel.client_secret.strip()
    if not client_id or not re.fullmatch(r"[A-Za-z0-9_-]{5,64}", client_id):
        raise PermanentError("Client id: the id shown under the script app's name at reddit.com/prefs/apps.")
    if not client_secret:
        raise PermanentError("Client secret is empty: copy the script app's secret from reddit.com/prefs/apps.")
    if not channel.secret:
        raise PermanentError("Password is empty: a script app posts with the account's own password.")
    community = channel.community.strip().removeprefix("/").removeprefix("r/")
    if community and not SUBREDDIT.fullmatch(community):
        raise PermanentError(f"{channel.community[:40]!r} is not a subreddit name (letters, digits, underscores).")
    return replace(channel, handle=handle, client_id=client_id, client_secret=client_secret, community=community,
                   instance_url="")


def guarded_url(channel: Channel) -> str | None:
    """Nothing a person typed is connected to: Reddit's address is fixed (or the
    operator's REDDIT_API_BASE_URL)."""
    return None


def subreddit(channel: Channel) -> str:
    return channel.community or f"u_{channel.handle}"


def _thing(answer) -> tuple[str, str] | None:
    """(fullname, url) of what praw made of a create answer."""
    fullname = getattr(answer, "fullname", None) if answer is not None else None
    if valid_fullname(fullname) is None:
        return None
    permalink = getattr(answer, "__dict__", {}).get("permalink")
    url = f"https://www.reddit.com{permalink}" if isinstance(permalink, str) and permalink.startswith("/") else ""
    return fullname, url


def publish(channel: Channel, text: str, *, reply_to: str | None = None, media: Sequence[MediaFile] = (),
            idempotency_key: str | None = None) -> Published:
    """A self post in the account's subreddit, or a comment under `reply_to`. One create
    request, never retried here (Reddit has no idempotency key)."""
    if media:
        raise PermanentError("The room posts text to Reddit only: remove the media from the Reddit version.")
    title, body = reddit_title_body(text)
    parent = None
    if reply_to:
        parent = valid_fullname(reply_to)
        if parent is None:
            raise PermanentError(f"{reply_to[:60]!r} is not a Reddit post or comment id (t3_... or t1_...).")
    elif not title:
        raise PermanentError("Reddit needs a title: the first line of the text.")
    client = client_for(channel)
    try:
        authorize(client)
        with translated_errors(publishing=True):
            if parent:
                answer = client.post("/api/comment", data={"thing_id": parent, "text": text.strip(),
                                                           "api_type": "json"})
                answer = answer[0] if isinstance(answer, list) and answer else None
            else:
                answer = client.post("/api/submit", data={
                    "sr": subreddit(channel), "kind": "self", "title": title, "text": body, "api_type": "json",
                    "resubmit": "true", "sendreplies": "true"})
    finally:
        close(client)
    thing = _thing(answer)
    if thing is None:
        raise PublishOutcomeUnknown("Reddit accepted the post but its answer carried no id: check the account "
                                    "before trying again.")
    fullname, url = thing
    return Published(id=fullname, url=url or post_url(channel, fullname))


def delete(channel: Channel, post_id: str) -> None:
    fullname = valid_fullname(post_id)
    if fullname is None:
        raise PermanentError(f"{post_id[:60]!r} is not a Reddit post or comment id.")
    client = client_for(channel)
    try:
        authorize(client)
        with translated_errors():
            client.post("/api/del", data={"id": fullname})
    finally:
        close(client)


def lookup(channel: Channel, post_id: str) -> Found | None:
    """The post or comment by its fullname (GET /api/info); None when Reddit has none, or
    only its deleted shell ("[deleted]")."""
    fullname = valid_fullname(post_id)
    if fullname is None:
        raise PermanentError(f"{post_id[:60]!r} is not a Reddit post or comment id.")
    client = client_for(channel)
    try:
        authorize(client)
        with translated_errors():
            answer = client.request(method="GET", path="/api/info", params={"id": fullname})
    finally:
        close(client)
    listing = answer.get("data") if isinstance(answer, dict) else None
    children = listing.get("children") if isinstance(listing, dict) else None
    if not isinstance(children, list):
        raise TransientError("Reddit sent an answer to a look-up we could not read (no listing).")
    for child in children:
        data = child.get("data") if isinstance(child, dict) else None
        if not isinstance(data, dict) or data.get("name") != fullname:
            continue
        text = data.get("selftext") if fullname.startswith("t3_") else data.get("body")
        if data.get("author") in (None, "[deleted]") or text in ("[deleted]", "[removed]"):
            return None  # the shell Reddit keeps of a deleted post
        title = data.get("title") if isinstance(data.get("title"), str) else ""
        text = text if isinstance(text, str) else ""
        shown = f"{title}\n{text}" if title and text else (title or text)
        return Found(id=fullname, text=shown, url=post_url(channel, fullname, data.get("permalink")))
    return None


ENGAGEMENT_BATCH = 100  # the most fullnames /api/info takes at once


def _gone(data: dict) -> bool:
    """A deleted or removed post or comment: the shell Reddit keeps of it."""
    text = data.get("selftext") if str(data.get("name", "")).startswith("t3_") else data.get("body")
    return (data.get("author") in (None, "[deleted]") or text in ("[deleted]", "[removed]")
            or bool(data.get("removed_by_category")))


def _score(data: dict, key: str) -> int:
    value = data.get(key)
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else 0


def engagement(channel: Channel, ids: list[str]) -> dict[str, dict]:
    """The counts of these posts and comments, by fullname (praw's `info`, GET /api/info,
    100 fullnames a request): the score as likes (never below 0), a post's num_comments as
    replies (a comment's answer carries no count: 0); Reddit has no reposts or quotes (0)
    and shows no impressions (None). Deleted or removed ones are left out. Raises
    networks/errors.py's errors."""
    fullnames = [name for name in dict.fromkeys(ids) if valid_fullname(name)]
    if not fullnames:
        return {}
    found: dict[str, dict] = {}
    client = client_for(channel)
    try:
        authorize(client)
        for start in range(0, len(fullnames), ENGAGEMENT_BATCH):
            batch = fullnames[start:start + ENGAGEMENT_BATCH]
            with translated_errors():
                things = list(client.info(fullnames=batch))
            for thing in things:
                data = vars(thing)
                name = data.get("name")
                if name not in batch or _gone(data):
                    continue
                found[name] = {"likes": _score(data, "score"), "reposts": 0,
                               "replies": _score(data, "num_comments"), "quotes": 0, "impressions": None}
    finally:
        close(client)
    return found


def post_url(channel: Channel, post_id: str, permalink: str | None = None) -> str:
    if isinstance(permalink, str) and permalink.startswith("/"):
        return f"https://www.reddit.com{permalink}"
    kind, _, base36 = post_id.partition("_")
    if kind == "t3":
        return f"https://www.reddit.com/comments/{base36}/"
    return f"https://www.reddit.com/user/{channel.handle}/comments/"
