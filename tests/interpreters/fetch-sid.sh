#!/bin/bash
# Fetches CPython 3.13, 3.14 (+ its Py_DEBUG build python3.14d) and 3.15 from
# Debian unstable (sid) into a cache folder and makes them runnable there,
# without installing anything system-wide.  Recipe and pitfalls:
# docs/reference/debian-sid-pythons.md.
#
# Usage: tests/interpreters/fetch-sid.sh [--refresh] [--variants "dev dbg nopie"]
#                                        [--print-cache] [--print-uri]
#   --refresh      ignore a ready cache: update the sid index, download, unpack
#                  and patch again (otherwise a cache that holds the request
#                  and whose interpreters start is used as it is, offline).
#                  The cache only grows: a fetch keeps the packages of earlier
#                  requests (delete the folder to shrink it)
#   --variants V   extra parts, also taken from $VARIANTS (space separated):
#                    dev    libpython3.X-dev headers for 3.13/3.14/3.15 (the
#                           3.14 debug build's own headers come with the default
#                           fetch; most of them are links into python3.14/)
#                    dbg    python3.X-dbg + libpython3.X-dbg for 3.13 and 3.15 too
#                    nopie  python3.X-nopie, kept as usr/bin/python3.X-nopie
#   --print-cache  print the cache folder and exit
#   --print-uri    print the archive URI (and Signed-By keyring) it would use
#
# Environment: PYSPY_SID_CACHE (cache folder), VARIANTS, EXTRA_PKGS (more sid
# packages to unpack, e.g. "libssl3t64"), PYSPY_SID_URI (archive URI to use
# instead of the one found in this machine's APT sources), PYSPY_SID_APT_ETC
# (the folder whose sources.list* are read, /etc/apt; for the tests).
#
# Cache layout (C = ${PYSPY_SID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pyspy-sid}):
#   C/root/usr/bin/python3.13, python3.14, python3.14d, python3.15
#                          patched: PT_INTERP = sid's ld.so, DT_RPATH = sid's
#                          lib dir, so they are exec'd directly (exe = python)
#   C/root/usr/bin/python3.X-nopie                  (variant nopie)
#   C/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2   sid's loader
#   C/root/usr/lib/x86_64-linux-gnu/                sid's libc and libraries
#   C/root/usr/include/python3.X/                   headers (variant dev)
#   C/root/usr/include/x86_64-linux-gnu/python3.X/pyconfig.h      (variant dev)
#   C/root/usr/include/python3.14d/                 debug headers (links into
#                          python3.14/, so complete with variant dev)
#   C/root/usr/include/x86_64-linux-gnu/python3.14d/pyconfig.h    (Py_DEBUG)
#   C/manifest             one line per interpreter: "NAME PATH X.Y.Z STYLE",
#                          STYLE "patched" (exec directly) or "loader" (patching
#                          failed: run as "LDSO --library-path LIBDIR PATH"),
#                          plus "ldso PATH" and "libdir PATH" lines
#   C/apt/ C/debs/         private APT state and the downloaded .deb files
#
# Exit status 0 when every requested interpreter starts; otherwise non-zero
# with one line on stderr saying why (details in C/fetch.log).
set -eu
set -o pipefail

VERSIONS="3.13 3.14 3.15"
refresh=0
variants=${VARIANTS:-}

while [ $# -gt 0 ]; do
	case $1 in
	--refresh) refresh=1 ;;
	--variants) variants="$variants ${2:?--variants needs a value}"; shift ;;
	--variants=*) variants="$variants ${1#*=}" ;;
	--print-cache) print_cache=1 ;;
	--print-uri) print_uri=1 ;;
	-h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "fetch-sid.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

CACHE=${PYSPY_SID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pyspy-sid}
if [ "${print_cache:-0}" = 1 ]; then
	echo "$CACHE"
	exit 0
fi

ETC=${PYSPY_SID_APT_ETC:-/etc/apt}
ROOT=$CACHE/root
A=$CACHE/apt
LOG=$CACHE/fetch.log

# Notes in the log how long each step took.
step() {
	echo "fetch-sid.sh: $1 done at +$((SECONDS - t0)) s" >>"$LOG"
}

die() {
	echo "fetch-sid.sh: $*" >&2
	exit 1
}

for v in $variants; do
	case $v in
	dev|dbg|nopie) ;;
	*) die "unknown variant '$v' (dev, dbg, nopie)" ;;
	esac
done
has_variant() {
	case " $variants " in *" $1 "*) return 0 ;; esac
	return 1
}

