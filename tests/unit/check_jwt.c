/* check_jwt.c: HS256 JSON Web Tokens. Known answers (RFC 7515 A.1, and a token computed
 * outside this code base), an independent recomputation of the HMAC, every kind of
 * tampering, alg confusion, times, malformed input, and a fuzz-ish loop of random,
 * truncated and bit-flipped tokens that must never be accepted nor crash. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

/* RFC 7515 appendix A.1: the JWK's "k", and the token it signs (exp 1300819380). */
static const char rfc_key_b64[] =
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char rfc_token[] =
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
	"."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
	"cnVlfQ"
	"."
	"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/* Made with Python's hmac module over the exact bytes jwt_sign produces for
 * {"sub":"0190a0b0-c0d0-7e0f-8000-000000000001","role":"admin","exp":2000000000}. */
static const unsigned char key32[] = "kaiden-test-key-0123456789abcdef";
#define KEY32_LEN 32
static const char fixed_token[] =
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
	"."
	"eyJzdWIiOiIwMTkwYTBiMC1jMGQwLTdlMGYtODAwMC0wMDAwMDAwMDAwMDEiLCJyb2xlIjoiYWRtaW4iLCJleHAi"
	"OjIwMDAwMDAwMDB9"
	"."
	"hCi3Vesr-U3WmXNFaEUL49_j6aVfXe_mtY-ihDTijf8";

#define NOW 1900000000LL

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
}

/* ---- helpers that build tokens by hand (independently of jwt.c) ----------------------- */

static void b64(const void *bin, size_t len, char *out, size_t outlen)
{
	ck_assert(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) <=
	          outlen);
	sodium_bin2base64(out, outlen, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* "<b64 header>.<b64 payload>.<b64 HMAC-SHA-256 with key32>" from raw JSON texts, signed
 * with libsodium's one-shot HMAC (32-byte key), not with jwt.c's code. */
static void forge(const char *header, const char *payload, char *out, size_t outlen)
{
	char h[1024], p[2048], s[64];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char input[3200];

	b64(header, strlen(header), h, sizeof(h));
	b64(payload, strlen(payload), p, sizeof(p));
	snprintf(input, sizeof(input), "%s.%s", h, p);
	crypto_auth_hmacsha256(mac, (const unsigned char *)input, strlen(input), key32);
	b64(mac, sizeof(mac), s, sizeof(s));
	snprintf(out, outlen, "%s.%s", input, s);
}

static int verify(const char *token)
{
	json_object *claims = NULL;
	int rc = jwt_verify(token, key32, KEY32_LEN, NOW, &claims);

	if (rc == JWT_OK)
		ck_assert_ptr_nonnull(claims);
	json_object_put(claims);
	return rc;
}

static json_object *claims_new(long long exp)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "sub",
	                       json_object_new_string("0190a0b0-c0d0-7e0f-8000-000000000001"));
	json_object_object_add(c, "tenant_id", NULL);
	json_object_object_add(c, "role", json_object_new_string("admin"));
	json_object_object_add(c, "jti",
	                       json_object_new_string("0190a0b0-c0d0-7e0f-8000-000000000002"));
	json_object_object_add(c, "iat", json_object_new_int64(NOW));
	json_object_object_add(c, "exp", json_object_new_int64(exp));
	return c;
}

static void sign_ok(long long exp, char out[JWT_MAX_LEN])
{
	json_object *c = claims_new(exp);

	ck_assert_int_eq(jwt_sign(c, key32, KEY32_LEN, out), JWT_OK);
	json_object_put(c);
}

/* ---- known answers ---------------------------------------------------------------------- */

