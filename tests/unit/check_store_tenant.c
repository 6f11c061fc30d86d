/* check_store_tenant.c: store_tenant.h (tenants, quotas, usage, delete), the agent
 * standing that follows a tenant's status (store_agent.h), and a tenant's archive
 * (store_archive.h: export and import), the same cases on SQLite and on PostgreSQL. The
 * round trip exports a tenant, imports it into a fresh database and compares every row
 * with the archive; doctored archives are refused. */
#include "ids.h"
#include "store.h"
#include "jsonx.h"
#include "store_agent.h"
#include "store_archive.h"
#include "store_cluster.h"
#include "store_service.h"
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
	struct store_session_new s = { device, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
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
		T_hold_device(d1);
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
	/* Relay bytes: this month's sessions' (64 bits), not last year's. */
	{
		const char *p[3] = { s1, s2, s3 };
		T_run(T_db, "UPDATE sessions SET bytes_in = 5000000000, bytes_out = 3 WHERE id = $1",
		      1, &p[0]);
		T_run(T_db, "UPDATE sessions SET bytes_in = 1, bytes_out = 2 WHERE id = $1", 1, &p[1]);
		T_run(T_db, "UPDATE sessions SET bytes_in = 100, bytes_out = 100 WHERE id = $1", 1,
		      &p[2]);
	}
	ck_assert(json_object_get_int64(jget(u0, "relay_bytes_in_this_month")) == 0);
	ck_assert(json_object_get_int64(jget(u0, "relay_bytes_out_this_month")) == 0);

	ck_assert_int_eq(store_tenant_usage(T_db, id, &u), STORE_OK);
	ck_assert(json_object_get_int64(jget(u, "relay_bytes_in_this_month")) == 5000000001LL);
	ck_assert_int_eq(jint(u, "relay_bytes_out_this_month"), 5);
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

#define STAFF "0190a2c4-5555-7000-8000-000000000005" /* an engineer (staff: no tenant) */

/* A staff member, who serves every tenant and so is in no tenant's archive. */
static void mk_staff(struct db *db)
{
	const char *p[1] = { STAFF };

	T_run(db,
	      "INSERT INTO users (id, tenant_id, email, name, role, password_hash) VALUES ($1, "
	      "NULL, 'eng@support.test', 'Eng', 'engineer', '$argon2id$staff')",
	      1, p);
}

/* A tenant with something in every column kind: JSON values, NULLs, integers, time
 * stamps, soft-deleted rows, ended and failed sessions, tokens; a user with a password
 * hash who ran a session and has a token; a session run and an audit entry made by
 * staff (STAFF must exist). */
static void fill_tenant(const char *id)
{
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN];
	char token[TOKEN_LEN], user[UUID_STR_LEN], tok[UUID_STR_LEN], a1[UUID_STR_LEN];
	char a2[UUID_STR_LEN];
	const char *p[3];

	mk_device(id, "with-json", d1);
	mk_device(id, "plain", d2);
	p[0] = d1;
	T_run(T_db,
	      "UPDATE devices SET hostname = 'h\"1', labels = '{\"zone\":\"eu\",\"n\":[1,{\"x\":null}]}', "
	      "resources = 'null', node_status = '', last_seen = '2026-03-04T05:06:07.089Z' "
	      "WHERE id = $1",
	      1, p);
	/* d1 is a node of the tenant's cluster (issue 12: carried, with its secret hash). */
	{
		json_object *o = NULL;
		ck_assert_int_eq(store_cluster_create(T_db, id, "prod", "$argon2id$cluster", &o),
		                 STORE_OK);
		p[0] = d1, p[1] = jstr(o, "id");
		T_run(T_db,
		      "UPDATE devices SET cluster_id = $2, node_name = 'node-1', unschedulable = "
		      "(1 = 0), versions = '{\"kubelet\":\"v1.31.2\"}', node_reason = 'timeout', "
		      "node_updated_at = '2026-03-04T05:06:08.000Z' WHERE id = $1",
		      2, p);
		json_object_put(o);
	}
	ck_assert_int_eq(mk_session(id, d1, s1), STORE_OK);
	ck_assert_int_eq(mk_session(id, d2, s2), STORE_OK);
	set_session(s1, "ended", NULL, "2026-03-04T06:00:00.000Z");
	/* A relay session with bytes past 32 bits (issue 9: provider, bytes_in, bytes_out). */
	p[0] = s1;
	T_run(T_db, "UPDATE sessions SET provider = 'relay', public_url = NULL, ssh_hostname = NULL, "
	            "bytes_in = 6000000000, bytes_out = 42 WHERE id = $1",
	      1, p);
	set_session(s2, "failed", NULL, "2026-03-04T06:00:01.000Z");
	p[0] = s2, p[1] = STAFF;
	T_run(T_db, "UPDATE sessions SET notes = 'line1\nline2 ''quoted'' ü', error = 'boom', "
	            "ssh_port = 2222, engineer_id = $2 WHERE id = $1",
	      2, p);
	ck_assert_int_eq(store_device_delete(T_db, id, d2), STORE_OK);
	ck_assert_int_eq(store_token_create(T_db, id, "ci token", token, NULL), STORE_OK);
	ids_uuid7(user);
	ids_uuid7(tok);
	ids_uuid7(a1);
	ids_uuid7(a2);
	p[0] = user, p[1] = id;
	T_run(T_db,
	      "INSERT INTO users (id, tenant_id, email, name, role, password_hash, created_at, "
	      "updated_at) VALUES ($1, $2, 'ann@acme.test', 'Ann', 'tenant_admin', "
	      "'$argon2id$v=19$m=65536,t=2,p=1$x$y', '2026-01-02T03:04:05.006Z', "
	      "'2026-01-02T03:04:05.006Z')",
	      2, p);
	p[0] = user, p[1] = s1;
	T_run(T_db, "UPDATE sessions SET engineer_id = $1 WHERE id = $2", 2, p);
	/* A ticket on d1 opened by the user and taken by staff, with the user's comment and
	 * staff's internal note (issue 11); its day's counter comes with it. */
	{
		struct store_ticket_new tn = { .title = "Broken", .description = "line1\nline2",
			                       .priority = "high", .device_id = d1,
			                       .created_by = user, .day = "20260304" };
		struct store_ticket_patch tp = { .assigned_to = STAFF, .status = "in_progress",
			                         .author_id = STAFF, .author_name = "Eng" };
		struct store_ticket_comment_new mine = { .author_id = user, .author_name = "Ann",
			                                 .body = "please" };
		struct store_ticket_comment_new note = { .internal = 1, .author_id = STAFF,
			                                 .author_name = "Eng", .body = "staff only" };
		json_object *o = NULL, *c = NULL;
		char ticket[UUID_STR_LEN];
		ck_assert_int_eq(store_ticket_create(T_db, id, &tn, &o), STORE_OK);
		snprintf(ticket, sizeof(ticket), "%s", jstr(o, "id"));
		json_object_put(o);
		ck_assert_int_eq(store_ticket_update(T_db, id, ticket, &tp, &o), STORE_OK);
		json_object_put(o);
		ck_assert_int_eq(store_ticket_comment_add(T_db, id, ticket, &mine, &c), STORE_OK);
		json_object_put(c);
		ck_assert_int_eq(store_ticket_comment_add(T_db, id, ticket, &note, &c), STORE_OK);
		json_object_put(c);
		/* s1 was started from it (sessions.ticket_id, checked on import). */
		p[0] = ticket, p[1] = s1;
		T_run(T_db, "UPDATE sessions SET ticket_id = $1 WHERE id = $2", 2, p);
		/* It names d1's cluster (tickets.cluster_id, checked on import). */
		p[0] = ticket, p[1] = d1;
		T_run(T_db,
		      "UPDATE tickets SET cluster_id = (SELECT cluster_id FROM devices WHERE id = "
		      "$2) WHERE id = $1",
		      2, p);
	}
	p[0] = tok, p[1] = id, p[2] = user;
	T_run(T_db,
	      "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_digest, kind, "
	      "created_at, expires_at) VALUES ($1, $2, $3, 'mine', 'digest-of-mine', 'user', "
	      "'2026-01-02T03:04:05.006Z', '2027-01-02T03:04:05.006Z')",
	      3, p);
	p[0] = a1, p[1] = id, p[2] = user;
	T_run(T_db,
	      "INSERT INTO audit_log (id, tenant_id, actor_id, actor_email, actor_role, action, "
	      "target_type, target_id, details, created_at) VALUES ($1, $2, $3, 'ann@acme.test', "
	      "'tenant_admin', 'device.create', 'device', $3, '{\"k\": [1, null]}', "
	      "'2026-01-02T03:04:05.006Z')",
	      3, p);
	p[0] = a2, p[1] = id, p[2] = STAFF;
	T_run(T_db,
	      "INSERT INTO audit_log (id, tenant_id, actor_id, actor_email, actor_role, "
	      "credential_id, action, target_type, target_id, created_at) VALUES ($1, $2, $3, "
	      "'eng@support.test', 'engineer', '" NOBODY "', 'tenant.access', 'tenant', $2, "
	      "'2026-01-02T03:04:06.006Z')",
	      3, p);
}

