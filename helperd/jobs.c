/* jobs.c: the outbox consumer.
 *
 * When it claims:
 *   - at start, right after putting back in the queue the jobs this instance's previous
 *     run left running (store_jobs_requeue), so a restarted helperd resumes its own work
 *     at once instead of waiting for the leases to run out;
 *   - on jobs_kick (pgwatch's NOTIFY or data_version change, a finished job, a freed
 *     slot), coalesced: any number of kicks before the loop comes round is one claim;
 *   - every PERIODIC_MS anyway, and when the earliest retry delay given to jobs_finish
 *     is due, because a lost wake-up must cost latency, never work.
 * Jobs whose lease ran out elsewhere are reclaimed by the claim itself
 * (store_jobs_claim takes running jobs with an expired lease), and so, at once, are the
 * running jobs of a helperd known dead: one whose heartbeat row (status.c, written
 * before jobs_init claims anything) is three beats old, so a SIGKILLed helperd's jobs
 * resume elsewhere within about 15 s, not LEASE_SECONDS (issue 15; common/store_job.c).
 * A helperd that was only late (its loop stalled past three beats) may find a job of
 * its own taken over that way: its renewal and finish are refused (the holder only), and
 * a step that must not run beside the new holder's (a start's compensation, which tears
 * down what that holder may be bringing up) asks jobs_still_held first.
 *
 * A session's job is claimed only here if this helperd holds its device's agent, or if
 * no live helperd does and the agent is not expected back (store_jobs_claim, with
 * session.ready_timeout as that wait); a start waiting for its agent is claimed when the
 * agent's hello makes this helperd its holder: the hub kicks (jobs_kick) at each hello.
 *
 * A claimed job is leased for LEASE_SECONDS and renewed every RENEW_MS while it runs
 * here. It is handed, by kind, to session_job_start, webhook_job_start or
 * service_job_start (service.install|upgrade|rollback|uninstall), which call
 * jobs_finish when it ends, maybe before they return: the job is in the running table
 * before the call.
 * At most MAX_RUNNING jobs run at once; the rest wait in the table.
 *
 * A finish the database does not take (PostgreSQL restarting) is kept here and written
 * again every PENDING_RETRY_MS until it is taken, so the job is queued again, or done,
 * as soon as the database is back, rather than when its lease runs out. */
#include "jobs.h"

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "helperd.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "session.h"
#include "store.h"
#include "webhook.h"

#define LEASE_SECONDS 120
#define RENEW_MS 30000
#define PERIODIC_MS 10000
#define MAX_RUNNING 64
#define CLAIM_BATCH 16
#define PENDING_RETRY_MS 1000

struct pending_finish {
	char id[UUID_STR_LEN];
	char state[16];
	char error[1024];
	int has_error;
	int retry_seconds;
};

struct running_job {
	char id[UUID_STR_LEN];
	char kind[32];
	int64_t started_ms;
};

static struct {
	int initialised;
	struct running_job running[MAX_RUNNING];
	int nrunning;
	uv_timer_t kick_timer, periodic_timer, renew_timer, retry_timer, pending_timer;
	struct pending_finish pending[MAX_RUNNING];
	int npending;
	int kick_pending;
	int64_t retry_due_ms; /* 0: none armed */
	int db_suspect;       /* the last claim failed: ping (reconnect) before the next */
} J;

static void running_gauge(void)
{
	metrics_set("kaiden_jobs_running", NULL, J.nrunning);
}

static int running_find(const char *id)
{
	for (int i = 0; i < J.nrunning; i++)
		if (strcmp(J.running[i].id, id) == 0)
			return i;
	return -1;
}

/* To the module that runs jobs of this kind. */
static void job_start(const struct store_job *job)
{
	enum service_job_kind op;
	enum seam_job kind;

	if (seam_job_parse(job->kind, &kind) == 0 && kind == SEAM_JOB_WEBHOOK_DELIVER)
		webhook_job_start(job);
	else if (service_job_parse(job->kind, &op) == 0)
		service_job_start(job->id, op, job->tenant_id, job->service_id, job->op_seq,
		                  job->attempts);
	else
		session_job_start(job);
}

static void claim(void)
{
	struct store_job batch[CLAIM_BATCH];
	int n, want, rc;

	if (helperd.stopping)
		return;
	if (J.db_suspect && db_ping(helperd.db) != 0)
		return; /* still down: the periodic timer tries again */
	J.db_suspect = 0;
	for (;;) {
		want = MAX_RUNNING - J.nrunning;
		if (want <= 0)
			return;
		if (want > CLAIM_BATCH)
			want = CLAIM_BATCH;
		n = 0;
		rc = store_jobs_claim(helperd.db, helperd.instance, LEASE_SECONDS,
		                      (int)cfg_int(CFG_SESSION_READY_TIMEOUT), want, batch, &n);
		if (rc != STORE_OK) {
			log_warn("worker=%s job claim failed: will retry", helperd.instance);
			J.db_suspect = 1;
			return;
		}
		for (int i = 0; i < n; i++) {
			struct running_job *r = &J.running[J.nrunning++];
			snprintf(r->id, sizeof(r->id), "%s", batch[i].id);
			snprintf(r->kind, sizeof(r->kind), "%s", batch[i].kind);
			r->started_ms = ids_now_ms();
			metrics_inc("kaiden_jobs_claimed_total", NULL, 1);
			log_info("job=%s kind=%s %s=%s attempt=%d claimed", batch[i].id,
			         batch[i].kind, batch[i].service_id[0] ? "service" : "session",
			         batch[i].service_id[0] ? batch[i].service_id
			         : batch[i].session_id[0] ? batch[i].session_id : "-",
			         batch[i].attempts);
		}
		running_gauge();
		/* Handed over only once all are in the table: a job that finishes inside
		 * job_start finds itself there. */
		for (int i = 0; i < n && !helperd.stopping; i++)
			job_start(&batch[i]);
		if (n < want)
			return;
	}
}

