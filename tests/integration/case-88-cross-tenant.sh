# shellcheck shell=sh
# The cross-tenant suite (issue 4): two tenants with data; every endpoint tried with
# the other tenant's ids and credentials answers 404 (or 403 where the role may not
# call it at all), and nothing of the other tenant changes. Multi mode only: the
# PostgreSQL pass (suite.sh runs it with server.mode multi); SQLite runs single mode,
# where one tenant exists (the store's own tenant checks are unit-tested on both).
# Row-level security under the API is case-85's.

if [ "$SUITE_DB" = postgres ]; then

XT_SAVED_TOKEN=$STACK_TOKEN

# as VAR: later calls use the credential in $VAR.
as() {
	eval "STACK_TOKEN=\$$1"
}

# hcall HEADER METHOD PATH [BODY]: call with one more header.
hcall() {
	_h=$1
	shift
	if [ $# -ge 3 ] && [ -n "$3" ]; then
		raw "$1" "$2" -H "Authorization: Bearer $STACK_TOKEN" -H "$_h" \
			-H 'Content-Type: application/json' --data-binary "$3"
	else
		raw "$1" "$2" -H "Authorization: Bearer $STACK_TOKEN" -H "$_h"
	fi
}

# login NAME EMAIL PASSWORD TENANT_CODE VAR: one test; VAR gets the token.
login() {
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
		"{\"email\":\"$2\",\"password\":\"$3\",\"tenant_code\":\"$4\"}"
	expect "$1" 200 '.token | type == "string"'
	save "$5" .token
}

# A platform admin, made the way an operator makes the first one.
printf '%s' 'xt-admin-password-1' >"$T/xt.pw"
if "$STACK_BIN" user add --email xt-admin@kaiden.test --name 'XT Admin' --role admin \
	--password-file "$T/xt.pw" >"$T/xt.out" 2>&1; then
	ok "kaiden-api user add makes a platform admin"
else
	bad "kaiden-api user add makes a platform admin" "$(head -c 300 "$T/xt.out")"
fi
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"xt-admin@kaiden.test","password":"xt-admin-password-1"}'
expect "the platform admin logs in" 200 '.token | type == "string"' '.tenant == null'
save XT_ADMIN .token
as XT_ADMIN

# Two tenants, each with a tenant admin, a customer, a device, an API token and (B) a
# session.
for x in a b; do
	t "create tenant $x" POST /api/v1/admin/tenants "{\"code\":\"xt$x\",\"name\":\"Tenant $x\"}" 201
	save "XT_T_$x" .id
	hcall "X-Kaiden-Tenant: xt$x" POST /api/v1/users \
		"{\"email\":\"admin@xt$x.test\",\"name\":\"Admin $x\",\"role\":\"tenant_admin\",\"password\":\"tenant-$x-password\"}"
	expect "the platform admin adds tenant $x's admin" 201 '.role == "tenant_admin"'
	save "XT_ADMIN_ID_$x" .id
	hcall "X-Kaiden-Tenant: xt$x" POST /api/v1/users \
		"{\"email\":\"cust@xt$x.test\",\"name\":\"Customer $x\",\"role\":\"customer\",\"password\":\"customer-$x-password\"}"
	expect "and a customer" 201 '.role == "customer"'
	save "XT_CUST_ID_$x" .id
	login "tenant $x's admin logs in with the tenant code" "admin@xt$x.test" "tenant-$x-password" "xt$x" "XT_TA_$x"
	login "tenant $x's customer logs in" "cust@xt$x.test" "customer-$x-password" "xt$x" "XT_TC_$x"
	as "XT_TA_$x"
	t "tenant $x's admin registers a device" POST /api/v1/devices "{\"name\":\"xt-$x-host\"}" 201
	save "XT_DEV_$x" .device_id
	t "tenant $x's admin makes an API token" POST /api/v1/auth/tokens "{\"name\":\"xt-$x\"}" 201 \
		'.token | startswith("kdn_")'
	save "XT_TOK_$x" .token
	save "XT_TOK_ID_$x" .id
	as XT_ADMIN
