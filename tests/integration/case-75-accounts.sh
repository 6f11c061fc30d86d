# shellcheck shell=sh
# Accounts (issue 4): users made with `kaiden-api user add`, logins and their failures
# (one message), throttling (429 + Retry-After), /auth/me, logout, API tokens (create,
# use, revoke; and `kaiden-api token create --user`), disabled users, the permission
# table (customers read, do not write; tenant admins do not make staff), and the audit
# log's login rows. SQLite runs it in single mode, PostgreSQL in multi mode (suite.sh):
# there the default tenant's users log in with tenant_code "default", and staff name the
# tenant they act in.

A75_PW='correct horse battery staple'
A75_PWFILE=$T/a75.pw
(umask 077 && printf '%s\n' "$A75_PW" >"$A75_PWFILE")
A75_TENANT_CODE=
[ "$SUITE_DB" != postgres ] || A75_TENANT_CODE=default

# a75_as TOKEN METHOD PATH [BODY [CURL-ARGS...]]: a request with that bearer token.
a75_as() {
	_a75_tok=$1
	_a75_m=$2
	_a75_p=$3
	_a75_b=${4:-}
	shift 3
	[ $# -eq 0 ] || shift
	if [ -n "$_a75_b" ]; then
		raw "$_a75_m" "$_a75_p" -H "Authorization: Bearer $_a75_tok" \
			-H 'Content-Type: application/json' --data-binary "$_a75_b" "$@"
	else
		raw "$_a75_m" "$_a75_p" -H "Authorization: Bearer $_a75_tok" "$@"
	fi
}

# a75_body EMAIL PASSWORD [TENANT_CODE]: a login's JSON body.
a75_body() {
	jq -cn --arg e "$1" --arg p "$2" --arg t "${3:-}" \
		'{email: $e, password: $p} + (if $t == "" then {} else {tenant_code: $t} end)'
}

# a75_login EMAIL PASSWORD [TENANT_CODE]: POST /auth/login (no test of its own).
a75_login() {
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' \
		--data-binary "$(a75_body "$@")"
}

# a75_useradd NAME ARGS...: one test; kaiden-api user add with the password on stdin.
a75_useradd() {
	_a75_name=$1
	shift
	if "$STACK_BIN" user add "$@" <"$A75_PWFILE" >"$T/a75.out" 2>"$T/a75.err"; then
		ok "$_a75_name"
	else
		bad "$_a75_name" "exit $?: $(head -c 300 "$T/a75.err")"
	fi
}

# ---- kaiden-api user add --------------------------------------------------------------

if "$STACK_BIN" user add --email Admin75@Example.com --name 'Admin 75' --role admin \
	--password-file "$A75_PWFILE" >"$T/a75.out" 2>"$T/a75.err" &&
	jq -e '.role == "admin" and .tenant_id == null and .email == "admin75@example.com"' \
		"$T/a75.out" >/dev/null; then
	ok "user add: a platform admin, password from --password-file"
else
	bad "user add: a platform admin, password from --password-file" \
		"$(head -c 300 "$T/a75.err") $(head -c 300 "$T/a75.out")"
fi
A75_ADMIN_ID=$(jq -r .id "$T/a75.out" 2>/dev/null)
a75_useradd "user add: an engineer, password on stdin" \
	--email eng75@example.com --name 'Eng 75' --role engineer
a75_useradd "user add: a tenant admin of the default tenant (by code)" \
	--email tadmin75@example.com --name 'Tenant Admin 75' --role tenant_admin --tenant default
if jq -e '.tenant_id == "00000000-0000-0000-0000-000000000000"' "$T/a75.out" >/dev/null; then
	ok "user add: --tenant default is the default tenant"
else
	bad "user add: --tenant default is the default tenant" "$(head -c 300 "$T/a75.out")"
fi
a75_useradd "user add: a customer (no --tenant: the default tenant)" \
	--email cust75@example.com --name 'Customer 75' --role customer
A75_CUST_ID=$(jq -r .id "$T/a75.out" 2>/dev/null)
a75_useradd "user add: a customer to be throttled" \
	--email throttle75@example.com --name 'Throttle 75' --role customer

rc=0
"$STACK_BIN" user add --email x75@example.com --name X --role admin --password "$A75_PW" \
	</dev/null >/dev/null 2>"$T/a75.err" || rc=$?
if [ "$rc" -eq 2 ] && grep -q 'never an argument' "$T/a75.err"; then
	ok "user add refuses a password on the command line (exit 2)"
else
	bad "user add refuses a password on the command line (exit 2)" "exit $rc"
fi
rc=0
printf 'short\n' | "$STACK_BIN" user add --email x75@example.com --name X --role admin \
	>/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 2 ]; then ok "user add refuses a short password (exit 2)"; else bad "user add refuses a short password (exit 2)" "exit $rc"; fi
