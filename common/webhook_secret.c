/* webhook_secret.c: sealing webhook secrets (webhook_secret.h). */
#include "webhook_secret.h"

#include <sodium.h>
#include <string.h>

#define SEALED_PREFIX "v1."
#define CONTEXT "kaiden webhook secret v1"
#define SECRET_BYTES (WEBHOOK_SECRET_LEN - 1)
#define RAW_LEN (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + SECRET_BYTES)

/* The box key: BLAKE2b-256 of CONTEXT keyed by a BLAKE2b-256 of the key material (the
 * material may be longer than BLAKE2b's 64-byte key limit). */
static void derive_key(const char *material, unsigned char key[crypto_secretbox_KEYBYTES])
{
	unsigned char k0[crypto_generichash_KEYBYTES];

	crypto_generichash(k0, sizeof(k0), (const unsigned char *)material, strlen(material),
	                   NULL, 0);
	crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)CONTEXT,
	                   strlen(CONTEXT), k0, sizeof(k0));
	sodium_memzero(k0, sizeof(k0));
}

int webhook_secret_seal(const char *key_material, const char *secret,
                        char out[WEBHOOK_SEALED_MAX])
{
	unsigned char key[crypto_secretbox_KEYBYTES], raw[RAW_LEN];
	unsigned char *nonce = raw, *box = raw + crypto_secretbox_NONCEBYTES;

	if (!key_material || !*key_material || !secret || !webhook_secret_valid(secret))
		return -1;
	derive_key(key_material, key);
	randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box, (const unsigned char *)secret, SECRET_BYTES, nonce, key);
	sodium_memzero(key, sizeof(key));
	memcpy(out, SEALED_PREFIX, strlen(SEALED_PREFIX));
	sodium_bin2base64(out + strlen(SEALED_PREFIX), WEBHOOK_SEALED_MAX - strlen(SEALED_PREFIX),
	                  raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int webhook_secret_open(const char *key_material, const char *sealed,
                        char out[WEBHOOK_SECRET_LEN])
{
	unsigned char key[crypto_secretbox_KEYBYTES], raw[RAW_LEN + 1];
	unsigned char plain[SECRET_BYTES + 1];
	size_t len = 0;
	const char *b64;
	int rc;

	out[0] = '\0';
	if (!key_material || !*key_material || !sealed ||
	    strncmp(sealed, SEALED_PREFIX, strlen(SEALED_PREFIX)) != 0)
		return -1;
	b64 = sealed + strlen(SEALED_PREFIX);
	if (sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != RAW_LEN)
		return -1;
	derive_key(key_material, key);
	rc = crypto_secretbox_open_easy(plain, raw + crypto_secretbox_NONCEBYTES,
	                                RAW_LEN - crypto_secretbox_NONCEBYTES, raw, key);
	sodium_memzero(key, sizeof(key));
	if (rc != 0)
		return -1;
	plain[SECRET_BYTES] = '\0';
	if (!webhook_secret_valid((const char *)plain)) {
		sodium_memzero(plain, sizeof(plain));
		return -1;
	}
	memcpy(out, plain, WEBHOOK_SECRET_LEN);
	sodium_memzero(plain, sizeof(plain));
	return 0;
}
