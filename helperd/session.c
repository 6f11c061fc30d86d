/* session.c: the session lifecycle, a persisted state machine per session
 * (docs/architecture.md, "Session lifecycle"). It reaches a tunnel provider only
 * through provider.h's table, and each session's through its row (sessions.provider:
 * provider_for), so Cloudflare sessions and relay sessions run side by side whatever
 * tunnel.provider says now. Cloudflare's own steps are in tunnel_cf.c; the relay
 * (tunnel_relay.c) has none.
 *
 * "The start command" below is the provider's agent_start: tunnel.start {session_id,
 * token} for Cloudflare, relay.start {session_id, ssh_port, web_port} for the relay
 * (refused before anything is sent when the agent speaks protocol 1: the session fails
 * saying to update kaiden-agent). The agent answers either with tunnel.ready or
 * tunnel.failed, lists a running session in its heartbeats, and stops it on tunnel.stop
 * (tunnel.stopped), so the machine is the same for both.
 *
 * Status (sessions.status) and step (sessions.step) as this file moves them:
 *
 *   pending  tunnel .. token        provision (Cloudflare: tunnel with its Access app,
 *                                   then ingress with DNS, token; every id on the row
 *                                   before the next step; the relay: nothing, on the next
 *                                   loop turn). The provider's early result (provider.h)
 *                                   has the start command sent meanwhile (Cloudflare: at
 *                                   dns, once the ingress exists)
 *   pending  agent                  provisioned, the start command sent; waiting for
 *                                   tunnel.ready up to session.ready_timeout (from the
 *                                   send)
 *   active   active                 tunnel.ready arrived (the start job is done); a
 *                                   restore (below) may run meanwhile, and leaves the
 *                                   row as it is
 *   ending   stop                   DELETE / max duration / device offline too long:
 *                                   tunnel.stop sent (skipped if the device is offline);
 *                                   waiting for tunnel.stopped up to STOP_TIMEOUT_MS
 *   ending   dns_delete             teardown (Cloudflare): DNS records, then the tunnel's
 *            tunnel_delete          connections and the tunnel, with the Access apps
 *                                   (the relay has no teardown: straight on)
 *   ended    ended                  ended_at set
 *
 *   pending  stop .. tunnel_delete  compensation after a failed start: the same end path
 *                                   over whatever exists, error already on the row
 *   failed   failed                 ended_at set; error says what a person can do
 *
 * The machine in memory (the table "machine" below is this diagram, row for row; an
 * event in a phase with no row is a bug, logged, and changes nothing):
 *
 *   new --session.start--------------> provision        (refused, too late, device
 *       --session.start_at_stop------> stop_failing      offline: fail; an agent
 *       --session.start_at_teardown--> teardown_failing  expected back: requeued)
 *       --session.end----------------> stop_ending
 *       --session.end_at_teardown----> teardown_ending
 *       --restore--------------------> restore
 *   provision --provision_ok---------> agent            (start command sent; offline, or
 *                                                        an agent too old: fail)
 *             --provision_failed, fail-> stop_failing    (tunnel.stop when the row is at
 *                                                        dns or token: an earlier claim
 *                                                        may have started the agent)
 *             --provision_transient--> (requeued with a growing delay, machine freed;
 *                                       past START_DEADLINE_S: fail)
 *             --session.end----------> provision_ending (the provider call under way
 *                                       finishes first, so no id is lost)
 *             --startable------------> provision_started (the start command sent early;
 *                                       offline or refused: tried again when provisioned)
 *   provision_started --provision_ok-> agent            (tunnel.ready already in: active)
 *             --tunnel.ready---------> (noted; the ready wait stops)
 *             --tunnel.failed, offline, timeout -> provision_failing
 *             --provision_failed, fail-> stop_failing    (with tunnel.stop)
 *             --provision_transient, session.end: as in provision
 *   provision_failing --provision_*--> stop_failing      (the held reason; tunnel.stop
 *                                                        unless the agent said it failed)
 *   provision_ending --provision_*---> stop_ending       (tunnel.stop if it may run)
 *   agent --tunnel.ready-------------> active: machine freed (conditional on pending:
 *                                       if DELETE got there first, session.end)
 *         --tunnel.failed, offline, fail -> stop_failing (no tunnel.stop)
 *         --timeout------------------> stop_failing     (tunnel.stop sent)
 *         --session.end--------------> stop_ending
 *   restore --token_ok---------------> restore_wait     (the start command sent again)
 *           --token_failed-----------> done
 *           --tunnel.failed----------> restore (the old cloudflared's: carries on)
 *   restore_wait --tunnel.ready, tunnel.failed, timeout--> done
 *   restore, restore_wait --offline--> done; --session.end--> stop_ending (abandoned)
 *   stop_X --tunnel.stopped, nothing_to_stop, offline, timeout--> teardown_X
 *   teardown_ending --torn_down------> done: ended      (a refusal is added to error
 *   teardown_failing --torn_down-----> done: failed      and the sweep deletes the rest)
 *   teardown_X --teardown_transient--> (requeued; the row's step says where to resume)
 *
 *   stop_X writes step stop and sends tunnel.stop unless the agent runs nothing of the
 *   session (it never got the start command, or said it failed) or is offline: then
 *   nothing_to_stop at once. A session.end job arriving in stop_X or teardown_X
 *   finishes with the path under way; tunnel.* messages and offline in a phase that
 *   does not wait for them change nothing (rows without an action). teardown_X with a
 *   provider that has no teardown (the relay, "none") raises torn_down at once.
 *
 * Restore (an active session stays active; nothing is written to the row): a
 * heartbeat that lacks an active session, or a tunnel.failed for one, makes a machine
 * (restore) that fetches the tunnel token again (the provider's token; the relay's has
 * none and comes back on the next loop turn) and sends the start command again; a
 * failure is logged with the reason, and the next heartbeat tries again once
 * RESTORE_EVERY_MS has passed.
 *
 *   At most one restore per session per RESTORE_EVERY_MS, and none while a machine for
 *   the session is in memory, so a device that cannot run the tunnel is not hammered;
 *   the offline-grace and max-duration sweeps still end such a session. A device that
 *   reconnects is covered by the same path: its agent sends a heartbeat at once after
 *   welcome (an agent's restart leaves it running no tunnels and no relay sessions).
 *
 * A machine lives in memory only while it has work in flight (a provider operation,
 * an agent wait); between jobs, and across restarts, the row is the whole truth. The
 * start job stays running (leased, renewed by jobs.c) while the agent is waited for.
 *
 * A session whose provider cannot work here (a Cloudflare session while Cloudflare's
 * settings are incomplete) runs with "none", which fails every start at once with a
 * reason that names the settings to set (its cannot_provision) and has no teardown, so
 * an end of such a session just ends it.
 *
 * Time to active is logged ("session=... provider=... active in N ms (M ms after it was
 * created)"): N from the claim of the start job, M from the row's creation, so M - N is
 * how long the job waited to be picked up (jobs.c, pgwatch.c).
 *
 * Tunnel tokens pass through memory only: from the provider to hub_send, then wiped. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cfg.h"
#include "jsonx.h"
#include "db.h"
#include "events.h"
#include "helperd.h"
#include "hub.h"
#include "ids.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "seam.h"
#include "store_tunnel.h"

#define START_DEADLINE_S 600    /* transient trouble is retried this long, then fails */
#define STOP_TIMEOUT_MS 10000   /* how long tunnel.stopped is waited for */
#define RETRY_MAX_S 300
#define SWEEP_DUE_MAX 100
#define RUNNING_MAX 64          /* live sessions per device a heartbeat is compared with */
#define RESTORE_EVERY_MS 30000  /* at most one restore of a session this often */

/* The machine's phases: where a session's machine in memory is. The row's status and
 * step say the same to the database; "ending" and "failing" are the two ends of the end
 * path (ended, failed), which used to be flags. */
enum phase {
	PH_NEW,              /* just made from the row; its first event says why */
	PH_PROVISION,        /* the provider provisions */
	PH_PROVISION_ENDING, /* ... and an end job arrived meanwhile: end when it returns */
	PH_PROVISION_STARTED,/* ... and the start command went out early (provider.h) */
	PH_PROVISION_FAILING,/* ... and the agent failed meanwhile: fail when it returns */
	PH_AGENT,            /* tunnel.start sent; waiting for tunnel.ready */
	PH_RESTORE,          /* an active session's token is being fetched again */
	PH_RESTORE_WAIT,     /* its tunnel.start was sent again; waiting for tunnel.ready */
	PH_STOP_ENDING,      /* tunnel.stop sent (or skipped), towards ended */
	PH_STOP_FAILING,     /* the same, towards failed (compensation) */
	PH_TEARDOWN_ENDING,  /* the provider deletes what exists, towards ended */
	PH_TEARDOWN_FAILING, /* the same, towards failed */
	PH_DONE,             /* the action finishes the jobs and frees the machine */
	PH__MAX,
	PH_SAME = PH__MAX    /* in the table: the phase does not change */
};

