/* check_store_ticket.c: the tickets store (store.h, "tickets"), the same cases on SQLite
 * and on PostgreSQL, the latter as the application's role inside a tenant scope so that
 * row-level security holds: numbering (per tenant, per UTC day, consecutive, 20 parallel
 * creates from 20 processes with a connection each), the status workflow, the comments
 * the store writes by itself, internal comments, list filters and pages, and another
 * tenant's tickets out of sight. */
#include <sys/wait.h>

#include "cfg.h"
#include "ids.h"
#include "store.h"
#include "testdb.h"

#define DAY1 "20260101"
#define DAY2 "20260102"
#define PARALLEL 20

static struct db *A; /* the connection the cases use: T_db, or the app role's on PG */

/* PostgreSQL: the app role's connection, scoped to tenant (staff off). SQLite: T_db. */
static void use_tenant(const char *tenant)
{
	T_use_tenant(&A, tenant);
}

static void done(void)
{
	T_use_done(&A);
}

static json_object *mk(const char *tenant, const char *title, const char *priority,
                       const char *day)
{
	struct store_ticket_new t = { title, "it is broken", priority, NULL, NULL, NULL, day };
	json_object *o = NULL;

	ck_assert_int_eq(store_ticket_create(A, tenant, &t, &o), STORE_OK);
	return o;
}

static void mk_number(const char *tenant, const char *day, const char *want)
{
	json_object *o = mk(tenant, "x", NULL, day);

	ck_assert_str_eq(jstr(o, "number"), want);
	json_object_put(o);
}

START_TEST(test_numbers)
{
	struct store_ticket_new bad = { "t", NULL, "extreme", NULL, NULL, NULL, DAY1 };
	json_object *o;
	char want[32];

	add_tenant2();
	use_tenant(DEFAULT_TENANT_ID);
	o = mk(DEFAULT_TENANT_ID, "Printer", NULL, DAY1);
	ck_assert_str_eq(jstr(o, "number"), "TKT-" DAY1 "-001");
	ck_assert_str_eq(jstr(o, "priority"), "normal");
	ck_assert_str_eq(jstr(o, "status"), "open");
	ck_assert_ptr_null(jstr(o, "resolved_at"));
	ck_assert_ptr_null(jstr(o, "assigned_to"));
	json_object_put(o);
	mk_number(DEFAULT_TENANT_ID, DAY1, "TKT-" DAY1 "-002");
	/* A refused create takes no number. */
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &bad, &o), STORE_CONFLICT);
	bad.priority = NULL;
	bad.device_id = NOBODY;
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &bad, &o), STORE_NOT_FOUND);
	bad.device_id = NULL;
	bad.day = "2026-1-1";
	ck_assert_int_eq(store_ticket_create(A, DEFAULT_TENANT_ID, &bad, &o), STORE_CONFLICT);
	mk_number(DEFAULT_TENANT_ID, DAY1, "TKT-" DAY1 "-003");
	/* A new day starts at 001 again; another tenant has its own count. */
	mk_number(DEFAULT_TENANT_ID, DAY2, "TKT-" DAY2 "-001");
	use_tenant(TENANT2);
	mk_number(TENANT2, DAY1, "TKT-" DAY1 "-001");
	use_tenant(DEFAULT_TENANT_ID);
	mk_number(DEFAULT_TENANT_ID, DAY1, "TKT-" DAY1 "-004");
	/* Today's number when no day is given. */
	o = mk(DEFAULT_TENANT_ID, "today", NULL, NULL);
	{
		char now[TIMESTAMP_LEN];
		ids_timestamp(ids_now_ms(), now);
		snprintf(want, sizeof(want), "TKT-%.4s%.2s%.2s-001", now, now + 5, now + 8);
	}
	ck_assert_str_eq(jstr(o, "number"), want);
	json_object_put(o);
	done();
	/* Past 999 the number widens to 4 digits. */
	T_run(T_db, "UPDATE ticket_counters SET last = 998 WHERE day = '" DAY2 "' AND tenant_id = '"
	      DEFAULT_TENANT_ID "'", 0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	mk_number(DEFAULT_TENANT_ID, DAY2, "TKT-" DAY2 "-999");
	mk_number(DEFAULT_TENANT_ID, DAY2, "TKT-" DAY2 "-1000");
	done();
}
END_TEST

