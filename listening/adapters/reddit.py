"""The Reddit adapter: polls a subreddit's search (newest posts matching the words) or its
new comments mentioning a term, through the praw client of networks/reddit.py (which sends
to REDDIT_API_BASE_URL when it is set, the loopback fake in tests and the demo). A source
names the subreddit (`community`) and a script app (`client_id`, `client_secret`); its
user (`login`, `secret`) is optional, since reading needs only the app. Nothing a person
types is a URL: Reddit's address is fixed.

Mentions are stored under Reddit's fullnames (t3_ a post, t1_ a comment; platform
"reddit"), which a reply from the Queue answers.

Settings read here: REDDIT_MAX_PAGES_PER_POLL (5).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import praw

from listening.adapters import FetchedMention, FetchResult, PermanentError, RateLimited, TransientError
from listening.models import Source
from networks import reddit as network
from networks.base import Channel

PAGE_SIZE = 100  # the most Reddit returns per listing page
DEFAULT_MAX_PAGES = 5
MAX_NOTES = 20
KINDS = (Source.Kind.REDDIT_SEARCH, Source.Kind.REDDIT_COMMENTS)
SOURCE_FIELDS = ("client_id", "client_secret", "community")

# This adapter walks its own pages within one fetch, up to its per-poll cap (registry.pages_itself).
PAGES_PER_FETCH = True


def channel(source: Source) -> Channel:
    return Channel(network="reddit", handle=source.login, secret=source.secret, client_id=source.client_id,
                   client_secret=source.client_secret, community=source.community)


def _community(value: str) -> str:
    community = (value or "").strip().removeprefix("/").removeprefix("r/")
    if not community:
        raise PermanentError("Subreddit is empty: name the subreddit to listen to (like snacks, without r/).")
    if not network.SUBREDDIT.fullmatch(community):
        raise PermanentError(f"{value[:40]!r} is not a subreddit name (letters, digits, underscores).")
    return community


def source_clean(*, kind: str, query: str, instance_url: str, login: str, secret: str, client_id: str = "",
                 client_secret: str = "", community: str = "") -> tuple[str, str, str, str, dict]:
    """What a new Reddit source keeps: a subreddit, the words, the app's id and secret,
    and a username with its password or neither."""
    community = _community(community)
    if not client_id or not re.fullmatch(r"[A-Za-z0-9_-]{5,64}", client_id):
        raise PermanentError("Client id: the id shown under the script app's name at reddit.com/prefs/apps.")
    if not client_secret:
        raise PermanentError("Client secret is empty: copy the script app's secret from reddit.com/prefs/apps.")
    login = login.strip().removeprefix("u/").removeprefix("@")
    if login and not network.USERNAME.fullmatch(login):
        raise PermanentError(f"{login[:40]!r} is not a Reddit username (3 to 20 letters, digits, _ or -).")
    if bool(login) != bool(secret):
        raise PermanentError("Give the Reddit username and its password together, or neither (the app alone reads).")
    if not query.strip():
        raise PermanentError("Query is empty: give the words to look for.")
    return query.strip(), "", login, secret, {"client_id": client_id, "client_secret": client_secret,
                                              "community": community}


def _posted_at(value) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _words(query: str) -> list[str]:
    return [word.casefold() for word in query.split() if word]


def _mention(child, notes: list[str], *, comments: bool) -> FetchedMention | None:
    """One listing child of Reddit's JSON as a FetchedMention, or None (with a note) when
    the fields a mention needs (name, text, created_utc) are unusable."""
    data = child.get("data") if isinstance(child, dict) else None
    if not isinstance(data, dict):
        notes.append("Skipped an entry that is not a Reddit thing.")
        return None
    fullname = network.valid_fullname(data.get("name"))
    if fullname is None or not fullname.startswith("t1_" if comments else "t3_"):
        notes.append(f"Skipped an entry without a usable fullname ({str(data.get('name'))[:40]!r}).")
        return None
    posted_at = _posted_at(data.get("created_utc"))
    if posted_at is None:
        notes.append(f"Skipped {fullname}: created_utc is missing or not a timestamp.")
        return None
    if comments:
        text = data.get("body")
    else:
        title, body = data.get("title"), data.get("selftext") or ""
        text = f"{title}\n\n{body}".strip() if isinstance(title, str) and isinstance(body, str) else None
    if not isinstance(text, str) or not text:
        notes.append(f"Skipped {fullname}: its {'body' if comments else 'title'} is missing or not text.")
        return None
    mention = FetchedMention(external_id=fullname, text=text, posted_at=posted_at)
    author = data.get("author")
    if isinstance(author, str) and author:
        mention.author_handle = mention.author_name = author[:100]
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        mention.url = f"https://www.reddit.com{permalink}"
    if comments:
        parent = network.valid_fullname(data.get("parent_id"))
        if parent:
            mention.in_reply_to = parent
        link = network.valid_fullname(data.get("link_id"))
        if link:
            mention.conversation_id = link
    else:
        mention.conversation_id = fullname
    return mention


def _request(client: praw.Reddit, source: Source, community: str, after: str | None) -> dict:
    params = {"limit": PAGE_SIZE, **({"after": after} if after else {})}
    if source.kind == Source.Kind.REDDIT_SEARCH:
        path = f"/r/{community}/search"
        params.update({"q": source.query, "restrict_sr": "on", "sort": "new", "type": "link"})
    else:
        path = f"/r/{community}/comments"
    page = client.request(method="GET", path=path, params=params)
    data = page.get("data") if isinstance(page, dict) and page.get("kind") == "Listing" else None
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise TransientError("Reddit sent a listing we could not read (no list of children).")
    return data


def _limited_until(client: praw.Reddit) -> datetime | None:
    """When prawcore's limiter says the window is spent (X-Ratelimit-Remaining 0), the time
    it would sleep until: this poll stops there instead of sleeping."""
    limiter = getattr(client._core, "_rate_limiter", None)
    if limiter is None or limiter.remaining is None or limiter.remaining > 0 or not limiter.next_request_timestamp_ns:
        return None
    seconds = max(0.0, (limiter.next_request_timestamp_ns - time.monotonic_ns()) / 1e9)
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _reached(data: dict, floor: dict | None) -> bool:
    """Whether a listing child is at or below what an earlier poll stored."""
    if not floor:
        return False
    if data.get("name") == floor.get("id"):
        return True
    created = data.get("created_utc")
    return isinstance(created, (int, float)) and isinstance(floor.get("t"), (int, float)) and created < floor["t"]


def fetch(source: Source) -> FetchResult:
    """Poll newest first, down to what was stored. The cursor: {"query": "<kind>:<sub>:<words>",
    "floor": {"id", "t"} the newest thing a finished walk stored, and while a walk is cut
    short (page limit, a rate limit, an error) "after" (Reddit's token for the next older
    page) and "top" (the newest thing of that walk)}. The next poll goes on from "after"
    down to the floor, then the floor moves to "top": nothing is skipped, and what arrived
    meanwhile is walked from the top the poll after. A first poll takes the newest page
    only and starts from there."""
    if source.kind not in KINDS:
        raise PermanentError(f"The Reddit adapter cannot poll a {source.get_kind_display()} source.")
    from django.conf import settings

    community = _community(source.community)
    words = _words(source.query or "")
    if not words:
        raise PermanentError("This Reddit source has no words to look for: add them to the source.")
    comments = source.kind == Source.Kind.REDDIT_COMMENTS
    query = f"{source.kind}:{community.casefold()}:{' '.join(words)}"
    cursor = dict(source.cursor or {}) if (source.cursor or {}).get("query") == query else {}
    floor = cursor.get("floor") if isinstance(cursor.get("floor"), dict) else None
    after = cursor.get("after") if floor and isinstance(cursor.get("after"), str) else None
    top = cursor.get("top") if after and isinstance(cursor.get("top"), dict) else None
    max_pages = max(1, int(getattr(settings, "REDDIT_MAX_PAGES_PER_POLL", DEFAULT_MAX_PAGES)))

    notes: list[str] = []
    post_notes: list[str] = []
    mentions: list[FetchedMention] = []
    pages, more, limited_until, finished = 0, False, None, False
    client = network.client_for(channel(source))
    try:
        while True:
            try:
                with network.translated_errors():
                    page = _request(client, source, community, after)
            except (RateLimited, TransientError) as error:
                if pages == 0:
                    raise
                notes.append(f"Stopped after {pages} page(s); the rest follows next poll. {error}")
                limited_until = error.reset_at if isinstance(error, RateLimited) else None
                more = limited_until is None
                break
            pages += 1
            reached = False
            for child in page["children"]:
                data = child.get("data") if isinstance(child, dict) else None
                if isinstance(data, dict) and _reached(data, floor):
                    reached = True
                    break
                if top is None and isinstance(data, dict) and network.valid_fullname(data.get("name")) \
                        and isinstance(data.get("created_utc"), (int, float)):
                    top = {"id": data["name"], "t": data["created_utc"]}
                mention = _mention(child, post_notes, comments=comments)
                if mention is None:
                    continue
                if comments and not all(word in mention.text.casefold() for word in words):
                    continue  # a new comment that does not mention the term
                mentions.append(mention)
            after = page.get("after") if isinstance(page.get("after"), str) else None
            if floor is None:
                if after:
                    notes.append(f"Took the newest {len(page['children'])} to start from; older ones are not fetched.")
                finished = True
                break
            if reached or after is None:
                finished = True
                break
            limited_until = _limited_until(client)
            if limited_until is not None:
                notes.append(f"Reddit's rate limit is spent after {pages} page(s): the rest follows at "
                             f"{limited_until:%H:%M} UTC.")
                break
            if pages >= max_pages:
                more = True
                break
    finally:
        network.close(client)
    dropped = len(post_notes) - MAX_NOTES
    notes += post_notes[:MAX_NOTES] + ([f"... and {dropped} more notes like these."] if dropped > 0 else [])
    if finished:
        newest = top or floor
        result_cursor = {"query": query, **({"floor": newest} if newest else {})}
    else:
        result_cursor = {"query": query, "floor": floor, "after": after, "top": top}
    return FetchResult(mentions=mentions, cursor=result_cursor, more=more, notes=notes,
                       rate_limited_until=limited_until)
