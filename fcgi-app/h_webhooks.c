/* h_webhooks.c: /api/v1/webhooks. A hook is a tenant's (tenant admins, service tokens,
 * staff acting in the tenant) or the platform's (staff at platform level: multi mode
 * with no tenant named, or ?scope=platform; it hears every tenant's events). A hook of
 * the other scope, or of another tenant, does not exist for the request (404).
 *
 * The signing secret is made here, shown once (create and rotate), and stored sealed
 * (webhook_secret.h): it is never returned again, never logged, never audited. The
 * target URL is checked against server-side request forgery (url_guard.h) on create and
 * on every change of it, and stored as curl normalised it: what the deliverer will call. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "store_webhook.h"
#include "url_guard.h"
#include "webhook_secret.h"
#include "webhook_sign.h"

#define DESCRIPTION_MAX 500

static const struct jsonx_field webhook_create_fields[] = {
	{ "url", JSONX_STRING, 1, 1, URL_GUARD_URL_MAX - 1, 0 },
	{ "events", JSONX_ARRAY, 1, 1, 10, 0 },
	{ "description", JSONX_STRING, 0, 0, DESCRIPTION_MAX, 1 },
};

static const struct jsonx_field webhook_patch_fields[] = {
	{ "url", JSONX_STRING, 0, 1, URL_GUARD_URL_MAX - 1, 0 },
	{ "events", JSONX_ARRAY, 0, 1, 10, 0 },
	{ "description", JSONX_STRING, 0, 0, DESCRIPTION_MAX, 0 },
	{ "status", JSONX_STRING, 0, 1, 16, 0 },
};

/* The scope of the request: the tenant, or NULL for the platform's hooks. */
static const char *scope(const struct req *r)
{
	return r->tenant_id[0] ? r->tenant_id : NULL;
}

/* The url member checked and normalised into target: 0, or -1 with the reply set. */
static int url_check(struct resp *rs, const char *url, struct url_guard_target *target)
{
	char why[URL_GUARD_WHY_MAX];
	int flags = cfg_int(CFG_WEBHOOKS_ALLOW_LOOPBACK) ? URL_GUARD_ALLOW_LOOPBACK : 0;

	if (url_guard_check(url, flags, target, why) != URL_GUARD_OK) {
		resp_error(rs, 422, "invalid_url", "url", "url: %s", why);
		return -1;
	}
	return 0;
}

static int events_check(struct resp *rs, json_object *events)
{
	char why[128];

	if (store_webhook_events_check(events, why, sizeof(why)) != 0) {
		resp_error(rs, 400, "invalid_field", "events",
		           "events: %s; the types are ticket.created, ticket.updated, "
		           "ticket.commented, session.started, session.active, session.ended, "
		           "session.failed, device.online, device.offline, device.registered",
		           why);
		return -1;
	}
	return 0;
}

/* A new secret, and its sealed form: 0, or -1 with the reply set. */
static int secret_make(struct req *r, struct resp *rs, char secret[WEBHOOK_SECRET_LEN],
                       char sealed[WEBHOOK_SEALED_MAX])
{
	webhook_secret_new(secret);
	if (webhook_secret_seal(cfg_str(CFG_AUTH_JWT_SECRET), secret, sealed) != 0) {
		log_error("req=%s webhook secret not sealed: auth.jwt_secret is not set", r->request_id);
		resp_error(rs, 503, "unavailable", NULL,
		           "webhook secrets are sealed with auth.jwt_secret, which is not set");
		return -1;
	}
	return 0;
}

/* Audit details that say what a hook targets without its path or query (where a
 * receiver's own token often sits): the host and the events. */
static json_object *audit_details(const char *host, json_object *events)
{
	json_object *d = json_object_new_object();

	if (host)
		jsonx_add_str(d, "host", host);
	if (events)
		json_object_object_add(d, "events", json_object_get(events));
	return d;
}

static void quota(struct resp *rs, const struct req *r)
{
	resp_error(rs, 409, "quota_exceeded", NULL,
	           "%s may have %d webhooks; delete one first",
	           scope(r) ? "a tenant" : "the platform", STORE_WEBHOOK_MAX);
}

void h_webhooks_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *hook = NULL, *details = NULL, *events;
	struct url_guard_target target;
	struct store_webhook_new w;
	char secret[WEBHOOK_SECRET_LEN], sealed[WEBHOOK_SEALED_MAX], location[64 + UUID_STR_LEN];
	const char *id;
	int rc;

	secret[0] = '\0';
	if (h_body_object(r, rs, webhook_create_fields, ARRAY_LEN(webhook_create_fields), &in) < 0)
		return;
	events = json_object_object_get(in, "events");
	if (events_check(rs, events) < 0 || url_check(rs, jsonx_str(in, "url"), &target) < 0 ||
	    secret_make(r, rs, secret, sealed) < 0)
		goto out;
	memset(&w, 0, sizeof(w));
	w.url = target.url;
	w.description = jsonx_str(in, "description");
	w.events = events;
	w.secret_sealed = sealed;
	w.created_by = r->who.user_id[0] ? r->who.user_id : NULL;
	rc = store_webhook_create(r->db, scope(r), &w, &hook);
	if (rc == STORE_QUOTA) {
		quota(rs, r);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		goto out;
	}
	id = jsonx_str(hook, "id");
	details = audit_details(target.host, events);
	auth_audit(r, "webhook.create", "webhook", id, details);
	jsonx_add_str(hook, "secret", secret);
	snprintf(location, sizeof(location), "/api/v1/webhooks/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, hook);
	hook = NULL;
out:
	explicit_bzero(secret, sizeof(secret));
	json_object_put(details);
	json_object_put(hook);
	json_object_put(in);
}

