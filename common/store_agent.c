/* store_agent.c: agent credentials and device presence, for kaiden-helperd's hub.
 *
 * The batched writes take their device ids as one parameter, a list the SQL unpacks
 * (PostgreSQL: a uuid[] literal under = ANY; SQLite: a JSON array under json_each), so
 * that a batch of any size is one statement with fixed text: one prepared statement on
 * PostgreSQL, one cached statement on SQLite, never SQL built from values.
 *
 * Webhooks (store_webhook.h): device.online and device.offline are emitted for real
 * transitions only, each in the transaction that makes it. A presence write that can be
 * one is therefore split in two statements in one transaction: the first changes only
 * the rows whose status moves (and returns them, to emit for), the second does the rest
 * of the old write (rows already in that status: helperd, last_seen). */
#include "store_agent.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_row.h"
#include "store_webhook.h"

/* Ids per statement: a flush of 10,000 heartbeats is a handful of statements, each
 * with a parameter of ~38 bytes per id. */
#define BATCH_MAX 1000

/* One row of (tenant_id, secret_hash, deleted_at, tenant status, secret_version) for id, from sql (what:
 * "device" or "cluster", for the log): store_agent_auth_get and its cluster's twin. */
static int auth_read(struct db *db, const char *sql, const char *what, const char *given,
                     struct store_agent_auth *out)
{
	char id[UUID_STR_LEN];
	const char *params[1] = { id };
	struct db_res *res = NULL;
	const char *hash, *tenant_status;
	int rc;

	if (store_id(given, id) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db, sql, 1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	hash = db_res_get(res, 0, 1);
	if (!hash || strlen(hash) >= SECRET_HASH_LEN) {
		log_error("%s=%s stored secret hash is missing or too long", what, id);
		rc = STORE_ERR;
		goto out;
	}
	tenant_status = db_res_get(res, 0, 3);
	store_text_copy(out->tenant_id, sizeof(out->tenant_id), db_res_get(res, 0, 0));
	store_text_copy(out->secret_hash, sizeof(out->secret_hash), hash);
	out->suspended = tenant_status && strcmp(tenant_status, "suspended") == 0;
	out->gone = db_res_get(res, 0, 2) != NULL || out->suspended;
	out->secret_version = db_res_get(res, 0, 4) ? atoll(db_res_get(res, 0, 4)) : 0;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_agent_auth_get(struct db *db, const char *device_id, struct store_agent_auth *out)
{
	return auth_read(db,
	                 "SELECT d.tenant_id, d.secret_hash, d.deleted_at, t.status, d.secret_version "
	                 "FROM devices d "
	                 "JOIN tenants t ON t.id = d.tenant_id WHERE d.id = $1",
	                 "device", device_id, out);
}

int store_agent_cluster_auth_get(struct db *db, const char *cluster_id,
                                 struct store_agent_auth *out)
{
	return auth_read(db,
	                 "SELECT c.tenant_id, c.secret_hash, c.deleted_at, t.status, c.secret_version "
	                 "FROM clusters c "
	                 "JOIN tenants t ON t.id = c.tenant_id WHERE c.id = $1",
	                 "cluster", cluster_id, out);
}

int store_agent_ticket_key(struct db *db, unsigned char key[TICKET_KEY_LEN])
{
	unsigned char raw[TICKET_KEY_LEN];
	char text[SECRET_TEXT_LEN];
	const char *params[1] = { text };
	struct db_res *res = NULL;
	const char *stored;
	size_t len = 0;
	int rc;

	_Static_assert(TICKET_KEY_LEN == 32, "a ticket key is secret_random_text's 32 bytes");
	secret_random_text(text);
	/* Ours only if no key was there: a second helperd starting at once keeps the first. */
	rc = db_exec(db,
	             "INSERT INTO server_keys (name, secret) VALUES ('agent_ticket', $1) "
	             "ON CONFLICT (name) DO NOTHING",
	             1, params, NULL);
	sodium_memzero(text, sizeof(text));
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db, "SELECT secret FROM server_keys WHERE name = 'agent_ticket'", 0, NULL,
	             &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	stored = db_res_rows(res) == 1 ? db_res_get(res, 0, 0) : NULL;
	if (!stored || sodium_base642bin(raw, sizeof(raw), stored, strlen(stored), NULL, &len,
	                                 NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != sizeof(raw)) {
		/* Said without the value. */
		log_error("server_keys: the agent_ticket key is missing or not 32 bytes of base64url");
		rc = STORE_ERR;
		goto out;
	}
	memcpy(key, raw, sizeof(raw));
	rc = STORE_OK;
out:
	sodium_memzero(raw, sizeof(raw));
	if (res && db_res_rows(res) == 1 && db_res_get(res, 0, 0))
		sodium_memzero((void *)db_res_get(res, 0, 0), strlen(db_res_get(res, 0, 0)));
	db_res_free(res);
	return rc;
}

int store_agent_online(struct db *db, const char *tenant_id, const char *device_id,
                       const char *instance, const struct store_agent_facts *facts)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[8];
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(device_id, id) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	params[0] = tenant;
	params[1] = id;
	params[2] = now;
	params[3] = instance;
	params[4] = facts ? facts->hostname : NULL;
	params[5] = facts ? facts->os : NULL;
	params[6] = facts ? facts->ip_address : NULL;
	params[7] = facts ? facts->agent_version : NULL;
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             "UPDATE devices SET status = 'online', last_seen = $3, helperd = $4, "
	             "hostname = $5, ip_address = $7, agent_version = $8, "
	             /* a node's os comes from its reading (store_agent_node_report) */
	             "os = CASE WHEN cluster_id IS NULL THEN $6 ELSE os END "
	             "WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL "
	             "AND status <> 'online'",
	             8, params, NULL);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_changes(db) == 1) {
		json_object *device = NULL;
		rc = store_device_get(db, tenant, id, &device);
		if (rc == STORE_OK)
			rc = store_webhook_emit(db, tenant, "device.online", device);
		json_object_put(device);
		if (rc != STORE_OK)
			goto out;
	} else {
		/* Online already (another helperd's connection, or a hello again). */
		rc = db_exec(db,
		             "UPDATE devices SET status = 'online', last_seen = $3, helperd = $4, "
		             "hostname = $5, ip_address = $7, agent_version = $8, "
	             /* a node's os comes from its reading (store_agent_node_report) */
	             "os = CASE WHEN cluster_id IS NULL THEN $6 ELSE os END "
		             "WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
		             8, params, NULL);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		if (db_changes(db) != 1) {
			rc = STORE_NOT_FOUND;
			goto out;
		}
	}
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc != STORE_OK)
		db_rollback(db);
	return rc;
}

