/* events_accept.c: the checks before an event stream is upgraded (events.h lists them),
 * cheap before costly, and the HTTP refusals (the API's JSON error shape):
 *   helperd stopping                                   503 unavailable
 *   EVENTS_MAX streams here                             429 too_many_connections
 *   an Origin that is not the request's Host            403 forbidden_origin
 *   (no Origin with the cookie: a browser sends one)
 *   the credential: Authorization, else the cookie      401 unauthorized / 503
 *   its tenant suspended                                403 tenant_suspended
 *   EVENTS_PER_USER streams of this user or token       429 too_many_connections
 *   ?tenant=: a tenant user's or token's other tenant   403 wrong_tenant
 *             staff in multi mode: none                 400 tenant_required
 *             unknown                                   404 not_found
 *             known: tenant.access audited (kaiden-api's switch), or 503 */
#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "events.h"
#include "events_conn.h"
#include "events_json.h"
#include "helperd.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "relay_stream.h"
#include "store.h"
#include "store_tenant.h"

#define ARGS_MAX 8
#define ARG_LEN 128
#define HOST_LEN 320
#define AUTH_LEN (JWT_MAX_LEN + 128)
#define COOKIE_LEN 8192

static int refuse(struct lws *wsi, const char *addr, unsigned status, const char *code,
                  const char *field, const char *message)
{
	events_refused(code);
	log_info("events: addr=%s refused %u %s: %s", addr, status, code, message);
	return relay_http_error(wsi, status, code, field, message) != 0 ? -1 : 1;
}

/* Header tok into out (size len): its length, 0 when absent, -1 when too long. */
static int header(struct lws *wsi, enum lws_token_indexes tok, char *out, int len)
{
	int n = lws_hdr_total_length(wsi, tok);

	out[0] = '\0';
	if (n <= 0)
		return 0;
	if (n >= len)
		return -1;
	return lws_hdr_copy(wsi, out, len, tok) < 0 ? -1 : n;
}

/* The value of ?tenant= into out (ARG_LEN): 1, 0 when absent. */
static int tenant_arg(struct lws *wsi, char *out)
{
	char arg[ARG_LEN];

	for (int i = 0; i < ARGS_MAX; i++) {
		if (lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		if (strncmp(arg, "tenant=", 7) == 0) {
			snprintf(out, ARG_LEN, "%s", arg + 7);
			return out[0] != '\0';
		}
	}
	return 0;
}

/* The tenant an id or a code names: STORE_OK with id written, or the store's code. */
static int resolve_tenant(const char *given, char id[UUID_STR_LEN])
{
	json_object *tenant = NULL;
	char lower[UUID_STR_LEN];
	int rc;

	if (ids_is_uuid(given)) {
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			lower[i] = (char)tolower((unsigned char)given[i]);
		/* Row-level security shows a tenant only inside a scope naming it. */
		if (db_scope_begin(helperd.db, lower, 0) != DB_OK)
			return STORE_ERR;
		rc = store_tenant_get(helperd.db, lower, &tenant);
		if (db_scope_end(helperd.db, 1) != DB_OK && rc == STORE_OK)
			rc = STORE_ERR;
		json_object_put(tenant);
		if (rc == STORE_OK)
			memcpy(id, lower, UUID_STR_LEN);
		return rc;
	}
	if (!store_tenant_code_valid(given))
		return STORE_NOT_FOUND;
	return store_tenant_by_code(helperd.db, given, id);
}

/* The tenant whose events the caller gets, into out->tenant_id: 0, or refused. */
static int scope(struct lws *wsi, struct events_pending *out)
{
	const struct store_identity *who = &out->cred.who;
	int multi = strcmp(cfg_str(CFG_SERVER_MODE), "multi") == 0, rc;
	char arg[ARG_LEN], id[UUID_STR_LEN], request_id[UUID_STR_LEN];
	int given = tenant_arg(wsi, arg);

	if (!(who->role & ROLE_STAFF)) {
		if (given && (resolve_tenant(arg, id) != STORE_OK || strcmp(id, who->tenant_id) != 0))
			return refuse(wsi, out->addr, 403, "wrong_tenant", "tenant",
			              "tenant: you may only watch your own organisation");
		memcpy(out->tenant_id, who->tenant_id, UUID_STR_LEN);
		return 0;
	}
	if (!multi) {
		memcpy(out->tenant_id, DEFAULT_TENANT_ID, UUID_STR_LEN);
		return 0;
	}
	if (!given)
		return refuse(wsi, out->addr, 400, "tenant_required", "tenant",
		              "tenant: name the tenant to watch (?tenant=ID or code)");
	rc = resolve_tenant(arg, id);
	if (rc == STORE_NOT_FOUND)
		return refuse(wsi, out->addr, 404, "not_found", "tenant",
		              "tenant: no tenant has this id or code");
	if (rc != STORE_OK)
		return refuse(wsi, out->addr, 503, "unavailable", NULL,
		              "the database is unreachable; try again later");
	/* Staff crossing into a tenant is the audited switch, as in kaiden-api (auth.c):
	 * tenant.access, once per credential and tenant; not recorded, not allowed. */
	if (db_scope_begin(helperd.db, id, 0) != DB_OK)
		return refuse(wsi, out->addr, 503, "unavailable", NULL,
		              "the database is unreachable; try again later");
	ids_uuid7(request_id);
	log_info("events: addr=%s credential=%s request=%s tenant=%s: staff access", out->addr,
	         who->credential_id, request_id, id);
	rc = store_audit_tenant_access(helperd.db, who, id, out->addr, request_id);
	if (db_scope_end(helperd.db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK)
		return refuse(wsi, out->addr, 503, "unavailable", NULL,
		              "the tenant access could not be recorded; try again later");
	memcpy(out->tenant_id, id, UUID_STR_LEN);
	return 0;
}

static int identify(struct lws *wsi, struct events_pending *out, int *by_cookie)
{
	static char auth[AUTH_LEN], cookie[COOKIE_LEN];
	char log_id[96];
	enum credential_rc rc;
	int store_rc = STORE_ERR;

	snprintf(log_id, sizeof(log_id), "events: addr=%s", out->addr);
	*by_cookie = 0;
	if (header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) < 0 ||
	    header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie)) < 0) {
		rc = CREDENTIAL_MALFORMED;
	} else if (auth[0]) {
		rc = credential_identify(helperd.db, auth, log_id, &out->cred, &store_rc);
	} else {
		*by_cookie = 1;
		rc = credential_identify_cookie(helperd.db, cookie, log_id, &out->cred, &store_rc);
	}
	explicit_bzero(auth, sizeof(auth));
	explicit_bzero(cookie, sizeof(cookie));
	switch (rc) {
	case CREDENTIAL_OK:
		return 0;
	case CREDENTIAL_MISSING:
	case CREDENTIAL_MALFORMED:
	case CREDENTIAL_UNKNOWN:
		return refuse(wsi, out->addr, 401, "unauthorized", NULL,
		              "sign in first: the login cookie (or a bearer token) is missing, "
		              "not valid, expired or revoked");
	default:
		return refuse(wsi, out->addr, 503, "unavailable", NULL,
		              "the database is unreachable; try again later");
	}
}

