/* fuzz_db.h: a fresh, migrated SQLite database for every input, cheaply (the harnesses
 * that reach the store: fuzz_request.c, fuzz_import.c).
 *
 * Applying the migrations costs more than most inputs, so it is done once: the
 * template database is made in a temporary directory (on /dev/shm, in memory, when there
 * is one), filled by the harness, and closed; each input then gets a byte copy of it.
 * Every input thus starts from the same rows, whatever the inputs before it wrote. The
 * directory is removed at exit (after a crash, by tests/fuzz/run.sh). */
#ifndef KAIDEN_FUZZ_DB_H
#define KAIDEN_FUZZ_DB_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "migrations.h"

static char fuzz_db_dir[256], fuzz_db_template[300], fuzz_db_work[300];

static void fuzz_db_remove(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[320];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", fuzz_db_template, suffixes[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s%s", fuzz_db_work, suffixes[i]);
		unlink(path);
	}
	rmdir(fuzz_db_dir);
}

/* Makes the template once: migrated, then fill(db) adds the harness's rows. Aborts on
 * failure (the harness cannot run without it). */
static inline void fuzz_db_setup(void (*fill)(struct db *db))
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	struct db *db = NULL;
	int applied = 0;

	if (fuzz_db_dir[0])
		return;
	/* The pid in the name lets run.sh remove what a crashed process left. */
	snprintf(fuzz_db_dir, sizeof(fuzz_db_dir), "%s/kaiden-fuzz-%ld.XXXXXX", base ? base : "/tmp",
	         (long)getpid());
	if (!mkdtemp(fuzz_db_dir))
		abort();
	snprintf(fuzz_db_template, sizeof(fuzz_db_template), "%s/template.db", fuzz_db_dir);
	snprintf(fuzz_db_work, sizeof(fuzz_db_work), "%s/work.db", fuzz_db_dir);
	atexit(fuzz_db_remove);
	if (db_open("sqlite", fuzz_db_template, &db) != DB_OK || migrations_apply(db, &applied) != 0)
		abort();
	fill(db);
	db_close(db); /* checkpoints: the template is one file */
}

/* A connection to a new copy of the template (close it with db_close). */
static inline struct db *fuzz_db_open(void)
{
	char buf[65536], path[320];
	struct db *db = NULL;
	ssize_t n;
	int in, out;

	snprintf(path, sizeof(path), "%s-wal", fuzz_db_work);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", fuzz_db_work);
	unlink(path);
	in = open(fuzz_db_template, O_RDONLY);
	out = open(fuzz_db_work, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		abort();
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	if (n < 0)
		abort();
	close(in);
	close(out);
	if (db_open("sqlite", fuzz_db_work, &db) != DB_OK)
		abort();
	return db;
}

/* Row counts of the tables named (NULL-terminated; NULL: every table the migrations
 * made), as one owned string such as "1,0,3", to compare before and after an input;
 * NULL on failure. */
static inline char *fuzz_db_counts(struct db *db, const char *const *tables)
{
	char sql[4096];
	size_t len = 0;
	struct db_res *names = NULL, *res = NULL;
	char *out = NULL;
	int n;

	if (!tables && db_exec(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	                           "name NOT LIKE 'sqlite_%' ORDER BY name", 0, NULL,
	                       &names) != DB_OK)
		return NULL;
	n = tables ? 0 : db_res_rows(names);
	len += (size_t)snprintf(sql, sizeof(sql), "SELECT ''");
	for (int i = 0; tables ? tables[i] != NULL : i < n; i++) {
		if (len >= sizeof(sql))
			break;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
		                        " || (SELECT count(*) FROM \"%s\") || ','",
		                        tables ? tables[i] : db_res_get(names, i, 0));
	}
	db_res_free(names);
	if (len >= sizeof(sql))
		abort();
	if (db_exec(db, sql, 0, NULL, &res) == DB_OK && db_res_rows(res) == 1)
		out = strdup(db_res_get(res, 0, 0));
	db_res_free(res);
	return out;
}

#endif
