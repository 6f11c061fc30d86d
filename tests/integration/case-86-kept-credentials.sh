# shellcheck shell=sh
# Kept credentials (issue 14, fcgi-app/auth_cache.h). A kaiden-api worker keeps a
# credential it verified for up to a second; on PostgreSQL it forgets it on the NOTIFY
# that every revocation sends (sql/pg/0019_auth_notify.sql). Whatever a worker keeps, the first
# request after a revocation's reply is refused, and so are the ones after it: logout,
# an API token deleted, a token revoked by SQL behind the API's back, a user disabled, a
# tenant suspended (multi mode). Each is held to a state, not a time: first a request is
# seen served from a kept credential (the access log's auth=kept, found by the request's
# own X-Request-Id), then the revocation, then the requests. SQLite has no NOTIFY: there a
# worker forgets what it keeps on any commit (PRAGMA data_version), and the same holds.
# Through PgBouncer in transaction mode (the pgbouncer suite: database.pooler=transaction)
# a LISTEN hears nothing, so no worker keeps a credential: there each warm-up instead
# holds that nine reads (every worker, twice) were served and none from a kept
# credential, and the revocations are refused all the same.

K86_N=0
K86_LOG=$STACK_DIR/log/kaiden-api.log
printf '%s' 'k86-password-123' >"$T/k86.pw"
# The access log (info) says which requests were answered from a kept credential.
export KAIDEN_LOG_LEVEL=info
api_restart "kaiden-api restarts logging each request"

# k86_get TOKEN PATH: GET with a request id of its own (K86_RID).
k86_get() {
	K86_N=$((K86_N + 1))
	K86_RID=k86-$$-$K86_N
	raw GET "$2" -H "Authorization: Bearer $1" -H "X-Request-Id: $K86_RID"
}

k86_kept() {
	grep -q "req=$K86_RID .*auth=kept" "$K86_LOG"
}

# k86_warm NAME TOKEN PATH: GETs, each 200, until one was answered from a kept credential
# (at most 40: four workers, a second each).
k86_warm() {
	if [ -n "${STACK_PGBOUNCER:-}" ]; then
		k86_none_kept "$@"
		return 0
	fi
	_k86_i=0
	while [ "$_k86_i" -lt 40 ]; do
		k86_get "$2" "$3"
		if [ "$CODE" != 200 ]; then
			bad "$1" "status $CODE: $(head -c 200 "$T/body")"
			return 0
		fi
		if k86_kept; then
			ok "$1"
			return 0
		fi
		_k86_i=$((_k86_i + 1))
	done
	bad "$1" "40 requests and none answered from a kept credential"
}

# k86_none_kept NAME TOKEN PATH: nine GETs, each 200, whose access log lines (waited
# for: a line is written once its reply has gone) say none was answered from a kept
# credential.
k86_none_kept() {
	_k86_from=$((K86_N + 1))
	_k86_i=0
	while [ "$_k86_i" -lt 9 ]; do
		k86_get "$2" "$3"
		if [ "$CODE" != 200 ]; then
			bad "$1" "status $CODE: $(head -c 200 "$T/body")"
			return 0
		fi
		_k86_i=$((_k86_i + 1))
	done
	_k86_re="req=k86-$$-($(seq -s '|' "$_k86_from" "$K86_N")) "
	_k86_i=0
	while [ "$(grep -cE "$_k86_re" "$K86_LOG")" -lt 9 ] && [ "$_k86_i" -lt 100 ]; do
		sleep 0.1
		_k86_i=$((_k86_i + 1))
	done
	if [ "$(grep -cE "$_k86_re" "$K86_LOG")" -lt 9 ]; then
		bad "$1" "the access log has $(grep -cE "$_k86_re" "$K86_LOG") of the 9 requests' lines"
	elif grep -E "$_k86_re" "$K86_LOG" | grep -q 'auth=kept'; then
		bad "$1" "through PgBouncer a request was answered from a kept credential"
	else
		ok "$1: through PgBouncer none is kept, each read checks its credential"
	fi
}

# k86_refused NAME TOKEN PATH STATUS CODE: the very next request and eight after it (every
# worker, whatever it keeps) are refused with STATUS and error CODE.
k86_refused() {
	_k86_i=0
	_k86_why=
	while [ "$_k86_i" -lt 9 ]; do
		k86_get "$2" "$3"
		if [ "$CODE" != "$4" ] || ! jq -e "$(E "$5")" "$T/body" >/dev/null 2>&1; then
			_k86_why="request $((_k86_i + 1)) after it: status $CODE $(head -c 200 "$T/body")"
			break
		fi
		_k86_i=$((_k86_i + 1))
	done
	if [ -z "$_k86_why" ]; then ok "$1"; else bad "$1" "$_k86_why"; fi
}

