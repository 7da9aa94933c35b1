"""Publish: how many approved posts a second the real workers get out, and whether the
pause and the exactly-once promise hold at that rate.

    .venv/bin/python bench/publish.py          (or `make bench`, which runs every bench/*.py)

Two real Celery worker processes (BENCH_CONCURRENCY pool processes each, 4 by default),
started the way Procfile's worker is, publish against the loopback fake of X
(tests/fakes/x_api.py, run inside this process; it answers at once and keeps a post sent
twice twice, so duplicates are counted, not refused). This process plays beat: it sends
`approvals.tasks.publish_due_posts` every PUBLISH_EVERY_SECONDS (the beat schedule's
period), which sends one `posts_publish_batch` task per 25 due posts not yet claimed; each
task claims its own batch (FOR UPDATE SKIP LOCKED LIMIT 25) and publishes it in turn.

    phase 1   1,000 approved posts, all due, sent by the beat emulation: the time from
              the first enqueue to the 1,000th post accepted by the fake -> per_s.
              tasks counts the batch tasks the workers ran (a beat run that comes while
              tasks are still queued sends more; they claim what is left, or nothing).
    capacity  1,000 more, each enqueued exactly once (post_publish.delay per post): what
              the workers manage without beat's re-enqueues.
    phase 2   1,000 more through beat; once 30 % are out, the lead pauses the queue
              (queue_pause, in this process). after_pause = posts the fake accepted after
              the pause had committed (must be 0); the rest must wait SCHEDULED. Then
              resume, release all, and let them out.
    split     one process, one post at a time, no broker: ms per publish, and how much of
              it is the X call and the live event (the rest is the two transactions).
    networks  BENCH_NETWORK_POSTS (250 by default) more per network, through beat, to an
              account on each network's fake (X, Mastodon, Bluesky: tests/fakes/networks.py;
              the workers reach each through its *_API_BASE_URL, the client libraries
              unchanged): one line per network,
                  publish: network=<n> posts=<n> per_s=<x> duplicates=<d>
              duplicates counted on that network's fake over the whole run.

duplicates = texts a fake accepted more than once, over every phase and every network
(must be 0). Every post must end PUBLISHED with the id its fake gave it.

Runs on its own after `make test` has set up the venv: makes sure PostgreSQL and Redis
answer (scripts/services.sh up bench-publish), and uses its own database
(warroom_bench_publish, emptied with TRUNCATE at the start), Redis database 11 and channel
prefix. Override with BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_POSTS, BENCH_NETWORK_POSTS,
BENCH_CONCURRENCY.
Every wait is bounded (BENCH_WAIT_SECONDS, 240); the workers are stopped on every exit.
The last line is the summary:
    publish: posts=1000 per_s=<x> duplicates=<d> after_pause=<p>
"""

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, cpu_seconds, log, machine_busy_seconds  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support import descendants  # noqa: E402

PYTHON = common.PYTHON

# db 0: make run, 1: make test, 3: fanout, 9: ingest, 10: queue, 11: publish, 12: fire, 13: wall
ENV = common.bench_env(name="publish", redis_db=11, X_BEARER_TOKEN="bench")
DATABASE_URL, REDIS_URL, CHANNEL_PREFIX = ENV["DATABASE_URL"], ENV["REDIS_URL"], ENV["CHANNEL_PREFIX"]
SERVICES_TAG = "bench-publish"  # services.sh stops only what was started under this tag
POSTS = int(os.environ.get("BENCH_POSTS", "1000"))
NETWORK_POSTS = int(os.environ.get("BENCH_NETWORK_POSTS", "250"))
WORKERS = 2
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WAIT = float(os.environ.get("BENCH_WAIT_SECONDS", "240"))
PAUSE_AFTER = 0.30  # share of phase 2 out before the lead pauses
GOAL_PER_S = 100
PUBLISH_TASK = "approvals.tasks.post_publish"
BATCH_TASK = "approvals.tasks.posts_publish_batch"

os.environ.update(ENV)  # before django.setup(): settings read them once

services = functools.partial(common.services, tag=SERVICES_TAG, env=ENV, name="publish")
migrate = functools.partial(common.migrate, env=ENV, name="publish")


def wait_until(condition, what: str, timeout: float = WAIT):
    return common.wait_until(condition, what, timeout=timeout, name="publish", interval=0.02)


# --- set-up in the bench database ------------------------------------------------------


