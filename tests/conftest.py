"""Shared fixtures: users per role, and the real processes of the room (daphne web
servers, Celery workers) started against the test database and Redis database 1."""

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

from warroom import roles

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(session, config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session, where async_to_sync and pytest-asyncio cannot run."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))


@pytest.fixture(scope="session", autouse=True)
def audit_log_flushable_between_tests():
    """pytest-django empties every table between transactional tests with one TRUNCATE,
    which the audit log's trigger refuses, as it must everywhere else. The suite's own
    flush lifts that trigger for its statement only, inside the flush's transaction, so
    no other connection ever sees the audit log without it."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        trigger = "ALTER TABLE warroom_auditentry {} TRIGGER warroom_audit_no_truncate"
        return flush(self, [trigger.format("DISABLE"), *sql_list, trigger.format("ENABLE")])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


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
        user = get_user_model().objects.create_user(username=name, password=PASSWORD, first_name=name.title(), **fields)
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


@pytest.fixture
def room_server(start_server):
    return start_server()


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