enum event {
	EV_START,             /* a session.start job; row pending before stop */
	EV_START_AT_STOP,     /* ... row pending at stop: a compensation to resume */
	EV_START_AT_TEARDOWN, /* ... row pending at dns_delete / tunnel_delete */
	EV_END,               /* a session.end job (row live, before the provider's teardown) */
	EV_END_AT_TEARDOWN,   /* ... row at dns_delete / tunnel_delete */
	EV_RESTORE,           /* an active session's agent does not run its tunnel */
	EV_STARTABLE,         /* provision's early result; text: the token */
	EV_PROVISION_OK,      /* text: the token */
	EV_PROVISION_FAILED,  /* text: the provider's reason */
	EV_PROVISION_TRANSIENT,
	EV_TOKEN_OK,          /* text: the token */
	EV_TOKEN_FAILED,
	EV_READY,             /* tunnel.ready */
	EV_AGENT_FAILED,      /* tunnel.failed; text: the reason */
	EV_STOPPED,           /* tunnel.stopped */
	EV_OFFLINE,           /* the device's agent disconnected */
	EV_TIMEOUT,           /* the machine's timer (ready or stop wait) */
	EV_FAIL,              /* the start cannot go on; text: why */
	EV_NOTHING_TO_STOP,   /* no agent runs the tunnel (or it is offline) */
	EV_TORN_DOWN,         /* text: NULL, or why the provider refused part of it */
	EV_TEARDOWN_TRANSIENT,
	EV__MAX
};

struct sess {
	struct store_tunnel t;
	const struct tunnel_provider *provider; /* the row's (provider_for) */
	char start_job[UUID_STR_LEN]; /* "" when this machine holds none */
	char end_job[UUID_STR_LEN];
	int start_attempts, end_attempts;
	enum phase phase;
	char reason[512];      /* why the start failed */
	struct tunnel_op *op;
	uv_timer_t *timer;     /* heap: closed asynchronously */
	int calls;             /* provider calls by this machine */
	int agent_started;     /* the start command went out while provisioning, and the
	                          agent has not said it failed */
	int ready_seen;        /* ... and tunnel.ready came before provisioning ended */
	int64_t started_ms;
	struct sess *next;
};

static struct {
	struct sess *all;
	/* the last restore attempts, at most one per session per RESTORE_EVERY_MS (the
	 * oldest entry makes room: a full table only lets a restore come a little early) */
	struct { char id[UUID_STR_LEN]; int64_t at; } restored[256];
} S;

/* ---- the machine's bookkeeping ------------------------------------------------------ */

static struct sess *sess_find(const char *id)
{
	for (struct sess *s = S.all; s; s = s->next)
		if (strcasecmp(s->t.id, id) == 0)
			return s;
	return NULL;
}

static void close_free(uv_handle_t *h)
{
	free(h);
}

static struct sess *sess_new(const struct store_tunnel *t)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->timer = malloc(sizeof(*s->timer));
	if (!s->timer || uv_timer_init(helperd.loop, s->timer) != 0) {
		free(s->timer);
		free(s);
		return NULL;
	}
	s->timer->data = s;
	s->t = *t;
	s->provider = provider_for(t->provider);
	s->started_ms = ids_now_ms();
	s->next = S.all;
	S.all = s;
	return s;
}

static void sess_free(struct sess *s)
{
	struct sess **pp;

	for (pp = &S.all; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->op)
		s->provider->cancel(s->op);
	uv_timer_stop(s->timer);
	uv_close((uv_handle_t *)s->timer, close_free);
	free(s);
}

/* Seconds until a retried job runs again: 5, 10, 20, ... up to RETRY_MAX_S. */
static int retry_delay(int attempts)
{
	int d = 5;

	for (int i = 1; i < attempts && d < RETRY_MAX_S; i++)
		d *= 2;
	return d > RETRY_MAX_S ? RETRY_MAX_S : d;
}

/* RFC 3339 UTC text (ids.h's form) to Unix seconds; 0 if it does not parse. */
static time_t parse_time(const char *text)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (!text || sscanf(text, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return timegm(&tm);
}

/* The same with its milliseconds, as Unix ms; 0 if it does not parse. */
static int64_t parse_time_ms(const char *text)
{
	time_t sec = parse_time(text);
	const char *dot = text ? strchr(text, '.') : NULL;
	int ms = 0;

	if (!sec)
		return 0;
	if (dot && dot[1] >= '0' && dot[1] <= '9' && dot[2] >= '0' && dot[2] <= '9' &&
	    dot[3] >= '0' && dot[3] <= '9')
		ms = (dot[1] - '0') * 100 + (dot[2] - '0') * 10 + (dot[3] - '0');
	return (int64_t)sec * 1000 + ms;
}

static int past_deadline(const struct sess *s)
{
	time_t created = parse_time(s->t.created_at);

	return created && time(NULL) - created > START_DEADLINE_S;
}

/* Gives back the jobs this machine holds, queued again for a later claim. */
static void requeue_jobs(struct sess *s, const char *why)
{
	if (s->start_job[0])
		jobs_finish(s->start_job, "queued", why, retry_delay(s->start_attempts));
	if (s->end_job[0])
		jobs_finish(s->end_job, "queued", why, retry_delay(s->end_attempts));
	s->start_job[0] = s->end_job[0] = '\0';
}

/* " (N Cloudflare calls<when>)" for a log line, or "" when the machine made no provider
 * call (the relay never makes one). Static: one use per log line. */
static const char *calls_note(const struct sess *s, const char *when)
{
	static char note[96];

	if (s->calls == 0)
		return "";
	snprintf(note, sizeof(note), " (%d %s calls%s)", s->calls, s->provider->label, when);
	return note;
}

static void count_failure(const char *step)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "step=\"%s\"", step[0] ? step : "none");
	metrics_inc("kaiden_session_failures_total", labels, 1);
}

/* A device not connected here whose agent was heard from within session.ready_timeout
 * is most likely reconnecting (helperd itself may just have restarted, and agents come
 * back with a backoff): the start waits for it, in short requeues, rather than failing
 * a session a restart should never cost. A device never seen, or gone longer, fails at
 * once: nobody could use its tunnel. */
#define AGENT_WAIT_RETRY_S 1

static int agent_expected_back(const struct sess *s)
{
	json_object *device = NULL;
	time_t seen;
	int back;

	if (store_device_get(helperd.db, s->t.tenant_id, s->t.device_id, &device) != STORE_OK)
		return 0;
	seen = parse_time(jsonx_str(device, "last_seen"));
	back = seen && time(NULL) - seen <= cfg_int(CFG_SESSION_READY_TIMEOUT);
	json_object_put(device);
	return back;
}

/* The device is not connected here: wait for its agent, or fail. 1 if it waits. */
static int wait_for_agent(struct sess *s)
{
	if (!agent_expected_back(s))
		return 0;
	log_info("session=%s device=%s waiting for the agent to reconnect", s->t.id,
	         s->t.device_id);
	if (s->start_job[0])
		jobs_finish(s->start_job, "queued", "waiting for the device's agent to reconnect",
		            AGENT_WAIT_RETRY_S);
	if (s->end_job[0])
		jobs_finish(s->end_job, "queued", "waiting for the device's agent to reconnect",
		            AGENT_WAIT_RETRY_S);
	s->start_job[0] = s->end_job[0] = '\0';
	sess_free(s);
	return 1;
}

/* ---- the actions ------------------------------------------------------------------
 *
 * An action runs after the table has moved the machine to its row's next phase. It may
 * raise a follow-up event (machine_run) when it finds a second outcome (a start that
 * cannot go on raises EV_FAIL), and it may give the machine up at any point: its jobs
 * queued again (database trouble, an agent expected back, a transient provider
 * failure) or finished, and the machine freed; the row says where the next claim
 * resumes. */

static void machine_run(struct sess *s, enum event ev, const char *text);

static void timer_fired(uv_timer_t *t)
{
	machine_run(t->data, EV_TIMEOUT, NULL);
}

