/* testbudget.h: the Cloudflare budget's promise (common/cf_budget.h) checked on a
 * simulated clock (included; everything here is static): a taker (helperd's own bucket,
 * or the shared row) is driven in phases, greedy (asking until refused, at every step)
 * or idle, and the times of its takes are kept; TB_most_in_window then says the most any
 * span of one window holds, wherever it starts: the promise is that this is at most the
 * budget. Greedy from a full bucket is the worst case: the whole burst at once, then
 * every refill as it comes. */
#ifndef KAIDEN_TESTBUDGET_H
#define KAIDEN_TESTBUDGET_H

#include <check.h>
#include <stdint.h>

#define TB_MAX 8192

/* One take at now_ms: 1 took, 0 refused. */
typedef int (*TB_take_fn)(void *arg, int64_t now_ms);

struct TB_run {
	int64_t at[TB_MAX]; /* the takes' times, in order */
	int n;
	int64_t end;        /* where the clock stopped */
};

/* Drives take from t0 in steps of step_ms through phases[] (ms each; even ones greedy,
 * odd ones idle), appending to run (cleared first). */
static void TB_drive(TB_take_fn take, void *arg, int64_t t0, long step_ms, const long *phases,
                     int nphases, struct TB_run *run)
{
	int64_t t = t0;

	run->n = 0;
	for (int p = 0; p < nphases; p++) {
		int64_t stop = t + phases[p];
		for (; t < stop; t += step_ms) {
			if (p % 2)
				continue;
			while (take(arg, t)) {
				ck_assert_msg(run->n < TB_MAX, "more than %d takes", TB_MAX);
				run->at[run->n++] = t;
			}
		}
	}
	run->end = t;
}

/* The most takes in one closed span [a, a + window_ms], over every a (the most is
 * reached with a at a take). */
static int TB_most_in_window(const struct TB_run *run, long window_ms)
{
	int most = 0;

	for (int i = 0, j = 0; i < run->n; i++) {
		if (j < i)
			j = i;
		while (j < run->n && run->at[j] - run->at[i] <= window_ms)
			j++;
		if (j - i > most)
			most = j - i;
	}
	return most;
}

/* Takes in [from, to). */
static int TB_count(const struct TB_run *run, int64_t from, int64_t to)
{
	int n = 0;

	for (int i = 0; i < run->n; i++)
		n += run->at[i] >= from && run->at[i] < to;
	return n;
}

/* The checks every taker must pass, driven from a full bucket at t0 for budget per
 * window_ms (step_ms shorter than a token's refill): greedy for two windows (and two
 * steps), idle for one, greedy for one more. No span of a window holds more than the budget; the first
 * holds all of it (the burst at once, then the refill: the last token comes at the
 * window's end, so on the step there or the next); the second, greedy all along, gets
 * the refill alone (the sustained rate is budget - burst per window); a quiet window
 * refills the burst only, and the same follows. */
static void TB_check(TB_take_fn take, void *arg, int64_t t0, int budget, int burst,
                     long window_ms, long step_ms, struct TB_run *run)
{
	const long phases[] = { 2 * (window_ms + step_ms), window_ms, window_ms + 2 * step_ms };
	int64_t w = window_ms, s = step_ms, t3 = t0 + 3 * w + 2 * s;

	TB_drive(take, arg, t0, step_ms, phases, 3, run);
	ck_assert_msg(TB_most_in_window(run, window_ms) <= budget,
	              "budget %d: %d takes in one span of %ld ms", budget,
	              TB_most_in_window(run, window_ms), window_ms);
	ck_assert_int_eq(TB_count(run, t0, t0 + 1), burst);
	ck_assert_int_eq(TB_count(run, t0, t0 + w + s + 1), budget);
	ck_assert_int_eq(TB_count(run, t0 + w + s + 1, t0 + 2 * w + s + 1), budget - burst);
	ck_assert_int_eq(TB_count(run, t3, t3 + 1), burst);
	ck_assert_int_eq(TB_count(run, t3, t3 + w + s + 1), budget);
}

#endif
