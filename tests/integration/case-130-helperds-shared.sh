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
#   the budget (2 calls in any 5 minutes: a burst of 1, then 1 per 5 minutes): three
#   sessions on each helperd's device want 24 calls; once each helperd has calls waiting
#   for the budget the fake has seen 1 (each helperd's own bucket let 2 through), and a
#   waiting session says the budget is spent, as a lone helperd's did; a helperd
#   restarted does not get a fresh budget.
#   the budget over any window: the fake limits 8 calls per 4 s, both helperds spend a
#   budget of 8 per 4 s (cloudflare.budget_window_ms, for tests): sessions wanting
#   three windows' worth of calls and more all get active, and the fake never answered
#   429.
#   PostgreSQL, a dead helperd's start: a session's start held at the fake inside its
#   Access application's create on it-h2, which is SIGKILLed there; its agent reconnects
#   to it-h1 (a private nginx with it-h1 as backup), which takes the running start over
#   once it-h2's heartbeat row is stale (15 s), not at the job lease's end (120 s): the
#   session is active within 60 s of the kill, the start claimed twice, and the fake
#   holds one of each of its objects; ended, nothing of it is left.
#   PostgreSQL, the relay: a session's agent on it-h2, the engineer through nginx (it-h1):
#   it-h1 joins the stream to it-h2, which runs it; a data socket is routed by its
#   stream id's tag.
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

fake_cf_start "130: the fake Cloudflare API runs" "$WORK/log/fake-cf-130.log" "$H130_CF_TOKEN" \
	"$H130_ACCOUNT" "$H130_ZONE" --rate-limit 0

export KAIDEN_TUNNEL_PROVIDER=cloudflare
api_restart "130: kaiden-api restarts with KAIDEN_TUNNEL_PROVIDER=cloudflare"

# ---- helpers ------------------------------------------------------------------------------

# h130_calls [JQ]: how many API requests the fake has seen (those JQ selects).
h130_calls() {
	cf GET '/_fake/log?kind=api' | jq "[.[] | select(${1:-true})] | length"
}
H130_DNS_LIST='.method == "GET" and (.path | endswith("/dns_records"))'

