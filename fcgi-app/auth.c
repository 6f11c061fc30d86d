/* auth.c: credentials -> r->who; permission and tenant; the request's database scope.
 *
 * The order for an authenticated route (route.c calls these in turn):
 *   auth_check   the Bearer credential (credential.h, shared with helperd's relay: a
 *                login JWT or a kdn_ API token, as its user is now), or without an
 *                Authorization header the login cookie (cookie.h), checked the same way.
 *                Every refusal is the same 401, so a caller learns nothing about why; a
 *                suspended tenant's credential is 403 tenant_suspended; a
 *                cookie-authenticated write without the login's X-Kaiden-CSRF token is
 *                403 csrf_failed.
 *   auth_allow   the role against the route's roles (403), then the tenant the request
 *                acts in, then the route's tenant flags (400 tenant_required).
 *   scope        db_scope_begin/end around the handler.
 *
 * The tenant of a request:
 *   tenant users, service tokens   their own; a subdomain (or X-Kaiden-Tenant) naming
 *                                  another tenant is 403 wrong_tenant
 *   staff, mode single             the default tenant
 *   staff, mode multi              X-Kaiden-Tenant (id or code; unknown: 404), else the
 *                                  subdomain <code>.<server.base_domain> when it names a
 *                                  tenant, else none (platform level)
 * A subdomain that names no tenant (app.<base>, www.<base>) counts as none: those hosts
 * serve the generic login page. Routes about the caller's own identity (/auth/...: no
 * tenant flag) act where that identity lives: staff at platform level, since their
 * logins and tokens belong to no tenant (row-level security would hide them in one);
 * GET /auth/me reports the tenant above as acting_tenant_id. */
#include "auth.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cfg.h"
#include "cookie.h"
#include "credential.h"
#include "db.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "route.h"
#include "secret.h"
#include "store.h"
#include "store_auth.h"
#include "store_tenant.h"


static int unauthorized(struct resp *rs)
{
	resp_error(rs, 401, "unauthorized", NULL,
	           "the bearer token is missing, not valid, expired or revoked");
	return -1;
}

int auth_is_staff(const struct req *r)
{
	return (r->who.role & ROLE_STAFF) != 0;
}

static int multi_mode(void)
{
	return strcmp(cfg_str(CFG_SERVER_MODE), "multi") == 0;
}

/* The kaiden_session cookie as an Authorization value ("Bearer <jwt>") in out: 1, or 0
 * when the request has none (or a malformed Cookie header, or a value that is no login
 * token: API tokens are never cookies). */
static int cookie_credential(const struct req *r, char *out, size_t outlen)
{
	char jwt[JWT_MAX_LEN];
	int ok;

	ok = cookie_get(r->cookie, COOKIE_SESSION, jwt, sizeof(jwt)) && strchr(jwt, '.') &&
	     snprintf(out, outlen, "Bearer %s", jwt) < (int)outlen;
	explicit_bzero(jwt, sizeof(jwt));
	return ok;
}

static int reads_only(const struct req *r)
{
	return r->method == HTTP_GET || r->method == HTTP_HEAD;
}

/* A cookie-authenticated write must carry the login's CSRF token (cookie.h). */
static int csrf_required(const struct req *r)
{
	return !reads_only(r);
}

