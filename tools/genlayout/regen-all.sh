#!/bin/sh
# Regenerates layouts/*.c from every CPython header set found on this machine
# (`make layouts`): pyenv's $(pyenv root)/versions/*/include/python*, Debian's
# /usr/include/python3.*, and Debian sid headers unpacked by
# tests/interpreters/fetch-sid.sh --variants "dev dbg" (or in $GENLAYOUT_SID_ROOT).
# Modules whose headers are not here are left untouched.
# See docs/adding-a-python-version.md.
set -eu
cd "$(dirname "$0")/../.."
exec python3 tools/genlayout/genlayout.py --all --out layouts "$@"
