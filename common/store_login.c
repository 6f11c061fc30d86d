/* store_login.c: logins (the jti of each login token), the identity behind a
 * credential (store_auth_row.h), and login throttling.
 *
 * A login token is a signed JWT, so the database is not needed to trust its claims; the
 * logins row is what makes it revocable, and its lookup reads the user as they are now
 * (a role changed, a user disabled, a tenant suspended after the token was issued).
 *
 * Throttling counts failed attempts per account key and per source address over a
 * window the caller chooses. Rows are kept for a day (LOGIN_ATTEMPTS_KEEP_S): a window
 * longer than that would undercount. */
#include "store_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "store_auth_row.h"
#include "store_row.h"

#define LOGIN_ATTEMPTS_KEEP_S 86400

/* A login and its user; the body of kaiden_auth_login in sql/pg/0004_accounts.sql. */
#define AUTH_LOGIN_SQL                                                                   \
	"SELECT l.user_id, u.tenant_id, u.email, u.role, u.status AS user_status, "       \
	"t.status AS tenant_status, l.expires_at, l.revoked_at "                           \
	"FROM logins l JOIN users u ON u.id = l.user_id "                                  \
	"LEFT JOIN tenants t ON t.id = u.tenant_id WHERE l.id = $1"
enum { LOGIN_COL_EXPIRES_AT = AUTH_COL__MAX, LOGIN_COL_REVOKED_AT, LOGIN_NCOLS };

/* The account key of a login attempt from $1 (tenant id or NULL) and $2 (email):
 * "<tenant id or ->" + ' ' + the email lower-cased as users.email is. */
#define ACCOUNT_KEY "coalesce($1, '-') || ' ' || lower($2)"

int store_identity_row(const struct db_res *res, const char *credential_id,
                       struct store_identity *out)
{
	const char *user, *tenant, *email, *role, *status, *tenant_status;
	struct store_identity who;

	if (db_res_rows(res) < 1 || db_res_cols(res) < AUTH_COL__MAX)
		return -1;
	user = db_res_get(res, 0, AUTH_COL_USER_ID);
	tenant = db_res_get(res, 0, AUTH_COL_TENANT_ID);
	email = db_res_get(res, 0, AUTH_COL_EMAIL);
	role = db_res_get(res, 0, AUTH_COL_ROLE);
	status = db_res_get(res, 0, AUTH_COL_USER_STATUS);
	tenant_status = db_res_get(res, 0, AUTH_COL_TENANT_STATUS);
	memset(&who, 0, sizeof(who));
	if (!role || !status || strcmp(status, "active") != 0)
		return -1;
	who.role = strcmp(role, "service") == 0 ? ROLE_SERVICE : role_parse(role);
	/* A service token has a tenant and no user; staff have a user and no tenant; tenant
	 * users both. The schema holds to this; a row that does not is refused, not
	 * guessed at. */
	if (who.role == ROLE_NONE || (who.role == ROLE_SERVICE) != !user ||
	    ((who.role & ROLE_STAFF) != 0) != !tenant ||
	    (user && strlen(user) != UUID_STR_LEN - 1) ||
	    (tenant && strlen(tenant) != UUID_STR_LEN - 1) ||
	    (email && strlen(email) >= sizeof(who.email)) ||
	    strlen(credential_id) >= sizeof(who.credential_id))
		return -1;
	if (user)
		memcpy(who.user_id, user, UUID_STR_LEN);
	if (tenant)
		memcpy(who.tenant_id, tenant, UUID_STR_LEN);
	if (email)
		snprintf(who.email, sizeof(who.email), "%s", email);
	snprintf(who.credential_id, sizeof(who.credential_id), "%s", credential_id);
	who.tenant_suspended = tenant_status && strcmp(tenant_status, "suspended") == 0;
	*out = who;
	return 0;
}

/* ---- logins ----------------------------------------------------------------------- */