/* Every row of the archive is in db, column by column as the archive has it; the
 * tables the archive leaves out (tokens, jobs) hold nothing of the tenant. */
static void compare_archive(json_object *archive, struct db *db)
{
	json_object *tables = jget(archive, "tables");
	const char *tenant = jstr(jget(archive, "tenant"), "id");
	const char *const names[] = { "tenants", "users", "devices", "sessions", "audit_log",
		                      "tickets", "ticket_comments", "ticket_counters" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct db_res *res = NULL;
		json_object *rows;
		char sql[128];
		const char *p[1] = { tenant };
		int tenants = strcmp(names[i], "tenants") == 0;
		if (tenants) {
			rows = json_object_new_array();
			json_object_array_add(rows, json_object_get(jget(archive, "tenant")));
		} else {
			rows = json_object_get(jget(tables, names[i]));
		}
		snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s = $1 ORDER BY id", names[i],
		         tenants ? "id" : "tenant_id");
		ck_assert_int_eq(db_exec(db, sql, 1, p, &res), DB_OK);
		ck_assert_msg(db_res_rows(res) == (int)json_object_array_length(rows),
		              "%s: %d rows in the archive, %d after import", names[i],
		              (int)json_object_array_length(rows), db_res_rows(res));
		for (int r = 0; r < db_res_rows(res); r++) {
			json_object *row = json_object_array_get_idx(rows, (size_t)r);
			ck_assert_int_eq(db_res_cols(res), json_object_object_length(row));
			for (int c = 0; c < db_res_cols(res); c++) {
				const char *v = db_res_get(res, r, c), *want = NULL;
				json_object *j = jget(row, db_res_name(res, c));
				want = j ? json_object_get_string(j) : NULL;
				ck_assert_msg((!v && !want) || (v && want && strcmp(v, want) == 0),
				              "%s row %d %s: '%s' became '%s'", names[i], r,
				              db_res_name(res, c), want ? want : "NULL", v ? v : "NULL");
			}
		}
		db_res_free(res);
		json_object_put(rows);
	}
	ck_assert_int_eq(count_where(db, "api_tokens", tenant), 0);
	ck_assert_int_eq(count_where(db, "jobs", tenant), 0);
}

/* The row of table in archive whose column is value (borrowed). */
static json_object *row_where(json_object *archive, const char *table, const char *column,
                              const char *value)
{
	json_object *rows = jget(jget(archive, "tables"), table);

	for (size_t r = 0; r < json_object_array_length(rows); r++) {
		json_object *row = json_object_array_get_idx(rows, r), *v = NULL;
		if (json_object_object_get_ex(row, column, &v) && v &&
		    strcmp(json_object_get_string(v), value) == 0)
			return row;
	}
	ck_abort_msg("%s: no row with %s %s", table, column, value);
	return NULL;
}

static int is_null(json_object *row, const char *column)
{
	return jhas(row, column) && jget(row, column) == NULL;
}

static void drop_member(json_object *o, const char *key)
{
	json_object_object_del(o, key);
}

