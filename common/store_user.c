/* store_user.c: roles, users (platform staff and tenant users), and the password check
 * at login.
 *
 * Scoping: a tenant_id given to a user function narrows every statement to that tenant;
 * NULL (staff callers) reaches any user. A user's tenant never changes (no patch field
 * for it), so the tenant copied into their logins and tokens stays right.
 *
 * Emails are lower-cased by SQL lower() wherever one enters a statement, so stored and
 * looked-up addresses fold the same way on each backend.
 *
 * Staff emails are reserved: a tenant user may not have a staff member's email, nor a
 * staff member a tenant user's (two tenants' users may share one). Otherwise a tenant
 * admin could make a user that a staff login naming that tenant would meet; the login
 * also matches staff first, for rows older than the rule or imported. */
#include "store_auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_auth_row.h"
#include "store_row.h"

#define USER_COLS                                                                      \
	"id, tenant_id, email, name, role, status, created_at, updated_at, last_login_at"

static const struct store_col user_cols[] = {
	{ "id", STORE_COL_TEXT },         { "tenant_id", STORE_COL_TEXT },
	{ "email", STORE_COL_TEXT },      { "name", STORE_COL_TEXT },
	{ "role", STORE_COL_TEXT },       { "status", STORE_COL_TEXT },
	{ "created_at", STORE_COL_TEXT }, { "updated_at", STORE_COL_TEXT },
	{ "last_login_at", STORE_COL_TEXT },
};
#define USER_NCOLS ((int)ARRAY_LEN(user_cols))

/* The login check's candidate, staff first; the body of kaiden_auth_user in
 * sql/pg/0007_login_throttle.sql (the six identity columns of store_auth_row.h, then
 * password_hash). */
#define AUTH_USER_SQL                                                                     \
	"SELECT u.id AS user_id, u.tenant_id, u.email, u.role, u.status AS user_status, "  \
	"t.status AS tenant_status, u.password_hash "                                       \
	"FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id "                           \
	"WHERE u.email = lower($1) AND (u.tenant_id = $2 OR u.tenant_id IS NULL) "          \
	"AND u.status = 'active' ORDER BY u.tenant_id IS NOT NULL LIMIT 1"
#define AUTH_USER_COL_PASSWORD_HASH AUTH_COL__MAX

/* ---- roles ------------------------------------------------------------------------ */

static const struct {
	enum role role;
	const char *name;
} role_names[] = {
	{ ROLE_ADMIN, "admin" },
	{ ROLE_ENGINEER, "engineer" },
	{ ROLE_TENANT_ADMIN, "tenant_admin" },
	{ ROLE_CUSTOMER, "customer" },
	{ ROLE_SERVICE, "service" },
};

enum role role_parse(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_LEN(role_names); i++)
		if (role_names[i].role != ROLE_SERVICE && strcmp(role_names[i].name, name) == 0)
			return role_names[i].role;
	return ROLE_NONE;
}

/* NULL for ROLE_NONE and for anything that is not exactly one role. */
const char *role_name(enum role r)
{
	for (size_t i = 0; i < ARRAY_LEN(role_names); i++)
		if (role_names[i].role == r)
			return role_names[i].name;
	return NULL;
}

/* The name of a role a user may have (not service), else NULL. */
static const char *user_role_name(enum role r)
{
	return r == ROLE_SERVICE ? NULL : role_name(r);
}

/* Staff have no tenant; tenant admins and customers have one. */
static int role_fits(enum role r, int has_tenant)
{
	return ((r & ROLE_STAFF) != 0) == !has_tenant;
}

/* ---- users ------------------------------------------------------------------------ */

/* The longest address SMTP carries (RFC 5321); users.email checks the same. */
#define EMAIL_MAX 254

static int email_fits(const char *email)
{
	return email && *email && strlen(email) <= EMAIL_MAX;
}

