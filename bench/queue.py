"""Queue: the Queue page and the KPI page at 10 k, 100 k and 1 M mentions with their cases.

    .venv/bin/python bench/queue.py           (or `make bench`, which runs every bench/*.py)

Mentions and one case per mention are generated with COPY into the real tables (spread
over 30 days; 1 % of cases still open, the rest answered and resolved, response times
drawn from a long-tailed distribution, some breached), then the real pages are rendered
in this process through Django's test client, signed in as the lead: the Queue (/queue/,
its default view, 200 rows) and the KPIs (/queue/kpis/). Each is rendered once to warm up,
then BENCH_REPEAT times (default 7); the figure is the median server time of a render,
and the number of SQL queries one render makes. Queue rows are shared through a cache
(triage/rows.py): `queue_ms` is a render with the rows cached (every viewer after the
first), `queue_cold_ms` one with none cached (the first viewer after a restart). The KPI page
reads a snapshot a beat task recomputes every minute: `kpi_ms` is the page,
`kpi_compute_ms` the recomputation (what the beat task spends once a minute). The database grows from one size to the
next (10 k, then 90 k more, then 900 k more), with ANALYZE after each step.

Runs on its own after `make test` has set up the venv: makes sure PostgreSQL and Redis
answer (scripts/services.sh up bench-queue), uses its own database (warroom_bench_queue,
emptied at the start) and Redis database 10. BENCH_SIZES overrides the sizes
(e.g. "10000,100000"). The last line is the summary at the largest size:
    queue: mentions=1000000 queries=<n> server_ms=<x> kpi_ms=<y>
Goal: <= 10 queries and <= 100 ms for the Queue, <= 500 ms for the KPIs, at 1 M mentions.
"""

import functools
import io
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, log  # noqa: E402

sys.path.insert(0, str(ROOT))

ENV = common.bench_env(name="queue", redis_db=10)
os.environ.update(ENV)  # before django.setup(): settings read them once
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))
OPEN_SHARE = 0.01
DAYS = 30
SEED = 20261123
GOAL_QUERIES, GOAL_QUEUE_MS, GOAL_KPI_MS = 10, 100, 500

services = functools.partial(common.services, tag="bench-queue", env=ENV, name="queue")
migrate = functools.partial(common.migrate, env=ENV, name="queue")

MENTION_COLUMNS = ("source_id", "platform", "external_id", "url", "author_handle", "author_name", "author_followers",
                   "text", "truncated", "lang", "sentiment", "sentiment_label", "rule_ids", "in_reply_to",
                   "conversation_id", "posted_at", "received_at")
CASE_COLUMNS = ("title", "mention_id", "status", "priority", "team", "assignee_id", "tags", "opened_at",
                "first_response_due", "resolution_due", "first_responded_at", "resolved_at", "waiting_since",
                "first_response_breached_at", "resolution_breached_at", "version", "replies_need_legal")
TEXTS = ("My bag of chips was half air again", "Loving the new Crunchwave ad!", "Where is my refund? Third time asking",
         "The blackout ruined the game but the snacks are great", "Is this flavour gluten free?",
         "Customer service never answers, done with this brand", "Crunchwave at the Super Bowl, legends")
STATUSES_OPEN = ("new", "new", "open", "open", "escalated", "waiting")
TEAMS = ("social", "social", "social", "support", "pr", "legal")
PRIORITIES = ("P1", "P2", "P2", "P3", "P3", "P3", "P4")
SLA = {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (1440, 4320)}