done
# shellcheck disable=SC2154 # set by save through eval
{
	hcall "X-Kaiden-Tenant: xtb" POST /api/v1/sessions \
		"{\"device_id\":\"$XT_DEV_b\",\"engineer_name\":\"XT\"}"
	expect "staff start a session in tenant B" 201
	save XT_SESS_b .id
	hcall "X-Kaiden-Tenant: xtb" POST /api/v1/tickets \
		"{\"title\":\"B's ticket\",\"device_id\":\"$XT_DEV_b\"}"
	expect "staff open a ticket in tenant B" 201
	save XT_TICKET_b .id
	hcall "X-Kaiden-Tenant: xtb" POST "/api/v1/tickets/$XT_TICKET_b/comments" '{"body":"B public"}'
	expect "... with a comment" 201
	save XT_COMMENT_b .id
	hcall "X-Kaiden-Tenant: xtb" POST "/api/v1/tickets/$XT_TICKET_b/comments" \
		'{"body":"B internal","internal":true}'
	expect "... and an internal note" 201
	save XT_NOTE_b .id
	hcall "X-Kaiden-Tenant: xtb" POST /api/v1/clusters '{"name":"xt-b-cluster"}'
	expect "staff enrol a cluster in tenant B" 201
	save XT_CL_b .id
	# B's device is a node of it (SQL: agents do not enrol nodes yet).
	dbq "UPDATE devices SET cluster_id = '$XT_CL_b', node_name = 'xt-b-node' WHERE id = '$XT_DEV_b'" >/dev/null
}
cli "a service token of tenant A" XT_SVC_a token create --tenant xta --name 'xt-a svc'
# Tenant B's webhook (a public literal address: no resolver needed, and nothing is sent
# to it: it hears only B's devices being registered, and B registers none below).
as XT_TA_b
t "tenant B's admin makes a webhook" POST /api/v1/webhooks \
	'{"url":"https://1.1.1.1/xt-b","events":["device.registered","ticket.created"]}' 201
save XT_HOOK_b .id

# Everything tenant B has, as a digest: nothing below may change it.
xt_b_digest() {
	dbq "SELECT md5(coalesce((SELECT string_agg(d::text, '|' ORDER BY id) FROM devices d WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(s::text, '|' ORDER BY id) FROM sessions s WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(u::text, '|' ORDER BY id) FROM users u WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(k::text, '|' ORDER BY id) FROM api_tokens k WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(k::text, '|' ORDER BY id) FROM tickets k WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(k::text, '|' ORDER BY id) FROM ticket_comments k WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(k::text, '|' ORDER BY id) FROM ticket_counters k WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(w::text, '|' ORDER BY id) FROM webhooks w WHERE tenant_id = '$XT_T_b'), '') ||
	                coalesce((SELECT string_agg(c::text, '|' ORDER BY id) FROM clusters c WHERE tenant_id = '$XT_T_b'), '') ||
	                (SELECT t::text FROM tenants t WHERE id = '$XT_T_b'))"
}
XT_B_BEFORE=$(xt_b_digest)

