"""The X adapter (and networks/x.py's publishing) against the loopback fake of the X API
v2: tweepy and the adapter run unchanged, only the host differs."""

from datetime import datetime, timezone

import pytest

from listening.adapters import PermanentError, RateLimited, TransientError
from listening.adapters import x as x_adapter
from listening.models import Source
from networks import x as x_network
from networks.base import Channel
from networks.errors import PublishOutcomeUnknown
from tests.conftest import free_port
from tests.fakes.x_api import MISSING, x_api  # noqa: F401  (fixture)


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "test-bearer"
    settings.X_TIMEOUT_SECONDS = 5
    settings.X_MAX_PAGES_PER_POLL = 10
    return x_api


def search(query: str = "brand", cursor: dict | None = None) -> Source:
    return Source(name="search", kind=Source.Kind.X_SEARCH, query=query, cursor=cursor or {})


def poll(source: Source):
    """Fetch and keep the cursor, as ingest does once the mentions are stored."""
    result = x_adapter.fetch(source)
    source.cursor = result.cursor
    return result


def established(x, source: Source) -> str:
    """Give the source a since_id, as after its first poll."""
    seed = x.add_tweet("seed brand post")
    assert [m.external_id for m in poll(source).mentions] == [seed]
    return seed


# --- search ----------------------------------------------------------------------------

def test_search_returns_mentions_with_their_authors(x):
    older = x.add_tweet("Lights out at the Brand stadium", author="fan_one", name="Fan One", followers=1200, lang="en")
    x.add_tweet("nothing to see here", author="fan_two")
    reply = x.add_tweet("@fan_one same here, BRAND!", author="fan_three", followers=5, lang="es", in_reply_to=older)

    result = poll(search("brand"))

    assert [m.external_id for m in result.mentions] == [reply, older]  # newest first, as X sends them
    newest, first = result.mentions
    assert first.text == "Lights out at the Brand stadium"
    assert (first.author_handle, first.author_name, first.author_followers) == ("fan_one", "Fan One", 1200)
    assert first.url == f"https://x.com/fan_one/status/{older}"
    assert first.lang == "en" and first.conversation_id == older and first.in_reply_to == ""
    assert first.posted_at.tzinfo is not None
    assert abs((datetime.now(timezone.utc) - first.posted_at).total_seconds()) < 3600
    assert (newest.author_handle, newest.author_followers, newest.lang) == ("fan_three", 5, "es")
    assert newest.in_reply_to == older and newest.conversation_id == older
    assert result.reads == 2 and result.more is False and result.notes == []
    assert result.cursor == {"since_id": reply}

    sent = x.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/2/tweets/search/recent")
    assert sent.headers["authorization"] == "Bearer test-bearer"
    assert sent.params["query"] == "brand" and sent.params["max_results"] == "100"
    assert sent.params["expansions"] == "author_id"
    assert set(sent.params["tweet.fields"].split(",")) >= {"created_at", "lang", "conversation_id", "referenced_tweets"}
    assert set(sent.params["user.fields"].split(",")) >= {"username", "name", "public_metrics"}


def test_second_fetch_returns_only_new_posts(x):
    source = search("brand")
    first = x.add_tweet("brand one")
    assert [m.external_id for m in poll(source).mentions] == [first]

    again = poll(source)
    assert again.mentions == [] and again.reads == 0
    assert again.cursor == {"since_id": first}
    assert x.requests[-1].params["since_id"] == first

    second, third = x.add_tweet("brand two"), x.add_tweet("brand three")
    assert [m.external_id for m in poll(source).mentions] == [third, second]
    assert source.cursor == {"since_id": third}


def test_pagination_walks_every_page_down_to_since_id(x):
    source = search("brand")
    established(x, source)
    ids = x.add_tweets(35, text="brand post {i}")
    x.page_size = 10

    result = poll(source)

    assert [m.external_id for m in result.mentions] == ids[::-1]
    assert len([r for r in x.requests if r.path == "/2/tweets/search/recent"]) == 1 + 4
    assert result.reads == 35 and result.more is False
    assert result.cursor == {"since_id": ids[-1]}


