# shellcheck shell=sh
# Agent holders (issue 15, part A): several helperds on one database, agents spread
# across them, and a helperd that dies. Real kaiden-agents, the fake Cloudflare API and
# fake cloudflared, as in case-70.
#
# PostgreSQL (multi mode): two helperds (instances holders-a and holders-b, each its own
# socket and metrics port) and two kaiden-apis (the stack's and one of this case's, on
# its own socket) behind one private nginx of this case (two listeners: each proxies
# agents to one helperd and falls back to the other, so that half the agents are held by
# each while both live; both send the API's requests to either kaiden-api, and the
# sessions are asked for through them: each kaiden-api serves some; scripts/stack.sh's
# nginx knows one of each). H_N
# agents (HOLDERS_AGENTS, default 20: the issue's size), two sessions each started
# in parallel: all active, every start claimed once and by its agent's holder (the
# reproduction: a start claimed by the other helperd used to wait there for an agent
# that never came). Then holders-b is SIGKILLed: its agents are held by holders-a again
# (through the same nginx) within 30 s, every session stays active, new sessions work.
#
# SQLite (single mode): a second helperd is not run. A SQLite file has one writer and
# single mode one helperd (docs/decisions.md, "Issue 15: agent holders"), so the
# two-helperd half is PostgreSQL's; the same code paths run here with one helperd, and
# the suite prints that half as not applicable (a line, not a count).
#
# Both: the only helperd left is SIGKILLed: the API stops saying online within the
# holder's lease (three heartbeat rows, 15 s) whoever is left to mark it; a session asked
# for meanwhile waits, claimed by nobody, until a restarted helperd holds its agent, then
# goes active with one claim. Everything ends clean: the fake empty, no cloudflared.

