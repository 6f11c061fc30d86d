/* ticket.c: resumption tickets (ticket.h): an HMAC-SHA256 over what the ticket admits. */
#include "ticket.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_DOMAIN "kaiden-agent-ticket/1"
#define MAC_TEXT_LEN 43 /* base64url of 32 bytes, no padding */

static void mac_of(const unsigned char key[TICKET_KEY_LEN], enum ticket_kind kind,
                   const char *id, long long version, int64_t expires_s,
                   unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	char num[48];
	unsigned char k = (unsigned char)kind;

	_Static_assert(TICKET_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "ticket key size");
	crypto_auth_hmacsha256_init(&st, key, TICKET_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)TICKET_DOMAIN,
	                              sizeof(TICKET_DOMAIN));
	crypto_auth_hmacsha256_update(&st, &k, 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id) + 1);
	snprintf(num, sizeof(num), "%lld", version);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)num, strlen(num) + 1);
	snprintf(num, sizeof(num), "%" PRId64, expires_s);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)num, strlen(num));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

void ticket_issue(const unsigned char key[TICKET_KEY_LEN], enum ticket_kind kind,
                  const char *id, long long version, int64_t expires_s, char out[TICKET_MAX])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char mac_text[MAC_TEXT_LEN + 1];

	mac_of(key, kind, id, version, expires_s, mac);
	sodium_bin2base64(mac_text, sizeof(mac_text), mac, sizeof(mac),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, TICKET_MAX, "1.%lld.%" PRId64 ".%s", version, expires_s, mac_text);
	sodium_memzero(mac, sizeof(mac));
}

/* A decimal of 1 to 19 digits, no sign, no leading zero: *out. 0, or -1. */
static int parse_num(const char *s, size_t n, long long *out)
{
	long long v = 0;

	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

enum ticket_rc ticket_check(const unsigned char key[TICKET_KEY_LEN], enum ticket_kind kind,
                            const char *id, long long version, int64_t now_s,
                            const char *text)
{
	const char *v, *e, *m;
	long long ticket_version, expires;
	unsigned char mac[crypto_auth_hmacsha256_BYTES], want[crypto_auth_hmacsha256_BYTES];
	size_t mac_len = 0;
	enum ticket_rc rc = TICKET_BAD;

	if (!text || !id || strnlen(text, TICKET_MAX) >= TICKET_MAX || strncmp(text, "1.", 2) != 0)
		return TICKET_BAD;
	v = text + 2;
	e = strchr(v, '.');
	m = e ? strchr(e + 1, '.') : NULL;
	if (!e || !m || parse_num(v, (size_t)(e - v), &ticket_version) != 0 ||
	    parse_num(e + 1, (size_t)(m - e - 1), &expires) != 0 ||
	    strlen(m + 1) != MAC_TEXT_LEN ||
	    sodium_base642bin(mac, sizeof(mac), m + 1, MAC_TEXT_LEN, NULL, &mac_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    mac_len != sizeof(mac))
		return TICKET_BAD;
	/* The MAC first: a forger learns nothing from the other answers. */
	mac_of(key, kind, id, ticket_version, expires, want);
	if (sodium_memcmp(mac, want, sizeof(mac)) != 0)
		goto out;
	if (expires <= now_s)
		rc = TICKET_EXPIRED;
	else if (ticket_version != version)
		rc = TICKET_STALE;
	else
		rc = TICKET_OK;
out:
	sodium_memzero(want, sizeof(want));
	return rc;
}

const char *ticket_rc_name(enum ticket_rc rc)
{
	switch (rc) {
	case TICKET_OK: return "ok";
	case TICKET_BAD: return "bad";
	case TICKET_EXPIRED: return "expired";
	case TICKET_STALE: return "stale";
	}
	return "?";
}
