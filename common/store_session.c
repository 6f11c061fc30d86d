/* store_session.c: support sessions, tenant-scoped.
 *
 * The API only ever moves a session into the lifecycle (create: pending) or towards its
 * end (pending/active -> ending); helperd moves it on (active, ended, failed). Each of
 * the API's moves writes the row and a job for helperd in one transaction and NOTIFYs
 * kaiden_jobs (docs/architecture.md, "Coordination"). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"
#include "store_tenant.h"
#include "store_ticket_session.h"
#include "store_webhook.h"

#define SESSION_COLS                                                                     \
	"id, device_id, status, step, public_url, ssh_hostname, tunnel_id, engineer_name, " \
	"engineer_id, ticket_id, notes, error, ssh_port, web_port, recording_url, "          \
	"started_at, ended_at, created_at, updated_at, provider, bytes_in, bytes_out"
#define SESSION_RETURNING " RETURNING " SESSION_COLS

#define DEFAULT_SSH_PORT 22
#define DEFAULT_WEB_PORT 8080

#define SESSION_COL_DEFS \
	{ "id", STORE_COL_TEXT },           { "device_id", STORE_COL_TEXT }, \
	{ "status", STORE_COL_TEXT },       { "step", STORE_COL_TEXT }, \
	{ "public_url", STORE_COL_TEXT },   { "ssh_hostname", STORE_COL_TEXT }, \
	{ "tunnel_id", STORE_COL_TEXT },    { "engineer_name", STORE_COL_TEXT }, \
	{ "engineer_id", STORE_COL_TEXT },  { "ticket_id", STORE_COL_TEXT }, \
	{ "notes", STORE_COL_TEXT },        { "error", STORE_COL_TEXT }, \
	{ "ssh_port", STORE_COL_INT },      { "web_port", STORE_COL_INT }, \
	{ "recording_url", STORE_COL_TEXT }, { "started_at", STORE_COL_TEXT }, \
	{ "ended_at", STORE_COL_TEXT },     { "created_at", STORE_COL_TEXT }, \
	{ "updated_at", STORE_COL_TEXT },   { "provider", STORE_COL_TEXT }, \
	{ "bytes_in", STORE_COL_INT },      { "bytes_out", STORE_COL_INT }

static const struct store_col session_cols[] = { SESSION_COL_DEFS };
#define SESSION_NCOLS ((int)ARRAY_LEN(session_cols))

/* What reads give besides: the device's name (a deleted device's too: its row stays,
 * soft-deleted), so that a list of sessions needs no request per device. */
#define SESSION_READ                                                                      \
	"SELECT " SESSION_COLS ", (SELECT d.name FROM devices d WHERE d.id = sessions.device_id) " \
	"AS device_name FROM sessions"
static const struct store_col session_read_cols[] = { SESSION_COL_DEFS,
	                                               { "device_name", STORE_COL_TEXT } };
#define SESSION_READ_NCOLS ((int)ARRAY_LEN(session_read_cols))