def reset_state(networks: dict):
    """Empty what earlier runs left (posts, attempts, live events, the audit log of this
    bench database, queued tasks, channel-layer keys under the bench prefix); the queue
    unpaused; a lead, an author and the brand's account on each network's fake. Returns
    (lead, author, {network: account})."""
    import redis
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from approvals.models import Account, QueueState
    from warroom import roles
    from warroom.celery import app

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{CHANNEL_PREFIX}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    app.control.purge()
    common.truncate("approvals_publishattempt", "approvals_approvalrequest", "approvals_post",
        "approvals_account", "warroom_liveevent", "warroom_auditentry")
    QueueState.objects.update_or_create(id=1, defaults={"paused": False, "reason": "", "paused_by": None,
                                                        "paused_at": None, "auto_resume_at": None})
    roles.ensure_groups()
    User = get_user_model()
    people = []
    for username, role in (("bench-lead", roles.LEAD), ("bench-author", roles.COMMUNITY_MANAGER)):
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": username.title()})
        user.groups.add(Group.objects.get(name=role))
        people.append(user)
    accounts = {kind: Account.objects.create(name=f"Brand on {network.label} (publish bench)", platform=kind,
                                             **network.account_fields)
                for kind, network in networks.items()}
    return people[0], people[1], accounts


def due_posts(account, author, phase: int, count: int) -> dict[str, int]:
    """`count` posts approved for their exact content and due now; {text: id}."""
    from django.utils import timezone

    from approvals.models import Post

    due = timezone.now() - timedelta(seconds=1)
    posts = [Post(account=account, author=author, text=f"Phase {phase} post {i:04d}: the Crunchwave is back",
                  state=Post.State.SCHEDULED, publish_at=due) for i in range(count)]
    for post in posts:
        post.approved_hash, post.approved_at = post.content_hash(), due
    return {post.text: post.id for post in Post.objects.bulk_create(posts, batch_size=500)}


# --- processes ----------------------------------------------------------------------------


class Workers:
    """WORKERS Celery worker processes as Procfile starts them (prefork, CONCURRENCY each)."""

    def __init__(self, networks: dict):
        self.env = {**os.environ, **ENV}
        for network in networks.values():  # each network's client at its fake
            self.env.update(network.env)
        self.env["X_BEARER_TOKEN"] = ENV["X_BEARER_TOKEN"]
        self.names = [f"benchpub{i}" for i in range(1, WORKERS + 1)]
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        from warroom.celery import app

        (ROOT / ".run").mkdir(exist_ok=True)
        for name in self.names:
            with open(ROOT / ".run" / f"bench-publish-{name}.log", "wb") as out:
                self.processes.append(subprocess.Popen(
                    [str(PYTHON), "-m", "celery", "-A", "warroom", "worker", "--loglevel", "WARNING",
                     "--concurrency", str(CONCURRENCY), "--hostname", f"{name}@%h",
                     "--without-gossip", "--without-mingle"],
                    cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                ))

        def answering():
            if any(p.poll() is not None for p in self.processes):
                raise SystemExit("publish: a worker exited at start; see .run/bench-publish-*.log")
            replies = app.control.ping(timeout=0.5)
            hosts = {host.split("@", 1)[0] for reply in replies for host in reply}
            return set(self.names) <= hosts

        wait_until(answering, "both workers answered a ping")

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for p in self.processes for pid in (p.pid, *descendants(p.pid)))

    def idle(self) -> bool:
        """Nothing queued, nothing running or reserved on any worker."""
        import redis

        from warroom.celery import app

        client = redis.Redis.from_url(REDIS_URL)
        try:
            if client.llen("celery"):
                return False
        finally:
            client.close()
        inspect = app.control.inspect(timeout=1.0, destination=[f"{n}@{os.uname().nodename}" for n in self.names])
        active, reserved = inspect.active(), inspect.reserved()
        if active is None or reserved is None or len(active) < len(self.names) or len(reserved) < len(self.names):
            return False
        return not any(active.values()) and not any(reserved.values())

    def tasks_run(self, task: str = PUBLISH_TASK) -> int:
        """How many `task` runs the workers have started so far."""
        from warroom.celery import app

        stats = app.control.inspect(timeout=1.0, destination=[f"{n}@{os.uname().nodename}" for n in self.names]).stats()
        return sum((reply.get("total") or {}).get(task, 0) for reply in (stats or {}).values())

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


class Beat(threading.Thread):
    """Sends publish_due_posts every PUBLISH_EVERY_SECONDS, as beat's schedule does."""

    def __init__(self) -> None:
        super().__init__(name="beat", daemon=True)
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        from django.conf import settings
        from django.db import connection

        from approvals import tasks

        try:
            while not self.stopped.is_set():
                tasks.publish_due_posts.delay()
                self.sent += 1
                self.stopped.wait(settings.PUBLISH_EVERY_SECONDS)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)


# --- the phases ---------------------------------------------------------------------------


