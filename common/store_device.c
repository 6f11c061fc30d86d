/* store_device.c: devices (registered machines or nodes), tenant-scoped.
 *
 * Deleting is soft (deleted_at), so a device's session history keeps its reference; a
 * deleted device never lists, gets or authenticates again. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"
#include "store_tenant.h"
#include "store_webhook.h"

/* The columns of the device JSON (store_device.h), shared with store_cluster.c's nodes. */
#define DEVICE_SELECT "SELECT " STORE_DEVICE_COLUMNS " FROM devices"
#define DEVICE_RETURNING " RETURNING " STORE_DEVICE_COLUMNS
/* One live device of a tenant: $1 the tenant, $2 the device. */
#define DEVICE_GET DEVICE_SELECT " WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"

const struct store_col store_device_cols[] = {
	{ "id", STORE_COL_TEXT },          { "name", STORE_COL_TEXT },
	{ "status", STORE_COL_TEXT },      { "last_seen", STORE_COL_TEXT },
	{ "hostname", STORE_COL_TEXT },    { "os", STORE_COL_TEXT },
	{ "ip_address", STORE_COL_TEXT },  { "agent_version", STORE_COL_TEXT },
	{ "cluster_id", STORE_COL_TEXT },  { "node_name", STORE_COL_TEXT },
	{ "labels", STORE_COL_JSON },      { "node_status", STORE_COL_TEXT },
	{ "unschedulable", STORE_COL_BOOL }, { "resources", STORE_COL_JSON },
	{ "versions", STORE_COL_JSON },    { "node_reason", STORE_COL_TEXT },
	{ "node_updated_at", STORE_COL_TEXT }, { "created_at", STORE_COL_TEXT },
};
const int store_device_ncols = (int)ARRAY_LEN(store_device_cols);

int store_device_create(struct db *db, const char *tenant_id, const char *name,
                        const char *secret_hash, json_object **out)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[5] = { id, tenant, name, secret_hash, now };
	json_object *device = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (!name || !secret_hash) {
		log_error("tenant=%s device create without a name or secret hash", tenant);
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	/* The quota is counted and the row added in one transaction (store_tenant.h). */
	rc = store_tenant_quota_begin(db, tenant, QUOTA_DEVICES);
	if (rc != STORE_OK)
		return rc;
	rc = store_row_one(db,
	                   "INSERT INTO devices (id, tenant_id, name, secret_hash, created_at, "
	                   "updated_at) VALUES ($1, $2, $3, $4, $5, $5)" DEVICE_RETURNING,
	                   5, params, store_device_cols, store_device_ncols, &device);
	if (rc == STORE_OK)
		rc = store_webhook_emit(db, tenant, "device.registered", device);
	return store_tx_end(db, rc, device, out);
}

int store_device_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN];
	const char *params[2] = { tenant, device };

	if (store_id(tenant_id, tenant) != 0 || store_id(id, device) != 0)
		return STORE_NOT_FOUND;
	return store_row_one(db, DEVICE_GET, 2, params, store_device_cols, store_device_ncols,
	                     out);
}

int store_device_get_text(struct db *db, const char *tenant_id, const char *id,
                          struct buf *out)
{
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN];
	const char *params[2] = { tenant, device };

	if (store_id(tenant_id, tenant) != 0 || store_id(id, device) != 0)
		return STORE_NOT_FOUND;
	return store_row_one_text(db, DEVICE_GET, 2, params, store_device_cols,
	                          store_device_ncols, out);
}

int store_device_list(struct db *db, const char *tenant_id, const char *status,
                      const char *q, const struct store_page *page, struct store_list *out)
{
	return store_device_list_cluster(db, tenant_id, NULL, status, q, page, out);
}

int store_device_list_cluster(struct db *db, const char *tenant_id, const char *cluster_id,
                              const char *status, const char *q,
                              const struct store_page *page, struct store_list *out)
{
	char tenant[UUID_STR_LEN], cursor[UUID_STR_LEN], cluster[UUID_STR_LEN];
	const char *params[6];
	struct buf sql;
	char *pattern = NULL;
	int nparams = 1, limit = store_page_limit(page), rc = STORE_ERR;

	buf_init(&sql, 4096);
	if (store_id(tenant_id, tenant) != 0 ||
	    (cluster_id && store_id(cluster_id, cluster) != 0) ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0)) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	params[0] = tenant;
	if (buf_puts(&sql, DEVICE_SELECT " WHERE tenant_id = $1 AND deleted_at IS NULL") != 0)
		goto out;
	if (cluster_id && store_sql_and(&sql, "cluster_id = $?", params, &nparams, cluster) != 0)
		goto out;
	/* The derived status (STORE_SQL_DEVICE_ONLINE), as the items show it. */
	if (status && store_sql_and(&sql,
	                            "CASE WHEN " STORE_SQL_DEVICE_ONLINE("")
	                            " THEN 'online' ELSE 'offline' END = $?",
	                            params, &nparams, status) != 0)
		goto out;
	if (q && store_sql_search(&sql, params, &nparams, "name", "hostname", q, &pattern) != 0)
		goto out;
	/* The biggest list (a page of 50 is 900 values): written as text, not objects. */
	rc = store_list_run_text(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
	                         limit, store_device_cols, store_device_ncols, out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

int store_device_delete(struct db *db, const char *tenant_id, const char *id)
{
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[3] = { tenant, device, now };
	struct db_res *res = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, device) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = store_device_lock(db, tenant, device, 1);
	if (rc != STORE_OK)
		goto out;
	rc = db_exec(db,
	             "SELECT id FROM sessions WHERE tenant_id = $1 AND device_id = $2 AND "
	             "status IN " SEAM_SQL_LIVE " LIMIT 1",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) > 0) {
		rc = STORE_CONFLICT;
		goto out;
	}
	rc = db_exec(db,
	             "UPDATE devices SET deleted_at = $3, updated_at = $3 "
	             "WHERE tenant_id = $1 AND id = $2",
	             3, params, NULL);
	if (rc == DB_OK)
		rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	db_res_free(res);
	if (rc != STORE_OK)
		db_rollback(db);
	return rc;
}

int store_device_set_secret(struct db *db, const char *tenant_id, const char *id,
                            const char *secret_hash, json_object **out)
{
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[4] = { tenant, device, secret_hash, now };
	json_object *row = NULL;
	struct db_res *res = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, device) != 0)
		return STORE_NOT_FOUND;
	if (!secret_hash) {
		log_error("tenant=%s device %s secret change without a hash", tenant, device);
		return STORE_ERR;
	}
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	/* The trigger of 0018 bumps secret_version with the hash: the old tickets go stale. */
	rc = store_row_one(db,
	                   "UPDATE devices SET secret_hash = $3, updated_at = $4 WHERE tenant_id = $1 "
	                   "AND id = $2 AND deleted_at IS NULL AND cluster_id IS NULL"
	                   DEVICE_RETURNING,
	                   4, params, store_device_cols, store_device_ncols, &row);
	if (rc == STORE_NOT_FOUND) {
		/* None, or a node: its agent uses the cluster's secret, not this row's hash. */
		if (db_exec(db,
		            "SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 AND "
		            "deleted_at IS NULL AND cluster_id IS NOT NULL",
		            2, params, &res) != DB_OK)
			rc = STORE_ERR;
		else if (db_res_rows(res) > 0)
			rc = STORE_CONFLICT;
		db_res_free(res);
	}
	return store_tx_end(db, rc, row, out);
}
