/* route.h: THE route table. One static array indexed by enum route_id (kcgi's habit):
 * method, path pattern with {placeholders}, handler, flags. route_dispatch runs the
 * checks in a fixed order for every request: path, method (405 + Allow), body limits and
 * content type, auth, then the handler. */
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
	ROUTE_SESSIONS_CREATE,
	ROUTE_SESSIONS_LIST,
	ROUTE_SESSION_GET,
	ROUTE_SESSION_PATCH,
	ROUTE_SESSION_DELETE,
	ROUTE__MAX
};

enum route_flags {
	ROUTE_AUTH = 1 << 0, /* needs a valid bearer token */
	ROUTE_BODY = 1 << 1  /* takes a JSON body (application/json) */
};

typedef void (*route_handler)(struct req *r, struct resp *rs);

struct route {
	enum http_method method;
	const char *pattern; /* "/api/v1/devices/{id}" */
	route_handler handler;
	unsigned flags;
	const char *summary; /* one line, also checked against docs/openapi.yaml */
};

/* The table, ROUTE__MAX entries. */
const struct route *route_table(void);
/* Finds the route and runs it; always leaves a status in rs. */
void route_dispatch(struct req *r, struct resp *rs);

#endif
