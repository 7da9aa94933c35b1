"""Production settings: with production values in the environment, Django's deployment
checks report nothing; with DEBUG off and no SECRET_KEY, Django refuses to start."""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent

# Everything warroom/settings.py reads is decided by the test, not inherited from the shell.
SETTINGS_VARIABLES = (
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "REDIS_URL",
    "CELERY_BROKER_URL", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "BEHIND_TLS_PROXY",
)


def database_url() -> str:
    """The real local PostgreSQL the suite runs against."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    db = settings.DATABASES["default"]
    return f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def production_env(**overrides: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_VARIABLES and key != "DJANGO_ALLOW_ASYNC_UNSAFE"  # set for Playwright in tests only
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="warroom.example.com",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="warroom.settings",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_the_deployment_checks_pass_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in result.stdout, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output
    assert "?:" not in output, output


def test_the_deployment_checks_catch_an_insecure_production_setting():
    """The check above can fail: turning the HTTPS redirect off is reported."""
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(SECURE_SSL_REDIRECT="0"))
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def test_django_refuses_to_start_with_debug_off_and_no_secret_key():
    for missing in (None, ""):
        result = manage("check", env=production_env(SECRET_KEY=missing))
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr, result.stderr


def test_debug_is_off_unless_the_environment_turns_it_on():
    """A process nobody configured gets the production settings, and without a SECRET_KEY
    a start-up error that says what to set, never a fallback key."""
    result = manage("check", env=production_env(DEBUG=None, SECRET_KEY=None))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr and "DEBUG=1" in result.stderr, result.stderr
    show = "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT)"
    result = manage("shell", "-v", "0", "-c", show, env=production_env(DEBUG=None))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True"]
