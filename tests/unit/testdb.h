/* testdb.h: the database fixture shared by check_db.c and check_store.c (included by
 * each; everything here is static).
 *
 * Every test case is added twice, to a "sqlite" TCase and a "postgres" TCase, whose
 * checked fixtures give the test a fresh, migrated database in T_db:
 *   - SQLite: a new file in a temporary directory (WAL and all, as in production);
 *   - PostgreSQL: a new schema in the database named by KAIDEN_TEST_PG_DSN, made the
 *     connection's search_path, dropped afterwards. tests/run-unit.sh starts a throwaway
 *     cluster and sets the variable; without it the PostgreSQL cases FAIL (never skip).
 *     T_db connects as the cluster's superuser (the schema's owner, which row-level
 *     security does not filter); T_open_app connects to the same schema as the
 *     application's role (KAIDEN_TEST_PG_APP_DSN, a member of kaiden_app), for which it
 *     holds.
 *
 * Tests run in forked children (Check's default), so each gets its own connection. A
 * failed check ends its child at once (_exit), skipping the teardown: its files and
 * schema stay behind, which is why tests/run-unit.sh points TMPDIR and the cluster at a
 * temporary directory it removes. */
#ifndef KAIDEN_TESTDB_H
#define KAIDEN_TESTDB_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>

#include "db.h"
#include "ids.h"
#include "jsonx.h"
#include "log.h"
#include "migrations.h"
#include "secret.h"
#include "store.h"

static struct db *T_db;
static enum db_kind T_kind;
static char T_target[1024];      /* what T_db was opened with */
static char T_dir[256];          /* SQLite: the temporary directory */
static char T_schemas[8][64];    /* PostgreSQL: schemas to drop at teardown */
static int T_nschemas;
static int T_seq;

static const char *T_driver(void)
{
	return T_kind == DB_POSTGRES ? "postgres" : "sqlite";
}

static const char *T_pg_dsn(void)
{
	const char *dsn = getenv("KAIDEN_TEST_PG_DSN");

	if (!dsn || !*dsn)
		ck_abort_msg("KAIDEN_TEST_PG_DSN is not set: run the unit tests through "
		             "tests/run-unit.sh, which starts a throwaway PostgreSQL");
	return dsn;
}

/* A new, empty database of the current kind: its target (for db_open) into out. */
static void T_fresh_target(char *out, size_t size)
{
	T_seq++;
	if (T_kind == DB_SQLITE) {
		snprintf(out, size, "%s/db%d.sqlite", T_dir, T_seq);
		return;
	}
	{
		const char *dsn = T_pg_dsn();
		struct db *admin = NULL;
		char sql[640];
		ck_assert_int_lt(T_nschemas, 8);
		snprintf(T_schemas[T_nschemas], sizeof(T_schemas[0]), "kt_%ld_%d",
		         (long)getpid(), T_seq);
		snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", T_schemas[T_nschemas]);
		ck_assert_msg(db_open("postgres", dsn, &admin) == DB_OK,
		              "cannot connect to KAIDEN_TEST_PG_DSN (%s)", dsn);
		ck_assert_int_eq(db_script(admin, sql), DB_OK);
		db_close(admin);
		snprintf(out, size, "%s options='-c search_path=%s'", dsn, T_schemas[T_nschemas]);
		T_nschemas++;
	}
}

/* Another connection to T_db's database (for concurrency tests). */
static struct db *T_open_again(void)
{
	struct db *db = NULL;

	ck_assert_int_eq(db_open(T_driver(), T_target, &db), DB_OK);
	return db;
}

static void T_setup(enum db_kind kind)
{
	int applied = -1;

	log_init("check", LOG_LVL_WARN);
	ck_assert_int_eq(secret_init(), 0);
	T_kind = kind;
	T_nschemas = 0;
	T_dir[0] = '\0';
	if (kind == DB_SQLITE) {
		snprintf(T_dir, sizeof(T_dir), "%s/kaiden-check-XXXXXX",
		         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(T_dir));
	}
	T_fresh_target(T_target, sizeof(T_target));
	ck_assert_int_eq(db_open(T_driver(), T_target, &T_db), DB_OK);
	ck_assert_int_eq(migrations_apply(T_db, &applied), 0);
	ck_assert_int_ge(applied, 1);
}

static void T_setup_sqlite(void)
{
	T_setup(DB_SQLITE);
}

static void T_setup_pg(void)
{
	T_setup(DB_POSTGRES);
}

