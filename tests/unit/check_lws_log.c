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

/* helperd at its descriptor share: each connection past it gives lws's pair of lines, and
 * the pair folds as one line does. The follower alone, or after another line, is
 * written. */
START_TEST(test_a_follower_folds_with_its_line)
{
	struct lws_log_run run = { 0 };
	unsigned fold;
	long span;
	const char *high = "Socket fd 32 is too high (32) offset 0";
	const char *insert = "lws_adopt_descriptor_vhost2: fail inserting socket";

	ck_assert_int_eq(take(&run, high, 100, &fold, &span), 1);
	ck_assert_int_eq(take(&run, insert, 100, &fold, &span), 0);
	for (int i = 0; i < 189; i++) {
		ck_assert_int_eq(take(&run, high, 101, &fold, &span), 0);
		ck_assert_int_eq(take(&run, insert, 101, &fold, &span), 0);
	}
	ck_assert_int_eq(take(&run, "client connect failed", 102, &fold, &span), 1);
	ck_assert_uint_eq(fold, 189);
	/* after another line, and with no run at all: written */
	ck_assert_int_eq(take(&run, insert, 102, &fold, &span), 1);
	struct lws_log_run fresh = { 0 };
	ck_assert_int_eq(take(&fresh, insert, 100, &fold, &span), 1);
	/* past the window: written */
	ck_assert_int_eq(take(&run, high, 103, &fold, &span), 1);
	ck_assert_int_eq(take(&run, insert, 103 + LWS_LOG_REPEAT_S, &fold, &span), 1);
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
	tcase_add_test(tc, test_a_follower_folds_with_its_line);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