# k86_login EMAIL [TENANT_CODE]: a login token in K86_TOKEN ("" when it failed).
k86_login() {
	_k86_body=$(jq -cn --arg e "$1" --arg t "${2:-}" \
		'{email: $e, password: "k86-password-123"} + (if $t == "" then {} else {tenant_code: $t} end)')
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary "$_k86_body"
	K86_TOKEN=$(jq -r '.token // ""' "$T/body" 2>/dev/null) || K86_TOKEN=
}

cli "a staff admin" K86_OUT user add --email k86-admin@example.com --name 'K86 Admin' \
	--role admin --password-file "$T/k86.pw"
cli "a second staff admin" K86_OUT user add --email k86-other@example.com --name 'K86 Other' \
	--role admin --password-file "$T/k86.pw"
K86_OTHER_ID=$(printf '%s' "$K86_OUT" | jq -r .id 2>/dev/null)

# ---- logout ---------------------------------------------------------------------------
k86_login k86-admin@example.com
K86_L1=$K86_TOKEN
expect "the admin logs in" 200 '.token | type == "string"'
k86_warm "a read is answered from the kept login" "$K86_L1" /api/v1/auth/me
raw POST /api/v1/auth/logout -H "Authorization: Bearer $K86_L1"
expect "logout" 204
k86_refused "logout: the next read with that login is 401, and every one after" \
	"$K86_L1" /api/v1/auth/me 401 unauthorized

# ---- an API token deleted through the API ----------------------------------------------
k86_login k86-admin@example.com
K86_L2=$K86_TOKEN
raw POST /api/v1/auth/tokens -H "Authorization: Bearer $K86_L2" \
	-H 'Content-Type: application/json' --data-binary '{"name":"k86 a"}'
expect "an API token" 201 '.token | startswith("kdn_")'
save K86_T1 .token
save K86_T1_ID .id
k86_warm "a read is answered from the kept token" "$K86_T1" /api/v1/auth/me
raw DELETE "/api/v1/auth/tokens/$K86_T1_ID" -H "Authorization: Bearer $K86_L2"
expect "the token is deleted" 204
k86_refused "token deleted: the next read with it is 401, and every one after" \
	"$K86_T1" /api/v1/auth/me 401 unauthorized

# ---- a token revoked by SQL, behind the API's back ----------------------------------------
raw POST /api/v1/auth/tokens -H "Authorization: Bearer $K86_L2" \
	-H 'Content-Type: application/json' --data-binary '{"name":"k86 b"}'
expect "another API token" 201
save K86_T2 .token
save K86_T2_ID .id
k86_warm "a read is answered from the kept token" "$K86_T2" /api/v1/auth/me
if [ "$SUITE_DB" = postgres ]; then
	dbcheck "revoked by SQL as the owner" \
		"WITH r AS (UPDATE api_tokens SET revoked_at = now() WHERE id = '$K86_T2_ID' RETURNING 1) SELECT count(*) FROM r" 1
else
	dbcheck "revoked by SQL (the sqlite3 shell)" \
		"UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00.000Z' WHERE id = '$K86_T2_ID'; SELECT changes()" 1
fi
k86_refused "revoked by SQL: the next read with it is 401, and every one after" \
	"$K86_T2" /api/v1/auth/me 401 unauthorized
k86_warm "another credential is kept again afterwards" "$K86_L2" /api/v1/auth/me

# ---- a user disabled --------------------------------------------------------------------
k86_login k86-other@example.com
K86_L3=$K86_TOKEN
k86_warm "a read is answered from the other admin's kept login" "$K86_L3" /api/v1/auth/me
raw PATCH "/api/v1/users/$K86_OTHER_ID?scope=platform" -H "Authorization: Bearer $K86_L2" \
	-H 'Content-Type: application/json' --data-binary '{"status":"disabled"}'
expect "the other admin is disabled" 200 '.status == "disabled"'
k86_refused "user disabled: the next read with their login is 401, and every one after" \
	"$K86_L3" /api/v1/auth/me 401 unauthorized

# ---- a tenant suspended (multi mode) -------------------------------------------------------
if [ "$SUITE_DB" = postgres ]; then
raw POST /api/v1/admin/tenants -H "Authorization: Bearer $K86_L2" \
	-H 'Content-Type: application/json' --data-binary '{"code":"k86","name":"K86"}'
expect "a tenant" 201
save K86_TENANT_ID .id
cli "its service token" K86_SVC token create --tenant k86 --name 'k86 svc'
k86_warm "a read is answered from the tenant's kept service token" "$K86_SVC" /api/v1/devices
raw PATCH "/api/v1/admin/tenants/$K86_TENANT_ID" -H "Authorization: Bearer $K86_L2" \
	-H 'Content-Type: application/json' --data-binary '{"status":"suspended"}'
expect "the tenant is suspended" 200 '.status == "suspended"'
k86_refused "tenant suspended: the next read with its token is 403, and every one after" \
	"$K86_SVC" /api/v1/devices 403 tenant_suspended
fi

export KAIDEN_LOG_LEVEL=warn
api_restart "kaiden-api restarts logging warnings only"
