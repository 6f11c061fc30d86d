/* store_webhook.h: webhooks (sql/{pg,sqlite}/0012_webhooks.sql), their delivery log, and
 * the emission of events into the outbox.
 *
 * A hook belongs to a tenant (tenant_id given) or to the platform (tenant_id NULL: it
 * hears every tenant's events; only staff at platform level see it). Every function
 * takes that scope and keeps to it: a tenant's hook does not exist for the platform
 * scope nor for another tenant (STORE_NOT_FOUND), and the other way round.
 *
 * Webhook JSON: id, tenant_id, url, description, events (array of event types), status
 * ("active"|"disabled"), disabled_reason, failing_since, created_by, created_at,
 * updated_at. Never the sealed secret nor the delivery lease.
 * Delivery JSON: id, event_id, event_type, tenant_id (the event's), status
 * ("pending"|"delivered"|"failed"), attempts, last_status, last_error, response_ms,
 * next_attempt_at, first_failed_at, last_attempt_at, delivered_at, created_at.
 *
 * EMISSION (store_webhook_emit) runs inside the transaction of the change it reports,
 * so an event exists exactly when its change committed: a rolled back change emits
 * nothing. It writes one webhook_events row (the exact body every attempt sends and
 * signs), one webhook_deliveries row per active hook that lists the type (the tenant's
 * own and the platform's; on PostgreSQL found through kaiden_webhooks_for_tenant(), which
 * sees the platform's hooks from a tenant's transaction), and a "webhook.deliver" job per
 * such hook unless one is queued already (helperd delivers; a duplicate job is harmless,
 * as the deliverer holds a lease on the hook), with NOTIFY kaiden_jobs. No hook wants the
 * type: nothing is written (one query).
 *
 * Return codes as in store.h. */
#ifndef KAIDEN_STORE_WEBHOOK_H
#define KAIDEN_STORE_WEBHOOK_H

#include <json-c/json.h>
#include "compat.h"
#include "store.h"

/* Hooks per tenant, and platform hooks: creating one more is STORE_QUOTA. */
#define STORE_WEBHOOK_MAX 20

/* The event types, ended by NULL (the API's accepted "events" values). */
extern const char *const store_webhook_events[];
/* 1 when type is one of them. */
int store_webhook_event_known(const char *type);

/* The events of a hook as the API takes them: 0 when events is a non-empty JSON array
 * of known types without duplicates, else -1 with a sentence in why (naming the bad
 * element). */
int store_webhook_events_check(json_object *events, char *why, size_t whylen) WUR;

struct store_webhook_new {
	const char *url;           /* checked by the caller (url_guard.h) */
	const char *description;   /* NULL: "" */
	json_object *events;       /* borrowed; store_webhook_events_check must pass */
	const char *secret_sealed; /* webhook_secret_seal's text (webhook_secret.h) */
	const char *created_by;    /* NULL or a UUID */
};
/* tenant_id NULL: a platform hook. STORE_QUOTA at STORE_WEBHOOK_MAX (counted under a
 * lock in the insert's transaction, so concurrent creates cannot pass it together);
 * STORE_CONFLICT for bad events or a missing url or secret. */
int store_webhook_create(struct db *db, const char *tenant_id,
                         const struct store_webhook_new *w, json_object **out) WUR;
int store_webhook_get(struct db *db, const char *tenant_id, const char *id,
                      json_object **out) WUR;
/* Newest first, by cursor. */
int store_webhook_list(struct db *db, const char *tenant_id, const struct store_page *page,
                       struct store_list *out) WUR;

/* Each NULL keeps the value. status "active" on a disabled hook re-enables it (clears
 * disabled_reason and failing_since, and queues a delivery job when deliveries wait);
 * "disabled" disables it ("disabled by an administrator"). */
struct store_webhook_patch {
	const char *url, *description, *status;
	json_object *events; /* borrowed */
};
/* STORE_CONFLICT for bad events or status. */
int store_webhook_update(struct db *db, const char *tenant_id, const char *id,
                         const struct store_webhook_patch *p, json_object **out) WUR;
/* Replaces the sealed secret. */
int store_webhook_rotate(struct db *db, const char *tenant_id, const char *id,
                         const char *secret_sealed, json_object **out) WUR;
/* Removes the hook; its deliveries go with it (ON DELETE CASCADE), pending ones too. */
int store_webhook_delete(struct db *db, const char *tenant_id, const char *id) WUR;
/* The hook's delivery log, newest first, by cursor. STORE_NOT_FOUND: no such hook in
 * the scope. */
int store_webhook_deliveries(struct db *db, const char *tenant_id, const char *id,
                             const struct store_page *page, struct store_list *out) WUR;

/* Inside the caller's open transaction (see EMISSION above): an event of type (a known
 * one) that happened in tenant_id, with data (borrowed: the row's JSON as the API shows
 * it). STORE_OK (also when no hook wants it), STORE_ERR or STORE_BUSY: the caller rolls
 * its change back, so no change goes unreported. */
int store_webhook_emit(struct db *db, const char *tenant_id, const char *type,
                       json_object *data) WUR;
/* 1 when an active hook would receive an event of type in tenant_id, 0 when none, or a
 * negative store_rc: lets a batch skip building data nobody wants. */
int store_webhook_wanted(struct db *db, const char *tenant_id, const char *type) WUR;

#endif
