/* check_hub.c: the hub's pure parts (hub_util.h: client address, failed-auth rate
 * limiter, device map) and the metrics registry's exposition text. The hub on real
 * sockets is tests/integration/case-60-agents.sh. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helperd.h"
#include "hub_util.h"
#include "log.h"
#include "metrics.h"

/* metrics.c's listener refers to the one instance (main.c in the program). */
struct helperd helperd;

static void pick(const char *peer, int trusted, const char *xff, const char *xreal,
                 const char *want)
{
	char out[HUB_ADDR_LEN];

	hub_addr_pick(peer, trusted, xff, xreal, out);
	ck_assert_msg(strcmp(out, want) == 0, "peer=%s trusted=%d xff=%s xreal=%s: got %s want %s",
	              peer, trusted, xff ? xff : "-", xreal ? xreal : "-", out, want);
}

START_TEST(test_loopback)
{
	ck_assert(hub_addr_is_loopback("127.0.0.1"));
	ck_assert(hub_addr_is_loopback("127.8.9.10"));
	ck_assert(hub_addr_is_loopback("::1"));
	ck_assert(hub_addr_is_loopback("::ffff:127.0.0.1"));
	ck_assert(!hub_addr_is_loopback("10.0.0.1"));
	ck_assert(!hub_addr_is_loopback("127.example.com"));
	ck_assert(!hub_addr_is_loopback("::2"));
	ck_assert(!hub_addr_is_loopback(""));
	ck_assert(!hub_addr_is_loopback(NULL));
}
END_TEST

START_TEST(test_addr_pick)
{
	/* An untrusted peer is taken as it is, whatever it claims. */
	pick("203.0.113.5", 0, "198.51.100.1", "198.51.100.2", "203.0.113.5");
	/* Behind the proxy: the last X-Forwarded-For entry is the proxy's word. */
	pick("127.0.0.1", 1, "198.51.100.1", NULL, "198.51.100.1");
	pick("127.0.0.1", 1, "6.6.6.6, 198.51.100.1", NULL, "198.51.100.1");
	pick("127.0.0.1", 1, "6.6.6.6,198.51.100.1 ", "7.7.7.7", "198.51.100.1");
	pick("127.0.0.1", 1, "2001:db8::1", NULL, "2001:db8::1");
	/* X-Real-IP only without X-Forwarded-For. */
	pick("127.0.0.1", 1, NULL, "198.51.100.9", "198.51.100.9");
	pick("127.0.0.1", 1, "", "198.51.100.9", "198.51.100.9");
	/* Junk in a header is ignored. */
	pick("127.0.0.1", 1, "not-an-ip", NULL, "127.0.0.1");
	pick("127.0.0.1", 1, "1.2.3.4, <script>", NULL, "127.0.0.1");
	pick("127.0.0.1", 1, NULL, "x", "127.0.0.1");
	/* A Unix socket peer has no address. */
	pick("", 1, NULL, NULL, "local");
	pick("", 1, "192.0.2.4", NULL, "192.0.2.4");
}
END_TEST

START_TEST(test_rate)
{
	struct hub_rate *r = malloc(sizeof(*r));
	int64_t t = 1000000;

	ck_assert_ptr_nonnull(r);
	hub_rate_init(r);
	ck_assert(!hub_rate_limited(r, "192.0.2.1", t));
	for (int i = 0; i < HUB_RATE_BURST; i++) {
		ck_assert_msg(!hub_rate_limited(r, "192.0.2.1", t), "limited after %d failures", i);
		hub_rate_fail(r, "192.0.2.1", t);
	}
	ck_assert(hub_rate_limited(r, "192.0.2.1", t));
	/* Another address is not affected. */
	ck_assert(!hub_rate_limited(r, "192.0.2.2", t));
	/* One more try after one refill period, not two. */
	t += HUB_RATE_REFILL_MS;
	ck_assert(!hub_rate_limited(r, "192.0.2.1", t));
	hub_rate_fail(r, "192.0.2.1", t);
	ck_assert(hub_rate_limited(r, "192.0.2.1", t));
	/* A long quiet spell restores the whole burst. */
	t += (int64_t)HUB_RATE_REFILL_MS * HUB_RATE_BURST * 3;
	for (int i = 0; i < HUB_RATE_BURST; i++) {
		ck_assert(!hub_rate_limited(r, "192.0.2.1", t));
		hub_rate_fail(r, "192.0.2.1", t);
	}
	ck_assert(hub_rate_limited(r, "192.0.2.1", t));
	free(r);
}
END_TEST

