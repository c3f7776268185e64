#!/bin/sh
# The main job on a bundled demo: installs what is missing, builds py-spy,
# starts demo/demo.py with Debian's python3.11, dumps its stacks, then
# records it for 5 seconds into demo-profile.svg (a flamegraph).
set -eu
cd "$(dirname "$0")/.."
[ "${1:-}" = "--no-deps" ] || scripts/deps.sh
make -j2 >/dev/null
python=/usr/bin/python3.11
[ -x "$python" ] || python=python3

"$python" demo/demo.py 60 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
sleep 1

echo "== py-spy dump --pid $pid"
build/py-spy dump --pid "$pid"
echo
echo "== py-spy record -o demo-profile.svg --pid $pid --duration 5"
build/py-spy record -o demo-profile.svg --pid "$pid" --duration 5
echo "open demo-profile.svg in a browser to explore the flamegraph"
