#!/usr/bin/env bash
# test_run_several.sh: `make run DB=postgres HELPERDS=2 APIS=2` (scripts/run.sh; issue 15).
# First the refusal on SQLite (a clear message, nothing started). Then the stack of two
# of each, in a temporary VAR on a free port, in its own process group as a terminal
# would run it: the banner says which pid is which; both kaiden-apis answer requests
# through nginx (each request found by its own X-Request-Id in one kaiden-api's log);
# an agent's WebSocket upgrade reaches both helperds (its "agent online" line in each
# one's log); one helperd is SIGKILLed: run.sh reports it and stays, nginx passes over
# it (requests and agents still served, by the other helperd); then SIGINT to the
# group, as Ctrl-C does: run.sh stops and leaves no process behind. Every wait is for a
# state (a log line, a banner), bounded only so that a broken run ends.
#
#   B=build bash tests/scripts/test_run_several.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh

kaiden_env_clear

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-several.XXXXXX")
# PostgreSQL runs as user postgres when we are root: it must be able to enter WORK.
chmod 0711 "$WORK"
VAR=$WORK/var
PORT=$(. scripts/stack.sh && stack_free_port) || {
	bad "a free port" "stack_free_port found none"
	summary
	exit 1
}
RUN_PID=

finish() {
	group_end "$RUN_PID" "$WORK"
	if [ -n "${KEEP:-}" ]; then echo "  kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- SQLite: refused -------------------------------------------------------------------
if PORT=$PORT VAR=$WORK/sqlite DB=sqlite B=$B HELPERDS=2 APIS=2 sh scripts/run.sh \
	>"$WORK/sqlite.out" 2>&1 </dev/null; then
	bad "HELPERDS=2 APIS=2 on SQLite is refused" "run.sh exited 0"
else
	check "HELPERDS=2 APIS=2 on SQLite is refused, saying to use DB=postgres" \
		grep -q 'need PostgreSQL: add DB=postgres' "$WORK/sqlite.out"
fi
check "the refusal started nothing" [ ! -e "$WORK/sqlite/run/kaiden-api.pid" ]
if PORT=$PORT VAR=$WORK/sqlite DB=postgres B=$B HELPERDS=x sh scripts/run.sh \
	>"$WORK/bad.out" 2>&1 </dev/null; then
	bad "HELPERDS=x is refused" "run.sh exited 0"
else
	check "HELPERDS=x is refused, naming the value" grep -q "not 'x'" "$WORK/bad.out"
fi

# ---- two of each ---------------------------------------------------------------------------
set -m
PORT=$PORT VAR=$VAR DB=postgres B=$B HELPERDS=2 APIS=2 KAIDEN_LOG_LEVEL=info \
	sh scripts/run.sh >"$WORK/run.out" 2>&1 </dev/null &
RUN_PID=$!
set +m
if ! output_wait "make run HELPERDS=2 APIS=2 prints its banner with the processes" \
	"$WORK/run.out" '^    nginx ' "$RUN_PID" 600; then
	summary
	exit 1
fi

# pid_of NAME: the pid the banner gives for "NAME" (kaiden-api 2, kaiden-helperd 1, nginx).
pid_of() {
	sed -n "s/^    $1 *pid \([0-9]*\) .*/\1/p" "$WORK/run.out" | head -n 1
}
cmd_of() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null
}
A1=$(pid_of 'kaiden-api 1')
A2=$(pid_of 'kaiden-api 2')
H1=$(pid_of 'kaiden-helperd 1')
H2=$(pid_of 'kaiden-helperd 2')
NG=$(pid_of nginx)
check "kaiden-api 1 is the pid serving run/kaiden-api.sock" \
	[ "$(cmd_of "$A1")" = "$PWD/$B/bin/kaiden-api serve --socket $VAR/run/kaiden-api.sock " ]
check "kaiden-api 2 is the pid serving run/kaiden-api-2.sock" \
	[ "$(cmd_of "$A2")" = "$PWD/$B/bin/kaiden-api serve --socket $VAR/run/kaiden-api-2.sock " ]
