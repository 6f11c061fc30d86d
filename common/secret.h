/* secret.h: everything secret goes through libsodium here.
 *
 * - Device/cluster secrets and passwords: argon2id (crypto_pwhash_str), stored as the
 *   encoded string; verification is constant-time inside libsodium.
 * - API tokens: "kdn_<token id>_<43 chars base64url of 32 random bytes>". The id finds
 *   the row; the stored value is the SHA-256 (hex) of the whole token, compared with
 *   sodium_memcmp. A fast hash is right here because the token has 256 random bits;
 *   argon2 on every request would cap the API at a few requests per second. */
#ifndef KAIDEN_SECRET_H
#define KAIDEN_SECRET_H

#include <stddef.h>
#include "compat.h"
#include "ids.h"

#define SECRET_HASH_LEN 128   /* room for crypto_pwhash_STRBYTES */
#define SECRET_DIGEST_LEN 65  /* 64 hex + NUL */
#define SECRET_TEXT_LEN 44    /* 43 base64url chars of 32 bytes + NUL */
#define TOKEN_LEN (4 + 36 + 1 + 43 + 1)

/* sodium_init; 0 or -1. Call once before threads start. */
int secret_init(void) WUR;
/* 32 random bytes as base64url without padding. */
void secret_random_text(char out[SECRET_TEXT_LEN]);
/* argon2id; 0 or -1 (out of memory). */
int secret_hash(const char *secret, char out[SECRET_HASH_LEN]) WUR;
/* 1 if secret matches the stored argon2id string, else 0. */
int secret_verify(const char *stored_hash, const char *secret) WUR;
/* SHA-256 hex of s. */
void secret_digest(const char *s, char out[SECRET_DIGEST_LEN]);
/* 1 if the two NUL-terminated strings are equal, in time independent of where they differ
 * (lengths may differ: then 0). */
int secret_equal(const char *a, const char *b) WUR;
/* Makes a new API token for token id into out. */
void secret_token_new(const char *token_id, char out[TOKEN_LEN]);
/* Splits "kdn_<uuid>_<secret>": writes the id (UUID_STR_LEN) and returns 0, or -1 if the
 * token is not of that shape. */
int secret_token_id(const char *token, char id_out[UUID_STR_LEN]) WUR;

#endif
