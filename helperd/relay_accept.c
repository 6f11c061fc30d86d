/* relay_accept.c: the checks before a relay socket is upgraded, and the HTTP refusals
 * (agent/PROTOCOL.md, "Engineer side": the statuses and codes are that table's).
 *
 * The engineer's connect, in this order (cheap before costly, and nothing about a
 * session is told to a caller who is not allowed to know it):
 *   helperd stopping                                   503 unavailable
 *   ?target= not ssh or web                             400 invalid_field (target)
 *   relay.max_streams reached (a count, no work)        429 too_many_streams
 *   the Bearer credential (credential.h)                401 unauthorized / 503
 *   its tenant suspended                                403 tenant_suspended
 *   a customer                                          403 forbidden
 *   the session (by id, platform-wide)                  404 not_found / 503
 *   staff admin: any; staff engineer: the session's engineer; tenant admin and service
 *   token: their own tenant's                           403 forbidden
 *   the session's tenant suspended                      403 tenant_suspended
 *   a Cloudflare session                                409 not_relay
 *   not active                                          409 not_active
 *   the device's agent not connected here: forwarded to the helperd holding it
 *   (relay_peer.h; it checks everything again), else   409 agent_offline
 *   ... connected, but it speaks protocol 1             409 agent_outdated
 *   relay.session_streams reached                       429 too_many_streams
 * The agent's data socket: a stream that waits at another helperd (its id's tag) is
 * forwarded there (relay_peer.h); an unknown stream, a wrong, used or stale key are all
 * the same 401 (the log says which). A request from another helperd (X-Kaiden-Relay-Hop)
 * is never forwarded again. */
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "events.h"
#include "helperd.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "relay_access.h"
#include "relay_peer.h"
#include "relay_stream.h"

#define AGENT_PATH "/api/v1/ws/agent"
#define ARGS_MAX 8
#define ARG_LEN 64
#define AUTH_LEN (JWT_MAX_LEN + 128)

int relay_http_error(struct lws *wsi, unsigned status, const char *code, const char *field,
                     const char *message)
{
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	json_object *body = json_object_new_object(), *error = json_object_new_object();
	const char *text;
	char length[24];
	size_t n;
	int rc = -1;

	json_object_object_add(error, "code", json_object_new_string(code));
	json_object_object_add(error, "message", json_object_new_string(message));
	if (field)
		json_object_object_add(error, "field", json_object_new_string(field));
	json_object_object_add(body, "error", error);
	text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	n = strlen(text);
	snprintf(length, sizeof(length), "%zu", n + 1);
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
	                                 (const unsigned char *)"application/json", 16, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
	                                 (const unsigned char *)length, (int)strlen(length), &p,
	                                 end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < n + 1)
		goto out;
	memcpy(p, text, n);
	p[n] = '\n';
	p += n + 1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) == (int)(p - start))
		rc = 0;
out:
	json_object_put(body);
	return rc;
}

/* Refuses with an HTTP error, counts it and logs it: returns 1 (the callback's "answered"). */
static int refuse(struct lws *wsi, const char *what, unsigned status, const char *code,
                  const char *field, const char *message)
{
	relay_account_result(code);
	log_info("relay: %s refused %u %s: %s", what, status, code, message);
	if (relay_http_error(wsi, status, code, field, message) != 0)
		return -1;
	return 1;
}

