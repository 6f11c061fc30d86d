# shellcheck shell=sh
# Webhooks' API (issue 11): create / list / get / patch / rotate / delete and the delivery
# log, in the default tenant and at platform level; the URL guard (http, private,
# link-local and loopback targets refused unless webhooks.allow_loopback, which lets
# http and loopback through and nothing else); event names checked; the secret shown
# once (create, rotate), stored sealed, never in a reply, the audit log or kaiden-api's
# log again; the limit of 20 hooks; who may (customers 403, engineers read only, tenant
# roles never see platform hooks and staff at platform level never see a tenant's: 404);
# an event written for a tenant's hook when its device is registered. SQLite runs it in
# single mode, PostgreSQL in multi mode (suite.sh); the other tenant's ids are case-88's.
# Every hook made here is deleted at the end and webhooks.allow_loopback is back at 0.

W105_PWFILE=$T/w105.pw
(umask 077 && printf '%s\n' 'w105-password-long-enough' >"$W105_PWFILE")
W105_CODE=
[ "$SUITE_DB" != postgres ] || W105_CODE=default
W105_SAVED_TOKEN=$STACK_TOKEN

# w105 TOKEN METHOD PATH [BODY]: a request with that bearer token; staff name the default
# tenant in multi mode unless the path asks for ?scope=platform.
w105() {
	_w_tok=$1
	_w_m=$2
	_w_p=$3
	_w_b=${4:-}
	set -- -H "Authorization: Bearer $_w_tok"
	if [ "$SUITE_DB" = postgres ] &&
		{ [ "$_w_tok" = "${W105_ADMIN:-}" ] || [ "$_w_tok" = "${W105_ENG:-}" ]; }; then
		case $_w_p in *scope=platform*) ;; *) set -- "$@" -H 'X-Kaiden-Tenant: default' ;; esac
	fi
	if [ -n "$_w_b" ]; then
		raw "$_w_m" "$_w_p" "$@" -H 'Content-Type: application/json' --data-binary "$_w_b"
	else
		raw "$_w_m" "$_w_p" "$@"
	fi
}

# w105_user NAME ROLE EMAIL VAR: staff by `kaiden-api user add`, tenant users by the suite's
# service token; then a login, whose token goes to VAR.
w105_user() {
	case $2 in
	admin | engineer)
		"$STACK_BIN" user add --email "$3" --name "$1" --role "$2" \
			--password-file "$W105_PWFILE" >"$T/w105.out" 2>&1 || bad "user add $3" "$(head -c 200 "$T/w105.out")"
		_w_code=
		;;
	*)
		w105 "$W105_SAVED_TOKEN" POST /api/v1/users \
			"{\"email\":\"$3\",\"name\":\"$1\",\"role\":\"$2\",\"password\":\"w105-password-long-enough\"}"
		expect "the service token adds a $2" 201
		_w_code=$W105_CODE
		;;
	esac
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
		"$(jq -cn --arg e "$3" --arg t "$_w_code" \
			'{email: $e, password: "w105-password-long-enough"} + (if $t == "" then {} else {tenant_code: $t} end)')"
	expect "the $2 logs in" 200 '.token | type == "string"'
	save "$4" .token
}

w105_user 'W Admin' admin w105-admin@kaiden.test W105_ADMIN
w105_user 'W Engineer' engineer w105-eng@kaiden.test W105_ENG
w105_user 'W Tenant Admin' tenant_admin w105-tadmin@example.com W105_TA
w105_user 'W Customer' customer w105-cust@example.com W105_CUST

W105_EVENTS='["ticket.created","device.registered"]'

# ---- the URL guard, webhooks.allow_loopback off (the default) --------------------------
dbcheck "no webhook yet" "SELECT count(*) FROM webhooks" 0
for u in 'http://1.1.1.1/hook' 'https://10.0.0.1/hook' 'https://169.254.169.254/latest/meta-data' \
	'https://localhost/hook' 'https://127.0.0.1/hook' 'http://127.0.0.1:9/hook' \
	'https://user:pw@1.1.1.1/hook' 'https://[::1]/hook' 'https://0x7f000001/hook' 'not a url'; do
	w105 "$W105_TA" POST /api/v1/webhooks "{\"url\":\"$u\",\"events\":$W105_EVENTS}"
	expect "refused without allow_loopback: $u" 422 "$(E invalid_url url)"
