/* check_store_service.c: the cloud services store (store_service.h), the same cases on
 * SQLite and on PostgreSQL, the latter as the application's role inside a tenant scope so
 * that row-level security holds: create (names, release length, the job), the status
 * diagram with op_seq (a stale report changes nothing), revisions and rollback, the
 * webhook events in the report's transaction, delete and the names freed, the domain
 * look-up's rate limit, the max_services quota and usage, the one-operation-per-service
 * claim, limits by plan, and another tenant's services out of sight.
 *
 * Templates are written here with SQL (platform data, as catalog load writes it). */
#include <sys/wait.h>

#include "cfg.h"
#include "ids.h"
#include "store.h"
#include "store_service.h"
#include "store_tenant.h"
#include "testdb.h"
#include "testjson.h"

static struct db *A; /* the connection the cases use: T_db, or the app role's on PG */

static void use_tenant(const char *tenant)
{
	T_use_tenant(&A, tenant);
}

static void done(void)
{
	T_use_done(&A);
}

#define TPL "0190a2c4-0000-7000-8000-00000000aaaa"

static void mk_template(void)
{
	T_run(T_db,
	      "INSERT INTO app_templates (id, slug, name, category, chart_repo, chart_name, "
	      "chart_version, values_schema) VALUES ('" TPL "', 'pg', 'PostgreSQL', 'Database', "
	      "'oci://registry-1.docker.io/bitnamicharts', 'postgresql', '17.1.0', "
	      "'{\"type\":\"object\",\"properties\":{}}')",
	      0, NULL);
}

/* A service of tenant with reference_id ref (also its subdomain, prefixed by the
 * tenant's first letters so two tenants never clash unless asked); its id into id. */
static int mk_service(const char *tenant, const char *ref, const char *subdomain,
                      char id[UUID_STR_LEN], struct store_service_why *why)
{
	json_object *o = NULL, *values = J("{\"size\":\"8Gi\"}"), *names = J("[\"auth.password\"]");
	struct store_service_new s = { .template_id = TPL,
		                       .name = "My database",
		                       .reference_id = ref,
		                       .subdomain = subdomain,
		                       .chart_version = "17.1.0",
		                       .values = values,
		                       .secret_values = "sv1.sealed-elsewhere",
		                       .secret_names = names };
	int rc = store_service_create(A, tenant, &s, &o, why);

	if (rc == STORE_OK)
		snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
	json_object_put(values);
	json_object_put(names);
	return rc;
}

static const char *value_of(const char *sql, const char *id)
{
	static char out[512];
	const char *p[1] = { id };
	char *v = T_value(T_db, sql, 1, p);

	snprintf(out, sizeof(out), "%s", v ? v : "(null)");
	free(v);
	return out;
}