rc=0
"$STACK_BIN" user add --email admin75@example.com --name Again --role admin \
	<"$A75_PWFILE" >/dev/null 2>"$T/a75.err" || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'already exists' "$T/a75.err"; then
	ok "user add refuses a taken email (exit 1)"
else
	bad "user add refuses a taken email (exit 1)" "exit $rc: $(head -c 200 "$T/a75.err")"
fi
rc=0
"$STACK_BIN" user add --email x75@example.com --name X --role engineer --tenant default \
	<"$A75_PWFILE" >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 2 ]; then ok "user add: staff take no --tenant (exit 2)"; else bad "user add: staff take no --tenant (exit 2)" "exit $rc"; fi
dbcheck "passwords are stored as argon2id hashes only" \
	"SELECT count(*) FROM users WHERE email LIKE '%75@example.com' AND password_hash LIKE '\$argon2id\$%'" 5
if grep -rqF -- "$A75_PW" "$WORK/log" 2>/dev/null; then
	bad "no password in any log" "found in $WORK/log"
else
	ok "no password in any log"
fi

# ---- login ----------------------------------------------------------------------------

a75_login admin75@example.com "$A75_PW"
expect "the admin logs in (no tenant needed for staff)" 200 \
	'.token | type == "string" and (split(".") | length == 3)' \
	'.expires_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' \
	'.user.email == "admin75@example.com"' '.user.role == "admin"' '.tenant == null' \
	'.user | has("password_hash") | not'
save A75_ADMIN .token

a75_login cust75@example.com "$A75_PW" "$A75_TENANT_CODE"
expect "a customer logs in; the tenant comes with it" 200 \
	'.user.role == "customer"' '.tenant.id == "00000000-0000-0000-0000-000000000000"' \
	'.tenant | has("code") and has("name") and has("plan") and has("status")'
save A75_CUST .token
a75_login tadmin75@example.com "$A75_PW" "$A75_TENANT_CODE"
expect "a tenant admin logs in" 200 '.user.role == "tenant_admin"'
save A75_TADMIN .token
a75_login eng75@example.com "$A75_PW"
expect "an engineer logs in" 200 '.user.role == "engineer"'
save A75_ENG .token

a75_login admin75@example.com 'not the password'
expect "wrong password: 401 invalid_credentials" 401 "$(E invalid_credentials)" \
	'.error.message == "email or password is wrong"'
A75_MSG1=$(jq -c .error "$T/body")
a75_login nobody75@example.com "$A75_PW"
expect "unknown email: 401 invalid_credentials" 401 "$(E invalid_credentials)"
A75_MSG2=$(jq -c .error "$T/body")
if [ "$A75_MSG1" = "$A75_MSG2" ]; then
	ok "unknown email and wrong password answer the same"
else
	bad "unknown email and wrong password answer the same" "$A75_MSG1 vs $A75_MSG2"
fi
if [ "$SUITE_DB" = postgres ]; then
	a75_login cust75@example.com "$A75_PW"
	expect "multi mode: a tenant's user without tenant_code: 401" 401 "$(E invalid_credentials)"
	a75_login cust75@example.com "$A75_PW" nosuchtenant
	expect "multi mode: an unknown tenant_code: the same 401" 401 "$(E invalid_credentials)"
	raw POST /api/v1/auth/login -H 'Host: default.kaiden.test' \
		-H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"cust75@example.com\",\"password\":\"$A75_PW\"}"
	expect "multi mode: the tenant from the subdomain" 200 \
		'.tenant.code == "default"'
