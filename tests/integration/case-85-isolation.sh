# shellcheck shell=sh
# Tenant isolation under the API: row-level security (sql/pg/0006_rls.sql) holds even if
# the application forgets its tenant. kaiden-api and helperd connect as the application's
# role (scripts/pg.sh, scripts/stack.sh), and direct SQL as that role with the wrong
# tenant set finds, changes and deletes none of another tenant's rows, and cannot write
# one; with no tenant it sees nothing; the staff switch sees everything; the audit log
# is append-only. The API works end to end as that role (this whole suite passing on
# PostgreSQL is the proof; a smoke test here). The cross-tenant API suite is case-88.
# SQLite has no roles and no row-level security: only the API part runs there.

# ---- the API, as the application's role ------------------------------------------------
t "isolation: create a device" POST /api/v1/devices '{"name":"iso-dev-a"}' 201
save ISO_DEV_A .id
t "isolation: create a session on it" POST /api/v1/sessions \
	"{\"device_id\":\"$ISO_DEV_A\",\"engineer_name\":\"Iso\"}" 201
save ISO_SES_A .id
t "isolation: read it back" GET "/api/v1/sessions/$ISO_SES_A" '' 200 ".device_id == \"$ISO_DEV_A\""
t "isolation: list devices" GET '/api/v1/devices?q=iso-dev' '' 200 \
	"[.items[].id] == [\"$ISO_DEV_A\"]"
t "isolation: change the session's notes" PATCH "/api/v1/sessions/$ISO_SES_A" \
	'{"notes":"isolated"}' 200 '.notes == "isolated"'
dbcheck "... and it was committed" "SELECT notes FROM sessions WHERE id = '$ISO_SES_A'" isolated

if [ "$SUITE_DB" = postgres ]; then

ISO_A=00000000-0000-0000-0000-000000000000
ISO_B=85858585-8585-4585-8585-858585858585
ISO_DEV_B=01908585-0000-7000-8000-0000000000b1
ISO_SES_B=01908585-0000-7000-8000-0000000000b2
ISO_TOK_B=01908585-0000-7000-8000-0000000000b3
ISO_JOB_B=01908585-0000-7000-8000-0000000000b4

# ---- who connects ------------------------------------------------------------------------
dbcheck "kaiden-api connects as the application's role" \
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'kaiden_api' AND datname = current_database()" t
dbcheck "... which is no superuser, has no BYPASSRLS, and is a member of kaiden_app" \
	"SELECT rolsuper::text || rolbypassrls::text || pg_has_role('kaiden_api', 'kaiden_app', 'MEMBER')::text FROM pg_roles WHERE rolname = 'kaiden_api'" \
	falsefalsetrue
dbcheck "nothing else is connected with row-level security off" \
	"SELECT count(*) FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND (r.rolsuper OR r.rolbypassrls)" 0
for _log in "$STACK_DIR/log/kaiden-api.log" "$STACK_DIR/log/kaiden-helperd.log"; do
	[ -f "$_log" ] || continue
	if grep -q 'row-level security is not in force' "$_log"; then
		bad "$(basename "$_log" .log) gives no row-level security warning" "$(grep -m1 'row-level security' "$_log")"
	else
		ok "$(basename "$_log" .log) gives no row-level security warning"
	fi
done

# ---- tenant B's rows, written as the owner -------------------------------------------
if dbq "INSERT INTO tenants (id, code, name) VALUES ('$ISO_B', 'iso-b', 'Isolation B');
	INSERT INTO devices (id, tenant_id, name, secret_hash) VALUES ('$ISO_DEV_B', '$ISO_B', 'iso-dev-b', 'x');
	INSERT INTO sessions (id, tenant_id, device_id, short_id, engineer_name) VALUES ('$ISO_SES_B', '$ISO_B', '$ISO_DEV_B', 'isob000001', 'B');
	INSERT INTO api_tokens (id, tenant_id, name, token_digest) VALUES ('$ISO_TOK_B', '$ISO_B', 'b', 'iso-b-digest');
	INSERT INTO jobs (id, tenant_id, kind, session_id, state) VALUES ('$ISO_JOB_B', '$ISO_B', 'iso.test', '$ISO_SES_B', 'done')" \
	>"$T/iso.out" 2>&1; then
	ok "tenant B's rows (as the owner)"
else
	bad "tenant B's rows (as the owner)" "$(head -c 300 "$T/iso.out")"
