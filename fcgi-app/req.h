/* req.h: one HTTP request as kaiden-api sees it, independent of FastCGI or CGI.
 *
 * main.c (the only file that knows libfcgi) fills it through req_init with a function
 * that looks up CGI parameters, then hands the body. Everything allocated for the
 * request hangs off it and is freed by req_clear. */
#ifndef KAIDEN_REQ_H
#define KAIDEN_REQ_H

#include <stddef.h>
#include "auth_cache.h"
#include "compat.h"
#include "store_auth.h"

struct db;

/* Where a request's body comes from. main.c points r->body_from at one (FastCGI's stdin
 * stream, or CGI's stdin); a request built without one (the unit tests) has its body
 * already in place through req_take_body. */
struct req_body_source {
	int (*read)(void *ctx, char *buf, int n); /* bytes read, 0 at the end or on error */
	void *ctx;
	int stream; /* 1: the body ends at EOF (FastCGI); 0: only CONTENT_LENGTH counts (CGI) */
};

enum http_method {
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS,
	HTTP_OTHER, HTTP__MAX
};

#define REQ_MAX_PARAMS 4
/* Longest Cookie header looked at (nginx's default large header buffer). */
#define REQ_COOKIE_MAX 8192

struct req {
	enum http_method method;
	char *method_name;   /* as received */
	char *path;          /* decoded path, without the query */
	char *query;         /* raw query string, "" if none */
	char *content_type;  /* "" if none */
	char *authorization; /* "" if none */
	char *remote_addr;   /* "" if none */
	char *host;          /* HTTP_HOST without the port, lower-cased; "" if none */
	char *origin;        /* "scheme://host[:port]" the caller reached us at (REQUEST_SCHEME
	                        or HTTPS=on, HTTP_HOST, and SERVER_PORT when the Host has no
	                        port and it is not the scheme's default), lower-cased; "" when
	                        the scheme or Host is missing or the Host is not a plain
	                        host[:port] */
	char *tenant_header; /* X-Kaiden-Tenant (staff naming the tenant they act in); "" */
	char *scheme;        /* "http" or "https" (REQUEST_SCHEME, or HTTPS=on), else "" */
	char *cookie;        /* the Cookie header (HTTP_COOKIE); "" if none or longer than
	                        REQ_COOKIE_MAX (an over-long header carries no cookie) */
	char *csrf_header;   /* X-Kaiden-CSRF (cookie.h), at most 64 bytes kept; "" */
	char *request_id;    /* X-Request-Id if given, else generated */
	long content_length; /* -1 if none or not a number */

	/* The body is read only when the route has let the caller through (route.c):
	 * nothing of it is in memory before the credential and role are checked. */
	const struct req_body_source *body_from; /* borrowed; NULL: nothing left to read */
	char *body;          /* NUL-terminated copy, NULL if none */
	size_t body_len;

	/* Filled by route_dispatch from the route's {placeholders}, in order. */
	const char *params[REQ_MAX_PARAMS];
	int nparams;

	/* Filled by auth (auth.h). */
	struct store_identity who;     /* the caller (role ROLE_NONE: not authenticated) */
	char tenant_id[UUID_STR_LEN];  /* the tenant the request acts in; "" for a staff
	                                  request at platform level */
	int login_credential;          /* 1: r->who came from a login token (not kdn_) */
	int by_cookie;                 /* 1: ... read from the kaiden_session cookie */

	struct db *db;       /* the worker's connection, borrowed */
	struct auth_cache *auth_cache; /* the worker's verified credentials (auth_cache.h),
	                                  borrowed; NULL: none kept */
	int cred_kept;       /* 1: r->who came from auth_cache, confirmed at the end */
	struct auth_cache_use cred_use; /* ... and what to confirm it with */
	char *scratch[8];    /* strings owned by the request (path params), freed at the end */
	int nscratch;
};

typedef const char *(*req_param_fn)(void *ctx, const char *name);