# The packages to unpack, one per line, sorted: the libraries every sid
# interpreter maps (they must come from sid: GLIBC_2.38), sid's patchelf,
# each version's interpreter and stdlib, and 3.14's debug build.
package_list() {
	local v
	echo "libc6 libexpat1 zlib1g libzstd1 libgcc-s1 libffi8 patchelf libstdc++6"
	for v in $VERSIONS; do
		echo "python$v-minimal libpython$v-minimal libpython$v-stdlib"
		if [ "$v" = 3.14 ] || has_variant dbg; then
			echo "python$v-dbg libpython$v-dbg"
		fi
		has_variant nopie && echo "python$v-nopie"
		has_variant dev && echo "libpython$v-dev"
	done
	echo "${EXTRA_PKGS:-}"
}
PKGS=$(package_list | tr ' ' '\n' | sed '/^$/d' | sort -u)

# Interpreters (files under $ROOT/usr/bin) that a package list provides.
interp_names() {
	sed -n 's/^python\(3\.[0-9]*\)-minimal$/python\1/p
		s/^python\(3\.[0-9]*\)-dbg$/python\1d/p
		s/^python\(3\.[0-9]*\)-nopie$/python\1-nopie/p'
}

loader() {
	ls "$ROOT"/usr/lib/*/ld-linux*.so.* 2>/dev/null | head -n 1
}

# Runs an interpreter on a check that it starts with the stdlib the tests
# use, and prints its full version (X.Y.Z).  Extra arguments go before the
# interpreter (the loader and its --library-path).  It warns (does not fail)
# when the interpreter maps a library from the host: a package missing from
# the cache falls back silently to the host's copy.
smoke() {
	local out host
	out=$(timeout 60 "$@" -c 'import sys, threading, time, ctypes, json
t = threading.Thread(target=time.sleep, args=(0.01,)); t.start(); t.join()
print("%d.%d.%d" % sys.version_info[:3])
for l in open("/proc/self/maps"):
    f = l.split()
    if len(f) > 5 and f[5].startswith("/") and ".so" in f[5]:
        print(f[5])' 2>>"$LOG") || return 1
	host=$(sed 1d <<<"$out" | grep -v "^$ROOT/" | sort -u | tr '\n' ' ') || true
	if [ -n "$host" ]; then
		echo "fetch-sid.sh: warning: ${*: -1} maps host libraries: $host" >&2
	fi
	head -n 1 <<<"$out"
}

# Is the cache ready for this request?  Same package set, and every
# interpreter named in the manifest starts as recorded (no network needed).
cache_ready() {
	local name path ver style ldso libdir got
	[ -f "$CACHE/request" ] && [ -f "$CACHE/manifest" ] || return 1
	# Ready when the cache holds every package asked for (perhaps more).
	[ -z "$(comm -23 <(echo "$PKGS") "$CACHE/request")" ] || return 1
	ldso=$(awk '$1 == "ldso" {print $2}' "$CACHE/manifest")
	libdir=$(awk '$1 == "libdir" {print $2}' "$CACHE/manifest")
	for name in $(interp_names <<<"$PKGS"); do
		read -r _ path ver style < <(awk -v n="$name" '$1 == n' "$CACHE/manifest") || return 1
		if [ "$style" = patched ]; then
			got=$(smoke "$path") || return 1
		else
			got=$(smoke "$ldso" --library-path "$libdir" "$path") || return 1
		fi
		[ "$got" = "$ver" ] || return 1
	done
	return 0
}

# The archive URI: the first plain "deb" entry of this machine's APT sources
# (one-line *.list or deb822 *.sources, with continuation lines, [options],
# Signed-By and "Enabled: no"), of a Debian suite, not security/updates/
# backports.  Prints "URI SIGNED-BY" (SIGNED-BY may be empty).
pick_uri() {
	{
		sed 's/#.*//' "$ETC"/sources.list "$ETC"/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" {
			sb = ""
			if (match($0, /\[[^]]*\]/)) {
				opts = substr($0, RSTART + 1, RLENGTH - 2)
				if (match(opts, /signed-by=[^ ]+/))
					sb = substr(opts, RSTART + 10, RLENGTH - 10)
				sub(/\[[^]]*\]/, "")
			}
			print $2, $3, sb
		}' || true
		# deb822: join continuation lines, then read stanza by stanza.
		for f in "$ETC"/sources.list.d/*.sources; do
			[ -f "$f" ] && { cat "$f"; echo; }
		done | awk '
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { if (key != "") val[key] = val[key] " " $0; next }
			{ key = tolower(substr($0, 1, index($0, ":") - 1))
			  val[key] = substr($0, index($0, ":") + 1) }
			END { flush() }
			function flush(   n, u, s, i, j) {
				if (val["types"] ~ /(^|[ \t])deb([ \t]|$)/ &&
				    val["enabled"] !~ /^[ \t]*[Nn]o/) {
					n = split(val["uris"], u, /[ \t]+/)
					split(val["suites"], s, /[ \t]+/)
					sb = val["signed-by"]; gsub(/[ \t]/, "", sb)
					if (sb ~ /BEGIN/) sb = ""    # an inline key block
					for (i = 1; i <= n; i++)
						if (u[i] != "")
							for (j = 1; j in s; j++)
								if (s[j] != "")
									print u[i], s[j], sb
				}
				delete val; key = ""
			}' || true
	} | awk '$1 ~ /^(https?|file):/ && $1 !~ /security/ &&
		 $2 ~ /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable|oldoldstable)$/ {
			print $1, $3; exit }'
}

# Private APT configuration: own lists, own cache, an EMPTY dpkg status, so
# the host's packages play no part.  The host's apt.conf.d still applies.
write_apt_config() {
	local uri=$1 signed_by=$2 arch opts
	arch=$(dpkg --print-architecture)
	mkdir -p "$A"/lists/partial "$A"/cache/archives/partial \
		"$A"/etc/sources.list.d "$A"/etc/preferences.d
	opts="arch=$arch"
	[ -n "$signed_by" ] && opts="$opts signed-by=$signed_by"
	echo "deb [$opts] $uri sid main" >"$A/etc/sources.list"
	: >"$A/status"
	cat >"$A/apt.conf" <<-CONF
	Dir::State "$A"; Dir::State::Lists "$A/lists"; Dir::State::status "$A/status";
	Dir::Cache "$A/cache"; Dir::Etc::SourceList "$A/etc/sources.list";
	Dir::Etc::SourceParts "$A/etc/sources.list.d";
	Dir::Etc::Preferences "$A/etc/preferences";
	Dir::Etc::PreferencesParts "$A/etc/preferences.d";
	APT::Architecture "$arch"; APT::Architectures { "$arch"; };
	Acquire::Languages "none"; APT::Sandbox::User "$(id -un)";
	Acquire::http::Timeout "20"; Acquire::https::Timeout "20"; Acquire::Retries "1";
	CONF
	# A dated snapshot archive is sid "as of that date": its Release has expired.
	case $uri in
	*/archive/*/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T*)
		echo 'Acquire::Check-Valid-Until "false";' >>"$A/apt.conf" ;;
	esac
}

# Downloads the packages into $CACHE/debs and prints the paths of the .deb
# files to unpack.
download() {
	local uris name size f missing=""
	# --print-uris lists only what is not in the current folder: ask from an
	# empty one to get every file name.
	mkdir -p "$A/empty"
	# shellcheck disable=SC2086
	uris=$(cd "$A/empty" && apt-get -c "$A/apt.conf" download --print-uris $PKGS 2>>"$LOG") ||
		die "a package is not in sid: $(grep '^E:' "$LOG" | tail -n 1)"
	[ -n "$uris" ] || die "apt-get lists no file to download (see $LOG)"
	# Download what is not there yet (same file name = same version; apt
	# checked its hash when it downloaded it).
	while read -r _ name size _; do
		[ "$(stat -c %s "$CACHE/debs/$name" 2>/dev/null)" = "$size" ] ||
			missing="$missing ${name%%_*}"
	done <<<"$uris"
	if [ -n "$missing" ]; then
		# shellcheck disable=SC2086
		(cd "$CACHE/debs" && apt-get -c "$A/apt.conf" -q download $missing) >>"$LOG" 2>&1 ||
			die "apt-get download from sid failed: $(grep '^E:' "$LOG" | tail -n 1)"
	fi
	# Drop the .deb files of older versions.
	for f in "$CACHE"/debs/*.deb; do
		name=${f##*/}
		grep -qF " $name " <<<"$uris" || rm -f "$f"
	done
	while read -r _ name _; do
		[ -s "$CACHE/debs/$name" ] || die "$name was not downloaded (see $LOG)"
		echo "$CACHE/debs/$name"
	done <<<"$uris"
}

