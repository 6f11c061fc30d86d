/* check_ticket_session.c: sessions started from tickets (store_ticket_session.h), the
 * same cases on SQLite and on PostgreSQL, the latter as the application's role inside a
 * tenant scope (row-level security holds) for what kaiden-api does, and as helperd's
 * connection (T_db) for the session's moves: the link both ways (the session's
 * ticket_id, the ticket's sessions, the ?ticket_id= filter), the refusals (a closed
 * ticket, another tenant's, none), the start and end comments written once each, and a
 * start racing a close. */
#include <sys/wait.h>

#include "cfg.h"
#include "ids.h"
#include "seam.h"
#include "store.h"
#include "store_tunnel.h"
#include "testdb.h"

#define DOMAIN "support.example.com"

static struct db *A; /* kaiden-api's connection: T_db, or the app role's on PG */

/* T_api_scope / T_api_done (testdb.h) on A. */
static void use_tenant(const char *tenant)
{
	T_api_scope(&A, tenant);
}

static void done(void)
{
	T_api_done(&A);
}

static void mk_device(const char *tenant, const char *name, char id[UUID_STR_LEN])
{
	json_object *o = NULL;

	ck_assert_int_eq(store_device_create(A, tenant, name, "$argon2id$fake", &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

static void mk_ticket(const char *tenant, const char *device, char id[UUID_STR_LEN])
{
	struct store_ticket_new t = { "Printer", "it jams", NULL, device, NULL, NULL, NULL };
	json_object *o = NULL;

	ck_assert_int_eq(store_ticket_create(A, tenant, &t, &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

/* store_session_create's code; the new session's id into id (may be NULL) on success. */
static int start(struct db *db, const char *tenant, const char *device, const char *ticket,
                 const char *engineer_id, char *id)
{
	struct store_session_new s = { device, "Eve", NULL, DOMAIN, 0, 0, engineer_id,
		                       SEAM_PROVIDER_CLOUDFLARE, ticket };
	json_object *o = NULL;
	int rc = store_session_create(db, tenant, &s, &o);

	if (rc == STORE_OK) {
		if (ticket)
			ck_assert_str_eq(jstr(o, "ticket_id"), ticket);
		else
			ck_assert_ptr_null(jstr(o, "ticket_id"));
		if (id)
			snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
		json_object_put(o);
	}
	return rc;
}

static void set_status(const char *ticket, const char *status)
{
	struct store_ticket_patch p = { .status = status, .author_name = "Eve" };
	json_object *o = NULL;

	ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, ticket, &p, &o), STORE_OK);
	json_object_put(o);
}

static void close_ticket(const char *ticket)
{
	set_status(ticket, "in_progress");
	set_status(ticket, "resolved");
	set_status(ticket, "closed");
}

/* How many comments of the ticket have that body (LIKE pattern). */
static long comments_like(struct db *db, const char *ticket, const char *pattern)
{
	const char *p[2] = { ticket, pattern };

	return T_count(db, "SELECT count(*) FROM ticket_comments WHERE ticket_id = $1 AND "
	                   "body LIKE $2", 2, p);
}

static long rows(const char *table)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return T_count(T_db, sql, 0, NULL);
}

/* The ticket's sessions as store_ticket_get gives them (owned: the ticket). */
static json_object *ticket_sessions(const char *ticket, json_object **holder)
{
	json_object *sessions;

	ck_assert_int_eq(store_ticket_get(A, DEFAULT_TENANT_ID, ticket, holder), STORE_OK);
	ck_assert(json_object_object_get_ex(*holder, "sessions", &sessions));
	ck_assert(json_object_is_type(sessions, json_type_array));
	return sessions;
}

static int list_count(const char *ticket_filter, int want_rc)
{
	struct store_session_filter f = { .ticket_id = ticket_filter };
	struct store_list l;
	int n;

	ck_assert_int_eq(store_session_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), want_rc);
	if (want_rc != STORE_OK)
		return -1;
	n = (int)json_object_array_length(l.items);
	json_object_put(l.items);
	return n;
}

START_TEST(test_link_both_ways)
{
	char pc1[UUID_STR_LEN], pc2[UUID_STR_LEN], ticket[UUID_STR_LEN], other[UUID_STR_LEN];
	char s1[UUID_STR_LEN], s2[UUID_STR_LEN], plain[UUID_STR_LEN], user[UUID_STR_LEN];
	json_object *t = NULL, *sessions, *item, *o = NULL;
	struct store_list l;

	use_tenant(DEFAULT_TENANT_ID);
	mk_device(DEFAULT_TENANT_ID, "pc1", pc1);
	mk_device(DEFAULT_TENANT_ID, "pc2", pc2);
	mk_ticket(DEFAULT_TENANT_ID, pc1, ticket);
	mk_ticket(DEFAULT_TENANT_ID, NULL, other);
	/* A new ticket has no sessions. */
	sessions = ticket_sessions(ticket, &t);
	ck_assert_int_eq((int)json_object_array_length(sessions), 0);
	json_object_put(t);
	{
		const char *p[1] = { ticket };
		T_run(A, "UPDATE tickets SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = $1",
		      1, p);
	}

	/* The ticket names pc1; a session on pc2 is allowed (the ticket's device is a hint). */
	ids_uuid7(user);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, pc2, ticket, user, s1), STORE_OK);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, pc1, NULL, NULL, plain), STORE_OK);
	ck_assert_int_eq(store_session_get(A, DEFAULT_TENANT_ID, s1, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "ticket_id"), ticket);
	json_object_put(o);
	ck_assert_int_eq(store_session_get(A, DEFAULT_TENANT_ID, plain, &o), STORE_OK);
	ck_assert_ptr_null(jstr(o, "ticket_id"));
	json_object_put(o);

	/* The ticket shows it, and says so in a system comment customers see. */
	sessions = ticket_sessions(ticket, &t);
	ck_assert_int_eq((int)json_object_array_length(sessions), 1);
	item = json_object_array_get_idx(sessions, 0);
	ck_assert_str_eq(jstr(item, "id"), s1);
	ck_assert_str_eq(jstr(item, "status"), "pending");
	ck_assert_str_eq(jstr(item, "device_id"), pc2);
	ck_assert_str_eq(jstr(item, "device_name"), "pc2");
	ck_assert_str_eq(jstr(item, "engineer_name"), "Eve");
	ck_assert_ptr_nonnull(jstr(item, "created_at"));
	ck_assert(jhas(item, "ended_at"));
	ck_assert_ptr_null(jstr(item, "ended_at"));
	ck_assert_int_eq(json_object_object_length(item), 7);
	ck_assert_str_eq(jstr(t, "device_id"), pc1); /* the ticket keeps its own device */
	ck_assert_int_gt(strcmp(jstr(t, "updated_at"), "2020-01-01T00:00:00.000Z"), 0);
	json_object_put(t);
	ck_assert_int_eq(store_ticket_comment_list(A, DEFAULT_TENANT_ID, ticket, 0, NULL, &l),
	                 STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	item = json_object_array_get_idx(l.items, 0);
	ck_assert_str_eq(jstr(item, "type"), "system");
	ck_assert(!json_object_get_boolean(json_object_object_get(item, "internal")));
	ck_assert_str_eq(jstr(item, "body"), "session started by Eve on pc2");
	ck_assert_str_eq(jstr(item, "author_id"), user);
	ck_assert_str_eq(jstr(item, "author_name"), "Eve");
	json_object_put(l.items);
	/* Another ticket heard nothing. */
	ck_assert_int_eq(comments_like(A, other, "%"), 0);

	/* A second session: newest first. */
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, pc1, ticket, NULL, s2), STORE_OK);
	sessions = ticket_sessions(ticket, &t);
	ck_assert_int_eq((int)json_object_array_length(sessions), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(sessions, 0), "id"), s2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(sessions, 1), "id"), s1);
	json_object_put(t);
	ck_assert_int_eq(comments_like(A, ticket, "session started by Eve on %"), 2);

	/* The list filter. */
	ck_assert_int_eq(list_count(ticket, STORE_OK), 2);
	ck_assert_int_eq(list_count(other, STORE_OK), 0);
	ck_assert_int_eq(list_count(NULL, STORE_OK), 3);
	list_count("not-a-uuid", STORE_NOT_FOUND);
	/* Lists of tickets leave the sessions out (one query per row). */
	ck_assert_int_eq(store_ticket_list(A, DEFAULT_TENANT_ID, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	for (size_t i = 0; i < 2; i++)
		ck_assert(!jhas(json_object_array_get_idx(l.items, i), "sessions"));
	json_object_put(l.items);
	/* An update answers with the ticket as a get does. */
	{
		struct store_ticket_patch p = { .title = "Printer (2)" };
		ck_assert_int_eq(store_ticket_update(A, DEFAULT_TENANT_ID, ticket, &p, &o), STORE_OK);
		ck_assert(json_object_object_get_ex(o, "sessions", &sessions));
		ck_assert_int_eq((int)json_object_array_length(sessions), 2);
		json_object_put(o);
	}
	done();
}
END_TEST

START_TEST(test_refused)
{
	char dev[UUID_STR_LEN], ticket[UUID_STR_LEN], theirs[UUID_STR_LEN],
		their_dev[UUID_STR_LEN], s[UUID_STR_LEN];
	long sessions0, jobs0, comments0;
	char *updated;
	const char *q[1] = { theirs };

	add_tenant2();
	use_tenant(TENANT2);
	mk_device(TENANT2, "theirs", their_dev);
	mk_ticket(TENANT2, NULL, theirs);
	use_tenant(DEFAULT_TENANT_ID);
	mk_device(DEFAULT_TENANT_ID, "pc", dev);
	mk_ticket(DEFAULT_TENANT_ID, NULL, ticket);
	close_ticket(ticket);
	done();
	sessions0 = rows("sessions");
	jobs0 = rows("jobs");
	comments0 = rows("ticket_comments");
	updated = T_value(T_db, "SELECT updated_at FROM tickets WHERE id = $1", 1, q);

	use_tenant(DEFAULT_TENANT_ID);
	/* A closed ticket takes no session. */
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, NULL), STORE_CONFLICT);
	/* Another tenant's ticket, or none, is not found: on PostgreSQL through the app role
	 * (row-level security and the tenant filter) ... */
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, theirs, NULL, NULL), STORE_NOT_FOUND);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, NOBODY, NULL, NULL), STORE_NOT_FOUND);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, "not-a-uuid", NULL, NULL),
	                 STORE_NOT_FOUND);
	done();
	/* ... and through a connection row-level security does not filter (the tenant
	 * filter alone), including with their own device: the ticket must be the tenant's
	 * the session is made in. */
	ck_assert_int_eq(start(T_db, DEFAULT_TENANT_ID, dev, theirs, NULL, NULL), STORE_NOT_FOUND);
	ck_assert_int_eq(start(T_db, DEFAULT_TENANT_ID, their_dev, theirs, NULL, NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(start(T_db, TENANT2, their_dev, ticket, NULL, NULL), STORE_NOT_FOUND);
	/* Nothing of any of them was written. */
	ck_assert_int_eq(rows("sessions"), sessions0);
	ck_assert_int_eq(rows("jobs"), jobs0);
	ck_assert_int_eq(rows("ticket_comments"), comments0);
	{
		char *now = T_value(T_db, "SELECT updated_at FROM tickets WHERE id = $1", 1, q);
		ck_assert_str_eq(now, updated);
		free(now);
	}
	free(updated);

	/* Reopened, it takes one again; resolved is not closed. */
	use_tenant(DEFAULT_TENANT_ID);
	set_status(ticket, "open");
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s), STORE_OK);
	set_status(ticket, "in_progress");
	set_status(ticket, "resolved");
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s), STORE_OK);
	ck_assert_int_eq(list_count(ticket, STORE_OK), 2);
	done();
	/* Their ticket heard nothing. */
	ck_assert_int_eq(comments_like(T_db, theirs, "%"), 0);
}
END_TEST

