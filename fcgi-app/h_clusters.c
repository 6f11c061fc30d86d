/* h_clusters.c: /api/v1/clusters. A cluster is a tenant's Kubernetes cluster; its agents
 * (a DaemonSet, one per node) authenticate with the cluster's secret, and each node is a
 * device (GET /clusters/{id}/nodes, GET /devices?cluster_id=).
 *
 * The secret is made here, shown once (create and rotate-secret), and only its argon2id
 * hash is stored (store_cluster.h), as a device's: it is never returned again, never
 * logged, never audited. Create also answers with the install snippet: the Kubernetes
 * Secret the agents read (namespace kaiden-system, name kaiden-credentials) and the
 * kubectl line that applies it. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "jsonx.h"
#include "secret.h"
#include "store.h"
#include "store_cluster.h"
#include "store_tenant.h"

/* Longest q= filter, in bytes (the longest name is 128 characters). */
#define CLUSTER_Q_MAX 512
#define INSTALL_FILE "kaiden-credentials.yaml"

static const struct jsonx_field cluster_fields[] = {
	{ "name", JSONX_STRING, 1, 1, 128, 0 },
};

/* s as a YAML double-quoted scalar: JSON's string syntax is a subset of it. */
static int yaml_quoted(struct buf *b, const char *s)
{
	json_object *j = json_object_new_string(s ? s : "");
	int rc = j ? buf_puts(b, json_object_to_json_string_ext(j, JSON_C_TO_STRING_NOSLASHESCAPE))
	           : -1;

	json_object_put(j);
	return rc;
}

/* The install snippet (owned text), or NULL when out of memory: the Secret manifest the
 * DaemonSet's agents read their credentials from, and how to apply it. */
static char *install_snippet(const char *cluster_id, const char *secret, const char *server)
{
	struct buf b;

	buf_init(&b, 1024);
	if (buf_puts(&b, "# Save as " INSTALL_FILE " and apply it: kubectl apply -f " INSTALL_FILE
	                 "\n# (the kaiden-system namespace must exist: the agent's manifests "
	                 "create it)\napiVersion: v1\nkind: Secret\nmetadata:\n  name: "
	                 "kaiden-credentials\n  namespace: kaiden-system\ntype: Opaque\n"
	                 "stringData:\n  cluster_id: ") != 0 ||
	    yaml_quoted(&b, cluster_id) != 0 || buf_puts(&b, "\n  secret: ") != 0 ||
	    yaml_quoted(&b, secret) != 0 || buf_puts(&b, "\n  server: ") != 0 ||
	    yaml_quoted(&b, server) != 0 || buf_puts(&b, "\n") != 0) {
		buf_clear(&b);
		return NULL;
	}
	return buf_take(&b);
}

static void name_taken(struct resp *rs)
{
	resp_error(rs, 409, "name_taken", "name",
	           "name: this tenant has a cluster of that name already; choose another");
}

void h_clusters_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *cluster = NULL;
	char secret[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN], location[64 + UUID_STR_LEN];
	char *install = NULL;
	const char *id;
	int rc;

	secret[0] = '\0';
	if (h_body_object(r, rs, cluster_fields, ARRAY_LEN(cluster_fields), &in) < 0)
		goto out;
	if (h_secret_make(r, rs, "cluster", secret, hash) < 0)
		goto out;
	rc = store_cluster_create(r->db, r->tenant_id, jsonx_str(in, "name"), hash, &cluster);
	if (rc == STORE_QUOTA) {
		long limit = 0;
		if (store_tenant_quota_check(r->db, r->tenant_id, QUOTA_CLUSTERS, &limit) !=
		    STORE_CONFLICT)
			limit = 0; /* a cluster was deleted meanwhile: the number is still right */
		resp_error(rs, 409, "quota_exceeded", NULL,
		           "quota max_clusters reached: this tenant may have %ld clusters; delete "
		           "one or ask for a higher quota",
		           limit);
		goto out;
	}
	if (rc == STORE_CONFLICT) {
		name_taken(rs);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		goto out;
	}
	id = jsonx_str(cluster, "id");
	install = install_snippet(id, secret, h_server_url(r));
	if (!install) {
		resp_error(rs, 500, "internal", NULL, "out of memory");
		goto out;
	}
	auth_audit(r, "cluster.create", "cluster", id, NULL);
	jsonx_add_str(cluster, "secret", secret);
	jsonx_add_str(cluster, "install", install);
	jsonx_add_str(cluster, "install_command", "kubectl apply -f " INSTALL_FILE);
	snprintf(location, sizeof(location), "/api/v1/clusters/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, cluster);
	cluster = NULL;
out:
	if (install) {
		explicit_bzero(install, strlen(install));
		free(install);
	}
	json_object_put(cluster);
	json_object_put(in);
	/* The secret lives on only in the reply. */
	explicit_bzero(secret, sizeof(secret));
}

