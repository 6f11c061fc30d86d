#!/usr/bin/env bash
# test_agent_relay.sh: kaiden-agent's side of the relay (agent/PROTOCOL.md, "The relay
# (protocol version 2)") against tests/fakes/fake_helperd_relay.py, which plays helperd's
# control and data sockets and runs real TCP targets on loopback (echo, a greeter that
# closes, a 200 MB flood, a sink that never reads, a counter). Checks: hello version 2;
# relay.start -> tunnel.ready (idempotent) and the heartbeat; the data socket's path,
# subprotocol and key; 4 MB and 100 concurrent streams byte-identical; both ways of
# ending; relay_ports refusal, a refused connection, an unknown session, a 401 data
# socket; a text frame -> 4000; a stalled reader and a stalled target each bound the
# agent's RSS while 200 MB wait (and the flood then arrives whole); tunnel.stop closes
# the streams; SIGTERM; no stream key in the log; over wss:// (--ca-file) the data
# socket is TLS verified with the same CA.
#   B=build bash tests/scripts/test_agent_relay.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh
B=${B:-build}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-agent-relay.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$B/bin/kaiden-agent" ]; then
	bad "kaiden-agent is built" "$B/bin/kaiden-agent is missing (make)"
	summary
	exit 1
fi
# A bad agent.relay_ports stops the agent at start-up with the item named (exit 2).
printf 'x\n' >"$WORK/secret" && chmod 600 "$WORK/secret"
KAIDEN_RELAY_PORTS=22,abc timeout 10 "$B/bin/kaiden-agent" --server ws://127.0.0.1:1/api/v1/ws/agent \
	--insecure --device-id d --secret-file "$WORK/secret" >"$WORK/bad.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'agent.relay_ports: .abc. is not a port' "$WORK/bad.out"; then
	ok "a bad KAIDEN_RELAY_PORTS is refused at start-up, naming the item"
else
	bad "a bad KAIDEN_RELAY_PORTS is refused at start-up" "exit $rc: $(cat "$WORK/bad.out")"
fi
timeout 10 "$B/bin/kaiden-agent" --server ws://127.0.0.1:1/api/v1/ws/agent --insecure \
	--device-id d --secret-file "$WORK/secret" --relay-ports 22,70000 >"$WORK/bad.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q '70000' "$WORK/bad.out"; then
	ok "--relay-ports is checked the same way"
else
	bad "--relay-ports is checked" "exit $rc: $(cat "$WORK/bad.out")"
fi

timeout 300 "$PY" tests/fakes/fake_helperd_relay.py --agent "$B/bin/kaiden-agent" \
	--work "$WORK" >"$WORK/results" 2>"$WORK/errors"
rc=$?
lines=0
while IFS=$'\t' read -r verdict what why; do
	case $verdict in
	ok) ok "$what"; lines=$((lines + 1)) ;;
	bad) bad "$what" "$why"; lines=$((lines + 1)) ;;
	info) [ -z "${VERBOSE:-}" ] || echo "  info $what" ;;
	esac
done <"$WORK/results"
# A scenario that died early (or printed nothing) must not look like a pass.
if [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ]; then
	bad "the fake helperd ran" "exit $rc: $(tail -5 "$WORK/errors")"
fi
[ "$lines" -ge 30 ] || bad "every scenario reported" "only $lines checks ran"
if [ "$FAIL" -ne 0 ]; then
	echo "  (the agent's log, last lines)"
	tail -20 "$WORK/agent.log" 2>/dev/null | sed 's/^/    /'
fi
summary