int auth_check(struct req *r, struct resp *rs)
{
	struct credential cred;
	char log_id[64], from_cookie[JWT_MAX_LEN + 8];
	const char *authorization = r->authorization;
	int store_rc = STORE_ERR, by_cookie = 0;
	enum credential_rc crc;

	if (!r->db) {
		/* The worker could not connect: nothing can be checked. */
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return -1;
	}
	/* An Authorization header always wins; without one, the login cookie. */
	if (!*authorization && cookie_credential(r, from_cookie, sizeof(from_cookie))) {
		authorization = from_cookie;
		by_cookie = 1;
	}
	/* A read may use a credential this worker verified a moment ago (auth_cache.h);
	 * route.c confirms it at the end of the request. */
	r->cred_kept = reads_only(r) &&
	               auth_cache_get(r->auth_cache, r->db, authorization, &cred, &r->cred_use);
	if (r->cred_kept) {
		crc = CREDENTIAL_OK;
	} else {
		unsigned long mark = auth_cache_mark(r->auth_cache, r->db);
		snprintf(log_id, sizeof(log_id), "req=%s", r->request_id);
		crc = credential_identify(r->db, authorization, log_id, &cred, &store_rc);
		if (crc == CREDENTIAL_OK)
			auth_cache_put(r->auth_cache, r->db, authorization, &cred, mark);
	}
	if (by_cookie)
		explicit_bzero(from_cookie, sizeof(from_cookie));
	switch (crc) {
	case CREDENTIAL_OK:
		break;
	case CREDENTIAL_MISSING:
		resp_error(rs, 401, "unauthorized", NULL,
		           "send a token as Authorization: Bearer <token>, or sign in for the "
		           "login cookie");
		return -1;
	case CREDENTIAL_MALFORMED:
		resp_error(rs, 401, "unauthorized", NULL,
		           "the Authorization header must be: Bearer <token>");
		return -1;
	case CREDENTIAL_UNKNOWN:
		return unauthorized(rs);
	case CREDENTIAL_DB:
		resp_store_error(rs, store_rc, r->db, r->request_id,
		                 by_cookie || strchr(r->authorization, '.') ? "login check"
		                                                            : "token check");
		return -1;
	case CREDENTIAL_INTERNAL:
	default:
		resp_error(rs, 500, "internal", NULL, "the token could not be checked "
		           "(request id %s)", r->request_id);
		return -1;
	}
	if (cred.who.tenant_suspended) {
		resp_error(rs, 403, "tenant_suspended", NULL,
		           "your organisation's account is suspended; contact the platform's "
		           "administrators");
		return -1;
	}
	/* A page on another site can make the browser send the cookie, not read the CSRF
	 * token: a write without it is refused before its body is read. */
	if (by_cookie && csrf_required(r) && !csrf_valid(cred.who.credential_id, r->csrf_header)) {
		resp_error(rs, 403, "csrf_failed", NULL,
		           "a write authenticated by the login cookie must carry the "
		           CSRF_HEADER " header with the value of the " COOKIE_CSRF " cookie");
		return -1;
	}
	r->who = cred.who;
	r->login_credential = cred.kind == CREDENTIAL_LOGIN;
	r->by_cookie = by_cookie;
	return 0;
}

int auth_host_tenant_code(const struct req *r, char code[TENANT_CODE_MAX + 1])
{
	const char *base = cfg_str(CFG_SERVER_BASE_DOMAIN), *host = r->host ? r->host : "";
	size_t blen = base ? strlen(base) : 0, hlen = strlen(host), clen;

	if (blen == 0 || hlen <= blen + 1)
		return 0;
	if (strcasecmp(host + hlen - blen, base) != 0 || host[hlen - blen - 1] != '.')
		return 0;
	clen = hlen - blen - 1;
	if (clen > TENANT_CODE_MAX || memchr(host, '.', clen))
		return 0;
	for (size_t i = 0; i < clen; i++)
		code[i] = (char)tolower((unsigned char)host[i]);
	code[clen] = '\0';
	return 1;
}

/* The tenant named by the Host's subdomain: 1 (id written), 0 none, -1 (reply set). */
static int host_tenant(struct req *r, struct resp *rs, char id[UUID_STR_LEN])
{
	char code[TENANT_CODE_MAX + 1];
	int rc;

	if (!multi_mode() || !auth_host_tenant_code(r, code))
		return 0;
	rc = store_tenant_by_code(r->db, code, id);
	if (rc == STORE_NOT_FOUND)
		return 0;
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return -1;
	}
	return 1;
}

/* The tenant X-Kaiden-Tenant names (an id or a code): 1 (id written), 0 when the header
 * is absent, else the store's code (STORE_NOT_FOUND: no such tenant). */
static int lookup_header_tenant(struct req *r, char id[UUID_STR_LEN])
{
	const char *h = r->tenant_header ? r->tenant_header : "";
	json_object *tenant = NULL;
	char lower[UUID_STR_LEN];
	int rc;

	h += strspn(h, " \t");
	if (!*h)
		return 0;
	if (ids_is_uuid(h)) {
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			lower[i] = (char)tolower((unsigned char)h[i]);
		/* Before the request's scope (auth_allow), row-level security shows a tenant
		 * only inside a scope naming it: one of its own, just for this read. Inside
		 * the scope (GET /auth/me) the read is the scope's. */
		if (db_in_scope(r->db)) {
			rc = store_tenant_get(r->db, lower, &tenant);
		} else if (db_scope_begin_read(r->db, lower, 0) != DB_OK) {
			rc = STORE_ERR;
		} else {
			rc = store_tenant_get(r->db, lower, &tenant);
			if (db_scope_end(r->db, 1) != DB_OK && rc == STORE_OK)
				rc = STORE_ERR;
		}
		json_object_put(tenant);
		if (rc == STORE_OK)
			memcpy(id, lower, UUID_STR_LEN);
	} else if (strlen(h) <= TENANT_CODE_MAX && req_text_valid(h)) {
		rc = store_tenant_by_code(r->db, h, id);
	} else {
		rc = STORE_NOT_FOUND;
	}
	return rc == STORE_OK ? 1 : rc;
}

