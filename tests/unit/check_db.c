/* check_db.c: db.h and migrations.h, the same cases on SQLite and on PostgreSQL. */
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <regex.h>
#include <sys/stat.h>

#include "ids.h"
#include "store.h"
#include "testdb.h"


static int is_rfc3339_ms(const char *s)
{
	regex_t re;
	int ok;

	ck_assert_int_eq(regcomp(&re,
	                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	ok = s && regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

START_TEST(test_open_and_ping)
{
	struct db *bad = NULL;

	ck_assert_int_eq(db_kind(T_db), T_kind);
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_str_eq(db_errmsg(T_db), "");
	ck_assert_int_eq(db_open("mysql", "x", &bad), DB_ERR);
	ck_assert_ptr_null(bad);
	if (T_kind == DB_SQLITE) {
		ck_assert_int_eq(db_open("sqlite", "/nonexistent-dir/x/y.db", &bad), DB_ERR);
	} else {
		ck_assert_int_eq(db_open("postgres", "host=127.0.0.1 port=1 connect_timeout=2", &bad),
		                 DB_ERR);
	}
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_sqlite_pragmas)
{
	char *v;

	if (T_kind != DB_SQLITE) {
		/* PostgreSQL's counterpart: the session settings db_open makes. */
		v = T_value(T_db, "SELECT current_setting('TimeZone')", 0, NULL);
		ck_assert_str_eq(v, "UTC");
		free(v);
		v = T_value(T_db, "SELECT current_setting('standard_conforming_strings')", 0, NULL);
		ck_assert_str_eq(v, "on");
		free(v);
		return;
	}
	v = T_value(T_db, "PRAGMA journal_mode", 0, NULL);
	ck_assert_str_eq(v, "wal");
	free(v);
	v = T_value(T_db, "PRAGMA foreign_keys", 0, NULL);
	ck_assert_str_eq(v, "1");
	free(v);
	v = T_value(T_db, "PRAGMA busy_timeout", 0, NULL);
	ck_assert_str_eq(v, "5000");
	free(v);
	v = T_value(T_db, "PRAGMA synchronous", 0, NULL);
	ck_assert_str_eq(v, "1"); /* NORMAL */
	free(v);
}
END_TEST

START_TEST(test_migrations_idempotent)
{
	char version[16], *v;
	int applied = -1;
	const char *params[1] = { DEFAULT_TENANT_ID };

	ck_assert_int_ge(migrations_latest(T_db), 1);
	ck_assert_int_eq(migrations_apply(T_db, &applied), 0);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(migrations_apply(T_db, NULL), 0);
	snprintf(version, sizeof(version), "%d", migrations_latest(T_db));
	v = T_value(T_db, "SELECT max(version) FROM schema_migrations", 0, NULL);
	ck_assert_str_eq(v, version);
	free(v);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 T_count(T_db, "SELECT count(DISTINCT version) FROM schema_migrations", 0,
	                         NULL));
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, params);
	ck_assert_str_eq(v, "default");
	free(v);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	/* Every table that holds tenant data has tenant_id. */
	{
		static const char *const tables[] = { "devices", "sessions", "api_tokens", "jobs" };
		for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
			char sql[128];
			snprintf(sql, sizeof(sql), "SELECT count(tenant_id) FROM %s", tables[i]);
			ck_assert_int_eq(T_count(T_db, sql, 0, NULL), 0);
		}
	}
}
END_TEST

struct migrate_arg {
	const char *target;
	int rc, applied;
};

static void *migrate_thread(void *p)
{
	struct migrate_arg *a = p;
	struct db *db = NULL;

	a->rc = -1;
	if (db_open(T_driver(), a->target, &db) != DB_OK)
		return NULL;
	a->rc = migrations_apply(db, &a->applied);
	db_close(db);
	return NULL;
}

/* Two processes migrating a new database at once: both succeed, each migration once. */
START_TEST(test_migrations_race)
{
	char target[1024];
	struct migrate_arg a[4];
	pthread_t th[4];
	struct db *db;
	int total = 0;

	T_fresh_target(target, sizeof(target));
	for (int i = 0; i < 4; i++) {
		a[i].target = target;
		a[i].applied = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, migrate_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(a[i].rc, 0);
		total += a[i].applied;
	}
	ck_assert_int_eq(db_open(T_driver(), target, &db), DB_OK);
	ck_assert_int_eq(total, (int)T_count(db, "SELECT count(*) FROM schema_migrations", 0, NULL));
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	db_close(db);
}
END_TEST

START_TEST(test_placeholders)
{
	const char *p3[3] = { "one", "two", NULL };
	const char *ins[3] = { "code-x", "Name X", TENANT2 };
	const char *one[1] = { TENANT2 };
	struct db_res *res = NULL;

	ck_assert_int_eq(db_exec(T_db, "SELECT $2 AS b, $1 AS a, $3 AS c", 3, p3, &res), DB_OK);
	ck_assert_int_eq(db_res_rows(res), 1);
	ck_assert_int_eq(db_res_cols(res), 3);
	ck_assert_str_eq(db_res_name(res, 0), "b");
	ck_assert_int_eq(db_res_col(res, "a"), 1);
	ck_assert_int_eq(db_res_col(res, "zz"), -1);
	ck_assert_str_eq(db_res_get(res, 0, 0), "two");
	ck_assert_str_eq(db_res_get(res, 0, 1), "one");
	ck_assert_ptr_null(db_res_get(res, 0, 2));
	ck_assert_ptr_null(db_res_get(res, 1, 0));
	ck_assert_ptr_null(db_res_get(res, 0, 3));
	ck_assert_ptr_null(db_res_name(res, 3));
	db_res_free(res);
	res = NULL;

	/* The same parameter twice. */
	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS x, $1 AS y", 1, p3, &res), DB_OK);
	ck_assert_str_eq(db_res_get(res, 0, 0), "one");
	ck_assert_str_eq(db_res_get(res, 0, 1), "one");
	db_res_free(res);
	res = NULL;

	/* Out of order into a real table, NULL stays NULL, "" stays "". */
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($3, $1, $2)", 3, ins);
	ck_assert_int_eq(db_exec(T_db,
	                         "SELECT code, name, trial_ends_at, status FROM tenants WHERE id = $1",
	                         1, one, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), 1);
	ck_assert_str_eq(db_res_get(res, 0, 0), "code-x");
	ck_assert_str_eq(db_res_get(res, 0, 1), "Name X");
	ck_assert_ptr_null(db_res_get(res, 0, 2));
	ck_assert_str_eq(db_res_get(res, 0, 3), "active");
	db_res_free(res);
	res = NULL;
	{
		const char *empty[2] = { "", TENANT2 };
		T_run(T_db, "UPDATE tenants SET name = $1 WHERE id = $2", 2, empty);
		ck_assert_int_eq(db_exec(T_db, "SELECT name FROM tenants WHERE id = $1", 1, one, &res),
		                 DB_OK);
		ck_assert_ptr_nonnull(db_res_get(res, 0, 0));
		ck_assert_str_eq(db_res_get(res, 0, 0), "");
		db_res_free(res);
	}
	/* No rows: the columns are still named. */
	res = NULL;
	ck_assert_int_eq(db_exec(T_db, "SELECT id, code FROM tenants WHERE code = $1", 1, p3, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), 0);
	ck_assert_int_eq(db_res_cols(res), 2);
	ck_assert_str_eq(db_res_name(res, 1), "code");
	db_res_free(res);
	ck_assert_int_eq(db_res_rows(NULL), 0);
	ck_assert_ptr_null(db_res_get(NULL, 0, 0));
}
END_TEST

