/* check_rls.c: tenant scopes (db_scope_begin/end, savepoint nesting, failures and
 * reconnects inside and outside them), session settings, and row-level security
 * (sql/pg/0006_rls.sql) proved as the application's role: with the wrong tenant set,
 * another tenant's rows can be neither read, changed, deleted nor written; with none,
 * nothing is visible; the staff switch sees everything; the audit log is append-only;
 * every policy reads its settings once per statement (sql/pg/0023_rls_once.sql).
 *
 * T_db is the schema's owner (the cluster's superuser: row-level security does not
 * filter it), used to set up rows and to look at the truth; T_open_app connects as the
 * application's role. */
#include <string.h>

#include "ids.h"
#include "store.h"
#include "store_auth.h"
#include "store_row.h"
#include "testdb.h"

#define TENANT_A DEFAULT_TENANT_ID
#define TENANT_B "11111111-1111-4111-8111-111111111111"
#define TENANT_C "22222222-2222-4222-8222-222222222222"

/* One row of each tenant table per tenant, the B ones named by these ids. */
#define DEV_A "01900000-0000-7000-8000-00000000000a"
#define DEV_B "01900000-0000-7000-8000-00000000000b"
#define SES_A "01900000-0000-7000-8000-0000000000aa"
#define SES_B "01900000-0000-7000-8000-0000000000bb"
#define TOK_A "01900000-0000-7000-8000-000000000aaa"
#define TOK_B "01900000-0000-7000-8000-000000000bbb"
#define JOB_A "01900000-0000-7000-8000-00000000aaaa"
#define JOB_B "01900000-0000-7000-8000-00000000bbbb"
/* A user of each tenant and a staff user; each has a login and an audit entry with the
 * same id. */
#define USR_A "01900000-0000-7000-8000-0000000aaaaa"
#define USR_B "01900000-0000-7000-8000-0000000bbbbb"
#define USR_STAFF "01900000-0000-7000-8000-0000000fffff"

/* The tables row-level security covers. */
static const char *const tenant_tables[] = { "tenants", "devices", "sessions", "api_tokens",
	                                     "jobs", "users", "logins", "audit_log" };

static void add_tenant(struct db *db, const char *id, const char *code)
{
	const char *p[3] = { id, code, code };

	T_run(db, "INSERT INTO tenants (id, code, name) VALUES ($1, $2, $3)", 3, p);
}

static long tenant_count(struct db *db, const char *code)
{
	const char *p[1] = { code };

	return T_count(db, "SELECT count(*) FROM tenants WHERE code = $1", 1, p);
}

/* A device, a session, a token and a job of tenant. */
static void add_rows(struct db *db, const char *tenant, const char *dev, const char *ses,
                     const char *tok, const char *job)
{
	const char *d[3] = { dev, tenant, dev };
	const char *s[4] = { ses, tenant, dev, ses };
	const char *t[3] = { tok, tenant, tok };
	const char *j[3] = { job, tenant, ses };

	T_run(db, "INSERT INTO devices (id, tenant_id, name, secret_hash) "
	          "VALUES ($1, $2, $3, 'h')",
	      3, d);
	T_run(db, "INSERT INTO sessions (id, tenant_id, device_id, short_id, engineer_name) "
	          "VALUES ($1, $2, $3, $4, 'eng')",
	      4, s);
	T_run(db, "INSERT INTO api_tokens (id, tenant_id, name, token_digest) "
	          "VALUES ($1, $2, 't', $3)",
	      3, t);
	T_run(db, "INSERT INTO jobs (id, tenant_id, kind, session_id) VALUES ($1, $2, 'k', $3)", 3,
	      j);
}

/* A user of tenant (NULL: a staff user) with a login and an audit entry, all three
 * rows with the id given. */
static void add_account(struct db *db, const char *tenant, const char *id)
{
	char email[64];
	const char *u[4] = { id, tenant, email, tenant ? "customer" : "admin" };
	const char *l[2] = { id, tenant };

	snprintf(email, sizeof(email), "%s@example.com", id);
	T_run(db, "INSERT INTO users (id, tenant_id, email, name, role) "
	          "VALUES ($1, $2, $3, 'u', $4)",
	      4, u);
	T_run(db, "INSERT INTO logins (id, tenant_id, user_id, expires_at) "
	          "VALUES ($1, $2, $1, '2100-01-01T00:00:00Z')",
	      2, l);
	T_run(db, "INSERT INTO audit_log (id, tenant_id, action) VALUES ($1, $2, 'auth.login')", 2,
	      l);
}

/* Tenants A (the default) and B, each with one row in every tenant table, and a staff
 * user (no tenant) with a login and an audit entry. */
static void two_tenants(void)
{
	add_tenant(T_db, TENANT_B, "bee");
	add_rows(T_db, TENANT_A, DEV_A, SES_A, TOK_A, JOB_A);
	add_rows(T_db, TENANT_B, DEV_B, SES_B, TOK_B, JOB_B);
	add_account(T_db, TENANT_A, USR_A);
	add_account(T_db, TENANT_B, USR_B);
	add_account(T_db, NULL, USR_STAFF);
}

static int table_exists(struct db *db, const char *table)
{
	const char *p[1] = { table };

	return T_count(db, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'r' "
	                   "AND relnamespace = to_regnamespace(current_schema())",
	               1, p) == 1;
}

