/* store_audit.c: the audit log, append-only: nothing here deletes a row or changes what
 * one says, except the count of a throttled login burst (one row per tenant, key and
 * window, so that refused logins cannot grow the log by the request); on PostgreSQL the
 * application role may not update or delete at all, and that count goes through a
 * SECURITY DEFINER function.
 *
 * Besides the entry JSON's fields each row records credential_id, the login (jti) or API
 * token the actor used: it tells which credential did what (a leaked token's trail), and
 * it makes tenant.access once per credential and tenant, which a unique index on
 * (tenant_id, credential_id) for that action enforces. Every insert says ON CONFLICT DO
 * NOTHING, so a repeated tenant.access is a no-op, never a failed statement. */
#include "store_auth.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_row.h"

#define AUDIT_COLS                                                                       \
	"id, tenant_id, actor_id, actor_email, actor_role, action, target_type, target_id, " \
	"remote_addr, request_id, details, created_at"

static const struct store_col audit_cols[] = {
	{ "id", STORE_COL_TEXT },          { "tenant_id", STORE_COL_TEXT },
	{ "actor_id", STORE_COL_TEXT },    { "actor_email", STORE_COL_TEXT },
	{ "actor_role", STORE_COL_TEXT },  { "action", STORE_COL_TEXT },
	{ "target_type", STORE_COL_TEXT }, { "target_id", STORE_COL_TEXT },
	{ "remote_addr", STORE_COL_TEXT }, { "request_id", STORE_COL_TEXT },
	{ "details", STORE_COL_JSON },     { "created_at", STORE_COL_TEXT },
};
#define AUDIT_NCOLS ((int)ARRAY_LEN(audit_cols))

/* An id that may be absent: NULL or "" is NULL; otherwise it must be a UUID. 0 or -1. */
static int optional_id(const char *s, char out[UUID_STR_LEN], const char **param)
{
	*param = NULL;
	if (!s || !*s)
		return 0;
	if (store_id(s, out) != 0)
		return -1;
	*param = out;
	return 0;
}

