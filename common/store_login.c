/* store_login.c: logins (the jti of each login token), the identity behind a
 * credential (store_auth_row.h), and login throttling.
 *
 * A login token is a signed JWT, so the database is not needed to trust its claims; the
 * logins row is what makes it revocable, and its lookup reads the user as they are now
 * (a role changed, a user disabled, a tenant suspended after the token was issued).
 *
 * Throttling counts login attempts per account and per source address, before the
 * password is checked (store_auth.h). */
#include "store_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "store_auth_row.h"
#include "store_row.h"

/* A login and its user; the body of kaiden_auth_login in sql/pg/0004_accounts.sql. */
#define AUTH_LOGIN_SQL                                                                   \
	"SELECT l.user_id, u.tenant_id, u.email, u.role, u.status AS user_status, "       \
	"t.status AS tenant_status, l.expires_at, l.revoked_at "                           \
	"FROM logins l JOIN users u ON u.id = l.user_id "                                  \
	"LEFT JOIN tenants t ON t.id = u.tenant_id WHERE l.id = $1"
enum { LOGIN_COL_EXPIRES_AT = AUTH_COL__MAX, LOGIN_COL_REVOKED_AT, LOGIN_NCOLS };

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
	store_text_copy(who.expires_at, sizeof(who.expires_at), expires);
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

/* ---- throttling -------------------------------------------------------------------
 * One login_throttle row a key (sql/pg and sql/sqlite 0007_login_throttle.sql). Counting is one
 * INSERT ... ON CONFLICT DO UPDATE ... RETURNING per key, inside one transaction: on
 * PostgreSQL the row's lock makes parallel logins of one key count one after another
 * (the address's row first, then the account's, always in that order); on SQLite the
 * transaction holds the write lock (BEGIN IMMEDIATE). A window that has ended starts
 * again at 1 in the same statement. */

/* $1 key, $2 now, $3 the start of a window still open ($2 - window): one more attempt. */
#define THROTTLE_COUNT                                                                     \
	"INSERT INTO login_throttle (key, window_start, attempts) VALUES (lower($1), $2, 1) " \
	"ON CONFLICT (key) DO UPDATE SET "                                                  \
	"window_start = CASE WHEN login_throttle.window_start <= $3 "                       \
	"THEN excluded.window_start ELSE login_throttle.window_start END, "                 \
	"attempts = CASE WHEN login_throttle.window_start <= $3 "                           \
	"THEN 1 ELSE login_throttle.attempts + 1 END"
#define THROTTLE_RETURNING " RETURNING attempts, window_start, key"
/* Expired rows pruned per attempt, at most: enough to keep pace with new keys. */
#define THROTTLE_PRUNE_BATCH "100"

/* "<prefix><text>" into key; -1 if it does not fit. */
static int throttle_key(const char *prefix, const char *text, char key[STORE_THROTTLE_KEY_MAX])
{
	int n = snprintf(key, STORE_THROTTLE_KEY_MAX, "%s%s", prefix, text);

	return n < 0 || n >= STORE_THROTTLE_KEY_MAX ? -1 : 0;
}

/* The key of a source address: "address:<address>", except that an IPv6 client counts
 * by its /64 ("address:2001:db8:1:2::/64"). One host or subscriber commonly holds a whole
 * /64: counted by the address, it could rotate through 2^64 of them, guessing past the
 * limit and making a login_throttle row (and an auth.login_failed audit row) per
 * request. IPv4, IPv4-mapped IPv6 and anything else count as they are. */
static int address_key(const char *address, char key[STORE_THROTTLE_KEY_MAX])
{
	struct in6_addr a;
	char prefix[INET6_ADDRSTRLEN + 3];

	if (inet_pton(AF_INET6, address, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a))
		return throttle_key("address:", address, key);
	memset(a.s6_addr + 8, 0, 8);
	if (!inet_ntop(AF_INET6, &a, prefix, INET6_ADDRSTRLEN))
		return -1;
	strcat(prefix, "/64");
	return throttle_key("address:", prefix, key);
}

/* A refusal by the key row res holds (attempts, window_start, key): the verdict, with the
 * seconds left in its window. */
static int throttle_refused(const struct db_res *res, enum store_throttle by, int64_t now_ms,
                            int window_seconds, struct store_throttle_verdict *v)
{
	const char *start = db_res_get(res, 0, 1), *key = db_res_get(res, 0, 2);
	int64_t start_ms = 0, left_ms;

	if (ids_timestamp_ms(start, &start_ms) != 0 || !key || strlen(key) >= sizeof(v->key) ||
	    strlen(start) >= sizeof(v->window_start)) {
		log_error("login throttle: a row with an unreadable window or key");
		return STORE_ERR;
	}
	v->by = by;
	snprintf(v->key, sizeof(v->key), "%s", key);
	snprintf(v->window_start, sizeof(v->window_start), "%s", start);
	left_ms = start_ms + (int64_t)window_seconds * 1000 - now_ms;
	v->retry_after = left_ms > 1000 ? (long)((left_ms + 999) / 1000) : 1;
	return STORE_OK;
}

