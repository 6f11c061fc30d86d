/* check_store_tenant.c: store_tenant.h (tenants, quotas, usage, delete, export and
 * import) and the agent standing that follows a tenant's status (store_agent.h), the
 * same cases on SQLite and on PostgreSQL. The round trip exports a tenant, imports it
 * into a fresh database and compares every row of every table. */
#include "ids.h"
#include "store.h"
#include "store_agent.h"
#include "store_tenant.h"
#include "testdb.h"

#define DOMAIN "support.example.com"

/* Every table that holds a tenant's rows, for the comparisons (missing ones skipped). */
static const char *const all_tables[] = { "tenants", "users",     "devices", "sessions",
	                                  "api_tokens", "audit_log", "jobs" };

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member %s", key);
	return v;
}

static long jint(json_object *o, const char *key)
{
	return (long)json_object_get_int64(jget(o, key));
}

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	ck_assert_ptr_nonnull(o);
	return o;
}

/* Creates a tenant; its id into id. */
static void mk_tenant(const char *code, const char *quotas, char *id)
{
	struct store_tenant_fields f = { code, "Tenant", NULL, NULL, NULL, NULL, NULL };
	json_object *q = quotas ? parse(quotas) : NULL, *t = NULL;

	f.quotas = q;
	ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(t, "id"));
	json_object_put(t);
	json_object_put(q);
}

static void mk_device(const char *tenant, const char *name, char *id)
{
	json_object *d = NULL;

	ck_assert_int_eq(store_device_create(T_db, tenant, name, "$argon2id$fake", &d), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(d, "id"));
	json_object_put(d);
}

static int mk_session(const char *tenant, const char *device, char *id)
{
	struct store_session_new s = { device, "Eve", NULL, DOMAIN, 22, 8080, NULL };
	json_object *o = NULL;
	int rc = store_session_create(T_db, tenant, &s, &o);

	if (rc == STORE_OK && id)
		snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
	return rc;
}

static void set_session(const char *id, const char *status, const char *started,
                        const char *ended)
{
	const char *p[4] = { status, started, ended, id };

	T_run(T_db,
	      "UPDATE sessions SET status = $1, started_at = coalesce($2, started_at), "
	      "ended_at = $3 WHERE id = $4",
	      4, p);
}

static long count_where(struct db *db, const char *table, const char *tenant)
{
	char sql[128];
	const char *p[1] = { tenant };

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s = $1", table,
	         strcmp(table, "tenants") == 0 ? "id" : "tenant_id");
	return T_count(db, sql, 1, p);
}

static int has_table(struct db *db, const char *name)
{
	const char *p[1] = { name };
	char *v = T_value(db,
	                  db_kind(db) == DB_POSTGRES
	                          ? "SELECT CAST(to_regclass($1) AS text)"
	                          : "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
	                  1, p);
	int yes = v != NULL;

	free(v);
	return yes;
}

/* A new, migrated database of the current kind. */
static struct db *fresh_db(void)
{
	char target[1024];
	struct db *db = NULL;
	int applied = 0;

	T_fresh_target(target, sizeof(target));
	ck_assert_int_eq(db_open(T_driver(), target, &db), DB_OK);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	return db;
}

/* ---- CRUD ------------------------------------------------------------------------------ */

START_TEST(test_create_get)
{
	struct store_tenant_fields f = { "acme", "Acme Corp", NULL, NULL, NULL, NULL, NULL };
	json_object *t = NULL, *g = NULL, *settings = parse("{\"theme\":\"dark\",\"n\":[1,2]}");
	static const char *const members[] = { "id",     "code",          "name",       "status",
	                                       "plan",   "settings",      "quotas",
	                                       "trial_ends_at", "created_at", "updated_at" };
	char id[UUID_STR_LEN], found[UUID_STR_LEN];

	ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_OK);
	ck_assert(ids_is_uuid(jstr(t, "id")));
	ck_assert_str_eq(jstr(t, "code"), "acme");
	ck_assert_str_eq(jstr(t, "status"), "active");
	ck_assert_str_eq(jstr(t, "plan"), "trial");
	ck_assert(json_object_is_type(jget(t, "settings"), json_type_object));
	ck_assert_int_eq(json_object_object_length(jget(t, "quotas")), 0);
	ck_assert_ptr_null(jstr(t, "trial_ends_at"));
	ck_assert_str_eq(jstr(t, "created_at"), jstr(t, "updated_at"));
	ck_assert_int_eq(json_object_object_length(t), (int)ARRAY_LEN(members));
	for (size_t i = 0; i < ARRAY_LEN(members); i++)
		ck_assert_msg(json_object_object_get_ex(t, members[i], NULL), "no %s", members[i]);
	snprintf(id, sizeof(id), "%s", jstr(t, "id"));
	json_object_put(t);

	ck_assert_int_eq(store_tenant_get(T_db, id, &g), STORE_OK);
	ck_assert_str_eq(jstr(g, "name"), "Acme Corp");
	json_object_put(g);

	/* Everything given. */
	f.code = "beta-2";
	f.status = "trial";
	f.plan = "pro";
	f.settings = settings;
	f.quotas = parse("{\"max_devices\":3,\"max_concurrent_sessions\":1}");
	f.trial_ends_at = "2027-01-31T12:00:00+01:00";
	ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_OK);
	ck_assert_str_eq(jstr(t, "status"), "trial");
	ck_assert_str_eq(jstr(t, "plan"), "pro");
	ck_assert_str_eq(jstr(jget(t, "settings"), "theme"), "dark");
	ck_assert_int_eq(jint(jget(t, "quotas"), "max_devices"), 3);
	ck_assert_str_eq(jstr(t, "trial_ends_at"), "2027-01-31T11:00:00.000Z");
	json_object_put(f.quotas);
	json_object_put(t);

	/* The code is taken, whatever else differs. */
	f.quotas = NULL;
	f.code = "acme";
	t = (json_object *)0x1;
	ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_CONFLICT);
	ck_assert_ptr_eq(t, (json_object *)0x1);

	/* By code, in any case. */
	ck_assert_int_eq(store_tenant_by_code(T_db, "ACME", found), STORE_OK);
	ck_assert_str_eq(found, id);
	ck_assert_int_eq(store_tenant_by_code(T_db, "default", found), STORE_OK);
	ck_assert_str_eq(found, DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_tenant_by_code(T_db, "nope", found), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_by_code(T_db, "", found), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_by_code(T_db, NULL, found), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_by_code(T_db, "a'; --", found), STORE_NOT_FOUND);

	ck_assert_int_eq(store_tenant_get(T_db, NOBODY, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_get(T_db, "nope", &g), STORE_NOT_FOUND);
	json_object_put(settings);
}
END_TEST

