/* check_store_shared.c: what helperds on one database share (store_shared.h), the same
 * cases on SQLite and on PostgreSQL (there also as the application's role, for which
 * the tables must be granted), with the clock given, never waited for:
 *   - the Cloudflare budget: a full bucket gives its burst (a quarter of the budget) and
 *     then refuses, saying how much is left; it refills at the rest of the budget per
 *     window and never past the burst (a row of the old rates, fuller, is capped); a
 *     clock behind the row's refills nothing and does not move the row back; two
 *     connections (two helperds) spend one bucket between them; accounts are apart; on
 *     a simulated clock, no span of a window, wherever it starts, sees more than the
 *     budget, and the sustained rate is the refill (testbudget.h);
 *   - the sweep's turn: claimed when the last claim is half a period old, refused before
 *     (another instance or the same), claimed when the row is far in the future;
 *   - the sweep's lock: PostgreSQL: one connection holds it, the other is refused until
 *     it is given back or its holder's connection ends (a helperd that died); SQLite:
 *     always granted. */
#include "cfg.h"
#include "store.h"
#include "store_shared.h"
#include "testbudget.h"
#include "testdb.h"

#define ACCOUNT "0123456789abcdef0123456789abcdef"
#define T0 1800000000000LL /* ms: any fixed time */

/* One take at now_ms: took, and the tokens left into *left. */
static int take(struct db *db, const char *account, int64_t now_ms, int budget, long window,
                double *left)
{
	int took = -1;

	ck_assert_int_eq(store_cf_budget_take(db, account, now_ms, budget, window, &took, left),
	                 STORE_OK);
	ck_assert(took == 0 || took == 1);
	return took;
}

static void budget_on(struct db *a, struct db *b)
{
	double left = -1;
	int taken = 0;

	/* Budget 8 per 10 s: a burst of 2, then 6 per 10 s (a token every 1667 ms). Two
	 * connections take turns at one bucket: 2 tokens in all. */
	for (int i = 0; i < 6; i++)
		taken += take(i % 2 ? b : a, ACCOUNT, T0, 8, 10000, &left);
	ck_assert_int_eq(taken, 2);
	ck_assert(left >= 0 && left < 0.001);
	/* 1 s later a token is 0.6 of the way: still refused, and the refusal says so. */
	ck_assert_int_eq(take(a, ACCOUNT, T0 + 1000, 8, 10000, &left), 0);
	ck_assert(left > 0.59 && left < 0.61);
	/* 1.7 s in all: one whole token (refilled from the row's time), taken by b. */
	ck_assert_int_eq(take(b, ACCOUNT, T0 + 1700, 8, 10000, &left), 1);
	ck_assert(left > 0.019 && left < 0.021);
	/* A clock behind the row's refills nothing and keeps the row's time: 1634 ms after
	 * the row, one token, not two. */
	ck_assert_int_eq(take(a, ACCOUNT, T0, 8, 10000, &left), 0);
	ck_assert_int_eq(take(a, ACCOUNT, T0 + 3334, 8, 10000, &left), 1);
	ck_assert_int_eq(take(a, ACCOUNT, T0 + 3334, 8, 10000, &left), 0);
	/* A long quiet refills to the burst, not past it. */
	taken = 0;
	for (int i = 0; i < 6; i++)
		taken += take(b, ACCOUNT, T0 + 3600000, 8, 10000, &left);
	ck_assert_int_eq(taken, 2);
	/* A row the first rates left full (tokens = budget): capped at the burst. */
	T_run(a, "UPDATE cf_budget SET tokens = 8", 0, NULL);
	taken = 0;
	for (int i = 0; i < 6; i++)
		taken += take(a, ACCOUNT, T0 + 3600000, 8, 10000, &left);
	ck_assert_int_eq(taken, 2);
	/* Another account has its own bucket. */
	ck_assert_int_eq(take(a, "another-account", T0 + 3600000, 8, 10000, &left), 1);
	ck_assert(left > 0.99 && left < 1.01);
	/* Bad arguments are refused before any SQL: a budget of 1 has no refill. */
	{
		int took;
		ck_assert_int_eq(store_cf_budget_take(a, "", T0, 8, 10000, &took, &left), STORE_ERR);
		ck_assert_int_eq(store_cf_budget_take(a, ACCOUNT, T0, 1, 10000, &took, &left),
		                 STORE_ERR);
		ck_assert_int_eq(store_cf_budget_take(a, ACCOUNT, T0, 8, 0, &took, &left),
		                 STORE_ERR);
	}
}

/* testbudget.h's taker: the row, by two connections in turn, for an account of its own. */
struct window_taker {
	struct db *db[2];
	int turn, budget;
	long window_ms;
};

