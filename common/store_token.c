/* store_token.c: API bearer tokens. The token is shown once; the row keeps only the
 * SHA-256 of the whole token (secret.h explains why a fast hash is right here).
 *
 * Two kinds (api_tokens.kind, fixed at creation): a service token (no user) acts as its
 * tenant with ROLE_SERVICE; a user token acts as its user with the user's rights as they
 * are when it is presented. A user token whose user is deleted keeps its row (user_id
 * NULL, revoked) and never reads as a service token. */
#include "store_auth.h"

#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_auth_row.h"
#include "store_row.h"

/* Longer than any sensible token life, short enough for every time stamp to print. */
#define TOKEN_EXPIRES_MAX_S (100L * 366 * 86400)
/* store_token_identify records a token's use at most this often: one write a minute per
 * busy token instead of one a request. */
#define TOKEN_USED_EVERY_S 60

#define TOKEN_INSERT                                                                    \
	"INSERT INTO api_tokens (id, tenant_id, user_id, kind, name, token_digest, "      \
	"created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING "
#define USER_TOKEN_COLS "id, name, user_id, created_at, expires_at, last_used_at, revoked_at"

/* A token and whom it acts as; the body of kaiden_auth_token in
 * sql/pg/0004_accounts.sql. */
#define AUTH_TOKEN_SQL                                                                     \
	"SELECT k.user_id, "                                                                 \
	"CASE WHEN k.kind = 'service' THEN k.tenant_id ELSE u.tenant_id END AS tenant_id, "  \
	"u.email, CASE WHEN k.kind = 'service' THEN 'service' ELSE u.role END AS role, "     \
	"CASE WHEN k.kind = 'service' THEN 'active' ELSE u.status END AS user_status, "      \
	"t.status AS tenant_status, k.token_digest, k.expires_at, k.revoked_at, "            \
	"k.last_used_at FROM api_tokens k LEFT JOIN users u ON u.id = k.user_id "            \
	"LEFT JOIN tenants t "                                                               \
	"ON t.id = CASE WHEN k.kind = 'service' THEN k.tenant_id ELSE u.tenant_id END "      \
	"WHERE k.id = $1"
enum {
	TOKEN_COL_DIGEST = AUTH_COL__MAX,
	TOKEN_COL_EXPIRES_AT,
	TOKEN_COL_REVOKED_AT,
	TOKEN_COL_LAST_USED_AT,
	TOKEN_NCOLS
};

static const struct store_col token_cols[] = {
	{ "id", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },
	{ "created_at", STORE_COL_TEXT },
};

static const struct store_col user_token_cols[] = {
	{ "id", STORE_COL_TEXT },         { "name", STORE_COL_TEXT },
	{ "user_id", STORE_COL_TEXT },    { "created_at", STORE_COL_TEXT },
	{ "expires_at", STORE_COL_TEXT }, { "last_used_at", STORE_COL_TEXT },
	{ "revoked_at", STORE_COL_TEXT },
};
#define USER_TOKEN_NCOLS ((int)ARRAY_LEN(user_token_cols))

/* Makes a token for the row (tenant and user already checked ids or NULL), stores its
 * digest, and gives the token and (out may be NULL) the row as JSON from sql, which is
 * TOKEN_INSERT with the columns of cols. */
static int token_insert(struct db *db, const char *sql, const char *tenant, const char *user,
                        const char *name, const char *expires_at,
                        const struct store_col *cols, int ncols, char token_out[TOKEN_LEN],
                        json_object **out)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN], token[TOKEN_LEN], digest[SECRET_DIGEST_LEN];
	const char *params[8] = { id,     tenant, user, user ? "user" : "service",
	                          name,   digest, now,  expires_at };
	struct db_res *res = NULL;
	json_object *obj = NULL;
	int rc;

	if (!name) {
		log_error("token create without a name");
		return STORE_ERR;
	}
	ids_uuid7(id);
	secret_token_new(id, token);
	secret_digest(token, digest);
	store_time(0, now);
	rc = db_exec(db, sql, 8, params, &res);
	if (rc != DB_OK) {
		/* The only keys a fresh id and digest can break are the tenant's and the
		 * user's. */
		rc = rc == DB_CONSTRAINT ? STORE_NOT_FOUND : store_rc_of(rc);
		goto out;
	}
	if (out) {
		rc = store_row_json(res, 0, cols, ncols, &obj);
		if (rc != STORE_OK)
			goto out;
		*out = obj;
	}
	memcpy(token_out, token, TOKEN_LEN);
	rc = STORE_OK;
out:
	explicit_bzero(token, sizeof(token));
	db_res_free(res);
	return rc;
}

int store_token_create(struct db *db, const char *tenant_id, const char *name,
                       char token_out[TOKEN_LEN], json_object **out)
{
	char tenant[UUID_STR_LEN];

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	return token_insert(db, TOKEN_INSERT "id, name, created_at", tenant, NULL, name, NULL,
	                    token_cols, (int)ARRAY_LEN(token_cols), token_out, out);
}

int store_token_name(struct db *db, const char *tenant_id, const char *id, char *out,
                     size_t outlen)
{
	char tenant[UUID_STR_LEN], token[UUID_STR_LEN];
	const char *params[2] = { tenant, token };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, token) != 0)
		return STORE_NOT_FOUND;
	rc = store_one_value(db, "SELECT name FROM api_tokens WHERE tenant_id = $1 AND id = $2", 2,
	                     params, out, outlen, NULL);
	return rc < 0 ? rc : rc == 1 ? STORE_OK : STORE_NOT_FOUND;
}

