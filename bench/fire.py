"""Fire: from a trigger post accepted by the fake X to the pre-approved variant accepted by
the fake X, through the real poll, ingest, rule, suggestion and fire path.

    .venv/bin/python bench/fire.py          (or `make bench`, which runs every bench/*.py)

A real daphne (the web process, DEBUG off) and a real Celery worker (as Procfile starts
them) run against the loopback fake of X (tests/fakes/x_api.py, inside this process). A
live event with BENCH_ROUNDS scenarios is set up through the services: each scenario has a
keyword trigger and one variant legal has approved. This process holds a producer's room
socket (/ws/room/, like the cockpit page) and, per round:

    1. adds a post with the scenario's keyword to the fake X          -> t0 (accepted by X)
    2. makes the X search source due and enqueues `listening.tasks.poll_source` (what beat
       does when it is due; the worker polls X, ingests, matches, suggests)
    3. waits for `scenario.suggested` on the socket                    -> trigger_to_suggest
    4. presses fire at once: the cockpit's POST (session, CSRF, htmx)  -> t_fire
    5. waits until the fake X accepted the variant's text              -> fire_to_published

Goals (issue 14): at the 99th percentile over the rounds (nearest rank: with 20 rounds,
the slowest), suggested within 500 ms of the poll that fetched the trigger (the poll is
enqueued the moment the post is accepted, so t0 is when the poll starts) and published
within 500 ms of the fire. Each variant must reach X exactly once (duplicates, must be 0).

Uses its own database (warroom_bench_fire, emptied with TRUNCATE at the start), Redis
database 12 and channel prefix; BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_ROUNDS (20),
BENCH_WARMUP (1 round first, printed apart: a fresh worker's first poll and fire) override.
BENCH_SERVICES=0 skips scripts/services.sh (PostgreSQL and Redis already answer).
The last line is the summary (p99 and medians over the rounds):
    fire: rounds=20 trigger_to_suggest_p99_ms=<a> fire_to_published_p99_ms=<b> trigger_to_suggest_ms=<median> ...
"""

import asyncio
import functools
import json
import math
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, log  # noqa: E402

sys.path.insert(0, str(ROOT))
PYTHON = common.PYTHON
DAPHNE = ROOT / ".venv" / "bin" / "daphne"

ENV = common.bench_env(name="fire", redis_db=12,
                       SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", X_BEARER_TOKEN="bench")
DATABASE_URL, REDIS_URL, CHANNEL_PREFIX = ENV["DATABASE_URL"], ENV["REDIS_URL"], ENV["CHANNEL_PREFIX"]
SERVICES_TAG = "bench-fire"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
# Rounds run first and left out of the figures: a fresh worker's first poll and fire pay for
# imports, template compilation, the X client and connections (printed as warm-up).
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))
WAIT = float(os.environ.get("BENCH_WAIT_SECONDS", "60"))
GOAL_SUGGEST_MS, GOAL_PUBLISH_MS = 500, 500  # p99


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

os.environ.update(ENV)  # before django.setup(): settings read them once

services = functools.partial(common.services, tag=SERVICES_TAG, env=ENV, name="fire")
migrate = functools.partial(common.migrate, env=ENV, name="fire")


