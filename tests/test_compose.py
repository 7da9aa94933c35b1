"""docker-compose.yml against the code: no Docker engine runs here, so the file is loaded as
YAML and held to warroom/settings.py (every variable it reads is set for web, worker and
beat), to the Procfile (the same commands `make run` starts), and to the production
settings (the environment it gives web passes `manage.py check --deploy`)."""

import ast
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import Server, celery_worker, child_env, free_port

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
# The owner's URL: the migrate service's alone, never in the processes of the room.
MIGRATE_ONLY = {"MIGRATE_DATABASE_URL"}
ENV_READERS = {"env", "env_bool", "env_list"}
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|CREDENTIAL|API_KEY|PRIVATE", re.I)
REFERENCE = re.compile(r"^\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}$")
INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>\w+))")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_variables(source: str) -> set[str]:
    """Names of the environment variables a settings module reads, found in its syntax tree:
    env("X"), env_bool("X"), env_list("X"), os.environ.get("X"), os.environ["X"], os.getenv("X")."""
    names = set()

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"

    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (
                (isinstance(func, ast.Name) and func.id in ENV_READERS)
                or (isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault"} and is_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os")
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and is_environ(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: ("" if value is None else str(value)) for key, value in env.items()}


def interpolate(value: str, host_env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, $VAR."""

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        value = host_env.get(name)
        unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
        if op in {":-", "-"}:
            return arg if unset_or_empty else value
        if op in {":?", "?"}:
            if unset_or_empty:
                raise LookupError(f"{name}: {arg}")
            return value
        if op == ":+":
            return "" if unset_or_empty else arg
        return value or ""

    return INTERPOLATION.sub(substitute, value)


def argv(command) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def normalised(words: list[str]) -> list[str]:
    """A command with the local virtualenv prefix dropped and the bind address and port
    replaced by placeholders, the parts that differ between a checkout and a container."""
    words = list(words)
    words[0] = re.sub(r"^(\./)?\.venv/bin/", "", words[0])
    for i, word in enumerate(words[:-1]):
        if word in {"-b", "--bind"}:
            words[i + 1] = "<host>"
        elif word in {"-p", "--port"}:
            words[i + 1] = "<port>"
    return words


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = shlex.split(command)
    return processes


def option(words: list[str], *flags: str) -> str:
    for i, word in enumerate(words[:-1]):
        if word in flags:
            return words[i + 1]
    raise AssertionError(f"no {flags} in {words}")


def healthcheck_test(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    return [test] if isinstance(test, str) else list(test)


# -- the tests -------------------------------------------------------------------------


def test_settings_variables_are_found_by_parsing_the_settings():
    found = settings_variables((ROOT / "warroom" / "settings.py").read_text())
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "X_BEARER_TOKEN"} <= found
    sample = 'import os\nA = env("ONE")\nB = env_bool("TWO", True)\nC = env_list("THREE", "")\nD = os.environ.get("FOUR")\nE = os.environ["FIVE"]\nF = os.getenv("SIX")\nG = env(name)\n'
    assert settings_variables(sample) == {"ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX"}


def test_the_services_of_the_production_shape_exist():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    assert services["redis"]["image"].split(":")[0] == "redis"
    for name in (*APP_SERVICES, "migrate"):
        assert services[name].get("build"), f"{name} is not built from the Dockerfile"


def test_every_variable_the_settings_read_is_set_for_web_worker_and_beat():
    wanted = settings_variables((ROOT / "warroom" / "settings.py").read_text())
    assert MIGRATE_ONLY <= wanted
    services = compose()["services"]
    for name in APP_SERVICES:
        missing = sorted(wanted - MIGRATE_ONLY - set(environment(services[name])))
        assert not missing, f"{name} lacks {missing}: add them to x-app-environment in docker-compose.yml"
        held = sorted(MIGRATE_ONLY & set(environment(services[name])))
        assert not held, f"{name} must not hold {held}: the owner's credentials are for the migrate service only"
    missing = sorted(wanted - set(environment(services["migrate"])))
    assert not missing, f"migrate lacks {missing}"


def test_web_worker_and_beat_share_one_environment_with_debug_off():
    services = compose()["services"]
    environments = [environment(services[name]) for name in APP_SERVICES]
    assert all(env == environments[0] for env in environments)
    migrate = environment(services["migrate"])
    assert {key: value for key, value in migrate.items() if key not in MIGRATE_ONLY} == environments[0]
    assert environments[0]["DEBUG"] == "0"


def user_of(url: str) -> str:
    return url.split("://", 1)[1].rpartition("@")[0].split(":", 1)[0]


def test_the_room_runs_as_the_app_role_never_as_the_owner_or_the_superuser():
    services = compose()["services"]
    postgres = environment(services["postgres"])
    superuser = postgres.get("POSTGRES_USER") or "postgres"
    app, owner = postgres["POSTGRES_APP_USER"], postgres["POSTGRES_OWNER_USER"]
    assert len({superuser, app, owner}) == 3
    for name in APP_SERVICES:
        assert user_of(environment(services[name])["DATABASE_URL"]) == app, name
    assert user_of(environment(services["migrate"])["MIGRATE_DATABASE_URL"]) == owner
    database = postgres["WARROOM_DATABASE"]
    for url in (environment(services["web"])["DATABASE_URL"], environment(services["migrate"])["MIGRATE_DATABASE_URL"]):
        assert url.endswith(f"@postgres:5432/{database}")
    # The init script that makes the roles is the one deploy/ holds, mounted where the image runs it.
    mount = next(volume for volume in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in volume)
    source = ROOT / mount.split(":", 1)[0]
    assert (source / "10-warroom-roles.sh").is_file()
    assert mount.split(":")[1] == "/docker-entrypoint-initdb.d"


def test_the_init_script_makes_a_database_the_owner_owns_and_an_app_role_that_owns_nothing(django_db_setup):
    """Run for real against the suite's cluster, as the postgres image would run it."""
    from tests import databases

    with databases.compose_database() as (database, owner, app):
        connection = databases.connect(databases.superuser_url())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname IN (%s, %s)",
                [owner, app],
            )
            rows = {name: flags for name, *flags in cursor.fetchall()}
            cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database])
            assert cursor.fetchone()[0] == owner
        connection.close()
        assert rows == {owner: [False, False, False, True], app: [False, False, False, True]}
        app_connection = databases.connect(databases.url(user=app, database=database))
        with app_connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app
            with pytest.raises(Exception, match="permission denied for schema public"):
                cursor.execute("CREATE TABLE x (id int)")
        app_connection.close()


