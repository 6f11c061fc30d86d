/* service.c: a cloud service's operations, one machine per service while it has work in
 * flight (service.h). The row is the truth between steps and across restarts: there is
 * no step column, because `helm status` of the release says how far the last attempt
 * got (helm keeps the revisions in the cluster, as Secrets).
 *
 * Statuses (cloud_services.status) as the API and this file move them:
 *
 *   pending --install job--> deploying --pods ready--> running
 *                                      --helm failed, pods not ready in time--> failed
 *   running|failed --PATCH--> upgrading --...--> running | failed
 *   running|failed --rollback--> rolling_back --...--> running | failed
 *   any but deleting|deleted --DELETE--> deleting --uninstalled--> deleted
 *
 * A job runs only from the status its kind belongs to (service_job_current); any other
 * is stale (superseded by a DELETE before it was claimed) and is done at once. Every
 * write carries the op_seq read at the start: a DELETE that came meanwhile makes it
 * STORE_CONFLICT, and the machine stops there (the uninstall job, held back by the claim
 * while this one ran, then runs). The machine also re-reads the row before each step
 * and at each poll, so a DELETE stops a deploy that waits for its pods within 5 s. A
 * helm command under way is not killed: it is short (no --wait), and killing it would
 * leave the release's pending-* lock behind for the uninstall to trip over.
 *
 * The steps (install and upgrade; rollback skips namespace and quota and runs `helm
 * rollback N`):
 *
 *   status ----not found, or nothing newer than the row's revision---> namespace
 *          ----pending-install|upgrade|rollback (a lock)--> locked (service_lock_at):
 *              while the helm that holds it may still run (helm_run_orphan: the one an
 *              earlier helperd started still runs, or nothing is known) status again
 *              every POLL_MS, until it clears (then as above; a failed revision it made
 *              is this operation's end) or LOCK_GRACE past services.helm_timeout since
 *              helm's last_deployed; once that helm is known gone (looked at twice) or
 *              the time is past, the lock is stale:
 *                the job's first claim --> recover_history (helm history: the newest
 *                  deployed revision) --> recover (helm rollback to it, or uninstall an
 *                  install that never deployed) --> on as asked (rollback: helm)
 *                a later claim (resumed after a restart) --> failed, saying what
 *                  happened and that a change or a rollback undoes it
 *          ----a revision newer than the row's, not failed (a previous attempt of this
 *              very job ran helm before helperd stopped)--> poll
 *   namespace (k8s_api_create_namespace) --> rolebinding (k8s_api_bind_tenant_role:
 *       helperd's rights in the namespace, when k8s.service_account is set; skipped
 *       otherwise) --> quota (k8s_api_apply_quota) --> quota_wait
 *   quota_wait: the quota's status.hard filled (k8s_api_quota_counted; until then
 *               admission refuses what it tracks) --> helm; else again every
 *               QUOTA_POLL_MS, for QUOTA_WAIT_S, then the job is queued again
 *   helm (`upgrade --install` with the values on stdin) --ok--> poll
 *                                                       --failed--> history, failed
 *                                                                   (helm's Error line)
 *   poll: `helm status`, then the release's pods, at once and every POLL_MS:
 *         deployed and every pod ready --> history, running
 *         a pod stuck (ImagePullBackOff, ...) --> its reason in plain words in `error`,
 *                                                 and on polling
 *         not all ready --> poll_events: a quota refusal of the release's pods
 *                           (FailedCreate, k8s_api_quota_refusal) --> its words in
 *                           `error`; still there after services.quota_grace --> history,
 *                           failed with those words (no pod ever comes: why wait for
 *                           services.deploy_timeout)
 *         helm says failed --> history, failed;   services.deploy_timeout --> history,
 *                                                 failed ("3 of 4 pods ready after ...")
 *   history (`helm history -o json` into service_revisions) --> the end: finish
 *
 * Uninstall: `helm uninstall` (a release already gone is done) --> when the tenant has
 * no other service, the namespace deleted --> deleted. Each step is idempotent, so a
 * restart at any point runs it again. When it had others: deleted, then counted again
 * (namespace_delete_late): uninstalls of a tenant's last services run side by side, and
 * the last to report deletes the namespace.
 *
 * Failures: a Kubernetes call that is transient (transport, 429, 5xx, a namespace still
 * terminating), helm's "Kubernetes cluster unreachable" on its first look at the release,
 * or a database that does not answer puts the job back in the queue with a
 * growing delay (the machine is freed; the next claim starts again from the row and
 * `helm status`); anything else fails the service with a sentence. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "helperd.h"
#include "jobs.h"
#include "log.h"
#include "store.h"

#define POLL_MS 5000            /* seed NFR-1: status every 5 s */
#define LOCK_GRACE_S 60         /* a pending-* lock is waited out this long past helm's timeout */
#define RETRY_MIN_S 5
#define RETRY_MAX_S 120
#define QUOTA_POLL_MS 1000      /* the quota controller fills status.hard within a second */
#define QUOTA_WAIT_S 30         /* ... or the job is queued again */
#define EVENT_SKEW_S 60         /* quota refusals seen this long before the deploy began
                                 * count (the cluster's clock against ours) */

enum step {
	ST_STATUS,      /* helm status: where to resume */
	ST_LOCKED,      /* waiting out a pending-* lock */
	ST_NAMESPACE,
	ST_ROLEBINDING, /* helperd's RoleBinding in the namespace (k8s.service_account) */
	ST_QUOTA,
	ST_HELM,        /* upgrade --install | rollback | uninstall */
	ST_WAIT,        /* the poll timer */
	ST_POLL_STATUS,
	ST_POLL_PODS,
	ST_HISTORY,
	ST_NS_DELETE,
	ST_NS_DELETE_LATE, /* after the report: the tenant's last uninstalls raced */
	ST_QUOTA_WAIT,  /* the quota's status.hard filled? */
	ST_POLL_EVENTS, /* after the pods: a quota refusing them? */
	ST_RECOVER_HISTORY, /* a stale lock: helm history, for the revision to go back to */
	ST_RECOVER,     /* ... helm rollback to it (or uninstall the unfinished install) */
};

static const char *const step_names[] = {
	"status", "locked", "namespace", "rolebinding", "quota", "helm", "wait", "poll_status",
	"poll_pods", "history", "namespace_delete", "namespace_delete_late", "quota_wait",
	"poll_events", "recover_history", "recover",
};

static const char *const op_names[SERVICE_JOB__MAX] = { "install", "upgrade", "rollback",
	                                                    "uninstall" };

struct machine {
	struct machine *next;
	char job_id[UUID_STR_LEN];
	enum service_job_kind op;
	int attempt;                  /* which claim of the job this is (1: the first) */
	struct service_row row;
	enum step step;
	struct helm_run *run;
	struct k8s_api_call *call;
	uv_timer_t timer;
	int64_t deadline_ms;          /* services.deploy_timeout, from helm's start */
	int64_t lock_seen_s;          /* 0: no lock seen yet; else when this claim first saw it */
	int orphan_gone;              /* the last look found helm's process gone */
	int recover_to;               /* ST_RECOVER: the revision to roll back to (0: uninstall) */
	struct helm_status st;        /* the last `helm status` */
	int st_found;
	int ready, total;
	char end_status[16];          /* what the history step ends with */
	char end_error[HELM_ERROR_MAX + 64];
	int end_revision;
	int64_t quota_deadline_ms;    /* 0: not waiting for the quota's status yet */
	int64_t events_since_s;       /* quota refusals seen before are another deploy's */
	int64_t refused_since_ms;     /* 0: no quota refusal on the last poll */
	char pods_error[K8S_REFUSAL_MAX + 128]; /* the last poll's words for `error` */
};

static struct {
	const struct service_store *store;
	int configured;
	char not_configured[256];
	struct machine *machines;
	int count;
	int initialised;
} S;

/* ---- names and pure decisions ------------------------------------------------------ */

int service_job_parse(const char *kind, enum service_job_kind *out)
{
	if (!kind || strncmp(kind, "service.", 8) != 0)
		return -1;
	for (int i = 0; i < SERVICE_JOB__MAX; i++)
		if (strcmp(kind + 8, op_names[i]) == 0) {
			*out = (enum service_job_kind)i;
			return 0;
		}
	return -1;
}

const char *service_job_name(enum service_job_kind op)
{
	return op >= 0 && op < SERVICE_JOB__MAX ? op_names[op] : "?";
}

int service_job_current(enum service_job_kind op, const char *status)
{
	if (!status)
		return 0;
	switch (op) {
	case SERVICE_JOB_INSTALL:
		return strcmp(status, "pending") == 0 || strcmp(status, "deploying") == 0;
	case SERVICE_JOB_UPGRADE:
		/* A failed service that never had a revision is re-installed as deploying. */
		return strcmp(status, "upgrading") == 0 || strcmp(status, "deploying") == 0;
	case SERVICE_JOB_ROLLBACK:
		return strcmp(status, "rolling_back") == 0;
	case SERVICE_JOB_UNINSTALL:
		return strcmp(status, "deleting") == 0;
	default:
		return 0;
	}
}

int service_job_announces(enum service_job_kind op, const char *status, int attempt)
{
	if (attempt != 1 || !service_job_current(op, status))
		return 0;
	return !(op == SERVICE_JOB_INSTALL && strcmp(status, "pending") == 0);
}

enum service_lock service_lock_at(enum helm_orphan orphan, int gone_before, int64_t now_s,
                                  int64_t began_s, long helm_timeout_s)
{
	/* No helm we start runs longer than this: helm_run kills it (and helm's --timeout
	 * bounds one that nobody watches any more). */
	int past = now_s > began_s + helm_timeout_s + LOCK_GRACE_S;

	switch (orphan) {
	case HELM_ORPHAN_GONE:
		/* It may have ended between `helm status` and this look: status once more. */
		return gone_before ? SERVICE_LOCK_STALE : SERVICE_LOCK_LOOK_AGAIN;
	case HELM_ORPHAN_RUNNING:
	case HELM_ORPHAN_NONE:
	default:
		return past ? SERVICE_LOCK_STALE : SERVICE_LOCK_WAIT;
	}
}

int service_recover_target(const struct helm_revision *revs, size_t n, int pending_revision)
{
	int superseded = 0;

	for (size_t i = n; i-- > 0;) {
		if (revs[i].revision == pending_revision)
			continue;
		if (revs[i].state == HELM_STATE_DEPLOYED)
			return revs[i].revision;
		if (revs[i].state == HELM_STATE_SUPERSEDED && !superseded)
			superseded = revs[i].revision;
	}
	return superseded;
}

enum service_resume service_resume_at(enum service_job_kind op, int found,
                                      const struct helm_status *st, int row_revision)
{
	(void)op;
	if (!found)
		return SERVICE_RESUME_RUN;
	if (helm_state_pending(st->state))
		return SERVICE_RESUME_WAIT;
	/* The row's revision is helm's after every operation that reached deployed; a newer
	 * one was made by this job's earlier attempt, which got as far as helm. A failed one
	 * is tried again (upgrade --install proceeds from a failed revision). */
	if (st->revision > row_revision && st->state != HELM_STATE_FAILED)
		return SERVICE_RESUME_POLL;
	return SERVICE_RESUME_RUN;
}

/* ---- the machine's life --------------------------------------------------------------- */

static int retry_delay(void)
{
	return RETRY_MIN_S;
}

static void machine_unlink(struct machine *m)
{
	for (struct machine **p = &S.machines; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			S.count--;
			return;
		}
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Forgets the machine (its helm run and API call cancelled, no callbacks). */
static void machine_free(struct machine *m)
{
	machine_unlink(m);
	if (m->run)
		helm_run_cancel(m->run);
	if (m->call)
		k8s_api_cancel(m->call);
	m->run = NULL;
	m->call = NULL;
	uv_timer_stop(&m->timer);
	uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}

static void job_end(struct machine *m, const char *state, const char *why, int retry_s)
{
	char job_id[UUID_STR_LEN];

	snprintf(job_id, sizeof(job_id), "%s", m->job_id);
	machine_free(m);
	jobs_finish(job_id, state, why, retry_s);
}

static void requeue(struct machine *m, const char *why)
{
	log_warn("service=%s %s: %s; trying again in %d s", m->row.id, op_names[m->op], why,
	         retry_delay());
	job_end(m, "queued", why, retry_delay());
}

/* A store write's answer: 0 go on, -1 the machine has ended (superseded, or requeued
 * because the database did not answer). */
static int store_ok(struct machine *m, int rc, const char *what)
{
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_CONFLICT || rc == STORE_NOT_FOUND) {
		log_info("service=%s %s superseded (op_seq %lld moved) at %s", m->row.id,
		         op_names[m->op], m->row.op_seq, what);
		job_end(m, "done", "superseded by a later operation", 0);
		return -1;
	}
	requeue(m, "the database did not take the service's update");
	return -1;
}

/* 0 while the row is still this operation's, else ends the machine. */
static int still_current(struct machine *m, const char *what)
{
	struct service_row now;
	int rc = S.store->load(m->row.tenant_id, m->row.id, &now);

	if (rc == STORE_OK && now.op_seq != m->row.op_seq)
		rc = STORE_CONFLICT;
	return store_ok(m, rc, what);
}

/* The operation's end: the row written (with its webhook event), the job done. */
static void finish(struct machine *m, const char *status, const char *error, int revision)
{
	int rc;

	if (error)
		log_warn("service=%s release=%s %s ends %s: %s", m->row.id, m->row.release,
		         op_names[m->op], status, error);
	else
		log_info("service=%s release=%s %s ends %s (revision %d, %d/%d pods ready)",
		         m->row.id, m->row.release, op_names[m->op], status, revision, m->ready,
		         m->total);
	rc = S.store->finish(&m->row, status, error, revision, m->ready, m->total);
	if (store_ok(m, rc, "finish") != 0)
		return;
	job_end(m, "done", error, 0);
}

static void run_step(struct machine *m);

static void go(struct machine *m, enum step step)
{
	m->step = step;
	run_step(m);
}

static void on_timer(uv_timer_t *t)
{
	struct machine *m = t->data;

	if (m->step == ST_LOCKED)
		go(m, ST_STATUS);
	else if (m->step == ST_QUOTA_WAIT)
		go(m, ST_QUOTA_WAIT);
	else
		go(m, ST_POLL_STATUS);
}

static void wait_then(struct machine *m, enum step step)
{
	m->step = step;
	uv_timer_start(&m->timer, on_timer, POLL_MS, 0);
}

/* Ends with history first (so GET /revisions shows what helm did), then finish. */
static void conclude(struct machine *m, const char *status, const char *error)
{
	snprintf(m->end_status, sizeof(m->end_status), "%s", status);
	snprintf(m->end_error, sizeof(m->end_error), "%s", error ? error : "");
	m->end_revision = m->st_found && m->st.state == HELM_STATE_DEPLOYED ? m->st.revision : -1;
	go(m, ST_HISTORY);
}

static void fail(struct machine *m, const char *error)
{
	finish(m, "failed", error, -1);
}

/* ---- helm ------------------------------------------------------------------------- */

static void on_helm(void *arg, const struct helm_result *res);

static int start_helm(struct machine *m, struct helm_args *a, const char *values,
                      size_t values_len)
{
	char err[HELM_ERROR_MAX];
	long timeout_ms = (cfg_int(CFG_SERVICES_HELM_TIMEOUT) + 60) * 1000L;

	m->run = helm_run_start(a, values, values_len, timeout_ms, on_helm, m, err, sizeof(err));
	helm_args_clear(a);
	if (!m->run) {
		fail(m, err);
		return -1;
	}
	return 0;
}

static void helm_status(struct machine *m)
{
	struct helm_args a;
	char err[HELM_ERROR_MAX];

	if (helm_args_status(&a, m->row.namespace_, m->row.release, err, sizeof(err)) != 0) {
		fail(m, err);
		return;
	}
	(void)start_helm(m, &a, NULL, 0);
}

static void helm_apply(struct machine *m)
{
	struct helm_args a;
	char err[HELM_ERROR_MAX + 64];
	char *values = NULL;
	size_t len = 0;
	int timeout_s = (int)cfg_int(CFG_SERVICES_HELM_TIMEOUT);
	int rc;

	m->deadline_ms = ids_now_ms() + cfg_int(CFG_SERVICES_DEPLOY_TIMEOUT) * 1000L;
	m->events_since_s = ids_now_ms() / 1000 - EVENT_SKEW_S;
	if (m->op == SERVICE_JOB_ROLLBACK) {
		if (helm_args_rollback(&a, m->row.namespace_, m->row.release, m->row.rollback_to, 0,
		                       timeout_s, err, sizeof(err)) != 0) {
			fail(m, err);
			return;
		}
		(void)start_helm(m, &a, NULL, 0);
		return;
	}
	if (m->op == SERVICE_JOB_UNINSTALL) {
		if (helm_args_uninstall(&a, m->row.namespace_, m->row.release, timeout_s, err,
		                        sizeof(err)) != 0) {
			fail(m, err);
			return;
		}
		(void)start_helm(m, &a, NULL, 0);
		return;
	}
	{
		char ref[600];
		int oci = strncmp(m->row.chart_repo, "oci://", 6) == 0;
		struct helm_install in = {
			.chart = { .ref = ref, .repo = oci ? NULL : m->row.chart_repo,
			           .version = m->row.chart_version },
			.timeout_s = timeout_s,
		};
		if (oci)
			snprintf(ref, sizeof(ref), "%s/%s", m->row.chart_repo, m->row.chart_name);
		else
			snprintf(ref, sizeof(ref), "%s", m->row.chart_name);
		if (helm_args_upgrade(&a, m->row.namespace_, m->row.release, &in, err,
		                      sizeof(err)) != 0) {
			fail(m, err);
			return;
		}
	}
	rc = S.store->values(&m->row, &values, &len, err, sizeof(err));
	if (rc != STORE_OK) {
		helm_args_clear(&a);
		if (rc == STORE_ERR && err[0])
			fail(m, err);
		else
			(void)store_ok(m, rc == STORE_OK ? STORE_ERR : rc, "values");
		return;
	}
	(void)start_helm(m, &a, values, len);
	explicit_bzero(values, len);
	free(values);
}

static void helm_history(struct machine *m)
{
	struct helm_args a;
	char err[HELM_ERROR_MAX];

	if (helm_args_history(&a, m->row.namespace_, m->row.release, 0, err, sizeof(err)) != 0) {
		fail(m, err);
		return;
	}
	(void)start_helm(m, &a, NULL, 0);
}

/* A stale lock: the first claim of an operation the user asked for goes back to the last
 * deployed revision first (helm-cli.md: a killed helm's lock is cleared with `helm
 * rollback`), the resumed one ends failed saying what happened and what to do. */
static void stale(struct machine *m)
{
	char why[400];

	if (m->attempt == 1) {
		log_warn("service=%s release=%s is %s and no helm is running on it: going back to "
		         "its last deployed revision first", m->row.id, m->row.release,
		         m->st.status);
		go(m, ST_RECOVER_HISTORY);
		return;
	}
	snprintf(why, sizeof(why),
	         "helm was stopped in the middle of this operation (helperd was restarted while "
	         "it ran) and left the release locked (%s); nothing is running on it now. Change "
	         "the service or roll it back to try again: Kaiden then first %s",
	         m->st.status, m->row.revision > 0
	                 ? "rolls the release back to its last deployed revision"
	                 : "removes the unfinished release");
	fail(m, why);
}

/* The release is pending-*: wait while a helm may still clear it, else stale. */
static void locked(struct machine *m)
{
	int64_t now_s = ids_now_ms() / 1000, began_s;
	enum helm_orphan orphan = helm_run_orphan(m->row.release);

	if (!m->lock_seen_s)
		m->lock_seen_s = now_s;
	/* Since when: helm's own record of the operation, else our first look. */
	began_s = helm_time_seconds(m->st.last_deployed);
	if (began_s < 0 || began_s > now_s)
		began_s = m->lock_seen_s;
	switch (service_lock_at(orphan, m->orphan_gone, now_s, began_s,
	                        cfg_int(CFG_SERVICES_HELM_TIMEOUT))) {
	case SERVICE_LOCK_LOOK_AGAIN:
		m->orphan_gone = 1;
		go(m, ST_STATUS);
		return;
	case SERVICE_LOCK_STALE:
		stale(m);
		return;
	case SERVICE_LOCK_WAIT:
		break;
	}
	m->orphan_gone = 0;
	log_info("service=%s release=%s is %s: waiting for that operation to end%s", m->row.id,
	         m->row.release, m->st.status,
	         orphan == HELM_ORPHAN_RUNNING ? " (the helm a previous helperd started still runs)"
	                                       : "");
	wait_then(m, ST_LOCKED);
}

static void recover_apply(struct machine *m)
{
	struct helm_args a;
	char err[HELM_ERROR_MAX];
	int timeout_s = (int)cfg_int(CFG_SERVICES_HELM_TIMEOUT);
	int rc = m->recover_to > 0 ? helm_args_rollback(&a, m->row.namespace_, m->row.release,
	                                                m->recover_to, 0, timeout_s, err,
	                                                sizeof(err))
	                           : helm_args_uninstall(&a, m->row.namespace_, m->row.release,
	                                                 timeout_s, err, sizeof(err));

	if (rc != 0) {
		fail(m, err);
		return;
	}
	(void)start_helm(m, &a, NULL, 0);
}

static void after_status(struct machine *m, const struct helm_result *res)
{
	char reason[256];

	m->st_found = 0;
	if (res->outcome == HELM_OK) {
		if (helm_status_parse(res->out, res->out_len, &m->st, reason, sizeof(reason)) != 0) {
			fail(m, "helm status gave an answer helperd cannot read");
			return;
		}
		m->st_found = 1;
	} else if (strstr(res->error, "Kubernetes cluster unreachable")) {
		requeue(m, res->error); /* helm's way of saying the API is down: later */
		return;
	} else if (!helm_error_not_found(res)) {
		fail(m, res->error);
		return;
	}
	/* helm's command that held the lock ended while we waited: its outcome is this
	 * operation's (a failed revision it made is not tried again). */
	if (m->lock_seen_s && m->st_found && m->st.state == HELM_STATE_FAILED &&
	    m->st.revision > m->row.revision) {
		snprintf(reason, sizeof(reason), "helm: %.240s",
		         m->st.description[0] ? m->st.description : "the release failed");
		conclude(m, "failed", reason);
		return;
	}
	switch (service_resume_at(m->op, m->st_found, &m->st, m->row.revision)) {
	case SERVICE_RESUME_WAIT:
		locked(m);
		return;
	case SERVICE_RESUME_POLL:
		log_info("service=%s release=%s revision %d was made before a restart: watching "
		         "its pods", m->row.id, m->row.release, m->st.revision);
		m->deadline_ms = ids_now_ms() + cfg_int(CFG_SERVICES_DEPLOY_TIMEOUT) * 1000L;
		m->events_since_s = ids_now_ms() / 1000 - EVENT_SKEW_S;
		go(m, ST_POLL_STATUS);
		return;
	case SERVICE_RESUME_RUN:
		go(m, m->op == SERVICE_JOB_ROLLBACK ? ST_HELM : ST_NAMESPACE);
		return;
	}
}

static void after_poll_status(struct machine *m, const struct helm_result *res)
{
	char reason[300];

	if (res->outcome != HELM_OK) {
		if (helm_error_not_found(res)) {
			conclude(m, "failed", "the release disappeared while it was being deployed");
			return;
		}
		/* helm could not ask (the API busy): keep polling until the deadline. */
		if (ids_now_ms() > m->deadline_ms) {
			conclude(m, "failed", res->error);
			return;
		}
		wait_then(m, ST_WAIT);
		return;
	}
	if (helm_status_parse(res->out, res->out_len, &m->st, reason, sizeof(reason)) != 0) {
		fail(m, "helm status gave an answer helperd cannot read");
		return;
	}
	m->st_found = 1;
	if (m->st.state == HELM_STATE_FAILED) {
		snprintf(reason, sizeof(reason), "helm: %s",
		         m->st.description[0] ? m->st.description : "the release failed");
		conclude(m, "failed", reason);
		return;
	}
	if (m->st.state != HELM_STATE_DEPLOYED) {
		if (ids_now_ms() > m->deadline_ms) {
			snprintf(reason, sizeof(reason), "helm's release is still %s after %ld s",
			         m->st.status, cfg_int(CFG_SERVICES_DEPLOY_TIMEOUT));
			conclude(m, "failed", reason);
			return;
		}
		wait_then(m, ST_WAIT);
		return;
	}
	go(m, ST_POLL_PODS);
}

static void on_helm(void *arg, const struct helm_result *res)
{
	struct machine *m = arg;
	struct helm_revision *revs = NULL;
	size_t n = 0;
	char reason[256];
	int current = 0;

	m->run = NULL;
	switch (m->step) {
	case ST_STATUS:
		after_status(m, res);
		return;
	case ST_POLL_STATUS:
		after_poll_status(m, res);
		return;
	case ST_HELM:
		if (m->op == SERVICE_JOB_UNINSTALL) {
			if (res->outcome != HELM_OK && !helm_error_not_found(res)) {
				fail(m, res->error);
				return;
			}
			go(m, ST_NS_DELETE);
			return;
		}
		if (res->outcome != HELM_OK) {
			/* helm's own words (the last Error: line), for the service's error. */
			m->st_found = 0;
			conclude(m, "failed", res->error);
			return;
		}
		go(m, ST_POLL_STATUS);
		return;
	case ST_RECOVER_HISTORY:
		if (res->outcome != HELM_OK ||
		    helm_history_parse(res->out, res->out_len, &revs, &n, reason, sizeof(reason)) != 0) {
			snprintf(reason, sizeof(reason), "the release is locked (%s) by an operation "
			         "that never finished, and its history cannot be read to undo it: %.100s",
			         m->st.status, res->outcome == HELM_OK ? "not helm's JSON" : res->error);
			fail(m, reason);
			return;
		}
		m->recover_to = service_recover_target(revs, n, m->st.revision);
		free(revs);
		if (m->recover_to == 0 && m->row.revision > 0) {
			snprintf(reason, sizeof(reason), "the release is locked (%s) by an operation "
			         "that never finished, and has no deployed revision to go back to: ask "
			         "an administrator", m->st.status);
			fail(m, reason);
			return;
		}
		go(m, ST_RECOVER);
		return;
	case ST_RECOVER:
		if (res->outcome != HELM_OK && !(m->recover_to == 0 && helm_error_not_found(res))) {
			snprintf(reason, sizeof(reason), "the release is locked (%s) by an operation "
			         "that never finished, and %s failed: %.120s", m->st.status,
			         m->recover_to ? "rolling it back" : "removing it", res->error);
			fail(m, reason);
			return;
		}
		log_info("service=%s release=%s unlocked: %s%.0d; now the %s", m->row.id,
		         m->row.release, m->recover_to ? "rolled back to revision " : "uninstalled",
		         m->recover_to, op_names[m->op]);
		m->lock_seen_s = 0;
		m->orphan_gone = 0;
		go(m, m->op == SERVICE_JOB_ROLLBACK ? ST_HELM : ST_NAMESPACE);
		return;
	case ST_HISTORY:
		if (res->outcome == HELM_OK &&
		    helm_history_parse(res->out, res->out_len, &revs, &n, reason,
		                       sizeof(reason)) == 0) {
			if (n > 0 && revs[n - 1].revision > m->row.revision)
				current = revs[n - 1].revision;
			if (S.store->revisions(&m->row, m->op, revs, n, current) != STORE_OK)
				log_warn("service=%s the revisions could not be stored", m->row.id);
			free(revs);
		} else {
			log_warn("service=%s helm history: %s", m->row.id,
			         res->outcome == HELM_OK ? reason : res->error);
		}
		finish(m, m->end_status, m->end_error[0] ? m->end_error : NULL, m->end_revision);
		return;
	default:
		log_error("service=%s helm answered in step %s: ignored", m->row.id,
		          step_names[m->step]);
		return;
	}
}

/* ---- Kubernetes ----------------------------------------------------------------------- */

static void on_k8s(void *arg, const struct k8s_api_result *res)
{
	struct machine *m = arg;
	int rc;

	m->call = NULL;
	/* Transient trouble: the job again later, from the row (not once the row says
	 * deleted: a late namespace delete would find a stale job and never run). */
	if (!res->ok && res->transient && m->step != ST_POLL_PODS &&
	    m->step != ST_POLL_EVENTS && m->step != ST_NS_DELETE_LATE) {
		requeue(m, res->reason);
		return;
	}
	switch (m->step) {
	case ST_NAMESPACE:
		if (!res->ok) {
			fail(m, res->reason);
			return;
		}
		go(m, ST_ROLEBINDING);
		return;
	case ST_ROLEBINDING:
		if (!res->ok) {
			fail(m, res->reason);
			return;
		}
		go(m, ST_QUOTA);
		return;
	case ST_QUOTA:
		if (!res->ok) {
			fail(m, res->reason);
			return;
		}
		go(m, ST_QUOTA_WAIT);
		return;
	case ST_QUOTA_WAIT:
		if (!res->ok) {
			fail(m, res->reason);
			return;
		}
		if (res->counted) {
			go(m, ST_HELM);
			return;
		}
		if (ids_now_ms() > m->quota_deadline_ms) {
			requeue(m, "the namespace's quota is not counted yet (its status.hard does "
			           "not hold its limits): the quota controller has not caught up");
			return;
		}
		uv_timer_start(&m->timer, on_timer, QUOTA_POLL_MS, 0);
		return;
	case ST_POLL_PODS:
		if (res->ok) {
			m->ready = res->pods.ready;
			m->total = res->pods.total;
			if (m->total > 0 && m->ready == m->total) {
				conclude(m, "running", NULL);
				return;
			}
			snprintf(m->pods_error, sizeof(m->pods_error), "%s", res->pods.problem);
		} else {
			snprintf(m->pods_error, sizeof(m->pods_error), "%s", res->reason);
		}
		go(m, ST_POLL_EVENTS);
		return;
	case ST_POLL_EVENTS:
		if (res->ok && res->refusal[0]) {
			snprintf(m->pods_error, sizeof(m->pods_error), "the namespace's quota refuses a "
			         "pod: %s \xe2\x80\x94 ask for a bigger plan or delete a service",
			         res->refusal);
			if (!m->refused_since_ms) {
				m->refused_since_ms = ids_now_ms();
			} else if (ids_now_ms() - m->refused_since_ms >=
			           cfg_int(CFG_SERVICES_QUOTA_GRACE) * 1000L) {
				conclude(m, "failed", m->pods_error);
				return;
			}
		} else if (res->ok) {
			m->refused_since_ms = 0;
		}
		/* Events that cannot be read (no right to list them, ...) leave the pods' words. */
		if (ids_now_ms() > m->deadline_ms) {
			char why[sizeof(m->pods_error) + 96];
			snprintf(why, sizeof(why), "%d of %d pods ready after %ld s%s%s", m->ready,
			         m->total, cfg_int(CFG_SERVICES_DEPLOY_TIMEOUT),
			         m->pods_error[0] ? ": " : "", m->pods_error);
			conclude(m, "failed", why);
			return;
		}
		rc = S.store->set_pods(&m->row, m->pods_error[0] ? m->pods_error : NULL, m->ready,
		                       m->total);
		if (store_ok(m, rc, "pods") != 0)
			return;
		wait_then(m, ST_WAIT);
		return;
	case ST_NS_DELETE:
		if (!res->ok) {
			fail(m, res->reason);
			return;
		}
		finish(m, "deleted", NULL, -1);
		return;
	case ST_NS_DELETE_LATE:
		/* The service is deleted already: a refusal is only logged (k8s_api did). */
		job_end(m, "done", res->ok ? NULL : res->reason, 0);
		return;
	default:
		log_error("service=%s the Kubernetes API answered in step %s: ignored", m->row.id,
		          step_names[m->step]);
		return;
	}
}

/* The tenant had other services when this one's release went: report it deleted, then
 * count again. Uninstalls of a tenant's last services run side by side (one operation
 * per service, not per tenant), each seeing the others before they report: the last to
 * report then finds none and deletes the namespace. (Counting first and deleting the
 * namespace before the report, as run_step does when there are none, is what survives a
 * restart in between.) */
static void deleted_then_recount(struct machine *m, int others)
{
	int rc;

	rc = S.store->finish(&m->row, "deleted", NULL, -1, 0, 0);
	if (store_ok(m, rc, "finish") != 0)
		return;
	log_info("service=%s release=%s uninstall ends deleted", m->row.id, m->row.release);
	rc = S.store->others(&m->row, &others);
	if (rc == STORE_OK && others == 0) {
		log_info("service=%s namespace=%s goes: the tenant's last service", m->row.id,
		         m->row.namespace_);
		go(m, ST_NS_DELETE_LATE);
		return;
	}
	if (rc == STORE_OK)
		log_info("service=%s namespace=%s stays: the tenant has %d other services",
		         m->row.id, m->row.namespace_, others);
	job_end(m, "done", NULL, 0);
}

static void run_step(struct machine *m)
{
	char err[K8S_REASON_MAX];
	struct k8s_api_quota q;
	int others = 0, rc;

	switch (m->step) {
	case ST_STATUS:
		if (still_current(m, "status") != 0)
			return;
		helm_status(m);
		return;
	case ST_NAMESPACE:
		if (still_current(m, "namespace") != 0)
			return;
		m->call = k8s_api_create_namespace(m->row.namespace_, m->row.tenant_id, on_k8s, m,
		                                   err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_ROLEBINDING:
		/* Without k8s.service_account helperd's account has its rights in the
		 * namespace another way (a cluster-wide binding, a test's token). */
		if (!cfg_str(CFG_K8S_SERVICE_ACCOUNT)[0]) {
			go(m, ST_QUOTA);
			return;
		}
		m->call = k8s_api_bind_tenant_role(m->row.namespace_, cfg_str(CFG_K8S_SERVICE_ACCOUNT),
		                                   on_k8s, m, err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_QUOTA:
		memset(&q, 0, sizeof(q));
		rc = S.store->quota(&m->row, &q);
		if (rc != STORE_OK) {
			(void)store_ok(m, rc == STORE_NOT_FOUND ? STORE_ERR : rc, "quota");
			return;
		}
		m->call = k8s_api_apply_quota(m->row.namespace_, &q, on_k8s, m, err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_HELM:
		if (still_current(m, "helm") != 0)
			return;
		helm_apply(m);
		return;
	case ST_POLL_STATUS:
		if (still_current(m, "poll") != 0)
			return;
		helm_status(m);
		return;
	case ST_POLL_PODS:
		m->call = k8s_api_list_pods(m->row.namespace_, m->row.release, on_k8s, m, err,
		                            sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_QUOTA_WAIT:
		if (!m->quota_deadline_ms)
			m->quota_deadline_ms = ids_now_ms() + QUOTA_WAIT_S * 1000L;
		m->call = k8s_api_quota_counted(m->row.namespace_, on_k8s, m, err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_POLL_EVENTS:
		m->call = k8s_api_quota_refusal(m->row.namespace_, m->row.release,
		                                m->events_since_s, on_k8s, m, err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_HISTORY:
	case ST_RECOVER_HISTORY:
		helm_history(m);
		return;
	case ST_RECOVER:
		if (still_current(m, "recover") != 0)
			return;
		recover_apply(m);
		return;
	case ST_NS_DELETE:
		rc = S.store->others(&m->row, &others);
		if (rc != STORE_OK) {
			(void)store_ok(m, rc == STORE_NOT_FOUND ? STORE_ERR : rc, "others");
			return;
		}
		if (others > 0) {
			deleted_then_recount(m, others);
			return;
		}
		m->call = k8s_api_delete_namespace(m->row.namespace_, on_k8s, m, err, sizeof(err));
		if (!m->call)
			fail(m, err);
		return;
	case ST_NS_DELETE_LATE:
		m->call = k8s_api_delete_namespace(m->row.namespace_, on_k8s, m, err, sizeof(err));
		if (!m->call)
			job_end(m, "done", err, 0);
		return;
	case ST_LOCKED:
	case ST_WAIT:
		return; /* the timer moves on */
	}
}

/* ---- jobs ----------------------------------------------------------------------------- */

static struct machine *machine_find(const char *service_id)
{
	for (struct machine *m = S.machines; m; m = m->next)
		if (strcmp(m->row.id, service_id) == 0)
			return m;
	return NULL;
}

void service_job_start(const char *job_id, enum service_job_kind op, const char *tenant_id,
                       const char *service_id, long long op_seq, int attempt)
{
	struct machine *m;
	const char *next;
	int rc;

	if (!S.initialised || !service_id || !service_id[0] || op < 0 || op >= SERVICE_JOB__MAX) {
		jobs_finish(job_id, "failed", "a service job without its service", 0);
		return;
	}
	if (machine_find(service_id)) {
		/* The claim takes one operation per service; this is a second claim of one
		 * already running here (its lease ran out and it was claimed again). */
		jobs_finish(job_id, "queued", "another operation of this service is running", 5);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		jobs_finish(job_id, "queued", "out of memory", 5);
		return;
	}
	snprintf(m->job_id, sizeof(m->job_id), "%s", job_id);
	m->op = op;
	m->attempt = attempt;
	uv_timer_init(helperd.loop, &m->timer);
	m->timer.data = m;
	m->next = S.machines;
	S.machines = m;
	S.count++;
	snprintf(m->row.id, sizeof(m->row.id), "%s", service_id);
	snprintf(m->row.tenant_id, sizeof(m->row.tenant_id), "%s", tenant_id ? tenant_id : "");
	rc = S.store->load(m->row.tenant_id, service_id, &m->row);
	if (rc == STORE_NOT_FOUND) {
		job_end(m, "done", "the service no longer exists", 0);
		return;
	}
	if (rc != STORE_OK) {
		requeue(m, "the service could not be read");
		return;
	}
	if (m->row.op_seq != op_seq || !service_job_current(op, m->row.status)) {
		log_info("service=%s %s job (op %lld) is stale: the service is %s (op %lld)",
		         service_id, op_names[op], op_seq, m->row.status, m->row.op_seq);
		job_end(m, "done", "superseded: the service moved on before the job ran", 0);
		return;
	}
	/* The API wrote the status with the job, in one transaction, and cannot reach the
	 * browsers: the claim, within milliseconds of it, tells them. */
	if (service_job_announces(op, m->row.status, attempt))
		S.store->announce(&m->row);
	if (!S.configured) {
		fail(m, S.not_configured);
		return;
	}
	log_info("service=%s release=%s namespace=%s %s (status %s, op %lld)", service_id,
	         m->row.release, m->row.namespace_, op_names[op], m->row.status, m->row.op_seq);
	/* The API queued it as pending; from here it is helperd's: deploying. */
	next = op == SERVICE_JOB_INSTALL && strcmp(m->row.status, "pending") == 0 ? "deploying"
	                                                                          : NULL;
	if (next) {
		rc = S.store->set_status(&m->row, next, NULL);
		if (store_ok(m, rc, "deploying") != 0)
			return;
		snprintf(m->row.status, sizeof(m->row.status), "%s", next);
	}
	go(m, op == SERVICE_JOB_UNINSTALL ? ST_HELM : ST_STATUS);
}

int service_running(void)
{
	return S.count;
}

int service_init(const struct service_store *store, int configured, const char *why)
{
	if (!store || !store->load || !store->values || !store->quota || !store->set_status ||
	    !store->set_pods || !store->finish || !store->revisions || !store->others ||
	    !store->announce) {
		log_error("service_init: an incomplete store");
		return -1;
	}
	memset(&S, 0, sizeof(S));
	S.store = store;
	S.configured = configured;
	snprintf(S.not_configured, sizeof(S.not_configured), "%s",
	         why && why[0] ? why : "cloud services are not configured on this helperd");
	S.initialised = 1;
	return 0;
}

void service_shutdown(void)
{
	if (!S.initialised)
		return;
	/* The jobs keep their leases: this helperd requeues them when it starts again and
	 * each resumes from its row and `helm status`. */
	if (S.count)
		log_info("stopping with %d service operations under way (resumed at the next "
		         "start)", S.count);
	while (S.machines) {
		struct machine *m = S.machines;
		/* Left to finish: killed, helm would leave its pending-* lock behind. */
		if (m->run)
			helm_run_abandon(m->run);
		m->run = NULL;
		machine_free(m);
	}
	S.initialised = 0;
}
