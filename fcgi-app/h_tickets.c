/* h_tickets.c: /api/v1/tickets and their comments. The store (store.h, "tickets") owns
 * the numbers, the status workflow and the comments a change writes by itself; this
 * file decides who may do what (the route table lets every role of the tenant in):
 *
 *   staff (admin, engineer) acting in the tenant, and the tenant's service tokens
 *       everything: open, edit, assign, reprioritise, any step of the workflow, and
 *       internal notes
 *   tenant users (tenant_admin, customer)
 *       open tickets; edit a ticket's title, description and device; comment; close
 *       (-> closed) and reopen (-> open) any ticket of their tenant. Not assign,
 *       reprioritise, nor move to in_progress or resolved: 403 forbidden naming the
 *       field. They never see an internal comment: the list leaves them out, and there
 *       is no other way to a comment.
 *
 * Order of checks in a write: the ticket (another tenant's is a 404 whatever the body
 * says), the body's shape (400), the caller's right to each field (403), what the
 * fields name (422), then the store (409 for the workflow and the quota). */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "ids.h"
#include "jsonx.h"
#include "store.h"
#include "store_cluster.h"
#include "store_auth.h"
#include "store_tenant.h"

/* Longest q= filter, in bytes (a title is 200 characters, 4 bytes each at most). */
#define TICKET_Q_MAX 800
/* The longest a user's name (200 characters) or a token's name may be, as UTF-8. */
#define AUTHOR_NAME_MAX 1024

static const struct jsonx_field ticket_create_fields[] = {
	{ "title", JSONX_STRING, 1, 1, 200, 0 },
	{ "description", JSONX_STRING, 0, 0, 20000, 1 },
	{ "priority", JSONX_STRING, 0, 1, 16, 1 },
	{ "device_id", JSONX_STRING, 0, 1, 64, 1 },
	{ "cluster_id", JSONX_STRING, 0, 1, 64, 1 },
};

/* null clears assigned_to, device_id and cluster_id; elsewhere null is refused. */
static const struct jsonx_field ticket_patch_fields[] = {
	{ "title", JSONX_STRING, 0, 1, 200, 0 },
	{ "description", JSONX_STRING, 0, 0, 20000, 0 },
	{ "priority", JSONX_STRING, 0, 1, 16, 0 },
	{ "status", JSONX_STRING, 0, 1, 16, 0 },
	{ "assigned_to", JSONX_STRING, 0, 1, 64, 1 },
	{ "device_id", JSONX_STRING, 0, 1, 64, 1 },
	{ "cluster_id", JSONX_STRING, 0, 1, 64, 1 },
};

static const struct jsonx_field comment_create_fields[] = {
	{ "body", JSONX_STRING, 1, 1, 20000, 0 },
	{ "internal", JSONX_BOOL, 0, 0, 0, 0 },
};

static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };
static const char *const statuses[] = { "open", "in_progress", "resolved", "closed", NULL };
/* A list's order: the newest first, or a queue's (urgent first, the oldest first within a
 * priority). */
static const char *const sorts[] = { "newest", "priority", NULL };

/* What a ticket's update may change, in the order an audit entry lists them. */
static const char *const ticket_fields[] = { "title", "description", "priority", "status",
	                                     "assigned_to", "device_id" };

/* Staff and service tokens run the workflow; tenant users report and follow. */
static int runs_workflow(const struct req *r)
{
	return (r->who.role & (ROLE_STAFF | ROLE_SERVICE)) != 0;
}

static int one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static int blank(const char *s)
{
	return s && s[strspn(s, " \t\n")] == '\0';
}

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Who signs what the caller writes: the user (author_id) and their name; a service
 * token has no user and signs with its own name. */
struct author {
	char id[UUID_STR_LEN]; /* "" for a service token */
	char name[AUTHOR_NAME_MAX];
};

