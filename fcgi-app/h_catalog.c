/* h_catalog.c: /api/v1/catalog, the cloud services a tenant may launch (issue 13).
 * Every signed-in role reads the enabled templates; staff see the disabled ones too;
 * platform admins add, change and remove them (the route table says who). A template is
 * checked whole by catalog_template_check before anything is written, so a refusal
 * names its field and changes nothing. Every change is audited. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "catalog.h"
#include "cfg.h"
#include "jsonx.h"
#include "store.h"
#include "store_catalog.h"
#include "store_service.h"

#define CATALOG_Q_MAX 200

static void audit_template(struct req *r, const char *action, json_object *tpl,
                           json_object *fields)
{
	json_object *details = json_object_new_object();

	if (details) {
		jsonx_add_str(details, "slug", jsonx_str(tpl, "slug"));
		if (fields)
			json_object_object_add(details, "fields", json_object_get(fields));
	}
	auth_audit(r, action, "app_template", jsonx_str(tpl, "id"), details);
	json_object_put(details);
}

/* 400 invalid_field (unknown_field, missing_field) naming the member, or the path
 * inside values_schema, inputs, default_values. */
static void template_refused(struct resp *rs, const struct vs_error *err)
{
	resp_error(rs, 400, err->code[0] ? err->code : "invalid_field",
	           err->field[0] ? err->field : NULL, "%s", err->message);
}

void h_catalog_list(struct req *r, struct resp *rs)
{
	struct store_list list;
	char q[CATALOG_Q_MAX + 1];
	const char *category = NULL, *domain;
	json_object *body;
	int has_q, rc;

	if (req_query_enum(r, "category", catalog_categories, &category) < 0) {
		resp_error(rs, 400, "invalid_query", "category",
		           "category: must be one of AI & LLM, Automation, Database, Cache, "
		           "Monitoring, Developer tools");
		return;
	}
	has_q = req_query_text(r, "q", q, sizeof(q));
	if (has_q < 0) {
		resp_error(rs, 400, "invalid_query", "q", "q: must be text of at most %d bytes "
		           "without control characters", CATALOG_Q_MAX);
		return;
	}
	memset(&list, 0, sizeof(list));
	rc = store_catalog_list(r->db, category, has_q ? q : NULL, auth_is_staff(r), &list.items);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "catalog");
		return;
	}
	/* The whole catalog in one page: it is a short, curated list. With it the platform's
	 * domain for services (services.domain, null when unset), so the portal's launch form
	 * can show a subdomain's whole address before the service exists. */
	body = json_object_new_object();
	if (!body) {
		json_object_put(list.items);
		resp_error(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	json_object_object_add(body, "items", list.items ? list.items : json_object_new_array());
	jsonx_add_str(body, "next_cursor", NULL);
	domain = cfg_str(CFG_SERVICES_DOMAIN);
	jsonx_add_str(body, "services_domain", domain[0] ? domain : NULL);
	resp_json(rs, 200, body);
}

void h_catalog_get(struct req *r, struct resp *rs)
{
	json_object *tpl = NULL;
	int rc = store_catalog_get(r->db, r->params[0], auth_is_staff(r), &tpl);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		return;
	}
	resp_json(rs, 200, tpl);
}

/* The body as a JSON object: 0 with *out, or -1 with the 400 reply set. */
static int body_object(struct req *r, struct resp *rs, json_object **out)
{
	struct jsonx_error err;

	if (jsonx_parse(r->body, r->body_len, out, &err) < 0) {
		resp_jsonx_error(rs, &err);
		return -1;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		resp_error(rs, 400, "not_an_object", NULL, "the body must be a JSON object");
		return -1;
	}
	return 0;
}

