/* store_tenant.c: tenants, their usage and quotas, and deleting one with its rows
 * (store_tenant.h). The archive of a tenant's rows (export and import) is
 * store_archive.c. */
#include "store_tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_archive.h"
#include "store_row.h"

#define TENANT_COLS                                                                   \
	"id, code, name, status, plan, settings, quotas, trial_ends_at, created_at, " \
	"updated_at"
#define TENANT_SELECT "SELECT " TENANT_COLS " FROM tenants"
#define TENANT_RETURNING " RETURNING " TENANT_COLS

#define CODE_MAX 63
#define QUOTA_MAX 1000000000L
/* pg_advisory_xact_lock's first key for quota checks (the second is the tenant's hash):
 * two creates in one tenant count and insert one after the other. */
#define QUOTA_LOCK_CLASS "48123502"

static const struct store_col tenant_cols[] = {
	{ "id", STORE_COL_TEXT },        { "code", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },      { "status", STORE_COL_TEXT },
	{ "plan", STORE_COL_TEXT },      { "settings", STORE_COL_JSON },
	{ "quotas", STORE_COL_JSON },    { "trial_ends_at", STORE_COL_TEXT },
	{ "created_at", STORE_COL_TEXT }, { "updated_at", STORE_COL_TEXT },
};
#define TENANT_NCOLS ((int)ARRAY_LEN(tenant_cols))

static const char *const statuses[] = { "active", "suspended", "trial", NULL };
static const char *const plans[] = { "trial", "basic", "pro", "enterprise", NULL };
/* Indexed by enum store_quota. */
static const char *const quota_keys[] = { "max_devices", "max_concurrent_sessions",
	                                  "max_open_tickets", "max_clusters", "max_services" };
/* What a quota is when the tenant's quotas leave it out (0: no limit), by enum
 * store_quota: max_services is the seed's 50 per workspace. */
static const long quota_defaults[] = { 0, 0, 0, 0, 50 };
/* The namespace's resource quotas for cloud services (store_service.h,
 * store_service_limits): accepted in quotas, counted by Kubernetes, not here. */
static const char *const resource_keys[] = { "services_cpu", "services_memory",
	                                     "services_storage", "services_pods" };

