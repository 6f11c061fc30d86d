/* check_ids.c: ids and secrets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "secret.h"

START_TEST(test_uuid7_shape_and_order)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN];

	ids_uuid7(a);
	ck_assert(ids_is_uuid(a));
	ck_assert_int_eq(a[14], '7'); /* version */
	ck_assert(strchr("89ab", a[19]) != NULL); /* variant */
	/* Ids made one after another sort in that order, also within one millisecond
	 * (thousands are made per millisecond here). */
	for (int i = 0; i < 20000; i++) {
		ids_uuid7(b);
		ck_assert_msg(strcmp(a, b) < 0, "%s !< %s", a, b);
		memcpy(a, b, sizeof(a));
	}
	struct timespec ts = { 0, 3000000 };
	nanosleep(&ts, NULL);
	ids_uuid7(b);
	ck_assert_int_lt(strcmp(a, b), 0);
}
END_TEST

START_TEST(test_is_uuid)
{
	ck_assert(ids_is_uuid("0192f3a4-1b2c-7d3e-8f40-123456789abc"));
	ck_assert(ids_is_uuid("0192F3A4-1B2C-7D3E-8F40-123456789ABC"));
	ck_assert(!ids_is_uuid(NULL));
	ck_assert(!ids_is_uuid(""));
	ck_assert(!ids_is_uuid("0192f3a4-1b2c-7d3e-8f40-123456789abg"));
	ck_assert(!ids_is_uuid("0192f3a4-1b2c-7d3e-8f40-123456789abcd"));
	ck_assert(!ids_is_uuid("0192f3a41b2c-7d3e-8f40-123456789abcd"));
	ck_assert(!ids_is_uuid("'); DROP TABLE devices;--"));
}
END_TEST

START_TEST(test_uuid_lower)
{
	char out[UUID_STR_LEN] = "untouched";

	ck_assert_int_eq(ids_uuid_lower("0192F3A4-1B2C-7D3E-8F40-123456789ABC", out), 0);
	ck_assert_str_eq(out, "0192f3a4-1b2c-7d3e-8f40-123456789abc");
	ck_assert_int_eq(ids_uuid_lower("0192f3a4-1b2c-7d3e-8f40-123456789abc", out), 0);
	ck_assert_str_eq(out, "0192f3a4-1b2c-7d3e-8f40-123456789abc");
	memcpy(out, "untouched", 10);
	ck_assert_int_eq(ids_uuid_lower("me", out), -1);
	ck_assert_int_eq(ids_uuid_lower(NULL, out), -1);
	ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(test_short_and_timestamp)
{
	char s[SHORT_ID_LEN + 1], t[TIMESTAMP_LEN];

	ids_short(s);
	ck_assert_uint_eq(strlen(s), SHORT_ID_LEN);
	ck_assert_uint_eq(strspn(s, "abcdefghijklmnopqrstuvwxyz234567"), SHORT_ID_LEN);
	ids_timestamp(0, t);
	ck_assert_str_eq(t, "1970-01-01T00:00:00.000Z");
	ids_timestamp(1795405556123LL, t);
	ck_assert_str_eq(t, "2026-11-23T03:45:56.123Z");
}
END_TEST

START_TEST(test_secret_hash_verify)
{
	char text[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN];

	secret_random_text(text);
	ck_assert_uint_eq(strlen(text), 43);
	ck_assert_int_eq(secret_hash(text, hash), 0);
	ck_assert(strncmp(hash, "$argon2id$", 10) == 0);
	ck_assert_int_eq(secret_verify(hash, text), 1);
	text[0] ^= 1;
	ck_assert_int_eq(secret_verify(hash, text), 0);
	ck_assert_int_eq(secret_verify("garbage", text), 0);
	ck_assert_int_eq(secret_verify(NULL, text), 0);
}
END_TEST

START_TEST(test_tokens)
{
	char id[UUID_STR_LEN], tok[TOKEN_LEN], back[UUID_STR_LEN], d1[SECRET_DIGEST_LEN],
		d2[SECRET_DIGEST_LEN];

	ids_uuid7(id);
	secret_token_new(id, tok);
	ck_assert_uint_eq(strlen(tok), TOKEN_LEN - 1);
	ck_assert_int_eq(secret_token_id(tok, back), 0);
	ck_assert_str_eq(back, id);
	ck_assert_int_eq(secret_token_id("kdn_short", back), -1);
	ck_assert_int_eq(secret_token_id(NULL, back), -1);
	tok[40] = 'x';
	ck_assert_int_eq(secret_token_id(tok, back), -1);
	secret_digest("abc", d1);
	ck_assert_str_eq(d1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	secret_digest("abd", d2);
	ck_assert_int_eq(secret_equal(d1, d1), 1);
	ck_assert_int_eq(secret_equal(d1, d2), 0);
	ck_assert_int_eq(secret_equal("abc", "abcd"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ids");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (secret_init() < 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_uuid7_shape_and_order);
	tcase_add_test(tc, test_is_uuid);
	tcase_add_test(tc, test_uuid_lower);
	tcase_add_test(tc, test_short_and_timestamp);
	tcase_add_test(tc, test_secret_hash_verify);
	tcase_add_test(tc, test_tokens);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
