/* store_shared.c: what helperds on one database share (store_shared.h; tables cf_budget
 * and sweep_turns, sql/pg and sql/sqlite 0022_helperd_shared.sql).
 *
 * The budget is a token bucket kept in a row and spent in one statement: INSERT ... ON
 * CONFLICT DO UPDATE ... RETURNING. The SET refills the bucket for the time since the row
 * was last touched, caps it at the burst, takes a token when there is a whole one, and
 * records whether it did (took), all from the old row's values; RETURNING hands back the
 * new row, which is ours alone because the statement held the row's lock (on SQLite, the
 * write lock). So two helperds' takes count one after the other, and a refusal costs the
 * same single round trip as a take.
 *
 * The rates are common/cf_budget.h's, the same sums as helperd's own bucket: a burst of
 * ceil(budget / 4) and the rest of the budget refilled per window, so that no span of a
 * window, however placed, sees more than budget takes (a bucket of budget refilled at
 * budget per window, as this was first, let 2 x budget through: issue 15). A row written
 * with the old rates holds more than the burst: the next take caps it. */
#include "store_shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_budget.h"
#include "db.h"
#include "log.h"
#include "store.h"
#include "store_row.h"

/* $1 account, $2 now (ms), $3 the burst (capacity), $4 window (ms), $5 the refill per
 * window. ELAPSED is 0 for a clock behind the row's; HAVE is what the bucket holds now,
 * refilled and capped (cf_bucket_fill in SQL). */
#define BUDGET_ELAPSED                                                                   \
	"(CASE WHEN excluded.refilled_ms > cf_budget.refilled_ms "                          \
	"THEN excluded.refilled_ms - cf_budget.refilled_ms ELSE 0 END)"
#define BUDGET_FILLED                                                                    \
	"(cf_budget.tokens + " BUDGET_ELAPSED " * CAST($5 AS double precision) / "           \
	"CAST($4 AS double precision))"
#define BUDGET_HAVE                                                                      \
	"(CASE WHEN " BUDGET_FILLED " >= CAST($3 AS double precision) "                     \
	"THEN CAST($3 AS double precision) ELSE " BUDGET_FILLED " END)"

static const char budget_take_sql[] =
	"INSERT INTO cf_budget (account, tokens, refilled_ms, took) "
	"VALUES ($1, CAST($3 AS double precision) - 1, CAST($2 AS bigint), 1) "
	"ON CONFLICT (account) DO UPDATE SET "
	"tokens = " BUDGET_HAVE " - CASE WHEN " BUDGET_HAVE " >= 1 THEN 1 ELSE 0 END, "
	"took = CASE WHEN " BUDGET_HAVE " >= 1 THEN 1 ELSE 0 END, "
	"refilled_ms = CASE WHEN excluded.refilled_ms > cf_budget.refilled_ms "
	"THEN excluded.refilled_ms ELSE cf_budget.refilled_ms END "
	"RETURNING tokens, took";

int store_cf_budget_take(struct db *db, const char *account, int64_t now_ms, int budget,
                         long window_ms, int *took, double *tokens)
{
	char now[24], cap[16], window[24], rate[16];
	const char *params[5] = { account, now, cap, window, rate };
	struct db_res *res = NULL;
	const char *t, *k;
	char *end;
	double left;
	int rc;

	if (!account || !account[0] || strlen(account) > 200 || budget < CF_BUDGET_MIN ||
	    window_ms < 1)
		return STORE_ERR;
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(cap, sizeof(cap), "%d", cf_budget_capacity(budget));
	snprintf(window, sizeof(window), "%ld", window_ms);
	snprintf(rate, sizeof(rate), "%d", cf_budget_refill(budget));
	rc = db_exec(db, budget_take_sql, 5, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_ERR;
	t = db_res_rows(res) == 1 ? db_res_get(res, 0, 0) : NULL;
	k = db_res_rows(res) == 1 ? db_res_get(res, 0, 1) : NULL;
	if (!t || !k) {
		log_error("cf budget account=%s: the take returned no row", account);
		goto out;
	}
	left = strtod(t, &end);
	if (end == t) {
		log_error("cf budget account=%s: an unreadable token count", account);
		goto out;
	}
	*took = strcmp(k, "1") == 0;
	*tokens = left;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

/* ---- the sweep's turn --------------------------------------------------------------------
 * The lock is PostgreSQL's two-key advisory lock: a fixed number and this schema's name
 * hashed, so two installs in two schemas of one database do not wait for each other. */
#define SWEEP_LOCK_KEY "1262835521, hashtext(current_schema())"

/* Runs a lock function's SELECT: *held 1 when it said true. */
static int lock_call(struct db *db, const char *sql, int *held)
{
	char v[4];
	int rc = store_one_value(db, sql, 0, NULL, v, sizeof(v), NULL);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return STORE_ERR;
	*held = strcmp(v, "1") == 0;
	return STORE_OK;
}

int store_sweep_lock(struct db *db, int *got)
{
	if (db_kind(db) != DB_POSTGRES) {
		*got = 1;
		return STORE_OK;
	}
	return lock_call(db, "SELECT CASE WHEN pg_try_advisory_lock(" SWEEP_LOCK_KEY ") "
	                     "THEN 1 ELSE 0 END", got);
}

int store_sweep_unlock(struct db *db)
{
	int was = 0, rc;

	if (db_kind(db) != DB_POSTGRES)
		return STORE_OK;
	rc = lock_call(db, "SELECT CASE WHEN pg_advisory_unlock(" SWEEP_LOCK_KEY ") "
	                   "THEN 1 ELSE 0 END", &was);
	if (rc == STORE_OK && !was)
		log_warn("sweep: the sweep lock was not held any more when given back (the "
		         "database connection was made again during the sweep)");
	return rc;
}

int store_sweep_turn(struct db *db, const char *name, const char *instance, int64_t now_ms,
                     long min_gap_ms, int *claimed)
{
	char now[24], gap[24];
	const char *params[4] = { name, now, instance, gap };
	int rc;

	if (!name || !name[0] || !instance || !instance[0] || min_gap_ms < 0)
		return STORE_ERR;
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(gap, sizeof(gap), "%ld", min_gap_ms);
	rc = store_one_value(db,
	             "INSERT INTO sweep_turns (name, started_ms, instance) "
	             "VALUES ($1, CAST($2 AS bigint), $3) "
	             "ON CONFLICT (name) DO UPDATE SET started_ms = excluded.started_ms, "
	             "instance = excluded.instance "
	             "WHERE sweep_turns.started_ms <= excluded.started_ms - CAST($4 AS bigint) "
	             "OR sweep_turns.started_ms > excluded.started_ms + CAST($4 AS bigint) "
	             "RETURNING instance",
	             4, params, NULL, 0, NULL);
	if (rc < 0)
		return rc;
	*claimed = rc == 1;
	return STORE_OK;
}