void h_catalog_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *tpl = NULL, *row = NULL;
	struct vs_error err;
	char location[128];
	int rc;

	if (body_object(r, rs, &in) < 0)
		return;
	if (catalog_template_check(in, &tpl, &err) < 0) {
		template_refused(rs, &err);
		goto out;
	}
	rc = store_catalog_create(r->db, tpl, &row);
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "slug_taken", "slug", "slug: %s is taken by another template",
		           jsonx_str(tpl, "slug"));
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	audit_template(r, "catalog.create", row, NULL);
	snprintf(location, sizeof(location), "/api/v1/catalog/%s", jsonx_str(row, "slug"));
	resp_header(rs, "Location", location);
	resp_json(rs, 201, row);
out:
	json_object_put(in);
	json_object_put(tpl);
}

/* The members of a template a PATCH may name: every one but the slug, which is the
 * template's name in URLs (and, later, what services show). */
static const char *const patchable[] = { "name", "description", "icon", "category", "tags",
	                                 "price_label", "chart_repo", "chart_name",
	                                 "chart_version", "values_schema", "inputs",
	                                 "default_values", "enabled", NULL };

void h_catalog_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *now = NULL, *merged = NULL, *tpl = NULL, *row = NULL;
	json_object *fields = NULL;
	struct vs_error err;
	int rc;

	if (body_object(r, rs, &in) < 0)
		return;
	rc = store_catalog_get(r->db, r->params[0], 1, &now);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	/* The template as it is, its stored extras left out, with the members sent over it;
	 * then checked whole, as a create is. */
	merged = json_object_new_object();
	fields = json_object_new_array();
	if (!merged || !fields) {
		resp_error(rs, 500, "internal", NULL, "out of memory");
		goto out;
	}
	json_object_object_add(merged, "slug", json_object_get(json_object_object_get(now, "slug")));
	for (int i = 0; patchable[i]; i++)
		json_object_object_add(merged, patchable[i],
		                       json_object_get(json_object_object_get(now, patchable[i])));
	json_object_object_foreach(in, key, val) {
		int known = 0;
		for (int i = 0; patchable[i] && !known; i++)
			known = strcmp(key, patchable[i]) == 0;
		if (!known) {
			resp_error(rs, 400, strcmp(key, "slug") == 0 ? "invalid_field" : "unknown_field",
			           key, strcmp(key, "slug") == 0
			                        ? "%s: a template's slug cannot change (add a new one)"
			                        : "%s: this field is not accepted here",
			           key);
			goto out;
		}
		if (!json_object_equal(val, json_object_object_get(now, key)))
			json_object_array_add(fields, json_object_new_string(key));
		json_object_object_add(merged, key, json_object_get(val));
	}
	if (catalog_template_check(merged, &tpl, &err) < 0) {
		template_refused(rs, &err);
		goto out;
	}
	rc = store_catalog_replace(r->db, tpl, &row);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	if (json_object_array_length(fields) > 0)
		audit_template(r, "catalog.update", row, fields);
	resp_json(rs, 200, row);
out:
	json_object_put(fields);
	json_object_put(in);
	json_object_put(now);
	json_object_put(merged);
	json_object_put(tpl);
}

/* Removes the row. Services do not exist yet; when they do, a template one of them uses
 * is refused (409) and disabling it (PATCH enabled: false) is the way to retire it. */
void h_catalog_delete(struct req *r, struct resp *rs)
{
	json_object *tpl = NULL;
	long uses = 0;
	int rc = store_catalog_get(r->db, r->params[0], 1, &tpl);

	/* A service's row (deleted ones too: history) keeps its template: retire a template
	 * with enabled false instead. */
	if (rc == STORE_OK)
		rc = store_service_template_uses(r->db, jsonx_str(tpl, "id"), &uses);
	if (rc == STORE_OK && uses > 0) {
		resp_error(rs, 409, "template_in_use", NULL,
		           "%ld services (deleted ones included, kept as history) use this template: "
		           "disable it (PATCH {\"enabled\": false}) instead",
		           uses);
		goto out;
	}
	if (rc == STORE_OK)
		rc = store_catalog_delete(r->db, r->params[0]);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	audit_template(r, "catalog.delete", tpl, NULL);
	resp_json(rs, 204, NULL);
out:
	json_object_put(tpl);
}
