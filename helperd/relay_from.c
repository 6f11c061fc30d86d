/* relay_from.c: the engineer's address, vouched for across helperds (relay_from.h). */
#include "relay_from.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "kaiden relay-from v1\n"
#define SIG_B64_LEN 43 /* 32 bytes, base64url without padding */

static void mac(const unsigned char key[TICKET_KEY_LEN], const char *session_id,
                const char *addr, const char *ms, unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, TICKET_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)PREFIX, strlen(PREFIX));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)session_id, strlen(session_id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)addr, strlen(addr));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ms, strlen(ms));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st)); /* it holds the key's pads */
}

int relay_from_sign(const unsigned char key[TICKET_KEY_LEN], const char *session_id,
                    const char *addr, int64_t now_ms, char out[RELAY_FROM_MAX])
{
	unsigned char sig[crypto_auth_hmacsha256_BYTES];
	char ms[24], b64[SIG_B64_LEN + 1];

	if (strlen(addr) >= HUB_ADDR_LEN || !hub_addr_is_ip(addr))
		return -1;
	snprintf(ms, sizeof(ms), "%" PRId64, now_ms);
	mac(key, session_id, addr, ms, sig);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, RELAY_FROM_MAX, "%s;%s;%s", addr, ms, b64);
	return 0;
}

int relay_from_check(const unsigned char key[TICKET_KEY_LEN], const char *value,
                     const char *session_id, int64_t now_ms, char addr[HUB_ADDR_LEN])
{
	unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	char a[HUB_ADDR_LEN], ms[24];
	const char *s1, *s2, *b64;
	size_t got_len = 0;
	char *end;
	long long when;

	if (!value || strlen(value) >= RELAY_FROM_MAX)
		return -1;
	s1 = strchr(value, ';');
	s2 = s1 ? strchr(s1 + 1, ';') : NULL;
	if (!s2 || (size_t)(s1 - value) >= sizeof(a) || (size_t)(s2 - s1 - 1) >= sizeof(ms) ||
	    s2 == s1 + 1)
		return -1;
	memcpy(a, value, (size_t)(s1 - value));
	a[s1 - value] = '\0';
	memcpy(ms, s1 + 1, (size_t)(s2 - s1 - 1));
	ms[s2 - s1 - 1] = '\0';
	b64 = s2 + 1;
	if (!hub_addr_is_ip(a) || ms[0] < '0' || ms[0] > '9' || strlen(b64) != SIG_B64_LEN)
		return -1;
	when = strtoll(ms, &end, 10);
	if (*end || when > now_ms + RELAY_FROM_SKEW_MS || when < now_ms - RELAY_FROM_SKEW_MS)
		return -1;
	if (sodium_base642bin(got, sizeof(got), b64, SIG_B64_LEN, NULL, &got_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    got_len != sizeof(got))
		return -1;
	mac(key, session_id, a, ms, want);
	if (sodium_memcmp(want, got, sizeof(want)) != 0)
		return -1;
	memcpy(addr, a, sizeof(a));
	return 0;
}
