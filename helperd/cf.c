/* cf.c: the Cloudflare API client (cf.h says what it promises).
 *
 * A call's life:
 *
 *   cf_call -> WAITING --(budget token, not paused, not_before passed)--> SENDING
 *   SENDING --reply--> judged: success / API refusal -> callback, freed
 *                     transient (transport, 5xx, 429) and attempts left
 *                        -> WAITING with not_before = now + backoff (>= Retry-After)
 *                     transient and no attempts left -> callback (CF_TRANSIENT)
 *
 * Every WAITING call sits in one FIFO queue, served by one uv timer ("pump"): it sends
 * the oldest calls whose not_before has passed while the token bucket has a token and
 * no 429 pause is running, and re-arms itself for the earliest moment anything can
 * move. Keeping backoff waits in the same queue (instead of a timer per call) means a
 * cancel frees a call at once and every wait respects the same budget.
 *
 * The bucket (common/cf_budget.h) holds at most ceil(budget / 4) tokens and refills the
 * rest of the budget per window: never more than `budget` calls in any span of one
 * window, wherever it starts (Cloudflare's own limit, 1200 per 5 minutes per token, is
 * counted in windows that are not ours). A bucket as big as the budget and refilled at
 * budget per window, as it was, let twice the budget through in one span: a full
 * bucket spent, then the refill. Its wait estimates use the same rates.
 *
 * Several helperds spend one account's budget (issue 15): with budget_take the bucket
 * that decides is the shared one (a database row), asked once per request as it is
 * about to be sent. Ours then mirrors it: each answer sets our tokens to the shared
 * count, so our wait estimates (the pump's wake-up, cf_call's refusal of a long wait)
 * use what every helperd has left, and a refusal makes the call wait, like an empty
 * bucket of our own, until the shared one has refilled a token. Another helperd may
 * take that token first: the call asks again, and one that has waited longer than
 * queue_max since it was queued is refused then, as it would have been at once had we
 * known (REFUSED below). */
#include "cf.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_budget.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#define LIST_MAX_PAGES 200

enum call_state { CALL_WAITING, CALL_SENDING };

struct cf_call {
	enum call_state state;
	char method[8];
	char *path;          /* without page params for a list */
	char *body;          /* serialised JSON, or NULL */
	size_t body_len;
	cf_done_fn done;
	void *arg;
	int attempts;
	int64_t not_before;  /* ms, monotonic */
	int waited_budget;   /* counted once in budget_waits */
	int64_t refuse_at;   /* ms, monotonic: still waiting for the budget then: refused */
	struct http_call *http;
	/* cf_list */
	int is_list, page, per_page;
	json_object *items;
	/* the one list of all calls (WAITING ones are the queue, in order) */
	struct cf_call *prev, *next;
};

static struct {
	int ready;
	uv_loop_t *loop;
	char *base;
	char *auth_header;  /* "Authorization: Bearer ..." (secret) */
	int budget;
	long window_ms;
	struct cf_bucket bucket;
	int64_t paused_until;
	/* When the last `budget` requests took their token (a ring, oldest at took_next when
	 * full): cf_budget_get counts those of the last window. */
	int64_t *took_at;
	int took_next;
	int max_attempts;
	long backoff_base, backoff_max, timeout_ms, queue_max;
	int (*budget_take)(void *arg, int budget, long window_ms, double *tokens);
	void *budget_arg;
	int64_t ask_after;  /* the shared budget could not be asked: not again before */
	uv_timer_t *pump; /* heap: it outlives cf_shutdown until libuv has closed it */
	struct cf_call *head, *tail;
	struct cf_stats stats;
} C;

static int64_t now_ms(void)
{
	return (int64_t)(uv_hrtime() / 1000000u);
}

static void call_link(struct cf_call *c)
{
	c->prev = C.tail;
	c->next = NULL;
	if (C.tail)
		C.tail->next = c;
	else
		C.head = c;
	C.tail = c;
}

static void call_unlink(struct cf_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		C.head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		C.tail = c->prev;
	c->prev = c->next = NULL;
}

static void call_free(struct cf_call *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->body);
	json_object_put(c->items);
	free(c);
}

