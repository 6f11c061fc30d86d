/* check_lws_log.c: libwebsockets' lines into ours, a repeated line folded
 * (common/lws_log.c). */
#include <check.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "lws_log.h"

static int take(struct lws_log_run *run, const char *line, time_t now, unsigned *fold,
                long *fold_s)
{
	return lws_log_take(run, LLL_ERR, line, strlen(line), now, fold, fold_s);
}

START_TEST(test_a_storm_is_folded)
{
	struct lws_log_run run = { 0 };
	unsigned fold;
	long span;

	ck_assert_int_eq(take(&run, "accept: errno 24", 100, &fold, &span), 1);
	ck_assert_uint_eq(fold, 0);
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_eq(take(&run, "accept: errno 24", 100 + i / 1000, &fold, &span), 0);
		ck_assert_uint_eq(fold, 0);
	}
	/* another line ends the run: written, the count reported first */
	ck_assert_int_eq(take(&run, "client connect failed", 105, &fold, &span), 1);
	ck_assert_uint_eq(fold, 5000);
	ck_assert_int_eq(span, 5);
	/* a run of one: nothing to report */
	ck_assert_int_eq(take(&run, "accept: errno 24", 105, &fold, &span), 1);
	ck_assert_uint_eq(fold, 0);
}
END_TEST

START_TEST(test_the_window_passes)
{
	struct lws_log_run run = { 0 };
	unsigned fold;
	long span;

	ck_assert_int_eq(take(&run, "accept: errno 24", 100, &fold, &span), 1);
	ck_assert_int_eq(take(&run, "accept: errno 24", 100 + LWS_LOG_REPEAT_S - 1, &fold, &span),
	                 0);
	/* the same line once the window has passed: written again, the count first */
	ck_assert_int_eq(take(&run, "accept: errno 24", 100 + LWS_LOG_REPEAT_S, &fold, &span), 1);
	ck_assert_uint_eq(fold, 1);
	ck_assert_int_eq(span, LWS_LOG_REPEAT_S);
	/* a clock gone back starts a new run */
	ck_assert_int_eq(take(&run, "accept: errno 24", 50, &fold, &span), 1);
}
END_TEST

START_TEST(test_level_and_length)
{
	struct lws_log_run run = { 0 };
	char longer[LWS_LOG_LINE_MAX + 10];
	unsigned fold;
	long span;

	ck_assert_int_eq(lws_log_take(&run, LLL_ERR, "x", 1, 100, &fold, &span), 1);
	/* the same words at another level are another line */
	ck_assert_int_eq(lws_log_take(&run, LLL_WARN, "x", 1, 100, &fold, &span), 1);
	ck_assert_int_eq(lws_log_take(&run, LLL_WARN, "x", 1, 100, &fold, &span), 0);
	/* a prefix is not the line; it ends the run of "x" (one repeat) */
	ck_assert_int_eq(lws_log_take(&run, LLL_WARN, "xy", 2, 100, &fold, &span), 1);
	ck_assert_uint_eq(fold, 1);
	/* a line too long to keep is always written */
	memset(longer, 'a', sizeof(longer));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(lws_log_take(&run, LLL_WARN, longer, sizeof(longer), 100, &fold,
		                              &span), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lws_log");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_a_storm_is_folded);
	tcase_add_test(tc, test_the_window_passes);
	tcase_add_test(tc, test_level_and_length);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
