/* cookies.h: a strict Cookie header parser, shared by kaiden-api (fcgi-app/cookie.h: the
 * login cookie and its CSRF token) and helperd (the browser's event stream, which the
 * login cookie authenticates too). */
#ifndef KAIDEN_COOKIES_H
#define KAIDEN_COOKIES_H

#include <stddef.h>
#include "compat.h"

/* The login cookie: a login JWT (never an API token). */
#define COOKIE_SESSION "kaiden_session"

/* The value of cookie name in a Cookie header (RFC 6265 4.2: name=value pairs separated
 * by "; "), copied into out. 1 when present exactly once and it fits outlen-1; 0 when
 * absent, and also when the header is malformed anywhere (a name that is no token, a
 * value with characters outside cookie-octet, empty pairs, control bytes), the name
 * occurs more than once, or the value is empty or too long: such a header carries no
 * cookie at all. */
int cookie_get(const char *header, const char *name, char *out, size_t outlen) WUR;

#endif
