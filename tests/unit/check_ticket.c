/* check_ticket.c: resumption tickets (ticket.h): what a ticket admits, and every way
 * one is refused. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"

#define DEV "0190a8e2-7c1d-7abc-8def-0123456789ab"
#define DEV2 "0190a8e2-7c1d-7abc-8def-0123456789ac"
#define NOW 1790000000

static unsigned char key[TICKET_KEY_LEN], key2[TICKET_KEY_LEN];

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(key2, sizeof(key2));
}

START_TEST(test_round_trip)
{
	char t[TICKET_MAX];

	ticket_issue(key, TICKET_DEVICE, DEV, 3, NOW + 60, t);
	ck_assert_int_lt(strlen(t), TICKET_MAX);
	ck_assert(strncmp(t, "1.3.1790000060.", 15) == 0);
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, t), TICKET_OK);
	/* Until its last second. */
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW + 59, t), TICKET_OK);
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW + 60, t), TICKET_EXPIRED);
	/* A rotated secret (version 4 now) refuses the version-3 ticket. */
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 4, NOW, t), TICKET_STALE);
	/* Another device, another kind, another key: not ours. */
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV2, 3, NOW, t), TICKET_BAD);
	ck_assert_int_eq(ticket_check(key, TICKET_CLUSTER, DEV, 3, NOW, t), TICKET_BAD);
	ck_assert_int_eq(ticket_check(key2, TICKET_DEVICE, DEV, 3, NOW, t), TICKET_BAD);
}
END_TEST

/* Changing any part of the text makes it not ours: the version and expiry are under the
 * MAC (a holder cannot extend or re-version a ticket). */
START_TEST(test_tampered)
{
	char t[TICKET_MAX], u[TICKET_MAX + 8];

	ticket_issue(key, TICKET_DEVICE, DEV, 3, NOW + 60, t);
	/* Expiry pushed out, version changed. */
	snprintf(u, sizeof(u), "1.3.1790009999%s", strchr(t + 4, '.'));
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, u), TICKET_BAD);
	snprintf(u, sizeof(u), "1.4%s", strchr(t + 2, '.'));
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 4, NOW, u), TICKET_BAD);
	/* Each character of the MAC flipped in turn. */
	for (size_t i = strlen(t) - 43; i < strlen(t); i++) {
		memcpy(u, t, sizeof(t));
		u[i] = u[i] == 'A' ? 'B' : 'A';
		ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, u), TICKET_BAD);
	}
}
END_TEST

START_TEST(test_malformed)
{
	static const char *const bad[] = {
		"", "1", "1.", "1..", "2.3.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"1.3.1790000060.", "1.3.1790000060.AAAA", "1.x.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"1.-3.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"1.03.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"1.3.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"1.3.1790000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"1.3.99999999999999999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	char big[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, bad[i]) == TICKET_BAD,
		              "accepted %s", bad[i]);
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, NULL), TICKET_BAD);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(ticket_check(key, TICKET_DEVICE, DEV, 3, NOW, big), TICKET_BAD);
	ck_assert_str_eq(ticket_rc_name(TICKET_STALE), "stale");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ticket");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
