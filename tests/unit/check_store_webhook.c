/* check_store_webhook.c: webhooks (store_webhook.h), the same cases on SQLite and on
 * PostgreSQL: the hooks' CRUD in their scopes (a tenant's, the platform's), the limit per
 * scope (ten parallel creates with room for five: five get in), the delivery log, and
 * emission: nothing written when no hook wants an event, a tenant's event never reaching
 * another tenant's hook, the platform's hooks hearing every tenant (on PostgreSQL from a
 * tenant's transaction as the application's role, row-level security in force),
 * internal comments never emitted, a rolled back change emitting nothing, presence and
 * session events once per transition. */
#include "ids.h"
#include "seam.h"
#include "store.h"
#include "store_agent.h"
#include "store_tunnel.h"
#include "store_webhook.h"
#include "testdb.h"

#define DOMAIN "help.example.com"
#define SEALED "v1.not-a-real-sealed-secret"

static struct db *A; /* T_db, or on PostgreSQL the app role's connection in a scope */

/* PostgreSQL: the app role's connection, scoped to tenant (staff off). SQLite: T_db. */
static void use_tenant(const char *tenant)
{
	T_use_tenant(&A, tenant);
}

static void done(void)
{
	T_use_done(&A);
}

/* A hook of tenant (NULL: the platform's) for the events named (comma-separated), made
 * by the owner; its id into id. */
