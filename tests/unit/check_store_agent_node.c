/* check_store_agent_node.c: agents in cluster mode in the store (store_agent.h, cluster
 * part: store_agent_node.c), the same cases on SQLite and on PostgreSQL: the cluster's
 * credentials (deleted clusters and suspended tenants gone), a node's device found or
 * made (stable across joins, unique per live (cluster, name), a new one after a delete,
 * never another tenant's cluster, neither refused by nor counted in max_devices, one
 * device when twelve hellos race), and the node's readings stored (a failure keeps the
 * last good values). */
#include <sys/wait.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "secret.h"
#include "store.h"
#include "store_agent.h"
#include "store_cluster.h"
#include "testdb.h"

static void mk_cluster(const char *tenant, const char *name, char id[UUID_STR_LEN])
{
	json_object *o = NULL;

	ck_assert_int_eq(store_cluster_create(T_db, tenant, name, "$argon2id$cluster-hash", &o),
	                 STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

START_TEST(test_cluster_auth)
{
	struct store_agent_auth a;
	char cluster[UUID_STR_LEN], other[UUID_STR_LEN];
	const char *p[1] = { TENANT2 };

	mk_cluster(DEFAULT_TENANT_ID, "prod", cluster);
	memset(&a, 0x55, sizeof(a));
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, cluster, &a), STORE_OK);
	ck_assert_str_eq(a.tenant_id, DEFAULT_TENANT_ID);
	ck_assert_str_eq(a.secret_hash, "$argon2id$cluster-hash");
	ck_assert_int_eq(a.gone, 0);
	ck_assert_int_eq(a.suspended, 0);
	/* Unknown and malformed ids; a device's id is no cluster's. */
	memset(&a, 0x55, sizeof(a));
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, NOBODY, &a), STORE_NOT_FOUND);
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, "nope", &a), STORE_NOT_FOUND);
	ck_assert_int_eq((unsigned char)a.tenant_id[0], 0x55);
	/* Deleted: found, but gone. */
	ck_assert_int_eq(store_cluster_delete(T_db, DEFAULT_TENANT_ID, cluster, NULL), STORE_OK);
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, cluster, &a), STORE_OK);
	ck_assert_int_eq(a.gone, 1);
	ck_assert_int_eq(a.suspended, 0);
	/* A suspended tenant's cluster is gone, and says why. */
	add_tenant2();
	mk_cluster(TENANT2, "t2", other);
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, other, &a), STORE_OK);
	ck_assert_str_eq(a.tenant_id, TENANT2);
	ck_assert_int_eq(a.gone, 0);
	T_run(T_db, "UPDATE tenants SET status = 'suspended' WHERE id = $1", 1, p);
	ck_assert_int_eq(store_agent_cluster_auth_get(T_db, other, &a), STORE_OK);
	ck_assert_int_eq(a.gone, 1);
	ck_assert_int_eq(a.suspended, 1);
}
END_TEST

