/* db.c: the backend-neutral half of db.h: dispatch to the backend, transactions,
 * results, and error recording. The backends are db_pg.c and db_sqlite.c. */
#include "db.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "ids.h"
#include "log.h"

/* A result larger than this is a bug (a missing LIMIT), not something to hand out. */
#define DB_RES_MAX ((size_t)64 * 1024 * 1024)
#define DB_NULL_OFF ((size_t)-1)

struct db_res {
	int rows, cols;
	char **names; /* cols pointers into text or owner's memory */
	char **vals;  /* rows * cols pointers into text or owner's memory, NULL for SQL NULL */
	char *text;
	/* A borrowed result (db_res_borrow): what names and vals point into, freed with it. */
	void *owner;
	void (*owner_free)(void *owner);
};

static int open_with(const char *driver, const char *target, int create, struct db **out)
{
	if (!driver || !target) {
		log_error("db: open needs a driver and a target");
		return DB_ERR;
	}
	if (strcmp(driver, "sqlite") == 0)
		return db_sqlite_open(target, create, out);
	if (strcmp(driver, "postgres") == 0 || strcmp(driver, "postgresql") == 0)
		return db_pg_open(target, out);
	log_error("db: unknown driver %s (sqlite or postgres)", driver);
	return DB_ERR;
}

int db_open(const char *driver, const char *target, struct db **out)
{
	return open_with(driver, target, 1, out);
}

int db_open_existing(const char *driver, const char *target, struct db **out)
{
	return open_with(driver, target, 0, out);
}

void db_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

enum db_kind db_kind(const struct db *db)
{
	return db->kind;
}

int db_exec(struct db *db, const char *sql, int n, const char *const *params,
            struct db_res **out)
{
	if (n < 0 || (n > 0 && !params))
		return db_fail(db, DB_ERR, sql, "bad parameter list");
	return db->ops->exec(db, sql, n, params, out);
}

int db_exec_each(struct db *db, const char *sql, int n, const char *const *params,
                 db_row_fn fn, void *ctx)
{
	struct db_res *res = NULL;
	int rc;

	if (n < 0 || (n > 0 && !params))
		return db_fail(db, DB_ERR, sql, "bad parameter list");
	if (db->ops->exec_each)
		return db->ops->exec_each(db, sql, n, params, fn, ctx);
	rc = db->ops->exec(db, sql, n, params, &res);
	for (int r = 0; rc == DB_OK && r < db_res_rows(res); r++)
		if (fn(ctx, res, r) != 0)
			rc = DB_ERR;
	db_res_free(res);
	return rc;
}

int db_script(struct db *db, const char *sql)
{
	return db->ops->script(db, sql);
}

static enum db_conn conn_state(struct db *db)
{
	return db->ops->conn_state ? db->ops->conn_state(db) : DB_CONN_OK;
}

/* BEGIN IMMEDIATE on SQLite takes the write lock now rather than at the first write: a
 * deferred transaction that reads and then writes can fail with SQLITE_BUSY_SNAPSHOT,
 * which no busy timeout helps. Every transaction we open writes.
 *
 * Inside a scope's transaction (PostgreSQL) the store's own transactions nest as
 * savepoints kaiden_1, kaiden_2 ... by depth: a store function that rolls back undoes
 * its own work only, and leaves the request's transaction usable. */
int db_begin(struct db *db)
{
	char sql[48];
	int rc;

	if (!db->scope_tx)
		return db_exec(db, db->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", 0, NULL,
		               NULL);
	/* A read scope has no transaction to hold a savepoint until asked for one. */
	if (db->savepoints == 0 && db->ops->scope_hold)
		db->ops->scope_hold(db);
	snprintf(sql, sizeof(sql), "SAVEPOINT kaiden_%d", db->savepoints + 1);
	rc = db_exec(db, sql, 0, NULL, NULL);
	if (rc == DB_OK)
		db->savepoints++;
	return rc;
}