static int check(struct lws *wsi, struct events_pending *out)
{
	char origin[HOST_LEN], host[HOST_LEN], message[160];
	int has_origin, by_cookie, rc;

	memset(out, 0, sizeof(*out));
	hub_client_addr(wsi, out->addr);
	if (!events_open() || helperd.stopping)
		return refuse(wsi, out->addr, 503, "unavailable", NULL,
		              "helperd is stopping; try again in a moment");
	if (events_count() >= EVENTS_MAX) {
		snprintf(message, sizeof(message),
		         "this server carries its maximum of %d event streams; try again later",
		         EVENTS_MAX);
		return refuse(wsi, out->addr, 429, "too_many_connections", NULL, message);
	}
	has_origin = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
	if (has_origin != 0 &&
	    (has_origin < 0 || header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) <= 0 ||
	     !events_origin_ok(origin, host)))
		return refuse(wsi, out->addr, 403, "forbidden_origin", NULL,
		              "the page asking for events is not this site's");
	rc = identify(wsi, out, &by_cookie);
	if (rc != 0)
		return rc;
	/* A browser always sends an Origin with a WebSocket; a cookie without one came
	 * from something that is no browser page of ours. */
	if (by_cookie && has_origin == 0)
		return refuse(wsi, out->addr, 403, "forbidden_origin", NULL,
		              "a stream authenticated by the login cookie needs an Origin header");
	if (out->cred.who.tenant_suspended)
		return refuse(wsi, out->addr, 403, "tenant_suspended", NULL,
		              "your organisation's account is suspended; contact the platform's "
		              "administrators");
	if (events_count_of(&out->cred) >= EVENTS_PER_USER) {
		snprintf(message, sizeof(message),
		         "you have %d event streams open already; close a tab or two", EVENTS_PER_USER);
		return refuse(wsi, out->addr, 429, "too_many_connections", NULL, message);
	}
	rc = scope(wsi, out);
	if (rc != 0)
		return rc;
	out->wsi = wsi;
	return 0;
}

int events_accept(struct lws *wsi)
{
	struct events_pending *p = events_pending();
	int rc = check(wsi, p);

	if (rc != 0)
		memset(p, 0, sizeof(*p));
	return rc;
}