START_TEST(test_create)
{
	json_object *o = NULL;
	struct store_service_why why;
	struct store_list l;
	struct store_service_filter f = { 0 };
	char id[UUID_STR_LEN], other[UUID_STR_LEN];

	mk_template();
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db1", "db1", id, &why), STORE_OK);
	ck_assert_int_eq(store_service_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "pending");
	ck_assert_str_eq(jstr(o, "template"), "pg");
	ck_assert_str_eq(jstr(o, "template_name"), "PostgreSQL");
	ck_assert_str_eq(jstr(o, "namespace"), "paas-ws-default");
	ck_assert_str_eq(jstr(o, "helm_release"), "paas-ws-default-db1");
	ck_assert_str_eq(jstr(o, "op_seq"), "1");
	ck_assert_str_eq(jstr(o, "revision"), "0");
	ck_assert_str_eq(jstr(o, "domain_status"), "unverified");
	ck_assert_str_eq(S(json_object_object_get(o, "values")), "{\"size\":\"8Gi\"}");
	ck_assert_str_eq(S(json_object_object_get(o, "secret_names")), "[\"auth.password\"]");
	/* Never the sealed text. */
	ck_assert_ptr_null(strstr(S(o), "sv1."));
	json_object_put(o);
	o = NULL;
	done();
	/* The job, with the op_seq it acts for. */
	ck_assert_str_eq(value_of("SELECT kind || ' ' || op_seq || ' ' || state FROM jobs WHERE "
	                          "service_id = $1",
	                          id),
	                 "service.install 1 queued");

	use_tenant(DEFAULT_TENANT_ID);
	memset(&why, 0, sizeof(why));
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db1", "other", other, &why), STORE_CONFLICT);
	ck_assert_str_eq(why.field, "reference_id");
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db2", "db1", other, &why), STORE_CONFLICT);
	ck_assert_str_eq(why.field, "subdomain");
	/* paas-ws-default- is 16: 38 more make 54. */
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "abcdefghij-abcdefghij-abcdefghij-abcde",
	                            "long", other, &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "reference_id");
	ck_assert_msg(strstr(why.text, "53"), "%s", why.text);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "abcdefghij-abcdefghij-abcdefghij-abcd",
	                            "long", other, &why),
	                 STORE_OK);
	{
		struct store_service_new s = { .template_id = NOBODY, .name = "x", .reference_id = "x",
			                       .subdomain = "x", .chart_version = "1.0.0" };
		json_object *v = J("{}");
		s.values = v;
		ck_assert_int_eq(store_service_create(A, DEFAULT_TENANT_ID, &s, &o, &why),
		                 STORE_NOT_FOUND);
		json_object_put(v);
	}
	/* Lists: newest first, filters. */
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), other);
	json_object_put(l.items);
	f.q = "ABCDEFGHIJ";
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	json_object_put(l.items);
	f.q = "%";
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 0);
	json_object_put(l.items);
	f.q = NULL;
	f.template = "pg";
	f.status = "pending";
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	json_object_put(l.items);
	f.template = "redis";
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, &f, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 0);
	json_object_put(l.items);
	{
		struct store_page page = { 1, NULL };
		ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
		ck_assert_int_eq(l.has_more, 1);
		json_object_put(l.items);
		page.cursor = l.next_cursor;
		ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
		ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), id);
		ck_assert_int_eq(l.has_more, 0);
		json_object_put(l.items);
	}
	{
		long n = -1;
		ck_assert_int_eq(store_service_template_uses(A, TPL, &n), STORE_OK);
		ck_assert_int_eq(n, 2);
	}
	ck_assert_int_eq(store_service_rename(A, DEFAULT_TENANT_ID, id, "Renamed", &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "Renamed");
	ck_assert_str_eq(jstr(o, "op_seq"), "1");
	json_object_put(o);
	done();
}
END_TEST

