/* auth.c: credentials -> r->who; permission and tenant; the request's database scope.
 * FIXME(issue 4): interim version: only service tokens (store_token_check); login
 * tokens, user API tokens, subdomains and X-Kaiden-Tenant come next. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "route.h"
#include "secret.h"
#include "store.h"

/* A real token is TOKEN_LEN-1 characters; anything far longer is not worth a query. */
#define AUTH_HEADER_MAX 512

int auth_check(struct req *r, struct resp *rs)
{
	const char *h = r->authorization ? r->authorization : "";
	char token[TOKEN_LEN], tenant[UUID_STR_LEN];
	size_t len;
	int rc;

	if (!r->db) {
		/* The worker could not connect: nothing can be checked. */
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return -1;
	}
	if (!*h) {
		resp_error(rs, 401, "unauthorized", NULL,
		           "send an API token as Authorization: Bearer <token>");
		return -1;
	}
	/* The scheme is case-insensitive (RFC 9110 11.1); then one or more spaces. */
	if (strlen(h) > AUTH_HEADER_MAX || strncasecmp(h, "Bearer ", 7) != 0) {
		resp_error(rs, 401, "unauthorized", NULL,
		           "the Authorization header must be: Bearer <token>");
		return -1;
	}
	h += 7;
	h += strspn(h, " ");
	len = strlen(h);
	while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(token) || memchr(h, ' ', len)) {
		resp_error(rs, 401, "unauthorized", NULL, "the bearer token is missing or malformed");
		return -1;
	}
	memcpy(token, h, len);
	token[len] = '\0';

	rc = store_token_check(r->db, token, tenant);
	if (rc == STORE_NOT_FOUND) {
		resp_error(rs, 401, "unauthorized", NULL, "the token is not valid or was revoked");
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "token check");
		return -1;
	}
	memset(&r->who, 0, sizeof(r->who));
	memcpy(r->who.tenant_id, tenant, sizeof(r->who.tenant_id));
	r->who.role = ROLE_SERVICE;
	return 0;
}

int auth_is_staff(const struct req *r)
{
	return (r->who.role & ROLE_STAFF) != 0;
}

int auth_allow(struct req *r, struct resp *rs, const struct route *route)
{
	if (!(route->roles & (unsigned)r->who.role)) {
		resp_error(rs, 403, "forbidden", NULL, "your role may not do this");
		return -1;
	}
	memcpy(r->tenant_id, r->who.tenant_id, sizeof(r->tenant_id));
	return 0;
}

int auth_scope_begin(struct req *r, struct resp *rs)
{
	if (db_scope_begin(r->db, r->tenant_id[0] ? r->tenant_id : NULL,
	                   !r->tenant_id[0] && auth_is_staff(r)) != DB_OK) {
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return -1;
	}
	return 0;
}

void auth_scope_end(struct req *r, struct resp *rs)
{
	if (db_scope_end(r->db, rs->status > 0 && rs->status < 400) != DB_OK &&
	    rs->status < 400) {
		resp_clear(rs);
		resp_init(rs);
		resp_header(rs, "X-Request-Id", r->request_id);
		resp_error(rs, 503, "unavailable", NULL,
		           "the change could not be committed; try again later");
	}
}

void auth_audit(struct req *r, const char *action, const char *target_type,
                const char *target_id, json_object *details)
{
	(void)details;
	log_info("request=%s audit action=%s target=%s:%s", r->request_id, action,
	         target_type ? target_type : "-", target_id ? target_id : "-");
}