/* Both backends refuse what PostgreSQL refuses, so SQL tested on SQLite works on both. */
START_TEST(test_parameter_mismatch)
{
	const char *p[3] = { "a", "b", "c" };

	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS a", 2, p, NULL), DB_ERR);
	ck_assert_str_ne(db_errmsg(T_db), "");
	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS a, $2 AS b", 1, p, NULL), DB_ERR);
	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS a, $3 AS c", 3, p, NULL), DB_ERR);
	ck_assert_int_eq(db_exec(T_db, "SELECT 1 AS a; SELECT 2 AS b", 0, NULL, NULL), DB_ERR);
	ck_assert_int_eq(db_exec(T_db, "SELECT nosuchcolumn FROM tenants", 0, NULL, NULL), DB_ERR);
	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS a", 1, NULL, NULL), DB_ERR);
	/* And the connection still works. */
	ck_assert_int_eq(db_exec(T_db, "SELECT $1 AS a", 1, p, NULL), DB_OK);
	ck_assert_str_eq(db_errmsg(T_db), "");
}
END_TEST

START_TEST(test_script)
{
	ck_assert_int_eq(db_script(T_db, "CREATE TABLE t_script (a text); "
	                                 "INSERT INTO t_script VALUES ('x'); "
	                                 "INSERT INTO t_script VALUES ('y');"),
	                 DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM t_script", 0, NULL), 2);
	ck_assert_int_eq(db_script(T_db, "INSERT INTO t_script VALUES ('z'); SELECT broken FROM"),
	                 DB_ERR);
}
END_TEST

START_TEST(test_timestamps)
{
	char now[TIMESTAMP_LEN], *v;
	const char *ins[3] = { TENANT2, "2026-11-23T03:45:56.123Z", "2026-11-23T03:45:56.000Z" };
	const char *one[1] = { TENANT2 };
	const char *def[1] = { DEFAULT_TENANT_ID };

	T_run(T_db,
	      "INSERT INTO tenants (id, code, name, created_at, trial_ends_at) "
	      "VALUES ($1, 't2', 'T2', $2, $3)",
	      3, ins);
	v = T_value(T_db, "SELECT created_at FROM tenants WHERE id = $1", 1, one);
	ck_assert_str_eq(v, "2026-11-23T03:45:56.123Z");
	free(v);
	v = T_value(T_db, "SELECT trial_ends_at FROM tenants WHERE id = $1", 1, one);
	ck_assert_str_eq(v, "2026-11-23T03:45:56.000Z");
	free(v);

	/* What ids_timestamp makes comes back unchanged, and compares as time. */
	ids_timestamp(ids_now_ms(), now);
	{
		const char *upd[2] = { now, TENANT2 };
		const char *before[2] = { "2026-11-23T03:45:56.124Z", TENANT2 };
		T_run(T_db, "UPDATE tenants SET created_at = $1 WHERE id = $2", 2, upd);
		v = T_value(T_db, "SELECT created_at FROM tenants WHERE id = $1", 1, one);
		ck_assert_str_eq(v, now);
		free(v);
		ck_assert_int_eq(T_count(T_db,
		                         "SELECT count(*) FROM tenants WHERE trial_ends_at < $1 AND "
		                         "id = $2",
		                         2, before),
		                 1);
	}
	/* A default the database made itself (now() / strftime) has the same shape. */
	v = T_value(T_db, "SELECT created_at FROM tenants WHERE id = $1", 1, def);
	ck_assert_msg(is_rfc3339_ms(v), "default created_at is %s", v ? v : "NULL");
	free(v);
}
END_TEST

/* A result of many rows (PostgreSQL's points into libpq's own, with its timestamps
 * rewritten beside it): every name and value where it belongs, timestamps of two columns
 * between NULLs and text, forms left as they are ('infinity'), a timestamp without a
 * fraction made longer than PostgreSQL wrote it, and the values still there after more
 * statements ran and their results were freed. */
START_TEST(test_result_rows)
{
	const char *ins[4] = { TENANT2, "2026-11-23T03:45:56.123Z", "infinity", "t2 \"name\"" };
	const char *one[1] = { TENANT2 };
	const char *upd[2] = { "2026-11-23T03:45:56Z", TENANT2 };
	struct db_res *res = NULL, *other = NULL;
	const char *bare = T_kind == DB_POSTGRES ? "2026-11-23T03:45:56.000Z"
	                                         : "2026-11-23T03:45:56Z";
	enum { N = 120 };

	T_run(T_db,
	      "INSERT INTO tenants (id, code, name, created_at, trial_ends_at) "
	      "VALUES ($1, 't2', $4, $2, $3)",
	      4, ins);
	/* On PostgreSQL each row's a is its own time (i minutes on), so each rewrite must
	 * land in its own place. */
	ck_assert_int_eq(db_exec(T_db,
	                         T_kind == DB_POSTGRES
	                             ? "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	                               "FROM s WHERE i < 120) SELECT i, CASE WHEN i % 3 = 0 THEN "
	                               "NULL ELSE created_at + i * interval '1 minute' END AS a, "
	                               "name, CASE WHEN i % 2 = 0 THEN trial_ends_at END AS b, "
	                               "CASE WHEN i % 5 = 0 THEN NULL ELSE code END AS c "
	                               "FROM s, tenants WHERE id = $1 ORDER BY i"
	                             : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	                               "FROM s WHERE i < 120) SELECT i, CASE WHEN i % 3 = 0 THEN "
	                               "NULL ELSE created_at END AS a, "
	                               "name, CASE WHEN i % 2 = 0 THEN trial_ends_at END AS b, "
	                               "CASE WHEN i % 5 = 0 THEN NULL ELSE code END AS c "
	                               "FROM s, tenants WHERE id = $1 ORDER BY i",
	                         1, one, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), N);
	ck_assert_int_eq(db_res_cols(res), 5);
	ck_assert_str_eq(db_res_name(res, 0), "i");
	ck_assert_str_eq(db_res_name(res, 1), "a");
	ck_assert_str_eq(db_res_name(res, 4), "c");
	ck_assert_int_eq(db_res_col(res, "b"), 3);
	/* More statements on the connection, one result freed: res is untouched. */
	T_run(T_db, "UPDATE tenants SET created_at = $1 WHERE id = $2", 2, upd);
	ck_assert_int_eq(db_exec(T_db, "SELECT created_at, name FROM tenants WHERE id = $1", 1, one,
	                         &other),
	                 DB_OK);
	ck_assert_str_eq(db_res_get(other, 0, 0), bare);
	ck_assert_str_eq(db_res_get(other, 0, 1), "t2 \"name\"");
	db_res_free(other);
	for (int r = 0; r < N; r++) {
		char i[16];
		int n = r + 1;
		snprintf(i, sizeof(i), "%d", n);
		ck_assert_str_eq(db_res_get(res, r, 0), i);
		if (n % 3 == 0) {
			ck_assert_ptr_null(db_res_get(res, r, 1));
		} else {
			char a[TIMESTAMP_LEN];
			/* 2026-11-23T03:45:56.123Z, and n minutes on PostgreSQL */
			ids_timestamp(1795405556123LL + (T_kind == DB_POSTGRES ? n * 60000LL : 0), a);
			ck_assert_str_eq(db_res_get(res, r, 1), a);
		}
		ck_assert_str_eq(db_res_get(res, r, 2), "t2 \"name\"");
		if (n % 2 == 0)
			ck_assert_str_eq(db_res_get(res, r, 3), "infinity");
		else
			ck_assert_ptr_null(db_res_get(res, r, 3));
		if (n % 5 == 0)
			ck_assert_ptr_null(db_res_get(res, r, 4));
		else
			ck_assert_str_eq(db_res_get(res, r, 4), "t2");
	}
	ck_assert_ptr_null(db_res_get(res, N, 0));
	ck_assert_ptr_null(db_res_get(res, 0, 5));
	db_res_free(res);
	/* No rows: the names still. */
	ck_assert_int_eq(db_exec(T_db, "SELECT created_at AS a, name FROM tenants WHERE code = 'none'",
	                         0, NULL, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), 0);
	ck_assert_int_eq(db_res_cols(res), 2);
	ck_assert_str_eq(db_res_name(res, 0), "a");
	ck_assert_str_eq(db_res_name(res, 1), "name");
	db_res_free(res);
}
END_TEST

