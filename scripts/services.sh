#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer at DATABASE_URL and REDIS_URL. Whatever is not
# reachable is started here: a project-local PostgreSQL cluster under .run/pg (initdb on
# first use) and a redis-server (installed with apt-get when missing). Each service this
# script starts is written to .run/started-<tag>, so `services.sh stop <tag>` stops only
# what that caller started (make run and make test keep separate records).
# The database and its owner are MIGRATE_DATABASE_URL's (DATABASE_URL's when it is unset);
# when DATABASE_URL names another role, that app role is made too (it owns nothing; the
# owner's `manage.py migrate` grants it its privileges). `services.sh app-url URL` prints
# the app role's URL that `make run` uses beside an owner's URL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.run
mkdir -p "$RUN"
STARTED=$RUN/started-${2:-manual}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

: "${DATABASE_URL:=postgres://warroom@127.0.0.1:55432/warroom}"
: "${REDIS_URL:=redis://127.0.0.1:6379/0}"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

read_url() {  # prints host port user dbname of a postgres:// or redis:// URL
  python3 - "$1" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or (5432 if u.scheme.startswith("postgres") else 6379),
      u.username or "warroom", (u.path or "/").lstrip("/") or "0")
PY
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "services: $* is missing; install it (apt-get install $*)" >&2; exit 1; fi
  echo "services: installing $* with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() {
  OWNER_URL=${MIGRATE_DATABASE_URL:-$DATABASE_URL}
  read -r host port user db < <(read_url "$OWNER_URL")
  if "$PG_BIN/pg_isready" -q -h "$host" -p "$port"; then
    echo "services: PostgreSQL answers on $host:$port"
  else
    case "$host" in 127.0.0.1|localhost) ;; *) echo "services: PostgreSQL at $host:$port does not answer" >&2; exit 1;; esac
    [ -x "$PG_BIN/initdb" ] || apt_install postgresql
    local data=$RUN/pg
    if [ ! -s "$data/PG_VERSION" ]; then
      echo "services: creating a PostgreSQL cluster in $data"
      mkdir -p "$data"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$data" "$RUN" 2>/dev/null || true
      as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$data"
    echo "services: starting PostgreSQL on $host:$port"
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=300" start >/dev/null
    echo "pg $data" >> "$STARTED"
  fi
  # The owner role and the database, created once (needs superuser access on a local cluster).
  if ! psql "$OWNER_URL" -Atqc "select 1" >/dev/null 2>&1; then
    role_make "$host" "$port" "$user" "LOGIN CREATEDB"
    psql -h "$host" -p "$port" -U postgres -d postgres -Atqc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || psql -h "$host" -p "$port" -U postgres -d postgres -qc "create database \"$db\" owner \"$user\""
  fi
  # The app role, when DATABASE_URL names one other than the owner.
  read -r _ _ app _ < <(read_url "$DATABASE_URL")
  if [ "$app" != "$user" ] && ! psql "$DATABASE_URL" -Atqc "select 1" >/dev/null 2>&1; then
    role_make "$host" "$port" "$app" "LOGIN"
  fi
}

role_make() {  # host port role attributes: the role, unless it exists (two callers may race)
  psql -h "$1" -p "$2" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$3') THEN CREATE ROLE "$3" $4; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END \$\$;
SQL
}

app_url() {  # the URL of the app role beside an owner's URL: the same with user <owner>_app
  python3 - "$1" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
user = (u.username or "warroom") + "_app"
print(u._replace(netloc=f"{user}@{u.hostname or '127.0.0.1'}:{u.port or 5432}").geturl())
PY
}

redis_up() {
  read -r host port _ _ < <(read_url "$REDIS_URL")
  if command -v redis-cli >/dev/null && redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG; then
    echo "services: Redis answers on $host:$port"
    return
  fi
  case "$host" in 127.0.0.1|localhost) ;; *) echo "services: Redis at $host:$port does not answer" >&2; exit 1;; esac
  command -v redis-server >/dev/null || apt_install redis-server
  echo "services: starting Redis on $host:$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --pidfile "$RUN/redis-$port.pid" --logfile "$RUN/redis-$port.log" --dir "$RUN"
  for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "redis $port" >> "$STARTED"
}

stop() {
  [ -f "$STARTED" ] || exit 0
  while read -r kind arg; do
    case "$kind" in
      pg) echo "services: stopping PostgreSQL"; as_postgres "$PG_BIN/pg_ctl" -D "$arg" -m fast stop >/dev/null || true ;;
      redis) echo "services: stopping Redis"; redis-cli -p "$arg" shutdown nosave >/dev/null 2>&1 || true ;;
    esac
  done < "$STARTED"
  rm -f "$STARTED"
}

case "${1:-up}" in
  up) pg_up; redis_up ;;
  stop) stop ;;
  app-url) app_url "$2" ;;
  *) echo "usage: $0 up|stop [tag] | app-url URL" >&2; exit 2 ;;
esac
