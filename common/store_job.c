/* store_job.c: the jobs table, the outbox between kaiden-api and helperd.
 *
 * States: queued -> running (claimed: locked_by, locked_until = now + lease)
 *         running -> done | failed | queued (finish, by the lease holder only)
 *         running with locked_until in the past -> running (claimed again by anyone:
 *         the holder died or stalled; attempts counts every claim).
 *         running, its holder known dead -> running (claimed again at once, whatever
 *         locked_until says: issue 15, below).
 *
 * A claim is one UPDATE ... RETURNING. On PostgreSQL the rows are picked with FOR UPDATE
 * SKIP LOCKED, so concurrent claimers take different jobs without waiting for each
 * other; on SQLite a single write statement is serialised by the database lock, which
 * gives the same guarantee.
 *
 * Several helperds share the queue (issue 15): a session's job is claimed only by the
 * helperd that holds its device's agent, or by any when none can (CLAIM_ROUTED).
 *
 * A dead helperd's jobs at its lease's end, not the job's (issue 15): a running job
 * whose locked_by names another instance that has a helperd_status row which is not in
 * helperd_live (migration 0021: no beat for three of its intervals, 15 s) is due at
 * once (CLAIM_HOLDER_DEAD), so a start in flight when its helperd was SIGKILLed resumes
 * on the new holder of its agent within about 15 s, not the job lease's 120 s. A
 * helperd writes its row before it claims anything (helperd/status.c, main.c's order),
 * so a live claimer always has one; an instance with no row keeps the job's lease.
 * A helperd that was only slow (its loop stalled past three beats) may find its job
 * taken over: its finish is refused (store_job_finish: the holder only), its lease
 * renewal too, and the steps it may still run beside the new holder's are idempotent:
 * each object's id is on the session row before the next step, a create the other made
 * first (or whose reply was lost) is adopted by name, a teardown's 404 is done, and
 * status moves are conditional on the status they leave (store_tunnel_move). The one
 * step that is not, a start's compensation, asks first whether the job is still its
 * own (helperd/jobs.c, jobs_still_held). docs/decisions.md, "Issue 15: a dead
 * helperd's jobs at its lease's end, not the job's". */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_row.h"

#define CLAIM_SET                                                                         \
	"UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, "          \
	"attempts = attempts + 1, updated_at = $3 "
/* One operation per service at a time: a job naming a service is due only when no
 * other job of that service is running (whatever its lease: an expired one is claimed
 * again first) and none queued before it is still waiting. Both in the statement's
 * snapshot, so one claim never takes two jobs of a service; on PostgreSQL a job another
 * claimer has locked but not yet committed still reads as queued, and holds the later
 * ones back just the same. */
#define CLAIM_ONE_PER_SERVICE                                                             \
	"(j.service_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs o WHERE "                 \
	"o.service_id = j.service_id AND o.id <> j.id AND (o.state = 'running' OR "        \
	"(o.state = 'queued' AND o.id < j.id))))"
/* A session's job goes to the helperd holding its device's agent (devices.helperd, $1
 * when it is this one), which is the only one that can talk to it. It is held back
 * ("routed away") while another live helperd (helperd_live, migration 0021) holds that
 * agent, and, unless it is an end (which needs no agent: the tunnel is torn down and a
 * reconnecting agent stops a stray cloudflared itself), while no live helperd holds it
 * but it was seen after $5 (now - session.ready_timeout): its agent is most likely
 * reconnecting, and the hello that makes a helperd its holder wakes that helperd's claim
 * (hub.c). No claim spins on it meanwhile; once $5 passes it (an agent not coming back)
 * any helperd claims it, and the session fails as offline (session.c). */
#define CLAIM_ROUTED                                                                      \
	"NOT EXISTS (SELECT 1 FROM sessions s JOIN devices d ON d.id = s.device_id "        \
	"WHERE s.id = j.session_id AND (d.helperd IS NULL OR d.helperd <> $1) AND "         \
	"(EXISTS (SELECT 1 FROM helperd_live hl WHERE hl.instance = d.helperd) OR "         \
	"(j.kind <> 'session.end' AND d.last_seen >= $5)))"
/* A running job whose holder is known dead: another instance whose helperd_status row
 * exists and is not in helperd_live (three beats, 15 s, by the database's clock). An
 * instance with no row at all (none written yet: an older version; or pruned after a
 * week) keeps its lease until locked_until, and so does this instance's own job (its
 * restart requeues those: store_jobs_requeue). */
#define CLAIM_HOLDER_DEAD                                                                 \
	"(j.locked_by <> $1 AND EXISTS (SELECT 1 FROM helperd_status hs WHERE "             \
	"hs.instance = j.locked_by AND NOT EXISTS (SELECT 1 FROM helperd_live hl WHERE "    \
	"hl.instance = hs.instance)))"
