/* sweep.h: helperd's periodic housekeeping: every helperd.sweep seconds (and once at
 * start) session_sweep() (expired sessions), the providers' orphan sweeps
 * (provider_sweep: Cloudflare objects no live session owns), devices left online by a
 * helperd that died marked offline (store_agent_expire: last_seen older than twice
 * helperd.agent_timeout, held by another instance or none), and the webhook delivery
 * log kept to webhooks.keep_days (store_webhook_prune). Among several helperds on one
 * database, one sweeps at a time and once per period (sweep.c). */
#ifndef KAIDEN_SWEEP_H
#define KAIDEN_SWEEP_H

#include "compat.h"

int sweep_init(void) WUR;
void sweep_shutdown(void);
/* One sweep now, if it is this helperd's turn (the timer). */
void sweep_run(void);

#endif
