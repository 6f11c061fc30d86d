/* check_cf.c: the Cloudflare client (helperd/cf.c over helperd/http.c) against the fake
 * API run as a child process: envelopes, retries, 429 with Retry-After, the budget,
 * DELETE's 404, paging (also when Cloudflare serves fewer than asked), and that no token
 * reaches the logs; http.c's pinned address, thrown-away body and shared multi handle;
 * the names of a session's objects (cf_name.c); and the budget's bucket
 * (common/cf_budget.c, which cf.c spends) on a simulated clock: never more than the
 * budget in any span of a window, the refill as the sustained rate, and wait estimates
 * that are right.
 *
 * Links cf.o and http.o with the stand-ins below for metrics.h (mosquitto style). */
#include <check.h>
#include <uv.h>

#include "cf.h"
#include "cf_budget.h"
#include "cf_name.h"
#include "fakecf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "testbudget.h"

/* ---- stand-ins ----------------------------------------------------------------- */
static int M_calls_total;
void metrics_describe(const char *name, enum metrics_type type, const char *help)
{
	(void)name;
	(void)type;
	(void)help;
}
void metrics_inc(const char *name, const char *labels, double by)
{
	(void)labels;
	if (strcmp(name, "kaiden_cf_calls_total") == 0)
		M_calls_total += (int)by;
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

/* ---- fixture ------------------------------------------------------------------- */
static uv_loop_t T_loop;

/* The shared budget (cf_config.budget_take) as a script: the answers of the first
 * asks (1 took, 0 spent with S_left tokens, -1 could not ask), then S_then for every
 * later one; NULL in the other fixtures. */
static int S_script[8], S_nscript, S_then, S_asks;
static double S_left;

static int shared_take(void *arg, int budget, long window_ms, double *tokens)
{
	int rc = S_asks < S_nscript ? S_script[S_asks] : S_then;

	(void)arg;
	(void)budget;
	(void)window_ms;
	S_asks++;
	*tokens = rc == 1 ? 3 : S_left;
	return rc;
}

static int (*S_take)(void *arg, int budget, long window_ms, double *tokens);

static void setup_with(int budget, long window_ms, long queue_max_ms)
{
	struct cf_config cfg = { 0 };

	log_init("check_cf", LOG_LVL_DEBUG);
	M_calls_total = 0;
	F_start(NULL);
	ck_assert_int_eq(uv_loop_init(&T_loop), 0);
	cfg.api_base = F_api;
	cfg.api_token = F_TOKEN;
	cfg.budget = budget;
	cfg.budget_window_ms = window_ms;
	cfg.max_attempts = 4;
	cfg.backoff_base_ms = 40;
	cfg.backoff_max_ms = 400;
	cfg.timeout_ms = 5000;
	cfg.queue_max_ms = queue_max_ms;
	cfg.budget_take = S_take;
	ck_assert_int_eq(cf_init(&T_loop, &cfg), 0);
	S_take = NULL;
}

static void setup(void)
{
	setup_with(1000, 0, 0);
}

static void teardown(void)
{
	cf_shutdown();
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&T_loop), 0);
	F_stop();
}

/* One finished call, copied out of the callback. */
struct got {
	int done;
	struct cf_result r;
	json_object *result; /* owned copy */
	double at;
};

static void got_cb(void *arg, const struct cf_result *res)
{
	struct got *g = arg;

	g->r = *res;
	g->r.result = NULL;
	g->result = res->result ? json_object_get(res->result) : NULL;
	g->at = F_now();
	g->done = 1;
}

static void wait_got(struct got *g)
{
	ck_assert_msg(F_run_until(&T_loop, &g->done, 20) == 0, "the call did not finish");
}

static void got_clear(struct got *g)
{
	json_object_put(g->result);
	memset(g, 0, sizeof(*g));
}

static json_object *tunnel_body(const char *name)
{
	json_object *b = json_object_new_object();

	json_object_object_add(b, "name", json_object_new_string(name));
	json_object_object_add(b, "config_src", json_object_new_string("cloudflare"));
	return b;
}

static const char *jget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

#define TUNNELS "/accounts/" F_ACCOUNT "/cfd_tunnel"
#define DNS "/zones/" F_ZONE "/dns_records"
#define APPS "/accounts/" F_ACCOUNT "/access/apps"

/* ---- tests --------------------------------------------------------------------- */

