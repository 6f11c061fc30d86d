/* jobs.h: the outbox consumer. Wakes on NOTIFY kaiden_jobs (PostgreSQL, via pgwatch) or
 * on a poll timer (SQLite), claims due jobs with store_jobs_claim, hands each to
 * session_job_start, (kind "webhook.deliver") webhook_job_start or (service.*)
 * service_job_start, renews the leases of jobs still running, and records their end.
 * A lost notification costs latency, never work: a periodic claim runs anyway. */
#ifndef KAIDEN_JOBS_H
#define KAIDEN_JOBS_H

#include "compat.h"

int jobs_init(void) WUR;
void jobs_shutdown(void);
/* Look for due jobs soon (coalesced: many kicks, one claim). */
void jobs_kick(void);
/* Called by the session or webhook module when a job it was given has ended:
 * state "done" | "failed" (error: a sentence) | "queued" (retry after retry_seconds). */
void jobs_finish(const char *job_id, const char *state, const char *error, int retry_seconds);
/* 1 while this helperd still holds job_id's lease (renewed by the check), or when the
 * database cannot say; 0 when another helperd has taken the job over (this one was
 * late: store_jobs_claim's takeover of a holder whose heartbeat row went stale): the
 * job is then dropped from this helperd's running ones, with no finish to record. For a
 * step that must not run twice at once, such as a start's compensation. */
int jobs_still_held(const char *job_id);
/* Jobs held by this instance right now (for /metrics and tests). */
int jobs_running(void);

#endif