/* Why a wait for tunnel.ready ended (start or restore). */
static void ready_timeout_reason(char *out, size_t size)
{
	snprintf(out, size, "the agent on the device did not report the tunnel ready within %ld s",
	         cfg_int(CFG_SESSION_READY_TIMEOUT));
}

static const char OFFLINE[] = "device is offline";

/* Sends the provider's start command (tunnel.start with token, relay.start: its
 * agent_start; token is borrowed: the provider wipes its copy after the callback this
 * runs in) and waits up to session.ready_timeout. NULL, or why not: OFFLINE when the
 * device is not connected here, else the provider's refusal (the agent is too old). */
static const char *send_agent_start(struct sess *s, const char *token)
{
	json_object *fields;
	enum proto_type type = PROTO_TUNNEL_START;
	const char *refusal;

	if (!hub_online(s->t.device_id))
		return OFFLINE;
	if (!s->provider->agent_start)
		return "the session's tunnel provider has no agent command"; /* a bug */
	fields = json_object_new_object();
	refusal = s->provider->agent_start(&s->t, token, hub_version(s->t.device_id), &type,
	                                   fields);
	if (refusal) {
		json_object_put(fields);
		return refusal;
	}
	if (hub_send(s->t.device_id, type, fields) != 0)
		return OFFLINE;
	uv_timer_start(s->timer, timer_fired, (uint64_t)cfg_int(CFG_SESSION_READY_TIMEOUT) * 1000,
	               0);
	log_info("session=%s device=%s provider=%s %s sent%s", s->t.id, s->t.device_id,
	         s->provider->name, proto_type_name(type), calls_note(s, " so far"));
	return NULL;
}

/* -- the end path -- */

/* The end path is over (TEARDOWN_* -> done): the row becomes failed (with the start's
 * reason) or ended; cleanup_problem is what the provider could not delete, or NULL. */
static void finish_path(struct sess *s, int failed, const char *cleanup_problem)
{
	char error[1024];
	enum seam_status status = failed ? SEAM_STATUS_FAILED : SEAM_STATUS_ENDED;
	int changed = 0, rc;

	if (failed)
		snprintf(error, sizeof(error), "%s%s%s%s", s->reason,
		         cleanup_problem ? " (clean-up: " : "", cleanup_problem ? cleanup_problem : "",
		         cleanup_problem ? "; the sweep will retry)" : "");
	else if (cleanup_problem)
		snprintf(error, sizeof(error), "clean-up: %s; the sweep will retry", cleanup_problem);
	rc = store_tunnel_move(helperd.db, s->t.tenant_id, s->t.id, SEAM_STATUSES_LIVE, status,
	                       failed ? SEAM_STEP_FAILED : SEAM_STEP_ENDED,
	                       failed || cleanup_problem ? error : NULL, &changed);
	if (rc != STORE_OK) {
		log_error("session=%s could not be recorded as %s; will retry", s->t.id,
		          seam_status_name(status));
		requeue_jobs(s, "the database did not take the session's end");
		sess_free(s);
		return;
	}
	if (changed)
		events_session(s->t.tenant_id, s->t.id, s->t.device_id, seam_status_name(status),
		               seam_step_name(failed ? SEAM_STEP_FAILED : SEAM_STEP_ENDED));
	if (failed) {
		log_warn("session=%s failed: %s%s", s->t.id, error, calls_note(s, ""));
		if (s->start_job[0])
			jobs_finish(s->start_job, "failed", error, 0);
	} else {
		log_info("session=%s ended%s", s->t.id, calls_note(s, " for the end"));
		if (s->start_job[0])
			jobs_finish(s->start_job, "done", "the session was ended before it was active", 0);
	}
	metrics_inc("kaiden_session_cf_calls_total",
	            failed ? "phase=\"compensation\"" : "phase=\"end\"", s->calls);
	if (s->end_job[0])
		jobs_finish(s->end_job, "done", NULL, 0);
	sess_free(s);
}

static void act_ended(struct sess *s, const char *problem)
{
	finish_path(s, 0, problem);
}

static void act_failed(struct sess *s, const char *problem)
{
	finish_path(s, 1, problem);
}

static void torn_down(void *arg, const struct tunnel_result *res)
{
	struct sess *s = arg;

	s->op = NULL;
	s->calls += res->calls;
	if (res->rc == TUNNEL_TRANSIENT)
		machine_run(s, EV_TEARDOWN_TRANSIENT, res->reason);
	else
		machine_run(s, EV_TORN_DOWN, res->rc == TUNNEL_FAILED ? res->reason : NULL);
}

static void act_teardown(struct sess *s, const char *unused)
{
	(void)unused;
	uv_timer_stop(s->timer);
	if (!s->provider->teardown) {
		machine_run(s, EV_TORN_DOWN, NULL); /* the provider made nothing */
		return;
	}
	s->op = s->provider->teardown(&s->t, torn_down, s);
	if (!s->op) {
		requeue_jobs(s, "could not start the clean-up");
		sess_free(s);
	}
}

static void act_teardown_paused(struct sess *s, const char *reason)
{
	log_warn("session=%s clean-up paused: %s", s->t.id, reason);
	requeue_jobs(s, reason);
	sess_free(s);
}

static void act_stop_timeout(struct sess *s, const char *unused)
{
	log_warn("session=%s device=%s did not confirm tunnel.stop within %d s; deleting the "
	         "tunnel anyway", s->t.id, s->t.device_id, STOP_TIMEOUT_MS / 1000);
	act_teardown(s, unused);
}

/* The start job is another helperd's now (this one was late: jobs.c): that one is
 * bringing the same objects up, and the start is its to fail or finish. The machine
 * compensates nothing, counts no failure and lets go. */
static void let_go_taken_over(struct sess *s)
{
	log_warn("session=%s start taken over by another helperd: not compensating here",
	         s->t.id);
	s->start_job[0] = '\0';
	requeue_jobs(s, "taken over");
	sess_free(s);
}

/* Writes the stop step (with the start's reason when failing) and asks the agent to
 * stop its tunnel first (a tunnel with connectors attached cannot be deleted), unless
 * agent_maybe_running is 0 (it never got the tunnel, or reported it dead) or the device
 * is offline: then EV_NOTHING_TO_STOP. stop_begin, once the start job is known to be
 * this helperd's (or there is none). */
static void stop_held(struct sess *s, int agent_maybe_running)
{
	json_object *fields;

	if (store_tunnel_set_step(helperd.db, s->t.tenant_id, s->t.id, SEAM_STEP_STOP,
	                          s->phase == PH_STOP_FAILING ? s->reason : NULL) != STORE_OK) {
		requeue_jobs(s, "the database did not take the session's step");
		sess_free(s);
		return;
	}
	snprintf(s->t.step, sizeof(s->t.step), "%s", seam_step_name(SEAM_STEP_STOP));
	events_session(s->t.tenant_id, s->t.id, s->t.device_id, s->t.status, s->t.step);
	if (!agent_maybe_running || !hub_online(s->t.device_id)) {
		machine_run(s, EV_NOTHING_TO_STOP, NULL);
		return;
	}
	fields = json_object_new_object();
	json_object_object_add(fields, "session_id", json_object_new_string(s->t.id));
	if (hub_send(s->t.device_id, PROTO_TUNNEL_STOP, fields) != 0) {
		machine_run(s, EV_NOTHING_TO_STOP, NULL);
		return;
	}
	uv_timer_start(s->timer, timer_fired, STOP_TIMEOUT_MS, 0);
}

/* The stop: stop_held, unless another helperd has taken the start over. */
static void stop_begin(struct sess *s, int agent_maybe_running)
{
	uv_timer_stop(s->timer);
	/* A start that fails here tears down what it made, unless another helperd took the
	 * job over meanwhile. */
	if (s->phase == PH_STOP_FAILING && s->start_job[0] && !jobs_still_held(s->start_job)) {
		let_go_taken_over(s);
		return;
	}
	stop_held(s, agent_maybe_running);
}

static void act_stop(struct sess *s, const char *unused)
{
	(void)unused;
	stop_begin(s, 1);
}

static void act_stop_early(struct sess *s, const char *unused)
{
	(void)unused;
	log_info("session=%s ended before its tunnel was ready", s->t.id);
	stop_begin(s, 1);
}

/* Whether the agent may run the session's tunnel while provisioning has not finished:
 * this machine sent the start command early, or an earlier claim of the start may have
 * (a pause or a restart after the row reached the provider's last steps, dns and token:
 * the early result comes in the first of them). */
