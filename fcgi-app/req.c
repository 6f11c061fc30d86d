/* req.c: builds a struct req from CGI parameters, and parses its query string.
 *
 * Everything here is untrusted input. A parameter may be absent (NULL), empty, huge, or
 * hold bytes a C string cannot carry; none of that may crash or reach the store
 * unchecked. Where the path comes from, in order:
 *   1. DOCUMENT_URI: nginx's decoded, normalised path ($document_uri, set by the stock
 *      fastcgi_params). Preferred because $fastcgi_script_name appends fastcgi_index to
 *      a path ending in '/'.
 *   2. SCRIPT_NAME + PATH_INFO: any other CGI/FastCGI server (already decoded).
 *   3. REQUEST_URI without its query, percent-decoded here. A path that does not decode
 *      cleanly (%00, a bad escape) is kept raw so it matches no route (404). */
#include "req.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ids.h"
#include "store.h"
#include "utf8.h"

/* Longest method name and client-given request id kept as received. */
#define METHOD_MAX 16
#define REQUEST_ID_MAX 64

/* List pages (docs/api.md). */
#define REQ_PAGE_DEFAULT 50
#define REQ_PAGE_MAX 200

static const char *const method_names[HTTP__MAX] = {
	[HTTP_GET] = "GET",       [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",       [HTTP_PATCH] = "PATCH",   [HTTP_DELETE] = "DELETE",
	[HTTP_OPTIONS] = "OPTIONS", [HTTP_OTHER] = "OTHER",
};

enum http_method req_method_parse(const char *name)
{
	if (!name)
		return HTTP_OTHER;
	/* Methods are case-sensitive (RFC 9110 9.1). */
	for (int m = 0; m < HTTP_OTHER; m++)
		if (strcmp(name, method_names[m]) == 0)
			return (enum http_method)m;
	return HTTP_OTHER;
}

const char *req_method_name(enum http_method m)
{
	if ((int)m < 0 || m >= HTTP__MAX)
		return "OTHER";
	return method_names[m];
}

static const char *param_get(req_param_fn param, void *ctx, const char *name)
{
	const char *v = param ? param(ctx, name) : NULL;
	return v ? v : "";
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of a path ('+' stays '+'): a malloc'd string, or NULL when out of
 * memory. *clean is 0 when an escape was malformed or decoded to NUL. */
static char *path_decode(const char *s, size_t n, int *clean)
{
	char *out = malloc(n + 1), *o = out;

	*clean = 1;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 < n) {
				int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
				if (a >= 0 && b >= 0 && (a | b) != 0) {
					*o++ = (char)(a * 16 + b);
					i += 2;
					continue;
				}
			}
			*clean = 0;
			break;
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static char *build_path(req_param_fn param, void *ctx)
{
	const char *doc = param_get(param, ctx, "DOCUMENT_URI"), *script, *info, *uri;

	if (*doc)
		return strdup(doc);
	script = param_get(param, ctx, "SCRIPT_NAME");
	info = param_get(param, ctx, "PATH_INFO");
	uri = param_get(param, ctx, "REQUEST_URI");
	if (*script || *info) {
		size_t a = strlen(script), b = strlen(info);
		char *p = malloc(a + b + 1);
		if (p) {
			memcpy(p, script, a);
			memcpy(p + a, info, b + 1);
		}
		return p;
	}
	size_t n = strcspn(uri, "?#");
	int clean;
	char *decoded = path_decode(uri, n, &clean);
	if (!decoded || clean)
		return decoded;
	free(decoded);
	return strndup(uri, n);
}

/* A client's X-Request-Id is echoed in a header and in logs: take it only when it is
 * short and made of characters that cannot break either. */
static int request_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > REQUEST_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':')
			return 0;
	}
	return 1;
}

/* Digits only; a number too big for a long saturates (it is over any body limit). */
static long parse_length(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (LONG_MAX - 9) / 10)
			v = LONG_MAX;
		else
			v = v * 10 + (*s - '0');
	}
	return v;
}

/* "Acme.Example.com:8443" -> "acme.example.com"; "[::1]:80" -> "[::1]". Anything over
 * 253 characters is not a host name we serve: "". */