/* What db_exec_each's rows were: each row's values joined as "v|v|-" (NULL as "-") and
 * its names, kept as the rows come; stop_at stops the query after that many rows. */
struct each_seen {
	char rows[64][128];
	char names[128];
	int n, stop_at;
};

static int each_row(void *ctx, const struct db_res *res, int row)
{
	struct each_seen *s = ctx;
	size_t len = 0;

	ck_assert_int_lt(s->n, 64);
	s->rows[s->n][0] = '\0';
	for (int c = 0; c < db_res_cols(res); c++) {
		const char *v = db_res_get(res, row, c);
		len += (size_t)snprintf(s->rows[s->n] + len, sizeof(s->rows[0]) - len, "%s%s",
		                        c ? "|" : "", v ? v : "-");
		if (s->n == 0)
			snprintf(s->names + strlen(s->names), sizeof(s->names) - strlen(s->names),
			         "%s%s", c ? "|" : "", db_res_name(res, c));
	}
	return ++s->n == s->stop_at ? -1 : 0;
}

/* db_exec_each hands over the rows db_exec gives, in order, values and NULLs and
 * names alike (on SQLite without a result: each row's values are gone at the next);
 * stopping early answers DB_ERR and leaves the connection as it was; a bad parameter
 * list or a failing statement fails as with db_exec; no rows, no call. */
START_TEST(test_exec_each)
{
	static const char sql[] =
		"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40) "
		"SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'v' || i END AS a, "
		"CAST($1 AS TEXT) AS b FROM s ORDER BY i";
	const char *p[1] = { "x \"y\"" };
	struct each_seen *seen = calloc(1, sizeof(*seen));
	struct db_res *res = NULL;

	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(db_exec_each(T_db, sql, 1, p, each_row, seen), DB_OK);
	ck_assert_int_eq(seen->n, 40);
	ck_assert_str_eq(seen->names, "i|a|b");
	ck_assert_int_eq(db_exec(T_db, sql, 1, p, &res), DB_OK);
	for (int r = 0; r < 40; r++) {
		char want[128];
		snprintf(want, sizeof(want), "%s|%s|%s", db_res_get(res, r, 0),
		         db_res_get(res, r, 1) ? db_res_get(res, r, 1) : "-", db_res_get(res, r, 2));
		ck_assert_str_eq(seen->rows[r], want);
	}
	ck_assert_str_eq(seen->rows[2], "3|-|x \"y\"");
	db_res_free(res);
	/* Stopped after five rows: DB_ERR, and the next statement runs as ever. */
	memset(seen, 0, sizeof(*seen));
	seen->stop_at = 5;
	ck_assert_int_eq(db_exec_each(T_db, sql, 1, p, each_row, seen), DB_ERR);
	ck_assert_int_eq(seen->n, 5);
	ck_assert_int_eq(db_ping(T_db), 0);
	memset(seen, 0, sizeof(*seen));
	ck_assert_int_eq(db_exec_each(T_db, sql, 1, p, each_row, seen), DB_OK);
	ck_assert_int_eq(seen->n, 40);
	/* The schema changed since the statement was cached: SQLite prepares it again at its
	 * first step, and the names are still right. */
	memset(seen, 0, sizeof(*seen));
	ck_assert_int_eq(db_script(T_db, "CREATE TABLE each_schema_moved (x INTEGER)"), DB_OK);
	ck_assert_int_eq(db_exec_each(T_db, sql, 1, p, each_row, seen), DB_OK);
	ck_assert_int_eq(seen->n, 40);
	ck_assert_str_eq(seen->names, "i|a|b");
	/* Failures as db_exec's; no rows, no call. */
	memset(seen, 0, sizeof(*seen));
	ck_assert_int_eq(db_exec_each(T_db, sql, 0, NULL, each_row, seen), DB_ERR);
	ck_assert_int_eq(db_exec_each(T_db, sql, -1, p, each_row, seen), DB_ERR);
	ck_assert_int_eq(db_exec_each(T_db, "SELECT nope FROM nowhere", 0, NULL, each_row, seen),
	                 DB_ERR);
	ck_assert_int_eq(db_exec_each(T_db, "SELECT 1 AS one WHERE 1 = 0", 0, NULL, each_row, seen),
	                 DB_OK);
	ck_assert_int_eq(seen->n, 0);
	ck_assert_int_eq(db_ping(T_db), 0);
	free(seen);
}
END_TEST

