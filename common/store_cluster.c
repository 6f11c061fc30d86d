/* store_cluster.c: Kubernetes clusters and their nodes, tenant-scoped (store_cluster.h).
 *
 * status and node_count are derived from the cluster's live devices in the query that
 * reads the cluster, never stored: nothing has to keep them in step with the agents. */
#include "store_cluster.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"
#include "store_tenant.h"

/* A cluster's live nodes, correlated with c. */
#define CLUSTER_NODES \
	"FROM devices d WHERE d.tenant_id = c.tenant_id AND d.cluster_id = c.id AND " \
	"d.deleted_at IS NULL"
#define CLUSTER_SELECT                                                                    \
	"SELECT c.id AS id, c.name AS name, CASE WHEN EXISTS (SELECT 1 " CLUSTER_NODES     \
	" AND " STORE_SQL_DEVICE_ONLINE("d.") ") THEN 'online' ELSE 'offline' END AS status, " \
	"(SELECT count(*) " CLUSTER_NODES ") AS node_count, c.created_at AS created_at, " \
	"c.updated_at AS updated_at FROM clusters c"

static const struct store_col cluster_cols[] = {
	{ "id", STORE_COL_TEXT },         { "name", STORE_COL_TEXT },
	{ "status", STORE_COL_TEXT },     { "node_count", STORE_COL_INT },
	{ "created_at", STORE_COL_TEXT }, { "updated_at", STORE_COL_TEXT },
};
#define CLUSTER_NCOLS ((int)ARRAY_LEN(cluster_cols))

/* The live cluster (ids checked). */
static int cluster_read(struct db *db, const char *tenant, const char *cluster,
                        json_object **out)
{
	const char *params[2] = { tenant, cluster };

	return store_row_one(db,
	                     CLUSTER_SELECT " WHERE c.tenant_id = $1 AND c.id = $2 AND "
	                                    "c.deleted_at IS NULL",
	                     2, params, cluster_cols, CLUSTER_NCOLS, out);
}

/* Runs one write of the open transaction on the tenant's live cluster, then reads it
 * back and commits: STORE_NOT_FOUND when no row changed, STORE_CONFLICT when the
 * database refuses the row (a live name taken). */
static int write_and_read(struct db *db, const char *sql, int n, const char *const *params,
                          const char *tenant, const char *cluster, json_object **out)
{
	struct db_res *res = NULL;
	json_object *row = NULL;
	int rc = db_exec(db, sql, n, params, &res);

	if (rc == DB_CONSTRAINT)
		rc = STORE_CONFLICT;
	else if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_res_rows(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
	db_res_free(res);
	if (rc == STORE_OK)
		rc = cluster_read(db, tenant, cluster, &row);
	return store_tx_end(db, rc, row, out);
}

int store_cluster_create(struct db *db, const char *tenant_id, const char *name,
                         const char *secret_hash, json_object **out)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[5] = { id, tenant, name, secret_hash, now };
	int rc;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	if (!name || !secret_hash) {
		log_error("tenant=%s cluster create without a name or secret hash", tenant);
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	/* The quota is counted and the row added in one transaction (store_tenant.h). */
	rc = store_tenant_quota_begin(db, tenant, QUOTA_CLUSTERS);
	if (rc != STORE_OK)
		return rc;
	return write_and_read(db,
	                      "INSERT INTO clusters (id, tenant_id, name, secret_hash, created_at, "
	                      "updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
	                      5, params, tenant, id, out);
}

int store_cluster_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], cluster[UUID_STR_LEN];

	if (store_id(tenant_id, tenant) != 0 || store_id(id, cluster) != 0)
		return STORE_NOT_FOUND;
	return cluster_read(db, tenant, cluster, out);
}

