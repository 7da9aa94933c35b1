"""Ingest: how many mentions a second the real ingest path stores, against COPY.

    .venv/bin/python bench/ingest.py          (or `make bench`, which runs every bench/*.py)

The real path is `listening.services.mention_ingest_batch(source_id=..., fetched=batch)`,
timed end to end: bound and enrich (VADER sentiment, py3langid language), match the
enabled alert rules, COPY into a staging table then one INSERT ... SELECT ... ON CONFLICT
DO NOTHING, move the source's cursor, join or raise alerts, publish the live event (its
render and `group_send` after commit included). Batches of 100 and of 1,000 mentions,
each with 10 % re-fetches of mentions already stored (dropped by ON CONFLICT). The texts
are the demo night (listening/demo/superbowl.jsonl) cycled with fresh ids; the rules are
the demo room's five (a spike, a crisis, a sentiment, an influence and a keyword rule).

Measured in the same rounds, so that load from elsewhere on the machine falls on every
figure alike (each round runs one batch of each step, in alternating order):

    full     services.ingest_pages(...): BENCH_PIPELINE_PAGES (3) batches as one poll of
             several pages stores them (what source_poll runs): batch n + 1 is
             enriched on a helper thread while batch n is stored    -> mentions_per_s
    serial   mention_ingest_batch(...) end to end, one batch at a time, timed by part:
             enrich / store / cases / push (see Parts)              -> split:
    enrich   services.mentions_prepare(...) only: no database             -> enriched_per_s
    insert   services._insert(rows) in transaction.atomic(): the DB part  -> insert_rows_per_s
    copy     the baseline: COPY listening_mention (...) FROM STDIN of the same prepared
             rows with fresh external ids (no conflicts), into the same table, one
             transaction per batch, serialised with the same _copy_value  -> copy_rows_per_s

Rates count every mention handed in, duplicates included (the issue's "mentions in
batches / seconds"); `stored` says how many rows were new. ratio = mentions_per_s /
copy_rows_per_s (the whole path against bare COPY); db_ratio = insert_rows_per_s /
copy_rows_per_s (like for like: the database part of ingest against bare COPY).
bench_cpu / pg_cpu are the CPU seconds this process and its PostgreSQL backend spent per
step; others_cpu is what the rest of the machine used meanwhile (CPUs busy on average).

Runs on its own after `make test` has set up the venv: makes sure PostgreSQL and Redis
answer (scripts/services.sh up bench-ingest), and uses its own database
(warroom_bench_ingest, emptied with TRUNCATE at the start so runs compare), Redis database
9 and channel prefix. Override with BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_ROUNDS
(e.g. "100:50,1000:20": batch size and number of rounds) and BENCH_PHASE_SECONDS (a size
stops after the round that crosses it). The last line is the summary for batches of 1,000:
    ingest: batch=1000 mentions_per_s=<x> copy_rows_per_s=<y> ratio=<x/y> enriched_per_s=<z>
"""

import functools
import io
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import common  # noqa: E402  (bench/common.py, beside this script)
from common import ROOT, cpu_seconds, log, machine_busy_seconds  # noqa: E402

sys.path.insert(0, str(ROOT))
PYTHON = common.PYTHON
CORPUS = ROOT / "listening" / "demo" / "superbowl.jsonl"

# db 0: make run, 1: make test, 3: fanout, 9: ingest, 10: queue, 11: publish, 12: fire, 13: wall
ENV = common.bench_env(name="ingest", redis_db=9)
DATABASE_URL, REDIS_URL, CHANNEL_PREFIX = ENV["DATABASE_URL"], ENV["REDIS_URL"], ENV["CHANNEL_PREFIX"]
SERVICES_TAG = "bench-ingest"  # services.sh stops only what was started under this tag
ROUNDS = [
    tuple(int(n) for n in pair.split(":"))
    for pair in os.environ.get("BENCH_ROUNDS", "100:50,1000:20").split(",")
]
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", "240"))
DUPLICATE_SHARE = 0.10
PIPELINE_PAGES = int(os.environ.get("BENCH_PIPELINE_PAGES", "3"))  # pages per poll in the full (pipelined) step
GOAL_RATIO = 0.5
GOAL_ENRICHED = 2000
SEED = 20260208