fi
# A user of each tenant, made as an operator would; their creation is in the audit log.
# A login of each: B's user logs in (multi mode: by tenant code), A's login row is
# written as the owner (A's customer may have no password here).
ISO_TABLES="devices sessions api_tokens jobs users logins audit_log"
printf '%s' 'iso-password-12345' >"$T/iso.pw"
for _x in default iso-b; do
	if "$STACK_BIN" user add --email "iso@$_x.test" --name "Iso $_x" --role customer \
		--tenant "$_x" --password-file "$T/iso.pw" >"$T/iso.out" 2>&1; then
		ok "kaiden-api user add: a customer of $_x"
	else
		bad "kaiden-api user add: a customer of $_x" "$(head -c 300 "$T/iso.out")"
	fi
done
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"iso@iso-b.test","password":"iso-password-12345","tenant_code":"iso-b"}'
expect "B's customer logs in" 200 '.token | type == "string"'
dbcheck "a login of A's customer (as the owner)" \
	"WITH l AS (INSERT INTO logins (id, tenant_id, user_id, expires_at)
	 SELECT '01908585-0000-7000-8000-0000000000a5', tenant_id, id, now() + interval '1 hour'
	 FROM users WHERE email = 'iso@default.test' RETURNING 1) SELECT count(*) FROM l" 1

# ---- direct SQL as the application's role -------------------------------------------
for _t in $ISO_TABLES; do
	_a=$(dbq "SELECT count(*) FROM $_t WHERE tenant_id = '$ISO_A'")
	_b=$(dbq "SELECT count(*) FROM $_t WHERE tenant_id = '$ISO_B'")
	_all=$(dbq "SELECT count(*) FROM $_t")
	# Rows of both, or the checks below prove nothing.
	if [ "${_a:-0}" -gt 0 ] && [ "${_b:-0}" -gt 0 ]; then
		ok "$_t: rows of both tenants to hide ($_a of A, $_b of B)"
	else
		bad "$_t: rows of both tenants to hide" "$_a of A, $_b of B"
	fi
	appcheck "$_t: tenant B set: none of A's rows" "$ISO_B" off \
		"SELECT count(*) FROM $_t WHERE tenant_id = '$ISO_A'" 0
	appcheck "$_t: tenant B set: B's rows only" "$ISO_B" off "SELECT count(*) FROM $_t" "$_b"
	appcheck "$_t: tenant A set: A's rows only" "$ISO_A" off "SELECT count(*) FROM $_t" "$_a"
	appcheck "$_t: no tenant set: no rows" "" off "SELECT count(*) FROM $_t" 0
	appcheck "$_t: staff on: every row" "" on "SELECT count(*) FROM $_t" "$_all"
done
appcheck "tenants: tenant B set: only B" "$ISO_B" off "SELECT string_agg(code, ',') FROM tenants" iso-b
appcheck "tenants: no tenant set: none" "" off "SELECT count(*) FROM tenants" 0

# Changes with the wrong tenant set touch nothing of A's; none of A's rows can be
# written or moved into B. (Counts, not time stamps: helperd may be at work on A's
# session meanwhile.)
iso_counts() {
	dbq "SELECT (SELECT count(*) FROM devices) || ' devices, ' || (SELECT count(*) FROM sessions) ||
	            ' sessions, ' || (SELECT count(*) FROM api_tokens) || ' tokens, ' ||
	            (SELECT count(*) FROM jobs) || ' jobs'" 2>&1
}
ISO_SNAP=$(iso_counts)
appcheck "tenant B set: UPDATE of A's device changes nothing" "$ISO_B" off \
	"WITH u AS (UPDATE devices SET name = 'taken' WHERE id = '$ISO_DEV_A' RETURNING 1) SELECT count(*) FROM u" 0
appcheck "tenant B set: UPDATE of every session changes only B's" "$ISO_B" off \
	"WITH u AS (UPDATE sessions SET notes = notes RETURNING tenant_id) SELECT string_agg(DISTINCT tenant_id::text, ',') FROM u" "$ISO_B"
appcheck "tenant B set: DELETE of A's session deletes nothing" "$ISO_B" off \
	"WITH d AS (DELETE FROM sessions WHERE id = '$ISO_SES_A' RETURNING 1) SELECT count(*) FROM d" 0
appcheck "tenant B set: DELETE of A's tokens deletes nothing" "$ISO_B" off \
	"WITH d AS (DELETE FROM api_tokens WHERE tenant_id = '$ISO_A' RETURNING 1) SELECT count(*) FROM d" 0
appcheck "tenant B set: DELETE of A's jobs deletes nothing" "$ISO_B" off \
	"WITH d AS (DELETE FROM jobs WHERE tenant_id = '$ISO_A' RETURNING 1) SELECT count(*) FROM d" 0
