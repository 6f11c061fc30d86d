/* check_store.c: store.h (devices, sessions, tokens, jobs, health), the same cases on
 * SQLite and on PostgreSQL. */
#include <ctype.h>
#include <pthread.h>

#include "ids.h"
#include "store.h"
#include "store_cluster.h"
#include "store_row.h"
#include "store_install.h"
#include "testdb.h"

#define DOMAIN "support.example.com"

/* Creates a device; its id into id (UUID_STR_LEN). */
static void mk_device(const char *tenant, const char *name, char *id)
{
	json_object *d = NULL;

	ck_assert_int_eq(store_device_create(T_db, tenant, name, "$argon2id$fake", &d), STORE_OK);
	ck_assert_ptr_nonnull(jstr(d, "id"));
	snprintf(id, UUID_STR_LEN, "%s", jstr(d, "id"));
	json_object_put(d);
}

static void mk_session(const char *tenant, const char *device, char *id)
{
	struct store_session_new s = { device, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
	json_object *o = NULL;

	ck_assert_int_eq(store_session_create(T_db, tenant, &s, &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

static void set_session_status(const char *id, const char *status)
{
	const char *p[2] = { status, id };

	T_run(T_db, "UPDATE sessions SET status = $1 WHERE id = $2", 2, p);
}

static long count_rows(const char *table)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return T_count(T_db, sql, 0, NULL);
}

static int cmp_desc(const void *a, const void *b)
{
	return strcmp((const char *)b, (const char *)a);
}

/* ---- devices ------------------------------------------------------------------- */

START_TEST(test_device_create_get)
{
	json_object *d = NULL, *g = NULL, *labels;
	char id[UUID_STR_LEN], upper[UUID_STR_LEN];
	static const char *const fields[] = { "id",        "name",          "status",
	                                      "last_seen", "hostname",      "os",
	                                      "ip_address", "agent_version", "cluster_id",
	                                      "node_name", "labels",        "node_status",
	                                      "unschedulable", "resources", "versions",
	                                      "node_reason", "node_updated_at", "created_at" };

	ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "web-1", "$argon2id$h", &d),
	                 STORE_OK);
	ck_assert(ids_is_uuid(jstr(d, "id")));
	ck_assert_str_eq(jstr(d, "name"), "web-1");
	ck_assert_str_eq(jstr(d, "status"), "offline");
	ck_assert_ptr_null(jstr(d, "hostname"));
	ck_assert_int_eq(json_object_object_length(d), (int)ARRAY_LEN(fields));
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		ck_assert_msg(jhas(d, fields[i]), "device JSON lacks %s", fields[i]);
	ck_assert(!jhas(d, "secret_hash"));
	ck_assert_uint_eq(strlen(jstr(d, "created_at")), TIMESTAMP_LEN - 1);
	ck_assert_int_eq(jstr(d, "created_at")[TIMESTAMP_LEN - 2], 'Z');
	snprintf(id, sizeof(id), "%s", jstr(d, "id"));

	/* Agent-reported facts and JSON columns come back typed. */
	{
		const char *p[1] = { id };
		T_run(T_db,
		      "UPDATE devices SET hostname = 'h1', labels = '{\"zone\":\"eu\",\"n\":1}', "
		      "resources = '[1,2]', unschedulable = (1 = 1), "
		      "versions = '{\"kubelet\":\"v1.31.2\"}' WHERE id = $1",
		      1, p);
	}
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, id, &g), STORE_OK);
	ck_assert_str_eq(jstr(g, "id"), id);
	ck_assert_str_eq(jstr(g, "hostname"), "h1");
	ck_assert_str_eq(jstr(g, "created_at"), jstr(d, "created_at"));
	ck_assert(json_object_object_get_ex(g, "labels", &labels));
	ck_assert(json_object_is_type(labels, json_type_object));
	ck_assert_str_eq(jstr(labels, "zone"), "eu");
	ck_assert(json_object_object_get_ex(g, "resources", &labels));
	ck_assert(json_object_is_type(labels, json_type_array));
	/* A boolean on both backends (db.h selects none: the store's CASE does). */
	ck_assert(json_object_object_get_ex(g, "unschedulable", &labels));
	ck_assert(json_object_is_type(labels, json_type_boolean));
	ck_assert(json_object_get_boolean(labels));
	ck_assert(json_object_object_get_ex(g, "versions", &labels));
	ck_assert_str_eq(jstr(labels, "kubelet"), "v1.31.2");
	ck_assert(json_object_object_get_ex(d, "unschedulable", &labels));
	ck_assert_ptr_null(labels);
	json_object_put(g);
	g = NULL;

	/* Ids are found whatever their case. */
	for (int i = 0; i < UUID_STR_LEN; i++)
		upper[i] = (char)((id[i] >= 'a' && id[i] <= 'f') ? id[i] - 32 : id[i]);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, upper, &g), STORE_OK);
	json_object_put(g);
	json_object_put(d);
}
END_TEST

START_TEST(test_device_get_missing)
{
	json_object *g = (json_object *)0x1;

	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, NOBODY, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, "not-a-uuid", &g),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, "", &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, NULL, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(T_db, "nonsense", NOBODY, &g), STORE_NOT_FOUND);
	ck_assert_ptr_eq(g, (json_object *)0x1); /* untouched on failure */
	{
		/* The text form: the same answers, nothing written. */
		static const char *const bad[] = { NOBODY, "not-a-uuid", "", NULL };
		struct buf text;
		buf_init(&text, 4096);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_int_eq(store_device_get_text(T_db, DEFAULT_TENANT_ID, bad[i], &text),
			                 STORE_NOT_FOUND);
		ck_assert_int_eq(store_device_get_text(T_db, "nonsense", NOBODY, &text),
		                 STORE_NOT_FOUND);
		ck_assert_uint_eq(text.len, 0);
		buf_clear(&text);
	}
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, NOBODY), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, "1'; --"), STORE_NOT_FOUND);
}
END_TEST

/* The names of a list's items, in order, joined by '|'. */
static void list_names(const struct store_list *l, char *out, size_t size)
{
	size_t n = json_object_array_length(l->items);

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *name = jstr(json_object_array_get_idx(l->items, i), "name");
		strncat(out, i ? "|" : "", size - strlen(out) - 1);
		strncat(out, name ? name : "?", size - strlen(out) - 1);
	}
}

static void expect_devices(const char *status, const char *q, const char *want)
{
	struct store_list l;
	struct store_page page = { 50, NULL };
	char got[512];

	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, status, q, &page, &l), STORE_OK);
	list_names(&l, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "status=%s q=%s: got [%s], want [%s]",
	              status ? status : "-", q ? q : "-", got, want);
	ck_assert_int_eq(l.has_more, 0);
	json_object_put(l.items);
}