START_TEST(test_envelope_success_and_failure)
{
	struct got g = { 0 };

	ck_assert_ptr_nonnull(cf_call("POST", TUNNELS, tunnel_body("kaiden-sess-aaaaaaaaaa"),
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq(g.r.http_status, 200);
	ck_assert_int_eq(g.r.attempts, 1);
	ck_assert_ptr_nonnull(jget(g.result, "id"));
	ck_assert_str_eq(jget(g.result, "name"), "kaiden-sess-aaaaaaaaaa");
	got_clear(&g);

	/* The same live name again: 409 with code 1013, an API refusal (no retry). */
	ck_assert_ptr_nonnull(cf_call("POST", TUNNELS, tunnel_body("kaiden-sess-aaaaaaaaaa"),
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_FAILED);
	ck_assert_int_eq(g.r.http_status, 409);
	ck_assert_int_eq(g.r.code, 1013);
	ck_assert_int_eq(g.r.attempts, 1);
	ck_assert_ptr_null(g.result);
	got_clear(&g);

	/* A 200 whose envelope says success: false is still a failure (judge by success):
	 * an unknown route gives 404/7003 on GET. */
	ck_assert_ptr_nonnull(cf_call("GET", "/accounts/" F_ACCOUNT "/nothing", NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_FAILED);
	ck_assert_int_eq(g.r.code, 7003);
	got_clear(&g);
}
END_TEST

START_TEST(test_retry_500_then_success)
{
	struct got g = { 0 };

	F_faults("{\"fail\":[{\"method\":\"POST\",\"path\":\"/cfd_tunnel$\",\"status\":500,"
	         "\"count\":1}]}");
	ck_assert_ptr_nonnull(cf_call("POST", TUNNELS, tunnel_body("kaiden-sess-bbbbbbbbbb"),
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq(g.r.attempts, 2);
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(M_calls_total, 2);
	got_clear(&g);

	/* An HTML 502 from the edge is retried too; a dropped reply (transport error) too. */
	F_faults("{\"fail\":[{\"method\":\"GET\",\"path\":\"/cfd_tunnel$\",\"status\":502,"
	         "\"html\":true}],\"drop\":[{\"method\":\"GET\",\"path\":\"/cfd_tunnel$\"}]}");
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	/* libcurl itself resends once when a reused connection dies without a reply, so
	 * the drop may cost no attempt of ours; the fake saw all three. */
	ck_assert_int_ge(g.r.attempts, 2);
	ck_assert_int_eq(F_api_calls(), 2 + 3);
	got_clear(&g);
}
END_TEST

START_TEST(test_transient_gives_up)
{
	struct got g = { 0 };
	struct cf_stats st;

	F_faults("{\"fail\":[{\"method\":\"*\",\"path\":\"/dns_records\",\"status\":503,"
	         "\"count\":-1}]}");
	ck_assert_ptr_nonnull(cf_call("GET", DNS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_TRANSIENT);
	ck_assert_int_eq(g.r.attempts, 4);
	ck_assert_int_eq(g.r.http_status, 503);
	ck_assert_int_eq(g.r.code, 10001);
	cf_stats_get(&st);
	ck_assert_int_eq(st.retries, 3);
	ck_assert_int_eq(F_api_calls(), 4);
	got_clear(&g);
}
END_TEST

START_TEST(test_429_retry_after)
{
	struct got g = { 0 }, g2 = { 0 };
	struct cf_stats st;
	double t0;

	F_faults("{\"rate_limit_next\":1,\"retry_after\":2}");
	t0 = F_now();
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq(g.r.attempts, 2);
	/* Retry-After: 2 is honoured (backoff alone would be well under a second). */
	ck_assert_msg(g.at - t0 >= 1.95, "retried after %.2f s", g.at - t0);
	ck_assert_msg(g.at - t0 < 4.0, "took %.2f s", g.at - t0);
	cf_stats_get(&st);
	ck_assert_int_eq(st.rate_limited, 1);
	got_clear(&g);

	/* A 429 holds every call, not just the one that got it. */
	F_faults("{\"rate_limit_next\":1,\"retry_after\":1}");
	t0 = F_now();
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_ptr_nonnull(cf_call("GET", DNS, NULL, got_cb, &g2));
	wait_got(&g2);
	ck_assert_int_eq(g2.r.status, CF_OK);
	ck_assert_msg(g.at - t0 >= 0.95, "first retried after %.2f s", g.at - t0);
	got_clear(&g);
	got_clear(&g2);
}
END_TEST

/* The budget as the system page shows it: the requests sent in the last window, the
 * budget, the window (5 minutes by default). */
START_TEST(test_budget_get)
{
	struct got g[2];
	int used = -1, budget = 0;
	long window = 0;

	memset(g, 0, sizeof(g));
	ck_assert_int_eq(cf_budget_get(&used, &budget, &window), 0);
	ck_assert_int_eq(used, 0);
	ck_assert_int_eq(budget, 1000);
	ck_assert_int_eq(window, 300000);
	for (int i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g[i]));
	for (int i = 0; i < 2; i++)
		wait_got(&g[i]);
	ck_assert_int_eq(cf_budget_get(&used, &budget, &window), 0);
	ck_assert_int_eq(used, 2);
	for (int i = 0; i < 2; i++)
		got_clear(&g[i]);
}
END_TEST

/* No Cloudflare client: no budget. */
START_TEST(test_budget_get_without_client)
{
	int used, budget;
	long window;

	ck_assert_int_eq(cf_budget_get(&used, &budget, &window), -1);
}
END_TEST

/* A tiny budget: 8 calls in any second, a burst of 2 and 6 more per second. Nine calls
 * queue rather than fail: 2 at once, the other 7 as the refill comes, so the batch
 * takes at least 7 / 6 s (no more than the budget in a second, though the bucket starts
 * full); with the bucket of old (8 at once, 8 per second) it took 1/8 s. */
static void setup_tiny_budget(void)
{
	setup_with(8, 1000, 0);
}

START_TEST(test_budget_queues)
{
	struct got g[9];
	struct cf_stats st;
	double t0, last = 0;
	int all = 0;

	memset(g, 0, sizeof(g));
	t0 = F_now();
	for (int i = 0; i < 9; i++)
		ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g[i]));
	for (int i = 0; i < 9; i++) {
		wait_got(&g[i]);
		ck_assert_int_eq(g[i].r.status, CF_OK);
		all++;
		if (g[i].at > last)
			last = g[i].at;
	}
	ck_assert_int_eq(all, 9);
	ck_assert_msg(last - t0 >= 7.0 / 6 - 0.01, "9 calls took only %.2f s", last - t0);
	ck_assert_msg(last - t0 < 8.0, "9 calls at 6/s took %.2f s", last - t0);
	cf_stats_get(&st);
	ck_assert_int_ge(st.budget_waits, 7);
	ck_assert_int_eq(st.calls, 9);
	for (int i = 0; i < 9; i++)
		got_clear(&g[i]);
}
END_TEST

/* With a queue limit, a call that would wait longer is refused as transient at once:
 * 2 per 10 s is one at once and one 10 s later. */
static void setup_budget_refuses(void)
{
	setup_with(2, 10000, 1000);
}

START_TEST(test_budget_refuses_long_waits)
{
	struct got g[4];
	int ok = 0, transient = 0;

	memset(g, 0, sizeof(g));
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g[i]));
	for (int i = 0; i < 4; i++) {
		wait_got(&g[i]);
		if (g[i].r.status == CF_OK)
			ok++;
		else if (g[i].r.status == CF_TRANSIENT && strstr(g[i].r.message, "budget"))
			transient++;
		got_clear(&g[i]);
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(transient, 3);
	ck_assert_int_eq(F_api_calls(), 1);
}
END_TEST

/* The shared budget (other helperds spend it too): asked once per request, before it is
 * sent; a refusal makes the call wait until the shared bucket has refilled a token, and
 * nothing reaches the API meanwhile; a database that cannot be asked makes it wait and
 * ask again. Budget 10 per second (a burst of 3, 7 more per second): a refusal at 0.9
 * tokens left waits 15 ms. */
static void setup_shared(void)
{
	static const int script[] = { 0, 0, -1, 1 };

	memcpy(S_script, script, sizeof(script));
	S_nscript = (int)ARRAY_LEN(script);
	S_then = 1;
	S_asks = 0;
	S_left = 0.9;
	S_take = shared_take;
	setup_with(10, 1000, 0);
}

START_TEST(test_shared_budget_waits)
{
	struct got g = { 0 }, g2 = { 0 };
	struct cf_stats st;
	int used = 0, budget = 0;
	long window = 0;

	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	/* Refused twice, not asked once, then taken: four asks for one request. */
	ck_assert_int_eq(S_asks, 4);
	ck_assert_int_eq(F_api_calls(), 1);
	cf_stats_get(&st);
	ck_assert_int_eq(st.budget_refusals, 2);
	ck_assert_int_eq(st.calls, 1);
	/* The system page: one request sent in the window. */
	ck_assert_int_eq(cf_budget_get(&used, &budget, &window), 0);
	ck_assert_int_eq(used, 1);
	/* Every request asks once, retries included. */
	F_faults("{\"fail\":[{\"method\":\"GET\",\"path\":\"/cfd_tunnel$\",\"status\":500,"
	         "\"count\":1}]}");
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g2));
	wait_got(&g2);
	ck_assert_int_eq(g2.r.status, CF_OK);
	ck_assert_int_eq(g2.r.attempts, 2);
	ck_assert_int_eq(S_asks, 6);
	got_clear(&g);
	got_clear(&g2);
}
END_TEST

/* The shared budget stays spent (the other helperds took every token): a call that has
 * waited queue_max for it is refused as transient, saying the budget is spent, and never
 * reaches the API. */
static void setup_shared_spent(void)
{
	S_nscript = 0;
	S_then = 0;
	S_asks = 0;
	S_left = 0;
	S_take = shared_take;
	setup_with(2, 10000, 300);
}

START_TEST(test_shared_budget_spent_refuses)
{
	struct got g = { 0 };

	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_TRANSIENT);
	ck_assert_ptr_nonnull(strstr(g.r.message, "budget"));
	ck_assert_int_ge(S_asks, 1);
	ck_assert_int_eq(F_api_calls(), 0);
	got_clear(&g);
}
END_TEST

