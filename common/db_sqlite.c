/* db_sqlite.c: the SQLite backend of db.h.
 *
 * Parameters: the SQL is written for PostgreSQL ($1..$n). SQLite reads "$1" as a named
 * parameter, so each statement's names are mapped once to SQLite's parameter indexes. To
 * behave like PostgreSQL, a statement must use exactly $1..$n (no gaps) and get exactly
 * n values, and db_exec takes one statement only.
 *
 * Prepared statements are kept in a small per-connection cache keyed by the SQL text
 * (least recently used goes first): the store runs the same few statements over and
 * over, and preparing costs about as much as running a simple one. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_impl.h"
#include "log.h"

#define STMT_CACHE_SIZE 48
#define BUSY_TIMEOUT_MS 5000

struct stmt_entry {
	char *sql; /* owned copy: the key; NULL when the slot is free */
	unsigned long hash;
	const char *seen; /* the caller's pointer last time: a hint, confirmed by strcmp */
	sqlite3_stmt *stmt;
	int nparams; /* the statement uses $1..$nparams */
	int *index;  /* index[k - 1]: SQLite's parameter index of $k */
	unsigned long used;
};

struct db_sqlite {
	struct db base; /* first: a struct db * is a struct db_sqlite * */
	sqlite3 *h;
	unsigned long tick;
	unsigned long unknown; /* sl_notices: times the data version could not be read */
	struct stmt_entry cache[STMT_CACHE_SIZE];
};

static struct db_sqlite *sl_of(struct db *db)
{
	return (struct db_sqlite *)db;
}

static int sl_fail(struct db *db, int code, const char *sql)
{
	int primary = code & 0xff;
	enum db_rc rc = DB_ERR;

	if (primary == SQLITE_CONSTRAINT)
		rc = DB_CONSTRAINT;
	else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		rc = DB_BUSY;
	return db_fail(db, rc, sql, "%s (code %d)", sqlite3_errmsg(sl_of(db)->h), code);
}

static void entry_clear(struct stmt_entry *e)
{
	sqlite3_finalize(e->stmt);
	free(e->sql);
	free(e->index);
	memset(e, 0, sizeof(*e));
}

