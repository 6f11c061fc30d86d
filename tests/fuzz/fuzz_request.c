/* fuzz_request.c: the whole request path of kaiden-api: req_init from the CGI
 * parameters nginx passes, the body, route_dispatch (path, method, body limits, content
 * type, auth, permissions, tenant, handler, store) and resp_serialize, against a fresh
 * SQLite database per input (fuzz_db.h), exactly as tests/unit/check_route.c calls it.
 *
 * The input is an HTTP/1.1-like request:
 *   METHOD SP /path[?query] LF
 *   Name: value LF              (Content-Type, Authorization, Host, X-Kaiden-Tenant,
 *   ...                          X-Request-Id, Content-Length, X-Real-IP as REMOTE_ADDR,
 *   LF                           Cookie, X-Kaiden-CSRF, Fuzz-Mode: multi for
 *                                server.mode=multi)
 *   body                        (everything after the blank line; none if empty)
 * Without an Authorization line the request carries a valid service token of the
 * default tenant. In an Authorization value, $TOKEN, $ADMIN and $TADMIN stand for that
 * token, a platform admin's login token and a tenant admin's login token (made with
 * the template database, so valid in every copy of it, for a day); the same goes for
 * a Cookie value (an empty "Authorization:" line leaves the cookie to count), and in an
 * X-Kaiden-CSRF value $CSRF stands for the admin login's CSRF token.
 *
 * Beyond "no crash, no leak": every reply has a status from 200 to 599 that is not 500
 * (bad input is the client's error, never an internal one: a 500 here is a finding),
 * the X-Request-Id header, and serializes; an error reply has the JSON error shape; and
 * a refused request (4xx) or a GET/HEAD adds or removes no row (audit log and login
 * attempts aside). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "cfg.h"
#include "cookie.h"
#include "db.h"
#include "fuzz.h"
#include "fuzz_db.h"
#include "jsonx.h"
#include "jwt.h"
#include "migrations.h"
#include "req.h"
#include "resp.h"
#include "route.h"
#include "secret.h"
#include "store.h"
#include "store_auth.h"

#define JWT_KEY "fuzz-jwt-key-0123456789-0123456789-0123456789"
#define MAX_HEADERS 16
#define CRED_LEN (JWT_MAX_LEN + TOKEN_LEN)

/* The credentials valid in every copy of the template database. */
static struct {
	char token[TOKEN_LEN];
	char admin[JWT_MAX_LEN];
	char tadmin[JWT_MAX_LEN];
	char admin_csrf[CSRF_TOKEN_LEN];
} creds;

/* A user of role in tenant (NULL: staff) and a login token for them. */
static void login_token(struct db *db, const char *tenant, const char *email, enum role role,
                        char out[JWT_MAX_LEN], char csrf[CSRF_TOKEN_LEN])
{
	struct store_user_new u = { tenant, email, "Fuzz", role, NULL };
	struct store_identity who;
	json_object *user = NULL, *claims;
	char jti[UUID_STR_LEN];
	int64_t now = (int64_t)time(NULL);

	memset(&who, 0, sizeof(who));
	if (store_user_create(db, &u, &user) != STORE_OK)
		abort();
	snprintf(who.user_id, sizeof(who.user_id), "%s", jsonx_str(user, "id"));
	snprintf(who.tenant_id, sizeof(who.tenant_id), "%s", tenant ? tenant : "");
	snprintf(who.email, sizeof(who.email), "%s", email);
	who.role = role;
	json_object_put(user);
	if (store_login_create(db, &who, 86400, jti) != STORE_OK)
		abort();
	claims = json_object_new_object();
	json_object_object_add(claims, "sub", json_object_new_string(who.user_id));
	json_object_object_add(claims, "tenant_id", tenant ? json_object_new_string(tenant) : NULL);
	json_object_object_add(claims, "role", json_object_new_string(role_name(role)));
	json_object_object_add(claims, "jti", json_object_new_string(jti));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + 86400));
	if (jwt_sign(claims, (const unsigned char *)JWT_KEY, strlen(JWT_KEY), out) != JWT_OK)
		abort();
	if (csrf && csrf_token(jti, csrf) != 0)
		abort();
	json_object_put(claims);
}

/* The template's rows (fuzz_db.h), and the settings, once. */
static void fill(struct db *db)
{
	char err[256];

	if (secret_init() != 0 || cfg_load(NULL, err, sizeof(err)) != 0 ||
	    cfg_set("cloudflare.domain", "support.example.com", err, sizeof(err)) != 0 ||
	    cfg_set("auth.jwt_secret", JWT_KEY, err, sizeof(err)) != 0)
		abort();
	if (store_token_create(db, DEFAULT_TENANT_ID, "fuzz", creds.token, NULL) != STORE_OK)
		abort();
	login_token(db, NULL, "admin@example.com", ROLE_ADMIN, creds.admin, creds.admin_csrf);
	login_token(db, DEFAULT_TENANT_ID, "owner@example.com", ROLE_TENANT_ADMIN, creds.tadmin, NULL);
}

