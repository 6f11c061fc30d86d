#!/bin/sh
# agents.sh: kaiden-helperd under N simulated agents (tests/bench/agent_load), straight
# to its TCP listener (nginx's dev config allows 512 connections per worker).
#
#   B=build N=10000 DURATION=60 HEARTBEAT=20 HASH=cheap sh tests/bench/agents.sh
#
# A throwaway SQLite database with N devices sharing one secret. HASH=cheap stores that
# secret's argon2id hash at libsodium's minimum cost so that N logins take seconds: the
# figure wanted here is memory and CPU per connected agent. HASH=real uses the product's
# cost (64 MiB, ~0.1 s of a core per login): that measures a reconnect storm. Prints
# agent_load's lines: time to authenticate everyone, helperd's RSS growth per agent, and
# its CPU use while the agents heartbeat.
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
N=${N:-1000}
DURATION=${DURATION:-30}
HEARTBEAT=${HEARTBEAT:-20}
HASH=${HASH:-cheap}
RATE=${RATE:-2000}

. scripts/stack.sh
dir=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-agents.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export KAIDEN_DATABASE_DRIVER=sqlite KAIDEN_DATABASE_PATH="$dir/kaiden.db"
export KAIDEN_LOG_LEVEL=warn KAIDEN_HELPERD_HEARTBEAT="$HEARTBEAT"
port=$(stack_free_port)
mport=$(stack_free_port)
export KAIDEN_HELPERD_LISTEN="127.0.0.1:$port" KAIDEN_HELPERD_METRICS="127.0.0.1:$mport"

"$B/bin/kaiden-api" migrate >/dev/null
cheap=
[ "$HASH" = real ] || cheap=--cheap-hash
"$B/tests/agent_load" --create "$N" --out "$dir/devices" $cheap
"$B/bin/kaiden-helperd" 2>"$dir/helperd.log" &
pid=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$mport/metrics"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$dir/helperd.log" >&2; exit 1; }
	sleep 0.1
done
echo "agents: N=$N heartbeat=${HEARTBEAT}s duration=${DURATION}s hash=$HASH; helperd rss $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status") idle"
"$B/tests/agent_load" --url "ws://127.0.0.1:$port" --devices "$dir/devices" -n "$N" \
	--rate "$RATE" --duration "$DURATION" --timeout 1200 --pid "$pid"
curl -s "http://127.0.0.1:$mport/metrics" | grep -E '^kaiden_agent' || true