static void mk_hook(const char *tenant, const char *events, char id[UUID_STR_LEN])
{
	json_object *list = json_object_new_array(), *o = NULL;
	char copy[256];
	struct store_webhook_new w = { "https://hooks.example.com/in", NULL, list, SEALED, NULL };

	snprintf(copy, sizeof(copy), "%s", events);
	for (char *save = NULL, *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save))
		json_object_array_add(list, json_object_new_string(e));
	ck_assert_int_eq(store_webhook_create(T_db, tenant, &w, &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
	json_object_put(list);
}

static long count(const char *sql, const char *arg)
{
	const char *p[1] = { arg };

	return T_count(T_db, sql, arg ? 1 : 0, p);
}

static long deliveries(const char *hook)
{
	return count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1", hook);
}

static long jobs_of(const char *hook)
{
	return count("SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND "
	             "webhook_id = $1 AND state = 'queued'",
	             hook);
}

static long events_of(const char *type)
{
	return count("SELECT count(*) FROM webhook_events WHERE type = $1", type);
}

static void mk_device(const char *tenant, char id[UUID_STR_LEN])
{
	json_object *o = NULL;

	ck_assert_int_eq(store_device_create(T_db, tenant, "pc", "hash", &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

START_TEST(test_crud)
{
	json_object *events = json_tokener_parse("[\"ticket.created\", \"device.online\"]");
	json_object *bad = json_tokener_parse("[\"ticket.created\", \"ticket.created\"]");
	struct store_webhook_new w = { "https://a.example.com/h", "ops", events, SEALED, NULL };
	struct store_webhook_patch p;
	struct store_list list;
	json_object *o = NULL, *g = NULL;
	char id[UUID_STR_LEN], plat[UUID_STR_LEN], why[128];

	add_tenant2();
	ck_assert_int_eq(store_webhook_create(T_db, DEFAULT_TENANT_ID, &w, &o), STORE_OK);
	snprintf(id, sizeof(id), "%s", jstr(o, "id"));
	ck_assert_str_eq(jstr(o, "tenant_id"), DEFAULT_TENANT_ID);
	ck_assert_str_eq(jstr(o, "url"), "https://a.example.com/h");
	ck_assert_str_eq(jstr(o, "description"), "ops");
	ck_assert_str_eq(jstr(o, "status"), "active");
	ck_assert(json_object_is_type(json_object_object_get(o, "events"), json_type_array));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "events")), 2);
	ck_assert(!jhas(o, "secret_sealed") && !jhas(o, "secret") && !jhas(o, "locked_by"));
	json_object_put(o);
	/* Bad events are refused by the store too. */
	w.events = bad;
	ck_assert_int_eq(store_webhook_create(T_db, DEFAULT_TENANT_ID, &w, &o), STORE_CONFLICT);
	ck_assert_int_eq(store_webhook_events_check(bad, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "twice"));
	w.events = events;

	/* Scopes: the tenant's hook is nobody else's. */
	ck_assert_int_eq(store_webhook_get(T_db, DEFAULT_TENANT_ID, id, &g), STORE_OK);
	json_object_put(g);
	ck_assert_int_eq(store_webhook_get(T_db, TENANT2, id, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_get(T_db, NULL, id, &g), STORE_NOT_FOUND);
	mk_hook(NULL, "ticket.created", plat);
	ck_assert_int_eq(store_webhook_get(T_db, DEFAULT_TENANT_ID, plat, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_get(T_db, NULL, plat, &g), STORE_OK);
	ck_assert_ptr_null(jstr(g, "tenant_id"));
	json_object_put(g);
	memset(&list, 0, sizeof(list));
	ck_assert_int_eq(store_webhook_list(T_db, DEFAULT_TENANT_ID, NULL, &list), STORE_OK);
	ck_assert_int_eq(json_object_array_length(list.items), 1);
	json_object_put(list.items);
	memset(&list, 0, sizeof(list));
	ck_assert_int_eq(store_webhook_list(T_db, NULL, NULL, &list), STORE_OK);
	ck_assert_int_eq(json_object_array_length(list.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(list.items, 0), "id"), plat);
	json_object_put(list.items);
	memset(&list, 0, sizeof(list));
	ck_assert_int_eq(store_webhook_list(T_db, TENANT2, NULL, &list), STORE_OK);
	ck_assert_int_eq(json_object_array_length(list.items), 0);
	json_object_put(list.items);

	/* Patch: another tenant's cannot; a disabled hook re-enabled starts clean. */
	memset(&p, 0, sizeof(p));
	p.description = "changed";
	ck_assert_int_eq(store_webhook_update(T_db, TENANT2, id, &p, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_update(T_db, NULL, id, &p, &o), STORE_NOT_FOUND);
	p.status = "disabled";
	ck_assert_int_eq(store_webhook_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "disabled");
	ck_assert_str_eq(jstr(o, "description"), "changed");
	ck_assert_str_eq(jstr(o, "url"), "https://a.example.com/h");
	ck_assert_ptr_nonnull(jstr(o, "disabled_reason"));
	json_object_put(o);
	{
		const char *q[1] = { id };
		T_run(T_db, "UPDATE webhooks SET failing_since = created_at, disabled_reason = "
		            "'a day of failures' WHERE id = $1",
		      1, q);
	}
	memset(&p, 0, sizeof(p));
	p.status = "active";
	p.url = "https://b.example.com/h";
	p.events = json_tokener_parse("[\"session.ended\"]");
	ck_assert_int_eq(store_webhook_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "active");
	ck_assert_ptr_null(jstr(o, "disabled_reason"));
	ck_assert_ptr_null(jstr(o, "failing_since"));
	ck_assert_str_eq(jstr(o, "url"), "https://b.example.com/h");
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "events")), 1);
	json_object_put(o);
	json_object_put(p.events);
	p.events = NULL;
	p.url = NULL;
	p.status = "paused";
	ck_assert_int_eq(store_webhook_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);

	/* Rotate replaces the sealed secret and shows none. */
	ck_assert_int_eq(store_webhook_rotate(T_db, TENANT2, id, "v1.other", &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_rotate(T_db, DEFAULT_TENANT_ID, id, "v1.other", &o), STORE_OK);
	ck_assert(!jhas(o, "secret_sealed"));
	json_object_put(o);
	{
		const char *q[1] = { id };
		char *v = T_value(T_db, "SELECT secret_sealed FROM webhooks WHERE id = $1", 1, q);
		ck_assert_str_eq(v, "v1.other");
		free(v);
	}

	/* Delete: not from another scope. */
	ck_assert_int_eq(store_webhook_delete(T_db, TENANT2, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_delete(T_db, NULL, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_delete(T_db, DEFAULT_TENANT_ID, plat), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_delete(T_db, DEFAULT_TENANT_ID, id), STORE_OK);
	ck_assert_int_eq(store_webhook_delete(T_db, DEFAULT_TENANT_ID, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_delete(T_db, DEFAULT_TENANT_ID, "nope"), STORE_NOT_FOUND);
	json_object_put(events);
	json_object_put(bad);
}
END_TEST

START_TEST(test_limit)
{
	char id[UUID_STR_LEN];
	json_object *events = json_tokener_parse("[\"ticket.created\"]"), *o = NULL;
	struct store_webhook_new w = { "https://a.example.com/h", NULL, events, SEALED, NULL };

	add_tenant2();
	for (int i = 0; i < STORE_WEBHOOK_MAX; i++)
		mk_hook(DEFAULT_TENANT_ID, "ticket.created", id);
	ck_assert_int_eq(store_webhook_create(T_db, DEFAULT_TENANT_ID, &w, &o), STORE_QUOTA);
	/* Other scopes have their own count. */
	mk_hook(TENANT2, "ticket.created", id);
	for (int i = 0; i < STORE_WEBHOOK_MAX; i++)
		mk_hook(NULL, "ticket.created", id);
	ck_assert_int_eq(store_webhook_create(T_db, NULL, &w, &o), STORE_QUOTA);
	/* A deleted one makes room. */
	ck_assert_int_eq(store_webhook_delete(T_db, NULL, id), STORE_OK);
	ck_assert_int_eq(store_webhook_create(T_db, NULL, &w, &o), STORE_OK);
	json_object_put(o);
	json_object_put(events);
}
END_TEST

/* A child of test_limit_parallel: its own connection, waits for go, creates one hook in
 * the default tenant (PostgreSQL: as the application's role in the tenant's scope),
 * writes "ok" or "quota". */
static void limit_child(const char *target, int go, int out)
{
	json_object *events = json_tokener_parse("[\"ticket.created\"]"), *o = NULL;
	struct store_webhook_new w = { "https://a.example.com/p", NULL, events, SEALED, NULL };
	struct db *db = NULL;
	const char *line;
	char c;
	int rc = STORE_ERR;

	if (db_open(T_driver(), target, &db) != DB_OK)
		_exit(2);
	if (read(go, &c, 1) < 0)
		_exit(3);
	for (int attempt = 0; attempt < 50; attempt++) {
		int scoped = T_kind == DB_POSTGRES;
		if (scoped && db_scope_begin(db, DEFAULT_TENANT_ID, 0) != DB_OK)
			_exit(4);
		rc = store_webhook_create(db, DEFAULT_TENANT_ID, &w, &o);
		if (scoped && db_scope_end(db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
			rc = STORE_BUSY;
		json_object_put(o);
		o = NULL;
		if (rc != STORE_BUSY)
			break;
		usleep(10000);
	}
	if (rc != STORE_OK && rc != STORE_QUOTA)
		_exit(5);
	line = rc == STORE_OK ? "ok\n" : "quota\n";
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(6);
	db_close(db);
	_exit(0);
}

/* Ten concurrent creates with room for five: five get in, five get STORE_QUOTA. */
START_TEST(test_limit_parallel)
{
	char buf[512], id[UUID_STR_LEN];
	int ok = 0, quota = 0;

	for (int i = 0; i < STORE_WEBHOOK_MAX - 5; i++)
		mk_hook(DEFAULT_TENANT_ID, "ticket.created", id);
	T_parallel(10, limit_child, buf, sizeof(buf));
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ok += strcmp(l, "ok") == 0;
		quota += strcmp(l, "quota") == 0;
	}
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(quota, 5);
	ck_assert_int_eq(count("SELECT count(*) FROM webhooks", NULL), STORE_WEBHOOK_MAX);
}
END_TEST

/* An event with no hook wanting it writes nothing at all. */
START_TEST(test_emit_none)
{
	json_object *ticket = NULL;
	struct store_ticket_new t = { "Printer", NULL, NULL, NULL, NULL, NULL, NULL };
	char hook[UUID_STR_LEN];

	/* A hook for another event only, and a disabled one for this event. */
	mk_hook(DEFAULT_TENANT_ID, "device.online", hook);
	mk_hook(DEFAULT_TENANT_ID, "ticket.created", hook);
	{
		const char *q[1] = { hook };
		T_run(T_db, "UPDATE webhooks SET status = 'disabled' WHERE id = $1", 1, q);
	}
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_webhook_wanted(A, DEFAULT_TENANT_ID, "ticket.created"), 0);
	ck_assert_int_eq(store_webhook_wanted(A, DEFAULT_TENANT_ID, "device.online"), 1);
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &t, &ticket), STORE_OK);
	json_object_put(ticket);
	done();
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_events", NULL), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_deliveries", NULL), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver'", NULL), 0);
}
END_TEST

/* A's events reach A's hooks and the platform's, never B's; from A's transaction (on
 * PostgreSQL as the application's role, staff off). */
START_TEST(test_emit_tenants)
{
	struct store_ticket_new t = { "Printer", "on fire", NULL, NULL, NULL, NULL, NULL };
	char hook_a[UUID_STR_LEN], hook_b[UUID_STR_LEN], plat[UUID_STR_LEN];
	json_object *ticket = NULL, *body;
	const char *q[1];
	char *text;

	add_tenant2();
	mk_hook(DEFAULT_TENANT_ID, "ticket.created,ticket.updated", hook_a);
	mk_hook(TENANT2, "ticket.created", hook_b);
	mk_hook(NULL, "ticket.created", plat);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &t, &ticket), STORE_OK);
	done();
	ck_assert_int_eq(deliveries(hook_a), 1);
	ck_assert_int_eq(deliveries(plat), 1);
	ck_assert_int_eq(deliveries(hook_b), 0);
	ck_assert_int_eq(jobs_of(hook_a), 1);
	ck_assert_int_eq(jobs_of(plat), 1);
	ck_assert_int_eq(jobs_of(hook_b), 0);
	/* Every row of the event is the event's tenant's. */
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_deliveries WHERE tenant_id <> $1",
	                       DEFAULT_TENANT_ID),
	                 0);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND "
	                       "tenant_id <> $1",
	                       DEFAULT_TENANT_ID),
	                 0);
	/* The body: {id, type, created_at, tenant_id, data}, data the ticket. */
	q[0] = hook_a;
	text = T_value(T_db, "SELECT e.body FROM webhook_events e JOIN webhook_deliveries d "
	                     "ON d.event_id = e.id WHERE d.webhook_id = $1",
	               1, q);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_eq(strstr(text, "{\"id\":\""), text);
	body = json_tokener_parse(text);
	ck_assert_str_eq(jstr(body, "type"), "ticket.created");
	ck_assert_str_eq(jstr(body, "tenant_id"), DEFAULT_TENANT_ID);
	ck_assert_ptr_nonnull(jstr(body, "created_at"));
	ck_assert(ids_is_uuid(jstr(body, "id")));
	ck_assert_str_eq(jstr(json_object_object_get(body, "data"), "id"), jstr(ticket, "id"));
	ck_assert_str_eq(jstr(json_object_object_get(body, "data"), "title"), "Printer");
	json_object_put(body);
	free(text);
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' "
	                       "AND attempts = 0 AND next_attempt_at IS NOT NULL AND webhook_id = $1",
	                       hook_a),
	                 1);

	/* B's event: B's hook and the platform's. A second event for a hook with a queued
	 * job adds no job. */
	use_tenant(TENANT2);
	{
		json_object *o = NULL;
		ck_assert_int_eq(store_ticket_create(A, TENANT2, &t, &o), STORE_OK);
		json_object_put(o);
	}
	done();
	ck_assert_int_eq(deliveries(hook_a), 1);
	ck_assert_int_eq(deliveries(hook_b), 1);
	ck_assert_int_eq(deliveries(plat), 2);
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 "
	                       "AND tenant_id = '" TENANT2 "'",
	                       plat),
	                 1);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE tenant_id = '" TENANT2 "' AND "
	                       "kind = 'webhook.deliver' AND webhook_id = $1",
	                       hook_b),
	                 1);

	/* An update that changes something emits; one that changes nothing does not. */
	use_tenant(DEFAULT_TENANT_ID);
	{
		struct store_ticket_patch p;
		json_object *o = NULL;
		memset(&p, 0, sizeof(p));
		p.title = "Printer";
		ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, jstr(ticket, "id"), &p, &o),
		                 STORE_OK);
		json_object_put(o);
		ck_assert_int_eq(store_webhook_wanted(A, DEFAULT_TENANT_ID, "ticket.updated"), 1);
		p.priority = "high";
		ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, jstr(ticket, "id"), &p, &o),
		                 STORE_OK);
		json_object_put(o);
	}
	done();
	ck_assert_int_eq(events_of("ticket.updated"), 1);
	ck_assert_int_eq(deliveries(hook_a), 2);
	ck_assert_int_eq(jobs_of(hook_a), 1);
	/* In emit order: the created event's delivery first. */
	q[0] = hook_a;
	text = T_value(T_db, "SELECT e.type FROM webhook_deliveries d JOIN webhook_events e ON "
	                     "e.id = d.event_id WHERE d.webhook_id = $1 ORDER BY d.id LIMIT 1",
	               1, q);
	ck_assert_str_eq(text, "ticket.created");
	free(text);
	json_object_put(ticket);
}
END_TEST