/* The CGI parameters of the request, as name/value pairs (NULL-terminated). */
struct params {
	const char *kv[2 * (MAX_HEADERS + 4) + 2];
	int n;
	char auth[CRED_LEN + 64];
	char cookie[CRED_LEN + 256];
	char csrf[CSRF_TOKEN_LEN + 64];
};

static void param_add(struct params *p, const char *name, const char *value)
{
	for (int i = 0; i < p->n; i += 2)
		if (strcmp(p->kv[i], name) == 0) {
			p->kv[i + 1] = value; /* a repeated header: the last one counts */
			return;
		}
	if (p->n + 2 >= (int)(sizeof(p->kv) / sizeof(p->kv[0])) - 2)
		return;
	p->kv[p->n++] = name;
	p->kv[p->n++] = value;
	p->kv[p->n] = NULL;
	p->kv[p->n + 1] = NULL;
}

static const char *param_from(void *ctx, const char *name)
{
	const struct params *p = ctx;

	for (int i = 0; i < p->n; i += 2)
		if (strcmp(p->kv[i], name) == 0)
			return p->kv[i + 1];
	return NULL;
}

/* value with $TOKEN, $ADMIN and $TADMIN (the first of them) replaced, into out. */
static void credential(const char *value, char *out, size_t outlen)
{
	static const char *const names[] = { "$TOKEN", "$ADMIN", "$TADMIN" };
	const char *const values[] = { creds.token, creds.admin, creds.tadmin };

	for (int i = 2; i >= 0; i--) { /* $TADMIN before $ADMIN: neither is in the other */
		const char *at = strstr(value, names[i]);
		if (at) {
			snprintf(out, outlen, "%.*s%s%s", (int)(at - value), value, values[i],
			         at + strlen(names[i]));
			return;
		}
	}
	snprintf(out, outlen, "%s", value);
}

/* Appends len bytes of s to dst (n bytes used of cap), truncating; keeps the NUL. */
static void append(char *dst, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len > cap - 1 - *n)
		len = cap - 1 - *n;
	memcpy(dst + *n, s, len);
	*n += len;
	dst[*n] = '\0';
}

static const struct {
	const char *header, *param;
} header_params[] = {
	{ "content-type", "CONTENT_TYPE" },
	{ "content-length", "CONTENT_LENGTH" },
	{ "authorization", "HTTP_AUTHORIZATION" },
	{ "host", "HTTP_HOST" },
	{ "x-kaiden-tenant", "HTTP_X_KAIDEN_TENANT" },
	{ "x-request-id", "HTTP_X_REQUEST_ID" },
	{ "x-real-ip", "REMOTE_ADDR" },
	{ "cookie", "HTTP_COOKIE" },
	{ "x-kaiden-csrf", "HTTP_X_KAIDEN_CSRF" },
};

/* Splits text (NUL-terminated, modified) into the parameters; *body is what follows the
 * blank line (NULL if none); *multi when Fuzz-Mode: multi. -1 if there is no request
 * line. */
