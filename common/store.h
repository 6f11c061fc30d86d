/* store.h: the domain operations on the database, shared by kaiden-api and helperd.
 *
 * Every function takes the tenant it acts for and scopes every query by it. Results
 * that go out as JSON are built here as json-c objects (owned by the caller), with the
 * API's field names, so kaiden-api and helperd describe a row the same way.
 *
 * Return codes: STORE_OK, or one of the negative codes below; out-parameters are written
 * only on STORE_OK. Functions that write several rows open and close their own
 * transaction: call them with none open. */
#ifndef KAIDEN_STORE_H
#define KAIDEN_STORE_H

#include <json-c/json.h>
#include "buf.h"
#include "compat.h"
#include "ids.h"
#include "seam.h"
#include "secret.h"

struct db;

#define DEFAULT_TENANT_ID "00000000-0000-0000-0000-000000000000"

enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,       /* database failure, logged */
	STORE_NOT_FOUND = -2, /* no such row in this tenant */
	STORE_CONFLICT = -3,  /* the row's state forbids it (see each function) */
	STORE_BUSY = -4,      /* transient; the caller may retry */
	STORE_QUOTA = -5,     /* the tenant is at one of its quotas (store_tenant.h) */
	STORE_INVALID_TRANSITION = -6 /* a ticket status change the workflow refuses */
};

/* Listing: newest first. limit 1..200 (0 means the default, 50; others are clamped);
 * cursor is the last id of the previous page. Ids given to the store (tenant, row ids,
 * cursors, filters) are UUIDs in either case: anything else is STORE_NOT_FOUND. */
struct store_page {
	int limit;
	const char *cursor; /* NULL: first page */
};

/* A page of results: items (a JSON array) and the cursor of the next page (NULL when
 * this is the last page). The device lists give their items as JSON text instead: text
 * holds "[...]" (owned; items is NULL), the bytes json-c would write for the same items
 * (store_row.h); parse it to look inside. */
struct store_list {
	json_object *items;
	struct buf text;
	char next_cursor[UUID_STR_LEN];
	int has_more;
};

/* ---- devices ---------------------------------------------------------------------
 * Device JSON: id, name, status ("offline"|"online"), last_seen, hostname, os,
 * ip_address, agent_version, created_at, and a Kubernetes node's facts (null for a
 * standalone machine): cluster_id, node_name, labels (object), node_status
 * ("Ready"|"NotReady"|"Unknown"), unschedulable (boolean), resources (object), versions
 * (object), node_reason (why the facts are missing or stale), node_updated_at; null
 * where unknown. Never the secret or its hash. Clusters are store_cluster.h. */

/* Inserts a device with the given argon2id hash; *out is the device JSON. STORE_QUOTA
 * when the tenant is at its max_devices. */
int store_device_create(struct db *db, const char *tenant_id, const char *name,
                        const char *secret_hash, json_object **out) WUR;
int store_device_get(struct db *db, const char *tenant_id, const char *id,
                     json_object **out) WUR;
/* store_device_get's object as JSON text, appended to out (initialised by the caller):
 * the bytes json-c writes for it (the reply of GET /devices/{id}, without the objects). */
int store_device_get_text(struct db *db, const char *tenant_id, const char *id,
                          struct buf *out) WUR;
/* status: NULL or "online"/"offline"; q: NULL or a substring of name or hostname
 * (case-insensitive, % and _ taken literally). The items come as out->text (struct
 * store_list): free it with buf_clear, or hand it to resp_list. */
int store_device_list(struct db *db, const char *tenant_id, const char *status,
                      const char *q, const struct store_page *page,
                      struct store_list *out) WUR;
/* The same, only the devices of cluster_id (a UUID; an unknown one lists nothing). */
int store_device_list_cluster(struct db *db, const char *tenant_id, const char *cluster_id,
                              const char *status, const char *q,
                              const struct store_page *page, struct store_list *out) WUR;
/* Removes the device (it no longer lists, gets or authenticates; its session history
 * stays). STORE_CONFLICT while it has a session that is not ended or failed. */