/* 0, or -1 with the reply in rs. */
static int author_of(struct req *r, struct resp *rs, struct author *a)
{
	json_object *user = NULL;
	int rc;

	memset(a, 0, sizeof(*a));
	if (!r->who.user_id[0]) {
		rc = store_token_name(r->db, r->tenant_id, r->who.credential_id, a->name,
		                      sizeof(a->name));
		if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
			resp_store_error(rs, rc, r->db, r->request_id, "token");
			return -1;
		}
		if (rc != STORE_OK || !a->name[0])
			snprintf(a->name, sizeof(a->name), "API token");
		return 0;
	}
	memcpy(a->id, r->who.user_id, UUID_STR_LEN);
	/* Staff rows are outside the tenant's scope: looked up through the store's door. */
	rc = auth_is_staff(r) ? store_user_staff_get(r->db, r->who.user_id, &user)
	                      : store_user_get(r->db, r->tenant_id, r->who.user_id, &user);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		return -1;
	}
	if (rc == STORE_OK && jsonx_str(user, "name"))
		snprintf(a->name, sizeof(a->name), "%s", jsonx_str(user, "name"));
	else
		snprintf(a->name, sizeof(a->name), "%s", r->who.email);
	json_object_put(user);
	return 0;
}

/* The ticket as this request may see it: 0 with *out (owned), or -1 with the 404 (or
 * failure) in rs. */
static int ticket_load(struct req *r, struct resp *rs, json_object **out)
{
	int rc = store_ticket_get(r->db, r->tenant_id, r->params[0], out);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "ticket");
		return -1;
	}
	return 0;
}

/* A device_id given in a body (NULL: none): 0 with the lower-case id in out, or -1
 * with the reply in rs (400 not an id, 422 no such device in the tenant). */
static int device_ref(struct req *r, struct resp *rs, const char *given, char out[UUID_STR_LEN])
{
	json_object *device = NULL;
	int rc;

	if (!given)
		return 0;
	if (ids_uuid_lower(given, out) != 0) {
		resp_error(rs, 400, "invalid_field", "device_id", "device_id: must be a device id");
		return -1;
	}
	rc = store_device_get(r->db, r->tenant_id, out, &device);
	json_object_put(device);
	if (rc == STORE_NOT_FOUND) {
		resp_error(rs, 422, "invalid_reference", "device_id",
		           "device_id: no such device in this tenant");
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		return -1;
	}
	return 0;
}

/* 0 when id is an active staff member, or -1 with the reply in rs (422). */
static int assignee_check(struct req *r, struct resp *rs, const char *id)
{
	json_object *user = NULL;
	const char *role, *status;
	int rc, ok;

	rc = store_user_staff_get(r->db, id, &user);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		return -1;
	}
	role = rc == STORE_OK ? jsonx_str(user, "role") : NULL;
	status = rc == STORE_OK ? jsonx_str(user, "status") : NULL;
	ok = (role_parse(role) & ROLE_STAFF) && same_text(status, "active");
	json_object_put(user);
	if (!ok) {
		resp_error(rs, 422, "invalid_reference", "assigned_to",
		           "assigned_to: must be an active staff member (admin or engineer)");
		return -1;
	}
	return 0;
}

/* A cluster_id given in a body (NULL: none): 0 with the lower-case id in out, or -1
 * with the reply in rs (400 not an id, 422 no such cluster in the tenant). */
static int cluster_ref(struct req *r, struct resp *rs, const char *given,
                       char out[UUID_STR_LEN])
{
	json_object *cluster = NULL;
	int rc;

	if (!given)
		return 0;
	if (ids_uuid_lower(given, out) != 0) {
		resp_error(rs, 400, "invalid_field", "cluster_id", "cluster_id: must be a cluster id");
		return -1;
	}
	rc = store_cluster_get(r->db, r->tenant_id, out, &cluster);
	json_object_put(cluster);
	if (rc == STORE_NOT_FOUND) {
		resp_error(rs, 422, "invalid_reference", "cluster_id",
		           "cluster_id: no such cluster in this tenant");
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		return -1;
	}
	return 0;
}

static void quota_refused(struct req *r, struct resp *rs)
{
	long limit = 0;

	if (store_tenant_quota_check(r->db, r->tenant_id, QUOTA_OPEN_TICKETS, &limit) !=
	    STORE_CONFLICT)
		limit = 0; /* one was closed meanwhile: the number is still right */
	resp_error(rs, 409, "quota_exceeded", NULL,
	           "quota max_open_tickets reached: this tenant may have %ld open tickets (open "
	           "or in_progress); resolve or close one or ask for a higher quota",
	           limit);
}

