#!/bin/sh
# sessions.sh: how long a session takes to set up and tear down, and how many Cloudflare
# API calls each costs.
#
#   B=build N=20 LATENCIES="0 100" sh tests/bench/sessions.sh
#
# One stack on SQLite (scripts/stack.sh: kaiden-api, nginx, kaiden-helperd with the
# Cloudflare provider pointed at tests/fakes/fake_cloudflare.py), one real kaiden-agent
# through nginx running the fake cloudflared (tests/fakes/fake_cloudflared.py as
# `cloudflared` on PATH, KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=0). For each latency the
# fake adds to every API call, N sessions one after another (tests/bench/sessions.py):
# setup = POST /sessions until GET /sessions/{id} says "active" (polled every 20 ms),
# teardown = DELETE until "ended"; the fake's log counts the API calls between the marks.
# helperd runs with its defaults (on SQLite it looks for new jobs every 250 ms).
# LOG_LEVEL (default warn) is every process's KAIDEN_LOG_LEVEL: info gives the timeline of
# each setup (helperd's claim, tunnel.start, active; the agent's spawn and ready); with
# BENCH_KEEP=1 the logs stay in the work directory.
#
# The fake cloudflared is a Python process: its start-up (a few hundred ms of imports) is
# inside every setup time. The real cloudflared starts faster but then dials the edge.
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
N=${N:-20}
LATENCIES=${LATENCIES:-0 100}
LOG_LEVEL=${LOG_LEVEL:-warn}

# shellcheck source=scripts/stack.sh
. scripts/stack.sh
case $B in /*) BDIR=$B ;; *) BDIR=$(pwd -P)/$B ;; esac
for f in kaiden-api kaiden-helperd kaiden-agent; do
	[ -x "$BDIR/bin/$f" ] || { echo "sessions: $BDIR/bin/$f is missing: build first" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-sessions.XXXXXX")
CF_PID=
AGENT_PID=
finish() {
	trap - EXIT INT TERM
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID" 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	stack_helperd_stop >/dev/null 2>&1 || true
	stack_stop
	if [ -n "$CF_PID" ]; then
		kill "$CF_PID" 2>/dev/null || true
		wait "$CF_PID" 2>/dev/null || true
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then echo "sessions: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export KAIDEN_LOG_LEVEL=$LOG_LEVEL
export KAIDEN_CF_DOMAIN=kaiden.test  # the fake zone (its example default counts as unset)
# kaiden-api picks each session's provider when it makes the row, and it has no
# KAIDEN_CF_* settings here ("auto" would give relay sessions): ask for Cloudflare.
export KAIDEN_TUNNEL_PROVIDER=cloudflare
CF_TOKEN=fake-cf-token-$$
CF_ACCOUNT=0123456789abcdef0123456789abcdef
CF_ZONE=fedcba9876543210fedcba9876543210
mkdir -p "$WORK/bin" "$WORK/cfd" "$WORK/log"
ln -sf "$(pwd -P)/tests/fakes/fake_cloudflared.py" "$WORK/bin/cloudflared"

python3 tests/fakes/fake_cloudflare.py --port 0 --port-file "$WORK/cf.port" \
	--token "$CF_TOKEN" --account "$CF_ACCOUNT" --zone "$CF_ZONE" --zone-name kaiden.test \
	>"$WORK/log/fake-cf.log" 2>&1 &
CF_PID=$!
i=0
while [ ! -s "$WORK/cf.port" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "sessions: the fake Cloudflare API did not start" >&2; exit 1; }
	sleep 0.1
done
CF_URL=http://127.0.0.1:$(cat "$WORK/cf.port")

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" sqlite auto
stack_up
KAIDEN_CF_API_BASE=$CF_URL/client/v4 KAIDEN_CF_ACCOUNT_ID=$CF_ACCOUNT \
	KAIDEN_CF_ZONE_ID=$CF_ZONE KAIDEN_CF_API_TOKEN=$CF_TOKEN \
	KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test \
	stack_helperd_start

dev=$(curl -sS --fail-with-body -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: application/json' -d '{"name":"bench-sessions"}' "$STACK_URL/api/v1/devices")
DEV_ID=$(printf '%s' "$dev" | jq -r .device_id)
printf '%s' "$dev" | jq -r .secret >"$WORK/agent.secret"
chmod 600 "$WORK/agent.secret"
PATH="$WORK/bin:$PATH" KAIDEN_FAKE_CF_URL=$CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$WORK/cfd \
	KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=0 \
	"$BDIR/bin/kaiden-agent" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
	--device-id "$DEV_ID" --secret-file "$WORK/agent.secret" >>"$WORK/log/kaiden-agent.log" 2>&1 &
AGENT_PID=$!
i=0
until [ "$(sqlite3 "$STACK_DB_PATH" "SELECT status FROM devices WHERE id = '$DEV_ID'")" = online ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "sessions: the agent did not come online" >&2; tail "$WORK/log/kaiden-agent.log" >&2; exit 1; }
	sleep 0.1
done

echo
echo "## sessions: SQLite, one kaiden-agent with the fake cloudflared (Python, start-up included), N=$N one after another, times in ms"
echo
echo "| API latency | N | setup p50 | setup p95 | setup max | teardown p50 | teardown p95 | teardown max | CF calls per start | CF calls per end |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for lat in $LATENCIES; do
	echo "sessions: $N sessions at ${lat} ms per Cloudflare call" >&2
	python3 tests/bench/sessions.py "$STACK_URL" "$STACK_TOKEN" "$DEV_ID" "$CF_URL" "$N" "$lat" "$WORK/calls.txt"
done
echo
sed 's/^/    /' "$WORK/calls.txt"
if [ "$LOG_LEVEL" = info ]; then
	echo
	echo "Where the setup time went:"
	echo
	python3 tests/bench/session_timeline.py "$STACK_DIR/log/kaiden-helperd.log" \
		"$WORK/log/kaiden-agent.log" "$N" $LATENCIES
fi