void h_webhooks_list(struct req *r, struct resp *rs)
{
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN];
	const char *bad = NULL;
	int rc;

	if (req_page(r, &page, cursor, &bad) < 0) {
		resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad,
		           strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
		                                     : "must be the next_cursor of a previous page");
		return;
	}
	memset(&list, 0, sizeof(list));
	rc = store_webhook_list(r->db, scope(r), &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook list");
		return;
	}
	resp_list(rs, &list);
}

void h_webhook_get(struct req *r, struct resp *rs)
{
	json_object *hook = NULL;
	int rc = store_webhook_get(r->db, scope(r), r->params[0], &hook);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		return;
	}
	resp_json(rs, 200, hook);
}

void h_webhook_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *current = NULL, *hook = NULL, *details = NULL, *fields;
	struct url_guard_target target;
	struct store_webhook_patch p;
	const char *id = r->params[0];
	int rc;

	/* The target first: another scope's hook is a 404 whatever the body says. */
	rc = store_webhook_get(r->db, scope(r), id, &current);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		return;
	}
	if (h_body_object(r, rs, webhook_patch_fields, ARRAY_LEN(webhook_patch_fields), &in) < 0)
		goto out;
	if (json_object_object_length(in) == 0) {
		resp_error(rs, 400, "missing_field", NULL,
		           "send at least one of url, events, description, status");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.description = jsonx_str(in, "description");
	p.status = jsonx_str(in, "status");
	p.events = json_object_object_get(in, "events");
	if (p.status && strcmp(p.status, "active") != 0 && strcmp(p.status, "disabled") != 0) {
		resp_error(rs, 400, "invalid_field", "status", "status: must be active or disabled");
		goto out;
	}
	if (p.events && events_check(rs, p.events) < 0)
		goto out;
	if (jsonx_str(in, "url")) {
		if (url_check(rs, jsonx_str(in, "url"), &target) < 0)
			goto out;
		p.url = target.url;
	}
	rc = store_webhook_update(r->db, scope(r), id, &p, &hook);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		goto out;
	}
	details = audit_details(p.url ? target.host : NULL, p.events);
	fields = json_object_new_array();
	json_object_object_foreach(in, key, val) {
		(void)val;
		json_object_array_add(fields, json_object_new_string(key));
	}
	json_object_object_add(details, "fields", fields);
	if (p.status)
		jsonx_add_str(details, "status", p.status);
	auth_audit(r, "webhook.update", "webhook", id, details);
	resp_json(rs, 200, hook);
	hook = NULL;
out:
	json_object_put(details);
	json_object_put(hook);
	json_object_put(current);
	json_object_put(in);
}

void h_webhook_delete(struct req *r, struct resp *rs)
{
	json_object *current = NULL, *details = NULL;
	int rc = store_webhook_get(r->db, scope(r), r->params[0], &current);

	if (rc == STORE_OK)
		rc = store_webhook_delete(r->db, scope(r), r->params[0]);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		goto out;
	}
	details = audit_details(NULL, json_object_object_get(current, "events"));
	auth_audit(r, "webhook.delete", "webhook", r->params[0], details);
	resp_json(rs, 204, NULL);
out:
	json_object_put(details);
	json_object_put(current);
}

void h_webhook_rotate(struct req *r, struct resp *rs)
{
	json_object *hook = NULL;
	char secret[WEBHOOK_SECRET_LEN], sealed[WEBHOOK_SEALED_MAX];
	int rc;

	secret[0] = '\0';
	if (secret_make(r, rs, secret, sealed) < 0)
		goto out;
	rc = store_webhook_rotate(r->db, scope(r), r->params[0], sealed, &hook);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		goto out;
	}
	auth_audit(r, "webhook.rotate", "webhook", r->params[0], NULL);
	jsonx_add_str(hook, "secret", secret);
	resp_json(rs, 200, hook);
	hook = NULL;
out:
	explicit_bzero(secret, sizeof(secret));
	json_object_put(hook);
}

void h_webhook_deliveries(struct req *r, struct resp *rs)
{
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN];
	const char *bad = NULL;
	int rc;

	if (req_page(r, &page, cursor, &bad) < 0) {
		resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad,
		           strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
		                                     : "must be the next_cursor of a previous page");
		return;
	}
	memset(&list, 0, sizeof(list));
	rc = store_webhook_deliveries(r->db, scope(r), r->params[0], &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "webhook");
		return;
	}
	resp_list(rs, &list);
}