else
	a75_login cust75@example.com "$A75_PW" acme
	expect "single mode: another tenant_code is refused" 400 "$(E invalid_field tenant_code)"
fi

# ---- /auth/me -------------------------------------------------------------------------

a75_as "$A75_ADMIN" GET /api/v1/auth/me
if [ "$SUITE_DB" = postgres ]; then
	expect "me: the admin, at platform level (multi)" 200 '.role == "admin"' \
		'.user.id == "'"$A75_ADMIN_ID"'"' '.tenant == null' '.acting_tenant_id == null' \
		'.credential == "login"'
else
	expect "me: the admin, in the default tenant (single)" 200 '.role == "admin"' \
		'.user.id == "'"$A75_ADMIN_ID"'"' '.tenant == null' \
		'.acting_tenant_id == "00000000-0000-0000-0000-000000000000"'
fi
a75_as "$A75_CUST" GET /api/v1/auth/me
expect "me: the customer and their tenant" 200 '.role == "customer"' \
	'.tenant.id == "00000000-0000-0000-0000-000000000000"' \
	'.acting_tenant_id == "00000000-0000-0000-0000-000000000000"'
call GET /api/v1/auth/me
expect "me: a service token has no user" 200 '.role == "service"' '.user == null' \
	'.credential == "api_token"'

# ---- permissions ----------------------------------------------------------------------

t "a device for the permission tests" POST /api/v1/devices '{"name":"acct-75"}' 201
save A75_DEV .id
a75_as "$A75_CUST" GET /api/v1/devices
expect "a customer lists devices" 200 '.items | length >= 1'
a75_as "$A75_CUST" GET "/api/v1/devices/$A75_DEV"
expect "a customer reads a device" 200 ".id == \"$A75_DEV\""
a75_as "$A75_CUST" GET /api/v1/sessions
expect "a customer lists sessions" 200 '.items | type == "array"'
snap
a75_as "$A75_CUST" POST /api/v1/devices '{"name":"nope"}'
expect "a customer cannot create devices (403)" 403 "$(E forbidden)"
a75_as "$A75_CUST" DELETE "/api/v1/devices/$A75_DEV"
expect "a customer cannot delete devices (403)" 403 "$(E forbidden)"
a75_as "$A75_CUST" POST /api/v1/sessions "{\"device_id\":\"$A75_DEV\",\"engineer_name\":\"C\"}"
expect "a customer cannot start sessions (403)" 403 "$(E forbidden)"
unchanged "the refused writes wrote nothing"
a75_as "$A75_CUST" GET /api/v1/users
expect "a customer cannot list users (403)" 403 "$(E forbidden)"
a75_as "$A75_TADMIN" POST /api/v1/sessions "{\"device_id\":\"$A75_DEV\",\"engineer_name\":\"T\"}"
expect "a tenant admin cannot start sessions (403)" 403 "$(E forbidden)"
a75_as "$A75_TADMIN" GET /api/v1/admin/tenants
expect "a tenant admin cannot list tenants (403)" 403 "$(E forbidden)"

a75_as "$A75_TADMIN" POST /api/v1/users \
	'{"email":"staff75@example.com","name":"S","role":"admin","password":"0123456789ab"}'
expect "a tenant admin cannot create staff (400 role)" 400 "$(E invalid_field role)"
dbcheck "no staff user was made" "SELECT count(*) FROM users WHERE email = 'staff75@example.com'" 0
a75_as "$A75_TADMIN" POST /api/v1/users \
	"{\"email\":\"new75@example.com\",\"name\":\"New 75\",\"role\":\"customer\",\"password\":\"$A75_PW\"}"
expect "a tenant admin adds a customer" 201 '.role == "customer"' \
	'.tenant_id == "00000000-0000-0000-0000-000000000000"' '.email == "new75@example.com"'
save A75_NEW_ID .id
header "the new user's Location" "^location: /api/v1/users/$A75_NEW_ID\$"
a75_as "$A75_TADMIN" POST /api/v1/users \
	'{"email":"new75@example.com","name":"Dup","role":"customer"}'