#define CLAIM_DUE                                                                         \
	"SELECT j.id FROM jobs j WHERE ((j.state = 'queued' AND j.run_after <= $3) "      \
	"OR (j.state = 'running' AND (j.locked_until < $3 OR " CLAIM_HOLDER_DEAD "))) AND " \
	CLAIM_ONE_PER_SERVICE " AND (j.session_id IS NULL OR " CLAIM_ROUTED ") "            \
	"ORDER BY j.run_after, j.id LIMIT $4"
#define CLAIM_RETURNING                                                                   \
	" RETURNING id, tenant_id, kind, session_id, attempts, webhook_id, service_id, op_seq"

/* A MATERIALIZED CTE makes PostgreSQL lock the chosen rows once; a LIMIT subquery
 * under IN could be rescanned by some plans. */
static const char claim_pg[] =
	"WITH due AS MATERIALIZED (" CLAIM_DUE " FOR UPDATE SKIP LOCKED) " CLAIM_SET
	"FROM due WHERE jobs.id = due.id RETURNING jobs.id, jobs.tenant_id, jobs.kind, "
	"jobs.session_id, jobs.attempts, jobs.webhook_id, jobs.service_id, jobs.op_seq";
static const char claim_sqlite[] = CLAIM_SET "WHERE id IN (" CLAIM_DUE ")" CLAIM_RETURNING;

/* A queued job naming a session, a webhook or a service (the others NULL; a service's
 * with the op_seq it was queued with), and its NOTIFY. */