static long count_of(struct db *db, const char *table)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return T_count(db, sql, 0, NULL);
}

static char *setting(struct db *db, const char *name)
{
	const char *p[1] = { name };

	return T_value(db, "SELECT coalesce(current_setting($1, true), '<unset>')", 1, p);
}

static void assert_setting(struct db *db, const char *name, const char *want)
{
	char *v = setting(db, name);

	ck_assert_msg(v && strcmp(v, want) == 0, "%s is '%s', want '%s'", name, v ? v : "(null)",
	              want);
	free(v);
}

/* ---- scopes: both backends ----------------------------------------------------------- */

START_TEST(test_scope_flag)
{
	ck_assert_int_eq(db_in_scope(T_db), 0);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_ERR);
	/* Not a UUID: refused before anything is sent (it would go into the SET text). */
	ck_assert_int_eq(db_scope_begin(T_db, "x'; SET kaiden.staff = 'on", 0), DB_ERR);
	ck_assert_int_eq(db_scope_begin(T_db, "default", 0), DB_ERR);
	ck_assert_int_eq(db_in_scope(T_db), 0);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_in_scope(T_db), 1);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_ERR);
	ck_assert_int_eq(db_in_scope(T_db), 1);
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(db_in_scope(T_db), 0);
	/* No tenant, staff or not. */
	ck_assert_int_eq(db_scope_begin(T_db, NULL, 1), DB_OK);
	ck_assert_int_eq(db_scope_end(T_db, 0), DB_OK);
	ck_assert_int_eq(db_scope_begin(T_db, NULL, 0), DB_OK);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
}
END_TEST

/* Store transactions inside a scope: a commit keeps its work, a rollback drops its own
 * work only; rollback with nothing open does nothing, commit with nothing open fails. */
START_TEST(test_scope_nested)
{
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_B, "kept");
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_C, "dropped");
	ck_assert_int_eq(tenant_count(T_db, "dropped"), 1);
	db_rollback(T_db);
	db_rollback(T_db);
	ck_assert_int_eq(tenant_count(T_db, "dropped"), 0);
	ck_assert_int_eq(tenant_count(T_db, "kept"), 1);
	ck_assert_int_eq(db_commit(T_db), DB_ERR);
	ck_assert_int_eq(tenant_count(T_db, "kept"), 1);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "kept"), 1);
	ck_assert_int_eq(tenant_count(T_db, "dropped"), 0);
	/* Outside a scope they are transactions again. */
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_C, "later");
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "later"), 1);
}
END_TEST

START_TEST(test_session_set_names)
{
	static const char *const bad[] = { "", "kaiden staff", "1kaiden.staff", "kaiden..staff",
		                           "kaiden.", ".staff", "kaiden.staff;", "kaiden.st-aff",
		                           "kaiden.staff = 'on'; RESET ALL; SET x" };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(db_session_set(T_db, bad[i], "on") == DB_ERR, "name '%s' taken", bad[i]);
	ck_assert_int_eq(db_session_set(T_db, NULL, "on"), DB_ERR);
	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", NULL), DB_ERR);
	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "on"), DB_OK);
	ck_assert_int_eq(db_session_set(T_db, "kaiden.x_1.y2", "it's \\ quoted"), DB_OK);
	if (T_kind == DB_POSTGRES) {
		assert_setting(T_db, "kaiden.staff", "on");
		assert_setting(T_db, "kaiden.x_1.y2", "it's \\ quoted");
		/* Not inside a transaction or a scope. */
		ck_assert_int_eq(db_begin(T_db), DB_OK);
		ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "off"), DB_ERR);
		db_rollback(T_db);
		ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
		ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "off"), DB_ERR);
		ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
		assert_setting(T_db, "kaiden.staff", "on");
	}
}
END_TEST

/* ---- scopes: PostgreSQL ------------------------------------------------------------- */

/* What a scope sets, for its transaction only. */
START_TEST(test_scope_settings)
{
	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "on"), DB_OK);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_B, 0), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	assert_setting(T_db, "kaiden.staff", "off");
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	/* Back to the session's values ('' once a SET LOCAL has ended: as good as unset). */
	assert_setting(T_db, "kaiden.tenant_id", "");
	assert_setting(T_db, "kaiden.staff", "on");
	ck_assert_int_eq(db_scope_begin(T_db, NULL, 1), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", "");
	assert_setting(T_db, "kaiden.staff", "on");
	ck_assert_int_eq(db_scope_end(T_db, 0), DB_OK);
	/* Upper case is a UUID too. */
	ck_assert_int_eq(db_scope_begin(T_db, "AAAAAAAA-0000-4000-8000-00000000000A", 0), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", "AAAAAAAA-0000-4000-8000-00000000000A");
	ck_assert_int_eq(db_scope_end(T_db, 0), DB_OK);
	/* One transaction: what is done in it is gone after a rollback. */
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	add_tenant(T_db, TENANT_B, "gone");
	ck_assert_int_eq(db_scope_end(T_db, 0), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "gone"), 0);
}
END_TEST

