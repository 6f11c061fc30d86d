/* check_route.c: every route and every error of docs/api.md, through route_dispatch
 * against an in-memory SQLite store, exactly as kaiden-api's workers call it (only the
 * FastCGI framing is missing). */
#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "migrations.h"
#include "req.h"
#include "resp.h"
#include "relay_access.h"
#include "route.h"
#include "secret.h"
#include "store.h"
#include "store_auth.h"

#define OTHER_TENANT "0190a0b0-c0d0-7e0f-8000-0000000000aa"
#define NO_SUCH_ID "0190a0b0-c0d0-7e0f-8000-000000000001"

static struct db *db;
static char token[TOKEN_LEN], bearer[TOKEN_LEN + 16];
static struct resp rs;
static struct buf wire; /* the last reply as it would go out */

/* ---- fixture ----------------------------------------------------------------------- */

static void setup(void)
{
	char err[256];
	int applied = 0;

	ck_assert_int_eq(secret_init(), 0);
	log_init("check_route", LOG_LVL_ERROR);
	ck_assert_msg(cfg_load(NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cfg_set("cloudflare.domain", "support.example.com", err, sizeof(err)), 0);
	/* The session tests below are about Cloudflare sessions unless they say otherwise. */
	ck_assert_int_eq(cfg_set("tunnel.provider", "cloudflare", err, sizeof(err)), 0);
	ck_assert_int_eq(db_open("sqlite", ":memory:", &db), 0);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_gt(applied, 0);
	ck_assert_int_eq(store_token_create(db, DEFAULT_TENANT_ID, "test", token, NULL), STORE_OK);
	snprintf(bearer, sizeof(bearer), "Bearer %s", token);
	resp_init(&rs);
	buf_init(&wire, 1 << 24);
}

static void teardown(void)
{
	resp_clear(&rs);
	buf_clear(&wire);
	db_close(db);
	db = NULL;
}

/* ---- calling the router -------------------------------------------------------------- */

struct call {
	const char *method, *path, *query, *content_type, *authorization, *request_id;
	const char *host, *tenant, *remote_addr; /* Host, X-Kaiden-Tenant, REMOTE_ADDR */
	const char *scheme;                      /* REQUEST_SCHEME */
	const char *cookie, *csrf;               /* Cookie, X-Kaiden-CSRF */
	const char *body;
	size_t body_len; /* 0: strlen(body) */
	/* Instead of body: a body of this many bytes ('a'), read from a source as main.c
	 * gives FastCGI's stdin, with CONTENT_LENGTH declared as content_length (0: none). */
	long stream_bytes, content_length;
};

/* What the last request's body source gave the route: bytes read from it. */
static long body_read;

struct stream_body {
	long left;
};

static int stream_read(void *ctx, char *buf, int n)
{
	struct stream_body *sb = ctx;

	if (n > sb->left)
		n = (int)sb->left;
	memset(buf, 'a', (size_t)n);
	sb->left -= n;
	body_read += n;
	return n;
}

static const char *param_from(void *ctx, const char *name)
{
	const char *const *kv = ctx;

	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static int run(const struct call *c)
{
	const char *kv[] = { "REQUEST_METHOD", c->method,       "DOCUMENT_URI", c->path,
	                     "QUERY_STRING", c->query,          "CONTENT_TYPE", c->content_type,
	                     "HTTP_AUTHORIZATION", c->authorization,
	                     "HTTP_X_REQUEST_ID", c->request_id, "HTTP_HOST", c->host,
	                     "HTTP_X_KAIDEN_TENANT", c->tenant, "REMOTE_ADDR", c->remote_addr,
	                     "REQUEST_SCHEME", c->scheme, "HTTP_COOKIE", c->cookie,
	                     "HTTP_X_KAIDEN_CSRF", c->csrf, NULL, NULL };
	struct stream_body sb = { c->stream_bytes };
	struct req_body_source src = { stream_read, &sb, 1 };
	struct req r;

	/* Absent parameters are NULL, as FCGX_GetParam gives them. */
	ck_assert_int_eq(req_init(&r, param_from, kv, db), 0);
	body_read = 0;
	if (c->stream_bytes) {
		r.body_from = &src;
		r.content_length = c->content_length ? c->content_length : -1;
	}
	if (c->body) {
		size_t len = c->body_len ? c->body_len : strlen(c->body);
		char *copy = malloc(len + 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, c->body, len);
		copy[len] = '\0';
		req_take_body(&r, copy, len);
	}
	resp_clear(&rs);
	resp_init(&rs);
	route_dispatch(&r, &rs);

	/* Every reply: a status, X-Request-Id, and a form that serializes. */
	ck_assert_int_ne(rs.status, 0);
	ck_assert_ptr_nonnull(rs.headers.data);
	ck_assert_ptr_nonnull(strstr(rs.headers.data, "X-Request-Id: "));
	buf_reset(&wire);
	ck_assert_int_eq(resp_serialize(&rs, r.method == HTTP_HEAD, &wire), 0);
	/* A body given as text (a device list) is parsed, strictly, for the checks below. */
	if (!rs.body && rs.text.len) {
		struct jsonx_error e;
		ck_assert_msg(jsonx_parse(rs.text.data, rs.text.len, &rs.body, &e) == 0,
		              "a reply's text is not JSON: %s: %s", e.message, rs.text.data);
	}
	req_clear(&r);
	return rs.status;
}

/* method path [query] with the valid token and no body. */
static int call(const char *method, const char *path, const char *query)
{
	struct call c = { .method = method, .path = path, .query = query,
	                  .authorization = bearer };
	return run(&c);
}

/* method path with a JSON body and the valid token. */
static int send_json(const char *method, const char *path, const char *body)
{
	struct call c = { .method = method, .path = path, .content_type = "application/json",
	                  .authorization = bearer, .body = body };
	return run(&c);
}

static const char *header(const char *name, char *out, size_t outlen)
{
	char key[64];
	const char *p, *end;

	snprintf(key, sizeof(key), "%s: ", name);
	p = rs.headers.data ? strstr(rs.headers.data, key) : NULL;
	if (!p)
		return NULL;
	p += strlen(key);
	end = strstr(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
	return out;
}

static const char *reply_str(const char *name)
{
	return rs.body ? jsonx_str(rs.body, name) : NULL;
}

#define expect_error(status, code, field) expect_error_at(__LINE__, status, code, field)
static void expect_error_at(int line, int status, const char *code, const char *field)
{
	json_object *err;
	const char *got_field;

	ck_assert_msg(rs.status == status, "line %d: status %d, wanted %d (%s)", line, rs.status,
	              status, wire.data);
	ck_assert_msg(rs.body && json_object_object_get_ex(rs.body, "error", &err),
	              "line %d: no error body", line);
	ck_assert_msg(strcmp(jsonx_str(err, "code"), code) == 0, "line %d: code %s, wanted %s",
	              line, jsonx_str(err, "code"), code);
	ck_assert_msg(jsonx_str(err, "message") && *jsonx_str(err, "message"),
	              "line %d: no message", line);
	got_field = jsonx_str(err, "field");
	if (field)
		ck_assert_msg(got_field && strcmp(got_field, field) == 0,
		              "line %d: field %s, wanted %s", line, got_field ? got_field : "(none)",
		              field);
	else
		ck_assert_msg(!got_field, "line %d: unexpected field %s", line, got_field);
}

/* Creates a device; its id goes to id_out. */
static void make_device(const char *name, char id_out[UUID_STR_LEN])
{
	char body[512];
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	ck_assert_int_eq(send_json("POST", "/api/v1/devices", body), 201);
	snprintf(id_out, UUID_STR_LEN, "%s", reply_str("id"));
}

static void make_session(const char *device_id, char id_out[UUID_STR_LEN])
{
	char body[256];
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"Ada\"}", device_id);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	snprintf(id_out, UUID_STR_LEN, "%s", reply_str("id"));
}

static void sql(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void sql(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(db_exec(db, text, 0, NULL, NULL), DB_OK);
}

static char *path_of(const char *prefix, const char *id)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", prefix, id);
	return path;
}

static int items_count(void)
{
	json_object *items;
	ck_assert(json_object_object_get_ex(rs.body, "items", &items));
	return (int)json_object_array_length(items);
}

/* ---- health, paths, methods -------------------------------------------------------- */

START_TEST(test_healthz)
{
	struct call c = { .method = "GET", .path = "/healthz" };
	char value[64];

	ck_assert_int_eq(run(&c), 200); /* no token needed */
	ck_assert_str_eq(reply_str("status"), "ok");
	ck_assert_str_eq(reply_str("database"), "sqlite");

	c.method = "HEAD";
	ck_assert_int_eq(run(&c), 200);
	ck_assert_str_eq(strstr(wire.data, "\r\n\r\n"), "\r\n\r\n"); /* no body */

	c.method = "POST";
	ck_assert_int_eq(run(&c), 405);
	expect_error(405, "method_not_allowed", NULL);
	ck_assert_str_eq(header("Allow", value, sizeof(value)), "GET, HEAD");
}
END_TEST

START_TEST(test_unknown_paths)
{
	static const char *const paths[] = {
		"/", "", "/api", "/api/v1", "/api/v1/", "/api/v1/devices/", "/api/v1/devicesx",
		"/API/V1/DEVICES", "/api/v1/devices/" NO_SUCH_ID "/x", "/api/v1/devices%00",
		"/api/v1//devices", "/api/v1/healthz", "/healthz/", "/api/v2/devices", "//",
		"/api/v1/devices/\xff\xfe",
	};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		ck_assert_int_eq(call("GET", paths[i], NULL), 404);
		expect_error(404, "not_found", NULL);
	}
	/* No parameters at all (a NULL for every one). */
	struct call none = { 0 };
	ck_assert_int_eq(run(&none), 404);
	expect_error(404, "not_found", NULL);

	/* A very long path. */
	size_t n = 100000;
	char *longpath = malloc(n + 1);
	ck_assert_ptr_nonnull(longpath);
	memset(longpath, 'a', n);
	longpath[0] = '/';
	longpath[n] = '\0';
	ck_assert_int_eq(call("GET", longpath, NULL), 404);
	free(longpath);
}
END_TEST

START_TEST(test_malformed_ids)
{
	static const char *const ids[] = {
		"123", "not-a-uuid", "0190a0b0-c0d0-7e0f-8000-00000000000",   /* 35 */
		"0190a0b0-c0d0-7e0f-8000-0000000000011",                        /* 37 */
		"0190a0b0xc0d0-7e0f-8000-000000000001", "0190a0b0-c0d0-7e0f-8000-00000000000g",
		"' OR 1=1 --", "%00",
	};
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		/* Before auth, and whatever the method: the path does not exist. */
		struct call c = { .method = "GET", .path = path_of("/api/v1/devices", ids[i]) };
		ck_assert_int_eq(run(&c), 404);
		expect_error(404, "not_found", NULL);
		ck_assert_int_eq(call("DELETE", path_of("/api/v1/sessions", ids[i]), NULL), 404);
		expect_error(404, "not_found", NULL);
		ck_assert_int_eq(call("PUT", path_of("/api/v1/sessions", ids[i]), NULL), 404);
	}
	/* A well-formed id that names nothing. */
	ck_assert_int_eq(call("GET", "/api/v1/devices/" NO_SUCH_ID, NULL), 404);
	expect_error(404, "not_found", NULL);
	ck_assert_int_eq(call("GET", "/api/v1/sessions/" NO_SUCH_ID, NULL), 404);
	expect_error(404, "not_found", NULL);
	ck_assert_int_eq(call("DELETE", "/api/v1/devices/" NO_SUCH_ID, NULL), 404);
	expect_error(404, "not_found", NULL);
	ck_assert_int_eq(call("DELETE", "/api/v1/sessions/" NO_SUCH_ID, NULL), 404);
	expect_error(404, "not_found", NULL);
	ck_assert_int_eq(send_json("PATCH", "/api/v1/sessions/" NO_SUCH_ID, "{\"notes\":\"x\"}"),
	                 404);
	expect_error(404, "not_found", NULL);
}
END_TEST

START_TEST(test_method_not_allowed)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{ "PUT", "/api/v1/devices", "GET, HEAD, POST" },
		{ "DELETE", "/api/v1/devices", "GET, HEAD, POST" },
		{ "PATCH", "/api/v1/devices/" NO_SUCH_ID, "GET, HEAD, DELETE" },
		{ "POST", "/api/v1/devices/" NO_SUCH_ID, "GET, HEAD, DELETE" },
		{ "PUT", "/api/v1/sessions", "GET, HEAD, POST" },
		{ "POST", "/api/v1/sessions/" NO_SUCH_ID, "GET, HEAD, PATCH, DELETE" },
		{ "OPTIONS", "/api/v1/sessions/" NO_SUCH_ID, "GET, HEAD, PATCH, DELETE" },
		{ "BREW", "/healthz", "GET, HEAD" },
		{ "get", "/api/v1/devices", "GET, HEAD, POST" },
		{ "", "/api/v1/devices", "GET, HEAD, POST" },
	};
	char allow[128];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		/* 405 comes before auth: no token here. */
		struct call c = { .method = cases[i].method, .path = cases[i].path };
		ck_assert_int_eq(run(&c), 405);
		expect_error(405, "method_not_allowed", NULL);
		ck_assert_ptr_nonnull(header("Allow", allow, sizeof(allow)));
		ck_assert_str_eq(allow, cases[i].allow);
	}
}
END_TEST

START_TEST(test_head_everywhere_get_is)
{
	char id[UUID_STR_LEN], session[UUID_STR_LEN], length[32];

	make_device("head", id);
	make_session(id, session);
	ck_assert_int_eq(call("HEAD", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(call("HEAD", path_of("/api/v1/devices", id), NULL), 200);
	ck_assert_ptr_null(header("Content-Length", length, sizeof(length))); /* in the wire */
	ck_assert_ptr_nonnull(strstr(wire.data, "Content-Length: "));
	ck_assert_str_eq(strstr(wire.data, "\r\n\r\n"), "\r\n\r\n");
	ck_assert_int_eq(call("HEAD", "/api/v1/sessions", NULL), 200);
	ck_assert_int_eq(call("HEAD", path_of("/api/v1/sessions", session), NULL), 200);
	/* HEAD still needs the token. */
	struct call c = { .method = "HEAD", .path = "/api/v1/devices" };
	ck_assert_int_eq(run(&c), 401);
}
END_TEST

/* ---- auth -------------------------------------------------------------------------- */

START_TEST(test_unauthorized)
{
	char wrong_secret[TOKEN_LEN + 16], other_id[TOKEN_LEN + 16], www[64];
	char huge[2048];

	/* Same id, another secret; and a well-formed token for an id that does not exist. */
	snprintf(wrong_secret, sizeof(wrong_secret), "Bearer %s", token);
	wrong_secret[strlen(wrong_secret) - 1] ^= 1;
	snprintf(other_id, sizeof(other_id), "Bearer kdn_%s_%s", NO_SUCH_ID,
	         token + 4 + 36 + 1);
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "Bearer ", 7);

	const char *bad[] = {
		NULL, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc",
		"Bearer kdn_", "Bearer kdn_x_y", "Bearer not-a-token", "Bearer a b",
		wrong_secret, other_id, huge, token /* no scheme */,
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct call c = { .method = "GET", .path = "/api/v1/devices", .authorization = bad[i] };
		ck_assert_int_eq(run(&c), 401);
		expect_error(401, "unauthorized", NULL);
		ck_assert_str_eq(header("WWW-Authenticate", www, sizeof(www)), "Bearer");
	}
	/* Every authenticated route refuses without a token (and before the body's checks
	 * only for 413/415, which come first). */
	for (int i = 0; i < ROUTE__MAX; i++) {
		const struct route *rt = &route_table()[i];
		if (!(rt->flags & ROUTE_AUTH))
			continue;
		char path[128];
		const char *brace = strchr(rt->pattern, '{');
		/* The id in place of {id}, and what follows it (/comments) kept. */
		if (brace)
			snprintf(path, sizeof(path), "%.*s%s%s", (int)(brace - rt->pattern),
			         rt->pattern, NO_SUCH_ID, strchr(brace, '}') + 1);
		else
			snprintf(path, sizeof(path), "%s", rt->pattern);
		struct call c = { .method = req_method_name(rt->method), .path = path,
		                  .content_type = "application/json", .body = "{}" };
		ck_assert_int_eq(run(&c), 401);
	}
	/* Scheme in any case, extra spaces: accepted. */
	char lower[TOKEN_LEN + 16];
	snprintf(lower, sizeof(lower), "bearer   %s  ", token);
	struct call ok = { .method = "GET", .path = "/api/v1/devices", .authorization = lower };
	ck_assert_int_eq(run(&ok), 200);

	/* A revoked token. */
	sql("UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00.000Z'");
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 401);
	expect_error(401, "unauthorized", NULL);
}
END_TEST