static int job_insert(struct db *db, const char *tenant_id, enum seam_job kind,
                      const char *session_id, const char *webhook_id, const char *service_id,
                      const char *op_seq, const char *now)
{
	char id[UUID_STR_LEN];
	const char *params[8] = { id,         tenant_id,  seam_job_name(kind), session_id, now,
		                  webhook_id, service_id, op_seq };
	int rc;

	ids_uuid7(id);
	rc = db_exec(db,
	             "INSERT INTO jobs (id, tenant_id, kind, session_id, webhook_id, service_id, "
	             "op_seq, state, run_after, attempts, created_at, updated_at) "
	             "VALUES ($1, $2, $3, $4, $6, $7, $8, 'queued', $5, 0, $5, $5)",
	             8, params, NULL);
	if (rc == DB_OK)
		rc = db_notify(db, seam_channel_name(SEAM_CHANNEL_JOBS), id);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_job_add(struct db *db, const char *tenant_id, enum seam_job kind,
                  const char *session_id, const char *now)
{
	return job_insert(db, tenant_id, kind, session_id, NULL, NULL, NULL, now);
}

int store_job_add_webhook(struct db *db, const char *tenant_id, const char *webhook_id,
                          const char *now)
{
	return job_insert(db, tenant_id, SEAM_JOB_WEBHOOK_DELIVER, NULL, webhook_id, NULL, NULL,
	                  now);
}

int store_job_add_service(struct db *db, const char *tenant_id, enum seam_job kind,
                          const char *service_id, long long op_seq, const char *now)
{
	char seq[24];

	snprintf(seq, sizeof(seq), "%lld", op_seq);
	return job_insert(db, tenant_id, kind, NULL, NULL, service_id, seq, now);
}

int store_jobs_claim(struct db *db, const char *worker, int lease_seconds,
                     int agent_wait_seconds, int max, struct store_job *jobs, int *n)
{
	char until[TIMESTAMP_LEN], now[TIMESTAMP_LEN], limit[16], seen[TIMESTAMP_LEN];
	const char *params[5] = { worker, until, now, limit, seen };
	struct db_res *res = NULL;
	int rows, rc;

	if (!worker || !worker[0] || lease_seconds < 1 || agent_wait_seconds < 0 || max < 0 ||
	    (max > 0 && !jobs)) {
		log_error("jobs claim: bad arguments (worker, lease_seconds >= 1, "
		          "agent_wait_seconds >= 0, max >= 0)");
		return STORE_ERR;
	}
	if (max == 0) {
		*n = 0;
		return STORE_OK;
	}
	store_time(0, now);
	store_time(lease_seconds, until);
	store_time(-agent_wait_seconds, seen);
	snprintf(limit, sizeof(limit), "%d", max);
	rc = db_exec(db, db_kind(db) == DB_POSTGRES ? claim_pg : claim_sqlite, 5, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rows = db_res_rows(res);
	if (rows > max) {
		log_error("worker=%s claim returned %d jobs for %d asked", worker, rows, max);
		rc = STORE_ERR;
		goto out;
	}
	for (int i = 0; i < rows; i++) {
		struct store_job *j = &jobs[i];
		memset(j, 0, sizeof(*j));
		store_text_copy(j->id, sizeof(j->id), db_res_get(res, i, 0));
		store_text_copy(j->tenant_id, sizeof(j->tenant_id), db_res_get(res, i, 1));
		store_text_copy(j->kind, sizeof(j->kind), db_res_get(res, i, 2));
		store_text_copy(j->session_id, sizeof(j->session_id), db_res_get(res, i, 3));
		j->attempts = atoi(db_res_get(res, i, 4) ? db_res_get(res, i, 4) : "0");
		store_text_copy(j->webhook_id, sizeof(j->webhook_id), db_res_get(res, i, 5));
		store_text_copy(j->service_id, sizeof(j->service_id), db_res_get(res, i, 6));
		j->op_seq = db_res_get(res, i, 7) ? strtoll(db_res_get(res, i, 7), NULL, 10) : 0;
	}
	*n = rows;
	rc = STORE_OK;
out:
	db_res_free(res);
	return rc;
}

int store_job_finish(struct db *db, const char *job_id, const char *worker,
                     const char *state, const char *error, int retry_seconds)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN], run_after[TIMESTAMP_LEN];
	const char *params[6] = { id, worker, now, state, error, run_after };
	struct db_res *res = NULL;
	int rc;

	if (store_id(job_id, id) != 0)
		return STORE_NOT_FOUND;
	if (!worker || !state ||
	    (strcmp(state, "done") != 0 && strcmp(state, "failed") != 0 &&
	     strcmp(state, "queued") != 0)) {
		log_error("job=%s finish: state must be done, failed or queued", id);
		return STORE_ERR;
	}
	store_time(0, now);
	store_time(retry_seconds > 0 ? retry_seconds : 0, run_after);
	/* Only the lease holder: a job reclaimed after its lease ran out has a new holder,
	 * and the old one's late answer must not overwrite the new run. */
	if (strcmp(state, "queued") == 0)
		rc = db_exec(db,
		             "UPDATE jobs SET state = $4, last_error = $5, run_after = $6, "
		             "locked_until = NULL, updated_at = $3 "
		             "WHERE id = $1 AND state = 'running' AND locked_by = $2",
		             6, params, NULL);
	else
		rc = db_exec(db,
		             "UPDATE jobs SET state = $4, last_error = $5, locked_until = NULL, "
		             "updated_at = $3 WHERE id = $1 AND state = 'running' AND locked_by = $2",
		             5, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	if (db_changes(db) == 1)
		return STORE_OK;
	rc = db_exec(db, "SELECT id FROM jobs WHERE id = $1", 1, params, &res);
	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_res_rows(res) == 0 ? STORE_NOT_FOUND : STORE_CONFLICT;
	db_res_free(res);
	return rc;
}

int store_jobs_requeue(struct db *db, const char *worker, long *n)
{
	char now[TIMESTAMP_LEN];
	const char *params[2] = { worker, now };
	int rc;

	if (!worker || !worker[0]) {
		log_error("jobs requeue: no worker name");
		return STORE_ERR;
	}
	store_time(0, now);
	rc = db_exec(db,
	             "UPDATE jobs SET state = 'queued', run_after = $2, locked_until = NULL, "
	             "updated_at = $2 WHERE state = 'running' AND locked_by = $1",
	             2, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	if (n)
		*n = db_changes(db);
	return STORE_OK;
}

int store_jobs_renew(struct db *db, const char *worker, const char *const *job_ids, int n,
                     int lease_seconds, int *renewed)
{
	char until[TIMESTAMP_LEN], id[UUID_STR_LEN];
	const char *params[3] = { id, worker, until };
	int count = 0, rc;

	if (!worker || !worker[0] || lease_seconds < 1 || n < 0 || (n > 0 && !job_ids)) {
		log_error("jobs renew: bad arguments (worker, lease_seconds >= 1, n >= 0)");
		return STORE_ERR;
	}
	store_time(lease_seconds, until);
	/* One short statement per job: a helperd runs few jobs at a time (sessions being
	 * set up or torn down), and each is then a cached statement. */
	for (int i = 0; i < n; i++) {
		if (store_id(job_ids[i], id) != 0)
			continue;
		rc = db_exec(db,
		             "UPDATE jobs SET locked_until = $3 "
		             "WHERE id = $1 AND state = 'running' AND locked_by = $2",
		             3, params, NULL);
		if (rc != DB_OK)
			return store_rc_of(rc);
		count += (int)db_changes(db);
	}
	if (renewed)
		*renewed = count;
	return STORE_OK;
}