# Every route with an {id}, every one of tenant B's ids, with each of tenant A's
# credentials: 404 where the role may call the route, 403 where it may not; never 2xx.
"$STACK_BIN" routes >"$T/xt.routes"
# One list of requests for all four credentials (batch: one curl each for the lot).
# shellcheck disable=SC2154
: >"$T/xt.reqs"
while read -r _m _p; do
	case $_p in *'{id}'*) ;; *) continue ;; esac
	for _id in "$XT_DEV_b" "$XT_SESS_b" "$XT_ADMIN_ID_b" "$XT_CUST_ID_b" "$XT_TOK_ID_b" "$XT_T_b" \
		"$XT_TICKET_b" "$XT_COMMENT_b" "$XT_NOTE_b" "$XT_HOOK_b" "$XT_CL_b"; do
		_path=${_p%%'{id}'*}$_id${_p#*'{id}'}
		# A body each route takes (PATCH /sessions/{id} checks its body before the
		# id), so that only the id can refuse it.
		case $_m$_path in
		PATCH/api/v1/sessions/*) _b='{"notes":"hijacked"}' ;;
		PATCH/api/v1/clusters/* | PATCH/api/v1/services/*) _b='{"name":"hijacked"}' ;;
		POST/api/v1/services/*/rollback) _b='{"revision":1}' ;;
		PUT/api/v1/services/*/domain) _b='{"domain":"hijacked.example.com"}' ;;
		PATCH*) _b='{"name":"hijacked","notes":"hijacked","status":"suspended","description":"hijacked"}' ;;
		POST*) _b='{"body":"hijacked"}' ;;
		*) _b= ;;
		esac
		printf '%s\t%s\t%s\n' "$_m" "$_path" "$_b" >>"$T/xt.reqs"
	done
done <"$T/xt.routes"
_n=$(wc -l <"$T/xt.reqs")
for cred in XT_TA_a XT_TC_a XT_TOK_a XT_SVC_a; do
	as "$cred"
	batch "$T/xt.reqs" "$T/xt.codes"
	# 403 or 404 each. The services' domain routes answer 503 services_unavailable
	# before they look at the id (this stack sets no services.domain): the same for any id.
	_bad=$(awk -F '\t' '
		$1 == 403 || $1 == 404 { next }
		$1 == 503 && $3 ~ /^\/api\/v1\/services\/.*\/domain/ { next }
		{ printf " %s %s -> %s;", $2, $3, $1 }' "$T/xt.codes")
	_got=$(wc -l <"$T/xt.codes")
	[ "$_got" -eq "$_n" ] || _bad="$_bad $_got answers for $_n requests;"
	if [ "$_n" -gt 100 ] && [ -z "$_bad" ]; then
		ok "every {id} route refuses tenant B's ids with $cred ($_n requests)"
	else
		LAST=
		bad "every {id} route refuses tenant B's ids with $cred ($_n requests)" "$_bad"
	fi
done

# Staff acting in tenant A (a platform admin may reach B by naming it, not by its ids
# from A): every ticket route with each of B's ticket, comment and note ids.
as XT_ADMIN
_bad=
for _id in "$XT_TICKET_b" "$XT_COMMENT_b" "$XT_NOTE_b"; do
	_t=/api/v1/tickets/$_id
	hcall "X-Kaiden-Tenant: xta" GET "$_t"
	[ "$CODE" = 404 ] || _bad="$_bad GET $_t -> $CODE;"
	hcall "X-Kaiden-Tenant: xta" PATCH "$_t" '{"status":"closed","title":"hijacked"}'
	[ "$CODE" = 404 ] || _bad="$_bad PATCH $_t -> $CODE;"
	hcall "X-Kaiden-Tenant: xta" GET "$_t/comments"
	[ "$CODE" = 404 ] || _bad="$_bad GET $_t/comments -> $CODE;"
	hcall "X-Kaiden-Tenant: xta" POST "$_t/comments" '{"body":"hijacked","internal":true}'
	[ "$CODE" = 404 ] || _bad="$_bad POST $_t/comments -> $CODE;"
done
if [ -z "$_bad" ]; then
	ok "staff acting in A get 404 for every ticket route with B's ids"
else
	bad "staff acting in A get 404 for every ticket route with B's ids" "$_bad"
fi
hcall "X-Kaiden-Tenant: xta" POST /api/v1/tickets "{\"title\":\"x\",\"device_id\":\"$XT_DEV_b\"}"
expect "staff acting in A cannot open a ticket on B's device" 422 "$(E invalid_reference device_id)"
hcall "X-Kaiden-Tenant: xta" GET "/api/v1/tickets?device_id=$XT_DEV_b"
expect "nor list B's tickets by B's device" 200 '.items == []'

# The same with the role that may do the most in tenant A, one by one, for the message.
as XT_TA_a
t "A's admin cannot see B's device" GET "/api/v1/devices/$XT_DEV_b" "" 404 "$(E not_found)"
t "nor delete it" DELETE "/api/v1/devices/$XT_DEV_b" "" 404 "$(E not_found)"
t "nor rotate its secret" POST "/api/v1/devices/$XT_DEV_b/rotate-secret" "" 404 "$(E not_found)"
t "nor see B's session" GET "/api/v1/sessions/$XT_SESS_b" "" 404 "$(E not_found)"
t "nor see B's users" GET "/api/v1/users/$XT_CUST_ID_b" "" 404 "$(E not_found)"
t "nor change them" PATCH "/api/v1/users/$XT_CUST_ID_b" '{"name":"hijacked"}' 404 "$(E not_found)"
t "nor delete them" DELETE "/api/v1/users/$XT_CUST_ID_b" "" 404 "$(E not_found)"
t "nor revoke B's token" DELETE "/api/v1/auth/tokens/$XT_TOK_ID_b" "" 404 "$(E not_found)"
t "nor see B's webhook" GET "/api/v1/webhooks/$XT_HOOK_b" "" 404 "$(E not_found)"
t "nor its delivery log" GET "/api/v1/webhooks/$XT_HOOK_b/deliveries" "" 404 "$(E not_found)"
t "nor rotate its secret" POST "/api/v1/webhooks/$XT_HOOK_b/rotate" "" 404 "$(E not_found)"
t "nor point it elsewhere" PATCH "/api/v1/webhooks/$XT_HOOK_b" '{"url":"https://1.1.1.1/a"}' 404 "$(E not_found)"
t "nor delete it" DELETE "/api/v1/webhooks/$XT_HOOK_b" "" 404 "$(E not_found)"
t "A's webhook list is empty" GET /api/v1/webhooks "" 200 '.items == []'
t "nor see B's cluster" GET "/api/v1/clusters/$XT_CL_b" "" 404 "$(E not_found)"
t "nor its nodes" GET "/api/v1/clusters/$XT_CL_b/nodes" "" 404 "$(E not_found)"
t "nor list them as devices" GET "/api/v1/devices?cluster_id=$XT_CL_b" "" 200 '.items == []'
t "nor rename it" PATCH "/api/v1/clusters/$XT_CL_b" '{"name":"hijacked"}' 404 "$(E not_found)"
t "nor rotate its secret" POST "/api/v1/clusters/$XT_CL_b/rotate-secret" "" 404 "$(E not_found)"
t "nor delete it" DELETE "/api/v1/clusters/$XT_CL_b" "" 404 "$(E not_found)"
t "nor open a ticket on it" POST /api/v1/tickets "{\"title\":\"x\",\"cluster_id\":\"$XT_CL_b\"}" 422 \
	"$(E invalid_reference cluster_id)"
t "A's cluster list is empty" GET /api/v1/clusters "" 200 '.items == []'
t "A may take B's cluster's name" POST /api/v1/clusters '{"name":"xt-b-cluster"}' 201
as XT_ADMIN
hcall "X-Kaiden-Tenant: xta" POST /api/v1/sessions \
	"{\"cluster_id\":\"$XT_CL_b\",\"node_name\":\"xt-b-node\",\"engineer_name\":\"XT\"}"
expect "staff acting in A cannot start a session on B's node" 404 "$(E node_not_found cluster_id)"
hcall "X-Kaiden-Tenant: xta" POST /api/v1/sessions "{\"device_id\":\"$XT_DEV_b\",\"engineer_name\":\"XT\"}"
expect "staff acting in A cannot start a session on B's device" 422 "$(E invalid_reference device_id)"
as XT_TA_a
t "A's lists hold only A's devices" GET /api/v1/devices "" 200 \
	"[.items[].id] == [\"$XT_DEV_a\"]"
t "A's session list is empty" GET /api/v1/sessions "" 200 '.items == []'
t "A's ticket list is empty" GET /api/v1/tickets "" 200 '.items == []'
t "nor does a search find B's" GET "/api/v1/tickets?q=B%27s" "" 200 '.items == []'
t "A's admin cannot see B's ticket" GET "/api/v1/tickets/$XT_TICKET_b" "" 404 "$(E not_found)"
t "nor its comments" GET "/api/v1/tickets/$XT_TICKET_b/comments" "" 404 "$(E not_found)"
t "nor comment on it" POST "/api/v1/tickets/$XT_TICKET_b/comments" '{"body":"hi"}' 404 "$(E not_found)"
t "nor close it" PATCH "/api/v1/tickets/$XT_TICKET_b" '{"status":"closed"}' 404 "$(E not_found)"
t "nor open one on B's device" POST /api/v1/tickets "{\"title\":\"x\",\"device_id\":\"$XT_DEV_b\"}" 422 \
	"$(E invalid_reference device_id)"
t "A's user list holds only A's users" GET /api/v1/users "" 200 \
	"[.items[].id] | sort == ([\"$XT_ADMIN_ID_a\", \"$XT_CUST_ID_a\"] | sort)"
t "A's audit log holds nothing of B" GET "/api/v1/audit?limit=200" "" 200 \
	"[.items[] | select(.tenant_id != \"$XT_T_a\")] == []"
t "A's tenant is A" GET /api/v1/tenant "" 200 ".id == \"$XT_T_a\""
hcall "X-Kaiden-Tenant: xtb" GET /api/v1/devices
expect "naming tenant B in X-Kaiden-Tenant does not switch A's admin" 403 "$(E wrong_tenant)"
raw GET /api/v1/devices -H "Authorization: Bearer $XT_TA_a" -H "Host: xtb.kaiden.test"
expect "nor does B's subdomain" 403 "$(E wrong_tenant)"
t "A's admin cannot reach the tenant admin API" GET "/api/v1/admin/tenants/$XT_T_b" "" 403 "$(E forbidden)"
t "A's export holds only A" POST /api/v1/tenant/export "" 200 ".tenant.id == \"$XT_T_a\"" \
	"[.. | strings | select(. == \"$XT_DEV_b\" or . == \"$XT_T_b\" or . == \"$XT_CUST_ID_b\" or . == \"$XT_TICKET_b\" or . == \"$XT_CL_b\")] == []"
as XT_TC_a
t "A's customer cannot start sessions, even in A" POST /api/v1/sessions \
	"{\"device_id\":\"$XT_DEV_a\",\"engineer_name\":\"XT\"}" 403 "$(E forbidden)"
t "nor rotate a device's secret, even in A" POST "/api/v1/devices/$XT_DEV_a/rotate-secret" "" \
	403 "$(E forbidden)"
as XT_TA_a
t "A registers a device" POST /api/v1/devices '{"name":"xt-a-second"}' 201
dbcheck "A's event never reaches B's webhook" \
	"SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$XT_HOOK_b'" 0

XT_B_AFTER=$(xt_b_digest)
if [ -n "$XT_B_BEFORE" ] && [ "$XT_B_BEFORE" = "$XT_B_AFTER" ]; then
	ok "nothing of tenant B changed"
else
	bad "nothing of tenant B changed" "digest $XT_B_BEFORE -> $XT_B_AFTER"
fi

# And B still works for B.
as XT_TA_b
t "B's admin still sees B's device" GET "/api/v1/devices/$XT_DEV_b" "" 200 ".id == \"$XT_DEV_b\""
t "and B's session" GET "/api/v1/sessions/$XT_SESS_b" "" 200 ".id == \"$XT_SESS_b\""
t "and B's ticket" GET "/api/v1/tickets/$XT_TICKET_b" "" 200 ".id == \"$XT_TICKET_b\"" \
	'.status == "open"' ".title == \"B's ticket\""
t "and its public comment, not the internal note" GET "/api/v1/tickets/$XT_TICKET_b/comments" "" 200 \
	"[.items[].id] == [\"$XT_COMMENT_b\"]"
t "but not A's device" GET "/api/v1/devices/$XT_DEV_a" "" 404 "$(E not_found)"
t "and B's cluster, with its node" GET "/api/v1/clusters/$XT_CL_b" "" 200 '.node_count == 1' \
	'.name == "xt-b-cluster"'
t "B's device is its node: B's admin may not rotate its secret either" \
	POST "/api/v1/devices/$XT_DEV_b/rotate-secret" "" 409 "$(E cluster_node)" \
	".error.message | contains(\"$XT_CL_b\")"

as XT_TA_b
t "B's admin deletes B's webhook" DELETE "/api/v1/webhooks/$XT_HOOK_b" "" 204
as XT_ADMIN
hcall "X-Kaiden-Tenant: xtb" DELETE "/api/v1/sessions/$XT_SESS_b"
STACK_TOKEN=$XT_SAVED_TOKEN
fi