/* ---- validation ------------------------------------------------------------------------ */

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* A DNS label of 2..63: [a-z0-9][a-z0-9-]{1,62}, not ending in '-'. */
int store_tenant_code_valid(const char *code)
{
	size_t len = code ? strlen(code) : 0;

	if (len < 2 || len > CODE_MAX || code[0] == '-' || code[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = code[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/* quotas: an object of known keys, each a positive integer. */
static int quotas_check(json_object *quotas, char *why, size_t whylen)
{
	if (!json_object_is_type(quotas, json_type_object)) {
		snprintf(why, whylen, "quotas: must be an object");
		return -1;
	}
	json_object_object_foreach(quotas, key, value)
	{
		int known = 0;
		int64_t n;
		for (size_t i = 0; i < ARRAY_LEN(quota_keys); i++)
			known |= strcmp(key, quota_keys[i]) == 0;
		for (size_t i = 0; i < ARRAY_LEN(resource_keys); i++)
			known |= strcmp(key, resource_keys[i]) == 0;
		if (!known) {
			snprintf(why, whylen,
			         "quotas: unknown quota %.64s (max_devices, max_concurrent_sessions, "
			         "max_open_tickets, max_clusters, max_services, services_cpu, "
			         "services_memory, services_storage, services_pods)",
			         key);
			return -1;
		}
		n = json_object_is_type(value, json_type_int) ? json_object_get_int64(value) : 0;
		if (n < 1 || n > QUOTA_MAX) {
			snprintf(why, whylen,
			         "quotas: %s must be a whole number from 1 to %ld (leave it out for no "
			         "limit)",
			         key, QUOTA_MAX);
			return -1;
		}
	}
	return 0;
}

int store_tenant_fields_check(const struct store_tenant_fields *f, int create,
                              const char **field, char *why, size_t whylen)
{
	char ts[TIMESTAMP_LEN];

	if (create && !f->code) {
		*field = "code";
		snprintf(why, whylen, "code: is required");
		return -1;
	}
	if (f->code && !store_tenant_code_valid(f->code)) {
		*field = "code";
		snprintf(why, whylen,
		         "code: must be 2 to 63 lower-case letters, digits and '-', starting and "
		         "ending with a letter or digit (it becomes a subdomain)");
		return -1;
	}
	if (create && !f->name) {
		*field = "name";
		snprintf(why, whylen, "name: is required");
		return -1;
	}
	if (f->name && !f->name[0]) {
		*field = "name";
		snprintf(why, whylen, "name: must not be empty");
		return -1;
	}
	if (f->status && !in_list(f->status, statuses)) {
		*field = "status";
		snprintf(why, whylen, "status: must be active, suspended or trial");
		return -1;
	}
	if (f->plan && !in_list(f->plan, plans)) {
		*field = "plan";
		snprintf(why, whylen, "plan: must be trial, basic, pro or enterprise");
		return -1;
	}
	if (f->settings && !json_object_is_type(f->settings, json_type_object)) {
		*field = "settings";
		snprintf(why, whylen, "settings: must be an object");
		return -1;
	}
	if (f->quotas && quotas_check(f->quotas, why, whylen) != 0) {
		*field = "quotas";
		return -1;
	}
	if (f->trial_ends_at && f->trial_ends_at[0] && ids_timestamp_parse(f->trial_ends_at, ts) != 0) {
		*field = "trial_ends_at";
		snprintf(why, whylen,
		         "trial_ends_at: must be an RFC 3339 date and time, e.g. "
		         "2027-01-31T00:00:00Z (\"\" or null clears it)");
		return -1;
	}
	return 0;
}

/* Checks f and logs what is wrong: callers are expected to have checked already. */
static int fields_ok(const struct store_tenant_fields *f, int create)
{
	const char *field = NULL;
	char why[256];

	if (!f || store_tenant_fields_check(f, create, &field, why, sizeof(why)) != 0) {
		log_error("tenant fields refused: %s", f ? why : "none given");
		return 0;
	}
	return 1;
}

static const char *json_text(json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static long count_of(const char *v)
{
	return v ? strtol(v, NULL, 10) : 0;
}

/* A sum of byte counts: 64 bits whatever a long is. */
static int64_t bytes_of(const char *v)
{
	return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

/* ---- CRUD ----------------------------------------------------------------------------------- */

int store_tenant_create(struct db *db, const struct store_tenant_fields *f, json_object **out)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN], trial[TIMESTAMP_LEN];
	const char *params[9];
	struct db_res *res = NULL;
	int rc;

	if (!fields_ok(f, 1))
		return STORE_ERR;
	ids_uuid7(id);
	store_time(0, now);
	params[0] = id;
	params[1] = f->code;
	params[2] = f->name;
	params[3] = f->status ? f->status : "active";
	params[4] = f->plan ? f->plan : "trial";
	params[5] = f->settings ? json_text(f->settings) : "{}";
	params[6] = f->quotas ? json_text(f->quotas) : "{}";
	params[7] = NULL;
	if (f->trial_ends_at && f->trial_ends_at[0] && ids_timestamp_parse(f->trial_ends_at, trial) == 0)
		params[7] = trial;
	params[8] = now;
	rc = db_exec(db,
	             "INSERT INTO tenants (id, code, name, status, plan, settings, quotas, "
	             "trial_ends_at, created_at, updated_at) "
	             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)" TENANT_RETURNING,
	             9, params, &res);
	if (rc == DB_CONSTRAINT)
		rc = STORE_CONFLICT; /* the code: the id is new */
	else if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = store_row_json(res, 0, tenant_cols, TENANT_NCOLS, out);
	db_res_free(res);
	return rc;
}

int store_tenant_get(struct db *db, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN];
	const char *params[1] = { tenant };

	if (store_id(id, tenant) != 0)
		return STORE_NOT_FOUND;
	return store_row_one(db, TENANT_SELECT " WHERE id = $1", 1, params, tenant_cols,
	                     TENANT_NCOLS, out);
}

int store_tenant_by_code(struct db *db, const char *code, char id_out[UUID_STR_LEN])
{
	char lower[CODE_MAX + 1], id[UUID_STR_LEN];
	const char *params[1] = { lower };
	size_t len = code ? strlen(code) : 0;
	int is_null = 1;
	int rc;

	if (len == 0 || len > CODE_MAX)
		return STORE_NOT_FOUND;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] - 'A' + 'a' : code[i]);
	if (!store_tenant_code_valid(lower))
		return STORE_NOT_FOUND;
	/* PostgreSQL: the SECURITY DEFINER function of migration 0004 (no tenant is known
	 * yet, so row-level security would show nothing). */
	rc = store_one_value(db,
	               db_kind(db) == DB_POSTGRES
	                       ? "SELECT CAST(id AS text) FROM kaiden_tenant_by_code($1)"
	                       : "SELECT id FROM tenants WHERE code = $1",
	               1, params, id, sizeof(id), &is_null);
	if (rc < 0)
		return rc;
	if (rc == 0 || is_null || store_id(id, id_out) != 0)
		return STORE_NOT_FOUND;
	return STORE_OK;
}