START_TEST(test_comments)
{
	struct store_ticket_new t = { "Printer", NULL, NULL, NULL, NULL, NULL, NULL };
	struct store_ticket_comment_new note = { NULL, 1, NULL, "Eve", "staff only: it is the toner" };
	struct store_ticket_comment_new reply = { NULL, 0, NULL, "Eve", "try turning it off" };
	char hook[UUID_STR_LEN];
	json_object *ticket = NULL, *c = NULL, *body, *data;
	char *text;

	mk_hook(DEFAULT_TENANT_ID, "ticket.commented", hook);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &t, &ticket), STORE_OK);
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, jstr(ticket, "id"), &note, &c),
	                 STORE_OK);
	json_object_put(c);
	done();
	ck_assert_int_eq(deliveries(hook), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_events", NULL), 0);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, jstr(ticket, "id"), &reply,
	                                          &c),
	                 STORE_OK);
	json_object_put(c);
	done();
	ck_assert_int_eq(deliveries(hook), 1);
	text = T_value(T_db, "SELECT body FROM webhook_events", 0, NULL);
	ck_assert_ptr_null(strstr(text, "toner"));
	body = json_tokener_parse(text);
	data = json_object_object_get(body, "data");
	ck_assert_str_eq(jstr(json_object_object_get(data, "ticket"), "id"), jstr(ticket, "id"));
	ck_assert_str_eq(jstr(json_object_object_get(data, "comment"), "body"), "try turning it off");
	json_object_put(body);
	free(text);
	json_object_put(ticket);
}
END_TEST

