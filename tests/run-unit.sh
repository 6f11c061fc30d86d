#!/bin/sh
# run-unit.sh: runs every Check unit test binary ($B/tests/check_*, B defaults to build)
# against a throwaway PostgreSQL started here (scripts/pg.sh, in a temporary directory
# that a trap stops and removes), with KAIDEN_TEST_PG_DSN pointing at it as its superuser
# and KAIDEN_TEST_PG_APP_DSN as the application's role. The suites that have database
# cases run each case on SQLite and on that PostgreSQL.
#
# Prints each binary's Check summary line (and its failures), then `time: unit: N s` (the
# whole run, PostgreSQL's start included); exits non-zero when any
# binary fails, when there is none to run, or when PostgreSQL cannot start: a missing
# server is a failure, never a skip.
set -u

B=${B:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
start=$(date +%s)

bins=$(ls "$B"/tests/check_* 2>/dev/null | grep -v '\.d$' || true)
if [ -z "$bins" ]; then
	echo "run-unit: no test binaries in $B/tests (build them first: make B=$B all)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-unit.XXXXXX") || exit 1
lanes=
cleanup() {
	# Interrupted: the lanes (below) and the binaries they run stop first.
	for p in $lanes $(cat "$tmp"/*.pid 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null
	done
	sh "$top/scripts/pg.sh" stop "$tmp/pg" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! dsn=$(sh "$top/scripts/pg.sh" start "$tmp/pg"); then
	echo "run-unit: FAIL: PostgreSQL did not start (scripts/pg.sh start $tmp/pg)" >&2
	exit 1
fi
KAIDEN_TEST_PG_DSN=$dsn
# The application's role (a member of kaiden_app), for the row-level security cases.
if ! KAIDEN_TEST_PG_APP_DSN=$(sh "$top/scripts/pg.sh" app-dsn "$tmp/pg"); then
	echo "run-unit: FAIL: no application conninfo (scripts/pg.sh app-dsn $tmp/pg)" >&2
	exit 1
fi
# Temporary files of the tests (SQLite databases) go under $tmp, removed by the trap.
TMPDIR=$tmp
export KAIDEN_TEST_PG_DSN KAIDEN_TEST_PG_APP_DSN TMPDIR

# UNIT_JOBS binaries run at once (default 4: most of their time is spent waiting on
# timers and PostgreSQL, and each makes its own schemas and files). Each of UNIT_JOBS
# lanes takes the next binary nobody has claimed (mkdir is atomic) until none is left.
lane() {
	for bin in $bins; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		mkdir "$tmp/$name.claim" 2>/dev/null || continue
		"$bin" >"$tmp/$name.out" 2>&1 &
		echo $! >"$tmp/$name.pid"
		if wait $!; then echo 0; else echo $?; fi >"$tmp/$name.rc"
		rm -f "$tmp/$name.pid"
	done
}
jobs=${UNIT_JOBS:-4}
lanes=
i=0
while [ "$i" -lt "$jobs" ]; do
	lane &
	lanes="$lanes $!"
	i=$((i + 1))
done
wait
lanes=

failed=0
for bin in $bins; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	out="$tmp/$name.out"
	rc=$(cat "$tmp/$name.rc" 2>/dev/null) || rc=
	[ -n "$rc" ] || rc="none: it did not run"
	summary=$(grep -E '^[0-9]+%: Checks: ' "$out" | tail -n 1)
	if [ "$rc" != 0 ] || [ -z "$summary" ]; then
		failed=$((failed + 1))
		echo "$name: FAIL (exit $rc) ${summary:-no Check summary}"
		# The failing checks, then the end of the output for context.
		grep -E ':[FE]:' "$out" | head -n 40
		[ -n "$summary" ] || tail -n 20 "$out"
	else
		echo "$name: $summary"
	fi
done

echo "time: unit: $(($(date +%s) - start)) s"
if [ $failed -ne 0 ]; then
	echo "run-unit: $failed test binaries failed"
	exit 1
fi
echo "run-unit: all test binaries passed"
