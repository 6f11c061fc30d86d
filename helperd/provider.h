/* provider.h: what the session machine (session.c) asks of a tunnel provider, as one
 * table of functions, and the choice of the provider at start-up (provider.c).
 *
 * A provider makes and unmakes the public side of a session: provision creates (or,
 * after a lost reply or a restart, finds and adopts) every object the session needs
 * and hands back the token the agent runs its tunnel with; teardown deletes whatever
 * the row says exists. Both work on the machine's copy of the row (struct
 * store_tunnel, borrowed until the callback or a cancel), write each object's id and
 * each step (seam.h's steps) to the database before going on, and resume from the
 * recorded step. token only fetches the tunnel token of a session that is already
 * active again, for restarting its connector; it reads the copy and writes nothing.
 *
 * Every operation is asynchronous: its callback runs later on helperd's loop, exactly
 * once unless the operation is cancelled, never before the call that started it has
 * returned.
 *
 *   provider     file(s)                   what it does
 *   none         tunnel_none.c             refuses every session with a reason that
 *                                          names the settings to set; makes nothing
 *   cloudflare   tunnel_cf.c, sweep_cf.c   a tunnel, two Access apps, ingress, two DNS
 *                                          records per session; an orphan sweep
 *   relay        (issue 9, not yet)        helperd carries the bytes itself
 *
 * session.c holds the chosen table and never asks which provider it is. */
#ifndef KAIDEN_PROVIDER_H
#define KAIDEN_PROVIDER_H

#include <stddef.h>
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

/* One operation in flight; each provider defines it in its own file. */
struct tunnel_op;

struct tunnel_provider {
	const char *name;  /* as in the logs: "none", "cloudflare" */
	const char *label; /* as in a sentence: "Cloudflare" */
	/* The settings check: the environment names of the settings this provider needs
	 * that are not set, ", "-separated into out (size bytes); "" when complete. */
	void (*missing_settings)(char *out, size_t size);
	/* Starts the provider from its settings (after missing_settings found none
	 * missing). 0, or -1 when it cannot be used (logged). */
	int (*init)(void);
	void (*shutdown)(void);
	/* Why session t cannot be provisioned (a sentence, borrowed), or NULL. */
	const char *(*cannot_provision)(const struct store_tunnel *t);
	/* Why the tunnel of active session t cannot be started again, or NULL. */
	const char *(*cannot_restore)(const struct store_tunnel *t);
	/* The operations. Each returns NULL on a setup failure (no callback). They are
	 * called only when cannot_provision (provision) or cannot_restore (token)
	 * returned NULL, so a provider that refuses every session leaves them NULL. */
	struct tunnel_op *(*provision)(struct store_tunnel *t, tunnel_done_fn done, void *arg);
	struct tunnel_op *(*token)(struct store_tunnel *t, tunnel_done_fn done, void *arg);
	/* NULL: the provider makes nothing outside helperd, so the end path has nothing to
	 * delete and finishes at once. */
	struct tunnel_op *(*teardown)(struct store_tunnel *t, tunnel_done_fn done, void *arg);
	/* Stops an operation; its callback is not called. */
	void (*cancel)(struct tunnel_op *op);
	/* Deletes this install's objects left behind by sessions that are no longer live.
	 * One sweep at a time; done (may be NULL) runs when it has finished. NULL: the
	 * provider leaves nothing behind. */
	void (*sweep)(void (*done)(void *arg, int deleted), void *arg);
};

extern const struct tunnel_provider tunnel_provider_none;
extern const struct tunnel_provider tunnel_provider_cf;

/* tunnel_none.c: the sentence every session is refused with (copied). */
void tunnel_none_set_reason(const char *reason);

/* ---- the choice (provider.c) ----------------------------------------------------- */

/* Chooses and starts the provider, once at start-up: Cloudflare when its settings are
 * complete and it starts, else "none", whose reason says which settings to set or that
 * Cloudflare could not start (logged clearly either way). Never NULL; borrowed until
 * provider_stop. (Issue 9's tunnel.provider setting and the relay plug in here.) */
const struct tunnel_provider *provider_start(void);
/* Shuts the chosen provider down. */
void provider_stop(void);

#endif