int store_user_token_create(struct db *db, const struct store_identity *who, const char *name,
                            long expires_seconds, char token_out[TOKEN_LEN],
                            json_object **out)
{
	char tenant[UUID_STR_LEN], user[UUID_STR_LEN], expires[TIMESTAMP_LEN];

	if (!who || store_id(who->user_id, user) != 0 ||
	    (who->tenant_id[0] && store_id(who->tenant_id, tenant) != 0))
		return STORE_NOT_FOUND;
	if (expires_seconds < 0 || expires_seconds > TOKEN_EXPIRES_MAX_S) {
		log_error("user=%s token create: expiry of %ld seconds is out of range", user,
		          expires_seconds);
		return STORE_ERR;
	}
	if (expires_seconds)
		ids_timestamp(ids_now_ms() + (int64_t)expires_seconds * 1000, expires);
	return token_insert(db, TOKEN_INSERT USER_TOKEN_COLS, who->tenant_id[0] ? tenant : NULL,
	                    user, name, expires_seconds ? expires : NULL, user_token_cols,
	                    USER_TOKEN_NCOLS, token_out, out);
}

int store_user_token_list(struct db *db, const char *user_id, const struct store_page *page,
                          struct store_list *out)
{
	char user[UUID_STR_LEN], cursor[UUID_STR_LEN];
	const char *params[3] = { user };
	struct buf sql;
	int rc;

	if (store_id(user_id, user) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 512);
	rc = buf_puts(&sql, "SELECT " USER_TOKEN_COLS " FROM api_tokens WHERE user_id = $1") != 0
	     ? STORE_ERR
	     : store_list_run(db, &sql, params, 1, page && page->cursor ? cursor : NULL,
	                      store_page_limit(page), user_token_cols, USER_TOKEN_NCOLS, out);
	buf_clear(&sql);
	return rc;
}

int store_user_token_revoke(struct db *db, const char *user_id, const char *token_id)
{
	char user[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[3] = { id, user, now };
	int rc;

	if (store_id(user_id, user) != 0 || store_id(token_id, id) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_exec(db,
	             "UPDATE api_tokens SET revoked_at = $3 "
	             "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
	             3, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* Records that token id was used now, unless that was done less than a minute ago
 * (last_used: the time recorded, or NULL). Advisory: a failure is logged, not passed
 * on, so a busy SQLite writer never costs a request. */
static void token_used(struct db *db, const char *id, const char *last_used, const char *now)
{
	char since[TIMESTAMP_LEN];
	const char *params[3] = { id, now, since };

	store_time(-TOKEN_USED_EVERY_S, since);
	if (last_used && strcmp(last_used, since) >= 0)
		return;
	if (db_exec(db,
	            db_kind(db) == DB_POSTGRES
	                ? "SELECT kaiden_auth_token_used($1, $2, $3)"
	                : "UPDATE api_tokens SET last_used_at = $2 "
	                  "WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
	            3, params, NULL) != DB_OK)
		log_warn("token=%s last_used_at not recorded: %s", id, db_errmsg(db));
}

/* The token row id (a checked id) and whom it acts as: STORE_OK with *out when it is
 * neither revoked nor expired and (token not NULL) its digest is token's; the row's
 * last_used_at is recorded when token is given (a use). */
static int token_lookup(struct db *db, const char *id, const char *token,
                        struct store_identity *out)
{
	char digest[SECRET_DIGEST_LEN], now[TIMESTAMP_LEN];
	const char *params[1] = { id };
	const char *stored, *expires;
	struct store_identity who;
	struct db_res *res = NULL;
	int rc;

	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES ? "SELECT * FROM kaiden_auth_token($1)"
	                                        : AUTH_TOKEN_SQL,
	             1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) != 1 || db_res_cols(res) != TOKEN_NCOLS)
		goto out;
	if (token) {
		stored = db_res_get(res, 0, TOKEN_COL_DIGEST);
		secret_digest(token, digest);
		if (!stored || !secret_equal(stored, digest))
			goto out;
	}
	/* RFC 3339 in one form on both backends (db.h): text order is time order. */
	store_time(0, now);
	expires = db_res_get(res, 0, TOKEN_COL_EXPIRES_AT);
	if (db_res_get(res, 0, TOKEN_COL_REVOKED_AT) || (expires && strcmp(expires, now) <= 0))
		goto out;
	if (store_identity_row(res, id, &who) != 0)
		goto out;
	store_text_copy(who.expires_at, sizeof(who.expires_at), expires);
	if (token)
		token_used(db, id, db_res_get(res, 0, TOKEN_COL_LAST_USED_AT), now);
	*out = who;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_token_identify(struct db *db, const char *token, struct store_identity *out)
{
	char id[UUID_STR_LEN], given[UUID_STR_LEN];

	if (!token || secret_token_id(token, given) != 0 || store_id(given, id) != 0)
		return STORE_NOT_FOUND;
	return token_lookup(db, id, token, out);
}

int store_token_lookup(struct db *db, const char *token_id, struct store_identity *out)
{
	char id[UUID_STR_LEN];

	if (store_id(token_id, id) != 0)
		return STORE_NOT_FOUND;
	return token_lookup(db, id, NULL, out);
}

/* The interface from before users: callers treat whatever passes as a service token of
 * the tenant, so only service tokens pass (a user's token would otherwise gain its
 * tenant's service rights). A suspended tenant's token still passes, as before:
 * store_token_identify reports the suspension. */
int store_token_check(struct db *db, const char *token, char tenant_out[UUID_STR_LEN])
{
	struct store_identity who;
	int rc = store_token_identify(db, token, &who);

	if (rc != STORE_OK)
		return rc;
	if (who.role != ROLE_SERVICE)
		return STORE_NOT_FOUND;
	memcpy(tenant_out, who.tenant_id, UUID_STR_LEN);
	return STORE_OK;
}
