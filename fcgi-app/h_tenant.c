/* h_tenant.c: /api/v1/tenant, the caller's own tenant (r->tenant_id): read it, change
 * its name and settings, its usage against its quotas, and its export; and the import
 * of an archive into this deployment (platform admins). */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "jsonx.h"
#include "store.h"
#include "store_archive.h"
#include "store_tenant.h"

static const struct jsonx_field tenant_self_fields[] = {
	{ "name", JSONX_STRING, 0, 1, 200, 0 },
	{ "settings", JSONX_OBJECT, 0, 0, 0, 0 },
};

/* What only platform admins change, through /admin/tenants/{id}. */
static const char *const admin_only[] = { "code", "status", "plan", "quotas",
	                                  "trial_ends_at", NULL };

void h_tenant_get(struct req *r, struct resp *rs)
{
	json_object *tenant = NULL;
	int rc = store_tenant_get(r->db, r->tenant_id, &tenant);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return;
	}
	resp_json(rs, 200, tenant);
}

void h_tenant_patch(struct req *r, struct resp *rs)
{
	struct store_tenant_fields f;
	struct jsonx_error err;
	json_object *in = NULL, *tenant = NULL, *settings = NULL, *details = NULL;
	const char *field = NULL;
	char why[256];
	int rc;

	if (jsonx_parse(r->body, r->body_len, &in, &err) < 0) {
		resp_jsonx_error(rs, &err);
		goto out;
	}
	for (int i = 0; admin_only[i]; i++)
		if (json_object_is_type(in, json_type_object) &&
		    json_object_object_get_ex(in, admin_only[i], NULL)) {
			resp_error(rs, 400, "unknown_field", admin_only[i],
			           "%s: a tenant changes only its name and settings here; platform "
			           "admins change the rest with PATCH /api/v1/admin/tenants/{id}",
			           admin_only[i]);
			goto out;
		}
	if (jsonx_check(in, tenant_self_fields, ARRAY_LEN(tenant_self_fields), &err) < 0) {
		resp_jsonx_error(rs, &err);
		goto out;
	}
	memset(&f, 0, sizeof(f));
	f.name = jsonx_str(in, "name");
	if (json_object_object_get_ex(in, "settings", &settings))
		f.settings = settings;
	if (store_tenant_fields_check(&f, 0, &field, why, sizeof(why)) != 0) {
		resp_error(rs, 400, "invalid_field", field, "%s", why);
		goto out;
	}
	rc = store_tenant_update(r->db, r->tenant_id, &f, &tenant);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		goto out;
	}
	details = json_object_new_object();
	if (details)
		json_object_object_add(details, "fields",
		                       json_object_new_string(f.name && f.settings ? "name, settings"
		                                              : f.name          ? "name"
		                                              : f.settings      ? "settings"
		                                                                : ""));
	auth_audit(r, "tenant.update", "tenant", r->tenant_id, details);
	resp_json(rs, 200, tenant);
out:
	json_object_put(details);
	json_object_put(in);
}

void h_tenant_usage(struct req *r, struct resp *rs)
{
	json_object *usage = NULL;
	int rc = store_tenant_usage(r->db, r->tenant_id, &usage);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return;
	}
	resp_json(rs, 200, usage);
}

void h_tenant_export(struct req *r, struct resp *rs)
{
	json_object *archive = NULL, *details = NULL, *tables = NULL;
	/* A tenant admin's export is a tenant user's read: staff's internal notes stay. */
	int rc = store_archive_export(r->db, r->tenant_id,
	                              (r->who.role & (ROLE_STAFF | ROLE_SERVICE)) != 0, &archive);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return;
	}
	/* The log says what left, not the data: how many rows of each table. */
	details = json_object_new_object();
	if (details && json_object_object_get_ex(archive, "tables", &tables)) {
		json_object_object_foreach(tables, name, rows)
			json_object_object_add(details, name,
			                       json_object_new_int64((int64_t)json_object_array_length(rows)));
	}
	auth_audit(r, "tenant.export", "tenant", r->tenant_id, details);
	json_object_put(details);
	resp_header(rs, "Content-Disposition", "attachment; filename=\"kaiden-tenant.json\"");
	resp_json(rs, 200, archive);
}

void h_tenant_import(struct req *r, struct resp *rs)
{
	struct store_archive_why why;
	struct jsonx_error err;
	json_object *archive = NULL, *tenant = NULL, *details = NULL;
	char location[64 + UUID_STR_LEN], field[128];
	const char *id;
	int rc;

	if (jsonx_parse(r->body, r->body_len, &archive, &err) < 0) {
		resp_jsonx_error(rs, &err);
		goto out;
	}
	rc = store_archive_import(r->db, archive, &tenant, &why);
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "already_exists", NULL,
		           "%s (delete the tenant here first, or import into another deployment)",
		           why.text[0] ? why.text : "the tenant or some of its rows exist here");
		goto out;
	}
	/* A row that names something outside the archive, or reuses an id: the archive was
	 * changed after its export (or comes from here): nothing of it is written. */
	if (rc == STORE_ERR && why.column[0]) {
		snprintf(field, sizeof(field), "tables.%s.%s", why.table, why.column);
		resp_error(rs, 422, "invalid_reference", field, "%s", why.text);
		goto out;
	}
	if (rc == STORE_ERR && why.text[0]) {
		resp_error(rs, 400, "invalid_archive", NULL, "%s", why.text);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant import");
		goto out;
	}
	id = jsonx_str(tenant, "id");
	details = json_object_new_object();
	if (details && jsonx_str(tenant, "code"))
		jsonx_add_str(details, "code", jsonx_str(tenant, "code"));
	auth_audit(r, "tenant.import", "tenant", id, details);
	snprintf(location, sizeof(location), "/api/v1/admin/tenants/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, tenant);
out:
	json_object_put(details);
	json_object_put(archive);
}
