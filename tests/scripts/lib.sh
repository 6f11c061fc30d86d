# shellcheck shell=bash
# lib.sh: what the tests of tests/scripts/ share (sourced by each test_*.sh, bash):
# ok/bad counters and the summary line run.sh reads.
PASS=0
FAIL=0
TEST_NAME=$(basename "$0" .sh)
# Debian's python3, where the python3-* packages of scripts/deps.sh live (websockets,
# yaml, jsonschema): a pyenv shim may come first on PATH.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

ok() {
	PASS=$((PASS + 1))
	[ -z "${VERBOSE:-}" ] || echo "  ok   $1"
}

# bad WHAT WHY
bad() {
	FAIL=$((FAIL + 1))
	echo "  FAIL $1: $2"
}

# check WHAT COMMAND...: ok when COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what" "\`$*\` failed"; fi
}

# The line tests/scripts/run.sh counts; the exit status says whether all passed.
summary() {
	echo "$TEST_NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
