/* seam.h: what kaiden-api and kaiden-helperd agree on through the database, in one
 * place: a session's status and step (sessions.status, sessions.step), the kinds of
 * jobs in the outbox (jobs.kind) and the NOTIFY channels. Each is an enum here; its
 * string form (the text in the database, the API and the logs) is in seam.c's tables
 * and nowhere else. SQL that needs a fixed list of statuses in its text (an index's
 * WHERE, a CHECK) says the same words; check_seam compares the schema with these.
 *
 * helperd/session.c says what each status and step means and who moves them. */
#ifndef KAIDEN_SEAM_H
#define KAIDEN_SEAM_H

#include "compat.h"

/* sessions.status. A session is live while pending, active or ending. */
enum seam_status {
	SEAM_STATUS_PENDING,
	SEAM_STATUS_ACTIVE,
	SEAM_STATUS_ENDING,
	SEAM_STATUS_ENDED,
	SEAM_STATUS_FAILED,
	SEAM_STATUS__MAX
};

/* A set of statuses, for the store's "status IN (...)" arguments. */
#define SEAM_STATUS_BIT(s) (1u << (s))
#define SEAM_STATUSES_LIVE                                                               \
	(SEAM_STATUS_BIT(SEAM_STATUS_PENDING) | SEAM_STATUS_BIT(SEAM_STATUS_ACTIVE) |      \
	 SEAM_STATUS_BIT(SEAM_STATUS_ENDING))

/* The live statuses as SQL text, for queries that say them in their text (an index's
 * WHERE must match the query's); check_seam holds it equal to SEAM_STATUSES_LIVE. */
#define SEAM_SQL_LIVE "('pending', 'active', 'ending')"

/* sessions.step, in the order a session goes through them: the provider's provision
 * steps (Cloudflare's: tunnel .. token, tunnel_cf.c), then session.c's, then the end
 * path's (stop, then the provider's teardown steps), then the last. */
enum seam_step {
	SEAM_STEP_NONE,          /* "": nothing done yet */
	SEAM_STEP_TUNNEL,
	SEAM_STEP_ACCESS,
	SEAM_STEP_CONFIG,
	SEAM_STEP_DNS,
	SEAM_STEP_TOKEN,
	SEAM_STEP_AGENT,         /* tunnel.start sent; waiting for tunnel.ready */
	SEAM_STEP_ACTIVE,
	SEAM_STEP_STOP,          /* tunnel.stop sent; waiting for tunnel.stopped */
	SEAM_STEP_DNS_DELETE,
	SEAM_STEP_TUNNEL_DELETE,
	SEAM_STEP_ENDED,
	SEAM_STEP_FAILED,
	SEAM_STEP__MAX
};

/* jobs.kind: the outbox's jobs, written by kaiden-api, run by helperd. */
enum seam_job {
	SEAM_JOB_SESSION_START,
	SEAM_JOB_SESSION_END,
	SEAM_JOB_WEBHOOK_DELIVER, /* deliver a webhook's pending deliveries (jobs.webhook_id) */
	/* A cloud service's operation (jobs.service_id, jobs.op_seq; store_service.h). At
	 * most one runs per service: store_jobs_claim holds the others back. */
	SEAM_JOB_SERVICE_INSTALL,
	SEAM_JOB_SERVICE_UPGRADE,
	SEAM_JOB_SERVICE_ROLLBACK,
	SEAM_JOB_SERVICE_UNINSTALL,
	SEAM_JOB__MAX
};

/* sessions.provider: the tunnel provider a session was made with (kaiden-api resolves
 * tunnel.provider when it writes the row: tunnel_choice.h); helperd runs the session
 * with it. */
enum seam_provider {
	SEAM_PROVIDER_CLOUDFLARE,
	SEAM_PROVIDER_RELAY,
	SEAM_PROVIDER__MAX
};

/* NOTIFY channels (PostgreSQL; SQLite readers poll instead). */
enum seam_channel {
	SEAM_CHANNEL_JOBS,       /* a job was queued; payload: its id (helperd LISTENs) */
	SEAM_CHANNEL_EVENTS,     /* a browser event, helperd to helperd (helperd/events_relay.h) */
	SEAM_CHANNEL__MAX
};

/* The string forms, indexed by the enums and ended by NULL (so a list of accepted
 * values can be handed on whole, e.g. to req_query_enum). */
extern const char *const seam_statuses[SEAM_STATUS__MAX + 1];
extern const char *const seam_steps[SEAM_STEP__MAX + 1];
extern const char *const seam_jobs[SEAM_JOB__MAX + 1];
extern const char *const seam_channels[SEAM_CHANNEL__MAX + 1];
extern const char *const seam_providers[SEAM_PROVIDER__MAX + 1];

/* The string form of a value (borrowed, static); "?" for a value out of range. */
const char *seam_status_name(enum seam_status status);
const char *seam_step_name(enum seam_step step);
const char *seam_job_name(enum seam_job kind);
const char *seam_channel_name(enum seam_channel channel);
const char *seam_provider_name(enum seam_provider provider);

/* The value of a string form: 0, or -1 when text (may be NULL) is none of them; *out is
 * written only on success. A NULL or "" step is SEAM_STEP_NONE. */
int seam_status_parse(const char *text, enum seam_status *out) WUR;
int seam_step_parse(const char *text, enum seam_step *out) WUR;
int seam_job_parse(const char *text, enum seam_job *out) WUR;
int seam_provider_parse(const char *text, enum seam_provider *out) WUR;

/* 1 when text (may be NULL) is that value's string form, else 0. */
int seam_status_is(const char *text, enum seam_status status);
int seam_step_is(const char *text, enum seam_step step);

#endif