START_TEST(test_rfc7515_a1)
{
	unsigned char key[64];
	size_t keylen = 0;
	json_object *claims = NULL, *v;

	ck_assert_int_eq(sodium_base642bin(key, sizeof(key), rfc_key_b64, strlen(rfc_key_b64),
	                                   NULL, &keylen, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	ck_assert_uint_eq(keylen, 64);
	/* Before exp; the header has typ first and CR LF white space: still HS256. */
	ck_assert_int_eq(jwt_verify(rfc_token, key, keylen, 1300819000, &claims), JWT_OK);
	ck_assert(json_object_object_get_ex(claims, "iss", &v));
	ck_assert_str_eq(json_object_get_string(v), "joe");
	ck_assert(json_object_object_get_ex(claims, "http://example.com/is_root", &v));
	ck_assert(json_object_get_boolean(v));
	json_object_put(claims);
	/* Inside the leeway after exp, then past it. */
	claims = NULL;
	ck_assert_int_eq(jwt_verify(rfc_token, key, keylen, 1300819380 + JWT_LEEWAY_S - 1, &claims),
	                 JWT_OK);
	json_object_put(claims);
	claims = NULL;
	ck_assert_int_eq(jwt_verify(rfc_token, key, keylen, 1300819380 + JWT_LEEWAY_S, &claims),
	                 JWT_EXPIRED);
	ck_assert_ptr_null(claims);
	/* One bit of the key changed. */
	key[10] ^= 1;
	ck_assert_int_eq(jwt_verify(rfc_token, key, keylen, 1300819000, &claims), JWT_BAD_SIG);
}
END_TEST

START_TEST(test_sign_fixed_vector)
{
	json_object *c = json_object_new_object();
	char out[JWT_MAX_LEN];

	json_object_object_add(c, "sub",
	                       json_object_new_string("0190a0b0-c0d0-7e0f-8000-000000000001"));
	json_object_object_add(c, "role", json_object_new_string("admin"));
	json_object_object_add(c, "exp", json_object_new_int64(2000000000));
	ck_assert_int_eq(jwt_sign(c, key32, KEY32_LEN, out), JWT_OK);
	ck_assert_str_eq(out, fixed_token);
	json_object_put(c);
	ck_assert_int_eq(verify(fixed_token), JWT_OK);
}
END_TEST

/* What jwt_sign makes, taken apart and checked with libsodium directly. */
START_TEST(test_sign_independent_hmac)
{
	char token[JWT_MAX_LEN], expect_sig[64];
	unsigned char mac[crypto_auth_hmacsha256_BYTES], header[256];
	size_t header_len = 0;
	const char *dot1, *dot2;

	sign_ok(NOW + 3600, token);
	dot1 = strchr(token, '.');
	ck_assert_ptr_nonnull(dot1);
	dot2 = strchr(dot1 + 1, '.');
	ck_assert_ptr_nonnull(dot2);
	ck_assert_ptr_null(strchr(dot2 + 1, '.'));
	ck_assert_ptr_null(strchr(token, '='));

	ck_assert_int_eq(sodium_base642bin(header, sizeof(header) - 1, token,
	                                   (size_t)(dot1 - token), NULL, &header_len, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	header[header_len] = '\0';
	ck_assert_str_eq((char *)header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");

	crypto_auth_hmacsha256(mac, (const unsigned char *)token, (size_t)(dot2 - token), key32);
	b64(mac, sizeof(mac), expect_sig, sizeof(expect_sig));
	ck_assert_str_eq(dot2 + 1, expect_sig);
}
END_TEST

START_TEST(test_round_trip)
{
	char token[JWT_MAX_LEN];
	json_object *claims = NULL, *v;

	sign_ok(NOW + 3600, token);
	ck_assert_int_eq(jwt_verify(token, key32, KEY32_LEN, NOW, &claims), JWT_OK);
	ck_assert(json_object_object_get_ex(claims, "role", &v));
	ck_assert_str_eq(json_object_get_string(v), "admin");
	ck_assert(json_object_object_get_ex(claims, "tenant_id", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(claims, "exp", &v));
	ck_assert_int_eq(json_object_get_int64(v), NOW + 3600);
	json_object_put(claims);
	/* A longer key works too (HMAC hashes keys over 64 bytes). */
	unsigned char long_key[100];
	memset(long_key, 7, sizeof(long_key));
	json_object *c = claims_new(NOW + 10);
	ck_assert_int_eq(jwt_sign(c, long_key, sizeof(long_key), token), JWT_OK);
	json_object_put(c);
	claims = NULL;
	ck_assert_int_eq(jwt_verify(token, long_key, sizeof(long_key), NOW, &claims), JWT_OK);
	json_object_put(claims);
	ck_assert_int_eq(verify(token), JWT_BAD_SIG);
}
END_TEST

/* ---- tampering and alg confusion -------------------------------------------------------- */

START_TEST(test_tampered)
{
	char token[JWT_MAX_LEN], evil[JWT_MAX_LEN], part[1024];
	const char *dot1, *dot2;
	const char *evil_payload = "{\"sub\":\"0190a0b0-c0d0-7e0f-8000-000000000001\","
	                           "\"role\":\"admin\",\"exp\":2000000000,\"x\":1}";

	sign_ok(NOW + 3600, token);
	dot1 = strchr(token, '.');
	dot2 = strchr(dot1 + 1, '.');

	/* Another payload under the original header and signature. */
	b64(evil_payload, strlen(evil_payload), part, sizeof(part));
	snprintf(evil, sizeof(evil), "%.*s.%s%s", (int)(dot1 - token), token, part, dot2);
	ck_assert_int_eq(verify(evil), JWT_BAD_SIG);

	/* Another (still HS256) header. */
	const char *h2 = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}";
	b64(h2, strlen(h2), part, sizeof(part));
	snprintf(evil, sizeof(evil), "%s%s", part, dot1);
	ck_assert_int_eq(verify(evil), JWT_BAD_SIG);

	/* One character of the signature changed (not the last: its low bits are padding). */
	snprintf(evil, sizeof(evil), "%s", token);
	char *c = evil + (dot2 - token) + 5;
	*c = *c == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(evil), JWT_BAD_SIG);

	/* The last character of the signature: a different value or non-canonical bits. */
	snprintf(evil, sizeof(evil), "%s", token);
	c = evil + strlen(evil) - 1;
	*c = *c == 'A' ? 'E' : 'A';
	ck_assert_int_ne(verify(evil), JWT_OK);

	/* Signature missing, shortened, lengthened, padded. */
	snprintf(evil, sizeof(evil), "%.*s.", (int)(dot2 - token), token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);
	snprintf(evil, sizeof(evil), "%.*s", (int)strlen(token) - 4, token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);
	snprintf(evil, sizeof(evil), "%sAAAA", token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);
	snprintf(evil, sizeof(evil), "%s=", token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);

	/* Wrong key. */
	unsigned char other[KEY32_LEN];
	memcpy(other, key32, KEY32_LEN);
	other[0] ^= 0x80;
	json_object *claims = NULL;
	ck_assert_int_eq(jwt_verify(token, other, KEY32_LEN, NOW, &claims), JWT_BAD_SIG);
	ck_assert_ptr_null(claims);
}
END_TEST

START_TEST(test_alg)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"None\"}",
		"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS384\"}",
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"ES256\"}",
		"{\"alg\":\"hs256\"}",
		"{\"alg\":\"HS256 \"}",
		"{\"alg\":\"\"}",
		"{\"alg\":null}",
		"{\"alg\":256}",
		"{\"alg\":[\"HS256\"]}",
		"{\"typ\":\"JWT\"}",
		"{}",
	};
	const char *payload = "{\"sub\":\"x\",\"exp\":2000000000}";
	char token[JWT_MAX_LEN], h[256], p[256];

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		/* Correctly signed with the right key: still refused for its alg. */
		forge(headers[i], payload, token, sizeof(token));
		ck_assert_msg(verify(token) == JWT_BAD_ALG, "header %s", headers[i]);
		/* The classic "none" attack: an empty signature. */
		b64(headers[i], strlen(headers[i]), h, sizeof(h));
		b64(payload, strlen(payload), p, sizeof(p));
		snprintf(token, sizeof(token), "%s.%s.", h, p);
		ck_assert_msg(verify(token) == JWT_BAD_ALG || verify(token) == JWT_MALFORMED,
		              "header %s unsigned", headers[i]);
		ck_assert_int_ne(verify(token), JWT_OK);
	}
	/* Headers that are HS256 but otherwise unacceptable. */
	forge("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_MALFORMED);
	forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_MALFORMED);
	/* A forged header with no typ is fine (RFC 7519: typ is optional). */
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_OK);
}
END_TEST

