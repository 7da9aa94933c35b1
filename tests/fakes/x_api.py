"""A loopback fake of the X API v2: a real HTTP server on 127.0.0.1 that speaks X's JSON
shapes for recent search, user lookup by username, user mentions and create post, so that
tweepy and listening/adapters/x.py run unchanged against it (point X_API_BASE_URL at
`fake.url`).

    def test_something(x_api, settings):
        settings.X_API_BASE_URL, settings.X_BEARER_TOKEN = x_api.url, "test-bearer"
        tweet_id = x_api.add_tweet("Blackout at the game #brand", author="fan", followers=1200)
        x_api.add_tweets(10_000, text="post {i} about #brand")   # fast bulk load, returns ids
        x_api.fail_next(status=429, reset_in=60)   # -> Failure; .reset_at is the epoch second sent
        x_api.fail_next(status=503)                # X's 5xx problem JSON
        x_api.fail_next(malformed=True)            # 200 with a truncated JSON body
        x_api.fail_next(delay=2.0)                 # normal answer, 2 s late (cut short at stop)
        x_api.fail_next(status=503, after=1)       # let one request through, fail the second
        x_api.page_size = 7                        # pages of 7 whatever max_results says
        x_api.requests, x_api.posts                # snapshots: every request; accepted posts
        x_api.posts[0].media[0].data               # the bytes of a file the post carries
        x_api.uploads                              # every media upload begun (INIT), finished or not
        x_api.set_engagement(post_id, likes=600)   # fixed counts for GET /2/tweets?ids=
        x_api.engagement_per_minute = {"likes": 5} # how fast accepted posts grow (see below)
        x_api.retweets                             # ids retweeted through POST /2/users/:id/retweets

Behaviour worth knowing:

- Search matching is deliberately simple: a post matches when every bare word of the query
  occurs in its text as added (before `overrides`), case-insensitively (substring match). Operators (`lang:en`,
  `-is:retweet`), negated words (`-spam`), `OR` and parentheses are accepted and ignored.
- Mentions: a post mentions an account when it was added with `mention_of=<handle>` or its
  text contains `@handle`.
- Ids are increasing snowflake-like integers as strings; posts come back newest first, and
  `next_token` / `pagination_token` continue strictly below the last id returned, so posts
  added between pages never shift a page.
- Only the requested `tweet.fields` / `user.fields` are returned (plus X's defaults: `id`,
  `text`, `edit_history_tweet_ids`; `id`, `name`, `username`), and `author_id` with
  `includes.users` only with `expansions=author_id`, as X does. An author that does not exist is reported in a
  partial `errors` entry, as X does.
- Engagement: `GET /2/tweets?ids=` (post lookup) answers `public_metrics` when asked. A
  post the fake accepted through `POST /2/tweets` grows with the minutes since it was
  accepted (`engagement_per_minute`, for its first day; the clock is `time.time()`, so
  time-machine moves it); `set_engagement` fixes a post's counts instead. Ids it does not
  hold come back in `errors`, as X reports deleted posts.
- `GET /2/users/me` answers the posting account (tweepy asks it before a retweet with an
  OAuth 2.0 user token); `POST /2/users/:id/retweets` retweets a post it holds (403 for one
  it does not, or one already retweeted) and answers `{"data": {"retweeted": true}}`.
- Every request needs an `Authorization` header (any bearer, or OAuth 1.0a); set
  `require_bearer` to demand one token. `POST /2/tweets` rejects duplicate text from the
  same account and replies to posts it does not hold with 403, like X. An accepted post is
  recorded before any configured delay, so a client that times out has still posted.
- Media (v1.1 on upload.twitter.com, which networks/x.py sends to the same base URL):
  `POST /1.1/media/upload.json` with command=INIT (total_bytes, media_type,
  media_category; 202), APPEND (media_id, segment_index, the `media` part of a multipart
  body; 204), FINALIZE (the segments must add up to total_bytes; 201, a video with
  `processing_info` pending), `GET ...?command=STATUS` (in_progress `video_status_checks`
  times, then succeeded), and `POST /1.1/media/metadata/create.json` (alt text, at most
  1,000 characters). `POST /2/tweets` with `media.media_ids` takes only finalized,
  processed uploads (400 "Your media IDs are invalid." otherwise) and records the bytes
  in the posted log.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import re
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

FIRST_TWEET_ID = 1_800_000_000_000_000_000
TWEET_ID_STEP = 1 << 22  # about one millisecond of a real snowflake
FIRST_USER_ID = 1_000_000_001
RATE_LIMIT = 450  # app-auth recent search: 450 requests per 15 minutes

DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER_FIELDS = ("id", "name", "username")

MISSING: Any = object()
"""In `overrides=`, removes a field from the stored JSON instead of setting it."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]  # query parameters, last value wins
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON body, raw text if it was not JSON, None if empty
    at: float  # time.time() when it arrived