/* The Authorization header into auth (AUTH_LEN), "" when absent; -1 when too long. */
static int authorization(struct lws *wsi, char *auth)
{
	auth[0] = '\0';
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		return 0;
	return lws_hdr_copy(wsi, auth, AUTH_LEN, WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ? -1 : 0;
}

static int target_of(struct lws *wsi, enum relay_target *out)
{
	char args[ARGS_MAX][ARG_LEN];
	const char *argv[ARGS_MAX];
	int n = 0;

	while (n < ARGS_MAX) {
		if (lws_hdr_copy_fragment(wsi, args[n], ARG_LEN, WSI_TOKEN_HTTP_URI_ARGS, n) < 0)
			break;
		argv[n] = args[n];
		n++;
	}
	return relay_target_parse(argv, n, out);
}

/* May this identity connect to this session? NULL, or why not. The rule is
 * relay_access.h's, which kaiden-api follows too; this only words the refusal. */
static const char *not_allowed(const struct store_identity *who,
                               const struct store_relay_session *session)
{
	if (relay_access_allowed(who, session->tenant_id, session->engineer_id))
		return NULL;
	switch (who->role) {
	case ROLE_ENGINEER:
		return "only the engineer who started this session (or an admin) may connect to it";
	case ROLE_TENANT_ADMIN:
	case ROLE_SERVICE:
		return "this session belongs to another tenant";
	default:
		return "customers may not connect to sessions";
	}
}

static int accept_connect(struct lws *wsi, const char *session_id, char *auth,
                          struct relay_pending *out)
{
	char what[160], log_id[160], message[160];
	struct store_relay_session session;
	const char *why;
	int store_rc = STORE_ERR, version;

	snprintf(what, sizeof(what), "connect session=%s", session_id);
	if (target_of(wsi, &out->target) != 0)
		return refuse(wsi, what, 400, "invalid_field", "target",
		              "target: must be ssh or web");
	if (relay_all.count >= relay_all.total_max) {
		snprintf(message, sizeof(message),
		         "this server carries its maximum of %ld relay streams; try again later",
		         relay_all.total_max);
		return refuse(wsi, what, 429, "too_many_streams", NULL, message);
	}
	hub_client_addr(wsi, out->addr);
	relay_peer_vouched(wsi, session_id, out->addr);
	snprintf(log_id, sizeof(log_id), "relay: connect session=%s addr=%s", session_id,
	         out->addr);
	switch (credential_identify(helperd.db, auth, log_id, &out->cred, &store_rc)) {
	case CREDENTIAL_OK:
		break;
	case CREDENTIAL_MISSING:
		return refuse(wsi, what, 401, "unauthorized", NULL,
		              "send a token as Authorization: Bearer <token>");
	case CREDENTIAL_MALFORMED:
		return refuse(wsi, what, 401, "unauthorized", NULL,
		              "the Authorization header must be: Bearer <token>");
	case CREDENTIAL_UNKNOWN:
		return refuse(wsi, what, 401, "unauthorized", NULL,
		              "the bearer token is missing, not valid, expired or revoked");
	default:
		return refuse(wsi, what, 503, "unavailable", NULL,
		              "the database is unreachable; try again later");
	}
	snprintf(what, sizeof(what), "connect session=%s credential=%s", session_id,
	         out->cred.who.credential_id);
	if (out->cred.who.tenant_suspended)
		return refuse(wsi, what, 403, "tenant_suspended", NULL,
		              "your organisation's account is suspended; contact the platform's "
		              "administrators");
	if (out->cred.who.role == ROLE_CUSTOMER)
		return refuse(wsi, what, 403, "forbidden", NULL,
		              "customers may not connect to sessions");
	switch (store_relay_session_get_any(helperd.db, session_id, &session)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		return refuse(wsi, what, 404, "not_found", NULL, "no such session");
	default:
		return refuse(wsi, what, 503, "unavailable", NULL,
		              "the database is unreachable; try again later");
	}
	if ((why = not_allowed(&out->cred.who, &session)))
		return refuse(wsi, what, 403, "forbidden", NULL, why);
	if (session.tenant_suspended)
		return refuse(wsi, what, 403, "tenant_suspended", NULL,
		              "this session's organisation is suspended");
	if (session.provider != SEAM_PROVIDER_RELAY)
		return refuse(wsi, what, 409, "not_relay", NULL,
		              "this session runs through Cloudflare: use its URLs");
	if (session.status != SEAM_STATUS_ACTIVE) {
		snprintf(message, sizeof(message), "the session is %s, not active",
		         seam_status_name(session.status));
		return refuse(wsi, what, 409, "not_active", NULL, message);
	}
	version = hub_version(session.device_id);
	if (version == 0 && !relay_peer_hop(wsi) &&
	    relay_peer_route_connect(session.device_id, out)) {
		snprintf(out->path, sizeof(out->path), RELAY_CONNECT_PREFIX "%s?target=%s",
		         session.id, relay_target_name(out->target));
		snprintf(out->auth, sizeof(out->auth), "%s", auth);
		log_info("relay: %s forwarded to %s, which holds the agent", what, out->peer);
		relay_account_result("forwarded");
		out->session = session;
		out->kind = RELAY_PATH_CONNECT;
		out->wsi = wsi;
		return 0;
	}
	if (version == 0)
		return refuse(wsi, what, 409, "agent_offline", NULL,
		              "the machine's agent is not connected");
	if (version < 2)
		return refuse(wsi, what, 409, "agent_outdated", NULL,
		              "the machine's kaiden-agent is too old for the relay: update it");
	if (relay_session_streams(session.id) >= relay_all.session_max) {
		snprintf(message, sizeof(message),
		         "this session has its maximum of %ld relay streams open",
		         relay_all.session_max);
		return refuse(wsi, what, 429, "too_many_streams", NULL, message);
	}
	out->session = session;
	out->kind = RELAY_PATH_CONNECT;
	out->wsi = wsi;
	return 0;
}

static int accept_stream(struct lws *wsi, const char *stream_id, const char *auth,
                         struct relay_pending *out)
{
	static const char *const why[] = {
		[RELAY_KEY_MISSING] = "no key",
		[RELAY_KEY_WRONG] = "wrong key",
		[RELAY_KEY_USED] = "key used before",
		[RELAY_KEY_EXPIRED] = "key too old",
	};
	struct relay_stream *s = stream_id ? relay_stream_opening(stream_id) : NULL;
	enum relay_key_rc rc;
	char what[96];

	snprintf(what, sizeof(what), "stream=%s", stream_id ? stream_id : "(not a UUID)");
	/* Only what looks like a data socket is carried to another helperd (a connection
	 * of ours per request), and not past relay.max_streams. */
	if (!s && stream_id && relay_key_well_formed(auth) && relay_all.count < relay_all.total_max &&
	    !relay_peer_hop(wsi) && relay_peer_route_stream(stream_id, out)) {
		snprintf(out->path, sizeof(out->path), RELAY_STREAM_PREFIX "%s", stream_id);
		snprintf(out->auth, sizeof(out->auth), "%s", auth);
		log_info("relay: %s forwarded to %s, where it waits", what, out->peer);
		relay_account_result("forwarded");
		out->kind = RELAY_PATH_STREAM;
		out->wsi = wsi;
		return 0;
	}
	if (!s) {
		relay_account_result("unknown_stream");
		log_info("relay: %s refused 401: no such stream waits", what);
		return relay_http_error(wsi, 401, "unauthorized", NULL, "unknown stream or key")
		               ? -1
		               : 1;
	}
	rc = relay_key_check(&s->key, auth, ids_now_ms());
	if (rc != RELAY_KEY_OK) {
		relay_account_result("bad_key");
		log_warn("relay: %s refused 401: %s", what, why[rc]);
		return relay_http_error(wsi, 401, "unauthorized", NULL, "unknown stream or key")
		               ? -1
		               : 1;
	}
	out->stream = s;
	out->kind = RELAY_PATH_STREAM;
	out->wsi = wsi;
	return 0;
}

int relay_accept(struct lws *wsi, struct relay_pending *out)
{
	char uri[128], id[UUID_STR_LEN], auth[AUTH_LEN];
	enum relay_path path;
	int rc;

	memset(out, 0, sizeof(*out));
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return refuse(wsi, "upgrade", 404, "not_found", NULL, "no such path");
	path = relay_path_parse(uri, id);
	if (path == RELAY_PATH_OTHER) {
		/* The agents' socket is the hub's. */
		if (strcmp(uri, AGENT_PATH) == 0)
			return 0;
		/* The browser's event stream is events.c's. */
		if (strcmp(uri, EVENTS_PATH) == 0)
			return events_accept(wsi);
		return refuse(wsi, "upgrade", 404, "not_found", NULL, "no such path");
	}
	if (!relay_all.initialised || helperd.stopping)
		return refuse(wsi, "upgrade", 503, "unavailable", NULL,
		              "helperd is stopping; try again in a moment");
	if (authorization(wsi, auth) != 0)
		return refuse(wsi, "upgrade", 401, "unauthorized", NULL,
		              "the Authorization header is too long");
	if (path == RELAY_PATH_BAD_ID) {
		if (strncmp(uri, RELAY_STREAM_PREFIX, strlen(RELAY_STREAM_PREFIX)) == 0)
			rc = accept_stream(wsi, NULL, auth, out);
		else
			rc = refuse(wsi, "connect", 404, "not_found", NULL, "no such session");
	} else if (path == RELAY_PATH_CONNECT) {
		rc = accept_connect(wsi, id, auth, out);
	} else {
		rc = accept_stream(wsi, id, auth, out);
	}
	explicit_bzero(auth, sizeof(auth));
	return rc;
}
