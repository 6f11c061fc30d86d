#!/bin/sh
# agents.sh: kaiden-helperd under N simulated agents (tests/bench/agent_load), straight
# to its TCP listener (nginx's dev config allows 512 connections per worker).
#
#   B=build N=10000 DURATION=60 HEARTBEAT=20 HASH=cheap sh tests/bench/agents.sh
#   B=build N=10000 MODE=storm TICKETS=1 sh tests/bench/agents.sh
#
# A throwaway SQLite database with N devices sharing one secret. HASH=cheap stores that
# secret's argon2id hash at libsodium's minimum cost so that N logins take seconds: the
# figure wanted here is memory and CPU per connected agent. HASH=real uses the product's
# cost (64 MiB, ~0.1 s of a core per login).
#
# MODE=load (the default): prints the time to authenticate everyone, helperd's RSS growth
# per agent ("bytes per welcomed agent"), and its CPU while the agents heartbeat for
# DURATION seconds (measured here, from /proc, once helperd counts all N connected).
#
# MODE=storm: a reconnect storm. All N log in (cheap hash), then the hash is swapped for
# the product's cost of the same secret (without bumping secret_version: the tickets
# stay valid, as after a real restart), helperd is killed with SIGKILL and started again
# at once, and the agents reconnect as kaiden-agent does after a lost link (1, 2, 4 ...
# s). Prints the time from the kill until helperd counts all N connected again, and how
# many came back on a ticket. TICKETS=1 (default) lets the agents offer the tickets of
# their welcome (protocol 4); TICKETS=0 is the old behaviour: every agent pays argon2id.
#
# LOADS: agent_load processes sharing N (default: one per 15,000 agents; rounded up to a
# multiple of HELPERDS), each from its own loopback address (127.0.0.2, .3, ...), so that no process
# needs more than 20,000 descriptors and no source address runs out of its ~28,000
# ephemeral ports. As root the descriptor limits are raised here for helperd (which
# raises its soft limit to the hard one itself, up to 131,072: helperd/main.c).
#
# DB=postgres (default sqlite): a private PostgreSQL (scripts/pg.sh, single mode) instead
# of the SQLite file. HELPERDS=M (default 1; more need DB=postgres): M helperds on that
# database (instances agents-1 ... agents-M), each on its own TCP listener; load process
# i dials helperd i % M, so the agents are spread evenly (issue 15's "agents per helperd
# with several helperds"). Then every figure is printed per helperd, the steady state adds
# PostgreSQL's CPU (its server processes), and the first line says how the agents landed
# (devices.helperd). MODE=storm is SQLite's only (it swaps the hash with sqlite3).
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
N=${N:-1000}
DURATION=${DURATION:-30}
HEARTBEAT=${HEARTBEAT:-20}
HASH=${HASH:-cheap}
RATE=${RATE:-2000}
MODE=${MODE:-load}
TICKETS=${TICKETS:-1}
DB=${DB:-sqlite}
HELPERDS=${HELPERDS:-1}
LOADS=${LOADS:-$(((N + 14999) / 15000))}
# A multiple of HELPERDS, so that every helperd gets the same share.
LOADS=$(((LOADS + HELPERDS - 1) / HELPERDS * HELPERDS))
FILL_TIMEOUT=${FILL_TIMEOUT:-1800}
case $DB in sqlite | postgres) ;; *) echo "agents: DB is sqlite or postgres" >&2; exit 2 ;; esac
case $HELPERDS in [1-9]) ;; *) echo "agents: HELPERDS is 1 to 9" >&2; exit 2 ;; esac
if [ "$HELPERDS" -gt 1 ] && [ "$DB" != postgres ]; then
	echo "agents: HELPERDS=$HELPERDS needs DB=postgres (a SQLite file has one helperd)" >&2
	exit 2
fi
if [ "$MODE" = storm ] && [ "$DB" != sqlite ]; then
	echo "agents: MODE=storm runs on SQLite only" >&2
	exit 2
fi

