# shellcheck shell=sh
# Webhook delivery by kaiden-helperd (issue 11), against tests/fakes/webhook_receiver.py,
# a receiver that verifies each request's signature as a customer's would and records
# it (arrival time, event id, verdict, what it answered).
#
# kaiden-api is restarted with webhooks.allow_loopback (the receiver is http on
# 127.0.0.1), helperd with it and retry_base 1 s, retry_max 2 s, give_up 6 s, so that
# retries, their backoff and the disable happen within seconds. Asserted: every request
# is signed and verifies; Kaiden-Event-Id is the event's id; per hook the events arrive
# in order, a failing one holding the later ones back (two 500s, then the rest); the
# gaps between attempts are at least the backoff (1 s, then 2 s); a redirect is
# answered, never followed, and counts as a failure; a hook failing for give_up seconds
# is disabled with an audit entry, its held deliveries stay pending and arrive in order
# once it is re-enabled; one hook held at its receiver does not hold another's; the
# delivery log (database and API); link-local and private targets refused at the
# attempt (checked every time, not only when the hook is saved); a tenant's hook hears
# its own tenant's events only, a platform hook every tenant's (the emission runs in the
# tenant's scope, as kaiden-api's, so on PostgreSQL row-level security holds); the
# metrics; no secret or signature in helperd's log; the log's retention (finished
# deliveries older than webhooks.keep_days and the events left without a delivery go
# at helperd's sweep, of every tenant; an old pending delivery stays).
#
# Hooks and events come from the API where it can make them (hooks a, r, dv; the
# re-enable; device.registered from POST /devices), else from tests/fakes/webhook_seed,
# which calls the same store functions (any event type at will, a second tenant's and
# the platform's hooks, targets the API refuses). Ends with every hook made here deleted
# and kaiden-api and helperd as they were (on the defaults; helperd stopped if it was).

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
	echo "$W106_ID" >>"$W106/hooks"
	_secret=${_out#* }
	echo "$_secret" >>"$W106/secrets"
	printf '{"secret":"%s"}' "$_secret" | w106_rcv POST "/_config/h/$1" - >/dev/null
}