/* store_tenant_fields_check names the field at fault. */
START_TEST(test_fields_check)
{
	static const struct {
		const char *code, *status, *plan, *quotas, *trial, *field;
	} cases[] = {
		{ "a", NULL, NULL, NULL, NULL, "code" },
		{ "-ab", NULL, NULL, NULL, NULL, "code" },
		{ "ab-", NULL, NULL, NULL, NULL, "code" },
		{ "Acme", NULL, NULL, NULL, NULL, "code" },
		{ "ac me", NULL, NULL, NULL, NULL, "code" },
		{ "ac.me", NULL, NULL, NULL, NULL, "code" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, NULL, NULL,
		  NULL, "code" }, /* 64 */
		{ "ok", "closed", NULL, NULL, NULL, "status" },
		{ "ok", NULL, "gold", NULL, NULL, "plan" },
		{ "ok", NULL, NULL, "{\"max_users\":1}", NULL, "quotas" },
		{ "ok", NULL, NULL, "{\"max_devices\":0}", NULL, "quotas" },
		{ "ok", NULL, NULL, "{\"max_devices\":-3}", NULL, "quotas" },
		{ "ok", NULL, NULL, "{\"max_devices\":1.5}", NULL, "quotas" },
		{ "ok", NULL, NULL, "{\"max_devices\":\"3\"}", NULL, "quotas" },
		{ "ok", NULL, NULL, "{\"max_devices\":null}", NULL, "quotas" },
		{ "ok", NULL, NULL, "[1]", NULL, "quotas" },
		{ "ok", NULL, NULL, NULL, "tomorrow", "trial_ends_at" },
		{ "ok", NULL, NULL, NULL, "2027-02-30T00:00:00Z", "trial_ends_at" },
		{ "ok", NULL, NULL, NULL, "2027-01-01T00:00:00", "trial_ends_at" },
		{ "ok", NULL, NULL, NULL, "2027-01-01 00:00:00Z", "trial_ends_at" },
		{ "ok", NULL, NULL, NULL, "2027-01-01T24:00:00Z", "trial_ends_at" },
	};
	char why[256];
	const char *field;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct store_tenant_fields f = { cases[i].code, "n", cases[i].status, cases[i].plan,
			                         NULL, NULL, cases[i].trial };
		json_object *t = NULL;
		f.quotas = cases[i].quotas ? parse(cases[i].quotas) : NULL;
		field = NULL;
		why[0] = '\0';
		ck_assert_msg(store_tenant_fields_check(&f, 1, &field, why, sizeof(why)) == -1,
		              "case %zu accepted", i);
		ck_assert_str_eq(field, cases[i].field);
		ck_assert_msg(strncmp(why, field, strlen(field)) == 0, "why '%s' names %s", why, field);
		/* The store refuses them too, without a crash or a row. */
		ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_ERR);
		json_object_put(f.quotas);
	}
	{
		struct store_tenant_fields f = { NULL, "n", NULL, NULL, NULL, NULL, NULL };
		ck_assert_int_eq(store_tenant_fields_check(&f, 1, &field, why, sizeof(why)), -1);
		ck_assert_str_eq(field, "code");
		f.code = "ok";
		f.name = NULL;
		ck_assert_int_eq(store_tenant_fields_check(&f, 1, &field, why, sizeof(why)), -1);
		ck_assert_str_eq(field, "name");
		/* An update needs neither. */
		f.code = NULL;
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &field, why, sizeof(why)), 0);
		f.code = "a0-b";
		f.trial_ends_at = "";
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &field, why, sizeof(why)), 0);
		f.trial_ends_at = "2027-01-01t10:00:00.5-02:30";
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &field, why, sizeof(why)), 0);
	}
	{
		char ts[TIMESTAMP_LEN];
		ck_assert_int_eq(ids_timestamp_parse("2027-01-01t10:00:00.5-02:30", ts), 0);
		ck_assert_str_eq(ts, "2027-01-01T12:30:00.500Z");
		ck_assert_int_eq(ids_timestamp_parse("2024-02-29T23:59:59.123456Z", ts), 0);
		ck_assert_str_eq(ts, "2024-02-29T23:59:59.123Z");
		ck_assert_int_eq(ids_timestamp_parse("2023-02-29T00:00:00Z", ts), -1);
		ck_assert_int_eq(ids_timestamp_parse("2027-01-01T00:00:00.Z", ts), -1);
		ck_assert_int_eq(ids_timestamp_parse("2027-01-01T00:00:00Zjunk", ts), -1);
		ck_assert_int_eq(ids_timestamp_parse(NULL, ts), -1);
	}
	ck_assert_int_eq(count_where(T_db, "tenants", DEFAULT_TENANT_ID), 1);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tenants", 0, NULL), 1);
}
END_TEST

