# shellcheck shell=sh
# Agents and kaiden-helperd: a simulated agent (tests/bench/agent_load) authenticates
# through nginx, the device goes online with the facts it reported and offline when it
# leaves; wrong and unknown credentials, deleted devices, bad frames, a takeover by a
# newer connection, the per-address rate limit; jobs claimed from the outbox; on
# PostgreSQL a server restart under a running helperd; and helperd's own shutdown
# (SIGTERM) and heartbeat timeout.

# kaiden-helperd joins the stack here, not in suite.sh: the cases before this one
# assert sessions that stay pending, which they would not with helperd claiming their
# jobs. From here on (case-90 too) it runs; suite.sh's trap stops it.
if stack_helperd_start; then ok "start kaiden-helperd"; else bad "start kaiden-helperd" "see $STACK_DIR/log/kaiden-helperd.log"; fi

case $B in /*) AGENT_LOAD=$B/tests/agent_load ;; *) AGENT_LOAD=$STACK_ROOT/$B/tests/agent_load ;; esac
WS_URL=ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent

# agent NAME WANT ARGS...: runs one simulated agent through nginx; WANT is "welcome" or
# a close code. One test.
agent() {
	_name=$1
	_want=$2
	shift 2
	if [ "$_want" = welcome ]; then
		set -- --expect-welcome "$@"
	else
		set -- --expect-close "$_want" "$@"
	fi
	if _out=$("$AGENT_LOAD" --url "$WS_URL" --timeout 20 "$@" 2>&1); then
		ok "$_name"
	else
		LAST="agent_load $*"
		CODE=-
		bad "$_name" "want $_want: $_out"
	fi
}

# agent_direct: the same, straight to helperd's Unix socket (a trusted proxy's place),
# so that X-Forwarded-For is believed.
agent_direct() {
	_name=$1
	_want=$2
	shift 2
	if _out=$("$AGENT_LOAD" --unix "$STACK_HELPERD_SOCKET" --timeout 20 --expect-close "$_want" "$@" 2>&1); then
		ok "$_name"
	else
		LAST="agent_load --unix $*"
		CODE=-
		bad "$_name" "want $_want: $_out"
	fi
}

case $(curl -s --max-time 5 "$STACK_METRICS_URL") in
*"# TYPE kaiden_agents_connected gauge"*"kaiden_jobs_claimed_total"*) ok "helperd serves /metrics" ;;
*) bad "helperd serves /metrics" "no kaiden_agents_connected / kaiden_jobs_claimed_total at $STACK_METRICS_URL" ;;
esac

t "create a device for an agent" POST /api/v1/devices '{"name":"agent-01"}' 201 '.status == "offline"'
save AG_DEV .id
save AG_SECRET .secret

# A good agent: online within 2 s with its facts, offline soon after it leaves.
"$AGENT_LOAD" --url "$WS_URL" --device "$AG_DEV" --secret "$AG_SECRET" --expect-welcome \
	--hold 3 --timeout 20 >"$T/agent1.out" 2>&1 &
ag1=$!
wait_for "the agent authenticates: device online within 2 s" 2 \
	"SELECT status FROM devices WHERE id = '$AG_DEV'" online
t "the device shows the agent's facts" GET "/api/v1/devices/$AG_DEV" '' 200 \
	'.status == "online"' '.hostname == "load-0"' '.os == "linux"' \
	'.agent_version == "load-1.0"' '.ip_address == "127.0.0.1"' '.last_seen | type == "string"'
if [ "$(metric kaiden_agents_connected)" = 1 ]; then ok "/metrics counts the agent"; else bad "/metrics counts the agent" "kaiden_agents_connected is '$(metric kaiden_agents_connected)'"; fi
if wait "$ag1"; then ok "the agent was welcomed"; else bad "the agent was welcomed" "$(cat "$T/agent1.out")"; fi
wait_for "the agent leaves: device offline" 3 \
	"SELECT status FROM devices WHERE id = '$AG_DEV'" offline

# Credentials.
agent "a wrong secret is closed with 4001" 4001 --device "$AG_DEV" --secret wrong-secret
agent "an unknown device is closed with 4001" 4001 \
	--device 00000000-0000-7000-8000-00000000beef --secret "$AG_SECRET"
agent "a device id that is not a UUID is closed with 4001" 4001 --device nope --secret x
t "create a device to delete" POST /api/v1/devices '{"name":"agent-gone"}' 201
save AG_GONE .id
save AG_GONE_SECRET .secret
t "delete it" DELETE "/api/v1/devices/$AG_GONE" '' 204
agent "a deleted device is closed with 4003" 4003 --device "$AG_GONE" --secret "$AG_GONE_SECRET"
dbcheck "... and stays offline" "SELECT status FROM devices WHERE id = '$AG_GONE'" offline

# Bad frames, before and after authentication; helperd keeps serving.
agent "garbage before hello: 4000" 4000 --device "$AG_DEV" --secret "$AG_SECRET" --first garbage
agent "a heartbeat before hello: 4000" 4000 --device "$AG_DEV" --secret "$AG_SECRET" --first heartbeat
agent "a binary frame: 1003" 1003 --device "$AG_DEV" --secret "$AG_SECRET" --first binary
agent "a frame over PROTO_MAX_MSG: 1009" 1009 --device "$AG_DEV" --secret "$AG_SECRET" --first oversize
agent "garbage after welcome: 4000" 4000 --device "$AG_DEV" --secret "$AG_SECRET" --after garbage --hold 10
agent "a second hello: 4000" 4000 --device "$AG_DEV" --secret "$AG_SECRET" --after hello --hold 10
agent "an oversized frame after welcome: 1009" 1009 --device "$AG_DEV" --secret "$AG_SECRET" --after oversize --hold 10
agent "a 4 KB heartbeat (received in pieces) is accepted" 1000 --device "$AG_DEV" --secret "$AG_SECRET" --after bigheartbeat --hold 2
agent "helperd still serves agents after all that" welcome --device "$AG_DEV" --secret "$AG_SECRET" --hold 0
raw GET /api/v1/ws/agent
if [ "$CODE" != 101 ] && [ "$CODE" != 000 ]; then ok "a plain GET of the agent path is refused ($CODE)"; else bad "a plain GET of the agent path is refused" "status $CODE"; fi

# A newer connection takes over: the old one gets 4008, the device stays online. (The
# last agent's offline mark lands first, so "online" below is the old connection's.)
wait_for "device offline before the takeover" 3 "SELECT status FROM devices WHERE id = '$AG_DEV'" offline
"$AGENT_LOAD" --url "$WS_URL" --device "$AG_DEV" --secret "$AG_SECRET" --expect-close 4008 \
	--hold 10 --timeout 20 >"$T/agent-old.out" 2>&1 &
ag_old=$!
wait_for "first connection online" 2 "SELECT status FROM devices WHERE id = '$AG_DEV'" online
agent "a newer connection for the device is welcomed" welcome --device "$AG_DEV" --secret "$AG_SECRET" --hold 1
if wait "$ag_old"; then ok "the replaced connection was closed with 4008"; else bad "the replaced connection was closed with 4008" "$(cat "$T/agent-old.out")"; fi
wait_for "... and the device goes offline once the newer one leaves" 3 \
	"SELECT status FROM devices WHERE id = '$AG_DEV'" offline

# Rate limit per client address: through the trusted socket with a made-up address, so
# that the loopback address the other cases use keeps its tries.
for i in 1 2 3 4 5; do
	agent_direct "failed attempt $i from one address: 4001" 4001 --xff 203.0.113.77 \
		--device "$AG_DEV" --secret "wrong-$i"
done
agent_direct "the next attempt from that address, right secret and all: 4029" 4029 \
	--xff 203.0.113.77 --device "$AG_DEV" --secret "$AG_SECRET"
if "$AGENT_LOAD" --unix "$STACK_HELPERD_SOCKET" --xff 203.0.113.78 --device "$AG_DEV" \
	--secret "$AG_SECRET" --expect-welcome --hold 0 --timeout 20 >"$T/other.out" 2>&1; then
	ok "another address is not limited"
else
	bad "another address is not limited" "$(cat "$T/other.out")"
fi
case $(metric 'kaiden_agent_auth_failures_total{reason="rate_limited"}') in
'' | 0) bad "/metrics counts rate-limited attempts" "none counted" ;;
*) ok "/metrics counts rate-limited attempts" ;;
esac
wait_for "device offline again" 3 "SELECT status FROM devices WHERE id = '$AG_DEV'" offline

# Resumption tickets (protocol 4): a welcome hands one out; the next hello offering it is
# admitted without argon2id (a wrong secret beside it proves the ticket did it). Every
# refused ticket falls back to the full login, which decides as without one. Through
# the trusted socket, each refusal from its own made-up address (agent_sock, lib.sh).
t "create a device for tickets" POST /api/v1/devices '{"name":"agent-tickets"}' 201
save TK_DEV .id
save TK_SECRET .secret
t "and another" POST /api/v1/devices '{"name":"agent-tickets-2"}' 201
save TK_DEV2 .id
save TK_SECRET2 .secret
dbcheck "a new device's secret is version 1" "SELECT secret_version FROM devices WHERE id = '$TK_DEV'" 1
agent_sock "a version-4 agent is welcomed with a ticket" welcome 198.51.100.40 --device "$TK_DEV" \
	--secret "$TK_SECRET" --tickets --ticket-out "$T/ticket"
TK_TICKET=$(cat "$T/ticket" 2>/dev/null || true)
if printf '%s' "$TK_TICKET" | grep -Eq '^1\.1\.[0-9]{10}\.[A-Za-z0-9_-]{43}$'; then ok "the ticket is version 1, expiry, 43-character MAC"; else bad "the ticket is version 1, expiry, 43-character MAC" "got '$TK_TICKET'"; fi
wait_for "its device is offline again" 3 "SELECT status FROM devices WHERE id = '$TK_DEV'" offline
agent_sock "the ticket admits (a wrong secret beside it: argon2id skipped)" welcome 198.51.100.41 \
	--device "$TK_DEV" --secret wrong-secret --ticket "$TK_TICKET"
wait_for "the resumed agent's device went online and offline again" 3 \
	"SELECT CASE WHEN status = 'offline' AND last_seen IS NOT NULL THEN 'ok' END FROM devices WHERE id = '$TK_DEV'" ok
case $(metric 'kaiden_agent_resumes_total{result="ok"}') in
'' | 0) bad "/metrics counts the resumption" "none counted" ;;
*) ok "/metrics counts the resumption" ;;
esac
# One character of the MAC's middle changed (all six of its bits count).
TK_FORGED=$(printf '%s' "$TK_TICKET" | sed 's/A\(.\{10\}\)$/B\1/; t; s/.\(.\{10\}\)$/A\1/')
agent_sock "a forged ticket with a wrong secret: the full login refuses (4001)" 4001 198.51.100.42 \
	--device "$TK_DEV" --secret wrong-secret --ticket "$TK_FORGED"
agent_sock "a forged ticket with the right secret: the full login admits" welcome 198.51.100.43 \
	--device "$TK_DEV" --secret "$TK_SECRET" --ticket "$TK_FORGED"
agent_sock "another device's ticket does not admit (4001 with a wrong secret)" 4001 198.51.100.44 \
	--device "$TK_DEV2" --secret wrong-secret --ticket "$TK_TICKET"
agent_sock "... and its own secret still does" welcome 198.51.100.45 --device "$TK_DEV2" \
	--secret "$TK_SECRET2" --ticket "$TK_TICKET"
case $(metric 'kaiden_agent_resumes_total{result="bad"}') in
'' | 0) bad "/metrics counts refused tickets" "none counted" ;;
*) ok "/metrics counts refused tickets" ;;
esac
# Rotation: a new hash (another device's: its secret is known) is version 2, and the
# version-1 ticket no longer admits.
dbq "UPDATE devices SET secret_hash = (SELECT secret_hash FROM devices WHERE id = '$TK_DEV2') WHERE id = '$TK_DEV'" >/dev/null
dbcheck "a new secret hash is version 2 (the trigger)" "SELECT secret_version FROM devices WHERE id = '$TK_DEV'" 2
agent_sock "rotated: the old ticket with the old secret is refused (4001)" 4001 198.51.100.47 \
	--device "$TK_DEV" --secret "$TK_SECRET" --ticket "$TK_TICKET"
agent_sock "rotated: the old ticket with the new secret logs in" welcome 198.51.100.48 \
	--device "$TK_DEV" --secret "$TK_SECRET2" --ticket "$TK_TICKET" --tickets --ticket-out "$T/ticket2"
TK_TICKET2=$(cat "$T/ticket2" 2>/dev/null || true)
case $TK_TICKET2 in 1.2.*) ok "the new login's ticket is for version 2" ;; *) bad "the new login's ticket is for version 2" "got '$TK_TICKET2'" ;; esac
agent_sock "the version-2 ticket admits" welcome 198.51.100.49 --device "$TK_DEV" --secret wrong-secret \
	--ticket "$TK_TICKET2"
# A suspended tenant: the ticket is refused and so is the full login (4003).
TK_TENANT=$(dbq "SELECT tenant_id FROM devices WHERE id = '$TK_DEV'")
TK_STATUS=$(dbq "SELECT status FROM tenants WHERE id = '$TK_TENANT'")
dbq "UPDATE tenants SET status = 'suspended' WHERE id = '$TK_TENANT'" >/dev/null
agent_sock "tenant suspended: a good ticket is refused, the login says 4003" 4003 198.51.100.50 \
	--device "$TK_DEV" --secret "$TK_SECRET2" --ticket "$TK_TICKET2"
dbq "UPDATE tenants SET status = '$TK_STATUS' WHERE id = '$TK_TENANT'" >/dev/null
agent_sock "tenant restored: the ticket admits again" welcome 198.51.100.51 --device "$TK_DEV" \
	--secret wrong-secret --ticket "$TK_TICKET2"
t "delete the ticket's device" DELETE "/api/v1/devices/$TK_DEV" '' 204
agent_sock "device deleted: its ticket is refused, the login says 4003" 4003 198.51.100.52 \
	--device "$TK_DEV" --secret "$TK_SECRET2" --ticket "$TK_TICKET2"
agent_sock "device deleted: ticket and a wrong secret, 4001" 4001 198.51.100.53 \
	--device "$TK_DEV" --secret wrong-secret --ticket "$TK_TICKET2"
# A ticket is a credential: never in helperd's log.
if grep -F -q -e "$(printf '%s' "$TK_TICKET" | cut -d. -f4)" -e "$(printf '%s' "$TK_TICKET2" | cut -d. -f4)" "$STACK_DIR/log/kaiden-helperd.log"; then
	bad "no ticket in helperd's log" "a ticket's MAC is in $STACK_DIR/log/kaiden-helperd.log"
else
	ok "no ticket in helperd's log"
fi
if dbq "SELECT count(*) FROM server_keys WHERE name = 'agent_ticket' AND length(secret) = 43" | grep -qx 1; then ok "one ticket key in server_keys"; else bad "one ticket key in server_keys" "$(dbq "SELECT name, length(secret) FROM server_keys")"; fi

# POST /devices/{id}/rotate-secret, as an agent sees it: the old secret's tickets and
# hellos are refused from then on (4001), the new secret logs in; an agent connected
# with the old one stays connected until it reconnects (as after a cluster's rotation):
# held here, it is still there when the new secret's login takes over (4008, not 4001).
t "create a device to rotate" POST /api/v1/devices '{"name":"agent-rotate"}' 201
save RT_DEV .id
save RT_OLD .secret
agent_sock "the old secret's agent gets a ticket" welcome 198.51.100.80 --device "$RT_DEV" \
	--secret "$RT_OLD" --tickets --ticket-out "$T/rt.ticket"
RT_TICKET=$(cat "$T/rt.ticket" 2>/dev/null || true)
case $RT_TICKET in 1.1.*) ok "... for version 1" ;; *) bad "... for version 1" "got '$RT_TICKET'" ;; esac
wait_for "its device is offline again" 3 "SELECT status FROM devices WHERE id = '$RT_DEV'" offline
"$AGENT_LOAD" --unix "$STACK_HELPERD_SOCKET" --xff 198.51.100.81 --device "$RT_DEV" \
	--secret "$RT_OLD" --expect-close 4008 --hold 60 --timeout 90 >"$T/rt-held.out" 2>&1 &
rt_held=$!
wait_for "an agent with the old secret is connected" 3 "SELECT status FROM devices WHERE id = '$RT_DEV'" online
t "rotate the device's secret" POST "/api/v1/devices/$RT_DEV/rotate-secret" '' 200 \
	".id == \"$RT_DEV\"" ".secret != \"$RT_OLD\"" '.status == "online"'
save RT_NEW .secret
dbcheck "... version 2" "SELECT secret_version FROM devices WHERE id = '$RT_DEV'" 2
dbcheck "the connected agent is still online" "SELECT status FROM devices WHERE id = '$RT_DEV'" online
RT_STALE0=$(metric 'kaiden_agent_resumes_total{result="stale"}')
agent_sock "rotated: the old ticket with a wrong secret is refused (4001)" 4001 198.51.100.82 \
	--device "$RT_DEV" --secret wrong-secret --ticket "$RT_TICKET"
agent_sock "rotated: the old ticket with the old secret is refused (4001)" 4001 198.51.100.83 \
	--device "$RT_DEV" --secret "$RT_OLD" --ticket "$RT_TICKET"
agent_sock "rotated: the old secret's hello is refused (4001)" 4001 198.51.100.84 \
	--device "$RT_DEV" --secret "$RT_OLD"
RT_STALE1=$(metric 'kaiden_agent_resumes_total{result="stale"}')
if [ "${RT_STALE1:-0}" -eq $((${RT_STALE0:-0} + 2)) ]; then
	ok "/metrics counts both refused tickets as stale (an earlier secret's)"
else
	bad "/metrics counts both refused tickets as stale (an earlier secret's)" "stale went ${RT_STALE0:-0} -> ${RT_STALE1:-0}"
fi
agent_sock "rotated: the new secret logs in (with the old ticket beside it)" welcome 198.51.100.85 \
	--device "$RT_DEV" --secret "$RT_NEW" --ticket "$RT_TICKET" --tickets --ticket-out "$T/rt.ticket2"
if wait "$rt_held"; then
	ok "the old secret's agent stayed connected until the new login took over (4008)"
else
	bad "the old secret's agent stayed connected until the new login took over (4008)" "$(cat "$T/rt-held.out")"
fi
RT_TICKET2=$(cat "$T/rt.ticket2" 2>/dev/null || true)
case $RT_TICKET2 in 1.2.*) ok "the new login's ticket is for version 2" ;; *) bad "the new login's ticket is for version 2" "got '$RT_TICKET2'" ;; esac
wait_for "offline once it left" 3 "SELECT status FROM devices WHERE id = '$RT_DEV'" offline
agent_sock "the version-2 ticket admits (argon2id skipped: a wrong secret beside it)" welcome \
	198.51.100.86 --device "$RT_DEV" --secret wrong-secret --ticket "$RT_TICKET2"
if grep -F -q -e "$RT_OLD" -e "$RT_NEW" "$STACK_DIR/log/kaiden-helperd.log" "$STACK_DIR/log/kaiden-api.log"; then
	bad "neither secret in helperd's or kaiden-api's log" "one is there"
else
	ok "neither secret in helperd's or kaiden-api's log"
fi
wait_for "offline at the end" 3 "SELECT status FROM devices WHERE id = '$RT_DEV'" offline

# Jobs: a session's job is claimed from the outbox (what the session module then does
# is case-70's business). On a device no agent ever came to: a start for one whose agent
# just left waits, unclaimed, for it to come back (store_jobs_claim; case-126).
t "create a device no agent has used" POST /api/v1/devices '{"name":"job-box"}' 201
save AG_JOB_DEV .device_id
t "create a session (a job for helperd)" POST /api/v1/sessions \
	"{\"device_id\":\"$AG_JOB_DEV\",\"engineer_name\":\"Ada\"}" 201
save AG_SESS .id
wait_for "helperd claims the job within 3 s" 3 \
	"SELECT count(*) FROM jobs WHERE session_id = '$AG_SESS' AND attempts >= 1 AND locked_by IS NOT NULL" 1

if [ "$SUITE_DB" = postgres ]; then
	# PostgreSQL restarts under helperd: its LISTEN connection comes back, and a job
	# made after the restart is claimed at once (well before the 10 s periodic claim).
	before=$(metric kaiden_db_listen_reconnects_total)
	if sh "$STACK_ROOT/scripts/pg.sh" stop "$STACK_DIR/pg" >"$T/pg.out" 2>&1 &&
		sh "$STACK_ROOT/scripts/pg.sh" start "$STACK_DIR/pg" >>"$T/pg.out" 2>&1; then
		ok "restart PostgreSQL"
	else
		bad "restart PostgreSQL" "$(cat "$T/pg.out")"
	fi
	i=0
	while [ "$(metric kaiden_db_listen_reconnects_total)" = "$before" ] && [ "$i" -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$(metric kaiden_db_listen_up)" = 1 ] && [ "$(metric kaiden_db_listen_reconnects_total)" != "$before" ]; then
		ok "helperd's LISTEN connection comes back"
	else
		bad "helperd's LISTEN connection comes back" "listen_up=$(metric kaiden_db_listen_up) reconnects=$(metric kaiden_db_listen_reconnects_total)"
	fi
	# kaiden-api is not restarted: each worker thread finds its connection dead, and a
	# read runs again on a new one, so no request after the restart fails (one per
	# thread would, else).
	for i in 1 2 3 4 5 6 7 8; do
		t "request $i after the PostgreSQL restart is answered" GET /api/v1/devices "" 200
	done
	t "create a session after the restart" POST /api/v1/sessions \
		"{\"device_id\":\"$AG_JOB_DEV\",\"engineer_name\":\"Ada\"}" 201
	save AG_SESS2 .id
	wait_for "a job made after the restart is claimed within 3 s" 3 \
		"SELECT count(*) FROM jobs WHERE session_id = '$AG_SESS2' AND attempts >= 1" 1
	agent "agents authenticate after the restart" welcome --device "$AG_DEV" --secret "$AG_SECRET" --hold 0
fi

# Shutdown: SIGTERM closes agents with 1001, marks their devices offline, exits 0.
"$AGENT_LOAD" --url "$WS_URL" --device "$AG_DEV" --secret "$AG_SECRET" --expect-close 1001 \
	--hold 30 --timeout 40 >"$T/agent-stop.out" 2>&1 &
ag_stop=$!
wait_for "an agent is online before helperd stops" 2 "SELECT status FROM devices WHERE id = '$AG_DEV'" online
stack_helperd_stop
if [ "$STACK_HELPERD_STATUS" = 0 ]; then ok "SIGTERM: kaiden-helperd exits 0"; else bad "SIGTERM: kaiden-helperd exits 0" "status $STACK_HELPERD_STATUS"; fi
if wait "$ag_stop"; then ok "SIGTERM: the agent was told 1001"; else bad "SIGTERM: the agent was told 1001" "$(cat "$T/agent-stop.out")"; fi
dbcheck "SIGTERM: the device is offline" "SELECT status FROM devices WHERE id = '$AG_DEV'" offline

# Heartbeat timeout, with a short agent_timeout: an agent that stops sending heartbeats
# is closed with 4009 and its device goes offline.
if KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=2 stack_helperd_start; then ok "helperd starts again"; else bad "helperd starts again" "see its log"; fi
agent "silent agent: closed with 4009" 4009 --device "$AG_DEV" --secret "$AG_SECRET" \
	--heartbeat 100 --hold 15
wait_for "... and its device goes offline" 3 "SELECT status FROM devices WHERE id = '$AG_DEV'" offline
agent "an agent that sends heartbeats stays" welcome --device "$AG_DEV" --secret "$AG_SECRET" \
	--heartbeat 1 --hold 4
stack_helperd_stop
if stack_helperd_start; then ok "helperd starts again with the defaults"; else bad "helperd starts again with the defaults" "see its log"; fi
