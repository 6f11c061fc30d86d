/* h_sessions.c: /api/v1/sessions. The API writes the session row and its job in one
 * transaction (store_session_*); helperd does the tunnel work and moves the status on.
 *
 * The reply about one session (POST, GET, PATCH, DELETE) also carries "connect": the
 * commands that reach a relay session through kaiden-connect (connect_cmd.h), when the
 * session is a relay session that is pending or active and the caller may connect to
 * it (relay_access.h: the rule helperd enforces); else null. Lists leave it out: the
 * commands need the device's hostname, one more query per row. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "connect_cmd.h"
#include "ids.h"
#include "jsonx.h"
#include "relay_access.h"
#include "seam.h"
#include "store.h"
#include "store_cluster.h"
#include "store_tenant.h"
#include "tunnel_choice.h"

/* engineer_name is at most 128 characters (session_create_fields), 4 bytes each at
 * most, so a longer filter could match nothing. */
#define ENGINEER_QUERY_MAX (128 * 4)

/* A session is on a device: device_id, or a Kubernetes node by cluster_id and node_name
 * (node_ref); exactly one of the two ways, checked by the handler. */
static const struct jsonx_field session_create_fields[] = {
	{ "device_id", JSONX_STRING, 0, 0, 64, 0 },
	{ "engineer_name", JSONX_STRING, 1, 1, 128, 0 },
	{ "notes", JSONX_STRING, 0, 0, 4096, 1 },
	{ "ticket_id", JSONX_STRING, 0, 0, 64, 1 },
	{ "cluster_id", JSONX_STRING, 0, 0, 64, 1 },
	{ "node_name", JSONX_STRING, 0, 1, 253, 1 },
};

static const struct jsonx_field session_patch_fields[] = {
	{ "notes", JSONX_STRING, 1, 0, 4096, 1 },
};

/* The connect object for session as r's caller sees it (owned), or NULL (json null). */
static json_object *connect_of(struct req *r, json_object *session)
{
	const char *id = jsonx_str(session, "id"), *device_id = jsonx_str(session, "device_id");
	const char *status = jsonx_str(session, "status"), *server = h_server_url(r);
	json_object *device = NULL, *connect;
	enum seam_provider provider;

	if (seam_provider_parse(jsonx_str(session, "provider"), &provider) != 0 ||
	    provider != SEAM_PROVIDER_RELAY)
		return NULL;
	if (!seam_status_is(status, SEAM_STATUS_PENDING) &&
	    !seam_status_is(status, SEAM_STATUS_ACTIVE))
		return NULL;
	if (!relay_access_allowed(&r->who, r->tenant_id, jsonx_str(session, "engineer_id")))
		return NULL;
	if (!server || !*server)
		return NULL;
	/* The hostname is a nicety (what ssh shows): without it the command still works. */
	if (store_device_get(r->db, r->tenant_id, device_id, &device) != STORE_OK)
		device = NULL;
	connect = connect_cmd_new(server, id, device_id,
	                          device ? jsonx_str(device, "hostname") : NULL);
	json_object_put(device);
	return connect;
}

/* Replies status with session (taken), its connect member added. */
static void session_reply(struct req *r, struct resp *rs, int status, json_object *session)
{
	json_object_object_add(session, "connect", connect_of(r, session));
	resp_json(rs, status, session);
}

/* Which reference a STORE_NOT_FOUND from store_session_create is about: the ticket's
 * when it names none of the tenant's (tickets are deleted only with their tenant), else
 * the device's. */
static const char *missing_reference(struct req *r, const char *ticket_id)
{
	json_object *ticket = NULL;

	if (ticket_id &&
	    store_ticket_get(r->db, r->tenant_id, ticket_id, &ticket) == STORE_NOT_FOUND)
		return "ticket_id";
	json_object_put(ticket);
	return "device_id";
}

/* {cluster_id, node_name} (and no device_id) to the node's device: 0 with its id in
 * device_id, or -1 with the reply in rs: 400 for a malformed or half pair, 404
 * node_not_found (no such cluster in the tenant, or no such node in it), 409 node_offline
 * (a session needs the node's agent). */