def accepted(fake, texts) -> list:
    return [post for post in fake.posts if post.text in texts]


def same_id(stored: str | None, given: str | None) -> bool:
    """The room's id for a post is the network's (Mastodon's prefixed by its instance host)."""
    return bool(stored and given) and (stored == given or stored.rpartition(":")[2] == given)


def check_published(fake, texts: dict[str, int]) -> None:
    """Every post of the phase PUBLISHED with the id the fake gave it."""
    from approvals.models import Post

    got = dict(Post.objects.filter(id__in=texts.values()).values_list("id", "platform_id"))
    states = Counter(Post.objects.filter(id__in=texts.values()).values_list("state", flat=True))
    ids = {post.text: post.id for post in accepted(fake, texts)}
    wrong = [text for text, post_id in texts.items() if not same_id(got.get(post_id), ids.get(text))]
    if states != {Post.State.PUBLISHED: len(texts)} or wrong:
        log(f"publish: posts not PUBLISHED with their X id: states={dict(states)} wrong={wrong[:3]}")
        raise SystemExit("publish: the database disagrees with what the network accepted")


def duplicates_on(fake) -> int:
    counts = Counter(post.text for post in fake.posts)
    return sum(n - 1 for n in counts.values() if n > 1)


def phase_network(network, workers: Workers, account, author, *, phase: int) -> None:
    """NETWORK_POSTS due posts on one network's account, out through beat and the workers:
    posts per second from the first beat run to the last post that network's fake accepted."""
    fake = network.fake
    texts = due_posts(account, author, phase, NETWORK_POSTS)
    beat = Beat()
    started = time.time()
    beat.start()
    try:
        wait_until(lambda: len(accepted(fake, texts)) >= NETWORK_POSTS,
                   f"the fake {network.label} accepted {NETWORK_POSTS} posts")
    finally:
        beat.stop()
    seconds = max(post.at for post in accepted(fake, texts)) - started
    wait_until(workers.idle, "the workers are idle")
    check_published(fake, texts)
    print(f"publish: network={network.kind} posts={NETWORK_POSTS} per_s={NETWORK_POSTS / seconds:.1f}"
          f" duplicates={duplicates_on(fake)} seconds={seconds:.2f} beat_runs={beat.sent}", flush=True)


def phase_throughput(fake, workers: Workers, account, author, *, phase: int, via_beat: bool) -> float:
    """POSTS due posts out through the workers: sent by beat's publish_due_posts (the real
    path), or each enqueued exactly once with post_publish.delay (the workers' capacity,
    without beat's re-enqueues). Returns posts per second, first enqueue to last accepted."""
    from approvals import tasks

    texts = due_posts(account, author, phase, POSTS)
    task = BATCH_TASK if via_beat else PUBLISH_TASK
    cpu, machine, runs = workers.cpu(), machine_busy_seconds(), workers.tasks_run(task)
    beat = Beat()
    started = time.time()
    if via_beat:
        beat.start()
    else:
        for post_id in texts.values():
            tasks.post_publish.delay(post_id)
    try:
        wait_until(lambda: len(accepted(fake, texts)) >= POSTS, f"the fake accepted {POSTS} posts (phase {phase})")
    finally:
        if via_beat:
            beat.stop()
    out = accepted(fake, texts)
    first, last = min(post.at for post in out), max(post.at for post in out)
    seconds = last - started
    wait_until(workers.idle, "the workers are idle")
    check_published(fake, texts)
    worker_cpu = workers.cpu() - cpu
    others = machine_busy_seconds() - machine - worker_cpu
    runs = workers.tasks_run(task) - runs
    per_s = POSTS / seconds
    label = "phase1: via=beat" if via_beat else "capacity: via=post_publish.delay once per post"
    print(f"{label} posts={POSTS} seconds={seconds:.2f} per_s={per_s:.1f}"
          f" steady_per_s={(len(out) - 1) / max(last - first, 1e-6):.1f}"
          + (f" beat_runs={beat.sent}" if via_beat else "")
          + f" tasks={runs} worker_cpu_ms_per_post={worker_cpu / POSTS * 1000:.0f}"
          f" other_cpu_ms_per_post={others / POSTS * 1000:.0f} (postgres, redis, the fake, the rest of the machine)"
          f" workers={WORKERS}x{CONCURRENCY} cpus={os.cpu_count()}", flush=True)
    return per_s


