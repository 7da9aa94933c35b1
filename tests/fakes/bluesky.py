"""A loopback fake of a Bluesky PDS (with the app view's feed and notification queries),
speaking XRPC, so that atproto's client and the room's code run unchanged against it
(point BLUESKY_API_BASE_URL, or an account's PDS URL, at `fake.url`).

    def test_something(bluesky_api, settings):
        settings.BLUESKY_API_BASE_URL = bluesky_api.url
        bluesky_api.add_user("brand.bsky.social", "app-pass-word")     # who may log in
        uri = bluesky_api.add_post("Lights out #SuperBowl", author="fan.bsky.social")
        bluesky_api.add_post("@brand.bsky.social help", author="angry.bsky.social", mention_of="brand.bsky.social")
        bluesky_api.fail_next(status=429, reset_in=60)  # ratelimit-* headers, RateLimitExceeded
        bluesky_api.fail_next(status=502)               # {"error": "UpstreamFailure", ...}
        bluesky_api.fail_next(malformed=True)           # 200 with a truncated JSON body
        bluesky_api.posts, bluesky_api.blobs, bluesky_api.requests
        bluesky_api.set_engagement(uri, likes=600)      # fixed counts for app.bsky.feed.getPosts
        bluesky_api.engagement_per_minute = {"likes": 5}  # how fast accepted posts grow

Speaks: com.atproto.server.createSession / refreshSession / getSession,
app.bsky.feed.searchPosts (newest first, `cursor` pages to older posts),
app.bsky.notification.listNotifications (the same), app.bsky.feed.getPosts,
app.bsky.actor.getProfile, com.atproto.repo.createRecord / deleteRecord, and
com.atproto.repo.uploadBlob. Every answer carries ratelimit-limit / -remaining / -reset
(epoch seconds) / -policy as Bluesky sends them; errors are {"error", "message"}. Every
call but createSession needs the session's access token. A record is stored before any
configured delay, so a client that times out has still posted.

createRecord takes app.bsky.feed.post and app.bsky.feed.repost (a repost of a post it
holds; `reposts` lists the subjects). getPosts takes up to 25 uris, as Bluesky does. A post
the fake accepted through createRecord grows with the minutes since
(`engagement_per_minute`: likeCount, repostCount, replyCount, quoteCount; for its first
day; the clock is `time.time()`, so time-machine moves it); `set_engagement` fixes a
post's counts instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from .loopback import CHATTER, Answer, Failure, LoopbackFake, RecordedRequest, Refusal

RATE_LIMIT = 3000
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class PostedRecord:
    uri: str
    text: str
    reply_parent: str | None
    blobs: list[str]  # the CIDs of the images embedded
    handle: str
    at: float
    record: dict

    @property
    def id(self) -> str:
        return self.uri


@dataclass(frozen=True)
class Blob:
    cid: str
    data: bytes
    mime_type: str


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _did(handle: str) -> str:
    return "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]


def _jwt(handle: str, scope: str, lifetime: int) -> str:
    """A token shaped like a PDS's (atproto reads `exp` to know when to refresh)."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"scope": scope, "sub": _did(handle), "iat": now, "exp": now + lifetime, "aud": "did:web:fake.pds",
              "jti": secrets.token_hex(8)}
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(claims)}.{secrets.token_urlsafe(32)}"


def _cid(data: bytes) -> str:
    return "bafyrei" + hashlib.sha256(data).hexdigest()[:52]