static char *host_of(const char *h)
{
	size_t len = strlen(h);
	char *out;

	if (h[0] == '[') {
		const char *close = strchr(h, ']');
		len = close ? (size_t)(close - h) + 1 : len;
	} else {
		const char *colon = strchr(h, ':');
		if (colon)
			len = (size_t)(colon - h);
	}
	if (len > 253)
		len = 0;
	out = strndup(h, len);
	for (char *p = out; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* "https://acme.example.com:8443" from the scheme (REQUEST_SCHEME, or HTTPS "on" as
 * CGI says it), the Host header and the port: where the caller reached us, for links in
 * replies when server.public_url is not set. nginx's fastcgi_params pass the Host
 * without its port ($host), so a Host without one gets SERVER_PORT unless that is the
 * scheme's default (behind a proxy or a port mapping this guess is wrong: that is what
 * server.public_url is for). "" when the scheme is not http or https, or the Host is
 * anything but a host name or [IPv6 address] with an optional port: a link never
 * carries characters a client did not mean as a host. */
static char *origin_of(const char *scheme, const char *https, const char *h,
                       const char *server_port)
{
	size_t len = strlen(h), i, digits;
	const char *port = "";
	char *out = NULL;

	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		scheme = strcasecmp(https, "on") == 0 ? "https" : "";
	if (!*scheme || len == 0 || len > 253 + 6)
		return strdup("");
	if (h[0] == '[') {
		i = strspn(h + 1, "0123456789abcdefABCDEF:.") + 1;
		if (h[i] != ']')
			return strdup("");
		i++;
	} else {
		i = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		if (i == 0 || !isalnum((unsigned char)h[0]))
			return strdup("");
	}
	/* An optional :port of 1 to 5 digits, then the end. */
	if (h[i] == ':') {
		digits = strspn(h + i + 1, "0123456789");
		if (digits >= 1 && digits <= 5)
			i += 1 + digits;
	} else if (h[i] == '\0') {
		digits = strspn(server_port, "0123456789");
		if (digits >= 1 && digits <= 5 && server_port[digits] == '\0' &&
		    strcmp(server_port, strcmp(scheme, "https") == 0 ? "443" : "80") != 0)
			port = server_port;
	}
	if (i != len)
		return strdup("");
	if (asprintf(&out, "%s://%s%s%s", scheme, h, *port ? ":" : "", port) < 0)
		return NULL;
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* "http" or "https" as the web server saw the request (REQUEST_SCHEME, else HTTPS=on as
 * CGI says it), else "". */
static const char *scheme_of(const char *scheme, const char *https)
{
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
		return scheme;
	return strcasecmp(https, "on") == 0 ? "https" : "";
}

int req_init(struct req *r, req_param_fn param, void *ctx, struct db *db)
{
	const char *method = param_get(param, ctx, "REQUEST_METHOD");
	const char *rid = param_get(param, ctx, "HTTP_X_REQUEST_ID");
	const char *http_host = param_get(param, ctx, "HTTP_HOST");
	const char *req_scheme = param_get(param, ctx, "REQUEST_SCHEME");
	const char *https = param_get(param, ctx, "HTTPS");
	const char *cookie;

	memset(r, 0, sizeof(*r));
	r->db = db;
	r->method = req_method_parse(method);
	r->method_name = strndup(method, METHOD_MAX);
	r->path = build_path(param, ctx);
	r->query = strdup(param_get(param, ctx, "QUERY_STRING"));
	r->content_type = strdup(param_get(param, ctx, "CONTENT_TYPE"));
	r->authorization = strdup(param_get(param, ctx, "HTTP_AUTHORIZATION"));
	r->remote_addr = strdup(param_get(param, ctx, "REMOTE_ADDR"));
	r->host = host_of(http_host);
	r->origin = origin_of(req_scheme, https, http_host, param_get(param, ctx, "SERVER_PORT"));
	r->tenant_header = strndup(param_get(param, ctx, "HTTP_X_KAIDEN_TENANT"), 64);
	r->scheme = strdup(scheme_of(req_scheme, https));
	cookie = param_get(param, ctx, "HTTP_COOKIE");
	r->cookie = strdup(strlen(cookie) > REQ_COOKIE_MAX ? "" : cookie);
	r->csrf_header = strndup(param_get(param, ctx, "HTTP_X_KAIDEN_CSRF"), 64);
	r->content_length = parse_length(param_get(param, ctx, "CONTENT_LENGTH"));
	if (request_id_ok(rid)) {
		r->request_id = strdup(rid);
	} else {
		r->request_id = malloc(UUID_STR_LEN);
		if (r->request_id)
			ids_uuid7(r->request_id);
	}
	if (!r->method_name || !r->path || !r->query || !r->content_type || !r->authorization ||
	    !r->remote_addr || !r->host || !r->origin || !r->tenant_header || !r->scheme ||
	    !r->cookie || !r->csrf_header || !r->request_id) {
		req_clear(r);
		return -1;
	}
	return 0;
}

void req_take_body(struct req *r, char *body, size_t len)
{
	free(r->body);
	r->body = body;
	r->body_len = body ? len : 0;
}

enum req_body_rc req_read_body(struct req *r, long max)
{
	const struct req_body_source *from = r->body_from;
	long want = r->content_length;
	struct buf body;
	char chunk[8192];

	r->body_from = NULL;
	if (!from)
		return (long)r->body_len > max ? REQ_BODY_TOO_LARGE : REQ_BODY_OK;
	if (want > max)
		return REQ_BODY_TOO_LARGE; /* said so up front: not one byte is read */
	if (want == 0 || (want < 0 && !from->stream))
		return REQ_BODY_OK;
	buf_init(&body, (size_t)max);
	for (;;) {
		int n = (int)sizeof(chunk);
		if (want >= 0 && (long)body.len + n > want)
			n = (int)(want - (long)body.len);
		if (n <= 0)
			break;
		n = from->read(from->ctx, chunk, n);
		if (n <= 0)
			break;
		if (buf_append(&body, chunk, (size_t)n) < 0) {
			/* No CONTENT_LENGTH, and more than max arrived (or memory ran out). */
			int over = body.len + (size_t)n > (size_t)max;
			buf_clear(&body);
			return over ? REQ_BODY_TOO_LARGE : REQ_BODY_NOMEM;
		}
	}
	if (body.len == 0) {
		buf_clear(&body);
		return REQ_BODY_OK;
	}
	size_t len = body.len;
	char *data = buf_take(&body);
	if (!data)
		return REQ_BODY_NOMEM;
	req_take_body(r, data, len);
	return REQ_BODY_OK;
}

int req_keep(struct req *r, char *s)
{
	if (r->nscratch >= (int)ARRAY_LEN(r->scratch)) {
		free(s);
		return -1;
	}
	r->scratch[r->nscratch++] = s;
	return 0;
}

void req_clear(struct req *r)
{
	free(r->method_name);
	free(r->path);
	free(r->query);
	free(r->content_type);
	free(r->authorization);
	free(r->remote_addr);
	free(r->host);
	free(r->origin);
	free(r->tenant_header);
	free(r->scheme);
	free(r->cookie);
	free(r->csrf_header);
	free(r->request_id);
	free(r->body);
	for (int i = 0; i < r->nscratch && i < (int)ARRAY_LEN(r->scratch); i++)
		free(r->scratch[i]);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

/* ---- query string ------------------------------------------------------------------ */

/* Decodes one query component of n bytes into out (at most outlen-1 bytes, then NUL):
 * '+' is a space, %XX a byte. %00 and malformed escapes are kept literally, so the
 * result is always a C string that says what was sent. Returns the decoded length,
 * which may exceed outlen-1 (then out holds the truncated prefix). */
static size_t query_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n) {
			int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
			if (a >= 0 && b >= 0 && (a | b) != 0) {
				c = (char)(a * 16 + b);
				i += 2;
			}
		}
		if (len + 1 < outlen)
			out[len] = c;
		len++;
	}
	if (outlen > 0)
		out[len < outlen ? len : outlen - 1] = '\0';
	return len;
}