/* Reports and operations through the diagram. */
START_TEST(test_flow)
{
	json_object *o = NULL, *rv = NULL;
	struct store_service_why why;
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;
	struct store_service_change c = { 0 };
	char id[UUID_STR_LEN], updated[64];
	long n = -1;
	int changed;

	mk_template();
	/* A hook that hears the service events. */
	T_run(T_db,
	      "INSERT INTO webhooks (id, tenant_id, url, events, secret_sealed) VALUES "
	      "('0190a2c4-0000-7000-8000-00000000bbbb', '" DEFAULT_TENANT_ID "', "
	      "'https://hooks.example.com/x', "
	      "'[\"service.deployed\",\"service.failed\",\"service.deleted\"]', 'v1.x')",
	      0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db1", "db1", id, &why), STORE_OK);

	/* pending: no operation may be queued but a delete. */
	c.values = J("{\"size\":\"9Gi\"}");
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "status");
	ck_assert_msg(strstr(why.text, "pending"), "%s", why.text);

	/* helperd: deploying, then a stale report, then running with revision 1. */
	r.status = SERVICE_DEPLOYING;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, NULL), STORE_OK);
	r.status = SERVICE_FAILED;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 0, &r, NULL, NULL),
	                 STORE_CONFLICT);
	ck_assert_int_eq(store_service_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "deploying");
	json_object_put(o);
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.error = "Back-off pulling image \"x\"";
	r.pods_ready = 0;
	r.pods_total = 1;
	changed = -1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, &o, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_str_eq(jstr(o, "error"), "Back-off pulling image \"x\"");
	ck_assert_str_eq(jstr(o, "status"), "deploying");
	json_object_put(o);
	/* The next poll finds the same: nothing written (updated_at stays), nobody told. */
	T_run(T_db, "UPDATE cloud_services SET updated_at = '2026-01-01T00:00:00.000Z'", 0, NULL);
	ck_assert_int_eq(store_service_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	snprintf(updated, sizeof(updated), "%s", jstr(o, "updated_at"));
	json_object_put(o);
	changed = -1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, &o, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_str_eq(jstr(o, "updated_at"), updated);
	ck_assert_str_eq(jstr(o, "error"), "Back-off pulling image \"x\"");
	json_object_put(o);
	/* ... but one more pod counted is a change. */
	r.pods_total = 2;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	r.pods_total = 1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_RUNNING;
	r.error = "";
	r.pods_ready = 1;
	r.revision = 1;
	r.deployed = 1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, &o, NULL), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "running");
	ck_assert_ptr_null(jstr(o, "error"));
	ck_assert_str_eq(jstr(o, "pods_ready"), "1");
	ck_assert_str_eq(jstr(o, "pods_total"), "1");
	ck_assert_str_eq(jstr(o, "revision"), "1");
	ck_assert_ptr_nonnull(jstr(o, "deployed_at"));
	json_object_put(o);
	/* Running again (pods): no second event. */
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_RUNNING;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, NULL), STORE_OK);
	{
		struct store_service_revision rev = { .revision = 1, .status = "deployed",
			                              .chart_version = "17.1.0", .app_version = "17.2.0",
			                              .description = "Install complete",
			                              .updated = "2026-12-01T10:00:00.123456789Z" };
		rev.values = J("{\"size\":\"8Gi\"}");
		rev.secret_values = "sv1.rev1";
		rev.secret_names = J("[\"auth.password\"]");
		ck_assert_int_eq(store_service_revision_put(A, DEFAULT_TENANT_ID, id, &rev), STORE_OK);
		json_object_put(rev.values);
		json_object_put(rev.secret_names);
	}

	/* An upgrade: op_seq 2, an upgrade job; a caller's stale op_seq is refused. */
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 7, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "op_seq");
	c.set_secrets = 1;
	c.secret_values = "sv1.two";
	c.secret_names = J("[]");
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 1, &o,
	                                     &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "upgrading");
	ck_assert_str_eq(jstr(o, "op_seq"), "2");
	ck_assert_str_eq(S(json_object_object_get(o, "values")), "{\"size\":\"9Gi\"}");
	ck_assert_str_eq(S(json_object_object_get(o, "secret_names")), "[]");
	json_object_put(o);
	json_object_put(c.values);
	json_object_put(c.secret_names);
	memset(&c, 0, sizeof(c));
	done();
	ck_assert_str_eq(value_of("SELECT kind || ' ' || op_seq FROM jobs WHERE service_id = $1 "
	                          "ORDER BY id DESC LIMIT 1",
	                          id),
	                 "service.upgrade 2");
	use_tenant(DEFAULT_TENANT_ID);
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_FAILED;
	r.error = "UPGRADE FAILED: boom";
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 2, &r, NULL, NULL), STORE_OK);
	{
		struct store_service_revision rev = { .revision = 1, .status = "superseded" };
		ck_assert_int_eq(store_service_revision_put(A, DEFAULT_TENANT_ID, id, &rev), STORE_OK);
		rev.revision = 2;
		rev.status = "failed";
		rev.values = J("{\"size\":\"9Gi\"}");
		ck_assert_int_eq(store_service_revision_put(A, DEFAULT_TENANT_ID, id, &rev), STORE_OK);
		json_object_put(rev.values);
	}
	ck_assert_int_eq(store_service_revisions(A, DEFAULT_TENANT_ID, id, &rv), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(rv), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(rv, 0), "revision"), "2");
	/* A later status read keeps what revision 1 ran with. */
	ck_assert_str_eq(jstr(json_object_array_get_idx(rv, 1), "status"), "superseded");
	ck_assert_str_eq(S(json_object_object_get(json_object_array_get_idx(rv, 1), "values")),
	                 "{\"size\":\"8Gi\"}");
	ck_assert_ptr_null(strstr(S(rv), "sv1."));
	json_object_put(rv);

	/* Rollback: to the current (still 1: the upgrade failed) or a missing revision is
	 * refused; to 2 is queued. */
	c.revision = 1;
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_ROLLBACK, &c, 0, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "revision");
	c.revision = 9;
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_ROLLBACK, &c, 0, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "revision");
	c.revision = 2;
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_ROLLBACK, &c, 0, &o,
	                                     &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "rolling_back");
	ck_assert_str_eq(jstr(o, "rollback_to"), "2");
	json_object_put(o);
	/* helperd's view: the template, the sealed secrets, the revision to go back to. */
	ck_assert_int_eq(store_service_work(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "secret_values"), "sv1.two");
	ck_assert_str_eq(jstr(o, "tenant_code"), "default");
	ck_assert_str_eq(jstr(json_object_object_get(o, "template"), "chart_name"), "postgresql");
	ck_assert_str_eq(jstr(json_object_object_get(o, "template"), "chart_repo"),
	                 "oci://registry-1.docker.io/bitnamicharts");
	ck_assert_str_eq(S(json_object_object_get(json_object_object_get(o, "template"),
	                                          "default_values")),
	                 "{}");
	ck_assert_str_eq(jstr(json_object_object_get(o, "rollback_revision"), "revision"), "2");
	ck_assert_str_eq(jstr(json_object_object_get(o, "limits"), "cpu_millis"), "16000");
	json_object_put(o);
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_RUNNING;
	r.revision = 3;
	r.deployed = 1;
	r.set_values = 1;
	r.values = J("{\"size\":\"7Gi\"}");
	r.secret_values = "sv1.rev2";
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 3, &r, &o, NULL), STORE_OK);
	json_object_put(r.values);
	ck_assert_ptr_null(jstr(o, "rollback_to"));
	ck_assert_str_eq(S(json_object_object_get(o, "values")), "{\"size\":\"7Gi\"}");
	json_object_put(o);

	/* Delete: deleting, a second delete refused, deleted frees the names. */
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UNINSTALL, NULL, 0,
	                                     &o, &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "deleting");
	json_object_put(o);
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UNINSTALL, NULL, 0,
	                                     &o, &why),
	                 STORE_CONFLICT);
	/* The upgrade helperd may still be running reports with op_seq 3: stale. */
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_RUNNING;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 3, &r, NULL, NULL),
	                 STORE_CONFLICT);
	ck_assert_int_eq(store_service_live_count(A, DEFAULT_TENANT_ID, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	r.status = SERVICE_DELETED;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 4, &r, &o, NULL), STORE_OK);
	ck_assert_ptr_nonnull(jstr(o, "deleted_at"));
	json_object_put(o);
	ck_assert_int_eq(store_service_live_count(A, DEFAULT_TENANT_ID, &n), STORE_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UNINSTALL, NULL, 0,
	                                     &o, &why),
	                 STORE_NOT_FOUND);
	{
		char again[UUID_STR_LEN];
		ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db1", "db1", again, &why), STORE_OK);
	}
	done();
	/* Events: deployed once, failed, deployed (the rollback), deleted; none holds a
	 * sealed secret. */
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM webhook_events", 0, NULL), 4);
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM webhook_events WHERE type = "
	                         "'service.deployed'",
	                         0, NULL),
	                 2);
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM webhook_events WHERE body LIKE '%sv1.%'", 0,
	                         NULL),
	                 0);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM webhook_deliveries", 0, NULL), 4);
}
END_TEST

