#!/bin/sh
# One command for every test on a fresh Debian 12 machine: installs what is
# missing, builds (release and ASan/UBSan), runs the unit and end-to-end tests.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
exec make -j2 check
