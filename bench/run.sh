#!/usr/bin/env bash
# The one command of the benchmarks: sets up the Python reference if needed,
# builds the release binaries, runs W1–W5 on our stores, the raw-SQL
# ceilings and the Python reference, prints the ratio table and writes it
# to bench/results/latest.md (and every figure to latest.json).
#
#   bench/run.sh                      # full scale, every backend and workload
#   bench/run.sh --scale small        # a smoke test of a few minutes
#   bench/run.sh --backend sqlite --workload W1,W2 --repeat 5
#
# Needs PostgreSQL on 127.0.0.1:5432 (superuser `postgres`, trust auth; each
# run creates and drops databases of its own), psql and /usr/bin/time.
# Not part of CI: a full run takes most of an hour on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x bench/peer/.venv/bin/python ] || ! bench/peer/.venv/bin/python -c 'import eventsource, greenlet' 2>/dev/null; then
    bench/peer/setup.sh
fi
for tool in psql /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing (apt-get install postgresql-client time)" >&2; exit 1; }
done

cargo build --release -p eventsource-bench -p eventsource-cli

arguments=("$@")
case " ${arguments[*]-} " in
    *" --scale "*) ;;
    *) arguments+=(--scale full) ;;
esac
mkdir -p bench/results
exec target/release/bench "${arguments[@]}" --output bench/results/latest.md