START_TEST(test_domain)
{
	json_object *o = NULL;
	struct store_service_why why;
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;
	struct store_service_change c = { 0 };
	char id[UUID_STR_LEN], id2[UUID_STR_LEN], domain[254];
	int retry = -1, queued = -1;

	mk_template();
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "web", "web", id, &why), STORE_OK);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "web2", "web2", id2, &why), STORE_OK);
	ck_assert_int_eq(store_service_domain_claim(A, DEFAULT_TENANT_ID, id, 10, domain, &retry),
	                 STORE_CONFLICT);
	r.status = SERVICE_RUNNING;
	r.revision = 1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id2, 1, &r, NULL, NULL), STORE_OK);
	c.set_domain = 1;
	c.custom_domain = "shop.example.com";
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "custom_domain"), "shop.example.com");
	json_object_put(o);
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id2, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "domain");
	ck_assert_int_eq(store_service_domain_claim(A, DEFAULT_TENANT_ID, id, 10, domain, &retry),
	                 STORE_OK);
	ck_assert_str_eq(domain, "shop.example.com");
	ck_assert_int_eq(store_service_domain_claim(A, DEFAULT_TENANT_ID, id, 10, domain, &retry),
	                 STORE_BUSY);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 10);
	memset(&why, 0, sizeof(why));
	ck_assert_int_eq(store_service_domain_result(A, DEFAULT_TENANT_ID, id, "other.example.com", 1,
	                                             &o, &queued, &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "");
	/* Unverified again: nothing moves, so no upgrade, even while the domain's own one
	 * is queued. */
	ck_assert_int_eq(store_service_domain_result(A, DEFAULT_TENANT_ID, id, "shop.example.com", 0,
	                                             &o, &queued, &why),
	                 STORE_OK);
	ck_assert_int_eq(queued, 0);
	ck_assert_str_eq(jstr(o, "domain_status"), "unverified");
	ck_assert_str_eq(jstr(o, "status"), "upgrading");
	json_object_put(o);
	/* Verified moves it into the chart: an upgrade, refused while one is queued, nothing
	 * stored ... */
	ck_assert_int_eq(store_service_domain_result(A, DEFAULT_TENANT_ID, id, "shop.example.com", 1,
	                                             &o, &queued, &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "status");
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM cloud_services WHERE domain_status = "
	                         "'verified'",
	                         0, NULL),
	                 0);
	/* ... and queued once the service runs, with the time of the look-up. */
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 2, &r, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_service_domain_result(A, DEFAULT_TENANT_ID, id, "shop.example.com", 1,
	                                             &o, &queued, &why),
	                 STORE_OK);
	ck_assert_int_eq(queued, 1);
	ck_assert_str_eq(jstr(o, "domain_status"), "verified");
	ck_assert_str_eq(jstr(o, "status"), "upgrading");
	ck_assert_ptr_nonnull(jstr(o, "domain_checked_at"));
	json_object_put(o);
	done();
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM jobs WHERE kind = 'service.upgrade' AND "
	                         "op_seq = 3",
	                         0, NULL),
	                 1);
	/* Ten seconds later (moved back by hand), another look. */
	T_run(T_db, "UPDATE cloud_services SET domain_checked_at = '2020-01-01T00:00:00.000Z'", 0,
	      NULL);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_service_domain_claim(A, DEFAULT_TENANT_ID, id, 10, NULL, &retry),
	                 STORE_OK);
	done();
}
END_TEST

