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
fake_mastodon_pid=""
fake_bluesky_pid=""
fake_reddit_pid=""
trap 'for pid in $fake_x_pid $fake_mastodon_pid $fake_bluesky_pid $fake_reddit_pid; do kill "$pid" 2>/dev/null; done; scripts/services.sh stop run' EXIT

if [ -z "${X_BEARER_TOKEN:-}" ]; then
  # No X credentials: listen to the demo replay and publish to a loopback fake of X.
  export X_API_BASE_URL="http://127.0.0.1:${FAKE_X_PORT:-8765}" X_BEARER_TOKEN="demo-fake-x"
  .venv/bin/python -m tests.fakes.x_api --port "${FAKE_X_PORT:-8765}" &
  fake_x_pid=$!
  x_note="  No X_BEARER_TOKEN: posts go to a loopback fake of X at $X_API_BASE_URL (printed below)."
fi

if [ -z "${MASTODON_API_BASE_URL:-}" ]; then
  # The demo's Mastodon instance and Bluesky, on loopback: the seeded accounts post there and
  # the seeded sources hear the fans the fakes make up (--chatter: a post every few seconds).
  export MASTODON_API_BASE_URL="http://127.0.0.1:${FAKE_MASTODON_PORT:-8766}"
  .venv/bin/python -m tests.fakes.mastodon --port "${FAKE_MASTODON_PORT:-8766}" --chatter 7 &
  fake_mastodon_pid=$!
  network_note="  Mastodon and Bluesky: loopback fakes at $MASTODON_API_BASE_URL and"
fi
if [ -z "${BLUESKY_API_BASE_URL:-}" ]; then
  export BLUESKY_API_BASE_URL="http://127.0.0.1:${FAKE_BLUESKY_PORT:-8767}"
  .venv/bin/python -m tests.fakes.bluesky --port "${FAKE_BLUESKY_PORT:-8767}" --chatter 9 \
    --user crunchwave.bsky.social:demo-app-password &
  fake_bluesky_pid=$!
  network_note="${network_note:-  Bluesky: a loopback fake at} $BLUESKY_API_BASE_URL (what they accept is printed below)."
fi
if [ -z "${REDDIT_API_BASE_URL:-}" ]; then
  # Reddit's API and its access tokens, on loopback: fans post and comment in r/snacks.
  export REDDIT_API_BASE_URL="http://127.0.0.1:${FAKE_REDDIT_PORT:-8768}"
  .venv/bin/python -m tests.fakes.reddit --port "${FAKE_REDDIT_PORT:-8768}" --chatter 11 &
  fake_reddit_pid=$!
  network_note="${network_note}
  Reddit: a loopback fake at $REDDIT_API_BASE_URL."
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
${network_note:-}

MSG
.venv/bin/honcho start -f Procfile