def test_secrets_are_references_to_the_host_environment_never_literals():
    services = compose()["services"]
    for service_name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                reference = REFERENCE.match(value)
                assert reference and reference["name"] == key, f"{service_name}.{key} must be ${{{key}...}}, not {value!r}"
                # Required (:? / ?) or empty when unset: never a literal fallback.
                assert not (reference["op"] or "").endswith("-") or reference["arg"] == "", f"{service_name}.{key} has a literal default"
            # A password inside a URL (DATABASE_URL) must be a reference too.
            masked = re.sub(r"\$\{[^}]*\}", "<reference>", value)
            for url in re.findall(r"\w+://\S+", masked):
                userinfo = url.split("://", 1)[1].rpartition("@")[0]
                if ":" in userinfo:
                    password = userinfo.split(":", 1)[1]
                    assert password == "<reference>", f"{service_name}.{key} has a literal password in {value!r}"
    env = environment(services["web"])
    assert REFERENCE.match(env["SECRET_KEY"])["op"] in {":?", "?"}, "SECRET_KEY must be required"
    assert REFERENCE.match(environment(services["postgres"])["POSTGRES_PASSWORD"])["op"] in {":?", "?"}


HOST_SECRETS = ("SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD", "POSTGRES_OWNER_PASSWORD", "POSTGRES_APP_PASSWORD")


