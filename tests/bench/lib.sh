# shellcheck shell=sh
# lib.sh: what the benchmark scripts measure with, sourced by relay.sh, scaleout.sh and
# agent_footprint.sh (after scripts/stack.sh, whose STACK_URL and STACK_TOKEN api uses).
#
#   ms                   now, in Unix milliseconds
#   median               the median of the numbers on stdin, one a line
#   rss PID              its VmRSS in KiB
#   cpu PID              its user + system time, in clock ticks (TICKS a second)
#   api METHOD PATH [BODY]  the API's reply body (the stack's token, JSON body)

ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
TICKS=$(getconf CLK_TCK)

api() {
	curl -sS -X "$1" -H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$STACK_URL/api/v1$2"
}
