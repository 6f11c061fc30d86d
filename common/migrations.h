/* migrations.h: the numbered SQL files under sql/<backend>/, compiled in by
 * scripts/embed-sql.sh, and the code that applies them. */
#ifndef KAIDEN_MIGRATIONS_H
#define KAIDEN_MIGRATIONS_H

#include "compat.h"

struct db;

struct migration {
	const char *backend; /* "pg" or "sqlite" */
	int version;         /* from the file name: 0001_init.sql -> 1 */
	const char *name;    /* "0001_init" */
	const char *sql;
};

/* Ends with an entry whose backend is NULL. */
extern const struct migration migrations[];

/* Applies, in order and each in its own transaction, every migration of db's backend
 * that schema_migrations does not list yet. Safe to run twice and from two processes at
 * once (PostgreSQL: advisory lock). *applied (may be NULL) gets how many ran. */
int migrations_apply(struct db *db, int *applied) WUR;

/* The highest version embedded for db's backend (what a fully migrated database
 * records in schema_migrations); 0 if there is none. */
int migrations_latest(const struct db *db);

#endif
