/* store_webhook_delivery.h: what helperd's webhook delivery reads and writes (issue 11).
 * Conventions as store.h. helperd's connection serves every tenant (kaiden.staff on).
 *
 * One hook delivers one event at a time, oldest first (webhook_deliveries by id), so a
 * receiver sees a hook's events in order: a delivery that fails holds every later one
 * back until it succeeds. The hook's lease (webhooks.locked_by, locked_until) makes that
 * hold whatever the number of helperds and of "webhook.deliver" jobs for the hook: only
 * the holder sends. A holder names one run of one job ("<instance>/<job id>"), so two
 * jobs of one helperd exclude each other too.
 *
 * A failed attempt is retried after min(retry_base * 2^(attempts - 1), retry_max)
 * seconds. webhooks.failing_since is when the hook's current run of failures began
 * (set by a failure when it is NULL, cleared by a success and by a re-enable);
 * once it is give_up seconds old a failure disables the hook, with an audit entry
 * (webhook.disable, actor "(kaiden-helperd)"). Its pending deliveries stay pending:
 * re-enabling the hook (store_webhook_update in common/store_webhook.h, which queues a
 * job) sends them, in order, at least once. */
#ifndef KAIDEN_STORE_WEBHOOK_DELIVERY_H
#define KAIDEN_STORE_WEBHOOK_DELIVERY_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"
#include "ids.h"
#include "webhook_secret.h"

struct db;

#define STORE_WEBHOOK_HOLDER_MAX 192  /* instance (127) + "/" + job id + NUL */
#define STORE_WEBHOOK_URL_MAX 2049
#define STORE_WEBHOOK_TYPE_MAX 65
#define STORE_WEBHOOK_ERROR_MAX 256   /* last_error is cut to this (NUL included) */

/* What store_webhook_take found. */
enum store_webhook_state {
	STORE_WEBHOOK_READY,    /* leased; work.has_delivery says whether one is pending */
	STORE_WEBHOOK_BUSY,     /* another holder's lease has not run out */
	STORE_WEBHOOK_DISABLED, /* not leased: the hook is disabled */
	STORE_WEBHOOK_GONE,     /* no such hook (deleted) */
};

/* The leased hook and its oldest pending delivery. */
struct store_webhook_work {
	char hook_id[UUID_STR_LEN];
	char hook_tenant_id[UUID_STR_LEN];   /* "" for a platform-wide hook */
	char url[STORE_WEBHOOK_URL_MAX];
	char secret_sealed[WEBHOOK_SEALED_MAX];
	int has_delivery;                    /* 0: nothing pending; the fields below are "" */
	char delivery_id[UUID_STR_LEN];
	char event_id[UUID_STR_LEN];
	char event_tenant_id[UUID_STR_LEN];
	char event_type[STORE_WEBHOOK_TYPE_MAX];
	int attempts;                        /* attempts made so far */
	int64_t next_attempt_ms;             /* when it is due (Unix ms) */
	char *body;                          /* owned (store_webhook_work_clear): exact bytes */
	size_t body_len;
};

/* Takes (or renews, for the same holder) the lease on hook_id until now + lease_seconds,
 * and when *state is STORE_WEBHOOK_READY fills *work with the hook (url, sealed secret,
 * read again at every call: a PATCH between two attempts counts) and its oldest pending
 * delivery. *work is written only when READY (clear it with store_webhook_work_clear).
 * STORE_OK with *state, STORE_NOT_FOUND for an id that is not a UUID, or STORE_ERR /
 * STORE_BUSY. */
int store_webhook_take(struct db *db, const char *hook_id, const char *holder,
                       int lease_seconds, enum store_webhook_state *state,
                       struct store_webhook_work *work) WUR;
void store_webhook_work_clear(struct store_webhook_work *work);

/* Gives the lease up (only holder's). STORE_OK (also when it was no longer held). */
int store_webhook_release(struct db *db, const char *hook_id, const char *holder) WUR;

/* The retry policy (cfg webhooks.retry_base, retry_max, give_up; seconds). */
struct store_webhook_policy {
	int retry_base;
	int retry_max;
	int give_up;
};

/* One attempt's result. */
struct store_webhook_attempt {
	const char *hook_id;
	const char *delivery_id;
	int delivered;        /* 1: a 2xx answer */
	int status;           /* the HTTP status, 0 when there was none */
	const char *error;    /* failure: a sentence (no secret), cut to STORE_WEBHOOK_ERROR_MAX */
	int response_ms;      /* time the attempt took */
};

/* What store_webhook_record decided. */
struct store_webhook_outcome {
	int retry_seconds;    /* failure: the wait before the next attempt (0 when delivered) */
	int disabled;         /* 1: this failure disabled the hook (give_up reached) */
};

/* Records attempt a of holder (who must still hold the lease: STORE_CONFLICT when not,
 * nothing written). Delivered: status delivered, delivered_at, response_ms, last_status;
 * the hook's failing_since cleared. Failed: attempts + 1, last_status, last_error,
 * last_attempt_at, response_ms, first_failed_at (if unset), next_attempt_at = now +
 * store_webhook_backoff; the hook's failing_since set if unset; and when failing_since
 * is give_up seconds old or more the hook is disabled (status, disabled_reason) with the
 * audit entry, in the same transaction. A delivery no longer pending (another holder's
 * late success) is left as it is. STORE_OK with *out, STORE_NOT_FOUND (bad ids, no such
 * delivery of the hook), STORE_ERR, STORE_BUSY. */
int store_webhook_record(struct db *db, const char *holder,
                         const struct store_webhook_attempt *a,
                         const struct store_webhook_policy *p,
                         struct store_webhook_outcome *out) WUR;

/* The wait before retry number `attempts` (attempts >= 1: the attempts made so far):
 * min(base * 2^(attempts - 1), max) seconds, without overflow; at least 1. */
int store_webhook_backoff(int attempts, int base, int max);

/* The most rows store_webhook_prune deletes of each table per call (helperd's sweep). */
#define STORE_WEBHOOK_PRUNE_LIMIT 10000

/* What store_webhook_prune deleted. */
struct store_webhook_pruned {
	long deliveries;  /* delivered or failed deliveries past keep_days */
	long events;      /* events no delivery referred to any more */
};

/* The delivery log's retention (helperd's sweep, cfg webhooks.keep_days), in one
 * transaction of two statements, each deleting at most limit rows (a backlog goes
 * limit rows a sweep): first the delivered and failed deliveries whose last activity
 * (delivered_at, else last_attempt_at, else created_at) is more than keep_days old;
 * never a pending one, whatever its age (it is still owed, e.g. to a disabled hook);
 * then the events no delivery refers to any more: those whose deliveries were just
 * deleted, and a deleted hook's (its deliveries went with it, its events did not).
 * store_webhook_emit writes an event and its deliveries in one transaction, so an event
 * is never seen without them while it is being emitted. Under row-level security only
 * the rows the connection sees are pruned: helperd's (kaiden.staff on) sees every
 * tenant's. STORE_OK with *out, or STORE_ERR (bad arguments: keep_days < 1, limit < 1;
 * or the database) or STORE_BUSY, nothing deleted. */
int store_webhook_prune(struct db *db, int keep_days, long limit,
                        struct store_webhook_pruned *out) WUR;

#endif