START_TEST(test_device_list_filters)
{
	char ids[6][UUID_STR_LEN];
	static const char *const names[] = { "50% off", "a_b", "axb", "Alpha", "back\\slash",
	                                      "plain" };

	for (int i = 0; i < 6; i++)
		mk_device(DEFAULT_TENANT_ID, names[i], ids[i]);
	{
		const char *p[1] = { ids[5] };
		T_run(T_db, "UPDATE devices SET hostname = 'HOST-a_b.local' WHERE id = $1", 1, p);
	}
	{
		T_hold_device(ids[3]);
	}
	/* Newest first; ids are time-ordered but not within one millisecond, so compare
	 * sets where order is not the point. */
	expect_devices(NULL, "%", "50% off");
	expect_devices(NULL, "alp", "Alpha");
	expect_devices(NULL, "ALPHA", "Alpha");
	expect_devices(NULL, "\\", "back\\slash");
	expect_devices(NULL, "host-a", "plain");
	expect_devices(NULL, "nothing-like-this", "");
	expect_devices(NULL, "x", "axb");
	expect_devices("online", NULL, "Alpha");
	expect_devices("online", "a_b", "");
	expect_devices("offline", "alpha", "");
	{
		/* "_" is literal: a_b by name, plain by hostname, never axb. */
		struct store_list l;
		struct store_page page = { 50, NULL };
		char got[256];
		ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, "A_B", &page, &l),
		                 STORE_OK);
		ck_assert_int_eq(json_object_array_length(l.items), 2);
		list_names(&l, got, sizeof(got));
		ck_assert(strstr(got, "a_b") && strstr(got, "plain") && !strstr(got, "axb"));
		json_object_put(l.items);
		ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, "offline", "", &page, &l),
		                 STORE_OK);
		ck_assert_int_eq(json_object_array_length(l.items), 5);
		json_object_put(l.items);
		ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, NULL, &l),
		                 STORE_OK);
		ck_assert_int_eq(json_object_array_length(l.items), 6);
		json_object_put(l.items);
	}
}
END_TEST

START_TEST(test_device_list_pagination)
{
	char ids[7][UUID_STR_LEN], name[16];
	struct store_list l;
	struct store_page page = { 3, NULL };
	int seen = 0;

	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "dev%d", i);
		mk_device(DEFAULT_TENANT_ID, name, ids[i]);
	}
	qsort(ids, 7, UUID_STR_LEN, cmp_desc);
	/* Pages of 3: 3, 3, 1, in id order, each cursor the last id of its page. */
	for (int p = 0; p < 3; p++) {
		size_t n;
		ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l),
		                 STORE_OK);
		n = json_object_array_length(l.items);
		ck_assert_uint_eq(n, p < 2 ? 3 : 1);
		for (size_t i = 0; i < n; i++)
			ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, i), "id"), ids[seen++]);
		ck_assert_int_eq(l.has_more, p < 2);
		if (p < 2)
			ck_assert_str_eq(l.next_cursor, ids[seen - 1]);
		else
			ck_assert_str_eq(l.next_cursor, "");
		json_object_put(l.items);
		page.cursor = ids[seen - 1];
	}
	ck_assert_int_eq(seen, 7);
	/* Past the end: an empty last page. */
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 0);
	ck_assert_int_eq(l.has_more, 0);
	json_object_put(l.items);
	/* A page exactly as large as what is left has no next page; one smaller has. */
	page.cursor = NULL;
	page.limit = 7;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 7);
	ck_assert_int_eq(l.has_more, 0);
	json_object_put(l.items);
	page.limit = 6;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 6);
	ck_assert_int_eq(l.has_more, 1);
	ck_assert_str_eq(l.next_cursor, ids[5]);
	json_object_put(l.items);
	/* limit 1; 0 means the default (50); below 1 is 1. */
	page.limit = 1;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	ck_assert_str_eq(l.next_cursor, ids[0]);
	json_object_put(l.items);
	page.limit = 0;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 7);
	json_object_put(l.items);
	page.limit = -4;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	json_object_put(l.items);
	/* A cursor that is not an id. */
	page.limit = 3;
	page.cursor = "garbage";
	l.has_more = 42;
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(l.has_more, 42);
}
END_TEST

START_TEST(test_device_list_limit_cap)
{
	char id[UUID_STR_LEN];
	struct store_list l;
	struct store_page page = { 1000, NULL };

	for (int i = 0; i < 201; i++)
		mk_device(DEFAULT_TENANT_ID, "many", id);
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 200);
	ck_assert_int_eq(l.has_more, 1);
	json_object_put(l.items);
	page.limit = 200;
	{
		char cursor[UUID_STR_LEN];
		snprintf(cursor, sizeof(cursor), "%s", l.next_cursor);
		page.cursor = cursor;
		ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l),
		                 STORE_OK);
	}
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	ck_assert_int_eq(l.has_more, 0);
	json_object_put(l.items);
}
END_TEST

START_TEST(test_device_delete)
{
	char id[UUID_STR_LEN], other[UUID_STR_LEN];
	json_object *g = NULL;
	struct store_list l;
	const char *p[1] = { id };
	char *v;

	mk_device(DEFAULT_TENANT_ID, "doomed", id);
	mk_device(DEFAULT_TENANT_ID, "stays", other);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, id), STORE_OK);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, id, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), other);
	json_object_put(l.items);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, id), STORE_NOT_FOUND);
	/* Soft: the row is still there, marked. */
	v = T_value(T_db, "SELECT deleted_at FROM devices WHERE id = $1", 1, p);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(strlen(v), TIMESTAMP_LEN - 1);
	free(v);
	ck_assert_int_eq(count_rows("devices"), 2);
}
END_TEST

START_TEST(test_device_delete_busy)
{
	char dev[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN];
	json_object *g = NULL;
	static const char *const live[] = { "pending", "active", "ending" };

	mk_device(DEFAULT_TENANT_ID, "busy", dev);
	mk_session(DEFAULT_TENANT_ID, dev, s1);
	mk_session(DEFAULT_TENANT_ID, dev, s2);
	set_session_status(s2, "ended");
	for (size_t i = 0; i < ARRAY_LEN(live); i++) {
		set_session_status(s1, live[i]);
		ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, dev), STORE_CONFLICT);
		ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, dev, &g), STORE_OK);
		json_object_put(g);
	}
	set_session_status(s1, "failed");
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, dev), STORE_OK);
	/* The history stays, and a deleted device takes no new session. */
	ck_assert_int_eq(store_session_get(T_db, DEFAULT_TENANT_ID, s1, &g), STORE_OK);
	ck_assert_str_eq(jstr(g, "device_id"), dev);
	json_object_put(g);
	{
		struct store_session_new s = { dev, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
		ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &g), STORE_NOT_FOUND);
	}
	ck_assert_int_eq(count_rows("sessions"), 2);
}
END_TEST

/* ---- sessions ------------------------------------------------------------------ */

