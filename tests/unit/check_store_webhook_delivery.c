/* check_store_webhook_delivery.c: the delivery side of webhooks
 * (common/store_webhook_delivery.h), the same cases on SQLite and on PostgreSQL, the
 * latter as the application's role with kaiden.staff on, as helperd connects: the hook's
 * lease between two workers (exclusive, renewed by its holder, taken over once it runs
 * out), the oldest pending delivery first, what an attempt records, the backoff's
 * arithmetic, the give-up (disable + audit, deliveries kept pending), what a
 * re-enable (store_webhook_update) resumes, and the log's retention (store_webhook_prune:
 * what goes and what stays, the per-call bound, every tenant's rows seen). */
#include "store.h"
#include "store_row.h"
#include "store_webhook.h"
#include "store_webhook_delivery.h"
#include "testdb.h"

#define HOOK "0190a2c4-1111-7000-8000-000000000001"
#define HOOK2 "0190a2c4-1111-7000-8000-000000000002"
#define HOOK3 "0190a2c4-1111-7000-8000-000000000003"
#define W1 "helperd-a/0190a2c4-2222-7000-8000-000000000001"
#define W2 "helperd-b/0190a2c4-2222-7000-8000-000000000002"

static const struct store_webhook_policy POLICY = { 10, 3600, 86400 };

/* A connection as helperd has it: the app role with kaiden.staff on (PostgreSQL). */
static struct db *worker(void)
{
	struct db *db;

	if (T_kind != DB_POSTGRES)
		return T_open_again();
	db = T_open_app();
	ck_assert_int_eq(db_session_set(db, "kaiden.staff", "on"), DB_OK);
	return db;
}

static void add_hook(const char *id, const char *tenant)
{
	const char *p[2] = { id, tenant };

	T_run(T_db,
	      "INSERT INTO webhooks (id, tenant_id, url, events, secret_sealed) "
	      "VALUES ($1, $2, 'https://hooks.example.com/in', '[\"ticket.created\"]', 'v1.sealed')",
	      2, p);
}

/* An event of tenant with body; its id into event. */
static void new_event(const char *tenant, const char *body, char event[UUID_STR_LEN])
{
	const char *p[3] = { event, tenant, body };

	ids_uuid7(event);
	T_run(T_db,
	      "INSERT INTO webhook_events (id, tenant_id, type, body) "
	      "VALUES ($1, $2, 'ticket.created', $3)",
	      3, p);
}

/* now - days in the store's form, or NULL for days < 0. */
static const char *days_ago(int days, char out[TIMESTAMP_LEN])
{
	if (days < 0)
		return NULL;
	store_time(-days * 86400, out);
	return out;
}

/* A delivery of event (tenant's) to hook in status, made created days ago, last
 * attempted and delivered the given days ago (-1: never); its id into delivery. */
static void add_delivery(const char *hook, const char *tenant, const char *event,
                         const char *status, int created, int attempted, int delivered,
                         char delivery[UUID_STR_LEN])
{
	char c[TIMESTAMP_LEN], a[TIMESTAMP_LEN], d[TIMESTAMP_LEN];
	const char *p[8] = { delivery, tenant, hook, event, status, days_ago(created, c),
		             days_ago(attempted, a), days_ago(delivered, d) };

	ids_uuid7(delivery);
	T_run(T_db,
	      "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, status, "
	      "created_at, last_attempt_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	      8, p);
}

/* An event of tenant with body, and its pending delivery to hook; the delivery's id. */
static void add_event(const char *hook, const char *tenant, const char *body,
                      char delivery[UUID_STR_LEN])
{
	char event[UUID_STR_LEN];

	new_event(tenant, body, event);
	add_delivery(hook, tenant, event, "pending", 0, -1, -1, delivery);
}

/* An event of tenant and one delivery of it to hook (as add_delivery); both ids. */
static void add_logged(const char *hook, const char *tenant, const char *status, int created,
                       int attempted, int delivered, char event[UUID_STR_LEN],
                       char delivery[UUID_STR_LEN])
{
	new_event(tenant, "{}", event);
	add_delivery(hook, tenant, event, status, created, attempted, delivered, delivery);
}

/* 1 when table has a row with id. */
static int row_exists(const char *table, const char *id)
{
	char sql[96];
	const char *p[1] = { id };

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = $1", table);
	return T_count(T_db, sql, 1, p) == 1;
}

static long rows_of(const char *table)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return T_count(T_db, sql, 0, NULL);
}

