/* h_devices.c: /api/v1/devices. A device is a customer machine running kaiden-agent;
 * it authenticates with the secret handed out once, here, at creation. A Kubernetes
 * node is a device too (h_clusters.c): its agent authenticates with its cluster's
 * secret, and it lists with ?cluster_id=. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "jsonx.h"
#include "secret.h"
#include "store.h"
#include "store_tenant.h"

/* Longest q= filter, in bytes (the longest name is 128 characters). */
#define DEVICE_Q_MAX 512
/* One device's JSON: its labels, resources and versions are a node's facts. */
#define DEVICE_TEXT_MAX (1024 * 1024)

static const struct jsonx_field device_create_fields[] = {
	{ "name", JSONX_STRING, 1, 1, 128, 0 },
};

void h_devices_create(struct req *r, struct resp *rs)
{
	struct jsonx_error err;
	json_object *in = NULL, *device = NULL;
	char secret[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN], location[64 + UUID_STR_LEN];
	const char *id;
	int rc;

	if (jsonx_parse(r->body, r->body_len, &in, &err) < 0 ||
	    jsonx_check(in, device_create_fields, ARRAY_LEN(device_create_fields), &err) < 0) {
		resp_jsonx_error(rs, &err);
		goto out;
	}
	if (h_secret_make(r, rs, "device", secret, hash) < 0)
		goto out;
	rc = store_device_create(r->db, r->tenant_id, jsonx_str(in, "name"), hash, &device);
	if (rc == STORE_QUOTA) {
		long limit = 0;
		if (store_tenant_quota_check(r->db, r->tenant_id, QUOTA_DEVICES, &limit) !=
		    STORE_CONFLICT)
			limit = 0; /* a device was deleted meanwhile: the number is still right */
		resp_error(rs, 409, "quota_exceeded", NULL,
		           "quota max_devices reached: this tenant may have %ld devices; delete one "
		           "or ask for a higher quota",
		           limit);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		goto out;
	}
	id = jsonx_str(device, "id");
	auth_audit(r, "device.create", "device", id, NULL);
	jsonx_add_str(device, "device_id", id);
	jsonx_add_str(device, "secret", secret);
	snprintf(location, sizeof(location), "/api/v1/devices/%s", id ? id : "");
	resp_header(rs, "Location", location);
	resp_json(rs, 201, device);
	device = NULL;
out:
	json_object_put(device);
	json_object_put(in);
	/* The secret lives on only in the reply. */
	explicit_bzero(secret, sizeof(secret));
}

void h_devices_list(struct req *r, struct resp *rs)
{
	static const char *const statuses[] = { "online", "offline", NULL };
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], q[DEVICE_Q_MAX + 1], cluster[UUID_STR_LEN];
	const char *status = NULL, *bad = NULL;
	int has_q, has_cluster, rc;

	if (req_page(r, &page, cursor, &bad) < 0)
		goto bad_query;
	if (req_query_enum(r, "status", statuses, &status) < 0) {
		bad = "status";
		goto bad_query;
	}
	has_q = req_query_text(r, "q", q, sizeof(q));
	if (has_q < 0) {
		bad = "q";
		goto bad_query;
	}
	/* A cluster's nodes; another tenant's cluster (or none) lists nothing. */
	has_cluster = req_query_uuid(r, "cluster_id", cluster);
	if (has_cluster < 0) {
		bad = "cluster_id";
		goto bad_query;
	}
	memset(&list, 0, sizeof(list));
	rc = store_device_list_cluster(r->db, r->tenant_id, has_cluster ? cluster : NULL, status,
	                               has_q ? q : NULL, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad,
	           strcmp(bad, "limit") == 0    ? "must be a whole number from 1 to 200"
	           : strcmp(bad, "cursor") == 0 ? "must be the next_cursor of a previous page"
	           : strcmp(bad, "status") == 0 ? "must be online or offline"
	           : strcmp(bad, "cluster_id") == 0 ? "must be a cluster id"
	                                        : "must be text of at most 512 bytes without "
	                                          "control characters");
}

void h_device_get(struct req *r, struct resp *rs)
{
	struct buf device;
	int rc;

	/* Written as text straight from the row: no object to make and serialize. */
	buf_init(&device, DEVICE_TEXT_MAX);
	rc = store_device_get_text(r->db, r->tenant_id, r->params[0], &device);
	if (rc != STORE_OK) {
		buf_clear(&device);
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		return;
	}
	resp_text(rs, 200, &device);
}

void h_device_delete(struct req *r, struct resp *rs)
{
	int rc = store_device_delete(r->db, r->tenant_id, r->params[0]);

	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "device_busy", NULL,
		           "the device has a live session; end it first");
		return;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		return;
	}
	auth_audit(r, "device.delete", "device", r->params[0], NULL);
	resp_json(rs, 204, NULL);
}

/* A new secret for a standalone device, shown once, as at create. A node's agent
 * authenticates with its cluster's secret (its own hash admits nothing), so a node is
 * refused with 409 cluster_node: rotate the cluster's. Agents connected with the old
 * secret stay until they reconnect, as with a cluster; their tickets are refused from
 * now on (the new hash bumps secret_version). The device is read before the secret is
 * made: an unknown device or a node costs no argon2id. */
static void node_refused(struct resp *rs, const char *cluster)
{
	resp_error(rs, 409, "cluster_node", NULL,
	           "this device is a node of a cluster: its agent authenticates with the "
	           "cluster's secret; rotate that instead (POST /api/v1/clusters/%s/"
	           "rotate-secret)",
	           cluster ? cluster : "{cluster_id}");
}

void h_device_rotate(struct req *r, struct resp *rs)
{
	json_object *device = NULL;
	char secret[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN];
	const char *cluster;
	int rc;

	secret[0] = '\0';
	rc = store_device_get(r->db, r->tenant_id, r->params[0], &device);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		goto out;
	}
	cluster = jsonx_str(device, "cluster_id");
	if (cluster) {
		node_refused(rs, cluster);
		goto out;
	}
	json_object_put(device);
	device = NULL;
	if (h_secret_make(r, rs, "device", secret, hash) < 0)
		goto out;
	/* STORE_CONFLICT still: a node made of it meanwhile (the statement checks again). */
	rc = store_device_set_secret(r->db, r->tenant_id, r->params[0], hash, &device);
	if (rc == STORE_CONFLICT) {
		node_refused(rs, NULL);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "device");
		goto out;
	}
	auth_audit(r, "device.rotate_secret", "device", r->params[0], NULL);
	jsonx_add_str(device, "secret", secret);
	resp_json(rs, 200, device);
	device = NULL;
out:
	explicit_bzero(secret, sizeof(secret));
	json_object_put(device);
}