START_TEST(test_session_create)
{
	char dev[UUID_STR_LEN];
	json_object *o = NULL, *v;
	struct store_session_new s = { dev, "Eve O'Neil", "first look", DOMAIN, 2222, 6080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
	const char *short_id;
	char url[128], host[128];
	struct db_res *res = NULL;
	static const char *const fields[] = {
		"id",          "device_id",  "status",      "step",        "public_url",
		"ssh_hostname", "tunnel_id",  "engineer_name", "engineer_id", "ticket_id",
		"notes",       "error",      "ssh_port",    "web_port",    "recording_url",
		"started_at",  "ended_at",   "created_at",  "updated_at",  "provider",
		"bytes_in",    "bytes_out"
	};

	mk_device(DEFAULT_TENANT_ID, "target", dev);
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	ck_assert_int_eq(json_object_object_length(o), (int)ARRAY_LEN(fields));
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		ck_assert_msg(jhas(o, fields[i]), "session JSON lacks %s", fields[i]);
	ck_assert(ids_is_uuid(jstr(o, "id")));
	ck_assert_str_eq(jstr(o, "device_id"), dev);
	ck_assert_str_eq(jstr(o, "status"), "pending");
	ck_assert_str_eq(jstr(o, "engineer_name"), "Eve O'Neil");
	ck_assert_str_eq(jstr(o, "notes"), "first look");
	ck_assert_ptr_null(jstr(o, "ended_at"));
	ck_assert_ptr_null(jstr(o, "tunnel_id"));
	ck_assert(json_object_object_get_ex(o, "ssh_port", &v));
	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int(v), 2222);
	ck_assert(json_object_object_get_ex(o, "web_port", &v));
	ck_assert_int_eq(json_object_get_int(v), 6080);
	ck_assert_str_eq(jstr(o, "started_at"), jstr(o, "created_at"));
	ck_assert_uint_eq(strlen(jstr(o, "started_at")), TIMESTAMP_LEN - 1);
	/* https://sess-<short>.<domain>, sess-<short>-ssh.<domain>, one short id. */
	ck_assert_int_eq(strncmp(jstr(o, "public_url"), "https://sess-", 13), 0);
	short_id = jstr(o, "public_url") + 13;
	ck_assert_uint_eq(strlen(short_id), SHORT_ID_LEN + 1 + strlen(DOMAIN));
	snprintf(url, sizeof(url), "https://sess-%.*s." DOMAIN, SHORT_ID_LEN, short_id);
	snprintf(host, sizeof(host), "sess-%.*s-ssh." DOMAIN, SHORT_ID_LEN, short_id);
	ck_assert_str_eq(jstr(o, "public_url"), url);
	ck_assert_str_eq(jstr(o, "ssh_hostname"), host);

	/* The job is there, for this session, queued, in this tenant. */
	{
		const char *p[1] = { jstr(o, "id") };
		ck_assert_int_eq(db_exec(T_db,
		                         "SELECT kind, state, tenant_id, attempts, run_after, locked_by "
		                         "FROM jobs WHERE session_id = $1",
		                         1, p, &res),
		                 DB_OK);
	}
	ck_assert_int_eq(db_res_rows(res), 1);
	ck_assert_str_eq(db_res_get(res, 0, 0), "session.start");
	ck_assert_str_eq(db_res_get(res, 0, 1), "queued");
	ck_assert_str_eq(db_res_get(res, 0, 2), DEFAULT_TENANT_ID);
	ck_assert_str_eq(db_res_get(res, 0, 3), "0");
	ck_assert_str_eq(db_res_get(res, 0, 4), jstr(o, "created_at"));
	ck_assert_ptr_null(db_res_get(res, 0, 5));
	db_res_free(res);
	/* A second session on the same device is allowed, with its own short id. */
	{
		json_object *o2 = NULL;
		s.notes = NULL;
		s.ssh_port = 0; /* 0: the defaults */
		s.web_port = 0;
		ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o2), STORE_OK);
		ck_assert_str_ne(jstr(o2, "public_url"), jstr(o, "public_url"));
		ck_assert_ptr_null(jstr(o2, "notes"));
		ck_assert(json_object_object_get_ex(o2, "ssh_port", &v));
		ck_assert_int_eq(json_object_get_int(v), 22);
		ck_assert(json_object_object_get_ex(o2, "web_port", &v));
		ck_assert_int_eq(json_object_get_int(v), 8080);
		json_object_put(o2);
	}
	ck_assert_int_eq(count_rows("jobs"), 2);
	json_object_put(o);
}
END_TEST

START_TEST(test_session_create_unknown_device)
{
	char dev[UUID_STR_LEN];
	json_object *o = (json_object *)0x1;
	struct store_session_new s = { NOBODY, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };

	mk_device(DEFAULT_TENANT_ID, "real", dev);
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_NOT_FOUND);
	s.device_id = "not-an-id";
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_NOT_FOUND);
	s.device_id = NULL;
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_NOT_FOUND);
	ck_assert_ptr_eq(o, (json_object *)0x1);
	ck_assert_int_eq(count_rows("sessions"), 0);
	ck_assert_int_eq(count_rows("jobs"), 0);
	/* And the connection is not left inside a transaction. */
	{
		struct db *other = T_open_again();
		char d2[UUID_STR_LEN];
		ck_assert_int_eq(T_count(other, "SELECT count(*) FROM devices", 0, NULL), 1);
		db_close(other);
		mk_device(DEFAULT_TENANT_ID, "after", d2);
	}
}
END_TEST

/* A failure after the session row was written (here: the job insert) leaves nothing. */
START_TEST(test_session_create_rolls_back)
{
	char dev[UUID_STR_LEN], sess[UUID_STR_LEN];
	json_object *o = NULL;
	struct store_session_new s = { dev, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };

	mk_device(DEFAULT_TENANT_ID, "target", dev);
	if (T_kind == DB_POSTGRES)
		ck_assert_int_eq(db_script(T_db,
		                           "CREATE FUNCTION jobs_refuse() RETURNS trigger LANGUAGE "
		                           "plpgsql AS $$ BEGIN RAISE EXCEPTION 'no jobs today'; END $$; "
		                           "CREATE TRIGGER jobs_refuse BEFORE INSERT ON jobs FOR EACH "
		                           "ROW EXECUTE FUNCTION jobs_refuse();"),
		                 DB_OK);
	else
		ck_assert_int_eq(db_script(T_db, "CREATE TRIGGER jobs_refuse BEFORE INSERT ON jobs "
		                                 "BEGIN SELECT RAISE(ABORT, 'no jobs today'); END;"),
		                 DB_OK);
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_ERR);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(count_rows("sessions"), 0);
	ck_assert_int_eq(count_rows("jobs"), 0);
	/* Ending fails the same way and leaves the session as it was. */
	ck_assert_int_eq(db_script(T_db, T_kind == DB_POSTGRES ? "DROP TRIGGER jobs_refuse ON jobs"
	                                                        : "DROP TRIGGER jobs_refuse"),
	                 DB_OK);
	mk_session(DEFAULT_TENANT_ID, dev, sess);
	if (T_kind == DB_POSTGRES)
		ck_assert_int_eq(db_script(T_db, "CREATE TRIGGER jobs_refuse BEFORE INSERT ON jobs FOR "
		                                 "EACH ROW EXECUTE FUNCTION jobs_refuse();"),
		                 DB_OK);
	else
		ck_assert_int_eq(db_script(T_db, "CREATE TRIGGER jobs_refuse BEFORE INSERT ON jobs "
		                                 "BEGIN SELECT RAISE(ABORT, 'no jobs today'); END;"),
		                 DB_OK);
	{
		int changed = 7;
		ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, sess, &o, &changed),
		                 STORE_ERR);
		ck_assert_int_eq(changed, 7);
		ck_assert_int_eq(store_session_get(T_db, DEFAULT_TENANT_ID, sess, &o), STORE_OK);
		ck_assert_str_eq(jstr(o, "status"), "pending");
		json_object_put(o);
	}
	ck_assert_int_eq(count_rows("jobs"), 1);
}
END_TEST

/* The default tenant's sessions on device (NULL: any) in status (NULL: any). */
static int list_by(const char *device, const char *status, const struct store_page *page,
                   struct store_list *l)
{
	struct store_session_filter f = { .device_id = device, .status = status };

	return store_session_list(T_db, DEFAULT_TENANT_ID, &f, page, l);
}