/* A child: its own connection, waits for go, creates one ticket, writes its number. */
static void child(const char *target, int go, int out)
{
	struct store_ticket_new t = { "parallel", NULL, NULL, NULL, NULL, NULL, DAY1 };
	struct db *db = NULL;
	json_object *o = NULL;
	char c, line[64];
	int rc = STORE_ERR;

	if (db_open(T_driver(), target, &db) != DB_OK)
		_exit(2);
	if (read(go, &c, 1) < 0)
		_exit(3);
	for (int attempt = 0; attempt < 50; attempt++) {
		int scoped = T_kind == DB_POSTGRES;
		if (scoped && db_scope_begin(db, DEFAULT_TENANT_ID, 0) != DB_OK)
			_exit(4);
		rc = store_ticket_create(db, DEFAULT_TENANT_ID, &t, &o);
		if (scoped && db_scope_end(db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
			rc = STORE_BUSY;
		if (rc != STORE_BUSY)
			break;
		json_object_put(o);
		o = NULL;
		usleep(10000);
	}
	if (rc != STORE_OK)
		_exit(5);
	snprintf(line, sizeof(line), "%s\n", jstr(o, "number"));
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(6);
	json_object_put(o);
	db_close(db);
	_exit(0);
}

START_TEST(test_parallel)
{
	char buf[4096];
	int seen[PARALLEL + 1] = { 0 };
	char *save = NULL;
	int count = 0;

	T_parallel(PARALLEL, child, buf, sizeof(buf));
	/* 20 numbers, 001..020, each once. */
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int n;
		ck_assert_msg(strncmp(line, "TKT-" DAY1 "-", 13) == 0, "bad number %s", line);
		n = atoi(line + 13);
		ck_assert_int_eq((int)strlen(line + 13), 3);
		ck_assert_int_ge(n, 1);
		ck_assert_int_le(n, PARALLEL);
		ck_assert_msg(!seen[n], "number %s given twice", line);
		seen[n] = 1;
		count++;
	}
	ck_assert_int_eq(count, PARALLEL);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM tickets", 0, NULL), PARALLEL);
}
END_TEST

static void patch_status(const char *id, const char *status, int want_rc)
{
	struct store_ticket_patch p = { .status = status, .author_name = "Eve" };
	json_object *o = NULL;

	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), want_rc);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
}

static long comments(const char *id, const char *type)
{
	const char *p[2] = { id, type };

	return T_count(A, "SELECT count(*) FROM ticket_comments WHERE ticket_id = $1 AND type = $2",
	               2, p);
}

