/* store_ticket.c: tickets and their comments, tenant-scoped (store.h).
 *
 * A ticket's number comes from ticket_counters, one row per (tenant, UTC day), taken with
 * an upsert in the same transaction as the ticket's insert: PostgreSQL queues concurrent
 * creates on the counter row, SQLite's BEGIN IMMEDIATE serialises them; either way a
 * rolled back create takes its number back with it, so numbers stay consecutive.
 *
 * The status workflow (store_ticket_next_statuses is its only definition):
 *
 *     open --> in_progress --> resolved --> closed
 *      ^                          |           |
 *      +--------------------------+-----------+   (reopen: resolved_at cleared)
 *
 * resolved_at is set on the move to resolved. Every status, priority or assignee change
 * writes its own comment (status_change / system) in the update's transaction. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_row.h"
#include "store_tenant.h"
#include "store_ticket_session.h"
#include "store_webhook.h"

#define TICKET_COLS                                                                    \
	"id, number, device_id, cluster_id, title, description, priority, status, "      \
	"assigned_to, created_by, created_at, updated_at, resolved_at"
static const struct store_col ticket_cols[] = {
	{ "id", STORE_COL_TEXT },          { "number", STORE_COL_TEXT },
	{ "device_id", STORE_COL_TEXT },   { "cluster_id", STORE_COL_TEXT },
	{ "title", STORE_COL_TEXT },       { "description", STORE_COL_TEXT },
	{ "priority", STORE_COL_TEXT },    { "status", STORE_COL_TEXT },
	{ "assigned_to", STORE_COL_TEXT }, { "created_by", STORE_COL_TEXT },
	{ "created_at", STORE_COL_TEXT },  { "updated_at", STORE_COL_TEXT },
	{ "resolved_at", STORE_COL_TEXT }
};
#define TICKET_NCOLS ((int)ARRAY_LEN(ticket_cols))

/* internal as 0/1 on both backends (the store selects no booleans: db.h). */
#define COMMENT_COLS                                                                   \
	"id, ticket_id, type, CASE WHEN internal THEN 1 ELSE 0 END AS internal, "          \
	"author_id, author_name, body, created_at"
static const struct store_col comment_cols[] = {
	{ "id", STORE_COL_TEXT },        { "ticket_id", STORE_COL_TEXT },
	{ "type", STORE_COL_TEXT },      { "internal", STORE_COL_INT },
	{ "author_id", STORE_COL_TEXT }, { "author_name", STORE_COL_TEXT },
	{ "body", STORE_COL_TEXT },      { "created_at", STORE_COL_TEXT }
};
#define COMMENT_NCOLS ((int)ARRAY_LEN(comment_cols))

static const char *const priorities[] = { "low", "normal", "high", "urgent" };
static const char *const statuses[] = { "open", "in_progress", "resolved", "closed" };
static const char *const comment_types[] = { "comment", "system", "status_change" };

static int one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

int store_ticket_next_statuses(const char *status, const char *next[2])
{
	if (!status)
		return -1;
	if (strcmp(status, "open") == 0) {
		next[0] = "in_progress";
		return 1;
	}
	if (strcmp(status, "in_progress") == 0) {
		next[0] = "resolved";
		return 1;
	}
	if (strcmp(status, "resolved") == 0) {
		next[0] = "closed";
		next[1] = "open";
		return 2;
	}
	if (strcmp(status, "closed") == 0) {
		next[0] = "open";
		return 1;
	}
	return -1;
}

static int transition_ok(const char *from, const char *to)
{
	const char *next[2];
	int n = store_ticket_next_statuses(from, next);

	for (int i = 0; i < n; i++)
		if (strcmp(next[i], to) == 0)
			return 1;
	return 0;
}

/* "YYYYMMDD" of the current UTC day. */
static void today(char out[9])
{
	char now[TIMESTAMP_LEN];

	store_time(0, now);
	snprintf(out, 9, "%.4s%.2s%.2s", now, now + 5, now + 8);
}

