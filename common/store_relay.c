/* store_relay.c: the relay's reads and writes of session rows (store_relay.h). */
#include "store_relay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_row.h"

#define BATCH_MAX 500

enum { COL_ID, COL_TENANT, COL_DEVICE, COL_ENGINEER, COL_STATUS, COL_PROVIDER, COL_TSTATUS };

int store_relay_session_get_any(struct db *db, const char *id,
                                struct store_relay_session *out)
{
	char sid[UUID_STR_LEN];
	const char *params[1] = { sid };
	struct store_relay_session s;
	struct db_res *res = NULL;
	const char *v;
	int rc;

	if (store_id(id, sid) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db,
	             "SELECT s.id, s.tenant_id, s.device_id, s.engineer_id, s.status, s.provider, "
	             "t.status FROM sessions s JOIN tenants t ON t.id = s.tenant_id "
	             "WHERE s.id = $1",
	             1, params, &res);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) != 1)
		goto out;
	memset(&s, 0, sizeof(s));
	rc = STORE_ERR;
	snprintf(s.id, sizeof(s.id), "%s", db_res_get(res, 0, COL_ID));
	snprintf(s.tenant_id, sizeof(s.tenant_id), "%s", db_res_get(res, 0, COL_TENANT));
	snprintf(s.device_id, sizeof(s.device_id), "%s", db_res_get(res, 0, COL_DEVICE));
	v = db_res_get(res, 0, COL_ENGINEER);
	snprintf(s.engineer_id, sizeof(s.engineer_id), "%s", v ? v : "");
	if (seam_status_parse(db_res_get(res, 0, COL_STATUS), &s.status) != 0 ||
	    seam_provider_parse(db_res_get(res, 0, COL_PROVIDER), &s.provider) != 0) {
		log_error("session=%s relay: unknown status or provider in the row", sid);
		goto out;
	}
	v = db_res_get(res, 0, COL_TSTATUS);
	s.tenant_suspended = v && strcmp(v, "suspended") == 0;
	*out = s;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_relay_standing_any(struct db *db, const char *const *ids, int n,
                             unsigned char *standing)
{
	static const char sql_pg[] =
		"SELECT s.id, s.status, t.status FROM sessions s JOIN tenants t "
		"ON t.id = s.tenant_id WHERE s.id = ANY($1::uuid[])";
	static const char sql_sqlite[] =
		"SELECT s.id, s.status, t.status FROM sessions s JOIN tenants t "
		"ON t.id = s.tenant_id WHERE s.id IN (SELECT value FROM json_each($1))";
	struct db_res *res = NULL;
	struct buf list;
	int rc = STORE_OK;

	if (n <= 0)
		return STORE_OK;
	/* No row: the session (or its tenant) is gone. */
	memset(standing, STORE_RELAY_ENDED, (size_t)n);
	buf_init(&list, (size_t)BATCH_MAX * (UUID_STR_LEN + 4) + 16);
	for (int off = 0; off < n; off += BATCH_MAX) {
		int k = n - off < BATCH_MAX ? n - off : BATCH_MAX;
		const char *params[1];

		buf_reset(&list);
		if (store_row_id_list(db, ids + off, k, &list) != 0) {
			rc = STORE_ERR;
			goto out;
		}
		params[0] = list.data;
		rc = db_exec(db, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, 1, params, &res);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		/* A few sessions at a time: a plain scan finds each row's place. */
		for (int r = 0; r < db_res_rows(res); r++) {
			const char *id = db_res_get(res, r, 0), *status = db_res_get(res, r, 1);
			const char *tstatus = db_res_get(res, r, 2);
			for (int i = off; id && i < off + k; i++) {
				if (strcmp(ids[i], id) != 0)
					continue;
				standing[i] = !seam_status_is(status, SEAM_STATUS_ACTIVE)
				                      ? STORE_RELAY_ENDED
				              : tstatus && strcmp(tstatus, "suspended") == 0
				                      ? STORE_RELAY_SUSPENDED
				                      : STORE_RELAY_LIVE;
			}
		}
		db_res_free(res);
		res = NULL;
	}
	rc = STORE_OK;
out:
	db_res_free(res);
	buf_clear(&list);
	return rc;
}

int store_relay_add_bytes(struct db *db, const char *tenant_id, const char *id,
                          uint64_t bytes_in, uint64_t bytes_out)
{
	char tenant[UUID_STR_LEN], sid[UUID_STR_LEN], in[24], out[24];
	const char *params[4] = { sid, tenant, in, out };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, sid) != 0)
		return STORE_NOT_FOUND;
	if (bytes_in == 0 && bytes_out == 0)
		return STORE_OK;
	snprintf(in, sizeof(in), "%" PRIu64, bytes_in);
	snprintf(out, sizeof(out), "%" PRIu64, bytes_out);
	rc = db_exec(db,
	             "UPDATE sessions SET bytes_in = bytes_in + CAST($3 AS bigint), "
	             "bytes_out = bytes_out + CAST($4 AS bigint) "
	             "WHERE id = $1 AND tenant_id = $2",
	             4, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

int store_relay_holder_any(struct db *db, const char *device_id, char *instance, size_t size)
{
	char id[UUID_STR_LEN];
	const char *params[1] = { id };
	int rc;

	if (store_id(device_id, id) != 0)
		return STORE_NOT_FOUND;
	rc = store_one_value(db, "SELECT helperd FROM devices WHERE id = $1 AND status = 'online' "
	                         "AND deleted_at IS NULL AND helperd IS NOT NULL",
	                     1, params, instance, size, NULL);
	if (rc < 0)
		return rc;
	return rc == 1 && instance[0] ? STORE_OK : STORE_NOT_FOUND;
}