expect "the same email twice: 409 email_taken" 409 "$(E email_taken email)"
a75_as "$A75_TADMIN" POST /api/v1/users '{"email":"bad","name":"B","role":"customer"}'
expect "a malformed email: 400 field email" 400 "$(E invalid_field email)"
a75_as "$A75_TADMIN" POST /api/v1/users \
	'{"email":"p75@example.com","name":"P","role":"customer","password":"short"}'
expect "a short password: 400 field password" 400 "$(E invalid_field password)"
a75_as "$A75_TADMIN" GET /api/v1/users
expect "a tenant admin lists only the tenant's users" 200 \
	'[.items[].tenant_id] | all(. == "00000000-0000-0000-0000-000000000000")' \
	'[.items[].email] | index("admin75@example.com") == null'
A75_TADMIN_ID=$(dbq "SELECT id FROM users WHERE email = 'tadmin75@example.com'")
a75_as "$A75_TADMIN" DELETE "/api/v1/users/$A75_TADMIN_ID"
expect "nobody deletes themselves (409)" 409 "$(E cannot_modify_self)"
a75_as "$A75_TADMIN" PATCH "/api/v1/users/$A75_TADMIN_ID" '{"status":"disabled"}'
expect "nobody disables themselves (409)" 409 "$(E cannot_modify_self status)"
a75_as "$A75_TADMIN" GET "/api/v1/users/$A75_ADMIN_ID"
expect "a staff user does not exist for a tenant admin (404)" 404 "$(E not_found)"

if [ "$SUITE_DB" = postgres ]; then
	a75_as "$A75_ADMIN" GET /api/v1/devices
	expect "multi mode: staff must name a tenant (400)" 400 "$(E tenant_required)"
	a75_as "$A75_ADMIN" GET /api/v1/devices '' -H 'X-Kaiden-Tenant: default'
	expect "multi mode: staff name it with X-Kaiden-Tenant" 200 '.items | length >= 1'
	a75_as "$A75_ADMIN" GET /api/v1/devices '' \
		-H 'X-Kaiden-Tenant: 00000000-0000-0000-0000-000000000000'
	expect "multi mode: ... by its id too" 200 '.items | length >= 1'
	a75_as "$A75_ADMIN" GET /api/v1/auth/me '' \
		-H 'X-Kaiden-Tenant: 00000000-0000-0000-0000-000000000000'
	expect "multi mode: me with a tenant id" 200 \
		'.acting_tenant_id == "00000000-0000-0000-0000-000000000000"'
	a75_as "$A75_ADMIN" GET /api/v1/devices '' \
		-H 'X-Kaiden-Tenant: 0190a0b0-c0d0-7e0f-8000-0000000000ff'
	expect "multi mode: an id naming no tenant: 404" 404 "$(E not_found X-Kaiden-Tenant)"
	a75_as "$A75_ADMIN" GET /api/v1/devices '' -H 'Host: default.kaiden.test'
	expect "multi mode: or with the subdomain" 200 '.items | length >= 1'
	a75_as "$A75_ADMIN" GET /api/v1/auth/me '' -H 'X-Kaiden-Tenant: default'
	expect "multi mode: me says where staff act" 200 \
		'.acting_tenant_id == "00000000-0000-0000-0000-000000000000"' \
		".user.id == \"$A75_ADMIN_ID\"" '.tenant == null'
	a75_as "$A75_ADMIN" GET /api/v1/auth/tokens '' -H 'Host: default.kaiden.test'
	expect "multi mode: staff's own tokens, whatever tenant is named" 200 \
		'.items | type == "array"'
	a75_as "$A75_ADMIN" GET /api/v1/devices '' -H 'X-Kaiden-Tenant: nosuchtenant'
	expect "multi mode: an unknown tenant: 404 naming the header" 404 \
		"$(E not_found X-Kaiden-Tenant)"
	dbcheck "multi mode: the staff's switch into the tenant is audited once" \
		"SELECT count(*) FROM audit_log WHERE action = 'tenant.access' AND actor_id = '$A75_ADMIN_ID'" 1
	a75_as "$A75_ADMIN" GET /api/v1/users
	expect "multi mode: staff at platform level list staff" 200 \
		'[.items[].tenant_id] | all(. == null)' \
		'[.items[].email] | index("admin75@example.com") != null'
	a75_as "$A75_ADMIN" POST /api/v1/users \
		"{\"email\":\"eng2-75@example.com\",\"name\":\"Eng 2\",\"role\":\"engineer\",\"password\":\"$A75_PW\"}"
	expect "multi mode: an admin adds an engineer at platform level" 201 \
		'.role == "engineer"' '.tenant_id == null'
