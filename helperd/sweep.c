/* sweep.c: the periodic sweep (sweep.h). One uv timer; the first run comes right after
 * start-up (a zero timeout), so a helperd that was down for a while catches up before
 * it serves for long.
 *
 * Several helperds on one database (issue 15) sweep one at a time and once per period
 * among them (store_shared.h), a run going
 *
 *   timer -> ours still running?            yes: skipped ("running")
 *         -> the sweep lock (advisory)       another helperd holds it: skipped ("elsewhere")
 *         -> the turn: did anyone start a sweep less than half a period ago?
 *                                            yes: lock given back, skipped ("turn")
 *         -> sweep: devices, webhook log, sessions, then the providers' orphan sweeps
 *            (asynchronous: Cloudflare's lists and deletes) -> lock given back
 *
 * Half a period, not a whole one: timers of one period drift against each other, and a
 * helperd whose timer fires just before the period is up would otherwise wait for the
 * next one. With two helperds, whichever's timer comes first after half a period sweeps.
 * The lock is session level, held across the whole asynchronous sweep (a transaction
 * cannot stay open that long on the loop's one connection): a helperd killed in mid-sweep
 * lets it go when PostgreSQL sees its connection end (at once for a process that dies;
 * for a machine lost, when TCP keepalives give up), and the sweep it left half done is
 * harmless to repeat (deleting what is gone is done). */
#include "sweep.h"

#include "cfg.h"
#include "helperd.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "session.h"
#include "store.h"
#include "store_agent.h"
#include "store_shared.h"
#include "store_webhook_delivery.h"

static uv_timer_t timer;
static int timer_open;
static int sweeping; /* a sweep of ours runs (the lock is ours) */

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

static void skipped(const char *reason)
{
	char labels[48];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_inc("kaiden_sweeps_skipped_total", labels, 1);
	log_debug("worker=%s sweep: skipped (%s)", helperd.instance, reason);
}

static void unlock(void)
{
	if (store_sweep_unlock(helperd.db) != STORE_OK)
		log_warn("worker=%s sweep: the sweep lock could not be given back; it goes with "
		         "the connection", helperd.instance);
}

/* The providers' sweeps have finished: the next sweep, here or elsewhere, may go. */
static void swept(void *arg)
{
	(void)arg;
	if (!sweeping)
		return;
	sweeping = 0;
	unlock();
}

/* 1 when this helperd sweeps now: the lock is ours and so is the turn. */
static int take_turn(void)
{
	long gap_ms = cfg_int(CFG_HELPERD_SWEEP) * 1000 / 2;
	int got = 0, claimed = 0;

	if (sweeping) {
		skipped("running");
		return 0;
	}
	if (store_sweep_lock(helperd.db, &got) != STORE_OK || !got) {
		skipped("elsewhere");
		return 0;
	}
	if (store_sweep_turn(helperd.db, "sweep", helperd.instance, ids_now_ms(), gap_ms,
	                     &claimed) != STORE_OK || !claimed) {
		unlock();
		skipped("turn");
		return 0;
	}
	sweeping = 1;
	return 1;
}

void sweep_run(void)
{
	long expired = 0;
	int max_age = (int)(2 * cfg_int(CFG_HELPERD_AGENT_TIMEOUT));

	if (helperd.stopping || !take_turn())
		return;
	if (store_agent_expire(helperd.db, helperd.instance, max_age, &expired) != STORE_OK)
		log_warn("worker=%s sweep: stale devices not checked", helperd.instance);
	else if (expired > 0)
		log_info("worker=%s sweep: %ld devices left online by a helperd that stopped "
		         "answering marked offline", helperd.instance, expired);
	prune_webhook_log();
	metrics_inc("kaiden_sweeps_total", NULL, 1);
	session_sweep();
	if (provider_sweep(swept, NULL) == 0)
		swept(NULL);
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
	metrics_describe("kaiden_sweeps_skipped_total", METRICS_COUNTER,
	                 "periodic sweeps not run here, by reason: running (ours has not "
	                 "finished), elsewhere (another helperd sweeps now), turn (another "
	                 "helperd swept less than half a period ago)");
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
	/* The providers have stopped (session_shutdown): their sweeps are cancelled. */
	swept(NULL);
}
