"""Queue: the Queue page and the KPI page at 10 k, 100 k and 1 M mentions with their cases.

    .venv/bin/python bench/queue.py           (or `make bench`, which runs every bench/*.py)

Mentions and one case per mention are generated inside PostgreSQL (generate_series, INSERT
... SELECT into the real tables, so 10 M take minutes) (spread
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
(e.g. "10000,100000"); `--mentions 10000000` runs one size. The last line is the summary at
the largest size:
    queue: mentions=1000000 queries=<n> server_ms=<x> kpi_ms=<y>
Goal: <= 10 queries and <= 150 ms for the Queue, <= 500 ms for the KPIs, at 10 M mentions.
"""

import argparse
import functools
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
GOAL_QUERIES, GOAL_QUEUE_MS, GOAL_KPI_MS = 10, 150, 500

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


MENTIONS_SQL = """
INSERT INTO listening_mention (source_id, platform, external_id, url, author_handle, author_name, author_followers,
                               text, truncated, lang, sentiment, sentiment_label, rule_ids, in_reply_to,
                               conversation_id, posted_at, received_at)
SELECT %(source)s, 'demo', 'q' || n, '', 'fan' || (n %% 5000), 'Fan ' || (n %% 5000),
       (ARRAY[10, 300, 5000, 2000000])[1 + floor(random() * 4)::int], (%(texts)s::text[])[1 + n %% 7], false, 'en',
       0.0, 'neutral', '{}', '', '', at, at
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) n,
     LATERAL (SELECT %(now)s::timestamptz
                     - make_interval(secs => %(span)s * (1 - (n - %(start)s + random()) / %(count)s::float8))) t(at)
"""
# One case per mention inserted after %(after)s: 1 % still open, the rest answered and resolved,
# response times long-tailed, breaches where the times say so.
CASES_SQL = """
WITH drawn AS (
  SELECT m.id, m.posted_at AS opened,
         (ARRAY['P1', 'P2', 'P2', 'P3', 'P3', 'P3', 'P4'])[1 + floor(random() * 7)::int] AS priority,
         (ARRAY['social', 'social', 'social', 'support', 'pr', 'legal'])[1 + floor(random() * 6)::int] AS team,
         random() < %(open_share)s AS still_open,
         (ARRAY['new', 'new', 'open', 'open', 'escalated', 'waiting'])[1 + floor(random() * 6)::int] AS open_status,
         -- lognormal(3, 1) minutes (Box-Muller), at most three days
         least(exp(3.0 + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 4320) AS answer_min,
         1 + floor(random() * 600)::int AS resolve_min,
         (%(agents)s::bigint[])[1 + floor(random() * %(agent_count)s)::int] AS agent
  FROM listening_mention m WHERE m.id > %(after)s
), timed AS (
  SELECT d.*, CASE WHEN still_open THEN open_status ELSE 'resolved' END AS status,
         opened + make_interval(secs => answer_min * 60) AS answered,
         opened + make_interval(mins => CASE priority WHEN 'P1' THEN 15 WHEN 'P2' THEN 60 WHEN 'P3' THEN 240
                                                      ELSE 1440 END) AS first_due,
         opened + make_interval(mins => CASE priority WHEN 'P1' THEN 240 WHEN 'P2' THEN 480 WHEN 'P3' THEN 1440
                                                      ELSE 4320 END) AS resolution_due
  FROM drawn d
), settled AS (
  SELECT t.*,
         CASE WHEN NOT still_open THEN least(answered, %(now)s)
              WHEN open_status IN ('open', 'escalated') AND answered < %(now)s THEN answered END AS responded,
         CASE WHEN NOT still_open
              THEN least(least(answered, %(now)s) + make_interval(mins => resolve_min), %(now)s) END AS resolved
  FROM timed t
)
INSERT INTO triage_case (title, mention_id, status, priority, team, assignee_id, tags, opened_at, first_response_due,
                         resolution_due, first_responded_at, resolved_at, waiting_since, first_response_breached_at,
                         resolution_breached_at, version, replies_need_legal)
SELECT (%(texts)s::text[])[1 + id %% 7], id, status, priority, team, CASE WHEN status = 'new' THEN NULL ELSE agent END,
       CASE WHEN id %% 7 = 0 THEN '{bench}'::varchar[] ELSE '{}'::varchar[] END, opened, first_due, resolution_due,
       responded, resolved, CASE WHEN status = 'waiting' THEN %(now)s::timestamptz END,
       CASE WHEN coalesce(responded, %(now)s) > first_due THEN first_due END,
       CASE WHEN coalesce(resolved, %(now)s) > resolution_due THEN resolution_due END, 3, false
FROM settled
"""
CHUNK = 1_000_000


def grow(*, source_id: int, agents: list[int], start: int, stop: int, now: datetime, rng: random.Random) -> None:
    """Mentions start..stop-1 and a case for each, drawn inside PostgreSQL (generate_series,
    INSERT ... SELECT: 10 M rows in minutes, where building COPY rows in Python takes an
    hour), in chunks of 1 M, one transaction each. Mentions arrive in time order, and so
    are stored: each step covers the 30 days, oldest first."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [rng.random() * 2 - 1])
    for chunk in range(start, stop, CHUNK):
        end = min(chunk + CHUNK, stop)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) FROM listening_mention")
            after = cursor.fetchone()[0]
            cursor.execute(MENTIONS_SQL, {"source": source_id, "texts": list(TEXTS), "lo": chunk, "hi": end,
                                          "now": now, "span": DAYS * 86400, "start": start, "count": stop - start})
            cursor.execute(CASES_SQL, {"after": after, "open_share": OPEN_SHARE, "agents": agents,
                                       "agent_count": len(agents), "texts": list(TEXTS), "now": now})
        log(f"queue: {end:,} mentions and cases")


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
    global SIZES
    parser = argparse.ArgumentParser(description="Queue and KPI pages' server time over many mentions.")
    parser.add_argument("--mentions", type=int, help="one size only, e.g. 10000000 (default: BENCH_SIZES)")
    args = parser.parse_args()
    if args.mentions:
        SIZES = [args.mentions]
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
