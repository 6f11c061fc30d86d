/* db.h: one small interface over PostgreSQL (libpq) and SQLite.
 *
 * SQL is written once for both: parameters are $1..$n in the text (SQLite accepts them
 * as named parameters; the binding maps them by name), every parameter and every result
 * value is text, and time stamps are RFC 3339 text made by the application (ids.h), so
 * no SQL needs now(). PostgreSQL's timestamptz results are given back in the same
 * RFC 3339 form (the session runs with TimeZone=UTC). Statements that cannot be written
 * once (a claim with FOR UPDATE SKIP LOCKED) ask db_kind().
 *
 * A db is one connection: use it from one thread at a time. */
#ifndef KAIDEN_DB_H
#define KAIDEN_DB_H

#include <stddef.h>
#include "compat.h"

struct db;
struct db_res;

enum db_kind { DB_SQLITE, DB_POSTGRES };

enum db_rc {
	DB_OK = 0,
	DB_ERR = -1,        /* anything else: logged where it happened */
	DB_CONSTRAINT = -2, /* unique / foreign key / check violation */
	DB_BUSY = -3,       /* serialization failure, deadlock, SQLITE_BUSY after the timeout */
	DB_MISSING = -4     /* db_open_existing: the SQLite file does not exist */
};

/* driver "sqlite" (target: file path, or ":memory:") or "postgres" (target: conninfo).
 * SQLite is opened in WAL mode with foreign keys on and a busy timeout. A SQLite file
 * that does not exist is created mode 0600 whatever the umask (it holds password hashes
 * and token digests); its -wal and -shm files take the same mode. */
int db_open(const char *driver, const char *target, struct db **out) WUR;
/* db_open, except that a SQLite file must exist already: none is created, and a missing
 * one is DB_MISSING, with nothing logged (the caller says what to do about it). Every
 * program but `kaiden-api migrate` opens this way, so that a wrong path never leaves an
 * empty database behind. PostgreSQL: the same as db_open. */
int db_open_existing(const char *driver, const char *target, struct db **out) WUR;
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);

/* Runs one statement with n text parameters (a NULL pointer is SQL NULL). When out is
 * not NULL it receives the rows (owned: db_res_free). The statement must use exactly
 * $1..$n (PostgreSQL's rule, enforced on SQLite too, so SQL tested on one backend runs on
 * the other). Results: text as the database gives it, except that timestamptz is
 * RFC 3339 as above; booleans differ (t/f vs 1/0), so the store selects none. On SQLite
 * prepared statements are cached per connection, keyed by the SQL text. */
int db_exec(struct db *db, const char *sql, int n, const char *const *params,
            struct db_res **out) WUR;
/* db_exec for a query whose rows are used one at a time and not kept: fn gets each row
 * in turn (row `row` of res), valid only during that call; on SQLite the rows are not
 * copied into a result first. fn returns 0 to go on; anything else stops the query,
 * which then answers DB_ERR (fn logs its own failure). Queries only: a write stopped
 * half way would be half done. */
typedef int (*db_row_fn)(void *ctx, const struct db_res *res, int row);
int db_exec_each(struct db *db, const char *sql, int n, const char *const *params,
                 db_row_fn fn, void *ctx) WUR;
/* Runs a script of several statements without parameters (migrations). */
int db_script(struct db *db, const char *sql) WUR;

/* SQLite: BEGIN IMMEDIATE (the write lock is taken at once; every transaction here
 * writes). Failures are logged once, where found: DB_ERR as an error, DB_CONSTRAINT and
 * DB_BUSY as warnings (callers often expect them); never with parameter values. */
int db_begin(struct db *db) WUR;
int db_commit(struct db *db) WUR;
/* Safe to call when no transaction is open. */
void db_rollback(struct db *db);

/* PostgreSQL: NOTIFY channel, payload (delivered at commit when inside a transaction).
 * SQLite: nothing to do (readers poll). */
int db_notify(struct db *db, const char *channel, const char *payload) WUR;

/* Number of rows changed by the last db_exec (UPDATE/DELETE/INSERT; 0 after a SELECT
 * or a failure). */
long db_changes(const struct db *db);
/* The last error's message (borrowed, "" if none). */
const char *db_errmsg(const struct db *db);
/* 0 if the connection answers a trivial query, else -1. Reconnects PostgreSQL once. */
int db_ping(struct db *db) WUR;