static void refill(void)
{
	cf_bucket_fill(&C.bucket, C.budget, C.window_ms, now_ms());
}

/* Milliseconds until want tokens will have come in (held and refilled). */
static double wait_for_tokens(double want)
{
	return cf_bucket_wait_ms(&C.bucket, want, C.budget, C.window_ms);
}

static void took_one(void)
{
	C.took_at[C.took_next] = now_ms();
	C.took_next = (C.took_next + 1) % C.budget;
}

#define REFUSED INT64_MIN
/* After the shared budget could not be asked (the database), the next try. */
#define ASK_AGAIN_MS 1000

/* Takes a token for a request about to be sent: 1, or 0 when there is none now (then
 * C.bucket, or C.ask_after, says when to try again). Our own bucket alone, or the shared
 * one, whose answer ours mirrors. */
static int take_token(void)
{
	double shared = 0;
	int rc;

	if (!C.budget_take) {
		C.bucket.tokens -= 1.0;
		took_one();
		return 1;
	}
	rc = C.budget_take(C.budget_arg, C.budget, C.window_ms, &shared);
	if (rc < 0) {
		C.ask_after = now_ms() + ASK_AGAIN_MS;
		return 0;
	}
	C.bucket.tokens = shared < 0 ? 0 : shared;
	C.bucket.at_ms = now_ms();
	if (rc == 0) {
		C.stats.budget_refusals++;
		metrics_inc("kaiden_cf_shared_budget_waits_total", NULL, 1);
		return 0;
	}
	took_one();
	return 1;
}

static int waiting(void)
{
	int n = 0;

	for (struct cf_call *c = C.head; c; c = c->next)
		n += c->state == CALL_WAITING;
	return n;
}


static void pump_cb(uv_timer_t *t);
static int send_call(struct cf_call *c);

/* Hands the result to the caller and frees the call. */
static void finish(struct cf_call *c, struct cf_result *r)
{
	r->attempts = c->attempts;
	call_unlink(c);
	c->done(c->arg, r);
	call_free(c);
}