# h130_env BUDGET SWEEP: the settings both helperds run with (words for env); the
# budget's window is H130_WINDOW_MS (5 minutes unless a part says otherwise).
H130_WINDOW_MS=300000
h130_env() {
	echo "KAIDEN_CF_API_BASE=$CF_URL/client/v4 KAIDEN_CF_ACCOUNT_ID=$H130_ACCOUNT" \
		"KAIDEN_CF_ZONE_ID=$H130_ZONE KAIDEN_CF_API_TOKEN=$H130_CF_TOKEN" \
		"KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test" \
		"KAIDEN_CF_BUDGET=$1 KAIDEN_HELPERD_SWEEP=$2 KAIDEN_HELPERD_HEARTBEAT=1" \
		"KAIDEN_HELPERD_AGENT_TIMEOUT=4 KAIDEN_SESSION_READY_TIMEOUT=30" \
		"KAIDEN_CF_BUDGET_WINDOW_MS=$H130_WINDOW_MS"
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
	case_pids "$H130_H2_PID"
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
	PATH="$H130/bin:$PATH" KAIDEN_FAKE_CF_URL=$CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$H130/cfd \
		"$H130_BIN/kaiden-agent" --server "$2" --insecure --device-id "$H130_DEV" \
		--secret-file "$H130/$1.secret" >>"$WORK/log/agent-130-$1.log" 2>&1 &
	H130_AGENTS="$H130_AGENTS $!"
	case_pids "$!"
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

# h130_budget_said: one test: a session is pending and says the budget is spent (the
# row's error while its start waits, as the API returns it). A call waiting for the
# budget is refused after 120 s at the latest, before the next token (300 s with a
# budget of 2), so within 150 s; most are refused at once (a long wait ahead).
h130_budget_said() {
	_i=0
	while :; do
		call GET "/api/v1/sessions?status=pending&limit=50"
		if jq -e '[.items[] | select((.error // "") | test("Cloudflare API budget .* is spent"))] | length > 0' \
			"$T/body" >/dev/null 2>&1; then
			ok "130: a waiting session says the Cloudflare budget is spent"
			return 0
		fi
		if [ "$_i" -ge 1500 ]; then
			bad "130: a waiting session says the Cloudflare budget is spent" \
				"none after 150 s: $(jq -c '[.items[] | {status, error}]' "$T/body" 2>/dev/null | head -c 400)"
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
# The turn is the database's, whoever took it: a helperd of the case before (case-126's
# sweep every 5 s until it stops) may have taken it less than 15 s before it-h1 starts,
# which would skip it-h1's start-up sweep (seen once, under load). No helperd runs now.
dbq "UPDATE sweep_turns SET started_ms = 0" >/dev/null
hold_arm GET '/dns_records$'
h130_h1_start "130: it-h1 starts (sweep every 30 s)" 1000 30
hold_wait "130: it-h1's start-up sweep is inside its first listing (held)"
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
	"$(($(h130_calls "$H130_DNS_LIST") + $(cf GET /_fake/holds | jq "[.[] | select(.id == $HOLD) | .caught] | add // 0")))"
# An orphan of this install: a tunnel named for it and no session.
H130_INSTALL=$(dbq 'SELECT id FROM install')
curl -sS -X POST -H "Authorization: Bearer $H130_CF_TOKEN" -H 'Content-Type: application/json' \
	--data-binary "{\"name\":\"kaiden-sess-$H130_INSTALL-orphan2345\",\"config_src\":\"cloudflare\"}" \
	"$CF_URL/client/v4/accounts/$H130_ACCOUNT/cfd_tunnel" >"$T/body"
if jq -e '.success' "$T/body" >/dev/null 2>&1; then ok "130: an orphaned tunnel at the fake"; else bad "130: an orphaned tunnel at the fake" "$(head -c 300 "$T/body")"; fi
hold_release
_i=0
while [ "$(cf GET /_fake/state | jq '[.tunnels[] | select(.deleted_at == null and (.name | endswith("orphan2345")))] | length')" != 0 ] &&
	[ "$_i" -lt 300 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
h130_check "130: released, it-h1's sweep goes on and deletes the orphan" 0 \
	"$(cf GET /_fake/state | jq '[.tunnels[] | select(.deleted_at == null and (.name | endswith("orphan2345")))] | length')"
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
	hold_arm GET '/dns_records$'
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_h1_start "130: it-h1 restarts" 1000 30
	hold_wait "130: it-h1's sweep is inside its listing (held)"
	dbcheck "130: it-h1 holds the lock" "$H130_LOCKS" 1
	kill -KILL "$STACK_HELPERD_PID" 2>/dev/null || :
	stack_helperd_stop >/dev/null 2>&1 || :
	hold_release drop
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
# 2 calls in any 5 minutes: a burst of 1, then a token every 300 s; the sweep out of the
# way (every 300 s, and its turn taken just now). Which helperd claims a session's job is not this case's
# business (issue 15's routing): each helperd spends while it runs alone, its agent's
# device's sessions being the only ones it can start.
dbq "DELETE FROM cf_budget" >/dev/null
dbq "UPDATE sweep_turns SET started_ms = $(date +%s%3N)" >/dev/null
H130_CALLS0=$(h130_calls)
H130_T0=$(date +%s)
H130_SIDS=
h130_h1_start "130: it-h1 starts with a budget of 2 calls" 2 300
h130_agent h130-one "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent"
H130_DEV1=$H130_DEV
if [ "$SUITE_DB" = postgres ]; then
	h130_h2_start "130: it-h2 starts with a budget of 2 calls" 2 300
	h130_agent h130-two "ws://127.0.0.1:$H130_H2_PORT/api/v1/ws/agent"
	H130_DEV2=$H130_DEV
	dbcheck "130: each helperd holds one agent" \
		"SELECT string_agg(helperd, ',' ORDER BY helperd) FROM devices WHERE id IN ('$H130_DEV1', '$H130_DEV2')" \
		"it-h1,it-h2"
	# it-h2 first, alone: it spends the budget and turns the rest of its calls down.
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_sessions "$H130_DEV2" 3
	h130_wait_metric "130: it-h2 spends what there is and turns its other calls down" "$H130_M2" \
		kaiden_cf_budget_refused_total 1
	h130_budget_said
	h130_h2_stop
	h130_h1_start "130: then it-h1, alone" 2 300
	wait_for "130: h130-one's agent is back on it-h1" 30 \
		"SELECT status || ' ' || helperd FROM devices WHERE id = '$H130_DEV1'" "online it-h1"
else
	h130_sessions "$H130_DEV1" 3
	h130_wait_metric "130: it-h1 spends what there is and turns its other calls down" "$H130_M1" \
		kaiden_cf_budget_refused_total 1
	h130_budget_said
	# Restarted, it gets no fresh budget: the row is the truth.
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_h1_start "130: it-h1 restarts with the same budget" 2 300
fi
h130_sessions "$H130_DEV1" 1
h130_wait_metric "130: it-h1 asks the shared budget and is told to wait" "$H130_M1" \
	kaiden_cf_shared_budget_waits_total 1
# The burst, then a token every 300 s: the bound is 1 until then.
H130_BOUND=$((1 + ($(date +%s) - H130_T0) / 300))
H130_SPENT=$(($(h130_calls) - H130_CALLS0))
if [ "$H130_SPENT" -le "$H130_BOUND" ] && [ "$H130_SPENT" -ge 1 ]; then
	ok "130: the fake has seen $H130_SPENT calls, within the one budget ($H130_BOUND)"
else
	bad "130: the fake has seen the calls of one budget" "$H130_SPENT calls, the budget allows $H130_BOUND"
fi

# ---- the budget over any window: a limit equal to it never answers 429 ------------------
# The fake counts 8 calls per 4 s (a window from its first call, as Cloudflare counts
# 1200 per 5 minutes: not our windows); the helperds have a budget of 8 per 4 s between
# them: a burst of 2, then 6 per 4 s. Six sessions on a device of each (about 5 calls
# each until active) are three windows' worth of calls and more: all get active, and
# the fake never answered 429. The bucket of old (8 at once, then 8 per 4 s) met a 429
# in the first window.
stack_helperd_stop >/dev/null 2>&1 || :
h130_h2_stop
dbq "DELETE FROM cf_budget" >/dev/null
cf POST /_fake/faults '{"rate_limit":{"limit":8,"window_s":4}}' >/dev/null
H130_CALLS1=$(h130_calls)
H130_WINDOW_MS=4000
h130_h1_start "130: it-h1 starts with a budget of 8 per 4 s, the fake's limit" 8 300
h130_agent h130-paced-one "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent"
H130_PACED=$H130_DEV
if [ "$SUITE_DB" = postgres ]; then
	h130_h2_start "130: it-h2 starts with the same budget" 8 300
	h130_agent h130-paced-two "ws://127.0.0.1:$H130_H2_PORT/api/v1/ws/agent"
	H130_PACED="$H130_PACED $H130_DEV"
fi
H130_BEFORE=$H130_SIDS
for _d in $H130_PACED; do h130_sessions "$_d" 6; done
H130_PSIDS=$(echo "${H130_SIDS#"$H130_BEFORE"}" | xargs | sed "s/ /','/g")
H130_PN=$(echo "${H130_SIDS#"$H130_BEFORE"}" | wc -w)
wait_for "130: all $H130_PN sessions get active, paced by the budget" 150 \
	"SELECT count(*) FROM sessions WHERE id IN ('$H130_PSIDS') AND status = 'active'" "$H130_PN"
H130_PACED_CALLS=$(($(h130_calls) - H130_CALLS1))
if [ "$H130_PACED_CALLS" -ge 24 ]; then
	ok "130: $H130_PACED_CALLS calls went to the fake, three windows' worth and more"
else
	bad "130: three windows' worth of calls went to the fake" "$H130_PACED_CALLS calls"
fi
h130_check "130: the fake never answered 429 (its limit is the helperds' budget)" 0 \
	"$(h130_calls '.status == 429')"
wait_for "130: the system page's rows: each helperd's calls of the last window, of 8 per 4 s" 15 \
	"SELECT CASE WHEN max(cf_used) <= 8 THEN 'within' ELSE 'over' END || ' ' || min(cf_budget) || ' ' || max(cf_window_s)
	 FROM helperd_status WHERE instance IN ('it-h1', 'it-h2')" "within 8 4"
cf POST /_fake/faults '{"rate_limit":null}' >/dev/null
H130_WINDOW_MS=300000

# h130_nginx_start NAME SERVERS: one test (NAME): a private nginx on H130_NGINX_PORT
# (its pid H130_NGINX_PID): /api/v1/ws/agent to the upstream of SERVERS (nginx `server`
# lines), /api/v1/ws/stream/ to it-h1 (as nginx/kaiden.conf proxies them).
h130_nginx_start() {
	_nd=$H130/nginx
	mkdir -p "$_nd/logs" "$_nd/tmp"
	H130_NGINX_PORT=$(stack_free_port)
	_user=
	[ "$(id -u)" != 0 ] || _user='user root;'
	cat >"$_nd/nginx.conf" <<NGINX
$_user
worker_processes 1;
daemon off;
pid $_nd/nginx.pid;
error_log $_nd/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $_nd/tmp/client_body;
    proxy_temp_path $_nd/tmp/proxy;
    fastcgi_temp_path $_nd/tmp/fastcgi;
    uwsgi_temp_path $_nd/tmp/uwsgi;
    scgi_temp_path $_nd/tmp/scgi;
    upstream h130_agents { $2 }
    server {
        listen 127.0.0.1:$H130_NGINX_PORT;
        location = /api/v1/ws/agent {
            proxy_pass http://h130_agents;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 120s;
        }
        location /api/v1/ws/stream/ {
            proxy_pass http://unix:$STACK_HELPERD_SOCKET:;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header X-Kaiden-Relay-Hop "";
            proxy_buffering off;
        }
    }
}
NGINX
	"$(stack__nginx_bin)" -p "$_nd" -c "$_nd/nginx.conf" -e "$_nd/logs/error.log" \
		</dev/null >>"$_nd/logs/stderr.log" 2>&1 &
	H130_NGINX_PID=$!
	case_pids "$H130_NGINX_PID"
	_i=0
	while ! stack_port_busy "$H130_NGINX_PORT" && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	if stack_port_busy "$H130_NGINX_PORT"; then ok "$1"; else
		bad "$1" "$(tail -n 3 "$_nd/logs/error.log" 2>/dev/null)"
	fi
}

# ---- a dead helperd's start, taken over at its lease's end (PostgreSQL) ------------------
# A session's agent on it-h2 through a private nginx whose backup is it-h1 (as the
# deployment's upstream with every helperd); its start is held at the fake inside the
# Access application's create (the tunnel, made beside it, is on the row); it-h2 is
# SIGKILLed there (the fake abandons the held call: it never runs). The agent reconnects
# to it-h1, which claims the running start as soon as it-h2's heartbeat row is three
# beats old (15 s), not when the job's lease (120 s) runs out, and resumes it from the
# step on the row: active well within 60 s of the kill, claimed twice in all, and the
# fake holds one of each of the session's objects (the tunnel made once, adopted).

# h130_objects NAME: the fake's objects named NAME: "<tunnels made> <live tunnels>
# <Access apps> <DNS records>".
h130_objects() {
	cf GET /_fake/state | jq -r --arg n "$1" '[([.tunnels[] | select(.name == $n)] | length),
		([.tunnels[] | select(.name == $n and .deleted_at == null)] | length),
		([.access_apps[] | select(.name == $n)] | length),
		([.dns_records[] | select(.comment == $n)] | length)] | map(tostring) | join(" ")'
}

if [ "$SUITE_DB" = postgres ]; then
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_h2_stop
	dbq "DELETE FROM cf_budget" >/dev/null
	h130_h1_start "130: it-h1 restarts for the takeover" 1000 300
	h130_h2_start "130: it-h2 restarts for the takeover" 1000 300
	h130_nginx_start "130: a private nginx sends agents to it-h2, to it-h1 while it-h2 is down" \
		"server 127.0.0.1:$H130_H2_PORT max_fails=0; server unix:$STACK_HELPERD_SOCKET backup max_fails=0;"
	H130_TNGINX_PID=$H130_NGINX_PID
	# Nothing else starts meanwhile: the hold catches this session's create.
	wait_for "130: no earlier session is still starting" 90 \
		"SELECT count(*) FROM sessions WHERE engineer_name = 'E130' AND status = 'pending'" 0
	h130_agent h130-takeover "ws://127.0.0.1:$H130_NGINX_PORT/api/v1/ws/agent"
	H130_TAKER=${H130_AGENTS##* }
	H130_TDEV=$H130_DEV
	dbcheck "130: it-h2 holds its agent" "SELECT helperd FROM devices WHERE id = '$H130_TDEV'" it-h2
	hold_arm POST '/access/apps$'
	t "130: a session on it" POST /api/v1/sessions \
		"{\"device_id\":\"$H130_TDEV\",\"engineer_name\":\"E130\"}" 201
	save H130_TSID .id
	hold_wait "130: it-h2's start is inside the Access application's create (held)"
	H130_TJOB="SELECT state || ' ' || locked_by || ' ' || attempts FROM jobs WHERE session_id = '$H130_TSID' AND kind = 'session.start'"
	dbcheck "130: the start is running on it-h2, claimed once" "$H130_TJOB" "running it-h2 1"
	H130_TNAME="kaiden-sess-$H130_INSTALL-$(dbq "SELECT short_id FROM sessions WHERE id = '$H130_TSID'")"
	wait_for "130: its tunnel is on the row (made beside the held call)" 15 \
		"SELECT count(*) FROM sessions WHERE id = '$H130_TSID' AND tunnel_id IS NOT NULL" 1
	kill -KILL "$H130_H2_PID" 2>/dev/null || :
	wait "$H130_H2_PID" 2>/dev/null || :
	H130_H2_PID=
	H130_KILLED=$(date +%s)
	hold_release drop
	wait_for "130: it-h2 SIGKILLed: its agent is held by it-h1" 30 \
		"SELECT status || ' ' || helperd FROM devices WHERE id = '$H130_TDEV'" "online it-h1"
	# Within 60 s of the kill by the clock (wait_for counts polls, which a loaded machine
	# makes slower): the job lease it-h2 took runs 120 s from its claim, so only the
	# takeover at it-h2's own lease's end (15 s) gets there.
	H130_TSQL="SELECT status FROM sessions WHERE id = '$H130_TSID'"
	while [ "$(dbq "$H130_TSQL")" != active ] && [ $(($(date +%s) - H130_KILLED)) -lt 60 ]; do
		sleep 0.2
	done
	[ -z "${VERBOSE:-}" ] || echo "  130: active $(($(date +%s) - H130_KILLED)) s after it-h2's SIGKILL (a figure)"
	dbcheck "130: it-h1 takes the start over at it-h2's lease's end: active within 60 s of the kill" \
		"$H130_TSQL" active
	dbcheck "130: the start was claimed twice, done by it-h1" "$H130_TJOB" "done it-h1 2"
	h130_check "130: the fake holds one of each of its objects (one tunnel ever made, one app, two DNS records)" \
		"1 1 1 2" "$(h130_objects "$H130_TNAME")"
	call DELETE "/api/v1/sessions/$H130_TSID"
	wait_for "130: the session ends" 30 "SELECT status FROM sessions WHERE id = '$H130_TSID'" ended
	h130_check "130: nothing of it is left at the fake" "1 0 0 0" "$(h130_objects "$H130_TNAME")"
	for _p in "$H130_TAKER" "$H130_TNGINX_PID"; do
		kill -TERM "$_p" 2>/dev/null || :
		wait "$_p" 2>/dev/null || :
	done
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
h130_check "130: nothing is left at the fake" '0 0 0' \
	"$(cf GET /_fake/state | jq -r '.counts | "\(.live_tunnels) \(.dns_records) \(.access_apps)"')"

# ---- the relay across helperds (PostgreSQL) ---------------------------------------------
# The agent's control socket on it-h2 and its data sockets on it-h1 (a private nginx
# routes them so), the engineer through the stack's nginx (it-h1): it-h1 joins both the
# engineer's socket and the agent's data socket to it-h2, which runs the stream
# (relay.open, pairing, audit, bytes).

if [ "$SUITE_DB" = postgres ]; then
	mkdir -p "$H130/www"
	printf 'hello across helperds\n' >"$H130/www/hello.txt"
	H130_WEB_PORT=$(stack_free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$H130/www" "$H130_WEB_PORT" \
		>"$WORK/log/web-130.log" 2>&1 &
	H130_WEB_PID=$!
	case_pids "$H130_WEB_PID"
	_i=0
	while ! stack_port_busy "$H130_WEB_PORT" && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	export KAIDEN_TUNNEL_PROVIDER=relay KAIDEN_SESSION_WEB_PORT=$H130_WEB_PORT
	api_restart "130: kaiden-api restarts with relay sessions"
	# The session starts on it-h2 alone (which helperd claims a job is not this case's
	# business); then it-h1, which nginx sends the engineer to, comes up.
	stack_helperd_stop >/dev/null 2>&1 || :
	h130_h2_stop
	# at info: the voucher it takes is logged there (below)
	KAIDEN_LOG_LEVEL=info h130_h2_start "130: it-h2 restarts for the relay" 1000 300
	h130_nginx_start "130: a private nginx splits the agent's sockets" \
		"server 127.0.0.1:$H130_H2_PORT;"
	export KAIDEN_RELAY_PORTS=$H130_WEB_PORT
	h130_agent h130-relay "ws://127.0.0.1:$H130_NGINX_PORT/api/v1/ws/agent"
	unset KAIDEN_RELAY_PORTS
	H130_DEV3=$H130_DEV
	dbcheck "130: it-h2 holds the relay device's agent" \
		"SELECT helperd FROM devices WHERE id = '$H130_DEV3'" it-h2
	t "130: a relay session on it" POST /api/v1/sessions \
		"{\"device_id\":\"$H130_DEV3\",\"engineer_name\":\"E130\"}" 201 '.provider == "relay"'
	save H130_RSID .id
	wait_for "130: the relay session is active" 30 \
		"SELECT status FROM sessions WHERE id = '$H130_RSID'" active
	h130_h1_start "130: it-h1 restarts for the relay" 1000 300
	wait_for "130: it-h1 says where its peers reach it, it-h2 too" 15 \
		"SELECT count(*) FROM helperd_status WHERE instance IN ('it-h1', 'it-h2') AND peer_address IS NOT NULL" 2
	_out=$(printf 'GET /hello.txt HTTP/1.0\r\nHost: relay\r\n\r\n' |
		KAIDEN_TOKEN=$STACK_TOKEN timeout 30 "$H130_BIN/kaiden-connect" --server "$STACK_URL" \
			--insecure --session "$H130_RSID" --target web 2>"$T/kc.err") || :
	case $_out in
	*"hello across helperds"*) ok "130: the engineer reaches the target through it-h1, joined to it-h2" ;;
	*) bad "130: the engineer reaches the target through it-h1, joined to it-h2" \
		"got '$(printf '%s' "$_out" | head -c 200)', stderr: $(head -c 300 "$T/kc.err")" ;;
	esac
	h130_check "130: it-h1 forwarded the engineer's socket and the agent's data socket" 2 \
		"$(h130_metric "$H130_M1" 'kaiden_relay_streams_total{result="forwarded"}')"
	h130_check "130: it-h2 paired it with its agent's data socket" 1 \
		"$(h130_metric "$H130_M2" 'kaiden_relay_streams_total{result="paired"}')"
	wait_for "130: one connect and one disconnect in the audit log (it-h2's), the bytes on the row" 15 \
		"SELECT (SELECT count(*) FROM audit_log WHERE target_id = '$H130_RSID' AND action = 'session.connect') || ' ' ||
		        (SELECT count(*) FROM audit_log WHERE target_id = '$H130_RSID' AND action = 'session.disconnect') || ' ' ||
		        (SELECT CASE WHEN bytes_out > 0 AND bytes_in > 0 THEN 'bytes' ELSE 'none' END FROM sessions WHERE id = '$H130_RSID')" \
		"1 1 bytes"
	# it-h1 vouched for the engineer's address (X-Kaiden-Relay-From, signed with the
	# deployment's key): it-h2 took it (here the same 127.0.0.1 that a loopback peer's
	# X-Forwarded-For gives: this machine has no other address for a peer), and logged
	# no refusal. A request to it-h2 that claims to be a peer's with a voucher of its
	# own making is logged as refused (the socket's address stands; its credential is
	# refused after, 401, so nothing else happens).
	dbcheck "130: the connect's audit row has the engineer's address" \
		"SELECT remote_addr FROM audit_log WHERE target_id = '$H130_RSID' AND action = 'session.connect'" \
		127.0.0.1
	if grep -q "X-Kaiden-Relay-From does not check out" "$H130_H2_LOG" ||
		! grep -q "relay: connect session=$H130_RSID forwarded by a peer for 127.0.0.1" "$H130_H2_LOG"; then
		bad "130: it-h2 took it-h1's voucher" "$(grep "session=$H130_RSID" "$H130_H2_LOG" | head -4)"
	else
		ok "130: it-h2 took it-h1's voucher"
	fi
	curl -s -o /dev/null --max-time 3 \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Authorization: Bearer not-a-token' \
		-H 'X-Kaiden-Relay-Hop: it-h9' \
		-H 'X-Kaiden-Relay-From: 203.0.113.9;1764770000000;AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' \
		"http://127.0.0.1:$H130_H2_PORT/api/v1/ws/connect/$H130_RSID?target=web" || :
	_i=0
	while ! grep -q "session=$H130_RSID from 127.0.0.1: its X-Kaiden-Relay-From does not check out" \
		"$H130_H2_LOG" && [ "$_i" -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if grep -q "session=$H130_RSID from 127.0.0.1: its X-Kaiden-Relay-From does not check out" \
		"$H130_H2_LOG"; then
		ok "130: a voucher it-h2 cannot check is refused, the socket's address stands"
	else
		bad "130: a voucher it-h2 cannot check is refused, the socket's address stands" \
			"$(tail -5 "$H130_H2_LOG")"
	fi
	# A data socket that reaches it-h1 for a stream of it-h2 (its id's tag), with
	# something shaped like a key: joined to it-h2 (upgraded here; it-h2 then refuses the
	# key); an unknown tag, or no key's shape, is refused at once.
	H130_TAG2=$(python3 -c 'import sys
h = 2166136261
for b in sys.argv[1].encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("%08x" % h)' it-h2)
	H130_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
	for _t in "$H130_TAG2 $H130_KEY 101" "00000000 $H130_KEY 401" "$H130_TAG2 not-a-key 401"; do
		_tag=${_t%% *}
		_key=${_t#* }
		_want=${_key#* }
		_key=${_key%% *}
		_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
			-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
			-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: kaiden-stream' \
			-H "Authorization: Bearer $_key" \
			"$STACK_URL/api/v1/ws/stream/01a23b56-0000-7000-8000-0000$_tag") || :
		h130_check "130: a data socket for a stream ending in $_tag, key $_key, gets $_want from it-h1" \
			"$_want" "$_code"
	done
	call DELETE "/api/v1/sessions/$H130_RSID"
	wait_for "130: the relay session ends" 30 "SELECT status FROM sessions WHERE id = '$H130_RSID'" ended
	unset KAIDEN_SESSION_WEB_PORT
	for _p in "$H130_WEB_PID" "$H130_NGINX_PID"; do
		kill -TERM "$_p" 2>/dev/null || :
		wait "$_p" 2>/dev/null || :
	done
fi

for _p in $H130_AGENTS; do
	kill -TERM "$_p" 2>/dev/null || :
	wait "$_p" 2>/dev/null || :
done
h130_h2_stop
stack_helperd_stop >/dev/null 2>&1 || :
kill -TERM "$CF_PID" 2>/dev/null || :
wait "$CF_PID" 2>/dev/null || :
unset KAIDEN_TUNNEL_PROVIDER
api_restart "130: kaiden-api back with the suite's settings"
if [ -n "$H130_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "130: helperd back with the defaults"; else bad "130: helperd back with the defaults" "see its log"; fi
fi
