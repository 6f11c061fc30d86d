#!/bin/sh
# run.sh: the integration tests, on SQLite and on PostgreSQL, the same cases through nginx
# against both (tests/integration/case-*.sh, run by suite.sh; PostgreSQL's three longest
# in a second stack beside the first: postgres-helperds), the API's cases again on
# PostgreSQL with kaiden-api behind PgBouncer in transaction mode (pgbouncer), and two
# installs against one Cloudflare account (installs.sh). The suites run in parallel, each in its own
# stacks on its own ports; each one's output goes to its own file and is printed whole
# when it ends, so their lines never interleave. Prints, per suite, its
# `integration NAME: N passed, N failed` line and then `time: integration NAME: N s`;
# exits non-zero if any failed.
#
#   B=build sh tests/integration/run.sh [sqlite|postgres|postgres-helperds|pgbouncer|installs ...]
#   VERBOSE=1 prints every passing case (and each case's time); KEEP=1 keeps each suite's
#   directory; SERIAL=1 runs the suites one after the other, printing as they go.
set -eu
cd "$(dirname "$0")/../.."

[ $# -gt 0 ] || set -- sqlite postgres postgres-helperds pgbouncer installs
failed=

# suite NAME: becomes suite NAME (exec: call it in a subshell or an & job, whose pid is
# then the suite's own, for a TERM to reach its trap).
suite() {
	case $1 in
	installs) exec sh tests/integration/installs.sh ;;
	*) exec sh tests/integration/suite.sh "$1" ;;
	esac
}

if [ -n "${SERIAL:-}" ] || [ $# -eq 1 ]; then
	for db in "$@"; do
		start=$(date +%s)
		# In the background and waited for, so that a TERM or Ctrl-C here reaches the
		# suite's own trap (which stops its stack) instead of leaving it running.
		suite "$db" &
		pid=$!
		trap 'kill -TERM "$pid" 2>/dev/null || :; wait "$pid" || :; exit 130' INT
		trap 'kill -TERM "$pid" 2>/dev/null || :; wait "$pid" || :; exit 143' TERM
		if wait "$pid"; then rc=0; else rc=$?; fi
		trap - INT TERM
		[ "$rc" = 0 ] || failed="$failed $db"
		echo "time: integration $db: $(($(date +%s) - start)) s"
	done
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-it-run.XXXXXX")
	# Background jobs of a non-interactive sh ignore SIGINT: on Ctrl-C (or TERM) each
	# suite is sent TERM, its own trap stops its stack, and we wait for that.
	stop_suites() {
		for f in "$out"/*.pid; do
			[ -s "$f" ] || continue
			kill -TERM "$(cat "$f")" 2>/dev/null || :
		done
		wait
		for db in "$@"; do
			[ -e "$out/$db.shown" ] || cat "$out/$db.log" 2>/dev/null || :
		done
		rm -rf "$out"
	}
	trap 'stop_suites "$@"; exit 130' INT TERM
	for db in "$@"; do
		(
			start=$(date +%s)
			suite "$db" >"$out/$db.log" 2>&1 &
			echo $! >"$out/$db.pid"
			if wait $!; then rc=0; else rc=$?; fi
			echo "time: integration $db: $(($(date +%s) - start)) s" >>"$out/$db.log"
			echo "$rc" >"$out/$db.rc"
		) &
	done
	# Each suite's output, whole, in the order they end.
	left=$*
	while [ -n "$left" ]; do
		still=
		for db in $left; do
			if [ -s "$out/$db.rc" ]; then
				cat "$out/$db.log"
				: >"$out/$db.shown"
				[ "$(cat "$out/$db.rc")" = 0 ] || failed="$failed $db"
			else
				still="$still $db"
			fi
		done
		left=${still# }
		[ -z "$left" ] || sleep 0.2
	done
	wait
	trap - INT TERM
	rm -rf "$out"
fi

if [ -n "$failed" ]; then
	echo "integration: FAILED on$failed" >&2
	exit 1
fi