static int node_ref(struct req *r, struct resp *rs, json_object *in,
                    char device_id[UUID_STR_LEN])
{
	const char *given = jsonx_str(in, "cluster_id"), *node = jsonx_str(in, "node_name");
	char cluster_id[UUID_STR_LEN];
	json_object *cluster = NULL;
	int online = 0, rc;

	if (jsonx_str(in, "device_id")) {
		resp_error(rs, 400, "invalid_field", "device_id",
		           "device_id: give either device_id or cluster_id and node_name, not both");
		return -1;
	}
	if (!given || !node) {
		resp_error(rs, 400, "missing_field", given ? "node_name" : "cluster_id",
		           "%s: this field is required with %s", given ? "node_name" : "cluster_id",
		           given ? "cluster_id" : "node_name");
		return -1;
	}
	if (ids_uuid_lower(given, cluster_id) != 0) {
		resp_error(rs, 400, "invalid_field", "cluster_id", "cluster_id: must be a cluster id");
		return -1;
	}
	rc = store_cluster_node(r->db, r->tenant_id, cluster_id, node, device_id, &online);
	if (rc == STORE_NOT_FOUND) {
		/* Which one is missing, for a message a person can act on. */
		rc = store_cluster_get(r->db, r->tenant_id, cluster_id, &cluster);
		if (rc == STORE_NOT_FOUND)
			resp_error(rs, 404, "node_not_found", "cluster_id",
			           "cluster_id: no such cluster in this tenant");
		else if (rc == STORE_OK)
			resp_error(rs, 404, "node_not_found", "node_name",
			           "node_name: cluster %s has no node named %s (GET "
			           "/api/v1/clusters/%s/nodes lists them)",
			           jsonx_str(cluster, "name"), node, cluster_id);
		else
			resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		json_object_put(cluster);
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster node");
		return -1;
	}
	if (!online) {
		resp_error(rs, 409, "node_offline", "node_name",
		           "node_name: the agent on node %s is offline; a session needs it online "
		           "(check the kaiden-agent pod on that node)",
		           node);
		return -1;
	}
	return 0;
}

void h_sessions_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *session = NULL;
	struct store_session_new s;
	char device_id[UUID_STR_LEN], ticket_id[UUID_STR_LEN], location[64 + UUID_STR_LEN];
	const char *given, *id, *field;
	int rc;

	if (h_body_object(r, rs, session_create_fields, ARRAY_LEN(session_create_fields), &in) < 0)
		return;
	if (jsonx_str(in, "cluster_id") || jsonx_str(in, "node_name")) {
		if (node_ref(r, rs, in, device_id) < 0)
			goto out;
	} else {
		given = jsonx_str(in, "device_id");
		if (!given) {
			resp_error(rs, 400, "missing_field", "device_id",
			           "device_id: this field is required (or cluster_id and node_name)");
			goto out;
		}
		if (ids_uuid_lower(given, device_id) != 0) {
			resp_error(rs, 400, "invalid_field", "device_id",
			           "device_id: must be a device id");
			goto out;
		}
	}
	given = jsonx_str(in, "ticket_id");
	if (given && ids_uuid_lower(given, ticket_id) != 0) {
		resp_error(rs, 400, "invalid_field", "ticket_id", "ticket_id: must be a ticket id");
		goto out;
	}

	memset(&s, 0, sizeof(s));
	s.device_id = device_id;
	s.ticket_id = given ? ticket_id : NULL;
	s.engineer_name = jsonx_str(in, "engineer_name");
	s.notes = jsonx_str(in, "notes");
	s.domain = cfg_str(CFG_CF_DOMAIN);
	s.provider = tunnel_choice();
	s.ssh_port = (int)cfg_int(CFG_SESSION_SSH_PORT);
	s.web_port = (int)cfg_int(CFG_SESSION_WEB_PORT);
	/* A user starting a session is its engineer; a service token has no user. */
	s.engineer_id = r->who.user_id[0] ? r->who.user_id : NULL;
	rc = store_session_create(r->db, r->tenant_id, &s, &session);
	if (rc == STORE_QUOTA) {
		long limit = 0;
		if (store_tenant_quota_check(r->db, r->tenant_id, QUOTA_CONCURRENT_SESSIONS,
		                             &limit) != STORE_CONFLICT)
			limit = 0;
		resp_error(rs, 409, "quota_exceeded", NULL,
		           "quota max_concurrent_sessions reached: this tenant may have %ld live "
		           "sessions at once; end one or ask for a higher quota",
		           limit);
		goto out;
	}
	if (rc == STORE_NOT_FOUND) {
		field = missing_reference(r, s.ticket_id);
		if (strcmp(field, "device_id") == 0 && jsonx_str(in, "node_name")) {
			/* The node was deleted since node_ref found it. */
			resp_error(rs, 404, "node_not_found", "node_name",
			           "node_name: the node is no longer in the cluster");
			goto out;
		}
		resp_error(rs, 422, "invalid_reference", field, "%s: no such %s", field,
		           strcmp(field, "ticket_id") == 0 ? "ticket" : "device");
		goto out;
	}
	/* The only conflict: the ticket is closed (store.h). */
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "ticket_closed", "ticket_id",
		           "ticket_id: the ticket is closed; reopen it (PATCH /api/v1/tickets/%s "
		           "with status open) to start a session from it",
		           s.ticket_id);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "session");
		goto out;
	}
	id = jsonx_str(session, "id");
	{
		json_object *details = json_object_new_object();
		if (details) {
			jsonx_add_str(details, "device_id", device_id);
			if (jsonx_str(in, "node_name")) {
				jsonx_add_str(details, "cluster_id", jsonx_str(in, "cluster_id"));
				jsonx_add_str(details, "node_name", jsonx_str(in, "node_name"));
			}
			if (s.ticket_id)
				jsonx_add_str(details, "ticket_id", s.ticket_id);
		}
		auth_audit(r, "session.start", "session", id, details);
		json_object_put(details);
	}
	snprintf(location, sizeof(location), "/api/v1/sessions/%s", id ? id : "");
	resp_header(rs, "Location", location);
	session_reply(r, rs, 201, session);
