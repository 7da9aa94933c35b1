"""Wall: server time of the Wall's data endpoints at 1 M mentions over 30 days.

    .venv/bin/python bench/wall.py          (or `make bench`, which runs every bench/*.py)

Loads `--mentions N` (or BENCH_MENTIONS; default 1,000,000; 10,000,000 is the issue-14 goal)
mentions posted over the last 30 days, drawn inside PostgreSQL with generate_series (the
demo night's texts cycled with fresh ids, five sources, a busier evening each day and
a spike in the last ten minutes), 5,000 triage cases (some breached), 100 posts waiting for
legal, an open spike alert and a story arc; then rebuilds the per-minute rollup the way
a bulk load must (ingest keeps it up to date row by row), and times every endpoint the Wall
and the arcs page call, in process through Django's test client (middleware, session and
role checks included; no network): BENCH_REPEAT requests each (default 30), median and
p95. A load is kept between runs when the database already holds the same number of
mentions (BENCH_RELOAD=1 forces a new one).

Own database (warroom_bench_wall), Redis database 13 and channel prefix; override with
BENCH_DATABASE_URL, BENCH_REDIS_URL. BENCH_SKIP_SERVICES=1 skips scripts/services.sh when
PostgreSQL and Redis are already running. The last line is the summary (the slowest
endpoint's median, and the most SQL queries an endpoint made):
    wall: mentions=1000000 slowest_ms=<x> queries=<n>
"""

import functools
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, log  # noqa: E402

sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "listening" / "demo" / "superbowl.jsonl"
ENV = common.bench_env(name="wall", redis_db=13,
                       SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0")
DATABASE_URL, REDIS_URL, CHANNEL_PREFIX = ENV["DATABASE_URL"], ENV["REDIS_URL"], ENV["CHANNEL_PREFIX"]
SERVICES_TAG = "bench-wall"
MENTIONS = int(os.environ.get("BENCH_MENTIONS", "1000000"))
if "--mentions" in sys.argv:  # before anything reads it; argparse below documents it
    MENTIONS = int(sys.argv[sys.argv.index("--mentions") + 1])
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
DAYS = 30
SOURCES = 5
CASES = 5000
GOAL_MS = 150
SEED = 20261123

os.environ.update(ENV)

services = functools.partial(common.services, tag=SERVICES_TAG, env=ENV, name="wall")
migrate = functools.partial(common.migrate, env=ENV, name="wall")


def ensure_database() -> None:
    import psycopg2

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    conn = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                            dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def corpus() -> list[dict]:
    lines = []
    for raw in CORPUS.read_bytes().split(b"\n"):
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            lines.append(obj)
    return lines


def _copy_text(value) -> str:
    from listening.services import clean

    value = clean(value, 10_000)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def load(now: datetime) -> None:
    """Empty the bench tables and COPY MENTIONS mentions posted over the last DAYS days."""
    from django.db import connection

    from listening.models import Source

    rng = random.Random(SEED)
    lines = corpus()
    labels = ("positive", "neutral", "negative")
    common.truncate("listening_alert_mentions", "listening_alert", "listening_mention", "listening_alertrule",
        "listening_source", "triage_caseevent", "triage_case_mentions", "triage_case",
        "approvals_approvalrequest", "approvals_publishattempt", "approvals_post", "approvals_account",
        "wall_mentionminute", "wall_topicday", "wall_topic", "wall_notification", "warroom_liveevent")
    sources = [Source.objects.create(name=f"bench source {n}", kind=Source.Kind.WEBHOOK) for n in range(SOURCES)]
    columns = ("source_id, platform, external_id, url, author_handle, author_name, author_followers, text, truncated,"
               " lang, sentiment, sentiment_label, rule_ids, in_reply_to, conversation_id, posted_at, received_at")
    # The corpus goes in once (a temporary table); the mentions are drawn from it inside
    # PostgreSQL with generate_series, 1 M rows a statement: 10 M load in minutes.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_corpus (n int PRIMARY KEY, handle text, name text,"
                       " followers int, text text, lang text) ON COMMIT PRESERVE ROWS")
        buffer = io.StringIO()
        for n, line in enumerate(lines):
            followers = line["followers"] if isinstance(line.get("followers"), int) else 0
            buffer.write("\t".join((str(n), _copy_text(line.get("handle", "")[:100]), _copy_text(line.get("name", "")[:200]),
                                     str(followers), _copy_text(line["text"]), line.get("lang", "") or "en")) + "\n")
        buffer.seek(0)
        cursor.connection.cursor().copy_expert("COPY bench_corpus FROM STDIN", buffer)
        cursor.execute("SELECT setseed(%s)", [rng.random() * 2 - 1])
    span = DAYS * 86400
    chunk = 1_000_000
    started = time.perf_counter()
    for start in range(0, MENTIONS, chunk):
        with connection.cursor() as cursor:
            cursor.execute("""
                INSERT INTO listening_mention (source_id, platform, external_id, url, author_handle, author_name,
                                               author_followers, text, truncated, lang, sentiment, sentiment_label,
                                               rule_ids, in_reply_to, conversation_id, posted_at, received_at)
                SELECT (%(sources)s::bigint[])[1 + g.n %% %(source_count)s], 'webhook', 'bench-' || g.n, '', c.handle,
                       c.name, c.followers, c.text, false, c.lang,
                       CASE label WHEN 'positive' THEN 0.5 WHEN 'negative' THEN -0.5 ELSE 0.0 END, label,
                       '{}', '', '', at, at
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) g(n)
                JOIN bench_corpus c ON c.n = g.n %% %(corpus)s,
                -- g.n * 0: a LATERAL that names no outer column is evaluated once, not per row
                LATERAL (SELECT (ARRAY['positive', 'neutral', 'negative'])[1 + floor(random() * 3 + g.n * 0)::int] AS label,
                                random() * %(span)s + g.n * 0 AS ago, random() + g.n * 0 < 0.4 AS evening,
                                random() + g.n * 0 AS r) d,
                LATERAL (SELECT %(now)s::timestamptz - make_interval(secs => CASE
                           WHEN g.n >= %(mentions)s - 3000 THEN d.r * 600  -- the spike: the last ten minutes
                           WHEN d.evening THEN floor(d.ago / 86400) * 86400 + d.r * 4 * 3600  -- evenings are busier
                           ELSE d.ago END)) t(at)
            """, {"sources": [source.id for source in sources], "source_count": SOURCES, "lo": start,
                  "hi": min(MENTIONS, start + chunk), "corpus": len(lines), "span": span, "now": now,
                  "mentions": MENTIONS})
        log(f"wall: {min(MENTIONS, start + chunk)} mentions inserted ({time.perf_counter() - started:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE listening_mention")