START_TEST(test_tenant_isolation)
{
	char mine[UUID_STR_LEN], other_token[TOKEN_LEN], other_bearer[TOKEN_LEN + 16];

	make_device("mine", mine);
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'other', 'Other')", OTHER_TENANT);
	ck_assert_int_eq(store_token_create(db, OTHER_TENANT, "other", other_token, NULL), STORE_OK);
	snprintf(other_bearer, sizeof(other_bearer), "Bearer %s", other_token);

	struct call c = { .method = "GET", .path = path_of("/api/v1/devices", mine),
	                  .authorization = other_bearer };
	ck_assert_int_eq(run(&c), 404);
	c.path = "/api/v1/devices";
	ck_assert_int_eq(run(&c), 200);
	ck_assert_int_eq(items_count(), 0);
	c.method = "DELETE";
	c.path = path_of("/api/v1/devices", mine);
	ck_assert_int_eq(run(&c), 404);
	/* Their session cannot name my device. */
	char body[160];
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"Eve\"}", mine);
	struct call s = { .method = "POST", .path = "/api/v1/sessions",
	                  .content_type = "application/json", .authorization = other_bearer,
	                  .body = body };
	ck_assert_int_eq(run(&s), 422);
	expect_error(422, "invalid_reference", "device_id");
	ck_assert_int_eq(call("GET", path_of("/api/v1/devices", mine), NULL), 200);
}
END_TEST

/* ---- body checks --------------------------------------------------------------------- */

START_TEST(test_payload_too_large)
{
	const char *paths[] = { "/api/v1/devices", "/api/v1/sessions",
	                        "/api/v1/sessions/" NO_SUCH_ID };
	const char *methods[] = { "POST", "POST", "PATCH" };
	char big[70001];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		/* Declared too large: refused before a byte is read. */
		struct call c = { .method = methods[i], .path = paths[i],
		                  .content_type = "application/json", .authorization = bearer,
		                  .stream_bytes = 70000, .content_length = 70000 };
		ck_assert_int_eq(run(&c), 413);
		expect_error(413, "payload_too_large", NULL);
		ck_assert_int_eq(body_read, 0);
		/* No length given (chunked): refused once more than the limit has arrived. */
		c.content_length = 0;
		ck_assert_int_eq(run(&c), 413);
		expect_error(413, "payload_too_large", NULL);
		ck_assert_int_le(body_read, 65536 + 8192);
		/* A body already in place (as the unit tests give it) is measured the same way. */
		struct call b = { .method = methods[i], .path = paths[i],
		                  .content_type = "application/json", .authorization = bearer,
		                  .body = big };
		ck_assert_int_eq(run(&b), 413);
	}
	/* A GET is not a body route: its body is never read. */
	struct call g = { .method = "GET", .path = "/api/v1/devices", .authorization = bearer,
	                  .stream_bytes = 70000 };
	ck_assert_int_eq(run(&g), 200);
	ck_assert_int_eq(body_read, 0);
}
END_TEST

/* c is refused with status and code before a byte of its body is read. */
#define refused_unread(c, status, code) refused_unread_at(__LINE__, c, status, code)
static void refused_unread_at(int line, const struct call *c, int status, const char *code)
{
	ck_assert_msg(run(c) == status, "line %d: status %d, wanted %d", line, rs.status, status);
	expect_error_at(line, status, code, NULL);
	ck_assert_msg(body_read == 0, "line %d: %ld bytes of the body read", line, body_read);
}

/* The body is read only once the caller is let through: an unauthenticated or
 * unauthorised upload, however large it says it is, is answered from its headers. */
START_TEST(test_body_read_after_auth)
{
	const long import_size = 60L * 1024 * 1024;
	struct call c = { .method = "POST", .path = "/api/v1/tenant/import",
	                  .content_type = "application/json", .stream_bytes = import_size,
	                  .content_length = import_size };

	refused_unread(&c, 401, "unauthorized");
	c.authorization = "Bearer kdn_nosuchtoken";
	refused_unread(&c, 401, "unauthorized");
	c.content_length = 0; /* chunked: no length said */
	refused_unread(&c, 401, "unauthorized");
	/* A valid credential without the role (a service token; import is admin-only). */
	c.authorization = bearer;
	refused_unread(&c, 403, "forbidden");
	/* Ordinary routes too. */
	struct call d = { .method = "POST", .path = "/api/v1/devices",
	                  .content_type = "application/json", .stream_bytes = 1000,
	                  .content_length = 1000 };
	refused_unread(&d, 401, "unauthorized");
	/* An authorised caller's body is read: 1000 'a's are not JSON. */
	d.authorization = bearer;
	ck_assert_int_eq(run(&d), 400);
	expect_error(400, "invalid_json", NULL);
	ck_assert_int_eq(body_read, 1000);
}
END_TEST

/* What JSON has not (NaN, Infinity) or the databases cannot store (NUL, lone
 * surrogates) is a 400 invalid_json on every route, however deep in the body; nothing
 * is written. PATCH /tenant takes any object as settings: the issue's example. */
START_TEST(test_json_beyond_json)
{
	static const char *const bodies[] = {
		"{\"settings\":{\"a\":NaN}}",
		"{\"settings\":{\"a\":[1,{\"b\":Infinity}]}}",
		"{\"settings\":{\"a\":-Infinity}}",
		"{\"settings\":{\"a\":1e999}}",
		"{\"settings\":{\"a\":\"x\\u0000y\"}}",
		"{\"settings\":{\"a\\u0000\":1}}",
		"{\"settings\":{\"a\":\"\\ud800\"}}",
		"{\"settings\":{\"\\udc00\":1}}",
		"{\"name\":\"\xed\xa0\x80\"}",
	};

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		ck_assert_msg(send_json("PATCH", "/api/v1/tenant", bodies[i]) == 400, "%s: %d",
		              bodies[i], rs.status);
		expect_error(400, "invalid_json", NULL);
	}
	ck_assert_int_eq(call("GET", "/api/v1/tenant", NULL), 200);
	ck_assert_str_eq(json_object_to_json_string(json_object_object_get(rs.body, "settings")),
	                 "{ }");
	/* A surrogate pair is one character, and fine. */
	ck_assert_int_eq(send_json("PATCH", "/api/v1/tenant",
	                           "{\"settings\":{\"a\":\"\\ud83d\\ude00\"}}"), 200);
	ck_assert_int_eq(call("GET", "/api/v1/tenant", NULL), 200);
	ck_assert_str_eq(jsonx_str(json_object_object_get(rs.body, "settings"), "a"),
	                 "\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_content_types)
{
	static const struct {
		const char *type;
		int ok;
	} cases[] = {
		{ "application/json", 1 }, { "application/json; charset=utf-8", 1 },
		{ "Application/JSON", 1 }, { "application/json;charset=UTF-8", 1 },
		{ " application/json ", 1 }, { NULL, 0 }, { "", 0 }, { "text/plain", 0 },
		{ "application/jsonx", 0 }, { "application/x-www-form-urlencoded", 0 },
		{ "application", 0 }, { "multipart/form-data; boundary=x", 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct call c = { .method = "POST", .path = "/api/v1/devices",
		                  .content_type = cases[i].type, .authorization = bearer,
		                  .body = "{\"name\":\"ct\"}" };
		if (cases[i].ok) {
			ck_assert_msg(run(&c) == 201, "%s", cases[i].type);
		} else {
			ck_assert_int_eq(run(&c), 415);
			expect_error(415, "unsupported_media_type", NULL);
		}
	}
	/* 415 before 401: the body checks come first. */
	struct call c = { .method = "PATCH", .path = "/api/v1/sessions/" NO_SUCH_ID,
	                  .content_type = "text/plain", .body = "x" };
	ck_assert_int_eq(run(&c), 415);
}
END_TEST

/* ---- devices ----------------------------------------------------------------------- */

START_TEST(test_device_create)
{
	char location[128], want[128], id[UUID_STR_LEN];

	ck_assert_int_eq(send_json("POST", "/api/v1/devices", "{\"name\":\"web-01\"}"), 201);
	snprintf(id, sizeof(id), "%s", reply_str("id"));
	ck_assert(ids_is_uuid(id));
	ck_assert_str_eq(reply_str("device_id"), id);
	ck_assert_str_eq(reply_str("name"), "web-01");
	ck_assert_str_eq(reply_str("status"), "offline");
	ck_assert_uint_eq(strlen(reply_str("secret")), SECRET_TEXT_LEN - 1);
	ck_assert(!json_object_object_get_ex(rs.body, "secret_hash", NULL));
	snprintf(want, sizeof(want), "/api/v1/devices/%s", id);
	ck_assert_str_eq(header("Location", location, sizeof(location)), want);

	/* The secret is shown only at creation. */
	ck_assert_int_eq(call("GET", want, NULL), 200);
	ck_assert_str_eq(reply_str("id"), id);
	ck_assert_ptr_null(reply_str("secret"));
	ck_assert(!json_object_object_get_ex(rs.body, "secret_hash", NULL));

	/* An upper-case id finds the same device. */
	for (char *p = want + strlen("/api/v1/devices/"); *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	ck_assert_int_eq(call("GET", want, NULL), 200);
	ck_assert_str_eq(reply_str("id"), id);
}
END_TEST

START_TEST(test_device_create_errors)
{
	char name129[160], name128[160], body[256];
	static const char nul_body[] = "{\"name\":\"a\"}\0junk";

	memset(name129, 'n', 129);
	name129[129] = '\0';
	memset(name128, 'n', 128);
	name128[128] = '\0';

	static const struct {
		const char *body, *code, *field;
	} cases[] = {
		{ "", "invalid_json", NULL },
		{ "{", "invalid_json", NULL },
		{ "{\"name\":\"a\"", "invalid_json", NULL },
		{ "{\"name\":\"a\"} {}", "invalid_json", NULL },
		{ "{'name':'a'}", "invalid_json", NULL },
		{ "{\"name\":\"\xff\"}", "invalid_json", NULL },
		{ "[]", "not_an_object", NULL },
		{ "\"name\"", "not_an_object", NULL },
		{ "12", "not_an_object", NULL },
		{ "null", "not_an_object", NULL },
		{ "{}", "missing_field", "name" },
		{ "{\"name\":null}", "invalid_field", "name" },
		{ "{\"name\":1}", "invalid_field", "name" },
		{ "{\"name\":true}", "invalid_field", "name" },
		{ "{\"name\":[\"a\"]}", "invalid_field", "name" },
		{ "{\"name\":{}}", "invalid_field", "name" },
		{ "{\"name\":\"\"}", "invalid_field", "name" },
		{ "{\"name\":\"a\\u0001b\"}", "invalid_field", "name" },
		{ "{\"name\":\"a\\nb\"}", "invalid_field", "name" },
		{ "{\"name\":\"a\\u0000b\"}", "invalid_json", NULL },
		{ "{\"name\":\"a\",\"extra\":1}", "unknown_field", "extra" },
		{ "{\"secret\":\"mine\",\"name\":\"a\"}", "unknown_field", "secret" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct call c = { .method = "POST", .path = "/api/v1/devices",
		                  .content_type = "application/json", .authorization = bearer,
		                  .body = cases[i].body };
		ck_assert_msg(run(&c) == 400, "body %s: %d", cases[i].body, rs.status);
		expect_error(400, cases[i].code, cases[i].field);
	}
	/* No body at all. */
	struct call empty = { .method = "POST", .path = "/api/v1/devices",
	                      .content_type = "application/json", .authorization = bearer };
	ck_assert_int_eq(run(&empty), 400);
	expect_error(400, "invalid_json", NULL);
	/* A NUL inside the body. */
	struct call nul = { .method = "POST", .path = "/api/v1/devices",
	                    .content_type = "application/json", .authorization = bearer,
	                    .body = nul_body, .body_len = sizeof(nul_body) - 1 };
	ck_assert_int_eq(run(&nul), 400);
	expect_error(400, "invalid_json", NULL);

	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name129);
	ck_assert_int_eq(send_json("POST", "/api/v1/devices", body), 400);
	expect_error(400, "invalid_field", "name");
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name128);
	ck_assert_int_eq(send_json("POST", "/api/v1/devices", body), 201);
	/* 128 characters, not bytes: 128 two-byte characters fit. */
	char wide[600] = "{\"name\":\"";
	for (int i = 0; i < 128; i++)
		strcat(wide, "\xc3\xa9");
	strcat(wide, "\"}");
	ck_assert_int_eq(send_json("POST", "/api/v1/devices", wide), 201);
}
END_TEST

START_TEST(test_device_names_verbatim)
{
	static const char *const names[] = {
		"x'); DROP TABLE devices; --", "\\\" OR \\\"1\\\"=\\\"1", "100%_done",
		"<script>alert(1)</script>", "caf\xc3\xa9 \xf0\x9f\x98\x80",
	};
	static const char *const stored[] = {
		"x'); DROP TABLE devices; --", "\" OR \"1\"=\"1", "100%_done",
		"<script>alert(1)</script>", "caf\xc3\xa9 \xf0\x9f\x98\x80",
	};
	char id[UUID_STR_LEN];

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		make_device(names[i], id);
		ck_assert_int_eq(call("GET", path_of("/api/v1/devices", id), NULL), 200);
		ck_assert_str_eq(reply_str("name"), stored[i]);
	}
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), (int)ARRAY_LEN(names));
	/* q is a literal substring: % and _ are not wildcards. */
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=100%25_"), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=%25"), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=DROP+TABLE"), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=' OR 1=1 --"), 200);
	ck_assert_int_eq(items_count(), 0);
}
END_TEST

