/* store_agent_node.c: agents in cluster mode, for kaiden-helperd's hub (store_agent.h):
 * a node's device found or made at hello, and what the agent reads of its node (the
 * cluster's credentials are read beside a device's, in store_agent.c).
 *
 * Across tenants on purpose, as the rest of store_agent: a cluster hello presents only
 * the cluster id (a UUID, unique across tenants); the tenant is looked up, never taken
 * from the agent. */
#include "store_agent.h"

#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "store_row.h"
#include "store_webhook.h"

/* A node's device has no secret of its own: this is not an argon2id hash, so no
 * device hello with the node's device id ever verifies (secret_verify fails on it). */
#define NODE_SECRET_HASH "!cluster"

/* Inside the open transaction: the live device of the node, 1 with its id, 0 if none. */
static int node_find(struct db *db, const char *const *params, char device_out[UUID_STR_LEN])
{
	struct db_res *res = NULL;
	int rc = db_exec(db,
	                 "SELECT id FROM devices WHERE tenant_id = $1 AND cluster_id = $2 AND "
	                 "node_name = $3 AND deleted_at IS NULL",
	                 3, params, &res);

	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0) {
		rc = 0;
	} else {
		store_text_copy(device_out, UUID_STR_LEN, db_res_get(res, 0, 0));
		rc = 1;
	}
	db_res_free(res);
	return rc;
}

/* One attempt in one transaction: STORE_OK, or DB_CONSTRAINT's store code when a
 * concurrent hello for the same node inserted first (PostgreSQL; the caller tries
 * again and finds that one). */
static int join_once(struct db *db, const char *tenant, const char *cluster,
                     const char *node_name, char device_out[UUID_STR_LEN], int *created)
{
	static const char lock_pg[] =
		"SELECT id FROM clusters WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL "
		"FOR SHARE";
	static const char lock_sqlite[] =
		"SELECT id FROM clusters WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *find[3] = { tenant, cluster, node_name };
	const char *insert[5] = { id, tenant, cluster, node_name, now };
	struct db_res *res = NULL;
	json_object *device = NULL;
	int rc;

	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	/* The cluster, shared-locked on PostgreSQL: a cluster delete (which locks it to
	 * update) waits for this transaction and then deletes the node it made too, or ran
	 * first and this finds no cluster. SQLite's BEGIN IMMEDIATE serialises writers. */
	rc = db_exec(db, db_kind(db) == DB_POSTGRES ? lock_pg : lock_sqlite, 2, find, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	rc = node_find(db, find, device_out);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		*created = 0;
		rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR;
		goto out;
	}
	ids_uuid7(id);
	store_time(0, now);
	db_res_free(res);
	res = NULL;
	rc = db_exec(db,
	             "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name, "
	             "created_at, updated_at) VALUES ($1, $2, $4, '" NODE_SECRET_HASH "', $3, $4, "
	             "$5, $5) RETURNING " STORE_DEVICE_COLUMNS,
	             5, insert, &res);
	if (rc == DB_CONSTRAINT)
		rc = STORE_CONFLICT; /* the live (cluster_id, node_name) index */
	else if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = store_row_json(res, 0, store_device_cols, store_device_ncols, &device);
	if (rc == STORE_OK)
		rc = store_webhook_emit(db, tenant, "device.registered", device);
	if (rc == STORE_OK)
		rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR;
	if (rc == STORE_OK) {
		memcpy(device_out, id, UUID_STR_LEN);
		*created = 1;
	}
out:
	json_object_put(device);
	db_res_free(res);
	if (rc != STORE_OK)
		db_rollback(db);
	return rc;
}

int store_agent_node_join(struct db *db, const char *tenant_id, const char *cluster_id,
                          const char *node_name, char device_out[UUID_STR_LEN], int *created)
{
	char tenant[UUID_STR_LEN], cluster[UUID_STR_LEN], device[UUID_STR_LEN];
	int made = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(cluster_id, cluster) != 0 ||
	    !node_name || !*node_name)
		return STORE_NOT_FOUND;
	rc = join_once(db, tenant, cluster, node_name, device, &made);
	/* Another helperd made the node between our look and our insert: it is there now. */
	if (rc == STORE_CONFLICT)
		rc = join_once(db, tenant, cluster, node_name, device, &made);
	if (rc != STORE_OK)
		return rc;
	memcpy(device_out, device, UUID_STR_LEN);
	if (created)
		*created = made;
	return STORE_OK;
}

/* The node's operating system as a device's `os` says a machine's ("Debian GNU/Linux 12
 * (bookworm); Linux 6.1.0-26-amd64"), from the reading's versions (os_image, kernel);
 * "" when the reading has no os_image. The agent's hello says its container's, which
 * is not the node's. */
static void node_os(const char *versions, char *out, size_t outlen)
{
	json_object *v = json_tokener_parse(versions);
	const char *image = jsonx_str(v, "os_image"), *kernel = jsonx_str(v, "kernel");

	out[0] = '\0';
	if (image && *image) {
		if (kernel && *kernel)
			snprintf(out, outlen, "%s; Linux %s", image, kernel);
		else
			snprintf(out, outlen, "%s", image);
	}
	json_object_put(v);
}

int store_agent_node_report(struct db *db, const char *tenant_id, const char *device_id,
                            const struct store_agent_node *node)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN], os[600];
	const char *params[9];
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(device_id, id) != 0)
		return STORE_NOT_FOUND;
	if (!node || (!node->reason && (!node->labels || !node->node_status ||
	                                !node->resources || !node->versions))) {
		log_error("device=%s node report without its values", id);
		return STORE_ERR;
	}
	store_time(0, now);
	params[0] = tenant;
	params[1] = id;
	params[2] = now;
	if (node->reason) {
		params[3] = node->reason;
		rc = db_exec(db,
		             "UPDATE devices SET node_reason = $4, node_updated_at = $3 WHERE "
		             "tenant_id = $1 AND id = $2 AND cluster_id IS NOT NULL AND "
		             "deleted_at IS NULL",
		             4, params, NULL);
	} else {
		params[3] = node->labels;
		params[4] = node->node_status;
		/* PostgreSQL's boolean takes 1 and 0 as SQLite's integer does. */
		params[5] = node->unschedulable ? "1" : "0";
		params[6] = node->resources;
		params[7] = node->versions;
		node_os(node->versions, os, sizeof(os));
		params[8] = os[0] ? os : NULL;
		rc = db_exec(db,
		             "UPDATE devices SET labels = $4, node_status = $5, unschedulable = $6, "
		             "resources = $7, versions = $8, node_reason = NULL, "
		             "node_updated_at = $3, os = COALESCE($9, os) WHERE tenant_id = $1 "
		             "AND id = $2 AND cluster_id IS NOT NULL AND deleted_at IS NULL",
		             9, params, NULL);
	}
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}