def split(fake, account, author) -> None:
    """One process, one post at a time: what a publish costs and where (no worker, no broker).
    full = services.post_publish; x = networks.x.publish alone (with the client kept per
    process, as post_publish uses it); live = the live event it publishes (insert under
    the allocation lock, then the group_send to the post's 5 audience groups after commit);
    rest = full - x - live: the two transactions and their ~15 statements."""
    from django.db import transaction

    from approvals import services
    from networks import x
    from networks.base import Channel
    from warroom import live

    count = 200
    texts = due_posts(account, author, 9, count + 1)
    ids = list(texts.values())
    services.post_publish(post_id=ids[0])  # warm-up
    started = time.perf_counter()
    for post_id in ids[1:]:
        services.post_publish(post_id=post_id)
    full = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for i in range(count):
        x.publish(Channel(network="x", handle=account.handle), f"split call {i}")
    x_call = (time.perf_counter() - started) / count
    audience = ["user-1", "role-legal", "role-lead", "role-producer", "role-community-manager"]
    started = time.perf_counter()
    for i in range(count):
        with transaction.atomic():
            live.publish("post.published", audience=audience, summary=f"Published: split {i}", post_id=i)
    live_event = (time.perf_counter() - started) / count
    print(f"split: ms_per_publish full={full * 1000:.1f} = x {x_call * 1000:.1f} + live {live_event * 1000:.1f}"
          f" + rest {(full - x_call - live_event) * 1000:.1f} (two transactions); one process, one at a time",
          flush=True)


def phase_pause(fake, workers: Workers, account, author, lead) -> int:
    from approvals import services
    from approvals.models import Post

    texts = due_posts(account, author, 2, POSTS)
    beat = Beat()
    beat.start()
    try:
        wait_until(lambda: len(accepted(fake, texts)) >= POSTS * PAUSE_AFTER, f"{PAUSE_AFTER:.0%} of phase 2 was out")
        asked = time.time()
        services.queue_pause(user=lead, reason="Publish bench: the pause check")
        committed = time.time()  # the fake's `at` is time.time() too
    finally:
        beat.stop()
    wait_until(workers.idle, "the workers are idle after the pause")
    out = accepted(fake, texts)
    after_pause = sum(1 for post in out if post.at > committed)
    states = Counter(Post.objects.filter(id__in=texts.values()).values_list("state", flat=True))
    held = states.get(Post.State.SCHEDULED, 0)
    print(f"phase2: posts={POSTS} out_before_pause={len(out) - after_pause} after_pause={after_pause}"
          f" held={held} states={dict(sorted(states.items()))} pause_wait_ms={(committed - asked) * 1000:.0f}",
          flush=True)
    if states.get(Post.State.PUBLISHED, 0) + held != POSTS or states.get(Post.State.PUBLISHED, 0) != len(set(p.text for p in out)):
        log("publish: after the pause, posts are neither published nor held, or the database disagrees with X")

    released = services.queue_resume(user=lead, release="all")
    beat = Beat()
    beat.start()
    try:
        wait_until(lambda: len({p.text for p in accepted(fake, texts)}) >= POSTS, "the released posts were out")
    finally:
        beat.stop()
    wait_until(workers.idle, "the workers are idle after the resume")
    check_published(fake, texts)
    print(f"phase2: resumed released={len(released)} out={len(accepted(fake, texts))}", flush=True)
    return after_pause


def main() -> int:
    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    services("up")
    networks, workers = {}, None
    try:
        migrate()
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        from tests.fakes.networks import NETWORKS, start

        for kind in NETWORKS:  # a post sent twice is kept twice on each: counted, not refused
            networks[kind] = start(kind)
        lead, author, accounts = reset_state(networks)
        fake, account = networks["x"].fake, accounts["x"]
        workers = Workers(networks)
        log(f"publish: starting {WORKERS} workers x {CONCURRENCY} (logs .run/bench-publish-*.log)")
        workers.start()
        print(f"publish: posts={POSTS} per phase, {WORKERS} workers x {CONCURRENCY}, fake X at {fake.url},"
              f" goals: per_s>={GOAL_PER_S} duplicates=0 after_pause=0", flush=True)
        per_s = phase_throughput(fake, workers, account, author, phase=1, via_beat=True)
        phase_throughput(fake, workers, account, author, phase=3, via_beat=False)
        after_pause = phase_pause(fake, workers, account, author, lead)
        settings.X_API_BASE_URL = fake.url
        split(fake, account, author)
        for phase, (kind, network) in enumerate(networks.items(), start=20):
            phase_network(network, workers, accounts[kind], author, phase=phase)
        duplicates = sum(duplicates_on(network.fake) for network in networks.values())
        connection.close()
    finally:
        if workers is not None:
            workers.stop()
        for network in networks.values():
            network.fake.stop()
        services("stop")
    print(f"publish: posts={POSTS} per_s={per_s:.1f} duplicates={duplicates} after_pause={after_pause}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("publish: interrupted")
        sys.exit(130)
