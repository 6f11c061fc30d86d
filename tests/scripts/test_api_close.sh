#!/usr/bin/env bash
# test_api_close.sh: how kaiden-api ends a FastCGI connection (issue 14: system calls per
# request). libfcgi's own close shuts the write side down and waits in poll() for nginx
# to close first; kaiden-api skips that wait when the request's input was read to its
# end (fcgi-app/main.c, finish_request), and keeps it when a body was left unread, where
# closing at once could reset the connection under the reply.
#
# One kaiden-api on SQLite with a single worker and libfcgi's wait made endless
# (LIBFCGI_OS_CLOSE_POLL_TIMEOUT=-1), on its Unix socket and then on TCP; a FastCGI client
# (fcgi_close.py) speaks to it as nginx does, and holds a finished request's connection
# open while it makes a second one. With libfcgi's wait left in, the one worker stays in
# it and the second request is never answered (the client's 30 s timeout fails it: on
# the code before finish_request, 4 of these checks fail); with a body left unread the
# reply must still arrive whole.
#
#   B=build bash tests/scripts/test_api_close.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh
. scripts/stack.sh

kaiden_env_clear
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-close.XXXXXX")
chmod 0711 "$WORK"
TCP_PID=

finish() {
	if [ -n "$TCP_PID" ]; then
		kill "$TCP_PID" 2>/dev/null
		wait "$TCP_PID" 2>/dev/null
	fi
	stack_stop >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "  kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" sqlite auto || exit 1
export KAIDEN_SERVER_THREADS=1 LIBFCGI_OS_CLOSE_POLL_TIMEOUT=-1
if ! { stack_db_start && stack_migrate && stack_api_start; }; then
	bad "kaiden-api starts" "$(tail -5 "$STACK_DIR/log/kaiden-api.log" 2>/dev/null)"
	summary
	exit 1
fi

# run WHERE SOCKET CHECK
run() {
	local out
	if out=$(timeout 100 "$PY" tests/scripts/fcgi_close.py "$2" "$3" 2>&1); then
		ok "$1, $3: $out"
	else
		bad "$1, $3" "$out"
	fi
}

SOCK=$(stack_api_socket 1)
for c in get body-read body-unread; do run "Unix socket" "$SOCK" "$c"; done
check "kaiden-api still runs" alive "$STACK_API_PID"

# The same over TCP (server.socket in libfcgi's host:port form), where a reset does lose
# what the peer has not read yet.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$STACK_BIN" serve --socket "127.0.0.1:$PORT" </dev/null >>"$WORK/tcp.log" 2>&1 &
TCP_PID=$!
for _ in $(seq 100); do
	grep -q "ready" "$WORK/tcp.log" 2>/dev/null && break
	alive "$TCP_PID" || break
	sleep 0.1
done
if grep -q "ready" "$WORK/tcp.log"; then
	for c in get body-read body-unread; do run "TCP" "127.0.0.1:$PORT" "$c"; done
	check "kaiden-api on TCP still runs" alive "$TCP_PID"
else
	bad "kaiden-api listens on 127.0.0.1:$PORT" "$(tail -5 "$WORK/tcp.log")"
fi
summary