/* 1 if the n bytes of s decode to exactly name. */
static int query_name_is(const char *s, size_t n, const char *name)
{
	char buf[64];
	size_t len;

	if (n >= 3 * sizeof(buf))
		return 0; /* no name of ours is that long, even fully escaped */
	len = query_decode(s, n, buf, sizeof(buf));
	return len < sizeof(buf) && strcmp(buf, name) == 0;
}

const char *req_query(const struct req *r, const char *name, char *out, size_t outlen,
                      int *too_long)
{
	const char *p = r ? r->query : NULL;

	if (too_long)
		*too_long = 0;
	if (!p || !name || !out || outlen == 0)
		return NULL;
	while (*p) {
		const char *end = p + strcspn(p, "&");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *name_end = eq ? eq : end;

		if (name_end > p && query_name_is(p, (size_t)(name_end - p), name)) {
			const char *v = eq ? eq + 1 : end;
			size_t len = query_decode(v, (size_t)(end - v), out, outlen);
			if (too_long)
				*too_long = len >= outlen;
			return out;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

int req_query_long(const struct req *r, const char *name, long min, long max, long *out)
{
	char buf[24];
	int too_long;
	long v = 0;

	if (!req_query(r, name, buf, sizeof(buf), &too_long))
		return 0;
	if (too_long || !buf[0] || strlen(buf) > 18)
		return -1;
	for (const char *s = buf; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 1;
}

int req_query_uuid(const struct req *r, const char *name, char out[UUID_STR_LEN])
{
	char buf[UUID_STR_LEN];
	int too_long;

	if (!req_query(r, name, buf, sizeof(buf), &too_long))
		return 0;
	if (too_long || ids_uuid_lower(buf, out) != 0)
		return -1;
	return 1;
}

int req_query_enum(const struct req *r, const char *name, const char *const *choices,
                   const char **out)
{
	char buf[32];
	int too_long;

	if (!req_query(r, name, buf, sizeof(buf), &too_long))
		return 0;
	if (too_long)
		return -1;
	for (size_t i = 0; choices[i]; i++) {
		if (strcmp(buf, choices[i]) == 0) {
			*out = choices[i];
			return 1;
		}
	}
	return -1;
}

int req_query_text(const struct req *r, const char *name, char *out, size_t outlen)
{
	char *buf;
	int too_long, rc;

	if (outlen == 0)
		return -1;
	buf = malloc(outlen);
	if (!buf)
		return -1;
	if (!req_query(r, name, buf, outlen, &too_long) || !buf[0]) {
		rc = 0;
		goto out;
	}
	if (too_long || !req_text_valid(buf)) {
		rc = -1;
		goto out;
	}
	memcpy(out, buf, strlen(buf) + 1);
	rc = 1;
out:
	free(buf);
	return rc;
}

int req_query_time(const struct req *r, const char *name, char out[TIMESTAMP_LEN])
{
	char raw[64];
	int rc = req_query_text(r, name, raw, sizeof(raw));

	if (rc <= 0)
		return rc;
	return ids_timestamp_parse(raw, out) == 0 ? 1 : -1;
}

int req_page(const struct req *r, struct store_page *page, char cursor_buf[UUID_STR_LEN],
             const char **bad_param)
{
	long limit = REQ_PAGE_DEFAULT;
	int rc;

	if (req_query_long(r, "limit", 1, REQ_PAGE_MAX, &limit) < 0) {
		*bad_param = "limit";
		return -1;
	}
	rc = req_query_uuid(r, "cursor", cursor_buf);
	if (rc < 0) {
		*bad_param = "cursor";
		return -1;
	}
	page->limit = (int)limit;
	page->cursor = rc == 1 ? cursor_buf : NULL;
	return 0;
}

int req_query_period(const struct req *r, char since_buf[TIMESTAMP_LEN],
                     char until_buf[TIMESTAMP_LEN], const char **since, const char **until,
                     const char **bad_param, const char **why)
{
	int has = req_query_time(r, "since", since_buf);

	if (has < 0) {
		*bad_param = "since";
		*why = "must be an RFC 3339 date and time, e.g. 2026-11-01T00:00:00Z";
		return -1;
	}
	*since = has ? since_buf : NULL;
	has = req_query_time(r, "until", until_buf);
	if (has < 0) {
		*bad_param = "until";
		*why = "must be an RFC 3339 date and time, e.g. 2026-12-01T00:00:00Z";
		return -1;
	}
	*until = has ? until_buf : NULL;
	return 0;
}

int req_text_valid(const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0; /* not UTF-8, or a C0/C1 control or DEL */
		i += n;
	}
	return 1;
}