START_TEST(test_list)
{
	char id[UUID_STR_LEN];
	struct store_list l;
	struct store_page page = { 2, NULL };
	struct store_tenant_fields f = { NULL, NULL, "suspended", NULL, NULL, NULL, NULL };
	json_object *t = NULL;

	mk_tenant("alpha", NULL, id);
	mk_tenant("bravo", NULL, id);
	mk_tenant("charlie", NULL, id);
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	json_object_put(t);

	ck_assert_int_eq(store_tenant_list(T_db, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "code"), "charlie");
	ck_assert(l.has_more);
	page.cursor = l.next_cursor;
	{
		struct store_list l2;
		ck_assert_int_eq(store_tenant_list(T_db, NULL, NULL, &page, &l2), STORE_OK);
		/* alpha, then the default tenant (the oldest id of all) */
		ck_assert_int_eq((int)json_object_array_length(l2.items), 2);
		ck_assert_str_eq(jstr(json_object_array_get_idx(l2.items, 1), "code"), "default");
		ck_assert(!l2.has_more);
		json_object_put(l2.items);
	}
	json_object_put(l.items);

	page.cursor = NULL;
	page.limit = 50;
	ck_assert_int_eq(store_tenant_list(T_db, "suspended", NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "code"), "charlie");
	json_object_put(l.items);
	ck_assert_int_eq(store_tenant_list(T_db, NULL, "RAV", &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "code"), "bravo");
	json_object_put(l.items);
	ck_assert_int_eq(store_tenant_list(T_db, NULL, "%", &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 0);
	json_object_put(l.items);
	page.cursor = "bad";
	ck_assert_int_eq(store_tenant_list(T_db, NULL, NULL, &page, &l), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_update)
{
	char id[UUID_STR_LEN], other[UUID_STR_LEN];
	struct store_tenant_fields f;
	json_object *t = NULL, *settings = parse("{\"lang\":\"fr\"}");

	mk_tenant("acme", NULL, id);
	mk_tenant("other", NULL, other);

	memset(&f, 0, sizeof(f));
	f.name = "Acme 2";
	f.settings = settings;
	f.trial_ends_at = "2030-06-01T00:00:00Z";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	ck_assert_str_eq(jstr(t, "name"), "Acme 2");
	ck_assert_str_eq(jstr(t, "code"), "acme");
	ck_assert_str_eq(jstr(jget(t, "settings"), "lang"), "fr");
	ck_assert_str_eq(jstr(t, "trial_ends_at"), "2030-06-01T00:00:00.000Z");
	ck_assert(strcmp(jstr(t, "updated_at"), jstr(t, "created_at")) >= 0);
	json_object_put(t);

	/* "" clears the trial end; nothing else moves. */
	memset(&f, 0, sizeof(f));
	f.trial_ends_at = "";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	ck_assert_ptr_null(jstr(t, "trial_ends_at"));
	ck_assert_str_eq(jstr(t, "name"), "Acme 2");
	json_object_put(t);

	memset(&f, 0, sizeof(f));
	f.code = "other";
	t = (json_object *)0x1;
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_CONFLICT);
	ck_assert_ptr_eq(t, (json_object *)0x1);
	f.code = "acme-new";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	ck_assert_str_eq(jstr(t, "code"), "acme-new");
	json_object_put(t);
	f.code = "BAD CODE";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_ERR);

	/* The default tenant keeps its code and status, but may be renamed. */
	memset(&f, 0, sizeof(f));
	f.code = "main";
	ck_assert_int_eq(store_tenant_update(T_db, DEFAULT_TENANT_ID, &f, &t), STORE_CONFLICT);
	f.code = NULL;
	f.status = "suspended";
	ck_assert_int_eq(store_tenant_update(T_db, DEFAULT_TENANT_ID, &f, &t), STORE_CONFLICT);
	f.status = "active"; /* unchanged: fine */
	f.code = "default";
	f.name = "Us";
	ck_assert_int_eq(store_tenant_update(T_db, DEFAULT_TENANT_ID, &f, &t), STORE_OK);
	ck_assert_str_eq(jstr(t, "name"), "Us");
	json_object_put(t);

	memset(&f, 0, sizeof(f));
	f.name = "x";
	ck_assert_int_eq(store_tenant_update(T_db, NOBODY, &f, &t), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_update(T_db, "nope", &f, &t), STORE_NOT_FOUND);
	json_object_put(settings);
}
END_TEST

/* ---- quotas and usage ---------------------------------------------------------------- */