def wait_until(condition, what: str, timeout: float = WAIT):
    return common.wait_until(condition, what, timeout=timeout, name="fire", interval=0.005)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A daphne or Celery worker process of the room, stopped in order on every exit."""

    def __init__(self, name: str, command: list[str], env: dict):
        self.name, self.command, self.env = name, command, env
        self.log_path = ROOT / ".run" / f"bench-fire-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Process":
        self.log_path.parent.mkdir(exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env={**os.environ, **ENV, **self.env}, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_room(fake_url: str) -> tuple[Process, Process, str]:
    from warroom.celery import app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = Process("daphne", [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "warroom.asgi:application"], {}).start()
    worker = Process("worker", [str(PYTHON), "-m", "celery", "-A", "warroom", "worker", "--loglevel", "WARNING",
                                "--concurrency", "2", "--hostname", "benchfire@%h", "--without-gossip",
                                "--without-mingle"], {"X_API_BASE_URL": fake_url}).start()

    def web_answers():
        if web.process.poll() is not None:
            raise SystemExit(f"fire: daphne exited; see {web.log_path}")
        try:
            urllib.request.urlopen(url + "/login/", timeout=1).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def worker_answers():
        if worker.process.poll() is not None:
            raise SystemExit(f"fire: the worker exited; see {worker.log_path}")
        return any("benchfire" in host for reply in app.control.ping(timeout=0.5) for host in reply)

    try:
        wait_until(web_answers, "daphne answers", 30)
        wait_until(worker_answers, "the worker answers a ping", 40)
    except BaseException:  # not returned to main(), so stopped here: a stray worker would take the next run's tasks
        web.stop()
        worker.stop()
        raise
    return web, worker, url


def reset_and_prepare():
    """Empty what earlier runs left, then: a producer (with a session), legal, the brand
    account, a live event with ROUNDS keyword scenarios each with one approved variant, and
    an X search source that only this script polls. Returns (event, scenarios, source, cookie)."""
    import redis
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from approvals import services as approvals
    from approvals.models import Account, Post, QueueState
    from listening.models import Source
    from playbooks import services as playbooks
    from warroom import roles
    from warroom.celery import app

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{CHANNEL_PREFIX}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    app.control.purge()
    common.truncate("playbooks_firing", "playbooks_suggestion", "playbooks_drill", "playbooks_moment_scenarios",
        "playbooks_moment", "playbooks_variant", "playbooks_scenario", "playbooks_contact",
        "playbooks_event_accounts", "playbooks_event", "approvals_publishattempt", "approvals_approvalrequest",
        "approvals_post", "approvals_account", "listening_alert_mentions", "listening_alert", "listening_mention",
        "listening_readusage", "listening_source", "triage_caseevent", "triage_case_mentions", "triage_case",
        "warroom_liveevent", "warroom_auditentry", "django_session")
    QueueState.objects.update_or_create(id=1, defaults={"paused": False, "reason": "", "paused_by": None,
                                                        "paused_at": None, "auto_resume_at": None})
    roles.ensure_groups()
    User = get_user_model()
    people = {}
    for username, role in (("bench-producer", roles.PRODUCER), ("bench-legal", roles.LEGAL)):
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": username.title()})
        user.groups.add(Group.objects.get(name=role))
        people[role] = user
    producer, legal = people[roles.PRODUCER], people[roles.LEGAL]
    account = Account.objects.create(name="Brand (fire bench)", handle="brand")
    now = timezone.now()
    event = playbooks.event_create(user=producer, name="Bench night", starts_at=now - timedelta(minutes=5),
                                   ends_at=now + timedelta(hours=2), account_ids=[account.id])
    scenarios = []
    run = secrets.token_hex(3)
    for i in range(WARMUP + ROUNDS):
        keyword = f"moment{run}x{i}"
        scenario = playbooks.scenario_create(user=producer, event_id=event.id, name=f"Moment {i}", trigger="keywords",
                                             keywords=[keyword])
        variant = playbooks.variant_create(user=producer, scenario_id=scenario.id, account_id=account.id,
                                           text=f"Ready for moment {i} ({run}).")
        playbooks.variant_submit(user=producer, variant_id=variant.id,
                                 checklist={q: True for q in approvals.CHECKLIST})
        post = Post.objects.get(id=variant.post_id)
        approvals.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())
        scenarios.append((scenario, variant, keyword, post.text))
    source = Source.objects.create(name="X: bench", kind=Source.Kind.X_SEARCH, query="bench",
                                   next_poll_at=now + timedelta(days=1), poll_interval=3600)
    session = SessionStore()
    session[SESSION_KEY] = str(producer.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = producer.get_session_auth_hash()
    session.create()
    return event, scenarios, source, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Socket:
    """The producer's room socket on its own thread: when each suggestion arrived."""

    def __init__(self, url: str, cookie: str, after: int):
        self.uri = url.replace("http://", "ws://") + "/ws/room/"
        self.origin, self.cookie, self.after = url, cookie, after
        self.suggested: dict[int, float] = {}  # scenario id -> time.time()
        self.ready = threading.Event()
        self.stopping = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(self.uri, origin=self.origin, additional_headers={"Cookie": self.cookie},
                               ping_interval=None) as socket:
                await socket.send(json.dumps({"type": "hello", "after": self.after}))
                self.ready.set()
                while not self.stopping:
                    try:
                        message = await asyncio.wait_for(socket.recv(), 0.5)
                    except TimeoutError:
                        continue
                    if '<span class="kind">scenario.suggested</span>' in message:
                        for scenario_id in self._scenario_ids(message):
                            self.suggested.setdefault(scenario_id, time.time())
        except Exception as error:  # noqa: BLE001 - reported by the waiter
            self.error = error
            self.ready.set()

    @staticmethod
    def _scenario_ids(message: str) -> list[int]:
        import re  # the toast of templates/live/scenario.suggested.html carries the id

        return [int(n) for n in re.findall(r'data-scenario-id="(\d+)"', message)]