START_TEST(test_session_list)
{
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], s[5][UUID_STR_LEN], all[5][UUID_STR_LEN];
	struct store_list l;
	struct store_page page = { 2, NULL };
	int seen = 0;

	mk_device(DEFAULT_TENANT_ID, "one", d1);
	mk_device(DEFAULT_TENANT_ID, "two", d2);
	for (int i = 0; i < 5; i++) {
		mk_session(DEFAULT_TENANT_ID, i < 3 ? d1 : d2, s[i]);
		memcpy(all[i], s[i], UUID_STR_LEN);
	}
	set_session_status(s[1], "active");
	set_session_status(s[4], "active");
	qsort(all, 5, UUID_STR_LEN, cmp_desc);
	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(store_session_list(T_db, DEFAULT_TENANT_ID, NULL, &page, &l),
		                 STORE_OK);
		for (size_t i = 0; i < json_object_array_length(l.items); i++)
			ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, i), "id"), all[seen++]);
		ck_assert_int_eq(l.has_more, p < 2);
		json_object_put(l.items);
		page.cursor = all[seen - 1];
	}
	ck_assert_int_eq(seen, 5);
	page.cursor = NULL;
	page.limit = 50;
	ck_assert_int_eq(list_by(d1, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 3);
	json_object_put(l.items);
	ck_assert_int_eq(list_by(d2, "active", &page, &l),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), s[4]);
	json_object_put(l.items);
	ck_assert_int_eq(list_by(NULL, "active", &page, &l),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 2);
	json_object_put(l.items);
	ck_assert_int_eq(list_by(NULL, "ended", &page, &l),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(list_by(NOBODY, NULL, &page, &l),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(list_by("bad", NULL, &page, &l),
	                 STORE_NOT_FOUND);
}
END_TEST

static void set_session_field(const char *id, const char *col, const char *value)
{
	char sql[96];
	const char *p[2] = { value, id };

	snprintf(sql, sizeof(sql), "UPDATE sessions SET %s = $1 WHERE id = $2", col);
	T_run(T_db, sql, 2, p);
}

/* The ids a filtered list gives, all pages of `limit` followed, newest first, joined by
 * ' ' into out (the number of pages returned). */
static int list_ids(const struct store_session_filter *f, int limit, char *out, size_t outlen)
{
	struct store_page page = { limit, NULL };
	struct store_list l;
	char cursor[UUID_STR_LEN];
	int pages = 0;

	out[0] = '\0';
	for (;;) {
		ck_assert_int_eq(store_session_list(T_db, DEFAULT_TENANT_ID, f, &page, &l), STORE_OK);
		pages++;
		for (size_t i = 0; i < json_object_array_length(l.items); i++) {
			const char *id = jstr(json_object_array_get_idx(l.items, i), "id");
			snprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? " " : "", id);
			snprintf(cursor, sizeof(cursor), "%s", id);
		}
		json_object_put(l.items);
		if (!l.has_more)
			return pages;
		page.cursor = cursor;
	}
}

