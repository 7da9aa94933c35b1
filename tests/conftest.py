"""Shared fixtures: users per role, and the real processes of the room (daphne web
servers, Celery workers) started against the test database and Redis database 1."""

import hashlib
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group
from django.db.backends.postgresql.creation import DatabaseCreation

from warroom import roles

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(session, config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session, where async_to_sync and pytest-asyncio cannot run."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))


@pytest.fixture(scope="session", autouse=True)
def audit_log_flushable_between_tests():
    """pytest-django empties every table between transactional tests (a flush), which the
    audit log's triggers refuse, as they must everywhere else. The suite's own flush lifts
    them for its statements only, inside the flush's transaction, so no other connection
    ever sees the audit log without them; and it empties only the tables a test wrote."""
    from django.core.management.commands import flush as flush_command
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        trigger = "ALTER TABLE warroom_auditentry {} TRIGGER warroom_audit_no_truncate"
        return flush(self, [trigger.format("DISABLE"), *sql_list, trigger.format("ENABLE")])

    sql_flush = DatabaseOperations.sql_flush
    triggered: dict[str, list[str]] = {}  # database -> tables with triggers of our own

    def sql_flush_what_was_written(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        """DELETE from the tables that hold rows, found in one query: TRUNCATE makes new
        files for every table and index named, which costs ten times as much for the few
        rows a test writes. Foreign keys are checked at the end (Django makes them
        deferrable); the tables' own triggers (the audit log's append-only guard) are lifted
        inside the flush's transaction only. Content types and permissions stay:
        post_migrate would make the same rows again after every test."""
        tables = [table for table in tables if table not in KEEP_BETWEEN_TESTS]
        if reset_sequences or not tables:
            return sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        quote = self.quote_name
        name = self.connection.settings_dict["NAME"]
        with self.connection.cursor() as cursor:
            if name not in triggered:
                cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
                triggered[name] = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                " UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in tables), tables
            )
            written = [row[0] for row in cursor.fetchall()]
        guarded = [table for table in written if table in triggered[name]]
        return [
            "SET CONSTRAINTS ALL DEFERRED",
            *(f"ALTER TABLE {quote(table)} DISABLE TRIGGER USER" for table in guarded),
            *(f"DELETE FROM {quote(table)}" for table in written),
            *(f"ALTER TABLE {quote(table)} ENABLE TRIGGER USER" for table in guarded),
            "SET CONSTRAINTS ALL IMMEDIATE",
        ]

    def no_post_migrate(*args, **kwargs):
        """The flush's post_migrate would only make content types and permissions, which stay."""

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush_what_was_written)
        patch.setattr(flush_command, "emit_post_migrate_signal", no_post_migrate)
        yield


KEEP_BETWEEN_TESTS = {"django_content_type", "auth_permission"}


# --- the test database, made from a template ----------------------------------------------
# Migrating an empty database takes most of a minute on the 2-core machine. The first run
# migrates test_<db> as Django does, then copies it to test_<db>_tpl_<fingerprint> (of every
# migration file and the installed apps); later runs drop any stale test database, even
# with sessions still on it (a killed run's daphne), and CREATE DATABASE ... TEMPLATE.
# A changed migration changes the fingerprint: the stale template is dropped, and the next
# run migrates afresh.


def migrations_fingerprint() -> str:
    import django
    from django.apps import apps

    digest = hashlib.sha256(f"{django.__version__} {settings.INSTALLED_APPS}".encode())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _force_drop(self, cursor, name: str) -> None:
    cursor.execute(f"DROP DATABASE IF EXISTS {self.connection.ops.quote_name(name)} WITH (FORCE)")


def _create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
    if keepdb:
        return _django_create_test_db(self, verbosity, autoclobber, serialize, keepdb)
    name = self._get_test_db_name()
    template = f"{name[:40]}_tpl_{migrations_fingerprint()}"
    quote = self.connection.ops.quote_name
    with self._nodb_cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{name[:40]}_tpl_%"])
        templates = {row[0] for row in cursor.fetchall()}
        for stale in templates - {template}:
            _force_drop(self, cursor, stale)
        _force_drop(self, cursor, name)
        if template in templates:
            if verbosity >= 1:
                self.log(f"Creating test database {name} from {template}...")
            cursor.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}")
    if template not in templates:
        _django_create_test_db(self, verbosity, True, serialize, keepdb)
        self.connection.close()
        with self._nodb_cursor() as cursor:
            try:
                cursor.execute(f"CREATE DATABASE {quote(template)} TEMPLATE {quote(name)}")
            except Exception as error:  # noqa: BLE001 - the next run migrates again; this one goes on
                self.log(f"could not keep {name} as a template: {error}")
        return name
    self.connection.close()
    settings.DATABASES[self.connection.alias]["NAME"] = name
    self.connection.settings_dict["NAME"] = name
    if serialize:
        self.connection._test_serialized_contents = self.serialize_db_to_string()
    self.connection.ensure_connection()
    return name


def _destroy_test_db(self, test_database_name, verbosity):
    """Django's DROP DATABASE, forced: a server a failed test left running must not keep it."""
    with self._nodb_cursor() as cursor:
        _force_drop(self, cursor, test_database_name)


_django_create_test_db = DatabaseCreation.create_test_db