/* Correctly signed tokens whose payload is not an acceptable claims object. */
START_TEST(test_signed_garbage)
{
	static const struct {
		const char *payload;
		int rc;
	} cases[] = {
		{ "not json", JWT_MALFORMED },
		{ "[1,2,3]", JWT_MALFORMED },
		{ "\"a string\"", JWT_MALFORMED },
		{ "null", JWT_MALFORMED },
		{ "{\"exp\":2000000000", JWT_MALFORMED },
		{ "{\"exp\":2000000000} trailing", JWT_MALFORMED },
		{ "{\"exp\":\"2000000000\"}", JWT_MALFORMED },
		{ "{\"exp\":true}", JWT_MALFORMED },
		{ "{\"exp\":1e300}", JWT_MALFORMED },
		{ "{\"exp\":2000000000,\"nbf\":\"soon\"}", JWT_MALFORMED },
		{ "{\"exp\":2000000000,\"iat\":{}}", JWT_MALFORMED },
		{ "{}", JWT_EXPIRED },
		{ "{\"exp\":null}", JWT_EXPIRED },
		{ "{\"exp\":2000000000.5}", JWT_OK },
		{ "{\"exp\":9223372036854775807}", JWT_OK },
		{ "{\"exp\":99999999999999999999999}", JWT_MALFORMED }, /* not clamped: refused */
		{ "{\"exp\":-9223372036854775808}", JWT_EXPIRED },
		{ "{\"exp\":2000000000,\"nbf\":-9223372036854775808}", JWT_OK },
		{ "{\"exp\":2000000000,\"nbf\":9223372036854775807}", JWT_NOT_YET },
	};
	char token[JWT_MAX_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", cases[i].payload, token, sizeof(token));
		ck_assert_msg(verify(token) == cases[i].rc, "payload %s: %d, wanted %d",
		              cases[i].payload, verify(token), cases[i].rc);
	}
	/* A NUL inside the signed JSON. */
	{
		char h[128], p[128], s[64], input[300];
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		const char raw[] = "{\"exp\":2000000000}\0x";
		const char *hdr = "{\"alg\":\"HS256\"}";
		b64(hdr, strlen(hdr), h, sizeof(h));
		b64(raw, sizeof(raw) - 1, p, sizeof(p));
		snprintf(input, sizeof(input), "%s.%s", h, p);
		crypto_auth_hmacsha256(mac, (const unsigned char *)input, strlen(input), key32);
		b64(mac, sizeof(mac), s, sizeof(s));
		snprintf(token, sizeof(token), "%s.%s", input, s);
		ck_assert_int_eq(verify(token), JWT_MALFORMED);
	}
}
END_TEST

