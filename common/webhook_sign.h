/* webhook_sign.h: the signature on every webhook delivery, and webhook secrets.
 *
 * Header:  Kaiden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * The HMAC key is the secret exactly as shown to the tenant (the whole ASCII text, its
 * "whsec_" prefix included), so a receiver needs no decoding step. <t> is the decimal
 * time of signing, <body> the exact bytes sent; the hex is lowercase.
 *
 * Secret: "whsec_" + 43 base64url characters (no padding) of 32 random bytes.
 *
 * Rules of webhook_sign_verify (what a receiver should do too):
 * - Leading and trailing spaces/tabs of the whole value are ignored (HTTP strips them);
 *   anything else must be exact: items separated by ',' with no spaces, each
 *   "<key>=<value>" with a non-empty key and value.
 * - Exactly one "t": 1 to 18 decimal digits without leading zeros, nothing else.
 * - One to WEBHOOK_SIG_MAX_V1 "v1" values, each 64 hex digits (either case); the header
 *   is good when ANY of them matches, so a sender may sign with two secrets at once
 *   while one is being rotated. Each is compared in constant time, and every one is
 *   compared (no early exit).
 * - Other keys (e.g. a future "v2") are ignored if well formed.
 * - The signature is checked first; only an authentic header can be "stale", which is
 *   |now - t| > tolerance seconds. */
#ifndef KAIDEN_WEBHOOK_SIGN_H
#define KAIDEN_WEBHOOK_SIGN_H

#include <stddef.h>
#include "compat.h"

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_LEN (6 + 43 + 1)     /* prefix + base64url of 32 bytes + NUL */
#define WEBHOOK_SIG_HEADER_LEN 96           /* "t=" + 18 digits + ",v1=" + 64 + NUL */
#define WEBHOOK_SIG_MAX_V1 8
#define WEBHOOK_SIG_MAX_HEADER 1024         /* longer headers are malformed */
#define WEBHOOK_SIG_TOLERANCE 300           /* seconds: the default a receiver should use */

enum webhook_sig_rc {
	WEBHOOK_SIG_OK = 0,
	WEBHOOK_SIG_MALFORMED = -1,  /* not of the shape above */
	WEBHOOK_SIG_MISMATCH = -2,   /* no v1 matches this secret and body */
	WEBHOOK_SIG_STALE = -3,      /* authentic, but t is outside the tolerance */
};

/* A new secret into out (NUL-terminated). sodium_init must have run. */
void webhook_secret_new(char out[WEBHOOK_SECRET_LEN]);

/* 1 when s has the shape of a secret made by webhook_secret_new, else 0. */
int webhook_secret_valid(const char *s) WUR;

/* Writes the header value for secret (NUL-terminated, non-empty), time t (0 to
 * 999999999999999999) and len bytes of body into out; 0, or -1 on bad arguments
 * (out untouched). */
int webhook_sign_header(const char *secret, long long t, const void *body, size_t len,
                        char out[WEBHOOK_SIG_HEADER_LEN]) WUR;

/* Checks header (NUL-terminated; NULL is malformed) against secret and len bytes of body
 * at time now (0 to 999999999999999999) with tolerance seconds (>= 0): an enum
 * webhook_sig_rc. Arguments out of those ranges give WEBHOOK_SIG_MALFORMED. */
int webhook_sign_verify(const char *header, const char *secret, const void *body, size_t len,
                        long long now, long long tolerance) WUR;

/* A sentence for an enum webhook_sig_rc (static). */
const char *webhook_sign_strerror(int rc);

#endif