/* The shared budget kept as a real bucket of the same rates (another helperd's view of
 * the row, on the same clock): cf.c's mirror waits exactly as long as the row needs, so
 * a stream of calls is paced without asking the row in vain; a mirror of other rates
 * (the old budget per window: 8 a second where the row gives 6) would ask early and be
 * refused for most tokens. */
static struct cf_bucket R_row;

static int row_take(void *arg, int budget, long window_ms, double *tokens)
{
	int took = cf_bucket_take(&R_row, budget, window_ms, (int64_t)(uv_hrtime() / 1000000u));

	(void)arg;
	S_asks++;
	*tokens = R_row.tokens;
	return took;
}

static void setup_shared_paced(void)
{
	S_asks = 0;
	cf_bucket_init(&R_row, 8, (int64_t)(uv_hrtime() / 1000000u));
	S_take = row_take;
	setup_with(8, 1000, 0);
}

START_TEST(test_shared_budget_paced)
{
	struct got g[12];
	struct cf_stats st;

	memset(g, 0, sizeof(g));
	for (int i = 0; i < 12; i++)
		ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g[i]));
	for (int i = 0; i < 12; i++) {
		wait_got(&g[i]);
		ck_assert_int_eq(g[i].r.status, CF_OK);
		got_clear(&g[i]);
	}
	cf_stats_get(&st);
	ck_assert_int_eq(st.calls, 12);
	ck_assert_msg(st.budget_refusals <= 1, "the row refused %ld asks for 12 calls",
	              st.budget_refusals);
	ck_assert_int_le(S_asks, 13);
}
END_TEST