START_TEST(test_device_list_pagination)
{
	char ids[5][UUID_STR_LEN], cursor[UUID_STR_LEN], query[128];
	json_object *items, *next;

	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "dev-%d", i);
		make_device(name, ids[i]);
	}
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), 5);
	ck_assert(json_object_object_get_ex(rs.body, "next_cursor", &next));
	ck_assert_ptr_null(next);
	/* Newest first. */
	json_object_object_get_ex(rs.body, "items", &items);
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "id"), ids[4]);

	ck_assert_int_eq(call("GET", "/api/v1/devices", "limit=2"), 200);
	ck_assert_int_eq(items_count(), 2);
	ck_assert_ptr_nonnull(reply_str("next_cursor"));
	snprintf(cursor, sizeof(cursor), "%s", reply_str("next_cursor"));
	snprintf(query, sizeof(query), "limit=2&cursor=%s", cursor);
	ck_assert_int_eq(call("GET", "/api/v1/devices", query), 200);
	json_object_object_get_ex(rs.body, "items", &items);
	ck_assert_int_eq(items_count(), 2);
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "id"), ids[2]);
	snprintf(cursor, sizeof(cursor), "%s", reply_str("next_cursor"));
	snprintf(query, sizeof(query), "cursor=%s&limit=2", cursor);
	ck_assert_int_eq(call("GET", "/api/v1/devices", query), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert(json_object_object_get_ex(rs.body, "next_cursor", &next));
	ck_assert_ptr_null(next);

	/* Filters. */
	{
		/* Held by a live helperd (its heartbeat row now): online (migration 0021). */
		char now[TIMESTAMP_LEN];
		ids_timestamp(ids_now_ms(), now);
		sql("INSERT INTO helperd_status (instance, version, started_at, heartbeat_at, "
		    "every_s, agents, relay_streams) VALUES ('t-holder', 'test', '%s', '%s', 5, 0, 0)",
		    now, now);
	}
	sql("UPDATE devices SET status = 'online', helperd = 't-holder', hostname = 'box.example' "
	    "WHERE id = '%s'", ids[1]);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "status=online"), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "status=offline"), 200);
	ck_assert_int_eq(items_count(), 4);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=BOX.EX"), 200); /* hostname */
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=dev-3"), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/devices", "q=&unknown=1&limit=200"), 200);
	ck_assert_int_eq(items_count(), 5);
}
END_TEST

START_TEST(test_list_bad_queries)
{
	static const struct {
		const char *path, *query, *field;
	} cases[] = {
		{ "/api/v1/devices", "limit=0", "limit" },
		{ "/api/v1/devices", "limit=201", "limit" },
		{ "/api/v1/devices", "limit=-1", "limit" },
		{ "/api/v1/devices", "limit=abc", "limit" },
		{ "/api/v1/devices", "limit=", "limit" },
		{ "/api/v1/devices", "limit=1.5", "limit" },
		{ "/api/v1/devices", "limit=99999999999999999999999", "limit" },
		{ "/api/v1/devices", "cursor=abc", "cursor" },
		{ "/api/v1/devices", "cursor=", "cursor" },
		{ "/api/v1/devices", "cursor=' OR 1=1", "cursor" },
		{ "/api/v1/devices", "status=busy", "status" },
		{ "/api/v1/devices", "status=ONLINE", "status" },
		{ "/api/v1/devices", "status=", "status" },
		{ "/api/v1/devices", "q=%01", "q" },
		{ "/api/v1/devices", "q=%C3%28", "q" },
		{ "/api/v1/sessions", "limit=0", "limit" },
		{ "/api/v1/sessions", "cursor=x", "cursor" },
		{ "/api/v1/sessions", "status=open", "status" },
		{ "/api/v1/sessions", "device_id=x", "device_id" },
		{ "/api/v1/sessions", "device_id=", "device_id" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ck_assert_msg(call("GET", cases[i].path, cases[i].query) == 400, "%s?%s: %d",
		              cases[i].path, cases[i].query, rs.status);
		expect_error(400, "invalid_query", cases[i].field);
	}
	/* A q longer than any name. */
	char q[700] = "q=";
	memset(q + 2, 'a', 600);
	q[602] = '\0';
	ck_assert_int_eq(call("GET", "/api/v1/devices", q), 400);
	expect_error(400, "invalid_query", "q");
}
END_TEST

START_TEST(test_device_delete)
{
	char id[UUID_STR_LEN], session[UUID_STR_LEN], path[128];

	make_device("gone", id);
	snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
	ck_assert_int_eq(call("DELETE", path, NULL), 204);
	ck_assert_ptr_null(rs.body);
	ck_assert_ptr_null(strstr(wire.data, "Content-Length"));
	ck_assert_str_eq(strstr(wire.data, "\r\n\r\n"), "\r\n\r\n");
	ck_assert_int_eq(call("GET", path, NULL), 404);
	ck_assert_int_eq(call("DELETE", path, NULL), 404);
	expect_error(404, "not_found", NULL);

	/* Busy while a session is pending, active or ending; free once it ended. */
	make_device("busy", id);
	snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
	make_session(id, session);
	ck_assert_int_eq(call("DELETE", path, NULL), 409);
	expect_error(409, "device_busy", NULL);
	sql("UPDATE sessions SET status = 'active' WHERE id = '%s'", session);
	ck_assert_int_eq(call("DELETE", path, NULL), 409);
	ck_assert_int_eq(call("DELETE", path_of("/api/v1/sessions", session), NULL), 202);
	ck_assert_int_eq(call("DELETE", path, NULL), 409); /* ending */
	sql("UPDATE sessions SET status = 'ended' WHERE id = '%s'", session);
	ck_assert_int_eq(call("DELETE", path, NULL), 204);
	/* Its session history stays. */
	ck_assert_int_eq(call("GET", path_of("/api/v1/sessions", session), NULL), 200);
	ck_assert_str_eq(reply_str("device_id"), id);
}
END_TEST

/* ---- sessions ---------------------------------------------------------------------- */

START_TEST(test_session_create)
{
	char device[UUID_STR_LEN], body[256], location[128], upper[UUID_STR_LEN];
	json_object *v;

	make_device("target", device);
	snprintf(body, sizeof(body),
	         "{\"device_id\":\"%s\",\"engineer_name\":\"Ada Lovelace\",\"notes\":\"line1\\nline2\"}",
	         device);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	ck_assert_str_eq(reply_str("status"), "pending");
	ck_assert_str_eq(reply_str("device_id"), device);
	ck_assert_str_eq(reply_str("engineer_name"), "Ada Lovelace");
	ck_assert_str_eq(reply_str("notes"), "line1\nline2");
	ck_assert(strncmp(reply_str("public_url"), "https://sess-", 13) == 0);
	ck_assert_ptr_nonnull(strstr(reply_str("public_url"), ".support.example.com"));
	ck_assert_ptr_nonnull(strstr(reply_str("ssh_hostname"), "-ssh.support.example.com"));
	/* A Cloudflare session: no relay commands, no relay bytes. */
	ck_assert_str_eq(reply_str("provider"), "cloudflare");
	ck_assert(json_object_object_get_ex(rs.body, "connect", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(rs.body, "bytes_in", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);
	ck_assert(json_object_object_get_ex(rs.body, "bytes_out", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);
	ck_assert(json_object_object_get_ex(rs.body, "ssh_port", &v));
	ck_assert_int_eq(json_object_get_int(v), 22);
	ck_assert(json_object_object_get_ex(rs.body, "web_port", &v));
	ck_assert_int_eq(json_object_get_int(v), 8080);
	ck_assert_ptr_nonnull(header("Location", location, sizeof(location)));
	ck_assert_ptr_nonnull(strstr(location, reply_str("id")));

	/* notes null or absent; device id in upper case. */
	for (size_t i = 0; i < UUID_STR_LEN; i++)
		upper[i] = (char)(device[i] >= 'a' && device[i] <= 'f' ? device[i] - 32 : device[i]);
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"B\",\"notes\":null}",
	         upper);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	ck_assert(json_object_object_get_ex(rs.body, "notes", &v));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(reply_str("device_id"), device);
	/* Several live sessions on one device are allowed. */
	make_session(device, upper);
}
END_TEST

START_TEST(test_session_create_errors)
{
	char device[UUID_STR_LEN], body[8192], long_name[200], long_notes[4200];

	make_device("target", device);
	memset(long_name, 'e', 129);
	long_name[129] = '\0';
	memset(long_notes, 'n', 4097);
	long_notes[4097] = '\0';

	struct {
		const char *fmt, *code, *field;
		int status;
	} cases[] = {
		{ "{\"engineer_name\":\"A\"}", "missing_field", "device_id", 400 },
		{ "{\"device_id\":\"%s\"}", "missing_field", "engineer_name", 400 },
		{ "{\"device_id\":\"nope\",\"engineer_name\":\"A\"}", "invalid_field", "device_id", 400 },
		{ "{\"device_id\":\"\",\"engineer_name\":\"A\"}", "invalid_field", "device_id", 400 },
		{ "{\"device_id\":42,\"engineer_name\":\"A\"}", "invalid_field", "device_id", 400 },
		{ "{\"device_id\":null,\"engineer_name\":\"A\"}", "invalid_field", "device_id", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"\"}", "invalid_field", "engineer_name", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":7}", "invalid_field", "engineer_name", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"notes\":5}", "invalid_field", "notes",
		  400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"notes\":\"a\\u0007\"}",
		  "invalid_field", "notes", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"status\":\"active\"}",
		  "unknown_field", "status", 400 },
		{ "{\"device_id\":\"" NO_SUCH_ID "\",\"engineer_name\":\"A\"}", "invalid_reference",
		  "device_id", 422 },
		{ "[1]", "not_an_object", NULL, 400 },
		{ "{\"device_id\":", "invalid_json", NULL, 400 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(body, sizeof(body), cases[i].fmt, device);
		ck_assert_msg(send_json("POST", "/api/v1/sessions", body) == cases[i].status,
		              "%s: %d", body, rs.status);
		expect_error(cases[i].status, cases[i].code, cases[i].field);
	}
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"%s\"}", device,
	         long_name);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 400);
	expect_error(400, "invalid_field", "engineer_name");
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"notes\":\"%s\"}",
	         device, long_notes);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 400);
	expect_error(400, "invalid_field", "notes");
	long_notes[4096] = '\0';
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"notes\":\"%s\"}",
	         device, long_notes);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);

	/* A deleted device cannot get a new session. */
	sql("UPDATE sessions SET status = 'ended'");
	ck_assert_int_eq(call("DELETE", path_of("/api/v1/devices", device), NULL), 204);
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"A\"}", device);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 422);
	expect_error(422, "invalid_reference", "device_id");
}
END_TEST

/* Sessions from tickets: the body's ticket_id (another tenant's, none, or a closed one
 * refused, nothing written), the ?ticket_id= filter, and a node that cannot be one (no
 * such cluster, a device and a node at once, half a node). */
START_TEST(test_session_ticket)
{
	struct store_ticket_new t = { "Printer", NULL, NULL, NULL, NULL, NULL, NULL };
	char device[UUID_STR_LEN], ticket[UUID_STR_LEN], upper[UUID_STR_LEN],
		theirs[UUID_STR_LEN], body[512], query[128];
	json_object *o = NULL;

	make_device("target", device);
	ck_assert_int_eq(store_ticket_create(db, DEFAULT_TENANT_ID, &t, &o), STORE_OK);
	snprintf(ticket, sizeof(ticket), "%s", jsonx_str(o, "id"));
	json_object_put(o);
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'other', 'Other')", OTHER_TENANT);
	ck_assert_int_eq(store_ticket_create(db, OTHER_TENANT, &t, &o), STORE_OK);
	snprintf(theirs, sizeof(theirs), "%s", jsonx_str(o, "id"));
	json_object_put(o);

	/* Linked, whatever the id's case; audited with the ticket. */
	for (size_t i = 0; i < UUID_STR_LEN; i++)
		upper[i] = (char)toupper((unsigned char)ticket[i]);
	snprintf(body, sizeof(body),
	         "{\"device_id\":\"%s\",\"engineer_name\":\"Ada\",\"ticket_id\":\"%s\"}", device,
	         upper);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	ck_assert_str_eq(reply_str("ticket_id"), ticket);
	{
		struct db_res *res = NULL;
		ck_assert_int_eq(db_exec(db, "SELECT json_extract(details, '$.ticket_id') FROM "
		                             "audit_log WHERE action = 'session.start'",
		                         0, NULL, &res),
		                 DB_OK);
		ck_assert_int_eq(db_res_rows(res), 1);
		ck_assert_str_eq(db_res_get(res, 0, 0), ticket);
		db_res_free(res);
	}
	/* null: no ticket. */
	snprintf(body, sizeof(body),
	         "{\"device_id\":\"%s\",\"engineer_name\":\"Ada\",\"ticket_id\":null}", device);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	ck_assert_ptr_null(reply_str("ticket_id"));

	struct {
		const char *fmt, *ticket, *code, *field;
		int status;
	} cases[] = {
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"ticket_id\":\"%s\"}", "nope",
		  "invalid_field", "ticket_id", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"ticket_id\":5%s}", "",
		  "invalid_field", "ticket_id", 400 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"ticket_id\":\"%s\"}", NO_SUCH_ID,
		  "invalid_reference", "ticket_id", 422 },
		{ "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"ticket_id\":\"%s\"}", theirs,
		  "invalid_reference", "ticket_id", 422 },
		{ "{\"device_id\":\"" NO_SUCH_ID "%.0s\",\"engineer_name\":\"A\",\"ticket_id\":\"%s\"}",
		  ticket, "invalid_reference", "device_id", 422 },
		/* A node (issue 12): no such cluster; a device and a node at once; half a node. */
		{ "{\"cluster_id\":\"" NO_SUCH_ID "%.0s%s\",\"node_name\":\"n1\",\"engineer_name\":\"A\"}",
		  "", "node_not_found", "cluster_id", 404 },
		{ "{\"device_id\":\"%s\",\"node_name\":\"n1%s\",\"engineer_name\":\"A\"}", "",
		  "invalid_field", "device_id", 400 },
		{ "{\"node_name\":\"n1%.0s%s\",\"engineer_name\":\"A\"}", "",
		  "missing_field", "cluster_id", 400 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(body, sizeof(body), cases[i].fmt, device, cases[i].ticket);
		ck_assert_msg(send_json("POST", "/api/v1/sessions", body) == cases[i].status,
		              "%s: %d", body, rs.status);
		expect_error(cases[i].status, cases[i].code, cases[i].field);
	}
	/* A closed ticket takes no session. */
	sql("UPDATE tickets SET status = 'closed' WHERE id = '%s'", ticket);
	snprintf(body, sizeof(body),
	         "{\"device_id\":\"%s\",\"engineer_name\":\"A\",\"ticket_id\":\"%s\"}", device, ticket);
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 409);
	expect_error(409, "ticket_closed", "ticket_id");

	/* The filter: only the linked one (the refusals wrote nothing). */
	snprintf(query, sizeof(query), "ticket_id=%s", ticket);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", query), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", NULL), 200);
	ck_assert_int_eq(items_count(), 2);
	snprintf(query, sizeof(query), "ticket_id=%s", theirs);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", query), 200);
	ck_assert_int_eq(items_count(), 0);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", "ticket_id=nope"), 400);
	expect_error(400, "invalid_query", "ticket_id");
}
END_TEST

