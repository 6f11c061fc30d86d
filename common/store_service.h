/* store_service.h: cloud services (sql/{pg,sqlite}/0016_services.sql), the Helm releases a
 * tenant launches from the catalog, and their revisions. Conventions as store.h: every
 * function takes the tenant it acts for, out-parameters are written only on STORE_OK,
 * functions that write open and close their own transaction (call them with none open).
 *
 * Who calls what. kaiden-api writes a service and the job that acts on it in one
 * transaction (store_service_create, store_service_queue) and never runs helm; helperd
 * claims the job (store_jobs_claim: one operation per service at a time), reads what it
 * needs (store_service_work), and writes back what happened (store_service_report,
 * store_service_revision_put). docs/decisions.md "Issue 13: services, the plan".
 *
 * op_seq. Each operation the API queues adds one to the service's op_seq and queues its
 * job with the new value (struct store_job.op_seq). helperd reports with the op_seq of
 * the job it runs: a report whose op_seq is not the service's (a DELETE superseded the
 * upgrade it ran) changes nothing and answers STORE_CONFLICT, and the job is dropped.
 *
 * Statuses (enum service_status; the text in the database, the API and the logs):
 *
 *   create ──> pending ──(helperd)──> deploying ──> running | failed
 *   running|failed ──PATCH / domain / a verify that moves it──> upgrading ──> running | failed
 *     (a failed service with no revision yet goes to deploying: it installs again)
 *   running|failed ──rollback {revision}──> rolling_back ──> running | failed
 *   any but deleting|deleted ──DELETE──> deleting ──(helperd)──> deleted
 *
 * Anything else while an operation runs is STORE_CONFLICT (the API's 409 service_busy
 * naming the status). A deleted service's row stays as history (GET shows it; lists
 * leave it out unless asked for status=deleted); its reference_id, subdomain and custom
 * domain are free again.
 *
 * Secrets. The secret values are one sealed JSON object (values_seal.h) in
 * secret_values; secret_names lists the paths that are set (what the API shows as "set"
 * without the key). Only store_service_work hands the sealed text out, for helperd to
 * open. No other result of this module holds it.
 *
 * Service JSON (what the API shows; owned by the caller): id, name, reference_id,
 * template (the template's slug), template_id, template_name, subdomain, custom_domain
 * (null or the name), domain_status ("unverified" | "verified"), domain_checked_at,
 * chart_version, storage_size (null or "8Gi"), values (object: the plain values),
 * secret_names (array of paths),
 * status, error, helm_release, namespace, revision (0 until the first success),
 * rollback_to (null or the revision a queued rollback goes to), pods_ready, pods_total,
 * op_seq, created_at, updated_at, deployed_at, deleted_at. */
#ifndef KAIDEN_STORE_SERVICE_H
#define KAIDEN_STORE_SERVICE_H

#include <json-c/json.h>
#include "compat.h"
#include "seam.h"
#include "store.h"

/* cloud_services.status. */
enum service_status {
	SERVICE_PENDING,
	SERVICE_DEPLOYING,
	SERVICE_RUNNING,
	SERVICE_FAILED,
	SERVICE_UPGRADING,
	SERVICE_ROLLING_BACK,
	SERVICE_DELETING,
	SERVICE_DELETED,
	SERVICE__MAX
};
/* Indexed by enum service_status, ended by NULL (req_query_enum takes it whole). */
extern const char *const service_statuses[SERVICE__MAX + 1];
const char *service_status_name(enum service_status s);
/* 0 and *out, or -1 for a text that is no status. */
int service_status_parse(const char *text, enum service_status *out) WUR;

/* Why a write was refused (STORE_CONFLICT, some STORE_NOT_FOUND): field names the API's
 * member ("reference_id", "subdomain", "custom_domain", "template", "revision",
 * "status"), text a sentence without secrets. */
struct store_service_why {
	char field[32];
	char text[200];
};

/* ---- kaiden-api ------------------------------------------------------------------- */

