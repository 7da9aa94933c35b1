"""Polling X sources end to end: real PostgreSQL, the loopback fake of X, and (where a test
says so) real Celery worker processes. Overlapping polls store each post once, a rate limit
or a 5xx is recorded in words and waited out without asking X, the cursor never moves
backwards, and a worker killed mid-poll loses nothing and stores nothing twice."""

import json
import os
import signal
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from listening import services, tasks
from listening.adapters import registry
from listening.models import Mention, ReadUsage, Source
from tests.conftest import celery_worker, worker_inspect
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from tests.listening import factories as f
from tests.support import alive, all_at_once, descendants, wait_until
from warroom.celery import app

SEARCH = "/2/tweets/search/recent"
WAIT = 60  # seconds any wait may take before the test fails


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    """The fake X, with this process's settings pointed at it."""
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "test"
    return x_api


def search_source(query: str = "brand", **fields) -> Source:
    return f.source(Source.Kind.X_SEARCH, query=query, **fields)


def searches(fake, query: str = "brand") -> list:
    return [r for r in fake.requests if r.path == SEARCH and r.params.get("query") == query]


def make_due(source: Source) -> None:
    """Time passes: the source's next poll (and any rate-limit reset) is now behind us."""
    past = timezone.now() - timedelta(seconds=1)
    Source.objects.filter(id=source.id).update(next_poll_at=past, rate_limited_until=None)


def since_id(source: Source) -> int:
    source.refresh_from_db()
    return int(source.cursor["since_id"])


def stored_ids() -> list[str]:
    return list(Mention.objects.values_list("external_id", flat=True))


# --- Real worker processes -------------------------------------------------------------

def worker_env(fake, **extra) -> dict:
    return {"X_API_BASE_URL": fake.url, "X_BEARER_TOKEN": "test", **extra}


def poll_tasks_finished(name: str) -> int | None:
    """How many poll_source tasks worker `name` has run to the end (None while one runs)."""
    inspect = worker_inspect(name)
    stats = inspect.stats() or {}  # asked first: a task counted here stays in `active` until it ends
    active = inspect.active() or {}
    if any(tasks for host, tasks in active.items() if host.startswith(f"{name}@")):
        return None
    return sum(
        reply.get("total", {}).get("listening.tasks.poll_source", 0)
        for host, reply in stats.items()
        if host.startswith(f"{name}@")
    )


def kill_worker(process) -> None:
    """SIGKILL the worker and its pool processes at once, as the OOM killer or a lost host would."""
    pids = [process.pid, *descendants(process.pid)]
    assert len(pids) > 1, "the worker has no pool process to kill"
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in pids), "the killed worker's processes are gone", timeout=10)


def drop_unacked(task_id: str) -> None:
    """Forget a killed worker's message. Late acks keep it in the broker's unacked set for
    the visibility timeout (an hour), after which any worker, in a later run too, would
    run it again: harmless for the room, but not for a test counting a worker's polls."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        for tag, raw in client.hgetall("unacked").items():  # kombu's Redis transport keeps them here
            if json.loads(raw)[0].get("headers", {}).get("id") == task_id:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def blocked_by_me() -> int:
    """Other database sessions waiting on a lock this session holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is frozen per transaction otherwise
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0]


# --- Overlapping polls -----------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_overlapping_polls_store_each_mention_once(x, artifacts):
    app.control.purge()
    source = search_source()
    first = x.add_tweets(200, text="brand post {i}")

    results = all_at_once([lambda: services.source_poll(source_id=source.id)] * 8)

    assert sorted(results) == ["ok"] + ["skipped"] * 7
    assert Mention.objects.count() == 200

    # A second claim, taken by a real worker running what beat queued, while threads pile in.
    second = x.add_tweets(100, text="brand post {i} again")
    make_due(source)
    x.fail_next(delay=1.0)  # the worker's fetch lags, so the threads overlap its claim
    with celery_worker(artifacts, name="poll-overlap", **worker_env(x)):
        enqueued = tasks.poll_due_sources() + tasks.poll_due_sources()
        assert enqueued == 2  # the source stays due until a poll claims it
        wait_until(lambda: Source.objects.get(id=source.id).lease_token, "the worker claimed the source")
        results = all_at_once(
            [lambda: services.source_poll(source_id=source.id)] * 6 + [tasks.poll_due_sources] * 2
        )
        wait_until(lambda: poll_tasks_finished("poll-overlap") == 2, "the worker ran both queued polls")

    assert results == ["skipped"] * 6 + [0, 0]
    assert ReadUsage.objects.filter(source=source).aggregate(polls=Sum("polls"))["polls"] == 2  # one per claim
    assert len(searches(x)) == 3  # 2 pages, then 1: nobody fetched a claim's posts again
    ids = stored_ids()
    assert len(ids) == 300 and len(set(ids)) == 300
    assert set(ids) == set(first + second)
    assert since_id(source) == int(second[-1])