START_TEST(test_session_list_filters)
{
	char dev[UUID_STR_LEN], s[6][UUID_STR_LEN], got[512], want[512];
	struct store_session_filter f;
	struct store_list l;
	static const char *names[6] = { "Ann Lee", "ann%", "Bob", "ANNA", "bob", "Zed" };
	static const char *times[6] = { "2026-11-01T10:00:00.000Z", "2026-11-02T10:00:00.000Z",
		                        "2026-11-03T10:00:00.000Z", "2026-11-04T10:00:00.000Z",
		                        "2026-11-05T10:00:00.000Z", "2026-11-06T10:00:00.000Z" };

	mk_device(DEFAULT_TENANT_ID, "hist", dev);
	for (int i = 0; i < 6; i++) {
		mk_session(DEFAULT_TENANT_ID, dev, s[i]);
		set_session_field(s[i], "engineer_name", names[i]);
		set_session_field(s[i], "created_at", times[i]);
	}
	set_session_field(s[2], "engineer_id", NOBODY);
	set_session_status(s[3], "ended");
	set_session_status(s[4], "ended");

	/* engineer: a case-insensitive substring; % and _ literal. */
	memset(&f, 0, sizeof(f));
	f.engineer = "aNn";
	list_ids(&f, 50, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s %s", s[3], s[1], s[0]);
	ck_assert_str_eq(got, want);
	f.engineer = "n%";
	list_ids(&f, 50, got, sizeof(got));
	ck_assert_str_eq(got, s[1]);
	f.engineer = "n_";
	list_ids(&f, 50, got, sizeof(got));
	ck_assert_str_eq(got, "");
	/* engineer: a user id is the engineer_id, upper case too. */
	{
		char upper[UUID_STR_LEN];
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			upper[i] = (char)toupper((unsigned char)NOBODY[i]);
		f.engineer = upper;
		list_ids(&f, 50, got, sizeof(got));
	}
	ck_assert_str_eq(got, s[2]);

	/* since inclusive, until exclusive, any offset. */
	memset(&f, 0, sizeof(f));
	f.since = "2026-11-02T10:00:00Z";
	f.until = "2026-11-05T12:00:00+02:00"; /* = 10:00Z: s[4] is out */
	list_ids(&f, 50, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s %s", s[3], s[2], s[1]);
	ck_assert_str_eq(got, want);

	/* Filters and pages compose: one row a page, every row once, then the end. */
	f.since = "2026-11-01T00:00:00Z";
	f.until = NULL;
	f.engineer = "b";
	ck_assert_int_eq(list_ids(&f, 1, got, sizeof(got)), 2);
	snprintf(want, sizeof(want), "%s %s", s[4], s[2]);
	ck_assert_str_eq(got, want);
	f.status = "ended";
	list_ids(&f, 1, got, sizeof(got));
	ck_assert_str_eq(got, s[4]);
	f.device_id = dev;
	f.engineer = "ANNA";
	list_ids(&f, 1, got, sizeof(got));
	ck_assert_str_eq(got, s[3]);

	/* A time that is not one finds nothing. */
	memset(&f, 0, sizeof(f));
	f.since = "yesterday";
	ck_assert_int_eq(store_session_list(T_db, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_NOT_FOUND);
	f.since = NULL;
	f.until = "2026-13-01T00:00:00Z";
	ck_assert_int_eq(store_session_list(T_db, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_session_notes)
{
	char dev[UUID_STR_LEN], sess[UUID_STR_LEN];
	json_object *o = NULL;
	const char *text = "fixed the disk\n\tthen rebooted; 'quotes' and \"more\"";

	mk_device(DEFAULT_TENANT_ID, "d", dev);
	mk_session(DEFAULT_TENANT_ID, dev, sess);
	ck_assert_int_eq(store_session_set_notes(T_db, DEFAULT_TENANT_ID, sess, text, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "notes"), text);
	ck_assert_str_eq(jstr(o, "status"), "pending");
	json_object_put(o);
	ck_assert_int_eq(store_session_get(T_db, DEFAULT_TENANT_ID, sess, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "notes"), text);
	json_object_put(o);
	ck_assert_int_eq(store_session_set_notes(T_db, DEFAULT_TENANT_ID, sess, NULL, &o), STORE_OK);
	ck_assert_ptr_null(jstr(o, "notes"));
	ck_assert(jhas(o, "notes"));
	json_object_put(o);
	ck_assert_int_eq(store_session_set_notes(T_db, DEFAULT_TENANT_ID, NOBODY, "x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_session_set_notes(T_db, DEFAULT_TENANT_ID, "x", "x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_session_get(T_db, DEFAULT_TENANT_ID, NOBODY, &o), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_session_end)
{
	char dev[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN], s3[UUID_STR_LEN];
	json_object *o = NULL;
	int changed = -1;
	const char *p[1] = { s1 };

	mk_device(DEFAULT_TENANT_ID, "d", dev);
	mk_session(DEFAULT_TENANT_ID, dev, s1);
	mk_session(DEFAULT_TENANT_ID, dev, s2);
	mk_session(DEFAULT_TENANT_ID, dev, s3);
	ck_assert_int_eq(count_rows("jobs"), 3);

	/* pending -> ending, with a session.end job. */
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s1, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_str_eq(jstr(o, "status"), "ending");
	json_object_put(o);
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM jobs WHERE session_id = $1 AND kind = "
	                         "'session.end' AND state = 'queued'",
	                         1, p),
	                 1);
	/* Again: nothing changes, no second job. */
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s1, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_str_eq(jstr(o, "status"), "ending");
	json_object_put(o);
	ck_assert_int_eq(count_rows("jobs"), 4);
	/* active -> ending too. */
	set_session_status(s2, "active");
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s2, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	json_object_put(o);
	/* ended and failed stay as they are. */
	set_session_status(s3, "ended");
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s3, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_str_eq(jstr(o, "status"), "ended");
	json_object_put(o);
	set_session_status(s3, "failed");
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s3, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_str_eq(jstr(o, "status"), "failed");
	json_object_put(o);
	ck_assert_int_eq(count_rows("jobs"), 5);
	changed = 9;
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, NOBODY, &o, &changed),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(changed, 9);
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, "zz", &o, &changed),
	                 STORE_NOT_FOUND);
}
END_TEST

/* ---- tokens -------------------------------------------------------------------- */

START_TEST(test_tokens)
{
	char token[TOKEN_LEN], token2[TOKEN_LEN], tenant[UUID_STR_LEN], bad[TOKEN_LEN], id[UUID_STR_LEN];
	json_object *o = NULL;
	const char *p[1] = { id };
	char *v;

	ck_assert_int_eq(store_token_create(T_db, DEFAULT_TENANT_ID, "ci", token, &o), STORE_OK);
	ck_assert_int_eq(json_object_object_length(o), 3);
	ck_assert_str_eq(jstr(o, "name"), "ci");
	ck_assert(ids_is_uuid(jstr(o, "id")));
	ck_assert_uint_eq(strlen(jstr(o, "created_at")), TIMESTAMP_LEN - 1);
	ck_assert_int_eq(secret_token_id(token, id), 0);
	ck_assert_str_eq(id, jstr(o, "id"));
	json_object_put(o);

	/* Only a digest is stored. */
	v = T_value(T_db, "SELECT token_digest FROM api_tokens WHERE id = $1", 1, p);
	ck_assert_uint_eq(strlen(v), SECRET_DIGEST_LEN - 1);
	ck_assert_ptr_null(strstr(token, v));
	free(v);

	ck_assert_int_eq(store_token_check(T_db, token, tenant), STORE_OK);
	ck_assert_str_eq(tenant, DEFAULT_TENANT_ID);

	/* Wrong secret (last character changed), malformed, unknown id. */
	memcpy(bad, token, TOKEN_LEN);
	bad[TOKEN_LEN - 2] = bad[TOKEN_LEN - 2] == 'A' ? 'B' : 'A';
	memset(tenant, 'x', sizeof(tenant));
	ck_assert_int_eq(store_token_check(T_db, bad, tenant), STORE_NOT_FOUND);
	ck_assert_int_eq(tenant[0], 'x');
	ck_assert_int_eq(store_token_check(T_db, "kdn_nope", tenant), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_check(T_db, "", tenant), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_check(T_db, NULL, tenant), STORE_NOT_FOUND);
	memcpy(bad, token, TOKEN_LEN);
	memcpy(bad + 4, NOBODY, 36);
	ck_assert_int_eq(store_token_check(T_db, bad, tenant), STORE_NOT_FOUND);
	memcpy(bad, token, TOKEN_LEN);
	bad[TOKEN_LEN - 2] = '\0'; /* one character short */
	ck_assert_int_eq(store_token_check(T_db, bad, tenant), STORE_NOT_FOUND);

	/* A token of another tenant acts for that tenant; a revoked one for nobody. */
	add_tenant2();
	ck_assert_int_eq(store_token_create(T_db, TENANT2, "t2", token2, NULL), STORE_OK);
	ck_assert_int_eq(store_token_check(T_db, token2, tenant), STORE_OK);
	ck_assert_str_eq(tenant, TENANT2);
	T_run(T_db, "UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      p);
	ck_assert_int_eq(store_token_check(T_db, token, tenant), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_check(T_db, token2, tenant), STORE_OK);
	/* No such tenant. */
	ck_assert_int_eq(store_token_create(T_db, NOBODY, "x", token, NULL), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_create(T_db, "bad", "x", token, NULL), STORE_NOT_FOUND);
}
END_TEST

/* ---- jobs ---------------------------------------------------------------------- */

static int job_in(const struct store_job *jobs, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(jobs[i].id, id) == 0)
			return 1;
	return 0;
}

START_TEST(test_jobs_claim_and_finish)
{
	char dev[UUID_STR_LEN], s[3][UUID_STR_LEN];
	struct store_job a[4], b[4], c[4];
	int na = -1, nb = -1, nc = -1;
	char *v;

	mk_device(DEFAULT_TENANT_ID, "d", dev);
	for (int i = 0; i < 3; i++)
		mk_session(DEFAULT_TENANT_ID, dev, s[i]);

	ck_assert_int_eq(store_jobs_claim(T_db, "A", 60, 60, 2, a, &na), STORE_OK);
	ck_assert_int_eq(na, 2);
	for (int i = 0; i < na; i++) {
		ck_assert_str_eq(a[i].kind, "session.start");
		ck_assert_str_eq(a[i].tenant_id, DEFAULT_TENANT_ID);
		ck_assert_int_eq(a[i].attempts, 1);
		ck_assert(ids_is_uuid(a[i].session_id));
	}
	ck_assert_str_ne(a[0].id, a[1].id);
	ck_assert_int_eq(store_jobs_claim(T_db, "B", 60, 60, 4, b, &nb), STORE_OK);
	ck_assert_int_eq(nb, 1);
	ck_assert(!job_in(a, na, b[0].id));
	ck_assert_int_eq(store_jobs_claim(T_db, "C", 60, 60, 4, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 0);
	ck_assert_int_eq(store_jobs_claim(T_db, "C", 60, 60, 0, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 0);
	{
		const char *p[1] = { a[0].id };
		v = T_value(T_db, "SELECT locked_by FROM jobs WHERE id = $1", 1, p);
		ck_assert_str_eq(v, "A");
		free(v);
	}

	/* Only the lease holder finishes. */
	ck_assert_int_eq(store_job_finish(T_db, a[0].id, "B", "done", NULL, 0), STORE_CONFLICT);
	ck_assert_int_eq(store_job_finish(T_db, a[0].id, "A", "done", NULL, 0), STORE_OK);
	ck_assert_int_eq(store_job_finish(T_db, a[0].id, "A", "done", NULL, 0), STORE_CONFLICT);
	ck_assert_int_eq(store_job_finish(T_db, NOBODY, "A", "done", NULL, 0), STORE_NOT_FOUND);
	ck_assert_int_eq(store_job_finish(T_db, "x", "A", "done", NULL, 0), STORE_NOT_FOUND);
	ck_assert_int_eq(store_job_finish(T_db, a[1].id, "A", "bogus", NULL, 0), STORE_ERR);

	/* An expired lease is claimable again, and the old holder has lost it. */
	{
		const char *p[1] = { a[1].id };
		T_run(T_db, "UPDATE jobs SET locked_until = '2000-01-01T00:00:00.000Z' WHERE id = $1",
		      1, p);
	}
	ck_assert_int_eq(store_jobs_claim(T_db, "C", 60, 60, 4, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 1);
	ck_assert_str_eq(c[0].id, a[1].id);
	ck_assert_int_eq(c[0].attempts, 2);
	ck_assert_int_eq(store_job_finish(T_db, a[1].id, "A", "done", NULL, 0), STORE_CONFLICT);

	/* Back to queued with a delay: not due until the delay passes. */
	ck_assert_int_eq(store_job_finish(T_db, c[0].id, "C", "queued", "tunnel API said 429", 3600),
	                 STORE_OK);
	ck_assert_int_eq(store_jobs_claim(T_db, "D", 60, 60, 4, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 0);
	{
		const char *p[1] = { a[1].id };
		v = T_value(T_db, "SELECT last_error FROM jobs WHERE id = $1", 1, p);
		ck_assert_str_eq(v, "tunnel API said 429");
		free(v);
		T_run(T_db, "UPDATE jobs SET run_after = '2000-01-01T00:00:00.000Z' WHERE id = $1", 1,
		      p);
	}
	ck_assert_int_eq(store_jobs_claim(T_db, "D", 60, 60, 4, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 1);
	ck_assert_int_eq(c[0].attempts, 3);
	ck_assert_int_eq(store_job_finish(T_db, c[0].id, "D", "failed", "gave up", 0), STORE_OK);
	ck_assert_int_eq(store_job_finish(T_db, b[0].id, "B", "done", NULL, 0), STORE_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM jobs WHERE state = 'done'", 0, NULL), 2);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                               "last_error = 'gave up'",
	                         0, NULL),
	                 1);
	/* Finished jobs are never claimed again, even with an old lease. */
	T_run(T_db, "UPDATE jobs SET locked_until = '2000-01-01T00:00:00.000Z'", 0, NULL);
	ck_assert_int_eq(store_jobs_claim(T_db, "E", 60, 60, 4, c, &nc), STORE_OK);
	ck_assert_int_eq(nc, 0);
	ck_assert_int_eq(store_jobs_claim(T_db, "", 60, 60, 4, c, &nc), STORE_ERR);
	ck_assert_int_eq(store_jobs_claim(T_db, "E", 0, 60, 4, c, &nc), STORE_ERR);
}
END_TEST

#define NJOBS 60
#define NWORKERS 4

struct claimer {
	int index, claimed, failed;
	char ids[NJOBS][UUID_STR_LEN];
};

static void *claim_thread(void *p)
{
	struct claimer *w = p;
	struct db *db = NULL;
	char name[16];
	int empty = 0;

	snprintf(name, sizeof(name), "w%d", w->index);
	if (db_open(T_driver(), T_target, &db) != DB_OK) {
		w->failed = 1;
		return NULL;
	}
	while (empty < 3) {
		struct store_job jobs[3];
		int n = 0, rc = store_jobs_claim(db, name, 60, 60, 3, jobs, &n);
		if (rc == STORE_BUSY)
			continue;
		if (rc != STORE_OK) {
			w->failed = 1;
			break;
		}
		empty = n == 0 ? empty + 1 : 0;
		for (int i = 0; i < n && w->claimed < NJOBS; i++)
			memcpy(w->ids[w->claimed++], jobs[i].id, UUID_STR_LEN);
	}
	db_close(db);
	return NULL;
}

/* Several helperds claiming at once never get the same job, and together get all. */
START_TEST(test_jobs_claim_concurrent)
{
	static struct claimer w[NWORKERS];
	pthread_t th[NWORKERS];
	char all[NJOBS * NWORKERS][UUID_STR_LEN];
	int total = 0;

	for (int i = 0; i < NJOBS; i++) {
		char id[UUID_STR_LEN];
		const char *p[1] = { id };
		ids_uuid7(id);
		T_run(T_db,
		      "INSERT INTO jobs (id, tenant_id, kind, run_after) VALUES ($1, '" DEFAULT_TENANT_ID
		      "', 'test.noop', '2000-01-01T00:00:00.000Z')",
		      1, p);
	}
	for (int i = 0; i < NWORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].index = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, claim_thread, &w[i]), 0);
	}
	for (int i = 0; i < NWORKERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(w[i].failed, 0);
		for (int j = 0; j < w[i].claimed; j++)
			memcpy(all[total++], w[i].ids[j], UUID_STR_LEN);
	}
	ck_assert_int_eq(total, NJOBS);
	qsort(all, (size_t)total, UUID_STR_LEN, cmp_desc);
	for (int i = 1; i < total; i++)
		ck_assert_str_ne(all[i - 1], all[i]);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM jobs WHERE state = 'running' AND "
	                               "attempts = 1",
	                         0, NULL),
	                 NJOBS);
}
END_TEST

/* A job another transaction holds is skipped, not waited for (PostgreSQL: SKIP
 * LOCKED); on SQLite a reader's open snapshot does not hold up a claim (WAL). */
START_TEST(test_jobs_claim_skips_locked)
{
	char ids[3][UUID_STR_LEN];
	struct store_job got[4];
	struct db *other = T_open_again();
	int n = -1;

	for (int i = 0; i < 3; i++) {
		const char *p[1] = { ids[i] };
		ids_uuid7(ids[i]);
		T_run(T_db,
		      "INSERT INTO jobs (id, tenant_id, kind, run_after) VALUES ($1, '" DEFAULT_TENANT_ID
		      "', 'test.noop', '2000-01-01T00:00:00.000Z')",
		      1, p);
	}
	if (T_kind == DB_POSTGRES) {
		const char *p[1] = { ids[1] };
		/* A claim that waited would hit this and fail instead of hanging. */
		T_run(T_db, "SET statement_timeout = '3s'", 0, NULL);
		T_run(other, "BEGIN", 0, NULL);
		T_run(other, "SELECT id FROM jobs WHERE id = $1 FOR UPDATE", 1, p);
	} else {
		T_run(other, "BEGIN", 0, NULL);
		T_run(other, "SELECT count(*) FROM jobs", 0, NULL);
	}
	ck_assert_int_eq(store_jobs_claim(T_db, "A", 60, 60, 4, got, &n), STORE_OK);
	if (T_kind == DB_POSTGRES) {
		ck_assert_int_eq(n, 2);
		ck_assert(!job_in(got, n, ids[1]));
	} else {
		ck_assert_int_eq(n, 3);
	}
	db_rollback(other);
	db_close(other);
	ck_assert_int_eq(store_jobs_claim(T_db, "B", 60, 60, 4, got, &n), STORE_OK);
	ck_assert_int_eq(n, T_kind == DB_POSTGRES ? 1 : 0);
}
END_TEST

/* ---- across the board ---------------------------------------------------------- */

START_TEST(test_names_verbatim)
{
	static const char *const names[] = { "'); DROP TABLE devices;--", "x\"; DELETE FROM jobs",
	                                     "ünïcødé 设备 😀", "100%_\\" };
	char dev[UUID_STR_LEN];
	json_object *o = NULL;

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct store_session_new s = { dev, names[i], names[i], DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
		mk_device(DEFAULT_TENANT_ID, names[i], dev);
		ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, dev, &o), STORE_OK);
		ck_assert_str_eq(jstr(o, "name"), names[i]);
		json_object_put(o);
		ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
		ck_assert_str_eq(jstr(o, "engineer_name"), names[i]);
		ck_assert_str_eq(jstr(o, "notes"), names[i]);
		json_object_put(o);
		{
			struct store_list l;
			ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, names[i], NULL, &l),
			                 STORE_OK);
			ck_assert_int_ge(json_object_array_length(l.items), 1);
			json_object_put(l.items);
		}
	}
	ck_assert_int_eq(count_rows("devices"), (long)ARRAY_LEN(names));
	ck_assert_int_eq(count_rows("jobs"), (long)ARRAY_LEN(names));
}
END_TEST

