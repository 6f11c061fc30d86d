/* store_webhook.c: webhooks, their delivery log and event emission (store_webhook.h).
 *
 * The scope of a hook query is "tenant_id = $1", or "tenant_id IS NULL" for the
 * platform's: written once as SCOPE below, with $1 NULL for the platform. Row-level
 * security (PostgreSQL) holds the tenant's side as well: a tenant's transaction never
 * sees a platform hook, nor another tenant's. */
#include "store_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"

const char *const store_webhook_events[] = {
	"ticket.created",  "ticket.updated", "ticket.commented", "session.started",
	"session.active",  "session.ended",  "session.failed",   "device.online",
	"device.offline",  "device.registered", "service.deployed", "service.failed",
	"service.deleted", NULL
};

/* pg_advisory_xact_lock's first key for counting a scope's hooks before an insert (the
 * second is the scope's hash). QUOTA_LOCK_CLASS and EMAIL_LOCK_CLASS are others. */
#define WEBHOOK_LOCK_CLASS "48123504"

/* $1 is the tenant, or NULL for the platform's hooks. */
#define SCOPE "(tenant_id = $1 OR (tenant_id IS NULL AND $1 IS NULL))"

#define WEBHOOK_COLS                                                                     \
	"id, tenant_id, url, description, events, status, disabled_reason, failing_since, " \
	"created_by, created_at, updated_at"
static const struct store_col webhook_cols[] = {
	{ "id", STORE_COL_TEXT },           { "tenant_id", STORE_COL_TEXT },
	{ "url", STORE_COL_TEXT },          { "description", STORE_COL_TEXT },
	{ "events", STORE_COL_JSON },       { "status", STORE_COL_TEXT },
	{ "disabled_reason", STORE_COL_TEXT }, { "failing_since", STORE_COL_TEXT },
	{ "created_by", STORE_COL_TEXT },   { "created_at", STORE_COL_TEXT },
	{ "updated_at", STORE_COL_TEXT },
};
#define WEBHOOK_NCOLS ((int)ARRAY_LEN(webhook_cols))

#define DELIVERY_COLS                                                                     \
	"id, event_id, (SELECT e.type FROM webhook_events e "                                \
	"WHERE e.id = webhook_deliveries.event_id) AS event_type, tenant_id, status, "       \
	"attempts, last_status, last_error, response_ms, next_attempt_at, first_failed_at, " \
	"last_attempt_at, delivered_at, created_at"
static const struct store_col delivery_cols[] = {
	{ "id", STORE_COL_TEXT },              { "event_id", STORE_COL_TEXT },
	{ "event_type", STORE_COL_TEXT },      { "tenant_id", STORE_COL_TEXT },
	{ "status", STORE_COL_TEXT },          { "attempts", STORE_COL_INT },
	{ "last_status", STORE_COL_INT },      { "last_error", STORE_COL_TEXT },
	{ "response_ms", STORE_COL_INT },      { "next_attempt_at", STORE_COL_TEXT },
	{ "first_failed_at", STORE_COL_TEXT }, { "last_attempt_at", STORE_COL_TEXT },
	{ "delivered_at", STORE_COL_TEXT },    { "created_at", STORE_COL_TEXT },
};
#define DELIVERY_NCOLS ((int)ARRAY_LEN(delivery_cols))

int store_webhook_event_known(const char *type)
{
	for (int i = 0; type && store_webhook_events[i]; i++)
		if (strcmp(type, store_webhook_events[i]) == 0)
			return 1;
	return 0;
}

int store_webhook_events_check(json_object *events, char *why, size_t whylen)
{
	size_t n;

	if (!json_object_is_type(events, json_type_array) ||
	    (n = json_object_array_length(events)) == 0) {
		snprintf(why, whylen, "must be a non-empty array of event types");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(events, i);
		const char *type = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
		                                                             : NULL;
		if (!store_webhook_event_known(type)) {
			snprintf(why, whylen, "element %zu is not a known event type", i);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(type, json_object_get_string(json_object_array_get_idx(events, j))) ==
			    0) {
				snprintf(why, whylen, "%s is listed twice", type);
				return -1;
			}
	}
	return 0;
}

/* The scope's canonical tenant into out, or NULL for the platform; -1 when tenant_id is
 * given but no UUID. */
