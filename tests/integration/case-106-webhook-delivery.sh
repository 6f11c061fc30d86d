# shellcheck shell=sh
# Webhook delivery by kaiden-helperd (issue 11), against tests/fakes/webhook_receiver.py,
# a receiver that verifies each request's signature as a customer's would and records
# it (arrival time, event id, verdict, what it answered).
#
# helperd is restarted with webhooks.allow_loopback (the receiver is on 127.0.0.1 over
# http), retry_base 1 s, retry_max 2 s and give_up 6 s, so that retries, their backoff
# and the disable happen within seconds. Asserted: every request is signed and verifies;
# Kaiden-Event-Id is the event's id; per hook the events arrive in order, a failing one
# holding the later ones back (two 500s, then the rest); the gaps between attempts are at
# least the backoff (1 s, then 2 s); a redirect is answered, never followed, and counts
# as a failure; a hook failing for give_up seconds is disabled with an audit entry and its
# held deliveries stay pending, to arrive in order once it is re-enabled; one hook held
# at its receiver does not hold another's; the delivery log in the database; the
# metrics; no secret or signature in helperd's log; a tenant's hook hears its tenant's
# events only (the emission runs in the tenant's scope, as kaiden-api's, so on PostgreSQL
# row-level security holds), a platform hook every tenant's. Hooks and events come from
# tests/fakes/webhook_seed (the store functions kaiden-api calls). Ends with helperd
# restarted on the defaults.