/* testbudget.h's taker: the bucket cf.c spends. */
struct bucket_taker {
	struct cf_bucket b;
	int budget;
	long window_ms;
};

static int bucket_take(void *arg, int64_t now_ms)
{
	struct bucket_taker *k = arg;

	return cf_bucket_take(&k->b, k->budget, k->window_ms, now_ms);
}

/* The promise over any span, on a simulated clock, for the least budget, small ones,
 * the default and Cloudflare's own limit (steps shorter than a refilled token). */
START_TEST(test_bucket_windows)
{
	static const struct { int budget, burst; long window, step; } c[] = {
		{ 2, 1, 10000, 100 }, { 3, 1, 10000, 100 }, { 5, 2, 10000, 100 },
		{ 8, 2, 10000, 100 }, { 1000, 250, 300000, 50 }, { 1200, 300, 300000, 50 },
	};
	static struct TB_run run;

	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		struct bucket_taker k = { { 0, 0 }, c[i].budget, c[i].window };

		ck_assert_int_eq(cf_budget_capacity(c[i].budget), c[i].burst);
		ck_assert_int_eq(cf_budget_refill(c[i].budget), c[i].budget - c[i].burst);
		cf_bucket_init(&k.b, c[i].budget, 1000);
		TB_check(bucket_take, &k, 1000, c[i].budget, c[i].burst, c[i].window, c[i].step,
		         &run);
	}
}
END_TEST

