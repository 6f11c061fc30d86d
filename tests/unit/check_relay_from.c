/* check_relay_from.c: the engineer's address vouched for across helperds
 * (helperd/relay_from.c): what checks, and every way a header can fail to. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay_from.h"

#define SESSION "01a23cb6-036a-7688-ab40-55deeab0cda7"
#define NOW 1764770000000LL

static unsigned char key[TICKET_KEY_LEN], other[TICKET_KEY_LEN];

static void keys(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
}

START_TEST(test_round_trip)
{
	static const char *const addrs[] = { "203.0.113.7", "2001:db8::1", "::ffff:198.51.100.2" };
	char v[RELAY_FROM_MAX], addr[HUB_ADDR_LEN];

	keys();
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		ck_assert_int_eq(relay_from_sign(key, SESSION, addrs[i], NOW, v), 0);
		strcpy(addr, "10.0.0.9");
		ck_assert_int_eq(relay_from_check(key, v, SESSION, NOW, addr), 0);
		ck_assert_str_eq(addr, addrs[i]);
		/* within the skew either way */
		ck_assert_int_eq(relay_from_check(key, v, SESSION, NOW + RELAY_FROM_SKEW_MS, addr), 0);
		ck_assert_int_eq(relay_from_check(key, v, SESSION, NOW - RELAY_FROM_SKEW_MS, addr), 0);
	}
	/* only an IP address is signed */
	ck_assert_int_eq(relay_from_sign(key, SESSION, "evil.example", NOW, v), -1);
	ck_assert_int_eq(relay_from_sign(key, SESSION, "", NOW, v), -1);
}
END_TEST

START_TEST(test_refused)
{
	char v[RELAY_FROM_MAX], bad[RELAY_FROM_MAX * 2], addr[HUB_ADDR_LEN] = "10.0.0.9";
	char *sig;

	keys();
	ck_assert_int_eq(relay_from_sign(key, SESSION, "203.0.113.7", NOW, v), 0);
	/* another deployment's key, another session, too old, too far ahead */
	ck_assert_int_eq(relay_from_check(other, v, SESSION, NOW, addr), -1);
	ck_assert_int_eq(relay_from_check(key, v, "01a23cb6-036a-7688-ab40-55deeab0cda8", NOW, addr),
	                 -1);
	ck_assert_int_eq(relay_from_check(key, v, SESSION, NOW + RELAY_FROM_SKEW_MS + 1, addr), -1);
	ck_assert_int_eq(relay_from_check(key, v, SESSION, NOW - RELAY_FROM_SKEW_MS - 1, addr), -1);
	/* the address changed, the time changed, the signature changed */
	snprintf(bad, sizeof(bad), "203.0.113.8%s", strchr(v, ';'));
	ck_assert_int_eq(relay_from_check(key, bad, SESSION, NOW, addr), -1);
	snprintf(bad, sizeof(bad), "203.0.113.7;%lld%s", NOW + 1, strrchr(v, ';'));
	ck_assert_int_eq(relay_from_check(key, bad, SESSION, NOW, addr), -1);
	snprintf(bad, sizeof(bad), "%s", v);
	sig = strrchr(bad, ';') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(relay_from_check(key, bad, SESSION, NOW, addr), -1);
	/* shapes */
	static const char *const shapes[] = {
		"", ";", ";;", "203.0.113.7", "203.0.113.7;1764770000000",
		"203.0.113.7;;AAAA", ";1764770000000;AAAA", "203.0.113.7;-5;AAAA",
		"203.0.113.7;12x;AAAA", "not-an-ip;1764770000000;AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"203.0.113.7;1764770000000;short",
		"203.0.113.7;1764770000000;AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"203.0.113.7;1764770000000;!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		ck_assert_msg(relay_from_check(key, shapes[i], SESSION, NOW, addr) == -1, "%s", shapes[i]);
	ck_assert_int_eq(relay_from_check(key, NULL, SESSION, NOW, addr), -1);
	memset(bad, '1', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	ck_assert_int_eq(relay_from_check(key, bad, SESSION, NOW, addr), -1);
	/* nothing refused touched addr */
	ck_assert_str_eq(addr, "10.0.0.9");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay_from");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