START_TEST(test_export_import_roundtrip)
{
	char id[UUID_STR_LEN], other[UUID_STR_LEN], od[UUID_STR_LEN];
	struct store_archive_why why;
	json_object *archive = NULL, *again = NULL, *tenant = NULL, *tables, *row;
	struct db *fresh, *main_db = T_db;
	struct store_tenant_fields f;

	mk_staff(T_db);
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

	ck_assert_int_eq(store_archive_export(T_db, id, 1, &archive), STORE_OK);
	ck_assert_str_eq(jstr(archive, "format"), "kaiden-tenant-export");
	ck_assert_int_eq(jint(archive, "version"), 1);
	ck_assert_int_eq(jint(archive, "schema"), migrations_latest(T_db));
	ck_assert_str_eq(jstr(jget(archive, "tenant"), "id"), id);
	tables = jget(archive, "tables");
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "devices")), 2);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "sessions")), 2);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "users")), 1);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "audit_log")), 2);
	ck_assert(!json_object_object_get_ex(tables, "jobs", NULL));
	ck_assert(strstr(json_object_to_json_string(archive), od) == NULL);
	/* The device secret's hash travels, so the agent keeps working; people's credentials
	 * do not: no password hash, no API tokens (issue 8). */
	ck_assert_str_eq(jstr(json_object_array_get_idx(jget(tables, "devices"), 0), "secret_hash"),
	                 "$argon2id$fake");
	ck_assert(!json_object_object_get_ex(tables, "api_tokens", NULL));
	row = json_object_array_get_idx(jget(tables, "users"), 0);
	ck_assert(is_null(row, "password_hash"));
	ck_assert(strstr(json_object_to_json_string(archive), "argon2id$v=19") == NULL);
	ck_assert(strstr(json_object_to_json_string(archive), "digest-of-mine") == NULL);
	/* A reference inside the tenant stays; one to staff or a login becomes null (the
	 * names beside it stay). */
	row = row_where(archive, "sessions", "ssh_port", "2222");
	ck_assert(is_null(row, "engineer_id"));
	ck_assert_str_eq(jstr(row, "engineer_name"), "Eve");
	row = row_where(archive, "sessions", "ssh_port", "22");
	ck_assert_str_eq(jstr(row, "engineer_id"),
	                 jstr(json_object_array_get_idx(jget(tables, "users"), 0), "id"));
	/* The relay's columns travel: the provider, and the byte counts as the database's
	 * text (64 bits). */
	row = row_where(archive, "sessions", "provider", "relay");
	ck_assert_str_eq(jstr(row, "bytes_in"), "6000000000");
	ck_assert_str_eq(jstr(row, "bytes_out"), "42");
	ck_assert(is_null(row, "public_url") && is_null(row, "ssh_hostname"));
	row = row_where(archive, "sessions", "provider", "cloudflare");
	ck_assert_str_eq(jstr(row, "bytes_in"), "0");
	row = row_where(archive, "audit_log", "action", "tenant.access");
	ck_assert(is_null(row, "actor_id") && is_null(row, "credential_id"));
	ck_assert_str_eq(jstr(row, "actor_email"), "eng@support.test");
	ck_assert_str_eq(jstr(row, "target_id"), id);
	row = row_where(archive, "audit_log", "action", "device.create");
	ck_assert_str_eq(jstr(row, "actor_id"), jstr(row, "target_id"));
	/* The ticket and its conversation travel, the internal note too (a staff export);
	 * staff as assignee and author become null, their names stay. */
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "tickets")), 1);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "ticket_comments")), 4);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "ticket_counters")), 1);
	row = row_where(archive, "tickets", "number", "TKT-20260304-001");
	ck_assert(is_null(row, "assigned_to"));
	ck_assert_str_eq(jstr(row, "created_by"),
	                 jstr(json_object_array_get_idx(jget(tables, "users"), 0), "id"));
	ck_assert_str_eq(jstr(row, "status"), "in_progress");
	row = row_where(archive, "ticket_comments", "body", "staff only");
	ck_assert(is_null(row, "author_id"));
	ck_assert_str_eq(jstr(row, "author_name"), "Eng");
	row = row_where(archive, "ticket_comments", "body", "please");
	ck_assert_str_eq(jstr(row, "author_id"),
	                 jstr(json_object_array_get_idx(jget(tables, "users"), 0), "id"));
	row = row_where(archive, "ticket_counters", "day", "20260304");
	ck_assert_str_eq(jstr(row, "last"), "1");
	/* A tenant user's export leaves staff's internal notes out, and only them. */
	{
		json_object *theirs = NULL;
		ck_assert_int_eq(store_archive_export(T_db, id, 0, &theirs), STORE_OK);
		ck_assert_int_eq(
		        (int)json_object_array_length(jget(jget(theirs, "tables"), "ticket_comments")),
		        3);
		ck_assert(strstr(json_object_to_json_string(theirs), "staff only") == NULL);
		ck_assert(strstr(json_object_to_json_string(theirs), "please") != NULL);
		json_object_put(theirs);
	}

	/* Into a fresh database: every row as the archive has it. */
	fresh = fresh_db();
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_OK);
	ck_assert_str_eq(jstr(tenant, "id"), id);
	ck_assert_str_eq(jstr(tenant, "code"), "export-me");
	json_object_put(tenant);
	compare_archive(archive, fresh);
	ck_assert_int_eq(count_where(fresh, "devices", other), 0);
	/* ... the relay session among them, as the store reads it back. */
	{
		const char *p[2] = { id, "relay" };
		char *v = T_value(fresh, "SELECT CAST(bytes_in AS text) FROM sessions WHERE "
		                         "tenant_id = $1 AND provider = $2", 2, p);
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(v, "6000000000");
		free(v);
	}
	/* ... and its export is the same archive. */
	ck_assert_int_eq(store_archive_export(fresh, id, 1, &again), STORE_OK);
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

	/* Again, into the same fresh database or the original: the tenant exists. */
	tenant = (json_object *)0x1;
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_CONFLICT);
	ck_assert_ptr_eq(tenant, (json_object *)0x1);
	ck_assert(why.text[0]);
	ck_assert_int_eq(store_archive_import(main_db, archive, &tenant, &why), STORE_CONFLICT);
	/* A new tenant id and code but the same rows: every row names the archive's
	 * tenant, so changing it alone is a mismatch. */
	{
		json_object *copy = NULL, *t;
		ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);
		t = jget(copy, "tenant");
		json_object_object_add(t, "id", json_object_new_string(NOBODY));
		json_object_object_add(t, "code", json_object_new_string("elsewhere"));
		ck_assert_int_eq(store_archive_import(main_db, copy, &tenant, &why), STORE_ERR);
		ck_assert_msg(strstr(why.text, "tenant_id") != NULL, "why: %s", why.text);
		json_object_put(copy);
	}
	ck_assert_int_eq(T_count(fresh, "SELECT count(*) FROM tenants", 0, NULL), 2);

	/* Delete it here, import it back: the same rows again (its audit entries, kept
	 * through the delete, are the same events and are skipped). */
	ck_assert_int_eq(store_tenant_delete(fresh, id), STORE_OK);
	ck_assert_int_eq(count_where(fresh, "audit_log", id), 2);
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_OK);
	json_object_put(tenant);
	compare_archive(archive, fresh);
	db_close(fresh);

	ck_assert_int_eq(store_archive_export(T_db, NOBODY, 1, &again), STORE_NOT_FOUND);
	ck_assert_int_eq(store_archive_export(T_db, "x", 1, &again), STORE_NOT_FOUND);
	json_object_put(archive);
}
END_TEST

