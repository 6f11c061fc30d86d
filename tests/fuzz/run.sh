#!/bin/sh
# run.sh: make fuzz. Runs each libFuzzer harness ($B/fuzz/fuzz_<name>, B=build-fuzz) for
# FUZZ_SECONDS on a working corpus under $B/fuzz/corpus/<name> that starts from the
# committed seeds (tests/fuzz/corpus/<name>/, never written here), one after the other,
# or all at once with FUZZ_PARALLEL=1 (then at nice 19, to spare a shared machine).
# FUZZ_ONLY="name ..." picks harnesses.
#
# Each run's output is in $B/fuzz/<name>.log; a crash, leak or timeout leaves its input
# in $B/fuzz/artifacts/. Prints per harness its executions, coverage and corpus size,
# then "fuzz: N clean, N with findings"; exits non-zero when any harness found
# something. To keep a new input: add it (minimised, see docs/fuzzing.md) to the seeds.
set -u

B=${B:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

names=${FUZZ_ONLY:-$(for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); echo "${n#fuzz_}"; done)}
mkdir -p "$B/fuzz/artifacts"
nice=
[ "${FUZZ_PARALLEL:-0}" = 1 ] && nice="nice -n 19"

# FUZZ_KEEP_GOING=1: libFuzzer's fork mode, which records a crash and carries on (to
# see everything a long run finds, not only the first).
keep_going=
[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep_going="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"

run_one() {
	name=$1
	work=$B/fuzz/corpus/$name
	mkdir -p "$work"
	rm -f "$B/fuzz/artifacts/$name-"*
	# A dictionary of the input's tokens: <name>.dict, else json.dict for JSON inputs.
	dict=
	case $name in proto | json | import | cf) dict=tests/fuzz/json.dict ;; esac
	[ -f "tests/fuzz/$name.dict" ] && dict=tests/fuzz/$name.dict
	# -timeout: an input that takes this long is a finding (a hang), not patience.
	# shellcheck disable=SC2086 # $nice and $keep_going are empty or several words
	$nice "$B/fuzz/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -timeout=25 -print_final_stats=1 \
		$keep_going ${dict:+-dict=$dict} -artifact_prefix="$B/fuzz/artifacts/$name-" "$work" "tests/fuzz/corpus/$name" \
		>"$B/fuzz/$name.log" 2>&1
}

if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
	pids=
	for name in $names; do
		( run_one "$name" ) &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid"
	done
else
	for name in $names; do
		run_one "$name"
	done
fi

# Template databases (fuzz_db.h) of harness processes that crashed: the pid in the name
# is not running any more.
for dir in /dev/shm/kaiden-fuzz-* "${TMPDIR:-/tmp}"/kaiden-fuzz-*; do
	[ -d "$dir" ] || continue
	pid=${dir##*/kaiden-fuzz-}
	pid=${pid%%.*}
	kill -0 "$pid" 2>/dev/null || rm -rf "$dir"
done

clean=0
dirty=0
for name in $names; do
	log=$B/fuzz/$name.log
	# The last status line: "#N ... cov: C ft: F corp: U/S" (fork mode: "#N: cov: ...").
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	[ -n "$execs" ] || execs=$(echo "$last" | grep -oE '^#[0-9]+' | cut -c2-)
	cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | cut -c6-)
	ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | cut -c5-)
	corp=$(echo "$last" | grep -oE 'corp: [0-9]+(/[0-9]+[a-zA-Z]*)?' | cut -c7-)
	found=$(ls "$B/fuzz/artifacts/$name-"* 2>/dev/null | wc -l)
	line="${FUZZ_SECONDS}s, ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
	if [ "$found" -gt 0 ] || grep -qE '^SUMMARY: |^==[0-9]+== ?ERROR' "$log"; then
		dirty=$((dirty + 1))
		echo "fuzz $name: $line, FINDINGS: $found inputs in $B/fuzz/artifacts/ (see $log)"
	else
		clean=$((clean + 1))
		echo "fuzz $name: $line, no findings"
	fi
done
echo "fuzz: $clean clean, $dirty with findings"
[ "$dirty" -eq 0 ]
