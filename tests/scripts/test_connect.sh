#!/usr/bin/env bash
# test_connect.sh: kaiden-connect, the engineer's client of the relay, against
# tests/fakes/fake_helperd_connect.py, which STANDS FOR THE PLANNED helperd endpoint
# /api/v1/ws/connect (agent/PROTOCOL.md, "Engineer side"; helperd does not serve it yet).
# Checks: 20 MB stdin -> stdout byte-identical through a pipe; --listen with a TCP client;
# each refusal's message and exit status; the token is never in argv and --token is refused.
#   B=build bash tests/scripts/test_connect.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh
B=${B:-build}
BIN=$B/bin/kaiden-connect
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-connect.XXXXXX")
TOKEN="connect-test-token-$$-secret"
SIZE=20000000
FAKE_PID=
LISTEN_PID=
cleanup() {
	for pid in $LISTEN_PID $FAKE_PID; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

"$PY" tests/fakes/fake_helperd_connect.py --port-file "$WORK/port" --token "$TOKEN" \
	--log "$WORK/requests" --echo-close-after "$SIZE" &
FAKE_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
SERVER="http://127.0.0.1:$PORT"
export KAIDEN_TOKEN=$TOKEN

# run SESSION [ARGS...]: kaiden-connect with stdin from /dev/null; sets RC and ERR.
run() {
	local s=$1
	shift
	timeout 20 "$BIN" --server "$SERVER" --session "$s" --insecure "$@" </dev/null \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	ERR=$(cat "$WORK/err")
}

# expect WHAT RC MESSAGE-SUBSTRING
expect() {
	if [ "$RC" -eq "$2" ] && [[ $ERR == *"$3"* ]] && [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ]; then
		ok "$1"
	else
		bad "$1" "exit $RC (want $2), stderr: $ERR"
	fi
}

# 20 MB through a pipe, stdin -> relay -> stdout, byte-identical.
head -c "$SIZE" /dev/urandom >"$WORK/in"
want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)
got=$(cat "$WORK/in" | timeout 60 "$BIN" --server "$SERVER" --session echo --insecure \
	2>"$WORK/err" | sha256sum | cut -d' ' -f1)
if [ "$got" = "$want" ]; then ok "20 MB stdin->stdout byte-identical"; else
	bad "20 MB stdin->stdout" "sha256 $got, want $want; stderr: $(cat "$WORK/err")"; fi
check "the request went to the protocol's path" grep -qx '/api/v1/ws/connect/echo?target=ssh' "$WORK/requests"

# SIGTERM while a stream is open (held open: its stdin is a FIFO this test keeps open
# with 1 MB written, and the fake echoes until SIZE bytes): exit 0 at once, quietly, and no
# crash (it once started the library's teardown twice and died with SIGSEGV).
mkfifo "$WORK/held"
"$BIN" --server "$SERVER" --session echo --insecure <"$WORK/held" >"$WORK/sink" 2>"$WORK/err" &
KC=$!
exec 7>"$WORK/held"
head -c 1048576 /dev/zero >&7
for _ in $(seq 200); do
	[ "$(stat -c %s "$WORK/sink" 2>/dev/null || echo 0)" -ge 1048576 ] && break
	sleep 0.05
done
check "the held stream echoed its 1 MB before SIGTERM" [ "$(stat -c %s "$WORK/sink")" -ge 1048576 ]
kill -TERM "$KC"
RC=0; wait "$KC" || RC=$?
exec 7>&-
ERR=$(cat "$WORK/err")
if [ "$RC" = 0 ] && [ -z "$ERR" ]; then ok "SIGTERM mid-stream: exit 0, nothing on stderr"; else
	bad "SIGTERM mid-stream" "exit $RC, stderr: $ERR"; fi