def test_compose_refuses_to_start_without_the_secrets():
    services = compose()["services"]
    host = {name: secrets.token_urlsafe(16) for name in HOST_SECRETS}
    for required in host:
        partial = {key: value for key, value in host.items() if key != required}
        with pytest.raises(LookupError, match=required):
            for service in services.values():
                {key: interpolate(value, partial) for key, value in environment(service).items()}


def test_the_commands_are_the_ones_make_run_starts():
    services = compose()["services"]
    processes = procfile()
    assert set(APP_SERVICES) <= set(processes)
    for name in APP_SERVICES:
        ours = argv(services[name]["command"])
        assert normalised(ours) == normalised(processes[name]), f"{name}: {ours} differs from the Procfile's {processes[name]}"
    web = argv(services["web"]["command"])
    assert option(web, "-b", "--bind") == "0.0.0.0", "inside a container web must listen on all interfaces"
    port = option(web, "-p", "--port")
    assert any(str(mapping).endswith(f":{port}") for mapping in services["web"]["ports"])
    assert f"127.0.0.1:{port}/healthz" in " ".join(healthcheck_test(services["web"]))


def test_migrations_run_before_the_room_starts_as_make_run_does():
    services = compose()["services"]
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    migrate_line = next(line for line in run_sh.splitlines() if "manage.py migrate" in line)
    assert normalised(argv(services["migrate"]["command"])) == normalised(shlex.split(migrate_line))
    assert services["migrate"].get("restart") == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_service_has_a_health_check_and_the_room_waits_for_healthy_backends():
    services = compose()["services"]
    for name in ("postgres", "redis", *APP_SERVICES):
        assert healthcheck_test(services[name])[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"
    assert "pg_isready" in healthcheck_test(services["postgres"])
    assert "redis-cli ping" in " ".join(healthcheck_test(services["redis"]))
    assert "/healthz" in " ".join(healthcheck_test(services["web"]))
    worker_check = " ".join(healthcheck_test(services["worker"]))
    assert "inspect ping" in worker_check and "celery@$$HOSTNAME" in worker_check
    assert ".run/celerybeat-schedule" in " ".join(healthcheck_test(services["beat"]))
    for name in APP_SERVICES:
        for backend in ("postgres", "redis"):
            assert services[name]["depends_on"][backend]["condition"] == "service_healthy", f"{name} -> {backend}"
    assert "postgres-data" in compose()["volumes"]


def test_media_files_live_on_a_volume_that_web_and_worker_share_at_media_root():
    """Web stores uploads and serves them to legal; the worker reads the same bytes back to
    publish them: both must see one MEDIA_ROOT, on a named volume that outlives containers."""
    services = compose()["services"]
    assert "media-data" in compose()["volumes"]
    for name in (*APP_SERVICES, "migrate"):
        root = environment(services[name])["MEDIA_ROOT"]
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services[name].get("volumes", [])}
        assert mounts.get(root) == "media-data", f"{name} does not mount media-data at MEDIA_ROOT ({root})"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "mkdir -p /app/.run/media" in dockerfile and "/app/.run/media" in dockerfile.split("USER")[0]


def test_the_image_is_built_as_a_non_root_python_311_with_collected_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(re.fullmatch(r"RUN pip install (--\S+ )*\.", line) for line in instructions)
    assert "manage.py collectstatic --noinput" in dockerfile
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    from room.report_pdf import UNICODE_FONT
    assert UNICODE_FONT.name == "DejaVuSans.ttf" and "fonts-dejavu-core" in dockerfile, "PDFs need DejaVu in the image"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".run", ".git", "test-artifacts"} <= set(ignored)


