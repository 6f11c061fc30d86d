/* provider.h: what the session machine (session.c) asks of a tunnel provider.
 *
 * A provider makes and unmakes the public side of a session: provision creates (or,
 * after a lost reply or a restart, finds and adopts) every object the session needs
 * and hands back the token the agent runs its tunnel with; teardown deletes whatever
 * the row says exists. Both work on the machine's copy of the row (struct
 * store_tunnel, borrowed until the callback or a cancel), write each object's id and
 * each step to the database before going on, and resume from the recorded step.
 * token only fetches the tunnel token of a session that is already active again, for
 * restarting its connector; it reads the copy and writes nothing.
 *
 * The one provider so far is Cloudflare (tunnel_cf.c; its orphan sweep in sweep_cf.c). */
#ifndef KAIDEN_PROVIDER_H
#define KAIDEN_PROVIDER_H

#include "compat.h"
#include "store_tunnel.h"

enum tunnel_rc {
	TUNNEL_OK,
	TUNNEL_FAILED,    /* the provider refused: reason says why; retrying won't help */
	TUNNEL_TRANSIENT  /* try again later (5xx, 429 storms, budget, database trouble) */
};

struct tunnel_result {
	enum tunnel_rc rc;
	char reason[512];   /* a sentence a person can act on; "" when rc is TUNNEL_OK */
	const char *token;  /* provision, token: the tunnel token (borrowed for the
	                       callback; secret: never stored or logged) */
	int calls;          /* provider API requests the operation made */
};

typedef void (*tunnel_done_fn)(void *arg, const struct tunnel_result *res);

struct tunnel_op;

/* The steps written to sessions.step, in the order they happen. session.c adds its own
 * ("agent", "active", "stop", "ended", "failed"). */
#define TUNNEL_STEP_TUNNEL "tunnel"
#define TUNNEL_STEP_ACCESS "access"
#define TUNNEL_STEP_CONFIG "config"
#define TUNNEL_STEP_DNS "dns"
#define TUNNEL_STEP_TOKEN "token"
#define TUNNEL_STEP_DNS_DELETE "dns_delete"
#define TUNNEL_STEP_TUNNEL_DELETE "tunnel_delete"

/* ---- Cloudflare (tunnel_cf.c) ---------------------------------------------------- */

/* Starts the API client (cf.h) from the cloudflare.* settings, unless a test has
 * started it already. 0 or -1. */
int tunnel_cf_init(void) WUR;
void tunnel_cf_shutdown(void);
/* Why session t cannot be provisioned, or NULL: cloudflare.access_allow is malformed,
 * or it is empty and the session has no engineer with an email (Access would let
 * nobody in). */
const char *tunnel_cf_cannot_provision(const struct store_tunnel *t);
/* NULL on a setup failure (no callback). */
struct tunnel_op *tunnel_cf_provision(struct store_tunnel *t, tunnel_done_fn done, void *arg);
struct tunnel_op *tunnel_cf_teardown(struct store_tunnel *t, tunnel_done_fn done, void *arg);
/* The token of the session's existing tunnel (t's tunnel id), fetched again, for an
 * active session whose cloudflared must be started anew (session.c's restore). One
 * call; writes nothing to the database, so the row keeps its status and step. The
 * token comes in the result as for provision. NULL on a setup failure, or when t has
 * no tunnel id (no callback). */
struct tunnel_op *tunnel_cf_token(struct store_tunnel *t, tunnel_done_fn done, void *arg);
/* Stops an operation; its callback is not called. */
void tunnel_cf_cancel(struct tunnel_op *op);
/* Deletes this install's orphans (sweep_cf.c): DNS records, tunnels and Access
 * applications named for its sessions (kaiden-sess-<install>-<short>) that are not live
 * (pending, active or ending), paging through the lists; another install's objects in
 * the same account are never touched. One sweep at a time; done (may be NULL) runs when
 * it has finished. */
void tunnel_cf_sweep(void (*done)(void *arg, int deleted), void *arg);

#endif