/* STORE_CONFLICT when the query returns a row, else STORE_OK (or the failure). */
static int conflict_if_any(struct db *db, const char *sql, int n, const char *const *params)
{
	struct db_res *res = NULL;
	int rc = db_exec(db, sql, n, params, &res);

	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_res_rows(res) > 0 ? STORE_CONFLICT : STORE_OK;
	db_res_free(res);
	return rc;
}

/* pg_advisory_xact_lock's first key for an email being taken (the second is the
 * email's hash): a staff and a tenant user with one email, made at once, check and
 * insert one after the other. (QUOTA_LOCK_CLASS in store_tenant.c is another.) */
#define EMAIL_LOCK_CLASS "48123503"

int store_user_email_unreserved(struct db *db, const char *email, int staff)
{
	const char *params[2] = { email, staff ? "true" : "false" };
	int rc = DB_OK;

	if (db_kind(db) == DB_POSTGRES)
		rc = db_exec(db, "SELECT pg_advisory_xact_lock(" EMAIL_LOCK_CLASS ", "
		                 "hashtext(lower($1)))",
		             1, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return conflict_if_any(db,
	                       db_kind(db) == DB_POSTGRES
	                           ? "SELECT 1 WHERE kaiden_email_reserved($1, $2)"
	                           : "SELECT 1 FROM users WHERE email = lower($1) "
	                             "AND (tenant_id IS NULL) <> ($2 = 'true')",
	                       2, params);
}

static int tenant_exists(struct db *db, const char *tenant)
{
	const char *params[1] = { tenant };
	struct db_res *res = NULL;
	int rc = db_exec(db, "SELECT id FROM tenants WHERE id = $1", 1, params, &res);

	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_res_rows(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
	db_res_free(res);
	return rc;
}

/* Runs a statement that returns USER_COLS: the user's JSON into *out, or empty_rc when
 * it returned no row and constraint_rc when it broke a key or a check. */
static int user_returning(struct db *db, const char *sql, int n, const char *const *params,
                          int empty_rc, int constraint_rc, json_object **out)
{
	struct db_res *res = NULL;
	int rc = db_exec(db, sql, n, params, &res);

	if (rc != DB_OK)
		rc = rc == DB_CONSTRAINT ? constraint_rc : store_rc_of(rc);
	else if (db_res_rows(res) == 0)
		rc = empty_rc;
	else
		rc = store_row_json(res, 0, user_cols, USER_NCOLS, out);
	db_res_free(res);
	return rc;
}

int store_user_create(struct db *db, const struct store_user_new *u, json_object **out)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN], hash[SECRET_HASH_LEN];
	const char *role = u ? user_role_name(u->role) : NULL;
	json_object *obj = NULL;
	int rc;

	if (!u || !email_fits(u->email) || !u->name || !role) {
		log_error("user create without an email (1 to %d bytes), a name or a user role",
		          EMAIL_MAX);
		return STORE_ERR;
	}
	if (u->tenant_id && store_id(u->tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (!role_fits(u->role, u->tenant_id != NULL))
		return STORE_CONFLICT;
	if (u->tenant_id) {
		rc = tenant_exists(db, tenant);
		if (rc != STORE_OK)
			return rc;
	}
	if (u->password && secret_hash(u->password, hash) != 0) {
		log_error("user create: cannot hash the password (out of memory)");
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = store_user_email_unreserved(db, u->email, u->tenant_id == NULL);
	if (rc == STORE_OK) {
		const char *params[7] = { id,   u->tenant_id ? tenant : NULL, u->email,
		                          u->name, role, u->password ? hash : NULL, now };
		/* A taken email is the only uniqueness a fresh id can meet: DO NOTHING turns it
		 * into an empty result instead of a failed statement (which would end a
		 * PostgreSQL transaction the caller may have open). The only key left to break
		 * is the tenant's: deleted meanwhile. */
		rc = user_returning(db,
		                    "INSERT INTO users (id, tenant_id, email, name, role, "
		                    "password_hash, created_at, updated_at) "
		                    "VALUES ($1, $2, lower($3), $4, $5, $6, $7, $7) "
		                    "ON CONFLICT DO NOTHING RETURNING " USER_COLS,
		                    7, params, STORE_CONFLICT, STORE_NOT_FOUND, &obj);
	}
	if (rc == STORE_OK) {
		rc = db_commit(db);
		rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
	}
	if (rc != STORE_OK) {
		json_object_put(obj);
		db_rollback(db);
		return rc;
	}
	*out = obj;
	return STORE_OK;
}

int store_user_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], user[UUID_STR_LEN];
	const char *params[2] = { user };
	struct buf sql;
	int n = 1, rc = STORE_ERR;

	if (store_id(id, user) != 0 || (tenant_id && store_id(tenant_id, tenant) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 512);
	if (buf_puts(&sql, "SELECT " USER_COLS " FROM users WHERE id = $1") == 0 &&
	    (!tenant_id || store_sql_and(&sql, "tenant_id = $?", params, &n, tenant) == 0))
		rc = store_row_one(db, sql.data, n, params, user_cols, USER_NCOLS, out);
	buf_clear(&sql);
	return rc;
}

/* The columns kaiden_staff_user returns (sql/pg/0011_tickets.sql). */
static const struct store_col staff_cols[] = {
	{ "id", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },
	{ "role", STORE_COL_TEXT },
	{ "status", STORE_COL_TEXT },
};

int store_user_staff_get(struct db *db, const char *id, json_object **out)
{
	char user[UUID_STR_LEN];
	const char *params[1] = { user };

	if (store_id(id, user) != 0)
		return STORE_NOT_FOUND;
	return store_row_one(db,
	                     db_kind(db) == DB_POSTGRES
	                             ? "SELECT id, name, role, status FROM kaiden_staff_user($1)"
	                             : "SELECT id, name, role, status FROM users WHERE id = $1 "
	                               "AND tenant_id IS NULL",
	                     1, params, staff_cols, (int)ARRAY_LEN(staff_cols), out);
}

int store_user_list(struct db *db, const char *tenant_id, int staff_only, const char *role,
                    const char *q, const struct store_page *page, struct store_list *out)
{
	char tenant[UUID_STR_LEN], cursor[UUID_STR_LEN];
	const char *params[6];
	struct buf sql;
	char *pattern = NULL;
	int nparams = 0, limit = store_page_limit(page), rc = STORE_ERR;

	buf_init(&sql, 1024);
	if ((tenant_id && store_id(tenant_id, tenant) != 0) ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0)) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (tenant_id)
		params[nparams++] = tenant;
	if (buf_puts(&sql, "SELECT " USER_COLS " FROM users WHERE ") != 0 ||
	    buf_puts(&sql, tenant_id ? "tenant_id = $1"
	                   : staff_only ? "tenant_id IS NULL" : "id IS NOT NULL") != 0)
		goto out;
	if (role && store_sql_and(&sql, "role = $?", params, &nparams, role) != 0)
		goto out;
	if (q && store_sql_search(&sql, params, &nparams, "email", "name", q, &pattern) != 0)
		goto out;
	rc = store_list_run(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
	                    limit, user_cols, USER_NCOLS, out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* Opens the transaction of a change to user and finds them in the scope (tenant NULL:
 * any): STORE_OK with *has_tenant telling whether they belong to a tenant. On any other
 * answer the caller rolls back. */
static int user_begin(struct db *db, const char *tenant, const char *user, int *has_tenant)
{
	const char *params[2] = { user };
	struct db_res *res = NULL;
	struct buf sql;
	int n = 1, rc = db_begin(db);

	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = STORE_ERR;
	buf_init(&sql, 256);
	if (buf_puts(&sql, "SELECT tenant_id FROM users WHERE id = $1") != 0 ||
	    (tenant && store_sql_and(&sql, "tenant_id = $?", params, &n, tenant) != 0))
		goto out;
	rc = db_exec(db, sql.data, n, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) == 0)
		goto out;
	*has_tenant = db_res_get(res, 0, 0) != NULL;
	rc = STORE_OK;
out:
	db_res_free(res);
	buf_clear(&sql);
	return rc;
}

/* Inside the caller's transaction: STORE_CONFLICT when another user with email exists
 * where user is (the same tenant, or among staff). */
static int email_free(struct db *db, const char *user, const char *email)
{
	const char *params[2] = { user, email };

	return conflict_if_any(db,
	                       "SELECT o.id FROM users o, users me WHERE me.id = $1 "
	                       "AND o.email = lower($2) AND o.id <> me.id "
	                       "AND (o.tenant_id = me.tenant_id "
	                       "OR (o.tenant_id IS NULL AND me.tenant_id IS NULL))",
	                       2, params);
}

/* Revokes the user's logins, and with tokens_too their API tokens, as of now. */
static int revoke_credentials(struct db *db, const char *user, const char *now, int tokens_too)
{
	const char *params[2] = { user, now };
	int rc = db_exec(db,
	                 "UPDATE logins SET revoked_at = $2 "
	                 "WHERE user_id = $1 AND revoked_at IS NULL",
	                 2, params, NULL);

	if (rc == DB_OK && tokens_too)
		rc = db_exec(db,
		             "UPDATE api_tokens SET revoked_at = $2 "
		             "WHERE user_id = $1 AND revoked_at IS NULL",
		             2, params, NULL);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_user_update(struct db *db, const char *tenant_id, const char *id,
                      const struct store_user_patch *p, json_object **out)
{
	char tenant[UUID_STR_LEN], user[UUID_STR_LEN], now[TIMESTAMP_LEN], hash[SECRET_HASH_LEN];
	const char *role = p && p->role != ROLE_NONE ? user_role_name(p->role) : NULL;
	const char *params[8];
	json_object *obj = NULL;
	struct buf sql;
	int n = 7, has_tenant = 0, disable, rc;

	if (store_id(id, user) != 0 || (tenant_id && store_id(tenant_id, tenant) != 0))
		return STORE_NOT_FOUND;
	if (!p || (p->role != ROLE_NONE && !role) || (p->email && !email_fits(p->email)) ||
	    (p->status && strcmp(p->status, "active") != 0 && strcmp(p->status, "disabled") != 0)) {
		log_error("user=%s update with an unknown role or status, or an email that is "
		          "empty or too long", user);
		return STORE_ERR;
	}
	if (p->password && secret_hash(p->password, hash) != 0) {
		log_error("user=%s update: cannot hash the password (out of memory)", user);
		return STORE_ERR;
	}
	disable = p->status && strcmp(p->status, "disabled") == 0;
	store_time(0, now);
	buf_init(&sql, 1024);
	rc = user_begin(db, tenant_id ? tenant : NULL, user, &has_tenant);
	if (rc != STORE_OK)
		goto out;
	if (role && !role_fits(p->role, has_tenant)) {
		rc = STORE_CONFLICT;
		goto out;
	}
	if (p->email && ((rc = email_free(db, user, p->email)) != STORE_OK ||
	                 (rc = store_user_email_unreserved(db, p->email, !has_tenant)) != STORE_OK))
		goto out;
	params[0] = user;
	params[1] = p->name;
	params[2] = p->email;
	params[3] = role;
	params[4] = p->status;
	params[5] = p->password ? hash : NULL;
	params[6] = now;
	rc = STORE_ERR;
	if (buf_puts(&sql, "UPDATE users SET name = coalesce($2, name), "
	                   "email = coalesce(lower($3), email), role = coalesce($4, role), "
	                   "status = coalesce($5, status), "
	                   "password_hash = coalesce($6, password_hash), updated_at = $7 "
	                   "WHERE id = $1") != 0 ||
	    (tenant_id && store_sql_and(&sql, "tenant_id = $?", params, &n, tenant) != 0) ||
	    buf_puts(&sql, " RETURNING " USER_COLS) != 0)
		goto out;
	/* email_free looked first: a taken email here is a concurrent update's. */
	rc = user_returning(db, sql.data, n, params, STORE_NOT_FOUND, STORE_CONFLICT, &obj);
	if (rc != STORE_OK)
		goto out;
	/* A new password ends every session made with the old one; disabling also ends
	 * the user's API tokens (enabling again does not bring them back). */
	if (disable || p->password) {
		rc = revoke_credentials(db, user, now, disable);
		if (rc != STORE_OK)
			goto out;
	}
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc == STORE_OK) {
		*out = obj;
	} else {
		json_object_put(obj);
		db_rollback(db);
	}
	buf_clear(&sql);
	return rc;
}

int store_user_delete(struct db *db, const char *tenant_id, const char *id)
{
	char tenant[UUID_STR_LEN], user[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[2] = { user };
	struct buf sql;
	int n = 1, has_tenant, rc;

	if (store_id(id, user) != 0 || (tenant_id && store_id(tenant_id, tenant) != 0))
		return STORE_NOT_FOUND;
	store_time(0, now);
	buf_init(&sql, 256);
	rc = user_begin(db, tenant_id ? tenant : NULL, user, &has_tenant);
	if (rc != STORE_OK)
		goto out;
	/* Revoked before the row goes: the foreign key then sets the tokens' user_id NULL
	 * (the rows stay, kind 'user', so they never read as service tokens) and deletes
	 * the logins. */
	rc = revoke_credentials(db, user, now, 1);
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	if (buf_puts(&sql, "DELETE FROM users WHERE id = $1") != 0 ||
	    (tenant_id && store_sql_and(&sql, "tenant_id = $?", params, &n, tenant) != 0))
		goto out;
	rc = db_exec(db, sql.data, n, params, NULL);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_changes(db) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc != STORE_OK)
		db_rollback(db);
	buf_clear(&sql);
	return rc;
}

/* ---- login ------------------------------------------------------------------------ */

/* An argon2id hash of nothing anyone knows, made with the same parameters as real
 * ones, so a login for a missing user costs one verification like any other. Made
 * once, on first use. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[SECRET_HASH_LEN];

static void dummy_hash_make(void)
{
	char random[SECRET_TEXT_LEN];

	secret_random_text(random);
	if (secret_hash(random, dummy_hash) != 0)
		dummy_hash[0] = '\0'; /* out of memory: verification then fails at once */
	explicit_bzero(random, sizeof(random));
}

int store_login_check(struct db *db, const char *tenant_id, const char *email,
                      const char *password, struct store_identity *out)
{
	char tenant[UUID_STR_LEN];
	const char *params[2] = { email, NULL };
	const char *stored = NULL;
	struct store_identity who;
	struct db_res *res = NULL;
	int rc, match;

	memset(&who, 0, sizeof(who));
	if ((tenant_id && store_id(tenant_id, tenant) != 0) || !email)
		return STORE_NOT_FOUND;
	params[1] = tenant_id ? tenant : NULL;
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES ? "SELECT * FROM kaiden_auth_user($1, $2)"
	                                        : AUTH_USER_SQL,
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 1 && db_res_cols(res) > AUTH_USER_COL_PASSWORD_HASH &&
	    store_identity_row(res, "", &who) == 0)
		stored = db_res_get(res, 0, AUTH_USER_COL_PASSWORD_HASH);
	/* No such user, or one without a password: verify against the dummy anyway. */
	pthread_once(&dummy_once, dummy_hash_make);
	match = secret_verify(stored ? stored : dummy_hash, password ? password : "");
	rc = stored && match ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_OK)
		*out = who;
out:
	db_res_free(res);
	return rc;
}