/* An event is part of its change: a rollback takes it back. */
START_TEST(test_rollback)
{
	struct store_ticket_new t = { "Printer", NULL, NULL, NULL, NULL, NULL, NULL };
	json_object *data = json_object_new_object(), *ticket = NULL;
	char hook[UUID_STR_LEN];

	mk_hook(DEFAULT_TENANT_ID, "ticket.created", hook);
	ck_assert_int_eq(db_begin(T_db), DB_OK);
	ck_assert_int_eq(store_webhook_emit(T_db, DEFAULT_TENANT_ID, "ticket.created", data), STORE_OK);
	ck_assert_int_eq(deliveries(hook), 1);
	db_rollback(T_db);
	ck_assert_int_eq(deliveries(hook), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM webhook_events", NULL), 0);
	ck_assert_int_eq(jobs_of(hook), 0);
	/* A failed create (no such device) emits nothing either. */
	t.device_id = NOBODY;
	ck_assert_int_eq(store_ticket_create(T_db, DEFAULT_TENANT_ID, &t, &ticket), STORE_NOT_FOUND);
	ck_assert_int_eq(deliveries(hook), 0);
	/* PostgreSQL: a request's transaction rolled back after the change. */
	if (T_kind == DB_POSTGRES) {
		t.device_id = NULL;
		use_tenant(DEFAULT_TENANT_ID);
		ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &t, &ticket), STORE_OK);
		json_object_put(ticket);
		ck_assert_int_eq(db_scope_end(A, 0), DB_OK);
		db_close(A);
		A = NULL;
		ck_assert_int_eq(deliveries(hook), 0);
		ck_assert_int_eq(count("SELECT count(*) FROM tickets", NULL), 0);
	}
	ck_assert_int_eq(store_webhook_emit(T_db, DEFAULT_TENANT_ID, "no.such", data), STORE_ERR);
	json_object_put(data);
}
END_TEST

