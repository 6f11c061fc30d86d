/* relay_key.c: one-time stream keys (relay_key.h). */
#include "relay_key.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

void relay_key_new(struct relay_key *key, int64_t now_ms)
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(key->text, sizeof(key->text), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	key->made_ms = now_ms;
	key->used = 0;
}

void relay_key_wipe(struct relay_key *key)
{
	sodium_memzero(key->text, sizeof(key->text));
}

/* The token of "Bearer <token>" and its length (trailing blanks left out), or NULL. */
static const char *bearer(const char *authorization, size_t *len)
{
	const char *h;
	size_t n;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	h = authorization + 7;
	h += strspn(h, " ");
	n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*len = n;
	return h;
}

int relay_key_well_formed(const char *authorization)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                               "0123456789-_";
	size_t len = 0;
	const char *h = bearer(authorization, &len);

	return h && len == PROTO_STREAM_KEY_LEN && strspn(h, alphabet) >= len;
}

enum relay_key_rc relay_key_check(struct relay_key *key, const char *authorization,
                                  int64_t now_ms)
{
	size_t len = 0;
	const char *h = bearer(authorization, &len);

	if (!h)
		return RELAY_KEY_MISSING;
	/* The length is no secret (every key has it); the bytes are compared in constant
	 * time. */
	if (len != PROTO_STREAM_KEY_LEN || !key->text[0] ||
	    sodium_memcmp(h, key->text, PROTO_STREAM_KEY_LEN) != 0)
		return RELAY_KEY_WRONG;
	if (key->used)
		return RELAY_KEY_USED;
	if (now_ms - key->made_ms > RELAY_KEY_TTL_MS || now_ms < key->made_ms)
		return RELAY_KEY_EXPIRED;
	key->used = 1;
	return RELAY_KEY_OK;
}
