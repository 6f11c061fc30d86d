/* check_store_cluster.c: the clusters store (store_cluster.h), the same cases on SQLite
 * and on PostgreSQL, the latter as the application's role inside a tenant scope so that
 * row-level security holds: create (a live name unique per tenant), get, list, rename,
 * the secret's rotation, the max_clusters quota and usage, status and node_count derived
 * from the nodes, a node by name, and delete (its nodes' live sessions end, its nodes go);
 * another tenant's clusters out of sight.
 *
 * Nodes are devices written here with SQL (as superuser on PostgreSQL): what an agent in
 * cluster mode will report is the agent's and helperd's work, not this store's. */
#include <sys/wait.h>

#include "cfg.h"
#include "ids.h"
#include "store.h"
#include "store_cluster.h"
#include "store_tenant.h"
#include "testdb.h"

static struct db *A; /* the connection the cases use: T_db, or the app role's on PG */

static void use_tenant(const char *tenant)
{
	T_use_tenant(&A, tenant);
}

static void done(void)
{
	T_use_done(&A);
}

/* A cluster of tenant named name; its id into id. */
static void mk_cluster(const char *tenant, const char *name, char id[UUID_STR_LEN])
{
	json_object *o = NULL;

	ck_assert_int_eq(store_cluster_create(A, tenant, name, "$argon2id$fake", &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

/* A node of cluster (a device row, as helperd will write it), online or not. */
static void mk_node(const char *tenant, const char *cluster, const char *node, int online,
                    char id[UUID_STR_LEN])
{
	const char *p[6] = { id, tenant, cluster, node, online ? "online" : "offline",
		             online ? "t-holder" : NULL };

	ids_uuid7(id);
	T_live_helperd("t-holder");
	T_run(T_db,
	      "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name, "
	      "status, helperd, labels, node_status) VALUES ($1, $2, $4, '', $3, $4, $5, $6, "
	      "'{\"kubernetes.io/os\":\"linux\"}', 'Ready')",
	      6, p);
}

static const char *value_of(const char *sql, const char *id)
{
	static char out[256];
	const char *p[1] = { id };
	char *v = T_value(T_db, sql, 1, p);

	snprintf(out, sizeof(out), "%s", v ? v : "(null)");
	free(v);
	return out;
}

START_TEST(test_crud)
{
	json_object *o = NULL;
	struct store_list l;
	struct store_page page = { 0, NULL };
	char id[UUID_STR_LEN], other[UUID_STR_LEN], hash[256];

	use_tenant(DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_cluster_create(A, DEFAULT_TENANT_ID, "prod", "$argon2id$one", &o),
	                 STORE_OK);
	ck_assert(ids_is_uuid(jstr(o, "id")));
	snprintf(id, sizeof(id), "%s", jstr(o, "id"));
	ck_assert_str_eq(jstr(o, "name"), "prod");
	ck_assert_str_eq(jstr(o, "status"), "offline");
	ck_assert_str_eq(jstr(o, "node_count"), "0");
	ck_assert(jhas(o, "created_at") && jhas(o, "updated_at"));
	ck_assert(!jhas(o, "secret_hash") && !jhas(o, "secret"));
	ck_assert_int_eq(json_object_object_length(o), 6);
	json_object_put(o);

	/* A live name is the tenant's once. */
	o = (json_object *)0x1;
	ck_assert_int_eq(store_cluster_create(A, DEFAULT_TENANT_ID, "prod", "$argon2id$x", &o),
	                 STORE_CONFLICT);
	ck_assert_ptr_eq(o, (json_object *)0x1);
	mk_cluster(DEFAULT_TENANT_ID, "staging", other);
	ck_assert_int_eq(store_cluster_rename(A, DEFAULT_TENANT_ID, other, "prod", &o),
	                 STORE_CONFLICT);
	ck_assert_int_eq(store_cluster_rename(A, DEFAULT_TENANT_ID, other, "stage-2", &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "stage-2");
	json_object_put(o);

	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, id, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "prod");
	json_object_put(o);
	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, NOBODY, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, "nope", &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_rename(A, DEFAULT_TENANT_ID, NOBODY, "x", &o),
	                 STORE_NOT_FOUND);

	/* Newest first; q finds by name. */
	ck_assert_int_eq(store_cluster_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), other);
	json_object_put(l.items);
	ck_assert_int_eq(store_cluster_list(A, DEFAULT_TENANT_ID, "PRO", &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), id);
	json_object_put(l.items);
	page.limit = 1;
	ck_assert_int_eq(store_cluster_list(A, DEFAULT_TENANT_ID, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert(l.has_more);
	ck_assert_str_eq(l.next_cursor, other);
	json_object_put(l.items);

	/* The rotation replaces the hash, and only that. */
	ck_assert_int_eq(store_cluster_set_secret(A, DEFAULT_TENANT_ID, id, "$argon2id$two", &o),
	                 STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "prod");
	json_object_put(o);
	done();
	snprintf(hash, sizeof(hash), "%s", value_of("SELECT secret_hash FROM clusters WHERE id = $1", id));
	ck_assert_str_eq(hash, "$argon2id$two");
}
END_TEST

START_TEST(test_nodes)
{
	json_object *o = NULL;
	struct store_list l;
	char cl[UUID_STR_LEN], cl2[UUID_STR_LEN], n1[UUID_STR_LEN], n2[UUID_STR_LEN];
	char n3[UUID_STR_LEN], dev[UUID_STR_LEN], plain[UUID_STR_LEN];
	int online = -1;

	use_tenant(DEFAULT_TENANT_ID);
	mk_cluster(DEFAULT_TENANT_ID, "prod", cl);
	mk_cluster(DEFAULT_TENANT_ID, "dev", cl2);
	ck_assert_int_eq(store_device_create(A, DEFAULT_TENANT_ID, "laptop", "$argon2id$d", &o),
	                 STORE_OK);
	snprintf(plain, sizeof(plain), "%s", jstr(o, "id"));
	json_object_put(o);
	use_tenant(DEFAULT_TENANT_ID);
	mk_node(DEFAULT_TENANT_ID, cl, "node-a", 0, n1);
	mk_node(DEFAULT_TENANT_ID, cl2, "node-a", 1, n3); /* the same name in another cluster */

	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, cl, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "offline");
	ck_assert_str_eq(jstr(o, "node_count"), "1");
	json_object_put(o);
	mk_node(DEFAULT_TENANT_ID, cl, "node-b", 1, n2);
	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, cl, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "online");
	ck_assert_str_eq(jstr(o, "node_count"), "2");
	json_object_put(o);

	/* A node name is unique among a cluster's live devices. */
	{
		const char *p[2] = { cl, "node-a" };
		ck_assert_int_eq(db_exec(T_db,
		                         "INSERT INTO devices (id, tenant_id, name, secret_hash, "
		                         "cluster_id, node_name) VALUES ('" NOBODY "', '"
		                         DEFAULT_TENANT_ID "', 'x', '', $1, $2)",
		                         2, p, NULL),
		                 DB_CONSTRAINT);
	}

	ck_assert_int_eq(T_cluster_nodes(A, DEFAULT_TENANT_ID, cl, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 2);
	o = json_object_array_get_idx(l.items, 0);
	ck_assert_str_eq(jstr(o, "id"), n2);
	ck_assert_str_eq(jstr(o, "cluster_id"), cl);
	ck_assert_str_eq(jstr(o, "node_name"), "node-b");
	ck_assert_str_eq(jstr(o, "node_status"), "Ready");
	json_object_put(l.items);
	ck_assert_int_eq(T_cluster_nodes(A, DEFAULT_TENANT_ID, cl, "offline", NULL, &l),
	                 STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), n1);
	json_object_put(l.items);
	ck_assert_int_eq(T_cluster_nodes(A, DEFAULT_TENANT_ID, NOBODY, NULL, NULL, &l),
	                 STORE_NOT_FOUND);
	/* GET /devices?cluster_id=: the cluster's only; an unknown cluster lists nothing. */
	ck_assert_int_eq(T_device_list_cluster(A, DEFAULT_TENANT_ID, cl2, NULL, NULL, NULL, &l),
	                 STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), n3);
	json_object_put(l.items);
	ck_assert_int_eq(T_device_list_cluster(A, DEFAULT_TENANT_ID, NOBODY, NULL, NULL, NULL,
	                                           &l),
	                 STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(T_device_list(A, DEFAULT_TENANT_ID, NULL, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 4);
	json_object_put(l.items);
	/* A standalone machine's node facts are null. */
	ck_assert_int_eq(store_device_get(A, DEFAULT_TENANT_ID, plain, &o), STORE_OK);
	ck_assert(jhas(o, "cluster_id") && !jstr(o, "cluster_id") && !jstr(o, "unschedulable"));
	json_object_put(o);

	/* A node by name: its device and whether it is online. */
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, cl, "node-b", dev, &online),
	                 STORE_OK);
	ck_assert_str_eq(dev, n2);
	ck_assert_int_eq(online, 1);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, cl, "node-a", dev, &online),
	                 STORE_OK);
	ck_assert_str_eq(dev, n1);
	ck_assert_int_eq(online, 0);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, cl, "node-c", dev, &online),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, NOBODY, "node-a", dev, &online),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, "x", "node-a", dev, &online),
	                 STORE_NOT_FOUND);
	done();
}
END_TEST