int store_device_delete(struct db *db, const char *tenant_id, const char *id) WUR;
/* Replaces a standalone device's secret hash (the new secret made and shown by the
 * caller): the old secret no longer authenticates, and secret_version goes up with it
 * (0018's trigger), so the tickets issued for the old one are refused. *out is the device
 * JSON. STORE_CONFLICT for a node of a cluster (its agent authenticates with the
 * cluster's secret: store_cluster_set_secret). */
int store_device_set_secret(struct db *db, const char *tenant_id, const char *id,
                            const char *secret_hash, json_object **out) WUR;

/* ---- sessions --------------------------------------------------------------------
 * Session JSON: id, device_id, status ("pending"|"active"|"ending"|"ended"|"failed"),
 * step, public_url, ssh_hostname, tunnel_id, engineer_name, engineer_id, ticket_id, notes,
 * error, ssh_port, web_port, recording_url, started_at, ended_at, created_at, updated_at,
 * provider ("cloudflare"|"relay"), bytes_in, bytes_out (what the relay carried:
 * engineer -> machine, machine -> engineer). public_url and ssh_hostname are null for a
 * relay session. */

struct store_session_new {
	const char *device_id;
	const char *engineer_name;
	const char *notes;  /* may be NULL */
	const char *domain; /* public hostnames are sess-<short>.<domain>, sess-<short>-ssh.<domain> */
	int ssh_port, web_port; /* 0: 22 and 8080 */
	const char *engineer_id; /* the user starting it, NULL for none (a service token) */
	enum seam_provider provider; /* tunnel_choice() (seam.h): Cloudflare publishes the
	                                hostnames above; the relay has none */
	const char *ticket_id; /* NULL, or a ticket of the tenant that is not closed */
};

/* In one transaction: the session row (pending), a "session.start" job, and (PostgreSQL)
 * NOTIFY kaiden_jobs; with a ticket_id, also the ticket's system comment "session started
 * by <engineer_name> on <device name>" (store_ticket_session.h). STORE_NOT_FOUND when the
 * device or the ticket does not exist in the tenant (or engineer_id is not a UUID);
 * STORE_CONFLICT when the ticket is closed (a close committed concurrently included: no
 * session is linked to a ticket closed before it); STORE_QUOTA when the tenant is at its
 * max_concurrent_sessions. The ticket's device_id need not be the session's (a ticket's
 * device is a hint, and a problem may need another machine). */
int store_session_create(struct db *db, const char *tenant_id,
                         const struct store_session_new *s, json_object **out) WUR;
int store_session_get(struct db *db, const char *tenant_id, const char *id,
                      json_object **out) WUR;
/* What a session list keeps (each NULL: no filter; all given must hold). */
struct store_session_filter {
	const char *device_id;
	const char *ticket_id; /* the sessions started from that ticket */
	const char *status;
	/* A UUID: the sessions that user started (engineer_id). Anything else: those whose
	 * engineer_name contains it, case-insensitively in ASCII (% and _ taken literally). */
	const char *engineer;
	const char *since, *until; /* RFC 3339 on created_at: inclusive / exclusive */
};
/* Newest first, by cursor. f may be NULL (every session of the tenant). An id or time in
 * f that cannot be one finds nothing (STORE_NOT_FOUND). */
int store_session_list(struct db *db, const char *tenant_id,
                       const struct store_session_filter *f, const struct store_page *page,
                       struct store_list *out) WUR;
/* Replaces the notes (NULL clears them). */
int store_session_set_notes(struct db *db, const char *tenant_id, const char *id,
                            const char *notes, json_object **out) WUR;
/* pending/active -> ending plus a "session.end" job and NOTIFY, in one transaction;
 * *changed is 1. Already ending, ended or failed: nothing changes, *changed is 0, and
 * *out is the session as it is. */
int store_session_end(struct db *db, const char *tenant_id, const char *id,
                      json_object **out, int *changed) WUR;

/* ---- tickets ---------------------------------------------------------------------
 * Ticket JSON: id, number ("TKT-YYYYMMDD-NNN"), device_id, cluster_id, title,
 * description, priority ("low"|"normal"|"high"|"urgent"), status
 * ("open"|"in_progress"|"resolved"|"closed"), assigned_to, created_by, created_at,
 * updated_at, resolved_at; null where unset. One ticket (store_ticket_get, and so an
 * update's *out; never a list's items) also has sessions: the sessions started from it,
 * newest first, at most 100, each {id, status, device_id, device_name, engineer_name,
 * created_at, ended_at}.
 * Comment JSON: id, ticket_id, type ("comment"|"system"|"status_change"), internal
 * (boolean), author_id, author_name, body, created_at. */