# Unpacks into a fresh tree (no files of an older version left behind).
# python3.X-nopie ships usr/bin/python3.X too: it is kept as python3.X-nopie.
unpack() {
	local new=$1 deb tmp b
	shift
	rm -rf "$new"
	mkdir -p "$new"
	for deb in "$@"; do
		case ${deb##*/} in
		python3.*-nopie_*)
			tmp=$new.nopie
			rm -rf "$tmp"
			dpkg-deb -x "$deb" "$tmp"
			for b in "$tmp"/usr/bin/python3.*; do
				[ -f "$b" ] && [ ! -L "$b" ] && mv "$b" "$new/usr/bin/${b##*/}-nopie"
			done
			rm -rf "$tmp"
			;;
		*)
			dpkg-deb -x "$deb" "$new"
			;;
		esac
	done
}

# Patches each interpreter to use sid's loader and libraries (DT_RPATH, so
# that dlopen'ed extension modules find sid's libffi too), with sid's
# patchelf run through sid's loader; --no-sort keeps these ET_EXEC binaries
# loadable.  A binary that does not start once patched gets its original
# back and is recorded as "loader" style.
patch_all() {
	local ldso libdir name exe ver style
	ldso=$(loader)
	[ -n "$ldso" ] || die "sid's libc6 has no ld-linux*.so.* loader"
	libdir=$(dirname "$ldso")
	mkdir -p "$CACHE/orig"
	{
		echo "ldso $ldso"
		echo "libdir $libdir"
	} >"$CACHE/manifest.new"
	for name in $(interp_names <<<"$PKGS"); do
		exe=$ROOT/usr/bin/$name
		[ -f "$exe" ] || die "$name is not in the unpacked packages"
		cp -p "$exe" "$CACHE/orig/$name"
		style=patched
		if ! "$ldso" --library-path "$libdir" "$ROOT/usr/bin/patchelf" --no-sort \
			--set-interpreter "$ldso" --force-rpath --set-rpath "$libdir" \
			"$exe" >>"$LOG" 2>&1 || ! ver=$(smoke "$exe"); then
			echo "fetch-sid.sh: warning: patched $name does not start;" \
				"original kept, run it through sid's loader" >&2
			cp -p "$CACHE/orig/$name" "$exe"
			style=loader
			ver=$(smoke "$ldso" --library-path "$libdir" "$exe") ||
				die "$name does not start, even through sid's loader (see $LOG)"
		fi
		echo "$name $exe $ver $style" >>"$CACHE/manifest.new"
	done
	mv "$CACHE/manifest.new" "$CACHE/manifest"
}

