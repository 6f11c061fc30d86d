/* cf_budget.h: the arithmetic of Cloudflare's call budget (issue 15), one place for
 * helperd's own bucket (helperd/cf.c) and the account's shared row (store_shared.c, which
 * does the same sums in its one SQL statement, with cf_budget_capacity and
 * cf_budget_refill as its parameters).
 *
 * The promise: at most `budget` calls in ANY span of `window` milliseconds, however the
 * span is placed (Cloudflare counts 1200 per 5 minutes; its windows are not ours). A
 * token bucket holding at most C tokens and refilled at R tokens per window lets through
 * at most C + R calls in any span of one window (a full bucket spent at its start, then
 * every refill), so it keeps the promise only when C + R <= budget; a bucket of
 * C = R = budget lets 2 x budget through. Here
 *
 *   C = ceil(budget / 4)   the burst (at least 1)
 *   R = budget - C         tokens per window, the sustained rate (at least 1)
 *
 * so budget >= CF_BUDGET_MIN. Pure functions: the caller gives the clock (monotonic or
 * wall, milliseconds; a clock behind the bucket's refills nothing). */
#ifndef KAIDEN_CF_BUDGET_H
#define KAIDEN_CF_BUDGET_H

#include <stdint.h>

#define CF_BUDGET_MIN 2 /* a burst of 1 and a refill of 1 per window */

/* The burst C and the refill R per window of a budget (>= CF_BUDGET_MIN). */
int cf_budget_capacity(int budget);
int cf_budget_refill(int budget);

struct cf_bucket {
	double tokens;   /* what the bucket held at at_ms (0..capacity) */
	int64_t at_ms;   /* when tokens was last brought up to date */
};

/* Full (C tokens) at now_ms. */
void cf_bucket_init(struct cf_bucket *b, int budget, int64_t now_ms);
/* Refills for the time since at_ms, never past C, and moves at_ms to now_ms (not back). */
void cf_bucket_fill(struct cf_bucket *b, int budget, long window_ms, int64_t now_ms);
/* Fills, then takes one token when there is a whole one: 1, else 0. */
int cf_bucket_take(struct cf_bucket *b, int budget, long window_ms, int64_t now_ms);
/* Milliseconds after at_ms until want tokens will have come in all (those held and the
 * refill; 0 when held already): when the want-th call from now can go, if nobody else
 * takes one meanwhile. */
double cf_bucket_wait_ms(const struct cf_bucket *b, double want, int budget, long window_ms);

#endif