# w106_api_hook NAME EVENTS: a hook of the default tenant made through the API (the suite's
# service token) at the receiver's /h/NAME; the secret from the reply goes to the receiver
# (on stdin). W106_ID is its id.
w106_api_hook() {
	W106_ID=
	call POST /api/v1/webhooks "{\"url\":\"$W106_RCV/h/$1\",\"events\":$2}"
	expect "POST /webhooks: hook $1" 201 '.secret | startswith("whsec_")'
	save W106_ID .id
	echo "$W106_ID" >>"$W106/hooks"
	jq -r .secret "$T/body" >>"$W106/secrets"
	jq -c '{secret: .secret}' "$T/body" | w106_rcv POST "/_config/h/$1" - >/dev/null
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

# ---- the receiver and helperd -----------------------------------------------------------

python3 tests/fakes/webhook_receiver.py --port-file "$W106/port" --log "$W106/requests.jsonl" \
	>/dev/null 2>"$W106/receiver.err" &
W106_RCV_PID=$!
case_pids "$W106_RCV_PID"
_i=0
while [ ! -s "$W106/port" ] && [ "$_i" -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
W106_RCV=http://127.0.0.1:$(cat "$W106/port" 2>/dev/null)
if [ "$(w106_rcv GET /_health)" = 200 ]; then ok "the webhook receiver answers"; else bad "the webhook receiver answers" "$(cat "$W106/receiver.err")"; fi

# The receiver's own check first: it must refuse what is not signed right, or every "ok"
# verdict below would prove nothing. (A throwaway secret of this check only.)
W106_XS=whsec_receiver-self-check-not-a-hook-secret
w106_config x "{\"secret\":\"$W106_XS\"}"
W106_XB='{"id":"x","type":"ticket.created"}'
w106_sig() { printf '%s.%s' "$1" "$W106_XB" | openssl dgst -sha256 -hmac "$W106_XS" | sed 's/.*= //'; }
w106_post_x() {
	set -- "$1" -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json'
	[ -z "$1" ] || set -- "$@" -H "Kaiden-Signature: $1"
	shift
	curl "$@" --data-binary "$W106_XB" "$W106_RCV/h/x"
}
_t=$(date +%s)
W106_XC="$(w106_post_x "t=$_t,v1=$(w106_sig "$_t")") $(w106_post_x "t=$_t,v1=$(repeat 64 0)")"
W106_XC="$W106_XC $(w106_post_x "t=$((_t - 1000)),v1=$(w106_sig $((_t - 1000)))") $(w106_post_x "")"
W106_XC="$W106_XC $(w106_post_x "t=$_t,v1=$(w106_sig "$_t"),v1=zz")"
w106_rcv GET "/_log?path=/h/x" >/dev/null
if [ "$W106_XC" = "200 400 400 400 400" ]; then ok "the receiver answers 200 to a good signature only"; else bad "the receiver answers 200 to a good signature only" "got $W106_XC"; fi
w106_jq "the receiver tells a mismatch, a stale t, no header and a malformed one" \
	'[.requests[].verdict] == ["ok", "mismatch", "stale", "no_header", "malformed"]'

export KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1
api_restart "kaiden-api restarts with webhooks.allow_loopback=1 (the receiver is http on loopback)"
# Cases run in the order of their names: helperd may or may not be running here. Put it
# back as it was at the end.
W106_HAD_HELPERD=
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then W106_HAD_HELPERD=1; fi
stack_helperd_stop >/dev/null 2>&1 || :
if KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1 KAIDEN_WEBHOOKS_RETRY_BASE=1 KAIDEN_WEBHOOKS_RETRY_MAX=2 \
	KAIDEN_WEBHOOKS_GIVE_UP=6 stack_helperd_start; then
	ok "helperd starts with the webhook test settings"
else
	bad "helperd starts with the webhook test settings" "see $W106_LOG"
fi
W106_T=00000000-0000-0000-0000-000000000000

# ---- order, retries, backoff, signatures ------------------------------------------------

w106_api_hook a '["ticket.created"]'
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
	'(.requests | all(.t >= (.arrival | floor) - 5 and .t <= .answered + 1)) and .requests[2].t - .requests[0].t >= 2'
w106_jq "hook a: the event body is the stored one: id, type, tenant_id" \
	".requests | all(.type == \"ticket.created\" and .tenant_id == \"$W106_T\")"
# The receiver has the last request before helperd has written its answer: waited for.
wait_for "hook a: the delivery log (attempts, status, last_status, response time)" 15 \
	"SELECT attempts || ' ' || status || ' ' || last_status || ' ' || CASE WHEN response_ms IS NULL THEN 'no-ms' ELSE 'ms' END || ' ' || CASE WHEN delivered_at IS NULL THEN '-' ELSE 'at' END FROM webhook_deliveries WHERE webhook_id = '$W106_A' ORDER BY id" \
	"3 delivered 200 ms at
1 delivered 200 ms at
1 delivered 200 ms at"
dbcheck "hook a: the first delivery's first failure is kept in the log" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_A' AND first_failed_at IS NOT NULL" 1
dbcheck "hook a: healthy again (failing_since cleared)" \
	"SELECT count(*) FROM webhooks WHERE id = '$W106_A' AND failing_since IS NULL AND status = 'active'" 1
call GET "/api/v1/webhooks/$W106_A/deliveries"
expect "GET /webhooks/{id}/deliveries: the log, newest first, attempts and answers" 200 \
	"[.items[] | [.event_id, .status, .attempts, .last_status, (.response_ms | type), (.first_failed_at != null), (.delivered_at != null)]] == [[\"$W106_E3\", \"delivered\", 1, 200, \"number\", false, true], [\"$W106_E2\", \"delivered\", 1, 200, \"number\", false, true], [\"$W106_E1\", \"delivered\", 3, 200, \"number\", true, true]]"
wait_for "hook a: its job is done once nothing is pending" 10 \
	"SELECT count(*) FROM jobs WHERE webhook_id = '$W106_A' AND state IN ('queued', 'running')" 0
dbcheck "hook a: the hook's lease was given back" \
	"SELECT count(*) FROM webhooks WHERE id = '$W106_A' AND locked_by IS NULL" 1

# ---- an event the API emits: POST /devices -> device.registered ----------------------------

w106_api_hook dv '["device.registered"]'
W106_DV=$W106_ID
call POST /api/v1/devices '{"name":"w106-device"}'
expect "POST /devices" 201
save W106_DEV .id
if w106_wait dv count 1; then ok "hook dv: device.registered arrives"; else bad "hook dv: device.registered arrives" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "hook dv: the event, signed, in the device's tenant" \
	".requests | length == 1 and .[0].type == \"device.registered\" and .[0].verdict == \"ok\" and .[0].status == 200 and .[0].tenant_id == \"$W106_T\""
dbcheck "hook dv: the body carries the device and never its secret" \
	"SELECT CASE WHEN body LIKE '%$W106_DEV%' AND body NOT LIKE '%secret%' THEN 'ok' ELSE body END FROM webhook_events WHERE id = (SELECT event_id FROM webhook_deliveries WHERE webhook_id = '$W106_DV')" ok

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

w106_api_hook r '["ticket.updated"]'
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
wait_for "hook r: disabled after failing for give_up seconds" 30 \
	"SELECT status || ' ' || CASE WHEN disabled_reason LIKE 'deliveries failing since %' THEN 'reason' ELSE coalesce(disabled_reason, '-') END FROM webhooks WHERE id = '$W106_R'" \
	"disabled reason"
dbcheck "hook r: the disable has its audit entry (by helperd, on the hook, in its tenant)" \
	"SELECT count(*) FROM audit_log WHERE action = 'webhook.disable' AND target_type = 'webhook' AND target_id = '$W106_R' AND actor_email = '(kaiden-helperd)' AND tenant_id = '$W106_T'" 1
dbcheck "hook r: its three deliveries are still pending" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_R' AND status = 'pending'" 3
wait_for "hook r: no job left running for a disabled hook" 10 \
	"SELECT count(*) FROM jobs WHERE webhook_id = '$W106_R' AND state IN ('queued', 'running')" 0
call GET "/api/v1/webhooks/$W106_R"
expect "GET /webhooks/{id}: disabled, with the reason" 200 '.status == "disabled"' \
	'.disabled_reason | startswith("deliveries failing since ")' '.failing_since | type == "string"'
call GET "/api/v1/webhooks/$W106_R/deliveries"
expect "the delivery log: the first still pending after its attempts, the later ones never tried" 200 \
	"[.items[] | [.event_id, .status, .attempts]] == [[\"$W106_R3\", \"pending\", 0], [\"$W106_R2\", \"pending\", 0], [\"$W106_R1\", \"pending\", (.items[2].attempts)]] and .items[2].attempts >= 2 and .items[2].last_status == 302 and (.items[2].last_error | test(\"redirects are not followed\"))"
w106_rcv GET "/_log?path=/h/r" >/dev/null
W106_RN=$(jq '.requests | length' "$W106/rcv")
w106_jq "hook r: only the first event was ever sent while it failed" \
	"(.requests | length) >= 2 and (.requests | all(.body_id == \"$W106_R1\" and .status == 302))"
# The receiver is fixed; the hook re-enabled: the held events arrive, in order.
w106_config r '{"redirect":null}'
t "PATCH /webhooks/{id} status active: re-enabled" PATCH "/api/v1/webhooks/$W106_R" '{"status":"active"}' 200 \
	'.status == "active"' '.disabled_reason == null' '.failing_since == null'
if w106_wait r count $((W106_RN + 3)); then ok "hook r: the held deliveries arrive after the re-enable"; else bad "hook r: the held deliveries arrive after the re-enable" "$(head -c 300 "$W106/rcv")"; fi
w106_jq "hook r: in order, each once, signed" \
	"[.requests[$W106_RN:][] | [.body_id, .status, .verdict]] == [[\"$W106_R1\", 200, \"ok\"], [\"$W106_R2\", 200, \"ok\"], [\"$W106_R3\", 200, \"ok\"]]"
dbcheck "hook r: active and healthy again" \
	"SELECT status || ' ' || coalesce(disabled_reason, '-') || ' ' || coalesce(CAST(failing_since AS TEXT), '-') FROM webhooks WHERE id = '$W106_R'" \
	"active - -"

# ---- the address is checked at every attempt (server-side request forgery) ---------------

# Made straight in the store, as if the name had resolved elsewhere when it was saved.
w106_hook_at() {
	W106_ID=
	_out=$("$W106_SEED" hook "$W106_T" "$1" '["ticket.commented"]') || bad "hook at $1 created" "webhook_seed failed"
	W106_ID=${_out%% *}
	echo "$W106_ID" >>"$W106/hooks"
}
w106_hook_at "http://169.254.169.254/latest/meta-data/"
W106_S1=$W106_ID
w106_hook_at "http://10.255.255.1:$(cat "$W106/port")/h/private"
W106_S2=$W106_ID
w106_emit "$W106_T" ticket.commented 1
wait_for "a link-local target is refused at the attempt, nothing sent" 15 \
	"SELECT CASE WHEN last_error LIKE 'target refused: %link-local%' AND last_status IS NULL AND attempts >= 1 THEN 'refused' ELSE coalesce(last_error, '-') END FROM webhook_deliveries WHERE webhook_id = '$W106_S1'" \
	"refused"
wait_for "a private target is refused at the attempt" 15 \
	"SELECT CASE WHEN last_error LIKE 'target refused: %private%' AND status = 'pending' THEN 'refused' ELSE coalesce(last_error, '-') END FROM webhook_deliveries WHERE webhook_id = '$W106_S2'" \
	"refused"
_m=$(metric 'kaiden_webhook_deliveries_total{result="refused"}')
if [ "${_m%.*}" -ge 2 ] 2>/dev/null; then ok "metrics: refused targets counted"; else bad "metrics: refused targets counted" "refused=$_m, want >= 2"; fi
# They would go on failing until disabled: delete them (the cascade drops their log).
dbq "DELETE FROM webhooks WHERE id IN ('$W106_S1', '$W106_S2')" >/dev/null
wait_for "a deleted hook's job ends" 15 \
	"SELECT count(*) FROM jobs WHERE webhook_id IN ('$W106_S1', '$W106_S2') AND state IN ('queued', 'running')" 0

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

# helperd's counts against what the receiver saw (every request but the self-check's),
# once helperd has recorded the last answers (it counts before it records).
wait_for "tenants: every delivery recorded as delivered" 15 \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id IN ('$W106_H1', '$W106_H2', '$W106_HP') AND status <> 'delivered'" 0
w106_rcv GET /_log >/dev/null
W106_2XX=$(jq '[.requests[] | select(.path != "/h/x" and .status < 300)] | length' "$W106/rcv")
W106_NON2XX=$(jq '[.requests[] | select(.path != "/h/x" and .status >= 300)] | length' "$W106/rcv")
_m=$(metric 'kaiden_webhook_deliveries_total{result="delivered"}')
if [ "${_m:-0}" = "$W106_2XX" ] && [ "$W106_2XX" -ge 8 ]; then ok "metrics: deliveries counted by result"; else bad "metrics: deliveries counted by result" "delivered=$_m, the receiver answered $W106_2XX with 2xx"; fi
_m=$(metric 'kaiden_webhook_deliveries_total{result="http_error"}')
if [ "${_m:-0}" = "$W106_NON2XX" ] && [ "$W106_NON2XX" -ge 4 ]; then ok "metrics: failed attempts counted"; else bad "metrics: failed attempts counted" "http_error=$_m, the receiver answered $W106_NON2XX otherwise"; fi
_m=$(metric 'kaiden_webhook_attempt_seconds_count')
if [ "${_m:-0}" = "$((W106_2XX + W106_NON2XX))" ]; then ok "metrics: every answered attempt's duration observed"; else bad "metrics: every answered attempt's duration observed" "count=$_m, want $((W106_2XX + W106_NON2XX))"; fi
_leak=
while read -r _s; do
	! grep -qF "$_s" "$W106_LOG" || _leak="a secret"
done <"$W106/secrets"
! grep -q 'v1=' "$W106_LOG" || _leak="${_leak:+$_leak and }a signature"
if [ -z "$_leak" ]; then ok "helperd's log has no webhook secret or signature"; else bad "helperd's log has no webhook secret or signature" "found $_leak"; fi

# ---- the log's retention: webhooks.keep_days (30), helperd's sweep ---------------------------------

# The tenants' section's six deliveries (both tenants, the platform hook's too) made 40
# days old; the platform hook disabled and one of its deliveries pending again (owed,
# whatever its age). helperd restarted (logging at info, to show the prune's line): its
# first sweep runs at start, once the last sweep's turn is set a period back (as after a
# helperd down for a while; one restarted within half a period skips it: case-130).
# Five deliveries go, and the two events left without one; the pending delivery and its
# event stay.
W106_OLD=$(date -u -d '40 days ago' +%Y-%m-%dT%H:%M:%S.000Z)
dbq "UPDATE webhooks SET status = 'disabled' WHERE id = '$W106_HP'; UPDATE webhook_deliveries SET created_at = '$W106_OLD', last_attempt_at = '$W106_OLD', delivered_at = '$W106_OLD' WHERE webhook_id IN ('$W106_H1', '$W106_H2', '$W106_HP'); UPDATE webhook_deliveries SET status = 'pending', delivered_at = NULL WHERE webhook_id = '$W106_HP' AND event_id = '$W106_D1'" >/dev/null
stack_helperd_stop >/dev/null 2>&1 || :
dbq "UPDATE sweep_turns SET started_ms = 0" >/dev/null
if KAIDEN_LOG_LEVEL=info KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1 KAIDEN_WEBHOOKS_RETRY_BASE=1 \
	KAIDEN_WEBHOOKS_RETRY_MAX=2 KAIDEN_WEBHOOKS_GIVE_UP=6 stack_helperd_start; then
	ok "retention: helperd restarts (its sweep runs at start)"
else
	bad "retention: helperd restarts (its sweep runs at start)" "see $W106_LOG"
fi
wait_for "retention: the finished deliveries older than 30 days are deleted, of both tenants" 15 \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id IN ('$W106_H1', '$W106_H2', '$W106_HP') AND status <> 'pending'" 0
dbcheck "retention: the old pending delivery stays" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W106_HP' AND event_id = '$W106_D1' AND status = 'pending'" 1
dbcheck "retention: the events without a delivery left are deleted, the pending one's stays" \
	"SELECT id FROM webhook_events WHERE id IN ('$W106_D1', '$W106_D2', '$W106_X1')" "$W106_D1"
_m=$(metric 'kaiden_webhook_log_pruned_total{table="deliveries"}')
if [ "${_m%.*}" = 5 ]; then ok "metrics: the pruned deliveries counted"; else bad "metrics: the pruned deliveries counted" "deliveries=$_m, want 5"; fi
_m=$(metric 'kaiden_webhook_log_pruned_total{table="events"}')
if [ "${_m%.*}" -ge 2 ] 2>/dev/null; then ok "metrics: the pruned events counted"; else bad "metrics: the pruned events counted" "events=$_m, want >= 2"; fi
if grep -q 'sweep: webhook log pruned: 5 deliveries finished more than 30 days ago' "$W106_LOG"; then
	ok "retention: helperd logs what it pruned"
else
	bad "retention: helperd logs what it pruned" "no such line in $W106_LOG"
fi

# ---- back to the defaults ------------------------------------------------------------------------

kill "$W106_RCV_PID" 2>/dev/null || :
while read -r _h; do dbq "DELETE FROM webhooks WHERE id = '$_h'" >/dev/null; done <"$W106/hooks"
dbq "DELETE FROM jobs WHERE tenant_id = '$W106_T2'; DELETE FROM webhook_events WHERE tenant_id = '$W106_T2'; DELETE FROM tenants WHERE id = '$W106_T2'" >/dev/null
dbcheck "the second tenant made here is gone" "SELECT count(*) FROM tenants WHERE id = '$W106_T2'" 0
dbcheck "every hook made here is gone" "SELECT count(*) FROM webhooks WHERE description = 'webhook_seed' OR url LIKE '$W106_RCV/%'" 0
t "the device made here is deleted" DELETE "/api/v1/devices/$W106_DEV" "" 204
unset KAIDEN_WEBHOOKS_ALLOW_LOOPBACK
api_restart "kaiden-api restarts with webhooks.allow_loopback back at 0"
stack_helperd_stop >/dev/null 2>&1 || :
if [ -n "$W106_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "helperd starts again with the defaults"; else bad "helperd starts again with the defaults" "see $W106_LOG"; fi
fi
