"""A loopback fake of a Mastodon instance's REST API, so that Mastodon.py and the room's
code run unchanged against it (point MASTODON_API_BASE_URL, or an account's instance URL,
at `fake.url`).

    def test_something(mastodon_api, settings):
        settings.MASTODON_API_BASE_URL = mastodon_api.url
        status_id = mastodon_api.add_status("Lights out #SuperBowl", author="fan", followers=120)
        mastodon_api.add_status("@brand help", author="angry", mention_of="brand")  # a mention notification
        mastodon_api.fail_next(status=429, reset_in=60)   # X-RateLimit-Reset (ISO 8601) and 429
        mastodon_api.fail_next(status=503)                # {"error": ...}
        mastodon_api.fail_next(malformed=True)            # 200 with a truncated JSON body
        mastodon_api.fail_next(delay=2.0)                 # normal answer, 2 s late
        mastodon_api.posts, mastodon_api.media, mastodon_api.requests
        mastodon_api.set_engagement(status_id, likes=600)   # fixed counts for a status
        mastodon_api.engagement_per_minute = {"likes": 5}   # how fast accepted statuses grow

Speaks: GET /api/v1/timelines/tag/:tag, GET /api/v1/notifications (types[]=mention),
GET /api/v2/search (type=statuses), GET /api/v1/accounts/verify_credentials,
POST /api/v1/statuses (Idempotency-Key honoured), GET and DELETE /api/v1/statuses/:id,
GET /api/v1/statuses?id[]= (several at once; unknown ids left out), POST
/api/v1/statuses/:id/reblog,
POST /api/v2/media and GET /api/v1/media/:id, GET /api/v1/instance.

Lists come newest first with max_id / since_id / min_id as Mastodon pages them (min_id:
the posts just above it) and a Link header (rel="next": max_id of the last, rel="prev":
min_id of the first). Every answer carries X-RateLimit-Limit/-Remaining/-Reset (an ISO
8601 time, as Mastodon sends it). Every request needs `Authorization: Bearer <token>`
(any token unless `tokens` is set); a post is recorded before any configured delay, so a
client that times out has still posted.

Engagement: a status the fake accepted through POST /api/v1/statuses grows with the
minutes since (`engagement_per_minute`: likes as favourites_count, reposts as
reblogs_count, replies as replies_count; for its first day; the clock is `time.time()`,
so time-machine moves it); `set_engagement` fixes a status's counts instead.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from html import escape
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import pytest

from .loopback import CHATTER, Answer, Failure, LoopbackFake, RecordedRequest, Refusal

FIRST_ID = 110_000_000_000_000_000
ID_STEP = 1 << 16
RATE_LIMIT = 300


@dataclass(frozen=True)
class PostedStatus:
    id: str
    text: str
    in_reply_to: str | None
    media_ids: list[str]
    token: str
    at: float


@dataclass(frozen=True)
class UploadedMedia:
    id: str
    data: bytes
    mime_type: str
    description: str


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeMastodon(LoopbackFake):
    name = "fake-mastodon"

    def __init__(self, host: str = "mastodon.example") -> None:
        super().__init__()
        self.host = host
        self.account = "brand"  # the account posts are made as
        self.tokens: set[str] | None = None  # when set, other tokens get a 401
        self.max_chars = 500
        self._next_id = FIRST_ID
        self._statuses: dict[int, dict] = {}
        self._tagged: dict[int, set[str]] = {}
        self._notifications: dict[int, dict] = {}
        self._posts: list[PostedStatus] = []
        self._media: dict[str, UploadedMedia] = {}
        self._idempotent: dict[tuple[str, str], dict] = {}
        self.deleted: set[str] = set()
        self._accepted: dict[int, float] = {}  # status id -> when POST /api/v1/statuses accepted it
        self._engagement: dict[int, dict] = {}
        self.engagement_per_minute = {"likes": 3.0, "reposts": 1.0, "replies": 0.5}
        self.reblogs: list[str] = []  # ids of the statuses reblogged through the API

    # --- control -------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += ID_STEP
        return self._next_id

    def _account_json(self, username: str, followers: int = 0, name: str | None = None) -> dict:
        return {"id": str(abs(hash(username)) % 10**9), "username": username, "acct": username,
                "display_name": name if name is not None else username.title(), "followers_count": followers,
                "following_count": 0, "statuses_count": 1, "locked": False, "bot": False,
                "url": f"https://{self.host}/@{username}", "created_at": "2024-01-01T00:00:00.000Z",
                "note": "", "avatar": "", "header": "", "emojis": [], "fields": []}

    def add_status(self, text: str, *, author: str = "someone", followers: int = 0, name: str | None = None,
                   lang: str | None = "en", in_reply_to: str | None = None, mention_of: str | None = None,
                   posted_at: datetime | None = None, overrides: dict | None = None) -> str:
        """A status on the instance (its tags are the #words of the text), and a mention
        notification for `mention_of`'s account when given. Returns its id."""
        with self.lock:
            status_id = self._id()
            status = self._status_json(status_id, text, author=author, followers=followers, name=name, lang=lang,
                                       in_reply_to=in_reply_to, posted_at=posted_at)
            status.update(overrides or {})
            self._statuses[status_id] = status
            self._tagged[status_id] = {word[1:].strip(".,!?").casefold() for word in text.split() if word.startswith("#")}
            if mention_of:
                notification_id = self._id()
                self._notifications[notification_id] = {
                    "id": str(notification_id), "type": "mention", "created_at": status["created_at"],
                    "account": status["account"], "status": status}
            return str(status_id)

    def _status_json(self, status_id: int, text: str, *, author: str, followers: int = 0, name: str | None = None,
                     lang: str | None = "en", in_reply_to: str | None = None, posted_at: datetime | None = None,
                     media: list[dict] | None = None) -> dict:
        account = self._account_json(author, followers, name)
        paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n\n"))
        return {
            "id": str(status_id), "uri": f"https://{self.host}/users/{author}/statuses/{status_id}",
            "url": f"https://{self.host}/@{author}/{status_id}", "created_at": _iso(posted_at or datetime.now(timezone.utc)),
            "account": account, "content": paragraphs.replace("\n", "<br />"), "language": lang,
            "in_reply_to_id": in_reply_to, "in_reply_to_account_id": None, "visibility": "public",
            "sensitive": False, "spoiler_text": "", "media_attachments": media or [], "mentions": [], "tags": [],
            "emojis": [], "reblogs_count": 0, "favourites_count": 0, "replies_count": 0, "reblog": None,
            "poll": None, "card": None, "edited_at": None, "application": None,
        }

    def set_engagement(self, status_id: str, **counts: int) -> None:
        """Fix the counts this status is sent with (likes, reposts, replies); others are 0."""
        with self.lock:
            self._engagement[int(status_id)] = dict(counts)

    def _counted(self, status: dict) -> dict:
        status_id = int(status["id"])
        counts = self._engagement.get(status_id)
        if counts is None:
            accepted = self._accepted.get(status_id)
            if accepted is None:
                return status
            minutes = min(max(0.0, time.time() - accepted) / 60, 24 * 60)
            counts = {name: int(rate * minutes) for name, rate in self.engagement_per_minute.items()}
        return {**status, "favourites_count": counts.get("likes", 0), "reblogs_count": counts.get("reposts", 0),
                "replies_count": counts.get("replies", 0)}

    @property
    def posts(self) -> list[PostedStatus]:
        with self.lock:
            return list(self._posts)

    @property
    def media(self) -> list[UploadedMedia]:
        with self.lock:
            return list(self._media.values())

    # --- HTTP ----------------------------------------------------------------------

    def rate_limit_headers(self, failure: Failure | None) -> dict[str, str]:
        reset = failure.reset_at if failure is not None and failure.status == 429 else int(time.time()) + 300
        remaining = "0" if failure is not None and failure.status == 429 else str(RATE_LIMIT - 1)
        return {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": remaining,
                "X-RateLimit-Reset": _iso(datetime.fromtimestamp(reset, tz=timezone.utc))}

    def error_body(self, status: int) -> Any:
        return {"error": {429: "Too many requests", 401: "The access token is invalid", 404: "Record not found",
                          503: "Service Unavailable", 500: "Internal Server Error"}.get(status, f"Error {status}")}

    def route(self, request: RecordedRequest) -> Answer:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        parts = request.path.strip("/").split("/")
        if parts == ["api", "v1", "instance"]:
            return Answer(200, {"uri": self.host, "title": "Fake Mastodon", "version": "4.3.0", "languages": ["en"]})
        if parts == ["api", "v2", "instance"]:
            return Answer(200, {"domain": self.host, "title": "Fake Mastodon", "version": "4.3.0",
                                "api_versions": {"mastodon": 2}, "languages": ["en"]})
        if scheme != "Bearer" or not token or (self.tokens is not None and token not in self.tokens):
            raise Refusal(401, self.error_body(401))
        with self.lock:
            if request.method == "GET" and parts[:4] == ["api", "v1", "timelines", "tag"] and len(parts) == 5:
                tag = unquote(parts[4]).casefold()
                return self._list(request, [s for i, s in self._statuses.items() if tag in self._tagged[i]])
            if request.method == "GET" and parts == ["api", "v1", "notifications"]:
                types = request.params.get("types[]") or request.params.get("types")
                notes = [n for n in self._notifications.values() if not types or n["type"] in types]
                return self._list(request, notes)
            if request.method == "GET" and parts == ["api", "v2", "search"]:
                return self._search(request)
            if request.method == "GET" and parts == ["api", "v1", "accounts", "verify_credentials"]:
                return Answer(200, self._account_json(self.account))
            if request.method == "POST" and parts == ["api", "v1", "statuses"]:
                return self._create(request, token)
            if request.method == "GET" and parts == ["api", "v1", "statuses"]:
                wanted = request.params.get("id[]") or request.params.get("id") or []
                found = [self._statuses.get(int(i)) for i in wanted if i.isdigit() and i not in self.deleted]
                return Answer(200, [self._counted(status) for status in found if status is not None])
            if request.method == "POST" and parts[:3] == ["api", "v1", "statuses"] and len(parts) == 5 \
                    and parts[4] == "reblog":
                return self._reblog(parts[3])
            if parts[:3] == ["api", "v1", "statuses"] and len(parts) == 4:
                return self._one(request.method, parts[3])
            if request.method == "POST" and parts in (["api", "v2", "media"], ["api", "v1", "media"]):
                return self._upload(request)
            if request.method == "GET" and parts[:3] == ["api", "v1", "media"] and len(parts) == 4:
                media = self._media.get(parts[3])
                if media is None:
                    raise Refusal(404, self.error_body(404))
                return Answer(200, self._media_json(media))
        raise Refusal(404, self.error_body(404))

    @staticmethod
    def _int(request: RecordedRequest, name: str) -> int | None:
        value = request.param(name)
        if value in (None, ""):
            return None
        if not value.isdigit():
            raise Refusal(422, {"error": f"Validation failed: {name} is invalid"})
        return int(value)

    def _window(self, request: RecordedRequest, items: list[dict], default_limit=20, max_limit=40) -> list[dict]:
        limit = min(self._int(request, "limit") or default_limit, max_limit)
        max_id, since_id, min_id = (self._int(request, n) for n in ("max_id", "since_id", "min_id"))
        chosen = sorted((item for item in items if item["id"] not in self.deleted), key=lambda s: int(s["id"]))
        if max_id is not None:
            chosen = [s for s in chosen if int(s["id"]) < max_id]
        if since_id is not None:
            chosen = [s for s in chosen if int(s["id"]) > since_id]
        if min_id is not None:
            chosen = [s for s in chosen if int(s["id"]) > min_id][:limit]  # just above min_id
        else:
            chosen = chosen[-limit:]  # the newest
        return list(reversed(chosen))

    def _list(self, request: RecordedRequest, items: list[dict]) -> Answer:
        page = self._window(request, items)
        headers = {}
        if page:
            keep = {k: v for k, v in request.params.items() if k not in ("max_id", "min_id", "since_id")}
            base = f"{self.url}{request.path}"
            next_q = urlencode([*((k, v) for k, vs in keep.items() for v in vs), ("max_id", page[-1]["id"])])
            prev_q = urlencode([*((k, v) for k, vs in keep.items() for v in vs), ("min_id", page[0]["id"])])
            headers["Link"] = f'<{base}?{next_q}>; rel="next", <{base}?{prev_q}>; rel="prev"'
        return Answer(200, page, headers)

    def _search(self, request: RecordedRequest) -> Answer:
        words = [w.casefold() for w in (request.param("q") or "").split() if w]
        if not words:
            raise Refusal(400, {"error": "Validation failed: q is missing"})
        if request.param("type") not in (None, "statuses"):
            return Answer(200, {"accounts": [], "statuses": [], "hashtags": []})
        matches = [s for s in self._statuses.values()
                   if all(w in self._plain(s).casefold() for w in words)]
        offset = self._int(request, "offset") or 0
        statuses = self._window(request, matches)[offset:]
        return Answer(200, {"accounts": [], "statuses": statuses, "hashtags": []})

    @staticmethod
    def _plain(status: dict) -> str:
        content = status.get("content")
        return content if isinstance(content, str) else ""

    def _form(self, request: RecordedRequest) -> tuple[dict[str, list[str]], dict[str, tuple[bytes, str]]]:
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = json.loads(request.body or b"{}")
            return {k: (v if isinstance(v, list) else [str(v)]) for k, v in body.items() if v is not None}, {}
        if kind.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + kind.encode() + b"\r\n\r\n" + request.body)
            fields, files = {}, {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    files[name] = (data, part.get_content_type())
                else:
                    fields.setdefault(name, []).append(data.decode())
            return fields, files
        return parse_qs(request.body.decode(), keep_blank_values=True), {}

    def _create(self, request: RecordedRequest, token: str) -> Answer:
        key = request.headers.get("idempotency-key")
        if key and (token, key) in self._idempotent:
            return Answer(200, self._idempotent[(token, key)])
        fields, _ = self._form(request)
        text = (fields.get("status") or [""])[-1]
        media_ids = fields.get("media_ids[]") or fields.get("media_ids") or []
        if not text.strip() and not media_ids:
            raise Refusal(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > self.max_chars:
            raise Refusal(422, {"error": f"Validation failed: Text character limit of {self.max_chars} exceeded"})
        reply_to = (fields.get("in_reply_to_id") or [None])[-1]
        if reply_to is not None and (not reply_to.isdigit() or int(reply_to) not in self._statuses):
            raise Refusal(404, self.error_body(404))
        unknown = [m for m in media_ids if m not in self._media]
        if unknown:
            raise Refusal(422, {"error": "Validation failed: Media attachments are invalid"})
        status_id = self._id()
        status = self._status_json(status_id, text, author=self.account, in_reply_to=reply_to,
                                   media=[self._media_json(self._media[m]) for m in media_ids])
        self._statuses[status_id] = status
        self._tagged[status_id] = set()
        self._posts.append(PostedStatus(str(status_id), text, reply_to, list(media_ids), token, time.time()))
        self._accepted[status_id] = time.time()
        if key:
            self._idempotent[(token, key)] = status
        return Answer(200, status)

    def _one(self, method: str, status_id: str) -> Answer:
        status = self._statuses.get(int(status_id)) if status_id.isdigit() else None
        if status is None or status_id in self.deleted:
            raise Refusal(404, self.error_body(404))
        if method == "DELETE":
            self.deleted.add(status_id)
        return Answer(200, self._counted(status))

    def _reblog(self, status_id: str) -> Answer:
        original = self._statuses.get(int(status_id)) if status_id.isdigit() else None
        if original is None or status_id in self.deleted:
            raise Refusal(404, self.error_body(404))
        reblog_id = self._id()
        status = self._status_json(reblog_id, "", author=self.account)
        status["content"], status["reblog"] = "", original
        self._statuses[reblog_id] = status
        self._tagged[reblog_id] = set()
        self.reblogs.append(status_id)
        return Answer(200, status)

    def _upload(self, request: RecordedRequest) -> Answer:
        fields, files = self._form(request)
        if "file" not in files:
            raise Refusal(422, {"error": "Validation failed: File can't be blank"})
        data, mime = files["file"]
        media_id = str(self._id())
        self._media[media_id] = UploadedMedia(media_id, data, mime, (fields.get("description") or [""])[-1])
        return Answer(200, self._media_json(self._media[media_id]))

    def _media_json(self, media: UploadedMedia) -> dict:
        kind = "video" if media.mime_type.startswith("video/") else "image"
        return {"id": media.id, "type": kind, "url": f"https://{self.host}/media/{media.id}",
                "preview_url": f"https://{self.host}/media/{media.id}/small", "remote_url": None,
                "description": media.description, "blurhash": None, "meta": {}}


@pytest.fixture
def mastodon_api():
    """A running FakeMastodon on a free loopback port; stopped at the end of the test."""
    with FakeMastodon() as fake:
        yield fake


def main() -> None:
    """`make run`: the demo room's Mastodon instance, printing every post it accepts."""
    import argparse

    parser = argparse.ArgumentParser(description="A loopback fake of a Mastodon instance for the demo room.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--chatter", type=float, default=0, help="a fan's #Crunchwave post every N seconds")
    arguments = parser.parse_args()
    port = arguments.port
    fake = FakeMastodon().start(port=port)
    print(f"fake Mastodon listening on http://127.0.0.1:{port}", flush=True)
    shown, said, next_at = 0, 0, time.monotonic()
    try:
        while True:
            time.sleep(0.5)
            if arguments.chatter and time.monotonic() >= next_at:
                author, text = CHATTER[said % len(CHATTER)]
                fake.add_status(f"{text} #Crunchwave", author=author, followers=40 + 17 * said,
                                mention_of="crunchwave" if said % 3 == 0 else None)
                said, next_at = said + 1, time.monotonic() + arguments.chatter
            posts = fake.posts
            for post in posts[shown:]:
                print(f"fake Mastodon accepted status {post.id}: {post.text[:200]!r}", flush=True)
            shown = len(posts)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
