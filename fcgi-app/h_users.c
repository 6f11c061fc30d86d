/* h_users.c: /api/v1/users. Who manages whom (the route table says who may call):
 *
 *   request at platform level (staff, no tenant named)  staff users: admin, engineer
 *   request in a tenant (tenant admin, service token,   that tenant's users:
 *   or staff acting in it)                               tenant_admin, customer
 *
 * A user of another tenant, or a tenant user seen from platform level, does not exist
 * for the request (404). Nobody deletes, disables or changes the role of their own
 * account (409), so a tenant (or the platform) cannot lose its last administrator by
 * accident. Passwords are never echoed nor audited. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "jsonx.h"
#include "store.h"
#include "store_auth.h"

#define USER_Q_MAX 200
#define PASSWORD_MIN 10

static const struct jsonx_field user_create_fields[] = {
	{ "email", JSONX_STRING, 1, 3, 254, 0 },
	{ "name", JSONX_STRING, 1, 1, 200, 0 },
	{ "role", JSONX_STRING, 1, 1, 32, 0 },
	{ "password", JSONX_STRING, 0, PASSWORD_MIN, 1024, 1 },
};

static const struct jsonx_field user_patch_fields[] = {
	{ "email", JSONX_STRING, 0, 3, 254, 0 },
	{ "name", JSONX_STRING, 0, 1, 200, 0 },
	{ "role", JSONX_STRING, 0, 1, 32, 0 },
	{ "status", JSONX_STRING, 0, 1, 16, 0 },
	{ "password", JSONX_STRING, 0, PASSWORD_MIN, 1024, 0 },
};

static int at_platform(const struct req *r)
{
	return r->tenant_id[0] == '\0';
}

/* local@domain: one @, both sides non-empty, no white space, no dot at either end of the
 * domain or two in a row. Deliberately basic: the address is checked by using it. */
static int email_valid(const char *s)
{
	const char *at = strchr(s, '@'), *domain;
	size_t dlen;

	if (!at || at == s || strchr(at + 1, '@'))
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '\x7f' || *p == ',' || *p == ';' ||
		    *p == '<' || *p == '>' || *p == '"')
			return 0;
	domain = at + 1;
	dlen = strlen(domain);
	if (dlen == 0 || domain[0] == '.' || domain[dlen - 1] == '.' || strstr(domain, ".."))
		return 0;
	return 1;
}

/* The role a body names, checked against the level of the request: -1 with the reply
 * set, else the role. */
static int role_for_level(struct req *r, struct resp *rs, const char *name)
{
	enum role role = role_parse(name);

	if (role == ROLE_NONE) {
		resp_error(rs, 400, "invalid_field", "role",
		           "role: must be admin, engineer, tenant_admin or customer");
		return -1;
	}
	if (at_platform(r) && !(role & ROLE_STAFF)) {
		resp_error(rs, 400, "invalid_field", "role",
		           "role: at platform level users are staff (admin or engineer); to add a "
		           "tenant's user, name the tenant with the X-Kaiden-Tenant header");
		return -1;
	}
	if (!at_platform(r) && (role & ROLE_STAFF)) {
		resp_error(rs, 400, "invalid_field", "role",
		           "role: a tenant's users are tenant_admin or customer; staff (admin, "
		           "engineer) are platform users that only platform administrators add");
		return -1;
	}
	return (int)role;
}

static int is_self(const struct req *r, const char *id)
{
	return r->who.user_id[0] && strcmp(r->who.user_id, id) == 0;
}

/* The target user as this request may see it; -1 with the reply set (404 for a user of
 * another tenant, or a tenant user seen from platform level). */
static int user_load(struct req *r, struct resp *rs, const char *id, json_object **out)
{
	json_object *user = NULL, *tenant;
	int rc = store_user_get(r->db, at_platform(r) ? NULL : r->tenant_id, id, &user);

	if (rc == STORE_OK && at_platform(r) && json_object_object_get_ex(user, "tenant_id", &tenant) &&
	    tenant != NULL) {
		json_object_put(user);
		rc = STORE_NOT_FOUND;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		return -1;
	}
	*out = user;
	return 0;
}

static void email_taken(struct resp *rs)
{
	resp_error(rs, 409, "email_taken", "email",
	           "email: this address is taken, by another user here or by platform staff "
	           "(a staff member's address is no tenant user's, and the other way round)");
}

void h_users_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *user = NULL, *details = NULL, *fields;
	struct store_user_new u;
	char location[64 + UUID_STR_LEN];
	const char *id;
	int role, rc;

	if (h_body_object(r, rs, user_create_fields, ARRAY_LEN(user_create_fields), &in) < 0)
		return;
	if (!email_valid(jsonx_str(in, "email"))) {
		resp_error(rs, 400, "invalid_field", "email", "email: must be an address like "
		           "name@example.com");
		goto out;
	}
	role = role_for_level(r, rs, jsonx_str(in, "role"));
	if (role < 0)
		goto out;
	memset(&u, 0, sizeof(u));
	u.tenant_id = at_platform(r) ? NULL : r->tenant_id;
	u.email = jsonx_str(in, "email");
	u.name = jsonx_str(in, "name");
	u.role = (enum role)role;
	u.password = jsonx_str(in, "password");
	rc = store_user_create(r->db, &u, &user);
	if (rc == STORE_CONFLICT) {
		email_taken(rs);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		goto out;
	}
	id = jsonx_str(user, "id");
	details = json_object_new_object();
	fields = json_object_new_array();
	json_object_object_foreach(in, key, val) {
		(void)val;
		json_object_array_add(fields, json_object_new_string(key));
	}
	json_object_object_add(details, "fields", fields);
	jsonx_add_str(details, "role", role_name(u.role));
	auth_audit(r, "user.create", "user", id, details);
	snprintf(location, sizeof(location), "/api/v1/users/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, user);
	user = NULL;
out:
	json_object_put(details);
	json_object_put(user);
	json_object_put(in);
}