/* An archive of an older Kaiden carries password hashes and API tokens: the import
 * checks them like any row, then writes neither. */
START_TEST(test_import_drops_credentials)
{
	char id[UUID_STR_LEN], user[UUID_STR_LEN], tok[UUID_STR_LEN];
	struct store_archive_why why;
	json_object *archive = NULL, *tenant = NULL, *tables, *row, *tokens;
	struct db *fresh;
	const char *p[1];

	mk_staff(T_db);
	mk_tenant("old-style", NULL, id);
	fill_tenant(id);
	ck_assert_int_eq(store_archive_export(T_db, id, 1, &archive), STORE_OK);
	tables = jget(archive, "tables");
	row = json_object_array_get_idx(jget(tables, "users"), 0);
	snprintf(user, sizeof(user), "%s", jstr(row, "id"));
	json_object_object_add(row, "password_hash",
	                       json_object_new_string("$argon2id$v=19$m=65536,t=2,p=1$x$y"));
	ids_uuid7(tok);
	tokens = json_object_new_array();
	row = json_object_new_object();
	jsonx_add_str(row, "id", tok);
	jsonx_add_str(row, "tenant_id", id);
	jsonx_add_str(row, "user_id", user);
	jsonx_add_str(row, "name", "old");
	jsonx_add_str(row, "token_digest", "digest-old");
	jsonx_add_str(row, "kind", "user");
	json_object_array_add(tokens, row);
	json_object_object_add(tables, "api_tokens", tokens);

	fresh = fresh_db();
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_OK);
	json_object_put(tenant);
	ck_assert_int_eq(count_where(fresh, "users", id), 1);
	ck_assert_int_eq(count_where(fresh, "api_tokens", id), 0);
	p[0] = user;
	ck_assert_int_eq(T_count(fresh,
	                         "SELECT count(*) FROM users WHERE id = $1 AND password_hash IS NULL",
	                         1, p),
	                 1);
	db_close(fresh);
	json_object_put(archive);
}
END_TEST

/* A doctored archive: each change makes one row name something outside the archive
 * (the platform's staff, another tenant's user, device, session or audit entry), or
 * reuse an id that exists here. Each is refused naming the table, the row's id and the
 * column, and leaves nothing behind; the archive as exported still goes in. */