done
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://10.0.0.1/hook","events":["ticket.created"]}'
expect "the reason is given" 422 '.error.message | test("private")'
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":["ticket.created","nope"]}'
expect "an unknown event is refused" 400 "$(E invalid_field events)" '.error.message | test("element 1")'
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":["ticket.created","ticket.created"]}'
expect "a duplicate event is refused" 400 "$(E invalid_field events)"
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":[]}'
expect "no event is refused" 400 "$(E invalid_field events)"
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":"ticket.created"}'
expect "events must be an array" 400 "$(E invalid_field events)"
w105 "$W105_TA" POST /api/v1/webhooks '{"events":["ticket.created"]}'
expect "url is required" 400 "$(E missing_field url)"
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":["ticket.created"],"secret":"mine"}'
expect "a secret cannot be chosen" 400 "$(E unknown_field secret)"
dbcheck "nothing refused was written" "SELECT count(*) FROM webhooks" 0
# A public literal address needs no resolver: accepted.
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"https://1.1.1.1/hook","events":["session.failed"]}'
expect "a public https target is accepted" 201 '.url == "https://1.1.1.1/hook"' '.secret | startswith("whsec_")'
save W105_PUBLIC .id
w105 "$W105_TA" DELETE "/api/v1/webhooks/$W105_PUBLIC"
expect "and deleted" 204

# ---- webhooks.allow_loopback on: http and loopback, nothing else ---------------------
export KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1
api_restart "kaiden-api restarts with webhooks.allow_loopback=1"
for u in 'https://10.0.0.1/hook' 'http://169.254.169.254/latest' 'http://192.168.1.1/' \
	'http://100.64.0.1/' 'http://[fe80::1]/'; do
	w105 "$W105_TA" POST /api/v1/webhooks "{\"url\":\"$u\",\"events\":$W105_EVENTS}"
	expect "still refused with allow_loopback: $u" 422 "$(E invalid_url url)"
done
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"http://localhost:9/h","events":["session.failed"]}'
expect "localhost is accepted with allow_loopback" 201
save W105_LOCAL .id
w105 "$W105_TA" DELETE "/api/v1/webhooks/$W105_LOCAL"
expect "and deleted" 204

# ---- CRUD in the tenant ------------------------------------------------------------------
w105 "$W105_TA" POST /api/v1/webhooks \
	"{\"url\":\"http://127.0.0.1:9/hook\",\"events\":$W105_EVENTS,\"description\":\"ops\"}"
expect "the tenant admin creates a webhook" 201 \
	'.secret | test("^whsec_[A-Za-z0-9_-]{43}$")' '.status == "active"' \
	'.tenant_id == "00000000-0000-0000-0000-000000000000"' '.description == "ops"' \
	'.events == ["ticket.created","device.registered"]' '.disabled_reason == null' \
	'.failing_since == null' 'has("secret_sealed") | not' 'has("locked_by") | not'
save W105_HOOK .id
save W105_SECRET .secret
header "with a Location" "^location: /api/v1/webhooks/$W105_HOOK\$"
dbcheck "the secret is stored sealed, not as shown" \
	"SELECT CASE WHEN secret_sealed LIKE 'v1.%' AND secret_sealed NOT LIKE '%$W105_SECRET%' THEN 'sealed' ELSE secret_sealed END FROM webhooks WHERE id = '$W105_HOOK'" sealed

w105 "$W105_TA" GET "/api/v1/webhooks/$W105_HOOK"
expect "get: no secret again" 200 ".id == \"$W105_HOOK\"" 'has("secret") | not' 'has("secret_sealed") | not'
w105 "$W105_TA" GET /api/v1/webhooks
expect "list: the hook, no secret" 200 "[.items[].id] == [\"$W105_HOOK\"]" \
	'[.items[] | select(has("secret") or has("secret_sealed"))] == []' '.next_cursor == null'
w105 "$W105_SAVED_TOKEN" GET "/api/v1/webhooks/$W105_HOOK"
expect "the service token sees it" 200 'has("secret") | not'
w105 "$W105_ENG" GET "/api/v1/webhooks/$W105_HOOK"
expect "an engineer in the tenant reads it" 200 'has("secret") | not'
w105 "$W105_ENG" PATCH "/api/v1/webhooks/$W105_HOOK" '{"description":"x"}'
expect "but does not change it" 403 "$(E forbidden)"
w105 "$W105_ENG" POST /api/v1/webhooks '{"url":"http://127.0.0.1:9/e","events":["ticket.created"]}'
expect "nor creates one" 403 "$(E forbidden)"
w105 "$W105_ADMIN" GET "/api/v1/webhooks/$W105_HOOK"
expect "a staff admin in the tenant reads it" 200

for m in "POST /api/v1/webhooks" "GET /api/v1/webhooks" "GET /api/v1/webhooks/$W105_HOOK" \
	"PATCH /api/v1/webhooks/$W105_HOOK" "DELETE /api/v1/webhooks/$W105_HOOK" \
	"POST /api/v1/webhooks/$W105_HOOK/rotate" "GET /api/v1/webhooks/$W105_HOOK/deliveries"; do
	# shellcheck disable=SC2086 # method and path
	set -- $m
	w105 "$W105_CUST" "$1" "$2" '{"url":"http://127.0.0.1:9/c","events":["ticket.created"]}'
	expect "a customer: $1 $2 is 403" 403 "$(E forbidden)"