void h_clusters_list(struct req *r, struct resp *rs)
{
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], q[CLUSTER_Q_MAX + 1];
	int has_q, rc;

	if (h_page(r, rs, &page, cursor) < 0)
		return;
	has_q = req_query_text(r, "q", q, sizeof(q));
	if (has_q < 0) {
		resp_error(rs, 400, "invalid_query", "q",
		           "q: must be text of at most 512 bytes without control characters");
		return;
	}
	memset(&list, 0, sizeof(list));
	rc = store_cluster_list(r->db, r->tenant_id, has_q ? q : NULL, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster list");
		return;
	}
	resp_list(rs, &list);
}

void h_cluster_get(struct req *r, struct resp *rs)
{
	json_object *cluster = NULL;
	int rc = store_cluster_get(r->db, r->tenant_id, r->params[0], &cluster);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		return;
	}
	resp_json(rs, 200, cluster);
}

void h_cluster_patch(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *cluster = NULL;
	int rc;

	if (h_body_object(r, rs, cluster_fields, ARRAY_LEN(cluster_fields), &in) < 0)
		return;
	rc = store_cluster_rename(r->db, r->tenant_id, r->params[0], jsonx_str(in, "name"),
	                          &cluster);
	if (rc == STORE_CONFLICT) {
		name_taken(rs);
	} else if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
	} else {
		json_object *details = json_object_new_object();
		if (details)
			jsonx_add_str(details, "name", jsonx_str(in, "name"));
		auth_audit(r, "cluster.update", "cluster", r->params[0], details);
		json_object_put(details);
		resp_json(rs, 200, cluster);
	}
	json_object_put(in);
}

void h_cluster_delete(struct req *r, struct resp *rs)
{
	int ended = 0, rc = store_cluster_delete(r->db, r->tenant_id, r->params[0], &ended);
	json_object *details;

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		return;
	}
	details = json_object_new_object();
	if (details)
		json_object_object_add(details, "sessions_ended", json_object_new_int(ended));
	auth_audit(r, "cluster.delete", "cluster", r->params[0], details);
	json_object_put(details);
	resp_json(rs, 204, NULL);
}

void h_cluster_nodes(struct req *r, struct resp *rs)
{
	static const char *const statuses[] = { "online", "offline", NULL };
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN];
	const char *status = NULL;
	int rc;

	if (h_page(r, rs, &page, cursor) < 0)
		return;
	if (req_query_enum(r, "status", statuses, &status) < 0) {
		resp_error(rs, 400, "invalid_query", "status", "status: must be online or offline");
		return;
	}
	memset(&list, 0, sizeof(list));
	rc = store_cluster_nodes(r->db, r->tenant_id, r->params[0], status, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		return;
	}
	resp_list(rs, &list);
}

void h_cluster_rotate(struct req *r, struct resp *rs)
{
	json_object *cluster = NULL;
	char secret[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN];
	int rc;

	secret[0] = '\0';
	if (h_secret_make(r, rs, "cluster", secret, hash) < 0)
		goto out;
	rc = store_cluster_set_secret(r->db, r->tenant_id, r->params[0], hash, &cluster);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "cluster");
		goto out;
	}
	auth_audit(r, "cluster.rotate_secret", "cluster", r->params[0], NULL);
	jsonx_add_str(cluster, "secret", secret);
	resp_json(rs, 200, cluster);
	cluster = NULL;
out:
	explicit_bzero(secret, sizeof(secret));
	json_object_put(cluster);
}