/* Presence: device.online / device.offline once per real transition. */
START_TEST(test_presence)
{
	char hook[UUID_STR_LEN], dev[UUID_STR_LEN], dev2[UUID_STR_LEN];
	const char *ids[2] = { dev, dev2 };
	long changed = -1;
	char *text;

	mk_hook(DEFAULT_TENANT_ID, "device.online,device.offline,device.registered", hook);
	mk_device(DEFAULT_TENANT_ID, dev);
	mk_device(DEFAULT_TENANT_ID, dev2);
	ck_assert_int_eq(events_of("device.registered"), 2);
	text = T_value(T_db, "SELECT body FROM webhook_events WHERE type = 'device.registered' "
	                     "ORDER BY id LIMIT 1",
	               0, NULL);
	ck_assert_ptr_null(strstr(text, "hash"));
	ck_assert_ptr_null(strstr(text, "secret"));
	free(text);
	T_live_helperd("h1");
	T_live_helperd("h2");
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, dev, "h1", NULL), STORE_OK);
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, dev, "h2", NULL), STORE_OK);
	ck_assert_int_eq(events_of("device.online"), 1);
	text = T_value(T_db, "SELECT body FROM webhook_events WHERE type = 'device.online'", 0, NULL);
	ck_assert_ptr_nonnull(strstr(text, "\"status\":\"online\""));
	free(text);
	/* h1 no longer holds it: its offline is nothing. */
	ck_assert_int_eq(store_agent_offline(T_db, "h1", ids, 1, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_int_eq(events_of("device.offline"), 0);
	ck_assert_int_eq(store_agent_offline(T_db, "h2", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(events_of("device.offline"), 1);
	ck_assert_int_eq(store_agent_offline(T_db, "h2", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(events_of("device.offline"), 1);
	/* Release and expire emit for the devices that were online. */
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, dev, "h1", NULL), STORE_OK);
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, dev2, "h9", NULL), STORE_OK);
	ck_assert_int_eq(events_of("device.online"), 3);
	ck_assert_int_eq(store_agent_release(T_db, "h1", &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(store_agent_release(T_db, "h1", &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_int_eq(events_of("device.offline"), 2);
	T_run(T_db, "UPDATE devices SET last_seen = '2020-01-01T00:00:00.000Z'", 0, NULL);
	ck_assert_int_eq(store_agent_expire(T_db, "h1", 60, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(store_agent_expire(T_db, "h1", 60, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_int_eq(events_of("device.offline"), 3);
	ck_assert_int_eq(deliveries(hook), 8);
	ck_assert_int_eq(jobs_of(hook), 1);
	/* A missing device is still STORE_NOT_FOUND, with nothing emitted. */
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, NOBODY, "h1", NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(events_of("device.online"), 3);
}
END_TEST

/* Sessions: started, active, ended / failed, once each. */
START_TEST(test_sessions)
{
	char hook[UUID_STR_LEN], dev[UUID_STR_LEN], sid[UUID_STR_LEN];
	struct store_session_new s = { dev, "Eve", NULL, DOMAIN, 22, 8080, NULL,
		                       SEAM_PROVIDER_CLOUDFLARE, NULL };
	json_object *o = NULL;
	int changed = -1;

	mk_hook(DEFAULT_TENANT_ID, "session.started,session.active,session.ended,session.failed",
	        hook);
	mk_device(DEFAULT_TENANT_ID, dev);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_session_create(A, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	snprintf(sid, sizeof(sid), "%s", jstr(o, "id"));
	json_object_put(o);
	done();
	ck_assert_int_eq(events_of("session.started"), 1);
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, sid,
	                                   SEAM_STATUS_BIT(SEAM_STATUS_PENDING), SEAM_STATUS_ACTIVE,
	                                   SEAM_STEP_ACTIVE, "", &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, sid,
	                                   SEAM_STATUS_BIT(SEAM_STATUS_PENDING), SEAM_STATUS_ACTIVE,
	                                   SEAM_STEP_ACTIVE, "", &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 0);
	/* Any status, to the one it has: the step changes, no event. */
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, sid, 0, SEAM_STATUS_ACTIVE,
	                                   SEAM_STEP_AGENT, NULL, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	{
		const char *q[1] = { sid };
		char *v = T_value(T_db, "SELECT step FROM sessions WHERE id = $1", 1, q);
		ck_assert_str_eq(v, "agent");
		free(v);
	}
	ck_assert_int_eq(events_of("session.active"), 1);
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, sid, SEAM_STATUSES_LIVE,
	                                   SEAM_STATUS_ENDED, SEAM_STEP_ENDED, NULL, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, sid, SEAM_STATUSES_LIVE,
	                                   SEAM_STATUS_FAILED, SEAM_STEP_FAILED, "x", &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_int_eq(events_of("session.ended"), 1);
	ck_assert_int_eq(events_of("session.failed"), 0);
	{
		char *v = T_value(T_db, "SELECT body FROM webhook_events WHERE type = 'session.ended'",
		                  0, NULL);
		ck_assert_ptr_nonnull(strstr(v, "\"status\":\"ended\""));
		free(v);
	}
	ck_assert_int_eq(deliveries(hook), 3);
}
END_TEST

START_TEST(test_deliveries)
{
	char hook[UUID_STR_LEN], other[UUID_STR_LEN], dev[UUID_STR_LEN];
	struct store_page page = { 2, NULL };
	struct store_list list;
	struct store_webhook_patch p;
	json_object *d, *o = NULL;

	add_tenant2();
	mk_hook(DEFAULT_TENANT_ID, "device.registered", hook);
	mk_hook(TENANT2, "device.registered", other);
	for (int i = 0; i < 3; i++)
		mk_device(DEFAULT_TENANT_ID, dev);
	memset(&list, 0, sizeof(list));
	ck_assert_int_eq(store_webhook_deliveries(T_db, DEFAULT_TENANT_ID, hook, &page, &list),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(list.items), 2);
	ck_assert(list.has_more);
	d = json_object_array_get_idx(list.items, 0);
	ck_assert_str_eq(jstr(d, "event_type"), "device.registered");
	ck_assert_str_eq(jstr(d, "status"), "pending");
	ck_assert_str_eq(jstr(d, "tenant_id"), DEFAULT_TENANT_ID);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(d, "attempts")), 0);
	ck_assert(jhas(d, "last_error") && jhas(d, "response_ms") && jhas(d, "next_attempt_at") &&
	          jhas(d, "delivered_at") && jhas(d, "last_status") && ids_is_uuid(jstr(d, "event_id")));
	/* Newest first. */
	ck_assert_int_gt(strcmp(jstr(d, "id"), jstr(json_object_array_get_idx(list.items, 1), "id")),
	                 0);
	page.cursor = list.next_cursor;
	{
		struct store_list next;
		memset(&next, 0, sizeof(next));
		ck_assert_int_eq(store_webhook_deliveries(T_db, DEFAULT_TENANT_ID, hook, &page, &next),
		                 STORE_OK);
		ck_assert_int_eq(json_object_array_length(next.items), 1);
		ck_assert(!next.has_more);
		json_object_put(next.items);
	}
	json_object_put(list.items);
	/* Another scope's hook has no log here. */
	ck_assert_int_eq(store_webhook_deliveries(T_db, DEFAULT_TENANT_ID, other, NULL, &list),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_webhook_deliveries(T_db, NULL, hook, NULL, &list), STORE_NOT_FOUND);

	/* Re-enabling a hook with deliveries waiting queues a job for them. */
	T_run(T_db, "DELETE FROM jobs", 0, NULL);
	memset(&p, 0, sizeof(p));
	p.status = "disabled";
	ck_assert_int_eq(store_webhook_update(T_db, DEFAULT_TENANT_ID, hook, &p, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(jobs_of(hook), 0);
	p.status = "active";
	ck_assert_int_eq(store_webhook_update(T_db, DEFAULT_TENANT_ID, hook, &p, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(jobs_of(hook), 1);

	/* Deleting the hook takes its deliveries, pending ones too. */
	ck_assert_int_eq(deliveries(hook), 3);
	ck_assert_int_eq(store_webhook_delete(T_db, DEFAULT_TENANT_ID, hook), STORE_OK);
	ck_assert_int_eq(deliveries(hook), 0);
	ck_assert_int_eq(jobs_of(hook), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_webhook");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	T_ADD(sq, pg, test_crud);
	T_ADD(sq, pg, test_limit);
	T_ADD(sq, pg, test_limit_parallel);
	T_ADD(sq, pg, test_emit_none);
	T_ADD(sq, pg, test_emit_tenants);
	T_ADD(sq, pg, test_comments);
	T_ADD(sq, pg, test_rollback);
	T_ADD(sq, pg, test_presence);
	T_ADD(sq, pg, test_sessions);
	T_ADD(sq, pg, test_deliveries);
	return T_main(s, sq, pg);
}
