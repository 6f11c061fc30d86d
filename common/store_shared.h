/* store_shared.h: what several kaiden-helperds on one database share (issue 15; tables
 * cf_budget and sweep_turns, migration 0022): Cloudflare's call budget, which is the
 * account's and not one helperd's, and the periodic sweep's turn, so that the sweep runs
 * on one helperd at a time and once per period among all of them. helperd's connection
 * only (a direct one on PostgreSQL: the sweep's lock is a session-level advisory lock,
 * which a transaction-mode pooler would not keep). The same code on SQLite, where one
 * helperd runs: the rows are the truth there too; the lock is always granted. */
#ifndef KAIDEN_STORE_SHARED_H
#define KAIDEN_STORE_SHARED_H

#include <stdint.h>
#include "compat.h"

struct db;

/* ---- the Cloudflare budget -------------------------------------------------------------
 * One token bucket per account with cf_budget.h's rates (a burst of ceil(budget / 4),
 * the rest of the budget refilled per window_ms): never more than budget takes in any
 * span of window_ms. Takes one token for one request, counted in one statement before
 * the request is sent (one round trip): *took 1 when it got one, 0 when the bucket is
 * spent; *tokens what the bucket holds after (when refused, the next token is
 * cf_bucket_wait_ms(1) away). now_ms: the caller's wall clock (ids_now_ms); a clock
 * behind the row's refills nothing and never moves the row back. account: 1..200
 * characters; budget >= CF_BUDGET_MIN, window_ms >= 1. */
int store_cf_budget_take(struct db *db, const char *account, int64_t now_ms, int budget,
                         long window_ms, int *took, double *tokens) WUR;

/* ---- the sweep's turn ------------------------------------------------------------------
 * store_sweep_lock: PostgreSQL: pg_try_advisory_lock for this schema (session level: held
 * until store_sweep_unlock or until the connection ends, so a helperd that dies in
 * mid-sweep lets the next one in as soon as PostgreSQL sees its connection gone); *got 1
 * when this connection holds it now. Do not take it again while held (it would stack).
 * SQLite: *got 1. */
int store_sweep_lock(struct db *db, int *got) WUR;
/* Gives the lock back (logged when it was not held: the connection was made again
 * meanwhile). SQLite: nothing. */
int store_sweep_unlock(struct db *db) WUR;
/* Claims the turn named name for instance at now_ms when the last claim of anyone is at
 * least min_gap_ms old (or more than min_gap_ms in the future: a clock set back does
 * not stop the sweeps): *claimed 1 and the row is ours, else 0. One statement. */
int store_sweep_turn(struct db *db, const char *name, const char *instance, int64_t now_ms,
                     long min_gap_ms, int *claimed) WUR;

#endif
