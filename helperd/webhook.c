/* webhook.c: delivering a hook's events (webhook.h).
 *
 * One run per "webhook.deliver" job, a small state machine:
 *
 *   take ----(lease busy elsewhere)-----------------------> end: queued, retry BUSY_RETRY_S
 *     |  ----(hook disabled or deleted)--------------------> end: done
 *     |  ----(nothing pending)-----------------------------> end: done
 *     |  ----(the oldest pending is not due yet)-----------> end: queued until it is due
 *     v
 *   guard (url_guard_check on libuv's thread pool: getaddrinfo blocks)
 *     |  ----(refused)---> record failure
 *     v
 *   send (helperd/http.c: POST, pinned address, no redirects)
 *     |
 *     v
 *   record: 2xx -> delivered, back to take (the next one)
 *           else -> failed: end queued until the retry is due (the later deliveries wait
 *                   behind it: order), or done if this failure disabled the hook
 *
 * take reads the hook again each time (a PATCHed URL or secret counts from the next
 * attempt) and renews its lease; every end gives the lease back first. A database
 * failure ends the run queued (DB_RETRY_S): the job runs again, and the lease (held by
 * "<instance>/<job id>", which the same job takes again) cannot strand it.
 *
 * What a receiver gets: the event's body, byte for byte as stored; Content-Type
 * application/json; Kaiden-Signature (common/webhook_sign.h, t = the time of this
 * attempt); Kaiden-Event-Id; User-Agent Kaiden-Webhooks/1. Its answer's body is read
 * and thrown away. Nothing here logs the secret, the signature or the URL's path and
 * query (they may hold a receiver's token): the host only. */
#include "webhook.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "helperd.h"
#include "http.h"
#include "ids.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "store_webhook_delivery.h"
#include "url_guard.h"
#include "webhook_secret.h"
#include "webhook_sign.h"

#define BUSY_RETRY_S 2
#define DB_RETRY_S 5
#define LEASE_MARGIN_S 60   /* the hook's lease: one attempt's timeout plus this */

struct run {
	struct store_job job;
	char holder[STORE_WEBHOOK_HOLDER_MAX];
	struct store_webhook_work work;
	/* guard: filled on the thread pool, read on the loop once it is done */
	uv_work_t guard_req;
	int guard_flags;
	int guard_rc;
	char guard_why[URL_GUARD_WHY_MAX];
	struct url_guard_target target;
	int in_pool;        /* guard_req is queued or running */
	int abandoned;      /* shutdown while in_pool: free it when it comes back */
	struct http_call *call;
	int64_t sent_ms;
	struct run *prev, *next;
};

static struct {
	int initialised;
	struct run *runs;
	int nruns;
} W;

static void run_unlink(struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		W.runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	W.nruns--;
	metrics_set("kaiden_webhook_runs", NULL, W.nruns);
}

static void run_free(struct run *r)
{
	store_webhook_work_clear(&r->work);
	free(r);
}

/* Ends the run: the lease back, the job's end recorded, the run freed. */
static void run_end(struct run *r, const char *state, const char *error, int retry_seconds)
{
	if (store_webhook_release(helperd.db, r->job.webhook_id, r->holder) != STORE_OK)
		log_warn("webhook=%s job=%s the lease could not be given back (it runs out)",
		         r->job.webhook_id, r->job.id);
	jobs_finish(r->job.id, state, error, retry_seconds);
	run_unlink(r);
	run_free(r);
}

static void count(const char *result)
{
	char labels[48];

	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	metrics_inc("kaiden_webhook_deliveries_total", labels, 1);
}

static void step(struct run *r);

/* Records the attempt's result and moves on. */
static void recorded(struct run *r, int delivered, int status, const char *error, int ms,
                     const char *result)
{
	struct store_webhook_attempt a = { r->job.webhook_id, r->work.delivery_id, delivered,
		                           status, error, ms };
	struct store_webhook_policy p = { (int)cfg_int(CFG_WEBHOOKS_RETRY_BASE),
		                          (int)cfg_int(CFG_WEBHOOKS_RETRY_MAX),
		                          (int)cfg_int(CFG_WEBHOOKS_GIVE_UP) };
	struct store_webhook_outcome o;
	int rc;

	count(result);
	rc = store_webhook_record(helperd.db, r->holder, &a, &p, &o);
	if (rc == STORE_CONFLICT) {
		log_warn("webhook=%s job=%s delivery=%s the lease was taken over: stopping here",
		         r->job.webhook_id, r->job.id, r->work.delivery_id);
		jobs_finish(r->job.id, "done", "the hook's lease was taken over", 0);
		run_unlink(r);
		run_free(r);
		return;
	}
	if (rc != STORE_OK) {
		run_end(r, "queued", "the attempt could not be recorded", DB_RETRY_S);
		return;
	}
	if (delivered) {
		log_info("webhook=%s event=%s type=%s delivered (HTTP %d, %d ms, attempt %d)",
		         r->job.webhook_id, r->work.event_id, r->work.event_type, status, ms,
		         r->work.attempts + 1);
		step(r);
		return;
	}
	log_warn("webhook=%s event=%s host=%s attempt %d failed: %s; %s", r->job.webhook_id,
	         r->work.event_id, r->target.host[0] ? r->target.host : "-",
	         r->work.attempts + 1, error,
	         o.disabled ? "the hook has failed for too long: disabled" : "retrying later");
	if (o.disabled)
		run_end(r, "done", "the hook was disabled after failing for too long", 0);
	else
		run_end(r, "queued", "a delivery failed: retrying it first", o.retry_seconds);
}

