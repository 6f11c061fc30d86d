#!/bin/sh
# run.sh: the integration tests, once on SQLite and once on PostgreSQL, the same cases
# through nginx against both (tests/integration/case-*.sh, run by suite.sh). Prints one
# `integration DB: N passed, N failed` line per database; exits non-zero if any failed.
#
#   B=build sh tests/integration/run.sh [sqlite|postgres ...]
#   VERBOSE=1 prints every passing case; KEEP=1 keeps each suite's directory.
set -eu
cd "$(dirname "$0")/../.."

[ $# -gt 0 ] || set -- sqlite postgres
failed=
for db in "$@"; do
	if ! sh tests/integration/suite.sh "$db"; then
		failed="$failed $db"
	fi
done
if [ -n "$failed" ]; then
	echo "integration: FAILED on$failed" >&2
	exit 1
fi
