#!/usr/bin/env bash
# Runs every test and ends with one line: "N passed, N failed, N skipped".
#   1. CUnit unit tests of the release build and of the ASan/UBSan build
#      (a test that finds a prerequisite missing is skipped, by name);
#   2. a brief run of each libFuzzer target (fuzz/, built in build-fuzz/ by
#      make fuzz-build) over its corpus: one test each;
#   3. end-to-end tests (pytest) driving the real py-spy against real
#      Python processes (tests/e2e).
# Extra arguments go to pytest (e.g. -k dump).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
pass=0 fail=0 skip=0

run_unit() {
	local build=$1 out rc row skipped
	if [ ! -x "$build/tests/unit_tests" ]; then
		echo "unit tests of $build: not built" >&2
		fail=$((fail + 1))
		return
	fi
	echo "== unit tests ($build)"
	out=$(ASAN_OPTIONS=detect_leaks=1 "$build/tests/unit_tests" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	# CUnit's summary row: "tests  Total  Ran  Passed  Failed  Inactive"
	row=$(printf '%s\n' "$out" | awk '$1 == "tests" {print $3, $4, $5; exit}')
	if [ -z "$row" ]; then
		echo "unit tests of $build: no CUnit summary (crashed? exit $rc)" >&2
		fail=$((fail + 1))
		return
	fi
	# The runner's own row "Skipped: N": tests that found a prerequisite
	# missing (named above it); CUnit counted them as passed.
	skipped=$(printf '%s\n' "$out" | awk '$1 == "Skipped:" {print $2; exit}')
	if [ -z "$skipped" ]; then
		echo "unit tests of $build: no \"Skipped:\" row (crashed? exit $rc)" >&2
		fail=$((fail + 1))
		return
	fi
	set -- $row
	pass=$((pass + $2 - skipped))
	fail=$((fail + $3))
	skip=$((skip + skipped))
	if [ "$rc" -ne 0 ] && [ "$3" -eq 0 ]; then
		fail=$((fail + 1))
	fi
}

# FUZZ_BRIEF seconds of each fuzz target, new inputs kept in a scratch
# folder (the corpus in the repository grows only by make fuzz).
run_fuzz() {
	local src t scratch
	echo "== fuzz targets (${FUZZ_BRIEF:-3} s each)"
	for src in fuzz/fuzz_*.c; do
		t=$(basename "$src" .c)
		if [ ! -x "build-fuzz/$t" ]; then
			echo "fuzz target $t: not built (make fuzz-build)" >&2
			fail=$((fail + 1))
			continue
		fi
		scratch=$(mktemp -d)
		if "build-fuzz/$t" -max_total_time="${FUZZ_BRIEF:-3}" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$scratch/" "$scratch" "fuzz/corpus/$t" >"$scratch.log" 2>&1; then
			echo "fuzz target $t: passed ($(grep -o 'Done [0-9]* runs' "$scratch.log"))"
			pass=$((pass + 1))
		else
			tail -n 30 "$scratch.log"
			echo "fuzz target $t: FAILED" >&2
			fail=$((fail + 1))
		fi
		rm -rf "$scratch" "$scratch.log"
	done
}

run_unit build
run_unit build-asan
run_fuzz

echo "== end-to-end tests"
xml=$(mktemp)
/usr/bin/python3 -m pytest -q -rs -p no:cacheprovider --junitxml="$xml" tests/e2e "$@"
counts=$(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for x in suites:
    t += int(x.get("tests", 0)); f += int(x.get("failures", 0))
    e += int(x.get("errors", 0)); s += int(x.get("skipped", 0))
print(t - f - e - s, f + e, s)
PY
)
rm -f "$xml"
set -- $counts
pass=$((pass + $1)); fail=$((fail + $2)); skip=$((skip + $3))

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
