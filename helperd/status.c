/* status.c: the heartbeat row (status.h). One uv timer; the first beat is written by
 * status_init itself, before lws listens and the hub takes agents (the row is their
 * holder's lease). If that first write fails, helperd does not start: it claims jobs
 * only under its own live row, and a helperd restarted under its old name would
 * otherwise claim under its previous run's stale one (and have its new jobs taken over
 * as a dead holder's). A later failed write is logged once per run of failures and
 * tried again at the next beat. */
#include "status.h"

#include "cf.h"
#include "helperd.h"
#include "hub.h"
#include "ids.h"
#include "log.h"
#include "relay_peer.h"
#include "relay_server.h"
#include "store.h"
#include "store_status.h"

#ifndef KAIDEN_VERSION
#define KAIDEN_VERSION "0.1.0"
#endif

static uv_timer_t timer;
static int timer_open, failing;
static char started_at[TIMESTAMP_LEN];

/* Writes the row: 0, or -1 when the database refused it (logged once per run). */
static int beat_write(void)
{
	struct store_beat b = {
		.instance = helperd.instance,
		.version = KAIDEN_VERSION,
		.started_at = started_at,
		.every_s = STATUS_EVERY_S,
		.agents = hub_count(),
		.relay_streams = relay_server_count(),
		.peer_address = relay_peer_address(),
	};
	long window_ms = 0;

	if (cf_budget_get(&b.cf_used, &b.cf_budget, &window_ms) == 0)
		b.cf_window_s = window_ms >= 1000 ? (int)(window_ms / 1000) : 1;
	else
		b.cf_budget = 0;
	if (store_status_beat(helperd.db, &b) != STORE_OK) {
		if (!failing)
			log_warn("worker=%s status: the heartbeat row was not written",
			         helperd.instance);
		failing = 1;
		return -1;
	}
	failing = 0;
	return 0;
}

static void beat(uv_timer_t *t)
{
	(void)t;
	if (!helperd.stopping)
		(void)beat_write();
}

int status_init(void)
{
	ids_timestamp(ids_now_ms(), started_at);
	uv_timer_init(helperd.loop, &timer);
	timer_open = 1;
	/* The first beat now, before the hub takes an agent: the row is the lease its
	 * agents' "online" is read through (STORE_SQL_DEVICE_ONLINE), and the one its job
	 * claims stand on. */
	if (beat_write() != 0) {
		log_error("worker=%s status: cannot write the heartbeat row; not starting",
		          helperd.instance);
		return -1;
	}
	uv_timer_start(&timer, beat, (uint64_t)STATUS_EVERY_S * 1000,
	               (uint64_t)STATUS_EVERY_S * 1000);
	return 0;
}

void status_shutdown(void)
{
	if (!timer_open)
		return;
	timer_open = 0;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
}