static int day_ok(const char *d)
{
	if (strlen(d) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	return 1;
}

/* Inside the caller's transaction: the next number of the tenant's day into out. */
static int next_number(struct db *db, const char *tenant, const char *day, char *out,
                       size_t outlen)
{
	char id[UUID_STR_LEN], last[24];
	const char *params[3] = { tenant, day, id };
	long n;
	int rc;

	ids_uuid7(id); /* used only when the day's row is new */
	rc = store_one_value(db,
	                     "INSERT INTO ticket_counters (id, tenant_id, day, last) "
	                     "VALUES ($3, $1, $2, 1) "
	                     "ON CONFLICT (tenant_id, day) DO UPDATE SET "
	                     "last = ticket_counters.last + 1 RETURNING last",
	                     3, params, last, sizeof(last), NULL);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return STORE_ERR;
	n = strtol(last, NULL, 10);
	if (n < 1 || n > 99999999)
		return STORE_ERR;
	snprintf(out, outlen, "TKT-%s-%03ld", day, n);
	return STORE_OK;
}

/* Whether sql ("SELECT id FROM <table> WHERE tenant_id = $1 AND id = $2 AND deleted_at IS
 * NULL") finds the row: STORE_OK, STORE_NOT_FOUND, or the error. */
static int live_check(struct db *db, const char *sql, const char *tenant, const char *id)
{
	const char *params[2] = { tenant, id };
	int rc = store_one_value(db, sql, 2, params, NULL, 0, NULL);

	return rc < 0 ? rc : rc == 1 ? STORE_OK : STORE_NOT_FOUND;
}

static int device_check(struct db *db, const char *tenant, const char *device)
{
	return live_check(db,
	                  "SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 AND "
	                  "deleted_at IS NULL",
	                  tenant, device);
}

/* A live cluster of the tenant (SQLite has no foreign key on tickets.cluster_id). */
static int cluster_check(struct db *db, const char *tenant, const char *cluster)
{
	return live_check(db,
	                  "SELECT id FROM clusters WHERE tenant_id = $1 AND id = $2 AND "
	                  "deleted_at IS NULL",
	                  tenant, cluster);
}

int store_ticket_create(struct db *db, const char *tenant_id, const struct store_ticket_new *t,
                        json_object **out)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], device[UUID_STR_LEN], cluster[UUID_STR_LEN];
	char creator[UUID_STR_LEN], now[TIMESTAMP_LEN], day[9], number[32];
	const char *priority;
	struct db_res *res = NULL;
	json_object *ticket = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || !t ||
	    (t->device_id && store_id(t->device_id, device) != 0) ||
	    (t->cluster_id && store_id(t->cluster_id, cluster) != 0) ||
	    (t->created_by && store_id(t->created_by, creator) != 0))
		return STORE_NOT_FOUND;
	priority = t->priority ? t->priority : "normal";
	if (!t->title || !t->title[0] || !one_of(priority, priorities, ARRAY_LEN(priorities)))
		return STORE_CONFLICT;
	if (t->day) {
		if (!day_ok(t->day))
			return STORE_CONFLICT;
		snprintf(day, sizeof(day), "%s", t->day);
	} else {
		today(day);
	}
	ids_uuid7(id);
	store_time(0, now);

	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	/* The quota is counted and the row added in one transaction (store_tenant.h). */
	rc = store_tenant_quota_check(db, tenant, QUOTA_OPEN_TICKETS, NULL);
	if (rc != STORE_OK) {
		rc = rc == STORE_CONFLICT ? STORE_QUOTA : rc;
		goto out;
	}
	if (t->device_id && (rc = device_check(db, tenant, device)) != STORE_OK)
		goto out;
	if (t->cluster_id && (rc = cluster_check(db, tenant, cluster)) != STORE_OK)
		goto out;
	rc = next_number(db, tenant, day, number, sizeof(number));
	if (rc != STORE_OK)
		goto out;
	{
		const char *params[10] = { id, tenant, number, t->device_id ? device : NULL,
			                   t->cluster_id ? cluster : NULL, t->title,
			                   t->description ? t->description : "", priority,
			                   t->created_by ? creator : NULL, now };
		rc = db_exec(db,
		             "INSERT INTO tickets (id, tenant_id, number, device_id, cluster_id, "
		             "title, description, priority, created_by, created_at, updated_at) "
		             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING "
		             TICKET_COLS,
		             10, params, &res);
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = store_row_json(res, 0, ticket_cols, TICKET_NCOLS, &ticket);
	if (rc == STORE_OK)
		rc = store_webhook_emit(db, tenant, "ticket.created", ticket);
	if (rc != STORE_OK)
		goto out;
	rc = db_commit(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	*out = ticket;
	ticket = NULL;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		db_rollback(db);
	json_object_put(ticket);
	db_res_free(res);
	return rc;
}

int store_ticket_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], tid[UUID_STR_LEN];
	const char *params[2] = { tenant, tid };

	json_object *ticket = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, tid) != 0)
		return STORE_NOT_FOUND;
	rc = store_row_one(db,
	                   "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = $1 AND id = $2",
	                   2, params, ticket_cols, TICKET_NCOLS, &ticket);
	/* One ticket (never a list's items) also shows its sessions. */
	if (rc == STORE_OK)
		rc = store_ticket_sessions_add(db, tenant, tid, ticket);
	if (rc != STORE_OK) {
		json_object_put(ticket);
		return rc;
	}
	*out = ticket;
	return STORE_OK;
}