def test_page_cap_defers_the_backlog_without_skipping_or_repeating(x, settings):
    settings.X_MAX_PAGES_PER_POLL = 10
    source = search("brand")
    seed = established(x, source)
    backlog = x.add_tweets(2_500, text="brand backlog {i}")

    seen: list[str] = []
    since_ids = [int(seed)]
    polls = 0
    late: list[str] = []
    while True:
        result = poll(source)
        polls += 1
        seen += [m.external_id for m in result.mentions]
        since_ids.append(int(source.cursor["since_id"]))
        if polls == 1:
            assert len(result.mentions) == 1_000 and result.more is True and result.reads == 1_000
            assert source.cursor["since_id"] == seed  # not moved while the backlog is unfinished
            assert source.cursor["pending"]["newest_id"] == backlog[-1]
            late = x.add_tweets(50, text="brand arrived mid-walk {i}")
        if not result.more:
            break
        assert polls < 10

    assert polls == 3
    assert source.cursor == {"since_id": backlog[-1]}  # moved once the backlog was done
    final = poll(source)  # the posts that arrived mid-walk are above that since_id
    seen += [m.external_id for m in final.mentions]
    since_ids.append(int(source.cursor["since_id"]))

    assert len(seen) == len(set(seen)) == 2_550  # each post exactly once
    assert set(seen) == set(backlog) | set(late)
    assert since_ids == sorted(since_ids)  # never backwards
    assert source.cursor == {"since_id": late[-1]}


def test_first_poll_takes_the_newest_posts_without_backfilling(x, settings):
    settings.X_MAX_PAGES_PER_POLL = 2
    ids = x.add_tweets(250, text="brand history {i}")
    source = search("brand")

    result = poll(source)

    assert [m.external_id for m in result.mentions] == ids[:-201:-1]
    assert result.more is False and source.cursor == {"since_id": ids[-1]}
    assert any("older posts are not fetched" in note for note in result.notes)
    assert poll(source).mentions == []


def test_a_huge_page_is_handled(x):
    source = search("brand")
    established(x, source)
    ids = x.add_tweets(10_000, text="brand flood {i}")
    x.page_size = 10_000

    result = poll(source)

    assert len(result.mentions) == 10_000 and result.reads == 10_000
    assert source.cursor == {"since_id": ids[-1]}


def test_since_id_never_moves_backwards(x):
    ahead = str(int(x.add_tweet("brand old")) + 10**12)
    source = search("brand", cursor={"since_id": ahead})
    result = poll(source)
    assert result.mentions == [] and source.cursor == {"since_id": ahead}


# --- mentions of an account ------------------------------------------------------------

def test_mentions_of_an_account(x):
    x.add_user("Brand", name="The Brand", followers=1_000_000)
    tagged = x.add_tweet("hey @brand your app is down", author="angry")
    x.add_tweet("talking about brand without tagging", author="quiet")
    flagged = x.add_tweet("reply in thread", author="threader", mention_of="brand")
    source = Source(name="mentions", kind=Source.Kind.X_MENTIONS, query="@Brand", cursor={})

    result = poll(source)

    assert [m.external_id for m in result.mentions] == [flagged, tagged]
    assert result.mentions[1].author_handle == "angry"
    user_id = source.cursor["user_id"]
    assert source.cursor == {"user_id": user_id, "username": "Brand", "since_id": flagged}
    assert [r.path for r in x.requests] == ["/2/users/by/username/Brand", f"/2/users/{user_id}/mentions"]

    later = x.add_tweet("@BRAND thanks, fixed", author="angry")
    assert [m.external_id for m in poll(source).mentions] == [later]
    assert x.requests[-1].path == f"/2/users/{user_id}/mentions"  # the account is resolved once
    assert x.requests[-1].params["since_id"] == flagged


def test_mentions_of_an_unknown_account_is_permanent(x):
    source = Source(name="mentions", kind=Source.Kind.X_MENTIONS, query="nobody_here", cursor={})
    with pytest.raises(PermanentError, match=r"X has no account @nobody_here: Could not find user"):
        x_adapter.fetch(source)


def test_a_handle_that_is_not_one_is_refused_before_asking_x(x):
    source = Source(name="mentions", kind=Source.Kind.X_MENTIONS, query="../2/tweets", cursor={})
    with pytest.raises(PermanentError, match="is not an X handle"):
        x_adapter.fetch(source)
    assert x.requests == []


# --- errors ----------------------------------------------------------------------------

def test_rate_limit_gives_the_exact_reset_time(x):
    failure = x.fail_next(status=429, reset_in=600)

    with pytest.raises(RateLimited) as caught:
        x_adapter.fetch(search("brand"))

    reset_at = datetime.fromtimestamp(failure.reset_at, tz=timezone.utc)
    assert caught.value.reset_at == reset_at
    assert str(caught.value) == f"X rate limit: no requests until {reset_at:%H:%M} UTC"
    assert len(x.requests) == 1  # tweepy did not wait and retry


