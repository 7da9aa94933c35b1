"""The X (API v2) adapter: polls recent search and an account's mentions through the
tweepy client of networks/x.py (which sends to X_API_BASE_URL when it is set, the loopback
fake in tests and the demo, with X_TIMEOUT_SECONDS on every request). Publishing is
networks/x.py's too.

Settings read here (getattr with defaults, so only X_BEARER_TOKEN is required):
X_BEARER_TOKEN and X_MAX_PAGES_PER_POLL (10); networks/x.py reads X_API_BASE_URL and
X_TIMEOUT_SECONDS (10).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

import tweepy
from django.conf import settings

from listening.adapters import FetchedMention, FetchResult, PermanentError, RateLimited, TransientError
from listening.models import Source
from networks.x import DETAIL_LIMIT, client_for, translated_errors, valid_id

PAGE_SIZE = 100  # the most X returns per page for both recent search and mentions
DEFAULT_MAX_PAGES = 10
MAX_NOTES = 20
TWEET_FIELDS = ["author_id", "created_at", "lang", "conversation_id", "in_reply_to_user_id", "referenced_tweets"]
USER_FIELDS = ["name", "username", "public_metrics"]
EXPANSIONS = ["author_id"]
HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")


def _bearer_token() -> str:
    token = settings.X_BEARER_TOKEN
    if not token:
        raise PermanentError("X_BEARER_TOKEN is not set: add the app's bearer token to the environment to poll X.")
    return token


# --- errors ----------------------------------------------------------------------------

def _call(request: Callable[[], dict]) -> dict:
    with translated_errors():
        body = request()
    if not isinstance(body, dict):
        raise TransientError("X sent a response we could not read (not a JSON object).")
    return body


def _errors_detail(body: dict) -> str:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return ""
    parts = [str(error.get("detail") or error.get("message") or "") for error in errors if isinstance(error, dict)]
    return "; ".join(part for part in parts if part)[:DETAIL_LIMIT]


def _refuses(exc: PermanentError, parameter: str) -> bool:
    """Whether X's 400 names `parameter` among the invalid ones."""
    cause = exc.__cause__
    if not isinstance(cause, tweepy.BadRequest):
        return False
    return any(isinstance(error, dict) and parameter in (error.get("parameters") or {}) for error in cause.api_errors)


# --- mapping ---------------------------------------------------------------------------

class _Notes:
    """Notes for the lead: notes about the poll first, then notes about single posts,
    bounded so a page of 10,000 broken posts stays readable."""

    def __init__(self) -> None:
        self.poll: list[str] = []
        self.posts: list[str] = []
        self.dropped = 0

    def add(self, note: str) -> None:
        if len(self.posts) < MAX_NOTES:
            self.posts.append(note)
        else:
            self.dropped += 1

    def as_list(self) -> list[str]:
        return self.poll + self.posts + ([f"... and {self.dropped} more notes like these."] if self.dropped else [])