static int window_take(void *arg, int64_t now_ms)
{
	struct window_taker *w = arg;
	double left;

	return take(w->db[w->turn++ % 2], "window-account", now_ms, w->budget, w->window_ms,
	            &left);
}

/* The promise over any span: budgets 2 (the least), 5 and 8 per 10 s, a step of 100 ms
 * (shorter than any refill's token), and 1200 per 5 minutes (Cloudflare's own) stepped
 * every 200 ms (a token comes every 333 ms). */
static void windows_on(struct db *a, struct db *b)
{
	static const struct { int budget, burst; long window, step; } c[] = {
		{ 2, 1, 10000, 100 }, { 5, 2, 10000, 100 }, { 8, 2, 10000, 100 },
		{ 1200, 300, 300000, 200 },
	};
	static struct TB_run run;

	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		struct window_taker w = { { a, b }, 0, c[i].budget, c[i].window };

		T_run(a, "DELETE FROM cf_budget WHERE account = 'window-account'", 0, NULL);
		TB_check(window_take, &w, T0, c[i].budget, c[i].burst, c[i].window, c[i].step, &run);
	}
}

START_TEST(test_budget)
{
	struct db *other = T_open_again();

	budget_on(T_db, other);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM cf_budget", 0, NULL), 2);
	windows_on(T_db, other);
	db_close(other);
}
END_TEST

static int turn(struct db *db, const char *instance, int64_t now_ms)
{
	int claimed = -1;

	ck_assert_int_eq(store_sweep_turn(db, "sweep", instance, now_ms, 5000, &claimed),
	                 STORE_OK);
	return claimed;
}

static void turns_on(struct db *db)
{
	ck_assert_int_eq(turn(db, "h1", T0), 1);
	/* Less than half a period (5 s here) later: nobody, not even h1. */
	ck_assert_int_eq(turn(db, "h2", T0 + 4999), 0);
	ck_assert_int_eq(turn(db, "h1", T0 + 100), 0);
	/* Half a period later: whoever comes first. */
	ck_assert_int_eq(turn(db, "h2", T0 + 5000), 1);
	ck_assert_int_eq(turn(db, "h1", T0 + 5001), 0);
	/* A row from more than half a period in the future (a clock set back): claimed. */
	ck_assert_int_eq(turn(db, "h1", T0 - 1), 1);
	ck_assert_int_eq(turn(db, "h2", T0 + 1), 0);
}

START_TEST(test_turns)
{
	const char *p[1] = { "sweep" };
	char *who;

	turns_on(T_db);
	who = T_value(T_db, "SELECT instance FROM sweep_turns WHERE name = $1", 1, p);
	ck_assert_str_eq(who, "h1");
	free(who);
}
END_TEST

START_TEST(test_lock)
{
	struct db *other = T_open_again();
	int got = -1;

	ck_assert_int_eq(store_sweep_lock(T_db, &got), STORE_OK);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(store_sweep_lock(other, &got), STORE_OK);
	if (T_kind == DB_SQLITE) {
		/* One helperd on a SQLite file: the lock is always granted. */
		ck_assert_int_eq(got, 1);
		ck_assert_int_eq(store_sweep_unlock(other), STORE_OK);
		ck_assert_int_eq(store_sweep_unlock(T_db), STORE_OK);
		db_close(other);
		return;
	}
	ck_assert_int_eq(got, 0);
	ck_assert_int_eq(store_sweep_unlock(T_db), STORE_OK);
	ck_assert_int_eq(store_sweep_lock(other, &got), STORE_OK);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(store_sweep_lock(T_db, &got), STORE_OK);
	ck_assert_int_eq(got, 0);
	/* The holder's connection ends (its helperd died in mid-sweep): the lock goes with
	 * it. */
	db_close(other);
	got = 0;
	for (int i = 0; i < 200 && !got; i++) {
		ck_assert_int_eq(store_sweep_lock(T_db, &got), STORE_OK);
		if (!got)
			usleep(10000); /* the server ends the closed session in its own time */
	}
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(store_sweep_unlock(T_db), STORE_OK);
}
END_TEST

/* As the application's role (row-level security, grants): the same. */
START_TEST(test_app_role)
{
	struct db *app = T_open_app(), *app2 = T_open_app();

	budget_on(app, app2);
	turns_on(app);
	db_close(app2);
	db_close(app);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_shared");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_budget);
	T_ADD(sq, pg, test_turns);
	T_ADD(sq, pg, test_lock);
	tcase_add_test(pg, test_app_role);
	return T_main(s, sq, pg);
}