static void on_answer(void *arg, const struct http_response *resp)
{
	struct run *r = arg;
	int ms = (int)(ids_now_ms() - r->sent_ms);
	char error[STORE_WEBHOOK_ERROR_MAX];

	r->call = NULL;
	metrics_observe("kaiden_webhook_attempt_seconds", NULL, (double)ms / 1000.0);
	if (resp->status >= 200 && resp->status <= 299) {
		recorded(r, 1, (int)resp->status, NULL, ms, "delivered");
		return;
	}
	if (resp->status >= 300 && resp->status <= 399)
		snprintf(error, sizeof(error), "HTTP %ld (redirects are not followed)", resp->status);
	else if (resp->status > 0)
		snprintf(error, sizeof(error), "HTTP %ld", resp->status);
	else
		snprintf(error, sizeof(error), "%s", resp->error[0] ? resp->error : "no answer");
	recorded(r, 0, (int)resp->status, error, ms, resp->status > 0 ? "http_error" : "error");
}

/* The attempt itself, to the address the guard checked. */
static void send_attempt(struct run *r)
{
	char secret[WEBHOOK_SECRET_LEN], sig[WEBHOOK_SIG_HEADER_LEN];
	char sig_header[WEBHOOK_SIG_HEADER_LEN + 32], id_header[UUID_STR_LEN + 32];
	const char *headers[4];
	struct http_request req;
	int allow_http = cfg_int(CFG_WEBHOOKS_ALLOW_LOOPBACK) != 0;

	if (webhook_secret_open(cfg_str(CFG_AUTH_JWT_SECRET), r->work.secret_sealed, secret) !=
	    0) {
		recorded(r, 0, 0,
		         "the signing secret cannot be opened (auth.jwt_secret changed?): rotate it",
		         0, "error");
		return;
	}
	if (webhook_sign_header(secret, (long long)time(NULL), r->work.body, r->work.body_len,
	                        sig) != 0) {
		sodium_memzero(secret, sizeof(secret));
		recorded(r, 0, 0, "the delivery could not be signed", 0, "error");
		return;
	}
	sodium_memzero(secret, sizeof(secret));
	snprintf(sig_header, sizeof(sig_header), "Kaiden-Signature: %s", sig);
	snprintf(id_header, sizeof(id_header), "Kaiden-Event-Id: %s", r->work.event_id);
	headers[0] = "Content-Type: application/json";
	headers[1] = sig_header;
	headers[2] = id_header;
	headers[3] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = r->target.url;
	req.headers = headers;
	req.body = r->work.body;
	req.body_len = r->work.body_len;
	req.timeout_ms = cfg_int(CFG_WEBHOOKS_TIMEOUT) * 1000L;
	req.resolve = r->target.resolve;
	req.protocols = allow_http ? "http,https" : "https";
	req.user_agent = "Kaiden-Webhooks/1";
	req.discard_body = 1;
	r->sent_ms = ids_now_ms();
	r->call = http_request(&req, on_answer, r);
	sodium_memzero(sig_header, sizeof(sig_header));
	if (!r->call)
		recorded(r, 0, 0, "the request could not be started", 0, "error");
}

static void guard_run(uv_work_t *req)
{
	struct run *r = req->data;

	r->guard_rc = url_guard_check(r->work.url, r->guard_flags, &r->target, r->guard_why);
}

