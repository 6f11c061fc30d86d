/* auth.h: who is calling, what they may do, and which tenant the request acts in.
 *
 * Credentials (Authorization: Bearer ...):
 *   - a login token: a JWT (jwt.h) signed with auth.jwt_secret, whose jti must name a
 *     login that is not revoked (store_login_lookup);
 *   - an API token "kdn_<id>_<secret>" (store_token_identify): a user's own token acts
 *     with that user's rights as they are now; a service token (no user; what
 *     `kaiden-api token create` and make run's admin.token are) acts as ROLE_SERVICE
 *     within its tenant.
 * Without an Authorization header, the login token may come from the kaiden_session
 * cookie (cookie.h, for the browser portal); a write (not GET/HEAD) authenticated that
 * way must carry X-Kaiden-CSRF with the login's CSRF token. An Authorization header
 * always wins over the cookie; API tokens are never read from a cookie.
 * Both are refused when the user is disabled or deleted; a suspended tenant's
 * credentials get 403 tenant_suspended.
 *
 * The tenant a request acts in (r->tenant_id):
 *   - tenant users and service tokens: their own tenant. A request to another tenant's
 *     subdomain (server.base_domain) is refused (403 wrong_tenant).
 *   - staff (admin, engineer): server.mode single: the default tenant. multi: the
 *     tenant named by X-Kaiden-Tenant (id or code) or by the subdomain, else none
 *     (platform level). Acting in a tenant is recorded once per credential and tenant
 *     in the audit log (tenant.access): the explicit, audited switch.
 *
 * The permission table is the route table (route.c): each route lists the roles that
 * may call it; docs/api.md shows it. */
#ifndef KAIDEN_AUTH_H
#define KAIDEN_AUTH_H

#include "compat.h"
#include "req.h"
#include "resp.h"

struct route;

/* Fills r->who (and r->login_credential, r->by_cookie) from the bearer credential or
 * the login cookie. 0, or -1 with the reply already in rs (401 unauthorized for a
 * missing, malformed, unknown, expired or revoked credential; 403 tenant_suspended; 403
 * csrf_failed for a cookie-authenticated write without the right X-Kaiden-CSRF; 503/500
 * when the database fails). */
int auth_check(struct req *r, struct resp *rs) WUR;

/* After auth_check: 403 forbidden unless r->who.role is among route->roles; then
 * resolves r->tenant_id as above (400 tenant_required for a ROUTE_TENANT route that
 * staff call with no tenant named; 404 not_found for an X-Kaiden-Tenant naming no
 * tenant). 0 or -1 with the reply in rs. */
int auth_allow(struct req *r, struct resp *rs, const struct route *route) WUR;

/* The tenant the request would act in by the rules above, whatever the route: 1 with
 * id written, 0 for none (staff at platform level), -1 with the reply in rs (403
 * wrong_tenant, 404 for an X-Kaiden-Tenant naming no tenant). auth_allow uses it; GET
 * /auth/me reports it (routes about the caller's own identity act at platform level
 * for staff, where their logins and tokens live). */
int auth_acting_tenant(struct req *r, struct resp *rs, char id[UUID_STR_LEN]) WUR;

/* At the end of a request whose credential came from the worker's cache (auth_cache.h):
 * 1 when it still held, 0 when it may have changed meanwhile: the reply must then be
 * thrown away and the request run again (reads only, so nothing of the first run
 * stays); r's identity is cleared and nothing is kept for the second run. 1 also when
 * the credential was checked in full. */
int auth_kept_confirm(struct req *r) WUR;

/* Opens the database scope for the handler (db_scope_begin with r->tenant_id, or
 * staff-wide when r->tenant_id is "" and the caller is staff). 0 or -1 (503 in rs). */
int auth_scope_begin(struct req *r, struct resp *rs) WUR;
/* Closes it: commits when rs->status < 400, else rolls back. A failed commit replaces
 * the reply with 503. */
void auth_scope_end(struct req *r, struct resp *rs);

/* Appends an audit entry for this request: actor r->who, tenant r->tenant_id (NULL
 * when ""), remote address and request id. details is borrowed (may be NULL). On
 * PostgreSQL the entry is part of the request's transaction: if it cannot be written,
 * the request's change is rolled back with it and the reply becomes 503 (no change
 * without its audit row). On SQLite (no request transaction) a failure is logged. */
void auth_audit(struct req *r, const char *action, const char *target_type,
                const char *target_id, json_object *details);

/* 1 when the caller is platform staff. */
int auth_is_staff(const struct req *r);

/* Longest tenant code (a DNS label). */
#define TENANT_CODE_MAX 63
/* The tenant code a Host names: "<code>.<server.base_domain>" with one label before the
 * base domain (whether a tenant has it is the store's question). 1 with code written,
 * else 0. */
int auth_host_tenant_code(const struct req *r, char code[TENANT_CODE_MAX + 1]);

#endif