int store_session_create(struct db *db, const char *tenant_id,
                         const struct store_session_new *s, json_object **out)
{
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char engineer[UUID_STR_LEN], ticket[UUID_STR_LEN];
	char short_id[SHORT_ID_LEN + 1], ssh_port[16], web_port[16];
	char *public_url = NULL, *ssh_hostname = NULL;
	struct db_res *res = NULL;
	json_object *session = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || !s || store_id(s->device_id, device) != 0 ||
	    (s->engineer_id && store_id(s->engineer_id, engineer) != 0) ||
	    (s->ticket_id && store_id(s->ticket_id, ticket) != 0))
		return STORE_NOT_FOUND;
	if (!s->engineer_name || !s->domain || !s->domain[0]) {
		log_error("tenant=%s session create without an engineer name or domain", tenant);
		return STORE_ERR;
	}
	ids_uuid7(id);
	ids_short(short_id);
	store_time(0, now);
	snprintf(ssh_port, sizeof(ssh_port), "%d", s->ssh_port > 0 ? s->ssh_port : DEFAULT_SSH_PORT);
	snprintf(web_port, sizeof(web_port), "%d", s->web_port > 0 ? s->web_port : DEFAULT_WEB_PORT);
	/* Only Cloudflare publishes hostnames; the relay is reached through helperd. */
	if (s->provider == SEAM_PROVIDER_CLOUDFLARE) {
		if (asprintf(&public_url, "https://sess-%s.%s", short_id, s->domain) < 0)
			return STORE_ERR;
		if (asprintf(&ssh_hostname, "sess-%s-ssh.%s", short_id, s->domain) < 0) {
			free(public_url);
			return STORE_ERR;
		}
	}

	rc = db_begin(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = store_device_lock(db, tenant, device, 0);
	if (rc != STORE_OK)
		goto out;
	rc = store_tenant_quota_check(db, tenant, QUOTA_CONCURRENT_SESSIONS, NULL);
	if (rc != STORE_OK) {
		rc = rc == STORE_CONFLICT ? STORE_QUOTA : rc;
		goto out;
	}
	/* The ticket's check and its start comment (store_ticket_session.h). */
	if (s->ticket_id &&
	    (rc = store_ticket_session_start(db, tenant, ticket, device,
	                                     s->engineer_id ? engineer : NULL, s->engineer_name,
	                                     now)) != STORE_OK)
		goto out;
	{
		const char *params[15] = { id,           tenant,   device,   short_id,
		                           public_url,   ssh_hostname, s->engineer_name, s->notes,
		                           ssh_port,     web_port, now, s->engineer_id ? engineer : NULL,
		                           seam_status_name(SEAM_STATUS_PENDING),
		                           seam_provider_name(s->provider),
		                           s->ticket_id ? ticket : NULL };
		rc = db_exec(db,
		             "INSERT INTO sessions (id, tenant_id, device_id, short_id, status, "
		             "public_url, ssh_hostname, engineer_name, notes, ssh_port, web_port, "
		             "started_at, created_at, updated_at, engineer_id, provider, ticket_id) "
		             "VALUES ($1, $2, $3, $4, $13, $5, $6, $7, $8, $9, $10, $11, $11, $11, $12, "
		             "$14, $15)" SESSION_RETURNING,
		             15, params, &res);
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = store_row_json(res, 0, session_cols, SESSION_NCOLS, &session);
	if (rc != STORE_OK)
		goto out;
	rc = store_job_add(db, tenant, SEAM_JOB_SESSION_START, id, now);
	if (rc == STORE_OK)
		rc = store_webhook_emit(db, tenant, "session.started", session);
	if (rc != STORE_OK)
		goto out;
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc == STORE_OK) {
		*out = session;
		session = NULL;
	} else {
		db_rollback(db);
	}
	json_object_put(session);
	db_res_free(res);
	free(public_url);
	free(ssh_hostname);
	return rc;
}

int store_session_get(struct db *db, const char *tenant_id, const char *id,
                      json_object **out)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN];
	const char *params[2] = { tenant, session };

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0)
		return STORE_NOT_FOUND;
	return store_row_one(db, SESSION_READ " WHERE tenant_id = $1 AND id = $2", 2, params,
	                     session_read_cols, SESSION_READ_NCOLS, out);
}

int store_session_list(struct db *db, const char *tenant_id,
                       const struct store_session_filter *f, const struct store_page *page,
                       struct store_list *out)
{
	static const struct store_session_filter none;
	char tenant[UUID_STR_LEN], device[UUID_STR_LEN], cursor[UUID_STR_LEN];
	char engineer[UUID_STR_LEN], ticket[UUID_STR_LEN];
	char since[TIMESTAMP_LEN], until[TIMESTAMP_LEN];
	const char *params[9];
	char *pattern = NULL;
	struct buf sql;
	int nparams = 1, limit = store_page_limit(page), rc = STORE_ERR;