static int parse(char *text, size_t len, struct params *p,
                 char **body, size_t *body_len, int *multi)
{
	char *line = text, *end = text + len, *nl, *sp, *q;

	*body = NULL;
	*body_len = 0;
	*multi = 0;
	nl = memchr(line, '\n', (size_t)(end - line));
	if (!nl)
		return -1;
	*nl = '\0';
	sp = strchr(line, ' ');
	if (!sp)
		return -1;
	*sp++ = '\0';
	param_add(p, "REQUEST_METHOD", line);
	q = strchr(sp, '?');
	if (q)
		*q++ = '\0';
	param_add(p, "DOCUMENT_URI", sp);
	param_add(p, "QUERY_STRING", q ? q : "");
	snprintf(p->auth, sizeof(p->auth), "Bearer %s", creds.token);
	param_add(p, "HTTP_AUTHORIZATION", p->auth);
	param_add(p, "REMOTE_ADDR", "192.0.2.10");

	for (line = nl + 1; line < end; line = nl + 1) {
		char *colon, *value;
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		*nl = '\0';
		if (line == nl) { /* the blank line: the body follows */
			if (nl + 1 < end) {
				*body = nl + 1;
				*body_len = (size_t)(end - (nl + 1));
			}
			break;
		}
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (value = colon + 1; *value == ' '; value++)
			;
		for (char *c = line; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (strcmp(line, "fuzz-mode") == 0) {
			*multi = strcmp(value, "multi") == 0;
			continue;
		}
		for (size_t i = 0; i < sizeof(header_params) / sizeof(header_params[0]); i++) {
			if (strcmp(line, header_params[i].header) != 0)
				continue;
			if (strcmp(line, "authorization") == 0) {
				credential(value, p->auth, sizeof(p->auth));
				value = p->auth;
			} else if (strcmp(line, "cookie") == 0) {
				credential(value, p->cookie, sizeof(p->cookie));
				value = p->cookie;
			} else if (strcmp(line, "x-kaiden-csrf") == 0) {
				const char *at = strstr(value, "$CSRF");
				size_t n = 0;
				append(p->csrf, sizeof(p->csrf), &n, value,
				       at ? (size_t)(at - value) : strlen(value));
				if (at) {
					append(p->csrf, sizeof(p->csrf), &n, creds.admin_csrf,
					       strlen(creds.admin_csrf));
					append(p->csrf, sizeof(p->csrf), &n, at + 5, strlen(at + 5));
				}
				value = p->csrf;
			}
			param_add(p, header_params[i].param, value);
		}
	}
	return 0;
}

/* The tables a refused request or a read must leave as they were (the audit log and
 * the login attempts record refusals and reads by design). */
static const char *const data_tables[] = {
	"tenants", "users", "devices", "sessions", "api_tokens", "jobs", "logins", NULL
};

static void check_reply(const struct resp *rs)
{
	json_object *error, *v;

	if (rs->status < 200 || rs->status > 599 || rs->status == 500 || !rs->headers.data ||
	    !strstr(rs->headers.data, "X-Request-Id: ")) {
		fprintf(stderr, "fuzz_request: reply %d: %s\n", rs->status,
		        rs->body ? json_object_to_json_string(rs->body) : "(no body)");
		abort();
	}
	if (rs->status >= 400 &&
	    (!json_object_object_get_ex(rs->body, "error", &error) ||
	     !json_object_object_get_ex(error, "code", &v) ||
	     !json_object_is_type(v, json_type_string) ||
	     !json_object_object_get_ex(error, "message", &v) ||
	     !json_object_is_type(v, json_type_string))) {
		fprintf(stderr, "fuzz_request: error reply %d without the error shape: %s\n",
		        rs->status, rs->body ? json_object_to_json_string(rs->body) : "(no body)");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct db *db;
	struct params p;
	struct req r;
	struct resp rs;
	struct buf wire;
	char *text, *body, err[256], *before, *after;
	size_t body_len;
	int multi;

	fuzz_quiet("fuzz_request");
	fuzz_db_setup(fill);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&p, 0, sizeof(p));
	if (parse(text, size, &p, &body, &body_len, &multi) != 0) {
		free(text);
		return 0;
	}
	db = fuzz_db_open();
	if (multi && (cfg_set("server.mode", "multi", err, sizeof(err)) != 0 ||
	              cfg_set("server.base_domain", "example.com", err, sizeof(err)) != 0))
		abort();

	if (req_init(&r, param_from, &p, db) != 0)
		abort();
	if (body) {
		char *copy = malloc(body_len + 1);
		if (!copy)
			abort();
		memcpy(copy, body, body_len);
		copy[body_len] = '\0';
		req_take_body(&r, copy, body_len);
	}
	before = fuzz_db_counts(db, data_tables);
	resp_init(&rs);
	route_dispatch(&r, &rs);
	after = fuzz_db_counts(db, data_tables);
	if (getenv("FUZZ_VERBOSE")) /* to see what a seed reaches */
		fprintf(stderr, "fuzz_request: %s %s -> %d %s\n", r.method_name, r.path, rs.status,
		        rs.body ? json_object_to_json_string(rs.body) : "");
	check_reply(&rs);
	if (!before || !after)
		abort();
	if ((rs.status >= 400 || r.method == HTTP_GET || r.method == HTTP_HEAD) &&
	    strcmp(before, after) != 0) {
		fprintf(stderr, "fuzz_request: %s %s answered %d and changed the row counts %s -> %s\n",
		        r.method_name, r.path, rs.status, before, after);
		abort();
	}
	free(before);
	free(after);
	buf_init(&wire, 1 << 24);
	if (resp_serialize(&rs, r.method == HTTP_HEAD, &wire) != 0)
		abort();
	buf_clear(&wire);
	resp_clear(&rs);
	req_clear(&r);
	if (multi && (cfg_set("server.mode", "single", err, sizeof(err)) != 0 ||
	              cfg_set("server.base_domain", "", err, sizeof(err)) != 0))
		abort();
	db_close(db);
	free(text);
	return 0;
}
