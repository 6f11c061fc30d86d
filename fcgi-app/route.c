/* route.c: THE route table, and the fixed order of checks every request goes through:
 *
 *   1. path     no pattern matches, or an {id} is not a canonical UUID -> 404
 *   2. method   the path exists but not with this method -> 405 + Allow
 *               (HEAD is served wherever GET is)
 *   3. body     ROUTE_BODY: not application/json -> 415; a CONTENT_LENGTH over the
 *               route's limit (server.max_body, or server.max_import for ROUTE_ARCHIVE)
 *               -> 413, nothing read
 *   4. auth     ROUTE_AUTH: the credential -> r->who, else 401 (auth.h)
 *   5. allow    the caller's role is among the route's roles, else 403; the tenant the
 *               request acts in -> r->tenant_id
 *   6. read     ROUTE_BODY: only now is the body read (req_read_body), up to the limit,
 *               else 413. Nothing before this point holds more than the headers, so an
 *               unauthenticated 60 MB import costs no memory.
 *   7. handler  inside the database scope (auth_scope_begin/end: on PostgreSQL one
 *               transaction with the tenant set for row-level security); validates its
 *               input, calls the store, fills the reply
 *
 * Every reply carries X-Request-Id. A malformed id is a 404 at step 1 so that it never
 * reaches the store (and never costs a query). */
#include "route.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "catalog.h"
#include "cfg.h"
#include "handlers.h"
#include "ids.h"
#include "store_auth.h"

#define STAFF ROLE_STAFF
#define ANY ROLE_ANY
#define R_ADMIN ROLE_ADMIN
#define R_TADMIN ROLE_TENANT_ADMIN
#define R_SERVICE ROLE_SERVICE
#define AUTH_T (ROUTE_AUTH | ROUTE_TENANT)

/* Who may do what. Customers read their tenant's devices and sessions, and open and
 * follow its tickets; tenant admins
 * also register and delete devices and manage their tenant's users; engineers start and
 * end sessions in any tenant; admins do everything, including tenants. A service token
 * (ROLE_SERVICE) does what its tenant's staff could inside that tenant. */
