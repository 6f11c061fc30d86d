/* check_utf8.c: the strict UTF-8 decoder (data-driven). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const struct {
	const char *bytes;
	size_t len;   /* bytes available */
	size_t want;  /* utf8_next's result: 0 = refused */
	unsigned cp;
} cases[] = {
	{ "A", 1, 1, 0x41 },
	{ "\x7f", 1, 1, 0x7f },
	{ "\xc2\x80", 2, 2, 0x80 },
	{ "\xdf\xbf", 2, 2, 0x7ff },
	{ "\xe0\xa0\x80", 3, 3, 0x800 },
	{ "\xed\x9f\xbf", 3, 3, 0xd7ff },   /* just below the surrogates */
	{ "\xee\x80\x80", 3, 3, 0xe000 },   /* just above them */
	{ "\xef\xbf\xbd", 3, 3, 0xfffd },
	{ "\xf0\x90\x80\x80", 4, 4, 0x10000 },
	{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
	{ "\xe2\x82\xac" "x", 4, 3, 0x20ac }, /* stops after one code point */
	{ "\x80", 1, 0, 0 },                 /* a stray continuation byte */
	{ "\xbf", 1, 0, 0 },
	{ "\xc0\x80", 2, 0, 0 },             /* overlong NUL */
	{ "\xc1\xbf", 2, 0, 0 },
	{ "\xe0\x9f\xbf", 3, 0, 0 },         /* overlong */
	{ "\xf0\x8f\xbf\xbf", 4, 0, 0 },     /* overlong */
	{ "\xed\xa0\x80", 3, 0, 0 },         /* U+D800 */
	{ "\xed\xbf\xbf", 3, 0, 0 },         /* U+DFFF */
	{ "\xf4\x90\x80\x80", 4, 0, 0 },     /* U+110000 */
	{ "\xf5\x80\x80\x80", 4, 0, 0 },
	{ "\xff", 1, 0, 0 },
	{ "\xe2\x82", 2, 0, 0 },             /* cut short by the length */
	{ "\xe2\x82\x00", 3, 0, 0 },         /* ... or by a NUL */
	{ "\xc3" "A", 2, 0, 0 },             /* not a continuation */
};

START_TEST(test_cases)
{
	unsigned cp = 0xdead;
	size_t n = utf8_next(cases[_i].bytes, cases[_i].len, &cp);

	ck_assert_msg(n == cases[_i].want, "case %d: %zu bytes, want %zu", _i, n, cases[_i].want);
	if (n)
		ck_assert_uint_eq(cp, cases[_i].cp);
	else
		ck_assert_uint_eq(cp, 0xdead); /* written only on success */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