for h in "1 $H1" "2 $H2"; do
	check "kaiden-helperd ${h% *} is pid ${h#* }, a kaiden-helperd" \
		[ "$(cmd_of "${h#* }")" = "$PWD/$B/bin/kaiden-helperd " ]
done
check "the helperds have names of their own" \
	grep -q "kaiden-helperd 2 .*helperd-2.sock, instance $(uname -n)-2, http://127.0.0.1:" "$WORK/run.out"
check "nginx is the pid the banner says" alive "$NG"
check "nginx's upstreams have both sockets of each" \
	[ "$(grep -c 'server unix:' "$VAR/nginx/upstreams.conf")" = 4 ]

TOKEN=$(cat "$VAR/admin.token")
URL=http://127.0.0.1:$PORT

# get N: GET /api/v1/devices with request id sev-$$-N; its status.
get() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $TOKEN" \
		-H "X-Request-Id: sev-$$-$1" "$URL/api/v1/devices"
}

# served_by_both WHAT: GETs until each kaiden-api's log has one of them (at most 12: nginx
# alternates, per worker, between the two), every one 200.
served_by_both() {
	local i code seen1='' seen2=''
	for i in $(seq 12); do
		REQ=$((REQ + 1))
		code=$(get "$REQ")
		if [ "$code" != 200 ]; then
			bad "$1" "GET /api/v1/devices answered $code"
			return
		fi
		# The line is written once the reply has gone: wait for it in one of the logs.
		for _ in $(seq 100); do
			grep -qs "req=sev-$$-$REQ " "$VAR/log/kaiden-api.log" && { seen1=1; break; }
			grep -qs "req=sev-$$-$REQ " "$VAR/log/kaiden-api-2.log" && { seen2=1; break; }
			sleep 0.05
		done
		if [ -n "$seen1" ] && [ -n "$seen2" ]; then
			ok "$1"
			return
		fi
	done
	bad "$1" "12 requests, kaiden-api 1 logged ${seen1:-none}, kaiden-api 2 ${seen2:-none}"
}
REQ=0
served_by_both "both kaiden-apis answer requests through nginx"

# An agent through nginx, as a real one connects: a device made by the API.
code=$(curl -s -o "$WORK/device.json" -w '%{http_code}' --max-time 20 \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"name":"several"}' "$URL/api/v1/devices")
check "a device is registered" [ "$code" = 201 ]
DEV=$(jq -r .id "$WORK/device.json")
SECRET=$(jq -r .secret "$WORK/device.json")
case $B in /*) AL=$B/tests/agent_load ;; *) AL=$PWD/$B/tests/agent_load ;; esac

# agent_once: one agent connection through nginx that must be welcomed; 0 or 1.
agent_once() {
	"$AL" --url "ws://127.0.0.1:$PORT" --device "$DEV" --secret "$SECRET" \
		--expect-welcome --hold 0 --timeout 20 >>"$WORK/agent.out" 2>&1
}

# online_count LOG: how many times the agent came online at that helperd.
online_count() {
	grep -cs "device=$DEV agent online" "$1" || :
}

# agents_reach_both: agents one after another until each helperd has welcomed one (at
# most 12; each logs "agent online" before its welcome goes out).
agents_reach_both() {
	local i
	for i in $(seq 12); do
		if ! agent_once; then
			bad "an agent's WebSocket reaches each helperd" "connection $i: $(tail -n 1 "$WORK/agent.out")"
			return
		fi
		if [ "$(online_count "$VAR/log/kaiden-helperd.log")" -gt 0 ] &&
			[ "$(online_count "$VAR/log/kaiden-helperd-2.log")" -gt 0 ]; then
			ok "an agent's WebSocket reaches each helperd through nginx"
			return
		fi
	done
	bad "an agent's WebSocket reaches each helperd" \
		"12 connections: helperd 1 $(online_count "$VAR/log/kaiden-helperd.log"), helperd 2 $(online_count "$VAR/log/kaiden-helperd-2.log")"
}
agents_reach_both

# ---- one helperd killed --------------------------------------------------------------------
kill -KILL "$H2"
for _ in $(seq 100); do
	grep -q "kaiden-helperd 2 (pid $H2) exited" "$WORK/run.out" && break
	sleep 0.1
done
check "run.sh reports the killed helperd" \
	grep -q "kaiden: kaiden-helperd 2 (pid $H2) exited (status 137): left down, the rest serve on" "$WORK/run.out"
check "run.sh stays up" alive "$RUN_PID"
check "the other helperd runs on" alive "$H1"
check "no stop was begun" [ -z "$(grep 'stopping' "$WORK/run.out")" ]
check "/healthz still answers 200" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/healthz")" = 200 ]
served_by_both "both kaiden-apis still answer"
before=$(online_count "$VAR/log/kaiden-helperd.log")
all_ok=1
for i in 1 2 3 4; do
	agent_once || { all_ok=; break; }
done
if [ -n "$all_ok" ]; then
	ok "agents still connect, four in a row, nginx passing over the dead helperd"
else
	bad "agents still connect with one helperd down" "$(tail -n 1 "$WORK/agent.out")"
fi
check "the live helperd welcomed each of them" \
	[ "$(online_count "$VAR/log/kaiden-helperd.log")" -eq $((before + 4)) ]

# ---- Ctrl-C ---------------------------------------------------------------------------------
kill -INT -- "-$RUN_PID"
for _ in $(seq 150); do alive "$RUN_PID" || break; sleep 0.2; done
if alive "$RUN_PID"; then bad "Ctrl-C stops run.sh" "it still runs"; else ok "Ctrl-C stops run.sh"; fi
left=$(leftovers "$RUN_PID" "$WORK" | cut -d' ' -f1 | grep -vx "$$" | tr '\n' ' ')
check "no process is left behind ($left)" [ -z "$left" ]
RUN_PID=

summary