START_TEST(test_node_join)
{
	char cluster[UUID_STR_LEN], other[UUID_STR_LEN], d1[UUID_STR_LEN], d2[UUID_STR_LEN];
	char d3[UUID_STR_LEN], again[UUID_STR_LEN];
	struct store_agent_auth a;
	json_object *o = NULL;
	int created = -1;

	mk_cluster(DEFAULT_TENANT_ID, "prod", cluster);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-1", d1,
	                                       &created),
	                 STORE_OK);
	ck_assert(ids_is_uuid(d1));
	ck_assert_int_eq(created, 1);
	/* A node's device: named as the node, offline until its agent is welcomed, in the
	 * cluster, with no secret that could ever verify. */
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, d1, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "worker-1");
	ck_assert_str_eq(jstr(o, "status"), "offline");
	ck_assert_str_eq(jstr(o, "cluster_id"), cluster);
	ck_assert_str_eq(jstr(o, "node_name"), "worker-1");
	json_object_put(o);
	ck_assert_int_eq(store_agent_auth_get(T_db, d1, &a), STORE_OK);
	ck_assert_int_eq(secret_verify(a.secret_hash, ""), 0);
	ck_assert_int_eq(secret_verify(a.secret_hash, "!cluster"), 0);
	/* The same node again (a pod restart): the same device. */
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-1", again,
	                                       &created),
	                 STORE_OK);
	ck_assert_str_eq(again, d1);
	ck_assert_int_eq(created, 0);
	/* Another node: another device; the cluster counts both. */
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-2", d2,
	                                       NULL),
	                 STORE_OK);
	ck_assert_str_ne(d2, d1);
	ck_assert_int_eq(store_cluster_get(T_db, DEFAULT_TENANT_ID, cluster, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "node_count"), "2");
	json_object_put(o);
	/* Its device deleted, the name comes back as a new device. */
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, d1), STORE_OK);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-1", d3,
	                                       &created),
	                 STORE_OK);
	ck_assert_str_ne(d3, d1);
	ck_assert_int_eq(created, 1);
	/* max_devices does not refuse a node (its cluster brought it). */
	T_run(T_db, "UPDATE tenants SET quotas = '{\"max_devices\": 1}' WHERE id = '"
	            DEFAULT_TENANT_ID "'", 0, NULL);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-3", again,
	                                       &created),
	                 STORE_OK);
	ck_assert_int_eq(created, 1);
	/* Nor do its nodes fill max_devices: one standalone machine still fits, a second
	 * does not. */
	ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "laptop", "$argon2id$h", &o),
	                 STORE_OK);
	json_object_put(o);
	o = NULL;
	ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "laptop2", "$argon2id$h", &o),
	                 STORE_QUOTA);
	/* Another tenant's cluster, an unknown one, a bad id: not found, nothing made. */
	add_tenant2();
	mk_cluster(TENANT2, "theirs", other);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, other, "worker-1", again,
	                                       NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, NOBODY, "worker-1", again,
	                                       NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, "x", "worker-1", again,
	                                       NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices d JOIN clusters c ON c.id = "
	                               "d.cluster_id WHERE c.name = 'theirs'",
	                         0, NULL),
	                 0);
	/* A deleted cluster takes no node. */
	ck_assert_int_eq(store_cluster_delete(T_db, DEFAULT_TENANT_ID, cluster, NULL), STORE_OK);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-9", again,
	                                       NULL),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE node_name = 'worker-9'",
	                         0, NULL),
	                 0);
}
END_TEST

static const char *race_cluster;

/* A helperd's hello for node "racer": writes its device id. */
static void join_child(const char *target, int go, int out)
{
	struct db *db = NULL;
	char c, id[UUID_STR_LEN], line[64];
	int rc = STORE_ERR;

	if (db_open(T_driver(), target, &db) != DB_OK)
		_exit(2);
	/* helperd's connection: row-level security's staff switch (helperd/main.c). */
	if (T_kind == DB_POSTGRES && db_session_set(db, "kaiden.staff", "on") != DB_OK)
		_exit(4);
	if (read(go, &c, 1) < 0)
		_exit(3);
	for (int attempt = 0; attempt < 50; attempt++) {
		rc = store_agent_node_join(db, DEFAULT_TENANT_ID, race_cluster, "racer", id, NULL);
		if (rc != STORE_BUSY)
			break;
		usleep(10000);
	}
	snprintf(line, sizeof(line), "%s\n", rc == STORE_OK ? id : "error");
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(6);
	db_close(db);
	_exit(0);
}

START_TEST(test_node_join_race)
{
	char cluster[UUID_STR_LEN], buf[2048], first[UUID_STR_LEN + 1];
	char *line, *save = NULL;
	int n = 0;

	mk_cluster(DEFAULT_TENANT_ID, "prod", cluster);
	race_cluster = cluster;
	T_parallel(12, join_child, buf, sizeof(buf));
	snprintf(first, sizeof(first), "%.36s", buf);
	ck_assert_msg(ids_is_uuid(first), "%s", buf);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ck_assert_str_eq(line, first);
		n++;
	}
	ck_assert_int_eq(n, 12);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE node_name = 'racer'",
	                         0, NULL),
	                 1);
}
END_TEST

