/* jwt.h: login tokens as JSON Web Tokens (RFC 7519), HS256 only (RFC 7515 with
 * HMAC-SHA-256 from libsodium, base64url without padding).
 *
 * A token is "<header>.<payload>.<signature>"; the header is always
 * {"alg":"HS256","typ":"JWT"}. Verification refuses any other alg (no "none", no RS*),
 * compares the signature in constant time, and checks exp (and nbf/iat not in the future
 * beyond JWT_LEEWAY_S). The claims Kaiden puts in a login token:
 *   sub        the user id
 *   tenant_id  the user's tenant, or null for platform staff (admin, engineer)
 *   role       "admin" | "engineer" | "tenant_admin" | "customer"
 *   jti        the login's id (logins table): logout revokes it
 *   iat, exp   Unix seconds */
#ifndef KAIDEN_JWT_H
#define KAIDEN_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "compat.h"

#define JWT_MAX_LEN 2048
#define JWT_KEY_MIN 32     /* bytes of key (auth.jwt_secret) */
#define JWT_LEEWAY_S 60

enum jwt_rc {
	JWT_OK = 0,
	JWT_MALFORMED = -1,  /* not three base64url parts of JSON objects, or too long */
	JWT_BAD_ALG = -2,    /* header alg is not HS256 */
	JWT_BAD_SIG = -3,    /* signature does not match */
	JWT_EXPIRED = -4,    /* exp is past (or missing) */
	JWT_NOT_YET = -5,    /* nbf or iat in the future */
	JWT_ERR = -6         /* out of memory, key too short */
};

/* Signs claims (any JSON object; not consumed) into out (NUL-terminated).
 * JWT_OK or JWT_ERR. */
int jwt_sign(const json_object *claims, const unsigned char *key, size_t keylen,
             char out[JWT_MAX_LEN]) WUR;

/* Verifies token at time now (Unix seconds); on JWT_OK *claims is the payload (owned by
 * the caller). */
int jwt_verify(const char *token, const unsigned char *key, size_t keylen, int64_t now,
               json_object **claims) WUR;

/* A sentence for a jwt_rc (never includes the token). */
const char *jwt_strerror(int rc);

#endif
