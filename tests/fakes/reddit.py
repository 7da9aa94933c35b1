"""A loopback fake of Reddit's OAuth API as praw speaks it, so that praw and the room's
code run unchanged against it (point REDDIT_API_BASE_URL at `fake.url`: praw's
`oauth_url` and `reddit_url` both go there).

    def test_something(reddit_api, settings):
        settings.REDDIT_API_BASE_URL = reddit_api.url
        reddit_api.add_app("client-id", "client-secret")      # else any app is taken
        reddit_api.add_user("brand", "hunter2")               # else any password is taken
        post = reddit_api.add_post("Crunchwave at halftime", subreddit="snacks", author="fan")   # t3_...
        reddit_api.add_comment("crunchwave forever", parent=post, author="other")                # t1_...
        reddit_api.fail_next(status=429, reset_in=60)   # X-Ratelimit-Remaining: 0, X-Ratelimit-Reset: 60
        reddit_api.fail_next(status=503)                # {"message": ..., "error": 503}
        reddit_api.fail_next(malformed=True)            # 200 with a truncated JSON body
        reddit_api.remaining = 1                        # the next answer spends the window (Remaining: 0)
        reddit_api.set_engagement(fullname, likes=600, replies=4)   # fixed counts for a post
        reddit_api.engagement_per_minute = {"likes": 5}              # how fast accepted posts grow
        reddit_api.posts, reddit_api.requests

Speaks: POST /api/v1/access_token (HTTP Basic with the app's id and secret; grant_type
password, or client_credentials for an app alone; a wrong password is a 200 with
{"error": "invalid_grant"}, as Reddit answers), POST /api/submit (kind=self), POST
/api/comment, POST /api/del, GET /api/info?id=<fullnames>, GET /r/<sub>/search (q, sort=new,
restrict_sr), GET /r/<sub>/comments (the newest comments), GET /api/v1/me.

Listings come newest first as Reddit sends them ({"kind": "Listing", "data": {"after",
"before", "children"}}): `after` pages to older items and is null on the last page,
`before` gives the items just above a fullname. Every answer carries
X-Ratelimit-Used/-Remaining/-Reset (seconds until the window resets). Every API request
needs `Authorization: bearer <token>` from the token endpoint; anything else is a 401
with Reddit's WWW-Authenticate. A post is recorded before any configured delay, so a
client that times out has still posted.

Engagement: a post or comment the fake accepted through POST /api/submit or /api/comment
grows in GET /api/info with the minutes since (`engagement_per_minute`: likes as `score`,
replies as a post's `num_comments`; for its first day; the clock is `time.time()`, so
time-machine moves it); `set_engagement` fixes its counts instead. A fullname in `deleted`
is answered as the shell Reddit keeps ("[deleted]").
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import pytest

from .loopback import CHATTER, Answer, Failure, LoopbackFake, RecordedRequest, Refusal

RATE_LIMIT = 600
WINDOW = 600
FIRST_ID = 36 ** 5  # base36 ids of six digits, like Reddit's


@dataclass(frozen=True)
class PostedThing:
    id: str  # the fullname
    text: str  # a post's title and body on two lines as the room wrote them, a comment's body
    title: str
    body: str
    subreddit: str
    reply_to: str | None
    user: str
    at: float


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


class FakeReddit(LoopbackFake):
    name = "fake-reddit"

    def __init__(self) -> None:
        super().__init__()
        self.apps: dict[str, str] | None = None  # client id -> secret; None: any
        self.users: dict[str, str] | None = None  # username -> password; None: any
        self.page_size = 100  # the most Reddit returns per listing page
        self.remaining: int | None = None  # when set: requests left in the window, counted down per answer (tokens too)
        self.reset_in = 60  # seconds to the window's end that answers then say
        self._ids = itertools.count(FIRST_ID)
        self._clock = 0.0
        self._things: dict[str, dict] = {}  # fullname -> {"kind", "data"}, oldest first
        self._tokens: dict[str, str] = {}  # access token -> username ("" for an app alone)
        self._posts: list[PostedThing] = []
        self.deleted: set[str] = set()
        self._accepted: dict[str, float] = {}  # fullname -> when the fake accepted it
        self._engagement: dict[str, dict] = {}
        self.engagement_per_minute = {"likes": 3.0, "replies": 0.5}

    # --- control -------------------------------------------------------------------

    def add_app(self, client_id: str, client_secret: str) -> None:
        with self.lock:
            self.apps = {**(self.apps or {}), client_id: client_secret}

    def add_user(self, username: str, password: str) -> None:
        with self.lock:
            self.users = {**(self.users or {}), username: password}

    def _created(self) -> float:
        self._clock = round(max(self._clock + 0.001, time.time()), 3)  # strictly increasing
        return self._clock

    def _new_id(self) -> str:
        return _base36(next(self._ids))

    def add_post(self, title: str, *, body: str = "", subreddit: str = "snacks", author: str = "someone",
                 overrides: dict | None = None) -> str:
        """A self post in `subreddit`; returns its fullname (t3_...)."""
        with self.lock:
            base36 = self._new_id()
            data = {"id": base36, "name": f"t3_{base36}", "title": title, "selftext": body, "author": author,
                    "author_fullname": f"t2_{abs(hash(author)) % 10**6}", "subreddit": subreddit,
                    "subreddit_name_prefixed": f"r/{subreddit}", "created_utc": self._created(),
                    "permalink": f"/r/{subreddit}/comments/{base36}/post/", "url": "", "is_self": True,
                    "num_comments": 0, "score": 1, "over_18": False, "lang": None}
            data["url"] = f"https://www.reddit.com{data['permalink']}"
            data.update(overrides or {})
            self._things[f"t3_{base36}"] = {"kind": "t3", "data": data}
            return f"t3_{base36}"

    def add_comment(self, body: str, *, parent: str, author: str = "someone", overrides: dict | None = None) -> str:
        """A comment under `parent` (a post's or a comment's fullname); returns its fullname."""
        with self.lock:
            return self._comment(body, parent=parent, author=author, overrides=overrides)["name"]

    def _comment(self, body: str, *, parent: str, author: str, overrides: dict | None = None) -> dict:
        parent_thing = self._things[parent]["data"]
        link = parent if parent.startswith("t3_") else parent_thing["link_id"]
        link_data = self._things[link]["data"]
        base36 = self._new_id()
        data = {"id": base36, "name": f"t1_{base36}", "body": body, "author": author,
                "author_fullname": f"t2_{abs(hash(author)) % 10**6}", "parent_id": parent, "link_id": link,
                "link_title": link_data["title"], "subreddit": link_data["subreddit"],
                "subreddit_name_prefixed": f"r/{link_data['subreddit']}", "created_utc": self._created(),
                "permalink": f"/r/{link_data['subreddit']}/comments/{link[3:]}/post/{base36}/", "score": 1,
                "replies": ""}
        data.update(overrides or {})
        self._things[f"t1_{base36}"] = {"kind": "t1", "data": data}
        return data

    def set_engagement(self, fullname: str, **counts: int) -> None:
        """Fix the counts this post or comment is sent with (likes, replies); others are 0."""
        with self.lock:
            self._engagement[fullname] = dict(counts)

    def _counted(self, thing: dict) -> dict:
        """The thing as /api/info sends it: its counts now, or its shell once deleted."""
        data = dict(thing["data"])
        name = data["name"]
        if name in self.deleted:
            data["author"] = "[deleted]"
            data["selftext" if thing["kind"] == "t3" else "body"] = "[deleted]"
            return {"kind": thing["kind"], "data": data}
        counts = self._engagement.get(name)
        if counts is None:
            accepted = self._accepted.get(name)
            if accepted is None:
                return {"kind": thing["kind"], "data": data}
            minutes = min(max(0.0, time.time() - accepted) / 60, 24 * 60)
            counts = {key: int(rate * minutes) for key, rate in self.engagement_per_minute.items()}
        data["score"] = counts.get("likes", 0)
        if thing["kind"] == "t3":
            data["num_comments"] = counts.get("replies", 0)
        return {"kind": thing["kind"], "data": data}

    @property
    def posts(self) -> list[PostedThing]:
        with self.lock:
            return list(self._posts)

    # --- HTTP ----------------------------------------------------------------------

    def rate_limit_headers(self, failure: Failure | None) -> dict[str, str]:
        limited = failure is not None and failure.status == 429
        if not limited and self.remaining is not None:
            with self.lock:
                self.remaining = max(0, self.remaining - 1)
                return {"x-ratelimit-used": str(RATE_LIMIT - self.remaining),
                        "x-ratelimit-remaining": str(self.remaining), "x-ratelimit-reset": str(self.reset_in)}
        if limited:
            # Seconds from the answer's Date header (whole seconds), so a client that
            # adds them to that Date lands on the scripted reset.
            reset = max(0, int(failure.reset_at) - int(time.time()))
        else:
            # Under a fresh window's pace (prawcore spaces requests when fewer seconds
            # are left than requests), so clients are never slowed down here.
            reset = max(1, WINDOW - 1 - int(time.time()) % WINDOW)
        return {"x-ratelimit-used": str(RATE_LIMIT if limited else 1),
                "x-ratelimit-remaining": "0" if limited else str(RATE_LIMIT - 1),
                "x-ratelimit-reset": str(reset)}

    def error_body(self, status: int) -> Any:
        return {"message": {429: "Too Many Requests", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                            500: "Internal Server Error", 503: "Service Unavailable"}.get(status, f"Error {status}"),
                "error": status}

    def route(self, request: RecordedRequest) -> Answer:
        answer = self._route(request)
        if request.headers.get("connection", "").lower() == "close":
            # prawcore asks for the token with "Connection: close"; a server that closes
            # without saying so leaves the client a dead connection in its pool.
            answer.headers = {**answer.headers, "Connection": "close"}
        return answer

    def _route(self, request: RecordedRequest) -> Answer:
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["api", "v1", "access_token"]:
            try:
                return self._token(request)
            except Refusal as refusal:
                return Answer(refusal.status, refusal.payload, refusal.headers)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            user = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if user is None:
                raise Refusal(401, self.error_body(401),
                              {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})
            form = {k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
            if request.method == "GET" and parts == ["api", "v1", "me"]:
                if not user:
                    raise Refusal(403, self.error_body(403))
                return Answer(200, {"name": user, "id": "brand1", "created_utc": 1_600_000_000.0})
            if request.method == "POST" and parts == ["api", "submit"]:
                return self._submit(form, user)
            if request.method == "POST" and parts == ["api", "comment"]:
                return self._reply(form, user)
            if request.method == "POST" and parts == ["api", "del"]:
                if not user:
                    raise Refusal(403, self.error_body(403))
                thing = self._things.get(form.get("id", ""))
                if thing is not None and thing["data"]["author"] == user:
                    self.deleted.add(thing["data"]["name"])
                    thing["data"]["author"] = "[deleted]"
                    thing["data"]["selftext" if thing["kind"] == "t3" else "body"] = "[deleted]"
                return Answer(200, {})
            if request.method == "GET" and parts == ["api", "info"]:
                wanted = (request.param("id") or "").split(",")
                return Answer(200, self._listing([self._counted(self._things[n]) for n in wanted[:100]
                                                  if n in self._things], None, None))
            if request.method == "GET" and len(parts) == 3 and parts[0] == "r" and parts[2] == "search":
                return self._search(request, parts[1])
            if request.method == "GET" and len(parts) == 3 and parts[0] == "r" and parts[2] == "comments":
                comments = [t for t in self._things.values()
                            if t["kind"] == "t1" and t["data"]["subreddit"].casefold() == parts[1].casefold()]
                return self._page(request, comments)
        raise Refusal(404, self.error_body(404))

    def _token(self, request: RecordedRequest) -> Answer:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = client_secret = ""
        with self.lock:
            known = self.apps is None or self.apps.get(client_id) == client_secret
            if scheme != "Basic" or not client_id or not known:
                raise Refusal(401, {"message": "Unauthorized", "error": 401})
            form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
            grant = form.get("grant_type")
            if grant == "password":
                username, password = form.get("username", ""), form.get("password", "")
                if not username or (self.users is not None and self.users.get(username) != password):
                    return Answer(200, {"error": "invalid_grant"})
            elif grant == "client_credentials":
                username = ""
            else:
                return Answer(200, {"error": "unsupported_grant_type"})
            token = secrets.token_urlsafe(16)
            self._tokens[token] = username
        return Answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    @staticmethod
    def _errors(*errors: list[str]) -> Answer:
        return Answer(200, {"json": {"errors": list(errors)}})

    def _submit(self, form: dict[str, str], user: str) -> Answer:
        if not user:
            raise Refusal(403, self.error_body(403))
        title, body, sub = form.get("title", ""), form.get("text", ""), form.get("sr", "")
        if form.get("kind") != "self":
            return self._errors(["INVALID_OPTION", "that option is not valid", "kind"])
        if not sub:
            return self._errors(["SUBREDDIT_REQUIRED", "please enter a subreddit", "sr"])
        if not title.strip():
            return self._errors(["NO_TEXT", "we need something here", "title"])
        if len(title) > 300:
            return self._errors(["TOO_LONG", "this is too long (max: 300)", "title"])
        if len(body) > 40000:
            return self._errors(["TOO_LONG", "this is too long (max: 40000)", "text"])
        fullname = self.add_post(title, body=body, subreddit=sub, author=user)
        data = self._things[fullname]["data"]
        self._posts.append(PostedThing(fullname, f"{title}\n{body}" if body else title, title, body, sub, None, user,
                                       time.time()))
        self._accepted[fullname] = time.time()
        return Answer(200, {"json": {"errors": [], "data": {"url": data["url"], "drafts_count": 0,
                                                            "id": data["id"], "name": fullname}}})

    def _reply(self, form: dict[str, str], user: str) -> Answer:
        if not user:
            raise Refusal(403, self.error_body(403))
        parent, text = form.get("thing_id", ""), form.get("text", "")
        if parent not in self._things or parent in self.deleted:
            return self._errors(["DELETED_COMMENT", "that comment has been deleted", "parent"])
        if not text.strip():
            return self._errors(["NO_TEXT", "we need something here", "text"])
        if len(text) > 10000:
            return self._errors(["TOO_LONG", "this is too long (max: 10000)", "text"])
        data = self._comment(text, parent=parent, author=user)
        self._posts.append(PostedThing(data["name"], text, "", text, data["subreddit"], parent, user, time.time()))
        self._accepted[data["name"]] = time.time()
        return Answer(200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": dict(data)}]}}})

    def _search(self, request: RecordedRequest, sub: str) -> Answer:
        words = [w.casefold() for w in (request.param("q") or "").split() if w]
        if not words:
            return Answer(200, self._listing([], None, None))
        found = [t for t in self._things.values() if t["kind"] == "t3" and t["data"]["name"] not in self.deleted
                 and (request.param("restrict_sr") not in ("on", "1", "true") or
                      t["data"]["subreddit"].casefold() == sub.casefold())
                 and all(w in f"{t['data']['title']} {t['data']['selftext']}".casefold() for w in words)]
        return self._page(request, found)

    def _page(self, request: RecordedRequest, things: list[dict]) -> Answer:
        """A listing page newest first: after= older than that fullname, before= the ones
        just newer than it."""
        try:
            limit = max(1, min(int(request.param("limit") or 25), 100, self.page_size))
        except ValueError:
            limit = 25
        order = {name: n for n, name in enumerate(self._things)}  # as created, even where created_utc is broken
        ordered = sorted(things, key=lambda t: order[t["data"]["name"]], reverse=True)
        names = [t["data"]["name"] for t in ordered]
        after, before = request.param("after"), request.param("before")
        if before:
            if before not in names:
                return Answer(200, self._listing([], None, None))
            newer = ordered[:names.index(before)]
            page = newer[-limit:]
            first_index = len(newer) - len(page)
        else:
            start = names.index(after) + 1 if after and after in names else (len(names) if after else 0)
            page = ordered[start:start + limit]
            first_index = start
        last_index = first_index + len(page)
        next_after = page[-1]["data"]["name"] if page and last_index < len(ordered) else None
        prev_before = page[0]["data"]["name"] if page and first_index > 0 else None
        return Answer(200, self._listing(page, next_after, prev_before))

    @staticmethod
    def _listing(things: list[dict], after: str | None, before: str | None) -> dict:
        return {"kind": "Listing", "data": {"after": after, "before": before, "dist": len(things), "modhash": "",
                                            "geo_filter": "", "children": [dict(t) for t in things]}}


@pytest.fixture
def reddit_api():
    """A running FakeReddit on a free loopback port; stopped at the end of the test."""
    with FakeReddit() as fake:
        yield fake


def main() -> None:
    """`make run`: the demo room's Reddit, printing every post it accepts."""
    import argparse

    parser = argparse.ArgumentParser(description="A loopback fake of Reddit's API for the demo room.")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--chatter", type=float, default=0, help="a fan's Crunchwave post every N seconds")
    arguments = parser.parse_args()
    fake = FakeReddit().start(port=arguments.port)
    print(f"fake Reddit listening on http://127.0.0.1:{arguments.port}", flush=True)
    shown, said, next_at, last_post = 0, 0, time.monotonic(), None
    try:
        while True:
            time.sleep(0.5)
            if arguments.chatter and time.monotonic() >= next_at:
                author, text = CHATTER[said % len(CHATTER)]
                if last_post and said % 2:
                    fake.add_comment(text, parent=last_post, author=author)
                else:
                    last_post = fake.add_post(text, subreddit="snacks", author=author)
                said, next_at = said + 1, time.monotonic() + arguments.chatter
            posts = fake.posts
            for post in posts[shown:]:
                print(f"fake Reddit accepted {post.id}: {post.text[:200]!r}", flush=True)
            shown = len(posts)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
