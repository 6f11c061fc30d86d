/* store_tunnel.c: the session machine's persistence (store_tunnel.h). Every write is
 * one short statement, so the machine can record each object's id the moment it
 * learns it; the move to active, ended or failed is the one transaction, as it also
 * emits its webhook event (store_webhook.h) and, ended or failed, writes on the
 * session's ticket (store_ticket_session.h). */
#include "store_tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"
#include "store_ticket_session.h"
#include "store_webhook.h"

static const char *const field_columns[STORE_TUNNEL__MAX] = {
	[STORE_TUNNEL_ID] = "tunnel_id",
	[STORE_TUNNEL_WEB_APP] = "access_web_app_id",
	[STORE_TUNNEL_SSH_APP] = "access_ssh_app_id",
	[STORE_TUNNEL_WEB_AUD] = "access_web_aud",
	[STORE_TUNNEL_SSH_AUD] = "access_ssh_aud",
	[STORE_TUNNEL_WEB_DNS] = "dns_web_record_id",
	[STORE_TUNNEL_SSH_DNS] = "dns_ssh_record_id",
};

const char *store_tunnel_column(enum store_tunnel_field field)
{
	return (unsigned)field < STORE_TUNNEL__MAX ? field_columns[field] : NULL;
}

#define LOAD_COLS                                                                          \
	"id, tenant_id, device_id, short_id, status, step, public_url, ssh_hostname, "    \
	"error, ssh_port, web_port, started_at, created_at, tunnel_id, access_web_app_id, " \
	"access_ssh_app_id, access_web_aud, access_ssh_aud, dns_web_record_id, "          \
	"dns_ssh_record_id, "                                                               \
	"(SELECT u.email FROM users u WHERE u.id = sessions.engineer_id), provider"
#define LOAD_FIRST_ID 13
#define LOAD_ENGINEER_EMAIL (LOAD_FIRST_ID + STORE_TUNNEL__MAX)
#define LOAD_PROVIDER (LOAD_ENGINEER_EMAIL + 1)

int store_tunnel_load(struct db *db, const char *tenant_id, const char *id,
                      struct store_tunnel *out)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN];
	const char *params[2] = { tenant, session };
	struct db_res *res = NULL;
	struct store_tunnel t;
	const char *url;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db, "SELECT " LOAD_COLS " FROM sessions WHERE tenant_id = $1 AND id = $2", 2,
	             params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	memset(&t, 0, sizeof(t));
	store_text_copy(t.id, sizeof(t.id), db_res_get(res, 0, 0));
	store_text_copy(t.tenant_id, sizeof(t.tenant_id), db_res_get(res, 0, 1));
	store_text_copy(t.device_id, sizeof(t.device_id), db_res_get(res, 0, 2));
	store_text_copy(t.short_id, sizeof(t.short_id), db_res_get(res, 0, 3));
	store_text_copy(t.status, sizeof(t.status), db_res_get(res, 0, 4));
	store_text_copy(t.step, sizeof(t.step), db_res_get(res, 0, 5));
	url = db_res_get(res, 0, 6);
	if (url && strncmp(url, "https://", 8) == 0)
		url += 8;
	store_text_copy(t.web_hostname, sizeof(t.web_hostname), url);
	store_text_copy(t.ssh_hostname, sizeof(t.ssh_hostname), db_res_get(res, 0, 7));
	store_text_copy(t.error, sizeof(t.error), db_res_get(res, 0, 8));
	t.ssh_port = atoi(db_res_get(res, 0, 9) ? db_res_get(res, 0, 9) : "22");
	t.web_port = atoi(db_res_get(res, 0, 10) ? db_res_get(res, 0, 10) : "8080");
	store_text_copy(t.started_at, sizeof(t.started_at), db_res_get(res, 0, 11));
	store_text_copy(t.created_at, sizeof(t.created_at), db_res_get(res, 0, 12));
	for (int f = 0; f < STORE_TUNNEL__MAX; f++)
		store_text_copy(t.ids[f], sizeof(t.ids[f]), db_res_get(res, 0, LOAD_FIRST_ID + f));
	store_text_copy(t.engineer_email, sizeof(t.engineer_email),
	          db_res_get(res, 0, LOAD_ENGINEER_EMAIL));
	if (seam_provider_parse(db_res_get(res, 0, LOAD_PROVIDER), &t.provider) != 0) {
		/* the schema's CHECK allows only the known providers */
		log_error("session=%s has an unknown provider %s", t.id,
		          db_res_get(res, 0, LOAD_PROVIDER) ? db_res_get(res, 0, LOAD_PROVIDER) : "NULL");
		rc = STORE_ERR;
		goto out;
	}
	*out = t;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_tunnel_set_id(struct db *db, const char *tenant_id, const char *id,
                        enum store_tunnel_field field, const char *value)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN], now[TIMESTAMP_LEN], sql[160];
	const char *params[4] = { tenant, session, value, now };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0 ||
	    !store_tunnel_column(field))
		return STORE_NOT_FOUND;
	store_time(0, now);
	/* The column name comes from the fixed table above, never from input. */
	snprintf(sql, sizeof(sql),
	         "UPDATE sessions SET %s = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
	         field_columns[field]);
	rc = db_exec(db, sql, 4, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}

