# shellcheck shell=sh
# The browsers' live event stream across helperds (helperd/events_relay.h). On
# PostgreSQL a second helperd runs beside the stack's (its own instance name, on a
# loopback port of its own, not behind nginx: a browser that nginx sent to it), and a
# stream held at it hears what the stack's helperd makes: a device's agent coming
# online there, and going offline; the stream at the maker gets each event once (its
# own NOTIFY back is not published again); the relay counters say out at the maker, in
# at the other. On SQLite (one helperd) nothing is relayed: the maker's "out" counter
# stays absent while the event reaches its own stream.
#
# Self-contained, in a tenant of its own ("er", deleted at the end with its device);
# starts helperd if no case left it running (and stops it again), an agent of its own,
# and on PostgreSQL the second helperd, stopped at the end.

ER=$WORK/er
mkdir -p "$ER"
case $B in /*) ER_BIN=$B/bin ;; *) ER_BIN=$STACK_ROOT/$B/bin ;; esac
ER_SAVED_TOKEN=$STACK_TOKEN
ER_OWN_HELPERD=
ER_H2=

# er_metric URL SERIES: its value in that helperd's /metrics (0 if absent).
er_metric() {
	_v=$(curl -s --max-time 5 "$1" | awk -v m="$2" '$1 == m { print $2 }')
	echo "${_v:-0}"
}

# er_stream NAME URL MATCH: a script's stream (tests/scripts/ws_events.py) at URL with the
# tenant's service token, in the background until an event containing MATCH (60 s at most);
# returns once it says connected. Its pid in ER_STREAM, its output in $ER/NAME.out.
er_stream() {
	python3 "$STACK_ROOT/tests/scripts/ws_events.py" --url "$2" --token-file "$ER/svc.token" \
		--timeout 60 --match "$3" >"$ER/$1.out" 2>&1 &
	ER_STREAM=$!
	case_pids "$ER_STREAM"
	_i=0
	until grep -q '^connected$' "$ER/$1.out" 2>/dev/null || [ "$_i" -ge 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# er_heard NAME PID: one test: the stream PID ended having seen its match.
er_heard() {
	if wait "$2"; then ok "$1"; else bad "$1" "$(tail -c 600 "$ER/${3:-x}.out" 2>/dev/null)"; fi
}

# ---- the tenant, its token, helperd, a device -------------------------------------------------
platform_admin er ER_ADMIN
STACK_TOKEN=$ER_ADMIN
t "a tenant for the relay" POST /api/v1/admin/tenants '{"code":"er","name":"Events Relay"}' 201
save ER_TENANT .id
cli "its service token" ER_SVC token create --tenant er --name 'er svc'
(umask 077 && printf '%s\n' "$ER_SVC" >"$ER/svc.token")
STACK_TOKEN=$ER_SVC
if [ -z "${STACK_HELPERD_PID:-}" ] || ! kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	if stack_helperd_start; then ok "helperd starts"; else bad "helperd starts" "see its log"; fi
	ER_OWN_HELPERD=1
fi
t "a device" POST /api/v1/devices '{"name":"er-host"}' 201
save ER_DEV .device_id
(umask 077 && jq -r .secret "$T/body" >"$ER/device.secret")
ER_ONLINE="\"type\":\"device\",\"id\":\"$ER_DEV\",\"status\":\"online\""
ER_OFFLINE="\"type\":\"device\",\"id\":\"$ER_DEV\",\"status\":\"offline\""
ER_OUT0=$(er_metric "$STACK_METRICS_URL" 'kaiden_events_relayed_total{direction="out"}')

if [ "$SUITE_DB" = postgres ]; then
	# ---- a second helperd, and a browser's stream at it ---------------------------------------
	ER_PORT=$(stack_free_port)
	ER_MPORT=$(stack_free_port)
	ER_M2=http://127.0.0.1:$ER_MPORT/metrics
	KAIDEN_HELPERD_INSTANCE=er-second KAIDEN_HELPERD_LISTEN=127.0.0.1:$ER_PORT \
		KAIDEN_HELPERD_METRICS=127.0.0.1:$ER_MPORT "$ER_BIN/kaiden-helperd" \
		</dev/null >>"$WORK/log/kaiden-helperd-er.log" 2>&1 &
	ER_H2=$!
	case_pids "$ER_H2"
	_i=0
	until curl -sf -o /dev/null --max-time 2 "$ER_M2" || [ "$_i" -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	if curl -sf -o /dev/null --max-time 2 "$ER_M2"; then
		ok "a second helperd runs (instance er-second)"
	else
		bad "a second helperd runs (instance er-second)" "$(tail -n 5 "$WORK/log/kaiden-helperd-er.log")"
	fi
	wait_for "... listening on PostgreSQL" 10 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kaiden-helperd-listen'" 2
	er_stream at-second "ws://127.0.0.1:$ER_PORT/api/v1/ws/events" "$ER_ONLINE"
	ER_S2=$ER_STREAM
fi
# A stream at the stack's helperd (through nginx): the maker's own.
er_stream at-maker "ws://127.0.0.1:$STACK_PORT/api/v1/ws/events" "$ER_OFFLINE"
ER_S1=$ER_STREAM

# ---- the agent comes online at the stack's helperd --------------------------------------------
"$ER_BIN/kaiden-agent" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
	--device-id "$ER_DEV" --secret-file "$ER/device.secret" \
	</dev/null >>"$WORK/log/kaiden-agent-er.log" 2>&1 &
ER_AGENT=$!
case_pids "$ER_AGENT"
wait_for "its agent is online (at the stack's helperd)" 15 "SELECT status FROM devices WHERE id = '$ER_DEV'" online
if [ "$SUITE_DB" = postgres ]; then
	er_heard "a stream at the other helperd hears it come online" "$ER_S2" at-second
	er_stream at-second-off "ws://127.0.0.1:$ER_PORT/api/v1/ws/events" "$ER_OFFLINE"
	ER_S2=$ER_STREAM
fi

# ---- and goes offline -------------------------------------------------------------------------
kill -TERM "$ER_AGENT" 2>/dev/null
wait "$ER_AGENT" 2>/dev/null || :
wait_for "its agent is offline" 15 "SELECT status FROM devices WHERE id = '$ER_DEV'" offline
er_heard "the stream at the maker hears online and offline" "$ER_S1" at-maker
ER_N=$(grep -c "$ER_ONLINE" "$ER/at-maker.out")
if [ "$ER_N" = 1 ]; then ok "... online once"; else bad "... online once" "$ER_N times: $(cat "$ER/at-maker.out")"; fi
ER_OUT1=$(er_metric "$STACK_METRICS_URL" 'kaiden_events_relayed_total{direction="out"}')
if [ "$SUITE_DB" = postgres ]; then
	er_heard "the stream at the other helperd hears it go offline" "$ER_S2" at-second-off
	if awk -v a="$ER_OUT1" -v b="$ER_OUT0" 'BEGIN { exit !(a - b >= 2) }'; then
		ok "the maker counts them out ($ER_OUT0 -> $ER_OUT1)"
	else
		bad "the maker counts them out" "$ER_OUT0 -> $ER_OUT1"
	fi
	ER_IN=$(er_metric "$ER_M2" 'kaiden_events_relayed_total{direction="in"}')
	if awk -v a="$ER_IN" 'BEGIN { exit !(a >= 2) }'; then
		ok "... the other one in ($ER_IN)"
	else
		bad "... the other one in" "$ER_IN"
	fi
	stack__stop_pid "$ER_H2" TERM 15 kaiden-helperd-er
	if [ "$STACK_STATUS" = 0 ]; then ok "the second helperd stops"; else bad "the second helperd stops" "exit $STACK_STATUS"; fi
else
	if [ "$ER_OUT1" = 0 ]; then
		ok "SQLite, one helperd: nothing relayed"
	else
		bad "SQLite, one helperd: nothing relayed" "out counter $ER_OUT1"
	fi
fi

# ---- the tenant goes --------------------------------------------------------------------------
STACK_TOKEN=$ER_ADMIN
t "the tenant is deleted" DELETE "/api/v1/admin/tenants/$ER_TENANT" '' 204
STACK_TOKEN=$ER_SAVED_TOKEN
if [ -n "$ER_OWN_HELPERD" ]; then
	stack_helperd_stop >/dev/null 2>&1 || :
fi
