/* check_ids.c: ids and secrets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Lower-case hex in the 8-4-4-4-12 shape for many ids; their random tails differ; and a
 * forked child does not hand out the bits its parent's next id gets (ids' random bits
 * are drawn a pool at a time: the child starts a pool of its own). */
START_TEST(test_uuid7_hex_and_fork)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN], child[UUID_STR_LEN] = "";
	int fds[2], status;
	pid_t pid;

	for (int i = 0; i < 2000; i++) {
		ids_uuid7(a);
		ck_assert_uint_eq(strlen(a), 36);
		ck_assert_uint_eq(strspn(a, "0123456789abcdef-"), 36);
		ck_assert(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
		ck_assert_int_eq(a[14], '7');
		ck_assert(strchr("89ab", a[19]) != NULL);
		ids_uuid7(b);
		ck_assert_str_ne(a + 24, b + 24);
	}
	/* Forked at forty points in a row, so at least one finds a pool part used. */
	for (int k = 0; k < 40; k++) {
		ids_uuid7(a);
		ck_assert_int_eq(pipe(fds), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			ids_uuid7(child);
			_exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
		}
		ids_uuid7(a);
		ck_assert_int_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ck_assert(ids_is_uuid(child));
		ck_assert_msg(strcmp(a + 24, child + 24) != 0, "parent %s and child %s share bits",
		              a, child);
		close(fds[0]);
		close(fds[1]);
	}
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
	/* Written digit by digit: the same as the printf form, from 1970 to the end of
	 * 9999, and past it and before 1970 as before (printf's, cut to fit). */
	{
		static const int64_t edges[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 59999, 60000,
		                                  951782400000LL, 4107542399999LL, 253402300799999LL,
		                                  253402300800000LL, -1, -1000, -86400001 };
		uint64_t x = 1;
		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]) + 20000; i++) {
			char want[64];
			time_t secs;
			struct tm tm;
			int64_t ms;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			/* The edges, then times spread over 1970..9999. */
			ms = i < sizeof(edges) / sizeof(edges[0]) ? edges[i]
			                                          : (int64_t)((x >> 11) % 253402300800000ULL);
			secs = (time_t)(ms / 1000);
			gmtime_r(&secs, &tm);
			snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			         tm.tm_sec, (int)(ms % 1000));
			want[TIMESTAMP_LEN - 1] = '\0';
			ids_timestamp(ms, t);
			ck_assert_msg(strcmp(t, want) == 0, "%lld: %s, want %s", (long long)ms, t, want);
		}
	}
	{
		int64_t ms = -7;
		ck_assert_int_eq(ids_timestamp_ms("2026-11-23T03:45:56.123Z", &ms), 0);
		ck_assert_int_eq(ms, 1795405556123LL);
		ck_assert_int_eq(ids_timestamp_ms("2026-11-23T05:45:56.1+02:00", &ms), 0);
		ck_assert_int_eq(ms, 1795405556100LL);
		ms = -7;
		ck_assert_int_eq(ids_timestamp_ms("2026-11-23 03:45:56Z", &ms), -1);
		ck_assert_int_eq(ids_timestamp_ms(NULL, &ms), -1);
		ck_assert_int_eq(ms, -7);
	}
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
	tcase_add_test(tc, test_uuid7_hex_and_fork);
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
