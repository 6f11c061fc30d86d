/* check_webhook_sign.c: Kaiden-Signature headers and webhook secrets. Known answers
 * computed outside this code base, tampering of body, timestamp and secret, the
 * tolerance, the header grammar (webhook_sign.h), and a loop of random, truncated and
 * bit-flipped headers that must never be accepted nor crash. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook_secret.h"
#include "webhook_sign.h"

/* The expected hex below was computed at test-writing time with Python's standard library,
 * independently of libsodium and of webhook_sign.c:
 *   python3 -c 'import hmac,hashlib; print(hmac.new(SECRET.encode(),
 *               str(T).encode()+b"."+BODY, hashlib.sha256).hexdigest())' */
static const char kat_secret[] = "whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0";
static const char kat_body[] = "{\"id\":\"evt_1\",\"type\":\"ticket.created\"}";
#define KAT_T 1700000000LL
static const char kat_header[] =
	"t=1700000000,v1=27f2aa5ccd30d0a99077f6757cd9f4bf80cb461218d5811730f1e4aabce1cbe2";
/* Same secret, t=0, empty body. */
static const char kat_empty_header[] =
	"t=0,v1=7279f7f9e8ece8362b168d3be22b2e076ee8c6e81454fd935df6c6a7cfd34f57";
/* Secret "k", t=1234567890, body "hello\0world" (11 bytes, a NUL inside). */
static const char kat_nul_header[] =
	"t=1234567890,v1=e5597f6b2d35cce0062f5af028a8f529d87e088801f4778cb9c577d902c94ebe";
#define KAT_SIG "27f2aa5ccd30d0a99077f6757cd9f4bf80cb461218d5811730f1e4aabce1cbe2"
#define ZERO_SIG "0000000000000000000000000000000000000000000000000000000000000000"

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
}

static int verify(const char *header, long long now)
{
	return webhook_sign_verify(header, kat_secret, kat_body, strlen(kat_body), now, 300);
}

START_TEST(test_known_answers)
{
	char out[WEBHOOK_SIG_HEADER_LEN];

	ck_assert_int_eq(webhook_sign_header(kat_secret, KAT_T, kat_body, strlen(kat_body), out), 0);
	ck_assert_str_eq(out, kat_header);
	ck_assert_int_eq(webhook_sign_header(kat_secret, 0, "", 0, out), 0);
	ck_assert_str_eq(out, kat_empty_header);
	ck_assert_int_eq(webhook_sign_header(kat_secret, 0, NULL, 0, out), 0);
	ck_assert_str_eq(out, kat_empty_header);
	ck_assert_int_eq(webhook_sign_header("k", 1234567890, "hello\0world", 11, out), 0);
	ck_assert_str_eq(out, kat_nul_header);

	ck_assert_int_eq(verify(kat_header, KAT_T), WEBHOOK_SIG_OK);
	ck_assert_int_eq(webhook_sign_verify(kat_empty_header, kat_secret, NULL, 0, 100, 300),
	                 WEBHOOK_SIG_OK);
	ck_assert_int_eq(webhook_sign_verify(kat_nul_header, "k", "hello\0world", 11,
	                                     1234567890, 0), WEBHOOK_SIG_OK);
	/* The NUL is signed: "hello" alone is another body. */
	ck_assert_int_eq(webhook_sign_verify(kat_nul_header, "k", "hello", 5, 1234567890, 0),
	                 WEBHOOK_SIG_MISMATCH);
}
END_TEST

START_TEST(test_tampered)
{
	char body[sizeof(kat_body)];
	char secret[sizeof(kat_secret)];
	size_t i;

	/* Every single-bit change of the body is refused. */
	for (i = 0; i < strlen(kat_body) * 8; i++) {
		memcpy(body, kat_body, sizeof(body));
		body[i / 8] ^= (char)(1 << (i % 8));
		ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, body, strlen(kat_body),
		                                     KAT_T, 300), WEBHOOK_SIG_MISMATCH);
	}
	/* A byte more or less. */
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body,
	                                     strlen(kat_body) - 1, KAT_T, 300),
	                 WEBHOOK_SIG_MISMATCH);
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body,
	                                     strlen(kat_body) + 1, KAT_T, 300),
	                 WEBHOOK_SIG_MISMATCH);
	/* Another timestamp with the same v1 (a replay with a fresh t). */
	ck_assert_int_eq(verify("t=1700000001,v1=" KAT_SIG, KAT_T), WEBHOOK_SIG_MISMATCH);
	ck_assert_int_eq(verify("t=1699999999,v1=" KAT_SIG, KAT_T), WEBHOOK_SIG_MISMATCH);
	/* Another secret: one changed character, a prefix, a longer one. */
	memcpy(secret, kat_secret, sizeof(secret));
	secret[10] ^= 1;
	ck_assert_int_eq(webhook_sign_verify(kat_header, secret, kat_body, strlen(kat_body),
	                                     KAT_T, 300), WEBHOOK_SIG_MISMATCH);
	ck_assert_int_eq(webhook_sign_verify(kat_header, "whsec_", kat_body, strlen(kat_body),
	                                     KAT_T, 300), WEBHOOK_SIG_MISMATCH);
	ck_assert_int_eq(webhook_sign_verify(kat_header, "whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0x",
	                                     kat_body, strlen(kat_body), KAT_T, 300),
	                 WEBHOOK_SIG_MISMATCH);
	/* Each hex digit of v1 changed. */
	for (i = 0; i < 64; i++) {
		char h[sizeof(kat_header)];

		memcpy(h, kat_header, sizeof(h));
		h[16 + i] = h[16 + i] == '0' ? '1' : '0';
		ck_assert_int_eq(verify(h, KAT_T), WEBHOOK_SIG_MISMATCH);
	}
}
END_TEST

