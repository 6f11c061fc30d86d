/* store_row.h: helpers the store_*.c files share (private to the store module).
 *
 * A row becomes a JSON object through a column table {name, type}: the SELECT lists
 * the same columns in the same order, so a row is read by position and each value is
 * turned into the JSON type the API promises (text, integer, or a JSON value stored as
 * text). A list may skip the objects and write the rows' JSON text (store_list_fill_text):
 * the same bytes, for a fraction of the allocations. */
#ifndef KAIDEN_STORE_ROW_H
#define KAIDEN_STORE_ROW_H

#include <json-c/json.h>
#include "buf.h"
#include "compat.h"
#include "ids.h"
#include "seam.h"

struct db;
struct db_res;
struct store_list;
struct store_page;

/* STORE_COL_BOOL: 1 or 0 (select a boolean as "CASE WHEN c THEN 1 WHEN NOT c THEN 0 END":
 * db.h gives no booleans), true or false; NULL stays null. */
enum store_col_type { STORE_COL_TEXT, STORE_COL_INT, STORE_COL_JSON, STORE_COL_BOOL };

struct store_col {
	const char *name; /* a string literal: the objects made keep a pointer to it */
	enum store_col_type type;
};

/* The JSON object of row `row` of res, whose columns must be cols[0..n) in order.
 * STORE_OK or STORE_ERR (logged). */
int store_row_json(const struct db_res *res, int row, const struct store_col *cols, int n,
                   json_object **out) WUR;

/* Runs sql and gives the first row as JSON: STORE_NOT_FOUND when there is none. */
int store_row_one(struct db *db, const char *sql, int nparams, const char *const *params,
                  const struct store_col *cols, int n, json_object **out) WUR;

/* store_row_one with the row written as JSON text (appended to out, which the caller
 * has initialised): the bytes json-c writes for store_row_json's object, as
 * store_list_fill_text writes a list's items. On failure out is emptied. */
int store_row_one_text(struct db *db, const char *sql, int nparams, const char *const *params,
                       const struct store_col *cols, int n, struct buf *out) WUR;

/* Ends the open transaction of a write that read its row back: with rc STORE_OK it
 * commits and hands row over in *out; otherwise (or when the commit fails: STORE_ERR) it
 * rolls back and frees row. Returns the outcome. */
int store_tx_end(struct db *db, int rc, json_object *row, json_object **out) WUR;

/* A page of a list query that fetched up to limit + 1 rows ordered by id DESC (id is
 * column 0): the first limit rows become out->items; has_more and next_cursor (the last
 * returned id) tell whether there is another page. */
int store_list_fill(const struct db_res *res, int limit, const struct store_col *cols,
                    int n, struct store_list *out) WUR;

/* store_list_fill for a list whose items are written as JSON text (out->text, "[...]";
 * out->items NULL): each row gives exactly the bytes json-c writes for store_row_json's
 * object (PLAIN, no slash escape: resp.c's form), without making the objects. */
int store_list_fill_text(const struct db_res *res, int limit, const struct store_col *cols,
                         int n, struct store_list *out) WUR;

/* A tenant's list query's ids: the tenant (tenant_id normalised into tenant) and the
 * page's cursor (into cursor_buf; *cursor is cursor_buf, or NULL for the first page).
 * STORE_OK, or STORE_NOT_FOUND when either is not an id. */
int store_list_ids(const char *tenant_id, const struct store_page *page,
                   char tenant[UUID_STR_LEN], char cursor_buf[UUID_STR_LEN],
                   const char **cursor) WUR;
/* Finishes and runs a list query: sql is "SELECT <cols> FROM ... WHERE ..." with
 * params[0..nparams) bound; adds "AND id < cursor" when cursor is not NULL, then
 * "ORDER BY id DESC LIMIT limit + 1" (params needs room for both), and fills out as
 * store_list_fill does. */
int store_list_run(struct db *db, struct buf *sql, const char **params, int nparams,
                   const char *cursor, int limit, const struct store_col *cols, int n,
                   struct store_list *out) WUR;
/* store_list_run with the items as text (store_list_fill_text). */
int store_list_run_text(struct db *db, struct buf *sql, const char **params, int nparams,
                        const char *cursor, int limit, const struct store_col *cols, int n,
                        struct store_list *out) WUR;
/* The end of store_list_run for a list in another order: appends "ORDER BY order LIMIT
 * limit + 1" (params needs room for one more), runs sql and fills out. The caller has
 * added the condition that continues after its cursor. */
int store_list_ordered(struct db *db, struct buf *sql, const char **params, int nparams,
                       const char *order, int limit, const struct store_col *cols, int n,
                       struct store_list *out) WUR;

/* The page size to use: 50 when page is NULL or limit is 0, else limit clamped to
 * 1..200. */
int store_page_limit(const struct store_page *page);

/* A db_rc as a store_rc: DB_BUSY -> STORE_BUSY, anything else -> STORE_ERR. */
int store_rc_of(int db_rc);

/* Copies an id in lower case (how ids are stored): 0, or -1 when s is not a UUID. Ids
 * are checked before they reach SQL because PostgreSQL rejects a malformed uuid where
 * SQLite would just find nothing; both should answer "not found". */
int store_id(const char *s, char out[UUID_STR_LEN]) WUR;

/* Copies src (NULL: "") into dst of size bytes, cut to fit, always NUL-terminated. */
void store_text_copy(char *dst, size_t size, const char *src);

/* The current time as RFC 3339 text, plus offset seconds. */
void store_time(int offset_seconds, char out[TIMESTAMP_LEN]);

/* Appends " AND <expr>" with the next parameter number: *nparams is incremented and
 * params[*nparams - 1] = value. expr holds "$?" where the number goes (twice at most). */