/* helperd's move of session to status, from the statuses in from; *changed. */
static int move(const char *id, unsigned from, enum seam_status status, const char *error)
{
	enum seam_step step = status == SEAM_STATUS_ACTIVE   ? SEAM_STEP_ACTIVE
	                      : status == SEAM_STATUS_FAILED ? SEAM_STEP_FAILED
	                                                     : SEAM_STEP_ENDED;
	int changed = -1;

	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, id, from, status, step, error,
	                                   &changed),
	                 STORE_OK);
	ck_assert_int_ne(changed, -1);
	return changed;
}

static void status_is(const char *id, const char *want)
{
	const char *p[1] = { id };
	char *v = T_value(T_db, "SELECT status FROM sessions WHERE id = $1", 1, p);

	ck_assert_str_eq(v, want);
	free(v);
}

START_TEST(test_end_comments_once)
{
	char dev[UUID_STR_LEN], ticket[UUID_STR_LEN], s1[UUID_STR_LEN], s2[UUID_STR_LEN],
		s3[UUID_STR_LEN], s4[UUID_STR_LEN], plain[UUID_STR_LEN], long_ago[TIMESTAMP_LEN];
	json_object *o = NULL;
	int changed = 0;

	use_tenant(DEFAULT_TENANT_ID);
	mk_device(DEFAULT_TENANT_ID, "pc", dev);
	mk_ticket(DEFAULT_TENANT_ID, dev, ticket);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s1), STORE_OK);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s2), STORE_OK);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s3), STORE_OK);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s4), STORE_OK);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, NULL, NULL, plain), STORE_OK);
	ck_assert_int_eq(store_session_set_notes(A, DEFAULT_TENANT_ID, s1, "replaced the fan", &o),
	                 STORE_OK);
	json_object_put(o);
	done();

	/* Activation and the API's end (pending/active -> ending) are not ends. */
	ck_assert_int_eq(move(s1, SEAM_STATUS_BIT(SEAM_STATUS_PENDING), SEAM_STATUS_ACTIVE, ""), 1);
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, s1, &o, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	json_object_put(o);
	ck_assert_int_eq(comments_like(T_db, ticket, "session ended%"), 0);

	/* Ended after 1 h 2 min 3 s, with its notes. */
	ids_timestamp(ids_now_ms() - 3723 * 1000, long_ago);
	{
		const char *p[2] = { long_ago, s1 };
		T_run(T_db, "UPDATE sessions SET started_at = $1 WHERE id = $2", 2, p);
	}
	ck_assert_int_eq(move(s1, SEAM_STATUSES_LIVE, SEAM_STATUS_ENDED, NULL), 1);
	ck_assert_int_eq(comments_like(T_db, ticket,
	                               "session ended (1h 02m 03s) notes: replaced the fan"), 1);
	/* Moved again, from anything: nothing moves, nothing more is written. */
	ck_assert_int_eq(move(s1, SEAM_STATUSES_LIVE, SEAM_STATUS_ENDED, NULL), 0);
	ck_assert_int_eq(move(s1, 0, SEAM_STATUS_ENDED, NULL), 0);
	ck_assert_int_eq(move(s1, 0, SEAM_STATUS_FAILED, "late"), 0);
	ck_assert_int_eq(move(s1, SEAM_STATUS_BIT(SEAM_STATUS_ENDED), SEAM_STATUS_FAILED, "x"), 0);
	status_is(s1, "ended");
	ck_assert_int_eq(comments_like(T_db, ticket, "session ended%"), 1);
	ck_assert_int_eq(comments_like(T_db, ticket, "session failed%"), 0);

	/* Failed, with its reason. */
	ck_assert_int_eq(move(s2, 0, SEAM_STATUS_FAILED, "the device is offline"), 1);
	ck_assert_int_eq(move(s2, 0, SEAM_STATUS_FAILED, "the device is offline"), 0);
	ck_assert_int_eq(comments_like(T_db, ticket, "session failed: the device is offline"), 1);

	/* Closing the ticket ends none of its sessions; their end is still written on it. */
	use_tenant(DEFAULT_TENANT_ID);
	close_ticket(ticket);
	done();
	status_is(s3, "pending");
	status_is(s4, "pending");
	ck_assert_int_eq(move(s3, SEAM_STATUSES_LIVE, SEAM_STATUS_ENDED, NULL), 1);
	ck_assert_int_eq(comments_like(T_db, ticket, "session ended (_s)"), 1); /* no notes */
	/* A ticket that is gone does not keep a session from ending. */
	{
		const char *p[1] = { ticket };
		T_run(T_db, "DELETE FROM ticket_comments WHERE ticket_id = $1", 1, p);
		T_run(T_db, "DELETE FROM tickets WHERE id = $1", 1, p);
	}
	ck_assert_int_eq(move(s4, SEAM_STATUSES_LIVE, SEAM_STATUS_ENDED, NULL), 1);
	status_is(s4, "ended");
	ck_assert_int_eq(rows("ticket_comments"), 0);
	/* A session without a ticket writes on none. */
	ck_assert_int_eq(move(plain, SEAM_STATUSES_LIVE, SEAM_STATUS_ENDED, NULL), 1);
	ck_assert_int_eq(rows("ticket_comments"), 0);
}
END_TEST