static int agent_maybe_started(const struct sess *s)
{
	return s->agent_started || seam_step_is(s->t.step, SEAM_STEP_DNS) ||
	       seam_step_is(s->t.step, SEAM_STEP_TOKEN);
}

/* DELETE arrived while the provider was busy: end instead of starting (the agent was
 * sent the tunnel only if it went out early). */
static void act_stop_unstarted(struct sess *s, const char *unused)
{
	(void)unused;
	log_info("session=%s ended while starting; cleaning up", s->t.id);
	stop_begin(s, agent_maybe_started(s));
}

/* -- a start that fails: the end path over whatever exists, then failed -- */

static void record_failure(struct sess *s, const char *reason)
{
	if (reason != s->reason)
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
	count_failure(s->t.step);
	log_warn("session=%s start failed at step %s: %s", s->t.id, s->t.step[0] ? s->t.step : "-",
	         reason);
}

/* The agent runs nothing of this session (never sent it, or reported it dead). */
static void act_fail(struct sess *s, const char *reason)
{
	record_failure(s, reason);
	stop_begin(s, 0);
}

/* The start failed while provisioning: compensate, stopping the tunnel if the agent
 * may run it. */
static void act_fail_provision(struct sess *s, const char *reason)
{
	record_failure(s, reason);
	stop_begin(s, agent_maybe_started(s));
}

/* The agent went away after the start command (it restarted, its link dropped): the
 * start waits for it, queued again, while the device was seen within
 * session.ready_timeout (wait_for_agent, as before the first send). The next claim
 * resumes from the row's step, adopting the provider's objects, and sends the command
 * again; an agent that still runs the tunnel answers ready at once. A start another
 * helperd has taken over is left to it; otherwise the start fails. */
static void act_agent_offline(struct sess *s, const char *unused)
{
	(void)unused;
	uv_timer_stop(s->timer);
	if (s->start_job[0]) {
		if (!jobs_still_held(s->start_job)) {
			let_go_taken_over(s);
			return;
		}
		if (wait_for_agent(s))
			return;
	}
	/* act_fail, the lease just asked. */
	record_failure(s, "the device went offline before its tunnel was ready");
	stop_held(s, 0);
}

static void act_fail_ready_timeout(struct sess *s, const char *unused)
{
	char reason[160];

	(void)unused;
	ready_timeout_reason(reason, sizeof(reason));
	record_failure(s, reason);
	stop_begin(s, 1);
}

/* A start job found a compensation under way when the last run stopped. */
static void resume_failing(struct sess *s)
{
	snprintf(s->reason, sizeof(s->reason), "%s", s->t.error[0] ? s->t.error : "the start failed");
}

static void act_resume_stop(struct sess *s, const char *unused)
{
	(void)unused;
	resume_failing(s);
	stop_begin(s, 1);
}

static void act_resume_teardown(struct sess *s, const char *unused)
{
	resume_failing(s);
	act_teardown(s, unused);
}

/* -- the start path -- */

static void provisioned(void *arg, const struct tunnel_result *res)
{
	struct sess *s = arg;

	if (res->startable) {
		machine_run(s, EV_STARTABLE, res->token); /* the operation goes on */
		return;
	}
	s->op = NULL;
	s->calls += res->calls;
	switch (res->rc) {
	case TUNNEL_OK:
		machine_run(s, EV_PROVISION_OK, res->token);
		break;
	case TUNNEL_FAILED:
		machine_run(s, EV_PROVISION_FAILED, res->reason);
		break;
	case TUNNEL_TRANSIENT:
		machine_run(s, EV_PROVISION_TRANSIENT, res->reason);
		break;
	}
}

static void act_provision(struct sess *s, const char *unused)
{
	const char *refusal = s->provider->cannot_provision(&s->t);

	(void)unused;
	if (refusal) {
		machine_run(s, EV_FAIL, refusal);
		return;
	}
	if (past_deadline(s)) {
		char reason[700];
		snprintf(reason, sizeof(reason), "could not start within %d minutes: %s",
		         START_DEADLINE_S / 60,
		         s->t.error[0] ? s->t.error : "helperd was not running to start it");
		machine_run(s, EV_FAIL, reason);
		return;
	}
	/* Before spending any API call: nobody could use the tunnel. */
	if (!hub_online(s->t.device_id)) {
		if (!wait_for_agent(s))
			machine_run(s, EV_FAIL, "device is offline");
		return;
	}
	s->op = s->provider->provision(&s->t, provisioned, s);
	if (!s->op) {
		requeue_jobs(s, "could not start provisioning");
		sess_free(s);
	}
}

/* Transient provider trouble: the job is queued again with a growing delay (the row
 * keeps its step and ids; a new claim resumes), until START_DEADLINE_S. */
static void act_provision_paused(struct sess *s, const char *problem)
{
	enum seam_step step;
	char reason[700];

	if (past_deadline(s)) {
		snprintf(reason, sizeof(reason), "could not start within %d minutes: %s",
		         START_DEADLINE_S / 60, problem);
		machine_run(s, EV_FAIL, reason);
		return;
	}
	/* The row shows what is being waited for (the API returns it while pending);
	 * the final error, if it comes to that, names it too. */
	log_warn("session=%s start paused at step %s: %s", s->t.id, s->t.step, problem);
	if (seam_step_parse(s->t.step, &step) != 0 ||
	    store_tunnel_set_step(helperd.db, s->t.tenant_id, s->t.id, step, problem) != STORE_OK)
		log_warn("session=%s could not record why its start is paused", s->t.id);
	else
		events_session(s->t.tenant_id, s->t.id, s->t.device_id, s->t.status, s->t.step);
	requeue_jobs(s, problem);
	sess_free(s);
}

/* Writes step agent. 0, or -1 when the database did not take it (the machine is given
 * up: a new claim resumes, re-sending the start command, which the agent takes again). */
static int set_agent_step(struct sess *s)
{
	if (store_tunnel_set_step(helperd.db, s->t.tenant_id, s->t.id, SEAM_STEP_AGENT, NULL) !=
	    STORE_OK) {
		requeue_jobs(s, "the database did not take the session's step");
		sess_free(s);
		return -1;
	}
	snprintf(s->t.step, sizeof(s->t.step), "%s", seam_step_name(SEAM_STEP_AGENT));
	events_session(s->t.tenant_id, s->t.id, s->t.device_id, s->t.status, s->t.step);
	return 0;
}

static void act_send_start(struct sess *s, const char *token)
{
	const char *why;

	if (set_agent_step(s) != 0)
		return;
	if (!hub_online(s->t.device_id)) {
		if (!wait_for_agent(s))
			machine_run(s, EV_FAIL, "device is offline");
		return;
	}
	why = send_agent_start(s, token);
	if (why)
		machine_run(s, EV_FAIL, why);
}

/* The provider's early result: the start command goes out now, while it finishes
 * (the row keeps its step: a restart resumes provisioning, and re-sends it). Not
 * sent (offline, refused): sent, or the start failed, as usual once provisioned. */
static void act_send_early(struct sess *s, const char *token)
{
	if (!hub_online(s->t.device_id) || send_agent_start(s, token) != NULL) {
		log_debug("session=%s start command not sent early", s->t.id);
		return;
	}
	s->agent_started = 1;
}

/* Provisioned after an early start command (or a try at one). */
static void act_provisioned(struct sess *s, const char *token)
{
	if (!s->agent_started) {
		act_send_start(s, token);
		return;
	}
	if (set_agent_step(s) != 0)
		return;
	if (s->ready_seen)
		machine_run(s, EV_READY, NULL);
}

static void act_note_ready(struct sess *s, const char *unused)
{
	(void)unused;
	uv_timer_stop(s->timer);
	s->ready_seen = 1;
}


/* The agent's side failed while the provider is still busy: the reason is kept, and
 * the compensation starts when the provider's call under way has finished (no id is
 * lost). */
static void hold_failure(struct sess *s, const char *reason, int agent_running)
{
	uv_timer_stop(s->timer);
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->agent_started = agent_running;
}

static void act_hold_agent_failed(struct sess *s, const char *reason)
{
	hold_failure(s, reason, 0);
}

/* The agent went away after the early start command (it restarted, its link dropped):
 * the command is as good as unsent, and the machine is back in plain provisioning. The
 * provider's call goes on; when it returns, the command goes out as after any
 * provisioning (act_send_start): to the agent if it is back, else the start waits for
 * it (wait_for_agent) or fails. agent_started stays: a compensation still stops the
 * tunnel, which the agent may run if only its link dropped. */
