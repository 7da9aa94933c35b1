"""The Bluesky adapter: polls a search (app.bsky.feed.searchPosts, latest first) or an
account's mentions (app.bsky.notification.listNotifications: mentions, replies, quotes),
logged in as the source's handle and app password through networks/bluesky.py (which
sends to BLUESKY_API_BASE_URL when it is set, the loopback fake in tests and the demo).
A PDS a person typed passes the SSRF guard (warroom/netguard.py) before every poll.

Mentions are stored by their at:// URI (platform "bluesky"), which is global: a reply from
the Queue goes out from any Bluesky account.

Settings read here: BLUESKY_MAX_PAGES_PER_POLL (10).
"""

from __future__ import annotations

from datetime import datetime, timezone

from atproto import models
from django.conf import settings

from listening.adapters import FetchedMention, FetchResult, PermanentError, RateLimited, TransientError, server_guard
from listening.models import Source
from networks import bluesky as network
from networks.base import Channel

PAGE_SIZE = 100  # the most searchPosts and listNotifications return per page
DEFAULT_MAX_PAGES = 10
MAX_NOTES = 20
KINDS = (Source.Kind.BLUESKY_SEARCH, Source.Kind.BLUESKY_MENTIONS)
MENTION_REASONS = ("mention", "reply", "quote")


def channel(source: Source) -> Channel:
    return Channel(network="bluesky", handle=source.login, instance_url=source.instance_url, secret=source.secret)


def _guard(account: Channel) -> None:
    server_guard(network, account, "PDS")


def source_clean(*, kind: str, query: str, instance_url: str, login: str, secret: str) -> tuple[str, str, str, str]:
    """What a new Bluesky source keeps: a handle and app password to log in with, and a
    PDS (empty: bsky.social) that passes the SSRF guard."""
    account = network.channel_clean(Channel(network="bluesky", handle=login, instance_url=instance_url,
                                            secret=secret))
    _guard(account)
    pds = "" if account.instance_url == network.DEFAULT_PDS else account.instance_url
    return query, pds, account.handle, account.secret


def _moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _mention(item, notes: list[str]) -> tuple[FetchedMention | None, datetime | None]:
    """A post view (search) or notification as a FetchedMention, and the time Bluesky
    indexed it (what the walk orders by); None with a note when unusable."""
    if not isinstance(item, dict):
        notes.append("Skipped an entry that is not a post object.")
        return None, None
    uri = network.valid_uri(item.get("uri"))
    indexed = _moment(item.get("indexedAt"))
    if uri is None:
        notes.append(f"Skipped a post without a usable at:// URI ({str(item.get('uri'))[:60]!r}).")
        return None, indexed
    record = item.get("record")
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        notes.append(f"Skipped {uri}: its text is missing or not a string.")
        return None, indexed
    posted_at = _moment(record.get("createdAt")) or indexed
    if posted_at is None:
        notes.append(f"Skipped {uri}: createdAt is missing or not a timestamp.")
        return None, indexed
    mention = FetchedMention(external_id=uri, text=text, posted_at=posted_at)
    author = item.get("author")
    if isinstance(author, dict):
        if isinstance(author.get("handle"), str):
            mention.author_handle = author["handle"][:100]
        if isinstance(author.get("displayName"), str):
            mention.author_name = author["displayName"]
        followers = author.get("followersCount")
        if isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0:
            mention.author_followers = followers
    else:
        notes.append(f"{uri}: Bluesky sent no author for it; stored without one.")
    mention.url = network.post_url(Channel(network="bluesky"), uri)
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        mention.lang = langs[0][:12]
    reply = record.get("reply")
    if isinstance(reply, dict):
        parent, root = reply.get("parent"), reply.get("root")
        mention.in_reply_to = (network.valid_uri(parent.get("uri")) if isinstance(parent, dict) else None) or ""
        mention.conversation_id = (network.valid_uri(root.get("uri")) if isinstance(root, dict) else None) or ""
    return mention, indexed


# This adapter walks its pages within one fetch, up to its per-poll cap (registry.pages_itself).
PAGES_PER_FETCH = True


