# shellcheck shell=sh
# Sessions: create (pending, a session.start job), list with filters, get, PATCH notes,
# DELETE (202 ending, then 200 unchanged, one session.end job), device_busy,
# invalid_reference, and a device's history. The suite sets only KAIDEN_CF_DOMAIN, so
# tunnel.provider auto gives relay sessions: no Cloudflare hostnames, byte counts, and
# kaiden-connect commands that are pasted into sh (with stand-ins for ssh and
# kaiden-connect that print their argv) to prove their quoting; a customer reads the
# session without them; usage shows the bytes. Then kaiden-api is restarted with
# KAIDEN_TUNNEL_PROVIDER=cloudflare for a Cloudflare session's public URL and hostname
# (from KAIDEN_CF_DOMAIN), and restarted back.

NOID=00000000-0000-7000-8000-000000000000
# DEV_A is case-30's first device and DEV_PCT one it deleted; run on its own (CASES=40)
# this case makes its own.
if [ -z "${DEV_A:-}" ]; then
	call POST /api/v1/devices '{"name":"sess-dev-a"}'
	save DEV_A .id
fi
if [ -z "${DEV_PCT:-}" ]; then
	call POST /api/v1/devices '{"name":"sess-dev-deleted"}'
	save DEV_PCT .id
	call DELETE "/api/v1/devices/$DEV_PCT"
fi
call POST /api/v1/devices '{"name":"sess-dev-b"}'
save DEV_B .id

t "create a session (a relay session: tunnel.provider auto, Cloudflare incomplete)" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"Mia Chen\",\"notes\":\"disk full\\non /var\\tcheck\"}" 201 \
	'.status == "pending"' ".device_id == \"$DEV_A\"" '.engineer_name == "Mia Chen"' \
	'.notes == "disk full\non /var\tcheck"' \
	'.provider == "relay"' '.public_url == null' '.ssh_hostname == null' \
	'.bytes_in == 0' '.bytes_out == 0' \
	'.ssh_port == 22' '.web_port == 8080' '.ended_at == null' \
	'.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' \
	'.connect | keys == ["ssh", "token", "web"]'
save S1 .id
loc=$(hval Location)
if [ "$loc" = "/api/v1/sessions/$S1" ]; then ok "201 carries Location"; else bad "201 carries Location" "Location: '$loc'"; fi
dbcheck "a session.start job was written with the session" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.start'" 1
# No server.public_url in the suite: the commands name the server as the request reached
# it through nginx (http, so --insecure).
t "... its connect commands name the server the request reached" GET "/api/v1/sessions/$S1" '' 200 \
	".connect.ssh == \"ssh -o ProxyCommand='kaiden-connect --server $STACK_URL --insecure --session $S1' -o HostKeyAlias=kaiden-$DEV_A kaiden-$DEV_A\"" \
	".connect.web == \"kaiden-connect --server $STACK_URL --insecure --session $S1 --target web --listen 127.0.0.1:18080\"" \
	'.connect.token | test("KAIDEN_TOKEN")'

t "create a second session on the same device" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"Ola\"}" 201 '.notes == null'
save S2 .id
t "create a session on another device (notes null)" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_B\",\"engineer_name\":\"Ola\",\"notes\":null}" 201 '.notes == null'
save S3 .id
t "... each with its own commands" GET "/api/v1/sessions/$S2" '' 200 \
	".connect.ssh | contains(\"--session $S2'\")" '.provider == "relay"'
dbcheck "one session.start job per session" \
	"SELECT count(*) FROM jobs WHERE kind = 'session.start'" 3

t "get a session" GET "/api/v1/sessions/$S1" '' 200 ".id == \"$S1\"" '.status == "pending"'

# The commands as an engineer pastes them: sh runs them, and stand-ins named ssh and
# kaiden-connect print the argv they got, one argument a line; the ProxyCommand is run as
# ssh runs it (%% is %, then sh -c "exec ..."). The device's hostname (what its agent
# reported) is the ssh destination when it is a plain host name, and never otherwise.
mkdir -p "$T/fakebin"
for _c40 in ssh kaiden-connect; do
	printf '#!/bin/sh\nfor a; do printf "%%s\\n" "$a"; done\n' >"$T/fakebin/$_c40"
	chmod 755 "$T/fakebin/$_c40"