/* store_webhook_prune on db, which must succeed; what it deleted. */
static struct store_webhook_pruned prune(struct db *db, int keep_days, long limit)
{
	struct store_webhook_pruned n = { -1, -1 };

	ck_assert_int_eq(store_webhook_prune(db, keep_days, limit, &n), STORE_OK);
	return n;
}

#define ck_assert_pruned(n, want_deliveries, want_events)                             \
	do {                                                                          \
		struct store_webhook_pruned n_ = (n);                                 \
		ck_assert_int_eq(n_.deliveries, (want_deliveries));                   \
		ck_assert_int_eq(n_.events, (want_events));                           \
	} while (0)

static char *hook_value(const char *column)
{
	char sql[128];
	const char *p[1] = { HOOK };

	snprintf(sql, sizeof(sql), "SELECT %s FROM webhooks WHERE id = $1", column);
	return T_value(T_db, sql, 1, p);
}

static char *delivery_value(const char *id, const char *column)
{
	char sql[128];
	const char *p[1] = { id };

	snprintf(sql, sizeof(sql), "SELECT CAST(%s AS text) FROM webhook_deliveries WHERE id = $1",
	         column);
	return T_value(T_db, sql, 1, p);
}

static void assert_delivery(const char *id, const char *column, const char *want)
{
	char *v = delivery_value(id, column);

	if (!want)
		ck_assert_msg(v == NULL, "%s is %s, want NULL", column, v);
	else
		ck_assert_msg(v && strcmp(v, want) == 0, "%s is %s, want %s", column,
		              v ? v : "NULL", want);
	free(v);
}

static enum store_webhook_state take(struct db *db, const char *holder,
                                     struct store_webhook_work *w)
{
	enum store_webhook_state st = STORE_WEBHOOK_GONE;

	memset(w, 0, sizeof(*w));
	ck_assert_int_eq(store_webhook_take(db, HOOK, holder, 60, &st, w), STORE_OK);
	return st;
}

static struct store_webhook_outcome attempt(struct db *db, const char *holder,
                                            const char *delivery, int delivered, int status)
{
	struct store_webhook_attempt a = { HOOK, delivery, delivered, status,
		                           delivered ? NULL : "HTTP 500", 12 };
	struct store_webhook_outcome o = { -1, -1 };

	ck_assert_int_eq(store_webhook_record(db, holder, &a, &POLICY, &o), STORE_OK);
	return o;
}

START_TEST(test_backoff)
{
	ck_assert_int_eq(store_webhook_backoff(1, 10, 3600), 10);
	ck_assert_int_eq(store_webhook_backoff(2, 10, 3600), 20);
	ck_assert_int_eq(store_webhook_backoff(3, 10, 3600), 40);
	ck_assert_int_eq(store_webhook_backoff(9, 10, 3600), 2560);
	ck_assert_int_eq(store_webhook_backoff(10, 10, 3600), 3600);
	ck_assert_int_eq(store_webhook_backoff(100000, 10, 3600), 3600);
	ck_assert_int_eq(store_webhook_backoff(2147483647, 3600, 86400), 86400);
	ck_assert_int_eq(store_webhook_backoff(0, 10, 3600), 10);
	ck_assert_int_eq(store_webhook_backoff(1, 1, 2), 1);
	ck_assert_int_eq(store_webhook_backoff(2, 1, 2), 2);
	ck_assert_int_eq(store_webhook_backoff(3, 1, 2), 2);
	ck_assert_int_eq(store_webhook_backoff(1, 100, 5), 5);
}
END_TEST

