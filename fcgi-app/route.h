/* route.h: THE route table. One static array indexed by enum route_id (kcgi's habit):
 * method, path pattern with {placeholders}, handler, flags, and the roles allowed: it
 * is also the permission table (role x endpoint), the one place that says who may
 * call what. route_dispatch runs the
 * checks in a fixed order for every request: path, method (405 + Allow), content type and
 * declared body length, auth, permission and tenant, then reads the body (r->body_from)
 * and runs the handler inside the database scope. */
#ifndef KAIDEN_ROUTE_H
#define KAIDEN_ROUTE_H

#include "req.h"
#include "resp.h"

enum route_id {
	ROUTE_HEALTHZ,
	ROUTE_DEVICES_CREATE,
	ROUTE_DEVICES_LIST,
	ROUTE_DEVICE_GET,
	ROUTE_DEVICE_DELETE,
	ROUTE_DEVICE_ROTATE,
	ROUTE_CLUSTERS_CREATE,
	ROUTE_CLUSTERS_LIST,
	ROUTE_CLUSTER_GET,
	ROUTE_CLUSTER_PATCH,
	ROUTE_CLUSTER_DELETE,
	ROUTE_CLUSTER_NODES,
	ROUTE_CLUSTER_ROTATE,
	ROUTE_SESSIONS_CREATE,
	ROUTE_SESSIONS_LIST,
	ROUTE_SESSION_GET,
	ROUTE_SESSION_PATCH,
	ROUTE_SESSION_DELETE,
	ROUTE_TICKETS_CREATE,
	ROUTE_TICKETS_LIST,
	ROUTE_TICKET_GET,
	ROUTE_TICKET_PATCH,
	ROUTE_TICKET_COMMENTS_CREATE,
	ROUTE_TICKET_COMMENTS_LIST,
	ROUTE_AUTH_LOGIN,
	ROUTE_AUTH_ME,
	ROUTE_AUTH_LOGOUT,
	ROUTE_TOKENS_CREATE,
	ROUTE_TOKENS_LIST,
	ROUTE_TOKEN_DELETE,
	ROUTE_USERS_CREATE,
	ROUTE_USERS_LIST,
	ROUTE_USER_GET,
	ROUTE_USER_PATCH,
	ROUTE_USER_DELETE,
	ROUTE_TENANTS_CREATE,
	ROUTE_TENANTS_LIST,
	ROUTE_TENANT_ADMIN_GET,
	ROUTE_TENANT_ADMIN_PATCH,
	ROUTE_TENANT_ADMIN_DELETE,
	ROUTE_TENANT_GET,
	ROUTE_TENANT_PATCH,
	ROUTE_TENANT_USAGE,
	ROUTE_TENANT_EXPORT,
	ROUTE_TENANT_IMPORT,
	ROUTE_AUDIT_LIST,
	ROUTE_SYSTEM_STATUS,
	ROUTE_WEBHOOKS_CREATE,
	ROUTE_WEBHOOKS_LIST,
	ROUTE_WEBHOOK_GET,
	ROUTE_WEBHOOK_PATCH,
	ROUTE_WEBHOOK_DELETE,
	ROUTE_WEBHOOK_ROTATE,
	ROUTE_WEBHOOK_DELIVERIES,
	ROUTE_CATALOG_LIST,
	ROUTE_CATALOG_GET,
	ROUTE_CATALOG_CREATE,
	ROUTE_CATALOG_PATCH,
	ROUTE_CATALOG_DELETE,
	ROUTE_SERVICES_CREATE,
	ROUTE_SERVICES_LIST,
	ROUTE_SERVICE_GET,
	ROUTE_SERVICE_PATCH,
	ROUTE_SERVICE_DELETE,
	ROUTE_SERVICE_REVISIONS,
	ROUTE_SERVICE_ROLLBACK,
	ROUTE_SERVICE_DOMAIN_PUT,
	ROUTE_SERVICE_DOMAIN_DELETE,
	ROUTE_SERVICE_DOMAIN_VERIFY,
	ROUTE__MAX
};

enum route_flags {
	ROUTE_AUTH = 1 << 0,     /* needs a valid credential, and a role in .roles */
	ROUTE_BODY = 1 << 1,     /* takes a JSON body (application/json) */
	ROUTE_TENANT = 1 << 2,   /* acts in a tenant (staff in multi mode must name one) */
	ROUTE_PLATFORM = 1 << 3, /* acts at platform level (staff-wide scope); with
	                            ROUTE_TENANT: in the tenant if one is named, else here */
	ROUTE_ARCHIVE = 1 << 4   /* the body is a tenant archive: up to server.max_import
	                            rather than server.max_body */
};

typedef void (*route_handler)(struct req *r, struct resp *rs);

struct route {
	enum http_method method;
	const char *pattern; /* "/api/v1/devices/{id}"; {slug}: a DNS label, else a UUID */
	route_handler handler;
	unsigned flags;
	unsigned roles;      /* enum role bits that may call it (ROUTE_AUTH routes) */
	const char *summary; /* one line, also checked against docs/openapi.yaml */
};

/* The table, ROUTE__MAX entries. */
const struct route *route_table(void);
/* Finds the route and runs it; always leaves a status in rs. */
void route_dispatch(struct req *r, struct resp *rs);

#endif
