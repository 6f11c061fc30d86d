#!/bin/sh
# check.sh: make check's test steps, one after another, each printing as it always has;
# then one closing line for the whole run, `check: N passed, N failed` (Check's
# "Checks: N, Failures: F, Errors: E" lines and every "N passed, N failed" line added
# up) and the time it took. Stops at the first step that fails, as make would, and
# still prints the totals so far.
#
# The portal's browser tests (tests/scripts/test_portal.sh, the longest step) run beside
# the integration suites, in stacks of their own: both spend much of their time waiting
# (on helperd, on the browser), and one after the other they made make check take over
# 15 minutes. The portal's output is held in a file and printed whole after the suites'.
#
#   B=build sh tests/check.sh
set -u
B=${B:-build}
export B
cd "$(dirname "$0")/.." || exit 1

out=$(mktemp "${TMPDIR:-/tmp}/kaiden-check.XXXXXX") || exit 1
trap 'rm -f "$out" "$out.portal"' EXIT
# A stop stops the portal's run too (its own trap stops its stack).
trap '[ -z "${portal_pid:-}" ] || pkill -TERM -P "$portal_pid" 2>/dev/null; exit 130' INT TERM
start=$(date +%s)
rc=0
# The scripts but the portal's, which runs beside the integration suites.
scripts=
for f in tests/scripts/test_*.sh; do
	t=${f##*/}
	t=${t%.sh}
	[ "$t" = test_portal ] || scripts="$scripts $t"
done
for step in "sh tests/run-unit.sh" "sh tests/fuzz/replay.sh" "bash tests/fakes/test_fakes.sh" \
	"bash tests/fakes/test_fake_k8s.sh" "sh tests/integration/run.sh" \
	"sh tests/scripts/run.sh$scripts"; do
	portal=
	if [ "$step" = "sh tests/integration/run.sh" ]; then
		portal=$out.portal
		sh tests/scripts/run.sh test_portal >"$portal" 2>&1 &
		portal_pid=$!
	fi
	# The step's own exit status, its output shown as it comes and kept for the count.
	{ $step 2>&1; echo "$?" >"$out.rc"; } | tee -a "$out"
	rc=$(cat "$out.rc")
	rm -f "$out.rc"
	if [ -n "$portal" ]; then
		if wait "$portal_pid"; then prc=0; else prc=$?; fi
		tee -a "$out" <"$portal"
		rm -f "$portal"
		[ "$prc" -eq 0 ] || rc=$prc
	fi
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
