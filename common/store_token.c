/* store_token.c: API bearer tokens. The token is shown once; the row keeps only the
 * SHA-256 of the whole token (secret.h explains why a fast hash is right here). */
#include "store.h"

#include <string.h>

#include "db.h"
#include "log.h"
#include "store_row.h"

static const struct store_col token_cols[] = {
	{ "id", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },
	{ "created_at", STORE_COL_TEXT },
};

int store_token_create(struct db *db, const char *tenant_id, const char *name,
                       char token_out[TOKEN_LEN], json_object **out)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char token[TOKEN_LEN], digest[SECRET_DIGEST_LEN];
	const char *params[5] = { id, tenant, name, digest, now };
	struct db_res *res = NULL;
	json_object *obj = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (!name) {
		log_error("tenant=%s token create without a name", tenant);
		return STORE_ERR;
	}
	ids_uuid7(id);
	secret_token_new(id, token);
	secret_digest(token, digest);
	store_time(0, now);
	rc = db_exec(db,
	             "INSERT INTO api_tokens (id, tenant_id, name, token_digest, created_at) "
	             "VALUES ($1, $2, $3, $4, $5) RETURNING id, name, created_at",
	             5, params, &res);
	if (rc != DB_OK) {
		/* The only constraint a fresh id and digest can break is the tenant's key. */
		rc = rc == DB_CONSTRAINT ? STORE_NOT_FOUND : store_rc_of(rc);
		goto out;
	}
	if (out) {
		rc = store_row_json(res, 0, token_cols, (int)ARRAY_LEN(token_cols), &obj);
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

int store_token_check(struct db *db, const char *token, char tenant_out[UUID_STR_LEN])
{
	char id[UUID_STR_LEN], digest[SECRET_DIGEST_LEN];
	const char *params[1] = { id };
	const char *stored, *tenant;
	struct db_res *res = NULL;
	int rc;

	{
		char given[UUID_STR_LEN];
		if (!token || secret_token_id(token, given) != 0 || store_id(given, id) != 0)
			return STORE_NOT_FOUND;
	}
	rc = db_exec(db,
	             "SELECT tenant_id, token_digest FROM api_tokens "
	             "WHERE id = $1 AND revoked_at IS NULL",
	             1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) != 1)
		goto out;
	tenant = db_res_get(res, 0, 0);
	stored = db_res_get(res, 0, 1);
	secret_digest(token, digest);
	if (!tenant || !stored || !secret_equal(stored, digest) || strlen(tenant) != 36)
		goto out;
	memcpy(tenant_out, tenant, UUID_STR_LEN);
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}
