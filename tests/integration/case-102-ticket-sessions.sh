# shellcheck shell=sh
# Sessions started from tickets (issue 11), end to end with real helperd and a real
# kaiden-agent on the relay (tunnel.provider auto, no Cloudflare settings): POST /sessions
# with a ticket_id links both ways (the session's ticket_id, the ticket's sessions, GET
# /sessions?ticket_id=), the ticket gets "session started by ... on ..." at once and
# "session ended (...) notes: ..." / "session failed: ..." when helperd ends the session,
# each once, and a customer sees them; a closed ticket is refused (409 ticket_closed),
# another tenant's or no ticket too (422), nothing written; closing a ticket leaves its
# live session running (its end is still written on it); a burst of starts racing the
# close links exactly the sessions that got 201, each with its comment.
#
# Self-contained, in a tenant of its own ("ts", made by a platform admin, deleted at the
# end with everything in it, so that the cases after this one count only their own
# rows), acting with that tenant's service token (staff's rights in it) on both
# databases. Starts helperd if no case left it running (and stops it again), and an agent
# of its own, stopped at the end.

TS_NOID=00000000-0000-7000-8000-000000000000
TS=$WORK/ts
mkdir -p "$TS"
case $B in /*) TS_BIN=$B/bin ;; *) TS_BIN=$STACK_ROOT/$B/bin ;; esac
TS_AGENT_PID=
TS_OWN_HELPERD=

ts_agent_stop() {
	[ -n "$TS_AGENT_PID" ] || return 0
	kill -TERM "$TS_AGENT_PID" 2>/dev/null || :
	(sleep 15 && kill -KILL "$TS_AGENT_PID" 2>/dev/null) &
	_watchdog=$!
	wait "$TS_AGENT_PID" 2>/dev/null || :
	kill "$_watchdog" 2>/dev/null || :
	TS_AGENT_PID=
}

# ts_comments TICKET: the bodies of the ticket's comments, oldest first, one a line (as
# the caller sees them: a customer's token gets no internal ones).
ts_comments() {
	curl -s --max-time 10 -H "Authorization: Bearer ${2:-$STACK_TOKEN}" \
		"$STACK_URL/api/v1/tickets/$1/comments?limit=200" | jq -r '.items[].body'
}

# ts_count NAME TICKET PATTERN N [TOKEN]: one test: N of the ticket's comments (as TOKEN
# sees them) match the ERE PATTERN whole.
ts_count() {
	_n=$(ts_comments "$2" "${5:-}" | grep -cxE -- "$3") || :
	if [ "$_n" = "$4" ]; then
		ok "$1"
	else
		LAST="GET /api/v1/tickets/$2/comments"
		CODE=-
		bad "$1" "$_n comments match /$3/, want $4 (all: $(ts_comments "$2" "${5:-}" | tr '\n' '|' | head -c 400))"
	fi
}

# ---- the tenant, its people, helperd, a device and its agent ---------------------------------
TS_SAVED_TOKEN=$STACK_TOKEN
platform_admin ts TS_ADMIN
STACK_TOKEN=$TS_ADMIN
t "a tenant for ticket sessions" POST /api/v1/admin/tenants '{"code":"ts","name":"Ticket Sessions"}' 201
save TS_TENANT .id
cli "its service token" TS_SVC token create --tenant ts --name 'ts svc'
cli "a customer" TS_OUT user add --email cora@ts.test --name 'Cora Customer' --role customer \
	--tenant ts --password-file "$T/ts.pw"
cli "... with an API token" TS_CUST token create --user cora@ts.test --tenant ts --name cora
STACK_TOKEN=$TS_SVC

if [ -z "${STACK_HELPERD_PID:-}" ] || ! kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	if KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=3 stack_helperd_start; then
		ok "helperd starts (relay)"
	else
		bad "helperd starts (relay)" "see its log"
	fi
	TS_OWN_HELPERD=1
fi
t "a device for ticket sessions" POST /api/v1/devices '{"name":"ts-host"}' 201
save TS_DEV .device_id
(umask 077 && jq -r .secret "$T/body" >"$TS/device.secret")
"$TS_BIN/kaiden-agent" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
	--device-id "$TS_DEV" --secret-file "$TS/device.secret" \
	</dev/null >>"$WORK/log/kaiden-agent-ts.log" 2>&1 &
TS_AGENT_PID=$!
case_pids "$TS_AGENT_PID"
wait_for "its agent is online" 15 "SELECT status FROM devices WHERE id = '$TS_DEV'" online

# Another tenant's ticket: the default tenant's (removed at the end).
TS_THEIRS=0190a0b0-c0d0-7e0f-8000-0000000000b3
dbq "INSERT INTO tickets (id, tenant_id, number, title) VALUES ('$TS_THEIRS', '00000000-0000-0000-0000-000000000000', 'TKT-19990101-001', 'theirs')" >/dev/null

# ---- a session from a ticket, both ways ---------------------------------------------------
t "a ticket about the device" POST /api/v1/tickets \
	"{\"title\":\"Backups fail\",\"device_id\":\"$TS_DEV\"}" 201 '.status == "open"'
save TS_T .id
save TS_T_UPDATED .updated_at
t "a session started from it" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"Kai Moreno\",\"ticket_id\":\"$TS_T\"}" 201 \
	".ticket_id == \"$TS_T\"" '.status == "pending"' '.provider == "relay"'
save TS_S1 .id
wait_for "... goes active" 20 "SELECT status FROM sessions WHERE id = '$TS_S1'" active
t "the session names its ticket" GET "/api/v1/sessions/$TS_S1" '' 200 ".ticket_id == \"$TS_T\""
t "the ticket shows its session" GET "/api/v1/tickets/$TS_T" '' 200 \
	'.sessions | length == 1' ".sessions[0].id == \"$TS_S1\"" '.sessions[0].status == "active"' \
	".sessions[0].device_id == \"$TS_DEV\"" '.sessions[0].device_name == "ts-host"' \
	'.sessions[0].engineer_name == "Kai Moreno"' '.sessions[0].ended_at == null' \
	'.sessions[0] | keys == ["created_at", "device_id", "device_name", "ended_at", "engineer_name", "id", "status"]' \
	".updated_at > \"$TS_T_UPDATED\""
t "... a list of tickets does not (one query per row)" GET /api/v1/tickets '' 200 \
	"[.items[] | select(.id == \"$TS_T\") | has(\"sessions\")] == [false]"
t "the sessions of the ticket" GET "/api/v1/sessions?ticket_id=$TS_T" '' 200 \
	"[.items[].id] == [\"$TS_S1\"]"
t "... of no ticket" GET "/api/v1/sessions?ticket_id=$TS_NOID" '' 200 '.items == []'
t "... a ticket_id that is no id" GET '/api/v1/sessions?ticket_id=x' '' 400 "$(E invalid_query ticket_id)"
t "the start comment: a system comment" GET "/api/v1/tickets/$TS_T/comments" '' 200 \
	'[.items[] | select(.body == "session started by Kai Moreno on ts-host")] | length == 1' \
	'[.items[] | select(.body == "session started by Kai Moreno on ts-host")][0] | .type == "system" and .internal == false'
ts_count "... which the customer sees" "$TS_T" 'session started by Kai Moreno on ts-host' 1 "$TS_CUST"
raw GET "/api/v1/tickets/$TS_T" -H "Authorization: Bearer $TS_CUST"
expect "the customer reads the ticket's sessions" 200 '.sessions | length == 1' \
	'.sessions[0].engineer_name == "Kai Moreno"'
dbcheck "the start was audited with its ticket" \
	"SELECT count(*) FROM audit_log WHERE action = 'session.start' AND target_id = '$TS_S1' AND CAST(details AS TEXT) LIKE '%$TS_T%'" 1

# ---- refusals: nothing written -----------------------------------------------------------
snap
t "another tenant's ticket" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"K\",\"ticket_id\":\"$TS_THEIRS\"}" 422 \
	"$(E invalid_reference ticket_id)"
t "no such ticket" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"K\",\"ticket_id\":\"$TS_NOID\"}" 422 \
	"$(E invalid_reference ticket_id)"
t "a ticket_id that is no id" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"K\",\"ticket_id\":\"TKT-1\"}" 400 \
	"$(E invalid_field ticket_id)"
t "no such cluster (case-110 has the nodes)" POST /api/v1/sessions \
	"{\"cluster_id\":\"$TS_NOID\",\"node_name\":\"n1\",\"engineer_name\":\"K\",\"ticket_id\":\"$TS_T\"}" 404 \
	"$(E node_not_found cluster_id)" '.error.message | test("no such cluster")'
unchanged "no refused start wrote a session, a job or a comment, nor touched a ticket"
dbcheck "their ticket heard nothing" "SELECT count(*) FROM ticket_comments WHERE ticket_id = '$TS_THEIRS'" 0

# ---- the end, written once -----------------------------------------------------------------
t "notes on the session" PATCH "/api/v1/sessions/$TS_S1" '{"notes":"cleared the full disk"}' 200
t "the engineer ends it" DELETE "/api/v1/sessions/$TS_S1" '' 202
wait_for "... helperd ends it" 20 "SELECT status FROM sessions WHERE id = '$TS_S1'" ended
ts_count "the ticket says it ended, with its duration and notes" "$TS_T" \
	'session ended \(([0-9]+h )?([0-9]+m )?[0-9]+s\) notes: cleared the full disk' 1
t "ended again: nothing moves" DELETE "/api/v1/sessions/$TS_S1" '' 200 '.status == "ended"'
ts_count "... and the end is written once" "$TS_T" 'session ended .*' 1
ts_count "the customer sees the end" "$TS_T" 'session ended .*' 1 "$TS_CUST"
t "the ticket's session is ended" GET "/api/v1/tickets/$TS_T" '' 200 \
	'.sessions[0].status == "ended"' '.sessions[0].ended_at != null'

# ---- closing the ticket ends none of its sessions ------------------------------------------
t "a second session" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"Kai Moreno\",\"ticket_id\":\"$TS_T\"}" 201
save TS_S2 .id
wait_for "... active" 20 "SELECT status FROM sessions WHERE id = '$TS_S2'" active
t "in progress" PATCH "/api/v1/tickets/$TS_T" '{"status":"in_progress"}' 200
t "resolved" PATCH "/api/v1/tickets/$TS_T" '{"status":"resolved"}' 200
t "a resolved ticket still takes a session" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"Kai Moreno\",\"ticket_id\":\"$TS_T\"}" 201
save TS_S3 .id
raw PATCH "/api/v1/tickets/$TS_T" -H "Authorization: Bearer $TS_CUST" \
	-H 'Content-Type: application/json' --data-binary '{"status":"closed"}'
expect "the customer closes the ticket" 200 '.status == "closed"' '.sessions | length == 3'
wait_for "its live session runs on" 5 "SELECT status FROM sessions WHERE id = '$TS_S2'" active
snap
t "a closed ticket takes no session" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"K\",\"ticket_id\":\"$TS_T\"}" 409 \
	"$(E ticket_closed ticket_id)" '.error.message | test("closed")'
unchanged "... nothing written (no session, job or comment; the ticket untouched)"
t "the live session ends" DELETE "/api/v1/sessions/$TS_S2" '' 202
wait_for "... ended" 20 "SELECT status FROM sessions WHERE id = '$TS_S2'" ended
t "the third too" DELETE "/api/v1/sessions/$TS_S3" '' 202
wait_for "... ended" 20 "SELECT status FROM sessions WHERE id = '$TS_S3'" ended
ts_count "both ends are written on the closed ticket" "$TS_T" 'session ended \([0-9hms ]+\)' 2

# ---- a burst of starts racing the close --------------------------------------------------
t "a ticket for the race" POST /api/v1/tickets '{"title":"Race"}' 201
save TS_R .id
t "... in progress" PATCH "/api/v1/tickets/$TS_R" '{"status":"in_progress"}' 200
t "... resolved" PATCH "/api/v1/tickets/$TS_R" '{"status":"resolved"}' 200
_pids=
for _i in 1 2 3 4 5 6 7 8 9 10; do
	curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' -X POST \
		-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "{\"device_id\":\"$TS_DEV\",\"engineer_name\":\"Racer $_i\",\"ticket_id\":\"$TS_R\"}" \
		"$STACK_URL/api/v1/sessions" >"$TS/race.$_i" 2>&1 &
	_pids="$_pids $!"
	if [ "$_i" = 5 ]; then
		curl -s --max-time 30 -o "$TS/close.out" -w '%{http_code}' -X PATCH \
			-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
			--data-binary '{"status":"closed"}' "$STACK_URL/api/v1/tickets/$TS_R" \
			>"$TS/close.code" 2>&1 &
		_pids="$_pids $!"
	fi
done
# shellcheck disable=SC2086 # a list of pids
wait $_pids
TS_201=$(cat "$TS"/race.* | grep -cx 201) || :
TS_409=$(cat "$TS"/race.* | grep -cx 409) || :
if [ "$(cat "$TS/close.code")" = 200 ]; then ok "the close went through"; else bad "the close went through" "status $(cat "$TS/close.code")"; fi
if [ $((TS_201 + TS_409)) = 10 ]; then
	ok "each start got 201 or 409 ($TS_201 linked, $TS_409 refused)"
else
	bad "each start got 201 or 409" "$(cat "$TS"/race.* | tr '\n' ' ')"
fi
dbcheck "exactly the started ones are linked" "SELECT count(*) FROM sessions WHERE ticket_id = '$TS_R'" "$TS_201"
ts_count "... each with its start comment" "$TS_R" 'session started by Racer [0-9]+ on ts-host' "$TS_201"
t "the ticket is closed, its sessions those linked" GET "/api/v1/tickets/$TS_R" '' 200 \
	'.status == "closed"' ".sessions | length == $TS_201"
for _s in $(dbq "SELECT id FROM sessions WHERE ticket_id = '$TS_R'"); do
	call DELETE "/api/v1/sessions/$_s"
done
wait_for "the racers end" 30 \
	"SELECT count(*) FROM sessions WHERE ticket_id = '$TS_R' AND status NOT IN ('ended', 'failed')" 0

# ---- a failed session ------------------------------------------------------------------------
ts_agent_stop
# A device whose agent never came: helperd fails its session at once (one that was just
# here would be waited for, session.ready_timeout).
t "a device with no agent" POST /api/v1/devices '{"name":"ts-never"}' 201
save TS_NEVER .device_id
t "a ticket about it" POST /api/v1/tickets '{"title":"Offline"}' 201
save TS_F .id
t "a session on it" POST /api/v1/sessions \
	"{\"device_id\":\"$TS_NEVER\",\"engineer_name\":\"Kai Moreno\",\"ticket_id\":\"$TS_F\"}" 201
save TS_S4 .id
wait_for "... fails" 30 "SELECT status FROM sessions WHERE id = '$TS_S4'" failed
TS_ERR=$(dbq "SELECT error FROM sessions WHERE id = '$TS_S4'")
ts_count "the ticket says why it failed" "$TS_F" "session failed: .+" 1
if [ -n "$TS_ERR" ] && ts_comments "$TS_F" | grep -qxF "session failed: $TS_ERR"; then
	ok "... in the session's own words"
else
	bad "... in the session's own words" "no comment 'session failed: $TS_ERR'"
fi
ts_count "... which the customer sees" "$TS_F" "session failed: .+" 1 "$TS_CUST"

# ---- the tenant goes, with everything in it ----------------------------------------------
STACK_TOKEN=$TS_ADMIN
t "the tenant is deleted" DELETE "/api/v1/admin/tenants/$TS_TENANT" '' 204
dbcheck "... its sessions, jobs, devices, tickets and comments with it" \
	"SELECT (SELECT count(*) FROM sessions WHERE tenant_id = '$TS_TENANT') + (SELECT count(*) FROM jobs WHERE tenant_id = '$TS_TENANT') + (SELECT count(*) FROM devices WHERE tenant_id = '$TS_TENANT') + (SELECT count(*) FROM tickets WHERE tenant_id = '$TS_TENANT') + (SELECT count(*) FROM ticket_comments WHERE tenant_id = '$TS_TENANT')" 0
dbq "DELETE FROM tickets WHERE id = '$TS_THEIRS'" >/dev/null
STACK_TOKEN=$TS_SAVED_TOKEN
if [ -n "$TS_OWN_HELPERD" ]; then
	stack_helperd_stop >/dev/null 2>&1 || :
fi