START_TEST(test_scope_nested_depth)
{
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_B, "outer");
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_C, "inner");
	db_rollback(T_db);
	ck_assert_int_eq(tenant_count(T_db, "inner"), 0);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_C, "inner2");
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "outer"), 1);
	ck_assert_int_eq(tenant_count(T_db, "inner"), 0);
	ck_assert_int_eq(tenant_count(T_db, "inner2"), 1);
	/* An outer rollback takes the committed inner work with it. */
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	T_run(T_db, "UPDATE tenants SET name = 'x' WHERE code = 'outer'", 0, NULL);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	db_rollback(T_db);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants WHERE name = 'x'", 0, NULL),
	                 0);
}
END_TEST

/* A statement that fails inside a store transaction (a savepoint) is undone by its
 * rollback: the request's transaction goes on and commits. */
START_TEST(test_scope_failure_in_savepoint)
{
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
	add_tenant(T_db, TENANT_B, "first");
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	add_tenant(T_db, TENANT_C, "second");
	ck_assert_int_eq(db_exec(T_db,
	                         "INSERT INTO tenants (id, code, name) VALUES ($1, 'x', 'x')", 1,
	                         (const char *const[]){ TENANT_B }, NULL),
	                 DB_CONSTRAINT);
	/* The commit of a failed savepoint fails and leaves it for the rollback. */
	ck_assert_int_eq(db_commit(T_db), DB_ERR);
	db_rollback(T_db);
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_int_eq(tenant_count(T_db, "first"), 1);
	ck_assert_int_eq(tenant_count(T_db, "second"), 0);
	add_tenant(T_db, TENANT_C, "third");
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "first"), 1);
	ck_assert_int_eq(tenant_count(T_db, "second"), 0);
	ck_assert_int_eq(tenant_count(T_db, "third"), 1);
}
END_TEST

/* A statement that fails outside any savepoint aborts the request's transaction: later
 * statements fail, ping says the connection is fine without replacing it, and the end
 * cannot commit; a rollback end is fine. Nothing of it is kept either way. */
START_TEST(test_scope_failure)
{
	char *pid = T_value(T_db, "SELECT pg_backend_pid()", 0, NULL), *pid2;

	for (int ok = 0; ok <= 1; ok++) {
		ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
		add_tenant(T_db, TENANT_B, "before");
		ck_assert_int_eq(db_exec(T_db, "SELECT CAST('x' AS integer)", 0, NULL, NULL), DB_ERR);
		ck_assert_int_eq(db_exec(T_db, "SELECT 1", 0, NULL, NULL), DB_ERR);
		ck_assert_int_eq(db_begin(T_db), DB_ERR);
		db_rollback(T_db);
		ck_assert_int_eq(db_ping(T_db), 0);
		ck_assert_int_eq(db_scope_end(T_db, ok), ok ? DB_ERR : DB_OK);
		ck_assert_int_eq(tenant_count(T_db, "before"), 0);
	}
	/* The same server session all along. */
	pid2 = T_value(T_db, "SELECT pg_backend_pid()", 0, NULL);
	ck_assert_str_eq(pid, pid2);
	free(pid);
	free(pid2);
}
END_TEST

/* A connection that died while idle: the scope's BEGIN reconnects, whether the death was
 * known already (a failed write) or is found by the BEGIN itself; the session settings
 * come back with the new connection. */
START_TEST(test_scope_reconnect_outside)
{
	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "on"), DB_OK);
	ck_assert_int_eq(db_session_set(T_db, "kaiden.note", "it's kept"), DB_OK);
	ck_assert_int_eq(db_session_set(T_db, "kaiden.note", "replaced"), DB_OK);
	/* Found by the BEGIN. */
	T_kill_session(T_db);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_B, 0), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	assert_setting(T_db, "kaiden.staff", "off");
	add_tenant(T_db, TENANT_B, "after-restart");
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "after-restart"), 1);
	assert_setting(T_db, "kaiden.staff", "on");
	assert_setting(T_db, "kaiden.note", "replaced");
	/* Known already: a write outside a scope met it (and failed). */
	T_kill_session(T_db);
	ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = name", 0, NULL, NULL), DB_ERR);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 1), DB_OK);
	assert_setting(T_db, "kaiden.staff", "on");
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	/* And a plain read reconnects with the settings too. */
	T_kill_session(T_db);
	assert_setting(T_db, "kaiden.staff", "on");
	assert_setting(T_db, "kaiden.note", "replaced");
	assert_setting(T_db, "TimeZone", "UTC");
}
END_TEST

/* The connection dies inside a scope: nothing reconnects until the scope ends (no
 * statement of the request runs outside its transaction or without its tenant), the end
 * reports that nothing was committed, and the next scope works on a new connection. */
