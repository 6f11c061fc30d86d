/* db_impl.h: what db.c shares with its two backends (db_pg.c, db_sqlite.c). Private to
 * the db module: nothing outside common/db*.c includes it.
 *
 * Each backend's connection struct starts with a struct db, so a struct db * is also a
 * pointer to the backend's struct. Results are built the same way by both backends
 * (struct db_res_build), so db_res_* is written once; PostgreSQL's point into the
 * PGresult instead of copying it (db_res_borrow). */
#ifndef KAIDEN_DB_IMPL_H
#define KAIDEN_DB_IMPL_H

#include <stddef.h>
#include "buf.h"
#include "compat.h"
#include "db.h"

enum db_conn {
	DB_CONN_OK,
	DB_CONN_TX_FAILED, /* up, but a statement failed in the open transaction */
	DB_CONN_BROKEN     /* known dead */
};

struct db_ops {
	int (*exec)(struct db *db, const char *sql, int n, const char *const *params,
	            struct db_res **out);
	/* db_exec_each, when the backend can hand rows over without a result (NULL: db.c
	 * runs exec and hands over its rows). */
	int (*exec_each)(struct db *db, const char *sql, int n, const char *const *params,
	                 db_row_fn fn, void *ctx);
	int (*script)(struct db *db, const char *sql);
	/* 1 when a transaction is open (or failed and not yet rolled back). */
	int (*in_tx)(struct db *db);
	/* Reconnects when the connection is known to be broken: 0 or -1. */
	int (*reconnect)(struct db *db);
	void (*close)(struct db *db);
	/* The rest may be NULL: a backend without row-level security (SQLite) has no
	 * transaction to open for a scope and no session settings to keep. */
	/* Opens the scope with its settings (tenant_id NULL or checked; read: a read scope):
	 * at once, or with its first statement. */
	int (*scope_open)(struct db *db, const char *tenant_id, int staff, int read);
	/* db_begin inside a scope is about to open its first savepoint. */
	void (*scope_hold)(struct db *db);
	/* Ends it: commits (ok 1) or rolls back; see db_scope_end. */
	int (*scope_close)(struct db *db, int ok);
	/* Applies SET name = value now and after every reconnect (name checked). */
	int (*session_set)(struct db *db, const char *name, const char *value);
	/* How the connection is, without a round trip (NULL: always DB_CONN_OK). */
	enum db_conn (*conn_state)(struct db *db);
	/* LISTEN name now and after every reconnect (name checked); db_notices. */
	int (*listen)(struct db *db, const char *name);
	unsigned long (*notices)(struct db *db, int fresh);
};

struct db {
	enum db_kind kind;
	const struct db_ops *ops;
	long changes;
	char errmsg[256];
	/* The tenant scope (db.h): scope from db_scope_begin to db_scope_end; scope_tx when
	 * the backend opened a transaction for it, inside which db_begin/db_commit/
	 * db_rollback are savepoints, savepoints of them open now. */
	int scope;
	int scope_tx;
	int savepoints;
	unsigned long trips; /* db_trips */
	int pooled;          /* db_set_pooled: no session state (PostgreSQL) */
};

int db_pg_open(const char *conninfo, struct db **out) WUR;
/* create: 1 makes a missing file (0600), 0 answers DB_MISSING for one (db.h). */
int db_sqlite_open(const char *path, int create, struct db **out) WUR;

/* Records a failure: sets errmsg and logs it once (error level for DB_ERR, warn for
 * DB_CONSTRAINT and DB_BUSY, which callers often expect). sql is shown shortened; it
 * never holds values, which travel as parameters. Returns rc. */
int db_fail(struct db *db, enum db_rc rc, const char *sql, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
void db_ok(struct db *db, long changes);

/* The statement caches' key hash (both backends keep prepared statements by their SQL
 * text, and the store's texts share long prefixes, so hashes are compared before
 * texts). Eight bytes at a time: a device's SELECT is some 500 bytes, hashed at least
 * once a request. */
unsigned long db_sql_hash(const char *sql);

/* Building a result: the column names first (cols values), then each row's values in
 * order. Offsets, not pointers, until the end, because the text buffer moves. */
struct db_res_build {
	int cols;
	size_t n, cap;  /* values added so far (names included), room in offs */
	size_t *offs;   /* offset into text, or (size_t)-1 for NULL */
	struct buf text;
};

void db_res_build_init(struct db_res_build *b, int cols);
/* s == NULL adds SQL NULL. 0 or -1 (out of memory / over the cap). */
int db_res_build_add(struct db_res_build *b, const char *s, size_t len) WUR;
/* Moves everything into a new db_res (b is cleared either way). 0 or -1. */
int db_res_build_finish(struct db_res_build *b, struct db_res **out) WUR;
void db_res_build_clear(struct db_res_build *b);

/* A result that copies nothing: its names and values are pointers into memory the
 * backend already holds (owner: PostgreSQL's PGresult), which lives as long as the result
 * and is freed by owner_free with it (owner is taken only on success). Every name and
 * value must be put before the result is handed out (names start as "", values are
 * unset); spare is room for values the backend rewrites (db_res_spare), owned by the
 * result. held (the owner's size) and spare are held to the cap of a copied result.
 * NULL when over it or out of memory (owner then stays the caller's). */
struct db_res *db_res_borrow(int rows, int cols, size_t held, size_t spare, void *owner,
                             void (*owner_free)(void *owner));
char *db_res_spare(struct db_res *res);
/* name and v are borrowed for the result's life: the owner's memory or the spare. */
void db_res_put_name(struct db_res *res, int col, const char *name);
void db_res_put(struct db_res *res, int row, int col, const char *v);

#endif