START_TEST(test_import_references)
{
	enum { EDIT, ADD };
	static const struct {
		int how;              /* EDIT: set column of the first row of table; ADD: a copy
		                         of that row with id and column set */
		const char *table;
		const char *column;
		const char *value;    /* a name below, or an id */
		const char *id;       /* ADD: the new row's id ("new": a fresh one) */
		const char *want_col; /* the column named in the refusal */
	} cases[] = {
		/* the reproduction: a token for the platform admin, and for tenant B's user */
		{ ADD, "api_tokens", "user_id", "admin", "new", "user_id" },
		{ ADD, "api_tokens", "user_id", "b-user", "new", "user_id" },
		{ EDIT, "api_tokens", "user_id", "admin", NULL, "user_id" },
		{ EDIT, "sessions", "engineer_id", "admin", NULL, "engineer_id" },
		{ EDIT, "sessions", "device_id", "b-device", NULL, "device_id" },
		{ EDIT, "audit_log", "actor_id", "admin", NULL, "actor_id" },
		{ EDIT, "audit_log", "credential_id", "b-token", NULL, "credential_id" },
		{ EDIT, "audit_log", "target_id", "b-session", NULL, "target_id" },
		{ EDIT, "audit_log", "target_id", NOBODY, NULL, "target_id" },
		/* ids that exist here, in another tenant or among staff */
		{ ADD, "devices", "name", "dev", "b-device", "id" },
		{ ADD, "users", "email", "x@acme.test", "admin", "id" },
		{ ADD, "users", "email", "y@acme.test", "b-user", "id" },
		{ ADD, "sessions", "short_id", "zzzzzz", "b-session", "id" },
		{ ADD, "audit_log", "action", "x.y", "b-audit", "id" },
		/* a staff member's email (staff emails are reserved) */
		{ EDIT, "users", "email", "admin@support.test", NULL, "email" },
		{ EDIT, "users", "email", "ADMIN@support.test", NULL, "email" },
		/* an id twice in the archive */
		{ ADD, "devices", "name", "twin", "first", "id" },
		/* tickets (issue 11): another tenant's device or user, staff, a missing ticket,
		 * another tenant's ticket's id */
		{ EDIT, "tickets", "device_id", "b-device", NULL, "device_id" },
		{ EDIT, "tickets", "created_by", "b-user", NULL, "created_by" },
		{ EDIT, "tickets", "assigned_to", "admin", NULL, "assigned_to" },
		{ EDIT, "ticket_comments", "ticket_id", "b-ticket", NULL, "ticket_id" },
		{ EDIT, "ticket_comments", "ticket_id", NOBODY, NULL, "ticket_id" },
		{ EDIT, "ticket_comments", "author_id", "b-user", NULL, "author_id" },
		/* a session started from another tenant's ticket, or from none */
		{ EDIT, "sessions", "ticket_id", "b-ticket", NULL, "ticket_id" },
		{ EDIT, "sessions", "ticket_id", NOBODY, NULL, "ticket_id" },
		{ ADD, "tickets", "number", "TKT-20260304-999", "b-ticket", "id" },
		{ ADD, "ticket_comments", "body", "again", "b-comment", "id" },
		/* clusters (issue 12): a node or a ticket in another tenant's cluster, a
		 * missing one, another tenant's cluster's id */
		{ EDIT, "devices", "cluster_id", "b-cluster", NULL, "cluster_id" },
		{ EDIT, "devices", "cluster_id", NOBODY, NULL, "cluster_id" },
		{ EDIT, "tickets", "cluster_id", "b-cluster", NULL, "cluster_id" },
		{ ADD, "clusters", "name", "copy", "b-cluster", "id" },
	};
	char a[UUID_STR_LEN], b[UUID_STR_LEN], bdev[UUID_STR_LEN], bses[UUID_STR_LEN];
	char admin[UUID_STR_LEN], buser[UUID_STR_LEN], btok[UUID_STR_LEN], baudit[UUID_STR_LEN];
	char token[TOKEN_LEN], bticket[UUID_STR_LEN], bcomment[UUID_STR_LEN];
	char bcluster[UUID_STR_LEN];
	struct store_archive_why why;
	json_object *archive = NULL, *tenant = NULL;
	long before;
	const char *count_all = "SELECT (SELECT count(*) FROM tenants) + (SELECT count(*) FROM "
	                        "users) + (SELECT count(*) FROM devices) + (SELECT count(*) FROM "
	                        "sessions) + (SELECT count(*) FROM api_tokens) + (SELECT "
	                        "count(*) FROM audit_log) + (SELECT count(*) FROM tickets) + "
	                        "(SELECT count(*) FROM ticket_comments) + (SELECT count(*) FROM "
	                        "ticket_counters)";
	const char *p[3];

	mk_staff(T_db);
	ids_uuid7(admin);
	p[0] = admin;
	T_run(T_db,
	      "INSERT INTO users (id, tenant_id, email, name, role) VALUES ($1, NULL, "
	      "'admin@support.test', 'Admin', 'admin')",
	      1, p);
	mk_tenant("tenant-b", NULL, b);
	mk_device(b, "b-dev", bdev);
	ck_assert_int_eq(mk_session(b, bdev, bses), STORE_OK);
	{
		json_object *o = NULL;
		ck_assert_int_eq(store_cluster_create(T_db, b, "b-cl", "$argon2id$b", &o), STORE_OK);
		snprintf(bcluster, sizeof(bcluster), "%s", jstr(o, "id"));
		json_object_put(o);
	}
	ids_uuid7(buser);
	p[0] = buser, p[1] = b;
	T_run(T_db,
	      "INSERT INTO users (id, tenant_id, email, name, role) VALUES ($1, $2, "
	      "'bob@b.test', 'Bob', 'tenant_admin')",
	      2, p);
	ck_assert_int_eq(store_token_create(T_db, b, "b token", token, NULL), STORE_OK);
	snprintf(btok, sizeof(btok), "%.36s", token + 4); /* kdn_<id>_<secret> (secret.h) */
	ids_uuid7(baudit);
	p[0] = baudit, p[1] = b;
	T_run(T_db, "INSERT INTO audit_log (id, tenant_id, action) VALUES ($1, $2, 'b.thing')", 2,
	      p);
	{
		struct store_ticket_new tn = { .title = "B's", .device_id = bdev };
		struct store_ticket_comment_new c = { .body = "B's comment" };
		json_object *o = NULL;
		ck_assert_int_eq(store_ticket_create(T_db, b, &tn, &o), STORE_OK);
		snprintf(bticket, sizeof(bticket), "%s", jstr(o, "id"));
		json_object_put(o);
		ck_assert_int_eq(store_ticket_comment_add(T_db, b, bticket, &c, &o), STORE_OK);
		snprintf(bcomment, sizeof(bcomment), "%s", jstr(o, "id"));
		json_object_put(o);
	}

	/* Tenant A, exported and deleted here: its archive is good to import here. */
	mk_tenant("tenant-a", NULL, a);
	fill_tenant(a);
	ck_assert_int_eq(store_archive_export(T_db, a, 1, &archive), STORE_OK);
	{
		/* An api_tokens row to edit, as an older archive would carry one. */
		json_object *tokens = json_object_new_array(), *row = json_object_new_object();
		char tok[UUID_STR_LEN];
		ids_uuid7(tok);
		jsonx_add_str(row, "id", tok);
		jsonx_add_str(row, "tenant_id", a);
		jsonx_add_str(row, "user_id",
		              jstr(json_object_array_get_idx(jget(jget(archive, "tables"), "users"), 0),
		                   "id"));
		jsonx_add_str(row, "name", "made-up");
		jsonx_add_str(row, "token_digest", "sha256-of-a-made-up-token");
		jsonx_add_str(row, "kind", "user");
		json_object_array_add(tokens, row);
		json_object_object_add(jget(archive, "tables"), "api_tokens", tokens);
	}
	ck_assert_int_eq(store_tenant_delete(T_db, a), STORE_OK);
	before = T_count(T_db, count_all, 0, NULL);

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		json_object *copy = NULL, *rows, *row, *first;
		const char *value = cases[i].value, *row_id;
		char fresh_id[UUID_STR_LEN];
		ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);
		rows = jget(jget(copy, "tables"), cases[i].table);
		first = json_object_array_get_idx(rows, 0);
		value = strcmp(value, "admin") == 0       ? admin
		        : strcmp(value, "b-cluster") == 0 ? bcluster
		        : strcmp(value, "b-ticket") == 0  ? bticket
		        : strcmp(value, "b-user") == 0    ? buser
		        : strcmp(value, "b-device") == 0  ? bdev
		        : strcmp(value, "b-session") == 0 ? bses
		        : strcmp(value, "b-token") == 0   ? btok
		                                          : value;
		row = first;
		if (cases[i].how == ADD) {
			const char *id = cases[i].id;
			ids_uuid7(fresh_id);
			id = strcmp(id, "new") == 0         ? fresh_id
			     : strcmp(id, "admin") == 0     ? admin
			     : strcmp(id, "b-user") == 0    ? buser
			     : strcmp(id, "b-device") == 0  ? bdev
			     : strcmp(id, "b-session") == 0 ? bses
			     : strcmp(id, "b-audit") == 0   ? baudit
			     : strcmp(id, "b-ticket") == 0  ? bticket
			     : strcmp(id, "b-comment") == 0 ? bcomment
			     : strcmp(id, "b-cluster") == 0 ? bcluster
			     : strcmp(id, "first") == 0     ? jstr(first, "id")
			                                    : id;
			row = NULL;
			ck_assert_int_eq(json_object_deep_copy(first, &row, NULL), 0);
			json_object_array_add(rows, row);
			json_object_object_add(row, "id", json_object_new_string(id));
		}
		json_object_object_add(row, cases[i].column, json_object_new_string(value));
		row_id = jstr(row, "id");
		tenant = (json_object *)0x1;
		memset(&why, 'x', sizeof(why));
		ck_assert_msg(store_archive_import(T_db, copy, &tenant, &why) == STORE_ERR,
		              "case %zu (%s.%s) not refused", i, cases[i].table, cases[i].column);
		ck_assert_ptr_eq(tenant, (json_object *)0x1);
		ck_assert_msg(strcmp(why.table, cases[i].table) == 0 &&
		                      strcmp(why.column, cases[i].want_col) == 0 &&
		                      strcmp(why.row_id, row_id) == 0,
		              "case %zu: refused %s %s %s (%s), want %s %s %s", i, why.table,
		              why.row_id, why.column, why.text, cases[i].table, row_id,
		              cases[i].want_col);
		ck_assert_msg(strstr(why.text, cases[i].table) && strstr(why.text, row_id) &&
		                      strstr(why.text, cases[i].want_col),
		              "case %zu: %s", i, why.text);
		ck_assert_int_eq(count_where(T_db, "tenants", a), 0);
		ck_assert_int_eq(T_count(T_db, count_all, 0, NULL), before);
		json_object_put(copy);
	}
	/* As exported, it goes in, its token dropped. */
	ck_assert_int_eq(store_archive_import(T_db, archive, &tenant, &why), STORE_OK);
	ck_assert_str_eq(jstr(tenant, "id"), a);
	json_object_put(tenant);
	ck_assert_int_eq(count_where(T_db, "api_tokens", a), 0);
	json_object_put(archive);
}
END_TEST