/* Reads REQUEST_METHOD, SCRIPT_NAME + PATH_INFO or DOCUMENT_URI/REQUEST_URI,
 * QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH, HTTP_AUTHORIZATION, REMOTE_ADDR,
 * HTTP_HOST, REQUEST_SCHEME, HTTPS, SERVER_PORT, HTTP_X_KAIDEN_TENANT, HTTP_COOKIE,
 * HTTP_X_KAIDEN_CSRF and HTTP_X_REQUEST_ID through param. 0, or -1 when out of memory. */
int req_init(struct req *r, req_param_fn param, void *ctx, struct db *db) WUR;
/* Takes ownership of body (malloc'd, NUL-terminated, len bytes before the NUL). */
void req_take_body(struct req *r, char *body, size_t len);

enum req_body_rc { REQ_BODY_OK, REQ_BODY_TOO_LARGE, REQ_BODY_NOMEM };
/* Reads the body from r->body_from into r->body, at most max bytes; afterwards there is
 * nothing left to read (body_from is NULL). REQ_BODY_TOO_LARGE when CONTENT_LENGTH says
 * more than max or more than max arrives: what did arrive is dropped, the rest is left
 * unread (the caller answers 413; libfcgi's close discards the rest). Without a source,
 * the body req_take_body put there is measured against max the same way. */
enum req_body_rc req_read_body(struct req *r, long max) WUR;
void req_clear(struct req *r);

/* The decoded value of query parameter name, copied into out (truncated to outlen-1);
 * returns out, or NULL when the parameter is absent. *too_long (may be NULL) is set when
 * the value did not fit. */
const char *req_query(const struct req *r, const char *name, char *out, size_t outlen,
                      int *too_long);

/* Typed query parameters (the first occurrence counts). Each returns 1 when the
 * parameter is present and valid (*out written), 0 when it is absent, -1 when it is
 * present but malformed (the caller answers 400 invalid_query naming it). */
/* A decimal integer, digits only, within [min, max]. */
int req_query_long(const struct req *r, const char *name, long min, long max,
                   long *out) WUR;
/* A canonical UUID, written in lower case. */
int req_query_uuid(const struct req *r, const char *name, char out[UUID_STR_LEN]) WUR;
/* One of choices (NULL-terminated); *out is the matching element of choices. */
int req_query_enum(const struct req *r, const char *name, const char *const *choices,
                   const char **out) WUR;
/* Free text: valid UTF-8, no control characters, at most outlen-1 bytes. An empty value
 * counts as absent. */
int req_query_text(const struct req *r, const char *name, char *out, size_t outlen) WUR;
/* An RFC 3339 date and time (ids_timestamp_parse), written in the stored form (UTC,
 * milliseconds). */
int req_query_time(const struct req *r, const char *name, char out[TIMESTAMP_LEN]) WUR;

struct store_page;
/* The list parameters limit (1..200, default 50) and cursor (a UUID; its lower-case form
 * is kept in cursor_buf, which page->cursor then points to). 0, or -1 with *bad_param
 * naming the malformed parameter. */
int req_page(const struct req *r, struct store_page *page, char cursor_buf[UUID_STR_LEN],
             const char **bad_param) WUR;
/* The period parameters since (inclusive) and until (exclusive), each RFC 3339
 * (req_query_time): the stored form is kept in since_buf / until_buf, which *since /
 * *until then point to (NULL where absent). 0, or -1 with *bad_param naming the
 * malformed parameter and *why saying what it must be. */
int req_query_period(const struct req *r, char since_buf[TIMESTAMP_LEN],
                     char until_buf[TIMESTAMP_LEN], const char **since, const char **until,
                     const char **bad_param, const char **why) WUR;

/* 1 if s is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
 * without control characters, else 0. */
int req_text_valid(const char *s);

/* Hands s (malloc'd) to the request, to be freed by req_clear. 0, or -1 (s is freed)
 * when the request already holds as many as it can. */
int req_keep(struct req *r, char *s) WUR;

enum http_method req_method_parse(const char *name);
const char *req_method_name(enum http_method m);

#endif
