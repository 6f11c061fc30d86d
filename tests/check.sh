#!/bin/sh
# check.sh: make check's test steps, then one closing line for the whole run,
# `check: N passed, N failed` (Check's "Checks: N, Failures: F, Errors: E" lines and
# every "N passed, N failed" line added up) and the time it took.
#
# The integration suites (tests/integration/run.sh) and the portal's browser tests
# (tests/scripts/test_portal.sh) are the two long steps: both spend much of their time
# waiting (on helperd's clocks, on the browser, on the fakes), each in stacks of its own.
# They start first, in the background, each with its output held in a file; the short
# steps (unit tests, the fuzz corpora's replay, the fakes' self-tests, the other scripts)
# run meanwhile, printing as they go. Then the suites' output is printed whole, then the
# portal's. Every step runs even when one before it failed (none depends on another),
# and the exit status is the first failure's.
#
# Ctrl-C or TERM: the background steps are sent TERM (each stops its own stacks; a
# background job of a non-interactive sh starts with SIGINT ignored, so a Ctrl-C alone
# would not reach them) and waited for.
set -u
B=${B:-build}
export B
cd "$(dirname "$0")/.." || exit 1

out=$(mktemp "${TMPDIR:-/tmp}/kaiden-check.XXXXXX") || exit 1
it_pid=
portal_pid=
stop_bg() {
	[ -z "$it_pid" ] || kill -TERM "$it_pid" 2>/dev/null
	# tests/scripts/run.sh has no trap of its own: the test script under it has.
	[ -z "$portal_pid" ] || pkill -TERM -P "$portal_pid" 2>/dev/null
	wait
}
trap 'rm -f "$out" "$out".*' EXIT
trap 'stop_bg; exit 130' INT TERM
start=$(date +%s)

scripts=
for f in tests/scripts/test_*.sh; do
	t=${f##*/}
	t=${t%.sh}
	[ "$t" = test_portal ] || scripts="$scripts $t"
done

sh tests/integration/run.sh >"$out.integration" 2>&1 &
it_pid=$!
sh tests/scripts/run.sh test_portal >"$out.portal" 2>&1 &
portal_pid=$!

rc=0
for step in "sh tests/run-unit.sh" "sh tests/fuzz/replay.sh" "bash tests/fakes/test_fakes.sh" \
	"bash tests/fakes/test_fake_k8s.sh" "sh tests/scripts/run.sh$scripts"; do
	# The step's own exit status, its output shown as it comes and kept for the count.
	{ $step 2>&1; echo "$?" >"$out.rc"; } | tee -a "$out"
	src=$(cat "$out.rc")
	[ "$rc" -ne 0 ] || rc=$src
done
for bg in integration portal; do
	if [ "$bg" = integration ]; then pid=$it_pid; else pid=$portal_pid; fi
	if wait "$pid"; then src=0; else src=$?; fi
	tee -a "$out" <"$out.$bg"
	[ "$rc" -ne 0 ] || rc=$src
done
it_pid=
portal_pid=
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
