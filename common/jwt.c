/* jwt.c: HS256 JSON Web Tokens (RFC 7515/7519) with libsodium's HMAC-SHA-256 and json-c.
 *
 * Verification order, cheapest and least trusting first: length and shape (three
 * base64url parts) -> header (alg must be HS256) -> signature (constant time) -> only
 * then the payload is parsed and its times checked. Nothing from an unverified payload is
 * ever looked at, and every decode has a fixed-size destination. */
#include "jwt.h"

#include <sodium.h>
#include <string.h>

#include "jsonx.h"

#define JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_SIG_LEN crypto_auth_hmacsha256_BYTES
/* A part decodes to at most 3/4 of its length; the whole token is under JWT_MAX_LEN. */
#define JWT_PART_MAX (JWT_MAX_LEN * 3 / 4 + 4)

static const char *const jwt_messages[] = {
	[0] = "the token is valid",
	[1] = "the token is malformed",
	[2] = "the token's algorithm is not HS256",
	[3] = "the token's signature does not match",
	[4] = "the token has expired",
	[5] = "the token is not valid yet",
	[6] = "the token could not be checked (key too short or out of memory)",
};

const char *jwt_strerror(int rc)
{
	if (rc > 0 || rc < JWT_ERR)
		return "unknown token error";
	return jwt_messages[-rc];
}

/* HMAC-SHA-256 of data under a key of any length (the init/update/final form: the
 * one-shot crypto_auth_hmacsha256 wants exactly 32 bytes of key). */