int store_tunnel_set_step(struct db *db, const char *tenant_id, const char *id,
                          enum seam_step step, const char *error)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[5] = { tenant, session, seam_step_name(step), now, error };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_exec(db,
	             "UPDATE sessions SET step = $3, updated_at = $4, error = "
	             "CASE WHEN CAST($5 AS TEXT) IS NULL THEN error "
	             "ELSE NULLIF(CAST($5 AS TEXT), '') END WHERE tenant_id = $1 AND id = $2",
	             5, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}


/* Splits "a|b|c" into words[] (copies in store); the count, or -1 if too many. */
/* The string forms of the statuses in mask into words (SEAM_STATUS__MAX room); how
 * many. */
static int status_words(unsigned mask, const char *words[])
{
	int n = 0;

	for (int k = 0; k < SEAM_STATUS__MAX; k++)
		if (mask & SEAM_STATUS_BIT(k))
			words[n++] = seam_status_name((enum seam_status)k);
	return n;
}

/* Appends " IN ($k, ...)" for n parameters starting at number first. */
static int sql_in(struct buf *sql, int first, int n)
{
	if (buf_puts(sql, " IN (") != 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (buf_printf(sql, "%s$%d", i ? ", " : "", first + i) != 0)
			return -1;
	return buf_puts(sql, ")");
}

/* The webhook event of a move to status (store_webhook.h), NULL for none. */
static const char *move_event(enum seam_status status)
{
	switch (status) {
	case SEAM_STATUS_ACTIVE:
		return "session.active";
	case SEAM_STATUS_ENDED:
		return "session.ended";
	case SEAM_STATUS_FAILED:
		return "session.failed";
	default:
		return NULL;
	}
}

/* What the first statement hands back for the ticket's comment (store_ticket_session.h). */
#define MOVE_RETURNING " RETURNING ticket_id, started_at, ended_at, notes, error"

/* A move to a status with a webhook event (active, ended, failed) is a transaction of two
 * statements: the first moves the row only from another status (a transition: the event
 * is emitted, once, and a move to ended or failed writes on the session's ticket), the
 * second rewrites step and error of a row already there (no event, no comment). Either
 * way the caller sees one move. */
int store_tunnel_move(struct db *db, const char *tenant_id, const char *id,
                      unsigned from, enum seam_status status, enum seam_step step,
                      const char *error, int *changed)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[6 + SEAM_STATUS__MAX];
	const char *event = move_event(status);
	int final = status == SEAM_STATUS_ENDED || status == SEAM_STATUS_FAILED;
	int nfrom = 0, moved = 0, in_tx = 0, rc = STORE_ERR;
	struct db_res *res = NULL;
	json_object *data = NULL;
	struct buf sql;
	size_t base_len;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0)
		return STORE_NOT_FOUND;
	/* ended and failed are final: a session reaches one of them once, so its ticket
	 * hears of its end once (and its webhook event is sent once). */
	if (final) {
		from = (from ? from : SEAM_STATUSES_LIVE) & SEAM_STATUSES_LIVE;
		if (!from) {
			if (changed)
				*changed = 0;
			return STORE_OK;
		}
	}
	buf_init(&sql, 1024);
	store_time(0, now);
	params[0] = tenant;
	params[1] = session;
	params[2] = seam_status_name(status);
	params[3] = seam_step_name(step);
	params[4] = now;
	params[5] = error; /* NULL keeps the error, "" clears it */
	nfrom = status_words(from, params + 6);
	if (buf_printf(&sql,
	               "UPDATE sessions SET status = $3, step = $4, updated_at = $5, error = "
	               "CASE WHEN CAST($6 AS TEXT) IS NULL THEN error "
	               "ELSE NULLIF(CAST($6 AS TEXT), '') END%s "
	               "WHERE tenant_id = $1 AND id = $2",
	               final ? ", ended_at = $5" : "") != 0)
		goto out;
	base_len = sql.len;
	if (nfrom && (buf_puts(&sql, " AND status") != 0 || sql_in(&sql, 7, nfrom) != 0))
		goto out;
	if (event && buf_puts(&sql, " AND status <> $3") != 0)
		goto out;
	if (buf_puts(&sql, MOVE_RETURNING) != 0)
		goto out;
	if (event) {
		rc = db_begin(db);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		in_tx = 1;
	}
	rc = db_exec(db, sql.data, 6 + nfrom, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	moved = db_res_rows(res) == 1;
	if (moved && final && db_res_get(res, 0, 0)) {
		rc = store_ticket_session_finish(db, tenant, db_res_get(res, 0, 0),
		                                 status == SEAM_STATUS_FAILED, db_res_get(res, 0, 1),
		                                 db_res_get(res, 0, 2), db_res_get(res, 0, 3),
		                                 db_res_get(res, 0, 4), now);
		if (rc != STORE_OK)
			goto out;
	}
	if (moved && event) {
		rc = store_session_get(db, tenant, session, &data);
		if (rc == STORE_OK)
			rc = store_webhook_emit(db, tenant, event, data);
		if (rc != STORE_OK)
			goto out;
	} else if (event && (!from || (from & SEAM_STATUS_BIT(status)))) {
		/* Already there: step and error only. */
		sql.len = base_len;
		sql.data[base_len] = '\0';
		if (buf_puts(&sql, " AND status = $3") != 0) {
			rc = STORE_ERR;
			goto out;
		}
		rc = db_exec(db, sql.data, 6, params, NULL);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		moved = db_changes(db) == 1;
	}
	if (in_tx) {
		rc = db_commit(db);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		in_tx = 0;
	}
	if (changed)
		*changed = moved;
	rc = STORE_OK;
out:
	if (in_tx)
		db_rollback(db);
	db_res_free(res);
	json_object_put(data);
	buf_clear(&sql);
	return rc;
}

