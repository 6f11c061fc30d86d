/* migrations.c: applies the embedded migrations (sql/<backend>/NNNN_name.sql, compiled
 * in by scripts/embed-sql.sh) that a database has not seen yet.
 *
 * Each migration runs in its own transaction together with the schema_migrations row
 * that records it, so a failed migration leaves nothing behind and a finished one is
 * never run again. Two processes may migrate at once: on PostgreSQL every transaction
 * here first takes one advisory lock (released at commit), and re-checks
 * schema_migrations under it; on SQLite BEGIN IMMEDIATE already serialises writers. */
#include "migrations.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "ids.h"
#include "log.h"

/* Any fixed number, the same in every process that migrates this database. The same
 * statement turns row-level security's staff switch on for the transaction: with RLS
 * forced, a schema owner that is not a superuser sees no rows otherwise, and a
 * migration that moves data must see them all. */
#define MIGRATION_LOCK_SQL \
	"SELECT pg_advisory_xact_lock(4812350215478901), set_config('kaiden.staff', 'on', true)"

static const char create_pg[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version integer PRIMARY KEY,"
	" name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

static const char create_sqlite[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT";

static const char *backend_of(const struct db *db)
{
	return db_kind(db) == DB_POSTGRES ? "pg" : "sqlite";
}

int migrations_latest(const struct db *db)
{
	const char *backend = backend_of(db);
	int latest = 0;

	for (const struct migration *m = migrations; m->backend; m++)
		if (strcmp(m->backend, backend) == 0 && m->version > latest)
			latest = m->version;
	return latest;
}

/* Opens a transaction holding the migration lock. */
static int begin_locked(struct db *db)
{
	if (db_begin(db) != DB_OK)
		return -1;
	if (db_kind(db) == DB_POSTGRES && db_exec(db, MIGRATION_LOCK_SQL, 0, NULL, NULL) != DB_OK) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

static int create_table(struct db *db)
{
	if (begin_locked(db) != 0)
		return -1;
	if (db_exec(db, db_kind(db) == DB_POSTGRES ? create_pg : create_sqlite, 0, NULL, NULL) !=
	        DB_OK ||
	    db_commit(db) != DB_OK) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* Applies m unless it is recorded already: 1 applied, 0 already there, -1 failed. */
static int apply_one(struct db *db, const struct migration *m)
{
	struct db_res *res = NULL;
	char version[16], now[TIMESTAMP_LEN];
	const char *params[3] = { version, m->name, now };
	int rc = -1;

	snprintf(version, sizeof(version), "%d", m->version);
	if (begin_locked(db) != 0)
		return -1;
	if (db_exec(db, "SELECT version FROM schema_migrations WHERE version = $1", 1, params,
	            &res) != DB_OK)
		goto out;
	if (db_res_rows(res) > 0) {
		rc = 0;
		goto out;
	}
	if (db_script(db, m->sql) != DB_OK) {
		log_error("migration=%s failed: %s", m->name, db_errmsg(db));
		goto out;
	}
	ids_timestamp(ids_now_ms(), now);
	if (db_exec(db, "INSERT INTO schema_migrations (version, name, applied_at) "
	                "VALUES ($1, $2, $3)",
	            3, params, NULL) != DB_OK)
		goto out;
	if (db_commit(db) != DB_OK)
		goto out;
	log_info("migration=%s applied", m->name);
	rc = 1;
out:
	db_res_free(res);
	if (rc != 1)
		db_rollback(db);
	return rc;
}

int migrations_apply(struct db *db, int *applied)
{
	const char *backend = backend_of(db);
	int count = 0, last = 0;

	if (create_table(db) != 0)
		return -1;
	for (const struct migration *m = migrations; m->backend; m++) {
		int rc;
		if (strcmp(m->backend, backend) != 0)
			continue;
		/* The embedding script sorts by path; a gap or a repeat is a packaging bug. */
		if (m->version <= last) {
			log_error("migration=%s version %d out of order", m->name, m->version);
			return -1;
		}
		last = m->version;
		rc = apply_one(db, m);
		if (rc < 0)
			return -1;
		count += rc;
	}
	if (applied)
		*applied = count;
	return 0;
}
