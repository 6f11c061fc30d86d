/* service.h: a cloud service's operations (issue 13), one persisted state machine per
 * service (the diagram is at the top of service.c; docs/decisions.md, "Issue 13:
 * services, the plan").
 *
 * jobs.c hands it claimed jobs of kinds service.install|upgrade|rollback|uninstall. It
 * reads the service through a table of store functions (struct service_store: the real
 * one is service_store.c over common/store_service.h; tests give their own), runs helm
 * (helm_run.h) and the Kubernetes API (k8s_api.h) on the loop, writes each outcome back
 * with the op_seq it read, and calls jobs_finish at the end. Nothing lives only in
 * memory: after a restart an operation resumes from the service's status and what
 * `helm status` says of the release.
 *
 * Loop thread only. */
#ifndef KAIDEN_SERVICE_H
#define KAIDEN_SERVICE_H

#include <stddef.h>
#include "compat.h"
#include "helm_run.h"
#include "ids.h"
#include "k8s_api.h"

enum service_job_kind {
	SERVICE_JOB_INSTALL,
	SERVICE_JOB_UPGRADE,
	SERVICE_JOB_ROLLBACK,
	SERVICE_JOB_UNINSTALL,
	SERVICE_JOB__MAX
};

/* "service.install" -> SERVICE_JOB_INSTALL ...: 0, or -1 (not a service job). */
int service_job_parse(const char *kind, enum service_job_kind *out) WUR;
const char *service_job_name(enum service_job_kind op); /* "install", ... (static) */

/* What an operation needs of a cloud_services row (with its template's chart). Plain
 * data, no secret: the values (secret ones opened) are asked for separately, right
 * before helm runs, and wiped after. */
struct service_row {
	char id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	char status[16];              /* cloud_services.status */
	long long op_seq;
	char namespace_[64];
	char release[HELM_RELEASE_MAX + 1];
	char chart_repo[512];         /* oci://host/path or https://repo */
	char chart_name[64];
	char chart_version[64];
	int revision;                 /* 0 until the first success */
	int rollback_to;              /* the revision a queued rollback goes to */
};

/* The store, as the machine uses it. Every function returns a STORE_* code (store.h);
 * those that change the row do so only while its op_seq is still row->op_seq and
 * answer STORE_CONFLICT otherwise (the operation was superseded: a DELETE came). */
struct service_store {
	/* The row; STORE_NOT_FOUND when there is none. */
	int (*load)(const char *tenant_id, const char *service_id, struct service_row *out);
	/* The complete chart values (template defaults, plain and opened secret values,
	 * inputs) as JSON text (owned: the caller wipes and frees it), or STORE_ERR with a
	 * sentence in err (a secret that cannot be opened, ...). */
	int (*values)(const struct service_row *row, char **json, size_t *len, char *err,
	              size_t errlen);
	/* The tenant's namespace quota (zeros: k8s_api's defaults). */
	int (*quota)(const struct service_row *row, struct k8s_api_quota *q);
	/* status (deploying, upgrading, ...) with error (NULL clears it). */
	int (*set_status)(const struct service_row *row, const char *status, const char *error);
	/* While pods come up: error (NULL clears it) and pods ready/total. */
	int (*set_pods)(const struct service_row *row, const char *error, int ready, int total);
	/* The end of an operation: status running | failed | deleted, error (NULL: none),
	 * revision (-1: unchanged), pods; with its webhook event (service.deployed, .failed,
	 * .deleted) in the same transaction. A rollback that ends running also takes the
	 * values of row->rollback_to. */
	int (*finish)(const struct service_row *row, const char *status, const char *error,
	              int revision, int ready, int total);
	/* `helm history` into service_revisions; current is the revision this operation
	 * made (0: none), whose values are the row's (or, for a rollback, rollback_to's). */
	int (*revisions)(const struct service_row *row, enum service_job_kind op,
	                 const struct helm_revision *revs, size_t n, int current);
	/* How many other services of the tenant are not deleted (deleting ones count), this
	 * one left out whatever its status. */
	int (*others)(const struct service_row *row, int *count);
	/* The tenant's browsers told what the row shows now (events_service): a status the
	 * API wrote when it queued the job (upgrading, rolling_back, deleting, ...). The
	 * writes above tell them themselves, each only when it changed something. */
	void (*announce)(const struct service_row *row);
};

/* Sets up with the store and settings (services.deploy_timeout, services.helm_timeout).
 * configured 0: helm or the Kubernetes API is not usable here; every job then fails its
 * service with why (not_configured, a sentence naming the settings). */
int service_init(const struct service_store *store, int configured,
                 const char *not_configured) WUR;
void service_shutdown(void);

/* Runs a claimed job: its id, kind, the service it names, the op_seq it was queued
 * with, and which claim of it this is (1: the first; strings copied). A job whose op_seq
 * is not the service's is stale: done. */
void service_job_start(const char *job_id, enum service_job_kind op, const char *tenant_id,
                       const char *service_id, long long op_seq, int attempt);

/* Machines in memory now. */
int service_running(void);

/* ---- the pure decisions, for tests ------------------------------------------------- */

/* Which statuses an operation of kind op may run from (the API moved the row there
 * when it queued the job): 1 yes, 0 the job is stale (done without doing anything). */
int service_job_current(enum service_job_kind op, const char *status);

/* Whether the claim of a current job (attempt: which claim) tells the tenant's browsers
 * the status the API queued it with: 1 on the first claim, unless the claim moves the
 * status itself (an install from pending goes to deploying, and that write tells them);
 * 0 on a later claim (a requeue or a restart: the first told them, or the streams it
 * told are gone and their browsers read the service afresh when they reconnect). */
int service_job_announces(enum service_job_kind op, const char *status, int attempt);

/* Where an install, upgrade or rollback starts, given what `helm status` said:
 * found 0: no release. */
enum service_resume {
	SERVICE_RESUME_RUN,      /* run helm's command */
	SERVICE_RESUME_WAIT,     /* a pending-* lock: wait it out, then look again */
	SERVICE_RESUME_POLL,     /* an earlier attempt's command already made the revision:
	                          * go straight to watching the pods */
};
enum service_resume service_resume_at(enum service_job_kind op, int found,
                                      const struct helm_status *st, int row_revision);

/* The release is pending-* (another operation's lock): what to do, given whether a helm
 * an earlier helperd started on it still runs (helm_run_orphan; gone_before: the previous
 * look found it gone too), the time now, when the locking operation began (helm's
 * last_deployed, or our first look), and services.helm_timeout. */
enum service_lock {
	SERVICE_LOCK_WAIT,       /* a helm may still clear it: look again in a while */
	SERVICE_LOCK_LOOK_AGAIN, /* helm's process is gone: `helm status` once more at once */
	SERVICE_LOCK_STALE,      /* nothing will clear it: recover, or fail saying so */
};
enum service_lock service_lock_at(enum helm_orphan orphan, int gone_before, int64_t now_s,
                                  int64_t began_s, long helm_timeout_s);
/* The revision a stale lock is undone to: the newest deployed one but the pending
 * revision, else the newest superseded; 0: none (an install that never finished). */
int service_recover_target(const struct helm_revision *revs, size_t n, int pending_revision);

#endif
