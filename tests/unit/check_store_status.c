/* check_store_status.c: helperd heartbeat rows and the system counts (store_status.h),
 * the same cases on SQLite and on PostgreSQL (and there as the application's role, for
 * which the new table must be granted): a beat inserts then replaces its instance's row,
 * two instances keep two rows, a silent one is "not running" after three of its
 * intervals and pruned after a week; jobs, devices and sessions are counted by state
 * across tenants. */
#include "cfg.h"
#include "ids.h"
#include "store.h"
#include "store_status.h"
#include "testdb.h"

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member %s", key);
	return v;
}

static long num(json_object *o, const char *a, const char *b)
{
	return (long)json_object_get_int64(member(member(o, a), b));
}

static json_object *helperd_named(json_object *status, const char *name)
{
	json_object *list = member(status, "helperds");

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *h = json_object_array_get_idx(list, i);
		if (strcmp(jstr(h, "instance"), name) == 0)
			return h;
	}
	return NULL;
}

/* Sets instance's last beat ms milliseconds before now. */
static void beat_ago(struct db *db, const char *instance, int64_t ms)
{
	char at[TIMESTAMP_LEN];
	const char *p[2] = { at, instance };

	ids_timestamp(ids_now_ms() - ms, at);
	T_run(db, "UPDATE helperd_status SET heartbeat_at = $1 WHERE instance = $2", 2, p);
}

static void beats_on(struct db *db)
{
	struct store_beat a = { "helperd-a", "0.1.0", "2026-12-02T10:00:00.000Z", 5, 3, 1,
		                0, 0, 0, "10.0.0.5:8081" };
	struct store_beat b = { "helperd-b", "0.1.0", "2026-12-02T11:00:00.000Z", 5, 0, 0,
		                7, 1200, 300, NULL };
	struct store_peer peers[4];
	int npeers = -1;
	json_object *st = NULL, *h, *cf;
	const char *p[1] = { "helperd-b" };

	ck_assert_int_eq(store_status_beat(db, &a), STORE_OK);
	a.agents = 4; /* the next beat replaces the row */
	ck_assert_int_eq(store_status_beat(db, &a), STORE_OK);
	ck_assert_int_eq(store_status_beat(db, &b), STORE_OK);
	ck_assert_int_eq(store_status_get(db, 0, &st), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(member(st, "helperds")), 2);
	h = helperd_named(st, "helperd-a");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(json_object_get_boolean(member(h, "running")), 1);
	ck_assert_str_eq(jstr(h, "agents"), "4");
	ck_assert_str_eq(jstr(h, "relay_streams"), "1");
	ck_assert_str_eq(jstr(h, "every_seconds"), "5");
	ck_assert_str_eq(jstr(h, "started_at"), "2026-12-02T10:00:00.000Z");
	ck_assert(json_object_is_type(member(h, "cloudflare"), json_type_null));
	cf = member(helperd_named(st, "helperd-b"), "cloudflare");
	ck_assert_str_eq(jstr(cf, "calls_used"), "7");
	ck_assert_str_eq(jstr(cf, "budget"), "1200");
	ck_assert_str_eq(jstr(cf, "window_seconds"), "300");
	json_object_put(st);

	/* The peers other helperds can forward to: a (b says no address), or a by name. */
	ck_assert_int_eq(store_status_peers(db, NULL, peers, 4, &npeers), STORE_OK);
	ck_assert_int_eq(npeers, 1);
	ck_assert_str_eq(peers[0].instance, "helperd-a");
	ck_assert_str_eq(peers[0].address, "10.0.0.5:8081");
	ck_assert_int_eq(store_status_peers(db, "helperd-b", peers, 4, &npeers), STORE_OK);
	ck_assert_int_eq(npeers, 0);
	ck_assert_int_eq(store_status_peers(db, "helperd-a", peers, 4, &npeers), STORE_OK);
	ck_assert_int_eq(npeers, 1);
	/* Its last beat 16 s ago (more than 3 x 5 s, helperd_live's rule): not running, no
	 * peer; its last figures stay. */
	beat_ago(db, "helperd-a", 16000);
	ck_assert_int_eq(store_status_peers(db, NULL, peers, 4, &npeers), STORE_OK);
	ck_assert_int_eq(npeers, 0);
	ck_assert_int_eq(store_status_get(db, 0, &st), STORE_OK);
	h = helperd_named(st, "helperd-a");
	ck_assert_int_eq(json_object_get_boolean(member(h, "running")), 0);
	ck_assert_str_eq(jstr(h, "agents"), "4");
	json_object_put(st);
	/* 14 s ago: still running. */
	beat_ago(db, "helperd-a", 14000);
	ck_assert_int_eq(store_status_get(db, 0, &st), STORE_OK);
	ck_assert_int_eq(json_object_get_boolean(member(helperd_named(st, "helperd-a"), "running")), 1);
	json_object_put(st);

	/* A row silent for over a week is pruned by anyone's next beat. */
	T_run(db, "UPDATE helperd_status SET heartbeat_at = '2020-01-01T00:00:00.000Z' "
	          "WHERE instance = $1", 1, p);
	ck_assert_int_eq(store_status_beat(db, &a), STORE_OK);
	ck_assert_int_eq(store_status_get(db, 0, &st), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(member(st, "helperds")), 1);
	ck_assert_ptr_null(helperd_named(st, "helperd-b"));
	json_object_put(st);

	/* Nonsense is refused, nothing written. */
	a.instance = "";
	ck_assert_int_eq(store_status_beat(db, &a), STORE_ERR);
	a.instance = "helperd-a";
	a.every_s = 0;
	ck_assert_int_eq(store_status_beat(db, &a), STORE_ERR);
}