def load_room(now: datetime) -> None:
    """Cases, approvals waiting for legal, a spike alert and a story arc, as on a busy night."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import Account, ApprovalRequest, Post
    from listening.models import Alert, AlertRule
    from triage.models import Case
    from wall import services as wall_services
    from warroom import roles

    roles.ensure_groups()
    User = get_user_model()
    lead, _ = User.objects.get_or_create(username="bench-lead", defaults={"first_name": "Bench"})
    lead.groups.add(Group.objects.get(name=roles.LEAD))
    rng = random.Random(SEED)
    cases = []
    for n in range(CASES):
        opened = now - timedelta(minutes=rng.uniform(0, 60 * 24 * 7))
        responded = opened + timedelta(minutes=rng.uniform(1, 90)) if n % 3 else None
        resolved = n % 2 == 0
        cases.append(Case(
            title=f"bench case {n}", priority=f"P{1 + n % 4}", opened_at=opened,
            status=Case.Status.RESOLVED if resolved else Case.Status.OPEN,
            first_response_due=opened + timedelta(minutes=60), resolution_due=opened + timedelta(hours=8),
            first_responded_at=responded if responded and responded < now else None,
            resolved_at=now if resolved else None,
            first_response_breached_at=opened + timedelta(minutes=60) if not responded and n % 5 == 0 else None,
        ))
    Case.objects.bulk_create(cases, batch_size=1000)
    account = Account.objects.create(name="Bench brand", handle="bench")
    for n in range(100):
        post = Post.objects.create(account=account, author=lead, text=f"Bench post {n} waiting for legal",
                                   state=Post.State.PENDING)
        ApprovalRequest.objects.create(post=post, requested_by=lead, content_hash="x" * 64,
                                       created_at=now - timedelta(minutes=n))
    rule = AlertRule.objects.create(name="Volume", kind=AlertRule.Kind.SPIKE, spike_window_minutes=5)
    Alert.objects.create(rule=rule, kind=rule.kind, priority="P2", title="Spike: Volume", opened_at=now - timedelta(minutes=8))
    started = time.perf_counter()
    from django.db import transaction

    with transaction.atomic():
        topic = wall_services.topic_create(user=lead, name="Blackout", query='blackout OR "lights out"', days_back=DAYS)
    matched = wall_services.topic_refresh(topic_id=topic.id)
    seconds = time.perf_counter() - started
    print(f"wall-arc-refresh: mentions_scanned={MENTIONS} matched={matched} seconds={seconds:.1f}"
          f" mentions_per_s={MENTIONS / seconds:.0f}", flush=True)


def timed(client, url: str) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        if response.status_code != 200:
            raise SystemExit(f"wall: {url} answered {response.status_code}")
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], queries


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description="The Wall's endpoints' server time over many mentions.")
    parser.add_argument("--mentions", type=int, default=MENTIONS, help="mentions to load (default %(default)s)")
    parser.parse_args()
    if os.environ.get("BENCH_SKIP_SERVICES") != "1":
        services("up")
    try:
        ensure_database()
        migrate()
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from listening.models import Mention
        from wall import rollups
        from wall.models import Topic

        now = datetime.now(timezone.utc)
        have = Mention.objects.count()
        if have != MENTIONS or os.environ.get("BENCH_RELOAD") == "1" or not Topic.objects.exists():
            log(f"wall: loading {MENTIONS} mentions over {DAYS} days (found {have})")
            load(now)
            load_room(now)
        else:
            log(f"wall: reusing the {have} mentions already loaded")
        started = time.perf_counter()
        rows = rollups.mention_minutes_rebuild()
        print(f"wall-rollup-rebuild: mentions={MENTIONS} minute_rows={rows} seconds={time.perf_counter() - started:.1f}",
              flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE wall_mentionminute")
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench-lead"))
        topic = Topic.objects.order_by("id").first()
        endpoints = {
            "wall_page": "/wall/",
            "wall_panels": "/wall/panels/",
            "wall_volume_60m": "/wall/volume.json",
            "wall_volume_24h": "/wall/volume.json?minutes=1440",
            "wall_sentiment": "/wall/sentiment.json",
            "wall_responses_24h": "/wall/responses.json",
            "topic_arc_30d": f"/wall/arcs/data.json?topic={topic.id}",
            "topics_page": f"/wall/arcs/?topic={topic.id}",
        }
        for url in endpoints.values():  # warm up: templates, the first connection
            client.get(url)
        slowest, most_queries = 0.0, 0
        for name, url in endpoints.items():
            median, p95, queries = timed(client, url)
            slowest, most_queries = max(slowest, median), max(most_queries, queries)
            print(f"wall-endpoint: {name} median_ms={median:.1f} p95_ms={p95:.1f} queries={queries} goal_ms={GOAL_MS}"
                  f" {'ok' if median <= GOAL_MS else 'over'}", flush=True)
        connection.close()
    finally:
        if os.environ.get("BENCH_SKIP_SERVICES") != "1":
            services("stop")
    print(f"wall: mentions={MENTIONS} slowest_ms={slowest:.1f} queries={most_queries}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
