/* check_pgwatch.c: helperd's wake-up on SQLite (helperd/pgwatch.c): with the poll set
 * to its longest (helperd.poll_ms 60000), a commit by another connection (kaiden-api's,
 * here a second connection to the same file) kicks the jobs module within
 * milliseconds, through the watch on the database's directory; helperd's own writes
 * do not kick it. jobs_kick and the metrics are stand-ins. */
#include <check.h>
#include <time.h>
#include <uv.h>

#include "cfg.h"
#include "db.h"
#include "helperd.h"
#include "ids.h"
#include "jobs.h"
#include "metrics.h"
#include "pgwatch.h"
#include "testdb.h"

struct helperd helperd;

/* ---- stand-ins ------------------------------------------------------------------------- */
static int K_kicks;

void jobs_kick(void)
{
	K_kicks++;
}

void metrics_describe(const char *name, enum metrics_type type, const char *help)
{
	(void)name;
	(void)type;
	(void)help;
}
void metrics_inc(const char *name, const char *labels, double by)
{
	(void)name;
	(void)labels;
	(void)by;
}
void metrics_set(const char *name, const char *labels, double value)
{
	(void)name;
	(void)labels;
	(void)value;
}
void metrics_observe(const char *name, const char *labels, double seconds)
{
	(void)name;
	(void)labels;
	(void)seconds;
}

/* ---- fixture ---------------------------------------------------------------------------- */
static uv_loop_t L;

static void set(const char *name, const char *value)
{
	char err[256];

	ck_assert_msg(cfg_set(name, value, err, sizeof(err)) == 0, "%s", err);
}

static void setup(void)
{
	char err[256];

	T_setup_sqlite();
	ck_assert_int_eq(cfg_load(NULL, err, sizeof(err)), 0);
	set("database.driver", "sqlite");
	set("database.path", T_target);
	set("helperd.poll_ms", "60000");
	ck_assert_int_eq(uv_loop_init(&L), 0);
	helperd.loop = &L;
	helperd.db = T_db;
	K_kicks = 0;
	ck_assert_int_eq(pgwatch_init(), 0);
}

static void teardown(void)
{
	pgwatch_shutdown();
	uv_run(&L, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&L), 0);
	T_teardown();
}

static int W_done;

static void tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until jobs_kick has been called more than kicks times, or ms passed.
 * Returns how long it ran, in ms. */
static int64_t run_until_kicked(int kicks, int ms)
{
	int64_t start = ids_now_ms();
	uv_timer_t t;

	uv_timer_init(&L, &t);
	uv_timer_start(&t, tick, 5, 5);
	while (K_kicks <= kicks && ids_now_ms() - start < ms)
		uv_run(&L, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
	return ids_now_ms() - start;
}

/* ---- cases ------------------------------------------------------------------------------ */

START_TEST(test_sqlite_commit_kicks_at_once)
{
	struct db *api = T_open_again(); /* kaiden-api's connection */
	int64_t took;

	(void)W_done;
	T_run(T_db, "CREATE TABLE nudge (n INTEGER)", 0, NULL);
	/* The first poll (at once) records data_version; nothing has changed yet. */
	run_until_kicked(0, 100);
	ck_assert_int_eq(K_kicks, 0);

	/* helperd's own write changes nothing it must look at. */
	T_run(T_db, "INSERT INTO nudge VALUES (1)", 0, NULL);
	run_until_kicked(0, 200);
	ck_assert_int_eq(K_kicks, 0);

	/* Another connection commits: kicked within milliseconds, not at the next poll
	 * (60 s away). */
	T_run(api, "INSERT INTO nudge VALUES (2)", 0, NULL);
	took = run_until_kicked(0, 2000);
	ck_assert_int_eq(K_kicks, 1);
	ck_assert_msg(took < 500, "kicked after %lld ms", (long long)took);

	/* And again (the watch keeps going). */
	T_run(api, "INSERT INTO nudge VALUES (2)", 0, NULL);
	took = run_until_kicked(1, 2000);
	ck_assert_int_eq(K_kicks, 2);
	ck_assert_msg(took < 500, "kicked after %lld ms", (long long)took);
	db_close(api);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgwatch");
	TCase *sq = tcase_create("sqlite");
	SRunner *sr;
	int failed;

	(void)T_main;
	(void)T_setup_pg;
	(void)T_count;
	tcase_add_checked_fixture(sq, setup, teardown);
	tcase_set_timeout(sq, 30);
	tcase_add_test(sq, test_sqlite_commit_kicks_at_once);
	suite_add_tcase(s, sq);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
