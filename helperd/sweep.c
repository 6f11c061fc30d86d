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

static uv_timer_t timer;
static int timer_open;

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
