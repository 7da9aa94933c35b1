"""Listening on Mastodon (hashtag, mentions, search), Bluesky (search, mentions) and Reddit
(subreddit search, new comments mentioning a term), each kind of source against its
network's loopback fake through the real client library (Mastodon.py, atproto, praw) and
the polling service: real PostgreSQL, nothing of ours mocked.
Every kind: the cursor moves with what was stored, a backlog is walked over polls with no
gap, overlapping polls store each post once, a 429 is waited out without asking the
network, and malformed answers (a broken body, a post missing its fields) are recorded in
words without losing the rest."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from listening import services
from listening.models import Mention, Source
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.reddit import FakeReddit
from warroom import roles
from warroom.errors import InvalidInput

BRAND_BSKY = "brand.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
TOKEN = "listening-token"
REDDIT_APP = ("listening-app", "listening-app-secret")
REDDIT_PASSWORD = "listening-password"


class Kind:
    """One kind of source: how a post it hears is added to the fake, and the source."""

    def __init__(self, kind: str, fake, settings):
        self.kind, self.fake = kind, fake
        if kind.startswith("mastodon"):
            settings.MASTODON_API_BASE_URL = fake.url
            fake.tokens = {TOKEN}
        elif kind.startswith("reddit"):
            settings.REDDIT_API_BASE_URL = fake.url
            fake.add_app(*REDDIT_APP)
            fake.add_user("brand", REDDIT_PASSWORD)
            self.thread = fake.add_post("Game day thread", subreddit="crunchwave", author="mods")
        else:
            settings.BLUESKY_API_BASE_URL = fake.url
            fake.add_user(BRAND_BSKY, PASSWORD)

    @property
    def endpoint(self) -> str:
        """The path of the request a poll of this kind makes (not a login or a version check)."""
        return {"mastodon_tag": "/api/v1/timelines/tag", "mastodon_mentions": "/api/v1/notifications",
                "mastodon_search": "/api/v2/search", "bluesky_search": "/xrpc/app.bsky.feed.searchPosts",
                "bluesky_mentions": "/xrpc/app.bsky.notification.listNotifications",
                "reddit_search": "/r/crunchwave/search", "reddit_comments": "/r/crunchwave/comments"}[self.kind]

    @property
    def network(self) -> str:
        return self.kind.split("_", 1)[0]

    def add(self, text: str, *, broken: bool = False, **fields) -> str:
        """A post this source hears; its external id as the room stores it. `broken`: its
        time is not a timestamp (a field every mention needs)."""
        if self.network == "mastodon":
            full = {"mastodon_tag": f"{text} #Crunchwave", "mastodon_mentions": f"@brand {text}",
                    "mastodon_search": f"crunchwave {text}"}[self.kind]
            if broken:
                fields["overrides"] = {"created_at": "not a time"}
            mention_of = "brand" if self.kind == "mastodon_mentions" else None
            return "mastodon.example:" + self.fake.add_status(full, mention_of=mention_of, **fields)
        if self.network == "reddit":
            author = fields.pop("name", "someone").replace(" ", "_")
            if broken:
                fields["overrides"] = {"created_utc": "not a time"}
            if self.kind == "reddit_search":
                return self.fake.add_post(f"crunchwave {text}", subreddit="crunchwave", author=author, **fields)
            return self.fake.add_comment(f"crunchwave {text}", parent=self.thread, author=author, **fields)
        full = f"crunchwave {text}" if self.kind == "bluesky_search" else f"@{BRAND_BSKY} {text}"
        if broken:
            fields["overrides"] = {"indexedAt": "not a time",
                                   "record": {"$type": "app.bsky.feed.post", "text": full, "createdAt": "not a time"}}
        mention_of = BRAND_BSKY if self.kind == "bluesky_mentions" else None
        return self.fake.add_post(full, mention_of=mention_of, **fields)

    def unheard(self, text: str) -> None:
        """A post the source must not hear."""
        if self.network == "mastodon":
            self.fake.add_status(f"{text} about nothing")
        elif self.network == "reddit":
            self.fake.add_post(f"{text} about nothing", subreddit="crunchwave")
            self.fake.add_comment(f"{text} about nothing", parent=self.thread)
            self.fake.add_post(f"crunchwave {text} elsewhere", subreddit="othersub")
        else:
            self.fake.add_post(f"{text} about nothing")

    def create(self, user) -> Source:
        query = {"mastodon_tag": "#Crunchwave", "mastodon_search": "crunchwave", "bluesky_search": "crunchwave",
                 "reddit_search": "crunchwave", "reddit_comments": "crunchwave"}
        if self.network == "mastodon":
            fields = {"instance_url": "https://mastodon.example", "login": "brand", "secret": TOKEN}
        elif self.network == "reddit":
            fields = {"login": "brand", "secret": REDDIT_PASSWORD, "client_id": REDDIT_APP[0],
                      "client_secret": REDDIT_APP[1], "community": "r/crunchwave"}
        else:
            fields = {"login": BRAND_BSKY, "secret": PASSWORD}
        return services.source_create(user=user, name=self.kind, kind=self.kind, query_text=query.get(self.kind, ""),
                                      poll_interval=30, **fields)


KINDS = ("mastodon_tag", "mastodon_mentions", "mastodon_search", "bluesky_search", "bluesky_mentions",
         "reddit_search", "reddit_comments")
FAKES = {"mastodon": FakeMastodon, "bluesky": FakeBluesky, "reddit": FakeReddit}


@pytest.fixture(params=KINDS)
def kind(request, settings):
    fake = FAKES[request.param.split("_", 1)[0]]().start()
    settings.MASTODON_MAX_PAGES_PER_POLL = settings.BLUESKY_MAX_PAGES_PER_POLL = settings.REDDIT_MAX_PAGES_PER_POLL = 2
    yield Kind(request.param, fake, settings)
    fake.stop()


def make_due(source: Source) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Source.objects.filter(id=source.id).update(next_poll_at=past, rate_limited_until=None)


def poll(source: Source) -> str:
    make_due(source)
    return services.source_poll(source_id=source.id)


def stored() -> list[str]:
    return list(Mention.objects.order_by("id").values_list("external_id", flat=True))


@pytest.mark.django_db
def test_mentions_land_marked_with_their_network_and_the_cursor_follows(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    first = kind.add("Lights out and we still have chips", name="Fan One")
    kind.unheard("Lights out")

    assert poll(source) == "ok"
    assert stored() == [first]
    mention = Mention.objects.get()
    assert mention.platform == kind.network and mention.source_id == source.id
    assert "Lights out and we still have chips" in mention.text and "<p>" not in mention.text
    assert mention.author_name == ("Fan_One" if kind.network == "reddit" else "Fan One")  # Reddit: usernames only
    assert mention.url.startswith("https://")
    source.refresh_from_db()
    assert source.last_error == "" and source.cursor

    second = kind.add("Second half")
    assert poll(source) == "ok"
    assert stored() == [first, second]
    assert poll(source) == "ok"  # nothing new: nothing stored twice
    assert stored() == [first, second]


@pytest.mark.django_db
def test_a_backlog_is_walked_over_polls_with_no_gap_and_nothing_twice(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    seed = kind.add("seed")
    assert poll(source) == "ok"
    if kind.network in ("bluesky", "reddit"):
        kind.fake.page_size = 10
    count = 100 if kind.network == "mastodon" else 35  # more than two pages of 40 (Mastodon) or 10 (the fakes)
    backlog = [kind.add(f"backlog {i}") for i in range(count)]

    assert poll(source) == "ok"
    source.refresh_from_db()
    first_walk = set(stored())
    assert seed in first_walk and len(first_walk) < count + 1  # two pages only: the rest follows
    assert source.next_poll_at <= timezone.now() + timedelta(seconds=5), "a poll cut short polls again soon"

    late = kind.add("arrived between polls")
    for _ in range(3):
        assert poll(source) == "ok"
    ids = stored()
    assert len(ids) == len(set(ids)), "a post was stored twice"
    assert set(ids) == {seed, late, *backlog}


@pytest.mark.django_db
def test_overlapping_polls_store_each_post_once(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    posts = [kind.add(f"post {i}") for i in range(5)]
    assert poll(source) == "ok"
    Source.objects.filter(id=source.id).update(cursor={})  # a poll that lost its cursor asks again from the top
    assert poll(source) == "ok"
    assert sorted(stored()) == sorted(posts)


@pytest.mark.django_db
def test_a_429_is_waited_out_without_asking_the_network(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    posts = [kind.add(f"post {i}") for i in range(3)]
    failure = kind.fake.fail_next(status=429, reset_in=120, path=kind.endpoint)

    assert poll_now(source) == "rate limited"
    source.refresh_from_db()
    reset = datetime.fromtimestamp(failure.reset_at, tz=dt_timezone.utc)
    # Mastodon sends the reset as a time of day and Mastodon.py moves it by the server's clock
    # (its Date header, to the second): up to a second later than scripted.
    assert reset <= source.rate_limited_until < reset + timedelta(seconds=1)
    assert "rate limit" in source.last_error.lower() and f"{reset:%H:%M} UTC" in source.last_error
    assert Mention.objects.count() == 0 and source.id not in services.sources_due()
    asked = len(kind.fake.requests)
    assert services.source_poll(source_id=source.id) == "skipped"
    assert len(kind.fake.requests) == asked

    assert poll(source) == "ok"  # the reset passed
    assert sorted(stored()) == sorted(posts)
    source.refresh_from_db()
    assert source.last_error == "" and source.consecutive_failures == 0


def poll_now(source: Source) -> str:
    return services.source_poll(source_id=source.id)


@pytest.mark.django_db
def test_malformed_answers_are_recorded_and_lose_nothing(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    good = kind.add("good one")
    kind.fake.fail_next(malformed=True, path=kind.endpoint)

    assert poll(source) == "transient error"
    source.refresh_from_db()
    assert "could not read" in source.last_error.lower() or "not valid json" in source.last_error.lower()
    assert source.cursor == {} and Mention.objects.count() == 0

    broken = kind.add("broken one", broken=True)
    assert poll(source) == "ok"
    assert stored() == [good]  # the broken post is skipped, in words on the source; the good one kept
    source.refresh_from_db()
    assert "Skipped" in source.last_error
    assert (broken.rpartition(":")[2] if kind.network == "mastodon" else broken) in source.last_error
    assert {"mastodon": "created_at", "bluesky": "createdAt", "reddit": "created_utc"}[kind.network] in source.last_error


@pytest.mark.django_db
def test_a_source_on_an_internal_address_is_refused(make_user, settings):
    lead = make_user(roles.LEAD)
    settings.MASTODON_API_BASE_URL = settings.BLUESKY_API_BASE_URL = ""
    with pytest.raises(InvalidInput, match="refused.*private or reserved"):
        services.source_create(user=lead, name="internal", kind="mastodon_tag", query_text="brand", poll_interval=30,
                               instance_url="https://127.0.0.1", secret="t")
    with pytest.raises(InvalidInput, match="refused.*private or reserved"):
        services.source_create(user=lead, name="port", kind="mastodon_tag", query_text="brand", poll_interval=30,
                               instance_url="https://localhost:8080")
    with pytest.raises(InvalidInput, match="refused.*private or reserved"):
        services.source_create(user=lead, name="pds", kind="bluesky_search", query_text="brand", poll_interval=30,
                               instance_url="https://10.0.0.8", login=BRAND_BSKY, secret=PASSWORD)
    with pytest.raises(InvalidInput, match="https://"):
        services.source_create(user=lead, name="http", kind="mastodon_tag", query_text="brand", poll_interval=30,
                               instance_url="http://mastodon.example")
    with pytest.raises(InvalidInput, match="handle"):
        services.source_create(user=lead, name="nologin", kind="bluesky_mentions", query_text="", poll_interval=30)
    with pytest.raises(InvalidInput, match="token"):
        services.source_create(user=lead, name="notoken", kind="mastodon_mentions", query_text="", poll_interval=30,
                               instance_url="https://mastodon.example")
    assert not Source.objects.exists()


@pytest.mark.django_db
def test_wrong_credentials_are_named_on_the_source(kind, make_user):
    source = kind.create(make_user(roles.LEAD))
    Source.objects.filter(id=source.id).update(secret="wrong")
    kind.add("unheard")
    assert poll(source) == "error"
    source.refresh_from_db()
    assert {"mastodon": "access token", "bluesky": "app password", "reddit": "username and password"}[kind.network] \
        in source.last_error


@pytest.mark.django_db
def test_a_reddit_source_needs_a_subreddit_and_a_script_app(make_user):
    lead = make_user(roles.LEAD)
    app = {"client_id": REDDIT_APP[0], "client_secret": REDDIT_APP[1]}
    with pytest.raises(InvalidInput, match="Subreddit is empty"):
        services.source_create(user=lead, name="r", kind="reddit_search", query_text="brand", poll_interval=30, **app)
    with pytest.raises(InvalidInput, match="not a subreddit name"):
        services.source_create(user=lead, name="r", kind="reddit_search", query_text="brand", poll_interval=30,
                               community="snacks/../../admin", **app)
    with pytest.raises(InvalidInput, match="Client id"):
        services.source_create(user=lead, name="r", kind="reddit_comments", query_text="brand", poll_interval=30,
                               community="snacks", client_secret="s")
    with pytest.raises(InvalidInput, match="username and its password together"):
        services.source_create(user=lead, name="r", kind="reddit_comments", query_text="brand", poll_interval=30,
                               community="snacks", login="brand", **app)
    with pytest.raises(InvalidInput, match="Query is empty"):
        services.source_create(user=lead, name="r", kind="reddit_comments", query_text="", poll_interval=30,
                               community="snacks", **app)
    assert not Source.objects.exists()
    source = services.source_create(user=lead, name="r", kind="reddit_search", query_text="brand", poll_interval=30,
                                    community="r/Snacks", instance_url="https://10.0.0.1", **app)
    assert (source.community, source.instance_url, source.client_id) == ("Snacks", "", REDDIT_APP[0])