static void T_teardown(void)
{
	db_close(T_db);
	T_db = NULL;
	if (T_kind == DB_POSTGRES && T_nschemas > 0) {
		struct db *admin = NULL;
		const char *dsn = getenv("KAIDEN_TEST_PG_DSN");
		if (dsn && db_open("postgres", dsn, &admin) == DB_OK) {
			for (int i = 0; i < T_nschemas; i++) {
				char sql[640];
				snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", T_schemas[i]);
				if (db_script(admin, sql) != DB_OK)
					fprintf(stderr, "teardown: could not drop %s\n", T_schemas[i]);
			}
			db_close(admin);
		}
		T_nschemas = 0;
	}
	if (T_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "teardown: could not remove %s\n", T_dir);
		T_dir[0] = '\0';
	}
}

/* The first value of the first row of sql (owned copy, NULL for SQL NULL or no row). */
static char *T_value(struct db *db, const char *sql, int n, const char *const *params)
{
	struct db_res *res = NULL;
	char *v = NULL;

	ck_assert_msg(db_exec(db, sql, n, params, &res) == DB_OK, "query failed: %s: %s", sql,
	              db_errmsg(db));
	if (db_res_rows(res) > 0 && db_res_get(res, 0, 0))
		v = strdup(db_res_get(res, 0, 0));
	db_res_free(res);
	return v;
}

/* The integer a one-value query (count(*) ...) gives. */
static long T_count(struct db *db, const char *sql, int n, const char *const *params)
{
	char *v = T_value(db, sql, n, params);
	long c;

	ck_assert_ptr_nonnull(v);
	c = strtol(v, NULL, 10);
	free(v);
	return c;
}

static void T_run(struct db *db, const char *sql, int n, const char *const *params)
{
	ck_assert_msg(db_exec(db, sql, n, params, NULL) == DB_OK, "statement failed: %s: %s", sql,
	              db_errmsg(db));
}

/* PostgreSQL: a connection to T_db's schema as the application's role. */
static inline struct db *T_open_app(void)
{
	const char *dsn = getenv("KAIDEN_TEST_PG_APP_DSN");
	char target[1024];
	struct db *db = NULL;

	ck_assert_int_eq(T_kind, DB_POSTGRES);
	ck_assert_int_gt(T_nschemas, 0);
	if (!dsn || !*dsn)
		ck_abort_msg("KAIDEN_TEST_PG_APP_DSN is not set: run the unit tests through "
		             "tests/run-unit.sh");
	snprintf(target, sizeof(target), "%s options='-c search_path=%s'", dsn, T_schemas[0]);
	ck_assert_msg(db_open("postgres", target, &db) == DB_OK,
	              "cannot connect as the application's role (%s)", dsn);
	return db;
}

/* The connection a store case runs as, in tenant's scope: SQLite T_db (no row-level
 * security); PostgreSQL the application's role (*a opened on first use), in a scope with
 * tenant set and staff off, so that row-level security holds. Each call ends the scope
 * before (committed) and opens a new one. */
static inline void T_use_tenant(struct db **a, const char *tenant)
{
	if (T_kind != DB_POSTGRES) {
		*a = T_db;
		return;
	}
	if (!*a)
		*a = T_open_app();
	else
		ck_assert_int_eq(db_scope_end(*a, 1), DB_OK);
	ck_assert_int_eq(db_scope_begin(*a, tenant, 0), DB_OK);
}

/* Ends T_use_tenant's scope (committed) and closes its connection. */
static inline void T_use_done(struct db **a)
{
	if (*a && *a != T_db) {
		ck_assert_int_eq(db_scope_end(*a, 1), DB_OK);
		db_close(*a);
	}
	*a = NULL;
}

/* A child of T_parallel: opens its own connection to target, waits until go reads (the
 * start), does its work, writes its result as lines to out, and ends with _exit (0: it
 * did; anything else fails the test). */
typedef void (*T_child_fn)(const char *target, int go, int out);

/* Runs n children of child at once against T_db's database (PostgreSQL: as the
 * application's role, so that row-level security holds), starts them together, checks
 * that each exited 0, and gives what they wrote, NUL-terminated, in buf. */
