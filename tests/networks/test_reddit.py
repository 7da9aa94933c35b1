"""Reddit through praw against the loopback fake, beyond what the publish and listening
tests run on every network: replies under a post and a comment, delete and look-up (a
deleted post's shell is not "there"), Reddit's RATELIMIT refusal, wrong passwords and apps
named, media refused, and a spent rate-limit window ending a poll instead of sleeping."""

from datetime import datetime, timedelta, timezone

import pytest

from listening.adapters import reddit as adapter
from listening.models import Source
from networks import reddit
from networks.base import Channel, MediaFile
from networks.errors import PermanentError, RateLimited
from tests.fakes.reddit import FakeReddit

APP = ("test-app-id", "test-app-secret")


@pytest.fixture
def fake(settings):
    with FakeReddit() as fake:
        fake.add_app(*APP)
        fake.add_user("brand", "right-password")
        settings.REDDIT_API_BASE_URL = fake.url
        yield fake


def account(**changes) -> Channel:
    fields = {"network": "reddit", "handle": "brand", "secret": "right-password", "client_id": APP[0],
              "client_secret": APP[1], "community": "crunchwave", **changes}
    return Channel(**fields)


def test_a_post_a_reply_under_it_and_under_a_comment_then_a_delete(fake):
    post = reddit.publish(account(), "Lights out, snacks on\nWe are still serving at halftime.")
    fan = fake.add_comment("crunchwave saved my night", parent=post.id, author="fan")
    to_post = reddit.publish(account(), "Thanks all!", reply_to=post.id)
    to_fan = reddit.publish(account(), "Glad to hear it!", reply_to=fan)

    assert [(p.id, p.subreddit, p.title, p.body, p.reply_to) for p in fake.posts] == [
        (post.id, "crunchwave", "Lights out, snacks on", "We are still serving at halftime.", None),
        (to_post.id, "crunchwave", "", "Thanks all!", post.id),
        (to_fan.id, "crunchwave", "", "Glad to hear it!", fan),
    ]
    assert post.id.startswith("t3_") and to_fan.id.startswith("t1_")
    assert to_fan.url.endswith(f"/{to_fan.id[3:]}/")
    found = reddit.lookup(account(), post.id)
    assert (found.id, found.text) == (post.id, "Lights out, snacks on\nWe are still serving at halftime.")

    reddit.delete(account(), to_fan.id)
    assert reddit.lookup(account(), to_fan.id) is None  # Reddit keeps a "[deleted]" shell: not there
    assert reddit.lookup(account(), "t3_zzzzzz") is None


def test_reddit_s_ratelimit_refusal_is_a_rate_limit(fake):
    fake.fail_next(200, path="/api/submit", body={"json": {"errors": [
        ["RATELIMIT", "Looks like you've been doing that a lot. Take a break for 7 minutes before trying again.",
         "ratelimit"]]}})
    before = datetime.now(timezone.utc)
    with pytest.raises(RateLimited) as raised:
        reddit.publish(account(), "Too soon")
    assert before + timedelta(minutes=7) <= raised.value.reset_at <= datetime.now(timezone.utc) + timedelta(minutes=7)


def test_a_refusal_in_reddit_s_json_errors_names_it(fake):
    with pytest.raises(PermanentError, match="TOO_LONG"):
        reddit.publish(account(), "t" * 301)
    assert fake.posts == []


def test_wrong_credentials_and_media_are_named_and_nothing_is_posted(fake):
    with pytest.raises(PermanentError, match="username and password"):
        reddit.publish(account(secret="wrong"), "Hello")
    with pytest.raises(PermanentError, match="client id and secret"):
        reddit.publish(account(client_secret="wrong"), "Hello")
    with pytest.raises(PermanentError, match="text to Reddit only"):
        reddit.publish(account(), "Hello", media=[MediaFile(data=b"x", mime_type="image/png")])
    assert fake.posts == []
    assert not any(r.path == "/api/submit" for r in fake.requests)


def test_a_spent_window_ends_the_poll_and_the_next_goes_on_from_there(fake):
    thread = fake.add_post("Game thread", subreddit="crunchwave")
    source = Source(kind=Source.Kind.REDDIT_COMMENTS, query="crunchwave", community="crunchwave",
                    client_id=APP[0], client_secret=APP[1])
    seed = fake.add_comment("crunchwave seed", parent=thread)
    first = adapter.fetch(source)
    assert [m.external_id for m in first.mentions] == [seed]
    source.cursor = first.cursor

    fake.page_size = 2
    backlog = [fake.add_comment(f"crunchwave {i}", parent=thread) for i in range(6)]
    fake.remaining = 2  # the access token, then the first page: that answer says Remaining 0
    cut = adapter.fetch(source)
    assert [m.external_id for m in cut.mentions] == backlog[:-3:-1]
    assert cut.rate_limited_until is not None and cut.rate_limited_until > datetime.now(timezone.utc)
    assert cut.cursor["after"] == backlog[-2] and cut.cursor["floor"]["id"] == seed
    asked = len(fake.requests)

    fake.remaining = None  # the window reset
    source.cursor = cut.cursor
    rest = adapter.fetch(source)
    assert [m.external_id for m in rest.mentions] == backlog[-3::-1]
    assert rest.cursor == {"query": first.cursor["query"], "floor": cut.cursor["top"]}
    assert cut.cursor["top"]["id"] == backlog[-1] and len(fake.requests) > asked