/* Counts one attempt of key: *refused 1 when the key is at its limit (max). With
 * always_count the attempt counts even then (an address), else it does not (an
 * account). On a refusal the verdict is filled. */
static int throttle_count(struct db *db, const char *key, const char *now, const char *open,
                          long max, int always_count, int64_t now_ms, int window_seconds,
                          enum store_throttle by, struct store_throttle_verdict *v,
                          int *refused)
{
	char limit[24];
	const char *params[4] = { key, now, open, limit };
	struct db_res *res = NULL;
	int rc;

	snprintf(limit, sizeof(limit), "%ld", max);
	/* An account at its limit is not counted: the WHERE leaves its row alone and the
	 * statement returns nothing. An address always is. */
	rc = db_exec(db,
	             always_count
	                 ? THROTTLE_COUNT THROTTLE_RETURNING
	                 : THROTTLE_COUNT " WHERE login_throttle.window_start <= $3 OR "
	                                  "login_throttle.attempts < CAST($4 AS integer)"
	                                  THROTTLE_RETURNING,
	             always_count ? 3 : 4, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 1) {
		const char *n = db_res_get(res, 0, 0);
		*refused = !n || strtol(n, NULL, 10) > max;
	} else {
		/* Not counted: read the row for its window. */
		db_res_free(res);
		res = NULL;
		rc = db_exec(db, "SELECT attempts, window_start, key FROM login_throttle "
		                 "WHERE key = lower($1)",
		             1, params, &res);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		*refused = 1;
	}
	rc = STORE_OK;
	if (*refused)
		rc = db_res_rows(res) == 1
		         ? throttle_refused(res, by, now_ms, window_seconds, v)
		         : STORE_ERR;
out:
	db_res_free(res);
	return rc;
}

/* Rows whose window has ended, a batch at a time. On PostgreSQL rows another login
 * holds are skipped (it is counting them again), so the prune never waits or
 * deadlocks. */
static void throttle_prune(struct db *db, const char *open)
{
	const char *params[1] = { open };

	if (db_exec(db,
	            db_kind(db) == DB_POSTGRES
	                ? "DELETE FROM login_throttle WHERE key IN (SELECT key FROM "
	                  "login_throttle WHERE window_start <= $1 LIMIT " THROTTLE_PRUNE_BATCH
	                  " FOR UPDATE SKIP LOCKED)"
	                : "DELETE FROM login_throttle WHERE key IN (SELECT key FROM "
	                  "login_throttle WHERE window_start <= $1 LIMIT " THROTTLE_PRUNE_BATCH
	                  ")",
	            1, params, NULL) != DB_OK)
		log_warn("login throttle: ended windows could not be pruned (they are counted "
		         "afresh when used, so nothing is wrong)");
}

int store_login_reserve(struct db *db, const char *email, const char *address,
                        const struct store_login_limits *limits,
                        struct store_throttle_verdict *out)
{
	char now[TIMESTAMP_LEN], open[TIMESTAMP_LEN];
	char account_key[STORE_THROTTLE_KEY_MAX], addr_key[STORE_THROTTLE_KEY_MAX];
	struct store_throttle_verdict v;
	int64_t now_ms = ids_now_ms();
	int refused = 0, rc;

	if (!email || !limits || limits->window_seconds <= 0 ||
	    throttle_key("account:", email, account_key) != 0 ||
	    (address && address_key(address, addr_key) != 0)) {
		log_error("login throttle: no email, no limits, or a key too long");
		return STORE_ERR;
	}
	memset(&v, 0, sizeof(v));
	ids_timestamp(now_ms, now);
	ids_timestamp(now_ms - (int64_t)limits->window_seconds * 1000, open);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = STORE_OK;
	if (address)
		rc = throttle_count(db, addr_key, now, open, limits->address_max, 1, now_ms,
		                    limits->window_seconds, STORE_THROTTLE_ADDRESS, &v, &refused);
	if (rc == STORE_OK && !refused)
		rc = throttle_count(db, account_key, now, open, limits->account_max, 0, now_ms,
		                    limits->window_seconds, STORE_THROTTLE_ACCOUNT, &v, &refused);
	if (rc == STORE_OK) {
		rc = db_commit(db);
		rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
	}
	if (rc != STORE_OK) {
		db_rollback(db);
		return rc;
	}
	throttle_prune(db, open);
	*out = v;
	return STORE_OK;
}

int store_login_release(struct db *db, const char *email, const char *address)
{
	char key[STORE_THROTTLE_KEY_MAX];
	const char *params[1] = { key };
	int rc;

	if (!email || throttle_key("account:", email, key) != 0)
		return STORE_ERR;
	/* Two statements of their own: each holds one row's lock, so neither can wait on a
	 * login that waits on it. */
	rc = db_exec(db, "DELETE FROM login_throttle WHERE key = lower($1)", 1, params, NULL);
	if (rc == DB_OK && address) {
		if (address_key(address, key) != 0)
			return STORE_ERR;
		rc = db_exec(db, "UPDATE login_throttle SET attempts = attempts - 1 "
		                 "WHERE key = lower($1) AND attempts > 0",
		             1, params, NULL);
	}
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}
