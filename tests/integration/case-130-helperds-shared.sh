# shellcheck shell=sh
# What several kaiden-helperds on one database share (issue 15, migration 0022): the
# periodic sweep runs on one helperd at a time and once per period, and Cloudflare's
# call budget is the account's, spent from one row. PostgreSQL runs two helperds (it-h1
# behind nginx, it-h2 on a loopback port of its own), SQLite one (the same code: the rows
# are the truth there too), all on the fake Cloudflare API; every state is held by a
# gate (a hold at the fake, a metric, a row), never by a sleep.
#
#   the sweep: it-h1's start-up sweep is held inside its first listing; it-h2 starting
#   meanwhile skips its own (the lock is taken: "elsewhere"), and the fake has seen one
#   listing; released, it-h1 deletes an orphan; it-h1 restarted skips (its turn came less
#   than half a period ago). PostgreSQL: it-h1 SIGKILLed inside a held sweep leaves the
#   lock with its connection, and it-h2 sweeps next.
#   the budget (3 calls per 5 minutes): three sessions on each helperd's device want 24
#   calls; once each helperd has calls waiting for the budget the fake has seen at most
#   3 (each helperd's own bucket let 6 through), and the waiting sessions say the budget
#   is spent, as a lone helperd's do; a helperd restarted does not get a fresh budget.
#   Then, with the budget back to the default, every session ends and the fake is empty.
#
# Leaves helperd (it-h1's socket, the defaults) running when it ran before, and kaiden-api
# with the suite's settings.