int store_login_create(struct db *db, const struct store_identity *who, int ttl_seconds,
                       char jti[UUID_STR_LEN])
{
	char id[UUID_STR_LEN], tenant[UUID_STR_LEN], user[UUID_STR_LEN];
	char now[TIMESTAMP_LEN], expires[TIMESTAMP_LEN];
	int rc;

	if (!who || store_id(who->user_id, user) != 0 ||
	    (who->tenant_id[0] && store_id(who->tenant_id, tenant) != 0))
		return STORE_NOT_FOUND;
	if (ttl_seconds <= 0) {
		log_error("user=%s login with a lifetime of %d seconds", user, ttl_seconds);
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	store_time(ttl_seconds, expires);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	{
		const char *params[5] = { id, who->tenant_id[0] ? tenant : NULL, user, now,
		                          expires };
		rc = db_exec(db,
		             "INSERT INTO logins (id, tenant_id, user_id, created_at, expires_at) "
		             "VALUES ($1, $2, $3, $4, $5)",
		             5, params, NULL);
	}
	if (rc == DB_OK) {
		const char *params[2] = { user, now };
		rc = db_exec(db, "UPDATE users SET last_login_at = $2 WHERE id = $1", 2, params,
		             NULL);
		/* The user's expired logins are of no more use: they go as new ones come, so
		 * the table holds about one row per live login. */
		if (rc == DB_OK)
			rc = db_exec(db,
			             "DELETE FROM logins WHERE user_id = $1 AND expires_at < $2",
			             2, params, NULL);
	}
	if (rc == DB_OK)
		rc = db_commit(db);
	if (rc != DB_OK) {
		db_rollback(db);
		/* The only key a fresh id can break is the user's: deleted meanwhile. */
		return rc == DB_CONSTRAINT ? STORE_NOT_FOUND : store_rc_of(rc);
	}
	memcpy(jti, id, UUID_STR_LEN);
	return STORE_OK;
}

int store_login_lookup(struct db *db, const char *jti, struct store_identity *out)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[1] = { id };
	const char *expires;
	struct store_identity who;
	struct db_res *res = NULL;
	int rc;

	if (store_id(jti, id) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES ? "SELECT * FROM kaiden_auth_login($1)"
	                                        : AUTH_LOGIN_SQL,
	             1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	store_time(0, now);
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) != 1 || db_res_cols(res) != LOGIN_NCOLS)
		goto out;
	/* Both time stamps are RFC 3339 in the same form (db.h): text order is time order. */
	expires = db_res_get(res, 0, LOGIN_COL_EXPIRES_AT);
	if (db_res_get(res, 0, LOGIN_COL_REVOKED_AT) || !expires || strcmp(expires, now) <= 0)
		goto out;
	if (store_identity_row(res, id, &who) != 0)
		goto out;
	*out = who;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_login_revoke(struct db *db, const char *jti)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[2] = { id, now };
	int rc;

	if (store_id(jti, id) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_exec(db, "UPDATE logins SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
	             2, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* ---- throttling ------------------------------------------------------------------- */

int store_login_attempt(struct db *db, const char *tenant_id, const char *email,
                        const char *address, int ok)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN], cutoff[TIMESTAMP_LEN];
	const char *params[6] = { NULL, email, id, address, ok ? "1" : "0", now };
	int rc;

	if ((tenant_id && store_id(tenant_id, tenant) != 0) || !email)
		return STORE_NOT_FOUND;
	params[0] = tenant_id ? tenant : NULL;
	ids_uuid7(id);
	store_time(0, now);
	store_time(-LOGIN_ATTEMPTS_KEEP_S, cutoff);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             "INSERT INTO login_attempts (id, account_key, remote_addr, ok, created_at) "
	             "VALUES ($3, " ACCOUNT_KEY ", $4, $5, $6)",
	             6, params, NULL);
	if (rc == DB_OK && ok)
		rc = db_exec(db, "DELETE FROM login_attempts WHERE account_key = " ACCOUNT_KEY
		                 " AND ok = 0",
		             2, params, NULL);
	if (rc == DB_OK) {
		const char *old[1] = { cutoff };
		rc = db_exec(db, "DELETE FROM login_attempts WHERE created_at < $1", 1, old, NULL);
	}
	if (rc == DB_OK)
		rc = db_commit(db);
	if (rc != DB_OK) {
		db_rollback(db);
		return store_rc_of(rc);
	}
	return STORE_OK;
}

/* Unix milliseconds of a time stamp in the store's form ("2026-11-23T03:45:56.123Z");
 * -1 if it is not one. */
static int64_t stamp_ms(const char *text)
{
	struct tm tm;
	const char *rest;
	int64_t ms = 0;

	memset(&tm, 0, sizeof(tm));
	rest = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return -1;
	if (*rest == '.')
		for (int scale = 100; *++rest >= '0' && *rest <= '9'; scale /= 10)
			ms += (*rest - '0') * scale;
	if (*rest != 'Z')
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Runs a count(*), min(created_at) query: the count and the oldest time (or -1). */
static int failures_since(struct db *db, const char *sql, int n, const char *const *params,
                          long *count, int64_t *oldest_ms)
{
	struct db_res *res = NULL;
	int rc = db_exec(db, sql, n, params, &res);

	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_ERR;
	if (db_res_rows(res) != 1 || !db_res_get(res, 0, 0))
		goto out;
	*count = strtol(db_res_get(res, 0, 0), NULL, 10);
	*oldest_ms = *count > 0 ? stamp_ms(db_res_get(res, 0, 1)) : -1;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_login_failures(struct db *db, const char *tenant_id, const char *email,
                         const char *address, int window_seconds, long *account,
                         long *by_address, long *retry_after)
{
	char tenant[UUID_STR_LEN], since[TIMESTAMP_LEN];
	int64_t now_ms = ids_now_ms(), oldest_account = -1, oldest_address = -1, oldest;
	long n_account = 0, n_address = 0;
	int rc;

	if ((tenant_id && store_id(tenant_id, tenant) != 0) || !email)
		return STORE_NOT_FOUND;
	ids_timestamp(now_ms - (int64_t)window_seconds * 1000, since);
	{
		const char *params[3] = { tenant_id ? tenant : NULL, email, since };
		rc = failures_since(db,
		                    "SELECT count(*), min(created_at) FROM login_attempts "
		                    "WHERE account_key = " ACCOUNT_KEY
		                    " AND ok = 0 AND created_at > $3",
		                    3, params, &n_account, &oldest_account);
	}
	if (rc == STORE_OK && address) {
		const char *params[2] = { address, since };
		rc = failures_since(db,
		                    "SELECT count(*), min(created_at) FROM login_attempts "
		                    "WHERE remote_addr = $1 AND ok = 0 AND created_at > $2",
		                    2, params, &n_address, &oldest_address);
	}
	if (rc != STORE_OK)
		return rc;
	/* The oldest counted failure leaves the window first: then a count goes down. */
	oldest = oldest_account < 0 ? oldest_address
	         : oldest_address < 0 ? oldest_account
	         : oldest_account < oldest_address ? oldest_account : oldest_address;
	*account = n_account;
	*by_address = n_address;
	*retry_after = 0;
	if (oldest >= 0) {
		int64_t left_ms = oldest + (int64_t)window_seconds * 1000 - now_ms;
		*retry_after = left_ms > 0 ? (long)((left_ms + 999) / 1000) : 0;
	}
	return STORE_OK;
}