struct store_service_new {
	const char *template_id;   /* an enabled template's id (the caller resolved the slug) */
	const char *name;          /* 1..100 characters */
	const char *reference_id;  /* a DNS label */
	const char *subdomain;     /* a DNS label (the caller refused the reserved ones) */
	const char *chart_version; /* the template's pinned version */
	json_object *values;       /* borrowed: the plain values, checked (values_schema) */
	const char *secret_values; /* NULL, or the sealed object of the secret values */
	json_object *secret_names; /* borrowed: array of the paths secret_values holds */
	const char *storage_size;  /* NULL (the template's default), or a quantity the caller
	                              checked ("8Gi") */
};
/* Inserts the service (pending, op_seq 1) and its "service.install" job in one
 * transaction. namespace is paas-ws-<tenant code>, helm_release
 * paas-ws-<tenant code>-<reference_id>. STORE_QUOTA at max_services (counted in the
 * transaction); STORE_CONFLICT with why: the tenant has a live service with the
 * reference_id, the subdomain is a live service's (any tenant's), or the release name
 * would be longer than 53 (why->field "reference_id"); STORE_NOT_FOUND when there is no
 * such template. */
int store_service_create(struct db *db, const char *tenant_id,
                         const struct store_service_new *s, json_object **out,
                         struct store_service_why *why) WUR;
/* The service (deleted ones too). */
int store_service_get(struct db *db, const char *tenant_id, const char *id,
                      json_object **out) WUR;

struct store_service_filter {
	const char *status;   /* NULL: every status but deleted; else exactly one */
	const char *template; /* NULL, or a template's slug */
	const char *q;        /* NULL, or a substring of name, reference_id or subdomain */
};
/* Newest first, by cursor. f may be NULL. */
int store_service_list(struct db *db, const char *tenant_id,
                       const struct store_service_filter *f, const struct store_page *page,
                       struct store_list *out) WUR;

/* The operations the API queues (each a status change, op_seq + 1 and a job). */
enum service_op {
	SERVICE_OP_UPGRADE,   /* values, secrets, chart_version or the domain changed */
	SERVICE_OP_ROLLBACK,  /* to change->revision */
	SERVICE_OP_UNINSTALL, /* DELETE */
};
/* What an operation changes. NULL / 0 members leave the column as it is. */
struct store_service_change {
	const char *name;          /* a rename alone queues nothing: store_service_rename */
	json_object *values;       /* borrowed: the new plain values (whole) */
	int set_secrets;           /* 1: secret_values and secret_names below replace them */
	const char *secret_values; /* with set_secrets: sealed object, or NULL for none */
	json_object *secret_names; /* with set_secrets: borrowed array */
	const char *chart_version;
	int set_storage;           /* 1: storage_size below replaces it; refused (STORE_CONFLICT,
	                              why->field "storage_size") once the service has a
	                              revision: its volume exists */
	const char *storage_size;  /* with set_storage: a checked quantity, or NULL */
	int set_domain;            /* 1: custom_domain below replaces it (domain_status goes
	                              back to unverified, domain_checked_at NULL) */
	const char *custom_domain; /* with set_domain: a DNS name, or NULL to remove it */
	const char *domain_status; /* a look-up's answer that moves the custom domain in or
	                              out of the chart ("verified" | "unverified";
	                              domain_checked_at = now): store_service_domain_result */
	int revision;              /* SERVICE_OP_ROLLBACK: the revision to go back to */
};
/* In one transaction: checks the status allows op (the diagram above), applies change,
 * moves the status (upgrade: upgrading, or deploying when there is no revision yet;
 * rollback: rolling_back with rollback_to; uninstall: deleting), op_seq + 1, and queues
 * the job with the new op_seq. expect_op_seq > 0: refused (STORE_CONFLICT, why->field
 * "op_seq") unless the service's op_seq is still that one, for a caller that read the
 * service (its sealed secrets) before deciding the change. STORE_CONFLICT with why:
 * the status forbids it (field "status", the text names the status), the revision is
 * not one of the service's or is the current one (field "revision"), the custom domain
 * is a live service's (field "custom_domain"). STORE_NOT_FOUND: no such service, or it
 * is deleted. *out is the service after the change. */