START_TEST(test_scope_lost_inside)
{
	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "on"), DB_OK);
	for (int ok = 0; ok <= 1; ok++) {
		ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
		ck_assert_int_eq(db_begin(T_db), DB_OK);
		add_tenant(T_db, TENANT_B, "lost");
		T_kill_session(T_db);
		ck_assert_int_eq(db_exec(T_db, "SELECT 1", 0, NULL, NULL), DB_ERR);
		ck_assert_int_eq(db_exec(T_db, "SELECT 1", 0, NULL, NULL), DB_ERR);
		ck_assert_ptr_nonnull(strstr(db_errmsg(T_db), "lost inside the transaction"));
		ck_assert_int_eq(db_commit(T_db), DB_ERR);
		db_rollback(T_db);
		ck_assert_int_eq(db_begin(T_db), DB_ERR);
		ck_assert_int_eq(db_ping(T_db), -1);
		ck_assert_int_eq(db_exec(T_db, "SELECT 1", 0, NULL, NULL), DB_ERR);
		ck_assert_int_eq(db_scope_end(T_db, ok), ok ? DB_ERR : DB_OK);
		ck_assert_int_eq(db_in_scope(T_db), 0);
		ck_assert_int_eq(tenant_count(T_db, "lost"), 0);
		assert_setting(T_db, "kaiden.staff", "on");
		ck_assert_int_eq(db_scope_begin(T_db, TENANT_A, 0), DB_OK);
		add_tenant(T_db, TENANT_B, "found");
		ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
		ck_assert_int_eq(tenant_count(T_db, "found"), 1);
		T_run(T_db, "DELETE FROM tenants WHERE code = 'found'", 0, NULL);
	}
}
END_TEST

/* A read scope: each statement is its own read-only transaction with the settings, one
 * round trip each; a write fails and spoils nothing after it; a scope in which nothing
 * ran costs no round trip. */
START_TEST(test_scope_read)
{
	unsigned long trips;

	ck_assert_int_eq(db_session_set(T_db, "kaiden.staff", "on"), DB_OK);
	trips = db_trips(T_db);
	ck_assert_int_eq(db_scope_begin_read(T_db, TENANT_B, 0), DB_OK);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(db_scope_begin(T_db, TENANT_B, 0), DB_OK);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_uint_eq(db_trips(T_db), trips);

	ck_assert_int_eq(db_scope_begin_read(T_db, TENANT_B, 0), DB_OK);
	trips = db_trips(T_db);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	ck_assert_uint_eq(db_trips(T_db), trips + 1);
	assert_setting(T_db, "kaiden.staff", "off");
	assert_setting(T_db, "transaction_read_only", "on");
	ck_assert_int_eq(db_exec(T_db, "INSERT INTO tenants (id, code, name) "
	                               "VALUES ($1, 'ro', 'ro')",
	                         1, (const char *const[]){ TENANT_C }, NULL),
	                 DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(T_db), "25006"));
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "ro"), 0);
	/* Nothing of it outlives it. */
	assert_setting(T_db, "kaiden.tenant_id", "");
	assert_setting(T_db, "kaiden.staff", "on");
	assert_setting(T_db, "transaction_read_only", "off");

	/* db_begin in one: a read-only transaction for the rest of the scope. */
	add_tenant(T_db, TENANT_B, "seen");
	ck_assert_int_eq(db_scope_begin_read(T_db, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "seen"), 1);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_A);
	ck_assert_int_eq(db_commit(T_db), DB_OK);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(db_exec(T_db, "UPDATE tenants SET name = 'x'", 0, NULL, NULL), DB_ERR);
	db_rollback(T_db);
	assert_setting(T_db, "transaction_read_only", "on");
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants WHERE name = 'x'", 0, NULL),
	                 0);
	assert_setting(T_db, "kaiden.tenant_id", "");

	/* A connection that died while idle: the read reconnects, settings and all. */
	T_kill_session(T_db);
	ck_assert_int_eq(db_scope_begin_read(T_db, TENANT_B, 0), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	assert_setting(T_db, "kaiden.staff", "on");
}
END_TEST

/* A write scope's BEGIN and settings go with its first statement: one round trip, and
 * the COMMIT a second. */
START_TEST(test_scope_one_trip)
{
	unsigned long trips;

	ck_assert_int_eq(db_scope_begin(T_db, TENANT_B, 0), DB_OK);
	trips = db_trips(T_db);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_B);
	ck_assert_uint_eq(db_trips(T_db), trips + 1);
	add_tenant(T_db, TENANT_B, "one-trip");
	ck_assert_uint_eq(db_trips(T_db), trips + 2);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_uint_eq(db_trips(T_db), trips + 3);
	ck_assert_int_eq(tenant_count(T_db, "one-trip"), 1);
}
END_TEST

/* Notifications: a NOTIFY committed before a round trip began is counted by its end;
 * other channels are not; a reconnect counts (whatever was sent meanwhile is lost). */
START_TEST(test_notices)
{
	struct db *other = T_open_again();
	unsigned long n0;

	ck_assert_int_eq(db_listen(T_db, "kaiden bad"), DB_ERR);
	ck_assert_int_eq(db_listen(T_db, "kaiden_t14"), DB_OK);
	ck_assert_int_eq(db_listen(T_db, "kaiden_t14"), DB_OK);
	n0 = db_notices(T_db, 0);
	ck_assert_int_eq(db_notify(other, "kaiden_t14", "x"), DB_OK);
	ck_assert_int_eq(db_notify(other, "kaiden_elsewhere", "x"), DB_OK);
	ck_assert_int_eq(db_scope_begin_read(T_db, TENANT_A, 0), DB_OK);
	assert_setting(T_db, "kaiden.tenant_id", TENANT_A);
	ck_assert_int_eq(db_scope_end(T_db, 1), DB_OK);
	ck_assert_uint_eq(db_notices(T_db, 0), n0 + 1);
	ck_assert_uint_eq(db_notices(T_db, 0), n0 + 1);
	T_kill_session(T_db);
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_uint_eq(db_notices(T_db, 0), n0 + 2);
	/* Still listening on the new connection. */
	ck_assert_int_eq(db_notify(other, "kaiden_t14", "y"), DB_OK);
	ck_assert_int_eq(db_ping(T_db), 0);
	ck_assert_uint_eq(db_notices(T_db, 0), n0 + 3);
	db_close(other);
}
END_TEST