/* The ticket's sessions show the end. */
START_TEST(test_ticket_shows_end)
{
	char dev[UUID_STR_LEN], ticket[UUID_STR_LEN], s[UUID_STR_LEN];
	json_object *t = NULL, *sessions, *item;

	use_tenant(DEFAULT_TENANT_ID);
	mk_device(DEFAULT_TENANT_ID, "pc", dev);
	mk_ticket(DEFAULT_TENANT_ID, NULL, ticket);
	ck_assert_int_eq(start(A, DEFAULT_TENANT_ID, dev, ticket, NULL, s), STORE_OK);
	done();
	ck_assert_int_eq(move(s, SEAM_STATUSES_LIVE, SEAM_STATUS_FAILED, "no agent"), 1);
	/* The device deleted: its name stays on the ticket's sessions. */
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, dev), STORE_OK);
	use_tenant(DEFAULT_TENANT_ID);
	sessions = ticket_sessions(ticket, &t);
	ck_assert_int_eq((int)json_object_array_length(sessions), 1);
	item = json_object_array_get_idx(sessions, 0);
	ck_assert_str_eq(jstr(item, "status"), "failed");
	ck_assert_ptr_nonnull(jstr(item, "ended_at"));
	ck_assert_str_eq(jstr(item, "device_name"), "pc");
	json_object_put(t);
	done();
}
END_TEST

