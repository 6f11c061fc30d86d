# shellcheck shell=sh
# Sessions end to end: real nginx, kaiden-api, kaiden-helperd and kaiden-agent, with the
# fake Cloudflare API (tests/fakes/fake_cloudflare.py) standing in for Cloudflare and the
# fake cloudflared for the connector. A device's agent comes online, POST /sessions goes
# to active with the right hostnames, ingress and Access apps at the fake, DELETE goes to
# ended and leaves nothing at the fake and no cloudflared running. Then the faults, each
# ending with nothing left behind: helperd killed (SIGKILL) at each provisioning step and
# restarted, PostgreSQL restarted mid-provisioning, a 500 on DNS create, a 429 storm,
# cloudflared killed under an active session and the agent killed and restarted at once
# (both restored: still active, a new cloudflared connected), the agent killed
# mid-session.

CF_TOKEN=fake-cf-token-$$
CF_ACCOUNT=0123456789abcdef0123456789abcdef
CF_ZONE=fedcba9876543210fedcba9876543210
CFD_DIR=$WORK/cfd
mkdir -p "$CFD_DIR" "$WORK/bin"
ln -sf "$STACK_ROOT/tests/fakes/fake_cloudflared.py" "$WORK/bin/cloudflared"
case $B in /*) AGENT_BIN=$B/bin/kaiden-agent ;; *) AGENT_BIN=$STACK_ROOT/$B/bin/kaiden-agent ;; esac

fake_cf_start "the fake Cloudflare API runs" "$WORK/log/fake-cf.log" "$CF_TOKEN" "$CF_ACCOUNT" \
	"$CF_ZONE"

# This case is about Cloudflare sessions: kaiden-api makes them whatever else is set
# (the suite's settings alone would give relay sessions, tunnel.provider auto); the end
# of the case puts the suite's settings back.
export KAIDEN_TUNNEL_PROVIDER=cloudflare
api_restart "kaiden-api restarts with KAIDEN_TUNNEL_PROVIDER=cloudflare"

# cf_check NAME JQ: one test: the fake's state satisfies JQ.
cf_check() {
	_state=$(cf GET /_fake/state)
	if printf '%s' "$_state" | jq -e "$2" >/dev/null 2>&1; then
		ok "$1"
	else
		LAST="fake state"
		CODE=-
		bad "$1" "does not hold: $2 (state: $(printf '%s' "$_state" | head -c 600))"
	fi
}

# Nothing at the fake but deleted tunnels: what every clean end must leave.
cf_empty() {
	cf_check "$1" '.counts.leftover == 0 and .counts.live_tunnels == 0 and .counts.dns_records == 0 and .counts.access_apps == 0'
}

# No cloudflared process left within 15 s, its grace period (the fake records each
# one's pid).
no_cloudflared() {
	_i=0
	while :; do
		_left=
		for _f in "$CFD_DIR"/*.json; do
			[ -e "$_f" ] || continue
			_p=$(jq -r '.pid' "$_f" 2>/dev/null) || _p=
			if [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null; then
				_left="$_left $_p"
			fi
		done
		[ -n "$_left" ] && [ "$_i" -lt 150 ] || break
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ -z "$_left" ]; then ok "$1"; else bad "$1" "cloudflared still running:$_left"; fi
}

# helperd_cf_start: helperd with the fake Cloudflare; GRACE is session.offline_grace.
GRACE=20
helperd_cf_start() {
	KAIDEN_CF_API_BASE=$CF_URL/client/v4 KAIDEN_CF_ACCOUNT_ID=$CF_ACCOUNT \
		KAIDEN_CF_ZONE_ID=$CF_ZONE KAIDEN_CF_API_TOKEN=$CF_TOKEN \
		KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test,@support.kaiden.test \
		KAIDEN_SESSION_OFFLINE_GRACE=$GRACE KAIDEN_HELPERD_SWEEP=1 \
		KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=4 \
		stack_helperd_start
}

# agent_start DEVICE SECRET: a real kaiden-agent through nginx with the fake cloudflared.
agent_start() {
	printf '%s' "$2" >"$WORK/agent.secret"
	chmod 600 "$WORK/agent.secret"
	PATH="$WORK/bin:$PATH" KAIDEN_FAKE_CF_URL=$CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$CFD_DIR \
		KAIDEN_SESSION_READY_TIMEOUT=20 \
		"$AGENT_BIN" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
		--device-id "$1" --secret-file "$WORK/agent.secret" \
		>>"$WORK/log/kaiden-agent.log" 2>&1 &
	AGENT_PID=$!
	case_pids "$AGENT_PID"
}

# agent_stop [SIGNAL]: signals the agent and reaps it (a watchdog kills it after 15 s).
agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill -"${1:-TERM}" "$AGENT_PID" 2>/dev/null || :
	(sleep 15 && kill -KILL "$AGENT_PID" 2>/dev/null) &
	_watchdog=$!
	wait "$AGENT_PID" 2>/dev/null || : # its status is not what is tested
	kill "$_watchdog" 2>/dev/null || :
	AGENT_PID=
}

# cfd_pids TUNNEL: the pids of the live fake cloudflareds connected (ready) with TUNNEL's
# token, one a line. A killed one's record still says ready: kill -0 weeds it out.
cfd_pids() {
	for _f in "$CFD_DIR"/*.json; do
		[ -e "$_f" ] || continue
		_p=$(jq -r --arg t "$1" 'select(.tunnel_id == $t and .ready == true) | .pid' "$_f" 2>/dev/null) || _p=
		if [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null; then
			echo "$_p"
		fi
	done
}

# wait_cfd NAME TUNNEL OLD_PID SECONDS: one test: a cloudflared other than OLD_PID runs
# ready for TUNNEL in time; its pid in CFD_PID.
wait_cfd() {
	_i=0
	while :; do
		CFD_PID=$(cfd_pids "$2" | grep -vx "$3" | head -n 1) || CFD_PID=
		if [ -n "$CFD_PID" ]; then
			ok "$1"
			return 0
		fi
		if [ "$_i" -ge $(($4 * 10)) ]; then
			bad "$1" "none after $4 s (records: $(cat "$CFD_DIR"/*.json 2>/dev/null | jq -c --arg t "$2" 'select(.tunnel_id == $t) | {pid, state, ready}' | tr '\n' ' '))"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# expect_active NAME: one test: session SID is active, with no error.
expect_active() {
	call GET "/api/v1/sessions/$SID"
	expect "$1" 200 '.status == "active"' '.error == null or .error == ""'
}

# hd_metric SERIES: its value in helperd's /metrics (0 if absent).
hd_metric() {
	_v=$(curl -s --max-time 5 "$STACK_METRICS_URL" | awk -v m="$1" '$1 == m { print $2 }')
	echo "${_v:-0}"
}

# wait_session NAME ID STATUS SECONDS: one test: the session reaches STATUS in time.
wait_session() {
	_i=0
	while :; do
		call GET "/api/v1/sessions/$2"
		_st=$(jq -r '.status' "$T/body" 2>/dev/null)
		if [ "$_st" = "$3" ]; then
			ok "$1"
			return 0
		fi
		if [ "$_i" -ge $(($4 * 10)) ]; then
			bad "$1" "status $_st after $4 s, want $3 (error: $(jq -r '.error' "$T/body" 2>/dev/null))"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# new_session: POST /sessions for the device; SID is its id.
new_session() {
	t "$1" POST /api/v1/sessions "{\"device_id\":\"$E2E_DEV\",\"engineer_name\":\"E2E\"}" 201 \
		'.status == "pending"'
	save SID .id
	save SHORT '.public_url | capture("https://sess-(?<s>[a-z2-7]+)\\.").s'
}

stack_helperd_stop >/dev/null 2>&1
# A timeout that leaves no room for a late heartbeat is refused at start-up. (The
# binary as stack_helperd_start finds it: no earlier case may have started one.)
if KAIDEN_HELPERD_HEARTBEAT=20 KAIDEN_HELPERD_AGENT_TIMEOUT=30 timeout 10 \
	"${STACK_HELPERD_BIN:-$(dirname "$STACK_BIN")/kaiden-helperd}" \
	</dev/null >"$T/hd.out" 2>&1; then
	bad "helperd refuses agent_timeout < 2 x heartbeat" "it started"
elif grep -q 'must be at least twice' "$T/hd.out"; then
	ok "helperd refuses agent_timeout < 2 x heartbeat"
else
	bad "helperd refuses agent_timeout < 2 x heartbeat" "$(head -c 300 "$T/hd.out")"
fi
if helperd_cf_start; then ok "helperd starts with the Cloudflare provider"; else bad "helperd starts with the Cloudflare provider" "see its log"; fi

t "create the e2e device" POST /api/v1/devices '{"name":"e2e-host"}' 201
save E2E_DEV .device_id
save E2E_SECRET .secret
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_for "the agent's device is online" 10 \
	"SELECT status FROM devices WHERE id = '$E2E_DEV'" online
dbcheck "the agent reported its facts" \
	"SELECT count(*) FROM devices WHERE id = '$E2E_DEV' AND hostname IS NOT NULL AND os IS NOT NULL AND agent_version IS NOT NULL" 1

# ---- the whole session --------------------------------------------------------------
new_session "open a session"
wait_session "the session becomes active" "$SID" active 20
expect "an active session has its public URL and ports" 200 \
	".public_url == \"https://sess-$SHORT.kaiden.test\"" \
	".ssh_hostname == \"sess-$SHORT-ssh.kaiden.test\"" '.tunnel_id | type == "string"' \
	'.ssh_port == 22' '.web_port == 8080'
save TUNNEL .tunnel_id
cf_check "one live tunnel named for the session" \
	"[.tunnels[] | select(.deleted_at == null)] | length == 1 and .[0].name == \"kaiden-sess-$(dbq 'SELECT id FROM install')-$SHORT\" and .[0].id == \"$TUNNEL\""
cf_check "its ingress: web, ssh, then the catch-all" \
	"[.tunnels[] | select(.id == \"$TUNNEL\") | .configuration.config.ingress[]] as \$r |
	 (\$r | length) == 3 and \$r[0].hostname == \"sess-$SHORT.kaiden.test\" and
	 \$r[0].service == \"http://localhost:8080\" and \$r[0].originRequest.access.required == true and
	 \$r[1].hostname == \"sess-$SHORT-ssh.kaiden.test\" and \$r[1].service == \"ssh://localhost:22\" and
	 (\$r[2] | has(\"hostname\") | not) and \$r[2].service == \"http_status:404\""
cf_check "one Access app guards both hostnames (its destinations)" \
	"(.access_apps | length) == 1 and .access_apps[0].domain == \"sess-$SHORT.kaiden.test\" and
	 ([.access_apps[0].destinations[].uri] | sort == [\"sess-$SHORT-ssh.kaiden.test\", \"sess-$SHORT.kaiden.test\"]) and
	 .unprotected_tunnel_cnames == []"
cf_check "two proxied CNAMEs point at the tunnel" \
	"[.dns_records[] | select(.type == \"CNAME\" and .proxied == true and .content == \"$TUNNEL.cfargotunnel.com\") | .name] | sort == [\"sess-$SHORT-ssh.kaiden.test\", \"sess-$SHORT.kaiden.test\"]"
cf_check "cloudflared is connected (tunnel healthy)" \
	"[.tunnels[] | select(.id == \"$TUNNEL\") | .connectors | length] == [1]"
_argv_ok=1
for _f in "$CFD_DIR"/*.json; do
	[ -e "$_f" ] || continue
	jq -e '.token_in_argv != true' "$_f" >/dev/null 2>&1 || _argv_ok=0
done
if [ "$_argv_ok" = 1 ] && ! grep -rqs "$CF_TOKEN" "$WORK/log/kaiden-agent.log" "$WORK/log/kaiden-helperd.log"; then
	ok "the tunnel token never reached argv, and the API token no log"
else
	bad "the tunnel token never reached argv, and the API token no log" "see $CFD_DIR and the logs"
fi

t "end the session" DELETE "/api/v1/sessions/$SID" "" 202 '.status == "ending"'
wait_session "the session ends" "$SID" ended 20
cf_empty "nothing is left at Cloudflare after the end"
no_cloudflared "no cloudflared is left after the end"

# ---- helperd killed at each provisioning call --------------------------------------------
# The fake holds the call: helperd sits in its step (the row says so, written before the
# call went out) until it dies with SIGKILL there. The held call is dropped unrun (a
# request Cloudflare never saw); helperd starts again, and the session still becomes
# active. The tunnel and the Access app are made together at step tunnel, the ingress and
# the DNS batch together at step dns; held at dns, the agent already runs cloudflared
# (tunnel.start went out once the ingress existed) and is sent tunnel.start again.
for at in tunnel access config dns; do
	case $at in
	tunnel) hold_arm POST '/cfd_tunnel$'; step=tunnel ;;
	access) hold_arm POST '/access/apps$'; step=tunnel ;;
	config) hold_arm PUT '/configurations$'; step=dns ;;
	dns) hold_arm POST '/dns_records/batch$'; step=dns ;;
	esac
	new_session "open a session to kill helperd in its $at call"
	hold_wait "helperd is in its $at call to Cloudflare"
	dbcheck "the session sits at step $step" "SELECT step FROM sessions WHERE id = '$SID'" "$step"
	kill -KILL "$STACK_HELPERD_PID" 2>/dev/null
	wait "$STACK_HELPERD_PID" 2>/dev/null || : # 137: killed, as meant
	STACK_HELPERD_PID=
	hold_release drop
	# The agent reconnects by itself after the first kill; later, its backoff (1, 2, 4,
	# 8 s) is all the waiting there would be: a new agent connects at once. The old one
	# is stopped while helperd is down: stopped after the restart, it could be sent the
	# resumed start while stopping its cloudflared, and answer tunnel.failed ("still
	# stopping"), which fails the session (seen once under load; docs/decisions.md).
	[ "$at" = tunnel ] || agent_stop TERM
	if helperd_cf_start; then ok "helperd restarts after SIGKILL in $at"; else bad "helperd restarts after SIGKILL in $at" "see its log"; fi
	[ "$at" = tunnel ] || agent_start "$E2E_DEV" "$E2E_SECRET"
	wait_session "the session resumes to active after a kill in $at" "$SID" active 30
	call DELETE "/api/v1/sessions/$SID"
	wait_session "and ends" "$SID" ended 30
	cf_empty "nothing leaks after a kill in $at"
done
no_cloudflared "no cloudflared is left after the kills"

# ---- the agent goes while the start waits for its tunnel ---------------------------------
# Its cloudflared never gets ready (the fake's never_ready), which holds the start at
# step agent, tunnel.start sent. The agent stops (TERM: its cloudflared stopped, the
# agent gone) and a new one comes: the start is sent again to it, not failed
# (helperd/session.c, act_agent_offline), and the session becomes active. The agent's own
# ready timeout (20 s) is the limit on this part's first half.
agent_stop TERM
export KAIDEN_FAKE_CLOUDFLARED_FAIL=never_ready
agent_start "$E2E_DEV" "$E2E_SECRET"
unset KAIDEN_FAKE_CLOUDFLARED_FAIL
wait_for "the agent is back online" 20 "SELECT status FROM devices WHERE id = '$E2E_DEV'" online
new_session "open a session whose cloudflared never gets ready"
wait_for "the start waits for the agent's tunnel (step agent)" 15 \
	"SELECT status || ' ' || step FROM sessions WHERE id = '$SID'" "pending agent"
agent_stop TERM
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_session "its agent gone and another come, the start goes on to active" "$SID" active 30
call DELETE "/api/v1/sessions/$SID"
wait_session "and ends" "$SID" ended 30
cf_empty "nothing leaks after the agent went in the middle of a start"
no_cloudflared "no cloudflared is left after it"

# ---- the agent goes after the early start command, while DNS is being made --------------
# The fake holds the DNS batch; tunnel.start went out once the ingress existed, and the
# agent's cloudflared runs ready for the session. The agent stops (its cloudflared
# stopped with it); once helperd has marked the device offline, a new agent comes, and the
# batch is let go: the command goes out again to the new agent, not the start failed
# (helperd/session.c, act_early_agent_gone), and the session becomes active.
hold_arm POST '/dns_records/batch$'
new_session "open a session, its DNS batch held"
hold_wait "helperd is in its DNS batch call"
TUNNEL=$(dbq "SELECT tunnel_id FROM sessions WHERE id = '$SID'")
wait_cfd "the early start command runs the session's cloudflared" "$TUNNEL" "" 15
OLD_CFD=$CFD_PID
agent_stop TERM
wait_for "helperd has marked the device offline" 15 \
	"SELECT status FROM devices WHERE id = '$E2E_DEV'" offline
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_for "a new agent is online" 20 "SELECT status FROM devices WHERE id = '$E2E_DEV'" online
dbcheck "the start is still pending, at step dns" \
	"SELECT status || ' ' || step FROM sessions WHERE id = '$SID'" "pending dns"
hold_release
wait_session "the batch done, the start goes on to active on the new agent" "$SID" active 30
wait_cfd "the new agent runs the session's cloudflared" "$TUNNEL" "$OLD_CFD" 15
call DELETE "/api/v1/sessions/$SID"
wait_session "and ends" "$SID" ended 30
cf_empty "nothing leaks after the agent went during an early start"
no_cloudflared "no cloudflared is left after it"

# ---- PostgreSQL restarted while a session is provisioned ---------------------------------
# The fake holds an Access app create; PostgreSQL stops under it; the released call's
# answer finds the database gone: the step's write fails, the job's finish is kept in
# memory until the database answers, and once PostgreSQL is back the session resumes at
# once from its recorded step (not after the 120 s lease).
if [ "$SUITE_DB" = postgres ]; then
	hold_arm POST '/access/apps$'
	new_session "open a session, then restart PostgreSQL in its Access call"
	hold_wait "helperd is in its Access call to Cloudflare"
	dbcheck "the session sits at step tunnel (tunnel and Access together)" "SELECT step FROM sessions WHERE id = '$SID'" tunnel
	if sh "$STACK_ROOT/scripts/pg.sh" stop "$STACK_DIR/pg" >"$T/pg.out" 2>&1; then
		ok "stop PostgreSQL mid-provisioning"
	else
		bad "stop PostgreSQL mid-provisioning" "$(cat "$T/pg.out")"
	fi
	# kept: how many times helperd's log says it kept a job's finish for later.
	kept() { grep -c 'not taken by the database: kept' "$STACK_DIR/log/kaiden-helperd.log" || :; }
	_kept=$(kept)
	hold_release
	_i=0
	while [ "$(kept)" -le "$_kept" ] && [ "$_i" -lt 300 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ "$(kept)" -gt "$_kept" ]; then
		ok "helperd keeps the job's finish while the database is down"
	else
		bad "helperd keeps the job's finish while the database is down" "not in its log after 30 s"
	fi
	if sh "$STACK_ROOT/scripts/pg.sh" start "$STACK_DIR/pg" >>"$T/pg.out" 2>&1; then
		ok "start PostgreSQL again"
	else
		bad "start PostgreSQL again" "$(cat "$T/pg.out")"
	fi
	wait_session "the session still becomes active, well within the lease" "$SID" active 40
	call DELETE "/api/v1/sessions/$SID"
	wait_session "and ends" "$SID" ended 30
	cf_empty "nothing leaks after a PostgreSQL restart mid-provisioning"
fi

# ---- a 500 on DNS create, and a 429 storm ------------------------------------------------
cf POST /_fake/faults '{"clear":true,"fail":[{"method":"POST","path":"/dns_records/batch$","status":500,"count":2}]}' >/dev/null
new_session "open a session while the DNS batch fails twice"
wait_session "it still becomes active" "$SID" active 30
call DELETE "/api/v1/sessions/$SID"
wait_session "and ends" "$SID" ended 30
cf_empty "nothing leaks after DNS 500s"

cf POST /_fake/faults '{"clear":true,"rate_limit_next":6,"retry_after":1}' >/dev/null
new_session "open a session in a 429 storm"
wait_session "it becomes active once the storm passes" "$SID" active 40
call DELETE "/api/v1/sessions/$SID"
wait_session "and ends" "$SID" ended 30
cf_empty "nothing leaks after a 429 storm"
_n429=$(cf GET '/_fake/log?kind=api' | jq '[.[] | select(.status == 429)] | length')
if [ "${_n429:-0}" -ge 6 ]; then ok "helperd met the 429s and waited them out"; else bad "helperd met the 429s" "saw ${_n429:-0}"; fi
cf POST /_fake/faults '{"clear":true}' >/dev/null

# ---- cloudflared killed under an active session ------------------------------------------
# The agent reports tunnel.failed and its heartbeats (every second here: the agent takes
# the interval from helperd's welcome) stop listing the session: helperd fetches the
# tunnel's token again and re-sends tunnel.start. The session never leaves active.
new_session "open a session, then kill its cloudflared"
wait_session "it becomes active" "$SID" active 20
call GET "/api/v1/sessions/$SID"
save TUNNEL .tunnel_id
_old=$(cfd_pids "$TUNNEL" | head -n 1)
_oldconn=$(cf GET /_fake/state | jq -r --arg t "$TUNNEL" '[.tunnels[] | select(.id == $t) | .connectors[].id] | if length == 1 then .[0] else empty end')
if [ -n "$_old" ] && [ -n "$_oldconn" ]; then ok "its cloudflared runs, connected"; else bad "its cloudflared runs, connected" "pid '$_old', connectors '$_oldconn'"; fi
_restores=$(hd_metric 'kaiden_session_restores_total{result="ok"}')
kill -KILL "$_old" 2>/dev/null || :
wait_cfd "a new cloudflared runs for the session within 20 s" "$TUNNEL" "$_old" 20
expect_active "the session is still active"
# The dead connector stays listed (the fake keeps it, as the edge does for a while): the
# new one is a different connector.
cf_check "the tunnel has a new connector" \
	"[.tunnels[] | select(.id == \"$TUNNEL\") | .connectors[].id] | any(. != \"$_oldconn\")"
dbcheck "the row stayed active/active" "SELECT status || '/' || step FROM sessions WHERE id = '$SID'" active/active
# tunnel.ready reaches helperd a probe (200 ms) after cloudflared connected.
_i=0
while [ "$(hd_metric 'kaiden_session_restores_total{result="ok"}')" -le "$_restores" ] && [ "$_i" -lt 50 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
if [ "$_i" -lt 50 ]; then
	ok "helperd counted the restore"
else
	bad "helperd counted the restore" "kaiden_session_restores_total{result=\"ok\"} did not grow"
fi
t "end the restored session" DELETE "/api/v1/sessions/$SID" "" 202 '.status == "ending"'
wait_session "it ends" "$SID" ended 20
cf_empty "nothing leaks after a restore"
no_cloudflared "no cloudflared is left after the restored session's end"

# ---- the agent killed and restarted at once ------------------------------------------------
# Its cloudflared dies with it; the new agent's first heartbeat lists nothing, well within
# session.offline_grace (20 s here), and helperd restores the session.
new_session "open a session, then kill and restart its agent"
wait_session "it becomes active" "$SID" active 20
call GET "/api/v1/sessions/$SID"
save TUNNEL .tunnel_id
_old=$(cfd_pids "$TUNNEL" | head -n 1)
agent_stop KILL
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_cfd "a new cloudflared runs for the session within 15 s" "$TUNNEL" "${_old:-none}" 15
expect_active "the session stayed active"
cf_check "the tunnel is connected again" \
	"[.tunnels[] | select(.id == \"$TUNNEL\") | .connectors | length] | .[0] >= 1"
dbcheck "the device is online" "SELECT status FROM devices WHERE id = '$E2E_DEV'" online
t "end the restored session" DELETE "/api/v1/sessions/$SID" "" 202 '.status == "ending"'
wait_session "it ends" "$SID" ended 20
cf_empty "nothing leaks after the agent's restart"
no_cloudflared "no cloudflared is left after the agent's restart"

# ---- the agent killed mid-session -------------------------------------------------------
# With a short offline grace (2 s): helperd starts again with it, and so does the agent
# (a new one connects at once; the old one would wait out its backoff).
agent_stop TERM
stack_helperd_stop >/dev/null 2>&1
GRACE=2
if helperd_cf_start; then ok "helperd starts again with a 2 s offline grace"; else bad "helperd starts again with a 2 s offline grace" "see its log"; fi
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_for "the agent is online again" 10 "SELECT status FROM devices WHERE id = '$E2E_DEV'" online
new_session "open a session, then kill its agent"
wait_session "it becomes active" "$SID" active 20
agent_stop KILL
no_cloudflared "cloudflared dies with a killed agent"
wait_for "the device goes offline" 10 "SELECT status FROM devices WHERE id = '$E2E_DEV'" offline
wait_session "the session is ended after the offline grace" "$SID" ended 45
cf_empty "nothing leaks after the agent was killed"

# ---- Cloudflare sessions without Cloudflare settings ------------------------------------
# kaiden-api still makes Cloudflare sessions (KAIDEN_TUNNEL_PROVIDER=cloudflare); helperd
# has no Cloudflare settings: it says at start-up that new sessions get a provider that
# cannot work, and each such session fails naming the settings to set.
stack_helperd_stop >/dev/null 2>&1
if stack_helperd_start; then ok "helperd starts without Cloudflare settings"; else bad "helperd starts without Cloudflare settings" "see its log"; fi
if grep 'level=warn.*new sessions get provider=cloudflare (tunnel.provider=cloudflare), which cannot work here' "$STACK_DIR/log/kaiden-helperd.log" |
	grep -q 'Cloudflare is not configured: set KAIDEN_CF_'; then
	ok "helperd says Cloudflare is not configured, and that new sessions get it"
else
	bad "helperd says Cloudflare is not configured, and that new sessions get it" "not in its log"
fi
agent_start "$E2E_DEV" "$E2E_SECRET"
wait_for "the agent is back online" 10 "SELECT status FROM devices WHERE id = '$E2E_DEV'" online
new_session "open a Cloudflare session without Cloudflare settings"
wait_session "it fails" "$SID" failed 20
expect "with a reason that names the missing settings" 200 '.provider == "cloudflare"' \
	'.error | test("^Cloudflare is not configured: set KAIDEN_CF_")' '.error | test("KAIDEN_TUNNEL_PROVIDER=relay")'
agent_stop TERM
no_cloudflared "no cloudflared is left at the end"

unset KAIDEN_TUNNEL_PROVIDER
api_restart "kaiden-api restarts with the suite's settings"

kill "$CF_PID" 2>/dev/null
wait "$CF_PID" 2>/dev/null || :