class FakeBluesky(LoopbackFake):
    name = "fake-bluesky"

    def __init__(self) -> None:
        super().__init__()
        self.page_size: int | None = None  # replaces the client's limit when set
        self._passwords: dict[str, str] = {}
        self._sessions: dict[str, str] = {}  # access or refresh token -> handle
        self._tid = int(time.time() * 1_000_000)
        self._posts_by_uri: dict[str, dict] = {}
        self._order: list[str] = []  # uris, oldest first
        self._notifications: list[dict] = []  # oldest first
        self._posted: list[PostedRecord] = []
        self._blobs: dict[str, Blob] = {}
        self.deleted: set[str] = set()
        self._accepted: dict[str, float] = {}  # uri -> when createRecord accepted it
        self._engagement: dict[str, dict] = {}
        self.engagement_per_minute = {"likes": 3.0, "reposts": 1.0, "replies": 0.5, "quotes": 0.2}
        self.reposts: list[str] = []  # the uris reposted through createRecord

    # --- control -------------------------------------------------------------------

    def add_user(self, handle: str, app_password: str) -> str:
        with self.lock:
            self._passwords[handle] = app_password
        return _did(handle)

    def _rkey(self) -> str:
        self._tid += 1
        value, out = self._tid, ""
        for _ in range(13):
            out = TID_CHARS[value & 31] + out
            value >>= 5
        return out

    def _author(self, handle: str, name: str | None = None) -> dict:
        return {"did": _did(handle), "handle": handle, "displayName": name if name is not None else handle.split(".")[0],
                "avatar": None, "labels": [], "createdAt": "2024-01-01T00:00:00.000Z"}

    def add_post(self, text: str, *, author: str = "someone.bsky.social", name: str | None = None,
                 langs: list[str] | None = None, mention_of: str | None = None, reply_to: str | None = None,
                 posted_at: datetime | None = None, overrides: dict | None = None) -> str:
        """A post in the network (found by search), and a mention notification for
        `mention_of`'s account when given. Returns its at:// URI."""
        with self.lock:
            view = self._view(author, text, name=name, langs=langs or ["en"], posted_at=posted_at,
                              reply_to=reply_to)
            view.update(overrides or {})
            self._store(view)
            if mention_of:
                self._notifications.append({
                    "uri": view["uri"], "cid": view["cid"], "author": view["author"], "reason": "mention",
                    "record": view["record"], "isRead": False, "indexedAt": view["indexedAt"], "labels": [],
                    "for": _did(mention_of)})
            return view["uri"]

    def _view(self, handle: str, text: str, *, name=None, langs=None, posted_at=None, reply_to=None,
              embed: dict | None = None) -> dict:
        rkey = self._rkey()
        uri = f"at://{_did(handle)}/app.bsky.feed.post/{rkey}"
        created = _iso(posted_at or datetime.now(timezone.utc))
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created,
                                  "langs": langs or ["en"]}
        if reply_to:
            parent = self._posts_by_uri[reply_to]
            root = (parent["record"].get("reply") or {}).get("root") or {"uri": parent["uri"], "cid": parent["cid"]}
            record["reply"] = {"parent": {"uri": parent["uri"], "cid": parent["cid"]}, "root": root}
        if embed:
            record["embed"] = embed
        return {"uri": uri, "cid": _cid(uri.encode()), "author": self._author(handle, name), "record": record,
                "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
                "indexedAt": _iso(datetime.now(timezone.utc)), "labels": []}

    def _store(self, view: dict) -> None:
        self._posts_by_uri[view["uri"]] = view
        self._order.append(view["uri"])

    def set_engagement(self, uri: str, **counts: int) -> None:
        """Fix the counts getPosts sends for this post (likes, reposts, replies, quotes)."""
        with self.lock:
            self._engagement[uri] = dict(counts)

    def _counted(self, view: dict) -> dict:
        counts = self._engagement.get(view["uri"])
        if counts is None:
            accepted = self._accepted.get(view["uri"])
            if accepted is None:
                return view
            minutes = min(max(0.0, time.time() - accepted) / 60, 24 * 60)
            counts = {name: int(rate * minutes) for name, rate in self.engagement_per_minute.items()}
        return {**view, "likeCount": counts.get("likes", 0), "repostCount": counts.get("reposts", 0),
                "replyCount": counts.get("replies", 0), "quoteCount": counts.get("quotes", 0)}

    @property
    def posts(self) -> list[PostedRecord]:
        with self.lock:
            return list(self._posted)

    @property
    def blobs(self) -> list[Blob]:
        with self.lock:
            return list(self._blobs.values())

    # --- HTTP ----------------------------------------------------------------------

    def rate_limit_headers(self, failure: Failure | None) -> dict[str, str]:
        limited = failure is not None and failure.status == 429
        reset = failure.reset_at if limited else int(time.time()) + 300
        return {"ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": "0" if limited else str(RATE_LIMIT - 1),
                "ratelimit-reset": str(reset), "ratelimit-policy": f"{RATE_LIMIT};w=300"}

    def error_body(self, status: int) -> Any:
        names = {400: "InvalidRequest", 401: "AuthenticationRequired", 429: "RateLimitExceeded",
                 500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources"}
        return {"error": names.get(status, "Error"), "message": f"{names.get(status, 'Error')} ({status})"}

    def route(self, request: RecordedRequest) -> Answer:
        if not request.path.startswith("/xrpc/"):
            raise Refusal(404, {"error": "NotFound", "message": "Not Found"})
        method = request.path[len("/xrpc/"):]
        body: Any = None
        if request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                raise Refusal(400, {"error": "InvalidRequest", "message": "Request body is not JSON"})
        with self.lock:
            if method == "com.atproto.server.createSession" and request.method == "POST":
                return self._create_session(body or {})
            if method == "com.atproto.server.refreshSession" and request.method == "POST":
                return self._refresh(request)
            handle = self._authenticated(request)
            if method == "com.atproto.server.getSession":
                return Answer(200, {"handle": handle, "did": _did(handle), "active": True})
            if method == "app.bsky.feed.searchPosts":
                return self._search(request)
            if method == "app.bsky.notification.listNotifications":
                return self._notifications_page(request, handle)
            if method == "app.bsky.feed.getPosts":
                uris = request.params.get("uris", [])
                if len(uris) > 25:
                    raise Refusal(400, {"error": "InvalidRequest", "message": "uris must not have more than 25 elements"})
                return Answer(200, {"posts": [self._counted(self._posts_by_uri[u]) for u in uris
                                              if u in self._posts_by_uri and u not in self.deleted]})
            if method == "app.bsky.actor.getProfile":
                actor = request.param("actor") or handle
                return Answer(200, {**self._author(actor), "followersCount": 0, "followsCount": 0, "postsCount": 0})
            if method == "com.atproto.repo.uploadBlob" and request.method == "POST":
                return self._upload(request)
            if method == "com.atproto.repo.createRecord" and request.method == "POST":
                return self._create_record(body or {}, handle)
            if method == "com.atproto.repo.deleteRecord" and request.method == "POST":
                return self._delete_record(body or {}, handle)
        raise Refusal(501, {"error": "MethodNotImplemented", "message": f"Method Not Implemented: {method}"})

    def _create_session(self, body: dict) -> Answer:
        handle, password = body.get("identifier"), body.get("password")
        if handle not in self._passwords or self._passwords[handle] != password:
            raise Refusal(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
        access, refresh = _jwt(handle, "com.atproto.appPass", 7200), _jwt(handle, "com.atproto.refresh", 86400 * 90)
        self._sessions[access] = self._sessions["refresh:" + refresh] = handle
        return Answer(200, {"accessJwt": access, "refreshJwt": refresh, "handle": handle, "did": _did(handle),
                            "active": True})

    def _refresh(self, request: RecordedRequest) -> Answer:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        handle = self._sessions.get("refresh:" + token)
        if handle is None:
            raise Refusal(400, {"error": "ExpiredToken", "message": "Token has expired"})
        access, refresh = _jwt(handle, "com.atproto.appPass", 7200), _jwt(handle, "com.atproto.refresh", 86400 * 90)
        self._sessions[access] = self._sessions["refresh:" + refresh] = handle
        return Answer(200, {"accessJwt": access, "refreshJwt": refresh, "handle": handle, "did": _did(handle),
                            "active": True})

    def _authenticated(self, request: RecordedRequest) -> str:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        handle = self._sessions.get(token) if token and not token.startswith("refresh:") else None
        if handle is None:
            raise Refusal(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        return handle

    def _limit(self, request: RecordedRequest, default: int = 25, most: int = 100) -> int:
        value = request.param("limit") or str(default)
        if not value.isdigit() or not 1 <= int(value) <= most:
            raise Refusal(400, {"error": "InvalidRequest", "message": f"limit must be between 1 and {most}"})
        return self.page_size or int(value)

    def _page(self, request: RecordedRequest, items: list[dict]) -> tuple[list[dict], str | None]:
        """Newest first; the cursor is the position after the page's last item."""
        limit = self._limit(request)
        cursor = request.param("cursor")
        start = 0
        if cursor:
            if not cursor.isdigit():
                raise Refusal(400, {"error": "InvalidRequest", "message": "Malformed cursor"})
            start = int(cursor)
        newest_first = list(reversed(items))
        page = newest_first[start:start + limit]
        more = start + limit < len(newest_first)
        return page, str(start + limit) if more else None

    def _search(self, request: RecordedRequest) -> Answer:
        words = [w.casefold() for w in (request.param("q") or "").split()]
        if not words:
            raise Refusal(400, {"error": "InvalidRequest", "message": "Error: Params must have the property \"q\""})
        matches = [self._posts_by_uri[u] for u in self._order if u not in self.deleted
                   and all(w in str(self._posts_by_uri[u]["record"].get("text", "")).casefold() for w in words)]
        page, cursor = self._page(request, matches)
        return Answer(200, {"posts": page, **({"cursor": cursor} if cursor else {}), "hitsTotal": len(matches)})

    def _notifications_page(self, request: RecordedRequest, handle: str) -> Answer:
        reasons = request.params.get("reasons") or request.params.get("reasons[]")
        mine = [{k: v for k, v in n.items() if k != "for"} for n in self._notifications
                if n["for"] == _did(handle) and (not reasons or n["reason"] in reasons)]
        page, cursor = self._page(request, mine)
        return Answer(200, {"notifications": page, **({"cursor": cursor} if cursor else {}), "seenAt": None})

    def _upload(self, request: RecordedRequest) -> Answer:
        if not request.body:
            raise Refusal(400, {"error": "InvalidRequest", "message": "Request body is empty"})
        cid = _cid(request.body)
        mime = request.headers.get("content-type", "*/*")
        if mime in ("*/*", "application/octet-stream", ""):  # the PDS sniffs what the client did not say
            data = request.body
            mime = ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg" if data.startswith(b"\xff\xd8")
                    else "image/gif" if data.startswith(b"GIF8") else "image/webp" if data[8:12] == b"WEBP"
                    else "video/mp4" if data[4:8] == b"ftyp" else "application/octet-stream")
        self._blobs[cid] = Blob(cid, request.body, mime)
        return Answer(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime,
                                     "size": len(request.body)}})

    def _create_record(self, body: dict, handle: str) -> Answer:
        record = body.get("record")
        if body.get("repo") not in (handle, _did(handle)):
            raise Refusal(401, {"error": "InvalidToken", "message": "Token could not be verified"})
        if body.get("collection") == "app.bsky.feed.repost" and isinstance(record, dict):
            return self._create_repost(record, handle)
        if body.get("collection") != "app.bsky.feed.post" or not isinstance(record, dict):
            raise Refusal(400, {"error": "InvalidRequest", "message": "Invalid record"})
        text = record.get("text")
        if not isinstance(text, str) or len(text) > 3000:
            raise Refusal(400, {"error": "InvalidRequest", "message": "Record/text must not be longer than 3000"})
        reply = record.get("reply") or {}
        parent = (reply.get("parent") or {}).get("uri") if isinstance(reply, dict) else None
        if parent is not None and parent not in self._posts_by_uri:
            raise Refusal(400, {"error": "InvalidRequest", "message": "Reply parent not found"})
        embed = record.get("embed") or {}
        blobs = [image.get("image", {}).get("ref", {}).get("$link") for image in embed.get("images", [])]
        if any(cid not in self._blobs for cid in blobs):
            raise Refusal(400, {"error": "InvalidRequest", "message": "Could not find blob"})
        view = self._view(handle, text, langs=record.get("langs"), reply_to=parent, embed=embed or None)
        view["record"] = {**record, "$type": "app.bsky.feed.post"}
        self._store(view)
        self._posted.append(PostedRecord(view["uri"], text, parent, blobs, handle, time.time(), record))
        self._accepted[view["uri"]] = time.time()
        return Answer(200, {"uri": view["uri"], "cid": view["cid"], "commit": {"cid": _cid(b"c" + view["cid"].encode()), "rev": self._rkey()},
                            "validationStatus": "valid"})

    def _create_repost(self, record: dict, handle: str) -> Answer:
        subject = record.get("subject") or {}
        uri = subject.get("uri") if isinstance(subject, dict) else None
        if uri not in self._posts_by_uri or uri in self.deleted or subject.get("cid") != self._posts_by_uri[uri]["cid"]:
            raise Refusal(400, {"error": "InvalidRequest", "message": "Could not locate record: subject"})
        repost_uri = f"at://{_did(handle)}/app.bsky.feed.repost/{self._rkey()}"
        self.reposts.append(uri)
        return Answer(200, {"uri": repost_uri, "cid": _cid(repost_uri.encode()), "validationStatus": "valid",
                            "commit": {"cid": _cid(b"c" + repost_uri.encode()), "rev": self._rkey()}})

    def _delete_record(self, body: dict, handle: str) -> Answer:
        uri = f"at://{_did(handle)}/{body.get('collection')}/{body.get('rkey')}"
        if uri in self._posts_by_uri:
            self.deleted.add(uri)
        return Answer(200, {"commit": {"cid": _cid(uri.encode()), "rev": self._rkey()}})