START_TEST(test_quotas)
{
	char id[UUID_STR_LEN], d1[UUID_STR_LEN], d2[UUID_STR_LEN], d3[UUID_STR_LEN];
	char s1[UUID_STR_LEN];
	json_object *d = (json_object *)0x1, *t = NULL;
	struct store_tenant_fields f;
	long limit = -1;

	mk_tenant("quota", "{\"max_devices\":2,\"max_concurrent_sessions\":1}", id);
	mk_device(id, "one", d1);
	mk_device(id, "two", d2);
	ck_assert_int_eq(store_device_create(T_db, id, "three", "$argon2id$x", &d), STORE_QUOTA);
	ck_assert_ptr_eq(d, (json_object *)0x1);
	ck_assert_int_eq(count_where(T_db, "devices", id), 2);
	ck_assert_int_eq(store_tenant_quota_check(T_db, id, QUOTA_DEVICES, &limit), STORE_CONFLICT);
	ck_assert_int_eq(limit, 2);
	/* Other tenants are not counted, and the default tenant has no quota. */
	mk_device(DEFAULT_TENANT_ID, "free", d3);
	/* A deleted device frees its place. */
	ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	mk_device(id, "three", d3);

	ck_assert_int_eq(mk_session(id, d1, s1), STORE_OK);
	ck_assert_int_eq(mk_session(id, d3, NULL), STORE_QUOTA);
	ck_assert_int_eq(count_where(T_db, "sessions", id), 1);
	ck_assert_int_eq(count_where(T_db, "jobs", id), 1);
	/* Ending still holds the tunnel: still counted. */
	set_session(s1, "ending", NULL, NULL);
	ck_assert_int_eq(mk_session(id, d3, NULL), STORE_QUOTA);
	set_session(s1, "ended", NULL, "2026-01-01T00:00:00.000Z");
	ck_assert_int_eq(mk_session(id, d3, NULL), STORE_OK);

	/* Raising the quota lets more in; removing it lifts the limit. */
	memset(&f, 0, sizeof(f));
	f.quotas = parse("{\"max_devices\":3}");
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	json_object_put(t);
	json_object_put(f.quotas);
	mk_device(id, "four", d2);
	ck_assert_int_eq(store_device_create(T_db, id, "five", "$argon2id$x", &d), STORE_QUOTA);
	ck_assert_int_eq(mk_session(id, d3, NULL), STORE_OK); /* no session quota now */
	f.quotas = parse("{}");
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	json_object_put(t);
	json_object_put(f.quotas);
	mk_device(id, "five", d2);
	ck_assert_int_eq(store_tenant_quota_check(T_db, NOBODY, QUOTA_DEVICES, &limit),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_quota_check(T_db, "x", QUOTA_DEVICES, &limit),
	                 STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_usage)
{
	char id[UUID_STR_LEN], d1[UUID_STR_LEN], d2[UUID_STR_LEN], s1[UUID_STR_LEN];
	char s2[UUID_STR_LEN], s3[UUID_STR_LEN], month[TIMESTAMP_LEN], start[TIMESTAMP_LEN];
	char end[TIMESTAMP_LEN], old[TIMESTAMP_LEN];
	json_object *u = NULL, *u0 = NULL;
	int64_t now = ids_now_ms();

	mk_tenant("usage", "{\"max_devices\":10}", id);
	ck_assert_int_eq(store_tenant_usage(T_db, id, &u0), STORE_OK);
	ck_assert_int_eq(jint(u0, "devices"), 0);
	ck_assert_int_eq(jint(u0, "session_minutes_this_month"), 0);

	mk_device(id, "one", d1);
	mk_device(id, "two", d2);
	{
		const char *p[1] = { d1 };
		T_run(T_db, "UPDATE devices SET status = 'online' WHERE id = $1", 1, p);
	}
	ck_assert_int_eq(mk_session(id, d1, s1), STORE_OK);
	ck_assert_int_eq(mk_session(id, d1, s2), STORE_OK);
	ck_assert_int_eq(mk_session(id, d2, s3), STORE_OK);
	/* s1: 30 minutes this month, ended; s2: live; s3: last year's. The month's first
	 * moment is never in the future, so s1 fits whatever the day. */
	ids_timestamp(now, month);
	snprintf(start, sizeof(start), "%.8s01T00:00:00.000Z", month);
	snprintf(end, sizeof(end), "%.8s01T00:30:00.000Z", month);
	if (strcmp(end, month) > 0) { /* the first half hour of a month: a short session */
		snprintf(start, sizeof(start), "%s", month);
		ids_timestamp(now, end);
	}
	set_session(s1, "ended", start, end);
	ids_timestamp(now - 400LL * 86400 * 1000, old);
	set_session(s3, "failed", old, old);

	ck_assert_int_eq(store_tenant_usage(T_db, id, &u), STORE_OK);
	ck_assert_int_eq(jint(u, "devices"), 2);
	ck_assert_int_eq(jint(u, "devices_online"), 1);
	ck_assert_int_eq(jint(u, "sessions_active"), 1);
	ck_assert_int_eq(jint(u, "sessions_this_month"), 2);
	ck_assert_int_ge(jint(u, "session_minutes_this_month"), strcmp(end, month) > 0 ? 0 : 30);
	ck_assert_int_le(jint(u, "session_minutes_this_month"), 31);
	ck_assert_int_eq(jint(u, "users"), 0);
	ck_assert_int_gt(jint(u, "storage_bytes"), jint(u0, "storage_bytes"));
	ck_assert_int_eq(jint(jget(u, "quotas"), "max_devices"), 10);
	/* A deleted device no longer counts. */
	json_object_put(u);
	ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	ck_assert_int_eq(store_tenant_usage(T_db, id, &u), STORE_OK);
	ck_assert_int_eq(jint(u, "devices"), 1);
	json_object_put(u);
	json_object_put(u0);
	ck_assert_int_eq(store_tenant_usage(T_db, NOBODY, &u), STORE_NOT_FOUND);
}
END_TEST

/* ---- delete ----------------------------------------------------------------------------- */

START_TEST(test_delete)
{
	char id[UUID_STR_LEN], keep[UUID_STR_LEN], d1[UUID_STR_LEN], dk[UUID_STR_LEN];
	char s1[UUID_STR_LEN], token[TOKEN_LEN];
	json_object *g = NULL;

	mk_tenant("doomed", NULL, id);
	mk_tenant("keeper", NULL, keep);
	mk_device(id, "one", d1);
	mk_device(keep, "kept", dk);
	ck_assert_int_eq(mk_session(id, d1, s1), STORE_OK);
	ck_assert_int_eq(mk_session(keep, dk, NULL), STORE_OK);
	ck_assert_int_eq(store_token_create(T_db, id, "t", token, NULL), STORE_OK);

	/* A live session blocks the delete; nothing is removed. */
	ck_assert_int_eq(store_tenant_delete(T_db, id), STORE_CONFLICT);
	ck_assert_int_eq(count_where(T_db, "devices", id), 1);
	set_session(s1, "ended", NULL, "2026-01-01T00:00:00.000Z");
	/* A soft-deleted device goes too. */
	{
		char d2[UUID_STR_LEN];
		mk_device(id, "two", d2);
		ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	}
	ck_assert_int_eq(store_tenant_delete(T_db, id), STORE_OK);
	for (size_t i = 0; i < ARRAY_LEN(all_tables); i++) {
		if (!has_table(T_db, all_tables[i]) || strcmp(all_tables[i], "audit_log") == 0)
			continue;
		ck_assert_msg(count_where(T_db, all_tables[i], id) == 0, "%s rows left",
		              all_tables[i]);
	}
	ck_assert_int_eq(store_tenant_get(T_db, id, &g), STORE_NOT_FOUND);
	/* The other tenant is untouched. */
	ck_assert_int_eq(count_where(T_db, "devices", keep), 1);
	ck_assert_int_eq(count_where(T_db, "sessions", keep), 1);
	ck_assert_int_eq(count_where(T_db, "jobs", keep), 1);

	ck_assert_int_eq(store_tenant_delete(T_db, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_delete(T_db, "nope"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_delete(T_db, DEFAULT_TENANT_ID), STORE_CONFLICT);
	ck_assert_int_eq(count_where(T_db, "tenants", DEFAULT_TENANT_ID), 1);
	/* The freed code can be taken again. */
	mk_tenant("doomed", NULL, id);
}
END_TEST

/* ---- agents follow their tenant ------------------------------------------------------- */

START_TEST(test_agent_standing)
{
	char id[UUID_STR_LEN], gone[UUID_STR_LEN], d1[UUID_STR_LEN], d2[UUID_STR_LEN];
	char d3[UUID_STR_LEN], dg[UUID_STR_LEN];
	const char *ids[5];
	unsigned char standing[5];
	struct store_agent_auth auth;
	struct store_tenant_fields f;
	json_object *t = NULL;

	mk_tenant("agents", NULL, id);
	mk_tenant("gone", NULL, gone);
	mk_device(id, "one", d1);
	mk_device(id, "two", d2);
	mk_device(DEFAULT_TENANT_ID, "three", d3);
	mk_device(gone, "g", dg);
	ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	ck_assert_int_eq(store_tenant_delete(T_db, gone), STORE_OK);
	ids[0] = d1, ids[1] = d2, ids[2] = d3, ids[3] = dg, ids[4] = NOBODY;
	ck_assert_int_eq(store_agent_standing(T_db, ids, 5, standing), STORE_OK);
	ck_assert_int_eq(standing[0], AGENT_OK);
	ck_assert_int_eq(standing[1], AGENT_DELETED);
	ck_assert_int_eq(standing[2], AGENT_OK);
	ck_assert_int_eq(standing[3], AGENT_DELETED);
	ck_assert_int_eq(standing[4], AGENT_DELETED);

	memset(&f, 0, sizeof(f));
	f.status = "suspended";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	json_object_put(t);
	ck_assert_int_eq(store_agent_standing(T_db, ids, 3, standing), STORE_OK);
	ck_assert_int_eq(standing[0], AGENT_SUSPENDED);
	ck_assert_int_eq(standing[1], AGENT_DELETED); /* deleted wins */
	ck_assert_int_eq(standing[2], AGENT_OK);
	ck_assert_int_eq(store_agent_auth_get(T_db, d1, &auth), STORE_OK);
	ck_assert(auth.gone && auth.suspended);
	ck_assert_int_eq(store_agent_auth_get(T_db, d3, &auth), STORE_OK);
	ck_assert(!auth.gone && !auth.suspended);

	f.status = "active";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &t), STORE_OK);
	json_object_put(t);
	ck_assert_int_eq(store_agent_standing(T_db, ids, 1, standing), STORE_OK);
	ck_assert_int_eq(standing[0], AGENT_OK);
	ck_assert_int_eq(store_agent_auth_get(T_db, d1, &auth), STORE_OK);
	ck_assert(!auth.gone && !auth.suspended);
	ck_assert_int_eq(store_agent_standing(T_db, ids, 0, standing), STORE_OK);
}
END_TEST

/* ---- export / import ---------------------------------------------------------------------- */

/* A tenant with something in every column kind: JSON values, NULLs, integers, time
 * stamps, soft-deleted rows, ended and failed sessions, jobs, tokens. */
static void fill_tenant(const char *id)
{
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN];
	char token[TOKEN_LEN];
	const char *p[1];

	mk_device(id, "with-json", d1);
	mk_device(id, "plain", d2);
	p[0] = d1;
	T_run(T_db,
	      "UPDATE devices SET hostname = 'h\"1', labels = '{\"zone\":\"eu\",\"n\":[1,{\"x\":null}]}', "
	      "resources = 'null', node_status = '', last_seen = '2026-03-04T05:06:07.089Z' "
	      "WHERE id = $1",
	      1, p);
	ck_assert_int_eq(mk_session(id, d1, s1), STORE_OK);
	ck_assert_int_eq(mk_session(id, d2, s2), STORE_OK);
	set_session(s1, "ended", NULL, "2026-03-04T06:00:00.000Z");
	set_session(s2, "failed", NULL, "2026-03-04T06:00:01.000Z");
	p[0] = s2;
	T_run(T_db, "UPDATE sessions SET notes = 'line1\nline2 ''quoted'' ü', error = 'boom', "
	            "ssh_port = 2222 WHERE id = $1",
	      1, p);
	ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	ck_assert_int_eq(store_token_create(T_db, id, "ci token", token, NULL), STORE_OK);
	/* Accounts (migration 0004): a user with a password hash, their session and token,
	 * and audit entries with and without details. */
	if (has_table(T_db, "users")) {
		char user[UUID_STR_LEN], tok[UUID_STR_LEN], a1[UUID_STR_LEN], a2[UUID_STR_LEN];
		const char *q[3];
		ids_uuid7(user);
		ids_uuid7(tok);
		ids_uuid7(a1);
		ids_uuid7(a2);
		q[0] = user, q[1] = id;
		T_run(T_db,
		      "INSERT INTO users (id, tenant_id, email, name, role, password_hash, created_at, "
		      "updated_at) VALUES ($1, $2, 'ann@acme.test', 'Ann', 'tenant_admin', "
		      "'$argon2id$v=19$m=65536,t=2,p=1$x$y', '2026-01-02T03:04:05.006Z', "
		      "'2026-01-02T03:04:05.006Z')",
		      2, q);
		q[0] = user, q[1] = s1;
		T_run(T_db, "UPDATE sessions SET engineer_id = $1 WHERE id = $2", 2, q);
		q[0] = tok, q[1] = id, q[2] = user;
		T_run(T_db,
		      "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_digest, kind, "
		      "created_at, expires_at) VALUES ($1, $2, $3, 'mine', 'digest-of-mine', 'user', "
		      "'2026-01-02T03:04:05.006Z', '2027-01-02T03:04:05.006Z')",
		      3, q);
		q[0] = a1, q[1] = id, q[2] = user;
		T_run(T_db,
		      "INSERT INTO audit_log (id, tenant_id, actor_id, actor_email, actor_role, action, "
		      "target_type, target_id, details, created_at) VALUES ($1, $2, $3, 'ann@acme.test', "
		      "'tenant_admin', 'device.create', 'device', $3, '{\"k\": [1, null]}', "
		      "'2026-01-02T03:04:05.006Z')",
		      3, q);
		q[0] = a2, q[1] = id;
		T_run(T_db,
		      "INSERT INTO audit_log (id, tenant_id, action, created_at) VALUES ($1, $2, "
		      "'auth.login_failed', '2026-01-02T03:04:06.006Z')",
		      2, q);
	}
}

