#!/usr/bin/env bash
# `make test`: the same set-up as `make run` (PostgreSQL, Redis), Debian's Chromium for the
# browser tests, then the whole suite. Tests use Redis database 1 and their own channel
# prefix, so a room running beside them is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=1
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/1}
export CHANNEL_PREFIX=${TEST_CHANNEL_PREFIX:-warroom-test}
unset MIGRATE_DATABASE_URL  # the suite runs as one role (DATABASE_URL's); tests that need two make their own
export DJANGO_ALLOW_ASYNC_UNSAFE=true  # Playwright's sync API runs an event loop in the test thread

scripts/services.sh up test
trap 'scripts/services.sh stop test' EXIT

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: /usr/bin/chromium is missing; install Debian's chromium package" >&2
    exit 1
  fi
fi

.venv/bin/python manage.py collectstatic --noinput -v 0
.venv/bin/python -m pytest "$@"