START_TEST(test_tenant_scoping)
{
	char dev2[UUID_STR_LEN], sess2[UUID_STR_LEN], dev1[UUID_STR_LEN];
	json_object *o = NULL;
	struct store_list l;
	int changed;

	add_tenant2();
	mk_device(TENANT2, "theirs", dev2);
	mk_session(TENANT2, dev2, sess2);
	mk_device(DEFAULT_TENANT_ID, "ours", dev1);

	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, dev2, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(T_db, TENANT2, dev2, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(store_device_get(T_db, TENANT2, dev1, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(T_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), dev1);
	json_object_put(l.items);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, dev2), STORE_NOT_FOUND);
	{
		struct store_session_new s = { dev2, "Eve", NULL, DOMAIN, 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
		ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_NOT_FOUND);
	}
	ck_assert_int_eq(store_session_get(T_db, DEFAULT_TENANT_ID, sess2, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_session_set_notes(T_db, DEFAULT_TENANT_ID, sess2, "x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, sess2, &o, &changed),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_session_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(list_by(dev2, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(store_session_get(T_db, TENANT2, sess2, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "pending");
	json_object_put(o);
	/* The schema itself refuses a session pointing across tenants. */
	{
		const char *p[2] = { NOBODY, dev2 };
		ck_assert_int_eq(db_exec(T_db,
		                         "INSERT INTO sessions (id, tenant_id, device_id, short_id, "
		                         "engineer_name) VALUES ($1, '" DEFAULT_TENANT_ID
		                         "', $2, 'abcdefghij', 'x')",
		                         2, p, NULL),
		                 DB_CONSTRAINT);
	}
}
END_TEST

/* The install id: made by the first caller (on PostgreSQL the application's role, as
 * helperd is), 8 of [a-z2-7], the same for every later caller and connection; the
 * application may not change it. */
START_TEST(test_install_id)
{
	char first[INSTALL_ID_LEN + 1], again[INSTALL_ID_LEN + 1];
	struct db *app = T_kind == DB_POSTGRES ? T_open_app() : T_db, *other;

	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM install", 0, NULL), 0);
	ck_assert_int_eq(store_install_id(app, first), STORE_OK);
	ck_assert_int_eq((int)strlen(first), INSTALL_ID_LEN);
	ck_assert_int_eq((int)strspn(first, "abcdefghijklmnopqrstuvwxyz234567"), INSTALL_ID_LEN);
	ck_assert_int_eq(store_install_id(T_db, again), STORE_OK);
	ck_assert_str_eq(again, first);
	other = T_open_again();
	ck_assert_int_eq(store_install_id(other, again), STORE_OK);
	ck_assert_str_eq(again, first);
	db_close(other);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM install", 0, NULL), 1);
	/* One row only, of the right shape. */
	ck_assert_int_ne(db_exec(T_db, "INSERT INTO install (one, id) VALUES (2, 'abcdefgh')", 0,
	                         NULL, NULL),
	                 DB_OK);
	ck_assert_int_ne(db_exec(T_db, "UPDATE install SET id = 'ABC-1234'", 0, NULL, NULL), DB_OK);
	if (app != T_db) {
		ck_assert_int_ne(db_exec(app, "UPDATE install SET id = 'abcdefgh'", 0, NULL, NULL),
		                 DB_OK);
		ck_assert_int_ne(db_exec(app, "DELETE FROM install", 0, NULL, NULL), DB_OK);
		db_close(app);
	}
	ck_assert_int_eq(store_install_id(T_db, again), STORE_OK);
	ck_assert_str_eq(again, first);
}
END_TEST

START_TEST(test_health)
{
	char target[1024];
	struct db *empty = NULL;

	ck_assert_int_eq(store_health(T_db), STORE_OK);
	T_fresh_target(target, sizeof(target));
	ck_assert_int_eq(db_open(T_driver(), target, &empty), DB_OK);
	ck_assert_int_eq(store_health(empty), STORE_ERR); /* not migrated */
	db_close(empty);
	T_run(T_db, "DELETE FROM schema_migrations", 0, NULL);
	ck_assert_int_eq(store_health(T_db), STORE_ERR);
	T_run(T_db, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')", 0,
	      NULL);
	ck_assert_int_eq(store_health(T_db), STORE_ERR);
}
END_TEST

/* The rows of sql written both ways (store_list_fill's objects, serialized as a reply
 * is, and store_list_fill_text): the same bytes, returned (malloc'd) for more checks. */
static char *both_ways(const char *sql, const struct store_col *cols, int n, int rows)
{
	struct db_res *res = NULL;
	struct store_list objects, text;
	char *out;

	ck_assert_int_eq(db_exec(T_db, sql, 0, NULL, &res), DB_OK);
	ck_assert_int_eq(db_res_rows(res), rows);
	ck_assert_int_eq(store_list_fill(res, 200, cols, n, &objects), STORE_OK);
	ck_assert_int_eq(store_list_fill_text(res, 200, cols, n, &text), STORE_OK);
	ck_assert_ptr_null(text.items);
	ck_assert_msg(strcmp(text.text.data, json_object_to_json_string_ext(
	                                         objects.items, JSON_C_TO_STRING_PLAIN |
	                                                            JSON_C_TO_STRING_NOSLASHESCAPE)) == 0,
	              "text:    %s\nobjects: %s", text.text.data,
	              json_object_to_json_string_ext(objects.items, JSON_C_TO_STRING_PLAIN |
	                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
	out = strdup(text.text.data);
	json_object_put(objects.items);
	buf_clear(&text.text);
	db_res_free(res);
	return out;
}

/* A device list written as text is, byte for byte, what the objects gave: names and
 * facts with quotes, backslashes, every control character, DEL, UTF-8 of every length,
 * U+2028, NULLs; nodes with labels, resources and versions as JSON the database keeps
 * in its own form (jsonb spaces it), numbers past 64 bits, a boolean each way. Then
 * every column type by itself (integers at and past int64's edge, JSON in every
 * shape, invalid values), and a golden row. */
START_TEST(test_list_text_matches_objects)
{
	static const char *const names[] = {
		"plain", "quote \" back \\ slash / </script>", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
		"sep \xe2\x80\xa8 \xe2\x80\xa9 del \x7f", "\x01\x02\x03\x04\x05\x06\x07\b\t\n\x0b\f\r\x0e\x0f",
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f end",
	};
	static const struct store_col kinds[] = {
		{ "i", STORE_COL_INT }, { "j", STORE_COL_JSON }, { "b", STORE_COL_BOOL },
		{ "t", STORE_COL_TEXT },
	};
	char ids[8][UUID_STR_LEN], sql[512];
	json_object *cluster = NULL;
	char *text;
	int nd = (int)(sizeof(names) / sizeof(names[0]));

	ck_assert_int_eq(store_cluster_create(T_db, DEFAULT_TENANT_ID, "prod", "$argon2id$fake",
	                                      &cluster),
	                 STORE_OK);
	for (int i = 0; i < nd; i++) {
		const char *p[5] = { ids[i], names[i], names[(i + 1) % nd], names[(i + 2) % nd],
		                     names[(i + 3) % nd] };
		const char *node[3] = { ids[i], names[i], jstr(cluster, "id") };
		mk_device(DEFAULT_TENANT_ID, names[i], ids[i]);
		T_run(T_db, "UPDATE devices SET hostname = $2, os = $3, agent_version = $4, "
		            "ip_address = '192.0.2.1', node_reason = $5 WHERE id = $1", 5, p);
		if (i % 2)
			T_run(T_db, "UPDATE devices SET cluster_id = $3, node_name = $2, "
			            "node_status = 'Ready', status = 'online', last_seen = '2026-12-03T08:00:00Z', "
			            "node_updated_at = '2026-12-03T08:00:01.5Z' WHERE id = $1", 3, node);
	}
	{
		/* Node facts in the JSON columns, in forms json-c rewrites (spaces, escapes,
		 * number spellings). */
		const char *p[5] = {
			ids[1],
			"{\"kubernetes.io/os\" : \"linux\", \"q\":\"a\\\"b\\\\c\\u00e9\\n\\u001f\", \"empty\":{}, "
			"\"list\":[1, -2, 3.50, 1e3, -0, 12345678901234567890, true, null, \"\"]}",
			"{\"cpu\": \"4\", \"memory\": \"16Gi\", \"pods\": 110, \"ratio\": 0.1, "
			"\"nested\": {\"a\": [{\"b\": {}}]}}",
			"{\"kubelet\": \"v1.31.2\", \"os_image\": \"Debian GNU/Linux 12 (bookworm)\", "
			"\"\xe2\x80\xa8\": \"\xf0\x9f\x98\x80\"}",
			"1",
		};
		T_run(T_db, "UPDATE devices SET labels = $2, resources = $3, versions = $4, "
		            "unschedulable = $5 WHERE id = $1", 5, p);
		p[0] = ids[3];
		p[1] = "{}";
		p[2] = "[]";
		p[3] = "{\"kubelet\": null}";
		p[4] = "0";
		T_run(T_db, "UPDATE devices SET labels = $2, resources = $3, versions = $4, "
		            "unschedulable = $5 WHERE id = $1", 5, p);
	}
	free(both_ways("SELECT " STORE_DEVICE_COLUMNS " FROM devices ORDER BY id DESC",
	               store_device_cols, store_device_ncols, nd));
	/* One device as text (GET /devices/{id}) is its object serialized, each of them. */
	for (int i = 0; i < nd; i++) {
		json_object *object = NULL;
		struct buf one;
		buf_init(&one, 1024 * 1024);
		ck_assert_int_eq(buf_append(&one, "x", 1), 0); /* appended to, not replaced */
		ck_assert_int_eq(store_device_get_text(T_db, DEFAULT_TENANT_ID, ids[i], &one),
		                 STORE_OK);
		ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, ids[i], &object),
		                 STORE_OK);
		ck_assert_str_eq(one.data + 1, json_object_to_json_string_ext(
		                                   object, JSON_C_TO_STRING_PLAIN |
		                                               JSON_C_TO_STRING_NOSLASHESCAPE));
		ck_assert_int_eq(one.data[0], 'x');
		json_object_put(object);
		buf_clear(&one);
	}
	/* The real list (store_device_list itself, its text unparsed) writes that page. */
	{
		struct store_list l;
		char *want = both_ways("SELECT " STORE_DEVICE_COLUMNS " FROM devices WHERE "
		                       "deleted_at IS NULL ORDER BY id DESC LIMIT 3",
		                       store_device_cols, store_device_ncols, 3);
		struct store_page page = { 3, NULL };
		ck_assert_int_eq(store_device_list(T_db, DEFAULT_TENANT_ID, NULL, NULL, &page, &l),
		                 STORE_OK);
		ck_assert_str_eq(l.text.data, want);
		ck_assert_int_eq(l.has_more, 1);
		ck_assert_str_eq(l.next_cursor, ids[nd - 3]);
		buf_clear(&l.text);
		free(want);
	}
	/* Every column type alone, and what each does with a value it cannot use. */
	snprintf(sql, sizeof(sql), "%s",
	         "SELECT '9223372036854775807' AS i, '{\"a\" : [true, false, null], \"b\":1.50}' AS j, "
	         "'1' AS b, 'x/y' AS t "
	         "UNION ALL SELECT '-9223372036854775808', '\"str\\u0041\"', '0', '' "
	         "UNION ALL SELECT '007', '12345678901234567890', '2', NULL "
	         "UNION ALL SELECT '99999999999999999999', 'null', NULL, 'z' "
	         "UNION ALL SELECT '12x', 'not json', '0', 'z' "
	         "UNION ALL SELECT NULL, NULL, NULL, NULL "
	         "UNION ALL SELECT '-0', '[1e3, -0, 0.000001, 1E-7]', '1', '\"'");
	text = both_ways(sql, kinds, 4, 7);
	/* Golden: the bytes themselves, so a change on both sides still fails here. */
	ck_assert_str_eq(text,
	                 "[{\"i\":9223372036854775807,\"j\":{\"a\":[true,false,null],\"b\":1.50},"
	                 "\"b\":true,\"t\":\"x/y\"},"
	                 "{\"i\":-9223372036854775808,\"j\":\"strA\",\"b\":false,\"t\":\"\"},"
	                 "{\"i\":7,\"j\":12345678901234567890,\"b\":true,\"t\":null},"
	                 "{\"i\":null,\"j\":null,\"b\":null,\"t\":\"z\"},"
	                 "{\"i\":null,\"j\":null,\"b\":false,\"t\":\"z\"},"
	                 "{\"i\":null,\"j\":null,\"b\":null,\"t\":null},"
	                 "{\"i\":0,\"j\":[1e3,0,0.000001,1E-7],\"b\":true,\"t\":\"\\\"\"}]");
	free(text);
	json_object_put(cluster);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	T_ADD(sq, pg, test_device_create_get);
	T_ADD(sq, pg, test_device_get_missing);
	T_ADD(sq, pg, test_device_list_filters);
	T_ADD(sq, pg, test_device_list_pagination);
	T_ADD(sq, pg, test_device_list_limit_cap);
	T_ADD(sq, pg, test_list_text_matches_objects);
	T_ADD(sq, pg, test_device_delete);
	T_ADD(sq, pg, test_device_delete_busy);
	T_ADD(sq, pg, test_session_create);
	T_ADD(sq, pg, test_session_create_unknown_device);
	T_ADD(sq, pg, test_session_create_rolls_back);
	T_ADD(sq, pg, test_session_list);
	T_ADD(sq, pg, test_session_list_filters);
	T_ADD(sq, pg, test_session_notes);
	T_ADD(sq, pg, test_session_end);
	T_ADD(sq, pg, test_tokens);
	T_ADD(sq, pg, test_jobs_claim_and_finish);
	T_ADD(sq, pg, test_jobs_claim_concurrent);
	T_ADD(sq, pg, test_jobs_claim_skips_locked);
	T_ADD(sq, pg, test_names_verbatim);
	T_ADD(sq, pg, test_tenant_scoping);
	T_ADD(sq, pg, test_health);
	T_ADD(sq, pg, test_install_id);
	return T_main(s, sq, pg);
}
