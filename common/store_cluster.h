/* store_cluster.h: a tenant's Kubernetes clusters (sql/{pg,sqlite}/0014_clusters.sql) and
 * their nodes, which are devices (store.h) with cluster_id and node_name. Conventions as
 * store.h.
 *
 * Cluster JSON: id, name, status ("online" when at least one of its live nodes is
 * online, else "offline"), node_count (its live nodes), created_at, updated_at; both
 * derived in the query that reads it. Never the secret or its hash: the secret is made
 * by the caller (secret_random_text), shown once, and only its argon2id hash
 * (secret_hash) reaches the store, as for devices.
 *
 * Deleting is soft (deleted_at), as for devices: a deleted cluster never lists or gets
 * again, and its name is free for a new one. */
#ifndef KAIDEN_STORE_CLUSTER_H
#define KAIDEN_STORE_CLUSTER_H

#include <json-c/json.h>
#include "compat.h"
#include "ids.h"
#include "store.h"

/* STORE_QUOTA when the tenant is at its max_clusters (counted in the same transaction,
 * store_tenant.h); STORE_CONFLICT when a live cluster of the tenant has the name. */
int store_cluster_create(struct db *db, const char *tenant_id, const char *name,
                         const char *secret_hash, json_object **out) WUR;
int store_cluster_get(struct db *db, const char *tenant_id, const char *id,
                      json_object **out) WUR;
/* Newest first; q: NULL or a substring of the name (case-insensitive, % and _ taken
 * literally). */
int store_cluster_list(struct db *db, const char *tenant_id, const char *q,
                       const struct store_page *page, struct store_list *out) WUR;
/* Renames it: STORE_CONFLICT when another live cluster of the tenant has the name. */
int store_cluster_rename(struct db *db, const char *tenant_id, const char *id,
                         const char *name, json_object **out) WUR;
/* Replaces the secret's hash: the old secret no longer authenticates. */
int store_cluster_set_secret(struct db *db, const char *tenant_id, const char *id,
                             const char *secret_hash, json_object **out) WUR;
/* In one transaction: each live session (pending or active) of its nodes moves to ending
 * with a "session.end" job (store_session_end's work; *ended counts them when ended is
 * not NULL), its nodes are deleted (as store_device_delete does: helperd then drops
 * their agents) and so is the cluster. */
int store_cluster_delete(struct db *db, const char *tenant_id, const char *id,
                         int *ended) WUR;
/* Its live nodes (device JSON, as text: out->text), as store_device_list_cluster with
 * the cluster's existence checked: STORE_NOT_FOUND when the tenant has no such live
 * cluster. */
int store_cluster_nodes(struct db *db, const char *tenant_id, const char *id,
                        const char *status, const struct store_page *page,
                        struct store_list *out) WUR;
/* The device of node node_name of the tenant's live cluster cluster_id: STORE_OK with
 * its id (device_out) and *online (1 when its agent is online), STORE_NOT_FOUND when
 * the tenant has no such live cluster or the cluster no such live node. */
int store_cluster_node(struct db *db, const char *tenant_id, const char *cluster_id,
                       const char *node_name, char device_out[UUID_STR_LEN],
                       int *online) WUR;

#endif