static int scope_of(const char *tenant_id, char out[UUID_STR_LEN], const char **scope)
{
	if (!tenant_id) {
		*scope = NULL;
		return 0;
	}
	if (store_id(tenant_id, out) != 0)
		return -1;
	*scope = out;
	return 0;
}

static const char *events_text(json_object *events)
{
	return json_object_to_json_string_ext(events, JSON_C_TO_STRING_PLAIN);
}

int store_webhook_create(struct db *db, const char *tenant_id,
                         const struct store_webhook_new *w, json_object **out)
{
	char tenant[UUID_STR_LEN], creator[UUID_STR_LEN], id[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char count[32], why[128];
	const char *scope;
	json_object *hook = NULL;
	int rc;

	if (scope_of(tenant_id, tenant, &scope) != 0 || !w ||
	    (w->created_by && store_id(w->created_by, creator) != 0))
		return STORE_NOT_FOUND;
	if (!w->url || !w->url[0] || !w->secret_sealed || !w->secret_sealed[0] ||
	    store_webhook_events_check(w->events, why, sizeof(why)) != 0)
		return STORE_CONFLICT;
	ids_uuid7(id);
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	/* PostgreSQL: READ COMMITTED would let two creates both count MAX - 1; the lock
	 * makes the second count after the first committed. SQLite's BEGIN IMMEDIATE
	 * serialises writers already. */
	if (db_kind(db) == DB_POSTGRES) {
		const char *lp[1] = { scope ? scope : "platform" };
		rc = db_exec(db, "SELECT pg_advisory_xact_lock(" WEBHOOK_LOCK_CLASS ", hashtext($1))",
		             1, lp, NULL);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
	}
	{
		const char *cp[1] = { scope };
		rc = store_one_value(db, "SELECT count(*) FROM webhooks WHERE " SCOPE, 1, cp, count,
		                     sizeof(count), NULL);
	}
	if (rc < 0)
		goto out;
	if (rc == 1 && strtol(count, NULL, 10) >= STORE_WEBHOOK_MAX) {
		rc = STORE_QUOTA;
		goto out;
	}
	{
		const char *params[8] = { id, scope, w->url, w->description ? w->description : "",
			                  events_text(w->events), w->secret_sealed,
			                  w->created_by ? creator : NULL, now };
		rc = store_row_one(db,
		                   "INSERT INTO webhooks (id, tenant_id, url, description, events, "
		                   "secret_sealed, created_by, created_at, updated_at) VALUES ($1, $2, "
		                   "$3, $4, $5, $6, $7, $8, $8) RETURNING " WEBHOOK_COLS,
		                   8, params, webhook_cols, WEBHOOK_NCOLS, &hook);
	}
	if (rc != STORE_OK)
		goto out;
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc == STORE_OK) {
		*out = hook;
		hook = NULL;
	} else {
		db_rollback(db);
	}
	json_object_put(hook);
	return rc;
}

int store_webhook_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], hook[UUID_STR_LEN];
	const char *params[2] = { NULL, hook };

	if (scope_of(tenant_id, tenant, &params[0]) != 0 || store_id(id, hook) != 0)
		return STORE_NOT_FOUND;
	return store_row_one(db, "SELECT " WEBHOOK_COLS " FROM webhooks WHERE " SCOPE " AND id = $2",
	                     2, params, webhook_cols, WEBHOOK_NCOLS, out);
}

int store_webhook_list(struct db *db, const char *tenant_id, const struct store_page *page,
                       struct store_list *out)
{
	char tenant[UUID_STR_LEN], cursor[UUID_STR_LEN];
	const char *params[3] = { NULL };
	struct buf sql;
	int rc = STORE_ERR;

	if (scope_of(tenant_id, tenant, &params[0]) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 512);
	if (buf_puts(&sql, "SELECT " WEBHOOK_COLS " FROM webhooks WHERE " SCOPE) == 0)
		rc = store_list_run(db, &sql, params, 1, page && page->cursor ? cursor : NULL,
		                    store_page_limit(page), webhook_cols, WEBHOOK_NCOLS, out);
	buf_clear(&sql);
	return rc;
}

/* Inside the open transaction: a "webhook.deliver" job for hook in tenant (the tenant of
 * the deliveries it goes for), unless one is queued already, and NOTIFY kaiden_jobs.
 * Under row-level security only the tenant's own jobs are seen, so a platform hook may
 * get one job per tenant: harmless, the deliverer leases the hook. */
