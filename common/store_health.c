/* store_health.c: is the database there, and migrated to what this binary expects? */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrations.h"

static int schema_version(struct db *db, int *version)
{
	struct db_res *res = NULL;
	const char *v;
	int rc = -1;

	if (db_exec(db, "SELECT max(version) AS version FROM schema_migrations", 0, NULL, &res) !=
	    DB_OK)
		goto out;
	v = db_res_get(res, 0, 0);
	*version = v ? atoi(v) : 0;
	rc = 0;
out:
	db_res_free(res);
	return rc;
}

int store_health(struct db *db)
{
	int version = 0, want = migrations_latest(db);

	/* A PostgreSQL connection that dropped is re-made once by db_ping. */
	if (schema_version(db, &version) != 0 &&
	    (db_ping(db) != 0 || schema_version(db, &version) != 0))
		return STORE_ERR;
	if (version != want) {
		log_error("db schema version %d, this binary needs %d (run: kaiden-api migrate)",
		          version, want);
		return STORE_ERR;
	}
	return STORE_OK;
}

int store_schema_version(struct db *db, int *version)
{
	/* Ask the catalogue first: selecting from a table that is not there would log an
	 * error, and an unmigrated database is an answer here, not a failure. */
	const char *sql = db_kind(db) == DB_SQLITE
	                          ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
	                            "AND name = 'schema_migrations'"
	                          : "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL "
	                            "THEN 0 ELSE 1 END";
	struct db_res *res = NULL;
	const char *v;
	int rc = -1;

	if (db_exec(db, sql, 0, NULL, &res) != DB_OK)
		goto out;
	v = db_res_get(res, 0, 0);
	if (!v || strcmp(v, "0") == 0) {
		*version = 0;
		rc = 0;
		goto out;
	}
	rc = schema_version(db, version);
out:
	db_res_free(res);
	return rc;
}