/* Every row of every table of tenant, in db and in other, column by column. */
static void compare_tenant(struct db *a, struct db *b, const char *tenant, int with_jobs)
{
	for (size_t i = 0; i < ARRAY_LEN(all_tables); i++) {
		struct db_res *ra = NULL, *rb = NULL;
		char sql[128];
		const char *p[1] = { tenant };
		if (!has_table(a, all_tables[i]) || (!with_jobs && strcmp(all_tables[i], "jobs") == 0))
			continue;
		snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s = $1 ORDER BY id", all_tables[i],
		         strcmp(all_tables[i], "tenants") == 0 ? "id" : "tenant_id");
		ck_assert_int_eq(db_exec(a, sql, 1, p, &ra), DB_OK);
		ck_assert_int_eq(db_exec(b, sql, 1, p, &rb), DB_OK);
		ck_assert_msg(db_res_rows(ra) == db_res_rows(rb), "%s: %d rows, %d after import",
		              all_tables[i], db_res_rows(ra), db_res_rows(rb));
		ck_assert_int_eq(db_res_cols(ra), db_res_cols(rb));
		for (int r = 0; r < db_res_rows(ra); r++)
			for (int c = 0; c < db_res_cols(ra); c++) {
				const char *va = db_res_get(ra, r, c), *vb = db_res_get(rb, r, c);
				ck_assert_str_eq(db_res_name(ra, c), db_res_name(rb, c));
				ck_assert_msg((!va && !vb) || (va && vb && strcmp(va, vb) == 0),
				              "%s row %d %s: '%s' became '%s'", all_tables[i], r,
				              db_res_name(ra, c), va ? va : "NULL", vb ? vb : "NULL");
			}
		db_res_free(ra);
		db_res_free(rb);
	}
}