START_TEST(test_session_list)
{
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], s[4][UUID_STR_LEN], query[160];

	make_device("one", d1);
	make_device("two", d2);
	make_session(d1, s[0]);
	make_session(d1, s[1]);
	make_session(d2, s[2]);
	make_session(d2, s[3]);
	sql("UPDATE sessions SET status = 'failed' WHERE id = '%s'", s[3]);

	ck_assert_int_eq(call("GET", "/api/v1/sessions", NULL), 200);
	ck_assert_int_eq(items_count(), 4);
	snprintf(query, sizeof(query), "device_id=%s", d1);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", query), 200);
	ck_assert_int_eq(items_count(), 2);
	snprintf(query, sizeof(query), "device_id=%s&status=failed", d2);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", query), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", "status=pending"), 200);
	ck_assert_int_eq(items_count(), 3);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", "device_id=" NO_SUCH_ID), 200);
	ck_assert_int_eq(items_count(), 0);

	/* Two pages cover every session once. (Sessions made in the same millisecond have
	 * no defined order among themselves, so only the set is checked.) */
	char seen[4][UUID_STR_LEN];
	int nseen = 0;
	json_object *items;
	ck_assert_int_eq(call("GET", "/api/v1/sessions", "limit=3"), 200);
	ck_assert_int_eq(items_count(), 3);
	json_object_object_get_ex(rs.body, "items", &items);
	for (int i = 0; i < 3; i++)
		snprintf(seen[nseen++], UUID_STR_LEN, "%s",
		         jsonx_str(json_object_array_get_idx(items, (size_t)i), "id"));
	snprintf(query, sizeof(query), "limit=3&cursor=%s", reply_str("next_cursor"));
	ck_assert_int_eq(call("GET", "/api/v1/sessions", query), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_ptr_null(reply_str("next_cursor"));
	json_object_object_get_ex(rs.body, "items", &items);
	snprintf(seen[nseen++], UUID_STR_LEN, "%s",
	         jsonx_str(json_object_array_get_idx(items, 0), "id"));
	for (int i = 0; i < 4; i++) {
		int found = 0;
		for (int j = 0; j < 4; j++)
			found += strcmp(seen[j], s[i]) == 0;
		ck_assert_msg(found == 1, "session %s seen %d times", s[i], found);
	}
}
END_TEST

START_TEST(test_session_patch)
{
	char device[UUID_STR_LEN], session[UUID_STR_LEN], path[128], body[5000];
	json_object *v;

	make_device("p", device);
	make_session(device, session);
	snprintf(path, sizeof(path), "/api/v1/sessions/%s", session);

	ck_assert_int_eq(send_json("PATCH", path, "{\"notes\":\"tab\\there\\nnext\"}"), 200);
	ck_assert_str_eq(reply_str("notes"), "tab\there\nnext");
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_str_eq(reply_str("notes"), "tab\there\nnext");
	ck_assert_int_eq(send_json("PATCH", path, "{\"notes\":null}"), 200);
	ck_assert(json_object_object_get_ex(rs.body, "notes", &v));
	ck_assert_ptr_null(v);

	ck_assert_int_eq(send_json("PATCH", path, "{}"), 400);
	expect_error(400, "missing_field", "notes");
	ck_assert_int_eq(send_json("PATCH", path, "{\"notes\":1}"), 400);
	expect_error(400, "invalid_field", "notes");
	ck_assert_int_eq(send_json("PATCH", path, "{\"notes\":\"x\",\"status\":\"ended\"}"), 400);
	expect_error(400, "unknown_field", "status");
	ck_assert_int_eq(send_json("PATCH", path, "\"x\""), 400);
	expect_error(400, "not_an_object", NULL);
	ck_assert_int_eq(send_json("PATCH", path, "nope"), 400);
	expect_error(400, "invalid_json", NULL);
	strcpy(body, "{\"notes\":\"");
	memset(body + 10, 'x', 4097);
	strcpy(body + 10 + 4097, "\"}");
	ck_assert_int_eq(send_json("PATCH", path, body), 400);
	expect_error(400, "invalid_field", "notes");
}
END_TEST

START_TEST(test_session_delete)
{
	char device[UUID_STR_LEN], session[UUID_STR_LEN], path[128];

	make_device("d", device);
	make_session(device, session);
	snprintf(path, sizeof(path), "/api/v1/sessions/%s", session);

	ck_assert_int_eq(call("DELETE", path, NULL), 202);
	ck_assert_str_eq(reply_str("status"), "ending");
	ck_assert_str_eq(reply_str("id"), session);
	ck_assert_int_eq(call("DELETE", path, NULL), 200); /* idempotent */
	ck_assert_str_eq(reply_str("status"), "ending");
	sql("UPDATE sessions SET status = 'failed' WHERE id = '%s'", session);
	ck_assert_int_eq(call("DELETE", path, NULL), 200);
	ck_assert_str_eq(reply_str("status"), "failed");

	make_session(device, session);
	sql("UPDATE sessions SET status = 'active' WHERE id = '%s'", session);
	ck_assert_int_eq(call("DELETE", path_of("/api/v1/sessions", session), NULL), 202);
	ck_assert_str_eq(reply_str("status"), "ending");
}
END_TEST


/* ---- relay sessions ------------------------------------------------------------------ */

#define RELAY_SERVER "https://kaiden.example.com"

/* The reply's connect member: the object (borrowed), or NULL for null; absent fails. */
static json_object *reply_connect(int line)
{
	json_object *v = NULL;

	ck_assert_msg(rs.body && json_object_object_get_ex(rs.body, "connect", &v),
	              "line %d: no connect member in %s", line, wire.data);
	return v;
}
#define CONNECT() reply_connect(__LINE__)

/* The ssh command the reply should carry for session on device, destination dest. */
static void want_ssh(const char *server, const char *session, const char *device,
                     const char *dest, char *out, size_t outlen)
{
	snprintf(out, outlen,
	         "ssh -o ProxyCommand='kaiden-connect --server %s%s --session %s' "
	         "-o HostKeyAlias=kaiden-%s %s",
	         server, strncmp(server, "http://", 7) == 0 ? " --insecure" : "", session, device,
	         dest);
}

static void relay_on(const char *public_url)
{
	char err[256];

	ck_assert_int_eq(cfg_set("tunnel.provider", "relay", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set("server.public_url", public_url, err, sizeof(err)), 0);
}

START_TEST(test_relay_session_replies)
{
	char device[UUID_STR_LEN], session[UUID_STR_LEN], path[128], want[1024], fallback[64];
	json_object *c, *v, *items;

	relay_on(RELAY_SERVER);
	make_device("relay-target", device);
	sql("UPDATE devices SET hostname = 'web-01' WHERE id = '%s'", device);
	snprintf(fallback, sizeof(fallback), "kaiden-%s", device);

	/* POST: a relay session has no Cloudflare hostnames, counts no bytes yet, and
	 * carries the commands. */
	make_session(device, session);
	snprintf(path, sizeof(path), "/api/v1/sessions/%s", session);
	ck_assert_str_eq(reply_str("provider"), "relay");
	ck_assert(json_object_object_get_ex(rs.body, "public_url", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(rs.body, "ssh_hostname", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(rs.body, "bytes_in", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);
	ck_assert(json_object_object_get_ex(rs.body, "bytes_out", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);
	c = CONNECT();
	ck_assert_ptr_nonnull(c);
	want_ssh(RELAY_SERVER, session, device, "web-01", want, sizeof(want));
	ck_assert_str_eq(jsonx_str(c, "ssh"), want);
	snprintf(want, sizeof(want),
	         "kaiden-connect --server " RELAY_SERVER " --session %s --target web "
	         "--listen 127.0.0.1:18080", session);
	ck_assert_str_eq(jsonx_str(c, "web"), want);
	ck_assert_ptr_nonnull(strstr(jsonx_str(c, "token"), "KAIDEN_TOKEN"));

	/* GET and PATCH carry them too; the list does not (no member at all). */
	ck_assert_int_eq(call("GET", path, NULL), 200);
	want_ssh(RELAY_SERVER, session, device, "web-01", want, sizeof(want));
	ck_assert_str_eq(jsonx_str(CONNECT(), "ssh"), want);
	ck_assert_int_eq(send_json("PATCH", path, "{\"notes\":\"n\"}"), 200);
	ck_assert_str_eq(jsonx_str(CONNECT(), "ssh"), want);
	ck_assert_int_eq(call("GET", "/api/v1/sessions", NULL), 200);
	ck_assert(json_object_object_get_ex(rs.body, "items", &items));
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "provider"), "relay");
	ck_assert(!json_object_object_get_ex(json_object_array_get_idx(items, 0), "connect", NULL));

	/* The hostname is the customer machine's word: one that is not a plain host name
	 * never reaches the engineer's command line. */
	sql("UPDATE devices SET hostname = '-oProxyCommand=id;x' WHERE id = '%s'", device);
	ck_assert_int_eq(call("GET", path, NULL), 200);
	want_ssh(RELAY_SERVER, session, device, fallback, want, sizeof(want));
	ck_assert_str_eq(jsonx_str(CONNECT(), "ssh"), want);
	sql("UPDATE devices SET hostname = NULL WHERE id = '%s'", device);
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_str_eq(jsonx_str(CONNECT(), "ssh"), want);

	/* Bytes as helperd counts them. */
	sql("UPDATE sessions SET status = 'active', bytes_in = 5000000000, bytes_out = 7 "
	    "WHERE id = '%s'", session);
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_str_eq(reply_str("status"), "active");
	ck_assert(json_object_object_get_ex(rs.body, "bytes_in", &v));
	ck_assert(json_object_get_int64(v) == 5000000000LL);
	ck_assert(json_object_object_get_ex(rs.body, "bytes_out", &v));
	ck_assert_int_eq(json_object_get_int64(v), 7);
	ck_assert_ptr_nonnull(CONNECT());

	/* Ending or over: nothing to connect to. */
	ck_assert_int_eq(call("DELETE", path, NULL), 202);
	ck_assert_ptr_null(CONNECT());
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_ptr_null(CONNECT());
	sql("UPDATE sessions SET status = 'ended' WHERE id = '%s'", session);
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_ptr_null(CONNECT());
	sql("UPDATE sessions SET status = 'failed' WHERE id = '%s'", session);
	ck_assert_int_eq(call("GET", path, NULL), 200);
	ck_assert_ptr_null(CONNECT());

	/* A Cloudflare session made beside it is as it always was. */
	{
		char err[256];
		ck_assert_int_eq(cfg_set("tunnel.provider", "cloudflare", err, sizeof(err)), 0);
	}
	make_session(device, session);
	ck_assert_str_eq(reply_str("provider"), "cloudflare");
	ck_assert(strncmp(reply_str("public_url"), "https://sess-", 13) == 0);
	ck_assert_ptr_null(CONNECT());
	ck_assert_int_eq(call("GET", path_of("/api/v1/sessions", session), NULL), 200);
	ck_assert_ptr_null(CONNECT());
}
END_TEST

/* The server the commands name: server.public_url (http:// adds --insecure), else the
 * origin the caller reached us at, else no commands at all. */
START_TEST(test_relay_connect_server)
{
	char device[UUID_STR_LEN], session[UUID_STR_LEN], want[1024];
	struct call c = { .method = "GET", .authorization = bearer };

	relay_on("http://127.0.0.1:8080");
	make_device("relay-server", device);
	make_session(device, session);
	want_ssh("http://127.0.0.1:8080", session, device, "", want, sizeof(want));
	*strrchr(want, ' ') = '\0';
	ck_assert(strncmp(jsonx_str(CONNECT(), "ssh"), want, strlen(want)) == 0);
	ck_assert_ptr_nonnull(strstr(jsonx_str(CONNECT(), "web"), " --insecure "));

	relay_on("");
	c.path = path_of("/api/v1/sessions", session);
	c.host = "Portal.Example.org:8443";
	c.scheme = "https";
	ck_assert_int_eq(run(&c), 200);
	ck_assert(strncmp(jsonx_str(CONNECT(), "web"),
	                  "kaiden-connect --server https://portal.example.org:8443 --session ", 66) == 0);
	/* A Host that is not a host name is not echoed into a command. */
	c.host = "evil.example/';id;'";
	ck_assert_int_eq(run(&c), 200);
	ck_assert_ptr_null(CONNECT());
	c.host = NULL;
	ck_assert_int_eq(run(&c), 200);
	ck_assert_ptr_null(CONNECT());
	/* public_url wins over the origin. */
	relay_on(RELAY_SERVER);
	c.host = "portal.example.org";
	ck_assert_int_eq(run(&c), 200);
	ck_assert(strncmp(jsonx_str(CONNECT(), "web"), "kaiden-connect --server " RELAY_SERVER " ",
	                  strlen("kaiden-connect --server " RELAY_SERVER " ")) == 0);
}
END_TEST

/* ---- cross-cutting ------------------------------------------------------------------- */

START_TEST(test_request_id)
{
	char value[128];
	struct call c = { .method = "GET", .path = "/healthz", .request_id = "trace-42" };

	ck_assert_int_eq(run(&c), 200);
	ck_assert_str_eq(header("X-Request-Id", value, sizeof(value)), "trace-42");
	c.request_id = "bad id\twith spaces";
	ck_assert_int_eq(run(&c), 200);
	ck_assert(ids_is_uuid(header("X-Request-Id", value, sizeof(value))));
	c.path = "/nowhere";
	ck_assert_int_eq(run(&c), 404);
	ck_assert(ids_is_uuid(header("X-Request-Id", value, sizeof(value))));
}
END_TEST

START_TEST(test_internal_error)
{
	char id[UUID_STR_LEN];
	json_object *err;

	make_device("x", id);
	/* A broken schema: the store fails, the database still answers -> 500. */
	sql("PRAGMA foreign_keys = OFF");
	sql("DROP TABLE jobs");
	sql("DROP TABLE sessions");
	sql("DROP TABLE devices");
	ck_assert_int_eq(call("GET", path_of("/api/v1/devices", id), NULL), 500);
	expect_error(500, "internal", NULL);
	json_object_object_get_ex(rs.body, "error", &err);
	ck_assert_ptr_nonnull(strstr(jsonx_str(err, "message"), "request id"));
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 500);
	ck_assert_int_eq(send_json("POST", "/api/v1/devices", "{\"name\":\"x\"}"), 500);
}
END_TEST

START_TEST(test_no_database)
{
	struct db *saved = db;
	struct call c = { .method = "GET", .path = "/healthz" };

	db = NULL; /* a worker whose connection could not be made */
	ck_assert_int_eq(run(&c), 503);
	expect_error(503, "unavailable", NULL);
	c.path = "/api/v1/devices";
	c.authorization = bearer;
	ck_assert_int_eq(run(&c), 503);
	expect_error(503, "unavailable", NULL);
	db = saved;
}
END_TEST

static char *trim(char *s)
{
	char *end;

	while (*s == ' ')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* A permission table row whose "acts in" is helperd: an endpoint kaiden-helperd serves
 * (GET /ws/connect/{session_id}), checked against the rule it enforces
 * (relay_access_allowed) instead of the route table: a tick where the role may connect
 * to any session of its tenant, "own" where only to a session the caller started, "—"
 * where never. */
static void check_helperd_row(const char *ep, char *const cells[])
{
	static const enum role roles[] = { ROLE_ADMIN, ROLE_ENGINEER, ROLE_TENANT_ADMIN,
		                           ROLE_CUSTOMER, ROLE_SERVICE };
	static const char me[] = "0190a0b0-c0d0-7e0f-8000-0000000000e1";
	static const char other[] = "0190a0b0-c0d0-7e0f-8000-0000000000e2";

	ck_assert_msg(strcmp(ep, "GET /ws/connect/{session_id}") == 0,
	              "docs/api.md: %s is not an endpoint of helperd's that the table checks", ep);
	for (int c = 0; c < 5; c++) {
		struct store_identity who;
		const char *cell = cells[2 + c];
		int any, own;

		memset(&who, 0, sizeof(who));
		who.role = roles[c];
		snprintf(who.user_id, sizeof(who.user_id), "%s", roles[c] == ROLE_SERVICE ? "" : me);
		snprintf(who.tenant_id, sizeof(who.tenant_id), "%s",
		         roles[c] & ROLE_STAFF ? "" : DEFAULT_TENANT_ID);
		any = relay_access_allowed(&who, DEFAULT_TENANT_ID, other);
		own = relay_access_allowed(&who, DEFAULT_TENANT_ID, roles[c] == ROLE_SERVICE ? NULL : me);
		ck_assert_msg(strcmp(cell, any ? "\u2713" : own ? "own" : "\u2014") == 0,
		              "docs/api.md's permission table is wrong for %s, column %d ('%s')", ep,
		              c + 1, cell);
	}
}

/* docs/api.md's permission table says what the route table says: one row per route,
 * "| `METHOD PATH` | acts in | admin | engineer | tenant_admin | customer | service |"
 * with PATH relative to /api/v1, a tick where the role may call it, "public" on every
 * column of a route without ROUTE_AUTH; and helperd's rows (check_helperd_row) say what
 * it enforces. */
START_TEST(test_permission_table_documented)
{
	static const enum role cols[] = { ROLE_ADMIN, ROLE_ENGINEER, ROLE_TENANT_ADMIN,
		                          ROLE_CUSTOMER, ROLE_SERVICE };
	const struct route *t = route_table();
	const char *srcdir = getenv("KAIDEN_SRCDIR");
	char path[4096], line[1024];
	int seen[ROUTE__MAX] = { 0 }, helperd_rows = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s%sdocs/api.md", srcdir ? srcdir : "",
	         srcdir && *srcdir ? "/" : "");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s (run from the repository root)", path);
	while (fgets(line, sizeof(line), f)) {
		char ep[256], *cells[8], *p;
		int ncells = 0, i;
		if (strncmp(line, "| `", 3) != 0)
			continue;
		/* The cells between the pipes, trimmed. */
		p = line + 1;
		while (ncells < 8) {
			char *end = strchr(p, '|');
			if (!end)
				break;
			*end = '\0';
			cells[ncells++] = trim(p);
			p = end + 1;
		}
		if (ncells != 7 || sscanf(cells[0], "`%255[^`]`", ep) != 1)
			continue;
		if (strcmp(cells[1], "helperd") == 0) {
			check_helperd_row(ep, cells);
			helperd_rows++;
			continue;
		}
		for (i = 0; i < ROUTE__MAX; i++) {
			char want[256];
			const char *pat = t[i].pattern;
			if (strncmp(pat, "/api/v1", 7) == 0)
				pat += 7;
			snprintf(want, sizeof(want), "%s %s", req_method_name(t[i].method), pat);
			if (strcmp(want, ep) == 0)
				break;
		}
		ck_assert_msg(i < ROUTE__MAX, "docs/api.md lists %s, which is not routed", ep);
		seen[i] = 1;
		for (int c = 0; c < 5; c++) {
			const char *cell = cells[2 + c];
			if (!(t[i].flags & ROUTE_AUTH)) {
				ck_assert_msg(strcmp(cell, "public") == 0, "%s: want public", ep);
				continue;
			}
			ck_assert_msg((strcmp(cell, "\u2713") == 0) == !!(t[i].roles & cols[c]),
			              "docs/api.md's permission table is wrong for %s, column %d ('%s')",
			              ep, c + 1, cell);
		}
	}
	fclose(f);
	for (int i = 0; i < ROUTE__MAX; i++)
		ck_assert_msg(seen[i], "docs/api.md's permission table misses %s %s",
		              req_method_name(t[i].method), t[i].pattern);
	ck_assert_msg(helperd_rows == 1,
	              "docs/api.md's permission table has %d rows for GET /ws/connect, want 1",
	              helperd_rows);
}
END_TEST

START_TEST(test_route_table)
{
	const struct route *t = route_table();

	for (int i = 0; i < ROUTE__MAX; i++) {
		ck_assert_ptr_nonnull(t[i].pattern);
		ck_assert_ptr_nonnull(t[i].handler);
		ck_assert_ptr_nonnull(t[i].summary);
		ck_assert(i == ROUTE_HEALTHZ ? strcmp(t[i].pattern, "/healthz") == 0
		                             : strncmp(t[i].pattern, "/api/v1/", 8) == 0);
		ck_assert_msg(i == ROUTE_HEALTHZ || i == ROUTE_AUTH_LOGIN || (t[i].flags & ROUTE_AUTH),
		              "route %d", i);
		/* A body only where the method carries one; every PATCH has one (POST may
		 * not: logout, export). Every authenticated route names who may call it. */
		if (t[i].flags & ROUTE_BODY)
			ck_assert(t[i].method == HTTP_POST || t[i].method == HTTP_PATCH ||
			          t[i].method == HTTP_PUT);
		if (t[i].method == HTTP_PATCH)
			ck_assert(t[i].flags & ROUTE_BODY);
		if (t[i].flags & ROUTE_AUTH)
			ck_assert_msg(t[i].roles != 0, "route %d allows no role", i);
		for (int j = 0; j < i; j++)
			ck_assert_msg(!(t[i].method == t[j].method &&
			                strcmp(t[i].pattern, t[j].pattern) == 0),
			              "routes %d and %d are the same", i, j);
	}
	ck_assert_int_eq(t[ROUTE_DEVICE_GET].method, HTTP_GET);
	ck_assert_str_eq(t[ROUTE_DEVICE_GET].pattern, "/api/v1/devices/{id}");
	ck_assert_int_eq(t[ROUTE_SESSION_PATCH].method, HTTP_PATCH);
}
END_TEST

/* ---- accounts: login, tokens, users, permissions, tenants ------------------------------ */

#define JWT_KEY "unit-test-jwt-key-0123456789abcdef-0123"
#define PASSWORD "correct horse battery"
#define ACME "0190a0b0-c0d0-7e0f-8000-0000000000ac"
#define BETA "0190a0b0-c0d0-7e0f-8000-0000000000be"

static void cfg(const char *name, const char *value)
{
	char err[256];
	ck_assert_msg(cfg_set(name, value, err, sizeof(err)) == 0, "%s", err);
}

/* A user made through the store; its id goes to id_out (may be NULL). */
static void make_user(const char *tenant_id, const char *email, enum role role,
                      char id_out[UUID_STR_LEN])
{
	struct store_user_new u = { .tenant_id = tenant_id, .email = email, .name = "Test User",
		                    .role = role, .password = PASSWORD };
	json_object *user = NULL;

	ck_assert_int_eq(store_user_create(db, &u, &user), STORE_OK);
	if (id_out)
		snprintf(id_out, UUID_STR_LEN, "%s", jsonx_str(user, "id"));
	json_object_put(user);
}

/* POST /auth/login; on 200 "Bearer <jwt>" goes to bearer_out (may be NULL). */
static int login_at(const char *host, const char *email, const char *password,
                    const char *tenant_code, char *bearer_out, size_t outlen)
{
	char body[512];
	struct call c = { .method = "POST", .path = "/api/v1/auth/login",
		          .content_type = "application/json", .host = host,
		          .remote_addr = "192.0.2.7", .body = body };

	if (tenant_code)
		snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\","
		         "\"tenant_code\":\"%s\"}", email, password, tenant_code);
	else
		snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email,
		         password);
	int status = run(&c);
	if (status == 200 && bearer_out)
		snprintf(bearer_out, outlen, "Bearer %s", reply_str("token"));
	return status;
}