# --- Rate limits and server errors -----------------------------------------------------

@pytest.mark.django_db
def test_a_rate_limit_is_waited_out_without_asking_x_then_the_tweets_arrive(x):
    source = search_source()
    posted = x.add_tweets(5, text="brand post {i}")
    failure = x.fail_next(status=429, reset_in=120)

    assert services.source_poll(source_id=source.id) == "rate limited"

    source.refresh_from_db()
    assert source.rate_limited_until == datetime.fromtimestamp(failure.reset_at, tz=dt_timezone.utc)
    assert "rate limit" in source.last_error.lower()
    assert f"{source.rate_limited_until:%H:%M} UTC" in source.last_error
    assert Mention.objects.count() == 0
    assert source.id not in services.sources_due()
    assert tasks.poll_due_sources() == 0

    asked = len(x.requests)
    assert services.source_poll(source_id=source.id) == "skipped"
    assert len(x.requests) == asked

    Source.objects.filter(id=source.id).update(
        rate_limited_until=timezone.now() - timedelta(seconds=1), next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    assert source.id in services.sources_due()
    assert services.source_poll(source_id=source.id) == "ok"
    assert sorted(stored_ids()) == sorted(posted)
    source.refresh_from_db()
    assert source.consecutive_failures == 0 and source.last_error == ""


@pytest.mark.django_db
def test_a_rate_limit_on_a_later_page_also_holds_polls_until_the_reset(x):
    x.page_size = 10
    seed = x.add_tweet("brand seed")
    source = search_source(cursor={"since_id": seed})
    posted = x.add_tweets(25, text="brand post {i}")
    failure = x.fail_next(status=429, reset_in=600, after=1)  # the walk's second page is refused
    reset = datetime.fromtimestamp(failure.reset_at, tz=dt_timezone.utc)

    assert services.source_poll(source_id=source.id) == "ok"  # the first page is kept

    source.refresh_from_db()
    assert Mention.objects.count() == 10 and "pending" in source.cursor
    assert "rate limit" in source.last_error.lower()
    assert source.rate_limited_until == reset
    assert source.id not in services.sources_due(now=reset - timedelta(seconds=1))

    Source.objects.filter(id=source.id).update(
        rate_limited_until=timezone.now() - timedelta(seconds=1), next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    while services.source_poll(source_id=source.id) == "ok" and "pending" in Source.objects.get(id=source.id).cursor:
        pass
    ids = stored_ids()
    assert len(ids) == len(set(ids)) == 25 and set(ids) == set(posted)
    assert since_id(source) == int(posted[-1])


@pytest.mark.django_db
def test_server_errors_back_off_and_a_success_resets_the_count(x):
    source = search_source(poll_interval=60)
    posted = x.add_tweets(3, text="brand post {i}")

    x.fail_next(status=503)
    before = timezone.now()
    assert services.source_poll(source_id=source.id) == "transient error"
    source.refresh_from_db()
    assert source.consecutive_failures == 1
    first_wait = source.next_poll_at - before
    assert first_wait > timedelta(seconds=source.poll_interval)
    assert "server error" in source.last_error and "503" in source.last_error
    assert source.id not in services.sources_due()

    make_due(source)
    x.fail_next(status=503)
    before = timezone.now()
    assert services.source_poll(source_id=source.id) == "transient error"
    source.refresh_from_db()
    assert source.consecutive_failures == 2
    assert source.next_poll_at - before > first_wait  # backing off further

    make_due(source)
    assert services.source_poll(source_id=source.id) == "ok"
    source.refresh_from_db()
    assert source.consecutive_failures == 0 and source.last_error == ""
    assert sorted(stored_ids()) == sorted(posted)
    assert source.next_poll_at > timezone.now()


# --- The cursor ------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_cursor_never_moves_backwards_while_new_posts_arrive(x, settings):
    settings.X_MAX_PAGES_PER_POLL = 2
    x.page_size = 10  # a poll reads at most 20 posts: larger bursts take several polls
    source = search_source()
    posted = x.add_tweets(15, text="brand post {i}")
    positions, walking = [], []
    for burst in (0, 35, 3, 0, 50, 8, 0, 0, 0, 0, 0):
        posted += x.add_tweets(burst, text="brand burst {i}")
        assert services.source_poll(source_id=source.id) == "ok"
        positions.append(since_id(source))
        walking.append("pending" in source.cursor)
        make_due(source)

    assert any(walking)  # some bursts took several polls, with posts arriving mid-walk
    assert positions == sorted(positions)
    assert len(set(positions)) > 2
    assert "pending" not in source.cursor
    assert positions[-1] == int(posted[-1])
    ids = stored_ids()
    assert len(ids) == len(set(ids)) == len(posted) and set(ids) == set(posted)


def expire_lease(source: Source) -> None:
    Source.objects.filter(id=source.id).update(lease_until=timezone.now() - timedelta(seconds=1))


def ingest(claimed_result, token: str, source: Source) -> None:
    services.mention_ingest_batch(
        source_id=source.id, fetched=claimed_result.mentions, cursor=claimed_result.cursor,
        reads=claimed_result.reads, lease_token=token, more=claimed_result.more, notes=claimed_result.notes,
    )


@pytest.mark.django_db
def test_a_poll_with_a_stale_lease_does_not_move_the_cursor_back(x):
    source = search_source()
    seed = x.add_tweet("brand seed")
    assert services.source_poll(source_id=source.id) == "ok"
    make_due(source)

    # Two polls whose leases run out before they store anything, then the poll that takes over.
    early = x.add_tweets(3, text="brand early {i}")
    slow, slow_token = services.source_claim(source_id=source.id)
    slow_result = registry.fetch(slow)
    expire_lease(source)
    slower, slower_token = services.source_claim(source_id=source.id)
    slower_result = registry.fetch(slower)
    expire_lease(source)
    later = x.add_tweets(3, text="brand later {i}")
    fast, fast_token = services.source_claim(source_id=source.id)
    fast_result = registry.fetch(fast)
    assert len({slow_token, slower_token, fast_token}) == 3
    assert int(slow_result.cursor["since_id"]) == int(early[-1]) < int(fast_result.cursor["since_id"])

    positions = [since_id(source)]
    Source.objects.filter(id=source.id).update(consecutive_failures=2, last_error="X answered 503")
    ingest(slow_result, slow_token, source)  # while the fast poll holds the lease
    source.refresh_from_db()
    assert source.lease_token == fast_token
    assert (source.consecutive_failures, source.last_error) == (2, "X answered 503")  # the holder's to judge
    positions.append(since_id(source))
    ingest(fast_result, fast_token, source)
    positions.append(since_id(source))
    ingest(slower_result, slower_token, source)  # after the fast poll stored newer posts
    positions.append(since_id(source))

    assert positions == [int(seed), int(seed), int(later[-1]), int(later[-1])]
    ids = stored_ids()
    assert len(ids) == len(set(ids)) == 7 and set(ids) == {seed, *early, *later}


# --- A worker killed mid-poll ----------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_poll_loses_nothing_and_stores_nothing_twice(x, artifacts):
    app.control.purge()
    x.page_size = 500
    posted = x.add_tweets(5000, text="brand post {i}")
    # An established source that falls 5,000 posts behind: each poll walks 2 pages of 500.
    source = search_source(cursor={"since_id": str(int(posted[0]) - 1)})
    env = worker_env(x, LISTENING_LEASE_SECONDS="3", X_MAX_PAGES_PER_POLL="2")

    with celery_worker(artifacts, name="poll-doomed", **env) as doomed:
        tasks.poll_source.delay(source.id)
        wait_until(lambda: Mention.objects.count() == 1000, "the first poll stored its 1,000 posts")
        source.refresh_from_db()
        assert "pending" in source.cursor

        served = len(searches(x))
        x.fail_next(delay=2.0, after=1)  # the next poll's second page lags, so we can step in
        doomed_poll = tasks.poll_source.delay(source.id)
        try:
            wait_until(lambda: len(searches(x)) >= served + 2, "the second poll is fetching its second page")
            with transaction.atomic():
                # Hold the source row: the worker finishes fetching and blocks inside its ingest transaction.
                Source.objects.select_for_update().get(id=source.id)
                wait_until(blocked_by_me, "the worker is blocked inside its ingest transaction")
                kill_worker(doomed)
        finally:
            drop_unacked(doomed_poll.id)
        source.refresh_from_db()
        assert source.lease_token != ""  # the killed poll's lease is left to run out
        assert Mention.objects.count() == 1000  # the killed batch left nothing behind

    with celery_worker(artifacts, name="poll-fresh", **env):
        deadline = time.monotonic() + WAIT
        asked = 0.0
        while True:
            source.refresh_from_db()
            now = timezone.now()
            if "pending" not in source.cursor and source.lease_until is None and source.next_poll_at > now:
                break
            assert time.monotonic() < deadline, f"polls did not catch up: {Mention.objects.count()} stored"
            free = source.lease_until is None or source.lease_until < now
            if free and source.next_poll_at <= now and time.monotonic() - asked > 1.0:
                tasks.poll_source.delay(source.id)
                asked = time.monotonic()
            time.sleep(0.05)

    ids = stored_ids()
    assert Mention.objects.count() == 5000
    assert len(set(ids)) == 5000 and set(ids) == set(posted)
    assert since_id(source) == int(posted[-1])


# --- Beat ------------------------------------------------------------------------------

def test_polling_and_spike_checks_are_scheduled_on_beat():
    scheduled = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled["listening.tasks.poll_due_sources"] == django_settings.LISTENING_POLL_EVERY_SECONDS
    assert scheduled["listening.tasks.spikes_check"] > 0
    assert {"listening.tasks.poll_due_sources", "listening.tasks.spikes_check"} <= set(app.tasks)