START_TEST(test_tolerance)
{
	ck_assert_int_eq(verify(kat_header, KAT_T + 300), WEBHOOK_SIG_OK);
	ck_assert_int_eq(verify(kat_header, KAT_T - 300), WEBHOOK_SIG_OK);
	ck_assert_int_eq(verify(kat_header, KAT_T + 301), WEBHOOK_SIG_STALE);
	ck_assert_int_eq(verify(kat_header, KAT_T - 301), WEBHOOK_SIG_STALE);
	ck_assert_int_eq(verify(kat_header, 0), WEBHOOK_SIG_STALE);
	ck_assert_int_eq(verify(kat_header, 999999999999999999LL), WEBHOOK_SIG_STALE);
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body, strlen(kat_body),
	                                     KAT_T, 0), WEBHOOK_SIG_OK);
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body, strlen(kat_body),
	                                     KAT_T + 1, 0), WEBHOOK_SIG_STALE);
	/* A forged header is a mismatch, never "stale", whatever its time. */
	ck_assert_int_eq(verify("t=1,v1=" KAT_SIG, KAT_T), WEBHOOK_SIG_MISMATCH);
	/* Bad arguments. */
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body, strlen(kat_body),
	                                     KAT_T, -1), WEBHOOK_SIG_MALFORMED);
	ck_assert_int_eq(webhook_sign_verify(kat_header, kat_secret, kat_body, strlen(kat_body),
	                                     -1, 300), WEBHOOK_SIG_MALFORMED);
}
END_TEST

