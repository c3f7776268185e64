#!/bin/sh
# Installs the Debian packages py-spy needs to build, test and run its demo,
# and the npm packages of the readers the tests open its files with.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Usage: scripts/deps.sh [--quiet]
set -eu

PKGS="make gcc libc6-dev pkg-config libelf-dev libcunit1-dev
libncurses-dev python3 python3-pytest python3.11 python3.11-dev tmux binutils
patchelf xz-utils ca-certificates austin python3.11-venv nodejs libxml2-utils
zlib1g-dev golang-go chromium clang libclang-rt-14-dev gdb"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# npm comes with nodejs from some sources and as its own package in Debian
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ] && [ "$(id -u)" -eq 0 ]; then
	echo "scripts/deps.sh: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
elif [ -n "$missing" ]; then
	echo "scripts/deps.sh: missing Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi

# The readers the end-to-end tests open our files with: speedscope's release
# build and puppeteer-core (drives Debian's chromium; downloads no browser),
# from the npm registry into a cache of the user (tests/e2e/readers.py).
NPM_PREFIX="${PYSPY_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/pyspy-npm}"
NPM_PKGS="speedscope@1.25.0 puppeteer-core@25.16.0"
if ! [ -f "$NPM_PREFIX/node_modules/speedscope/dist/release/index.html" ] ||
   ! [ -f "$NPM_PREFIX/node_modules/puppeteer-core/package.json" ]; then
	echo "scripts/deps.sh: npm install into $NPM_PREFIX: $NPM_PKGS" >&2
	mkdir -p "$NPM_PREFIX"
	# shellcheck disable=SC2086
	PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$NPM_PREFIX" --no-audit --no-fund \
		--loglevel=error $NPM_PKGS >/dev/null
fi
