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

# Unsets every KAIDEN_* variable: a new user's shell has none, and the tests assume the
# defaults.
kaiden_env_clear() {
	local v
	for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
}

# alive PID: 0 while PID runs (a zombie does not count: it has exited).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# leftovers GROUP NAME: processes in process group GROUP, or whose command line names
# NAME: "PID COMMAND" lines.
leftovers() {
	local group=$1 name=$2 f line pid cmd
	local -a fields
	for f in /proc/[0-9]*/stat; do
		line=$(cat "$f" 2>/dev/null) || continue
		pid=${line%% *}
		# After the command name in parentheses: state, ppid, pgrp, ...
		read -r -a fields <<<"${line##*) }"
		[ "${fields[0]}" != Z ] || continue
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		if [ "${fields[2]}" = "$group" ] || [[ $cmd == *"$name"* ]]; then
			echo "$pid $cmd"
		fi
	done
}

# group_end PID DIR: the process group PID (make run's, started under set -m) gets
# SIGINT, as Ctrl-C sends it, and up to 30 s to stop; then whatever is left of the
# group, or names DIR, is KILLed. For a test's exit trap.
group_end() {
	local p
	if [ -n "$1" ] && alive "$1"; then
		kill -INT -- "-$1" 2>/dev/null
		for _ in $(seq 150); do alive "$1" || break; sleep 0.2; done
	fi
	for p in $(leftovers "${1:-0}" "$2" | cut -d' ' -f1); do
		[ "$p" = $$ ] || kill -KILL "$p" 2>/dev/null
	done
}

# output_wait WHAT FILE ERE PID TRIES: one check: FILE (a server's output) gets a line
# matching ERE while PID runs, looked for TRIES times 0.2 s apart. 1 when it did not
# (said, with the file's last lines).
output_wait() {
	for _ in $(seq "$5"); do
		grep -qsE -- "$3" "$2" && break
		alive "$4" || break
		sleep 0.2
	done
	if grep -qsE -- "$3" "$2"; then
		ok "$1"
		return 0
	fi
	bad "$1" "$(tail -n 20 "$2" 2>/dev/null)"
	return 1
}

# The line tests/scripts/run.sh counts; the exit status says whether all passed.
summary() {
	echo "$TEST_NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