else
	a75_as "$A75_ADMIN" GET /api/v1/devices
	expect "single mode: staff act in the default tenant" 200 '.items | length >= 1'
	a75_as "$A75_ADMIN" POST /api/v1/users \
		'{"email":"eng2-75@example.com","name":"Eng 2","role":"engineer"}'
	expect "single mode: staff users are not made in the default tenant (400 role)" 400 \
		"$(E invalid_field role)"
	a75_as "$A75_ADMIN" GET '/api/v1/users?scope=platform'
	expect "single mode: ?scope=platform lists the staff" 200 \
		'[.items[].tenant_id] | all(. == null)' \
		'[.items[].email] | index("admin75@example.com") != null' \
		'[.items[].email] | index("cust75@example.com") == null'
	a75_as "$A75_ADMIN" POST '/api/v1/users?scope=platform' \
		"{\"email\":\"eng2-75@example.com\",\"name\":\"Eng 2\",\"role\":\"engineer\",\"password\":\"$A75_PW\"}"
	expect "single mode: an admin adds an engineer with ?scope=platform" 201 \
		'.role == "engineer"' '.tenant_id == null'
	a75_as "$A75_ADMIN" GET '/api/v1/audit?scope=platform&action=user.create'
	expect "single mode: ?scope=platform reads the platform's audit" 200 \
		'[.items[].action] | all(. == "user.create")' '.items | length >= 1'
fi
a75_as "$A75_ADMIN" GET '/api/v1/users?scope=tenant'
expect "?scope= other than platform: 400 naming it" 400 "$(E invalid_query scope)"
a75_as "$A75_TADMIN" GET '/api/v1/users?scope=platform'
expect "?scope=platform is for staff only (403)" 403 "$(E forbidden scope)"
a75_as "$A75_ADMIN" GET '/api/v1/devices?scope=platform' '' -H 'X-Kaiden-Tenant: default'
expect "?scope= is ignored where a route acts in a tenant only" 200 '.items | type == "array"'
a75_as "$A75_ENG" POST /api/v1/users '{"email":"e3@example.com","name":"E","role":"customer"}'
expect "an engineer cannot create users (403)" 403 "$(E forbidden)"

# ---- API tokens -----------------------------------------------------------------------

a75_as "$A75_ADMIN" POST /api/v1/auth/tokens '{"name":"ci 75","expires_in_days":30}'
expect "create an API token: shown once" 201 '.token | startswith("kdn_")' \
	'.name == "ci 75"' '.expires_at != null'
save A75_API .token
save A75_API_ID .id
a75_as "$A75_API" GET /api/v1/auth/me
expect "the API token acts as its user" 200 '.role == "admin"' '.credential == "api_token"' \
	".user.id == \"$A75_ADMIN_ID\""
a75_as "$A75_ADMIN" GET /api/v1/auth/tokens
expect "the caller's tokens are listed, never the token" 200 \
	"[.items[].id] | index(\"$A75_API_ID\") != null" '[.items[] | has("token")] | any | not'
if grep -qF -- "$A75_API" "$T/body"; then bad "the list never shows the token" "it does"; else ok "the list never shows the token"; fi
dbcheck "tokens are stored as digests" \
	"SELECT count(*) FROM api_tokens WHERE token_digest = '$A75_API'" 0