static const struct route routes[ROUTE__MAX] = {
	[ROUTE_HEALTHZ] = { HTTP_GET, "/healthz", h_healthz, 0, 0,
		"Health of the API and its database" },
	[ROUTE_DEVICES_CREATE] = { HTTP_POST, "/api/v1/devices", h_devices_create,
		AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Register a device; returns its secret once" },
	[ROUTE_DEVICES_LIST] = { HTTP_GET, "/api/v1/devices", h_devices_list, AUTH_T, ANY,
		"List devices" },
	[ROUTE_DEVICE_GET] = { HTTP_GET, "/api/v1/devices/{id}", h_device_get, AUTH_T, ANY,
		"Get a device" },
	[ROUTE_DEVICE_DELETE] = { HTTP_DELETE, "/api/v1/devices/{id}", h_device_delete, AUTH_T,
		STAFF | R_TADMIN | R_SERVICE, "Delete a device" },
	[ROUTE_DEVICE_ROTATE] = { HTTP_POST, "/api/v1/devices/{id}/rotate-secret",
		h_device_rotate, AUTH_T, STAFF | R_TADMIN | R_SERVICE,
		"Replace a device's secret; returns the new one once" },
	/* Clusters as devices: every role reads them, tenant admins and staff enrol and
	 * remove them (a cluster's secret is a device's, for each of its nodes). */
	[ROUTE_CLUSTERS_CREATE] = { HTTP_POST, "/api/v1/clusters", h_clusters_create,
		AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Enrol a Kubernetes cluster; returns its secret and install snippet once" },
	[ROUTE_CLUSTERS_LIST] = { HTTP_GET, "/api/v1/clusters", h_clusters_list, AUTH_T, ANY,
		"List clusters" },
	[ROUTE_CLUSTER_GET] = { HTTP_GET, "/api/v1/clusters/{id}", h_cluster_get, AUTH_T, ANY,
		"Get a cluster" },
	[ROUTE_CLUSTER_PATCH] = { HTTP_PATCH, "/api/v1/clusters/{id}", h_cluster_patch,
		AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE, "Rename a cluster" },
	[ROUTE_CLUSTER_DELETE] = { HTTP_DELETE, "/api/v1/clusters/{id}", h_cluster_delete,
		AUTH_T, STAFF | R_TADMIN | R_SERVICE,
		"Delete a cluster: its nodes' sessions end and its nodes go" },
	[ROUTE_CLUSTER_NODES] = { HTTP_GET, "/api/v1/clusters/{id}/nodes", h_cluster_nodes,
		AUTH_T, ANY, "A cluster's nodes (devices)" },
	[ROUTE_CLUSTER_ROTATE] = { HTTP_POST, "/api/v1/clusters/{id}/rotate-secret",
		h_cluster_rotate, AUTH_T, STAFF | R_TADMIN | R_SERVICE,
		"Replace a cluster's secret; returns the new one once" },
	[ROUTE_SESSIONS_CREATE] = { HTTP_POST, "/api/v1/sessions", h_sessions_create,
		AUTH_T | ROUTE_BODY, STAFF | R_SERVICE, "Start a support session on a device" },
	[ROUTE_SESSIONS_LIST] = { HTTP_GET, "/api/v1/sessions", h_sessions_list, AUTH_T, ANY,
		"List sessions" },
	[ROUTE_SESSION_GET] = { HTTP_GET, "/api/v1/sessions/{id}", h_session_get, AUTH_T, ANY,
		"Get a session" },
	[ROUTE_SESSION_PATCH] = { HTTP_PATCH, "/api/v1/sessions/{id}", h_session_patch,
		AUTH_T | ROUTE_BODY, STAFF | R_SERVICE, "Change a session's notes" },
	[ROUTE_SESSION_DELETE] = { HTTP_DELETE, "/api/v1/sessions/{id}", h_session_delete,
		AUTH_T, STAFF | R_SERVICE, "End a session" },

	/* Every role of the tenant; h_tickets.c checks each field (who may assign,
	 * reprioritise, move the workflow, write internal notes). */
	[ROUTE_TICKETS_CREATE] = { HTTP_POST, "/api/v1/tickets", h_tickets_create,
		AUTH_T | ROUTE_BODY, ANY, "Open a ticket" },
	[ROUTE_TICKETS_LIST] = { HTTP_GET, "/api/v1/tickets", h_tickets_list, AUTH_T, ANY,
		"List tickets (filters, search, pagination)" },
	[ROUTE_TICKET_GET] = { HTTP_GET, "/api/v1/tickets/{id}", h_ticket_get, AUTH_T, ANY,
		"Get a ticket" },
	[ROUTE_TICKET_PATCH] = { HTTP_PATCH, "/api/v1/tickets/{id}", h_ticket_patch,
		AUTH_T | ROUTE_BODY, ANY,
		"Change a ticket (title, description, device, status; staff: priority, assignee)" },
	[ROUTE_TICKET_COMMENTS_CREATE] = { HTTP_POST, "/api/v1/tickets/{id}/comments",
		h_ticket_comments_create, AUTH_T | ROUTE_BODY, ANY,
		"Comment on a ticket (staff: internal notes)" },
	[ROUTE_TICKET_COMMENTS_LIST] = { HTTP_GET, "/api/v1/tickets/{id}/comments",
		h_ticket_comments_list, AUTH_T, ANY,
		"A ticket's comments, oldest first (internal notes for staff only)" },

	[ROUTE_AUTH_LOGIN] = { HTTP_POST, "/api/v1/auth/login", h_auth_login, ROUTE_BODY, 0,
		"Log in with email and password; returns a token" },
	[ROUTE_AUTH_ME] = { HTTP_GET, "/api/v1/auth/me", h_auth_me, ROUTE_AUTH, ANY,
		"Who the caller is" },
	[ROUTE_AUTH_LOGOUT] = { HTTP_POST, "/api/v1/auth/logout", h_auth_logout, ROUTE_AUTH,
		ANY, "Revoke the login token used" },
	[ROUTE_TOKENS_CREATE] = { HTTP_POST, "/api/v1/auth/tokens", h_tokens_create,
		ROUTE_AUTH | ROUTE_BODY, ANY & ~R_SERVICE,
		"Create an API token acting as the caller; returns it once" },
	[ROUTE_TOKENS_LIST] = { HTTP_GET, "/api/v1/auth/tokens", h_tokens_list, ROUTE_AUTH,
		ANY & ~R_SERVICE, "List the caller's API tokens" },
	[ROUTE_TOKEN_DELETE] = { HTTP_DELETE, "/api/v1/auth/tokens/{id}", h_token_delete,
		ROUTE_AUTH, ANY & ~R_SERVICE, "Revoke one of the caller's API tokens" },

	[ROUTE_USERS_CREATE] = { HTTP_POST, "/api/v1/users", h_users_create,
		AUTH_T | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN | R_TADMIN | R_SERVICE,
		"Create a user (staff at platform level, else in the tenant)" },
	[ROUTE_USERS_LIST] = { HTTP_GET, "/api/v1/users", h_users_list,
		AUTH_T | ROUTE_PLATFORM, STAFF | R_TADMIN | R_SERVICE, "List users" },
	[ROUTE_USER_GET] = { HTTP_GET, "/api/v1/users/{id}", h_user_get, AUTH_T | ROUTE_PLATFORM,
		STAFF | R_TADMIN | R_SERVICE, "Get a user" },
	[ROUTE_USER_PATCH] = { HTTP_PATCH, "/api/v1/users/{id}", h_user_patch,
		AUTH_T | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN | R_TADMIN | R_SERVICE,
		"Change a user (name, email, role, status, password)" },
	[ROUTE_USER_DELETE] = { HTTP_DELETE, "/api/v1/users/{id}", h_user_delete,
		AUTH_T | ROUTE_PLATFORM, R_ADMIN | R_TADMIN | R_SERVICE, "Delete a user" },

	[ROUTE_TENANTS_CREATE] = { HTTP_POST, "/api/v1/admin/tenants", h_tenants_create,
		ROUTE_AUTH | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN, "Create a tenant" },
	[ROUTE_TENANTS_LIST] = { HTTP_GET, "/api/v1/admin/tenants", h_tenants_list,
		ROUTE_AUTH | ROUTE_PLATFORM, STAFF, "List tenants" },
	[ROUTE_TENANT_ADMIN_GET] = { HTTP_GET, "/api/v1/admin/tenants/{id}", h_tenant_admin_get,
		ROUTE_AUTH | ROUTE_PLATFORM, STAFF, "Get a tenant" },
	[ROUTE_TENANT_ADMIN_PATCH] = { HTTP_PATCH, "/api/v1/admin/tenants/{id}",
		h_tenant_admin_patch, ROUTE_AUTH | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN,
		"Change a tenant (name, code, status, plan, settings, quotas, trial end)" },
	[ROUTE_TENANT_ADMIN_DELETE] = { HTTP_DELETE, "/api/v1/admin/tenants/{id}",
		h_tenant_admin_delete, ROUTE_AUTH | ROUTE_PLATFORM, R_ADMIN,
		"Delete a tenant and all its data" },

	[ROUTE_TENANT_GET] = { HTTP_GET, "/api/v1/tenant", h_tenant_get, AUTH_T, ANY,
		"The caller's tenant" },
	[ROUTE_TENANT_PATCH] = { HTTP_PATCH, "/api/v1/tenant", h_tenant_patch,
		AUTH_T | ROUTE_BODY, R_ADMIN | R_TADMIN | R_SERVICE,
		"Change the tenant's name and settings" },
	[ROUTE_TENANT_USAGE] = { HTTP_GET, "/api/v1/tenant/usage", h_tenant_usage, AUTH_T,
		STAFF | R_TADMIN | R_SERVICE, "The tenant's usage against its quotas" },
	[ROUTE_TENANT_EXPORT] = { HTTP_POST, "/api/v1/tenant/export", h_tenant_export, AUTH_T,
		R_ADMIN | R_TADMIN | R_SERVICE, "Export the tenant's data as one archive" },
	[ROUTE_TENANT_IMPORT] = { HTTP_POST, "/api/v1/tenant/import", h_tenant_import,
		ROUTE_AUTH | ROUTE_PLATFORM | ROUTE_BODY | ROUTE_ARCHIVE, R_ADMIN,
		"Load a tenant archive into this deployment, ids kept" },

	[ROUTE_AUDIT_LIST] = { HTTP_GET, "/api/v1/audit", h_audit_list, AUTH_T | ROUTE_PLATFORM,
		STAFF | R_TADMIN | R_SERVICE, "The audit log (filters, pagination)" },

	[ROUTE_SYSTEM_STATUS] = { HTTP_GET, "/api/v1/admin/system", h_system_status,
		ROUTE_AUTH | ROUTE_PLATFORM, STAFF,
		"System health: helperds, jobs, devices, sessions" },

	/* Webhooks: a tenant's (in a tenant) or the platform's (staff at platform level).
	 * Staff change them as admins only, as tenant settings. */
	[ROUTE_WEBHOOKS_CREATE] = { HTTP_POST, "/api/v1/webhooks", h_webhooks_create,
		AUTH_T | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN | R_TADMIN | R_SERVICE,
		"Create a webhook; returns its signing secret once" },
	[ROUTE_WEBHOOKS_LIST] = { HTTP_GET, "/api/v1/webhooks", h_webhooks_list,
		AUTH_T | ROUTE_PLATFORM, STAFF | R_TADMIN | R_SERVICE, "List webhooks" },
	[ROUTE_WEBHOOK_GET] = { HTTP_GET, "/api/v1/webhooks/{id}", h_webhook_get,
		AUTH_T | ROUTE_PLATFORM, STAFF | R_TADMIN | R_SERVICE, "Get a webhook" },
	[ROUTE_WEBHOOK_PATCH] = { HTTP_PATCH, "/api/v1/webhooks/{id}", h_webhook_patch,
		AUTH_T | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN | R_TADMIN | R_SERVICE,
		"Change a webhook (url, events, description, status)" },
	[ROUTE_WEBHOOK_DELETE] = { HTTP_DELETE, "/api/v1/webhooks/{id}", h_webhook_delete,
		AUTH_T | ROUTE_PLATFORM, R_ADMIN | R_TADMIN | R_SERVICE,
		"Delete a webhook and its pending deliveries" },
	[ROUTE_WEBHOOK_ROTATE] = { HTTP_POST, "/api/v1/webhooks/{id}/rotate", h_webhook_rotate,
		AUTH_T | ROUTE_PLATFORM, R_ADMIN | R_TADMIN | R_SERVICE,
		"Replace a webhook's signing secret; returns the new one once" },
	[ROUTE_WEBHOOK_DELIVERIES] = { HTTP_GET, "/api/v1/webhooks/{id}/deliveries",
		h_webhook_deliveries, AUTH_T | ROUTE_PLATFORM, STAFF | R_TADMIN | R_SERVICE,
		"A webhook's delivery log" },

	/* The catalog of cloud services: platform data every signed-in role reads where it
	 * stands (disabled templates: staff only); platform admins change it, as tenants. */
	[ROUTE_CATALOG_LIST] = { HTTP_GET, "/api/v1/catalog", h_catalog_list, ROUTE_AUTH, ANY,
		"The catalog of cloud services (category, q)" },
	[ROUTE_CATALOG_GET] = { HTTP_GET, "/api/v1/catalog/{slug}", h_catalog_get, ROUTE_AUTH,
		ANY, "A cloud service template, with its values schema" },
	[ROUTE_CATALOG_CREATE] = { HTTP_POST, "/api/v1/catalog", h_catalog_create,
		ROUTE_AUTH | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN, "Add a cloud service template" },
	[ROUTE_CATALOG_PATCH] = { HTTP_PATCH, "/api/v1/catalog/{slug}", h_catalog_patch,
		ROUTE_AUTH | ROUTE_PLATFORM | ROUTE_BODY, R_ADMIN,
		"Change a cloud service template (any member but the slug)" },
	[ROUTE_CATALOG_DELETE] = { HTTP_DELETE, "/api/v1/catalog/{slug}", h_catalog_delete,
		ROUTE_AUTH | ROUTE_PLATFORM, R_ADMIN, "Remove a cloud service template" },

	/* Cloud services, as devices and clusters: every role of the tenant reads them
	 * (customers and engineers follow what runs); tenant admins, service tokens and
	 * staff launch, change, roll back and delete them. A change answers 202: helperd
	 * does the work. */
	[ROUTE_SERVICES_CREATE] = { HTTP_POST, "/api/v1/services", h_services_create,
		AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Launch a cloud service from a catalog template (202)" },
	[ROUTE_SERVICES_LIST] = { HTTP_GET, "/api/v1/services", h_services_list, AUTH_T, ANY,
		"List cloud services (status, template, q)" },
	[ROUTE_SERVICE_GET] = { HTTP_GET, "/api/v1/services/{id}", h_service_get, AUTH_T, ANY,
		"Get a cloud service: status, pods, URLs, secrets set or unset, domain" },
	[ROUTE_SERVICE_PATCH] = { HTTP_PATCH, "/api/v1/services/{id}", h_service_patch,
		AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Rename a cloud service, or change its values or chart version (an upgrade, 202)" },
	[ROUTE_SERVICE_DELETE] = { HTTP_DELETE, "/api/v1/services/{id}", h_service_delete,
		AUTH_T, STAFF | R_TADMIN | R_SERVICE, "Delete a cloud service (helm uninstall, 202)" },
	[ROUTE_SERVICE_REVISIONS] = { HTTP_GET, "/api/v1/services/{id}/revisions",
		h_service_revisions, AUTH_T, ANY, "A cloud service's revisions (helm history)" },
	[ROUTE_SERVICE_ROLLBACK] = { HTTP_POST, "/api/v1/services/{id}/rollback",
		h_service_rollback, AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Roll a cloud service back to one of its revisions (202)" },
	[ROUTE_SERVICE_DOMAIN_PUT] = { HTTP_PUT, "/api/v1/services/{id}/domain",
		h_service_domain_put, AUTH_T | ROUTE_BODY, STAFF | R_TADMIN | R_SERVICE,
		"Give a cloud service a custom domain; answers the CNAME record to create (202)" },
	[ROUTE_SERVICE_DOMAIN_DELETE] = { HTTP_DELETE, "/api/v1/services/{id}/domain",
		h_service_domain_delete, AUTH_T, STAFF | R_TADMIN | R_SERVICE,
		"Remove a cloud service's custom domain (202)" },
	[ROUTE_SERVICE_DOMAIN_VERIFY] = { HTTP_POST, "/api/v1/services/{id}/domain/verify",
		h_service_domain_verify, AUTH_T, STAFF | R_TADMIN | R_SERVICE,
		"Look the custom domain's CNAME up now (at most once per 10 s)" },
};

const struct route *route_table(void)
{
	return routes;
}

static int segment_is_uuid(const char *s, size_t len)
{
	char id[UUID_STR_LEN];

	if (len != UUID_STR_LEN - 1)
		return 0;
	memcpy(id, s, len);
	id[len] = '\0';
	return ids_is_uuid(id);
}

enum match { MATCH_NO, MATCH_YES, MATCH_BAD_ID };

/* A {slug} segment: a DNS label (catalog_slug_valid), in lower case as given. */
static int segment_is_slug(const char *s, size_t len)
{
	char slug[64];

	if (len == 0 || len >= sizeof(slug))
		return 0;
	memcpy(slug, s, len);
	slug[len] = '\0';
	return catalog_slug_valid(slug);
}

/* Matches path against pattern; a {name} segment takes one segment, which must be a
 * canonical UUID ({slug}: a slug, else no match). The values are recorded as (start,
 * length) pairs. */
static enum match pattern_match(const char *pattern, const char *path, const char *starts[],
                                size_t lens[], int *nparams)
{
	int n = 0, bad_id = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *close = strchr(pattern, '}');
			size_t seg = strcspn(path, "/");
			if (!close || seg == 0 || n >= REQ_MAX_PARAMS)
				return MATCH_NO;
			if (strncmp(pattern, "{slug}", 6) == 0) {
				if (!segment_is_slug(path, seg))
					return MATCH_NO;
			} else if (!segment_is_uuid(path, seg)) {
				bad_id = 1;
			}
			starts[n] = path;
			lens[n] = seg;
			n++;
			pattern = close + 1;
			path += seg;
			continue;
		}
		if (*pattern != *path)
			return MATCH_NO;
		pattern++;
		path++;
	}
	if (*pattern || *path)
		return MATCH_NO;
	if (bad_id)
		return MATCH_BAD_ID;
	*nparams = n;
	return MATCH_YES;
}

/* Copies the placeholder values, lower-cased, into strings the request owns. */
static int take_params(struct req *r, struct resp *rs, const char *const starts[],
                       const size_t lens[], int n)
{
	for (int i = 0; i < n; i++) {
		char *id = strndup(starts[i], lens[i]);
		if (!id || req_keep(r, id) < 0) {
			resp_error(rs, 500, "internal", NULL, "out of memory");
			return -1;
		}
		for (char *p = id; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r->params[i] = id;
	}
	r->nparams = n;
	return 0;
}

/* "application/json", any case, optionally followed by parameters (; charset=utf-8). */
static int content_type_is_json(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (!ct)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, json, n) != 0)
		return 0;
	ct += n;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

/* "GET, HEAD, POST": the methods of every route whose pattern matched, in enum order. */
static void allow_header(struct resp *rs, unsigned methods)
{
	char allow[128] = "";
	size_t len = 0;

	if (methods & (1u << HTTP_GET))
		methods |= 1u << HTTP_HEAD;
	for (int m = 0; m < HTTP_OTHER; m++) {
		if (!(methods & (1u << m)))
			continue;
		const char *name = req_method_name((enum http_method)m);
		size_t need = strlen(name) + (len ? 2 : 0);
		if (len + need >= sizeof(allow))
			break;
		if (len) {
			memcpy(allow + len, ", ", 2);
			len += 2;
		}
		memcpy(allow + len, name, strlen(name) + 1);
		len += strlen(name);
	}
	resp_header(rs, "Allow", allow);
}

/* The largest body a route takes. */
static long body_limit(const struct route *route)
{
	return cfg_int(route->flags & ROUTE_ARCHIVE ? CFG_SERVER_MAX_IMPORT : CFG_SERVER_MAX_BODY);
}

static void too_large(struct resp *rs, const struct route *route)
{
	resp_error(rs, 413, "payload_too_large", NULL,
	           "the body is larger than the limit of %ld bytes", body_limit(route));
}

static void route_checked(struct req *r, struct resp *rs, const struct route *found);

static void route_run(struct req *r, struct resp *rs)
{
	const char *starts[REQ_MAX_PARAMS], *found_starts[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS], found_lens[REQ_MAX_PARAMS];
	const struct route *found = NULL;
	unsigned methods = 0;
	int found_n = 0, bad_id = 0;

	for (int i = 0; i < ROUTE__MAX; i++) {
		int n = 0;
		enum match m = pattern_match(routes[i].pattern, r->path ? r->path : "", starts,
		                             lens, &n);
		if (m == MATCH_BAD_ID)
			bad_id = 1;
		if (m != MATCH_YES)
			continue;
		methods |= 1u << routes[i].method;
		if (routes[i].method == r->method ||
		    (r->method == HTTP_HEAD && routes[i].method == HTTP_GET)) {
			/* The first route of the path and method; the other methods of the path
			 * only matter (Allow) when there is none. */
			found = &routes[i];
			found_n = n;
			memcpy(found_starts, starts, sizeof(starts));
			memcpy(found_lens, lens, sizeof(lens));
			break;
		}
	}
	if (!methods) {
		if (bad_id)
			resp_error(rs, 404, "not_found", NULL, "no such resource: the id is not a UUID");
		else
			resp_error(rs, 404, "not_found", NULL, "no such path");
		return;
	}
	if (!found) {
		allow_header(rs, methods);
		resp_error(rs, 405, "method_not_allowed", NULL, "%s is not allowed on this path",
		           r->method == HTTP_OTHER ? "this method" : req_method_name(r->method));
		return;
	}
	if (take_params(r, rs, found_starts, found_lens, found_n) < 0)
		return;

	if (found->flags & ROUTE_BODY) {
		if (!content_type_is_json(r->content_type)) {
			resp_error(rs, 415, "unsupported_media_type", NULL,
			           "send the body as Content-Type: application/json");
			return;
		}
		if (r->content_length > body_limit(found)) {
			too_large(rs, found); /* said up front: costs nothing to refuse */
			return;
		}
	}
	route_checked(r, rs, found);
	/* A read whose credential came from the worker's cache and may have changed while
	 * it ran: its reply goes, and it runs again with the credential checked afresh. */
	if (!auth_kept_confirm(r)) {
		resp_clear(rs);
		resp_init(rs);
		resp_header(rs, "X-Request-Id", r->request_id);
		route_checked(r, rs, found);
	}
}

/* Steps 4 to 7 (the top of the file) for the route found. */
static void route_checked(struct req *r, struct resp *rs, const struct route *found)
{
	if ((found->flags & ROUTE_AUTH) && (auth_check(r, rs) < 0 || auth_allow(r, rs, found) < 0))
		return;
	/* Only now is the body read: a stranger cannot make us hold server.max_import. */
	if (found->flags & ROUTE_BODY) {
		switch (req_read_body(r, body_limit(found))) {
		case REQ_BODY_OK:
			break;
		case REQ_BODY_TOO_LARGE:
			too_large(rs, found);
			return;
		case REQ_BODY_NOMEM:
			resp_error(rs, 500, "internal", NULL, "out of memory reading the body");
			return;
		}
	}
	if (!(found->flags & ROUTE_AUTH)) {
		found->handler(r, rs);
		return;
	}
	if (auth_scope_begin(r, rs) < 0)
		return;
	found->handler(r, rs);
	auth_scope_end(r, rs);
}

void route_dispatch(struct req *r, struct resp *rs)
{
	resp_header(rs, "X-Request-Id", r->request_id);
	route_run(r, rs);
	if (rs->status == 0)
		resp_error(rs, 500, "internal", NULL, "the handler gave no reply");
}