START_TEST(test_node_report)
{
	char cluster[UUID_STR_LEN], node[UUID_STR_LEN], dev[UUID_STR_LEN];
	json_object *o = NULL, *d = NULL, *v;
	struct store_agent_node good = {
		.labels = "{\"kubernetes.io/hostname\":\"worker-1\",\"zone\":\"a\"}",
		.node_status = "Ready",
		.unschedulable = 0,
		.resources = "{\"cpu_capacity_m\":4000,\"capacity\":{\"cpu\":\"4\"}}",
		.versions = "{\"kubelet\":\"v1.30.2\"}",
	};
	struct store_agent_node failed = { .reason = "403 Forbidden: nodes is forbidden" };

	mk_cluster(DEFAULT_TENANT_ID, "prod", cluster);
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cluster, "worker-1", node,
	                                       NULL),
	                 STORE_OK);
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &good), STORE_OK);
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, node, &d), STORE_OK);
	ck_assert_str_eq(jstr(d, "node_status"), "Ready");
	ck_assert(json_object_object_get_ex(d, "labels", &v) &&
	          json_object_is_type(v, json_type_object));
	ck_assert_str_eq(jstr(v, "zone"), "a");
	ck_assert(json_object_object_get_ex(d, "unschedulable", &v) &&
	          json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(d, "resources", &v));
	ck_assert_str_eq(jstr(v, "cpu_capacity_m"), "4000");
	ck_assert(json_object_object_get_ex(d, "versions", &v));
	ck_assert_str_eq(jstr(v, "kubelet"), "v1.30.2");
	ck_assert_ptr_null(jstr(d, "node_reason"));
	ck_assert_ptr_nonnull(jstr(d, "node_updated_at"));
	json_object_put(d);
	/* A failure: the reason beside the last good values. */
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &failed), STORE_OK);
	T_want_device_col("node_reason", node, "403 Forbidden: nodes is forbidden");
	T_want_device_col("node_status", node, "Ready");
	/* Good again: the reason goes; unschedulable and NotReady are stored. */
	good.node_status = "NotReady";
	good.unschedulable = 1;
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &good), STORE_OK);
	T_want_device_col("node_reason", node, NULL);
	T_want_device_col("node_status", node, "NotReady");
	ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, node, &d), STORE_OK);
	ck_assert(json_object_object_get_ex(d, "unschedulable", &v) && json_object_get_boolean(v));
	json_object_put(d);
	/* A node's os is its reading's (os_image; Linux kernel), never the agent's
	 * container's from its hello; a reading without os_image keeps it. */
	T_want_device_col("os", node, NULL);
	good.versions = "{\"kubelet\":\"v1.30.2\",\"os_image\":\"Ubuntu 24.04.1 LTS\","
	                "\"kernel\":\"6.8.0-45-generic\"}";
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &good), STORE_OK);
	T_want_device_col("os", node, "Ubuntu 24.04.1 LTS; Linux 6.8.0-45-generic");
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, node, "t",
	                                    &(struct store_agent_facts){
	                                            .hostname = "kaiden-agent-x7k2p",
	                                            .os = "Debian GNU/Linux 12 (bookworm)" }),
	                 STORE_OK);
	T_want_device_col("os", node, "Ubuntu 24.04.1 LTS; Linux 6.8.0-45-generic");
	T_want_device_col("hostname", node, "kaiden-agent-x7k2p");
	good.versions = "{\"kubelet\":\"v1.30.2\"}";
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &good), STORE_OK);
	T_want_device_col("os", node, "Ubuntu 24.04.1 LTS; Linux 6.8.0-45-generic");
	/* Not a node, another tenant's, a deleted node: not found, nothing written. */
	ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "plain", "$argon2id$h", &o),
	                 STORE_OK);
	snprintf(dev, sizeof(dev), "%s", jstr(o, "id"));
	json_object_put(o);
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, dev, &good),
	                 STORE_NOT_FOUND);
	T_want_device_col("node_status", dev, NULL);
	add_tenant2();
	ck_assert_int_eq(store_agent_node_report(T_db, TENANT2, node, &good), STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, node), STORE_OK);
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, node, &failed),
	                 STORE_NOT_FOUND);
	/* A reading without its values is the caller's bug. */
	ck_assert_int_eq(store_agent_node_report(T_db, DEFAULT_TENANT_ID, dev,
	                                         &(struct store_agent_node){ 0 }),
	                 STORE_ERR);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_agent_node");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_kill_session;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_cluster_auth);
	T_ADD(sq, pg, test_node_join);
	T_ADD(sq, pg, test_node_join_race);
	T_ADD(sq, pg, test_node_report);
	return T_main(s, sq, pg);
}
