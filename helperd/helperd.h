/* helperd.h: what every helperd module shares: one libuv loop that drives everything
 * (libwebsockets as a foreign loop, libpq's socket, libcurl multi, timers), and one
 * database connection used from that loop.
 *
 * Database calls on the loop are short and blocking (a local PostgreSQL or SQLite file
 * answers in well under a millisecond); anything slow (argon2id verification) runs on
 * libuv's thread pool with uv_queue_work and reports back on the loop. Per-heartbeat
 * writes are batched (hub.c). */
#ifndef KAIDEN_HELPERD_H
#define KAIDEN_HELPERD_H

#include <uv.h>
#include "compat.h"

struct db;

struct helperd {
	uv_loop_t *loop;
	struct db *db;       /* the loop's connection */
	char instance[128];  /* this helperd's name in job leases and agent ownership */
	int stopping;        /* set once shutdown has begun: take no new work */
};

/* The one instance (main.c). */
extern struct helperd helperd;

#endif