START_TEST(test_constraints)
{
	const char *dup[3] = { TENANT2, "default", "again" };
	const char *fk[3] = { "22222222-2222-4222-8222-222222222222", TENANT2, "x" };
	const char *chk[2] = { "33333333-3333-4333-8333-333333333333", "bogus" };
	const char *ok[3] = { TENANT2, "t2", "T2" };

	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)",
	                         3, dup, NULL),
	                 DB_CONSTRAINT);
	ck_assert_str_ne(db_errmsg(T_db), "");
	/* Foreign key: no such tenant. */
	ck_assert_int_eq(db_exec(T_db,
	                         "INSERT INTO devices (id, tenant_id, name, secret_hash) "
	                         "VALUES ($1, $2, $3, 'h')",
	                         3, fk, NULL),
	                 DB_CONSTRAINT);
	/* Check: status outside its set. */
	{
		const char *p[3] = { chk[0], DEFAULT_TENANT_ID, chk[1] };
		ck_assert_int_eq(db_exec(T_db,
		                         "INSERT INTO devices (id, tenant_id, name, secret_hash, status) "
		                         "VALUES ($1, $2, 'n', 'h', $3)",
		                         3, p, NULL),
		                 DB_CONSTRAINT);
	}
	/* Not null. */
	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, NULL)",
	                         2, ok, NULL),
	                 DB_CONSTRAINT);
	/* Inside a transaction, then the connection goes on. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)",
	                         3, dup, NULL),
	                 DB_CONSTRAINT);
	db_rollback(T_db);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ok);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 2);
}
END_TEST

START_TEST(test_transactions)
{
	const char *a[3] = { TENANT2, "t2", "T2" };
	const char *b[3] = { "44444444-4444-4444-8444-444444444444", "t4", "T4" };

	db_rollback(T_db); /* none open: harmless */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, a);
	db_rollback(T_db);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, a);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, b);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 3);
	/* Another connection sees the commit. */
	{
		struct db *other = T_open_again();
		ck_assert_int_eq(T_count(other, "SELECT count(*) FROM tenants", 0, NULL), 3);
		db_close(other);
	}
}
END_TEST

START_TEST(test_changes)
{
	const char *a[3] = { TENANT2, "t2", "T2" };
	const char *b[3] = { "44444444-4444-4444-8444-444444444444", "t4", "T4" };
	struct db_res *res = NULL;

	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, a);
	ck_assert_int_eq(db_changes(T_db), 1);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, b);
	T_run(T_db, "UPDATE tenants SET plan = 'pro' WHERE code <> 'default'", 0, NULL);
	ck_assert_int_eq(db_changes(T_db), 2);
	T_run(T_db, "SELECT id FROM tenants", 0, NULL);
	ck_assert_int_eq(db_changes(T_db), 0);
	T_run(T_db, "UPDATE tenants SET plan = 'pro' WHERE code = 'nobody'", 0, NULL);
	ck_assert_int_eq(db_changes(T_db), 0);
	ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET plan = 'basic' WHERE code <> 'default' "
	                               "RETURNING code",
	                         0, NULL, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), 2);
	ck_assert_int_eq(db_changes(T_db), 2);
	db_res_free(res);
	T_run(T_db, "DELETE FROM tenants WHERE code = 't4'", 0, NULL);
	ck_assert_int_eq(db_changes(T_db), 1);
}
END_TEST

/* A write that lost a race against another connection's commit: DB_BUSY, at once. */
START_TEST(test_busy)
{
	struct db *other = T_open_again();
	const char *def[1] = { DEFAULT_TENANT_ID };
	char *v;

	if (T_kind == DB_POSTGRES)
		T_run(T_db, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL);
	else
		T_run(T_db, "BEGIN", 0, NULL); /* deferred: a read snapshot */
	v = T_value(T_db, "SELECT name FROM tenants WHERE id = $1", 1, def);
	free(v);
	T_run(other, "UPDATE tenants SET name = 'other' WHERE id = $1", 1, def);
	ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = 'mine' WHERE id = $1", 1, def,
	                         NULL),
	                 DB_BUSY);
	db_rollback(T_db);
	v = T_value(T_db, "SELECT name FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "other");
	free(v);
	db_close(other);
}
END_TEST