static int login(const char *email, const char *password, char *bearer_out, size_t outlen)
{
	return login_at(NULL, email, password, NULL, bearer_out, outlen);
}

/* method path [body] as the holder of auth, with optional Host and X-Kaiden-Tenant. */
static int as_in(const char *auth, const char *host, const char *tenant, const char *method,
                 const char *path, const char *body);

static int as(const char *auth, const char *method, const char *path, const char *body)
{
	return as_in(auth, NULL, NULL, method, path, body);
}

static int as_in(const char *auth, const char *host, const char *tenant, const char *method,
                 const char *path, const char *body)
{
	char only_path[512];
	const char *q = strchr(path, '?');
	struct call c = { .method = method, .path = path, .authorization = auth, .body = body,
		          .content_type = body ? "application/json" : NULL, .host = host,
		          .tenant = tenant };

	/* "path?query" as a web server splits it. */
	if (q) {
		snprintf(only_path, sizeof(only_path), "%.*s", (int)(q - path), path);
		c.path = only_path;
		c.query = q + 1;
	}
	return run(&c);
}

/* Audit rows whose action is action (exact, or a prefix ending in '.'). */
static int audit_count(const char *action)
{
	struct store_audit_filter f = { .action = action };
	struct store_page page = { 200, NULL };
	struct store_list list;
	int n;

	memset(&list, 0, sizeof(list));
	ck_assert_int_eq(store_audit_list(db, &f, &page, &list), STORE_OK);
	n = (int)json_object_array_length(list.items);
	json_object_put(list.items);
	return n;
}

static json_object *member_of(json_object *o, const char *name)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, name, &v), "no member %s", name);
	return v;
}

static void accounts_setup(void)
{
	setup();
	cfg("auth.jwt_secret", JWT_KEY);
}

START_TEST(test_login_me_logout)
{
	char admin[JWT_MAX_LEN + 16], cust[JWT_MAX_LEN + 16], admin_id[UUID_STR_LEN];
	json_object *user, *tenant;
	const char *msg;

	make_user(NULL, "admin@example.com", ROLE_ADMIN, admin_id);
	make_user(DEFAULT_TENANT_ID, "cust@example.com", ROLE_CUSTOMER, NULL);

	/* Staff: no tenant of their own. Emails match in any case. */
	ck_assert_int_eq(login("Admin@Example.com", PASSWORD, admin, sizeof(admin)), 200);
	ck_assert_ptr_nonnull(reply_str("expires_at"));
	user = member_of(rs.body, "user");
	ck_assert_str_eq(jsonx_str(user, "email"), "admin@example.com");
	ck_assert_str_eq(jsonx_str(user, "role"), "admin");
	ck_assert_ptr_null(json_object_object_get(user, "password_hash"));
	ck_assert_ptr_null(member_of(rs.body, "tenant"));
	ck_assert_ptr_nonnull(strstr(admin, "Bearer ey"));

	/* A tenant's user: the tenant comes with the login (single mode: the default). */
	ck_assert_int_eq(login("cust@example.com", PASSWORD, cust, sizeof(cust)), 200);
	tenant = member_of(rs.body, "tenant");
	ck_assert_str_eq(jsonx_str(tenant, "id"), DEFAULT_TENANT_ID);
	ck_assert_ptr_nonnull(jsonx_str(tenant, "code"));
	ck_assert_ptr_nonnull(jsonx_str(tenant, "plan"));

	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("role"), "admin");
	ck_assert_str_eq(reply_str("acting_tenant_id"), DEFAULT_TENANT_ID); /* single mode */
	ck_assert_str_eq(reply_str("credential"), "login");
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "user"), "id"), admin_id);
	ck_assert_int_eq(as(cust, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("role"), "customer");
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "tenant"), "id"), DEFAULT_TENANT_ID);
	ck_assert_int_eq(call("GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("role"), "service");
	ck_assert_ptr_null(member_of(rs.body, "user"));
	ck_assert_str_eq(reply_str("credential"), "api_token");

	/* One answer for a wrong password, an unknown email, a disabled user. */
	ck_assert_int_eq(login("admin@example.com", "wrong password!", NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);
	json_object *err = member_of(rs.body, "error");
	msg = jsonx_str(err, "message");
	ck_assert_str_eq(msg, "email or password is wrong");
	ck_assert_int_eq(login("nobody@example.com", PASSWORD, NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "error"), "message"),
	                 "email or password is wrong");
	sql("UPDATE users SET status = 'disabled' WHERE email = 'cust@example.com'");
	ck_assert_int_eq(login("cust@example.com", PASSWORD, NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "error"), "message"),
	                 "email or password is wrong");
	/* ... and the disabled user's token stops working. */
	ck_assert_int_eq(as(cust, "GET", "/api/v1/auth/me", NULL), 401);

	/* Body checks. */
	struct call c = { .method = "POST", .path = "/api/v1/auth/login",
		          .content_type = "application/json", .body = "{\"email\":\"a@b\"}" };
	ck_assert_int_eq(run(&c), 400);
	expect_error(400, "missing_field", "password");
	c.body = "{\"email\":\"a@b\",\"password\":\"x\",\"tenant_code\":\"acme\"}";
	ck_assert_int_eq(run(&c), 400);
	expect_error(400, "invalid_field", "tenant_code"); /* single mode */
	c.body = "{\"email\":\"admin@example.com\",\"password\":\"" PASSWORD "\","
	         "\"tenant_code\":\"default\"}";
	ck_assert_int_eq(run(&c), 200);

	/* Logout revokes exactly that login. */
	char again[JWT_MAX_LEN + 16];
	ck_assert_int_eq(login("admin@example.com", PASSWORD, again, sizeof(again)), 200);
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/logout", NULL), 204);
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/me", NULL), 401);
	expect_error(401, "unauthorized", NULL);
	ck_assert_int_eq(as(again, "GET", "/api/v1/auth/me", NULL), 200);
	/* An API token does not log out. */
	ck_assert_int_eq(call("POST", "/api/v1/auth/logout", NULL), 400);
	expect_error(400, "not_a_login", NULL);

	/* A token signed with another key, or tampered with, is a plain 401. */
	char forged[JWT_MAX_LEN + 16];
	snprintf(forged, sizeof(forged), "%s", again);
	forged[strlen(forged) - 3] = forged[strlen(forged) - 3] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(as(forged, "GET", "/api/v1/auth/me", NULL), 401);
	expect_error(401, "unauthorized", NULL);
	cfg("auth.jwt_secret", "another-key-of-enough-length-0123456789");
	ck_assert_int_eq(as(again, "GET", "/api/v1/auth/me", NULL), 401);

	/* The audit log has them all, with no actor on the failures. */
	ck_assert_int_eq(audit_count("auth.login"), 4);
	ck_assert_int_eq(audit_count("auth.login_failed"), 3);
	ck_assert_int_eq(audit_count("auth.logout"), 1);
}
END_TEST

START_TEST(test_login_unavailable)
{
	char admin[JWT_MAX_LEN + 16];

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	cfg("auth.jwt_secret", "");
	ck_assert_int_eq(login("admin@example.com", PASSWORD, NULL, 0), 503);
	expect_error(503, "login_unavailable", NULL);
	ck_assert_ptr_nonnull(strstr(jsonx_str(member_of(rs.body, "error"), "message"),
	                             "auth.jwt_secret"));
	/* Without the key no login token is valid; API tokens still are. */
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/me", NULL), 401);
	ck_assert_int_eq(call("GET", "/api/v1/auth/me", NULL), 200);
	cfg("auth.jwt_secret", "too-short");
	ck_assert_int_eq(login("admin@example.com", PASSWORD, NULL, 0), 503);
	expect_error(503, "login_unavailable", NULL);
}
END_TEST