def test_the_environment_compose_gives_web_passes_the_deploy_check():
    """Resolve web's environment as compose would on a host that sets only the required
    secrets, and run Django's deployment checks under exactly that environment."""
    host = {name: secrets.token_urlsafe(24) for name in HOST_SECRETS}
    host.update(SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="warroom.example.com")
    resolved = {key: interpolate(value, host) for key, value in environment(compose()["services"]["web"]).items()}
    assert resolved["DEBUG"] == "0" and resolved["SECRET_KEY"] == host["SECRET_KEY"]
    assert host["POSTGRES_APP_PASSWORD"] in resolved["DATABASE_URL"]
    for held_elsewhere in ("POSTGRES_PASSWORD", "POSTGRES_OWNER_PASSWORD"):
        assert not any(host[held_elsewhere] in value for value in resolved.values()), f"web can read {held_elsewhere}"
    read = settings_variables((ROOT / "warroom" / "settings.py").read_text())
    child = {
        key: value
        for key, value in os.environ.items()
        if key not in read and key not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    child.update(resolved)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=child, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


# -- the health checks, run for real against the room's processes ------------------------

PRODUCTION = {"DEBUG": "0", "ALLOWED_HOSTS": "warroom.example.com"}


def run_check(test: list[str], *, env: dict, cwd: Path, replace: dict[str, str] = {}) -> subprocess.CompletedProcess:
    """Run a compose health check here: `python`/`celery` are this interpreter's, $$ is $."""
    kind, *words = test
    words = [word.replace("$$", "$") for word in words]
    for old, new in replace.items():
        words = [word.replace(old, new) for word in words]
    if kind == "CMD-SHELL":
        (script,) = words
        script = re.sub(r"^celery ", f"{shlex.quote(sys.executable)} -m celery ", script)
        return subprocess.run(["sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    programs = {"python": [sys.executable], "celery": [sys.executable, "-m", "celery"]}
    words = programs.get(words[0], words[:1]) + words[1:]
    return subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_web_health_check_passes_against_daphne_with_production_settings(transactional_db, artifacts):
    """DEBUG off: the check must get past the HTTPS redirect and ALLOWED_HOSTS."""
    env = dict(PRODUCTION, SECRET_KEY=secrets.token_urlsafe(64))
    server = Server(free_port(), artifacts / "daphne-healthcheck.log", **env).start()
    try:
        with celery_worker(artifacts, name="healthcheck-web"):
            test = healthcheck_test(compose()["services"]["web"])
            deadline = time.monotonic() + 10
            while True:
                result = run_check(test, env=child_env(**env), cwd=ROOT, replace={"127.0.0.1:8000": f"127.0.0.1:{server.port}"})
                if result.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if result.returncode != 0:
                health = requests.get(
                    f"{server.url}/healthz", headers={"Host": "warroom.example.com", "X-Forwarded-Proto": "https"}, timeout=5
                )
                pytest.fail(f"web health check failed; /healthz says {health.status_code} {health.text}")
    finally:
        server.stop()


def test_the_worker_health_check_pings_a_worker_under_its_default_node_name(transactional_db, artifacts):
    env = child_env(HOSTNAME=socket.gethostname())
    test = healthcheck_test(compose()["services"]["worker"])
    with celery_worker(artifacts, name="celery"):
        result = run_check(test, env=env, cwd=ROOT)
        assert result.returncode == 0, result.stdout + result.stderr
    result = run_check(test, env=child_env(HOSTNAME="no-such-container"), cwd=ROOT)
    assert result.returncode != 0


def test_the_beat_health_check_fails_before_beat_runs_and_passes_once_it_ticks(django_db_setup, artifacts, tmp_path):
    """Beat runs with the compose command in a scratch directory, so the schedule file is its own."""
    services = compose()["services"]
    env = child_env(PYTHONPATH=str(ROOT))
    test = healthcheck_test(services["beat"])
    (tmp_path / ".run").mkdir()
    assert run_check(test, env=env, cwd=tmp_path).returncode != 0
    words = argv(services["beat"]["command"])
    assert words[0] == "celery"
    with open(artifacts / "celery-beat-healthcheck.log", "ab") as log:
        beat = subprocess.Popen([sys.executable, "-m", "celery", *words[1:]], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while (result := run_check(test, env=env, cwd=tmp_path)).returncode != 0:
            assert beat.poll() is None, "celery beat exited; see test-artifacts/celery-beat-healthcheck.log"
            assert time.monotonic() < deadline, "beat never wrote its schedule file"
            time.sleep(0.5)
    finally:
        beat.terminate()
        try:
            beat.wait(15)
        except subprocess.TimeoutExpired:
            beat.kill()