/* Each mutation of a good archive is refused with STORE_ERR and a reason naming
 * where, and leaves nothing behind. */
START_TEST(test_import_malformed)
{
	static const struct {
		const char *path;  /* where to change: "" the root, "tenant", "tables", "row" (the
		                      first device), "session" (the first session), "user" */
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
		{ "session", "device_id", "\"" NOBODY "\"", "device_id" }, /* outside the archive */
		{ "session", "status", "\"lost\"", "tables.sessions[0].status" },
		{ "session", "status", "\"active\"", "tables.sessions[0].status: only ended" },
		{ "user", "role", "\"admin\"", "tables.users[0]" }, /* staff have no tenant */
	};
	char id[UUID_STR_LEN];
	struct store_archive_why why;
	json_object *archive = NULL, *tenant = NULL;
	struct db *fresh;

	mk_staff(T_db);
	mk_tenant("broken", NULL, id);
	fill_tenant(id);
	ck_assert_int_eq(store_archive_export(T_db, id, 1, &archive), STORE_OK);
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
		else if (strcmp(cases[i].path, "user") == 0)
			at = json_object_array_get_idx(jget(jget(copy, "tables"), "users"), 0);
		if (cases[i].value)
			json_object_object_add(at, cases[i].key, parse(cases[i].value));
		else
			json_object_object_del(at, cases[i].key);
		memset(&why, 0, sizeof(why));
		tenant = (json_object *)0x1;
		ck_assert_msg(store_archive_import(fresh, copy, &tenant, &why) == STORE_ERR,
		              "case %zu (%s.%s) not refused", i, cases[i].path, cases[i].key);
		ck_assert_ptr_eq(tenant, (json_object *)0x1);
		ck_assert_msg(strstr(why.text, cases[i].why) != NULL, "case %zu: why '%s' lacks '%s'",
		              i, why.text, cases[i].why);
		ck_assert_int_eq(count_where(fresh, "tenants", id), 0);
		ck_assert_int_eq(T_count(fresh, "SELECT count(*) FROM devices", 0, NULL), 0);
		json_object_put(copy);
	}
	/* Not even an object, or nothing; a NULL why is allowed. */
	{
		json_object *arr = json_object_new_array(), *str = json_object_new_string("x");
		ck_assert_int_eq(store_archive_import(fresh, arr, &tenant, &why), STORE_ERR);
		ck_assert(why.text[0]);
		ck_assert_int_eq(store_archive_import(fresh, str, &tenant, NULL), STORE_ERR);
		ck_assert_int_eq(store_archive_import(fresh, NULL, &tenant, &why), STORE_ERR);
		json_object_put(arr);
		json_object_put(str);
	}
	/* The good one still goes in after all that. */
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_OK);
	json_object_put(tenant);
	compare_archive(archive, fresh);
	db_close(fresh);
	json_object_put(archive);
}
END_TEST

/* Where a tenant delete removes table's rows (store_archive_delete_order). */
/* ---- cloud services in the archive (issue 13) ------------------------------------------ */

/* A template with the slug "pg" in db, under id (ids differ between deployments). */
static void mk_template_in(struct db *db, const char *id)
{
	const char *p[1] = { id };

	T_run(db,
	      "INSERT INTO app_templates (id, slug, name, category, chart_repo, chart_name, "
	      "chart_version, values_schema) VALUES ($1, 'pg', 'PostgreSQL', 'Database', "
	      "'oci://registry-1.docker.io/bitnamicharts', 'postgresql', '17.1.0', "
	      "'{\"type\":\"object\",\"properties\":{}}')",
	      1, p);
}