/* The wait estimates (cf.c's pump wake-up for the next token, cf_call's for the call
 * at the end of the queue) say when the bucket will give that token: not a millisecond
 * sooner, and it gives it then; a clock behind the bucket's refills nothing. */
START_TEST(test_bucket_waits)
{
	struct cf_bucket b, probe;
	const int budget = 8;
	const long window = 10000;
	double wait;
	int64_t t = 5000, at;
	int n = 0;

	cf_bucket_init(&b, budget, t);
	while (cf_bucket_take(&b, budget, window, t))
		n++;
	ck_assert_int_eq(n, 2);
	/* The next token: 10000 / 6 ms away. */
	wait = cf_bucket_wait_ms(&b, 1.0, budget, window);
	ck_assert(wait > 1666.6 && wait < 1666.7);
	at = t + (int64_t)wait + 1; /* the pump's wake-up */
	probe = b;
	ck_assert_int_eq(cf_bucket_take(&probe, budget, window, at - 2), 0);
	probe = b;
	ck_assert_int_eq(cf_bucket_take(&probe, budget, window, at), 1);
	/* The fifth call in the queue: five tokens in, past the burst (the refill counts). */
	wait = cf_bucket_wait_ms(&b, 5.0, budget, window);
	ck_assert(wait > 8333.3 && wait < 8333.4);
	n = 0;
	for (int64_t now = t; now <= t + (int64_t)wait + 1; now++)
		while (cf_bucket_take(&b, budget, window, now)) {
			n++;
			at = now;
		}
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(at, t + (int64_t)wait + 1);
	/* Nothing more for a clock set back, and the bucket's time stays. */
	ck_assert_int_eq(cf_bucket_take(&b, budget, window, t), 0);
	ck_assert_int_eq(b.at_ms, at);
	/* A long quiet: the burst, not more. */
	cf_bucket_fill(&b, budget, window, at + 3600000);
	ck_assert(b.tokens == 2.0);
}
END_TEST

