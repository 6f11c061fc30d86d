/* h_tenants.c: /api/v1/admin/tenants, tenant administration by platform staff (the
 * route table says who: admins change, staff read). Every change is audited. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "jsonx.h"
#include "store.h"
#include "store_tenant.h"

#define TENANT_Q_MAX 512

/* Lengths in characters; code, status, plan, quotas and trial_ends_at are checked in
 * full by store_tenant_fields_check. */
static const struct jsonx_field tenant_create_fields[] = {
	{ "code", JSONX_STRING, 1, 1, 63, 0 },
	{ "name", JSONX_STRING, 1, 1, 200, 0 },
	{ "status", JSONX_STRING, 0, 1, 16, 0 },
	{ "plan", JSONX_STRING, 0, 1, 16, 0 },
	{ "settings", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "quotas", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "trial_ends_at", JSONX_STRING, 0, 0, 64, 1 },
};

static const struct jsonx_field tenant_patch_fields[] = {
	{ "code", JSONX_STRING, 0, 1, 63, 0 },
	{ "name", JSONX_STRING, 0, 1, 200, 0 },
	{ "status", JSONX_STRING, 0, 1, 16, 0 },
	{ "plan", JSONX_STRING, 0, 1, 16, 0 },
	{ "settings", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "quotas", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "trial_ends_at", JSONX_STRING, 0, 0, 64, 1 },
};

static json_object *member(json_object *in, const char *name)
{
	json_object *v = NULL;

	return json_object_object_get_ex(in, name, &v) ? v : NULL;
}

/* Parses the body against fields and fills f (borrowing from *in); -1 with the reply
 * set. trial_ends_at: null clears it (""), absent leaves it. */
static int tenant_body(struct req *r, struct resp *rs, const struct jsonx_field *fields,
                       size_t n, int create, json_object **in, struct store_tenant_fields *f)
{
	struct jsonx_error err;
	const char *field = NULL;
	char why[256];

	if (jsonx_parse(r->body, r->body_len, in, &err) < 0 ||
	    jsonx_check(*in, fields, n, &err) < 0) {
		resp_jsonx_error(rs, &err);
		return -1;
	}
	memset(f, 0, sizeof(*f));
	f->code = jsonx_str(*in, "code");
	f->name = jsonx_str(*in, "name");
	f->status = jsonx_str(*in, "status");
	f->plan = jsonx_str(*in, "plan");
	f->settings = member(*in, "settings");
	f->quotas = member(*in, "quotas");
	f->trial_ends_at = jsonx_str(*in, "trial_ends_at");
	if (!f->trial_ends_at && json_object_object_get_ex(*in, "trial_ends_at", NULL))
		f->trial_ends_at = ""; /* null */
	if (store_tenant_fields_check(f, create, &field, why, sizeof(why)) != 0) {
		resp_error(rs, 400, "invalid_field", field, "%s", why);
		return -1;
	}
	return 0;
}

static void audit_tenant(struct req *r, const char *action, json_object *tenant)
{
	json_object *details = json_object_new_object();
	const char *code = jsonx_str(tenant, "code");

	if (details && code)
		jsonx_add_str(details, "code", code);
	auth_audit(r, action, "tenant", jsonx_str(tenant, "id"), details);
	json_object_put(details);
}

void h_tenants_create(struct req *r, struct resp *rs)
{
	struct store_tenant_fields f;
	json_object *in = NULL, *tenant = NULL;
	char location[64 + UUID_STR_LEN];
	const char *id;
	int rc;

	if (tenant_body(r, rs, tenant_create_fields, ARRAY_LEN(tenant_create_fields), 1, &in,
	                &f) < 0)
		goto out;
	rc = store_tenant_create(r->db, &f, &tenant);
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "code_taken", "code", "code: %s is taken by another tenant",
		           f.code);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		goto out;
	}
	audit_tenant(r, "tenant.create", tenant);
	id = jsonx_str(tenant, "id");
	snprintf(location, sizeof(location), "/api/v1/admin/tenants/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, tenant);
out:
	json_object_put(in);
}

void h_tenants_list(struct req *r, struct resp *rs)
{
	static const char *const statuses[] = { "active", "suspended", "trial", NULL };
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], q[TENANT_Q_MAX + 1];
	const char *status = NULL, *bad = NULL, *why = "";
	int has_q, rc;

	if (req_page(r, &page, cursor, &bad) < 0) {
		why = strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
		                                : "must be the next_cursor of a previous page";
		goto bad_query;
	}
	if (req_query_enum(r, "status", statuses, &status) < 0) {
		bad = "status";
		why = "must be active, suspended or trial";
		goto bad_query;
	}
	has_q = req_query_text(r, "q", q, sizeof(q));
	if (has_q < 0) {
		bad = "q";
		why = "must be text of at most 512 bytes without control characters";
		goto bad_query;
	}
	memset(&list, 0, sizeof(list));
	rc = store_tenant_list(r->db, status, has_q ? q : NULL, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad, why);
}

void h_tenant_admin_get(struct req *r, struct resp *rs)
{
	json_object *tenant = NULL;
	int rc = store_tenant_get(r->db, r->params[0], &tenant);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return;
	}
	resp_json(rs, 200, tenant);
}

void h_tenant_admin_patch(struct req *r, struct resp *rs)
{
	struct store_tenant_fields f;
	json_object *in = NULL, *tenant = NULL;
	int rc;

	if (tenant_body(r, rs, tenant_patch_fields, ARRAY_LEN(tenant_patch_fields), 0, &in,
	                &f) < 0)
		goto out;
	rc = store_tenant_update(r->db, r->params[0], &f, &tenant);
	if (rc == STORE_CONFLICT && strcmp(r->params[0], DEFAULT_TENANT_ID) == 0) {
		resp_error(rs, 409, "default_tenant",
		           f.code && strcmp(f.code, "default") != 0 ? "code" : "status",
		           "the default tenant's code and status cannot change (single mode "
		           "and existing installations depend on it)");
		goto out;
	}
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "code_taken", "code", "code: %s is taken by another tenant",
		           f.code ? f.code : "");
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		goto out;
	}
	audit_tenant(r, "tenant.update", tenant);
	resp_json(rs, 200, tenant);
out:
	json_object_put(in);
}

void h_tenant_admin_delete(struct req *r, struct resp *rs)
{
	json_object *tenant = NULL;
	int rc;

	if (strcmp(r->params[0], DEFAULT_TENANT_ID) == 0) {
		resp_error(rs, 409, "default_tenant", NULL, "the default tenant cannot be deleted");
		return;
	}
	/* Read first: the audit entry names what was deleted. */
	rc = store_tenant_get(r->db, r->params[0], &tenant);
	if (rc == STORE_OK)
		rc = store_tenant_delete(r->db, r->params[0]);
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "tenant_busy", NULL,
		           "the tenant has live sessions; end them first");
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		goto out;
	}
	audit_tenant(r, "tenant.delete", tenant);
	resp_json(rs, 204, NULL);
out:
	json_object_put(tenant);
}