START_TEST(test_login_throttle)
{
	char value[32];

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(login("admin@example.com", "wrong password!", NULL, 0), 401);
		ck_assert_ptr_null(header("Retry-After", value, sizeof(value)));
	}
	/* Locked: even the right password gets 429, with Retry-After. */
	ck_assert_int_eq(login("admin@example.com", PASSWORD, NULL, 0), 429);
	expect_error(429, "too_many_attempts", NULL);
	ck_assert_ptr_nonnull(header("Retry-After", value, sizeof(value)));
	ck_assert_int_gt(atoi(value), 0);
	ck_assert_int_le(atoi(value), 900);
	/* The address: other accounts from the same address, past its limit. It counts
	 * every attempt, the refused one above too (6 so far). */
	cfg("auth.max_address_failures", "8");
	ck_assert_int_eq(login("x1@example.com", "wrong password!", NULL, 0), 401);
	ck_assert_int_eq(login("x2@example.com", "wrong password!", NULL, 0), 401);
	ck_assert_int_eq(login("x3@example.com", "wrong password!", NULL, 0), 429);
	ck_assert_ptr_nonnull(header("Retry-After", value, sizeof(value)));
	/* Once the window is past, the account may log in again. */
	cfg("auth.max_address_failures", "100");
	cfg("auth.failure_window", "1");
	sleep(2);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, NULL, 0), 200);
	cfg("auth.failure_window", "900");
}
END_TEST

/* Issue 8: the lock is the account's whatever tenant a login names, and a throttled
 * burst is one audit row per tenant named. Multi mode, on SQLite (the integration suite
 * runs PostgreSQL in multi mode through nginx). */
START_TEST(test_login_lock_is_the_accounts)
{
	struct db_res *res = NULL;

	cfg("auth.max_address_failures", "100");
	cfg("server.mode", "multi");
	cfg("server.base_domain", "kaiden.test");
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'acme', 'Acme')", ACME);
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'beta', 'Beta')", BETA);
	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);

	/* Five wrong passwords with no tenant named lock the staff account... */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(login("admin@example.com", "wrong password!", NULL, 0), 401);
	/* ...for every tenant code and subdomain too, right password or not. */
	ck_assert_int_eq(login_at(NULL, "admin@example.com", PASSWORD, "acme", NULL, 0), 429);
	ck_assert_int_eq(login_at(NULL, "admin@example.com", "wrong password!", "beta", NULL, 0),
	                 429);
	ck_assert_int_eq(login_at("acme.kaiden.test", "admin@example.com", PASSWORD, NULL, NULL,
	                          0), 429);
	ck_assert_int_eq(login_at(NULL, "admin@example.com", PASSWORD, "nosuch", NULL, 0), 429);
	ck_assert_int_eq(login("Admin@Example.COM", PASSWORD, NULL, 0), 429);
	/* Five passwords were checked, no more; each refusal is counted in the burst's row
	 * (one per tenant named and window), not written as a row of its own. */
	ck_assert_int_eq(audit_count("auth.login_failed"), 5);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(login_at(NULL, "admin@example.com", "wrong password!", "acme", NULL,
		                          0), 429);
	ck_assert_int_eq(audit_count("auth.login_failed"), 5);
	ck_assert_int_eq(audit_count("auth.login_throttled"), 3); /* acme, beta, none */
	ck_assert_int_eq(db_exec(db, "SELECT json_extract(details, '$.count') FROM audit_log "
	                             "WHERE action = 'auth.login_throttled' AND tenant_id = '" ACME
	                             "'",
	                         0, NULL, &res),
	                 DB_OK);
	ck_assert_int_eq(db_res_rows(res), 1);
	ck_assert_str_eq(db_res_get(res, 0, 0), "22");
	db_res_free(res);
}
END_TEST

/* Issue 8: a tenant admin cannot give a tenant user a staff member's email, so a staff
 * login naming that tenant meets the staff account. */
START_TEST(test_staff_email_reserved)
{
	char tadmin[JWT_MAX_LEN + 16];

	cfg("server.mode", "multi");
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'acme', 'Acme')", ACME);
	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	make_user(ACME, "ta@acme.example", ROLE_TENANT_ADMIN, NULL);
	ck_assert_int_eq(login_at(NULL, "ta@acme.example", PASSWORD, "acme", tadmin,
	                          sizeof(tadmin)), 200);
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users",
	                    "{\"email\":\"Admin@Example.com\",\"name\":\"Twin\","
	                    "\"role\":\"customer\",\"password\":\"" PASSWORD "\"}"),
	                 409);
	expect_error(409, "email_taken", "email");
	ck_assert_int_eq(login_at(NULL, "admin@example.com", PASSWORD, "acme", NULL, 0), 200);
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "user"), "role"), "admin");
}
END_TEST

START_TEST(test_api_tokens)
{
	char admin[JWT_MAX_LEN + 16], api[TOKEN_LEN + 16], id[UUID_STR_LEN];

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/tokens", "{\"name\":\"ci\"}"), 201);
	ck_assert_ptr_nonnull(reply_str("token"));
	ck_assert_int_eq(strncmp(reply_str("token"), "kdn_", 4), 0);
	snprintf(api, sizeof(api), "Bearer %s", reply_str("token"));
	snprintf(id, sizeof(id), "%s", reply_str("id"));
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/tokens",
	                    "{\"name\":\"short\",\"expires_in_days\":30}"), 201);
	ck_assert_ptr_nonnull(reply_str("expires_at"));

	/* The token acts as the user. */
	ck_assert_int_eq(as(api, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("role"), "admin");
	ck_assert_str_eq(reply_str("credential"), "api_token");
	ck_assert_int_eq(as(api, "GET", "/api/v1/devices", NULL), 200);

	/* Listed (never with the token itself), newest first. */
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/tokens", NULL), 200);
	ck_assert_int_eq(items_count(), 2);
	ck_assert_ptr_null(strstr(wire.data, "kdn_"));

	/* Bad bodies. */
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/tokens",
	                    "{\"name\":\"x\",\"expires_in_days\":0}"), 400);
	expect_error(400, "invalid_field", "expires_in_days");
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/tokens", "{}"), 400);
	expect_error(400, "missing_field", "name");
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/tokens?limit=0", NULL), 400);
	expect_error(400, "invalid_query", "limit");

	/* A service token has no user to make tokens for. */
	ck_assert_int_eq(send_json("POST", "/api/v1/auth/tokens", "{\"name\":\"x\"}"), 403);
	expect_error(403, "forbidden", NULL);
	ck_assert_int_eq(call("GET", "/api/v1/auth/tokens", NULL), 403);

	/* Revoked: refused at once; revoking again or someone else's: 404. */
	ck_assert_int_eq(as(admin, "DELETE", path_of("/api/v1/auth/tokens", id), NULL), 204);
	ck_assert_int_eq(as(api, "GET", "/api/v1/auth/me", NULL), 401);
	ck_assert_int_eq(as(admin, "DELETE", path_of("/api/v1/auth/tokens", id), NULL), 404);
	expect_error(404, "not_found", NULL);
	ck_assert_int_eq(as(admin, "DELETE", "/api/v1/auth/tokens/" NO_SUCH_ID, NULL), 404);
	ck_assert_int_eq(audit_count("token."), 3);
}
END_TEST

START_TEST(test_permissions)
{
	char cust[JWT_MAX_LEN + 16], tadmin[JWT_MAX_LEN + 16], eng[JWT_MAX_LEN + 16];
	char device[UUID_STR_LEN], body[256];

	make_user(DEFAULT_TENANT_ID, "cust@example.com", ROLE_CUSTOMER, NULL);
	make_user(DEFAULT_TENANT_ID, "tadmin@example.com", ROLE_TENANT_ADMIN, NULL);
	make_user(NULL, "eng@example.com", ROLE_ENGINEER, NULL);
	ck_assert_int_eq(login("cust@example.com", PASSWORD, cust, sizeof(cust)), 200);
	ck_assert_int_eq(login("tadmin@example.com", PASSWORD, tadmin, sizeof(tadmin)), 200);
	ck_assert_int_eq(login("eng@example.com", PASSWORD, eng, sizeof(eng)), 200);
	make_device("seen", device);

	/* Customers read devices and sessions, nothing more. */
	ck_assert_int_eq(as(cust, "GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(as(cust, "GET", path_of("/api/v1/devices", device), NULL), 200);
	ck_assert_int_eq(as(cust, "GET", "/api/v1/sessions", NULL), 200);
	ck_assert_int_eq(as(cust, "POST", "/api/v1/devices", "{\"name\":\"x\"}"), 403);
	expect_error(403, "forbidden", NULL);
	ck_assert_int_eq(as(cust, "DELETE", path_of("/api/v1/devices", device), NULL), 403);
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"C\"}", device);
	ck_assert_int_eq(as(cust, "POST", "/api/v1/sessions", body), 403);
	expect_error(403, "forbidden", NULL);
	ck_assert_int_eq(as(cust, "GET", "/api/v1/users", NULL), 403);

	/* Tenant admins manage devices, not sessions. */
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/devices", "{\"name\":\"t\"}"), 201);
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/sessions", body), 403);
	/* Engineers start sessions; list users; may not create them. */
	ck_assert_int_eq(as(eng, "POST", "/api/v1/sessions", body), 201);
	ck_assert_int_eq(as(eng, "GET", "/api/v1/users", NULL), 200);
	ck_assert_int_eq(as(eng, "POST", "/api/v1/users",
	                    "{\"email\":\"n@example.com\",\"name\":\"N\",\"role\":\"customer\"}"),
	                 403);
	/* Platform routes are staff's. */
	ck_assert_int_eq(as(tadmin, "GET", "/api/v1/admin/tenants", NULL), 403);
	expect_error(403, "forbidden", NULL);
}
END_TEST

/* Who sees a relay session's connect commands: whom the relay lets in (relay_access.h),
 * nobody else; a customer reads the session without them. */
START_TEST(test_relay_connect_visibility)
{
	char cust[JWT_MAX_LEN + 16], tadmin[JWT_MAX_LEN + 16], eng[JWT_MAX_LEN + 16];
	char eng2[JWT_MAX_LEN + 16], admin[JWT_MAX_LEN + 16], eng_id[UUID_STR_LEN];
	char device[UUID_STR_LEN], body[256], mine[UUID_STR_LEN], theirs[UUID_STR_LEN];
	char path[128];

	relay_on(RELAY_SERVER);
	make_user(DEFAULT_TENANT_ID, "cust@example.com", ROLE_CUSTOMER, NULL);
	make_user(DEFAULT_TENANT_ID, "tadmin@example.com", ROLE_TENANT_ADMIN, NULL);
	make_user(NULL, "eng@example.com", ROLE_ENGINEER, eng_id);
	make_user(NULL, "eng2@example.com", ROLE_ENGINEER, NULL);
	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	ck_assert_int_eq(login("cust@example.com", PASSWORD, cust, sizeof(cust)), 200);
	ck_assert_int_eq(login("tadmin@example.com", PASSWORD, tadmin, sizeof(tadmin)), 200);
	ck_assert_int_eq(login("eng@example.com", PASSWORD, eng, sizeof(eng)), 200);
	ck_assert_int_eq(login("eng2@example.com", PASSWORD, eng2, sizeof(eng2)), 200);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	make_device("seen", device);
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"engineer_name\":\"Eng\"}", device);

	/* The engineer who starts it gets the commands in the 201. */
	ck_assert_int_eq(as(eng, "POST", "/api/v1/sessions", body), 201);
	ck_assert_str_eq(reply_str("engineer_id"), eng_id);
	ck_assert_ptr_nonnull(CONNECT());
	snprintf(mine, sizeof(mine), "%s", reply_str("id"));
	snprintf(path, sizeof(path), "/api/v1/sessions/%s", mine);

	ck_assert_int_eq(as(eng, "GET", path, NULL), 200);
	ck_assert_ptr_nonnull(CONNECT());
	ck_assert_int_eq(as(admin, "GET", path, NULL), 200);
	ck_assert_ptr_nonnull(CONNECT());
	ck_assert_int_eq(as(tadmin, "GET", path, NULL), 200);
	ck_assert_ptr_nonnull(CONNECT());
	ck_assert_int_eq(as(bearer, "GET", path, NULL), 200); /* the tenant's service token */
	ck_assert_ptr_nonnull(CONNECT());
	/* Another engineer may not connect to it, so is not shown how. */
	ck_assert_int_eq(as(eng2, "GET", path, NULL), 200);
	ck_assert_ptr_null(CONNECT());
	ck_assert_int_eq(as(eng2, "PATCH", path, "{\"notes\":\"x\"}"), 200);
	ck_assert_ptr_null(CONNECT());
	/* A customer reads the session, never the commands. */
	ck_assert_int_eq(as(cust, "GET", path, NULL), 200);
	ck_assert_str_eq(reply_str("id"), mine);
	ck_assert_ptr_null(CONNECT());
	ck_assert_ptr_null(strstr(wire.data, "kaiden-connect"));

	/* One the service token started (no engineer): the tenant's and admins', no
	 * engineer's. */
	ck_assert_int_eq(send_json("POST", "/api/v1/sessions", body), 201);
	ck_assert_ptr_nonnull(CONNECT());
	snprintf(theirs, sizeof(theirs), "%s", reply_str("id"));
	ck_assert_int_eq(as(eng, "GET", path_of("/api/v1/sessions", theirs), NULL), 200);
	ck_assert_ptr_null(CONNECT());
	ck_assert_int_eq(as(admin, "GET", path_of("/api/v1/sessions", theirs), NULL), 200);
	ck_assert_ptr_nonnull(CONNECT());
	ck_assert_int_eq(as(tadmin, "GET", path_of("/api/v1/sessions", theirs), NULL), 200);
	ck_assert_ptr_nonnull(CONNECT());
	ck_assert_int_eq(as(cust, "GET", path_of("/api/v1/sessions", theirs), NULL), 200);
	ck_assert_ptr_null(CONNECT());
}
END_TEST

