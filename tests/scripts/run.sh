#!/bin/sh
# run.sh: the tests of what a new user runs by hand — the README's commands, make run,
# scripts/deps.sh, .ci/run (tests/scripts/test_*.sh, each printing `NAME: N passed, N
# failed`). make check runs them after the integration tests.
#
#   B=build sh tests/scripts/run.sh [test_readme ...]     VERBOSE=1 shows every check
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ $# -eq 0 ]; then
	for f in tests/scripts/test_*.sh; do
		t=${f##*/}
		set -- "$@" "${t%.sh}"
	done
fi
failed=
for t in "$@"; do
	start=$(date +%s)
	if ! bash "tests/scripts/$t.sh"; then
		failed="$failed $t"
	fi
	echo "  ($t took $(($(date +%s) - start)) s)"
done
if [ -n "$failed" ]; then
	echo "scripts: FAILED:$failed" >&2
	exit 1
fi