def test_server_error_is_transient(x):
    x.fail_next(status=503)
    with pytest.raises(TransientError, match=r"X had a server error \(503 Service Unavailable\)"):
        x_adapter.fetch(search("brand"))


def test_malformed_json_is_transient(x):
    x.add_tweet("brand post")
    x.fail_next(malformed=True)
    with pytest.raises(TransientError, match="not valid JSON"):
        x_adapter.fetch(search("brand"))


def test_a_slow_answer_times_out(x, settings):
    settings.X_TIMEOUT_SECONDS = 0.5
    x.fail_next(delay=5.0)
    with pytest.raises(TransientError, match=r"X did not answer within 0.5 s"):
        x_adapter.fetch(search("brand"))


def test_unreachable_x_is_transient(x, settings):
    settings.X_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransientError, match="Could not reach X"):
        x_adapter.fetch(search("brand"))


def test_missing_bearer_token_is_permanent(x, settings):
    settings.X_BEARER_TOKEN = ""
    with pytest.raises(PermanentError, match="X_BEARER_TOKEN is not set"):
        x_adapter.fetch(search("brand"))
    assert x.requests == []


def test_rejected_credentials_are_permanent(x):
    x.require_bearer = "the-real-one"
    with pytest.raises(PermanentError, match=r"did not accept the credentials \(401 Unauthorized\): Unauthorized"):
        x_adapter.fetch(search("brand"))


def test_a_query_x_refuses_is_permanent_with_x_detail(x):
    with pytest.raises(PermanentError, match=r"400 Bad Request\): The `query` query parameter value"):
        x_adapter.fetch(search("brand " * 120))


def test_an_error_after_the_first_page_keeps_what_was_read(x):
    source = search("brand")
    seed = established(x, source)
    ids = x.add_tweets(300, text="brand {i}")
    x.page_size = 100
    x.fail_next(status=503, after=1)

    result = poll(source)

    assert [m.external_id for m in result.mentions] == ids[:-101:-1]
    assert result.more is True and any("Stopped after 1 page" in note for note in result.notes)
    assert source.cursor["since_id"] == seed and source.cursor["pending"]["newest_id"] == ids[-1]

    rest = poll(source)
    assert [m.external_id for m in rest.mentions] == ids[-101::-1]
    assert source.cursor == {"since_id": ids[-1]}


def test_a_rate_limit_mid_walk_keeps_what_was_read_and_waits(x):
    source = search("brand")
    established(x, source)
    ids = x.add_tweets(150, text="brand {i}")
    x.page_size = 100
    x.fail_next(status=429, after=1)

    result = poll(source)

    assert len(result.mentions) == 100 and result.more is False
    assert any("X rate limit" in note for note in result.notes)
    assert [m.external_id for m in poll(source).mentions] == ids[-101::-1]


def test_an_expired_page_token_restarts_the_walk_without_loss(x):
    source = search("brand")
    seed = established(x, source)
    ids = x.add_tweets(5, text="brand {i}")
    source.cursor = {"since_id": seed, "pending": {"pagination_token": "expired", "newest_id": ids[2], "query": "brand"}}

    result = poll(source)

    assert [m.external_id for m in result.mentions] == ids[::-1]
    assert any("page token" in note for note in result.notes)
    assert source.cursor == {"since_id": ids[-1]}


def test_a_since_id_older_than_recent_search_starts_from_the_newest(x):
    source = search("brand")
    seed = established(x, source)
    ids = x.add_tweets(3, text="brand {i}")
    x.oldest_since_id = int(ids[0])

    result = poll(source)

    assert [m.external_id for m in result.mentions] == ids[::-1]
    assert any("7 days" in note for note in result.notes)
    assert int(source.cursor["since_id"]) > int(seed)


# --- what comes in ---------------------------------------------------------------------