int store_audit_add(struct db *db, const struct store_audit *a)
{
	char id[UUID_STR_LEN], tenant[UUID_STR_LEN], actor[UUID_STR_LEN];
	char credential[UUID_STR_LEN], target[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const struct store_identity *who = a ? a->actor : NULL;
	const char *params[13];
	int rc;

	if (!a || !a->action || !*a->action ||
	    optional_id(a->tenant_id, tenant, &params[1]) != 0 ||
	    optional_id(who ? who->user_id : NULL, actor, &params[2]) != 0 ||
	    optional_id(who ? who->credential_id : NULL, credential, &params[5]) != 0 ||
	    optional_id(a->target_id, target, &params[8]) != 0 ||
	    (a->details && !json_object_is_type(a->details, json_type_object))) {
		log_error("audit entry without an action, with an id that is not a UUID, or with "
		          "details that are not an object");
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	params[0] = id;
	params[3] = who ? (who->email[0] ? who->email : NULL) : a->actor_email;
	params[4] = who ? role_name(who->role) : NULL;
	params[6] = a->action;
	params[7] = a->target_type;
	params[9] = a->remote_addr;
	params[10] = a->request_id;
	params[11] = a->details ? json_object_to_json_string_ext(a->details, JSON_C_TO_STRING_PLAIN)
	                        : NULL;
	params[12] = now;
	rc = db_exec(db,
	             "INSERT INTO audit_log (id, tenant_id, actor_id, actor_email, actor_role, "
	             "credential_id, action, target_type, target_id, remote_addr, request_id, "
	             "details, created_at) "
	             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
	             "ON CONFLICT DO NOTHING",
	             13, params, NULL);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

/* The body of kaiden_audit_throttled (sql/pg/0007_login_throttle.sql), which PostgreSQL
 * runs as the owner: the application role may not update an audit row. */
#define AUDIT_THROTTLED_SQL                                                                 \
	"INSERT INTO audit_log (id, tenant_id, actor_email, action, target_type, remote_addr, " \
	"request_id, details, created_at) "                                                    \
	"VALUES ($1, $2, $3, 'auth.login_throttled', 'user', $4, $5, "                         \
	"json_object('reason', 'throttled', 'key', $6, 'window_start', $7, 'count', 1, "       \
	"'last_at', $8), $8) "                                                                 \
	"ON CONFLICT (coalesce(tenant_id, '-'), json_extract(details, '$.key'), "              \
	"json_extract(details, '$.window_start')) WHERE action = 'auth.login_throttled' "      \
	"DO UPDATE SET details = json_set(details, '$.count', "                                \
	"json_extract(details, '$.count') + 1, '$.last_at', $8)"

int store_audit_throttled(struct db *db, const char *tenant_id, const char *email,
                          const char *remote_addr, const char *request_id,
                          const struct store_throttle_verdict *v)
{
	char id[UUID_STR_LEN], tenant[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[8];
	int rc;

	if (!v || v->by == STORE_THROTTLE_NONE || !v->key[0] || !v->window_start[0] ||
	    optional_id(tenant_id, tenant, &params[1]) != 0) {
		log_error("auth.login_throttled without a refusal, or with a tenant that is not a "
		          "UUID");
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	params[0] = id;
	params[2] = email;
	params[3] = remote_addr;
	params[4] = request_id;
	params[5] = v->key;
	params[6] = v->window_start;
	params[7] = now;
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES
	                 ? "SELECT kaiden_audit_throttled($1, $2, $3, $4, $5, $6, $7, $8)"
	                 : AUDIT_THROTTLED_SQL,
	             8, params, NULL);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_audit_tenant_access(struct db *db, const struct store_identity *who,
                              const char *tenant_id, const char *remote_addr,
                              const char *request_id)
{
	struct store_audit a = { tenant_id, who, NULL, "tenant.access", "tenant", tenant_id,
	                         remote_addr, request_id, NULL };

	/* Without a credential every call would be a new row (NULLs are distinct in the
	 * unique index). */
	if (!who || !who->credential_id[0] || !tenant_id) {
		log_error("tenant.access without a credential or a tenant");
		return STORE_ERR;
	}
	return store_audit_add(db, &a);
}

int store_audit_list(struct db *db, const struct store_audit_filter *f,
                     const struct store_page *page, struct store_list *out)
{
	static const struct store_audit_filter none;
	char tenant[UUID_STR_LEN], actor[UUID_STR_LEN], target[UUID_STR_LEN];
	char cursor[UUID_STR_LEN], since[TIMESTAMP_LEN], until[TIMESTAMP_LEN];
	const char *params[10];
	char *upper = NULL;
	struct buf sql;
	int n = 0, rc = STORE_ERR;

	if (!f)
		f = &none;
	/* Ids and times that cannot be right find nothing, as everywhere in the store.
	 * Times are put in the stored form (UTC, milliseconds), so both backends compare
	 * them alike (SQLite compares the text). */
	if ((f->tenant_id && store_id(f->tenant_id, tenant) != 0) ||
	    (f->actor_id && store_id(f->actor_id, actor) != 0) ||
	    (f->target_id && store_id(f->target_id, target) != 0) ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0) ||
	    (f->since && ids_timestamp_parse(f->since, since) != 0) ||
	    (f->until && ids_timestamp_parse(f->until, until) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 1024);
	if (buf_puts(&sql, "SELECT " AUDIT_COLS " FROM audit_log WHERE id IS NOT NULL") != 0)
		goto out;
	if (f->tenant_id && store_sql_and(&sql, "tenant_id = $?", params, &n, tenant) != 0)
		goto out;
	if (f->action) {
		size_t len = strlen(f->action);
		if (len > 0 && f->action[len - 1] == '.') {
			/* A prefix "auth." is the range ["auth.", "auth/"): '/' follows '.', and a
			 * range, unlike LIKE, uses the (tenant_id, action, id) index. */
			upper = strdup(f->action);
			if (!upper)
				goto out;
			upper[len - 1] = '/';
			if (store_sql_and(&sql, "action >= $?", params, &n, f->action) != 0 ||
			    store_sql_and(&sql, "action < $?", params, &n, upper) != 0)
				goto out;
		} else if (store_sql_and(&sql, "action = $?", params, &n, f->action) != 0) {
			goto out;
		}
	}
	if (f->actor_id && store_sql_and(&sql, "actor_id = $?", params, &n, actor) != 0)
		goto out;
	if (f->target_id && store_sql_and(&sql, "target_id = $?", params, &n, target) != 0)
		goto out;
	if (f->since && store_sql_and(&sql, "created_at >= $?", params, &n, since) != 0)
		goto out;
	if (f->until && store_sql_and(&sql, "created_at < $?", params, &n, until) != 0)
		goto out;
	rc = store_list_run(db, &sql, params, n, page && page->cursor ? cursor : NULL,
	                    store_page_limit(page), audit_cols, AUDIT_NCOLS, out);
out:
	free(upper);
	buf_clear(&sql);
	return rc;
}