@dataclass(frozen=True)
class RecordedMedia:
    media_id: str
    data: bytes  # the segments, joined in segment_index order
    media_type: str
    category: str
    alt_text: str


@dataclass(frozen=True)
class RecordedPost:
    id: str
    text: str
    in_reply_to: str | None
    auth: dict[str, str]  # {"type": "bearer", "token": ...} or {"type": "oauth1", "token": ..., "consumer_key": ...}
    at: float  # time.time() when it was accepted
    body: dict
    media: tuple[RecordedMedia, ...] = ()


@dataclass
class _Upload:
    media_id: int
    total_bytes: int
    media_type: str
    category: str
    segments: dict[int, bytes] = field(default_factory=dict)
    finalized: bool = False
    status_checks: int = 0
    alt_text: str = ""

    @property
    def data(self) -> bytes:
        return b"".join(self.segments[i] for i in sorted(self.segments))

    @property
    def processed(self) -> bool:
        return self.finalized and (not self.media_type.startswith("video/") or self.status_checks <= 0)


class _Form:
    """A form body (urlencoded or multipart): its fields and its files' bytes."""

    def __init__(self, fields: dict[str, str], files: dict[str, bytes]):
        self.fields, self.files = fields, files

    def summary(self) -> dict:
        return {**self.fields, **{name: f"<{len(data)} bytes>" for name, data in self.files.items()}}


def _parse_form(content_type: str, raw: bytes) -> _Form | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        pairs = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return _Form({key: values[-1] for key, values in pairs.items()}, {})
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw)
        fields, files = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = payload
            else:
                fields[name] = payload.decode("utf-8", "replace")
        return _Form(fields, files)
    return None


@dataclass
class Failure:
    """What the fake does to one upcoming request (see FakeXAPI.fail_next)."""

    status: int | None = None
    reset_at: int | None = None  # epoch seconds sent in x-rate-limit-reset with a 429
    malformed: bool = False
    delay: float | None = None
    body: Any = None
    after: int = 0  # requests to let through untouched first
    times: int = 1


@dataclass
class _Tweet:
    id: int
    json: dict
    author_id: str | None
    mentions: frozenset[str]  # case-folded handles
    indexed: str  # case-folded text as added, before overrides: what search matches


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Problem(Exception):
    """An X error answer: status and the problem JSON X sends."""

    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status = status
        self.body = body


def _problem(status: int) -> _Problem:
    titles = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    title = titles.get(status, "Error")
    return _Problem(status, {"title": title, "detail": title, "type": "about:blank", "status": status})


def _invalid(parameter: str, value: str, message: str) -> _Problem:
    return _Problem(400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })


def _not_found_error(resource: str, parameter: str, value: str) -> dict:
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _timestamp(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _query_words(query: str) -> list[str]:
    words = []
    for token in query.split():
        token = token.strip('()"')
        if not token or token.upper() in ("OR", "AND") or token.startswith("-") or ":" in token:
            continue
        words.append(token.casefold())
    return words


def _auth_context(header: str) -> dict[str, str] | None:
    scheme, _, rest = header.partition(" ")
    if scheme == "Bearer" and rest.strip():
        return {"type": "bearer", "token": rest.strip()}
    if scheme == "OAuth":
        values = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        return {"type": "oauth1", "token": unquote(values.get("oauth_token", "")),
                "consumer_key": unquote(values.get("oauth_consumer_key", ""))}
    return None


class FakeXAPI:
    """The fake X API server. Use as a context manager or through the `x_api` fixture."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._tweets: dict[int, _Tweet] = {}
        self._ids: list[int] = []  # ascending
        self._users: dict[str, dict] = {}
        self._usernames: dict[str, str] = {}  # case-folded username -> id
        self._next_tweet_id = FIRST_TWEET_ID
        self._next_user_id = FIRST_USER_ID
        self._failures: list[Failure] = []
        self._requests: list[RecordedRequest] = []
        self._posts: list[RecordedPost] = []
        self._uploads: dict[int, _Upload] = {}
        self._next_media_id = 1_900_000_000_000_000_000
        self.video_status_checks = 1  # STATUS answers in_progress this many times before succeeded
        self.page_size: int | None = None  # replaces the client's max_results when set (smaller or larger)
        self.require_bearer: str | None = None  # when set, any other bearer token gets a 401
        self.account = "warroom_brand"  # the account that POST /2/tweets posts as
        self.reject_duplicates = True
        self.max_post_length = 280  # counted in code points (X weighs URLs and CJK; the fake does not)
        self.deleted: set[str] = set()  # ids DELETE /2/tweets/:id removed (lookups then find nothing)
        self.oldest_since_id: int | None = None  # recent search's 7-day edge: no posts below it, no since_id below it
        self._accepted: dict[int, float] = {}  # post id -> when POST /2/tweets accepted it
        self._engagement: dict[int, dict] = {}
        self.retweets: list[str] = []
        self.engagement_per_minute = {"likes": 3.0, "reposts": 1.0, "replies": 0.5, "quotes": 0.2, "impressions": 120.0}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self, port: int = 0) -> "FakeXAPI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "tsa_b"
            sys_version = ""

            def do_GET(self):
                fake._handle(self)

            def do_POST(self):
                fake._handle(self)

            def do_PUT(self):
                fake._handle(self)

            def do_DELETE(self):
                fake._handle(self)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that hung up (a timeout test) is not an error of the fake

        self._stopping.clear()
        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-x-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts any delayed answer short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> "FakeXAPI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- control API ---------------------------------------------------------------

    def add_user(self, username: str, *, name: str | None = None, followers: int = 0,
                 overrides: dict | None = None) -> str:
        """Create (or update) an account; returns its id."""
        with self._lock:
            key = username.casefold()
            user_id = self._usernames.get(key)
            if user_id is None:
                user_id = str(self._next_user_id)
                self._next_user_id += 7
                self._usernames[key] = user_id
                self._users[user_id] = {
                    "id": user_id, "name": name or username.replace("_", " ").title(), "username": username,
                    "created_at": "2015-06-01T12:00:00.000Z", "description": "", "verified": False,
                    "public_metrics": {"followers_count": followers, "following_count": 100,
                                       "tweet_count": 1000, "listed_count": 3},
                }
            else:
                user = self._users[user_id]
                if name is not None:
                    user["name"] = name
                if isinstance(user.get("public_metrics"), dict):
                    user["public_metrics"]["followers_count"] = followers
            self._apply(self._users[user_id], overrides)
            return user_id

    def add_tweet(self, text: str, *, author: str | None = "someone", name: str | None = None,
                  followers: int | None = None, lang: str = "en", in_reply_to: str | None = None,
                  mention_of: str | None = None, created_at: datetime | None = None,
                  overrides: dict | None = None) -> str:
        """Add a post by `author` (created on first use; None: a post without author_id) and
        return its id. `overrides` sets or (with MISSING) removes fields of the stored JSON,
        for posts X would never send but a test wants to survive."""
        with self._lock:
            return str(self._add(text, author=author, name=name, followers=followers, lang=lang,
                                 in_reply_to=in_reply_to, mention_of=mention_of, created_at=created_at,
                                 overrides=overrides))

    def add_tweets(self, count: int, *, text: str = "post {i}", author: str = "someone", **fields) -> list[str]:
        """Add `count` posts quickly (one lock, one author lookup); `text` may use {i}."""
        with self._lock:
            return [str(self._add(text.format(i=i), author=author, **fields)) for i in range(count)]

    def fail_next(self, status: int | None = None, *, reset_in: float = 60, reset_at: int | None = None,
                  malformed: bool = False, delay: float | None = None, body: Any = None, after: int = 0,
                  times: int = 1) -> Failure:
        """Make an upcoming request fail or lag. Failures queue up in order; each lets `after`
        requests through, then applies to the next `times` requests.

        status=429 sends x-rate-limit-limit, x-rate-limit-remaining: 0 and x-rate-limit-reset
        (reset_at, or now + reset_in, in epoch seconds; read it back from the result). Other
        statuses send X's problem JSON (or `body`). malformed=True answers 200 with a broken
        JSON body. delay=seconds holds the answer back (combined with the others, or alone)."""
        if status == 429 and reset_at is None:
            reset_at = int(time.time() + reset_in)
        failure = Failure(status=status, reset_at=reset_at, malformed=malformed, delay=delay, body=body,
                          after=after, times=times)
        with self._lock:
            self._failures.append(failure)
        return failure

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def posts(self) -> list[RecordedPost]:
        with self._lock:
            return list(self._posts)

    @property
    def uploads(self) -> list[RecordedMedia]:
        with self._lock:
            return [RecordedMedia(str(u.media_id), u.data, u.media_type, u.category, u.alt_text)
                    for u in self._uploads.values()]

    def tweet(self, tweet_id: str) -> dict:
        """The full stored JSON of a post (what X would send with every field requested)."""
        with self._lock:
            return dict(self._tweets[int(tweet_id)].json)

    def set_engagement(self, tweet_id: str, **counts: int) -> None:
        """Fix the counts GET /2/tweets sends for this post (likes, reposts, replies,
        quotes, impressions); counts not given are 0."""
        with self._lock:
            self._engagement[int(tweet_id)] = dict(counts)

    def _metrics(self, tweet_id: int) -> dict:
        counts = self._engagement.get(tweet_id)
        if counts is None:
            accepted = self._accepted.get(tweet_id)
            minutes = min(max(0.0, time.time() - accepted) / 60, 24 * 60) if accepted is not None else 0.0
            counts = {name: int(rate * minutes) for name, rate in self.engagement_per_minute.items()}
        return {"retweet_count": counts.get("reposts", 0), "reply_count": counts.get("replies", 0),
                "like_count": counts.get("likes", 0), "quote_count": counts.get("quotes", 0),
                "bookmark_count": 0, "impression_count": counts.get("impressions", 0)}

    # --- state ---------------------------------------------------------------------

    @staticmethod
    def _apply(target: dict, overrides: dict | None) -> None:
        for key, value in (overrides or {}).items():
            if value is MISSING:
                target.pop(key, None)
            else:
                target[key] = value

    def _add(self, text, *, author, name=None, followers=None, lang="en", in_reply_to=None, mention_of=None,
             created_at=None, overrides=None) -> int:
        tweet_id = self._next_tweet_id
        self._next_tweet_id += TWEET_ID_STEP
        author_id = None
        if author is not None:
            author_id = self._usernames.get(author.casefold())
            if author_id is None or name is not None or followers is not None:
                existing = self._users.get(author_id or "", {})
                author_id = self.add_user(
                    author, name=name,
                    followers=followers if followers is not None
                    else existing.get("public_metrics", {}).get("followers_count", 0),
                )
        data = {
            "id": str(tweet_id),
            "text": text,
            "edit_history_tweet_ids": [str(tweet_id)],
            "created_at": _timestamp(created_at or datetime.now(timezone.utc)),
            "lang": lang,
            "conversation_id": str(tweet_id),
        }
        if author_id is not None:
            data["author_id"] = author_id
        if in_reply_to is not None:
            parent = self._tweets.get(int(in_reply_to))
            data["referenced_tweets"] = [{"type": "replied_to", "id": str(in_reply_to)}]
            if parent is not None:
                data["conversation_id"] = parent.json.get("conversation_id", str(in_reply_to))
                if parent.author_id:
                    data["in_reply_to_user_id"] = parent.author_id
        mentions = {handle.casefold() for handle in re.findall(r"@(\w{1,15})", text)}
        if mention_of:
            mentions.add(mention_of.lstrip("@").casefold())
        self._apply(data, overrides)
        stored_author = data.get("author_id") if isinstance(data.get("author_id"), str) else None
        self._tweets[tweet_id] = _Tweet(tweet_id, data, stored_author, frozenset(mentions), text.casefold())
        self._ids.append(tweet_id)
        return tweet_id

    # --- HTTP ----------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        params = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {key.lower(): value for key, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        form = _parse_form(headers.get("content-type", ""), raw) if raw else None
        if form is not None:
            body = form
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        recorded = form.summary() if form is not None else body
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, split.path, params, headers, recorded, time.time()))
            failure = self._take_failure()
        response = self._answer(handler.command, split.path, params, headers, body, failure)
        if failure is not None and failure.delay:
            self._stopping.wait(failure.delay)
        try:
            handler.send_response(response.status)
            if response.body:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _take_failure(self) -> Failure | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        if failure.after > 0:
            failure.after -= 1
            return None
        failure.times -= 1
        if failure.times <= 0:
            self._failures.pop(0)
        return failure

    def _answer(self, method, path, params, headers, body, failure: Failure | None) -> _Response:
        limits = {"x-rate-limit-limit": str(RATE_LIMIT), "x-rate-limit-remaining": str(RATE_LIMIT - 1),
                  "x-rate-limit-reset": str(int(time.time()) + 900)}
        if failure is not None and failure.status is not None:
            if failure.status == 429:
                limits.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(failure.reset_at)})
            payload = failure.body if failure.body is not None else _problem(failure.status).body
            return _Response(failure.status, self._encode(payload), limits)
        try:
            auth = _auth_context(headers.get("authorization", ""))
            if auth is None or (self.require_bearer is not None and auth.get("token") != self.require_bearer):
                raise _problem(401)
            status, payload = self._route(method, path, params, body, auth)
        except _Problem as problem:
            status, payload = problem.status, problem.body
        if failure is not None and failure.malformed:
            return _Response(200, b'{"data": [{"id": "1", "text": "cut off', limits)
        return _Response(status, b"" if payload is None else self._encode(payload), limits)

    @staticmethod
    def _encode(payload: Any) -> bytes:
        try:
            return json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: X would escape them
            return json.dumps(payload).encode("ascii")

    def _route(self, method, path, params, body, auth) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        with self._lock:
            if method == "GET" and parts == ["2", "tweets", "search", "recent"]:
                return 200, self._search(params)
            if method == "GET" and len(parts) == 5 and parts[:4] == ["2", "users", "by", "username"]:
                return 200, self._user_by_username(unquote(parts[4]), params)
            if method == "GET" and len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "mentions":
                return 200, self._mentions(parts[2], params)
            if method == "GET" and parts == ["2", "tweets"]:
                return 200, self._lookup(params)
            if method == "GET" and parts == ["2", "users", "me"]:
                user_id = self.add_user(self.account)
                return 200, {"data": {key: self._users[user_id][key] for key in ("id", "name", "username")}}
            if method == "POST" and len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "retweets":
                return 200, self._retweet(body)
            if method == "POST" and parts == ["2", "tweets"]:
                return 201, self._create(body, auth)
            if method == "GET" and len(parts) == 3 and parts[:2] == ["2", "tweets"]:
                return 200, self._lookup_one(parts[2])
            if method == "DELETE" and len(parts) == 3 and parts[:2] == ["2", "tweets"]:
                return 200, self._delete(parts[2])
            if parts == ["1.1", "media", "upload.json"]:
                return self._media_upload(method, params, body)
            if method == "POST" and parts == ["1.1", "media", "metadata", "create.json"]:
                return self._media_metadata(body)
        raise _problem(404)

    # --- media (v1.1) ----------------------------------------------------------------

    @staticmethod
    def _v1_error(status: int, code: int, message: str) -> _Problem:
        return _Problem(status, {"errors": [{"code": code, "message": message}]})

    def _upload_for(self, value) -> _Upload:
        upload = self._uploads.get(int(value)) if str(value or "").isdigit() else None
        if upload is None:
            raise self._v1_error(400, 324, "Invalid media id.")
        return upload

    @staticmethod
    def _media_json(upload: _Upload) -> dict:
        return {"media_id": upload.media_id, "media_id_string": str(upload.media_id), "size": upload.total_bytes,
                "expires_after_secs": 86400}

    def _media_upload(self, method, params, body) -> tuple[int, Any]:
        if method == "GET":
            if params.get("command") != "STATUS":
                raise self._v1_error(400, 38, "command parameter is missing.")
            upload = self._upload_for(params.get("media_id"))
            if not upload.finalized:
                raise self._v1_error(400, 324, "The media is not finalized.")
            upload.status_checks -= 1
            state = "in_progress" if upload.status_checks > 0 else "succeeded"
            info = {"state": state, "progress_percent": 50 if state == "in_progress" else 100}
            if state == "in_progress":
                info["check_after_secs"] = 0
            return 200, {**self._media_json(upload), "processing_info": info}
        if method != "POST" or not isinstance(body, _Form):
            raise self._v1_error(400, 38, "A multipart or urlencoded form body is required.")
        command = body.fields.get("command", "")
        if command == "INIT":
            total, media_type = body.fields.get("total_bytes", ""), body.fields.get("media_type", "")
            if not total.isdigit() or not media_type:
                raise self._v1_error(400, 38, "total_bytes and media_type are required.")
            media_id, self._next_media_id = self._next_media_id, self._next_media_id + TWEET_ID_STEP
            self._uploads[media_id] = _Upload(media_id, int(total), media_type, body.fields.get("media_category", ""))
            return 202, self._media_json(self._uploads[media_id])
        if command == "APPEND":
            upload = self._upload_for(body.fields.get("media_id"))
            index = body.fields.get("segment_index", "")
            if upload.finalized or not index.isdigit() or "media" not in body.files:
                raise self._v1_error(400, 324, "APPEND needs media_id, segment_index and a media part before FINALIZE.")
            upload.segments[int(index)] = body.files["media"]
            return 204, None
        if command == "FINALIZE":
            upload = self._upload_for(body.fields.get("media_id"))
            if len(upload.data) != upload.total_bytes:
                raise self._v1_error(400, 324, f"File size mismatch: INIT said {upload.total_bytes} bytes, "
                                               f"APPEND sent {len(upload.data)}.")
            upload.finalized = True
            answer = self._media_json(upload)
            if upload.media_type.startswith("video/"):
                upload.status_checks = self.video_status_checks
                answer["processing_info"] = {"state": "pending", "check_after_secs": 0}
            else:
                answer["image"] = {"image_type": upload.media_type}
            return 201, answer
        raise self._v1_error(400, 38, f"Unknown command {command!r}.")

    def _media_metadata(self, body) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise self._v1_error(400, 38, "A JSON body is required.")
        upload = self._upload_for(body.get("media_id"))
        text = (body.get("alt_text") or {}).get("text") if isinstance(body.get("alt_text"), dict) else None
        if not isinstance(text, str) or len(text) > 1000:
            raise self._v1_error(400, 44, "alt_text.text must be a string of at most 1000 characters.")
        upload.alt_text = text
        return 200, None

    # --- endpoints -----------------------------------------------------------------

    def _search(self, params) -> dict:
        query = params.get("query", "")
        if not query.strip():
            raise _invalid("query", query, "The `query` query parameter can not be empty")
        if len(query) > 512:
            raise _invalid("query", query, f"The `query` query parameter value [{query}] is not valid")
        since_id = self._id_param(params, "since_id")
        if since_id is not None and self.oldest_since_id is not None and since_id < self.oldest_since_id:
            raise _invalid("since_id", str(since_id),
                           f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after the "
                           f"last 7 days. Please use a 'since_id' that is larger than {self.oldest_since_id}")
        words = _query_words(query)

        return self._page(params, "next_token", 10, lambda tweet: all(word in tweet.indexed for word in words),
                          since_id, floor=self.oldest_since_id)

    def _mentions(self, user_id: str, params) -> dict:
        user = self._users.get(user_id)
        if user is None:
            return {"errors": [_not_found_error("user", "id", user_id)]}
        handle = str(user.get("username", "")).casefold()
        since_id = self._id_param(params, "since_id")
        return self._page(params, "pagination_token", 5, lambda tweet: handle in tweet.mentions, since_id)

    def _user_by_username(self, username: str, params) -> dict:
        if not re.fullmatch(r"\w{1,15}", username):
            raise _invalid("username", username, f"The `username` query parameter value [{username}] does not "
                                                  "match ^[A-Za-z0-9_]{1,15}$")
        user_id = self._usernames.get(username.casefold())
        if user_id is None:
            return {"errors": [_not_found_error("user", "username", username)]}
        return {"data": self._user_json(self._users[user_id], params)}

    def _lookup(self, params) -> dict:
        ids = [value for value in params.get("ids", "").split(",") if value]
        if not ids or len(ids) > 100:
            raise _invalid("ids", params.get("ids", ""), "The `ids` query parameter value must hold 1 to 100 ids")
        fields = set(filter(None, params.get("tweet.fields", "").split(",")))
        data, errors = [], []
        for value in ids:
            tweet = self._tweets.get(int(value)) if value.isascii() and value.isdigit() else None
            if tweet is None or value in self.deleted:
                errors.append(_not_found_error("tweet", "ids", value))
                continue
            item = {key: tweet.json[key] for key in DEFAULT_TWEET_FIELDS if key in tweet.json}
            item.update({key: tweet.json[key] for key in fields if key in tweet.json})
            if "public_metrics" in fields:
                item["public_metrics"] = self._metrics(tweet.id)
            data.append(item)
        response: dict = {}
        if data:
            response["data"] = data
        if errors:
            response["errors"] = errors
        return response

    def _create(self, body, auth) -> dict:
        if not isinstance(body, dict):
            raise _Problem(400, {"errors": [{"message": "Request body must be a JSON object"}],
                                 "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                                 "type": "https://api.twitter.com/2/problems/invalid-request"})
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Problem(400, {"errors": [{"message": "$.text: must not be empty"}], "title": "Invalid Request",
                                 "detail": "One or more parameters to your request was invalid.",
                                 "type": "https://api.twitter.com/2/problems/invalid-request"})
        if len(text) > self.max_post_length:
            raise _Problem(403, {"detail": "You are not permitted to perform this action. Your Tweet text is too long.",
                                 "type": "about:blank", "title": "Forbidden", "status": 403})
        reply = body.get("reply") or {}
        in_reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if in_reply_to is not None and (not str(in_reply_to).isdigit() or int(in_reply_to) not in self._tweets):
            raise _Problem(403, {"detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
                                 "type": "about:blank", "title": "Forbidden", "status": 403})
        if self.reject_duplicates and any(post.text == text and post.auth.get("token") == auth.get("token")
                                          for post in self._posts):
            raise _Problem(403, {"detail": "You are not allowed to create a Tweet with duplicate content.",
                                 "type": "about:blank", "title": "Forbidden", "status": 403})
        media_ids = (body.get("media") or {}).get("media_ids") if isinstance(body.get("media"), dict) else None
        uploads = []
        if media_ids is not None:
            found = [self._uploads.get(int(m)) if str(m).isdigit() else None for m in media_ids]
            if not media_ids or len(media_ids) > 4 or any(u is None or not u.processed for u in found):
                raise _Problem(400, {"errors": [{"parameters": {"media.media_ids": media_ids},
                                                 "message": "Your media IDs are invalid."}],
                                     "title": "Invalid Request",
                                     "detail": "One or more parameters to your request was invalid.",
                                     "type": "https://api.twitter.com/2/problems/invalid-request"})
            uploads = [RecordedMedia(str(u.media_id), u.data, u.media_type, u.category, u.alt_text) for u in found]
        tweet_id = str(self._add(text, author=self.account, in_reply_to=in_reply_to))
        self._posts.append(RecordedPost(tweet_id, text, in_reply_to, auth, time.time(), body, tuple(uploads)))
        self._accepted[int(tweet_id)] = time.time()
        return {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}

    def _retweet(self, body) -> dict:
        tweet_id = str(body.get("tweet_id", "")) if isinstance(body, dict) else ""
        if not tweet_id.isdigit() or int(tweet_id) not in self._tweets or tweet_id in self.deleted:
            raise _Problem(403, {"detail": "You cannot retweet a Tweet that is deleted or not visible to you.",
                                 "type": "about:blank", "title": "Forbidden", "status": 403})
        if tweet_id in self.retweets:
            raise _Problem(403, {"detail": "You have already retweeted this Tweet.", "type": "about:blank",
                                 "title": "Forbidden", "status": 403})
        self.retweets.append(tweet_id)
        return {"data": {"retweeted": True}}

    def _lookup_one(self, tweet_id: str) -> dict:
        """GET /2/tweets/:id: X answers 200 with only `errors` for a post it does not hold."""
        tweet = self._tweets.get(int(tweet_id)) if tweet_id.isdigit() else None
        if tweet is None or tweet_id in self.deleted:
            return {"errors": [_not_found_error("tweet", "id", tweet_id)]}
        return {"data": {key: tweet.json[key] for key in DEFAULT_TWEET_FIELDS if key in tweet.json}}

    def _delete(self, tweet_id: str) -> dict:
        if not tweet_id.isdigit() or int(tweet_id) not in self._tweets:
            raise _problem(404)
        self.deleted.add(tweet_id)
        return {"data": {"deleted": True}}

    # --- shapes --------------------------------------------------------------------

    @staticmethod
    def _id_param(params, name) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if not value.isascii() or not value.isdigit():
            raise _invalid(name, value, f"The `{name}` query parameter value [{value}] is not valid")
        return int(value)

    def _page(self, params, token_name, min_results, matches, since_id, floor: int | None = None) -> dict:
        max_results = params.get("max_results", "10")
        if not max_results.isdigit() or not min_results <= int(max_results) <= 100:
            raise _invalid("max_results", max_results, f"The `max_results` query parameter value [{max_results}] "
                                                       f"is not between {min_results} and 100")
        size = self.page_size or int(max_results)
        start = len(self._ids)
        token = params.get(token_name)
        if token is not None:
            until_id = self._decode_token(token)
            if until_id is None:
                raise _invalid(token_name, token, f"The `{token_name}` query parameter value [{token}] is not valid")
            start = bisect_left(self._ids, until_id)
        stop = bisect_right(self._ids, since_id) if since_id is not None else 0
        if floor is not None:
            stop = max(stop, bisect_left(self._ids, floor))
        found: list[_Tweet] = []
        for index in range(start - 1, stop - 1, -1):
            tweet = self._tweets[self._ids[index]]
            if matches(tweet):
                found.append(tweet)
                if len(found) > size:
                    break
        page, more = found[:size], len(found) > size
        if not page:
            return {"meta": {"result_count": 0}}
        expansions = params.get("expansions", "").split(",")
        tweet_fields = set(DEFAULT_TWEET_FIELDS) | set(filter(None, params.get("tweet.fields", "").split(",")))
        if "author_id" in expansions:
            tweet_fields.add("author_id")  # X adds an expanded field to the post, requested or not
        response: dict[str, Any] = {
            "data": [{key: value for key, value in tweet.json.items() if key in tweet_fields} for tweet in page],
        }
        if "author_id" in expansions:
            users, errors, seen = [], [], set()
            for tweet in page:
                if tweet.author_id is None or tweet.author_id in seen:
                    continue
                seen.add(tweet.author_id)
                if tweet.author_id in self._users:
                    users.append(self._user_json(self._users[tweet.author_id], params))
                else:
                    errors.append(_not_found_error("user", "author_id", tweet.author_id))
            if users:
                response["includes"] = {"users": users}
            if errors:
                response["errors"] = errors
        meta = {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id), "result_count": len(page)}
        if more:
            meta["next_token"] = self._encode_token(page[-1].id)
        response["meta"] = meta
        return response

    @staticmethod
    def _user_json(user: dict, params) -> dict:
        fields = set(DEFAULT_USER_FIELDS) | set(filter(None, params.get("user.fields", "").split(",")))
        return {key: value for key, value in user.items() if key in fields}

    @staticmethod
    def _encode_token(until_id: int) -> str:
        return base64.b32encode(f"u{until_id}".encode()).decode().rstrip("=").lower()

    @staticmethod
    def _decode_token(token: str) -> int | None:
        try:
            padded = token.upper() + "=" * (-len(token) % 8)
            raw = base64.b32decode(padded).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return int(raw[1:]) if raw.startswith("u") and raw[1:].isdigit() else None


@pytest.fixture
def x_api():
    """A running FakeXAPI on a free loopback port; stopped at the end of the test."""
    with FakeXAPI() as fake:
        yield fake


def main() -> None:
    """`make run` without X credentials: the room publishes to this fake on loopback, and
    every post it accepts is printed, so a demo shows exactly what would have gone out."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description="A loopback fake of the X API v2 for the demo room.")
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    fake = FakeXAPI().start(port=port)
    print(f"fake X API listening on http://127.0.0.1:{port}", flush=True)
    shown = 0
    try:
        while True:
            time.sleep(0.5)
            posts = fake.posts
            for post in posts[shown:]:
                print(f"fake X accepted post {post.id}: {post.text[:200]!r}", flush=True)
            shown = len(posts)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
