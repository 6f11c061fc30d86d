/* secret.c: argon2id hashes, random secrets, API tokens (libsodium). */
#include "secret.h"

#include <sodium.h>
#include <string.h>

#define TOKEN_PREFIX "kdn_"

int secret_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void secret_random_text(char out[SECRET_TEXT_LEN])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, SECRET_TEXT_LEN, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int secret_hash(const char *secret, char out[SECRET_HASH_LEN])
{
	char hash[crypto_pwhash_STRBYTES];

	_Static_assert(crypto_pwhash_STRBYTES <= SECRET_HASH_LEN, "SECRET_HASH_LEN too small");
	if (crypto_pwhash_str_alg(hash, secret, strlen(secret), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	memcpy(out, hash, sizeof(hash));
	return 0;
}

int secret_verify(const char *stored_hash, const char *secret)
{
	if (!stored_hash || !secret)
		return 0;
	return crypto_pwhash_str_verify(stored_hash, secret, strlen(secret)) == 0;
}

void secret_digest(const char *s, char out[SECRET_DIGEST_LEN])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, (const unsigned char *)s, strlen(s));
	sodium_bin2hex(out, SECRET_DIGEST_LEN, d, sizeof(d));
}

int secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return 0;
	return sodium_memcmp(a, b, la) == 0;
}

void secret_token_new(const char *token_id, char out[TOKEN_LEN])
{
	char text[SECRET_TEXT_LEN];

	secret_random_text(text);
	memcpy(out, TOKEN_PREFIX, 4);
	memcpy(out + 4, token_id, 36);
	out[40] = '_';
	memcpy(out + 41, text, 43);
	out[84] = '\0';
	sodium_memzero(text, sizeof(text));
}

int secret_token_id(const char *token, char id_out[UUID_STR_LEN])
{
	char id[UUID_STR_LEN];

	if (!token || strlen(token) != TOKEN_LEN - 1 || strncmp(token, TOKEN_PREFIX, 4) != 0 ||
	    token[40] != '_')
		return -1;
	memcpy(id, token + 4, 36);
	id[36] = '\0';
	if (!ids_is_uuid(id))
		return -1;
	memcpy(id_out, id, UUID_STR_LEN);
	return 0;
}
