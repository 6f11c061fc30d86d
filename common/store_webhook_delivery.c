/* store_webhook_delivery.c: the delivery side of webhooks (store_webhook_delivery.h).
 *
 * A delivery row (webhook_deliveries):
 *
 *     pending --(2xx)--> delivered
 *        |  ^
 *        +--+ (anything else: attempts + 1, next_attempt_at = now + backoff)
 *
 * and the hook (webhooks.status): active --(failing_since give_up old, at a failure)-->
 * disabled --(an administrator: store_webhook_update)--> active. Rows end as failed only when their hook
 * is deleted (the cascade removes them). A delivered (or failed) row is deleted
 * webhooks.keep_days after its last activity (store_webhook_prune), its event with the
 * last of its deliveries; a pending row stays. The hook's lease serialises the holders;
 * every write here checks that the writer still holds it, inside the transaction that
 * writes (on PostgreSQL the hook row is locked FOR UPDATE first, SQLite's BEGIN
 * IMMEDIATE serialises anyway), so a holder whose lease was taken over writes nothing. */
#include "store_webhook_delivery.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_auth.h"
#include "store_row.h"

#define AUDIT_ACTOR "(kaiden-helperd)"

int store_webhook_backoff(int attempts, int base, int max)
{
	long long wait = base < 1 ? 1 : base;

	if (max < 1)
		max = 1;
	/* Doubling stops at max: no shift that could overflow. */
	for (int i = 1; i < attempts && wait < max; i++)
		wait *= 2;
	return wait > max ? max : (int)wait;
}

void store_webhook_work_clear(struct store_webhook_work *work)
{
	if (!work)
		return;
	free(work->body);
	memset(work, 0, sizeof(*work));
}

/* The state of a hook whose lease could not be taken. */
static int state_of(struct db *db, const char *hook, enum store_webhook_state *state)
{
	char status[16];
	const char *params[1] = { hook };
	int rc = store_one_value(db, "SELECT status FROM webhooks WHERE id = $1", 1, params,
	                         status, sizeof(status), NULL);

	if (rc < 0)
		return rc;
	if (rc == 0)
		*state = STORE_WEBHOOK_GONE;
	else if (strcmp(status, "active") != 0)
		*state = STORE_WEBHOOK_DISABLED;
	else
		*state = STORE_WEBHOOK_BUSY;
	return STORE_OK;
}