START_TEST(test_statement_cache)
{
	char sql[128], want[32];
	const char *p[1] = { "v" };
	struct db_res *res = NULL;

	/* More distinct statements than the cache holds, twice over. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 120; i++) {
			snprintf(sql, sizeof(sql), "SELECT $1 AS v, 'k%d' AS k", i);
			snprintf(want, sizeof(want), "k%d", i);
			ck_assert_int_eq(db_exec(T_db, sql, 1, p, &res), DB_OK);
			ck_assert_str_eq(db_res_get(res, 0, 1), want);
			ck_assert_str_eq(db_res_get(res, 0, 0), "v");
			db_res_free(res);
			res = NULL;
		}
	}
	/* The same buffer with different text is a different statement. */
	snprintf(sql, sizeof(sql), "SELECT 'first' AS v");
	ck_assert_int_eq(db_exec(T_db, sql, 0, NULL, &res), DB_OK);
	ck_assert_str_eq(db_res_get(res, 0, 0), "first");
	db_res_free(res);
	snprintf(sql, sizeof(sql), "SELECT 'other' AS v");
	ck_assert_int_eq(db_exec(T_db, sql, 0, NULL, &res), DB_OK);
	ck_assert_str_eq(db_res_get(res, 0, 0), "other");
	db_res_free(res);
	/* A cached statement still works after the schema changed under it. */
	T_run(T_db, "SELECT count(*) FROM tenants", 0, NULL);
	ck_assert_int_eq(db_script(T_db, "CREATE TABLE t_cache (a text)"), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
}
END_TEST

/* ---- the PostgreSQL statement cache (db_pg.c); on SQLite the same cases check that
 * both backends agree. -------------------------------------------------------------- */

/* The same statements many times over (past PostgreSQL's switch to a generic plan after
 * five runs): right rows, timestamps still RFC 3339, db_changes still counted. */
START_TEST(test_prepared_repeat)
{
	char id[UUID_STR_LEN], code[32], when[TIMESTAMP_LEN];
	const char *ins[4] = { id, code, code, when };
	struct db_res *res = NULL;

	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "%08x-0000-4000-8000-000000000000", (unsigned)i + 1);
		snprintf(code, sizeof(code), "code-%d", i);
		snprintf(when, sizeof(when), "2026-11-23T03:45:%02d.%03dZ", i, i * 7);
		ck_assert_int_eq(db_exec(T_db,
		                         "INSERT INTO tenants (id, code, name, created_at) "
		                         "VALUES ($1, $2, $3, $4)",
		                         4, ins, NULL),
		                 DB_OK);
		ck_assert_int_eq(db_changes(T_db), 1);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 40; i++) {
			const char *one[1] = { id };
			snprintf(id, sizeof(id), "%08x-0000-4000-8000-000000000000", (unsigned)i + 1);
			snprintf(code, sizeof(code), "code-%d", i);
			snprintf(when, sizeof(when), "2026-11-23T03:45:%02d.%03dZ", i, i * 7);
			ck_assert_int_eq(db_exec(T_db,
			                         "SELECT code, created_at, trial_ends_at FROM tenants "
			                         "WHERE id = $1",
			                         1, one, &res),
			                 DB_OK);
			ck_assert_int_eq(db_res_rows(res), 1);
			ck_assert_str_eq(db_res_get(res, 0, 0), code);
			ck_assert_str_eq(db_res_get(res, 0, 1), when);
			ck_assert_ptr_null(db_res_get(res, 0, 2));
			ck_assert_int_eq(db_changes(T_db), 0);
			db_res_free(res);
			res = NULL;
		}
		/* No row, then a row again. */
		{
			const char *none[1] = { "99999999-0000-4000-8000-000000000000" };
			ck_assert_int_eq(db_exec(T_db,
			                         "SELECT code, created_at, trial_ends_at FROM tenants "
			                         "WHERE id = $1",
			                         1, none, &res),
			                 DB_OK);
			ck_assert_int_eq(db_res_rows(res), 0);
			ck_assert_int_eq(db_res_cols(res), 3);
			db_res_free(res);
			res = NULL;
		}
		{
			const char *upd[1] = { round % 2 ? "pro" : "basic" };
			ck_assert_int_eq(db_exec(T_db,
			                         "UPDATE tenants SET plan = $1 WHERE code LIKE 'code-%'",
			                         1, upd, NULL),
			                 DB_OK);
			ck_assert_int_eq(db_changes(T_db), 40);
		}
	}
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants WHERE plan = 'basic'", 0, NULL),
	                 40);
}
END_TEST

/* After the server session is lost and db_ping made a new one, the statements run before
 * still work, inside a transaction too (where a statement missing from the new session
 * could not be prepared again and run: the transaction would have failed already). */
START_TEST(test_prepared_after_reconnect)
{
	const char *def[1] = { DEFAULT_TENANT_ID };
	const char *ins[3] = { TENANT2, "t2", "T2" };
	char *v;

	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "default");
	free(v);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	if (T_kind == DB_POSTGRES) {
		/* Our own session ends: the statement fails (run again on a new session, it
		 * ends that one too). A read after that reconnects by itself and succeeds. */
		ck_assert_int_eq(db_exec(T_db, "SELECT pg_terminate_backend(pg_backend_pid())", 0,
		                         NULL, NULL),
		                 DB_ERR);
		ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	}
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "default");
	free(v);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ins);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 2);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	/* Twice: a second reconnect, by another connection this time. */
	if (T_kind == DB_POSTGRES) {
		T_kill_session(T_db);
		/* A write on the dead connection is not run again (it might have been applied
		 * before the connection went): it fails, and the next statement, finding the
		 * connection known dead, reconnects before it is sent: a write too. */
		ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = name WHERE id = $1", 1,
		                         def, NULL),
		                 DB_ERR);
		ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = name WHERE id = $1", 1,
		                         def, NULL),
		                 DB_OK);
		ck_assert_int_eq(db_changes(T_db), 1);
		/* Killed again: a read alone, with no db_ping, finds its way back. */
		T_kill_session(T_db);
		ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 2);
	}
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 2);
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "default");
	free(v);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
}
END_TEST

/* More distinct statements than the cache holds (64 on PostgreSQL): those past the cap
 * run unprepared, in and out of transactions, and the server holds no more than the cap. */
START_TEST(test_prepared_past_cap)
{
	char sql[128], want[32];
	struct db_res *res = NULL;

	for (int round = 0; round < 3; round++) {
		if (round == 2)
			ck_assert_int_eq(db_begin(T_db), DB_OK);
		for (int i = 0; i < 150; i++) {
			const char *p[1] = { want };
			snprintf(sql, sizeof(sql), "SELECT $1 AS v, %d AS n FROM tenants", i);
			snprintf(want, sizeof(want), "v%d", i);
			ck_assert_int_eq(db_exec(T_db, sql, 1, p, &res), DB_OK);
			ck_assert_int_eq(db_res_rows(res), 1);
			ck_assert_str_eq(db_res_get(res, 0, 0), want);
			ck_assert_int_eq((int)strtol(db_res_get(res, 0, 1), NULL, 10), i);
			db_res_free(res);
			res = NULL;
		}
		if (round == 2)
			ck_assert_int_eq(db_commit(T_db), DB_OK);
	}
	if (T_kind == DB_POSTGRES)
		ck_assert_int_le(T_count(T_db, "SELECT count(*) FROM pg_prepared_statements", 0, NULL),
		                 64);
	ck_assert_int_eq(db_ping(T_db), 0);
}
END_TEST