START_TEST(test_delete_404_is_done)
{
	struct got g = { 0 };

	ck_assert_ptr_nonnull(cf_call("DELETE", DNS "/0123456789abcdef0123456789abcdef", NULL,
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq(g.r.gone, 1);
	ck_assert_int_eq(g.r.http_status, 404);
	got_clear(&g);

	/* A GET of something missing stays a failure. */
	ck_assert_ptr_nonnull(cf_call("GET", DNS "/0123456789abcdef0123456789abcdef", NULL,
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_FAILED);
	ck_assert_int_eq(g.r.code, 81044);
	got_clear(&g);
}
END_TEST

START_TEST(test_paging)
{
	struct got g = { 0 };

	for (int i = 0; i < 7; i++) {
		char name[64];
		json_object *b = json_object_new_object();
		snprintf(name, sizeof(name), "sess-page%d.example.com", i);
		json_object_object_add(b, "type", json_object_new_string("CNAME"));
		json_object_object_add(b, "name", json_object_new_string(name));
		json_object_object_add(b, "content", json_object_new_string("x.cfargotunnel.com"));
		json_object_object_add(b, "proxied", json_object_new_boolean(1));
		json_object_object_add(b, "ttl", json_object_new_int(1));
		json_object_object_add(b, "comment", json_object_new_string("kaiden-sess-page"));
		ck_assert_ptr_nonnull(cf_call("POST", DNS, b, got_cb, &g));
		wait_got(&g);
		ck_assert_int_eq(g.r.status, CF_OK);
		got_clear(&g);
	}
	ck_assert_ptr_nonnull(cf_list(DNS "?comment.startswith=kaiden-sess-", 3, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq((int)json_object_array_length(g.result), 7);
	ck_assert_int_eq(g.r.attempts, 1);
	/* 7 records, 3 per page: three GETs. */
	ck_assert_int_eq(F_api_calls(), 7 + 3);
	got_clear(&g);

	/* An empty list is one call. */
	ck_assert_ptr_nonnull(cf_list(TUNNELS "?is_deleted=false", 50, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq((int)json_object_array_length(g.result), 0);
	got_clear(&g);
}
END_TEST

/* Cloudflare may serve fewer items per page than asked (the fake caps Access lists): a
 * page shorter than the per_page asked for is not the last one; result_info says how
 * many there are. 5 apps, capped at 2 a page, asked 100: three GETs, all 5. */
START_TEST(test_paging_capped)
{
	struct got g = { 0 };
	json_object *log;

	for (int i = 0; i < 5; i++) {
		char body[200];
		snprintf(body, sizeof(body),
		         "{\"name\":\"kaiden-sess-cap%d\",\"type\":\"self_hosted\","
		         "\"domain\":\"cap%d.example.com\"}", i, i);
		json_object_put(F_api_post(APPS, body));
	}
	F_faults("{\"max_per_page\":{\"access\":2}}");
	ck_assert_ptr_nonnull(cf_list(APPS, 100, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq((int)json_object_array_length(g.result), 5);
	for (int i = 0; i < 5; i++) {
		char name[64];
		int seen = 0;
		snprintf(name, sizeof(name), "kaiden-sess-cap%d", i);
		for (size_t k = 0; k < json_object_array_length(g.result); k++)
			seen += strcmp(jget(json_object_array_get_idx(g.result, k), "name"), name) == 0;
		ck_assert_msg(seen == 1, "%s listed %d times", name, seen);
	}
	got_clear(&g);
	/* The GETs asked per_page=100 and pages 1, 2, 3 (the third with 1 item). */
	log = F_ctl("GET", "/_fake/log?kind=api", NULL);
	ck_assert_int_eq((int)json_object_array_length(log), 5 + 3);
	json_object_put(log);

	/* A page with nothing on it ends a list whatever result_info says. */
	ck_assert_ptr_nonnull(cf_list(APPS "?name=none", 100, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	ck_assert_int_eq((int)json_object_array_length(g.result), 0);
	ck_assert_int_eq(F_api_calls(), 5 + 3 + 1);
	got_clear(&g);
}
END_TEST

/* Neither the API token nor a tunnel token may reach the log; the request carried the
 * token (the fake accepted it) and a JSON content type (it refuses others). */
START_TEST(test_no_token_in_logs)
{
	struct got g = { 0 };
	char path[256], logfile[300], *tunnel_token;
	int saved, fd;
	FILE *f;
	struct buf text;
	char chunk[4096];
	size_t n;

	snprintf(logfile, sizeof(logfile), "%s/stderr.log", F_dir);
	fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);

	ck_assert_ptr_nonnull(cf_call("POST", TUNNELS, tunnel_body("kaiden-sess-cccccccccc"),
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	snprintf(path, sizeof(path), TUNNELS "/%s/token", jget(g.result, "id"));
	got_clear(&g);
	/* Errors and retries are logged: provoke some. */
	F_faults("{\"fail\":[{\"method\":\"GET\",\"path\":\"/token$\",\"status\":500}]}");
	ck_assert_ptr_nonnull(cf_call("GET", path, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_OK);
	tunnel_token = strdup(json_object_get_string(g.result));
	ck_assert_int_gt((int)strlen(tunnel_token), 20);
	got_clear(&g);
	ck_assert_ptr_nonnull(cf_call("POST", TUNNELS, tunnel_body("kaiden-sess-cccccccccc"),
	                              got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_FAILED);
	got_clear(&g);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	buf_init(&text, 1u << 20);
	f = fopen(logfile, "r");
	ck_assert_ptr_nonnull(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ck_assert_int_eq(buf_append(&text, chunk, n), 0);
	fclose(f);
	ck_assert_ptr_nonnull(text.data);
	ck_assert_ptr_nonnull(strstr(text.data, "retry"));       /* something was logged */
	ck_assert_ptr_null(strstr(text.data, F_TOKEN));
	ck_assert_ptr_null(strstr(text.data, "Bearer"));
	ck_assert_ptr_null(strstr(text.data, tunnel_token));
	buf_clear(&text);
	free(tunnel_token);
}
END_TEST

/* A wrong token is refused with 10000 and not retried. */
START_TEST(test_auth_refused)
{
	struct got g = { 0 };
	struct cf_config cfg = { 0 };

	cf_shutdown();
	uv_run(&T_loop, UV_RUN_DEFAULT);
	cfg.api_base = F_api;
	cfg.api_token = "wrong-token";
	cfg.budget = 100;
	ck_assert_int_eq(cf_init(&T_loop, &cfg), 0);
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g));
	wait_got(&g);
	ck_assert_int_eq(g.r.status, CF_FAILED);
	ck_assert_int_eq(g.r.code, 10000);
	ck_assert_int_eq(g.r.attempts, 1);
	got_clear(&g);
}
END_TEST

/* Cancelling calls (queued and on the wire) runs no callback and leaks nothing. */
START_TEST(test_cancel)
{
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	struct cf_call *a, *b;
	struct cf_stats st;

	F_faults("{\"latency_ms\":300}");
	a = cf_call("GET", TUNNELS, NULL, got_cb, &g1);
	b = cf_call("GET", DNS, NULL, got_cb, &g2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	cf_cancel(a); /* still queued */
	uv_run(&T_loop, UV_RUN_NOWAIT);
	F_sleep_ms(20);
	uv_run(&T_loop, UV_RUN_NOWAIT);
	cf_cancel(b); /* on the wire */
	ck_assert_ptr_nonnull(cf_call("GET", TUNNELS, NULL, got_cb, &g3));
	wait_got(&g3);
	ck_assert_int_eq(g1.done + g2.done, 0);
	cf_stats_get(&st);
	ck_assert_int_eq(st.queued + st.in_flight, 0);
	got_clear(&g3);
}
END_TEST

/* ---- names (cf_name.c): no fake needed ------------------------------------------ */

/* The names of a session's objects, as the orphan sweep reads them back: this
 * install's, another install's, the names made before issue 8, and what is none. */
START_TEST(test_make)
{
	char name[CF_NAME_SIZE];

	cf_name_make(name, "abcdefgh", "short23456", 0);
	ck_assert_str_eq(name, "kaiden-sess-abcdefgh-short23456");
	cf_name_make(name, "abcdefgh", "short23456", 1);
	ck_assert_str_eq(name, "kaiden-sess-abcdefgh-short23456-ssh");
	ck_assert_int_lt((int)strlen(name), CF_NAME_SIZE);
}
END_TEST

START_TEST(test_parse)
{
	struct cf_name n;

	ck_assert_int_eq(cf_name_parse("kaiden-sess-abcdefgh-short23456", &n), 0);
	ck_assert_int_eq(n.legacy, 0);
	ck_assert_str_eq(n.install, "abcdefgh");
	ck_assert_str_eq(n.short_id, "short23456");
	ck_assert_int_eq(n.ssh, 0);
	ck_assert_int_eq(cf_name_parse("kaiden-sess-abcdefgh-short23456-ssh", &n), 0);
	ck_assert_int_eq(n.ssh, 1);
	ck_assert_str_eq(n.short_id, "short23456");
	/* Before issue 8: no install id. */
	ck_assert_int_eq(cf_name_parse("kaiden-sess-short23456", &n), 0);
	ck_assert_int_eq(n.legacy, 1);
	ck_assert_str_eq(n.install, "");
	ck_assert_str_eq(n.short_id, "short23456");
	ck_assert_int_eq(cf_name_parse("kaiden-sess-short23456-ssh", &n), 0);
	ck_assert_int_eq(n.legacy, 1);
	ck_assert_int_eq(n.ssh, 1);
}
END_TEST

START_TEST(test_parse_refuses)
{
	static const char *const bad[] = {
		NULL, "", "wiki", "kaiden-sess-", "kaiden-sess-short2345",   /* 9 */
		"kaiden-sess-short234567",                                   /* 11 */
		"kaiden-sess-SHORT23456", "kaiden-sess-short23450",          /* 0 is not base32 */
		"kaiden-sess-short23456-web", "kaiden-sess-short23456-ssh-x",
		"kaiden-sess-abcdefgh-short2345", "kaiden-sess-abcdefg1-short23456",
		"kaiden-sess-abcdefghi-short23456", "kaiden-sess-abcdefgh-short23456x",
		"kaiden-sess-abcdefgh_short23456", "Kaiden-sess-abcdefgh-short23456",
		"xkaiden-sess-abcdefgh-short23456",
	};
	struct cf_name n;

	memset(&n, 0x5a, sizeof(n));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cf_name_parse(bad[i], &n) == -1, "%s parsed", bad[i] ? bad[i] : "NULL");
	ck_assert_int_eq(n.legacy, 0x5a5a5a5a); /* untouched on failure */
}
END_TEST

/* http.c's options for a URL someone else chose (webhooks): the pinned address is the one
 * connected to (a name nothing resolves reaches the fake only through the pin), the body
 * can be thrown away, and a second user of the multi handle does not end it for the
 * first. */
struct http_got {
	int done;
	long status;
	size_t body_len;
	int transport_error;
};

static void http_got_cb(void *arg, const struct http_response *resp)
{
	struct http_got *g = arg;

	g->status = resp->status;
	g->body_len = resp->body_len;
	g->transport_error = resp->transport_error;
	g->done = 1;
}

static void http_verify(const char *resolve, int discard, struct http_got *g)
{
	char url[256], pin[128], auth[128];
	const char *headers[2] = { auth, NULL };
	struct http_request req;

	snprintf(url, sizeof(url), "http://kaiden-pin.invalid:%d/client/v4/user/tokens/verify",
	         F_port);
	snprintf(pin, sizeof(pin), "kaiden-pin.invalid:%d:%s", F_port, resolve ? resolve : "");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F_TOKEN);
	memset(&req, 0, sizeof(req));
	memset(g, 0, sizeof(*g));
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.timeout_ms = 5000;
	req.resolve = resolve ? pin : NULL;
	req.protocols = "http";
	req.discard_body = discard;
	ck_assert_ptr_nonnull(http_request(&req, http_got_cb, g));
	ck_assert_msg(F_run_until(&T_loop, &g->done, 10) == 0, "the request did not finish");
}

START_TEST(test_http_pinned)
{
	struct http_got g;

	/* Without a pin the name does not resolve (first: a pin stays in the multi handle's
	 * DNS cache for that host and port). */
	http_verify(NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_ne(g.transport_error, 0);
	http_verify("127.0.0.1", 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_gt(g.body_len, 0);
	http_verify("127.0.0.1", 1, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.body_len, 0);
	/* A second user comes and goes: the first one's client still works. */
	ck_assert_int_eq(http_init(&T_loop), 0);
	http_shutdown();
	http_verify("127.0.0.1", 1, &g);
	ck_assert_int_eq(g.status, 200);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cf");
	TCase *tc = tcase_create("fake");
	TCase *tb = tcase_create("budget");
	TCase *tr = tcase_create("budget_refuse");
	TCase *ts = tcase_create("budget_shared");
	TCase *tz = tcase_create("budget_shared_spent");
	TCase *tp = tcase_create("budget_shared_paced");
	TCase *tn = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_envelope_success_and_failure);
	tcase_add_test(tc, test_retry_500_then_success);
	tcase_add_test(tc, test_transient_gives_up);
	tcase_add_test(tc, test_429_retry_after);
	tcase_add_test(tc, test_delete_404_is_done);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_paging_capped);
	tcase_add_test(tc, test_no_token_in_logs);
	tcase_add_test(tc, test_auth_refused);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_budget_get);
	tcase_add_test(tc, test_http_pinned);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tb, setup_tiny_budget, teardown);
	tcase_set_timeout(tb, 60);
	tcase_add_test(tb, test_budget_queues);
	suite_add_tcase(s, tb);
	tcase_add_checked_fixture(tr, setup_budget_refuses, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_budget_refuses_long_waits);
	suite_add_tcase(s, tr);
	tcase_add_checked_fixture(ts, setup_shared, teardown);
	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_shared_budget_waits);
	suite_add_tcase(s, ts);
	tcase_add_checked_fixture(tz, setup_shared_spent, teardown);
	tcase_set_timeout(tz, 60);
	tcase_add_test(tz, test_shared_budget_spent_refuses);
	suite_add_tcase(s, tz);
	tcase_add_checked_fixture(tp, setup_shared_paced, teardown);
	tcase_set_timeout(tp, 60);
	tcase_add_test(tp, test_shared_budget_paced);
	suite_add_tcase(s, tp);
	tcase_add_test(tn, test_make);
	tcase_add_test(tn, test_budget_get_without_client);
	tcase_add_test(tn, test_parse);
	tcase_add_test(tn, test_parse_refuses);
	tcase_add_test(tn, test_bucket_windows);
	tcase_add_test(tn, test_bucket_waits);
	suite_add_tcase(s, tn);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
