#!/bin/sh
# Installs the Debian packages py-spy needs to build, test and run its demo.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Usage: scripts/deps.sh [--quiet]
set -eu

PKGS="make gcc libc6-dev pkg-config libelf-dev libiniparser-dev libcunit1-dev
libncurses-dev python3 python3-pytest python3.11 python3.11-dev tmux binutils
patchelf xz-utils ca-certificates austin python3.11-venv nodejs libxml2-utils"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	echo "scripts/deps.sh: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "scripts/deps.sh: missing Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
