/* cookie.c: the login cookie and its CSRF token (cookie.h); the Cookie header parser
 * they use is common/cookies.c, shared with helperd. */
#include "cookie.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "jwt.h"

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
