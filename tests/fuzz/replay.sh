#!/bin/sh
# replay.sh: replays every committed fuzz corpus (tests/fuzz/corpus/<name>/) through its
# harness built without libFuzzer ($B/fuzz/replay_<name>, see fuzz.h), as part of make
# check: no clang and no time-based fuzzing, only the inputs we keep. Under make check
# SAN=1 the replay runs with ASan/UBSan (LeakSanitizer included).
#
# Prints one line per harness, then "fuzz replay: N passed, N failed"; exits non-zero
# when a harness fails, is missing, or has no corpus.
#
# `replay.sh findings` runs instead each input of tests/fuzz/findings/ (named
# <harness>-<what>: open defects found by fuzzing, docs/fuzzing.md) through its harness,
# one line each: once one passes, its fix is in, and the input moves to the corpus.
set -u

B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

passed=0
failed=0
if [ "${1:-}" = findings ]; then
	for input in tests/fuzz/findings/*-*; do
		[ -f "$input" ] || continue
		name=$(basename "$input")
		if "$B/fuzz/replay_${name%%-*}" "$input" >/dev/null 2>&1; then
			echo "fuzz finding $name: passes now (fixed: move it to tests/fuzz/corpus/${name%%-*}/)"
			passed=$((passed + 1))
		else
			echo "fuzz finding $name: still fails"
			failed=$((failed + 1))
		fi
	done
	echo "fuzz findings: $passed pass, $failed still fail"
	exit 0
fi
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	bin=$B/fuzz/replay_$name
	corpus=tests/fuzz/corpus/$name
	if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
		echo "fuzz replay $name: FAIL: no $bin or no $corpus (build first: make B=$B all)"
		failed=$((failed + 1))
		continue
	fi
	out=$(mktemp "${TMPDIR:-/tmp}/kaiden-replay.XXXXXX") || exit 1
	if "$bin" "$corpus" >"$out" 2>&1; then
		echo "fuzz replay $name: $(ls "$corpus" | wc -l) inputs, ok"
		passed=$((passed + 1))
	else
		echo "fuzz replay $name: FAIL (last input: $(grep '^replay: ' "$out" | tail -n 1 | cut -c9-))"
		grep -v '^replay: ' "$out" | tail -n 30
		failed=$((failed + 1))
	fi
	rm -f "$out"
done
echo "fuzz replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