done

w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"description":"changed","events":["device.registered"]}'
expect "patch description and events" 200 '.description == "changed"' '.events == ["device.registered"]' \
	'.url == "http://127.0.0.1:9/hook"' 'has("secret") | not'
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"url":"https://10.0.0.1/x"}'
expect "patch url: checked as on create" 422 "$(E invalid_url url)"
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"status":"paused"}'
expect "patch status: active or disabled" 400 "$(E invalid_field status)"
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"events":["nope"]}'
expect "patch events: known ones" 400 "$(E invalid_field events)"
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{}'
expect "patch: something" 400 "$(E missing_field)"
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"status":"disabled"}'
expect "disable" 200 '.status == "disabled"' '.disabled_reason | type == "string"'
dbq "UPDATE webhooks SET failing_since = created_at WHERE id = '$W105_HOOK'" >/dev/null
w105 "$W105_TA" PATCH "/api/v1/webhooks/$W105_HOOK" '{"status":"active"}'
expect "re-enable clears the reason and failing_since" 200 '.status == "active"' \
	'.disabled_reason == null' '.failing_since == null'

w105 "$W105_TA" POST "/api/v1/webhooks/$W105_HOOK/rotate"
expect "rotate: a new secret, shown once" 200 '.secret | startswith("whsec_")' \
	".secret != \"$W105_SECRET\"" ".id == \"$W105_HOOK\""
save W105_SECRET2 .secret
w105 "$W105_TA" GET "/api/v1/webhooks/$W105_HOOK"
expect "and not again" 200 'has("secret") | not'

# An event: a device registered in the tenant, one delivery for the hook.
w105 "$W105_SAVED_TOKEN" POST /api/v1/devices '{"name":"w105-pc"}'
expect "a device is registered" 201
save W105_DEV .id
w105 "$W105_TA" GET "/api/v1/webhooks/$W105_HOOK/deliveries"
expect "the delivery log holds its event" 200 '.items | length == 1' \
	'.items[0].event_type == "device.registered"' \
	'.items[0].tenant_id == "00000000-0000-0000-0000-000000000000"' \
	'.items[0].status | IN("pending", "delivered", "failed")' '.items[0] | has("attempts")' \
	'.items[0] | has("last_error") and has("response_ms") and has("next_attempt_at")'
dbcheck "the event's body is the device, without its secret" \
	"SELECT count(*) FROM webhook_events WHERE body LIKE '%$W105_DEV%' AND body NOT LIKE '%secret%' AND body NOT LIKE '%argon%'" 1
w105 "$W105_TA" GET "/api/v1/webhooks/$W105_HOOK/deliveries?limit=0"
expect "deliveries: a bad limit" 400 "$(E invalid_query limit)"

# ---- the platform's hooks ----------------------------------------------------------------
w105 "$W105_ADMIN" POST "/api/v1/webhooks?scope=platform" \
	'{"url":"http://127.0.0.1:9/platform","events":["session.failed"]}'
expect "a staff admin creates a platform hook" 201 '.tenant_id == null' '.secret | startswith("whsec_")'
save W105_PLAT .id
w105 "$W105_ADMIN" GET "/api/v1/webhooks?scope=platform"
expect "the platform's list holds only platform hooks" 200 "[.items[].id] == [\"$W105_PLAT\"]"
w105 "$W105_ADMIN" GET "/api/v1/webhooks/$W105_HOOK?scope=platform"
expect "a tenant's hook does not exist at platform level" 404 "$(E not_found)"
w105 "$W105_ENG" GET "/api/v1/webhooks/$W105_PLAT?scope=platform"
expect "an engineer reads a platform hook" 200 'has("secret") | not'
w105 "$W105_ENG" DELETE "/api/v1/webhooks/$W105_PLAT?scope=platform"
expect "but does not delete it" 403 "$(E forbidden)"
for m in "GET /api/v1/webhooks/$W105_PLAT" "PATCH /api/v1/webhooks/$W105_PLAT" \
	"DELETE /api/v1/webhooks/$W105_PLAT" "POST /api/v1/webhooks/$W105_PLAT/rotate" \
	"GET /api/v1/webhooks/$W105_PLAT/deliveries"; do
	# shellcheck disable=SC2086 # method and path
	set -- $m
	for tok in W105_TA W105_SAVED_TOKEN; do
		eval "_w_t=\$$tok"
		w105 "$_w_t" "$1" "$2" '{"description":"hijacked"}'
		expect "the tenant ($tok): $1 of a platform hook is 404" 404 "$(E not_found)"
	done
	w105 "$W105_ADMIN" "$1" "$2" '{"description":"hijacked"}'
	expect "staff in the tenant: $1 of a platform hook is 404" 404 "$(E not_found)"