def fire(url: str, cookie: str, csrf: str, event_id: int, variant_id: int) -> int:
    request = urllib.request.Request(
        f"{url}/playbooks/{event_id}/live/", method="POST",
        data=f"action=fire&variant={variant_id}&confirm=yes".encode(),
        headers={"Cookie": f"{cookie}; csrftoken={csrf}", "X-CSRFToken": csrf, "HX-Request": "true",
                 "Content-Type": "application/x-www-form-urlencoded", "Origin": url, "Referer": f"{url}/playbooks/"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def csrf_token(url: str, cookie: str, event_id: int) -> str:
    request = urllib.request.Request(f"{url}/playbooks/{event_id}/live/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("csrftoken="):
                return header.split(";", 1)[0].split("=", 1)[1]
    raise SystemExit("fire: the cockpit page set no CSRF cookie")


def main() -> int:
    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    use_services = os.environ.get("BENCH_SERVICES", "1") != "0"
    if use_services:
        services("up")
    fake = web = worker = socket = None
    try:
        migrate()
        import django

        django.setup()
        from django.db import connection

        from django.utils import timezone

        from listening.models import Source
        from listening.tasks import poll_source
        from tests.fakes.x_api import FakeXAPI
        from warroom import live

        fake = FakeXAPI().start()
        fake.reject_duplicates = False  # a variant sent twice is kept twice: counted, not refused
        event, scenarios, source, cookie = reset_and_prepare()
        web, worker, url = start_room(fake.url)
        log(f"fire: daphne on {url}, worker and fake X at {fake.url}; logs .run/bench-fire-*.log")
        csrf = csrf_token(url, cookie, event.id)
        socket = Socket(url, cookie, live.latest_id())
        socket.thread.start()
        socket.ready.wait(30)
        if socket.error:
            raise SystemExit(f"fire: the room socket failed: {socket.error!r}")
        connection.close()
        to_suggest, to_publish = [], []
        for i, (scenario, variant, keyword, text) in enumerate(scenarios):
            fake.add_tweet(f"Did you see that? {keyword} #bench", author=f"fan{i}", followers=100)
            accepted = time.time()
            Source.objects.filter(id=source.id).update(next_poll_at=timezone.now())  # due now, as beat would find it
            poll_source.delay(source.id)
            suggested = wait_until(lambda: socket.suggested.get(scenario.id) or socket.error, "the suggestion arrives")
            if socket.error:
                raise SystemExit(f"fire: the room socket failed: {socket.error!r}")
            fired = time.time()
            status = fire(url, cookie, csrf, event.id, variant.id)
            if status != 200:
                raise SystemExit(f"fire: the fire was refused ({status})")
            published = wait_until(lambda: next((p.at for p in fake.posts if p.text == text), None),
                                   "the fake X accepts the variant")
            suggest_ms, publish_ms = (suggested - accepted) * 1000, (published - fired) * 1000
            if i < WARMUP:
                print(f"warm-up {i + 1}: trigger_to_suggest_ms={suggest_ms:.0f} fire_to_published_ms={publish_ms:.0f}",
                      flush=True)
            else:
                to_suggest.append(suggest_ms)
                to_publish.append(publish_ms)
                print(f"round {i + 1 - WARMUP}: trigger_to_suggest_ms={suggest_ms:.0f} fire_to_published_ms={publish_ms:.0f}",
                      flush=True)
            time.sleep(0.5)
        time.sleep(2)  # a second delivery would have arrived by now
        counts = Counter(post.text for post in fake.posts)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        suggest_ms, publish_ms = statistics.median(to_suggest), statistics.median(to_publish)
        suggest_p99, publish_p99 = percentile(to_suggest, 99), percentile(to_publish, 99)
        met = suggest_p99 <= GOAL_SUGGEST_MS and publish_p99 <= GOAL_PUBLISH_MS and duplicates == 0
        print(f"fire: rounds={len(to_suggest)} duplicates={duplicates} slowest trigger_to_suggest_ms={max(to_suggest):.0f}"
              f" fire_to_published_ms={max(to_publish):.0f}; goals p99 <= {GOAL_SUGGEST_MS} and <= {GOAL_PUBLISH_MS}:"
              f" {'met' if met else 'NOT met'}", flush=True)
    finally:
        if socket is not None:
            socket.stopping = True
            socket.thread.join(5)
        for process in (worker, web):
            if process is not None:
                process.stop()
        if fake is not None:
            fake.stop()
        if use_services:
            services("stop")
    print(f"fire: rounds={len(to_suggest)} trigger_to_suggest_p99_ms={suggest_p99:.0f} fire_to_published_p99_ms={publish_p99:.0f}"
          f" trigger_to_suggest_ms={suggest_ms:.0f} fire_to_published_ms={publish_ms:.0f} duplicates={duplicates}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("fire: interrupted")
        sys.exit(130)
