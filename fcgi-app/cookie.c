/* cookie.c: the login cookie, its CSRF token, and a strict Cookie header parser
 * (cookie.h).
 *
 * The parser takes what browsers send (RFC 6265 4.2.1: cookie-pair *( ";" SP
 * cookie-pair )), tolerating extra blanks around the separators and a trailing ";", and
 * nothing else: whatever does not fit means the header carries no cookie, so a request
 * with a mangled header is simply unauthenticated (401), never half-understood. */
#include "cookie.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "jwt.h"

/* RFC 6265 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E. */
static int cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* RFC 9110 tchar. */
static int tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	const char *p = header ? header : "";
	size_t nlen = strlen(name);
	int found = 0;

	if (outlen)
		out[0] = '\0';
	p += strspn(p, " \t");
	while (*p) {
		const char *n = p, *v;
		size_t len, vlen;
		int quoted = 0;

		len = 0;
		while (tchar((unsigned char)p[len]))
			len++;
		if (len == 0 || p[len] != '=')
			goto bad;
		v = p + len + 1;
		if (*v == '"') {
			quoted = 1;
			v++;
		}
		vlen = 0;
		while (cookie_octet((unsigned char)v[vlen]))
			vlen++;
		p = v + vlen;
		if (quoted) {
			if (*p != '"')
				goto bad;
			p++;
		}
		if (len == nlen && memcmp(n, name, nlen) == 0) {
			if (found || vlen == 0 || vlen >= outlen)
				goto bad;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			found = 1;
		}
		/* Then the end, or ";" and the next pair (blanks allowed around it). */
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (*p != ';')
			goto bad;
		p++;
		p += strspn(p, " \t");
	}
	return found;
bad:
	if (outlen)
		explicit_bzero(out, outlen);
	return 0;
}

/* K = HMAC-SHA256(auth.jwt_secret, "kaiden csrf key"): the JWT key never signs anything
 * but JWTs directly. */
static int csrf_key(unsigned char key[crypto_auth_hmacsha256_KEYBYTES])
{
	static const char label[] = "kaiden csrf key";
	const char *secret = cfg_str(CFG_AUTH_JWT_SECRET);
	crypto_auth_hmacsha256_state st;

	if (!secret || strlen(secret) < JWT_KEY_MIN)
		return -1;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_final(&st, key);
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int csrf_token(const char *jti, char out[CSRF_TOKEN_LEN])
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
	char msg[64];
	int n;

	out[0] = '\0';
	n = snprintf(msg, sizeof(msg), "csrf:%s", jti ? jti : "");
	if (!jti || !*jti || n < 0 || (size_t)n >= sizeof(msg) || csrf_key(key) < 0)
		return -1;
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (unsigned long long)n, key);
	sodium_bin2base64(out, CSRF_TOKEN_LEN, mac, sizeof(mac),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(mac, sizeof(mac));
	return 0;
}

int csrf_valid(const char *jti, const char *given)
{
	char want[CSRF_TOKEN_LEN];
	int ok;

	if (!given || strlen(given) != CSRF_TOKEN_LEN - 1 || csrf_token(jti, want) < 0)
		return 0;
	ok = sodium_memcmp(want, given, CSRF_TOKEN_LEN - 1) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

static int host_is_loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
	       strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0;
}

int cookie_secure(const struct req *r)
{
	const char *scheme = r->scheme ? r->scheme : "";

	/* Unknown scheme, https, or any other host: Secure (failing safe). */
	return !(strcmp(scheme, "http") == 0 && host_is_loopback(r->host ? r->host : ""));
}

static void set_cookie(const struct req *r, struct resp *rs, const char *name,
                       const char *value, const char *path, int http_only, long max_age)
{
	char line[JWT_MAX_LEN + 160];
	int n = snprintf(line, sizeof(line), "%s=%s; Path=%s;%s SameSite=Strict; Max-Age=%ld%s",
	                 name, value, path, http_only ? " HttpOnly;" : "", max_age,
	                 cookie_secure(r) ? "; Secure" : "");

	if (n > 0 && (size_t)n < sizeof(line))
		resp_header(rs, "Set-Cookie", line);
	explicit_bzero(line, sizeof(line));
}

int cookie_set_login(const struct req *r, struct resp *rs, const char *token,
                     const char *jti, long ttl)
{
	char csrf[CSRF_TOKEN_LEN];

	if (csrf_token(jti, csrf) < 0)
		return -1;
	set_cookie(r, rs, COOKIE_SESSION, token, "/api/", 1, ttl);
	set_cookie(r, rs, COOKIE_CSRF, csrf, "/", 0, ttl);
	return 0;
}

void cookie_clear_login(const struct req *r, struct resp *rs)
{
	set_cookie(r, rs, COOKIE_SESSION, "", "/api/", 1, 0);
	set_cookie(r, rs, COOKIE_CSRF, "", "/", 0, 0);
}
