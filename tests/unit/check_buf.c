/* check_buf.c: the capped buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(test_append_and_cap)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_puts(&b, "hello"), 0);
	ck_assert_int_eq(buf_printf(&b, "%d", 1234), 0);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_uint_eq(b.len, 9);
	/* Passing the cap fails and leaves the buffer as it was. */
	ck_assert_int_eq(buf_puts(&b, "xy"), -1);
	ck_assert_int_eq(buf_printf(&b, "%s", "xy"), -1);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_int_eq(buf_puts(&b, "z"), 0);
	ck_assert_uint_eq(b.len, 10);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_clear(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_grow_and_take)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(buf_append(&b, "ab", 2), 0);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_int_eq(b.data[20000], '\0');
	s = buf_take(&b);
	ck_assert_uint_eq(strlen(s), 20000);
	ck_assert_ptr_null(b.data);
	free(s);
	s = buf_take(&b); /* empty: "" not NULL */
	ck_assert_str_eq(s, "");
	free(s);
	/* A length that would overflow size_t arithmetic is refused, not wrapped. */
	buf_init(&b, (size_t)-1);
	ck_assert_int_eq(buf_puts(&b, "x"), 0);
	ck_assert_int_eq(buf_append(&b, "x", (size_t)-1), -1);
	buf_clear(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_append_and_cap);
	tcase_add_test(tc, test_grow_and_take);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