# The demo room's rules (room/management/commands/seed_demo.py), as a brand would set them.
RULES = (
    {"name": "Blackout spike", "kind": "spike", "query": 'blackout OR "lights out" OR "power outage" OR outage',
     "priority": "P2", "spike_window_minutes": 2, "spike_baseline_minutes": 20, "spike_factor": 3, "spike_min_count": 15},
    {"name": "Safety scare", "kind": "crisis",
     "query": '"allergic reaction" OR peanut* OR "got sick" OR recall OR hospital OR ER', "open_case": True},
    {"name": "Angry customers", "kind": "sentiment", "query": "", "sentiment_at_most": -0.6, "priority": "P2",
     "open_case": True},
    {"name": "Big voices", "kind": "influence", "query": "", "min_followers": 1_000_000, "priority": "P2"},
    {"name": "Our ad", "kind": "keyword", "query": '#Crunchwave OR @Crunchwave OR "crunchwave ad"', "priority": "P4",
     "alert_room": False},
)

os.environ.update(ENV)  # before django.setup(): settings read them once

services = functools.partial(common.services, tag=SERVICES_TAG, env=ENV, name="ingest")
migrate = functools.partial(common.migrate, env=ENV, name="ingest")


# --- set-up in the bench database ------------------------------------------------------


def reset_state():
    """Empty what earlier runs left (mentions, alerts, rules, sources, live events, the
    audit log of this bench database) and the channel-layer keys under the bench prefix;
    then the demo source and the demo rules. Returns the source."""
    import redis

    from listening import services
    from listening.models import Source

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{CHANNEL_PREFIX}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    common.truncate("listening_alert_mentions", "listening_alert", "listening_mention", "listening_readusage",
        "listening_alertrule", "listening_source", "warroom_liveevent", "warroom_auditentry")
    source = Source.objects.create(name="Super Bowl night (ingest bench)", kind=Source.Kind.DEMO, query="speed=10")
    for rule in RULES:
        services.rule_create(user=None, **rule)
    return source


# --- mentions ---------------------------------------------------------------------------


def load_corpus() -> list[dict]:
    lines = []
    for raw in CORPUS.read_bytes().split(b"\n"):  # \n only: U+2028 inside a post is not a line break
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str) and isinstance(obj.get("id"), str):
            lines.append(obj)
    if not lines:
        raise SystemExit(f"ingest: no usable line in {CORPUS}")
    return lines