out:
	json_object_put(in);
}

/* GET /api/v1/sessions: newest first, filtered by device_id, ticket_id, status,
 * engineer (a user id: the sessions that user started; other text: a case-insensitive
 * substring of engineer_name), since (inclusive) and until (exclusive) on created_at,
 * RFC 3339. The cursor is an id (ids are time-ordered), so filters and pages compose. */
void h_sessions_list(struct req *r, struct resp *rs)
{
	struct store_session_filter f;
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], device_id[UUID_STR_LEN], ticket_id[UUID_STR_LEN];
	char engineer[ENGINEER_QUERY_MAX + 1];
	char since[TIMESTAMP_LEN], until[TIMESTAMP_LEN];
	const char *bad = NULL, *why = "";
	int has, rc;

	memset(&f, 0, sizeof(f));
	if (req_page(r, &page, cursor, &bad) < 0) {
		why = strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
		                                : "must be the next_cursor of a previous page";
		goto bad_query;
	}
	has = req_query_uuid(r, "device_id", device_id);
	if (has < 0) {
		bad = "device_id";
		why = "must be a device id";
		goto bad_query;
	}
	f.device_id = has ? device_id : NULL;
	has = req_query_uuid(r, "ticket_id", ticket_id);
	if (has < 0) {
		bad = "ticket_id";
		why = "must be a ticket id";
		goto bad_query;
	}
	f.ticket_id = has ? ticket_id : NULL;
	if (req_query_enum(r, "status", seam_statuses, &f.status) < 0) {
		bad = "status";
		why = "must be pending, active, ending, ended or failed";
		goto bad_query;
	}
	has = req_query_text(r, "engineer", engineer, sizeof(engineer));
	if (has < 0) {
		bad = "engineer";
		why = "must be a user id or part of an engineer's name (at most 128 characters)";
		goto bad_query;
	}
	f.engineer = has ? engineer : NULL;
	if (req_query_period(r, since, until, &f.since, &f.until, &bad, &why) < 0)
		goto bad_query;
	memset(&list, 0, sizeof(list));
	rc = store_session_list(r->db, r->tenant_id, &f, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "session list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad, why);
}

void h_session_get(struct req *r, struct resp *rs)
{
	json_object *session = NULL;
	int rc = store_session_get(r->db, r->tenant_id, r->params[0], &session);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "session");
		return;
	}
	session_reply(r, rs, 200, session);
}

void h_session_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *session = NULL;
	int rc;

	if (h_body_object(r, rs, session_patch_fields, ARRAY_LEN(session_patch_fields), &in) < 0)
		return;
	rc = store_session_set_notes(r->db, r->tenant_id, r->params[0], jsonx_str(in, "notes"),
	                             &session);
	if (rc != STORE_OK)
		resp_store_error(rs, rc, r->db, r->request_id, "session");
	else
		session_reply(r, rs, 200, session);
	json_object_put(in);
}

void h_session_delete(struct req *r, struct resp *rs)
{
	json_object *session = NULL;
	int changed = 0;
	int rc = store_session_end(r->db, r->tenant_id, r->params[0], &session, &changed);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "session");
		return;
	}
	/* Only the request that moved it: a repeated end changes nothing to record. */
	if (changed)
		auth_audit(r, "session.end", "session", r->params[0], NULL);
	session_reply(r, rs, changed ? 202 : 200, session);
}