/* ---- row-level security as the application's role (PostgreSQL) ---------------------- */

/* Every tenant table has it enabled and forced; login_throttle (not tenant data) not. */
START_TEST(test_rls_enabled)
{
	for (size_t i = 0; i < ARRAY_LEN(tenant_tables); i++) {
		const char *p[1] = { tenant_tables[i] };
		ck_assert_msg(table_exists(T_db, tenant_tables[i]), "no table %s", tenant_tables[i]);
		ck_assert_msg(T_count(T_db, "SELECT count(*) FROM pg_class WHERE relname = $1 "
		                            "AND relnamespace = to_regnamespace(current_schema()) "
		                            "AND relrowsecurity AND relforcerowsecurity",
		                      1, p) == 1,
		              "%s: row-level security is not enabled and forced", tenant_tables[i]);
	}
	ck_assert(table_exists(T_db, "login_throttle"));
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM pg_class WHERE relname = "
	                               "'login_throttle' AND relrowsecurity AND "
	                               "relnamespace = to_regnamespace(current_schema())",
	                         0, NULL),
	                 0);
}
END_TEST

/* Tenant A set: B's rows cannot be seen, changed, deleted, or written. */
START_TEST(test_rls_wrong_tenant)
{
	static const struct {
		const char *table, *a, *b;
	} rows[] = { { "devices", DEV_A, DEV_B },     { "sessions", SES_A, SES_B },
		     { "api_tokens", TOK_A, TOK_B },  { "jobs", JOB_A, JOB_B },
		     { "tenants", TENANT_A, TENANT_B }, { "users", USR_A, USR_B },
		     { "logins", USR_A, USR_B } };
	struct db *app;

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const char *b[1] = { rows[i].b }, *a[1] = { rows[i].a };
		char sql[160];
		ck_assert_int_eq(count_of(app, rows[i].table), 1);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = $1", rows[i].table);
		ck_assert_int_eq(T_count(app, sql, 1, a), 1);
		ck_assert_int_eq(T_count(app, sql, 1, b), 0);
		snprintf(sql, sizeof(sql), "UPDATE %s SET id = id WHERE id = $1", rows[i].table);
		T_run(app, sql, 1, b);
		ck_assert_int_eq(db_changes(app), 0);
		T_run(app, sql, 1, a);
		ck_assert_int_eq(db_changes(app), 1);
	}
	/* The audit log: A's entry only (not B's, not the staff's platform entry). */
	ck_assert_int_eq(count_of(app, "audit_log"), 1);
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM audit_log WHERE id = $1", 1,
	                         (const char *const[]){ USR_A }),
	                 1);
	/* Staff rows (no tenant) are no tenant's. */
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM users WHERE id = $1", 1,
	                         (const char *const[]){ USR_STAFF }),
	                 0);
	/* Deletes (children first: jobs, sessions, then devices). */
	T_run(app, "DELETE FROM jobs WHERE id = $1", 1, (const char *const[]){ JOB_B });
	ck_assert_int_eq(db_changes(app), 0);
	T_run(app, "DELETE FROM api_tokens WHERE tenant_id = $1", 1,
	      (const char *const[]){ TENANT_B });
	ck_assert_int_eq(db_changes(app), 0);
	T_run(app, "DELETE FROM tenants WHERE id = $1", 1, (const char *const[]){ TENANT_B });
	ck_assert_int_eq(db_changes(app), 0);
	T_run(app, "DELETE FROM logins WHERE id <> $1", 1, (const char *const[]){ USR_A });
	ck_assert_int_eq(db_changes(app), 0);
	T_run(app, "DELETE FROM users WHERE id <> $1", 1, (const char *const[]){ USR_A });
	ck_assert_int_eq(db_changes(app), 0);
	/* Unfiltered writes touch only A's rows. */
	T_run(app, "UPDATE devices SET name = 'renamed'", 0, NULL);
	ck_assert_int_eq(db_changes(app), 1);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE name = 'renamed'", 0,
	                         NULL),
	                 1);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE id = $1 AND name = $2",
	                         2, (const char *const[]){ DEV_B, DEV_B }),
	                 1);
	ck_assert_int_eq(count_of(T_db, "jobs"), 2);
	ck_assert_int_eq(count_of(T_db, "api_tokens"), 2);
	ck_assert_int_eq(count_of(T_db, "tenants"), 2);
	ck_assert_int_eq(count_of(T_db, "users"), 3);
	ck_assert_int_eq(count_of(T_db, "logins"), 3);

	/* Writing a row of B, or moving a row of A to B, is refused. */
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_exec(app, "INSERT INTO devices (id, tenant_id, name, secret_hash) "
	                              "VALUES ($1, $2, 'intruder', 'h')",
	                         2, (const char *const[]){ TENANT_C, TENANT_B }, NULL),
	                 DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(app), "row-level security"));
	ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_exec(app, "UPDATE api_tokens SET tenant_id = $1", 1,
	                         (const char *const[]){ TENANT_B }, NULL),
	                 DB_ERR);
	ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_exec(app, "INSERT INTO tenants (id, code, name) VALUES ($1, 'c', 'c')",
	                         1, (const char *const[]){ TENANT_C }, NULL),
	                 DB_ERR);
	ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	/* An audit entry for B, or for the platform (no tenant), is refused; A's goes in. */
	for (int i = 0; i < 2; i++) {
		const char *p[2] = { TENANT_C, i ? TENANT_B : NULL };
		ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
		ck_assert_int_eq(db_exec(app, "INSERT INTO audit_log (id, tenant_id, action) "
		                              "VALUES ($1, $2, 'x.y')",
		                         2, p, NULL),
		                 DB_ERR);
		ck_assert_ptr_nonnull(strstr(db_errmsg(app), "row-level security"));
		ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	}
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	T_run(app, "INSERT INTO audit_log (id, tenant_id, action) VALUES ($1, $2, 'x.y')", 2,
	      (const char *const[]){ TENANT_C, TENANT_A });
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	ck_assert_int_eq(count_of(T_db, "audit_log"), 4);
	ck_assert_int_eq(count_of(T_db, "devices"), 2);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM api_tokens WHERE tenant_id = $1", 1,
	                         (const char *const[]){ TENANT_B }),
	                 1);
	/* B set: the mirror image. */
	ck_assert_int_eq(db_scope_begin(app, TENANT_B, 0), DB_OK);
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM devices WHERE id = $1", 1,
	                         (const char *const[]){ DEV_A }),
	                 0);
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM devices WHERE id = $1", 1,
	                         (const char *const[]){ DEV_B }),
	                 1);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	/* The role may not switch row-level security off: it owns nothing. */
	ck_assert_int_eq(db_exec(app, "ALTER TABLE devices NO FORCE ROW LEVEL SECURITY", 0, NULL,
	                         NULL),
	                 DB_ERR);
	db_close(app);
}
END_TEST