/* ---- time ------------------------------------------------------------------------------- */

START_TEST(test_times)
{
	char token[JWT_MAX_LEN], payload[256];

	sign_ok(NOW - JWT_LEEWAY_S - 1, token);
	ck_assert_int_eq(verify(token), JWT_EXPIRED);
	sign_ok(NOW - JWT_LEEWAY_S, token);
	ck_assert_int_eq(verify(token), JWT_EXPIRED);
	sign_ok(NOW - JWT_LEEWAY_S + 1, token);
	ck_assert_int_eq(verify(token), JWT_OK);
	sign_ok(NOW + 1, token);
	ck_assert_int_eq(verify(token), JWT_OK);

	/* nbf and iat: the future beyond the leeway is refused, within it accepted. */
	snprintf(payload, sizeof(payload), "{\"exp\":%lld,\"nbf\":%lld}", NOW + 3600,
	         NOW + JWT_LEEWAY_S + 1);
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_NOT_YET);
	snprintf(payload, sizeof(payload), "{\"exp\":%lld,\"nbf\":%lld}", NOW + 3600,
	         NOW + JWT_LEEWAY_S);
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_OK);
	snprintf(payload, sizeof(payload), "{\"exp\":%lld,\"iat\":%lld}", NOW + 3600,
	         NOW + JWT_LEEWAY_S + 1);
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_NOT_YET);
	snprintf(payload, sizeof(payload), "{\"exp\":%lld,\"iat\":%lld,\"nbf\":%lld}",
	         NOW + 3600, NOW - 10, NOW - 10);
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_OK);
	/* An expired token is expired even if it is also not valid yet: expiry wins. */
	snprintf(payload, sizeof(payload), "{\"exp\":%lld,\"nbf\":%lld}", NOW - 3600,
	         NOW + 3600);
	forge("{\"alg\":\"HS256\"}", payload, token, sizeof(token));
	ck_assert_int_eq(verify(token), JWT_EXPIRED);
	/* Extreme clocks do not overflow anything. */
	json_object *claims = NULL;
	sign_ok(NOW + 3600, token);
	ck_assert_int_eq(jwt_verify(token, key32, KEY32_LEN, INT64_MAX, &claims), JWT_EXPIRED);
	ck_assert_int_eq(jwt_verify(token, key32, KEY32_LEN, INT64_MIN, &claims), JWT_NOT_YET);
	ck_assert_ptr_null(claims);
}
END_TEST

/* ---- malformed input, keys, limits ------------------------------------------------------ */

