/* store_tenant.h: tenants (customer organisations), their usage and quotas. The
 * export/import of one tenant's rows is store_archive.h. Conventions as store.h.
 *
 * Tenant JSON: id, code, name, status ("active" | "suspended" | "trial"), plan ("trial" |
 * "basic" | "pro" | "enterprise"), settings (object), quotas (object: max_devices,
 * max_concurrent_sessions, max_open_tickets, max_clusters, each a positive integer or
 * absent = unlimited), trial_ends_at,
 * created_at, updated_at.
 *
 * A suspended tenant's users cannot log in, its tokens are refused, and helperd refuses
 * its agents (store_agent's device lookup reports the tenant's status). */
#ifndef KAIDEN_STORE_TENANT_H
#define KAIDEN_STORE_TENANT_H

#include <json-c/json.h>
#include "compat.h"
#include "store.h"

struct store_tenant_fields {
	const char *code;          /* [a-z0-9][a-z0-9-]{1,62}: a DNS label (subdomain) */
	const char *name;
	const char *status;        /* NULL: unchanged (create: "active") */
	const char *plan;          /* NULL: unchanged (create: "trial") */
	json_object *settings;     /* borrowed; NULL: unchanged (create: {}) */
	json_object *quotas;       /* borrowed; NULL: unchanged (create: {}) */
	const char *trial_ends_at; /* RFC 3339; "" clears; NULL: unchanged */
};

/* Checks f as store_tenant_create (create 1: code and name required) or
 * store_tenant_update (create 0) would, before any database work: the code is a DNS
 * label, status and plan are known, settings is an object, quotas holds only
 * max_devices / max_concurrent_sessions / max_open_tickets / max_clusters as positive
 * integers, trial_ends_at is RFC 3339
 * or "". 0, or -1 with *field (the member at fault) and why (a sentence naming it)
 * filled. create/update refuse such fields with STORE_ERR. */
int store_tenant_fields_check(const struct store_tenant_fields *f, int create,
                              const char **field, char *why, size_t whylen) WUR;

/* 1 when code is a tenant code: a DNS label of 2..63, [a-z0-9][a-z0-9-]*, not ending
 * in '-'; else 0. */
int store_tenant_code_valid(const char *code);

/* STORE_CONFLICT: the code is taken. */
int store_tenant_create(struct db *db, const struct store_tenant_fields *f,
                        json_object **out) WUR;
int store_tenant_get(struct db *db, const char *id, json_object **out) WUR;
/* By code (case-insensitive): STORE_OK with the id, STORE_NOT_FOUND. Reads across
 * tenants (login, subdomains): a SECURITY DEFINER function on PostgreSQL. */
int store_tenant_by_code(struct db *db, const char *code, char id_out[UUID_STR_LEN]) WUR;
/* status: NULL or one of the statuses; q: NULL or a substring of code or name. */
int store_tenant_list(struct db *db, const char *status, const char *q,
                      const struct store_page *page, struct store_list *out) WUR;
/* STORE_CONFLICT: the code is taken. Changing the default tenant's code or status is
 * STORE_CONFLICT too. */
int store_tenant_update(struct db *db, const char *id, const struct store_tenant_fields *f,
                        json_object **out) WUR;
/* Deletes the tenant and every row of it, in one transaction; its audit log entries
 * stay (they outlive their tenant, and on PostgreSQL the application may not delete
 * them). STORE_CONFLICT for the default tenant or while it has sessions that are not
 * ended or failed. */
int store_tenant_delete(struct db *db, const char *id) WUR;

/* Usage JSON: devices, devices_online, clusters (live), sessions_active
 * (pending/active/ending), open_tickets (open/in_progress), sessions_this_month, session_minutes_this_month, relay_bytes_in_this_month and
 * relay_bytes_out_this_month (sessions.bytes_in / bytes_out summed over the sessions
 * started this month), services (not deleted), users, storage_bytes (the size of its rows as an export would
 * hold them), quotas (as the tenant JSON has them). */
int store_tenant_usage(struct db *db, const char *id, json_object **out) WUR;

/* max_devices counts standalone devices (not a cluster's nodes, which come with their
 * cluster: store_agent_node_join); max_concurrent_sessions
 * sessions pending, active or ending; max_open_tickets tickets open or in_progress
 * (STORE_SQL_TICKET_OPEN); max_clusters live clusters. */
/* max_services the cloud services not deleted (50 when the quotas leave it out: the
 * only quota with a default). */
enum store_quota { QUOTA_DEVICES, QUOTA_CONCURRENT_SESSIONS, QUOTA_OPEN_TICKETS, QUOTA_CLUSTERS,
	           QUOTA_SERVICES };
/* STORE_OK when one more fits; STORE_CONFLICT when the tenant is at its quota (*limit
 * gets the quota). Call inside the transaction that adds the row. */
int store_tenant_quota_check(struct db *db, const char *id, enum store_quota q,
                             long *limit) WUR;
/* Opens the transaction that adds a row q counts, and counts it first: STORE_OK with the
 * transaction open, or (rolled back) STORE_QUOTA when the tenant is at its quota, or the
 * error. tenant: an id checked by store_id. */
int store_tenant_quota_begin(struct db *db, const char *tenant, enum store_quota q) WUR;

#endif