/* GET /tenant/usage: the relay's bytes of the sessions started this month. */
START_TEST(test_usage_relay_bytes)
{
	char device[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN], s3[UUID_STR_LEN];
	char old[TIMESTAMP_LEN];
	json_object *v;

	ck_assert_int_eq(call("GET", "/api/v1/tenant/usage", NULL), 200);
	ck_assert(json_object_object_get_ex(rs.body, "relay_bytes_in_this_month", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);
	ck_assert(json_object_object_get_ex(rs.body, "relay_bytes_out_this_month", &v));
	ck_assert_int_eq(json_object_get_int64(v), 0);

	relay_on(RELAY_SERVER);
	make_device("metered", device);
	make_session(device, s1);
	make_session(device, s2);
	make_session(device, s3);
	sql("UPDATE sessions SET status = 'ended', bytes_in = 4294967296, bytes_out = 10 "
	    "WHERE id = '%s'", s1);
	sql("UPDATE sessions SET bytes_in = 1, bytes_out = 20 WHERE id = '%s'", s2);
	/* Last year's session is not this month's. */
	ids_timestamp(ids_now_ms() - 400LL * 86400 * 1000, old);
	sql("UPDATE sessions SET status = 'ended', started_at = '%s', bytes_in = 999, "
	    "bytes_out = 999 WHERE id = '%s'", old, s3);
	ck_assert_int_eq(call("GET", "/api/v1/tenant/usage", NULL), 200);
	ck_assert(json_object_object_get_ex(rs.body, "relay_bytes_in_this_month", &v));
	ck_assert(json_object_get_int64(v) == 4294967297LL);
	ck_assert(json_object_object_get_ex(rs.body, "relay_bytes_out_this_month", &v));
	ck_assert_int_eq(json_object_get_int64(v), 30);
	ck_assert(json_object_object_get_ex(rs.body, "sessions_this_month", &v));
	ck_assert_int_eq(json_object_get_int64(v), 2);
}
END_TEST

START_TEST(test_users_in_tenant)
{
	char tadmin[JWT_MAX_LEN + 16], admin[JWT_MAX_LEN + 16], tadmin_id[UUID_STR_LEN];
	char other_id[UUID_STR_LEN], id[UUID_STR_LEN], value[128];

	make_user(DEFAULT_TENANT_ID, "tadmin@example.com", ROLE_TENANT_ADMIN, tadmin_id);
	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'other', 'Other')", OTHER_TENANT);
	make_user(OTHER_TENANT, "them@example.com", ROLE_CUSTOMER, other_id);
	ck_assert_int_eq(login("tadmin@example.com", PASSWORD, tadmin, sizeof(tadmin)), 200);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);

	/* A tenant admin adds customers and tenant admins, never staff. */
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users",
	                    "{\"email\":\"New@Example.com\",\"name\":\"New\",\"role\":\"customer\","
	                    "\"password\":\"" PASSWORD "\"}"), 201);
	ck_assert_str_eq(reply_str("email"), "new@example.com");
	ck_assert_str_eq(reply_str("tenant_id"), DEFAULT_TENANT_ID);
	ck_assert_ptr_null(strstr(wire.data, PASSWORD));
	ck_assert_ptr_nonnull(header("Location", value, sizeof(value)));
	snprintf(id, sizeof(id), "%s", reply_str("id"));
	ck_assert_int_eq(login("new@example.com", PASSWORD, NULL, 0), 200);
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users",
	                    "{\"email\":\"s@example.com\",\"name\":\"S\",\"role\":\"admin\"}"), 400);
	expect_error(400, "invalid_field", "role");
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users",
	                    "{\"email\":\"s@example.com\",\"name\":\"S\",\"role\":\"boss\"}"), 400);
	expect_error(400, "invalid_field", "role");
	ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users",
	                    "{\"email\":\"new@example.com\",\"name\":\"Dup\",\"role\":\"customer\"}"),
	                 409);
	expect_error(409, "email_taken", "email");

	/* Validation names the field. */
	static const struct {
		const char *body, *code, *field;
	} bad[] = {
		{ "{\"email\":\"nope\",\"name\":\"N\",\"role\":\"customer\"}", "invalid_field", "email" },
		{ "{\"email\":\"a@b@c\",\"name\":\"N\",\"role\":\"customer\"}", "invalid_field", "email" },
		{ "{\"email\":\"a b@c\",\"name\":\"N\",\"role\":\"customer\"}", "invalid_field", "email" },
		{ "{\"email\":\"a@b.c\",\"name\":\"\",\"role\":\"customer\"}", "invalid_field", "name" },
		{ "{\"email\":\"a@b.c\",\"name\":\"N\",\"role\":\"customer\",\"password\":\"short\"}",
		  "invalid_field", "password" },
		{ "{\"email\":\"a@b.c\",\"name\":\"N\"}", "missing_field", "role" },
		{ "{\"email\":\"a@b.c\",\"name\":\"N\",\"role\":\"customer\",\"tenant_id\":\"x\"}",
		  "unknown_field", "tenant_id" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(as(tadmin, "POST", "/api/v1/users", bad[i].body), 400);
		expect_error(400, bad[i].code, bad[i].field);
	}

	/* Only the tenant's own users exist for it. */
	ck_assert_int_eq(as(tadmin, "GET", "/api/v1/users", NULL), 200);
	ck_assert_int_eq(items_count(), 2);
	ck_assert_int_eq(as(tadmin, "GET", "/api/v1/users?role=customer", NULL), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(as(tadmin, "GET", "/api/v1/users?role=boss", NULL), 400);
	expect_error(400, "invalid_query", "role");
	ck_assert_int_eq(as(tadmin, "GET", path_of("/api/v1/users", other_id), NULL), 404);
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", other_id),
	                    "{\"name\":\"Hijacked\"}"), 404);
	ck_assert_int_eq(as(tadmin, "DELETE", path_of("/api/v1/users", other_id), NULL), 404);

	/* Changes; never oneself's status or role, nor deleting oneself. */
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", id),
	                    "{\"name\":\"Renamed\",\"role\":\"tenant_admin\"}"), 200);
	ck_assert_str_eq(reply_str("name"), "Renamed");
	ck_assert_str_eq(reply_str("role"), "tenant_admin");
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", id), "{}"), 400);
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", id),
	                    "{\"status\":\"gone\"}"), 400);
	expect_error(400, "invalid_field", "status");
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", id),
	                    "{\"role\":\"engineer\"}"), 400);
	expect_error(400, "invalid_field", "role");
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", tadmin_id),
	                    "{\"status\":\"disabled\"}"), 409);
	expect_error(409, "cannot_modify_self", "status");
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", tadmin_id),
	                    "{\"role\":\"customer\"}"), 409);
	expect_error(409, "cannot_modify_self", "role");
	ck_assert_int_eq(as(tadmin, "DELETE", path_of("/api/v1/users", tadmin_id), NULL), 409);
	expect_error(409, "cannot_modify_self", NULL);
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", tadmin_id),
	                    "{\"name\":\"Me\"}"), 200);

	/* Disabling logs the user out of everything. */
	char newbie[JWT_MAX_LEN + 16];
	ck_assert_int_eq(login("new@example.com", PASSWORD, newbie, sizeof(newbie)), 200);
	ck_assert_int_eq(as(tadmin, "PATCH", path_of("/api/v1/users", id),
	                    "{\"status\":\"disabled\"}"), 200);
	ck_assert_int_eq(as(newbie, "GET", "/api/v1/auth/me", NULL), 401);
	ck_assert_int_eq(login("new@example.com", PASSWORD, NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);

	/* Staff in single mode act in the default tenant: its users, tenant roles. */
	ck_assert_int_eq(as(admin, "GET", path_of("/api/v1/users", id), NULL), 200);
	ck_assert_int_eq(as(admin, "POST", "/api/v1/users",
	                    "{\"email\":\"e@example.com\",\"name\":\"E\",\"role\":\"engineer\"}"),
	                 400);
	expect_error(400, "invalid_field", "role");

	ck_assert_int_eq(as(tadmin, "DELETE", path_of("/api/v1/users", id), NULL), 204);
	ck_assert_int_eq(as(tadmin, "GET", path_of("/api/v1/users", id), NULL), 404);
	/* create, rename, rename oneself, disable, delete */
	ck_assert_int_eq(audit_count("user."), 5);
}
END_TEST

