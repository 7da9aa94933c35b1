"""PostgreSQL roles and databases a test makes for itself on the suite's cluster, with the
cluster's superuser (`postgres`, as scripts/services.sh creates it, or
TEST_SUPERUSER_DATABASE_URL), and removes afterwards. Role names are random: roles are
shared by every database of the cluster, and other checkouts may run their suites on it."""

import os
import secrets
import subprocess
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

import psycopg2
from django.conf import settings
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
INIT_SCRIPT = ROOT / "deploy" / "postgres-initdb" / "10-warroom-roles.sh"


def superuser_url() -> str:
    if os.environ.get("TEST_SUPERUSER_DATABASE_URL"):
        return os.environ["TEST_SUPERUSER_DATABASE_URL"]
    db = settings.DATABASES["default"]
    return f"postgres://postgres@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/postgres"


def url(*, user: str, database: str, password: str = "") -> str:
    """A URL to `database` on the suite's cluster as `user`."""
    db = settings.DATABASES["default"]
    secret = f":{quote(password)}" if password else ""
    return f"postgres://{quote(user)}{secret}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"


def connect(database_url: str, *, autocommit: bool = True):
    parts = urlparse(database_url)
    connection = psycopg2.connect(
        dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password or "",
        host=parts.hostname, port=parts.port or 5432,
    )
    connection.autocommit = autocommit
    return connection


def as_superuser(statement, params=None, *, database: str = "postgres"):
    superuser = urlparse(superuser_url())
    connection = connect(superuser._replace(path=f"/{database}").geturl())  # autocommit: DROP DATABASE needs it
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    finally:
        connection.close()


def unique_name(what: str) -> str:
    return f"wr_{secrets.token_hex(4)}_{what}"


def drop_roles(*roles: str, databases: tuple[str, ...] = ()) -> None:
    """Remove roles: first what they own or were granted in each database, then the roles."""
    for database in databases:
        for role in roles:
            as_superuser(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)), database=database)
    for role in roles:
        as_superuser(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@contextmanager
def login_role(*, database: str):
    """A role that may log in and owns nothing; dropped, with its grants in `database`, at the end."""
    role = unique_name("app")
    as_superuser(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield role
    finally:
        drop_roles(role, databases=(database,))


@contextmanager
def compose_database():
    """The database and two roles docker-compose's postgres service makes, made by running
    its init script here as the superuser. Yields (database, owner, app) names; the
    database and roles are dropped at the end."""
    names = {"database": unique_name("db"), "owner": unique_name("owner"), "app": unique_name("app")}
    superuser = urlparse(superuser_url())
    env = {
        **os.environ,
        "PGHOST": superuser.hostname or "127.0.0.1", "PGPORT": str(superuser.port or 5432),
        "PGPASSWORD": superuser.password or "",
        "POSTGRES_USER": superuser.username or "postgres",
        "WARROOM_DATABASE": names["database"],
        "POSTGRES_OWNER_USER": names["owner"], "POSTGRES_OWNER_PASSWORD": secrets.token_urlsafe(16),
        "POSTGRES_APP_USER": names["app"], "POSTGRES_APP_PASSWORD": secrets.token_urlsafe(16),
    }
    try:
        result = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        yield names["database"], names["owner"], names["app"]
    finally:
        as_superuser(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(names["database"])))
        drop_roles(names["app"], names["owner"])