/* No tenant set (outside a scope, or a scope without one): no tenant's rows. */
START_TEST(test_rls_no_tenant)
{
	struct db *app;

	two_tenants();
	app = T_open_app();
	for (size_t i = 0; i < ARRAY_LEN(tenant_tables); i++)
		ck_assert_msg(count_of(app, tenant_tables[i]) == 0, "%s shows rows", tenant_tables[i]);
	ck_assert_int_eq(db_scope_begin(app, NULL, 0), DB_OK);
	for (size_t i = 0; i < ARRAY_LEN(tenant_tables); i++)
		ck_assert_msg(count_of(app, tenant_tables[i]) == 0, "%s shows rows", tenant_tables[i]);
	T_run(app, "DELETE FROM jobs", 0, NULL);
	ck_assert_int_eq(db_changes(app), 0);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	/* The schema version is readable (health checks). */
	ck_assert_int_ge(T_count(app, "SELECT max(version) FROM schema_migrations", 0, NULL), 6);
	ck_assert_int_eq(count_of(T_db, "jobs"), 2);
	db_close(app);
}
END_TEST

/* The one door to staff rows from a tenant's scope (kaiden_staff_user, 0011): a ticket's
 * assignee and a staff author. It shows staff only, and no more than id, name, role and
 * status. */
START_TEST(test_rls_staff_user_door)
{
	struct db *app;
	json_object *user = NULL;

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM users WHERE id = $1", 1,
	                         (const char *const[]){ USR_STAFF }),
	                 0);
	ck_assert_int_eq(store_user_staff_get(app, USR_STAFF, &user), STORE_OK);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(user, "id")), USR_STAFF);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(user, "role")), "admin");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(user, "status")), "active");
	ck_assert(!json_object_object_get_ex(user, "email", NULL));
	json_object_put(user);
	user = NULL;
	/* A tenant's user, its own or another's, is not staff. */
	ck_assert_int_eq(store_user_staff_get(app, USR_A, &user), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_staff_get(app, USR_B, &user), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_staff_get(app, "not-an-id", &user), STORE_NOT_FOUND);
	ck_assert_ptr_null(user);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	db_close(app);
}
END_TEST

/* The staff switch: for a scope, and for a whole connection (helperd, admin commands);
 * a scope's own setting wins over the connection's. */
START_TEST(test_rls_staff)
{
	struct db *app;

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_scope_begin(app, NULL, 1), DB_OK);
	ck_assert_int_eq(count_of(app, "devices"), 2);
	ck_assert_int_eq(count_of(app, "tenants"), 2);
	/* The rows of no tenant (staff, platform entries) too. */
	ck_assert_int_eq(count_of(app, "users"), 3);
	ck_assert_int_eq(count_of(app, "logins"), 3);
	ck_assert_int_eq(count_of(app, "audit_log"), 3);
	add_tenant(app, TENANT_C, "by-staff");
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	ck_assert_int_eq(tenant_count(T_db, "by-staff"), 1);
	ck_assert_int_eq(count_of(app, "devices"), 0);
	ck_assert_int_eq(db_session_set(app, "kaiden.staff", "on"), DB_OK);
	ck_assert_int_eq(count_of(app, "devices"), 2);
	ck_assert_int_eq(count_of(app, "jobs"), 2);
	ck_assert_int_eq(db_scope_begin(app, TENANT_B, 0), DB_OK);
	ck_assert_int_eq(count_of(app, "devices"), 1);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	ck_assert_int_eq(count_of(app, "devices"), 2);
	/* Kept across a reconnect. */
	T_kill_session(app);
	ck_assert_int_eq(count_of(app, "devices"), 2);
	ck_assert_int_eq(db_session_set(app, "kaiden.staff", "off"), DB_OK);
	ck_assert_int_eq(count_of(app, "devices"), 0);
	db_close(app);
}
END_TEST

