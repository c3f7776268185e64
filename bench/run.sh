#!/bin/sh
# py-spy benchmark: writes bench/RESULTS.md (see bench/bench.py), then
# appends the blocking-mode section (bench/blocking.py).
#   BENCH_RUNS=3 BENCH_SECONDS=4 bench/run.sh
set -e
cd "$(dirname "$0")/.."
python3 bench/bench.py "$@"
exec python3 bench/blocking.py
