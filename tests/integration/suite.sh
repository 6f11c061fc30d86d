#!/bin/sh
# suite.sh DB: one integration pass against sqlite (server.mode single) or postgres
# (server.mode multi), or postgres-helperds (postgres's three longest cases, in a stack
# of their own beside it: POSTGRES_HELPERDS_CASES below), or pgbouncer: postgres's pass
# with kaiden-api serve connected through PgBouncer in transaction mode
# (database.pooler=transaction; issue 15), the cases seeing it as postgres (SUITE_DB)
# with STACK_PGBOUNCER set. Starts a whole stack
# (scripts/stack.sh) in a private mktemp directory, runs every case-*.sh in order,
# prints `integration DB: N passed, N failed` and exits non-zero on any failure. The
# trap stops everything and removes the directory (KEEP=1 keeps it for a post-mortem),
# also on a failure or Ctrl-C. A server that does not start is a failure, not a skip.
set -eu

SUITE_DB=${1:?usage: suite.sh sqlite|postgres|postgres-helperds|pgbouncer}
# What the results are printed under (lib.sh).
SUITE_NAME=$SUITE_DB
case $SUITE_DB in
pgbouncer)
	SUITE_DB=postgres
	STACK_PGBOUNCER=1
	;;
postgres-helperds) SUITE_DB=postgres ;;
esac
B=${B:-build}
cd "$(dirname "$0")/../.."

# shellcheck source=scripts/stack.sh
. scripts/stack.sh
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh

# The cases assume the defaults, whatever the developer's shell has exported.
for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
export KAIDEN_CF_DOMAIN=kaiden.test
export KAIDEN_LOG_LEVEL=warn
# The issue's split: PostgreSQL runs the multi-tenant mode (tenants by subdomain of
# kaiden.test or tenant_code), SQLite the single mode (everything in the default tenant).
if [ "$SUITE_DB" = postgres ]; then
	export KAIDEN_SERVER_MODE=multi KAIDEN_SERVER_BASE_DOMAIN=kaiden.test
fi
STACK_QUIET=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-it-$SUITE_NAME.XXXXXX")
# PostgreSQL runs as user postgres when we are root: it must be able to enter WORK.
chmod 0711 "$WORK"
T=$WORK/t
mkdir -p "$T"

# shellcheck disable=SC2317 # called from the traps
finish() {
	rc=$?
	trap - EXIT INT TERM
	if [ -z "${DONE:-}" ]; then
		bad "the suite ran to its end" "it stopped early (exit status $rc)"
	fi
	# Processes a case started (agents, fakes) and did not get to stop: a case that
	# stops early must not leave them running.
	for p in ${CASE_PIDS:-}; do
		if stack__same "${p%:*}" "${p#*:}"; then
			kill -KILL "${p%:*}" 2>/dev/null || :
		elif stack__proc "${p%:*}" && [ "$_stk_t0" != "${p#*:}" ]; then
			echo "  note: pid ${p%:*} a case started has ended and is another process's now: left alone"
		fi
	done
	stack_helperd_stop >/dev/null 2>&1 || true
	stack_stop >/dev/null 2>&1 || true
	sanitizer_clean "$WORK"
	if [ "$FAIL" -gt 0 ]; then
		for f in "$WORK/log/kaiden-api.log" "$WORK/log/kaiden-helperd.log" \
			"$WORK/nginx/logs/error.log"; do
			[ -s "$f" ] || continue
			echo "  --- last lines of $f"
			tail -n 15 "$f" | sed 's/^/  | /'
		done
	fi
	echo "integration $SUITE_NAME: $PASS passed, $FAIL failed"
	if [ -n "${KEEP:-}" ]; then
		echo "  (kept $WORK)"
	else
		rm -rf "$WORK"
	fi
	if [ "$FAIL" -eq 0 ]; then exit 0; else exit 1; fi
}
trap 'finish' EXIT
trap 'FAIL=$((FAIL + 1)); echo "  interrupted"; exit 130' INT TERM

if ! stack_init "$WORK" "$SUITE_DB" auto || ! stack_up; then
	bad "start the stack ($SUITE_NAME)" "see the messages above"
	DONE=1
	exit 1
fi
ok "start the stack ($SUITE_NAME) behind nginx on $STACK_URL"

# CASES="10 70" runs only those (a developer's shortcut; make check runs them all, split
# between postgres and postgres-helperds, and pgbouncer's share). CASES=all runs every
# one, pgbouncer's too.
# pgbouncer runs the API's cases: those whose subject is kaiden-api and its database
# (requests, auth and kept credentials, tenants and row-level security, tickets,
# webhooks' and services' API, SIGTERM in a request), not those whose subject is
# helperd, agents, the relay or helm (15 60 70 95 97 106 112 124): helperd keeps its direct
# connection, so a pooler in front of kaiden-api changes nothing there, and kaiden-api's
# share of them (starting sessions, queueing jobs) is in the cases kept. About half the
# time of the whole (docs/decisions.md, "Issue 15: kaiden-api behind PgBouncer").
PGBOUNCER_CASES="10 16 20 30 40 50 62 75 80 85 86 88 90 100 102 105 110 120 122"
# postgres-helperds runs PostgreSQL's three longest cases, and postgres the others: they
# spend most of their time waiting for helperd's clocks (a stale heartbeat row, a claim,
# the Cloudflare budget's pace, a helm wait), and in one suite they made it make check's
# longest chain. Each of the three starts from its own rows (it runs alone: CASES=130).
POSTGRES_HELPERDS_CASES="124 126 130"
SKIP_CASES=
if [ -z "${CASES:-}" ]; then
	case $SUITE_NAME in
	pgbouncer) CASES=$PGBOUNCER_CASES ;;
	postgres-helperds) CASES=$POSTGRES_HELPERDS_CASES ;;
	postgres) SKIP_CASES=$POSTGRES_HELPERDS_CASES ;;
	esac
fi
[ "${CASES:-}" != all ] || CASES=
# By number (case-100 after case-95, not after case-10 as the shell's sort has it).
for c in $(ls tests/integration/case-*.sh | sort -t- -k2,2n); do
	_case_n=${c#tests/integration/case-}
	_case_n=${_case_n%%-*}
	if [ -n "${CASES:-}" ]; then
		case " $CASES " in *" $_case_n "*) ;; *) continue ;; esac
	fi
	case " $SKIP_CASES " in *" $_case_n "*) continue ;; esac
	_case_start=$(date +%s)
	# shellcheck disable=SC1090
	. "./$c"
	[ -z "${VERBOSE:-}" ] || echo "  time $SUITE_NAME: ${c#tests/integration/}: $(($(date +%s) - _case_start)) s"
done
DONE=1