void h_tickets_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *ticket = NULL, *details = NULL;
	struct store_ticket_new t;
	char device[UUID_STR_LEN], cluster[UUID_STR_LEN], location[64 + UUID_STR_LEN];
	const char *id;
	int rc;

	if (h_body_object(r, rs, ticket_create_fields, ARRAY_LEN(ticket_create_fields), &in) < 0)
		return;
	memset(&t, 0, sizeof(t));
	t.title = jsonx_str(in, "title");
	t.description = jsonx_str(in, "description");
	t.priority = jsonx_str(in, "priority");
	if (blank(t.title)) {
		resp_error(rs, 400, "invalid_field", "title", "title: must not be blank");
		goto out;
	}
	if (t.priority && !one_of(t.priority, priorities)) {
		resp_error(rs, 400, "invalid_field", "priority",
		           "priority: must be low, normal, high or urgent");
		goto out;
	}
	if (cluster_ref(r, rs, jsonx_str(in, "cluster_id"), cluster) < 0)
		goto out;
	t.cluster_id = jsonx_str(in, "cluster_id") ? cluster : NULL;
	if (device_ref(r, rs, jsonx_str(in, "device_id"), device) < 0)
		goto out;
	t.device_id = jsonx_str(in, "device_id") ? device : NULL;
	t.created_by = r->who.user_id[0] ? r->who.user_id : NULL;
	rc = store_ticket_create(r->db, r->tenant_id, &t, &ticket);
	if (rc == STORE_QUOTA) {
		quota_refused(r, rs);
		goto out;
	}
	if (rc == STORE_NOT_FOUND) { /* the device (or the cluster) went meanwhile */
		const char *field = t.device_id ? "device_id" : "cluster_id";
		resp_error(rs, 422, "invalid_reference", field, "%s: no such %s in this tenant",
		           field, t.device_id ? "device" : "cluster");
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "ticket");
		goto out;
	}
	id = jsonx_str(ticket, "id");
	details = json_object_new_object();
	jsonx_add_str(details, "number", jsonx_str(ticket, "number"));
	jsonx_add_str(details, "priority", jsonx_str(ticket, "priority"));
	if (t.device_id)
		jsonx_add_str(details, "device_id", t.device_id);
	auth_audit(r, "ticket.create", "ticket", id, details);
	snprintf(location, sizeof(location), "/api/v1/tickets/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, ticket);
	ticket = NULL;
out:
	json_object_put(details);
	json_object_put(ticket);
	json_object_put(in);
}

/* GET /api/v1/tickets: newest first, filtered by status, priority, assigned_to (a user
 * id, "me" or "none"), device_id and q (a substring of title, description or number). */
void h_tickets_list(struct req *r, struct resp *rs)
{
	struct store_ticket_filter f;
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], device[UUID_STR_LEN], assignee[UUID_STR_LEN];
	char given[UUID_STR_LEN + 8], q[TICKET_Q_MAX + 1];
	const char *bad = NULL, *why = "", *sort = NULL;
	int has, rc;

	memset(&f, 0, sizeof(f));
	if (h_page(r, rs, &page, cursor) < 0)
		return;
	if (req_query_enum(r, "sort", sorts, &sort) < 0) {
		bad = "sort";
		why = "must be newest or priority";
		goto bad_query;
	}
	f.by_priority = sort && strcmp(sort, "priority") == 0;
	if (req_query_enum(r, "status", statuses, &f.status) < 0) {
		bad = "status";
		why = "must be open, in_progress, resolved or closed";
		goto bad_query;
	}
	if (req_query_enum(r, "priority", priorities, &f.priority) < 0) {
		bad = "priority";
		why = "must be low, normal, high or urgent";
		goto bad_query;
	}
	has = req_query_uuid(r, "device_id", device);
	if (has < 0) {
		bad = "device_id";
		why = "must be a device id";
		goto bad_query;
	}
	f.device_id = has ? device : NULL;
	has = req_query_text(r, "assigned_to", given, sizeof(given));
	if (has > 0 && strcmp(given, "none") == 0) {
		f.assigned_to = "none";
	} else if (has > 0 && strcmp(given, "me") == 0 && r->who.user_id[0]) {
		f.assigned_to = r->who.user_id;
	} else if (has > 0 && ids_uuid_lower(given, assignee) == 0) {
		f.assigned_to = assignee;
	} else if (has != 0) {
		bad = "assigned_to";
		why = r->who.user_id[0] || strcmp(given, "me") != 0
		              ? "must be a user id, me or none"
		              : "me: a service token is no user; give a user id or none";
		goto bad_query;
	}
	has = req_query_text(r, "q", q, sizeof(q));
	if (has < 0) {
		bad = "q";
		why = "must be text of at most 800 bytes without control characters";
		goto bad_query;
	}
	f.q = has ? q : NULL;
	memset(&list, 0, sizeof(list));
	rc = store_ticket_list(r->db, r->tenant_id, &f, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "ticket list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad, why);
}