int store_service_queue(struct db *db, const char *tenant_id, const char *id,
                        enum service_op op, const struct store_service_change *change,
                        long long expect_op_seq, json_object **out,
                        struct store_service_why *why) WUR;
/* Renames it (any status but deleted; no job). */
int store_service_rename(struct db *db, const char *tenant_id, const char *id,
                         const char *name, json_object **out) WUR;
/* Claims the right to look the custom domain up now: STORE_OK (domain_checked_at set to
 * now) when the service has a custom domain and the last look-up is at least
 * min_interval seconds old; STORE_BUSY when it is not (*retry_after: seconds left);
 * STORE_CONFLICT when there is no custom domain; STORE_NOT_FOUND. *domain_out (NULL or
 * 254 bytes) gets the domain. */
int store_service_domain_claim(struct db *db, const char *tenant_id, const char *id,
                               int min_interval, char *domain_out, int *retry_after) WUR;
/* Stores the look-up's answer, only if the custom domain is still domain (a change in
 * between: STORE_CONFLICT). An answer that moves domain_status (unverified <-> verified)
 * moves the domain in or out of the chart's values, so it is an upgrade
 * (store_service_queue with change->domain_status, in the same transaction): refused
 * like any upgrade while an operation runs (STORE_CONFLICT, why->field "status"), and
 * *queued is 1. An answer that moves nothing only stores the time (*queued 0). */
int store_service_domain_result(struct db *db, const char *tenant_id, const char *id,
                                const char *domain, int verified, json_object **out,
                                int *queued, struct store_service_why *why) WUR;
/* The service's revisions, newest first (a JSON array, owned): revision, status,
 * chart_version, app_version, description, updated, values, secret_names. Never the
 * sealed secrets. STORE_NOT_FOUND when the tenant has no such service. */
int store_service_revisions(struct db *db, const char *tenant_id, const char *id,
                            json_object **out) WUR;
/* The sealed secret values of the service (the current ones, for a PATCH that keeps
 * some) into *sealed_out (owned, NULL when none) and its op_seq into *op_seq: kaiden-api
 * opens them only to merge and seal again. STORE_NOT_FOUND. */
int store_service_secrets(struct db *db, const char *tenant_id, const char *id,
                          char **sealed_out, long long *op_seq) WUR;
/* Platform level (no tenant): how many services, deleted ones included (their rows keep
 * the reference), use the template; DELETE /catalog/{slug} refuses while any does. On
 * PostgreSQL through kaiden_template_in_use, so a platform-scope caller counts every
 * tenant's. *n gets the count. */
int store_service_template_uses(struct db *db, const char *template_id, long *n) WUR;

/* Whether a live service (any tenant's) has the subdomain (NULL: not asked) or the custom
 * domain (NULL: not asked): 1, 0, or a negative store_rc. On PostgreSQL through
 * kaiden_service_host_taken, so a caller in one tenant's scope still sees every tenant's
 * names. For a tenant import (store_archive.c), which must not take a live name. */
int store_service_host_taken(struct db *db, const char *subdomain,
                             const char *custom_domain) WUR;

/* ---- helperd ---------------------------------------------------------------------- */

/* Everything an operation needs, as one JSON object (owned; never to be shown: it holds
 * the sealed secrets): the service JSON above plus
 *   "tenant_id", "tenant_code",
 *   "secret_values" (null or the sealed text: values_seal_open),
 *   "template": { "id", "slug", "chart_repo", "chart_name", "chart_version" (the
 *     template's pin; the service's own chart_version is what to install),
 *     "default_values", "inputs", "values_schema" },
 *   "rollback_revision": null, or for a queued rollback that revision's row:
 *     { "revision", "chart_version", "values", "secret_values" (sealed or null),
 *       "secret_names" },
 *   "limits": store_service_limits as { "cpu_millis", "memory_mib", "storage_gib",
 *     "pods" }.
 * Deleted services too (a late job finds status deleted and stops). STORE_NOT_FOUND. */