done
w105 "$W105_TA" GET "/api/v1/webhooks?scope=platform"
expect "a tenant admin cannot ask for platform level" 403 "$(E forbidden scope)"
w105 "$W105_TA" GET /api/v1/webhooks
expect "nor sees platform hooks in its list" 200 "[.items[].id] == [\"$W105_HOOK\"]"
dbcheck "nothing hijacked" "SELECT count(*) FROM webhooks WHERE description = 'hijacked'" 0

# ---- audit, and the secret nowhere ---------------------------------------------------------
w105 "$W105_ADMIN" GET "/api/v1/audit?action=webhook.&limit=200"
expect "the audit log has create, update and rotate" 200 \
	'[.items[].action] | (index("webhook.create") != null and index("webhook.update") != null and index("webhook.rotate") != null and index("webhook.delete") != null)' \
	'[.items[] | select(.action == "webhook.create") | .details.events] | length > 0'
for s in "$W105_SECRET" "$W105_SECRET2"; do
	if grep -q -- "$s" "$T/body" "$STACK_DIR/log/kaiden-api.log" 2>/dev/null; then
		bad "a secret is in neither the audit log nor kaiden-api's log" "found $s"
	else
		ok "a secret is in neither the audit log nor kaiden-api's log"
	fi
done
dbcheck "nor in the audit table" \
	"SELECT count(*) FROM audit_log WHERE CAST(details AS TEXT) LIKE '%whsec_%'" 0

# ---- delete: the deliveries go with the hook ------------------------------------------------
w105 "$W105_TA" DELETE "/api/v1/webhooks/$W105_HOOK"
expect "delete" 204
w105 "$W105_TA" GET "/api/v1/webhooks/$W105_HOOK"
expect "gone" 404 "$(E not_found)"
w105 "$W105_TA" DELETE "/api/v1/webhooks/$W105_HOOK"
expect "deleting again: 404" 404 "$(E not_found)"
dbcheck "its deliveries went with it" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$W105_HOOK'" 0
w105 "$W105_TA" GET "/api/v1/webhooks/not-an-id"
expect "a malformed id: 404" 404 "$(E not_found)"

# ---- the limit: 20 per tenant ---------------------------------------------------------------
_w_bad=
for i in $(seq 1 20); do
	w105 "$W105_TA" POST /api/v1/webhooks "{\"url\":\"http://127.0.0.1:9/n$i\",\"events\":[\"session.failed\"]}"
	[ "$CODE" = 201 ] || _w_bad="$_w_bad $i:$CODE"
done
if [ -z "$_w_bad" ]; then ok "20 hooks in a tenant"; else bad "20 hooks in a tenant" "$_w_bad"; fi
w105 "$W105_TA" POST /api/v1/webhooks '{"url":"http://127.0.0.1:9/n21","events":["session.failed"]}'
expect "the 21st: 409 quota_exceeded" 409 "$(E quota_exceeded)" '.error.message | test("20")'
w105 "$W105_ADMIN" POST "/api/v1/webhooks?scope=platform" '{"url":"http://127.0.0.1:9/p2","events":["session.failed"]}'
expect "the platform has its own count" 201
save W105_PLAT2 .id

# ---- clean up: no hook left for the cases after this one --------------------------------------
w105 "$W105_TA" GET "/api/v1/webhooks?limit=200"
for id in $(jq -r '.items[].id' "$T/body"); do
	w105 "$W105_TA" DELETE "/api/v1/webhooks/$id"
	[ "$CODE" = 204 ] || bad "clean up $id" "status $CODE"
done
for id in "$W105_PLAT" "$W105_PLAT2"; do
	w105 "$W105_ADMIN" DELETE "/api/v1/webhooks/$id?scope=platform"
	expect "the platform hook is deleted" 204
done
dbcheck "no webhook left" "SELECT count(*) FROM webhooks" 0
dbcheck "nor a delivery job" "SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND state = 'queued'" 0
# The cases after this one count the tenant's devices and users: none of ours is left.
w105 "$W105_SAVED_TOKEN" DELETE "/api/v1/devices/$W105_DEV"
expect "the device made here is deleted" 204
for u in w105-tadmin@example.com w105-cust@example.com; do
	_w_id=$(dbq "SELECT id FROM users WHERE email = '$u'")
	w105 "$W105_SAVED_TOKEN" DELETE "/api/v1/users/$_w_id"
	expect "the tenant user $u is deleted" 204
done
unset KAIDEN_WEBHOOKS_ALLOW_LOOPBACK
api_restart "kaiden-api restarts with webhooks.allow_loopback back at 0"
STACK_TOKEN=$W105_SAVED_TOKEN