int store_sql_and(struct buf *sql, const char *expr, const char **params, int *nparams,
                  const char *value) WUR;

/* A LIKE pattern matching q as a literal substring: %q% with \, % and _ escaped by
 * '\' (owned: free). NULL when out of memory. */
char *store_like_pattern(const char *q);

/* The lists' ?q= filter: appends " AND (lower(col_a) LIKE lower($n) ESCAPE '\' OR
 * lower(col_b) LIKE ...)" matching q as a literal substring, case-insensitively in ASCII
 * on both backends (SQLite's LIKE folds ASCII only, PostgreSQL's does not fold; lower()
 * on both sides makes them agree). *pattern receives the parameter's text (owned: free
 * it after the query; NULL on failure). 0 or -1. */
int store_sql_search(struct buf *sql, const char **params, int *nparams, const char *col_a,
                     const char *col_b, const char *q, char **pattern) WUR;

/* Whether a devices row (its columns prefixed by p: "" or "d.") is online: its row says
 * so and the helperd holding its agent is live (the view helperd_live, migration 0021:
 * its heartbeat row is recent). A device whose helperd died reads offline from then on,
 * before any helperd marks it so (store_agent_expire). Every read of a device's presence
 * goes through this (docs/decisions.md, "Issue 15: agent holders"). */
#define STORE_SQL_DEVICE_ONLINE(p)                                                        \
	"(" p "status = 'online' AND EXISTS (SELECT 1 FROM helperd_live hl WHERE "          \
	"hl.instance = " p "helperd))"

/* The device JSON's columns (store.h), in the order of store_device_cols, for a SELECT
 * or RETURNING on devices (store_device.c, store_cluster.c's nodes). */
#define STORE_DEVICE_COLUMNS                                                              \
	"id, name, CASE WHEN " STORE_SQL_DEVICE_ONLINE("") " THEN 'online' ELSE 'offline' "   \
	"END AS status, last_seen, hostname, os, ip_address, agent_version, cluster_id, "  \
	"node_name, labels, node_status, CASE WHEN unschedulable THEN 1 WHEN NOT "           \
	"unschedulable THEN 0 END AS unschedulable, resources, versions, node_reason, "     \
	"node_updated_at, created_at"
extern const struct store_col store_device_cols[];
extern const int store_device_ncols;

/* Inside the caller's transaction: STORE_OK if the device lives in the tenant (ids
 * already checked by store_id), else STORE_NOT_FOUND. On PostgreSQL the row is locked
 * until commit: exclusive (FOR UPDATE) to delete the device, shared (FOR SHARE) to add a
 * session to it, so a delete and a session create for one device are serialised and the
 * delete's live-session check sees every committed session. SQLite's BEGIN IMMEDIATE
 * serialises writers anyway. */
int store_device_lock(struct db *db, const char *tenant, const char *device, int exclusive) WUR;

/* Inserts a job of that kind for a session, queued and due at now (the caller's
 * transaction time), into the open transaction, and NOTIFYs SEAM_CHANNEL_JOBS with its id
 * (delivered at commit). STORE_OK, STORE_ERR or STORE_BUSY. */
int store_job_add(struct db *db, const char *tenant_id, enum seam_job kind,
                  const char *session_id, const char *now) WUR;
/* The same for a "webhook.deliver" job of a webhook (jobs.webhook_id). */
/* A "service.*" job (kind) for service_id with the op_seq it acts for, inside the
 * caller's transaction (store_service.c). */
int store_job_add_service(struct db *db, const char *tenant_id, enum seam_job kind,
                          const char *service_id, long long op_seq, const char *now) WUR;
int store_job_add_webhook(struct db *db, const char *tenant_id, const char *webhook_id,
                          const char *now) WUR;

/* Inside the caller's transaction: the tenant's session pending/active -> ending and a
 * "session.end" job (store_session_end's work; a cluster's delete ends its nodes'
 * sessions with it). 1 when it moved (*out, when out is not NULL, the session JSON), 0
 * when it was not live (or does not exist), or a negative store_rc. Ids checked. */
int store_session_end_tx(struct db *db, const char *tenant, const char *session_id,
                         const char *now, json_object **out) WUR;

/* Inside the caller's transaction: a system comment (not internal) on the tenant's
 * ticket, whose updated_at it bumps (store_ticket.c). STORE_NOT_FOUND when the tenant has
 * no such ticket; with open_only, STORE_CONFLICT when it is closed, a close committed by
 * another transaction included (the condition is the update's, re-checked on the row
 * PostgreSQL waited for; SQLite's BEGIN IMMEDIATE serialises). */
int store_ticket_note(struct db *db, const char *tenant, const char *ticket, int open_only,
                      const char *author_id, const char *author_name, const char *body,
                      const char *now) WUR;

/* The first value of the first row of sql: 1 and a copy into out (out may be NULL; a
 * NULL value is copied as "" and *is_null, when given, says so), 0 when there is no
 * row, or a negative store_rc. */
int store_one_value(struct db *db, const char *sql, int n, const char *const *params,
                    char *out, size_t outlen, int *is_null) WUR;

/* 1 when this database has the table, 0 when not, or a negative store_rc. name is one
 * of ours, never input. */
int store_table_exists(struct db *db, const char *name) WUR;

/* Appends ids (canonical UUIDs) as one bound parameter for "= ANY($1::uuid[])"
 * (PostgreSQL: {a,b}) or "IN (SELECT value FROM json_each($1))" (SQLite: ["a","b"]).
 * 0, or -1 when an id is not a UUID (logged) or out of memory. */
int store_row_id_list(struct db *db, const char *const *ids, int n, struct buf *out) WUR;

#endif