def test_unusable_posts_are_skipped_with_a_note_while_the_rest_arrive(x):
    good = x.add_tweet("brand fine", author="fine")
    no_date = x.add_tweet("brand no date", overrides={"created_at": MISSING})
    bad_date = x.add_tweet("brand bad date", overrides={"created_at": 1_700_000_000})
    bad_text = x.add_tweet("brand", overrides={"text": ["not", "text"]})
    x.add_tweet("brand numeric id", overrides={"id": 12345})
    no_author = x.add_tweet("brand nobody", author=None)
    ghost = x.add_tweet("brand ghost", overrides={"author_id": "999"})
    x.add_user("odd", followers=0, overrides={"public_metrics": {"followers_count": "lots"}})
    odd = x.add_tweet("brand odd", author="odd", overrides={"lang": 7, "referenced_tweets": "nope"})

    result = poll(search("brand"))

    by_id = {m.external_id: m for m in result.mentions}
    assert set(by_id) == {good, no_author, ghost, odd}
    assert by_id[no_author].author_handle == "" and by_id[no_author].url == f"https://x.com/i/status/{no_author}"
    assert by_id[ghost].author_handle == ""
    assert (by_id[odd].author_handle, by_id[odd].author_followers, by_id[odd].lang) == ("odd", 0, "")
    assert by_id[good].author_handle == "fine"
    notes = "\n".join(result.notes)
    for skipped in (no_date, bad_date, bad_text):
        assert f"Skipped post {skipped}" in notes
    assert "Skipped a post without a usable id" in notes
    assert f"Post {ghost}: X sent no author" in notes
    assert result.reads == 8  # X bills every post it sent, usable or not
    assert int(result.cursor["since_id"]) == int(odd)


def test_any_unicode_passes_through(x):
    texts = [
        "brand 🔥🏈 blackout 👀",
        "brand שלום עולם مرحبا",
        "brand zero\u200bwidth\u200d joiner \ufeff",
        "brand nul\x00inside",
        "brand lone \ud83d surrogate",
    ]
    ids = [x.add_tweet(text, author="uni", name="名前 \u202eevil") for text in texts]

    result = poll(search("BRAND"))

    assert {m.external_id: m.text for m in result.mentions} == dict(zip(ids, texts))
    assert {m.author_name for m in result.mentions} == {"名前 \u202eevil"}


# --- publishing ------------------------------------------------------------------------

BRAND = Channel(network="x", handle="warroom_brand")


def test_publish_sends_exactly_one_post(x):
    mention = x.add_tweet("@warroom_brand help", author="fan")

    post_id = x_network.publish(BRAND, "We're on it 💪", reply_to=mention).id

    assert len(x.posts) == 1
    post = x.posts[0]
    assert (post.id, post.text, post.in_reply_to) == (post_id, "We're on it 💪", mention)
    assert post.auth == {"type": "bearer", "token": "test-bearer"}
    assert post.body == {"text": "We're on it 💪", "reply": {"in_reply_to_tweet_id": mention}}
    assert x.tweet(post_id)["referenced_tweets"] == [{"type": "replied_to", "id": mention}]


def test_publish_signs_with_oauth1_user_context_when_configured(x, settings):
    settings.X_CONSUMER_KEY, settings.X_CONSUMER_SECRET = "ck", "cs"
    settings.X_ACCESS_TOKEN, settings.X_ACCESS_TOKEN_SECRET = "at", "ats"

    x_network.publish(BRAND, "Signed as the brand")

    assert x.posts[0].auth == {"type": "oauth1", "token": "at", "consumer_key": "ck"}


def test_publish_refused_by_x_is_permanent(x):
    x_network.publish(BRAND, "Same words")
    with pytest.raises(PermanentError, match="duplicate content"):
        x_network.publish(BRAND, "Same words")
    with pytest.raises(PermanentError, match="reply to a Tweet that is deleted"):
        x_network.publish(BRAND, "Replying to nothing", reply_to="42")
    assert len(x.posts) == 1


def test_publish_rate_limited_sends_nothing(x):
    failure = x.fail_next(status=429, reset_in=120)
    with pytest.raises(RateLimited) as caught:
        x_network.publish(BRAND, "Later")
    assert caught.value.reset_at == datetime.fromtimestamp(failure.reset_at, tz=timezone.utc)
    assert x.posts == []


def test_publish_timeout_means_the_outcome_is_unknown(x, settings):
    settings.X_TIMEOUT_SECONDS = 0.5
    x.fail_next(delay=5.0)
    with pytest.raises(PublishOutcomeUnknown, match="may have published it"):
        x_network.publish(BRAND, "Slow one")
    assert [post.text for post in x.posts] == ["Slow one"]  # X took it; only the answer was lost


def test_lookup_finds_a_post_until_it_is_deleted(x):
    published = x_network.publish(BRAND, "Look me up")
    assert published.url == f"https://x.com/warroom_brand/status/{published.id}"
    assert x_network.lookup(BRAND, published.id).text == "Look me up"
    x_network.delete(BRAND, published.id)
    assert x_network.lookup(BRAND, published.id) is None
    assert x_network.lookup(BRAND, "not-an-id") is None


def test_publish_server_error_means_the_outcome_is_unknown(x):
    x.fail_next(status=503)
    with pytest.raises(PublishOutcomeUnknown):
        x_network.publish(BRAND, "Maybe")