START_TEST(test_delete)
{
	struct store_session_new s = { 0 };
	json_object *o = NULL;
	char cl[UUID_STR_LEN], n1[UUID_STR_LEN], n2[UUID_STR_LEN], dev[UUID_STR_LEN];
	char s1[UUID_STR_LEN], s2[UUID_STR_LEN], s3[UUID_STR_LEN], again[UUID_STR_LEN];
	int ended = -1, online;

	use_tenant(DEFAULT_TENANT_ID);
	mk_cluster(DEFAULT_TENANT_ID, "prod", cl);
	use_tenant(DEFAULT_TENANT_ID); /* committed: the nodes' foreign key sees it */
	mk_node(DEFAULT_TENANT_ID, cl, "node-a", 1, n1);
	mk_node(DEFAULT_TENANT_ID, cl, "node-b", 1, n2);
	ck_assert_int_eq(store_device_create(A, DEFAULT_TENANT_ID, "laptop", "$argon2id$d", &o),
	                 STORE_OK);
	snprintf(dev, sizeof(dev), "%s", jstr(o, "id"));
	json_object_put(o);
	s.engineer_name = "Eng";
	s.domain = "support.test";
	s.provider = SEAM_PROVIDER_RELAY;
	s.device_id = n1;
	ck_assert_int_eq(store_session_create(A, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	snprintf(s1, sizeof(s1), "%s", jstr(o, "id"));
	json_object_put(o);
	s.device_id = n2;
	ck_assert_int_eq(store_session_create(A, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	snprintf(s2, sizeof(s2), "%s", jstr(o, "id"));
	json_object_put(o);
	s.device_id = dev;
	ck_assert_int_eq(store_session_create(A, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	snprintf(s3, sizeof(s3), "%s", jstr(o, "id"));
	json_object_put(o);
	use_tenant(DEFAULT_TENANT_ID);
	{
		const char *p[1] = { s2 };
		T_run(T_db, "UPDATE sessions SET status = 'active' WHERE id = $1", 1, p);
	}

	ck_assert_int_eq(store_cluster_delete(A, DEFAULT_TENANT_ID, cl, &ended), STORE_OK);
	ck_assert_int_eq(ended, 2);
	ck_assert_int_eq(store_cluster_delete(A, DEFAULT_TENANT_ID, cl, &ended), STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, cl, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_get(A, DEFAULT_TENANT_ID, n1, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, cl, "node-a", again, &online),
	                 STORE_NOT_FOUND);
	/* Its name is free again; the node's name too, in the new cluster. */
	mk_cluster(DEFAULT_TENANT_ID, "prod", again);
	use_tenant(DEFAULT_TENANT_ID);
	mk_node(DEFAULT_TENANT_ID, again, "node-a", 0, n1);
	done();

	ck_assert_str_eq(value_of("SELECT status FROM sessions WHERE id = $1", s1), "ending");
	ck_assert_str_eq(value_of("SELECT status FROM sessions WHERE id = $1", s2), "ending");
	ck_assert_str_eq(value_of("SELECT status FROM sessions WHERE id = $1", s3), "pending");
	ck_assert_str_eq(value_of("SELECT count(*) FROM jobs WHERE kind = 'session.end' AND "
	                          "session_id = $1", s1), "1");
	ck_assert_str_eq(value_of("SELECT count(*) FROM jobs WHERE kind = 'session.end' AND "
	                          "session_id = $1", s2), "1");
	ck_assert_str_eq(value_of("SELECT count(*) FROM jobs WHERE kind = 'session.end' AND "
	                          "session_id = $1", s3), "0");
	ck_assert_str_eq(value_of("SELECT count(*) FROM devices WHERE cluster_id = $1 AND "
	                          "deleted_at IS NULL", cl), "0");
}
END_TEST

START_TEST(test_quota_and_usage)
{
	json_object *o = NULL, *usage = NULL;
	char a[UUID_STR_LEN], b[UUID_STR_LEN];

	T_run(T_db, "UPDATE tenants SET quotas = '{\"max_clusters\": 2}' WHERE id = '"
	            DEFAULT_TENANT_ID "'", 0, NULL);
	use_tenant(DEFAULT_TENANT_ID);
	mk_cluster(DEFAULT_TENANT_ID, "one", a);
	mk_cluster(DEFAULT_TENANT_ID, "two", b);
	o = (json_object *)0x1;
	ck_assert_int_eq(store_cluster_create(A, DEFAULT_TENANT_ID, "three", "$argon2id$x", &o),
	                 STORE_QUOTA);
	ck_assert_ptr_eq(o, (json_object *)0x1);
	ck_assert_int_eq(store_tenant_usage(A, DEFAULT_TENANT_ID, &usage), STORE_OK);
	ck_assert_str_eq(jstr(usage, "clusters"), "2");
	json_object_put(usage);
	/* A deleted one no longer counts. */
	ck_assert_int_eq(store_cluster_delete(A, DEFAULT_TENANT_ID, a, NULL), STORE_OK);
	mk_cluster(DEFAULT_TENANT_ID, "three", a);
	done();
	{
		/* The quota is one the tenant's fields accept. */
		struct store_tenant_fields f = { 0 };
		const char *field = NULL;
		char why[256];
		json_object *q = json_tokener_parse("{\"max_clusters\": 3}");
		f.quotas = q;
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &field, why, sizeof(why)), 0);
		json_object_put(q);
		q = json_tokener_parse("{\"max_clusters\": 0}");
		f.quotas = q;
		ck_assert_int_eq(store_tenant_fields_check(&f, 0, &field, why, sizeof(why)), -1);
		ck_assert_str_eq(field, "quotas");
		json_object_put(q);
	}
}
END_TEST

START_TEST(test_tenancy)
{
	json_object *o = NULL;
	struct store_list l;
	char mine[UUID_STR_LEN], theirs[UUID_STR_LEN], node[UUID_STR_LEN], dev[UUID_STR_LEN];
	int online, ended = -1;

	add_tenant2();
	use_tenant(TENANT2);
	mk_cluster(TENANT2, "prod", theirs);
	use_tenant(DEFAULT_TENANT_ID);
	mk_node(TENANT2, theirs, "node-a", 1, node);
	/* The same name in another tenant is no conflict. */
	mk_cluster(DEFAULT_TENANT_ID, "prod", mine);

	ck_assert_int_eq(store_cluster_get(A, DEFAULT_TENANT_ID, theirs, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_rename(A, DEFAULT_TENANT_ID, theirs, "x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_set_secret(A, DEFAULT_TENANT_ID, theirs, "$argon2id$m", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_delete(A, DEFAULT_TENANT_ID, theirs, &ended),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(T_cluster_nodes(A, DEFAULT_TENANT_ID, theirs, NULL, NULL, &l),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_cluster_node(A, DEFAULT_TENANT_ID, theirs, "node-a", dev, &online),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(T_device_list_cluster(A, DEFAULT_TENANT_ID, theirs, NULL, NULL, NULL,
	                                           &l),
	                 STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 0);
	json_object_put(l.items);
	ck_assert_int_eq(store_cluster_list(A, DEFAULT_TENANT_ID, NULL, NULL, &l), STORE_OK);
	ck_assert_int_eq((int)json_object_array_length(l.items), 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "id"), mine);
	json_object_put(l.items);
	if (T_kind == DB_POSTGRES) {
		/* Row-level security: a query without the tenant filter sees only its own. */
		char *n = T_value(A, "SELECT count(*) FROM clusters", 0, NULL);
		ck_assert_str_eq(n, "1");
		free(n);
	}
	/* Their tenant's view is untouched. */
	use_tenant(TENANT2);
	ck_assert_int_eq(store_cluster_get(A, TENANT2, theirs, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "node_count"), "1");
	ck_assert_str_eq(jstr(o, "status"), "online");
	json_object_put(o);
	done();
	/* A node cannot be in another tenant's cluster (PostgreSQL: the foreign key on
	 * (tenant_id, cluster_id); SQLite has none: the store is the line there). */
	if (T_kind == DB_POSTGRES) {
		const char *p[1] = { theirs };
		ck_assert_int_eq(db_exec(T_db,
		                         "INSERT INTO devices (id, tenant_id, name, secret_hash, "
		                         "cluster_id, node_name) VALUES ('" NOBODY "', '"
		                         DEFAULT_TENANT_ID "', 'x', '', $1, 'n')",
		                         1, p, NULL),
		                 DB_CONSTRAINT);
	}
}
END_TEST

/* What the children of test_parallel create: one name for all, or one each. */
static int same_name;

/* A child: its own connection, waits for go, creates one cluster, writes what the store
 * said ("ok", "quota", "conflict"). */
static void child(const char *target, int go, int out)
{
	struct db *db = NULL;
	json_object *o = NULL;
	char c, name[32], line[16];
	int rc = STORE_ERR;

	if (db_open(T_driver(), target, &db) != DB_OK)
		_exit(2);
	if (same_name)
		snprintf(name, sizeof(name), "same");
	else
		snprintf(name, sizeof(name), "c-%d", (int)getpid());
	if (read(go, &c, 1) < 0)
		_exit(3);
	for (int attempt = 0; attempt < 50; attempt++) {
		int scoped = T_kind == DB_POSTGRES;
		if (scoped && db_scope_begin(db, DEFAULT_TENANT_ID, 0) != DB_OK)
			_exit(4);
		rc = store_cluster_create(db, DEFAULT_TENANT_ID, name, "$argon2id$p", &o);
		if (scoped && db_scope_end(db, rc == STORE_OK) != DB_OK && rc == STORE_OK)
			rc = STORE_BUSY;
		if (rc != STORE_BUSY)
			break;
		json_object_put(o);
		o = NULL;
		usleep(10000);
	}
	snprintf(line, sizeof(line), "%s\n",
	         rc == STORE_OK ? "ok" : rc == STORE_QUOTA ? "quota" : rc == STORE_CONFLICT ? "conflict"
	                                                                                 : "error");
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(6);
	json_object_put(o);
	db_close(db);
	_exit(0);
}

static int lines_of(const char *buf, const char *what)
{
	int n = 0;

	for (const char *p = buf; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

START_TEST(test_parallel)
{
	char buf[1024];

	/* 12 creates at once against max_clusters 5: exactly 5 get in. */
	T_run(T_db, "UPDATE tenants SET quotas = '{\"max_clusters\": 5}' WHERE id = '"
	            DEFAULT_TENANT_ID "'", 0, NULL);
	same_name = 0;
	T_parallel(12, child, buf, sizeof(buf));
	ck_assert_msg(lines_of(buf, "ok\n") == 5 && lines_of(buf, "quota\n") == 7, "%s", buf);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM clusters", 0, NULL), 5);
	/* 12 creates of one name, no quota: one gets it. */
	T_run(T_db, "UPDATE tenants SET quotas = '{}' WHERE id = '" DEFAULT_TENANT_ID "'", 0, NULL);
	same_name = 1;
	T_parallel(12, child, buf, sizeof(buf));
	ck_assert_msg(lines_of(buf, "ok\n") == 1 && lines_of(buf, "conflict\n") == 11, "%s", buf);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM clusters WHERE name = 'same'", 0, NULL),
	                 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_cluster");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_kill_session;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_crud);
	T_ADD(sq, pg, test_nodes);
	T_ADD(sq, pg, test_delete);
	T_ADD(sq, pg, test_quota_and_usage);
	T_ADD(sq, pg, test_tenancy);
	T_ADD(sq, pg, test_parallel);
	return T_main(s, sq, pg);
}