int db_commit(struct db *db)
{
	char sql[48];
	int rc;

	if (!db->scope_tx)
		return db_exec(db, "COMMIT", 0, NULL, NULL);
	/* The scope's own transaction is db_scope_end's to end. */
	if (db->savepoints == 0)
		return db_fail(db, DB_ERR, "COMMIT", "commit with no db_begin inside a scope");
	snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT kaiden_%d", db->savepoints);
	rc = db_exec(db, sql, 0, NULL, NULL);
	/* A failed release (a statement had failed) leaves the savepoint for the caller's
	 * db_rollback, as a failed COMMIT leaves nothing for it outside a scope. */
	if (rc == DB_OK)
		db->savepoints--;
	return rc;
}

void db_rollback(struct db *db)
{
	char sql[96];

	if (db->scope_tx) {
		/* Nothing of the caller's own is open: safe to call twice, as outside. */
		if (db->savepoints == 0)
			return;
		/* One round trip; a failure is logged by script, and db_scope_end then rolls
		 * the whole transaction back. */
		snprintf(sql, sizeof(sql),
		         "ROLLBACK TO SAVEPOINT kaiden_%d; RELEASE SAVEPOINT kaiden_%d",
		         db->savepoints, db->savepoints);
		db->savepoints--;
		/* A lost connection was logged where it was found; db_scope_end reports it. */
		if (conn_state(db) != DB_CONN_BROKEN)
			(void)db->ops->script(db, sql);
		return;
	}
	if (!db->ops->in_tx(db))
		return;
	/* A failed rollback is logged by exec; the connection is then unusable anyway. */
	if (db_exec(db, "ROLLBACK", 0, NULL, NULL) != DB_OK)
		return;
}

int db_notify(struct db *db, const char *channel, const char *payload)
{
	const char *params[2] = { channel, payload ? payload : "" };

	if (db->kind != DB_POSTGRES)
		return DB_OK;
	return db_exec(db, "SELECT pg_notify($1, $2)", 2, params, NULL);
}

long db_changes(const struct db *db)
{
	return db->changes;
}

const char *db_errmsg(const struct db *db)
{
	return db->errmsg;
}

int db_ping(struct db *db)
{
	struct db_res *res = NULL;
	enum db_conn state;

	/* Inside a scope a reconnect would lose the request's transaction and its tenant, so
	 * ping only looks. A transaction that a failed statement aborted says nothing about
	 * the connection (every statement fails until db_scope_end): the connection is fine. */
	if (db->scope) {
		state = conn_state(db);
		if (state != DB_CONN_OK)
			return state == DB_CONN_TX_FAILED ? 0 : -1;
		if (db->ops->exec(db, "SELECT 1", 0, NULL, &res) == DB_OK && db_res_rows(res) == 1) {
			db_res_free(res);
			return 0;
		}
		db_res_free(res);
		return conn_state(db) == DB_CONN_BROKEN ? -1 : 0;
	}
	if (db->ops->exec(db, "SELECT 1", 0, NULL, &res) == DB_OK && db_res_rows(res) == 1) {
		db_res_free(res);
		return 0;
	}
	db_res_free(res);
	if (db->ops->reconnect(db) != 0)
		return -1;
	if (db->ops->exec(db, "SELECT 1", 0, NULL, &res) != DB_OK) {
		db_res_free(res);
		return -1;
	}
	db_res_free(res);
	return 0;
}

/* ---- errors ---------------------------------------------------------------------- */