START_TEST(test_malformed)
{
	char token[JWT_MAX_LEN], big[JWT_MAX_LEN + 16];
	const char *dot1, *dot2;
	json_object *claims = NULL;

	sign_ok(NOW + 3600, token);
	dot1 = strchr(token, '.');
	dot2 = strchr(dot1 + 1, '.');
	(void)dot2;

	static const char *const bad[] = {
		"", ".", "..", "...", "a", "a.b", "a.b.c", "a.b.c.d", "..sig", "eyJ.eyJ.",
		"eyJhbGciOiJIUzI1NiJ9..", "eyJhbGciOiJIUzI1NiJ9.e30", "e30.e30.e30",
		"W10.e30.AAAA", /* header [] */
		"bnVsbA.e30.AAAA", /* header null */
		"eyJhbGciOiJIUzI1NiJ9 .e30.AAAA",
		"eyJhbGciOiJIUzI1NiJ9=.e30.AAAA",
		"eyJhbGciOiJIUzI1NiJ9+.e30.AAAA",
		"eyJhbGciOiJIUzI1NiJ9/.e30.AAAA",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
		"\xff\xfe.\x01.\x02",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = verify(bad[i]);
		ck_assert_msg(rc == JWT_MALFORMED || rc == JWT_BAD_ALG, "'%s': %d", bad[i], rc);
	}
	ck_assert_int_eq(jwt_verify(NULL, key32, KEY32_LEN, NOW, &claims), JWT_MALFORMED);

	/* The good token with a space, a newline, a fourth part. */
	char evil[JWT_MAX_LEN + 8];
	snprintf(evil, sizeof(evil), " %s", token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);
	snprintf(evil, sizeof(evil), "%s\n", token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);
	snprintf(evil, sizeof(evil), "%s.", token);
	ck_assert_int_eq(verify(evil), JWT_MALFORMED);

	/* Too long: refused before anything is decoded. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = '.';
	big[20] = '.';
	ck_assert_int_eq(verify(big), JWT_MALFORMED);
	big[JWT_MAX_LEN - 1] = '\0';
	ck_assert_int_eq(verify(big), JWT_MALFORMED);
}
END_TEST

START_TEST(test_keys_and_limits)
{
	char token[JWT_MAX_LEN];
	json_object *c = claims_new(NOW + 3600), *claims = NULL;

	/* Keys under JWT_KEY_MIN bytes are refused both ways. */
	ck_assert_int_eq(jwt_sign(c, key32, JWT_KEY_MIN - 1, token), JWT_ERR);
	ck_assert_int_eq(jwt_sign(c, NULL, KEY32_LEN, token), JWT_ERR);
	ck_assert_int_eq(jwt_sign(c, key32, KEY32_LEN, token), JWT_OK);
	ck_assert_int_eq(jwt_verify(token, key32, JWT_KEY_MIN - 1, NOW, &claims), JWT_ERR);
	ck_assert_int_eq(jwt_verify(token, NULL, KEY32_LEN, NOW, &claims), JWT_ERR);
	ck_assert_ptr_null(claims);
	json_object_put(c);

	/* Not an object. */
	c = json_object_new_array();
	ck_assert_int_eq(jwt_sign(c, key32, KEY32_LEN, token), JWT_ERR);
	json_object_put(c);
	ck_assert_int_eq(jwt_sign(NULL, key32, KEY32_LEN, token), JWT_ERR);

	/* Claims too large for JWT_MAX_LEN; and the largest that fits verifies. */
	char *filler = malloc(JWT_MAX_LEN);
	ck_assert_ptr_nonnull(filler);
	memset(filler, 'x', JWT_MAX_LEN - 1);
	filler[JWT_MAX_LEN - 1] = '\0';
	c = claims_new(NOW + 3600);
	json_object_object_add(c, "pad", json_object_new_string(filler));
	ck_assert_int_eq(jwt_sign(c, key32, KEY32_LEN, token), JWT_ERR);
	json_object_put(c);
	int fitted = 0;
	for (size_t n = 1500; n > 0; n -= 10) {
		filler[n] = '\0';
		c = claims_new(NOW + 3600);
		json_object_object_add(c, "pad", json_object_new_string(filler));
		int rc = jwt_sign(c, key32, KEY32_LEN, token);
		json_object_put(c);
		if (rc == JWT_OK) {
			ck_assert_uint_lt(strlen(token), JWT_MAX_LEN);
			ck_assert_int_eq(verify(token), JWT_OK);
			fitted = 1;
			break;
		}
		ck_assert_int_eq(rc, JWT_ERR);
	}
	ck_assert(fitted);
	free(filler);
}
END_TEST