# Refusals: one line on stderr, a distinct exit status.
run missing;   expect "404: session not found" 5 "session not found"
run ended;     expect "409: not active / agent offline" 6 "not active, or its agent is offline"
run forbidden; expect "403: not allowed" 4 "not allowed"
run busy;      expect "429: too many streams" 8 "too many streams"
run refused;   expect "close 4050: target refused" 7 "target refused: connection refused by 127.0.0.1:22"
KAIDEN_TOKEN=wrong run echo; expect "401: wrong token" 4 "token was refused"
SERVER=http://127.0.0.1:1 run echo; expect "server unreachable" 3 "cannot reach the server"
timeout 5 "$BIN" --server "http://127.0.0.1:$PORT" --session echo </dev/null 2>"$WORK/err"
RC=$? ERR=$(cat "$WORK/err"); expect "http:// without --insecure" 2 "--insecure"
timeout 5 "$BIN" --server "$SERVER" --session echo --insecure --token "$TOKEN" </dev/null 2>"$WORK/err"
RC=$? ERR=$(cat "$WORK/err"); expect "--token is refused" 2 "--token is refused"
printf '%s\n' "$TOKEN" >"$WORK/token"
chmod 600 "$WORK/token"
KAIDEN_TOKEN= run refused --token-file "$WORK/token"; expect "--token-file is read" 7 "target refused"

# --listen: two TCP clients, one stream each (target web); the token is not in argv.
LPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" --server "$SERVER" --session echo --target web --insecure --listen "127.0.0.1:$LPORT" \
	2>"$WORK/listen.err" &
LISTEN_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/listen.err" 2>/dev/null && break; sleep 0.1; done
if tr '\0' ' ' <"/proc/$LISTEN_PID/cmdline" | grep -q "$TOKEN"; then bad "token not in argv" "found in ps"
else ok "the token is not in the process's argv"; fi
# (the grep filters ps to kaiden-connect's own lines first: grep's argv holds the token)
if ps -eo args | grep '^[^ ]*kaiden-connect' | grep -qF "$TOKEN"; then bad "token not in ps" "ps shows it"; else ok "ps never shows the token"; fi
reply=$("$PY" - "$LPORT" <<'PYEOF'
import socket, sys
out = []
for word in (b"first stream", b"second stream"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(word)
    got = b""
    while len(got) < len(word):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    out.append(got.decode())
print("|".join(out))
PYEOF
)
if [ "$reply" = "first stream|second stream" ]; then ok "--listen: each TCP client gets its own stream"
else bad "--listen" "got '$reply'; stderr: $(cat "$WORK/listen.err")"; fi
check "--listen asked for target=web" grep -qx '/api/v1/ws/connect/echo?target=web' "$WORK/requests"

# A stalled reader: stdout is a FIFO nobody reads while the fake floods 200 MiB. The
# client must stop reading the WebSocket (rx flow control) instead of buffering: once the
# fake's progress has stopped (held state: the FIFO is not read), it has sent far less
# than 200 MiB and the client's RSS is small. Then reading the FIFO drains all of it.
mkfifo "$WORK/fifo"
timeout 120 "$BIN" --server "$SERVER" --session flood --insecure </dev/null >"$WORK/fifo" \
	2>"$WORK/flood.err" &
FLOOD_PID=$!
exec 3<"$WORK/fifo"
last=-1
for _ in $(seq 100); do
	now=$(grep -c '^flood ' "$WORK/requests")
	[ "$now" -eq "$last" ] && break
	last=$now
	sleep 0.5
done
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$FLOOD_PID/status")
if [ "$last" -lt 100 ] && [ "${rss:-999999}" -lt 65536 ]; then
	ok "stalled reader: the server stopped after $last MiB, client RSS ${rss} kB"
else
	bad "stalled reader" "server sent $last MiB, client RSS ${rss:-?} kB"
fi
got=$(wc -c <&3)
exec 3<&-
wait "$FLOOD_PID"
RC=$?
if [ "$got" -eq $((200 << 20)) ] && [ "$RC" -eq 0 ]; then ok "after the stall, all 200 MiB arrive"
else bad "after the stall" "got $got bytes, exit $RC: $(cat "$WORK/flood.err")"; fi

summary