START_TEST(test_workflow)
{
	struct store_ticket_patch p = { 0 };
	const char *next[2];
	json_object *t, *o = NULL;
	char id[UUID_STR_LEN], user[UUID_STR_LEN];

	/* The allowed next statuses. */
	ck_assert_int_eq(store_ticket_next_statuses("open", next), 1);
	ck_assert_str_eq(next[0], "in_progress");
	ck_assert_int_eq(store_ticket_next_statuses("in_progress", next), 1);
	ck_assert_str_eq(next[0], "resolved");
	ck_assert_int_eq(store_ticket_next_statuses("resolved", next), 2);
	ck_assert_str_eq(next[0], "closed");
	ck_assert_str_eq(next[1], "open");
	ck_assert_int_eq(store_ticket_next_statuses("closed", next), 1);
	ck_assert_str_eq(next[0], "open");
	ck_assert_int_eq(store_ticket_next_statuses("bogus", next), -1);

	use_tenant(DEFAULT_TENANT_ID);
	t = mk(DEFAULT_TENANT_ID, "VPN down", NULL, DAY1);
	snprintf(id, sizeof(id), "%s", jstr(t, "id"));
	json_object_put(t);
	/* Refused jumps change nothing and write nothing; the ticket comes back as it is. */
	patch_status(id, "resolved", STORE_INVALID_TRANSITION);
	patch_status(id, "closed", STORE_INVALID_TRANSITION);
	ck_assert_int_eq(comments(id, "status_change"), 0);
	p.status = "bogus";
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);
	/* open -> in_progress -> resolved (resolved_at set) -> open (cleared). */
	patch_status(id, "in_progress", STORE_OK);
	patch_status(id, "open", STORE_INVALID_TRANSITION);
	patch_status(id, "resolved", STORE_OK);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "resolved");
	ck_assert_ptr_nonnull(jstr(o, "resolved_at"));
	json_object_put(o);
	patch_status(id, "in_progress", STORE_INVALID_TRANSITION);
	patch_status(id, "open", STORE_OK);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_ptr_null(jstr(o, "resolved_at"));
	json_object_put(o);
	/* ... -> resolved -> closed -> open (reopen). */
	patch_status(id, "in_progress", STORE_OK);
	patch_status(id, "resolved", STORE_OK);
	patch_status(id, "closed", STORE_OK);
	patch_status(id, "in_progress", STORE_INVALID_TRANSITION);
	patch_status(id, "open", STORE_OK);
	ck_assert_int_eq(comments(id, "status_change"), 7);
	{
		const char *q[1] = { id };
		char *v = T_value(A, "SELECT body FROM ticket_comments WHERE ticket_id = $1 AND "
		                     "type = 'status_change' ORDER BY id LIMIT 1", 1, q);
		ck_assert_str_eq(v, "status: open -> in_progress");
		free(v);
	}

	/* Priority and assignee changes write system comments; a title change none. */
	ids_uuid7(user);
	memset(&p, 0, sizeof(p));
	p.priority = "urgent";
	p.assigned_to = user;
	p.title = "VPN down for everyone";
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "priority"), "urgent");
	ck_assert_str_eq(jstr(o, "assigned_to"), user);
	ck_assert_str_eq(jstr(o, "title"), "VPN down for everyone");
	json_object_put(o);
	ck_assert_int_eq(comments(id, "system"), 2);
	/* The same values again: nothing new to say. */
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(comments(id, "system"), 2);
	memset(&p, 0, sizeof(p));
	p.clear_assignee = 1;
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_ptr_null(jstr(o, "assigned_to"));
	json_object_put(o);
	ck_assert_int_eq(comments(id, "system"), 3);
	memset(&p, 0, sizeof(p));
	p.priority = "extreme";
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);
	p.priority = NULL;
	p.title = "";
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);
	p.title = NULL;
	p.device_id = NOBODY;
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, id, &p, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, NOBODY, &p, &o),
	                 STORE_NOT_FOUND);
	done();
}
END_TEST

START_TEST(test_comments)
{
	struct store_ticket_comment_new c = { NULL, 0, NULL, "Carol", "hello" };
	struct store_page page = { 2, NULL };
	struct store_list l;
	json_object *t, *o = NULL;
	char id[UUID_STR_LEN];

	use_tenant(DEFAULT_TENANT_ID);
	t = mk(DEFAULT_TENANT_ID, "Mail", NULL, DAY1);
	snprintf(id, sizeof(id), "%s", jstr(t, "id"));
	json_object_put(t);
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, id, &c, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "type"), "comment");
	ck_assert(json_object_is_type(json_object_object_get(o, "internal"), json_type_boolean));
	ck_assert_str_eq(jstr(o, "body"), "hello");
	json_object_put(o);
	/* A public comment moves the ticket's updated_at; an internal note does not (the
	 * tenant's people read updated_at). */
	T_run(A, "UPDATE tickets SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      (const char *[]){ id });
	c.internal = 1;
	c.body = "staff only";
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, id, &c, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, id, &t), STORE_OK);
	ck_assert_str_eq(jstr(t, "updated_at"), "2020-01-01T00:00:00.000Z");
	json_object_put(t);
	c.internal = 0;
	c.body = "third";
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, id, &c, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, id, &t), STORE_OK);
	ck_assert_int_gt(strcmp(jstr(t, "updated_at"), "2020-01-01T00:00:00.000Z"), 0);
	json_object_put(t);
	c.body = "";
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, id, &c, &o), STORE_CONFLICT);
	c.body = "x";
	c.type = "bogus";
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, id, &c, &o), STORE_CONFLICT);
	c.type = NULL;
	ck_assert_int_eq(store_ticket_comment_add(A, DEFAULT_TENANT_ID, NOBODY, &c, &o),
	                 STORE_NOT_FOUND);
	/* With internal ones: 3, oldest first, in pages of 2. */
	ck_assert_int_eq(store_ticket_comment_list(A, DEFAULT_TENANT_ID, id, 1, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_int_eq(l.has_more, 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "body"), "hello");
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 1), "body"), "staff only");
	ck_assert(json_object_get_boolean(
	        json_object_object_get(json_object_array_get_idx(l.items, 1), "internal")));
	page.cursor = l.next_cursor;
	{
		struct store_list l2;
		ck_assert_int_eq(store_ticket_comment_list(A, DEFAULT_TENANT_ID, id, 1, &page, &l2),
		                 STORE_OK);
		ck_assert_int_eq((int)json_object_array_length(l2.items), 1);
		ck_assert_int_eq(l2.has_more, 0);
		ck_assert_str_eq(jstr(json_object_array_get_idx(l2.items, 0), "body"), "third");
		json_object_put(l2.items);
	}
	json_object_put(l.items);
	/* Without: the internal one is left out. */
	page.cursor = NULL;
	page.limit = 0;
	ck_assert_int_eq(store_ticket_comment_list(A, DEFAULT_TENANT_ID, id, 0, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 1), "body"), "third");
	json_object_put(l.items);
	done();
}
END_TEST

