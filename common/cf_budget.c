/* cf_budget.c: the burst and refill of a Cloudflare call budget, and the token bucket
 * they make (cf_budget.h says why these rates keep the promise). */
#include "cf_budget.h"

int cf_budget_capacity(int budget)
{
	int c = (budget + 3) / 4;

	return c < 1 ? 1 : c;
}

int cf_budget_refill(int budget)
{
	return budget - cf_budget_capacity(budget);
}

void cf_bucket_init(struct cf_bucket *b, int budget, int64_t now_ms)
{
	b->tokens = cf_budget_capacity(budget);
	b->at_ms = now_ms;
}

void cf_bucket_fill(struct cf_bucket *b, int budget, long window_ms, int64_t now_ms)
{
	double cap = cf_budget_capacity(budget);

	if (now_ms > b->at_ms) {
		b->tokens += (double)(now_ms - b->at_ms) * cf_budget_refill(budget) / (double)window_ms;
		b->at_ms = now_ms;
	}
	if (b->tokens > cap)
		b->tokens = cap;
}

int cf_bucket_take(struct cf_bucket *b, int budget, long window_ms, int64_t now_ms)
{
	cf_bucket_fill(b, budget, window_ms, now_ms);
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

double cf_bucket_wait_ms(const struct cf_bucket *b, double want, int budget, long window_ms)
{
	int refill = cf_budget_refill(budget);

	if (b->tokens >= want)
		return 0;
	if (refill < 1)
		return (double)window_ms * 1e6; /* never: a budget below CF_BUDGET_MIN */
	return (want - b->tokens) * (double)window_ms / refill;
}