int store_tunnel_short_state(struct db *db, const char *short_id, enum store_short *out)
{
	const char *params[1] = { short_id };
	struct db_res *res = NULL;
	enum store_short state = STORE_SHORT_NONE;
	int rc;

	rc = db_exec(db, "SELECT status FROM sessions WHERE short_id = $1", 1, params, &res);
	if (rc != DB_OK) {
		db_res_free(res);
		return store_rc_of(rc);
	}
	for (int i = 0; i < db_res_rows(res); i++) {
		const char *status = db_res_get(res, i, 0);
		enum seam_status st;
		int live = seam_status_parse(status, &st) == 0 &&
		           (SEAM_STATUSES_LIVE & SEAM_STATUS_BIT(st));
		state = live ? STORE_SHORT_LIVE
		             : state == STORE_SHORT_LIVE ? state : STORE_SHORT_DONE;
	}
	db_res_free(res);
	*out = state;
	return STORE_OK;
}

int store_tunnel_due(struct db *db, int max_duration, int offline_grace,
                     struct store_tunnel_due *due, int max, int *n)
{
	char started_before[TIMESTAMP_LEN], seen_before[TIMESTAMP_LEN], limit[16];
	const char *params[5] = { started_before, seen_before, limit,
		                  seam_status_name(SEAM_STATUS_PENDING),
		                  seam_status_name(SEAM_STATUS_ACTIVE) };
	struct db_res *res = NULL;
	int rows, rc;