/* A child: its own connection (the app role's on PostgreSQL, in a scope), waits for go,
 * starts a session from ticket and writes the store's code as a line. It is forked
 * before the parent's close begins: SQLite's lock bookkeeping is per process, and a child
 * forked while the parent holds a lock would believe it held forever. */
static void starter(const char *target, const char *device, const char *ticket, int go,
                    int out)
{
	struct db *db = NULL;
	char line[32], c;
	int rc = STORE_ERR;

	if (db_open(T_driver(), target, &db) != DB_OK)
		_exit(2);
	if (read(go, &c, 1) != 1)
		_exit(3);
	for (int attempt = 0; attempt < 50; attempt++) {
		int scoped = T_kind == DB_POSTGRES;
		if (scoped && db_scope_begin(db, DEFAULT_TENANT_ID, 0) != DB_OK)
			_exit(4);
		rc = start(db, DEFAULT_TENANT_ID, device, ticket, NULL, NULL);
		if (scoped && db_scope_end(db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
			rc = STORE_BUSY;
		if (rc != STORE_BUSY)
			break;
		usleep(10000);
	}
	snprintf(line, sizeof(line), "%d\n", rc);
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(6);
	db_close(db);
	_exit(0);
}

/* PostgreSQL: until some backend waits for a lock (the starter, on the ticket's row), at
 * most 20 s. */
static void wait_for_a_waiter(void)
{
	for (int i = 0; i < 2000; i++) {
		if (T_count(T_db, "SELECT count(*) FROM pg_locks WHERE NOT granted", 0, NULL) > 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("the session's start never waited for the ticket's close");
}

/* A start that arrives while a close is in flight (its transaction open, the ticket's row
 * locked) waits for it and then sees the ticket closed: no session, no comment. */
START_TEST(test_start_races_close)
{
	char dev[UUID_STR_LEN], ticket[UUID_STR_LEN], target[1200], buf[64] = "";
	const char *p[1] = { ticket };
	int go[2], out[2], status = 0;
	struct db *closer;
	ssize_t n;
	pid_t pid;

	use_tenant(DEFAULT_TENANT_ID);
	mk_device(DEFAULT_TENANT_ID, "pc", dev);
	mk_ticket(DEFAULT_TENANT_ID, NULL, ticket);
	set_status(ticket, "in_progress");
	set_status(ticket, "resolved");
	done();
	if (T_kind == DB_POSTGRES) {
		const char *dsn = getenv("KAIDEN_TEST_PG_APP_DSN");
		ck_assert_ptr_nonnull(dsn);
		snprintf(target, sizeof(target), "%s options='-c search_path=%s'", dsn, T_schemas[0]);
	} else {
		snprintf(target, sizeof(target), "%s", T_target);
	}
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(go[1]);
		close(out[0]);
		starter(target, dev, ticket, go[0], out[1]);
	}
	close(go[0]);
	close(out[1]);
	/* The close, in flight; then the start. */
	closer = T_open_again();
	ck_assert_int_eq(db_begin(closer), DB_OK);
	T_run(closer, "UPDATE tickets SET status = 'closed' WHERE id = $1", 1, p);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	/* PostgreSQL: the start is blocked on the ticket's row. SQLite: the close holds the
	 * write lock (BEGIN IMMEDIATE), so the start cannot begin before it commits. */
	if (T_kind == DB_POSTGRES)
		wait_for_a_waiter();
	ck_assert_int_eq(db_commit(closer), DB_OK);
	db_close(closer);
	n = read(out[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(atoi(buf), STORE_CONFLICT);
	ck_assert_int_eq(rows("sessions"), 0);
	ck_assert_int_eq(rows("jobs"), 0);
	ck_assert_int_eq(comments_like(T_db, ticket, "session%"), 0);
	close(go[1]);
	close(out[0]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ticket_session");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_kill_session;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_link_both_ways);
	T_ADD(sq, pg, test_refused);
	T_ADD(sq, pg, test_end_comments_once);
	T_ADD(sq, pg, test_ticket_shows_end);
	T_ADD(sq, pg, test_start_races_close);
	return T_main(s, sq, pg);
}
