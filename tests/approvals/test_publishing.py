"""Publishing approved posts end to end, on every network (X, Mastodon, Bluesky: each test
runs once per network, on that network's loopback fake): real PostgreSQL, real Celery
worker processes and the fakes; nothing of ours is mocked. A pause that commits stops every post
from leaving, a worker killed while X holds the post leaves it in needs-check and never
sends it again, racing approvals and doubled tasks publish once, an edit voids an
approval, and X's refusals, rate limits, errors and silences each land where the lead
expects them.

The fake accepts duplicates here (`reject_duplicates = False`): a post sent twice shows up
twice in the fake's posts instead of being refused, so "published once" is counted, not assumed.
"""

import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from approvals import services, tasks
from approvals.models import Account, ApprovalRequest, Post, PublishAttempt
from tests.conftest import celery_worker, free_port, worker_inspect
from tests.fakes.networks import NETWORKS, Network, start
from tests.listening.test_polling import drop_unacked, kill_worker
from tests.support import all_at_once, wait_until
from warroom import roles
from warroom.celery import app
from warroom.errors import Conflict

WAIT = 90  # seconds any wait may take before the test fails
PUBLISH_TASK = "approvals.tasks.post_publish"
DUE_TASK = "approvals.tasks.publish_due_posts"
BATCH_TASK = "approvals.tasks.posts_publish_batch"
OK_CHECKLIST = {question: True for question in services.CHECKLIST}


@pytest.fixture(params=NETWORKS)
def network(request, settings) -> Network:
    """One network's running fake, with this process's settings pointed at it; a post sent
    twice is kept twice."""
    network = start(request.param)
    for name, value in network.env.items():
        setattr(settings, name, value)
    settings.NETGUARD_ALLOW_HOSTS = ["127.0.0.1"]
    yield network
    network.fake.stop()


@pytest.fixture
def x(network):
    """The network's fake (named for the first network the room published on)."""
    return network.fake


@pytest.fixture
def account(db, network):
    return Account.objects.create(name="Brand", platform=network.kind, **network.account_fields)


def worker_env(network: Network, **extra) -> dict:
    return network.worker_env(**extra)


def due_posts(account: Account, author, texts: list[str], publish_at: datetime | None = None) -> list[Post]:
    """Scheduled posts approved for their exact content, due now (or at publish_at)."""
    publish_at = publish_at or timezone.now() - timedelta(seconds=1)
    posts = [Post(account=account, author=author, text=text, state=Post.State.SCHEDULED, publish_at=publish_at)
             for text in texts]
    for post in posts:
        post.approved_hash, post.approved_at = post.content_hash(), timezone.now()  # account_id is set already
    return Post.objects.bulk_create(posts)


def due_post(account: Account, author, text: str, **kwargs) -> Post:
    return due_posts(account, author, [text], **kwargs)[0]


def submitted_post(account: Account, author, text: str, publish_at: datetime | None = None) -> Post:
    """A post written and sent to legal through the services, as the composer does."""
    post = services.post_create(author=author, account_id=account.id, text=text,
                                publish_at=publish_at or timezone.now() - timedelta(seconds=1))
    return services.post_submit(post_id=post.id, user=author, checklist=OK_CHECKLIST)


def accepted_texts(fake) -> Counter:
    return Counter(post.text for post in fake.posts)


def attempt_outcomes(post: Post) -> list[str]:
    return list(PublishAttempt.objects.filter(post=post).order_by("id").values_list("outcome", flat=True))


