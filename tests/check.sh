#!/bin/sh
# check.sh: make check's test steps, one after another, each printing as it always has;
# then one closing line for the whole run, `check: N passed, N failed` (Check's
# "Checks: N, Failures: F, Errors: E" lines and every "N passed, N failed" line added
# up) and the time it took. Stops at the first step that fails, as make would, and
# still prints the totals so far.
#
#   B=build sh tests/check.sh
set -u
B=${B:-build}
export B
cd "$(dirname "$0")/.." || exit 1

out=$(mktemp "${TMPDIR:-/tmp}/kaiden-check.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
rc=0
for step in "sh tests/run-unit.sh" "sh tests/fuzz/replay.sh" "bash tests/fakes/test_fakes.sh" \
	"bash tests/fakes/test_fake_k8s.sh" "sh tests/integration/run.sh" "sh tests/scripts/run.sh"; do
	# The step's own exit status, its output shown as it comes and kept for the count.
	{ $step 2>&1; echo "$?" >"$out.rc"; } | tee -a "$out"
	rc=$(cat "$out.rc")
	rm -f "$out.rc"
	[ "$rc" -eq 0 ] || break
done
awk '
	match($0, /Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/) {
		split(substr($0, RSTART, RLENGTH), w, /[^0-9]+/)
		p += w[2] - w[3] - w[4]; f += w[3] + w[4]; next
	}
	/^([A-Za-z0-9_ -]+: )?[0-9]+ passed, [0-9]+ failed/ {
		sub(/^[A-Za-z0-9_ -]+: /, ""); gsub(/,/, ""); p += $1; f += $3
	}
	END {
		# A step that failed without a count of its own (it did not start) is one failure.
		if ('"$rc"' != 0 && f == 0) f = 1
		printf "check: %d passed, %d failed (%d s)\n", p, f, '"$(($(date +%s) - start))"'
	}
' "$out"
exit "$rc"