static inline void T_parallel(int n, T_child_fn child, char *buf, size_t size)
{
	char target[1200];
	int go[2], out[2];
	pid_t pids[64];
	size_t got = 0;
	ssize_t r;

	ck_assert_int_le(n, 64);
	if (T_kind == DB_POSTGRES) {
		const char *dsn = getenv("KAIDEN_TEST_PG_APP_DSN");
		ck_assert_ptr_nonnull(dsn);
		snprintf(target, sizeof(target), "%s options='-c search_path=%s'", dsn, T_schemas[0]);
	} else {
		snprintf(target, sizeof(target), "%s", T_target);
	}
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(out), 0);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			close(out[0]);
			child(target, go[0], out[1]);
			_exit(7);
		}
	}
	close(go[0]);
	close(out[1]);
	usleep(300 * 1000); /* let them connect; the start is the close below */
	close(go[1]);
	while (got + 1 < size && (r = read(out[0], buf + got, size - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(out[0]);
	for (int i = 0; i < n; i++) {
		int status = 0;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "child %d failed: status %d", i, status);
	}
}

/* PostgreSQL: ends db's server session from another connection, as a server restart
 * would. */
static inline void T_kill_session(struct db *db)
{
	struct db *other = T_open_again();
	char *pid = T_value(db, "SELECT pg_backend_pid()", 0, NULL);
	const char *p[1] = { pid };
	char *v = T_value(other, "SELECT pg_terminate_backend(CAST($1 AS integer))", 1, p);

	ck_assert_str_eq(v, "t");
	free(v);
	free(pid);
	db_close(other);
	usleep(100 * 1000);
}

/* Adds the test to both TCases. */
/* ---- what the store suites share ------------------------------------------------ */

#define TENANT2 "11111111-1111-4111-8111-111111111111"  /* a second tenant (add_tenant2) */
#define NOBODY "0190a2c4-0000-7000-8000-000000000000"   /* an id no row has */

/* The text of member key (any JSON type as text), or NULL when absent or null. */
static inline const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

/* A device's column (any type, as text): malloc'd, or NULL for NULL. */
static inline char *T_device_col(const char *column, const char *id)
{
	char sql[160];
	const char *p[1] = { id };

	snprintf(sql, sizeof(sql), "SELECT %s FROM devices WHERE id = $1", column);
	return T_value(T_db, sql, 1, p);
}

/* helperd instance is live: its heartbeat row (helperd_status) is written now, the lease
 * that makes the devices it holds read online (migration 0021). */
static inline void T_live_helperd(const char *instance)
{
	char now[TIMESTAMP_LEN];
	const char *p[2] = { instance, now };

	ids_timestamp(ids_now_ms(), now);
	T_run(T_db,
	      "INSERT INTO helperd_status (instance, version, started_at, heartbeat_at, every_s, "
	      "agents, relay_streams) VALUES ($1, 'test', $2, $2, 5, 0, 0) "
	      "ON CONFLICT (instance) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
	      2, p);
}

/* Device id online, its agent held by the live helperd "t-holder" (what a hello does,
 * without the hub). */
static inline void T_hold_device(const char *id)
{
	const char *p[1] = { id };

	T_live_helperd("t-holder");
	T_run(T_db, "UPDATE devices SET status = 'online', helperd = 't-holder' WHERE id = $1", 1,
	      p);
}

/* The device's column is want (NULL: is NULL). */
static inline void T_want_device_col(const char *column, const char *id, const char *want)
{
	char *v = T_device_col(column, id);

	if (!want)
		ck_assert_msg(v == NULL, "%s: got '%s', want NULL", column, v);
	else
		ck_assert_msg(v && strcmp(v, want) == 0, "%s: got '%s', want '%s'", column,
		              v ? v : "NULL", want);
	free(v);
}

/* A list whose items came as text (the device lists, store.h) parsed strictly into
 * l->items, its text freed, so a test reads every list alike; rc passes through. */
static inline int T_text_list(int rc, struct store_list *l)
{
	struct jsonx_error e;

	if (rc != STORE_OK)
		return rc;
	ck_assert_msg(l->text.data && !l->items, "a device list came without its text");
	ck_assert_msg(jsonx_parse(l->text.data, l->text.len, &l->items, &e) == 0,
	              "a list's text is not JSON: %s: %s", e.message, l->text.data);
	ck_assert(json_object_is_type(l->items, json_type_array));
	buf_clear(&l->text);
	return rc;
}
#define T_device_list(db, t, status, q, page, l) \
	T_text_list(store_device_list(db, t, status, q, page, l), l)
#define T_device_list_cluster(db, t, cluster, status, q, page, l) \
	T_text_list(store_device_list_cluster(db, t, cluster, status, q, page, l), l)
#define T_cluster_nodes(db, t, cluster, status, page, l) \
	T_text_list(store_cluster_nodes(db, t, cluster, status, page, l), l)

static inline int jhas(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static inline void add_tenant2(void)
{
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ('" TENANT2 "', 't2', 'Tenant 2')",
	      0, NULL);
}

#define T_ADD(tc_sqlite, tc_pg, fn)            \
	do {                                   \
		tcase_add_test(tc_sqlite, fn); \
		tcase_add_test(tc_pg, fn);     \
	} while (0)

/* Runs the suite: two TCases with the fixtures above; exit status for main. */
static int T_main(Suite *s, TCase *sq, TCase *pg)
{
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(sq, T_setup_sqlite, T_teardown);
	tcase_add_checked_fixture(pg, T_setup_pg, T_teardown);
	tcase_set_timeout(sq, 60);
	tcase_set_timeout(pg, 60);
	suite_add_tcase(s, sq);
	suite_add_tcase(s, pg);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