@pytest.fixture
def bluesky_api():
    """A running FakeBluesky on a free loopback port; stopped at the end of the test."""
    with FakeBluesky() as fake:
        yield fake


def main() -> None:
    """`make run`: the demo room's Bluesky, printing every post it accepts."""
    import argparse

    parser = argparse.ArgumentParser(description="A loopback fake of Bluesky for the demo room.")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--user", action="append", default=[], help="handle:app-password who may log in")
    parser.add_argument("--chatter", type=float, default=0, help="a fan's post mentioning the first user every N seconds")
    arguments = parser.parse_args()
    fake = FakeBluesky().start(port=arguments.port)
    for user in arguments.user:
        handle, _, password = user.partition(":")
        fake.add_user(handle, password)
    print(f"fake Bluesky listening on http://127.0.0.1:{arguments.port}", flush=True)
    brand = arguments.user[0].partition(":")[0] if arguments.user else "crunchwave.bsky.social"
    shown, said, next_at = 0, 0, time.monotonic()
    try:
        while True:
            time.sleep(0.5)
            if arguments.chatter and time.monotonic() >= next_at:
                author, text = CHATTER[(said + 3) % len(CHATTER)]
                fake.add_post(f"@{brand} {text}", author=f"{author}.bsky.social", mention_of=brand)
                said, next_at = said + 1, time.monotonic() + arguments.chatter
            posts = fake.posts
            for post in posts[shown:]:
                print(f"fake Bluesky accepted post {post.uri}: {post.text[:200]!r}", flush=True)
            shown = len(posts)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