static void on_kick(uv_timer_t *t)
{
	(void)t;
	J.kick_pending = 0;
	claim();
}

static void on_periodic(uv_timer_t *t)
{
	(void)t;
	claim();
}

static void on_retry(uv_timer_t *t)
{
	(void)t;
	J.retry_due_ms = 0;
	claim();
}

static void on_renew(uv_timer_t *t)
{
	const char *ids[MAX_RUNNING];
	int renewed = 0;

	(void)t;
	if (J.nrunning == 0)
		return;
	for (int i = 0; i < J.nrunning; i++)
		ids[i] = J.running[i].id;
	if (store_jobs_renew(helperd.db, helperd.instance, ids, J.nrunning, LEASE_SECONDS,
	                     &renewed) != STORE_OK) {
		log_warn("worker=%s lease renewal of %d jobs failed", helperd.instance, J.nrunning);
		J.db_suspect = 1;
		return;
	}
	if (renewed < J.nrunning)
		log_warn("worker=%s renewed %d of %d leases: the others were taken over",
		         helperd.instance, renewed, J.nrunning);
}

void jobs_kick(void)
{
	if (!J.initialised || J.kick_pending || helperd.stopping)
		return;
	J.kick_pending = 1;
	uv_timer_start(&J.kick_timer, on_kick, 0, 0);
}

static void arm_retry(int seconds)
{
	int64_t due = ids_now_ms() + (int64_t)seconds * 1000;

	if (!J.initialised || helperd.stopping)
		return;
	if (J.retry_due_ms && J.retry_due_ms <= due)
		return;
	J.retry_due_ms = due;
	/* libuv counts a timer from the loop's time, taken when this turn of the loop began:
	 * after the blocking write of the finish it is behind run_after's clock by that long
	 * (seen at hundreds of ms under load), and the timer would fire before the job is
	 * due, leaving it to the periodic claim, 10 s later. */
	uv_update_time(helperd.loop);
	uv_timer_start(&J.retry_timer, on_retry, (uint64_t)seconds * 1000 + 50, 0);
}

/* Writes a finish. STORE_ERR: the database did not answer (the caller keeps it). */
static int record_finish(const char *job_id, const char *state, const char *error,
                         int retry_seconds)
{
	int rc = store_job_finish(helperd.db, job_id, helperd.instance, state, error, retry_seconds);

	if (rc == STORE_CONFLICT)
		log_warn("job=%s finish (%s) refused: this helperd no longer holds it (lease ran "
		         "out and it was reclaimed)", job_id, state);
	else if (rc == STORE_NOT_FOUND)
		log_warn("job=%s finish (%s): no such job", job_id, state);
	else if (rc != STORE_OK)
		return STORE_ERR;
	else if (strcmp(state, "queued") == 0)
		log_info("job=%s queued again in %d s%s%s", job_id, retry_seconds,
		         error ? ": " : "", error ? error : "");
	else
		log_info("job=%s %s%s%s", job_id, state, error ? ": " : "", error ? error : "");
	if (rc == STORE_OK && strcmp(state, "queued") == 0)
		arm_retry(retry_seconds);
	return rc;
}

static void on_pending(uv_timer_t *t)
{
	int done = 0;

	(void)t;
	if (db_ping(helperd.db) != 0)
		return; /* still down: the timer repeats */
	while (done < J.npending) {
		struct pending_finish *p = &J.pending[done];
		if (record_finish(p->id, p->state, p->has_error ? p->error : NULL,
		                  p->retry_seconds) == STORE_ERR)
			break;
		done++;
	}
	if (done == 0)
		return;
	log_info("worker=%s the database is back: %d kept job finishes recorded",
	         helperd.instance, done);
	memmove(J.pending, J.pending + done, (size_t)(J.npending - done) * sizeof(J.pending[0]));
	J.npending -= done;
	if (J.npending == 0)
		uv_timer_stop(&J.pending_timer);
	jobs_kick();
}