/* The statuses a ticket counts as open in (usage's open_tickets, the max_open_tickets
 * quota), for "status IN ...". */
#define STORE_SQL_TICKET_OPEN "('open', 'in_progress')"

struct store_ticket_new {
	const char *title;       /* required, non-empty */
	const char *description; /* NULL: "" */
	const char *priority;    /* NULL: "normal" */
	const char *device_id;   /* NULL or a device of the tenant */
	const char *cluster_id;  /* NULL or a live cluster of the tenant */
	const char *created_by;  /* NULL or a UUID */
	/* The UTC day of the number as YYYYMMDD; NULL: today's (tests set it). */
	const char *day;
};
/* Allocates the next number of the tenant's day (from 001, consecutive, never reused;
 * 4 digits past 999) and inserts the ticket in one transaction: concurrent creates get
 * distinct consecutive numbers on both databases. STORE_QUOTA when the tenant is at its
 * max_open_tickets (counted in the same transaction, first). STORE_NOT_FOUND for a device
 * or cluster not in the tenant or an id that is not a UUID; STORE_CONFLICT for a bad priority, an empty
 * title or a malformed day. */
int store_ticket_create(struct db *db, const char *tenant_id, const struct store_ticket_new *t,
                        json_object **out) WUR;
int store_ticket_get(struct db *db, const char *tenant_id, const char *id,
                     json_object **out) WUR;
/* Each NULL: no filter. assigned_to "none" keeps the unassigned ones; q is a literal
 * substring of title, description or number (case-insensitive in ASCII). */
struct store_ticket_filter {
	const char *status, *priority, *assigned_to, *device_id, *q;
	int by_priority; /* a queue's order: urgent first, then high, normal, low; within a
	                    priority the oldest first */
};
/* Newest first (or by_priority), by cursor. An id filter that is not a UUID finds nothing
 * (STORE_NOT_FOUND). */
int store_ticket_list(struct db *db, const char *tenant_id, const struct store_ticket_filter *f,
                      const struct store_page *page, struct store_list *out) WUR;

/* What an update changes: each NULL keeps the value; clear_assignee / clear_device /
 * clear_cluster set the column to NULL. author_id / author_name sign the comments written by the change. */
struct store_ticket_patch {
	const char *title, *description, *priority, *status, *assigned_to, *device_id;
	const char *cluster_id; /* a live cluster of the tenant */
	int clear_assignee, clear_device, clear_cluster;
	const char *author_id, *author_name;
};
/* The statuses the workflow allows after status (open -> in_progress -> resolved ->
 * closed; resolved and closed -> open): up to 2 names into next[], their number, or -1
 * for an unknown status. */
int store_ticket_next_statuses(const char *status, const char *next[2]);
/* Applies the patch in one transaction, writing by itself a status_change comment for a
 * status change and a system comment for a priority or assignee change; resolved_at is
 * set on resolve and cleared on reopen. STORE_INVALID_TRANSITION when the status change
 * is not allowed (store_ticket_next_statuses says what is; *out is then the ticket as it
 * is, for the caller to name them), STORE_QUOTA for a reopen (resolved or closed ->
 * open) while the tenant is at its max_open_tickets, STORE_CONFLICT for a bad priority or status or an
 * empty title, STORE_NOT_FOUND for no such ticket (or device, or cluster, or a non-UUID
 * id). */
int store_ticket_update(struct db *db, const char *tenant_id, const char *id,
                        const struct store_ticket_patch *p, json_object **out) WUR;

struct store_ticket_comment_new {
	const char *type; /* NULL: "comment" */
	int internal;
	const char *author_id, *author_name, *body; /* body required, non-empty */
};
/* Adds a comment (and bumps the ticket's updated_at). STORE_NOT_FOUND: no such ticket;
 * STORE_CONFLICT: bad type or empty body. */
int store_ticket_comment_add(struct db *db, const char *tenant_id, const char *ticket_id,
                             const struct store_ticket_comment_new *c, json_object **out) WUR;