W106=$WORK/w106
mkdir -p "$W106"
case $B in /*) W106_SEED=$B/tests/webhook_seed ;; *) W106_SEED=$STACK_ROOT/$B/tests/webhook_seed ;; esac
W106_LOG=$STACK_DIR/log/kaiden-helperd.log

# ---- helpers ------------------------------------------------------------------------------

# w106_rcv METHOD PATH [JSON on stdin: pass "-"]: the receiver's control API; the body
# lands in $W106/rcv, the status is printed.
w106_rcv() {
	if [ "${3:-}" = - ]; then
		curl -s --max-time 40 -X "$1" -H 'Content-Type: application/json' --data-binary @- \
			-o "$W106/rcv" -w '%{http_code}' "$W106_RCV$2"
	else
		curl -s --max-time 40 -X "$1" -o "$W106/rcv" -w '%{http_code}' "$W106_RCV$2"
	fi
}

# w106_config NAME JSON: merges JSON into the settings of the receiver's path /h/NAME.
w106_config() {
	printf '%s' "$2" | w106_rcv POST "/_config/h/$1" - >/dev/null
}

# w106_hook NAME TENANT EVENTS: a hook of TENANT ("platform": platform-wide) for EVENTS (a
# JSON array) at the receiver's /h/NAME, whose secret the receiver is given (on stdin,
# never in an argument). W106_ID is its id.
w106_hook() {
	W106_ID=
	_out=$("$W106_SEED" hook "$2" "$W106_RCV/h/$1" "$3") || {
		bad "hook $1 created" "webhook_seed failed"
		return 0
	}
	W106_ID=${_out%% *}
	_secret=${_out#* }
	echo "$_secret" >>"$W106/secrets"
	printf '{"secret":"%s"}' "$_secret" | w106_rcv POST "/_config/h/$1" - >/dev/null
}

# w106_emit TENANT TYPE N: N events, their ids one a line in $W106/events.
w106_emit() {
	"$W106_SEED" event "$1" "$2" "$3" >"$W106/events" || bad "$3 $2 events emitted" "webhook_seed failed"
}

# w106_wait NAME WHAT N: blocks (30 s at most) until the receiver's /h/NAME has N recorded
# requests (WHAT count) or N requests waiting at its gate (WHAT held); the log is in
# $W106/rcv. 0 when reached.
w106_wait() {
	_q="path=/h/$1&count=$3&timeout=30"
	[ "$2" != held ] || _q="$_q&held=1"
	[ "$(w106_rcv GET "/_wait?$_q")" = 200 ]
}

# w106_jq NAME FILTER: one test: jq -e FILTER holds on the last receiver answer.
w106_jq() {
	if jq -e "$2" "$W106/rcv" >/dev/null 2>&1; then
		ok "$1"
	else
		LAST="receiver log"
		CODE=-
		bad "$1" "does not hold: $2 (log: $(jq -c '[.requests[] | [.path, .body_id, .status, .verdict]]' "$W106/rcv" 2>/dev/null | head -c 600))"
	fi
}

# w106_dbwait NAME SECONDS SQL WANT: one test: dbq SQL prints WANT within SECONDS.
w106_dbwait() {
	_i=0
	while :; do
		_got=$(dbq "$3" 2>&1) || _got="(query failed) $_got"
		if [ "$_got" = "$4" ]; then ok "$1"; return 0; fi
		if [ "$_i" -ge $(($2 * 10)) ]; then
			LAST="SQL $3"
			CODE=-
			bad "$1" "after $2 s got '$_got', want '$4'"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# w106_metric SERIES: the value of one series on helperd's /metrics (0 if absent).
w106_metric() {
	curl -s --max-time 5 "$STACK_METRICS_URL" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'
}

# ---- the receiver and helperd -----------------------------------------------------------

python3 tests/fakes/webhook_receiver.py --port-file "$W106/port" --log "$W106/requests.jsonl" \
	>/dev/null 2>"$W106/receiver.err" &
W106_RCV_PID=$!
CASE_PIDS="${CASE_PIDS:-} $W106_RCV_PID"
_i=0
while [ ! -s "$W106/port" ] && [ "$_i" -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
W106_RCV=http://127.0.0.1:$(cat "$W106/port" 2>/dev/null)
if [ "$(w106_rcv GET /_health)" = 200 ]; then ok "the webhook receiver answers"; else bad "the webhook receiver answers" "$(cat "$W106/receiver.err")"; fi

stack_helperd_stop >/dev/null 2>&1 || :
if KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1 KAIDEN_WEBHOOKS_RETRY_BASE=1 KAIDEN_WEBHOOKS_RETRY_MAX=2 \
	KAIDEN_WEBHOOKS_GIVE_UP=6 stack_helperd_start; then
	ok "helperd starts with the webhook test settings"
else
	bad "helperd starts with the webhook test settings" "see $W106_LOG"
fi
W106_T=00000000-0000-0000-0000-000000000000

# ---- order, retries, backoff, signatures ------------------------------------------------

w106_hook a "$W106_T" '["ticket.created"]'
W106_A=$W106_ID
w106_config a '{"fail_first":2,"fail_status":500}'
w106_emit "$W106_T" ticket.created 3
W106_E1=$(sed -n 1p "$W106/events")
W106_E2=$(sed -n 2p "$W106/events")
W106_E3=$(sed -n 3p "$W106/events")
if w106_wait a count 5; then ok "hook a: 5 requests (2 failures, then 3 deliveries)"; else bad "hook a: 5 requests" "$(head -c 400 "$W106/rcv")"; fi
w106_jq "hook a: every request's signature verifies with the hook's secret" \
	'.requests | length == 5 and all(.verdict == "ok")'
w106_jq "hook a: Kaiden-Event-Id is the event's id; User-Agent and Content-Type" \
	'.requests | all(.event_id == .body_id and .user_agent == "Kaiden-Webhooks/1" and .content_type == "application/json")'
w106_jq "hook a: the first event until it succeeds, then the others, in order" \
	"[.requests[].body_id] == [\"$W106_E1\", \"$W106_E1\", \"$W106_E1\", \"$W106_E2\", \"$W106_E3\"] and [.requests[].status] == [500, 500, 200, 200, 200]"
w106_jq "hook a: each event delivered once (event ids unique among the deliveries)" \
	'[.requests[] | select(.status == 200) | .event_id] | (unique | length) == 3'
w106_jq "hook a: the retries waited at least the backoff (1 s, then 2 s)" \
	'.requests as $r | ($r[1].arrival - $r[0].arrival) >= 1 and ($r[2].arrival - $r[1].arrival) >= 2'
w106_jq "hook a: the signature's t is the time of the attempt" \
	'.requests | all(.t >= (.arrival | floor) - 1 and .t <= .answered + 1)'
w106_jq "hook a: the event body is the stored one: id, type, tenant_id" \
	".requests | all(.type == \"ticket.created\" and .tenant_id == \"$W106_T\")"
dbcheck "hook a: the delivery log (attempts, status, last_status, response time)" \
	"SELECT attempts || ' ' || status || ' ' || last_status || ' ' || CASE WHEN response_ms IS NULL THEN 'no-ms' ELSE 'ms' END || ' ' || CASE WHEN delivered_at IS NULL THEN '-' ELSE 'at' END FROM webhook_deliveries WHERE webhook_id = '$W106_A' ORDER BY id" \
	"3 delivered 200 ms at
1 delivered 200 ms at
1 delivered 200 ms at"
dbcheck "hook a: the first delivery's first failure is kept in the log" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_A' AND first_failed_at IS NOT NULL" 1
dbcheck "hook a: healthy again (failing_since cleared)" \
	"SELECT count(*) FROM webhooks WHERE id = '$W106_A' AND failing_since IS NULL AND status = 'active'" 1
w106_dbwait "hook a: its job is done once nothing is pending" 10 \
	"SELECT count(*) FROM jobs WHERE webhook_id = '$W106_A' AND state IN ('queued', 'running')" 0
dbcheck "hook a: the hook's lease was given back" \
	"SELECT count(*) FROM webhooks WHERE id = '$W106_A' AND locked_by IS NULL" 1

# ---- two hooks at once: one held at its receiver does not hold the other -------------------

w106_hook g1 "$W106_T" '["device.online"]'
w106_hook g2 "$W106_T" '["device.online"]'
w106_config g1 '{"hold":true}'
w106_emit "$W106_T" device.online 1
if w106_wait g1 held 1; then ok "hook g1: its delivery is held at the receiver"; else bad "hook g1: its delivery is held at the receiver" "$(head -c 300 "$W106/rcv")"; fi
if w106_wait g2 count 1; then ok "hook g2 is delivered while g1's request is held"; else bad "hook g2 is delivered while g1's request is held" "$(head -c 300 "$W106/rcv")"; fi
w106_rcv GET /_release/h/g1 >/dev/null
if w106_wait g1 count 1; then ok "hook g1: delivered once released"; else bad "hook g1: delivered once released" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "hook g1: answered 200 with a good signature" '.requests | length == 1 and .[0].status == 200 and .[0].verdict == "ok"'

# ---- a redirect is a failure; a day (here 6 s) of failures disables; re-enable resumes ----

w106_hook r "$W106_T" '["ticket.updated"]'
W106_R=$W106_ID
w106_config r '{"redirect":"/h/elsewhere"}'
w106_emit "$W106_T" ticket.updated 1
W106_R1=$(sed -n 1p "$W106/events")
if w106_wait r count 2; then ok "hook r: a 302 is retried"; else bad "hook r: a 302 is retried" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "hook r: both attempts were the same event, answered 302" \
	"[.requests[] | [.body_id, .status]] == [[\"$W106_R1\", 302], [\"$W106_R1\", 302]]"
w106_rcv GET "/_log?path=/h/elsewhere" >/dev/null
w106_jq "hook r: the redirect was never followed" '.requests | length == 0'
dbcheck "hook r: the log says why (last_status 302, redirects not followed), still pending" \
	"SELECT status || ' ' || last_status || ' ' || CASE WHEN last_error LIKE '%redirects are not followed%' THEN 'why' ELSE coalesce(last_error, '-') END FROM webhook_deliveries WHERE webhook_id = '$W106_R'" \
	"pending 302 why"
dbcheck "hook r: failing since its first failure" \
	"SELECT count(*) FROM webhooks WHERE id = '$W106_R' AND failing_since IS NOT NULL" 1
# Two more events: held behind the failing one.
w106_emit "$W106_T" ticket.updated 2
W106_R2=$(sed -n 1p "$W106/events")
W106_R3=$(sed -n 2p "$W106/events")
w106_dbwait "hook r: disabled after failing for give_up seconds" 30 \
	"SELECT status || ' ' || CASE WHEN disabled_reason LIKE 'deliveries failing since %' THEN 'reason' ELSE coalesce(disabled_reason, '-') END FROM webhooks WHERE id = '$W106_R'" \
	"disabled reason"
dbcheck "hook r: the disable has its audit entry (by helperd, on the hook, in its tenant)" \
	"SELECT count(*) FROM audit_log WHERE action = 'webhook.disable' AND target_type = 'webhook' AND target_id = '$W106_R' AND actor_email = '(kaiden-helperd)' AND tenant_id = '$W106_T'" 1
dbcheck "hook r: its three deliveries are still pending" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_R' AND status = 'pending'" 3
w106_dbwait "hook r: no job left running for a disabled hook" 10 \
	"SELECT count(*) FROM jobs WHERE webhook_id = '$W106_R' AND state IN ('queued', 'running')" 0
w106_rcv GET "/_log?path=/h/r" >/dev/null
W106_RN=$(jq '.requests | length' "$W106/rcv")
w106_jq "hook r: only the first event was ever sent while it failed" \
	"(.requests | length) >= 3 and (.requests | all(.body_id == \"$W106_R1\" and .status == 302))"
# The receiver is fixed; the hook re-enabled: the held events arrive, in order.
w106_config r '{"redirect":null}'
if "$W106_SEED" resume "$W106_T" "$W106_R"; then ok "hook r re-enabled"; else bad "hook r re-enabled" "webhook_seed resume failed"; fi
if w106_wait r count $((W106_RN + 3)); then ok "hook r: the held deliveries arrive after the re-enable"; else bad "hook r: the held deliveries arrive after the re-enable" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "hook r: in order, each once, signed" \
	"[.requests[$W106_RN:][] | [.body_id, .status, .verdict]] == [[\"$W106_R1\", 200, \"ok\"], [\"$W106_R2\", 200, \"ok\"], [\"$W106_R3\", 200, \"ok\"]]"
dbcheck "hook r: active and healthy again" \
	"SELECT status || ' ' || coalesce(disabled_reason, '-') || ' ' || coalesce(CAST(failing_since AS TEXT), '-') FROM webhooks WHERE id = '$W106_R'" \
	"active - -"

# ---- tenants: a tenant's hook hears its own tenant's events only; a platform hook all ----

W106_T2=11111111-0106-4106-8106-000000000106
dbq "INSERT INTO tenants (id, code, name) VALUES ('$W106_T2', 'w106', 'Webhooks 106')" >/dev/null ||
	bad "a second tenant" "insert failed"
w106_hook t1 "$W106_T" '["session.started"]'
W106_H1=$W106_ID
w106_hook t2 "$W106_T2" '["session.started"]'
W106_H2=$W106_ID
w106_hook p platform '["session.started"]'
W106_HP=$W106_ID
w106_emit "$W106_T" session.started 2
W106_D1=$(sed -n 1p "$W106/events")
W106_D2=$(sed -n 2p "$W106/events")
w106_emit "$W106_T2" session.started 1
W106_X1=$(sed -n 1p "$W106/events")
dbcheck "tenants: deliveries exist only to the event's tenant's hooks and the platform's" \
	"SELECT (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_H1') || ' ' || (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_H1' AND tenant_id = '$W106_T') || ' ' || (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_H2') || ' ' || (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_H2' AND tenant_id = '$W106_T2') || ' ' || (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_HP')" \
	"2 2 1 1 3"
if w106_wait p count 3; then ok "tenants: the platform hook gets the three events"; else bad "tenants: the platform hook gets the three events" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "tenants: the platform hook's events in order, each tenant's, signed" \
	"[.requests[] | [.body_id, .tenant_id, .verdict]] == [[\"$W106_D1\", \"$W106_T\", \"ok\"], [\"$W106_D2\", \"$W106_T\", \"ok\"], [\"$W106_X1\", \"$W106_T2\", \"ok\"]]"
if w106_wait t2 count 1; then ok "tenants: tenant 2's hook gets its event"; else bad "tenants: tenant 2's hook gets its event" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "tenants: tenant 2's hook got tenant 2's event only" \
	"[.requests[] | [.body_id, .tenant_id, .verdict]] == [[\"$W106_X1\", \"$W106_T2\", \"ok\"]]"
if w106_wait t1 count 2; then ok "tenants: the default tenant's hook gets its two events"; else bad "tenants: the default tenant's hook gets its two events" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "tenants: the default tenant's hook got its own events only" \
	"[.requests[] | [.body_id, .tenant_id, .verdict]] == [[\"$W106_D1\", \"$W106_T\", \"ok\"], [\"$W106_D2\", \"$W106_T\", \"ok\"]]"

# ---- metrics and logs ------------------------------------------------------------------------

_m=$(w106_metric 'kaiden_webhook_deliveries_total{result="delivered"}')
if [ "${_m%.*}" -ge 8 ] 2>/dev/null; then ok "metrics: deliveries counted by result"; else bad "metrics: deliveries counted by result" "delivered=$_m, want >= 8"; fi
_m=$(w106_metric 'kaiden_webhook_deliveries_total{result="http_error"}')
if [ "${_m%.*}" -ge 7 ] 2>/dev/null; then ok "metrics: failed attempts counted"; else bad "metrics: failed attempts counted" "http_error=$_m, want >= 7"; fi
_m=$(w106_metric 'kaiden_webhook_attempt_seconds_count')
if [ "${_m%.*}" -ge 15 ] 2>/dev/null; then ok "metrics: attempt durations observed"; else bad "metrics: attempt durations observed" "count=$_m, want >= 15"; fi
_leak=
while read -r _s; do
	! grep -qF "$_s" "$W106_LOG" || _leak="a secret"
done <"$W106/secrets"
! grep -q 'v1=' "$W106_LOG" || _leak="${_leak:+$_leak and }a signature"
if [ -z "$_leak" ]; then ok "helperd's log has no webhook secret or signature"; else bad "helperd's log has no webhook secret or signature" "found $_leak"; fi

# ---- back to the defaults ------------------------------------------------------------------------

kill "$W106_RCV_PID" 2>/dev/null || :
stack_helperd_stop >/dev/null 2>&1 || :
if stack_helperd_start; then ok "helperd starts again with the defaults"; else bad "helperd starts again with the defaults" "see $W106_LOG"; fi