static void keep_pending(const char *job_id, const char *state, const char *error,
                         int retry_seconds)
{
	struct pending_finish *p;

	if (!J.initialised || J.npending == MAX_RUNNING) {
		/* The lease runs out and the job is claimed again; the session module resumes
		 * from the step it recorded. */
		log_error("job=%s finish (%s) could not be recorded: it will be run again after "
		          "its lease", job_id, state);
		return;
	}
	p = &J.pending[J.npending++];
	snprintf(p->id, sizeof(p->id), "%s", job_id);
	snprintf(p->state, sizeof(p->state), "%s", state);
	p->has_error = error != NULL;
	snprintf(p->error, sizeof(p->error), "%s", error ? error : "");
	p->retry_seconds = retry_seconds;
	log_warn("job=%s finish (%s) not taken by the database: kept, and written again once "
	         "it answers", job_id, state);
	J.db_suspect = 1;
	if (!uv_is_active((uv_handle_t *)&J.pending_timer))
		uv_timer_start(&J.pending_timer, on_pending, PENDING_RETRY_MS, PENDING_RETRY_MS);
}

void jobs_finish(const char *job_id, const char *state, const char *error, int retry_seconds)
{
	char labels[64];
	int i = job_id ? running_find(job_id) : -1;

	if (!job_id || !state) {
		log_error("jobs_finish without a job id or state");
		return;
	}
	/* A job queued again with no delay would be claimed straight back in a loop. */
	if (strcmp(state, "queued") == 0 && retry_seconds < 1)
		retry_seconds = 1;
	if (J.npending > 0 || record_finish(job_id, state, error, retry_seconds) == STORE_ERR)
		keep_pending(job_id, state, error, retry_seconds); /* in order, after the others */

	snprintf(labels, sizeof(labels), "state=\"%s\"", state);
	metrics_inc("kaiden_jobs_finished_total", labels, 1);
	if (i >= 0) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", J.running[i].kind);
		metrics_observe("kaiden_job_duration_seconds", labels,
		                (double)(ids_now_ms() - J.running[i].started_ms) / 1000.0);
		J.running[i] = J.running[--J.nrunning];
		running_gauge();
	} else {
		log_warn("job=%s finished but was not running here", job_id);
	}
	jobs_kick();
}

int jobs_still_held(const char *job_id)
{
	const char *ids[1] = { job_id };
	int renewed = 1, i;

	if (!job_id || !job_id[0] ||
	    store_jobs_renew(helperd.db, helperd.instance, ids, 1, LEASE_SECONDS, &renewed) !=
	            STORE_OK ||
	    renewed == 1)
		return 1;
	log_warn("job=%s was taken over by another helperd (this one was late): left to it",
	         job_id);
	i = running_find(job_id);
	if (i >= 0) {
		J.running[i] = J.running[--J.nrunning];
		running_gauge();
	}
	jobs_kick();
	return 0;
}

int jobs_running(void)
{
	return J.nrunning;
}

int jobs_init(void)
{
	long requeued = 0;

	memset(&J, 0, sizeof(J));
	metrics_describe("kaiden_jobs_running", METRICS_GAUGE, "jobs this helperd is running");
	metrics_describe("kaiden_jobs_claimed_total", METRICS_COUNTER, "jobs claimed");
	metrics_describe("kaiden_jobs_finished_total", METRICS_COUNTER,
	                 "jobs ended, by state (done, failed, queued again)");
	metrics_describe("kaiden_job_duration_seconds", METRICS_HISTOGRAM,
	                 "time from claim to finish, by kind");
	running_gauge();
	if (store_jobs_requeue(helperd.db, helperd.instance, &requeued) != STORE_OK) {
		log_error("worker=%s cannot requeue the jobs of a previous run", helperd.instance);
		return -1;
	}
	if (requeued > 0)
		log_info("worker=%s %ld jobs left running by a previous run queued again",
		         helperd.instance, requeued);
	uv_timer_init(helperd.loop, &J.kick_timer);
	uv_timer_init(helperd.loop, &J.periodic_timer);
	uv_timer_init(helperd.loop, &J.renew_timer);
	uv_timer_init(helperd.loop, &J.retry_timer);
	uv_timer_init(helperd.loop, &J.pending_timer);
	uv_timer_start(&J.periodic_timer, on_periodic, PERIODIC_MS, PERIODIC_MS);
	uv_timer_start(&J.renew_timer, on_renew, RENEW_MS, RENEW_MS);
	J.initialised = 1;
	jobs_kick();
	return 0;
}

void jobs_shutdown(void)
{
	if (!J.initialised)
		return;
	J.initialised = 0;
	/* Running jobs keep their leases: this instance requeues them when it starts again,
	 * and another helperd reclaims them once the leases run out. */
	if (J.nrunning)
		log_info("worker=%s stopping with %d jobs running (leased)", helperd.instance,
		         J.nrunning);
	if (J.npending)
		log_warn("worker=%s stopping with %d job finishes the database never took: those "
		         "jobs are queued again when this helperd starts (or their leases run out)",
		         helperd.instance, J.npending);
	uv_close((uv_handle_t *)&J.kick_timer, NULL);
	uv_close((uv_handle_t *)&J.periodic_timer, NULL);
	uv_close((uv_handle_t *)&J.renew_timer, NULL);
	uv_close((uv_handle_t *)&J.retry_timer, NULL);
	uv_close((uv_handle_t *)&J.pending_timer, NULL);
}