/* The audit log is append-only for the application: no UPDATE or DELETE, staff or not. */
START_TEST(test_rls_audit_append_only)
{
	struct db *app;

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_session_set(app, "kaiden.staff", "on"), DB_OK);
	ck_assert_int_eq(count_of(app, "audit_log"), 3);
	ck_assert_int_eq(db_exec(app, "UPDATE audit_log SET id = id", 0, NULL, NULL), DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(app), "permission denied"));
	ck_assert_int_eq(db_exec(app, "DELETE FROM audit_log", 0, NULL, NULL), DB_ERR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(app), "permission denied"));
	ck_assert_int_eq(db_exec(app, "TRUNCATE audit_log", 0, NULL, NULL), DB_ERR);
	/* Inside a tenant's scope as well, on that tenant's own entry. */
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_exec(app, "DELETE FROM audit_log WHERE id = $1", 1,
	                         (const char *const[]){ USR_A }, NULL),
	                 DB_ERR);
	ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	ck_assert_int_eq(count_of(T_db, "audit_log"), 3);
	db_close(app);
}
END_TEST

/* ---- the settings read once per statement (sql/pg/0023_rls_once.sql) ----------------- */

/* A setting read through a scalar subquery, as pg_policies shows it: an InitPlan. */
#define RLS_ONCE "\\( SELECT kaiden_rls_(tenant|staff)\\(\\) AS kaiden_rls_\\1\\)"

/* The policies of db's schema with a USING or WITH CHECK that reads a setting other than
 * through RLS_ONCE (per row), or reads none: "table.policy ...", NULL when there is none. */
static char *per_row_policies(struct db *db)
{
	return T_value(db,
	               "SELECT string_agg(tablename || '.' || policyname, ' ' "
	               "ORDER BY tablename, policyname) "
	               "FROM pg_policies, LATERAL (VALUES (qual), (with_check)) AS e (expr) "
	               "WHERE schemaname = current_schema() AND expr IS NOT NULL "
	               "AND (expr !~ '" RLS_ONCE "' OR regexp_replace(expr, '" RLS_ONCE
	               "', '', 'g') ~* '(kaiden_rls_|current_setting)')",
	               0, NULL);
}

/* Every policy reads its settings once per statement; a policy written the old way (or
 * reading none) is found; the device list's plan, as the application's role, has the two
 * settings in InitPlans and reads none in its per-row filter. */
START_TEST(test_rls_once_per_statement)
{
	static const char list[] = "EXPLAIN SELECT " STORE_DEVICE_COLUMNS " FROM devices "
	                           "WHERE tenant_id = $1 AND deleted_at IS NULL "
	                           "ORDER BY id DESC LIMIT $2";
	struct db *app;
	struct db_res *res = NULL;
	char *bad = per_row_policies(T_db);
	int initplans = 0;

	ck_assert_msg(bad == NULL, "policies reading a setting per row: %s", bad);
	ck_assert_int_ge(T_count(T_db,
	                         "SELECT count(*) FROM pg_policies "
	                         "WHERE schemaname = current_schema()",
	                         0, NULL),
	                 20);
	T_run(T_db, "CREATE TABLE rls_probe (tenant_id uuid)", 0, NULL);
	T_run(T_db,
	      "CREATE POLICY per_row ON rls_probe "
	      "USING (tenant_id = kaiden_rls_tenant() OR (SELECT kaiden_rls_staff()))",
	      0, NULL);
	T_run(T_db,
	      "CREATE POLICY by_hand ON rls_probe FOR INSERT WITH CHECK "
	      "((SELECT kaiden_rls_staff()) AND current_setting('kaiden.staff', true) = 'on')",
	      0, NULL);
	T_run(T_db, "CREATE POLICY open ON rls_probe FOR DELETE USING (true)", 0, NULL);
	T_run(T_db,
	      "CREATE POLICY fine ON rls_probe FOR UPDATE USING ((SELECT kaiden_rls_staff())) "
	      "WITH CHECK (tenant_id = (SELECT kaiden_rls_tenant()))",
	      0, NULL);
	bad = per_row_policies(T_db);
	ck_assert_str_eq(bad, "rls_probe.by_hand rls_probe.open rls_probe.per_row");
	free(bad);

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	ck_assert_int_eq(db_exec(app, list, 2, (const char *const[]){ TENANT_A, "51" }, &res),
	                 DB_OK);
	for (int i = 0; i < db_res_rows(res); i++) {
		const char *line = db_res_get(res, i, 0);
		initplans += strstr(line, "InitPlan") != NULL;
		ck_assert_msg(!strstr(line, "current_setting") && !strstr(line, "kaiden_rls"),
		              "a setting read per row: %s", line);
	}
	ck_assert_int_eq(initplans, 2);
	db_res_free(res);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	db_close(app);
}
END_TEST