int store_tenant_list(struct db *db, const char *status, const char *q,
                      const struct store_page *page, struct store_list *out)
{
	char cursor[UUID_STR_LEN];
	const char *params[5];
	struct buf sql;
	char *pattern = NULL;
	int nparams = 0, limit = store_page_limit(page), rc = STORE_ERR;

	buf_init(&sql, 4096);
	if (page && page->cursor && store_id(page->cursor, cursor) != 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	/* "WHERE TRUE" lets every filter be an " AND ...". */
	if (buf_puts(&sql, TENANT_SELECT " WHERE 1 = 1") != 0)
		goto out;
	if (status && store_sql_and(&sql, "status = $?", params, &nparams, status) != 0)
		goto out;
	if (q && store_sql_search(&sql, params, &nparams, "code", "name", q, &pattern) != 0)
		goto out;
	rc = store_list_run(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
	                    limit, tenant_cols, TENANT_NCOLS, out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* Appends ", column = $n" with value as parameter n. */
static int set_column(struct buf *sql, const char *column, const char **params, int *n,
                      const char *value)
{
	params[*n] = value;
	(*n)++;
	return buf_printf(sql, ", %s = $%d", column, *n);
}

int store_tenant_update(struct db *db, const char *id, const struct store_tenant_fields *f,
                        json_object **out)
{
	char tenant[UUID_STR_LEN], now[TIMESTAMP_LEN], trial[TIMESTAMP_LEN];
	char code[CODE_MAX + 2], status[16];
	const char *params[10];
	struct db_res *res = NULL;
	json_object *row = NULL;
	struct buf sql;
	int n = 2, rc;

	if (store_id(id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (!fields_ok(f, 0))
		return STORE_ERR;
	store_time(0, now);
	buf_init(&sql, 4096);
	rc = db_begin(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	params[0] = tenant;
	rc = db_exec(db, "SELECT code, status FROM tenants WHERE id = $1", 1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	snprintf(code, sizeof(code), "%s", db_res_get(res, 0, 0) ? db_res_get(res, 0, 0) : "");
	snprintf(status, sizeof(status), "%s", db_res_get(res, 0, 1) ? db_res_get(res, 0, 1) : "");
	db_res_free(res);
	res = NULL;
	/* Single mode logs everyone into the default tenant by its fixed id and code; it is
	 * never renamed away nor suspended. */
	if (strcmp(tenant, DEFAULT_TENANT_ID) == 0 &&
	    ((f->code && strcmp(f->code, code) != 0) || (f->status && strcmp(f->status, status) != 0))) {
		rc = STORE_CONFLICT;
		goto out;
	}
	params[1] = now;
	rc = STORE_ERR;
	if (buf_puts(&sql, "UPDATE tenants SET updated_at = $2") != 0 ||
	    (f->code && set_column(&sql, "code", params, &n, f->code) != 0) ||
	    (f->name && set_column(&sql, "name", params, &n, f->name) != 0) ||
	    (f->status && set_column(&sql, "status", params, &n, f->status) != 0) ||
	    (f->plan && set_column(&sql, "plan", params, &n, f->plan) != 0) ||
	    (f->settings && set_column(&sql, "settings", params, &n, json_text(f->settings)) != 0) ||
	    (f->quotas && set_column(&sql, "quotas", params, &n, json_text(f->quotas)) != 0))
		goto out;
	if (f->trial_ends_at) {
		const char *v = NULL;
		if (f->trial_ends_at[0] && ids_timestamp_parse(f->trial_ends_at, trial) == 0)
			v = trial;
		if (set_column(&sql, "trial_ends_at", params, &n, v) != 0)
			goto out;
	}
	if (buf_puts(&sql, " WHERE id = $1" TENANT_RETURNING) != 0)
		goto out;
	rc = db_exec(db, sql.data, n, params, &res);
	if (rc == DB_CONSTRAINT) {
		rc = STORE_CONFLICT; /* the new code is taken */
		goto out;
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = db_res_rows(res) == 1 ? store_row_json(res, 0, tenant_cols, TENANT_NCOLS, &row)
	                           : STORE_NOT_FOUND;
out:
	rc = store_tx_end(db, rc, row, out);
	db_res_free(res);
	buf_clear(&sql);
	return rc;
}

/* Runs one statement with the tenant id as $1 (a delete of its rows). */
static int exec_tenant(struct db *db, const char *sql, const char *tenant)
{
	const char *params[1] = { tenant };
	int rc = db_exec(db, sql, 1, params, NULL);

	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_tenant_delete(struct db *db, const char *id)
{
	char tenant[UUID_STR_LEN], sql[128];
	const char *params[1] = { tenant }, *table;
	int rc;

	if (store_id(id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (strcmp(tenant, DEFAULT_TENANT_ID) == 0)
		return STORE_CONFLICT;
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = store_one_value(db, "SELECT id FROM tenants WHERE id = $1", 1, params, NULL, 0, NULL);
	if (rc <= 0) {
		rc = rc == 0 ? STORE_NOT_FOUND : rc;
		goto out;
	}
	/* A live session holds a tunnel and Cloudflare objects that only helperd's end of
	 * the session removes: deleting its row would orphan them. */
	rc = store_one_value(db,
	               "SELECT id FROM sessions WHERE tenant_id = $1 AND "
	               "status IN " SEAM_SQL_LIVE " LIMIT 1",
	               1, params, NULL, 0, NULL);
	if (rc != 0) {
		rc = rc > 0 ? STORE_CONFLICT : rc;
		goto out;
	}
	/* Its rows in every table the archive knows (store_archive.h: the one list of
	 * tables that hold a tenant's rows), but its audit entries. Tables this database
	 * does not have (an older schema) are skipped. */
	for (size_t i = 0; (table = store_archive_delete_order(i)); i++) {
		rc = store_table_exists(db, table);
		if (rc < 0)
			goto out;
		if (rc == 0)
			continue;
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant_id = $1", table);
		rc = exec_tenant(db, sql, tenant);
		if (rc != STORE_OK)
			goto out;
	}
	rc = exec_tenant(db, "DELETE FROM tenants WHERE id = $1", tenant);
	if (rc == STORE_OK && db_commit(db) != DB_OK)
		rc = STORE_ERR;
out:
	if (rc != STORE_OK)
		db_rollback(db);
	return rc;
}

/* ---- quotas and usage ------------------------------------------------------------------ */

/* The tenant's quotas object (owned), or NULL with *rc set. */
static json_object *quotas_get(struct db *db, const char *tenant, int *rc)
{
	const char *params[1] = { tenant };
	struct db_res *res = NULL;
	json_object *quotas = NULL;
	int r = db_exec(db, "SELECT quotas FROM tenants WHERE id = $1", 1, params, &res);

	if (r != DB_OK) {
		*rc = store_rc_of(r);
	} else if (db_res_rows(res) == 0) {
		*rc = STORE_NOT_FOUND;
	} else {
		const char *text = db_res_get(res, 0, 0);
		quotas = text ? json_tokener_parse(text) : NULL;
		if (!quotas || !json_object_is_type(quotas, json_type_object)) {
			/* Checked on the way in; a hand-edited row means no limits, loudly. */
			log_error("tenant=%s quotas are not a JSON object: ignored", tenant);
			json_object_put(quotas);
			quotas = json_object_new_object();
		}
		*rc = quotas ? STORE_OK : STORE_ERR;
	}
	db_res_free(res);
	return quotas;
}

int store_tenant_quota_check(struct db *db, const char *id, enum store_quota q, long *limit)
{
	char tenant[UUID_STR_LEN], count[32];
	const char *params[1] = { tenant };
	/* What each quota counts, by enum store_quota. */
	static const char *const count_sql[] = {
		/* standalone machines: a cluster's nodes are bounded by max_clusters */
		"SELECT count(*) FROM devices WHERE tenant_id = $1 AND deleted_at IS NULL AND "
		"cluster_id IS NULL",
		"SELECT count(*) FROM sessions WHERE tenant_id = $1 AND status IN " SEAM_SQL_LIVE,
		"SELECT count(*) FROM tickets WHERE tenant_id = $1 AND status IN "
		STORE_SQL_TICKET_OPEN,
		"SELECT count(*) FROM clusters WHERE tenant_id = $1 AND deleted_at IS NULL",
		"SELECT count(*) FROM cloud_services WHERE tenant_id = $1 AND deleted_at IS NULL",
	};
	const char *key;
	json_object *quotas, *v;
	int64_t max;
	int rc;

	if (store_id(id, tenant) != 0 || (size_t)q >= ARRAY_LEN(quota_keys))
		return STORE_NOT_FOUND;
	key = quota_keys[q];
	/* PostgreSQL: READ COMMITTED would let two creates both count N-1; the lock makes
	 * the second count after the first committed. SQLite's BEGIN IMMEDIATE serialises
	 * writers already. */
	if (db_kind(db) == DB_POSTGRES) {
		rc = db_exec(db, "SELECT pg_advisory_xact_lock(" QUOTA_LOCK_CLASS ", hashtext($1))", 1,
		             params, NULL);
		if (rc != DB_OK)
			return store_rc_of(rc);
	}
	quotas = quotas_get(db, tenant, &rc);
	if (!quotas)
		return rc;
	if (json_object_object_get_ex(quotas, key, &v) && json_object_is_type(v, json_type_int))
		max = json_object_get_int64(v);
	else
		max = quota_defaults[q];
	if (max <= 0) {
		json_object_put(quotas);
		return STORE_OK;
	}
	json_object_put(quotas);
	rc = store_one_value(db, count_sql[q], 1, params, count, sizeof(count), NULL);
	if (rc < 0)
		return rc;
	if (rc == 1 && count_of(count) >= max) {
		if (limit)
			*limit = (long)max;
		return STORE_CONFLICT;
	}
	return STORE_OK;
}

int store_tenant_quota_begin(struct db *db, const char *tenant, enum store_quota q)
{
	int rc = db_begin(db);

	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = store_tenant_quota_check(db, tenant, q, NULL);
	if (rc == STORE_OK)
		return STORE_OK;
	db_rollback(db);
	return rc == STORE_CONFLICT ? STORE_QUOTA : rc;
}

int store_tenant_usage(struct db *db, const char *id, json_object **out)
{
	/* One round trip for the counts. Minutes run from a session's start to its end (or
	 * now, while it lives), for the sessions started this month (UTC). */
#define USAGE_COUNTS                                                                         \
	"SELECT (SELECT count(*) FROM devices WHERE tenant_id = $1 AND deleted_at IS NULL), " \
	"(SELECT count(*) FROM devices WHERE tenant_id = $1 AND deleted_at IS NULL AND "      \
	STORE_SQL_DEVICE_ONLINE("") "), "                                                     \
	"(SELECT count(*) FROM sessions WHERE tenant_id = $1 AND "                            \
	"status IN " SEAM_SQL_LIVE "), "                                                      \
	"(SELECT count(*) FROM sessions WHERE tenant_id = $1 AND started_at >= $2), "     \
	"(SELECT count(*) FROM tickets WHERE tenant_id = $1 AND "                           \
	"status IN " STORE_SQL_TICKET_OPEN "), "                                              \
	"(SELECT count(*) FROM clusters WHERE tenant_id = $1 AND deleted_at IS NULL), "
	/* What the relay carried for those sessions (the bytes of a session that runs over
	 * the turn of a month count in the month it started, as its minutes do). */
#define USAGE_BYTES                                                                          \
	"(SELECT coalesce(sum(bytes_in), 0) FROM sessions WHERE tenant_id = $1 AND "          \
	"started_at >= $2), "                                                                 \
	"(SELECT coalesce(sum(bytes_out), 0) FROM sessions WHERE tenant_id = $1 AND "         \
	"started_at >= $2), "                                                                 \
	"(SELECT count(*) FROM cloud_services WHERE tenant_id = $1 AND deleted_at IS NULL)"
	static const char sql_pg[] = USAGE_COUNTS
		"(SELECT coalesce(sum(extract(epoch FROM (coalesce(ended_at, CAST($3 AS timestamptz)) "
		"- started_at))), 0) FROM sessions WHERE tenant_id = $1 AND started_at >= $2), "
		USAGE_BYTES;
	static const char sql_sqlite[] = USAGE_COUNTS
		"(SELECT coalesce(sum((julianday(coalesce(ended_at, $3)) - julianday(started_at)) "
		"* 86400.0), 0) FROM sessions WHERE tenant_id = $1 AND started_at >= $2), "
		USAGE_BYTES;
#undef USAGE_COUNTS
#undef USAGE_BYTES
	char tenant[UUID_STR_LEN], now[TIMESTAMP_LEN], month[TIMESTAMP_LEN];
	const char *params[3] = { tenant, month, now };
	struct db_res *res = NULL;
	json_object *usage = NULL, *tenant_row = NULL, *tables = NULL, *quotas = NULL;
	long users = 0;
	double seconds;
	int rc;

	if (store_id(id, tenant) != 0)
		return STORE_NOT_FOUND;
	rc = store_tenant_get(db, tenant, &tenant_row);
	if (rc != STORE_OK)
		return rc;
	store_time(0, now);
	/* The first of this month, 00:00 UTC: the text sorts as the time does. */
	snprintf(month, sizeof(month), "%.8s01T00:00:00.000Z", now);
	rc = db_exec(db, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, 3, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = store_table_exists(db, "users");
	if (rc == 1) {
		char v[32];
		const char *p[1] = { tenant };
		rc = store_one_value(db, "SELECT count(*) FROM users WHERE tenant_id = $1", 1, p, v,
		               sizeof(v), NULL);
		users = rc == 1 ? count_of(v) : 0;
	}
	if (rc < 0)
		goto out;
	rc = store_archive_tables(db, tenant, &tables);
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	usage = json_object_new_object();
	if (!usage || db_res_rows(res) != 1)
		goto out;
	seconds = db_res_get(res, 0, 6) ? strtod(db_res_get(res, 0, 6), NULL) : 0;
	json_object_object_add(usage, "devices", json_object_new_int64(count_of(db_res_get(res, 0, 0))));
	json_object_object_add(usage, "devices_online",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 1))));
	json_object_object_add(usage, "sessions_active",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 2))));
	json_object_object_add(usage, "sessions_this_month",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 3))));
	json_object_object_add(usage, "open_tickets",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 4))));
	json_object_object_add(usage, "clusters",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 5))));
	json_object_object_add(usage, "session_minutes_this_month",
	                       json_object_new_int64(seconds > 0 ? (int64_t)(seconds / 60) : 0));
	json_object_object_add(usage, "relay_bytes_in_this_month",
	                       json_object_new_int64(bytes_of(db_res_get(res, 0, 7))));
	json_object_object_add(usage, "relay_bytes_out_this_month",
	                       json_object_new_int64(bytes_of(db_res_get(res, 0, 8))));
	json_object_object_add(usage, "services",
	                       json_object_new_int64(count_of(db_res_get(res, 0, 9))));
	json_object_object_add(usage, "users", json_object_new_int64(users));
	json_object_object_add(usage, "storage_bytes",
	                       json_object_new_int64((int64_t)strlen(json_text(tables))));
	if (json_object_object_get_ex(tenant_row, "quotas", &quotas))
		json_object_object_add(usage, "quotas", json_object_get(quotas));
	*out = usage;
	usage = NULL;
	rc = STORE_OK;
out:
	json_object_put(usage);
	json_object_put(tables);
	json_object_put(tenant_row);
	db_res_free(res);
	return rc;
}