/* The oldest pending delivery of hook into w (w->has_delivery 0 when none). */
static int oldest_pending(struct db *db, const char *hook, struct store_webhook_work *w)
{
	const char *params[1] = { hook };
	struct db_res *res = NULL;
	const char *body;
	int rc;

	rc = db_exec(db,
	             "SELECT d.id, d.event_id, d.tenant_id, e.type, d.attempts, "
	             "d.next_attempt_at, e.body FROM webhook_deliveries d "
	             "JOIN webhook_events e ON e.id = d.event_id "
	             "WHERE d.webhook_id = $1 AND d.status = 'pending' ORDER BY d.id LIMIT 1",
	             1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_OK;
	if (db_res_rows(res) == 0)
		goto out;
	body = db_res_get(res, 0, 6);
	if (!body || ids_timestamp_ms(db_res_get(res, 0, 5), &w->next_attempt_ms) != 0) {
		log_error("webhook=%s delivery=%s has no body or a bad next_attempt_at", hook,
		          db_res_get(res, 0, 0));
		rc = STORE_ERR;
		goto out;
	}
	w->body_len = strlen(body);
	w->body = strdup(body);
	if (!w->body) {
		rc = STORE_ERR;
		goto out;
	}
	store_text_copy(w->delivery_id, sizeof(w->delivery_id), db_res_get(res, 0, 0));
	store_text_copy(w->event_id, sizeof(w->event_id), db_res_get(res, 0, 1));
	store_text_copy(w->event_tenant_id, sizeof(w->event_tenant_id), db_res_get(res, 0, 2));
	store_text_copy(w->event_type, sizeof(w->event_type), db_res_get(res, 0, 3));
	w->attempts = atoi(db_res_get(res, 0, 4) ? db_res_get(res, 0, 4) : "0");
	w->has_delivery = 1;
out:
	db_res_free(res);
	return rc;
}

int store_webhook_take(struct db *db, const char *hook_id, const char *holder,
                       int lease_seconds, enum store_webhook_state *state,
                       struct store_webhook_work *work)
{
	char hook[UUID_STR_LEN], now[TIMESTAMP_LEN], until[TIMESTAMP_LEN];
	const char *params[4] = { hook, holder, until, now };
	struct store_webhook_work w;
	struct db_res *res = NULL;
	int rc;

	memset(&w, 0, sizeof(w));
	if (store_id(hook_id, hook) != 0)
		return STORE_NOT_FOUND;
	if (!holder || !holder[0] || strlen(holder) >= STORE_WEBHOOK_HOLDER_MAX ||
	    lease_seconds < 1) {
		log_error("webhook=%s take: bad arguments (holder, lease_seconds >= 1)", hook);
		return STORE_ERR;
	}
	store_time(0, now);
	store_time(lease_seconds, until);
	rc = db_exec(db,
	             "UPDATE webhooks SET locked_by = $2, locked_until = $3 "
	             "WHERE id = $1 AND status = 'active' "
	             "AND (locked_until IS NULL OR locked_until < $4 OR locked_by = $2) "
	             "RETURNING tenant_id, url, secret_sealed",
	             4, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = state_of(db, hook, state);
		goto out;
	}
	store_text_copy(w.hook_id, sizeof(w.hook_id), hook);
	store_text_copy(w.hook_tenant_id, sizeof(w.hook_tenant_id), db_res_get(res, 0, 0));
	store_text_copy(w.url, sizeof(w.url), db_res_get(res, 0, 1));
	store_text_copy(w.secret_sealed, sizeof(w.secret_sealed), db_res_get(res, 0, 2));
	rc = oldest_pending(db, hook, &w);
	if (rc != STORE_OK)
		goto out;
	*state = STORE_WEBHOOK_READY;
	*work = w;
	memset(&w, 0, sizeof(w));
out:
	store_webhook_work_clear(&w);
	db_res_free(res);
	return rc;
}

int store_webhook_release(struct db *db, const char *hook_id, const char *holder)
{
	char hook[UUID_STR_LEN];
	const char *params[2] = { hook, holder };
	int rc;

	if (store_id(hook_id, hook) != 0 || !holder)
		return STORE_OK;
	rc = db_exec(db,
	             "UPDATE webhooks SET locked_by = NULL, locked_until = NULL "
	             "WHERE id = $1 AND locked_by = $2",
	             2, params, NULL);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

/* Disables the hook after give_up seconds of failures, with its audit entry. */
static int disable(struct db *db, const char *hook, const char *hook_tenant,
                   const char *failing_since, const struct store_webhook_attempt *a,
                   const char *now)
{
	char reason[STORE_WEBHOOK_ERROR_MAX + 128], status[16];
	const char *params[3] = { hook, reason, now };
	struct store_audit audit;
	json_object *details;
	int rc;

	if (a->status > 0)
		snprintf(status, sizeof(status), "HTTP %d", a->status);
	snprintf(reason, sizeof(reason), "deliveries failing since %s (last: %s)", failing_since,
	         a->status > 0 ? status : a->error && a->error[0] ? a->error : "no answer");
	rc = db_exec(db,
	             "UPDATE webhooks SET status = 'disabled', disabled_reason = $2, "
	             "updated_at = $3 WHERE id = $1",
	             3, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	details = json_object_new_object();
	json_object_object_add(details, "reason", json_object_new_string(reason));
	json_object_object_add(details, "failing_since", json_object_new_string(failing_since));
	json_object_object_add(details, "delivery_id", json_object_new_string(a->delivery_id));
	memset(&audit, 0, sizeof(audit));
	audit.tenant_id = hook_tenant[0] ? hook_tenant : NULL;
	audit.actor_email = AUDIT_ACTOR;
	audit.action = "webhook.disable";
	audit.target_type = "webhook";
	audit.target_id = hook;
	audit.details = details;
	rc = store_audit_add(db, &audit);
	json_object_put(details);
	return rc;
}

/* A failed attempt on the pending delivery (attempts made before it: done). */
static int record_failure(struct db *db, const char *hook, const char *delivery, int done,
                          const struct store_webhook_attempt *a,
                          const struct store_webhook_policy *p, const char *now,
                          struct store_webhook_outcome *out)
{
	char attempts[16], last_status[16], ms[16], next[TIMESTAMP_LEN];
	char error[STORE_WEBHOOK_ERROR_MAX];
	int wait = store_webhook_backoff(done + 1, p->retry_base, p->retry_max);
	const char *params[8] = { delivery, attempts, a->status > 0 ? last_status : NULL, error,
		                  now, ms, next, hook };
	int rc;

	snprintf(attempts, sizeof(attempts), "%d", done + 1);
	snprintf(last_status, sizeof(last_status), "%d", a->status);
	snprintf(ms, sizeof(ms), "%d", a->response_ms > 0 ? a->response_ms : 0);
	snprintf(error, sizeof(error), "%s",
	         a->error && a->error[0] ? a->error : "the receiver did not answer 2xx");
	store_time(wait, next);
	rc = db_exec(db,
	             "UPDATE webhook_deliveries SET attempts = $2, last_status = $3, "
	             "last_error = $4, last_attempt_at = $5, response_ms = $6, "
	             "first_failed_at = coalesce(first_failed_at, $5), next_attempt_at = $7 "
	             "WHERE id = $1 AND webhook_id = $8 AND status = 'pending'",
	             8, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	{
		const char *hp[2] = { hook, now };
		rc = db_exec(db,
		             "UPDATE webhooks SET failing_since = coalesce(failing_since, $2) "
		             "WHERE id = $1",
		             2, hp, NULL);
	}
	if (rc != DB_OK)
		return store_rc_of(rc);
	out->retry_seconds = wait;
	return STORE_OK;
}

int store_webhook_record(struct db *db, const char *holder,
                         const struct store_webhook_attempt *a,
                         const struct store_webhook_policy *p,
                         struct store_webhook_outcome *out)
{
	char hook[UUID_STR_LEN], delivery[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char hook_tenant[UUID_STR_LEN], failing_since[TIMESTAMP_LEN], give_up_at[TIMESTAMP_LEN];
	const char *params[2] = { hook, holder };
	struct store_webhook_outcome o = { 0, 0 };
	struct db_res *res = NULL;
	int rc, done;

	if (!a || !p || store_id(a->hook_id, hook) != 0 ||
	    store_id(a->delivery_id, delivery) != 0)
		return STORE_NOT_FOUND;
	if (!holder || !holder[0])
		return STORE_ERR;
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	store_time(0, now);
	/* The lease first: a holder that lost it writes nothing. */
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES
	                     ? "SELECT tenant_id, failing_since FROM webhooks "
	                       "WHERE id = $1 AND locked_by = $2 FOR UPDATE"
	                     : "SELECT tenant_id, failing_since FROM webhooks "
	                       "WHERE id = $1 AND locked_by = $2",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_CONFLICT;
		goto out;
	}
	store_text_copy(hook_tenant, sizeof(hook_tenant), db_res_get(res, 0, 0));
	store_text_copy(failing_since, sizeof(failing_since), db_res_get(res, 0, 1));
	db_res_free(res);
	res = NULL;
	{
		const char *dp[2] = { delivery, hook };
		rc = db_exec(db,
		             "SELECT attempts, status FROM webhook_deliveries "
		             "WHERE id = $1 AND webhook_id = $2",
		             2, dp, &res);
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (strcmp(db_res_get(res, 0, 1), "pending") != 0) {
		rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR; /* someone else's, recorded */
		goto out;
	}
	done = atoi(db_res_get(res, 0, 0) ? db_res_get(res, 0, 0) : "0");
	if (a->delivered) {
		char attempts[16], last_status[16], ms[16];
		const char *dp[5] = { delivery, attempts, last_status, ms, now };
		snprintf(attempts, sizeof(attempts), "%d", done + 1);
		snprintf(last_status, sizeof(last_status), "%d", a->status);
		snprintf(ms, sizeof(ms), "%d", a->response_ms > 0 ? a->response_ms : 0);
		rc = db_exec(db,
		             "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, "
		             "last_status = $3, response_ms = $4, last_attempt_at = $5, "
		             "delivered_at = $5 WHERE id = $1 AND status = 'pending'",
		             5, dp, NULL);
		if (rc == DB_OK)
			rc = db_exec(db, "UPDATE webhooks SET failing_since = NULL WHERE id = $1", 1,
			             params, NULL);
		rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
	} else {
		rc = record_failure(db, hook, delivery, done, a, p, now, &o);
		if (rc == STORE_OK && !failing_since[0])
			store_text_copy(failing_since, sizeof(failing_since), now);
		store_time(-p->give_up, give_up_at);
		/* Both stamps are the store's own RFC 3339 form: they compare as text. */
		if (rc == STORE_OK && strcmp(failing_since, give_up_at) <= 0) {
			rc = disable(db, hook, hook_tenant, failing_since, a, now);
			o.disabled = rc == STORE_OK;
		}
	}
	if (rc != STORE_OK)
		goto out;
	rc = db_commit(db);
	rc = rc == DB_OK ? STORE_OK : store_rc_of(rc);
out:
	if (rc != STORE_OK)
		db_rollback(db);
	else
		*out = o;
	db_res_free(res);
	return rc;
}

int store_webhook_prune(struct db *db, int keep_days, long limit,
                        struct store_webhook_pruned *out)
{
	char cutoff[TIMESTAMP_LEN], max[24];
	const char *params[2] = { cutoff, max };
	struct store_webhook_pruned n = { 0, 0 };
	int rc;

	if (keep_days < 1 || keep_days > INT_MAX / 86400 || limit < 1) {
		log_error("webhook prune: bad arguments (keep_days %d, limit %ld)", keep_days, limit);
		return STORE_ERR;
	}
	store_time(-keep_days * 86400, cutoff);
	snprintf(max, sizeof(max), "%ld", limit);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	/* LIMIT in a subquery: DELETE ... LIMIT is neither PostgreSQL's nor (by default)
	 * SQLite's. Delivered and failed rows are final (store_webhook_record changes only
	 * pending ones), so nothing races this. */
	rc = db_exec(db,
	             "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
	             "WHERE status IN ('delivered', 'failed') "
	             "AND coalesce(delivered_at, last_attempt_at, created_at) < $1 "
	             "LIMIT CAST($2 AS bigint))",
	             2, params, NULL);
	if (rc != DB_OK)
		goto out;
	n.deliveries = db_changes(db);
	rc = db_exec(db,
	             "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e "
	             "WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) "
	             "LIMIT CAST($1 AS bigint))",
	             1, params + 1, NULL);
	if (rc != DB_OK)
		goto out;
	n.events = db_changes(db);
	rc = db_commit(db);
out:
	if (rc != DB_OK) {
		db_rollback(db);
		return store_rc_of(rc);
	}
	*out = n;
	return STORE_OK;
}