START_TEST(test_quota_and_usage)
{
	struct store_service_why why;
	json_object *u = NULL;
	char id[UUID_STR_LEN];
	struct store_service_limits lim;

	mk_template();
	T_run(T_db, "UPDATE tenants SET quotas = '{\"max_services\": 2}' WHERE id = '"
	            DEFAULT_TENANT_ID "'", 0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "a", "a", id, &why), STORE_OK);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "b", "b", id, &why), STORE_OK);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "c", "c", id, &why), STORE_QUOTA);
	ck_assert_int_eq(store_tenant_usage(A, DEFAULT_TENANT_ID, &u), STORE_OK);
	ck_assert_str_eq(jstr(u, "services"), "2");
	json_object_put(u);
	ck_assert_int_eq(store_service_limits(A, DEFAULT_TENANT_ID, &lim), STORE_OK);
	ck_assert_int_eq(lim.pods, 200); /* the default tenant is enterprise */
	done();
	T_run(T_db, "UPDATE tenants SET plan = 'trial', quotas = '{\"services_pods\": 7}' WHERE id = '"
	            DEFAULT_TENANT_ID "'", 0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_service_limits(A, DEFAULT_TENANT_ID, &lim), STORE_OK);
	ck_assert_int_eq(lim.pods, 7);
	ck_assert_int_eq(lim.cpu_millis, 2000);
	ck_assert_int_eq(lim.memory_mib, 4096);
	ck_assert_int_eq(lim.storage_gib, 20);
	/* Without max_services the seed's 50 holds: 48 more fit, the 51st does not. */
	done();
	T_run(T_db, "UPDATE tenants SET quotas = '{}' WHERE id = '" DEFAULT_TENANT_ID "'", 0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	for (int i = 0; i < 48; i++) {
		char ref[16];
		snprintf(ref, sizeof(ref), "s%d", i);
		ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, ref, ref, id, &why), STORE_OK);
	}
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "last", "last", id, &why), STORE_QUOTA);
	done();
	{
		const char *why_text;
		struct store_tenant_fields f = { 0 };
		char w[256];
		json_object *q = J("{\"max_services\": 3, \"services_cpu\": 500}");
		f.quotas = q;
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &why_text, w, sizeof(w)), 0);
		json_object_put(q);
	}
}
END_TEST