static void mk_service_in(struct db *db, const char *tenant, const char *tpl, const char *ref,
                          const char *sealed, const char *names, char *id)
{
	json_object *o = NULL, *values = parse("{\"auth\":{\"username\":\"app\"}}");
	json_object *n = parse(names);
	struct store_service_why why;
	struct store_service_new s = { .template_id = tpl, .name = ref, .reference_id = ref,
		                       .subdomain = ref, .chart_version = "17.1.0",
		                       .values = values, .secret_values = sealed,
		                       .secret_names = n };

	ck_assert_int_eq(store_service_create(db, tenant, &s, &o, &why), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
	json_object_put(values);
	json_object_put(n);
}

static const char *value_in(struct db *db, const char *sql, const char *id)
{
	static char out[512];
	const char *p[1] = { id };
	char *v = T_value(db, sql, 1, p);

	snprintf(out, sizeof(out), "%s", v ? v : "(null)");
	free(v);
	return out;
}

#define TPL_HERE "0190a2c4-0000-7000-8000-00000000aaa1"
#define TPL_THERE "0190a2c4-0000-7000-8000-00000000aaa2"

START_TEST(test_import_services)
{
	char id[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN], s3[UUID_STR_LEN];
	char other[UUID_STR_LEN], taken[UUID_STR_LEN];
	struct store_archive_why why;
	json_object *archive = NULL, *copy = NULL, *tenant = NULL, *tables, *row;
	struct db *fresh;
	const char *text, *p[1];

	mk_template_in(T_db, TPL_HERE);
	mk_tenant("svc-export", NULL, id);
	/* s1 ran with a secret, a custom domain and revisions; s2 has no secret; s3 is
	 * deleted. */
	mk_service_in(T_db, id, TPL_HERE, "exp-db", "sv1.sealed-never-travels",
	              "[\"auth.password\"]", s1);
	mk_service_in(T_db, id, TPL_HERE, "exp-cache", NULL, "[]", s2);
	mk_service_in(T_db, id, TPL_HERE, "exp-gone", NULL, "[]", s3);
	p[0] = s1;
	T_run(T_db,
	      "UPDATE cloud_services SET status = 'running', revision = 3, pods_ready = 1, "
	      "pods_total = 1, custom_domain = 'shop.example.com', domain_status = 'verified', "
	      "deployed_at = created_at, op_seq = 4 WHERE id = $1",
	      1, p);
	T_run(T_db,
	      "INSERT INTO service_revisions (tenant_id, service_id, revision, status) SELECT "
	      "tenant_id, id, 3, 'deployed' FROM cloud_services WHERE id = $1",
	      1, p);
	p[0] = s3;
	T_run(T_db,
	      "UPDATE cloud_services SET status = 'deleted', deleted_at = created_at WHERE id = $1",
	      1, p);

	ck_assert_int_eq(store_archive_export(T_db, id, 1, &archive), STORE_OK);
	tables = jget(archive, "tables");
	text = json_object_to_json_string(archive);
	ck_assert_int_eq((int)json_object_array_length(jget(tables, "cloud_services")), 3);
	ck_assert(!json_object_object_get_ex(tables, "service_revisions", NULL));
	ck_assert(strstr(text, "sv1.sealed-never-travels") == NULL);
	row = row_where(archive, "cloud_services", "id", s1);
	/* The template by slug, not this deployment's id; the secret's name, not its value. */
	ck_assert_str_eq(jstr(row, "template"), "pg");
	ck_assert(is_null(row, "template_id"));
	ck_assert(is_null(row, "secret_values"));
	ck_assert(strstr(jstr(row, "secret_names"), "auth.password") != NULL);
	ck_assert(strstr(jstr(row, "plain_values"), "\"username\"") != NULL);
	ck_assert_int_eq(json_object_deep_copy(archive, &copy, NULL), 0);

	/* Into another deployment, whose template "pg" has another id. */
	fresh = fresh_db();
	mk_template_in(fresh, TPL_THERE);
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_OK);
	json_object_put(tenant);
	ck_assert_str_eq(value_in(fresh, "SELECT template_id FROM cloud_services WHERE id = $1", s1),
	                 TPL_THERE);
	/* s1 had a secret: failed, saying to set it again; nothing of its run here. */
	ck_assert_str_eq(value_in(fresh,
	                          "SELECT status || '|' || error || '|' || coalesce(secret_values, "
	                          "'none') || '|' || secret_names || '|' || revision || '|' || "
	                          "pods_ready || '/' || pods_total || '|' || op_seq || '|' || "
	                          "coalesce(CAST(deployed_at AS TEXT), 'none') || '|' || "
	                          "custom_domain || '|' || domain_status FROM cloud_services "
	                          "WHERE id = $1",
	                          s1),
	                 "failed|imported: set the secret values again, then deploy|none|[]|0|"
	                 "0/0|1|none|shop.example.com|unverified");
	ck_assert_str_eq(value_in(fresh, "SELECT count(*) FROM jobs WHERE service_id = $1", s1), "0");
	/* s2 had none: pending, with its install job (op_seq 1). */
	ck_assert_str_eq(value_in(fresh,
	                          "SELECT status || '|' || coalesce(error, 'none') FROM "
	                          "cloud_services WHERE id = $1",
	                          s2),
	                 "pending|none");
	ck_assert_str_eq(value_in(fresh,
	                          "SELECT kind || '|' || state || '|' || op_seq FROM jobs WHERE "
	                          "service_id = $1",
	                          s2),
	                 "service.install|queued|1");
	/* s3 stays deleted, history; no revisions came. */
	ck_assert_str_eq(value_in(fresh, "SELECT status FROM cloud_services WHERE id = $1", s3),
	                 "deleted");
	ck_assert_str_eq(value_in(fresh, "SELECT count(*) FROM jobs WHERE service_id = $1", s3), "0");
	ck_assert_str_eq(value_in(fresh, "SELECT count(*) FROM service_revisions WHERE tenant_id = $1",
	                          id),
	                 "0");
	db_close(fresh);

	/* A template the catalog here does not have refuses the import, naming it. */
	fresh = fresh_db();
	mk_template_in(fresh, TPL_THERE);
	json_object_put(archive);
	archive = NULL;
	ck_assert_int_eq(json_object_deep_copy(copy, &archive, NULL), 0);
	row = row_where(archive, "cloud_services", "id", s2);
	json_object_object_add(row, "template", json_object_new_string("nope"));
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_ERR);
	ck_assert_str_eq(why.table, "cloud_services");
	ck_assert_str_eq(why.column, "template");
	ck_assert_str_eq(why.row_id, s2);
	ck_assert(strstr(why.text, "nope") != NULL);
	/* So does an archive without the template's name. */
	json_object_put(archive);
	archive = NULL;
	ck_assert_int_eq(json_object_deep_copy(copy, &archive, NULL), 0);
	row = row_where(archive, "cloud_services", "id", s2);
	json_object_object_del(row, "template");
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_ERR);
	ck_assert_str_eq(why.column, "template");
	/* A subdomain a live service has here refuses it, naming it; a deleted service's
	 * subdomain (s3's) is free. */
	{
		struct store_tenant_fields f = { "there", "There", NULL, NULL, NULL, NULL, NULL };
		json_object *t = NULL;
		ck_assert_int_eq(store_tenant_create(fresh, &f, &t), STORE_OK);
		snprintf(other, sizeof(other), "%s", jstr(t, "id"));
		json_object_put(t);
	}
	mk_service_in(fresh, other, TPL_THERE, "exp-gone", NULL, "[]", taken);
	mk_service_in(fresh, other, TPL_THERE, "exp-cache", NULL, "[]", taken);
	json_object_put(archive);
	archive = NULL;
	ck_assert_int_eq(json_object_deep_copy(copy, &archive, NULL), 0);
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_ERR);
	ck_assert_str_eq(why.table, "cloud_services");
	ck_assert_str_eq(why.column, "subdomain");
	ck_assert_str_eq(why.row_id, s2);
	ck_assert(strstr(why.text, "exp-cache") != NULL);
	ck_assert_int_eq(count_where(fresh, "tenants", id), 0);
	ck_assert_int_eq(count_where(fresh, "cloud_services", id), 0);
	/* And so does a custom domain a live service has here. */
	p[0] = taken;
	T_run(fresh,
	      "UPDATE cloud_services SET subdomain = 'elsewhere', custom_domain = "
	      "'shop.example.com' WHERE id = $1",
	      1, p);
	json_object_put(archive);
	archive = NULL;
	ck_assert_int_eq(json_object_deep_copy(copy, &archive, NULL), 0);
	ck_assert_int_eq(store_archive_import(fresh, archive, &tenant, &why), STORE_ERR);
	ck_assert_str_eq(why.column, "custom_domain");
	ck_assert_str_eq(why.row_id, s1);
	db_close(fresh);
	json_object_put(archive);
	json_object_put(copy);
}
END_TEST