void h_ticket_get(struct req *r, struct resp *rs)
{
	json_object *ticket = NULL;

	if (ticket_load(r, rs, &ticket) < 0)
		return;
	resp_json(rs, 200, ticket);
}

/* What a tenant user may not do to current with patch p: 0, or -1 with the 403 in rs.
 * A value equal to the current one is no change and passes (a form may send them all);
 * it is then left out of p, so that a concurrent change by staff is not undone. */
static int tenant_user_may(struct resp *rs, json_object *current, struct store_ticket_patch *p)
{
	if (p->priority) {
		if (!same_text(p->priority, jsonx_str(current, "priority"))) {
			resp_error(rs, 403, "forbidden", "priority",
			           "priority: only staff change a ticket's priority");
			return -1;
		}
		p->priority = NULL;
	}
	if (p->assigned_to || p->clear_assignee) {
		if (!same_text(p->assigned_to, jsonx_str(current, "assigned_to"))) {
			resp_error(rs, 403, "forbidden", "assigned_to",
			           "assigned_to: only staff assign a ticket");
			return -1;
		}
		p->assigned_to = NULL;
		p->clear_assignee = 0;
	}
	if (p->status && !same_text(p->status, jsonx_str(current, "status")) &&
	    strcmp(p->status, "open") != 0 && strcmp(p->status, "closed") != 0) {
		resp_error(rs, 403, "forbidden", "status",
		           "status: you may close a ticket (closed) or reopen it (open); staff move "
		           "it to in_progress and resolved");
		return -1;
	}
	return 0;
}

/* 409 invalid_transition for ticket (as it is), naming the statuses it may move to. */
static void transition_refused(struct resp *rs, json_object *ticket, const char *wanted)
{
	const char *status = jsonx_str(ticket, "status"), *next[2] = { "", "" };
	int n = store_ticket_next_statuses(status, next);

	resp_error(rs, 409, "invalid_transition", "status",
	           "status: a ticket that is %s cannot move to %s; it may move to %s%s%s",
	           status ? status : "?", wanted, n > 0 ? next[0] : "nothing",
	           n > 1 ? " or " : "", n > 1 ? next[1] : "");
}

/* The fields whose value differs between before and after, as a JSON array (owned). */
static json_object *changed_fields(json_object *before, json_object *after)
{
	json_object *fields = json_object_new_array();

	for (size_t i = 0; fields && i < ARRAY_LEN(ticket_fields); i++)
		if (!same_text(jsonx_str(before, ticket_fields[i]), jsonx_str(after, ticket_fields[i])))
			json_object_array_add(fields, json_object_new_string(ticket_fields[i]));
	return fields;
}