/* One operation per service: a second job of a service waits for the first. */
START_TEST(test_claim)
{
	struct store_service_why why;
	struct store_job jobs[8];
	char id[UUID_STR_LEN], id2[UUID_STR_LEN];
	json_object *o = NULL;
	int n = -1;

	mk_template();
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "a", "a", id, &why), STORE_OK);
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "b", "b", id2, &why), STORE_OK);
	/* a: install (op 1) and uninstall (op 2) both queued. */
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UNINSTALL, NULL, 0,
	                                     &o, &why),
	                 STORE_OK);
	json_object_put(o);
	done();
	ck_assert_int_eq(store_jobs_claim(T_db, "w1", 30, 60, 8, jobs, &n), STORE_OK);
	ck_assert_int_eq(n, 2); /* a's install and b's install */
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(jobs[i].kind, "service.install");
		ck_assert(jobs[i].op_seq == 1);
		ck_assert(strcmp(jobs[i].service_id, id) == 0 || strcmp(jobs[i].service_id, id2) == 0);
	}
	/* a's uninstall waits while its install runs. */
	ck_assert_int_eq(store_jobs_claim(T_db, "w2", 30, 60, 8, jobs, &n), STORE_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(store_jobs_requeue(T_db, "w1", NULL), STORE_OK);
	/* Requeued: the older install comes first again, never the uninstall beside it. */
	ck_assert_int_eq(store_jobs_claim(T_db, "w2", 30, 60, 8, jobs, &n), STORE_OK);
	ck_assert_int_eq(n, 2);
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(jobs[i].kind, "service.install");
		ck_assert_int_eq(store_job_finish(T_db, jobs[i].id, "w2", "done", NULL, 0), STORE_OK);
	}
	ck_assert_int_eq(store_jobs_claim(T_db, "w2", 30, 60, 8, jobs, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(jobs[0].kind, "service.uninstall");
	ck_assert_str_eq(jobs[0].service_id, id);
	ck_assert(jobs[0].op_seq == 2);
	ck_assert_str_eq(jobs[0].session_id, "");
}
END_TEST

START_TEST(test_tenancy)
{
	struct store_service_why why;
	struct store_list l;
	json_object *o = NULL;
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;
	struct store_service_revision rev = { .revision = 1, .status = "deployed" };
	char mine[UUID_STR_LEN], theirs[UUID_STR_LEN];
	char domain[254];
	int retry;
	long n;

	mk_template();
	add_tenant2();
	use_tenant(TENANT2);
	ck_assert_int_eq(mk_service(TENANT2, "db", "shared", theirs, &why), STORE_OK);
	use_tenant(DEFAULT_TENANT_ID);
	/* The same reference_id is fine in another tenant; the subdomain is the platform's. */
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db", "shared", mine, &why), STORE_CONFLICT);
	ck_assert_str_eq(why.field, "subdomain");
	ck_assert_int_eq(mk_service(DEFAULT_TENANT_ID, "db", "mine", mine, &why), STORE_OK);
	ck_assert_int_eq(store_service_get(A, DEFAULT_TENANT_ID, theirs, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, theirs, SERVICE_OP_UNINSTALL, NULL,
	                                     0, &o, &why),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, theirs, 1, &r, &o, NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_revision_put(A, DEFAULT_TENANT_ID, theirs, &rev),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_revisions(A, DEFAULT_TENANT_ID, theirs, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_work(A, DEFAULT_TENANT_ID, theirs, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_rename(A, DEFAULT_TENANT_ID, theirs, "x", &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_domain_claim(A, DEFAULT_TENANT_ID, theirs, 10, domain, &retry),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_service_list(A, DEFAULT_TENANT_ID, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), mine);
	json_object_put(l.items);
	ck_assert_int_eq(store_service_live_count(A, DEFAULT_TENANT_ID, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	if (T_kind == DB_POSTGRES) {
		/* Row-level security: a query without the tenant filter sees only its own. */
		char *v = T_value(A, "SELECT count(*) FROM cloud_services", 0, NULL);
		ck_assert_str_eq(v, "1");
		free(v);
		/* The template's uses count every tenant's (a SECURITY DEFINER function). */
		ck_assert_int_eq(store_service_template_uses(A, TPL, &n), STORE_OK);
		ck_assert_int_eq(n, 2);
	}
	done();
	/* A tenant delete takes its services, revisions and jobs with it. */
	use_tenant(TENANT2);
	rev.values = NULL;
	ck_assert_int_eq(store_service_revision_put(A, TENANT2, theirs, &rev), STORE_OK);
	done();
	ck_assert_int_eq(store_tenant_delete(T_db, TENANT2), STORE_OK);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM cloud_services", 0, NULL), 1);
}
END_TEST

START_TEST(test_statuses)
{
	enum service_status s;

	for (int i = 0; i < SERVICE__MAX; i++) {
		ck_assert_int_eq(service_status_parse(service_statuses[i], &s), 0);
		ck_assert_int_eq(s, i);
		ck_assert_str_eq(service_status_name(s), service_statuses[i]);
	}
	ck_assert_int_eq(service_status_parse("gone", &s), -1);
	ck_assert_ptr_null(service_statuses[SERVICE__MAX]);
	ck_assert_str_eq(seam_job_name(SEAM_JOB_SERVICE_UNINSTALL), "service.uninstall");
}
END_TEST

/* storage_size (0017): stored at create, shown, changed by an upgrade only while the
 * service has no revision (its volume exists after), and the form held by a CHECK. */
START_TEST(test_storage_size)
{
	json_object *o = NULL, *values = J("{}"), *names = J("[]");
	struct store_service_why why;
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;
	struct store_service_change c = { 0 };
	struct store_service_new s = { .template_id = TPL, .name = "Sized", .reference_id = "sized",
		                       .subdomain = "sized", .chart_version = "17.1.0",
		                       .values = values, .secret_names = names,
		                       .storage_size = "20Gi" };
	char id[UUID_STR_LEN];

	mk_template();
	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_service_create(A, DEFAULT_TENANT_ID, &s, &o, &why), STORE_OK);
	ck_assert_str_eq(jstr(o, "storage_size"), "20Gi");
	snprintf(id, sizeof(id), "%s", jstr(o, "id"));
	json_object_put(o);
	/* The install failed before any revision: another size may be tried. */
	r.status = SERVICE_FAILED;
	r.error = "no room";
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 1, &r, NULL, NULL), STORE_OK);
	c.set_storage = 1;
	c.storage_size = "10Gi";
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "storage_size"), "10Gi");
	ck_assert_str_eq(jstr(o, "status"), "deploying");
	json_object_put(o);
	/* Deployed: the size is fixed; other changes still go. */
	r = (struct store_service_report)STORE_SERVICE_REPORT_INIT;
	r.status = SERVICE_RUNNING;
	r.revision = 1;
	r.deployed = 1;
	ck_assert_int_eq(store_service_report(A, DEFAULT_TENANT_ID, id, 2, &r, NULL, NULL), STORE_OK);
	c.storage_size = NULL;
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_CONFLICT);
	ck_assert_str_eq(why.field, "storage_size");
	ck_assert_int_eq(store_service_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "storage_size"), "10Gi");
	ck_assert_str_eq(jstr(o, "status"), "running");
	ck_assert_str_eq(jstr(o, "op_seq"), "2");
	json_object_put(o);
	c.set_storage = 0;
	c.chart_version = "17.1.0";
	ck_assert_int_eq(store_service_queue(A, DEFAULT_TENANT_ID, id, SERVICE_OP_UPGRADE, &c, 0, &o,
	                                     &why),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "storage_size"), "10Gi");
	json_object_put(o);
	done();
	/* The CHECK: only a whole number of Mi, Gi or Ti. */
	{
		const char *bad[] = { "8G", "08Gi", "1.5Gi", "Gi", "12345678Gi", "8gi" };
		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			const char *p[2] = { bad[i], id };
			ck_assert_msg(db_exec(T_db, "UPDATE cloud_services SET storage_size = $1 WHERE "
			                            "id = $2",
			                      2, p, NULL) == DB_CONSTRAINT,
			              "%s was taken", bad[i]);
		}
	}
	json_object_put(values);
	json_object_put(names);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_service");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_kill_session;
	(void)T_parallel;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	tcase_add_test(sq, test_statuses);
	T_ADD(sq, pg, test_create);
	T_ADD(sq, pg, test_flow);
	T_ADD(sq, pg, test_domain);
	T_ADD(sq, pg, test_quota_and_usage);
	T_ADD(sq, pg, test_claim);
	T_ADD(sq, pg, test_tenancy);
	T_ADD(sq, pg, test_storage_size);
	return T_main(s, sq, pg);
}