/* ---- tenant scope (row-level security) ----------------------------------------------
 * PostgreSQL: db_scope_begin opens the request's transaction and sets, for it only,
 * the tenant that row-level security lets through: kaiden.tenant_id = '<tenant_id>'
 * ('' when NULL: no tenant) and kaiden.staff = 'on' | 'off', transaction-local. Nothing
 * is sent until the scope's first statement, which goes in one round trip with the
 * BEGIN and the settings (libpq's pipeline mode); a connection found dead by it (the
 * server restarted while it was idle) is reconnected and the whole sent again, as
 * nothing of it took effect. A scope in which nothing ran ends without a round trip.
 * db_scope_begin_read opens a read scope: each statement runs in its own read-only
 * transaction with the settings, sent with it in one round trip, and nothing is left
 * to commit (under READ COMMITTED each statement of a transaction takes its own
 * snapshot anyway); a write in it fails. A db_begin inside a read scope opens one
 * read-only transaction for the rest of the scope. A failed statement of a read scope
 * spoils nothing after it.
 * Inside a scope db_begin/db_commit/db_rollback nest as savepoints (SAVEPOINT / RELEASE
 * / ROLLBACK TO + RELEASE): a store function's rollback undoes its own work only and
 * leaves the request's transaction usable; db_rollback with none of its own open does
 * nothing, and db_commit with none open is DB_ERR (the scope is db_scope_end's to end).
 * A statement that fails outside such a savepoint aborts the request's transaction:
 * later statements fail until db_scope_end. Nothing inside a scope reconnects: a
 * connection lost in it fails every statement until db_scope_end.
 * db_scope_end commits (ok 1) or rolls back (ok 0); DB_OK, or DB_ERR when ok is 1 but
 * nothing could be committed (a statement had aborted the transaction, the connection
 * was lost, the COMMIT failed). tenant_id must be a canonical UUID (it is written into
 * the SET LOCAL text). No scope inside a scope.
 * SQLite: no row-level security; a scope only records that one is open (no transaction)
 * and db_begin/db_commit keep their meaning. */
int db_scope_begin(struct db *db, const char *tenant_id, int staff) WUR;
int db_scope_begin_read(struct db *db, const char *tenant_id, int staff) WUR;
int db_scope_end(struct db *db, int ok) WUR;
/* 1 while a scope is open. */
int db_in_scope(const struct db *db);
/* A setting kept for the connection's life: SET name = value now and after every
 * reconnect (PostgreSQL; SQLite ignores it). helperd and kaiden-api's admin commands set
 * kaiden.staff = on (they serve every tenant). name must be a plain identifier with
 * dots (at most DB_SETTING_NAME_MAX characters); value is quoted as a literal. Setting a
 * name again replaces its value. Not inside a transaction or a scope (DB_ERR). */
#define DB_SETTING_NAME_MAX 63
int db_session_set(struct db *db, const char *name, const char *value) WUR;
/* PostgreSQL: logs a warning when row-level security cannot hold for the connected
 * role ("row-level security is not in force: connect as a non-owner role"): it is a
 * superuser, has BYPASSRLS, or owns (is a member of the owner of) the tables; or no
 * table has it enabled. 0 in force, 1 warned, -1 the check failed (logged). SQLite: 0.
 * kaiden-api serve and helperd call it at start-up. */
int db_rls_check(struct db *db);

/* ---- a pooler in transaction mode --------------------------------------------------
 * db_set_pooled: this connection reaches PostgreSQL through a pooler that hands each
 * transaction to any of its server connections (PgBouncer's pool_mode = transaction,
 * any version: nothing here needs its max_prepared_statements), so nothing may live in
 * the server session between transactions. From then on every statement is sent
 * unnamed (PQexecParams, or PQsendQueryParams in a scope's pipeline: still one round
 * trip), and db_session_set and db_listen refuse (DB_ERR, said): a SET would stay on a
 * server connection that others get next, and a LISTEN would hear nothing. The fixed
 * settings every connection makes at open (client_encoding, TimeZone, DateStyle,
 * standard_conforming_strings) are ones PgBouncer tracks per client and sets again on
 * each server connection it lends. Call it right after db_open, before any statement.
 * SQLite: nothing changes. */
void db_set_pooled(struct db *db);

/* ---- change notices ----------------------------------------------------------------------
 * For a cache that a change invalidates (kaiden-api's verified credentials, issue 14).
 * db_listen: PostgreSQL: LISTEN channel (a plain identifier) on this connection, kept
 * across reconnects; outside transactions and scopes. SQLite: nothing to do (below).
 * db_notices: a count that moves when something the caller listens for may have
 * changed. PostgreSQL: a notification on a listened channel has arrived, or the
 * connection was made again (a new session missed whatever was sent meanwhile). SQLite,
 * which has no notifications: another connection committed anything (the pager's data
 * version), or this one changed a row. It counts what the exchanges so far brought
 * (PostgreSQL: what libpq read with their results; it reads nothing itself) without
 * waiting; fresh makes one more exchange first (PostgreSQL: an empty query; SQLite: a
 * read transaction).
 * db_trips: how many exchanges with the database have completed (statements run, on
 * SQLite). PostgreSQL sends a notification that was committed before an exchange began
 * ahead of that exchange's end, and a SQLite read transaction sees every commit made
 * before it began, so a count read after an exchange that began after a commit counts
 * that commit (docs/decisions.md, "Issue 14: one round trip per request"). */
int db_listen(struct db *db, const char *channel) WUR;
unsigned long db_notices(struct db *db, int fresh);
unsigned long db_trips(const struct db *db);

int db_res_rows(const struct db_res *res);
int db_res_cols(const struct db_res *res);
const char *db_res_name(const struct db_res *res, int col);
/* Borrowed text of a value, NULL for SQL NULL. */
const char *db_res_get(const struct db_res *res, int row, int col);
/* Column index by name, or -1. */
int db_res_col(const struct db_res *res, const char *name);
void db_res_free(struct db_res *res);

#endif
