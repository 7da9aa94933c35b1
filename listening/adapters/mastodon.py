"""The Mastodon adapter: polls a hashtag's timeline, an account's mentions (its
notifications of type mention) or a full-text search on one instance, through the
Mastodon.py client of networks/mastodon.py (which sends to MASTODON_API_BASE_URL when it
is set, the loopback fake in tests and the demo). The instance a person typed passes the
SSRF guard (warroom/netguard.py) before every poll.

Ids are the instance's own, so a mention is stored as "<instance host>:<status id>"
(platform "mastodon"); a reply from the Queue goes out from an account on that instance.

Settings read here: MASTODON_MAX_PAGES_PER_POLL (10).
"""

from __future__ import annotations

from datetime import datetime, timezone

from mastodon import Mastodon

from listening.adapters import FetchedMention, FetchResult, PermanentError, RateLimited, TransientError, server_guard
from listening.models import Source
from networks import mastodon as network
from networks.base import Channel

PAGE_SIZE = 40  # the most Mastodon returns per page of a timeline, notifications or search
DEFAULT_MAX_PAGES = 10
MAX_NOTES = 20
KINDS = (Source.Kind.MASTODON_TAG, Source.Kind.MASTODON_MENTIONS, Source.Kind.MASTODON_SEARCH)


def channel(source: Source) -> Channel:
    return Channel(network="mastodon", handle=source.login, instance_url=source.instance_url, secret=source.secret)


def _guard(account: Channel) -> None:
    server_guard(network, account, "instance")


def source_clean(*, kind: str, query: str, instance_url: str, login: str, secret: str) -> tuple[str, str, str, str]:
    """What a new Mastodon source keeps: an https instance that passes the SSRF guard, a
    token where mentions need one, the hashtag without its #."""
    if kind == Source.Kind.MASTODON_TAG:
        query = query.removeprefix("#")
        if not query.replace("_", "").isalnum():
            raise PermanentError(f"{query[:60]!r} is not a hashtag: letters, digits and underscores, with or without #.")
    account = Channel(network="mastodon", handle=login.removeprefix("@") or "me", instance_url=instance_url,
                      secret=secret or "-")
    account = network.channel_clean(account)  # an https instance address; the token checked below
    if kind == Source.Kind.MASTODON_MENTIONS and not secret:
        raise PermanentError("Access token is empty: mentions need the account's token (scope read:notifications).")
    _guard(account)
    return query, account.instance_url, login.removeprefix("@"), secret