/* The start of a statement, on one line, without double quotes (logfmt). */
static void sql_summary(const char *sql, char *out, size_t size)
{
	const char *p = sql ? sql : "";
	size_t o = 0;
	int space = 0;

	/* Each turn writes at most two bytes (a space and the character), and "..." plus
	 * the NUL must still fit after the last: o + 2 + 3 + 1 <= size. */
	for (; *p && o + 6 <= size; p++) {
		char c = *p;
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		out[o++] = c == '"' ? '\'' : c;
	}
	if (*p) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static const char *kind_name(const struct db *db)
{
	return db->kind == DB_POSTGRES ? "postgres" : "sqlite";
}

int db_fail(struct db *db, enum db_rc rc, const char *sql, const char *fmt, ...)
{
	va_list ap;
	char what[64];

	va_start(ap, fmt);
	vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
	va_end(ap);
	/* One line, no double quotes (log.c quotes the message), no trailing space. */
	for (char *p = db->errmsg; *p; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
		else if (*p == '"')
			*p = '\'';
	}
	for (size_t len = strlen(db->errmsg); len > 0 && db->errmsg[len - 1] == ' '; len--)
		db->errmsg[len - 1] = '\0';
	sql_summary(sql, what, sizeof(what));
	db->changes = 0;
	/* log.c quotes the whole message: no double quotes inside it. */
	if (rc == DB_ERR)
		log_error("db=%s %s%s%s%s", kind_name(db), db->errmsg, what[0] ? " (sql: " : "",
		          what, what[0] ? ")" : "");
	else
		log_warn("db=%s %s%s%s%s", kind_name(db), db->errmsg, what[0] ? " (sql: " : "",
		         what, what[0] ? ")" : "");
	return rc;
}

void db_ok(struct db *db, long changes)
{
	db->changes = changes;
	db->errmsg[0] = '\0';
}

/* ---- results --------------------------------------------------------------------- */

void db_res_build_init(struct db_res_build *b, int cols)
{
	b->cols = cols;
	b->n = 0;
	b->cap = 0;
	b->offs = NULL;
	buf_init(&b->text, DB_RES_MAX);
}

int db_res_build_add(struct db_res_build *b, const char *s, size_t len)
{
	size_t off = DB_NULL_OFF;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		size_t *offs = realloc(b->offs, cap * sizeof(*offs));
		if (!offs)
			return -1;
		b->offs = offs;
		b->cap = cap;
	}
	if (s) {
		/* The value and its NUL in one reservation (a page of devices is 900 values). */
		off = b->text.len;
		if (buf_reserve(&b->text, len + 1) != 0)
			return -1;
		memcpy(b->text.data + off, s, len);
		b->text.data[off + len] = '\0';
		b->text.len += len + 1;
		b->text.data[b->text.len] = '\0';
	}
	b->offs[b->n++] = off;
	return 0;
}

int db_res_build_finish(struct db_res_build *b, struct db_res **out)
{
	struct db_res *res = NULL;
	size_t nvals;
	int rc = -1;

	if (b->cols < 0 || b->n < (size_t)b->cols || (b->cols > 0 && (b->n - b->cols) % b->cols))
		goto out;
	nvals = b->n - (size_t)b->cols;
	if (b->cols > 0 && nvals / b->cols > INT32_MAX)
		goto out;
	res = calloc(1, sizeof(*res));
	if (!res)
		goto out;
	res->cols = b->cols;
	res->rows = b->cols > 0 ? (int)(nvals / b->cols) : 0;
	res->names = calloc(b->cols ? b->cols : 1, sizeof(char *));
	res->vals = calloc(nvals ? nvals : 1, sizeof(char *));
	res->text = buf_take(&b->text);
	if (!res->names || !res->vals || !res->text)
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		char *v = b->offs[i] == DB_NULL_OFF ? NULL : res->text + b->offs[i];
		if (i < (size_t)b->cols)
			res->names[i] = v ? v : (char *)"";
		else
			res->vals[i - b->cols] = v;
	}
	*out = res;
	res = NULL;
	rc = 0;
out:
	db_res_free(res);
	db_res_build_clear(b);
	return rc;
}

struct db_res *db_res_borrow(int rows, int cols, size_t held, size_t spare, void *owner,
                             void (*owner_free)(void *owner))
{
	struct db_res *res;
	size_t nvals = (size_t)rows * (size_t)cols;

	if (rows < 0 || cols < 0 || held > DB_RES_MAX || spare > DB_RES_MAX - held)
		return NULL;
	res = calloc(1, sizeof(*res));
	if (!res)
		return NULL;
	res->rows = rows;
	res->cols = cols;
	res->names = calloc(cols ? (size_t)cols : 1, sizeof(char *));
	res->vals = malloc((nvals ? nvals : 1) * sizeof(char *));
	res->text = malloc(spare ? spare : 1);
	if (!res->names || !res->vals || !res->text) {
		db_res_free(res);
		return NULL;
	}
	for (int c = 0; c < cols; c++)
		res->names[c] = (char *)"";
	res->owner = owner;
	res->owner_free = owner_free;
	return res;
}