START_TEST(test_rate_flood)
{
	struct hub_rate *r = malloc(sizeof(*r));
	char addr[HUB_ADDR_LEN];
	int64_t t = 5000;
	int limited = 0;

	ck_assert_ptr_nonnull(r);
	hub_rate_init(r);
	/* Many more addresses than slots: no crash, bounded memory, and the table keeps
	 * working (an address that fails repeatedly right now is limited). */
	for (int i = 0; i < HUB_RATE_SLOTS * 4; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		hub_rate_fail(r, addr, t);
	}
	for (int i = 0; i < HUB_RATE_BURST; i++)
		hub_rate_fail(r, "192.0.2.77", t);
	limited = hub_rate_limited(r, "192.0.2.77", t);
	ck_assert(limited);
	free(r);
}
END_TEST

START_TEST(test_map)
{
	struct hub_map m;
	char key[64];
	int values[3000];

	hub_map_init(&m);
	ck_assert_ptr_null(hub_map_get(&m, "0190a2c4-0000-7000-8000-000000000000"));
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "0190a2c4-0000-7000-8000-%012d", i);
		ck_assert_int_eq(hub_map_put(&m, key, &values[i]), 0);
	}
	ck_assert_uint_eq(m.count, 3000);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "0190a2c4-0000-7000-8000-%012d", i);
		ck_assert_ptr_eq(hub_map_get(&m, key), &values[i]);
	}
	/* Replacing keeps one entry; deleting only when the value matches. */
	ck_assert_int_eq(hub_map_put(&m, "0190a2c4-0000-7000-8000-000000000007", &values[0]), 0);
	ck_assert_uint_eq(m.count, 3000);
	ck_assert_int_eq(hub_map_del(&m, "0190a2c4-0000-7000-8000-000000000007", &values[7]), 0);
	ck_assert_int_eq(hub_map_del(&m, "0190a2c4-0000-7000-8000-000000000007", &values[0]), 1);
	ck_assert_ptr_null(hub_map_get(&m, "0190a2c4-0000-7000-8000-000000000007"));
	ck_assert_int_eq(hub_map_del(&m, "0190a2c4-0000-7000-8000-000000000008", NULL), 1);
	ck_assert_uint_eq(m.count, 2998);
	/* Keys longer than a UUID are refused. */
	ck_assert_int_eq(hub_map_put(&m, "0190a2c4-0000-7000-8000-0000000000000000", &values[1]), -1);
	hub_map_clear(&m);
	ck_assert_uint_eq(m.count, 0);
}
END_TEST

START_TEST(test_metrics_text)
{
	char *text;

	metrics_describe("kaiden_test_total", METRICS_COUNTER, "a test counter");
	metrics_describe("kaiden_test_idle", METRICS_GAUGE, "never set");
	metrics_inc("kaiden_test_total", "state=\"done\"", 2);
	metrics_inc("kaiden_test_total", "state=\"done\"", 1);
	metrics_inc("kaiden_test_total", "state=\"failed\"", 1);
	metrics_set("kaiden_test_gauge", NULL, 42);
	metrics_set("kaiden_test_gauge", NULL, 7.5);
	metrics_describe("kaiden_test_seconds", METRICS_HISTOGRAM, "a test histogram");
	metrics_observe("kaiden_test_seconds", "op=\"x\"", 0.003);
	metrics_observe("kaiden_test_seconds", "op=\"x\"", 0.2);
	metrics_observe("kaiden_test_seconds", "op=\"x\"", 100);
	text = metrics_render();
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "# HELP kaiden_test_total a test counter\n"
	                                   "# TYPE kaiden_test_total counter\n"
	                                   "kaiden_test_total{state=\"done\"} 3\n"
	                                   "kaiden_test_total{state=\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE kaiden_test_idle gauge\nkaiden_test_idle 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_gauge 7.5\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_bucket{op=\"x\",le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_bucket{op=\"x\",le=\"0.25\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_bucket{op=\"x\",le=\"60\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_bucket{op=\"x\",le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_count{op=\"x\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "kaiden_test_seconds_sum{op=\"x\"} 100.203\n"));
	free(text);
	metrics_free();
	text = metrics_render();
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hub");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	log_init("check", LOG_LVL_WARN);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_addr_pick);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_rate_flood);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_metrics_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
