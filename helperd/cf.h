/* cf.h: the Cloudflare v4 API client (shared/ref/cloudflare-api.md), asynchronous on
 * helperd's loop through http.h.
 *
 * One cf_call is one logical API call. The client
 *   - sends `Authorization: Bearer <token>` and, with a body, `Content-Type:
 *     application/json` (the API refuses form-encoded bodies);
 *   - judges a reply by the envelope's `success`, not only by the HTTP status;
 *   - retries transport errors, 5xx and 429 with exponential backoff and jitter, waiting
 *     at least Retry-After (a 429 pauses every call, as the real limit blocks the whole
 *     token), up to max_attempts; then reports CF_TRANSIENT;
 *   - sends at most `budget` requests in any span of the budget window (5 minutes),
 *     wherever the span starts: a token bucket of a quarter of the budget, refilled at
 *     the rest per window (common/cf_budget.h); when it is spent, calls queue; a call that would wait longer than queue_max_ms is
 *     reported CF_TRANSIENT at once, so a caller can reschedule instead of holding on,
 *     and so is one that has waited for the budget longer than that after all (another
 *     helperd spent the shared budget first);
 *   - with budget_take, asks the account's budget (kept outside this process: helperd's
 *     database row, shared by every helperd) for each request before sending it, and
 *     keeps its own bucket as the mirror of that one;
 *   - treats 404 on DELETE as done (result.gone = 1);
 *   - never logs the API token, a request or response body, or a tunnel token (log
 *     lines carry the method, the path and Cloudflare's error code and message).
 * Loop thread only. */
#ifndef KAIDEN_CF_H
#define KAIDEN_CF_H

#include <json-c/json.h>
#include <uv.h>
#include "compat.h"

struct cf_config {
	const char *api_base;    /* e.g. https://api.cloudflare.com/client/v4 (copied) */
	const char *api_token;   /* secret (copied; wiped at cf_shutdown) */
	int budget;              /* calls per budget window, >= CF_BUDGET_MIN (cf_budget.h) */
	long budget_window_ms;   /* 0: 300000 (Cloudflare's 5 minutes; shorter in tests) */
	int max_attempts;        /* per call, including the first; 0: 5 */
	long backoff_base_ms;    /* first retry delay; 0: 500 */
	long backoff_max_ms;     /* cap of the exponential delay; 0: 30000 */
	long timeout_ms;         /* per HTTP request; 0: 30000 */
	long queue_max_ms;       /* longest wait for the budget; 0: 120000 */
	/* The account's budget kept elsewhere (helperd: a database row every helperd spends
	 * from, store_shared.h), or NULL: this client's own bucket only. Asked once before
	 * each request is sent, from the loop (never on a caller's stack): 1 took a token,
	 * 0 the budget is spent, with *tokens what the shared bucket holds now (the request
	 * waits until it has refilled one), -1 could not ask (logged by it; the request
	 * asks again a second later). */
	int (*budget_take)(void *arg, int budget, long window_ms, double *tokens);
	void *budget_arg;
};

enum cf_status {
	CF_OK,        /* success: true (or DELETE answered 404) */
	CF_FAILED,    /* Cloudflare said no: code and message say why; retrying won't help */
	CF_TRANSIENT  /* 5xx / 429 / transport after every attempt, or the budget is spent */
};

struct cf_result {
	enum cf_status status;
	long http_status;     /* last HTTP status, 0 after a transport error or no call */
	int code;             /* first error code from the envelope, 0 if none */
	char message[256];    /* first error message, or what went wrong on the way */
	json_object *result;  /* borrowed for the callback: the envelope's result (for
	                         cf_list: every page's items in one array), NULL on failure */
	int gone;             /* DELETE found nothing (404): counts as done */
	int attempts;         /* HTTP requests this call made */
};

typedef void (*cf_done_fn)(void *arg, const struct cf_result *res);

struct cf_call;

/* 0 or -1. Called again while initialised it keeps the running client and returns 0:
 * a test sets one up with quick retries and a small budget before session_init. */
int cf_init(uv_loop_t *loop, const struct cf_config *cfg) WUR;
/* Cancels every call (no callbacks) and wipes the token. */
void cf_shutdown(void);

/* Starts method on the API path (after the base URL, starting with '/'; the query may
 * be included), with body (taken; NULL for none). done runs later on the loop, exactly
 * once unless the call is cancelled. Returns NULL on a setup failure (logged; no
 * callback). */
struct cf_call *cf_call(const char *method, const char *path, json_object *body,
                        cf_done_fn done, void *arg);
/* GET every page of a list (page / per_page appended to path); done gets all items. */
struct cf_call *cf_list(const char *path, int per_page, cf_done_fn done, void *arg);
void cf_cancel(struct cf_call *call);

/* path: printf into an owned string (NULL when out of memory). */
char *cf_path(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* A query value, percent-encoded (owned). */
char *cf_escape(const char *value);

struct cf_stats {
	long calls;       /* HTTP requests sent */
	long retries;     /* of which retries */
	long rate_limited;/* 429 replies */
	long budget_waits;/* calls that had to wait for the budget */
	long budget_refusals; /* requests the shared budget (budget_take) turned down */
	int queued;       /* calls waiting now (budget or backoff) */
	int in_flight;    /* requests on the wire now */
};
void cf_stats_get(struct cf_stats *out);
/* The budget: the requests this client sent in the last window (each took a token of
 * the account's budget: the helperds' counts together are at most budget), the budget
 * and its window. 0, or -1 when there is no client (cf_init not called: no Cloudflare
 * settings). */
int cf_budget_get(int *used, int *budget, long *window_ms) WUR;

#endif