def queued() -> int:
    """Messages waiting in the broker's default queue."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        return client.llen("celery")
    finally:
        client.close()


def tasks_finished(names: tuple[str, ...], task: str) -> int | None:
    """How many `task` runs the named workers have finished (None while a message waits in
    the broker, while any of them runs a task, or when one of them did not answer)."""
    if queued():
        return None
    inspect = worker_inspect(*names)
    stats = inspect.stats() or {}  # asked first: a task counted here stays in `active` until it ends
    active = inspect.active() or {}

    def ours(replies: dict) -> dict:
        return {host: reply for host, reply in replies.items() if host.split("@", 1)[0] in names}

    stats, active = ours(stats), ours(active)
    if len(stats) < len(names) or len(active) < len(names) or any(active.values()):
        return None
    return sum(reply.get("total", {}).get(task, 0) for reply in stats.values())


# --- The pause, against two real workers ----------------------------------------------

DUE = 200  # due posts in the pause test: eight batch tasks over four worker processes
PROCESSES = 4  # two workers of two processes each


@pytest.mark.django_db(transaction=True)
def test_a_pause_that_commits_mid_run_stops_every_post_from_leaving(x, network, account, make_user, artifacts):
    """Two real Celery workers and 200 due posts; the pause commits mid-run, after only the
    publishes already in flight (a busy queue cannot starve it); the fake records zero posts
    accepted after the pause committed, and nothing is lost: the released posts all go out
    once, none left claimed and unsent."""
    app.control.purge()
    lead, author = make_user(roles.LEAD), make_user(roles.COMMUNITY_MANAGER)
    texts = [f"Halftime drop {i:03d}: the Crunchwave is back" for i in range(DUE)]
    posts = {post.text: post for post in due_posts(account, author, texts)}
    workers = ("pub-a", "pub-b")

    with celery_worker(artifacts, name=workers[0], concurrency=2, **worker_env(network)), \
            celery_worker(artifacts, name=workers[1], concurrency=2, **worker_env(network)):
        assert tasks.publish_due_posts() == DUE
        before = len(wait_until(lambda: x.posts if len(x.posts) >= 30 else None, "the workers had published 30 posts"))
        services.queue_pause(user=lead, reason="Blackout in the stadium: nothing goes out")
        pause_committed = time.time()  # the fake's `at` is time.time() too
        batches = -(-DUE // services.PUBLISH_BATCH)  # beat sends one task per batch of due posts
        # A give-up bound, not a speed check: Bluesky's client takes about a second a post here.
        wait_until(lambda: tasks_finished(workers, BATCH_TASK) == batches, "the workers ran every batch task",
                   timeout=300)

        accepted = x.posts
        late = [(post.text, round(post.at - pause_committed, 3)) for post in accepted if post.at > pause_committed]
        assert late == [], f"{len(late)} posts were accepted by X after the pause committed: {late[:5]}"
        counts = accepted_texts(x)
        assert [text for text, n in counts.items() if n > 1] == [], "a post was sent twice"
        # Each process had at most its post in flight, and perhaps the next one begun, when
        # the pause asked for the switch: the rest wait behind the pause, however busy the queue.
        assert before <= len(accepted) <= before + 3 * PROCESSES, (
            f"{len(accepted) - before} posts went out while the pause waited: publishes kept starting ahead of it")
        states = Counter(Post.objects.values_list("state", flat=True))
        assert states == {Post.State.PUBLISHED: len(accepted), Post.State.SCHEDULED: DUE - len(accepted)}
        for recorded in accepted:
            post = Post.objects.get(id=posts[recorded.text].id)
            assert (post.state, post.platform_id) == (Post.State.PUBLISHED, recorded.id)
        held = set(Post.objects.filter(state=Post.State.SCHEDULED).values_list("id", flat=True))
        assert held == {posts[text].id for text in texts if text not in counts}
        assert not PublishAttempt.objects.filter(outcome__in=["", "failed", "unknown", "retry"]).exists()
        assert services.posts_due() == []  # paused: beat enqueues nothing

        released = services.queue_resume(user=lead, release="all")
        assert set(released) == held
        assert tasks.publish_due_posts() == len(held)
        batches += -(-len(held) // services.PUBLISH_BATCH)
        # No beat runs here to find a post again once its claim expires: each claimed post
        # must go out in the batch that claimed it.
        wait_until(lambda: tasks_finished(workers, BATCH_TASK) == batches, "the workers ran the released batches",
                   timeout=300)

    unsent = list(Post.objects.exclude(state=Post.State.PUBLISHED).values_list("text", "state"))
    assert unsent == [], f"{len(unsent)} released posts were claimed and not sent: {unsent[:5]}"
    counts = accepted_texts(x)
    assert len(x.posts) == DUE and set(counts) == set(texts) and set(counts.values()) == {1}
    platform_ids = dict(Post.objects.values_list("text", "platform_id"))
    assert platform_ids == {post.text: post.id for post in x.posts}


# --- A worker killed while X holds the post -------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_publish_leaves_the_post_in_needs_check_and_never_resends_it(
        x, network, account, make_user, artifacts):
    app.control.purge()
    lead, author = make_user(roles.LEAD), make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "Lights out? Our snacks glow in the dark.")
    network.fail_publish(delay=60)  # X records the post, then keeps the worker waiting for its answer

    with celery_worker(artifacts, name="pub-doomed", **worker_env(network, TIMEOUT="120")) as doomed:
        doomed_task = tasks.post_publish.delay(post.id)
        try:
            wait_until(lambda: len(x.posts) == 1, "X accepted the post")
            post.refresh_from_db()
            assert post.state == Post.State.PUBLISHING
            kill_worker(doomed)
        finally:
            drop_unacked(doomed_task.id)

    post.refresh_from_db()
    assert post.state == Post.State.PUBLISHING and attempt_outcomes(post) == [""]
    assert services.posts_due() == []
    # Beat's housekeeping two minutes later (its first sweeps skip the row until the dead
    # worker's database session is gone).
    wait_until(lambda: services.publishing_sweep(now=timezone.now() + timedelta(minutes=3)) == [post.id],
               "the sweep moved the post to needs-check")
    post.refresh_from_db()
    assert post.state == Post.State.NEEDS_CHECK
    assert "may have accepted" in post.last_error
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.UNKNOWN]

    after = due_post(account, author, "Back on: the second-half drop.")
    with celery_worker(artifacts, name="pub-fresh", **worker_env(network)):
        for _ in range(3):
            tasks.publish_due_posts.delay()
        tasks.post_publish.delay(post.id)  # the killed task, delivered again
        wait_until(lambda: tasks_finished(("pub-fresh",), DUE_TASK) == 3
                   and (tasks_finished(("pub-fresh",), PUBLISH_TASK) or 0) >= 1
                   and (tasks_finished(("pub-fresh",), BATCH_TASK) or 0) >= 1,
                   "the fresh worker ran beat's due-posts task three times, a batch and the redelivered task")

    assert accepted_texts(x) == {post.text: 1, after.text: 1}
    post.refresh_from_db()
    assert post.state == Post.State.NEEDS_CHECK and attempt_outcomes(post) == [PublishAttempt.Outcome.UNKNOWN]
    assert Post.objects.get(id=after.id).state == Post.State.PUBLISHED

    # The lead looks at the account and records what X holds.
    services.post_resolve_check(post_id=post.id, user=lead, published=True, platform_id=x.posts[0].id)
    post.refresh_from_db()
    assert (post.state, post.platform_id) == (Post.State.PUBLISHED, x.posts[0].id)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_only_the_post_in_flight_in_needs_check(x, network, account, make_user,
                                                                              artifacts):
    """A batch task claims five due posts; X holds the first one's answer and the worker is
    killed: that post alone is PUBLISHING (then needs-check), the four it had not reached
    are still SCHEDULED, and once their claim runs out another task sends each once."""
    app.control.purge()
    author = make_user(roles.COMMUNITY_MANAGER)
    posts = due_posts(account, author, [f"Third-quarter drop {i}: fresh out of the fryer" for i in range(5)])
    network.fail_publish(delay=60)  # the network records the batch's first post, then keeps the worker waiting

    with celery_worker(artifacts, name="pub-batch", **worker_env(network, TIMEOUT="120")) as doomed:
        batch_task = tasks.posts_publish_batch.delay()
        try:
            wait_until(lambda: len(x.posts) == 1, "X accepted the batch's first post")
            kill_worker(doomed)
        finally:
            drop_unacked(batch_task.id)

    in_flight = Post.objects.get(text=x.posts[0].text)
    states = dict(Post.objects.values_list("id", "state"))
    assert states == {post.id: Post.State.PUBLISHING if post.id == in_flight.id else Post.State.SCHEDULED
                      for post in posts}
    assert list(PublishAttempt.objects.values_list("post_id", "outcome")) == [(in_flight.id, "")]
    assert tasks.publish_due_posts() == 0  # the four are still claimed by the dead task, for ENQUEUED_FOR
    wait_until(lambda: services.publishing_sweep(now=timezone.now() + timedelta(minutes=3)) == [in_flight.id],
               "the sweep moved the post in flight to needs-check")

    later = timezone.now() + services.ENQUEUED_FOR + timedelta(seconds=1)  # the dead task's claim has run out
    assert services.posts_publish_batch(now=later) == {"published": 4}
    assert accepted_texts(x) == {post.text: 1 for post in posts}
    states = dict(Post.objects.values_list("id", "state"))
    assert states == {post.id: Post.State.NEEDS_CHECK if post.id == in_flight.id else Post.State.PUBLISHED
                      for post in posts}
    assert attempt_outcomes(in_flight) == [PublishAttempt.Outcome.UNKNOWN]


# --- Racing approvals and doubled tasks -----------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_give_one_approval_and_one_publish(x, network, account, make_user):
    author = make_user(roles.COMMUNITY_MANAGER)
    legal_a, legal_b = make_user(roles.LEGAL), make_user(roles.LEGAL)

    # Two legal users press Yes at the same moment.
    post = submitted_post(account, author, "Two minutes left and our ad is next.")
    content = post.content_hash()
    results = all_at_once(errors="return", calls=[lambda: services.post_approve(post_id=post.id, user=legal_a, content_hash=content),
                           lambda: services.post_approve(post_id=post.id, user=legal_b, content_hash=content)])
    approved = [r for r in results if isinstance(r, Post)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(approved) == 1 and len(refused) == 1 and isinstance(refused[0], Conflict), results
    request = ApprovalRequest.objects.get(post=post)
    assert request.state == ApprovalRequest.State.APPROVED
    winner = request.answered_by
    assert winner in (legal_a, legal_b)
    assert winner.get_full_name() in str(refused[0]) and "Yes" in str(refused[0])
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.approved_hash == content

    # A double-clicked Yes.
    clicked = submitted_post(account, author, "Overtime. Snacks stay crunchy.")
    content = clicked.content_hash()
    results = all_at_once(errors="return", calls=[lambda: services.post_approve(post_id=clicked.id, user=legal_a, content_hash=content)] * 2)
    assert sum(isinstance(r, Post) for r in results) == 1
    assert sum(isinstance(r, Conflict) and legal_a.get_full_name() in str(r) for r in results) == 1, results
    assert ApprovalRequest.objects.filter(post=clicked).count() == 1

    # The publish task delivered twice (and twice more), run at once.
    for target in (post, clicked):
        outcomes = all_at_once(errors="return", calls=[lambda target=target: services.post_publish(post_id=target.id)] * 4)
        assert sorted(outcomes).count("published") == 1, outcomes
        assert set(outcomes) <= {"published", "busy", "not due"}, outcomes
    assert accepted_texts(x) == {post.text: 1, clicked.text: 1}
    assert set(Post.objects.values_list("state", flat=True)) == {Post.State.PUBLISHED}


# --- Edits, stale approvals, reschedules ----------------------------------------------

@pytest.mark.django_db
def test_an_edit_voids_the_approval_and_a_stale_yes_is_refused(x, network, account, make_user):
    author, legal = make_user(roles.COMMUNITY_MANAGER), make_user(roles.LEGAL)
    post = submitted_post(account, author, "First draft of the halftime post",
                          publish_at=timezone.now() + timedelta(hours=1))
    seen = post.content_hash()
    post = services.post_approve(post_id=post.id, user=legal, content_hash=seen)
    assert post.state == Post.State.SCHEDULED

    post = services.post_edit(post_id=post.id, user=author, text="Second draft of the halftime post")
    assert post.state == Post.State.PENDING and post.approved_hash == "" and post.approved_at is None
    requests = ApprovalRequest.objects.filter(post=post).order_by("id")
    assert [r.state for r in requests] == [ApprovalRequest.State.APPROVED, ApprovalRequest.State.OPEN]
    assert requests[1].previous_text == "First draft of the halftime post"

    # Legal answers from the page it opened before the edit.
    with pytest.raises(Conflict, match="changed since you opened it"):
        services.post_approve(post_id=post.id, user=legal, content_hash=seen)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING

    post = services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())
    approved_hash = post.approved_hash
    assert post.state == Post.State.SCHEDULED and approved_hash == post.content_hash()

    # A new time keeps the approval: the content did not change.
    later = timezone.now() + timedelta(hours=2)
    post = services.post_schedule(post_id=post.id, user=author, publish_at=later)
    assert (post.state, post.approved_hash, post.publish_at) == (Post.State.SCHEDULED, approved_hash, later)

    # Due now, it goes out; the text X receives is the one legal approved.
    Post.objects.filter(id=post.id).update(publish_at=timezone.now() - timedelta(seconds=1))
    assert services.post_publish(post_id=post.id) == "published"
    assert accepted_texts(x) == {"Second draft of the halftime post": 1}

    # Text changed behind the approval's back (not through post_edit): never published.
    tampered = due_post(account, author, "Approved text")
    Post.objects.filter(id=tampered.id).update(text="Text nobody approved")
    assert services.post_publish(post_id=tampered.id) == "not approved"
    tampered.refresh_from_db()
    assert tampered.state == Post.State.PENDING
    assert accepted_texts(x) == {"Second draft of the halftime post": 1}


# --- X's refusals, errors and silences ------------------------------------------------

@pytest.mark.django_db
def test_x_unreachable_is_retried_with_back_off_then_published_once(x, network, account, make_user, settings):
    author = make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "Retry me: the request never reached X")
    network.point(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens: the request is never sent

    before = timezone.now()
    assert services.post_publish(post_id=post.id) == "retry"
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.retry_at > before
    assert f"Could not reach {network.label}" in post.last_error
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.RETRY]
    assert post.id not in services.posts_due()
    assert services.post_publish(post_id=post.id) == "not due"  # backing off

    network.point(settings)
    Post.objects.filter(id=post.id).update(retry_at=timezone.now() - timedelta(seconds=1))  # time passes
    assert services.posts_due() == [post.id]
    assert services.post_publish(post_id=post.id) == "published"
    assert services.post_publish(post_id=post.id) == "not due"
    post.refresh_from_db()
    assert post.state == Post.State.PUBLISHED and post.platform_id == x.posts[0].id and post.attempts == 2
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.RETRY, PublishAttempt.Outcome.ACCEPTED]
    assert accepted_texts(x) == {post.text: 1}


@pytest.mark.django_db
def test_a_rate_limit_is_retried_after_x_s_reset_then_published_once(x, network, account, make_user):
    author = make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "Rate limited: X refused before creating anything")
    failure = network.fail_publish(status=429, reset_in=120)

    assert services.post_publish(post_id=post.id) == "retry"
    post.refresh_from_db()
    reset = datetime.fromtimestamp(failure.reset_at, tz=dt_timezone.utc)
    assert post.state == Post.State.SCHEDULED and post.retry_at >= reset
    assert "rate limit" in post.last_error.lower()
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.RETRY]
    assert post.id not in services.posts_due() and x.posts == []

    Post.objects.filter(id=post.id).update(retry_at=timezone.now() - timedelta(seconds=1))  # the reset passed
    assert services.post_publish(post_id=post.id) == "published"
    assert accepted_texts(x) == {post.text: 1}


@pytest.mark.django_db
def test_a_5xx_from_x_is_not_resent_blindly(x, network, account, make_user):
    """X can create a post and still answer 5xx, and nothing in the answer says whether it
    did (the adapter raises PublishOutcomeUnknown for it): the lead checks, it is not resent."""
    author = make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "X answered 503 to this one")
    network.fail_publish(status=503)

    assert services.post_publish(post_id=post.id) == "needs check"
    post.refresh_from_db()
    assert post.state == Post.State.NEEDS_CHECK and "503" in post.last_error
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.UNKNOWN]
    assert post.id not in services.posts_due()
    assert services.post_publish(post_id=post.id) == "not due"
    assert x.posts == []


@pytest.mark.django_db
def test_a_permanent_refusal_fails_the_post_with_x_s_reason(x, network, account, make_user):
    author = make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "X will refuse this one")
    reason = "You are not permitted to perform this action: the account is temporarily locked."
    network.fail_publish(status=403, body=network.refusal(reason))

    assert services.post_publish(post_id=post.id) == "failed"
    post.refresh_from_db()
    assert post.state == Post.State.FAILED
    assert "403" in post.last_error and "temporarily locked" in post.last_error
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.FAILED]
    assert post.id not in services.posts_due()
    assert services.post_publish(post_id=post.id) == "not due"
    assert x.posts == []


@pytest.mark.django_db
def test_a_timeout_after_sending_goes_to_needs_check_and_is_never_resent(x, network, account, make_user, settings):
    setattr(settings, network.timeout_setting, 0.5)
    author = make_user(roles.COMMUNITY_MANAGER)
    post = due_post(account, author, "X took this one and went quiet")
    network.fail_publish(delay=3.0)  # X records the post, then answers after our timeout

    assert services.post_publish(post_id=post.id) == "needs check"
    post.refresh_from_db()
    assert post.state == Post.State.NEEDS_CHECK and "did not answer" in post.last_error
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.UNKNOWN]
    assert post.id not in services.posts_due()
    assert services.post_publish(post_id=post.id) == "not due"
    assert services.publishing_sweep(now=timezone.now() + timedelta(minutes=3)) == []
    assert accepted_texts(x) == {post.text: 1}


# --- A missed slot ----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_missed_slot_is_not_sent_late(x, network, account, make_user):
    author = make_user(roles.COMMUNITY_MANAGER)
    slot = timezone.now() - timedelta(minutes=10)
    post = due_post(account, author, "Kickoff in five!", publish_at=slot)

    assert services.post_publish(post_id=post.id) == "missed"
    post.refresh_from_db()
    assert post.state == Post.State.APPROVED
    assert post.last_error == f"Missed its slot at {slot:%H:%M} UTC: pick a new time."
    assert post.approved_hash == post.content_hash()  # still approved; it only needs a new time
    assert attempt_outcomes(post) == [PublishAttempt.Outcome.HELD]
    assert post.id not in services.posts_due()
    assert services.post_publish(post_id=post.id) == "not due"
    assert x.posts == [] and x.requests == []