/* Oldest first, by cursor; internal ones only when include_internal. */
int store_ticket_comment_list(struct db *db, const char *tenant_id, const char *ticket_id,
                              int include_internal, const struct store_page *page,
                              struct store_list *out) WUR;

/* ---- API tokens ------------------------------------------------------------------- */

/* Makes a token (shown once: written to token_out) and stores its digest. *out (may be
 * NULL) is the token's JSON: id, name, created_at. */
int store_token_create(struct db *db, const char *tenant_id, const char *name,
                       char token_out[TOKEN_LEN], json_object **out) WUR;
/* The name of the tenant's token id (truncated to outlen - 1 bytes): what a service
 * token's ticket comments are signed with. */
int store_token_name(struct db *db, const char *tenant_id, const char *id, char *out,
                     size_t outlen) WUR;
/* Checks a presented token: STORE_OK and the tenant it acts for, or STORE_NOT_FOUND for
 * anything else (malformed, unknown, revoked, wrong secret). Constant-time compare. */
int store_token_check(struct db *db, const char *token,
                      char tenant_out[UUID_STR_LEN]) WUR;

/* ---- health ------------------------------------------------------------------------ */
/* 0 if the database answers and is migrated to the version this binary knows. */
int store_health(struct db *db) WUR;
/* The schema version the database records (0: never migrated, no schema_migrations
 * table, without an error logged for its absence). 0, or -1 (logged). */
int store_schema_version(struct db *db, int *version) WUR;

/* ---- jobs (the outbox helperd works from) -----------------------------------------
 * kaiden-api inserts jobs in the same transaction as the row they act on; helperd claims
 * due ones. A job is leased, not owned: a claim sets locked_until, and a job whose lease
 * ran out (its helperd died) is claimable again, so a crash costs latency, never work. */

struct store_job {
	char id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	char kind[32];               /* seam.h's job kinds: "session.start" | "session.end" |
	                              * "webhook.deliver" | "service.install" | ... */
	char session_id[UUID_STR_LEN];
	char webhook_id[UUID_STR_LEN]; /* "webhook.deliver": the hook; else "" */
	char service_id[UUID_STR_LEN]; /* "service.*": the service; else "" */
	long long op_seq;            /* "service.*": the service's op_seq when it was queued
	                              * (stale when the service's has moved on); else 0 */
	int attempts;                /* including this claim */
};

/* Claims up to max due jobs for worker (an instance name) with a lease of
 * lease_seconds: state queued and run_after <= now, or state running with an expired
 * lease or held by another instance known dead (its helperd_status row exists and
 * helperd_live does not list it; no row: the lease stands); a job naming a service only
 * when no other job of that service is running and none queued before it waits (one
 * operation per service, in queue order). A job naming
 * a session only when worker holds its device's agent (devices.helperd), or no live
 * helperd does (helperd_live) and the job is an end or the agent was last seen more
 * than agent_wait_seconds ago (session.ready_timeout: before that it is waited for,
 * unclaimed, as reconnecting). PostgreSQL uses FOR UPDATE SKIP LOCKED so several
 * helperds never claim the same job. *n gets how many were written to jobs[]. */
int store_jobs_claim(struct db *db, const char *worker, int lease_seconds,
                     int agent_wait_seconds, int max, struct store_job *jobs, int *n) WUR;
/* state "done" or "failed" (error: a sentence, or NULL), or "queued" again with a delay
 * (retry_seconds) for a transient failure. Only the worker holding the lease may finish. */
int store_job_finish(struct db *db, const char *job_id, const char *worker,
                     const char *state, const char *error, int retry_seconds) WUR;
/* Puts worker's running jobs back in the queue, due now: a helperd that restarts under
 * the same name resumes its own work at once instead of waiting for the leases to run
 * out. *n (may be NULL) gets how many. */
int store_jobs_requeue(struct db *db, const char *worker, long *n) WUR;
/* Extends to now + lease_seconds the lease of each of the n jobs that worker still
 * holds (running and locked by it); *renewed (may be NULL) gets how many it held. A job
 * missing from the count was finished or reclaimed by another worker. */
int store_jobs_renew(struct db *db, const char *worker, const char *const *job_ids, int n,
                     int lease_seconds, int *renewed) WUR;

#endif
