#!/bin/sh
# Runs each libFuzzer target for a while and keeps what reached new code.
#   fuzz/run.sh SECONDS BUILD_DIR TARGET...
# Each target starts from its corpus fuzz/corpus/<target>/; new inputs are
# found in a scratch folder and merged back with -merge=1, which adds only
# those that reach code the corpus did not.  A crash, leak, timeout or
# out-of-memory leaves its input as <BUILD_DIR>/<target>-crash-* and fails.
set -eu
seconds=$1 build=$2
shift 2
status=0
for t in "$@"; do
	corpus=fuzz/corpus/$t
	scratch=$(mktemp -d)
	mkdir -p "$corpus"
	echo "== $t: $seconds s"
	if ! "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$build/$t-" -print_final_stats=1 "$scratch" "$corpus"; then
		echo "$t: FAILED (the input is in $build/$t-*)" >&2
		status=1
	fi
	"$build/$t" -merge=1 "$corpus" "$scratch" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
	rm -rf "$scratch"
done
exit $status