def _posted_at(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _mention(tweet, users: dict[str, dict], notes: _Notes) -> FetchedMention | None:
    """One post of X's JSON as a FetchedMention, or None (with a note) when the fields a
    mention needs (id, text, created_at) are missing or of the wrong type. Optional fields
    that are unusable are left blank, with a note, rather than losing the post."""
    if not isinstance(tweet, dict):
        notes.add("Skipped an entry that is not a post object.")
        return None
    tweet_id = valid_id(tweet.get("id"))
    if tweet_id is None:
        notes.add(f"Skipped a post without a usable id ({str(tweet.get('id'))[:40]!r}).")
        return None
    text = tweet.get("text")
    if not isinstance(text, str):
        notes.add(f"Skipped post {tweet_id}: its text is missing or not a string.")
        return None
    posted_at = _posted_at(tweet.get("created_at"))
    if posted_at is None:
        notes.add(f"Skipped post {tweet_id}: created_at is missing or not a timestamp.")
        return None

    mention = FetchedMention(external_id=tweet_id, text=text, posted_at=posted_at)
    user = users.get(tweet.get("author_id")) if isinstance(tweet.get("author_id"), str) else None
    if user is None:
        notes.add(f"Post {tweet_id}: X sent no author for it; stored without one.")
    else:
        handle = user.get("username")
        if isinstance(handle, str) and HANDLE.fullmatch(handle):
            mention.author_handle = handle
        else:
            notes.add(f"Post {tweet_id}: the author's handle is unusable; stored without one.")
        if isinstance(user.get("name"), str):
            mention.author_name = user["name"]
        metrics = user.get("public_metrics")
        followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
        if isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0:
            mention.author_followers = followers
        elif followers is not None:
            notes.add(f"Post {tweet_id}: the author's follower count is not a number; counted as 0.")
    handle = mention.author_handle or "i"
    mention.url = f"https://x.com/{handle}/status/{tweet_id}"
    if isinstance(tweet.get("lang"), str):
        mention.lang = tweet["lang"]
    mention.conversation_id = valid_id(tweet.get("conversation_id")) or ""
    references = tweet.get("referenced_tweets")
    if isinstance(references, list):
        for reference in references:
            if isinstance(reference, dict) and reference.get("type") == "replied_to":
                mention.in_reply_to = valid_id(reference.get("id")) or ""
    return mention


def _page_parts(body: dict) -> tuple[list, dict[str, dict], dict]:
    data = body.get("data")
    meta = body.get("meta")
    if data is None and not isinstance(meta, dict) and body.get("errors"):
        raise PermanentError(f"X answered with errors only: {_errors_detail(body)}")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise TransientError("X sent a page we could not read (data is not a list).")
    includes = body.get("includes")
    users = includes.get("users") if isinstance(includes, dict) else None
    by_id = {}
    for user in users if isinstance(users, list) else []:
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            by_id[user["id"]] = user
    return data, by_id, meta if isinstance(meta, dict) else {}


def _newest(data: list, meta: dict) -> str | None:
    ids = [valid_id(meta.get("newest_id"))] + [valid_id(t.get("id")) for t in data if isinstance(t, dict)]
    ids = [int(i) for i in ids if i is not None]
    return str(max(ids)) if ids else None


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


# --- polling ---------------------------------------------------------------------------

# This adapter walks its pages within one fetch, up to its per-poll cap (registry.pages_itself).
PAGES_PER_FETCH = True


def fetch(source: Source) -> FetchResult:
    """Poll an X search or an account's mentions from where the source's cursor left off.

    The cursor (a JSON object on the source) looks like:

        {"since_id": "1800...",          # every post at or below it has been fetched
         "pending": {                    # only while a backlog is being walked
             "pagination_token": "...",  #   where the walk continues (older posts)
             "newest_id": "1800...",     #   the first page's newest id: since_id once done
             "query": "..."},            #   the query (or handle) the walk belongs to
         "user_id": "...", "username": "..."}   # X_MENTIONS only: the resolved account

    X returns newest first. A poll walks pages down to since_id; since_id moves (never
    backwards) to the newest id of the walk's first page only once the walk reached the
    bottom. When X_MAX_PAGES_PER_POLL stops it first, since_id stays, `pending` remembers
    where to go on and `more` is True: no gap, nothing fetched twice. A source's first poll
    (no since_id) takes at most one poll's worth of the newest posts and starts from there:
    it does not backfill X's seven days of history (reads are billed).

    If a page after the first fails with a rate limit or a transient error, the pages
    already read are returned with a note and the walk continues next time; errors on the
    first page are raised. Posts missing id, text or created_at are skipped with a note.
    """
    if source.kind not in (Source.Kind.X_SEARCH, Source.Kind.X_MENTIONS):
        raise PermanentError(f"The X adapter cannot poll a {source.get_kind_display()} source.")
    client = client_for(bearer_token=_bearer_token())
    try:
        cursor = dict(source.cursor or {})
        options = dict(max_results=PAGE_SIZE, expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
        if source.kind == Source.Kind.X_SEARCH:
            query = (source.query or "").strip()
            if not query:
                raise PermanentError("This X search has no query: add one to the source.")
            account: dict = {}

            def page(since_id, token):
                return client.search_recent_tweets(query=query, since_id=since_id, next_token=token, **options)
        else:
            account = _account(client, source, cursor)
            query = account["username"]

            def page(since_id, token):
                return client.get_users_mentions(account["user_id"], since_id=since_id, pagination_token=token,
                                                 **options)
        return _walk(page, cursor=cursor, query=query, keep=account)
    finally:
        client.session.close()


def _account(client: tweepy.Client, source: Source, cursor: dict) -> dict:
    """The account whose mentions the source follows, resolved once and kept in the cursor."""
    handle = (source.query or "").strip().removeprefix("@")
    if not HANDLE.fullmatch(handle):
        raise PermanentError(f"{(source.query or '')[:60]!r} is not an X handle: use up to 15 letters, digits "
                             "or underscores, with or without the @.")
    if str(cursor.get("username", "")).casefold() == handle.casefold() and valid_id(cursor.get("user_id")):
        return {"user_id": cursor["user_id"], "username": cursor["username"]}
    body = _call(lambda: client.get_user(username=handle))
    data = body.get("data")
    user_id = valid_id(data.get("id")) if isinstance(data, dict) else None
    if user_id is None:
        raise PermanentError(f"X has no account @{handle}: {_errors_detail(body) or 'no user in its answer'}.")
    return {"user_id": user_id, "username": handle}


def _walk(page: Callable, *, cursor: dict, query: str, keep: dict) -> FetchResult:
    since_id = valid_id(cursor.get("since_id"))
    pending = cursor.get("pending") if isinstance(cursor.get("pending"), dict) else None
    if pending is not None and (since_id is None or pending.get("query") != query):
        pending = None  # a walk for another query or handle, or one we cannot bound
    token = pending.get("pagination_token") if pending else None
    token = token if isinstance(token, str) and token else None
    newest = valid_id(pending.get("newest_id")) if pending else None
    floor = since_id  # what the walk goes down to; None on a first poll
    max_pages = max(1, int(getattr(settings, "X_MAX_PAGES_PER_POLL", DEFAULT_MAX_PAGES)))
    notes = _Notes()
    mentions: list[FetchedMention] = []
    reads = pages = 0
    stopped: TransientError | RateLimited | None = None

    while True:
        try:
            data, users, meta = _page_parts(_call(lambda: page(floor, token)))
        except PermanentError as exc:
            if pages == 0 and token is not None and (_refuses(exc, "next_token") or _refuses(exc, "pagination_token")):
                notes.poll.append("X no longer accepts the saved page token; walking again from the newest posts "
                              "(posts already stored are not stored twice).")
                token = newest = None
                continue
            if pages == 0 and floor is not None and _refuses(exc, "since_id"):
                notes.poll.append("X no longer serves posts as old as this source's last position (recent search "
                              "covers 7 days); posts from the gap are missed. Starting again from the newest posts.")
                floor = token = newest = None
                continue
            raise
        except (RateLimited, TransientError) as exc:
            if pages == 0:
                raise
            notes.poll.append(f"Stopped after {pages} page(s); the rest follows next poll. {exc}")
            stopped = exc
            break
        pages += 1
        reads += len(data)
        if newest is None:
            newest = _newest(data, meta)
        for tweet in data:
            mention = _mention(tweet, users, notes)
            if mention is not None:
                mentions.append(mention)
        next_token = meta.get("next_token")
        token = next_token if isinstance(next_token, str) and next_token else None
        if token is None or pages >= max_pages:
            break

    result = dict(keep)
    if token is None or floor is None:
        # The walk reached since_id, or there was none to walk down to: no backfill.
        if floor is None and token is not None and stopped is None:
            notes.poll.append(f"Took the newest {reads} posts to start from; older posts are not fetched.")
        result["since_id"] = _later(since_id, newest)
        if result["since_id"] is None:
            result.pop("since_id")
        more = False
    else:
        result["since_id"] = since_id
        result["pending"] = {"pagination_token": token, "newest_id": newest, "query": query}
        more = not isinstance(stopped, RateLimited)
    return FetchResult(
        mentions=mentions, cursor=result, reads=reads, more=more, notes=notes.as_list(),
        rate_limited_until=stopped.reset_at if isinstance(stopped, RateLimited) else None,
    )