static void act_early_agent_gone(struct sess *s, const char *unused)
{
	(void)unused;
	uv_timer_stop(s->timer);
	s->ready_seen = 0;
	log_info("session=%s the agent went away after the early start command; it goes out "
	         "again once provisioned",
	         s->t.id);
}

static void act_hold_timeout(struct sess *s, const char *unused)
{
	char reason[160];

	(void)unused;
	ready_timeout_reason(reason, sizeof(reason));
	hold_failure(s, reason, 1);
}

/* The provider has finished: the held failure's compensation (the agent's word from
 * this claim says whether it runs the tunnel). */
static void act_fail_held(struct sess *s, const char *unused)
{
	(void)unused;
	record_failure(s, s->reason);
	stop_begin(s, s->agent_started);
}

/* tunnel.ready: pending -> active, conditionally: if DELETE got there first the row is
 * ending and the end job (held here: EV_END, or still queued) takes over. */
static void act_activate(struct sess *s, const char *unused)
{
	int changed = 0;
	int64_t now, created;

	(void)unused;
	uv_timer_stop(s->timer);
	if (store_tunnel_move(helperd.db, s->t.tenant_id, s->t.id,
	                      SEAM_STATUS_BIT(SEAM_STATUS_PENDING), SEAM_STATUS_ACTIVE,
	                      SEAM_STEP_ACTIVE, "", &changed) != STORE_OK) {
		/* The agent runs the tunnel; a new claim re-sends tunnel.start (idempotent). */
		requeue_jobs(s, "the database did not take the session's activation");
		sess_free(s);
		return;
	}
	if (!changed) {
		if (s->end_job[0]) {
			machine_run(s, EV_END, NULL);
			return;
		}
		jobs_finish(s->start_job, "done", "the session was ended before it was active", 0);
		sess_free(s);
		return;
	}
	events_session(s->t.tenant_id, s->t.id, s->t.device_id,
	               seam_status_name(SEAM_STATUS_ACTIVE), seam_step_name(SEAM_STEP_ACTIVE));
	now = ids_now_ms();
	created = parse_time_ms(s->t.created_at);
	/* From the claim of the start job; and from the row's creation, which adds the
	 * time the job waited to be picked up (the clocks of kaiden-api and helperd). */
	log_info("session=%s provider=%s active in %lld ms (%lld ms after it was created)%s",
	         s->t.id, s->provider->name, (long long)(now - s->started_ms),
	         (long long)(created ? now - created : -1), calls_note(s, " for the start"));
	metrics_observe("kaiden_session_start_seconds", NULL,
	                (double)(now - s->started_ms) / 1000.0);
	metrics_inc("kaiden_session_cf_calls_total", "phase=\"start\"", s->calls);
	jobs_finish(s->start_job, "done", NULL, 0);
	sess_free(s);
}

/* -- restoring an active session's tunnel -- */

/* 1 if a restore of this session may be tried now; records the attempt. */
static int restore_due(const char *id)
{
	int64_t now = ids_now_ms();
	int oldest = 0;

	for (int i = 0; i < (int)ARRAY_LEN(S.restored); i++) {
		if (strcmp(S.restored[i].id, id) == 0) {
			if (now - S.restored[i].at < RESTORE_EVERY_MS)
				return 0;
			S.restored[i].at = now;
			return 1;
		}
		if (S.restored[i].at < S.restored[oldest].at)
			oldest = i;
	}
	{
		size_t len = strnlen(id, UUID_STR_LEN - 1);
		memcpy(S.restored[oldest].id, id, len);
		S.restored[oldest].id[len] = '\0';
	}
	S.restored[oldest].at = now;
	return 1;
}

/* The restore is over: problem NULL when the tunnel runs again. The session is left
 * active either way (a failure waits for the next heartbeat's try). */
static void act_restore_end(struct sess *s, const char *problem)
{
	metrics_inc("kaiden_session_cf_calls_total", "phase=\"restore\"", s->calls);
	metrics_inc("kaiden_session_restores_total",
	            problem ? "result=\"failed\"" : "result=\"ok\"", 1);
	if (problem)
		log_warn("session=%s device=%s could not restore its tunnel: %s (it stays active; "
		         "tried again in %d s at the earliest)", s->t.id, s->t.device_id, problem,
		         RESTORE_EVERY_MS / 1000);
	else
		log_info("session=%s device=%s tunnel restored in %.1f s", s->t.id, s->t.device_id,
		         (double)(ids_now_ms() - s->started_ms) / 1000.0);
	sess_free(s);
}

static void act_restored(struct sess *s, const char *unused)
{
	(void)unused;
	act_restore_end(s, NULL);
}

static void act_restore_offline(struct sess *s, const char *unused)
{
	(void)unused;
	act_restore_end(s, "the device went offline"); /* its next heartbeat tries again */
}

static void act_restore_timeout(struct sess *s, const char *unused)
{
	char reason[160];

	(void)unused;
	ready_timeout_reason(reason, sizeof(reason));
	act_restore_end(s, reason);
}

static void restore_token(void *arg, const struct tunnel_result *res)
{
	struct sess *s = arg;

	s->op = NULL;
	s->calls += res->calls;
	if (res->rc == TUNNEL_OK)
		machine_run(s, EV_TOKEN_OK, res->token);
	else
		machine_run(s, EV_TOKEN_FAILED, res->reason);
}

static void act_token(struct sess *s, const char *unused)
{
	(void)unused;
	s->op = s->provider->token(&s->t, restore_token, s);
	if (!s->op)
		act_restore_end(s, "could not ask the provider for the tunnel token");
}

static void act_send_restart(struct sess *s, const char *token)
{
	const char *why = send_agent_start(s, token);

	if (why)
		act_restore_end(s, why == OFFLINE ? "the device went offline" : why);
}

/* A session.end job arrived during a restore: drop it (the fetched token creates
 * nothing; a cloudflared being started is stopped by the end path). Counted neither
 * ok nor failed. */
static void act_abandon_restore(struct sess *s, const char *unused)
{
	(void)unused;
	log_info("session=%s ending during a restore of its tunnel", s->t.id);
	if (s->op) {
		s->provider->cancel(s->op);
		s->op = NULL;
	}
	uv_timer_stop(s->timer);
	metrics_inc("kaiden_session_cf_calls_total", "phase=\"restore\"", s->calls);
	s->calls = 0;
	stop_begin(s, 1);
}

/* ---- the machine ------------------------------------------------------------------
 *
 * (phase x event) -> action, next. The machine moves to next, then runs the action
 * (NULL: the event changes nothing in that phase). A pair in no row is a bug: logged,
 * and the machine stays as it is. The comments name the follow-up events an action
 * may raise (in capitals); any action may also give the machine up (see "the
 * actions" above). */

#define IN(p) (1u << (p))
#define STOPS (IN(PH_STOP_ENDING) | IN(PH_STOP_FAILING))
#define TEARDOWNS (IN(PH_TEARDOWN_ENDING) | IN(PH_TEARDOWN_FAILING))
#define PROVISIONS (IN(PH_PROVISION) | IN(PH_PROVISION_ENDING) | IN(PH_PROVISION_FAILING))
#define RESTORES (IN(PH_RESTORE) | IN(PH_RESTORE_WAIT))

typedef void action_fn(struct sess *s, const char *text);