char *db_res_spare(struct db_res *res)
{
	return res->text;
}

void db_res_put_name(struct db_res *res, int col, const char *name)
{
	res->names[col] = (char *)(name ? name : "");
}

void db_res_put(struct db_res *res, int row, int col, const char *v)
{
	res->vals[(size_t)row * res->cols + col] = (char *)v;
}

void db_res_build_clear(struct db_res_build *b)
{
	free(b->offs);
	b->offs = NULL;
	b->n = b->cap = 0;
	buf_clear(&b->text);
}

int db_res_rows(const struct db_res *res)
{
	return res ? res->rows : 0;
}

int db_res_cols(const struct db_res *res)
{
	return res ? res->cols : 0;
}

const char *db_res_name(const struct db_res *res, int col)
{
	if (!res || col < 0 || col >= res->cols)
		return NULL;
	return res->names[col];
}

const char *db_res_get(const struct db_res *res, int row, int col)
{
	if (!res || row < 0 || row >= res->rows || col < 0 || col >= res->cols)
		return NULL;
	return res->vals[(size_t)row * res->cols + col];
}

int db_res_col(const struct db_res *res, const char *name)
{
	if (!res || !name)
		return -1;
	for (int i = 0; i < res->cols; i++)
		if (strcmp(res->names[i], name) == 0)
			return i;
	return -1;
}

void db_res_free(struct db_res *res)
{
	if (!res)
		return;
	free(res->names);
	free(res->vals);
	free(res->text);
	if (res->owner_free)
		res->owner_free(res->owner);
	free(res);
}

/* ---- tenant scope (row-level security) ------------------------------------------ */

static int scope_begin(struct db *db, const char *tenant_id, int staff, int read)
{
	if (db->scope)
		return db_fail(db, DB_ERR, "BEGIN", "a scope is already open");
	/* Only a UUID's characters get into the scope's settings. */
	if (tenant_id && !ids_is_uuid(tenant_id))
		return db_fail(db, DB_ERR, "BEGIN", "the scope's tenant is not a UUID");
	if (db->ops->scope_open) {
		int rc = db->ops->scope_open(db, tenant_id, staff != 0, read);
		if (rc != DB_OK)
			return rc;
		db->scope_tx = 1;
	}
	db->scope = 1;
	db->savepoints = 0;
	return DB_OK;
}

int db_scope_begin(struct db *db, const char *tenant_id, int staff)
{
	return scope_begin(db, tenant_id, staff, 0);
}

int db_scope_begin_read(struct db *db, const char *tenant_id, int staff)
{
	return scope_begin(db, tenant_id, staff, 1);
}

int db_scope_end(struct db *db, int ok)
{
	int rc = DB_OK;

	if (!db->scope)
		return db_fail(db, DB_ERR, "COMMIT", "no scope is open");
	if (db->scope_tx)
		rc = db->ops->scope_close(db, ok);
	db->scope = 0;
	db->scope_tx = 0;
	db->savepoints = 0;
	return rc;
}

int db_in_scope(const struct db *db)
{
	return db->scope;
}

/* A setting's name: identifiers of letters, digits and '_' (not starting with a digit)
 * joined by single dots, as PostgreSQL's custom settings are named (kaiden.staff). It is
 * written into the SET text unquoted. */
static int setting_name_valid(const char *name)
{
	size_t len = 0, part = 0;

	for (const char *p = name; *p; p++, len++) {
		char c = *p;
		if (c == '.') {
			if (part == 0)
				return 0;
			part = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (part > 0 && c >= '0' && c <= '9')))
			return 0;
		part++;
	}
	return len > 0 && len <= DB_SETTING_NAME_MAX && part > 0;
}

void db_set_pooled(struct db *db)
{
	db->pooled = 1;
}