static int queue_job(struct db *db, const char *tenant, const char *hook, const char *now)
{
	const char *qp[2] = { seam_job_name(SEAM_JOB_WEBHOOK_DELIVER), hook };
	int rc;

	/* PostgreSQL: the queued job is locked until this transaction ends, so that it cannot
	 * be claimed and find nothing pending before this event's delivery commits (it would
	 * end done and leave the delivery without a job); the claim's SKIP LOCKED passes it
	 * by meanwhile. A job claimed first is no longer queued: one more is added. SQLite's
	 * BEGIN IMMEDIATE serialises the claim and this transaction anyway. */
	rc = store_one_value(db,
	                     db_kind(db) == DB_POSTGRES
	                             ? "SELECT id FROM jobs WHERE state = 'queued' AND kind = $1 "
	                               "AND webhook_id = $2 LIMIT 1 FOR UPDATE"
	                             : "SELECT id FROM jobs WHERE state = 'queued' AND kind = $1 "
	                               "AND webhook_id = $2 LIMIT 1",
	                     2, qp, NULL, 0, NULL);
	if (rc != 0)
		return rc < 0 ? rc : STORE_OK;
	return store_job_add_webhook(db, tenant, hook, now);
}

int store_webhook_update(struct db *db, const char *tenant_id, const char *id,
                         const struct store_webhook_patch *p, json_object **out)
{
	char tenant[UUID_STR_LEN], hook[UUID_STR_LEN], now[TIMESTAMP_LEN], why[128];
	char old_status[16], pending_tenant[UUID_STR_LEN];
	const char *scope;
	json_object *result = NULL;
	int enable, disable, rc;

	if (scope_of(tenant_id, tenant, &scope) != 0 || store_id(id, hook) != 0 || !p)
		return STORE_NOT_FOUND;
	if ((p->events && store_webhook_events_check(p->events, why, sizeof(why)) != 0) ||
	    (p->url && !p->url[0]) ||
	    (p->status && strcmp(p->status, "active") != 0 && strcmp(p->status, "disabled") != 0))
		return STORE_CONFLICT;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	{
		const char *params[2] = { scope, hook };
		rc = store_one_value(db,
		                     db_kind(db) == DB_POSTGRES
		                             ? "SELECT status FROM webhooks WHERE " SCOPE
		                               " AND id = $2 FOR UPDATE"
		                             : "SELECT status FROM webhooks WHERE " SCOPE " AND id = $2",
		                     2, params, old_status, sizeof(old_status), NULL);
	}
	if (rc <= 0) {
		rc = rc == 0 ? STORE_NOT_FOUND : rc;
		goto out;
	}
	enable = p->status && strcmp(p->status, "active") == 0 && strcmp(old_status, "active") != 0;
	disable = p->status && strcmp(p->status, "disabled") == 0 &&
	          strcmp(old_status, "disabled") != 0;
	{
		const char *params[8] = { scope, hook, p->url, p->description,
			                  p->events ? events_text(p->events) : NULL, now,
			                  enable ? "1" : disable ? "2" : "0", NULL };
		/* $7: 1 re-enables (a clean start: no reason, not failing), 2 disables. */
		rc = store_row_one(db,
		                   "UPDATE webhooks SET url = COALESCE($3, url), "
		                   "description = COALESCE($4, description), "
		                   "events = COALESCE($5, events), updated_at = $6, "
		                   "status = CASE CAST($7 AS integer) WHEN 1 THEN 'active' "
		                   "WHEN 2 THEN 'disabled' ELSE status END, "
		                   "disabled_reason = CASE CAST($7 AS integer) WHEN 1 THEN NULL "
		                   "WHEN 2 THEN 'disabled by an administrator' ELSE disabled_reason END, "
		                   "failing_since = CASE CAST($7 AS integer) WHEN 1 THEN NULL "
		                   "ELSE failing_since END "
		                   "WHERE " SCOPE " AND id = $2 RETURNING " WEBHOOK_COLS,
		                   7, params, webhook_cols, WEBHOOK_NCOLS, &result);
	}
	if (rc != STORE_OK)
		goto out;
	/* Deliveries that waited while it was disabled go now: due at once (a retry's wait,
	 * up to webhooks.retry_max, is not served again), oldest first. */
	if (enable) {
		const char *params[1] = { hook };
		const char *due[2] = { hook, now };
		rc = db_exec(db,
		             "UPDATE webhook_deliveries SET next_attempt_at = $2 "
		             "WHERE webhook_id = $1 AND status = 'pending'",
		             2, due, NULL);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		rc = store_one_value(db,
		                     "SELECT tenant_id FROM webhook_deliveries WHERE webhook_id = $1 "
		                     "AND status = 'pending' ORDER BY id LIMIT 1",
		                     1, params, pending_tenant, sizeof(pending_tenant), NULL);
		if (rc < 0)
			goto out;
		if (rc == 1 && (rc = queue_job(db, pending_tenant, hook, now)) != STORE_OK)
			goto out;
	}
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc == STORE_OK) {
		*out = result;
		result = NULL;
	} else {
		db_rollback(db);
	}
	json_object_put(result);
	return rc;
}

