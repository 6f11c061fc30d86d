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
# LOADS: agent_load processes sharing N (default: one per 15,000 agents), each from its
# own loopback address (127.0.0.2, .3, ...), so that no process needs more than 20,000
# descriptors and no source address runs out of its ~28,000 ephemeral ports. As root the
# descriptor limits are raised here for helperd (which raises its soft limit to the hard
# one itself, up to 131,072: helperd/main.c).
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
LOADS=${LOADS:-$(((N + 14999) / 15000))}
FILL_TIMEOUT=${FILL_TIMEOUT:-1800}

. scripts/stack.sh
dir=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-agents.XXXXXX")
pid=
loads=
cleanup() {
	for p in $loads; do kill -TERM "$p" 2>/dev/null || :; done
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# helperd holds N agent sockets; root may raise the hard limit it raises its own to.
[ "$(id -u)" != 0 ] || ulimit -Hn 140000 2>/dev/null || :

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export KAIDEN_DATABASE_DRIVER=sqlite KAIDEN_DATABASE_PATH="$dir/kaiden.db"
export KAIDEN_LOG_LEVEL=warn KAIDEN_HELPERD_HEARTBEAT="$HEARTBEAT"
port=$(stack_free_port)
mport=$(stack_free_port)
export KAIDEN_HELPERD_LISTEN="127.0.0.1:$port" KAIDEN_HELPERD_METRICS="127.0.0.1:$mport"

now_ms() { date +%s%3N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# utime + stime in clock ticks.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
connected() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk '$1 == "kaiden_agents_connected" { print $2 }'; }
metrics() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | grep -E '^kaiden_agent' || true; }

start_helperd() {
	"$B/bin/kaiden-helperd" 2>>"$dir/helperd.log" &
	pid=$!
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$mport/metrics"; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { cat "$dir/helperd.log" >&2; exit 1; }
		sleep 0.02
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
start_helperd
rss0=$(rss_kb "$pid")
echo "agents: N=$N mode=$MODE loads=$LOADS heartbeat=${HEARTBEAT}s duration=${DURATION}s hash=$HASH tickets=$TICKETS; helperd rss $rss0 kB idle, open file limit $(awk '/Max open files/ {print $4}' "/proc/$pid/limits")"

# Each load process gets an equal share of the agents and of the rate, and its own lines
# of the devices file (agent_load uses line i % lines).
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
	"$B/tests/agent_load" --url "ws://127.0.0.1:$port" --bind "127.0.0.$((i + 2))" \
		--devices "$dir/devices.$i" -n "$n" --rate $((RATE / LOADS)) "$@" \
		>"$dir/load.$i.out" 2>&1 &
	loads="$loads $!"
	i=$((i + 1))
done

wait_all "$FILL_TIMEOUT"
t1=$(now_ms)
rss1=$(rss_kb "$pid")
echo "agents: $N of $N welcomed in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s ($LOADS load processes)"
echo "agents: server rss $rss0 kB -> $rss1 kB, $(awk -v a="$rss0" -v b="$rss1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }') bytes per welcomed agent"

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
	start_helperd
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
c0=$(cpu_ticks "$pid")
s0=$(now_ms)
sleep "$DURATION"
c1=$(cpu_ticks "$pid")
s1=$(now_ms)
rss2=$(rss_kb "$pid")
echo "agents: steady state (all connected, heartbeats every ${HEARTBEAT}s): server cpu $(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" -v s0="$s0" -v s1="$s1" 'BEGIN { printf "%.2f s over %.1f s (%.2f%% of a core)", (b - a) / t, (s1 - s0) / 1000, 100 * (b - a) / t / ((s1 - s0) / 1000) }'), rss $rss1 kB -> $rss2 kB"
echo "agents: $(cut -d' ' -f1-3 /proc/loadavg) load average at the end; smaps_rollup of helperd:"
grep -E '^(Rss|Pss_Anon|Pss_File|Anonymous)' "/proc/$pid/smaps_rollup" | sed 's/^/    /'
metrics
for p in $loads; do wait "$p" || echo "agents: a load process failed" >&2; done
loads=
cat "$dir"/load.*.out