/* As lookup_header_tenant, with the reply set on failure (404 for no such tenant). */
static int header_tenant(struct req *r, struct resp *rs, char id[UUID_STR_LEN])
{
	int rc = lookup_header_tenant(r, id);

	if (rc >= 0)
		return rc;
	if (rc == STORE_NOT_FOUND)
		resp_error(rs, 404, "not_found", "X-Kaiden-Tenant",
		           "X-Kaiden-Tenant: no tenant has this id or code");
	else
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
	return -1;
}

/* A tenant user's (or service token's) request that names another tenant, by subdomain
 * or header, is refused: 0, or -1 with the reply set. Naming their own is fine; an
 * unknown tenant in the header is not theirs either. */
static int own_tenant_only(struct req *r, struct resp *rs)
{
	char id[UUID_STR_LEN];
	int rc;

	rc = host_tenant(r, rs, id);
	if (rc < 0)
		return -1;
	if (rc > 0 && strcmp(id, r->who.tenant_id) != 0)
		goto wrong;
	rc = lookup_header_tenant(r, id);
	if (rc == STORE_NOT_FOUND || (rc > 0 && strcmp(id, r->who.tenant_id) != 0))
		goto wrong;
	if (rc < 0) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return -1;
	}
	return 0;
wrong:
	resp_error(rs, 403, "wrong_tenant", NULL,
	           "this credential belongs to another tenant than the one this request names");
	return -1;
}

int auth_acting_tenant(struct req *r, struct resp *rs, char id[UUID_STR_LEN])
{
	int rc;

	id[0] = '\0';
	if (!auth_is_staff(r)) {
		if (!r->who.tenant_id[0]) {
			/* A tenant role without a tenant: the store would not make one. */
			log_error("req=%s credential %s has a tenant role and no tenant",
			          r->request_id, r->who.credential_id);
			resp_error(rs, 403, "forbidden", NULL, "this credential belongs to no tenant");
			return -1;
		}
		if (multi_mode() && own_tenant_only(r, rs) < 0)
			return -1;
		memcpy(id, r->who.tenant_id, UUID_STR_LEN);
		return 1;
	}
	if (!multi_mode()) {
		memcpy(id, DEFAULT_TENANT_ID, sizeof(DEFAULT_TENANT_ID));
		return 1;
	}
	rc = header_tenant(r, rs, id);
	if (rc == 0)
		rc = host_tenant(r, rs, id);
	if (rc <= 0)
		id[0] = '\0';
	return rc;
}

/* `?scope=platform` on a route that acts in either scope (users, audit): staff ask for
 * platform level whatever tenant the mode, header or subdomain gives them (in single
 * mode, where staff otherwise always act in the default tenant, this is the only way to
 * the staff users and the platform's audit). 0 (r->tenant_id emptied when asked), or -1
 * with the reply set. Other routes ignore the parameter, as they ignore any unknown one. */
static int platform_asked(struct req *r, struct resp *rs, const struct route *route)
{
	static const char *const scopes[] = { "platform", NULL };
	const char *scope;
	int rc;

	if ((route->flags & (ROUTE_TENANT | ROUTE_PLATFORM)) != (ROUTE_TENANT | ROUTE_PLATFORM))
		return 0;
	rc = req_query_enum(r, "scope", scopes, &scope);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		resp_error(rs, 400, "invalid_query", "scope", "scope: the only scope to ask for is "
		           "\"platform\"");
		return -1;
	}
	if (!auth_is_staff(r)) {
		resp_error(rs, 403, "forbidden", "scope", "only platform staff may act at platform "
		           "level");
		return -1;
	}
	r->tenant_id[0] = '\0';
	return 0;
}