int store_webhook_rotate(struct db *db, const char *tenant_id, const char *id,
                         const char *secret_sealed, json_object **out)
{
	char tenant[UUID_STR_LEN], hook[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[4] = { NULL, hook, secret_sealed, now };

	if (scope_of(tenant_id, tenant, &params[0]) != 0 || store_id(id, hook) != 0)
		return STORE_NOT_FOUND;
	if (!secret_sealed || !secret_sealed[0])
		return STORE_CONFLICT;
	store_time(0, now);
	return store_row_one(db,
	                     "UPDATE webhooks SET secret_sealed = $3, updated_at = $4 WHERE " SCOPE
	                     " AND id = $2 RETURNING " WEBHOOK_COLS,
	                     4, params, webhook_cols, WEBHOOK_NCOLS, out);
}

int store_webhook_delete(struct db *db, const char *tenant_id, const char *id)
{
	char tenant[UUID_STR_LEN], hook[UUID_STR_LEN];
	const char *params[2] = { NULL, hook };
	int rc;

	if (scope_of(tenant_id, tenant, &params[0]) != 0 || store_id(id, hook) != 0)
		return STORE_NOT_FOUND;
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db, "DELETE FROM webhooks WHERE " SCOPE " AND id = $2", 2, params, NULL);
	if (rc == DB_OK && db_changes(db) != 1) {
		db_rollback(db);
		return STORE_NOT_FOUND;
	}
	/* Its queued delivery jobs have nothing left to do (a running one finds no hook). */
	if (rc == DB_OK) {
		const char *jp[2] = { hook, seam_job_name(SEAM_JOB_WEBHOOK_DELIVER) };
		rc = db_exec(db,
		             "DELETE FROM jobs WHERE webhook_id = $1 AND kind = $2 AND state = 'queued'",
		             2, jp, NULL);
	}
	if (rc == DB_OK)
		rc = db_commit(db);
	if (rc != DB_OK) {
		db_rollback(db);
		return store_rc_of(rc);
	}
	return STORE_OK;
}

int store_webhook_deliveries(struct db *db, const char *tenant_id, const char *id,
                             const struct store_page *page, struct store_list *out)
{
	char tenant[UUID_STR_LEN], hook[UUID_STR_LEN], cursor[UUID_STR_LEN];
	const char *params[4] = { NULL, hook };
	struct buf sql;
	int rc;

	if (scope_of(tenant_id, tenant, &params[0]) != 0 || store_id(id, hook) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0))
		return STORE_NOT_FOUND;
	/* The hook must be in the scope: its log is not, by itself (a platform hook's
	 * deliveries carry the tenants of their events). */
	rc = store_one_value(db, "SELECT id FROM webhooks WHERE " SCOPE " AND id = $2", 2, params,
	                     NULL, 0, NULL);
	if (rc <= 0)
		return rc == 0 ? STORE_NOT_FOUND : rc;
	params[0] = hook;
	buf_init(&sql, 512);
	rc = STORE_ERR;
	if (buf_puts(&sql, "SELECT " DELIVERY_COLS " FROM webhook_deliveries WHERE webhook_id = $1") ==
	    0)
		rc = store_list_run(db, &sql, params, 1, page && page->cursor ? cursor : NULL,
		                    store_page_limit(page), delivery_cols, DELIVERY_NCOLS, out);
	buf_clear(&sql);
	return rc;
}

