/* http.h: asynchronous HTTP requests on helperd's libuv loop (libcurl multi, driven as in
 * curl's docs/examples/multi-uv.c; shared/ref/helperd-loop.md).
 *
 * One request: method, URL, headers, optional body, timeout. Its completion callback
 * runs later on the loop (never from inside http_request) with the status, the body
 * and the Retry-After header. Redirects are never followed (a 3xx is the answer). The
 * module logs nothing about a request's headers or
 * body: callers put secrets (a Bearer token) in headers and must keep them out of logs
 * themselves. Loop thread only. */
#ifndef KAIDEN_HTTP_H
#define KAIDEN_HTTP_H

#include <stddef.h>
#include <uv.h>
#include "compat.h"

/* Largest response body kept; a longer one fails the request (error "too_large"). */
#define HTTP_MAX_BODY (8u << 20)

struct http_request {
	const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;
	const char *const *headers;  /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;            /* may be NULL */
	size_t body_len;
	long timeout_ms;             /* whole request; 0: 30 s */
	/* For requests to a URL someone else chose (webhooks; common/url_guard.h): */
	const char *resolve;         /* "host:port:address" to connect to (CURLOPT_RESOLVE:
	                              * no name lookup of its own); NULL or "": none */
	const char *protocols;       /* CURLOPT_PROTOCOLS_STR; NULL: "http,https" */
	const char *user_agent;      /* NULL: "kaiden-helperd" */
	const char *ca_file;         /* CA bundle that verifies the server (CURLOPT_CAINFO);
	                              * NULL or "": the system's */
	int discard_body;            /* 1: the response body is read and thrown away (the
	                              * response's body is then ""), whatever its size */
};

struct http_response {
	long status;           /* HTTP status, 0 when the transfer failed */
	const char *body;      /* borrowed for the callback; NUL-terminated; "" if none */
	size_t body_len;
	int retry_after;       /* seconds from a Retry-After header, -1 if none */
	int transport_error;   /* 0, or a CURLcode */
	const char *error;     /* a short description when transport_error != 0, else "" */
	double seconds;        /* time the transfer took */
};

typedef void (*http_done_fn)(void *arg, const struct http_response *resp);

struct http_call;

/* Sets up the multi handle on loop (the first call; later ones count a user). 0 or -1. */
int http_init(uv_loop_t *loop) WUR;
/* One user less; the last one abandons requests still running (their callbacks are not
 * called) and frees everything once the loop has closed the handles. */
void http_shutdown(void);

/* Starts a request. The request's strings are copied. Returns a handle (valid until
 * the callback has run, or http_cancel), or NULL on a setup failure (logged; no
 * callback). */
struct http_call *http_request(const struct http_request *req, http_done_fn done, void *arg);
/* Stops a running request; its callback is not called. */
void http_cancel(struct http_call *call);
/* Requests running now. */
int http_running(void);

#endif