void h_ticket_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *current = NULL, *ticket = NULL, *details = NULL, *fields, *v;
	struct store_ticket_patch p;
	struct author author;
	char device[UUID_STR_LEN], cluster[UUID_STR_LEN], assignee[UUID_STR_LEN];
	int rc;

	if (ticket_load(r, rs, &current) < 0)
		return;
	if (h_body_object(r, rs, ticket_patch_fields, ARRAY_LEN(ticket_patch_fields), &in) < 0)
		goto out;
	if (json_object_object_length(in) == 0) {
		resp_error(rs, 400, "missing_field", NULL,
		           "send at least one of title, description, priority, status, "
		           "assigned_to, device_id");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.title = jsonx_str(in, "title");
	p.description = jsonx_str(in, "description");
	p.priority = jsonx_str(in, "priority");
	p.status = jsonx_str(in, "status");
	if (p.title && blank(p.title)) {
		resp_error(rs, 400, "invalid_field", "title", "title: must not be blank");
		goto out;
	}
	if (p.priority && !one_of(p.priority, priorities)) {
		resp_error(rs, 400, "invalid_field", "priority",
		           "priority: must be low, normal, high or urgent");
		goto out;
	}
	if (p.status && !one_of(p.status, statuses)) {
		resp_error(rs, 400, "invalid_field", "status",
		           "status: must be open, in_progress, resolved or closed");
		goto out;
	}
	if (json_object_object_get_ex(in, "assigned_to", &v)) {
		if (!v)
			p.clear_assignee = 1;
		else if (ids_uuid_lower(json_object_get_string(v), assignee) == 0)
			p.assigned_to = assignee;
		else {
			resp_error(rs, 400, "invalid_field", "assigned_to",
			           "assigned_to: must be a user id (or null to unassign)");
			goto out;
		}
	}
	if (!runs_workflow(r) && tenant_user_may(rs, current, &p) < 0)
		goto out;
	if (p.assigned_to && assignee_check(r, rs, p.assigned_to) < 0)
		goto out;
	if (json_object_object_get_ex(in, "cluster_id", &v)) {
		if (!v)
			p.clear_cluster = 1;
		else if (cluster_ref(r, rs, json_object_get_string(v), cluster) < 0)
			goto out;
		else
			p.cluster_id = cluster;
	}
	if (json_object_object_get_ex(in, "device_id", &v)) {
		if (!v)
			p.clear_device = 1;
		else if (device_ref(r, rs, json_object_get_string(v), device) < 0)
			goto out;
		else
			p.device_id = device;
	}
	if (author_of(r, rs, &author) < 0)
		goto out;
	p.author_id = author.id[0] ? author.id : NULL;
	p.author_name = author.name;
	rc = store_ticket_update(r->db, r->tenant_id, r->params[0], &p, &ticket);
	if (rc == STORE_INVALID_TRANSITION) {
		transition_refused(rs, ticket ? ticket : current, p.status);
		goto out;
	}
	if (rc == STORE_QUOTA) {
		quota_refused(r, rs);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "ticket");
		goto out;
	}
	fields = changed_fields(current, ticket);
	if (fields && json_object_array_length(fields) > 0) {
		details = json_object_new_object();
		json_object_object_add(details, "fields", fields);
		if (!same_text(jsonx_str(current, "status"), jsonx_str(ticket, "status")))
			jsonx_add_str(details, "status", jsonx_str(ticket, "status"));
		auth_audit(r, "ticket.update", "ticket", r->params[0], details);
	} else {
		json_object_put(fields);
	}
	resp_json(rs, 200, ticket);
	ticket = NULL;
out:
	json_object_put(details);
	json_object_put(ticket);
	json_object_put(current);
	json_object_put(in);
}

void h_ticket_comments_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *ticket = NULL, *comment = NULL, *details = NULL, *v;
	struct store_ticket_comment_new c;
	struct author author;
	int rc;

	if (ticket_load(r, rs, &ticket) < 0)
		return;
	if (h_body_object(r, rs, comment_create_fields, ARRAY_LEN(comment_create_fields), &in) < 0)
		goto out;
	memset(&c, 0, sizeof(c));
	c.body = jsonx_str(in, "body");
	c.internal = json_object_object_get_ex(in, "internal", &v) && json_object_get_boolean(v);
	if (blank(c.body)) {
		resp_error(rs, 400, "invalid_field", "body", "body: must not be blank");
		goto out;
	}
	if (c.internal && !runs_workflow(r)) {
		resp_error(rs, 403, "forbidden", "internal",
		           "internal: only staff write internal notes");
		goto out;
	}
	if (author_of(r, rs, &author) < 0)
		goto out;
	c.author_id = author.id[0] ? author.id : NULL;
	c.author_name = author.name;
	rc = store_ticket_comment_add(r->db, r->tenant_id, r->params[0], &c, &comment);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "ticket");
		goto out;
	}
	/* Never the body: the audit log is read by more people than the ticket. Nor an
	 * internal note's id: a tenant admin reads the tenant's log. */
	details = json_object_new_object();
	if (!c.internal)
		jsonx_add_str(details, "comment_id", jsonx_str(comment, "id"));
	json_object_object_add(details, "internal", json_object_new_boolean(c.internal));
	auth_audit(r, "ticket.comment", "ticket", r->params[0], details);
	resp_json(rs, 201, comment);
	comment = NULL;
out:
	json_object_put(details);
	json_object_put(comment);
	json_object_put(ticket);
	json_object_put(in);
}

/* Oldest first (a conversation reads down). Internal notes only for staff and service
 * tokens. */
void h_ticket_comments_list(struct req *r, struct resp *rs)
{
	json_object *ticket = NULL;
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN];
	int rc;

	if (ticket_load(r, rs, &ticket) < 0)
		return;
	json_object_put(ticket);
	if (h_page(r, rs, &page, cursor) < 0)
		return;
	memset(&list, 0, sizeof(list));
	rc = store_ticket_comment_list(r->db, r->tenant_id, r->params[0], runs_workflow(r), &page,
	                               &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "comment list");
		return;
	}
	resp_list(rs, &list);
}