. scripts/stack.sh
dir=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-agents.XXXXXX")
# pids, ports and metrics ports of the helperds, one word each, helperd 1 first.
pids=
ports=
mports=
loads=
cleanup() {
	for p in $loads; do kill -TERM "$p" 2>/dev/null || :; done
	for p in $pids; do kill -TERM "$p" 2>/dev/null || :; done
	for p in $pids; do wait "$p" 2>/dev/null || :; done
	[ "$DB" != postgres ] || stack_db_stop >/dev/null 2>&1 || :
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# helperd holds N agent sockets; root may raise the hard limit it raises its own to.
[ "$(id -u)" != 0 ] || ulimit -Hn 140000 2>/dev/null || :

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
if [ "$DB" = postgres ]; then
	# shellcheck disable=SC2034 # read by scripts/stack.sh
	STACK_QUIET=1
	stack_init "$dir/stack" postgres auto >/dev/null
	stack_db_start
	unset KAIDEN_SERVER_SOCKET
else
	export KAIDEN_DATABASE_DRIVER=sqlite KAIDEN_DATABASE_PATH="$dir/kaiden.db"
fi
export KAIDEN_LOG_LEVEL=warn KAIDEN_HELPERD_HEARTBEAT="$HEARTBEAT"
h=1
while [ "$h" -le "$HELPERDS" ]; do
	ports="$ports $(stack_free_port)"
	mports="$mports $(stack_free_port)"
	h=$((h + 1))
done

now_ms() { date +%s%3N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# utime + stime in clock ticks.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# nth I WORDS...: the I-th word (from 1).
nth() {
	_n=$1
	shift
	eval "echo \${$_n}"
}
# The helperds' kaiden_agents_connected, summed (connected) or one (connected_of I).
connected_of() { curl -s --max-time 5 "http://127.0.0.1:$(nth "$1" $mports)/metrics" | awk '$1 == "kaiden_agents_connected" { print $2 }'; }
connected() {
	_sum=0
	_h=1
	while [ "$_h" -le "$HELPERDS" ]; do
		_c=$(connected_of "$_h")
		_sum=$((_sum + ${_c:-0}))
		_h=$((_h + 1))
	done
	echo "$_sum"
}
metrics() {
	_h=1
	for _m in $mports; do
		[ "$HELPERDS" -eq 1 ] || echo "helperd $_h:"
		curl -s --max-time 5 "http://127.0.0.1:$_m/metrics" | grep -E '^kaiden_agent' || true
		_h=$((_h + 1))
	done
}
# PostgreSQL's server processes' CPU ticks (the postmaster's children: the helperds'
# backends, the checkpointer, the WAL writer ...; one that ended is not counted).
pg_ticks() {
	_pm=$(head -n 1 "$dir/stack/pg/data/postmaster.pid")
	for _s in /proc/[0-9]*/stat; do
		awk -v pm="$_pm" '{ sub(/.*\) /, ""); if ($2 == pm) print $12 + $13 }' "$_s" 2>/dev/null
	done | awk '{ t += $1 } END { print t + 0 }'
}

# start_helperd I: helperd I on its ports (instance agents-I), waited for; its pid is
# word I of $pids.
start_helperd() {
	KAIDEN_HELPERD_INSTANCE=agents-$1 KAIDEN_HELPERD_LISTEN="127.0.0.1:$(nth "$1" $ports)" \
		KAIDEN_HELPERD_METRICS="127.0.0.1:$(nth "$1" $mports)" \
		"$B/bin/kaiden-helperd" 2>>"$dir/helperd-$1.log" &
	pids="$pids $!"
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$(nth "$1" $mports)/metrics"; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { cat "$dir/helperd-$1.log" >&2; exit 1; }
		sleep 0.02
	done
}
start_helperds() {
	pids=
	_h=1
	while [ "$_h" -le "$HELPERDS" ]; do
		start_helperd "$_h"
		_h=$((_h + 1))
	done
}

# wait_all LIMIT_S: until helperd counts N agents connected; fails after LIMIT_S, or at
# once when every load process has ended (in load mode an agent closed during the fill
# does not come back: a machine too busy for lws's 10 s handshake timeout says so here).
wait_all() {
	_end=$(($(date +%s) + $1))
	until [ "$(connected)" = "$N" ]; do
		_alive=
		for _p in $loads; do ! kill -0 "$_p" 2>/dev/null || _alive=1; done
		if [ -z "$_alive" ]; then
			echo "agents: only $(connected) of $N connected, and the load processes are done:" >&2
			cat "$dir"/load.*.out >&2
			return 1
		fi
		if [ "$(date +%s)" -ge "$_end" ]; then
			echo "agents: only $(connected) of $N connected after $1 s" >&2
			return 1
		fi
		sleep 0.1
	done
}

"$B/bin/kaiden-api" migrate >/dev/null
cheap=
[ "$HASH" = real ] && [ "$MODE" != storm ] || cheap=--cheap-hash
real=
[ "$MODE" != storm ] || real="--real-hash $dir/real.hash"
# shellcheck disable=SC2086
"$B/tests/agent_load" --create "$N" --out "$dir/devices" $cheap $real
start_helperds
pid=$(nth 1 $pids)
# rss_all: every helperd's VmRSS, one word each.
rss_all() { for _p in $pids; do rss_kb "$_p"; done | tr '\n' ' '; }
cpu_all() { for _p in $pids; do cpu_ticks "$_p"; done | tr '\n' ' '; }
rss0=$(rss_all)
echo "agents: N=$N mode=$MODE db=$DB helperds=$HELPERDS loads=$LOADS heartbeat=${HEARTBEAT}s duration=${DURATION}s hash=$HASH tickets=$TICKETS; helperd rss $(echo $rss0 | sed 's/ / kB, /g') kB idle, open file limit $(awk '/Max open files/ {print $4}' "/proc/$pid/limits")"

# Each load process gets an equal share of the agents and of the rate, and its own lines
# of the devices file (agent_load uses line i % lines); process i dials helperd i % M.
each=$((N / LOADS))
extra=$((N - each * LOADS))
t0=$(now_ms)
i=0
first=1
while [ "$i" -lt "$LOADS" ]; do
	n=$each
	[ "$i" -ne 0 ] || n=$((each + extra))
	sed -n "${first},$((first + n - 1))p" "$dir/devices" >"$dir/devices.$i"
	first=$((first + n))
	if [ "$MODE" = storm ]; then
		set -- --reconnect --duration 30 --timeout "$FILL_TIMEOUT"
		[ "$TICKETS" != 1 ] || set -- "$@" --tickets
	else
		set -- --duration $((DURATION + 20)) --timeout "$FILL_TIMEOUT"
	fi
	"$B/tests/agent_load" --url "ws://127.0.0.1:$(nth $((i % HELPERDS + 1)) $ports)" \
		--bind "127.0.0.$((i + 2))" --devices "$dir/devices.$i" -n "$n" \
		--rate $((RATE / LOADS)) "$@" >"$dir/load.$i.out" 2>&1 &
	loads="$loads $!"
	i=$((i + 1))
done

wait_all "$FILL_TIMEOUT"
t1=$(now_ms)
rss1=$(rss_all)
echo "agents: $N of $N welcomed in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s ($LOADS load processes)"
if [ "$HELPERDS" -eq 1 ]; then
	echo "agents: server rss $rss0 kB -> $rss1 kB, $(awk -v a="$rss0" -v b="$rss1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }') bytes per welcomed agent"
else
	echo "agents: held by instance (devices.helperd): $(psql -X -q -A -t "$KAIDEN_DATABASE_OWNER_DSN" -c "SELECT string_agg(helperd || ' ' || n, ', ' ORDER BY helperd) FROM (SELECT helperd, count(*) AS n FROM devices WHERE status = 'online' GROUP BY helperd) c")"
	h=1
	while [ "$h" -le "$HELPERDS" ]; do
		a=$(nth "$h" $rss0)
		b=$(nth "$h" $rss1)
		c=$(connected_of "$h")
		echo "agents: helperd $h: $c agents, rss $a kB -> $b kB, $(awk -v a="$a" -v b="$b" -v n="$c" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1024 / n; else print "-" }') bytes per welcomed agent"
		h=$((h + 1))
	done
fi

if [ "$MODE" = storm ]; then
	# The product's cost from here on, secret_version untouched (see the top).
	sqlite3 -cmd ".timeout 10000" "$dir/kaiden.db" "DROP TRIGGER devices_secret_version;
		UPDATE devices SET secret_hash = '$(cat "$dir/real.hash")';
		CREATE TRIGGER devices_secret_version AFTER UPDATE OF secret_hash ON devices
		WHEN NEW.secret_hash IS NOT OLD.secret_hash
		BEGIN UPDATE devices SET secret_version = OLD.secret_version + 1 WHERE id = NEW.id; END;"
	tk=$(now_ms)
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || :
	start_helperds
	pid=$(nth 1 $pids)
	tr=$(now_ms)
	wait_all "$FILL_TIMEOUT"
	tb=$(now_ms)
	echo "agents: storm: helperd killed (SIGKILL) and started again in $((tr - tk)) ms; all $N back online $(awk -v a="$tk" -v b="$tb" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s after the kill (tickets=$TICKETS)"
	for p in $loads; do wait "$p" || echo "agents: a load process failed" >&2; done
	loads=
	cat "$dir"/load.*.out
	metrics
	exit 0
fi

# Steady state: DURATION seconds of heartbeats, nothing else.
c0=$(cpu_all)
[ "$DB" != postgres ] || g0=$(pg_ticks)
s0=$(now_ms)
sleep "$DURATION"
c1=$(cpu_all)
[ "$DB" != postgres ] || g1=$(pg_ticks)
s1=$(now_ms)
rss2=$(rss_all)
TCK=$(getconf CLK_TCK)
# share A B: "S s over W s (P% of a core)" for A -> B ticks over the interval.
share() { awk -v a="$1" -v b="$2" -v t="$TCK" -v s0="$s0" -v s1="$s1" 'BEGIN { printf "%.2f s over %.1f s (%.2f%% of a core)", (b - a) / t, (s1 - s0) / 1000, 100 * (b - a) / t / ((s1 - s0) / 1000) }'; }
h=1
for p in $pids; do
	if [ "$HELPERDS" -eq 1 ]; then what="server"; else what="helperd $h"; fi
	echo "agents: steady state (all connected, heartbeats every ${HEARTBEAT}s): $what cpu $(share "$(nth "$h" $c0)" "$(nth "$h" $c1)"), rss $(nth "$h" $rss1) kB -> $(nth "$h" $rss2) kB"
	h=$((h + 1))
done
[ "$DB" != postgres ] || echo "agents: steady state: PostgreSQL cpu $(share "$g0" "$g1")"
echo "agents: $(cut -d' ' -f1-3 /proc/loadavg) load average at the end; smaps_rollup of helperd 1:"
grep -E '^(Rss|Pss_Anon|Pss_File|Anonymous)' "/proc/$pid/smaps_rollup" | sed 's/^/    /'
metrics
for p in $loads; do wait "$p" || echo "agents: a load process failed" >&2; done
loads=
cat "$dir"/load.*.out