/* Inside the open transaction: the event type for each (id, tenant_id) row of res whose
 * device still exists (a deleted one has nobody to hear of it). Whether a tenant's
 * hooks want it is asked once per tenant: a helperd releasing thousands of devices
 * costs one query per tenant that has no hook. */
static int emit_devices(struct db *db, const struct db_res *res, const char *type)
{
	json_object *wanted = json_object_new_object(), *w, *device;
	int rc = STORE_OK;

	if (!wanted)
		return STORE_ERR;
	for (int i = 0; rc == STORE_OK && i < db_res_rows(res); i++) {
		const char *id = db_res_get(res, i, 0), *tenant = db_res_get(res, i, 1);
		if (!id || !tenant)
			continue;
		if (!json_object_object_get_ex(wanted, tenant, &w)) {
			int want = store_webhook_wanted(db, tenant, type);
			if (want < 0) {
				rc = want;
				break;
			}
			w = json_object_new_boolean(want);
			json_object_object_add(wanted, tenant, w);
		}
		if (!json_object_get_boolean(w))
			continue;
		device = NULL;
		rc = store_device_get(db, tenant, id, &device);
		if (rc == STORE_OK)
			rc = store_webhook_emit(db, tenant, type, device);
		else if (rc == STORE_NOT_FOUND)
			rc = STORE_OK;
		json_object_put(device);
	}
	json_object_put(wanted);
	return rc;
}

/* Runs sql_pg or sql_sqlite once per BATCH_MAX ids with params ($1 = the id list,
 * then extra[0..nextra)), adding up the changed rows. With event, the statement
 * RETURNs (id, tenant_id) of each row that made that transition (emit_devices). */
static int run_batched(struct db *db, const char *sql_pg, const char *sql_sqlite,
                       const char *const *ids, int n, const char *const *extra, int nextra,
                       const char *event, long *changed)
{
	struct db_res *res = NULL;
	const char *params[4];
	struct buf list;
	long total = 0;
	int rc = STORE_OK;

	if (nextra > 3 || n < 0) {
		log_error("presence batch: bad arguments");
		return STORE_ERR;
	}
	buf_init(&list, (size_t)BATCH_MAX * (UUID_STR_LEN + 4) + 16);
	for (int off = 0; off < n; off += BATCH_MAX) {
		int k = n - off < BATCH_MAX ? n - off : BATCH_MAX;
		buf_reset(&list);
		if (store_row_id_list(db, ids + off, k, &list) != 0) {
			rc = STORE_ERR;
			goto out;
		}
		params[0] = list.data;
		for (int i = 0; i < nextra; i++)
			params[1 + i] = extra[i];
		rc = db_exec(db, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, 1 + nextra,
		             params, event ? &res : NULL);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		total += event ? db_res_rows(res) : db_changes(db);
		if (event && (rc = emit_devices(db, res, event)) != STORE_OK)
			goto out;
		db_res_free(res);
		res = NULL;
	}
	rc = STORE_OK;
	if (changed)
		*changed = total;
out:
	db_res_free(res);
	buf_clear(&list);
	return rc;
}

