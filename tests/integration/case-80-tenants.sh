# shellcheck shell=sh
# Tenants (issue 4): a platform admin creates and changes tenants (code_taken, the
# default tenant's guard), quotas are enforced (max_devices 1: the second device is
# 409 quota_exceeded), usage counts, the tenant's own view (GET/PATCH /tenant), a
# suspended tenant's agent is dropped and refused (4003) and its tokens get
# 403 tenant_suspended, the audit log shows a tenant admin their tenant's entries only,
# and export -> delete -> import brings back every row with its id: the agent's old
# secret works again, while people's credentials do not travel (no password hashes, no
# API tokens: the old tokens are 401 and the operator issues new ones). A doctored
# archive (issue 8: a token row for the platform admin or another tenant's user, a
# made-up digest) is 422 invalid_reference naming table, row and column, writes
# nothing, and its made-up token is 401.
#
# Both databases. The tenant's credentials are made with the command line
# (`kaiden-api token create --tenant`, `--user`), so the same steps run in single mode
# (SQLite), where only the default tenant's users can log in, and in multi mode
# (PostgreSQL), which also logs the tenant admin in with tenant_code.

TA_SAVED_TOKEN=$STACK_TOKEN
DEFAULT_TENANT=00000000-0000-0000-0000-000000000000

# ta_as VAR: the following requests use the credential in $VAR.
ta_as() {
	eval "STACK_TOKEN=\$$1"
}