	if (!f)
		f = &none;
	/* Times in the stored form (UTC, milliseconds), so both backends compare alike. */
	if (store_id(tenant_id, tenant) != 0 ||
	    (f->device_id && store_id(f->device_id, device) != 0) ||
	    (f->ticket_id && store_id(f->ticket_id, ticket) != 0) ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0) ||
	    (f->since && ids_timestamp_parse(f->since, since) != 0) ||
	    (f->until && ids_timestamp_parse(f->until, until) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 4096);
	params[0] = tenant;
	if (buf_puts(&sql, SESSION_READ " WHERE tenant_id = $1") != 0)
		goto out;
	if (f->device_id && store_sql_and(&sql, "device_id = $?", params, &nparams, device) != 0)
		goto out;
	if (f->ticket_id && store_sql_and(&sql, "ticket_id = $?", params, &nparams, ticket) != 0)
		goto out;
	if (f->status && store_sql_and(&sql, "status = $?", params, &nparams, f->status) != 0)
		goto out;
	if (f->engineer && store_id(f->engineer, engineer) == 0) {
		if (store_sql_and(&sql, "engineer_id = $?", params, &nparams, engineer) != 0)
			goto out;
	} else if (f->engineer) {
		pattern = store_like_pattern(f->engineer);
		if (!pattern || store_sql_and(&sql, "lower(engineer_name) LIKE lower($?) ESCAPE '\\'",
		                              params, &nparams, pattern) != 0)
			goto out;
	}
	if (f->since && store_sql_and(&sql, "created_at >= $?", params, &nparams, since) != 0)
		goto out;
	if (f->until && store_sql_and(&sql, "created_at < $?", params, &nparams, until) != 0)
		goto out;
	rc = store_list_run(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
	                    limit, session_read_cols, SESSION_READ_NCOLS, out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

int store_session_set_notes(struct db *db, const char *tenant_id, const char *id,
                            const char *notes, json_object **out)
{
	char tenant[UUID_STR_LEN], session[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[4] = { tenant, session, notes, now };

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	return store_row_one(db,
	                     "UPDATE sessions SET notes = $3, updated_at = $4 "
	                     "WHERE tenant_id = $1 AND id = $2" SESSION_RETURNING,
	                     4, params, session_cols, SESSION_NCOLS, out);
}

int store_session_end_tx(struct db *db, const char *tenant, const char *session_id,
                         const char *now, json_object **out)
{
	const char *params[6] = { tenant, session_id, now, seam_status_name(SEAM_STATUS_ENDING),
		                  seam_status_name(SEAM_STATUS_PENDING),
		                  seam_status_name(SEAM_STATUS_ACTIVE) };
	struct db_res *res = NULL;
	json_object *session = NULL;
	int rc;

	/* The state test is in the UPDATE itself, so of two concurrent ends only one
	 * changes the row (and queues a job). */
	rc = db_exec(db,
	             "UPDATE sessions SET status = $4, updated_at = $3 "
	             "WHERE tenant_id = $1 AND id = $2 AND status IN ($5, $6)"
	             SESSION_RETURNING,
	             6, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = 0; /* already ending, ended or failed, or no such session */
		goto out;
	}
	rc = out ? store_row_json(res, 0, session_cols, SESSION_NCOLS, &session) : STORE_OK;
	if (rc == STORE_OK)
		rc = store_job_add(db, tenant, SEAM_JOB_SESSION_END, session_id, now);
	if (rc == STORE_OK) {
		rc = 1;
		if (out) {
			*out = session;
			session = NULL;
		}
	}
out:
	json_object_put(session);
	db_res_free(res);
	return rc;
}

int store_session_end(struct db *db, const char *tenant_id, const char *id,
                      json_object **out, int *changed)
{
	char tenant[UUID_STR_LEN], session_id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	json_object *session = NULL;
	int did = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, session_id) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = store_session_end_tx(db, tenant, session_id, now, &session);
	if (rc == 1) {
		did = 1;
		rc = db_commit(db);
		rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
	} else if (rc == 0) {
		/* Nothing to change: read it as it is (or STORE_NOT_FOUND). */
		db_rollback(db);
		rc = store_session_get(db, tenant, session_id, &session);
	}
	if (rc == STORE_OK) {
		*out = session;
		session = NULL;
		if (changed)
			*changed = did;
	} else {
		db_rollback(db);
	}
	json_object_put(session);
	return rc;
}