static int list_count(const struct store_ticket_filter *f)
{
	struct store_list l;
	int n;

	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, f, NULL, &l), STORE_OK);
	n = (int)json_object_array_length(l.items);
	json_object_put(l.items);
	return n;
}

START_TEST(test_list_and_tenancy)
{
	struct store_ticket_filter f = { 0 };
	struct store_ticket_patch p = { 0 };
	struct store_page page = { 2, NULL };
	struct store_list l;
	json_object *o = NULL, *d = NULL;
	char a[UUID_STR_LEN], b[UUID_STR_LEN], other[UUID_STR_LEN], user[UUID_STR_LEN],
		dev[UUID_STR_LEN], seen_first[UUID_STR_LEN];
	char number_b[32];

	add_tenant2();
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_device_create(A, DEFAULT_TENANT_ID, "pc1", "$argon2id$fake", &d),
	                 STORE_OK);
	snprintf(dev, sizeof(dev), "%s", jstr(d, "id"));
	json_object_put(d);
	o = mk(DEFAULT_TENANT_ID, "Printer jam", "high", DAY1);
	snprintf(a, sizeof(a), "%s", jstr(o, "id"));
	json_object_put(o);
	o = mk(DEFAULT_TENANT_ID, "Slow disk", "low", DAY1);
	snprintf(b, sizeof(b), "%s", jstr(o, "id"));
	snprintf(number_b, sizeof(number_b), "%s", jstr(o, "number"));
	json_object_put(o);
	o = mk(DEFAULT_TENANT_ID, "Wifi 100% broken", NULL, DAY1);
	json_object_put(o);
	ids_uuid7(user);
	p.assigned_to = user;
	p.device_id = dev;
	p.status = "in_progress";
	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, a, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "device_id"), dev);
	json_object_put(o);

	ck_assert_int_eq(list_count(NULL), 3);
	f.status = "in_progress";
	ck_assert_int_eq(list_count(&f), 1);
	f.status = "open";
	ck_assert_int_eq(list_count(&f), 2);
	f.status = NULL;
	f.priority = "low";
	ck_assert_int_eq(list_count(&f), 1);
	f.priority = NULL;
	f.assigned_to = user;
	ck_assert_int_eq(list_count(&f), 1);
	f.assigned_to = "none";
	ck_assert_int_eq(list_count(&f), 2);
	f.assigned_to = NULL;
	f.device_id = dev;
	ck_assert_int_eq(list_count(&f), 1);
	f.device_id = NULL;
	f.q = "PRINTER";
	ck_assert_int_eq(list_count(&f), 1);
	f.q = "broken";
	ck_assert_int_eq(list_count(&f), 3); /* every description says it */
	f.q = "100%";
	ck_assert_int_eq(list_count(&f), 1);
	f.q = number_b;
	ck_assert_int_eq(list_count(&f), 1);
	f.q = "nothing like it";
	ck_assert_int_eq(list_count(&f), 0);
	f.q = NULL;
	f.assigned_to = "not-a-uuid";
	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_NOT_FOUND);
	/* Pages of 2, newest first. */
	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_int_eq(l.has_more, 1);
	snprintf(seen_first, sizeof(seen_first), "%s",
	         jstr(json_object_array_get_idx(l.items, 1), "id"));
	ck_assert_str_eq(seen_first, b);
	json_object_put(l.items);
	page.cursor = l.next_cursor;
	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_int_eq(l.has_more, 0);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), a);
	json_object_put(l.items);

	/* Another tenant's ticket: out of sight whichever tenant the call names. On
	 * PostgreSQL the scope is tenant 2's, so row-level security hides the default
	 * tenant's rows even when the call names that tenant. */
	use_tenant(TENANT2);
	o = mk(TENANT2, "Theirs", NULL, DAY1);
	snprintf(other, sizeof(other), "%s", jstr(o, "id"));
	json_object_put(o);
	ck_assert_int_eq(store_ticket_get(A, TENANT2, a, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, a, &o),
	                 T_kind == DB_POSTGRES ? STORE_NOT_FOUND : STORE_OK);
	if (T_kind != DB_POSTGRES)
		json_object_put(o);
	{
		struct store_list l2;
		struct store_ticket_comment_new c = { NULL, 0, NULL, "x", "sneaky" };
		ck_assert_int_eq(store_ticket_list(A, TENANT2, NULL, NULL, &l2), STORE_OK);
		ck_assert_int_eq((int)json_object_array_length(l2.items), 1);
		json_object_put(l2.items);
		if (T_kind == DB_POSTGRES) {
			ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, NULL, NULL, &l2),
			                 STORE_OK);
			ck_assert_int_eq((int)json_object_array_length(l2.items), 0);
			json_object_put(l2.items);
		}
		memset(&p, 0, sizeof(p));
		p.title = "mine now";
		ck_assert_int_eq(store_ticket_update(A, TENANT2, a, &p, &o), STORE_NOT_FOUND);
		ck_assert_int_eq(store_ticket_comment_add(A, TENANT2, a, &c, &o), STORE_NOT_FOUND);
		ck_assert_int_eq(store_ticket_comment_list(A, TENANT2, a, 1, NULL, &l2), STORE_OK);
		ck_assert_int_eq((int)json_object_array_length(l2.items), 0);
		json_object_put(l2.items);
	}
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, other, &o), STORE_NOT_FOUND);
	done();
}
END_TEST