case $B in /*) TA_AGENT_LOAD=$B/tests/agent_load ;; *) TA_AGENT_LOAD=$STACK_ROOT/$B/tests/agent_load ;; esac
TA_WS_URL=ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent

# ta_agent NAME WANT ARGS...: one simulated agent; WANT is "welcome" or a close code.
ta_agent() {
	_n=$1
	_w=$2
	shift 2
	if [ "$_w" = welcome ]; then set -- --expect-welcome "$@"; else set -- --expect-close "$_w" "$@"; fi
	if _o=$("$TA_AGENT_LOAD" --url "$TA_WS_URL" --timeout 20 "$@" 2>&1); then
		ok "$_n"
	else
		LAST="agent_load $*"
		CODE=-
		bad "$_n" "want $_w: $_o"
	fi
}

# ta_wait NAME SECONDS SQL WANT: one test: dbq SQL prints WANT within SECONDS.
ta_wait() {
	_i=0
	while :; do
		_g=$(dbq "$3" 2>&1) || _g="(query failed) $_g"
		if [ "$_g" = "$4" ]; then
			ok "$1"
			return 0
		fi
		if [ "$_i" -ge $(($2 * 10)) ]; then
			LAST="SQL $3"
			CODE=-
			bad "$1" "after $2 s got '$_g', want '$4'"
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# helperd runs from case-60 on; started here when this case runs alone (CASES=80).
if [ -z "${STACK_HELPERD_PID:-}" ] || ! kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	if stack_helperd_start; then ok "start kaiden-helperd"; else bad "start kaiden-helperd" "see its log"; fi
fi

# ---- a platform admin -----------------------------------------------------------------
printf '%s' 'ta-admin-password-1' >"$T/ta.pw"
cli "kaiden-api user add makes a platform admin" TA_OUT user add \
	--email ta-admin@kaiden.test --name 'TA Admin' --role admin --password-file "$T/ta.pw"
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"ta-admin@kaiden.test","password":"ta-admin-password-1"}'
expect "the platform admin logs in" 200 '.token | type == "string"'
save TA_ADMIN .token

t "a service token may not create tenants" POST /api/v1/admin/tenants \
	'{"code":"nope","name":"Nope"}' 403 "$(E forbidden)"
t "... nor list them" GET /api/v1/admin/tenants '' 403 "$(E forbidden)"
t "... nor import one" POST /api/v1/tenant/import '{"format":"kaiden-tenant-export"}' 403 "$(E forbidden)"

# ---- create, read, change --------------------------------------------------------------
ta_as TA_ADMIN
t "create a tenant" POST /api/v1/admin/tenants \
	'{"code":"acme","name":"Acme Corp","plan":"pro","quotas":{"max_devices":1},"settings":{"lang":"de"},"trial_ends_at":"2030-01-31T12:00:00+01:00"}' 201 \
	'.code == "acme"' '.name == "Acme Corp"' '.status == "active"' '.plan == "pro"' \
	'.quotas == {"max_devices":1}' '.settings.lang == "de"' \
	'.trial_ends_at == "2030-01-31T11:00:00.000Z"' '.created_at == .updated_at'
save TA_ID .id
export TA_ID # for jq's $ENV.TA_ID
loc=$(hval Location)
if [ "$loc" = "/api/v1/admin/tenants/$TA_ID" ]; then ok "201 carries Location"; else bad "201 carries Location" "Location: '$loc'"; fi
t "the same code again: 409 code_taken" POST /api/v1/admin/tenants \
	'{"code":"acme","name":"Other"}' 409 "$(E code_taken code)"
t "a code that is not a DNS label" POST /api/v1/admin/tenants \
	'{"code":"Acme Corp","name":"x"}' 400 "$(E invalid_field code)"
t "a code ending in -" POST /api/v1/admin/tenants '{"code":"acme-","name":"x"}' 400 \
	"$(E invalid_field code)"
t "an unknown quota" POST /api/v1/admin/tenants \
	'{"code":"q1","name":"x","quotas":{"max_users":3}}' 400 "$(E invalid_field quotas)"
t "a quota of 0" POST /api/v1/admin/tenants \
	'{"code":"q1","name":"x","quotas":{"max_devices":0}}' 400 "$(E invalid_field quotas)"
t "an unknown status" POST /api/v1/admin/tenants '{"code":"q1","name":"x","status":"gone"}' 400 \
	"$(E invalid_field status)"
t "a trial end that is not RFC 3339" POST /api/v1/admin/tenants \
	'{"code":"q1","name":"x","trial_ends_at":"next week"}' 400 "$(E invalid_field trial_ends_at)"
t "get the tenant" GET "/api/v1/admin/tenants/$TA_ID" '' 200 ".id == \"$TA_ID\"" '.code == "acme"'
t "list tenants by code" GET "/api/v1/admin/tenants?q=acm" '' 200 \
	"[.items[].id] == [\"$TA_ID\"]" '.next_cursor == null'
t "list tenants by status" GET "/api/v1/admin/tenants?status=suspended" '' 200 \
	"[.items[].id] | index(\"$TA_ID\") == null"
t "list: a bad status" GET "/api/v1/admin/tenants?status=gone" '' 400 "$(E invalid_query status)"
t "patch the tenant" PATCH "/api/v1/admin/tenants/$TA_ID" \
	'{"name":"Acme GmbH","trial_ends_at":null}' 200 '.name == "Acme GmbH"' \
	'.trial_ends_at == null' '.plan == "pro"' '.updated_at >= .created_at'
t "the default tenant keeps its code" PATCH "/api/v1/admin/tenants/$DEFAULT_TENANT" \
	'{"code":"main"}' 409 "$(E default_tenant code)"
t "... and is never deleted" DELETE "/api/v1/admin/tenants/$DEFAULT_TENANT" '' 409 \
	"$(E default_tenant)"
t "get an unknown tenant" GET /api/v1/admin/tenants/00000000-0000-7000-8000-000000000000 '' 404 \
	"$(E not_found)"

# ---- the tenant's own credentials --------------------------------------------------------
cli "a service token of the tenant" TA_SVC token create --tenant acme --name 'acme svc'
printf '%s' 'ann-password-123' >"$T/ta-ann.pw"
cli "a tenant admin of the tenant" TA_OUT user add --email ann@acme.test --name Ann \
	--role tenant_admin --tenant acme --password-file "$T/ta-ann.pw"
TA_ANN_ID=$(printf '%s' "$TA_OUT" | jq -r .id 2>/dev/null)
cli "an API token of the tenant admin" TA_ANN token create --user ann@acme.test \
	--tenant acme --name 'ann cli'
if [ "$SUITE_DB" = postgres ]; then
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
		'{"email":"ann@acme.test","password":"ann-password-123","tenant_code":"ACME"}'
	expect "multi mode: the tenant admin logs in with the tenant code" 200 \
		".tenant.id == \"$TA_ID\""
fi

# ---- quotas ------------------------------------------------------------------------------
ta_as TA_SVC
t "the tenant's first device" POST /api/v1/devices '{"name":"acme-01"}' 201
save TA_DEV .id
save TA_SECRET .secret
t "max_devices 1: the second is 409 quota_exceeded" POST /api/v1/devices '{"name":"acme-02"}' \
	409 "$(E quota_exceeded)" '.error.message | test("max_devices") and test("1")'
dbcheck "... and was not stored" "SELECT count(*) FROM devices WHERE tenant_id = '$TA_ID'" 1
t "the tenant's devices only" GET /api/v1/devices '' 200 "[.items[].id] == [\"$TA_DEV\"]"

# ---- the tenant's own view -----------------------------------------------------------------
ta_as TA_ANN
t "GET /tenant" GET /api/v1/tenant '' 200 ".id == \"$TA_ID\"" '.code == "acme"'
t "PATCH /tenant: name and settings" PATCH /api/v1/tenant \
	'{"name":"Acme AG","settings":{"lang":"fr"}}' 200 '.name == "Acme AG"' \
	'.settings == {"lang":"fr"}' '.quotas == {"max_devices":1}'
t "PATCH /tenant: not the code" PATCH /api/v1/tenant '{"code":"evil"}' 400 \
	"$(E unknown_field code)"
t "PATCH /tenant: not the quotas" PATCH /api/v1/tenant '{"quotas":{}}' 400 \
	"$(E unknown_field quotas)"
t "usage" GET /api/v1/tenant/usage '' 200 '.devices == 1' '.devices_online == 0' \
	'.sessions_active == 0' '.sessions_this_month == 0' '.session_minutes_this_month == 0' \
	'.users == 1' '.storage_bytes > 0' '.quotas == {"max_devices":1}'
t "a tenant admin may not administer tenants" GET /api/v1/admin/tenants '' 403 "$(E forbidden)"

# ---- suspension ---------------------------------------------------------------------------
"$TA_AGENT_LOAD" --url "$TA_WS_URL" --device "$TA_DEV" --secret "$TA_SECRET" \
	--expect-close 4003 --heartbeat 1 --hold 60 --timeout 70 >"$T/ta-agent.out" 2>&1 &
ta_ag=$!
case_pids "$ta_ag"
ta_wait "the tenant's agent is online" 5 "SELECT status FROM devices WHERE id = '$TA_DEV'" online
ta_as TA_ADMIN
t "suspend the tenant" PATCH "/api/v1/admin/tenants/$TA_ID" '{"status":"suspended"}' 200 \
	'.status == "suspended"'
if wait "$ta_ag"; then ok "the connected agent is closed with 4003"; else bad "the connected agent is closed with 4003" "$(cat "$T/ta-agent.out")"; fi
ta_wait "... and its device goes offline" 5 "SELECT status FROM devices WHERE id = '$TA_DEV'" offline
ta_agent "a suspended tenant's agent is refused at hello (4003)" 4003 --device "$TA_DEV" \
	--secret "$TA_SECRET"
ta_as TA_SVC
t "the tenant's service token: 403 tenant_suspended" GET /api/v1/devices '' 403 \
	"$(E tenant_suspended)"
ta_as TA_ANN
t "the tenant admin's token: 403 tenant_suspended" GET /api/v1/tenant '' 403 \
	"$(E tenant_suspended)"
ta_as TA_ADMIN
t "reactivate the tenant" PATCH "/api/v1/admin/tenants/$TA_ID" '{"status":"active"}' 200
ta_agent "its agent is welcome again" welcome --device "$TA_DEV" --secret "$TA_SECRET" --hold 0
# Offline before the export, so that no late offline mark changes the row after the
# import below (the round trip compares the rows).
ta_wait "... and leaves" 5 "SELECT status || coalesce(helperd, '') FROM devices WHERE id = '$TA_DEV'" offline
ta_as TA_SVC
t "... and its tokens work again" GET /api/v1/devices '' 200 '.items | length == 1'

# A ticket with the tenant admin's comment and staff's internal note (the service token
# acts as staff), to travel with the tenant; the note never in a tenant admin's export.
ta_as TA_ANN
t "the tenant admin opens a ticket" POST /api/v1/tickets "{\"title\":\"Agent flaps\",\"device_id\":\"$TA_DEV\"}" 201
save TA_TICKET .id
t "... and comments" POST "/api/v1/tickets/$TA_TICKET/comments" '{"body":"since Monday"}' 201
ta_as TA_SVC
t "staff's internal note on it" POST "/api/v1/tickets/$TA_TICKET/comments" \
	'{"body":"ta-secret-note","internal":true}' 201
t "a staff export holds the note" POST /api/v1/tenant/export '' 200 \
	'.tables.tickets | length == 1' '[.tables.ticket_comments[].body] | index("ta-secret-note") != null' \
	'.tables.ticket_counters | length == 1'

# ---- the audit log ----------------------------------------------------------------------
# A 100 kB settings value makes the archive bigger than server.max_body (64 KiB): the
# import below goes through only because that route takes up to server.max_import.
dbq "UPDATE tenants SET settings = '{\"lang\":\"fr\",\"notes\":\"$(repeat 100000 n)\"}' WHERE id = '$TA_ID'"
ta_as TA_ANN
t "export the tenant" POST /api/v1/tenant/export '' 200 \
	'.format == "kaiden-tenant-export"' '.version == 1' '(.schema | type) == "number"' \
	".tenant.id == \"$TA_ID\"" '.tables.devices | length == 1' '.tables.users | length == 1' \
	'.tables | has("api_tokens") | not' '[.tables.users[].password_hash] | all(. == null)' \
	'[.tables[][] | .tenant_id] | all(. == $ENV.TA_ID)' \
	'.tables.devices[0].secret_hash | startswith("$argon2id$")' '.tables | has("jobs") | not' \
	'.tables.tickets | length == 1' '[.tables.ticket_comments[].body] | index("since Monday") != null'
if grep -q 'ta-secret-note' "$T/body"; then bad "the tenant admin's export leaves the internal note out" "it is there"; else ok "the tenant admin's export leaves the internal note out"; fi
cp "$T/body" "$T/acme-export.json"
if [ "$(wc -c <"$T/acme-export.json")" -gt 65536 ]; then ok "the archive is bigger than server.max_body"; else bad "the archive is bigger than server.max_body" "$(wc -c <"$T/acme-export.json") bytes"; fi
header "the export is an attachment" '^content-disposition: attachment'
t "the tenant admin sees the tenant's audit entries" GET /api/v1/audit '' 200 \
	'.items | length > 0' '[.items[].tenant_id] | all(. == $ENV.TA_ID)' \
	'[.items[].action] | index("device.create") != null' \
	'[.items[].action] | index("tenant.export") != null' \
	'[.items[].action] | index("tenant.update") != null'
t "... filtered by action" GET "/api/v1/audit?action=device." '' 200 \
	'[.items[].action] | unique == ["device.create"]'
t "... filtered by target" GET "/api/v1/audit?target_id=$TA_DEV" '' 200 \
	"[.items[].target_id] | unique == [\"$TA_DEV\"]"
t "... not another tenant's" GET "/api/v1/audit?tenant_id=$DEFAULT_TENANT" '' 403 \
	"$(E forbidden tenant_id)"
t "a bad since" GET "/api/v1/audit?since=yesterday" '' 400 "$(E invalid_query since)"
t "a bad action" GET "/api/v1/audit?action=DROP%20TABLE" '' 400 "$(E invalid_query action)"
ta_as TA_SAVED_TOKEN
t "the default tenant's token does not see acme's entries" GET "/api/v1/audit?limit=200" '' 200 \
	'[.items[].tenant_id] | all(. != $ENV.TA_ID)'
if [ "$SUITE_DB" = postgres ]; then
	ta_as TA_ADMIN
	t "staff at platform level see tenant administration" GET "/api/v1/audit?action=tenant.&limit=200" '' 200 \
		'[.items[] | select(.action == "tenant.create" and .target_id == $ENV.TA_ID)] | length == 1'
	t "... and one tenant's entries with tenant_id" GET "/api/v1/audit?tenant_id=$TA_ID&limit=200" '' 200 \
		'.items | length > 0' '[.items[].tenant_id] | all(. == $ENV.TA_ID)'
fi

# ---- export -> delete -> import -------------------------------------------------------------
ta_as TA_ADMIN
t "delete the tenant" DELETE "/api/v1/admin/tenants/$TA_ID" '' 204
t "... it is gone" GET "/api/v1/admin/tenants/$TA_ID" '' 404 "$(E not_found)"
dbcheck "... with its devices, users and tokens" \
	"SELECT (SELECT count(*) FROM devices WHERE tenant_id = '$TA_ID') + (SELECT count(*) FROM users WHERE tenant_id = '$TA_ID') + (SELECT count(*) FROM api_tokens WHERE tenant_id = '$TA_ID')" 0
ta_as TA_SVC
t "its service token no longer works" GET /api/v1/devices '' 401 "$(E unauthorized)"
ta_agent "its agent is unknown now (4001)" 4001 --device "$TA_DEV" --secret "$TA_SECRET"

ta_as TA_ADMIN
t "import the archive" POST /api/v1/tenant/import "@$T/acme-export.json" 201 \
	".id == \"$TA_ID\"" '.code == "acme"' '.name == "Acme AG"' '.quotas == {"max_devices":1}'
loc=$(hval Location)
if [ "$loc" = "/api/v1/admin/tenants/$TA_ID" ]; then ok "import: 201 carries Location"; else bad "import: 201 carries Location" "Location: '$loc'"; fi
t "import it again: 409 already_exists" POST /api/v1/tenant/import "@$T/acme-export.json" 409 \
	"$(E already_exists)"
t "import a malformed archive: 400 invalid_archive" POST /api/v1/tenant/import \
	'{"format":"kaiden-tenant-export","version":7}' 400 "$(E invalid_archive)" \
	'.error.message | test("version")'
jq ".tables.devices[0].tenant_id = \"$DEFAULT_TENANT\" | .tenant.id = \"00000000-0000-7000-8000-00000000a0a0\" | .tenant.code = \"acme2\"" \
	"$T/acme-export.json" >"$T/acme-bad.json"
t "import rows of another tenant: 400 invalid_archive" POST /api/v1/tenant/import \
	"@$T/acme-bad.json" 400 "$(E invalid_archive)" '.error.message | test("tenant_id")'
t "import not JSON" POST /api/v1/tenant/import '{"format":' 400 "$(E invalid_json)"
dbcheck "the device is back with its id" "SELECT name FROM devices WHERE id = '$TA_DEV' AND tenant_id = '$TA_ID'" acme-01
dbcheck "the tenant admin is back with their id, without a password" \
	"SELECT email || ' ' || coalesce(password_hash, 'none') FROM users WHERE id = '$TA_ANN_ID'" \
	'ann@acme.test none'
dbcheck "... and without tokens" "SELECT count(*) FROM api_tokens WHERE tenant_id = '$TA_ID'" 0
dbcheck "the ticket is back with its number and public comments" \
	"SELECT number || ' ' || (SELECT count(*) FROM ticket_comments WHERE ticket_id = '$TA_TICKET' AND NOT internal) FROM tickets WHERE id = '$TA_TICKET'" \
	"$(jq -r '.tables.tickets[0].number' "$T/acme-export.json") $(jq '[.tables.ticket_comments[]] | length' "$T/acme-export.json")"
ta_as TA_SVC
t "the old service token does not come back" GET /api/v1/devices '' 401 "$(E unauthorized)"
ta_as TA_ANN
t "... nor the tenant admin's" GET /api/v1/tenant '' 401 "$(E unauthorized)"
# How a moved tenant's admin gets in again: the operator issues a token (the command
# line, both modes), and the admin sets a new password with it.
cli "the operator issues the tenant admin a new token" TA_ANN token create \
	--user ann@acme.test --tenant acme --name 'ann after the move'
ta_as TA_ANN
t "... which works" GET /api/v1/tenant/usage '' 200 '.devices == 1' '.users == 1'
t "a second export equals the first (but its time and later audit entries)" POST /api/v1/tenant/export '' 200
ta_same='del(.exported_at) | .tables.audit_log |= map(select(.id as $i | any($o[0].tables.audit_log[]; .id == $i)))'
if jq -S --slurpfile o "$T/acme-export.json" "$ta_same" "$T/body" >"$T/ta-a.json" 2>/dev/null &&
	jq -S --slurpfile o "$T/acme-export.json" "$ta_same" "$T/acme-export.json" >"$T/ta-b.json" 2>/dev/null &&
	cmp -s "$T/ta-a.json" "$T/ta-b.json"; then
	ok "... every row came back as it was"
else
	bad "... every row came back as it was" "$(diff "$T/ta-b.json" "$T/ta-a.json" | head -c 400)"
fi
t "... and sets a new password" PATCH "/api/v1/users/$TA_ANN_ID" \
	'{"password":"ann-password-456"}' 200
if [ "$SUITE_DB" = postgres ]; then
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
		'{"email":"ann@acme.test","password":"ann-password-456","tenant_code":"acme"}'
	expect "multi mode: the tenant admin logs in with the new password" 200 \
		".tenant.id == \"$TA_ID\""
fi
ta_agent "the agent authenticates again with its old secret" welcome --device "$TA_DEV" \
	--secret "$TA_SECRET" --hold 0

# ---- a doctored archive (issue 8) ------------------------------------------------------------
# The tenant admin knows the platform admin's id (their audit log's actor_id, sessions'
# engineer_id). They give their archive a new tenant id and code and one api_tokens row
# naming that id, with the digest of a token they made up; a platform admin imports it.
ta_as TA_ADMIN
t "the platform admin's id" GET /api/v1/auth/me '' 200 '.user.role == "admin"'
save TA_ADMIN_ID .user.id
TA_EVIL_TENANT=0190a2c4-0000-7000-8000-00000000e111
TA_EVIL_ROW=0190a2c4-0000-7000-8000-00000000e222
TA_EVIL_TOKEN="kdn_${TA_EVIL_ROW}_$(repeat 43 A)"
export TA_EVIL_ROW TA_DEV # for jq's $ENV
TA_EVIL_DIGEST=$(printf '%s' "$TA_EVIL_TOKEN" | sha256sum | cut -d' ' -f1)
# ta_doctor USER_ID OUT: the archive with a new tenant and one token row for USER_ID.
ta_doctor() {
	jq --arg t "$TA_EVIL_TENANT" --arg r "$TA_EVIL_ROW" --arg u "$1" --arg d "$TA_EVIL_DIGEST" \
		'.tenant.id = $t | .tenant.code = "evil" | .tables = {api_tokens: [{id: $r,
		 tenant_id: $t, user_id: $u, kind: "user", name: "x", token_digest: $d}]}' \
		"$T/acme-export.json" >"$2"
}
ta_doctor "$TA_ADMIN_ID" "$T/evil-admin.json"
ta_doctor "$TA_ANN_ID" "$T/evil-ann.json"
ta_evil_rows="SELECT (SELECT count(*) FROM tenants WHERE id = '$TA_EVIL_TENANT' OR code = 'evil') + (SELECT count(*) FROM api_tokens WHERE id = '$TA_EVIL_ROW')"
t "a token row for the platform admin: 422 invalid_reference" POST /api/v1/tenant/import \
	"@$T/evil-admin.json" 422 "$(E invalid_reference tables.api_tokens.user_id)" \
	'.error.message | test("api_tokens") and test($ENV.TA_EVIL_ROW) and test("user_id")'
dbcheck "... nothing written" "$ta_evil_rows" 0
t "a token row for another tenant's user: 422 invalid_reference" POST /api/v1/tenant/import \
	"@$T/evil-ann.json" 422 "$(E invalid_reference tables.api_tokens.user_id)"
dbcheck "... nothing written" "$ta_evil_rows" 0
# A row reusing an id that exists here (the acme device, now back).
jq --arg t "$TA_EVIL_TENANT" '.tenant.id = $t | .tenant.code = "evil" | .tables = {devices:
	[.tables.devices[0] | .tenant_id = $t]}' "$T/acme-export.json" >"$T/evil-reuse.json"
t "a row with an id that exists here: 422 invalid_reference" POST /api/v1/tenant/import \
	"@$T/evil-reuse.json" 422 "$(E invalid_reference tables.devices.id)" \
	'.error.message | test($ENV.TA_DEV)'
dbcheck "... nothing written" "$ta_evil_rows" 0
STACK_TOKEN=$TA_EVIL_TOKEN
t "the made-up token is refused" GET /api/v1/auth/me '' 401 "$(E unauthorized)"
t "... and cannot create tenants" POST /api/v1/admin/tenants '{"code":"evil2","name":"x"}' 401 \
	"$(E unauthorized)"

STACK_TOKEN=$TA_SAVED_TOKEN