int auth_allow(struct req *r, struct resp *rs, const struct route *route)
{
	int staff = auth_is_staff(r), rc;

	if (!(route->roles & (unsigned)r->who.role)) {
		const char *name = r->who.role == ROLE_SERVICE ? "service token" : role_name(r->who.role);
		resp_error(rs, 403, "forbidden", NULL, "your role (%s) may not do this",
		           name ? name : "unknown");
		return -1;
	}
	if (auth_acting_tenant(r, rs, r->tenant_id) < 0)
		return -1;
	if (platform_asked(r, rs, route) < 0)
		return -1;

	/* A route about the caller's own identity (/auth/...: neither flag) acts where that
	 * identity lives: a tenant user's tenant, staff at platform level (their logins and
	 * tokens belong to no tenant; row-level security would hide them in one). */
	if (!(route->flags & (ROUTE_TENANT | ROUTE_PLATFORM)) && staff)
		r->tenant_id[0] = '\0';

	/* The route's scope. A platform-only route never acts in a tenant; a tenant-only
	 * route must have one. */
	if ((route->flags & ROUTE_PLATFORM) && !(route->flags & ROUTE_TENANT)) {
		if (!staff) {
			resp_error(rs, 403, "forbidden", NULL, "only platform staff may do this");
			return -1;
		}
		r->tenant_id[0] = '\0';
	} else if ((route->flags & ROUTE_TENANT) && !(route->flags & ROUTE_PLATFORM) &&
	           !r->tenant_id[0]) {
		resp_error(rs, 400, "tenant_required", NULL,
		           "this acts in a tenant: name it with the X-Kaiden-Tenant header (its id "
		           "or code) or call through its subdomain");
		return -1;
	}

	/* Staff crossing into a tenant: the explicit, audited switch. In a scope of its own
	 * (row-level security lets the row in for that tenant), committed whatever the
	 * handler does next: a request that fails later was an access all the same. */
	if (staff && multi_mode() && r->tenant_id[0]) {
		if (db_scope_begin(r->db, r->tenant_id, 0) != DB_OK) {
			resp_error(rs, 503, "unavailable", NULL,
			           "the database is unreachable; try again later");
			return -1;
		}
		rc = store_audit_tenant_access(r->db, &r->who, r->tenant_id, r->remote_addr,
		                               r->request_id);
		if (db_scope_end(r->db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
			rc = STORE_ERR;
		if (rc != STORE_OK) {
			/* Fail closed: an access that cannot be recorded does not happen. */
			resp_store_error(rs, rc, r->db, r->request_id, "tenant access audit");
			return -1;
		}
	}
	return 0;
}

int auth_scope_begin(struct req *r, struct resp *rs)
{
	/* GET and HEAD only read (PostgreSQL holds them to it): each statement is then its
	 * own transaction, one round trip with the scope's settings (db.h). */
	int (*begin)(struct db *, const char *, int) =
		reads_only(r) ? db_scope_begin_read : db_scope_begin;

	if (begin(r->db, r->tenant_id[0] ? r->tenant_id : NULL,
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
	struct store_audit a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.tenant_id = r->tenant_id[0] ? r->tenant_id : NULL;
	a.actor = r->who.role != ROLE_NONE ? &r->who : NULL;
	a.action = action;
	a.target_type = target_type;
	a.target_id = target_id;
	a.remote_addr = r->remote_addr && *r->remote_addr ? r->remote_addr : NULL;
	a.request_id = r->request_id;
	a.details = details;
	rc = store_audit_add(r->db, &a);
	if (rc != STORE_OK)
		log_error("req=%s audit action=%s target=%s:%s could not be recorded (rc %d)",
		          r->request_id, action, target_type ? target_type : "-",
		          target_id ? target_id : "-", rc);
}

int auth_kept_confirm(struct req *r)
{
	if (!r->cred_kept)
		return 1;
	if (auth_cache_confirm(r->auth_cache, r->db, &r->cred_use))
		return 1;
	log_info("req=%s a kept credential may have changed during the request: checking it "
	         "again", r->request_id);
	r->cred_kept = 0;
	memset(&r->who, 0, sizeof(r->who));
	r->tenant_id[0] = '\0';
	r->login_credential = r->by_cookie = 0;
	/* Nothing is kept for the second run: the change may be this very credential. */
	r->auth_cache = NULL;
	return 0;
}