if _out=$(appq "$ISO_B" off "INSERT INTO devices (id, tenant_id, name, secret_hash) VALUES ('01908585-0000-7000-8000-0000000000f1', '$ISO_A', 'planted', 'x')" 2>&1); then
	bad "tenant B set: a device of A cannot be written" "the INSERT went through"
else
	case $_out in
	*row-level\ security*) ok "tenant B set: a device of A cannot be written" ;;
	*) bad "tenant B set: a device of A cannot be written" "failed otherwise: $_out" ;;
	esac
fi
if _out=$(appq "$ISO_B" off "UPDATE devices SET tenant_id = '$ISO_A' WHERE id = '$ISO_DEV_B'" 2>&1); then
	bad "tenant B set: B's device cannot be moved to A" "the UPDATE went through"
else
	case $_out in
	*row-level\ security*) ok "tenant B set: B's device cannot be moved to A" ;;
	*) bad "tenant B set: B's device cannot be moved to A" "failed otherwise: $_out" ;;
	esac
fi
if _out=$(appq "$ISO_B" off "ALTER TABLE devices NO FORCE ROW LEVEL SECURITY" 2>&1); then
	bad "the application's role cannot turn row-level security off" "ALTER TABLE went through"
else
	ok "the application's role cannot turn row-level security off"
fi
_now=$(iso_counts)
if [ "$_now" = "$ISO_SNAP" ]; then ok "... and no row of A (or B) went or came"; else bad "... and no row of A (or B) went or came" "before $ISO_SNAP, after $_now"; fi
dbcheck "... A's device keeps its name" "SELECT name FROM devices WHERE id = '$ISO_DEV_A'" iso-dev-a

# The audit log is append-only for the application, staff switch or not.
_n=$(dbq "SELECT count(*) FROM audit_log")
for _sql in "UPDATE audit_log SET id = id" "DELETE FROM audit_log" "TRUNCATE audit_log"; do
	if _out=$(appq "" on "$_sql" 2>&1); then
		bad "audit_log: $_sql is refused to the application" "it went through"
	else
		case $_out in
		*permission\ denied*) ok "audit_log: $_sql is refused to the application" ;;
		*) bad "audit_log: $_sql is refused to the application" "failed otherwise: $_out" ;;
		esac
	fi
done
dbcheck "audit_log: ... and no row went" "SELECT count(*) FROM audit_log" "$_n"

# The API is unaffected by B's rows: A's caller still sees only A.
t "isolation: A's list holds none of B's devices" GET '/api/v1/devices?q=iso-dev' '' 200 \
	"[.items[].id] == [\"$ISO_DEV_A\"]"
t "isolation: B's device is not found through A's token" GET "/api/v1/devices/$ISO_DEV_B" '' 404
t "isolation: B's session is not found through A's token" GET "/api/v1/sessions/$ISO_SES_B" '' 404

# ---- kaiden-api connected as the owner warns ----------------------------------------------
_sock=$STACK_RUN/iso-owner.sock
# Made first: the background process opens it only once it runs.
: >"$T/iso-owner.log"
KAIDEN_DATABASE_DSN=$KAIDEN_DATABASE_OWNER_DSN KAIDEN_SERVER_THREADS=1 KAIDEN_LOG_LEVEL=warn \
	"$STACK_BIN" serve --socket "$_sock" </dev/null >>"$T/iso-owner.log" 2>&1 &
_pid=$!
case_pids "$_pid"
_i=0
while [ "$_i" -lt 50 ] && ! grep -q 'row-level security is not in force' "$T/iso-owner.log"; do
	sleep 0.1
	_i=$((_i + 1))
done
if grep -q 'superuser: row-level security is not in force: connect as a non-owner role' "$T/iso-owner.log"; then
	ok "kaiden-api serve as the owner warns that row-level security is not in force"
else
	bad "kaiden-api serve as the owner warns that row-level security is not in force" \
		"$(head -c 300 "$T/iso-owner.log")"
fi
kill -TERM "$_pid" 2>/dev/null || :
wait "$_pid" 2>/dev/null || :
rm -f "$_sock"

# B's rows go again (later cases count devices and sessions).
dbq "DELETE FROM jobs WHERE tenant_id = '$ISO_B'; DELETE FROM sessions WHERE tenant_id = '$ISO_B';
	DELETE FROM devices WHERE tenant_id = '$ISO_B'; DELETE FROM api_tokens WHERE tenant_id = '$ISO_B'" \
	>/dev/null 2>&1 || :

fi