/* "$<n>" with n >= 1 and no leading zero, else 0. */
static int param_number(const char *name)
{
	long v = 0;

	if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
		return 0;
	for (const char *p = name + 1; *p; p++) {
		if (*p < '0' || *p > '9' || v > 100000)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return (int)v;
}

static int only_space(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r' && *s != ';')
			return 0;
	return 1;
}

/* Prepares sql into a fresh entry e (its slot already freed). */
static int entry_prepare(struct db *db, struct stmt_entry *e, const char *sql)
{
	sqlite3 *h = sl_of(db)->h;
	const char *tail = NULL;
	int count, code, rc = DB_ERR;

	code = sqlite3_prepare_v3(h, sql, -1, SQLITE_PREPARE_PERSISTENT, &e->stmt, &tail);
	if (code != SQLITE_OK) {
		rc = sl_fail(db, code, sql);
		goto out;
	}
	if (!e->stmt) {
		rc = db_fail(db, DB_ERR, sql, "empty statement");
		goto out;
	}
	if (tail && !only_space(tail)) {
		rc = db_fail(db, DB_ERR, sql, "several statements given; use db_script");
		goto out;
	}
	count = sqlite3_bind_parameter_count(e->stmt);
	e->index = calloc(count ? (size_t)count : 1, sizeof(int));
	if (!e->index) {
		rc = db_fail(db, DB_ERR, sql, "out of memory");
		goto out;
	}
	/* Distinct names get distinct indexes 1..count, so $1..$n fill index[] exactly
	 * when the highest number equals the count. */
	for (int i = 1; i <= count; i++) {
		int k = param_number(sqlite3_bind_parameter_name(e->stmt, i));
		if (k < 1 || k > count) {
			rc = db_fail(db, DB_ERR, sql, "parameters must be $1..$n without gaps");
			goto out;
		}
		e->index[k - 1] = i;
	}
	e->nparams = count;
	e->sql = strdup(sql);
	if (!e->sql) {
		rc = db_fail(db, DB_ERR, sql, "out of memory");
		goto out;
	}
	rc = DB_OK;
out:
	if (rc != DB_OK)
		entry_clear(e);
	return rc;
}

static int stmt_get(struct db *db, const char *sql, struct stmt_entry **out)
{
	struct db_sqlite *sl = sl_of(db);
	struct stmt_entry *victim = &sl->cache[0];
	unsigned long hash;
	int rc;

	/* The store passes string literals: the same pointer is, almost always, the same
	 * statement, and one strcmp confirms it without hashing the text. */
	for (int i = 0; i < STMT_CACHE_SIZE; i++) {
		struct stmt_entry *e = &sl->cache[i];
		if (e->seen == sql && e->sql && strcmp(e->sql, sql) == 0) {
			e->used = ++sl->tick;
			*out = e;
			return DB_OK;
		}
	}
	hash = db_sql_hash(sql);
	for (int i = 0; i < STMT_CACHE_SIZE; i++) {
		struct stmt_entry *e = &sl->cache[i];
		if (e->sql && e->hash == hash && strcmp(e->sql, sql) == 0) {
			e->seen = sql;
			e->used = ++sl->tick;
			*out = e;
			return DB_OK;
		}
		if (!e->sql || (victim->sql && e->used < victim->used))
			victim = e;
	}
	entry_clear(victim);
	rc = entry_prepare(db, victim, sql);
	if (rc != DB_OK)
		return rc;
	victim->hash = hash;
	victim->seen = sql;
	victim->used = ++sl->tick;
	*out = victim;
	return DB_OK;
}

/* The statement of sql from the cache with its parameters bound (a trip counted):
 * DB_OK with *out, else the failure, recorded (the statement reset). */
static int sl_start(struct db *db, const char *sql, int n, const char *const *params,
                    struct stmt_entry **out)
{
	struct stmt_entry *e;
	int code, rc;

	rc = stmt_get(db, sql, &e);
	if (rc != DB_OK)
		return rc;
	db->trips++;
	if (n != e->nparams) {
		rc = db_fail(db, DB_ERR, sql, "the statement uses %d parameters, %d given", e->nparams,
		             n);
		goto fail;
	}
	for (int k = 0; k < n; k++) {
		code = params[k] ? sqlite3_bind_text(e->stmt, e->index[k], params[k], -1, SQLITE_STATIC)
		                 : sqlite3_bind_null(e->stmt, e->index[k]);
		if (code != SQLITE_OK) {
			rc = sl_fail(db, code, sql);
			goto fail;
		}
	}
	*out = e;
	return DB_OK;
fail:
	sqlite3_reset(e->stmt);
	sqlite3_clear_bindings(e->stmt);
	return rc;
}

/* Column c of the current row as text (*v NULL for SQL NULL) and, when len is not NULL,
 * its length: 0, or -1 when memory ran out. One call for most values: the text is NULL
 * only for SQL NULL or a failed allocation, and SQLite tells the two apart by the error
 * code it leaves (sqlite3_column_text's page: "Subsequent calls to sqlite3_errcode() will
 * return SQLITE_NOMEM"); sqlite3_column_type would cost a call for every value. */
static int sl_value(sqlite3_stmt *st, int c, const char **v, size_t *len)
{
	*v = (const char *)sqlite3_column_text(st, c);
	if (len)
		*len = *v ? (size_t)sqlite3_column_bytes(st, c) : 0;
	if (!*v && sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM)
		return -1;
	return 0;
}

/* The end of a statement stepped until code: DB_OK when it ran to its end (a query
 * changes nothing, like PostgreSQL's command tag), else the failure. Resets it. */
static int sl_end(struct db *db, struct stmt_entry *e, int code, const char *sql)
{
	int rc = DB_OK;

	if (code != SQLITE_DONE)
		rc = sl_fail(db, sqlite3_extended_errcode(sl_of(db)->h), sql);
	else
		db_ok(db, sqlite3_stmt_readonly(e->stmt) ? 0 : (long)sqlite3_changes(sl_of(db)->h));
	sqlite3_reset(e->stmt);
	sqlite3_clear_bindings(e->stmt);
	return rc;
}

static int sl_exec(struct db *db, const char *sql, int n, const char *const *params,
                   struct db_res **out)
{
	struct stmt_entry *e;
	struct db_res_build b;
	int cols, code, rc;

	rc = sl_start(db, sql, n, params, &e);
	if (rc != DB_OK)
		return rc;
	cols = sqlite3_column_count(e->stmt);
	db_res_build_init(&b, cols);
	if (out) {
		for (int c = 0; c < cols; c++) {
			const char *name = sqlite3_column_name(e->stmt, c);
			if (!name || db_res_build_add(&b, name, strlen(name)) != 0) {
				rc = db_fail(db, DB_ERR, sql, "out of memory");
				goto out;
			}
		}
	}
	while ((code = sqlite3_step(e->stmt)) == SQLITE_ROW) {
		for (int c = 0; out && c < cols; c++) {
			const char *v;
			size_t len;
			if (sl_value(e->stmt, c, &v, &len) != 0) {
				rc = db_fail(db, DB_ERR, sql, "out of memory");
				goto out;
			}
			if (db_res_build_add(&b, v, len) != 0) {
				rc = db_fail(db, DB_ERR, sql, "out of memory or result too large");
				goto out;
			}
		}
	}
	if (code == SQLITE_DONE && out && db_res_build_finish(&b, out) != 0) {
		rc = db_fail(db, DB_ERR, sql, "out of memory");
		goto out;
	}
	rc = sl_end(db, e, code, sql);
	e = NULL;
out:
	db_res_build_clear(&b);
	if (e) {
		sqlite3_reset(e->stmt);
		sqlite3_clear_bindings(e->stmt);
	}
	return rc;
}

/* db_exec_each: each row handed over as a one-row result whose values point into
 * SQLite's own (valid until the next step), so a page is not copied into a result first. */
static int sl_exec_each(struct db *db, const char *sql, int n, const char *const *params,
                        db_row_fn fn, void *ctx)
{
	struct stmt_entry *e;
	struct db_res *row;
	int cols, code, rc;

	rc = sl_start(db, sql, n, params, &e);
	if (rc != DB_OK)
		return rc;
	cols = sqlite3_column_count(e->stmt);
	row = db_res_borrow(1, cols, 0, 0, NULL, NULL);
	if (!row) {
		rc = db_fail(db, DB_ERR, sql, "out of memory");
		goto out;
	}
	for (int n_rows = 0; (code = sqlite3_step(e->stmt)) == SQLITE_ROW; n_rows++) {
		/* The names are taken once stepped: a first step that prepares the statement
		 * again (the schema changed since it was cached) frees the ones it had. */
		for (int c = 0; n_rows == 0 && c < cols; c++)
			db_res_put_name(row, c, sqlite3_column_name(e->stmt, c));
		for (int c = 0; c < cols; c++) {
			const char *v;
			if (sl_value(e->stmt, c, &v, NULL) != 0) {
				rc = db_fail(db, DB_ERR, sql, "out of memory");
				goto out;
			}
			db_res_put(row, 0, c, v);
		}
		if (fn(ctx, row, 0) != 0) {
			rc = DB_ERR; /* fn said why */
			goto out;
		}
	}
	rc = sl_end(db, e, code, sql);
	e = NULL;
out:
	db_res_free(row);
	if (e) {
		sqlite3_reset(e->stmt);
		sqlite3_clear_bindings(e->stmt);
	}
	return rc;
}

static int sl_script(struct db *db, const char *sql)
{
	char *err = NULL;
	int code = sqlite3_exec(sl_of(db)->h, sql, NULL, NULL, &err);

	sqlite3_free(err); /* sqlite3_errmsg has the same text */
	if (code != SQLITE_OK)
		return sl_fail(db, code, sql);
	db_ok(db, 0);
	return DB_OK;
}

static int sl_in_tx(struct db *db)
{
	return !sqlite3_get_autocommit(sl_of(db)->h);
}

static int sl_reconnect(struct db *db)
{
	(void)db;
	return -1; /* a file does not drop the connection */
}

static void sl_close(struct db *db)
{
	struct db_sqlite *sl = sl_of(db);

	for (int i = 0; i < STMT_CACHE_SIZE; i++)
		entry_clear(&sl->cache[i]);
	sqlite3_close(sl->h);
	free(sl);
}

/* No channels on SQLite: every commit counts (sl_notices). */
static int sl_listen(struct db *db, const char *name)
{
	(void)db;
	(void)name;
	return DB_OK;
}

/* The commits of other connections (the pager's data version, brought up to date by
 * every read transaction that starts; fresh starts one) plus the rows this connection
 * changed: a count that moves whenever anything may have been changed. A failure to read
 * it moves it too. */
static unsigned long sl_notices(struct db *db, int fresh)
{
	struct db_sqlite *sl = sl_of(db);
	unsigned int version = 0;

	if (fresh && sqlite3_exec(sl->h, "PRAGMA data_version", NULL, NULL, NULL) == SQLITE_OK)
		db->trips++;
	if (sqlite3_file_control(sl->h, "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK)
		return ++sl->unknown + (unsigned long)sqlite3_total_changes64(sl->h);
	return (unsigned long)version + sl->unknown +
	       (unsigned long)sqlite3_total_changes64(sl->h);
}

static const struct db_ops sl_ops = {
	.exec = sl_exec,
	.exec_each = sl_exec_each,
	.script = sl_script,
	.in_tx = sl_in_tx,
	.reconnect = sl_reconnect,
	.close = sl_close,
	.listen = sl_listen,
	.notices = sl_notices,
};

/* Switching a new file to WAL needs an exclusive lock, and SQLite does not call the
 * busy handler for it: when several processes open a new database at once, the losers
 * get SQLITE_BUSY. Retry for as long as the busy timeout would have waited. */
static int set_wal(struct db *db, const char *path)
{
	struct db_res *res = NULL;
	int rc = DB_ERR;

	for (int waited = 0;; waited += 10) {
		sqlite3_stmt *stmt = NULL;
		int code = sqlite3_prepare_v2(sl_of(db)->h, "PRAGMA journal_mode = WAL", -1, &stmt,
		                              NULL);
		if (code == SQLITE_OK)
			code = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if ((code & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			break;
		sqlite3_sleep(10);
	}
	/* Now it is a plain query; its answer is the mode in force. */
	if (sl_exec(db, "PRAGMA journal_mode", 0, NULL, &res) != DB_OK)
		goto out;
	/* An in-memory database answers "memory"; a file that cannot do WAL still works. */
	if (strcmp(path, ":memory:") != 0 && path[0] &&
	    (db_res_rows(res) != 1 || strcmp(db_res_get(res, 0, 0), "wal") != 0))
		log_warn("db=sqlite %s is not in WAL mode (%s)", path,
		         db_res_rows(res) == 1 ? db_res_get(res, 0, 0) : "?");
	rc = DB_OK;
out:
	db_res_free(res);
	return rc;
}

/* The database file before SQLite opens it. SQLite would create a missing one mode 0644
 * less the umask, and gives the -wal and -shm files the mode of the database file: so a
 * new file is made here, empty and 0600 (fchmod too, in case the umask took a bit of
 * 0600), and the other two follow it. ":memory:" and "" (a private temporary database)
 * are no files. DB_OK, DB_MISSING (absent and create 0) or DB_ERR (logged). */
static int file_prepare(const char *path, int create)
{
	struct stat st;
	int fd;

	if (!path[0] || strcmp(path, ":memory:") == 0)
		return DB_OK;
	if (stat(path, &st) == 0) {
		if (st.st_mode & 077)
			log_warn("db=sqlite %s can be read by other users (mode %04o); it holds "
			         "password hashes and token digests: chmod 600 it and its -wal and "
			         "-shm files", path, (unsigned)(st.st_mode & 07777));
		return DB_OK;
	}
	if (errno != ENOENT)
		return DB_OK; /* SQLite says what is wrong when it tries */
	if (!create)
		return DB_MISSING;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return DB_OK; /* another process made it just now */
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		log_error("db=sqlite cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return DB_ERR;
	}
	close(fd);
	return DB_OK;
}

int db_sqlite_open(const char *path, int create, struct db **out)
{
	struct db_sqlite *sl;
	int code, rc;

	rc = file_prepare(path, create);
	if (rc != DB_OK)
		return rc;
	rc = DB_ERR;
	sl = calloc(1, sizeof(*sl));
	if (!sl) {
		log_error("db=sqlite out of memory");
		return DB_ERR;
	}
	sl->base.kind = DB_SQLITE;
	sl->base.ops = &sl_ops;
	/* One connection per thread (db.h), so SQLite's own mutexes are not needed. */
	code = sqlite3_open_v2(path, &sl->h,
	                       SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
	                               SQLITE_OPEN_NOMUTEX,
	                       NULL);
	if (code != SQLITE_OK) {
		if (sl->h)
			(void)sl_fail(&sl->base, code, "");
		else
			log_error("db=sqlite cannot open %s: out of memory", path);
		goto out;
	}
	sqlite3_extended_result_codes(sl->h, 1);
	sqlite3_busy_timeout(sl->h, BUSY_TIMEOUT_MS);
	if (set_wal(&sl->base, path) != DB_OK)
		goto out;
	if (sl_script(&sl->base, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;") != DB_OK)
		goto out;
	*out = &sl->base;
	sl = NULL;
	rc = DB_OK;
out:
	if (sl)
		sl_close(&sl->base);
	return rc;
}
