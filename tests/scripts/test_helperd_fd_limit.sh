#!/usr/bin/env bash
# test_helperd_fd_limit.sh: kaiden-helperd at its descriptor limit (issue 14: agents by the
# ten thousand, reconnect storms). One helperd on SQLite under a limit of 64 descriptors;
# a client (started before the limit is lowered) opens 200 connections to its agent
# socket and holds them. lws's table is made for its share of the limit
# (helperd/main.c, create_context): past it a connection is closed by lws, instead of
# accept(2) failing with EMFILE and being retried at once for ever (a core spent, the
# log filled: "lws: accept: errno 24"). Checked while the connections are held:
# helperd's descriptors reached lws's share and stayed below the limit, and no accept
# failed. Then the client closes them, and a request on a new connection gets helperd's
# answer: accepting goes on.
#
#   B=build bash tests/scripts/test_helperd_fd_limit.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh
. scripts/stack.sh

kaiden_env_clear
LIMIT=64
SHARE=32 # lws's: the limit less half of it (helperd/main.c, FD_RESERVE)
CONNS=200
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-fdlimit.XXXXXX")
chmod 0711 "$WORK"
CLIENT_PID=

finish() {
	touch "$WORK/release" "$WORK/go"
	if [ -n "$CLIENT_PID" ]; then
		kill "$CLIENT_PID" 2>/dev/null
		wait "$CLIENT_PID" 2>/dev/null
	fi
	stack_helperd_stop >/dev/null 2>&1
	stack_stop >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "  kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# wait_for WHAT FILE: up to 30 s for FILE to appear (the client's steps).
wait_for() {
	for _ in $(seq 150); do
		[ -e "$2" ] && return 0
		alive "$CLIENT_PID" || break
		sleep 0.2
	done
	bad "$1" "$2 did not appear"
	return 1
}

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" sqlite auto || exit 1
if ! { stack_db_start && stack_migrate; }; then
	bad "the stack's database" "did not start"
	summary
	exit 1
fi
SOCK=$(stack_helperd_socket 1)

cat >"$WORK/client.py" <<'PY'
import os, socket, sys, time
sock, conns, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def wait(name):
    while not os.path.exists(os.path.join(work, name)):
        time.sleep(0.05)
def mark(name, text=""):
    with open(os.path.join(work, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(work, name + ".tmp"), os.path.join(work, name))
wait("go")
held = []
for _ in range(conns):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sock)
    except OSError:  # EAGAIN: the listen queue is full, what waits is enough
        s.close()
        break
    held.append(s)
mark("held", str(len(held)))
wait("release")
for s in held:
    s.close()
# A request on a new connection, once helperd takes new connections again.
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sock)
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
answer = s.recv(256).decode("latin-1").split("\r\n")[0]
mark("answer", answer)
PY
"$PY" "$WORK/client.py" "$SOCK" "$CONNS" "$WORK" 2>"$WORK/client.err" &
CLIENT_PID=$!

# helperd under the limit (raise_fd_limit can raise the soft limit only to the hard one)
ulimit -n "$LIMIT"
if ! stack_helperd_start; then
	bad "helperd starts under a limit of $LIMIT descriptors" "$(tail -5 "$STACK_DIR/log/kaiden-helperd.log")"
	summary
	exit 1
fi
HPID=$STACK_HELPERD_PID
LOG=$STACK_DIR/log/kaiden-helperd.log
check "helperd logs its limit" grep -q "open file limit $LIMIT" "$LOG"

touch "$WORK/go"
wait_for "the client opened its connections" "$WORK/held"
fds() { find "/proc/$HPID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# helperd accepts until lws holds its share
n=0
for _ in $(seq 150); do
	n=$(fds)
	[ "$n" -ge "$SHARE" ] && break
	sleep 0.2
done
if [ "$n" -ge "$SHARE" ]; then ok "helperd took connections up to lws's share ($n descriptors)"; else
	bad "helperd took connections up to lws's share" "$n descriptors open, $(cat "$WORK/held") connections made"
fi
# The old code failed its first accept within microseconds of reaching the limit and
# from then on without pause; a second gives it every chance to show.
sleep 1
n=$(fds)
if [ "$n" -lt "$LIMIT" ]; then ok "helperd stays below its limit ($n of $LIMIT)"; else
	bad "helperd stays below its limit" "$n descriptors open of $LIMIT"
fi
if grep -q "errno 24" "$LOG"; then
	bad "no accept fails at the limit" "$(grep "errno 24" "$LOG" | head -3)"
else
	ok "no accept fails at the limit"
fi
check "helperd still runs" alive "$HPID"

touch "$WORK/release"
if wait_for "a new connection is answered after the others closed" "$WORK/answer"; then
	if grep -q '^HTTP/1\.1 ' "$WORK/answer"; then
		ok "a new connection is answered after the others closed ($(cat "$WORK/answer"))"
	else
		bad "a new connection is answered after the others closed" "answer: $(cat "$WORK/answer")"
	fi
fi
summary