/* A statement that fails (to prepare, or to run) leaves nothing behind that makes the
 * next run fail, and fails the same way every time. */
START_TEST(test_prepared_errors_do_not_stick)
{
	const char *dup[3] = { "55555555-5555-4555-8555-555555555555", "default", "again" };
	const char *ok[3] = { "55555555-5555-4555-8555-555555555555", "t5", "T5" };
	const char *bad_id[1] = { "not-a-uuid" };
	const char *def[1] = { DEFAULT_TENANT_ID };
	char *v;

	/* Fails to prepare: every time, and the connection goes on. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(db_exec(T_db, "SELECT nosuchcolumn FROM tenants WHERE id = $1", 1,
		                         def, NULL),
		                 DB_ERR);
		ck_assert_str_ne(db_errmsg(T_db), "");
		ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
		ck_assert_str_eq(db_errmsg(T_db), "");
	}
	/* Fails to run (the values, not the statement): the same code each time, and the
	 * same statement then runs with good values. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)",
		                         3, dup, NULL),
		                 DB_CONSTRAINT);
		ck_assert_int_eq(db_changes(T_db), 0);
	}
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ok);
	ck_assert_int_eq(db_changes(T_db), 1);
	if (T_kind == DB_POSTGRES) {
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(db_exec(T_db, "SELECT code FROM tenants WHERE id = $1", 1, bad_id,
			                         NULL),
			                 DB_ERR);
	}
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "default");
	free(v);
	/* The wrong number of values for a statement already prepared. */
	ck_assert_int_eq(db_exec(T_db, "SELECT code FROM tenants WHERE id = $1", 2, dup, NULL),
	                 DB_ERR);
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	ck_assert_str_eq(v, "default");
	free(v);

	/* First seen inside a transaction that has already failed: refused there (on
	 * PostgreSQL), fine once it is rolled back. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)",
	                         3, dup, NULL),
	                 DB_CONSTRAINT);
	if (T_kind == DB_POSTGRES)
		ck_assert_int_eq(db_exec(T_db, "SELECT name FROM tenants WHERE code = $1", 1,
		                         &ok[1], NULL),
		                 DB_ERR);
	db_rollback(T_db);
	v = T_value(T_db, "SELECT name FROM tenants WHERE code = $1", 1, &ok[1]);
	ck_assert_str_eq(v, "T5");
	free(v);

	/* Prepared in a transaction that is rolled back, with the table it reads: the table
	 * is gone, then made again, and the same statement follows it. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_script(T_db, "CREATE TABLE t_gone (a text)"), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM t_gone", 0, NULL), 0);
	db_rollback(T_db);
	ck_assert_int_eq(db_exec(T_db, "SELECT count(*) FROM t_gone", 0, NULL, NULL), DB_ERR);
	ck_assert_int_eq(db_script(T_db, "CREATE TABLE t_gone (a text); "
	                                 "INSERT INTO t_gone VALUES ('x')"),
	                 DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM t_gone", 0, NULL), 1);
}
END_TEST

/* A statement the server dropped (DEALLOCATE ALL) or whose result columns changed under
 * it (a column added to a SELECT *): prepared again and run, outside a transaction; inside
 * one, the transaction fails and the next run works. */
START_TEST(test_prepared_stale)
{
	const char *def[1] = { DEFAULT_TENANT_ID };
	struct db_res *res = NULL;
	char *v;

	ck_assert_int_eq(db_script(T_db, "CREATE TABLE t_stale (a integer); "
	                                 "INSERT INTO t_stale VALUES (1)"),
	                 DB_OK);
	ck_assert_int_eq(db_exec(T_db, "SELECT * FROM t_stale", 0, NULL, &res), DB_OK);
	ck_assert_int_eq(db_res_cols(res), 1);
	db_res_free(res);
	res = NULL;
	v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
	free(v);

	if (T_kind == DB_POSTGRES) {
		ck_assert_int_eq(db_script(T_db, "DEALLOCATE ALL"), DB_OK);
		v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
		ck_assert_str_eq(v, "default");
		free(v);
		ck_assert_str_eq(db_errmsg(T_db), "");
		/* In a transaction: that one fails, the next works. */
		ck_assert_int_eq(db_script(T_db, "DEALLOCATE ALL"), DB_OK);
		ck_assert_int_eq(db_begin(T_db), DB_OK);
		ck_assert_int_eq(db_exec(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def, NULL),
		                 DB_ERR);
		db_rollback(T_db);
		v = T_value(T_db, "SELECT code FROM tenants WHERE id = $1", 1, def);
		ck_assert_str_eq(v, "default");
		free(v);
	}

	/* PostgreSQL only: db_sqlite.c reads a cached statement's columns before the step
	 * that re-prepares it after a schema change, so its SELECT * still shows the old
	 * columns (reported; the store never selects *). */
	if (T_kind == DB_POSTGRES) {
		/* Cached again (DEALLOCATE ALL above emptied the cache), then changed under it. */
		ck_assert_int_eq(db_exec(T_db, "SELECT * FROM t_stale", 0, NULL, NULL), DB_OK);
		ck_assert_int_eq(db_script(T_db, "ALTER TABLE t_stale ADD COLUMN b text"), DB_OK);
		ck_assert_int_eq(db_exec(T_db, "SELECT * FROM t_stale", 0, NULL, &res), DB_OK);
		ck_assert_int_eq(db_res_cols(res), 2);
		ck_assert_str_eq(db_res_name(res, 1), "b");
		ck_assert_str_eq(db_res_get(res, 0, 0), "1");
		ck_assert_ptr_null(db_res_get(res, 0, 1));
		db_res_free(res);
		res = NULL;
		ck_assert_str_eq(db_errmsg(T_db), "");

		ck_assert_int_eq(db_begin(T_db), DB_OK);
		ck_assert_int_eq(db_script(T_db, "ALTER TABLE t_stale ADD COLUMN c text"), DB_OK);
		ck_assert_int_eq(db_exec(T_db, "SELECT * FROM t_stale", 0, NULL, NULL), DB_ERR);
		db_rollback(T_db);
		ck_assert_int_eq(db_exec(T_db, "SELECT * FROM t_stale", 0, NULL, &res), DB_OK);
		ck_assert_int_eq(db_res_cols(res), 2);
		db_res_free(res);
		res = NULL;
		/* The one found stale outside a transaction was deallocated; the one found stale
		 * inside stays on the server until the session ends; and the one in use. */
		ck_assert_int_eq(T_count(T_db,
		                         "SELECT count(*) FROM pg_prepared_statements "
		                         "WHERE statement = 'SELECT * FROM t_stale'",
		                         0, NULL),
		                 2);
	}
}
END_TEST

/* A connection through a pooler in transaction mode (db_set_pooled): everything runs,
 * plain, in a transaction and in both kinds of scope, and nothing is left in the server
 * session: no prepared statement, no setting, no LISTEN (both refused). SQLite: nothing
 * changes. */
START_TEST(test_pooled)
{
	const char *def[1] = { DEFAULT_TENANT_ID };
	struct db *db = NULL;
	char *v;

	ck_assert_int_eq(db_open(T_driver(), T_target, &db), DB_OK);
	db_set_pooled(db);
	for (int i = 0; i < 3; i++) {
		v = T_value(db, "SELECT code FROM tenants WHERE id = $1", 1, def);
		ck_assert_str_eq(v, "default");
		free(v);
		ck_assert_int_eq(db_begin(db), DB_OK);
		ck_assert_int_eq(T_count(db, "SELECT count(*) FROM tenants WHERE id = $1", 1, def), 1);
		ck_assert_int_eq(db_commit(db), DB_OK);
		ck_assert_int_eq(db_scope_begin_read(db, DEFAULT_TENANT_ID, 0), DB_OK);
		ck_assert_int_eq(T_count(db, "SELECT count(*) FROM tenants WHERE id = $1", 1, def), 1);
		ck_assert_int_eq(T_count(db, "SELECT count(*) FROM tenants WHERE id = $1", 1, def), 1);
		ck_assert_int_eq(db_scope_end(db, 1), DB_OK);
		ck_assert_int_eq(db_scope_begin(db, DEFAULT_TENANT_ID, 0), DB_OK);
		ck_assert_int_eq(db_exec(db, "UPDATE tenants SET name = name WHERE id = $1", 1, def,
		                         NULL),
		                 DB_OK);
		ck_assert_int_eq(db_scope_end(db, 1), DB_OK);
	}
	if (T_kind == DB_SQLITE) {
		ck_assert_int_eq(db_session_set(db, "kaiden.staff", "on"), DB_OK);
		ck_assert_int_eq(db_listen(db, "kaiden_auth"), DB_OK);
		db_close(db);
		return;
	}
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM pg_prepared_statements", 0, NULL), 0);
	ck_assert_int_eq(db_session_set(db, "kaiden.staff", "on"), DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(db), "database.pooler"));
	ck_assert_int_eq(db_listen(db, "kaiden_auth"), DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(db), "database.pooler"));
	/* Neither reached the server. */
	v = T_value(db, "SELECT current_setting('kaiden.staff', true) IS NULL "
	                "OR current_setting('kaiden.staff', true) = ''", 0, NULL);
	ck_assert_str_eq(v, "t");
	free(v);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM pg_listening_channels()", 0, NULL), 0);
	db_close(db);
}
END_TEST