/* Once per statement, not per transaction or per kept plan: each statement, and each
 * execution of a prepared one, sees the settings as they are when it runs. A tenant that
 * is not a UUID fails with the cast's error as soon as a row is to be checked or written,
 * staff or not; a statement that meets no row shows none. */
START_TEST(test_rls_settings_each_statement)
{
	static const char set_tenant[] = "SELECT set_config('kaiden.tenant_id', $1, true)";
	static const char bad_uuid[] = "22P02"; /* invalid input syntax for type uuid */
	struct db *app;
	char *v;

	two_tenants();
	app = T_open_app();
	ck_assert_int_eq(db_scope_begin(app, TENANT_A, 0), DB_OK);
	T_run(app, "PREPARE dev_ids AS SELECT string_agg(id::text, ' ' ORDER BY id) FROM devices",
	      0, NULL);
	for (int i = 0; i < 8; i++) {
		T_run(app, set_tenant, 1, (const char *const[]){ i % 2 ? TENANT_B : TENANT_A });
		v = T_value(app, "EXECUTE dev_ids", 0, NULL);
		ck_assert_str_eq(v, i % 2 ? DEV_B : DEV_A);
		free(v);
	}
	T_run(app, set_tenant, 1, (const char *const[]){ "" });
	ck_assert_ptr_null(T_value(app, "EXECUTE dev_ids", 0, NULL));
	T_run(app, "SELECT set_config('kaiden.staff', 'on', true)", 0, NULL);
	v = T_value(app, "EXECUTE dev_ids", 0, NULL);
	ck_assert_str_eq(v, DEV_A " " DEV_B);
	free(v);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);

	for (int staff = 0; staff <= 1; staff++) {
		ck_assert_int_eq(db_scope_begin(app, NULL, staff), DB_OK);
		T_run(app, set_tenant, 1, (const char *const[]){ "not-a-uuid" });
		ck_assert_int_eq(db_exec(app, "SELECT count(*) FROM devices", 0, NULL, NULL), DB_ERR);
		ck_assert_ptr_nonnull(strstr(db_errmsg(app), bad_uuid));
		ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
		ck_assert_int_eq(db_scope_begin(app, NULL, staff), DB_OK);
		T_run(app, set_tenant, 1, (const char *const[]){ "not-a-uuid" });
		ck_assert_int_eq(db_exec(app, "INSERT INTO audit_log (id, tenant_id, action) "
		                              "VALUES ($1, $2, 'x.y')",
		                         2, (const char *const[]){ TENANT_C, TENANT_A }, NULL),
		                 DB_ERR);
		ck_assert_ptr_nonnull(strstr(db_errmsg(app), bad_uuid));
		ck_assert_int_eq(db_scope_end(app, 0), DB_OK);
	}
	ck_assert_int_eq(db_scope_begin(app, NULL, 0), DB_OK);
	T_run(app, set_tenant, 1, (const char *const[]){ "not-a-uuid" });
	ck_assert_int_eq(count_of(app, "ticket_counters"), 0);
	ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	ck_assert_int_eq(count_of(T_db, "audit_log"), 3);
	db_close(app);
}
END_TEST

/* The start-up check: quiet for the application's role, a warning for the owner. */
START_TEST(test_rls_check)
{
	struct db *app = T_open_app();

	ck_assert_int_eq(db_rls_check(app), 0);
	ck_assert_int_eq(db_rls_check(T_db), 1); /* the superuser */
	db_close(app);
}
END_TEST

START_TEST(test_rls_check_sqlite)
{
	ck_assert_int_eq(db_rls_check(T_db), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rls");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	T_ADD(sq, pg, test_scope_flag);
	T_ADD(sq, pg, test_scope_nested);
	T_ADD(sq, pg, test_session_set_names);
	tcase_add_test(sq, test_rls_check_sqlite);
	/* PostgreSQL only: transactions for scopes, a server session to lose, roles. */
	tcase_add_test(pg, test_scope_settings);
	tcase_add_test(pg, test_scope_nested_depth);
	tcase_add_test(pg, test_scope_failure_in_savepoint);
	tcase_add_test(pg, test_scope_failure);
	tcase_add_test(pg, test_scope_reconnect_outside);
	tcase_add_test(pg, test_scope_lost_inside);
	tcase_add_test(pg, test_scope_read);
	tcase_add_test(pg, test_scope_one_trip);
	tcase_add_test(pg, test_notices);
	tcase_add_test(pg, test_rls_enabled);
	tcase_add_test(pg, test_rls_wrong_tenant);
	tcase_add_test(pg, test_rls_no_tenant);
	tcase_add_test(pg, test_rls_staff);
	tcase_add_test(pg, test_rls_staff_user_door);
	tcase_add_test(pg, test_rls_audit_append_only);
	tcase_add_test(pg, test_rls_once_per_statement);
	tcase_add_test(pg, test_rls_settings_each_statement);
	tcase_add_test(pg, test_rls_check);
	return T_main(s, sq, pg);
}
