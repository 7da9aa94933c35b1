"""Live fan-out: how long an event takes from its commit to every open page.

    .venv/bin/python bench/fanout.py          (or `make bench`, which runs every bench/*.py)

Against real daphne servers (started here the way Procfile's web process is, with
DEBUG off; two by default, sharing the channel layer in Redis as web processes behind a
load balancer do), 1,000 logged-in WebSocket clients, spread evenly over the servers, say
hello on /ws/room/ (`--old` runs the previous round instead: 50 and then 200 clients on
one daphne; `--clients`, `--processes` change it); a publisher thread calls
`live.publish(...)` for 500 events at a steady rate and notes the moment each transaction
committed; every client notes when each event id arrived.
Latency = receive time - commit time, over all clients x events (rendering, group_send,
the consumer and the socket included); both sides read time.time() on this machine.
The clients share one asyncio loop: they need a fraction of a core (bench_cpu; and
bench_loop_lag_ms shows how late that loop ran), far less than the server does. The
baseline, measured in the same run at the same rate and client count, is the bare channel
layer: receiver channels in one group, `group_send` of a message the size of a rendered
event from a plain thread as publish() does it, time until each `receive()` returns.

Runs on its own after `make test` has set up the venv: makes sure PostgreSQL and Redis
answer (scripts/services.sh up bench), and uses its own database (warroom_bench), Redis
database 3 and channel prefix, so a room or a test run beside it is not disturbed.
Override with BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_RATE, BENCH_EVENTS, BENCH_SIZES.
The last line is the summary for the largest client count:
    fanout: clients=1000 processes=2 p50_ms=<x> p99_ms=<y> missing=<n> baseline_p99_ms=<z>
"""

import argparse
import asyncio
import functools
import fcntl
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, cpu_seconds, log, machine_busy_seconds  # noqa: E402

sys.path.insert(0, str(ROOT))
PYTHON = common.PYTHON
DAPHNE = ROOT / ".venv" / "bin" / "daphne"

# 20 events a second to the whole room is a stress rate, several times a busy war room's
# peak: mentions are published once per ingest batch (one event per source per poll),
# alert updates at most every few seconds, and people assign, approve and pause at human
# speed, so the room sees a few events a second at the height of a moment. At 200 pages
# 20/s is 4,000 WebSocket messages a second out of one daphne process. 50/s (10,000 a
# second) measures this 2-core machine more than the code: the 200 clients alone then take
# ~0.4 of a core beside the server. BENCH_RATE=50 runs it anyway.
RATE = float(os.environ.get("BENCH_RATE", "20"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "500"))
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000").split(",")]
PROCESSES = 2
GOAL_P99_MS = 250
ROLE = "community manager"
DRAIN_SECONDS = 15  # after the last publish: longer than two LIVE_SYNC_SECONDS (5 s) sweeps
CONNECT_TIMEOUT = 60
CONNECT_ATTEMPTS = 6

# db 0: make run, 1: make test, 3: this bench; the server and this process sign sessions alike
ENV = common.bench_env(name="fanout", database="warroom_bench", redis_db=3,
                       SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0")
DATABASE_URL, REDIS_URL, CHANNEL_PREFIX, SECRET_KEY = (ENV[k] for k in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX",
                                                                         "SECRET_KEY"))
os.environ.update(ENV)  # before django.setup(): settings read them once


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def servers_cpu(servers: list["Server"]) -> float:
    return sum(cpu_seconds(server.process.pid) for server in servers)


