#!/bin/sh
# py-spy benchmark: writes bench/RESULTS.md (see bench/bench.py).
#   BENCH_RUNS=3 BENCH_SECONDS=4 bench/run.sh
set -e
cd "$(dirname "$0")/.."
exec python3 bench/bench.py "$@"