int store_service_work(struct db *db, const char *tenant_id, const char *id,
                       json_object **out) WUR;

/* What helperd writes back. Members left at their "unchanged" value stay as they are. */
struct store_service_report {
	int status;           /* -1: unchanged; else an enum service_status */
	const char *error;    /* NULL: unchanged; "": cleared; else helm's or the pods' words */
	int pods_ready;       /* -1: unchanged */
	int pods_total;       /* -1: unchanged */
	int revision;         /* -1: unchanged */
	int deployed;         /* 1: deployed_at = now (a successful install, upgrade or
	                         rollback) */
	/* A finished rollback: the service's values become the revision's. */
	int set_values;
	json_object *values;       /* with set_values: borrowed, the plain values */
	const char *secret_values; /* with set_values: sealed or NULL */
	json_object *secret_names; /* with set_values: borrowed array (NULL: []) */
	const char *chart_version; /* NULL: unchanged */
};
#define STORE_SERVICE_REPORT_INIT \
	{ .status = -1, .pods_ready = -1, .pods_total = -1, .revision = -1 }
/* In one transaction, only while the service's op_seq is op_seq: applies r. Leaving
 * rolling_back clears rollback_to; deleted sets deleted_at (the names are free again).
 * A status change to running, failed or deleted emits service.deployed,
 * service.failed or service.deleted (store_webhook_emit, the service JSON as data) in
 * the same transaction. STORE_CONFLICT: op_seq is stale (another operation was queued
 * since: nothing was changed); STORE_NOT_FOUND. *out (may be NULL) is the service
 * after. *changed (may be NULL) is 1 when r changed what the service shows (status,
 * error, pods, revision, values, chart version), 0 when the row already said all of it:
 * then nothing is written, not even updated_at (a poll that finds what the last one
 * found), and the caller tells nobody. */
int store_service_report(struct db *db, const char *tenant_id, const char *id,
                         long long op_seq, const struct store_service_report *r,
                         json_object **out, int *changed) WUR;

/* One revision as helm history shows it plus what helperd installed. */
struct store_service_revision {
	int revision;              /* >= 1 */
	const char *status;        /* helm's: deployed, superseded, failed, ... */
	const char *chart_version; /* NULL: "" */
	const char *app_version;   /* NULL: "" */
	const char *description;   /* NULL: "" */
	const char *updated;       /* RFC 3339 (helm's), or NULL */
	json_object *values;       /* borrowed; NULL: leave the row's (or {}) */
	const char *secret_values; /* sealed or NULL; only written with values */
	json_object *secret_names; /* borrowed; only written with values (NULL: []) */
};
/* Inserts the revision or updates the one with its number (helm history changes an
 * older revision's status to superseded). Not checked against op_seq: history is
 * helm's, whichever job read it. STORE_NOT_FOUND: no such service in the tenant. */
int store_service_revision_put(struct db *db, const char *tenant_id, const char *service_id,
                               const struct store_service_revision *rev) WUR;

/* How many of the tenant's services are not deleted (the namespace is deleted when none
 * is left: call after the report that marked this one deleted). */
int store_service_live_count(struct db *db, const char *tenant_id, long *n) WUR;

/* The namespace's ResourceQuota and LimitRange sizes: the tenant's quotas
 * services_cpu (millicores), services_memory (MiB), services_storage (GiB) and
 * services_pods, each defaulting by plan (trial 2000/4096/20/20, basic 4000/8192/50/50,
 * pro 8000/16384/200/100, enterprise 16000/32768/500/200). */
struct store_service_limits {
	long cpu_millis, memory_mib, storage_gib, pods;
};
int store_service_limits(struct db *db, const char *tenant_id,
                         struct store_service_limits *out) WUR;

#endif
