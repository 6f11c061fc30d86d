/* cookie.h: the login cookie (kaiden_session) and its CSRF token (kaiden_csrf), for the
 * browser portal (issue 10).
 *
 * A successful POST /api/v1/auth/login sets both; POST /api/v1/auth/logout clears both:
 *   kaiden_session=<login JWT>; Path=/api/; HttpOnly; SameSite=Strict; Max-Age=<ttl>[; Secure]
 *   kaiden_csrf=<token>; Path=/; SameSite=Strict; Max-Age=<ttl>[; Secure]
 * Secure is left out only for plain http to a loopback host (127.0.0.1, ::1, localhost),
 * where a browser would drop a Secure cookie; everywhere else it is on.
 *
 * The CSRF token is bound to the login: base64url(HMAC-SHA256(K, "csrf:" + jti)) with
 * K = HMAC-SHA256(auth.jwt_secret, "kaiden csrf key"). Only this server can make it, so
 * a cookie planted by a neighbouring host does not pass; a cookie-authenticated write
 * (any method but GET/HEAD) must echo it in X-Kaiden-CSRF (auth.c checks it). */
#ifndef KAIDEN_COOKIE_H
#define KAIDEN_COOKIE_H

#include <stddef.h>
#include "compat.h"
#include "cookies.h"
#include "req.h"
#include "resp.h"

#define COOKIE_CSRF "kaiden_csrf"
#define CSRF_HEADER "X-Kaiden-CSRF"
/* base64url of 32 bytes without padding: 43 characters and the NUL. */
#define CSRF_TOKEN_LEN 44

/* The CSRF token of login jti, with auth.jwt_secret as the key. 0, or -1 when the key is
 * not set (no login can be valid then). */
int csrf_token(const char *jti, char out[CSRF_TOKEN_LEN]) WUR;

/* 1 when given is the CSRF token of login jti (compared in constant time), else 0. */
int csrf_valid(const char *jti, const char *given);

/* 1 when the login cookies of this request get Secure (all but plain http to a loopback
 * host). */
int cookie_secure(const struct req *r);

/* Adds the two Set-Cookie lines of a new login (token is the JWT, jti its id). 0, or -1
 * when the CSRF token could not be made (nothing added). */
int cookie_set_login(const struct req *r, struct resp *rs, const char *token,
                     const char *jti, long ttl) WUR;

/* Adds the two Set-Cookie lines that clear them (Max-Age=0, same attributes). */
void cookie_clear_login(const struct req *r, struct resp *rs);

#endif