static void fail_now(struct cf_call *c, enum cf_status status, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static void fail_now(struct cf_call *c, enum cf_status status, const char *fmt, ...)
{
	struct cf_result r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.status = status;
	va_start(ap, fmt);
	vsnprintf(r.message, sizeof(r.message), fmt, ap);
	va_end(ap);
	finish(c, &r);
}

static void refuse(struct cf_call *c)
{
	metrics_inc("kaiden_cf_budget_refused_total", NULL, 1);
	log_warn("cf: %s %s: the API budget (%d calls per %.0f s) is spent; not queueing",
	         c->method, c->path, C.budget, C.window_ms / 1000.0);
	fail_now(c, CF_TRANSIENT, "the Cloudflare API budget (%d calls per %.0f s) is spent for now",
	         C.budget, C.window_ms / 1000.0);
}

/* Sends what may go now and arms the timer for the next moment something can. Runs
 * only from loop callbacks (never on a caller's stack), since it may call a callback;
 * after any callback it starts over, as the callback may have changed the queue. */
static void pump(void)
{
	int64_t now, wake;
	struct cf_call *c;
	int no_tokens;

	if (!C.ready)
		return;
again:
	refill();
	now = now_ms();
	wake = -1;
	no_tokens = 0;
	for (c = C.head; c; c = c->next) {
		if (c->state != CALL_WAITING)
			continue;
		if (c->not_before == REFUSED) {
			refuse(c);
			goto again;
		}
		if (c->not_before > now) {
			if (wake < 0 || c->not_before < wake)
				wake = c->not_before;
			continue;
		}
		if (C.paused_until > now) {
			if (wake < 0 || C.paused_until < wake)
				wake = C.paused_until;
			continue;
		}
		if (no_tokens || C.bucket.tokens < 1.0 || C.ask_after > now || !take_token()) {
			int64_t at = now + (int64_t)wait_for_tokens(1.0) + 1;
			if (C.ask_after > at)
				at = C.ask_after;
			if (c->refuse_at && c->refuse_at <= now) {
				refuse(c);
				goto again;
			}
			if (c->refuse_at && c->refuse_at < at)
				at = c->refuse_at;
			no_tokens = 1;
			if (!c->waited_budget) {
				c->waited_budget = 1;
				C.stats.budget_waits++;
			}
			if (wake < 0 || at < wake)
				wake = at;
			continue;
		}
		if (send_call(c) != 0) {
			fail_now(c, CF_TRANSIENT, "could not start an HTTP request");
			goto again;
		}
	}
	if (wake >= 0)
		uv_timer_start(C.pump, pump_cb, (uint64_t)(wake > now ? wake - now : 1), 0);
	else
		uv_timer_stop(C.pump);
	metrics_set("kaiden_cf_queue", NULL, (double)waiting());
}

static void pump_cb(uv_timer_t *t)
{
	(void)t;
	pump();
}

/* Runs the pump from the loop soon (for callers that must not get a callback now). */
static void pump_soon(void)
{
	uv_timer_start(C.pump, pump_cb, 0, 0);
}

/* Puts an admitted call (a retry, a list's next page) back in the queue. */
static void requeue(struct cf_call *c, int64_t not_before)
{
	int64_t now = now_ms();

	c->state = CALL_WAITING;
	c->not_before = not_before;
	c->refuse_at = (not_before > now ? not_before : now) + C.queue_max;
	pump();
}

static long backoff_ms(int attempt)
{
	long d = C.backoff_base;

	for (int i = 1; i < attempt && d < C.backoff_max; i++)
		d *= 2;
	if (d > C.backoff_max)
		d = C.backoff_max;
	/* Jitter: a random point in the upper half, so retries of many calls spread out. */
	return d / 2 + (long)randombytes_uniform((uint32_t)(d / 2 + 1));
}

static const char *first_error(json_object *env, int *code)
{
	json_object *errors, *e, *v;

	*code = 0;
	if (!json_object_object_get_ex(env, "errors", &errors) ||
	    !json_object_is_type(errors, json_type_array) || json_object_array_length(errors) == 0)
		return NULL;
	e = json_object_array_get_idx(errors, 0);
	if (json_object_object_get_ex(e, "code", &v))
		*code = json_object_get_int(v);
	/* A validation error's detail is in its error_chain: name the inner one. */
	if (json_object_object_get_ex(e, "error_chain", &v) &&
	    json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
		json_object *inner = json_object_array_get_idx(v, 0), *m;
		if (json_object_object_get_ex(inner, "message", &m))
			return json_object_get_string(m);
	}
	if (json_object_object_get_ex(e, "message", &v))
		return json_object_get_string(v);
	return NULL;
}

static void list_next_or_finish(struct cf_call *c, struct cf_result *r, json_object *env);

static void http_done(void *arg, const struct http_response *resp)
{
	struct cf_call *c = arg;
	struct cf_result r;
	json_object *env = NULL, *success = NULL;
	char labels[96];
	int transient = 0, retry_after = resp->retry_after;

	c->http = NULL;
	memset(&r, 0, sizeof(r));
	r.http_status = resp->status;
	if (resp->status)
		snprintf(labels, sizeof(labels), "method=\"%s\",status=\"%ld\"", c->method,
		         resp->status);
	else
		snprintf(labels, sizeof(labels), "method=\"%s\",status=\"error\"", c->method);
	metrics_inc("kaiden_cf_calls_total", labels, 1);
	snprintf(labels, sizeof(labels), "method=\"%s\"", c->method);
	metrics_observe("kaiden_cf_call_seconds", labels, resp->seconds);

	if (resp->status == 0) {
		transient = 1;
		snprintf(r.message, sizeof(r.message), "no reply from the Cloudflare API (%s)",
		         resp->error);
	} else {
		env = json_tokener_parse(resp->body);
		if (env && json_object_is_type(env, json_type_object))
			json_object_object_get_ex(env, "success", &success);
		if (resp->status == 429 || resp->status >= 500) {
			int code;
			const char *msg = env ? first_error(env, &code) : NULL;
			transient = 1;
			r.code = msg ? code : 0;
			snprintf(r.message, sizeof(r.message), "HTTP %ld%s%s", resp->status,
			         msg ? ": " : " (not a Cloudflare API reply)", msg ? msg : "");
			if (resp->status == 429) {
				C.stats.rate_limited++;
				/* The real limit blocks the whole token: hold every call. */
				if (retry_after < 0)
					retry_after = 1;
				if (now_ms() + retry_after * 1000L > C.paused_until)
					C.paused_until = now_ms() + retry_after * 1000L;
			}
		}
	}

	if (transient) {
		json_object_put(env);
		if (c->attempts < C.max_attempts) {
			long delay = backoff_ms(c->attempts);
			if (retry_after >= 0 && delay < retry_after * 1000L)
				delay = retry_after * 1000L;
			log_warn("cf: %s %s: %s; retry %d/%d in %.1f s", c->method, c->path, r.message,
			         c->attempts + 1, C.max_attempts, delay / 1000.0);
			C.stats.retries++;
			requeue(c, now_ms() + delay);
			return;
		}
		log_warn("cf: %s %s: %s; giving up after %d attempts", c->method, c->path,
		         r.message, c->attempts);
		r.status = CF_TRANSIENT;
		finish(c, &r);
		return;
	}

	if (resp->status == 404 && strcmp(c->method, "DELETE") == 0) {
		json_object_put(env);
		r.status = CF_OK;
		r.gone = 1;
		finish(c, &r);
		return;
	}
	if (!success || !json_object_is_type(success, json_type_boolean)) {
		r.status = CF_FAILED;
		snprintf(r.message, sizeof(r.message), "HTTP %ld with a reply that is not a "
		         "Cloudflare API envelope", resp->status);
		log_warn("cf: %s %s: %s", c->method, c->path, r.message);
		json_object_put(env);
		finish(c, &r);
		return;
	}
	if (!json_object_get_boolean(success)) {
		const char *msg = first_error(env, &r.code);
		r.status = CF_FAILED;
		snprintf(r.message, sizeof(r.message), "%s", msg ? msg : "no error message");
		if (r.code == 10000 || r.code == 9109 || r.code == 9106)
			log_error("cf: %s %s: HTTP %ld %d %s: the API token was refused (check "
			          "cloudflare.api_token and its permissions)",
			          c->method, c->path, resp->status, r.code, r.message);
		else
			log_info("cf: %s %s: HTTP %ld %d %s", c->method, c->path, resp->status, r.code,
			         r.message);
		json_object_put(env);
		finish(c, &r);
		return;
	}
	if (c->is_list) {
		list_next_or_finish(c, &r, env);
		return;
	}
	r.status = CF_OK;
	json_object_object_get_ex(env, "result", &r.result);
	finish(c, &r);
	json_object_put(env);
}

/* A list page arrived: keep its items; ask for the next page or report all of them.
 *
 * Cloudflare may serve fewer items than the per_page asked for (a list's own cap), so
 * a short page does not mean the last one. The last page is: an empty one; or, by
 * result_info, the one that brings the items to total_count, else the page numbered
 * total_pages, else one shorter than the per_page result_info says was used. A reply
 * without result_info is not paged: one page. */
static void list_next_or_finish(struct cf_call *c, struct cf_result *r, json_object *env)
{
	json_object *result = NULL, *info = NULL, *v;
	size_t n = 0;
	int last = 1;

	if (json_object_object_get_ex(env, "result", &result) &&
	    json_object_is_type(result, json_type_array)) {
		n = json_object_array_length(result);
		for (size_t i = 0; i < n; i++)
			json_object_array_add(c->items,
			                      json_object_get(json_object_array_get_idx(result, i)));
	}
	if (n > 0 && json_object_object_get_ex(env, "result_info", &info) &&
	    json_object_is_type(info, json_type_object)) {
		if (json_object_object_get_ex(info, "total_count", &v))
			last = json_object_array_length(c->items) >= (size_t)json_object_get_int64(v);
		else if (json_object_object_get_ex(info, "total_pages", &v))
			last = c->page >= json_object_get_int(v);
		else if (json_object_object_get_ex(info, "per_page", &v))
			last = (int64_t)n < json_object_get_int64(v);
		else
			last = 0; /* nothing to go by: the next page, until an empty one */
	}
	json_object_put(env);
	if (!last && c->page < LIST_MAX_PAGES) {
		c->page++;
		c->attempts = 0;
		c->waited_budget = 0;
		requeue(c, 0);
		return;
	}
	if (!last)
		log_warn("cf: %s %s: stopped at %d pages (%zu items) with more announced; the "
		         "rest is not listed this time",
		         c->method, c->path, LIST_MAX_PAGES, json_object_array_length(c->items));
	r->status = CF_OK;
	r->result = c->items;
	finish(c, r);
}

/* 0 when the request is on its way; -1 if it could not be started. */
static int send_call(struct cf_call *c)
{
	struct http_request req;
	const char *headers[4];
	char *url = NULL;
	int nh = 0, rc;

	c->state = CALL_SENDING;
	c->attempts++;
	C.stats.calls++;
	if (c->is_list)
		rc = asprintf(&url, "%s%s%cpage=%d&per_page=%d", C.base, c->path,
		              strchr(c->path, '?') ? '&' : '?', c->page, c->per_page);
	else
		rc = asprintf(&url, "%s%s", C.base, c->path);
	if (rc < 0)
		return -1;
	headers[nh++] = C.auth_header;
	headers[nh++] = "Accept: application/json";
	if (c->body)
		headers[nh++] = "Content-Type: application/json";
	headers[nh] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = c->method;
	req.url = url;
	req.headers = headers;
	req.body = c->body;
	req.body_len = c->body_len;
	req.timeout_ms = C.timeout_ms;
	c->http = http_request(&req, http_done, c);
	free(url);
	return c->http ? 0 : -1;
}

static struct cf_call *call_new(const char *method, const char *path, json_object *body,
                                cf_done_fn done, void *arg)
{
	struct cf_call *c;

	if (!C.ready || !method || !path || path[0] != '/' || !done ||
	    strlen(method) >= sizeof(c->method)) {
		log_error("cf: call before cf_init or with a bad method or path");
		json_object_put(body);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		json_object_put(body);
		return NULL;
	}
	snprintf(c->method, sizeof(c->method), "%s", method);
	c->path = strdup(path);
	c->done = done;
	c->arg = arg;
	if (body) {
		const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		c->body = text ? strdup(text) : NULL;
		c->body_len = c->body ? strlen(c->body) : 0;
		json_object_put(body);
		if (!c->body) {
			call_free(c);
			return NULL;
		}
	}
	if (!c->path) {
		call_free(c);
		return NULL;
	}
	return c;
}

/* Starting a call never runs its callback on the caller's stack: even a refusal (the
 * budget would make it wait longer than queue_max) is reported from the loop. */
struct cf_call *cf_call(const char *method, const char *path, json_object *body,
                        cf_done_fn done, void *arg)
{
	struct cf_call *c = call_new(method, path, body, done, arg);
	double wait_ms;

	if (!c)
		return NULL;
	refill();
	wait_ms = wait_for_tokens((double)waiting() + 1.0);
	if (C.paused_until - now_ms() > wait_ms)
		wait_ms = (double)(C.paused_until - now_ms());
	c->state = CALL_WAITING;
	c->not_before = wait_ms > (double)C.queue_max ? REFUSED : 0;
	c->refuse_at = now_ms() + C.queue_max;
	call_link(c);
	pump_soon();
	return c;
}

struct cf_call *cf_list(const char *path, int per_page, cf_done_fn done, void *arg)
{
	struct cf_call *c;

	c = cf_call("GET", path, NULL, done, arg);
	if (!c)
		return NULL;
	c->is_list = 1;
	c->page = 1;
	c->per_page = per_page > 0 ? per_page : 50;
	c->items = json_object_new_array();
	if (!c->items) {
		cf_cancel(c);
		return NULL;
	}
	return c;
}

void cf_cancel(struct cf_call *c)
{
	if (!c)
		return;
	if (c->state == CALL_SENDING)
		http_cancel(c->http);
	call_unlink(c);
	call_free(c);
}

char *cf_path(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc < 0 ? NULL : s;
}

char *cf_escape(const char *value)
{
	char *e = curl_easy_escape(NULL, value, 0), *out;

	if (!e)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

int cf_budget_get(int *used, int *budget, long *window_ms)
{
	int64_t since = now_ms() - C.window_ms;
	int n = 0;

	if (!C.ready)
		return -1;
	for (int i = 0; i < C.budget; i++)
		n += C.took_at[i] > since;
	*used = n;
	*budget = C.budget;
	*window_ms = C.window_ms;
	return 0;
}

void cf_stats_get(struct cf_stats *out)
{
	*out = C.stats;
	out->queued = 0;
	out->in_flight = 0;
	for (struct cf_call *c = C.head; c; c = c->next) {
		if (c->state == CALL_WAITING)
			out->queued++;
		else
			out->in_flight++;
	}
}

static void close_free(uv_handle_t *h)
{
	free(h);
}

int cf_init(uv_loop_t *loop, const struct cf_config *cfg)
{
	size_t blen;

	if (C.ready)
		return 0;
	if (!cfg || !cfg->api_base || !cfg->api_base[0] || !cfg->api_token ||
	    !cfg->api_token[0] || cfg->budget < CF_BUDGET_MIN) {
		log_error("cf: api_base, api_token and a budget of at least %d are required",
		          CF_BUDGET_MIN);
		return -1;
	}
	memset(&C, 0, sizeof(C));
	if (http_init(loop) != 0)
		return -1;
	C.loop = loop;
	C.base = strdup(cfg->api_base);
	if (asprintf(&C.auth_header, "Authorization: Bearer %s", cfg->api_token) < 0)
		C.auth_header = NULL;
	if (!C.base || !C.auth_header)
		goto fail;
	blen = strlen(C.base);
	while (blen && C.base[blen - 1] == '/')
		C.base[--blen] = '\0';
	C.budget = cfg->budget;
	C.window_ms = cfg->budget_window_ms > 0 ? cfg->budget_window_ms : 300000;
	cf_bucket_init(&C.bucket, C.budget, now_ms());
	C.took_at = malloc((size_t)C.budget * sizeof(*C.took_at));
	if (!C.took_at)
		goto fail;
	for (int i = 0; i < C.budget; i++)
		C.took_at[i] = INT64_MIN; /* none taken yet */
	C.max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 5;
	C.backoff_base = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 500;
	C.backoff_max = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 30000;
	if (C.backoff_max < C.backoff_base)
		C.backoff_max = C.backoff_base;
	C.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	C.queue_max = cfg->queue_max_ms > 0 ? cfg->queue_max_ms : 120000;
	C.budget_take = cfg->budget_take;
	C.budget_arg = cfg->budget_arg;
	if (sodium_init() < 0)
		goto fail;
	C.pump = malloc(sizeof(*C.pump));
	if (!C.pump || uv_timer_init(loop, C.pump) != 0) {
		free(C.pump);
		C.pump = NULL;
		goto fail;
	}
	C.ready = 1;
	metrics_describe("kaiden_cf_calls_total", METRICS_COUNTER,
	                 "Cloudflare API requests by method and HTTP status");
	metrics_describe("kaiden_cf_call_seconds", METRICS_HISTOGRAM,
	                 "Cloudflare API request durations");
	metrics_describe("kaiden_cf_queue", METRICS_GAUGE,
	                 "Cloudflare API calls waiting for the budget or a retry");
	metrics_describe("kaiden_cf_shared_budget_waits_total", METRICS_COUNTER,
	                 "Cloudflare API requests the shared budget (every helperd's) made wait");
	metrics_describe("kaiden_cf_budget_refused_total", METRICS_COUNTER,
	                 "Cloudflare API calls refused (as transient) because the budget is spent");
	return 0;
fail:
	free(C.took_at);
	free(C.base);
	if (C.auth_header) {
		sodium_memzero(C.auth_header, strlen(C.auth_header));
		free(C.auth_header);
	}
	memset(&C, 0, sizeof(C));
	http_shutdown();
	return -1;
}

void cf_shutdown(void)
{
	if (!C.ready)
		return;
	while (C.head)
		cf_cancel(C.head);
	uv_timer_stop(C.pump);
	uv_close((uv_handle_t *)C.pump, close_free);
	http_shutdown();
	free(C.took_at);
	free(C.base);
	sodium_memzero(C.auth_header, strlen(C.auth_header));
	free(C.auth_header);
	memset(&C, 0, sizeof(C));
}
