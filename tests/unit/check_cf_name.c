/* check_cf_name.c: the names of a session's Cloudflare objects (helperd/cf_name.c), as
 * the orphan sweep reads them back: this install's, another install's, the names made
 * before issue 8, and what is none of them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cf_name.h"

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

int main(void)
{
	Suite *s = suite_create("cf_name");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_make);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_parse_refuses);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