int db_session_set(struct db *db, const char *name, const char *value)
{
	if (!name || !value || !setting_name_valid(name))
		return db_fail(db, DB_ERR, "SET", "a session setting needs a plain name and a value");
	if (!db->ops->session_set)
		return DB_OK;
	if (db->pooled)
		return db_fail(db, DB_ERR, "SET", "the connection goes through a pooler in "
		               "transaction mode (database.pooler): a session setting would stay on "
		               "a server connection others get next; connect directly");
	if (db->scope || db->ops->in_tx(db))
		return db_fail(db, DB_ERR, "SET", "session settings are made outside transactions");
	return db->ops->session_set(db, name, value);
}

int db_listen(struct db *db, const char *channel)
{
	if (!channel || !setting_name_valid(channel) || strchr(channel, '.'))
		return db_fail(db, DB_ERR, "LISTEN", "a channel needs a plain name");
	if (db->pooled && db->kind == DB_POSTGRES)
		return db_fail(db, DB_ERR, "LISTEN", "the connection goes through a pooler in "
		               "transaction mode (database.pooler): a LISTEN would hear nothing");
	if (db->scope || db->ops->in_tx(db))
		return db_fail(db, DB_ERR, "LISTEN", "channels are listened to outside transactions");
	return db->ops->listen(db, channel);
}

unsigned long db_notices(struct db *db, int fresh)
{
	return db->ops->notices(db, fresh);
}

unsigned long db_sql_hash(const char *sql)
{
	size_t len = strlen(sql), i = 0;
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, sql + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, sql + i, len - i);
	h = (h ^ w) * 0x100000001b3ULL;
	return (unsigned long)(h ^ (h >> 32));
}

unsigned long db_trips(const struct db *db)
{
	return db->trips;
}

/* Whether row-level security holds for this connection's role: it does not for a
 * superuser, a role with BYPASSRLS, or one that owns (or may act as the owner of) a
 * table under it, which can turn it off; nor where no table has it enabled (the
 * migration that enables it has not run). Booleans as 0/1 (db.h). */
static const char rls_check_sql[] =
	"SELECT CASE WHEN r.rolsuper THEN 1 ELSE 0 END, "
	"CASE WHEN r.rolbypassrls THEN 1 ELSE 0 END, "
	"(SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
	" WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' "
	" AND c.relrowsecurity AND pg_has_role(current_user, c.relowner, 'MEMBER')), "
	"(SELECT count(*) FROM pg_class c "
	" WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' "
	" AND c.relrowsecurity AND c.relforcerowsecurity), "
	"current_user "
	"FROM pg_roles r WHERE r.rolname = current_user";

int db_rls_check(struct db *db)
{
	struct db_res *res = NULL;
	const char *super, *bypass, *owned, *forced, *role;
	int rc = -1;

	if (db->kind != DB_POSTGRES)
		return 0;
	if (db_exec(db, rls_check_sql, 0, NULL, &res) != DB_OK || db_res_rows(res) != 1) {
		log_error("db=postgres could not check whether row-level security is in force: %s",
		          db_errmsg(db));
		goto out;
	}
	super = db_res_get(res, 0, 0);
	bypass = db_res_get(res, 0, 1);
	owned = db_res_get(res, 0, 2);
	forced = db_res_get(res, 0, 3);
	role = db_res_get(res, 0, 4);
	rc = 1;
	if (super && strcmp(super, "1") == 0)
		log_warn("db=postgres role=%s is a superuser: row-level security is not in force: "
		         "connect as a non-owner role (database.dsn)", role);
	else if (bypass && strcmp(bypass, "1") == 0)
		log_warn("db=postgres role=%s has BYPASSRLS: row-level security is not in force: "
		         "connect as a non-owner role (database.dsn)", role);
	else if (owned)
		log_warn("db=postgres role=%s owns the tables (%s): row-level security is not in "
		         "force: connect as a non-owner role (database.dsn)", role, owned);
	else if (!forced || strcmp(forced, "0") == 0)
		log_warn("db=postgres no table has row-level security enabled and forced: run "
		         "kaiden-api migrate");
	else
		rc = 0;
out:
	db_res_free(res);
	return rc;
}
