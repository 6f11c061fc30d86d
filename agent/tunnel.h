/* tunnel.h: one cloudflared per session, supervised on the agent's lws loop.
 *
 * tunnel_start spawns `<cloudflared> tunnel --no-autoupdate --metrics 127.0.0.1:<port>
 * --loglevel info --grace-period <g> run` with the token only in the child's environment
 * (TUNNEL_TOKEN), polls http://127.0.0.1:<port>/ready from a timer without blocking the
 * loop, and reports through the report callback:
 *
 *   tunnel.ready    /ready answered 200 (again, for a repeated start of a ready session)
 *   tunnel.failed   cloudflared exited, could not be run, or was not ready within
 *                   ready_timeout seconds (then it is killed); reason says which
 *   tunnel.stopped  after tunnel_stop, once the process is gone (at once if there was none)
 *
 * Commands are idempotent (proto.h). Children are reaped with waitpid(WNOHANG) on the
 * same timer; their stdout and stderr go to the agent's log, one line per log line. */
#ifndef KAIDEN_AGENT_TUNNEL_H
#define KAIDEN_AGENT_TUNNEL_H

#include <json-c/json.h>
#include "compat.h"
#include "proto.h"

struct lws_context;

/* type is PROTO_TUNNEL_READY, PROTO_TUNNEL_FAILED (reason set) or PROTO_TUNNEL_STOPPED.
 * Usually called from the timer; answers that need no waiting (ready again, stopped for
 * an unknown session, a failed spawn) are reported before tunnel_start/tunnel_stop
 * return. The callback must not call back into this module. */
typedef void (*tunnel_report_fn)(void *arg, enum proto_type type, const char *session_id,
                                 const char *reason);

struct tunnel_config {
	const char *cloudflared; /* program: a path, or a name looked up on PATH */
	int ready_timeout_s;     /* session.ready_timeout */
	int grace_s;             /* SIGTERM to SIGKILL (default 10) */
	int max_tunnels;         /* refuse more than this many at once (default 16) */
};

/* cfg is copied. 0, or -1 (logged). */
int tunnel_init(struct lws_context *context, const struct tunnel_config *cfg,
                tunnel_report_fn report, void *arg) WUR;
/* token is borrowed and not kept once the child is spawned. metrics_port 0: pick a free
 * one. */
void tunnel_start(const char *session_id, const char *token, int metrics_port);
void tunnel_stop(const char *session_id);
/* The agent stops: SIGTERM to every cloudflared (stopped is reported for each as it
 * exits), and from then on tunnel_start starts nothing and answers nothing. */
void tunnel_stop_all(void);
/* SIGKILL to every cloudflared at once (a second signal to the agent). */
void tunnel_kill_all(void);
/* Owned JSON array of the session ids whose cloudflared is starting or ready. */
json_object *tunnel_sessions(void);
/* Processes not yet reaped, in any state. */
int tunnel_count(void);
/* Frees everything; children still alive are SIGKILLed and reaped. */
void tunnel_clear(void);

#endif