static void drop_member(json_object *o, const char *key)
{
	json_object_object_del(o, key);
}

START_TEST(test_export_import_roundtrip)
{
	char id[UUID_STR_LEN], other[UUID_STR_LEN], od[UUID_STR_LEN], why[512];
	json_object *archive = NULL, *again = NULL, *tenant = NULL, *tables;
	struct db *fresh, *main_db = T_db;
	struct store_tenant_fields f;

	mk_tenant("export-me", "{\"max_devices\":5}", id);
	memset(&f, 0, sizeof(f));
	f.settings = parse("{\"a\":{\"b\":[true,false,null,1.5,\"x\"]}}");
	f.trial_ends_at = "2027-01-01T00:00:00Z";
	f.status = "trial";
	ck_assert_int_eq(store_tenant_update(T_db, id, &f, &tenant), STORE_OK);
	json_object_put(tenant);
	json_object_put(f.settings);
	fill_tenant(id);
	mk_tenant("bystander", NULL, other);
	mk_device(other, "not-exported", od);

	ck_assert_int_eq(store_tenant_export(T_db, id, &archive), STORE_OK);
	ck_assert_str_eq(jstr(archive, "format"), "kaiden-tenant-export");
	ck_assert_int_eq(jint(archive, "version"), 1);
	ck_assert_int_eq(jint(archive, "schema"), migrations_latest(T_db));
	ck_assert_str_eq(jstr(jget(archive, "tenant"), "id"), id);
	tables = jget(archive, "tables");
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "devices")), 2);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "sessions")), 2);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "api_tokens")),
	                 has_table(T_db, "users") ? 2 : 1);
	if (has_table(T_db, "users")) {
		ck_assert_int_eq((int)json_object_array_length(jget(tables, "users")), 1);
		ck_assert_int_eq((int)json_object_array_length(jget(tables, "audit_log")), 2);
	}
	ck_assert(!json_object_object_get_ex(tables, "jobs", NULL));
	ck_assert(strstr(json_object_to_json_string(archive), od) == NULL);
	/* The device secret's hash travels, so the agent keeps working. */
	ck_assert_str_eq(jstr(json_object_array_get_idx(jget(tables, "devices"), 0), "secret_hash"),
	                 "$argon2id$fake");

	/* Into a fresh database: every row equal, jobs excepted (not exported). */
	fresh = fresh_db();
	ck_assert_int_eq(store_tenant_import(fresh, archive, &tenant, why, sizeof(why)), STORE_OK);
	ck_assert_str_eq(jstr(tenant, "id"), id);
	ck_assert_str_eq(jstr(tenant, "code"), "export-me");
	json_object_put(tenant);
	compare_tenant(main_db, fresh, id, 0);
	ck_assert_int_eq(count_where(fresh, "jobs", id), 0);
	ck_assert_int_eq(count_where(fresh, "devices", other), 0);
	/* ... and its export is the same archive. */
	ck_assert_int_eq(store_tenant_export(fresh, id, &again), STORE_OK);
	drop_member(again, "exported_at");
	{
		json_object *copy = NULL;
		ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);
		drop_member(copy, "exported_at");
		ck_assert_msg(json_object_equal(copy, again), "re-export differs:\n%s\n%s",
		              json_object_to_json_string(copy), json_object_to_json_string(again));
		json_object_put(copy);
	}
	json_object_put(again);

	/* Again, into the same fresh database or the original: everything exists. */
	tenant = (json_object *)0x1;
	ck_assert_int_eq(store_tenant_import(fresh, archive, &tenant, why, sizeof(why)),
	                 STORE_CONFLICT);
	ck_assert_ptr_eq(tenant, (json_object *)0x1);
	ck_assert(why[0]);
	ck_assert_int_eq(store_tenant_import(main_db, archive, &tenant, why, sizeof(why)),
	                 STORE_CONFLICT);
	/* A new tenant id and code but the same rows: the rows exist. */
	{
		json_object *copy = NULL, *t;
		ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);
		t = jget(copy, "tenant");
		json_object_object_add(t, "id", json_object_new_string(NOBODY));
		json_object_object_add(t, "code", json_object_new_string("elsewhere"));
		/* every row names the archive's tenant: changing it alone is a mismatch */
		ck_assert_int_eq(store_tenant_import(main_db, copy, &tenant, why, sizeof(why)),
		                 STORE_ERR);
		ck_assert_msg(strstr(why, "tenant_id") != NULL, "why: %s", why);
		json_object_put(copy);
	}
	ck_assert_int_eq(T_count(fresh, "SELECT count(*) FROM tenants", 0, NULL), 2);

	/* Delete it here, import it back: the same rows again. */
	ck_assert_int_eq(store_tenant_delete(fresh, id), STORE_OK);
	ck_assert_int_eq(store_tenant_import(fresh, archive, &tenant, why, sizeof(why)), STORE_OK);
	json_object_put(tenant);
	compare_tenant(main_db, fresh, id, 0);
	db_close(fresh);

	ck_assert_int_eq(store_tenant_export(T_db, NOBODY, &again), STORE_NOT_FOUND);
	ck_assert_int_eq(store_tenant_export(T_db, "x", &again), STORE_NOT_FOUND);
	json_object_put(archive);
}
END_TEST