static int delete_rank(const char *table)
{
	const char *name;

	for (size_t i = 0; (name = store_archive_delete_order(i)); i++)
		if (strcmp(name, table) == 0)
			return (int)i;
	ck_abort_msg("a tenant delete does not remove %s's rows", table);
	return -1;
}

/* Every foreign key of the schema is in store_archive.c's table (so a table or key
 * added later cannot be forgotten by the import's checks), and so is every table that
 * holds a tenant's rows. */
START_TEST(test_archive_knows_the_schema)
{
	static const char fk_sqlite[] =
		"SELECT m.name, f.\"from\", f.\"table\" FROM sqlite_master m "
		"JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'";
	static const char fk_pg[] =
		"SELECT r.relname, a.attname, t.relname FROM pg_constraint c "
		"JOIN pg_class r ON r.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid "
		"JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
		"WHERE c.contype = 'f' AND r.relnamespace = to_regnamespace(current_schema())";
	static const char tenant_sqlite[] =
		"SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c "
		"WHERE m.type = 'table' AND c.name = 'tenant_id'";
	static const char tenant_pg[] =
		"SELECT table_name FROM information_schema.columns WHERE table_schema = "
		"current_schema() AND column_name = 'tenant_id'";
	struct db_res *res = NULL;
	const char *target = NULL;
	int pg = db_kind(T_db) == DB_POSTGRES;

	ck_assert_int_eq(db_exec(T_db, pg ? fk_pg : fk_sqlite, 0, NULL, &res), DB_OK);
	ck_assert_int_gt(db_res_rows(res), 5);
	for (int r = 0; r < db_res_rows(res); r++) {
		const char *table = db_res_get(res, r, 0), *column = db_res_get(res, r, 1);
		const char *refd = db_res_get(res, r, 2);
		int known = store_archive_reference(table, column, &target);
		ck_assert_msg(known >= 0,
		              "%s has a foreign key (%s -> %s) but is not in store_archive.c's "
		              "table",
		              table, column, refd);
		ck_assert_msg(known == 1 && (strcmp(target, refd) == 0 ||
		                             (strcmp(column, "tenant_id") == 0 &&
		                              strcmp(target, "tenants") == 0)),
		              "%s.%s references %s: store_archive.c's table must say so", table,
		              column, refd);
		/* A tenant delete removes the referencing rows first (platform tables, which
		 * hold no tenant's rows, stay). */
		ck_assert_msg(strcmp(refd, "tenants") == 0 || strcmp(refd, table) == 0 ||
		                      strcmp(refd, "app_templates") == 0 ||
		                      delete_rank(table) < delete_rank(refd),
		              "a tenant delete must remove %s before %s", table, refd);
	}
	db_res_free(res);
	ck_assert_int_eq(db_exec(T_db, pg ? tenant_pg : tenant_sqlite, 0, NULL, &res), DB_OK);
	ck_assert_int_gt(db_res_rows(res), 5);
	for (int r = 0; r < db_res_rows(res); r++)
		ck_assert_msg(store_archive_reference(db_res_get(res, r, 0), "tenant_id", &target) == 1,
		              "%s holds tenant rows but is not in store_archive.c's table",
		              db_res_get(res, r, 0));
	db_res_free(res);
	/* The check itself: a table the archive does not know is told. */
	ck_assert_int_eq(store_archive_reference("login_attempts", "id", &target), -1);
	ck_assert_int_eq(store_archive_reference("devices", "name", &target), 0);
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
	T_ADD(sq, pg, test_import_drops_credentials);
	T_ADD(sq, pg, test_import_references);
	T_ADD(sq, pg, test_import_services);
	T_ADD(sq, pg, test_archive_knows_the_schema);
	return T_main(s, sq, pg);
}