H130=$WORK/h130
mkdir -p "$H130/cfd" "$H130/bin"
ln -sf "$STACK_ROOT/tests/fakes/fake_cloudflared.py" "$H130/bin/cloudflared"
case $B in /*) H130_BIN=$B/bin ;; *) H130_BIN=$STACK_ROOT/$B/bin ;; esac
H130_CF_TOKEN=fake-cf-token-130-$$
H130_ACCOUNT=0123456789abcdef0123456789abcdef
H130_ZONE=fedcba9876543210fedcba9876543210
H130_H2_PID=
H130_H2_LOG=$WORK/log/kaiden-helperd-2.log
H130_AGENTS=
H130_HAD_HELPERD=
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then H130_HAD_HELPERD=1; fi
stack_helperd_stop >/dev/null 2>&1 || :

python3 "$STACK_ROOT/tests/fakes/fake_cloudflare.py" --port 0 --port-file "$H130/cf.port" \
	--token "$H130_CF_TOKEN" --account "$H130_ACCOUNT" --zone "$H130_ZONE" \
	--zone-name kaiden.test --rate-limit 0 >"$WORK/log/fake-cf-130.log" 2>&1 &
H130_CF_PID=$!
CASE_PIDS="${CASE_PIDS:-} $H130_CF_PID"
_i=0
while [ ! -s "$H130/cf.port" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
H130_CF=http://127.0.0.1:$(cat "$H130/cf.port" 2>/dev/null)
if curl -sf -o /dev/null "$H130_CF/_fake/health"; then ok "130: the fake Cloudflare API runs"; else bad "130: the fake Cloudflare API runs" "see $WORK/log/fake-cf-130.log"; fi

export KAIDEN_TUNNEL_PROVIDER=cloudflare
api_restart "130: kaiden-api restarts with KAIDEN_TUNNEL_PROVIDER=cloudflare"

# ---- helpers ------------------------------------------------------------------------------

# h130_cf METHOD PATH [BODY]: the fake's control API; the reply's .result on stdout.
h130_cf() {
	if [ $# -ge 3 ]; then
		curl -sS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$H130_CF$2"
	else
		curl -sS -X "$1" "$H130_CF$2"
	fi | jq -c '.result'
}

# h130_calls [JQ]: how many API requests the fake has seen (those JQ selects).
h130_calls() {
	h130_cf GET '/_fake/log?kind=api' | jq "[.[] | select(${1:-true})] | length"
}
H130_DNS_LIST='.method == "GET" and (.path | endswith("/dns_records"))'

# h130_env BUDGET SWEEP: the settings both helperds run with (words for env).
h130_env() {
	echo "KAIDEN_CF_API_BASE=$H130_CF/client/v4 KAIDEN_CF_ACCOUNT_ID=$H130_ACCOUNT" \
		"KAIDEN_CF_ZONE_ID=$H130_ZONE KAIDEN_CF_API_TOKEN=$H130_CF_TOKEN" \
		"KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test" \
		"KAIDEN_CF_BUDGET=$1 KAIDEN_HELPERD_SWEEP=$2 KAIDEN_HELPERD_HEARTBEAT=1" \
		"KAIDEN_HELPERD_AGENT_TIMEOUT=4 KAIDEN_SESSION_READY_TIMEOUT=30"
}

# h130_h1_start NAME BUDGET SWEEP: one test: it-h1 starts on the stack's socket.
h130_h1_start() {
	for _v in $(h130_env "$2" "$3") KAIDEN_HELPERD_INSTANCE=it-h1; do export "${_v?}"; done
	if stack_helperd_start; then
		ok "$1"
	else
		bad "$1" "see $STACK_DIR/log/kaiden-helperd.log"
	fi
	for _v in $(h130_env "$2" "$3") KAIDEN_HELPERD_INSTANCE=it-h1; do unset "${_v%%=*}"; done
	H130_M1=$STACK_METRICS_URL
}

# h130_h2_start NAME BUDGET SWEEP: one test (PostgreSQL): it-h2 starts on a loopback port
# of its own (agents reach it there), its /metrics at H130_M2.
h130_h2_start() {
	H130_H2_PORT=$(stack_free_port)
	_mp=$(stack_free_port)
	H130_M2=http://127.0.0.1:$_mp/metrics
	# shellcheck disable=SC2046 # h130_env's words are NAME=value settings
	env $(h130_env "$2" "$3") KAIDEN_HELPERD_INSTANCE=it-h2 \
		KAIDEN_HELPERD_LISTEN="127.0.0.1:$H130_H2_PORT" KAIDEN_HELPERD_METRICS="127.0.0.1:$_mp" \
		"$H130_BIN/kaiden-helperd" </dev/null >>"$H130_H2_LOG" 2>&1 &
	H130_H2_PID=$!
	CASE_PIDS="${CASE_PIDS:-} $H130_H2_PID"
	_i=0
	while ! curl -sf -o /dev/null --max-time 2 "$H130_M2"; do
		if ! kill -0 "$H130_H2_PID" 2>/dev/null || [ "$_i" -ge 100 ]; then
			bad "$1" "see $H130_H2_LOG"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	ok "$1"
}

h130_h2_stop() {
	[ -n "$H130_H2_PID" ] || return 0
	stack__stop_pid "$H130_H2_PID" TERM 15 it-h2
	H130_H2_PID=
}

# h130_metric URL SERIES: its value (0 when absent).
h130_metric() {
	_v=$(curl -s --max-time 5 "$1" | awk -v m="$2" '$1 == m { print $2 }')
	echo "${_v:-0}"
}

# h130_wait_metric NAME URL SERIES MIN: one test: SERIES reaches MIN within 30 s.
h130_wait_metric() {
	_i=0
	while :; do
		_v=$(h130_metric "$2" "$3")
		if awk -v v="$_v" -v m="$4" 'BEGIN { exit !(v + 0 >= m + 0) }'; then
			ok "$1"
			return 0
		fi
		if [ "$_i" -ge 300 ]; then
			bad "$1" "$3 is $_v after 30 s, want at least $4"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# h130_hold PATH_RE: a hold at the fake on the next GET matching; its id in H130_HOLD.
h130_hold() {
	H130_HOLD=$(h130_cf POST /_fake/holds "{\"method\":\"GET\",\"path\":\"$1\"}" | jq -r '.id')
}
# h130_hold_wait NAME: one test: a call is held there within 30 s.
h130_hold_wait() {
	_code=$(curl -sS -o "$T/hold" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary '{"timeout_s":30}' "$H130_CF/_fake/holds/$H130_HOLD/wait" 2>&1) || _code=000
	if [ "$_code" = 200 ] && jq -e '.result.calls[0].state == "held"' "$T/hold" >/dev/null 2>&1; then
		ok "$1"
	else
		LAST="POST /_fake/holds/$H130_HOLD/wait"
		CODE=$_code
		bad "$1" "the fake held no call: $(head -c 300 "$T/hold" 2>/dev/null)"
	fi
}
h130_release() {
	if [ "${1:-}" = drop ]; then _rel='{"drop":true}'; else _rel='{}'; fi
	h130_cf POST "/_fake/holds/$H130_HOLD/release" "$_rel" >/dev/null
}

# h130_check NAME WANT GOT: one test: GOT is WANT.
h130_check() {
	if [ "$3" = "$2" ]; then ok "$1"; else
		LAST=
		bad "$1" "got '$3', want '$2'"
	fi
}

# h130_agent NAME SERVER_URL: a device with a real kaiden-agent on SERVER_URL; its id in
# H130_DEV; one test: it is online within 20 s.
h130_agent() {
	t "130: create device $1" POST /api/v1/devices "{\"name\":\"$1\"}" 201
	save H130_DEV .device_id
	save _h130_secret .secret
	printf '%s' "$_h130_secret" >"$H130/$1.secret"
	chmod 600 "$H130/$1.secret"
	PATH="$H130/bin:$PATH" KAIDEN_FAKE_CF_URL=$H130_CF KAIDEN_FAKE_CLOUDFLARED_DIR=$H130/cfd \
		"$H130_BIN/kaiden-agent" --server "$2" --insecure --device-id "$H130_DEV" \
		--secret-file "$H130/$1.secret" >>"$WORK/log/agent-130-$1.log" 2>&1 &
	H130_AGENTS="$H130_AGENTS $!"
	CASE_PIDS="${CASE_PIDS:-} $!"
	wait_for "130: $1's agent is online" 20 \
		"SELECT status FROM devices WHERE id = '$H130_DEV'" online
}

# h130_sessions DEVICE N: N sessions on DEVICE; their ids appended to H130_SIDS.
h130_sessions() {
	_n=0
	while [ "$_n" -lt "$2" ]; do
		call POST /api/v1/sessions "{\"device_id\":\"$1\",\"engineer_name\":\"E130\"}"
		H130_SIDS="$H130_SIDS $(jq -r '.id' "$T/body")"
		_n=$((_n + 1))
	done
}

# h130_budget_said DEVICE: one test: within 60 s a session of DEVICE is pending and says
# the budget is spent (the row's error while its start waits, as the API returns it).
h130_budget_said() {
	_i=0
	while :; do
		call GET "/api/v1/sessions?device_id=$1&limit=50"
		if jq -e '[.items[] | select(.status == "pending" and ((.error // "") | test("budget")))] | length > 0' \
			"$T/body" >/dev/null 2>&1; then
			ok "130: a session of the device says the Cloudflare budget is spent"
			return 0
		fi
		if [ "$_i" -ge 600 ]; then
			bad "130: a session of the device says the Cloudflare budget is spent" \
				"none after 60 s: $(jq -c '[.items[] | {status, error}]' "$T/body" 2>/dev/null | head -c 400)"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# The sweep's lock (common/store_shared.c): a two-key advisory lock, the first key fixed.
H130_LOCKS="SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1262835521 AND objsubid = 2 AND granted"

# ---- the sweep: one at a time, once per period ----------------------------------------------
# A period of 30 s: no timer fires again while this part runs (half a period is 15 s).
h130_hold '/dns_records$'
h130_h1_start "130: it-h1 starts (sweep every 30 s)" 1000 30
h130_hold_wait "130: it-h1's start-up sweep is inside its first listing (held)"
dbcheck "130: it-h1 has the sweep's turn" "SELECT instance FROM sweep_turns WHERE name = 'sweep'" it-h1
if [ "$SUITE_DB" = postgres ]; then
	dbcheck "130: it-h1 holds the sweep lock for the whole sweep" "$H130_LOCKS" 1
	h130_h2_start "130: it-h2 starts on the same database" 1000 30
	h130_wait_metric "130: it-h2 skips its start-up sweep: it-h1 is sweeping" "$H130_M2" \
		'kaiden_sweeps_skipped_total{reason="elsewhere"}' 1
	h130_check "130: it-h2 ran no sweep" 0 "$(h130_metric "$H130_M2" kaiden_sweeps_total)"
	# Out of the way until its own part below (its timer would sweep in 30 s).
	h130_h2_stop
fi
# The held call is in the fake's log once it is answered: count it by the hold.
h130_check "130: the fake has seen one sweep's listing (held)" 1 \
	"$(($(h130_calls "$H130_DNS_LIST") + $(h130_cf GET /_fake/holds | jq "[.[] | select(.id == $H130_HOLD) | .caught] | add // 0")))"
# An orphan of this install: a tunnel named for it and no session.
H130_INSTALL=$(dbq 'SELECT id FROM install')
curl -sS -X POST -H "Authorization: Bearer $H130_CF_TOKEN" -H 'Content-Type: application/json' \
	--data-binary "{\"name\":\"kaiden-sess-$H130_INSTALL-orphan2345\",\"config_src\":\"cloudflare\"}" \
	"$H130_CF/client/v4/accounts/$H130_ACCOUNT/cfd_tunnel" >"$T/body"
if jq -e '.success' "$T/body" >/dev/null 2>&1; then ok "130: an orphaned tunnel at the fake"; else bad "130: an orphaned tunnel at the fake" "$(head -c 300 "$T/body")"; fi
h130_release
_i=0
while [ "$(h130_cf GET /_fake/state | jq '[.tunnels[] | select(.deleted_at == null and (.name | endswith("orphan2345")))] | length')" != 0 ] &&
	[ "$_i" -lt 300 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
h130_check "130: released, it-h1's sweep goes on and deletes the orphan" 0 \
	"$(h130_cf GET /_fake/state | jq '[.tunnels[] | select(.deleted_at == null and (.name | endswith("orphan2345")))] | length')"
if [ "$SUITE_DB" = postgres ]; then
	wait_for "130: the lock is given back when the sweep ends" 15 "$H130_LOCKS" 0
fi
# Restarted, it-h1 tries at once: the turn was taken less than half a period ago.
H130_LISTS=$(h130_calls "$H130_DNS_LIST")
stack_helperd_stop >/dev/null 2>&1 || :
h130_h1_start "130: it-h1 restarts" 1000 30
h130_wait_metric "130: its start-up sweep is skipped: the last one began less than half a period ago" \
	"$H130_M1" 'kaiden_sweeps_skipped_total{reason="turn"}' 1
h130_check "130: no new listing at the fake" "$H130_LISTS" "$(h130_calls "$H130_DNS_LIST")"

if [ "$SUITE_DB" = postgres ]; then
	# A period has passed (the row says so); it-h1 restarts into a sweep that is held,
	# and is killed there.
	dbq "UPDATE sweep_turns SET started_ms = 0" >/dev/null
	h130_hold '/dns_records$'
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_h1_start "130: it-h1 restarts" 1000 30
	h130_hold_wait "130: it-h1's sweep is inside its listing (held)"
	dbcheck "130: it-h1 holds the lock" "$H130_LOCKS" 1
	kill -KILL "$STACK_HELPERD_PID" 2>/dev/null || :
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_release drop
	wait_for "130: it-h1 SIGKILLed in mid-sweep: its lock went with its connection" 15 "$H130_LOCKS" 0
	dbq "UPDATE sweep_turns SET started_ms = 0" >/dev/null
	H130_LISTS=$(h130_calls "$H130_DNS_LIST")
	h130_h2_stop
	h130_h2_start "130: it-h2 restarts" 1000 30
	h130_wait_metric "130: it-h2 sweeps next" "$H130_M2" kaiden_sweeps_total 1
	dbcheck "130: the turn is it-h2's" "SELECT instance FROM sweep_turns WHERE name = 'sweep'" it-h2
	h130_check "130: one more listing at the fake" "$((H130_LISTS + 1))" "$(h130_calls "$H130_DNS_LIST")"
	h130_h2_stop
fi
stack_helperd_stop >/dev/null 2>&1 || :

# ---- the budget: the account's, not each helperd's ---------------------------------------
# 3 calls per 5 minutes (a token every 100 s); the sweep out of the way (every 300 s, and
# its turn taken just now).
dbq "DELETE FROM cf_budget" >/dev/null
dbq "UPDATE sweep_turns SET started_ms = $(date +%s%3N)" >/dev/null
H130_CALLS0=$(h130_calls)
H130_T0=$(date +%s)
H130_SIDS=
h130_h1_start "130: it-h1 starts with a budget of 3 calls" 3 300
h130_agent h130-one "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent"
H130_DEV1=$H130_DEV
if [ "$SUITE_DB" = postgres ]; then
	h130_h2_start "130: it-h2 starts with a budget of 3 calls" 3 300
	h130_agent h130-two "ws://127.0.0.1:$H130_H2_PORT/api/v1/ws/agent"
	H130_DEV2=$H130_DEV
	dbcheck "130: each helperd holds one agent" \
		"SELECT string_agg(helperd, ',' ORDER BY helperd) FROM devices WHERE id IN ('$H130_DEV1', '$H130_DEV2')" \
		"it-h1,it-h2"
fi
h130_sessions "$H130_DEV1" 3
[ "$SUITE_DB" != postgres ] || h130_sessions "$H130_DEV2" 3
h130_wait_metric "130: it-h1 has Cloudflare calls waiting for the budget" "$H130_M1" kaiden_cf_queue 1
h130_budget_said "$H130_DEV1"
if [ "$SUITE_DB" = postgres ]; then
	h130_wait_metric "130: it-h2 has Cloudflare calls waiting for the budget" "$H130_M2" kaiden_cf_queue 1
	h130_budget_said "$H130_DEV2"
fi
# A token every 100 s: the bound is 3 until then.
H130_BOUND=$((3 + ($(date +%s) - H130_T0) * 3 / 300))
H130_SPENT=$(($(h130_calls) - H130_CALLS0))
if [ "$H130_SPENT" -le "$H130_BOUND" ] && [ "$H130_SPENT" -ge 1 ]; then
	ok "130: the fake has seen $H130_SPENT calls, within the one budget ($H130_BOUND)"
else
	bad "130: the fake has seen the calls of one budget" "$H130_SPENT calls, the budget allows $H130_BOUND"
fi
# A restart does not refill the budget: the row is the truth.
stack_helperd_stop >/dev/null 2>&1 || :
h130_h1_start "130: it-h1 restarts with the same budget" 3 300
# A new session makes it call at once (the others wait out their growing retry delays).
h130_sessions "$H130_DEV1" 1
h130_wait_metric "130: restarted, it-h1 asks the shared budget and is turned down" "$H130_M1" \
	kaiden_cf_budget_refusals_total 1
H130_BOUND=$((3 + ($(date +%s) - H130_T0) * 3 / 300))
H130_SPENT=$(($(h130_calls) - H130_CALLS0))
if [ "$H130_SPENT" -le "$H130_BOUND" ]; then
	ok "130: still within the one budget after the restart ($H130_SPENT of $H130_BOUND)"
else
	bad "130: still within the one budget after the restart" "$H130_SPENT calls, the budget allows $H130_BOUND"
fi

# ---- the end: the default budget back, every session ended, nothing left ------------------
stack_helperd_stop >/dev/null 2>&1 || :
h130_h2_stop
dbq "DELETE FROM cf_budget" >/dev/null
h130_h1_start "130: it-h1 restarts with the default budget" 1000 300
[ "$SUITE_DB" != postgres ] || h130_h2_start "130: it-h2 restarts with the default budget" 1000 300
for _sid in $H130_SIDS; do
	call DELETE "/api/v1/sessions/$_sid"
done
H130_LEFT=
_i=0
while :; do
	H130_LEFT=
	for _sid in $H130_SIDS; do
		call GET "/api/v1/sessions/$_sid"
		_st=$(jq -r '.status' "$T/body" 2>/dev/null)
		case $_st in ended | failed) ;; *) H130_LEFT="$H130_LEFT $_sid:$_st" ;; esac
	done
	[ -n "$H130_LEFT" ] && [ "$_i" -lt 90 ] || break
	sleep 1
	_i=$((_i + 1))
done
h130_check "130: every session has ended" "" "$H130_LEFT"
h130_check "130: nothing is left at the fake" '{"live_tunnels":0,"dns_records":0,"access_apps":0}' \
	"$(h130_cf GET /_fake/state | jq -c '.counts | {live_tunnels, dns_records, access_apps}')"

for _p in $H130_AGENTS; do
	kill -TERM "$_p" 2>/dev/null || :
	wait "$_p" 2>/dev/null || :
done
h130_h2_stop
stack_helperd_stop >/dev/null 2>&1 || :
kill -TERM "$H130_CF_PID" 2>/dev/null || :
wait "$H130_CF_PID" 2>/dev/null || :
unset KAIDEN_TUNNEL_PROVIDER
api_restart "130: kaiden-api back with the suite's settings"
if [ -n "$H130_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "130: helperd back with the defaults"; else bad "130: helperd back with the defaults" "see its log"; fi
fi
