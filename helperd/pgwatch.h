/* pgwatch.h: wakes the jobs module when the database says there may be new work.
 *
 * PostgreSQL: a connection of its own (database.dsn) LISTENs on kaiden_jobs; it is
 * watched with a uv_poll_t on the loop, and each notification kicks jobs. When the
 * connection is lost (PostgreSQL restarted, network gone) it reconnects with backoff,
 * LISTENs again and kicks jobs, because a notification sent meanwhile was lost.
 *
 * SQLite (no NOTIFY): every helperd.poll_ms, and a moment after a write to the database's
 * files (a uv_fs_event on its directory), it reads PRAGMA data_version on the loop's
 * connection, which changes when another connection (kaiden-api) commits, and kicks
 * jobs when it does.
 *
 * Either way jobs.c also claims on a slow timer of its own: a lost wake-up costs
 * latency, never work. */
#ifndef KAIDEN_PGWATCH_H
#define KAIDEN_PGWATCH_H

#include "compat.h"

int pgwatch_init(void) WUR;
void pgwatch_shutdown(void);
/* 1 while the LISTEN connection is up (always 1 on SQLite). */
int pgwatch_listening(void);

#endif