START_TEST(test_text_verbatim)
{
	static const char *const texts[] = {
		"'); DROP TABLE tenants;--",
		"Robert\"); DELETE FROM devices; --",
		"100% _under_ \\back\\slash",
		"línea 1\nlínea 2\t😀",
		"$1 $2 ?1 :name @x",
		" leading and trailing ",
	};
	const char *one[1] = { TENANT2 };

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		const char *ins[3] = { TENANT2, texts[i], texts[i] };
		char *v;
		T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ins);
		v = T_value(T_db, "SELECT name FROM tenants WHERE id = $1", 1, one);
		ck_assert_str_eq(v, texts[i]);
		free(v);
		v = T_value(T_db, "SELECT code FROM tenants WHERE code = $1", 1, &texts[i]);
		ck_assert_str_eq(v, texts[i]);
		free(v);
		T_run(T_db, "DELETE FROM tenants WHERE id = $1", 1, one);
	}
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
}
END_TEST

START_TEST(test_notify)
{
	PGconn *listener;
	PGresult *r;
	PGnotify *n;
	char target[1100];

	if (T_kind == DB_SQLITE) {
		ck_assert_int_eq(db_notify(T_db, "kaiden_jobs", "x"), DB_OK);
		return;
	}
	snprintf(target, sizeof(target), "%s", T_target);
	listener = PQconnectdb(target);
	ck_assert_int_eq(PQstatus(listener), CONNECTION_OK);
	r = PQexec(listener, "LISTEN kaiden_jobs");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);

	/* Inside a transaction: delivered at commit, not before. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_notify(T_db, "kaiden_jobs", "in-tx"), DB_OK);
	usleep(100 * 1000);
	ck_assert_int_eq(PQconsumeInput(listener), 1);
	ck_assert_ptr_null(PQnotifies(listener));
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(PQconsumeInput(listener), 1);
		n = PQnotifies(listener);
		if (n) {
			ck_assert_str_eq(n->relname, "kaiden_jobs");
			ck_assert_str_eq(n->extra, "in-tx");
			PQfreemem(n);
			break;
		}
		ck_assert_int_lt(i, 49);
		usleep(20 * 1000);
	}
	PQfinish(listener);
}
END_TEST

/* The connection dies inside a transaction: every later statement of it fails (none
 * runs outside it on a new connection) until its ROLLBACK, and then the connection
 * comes back by itself. Nothing of the transaction was kept. */
START_TEST(test_lost_in_transaction)
{
	const char *ins[3] = { TENANT2, "t2", "T2" };

	ck_assert_int_eq(db_begin(T_db), DB_OK);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ins);
	T_kill_session(T_db);
	ck_assert_int_eq(db_exec(T_db, "SELECT count(*) FROM tenants", 0, NULL, NULL), DB_ERR);
	ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = 'x'", 0, NULL, NULL), DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(T_db), "lost inside the transaction"));
	ck_assert_int_eq(db_commit(T_db), DB_ERR);
	db_rollback(T_db);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants WHERE name = 'x'", 0, NULL),
	                 0);
	/* And a transaction after it works. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, ins);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 2);
}
END_TEST

START_TEST(test_ping_reconnects)
{
	char *v;

	if (T_kind == DB_SQLITE) {
		ck_assert_int_eq(db_ping(T_db), 0);
		return;
	}
	T_kill_session(T_db);
	/* A read finds the connection dead and runs again on a new one. */
	ck_assert_int_eq(db_exec(T_db, "SELECT 1", 0, NULL, NULL), DB_OK);
	ck_assert_int_eq(db_ping(T_db), 0);
	/* The new session is set up like the first: UTC and the test's schema. */
	v = T_value(T_db, "SELECT current_setting('TimeZone')", 0, NULL);
	ck_assert_str_eq(v, "UTC");
	free(v);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
}
END_TEST

