#!/bin/sh
# scaleout.sh: one helperd against two on one PostgreSQL (issue 15), with real components:
# a stack (scripts/stack.sh, multi mode: nginx with every helperd's socket in its
# upstream, one kaiden-api, STACK_HELPERDS helperds), tunnel.provider auto without
# Cloudflare settings (the built-in relay: nothing outside the machine), and AGENTS real
# kaiden-agents dialling in through nginx, which spreads them over the helperds.
#
# For each helperd count in HELPERDS (default "1 2"), ROUNDS rounds of: one session per
# device, all POSTed at once (AGENTS curl processes started together), timed from before
# the first POST until the API lists them all active (polled every 20 ms); then all
# ended (DELETE) and waited for. Printed: where the agents landed (devices.helperd), the
# sessions per second of each round and their median, each helperd's RSS and its CPU
# seconds over the rounds, and the ratio of two helperds' median to one's.
#
#   B=build AGENTS=20 ROUNDS=3 HELPERDS="1 2" sh tests/bench/scaleout.sh
#
# Two cores run everything here (PostgreSQL, nginx, kaiden-api, the helperds, the agents,
# curl): the figure says what a second helperd changes on one machine, not what a second
# machine would. Prints Markdown for docs/benchmarks.md; exits 1 only when something broke.
set -eu
cd "$(dirname "$0")/../.."

B=${B:-build}
AGENTS=${AGENTS:-20}
ROUNDS=${ROUNDS:-3}
HELPERDS=${HELPERDS:-1 2}

# shellcheck source=scripts/stack.sh
. scripts/stack.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
case $B in /*) BDIR=$B ;; *) BDIR=$(pwd -P)/$B ;; esac
for f in kaiden-api kaiden-helperd kaiden-agent; do
	[ -x "$BDIR/bin/$f" ] || { echo "scaleout: $BDIR/bin/$f is missing: build first" >&2; exit 1; }
done
command -v psql >/dev/null 2>&1 || { echo "scaleout: needs PostgreSQL (scripts/deps.sh)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-scaleout.XXXXXX")
AGENT_PIDS=
die() {
	echo "scaleout: $*" >&2
	exit 1
}
stop_agents() {
	for p in $AGENT_PIDS; do kill -TERM "$p" 2>/dev/null || :; done
	for p in $AGENT_PIDS; do wait "$p" 2>/dev/null || :; done
	AGENT_PIDS=
}
finish() {
	trap - EXIT INT TERM
	stop_agents
	stack_helperd_stop >/dev/null 2>&1 || :
	stack_stop
	if [ -n "${BENCH_KEEP:-}" ]; then echo "scaleout: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$KAIDEN_DATABASE_OWNER_DSN" -c "$1"; }

# count_sessions STATUS: sessions of the tenant in STATUS (at most 200).
count_sessions() {
	api GET "/sessions?status=$1&limit=200" | jq '.items | length'
}

# wait_until WHAT SECONDS CMD...: CMD's output is "yes" within SECONDS (polled every 20 ms).
wait_until() {
	what=$1
	end=$(($(ms) + $2 * 1000))
	shift 2
	until [ "$("$@")" = yes ]; do
		[ "$(ms)" -lt "$end" ] || die "$what: not within the time"
		sleep 0.02
	done
}
all_online() { [ "$(api GET "/devices?status=online&limit=200" | jq '.items | length')" = "$AGENTS" ] && echo yes || echo no; }
all_active() { [ "$(count_sessions active)" = "$AGENTS" ] && echo yes || echo no; }
none_live() {
	[ "$(sql "SELECT count(*) FROM sessions WHERE status NOT IN ('ended', 'failed')")" = 0 ] && echo yes || echo no
}

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export KAIDEN_LOG_LEVEL=warn
# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1

echo "## scale-out (tests/bench/scaleout.sh): PostgreSQL, $AGENTS kaiden-agents through nginx, relay sessions, $ROUNDS rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| helperds | agents held (per helperd) | sessions/s per round | median sessions/s | helperd RSS KiB (each) | helperd CPU s over the rounds (each) |"
echo "|---:|---|---|---:|---|---|"
BASE=
for H in $HELPERDS; do
	STACK_HELPERDS=$H
	stack_init "$WORK/h$H" postgres auto
	stack_db_start
	stack_migrate
	stack_token
	stack_nginx_render
	sed -i 's/worker_connections [0-9]*;/worker_connections 4096;/' "$STACK_NGINX_DIR/nginx.conf"
	stack_api_start
	stack_nginx_up
	stack_token_verify
	stack_helperd_start

	i=1
	while [ "$i" -le "$AGENTS" ]; do
		dev=$(api POST /devices "{\"name\":\"scale-$i\"}") || die "POST /devices: $dev"
		id=$(printf '%s' "$dev" | jq -r .device_id)
		(umask 077 && printf '%s' "$dev" | jq -r .secret >"$WORK/h$H/agent-$i.secret")
		echo "$id" >>"$WORK/h$H/devices"
		"$BDIR/bin/kaiden-agent" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
			--device-id "$id" --secret-file "$WORK/h$H/agent-$i.secret" \
			</dev/null >>"$WORK/h$H/agents.log" 2>&1 &
		AGENT_PIDS="$AGENT_PIDS $!"
		i=$((i + 1))
	done
	wait_until "$AGENTS agents online" 60 all_online
	held=$(sql "SELECT string_agg(n::text, ' + ' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM devices WHERE status = 'online' GROUP BY helperd) c")

	cpu0=
	for w in $STACK_HELPERD_PIDS; do cpu0="$cpu0 $(cpu "${w#*:}")"; done
	rates=
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		t0=$(ms)
		pids=
		while read -r id; do
			api POST /sessions "{\"device_id\":\"$id\",\"engineer_name\":\"Bench\"}" >/dev/null &
			pids="$pids $!"
		done <"$WORK/h$H/devices"
		for p in $pids; do wait "$p" || die "a POST /sessions failed"; done
		wait_until "round $r: $AGENTS sessions active" 120 all_active
		t=$(($(ms) - t0))
		rates="$rates $(awk -v n="$AGENTS" -v t="$t" 'BEGIN { printf "%.1f", n * 1000 / t }')"
		api GET "/sessions?status=active&limit=200" | jq -r '.items[].id' >"$WORK/h$H/active"
		while read -r sid; do api DELETE "/sessions/$sid" >/dev/null; done <"$WORK/h$H/active"
		wait_until "round $r: every session ended" 120 none_live
		r=$((r + 1))
	done
	rsss=
	cpus=
	set -- $cpu0
	for w in $STACK_HELPERD_PIDS; do
		rsss="${rsss:+$rsss, }$(rss "${w#*:}")"
		cpus="${cpus:+$cpus, }$(awk -v a="$(cpu "${w#*:}")" -v b="$1" -v t="$TICKS" 'BEGIN { printf "%.2f", (a - b) / t }')"
		shift
	done
	med=$(for x in $rates; do echo "$x"; done | median)
	[ -n "$BASE" ] || BASE=$med
	echo "| $H | $held | $(echo $rates | sed 's/ /, /g') | $med | $rsss | $cpus |"
	stop_agents
	stack_helperd_stop >/dev/null 2>&1 || :
	stack_stop
done
echo
echo "Ratio of the last helperd count's median to the first's: $(awk -v a="$med" -v b="$BASE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