a75_as "$A75_CUST" DELETE "/api/v1/auth/tokens/$A75_API_ID"
expect "someone else's token cannot be revoked (404)" 404 "$(E not_found)"
call POST /api/v1/auth/tokens '{"name":"from a service token"}'
expect "a service token cannot make tokens (403)" 403 "$(E forbidden)"
a75_as "$A75_ADMIN" DELETE "/api/v1/auth/tokens/$A75_API_ID"
expect "revoke the API token" 204
a75_as "$A75_API" GET /api/v1/auth/me
expect "a revoked API token: 401" 401 "$(E unauthorized)"

if A75_CLI_TOKEN=$("$STACK_BIN" token create --user cust75@example.com --name cli75 2>"$T/a75.err"); then
	ok "token create --user makes a user's token"
else
	bad "token create --user makes a user's token" "$(head -c 300 "$T/a75.err")"
fi
a75_as "$A75_CLI_TOKEN" GET /api/v1/auth/me
expect "the command line's token acts as the customer" 200 '.role == "customer"' \
	".user.id == \"$A75_CUST_ID\""
a75_as "$A75_CLI_TOKEN" POST /api/v1/devices '{"name":"nope"}'
expect "... with the customer's rights (403)" 403 "$(E forbidden)"
rc=0
"$STACK_BIN" token create --user nobody75@example.com >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 1 ]; then ok "token create --user: an unknown email fails"; else bad "token create --user: an unknown email fails" "exit $rc"; fi

# ---- logout -----------------------------------------------------------------------------

a75_login admin75@example.com "$A75_PW"
expect "a second login" 200
save A75_ADMIN2 .token
a75_as "$A75_ADMIN2" POST /api/v1/auth/logout
expect "logout: 204" 204
a75_as "$A75_ADMIN2" GET /api/v1/auth/me
expect "a logged-out token is refused" 401 "$(E unauthorized)"
a75_as "$A75_ADMIN" GET /api/v1/auth/me
expect "the other login still works" 200
call POST /api/v1/auth/logout
expect "logout with an API token: 400 not_a_login" 400 "$(E not_a_login)"

# ---- disabled users ---------------------------------------------------------------------

a75_as "$A75_TADMIN" PATCH "/api/v1/users/$A75_CUST_ID" '{"status":"disabled"}'
expect "the tenant admin disables the customer" 200 '.status == "disabled"'
a75_login cust75@example.com "$A75_PW" "$A75_TENANT_CODE"
expect "a disabled user cannot log in: the same 401" 401 "$(E invalid_credentials)" \
	'.error.message == "email or password is wrong"'
a75_as "$A75_CUST" GET /api/v1/devices
expect "a disabled user's login token is refused" 401 "$(E unauthorized)"
a75_as "$A75_CLI_TOKEN" GET /api/v1/auth/me
expect "a disabled user's API token is refused" 401 "$(E unauthorized)"
a75_as "$A75_TADMIN" DELETE "/api/v1/users/$A75_NEW_ID"
expect "the tenant admin deletes a user" 204
a75_as "$A75_TADMIN" GET "/api/v1/users/$A75_NEW_ID"
expect "a deleted user is gone" 404 "$(E not_found)"

# ---- throttling -------------------------------------------------------------------------
# The defaults: 5 failures per account within 15 minutes.

A75_I=1
A75_ALL401=1
while [ "$A75_I" -le 5 ]; do
	a75_login throttle75@example.com "wrong password $A75_I" "$A75_TENANT_CODE"
	[ "$CODE" = 401 ] || A75_ALL401=
	A75_I=$((A75_I + 1))
done
if [ -n "$A75_ALL401" ]; then ok "five wrong passwords: 401 each"; else bad "five wrong passwords: 401 each" "last: $CODE"; fi
a75_login throttle75@example.com "$A75_PW" "$A75_TENANT_CODE"
expect "the sixth try, even with the right password: 429" 429 "$(E too_many_attempts)"
header "429 carries Retry-After" '^retry-after: [1-9][0-9]*$'
A75_RETRY=$(hval Retry-After)
if [ "${A75_RETRY:-0}" -le 900 ]; then ok "Retry-After is within the window"; else bad "Retry-After is within the window" "$A75_RETRY"; fi
a75_login admin75@example.com "$A75_PW"
expect "other accounts are not locked" 200