int store_cluster_list(struct db *db, const char *tenant_id, const char *q,
                       const struct store_page *page, struct store_list *out)
{
	char tenant[UUID_STR_LEN], cursor_buf[UUID_STR_LEN];
	const char *params[4], *cursor;
	struct buf sql;
	char *pattern = NULL;
	int nparams = 1, limit = store_page_limit(page), rc;

	rc = store_list_ids(tenant_id, page, tenant, cursor_buf, &cursor);
	if (rc != STORE_OK)
		return rc;
	rc = STORE_ERR;
	buf_init(&sql, 1024);
	params[0] = tenant;
	/* Unqualified names below are c's: the subqueries' d is theirs alone. */
	if (buf_puts(&sql, CLUSTER_SELECT " WHERE tenant_id = $1 AND deleted_at IS NULL") != 0)
		goto out;
	if (q && store_sql_search(&sql, params, &nparams, "name", "name", q, &pattern) != 0)
		goto out;
	rc = store_list_run(db, &sql, params, nparams, cursor, limit, cluster_cols, CLUSTER_NCOLS,
	                    out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* UPDATE clusters SET <column> = $3 of the tenant's live cluster, in a transaction. */
static int cluster_set(struct db *db, const char *tenant_id, const char *id, const char *sql,
                       const char *value, json_object **out)
{
	char tenant[UUID_STR_LEN], cluster[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[4] = { tenant, cluster, value, now };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, cluster) != 0)
		return STORE_NOT_FOUND;
	if (!value)
		return STORE_ERR;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return write_and_read(db, sql, 4, params, tenant, cluster, out);
}

int store_cluster_rename(struct db *db, const char *tenant_id, const char *id,
                         const char *name, json_object **out)
{
	return cluster_set(db, tenant_id, id,
	                   "UPDATE clusters SET name = $3, updated_at = $4 WHERE tenant_id = $1 "
	                   "AND id = $2 AND deleted_at IS NULL RETURNING id",
	                   name, out);
}

int store_cluster_set_secret(struct db *db, const char *tenant_id, const char *id,
                             const char *secret_hash, json_object **out)
{
	return cluster_set(db, tenant_id, id,
	                   "UPDATE clusters SET secret_hash = $3, updated_at = $4 WHERE "
	                   "tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id",
	                   secret_hash, out);
}

int store_cluster_delete(struct db *db, const char *tenant_id, const char *id, int *ended)
{
	char tenant[UUID_STR_LEN], cluster[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[3] = { tenant, cluster, now };
	const char *live[4] = { tenant, cluster, seam_status_name(SEAM_STATUS_PENDING),
		                seam_status_name(SEAM_STATUS_ACTIVE) };
	struct db_res *res = NULL;
	int n = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, cluster) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             "UPDATE clusters SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 "
	             "AND id = $2 AND deleted_at IS NULL RETURNING id",
	             3, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) != 1) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	db_res_free(res);
	res = NULL;
	/* The nodes first: on PostgreSQL this waits for a session create that holds one of
	 * them (store_device_lock, shared), and a create that comes later finds it deleted;
	 * so the sessions read next are all there will be. SQLite's BEGIN IMMEDIATE
	 * serialises writers anyway. */
	rc = db_exec(db,
	             "UPDATE devices SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 "
	             "AND cluster_id = $2 AND deleted_at IS NULL",
	             3, params, NULL);
	if (rc == DB_OK)
		rc = db_exec(db,
		             "SELECT s.id FROM sessions s JOIN devices d ON d.tenant_id = s.tenant_id "
		             "AND d.id = s.device_id WHERE s.tenant_id = $1 AND d.cluster_id = $2 "
		             "AND s.status IN ($3, $4) ORDER BY s.id",
		             4, live, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	for (int i = 0; i < db_res_rows(res); i++) {
		rc = store_session_end_tx(db, tenant, db_res_get(res, i, 0), now, NULL);
		if (rc < 0)
			goto out;
		n += rc;
	}
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	db_res_free(res);
	if (rc != STORE_OK)
		db_rollback(db);
	else if (ended)
		*ended = n;
	return rc;
}

int store_cluster_nodes(struct db *db, const char *tenant_id, const char *id,
                        const char *status, const struct store_page *page,
                        struct store_list *out)
{
	json_object *cluster = NULL;
	int rc = store_cluster_get(db, tenant_id, id, &cluster);

	json_object_put(cluster);
	if (rc != STORE_OK)
		return rc;
	return store_device_list_cluster(db, tenant_id, id, status, NULL, page, out);
}

int store_cluster_node(struct db *db, const char *tenant_id, const char *cluster_id,
                       const char *node_name, char device_out[UUID_STR_LEN], int *online)
{
	char tenant[UUID_STR_LEN], cluster[UUID_STR_LEN];
	const char *params[3] = { tenant, cluster, node_name };
	struct db_res *res = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(cluster_id, cluster) != 0 || !node_name)
		return STORE_NOT_FOUND;
	rc = db_exec(db,
	             "SELECT d.id, CASE WHEN " STORE_SQL_DEVICE_ONLINE("d.") " THEN 'online' "
	             "ELSE 'offline' END FROM devices d JOIN clusters c ON c.tenant_id = "
	             "d.tenant_id AND c.id = d.cluster_id WHERE d.tenant_id = $1 AND "
	             "d.cluster_id = $2 AND d.node_name = $3 AND d.deleted_at IS NULL AND "
	             "c.deleted_at IS NULL",
	             3, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
	} else {
		store_text_copy(device_out, UUID_STR_LEN, db_res_get(res, 0, 0));
		if (online)
			*online = db_res_get(res, 0, 1) && strcmp(db_res_get(res, 0, 1), "online") == 0;
		rc = STORE_OK;
	}
	db_res_free(res);
	return rc;
}