static const struct transition {
	unsigned phases; /* the phases the row applies to */
	enum event event;
	action_fn *action;
	enum phase next;
} machine[] = {
	/* a job or a heartbeat makes a machine from the row; a start may FAIL (or be
	 * requeued when the device's agent is expected back) */
	{ IN(PH_NEW), EV_START, act_provision, PH_PROVISION },
	{ IN(PH_NEW), EV_START_AT_STOP, act_resume_stop, PH_STOP_FAILING },
	{ IN(PH_NEW), EV_START_AT_TEARDOWN, act_resume_teardown, PH_TEARDOWN_FAILING },
	{ IN(PH_NEW), EV_END, act_stop, PH_STOP_ENDING },
	{ IN(PH_NEW), EV_END_AT_TEARDOWN, act_teardown, PH_TEARDOWN_ENDING },
	{ IN(PH_NEW), EV_RESTORE, act_token, PH_RESTORE },
	/* provisioning: tunnel.start sent, unless the device is offline (FAIL); a
	 * transient failure is requeued, or FAILs past the deadline */
	{ IN(PH_PROVISION), EV_PROVISION_OK, act_send_start, PH_AGENT },
	{ IN(PH_PROVISION), EV_PROVISION_FAILED, act_fail_provision, PH_STOP_FAILING },
	{ IN(PH_PROVISION), EV_PROVISION_TRANSIENT, act_provision_paused, PH_PROVISION },
	{ IN(PH_PROVISION), EV_FAIL, act_fail_provision, PH_STOP_FAILING },
	{ IN(PH_PROVISION), EV_END, NULL, PH_PROVISION_ENDING },
	/* the start command went out early (the provider's early result); the session is
	 * active once both the provider and the agent are done. A failure on the agent's
	 * side waits for the provider's call under way (provision_failing); the agent gone
	 * makes the command unsent (back to provision: it goes out once provisioned) */
	{ IN(PH_PROVISION), EV_STARTABLE, act_send_early, PH_PROVISION_STARTED },
	{ IN(PH_PROVISION_STARTED), EV_PROVISION_OK, act_provisioned, PH_AGENT },
	{ IN(PH_PROVISION_STARTED), EV_PROVISION_FAILED, act_fail_provision, PH_STOP_FAILING },
	{ IN(PH_PROVISION_STARTED), EV_PROVISION_TRANSIENT, act_provision_paused,
	  PH_PROVISION_STARTED },
	{ IN(PH_PROVISION_STARTED), EV_FAIL, act_fail_provision, PH_STOP_FAILING },
	{ IN(PH_PROVISION_STARTED), EV_READY, act_note_ready, PH_PROVISION_STARTED },
	{ IN(PH_PROVISION_STARTED), EV_AGENT_FAILED, act_hold_agent_failed, PH_PROVISION_FAILING },
	{ IN(PH_PROVISION_STARTED), EV_OFFLINE, act_early_agent_gone, PH_PROVISION },
	{ IN(PH_PROVISION_STARTED), EV_TIMEOUT, act_hold_timeout, PH_PROVISION_FAILING }, /* stop */
	{ IN(PH_PROVISION_STARTED), EV_END, NULL, PH_PROVISION_ENDING },
	{ IN(PH_PROVISION_FAILING), EV_PROVISION_OK, act_fail_held, PH_STOP_FAILING },
	{ IN(PH_PROVISION_FAILING), EV_PROVISION_FAILED, act_fail_held, PH_STOP_FAILING },
	{ IN(PH_PROVISION_FAILING), EV_PROVISION_TRANSIENT, act_fail_held, PH_STOP_FAILING },
	{ IN(PH_PROVISION_ENDING), EV_PROVISION_OK, act_stop_unstarted, PH_STOP_ENDING },
	{ IN(PH_PROVISION_ENDING), EV_PROVISION_FAILED, act_stop_unstarted, PH_STOP_ENDING },
	{ IN(PH_PROVISION_ENDING), EV_PROVISION_TRANSIENT, act_stop_unstarted, PH_STOP_ENDING },
	/* waiting for the agent: ready makes the session active and frees the machine,
	 * or raises END if the session ended meanwhile */
	{ IN(PH_AGENT), EV_READY, act_activate, PH_AGENT },
	{ IN(PH_AGENT), EV_AGENT_FAILED, act_fail, PH_STOP_FAILING },
	{ IN(PH_AGENT), EV_OFFLINE, act_agent_offline, PH_STOP_FAILING }, /* or waits */
	{ IN(PH_AGENT), EV_TIMEOUT, act_fail_ready_timeout, PH_STOP_FAILING }, /* with stop */
	{ IN(PH_AGENT), EV_FAIL, act_fail, PH_STOP_FAILING },
	{ IN(PH_AGENT), EV_END, act_stop_early, PH_STOP_ENDING },
	/* restoring an active session (the row stays active) */
	{ IN(PH_RESTORE), EV_TOKEN_OK, act_send_restart, PH_RESTORE_WAIT },
	{ IN(PH_RESTORE), EV_TOKEN_FAILED, act_restore_end, PH_DONE },
	{ IN(PH_RESTORE), EV_AGENT_FAILED, NULL, PH_SAME }, /* the old cloudflared's */
	{ IN(PH_RESTORE_WAIT), EV_READY, act_restored, PH_DONE },
	{ IN(PH_RESTORE_WAIT), EV_AGENT_FAILED, act_restore_end, PH_DONE },
	{ IN(PH_RESTORE_WAIT), EV_TIMEOUT, act_restore_timeout, PH_DONE },
	{ RESTORES, EV_OFFLINE, act_restore_offline, PH_DONE },
	{ RESTORES, EV_END, act_abandon_restore, PH_STOP_ENDING },
	/* the end path: stop, then teardown, then ended or failed */
	{ IN(PH_STOP_ENDING), EV_STOPPED, act_teardown, PH_TEARDOWN_ENDING },
	{ IN(PH_STOP_ENDING), EV_NOTHING_TO_STOP, act_teardown, PH_TEARDOWN_ENDING },
	{ IN(PH_STOP_ENDING), EV_OFFLINE, act_teardown, PH_TEARDOWN_ENDING },
	{ IN(PH_STOP_ENDING), EV_TIMEOUT, act_stop_timeout, PH_TEARDOWN_ENDING },
	{ IN(PH_STOP_FAILING), EV_STOPPED, act_teardown, PH_TEARDOWN_FAILING },
	{ IN(PH_STOP_FAILING), EV_NOTHING_TO_STOP, act_teardown, PH_TEARDOWN_FAILING },
	{ IN(PH_STOP_FAILING), EV_OFFLINE, act_teardown, PH_TEARDOWN_FAILING },
	{ IN(PH_STOP_FAILING), EV_TIMEOUT, act_stop_timeout, PH_TEARDOWN_FAILING },
	{ IN(PH_TEARDOWN_ENDING), EV_TORN_DOWN, act_ended, PH_DONE },
	{ IN(PH_TEARDOWN_FAILING), EV_TORN_DOWN, act_failed, PH_DONE },
	{ TEARDOWNS, EV_TEARDOWN_TRANSIENT, act_teardown_paused, PH_DONE },
	/* what the world may send in a phase that does not wait for it: nothing happens
	 * (an end job there finishes with the end path under way) */
	{ PROVISIONS | IN(PH_RESTORE) | STOPS | TEARDOWNS, EV_READY, NULL, PH_SAME },
	{ PROVISIONS | STOPS | TEARDOWNS, EV_AGENT_FAILED, NULL, PH_SAME },
	{ PROVISIONS | IN(PH_PROVISION_STARTED) | IN(PH_AGENT) | RESTORES | TEARDOWNS, EV_STOPPED,
	  NULL, PH_SAME },
	{ PROVISIONS | TEARDOWNS, EV_OFFLINE, NULL, PH_SAME },
	{ IN(PH_PROVISION_ENDING) | IN(PH_PROVISION_FAILING) | STOPS | TEARDOWNS, EV_END, NULL,
	  PH_SAME },
	/* the ready wait of an early start command, or its result, once the start is
	 * ending or failing anyway */
	{ IN(PH_PROVISION_ENDING) | IN(PH_PROVISION_FAILING), EV_TIMEOUT, NULL, PH_SAME },
	{ IN(PH_PROVISION_ENDING), EV_STARTABLE, NULL, PH_SAME },
};

static const char *const phase_names[PH__MAX] = {
	[PH_NEW] = "new", [PH_PROVISION] = "provision", [PH_PROVISION_ENDING] = "provision_ending",
	[PH_PROVISION_STARTED] = "provision_started", [PH_PROVISION_FAILING] = "provision_failing",
	[PH_AGENT] = "agent", [PH_RESTORE] = "restore", [PH_RESTORE_WAIT] = "restore_wait",
	[PH_STOP_ENDING] = "stop_ending", [PH_STOP_FAILING] = "stop_failing",
	[PH_TEARDOWN_ENDING] = "teardown_ending", [PH_TEARDOWN_FAILING] = "teardown_failing",
	[PH_DONE] = "done",
};