START_TEST(test_multi_mode)
{
	char admin[JWT_MAX_LEN + 16], acme_cust[JWT_MAX_LEN + 16], staff_id[UUID_STR_LEN];
	char acme_token[TOKEN_LEN], acme_bearer[TOKEN_LEN + 16];

	cfg("server.mode", "multi");
	cfg("server.base_domain", "kaiden.test");
	sql("INSERT INTO tenants (id, code, name) VALUES ('%s', 'acme', 'Acme')", ACME);
	make_user(NULL, "admin@example.com", ROLE_ADMIN, staff_id);
	make_user(ACME, "cust@acme.example", ROLE_CUSTOMER, NULL);
	ck_assert_int_eq(store_token_create(db, ACME, "acme", acme_token, NULL), STORE_OK);
	snprintf(acme_bearer, sizeof(acme_bearer), "Bearer %s", acme_token);

	/* Logins name the tenant by tenant_code or subdomain; staff need neither. */
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	ck_assert_int_eq(login("cust@acme.example", PASSWORD, NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);
	ck_assert_int_eq(login_at(NULL, "cust@acme.example", PASSWORD, "nosuch", NULL, 0), 401);
	expect_error(401, "invalid_credentials", NULL);
	ck_assert_int_eq(login_at(NULL, "cust@acme.example", PASSWORD, "acme", acme_cust,
	                          sizeof(acme_cust)), 200);
	ck_assert_str_eq(jsonx_str(member_of(rs.body, "tenant"), "code"), "acme");
	ck_assert_int_eq(login_at("acme.kaiden.test", "cust@acme.example", PASSWORD, NULL, NULL,
	                          0), 200);
	ck_assert_int_eq(login_at("app.kaiden.test", "cust@acme.example", PASSWORD, NULL, NULL,
	                          0), 401);
	/* Staff may log in through a tenant's subdomain too. */
	ck_assert_int_eq(login_at("acme.kaiden.test", "admin@example.com", PASSWORD, NULL, NULL,
	                          0), 200);

	/* Staff: platform level unless a tenant is named. */
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_ptr_null(reply_str("acting_tenant_id"));
	ck_assert_int_eq(as(admin, "GET", "/api/v1/devices", NULL), 400);
	expect_error(400, "tenant_required", NULL);
	ck_assert_int_eq(as_in(admin, "app.kaiden.test", NULL, "GET", "/api/v1/devices", NULL),
	                 400);
	ck_assert_int_eq(as_in(admin, NULL, "acme", "GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(as_in(admin, NULL, "ACME", "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("acting_tenant_id"), ACME);
	ck_assert_int_eq(as_in(admin, NULL, ACME, "GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(as_in(admin, "acme.kaiden.test", NULL, "GET", "/api/v1/devices", NULL),
	                 200);
	ck_assert_int_eq(as_in(admin, "acme.kaiden.test:8443", NULL, "POST", "/api/v1/devices",
	                       "{\"name\":\"in acme\"}"), 201);
	ck_assert_int_eq(as_in(admin, NULL, "nosuch", "GET", "/api/v1/devices", NULL), 404);
	expect_error(404, "not_found", "X-Kaiden-Tenant");
	ck_assert_int_eq(as_in(admin, NULL, NO_SUCH_ID, "GET", "/api/v1/devices", NULL), 404);
	expect_error(404, "not_found", "X-Kaiden-Tenant");
	/* Acting in a tenant is audited once per credential and tenant. */
	ck_assert_int_eq(audit_count("tenant.access"), 1);

	/* Users: staff at platform level, the tenant's with a tenant named. */
	ck_assert_int_eq(as(admin, "GET", "/api/v1/users", NULL), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(as(admin, "POST", "/api/v1/users",
	                    "{\"email\":\"eng@example.com\",\"name\":\"E\",\"role\":\"engineer\"}"),
	                 201);
	ck_assert_ptr_null(reply_str("tenant_id"));
	ck_assert_int_eq(as(admin, "POST", "/api/v1/users",
	                    "{\"email\":\"c@example.com\",\"name\":\"C\",\"role\":\"customer\"}"),
	                 400);
	expect_error(400, "invalid_field", "role");
	ck_assert_int_eq(as_in(admin, NULL, "acme", "POST", "/api/v1/users",
	                       "{\"email\":\"ta@acme.example\",\"name\":\"T\","
	                       "\"role\":\"tenant_admin\"}"), 201);
	ck_assert_str_eq(reply_str("tenant_id"), ACME);
	char ta_id[UUID_STR_LEN];
	snprintf(ta_id, sizeof(ta_id), "%s", reply_str("id"));
	/* A tenant user is not visible at platform level, nor staff in a tenant. */
	ck_assert_int_eq(as(admin, "GET", path_of("/api/v1/users", ta_id), NULL), 404);
	ck_assert_int_eq(as_in(admin, NULL, "acme", "GET", path_of("/api/v1/users", staff_id),
	                       NULL), 404);
	ck_assert_int_eq(as(admin, "DELETE", path_of("/api/v1/users", staff_id), NULL), 409);

	/* Tenant credentials stay in their tenant. */
	ck_assert_int_eq(as_in(acme_cust, "acme.kaiden.test", NULL, "GET", "/api/v1/devices",
	                       NULL), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(as_in(acme_cust, NULL, "acme", "GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(as_in(bearer, "acme.kaiden.test", NULL, "GET", "/api/v1/devices", NULL),
	                 403);
	expect_error(403, "wrong_tenant", NULL);
	ck_assert_int_eq(as_in(bearer, NULL, "acme", "GET", "/api/v1/devices", NULL), 403);
	expect_error(403, "wrong_tenant", NULL);
	ck_assert_int_eq(as_in(acme_cust, NULL, "default", "GET", "/api/v1/devices", NULL), 403);
	ck_assert_int_eq(as_in(acme_cust, NULL, "nosuch", "GET", "/api/v1/devices", NULL), 403);
	ck_assert_int_eq(as_in(acme_bearer, "www.kaiden.test", NULL, "GET", "/api/v1/devices",
	                       NULL), 200);
	ck_assert_int_eq(items_count(), 1);
	ck_assert_int_eq(as_in(bearer, NULL, NULL, "GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), 0);

	/* A suspended tenant: no login, no token. */
	sql("UPDATE tenants SET status = 'suspended' WHERE id = '%s'", ACME);
	ck_assert_int_eq(login_at(NULL, "cust@acme.example", PASSWORD, "acme", NULL, 0), 403);
	expect_error(403, "tenant_suspended", NULL);
	ck_assert_int_eq(as(acme_cust, "GET", "/api/v1/devices", NULL), 403);
	expect_error(403, "tenant_suspended", NULL);
	ck_assert_int_eq(as(acme_bearer, "GET", "/api/v1/devices", NULL), 403);
	expect_error(403, "tenant_suspended", NULL);
	/* Staff still reach it. */
	ck_assert_int_eq(as_in(admin, NULL, "acme", "GET", "/api/v1/devices", NULL), 200);

	cfg("server.mode", "single");
	cfg("server.base_domain", "");
}
END_TEST

START_TEST(test_tenant_header_ignored_in_single_mode)
{
	char admin[JWT_MAX_LEN + 16];

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	ck_assert_int_eq(as_in(admin, NULL, "nosuch", "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("acting_tenant_id"), DEFAULT_TENANT_ID);
	ck_assert_int_eq(as_in(bearer, "acme.kaiden.test", "other", "GET", "/api/v1/devices",
	                       NULL), 200);
	ck_assert_int_eq(audit_count("tenant.access"), 0);
}
END_TEST

/* ---- issue 10: the login cookie and CSRF ---------------------------------------------- */

/* The value of the reply's "Set-Cookie: <name>=..." line (after "Set-Cookie: "). */
static const char *set_cookie(const char *name, char *out, size_t outlen)
{
	char key[64];
	const char *p, *end;

	snprintf(key, sizeof(key), "Set-Cookie: %s=", name);
	p = rs.headers.data ? strstr(rs.headers.data, key) : NULL;
	if (!p)
		return NULL;
	ck_assert_msg(!strstr(p + 1, key), "two Set-Cookie lines for %s", name);
	p += strlen("Set-Cookie: ");
	end = strstr(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
	return out;
}

/* The cookie's value in a Set-Cookie line. */
static const char *cookie_value(const char *line, char *out, size_t outlen)
{
	const char *eq = strchr(line, '='), *semi = strchr(line, ';');
	snprintf(out, outlen, "%.*s", (int)(semi - eq - 1), eq + 1);
	return out;
}

/* Logs in over scheme://host; the two cookies' Set-Cookie lines go to session and csrf. */
static void login_cookies(const char *scheme, const char *host, const char *email,
                          char *session, char *csrf, size_t outlen)
{
	char body[256];
	struct call c = { .method = "POST", .path = "/api/v1/auth/login",
		          .content_type = "application/json", .host = host, .scheme = scheme,
		          .remote_addr = "192.0.2.7", .body = body };

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, PASSWORD);
	ck_assert_int_eq(run(&c), 200);
	ck_assert_ptr_nonnull(set_cookie("kaiden_session", session, outlen));
	ck_assert_ptr_nonnull(set_cookie("kaiden_csrf", csrf, outlen));
}

/* method path with the Cookie header and X-Kaiden-CSRF (either may be NULL) and an
 * optional Authorization; a write streams a small JSON-less body so that a refusal can
 * be seen to read none of it. */
static int with_cookie(const char *cookie, const char *csrf, const char *auth,
                       const char *method, const char *path, const char *body)
{
	struct call c = { .method = method, .path = path, .authorization = auth,
		          .cookie = cookie, .csrf = csrf, .body = body,
		          .content_type = body ? "application/json" : NULL };
	return run(&c);
}

START_TEST(test_login_cookie_attributes)
{
	char session[JWT_MAX_LEN + 200], csrf[256], want[64], value[JWT_MAX_LEN];
	long ttl = cfg_int(CFG_AUTH_TOKEN_TTL);
	static const char *const plain_loopback[] = { "127.0.0.1", "localhost", "[::1]" };

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	snprintf(want, sizeof(want), "; Max-Age=%ld", ttl);

	/* Plain http to a loopback host: no Secure (a browser would drop the cookie). */
	for (size_t i = 0; i < ARRAY_LEN(plain_loopback); i++) {
		login_cookies("http", plain_loopback[i], "admin@example.com", session, csrf,
		              sizeof(session));
		ck_assert_msg(!strstr(session, "Secure") && !strstr(csrf, "Secure"), "%s: %s",
		              plain_loopback[i], session);
	}
	/* The session cookie is the reply's token, HttpOnly, for the API only. */
	ck_assert_str_eq(cookie_value(session, value, sizeof(value)), reply_str("token"));
	ck_assert_ptr_nonnull(strstr(session, "; Path=/api/; HttpOnly; SameSite=Strict"));
	ck_assert_ptr_nonnull(strstr(session, want));
	/* The CSRF cookie: readable by page scripts, for every path, 43 base64url bytes. */
	ck_assert_ptr_null(strstr(csrf, "HttpOnly"));
	ck_assert_ptr_nonnull(strstr(csrf, "; Path=/; SameSite=Strict"));
	ck_assert_ptr_nonnull(strstr(csrf, want));
	cookie_value(csrf, value, sizeof(value));
	ck_assert_uint_eq(strlen(value), 43);
	ck_assert_uint_eq(strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                "0123456789-_"), 43);

	/* https anywhere, http to any other host, or no scheme known: Secure. */
	login_cookies("https", "127.0.0.1", "admin@example.com", session, csrf, sizeof(session));
	ck_assert_ptr_nonnull(strstr(session, "; Secure"));
	ck_assert_ptr_nonnull(strstr(csrf, "; Secure"));
	login_cookies("http", "support.example.com", "admin@example.com", session, csrf,
	              sizeof(session));
	ck_assert_ptr_nonnull(strstr(session, "; Secure"));
	ck_assert_ptr_nonnull(strstr(csrf, "; Secure"));
	login_cookies("http", "127.0.0.2", "admin@example.com", session, csrf, sizeof(session));
	ck_assert_ptr_nonnull(strstr(session, "; Secure"));
	login_cookies(NULL, "127.0.0.1", "admin@example.com", session, csrf, sizeof(session));
	ck_assert_ptr_nonnull(strstr(session, "; Secure"));

	/* A failed login sets nothing. */
	ck_assert_int_eq(login("admin@example.com", "wrong password!", NULL, 0), 401);
	ck_assert_ptr_null(strstr(rs.headers.data, "Set-Cookie"));
}
END_TEST

START_TEST(test_login_cookie_csrf)
{
	char session[JWT_MAX_LEN + 200], csrf_line[256], csrf[64], other_csrf[64];
	char jar[JWT_MAX_LEN + 64], other_jar[JWT_MAX_LEN + 64], value[JWT_MAX_LEN];
	char admin[JWT_MAX_LEN + 16];
	int devices;

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	make_user(DEFAULT_TENANT_ID, "cust@example.com", ROLE_CUSTOMER, NULL);
	login_cookies("http", "127.0.0.1", "admin@example.com", session, csrf_line,
	              sizeof(session));
	snprintf(jar, sizeof(jar), "theme=dark; kaiden_session=%s; kaiden_csrf=x",
	         cookie_value(session, value, sizeof(value)));
	cookie_value(csrf_line, csrf, sizeof(csrf));
	login_cookies("http", "127.0.0.1", "admin@example.com", session, csrf_line,
	              sizeof(session));
	snprintf(other_jar, sizeof(other_jar), "kaiden_session=%s",
	         cookie_value(session, value, sizeof(value)));
	cookie_value(csrf_line, other_csrf, sizeof(other_csrf));
	ck_assert_str_ne(csrf, other_csrf);

	/* Reads need the cookie only. */
	ck_assert_int_eq(with_cookie(jar, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("role"), "admin");
	ck_assert_str_eq(reply_str("credential"), "login");
	ck_assert_int_eq(with_cookie(jar, NULL, NULL, "HEAD", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 200);
	devices = items_count();

	/* Writes need the login's own CSRF token, checked before the body is read. */
	static const char *const wrong[] = { NULL, "", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	for (size_t i = 0; i < ARRAY_LEN(wrong) + 1; i++) {
		struct call c = { .method = "POST", .path = "/api/v1/devices",
			          .content_type = "application/json", .cookie = jar,
			          .csrf = i < ARRAY_LEN(wrong) ? wrong[i] : other_csrf,
			          .stream_bytes = 20, .content_length = 20 };
		ck_assert_int_eq(run(&c), 403);
		expect_error(403, "csrf_failed", NULL);
		ck_assert_int_eq(body_read, 0);
	}
	ck_assert_int_eq(with_cookie(jar, NULL, NULL, "DELETE", path_of("/api/v1/devices",
	                             NO_SUCH_ID), NULL), 403);
	expect_error(403, "csrf_failed", NULL);
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), devices);
	ck_assert_int_eq(with_cookie(jar, csrf, NULL, "POST", "/api/v1/devices",
	                             "{\"name\":\"by-cookie\"}"), 201);
	ck_assert_int_eq(call("GET", "/api/v1/devices", NULL), 200);
	ck_assert_int_eq(items_count(), devices + 1);

	/* Bearer writes need no CSRF header, cookie or not. */
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	ck_assert_int_eq(as(admin, "POST", "/api/v1/devices", "{\"name\":\"by-bearer\"}"), 201);
	ck_assert_int_eq(with_cookie(jar, NULL, bearer, "POST", "/api/v1/devices",
	                             "{\"name\":\"by-token\"}"), 201);

	/* The Authorization header wins over the cookie, even when it is bad. */
	ck_assert_int_eq(with_cookie(jar, csrf, "Bearer nonsense", "GET", "/api/v1/auth/me",
	                             NULL), 401);
	ck_assert_int_eq(with_cookie(jar, csrf, bearer, "GET", "/api/v1/auth/me", NULL), 200);
	ck_assert_str_eq(reply_str("credential"), "api_token");

	/* Logout by cookie: CSRF-checked like any write; clears both cookies; the cookie
	 * stops working, the other login does not. */
	ck_assert_int_eq(with_cookie(jar, NULL, NULL, "POST", "/api/v1/auth/logout", NULL), 403);
	expect_error(403, "csrf_failed", NULL);
	ck_assert_int_eq(with_cookie(jar, csrf, NULL, "POST", "/api/v1/auth/logout", NULL), 204);
	ck_assert_ptr_nonnull(set_cookie("kaiden_session", session, sizeof(session)));
	/* (No scheme or Host given: Secure, failing safe.) */
	ck_assert_str_eq(session, "kaiden_session=; Path=/api/; HttpOnly; SameSite=Strict; "
	                          "Max-Age=0; Secure");
	ck_assert_ptr_nonnull(set_cookie("kaiden_csrf", csrf_line, sizeof(csrf_line)));
	ck_assert_str_eq(csrf_line, "kaiden_csrf=; Path=/; SameSite=Strict; Max-Age=0; Secure");
	ck_assert_int_eq(with_cookie(jar, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 401);
	expect_error(401, "unauthorized", NULL);
	ck_assert_int_eq(with_cookie(other_jar, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 200);
	/* A Bearer logout clears them too (the browser may hold them). */
	ck_assert_int_eq(as(admin, "POST", "/api/v1/auth/logout", NULL), 204);
	ck_assert_ptr_nonnull(set_cookie("kaiden_session", session, sizeof(session)));
	ck_assert_ptr_nonnull(strstr(session, "Max-Age=0"));
	/* An API token never logs out, and never gets cookies. */
	ck_assert_int_eq(call("POST", "/api/v1/auth/logout", NULL), 400);
	ck_assert_ptr_null(strstr(rs.headers.data, "Set-Cookie"));
	ck_assert_int_eq(as(admin, "GET", "/api/v1/auth/me", NULL), 401);
}
END_TEST

START_TEST(test_login_cookie_malformed)
{
	char session[JWT_MAX_LEN + 200], csrf_line[256], jwt[JWT_MAX_LEN], cookie[12000];
	char *big;

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	login_cookies("http", "127.0.0.1", "admin@example.com", session, csrf_line,
	              sizeof(session));
	cookie_value(session, jwt, sizeof(jwt));

	/* What browsers send is fine: blanks around ';', a trailing ';', a quoted value. */
	static const char *const good[] = { "kaiden_session=%s", "a=b; kaiden_session=%s",
		"kaiden_session=%s;", "a=\"b\" ;  kaiden_session=%s ; c=", "kaiden_session=\"%s\"" };
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(cookie, sizeof(cookie), good[i], jwt);
		ck_assert_msg(with_cookie(cookie, NULL, NULL, "GET", "/api/v1/auth/me", NULL) == 200,
		              "%s", good[i]);
	}
	/* Anything else is no cookie at all: 401, never a crash. */
	static const char *const bad[] = { "kaiden_session", "kaiden_session=", "=%s",
		"kaiden_session=%s; kaiden_session=%s", "kaiden_session=%s;;a=b",
		"kaiden_session=%s, a=b", "kaiden_session=%s a=b", "kaiden_session=\"%s",
		"kaiden_session=%s\001", "a b=c; kaiden_session=%s", "kaiden_session=x%s",
		"Kaiden_Session=%s", "kaiden_session=%s\"", "a=\\; kaiden_session=%s",
		"kaiden_session=kdn_0190a0b0-c0d0-7e0f-8000-000000000001_abc", ";", "" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(cookie, sizeof(cookie), bad[i], jwt, jwt);
#pragma GCC diagnostic pop
		ck_assert_msg(with_cookie(cookie, NULL, NULL, "GET", "/api/v1/auth/me", NULL) == 401,
		              "%s", bad[i]);
		expect_error(401, "unauthorized", NULL);
	}
	/* The service's API token as a cookie is no credential either. */
	snprintf(cookie, sizeof(cookie), "kaiden_session=%s", token);
	ck_assert_int_eq(with_cookie(cookie, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 401);
	/* Over REQ_COOKIE_MAX: ignored whole, even with the cookie at its start. */
	big = malloc(REQ_COOKIE_MAX + 100);
	ck_assert_ptr_nonnull(big);
	int n = snprintf(big, REQ_COOKIE_MAX + 100, "kaiden_session=%s; pad=", jwt);
	memset(big + n, 'p', REQ_COOKIE_MAX + 100 - (size_t)n - 1);
	big[REQ_COOKIE_MAX + 99] = '\0';
	ck_assert_int_eq(with_cookie(big, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 401);
	/* A value longer than any login token. */
	memset(big, 'a', REQ_COOKIE_MAX);
	memcpy(big, "kaiden_session=", 15);
	big[REQ_COOKIE_MAX] = '\0';
	ck_assert_int_eq(with_cookie(big, NULL, NULL, "GET", "/api/v1/auth/me", NULL), 401);
	free(big);
}
END_TEST

/* An admin's archive is read, up to server.max_import: past server.max_body. */
START_TEST(test_import_body_read_for_admin)
{
	char admin[JWT_MAX_LEN + 16];
	struct call c = { .method = "POST", .path = "/api/v1/tenant/import",
	                  .content_type = "application/json", .stream_bytes = 70000,
	                  .content_length = 70000 };

	make_user(NULL, "admin@example.com", ROLE_ADMIN, NULL);
	ck_assert_int_eq(login("admin@example.com", PASSWORD, admin, sizeof(admin)), 200);
	c.authorization = admin;
	ck_assert_int_eq(run(&c), 400);
	expect_error(400, "invalid_json", NULL);
	ck_assert_int_eq(body_read, 70000);
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60); /* argon2id per device made */
	tcase_add_test(tc, test_route_table);
	tcase_add_test(tc, test_permission_table_documented);
	tcase_add_test(tc, test_healthz);
	tcase_add_test(tc, test_unknown_paths);
	tcase_add_test(tc, test_malformed_ids);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_head_everywhere_get_is);
	tcase_add_test(tc, test_unauthorized);
	tcase_add_test(tc, test_tenant_isolation);
	tcase_add_test(tc, test_payload_too_large);
	tcase_add_test(tc, test_body_read_after_auth);
	tcase_add_test(tc, test_content_types);
	tcase_add_test(tc, test_json_beyond_json);
	tcase_add_test(tc, test_device_create);
	tcase_add_test(tc, test_device_create_errors);
	tcase_add_test(tc, test_device_names_verbatim);
	tcase_add_test(tc, test_device_list_pagination);
	tcase_add_test(tc, test_list_bad_queries);
	tcase_add_test(tc, test_device_delete);
	tcase_add_test(tc, test_session_create);
	tcase_add_test(tc, test_session_create_errors);
	tcase_add_test(tc, test_session_ticket);
	tcase_add_test(tc, test_session_list);
	tcase_add_test(tc, test_session_patch);
	tcase_add_test(tc, test_session_delete);
	tcase_add_test(tc, test_relay_session_replies);
	tcase_add_test(tc, test_relay_connect_server);
	tcase_add_test(tc, test_usage_relay_bytes);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_internal_error);
	tcase_add_test(tc, test_no_database);
	suite_add_tcase(s, tc);

	TCase *acc = tcase_create("accounts");
	tcase_add_checked_fixture(acc, accounts_setup, teardown);
	tcase_set_timeout(acc, 120); /* argon2id per user and login */
	tcase_add_test(acc, test_login_me_logout);
	tcase_add_test(acc, test_login_unavailable);
	tcase_add_test(acc, test_login_throttle);
	tcase_add_test(acc, test_login_lock_is_the_accounts);
	tcase_add_test(acc, test_staff_email_reserved);
	tcase_add_test(acc, test_api_tokens);
	tcase_add_test(acc, test_permissions);
	tcase_add_test(acc, test_relay_connect_visibility);
	tcase_add_test(acc, test_users_in_tenant);
	tcase_add_test(acc, test_multi_mode);
	tcase_add_test(acc, test_tenant_header_ignored_in_single_mode);
	tcase_add_test(acc, test_import_body_read_for_admin);
	tcase_add_test(acc, test_login_cookie_attributes);
	tcase_add_test(acc, test_login_cookie_csrf);
	tcase_add_test(acc, test_login_cookie_malformed);
	suite_add_tcase(s, acc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
