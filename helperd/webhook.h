/* webhook.h: webhook delivery (issue 11). jobs.c hands it "webhook.deliver" jobs; each
 * sends its hook's pending deliveries, oldest first, one at a time, and ends the job
 * (jobs_finish): done when nothing is pending (or the hook is disabled or gone), queued
 * again for when the failing delivery's next attempt is due. Several hooks deliver at
 * once, each in its own job; one hook never twice at once (its lease:
 * common/store_webhook_delivery.h). Loop thread only. */
#ifndef KAIDEN_WEBHOOK_H
#define KAIDEN_WEBHOOK_H

#include "compat.h"
#include "store.h"

int webhook_init(void) WUR;
/* Abandons the runs in flight: their jobs keep their leases (jobs.c's rule) and are run
 * again when this helperd starts or the leases run out. */
void webhook_shutdown(void);
/* Runs a claimed "webhook.deliver" job (copied). */
void webhook_job_start(const struct store_job *job);
/* Runs in flight now (for tests and /metrics). */
int webhook_running(void);

#endif