def pytest_configure(config):
    """Every test database of the run is made by _create_test_db and dropped by _destroy_test_db."""
    DatabaseCreation.create_test_db = _create_test_db
    DatabaseCreation._destroy_test_db = _destroy_test_db


_password_hash: list[str] = []


def password_hash() -> str:
    """PASSWORD hashed with the room's default hasher, once per test session."""
    if not _password_hash:
        from django.contrib.auth.hashers import make_password

        _password_hash.append(make_password(PASSWORD))
    return _password_hash[0]


@pytest.fixture
def make_user(db):
    """make_user(role, username=...) -> a user holding that role (or none with role=None)."""
    from django.contrib.auth import get_user_model

    created = 0

    def make(role: str | None, username: str | None = None, **fields):
        nonlocal created
        created += 1
        roles.ensure_groups()
        name = username or f"{(role or 'norole').replace(' ', '_')}{created}"
        users = get_user_model()._default_manager
        if "email" in fields:
            fields["email"] = users.normalize_email(fields["email"])
        # PASSWORD hashed once per session (PBKDF2 costs a good part of a second here), with
        # the room's own hasher: the login form and the servers under test check it as usual.
        user = users.create(username=name, password=password_hash(), first_name=name.title(), **fields)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra) -> dict:
    """The environment of a process of the room under test: the test database, Redis db 1."""
    db = settings.DATABASES["default"]
    url = f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # only the test process itself runs Playwright's loop
    env.update(
        DATABASE_URL=url,
        REDIS_URL=settings.REDIS_URL,
        CHANNEL_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        DEBUG="1",
        PYTHONUNBUFFERED="1",
        LIVE_SYNC_SECONDS="1",
    )
    env.update(extra)
    return env


class Server:
    """A daphne process serving the room, as `make run` starts it."""

    def __init__(self, port: int, log: Path, **env):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "warroom.asgi:application"],
                cwd=ROOT, env=child_env(**self.env), stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log.read_text()[-2000:]}")
            try:
                requests.get(self.url + "/login/", timeout=5)
                return self
            except requests.RequestException:  # not listening yet, or slow to answer its first request
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer on {self.url}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def start_server(transactional_db, artifacts):
    """start_server() -> a running daphne on a free port; stopped at the end of the test."""
    servers: list[Server] = []

    def start(port: int | None = None) -> Server:
        server = Server(port or free_port(), artifacts / f"daphne-{len(servers)}.log")
        servers.append(server)  # recorded before it starts, so a failed start is still stopped
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def shared_room_server(django_db_setup, artifacts):
    """shared_room_server() -> the session's daphne, started on first use (and again if a
    test stopped it). Starting one costs a few seconds on the 2-core machine, and most
    browser tests only need a room to click in."""
    server: Server | None = None

    def running() -> Server:
        nonlocal server
        if server is None or server.process is None or server.process.poll() is not None:
            if server is not None:
                server.kill()
            server = Server(free_port(), artifacts / "daphne-shared.log")
            server.start()
        return server

    yield running
    if server is not None:
        server.stop()


@pytest.fixture
def room_server(transactional_db, shared_room_server):
    """A daphne serving the room, shared by every test of the session that takes this
    fixture: the database is emptied between tests as usual, and the server keeps no
    state of its own that a test could see (sessions, presence, claims and events live
    in PostgreSQL and Redis). A test that stops, restarts or configures its server (an
    environment of its own) takes start_server instead."""
    return shared_room_server()


@contextmanager
def celery_worker(artifacts: Path, name: str = "w1", concurrency: int = 1, **env):
    """A real Celery worker process on the test broker; waits until it answers a ping."""
    from warroom.celery import app

    log = open(artifacts / f"celery-{name}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "warroom", "worker", "--loglevel", "INFO",
         "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("celery worker exited; see test-artifacts")
            replies = app.control.ping(timeout=0.5)
            if any(name in reply_name for reply in replies for reply_name in reply):
                break
        else:
            raise RuntimeError("celery worker did not answer a ping")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def worker_inspect(*names: str, timeout: float = 2.0):
    """Celery's inspect, addressed to the named test workers (celery_worker's `name@%h`): it
    returns as soon as each has answered instead of waiting out the timeout."""
    from warroom.celery import app

    host = socket.gethostname()
    return app.control.inspect(timeout=timeout, destination=[f"{name}@{host}" for name in names])


def manage(*args: str, check: bool = True, **env) -> subprocess.CompletedProcess:
    """Run a management command in a separate process against the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(**env), capture_output=True, text=True,
        check=check, timeout=60,
    )


@contextmanager
def celery_beat(artifacts: Path, schedule_dir: Path, **env):
    """A real Celery beat process (the schedule in settings), writing its state to schedule_dir."""
    log = open(artifacts / "celery-beat.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "warroom", "beat", "--loglevel", "INFO",
         "--schedule", str(schedule_dir / "celerybeat-schedule")],
        cwd=ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture
def nobody_present():
    """Nobody is in the room (presence lives in Redis, which outlives a test): notices and
    links for people on deck go to everyone who asked for them. Cleared again afterwards."""
    from warroom import presence

    expiry, who = presence._keys()
    presence._redis().delete(expiry, who)
    yield
    presence._redis().delete(expiry, who)