/* A queue's order (by_priority): urgent, high, normal, low; the oldest first within a
 * priority; and pages of 2 walk it without a gap or a repeat, the cursor's rank taken
 * from the cursor's ticket. */
START_TEST(test_list_by_priority)
{
	static const char *const made[][2] = {
		{ "n1", "normal" }, { "l1", "low" }, { "u1", "urgent" }, { "h1", "high" },
		{ "n2", "normal" }, { "u2", "urgent" }, { "l2", "low" },
	};
	static const char *const want[] = { "u1", "u2", "h1", "n1", "n2", "l1", "l2" };
	struct store_ticket_filter f = { 0 };
	struct store_page page = { 2, NULL };
	struct store_list l;
	char cursor[UUID_STR_LEN];
	size_t seen = 0;

	use_tenant(DEFAULT_TENANT_ID);
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		json_object_put(mk(DEFAULT_TENANT_ID, made[i][0], made[i][1], DAY1));
	f.by_priority = 1;
	for (;;) {
		ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, &f, &page, &l), STORE_OK);
		for (size_t i = 0; i < json_object_array_length(l.items); i++, seen++) {
			ck_assert_uint_lt(seen, sizeof(want) / sizeof(want[0]));
			ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, i), "title"),
			                 want[seen]);
		}
		json_object_put(l.items);
		if (!l.has_more)
			break;
		snprintf(cursor, sizeof(cursor), "%s", l.next_cursor);
		page.cursor = cursor;
	}
	ck_assert_uint_eq(seen, sizeof(want) / sizeof(want[0]));
	/* With a filter: the urgent ones only, still oldest first. */
	f.priority = "urgent";
	page.cursor = NULL;
	page.limit = 10;
	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, &f, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "title"), "u1");
	json_object_put(l.items);
	done();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_ticket");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_kill_session;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_numbers);
	T_ADD(sq, pg, test_parallel);
	T_ADD(sq, pg, test_workflow);
	T_ADD(sq, pg, test_comments);
	T_ADD(sq, pg, test_list_and_tenancy);
	T_ADD(sq, pg, test_list_by_priority);
	return T_main(s, sq, pg);
}