def fetch(source: Source) -> FetchResult:
    """Poll from where the cursor left off:

        {"seen": "<indexedAt of the newest post of the last finished walk>",
         "query": "...",                       # the search (or handle) the cursor belongs to
         "pending": {"cursor": "...",          # only while a backlog is walked: where it goes on
                     "newest": "..."}}         #   the walk's newest indexedAt: `seen` once done

    Bluesky pages newest first with an opaque cursor towards older posts. A poll walks
    down to `seen`; only a walk that reached it moves `seen` (never backwards), so a poll
    cut short by BLUESKY_MAX_PAGES_PER_POLL, a rate limit or an error goes on from
    `pending` next time with no gap. Posts at `seen` itself may come twice; ingest's
    natural key (platform, URI) stores them once. A first poll takes one page to start from."""
    if source.kind not in KINDS:
        raise PermanentError(f"The Bluesky adapter cannot poll a {source.get_kind_display()} source.")
    account = channel(source)
    _guard(account)
    query = (source.query or "").strip() if source.kind == Source.Kind.BLUESKY_SEARCH else account.handle
    if not query:
        raise PermanentError("This Bluesky search has no query: add one to the source.")

    def page(client, token):
        if source.kind == Source.Kind.BLUESKY_SEARCH:
            params = models.AppBskyFeedSearchPosts.Params(q=query, sort="latest", limit=PAGE_SIZE, cursor=token)
            body = network.query(client, "app.bsky.feed.searchPosts", params)
            items = body.get("posts")
        else:
            params = models.AppBskyNotificationListNotifications.Params(limit=PAGE_SIZE, cursor=token,
                                                                        reasons=list(MENTION_REASONS))
            body = network.query(client, "app.bsky.notification.listNotifications", params)
            items = body.get("notifications")
            if isinstance(items, list):
                items = [n for n in items if not isinstance(n, dict) or n.get("reason") in MENTION_REASONS]
        if not isinstance(items, list):
            raise TransientError("Bluesky sent a page we could not read (no list of posts).")
        following = body.get("cursor")
        return items, following if isinstance(following, str) and following else None

    # Each page as the account, with the kept session (a refused session logs in again once).
    return _walk(lambda token: network.with_session(account, lambda client: page(client, token)),
                 cursor=dict(source.cursor or {}), query=query)


def _walk(page, *, cursor: dict, query: str) -> FetchResult:
    same = cursor.get("query") == query
    seen = _moment(cursor.get("seen")) if same else None
    pending = cursor.get("pending") if same and isinstance(cursor.get("pending"), dict) else None
    token = pending.get("cursor") if pending and isinstance(pending.get("cursor"), str) and seen else None
    newest = _moment(pending.get("newest")) if token else None
    max_pages = max(1, int(getattr(settings, "BLUESKY_MAX_PAGES_PER_POLL", DEFAULT_MAX_PAGES)))
    notes: list[str] = []
    post_notes: list[str] = []
    mentions: list[FetchedMention] = []
    pages = 0
    stopped = None
    reached = False
    while True:
        try:
            items, following = page(token)
        except (RateLimited, TransientError) as error:
            if pages == 0:
                raise
            notes.append(f"Stopped after {pages} page(s); the rest follows next poll. {error}")
            stopped = error
            break
        except PermanentError as error:
            if pages == 0 and token is not None and "cursor" in str(error).lower():
                notes.append("Bluesky no longer accepts the saved cursor; walking again from the newest posts "
                             "(posts already stored are not stored twice).")
                token = newest = None
                continue
            raise
        pages += 1
        for item in items:
            mention, indexed = _mention(item, post_notes)
            if indexed is not None and (newest is None or indexed > newest):
                newest = indexed
            if seen is not None and indexed is not None and indexed < seen:
                reached = True
                continue
            if mention is not None:
                mentions.append(mention)
        token = following
        if seen is None:
            if token is not None:
                notes.append(f"Took the newest {len(items)} posts to start from; older posts are not fetched.")
            token = None
            break
        if reached or token is None or pages >= max_pages:
            break
    dropped = len(post_notes) - MAX_NOTES
    notes += post_notes[:MAX_NOTES] + ([f"... and {dropped} more notes like these."] if dropped > 0 else [])
    result: dict = {"query": query}
    more = False
    if reached or token is None:
        done = max(filter(None, (seen, newest)), default=None)
        if done is not None:
            result["seen"] = done.isoformat()
    else:
        result["seen"] = seen.isoformat()
        result["pending"] = {"cursor": token, "newest": newest.isoformat() if newest else None}
        more = not isinstance(stopped, RateLimited)
    return FetchResult(mentions=mentions, cursor=result, more=more, notes=notes,
                       rate_limited_until=stopped.reset_at if isinstance(stopped, RateLimited) else None)