# ---- throttling under load (issue 8) -------------------------------------------------------
# Each part comes from its own loopback address (curl --interface 127.0.0.N), so the
# address limit it fills is its own and not the suite's (127.0.0.1).

# a75_fire ADDR EMAIL PASSWORD OUT: one login from ADDR in the background; its status
# code into OUT.
a75_fire() {
	_a75_fb=$(a75_body "$2" "$3" "$A75_TENANT_CODE")
	curl -sS --max-time 120 --interface "$1" -o /dev/null -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "$_a75_fb" \
		"$STACK_URL/api/v1/auth/login" >"$4" 2>&1 &
	A75_PIDS="$A75_PIDS $!"
}

# a75_burst NAME ADDR EMAIL|- WANT401 WANT429: 30 wrong passwords at once from ADDR, for
# EMAIL or ("-") for 30 different emails; the counts of 401 and 429 must be as given.
a75_burst() {
	_a75_i=1
	rm -f "$T"/a75.burst.*
	A75_PIDS=
	while [ "$_a75_i" -le 30 ]; do
		_a75_e=$3
		[ "$_a75_e" != - ] || _a75_e="burst$_a75_i.75@example.com"
		a75_fire "$2" "$_a75_e" "wrong password $_a75_i" "$T/a75.burst.$_a75_i"
		_a75_i=$((_a75_i + 1))
	done
	# Only these curls: the suite's shell has the stack's processes as children too.
	for _a75_p in $A75_PIDS; do wait "$_a75_p" || :; done
	for _a75_f in "$T"/a75.burst.*; do cat "$_a75_f"; echo; done >"$T/a75.codes"
	_a75_401=$(grep -c '^401$' "$T/a75.codes" || :)
	_a75_429=$(grep -c '^429$' "$T/a75.codes" || :)
	if [ "$_a75_401" = "$4" ] && [ "$_a75_429" = "$5" ]; then
		ok "$1"
	else
		bad "$1" "401 x $_a75_401 (want $4), 429 x $_a75_429 (want $5): $(sort "$T/a75.codes" | uniq -c | tr '\n' ' ')"
	fi
}

a75_useradd "user add: a customer for the parallel logins" \
	--email race75@example.com --name 'Race 75' --role customer
a75_useradd "user add: an engineer for the cross-tenant lock" \
	--email lock75@example.com --name 'Lock 75' --role engineer

# One account, 30 wrong passwords at once: the count is taken before the password is
# checked, atomically, so exactly the limit (5) are checked.
a75_burst "30 parallel wrong passwords for one account: 5 checked (401), 25 refused (429)" \
	127.0.0.21 race75@example.com 5 25
dbcheck "the account: 5 passwords checked (one auth.login_failed each)" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND actor_email = 'race75@example.com'" 5
A75_JCOUNT="json_extract(details, '\$.count')"
[ "$SUITE_DB" = sqlite ] || A75_JCOUNT="details->>'count'"
# The address counts every attempt, so past its 20th the address refuses first: the 25
# refusals are two auth.login_throttled rows (the account's, the address's) that count
# them, not 25 rows.
dbcheck "the 25 refusals: counted in two auth.login_throttled rows" \
	"SELECT count(*) || ' ' || sum(CAST($A75_JCOUNT AS INTEGER)) FROM audit_log WHERE action = 'auth.login_throttled' AND remote_addr = '127.0.0.21'" "2 25"
a75_login race75@example.com "$A75_PW" "$A75_TENANT_CODE"
expect "then the right password: 429" 429 "$(E too_many_attempts)"
header "with Retry-After" '^retry-after: [1-9][0-9]*$'

# One address, 30 logins at once for 30 accounts: the address's limit (20) holds.
a75_burst "30 parallel logins from one address: 20 checked (401), 10 refused (429)" \
	127.0.0.22 - 20 10
dbcheck "the address: 20 passwords checked" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND remote_addr = '127.0.0.22'" 20
dbcheck "the 10 refusals: one auth.login_throttled row for the address" \
	"SELECT count(*) || ' ' || max($A75_JCOUNT) FROM audit_log WHERE action = 'auth.login_throttled' AND remote_addr = '127.0.0.22' AND tenant_id IS NULL" "1 10"