class Feed:
    """The demo night cycled with fresh ids, as an adapter would hand it over; remembers
    what was stored so that a batch can re-fetch some of it."""

    def __init__(self, corpus: list[dict]):
        self.corpus = corpus
        self.position = 0
        self.serial = 0
        self.stored = []  # FetchedMention already in listening_mention
        self.rng = random.Random(SEED)

    def fresh(self, count: int):
        from listening.adapters import FetchedMention

        now = datetime.now(timezone.utc)
        out = []
        for _ in range(count):
            line = self.corpus[self.position % len(self.corpus)]
            self.position += 1
            self.serial += 1
            out.append(FetchedMention(
                external_id=f"{line['id']}~b{self.serial}",
                text=line["text"],
                posted_at=now - timedelta(seconds=self.rng.uniform(0, 60)),  # posted in the minute before the poll
                author_handle=line.get("handle", ""),
                author_name=line.get("name", ""),
                author_followers=line.get("followers", 0),
                lang=line.get("lang", ""),
                in_reply_to=line.get("reply_to", ""),
            ))
        return out

    def batch(self, size: int) -> tuple[list, list, int]:
        """(batch, its fresh mentions, duplicates): 10 % re-fetches of stored mentions, shuffled in."""
        duplicates = min(round(size * DUPLICATE_SHARE), len(self.stored))
        fresh = self.fresh(size - duplicates)
        batch = fresh + self.rng.sample(self.stored, duplicates)
        self.rng.shuffle(batch)
        return batch, fresh, duplicates

    def fresh_ids(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            self.serial += 1
            ids.append(f"copy~b{self.serial}")
        return ids


# --- the steps --------------------------------------------------------------------------


@dataclass
class Tally:
    """One step at one batch size, summed over its rounds."""

    mentions: int = 0
    stored: int = 0
    seconds: float = 0.0
    bench_cpu: float = 0.0
    pg_cpu: float = 0.0
    extra: dict = field(default_factory=dict)

    def rate(self) -> float:
        return self.mentions / self.seconds if self.seconds else float("nan")


class Meter:
    """Wall time, this process's CPU and its PostgreSQL backend's CPU around a step."""

    def __init__(self, tally: Tally, pg_pid: int):
        self.tally, self.pg_pid = tally, pg_pid

    def __enter__(self):
        self.cpu, self.pg = cpu_seconds(), cpu_seconds(self.pg_pid)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.tally.seconds += time.perf_counter() - self.start
        self.tally.bench_cpu += cpu_seconds() - self.cpu
        self.tally.pg_cpu += cpu_seconds(self.pg_pid) - self.pg


class Parts:
    """Times the parts of one mention_ingest_batch, by wrapping (in this process only) the
    functions that do them: enrich = mentions_prepare; cases = batch_stored (rollups, thread
    joins, alerts and their cases, routing, scenarios) less its pushes; push = the live
    events (the feed's rendered rows, the cases' events: insert under the allocation lock,
    hand-off to the sender); store = the rest (source lock, staging COPY, INSERT, cursor,
    commit)."""

    def __init__(self):
        import contextlib

        from listening import services
        from warroom import live

        self.tally = None
        self.depth = 0
        self.contextlib = contextlib
        services.mentions_prepare = self.timed(services.mentions_prepare, "enrich")
        services.batch_stored.receiver = self.timed(services.batch_stored.receiver, "batch_stored")
        for name in ("publish", "publish_many"):
            setattr(live, name, self.timed(getattr(live, name), "push", outermost=True))
        services.mentions_publish = self.timed(services.mentions_publish, "push", outermost=True)

    def timed(self, function, part: str, outermost: bool = False):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if self.tally is None or (outermost and self.depth):
                return function(*args, **kwargs)
            self.depth += outermost
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= outermost
                self.tally.extra[part] = self.tally.extra.get(part, 0.0) + time.perf_counter() - started
        return wrapper

    def counting(self, tally: "Tally"):
        @self.contextlib.contextmanager
        def scope():
            self.tally = tally
            try:
                yield
            finally:
                self.tally = None
        return scope()


class Bench:
    def __init__(self, source, feed: Feed):
        from django.db import connection

        from listening import services

        self.services = services
        self.source = source
        self.feed = feed
        self.rules = services.rules_compiled()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pg_pid = cursor.fetchone()[0]
        self.columns = ", ".join(services.COLUMNS)
        self.parts = Parts()

    def full(self, size: int, tally: Tally) -> None:
        """PIPELINE_PAGES batches as one poll of several pages stores them (services.ingest_pages,
        what source_poll runs): batch n + 1 enriched on a helper thread while n is stored."""
        from listening.adapters import FetchResult

        batches = [self.feed.batch(size) for _ in range(PIPELINE_PAGES)]
        pages = [FetchResult(mentions=batch, cursor={"bench": self.feed.serial}, more=index < len(batches) - 1)
                 for index, (batch, _, _) in enumerate(batches)]
        with Meter(tally, self.pg_pid):
            results = self.services.ingest_pages(source=self.source, pages=iter(pages))
        tally.mentions += sum(len(batch) for batch, _, _ in batches)
        stored, fresh = sum(r.stored for r in results), sum(len(f) for _, f, _ in batches)
        tally.stored += stored
        if stored != fresh:
            log(f"ingest: full path stored {stored} of {fresh} new mentions")
        for _, batch_fresh, _ in batches:
            self.feed.stored.extend(batch_fresh)

    def serial(self, size: int, tally: Tally) -> None:
        """One batch through mention_ingest_batch, timed by part (enrich, store, cases, push)."""
        batch, fresh, _ = self.feed.batch(size)
        with Meter(tally, self.pg_pid), self.parts.counting(tally):
            result = self.services.mention_ingest_batch(source_id=self.source.id, fetched=batch)
        tally.mentions += len(batch)
        tally.stored += result.stored
        if result.stored != len(fresh):
            log(f"ingest: serial path stored {result.stored} of {len(fresh)} new mentions")
        self.feed.stored.extend(fresh)

    def enrich(self, size: int, tally: Tally) -> tuple[list[dict], list]:
        batch, fresh, _ = self.feed.batch(size)
        with Meter(tally, self.pg_pid):
            prepared = self.services.mentions_prepare(source=self.source, fetched=batch, rules=self.rules)
        tally.mentions += len(batch)
        tally.extra["matched"] = tally.extra.get("matched", 0) + sum(1 for row in prepared.rows if row["rule_ids"])
        return prepared.rows, fresh

    def insert(self, rows: list[dict], fresh: list, tally: Tally) -> None:
        from django.db import transaction

        with Meter(tally, self.pg_pid):
            with transaction.atomic():
                inserted = self.services._insert(rows)
        tally.mentions += len(rows)
        tally.stored += len(inserted)
        if len(inserted) != len(fresh):
            log(f"ingest: _insert stored {len(inserted)} of {len(fresh)} new rows")
        self.feed.stored.extend(fresh)

    def copy(self, rows: list[dict], tally: Tally) -> None:
        """The same prepared rows with fresh external ids, COPY'd straight into the table."""
        from django.db import connection, transaction

        copy_value, columns = self.services._copy_value, self.services.COLUMNS
        rows = [{**row, "external_id": external_id} for row, external_id in zip(rows, self.feed.fresh_ids(len(rows)))]
        with Meter(tally, self.pg_pid):
            with transaction.atomic():
                started = time.perf_counter()
                buffer = io.StringIO()
                for row in rows:
                    buffer.write("\t".join(copy_value(row[c]) for c in columns))
                    buffer.write("\n")
                buffer.seek(0)
                tally.extra["serialise_s"] = tally.extra.get("serialise_s", 0.0) + time.perf_counter() - started
                with connection.cursor() as cursor, cursor.connection.cursor() as raw:
                    raw.copy_expert(f"COPY listening_mention ({self.columns}) FROM STDIN", buffer)
        tally.mentions += len(rows)
        tally.stored += len(rows)

    def round(self, size: int, index: int, tallies: dict[str, Tally]) -> None:
        """One batch of each step; the order alternates so no step always follows the same one."""
        if index % 2 == 0:
            self.full(size, tallies["full"])
            self.serial(size, tallies["serial"])
            rows, fresh = self.enrich(size, tallies["enrich"])
            self.insert(rows, fresh, tallies["insert"])
            self.copy(rows, tallies["copy"])
        else:
            rows, fresh = self.enrich(size, tallies["enrich"])
            self.copy(rows, tallies["copy"])
            self.insert(rows, fresh, tallies["insert"])
            self.serial(size, tallies["serial"])
            self.full(size, tallies["full"])


def measure(bench: Bench, size: int, rounds: int) -> tuple[dict[str, Tally], int, float]:
    tallies = {name: Tally() for name in ("full", "serial", "enrich", "insert", "copy")}
    machine, wall = machine_busy_seconds(), time.monotonic()
    done = 0
    for index in range(rounds):
        bench.round(size, index, tallies)
        done += 1
        if time.monotonic() - wall > PHASE_SECONDS and done < rounds:
            log(f"ingest: batch={size} stopped after {done} of {rounds} rounds ({PHASE_SECONDS:g} s limit)")
            break
    elapsed = time.monotonic() - wall
    own = sum(t.bench_cpu + t.pg_cpu for t in tallies.values())
    others = (machine_busy_seconds() - machine - own) / elapsed
    return tallies, done, others


def report(size: int, tallies: dict[str, Tally], rounds: int, others: float) -> dict[str, float]:
    full, serial, enrich, insert, copy = (tallies[name] for name in ("full", "serial", "enrich", "insert", "copy"))

    def usage(t: Tally) -> str:
        return f"seconds={t.seconds:.2f} bench_cpu={t.bench_cpu:.2f} pg_cpu={t.pg_cpu:.2f}"

    def ms_per_1000(t: Tally) -> float:
        return t.seconds / t.mentions * 1e6 if t.mentions else float("nan")

    print(f"full: batch={size} batches={rounds} mentions={full.mentions} stored={full.stored}"
          f" mentions_per_s={full.rate():.0f} {usage(full)}", flush=True)
    print(f"enrich: batch={size} mentions={enrich.mentions} matched={enrich.extra.get('matched', 0)}"
          f" enriched_per_s={enrich.rate():.0f} {usage(enrich)}", flush=True)
    print(f"insert: batch={size} rows={insert.mentions} stored={insert.stored}"
          f" insert_rows_per_s={insert.rate():.0f} {usage(insert)}", flush=True)
    print(f"copy: batch={size} rows={copy.mentions} copy_rows_per_s={copy.rate():.0f} {usage(copy)}"
          f" serialise_s={copy.extra.get('serialise_s', 0.0):.2f}", flush=True)
    print(f"serial: batch={size} mentions={serial.mentions} stored={serial.stored}"
          f" mentions_per_s={serial.rate():.0f} {usage(serial)} (one batch at a time, no pipeline)", flush=True)
    part = {name: serial.extra.get(name, 0.0) / serial.mentions * 1e6 if serial.mentions else float("nan")
            for name in ("enrich", "batch_stored", "push")}
    cases = part["batch_stored"] - part["push"]
    store = ms_per_1000(serial) - part["enrich"] - part["batch_stored"]
    print(f"split: batch={size} ms_per_1000_mentions: serial={ms_per_1000(serial):.0f} = enrich {part['enrich']:.0f}"
          f" + store {store:.0f} + cases {cases:.0f} + push {part['push']:.0f}; pipelined full={ms_per_1000(full):.0f}"
          f" ({PIPELINE_PAGES} pages a poll); copy={ms_per_1000(copy):.0f} cpus={os.cpu_count()}"
          f" others_cpu={others:.2f}", flush=True)
    figures = {
        "mentions_per_s": full.rate(),
        "copy_rows_per_s": copy.rate(),
        "insert_rows_per_s": insert.rate(),
        "enriched_per_s": enrich.rate(),
    }
    figures["ratio"] = figures["mentions_per_s"] / figures["copy_rows_per_s"]
    figures["db_ratio"] = figures["insert_rows_per_s"] / figures["copy_rows_per_s"]
    print(f"ratios: batch={size} mentions_per_s={figures['mentions_per_s']:.0f}"
          f" copy_rows_per_s={figures['copy_rows_per_s']:.0f} ratio={figures['ratio']:.2f}"
          f" db_ratio={figures['db_ratio']:.2f} enriched_per_s={figures['enriched_per_s']:.0f}", flush=True)
    return figures


def main() -> int:
    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    services("up")
    try:
        migrate()
        import django

        django.setup()
        from django.db import connection

        source = reset_state()
        feed = Feed(load_corpus())
        bench = Bench(source, feed)
        print(f"ingest: corpus={len(feed.corpus)} lines rules={len(bench.rules)} duplicates={DUPLICATE_SHARE:.0%}"
              f" rounds={','.join(f'{s}x{n}' for s, n in ROUNDS)} cpus={os.cpu_count()}"
              f" goals: ratio>={GOAL_RATIO} enriched_per_s>={GOAL_ENRICHED}", flush=True)
        log("ingest: warming up (models, templates, the staging table, mentions to re-fetch)")
        measure(bench, 100, 2)
        results = {}
        for size, rounds in ROUNDS:
            log(f"ingest: batch={size}, {rounds} rounds of full / serial / enrich / insert / copy")
            tallies, done, others = measure(bench, size, rounds)
            results[size] = report(size, tallies, done, others)
        connection.close()
    finally:
        services("stop")
    size = 1000 if 1000 in results else max(results)
    figures = results[size]
    print(f"ingest-db: batch={size} insert_rows_per_s={figures['insert_rows_per_s']:.0f}"
          f" copy_rows_per_s={figures['copy_rows_per_s']:.0f} ratio={figures['db_ratio']:.2f}")
    print(f"ingest: batch={size} mentions_per_s={figures['mentions_per_s']:.0f} copy_rows_per_s={figures['copy_rows_per_s']:.0f}"
          f" ratio={figures['ratio']:.2f} enriched_per_s={figures['enriched_per_s']:.0f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("ingest: interrupted")
        sys.exit(130)