def _posted_at(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def _mention(status, host: str, notes: list[str]) -> FetchedMention | None:
    """One status of Mastodon's JSON as a FetchedMention, or None (with a note) when the
    fields a mention needs (id, content, created_at) are unusable."""
    if not isinstance(status, dict):
        notes.append("Skipped an entry that is not a status object.")
        return None
    status_id = network.valid_id(status.get("id"))
    if status_id is None:
        notes.append(f"Skipped a status without a usable id ({str(status.get('id'))[:40]!r}).")
        return None
    content = status.get("content")
    if not isinstance(content, str):
        notes.append(f"Skipped status {status_id}: its content is missing or not text.")
        return None
    posted_at = _posted_at(status.get("created_at"))
    if posted_at is None:
        notes.append(f"Skipped status {status_id}: created_at is missing or not a timestamp.")
        return None
    mention = FetchedMention(external_id=f"{host}:{status_id}", text=network.plain_text(content), posted_at=posted_at)
    account = status.get("account")
    if isinstance(account, dict):
        if isinstance(account.get("acct"), str):
            mention.author_handle = account["acct"][:100]
        if isinstance(account.get("display_name"), str):
            mention.author_name = account["display_name"]
        followers = account.get("followers_count")
        if isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0:
            mention.author_followers = followers
    else:
        notes.append(f"Status {status_id}: Mastodon sent no author for it; stored without one.")
    if isinstance(status.get("url"), str) and status["url"].startswith(("https://", "http://")):
        mention.url = status["url"]
    if isinstance(status.get("language"), str):
        mention.lang = status["language"]
    reply = network.valid_id(status.get("in_reply_to_id"))
    if reply:
        mention.in_reply_to = f"{host}:{reply}"
    return mention


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


# This adapter walks its pages within one fetch, up to its per-poll cap (registry.pages_itself).
PAGES_PER_FETCH = True


def fetch(source: Source) -> FetchResult:
    """Poll from where the cursor left off: {"min_id": "<the newest id stored>", "query":
    "<the tag, account or search it belongs to>"}.

    Mastodon pages with min_id: each page holds the items just above it, and its Link
    header's rel="prev" continues above the page. So a poll walks up from the cursor, and
    the cursor moves to the newest id of every page stored: a poll cut short (page limit,
    a rate limit, an error) leaves no gap and fetches nothing twice. A first poll (no
    cursor) takes the newest page only and starts from there."""
    if source.kind not in KINDS:
        raise PermanentError(f"The Mastodon adapter cannot poll a {source.get_kind_display()} source.")
    account = channel(source)
    _guard(account)
    query = (source.query or "").strip()
    if source.kind == Source.Kind.MASTODON_TAG:
        query = query.removeprefix("#")
        if not query or not query.replace("_", "").isalnum():
            raise PermanentError(f"{query[:60]!r} is not a hashtag: letters, digits and underscores, with or without #.")
    elif source.kind == Source.Kind.MASTODON_SEARCH and not query:
        raise PermanentError("This Mastodon search has no query: add one to the source.")
    elif source.kind == Source.Kind.MASTODON_MENTIONS:
        if not account.secret:
            raise PermanentError("Mentions need the account's access token (scope read:notifications).")
        query = account.handle or "me"
    host = network.instance_host(account)
    client = network.client_for(account)
    try:
        return _walk(client, source, query=query, host=host)
    finally:
        client.session.close()


def _request(client: Mastodon, kind: str, query: str, min_id: str | None):
    if kind == Source.Kind.MASTODON_TAG:
        return client.timeline_hashtag(query, min_id=min_id, limit=PAGE_SIZE)
    if kind == Source.Kind.MASTODON_MENTIONS:
        return client.notifications(types=["mention"], min_id=min_id, limit=PAGE_SIZE)
    answer = client.search_v2(query, resolve=False, result_type="statuses", min_id=min_id, limit=PAGE_SIZE)
    if not isinstance(answer, dict) or not isinstance(answer.get("statuses"), list):
        raise TransientError("Mastodon sent a search answer we could not read (no list of statuses).")
    return answer["statuses"]


def _walk(client: Mastodon, source: Source, *, query: str, host: str) -> FetchResult:
    from django.conf import settings

    cursor = dict(source.cursor or {})
    floor = network.valid_id(cursor.get("min_id")) if cursor.get("query") == query else None
    max_pages = max(1, int(getattr(settings, "MASTODON_MAX_PAGES_PER_POLL", DEFAULT_MAX_PAGES)))
    notes: list[str] = []
    post_notes: list[str] = []
    mentions: list[FetchedMention] = []
    newest = floor
    pages = 0
    more = False
    limited_until = None
    page = None
    while True:
        try:
            with network.translated_errors(client):
                if page is None:
                    page = _request(client, source.kind, query, floor)
                elif source.kind == Source.Kind.MASTODON_SEARCH:
                    page = _request(client, source.kind, query, newest)
                else:
                    page = client.fetch_previous(page)  # the Link header's rel="prev": the items above
        except (RateLimited, TransientError) as error:
            if pages == 0:
                raise
            notes.append(f"Stopped after {pages} page(s); the rest follows next poll. {error}")
            limited_until = error.reset_at if isinstance(error, RateLimited) else None
            more = limited_until is None
            break
        if page is None:
            break
        if not isinstance(page, list):
            if pages == 0:
                raise TransientError("Mastodon sent a page we could not read (not a list).")
            break
        pages += 1
        for item in page:
            entry_id = network.valid_id(item.get("id")) if isinstance(item, dict) else None
            newest = _later(newest, entry_id)
            status = item.get("status") if source.kind == Source.Kind.MASTODON_MENTIONS and isinstance(item, dict) \
                else item
            if source.kind == Source.Kind.MASTODON_MENTIONS and status is None:
                continue  # a mention whose status was deleted since
            mention = _mention(status, host, post_notes)
            if mention is not None:
                mentions.append(mention)
        if floor is None:
            if len(page) >= PAGE_SIZE:
                notes.append(f"Took the newest {len(page)} posts to start from; older posts are not fetched.")
            break
        if len(page) < PAGE_SIZE:
            break
        if pages >= max_pages:
            more = True
            break
    dropped = len(post_notes) - MAX_NOTES
    notes += post_notes[:MAX_NOTES] + ([f"... and {dropped} more notes like these."] if dropped > 0 else [])
    result_cursor = {"query": query, **({"min_id": newest} if newest else {})}
    return FetchResult(mentions=mentions, cursor=result_cursor, more=more, notes=notes,
                       rate_limited_until=limited_until)
