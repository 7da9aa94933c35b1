#!/usr/bin/env bash
# `make bench`: every benchmark in bench/ in turn, each on its own (each starts the
# services it needs, as `make run` does, and prints its figures). Runs them all even if
# one fails, and exits non-zero if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for script in bench/*.py; do
  [ -e "$script" ] || continue
  echo "== $script"
  .venv/bin/python "$script" || { echo "bench: $script failed (exit $?)" >&2; status=1; }
done
exit $status