void h_users_list(struct req *r, struct resp *rs)
{
	static const char *const roles[] = { "admin", "engineer", "tenant_admin", "customer",
		                             NULL };
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], q[USER_Q_MAX + 1];
	const char *role = NULL, *bad = NULL;
	int has_q, rc;

	if (req_page(r, &page, cursor, &bad) < 0)
		goto bad_query;
	if (req_query_enum(r, "role", roles, &role) < 0) {
		bad = "role";
		goto bad_query;
	}
	has_q = req_query_text(r, "q", q, sizeof(q));
	if (has_q < 0) {
		bad = "q";
		goto bad_query;
	}
	memset(&list, 0, sizeof(list));
	rc = store_user_list(r->db, at_platform(r) ? NULL : r->tenant_id, at_platform(r), role,
	                     has_q ? q : NULL, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "user list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad,
	           strcmp(bad, "limit") == 0    ? "must be a whole number from 1 to 200"
	           : strcmp(bad, "cursor") == 0 ? "must be the next_cursor of a previous page"
	           : strcmp(bad, "role") == 0   ? "must be admin, engineer, tenant_admin or customer"
	                                        : "must be text of at most 200 bytes without "
	                                          "control characters");
}

void h_user_get(struct req *r, struct resp *rs)
{
	json_object *user = NULL;

	if (user_load(r, rs, r->params[0], &user) < 0)
		return;
	resp_json(rs, 200, user);
}

void h_user_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *current = NULL, *user = NULL, *details = NULL, *fields;
	struct store_user_patch p;
	const char *id = r->params[0], *status;
	int role = ROLE_NONE, rc;

	/* The target first: another tenant's user is a 404 whatever the body says. */
	if (user_load(r, rs, id, &current) < 0)
		return;
	if (h_body_object(r, rs, user_patch_fields, ARRAY_LEN(user_patch_fields), &in) < 0)
		goto out;
	if (json_object_object_length(in) == 0) {
		resp_error(rs, 400, "missing_field", NULL,
		           "send at least one of name, email, role, status, password");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.name = jsonx_str(in, "name");
	p.email = jsonx_str(in, "email");
	p.password = jsonx_str(in, "password");
	status = jsonx_str(in, "status");
	if (p.email && !email_valid(p.email)) {
		resp_error(rs, 400, "invalid_field", "email", "email: must be an address like "
		           "name@example.com");
		goto out;
	}
	if (status && strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0) {
		resp_error(rs, 400, "invalid_field", "status", "status: must be active or disabled");
		goto out;
	}
	p.status = status;
	if (jsonx_str(in, "role")) {
		role = role_for_level(r, rs, jsonx_str(in, "role"));
		if (role < 0)
			goto out;
		p.role = (enum role)role;
	}
	if (is_self(r, id)) {
		if (status && strcmp(status, "disabled") == 0) {
			resp_error(rs, 409, "cannot_modify_self", "status",
			           "you cannot disable your own account; ask another administrator");
			goto out;
		}
		if (p.role != ROLE_NONE && p.role != role_parse(jsonx_str(current, "role"))) {
			resp_error(rs, 409, "cannot_modify_self", "role",
			           "you cannot change your own role; ask another administrator");
			goto out;
		}
	}
	rc = store_user_update(r->db, at_platform(r) ? NULL : r->tenant_id, id, &p, &user);
	if (rc == STORE_CONFLICT) {
		email_taken(rs);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		goto out;
	}
	details = json_object_new_object();
	fields = json_object_new_array();
	json_object_object_foreach(in, key, val) {
		(void)val;
		json_object_array_add(fields, json_object_new_string(key));
	}
	json_object_object_add(details, "fields", fields);
	if (p.role != ROLE_NONE)
		jsonx_add_str(details, "role", role_name(p.role));
	if (status)
		jsonx_add_str(details, "status", status);
	auth_audit(r, "user.update", "user", id, details);
	resp_json(rs, 200, user);
	user = NULL;
out:
	json_object_put(details);
	json_object_put(user);
	json_object_put(current);
	json_object_put(in);
}

void h_user_delete(struct req *r, struct resp *rs)
{
	json_object *current = NULL, *details = NULL;
	const char *id = r->params[0];
	int rc;

	if (user_load(r, rs, id, &current) < 0)
		return;
	if (is_self(r, id)) {
		resp_error(rs, 409, "cannot_modify_self", NULL,
		           "you cannot delete your own account; ask another administrator");
		goto out;
	}
	rc = store_user_delete(r->db, at_platform(r) ? NULL : r->tenant_id, id);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		goto out;
	}
	details = json_object_new_object();
	jsonx_add_str(details, "email", jsonx_str(current, "email"));
	jsonx_add_str(details, "role", jsonx_str(current, "role"));
	auth_audit(r, "user.delete", "user", id, details);
	resp_json(rs, 204, NULL);
out:
	json_object_put(details);
	json_object_put(current);
}