	store_time(-max_duration, started_before);
	store_time(-offline_grace, seen_before);
	snprintf(limit, sizeof(limit), "%d", max);
	/* A device that never reported a last_seen counts from the session's start. */
	rc = db_exec(db,
	             "SELECT s.tenant_id, s.id, s.device_id, "
	             "CASE WHEN s.started_at < $1 THEN 0 ELSE 1 END "
	             "FROM sessions s JOIN devices d "
	             "ON d.tenant_id = s.tenant_id AND d.id = s.device_id "
	             "WHERE s.status IN ($4, $5) AND (s.started_at < $1 OR "
	             "(d.status = 'offline' AND COALESCE(d.last_seen, s.started_at) < $2)) "
	             "ORDER BY s.started_at LIMIT $3",
	             5, params, &res);
	if (rc != DB_OK) {
		db_res_free(res);
		return store_rc_of(rc);
	}
	rows = db_res_rows(res);
	if (rows > max)
		rows = max;
	for (int i = 0; i < rows; i++) {
		memset(&due[i], 0, sizeof(due[i]));
		store_text_copy(due[i].tenant_id, sizeof(due[i].tenant_id), db_res_get(res, i, 0));
		store_text_copy(due[i].id, sizeof(due[i].id), db_res_get(res, i, 1));
		store_text_copy(due[i].device_id, sizeof(due[i].device_id), db_res_get(res, i, 2));
		due[i].offline = atoi(db_res_get(res, i, 3) ? db_res_get(res, i, 3) : "0");
	}
	*n = rows;
	db_res_free(res);
	return STORE_OK;
}

int store_tunnel_device_sessions(struct db *db, const char *device_id, unsigned statuses,
                                 char (*ids)[UUID_STR_LEN], char (*tenants)[UUID_STR_LEN],
                                 enum seam_status *states, int max, int *n)
{
	char device[UUID_STR_LEN], limit[16];
	const char *params[2 + SEAM_STATUS__MAX];
	struct db_res *res = NULL;
	struct buf sql;
	int nwords, rows, rc = STORE_ERR;

	if (store_id(device_id, device) != 0)
		return STORE_NOT_FOUND;
	buf_init(&sql, 1024);
	snprintf(limit, sizeof(limit), "%d", max);
	params[0] = device;
	params[1] = limit;
	nwords = status_words(statuses, params + 2);
	if (nwords <= 0)
		goto out;
	if (buf_puts(&sql, "SELECT id, tenant_id, status FROM sessions WHERE device_id = $1 "
	                   "AND status") != 0 ||
	    sql_in(&sql, 3, nwords) != 0 || buf_puts(&sql, " ORDER BY id LIMIT $2") != 0)
		goto out;
	rc = db_exec(db, sql.data, 2 + nwords, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rows = db_res_rows(res);
	if (rows > max)
		rows = max;
	for (int i = 0; i < rows; i++) {
		store_text_copy(ids[i], UUID_STR_LEN, db_res_get(res, i, 0));
		if (tenants)
			store_text_copy(tenants[i], UUID_STR_LEN, db_res_get(res, i, 1));
		if (states && seam_status_parse(db_res_get(res, i, 2), &states[i]) != 0) {
			rc = STORE_ERR; /* the CHECK constraint allows no other */
			goto out;
		}
	}
	*n = rows;
	rc = STORE_OK;
out:
	db_res_free(res);
	buf_clear(&sql);
	return rc;
}

int store_tunnel_count(struct db *db, long counts[SEAM_STATUS__MAX])
{
	struct db_res *res = NULL;
	long c[SEAM_STATUS__MAX] = { 0 };
	int rc;

	rc = db_exec(db, "SELECT status, count(*) FROM sessions GROUP BY status", 0, NULL, &res);
	if (rc != DB_OK) {
		db_res_free(res);
		return store_rc_of(rc);
	}
	for (int i = 0; i < db_res_rows(res); i++) {
		const char *status = db_res_get(res, i, 0), *n = db_res_get(res, i, 1);
		enum seam_status k;
		if (n && seam_status_parse(status, &k) == 0)
			c[k] = atol(n);
	}
	db_res_free(res);
	memcpy(counts, c, sizeof(c));
	return STORE_OK;
}