static void hmac(const unsigned char *key, size_t keylen, const char *data, size_t len,
                 unsigned char out[JWT_SIG_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* base64url (no padding) of len bytes into out at *pos; 0, or -1 when it would not fit
 * (with its NUL) in outlen. */
static int b64_put(char *out, size_t outlen, size_t *pos, const void *bin, size_t len)
{
	size_t need = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if (*pos + need > outlen)
		return -1;
	sodium_bin2base64(out + *pos, need, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*pos += strlen(out + *pos);
	return 0;
}

int jwt_sign(const json_object *claims, const unsigned char *key, size_t keylen,
             char out[JWT_MAX_LEN])
{
	/* json-c caches the serialization inside the object, hence the cast. */
	json_object *c = (json_object *)claims;
	unsigned char sig[JWT_SIG_LEN];
	const char *payload;
	char token[JWT_MAX_LEN];
	size_t pos = 0, plen = 0;

	if (!c || !key || keylen < JWT_KEY_MIN || !json_object_is_type(c, json_type_object))
		return JWT_ERR;
	payload = json_object_to_json_string_length(c, JSON_C_TO_STRING_PLAIN, &plen);
	if (!payload)
		return JWT_ERR;
	if (b64_put(token, sizeof(token), &pos, JWT_HEADER, strlen(JWT_HEADER)) < 0 ||
	    pos + 1 >= sizeof(token))
		return JWT_ERR;
	token[pos++] = '.';
	if (b64_put(token, sizeof(token), &pos, payload, plen) < 0)
		return JWT_ERR;
	hmac(key, keylen, token, pos, sig);
	if (pos + 1 >= sizeof(token)) {
		sodium_memzero(sig, sizeof(sig));
		return JWT_ERR;
	}
	token[pos++] = '.';
	if (b64_put(token, sizeof(token), &pos, sig, sizeof(sig)) < 0) {
		sodium_memzero(sig, sizeof(sig));
		return JWT_ERR;
	}
	sodium_memzero(sig, sizeof(sig));
	memcpy(out, token, pos + 1);
	return JWT_OK;
}

/* The base64url alphabet, nothing else (no padding, no white space). */
static int b64url_only(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* Decodes one part; libsodium refuses non-zero leftover bits, so every value has exactly
 * one encoding (no malleable signatures). 0 or -1. */
static int b64_get(const char *s, size_t len, unsigned char *bin, size_t binmax,
                   size_t *binlen)
{
	const char *end = NULL;

	if (len == 0 || !b64url_only(s, len))
		return -1;
	if (sodium_base642bin(bin, binmax, s, len, NULL, binlen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	return end == s + len ? 0 : -1;
}

/* A JSON object from a base64url part, or NULL. */
static json_object *part_object(const char *s, size_t len)
{
	unsigned char bin[JWT_PART_MAX];
	size_t binlen = 0;
	struct jsonx_error err;
	json_object *obj = NULL;

	if (b64_get(s, len, bin, sizeof(bin), &binlen) < 0 || binlen == 0)
		return NULL;
	/* json-c would stop at a NUL byte; a JSON text never holds one. */
	if (memchr(bin, '\0', binlen))
		return NULL;
	if (jsonx_parse((const char *)bin, binlen, &obj, &err) < 0)
		return NULL;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* A NumericDate member: 1 present (*out set), 0 absent (or null), -1 not a number. */
static int numeric_date(json_object *claims, const char *name, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, name, &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 1;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		/* RFC 7519 allows fractions; anything not a finite time of this era is junk. */
		if (!(d > -9.2e18 && d < 9.2e18))
			return -1;
		*out = (int64_t)d;
		return 1;
	}
	return -1;
}

/* The header: alg must be exactly "HS256"; typ, when present, "JWT"; no crit (we know
 * no extensions, and RFC 7515 4.1.11 says to refuse the token then). */
static int header_check(json_object *h)
{
	json_object *v;

	if (!json_object_object_get_ex(h, "alg", &v) || !json_object_is_type(v, json_type_string))
		return JWT_BAD_ALG;
	/* The length too: "HS256\u0000" is not HS256. */
	if (json_object_get_string_len(v) != 5 || strcmp(json_object_get_string(v), "HS256") != 0)
		return JWT_BAD_ALG;
	if (json_object_object_get_ex(h, "typ", &v) &&
	    (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 3 ||
	     strcmp(json_object_get_string(v), "JWT") != 0))
		return JWT_MALFORMED;
	if (json_object_object_get_ex(h, "crit", NULL))
		return JWT_MALFORMED;
	return JWT_OK;
}

/* exp is required and must not be past; nbf and iat must not be in the future; each
 * with JWT_LEEWAY_S of slack for clocks that disagree. Written so that no sum
 * overflows whatever the token says. */
static int times_check(json_object *claims, int64_t now)
{
	int64_t exp = 0, nbf = 0, iat = 0;
	int has;

	has = numeric_date(claims, "exp", &exp);
	if (has < 0)
		return JWT_MALFORMED;
	if (has == 0)
		return JWT_EXPIRED;
	if (exp <= INT64_MAX - JWT_LEEWAY_S && now >= exp + JWT_LEEWAY_S)
		return JWT_EXPIRED;
	if (now > INT64_MAX - JWT_LEEWAY_S)
		return JWT_OK;
	has = numeric_date(claims, "nbf", &nbf);
	if (has < 0)
		return JWT_MALFORMED;
	if (has > 0 && nbf > now + JWT_LEEWAY_S)
		return JWT_NOT_YET;
	has = numeric_date(claims, "iat", &iat);
	if (has < 0)
		return JWT_MALFORMED;
	if (has > 0 && iat > now + JWT_LEEWAY_S)
		return JWT_NOT_YET;
	return JWT_OK;
}

int jwt_verify(const char *token, const unsigned char *key, size_t keylen, int64_t now,
               json_object **claims)
{
	unsigned char want[JWT_SIG_LEN], got[JWT_SIG_LEN];
	const char *dot1, *dot2;
	json_object *header = NULL, *payload = NULL;
	size_t len, got_len = 0;
	int rc;

	if (!key || keylen < JWT_KEY_MIN)
		return JWT_ERR;
	if (!token)
		return JWT_MALFORMED;
	len = strnlen(token, JWT_MAX_LEN);
	if (len >= JWT_MAX_LEN)
		return JWT_MALFORMED;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return JWT_MALFORMED;

	header = part_object(token, (size_t)(dot1 - token));
	if (!header)
		return JWT_MALFORMED;
	rc = header_check(header);
	json_object_put(header);
	if (rc != JWT_OK)
		return rc;

	/* The signature must decode to exactly 32 bytes; the compare takes the same time
	 * wherever the two differ. */
	if (b64_get(dot2 + 1, len - (size_t)(dot2 + 1 - token), got, sizeof(got), &got_len) < 0 ||
	    got_len != sizeof(got))
		return JWT_MALFORMED;
	hmac(key, keylen, token, (size_t)(dot2 - token), want);
	rc = sodium_memcmp(want, got, sizeof(want)) == 0 ? JWT_OK : JWT_BAD_SIG;
	sodium_memzero(want, sizeof(want));
	if (rc != JWT_OK)
		return rc;

	payload = part_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!payload)
		return JWT_MALFORMED;
	rc = times_check(payload, now);
	if (rc != JWT_OK) {
		json_object_put(payload);
		return rc;
	}
	*claims = payload;
	return JWT_OK;
}