START_TEST(test_strerror)
{
	for (int rc = JWT_ERR; rc <= JWT_OK; rc++) {
		ck_assert_ptr_nonnull(jwt_strerror(rc));
		ck_assert_uint_gt(strlen(jwt_strerror(rc)), 0);
	}
	ck_assert_ptr_nonnull(jwt_strerror(42));
	ck_assert_ptr_nonnull(jwt_strerror(-42));
	ck_assert_str_ne(jwt_strerror(JWT_EXPIRED), jwt_strerror(JWT_BAD_SIG));
}
END_TEST

/* ---- fuzz-ish: nothing but the exact token is accepted, nothing crashes ----------------- */

START_TEST(test_fuzz)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.....=+/ \"{}";
	char token[JWT_MAX_LEN], s[JWT_MAX_LEN + 64];
	size_t len;

	sign_ok(NOW + 3600, token);
	len = strlen(token);

	/* Every prefix and every suffix of a good token. */
	for (size_t n = 0; n < len; n++) {
		snprintf(s, sizeof(s), "%.*s", (int)n, token);
		ck_assert_int_ne(verify(s), JWT_OK);
		ck_assert_int_ne(verify(token + n + 1), JWT_OK);
	}
	/* Every byte replaced by a few others, and every bit flipped. */
	for (size_t i = 0; i < len; i++) {
		static const char subs[] = "A_-.0z\x80\x01";
		for (size_t k = 0; k < sizeof(subs) - 1; k++) {
			if (token[i] == subs[k])
				continue;
			memcpy(s, token, len + 1);
			s[i] = subs[k];
			/* A changed last character can decode to the same 32 bytes only if
			 * non-canonical encodings were accepted: they are not. */
			ck_assert_msg(verify(s) != JWT_OK, "byte %zu -> %02x accepted", i,
			              (unsigned char)subs[k]);
		}
		for (int bit = 0; bit < 8; bit++) {
			memcpy(s, token, len + 1);
			s[i] = (char)(s[i] ^ (1 << bit));
			if (s[i] == '\0')
				continue;
			ck_assert_msg(verify(s) != JWT_OK, "byte %zu bit %d accepted", i, bit);
		}
	}
	/* Random strings over the token alphabet (plus traps), of random lengths. */
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = (seed >> 8) % (sizeof(s) - 1);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		s[n] = '\0';
		ck_assert_int_ne(verify(s), JWT_OK);
	}
	/* Random bytes from libsodium, and random base64url parts of plausible sizes. */
	for (int round = 0; round < 5000; round++) {
		unsigned char raw[300];
		char h[420], p[420], g[420];
		size_t a = randombytes_uniform(60) + 1, b = randombytes_uniform(300) + 1,
		       c = randombytes_uniform(40) + 1;
		randombytes_buf(raw, sizeof(raw));
		b64(raw, a, h, sizeof(h));
		b64(raw + 1, b - 1 ? b - 1 : 1, p, sizeof(p));
		b64(raw + 2, c, g, sizeof(g));
		snprintf(s, sizeof(s), "%s.%s.%s", h, p, g);
		ck_assert_int_ne(verify(s), JWT_OK);
		randombytes_buf(s, 200);
		s[200] = '\0';
		ck_assert_int_ne(verify(s), JWT_OK);
	}
	/* Random JSON-ish headers that are correctly signed: only alg HS256 passes alg. */
	static const char *const junk[] = {
		"{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"none\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\\u0000\"}", "{\"alg\":{\"HS256\":1}}", "{\"ALG\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"typ\":null}", "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		forge(junk[i], "{\"exp\":2000000000}", s, sizeof(s));
		int rc = verify(s);
		/* Duplicate members are refused (RFC 7515 4: reject them or take the last),
		 * "alg":"HS256" last included. */
		ck_assert_msg(rc != JWT_OK, "header %s accepted", junk[i]);
	}
}
END_TEST

static Suite *jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("hs256");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc7515_a1);
	tcase_add_test(tc, test_sign_fixed_vector);
	tcase_add_test(tc, test_sign_independent_hmac);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_alg);
	tcase_add_test(tc, test_signed_garbage);
	tcase_add_test(tc, test_times);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_keys_and_limits);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jwt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