H_N=${HOLDERS_AGENTS:-20}
H_CF_TOKEN=fake-cf-token-h-$$
H_CF_ACCOUNT=0123456789abcdef0123456789abcdef
H_CF_ZONE=fedcba9876543210fedcba9876543210
H_DIR=$WORK/holders
H_CFD=$H_DIR/cfd
H_SOCK_B=$STACK_RUN/helperd-b.sock
mkdir -p "$H_CFD" "$H_DIR/bin" "$H_DIR/nginx/tmp"
ln -sf "$STACK_ROOT/tests/fakes/fake_cloudflared.py" "$H_DIR/bin/cloudflared"
case $B in /*) H_AGENT_BIN=$B/bin/kaiden-agent ;; *) H_AGENT_BIN=$STACK_ROOT/$B/bin/kaiden-agent ;; esac

fake_cf_start "holders: the fake Cloudflare API runs" "$WORK/log/fake-cf-holders.log" \
	"$H_CF_TOKEN" "$H_CF_ACCOUNT" "$H_CF_ZONE"
H_CF_PID=$CF_PID
H_CF_URL=$CF_URL
cf POST /_fake/faults '{"rate_limit":{"limit":1200,"window_s":60}}' >/dev/null

export KAIDEN_TUNNEL_PROVIDER=cloudflare
api_restart "holders: kaiden-api restarts with KAIDEN_TUNNEL_PROVIDER=cloudflare"

# h_export: the helperd settings of this case into the environment (h_unexport takes
# them out again): the fake Cloudflare; agents beat every second and are given 15 s
# before helperd closes them (twenty agents and forty fake cloudflareds starting on two
# loaded cores, under a sanitizer build too, left agents more than 4 s late and closed
# them in mid-start); a sweep every 5 s (each lists Cloudflare's objects, and a sweep a
# second would spend most of the fake's 1,200 calls per 5 minutes);
# session.ready_timeout, which is also how long a start waits for an agent to come
# back, longer than the agents' backoff can reach while no helperd runs (1, 2, 4 ...
# 50 s); and a Cloudflare budget of 1,200 calls a minute, the fake's limit too (below):
# sixty sessions started and ended within two minutes take about 700 calls, more than
# Cloudflare's 1,200 per five minutes let through at once (a quarter of the budget, the
# rest spread: common/cf_budget.h), and this case is about holders, not the budget
# (case-130 is): an account with five times the usual limit, through the budget's
# window for tests (cloudflare.budget_window_ms).
H_VARS="KAIDEN_CF_API_BASE KAIDEN_CF_ACCOUNT_ID KAIDEN_CF_ZONE_ID KAIDEN_CF_API_TOKEN
KAIDEN_CF_ACCESS_TEAM KAIDEN_CF_ACCESS_ALLOW KAIDEN_HELPERD_SWEEP KAIDEN_HELPERD_HEARTBEAT
KAIDEN_HELPERD_AGENT_TIMEOUT KAIDEN_SESSION_READY_TIMEOUT KAIDEN_HELPERD_INSTANCE
KAIDEN_CF_BUDGET KAIDEN_CF_BUDGET_WINDOW_MS"
h_export() {
	export KAIDEN_CF_API_BASE="$H_CF_URL/client/v4" KAIDEN_CF_ACCOUNT_ID="$H_CF_ACCOUNT" \
		KAIDEN_CF_ZONE_ID="$H_CF_ZONE" KAIDEN_CF_API_TOKEN="$H_CF_TOKEN" \
		KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test \
		KAIDEN_HELPERD_SWEEP=5 KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=15 \
		KAIDEN_SESSION_READY_TIMEOUT=300 KAIDEN_HELPERD_INSTANCE="$1" \
		KAIDEN_CF_BUDGET=1200 KAIDEN_CF_BUDGET_WINDOW_MS=60000
}
h_unexport() {
	for _v in $H_VARS; do unset "$_v"; done
}

# helperd A: the stack's (its socket is the one the suite's nginx knows).
h_start_a() {
	h_export holders-a
	if stack_helperd_start; then _rc=0; else _rc=1; fi
	h_unexport
	return "$_rc"
}

# helperd B: another instance on its own socket and metrics port, its own log; H_B_PID
# is the helperd's own pid (the subshell execs it).
H_B_PID=
h_start_b() {
	rm -f "$H_SOCK_B"
	_port=$(stack_free_port)
	(
		h_export holders-b
		export KAIDEN_HELPERD_LISTEN="$H_SOCK_B" KAIDEN_HELPERD_METRICS="127.0.0.1:$_port"
		# shellcheck disable=SC2153 # set by stack_helperd_start (A starts first)
		exec "$STACK_HELPERD_BIN"
	) </dev/null >>"$WORK/log/kaiden-helperd-b.log" 2>&1 &
	H_B_PID=$!
	case_pids "$H_B_PID"
	_i=0
	while ! { [ -S "$H_SOCK_B" ] && curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$_port/metrics"; }; do
		kill -0 "$H_B_PID" 2>/dev/null && [ "$_i" -lt 150 ] || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
}

# The private nginx: listener 1 proxies agents to A (B if A is down), listener 2 to B
# (A if B is down), as kaiden.conf proxies them to the one helperd. max_fails=0 on
# every server: nginx never marks one down, so each connection tries the primary and
# then the backup, whatever happened before (with nginx's marks, a listener whose
# primary was killed for good kept answering "no live upstreams" for minutes after its
# backup came back).
H_P1=$(stack_free_port)
H_P2=$(stack_free_port)
while [ "$H_P2" = "$H_P1" ]; do H_P2=$(stack_free_port); done
if [ "$(id -u)" -eq 0 ]; then _user='user root;'; else _user=; fi
# shellcheck disable=SC2016 # nginx's variables, for nginx
_ws='proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_read_timeout 120s; proxy_send_timeout 120s;'
# The API's requests, as kaiden.conf sends them, to either kaiden-api.
_api="location /api/v1/ { include $STACK_NGINX_DIR/fastcgi_params; fastcgi_param HTTP_PROXY \"\"; fastcgi_pass holders_api; access_log $H_DIR/nginx/api.log holders_api; }"
H_API_SOCK=$H_DIR/api-2.sock
cat >"$H_DIR/nginx/nginx.conf" <<EOF
$_user
worker_processes 1;
daemon off;
pid $H_DIR/nginx/nginx.pid;
error_log $H_DIR/nginx/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    log_format holders_api '\$request_method \$uri \$status \$upstream_addr';
    client_body_temp_path $H_DIR/nginx/tmp/client_body;
    proxy_temp_path $H_DIR/nginx/tmp/proxy;
    fastcgi_temp_path $H_DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $H_DIR/nginx/tmp/uwsgi;
    scgi_temp_path $H_DIR/nginx/tmp/scgi;
    upstream holders_a { server unix:$STACK_HELPERD_SOCKET max_fails=0; server unix:$H_SOCK_B backup max_fails=0; }
    upstream holders_b { server unix:$H_SOCK_B max_fails=0; server unix:$STACK_HELPERD_SOCKET backup max_fails=0; }
    upstream holders_api { server unix:$STACK_SOCKET; server unix:$H_API_SOCK; }
    server { listen 127.0.0.1:$H_P1; location /api/v1/ws/ { proxy_pass http://holders_a; $_ws } $_api }
    server { listen 127.0.0.1:$H_P2; location /api/v1/ws/ { proxy_pass http://holders_b; $_ws } $_api }
}
EOF
"$(stack__nginx_bin)" -p "$H_DIR/nginx" -c "$H_DIR/nginx/nginx.conf" -e "$H_DIR/nginx/error.log" \
	</dev/null >>"$H_DIR/nginx/stderr.log" 2>&1 &
H_NGINX_PID=$!
case_pids "$H_NGINX_PID"

stack_helperd_stop >/dev/null 2>&1
if h_start_a; then ok "holders: helperd holders-a starts"; else bad "holders: helperd holders-a starts" "see its log"; fi
# The second kaiden-api (PostgreSQL: several on one database; on SQLite it is the same
# file, which single mode allows too): the stack's environment, a socket of its own.
"$STACK_BIN" serve --socket "$H_API_SOCK" </dev/null >>"$WORK/log/kaiden-api-2.log" 2>&1 &
H_API_PID=$!
case_pids "$H_API_PID"
_i=0
while [ ! -S "$H_API_SOCK" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
if [ -S "$H_API_SOCK" ]; then ok "holders: a second kaiden-api listens"; else bad "holders: a second kaiden-api listens" "$(tail -n 5 "$WORK/log/kaiden-api-2.log")"; fi
H_URL=http://127.0.0.1:$H_P1
if [ "$SUITE_DB" = postgres ]; then
	if h_start_b; then ok "holders: a second helperd, holders-b, starts on the same database"; else bad "holders: a second helperd, holders-b, starts on the same database" "see $WORK/log/kaiden-helperd-b.log"; fi
else
	echo "  n/a sqlite: holders: two helperds on one database (a SQLite file: one helperd; PostgreSQL runs it)"
fi

# Devices and their agents: agent i through listener 1 when odd, 2 when even (on SQLite,
# where there is no B, listener 2 falls back to A).
H_DEVS=
_k=1
while [ "$_k" -le "$H_N" ]; do
	call POST /api/v1/devices "{\"name\":\"holder-$_k\"}"
	_dev=$(jq -r '.device_id' "$T/body")
	jq -j '.secret' "$T/body" >"$H_DIR/agent-$_k.secret"
	chmod 600 "$H_DIR/agent-$_k.secret"
	H_DEVS="$H_DEVS $_dev"
	if [ $((_k % 2)) -eq 1 ]; then _p=$H_P1; else _p=$H_P2; fi
	PATH="$H_DIR/bin:$PATH" KAIDEN_FAKE_CF_URL=$H_CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$H_CFD \
		"$H_AGENT_BIN" --server "ws://127.0.0.1:$_p/api/v1/ws/agent" --insecure \
		--device-id "$_dev" --secret-file "$H_DIR/agent-$_k.secret" \
		>>"$WORK/log/kaiden-agent-holders.log" 2>&1 &
	H_AGENTS="${H_AGENTS:-} $!"
	case_pids "$!"
	_k=$((_k + 1))
done
H_IN="'$(echo "$H_DEVS" | sed "s/^ //; s/ /','/g")'"
wait_for "holders: the $H_N agents are online" 30 \
	"SELECT count(*) FROM devices WHERE id IN ($H_IN) AND status = 'online'" "$H_N"
if [ "$SUITE_DB" = postgres ]; then
	dbcheck "holders: half of them held by holders-a, half by holders-b" \
		"SELECT count(*) FILTER (WHERE helperd = 'holders-a') || ' ' || count(*) FILTER (WHERE helperd = 'holders-b') FROM devices WHERE id IN ($H_IN)" \
		"$(((H_N + 1) / 2)) $((H_N / 2))"
fi

# h_api_online NAME SECONDS WANT: one test: GET /devices?status=online lists WANT of this
# case's devices within SECONDS (the API's word, not the row's).
h_api_online() {
	_i=0
	while :; do
		call GET "/api/v1/devices?status=online&q=holder-&limit=200"
		_n=$(jq '[.items[] | select(.name | startswith("holder-"))] | length' "$T/body" 2>/dev/null)
		if [ "$_n" = "$3" ]; then ok "$1"; return 0; fi
		if [ "$_i" -ge $(($2 * 10)) ]; then bad "$1" "$_n online after $2 s, want $3"; return 0; fi
		sleep 0.1
		_i=$((_i + 1))
	done
}
h_api_online "holders: the API says all $H_N online" 10 "$H_N"

# h_sessions N: N sessions on each device, asked for in parallel; their ids in $H_DIR/sids.
h_sessions() {
	rm -f "$H_DIR"/sid.*
	_posts=
	_j=0
	for _dev in $H_DEVS; do
		_r=0
		while [ "$_r" -lt "$1" ]; do
			curl -sS --max-time 30 -o "$H_DIR/sid.$_j" -X POST \
				-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
				--data-binary "{\"device_id\":\"$_dev\",\"engineer_name\":\"Holders\"}" \
				"$H_URL/api/v1/sessions" &
			_posts="$_posts $!"
			_r=$((_r + 1))
			_j=$((_j + 1))
		done
	done
	for _p in $_posts; do wait "$_p" 2>/dev/null || :; done
	H_SIDS=$(cat "$H_DIR"/sid.* | jq -r '.id // empty')
	H_SIN="'$(echo "$H_SIDS" | tr '\n' ' ' | sed "s/ *$//; s/ /','/g")'"
}

# h_all NAME SECONDS SQL_STATUS_IN: one test: every session of $H_SIN has a status in
# the list within SECONDS.
h_all() {
	wait_for "$1" "$2" \
		"SELECT count(*) FROM sessions WHERE id IN ($H_SIN) AND status NOT IN ($3)" 0
}

h_sessions 2
if [ "$(echo "$H_SIDS" | wc -w)" -eq $((2 * H_N)) ]; then ok "holders: $((2 * H_N)) sessions asked for in parallel"; else bad "holders: $((2 * H_N)) sessions asked for in parallel" "got $(echo "$H_SIDS" | wc -w) ids"; fi
h_all "holders: all $((2 * H_N)) sessions active" 60 "'active'"
# Both kaiden-apis took some of them (nginx's round robin over the upstream).
_n1=$(grep -c "^POST /api/v1/sessions 201 unix:$STACK_SOCKET\$" "$H_DIR/nginx/api.log") || :
_n2=$(grep -c "^POST /api/v1/sessions 201 unix:$H_API_SOCK\$" "$H_DIR/nginx/api.log") || :
if [ "${_n2:-0}" -gt 0 ] && [ "${_n1:-0}" -gt 0 ]; then
	ok "holders: both kaiden-apis served the starts (the stack's $_n1, the second $_n2)"
else
	bad "holders: both kaiden-apis served the starts" "the stack's $_n1, the second $_n2"
fi
dbcheck "holders: every start claimed once, by its agent's holder" \
	"SELECT count(*) FROM jobs j JOIN sessions s ON s.id = j.session_id JOIN devices d ON d.id = s.device_id WHERE s.id IN ($H_SIN) AND j.kind = 'session.start' AND (j.state <> 'done' OR j.attempts <> 1 OR j.locked_by IS DISTINCT FROM d.helperd)" 0

if [ "$SUITE_DB" = postgres ]; then
	# ---- holders-b SIGKILLed: its agents to holders-a through the same nginx --------------
	_killed=$(date +%s)
	kill -KILL "$H_B_PID" 2>/dev/null
	wait "$H_B_PID" 2>/dev/null || :
	wait_for "holders: holders-b's agents are held by holders-a within 30 s" 30 \
		"SELECT count(*) FROM devices WHERE id IN ($H_IN) AND status = 'online' AND helperd = 'holders-a'" "$H_N"
	[ -z "${VERBOSE:-}" ] || echo "  holders: $H_N agents held by holders-a $(($(date +%s) - _killed)) s after holders-b's SIGKILL (a figure, not a test)"
	h_api_online "holders: ... and the API says all $H_N online" 10 "$H_N"
	h_all "holders: every session is still active (or ended cleanly)" 30 "'active', 'ended'"
	dbcheck "holders: none ended with an error" \
		"SELECT count(*) FROM sessions WHERE id IN ($H_SIN) AND status = 'ended' AND error IS NOT NULL" 0
	H_OLD_SIN=$H_SIN
	h_sessions 1
	h_all "holders: new sessions on every device are active" 60 "'active'"
	H_SIN="$H_OLD_SIN,$H_SIN"
else
	echo "  n/a sqlite: holders: a second helperd SIGKILLed, its agents taken over (PostgreSQL runs it)"
fi

# ---- the only helperd left SIGKILLed --------------------------------------------------------
kill -KILL "$STACK_HELPERD_PID" 2>/dev/null
wait "$STACK_HELPERD_PID" 2>/dev/null || :
STACK_HELPERD_PID=
dbcheck "holders: with every helperd dead, the rows still say online" \
	"SELECT count(*) FROM devices WHERE id IN ($H_IN) AND status = 'online'" "$H_N"
h_api_online "holders: ... but the API says none is online within the lease (15 s)" 30 0
_dev1=${H_DEVS# }
_dev1=${_dev1%% *}
call GET "/api/v1/devices/$_dev1"
expect "holders: ... a device read alone says offline too" 200 '.status == "offline"'
t "holders: a session asked for while no helperd runs" POST /api/v1/sessions \
	"{\"device_id\":\"$_dev1\",\"engineer_name\":\"Holders\"}" 201 '.status == "pending"'
save H_WAIT_SID .id
if h_start_a; then ok "holders: holders-a starts again"; else bad "holders: holders-a starts again" "see its log"; fi
# Its agents come back with their backoff (by now up to 50 s, with jitter); the waiting
# start is claimed when its agent's hello makes holders-a its holder, and only then.
wait_for "holders: the waiting session goes active" 150 \
	"SELECT status FROM sessions WHERE id = '$H_WAIT_SID'" active
dbcheck "holders: ... claimed once (no requeue loop while its agent was away)" \
	"SELECT attempts || ' ' || locked_by FROM jobs WHERE session_id = '$H_WAIT_SID' AND kind = 'session.start'" "1 holders-a"
wait_for "holders: every agent is held again" 150 \
	"SELECT count(*) FROM devices WHERE id IN ($H_IN) AND status = 'online' AND helperd = 'holders-a'" "$H_N"
h_all "holders: the earlier sessions are still active" 30 "'active'"

# ---- the end: nothing left -----------------------------------------------------------------
for _sid in $(dbq "SELECT id FROM sessions WHERE id IN ($H_SIN) OR id = '$H_WAIT_SID'"); do
	curl -sS -o /dev/null --max-time 30 -X DELETE -H "Authorization: Bearer $STACK_TOKEN" \
		"$STACK_URL/api/v1/sessions/$_sid"
done
wait_for "holders: every session ends" 60 \
	"SELECT count(*) FROM sessions WHERE (id IN ($H_SIN) OR id = '$H_WAIT_SID') AND status <> 'ended'" 0
_state=$(cf GET /_fake/state | jq -c '.counts')
if printf '%s' "$_state" | jq -e '.leftover == 0 and .live_tunnels == 0 and .dns_records == 0 and .access_apps == 0' >/dev/null 2>&1; then
	ok "holders: nothing is left at the fake Cloudflare"
else
	bad "holders: nothing is left at the fake Cloudflare" "counts: $_state"
fi
for _p in $H_AGENTS; do kill -TERM "$_p" 2>/dev/null || :; done
for _p in $H_AGENTS; do wait "$_p" 2>/dev/null || :; done
_left=
for _f in "$H_CFD"/*.json; do
	[ -e "$_f" ] || continue
	_p=$(jq -r '.pid' "$_f" 2>/dev/null) || _p=
	if [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null; then _left="$_left $_p"; fi
done
if [ -z "$_left" ]; then ok "holders: no cloudflared is left"; else bad "holders: no cloudflared is left" "running:$_left"; fi

stack_helperd_stop >/dev/null 2>&1
kill -TERM "$H_NGINX_PID" 2>/dev/null || :
wait "$H_NGINX_PID" 2>/dev/null || :
stack__stop_pid "$H_API_PID" TERM 15 kaiden-api-2
if [ "$STACK_STATUS" = 0 ]; then ok "holders: the second kaiden-api stops cleanly"; else bad "holders: the second kaiden-api stops cleanly" "exit $STACK_STATUS"; fi
kill "$H_CF_PID" 2>/dev/null || :
wait "$H_CF_PID" 2>/dev/null || :
dbq "DELETE FROM helperd_status WHERE instance IN ('holders-a', 'holders-b')" >/dev/null
unset KAIDEN_TUNNEL_PROVIDER
api_restart "holders: kaiden-api restarts with the suite's settings"