static void guard_done(uv_work_t *req, int status)
{
	struct run *r = req->data;

	r->in_pool = 0;
	if (r->abandoned) {
		run_free(r);
		return;
	}
	if (status != 0) {
		recorded(r, 0, 0, "the address check was cancelled", 0, "error");
		return;
	}
	if (r->guard_rc != URL_GUARD_OK) {
		char error[URL_GUARD_WHY_MAX + 32];
		snprintf(error, sizeof(error), "target refused: %s", r->guard_why);
		recorded(r, 0, 0, error, 0, "refused");
		return;
	}
	send_attempt(r);
}

/* Takes the hook (again) and starts on its oldest pending delivery, or ends the run. */
static void step(struct run *r)
{
	enum store_webhook_state state;
	int lease = (int)cfg_int(CFG_WEBHOOKS_TIMEOUT) + LEASE_MARGIN_S;
	int64_t wait_ms;
	int rc;

	if (helperd.stopping) {
		/* The job keeps its lease: it runs again after the restart. */
		run_unlink(r);
		run_free(r);
		return;
	}
	store_webhook_work_clear(&r->work);
	memset(&r->target, 0, sizeof(r->target));
	rc = store_webhook_take(helperd.db, r->job.webhook_id, r->holder, lease, &state, &r->work);
	if (rc == STORE_NOT_FOUND) {
		run_end(r, "failed", "the job names no webhook", 0);
		return;
	}
	if (rc != STORE_OK) {
		run_end(r, "queued", "the hook could not be read", DB_RETRY_S);
		return;
	}
	switch (state) {
	case STORE_WEBHOOK_BUSY:
		run_end(r, "queued", "another run holds the hook", BUSY_RETRY_S);
		return;
	case STORE_WEBHOOK_DISABLED:
		run_end(r, "done", "the hook is disabled", 0);
		return;
	case STORE_WEBHOOK_GONE:
		run_end(r, "done", "the hook was deleted", 0);
		return;
	case STORE_WEBHOOK_READY:
		break;
	}
	if (!r->work.has_delivery) {
		run_end(r, "done", NULL, 0);
		return;
	}
	wait_ms = r->work.next_attempt_ms - ids_now_ms();
	if (wait_ms > 0) {
		run_end(r, "queued", "the oldest delivery's next attempt is not due",
		        (int)((wait_ms + 999) / 1000));
		return;
	}
	r->guard_flags = cfg_int(CFG_WEBHOOKS_ALLOW_LOOPBACK) ? URL_GUARD_ALLOW_LOOPBACK : 0;
	r->guard_req.data = r;
	if (uv_queue_work(helperd.loop, &r->guard_req, guard_run, guard_done) != 0) {
		run_end(r, "queued", "the address check could not be started", DB_RETRY_S);
		return;
	}
	r->in_pool = 1;
}

void webhook_job_start(const struct store_job *job)
{
	struct run *r;

	if (!W.initialised || !job->webhook_id[0]) {
		log_error("job=%s webhook.deliver without a webhook (or before webhook_init)",
		          job->id);
		jobs_finish(job->id, "failed", "the job names no webhook", 0);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		jobs_finish(job->id, "queued", "out of memory", DB_RETRY_S);
		return;
	}
	r->job = *job;
	snprintf(r->holder, sizeof(r->holder), "%s/%s", helperd.instance, job->id);
	r->next = W.runs;
	if (W.runs)
		W.runs->prev = r;
	W.runs = r;
	W.nruns++;
	metrics_set("kaiden_webhook_runs", NULL, W.nruns);
	step(r);
}

int webhook_running(void)
{
	return W.nruns;
}

int webhook_init(void)
{
	memset(&W, 0, sizeof(W));
	if (http_init(helperd.loop) != 0)
		return -1;
	metrics_describe("kaiden_webhook_deliveries_total", METRICS_COUNTER,
	                 "webhook delivery attempts by result (delivered, http_error: a non-2xx "
	                 "answer, error: no answer, refused: the target failed the address "
	                 "check)");
	metrics_describe("kaiden_webhook_attempt_seconds", METRICS_HISTOGRAM,
	                 "time a webhook delivery attempt took, until the answer");
	metrics_describe("kaiden_webhook_runs", METRICS_GAUGE,
	                 "hooks this helperd is delivering to now");
	metrics_set("kaiden_webhook_runs", NULL, 0);
	W.initialised = 1;
	return 0;
}

void webhook_shutdown(void)
{
	if (!W.initialised)
		return;
	W.initialised = 0;
	while (W.runs) {
		struct run *r = W.runs;
		if (r->call)
			http_cancel(r->call);
		r->call = NULL;
		run_unlink(r);
		/* A guard check on the pool comes back through the loop, which is still
		 * running: guard_done frees it then. */
		if (r->in_pool)
			r->abandoned = 1;
		else
			run_free(r);
	}
	http_shutdown();
}
