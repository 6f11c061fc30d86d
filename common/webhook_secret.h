/* webhook_secret.h: a webhook's signing secret at rest.
 *
 * The delivery must sign with the secret itself, so it cannot be stored as a hash like
 * every other secret of ours. It is sealed instead: XSalsa20-Poly1305 (libsodium's
 * crypto_secretbox_easy) under a key derived from auth.jwt_secret with BLAKE2b keyed
 * hashing and the context "kaiden webhook secret v1". kaiden-api seals on create and
 * rotate; helperd, which has the same auth.jwt_secret, opens to sign. A database dump
 * alone gives no secret away; changing auth.jwt_secret makes every sealed secret
 * unopenable (the deliveries then fail with that reason: rotate the hooks' secrets).
 *
 * Sealed text: "v1." + base64url without padding of nonce (24 bytes) + box (secret +
 * 16 bytes of tag). */
#ifndef KAIDEN_WEBHOOK_SECRET_H
#define KAIDEN_WEBHOOK_SECRET_H

#include "compat.h"
#include "webhook_sign.h"

#define WEBHOOK_SEALED_MAX 160 /* "v1." + base64url of 24 + 49 + 16 bytes + NUL */

/* Seals secret (a webhook_secret_new secret) under key_material (auth.jwt_secret,
 * non-empty) into out; 0, or -1 on bad arguments. */
int webhook_secret_seal(const char *key_material, const char *secret,
                        char out[WEBHOOK_SEALED_MAX]) WUR;
/* Opens sealed into out; 0, or -1 when it is malformed or was sealed under another key
 * (out is then an empty string). */
int webhook_secret_open(const char *key_material, const char *sealed,
                        char out[WEBHOOK_SECRET_LEN]) WUR;

#endif