/* ---- emission --------------------------------------------------------------------- */

/* 1 when the JSON array text events lists type. */
static int lists(const char *events, const char *type)
{
	json_object *a = events ? json_tokener_parse(events) : NULL;
	int found = 0;

	if (json_object_is_type(a, json_type_array))
		for (size_t i = 0; !found && i < json_object_array_length(a); i++) {
			const char *e = json_object_get_string(json_object_array_get_idx(a, i));
			found = e && strcmp(e, type) == 0;
		}
	json_object_put(a);
	return found;
}

/* The active hooks of tenant (canonical) and the platform, with their events lists:
 * (id, events) rows in id order. */
static int targets(struct db *db, const char *tenant, struct db_res **res)
{
	const char *params[1] = { tenant };
	int rc;

	/* PostgreSQL: a function running as the owner, as a tenant's transaction may not
	 * read the platform's rows. */
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES
	                     ? "SELECT id, events FROM kaiden_webhooks_for_tenant($1)"
	                     : "SELECT id, events FROM webhooks WHERE (tenant_id = $1 OR "
	                       "tenant_id IS NULL) AND status = 'active' ORDER BY id",
	             1, params, res);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_webhook_wanted(struct db *db, const char *tenant_id, const char *type)
{
	char tenant[UUID_STR_LEN];
	struct db_res *res = NULL;
	int found = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || !store_webhook_event_known(type))
		return STORE_NOT_FOUND;
	rc = targets(db, tenant, &res);
	if (rc != STORE_OK)
		return rc;
	for (int i = 0; !found && i < db_res_rows(res); i++)
		found = lists(db_res_get(res, i, 1), type);
	db_res_free(res);
	return found;
}

/* The body delivered: {"id","type","created_at","tenant_id","data"} (owned: free). */
static char *event_body(const char *id, const char *type, const char *now, const char *tenant,
                        json_object *data)
{
	json_object *o = json_object_new_object();
	const char *text;
	char *body = NULL;

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "created_at", json_object_new_string(now));
	json_object_object_add(o, "tenant_id", json_object_new_string(tenant));
	json_object_object_add(o, "data", data ? json_object_get(data) : json_object_new_object());
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                              JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text)
		body = strdup(text);
	json_object_put(o);
	return body;
}

int store_webhook_emit(struct db *db, const char *tenant_id, const char *type, json_object *data)
{
	char tenant[UUID_STR_LEN], event[UUID_STR_LEN], now[TIMESTAMP_LEN];
	struct db_res *res = NULL;
	char *body = NULL;
	int rows, wanted = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || !store_webhook_event_known(type)) {
		log_error("webhook emit: bad tenant or unknown event type %s", type ? type : "NULL");
		return STORE_ERR;
	}
	rc = targets(db, tenant, &res);
	if (rc != STORE_OK)
		return rc;
	rows = db_res_rows(res);
	for (int i = 0; !wanted && i < rows; i++)
		wanted = lists(db_res_get(res, i, 1), type);
	if (!wanted) {
		rc = STORE_OK;
		goto out;
	}
	ids_uuid7(event);
	store_time(0, now);
	body = event_body(event, type, now, tenant, data);
	rc = STORE_ERR;
	if (!body)
		goto out;
	{
		const char *params[5] = { event, tenant, type, body, now };
		rc = db_exec(db,
		             "INSERT INTO webhook_events (id, tenant_id, type, body, created_at) "
		             "VALUES ($1, $2, $3, $4, $5)",
		             5, params, NULL);
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	/* One delivery per hook, in id order: ids made now, after every earlier event's. */
	for (int i = 0; i < rows; i++) {
		const char *hook = db_res_get(res, i, 0);
		char id[UUID_STR_LEN];
		if (!hook || !lists(db_res_get(res, i, 1), type))
			continue;
		ids_uuid7(id);
		{
			const char *params[5] = { id, tenant, hook, event, now };
			rc = db_exec(db,
			             "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, "
			             "status, attempts, next_attempt_at, created_at) "
			             "VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
			             5, params, NULL);
		}
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		rc = queue_job(db, tenant, hook, now);
		if (rc != STORE_OK)
			goto out;
	}
	rc = STORE_OK;
out:
	free(body);
	db_res_free(res);
	return rc;
}
