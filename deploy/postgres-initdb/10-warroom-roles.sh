#!/bin/sh
# The postgres image runs this once, as its superuser, when it initialises an empty data
# directory (docker-compose.yml mounts this folder at /docker-entrypoint-initdb.d). It makes
# the room's database and its two roles; the superuser is never used by the room:
#   POSTGRES_OWNER_USER  owns the database and its tables; only `manage.py migrate` connects
#                        as it (MIGRATE_DATABASE_URL, given to the migrate service alone)
#   POSTGRES_APP_USER    web, worker and beat (DATABASE_URL); owns nothing, may only INSERT and
#                        SELECT audit entries (migrate grants its privileges after every run)
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  --set db="$WARROOM_DATABASE" \
  --set owner="$POSTGRES_OWNER_USER" --set owner_password="$POSTGRES_OWNER_PASSWORD" \
  --set app="$POSTGRES_APP_USER" --set app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
SQL