static const char *const event_names[EV__MAX] = {
	[EV_START] = "session.start", [EV_START_AT_STOP] = "session.start_at_stop",
	[EV_START_AT_TEARDOWN] = "session.start_at_teardown", [EV_END] = "session.end",
	[EV_END_AT_TEARDOWN] = "session.end_at_teardown", [EV_RESTORE] = "restore",
	[EV_STARTABLE] = "startable", [EV_PROVISION_OK] = "provision_ok", [EV_PROVISION_FAILED] = "provision_failed",
	[EV_PROVISION_TRANSIENT] = "provision_transient", [EV_TOKEN_OK] = "token_ok",
	[EV_TOKEN_FAILED] = "token_failed", [EV_READY] = "tunnel.ready",
	[EV_AGENT_FAILED] = "tunnel.failed", [EV_STOPPED] = "tunnel.stopped",
	[EV_OFFLINE] = "offline", [EV_TIMEOUT] = "timeout", [EV_FAIL] = "fail",
	[EV_NOTHING_TO_STOP] = "nothing_to_stop", [EV_TORN_DOWN] = "torn_down",
	[EV_TEARDOWN_TRANSIENT] = "teardown_transient",
};

static const struct transition *transition_find(enum phase phase, enum event ev)
{
	for (size_t i = 0; i < ARRAY_LEN(machine); i++)
		if ((machine[i].phases & IN(phase)) && machine[i].event == ev)
			return &machine[i];
	return NULL;
}

/* Feeds ev (text: its token, reason or problem, borrowed; never logged here: a token
 * is secret) to the machine. s may be freed when this returns. */