main() {
	local uri signed_by debs
	mkdir -p "$CACHE/debs"
	: >"$LOG"
	if [ "$refresh" = 0 ] && cache_ready; then
		return 0
	fi
	t0=$SECONDS
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		die "apt-get and dpkg-deb are needed (a Debian host)"
	if [ -n "${PYSPY_SID_URI:-}" ]; then
		uri=$PYSPY_SID_URI
		signed_by=""
	else
		read -r uri signed_by < <(pick_uri) || true
	fi
	[ -n "${uri:-}" ] || die "no usable Debian 'deb' entry in $ETC/sources* (set PYSPY_SID_URI)"
	write_apt_config "$uri" "${signed_by:-}"

	# The cache only grows: keep what an earlier request (e.g. VARIANTS=dev
	# for another engineer's layouts) brought, so the requests do not undo
	# each other's trees.
	if [ -f "$CACHE/request" ]; then
		PKGS=$(sort -u <(echo "$PKGS") "$CACHE/request")
	fi
	rm -f "$CACHE/request"
	apt-get -c "$A/apt.conf" -q update >>"$LOG" 2>&1 ||
		die "apt-get update of sid failed (no network?): $(grep -E '^(E|W):' "$LOG" | head -n 1)"
	ls "$A"/lists/*_sid_main_binary-*_Packages* >/dev/null 2>&1 ||
		die "no sid package index (no network?): $(grep -E '^(E|W):' "$LOG" | head -n 1)"

	step "apt-get update"
	debs=$(download)
	step "download"
	# shellcheck disable=SC2086
	unpack "$ROOT.new" $debs
	rm -rf "$ROOT.old"
	[ -d "$ROOT" ] && mv "$ROOT" "$ROOT.old"
	mv "$ROOT.new" "$ROOT"
	rm -rf "$ROOT.old"
	step "unpack"
	patch_all
	step "patch and smoke test"
	echo "$PKGS" >"$CACHE/request"
	echo "fetch-sid.sh: sid interpreters ready in $CACHE ($((SECONDS - t0)) s)" >&2
}

if [ "${print_uri:-0}" = 1 ]; then
	read -r uri signed_by < <(pick_uri) || true
	[ -n "${uri:-}" ] || die "no usable Debian 'deb' entry in $ETC/sources*"
	echo "$uri${signed_by:+ $signed_by}"
	exit 0
fi

# One fetch at a time per cache (parallel test sessions share it).
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
main
