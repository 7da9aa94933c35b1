"""What the benchmarks in bench/ set up the same way: the services `make run` starts,
migrations of the benchmark's own database, progress logging, and CPU accounting."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent

# A script here runs with bench/ first on the import path, where bench/queue.py would
# shadow the standard library's queue (which asgiref, redis and Celery import). Every
# script imports this module first; from then on bench/ is off the path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
PYTHON = ROOT / ".venv" / "bin" / "python"


def log(*args) -> None:
    """Progress goes to stderr; stdout carries only the figures."""
    print(*args, file=sys.stderr, flush=True)


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (Linux /proc); 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def services(action: str, *, tag: str, env: dict, name: str) -> None:
    """scripts/services.sh up|stop under the benchmark's own tag."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), action, tag],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
    )
    for line in (result.stdout + result.stderr).splitlines():
        log(line)
    if result.returncode != 0 and action == "up":
        raise SystemExit(f"{name}: services.sh up failed")


def migrate(*, env: dict, name: str) -> None:
    """Bring the bench database to the current schema. It holds nothing but bench data, so
    when migrating fails (migrations rewritten since the last run) it is made anew."""
    command = [str(PYTHON), "manage.py", "migrate", "--noinput"]
    run_env = {**os.environ, **env}
    result = subprocess.run(command, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "bench" in urlparse(env["DATABASE_URL"]).path:
        log(f"{name}: migrate failed on the bench database; creating it anew")
        recreate_database(env["DATABASE_URL"])
        result = subprocess.run(command, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        log(result.stdout, result.stderr)
        raise SystemExit(f"{name}: migrate failed")


def recreate_database(database_url: str) -> None:
    url = urlparse(database_url)
    name, owner = url.path.lstrip("/"), url.username or "warroom"
    admin = ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run([*admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True, timeout=60)
    subprocess.run([*admin, f'CREATE DATABASE "{name}" OWNER "{owner}"'], check=True, timeout=60)


def bench_env(*, name: str, redis_db: int, database: str = "", **extra: str) -> dict:
    """The environment a benchmark runs Django under: its own database, Redis database and
    channel prefix (BENCH_DATABASE_URL / BENCH_REDIS_URL override), DEBUG off (DEBUG keeps
    every query in memory), a throwaway secret key."""
    import secrets

    redis_url = os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    return {
        "DJANGO_SETTINGS_MODULE": "warroom.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL",
                                       f"postgres://warroom@127.0.0.1:55432/{database or 'warroom_bench_' + name}"),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_PREFIX": f"warroom-bench-{name}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def wait_until(condition, what: str, *, timeout: float, name: str, interval: float = 0.02):
    """tests.support.wait_until for a benchmark: giving up ends the run with the reason."""
    from tests.support import GaveUp
    from tests.support import wait_until as poll

    try:
        return poll(condition, what, timeout=timeout, interval=interval)
    except GaveUp as error:
        raise SystemExit(f"{name}: {error}") from None


def truncate(*tables: str) -> None:
    """Empty `tables` (RESTART IDENTITY CASCADE) in the bench database, the audit log
    included. The audit log refuses TRUNCATE (warroom migration 0004's trigger), as it must
    everywhere else; a benchmark's own database holds nothing worth keeping, so here the
    trigger is lifted for this one statement, inside its transaction (ALTER TABLE takes an
    exclusive lock to commit, so no other connection sees the log without its guard).
    Refuses to run on a database whose name does not say "bench"."""
    from django.db import connection, transaction

    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit(f"bench: refusing to TRUNCATE {connection.settings_dict['NAME']}, not a bench database")
    names = ", ".join(connection.ops.quote_name(table) for table in tables)
    guard = "ALTER TABLE warroom_auditentry {} TRIGGER warroom_audit_no_truncate"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(guard.format("DISABLE"))
        cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        cursor.execute(guard.format("ENABLE"))