static void machine_run(struct sess *s, enum event ev, const char *text)
{
	const struct transition *tr = transition_find(s->phase, ev);

	if (!tr) {
		log_error("session=%s bug: event %s in phase %s is not in the machine's table; "
		          "ignored", s->t.id, event_names[ev], phase_names[s->phase]);
		return;
	}
	if (tr->next != PH_SAME)
		s->phase = tr->next;
	if (tr->action)
		tr->action(s, text);
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* A step of the provider's teardown (past the stop). */
static int is_provider_teardown_step(const char *step)
{
	return seam_step_is(step, SEAM_STEP_DNS_DELETE) ||
	       seam_step_is(step, SEAM_STEP_TUNNEL_DELETE);
}

static void start_job(const struct store_job *job)
{
	struct store_tunnel t;
	struct sess *s = sess_find(job->session_id);
	int rc;

	if (s) {
		/* A second claim of a start (or a start while ending): this machine carries
		 * on; the new job has nothing to add. */
		if (strcmp(s->start_job, job->id) != 0)
			jobs_finish(job->id, "done", "the session is already being handled", 0);
		return;
	}
	rc = store_tunnel_load(helperd.db, job->tenant_id, job->session_id, &t);
	if (rc != STORE_OK) {
		log_error("session=%s job=%s cannot load the session", job->session_id, job->id);
		jobs_finish(job->id, rc == STORE_NOT_FOUND ? "failed" : "queued",
		            "the session could not be loaded", retry_delay(job->attempts));
		return;
	}
	if (!seam_status_is(t.status, SEAM_STATUS_PENDING)) {
		jobs_finish(job->id, "done", NULL, 0);
		return;
	}
	s = sess_new(&t);
	if (!s) {
		jobs_finish(job->id, "queued", "out of memory", retry_delay(job->attempts));
		return;
	}
	snprintf(s->start_job, sizeof(s->start_job), "%s", job->id);
	s->start_attempts = job->attempts;
	if (seam_step_is(t.step, SEAM_STEP_STOP)) {
		machine_run(s, EV_START_AT_STOP, NULL);
		return;
	}
	if (is_provider_teardown_step(t.step)) {
		machine_run(s, EV_START_AT_TEARDOWN, NULL);
		return;
	}
	log_info("session=%s device=%s starting (attempt %d, step %s)", t.id, t.device_id,
	         job->attempts, t.step[0] ? t.step : "-");
	machine_run(s, EV_START, NULL);
}

static void end_job(const struct store_job *job)
{
	struct store_tunnel t;
	struct sess *s = sess_find(job->session_id);
	int rc;

	if (s) {
		if (s->end_job[0]) {
			if (strcmp(s->end_job, job->id) != 0)
				jobs_finish(job->id, "done", "the session is already ending", 0);
			return;
		}
		snprintf(s->end_job, sizeof(s->end_job), "%s", job->id);
		s->end_attempts = job->attempts;
		machine_run(s, EV_END, NULL);
		return;
	}
	rc = store_tunnel_load(helperd.db, job->tenant_id, job->session_id, &t);
	if (rc != STORE_OK) {
		log_error("session=%s job=%s cannot load the session", job->session_id, job->id);
		jobs_finish(job->id, rc == STORE_NOT_FOUND ? "failed" : "queued",
		            "the session could not be loaded", retry_delay(job->attempts));
		return;
	}
	if (seam_status_is(t.status, SEAM_STATUS_ENDED) ||
	    seam_status_is(t.status, SEAM_STATUS_FAILED)) {
		jobs_finish(job->id, "done", NULL, 0);
		return;
	}
	s = sess_new(&t);
	if (!s) {
		jobs_finish(job->id, "queued", "out of memory", retry_delay(job->attempts));
		return;
	}
	snprintf(s->end_job, sizeof(s->end_job), "%s", job->id);
	s->end_attempts = job->attempts;
	log_info("session=%s device=%s ending (attempt %d, step %s)", t.id, t.device_id,
	         job->attempts, t.step[0] ? t.step : "-");
	machine_run(s, is_provider_teardown_step(t.step) ? EV_END_AT_TEARDOWN : EV_END, NULL);
}

void session_job_start(const struct store_job *job)
{
	enum seam_job kind;

	if (seam_job_parse(job->kind, &kind) != 0) {
		log_error("job=%s unknown kind %s", job->id, job->kind);
		jobs_finish(job->id, "failed", "unknown job kind", 0);
		return;
	}
	switch (kind) {
	case SEAM_JOB_SESSION_START:
		start_job(job);
		break;
	case SEAM_JOB_SESSION_END:
		end_job(job);
		break;
	case SEAM_JOB_WEBHOOK_DELIVER: /* jobs.c gives those to webhook.c */
	case SEAM_JOB_SERVICE_INSTALL: /* cloud services: not run by this helperd yet */
	case SEAM_JOB_SERVICE_UPGRADE:
	case SEAM_JOB_SERVICE_ROLLBACK:
	case SEAM_JOB_SERVICE_UNINSTALL:
	case SEAM_JOB__MAX:
		log_error("job=%s kind %s is not a session's", job->id, job->kind);
		jobs_finish(job->id, "failed", "not a session job", 0);
		break;
	}
}

/* ---- agent events ----------------------------------------------------------------------- */

/* The agent does not run the tunnel of an active session (why says how we know):
 * start it again, unless a machine for the session is in memory or it was tried
 * within RESTORE_EVERY_MS. The row is only read. */
static void restore_begin(const char *tenant_id, const char *id, const char *why)
{
	struct store_tunnel t;
	struct sess *s;
	const char *refusal;

	if (helperd.stopping || sess_find(id) || !restore_due(id))
		return;
	if (store_tunnel_load(helperd.db, tenant_id, id, &t) != STORE_OK) {
		log_warn("session=%s %s, but it could not be loaded to restore it", id, why);
		return;
	}
	if (!seam_status_is(t.status, SEAM_STATUS_ACTIVE) || !hub_online(t.device_id))
		return;
	refusal = provider_for(t.provider)->cannot_restore(&t);
	if (refusal) {
		log_warn("session=%s device=%s %s, and cannot be restored: %s", t.id, t.device_id, why,
		         refusal);
		return;
	}
	s = sess_new(&t);
	if (!s)
		return;
	log_warn("session=%s device=%s %s; restoring it", t.id, t.device_id, why);
	machine_run(s, EV_RESTORE, NULL);
}
/* tunnel.failed for a session no machine waits for: if it is an active session of
 * this device, its tunnel died (cloudflared, or could not start again): restore it. */
static void failed_unawaited(const char *device_id, const char *sid, const char *why)
{
	char ids[RUNNING_MAX][UUID_STR_LEN], tenants[RUNNING_MAX][UUID_STR_LEN];
	char what[1200];
	int n = 0;

	if (store_tunnel_device_sessions(helperd.db, device_id, SEAM_STATUS_BIT(SEAM_STATUS_ACTIVE),
	                                 ids, tenants, NULL, RUNNING_MAX, &n) != STORE_OK)
		return;
	for (int k = 0; k < n; k++)
		if (strcasecmp(ids[k], sid) == 0) {
			snprintf(what, sizeof(what), "is active but its tunnel failed on the agent (%s)",
			         why ? why : "no reason given");
			restore_begin(tenants[k], ids[k], what);
			return;
		}
	log_debug("device=%s tunnel.failed for session %s, which is not active", device_id, sid);
}

void session_agent_message(const char *device_id, const struct proto_msg *msg)
{
	const char *sid = jsonx_str(msg->obj, "session_id");
	struct sess *s = sid ? sess_find(sid) : NULL;
	const char *why = msg->type == PROTO_TUNNEL_FAILED ? jsonx_str(msg->obj, "reason") : NULL;
	char reason[1200];

	if (!s && sid && msg->type == PROTO_TUNNEL_FAILED) {
		failed_unawaited(device_id, sid, why);
		return;
	}
	if (!s || strcasecmp(s->t.device_id, device_id) != 0) {
		log_debug("device=%s %s for session %s, which is not waiting for it", device_id,
		          proto_type_name(msg->type), sid ? sid : "-");
		return;
	}
	switch (msg->type) {
	case PROTO_TUNNEL_READY:
		machine_run(s, EV_READY, NULL);
		break;
	case PROTO_TUNNEL_FAILED:
		snprintf(reason, sizeof(reason), "the agent could not start the tunnel: %s",
		         why ? why : "no reason given");
		machine_run(s, EV_AGENT_FAILED, reason);
		break;
	case PROTO_TUNNEL_STOPPED:
		machine_run(s, EV_STOPPED, NULL);
		break;
	default:
		break;
	}
}

void session_agent_online(const char *device_id, int online)
{
	struct sess *s, *next;

	if (online)
		return;
	for (s = S.all; s; s = next) {
		next = s->next;
		if (strcasecmp(s->t.device_id, device_id) == 0)
			machine_run(s, EV_OFFLINE, NULL);
	}
}

/* Compares the tunnels an agent runs with its device's live sessions: a tunnel for a
 * session that is no longer live is stopped; an active session whose tunnel the agent
 * does not run (it died, or the agent restarted) is restored. The first
 * heartbeat after welcome makes this the reconnect's reconciliation too. */
void session_agent_running(const char *device_id, json_object *sessions)
{
	char ids[RUNNING_MAX][UUID_STR_LEN], tenants[RUNNING_MAX][UUID_STR_LEN];
	enum seam_status states[RUNNING_MAX];
	size_t n = sessions && json_object_is_type(sessions, json_type_array)
	                   ? json_object_array_length(sessions)
	                   : 0;
	int nlive = 0;

	/* One query a heartbeat (the live sessions with their statuses), not one for the
	 * live and another for the active: every agent sends one each helperd.heartbeat. */
	if (store_tunnel_device_sessions(helperd.db, device_id, SEAM_STATUSES_LIVE, ids, tenants,
	                                 states, RUNNING_MAX, &nlive) != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *sid = json_object_get_string(json_object_array_get_idx(sessions, i));
		int live = 0;
		for (int k = 0; sid && k < nlive && !live; k++)
			live = strcasecmp(ids[k], sid) == 0;
		if (sid && !live && !sess_find(sid)) {
			json_object *fields = json_object_new_object();
			log_warn("session=%s device=%s the agent runs a tunnel for a session that is not "
			         "live; stopping it", sid, device_id);
			json_object_object_add(fields, "session_id", json_object_new_string(sid));
			if (hub_send(device_id, PROTO_TUNNEL_STOP, fields) != 0)
				log_debug("device=%s tunnel.stop not sent", device_id);
		}
	}
	for (int k = 0; k < nlive; k++) {
		int running = 0;
		if (states[k] != SEAM_STATUS_ACTIVE)
			continue;
		for (size_t i = 0; i < n && !running; i++) {
			const char *sid = json_object_get_string(json_object_array_get_idx(sessions, i));
			running = sid && strcasecmp(sid, ids[k]) == 0;
		}
		if (!running)
			restore_begin(tenants[k], ids[k],
			              "is active but the agent does not run its tunnel (it died, or "
			              "the agent restarted)");
	}
}

/* ---- sweep ------------------------------------------------------------------------------ */

void session_sweep(void)
{
	struct store_tunnel_due due[SWEEP_DUE_MAX];
	long counts[SEAM_STATUS__MAX];
	int n = 0, kicked = 0;

	if (helperd.stopping)
		return;
	if (store_tunnel_due(helperd.db, (int)cfg_int(CFG_SESSION_MAX_DURATION),
	                     (int)cfg_int(CFG_SESSION_OFFLINE_GRACE), due, SWEEP_DUE_MAX,
	                     &n) != STORE_OK)
		n = 0;
	for (int i = 0; i < n; i++) {
		json_object *out = NULL;
		int changed = 0;
		/* store_session_end: status ending and a session.end job, one transaction. */
		if (store_session_end(helperd.db, due[i].tenant_id, due[i].id, &out, &changed) !=
		    STORE_OK)
			continue;
		json_object_put(out);
		if (!changed)
			continue;
		kicked = 1;
		log_info("session=%s device=%s ending: %s", due[i].id, due[i].device_id,
		         due[i].offline ? "the device has been offline longer than "
		                          "session.offline_grace"
		                        : "it reached session.max_duration");
		metrics_inc("kaiden_sessions_expired_total",
		            due[i].offline ? "reason=\"offline\"" : "reason=\"max_duration\"", 1);
	}
	if (kicked)
		jobs_kick();
	if (store_tunnel_count(helperd.db, counts) == STORE_OK)
		for (int k = 0; k < SEAM_STATUS__MAX; k++) {
			char labels[32];
			snprintf(labels, sizeof(labels), "status=\"%s\"", seam_status_name((enum seam_status)k));
			metrics_set("kaiden_sessions", labels, (double)counts[k]);
		}
}

/* ---- set-up --------------------------------------------------------------------------- */

int session_init(void)
{
	memset(&S, 0, sizeof(S));
	metrics_describe("kaiden_sessions", METRICS_GAUGE, "Sessions by status");
	metrics_describe("kaiden_session_failures_total", METRICS_COUNTER,
	                 "Session starts that failed, by the step they failed at");
	metrics_describe("kaiden_session_start_seconds", METRICS_HISTOGRAM,
	                 "Time from claiming a session.start job to the tunnel being ready");
	metrics_describe("kaiden_session_cf_calls_total", METRICS_COUNTER,
	                 "Cloudflare API requests spent on sessions, by phase");
	metrics_describe("kaiden_sessions_expired_total", METRICS_COUNTER,
	                 "Sessions the sweep ended, by reason");
	metrics_describe("kaiden_session_restores_total", METRICS_COUNTER,
	                 "Restarts of an active session's tunnel the agent no longer ran, by "
	                 "result");
	provider_start();
	return 0;
}

void session_shutdown(void)
{
	/* Machines in flight are abandoned: their jobs stay leased and are resumed from
	 * the recorded step by the next run (jobs.c requeues its own at start). */
	while (S.all)
		sess_free(S.all);
	/* A late hub event (agents are disconnected after this) finds "none" for every
	 * row: it refuses everything and makes nothing. */
	provider_stop();
}

/* ---- the table, for tests (check_session) ------------------------------------------- */

int session_machine_phases(void)
{
	return PH__MAX;
}

int session_machine_events(void)
{
	return EV__MAX;
}

const char *session_machine_phase_name(int phase)
{
	return phase >= 0 && phase < PH__MAX ? phase_names[phase] : NULL;
}

const char *session_machine_event_name(int event)
{
	return event >= 0 && event < EV__MAX ? event_names[event] : NULL;
}

int session_machine_next(int phase, int event, int *has_action)
{
	const struct transition *found = NULL;

	for (size_t i = 0; i < ARRAY_LEN(machine); i++) {
		if (!(machine[i].phases & IN(phase)) || (int)machine[i].event != event)
			continue;
		if (found)
			return -2;
		found = &machine[i];
	}
	if (!found)
		return -1;
	*has_action = found->action != NULL;
	return found->next == PH_SAME ? phase : (int)found->next;
}

int session_machine_probe(int phase, int event)
{
	struct sess probe;
	const struct transition *tr;

	if (phase < 0 || phase >= PH__MAX || event < 0 || event >= EV__MAX)
		return -1;
	tr = transition_find((enum phase)phase, (enum event)event);
	if (tr && tr->action)
		return -1; /* an action would act on a session that does not exist */
	memset(&probe, 0, sizeof(probe));
	snprintf(probe.t.id, sizeof(probe.t.id), "probe");
	probe.phase = (enum phase)phase;
	machine_run(&probe, (enum event)event, NULL);
	return (int)probe.phase;
}