START_TEST(test_beats)
{
	beats_on(T_db);
}
END_TEST

/* PostgreSQL: helperd and kaiden-api connect as the application's role. */
START_TEST(test_beats_app_role)
{
	struct db *app = T_open_app();

	ck_assert_int_eq(db_session_set(app, "kaiden.staff", "on"), DB_OK);
	beats_on(app);
	db_close(app);
}
END_TEST

START_TEST(test_counts)
{
	json_object *st = NULL;
	static const char *const sql[] = {
		"INSERT INTO devices (id, tenant_id, name, status, secret_hash, created_at) VALUES "
		"('0190a2c4-0000-7000-8000-0000000000d1', '" DEFAULT_TENANT_ID "', 'a', 'online', 'h', "
		"'2026-12-01T00:00:00.000Z')",
		"INSERT INTO devices (id, tenant_id, name, status, secret_hash, created_at) VALUES "
		"('0190a2c4-0000-7000-8000-0000000000d2', '" TENANT2 "', 'b', 'offline', 'h', "
		"'2026-12-01T00:00:00.000Z')",
		"INSERT INTO devices (id, tenant_id, name, status, secret_hash, created_at, deleted_at) "
		"VALUES ('0190a2c4-0000-7000-8000-0000000000d3', '" TENANT2 "', 'c', 'online', 'h', "
		"'2026-12-01T00:00:00.000Z', '2026-12-01T01:00:00.000Z')",
	};

	ck_assert_int_eq(store_status_get(T_db, 0, &st), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(member(st, "helperds")), 0);
	ck_assert_int_eq(num(st, "jobs", "queued"), 0);
	ck_assert_int_eq(num(st, "devices", "total"), 0);
	ck_assert_int_eq(num(st, "sessions", "active"), 0);
	ck_assert_ptr_nonnull(jstr(st, "checked_at"));
	json_object_put(st);

	add_tenant2();
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		T_run(T_db, sql[i], 0, NULL);
	/* Online by its row, but held by no live helperd: not online. */
	ck_assert_int_eq(store_status_get(T_db, 0, &st), STORE_OK);
	ck_assert_int_eq(num(st, "devices", "total"), 2);
	ck_assert_int_eq(num(st, "devices", "online"), 0);
	json_object_put(st);
	T_run(T_db, "UPDATE devices SET helperd = 't-holder'", 0, NULL);
	T_live_helperd("t-holder");
	ck_assert_int_eq(store_status_get(T_db, 0, &st), STORE_OK);
	ck_assert_int_eq(num(st, "devices", "online"), 1);
	json_object_put(st);
	/* Its holder's heartbeat row three beats old: its devices with it. */
	T_run(T_db, "UPDATE helperd_status SET heartbeat_at = '2020-01-01T00:00:00.000Z'", 0, NULL);
	ck_assert_int_eq(store_status_get(T_db, 0, &st), STORE_OK);
	ck_assert_int_eq(num(st, "devices", "online"), 0);
	json_object_put(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_status");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_count;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_beats);
	T_ADD(sq, pg, test_counts);
	tcase_add_test(pg, test_beats_app_role);
	return T_main(s, sq, pg);
}