done
c40_argv() { # NAME WANT-LINES: one test: the last reply's .connect.ssh run by sh gives WANT
	_c40_cmd=$(jq -r .connect.ssh "$T/body")
	_c40_got=$(PATH="$T/fakebin:$PATH" sh -c "$_c40_cmd" 2>&1) || _c40_got="(sh failed) $_c40_got"
	if [ "$_c40_got" = "$2" ]; then ok "$1"; else bad "$1" "got: $(echo "$_c40_got" | tr '\n' '|')"; fi
}
dbq "UPDATE devices SET hostname = 'web-01.internal' WHERE id = '$DEV_A'" >/dev/null
call GET "/api/v1/sessions/$S1"
c40_argv "the ssh command, pasted into sh, gives ssh its options and the device's hostname" \
	"-o
ProxyCommand=kaiden-connect --server $STACK_URL --insecure --session $S1
-o
HostKeyAlias=kaiden-$DEV_A
web-01.internal"
_c40_pc=$(jq -r .connect.ssh "$T/body" | PATH="$T/fakebin:$PATH" sh -c "$(cat)" | sed -n 's/^ProxyCommand=//p' | sed 's/%%/%/g')
_c40_got=$(PATH="$T/fakebin:$PATH" sh -c "exec $_c40_pc" 2>&1) || _c40_got="(failed) $_c40_got"
if [ "$_c40_got" = "--server
$STACK_URL
--insecure
--session
$S1" ]; then
	ok "... and its ProxyCommand, run as ssh runs it, gives kaiden-connect the server and session"
else
	bad "... and its ProxyCommand, run as ssh runs it, gives kaiden-connect the server and session" \
		"got: $(echo "$_c40_got" | tr '\n' '|')"
fi
_c40_got=$(jq -r .connect.web "$T/body" | { read -r _c40_w; PATH="$T/fakebin:$PATH" sh -c "$_c40_w"; } 2>&1)
if [ "$_c40_got" = "--server
$STACK_URL
--insecure
--session
$S1
--target
web
--listen
127.0.0.1:18080" ]; then
	ok "the web command, pasted into sh, gives kaiden-connect its arguments"
else
	bad "the web command, pasted into sh, gives kaiden-connect its arguments" "got: $(echo "$_c40_got" | tr '\n' '|')"
fi
dbq "UPDATE devices SET hostname = 'evil; touch $T/pwned' WHERE id = '$DEV_A'" >/dev/null
call GET "/api/v1/sessions/$S1"
c40_argv "a hostname that is not a plain host name is not pasted: kaiden-<device id> instead" \
	"-o
ProxyCommand=kaiden-connect --server $STACK_URL --insecure --session $S1
-o
HostKeyAlias=kaiden-$DEV_A
kaiden-$DEV_A"
if [ -e "$T/pwned" ]; then bad "... and nothing of it ran" "$T/pwned exists"; else ok "... and nothing of it ran"; fi
dbq "UPDATE devices SET hostname = NULL WHERE id = '$DEV_A'" >/dev/null

# A customer reads the session, never the commands (they may not connect); the tenant's
# service token (the suite's) may. Multi mode: the default tenant's users log in with
# tenant_code "default".
C40_PW='customer forty password'
C40_TC=
[ "$SUITE_DB" != postgres ] || C40_TC=default
if printf '%s\n' "$C40_PW" | "$STACK_BIN" user add --email cust40@example.com --name 'Customer 40' \
	--role customer >/dev/null 2>"$T/c40.err"; then
	ok "a customer of the tenant"
else
	bad "a customer of the tenant" "$(head -c 300 "$T/c40.err")"
fi
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	"$(jq -cn --arg p "$C40_PW" --arg t "$C40_TC" '{email: "cust40@example.com", password: $p} + (if $t == "" then {} else {tenant_code: $t} end)')"
expect "... logs in" 200
save C40_TOKEN .token
raw GET "/api/v1/sessions/$S1" -H "Authorization: Bearer $C40_TOKEN"
expect "a customer's GET of a relay session shows no connect commands" 200 \
	".id == \"$S1\"" '.provider == "relay"' '.connect == null'
if grep -q kaiden-connect "$T/body"; then bad "... not a word of them" "the body names kaiden-connect"; else ok "... not a word of them"; fi

# Bytes as helperd counts them (stand in for it in the database), in the session and in
# the tenant's usage (sessions started this month: these all were).
call GET /api/v1/tenant/usage
save C40_IN0 .relay_bytes_in_this_month
save C40_OUT0 .relay_bytes_out_this_month
dbq "UPDATE sessions SET bytes_in = 5000000000, bytes_out = 1234 WHERE id = '$S1'" >/dev/null
t "a session shows the relay's byte counts (64 bits)" GET "/api/v1/sessions/$S1" '' 200 \
	'.bytes_in == 5000000000' '.bytes_out == 1234'
t "usage shows the relay's bytes this month" GET /api/v1/tenant/usage '' 200 \
	".relay_bytes_in_this_month == $C40_IN0 + 5000000000" ".relay_bytes_out_this_month == $C40_OUT0 + 1234"
t "HEAD a session" HEAD "/api/v1/sessions/$S1" '' 200
t "get: malformed session id" GET /api/v1/sessions/nope '' 404 "$(E not_found)"
t "get: unknown session id" GET "/api/v1/sessions/$NOID" '' 404 "$(E not_found)"

# Lists.
t "list sessions" GET /api/v1/sessions '' 200 "[.items[].id] == [\"$S3\",\"$S2\",\"$S1\"]" '.next_cursor == null' \
	'[.items[].device_name | type] == ["string", "string", "string"]' \
	'[.items[].provider] == ["relay", "relay", "relay"]' '[.items[] | has("connect")] == [false, false, false]'
t "list by device_id" GET "/api/v1/sessions?device_id=$DEV_A" '' 200 "[.items[].id] == [\"$S2\",\"$S1\"]"
t "list by another device_id" GET "/api/v1/sessions?device_id=$DEV_B" '' 200 "[.items[].id] == [\"$S3\"]" '.items[0].device_name == "sess-dev-b"'
t "list by an unknown device_id" GET "/api/v1/sessions?device_id=$NOID" '' 200 '.items == []'
t "list by status=pending" GET "/api/v1/sessions?status=pending" '' 200 '.items | length == 3'
t "list by status=active" GET "/api/v1/sessions?status=active" '' 200 '.items == []'
t "list sessions, page 1 of 2" GET "/api/v1/sessions?limit=2" '' 200 "[.items[].id] == [\"$S3\",\"$S2\"]"
save CUR .next_cursor
t "list sessions, page 2 of 2" GET "/api/v1/sessions?limit=2&cursor=$CUR" '' 200 "[.items[].id] == [\"$S1\"]" '.next_cursor == null'
t "list: malformed device_id" GET "/api/v1/sessions?device_id=abc" '' 400 "$(E invalid_query device_id)"
t "list: status=bogus" GET "/api/v1/sessions?status=bogus" '' 400 "$(E invalid_query status)"
t "list: limit=0" GET "/api/v1/sessions?limit=0" '' 400 "$(E invalid_query limit)"
t "list: malformed cursor" GET "/api/v1/sessions?cursor=zz" '' 400 "$(E invalid_query cursor)"
# History filters: engineer (a name's substring, any case; or a user id), since/until.
t "list by engineer (substring, any case)" GET "/api/v1/sessions?engineer=mIA%20c" '' 200 "[.items[].id] == [\"$S1\"]"
t "list by engineer=OLA" GET "/api/v1/sessions?engineer=OLA" '' 200 "[.items[].id] == [\"$S3\",\"$S2\"]"
t "list by engineer: % is literal" GET "/api/v1/sessions?engineer=%25" '' 200 '.items == []'
t "list by engineer and device_id" GET "/api/v1/sessions?engineer=ola&device_id=$DEV_A" '' 200 "[.items[].id] == [\"$S2\"]"
t "list by engineer=ola, page 1 of 2" GET "/api/v1/sessions?engineer=ola&limit=1" '' 200 "[.items[].id] == [\"$S3\"]" '.next_cursor != null'
save CUR .next_cursor
t "list by engineer=ola, page 2 of 2" GET "/api/v1/sessions?engineer=ola&limit=1&cursor=$CUR" '' 200 "[.items[].id] == [\"$S2\"]" '.next_cursor == null'
call GET "/api/v1/sessions/$S1"
save ENG .engineer_id
if [ "$ENG" != null ]; then
	t "list by engineer=<the user id that started them>" GET "/api/v1/sessions?engineer=$ENG" '' 200 '.items | length == 3'
fi
t "list by engineer=<a user id that started none>" GET "/api/v1/sessions?engineer=$NOID" '' 200 '.items == []'
call GET "/api/v1/sessions/$S2"
save S2_AT .created_at
S2_AT_Q=$(printf '%s' "$S2_AT" | sed 's/+/%2B/g')
t "list since S2's created_at (inclusive)" GET "/api/v1/sessions?since=$S2_AT_Q" '' 200 "[.items[].id] == [\"$S3\",\"$S2\"]"
t "list until S2's created_at (exclusive)" GET "/api/v1/sessions?until=$S2_AT_Q" '' 200 "[.items[].id] == [\"$S1\"]"
t "list since..until, an offset" GET "/api/v1/sessions?since=2000-01-01T01:00:00%2B01:00&until=2999-01-01T00:00:00Z" '' 200 '.items | length == 3'
t "list since a future time" GET "/api/v1/sessions?since=2999-01-01T00:00:00Z" '' 200 '.items == []'
t "list since=S2, page 1 of 2" GET "/api/v1/sessions?since=$S2_AT_Q&limit=1" '' 200 "[.items[].id] == [\"$S3\"]"
save CUR .next_cursor
t "list since=S2, page 2 of 2" GET "/api/v1/sessions?since=$S2_AT_Q&limit=1&cursor=$CUR" '' 200 "[.items[].id] == [\"$S2\"]" '.next_cursor == null'
t "list: since=yesterday" GET "/api/v1/sessions?since=yesterday" '' 400 "$(E invalid_query since)"
t "list: until=2026-13-01" GET "/api/v1/sessions?until=2026-13-01T00:00:00Z" '' 400 "$(E invalid_query until)"
t "list: engineer too long" GET "/api/v1/sessions?engineer=$(printf '%0600d' 0)" '' 400 "$(E invalid_query engineer)"
t "list: engineer with a control character" GET "/api/v1/sessions?engineer=a%01b" '' 400 "$(E invalid_query engineer)"

# Validation of the create body; none of it may write a row.
snap
t "create: device_id missing" POST /api/v1/sessions '{"engineer_name":"x"}' 400 "$(E missing_field device_id)"
t "create: engineer_name missing" POST /api/v1/sessions "{\"device_id\":\"$DEV_A\"}" 400 "$(E missing_field engineer_name)"
t "create: device_id malformed" POST /api/v1/sessions '{"device_id":"dev-1","engineer_name":"x"}' 400 "$(E invalid_field device_id)"
t "create: device_id a number" POST /api/v1/sessions '{"device_id":7,"engineer_name":"x"}' 400 "$(E invalid_field device_id)"
t "create: engineer_name empty" POST /api/v1/sessions "{\"device_id\":\"$DEV_A\",\"engineer_name\":\"\"}" 400 "$(E invalid_field engineer_name)"
t "create: engineer_name 129 characters" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"$(repeat 129 e)\"}" 400 "$(E invalid_field engineer_name)"
t "create: notes 4097 characters" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"x\",\"notes\":\"$(repeat 4097 n)\"}" 400 "$(E invalid_field notes)"
t "create: unknown member" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"x\",\"status\":\"active\"}" 400 "$(E unknown_field status)"
t "create: unknown device" POST /api/v1/sessions \
	"{\"device_id\":\"$NOID\",\"engineer_name\":\"x\"}" 422 "$(E invalid_reference device_id)"
t "create: deleted device" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_PCT\",\"engineer_name\":\"x\"}" 422 "$(E invalid_reference device_id)"
unchanged "refused session creates wrote nothing"

# PATCH notes.
t "patch notes" PATCH "/api/v1/sessions/$S2" '{"notes":"called the customer"}' 200 \
	'.notes == "called the customer"' ".id == \"$S2\"" '.status == "pending"'
t "... and get shows them" GET "/api/v1/sessions/$S2" '' 200 '.notes == "called the customer"'
t "patch notes to null clears them" PATCH "/api/v1/sessions/$S2" '{"notes":null}' 200 '.notes == null'
t "patch 4096-character notes" PATCH "/api/v1/sessions/$S2" "{\"notes\":\"$(repeat 4096 z)\"}" 200 '.notes | length == 4096'
snap
t "patch: 4097-character notes" PATCH "/api/v1/sessions/$S2" "{\"notes\":\"$(repeat 4097 z)\"}" 400 "$(E invalid_field notes)"
t "patch: notes missing" PATCH "/api/v1/sessions/$S2" '{}' 400 "$(E missing_field notes)"
t "patch: notes a number" PATCH "/api/v1/sessions/$S2" '{"notes":5}' 400 "$(E invalid_field notes)"
t "patch: other member" PATCH "/api/v1/sessions/$S2" '{"notes":"a","status":"ended"}' 400 "$(E unknown_field status)"
t "patch: control character in notes" PATCH "/api/v1/sessions/$S2" '{"notes":"bell\u0007"}' 400 "$(E invalid_field notes)"
t "patch: unknown session" PATCH "/api/v1/sessions/$NOID" '{"notes":"a"}' 404 "$(E not_found)"
t "patch: malformed id" PATCH /api/v1/sessions/xyz '{"notes":"a"}' 404 "$(E not_found)"
t "patch: no body" PATCH "/api/v1/sessions/$S2" '' 415 "$(E unsupported_media_type)"
t "... the notes are as they were" GET "/api/v1/sessions/$S2" '' 200 '.notes | length == 4096'
unchanged "refused patches wrote nothing"

# A device with a live session cannot go.
t "delete a device with a pending session: 409" DELETE "/api/v1/devices/$DEV_A" '' 409 "$(E device_busy)"
t "... it is still there" GET "/api/v1/devices/$DEV_A" '' 200

# DELETE ends a session.
t "end a session: 202 ending (nothing to connect to any more)" DELETE "/api/v1/sessions/$S1" '' 202 \
	".id == \"$S1\"" '.status == "ending"' '.connect == null'
dbcheck "a session.end job was written" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "end it again: 200, unchanged" DELETE "/api/v1/sessions/$S1" '' 200 '.status == "ending"'
dbcheck "no second session.end job" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "list by status=ending" GET "/api/v1/sessions?status=ending" '' 200 "[.items[].id] == [\"$S1\"]"
t "end: unknown session" DELETE "/api/v1/sessions/$NOID" '' 404 "$(E not_found)"
t "end: malformed id" DELETE /api/v1/sessions/1 '' 404 "$(E not_found)"
t "an ending session still holds the device: 409" DELETE "/api/v1/devices/$DEV_A" '' 409 "$(E device_busy)"
t "end the second session" DELETE "/api/v1/sessions/$S2" '' 202 '.status == "ending"'

# helperd (not yet written) moves ending -> ended; stand in for it in the database,
# then the device can go, and its sessions stay readable.
dbq "UPDATE sessions SET status = 'ended' WHERE device_id = '$DEV_A'" >/dev/null
t "an ended session: DELETE answers 200 unchanged" DELETE "/api/v1/sessions/$S1" '' 200 '.status == "ended"'
dbcheck "... and writes no job" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "delete the device once its sessions ended" DELETE "/api/v1/devices/$DEV_A" '' 204
t "its sessions stay" GET "/api/v1/sessions?device_id=$DEV_A" '' 200 '.items | length == 2'
t "... and read" GET "/api/v1/sessions/$S1" '' 200 ".device_id == \"$DEV_A\""
dbq "UPDATE sessions SET status = 'failed' WHERE id = '$S3'" >/dev/null
t "a failed session: DELETE answers 200 unchanged" DELETE "/api/v1/sessions/$S3" '' 200 '.status == "failed"'

# A Cloudflare session: kaiden-api restarted with tunnel.provider cloudflare (its other
# settings need not be complete for the API: helperd would fail the session saying
# which are missing). Its public URL and SSH hostname are made from KAIDEN_CF_DOMAIN; no
# connect commands. Then back to the suite's default.
export KAIDEN_TUNNEL_PROVIDER=cloudflare
api_restart "kaiden-api restarts with KAIDEN_TUNNEL_PROVIDER=cloudflare"
t "create a Cloudflare session" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_B\",\"engineer_name\":\"Ola\"}" 201 \
	'.provider == "cloudflare"' '.connect == null' '.bytes_in == 0' '.bytes_out == 0' \
	'.public_url | test("^https://sess-[a-z0-9]{10}\\.kaiden\\.test$")' \
	'.ssh_hostname == (.public_url | ltrimstr("https://") | sub("\\.kaiden\\.test$"; "-ssh.kaiden.test"))'
save S4 .id
save URL4 .public_url
t "a second one has its own public URL" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_B\",\"engineer_name\":\"Ola\"}" 201 ".public_url != \"$URL4\""
save S5 .id
t "... and get shows it, still without commands" GET "/api/v1/sessions/$S4" '' 200 \
	".public_url == \"$URL4\"" '.provider == "cloudflare"' '.connect == null'
t "a relay session made before keeps its provider" GET "/api/v1/sessions/$S3" '' 200 '.provider == "relay"'
dbq "UPDATE sessions SET status = 'ended' WHERE id IN ('$S4', '$S5')" >/dev/null
unset KAIDEN_TUNNEL_PROVIDER
api_restart "kaiden-api restarts with the suite's settings"