/* One presence write that can be a transition (the file's header): in one transaction,
 * move (PostgreSQL's and SQLite's texts) changes the rows whose status moves and returns
 * them, to emit event for; rest does the remainder. extra are $2, $3. *moved and
 * *rest_n get the rows of each. */
static int presence_write(struct db *db, const char *const move[2], const char *event,
                          const char *const rest[2], const char *const *device_ids, int n,
                          const char *const extra[2], long *moved, long *rest_n)
{
	int rc = db_begin(db);

	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = run_batched(db, move[0], move[1], device_ids, n, extra, 2, event, moved);
	if (rc == STORE_OK)
		rc = run_batched(db, rest[0], rest[1], device_ids, n, extra, 2, NULL, rest_n);
	if (rc == STORE_OK)
		rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR;
	if (rc != STORE_OK)
		db_rollback(db);
	return rc;
}

/* A device of ours marked offline that one of our agents heartbeats on: another
 * helperd's sweep took us for dead while our heartbeat row was late (store_agent_expire
 * leaves the holder's name on the row). It comes back online, with its device.online. */
int store_agent_seen(struct db *db, const char *instance, const char *const *device_ids,
                     int n, long *changed)
{
	static const char *const back_sql[2] = {
		"UPDATE devices SET status = 'online', last_seen = $2 "
		"WHERE id = ANY($1::uuid[]) AND helperd = $3 AND status = 'offline' "
		"AND deleted_at IS NULL RETURNING id, tenant_id",
		"UPDATE devices SET status = 'online', last_seen = $2 "
		"WHERE id IN (SELECT value FROM json_each($1)) AND helperd = $3 "
		"AND status = 'offline' AND deleted_at IS NULL RETURNING id, tenant_id",
	};
	static const char *const seen_sql[2] = {
		"UPDATE devices SET last_seen = $2 WHERE id = ANY($1::uuid[]) AND helperd = $3",
		"UPDATE devices SET last_seen = $2 "
		"WHERE id IN (SELECT value FROM json_each($1)) AND helperd = $3",
	};
	char now[TIMESTAMP_LEN];
	const char *extra[2] = { now, instance };
	long back = 0, seen = 0;
	int rc;

	store_time(0, now);
	rc = presence_write(db, back_sql, "device.online", seen_sql, device_ids, n, extra, &back,
	                    &seen);
	if (rc != STORE_OK)
		return rc;
	if (back > 0)
		log_warn("worker=%s %ld devices whose agents are connected here were marked offline "
		         "elsewhere (this helperd's heartbeat row was late): online again",
		         instance, back);
	if (changed)
		*changed = seen; /* the rows back online are counted again here */
	return STORE_OK;
}

/* Going offline sets last_seen to now: the agent was connected until this moment, and
 * "offline since last_seen" is what the session module's grace period counts from (a
 * heartbeat-old last_seen would make a device look offline for 20 s already). */
int store_agent_offline(struct db *db, const char *instance, const char *const *device_ids,
                        int n, long *changed)
{
	static const char *const move_sql[2] = {
		"UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $3 "
		"WHERE id = ANY($1::uuid[]) AND helperd = $2 AND status = 'online' "
		"RETURNING id, tenant_id",
		"UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $3 "
		"WHERE id IN (SELECT value FROM json_each($1)) AND helperd = $2 "
		"AND status = 'online' RETURNING id, tenant_id",
	};
	static const char *const rest_sql[2] = {
		"UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $3 "
		"WHERE id = ANY($1::uuid[]) AND helperd = $2",
		"UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $3 "
		"WHERE id IN (SELECT value FROM json_each($1)) AND helperd = $2",
	};
	char now[TIMESTAMP_LEN];
	const char *extra[2] = { instance, now };
	long moved = 0, rest = 0;
	int rc;

	store_time(0, now);
	rc = presence_write(db, move_sql, "device.offline", rest_sql, device_ids, n, extra,
	                    &moved, &rest);
	if (rc != STORE_OK)
		return rc;
	if (changed)
		*changed = moved + rest;
	return STORE_OK;
}

/* Orders indexes into ids (ctx) by id, for the lookups of store_agent_standing. */
static int cmp_index(const void *a, const void *b, void *ctx)
{
	const char *const *ids = ctx;

	return strcmp(ids[*(const int *)a], ids[*(const int *)b]);
}

