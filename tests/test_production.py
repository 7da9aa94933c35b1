"""The production shape, run: the project installed the way the Dockerfile installs it and
booted with production settings, as a fresh clone would be.

A copy of the tracked files (what `git clone` gives) gets a fresh virtualenv in .run/ and
the Dockerfile's own build steps (`pip install .`, no extras; the build-time
collectstatic). A database and its two roles are made by docker-compose's postgres init
script; `migrate` runs as the owner, everything else as the app role. Then, with DEBUG
off, a random SECRET_KEY, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS and the TLS proxy's headers:
the deployment checks, the demo users, and the Procfile's web, worker and beat started
from that virtualenv. Every user signs in over HTTP with X-Forwarded-Proto: https, loads
every page of the role matrix (the URLs and roles tests/warroom/test_views.py walks),
the room socket opens with the site's Origin and carries a push, and /healthz reports
the database, Redis and a worker up. pip's cache is left on, so the install takes
seconds once `make test` has installed the same wheels into .venv."""

import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.urls import Resolver404, resolve, reverse

from tests import databases
from tests.conftest import free_port
from tests.support import WAIT, wait_until
from tests.test_compose import procfile, settings_variables
from tests.warroom.test_views import POST_ONLY, URL_ARGS, room_url_names
from warroom import roles

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".run" / "production-install"
HOST = "warroom.example.com"
ORIGIN = f"https://{HOST}"
# Build steps of the Dockerfile run here; the others make system users and set owners.
BUILD_STEPS = re.compile(r"\bpip install\b|\bmanage\.py\b")
# The image turns pip's cache off to keep its layers small; here the cache is what keeps
# this test fast (`make test` filled it installing the same wheels into .venv).
NOT_HERE = {"PIP_NO_CACHE_DIR"}


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def dockerfile_steps() -> list[tuple[dict[str, str], str]]:
    """Each RUN of the Dockerfile with the ENV set before it, in order."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current.strip())
        current = ""
    env: dict[str, str] = {}
    steps = []
    for line in lines:
        instruction, _, arguments = line.partition(" ")
        if instruction == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(arguments))
        elif instruction == "RUN":
            steps.append((dict(env), arguments))
    return steps


def base_env(venv: Path) -> dict[str, str]:
    """A clean environment: the fresh virtualenv first on PATH, pip's configuration for this
    machine's package index, and nothing of the suite's (no DEBUG, no DATABASE_URL...)."""
    read = settings_variables((ROOT / "warroom" / "settings.py").read_text())
    env = {
        key: value for key, value in os.environ.items()
        if key not in read and (key.startswith(("PIP_", "LC_")) or key in {"HOME", "USER", "LOGNAME", "LANG", "TMPDIR"})
    }
    env["PATH"] = f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(command: str, *, env: dict, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


class Browser:
    """A browser behind the TLS proxy: the proxy speaks plain HTTP to the room, names the
    public host, says the client used HTTPS and where it connects from. Cookies are kept by
    hand, since requests would not send Secure cookies over http://."""

    def __init__(self, base: str, client_address: str):
        self.base = base
        self.cookies: dict[str, str] = {}
        self.headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": client_address}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method == "POST":
            headers.update(Origin=ORIGIN, Referer=f"{ORIGIN}{path}", **{"X-CSRFToken": self.cookies.get("csrftoken", "")})
        response = requests.request(method, self.base + path, headers=headers, allow_redirects=False, timeout=60, **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response

    def sign_in(self, username: str, password: str) -> None:
        page = self.request("GET", "/login/")
        assert page.status_code == 200, f"/login/ answered {page.status_code} {page.headers.get('Location', '')}"
        assert "Secure" in page.headers.get("Set-Cookie", ""), "the CSRF cookie must be Secure in production"
        response = self.request("POST", "/login/", data={
            "username": username, "password": password, "csrfmiddlewaretoken": self.cookies["csrftoken"],
        })
        assert response.status_code == 302 and response.headers["Location"] == reverse("room"), (
            f"{username} could not sign in: {response.status_code} {response.text[:500]}"
        )


class Processes:
    """The Procfile's processes, each in its own process group, stopped at the end."""

    def __init__(self, *, cwd: Path, env: dict, logs: Path):
        self.cwd, self.env, self.logs = cwd, env, logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        line = " ".join(shlex.quote(word) if not word.startswith("${") else word for word in command)
        with open(self.logs / f"production-{name}.log", "wb") as log:
            process = subprocess.Popen(["sh", "-c", f"exec {line}"], cwd=self.cwd, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = process
        return process

    def alive(self, name: str) -> bool:
        return self.running[name].poll() is None

    def log(self, name: str) -> str:
        return (self.logs / f"production-{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def demo_users(database: str) -> dict[str, tuple[str, frozenset[str]]]:
    """username -> (password, roles held), from the logins seed_demo wrote and the database."""
    connection = databases.connect(urlparse(databases.superuser_url())._replace(path=f"/{database}").geturl())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.username, g.name FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id"
            " JOIN auth_group g ON g.id = ug.group_id"
        )
        held: dict[str, set[str]] = {}
        for username, group in cursor.fetchall():
            held.setdefault(username, set()).add(group)
    connection.close()
    logins = dict(line.split(" ", 1) for line in (WORK / "demo-logins.txt").read_text().splitlines() if line)
    return {username: (password, frozenset(held.get(username, ()))) for username, password in logins.items()}


def linked_pages(html: str) -> dict[str, str]:
    """url name -> a path of it that the page links to (how a page with an id is found)."""
    found = {}
    for href in re.findall(r'href="(/[^"#?]*)', html):
        try:
            match = resolve(href)
        except Resolver404:
            continue
        if match.url_name and match.kwargs:
            found.setdefault(match.url_name, href)
    return found


async def socket_carries_a_push(port: int, lead: Browser, text: str) -> str:
    """Open the room socket as the lead with the site's Origin, say hello, and see an
    announcement made over HTTP arrive on it."""
    from websockets.asyncio.client import connect

    cookie = "; ".join(f"{name}={value}" for name, value in lead.cookies.items())
    async with connect(f"ws://127.0.0.1:{port}/ws/room/", origin=ORIGIN,
                       additional_headers={"Cookie": cookie}, open_timeout=30) as socket:
        await socket.send(json.dumps({"type": "hello", "after": 0}))
        async with asyncio.timeout(WAIT):
            while not (await socket.recv()).startswith("<!--live verified="):
                pass
            answer = await asyncio.to_thread(lead.request, "POST", reverse("announce"), data={"text": text, "level": "info"})
            assert answer.status_code == 302, answer.text[:500]
            while text not in (message := await socket.recv()):
                pass
    return message


def test_a_fresh_install_boots_and_serves_with_production_settings(django_db_setup, artifacts):
    shutil.rmtree(WORK, ignore_errors=True)
    app_dir, venv = WORK / "app", WORK / "venv"
    for name in tracked_files():
        (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, app_dir / name)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = base_env(venv)

    # The image's build, step by step: pip install . (no extras), collectstatic.
    steps = [(step_env, command) for step_env, command in dockerfile_steps() if BUILD_STEPS.search(command)]
    assert [bool(re.search(r"pip install (--\S+ )*\.$", command)) for _, command in steps][:1] == [True]
    assert any("collectstatic" in command for _, command in steps)
    for step_env, command in steps:
        run(command, env={**env, **{k: v for k, v in step_env.items() if k not in NOT_HERE}}, cwd=app_dir)
    assert (app_dir / ".run" / "staticfiles").is_dir()
    python = str(venv / "bin" / "python")
    assert subprocess.run([python, "-c", "import yaml, daphne, celery"], env=env, timeout=60).returncode == 0
    test_only = subprocess.run([python, "-c", "import pytest"], env=env, capture_output=True, timeout=60)
    assert test_only.returncode != 0, "the test extra must not be installed"

    with databases.compose_database() as (database, owner, app):
        port = free_port()
        production = {
            **env,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": HOST,
            "CSRF_TRUSTED_ORIGINS": ORIGIN,
            "BEHIND_TLS_PROXY": "1",
            "DATABASE_URL": databases.url(user=app, database=database),
            "REDIS_URL": settings.REDIS_URL,
            "CHANNEL_PREFIX": f"warroom-production-{secrets.token_hex(4)}",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "WARROOM_HOST": "127.0.0.1",
            "WARROOM_PORT": str(port),
        }
        owner_url = databases.url(user=owner, database=database)
        migrated = run("python manage.py migrate --noinput", env={**production, "MIGRATE_DATABASE_URL": owner_url}, cwd=app_dir)
        assert f"Granted {app} the app's privileges" in migrated.stdout
        checked = run("python manage.py check --deploy --fail-level WARNING", env=production, cwd=app_dir)
        assert "System check identified no issues (0 silenced)." in checked.stdout, checked.stdout + checked.stderr
        run(f"python manage.py seed_demo --logins-file {shlex.quote(str(WORK / 'demo-logins.txt'))}", env=production, cwd=app_dir)

        processes = Processes(cwd=app_dir, env=production, logs=artifacts)
        try:
            for name, command in procfile().items():
                processes.start(name, command)
            base = f"http://127.0.0.1:{port}"

            def web_answers():
                assert processes.alive("web"), processes.log("web")
                try:
                    return requests.get(base + "/login/", headers={"Host": HOST, "X-Forwarded-Proto": "https"}, timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(web_answers, "daphne answers", interval=0.2)
            assert requests.get(base + "/login/", headers={"Host": HOST}, timeout=10, allow_redirects=False).status_code == 301, \
                "plain HTTP without the proxy's header is sent to HTTPS"

            users = demo_users(database)
            assert {role for _, held in users.values() for role in held} == set(roles.ALL)
            browsers = {}
            for n, (username, (password, _)) in enumerate(sorted(users.items())):
                browsers[username] = Browser(base, client_address=f"203.0.113.{n + 10}")
                browsers[username].sign_in(username, password)

            names = room_url_names()
            found: dict[str, str] = {}
            problems = []

            def load(username: str, name: str, path: str, expected: int) -> None:
                response = browsers[username].request("GET", path)
                if response.status_code != expected:
                    problems.append(f"{username} GET {path} ({name}): {response.status_code}, expected {expected}: {response.text[:200]!r}")
                elif response.status_code == 200 and "text/html" in response.headers.get("Content-Type", ""):
                    found.update({k: v for k, v in linked_pages(response.text).items() if k not in found})

            for username, (_, held) in users.items():
                for name in names:
                    if name not in POST_ONLY and not URL_ARGS.get(name):
                        load(username, name, reverse(name), 200 if held & roles.PAGE_ROLES[name] else 403)
            needing_ids = [name for name in names if URL_ARGS.get(name) and name not in POST_ONLY]
            for username, (_, held) in users.items():
                for name in needing_ids:
                    allowed = bool(held & roles.PAGE_ROLES[name])
                    if name in found:
                        load(username, name, found[name], 200 if allowed else 403)
                    else:  # no page links one yet: an id that exists nowhere, as the role matrix does
                        load(username, name, reverse(name, kwargs={arg: 987654321 for arg in URL_ARGS[name]}), 404 if allowed else 403)
            assert not problems, "\n".join(problems)
            assert "playbook_event" in found, "the demo playbook's page is linked from the playbooks index"

            lead = browsers[next(username for username, (_, held) in users.items() if roles.LEAD in held)]
            message = asyncio.run(socket_carries_a_push(port, lead, f"Production check {secrets.token_hex(3)}"))
            assert message.startswith("<!--live id=")

            def healthy():
                response = lead.request("GET", "/healthz")
                return response.status_code == 200 and response.json()
            health = wait_until(healthy, "/healthz reports everything up (a worker answers)", interval=0.5)
            assert health["status"] == "ok"
            assert {part for part, result in health["checks"].items() if result["ok"]} == {"database", "redis", "workers"}

            assert processes.alive("beat"), processes.log("beat")
            wait_until(lambda: list((app_dir / ".run").glob("celerybeat-schedule*")), "beat writes its schedule")
            assert processes.alive("worker") and processes.alive("web")
            connection = databases.connect(databases.superuser_url())
            with connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database])
                assert {row[0] for row in cursor.fetchall()} == {app}, "the room connects as the app role only"
            connection.close()
        finally:
            processes.stop()