START_TEST(test_grammar)
{
	/* Accepted forms. */
	static const char *const good[] = {
		"t=1700000000,v1=" KAT_SIG,
		"v1=" KAT_SIG ",t=1700000000",                            /* any order */
		"  t=1700000000,v1=" KAT_SIG " \t",                       /* outer spaces */
		"t=1700000000,v1=27F2AA5CCD30D0A99077F6757CD9F4BF80CB461218D5811730F1E4AABCE1CBE2",
		"t=1700000000,v1=" ZERO_SIG ",v1=" KAT_SIG,              /* any v1 may match */
		"t=1700000000,v1=" KAT_SIG ",v1=" ZERO_SIG,
		"t=1700000000,v0=abc,v1=" KAT_SIG ",v2=" ZERO_SIG,        /* unknown keys ignored */
	};
	/* Malformed. */
	static const char *const bad[] = {
		"",
		"   ",
		"t=1700000000",                                           /* no v1 */
		"v1=" KAT_SIG,                                            /* no t */
		"t=1700000000,v1=",
		"t=,v1=" KAT_SIG,
		"t=1700000000, v1=" KAT_SIG,                              /* inner spaces */
		"t=1700000000 ,v1=" KAT_SIG,
		"t = 1700000000,v1=" KAT_SIG,
		"t=1700000000,v1 =" KAT_SIG,
		"t=1700000000,,v1=" KAT_SIG,                              /* empty item */
		"t=1700000000,v1=" KAT_SIG ",",                           /* trailing comma */
		",t=1700000000,v1=" KAT_SIG,
		"t=1700000000;v1=" KAT_SIG,
		"t=1700000000,t=1700000000,v1=" KAT_SIG,                  /* two t */
		"t=-1700000000,v1=" KAT_SIG,
		"t=+1700000000,v1=" KAT_SIG,
		"t=17e8,v1=" KAT_SIG,
		"t=01700000000,v1=" KAT_SIG,                              /* leading zero */
		"t=00,v1=" KAT_SIG,
		"t=1700000000000000000,v1=" KAT_SIG,                      /* 19 digits */
		"t=99999999999999999999999,v1=" KAT_SIG,
		"t=1700000000,v1=" KAT_SIG "0",                           /* 65 hex */
		"t=1700000000,v1=27f2aa5ccd30d0a99077f6757cd9f4bf80cb461218d5811730f1e4aabce1cbe",
		"t=1700000000,v1=g7f2aa5ccd30d0a99077f6757cd9f4bf80cb461218d5811730f1e4aabce1cbe2",
		"t=1700000000,v1=" KAT_SIG "=",
		"t=1700000000,=x,v1=" KAT_SIG,                            /* empty key */
		"t=1700000000,x,v1=" KAT_SIG,                             /* no '=' */
		"t=1700000000,V1=" KAT_SIG,                               /* keys are lowercase */
		"T=1700000000,v1=" KAT_SIG,
		"t=1700000000\n,v1=" KAT_SIG,
		"t=1700000000,v1=" KAT_SIG "\r\n",
		/* more than WEBHOOK_SIG_MAX_V1 v1 values, the good one last */
		"t=1700000000,v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG
		",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" KAT_SIG,
	};
	char big[WEBHOOK_SIG_MAX_HEADER + 64];
	size_t i;

	for (i = 0; i < ARRAY_LEN(good); i++)
		ck_assert_msg(verify(good[i], KAT_T) == WEBHOOK_SIG_OK, "refused: %s", good[i]);
	for (i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(verify(bad[i], KAT_T) == WEBHOOK_SIG_MALFORMED, "not malformed: %s",
		              bad[i]);
	ck_assert_int_eq(verify(NULL, KAT_T), WEBHOOK_SIG_MALFORMED);
	/* Eight v1 values are fine. */
	ck_assert_int_eq(verify("t=1700000000,v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG
	                        ",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG ",v1=" ZERO_SIG
	                        ",v1=" KAT_SIG, KAT_T), WEBHOOK_SIG_OK);
	/* An over-long header, even with the good parts in front. */
	snprintf(big, sizeof(big), "%s,x=", kat_header);
	memset(big + strlen(big), 'a', sizeof(big) - strlen(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(verify(big, KAT_T), WEBHOOK_SIG_MALFORMED);
	/* Bad signing arguments leave out untouched. */
	memcpy(big, "keep", 5);
	ck_assert_int_eq(webhook_sign_header(NULL, 1, "x", 1, big), -1);
	ck_assert_int_eq(webhook_sign_header("", 1, "x", 1, big), -1);
	ck_assert_int_eq(webhook_sign_header("k", -1, "x", 1, big), -1);
	ck_assert_int_eq(webhook_sign_header("k", 1000000000000000000LL, "x", 1, big), -1);
	ck_assert_int_eq(webhook_sign_header("k", 1, NULL, 1, big), -1);
	ck_assert_str_eq(big, "keep");
	ck_assert_int_eq(webhook_sign_header("k", 999999999999999999LL, "x", 1, big), 0);
	ck_assert_int_eq(webhook_sign_verify(big, "k", "x", 1, 999999999999999999LL, 0),
	                 WEBHOOK_SIG_OK);
	ck_assert_str_eq(webhook_sign_strerror(WEBHOOK_SIG_STALE),
	                 "the signature's timestamp is outside the tolerance");
	ck_assert_str_eq(webhook_sign_strerror(7), "unknown signature error");
	ck_assert_str_eq(webhook_sign_strerror(-9), "unknown signature error");
}
END_TEST

START_TEST(test_secret)
{
	char a[WEBHOOK_SECRET_LEN], b[WEBHOOK_SECRET_LEN], out[WEBHOOK_SIG_HEADER_LEN];
	unsigned char raw[64];
	size_t raw_len = 0;

	webhook_secret_new(a);
	webhook_secret_new(b);
	ck_assert_uint_eq(strlen(a), 49);
	ck_assert(strncmp(a, "whsec_", 6) == 0);
	ck_assert(webhook_secret_valid(a));
	ck_assert(webhook_secret_valid(b));
	ck_assert_str_ne(a, b);
	/* 43 base64url characters decode to exactly 32 bytes. */
	ck_assert_int_eq(sodium_base642bin(raw, sizeof(raw), a + 6, 43, NULL, &raw_len, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	ck_assert_uint_eq(raw_len, 32);
	/* A header made with one secret verifies only with it. */
	ck_assert_int_eq(webhook_sign_header(a, 42, "{}", 2, out), 0);
	ck_assert_int_eq(webhook_sign_verify(out, a, "{}", 2, 42, 0), WEBHOOK_SIG_OK);
	ck_assert_int_eq(webhook_sign_verify(out, b, "{}", 2, 42, 0), WEBHOOK_SIG_MISMATCH);

	ck_assert(!webhook_secret_valid(NULL));
	ck_assert(!webhook_secret_valid(""));
	ck_assert(!webhook_secret_valid("whsec_"));
	ck_assert(!webhook_secret_valid(kat_secret)); /* 47 characters after the prefix */
	memcpy(b, a, sizeof(b));
	b[20] = '+';
	ck_assert(!webhook_secret_valid(b));
	memcpy(b, a, sizeof(b));
	b[0] = 'W';
	ck_assert(!webhook_secret_valid(b));
}
END_TEST

/* Random bytes, truncations and bit flips of a good header: never OK, never a crash. */
START_TEST(test_fuzz)
{
	char h[256];
	size_t i, n;
	int rc;

	for (i = 0; i < 20000; i++) {
		n = randombytes_uniform(sizeof(h));
		randombytes_buf(h, n);
		h[n] = '\0';
		rc = verify(h, KAT_T);
		ck_assert(rc == WEBHOOK_SIG_MALFORMED || rc == WEBHOOK_SIG_MISMATCH);
	}
	for (n = 0; n < strlen(kat_header); n++) {
		memcpy(h, kat_header, n);
		h[n] = '\0';
		ck_assert_int_ne(verify(h, KAT_T), WEBHOOK_SIG_OK);
	}
	for (i = 0; i < strlen(kat_header) * 8; i++) {
		memcpy(h, kat_header, sizeof(kat_header));
		h[i / 8] ^= (char)(1 << (i % 8));
		rc = verify(h, KAT_T);
		/* Flipping the case of a hex letter (bit 5) keeps the same bytes. */
		if (rc == WEBHOOK_SIG_OK)
			ck_assert_msg(i / 8 >= 16 && i % 8 == 5 && h[i / 8] >= 'A' && h[i / 8] <= 'F',
			              "bit %zu accepted: %s", i, h);
	}
}
END_TEST

/* Sealing at rest (webhook_secret.h): a round trip; a fresh nonce each time; the wrong
 * key, a flipped character anywhere, a truncation and junk are all refused (and leave
 * out empty); bad arguments are refused. */
START_TEST(test_sealed)
{
	const char *key = "a-jwt-secret-of-at-least-32-characters!!";
	char secret[WEBHOOK_SECRET_LEN], sealed[WEBHOOK_SEALED_MAX], again[WEBHOOK_SEALED_MAX];
	char out[WEBHOOK_SECRET_LEN], bad[WEBHOOK_SEALED_MAX];

	webhook_secret_new(secret);
	ck_assert_int_eq(webhook_secret_seal(key, secret, sealed), 0);
	ck_assert_ptr_null(strstr(sealed, secret + 6));
	ck_assert_int_eq(strncmp(sealed, "v1.", 3), 0);
	ck_assert_int_eq(webhook_secret_open(key, sealed, out), 0);
	ck_assert_str_eq(out, secret);
	ck_assert_int_eq(webhook_secret_seal(key, secret, again), 0);
	ck_assert_str_ne(again, sealed);
	ck_assert_int_eq(webhook_secret_open(key, again, out), 0);
	ck_assert_str_eq(out, secret);

	ck_assert_int_eq(webhook_secret_open("another-key-of-at-least-32-characters", sealed, out), -1);
	ck_assert_str_eq(out, "");
	for (size_t i = 0; sealed[i]; i++) {
		memcpy(bad, sealed, sizeof(bad));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		ck_assert_int_eq(webhook_secret_open(key, bad, out), -1);
		ck_assert_str_eq(out, "");
		bad[i] = '\0';
		ck_assert_int_eq(webhook_secret_open(key, bad, out), -1);
	}
	ck_assert_int_eq(webhook_secret_open(key, "", out), -1);
	ck_assert_int_eq(webhook_secret_open(key, "v1.", out), -1);
	ck_assert_int_eq(webhook_secret_open(key, NULL, out), -1);
	ck_assert_int_eq(webhook_secret_open("", sealed, out), -1);
	ck_assert_int_eq(webhook_secret_seal("", secret, again), -1);
	ck_assert_int_eq(webhook_secret_seal(key, "whsec_short", again), -1);
	ck_assert_int_eq(webhook_secret_seal(key, NULL, again), -1);
}
END_TEST

static Suite *webhook_sign_suite(void)
{
	Suite *s = suite_create("webhook_sign");
	TCase *tc = tcase_create("hmac");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_known_answers);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_tolerance);
	tcase_add_test(tc, test_grammar);
	tcase_add_test(tc, test_secret);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_sealed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(webhook_sign_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