START_TEST(test_lease)
{
	struct db *a = worker(), *b = worker();
	struct store_webhook_work w;
	enum store_webhook_state st;
	const char *p[1] = { HOOK };

	add_hook(HOOK, DEFAULT_TENANT_ID);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_int_eq(w.has_delivery, 0);
	ck_assert_str_eq(w.url, "https://hooks.example.com/in");
	ck_assert_str_eq(w.secret_sealed, "v1.sealed");
	ck_assert_str_eq(w.hook_tenant_id, DEFAULT_TENANT_ID);
	store_webhook_work_clear(&w);
	/* The other worker waits; the holder renews. */
	ck_assert_int_eq(take(b, W2, &w), STORE_WEBHOOK_BUSY);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	store_webhook_work_clear(&w);
	/* Another job of the same helperd is another holder. */
	ck_assert_int_eq(take(a, "helperd-a/another-job", &w), STORE_WEBHOOK_BUSY);
	/* Released: the other takes it. A release by a non-holder changes nothing. */
	ck_assert_int_eq(store_webhook_release(b, HOOK, W2), STORE_OK);
	ck_assert_int_eq(take(b, W2, &w), STORE_WEBHOOK_BUSY);
	ck_assert_int_eq(store_webhook_release(a, HOOK, W1), STORE_OK);
	ck_assert_int_eq(take(b, W2, &w), STORE_WEBHOOK_READY);
	store_webhook_work_clear(&w);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_BUSY);
	/* A lease that ran out (its holder died) is taken over. */
	T_run(T_db, "UPDATE webhooks SET locked_until = '2020-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      p);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	store_webhook_work_clear(&w);
	/* Disabled, deleted, not an id. */
	T_run(T_db, "UPDATE webhooks SET status = 'disabled' WHERE id = $1", 1, p);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_DISABLED);
	T_run(T_db, "DELETE FROM webhooks WHERE id = $1", 1, p);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_GONE);
	ck_assert_int_eq(store_webhook_take(a, "x", W1, 60, &st, &w), STORE_NOT_FOUND);
	db_close(a);
	db_close(b);
}
END_TEST

START_TEST(test_order_and_record)
{
	static const char body1[] = "{\"id\":\"e1\",\"data\":{\"t\":\"caf\xc3\xa9\"}}";
	struct db *a = worker(), *b = worker();
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], d3[UUID_STR_LEN], *v;
	struct store_webhook_work w;
	struct store_webhook_outcome o;
	struct store_webhook_attempt late = { HOOK, NULL, 1, 200, NULL, 5 };
	int64_t before;

	add_tenant2();
	add_hook(HOOK, NULL); /* platform-wide: events of both tenants */
	add_event(HOOK, DEFAULT_TENANT_ID, body1, d1);
	add_event(HOOK, TENANT2, "{\"id\":\"e2\"}", d2);
	add_event(HOOK, DEFAULT_TENANT_ID, "{\"id\":\"e3\"}", d3);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_str_eq(w.hook_tenant_id, "");
	ck_assert_int_eq(w.has_delivery, 1);
	ck_assert_str_eq(w.delivery_id, d1);
	ck_assert_uint_eq(w.body_len, strlen(body1));
	ck_assert_mem_eq(w.body, body1, w.body_len);
	ck_assert_str_eq(w.event_tenant_id, DEFAULT_TENANT_ID);
	ck_assert_str_eq(w.event_type, "ticket.created");
	ck_assert_int_eq(w.attempts, 0);
	ck_assert_int_le(w.next_attempt_ms, ids_now_ms());
	store_webhook_work_clear(&w);

	/* A failure: attempts 1, retry after retry_base, the hook failing since now; the
	 * same delivery stays first. */
	before = ids_now_ms();
	o = attempt(a, W1, d1, 0, 500);
	ck_assert_int_eq(o.retry_seconds, 10);
	ck_assert_int_eq(o.disabled, 0);
	assert_delivery(d1, "attempts", "1");
	assert_delivery(d1, "last_status", "500");
	assert_delivery(d1, "last_error", "HTTP 500");
	assert_delivery(d1, "status", "pending");
	v = hook_value("failing_since");
	ck_assert_ptr_nonnull(v);
	free(v);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_str_eq(w.delivery_id, d1);
	ck_assert_int_eq(w.attempts, 1);
	ck_assert_int_ge(w.next_attempt_ms, before + 10000);
	ck_assert_int_le(w.next_attempt_ms, ids_now_ms() + 10000);
	store_webhook_work_clear(&w);
	/* The second failure waits twice as long; first_failed_at stays the first's. */
	v = delivery_value(d1, "first_failed_at");
	o = attempt(a, W1, d1, 0, 503);
	ck_assert_int_eq(o.retry_seconds, 20);
	assert_delivery(d1, "first_failed_at", v);
	free(v);
	assert_delivery(d1, "attempts", "2");
	/* A worker without the lease records nothing. */
	late.delivery_id = d1;
	ck_assert_int_eq(store_webhook_record(b, W2, &late, &POLICY, &o), STORE_CONFLICT);
	assert_delivery(d1, "status", "pending");
	/* Delivered: the next one comes up, the hook is healthy again. */
	o = attempt(a, W1, d1, 1, 204);
	ck_assert_int_eq(o.retry_seconds, 0);
	assert_delivery(d1, "status", "delivered");
	assert_delivery(d1, "attempts", "3");
	assert_delivery(d1, "last_status", "204");
	assert_delivery(d1, "response_ms", "12");
	v = delivery_value(d1, "delivered_at");
	ck_assert_ptr_nonnull(v);
	free(v);
	ck_assert_ptr_null(hook_value("failing_since"));
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_str_eq(w.delivery_id, d2);
	ck_assert_str_eq(w.event_tenant_id, TENANT2);
	store_webhook_work_clear(&w);
	/* Recording again for a delivered one changes nothing. */
	o = attempt(a, W1, d1, 0, 500);
	assert_delivery(d1, "status", "delivered");
	assert_delivery(d1, "attempts", "3");
	/* A delivery of another hook is not this hook's. */
	add_hook(HOOK2, DEFAULT_TENANT_ID);
	{
		char other[UUID_STR_LEN];
		struct store_webhook_attempt x = { HOOK, NULL, 1, 200, NULL, 1 };
		add_event(HOOK2, DEFAULT_TENANT_ID, "{}", other);
		x.delivery_id = other;
		ck_assert_int_eq(store_webhook_record(a, W1, &x, &POLICY, &o), STORE_NOT_FOUND);
		assert_delivery(other, "status", "pending");
	}
	o = attempt(a, W1, d2, 1, 200);
	o = attempt(a, W1, d3, 1, 200);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_int_eq(w.has_delivery, 0);
	db_close(a);
	db_close(b);
}
END_TEST