/* Each mutation of a good archive is refused with STORE_ERR and a reason naming
 * where, and leaves nothing behind. */
START_TEST(test_import_malformed)
{
	static const struct {
		const char *path;  /* where to change: "" the root, "tenant", "tables", "row" (the
		                      first device), "session" (the first session) */
		const char *key;   /* member to set (NULL: replace the whole value at path) */
		const char *value; /* JSON text, or NULL to delete the member */
		const char *why;   /* a substring of the reason */
	} cases[] = {
		{ "", "format", "\"zip\"", "format" },
		{ "", "format", NULL, "format" },
		{ "", "version", "2", "version" },
		{ "", "version", "\"1\"", "version" },
		{ "", "schema", NULL, "schema" },
		{ "", "schema", "99999", "newer" },
		{ "", "tenant", NULL, "tenant" },
		{ "", "tenant", "[]", "tenant" },
		{ "", "tables", NULL, "tables" },
		{ "", "tables", "[]", "tables" },
		{ "tenant", "id", "\"not-an-id\"", "tenant.id" },
		{ "tenant", "id", NULL, "tenant.id" },
		{ "tenant", "code", "\"Bad Code\"", "tenant.code" },
		{ "tenant", "colour", "\"red\"", "unknown column colour" },
		{ "tenant", "name", "42", "tenant.name" },
		{ "tenant", "status", "\"closed\"", "tenant" },
		{ "tables", "jobs", "[]", "jobs" },
		{ "tables", "devices", "{}", "tables.devices" },
		{ "tables", "devices", "[1]", "tables.devices[0]" },
		{ "row", "id", NULL, "tables.devices[0].id" },
		{ "row", "id", "\"0190A2C4-0000-7000-8000-000000000000\"", "tables.devices[0].id" },
		{ "row", "tenant_id", "\"" NOBODY "\"", "tables.devices[0].tenant_id" },
		{ "row", "tenant_id", NULL, "tables.devices[0].tenant_id" },
		{ "row", "name", "{\"a\":1}", "tables.devices[0].name" },
		{ "row", "name", "true", "tables.devices[0].name" },
		{ "row", "flavour", "\"x\"", "unknown column flavour" },
		{ "row", "name", NULL, "tables.devices[0]" },      /* NOT NULL */
		{ "row", "labels", "\"{not json\"", "tables.devices[0]" },
		{ "session", "ssh_port", "\"many\"", "tables.sessions[0]" },
		{ "session", "device_id", "\"" NOBODY "\"", "tables.sessions[0]" }, /* foreign key */
		{ "session", "status", "\"lost\"", "tables.sessions[0]" },
	};
	char id[UUID_STR_LEN], why[512];
	json_object *archive = NULL, *tenant = NULL;
	struct db *fresh;

	mk_tenant("broken", NULL, id);
	fill_tenant(id);
	ck_assert_int_eq(store_tenant_export(T_db, id, &archive), STORE_OK);
	fresh = fresh_db();
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		json_object *copy = NULL, *at;
		ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);
		at = copy;
		if (strcmp(cases[i].path, "tenant") == 0)
			at = jget(copy, "tenant");
		else if (strcmp(cases[i].path, "tables") == 0)
			at = jget(copy, "tables");
		else if (strcmp(cases[i].path, "row") == 0)
			at = json_object_array_get_idx(jget(jget(copy, "tables"), "devices"), 0);
		else if (strcmp(cases[i].path, "session") == 0)
			at = json_object_array_get_idx(jget(jget(copy, "tables"), "sessions"), 0);
		if (cases[i].value)
			json_object_object_add(at, cases[i].key, parse(cases[i].value));
		else
			json_object_object_del(at, cases[i].key);
		why[0] = '\0';
		tenant = (json_object *)0x1;
		ck_assert_msg(store_tenant_import(fresh, copy, &tenant, why, sizeof(why)) == STORE_ERR,
		              "case %zu (%s.%s) not refused", i, cases[i].path, cases[i].key);
		ck_assert_ptr_eq(tenant, (json_object *)0x1);
		ck_assert_msg(strstr(why, cases[i].why) != NULL, "case %zu: why '%s' lacks '%s'", i,
		              why, cases[i].why);
		ck_assert_int_eq(count_where(fresh, "tenants", id), 0);
		ck_assert_int_eq(T_count(fresh, "SELECT count(*) FROM devices", 0, NULL), 0);
		json_object_put(copy);
	}
	/* Not even an object, or nothing; a NULL why is allowed. */
	{
		json_object *arr = json_object_new_array(), *str = json_object_new_string("x");
		ck_assert_int_eq(store_tenant_import(fresh, arr, &tenant, why, sizeof(why)), STORE_ERR);
		ck_assert(why[0]);
		ck_assert_int_eq(store_tenant_import(fresh, str, &tenant, NULL, 0), STORE_ERR);
		ck_assert_int_eq(store_tenant_import(fresh, NULL, &tenant, why, sizeof(why)), STORE_ERR);
		json_object_put(arr);
		json_object_put(str);
	}
	/* The good one still goes in after all that. */
	ck_assert_int_eq(store_tenant_import(fresh, archive, &tenant, why, sizeof(why)), STORE_OK);
	json_object_put(tenant);
	compare_tenant(T_db, fresh, id, 0);
	db_close(fresh);
	json_object_put(archive);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_tenant");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	(void)T_open_again;
	T_ADD(sq, pg, test_create_get);
	T_ADD(sq, pg, test_fields_check);
	T_ADD(sq, pg, test_list);
	T_ADD(sq, pg, test_update);
	T_ADD(sq, pg, test_quotas);
	T_ADD(sq, pg, test_usage);
	T_ADD(sq, pg, test_delete);
	T_ADD(sq, pg, test_agent_standing);
	T_ADD(sq, pg, test_export_import_roundtrip);
	T_ADD(sq, pg, test_import_malformed);
	return T_main(s, sq, pg);
}