async def settle(servers: list["Server"], quiet: float = 0.15, limit: float = 30) -> None:
    """Wait until the servers have worked off what the previous measurement left them."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = servers_cpu(servers)
        await asyncio.sleep(0.5)
        if servers_cpu(servers) - before < quiet * 0.5 * len(servers):
            return


services = functools.partial(common.services, tag="bench", env=ENV, name="fanout")
migrate = functools.partial(common.migrate, env=ENV, name="fanout")


# --- set-up in the bench database ------------------------------------------------------


def reset_state() -> None:
    """Forget what earlier runs left: channel-layer keys under the bench prefix (groups
    would still name the sockets of a dead server), live events and sessions."""
    import redis
    from django.contrib.sessions.models import Session

    from warroom.models import LiveEvent

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{CHANNEL_PREFIX}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    LiveEvent.objects.all().delete()
    Session.objects.all().delete()


def bench_sessions(count: int) -> list[str]:
    """`count` users in a role group, each with a logged-in session; returns the cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    from warroom import roles

    roles.ensure_groups()
    User = get_user_model()
    names = [f"bench-{i:04d}" for i in range(count)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    new = []
    for name in names:
        if name not in existing:
            user = User(username=name, first_name=f"Bench {name[6:]}")
            user.set_unusable_password()
            new.append(user)
    User.objects.bulk_create(new)
    users = list(User.objects.filter(username__in=names).order_by("username"))
    Group.objects.get(name=ROLE).user_set.add(*users)
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


class Server:
    """One daphne process, as Procfile's web process runs it."""

    def __init__(self, index: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ROOT / ".run" / f"bench-fanout-daphne-{index}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "warroom.asgi:application"],
                cwd=ROOT, env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop it in order
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"fanout: daphne exited; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/login/", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"fanout: daphne did not answer on {self.url}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# --- the publisher and the baseline sender (plain threads, like a Celery worker) -------


def paced(count: int, rate: float, step, stop: threading.Event) -> dict[int, float]:
    """Call step(i) -> (key, time) at a steady rate; returns {key: time}."""
    times: dict[int, float] = {}
    start = time.monotonic() + 0.05
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if stop.is_set():
            break
        key, at = step(i)
        times[key] = at
    return times


def publish_events(count: int, rate: float, clients: int, stop: threading.Event) -> dict[int, float]:
    from django.db import connection, transaction

    from warroom import live

    def step(i: int) -> tuple[int, float]:
        committed = []
        with transaction.atomic():
            # Registered before publish() registers its send: runs first, right after COMMIT.
            transaction.on_commit(lambda: committed.append(time.time()))
            event = live.publish(
                "bench.fanout", audience=[live.ROOM], summary=f"fan-out bench: event {i + 1} of {count} to {clients} pages",
                actor="bench",
            )
        return event.id, committed[0]

    try:
        return paced(count, rate, step, stop)
    finally:
        connection.close()


def send_baseline(count: int, rate: float, group: str, html: str, stop: threading.Event) -> dict[int, float]:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    def step(i: int) -> tuple[int, float]:
        at = time.time()
        async_to_sync(layer.group_send)(group, {"type": "live.event", "id": i, "html": html})
        return i, at

    return paced(count, rate, step, stop)


def sample_html() -> str:
    """A rendered event as publish() sends it, for the baseline's message size."""
    from django.utils import timezone

    from warroom import live
    from warroom.models import LiveEvent

    event = LiveEvent(id=123456, kind="bench.fanout", audience=[live.ROOM], created_at=timezone.now(),
                      payload={"summary": f"fan-out bench: event 500 of {EVENTS} to 200 pages", "actor": "bench"})
    return live.render(event)


# --- measuring ----------------------------------------------------------------------------


class LoopLag:
    """How late this process's event loop wakes up: if the clients' loop is saturated,
    receive times are late and the figures measure the bench, not the server."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - before - 0.01)

    def __enter__(self):
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc):
        self.task.cancel()


class Figures:
    """Latencies over every (receiver, message) pair. A delivery still missing when the
    drain time is over counts as infinitely late, so lost pushes cannot flatter p99."""

    def __init__(self, sent: dict[int, float], received: list[dict[int, float]], duplicates: int):
        latencies = [(got[key] - at) * 1000 for got in received for key, at in sent.items() if key in got]
        self.expected = len(sent) * len(received)
        self.delivered = len(latencies)
        self.missing = self.expected - self.delivered
        self.duplicates = duplicates
        self.max = max(latencies, default=float("nan"))
        latencies = sorted(latencies) + [math.inf] * self.missing
        self.p50 = percentile(latencies, 50)
        self.p99 = percentile(latencies, 99)


async def wait_all(received: list[dict[int, float]], keys, deadline: float) -> None:
    keys = list(keys)
    while time.monotonic() < deadline:
        if all(key in got for got in received for key in keys):
            return
        await asyncio.sleep(0.05)


async def run_baseline(clients: int, html: str) -> Figures:
    """Bare channel layer: `clients` channels of this process in one group."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    group = f"bench.baseline.{clients}"
    channels = [await layer.new_channel() for _ in range(clients)]
    for channel in channels:
        await layer.group_add(group, channel)
    received: list[dict[int, float]] = [{} for _ in channels]
    duplicates = 0

    async def reader(index: int, channel: str) -> None:
        nonlocal duplicates
        got = received[index]
        while True:
            message = await layer.receive(channel)
            now = time.time()
            if message["id"] in got:
                duplicates += 1
            else:
                got[message["id"]] = now

    readers = [asyncio.create_task(reader(i, channel)) for i, channel in enumerate(channels)]
    stop = threading.Event()
    try:
        await asyncio.sleep(0.2)  # the readers are waiting
        sent = await asyncio.to_thread(send_baseline, EVENTS, RATE, group, html, stop)
        await wait_all(received, sent, time.monotonic() + DRAIN_SECONDS)
    finally:
        stop.set()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for channel in channels:
            await layer.group_discard(group, channel)
    return Figures(sent, received, duplicates)


class Page:
    """One open room page: a logged-in socket that records when each event id arrived."""

    def __init__(self, cookie: str):
        self.cookie = cookie
        self.received: dict[int, float] = {}
        self.duplicates = 0
        self.reloads = 0
        self.retries = 0
        self.verified = asyncio.Event()
        self.closed = asyncio.Event()
        self.socket = None
        self.error: BaseException | None = None

    async def run(self, uri: str, origin: str, after: int, gate: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake

        try:
            async with gate:
                for attempt in range(CONNECT_ATTEMPTS):
                    try:
                        self.socket = await connect(
                            uri, origin=origin, additional_headers={"Cookie": self.cookie},
                            open_timeout=CONNECT_TIMEOUT, ping_interval=None, max_queue=None,
                        )
                        break
                    except (OSError, TimeoutError, InvalidHandshake):
                        # A server busy with hundreds of handshakes drops some (daphne gives an
                        # application 5 s to accept); the page's script retries with backoff.
                        if attempt == CONNECT_ATTEMPTS - 1:
                            raise
                        self.retries += 1
                        await asyncio.sleep(0.5 * 2**attempt)
                await self.socket.send(json.dumps({"type": "hello", "after": after}))
            async for message in self.socket:
                now = time.time()
                if message.startswith("<!--live id="):
                    event_id = int(message[12 : message.index("-->")])
                    if event_id in self.received:
                        self.duplicates += 1
                    else:
                        self.received[event_id] = now
                elif message.startswith("<!--live verified="):
                    self.verified.set()
                elif message.startswith("<!--live reload"):
                    self.reloads += 1
        except Exception as error:  # noqa: BLE001 - reported below, the run carries on
            self.error = error
        finally:
            self.closed.set()
            self.verified.set()


async def run_fanout(servers: list[Server], cookies: list[str]) -> tuple[Figures, dict]:
    from asgiref.sync import sync_to_async

    from warroom import live

    after = await sync_to_async(live.latest_id, thread_sensitive=False)()
    pages = [Page(cookie) for cookie in cookies]
    gate = asyncio.Semaphore(25)
    tasks = []
    for index, page in enumerate(pages):  # round robin, as a load balancer spreads pages
        server = servers[index % len(servers)]
        uri, origin = f"ws://127.0.0.1:{server.port}/ws/room/", f"http://127.0.0.1:{server.port}"
        tasks.append(asyncio.create_task(page.run(uri, origin, after, gate)))
    stop = threading.Event()
    try:
        connecting = CONNECT_TIMEOUT * max(1, len(pages) / 200)
        await asyncio.wait_for(asyncio.gather(*(page.verified.wait() for page in pages)), connecting)
        failed = [page for page in pages if page.error or page.closed.is_set()]
        if failed:
            raise SystemExit(f"fanout: {len(failed)} of {len(pages)} sockets failed to open: {failed[0].error!r}")
        await asyncio.sleep(0.5)
        server_cpu, own_cpu, machine, wall = (
            servers_cpu(servers), cpu_seconds(), machine_busy_seconds(), time.monotonic()
        )
        with LoopLag() as lag:
            sent = await asyncio.to_thread(publish_events, EVENTS, RATE, len(pages), stop)
            publish_wall = time.monotonic() - wall
            await wait_all([page.received for page in pages], sent, time.monotonic() + DRAIN_SECONDS)
        delivered = sum(len(page.received) for page in pages)
        usage = {
            "server_us_per_delivery": (servers_cpu(servers) - server_cpu) * 1e6 / max(delivered, 1),
            "server_cpu": (servers_cpu(servers) - server_cpu) / (time.monotonic() - wall),
            "bench_cpu": (cpu_seconds() - own_cpu) / (time.monotonic() - wall),
            "machine_cpu": (machine_busy_seconds() - machine) / (time.monotonic() - wall),
            "loop_lag_ms": lag.worst * 1000,
            "reloads": sum(page.reloads for page in pages),
            "connect_retries": sum(page.retries for page in pages),
            "rate": len(sent) / publish_wall if publish_wall else float("nan"),
        }
    finally:
        stop.set()
        await asyncio.gather(*(page.socket.close() for page in pages if page.socket), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    figures = Figures(sent, [page.received for page in pages], sum(page.duplicates for page in pages))
    return figures, usage


async def bench(servers: list[Server], cookies: list[str], html: str) -> list[tuple[int, Figures, Figures]]:
    results = []
    for clients in SIZES:
        await settle(servers)
        log(f"fanout: baseline, {clients} channel-layer receivers, {EVENTS} messages at {RATE:g}/s")
        base = await run_baseline(clients, html)
        print(
            f"baseline: clients={clients} p50_ms={base.p50:.1f} p99_ms={base.p99:.1f} max_ms={base.max:.1f}"
            f" missing={base.missing} duplicates={base.duplicates}",
            flush=True,
        )
        log(f"fanout: {clients} WebSocket clients, {EVENTS} events at {RATE:g}/s")
        live_figures, usage = await run_fanout(servers, cookies[:clients])
        print(
            f"fanout: clients={clients} processes={len(servers)} p50_ms={live_figures.p50:.1f} p99_ms={live_figures.p99:.1f}"
            f" max_ms={live_figures.max:.1f} missing={live_figures.missing} duplicates={live_figures.duplicates}"
            f" delivered={live_figures.delivered}/{live_figures.expected} reloads={usage['reloads']}"
            f" connect_retries={usage['connect_retries']}"
            f" goal={'met' if live_figures.p99 <= GOAL_P99_MS else 'missed'}"
            f" rate={usage['rate']:.1f}/s cpus={os.cpu_count()} server_cpu={usage['server_cpu']:.2f} bench_cpu={usage['bench_cpu']:.2f}"
            f" server_us_per_delivery={usage['server_us_per_delivery']:.0f} others_cpu={usage['machine_cpu'] - usage['server_cpu'] - usage['bench_cpu']:.2f}"
            f" bench_loop_lag_ms={usage['loop_lag_ms']:.0f}",
            flush=True,
        )
        results.append((clients, live_figures, base))
    return results


def main() -> int:
    global SIZES
    parser = argparse.ArgumentParser(description="Live fan-out: commit to receive, over real daphne processes.")
    parser.add_argument("--clients", type=int, help=f"WebSocket clients (default {SIZES[-1]})")
    parser.add_argument("--processes", type=int, default=None, help=f"daphne processes (default {PROCESSES})")
    parser.add_argument("--old", action="store_true", help="the previous round: 50 then 200 clients on one daphne")
    args = parser.parse_args()
    processes = args.processes or (1 if args.old else PROCESSES)
    if args.old:
        SIZES = [50, 200]
    if args.clients:
        SIZES = [args.clients]

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    # Two runs at once would share the bench database and Redis keys and each other's CPU.
    (ROOT / ".run").mkdir(exist_ok=True)
    lock = open(ROOT / ".run" / "bench-fanout.lock", "w")
    deadline = time.monotonic() + 900
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit("fanout: another fanout benchmark is still running (.run/bench-fanout.lock)") from None
            log("fanout: waiting for another fanout benchmark to finish (.run/bench-fanout.lock)")
            time.sleep(10)
    services("up")
    servers = [Server(index) for index in range(processes)]
    try:
        migrate()
        import django

        django.setup()
        reset_state()
        cookies = bench_sessions(max(SIZES))
        html = sample_html()
        for server in servers:
            server.start()
            log(f"fanout: daphne on {server.url} (log {server.log_path.relative_to(ROOT)}), {os.cpu_count()} CPUs")
        print(f"fanout: {EVENTS} events per size at {RATE:g}/s, message {len(html)} bytes, goal p99 <= {GOAL_P99_MS} ms", flush=True)
        results = asyncio.run(bench(servers, cookies, html))
    finally:
        for server in servers:
            server.stop()
        services("stop")
    clients, figures, base = results[-1]
    print(f"fanout: clients={clients} processes={len(servers)} p50_ms={figures.p50:.1f} p99_ms={figures.p99:.1f}"
          f" missing={figures.missing} baseline_p99_ms={base.p99:.1f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("fanout: interrupted")
        sys.exit(130)