START_TEST(test_give_up_and_resume)
{
	struct db *a = worker();
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], *v;
	struct store_webhook_work w;
	struct store_webhook_outcome o;
	struct store_job jobs[4];
	const char *p[1] = { HOOK };
	int n = 0;

	add_hook(HOOK, DEFAULT_TENANT_ID);
	add_event(HOOK, DEFAULT_TENANT_ID, "{\"n\":1}", d1);
	add_event(HOOK, DEFAULT_TENANT_ID, "{\"n\":2}", d2);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	store_webhook_work_clear(&w);
	/* Failing for less than give_up: still active. */
	o = attempt(a, W1, d1, 0, 500);
	ck_assert_int_eq(o.disabled, 0);
	/* The run of failures began more than give_up ago: this failure disables it. */
	T_run(T_db, "UPDATE webhooks SET failing_since = '2020-01-01T00:00:00.000Z' WHERE id = $1",
	      1, p);
	o = attempt(a, W1, d1, 0, 0);
	ck_assert_int_eq(o.disabled, 1);
	v = hook_value("status");
	ck_assert_str_eq(v, "disabled");
	free(v);
	v = hook_value("disabled_reason");
	ck_assert_ptr_nonnull(strstr(v, "2020-01-01"));
	free(v);
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM audit_log WHERE action = 'webhook.disable' "
	                         "AND target_type = 'webhook' AND target_id = $1 "
	                         "AND actor_email = '(kaiden-helperd)' AND tenant_id = '" DEFAULT_TENANT_ID "'",
	                         1, p),
	                 1);
	/* Both deliveries stay pending, and no one delivers to a disabled hook. */
	assert_delivery(d1, "status", "pending");
	assert_delivery(d2, "status", "pending");
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_DISABLED);

	/* Re-enabled (store_webhook.h): active, healthy, the held deliveries first, in order,
	 * one job. */
	v = NULL;
	{
		struct store_webhook_patch patch = { NULL, NULL, "active", NULL };
		json_object *out = NULL;
		ck_assert_int_eq(store_webhook_update(a, DEFAULT_TENANT_ID, HOOK, &patch, &out),
		                 STORE_OK);
		json_object_put(out);
		out = NULL;
		ck_assert_int_eq(store_webhook_update(a, DEFAULT_TENANT_ID, HOOK, &patch, &out),
		                 STORE_OK);
		json_object_put(out);
	}
	v = hook_value("status");
	ck_assert_str_eq(v, "active");
	free(v);
	ck_assert_ptr_null(hook_value("failing_since"));
	ck_assert_ptr_null(hook_value("disabled_reason"));
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM jobs WHERE webhook_id = $1 "
	                         "AND kind = 'webhook.deliver' AND state = 'queued'",
	                         1, p),
	                 1);
	ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
	ck_assert_str_eq(w.delivery_id, d1);
	ck_assert_int_le(w.next_attempt_ms, ids_now_ms()); /* due now, not after its retry wait */
	ck_assert_int_eq(w.attempts, 2); /* the log keeps what happened */
	store_webhook_work_clear(&w);
	/* One failure after the resume starts a new run of failures: not disabled again. */
	o = attempt(a, W1, d1, 0, 500);
	ck_assert_int_eq(o.disabled, 0);
	/* The claim hands the job's hook over. */
	ck_assert_int_eq(store_jobs_claim(a, "helperd-a", 60, 60, 4, jobs, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(jobs[0].kind, "webhook.deliver");
	ck_assert_str_eq(jobs[0].webhook_id, HOOK);
	ck_assert_str_eq(jobs[0].tenant_id, DEFAULT_TENANT_ID);
	db_close(a);
}
END_TEST

/* What goes: delivered and failed deliveries whose last activity is past keep_days, and
 * every event no delivery refers to any more (a deleted hook's too). What stays: pending
 * ones whatever their age, recent ones (by last activity, not by creation), and an event
 * while any of its deliveries does. The counts are exact. */
START_TEST(test_prune)
{
	struct db *a = worker();
	struct store_webhook_pruned n;
	char e_del[UUID_STR_LEN], e_fail[UUID_STR_LEN], e_bare[UUID_STR_LEN];
	char e_pend[UUID_STR_LEN], e_recent[UUID_STR_LEN], e_retry[UUID_STR_LEN];
	char e_shared[UUID_STR_LEN], e_both[UUID_STR_LEN], e_gone[UUID_STR_LEN];
	char e_20[UUID_STR_LEN];
	char d_del[UUID_STR_LEN], d_fail[UUID_STR_LEN], d_bare[UUID_STR_LEN];
	char d_pend[UUID_STR_LEN], d_recent[UUID_STR_LEN], d_retry[UUID_STR_LEN];
	char d_sh1[UUID_STR_LEN], d_sh2[UUID_STR_LEN], d_both1[UUID_STR_LEN];
	char d_both2[UUID_STR_LEN], d_gone[UUID_STR_LEN], d_20[UUID_STR_LEN];
	const char *gone[1] = { HOOK3 };
	const char *T = DEFAULT_TENANT_ID;

	add_hook(HOOK, T);
	add_hook(HOOK2, T);
	add_hook(HOOK3, T);
	/* Past 30 days: delivered 31 days ago, failed with its last attempt 31 days ago, and
	 * failed without an attempt, made 31 days ago. */
	add_logged(HOOK, T, "delivered", 40, 31, 31, e_del, d_del);
	add_logged(HOOK, T, "failed", 40, 31, -1, e_fail, d_fail);
	add_logged(HOOK, T, "failed", 31, -1, -1, e_bare, d_bare);
	/* Kept: pending for 400 days (owed: a disabled hook's), delivered yesterday (its
	 * delivered_at counts first: no attempt time here) and last attempted 29 days ago,
	 * both made 40 days ago. */
	add_logged(HOOK, T, "pending", 400, 399, -1, e_pend, d_pend);
	add_logged(HOOK, T, "delivered", 40, -1, 1, e_recent, d_recent);
	add_logged(HOOK, T, "failed", 40, 29, -1, e_retry, d_retry);
	add_logged(HOOK, T, "delivered", 20, 20, 20, e_20, d_20);
	/* An event with an old delivery and a pending one stays; one whose deliveries are
	 * both old goes. */
	add_logged(HOOK, T, "delivered", 35, 35, 35, e_shared, d_sh1);
	add_delivery(HOOK2, T, e_shared, "pending", 35, 35, -1, d_sh2);
	add_logged(HOOK, T, "delivered", 35, 35, 35, e_both, d_both1);
	add_delivery(HOOK2, T, e_both, "failed", 35, 35, -1, d_both2);
	/* A deleted hook's delivery, pending and recent, goes with it; its event stays
	 * behind until the prune. */
	add_logged(HOOK3, T, "pending", 0, -1, -1, e_gone, d_gone);
	T_run(T_db, "DELETE FROM webhooks WHERE id = $1", 1, gone);
	ck_assert(!row_exists("webhook_deliveries", d_gone));
	ck_assert(row_exists("webhook_events", e_gone));

	n = prune(a, 30, STORE_WEBHOOK_PRUNE_LIMIT);
	ck_assert_pruned(n, 6, 5);
	ck_assert(!row_exists("webhook_deliveries", d_del));
	ck_assert(!row_exists("webhook_deliveries", d_fail));
	ck_assert(!row_exists("webhook_deliveries", d_bare));
	ck_assert(!row_exists("webhook_deliveries", d_sh1));
	ck_assert(!row_exists("webhook_deliveries", d_both1));
	ck_assert(!row_exists("webhook_deliveries", d_both2));
	ck_assert(row_exists("webhook_deliveries", d_pend));
	ck_assert(row_exists("webhook_deliveries", d_recent));
	ck_assert(row_exists("webhook_deliveries", d_retry));
	ck_assert(row_exists("webhook_deliveries", d_20));
	ck_assert(row_exists("webhook_deliveries", d_sh2));
	ck_assert(!row_exists("webhook_events", e_del));
	ck_assert(!row_exists("webhook_events", e_fail));
	ck_assert(!row_exists("webhook_events", e_bare));
	ck_assert(!row_exists("webhook_events", e_both));
	ck_assert(!row_exists("webhook_events", e_gone));
	ck_assert(row_exists("webhook_events", e_pend));
	ck_assert(row_exists("webhook_events", e_recent));
	ck_assert(row_exists("webhook_events", e_retry));
	ck_assert(row_exists("webhook_events", e_20));
	ck_assert(row_exists("webhook_events", e_shared));
	ck_assert_int_eq(rows_of("webhook_deliveries"), 5);
	ck_assert_int_eq(rows_of("webhook_events"), 5);
	/* The oldest pending delivery is still the hook's next one. */
	{
		struct store_webhook_work w;
		ck_assert_int_eq(take(a, W1, &w), STORE_WEBHOOK_READY);
		ck_assert_str_eq(w.delivery_id, d_pend);
		store_webhook_work_clear(&w);
	}
	/* Nothing more at 30 days; at 10, the two between 10 and 30 days old. */
	ck_assert_pruned(prune(a, 30, STORE_WEBHOOK_PRUNE_LIMIT), 0, 0);
	ck_assert_pruned(prune(a, 10, STORE_WEBHOOK_PRUNE_LIMIT), 2, 2);
	ck_assert(!row_exists("webhook_deliveries", d_20));
	ck_assert(!row_exists("webhook_deliveries", d_retry));
	ck_assert(row_exists("webhook_deliveries", d_recent));
	ck_assert(row_exists("webhook_deliveries", d_pend));
	ck_assert(row_exists("webhook_deliveries", d_sh2));
	ck_assert_int_eq(rows_of("webhook_events"), 3);
	/* Bad arguments: an error, nothing deleted, *out untouched. */
	n.deliveries = n.events = -7;
	ck_assert_int_eq(store_webhook_prune(a, 0, 10, &n), STORE_ERR);
	ck_assert_int_eq(store_webhook_prune(a, 1, 0, &n), STORE_ERR);
	ck_assert_pruned(n, -7, -7);
	ck_assert_int_eq(rows_of("webhook_deliveries"), 3);
	db_close(a);
}
END_TEST

/* A call deletes at most limit rows of each table; the rest goes at the next calls. */
START_TEST(test_prune_bound)
{
	struct db *a = worker();
	char e[UUID_STR_LEN], d[UUID_STR_LEN];
	const char *hook2[1] = { HOOK2 };

	add_hook(HOOK, DEFAULT_TENANT_ID);
	add_hook(HOOK2, DEFAULT_TENANT_ID);
	for (int i = 0; i < 5; i++)
		add_logged(HOOK, DEFAULT_TENANT_ID, "delivered", 60, 60, 60, e, d);
	ck_assert_pruned(prune(a, 30, 2), 2, 2);
	ck_assert_int_eq(rows_of("webhook_deliveries"), 3);
	ck_assert_int_eq(rows_of("webhook_events"), 3);
	ck_assert_pruned(prune(a, 30, 2), 2, 2);
	ck_assert_pruned(prune(a, 30, 2), 1, 1);
	ck_assert_pruned(prune(a, 30, 2), 0, 0);
	ck_assert_int_eq(rows_of("webhook_deliveries"), 0);
	ck_assert_int_eq(rows_of("webhook_events"), 0);
	/* Orphaned events alone (a deleted hook's) are bounded too. */
	for (int i = 0; i < 3; i++)
		add_event(HOOK2, DEFAULT_TENANT_ID, "{}", d);
	T_run(T_db, "DELETE FROM webhooks WHERE id = $1", 1, hook2);
	ck_assert_int_eq(rows_of("webhook_events"), 3);
	ck_assert_pruned(prune(a, 30, 2), 0, 2);
	ck_assert_int_eq(rows_of("webhook_events"), 1);
	ck_assert_pruned(prune(a, 30, 2), 0, 1);
	ck_assert_int_eq(rows_of("webhook_events"), 0);
	db_close(a);
}
END_TEST

/* helperd's connection (PostgreSQL: the application's role with kaiden.staff on) prunes
 * every tenant's rows, a platform hook's included. Row-level security is in force for
 * that role: the same prune in one tenant's scope (staff off) deletes that tenant's rows
 * only. */
START_TEST(test_prune_tenants)
{
	struct db *a = worker(), *scoped = NULL;
	char e1[UUID_STR_LEN], e2[UUID_STR_LEN], e3[UUID_STR_LEN];
	char d1[UUID_STR_LEN], d2[UUID_STR_LEN], d3[UUID_STR_LEN];

	add_tenant2();
	add_hook(HOOK, DEFAULT_TENANT_ID);
	add_hook(HOOK2, TENANT2);
	add_hook(HOOK3, NULL); /* platform-wide */
	add_logged(HOOK, DEFAULT_TENANT_ID, "delivered", 40, 40, 40, e1, d1);
	add_logged(HOOK2, TENANT2, "delivered", 40, 40, 40, e2, d2);
	add_logged(HOOK3, TENANT2, "failed", 40, 40, -1, e3, d3);
	if (T_kind == DB_POSTGRES) {
		T_use_tenant(&scoped, DEFAULT_TENANT_ID);
		ck_assert_pruned(prune(scoped, 30, STORE_WEBHOOK_PRUNE_LIMIT), 1, 1);
		T_use_done(&scoped);
		ck_assert(!row_exists("webhook_deliveries", d1));
		ck_assert(row_exists("webhook_deliveries", d2));
		ck_assert(row_exists("webhook_deliveries", d3));
		ck_assert_pruned(prune(a, 30, STORE_WEBHOOK_PRUNE_LIMIT), 2, 2);
	} else {
		ck_assert_pruned(prune(a, 30, STORE_WEBHOOK_PRUNE_LIMIT), 3, 3);
	}
	ck_assert(!row_exists("webhook_deliveries", d2));
	ck_assert(!row_exists("webhook_deliveries", d3));
	ck_assert(!row_exists("webhook_events", e1));
	ck_assert(!row_exists("webhook_events", e2));
	ck_assert(!row_exists("webhook_events", e3));
	ck_assert_int_eq(rows_of("webhook_deliveries"), 0);
	ck_assert_int_eq(rows_of("webhook_events"), 0);
	db_close(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_webhook_delivery");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	tcase_add_test(sq, test_backoff);
	T_ADD(sq, pg, test_lease);
	T_ADD(sq, pg, test_order_and_record);
	T_ADD(sq, pg, test_give_up_and_resume);
	T_ADD(sq, pg, test_prune);
	T_ADD(sq, pg, test_prune_bound);
	T_ADD(sq, pg, test_prune_tenants);
	return T_main(s, sq, pg);
}
