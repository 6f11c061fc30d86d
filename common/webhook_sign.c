/* webhook_sign.c: Kaiden-Signature headers (HMAC-SHA-256 from libsodium) and webhook
 * secrets. The rules are in webhook_sign.h. The parser walks the header once, with
 * fixed-size destinations only; nothing is allocated. */
#include "webhook_sign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SIG_LEN crypto_auth_hmacsha256_BYTES
#define SIG_HEX_LEN (2 * SIG_LEN)
#define T_MAX_DIGITS 18

static const char *const sig_messages[] = {
	[0] = "the signature is valid",
	[1] = "the Kaiden-Signature header is malformed",
	[2] = "the signature does not match this secret and body",
	[3] = "the signature's timestamp is outside the tolerance",
};

const char *webhook_sign_strerror(int rc)
{
	if (rc > 0 || rc < WEBHOOK_SIG_STALE)
		return "unknown signature error";
	return sig_messages[-rc];
}

void webhook_secret_new(char out[WEBHOOK_SECRET_LEN])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	memcpy(out, WEBHOOK_SECRET_PREFIX, 6);
	sodium_bin2base64(out + 6, WEBHOOK_SECRET_LEN - 6, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int webhook_secret_valid(const char *s)
{
	size_t i;

	if (!s || strncmp(s, WEBHOOK_SECRET_PREFIX, 6) != 0 ||
	    strlen(s) != WEBHOOK_SECRET_LEN - 1)
		return 0;
	for (i = 6; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* HMAC-SHA-256(secret, "<t>.<body>") with libsodium's streaming form (any key length). */
static void sig_compute(const char *secret, long long t, const void *body, size_t len,
                        unsigned char out[SIG_LEN])
{
	crypto_auth_hmacsha256_state st;
	char prefix[T_MAX_DIGITS + 2];
	int n = snprintf(prefix, sizeof(prefix), "%lld.", t);

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)n);
	if (len)
		crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static int t_valid(long long t)
{
	return t >= 0 && t <= 999999999999999999LL;
}

int webhook_sign_header(const char *secret, long long t, const void *body, size_t len,
                        char out[WEBHOOK_SIG_HEADER_LEN])
{
	unsigned char mac[SIG_LEN];
	char hex[SIG_HEX_LEN + 1];
	int n;

	if (!secret || !*secret || !t_valid(t) || (!body && len))
		return -1;
	sig_compute(secret, t, body, len, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	n = snprintf(out, WEBHOOK_SIG_HEADER_LEN, "t=%lld,v1=%s", t, hex);
	sodium_memzero(mac, sizeof(mac));
	return n > 0 && n < WEBHOOK_SIG_HEADER_LEN ? 0 : -1;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The parsed header: the timestamp and the decoded v1 values. */
struct sig_parts {
	long long t;
	int have_t;
	size_t n_v1;
	unsigned char v1[WEBHOOK_SIG_MAX_V1][SIG_LEN];
};

/* One "key=value" item of klen+vlen bytes; 0 or -1 (malformed). */
static int parse_item(const char *key, size_t klen, const char *val, size_t vlen,
                      struct sig_parts *p)
{
	size_t i;

	if (klen == 0 || vlen == 0)
		return -1;
	for (i = 0; i < klen; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9')))
			return -1;
	for (i = 0; i < vlen; i++)
		if (val[i] == '=' || is_ows(val[i]) || (unsigned char)val[i] < 0x21 ||
		    (unsigned char)val[i] > 0x7e)
			return -1;
	if (klen == 1 && key[0] == 't') {
		long long t = 0;

		/* Canonical decimal only: "<t>." is signed as printed, so "017" is refused
		 * rather than read as 17. */
		if (p->have_t || vlen > T_MAX_DIGITS || (vlen > 1 && val[0] == '0'))
			return -1;
		for (i = 0; i < vlen; i++) {
			if (val[i] < '0' || val[i] > '9')
				return -1;
			t = t * 10 + (val[i] - '0');
		}
		p->t = t;
		p->have_t = 1;
	} else if (klen == 2 && key[0] == 'v' && key[1] == '1') {
		size_t bin_len = 0;

		if (p->n_v1 >= WEBHOOK_SIG_MAX_V1 || vlen != SIG_HEX_LEN)
			return -1;
		for (i = 0; i < vlen; i++)
			if (!is_hex(val[i]))
				return -1;
		if (sodium_hex2bin(p->v1[p->n_v1], SIG_LEN, val, vlen, NULL, &bin_len, NULL) != 0 ||
		    bin_len != SIG_LEN)
			return -1;
		p->n_v1++;
	}
	/* Any other well-formed key: ignored (forward compatible). */
	return 0;
}

static int parse_header(const char *header, struct sig_parts *p)
{
	size_t len, start, end, i;

	if (!header)
		return -1;
	len = strnlen(header, WEBHOOK_SIG_MAX_HEADER + 1);
	if (len > WEBHOOK_SIG_MAX_HEADER)
		return -1;
	start = 0;
	end = len;
	while (start < end && is_ows(header[start]))
		start++;
	while (end > start && is_ows(header[end - 1]))
		end--;
	if (start == end)
		return -1;
	i = start;
	for (;;) {
		size_t item = i, eq = 0, found_eq = 0;

		while (i < end && header[i] != ',') {
			if (header[i] == '=' && !found_eq) {
				eq = i;
				found_eq = 1;
			}
			i++;
		}
		if (!found_eq ||
		    parse_item(header + item, eq - item, header + eq + 1, i - eq - 1, p) < 0)
			return -1;
		if (i == end)
			break;
		i++;          /* the ',' */
		if (i == end) /* a trailing ',' */
			return -1;
	}
	return p->have_t && p->n_v1 > 0 ? 0 : -1;
}

int webhook_sign_verify(const char *header, const char *secret, const void *body, size_t len,
                        long long now, long long tolerance)
{
	struct sig_parts p;
	unsigned char mac[SIG_LEN];
	int match = 0;
	size_t i;
	long long age;

	memset(&p, 0, sizeof(p));
	if (!secret || !*secret || (!body && len) || tolerance < 0 || !t_valid(now) ||
	    parse_header(header, &p) < 0)
		return WEBHOOK_SIG_MALFORMED;
	sig_compute(secret, p.t, body, len, mac);
	for (i = 0; i < p.n_v1; i++)
		match |= sodium_memcmp(mac, p.v1[i], SIG_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!match)
		return WEBHOOK_SIG_MISMATCH;
	age = now > p.t ? now - p.t : p.t - now;
	return age > tolerance ? WEBHOOK_SIG_STALE : WEBHOOK_SIG_OK;
}
