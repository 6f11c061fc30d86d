/* fuzz_jwt.c: login token verification (common/jwt.c), which kaiden-api runs on every
 * "Authorization: Bearer ey..." before anything else.
 *
 * The first byte chooses how the rest is used:
 *   even: the rest is the token, verified as it is (forgeries: structure, base64url,
 *         alg, signature);
 *   odd:  the rest is "<header JSON>" FUZZ_SEP "<payload JSON>", made into a token
 *         signed with the right key, so the input reaches what only a genuine signature
 *         reaches (header and claim checks: alg, exp, nbf, iat).
 * Beyond "no crash, no leak": JWT_OK always comes with claims, and a token signed by
 * jwt_sign verifies. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "jwt.h"

static const unsigned char key[] = "fuzz-key-0123456789-0123456789-0123456789";
#define KEYLEN (sizeof(key) - 1)
/* A fixed "now", so an input means the same thing on every run. */
#define NOW 1893456000 /* 2030-01-01 */

static void verify(const char *token)
{
	json_object *claims = NULL;
	int rc = jwt_verify(token, key, KEYLEN, NOW, &claims);

	if (rc == JWT_OK && !claims) {
		fprintf(stderr, "fuzz_jwt: JWT_OK without claims\n");
		abort();
	}
	if (!jwt_strerror(rc))
		abort();
	if (rc == JWT_OK) {
		/* What verified signs again, and that verifies too (when it fits). */
		char again[JWT_MAX_LEN];
		json_object *claims2 = NULL;
		if (jwt_sign(claims, key, KEYLEN, again) == JWT_OK &&
		    jwt_verify(again, key, KEYLEN, NOW, &claims2) != JWT_OK) {
			fprintf(stderr, "fuzz_jwt: a re-signed token does not verify\n");
			abort();
		}
		json_object_put(claims2);
	}
	json_object_put(claims);
}

/* base64url of len bytes appended at *pos of out (outlen); 0 or -1 when it won't fit. */
static int b64(char *out, size_t outlen, size_t *pos, const void *bin, size_t len)
{
	size_t need = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if (*pos + need > outlen)
		return -1;
	sodium_bin2base64(out + *pos, need, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*pos += need - 1;
	return 0;
}

static void signed_token(const struct fuzz_parts *p)
{
	char token[2 * JWT_MAX_LEN];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t pos = 0;

	if (b64(token, sizeof(token), &pos, p->part[0], p->len[0]) < 0 || pos + 1 >= sizeof(token))
		return;
	token[pos++] = '.';
	if (b64(token, sizeof(token), &pos, p->part[1], p->len[1]) < 0)
		return;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, KEYLEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, pos);
	crypto_auth_hmacsha256_final(&st, mac);
	if (pos + 1 >= sizeof(token))
		return;
	token[pos++] = '.';
	if (b64(token, sizeof(token), &pos, mac, sizeof(mac)) < 0)
		return;
	verify(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;

	fuzz_quiet("fuzz_jwt");
	if (sodium_init() < 0 || size == 0)
		return 0;
	if (fuzz_parts_split(data + 1, size - 1, (data[0] & 1) ? 2 : 1, &p) != 0)
		return 0;
	if (!(data[0] & 1))
		verify(p.part[0]);
	else if (p.n == 2)
		signed_token(&p);
	fuzz_parts_free(&p);
	return 0;
}
