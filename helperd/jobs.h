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
/* Jobs held by this instance right now (for /metrics and tests). */
int jobs_running(void);

#endif