def reset() -> tuple[int, list[int]]:
    """Empty the tables this benchmark fills; a source, the lead and a few agents."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from listening.models import Source
    from warroom import roles

    common.truncate("triage_caseevent", "triage_case_mentions", "triage_case", "listening_alert_mentions",
        "listening_alert", "listening_mention", "listening_source", "warroom_liveevent", "warroom_auditentry")
    roles.ensure_groups()
    source = Source.objects.create(name="Queue bench", kind=Source.Kind.DEMO, query="speed=10")
    users = get_user_model()
    users.objects.filter(username__startswith="bench-").delete()
    lead = users.objects.create_user("bench-lead", first_name="Lena")
    lead.groups.add(*roles_groups(roles.LEAD))
    agents = []
    for n in range(8):
        agent = users.objects.create_user(f"bench-agent-{n}", first_name=f"Agent {n}")
        agent.groups.add(*roles_groups(roles.COMMUNITY_MANAGER))
        agents.append(agent.id)
    return source.id, agents


def roles_groups(*names):
    from django.contrib.auth.models import Group

    return list(Group.objects.filter(name__in=names))


def copy(table: str, columns: tuple[str, ...], rows) -> None:
    from django.db import connection

    from listening.services import _copy_value

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.connection.cursor().copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def grow(*, source_id: int, agents: list[int], start: int, stop: int, now: datetime, rng: random.Random) -> None:
    """Mentions start..stop-1 and a case for each, in chunks of 100 k (one transaction each)."""
    from django.db import connection, transaction

    span = DAYS * 86400
    # Mentions arrive in time order, and so are stored: each step covers the 30 days, oldest first.
    times = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(start, stop))
    for chunk in range(start, stop, 100_000):
        end = min(chunk + 100_000, stop)
        posted = times[chunk - start:end - start]
        with transaction.atomic():
            copy("listening_mention", MENTION_COLUMNS, (
                (source_id, "demo", f"q{n}", "", f"fan{n % 5000}", f"Fan {n % 5000}", rng.choice((10, 300, 5000, 2_000_000)),
                 TEXTS[n % len(TEXTS)], False, "en", 0.0, "neutral", [], "", "", at, at)
                for n, at in zip(range(chunk, end), posted)))
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM listening_mention WHERE external_id = ANY(%s) ORDER BY id",
                               [[f"q{chunk}", f"q{end - 1}"]])
                first, last = (row[0] for row in cursor.fetchall())
            copy("triage_case", CASE_COLUMNS, (case_row(mention_id, at, agents, now, rng)
                                               for mention_id, at in zip(range(first, last + 1), posted)))
        log(f"queue: {end:,} mentions and cases")


def case_row(mention_id: int, opened: datetime, agents: list[int], now: datetime, rng: random.Random) -> tuple:
    priority, team = rng.choice(PRIORITIES), rng.choice(TEAMS)
    first_min, resolution_min = SLA[priority]
    first_due, resolution_due = opened + timedelta(minutes=first_min), opened + timedelta(minutes=resolution_min)
    answered = opened + timedelta(minutes=min(rng.lognormvariate(3.0, 1.0), 60 * 24 * 3))
    if rng.random() < OPEN_SHARE:  # still in the queue
        status = rng.choice(STATUSES_OPEN)
        responded = answered if status in ("open", "escalated") and answered < now else None
        resolved = None
        assignee = rng.choice(agents) if status != "new" else None
    else:
        status, responded, assignee = "resolved", min(answered, now), rng.choice(agents)
        resolved = min(responded + timedelta(minutes=rng.randint(1, 600)), now)
    first_breach = first_due if (responded or now) > first_due else None
    resolution_breach = resolution_due if (resolved or now) > resolution_due else None
    return (TEXTS[mention_id % len(TEXTS)], mention_id, status, priority, team, assignee,
            "{bench}" if mention_id % 7 == 0 else "{}", opened, first_due, resolution_due, responded, resolved,
            now if status == "waiting" else None, first_breach, resolution_breach, 3, False)


def measure(client, path: str) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, secure=True)  # warm-up
    assert response.status_code == 200, (path, response.status_code)
    times, queries = [], 0
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path, secure=True)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        queries = len(captured.captured_queries)
    return queries, statistics.median(times)


def cold(client, path: str) -> float:
    """One render with no row in the shared row cache (the first viewer after a restart)."""
    import redis

    times = []
    for _ in range(3):
        client_redis = redis.Redis.from_url(ENV["REDIS_URL"])
        keys = list(client_redis.scan_iter(match="*triage:row:*", count=1000))
        if keys:
            client_redis.delete(*keys)
        client_redis.close()
        started = time.perf_counter()
        assert client.get(path, secure=True).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    services("up")
    migrate()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from triage.selectors import kpi_snapshot

    source_id, agents = reset()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-lead"))
    rng, now, done = random.Random(SEED), datetime.now(timezone.utc), 0
    results = []
    for size in SIZES:
        grow(source_id=source_id, agents=agents, start=done, stop=size, now=now, rng=rng)
        done = size
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE listening_mention")  # as autovacuum would have by now
            cursor.execute("VACUUM ANALYZE triage_case")
            cursor.execute("SELECT count(*) FILTER (WHERE status <> 'resolved'), count(*) FROM triage_case")
            open_cases, cases = cursor.fetchone()
        queue_queries, queue_ms = measure(client, "/queue/")
        queue_cold_ms = cold(client, "/queue/")
        kpi_queries, kpi_ms = measure(client, "/queue/kpis/")
        started = time.perf_counter()
        kpi_snapshot(refresh=True)
        kpi_compute_ms = (time.perf_counter() - started) * 1000
        results.append((size, queue_queries, queue_ms, kpi_queries, kpi_ms))
        print(f"size: mentions={size} cases={cases} open={open_cases} queue_queries={queue_queries} "
              f"queue_ms={queue_ms:.1f} queue_cold_ms={queue_cold_ms:.1f} kpi_queries={kpi_queries} "
              f"kpi_ms={kpi_ms:.1f} kpi_compute_ms={kpi_compute_ms:.1f}", flush=True)
    size, queue_queries, queue_ms, _, kpi_ms = results[-1]
    met = queue_queries <= GOAL_QUERIES and queue_ms <= GOAL_QUEUE_MS and kpi_ms <= GOAL_KPI_MS
    print(f"goal: queries<={GOAL_QUERIES} server_ms<={GOAL_QUEUE_MS} kpi_ms<={GOAL_KPI_MS} "
          f"{'met' if met else 'NOT met'}", flush=True)
    print(f"queue: mentions={size} queries={queue_queries} server_ms={queue_ms:.1f} kpi_ms={kpi_ms:.1f}", flush=True)
    services("stop")


if __name__ == "__main__":
    main()