/* Parameter values never reach the log or db_errmsg (they may be secrets). */
START_TEST(test_errors_hide_values)
{
	const char *secret = "s3cr3t-VALUE-never-logged";
	const char *p[3] = { secret, "default", secret };
	char path[300], buf[4096];
	int fd, saved;
	ssize_t got;

	snprintf(path, sizeof(path), "%s/stderr-%ld", T_dir[0] ? T_dir : "/tmp", (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	ck_assert_int_eq(dup2(fd, 2), 2);
	/* A malformed value where PostgreSQL wants a uuid / integer, and a unique clash. */
	ck_assert_int_eq(db_exec(T_db, "SELECT code FROM tenants WHERE id = $1", 1, p, NULL),
	                 T_kind == DB_POSTGRES ? DB_ERR : DB_OK);
	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)",
	                         3, p, NULL),
	                 T_kind == DB_POSTGRES ? DB_ERR : DB_CONSTRAINT);
	ck_assert_ptr_null(strstr(db_errmsg(T_db), "s3cr3t"));
	dup2(saved, 2);
	close(saved);
	got = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(got, 0); /* the failure was logged... */
	buf[got] = '\0';
	ck_assert_msg(strstr(buf, "s3cr3t") == NULL, "log shows a value: %s", buf); /* ...bare */
	ck_assert_ptr_nonnull(strstr(buf, "level=")); /* as one logfmt line */
}
END_TEST

/* The database holds password hashes and token digests: the file and its -wal and
 * -shm companions are 0600 whatever the umask (here 022, which gave 0644 before). */
START_TEST(test_sqlite_file_modes)
{
	const char *suffix[] = { "", "-wal", "-shm" };
	char target[1024], path[1100];
	struct db *db = NULL;
	mode_t old;
	struct stat st;

	if (T_kind != DB_SQLITE)
		return; /* no file */
	T_fresh_target(target, sizeof(target));
	old = umask(022);
	ck_assert_int_eq(db_open("sqlite", target, &db), DB_OK);
	/* A write while open: the -wal and -shm files exist until the last close. */
	T_run(db, "CREATE TABLE t (x TEXT)", 0, NULL);
	T_run(db, "INSERT INTO t VALUES ('x')", 0, NULL);
	umask(old);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", target, suffix[i]);
		ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
		ck_assert_msg((st.st_mode & 0777) == 0600, "%s has mode %04o, want 0600", path,
		              (unsigned)(st.st_mode & 0777));
	}
	db_close(db);
}
END_TEST

/* db_open_existing never creates a SQLite file: a missing one is DB_MISSING and stays
 * missing; an existing one, and PostgreSQL, open as with db_open. */
START_TEST(test_open_existing)
{
	char target[1024];
	struct db *db = NULL;
	struct stat st;

	T_fresh_target(target, sizeof(target));
	if (T_kind == DB_SQLITE) {
		ck_assert_int_eq(db_open_existing("sqlite", target, &db), DB_MISSING);
		ck_assert_ptr_null(db);
		ck_assert_int_eq(stat(target, &st), -1);
		ck_assert_int_eq(db_open_existing("sqlite", ":memory:", &db), DB_OK);
		db_close(db);
		db = NULL;
	}
	ck_assert_int_eq(db_open_existing(T_driver(), T_target, &db), DB_OK);
	ck_assert_int_eq(db_ping(db), 0);
	db_close(db);
}
END_TEST

/* The version a database records, and 0 (not an error) for one never migrated. */
START_TEST(test_schema_version)
{
	char target[1024];
	struct db *db = NULL;
	int version = -1;

	ck_assert_int_eq(store_schema_version(T_db, &version), 0);
	ck_assert_int_eq(version, migrations_latest(T_db));
	T_fresh_target(target, sizeof(target));
	ck_assert_int_eq(db_open(T_driver(), target, &db), DB_OK);
	version = -1;
	ck_assert_int_eq(store_schema_version(db, &version), 0);
	ck_assert_int_eq(version, 0);
	ck_assert_str_eq(db_errmsg(db), "");
	db_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	T_ADD(sq, pg, test_open_and_ping);
	T_ADD(sq, pg, test_sqlite_pragmas);
	T_ADD(sq, pg, test_migrations_idempotent);
	T_ADD(sq, pg, test_migrations_race);
	T_ADD(sq, pg, test_placeholders);
	T_ADD(sq, pg, test_parameter_mismatch);
	T_ADD(sq, pg, test_script);
	T_ADD(sq, pg, test_timestamps);
	T_ADD(sq, pg, test_result_rows);
	T_ADD(sq, pg, test_exec_each);
	T_ADD(sq, pg, test_constraints);
	T_ADD(sq, pg, test_transactions);
	T_ADD(sq, pg, test_changes);
	T_ADD(sq, pg, test_busy);
	T_ADD(sq, pg, test_statement_cache);
	T_ADD(sq, pg, test_prepared_repeat);
	T_ADD(sq, pg, test_prepared_after_reconnect);
	T_ADD(sq, pg, test_prepared_past_cap);
	T_ADD(sq, pg, test_prepared_errors_do_not_stick);
	T_ADD(sq, pg, test_prepared_stale);
	T_ADD(sq, pg, test_pooled);
	T_ADD(sq, pg, test_text_verbatim);
	T_ADD(sq, pg, test_notify);
	T_ADD(sq, pg, test_ping_reconnects);
	tcase_add_test(pg, test_lost_in_transaction); /* PostgreSQL only: a server session to lose */
	T_ADD(sq, pg, test_errors_hide_values);
	T_ADD(sq, pg, test_sqlite_file_modes);
	T_ADD(sq, pg, test_open_existing);
	T_ADD(sq, pg, test_schema_version);
	return T_main(s, sq, pg);
}