/* A priority's place in a queue, as SQL over the row's priority column (or a subquery's). */
#define PRIORITY_RANK(col)                                                                  \
	"(CASE " col " WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END)"

/* store_list_run's order for a queue: (rank, id) ascending; the cursor's ticket gives the
 * rank to continue from (the cursor is still an id, as everywhere). */
static int list_by_priority(struct db *db, struct buf *sql, const char **params, int nparams,
                            const char *cursor, int limit, struct store_list *out)
{
	if (cursor) {
		params[nparams++] = cursor;
		if (buf_printf(sql,
		               " AND (" PRIORITY_RANK("priority") " > (SELECT " PRIORITY_RANK("c.priority")
		               " FROM tickets c WHERE c.tenant_id = $1 AND c.id = $%d) OR ("
		               PRIORITY_RANK("priority") " = (SELECT " PRIORITY_RANK("c.priority")
		               " FROM tickets c WHERE c.tenant_id = $1 AND c.id = $%d) AND id > $%d))",
		               nparams, nparams, nparams) != 0)
			return STORE_ERR;
	}
	return store_list_ordered(db, sql, params, nparams, PRIORITY_RANK("priority") ", id", limit,
	                          ticket_cols, TICKET_NCOLS, out);
}

int store_ticket_list(struct db *db, const char *tenant_id, const struct store_ticket_filter *f,
                      const struct store_page *page, struct store_list *out)
{
	char tenant[UUID_STR_LEN], assignee[UUID_STR_LEN], device[UUID_STR_LEN],
		cursor[UUID_STR_LEN];
	const char *params[12] = { tenant };
	char *pattern = NULL;
	struct buf sql;
	int nparams = 1, rc = STORE_ERR;

	if (store_id(tenant_id, tenant) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0))
		return STORE_NOT_FOUND;
	if (f && f->assigned_to && strcmp(f->assigned_to, "none") != 0 &&
	    store_id(f->assigned_to, assignee) != 0)
		return STORE_NOT_FOUND;
	if (f && f->device_id && store_id(f->device_id, device) != 0)
		return STORE_NOT_FOUND;
	buf_init(&sql, 2048); /* the priority order with a cursor is long */
	if (buf_puts(&sql, "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = $1") != 0)
		goto out;
	if (f && f->status && store_sql_and(&sql, "status = $?", params, &nparams, f->status) != 0)
		goto out;
	if (f && f->priority &&
	    store_sql_and(&sql, "priority = $?", params, &nparams, f->priority) != 0)
		goto out;
	if (f && f->assigned_to) {
		if (strcmp(f->assigned_to, "none") == 0) {
			if (buf_puts(&sql, " AND assigned_to IS NULL") != 0)
				goto out;
		} else if (store_sql_and(&sql, "assigned_to = $?", params, &nparams, assignee) != 0) {
			goto out;
		}
	}
	if (f && f->device_id &&
	    store_sql_and(&sql, "device_id = $?", params, &nparams, device) != 0)
		goto out;
	if (f && f->q && f->q[0] &&
	    store_sql_search(&sql, params, &nparams, "title", "description || ' ' || number",
	                     f->q, &pattern) != 0)
		goto out;
	if (f && f->by_priority)
		rc = list_by_priority(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
		                      store_page_limit(page), out);
	else
		rc = store_list_run(db, &sql, params, nparams, page && page->cursor ? cursor : NULL,
		                    store_page_limit(page), ticket_cols, TICKET_NCOLS, out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* Inside the open transaction: one comment row. */
static int comment_insert(struct db *db, const char *tenant, const char *ticket,
                          const char *type, int internal, const char *author_id,
                          const char *author_name, const char *body, const char *now,
                          json_object **out)
{
	char id[UUID_STR_LEN];
	const char *params[9] = { id, tenant, ticket, type, internal ? "1" : "0", author_id,
		                  author_name ? author_name : "", body, now };
	struct db_res *res = NULL;
	json_object *o = NULL;
	int rc;

	ids_uuid7(id);
	rc = db_exec(db,
	             "INSERT INTO ticket_comments (id, tenant_id, ticket_id, type, internal, "
	             "author_id, author_name, body, created_at) VALUES ($1, $2, $3, $4, "
	             "CAST($5 AS integer) <> 0, $6, $7, $8, $9) RETURNING " COMMENT_COLS,
	             9, params, out ? &res : NULL);
	if (rc != DB_OK)
		return rc == DB_CONSTRAINT ? STORE_NOT_FOUND : store_rc_of(rc);
	if (!out)
		return STORE_OK;
	rc = store_row_json(res, 0, comment_cols, COMMENT_NCOLS, &o);
	db_res_free(res);
	if (rc != STORE_OK)
		return rc;
	/* internal as a JSON boolean. */
	json_object_object_add(o, "internal", json_object_new_boolean(internal != 0));
	*out = o;
	return STORE_OK;
}

enum { U_STATUS = 7, U_PRIORITY = 6, U_ASSIGNEE = 8 };

/* Adds a change's comment, a system one unless type says. */
static int note(struct db *db, const char *tenant, const char *ticket,
                const struct store_ticket_patch *p, const char *type, const char *what,
                const char *from, const char *to, const char *now)
{
	char body[256];

	snprintf(body, sizeof(body), "%s: %s -> %s", what, from ? from : "none", to ? to : "none");
	return comment_insert(db, tenant, ticket, type, 0, p->author_id, p->author_name, body,
	                      now, NULL);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Inside the open transaction: the webhook event type of the ticket (store_webhook.h),
 * data the ticket, or {ticket, comment} when comment (borrowed) is given. */
static int emit(struct db *db, const char *tenant, const char *ticket_id, const char *type,
                json_object *comment)
{
	json_object *ticket = NULL, *data;
	int rc = store_webhook_wanted(db, tenant, type);

	if (rc <= 0)
		return rc;
	rc = store_ticket_get(db, tenant, ticket_id, &ticket);
	if (rc != STORE_OK)
		return rc;
	data = ticket;
	if (comment) {
		data = json_object_new_object();
		json_object_object_add(data, "ticket", ticket);
		json_object_object_add(data, "comment", json_object_get(comment));
	}
	rc = store_webhook_emit(db, tenant, type, data);
	json_object_put(data);
	return rc;
}

int store_ticket_update(struct db *db, const char *tenant_id, const char *id,
                        const struct store_ticket_patch *p, json_object **out)
{
	char tenant[UUID_STR_LEN], tid[UUID_STR_LEN], assignee[UUID_STR_LEN],
		device[UUID_STR_LEN], cluster[UUID_STR_LEN], author[UUID_STR_LEN], now[TIMESTAMP_LEN];
	struct store_ticket_patch pp;
	const char *params[2] = { tenant, tid };
	const char *title, *description, *priority, *status, *assigned, *dev, *clu, *resolved_at;
	char *old_priority = NULL, *old_status = NULL, *old_assigned = NULL;
	struct db_res *res = NULL;
	int changed, rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, tid) != 0 || !p ||
	    (p->assigned_to && store_id(p->assigned_to, assignee) != 0) ||
	    (p->device_id && store_id(p->device_id, device) != 0) ||
	    (p->cluster_id && store_id(p->cluster_id, cluster) != 0) ||
	    (p->author_id && store_id(p->author_id, author) != 0))
		return STORE_NOT_FOUND;
	if ((p->title && !p->title[0]) ||
	    (p->priority && !one_of(p->priority, priorities, ARRAY_LEN(priorities))) ||
	    (p->status && !one_of(p->status, statuses, ARRAY_LEN(statuses))))
		return STORE_CONFLICT;
	pp = *p;
	pp.author_id = p->author_id ? author : NULL;
	store_time(0, now);

	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES
	                     ? "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = $1 AND id = $2 "
	                       "FOR UPDATE"
	                     : "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = $1 AND id = $2",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_NOT_FOUND;
	if (db_res_rows(res) != 1)
		goto out;
	old_priority = strdup(db_res_get(res, 0, U_PRIORITY));
	old_status = strdup(db_res_get(res, 0, U_STATUS));
	old_assigned = db_res_get(res, 0, U_ASSIGNEE) ? strdup(db_res_get(res, 0, U_ASSIGNEE))
	                                              : NULL;
	rc = STORE_ERR;
	if (!old_priority || !old_status || (db_res_get(res, 0, U_ASSIGNEE) && !old_assigned))
		goto out;
	title = p->title ? p->title : db_res_get(res, 0, 4);
	description = p->description ? p->description : db_res_get(res, 0, 5);
	priority = p->priority ? p->priority : old_priority;
	status = p->status ? p->status : old_status;
	assigned = p->clear_assignee ? NULL : p->assigned_to ? assignee : old_assigned;
	dev = p->clear_device ? NULL : p->device_id ? device : db_res_get(res, 0, 2);
	clu = p->clear_cluster ? NULL : p->cluster_id ? cluster : db_res_get(res, 0, 3);
	resolved_at = db_res_get(res, 0, 12);
	if (!same(status, old_status)) {
		if (!transition_ok(old_status, status)) {
			rc = STORE_INVALID_TRANSITION;
			goto out;
		}
		if (strcmp(status, "resolved") == 0)
			resolved_at = now;
		else if (strcmp(status, "open") == 0)
			resolved_at = NULL;
		/* A reopen opens a ticket as a create does: counted first, in this transaction. */
		if (strcmp(status, "open") == 0 &&
		    (rc = store_tenant_quota_check(db, tenant, QUOTA_OPEN_TICKETS, NULL)) != STORE_OK) {
			rc = rc == STORE_CONFLICT ? STORE_QUOTA : rc;
			goto out;
		}
	}
	if (p->device_id && (rc = device_check(db, tenant, device)) != STORE_OK)
		goto out;
	if (p->cluster_id && (rc = cluster_check(db, tenant, cluster)) != STORE_OK)
		goto out;
	changed = !same(title, db_res_get(res, 0, 4)) || !same(description, db_res_get(res, 0, 5)) ||
	          !same(priority, old_priority) || !same(status, old_status) ||
	          !same(assigned, old_assigned) || !same(dev, db_res_get(res, 0, 2)) ||
	          !same(clu, db_res_get(res, 0, 3));
	{
		const char *up[11] = { tenant, tid, title, description, priority, status,
			               assigned, dev, resolved_at, now, clu };
		rc = db_exec(db,
		             "UPDATE tickets SET title = $3, description = $4, priority = $5, "
		             "status = $6, assigned_to = $7, device_id = $8, resolved_at = $9, "
		             "updated_at = $10, cluster_id = $11 WHERE tenant_id = $1 AND id = $2",
		             11, up, NULL);
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (!same(status, old_status) &&
	    (rc = note(db, tenant, tid, &pp, "status_change", "status", old_status, status, now)) !=
	            STORE_OK)
		goto out;
	if (!same(priority, old_priority) &&
	    (rc = note(db, tenant, tid, &pp, "system", "priority", old_priority, priority, now)) !=
	            STORE_OK)
		goto out;
	if (!same(assigned, old_assigned) &&
	    (rc = note(db, tenant, tid, &pp, "system", "assigned_to", old_assigned, assigned,
	               now)) != STORE_OK)
		goto out;
	if (changed && (rc = emit(db, tenant, tid, "ticket.updated", NULL)) != STORE_OK)
		goto out;
	rc = db_commit(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		db_rollback(db);
	db_res_free(res);
	free(old_priority);
	free(old_status);
	free(old_assigned);
	if (rc == STORE_OK || rc == STORE_INVALID_TRANSITION) {
		int grc = store_ticket_get(db, tenant, tid, out);
		if (grc != STORE_OK)
			return grc;
	}
	return rc;
}

/* Inside the open transaction: bumps the ticket's updated_at and adds the comment.
 * STORE_NOT_FOUND when the tenant has no such ticket; STORE_CONFLICT when open_only and
 * the ticket is closed (the update's condition, so a close committed first is seen). */
static int comment_add_tx(struct db *db, const char *tenant, const char *tid, int open_only,
                          const char *type, int internal, const char *author_id,
                          const char *author_name, const char *body, const char *now,
                          json_object **out)
{
	const char *params[5] = { tenant, tid, now, open_only ? "closed" : "", internal ? "1" : "0" };
	int rc;

	/* An internal note leaves updated_at as it is: the tenant's people read updated_at,
	 * and must not learn from it that staff wrote something they cannot see. The row is
	 * still written (locked, and found or not) either way. */
	rc = db_exec(db,
	             "UPDATE tickets SET updated_at = CASE WHEN $5 = '1' THEN updated_at "
	             "ELSE $3 END WHERE tenant_id = $1 AND id = $2 AND status <> $4",
	             5, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	if (db_changes(db) != 1) {
		if (!open_only)
			return STORE_NOT_FOUND;
		rc = store_one_value(db, "SELECT id FROM tickets WHERE tenant_id = $1 AND id = $2",
		                     2, params, NULL, 0, NULL);
		return rc < 0 ? rc : rc == 1 ? STORE_CONFLICT : STORE_NOT_FOUND;
	}
	return comment_insert(db, tenant, tid, type, internal, author_id, author_name, body, now,
	                      out);
}

int store_ticket_note(struct db *db, const char *tenant, const char *ticket, int open_only,
                      const char *author_id, const char *author_name, const char *body,
                      const char *now)
{
	return comment_add_tx(db, tenant, ticket, open_only, "system", 0, author_id, author_name,
	                      body, now, NULL);
}

int store_ticket_comment_add(struct db *db, const char *tenant_id, const char *ticket_id,
                             const struct store_ticket_comment_new *c, json_object **out)
{
	char tenant[UUID_STR_LEN], tid[UUID_STR_LEN], author[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *type;
	json_object *o = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(ticket_id, tid) != 0 || !c ||
	    (c->author_id && store_id(c->author_id, author) != 0))
		return STORE_NOT_FOUND;
	type = c->type ? c->type : "comment";
	if (!c->body || !c->body[0] || !one_of(type, comment_types, ARRAY_LEN(comment_types)))
		return STORE_CONFLICT;
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = comment_add_tx(db, tenant, tid, 0, type, c->internal, c->author_id ? author : NULL,
	                    c->author_name, c->body, now, &o);
	/* Internal notes are staff-only: never an event. */
	if (rc == STORE_OK && !c->internal)
		rc = emit(db, tenant, tid, "ticket.commented", o);
	if (rc != STORE_OK)
		goto out;
	rc = db_commit(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	*out = o;
	o = NULL;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		db_rollback(db);
	json_object_put(o);
	return rc;
}

int store_ticket_comment_list(struct db *db, const char *tenant_id, const char *ticket_id,
                              int include_internal, const struct store_page *page,
                              struct store_list *out)
{
	char tenant[UUID_STR_LEN], tid[UUID_STR_LEN], cursor[UUID_STR_LEN], limit_text[16];
	const char *params[4] = { tenant, tid };
	struct db_res *res = NULL;
	struct buf sql;
	int nparams = 2, limit = store_page_limit(page), rc = STORE_ERR;

	if (store_id(tenant_id, tenant) != 0 || store_id(ticket_id, tid) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor) != 0))
		return STORE_NOT_FOUND;
	buf_init(&sql, 256);
	if (buf_puts(&sql, "SELECT " COMMENT_COLS " FROM ticket_comments WHERE tenant_id = $1 "
	                   "AND ticket_id = $2") != 0)
		goto out;
	if (!include_internal && buf_puts(&sql, " AND NOT internal") != 0)
		goto out;
	if (page && page->cursor && store_sql_and(&sql, "id > $?", params, &nparams, cursor) != 0)
		goto out;
	snprintf(limit_text, sizeof(limit_text), "%d", limit + 1);
	params[nparams++] = limit_text;
	if (buf_printf(&sql, " ORDER BY id LIMIT $%d", nparams) != 0)
		goto out;
	rc = db_exec(db, sql.data, nparams, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = store_list_fill(res, limit, comment_cols, COMMENT_NCOLS, out);
	if (rc == STORE_OK) {
		for (size_t i = 0; i < json_object_array_length(out->items); i++) {
			json_object *c = json_object_array_get_idx(out->items, i), *v;
			if (json_object_object_get_ex(c, "internal", &v))
				json_object_object_add(c, "internal",
				                       json_object_new_boolean(json_object_get_int(v)));
		}
	}
out:
	db_res_free(res);
	buf_clear(&sql);
	return rc;
}
