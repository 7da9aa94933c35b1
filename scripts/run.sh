#!/usr/bin/env bash
# `make run`: the whole room on this machine. Starts PostgreSQL and Redis if they do not
# answer, migrates, seeds the demo users, then runs web (daphne), a Celery worker and beat
# under honcho. Ctrl-C stops all of it, including the services this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-1}
export PATH="$PWD/.venv/bin:$PATH"  # the Procfile's commands are the virtualenv's
export WARROOM_HOST=${WARROOM_HOST:-127.0.0.1}
export WARROOM_PORT=${WARROOM_PORT:-8000}

# Two database roles, as in production: migrations run as the owner of the tables
# (MIGRATE_DATABASE_URL), the room as an app role that owns nothing and may only add and
# read audit entries (DATABASE_URL). Given only DATABASE_URL, that is the owner and the
# app role is <owner>_app on the same database.
if [ -z "${MIGRATE_DATABASE_URL:-}" ]; then
  export MIGRATE_DATABASE_URL=${DATABASE_URL:-postgres://warroom@127.0.0.1:55432/warroom}
  DATABASE_URL=$(scripts/services.sh app-url "$MIGRATE_DATABASE_URL")
  export DATABASE_URL
fi

scripts/services.sh up run
fake_x_pid=""
trap '[ -n "$fake_x_pid" ] && kill "$fake_x_pid" 2>/dev/null; scripts/services.sh stop run' EXIT

if [ -z "${X_BEARER_TOKEN:-}" ]; then
  # No X credentials: listen to the demo replay and publish to a loopback fake of X.
  export X_API_BASE_URL="http://127.0.0.1:${FAKE_X_PORT:-8765}" X_BEARER_TOKEN="demo-fake-x"
  .venv/bin/python -m tests.fakes.x_api --port "${FAKE_X_PORT:-8765}" &
  fake_x_pid=$!
  x_note="  No X_BEARER_TOKEN: posts go to a loopback fake of X at $X_API_BASE_URL (printed below)."
fi

.venv/bin/python manage.py migrate --noinput
unset MIGRATE_DATABASE_URL  # the owner's URL is for migrations only, not for the room's processes
.venv/bin/python manage.py collectstatic --noinput -v 0
logins=$(.venv/bin/python manage.py seed_demo)

cat <<MSG

  Warroom is starting at  http://$WARROOM_HOST:$WARROOM_PORT/

  Demo logins (role, username, password; kept in .run/demo-logins.txt):
$logins

  Health: http://$WARROOM_HOST:$WARROOM_PORT/healthz      Stop: Ctrl-C
${x_note:-}

MSG
.venv/bin/honcho start -f Procfile
