/* sweep.c: the periodic sweep (sweep.h). One uv timer; the first run comes right after
 * start-up (a zero timeout), so a helperd that was down for a while catches up before
 * it serves for long. */
#include "sweep.h"

#include "cfg.h"
#include "helperd.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "store.h"
#include "store_agent.h"
#include "store_webhook_delivery.h"

static uv_timer_t timer;
static int timer_open;

/* The webhook delivery log's retention: at most STORE_WEBHOOK_PRUNE_LIMIT rows of each
 * table a sweep, so a backlog cannot hold the loop (or a lock) for long; the next sweep
 * goes on. */
static void prune_webhook_log(void)
{
	struct store_webhook_pruned pruned;
	int keep_days = (int)cfg_int(CFG_WEBHOOKS_KEEP_DAYS);

	if (store_webhook_prune(helperd.db, keep_days, STORE_WEBHOOK_PRUNE_LIMIT, &pruned) !=
	    STORE_OK) {
		log_warn("worker=%s sweep: the webhook delivery log was not pruned", helperd.instance);
		return;
	}
	if (pruned.deliveries > 0 || pruned.events > 0)
		log_info("worker=%s sweep: webhook log pruned: %ld deliveries finished more than "
		         "%d days ago, %ld events no delivery refers to",
		         helperd.instance, pruned.deliveries, keep_days, pruned.events);
	metrics_inc("kaiden_webhook_log_pruned_total", "table=\"deliveries\"",
	            (double)pruned.deliveries);
	metrics_inc("kaiden_webhook_log_pruned_total", "table=\"events\"", (double)pruned.events);
}

void sweep_run(void)
{
	long expired = 0;
	int max_age = (int)(2 * cfg_int(CFG_HELPERD_AGENT_TIMEOUT));

	if (helperd.stopping)
		return;
	if (store_agent_expire(helperd.db, helperd.instance, max_age, &expired) != STORE_OK)
		log_warn("worker=%s sweep: stale devices not checked", helperd.instance);
	else if (expired > 0)
		log_info("worker=%s sweep: %ld devices left online by a helperd that stopped "
		         "answering marked offline", helperd.instance, expired);
	prune_webhook_log();
	metrics_inc("kaiden_sweeps_total", NULL, 1);
	session_sweep();
}

static void on_timer(uv_timer_t *t)
{
	(void)t;
	sweep_run();
}

int sweep_init(void)
{
	uint64_t every = (uint64_t)cfg_int(CFG_HELPERD_SWEEP) * 1000;

	metrics_describe("kaiden_sweeps_total", METRICS_COUNTER, "periodic sweeps run");
	metrics_describe("kaiden_webhook_log_pruned_total", METRICS_COUNTER,
	                 "rows the sweep deleted from the webhook delivery log (webhooks.keep_days) "
	                 "by table: deliveries, events");
	uv_timer_init(helperd.loop, &timer);
	timer_open = 1;
	uv_timer_start(&timer, on_timer, 0, every);
	return 0;
}

void sweep_shutdown(void)
{
	if (!timer_open)
		return;
	timer_open = 0;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
}