int store_agent_standing(struct db *db, const char *const *device_ids, int n,
                         unsigned char *standing)
{
	static const char sql_pg[] =
		"SELECT d.id, d.deleted_at, t.status FROM devices d JOIN tenants t "
		"ON t.id = d.tenant_id WHERE d.id = ANY($1::uuid[])";
	static const char sql_sqlite[] =
		"SELECT d.id, d.deleted_at, t.status FROM devices d JOIN tenants t "
		"ON t.id = d.tenant_id WHERE d.id IN (SELECT value FROM json_each($1))";
	struct db_res *res = NULL;
	struct buf list;
	int *order = NULL, rc = STORE_OK;

	if (n <= 0)
		return STORE_OK;
	order = malloc((size_t)n * sizeof(*order));
	if (!order)
		return STORE_ERR;
	buf_init(&list, (size_t)BATCH_MAX * (UUID_STR_LEN + 4) + 16);
	/* No row: the device (and its tenant) were deleted outright. */
	memset(standing, AGENT_DELETED, (size_t)n);
	for (int off = 0; off < n; off += BATCH_MAX) {
		int k = n - off < BATCH_MAX ? n - off : BATCH_MAX;
		const char *params[1];
		buf_reset(&list);
		if (store_row_id_list(db, device_ids + off, k, &list) != 0) {
			rc = STORE_ERR;
			goto out;
		}
		params[0] = list.data;
		rc = db_exec(db, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, 1, params, &res);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		for (int i = 0; i < k; i++)
			order[i] = off + i;
		qsort_r(order, (size_t)k, sizeof(*order), cmp_index, (void *)device_ids);
		for (int r = 0; r < db_res_rows(res); r++) {
			const char *id = db_res_get(res, r, 0), *status = db_res_get(res, r, 2);
			int lo = 0, hi = k - 1;
			while (id && lo <= hi) {
				int mid = (lo + hi) / 2, c = strcmp(device_ids[order[mid]], id);
				if (c == 0) {
					standing[order[mid]] = db_res_get(res, r, 1) ? AGENT_DELETED
					                       : status && strcmp(status, "suspended") == 0
					                               ? AGENT_SUSPENDED
					                               : AGENT_OK;
					break;
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid - 1;
			}
		}
		db_res_free(res);
		res = NULL;
	}
	rc = STORE_OK;
out:
	db_res_free(res);
	buf_clear(&list);
	free(order);
	return rc;
}

int store_agent_release(struct db *db, const char *instance, long *changed)
{
	char now[TIMESTAMP_LEN];
	const char *params[2] = { instance, now };
	struct db_res *res = NULL;
	long moved = 0;
	int rc;

	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             "UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $2 "
	             "WHERE helperd = $1 AND status = 'online' RETURNING id, tenant_id",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	moved = db_res_rows(res);
	rc = emit_devices(db, res, "device.offline");
	if (rc != STORE_OK)
		goto out;
	rc = db_exec(db,
	             "UPDATE devices SET status = 'offline', helperd = NULL, last_seen = $2 "
	             "WHERE helperd = $1",
	             2, params, NULL);
	if (rc == DB_OK) {
		moved += db_changes(db);
		rc = db_commit(db);
	}
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	db_res_free(res);
	if (rc != STORE_OK) {
		db_rollback(db);
		return rc;
	}
	if (changed)
		*changed = moved;
	return STORE_OK;
}

int store_agent_expire(struct db *db, const char *instance, int max_age_seconds,
                       long *changed)
{
	char cutoff[TIMESTAMP_LEN];
	const char *params[2] = { cutoff, instance };
	struct db_res *res = NULL;
	long n = 0;
	int rc;

	store_time(-max_age_seconds, cutoff);
	/* A device online with no last_seen cannot come from helperd (which sets both at
	 * once); it was set by hand, and ages like an old one. A holder that is not live
	 * (helperd_live, migration 0021) died: its devices go at once, whatever last_seen.
	 * The holder's name stays on the row: a holder that was only late finds its own
	 * devices there and takes them back (store_agent_seen); a dead one's restart under
	 * the same name releases them (store_agent_release). */
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             "UPDATE devices SET status = 'offline' "
	             "WHERE status = 'online' AND (helperd IS NULL OR helperd <> $2) AND "
	             "(last_seen IS NULL OR last_seen < $1 OR (helperd IS NOT NULL AND NOT "
	             "EXISTS (SELECT 1 FROM helperd_live hl WHERE hl.instance = devices.helperd))) "
	             "RETURNING id, tenant_id",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	n = db_res_rows(res);
	rc = emit_devices(db, res, "device.offline");
	if (rc == STORE_OK)
		rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR;
out:
	db_res_free(res);
	if (rc != STORE_OK) {
		db_rollback(db);
		return rc;
	}
	if (changed)
		*changed = n;
	return STORE_OK;
}