raw POST /api/v1/auth/login --interface 127.0.0.22 -H 'Content-Type: application/json' \
	--data-binary "$(a75_body admin75@example.com "$A75_PW" "$A75_TENANT_CODE")"
expect "then a right password from that address: 429" 429 "$(E too_many_attempts)"

# The lock is the account's, whatever tenant the login names (PostgreSQL runs multi
# mode; single mode has one tenant, and check_route tests multi mode on SQLite).
A75_I=1
while [ "$A75_I" -le 5 ]; do
	raw POST /api/v1/auth/login --interface 127.0.0.23 -H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"lock75@example.com\",\"password\":\"wrong $A75_I\"}"
	A75_I=$((A75_I + 1))
done
expect "staff: five wrong passwords with no tenant named, the last 401" 401
raw POST /api/v1/auth/login --interface 127.0.0.23 -H 'Content-Type: application/json' \
	--data-binary "$(a75_body lock75@example.com "$A75_PW" "${A75_TENANT_CODE:-default}")"
expect "then the right password naming a tenant: 429 (no five more guesses)" 429 \
	"$(E too_many_attempts)"
if [ "$SUITE_DB" = postgres ]; then
	raw POST /api/v1/auth/login --interface 127.0.0.23 -H 'Content-Type: application/json' \
		--data-binary '{"email":"lock75@example.com","password":"guess","tenant_code":"nosuch75"}'
	expect "nor naming a tenant that does not exist" 429 "$(E too_many_attempts)"
fi
dbcheck "staff lock: five passwords checked in all" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND actor_email = 'lock75@example.com'" 5

# A staff member's email is reserved: a tenant admin cannot give it to a tenant user, so
# a staff login naming that tenant still meets the staff account.
a75_as "$A75_TADMIN" POST /api/v1/users \
	"{\"email\":\"Eng75@example.com\",\"name\":\"Twin\",\"role\":\"customer\",\"password\":\"$A75_PW\"}"
expect "a tenant admin cannot make a user with a staff member's email: 409" 409 \
	"$(E email_taken email)"
if [ "$SUITE_DB" = postgres ]; then
	a75_login eng75@example.com "$A75_PW" default
	expect "the staff member still logs in naming that tenant, as staff" 200 \
		'.user.role == "engineer" and .user.tenant_id == null'
fi

# ---- the audit log ------------------------------------------------------------------------

dbcheck "audit: the logins" \
	"SELECT CASE WHEN count(*) >= 4 THEN 'yes' ELSE 'no' END FROM audit_log WHERE action = 'auth.login' AND target_id IN ('$A75_ADMIN_ID', '$A75_CUST_ID')" yes
dbcheck "audit: failed logins, without an actor, with the email tried" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND actor_id IS NULL AND actor_email = 'nobody75@example.com'" 1
dbcheck "audit: the five failures are recorded" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND actor_email = 'throttle75@example.com'" 5
dbcheck "audit: the throttled try is recorded" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.login_throttled' AND actor_email = 'throttle75@example.com'" 1
dbcheck "audit: logout" \
	"SELECT count(*) FROM audit_log WHERE action = 'auth.logout' AND actor_id = '$A75_ADMIN_ID'" 1
dbcheck "audit: token create and revoke, never the token" \
	"SELECT count(*) FROM audit_log WHERE action IN ('token.create', 'token.revoke') AND target_id = '$A75_API_ID'" 2
dbcheck "audit: no password anywhere" \
	"SELECT count(*) FROM audit_log WHERE CAST(details AS TEXT) LIKE '%$A75_PW%' OR actor_email LIKE '%$A75_PW%'" 0
# (the customer's user.create is the command line's, without an actor)
dbcheck "audit: user create, update and delete" \
	"SELECT count(*) FROM audit_log WHERE action IN ('user.create', 'user.update', 'user.delete') AND target_id IN ('$A75_NEW_ID', '$A75_CUST_ID')" 4
