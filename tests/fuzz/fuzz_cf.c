/* fuzz_cf.c: how helperd judges a Cloudflare API reply (helperd/cf.c: the envelope's
 * success, errors and error_chain, result, a list's result_info and paging) for a call
 * and for a paged list. The HTTP layer (helperd/http.h) is replaced by the stand-ins
 * below, so the replies come from the input instead of the network: cf.c runs unchanged
 * on its libuv loop.
 *
 * The input is "<kind byte><per_page byte>" then up to FUZZ_MAX_PARTS replies separated
 * by FUZZ_SEP, each "<HTTP status>\n<body>" (status 0: a transport error; no status
 * line: 200). kind % 4: GET call, DELETE call, POST call, list (per_page 1..8). When the
 * client asks for more replies than the input has, the call is cancelled.
 *
 * Beyond "no crash, no leak": the callback runs at most once, with a known status and a
 * terminated message, and a list's result is an array. Each input gets a fresh client
 * (cf_init .. cf_shutdown), so a 429's pause does not carry over. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "cf.h"
#include "fuzz.h"
#include "http.h"
#include "helperd.h"

/* ---- stand-ins for http.h: one request in flight at a time --------------------------- */
static struct {
	int pending;
	http_done_fn done;
	void *arg;
} H;
static char dummy_call; /* the handle http_request hands out */

int http_init(uv_loop_t *loop)
{
	(void)loop;
	memset(&H, 0, sizeof(H));
	return 0;
}
void http_shutdown(void)
{
	memset(&H, 0, sizeof(H));
}
struct http_call *http_request(const struct http_request *req, http_done_fn done, void *arg)
{
	if (H.pending || !req->method || !req->url)
		abort(); /* cf.c sends one call at a time here */
	H.pending = 1;
	H.done = done;
	H.arg = arg;
	return (struct http_call *)&dummy_call;
}
void http_cancel(struct http_call *call)
{
	if (call != (struct http_call *)&dummy_call || !H.pending)
		abort();
	H.pending = 0;
}
int http_running(void)
{
	return H.pending;
}

/* The real metrics registry (helperd/metrics.c) counts the calls; its listener, never
 * started here, refers to the program's one instance, which main.c defines. */
struct helperd helperd;

/* ---- the harness ---------------------------------------------------------------------- */
static uv_loop_t loop;
static int loop_ready;

struct outcome {
	int calls;
	int is_list;
};

static void done_cb(void *arg, const struct cf_result *r)
{
	struct outcome *o = arg;

	o->calls++;
	if (o->calls > 1 || (r->status != CF_OK && r->status != CF_FAILED &&
	                     r->status != CF_TRANSIENT) ||
	    !memchr(r->message, '\0', sizeof(r->message))) {
		fprintf(stderr, "fuzz_cf: callback %d, status %d\n", o->calls, (int)r->status);
		abort();
	}
	if (r->status == CF_OK && o->is_list && !json_object_is_type(r->result, json_type_array)) {
		fprintf(stderr, "fuzz_cf: a list's result is not an array\n");
		abort();
	}
	if (r->result)
		(void)json_object_to_json_string(r->result);
}

/* Hands one reply ("<status>\n<body>") to the request in flight. */
static void reply(char *part, size_t len)
{
	struct http_response resp;
	http_done_fn done = H.done;
	void *arg = H.arg;
	char *body = part, *nl = memchr(part, '\n', len);
	long status = 200;

	if (nl) {
		char *end;
		long s = strtol(part, &end, 10);
		if (end == nl && s >= 0 && s < 1000) {
			status = s;
			body = nl + 1;
		}
	}
	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.body = status ? body : "";
	resp.body_len = status ? len - (size_t)(body - part) : 0;
	resp.retry_after = -1;
	resp.transport_error = status ? 0 : 7; /* CURLE_COULDNT_CONNECT */
	resp.error = status ? "" : "could not connect";
	H.pending = 0;
	done(arg, &resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_config cfg = { 0 };
	struct fuzz_parts p;
	struct outcome o = { 0, 0 };
	struct cf_call *call = NULL;
	size_t next = 0;
	int kind, per_page;

	fuzz_quiet("fuzz_cf");
	if (size < 2)
		return 0;
	if (!loop_ready) {
		if (uv_loop_init(&loop) != 0)
			abort();
		loop_ready = 1;
	}
	kind = data[0] % 4;
	per_page = data[1] % 8 + 1;
	if (fuzz_parts_split(data + 2, size - 2, FUZZ_MAX_PARTS, &p) != 0)
		return 0;

	cfg.api_base = "https://api.cloudflare.invalid/client/v4/";
	cfg.api_token = "fuzz-token";
	cfg.budget = 1000;
	cfg.max_attempts = 1; /* a retry would only wait for a backoff timer */
	if (cf_init(&loop, &cfg) != 0)
		abort();
	switch (kind) {
	case 0:
		call = cf_call("GET", "/zones/z/dns_records/r", NULL, done_cb, &o);
		break;
	case 1:
		call = cf_call("DELETE", "/accounts/a/cfd_tunnel/t", NULL, done_cb, &o);
		break;
	case 2:
		call = cf_call("POST", "/accounts/a/access/apps", json_object_new_object(), done_cb,
		               &o);
		break;
	default:
		o.is_list = 1;
		call = cf_list("/accounts/a/cfd_tunnel?is_deleted=false", per_page, done_cb, &o);
		break;
	}
	if (!call)
		abort();

	/* Run the loop; answer each request with the next reply; stop when the call is done
	 * or the replies run out. */
	for (int spins = 0; o.calls == 0; spins++) {
		if (H.pending) {
			if (next == p.n) {
				cf_cancel(call);
				break;
			}
			reply(p.part[next], p.len[next]);
			next++;
			continue;
		}
		if (spins > 100000)
			abort(); /* neither a request nor a callback: the client is stuck */
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	cf_shutdown();
	uv_run(&loop, UV_RUN_DEFAULT); /* lets libuv close the client's timer */
	fuzz_parts_free(&p);
	return 0;
}
