/* provider.h: what the session machine (session.c) asks of a tunnel provider, as one
 * table of functions, and the providers started at start-up (provider.c).
 *
 * A provider makes and unmakes the public side of a session: provision creates (or,
 * after a lost reply or a restart, finds and adopts) every object the session needs
 * and hands back the token the agent runs its tunnel with; teardown deletes whatever
 * the row says exists. Both work on the machine's copy of the row (struct
 * store_tunnel, borrowed until the callback or a cancel), write each object's id and
 * each step (seam.h's steps) to the database before going on, and resume from the
 * recorded step. token only fetches the tunnel token of a session that is already
 * active again, for restarting its connector; it reads the copy and writes nothing.
 * agent_start builds the one command that has the device's agent run the session; the
 * agent answers it with tunnel.ready or tunnel.failed, and tunnel.stop ends it, whatever
 * the provider.
 *
 * Every operation is asynchronous: its callback runs later on helperd's loop, exactly
 * once unless the operation is cancelled, never before the call that started it has
 * returned.
 *
 *   provider    file(s)                  makes                         agent command
 *   none        tunnel_none.c            nothing: refuses every        (none)
 *                                        session with a reason that
 *                                        names the settings to set
 *   cloudflare  tunnel_cf.c, sweep_cf.c  a tunnel, one Access app      tunnel.start
 *                                        (both hostnames), ingress,    {session_id, token}
 *                                        two DNS records per session;  (any agent)
 *                                        an orphan sweep
 *   relay       tunnel_relay.c           nothing outside helperd (it   relay.start
 *                                        carries the bytes itself,     {session_id, ssh_port,
 *                                        relay*.c); no token, no       web_port} (protocol
 *                                        teardown, no sweep            version 2 and later)
 *
 * Each session row names its provider (sessions.provider, chosen by kaiden-api when the
 * session was made: tunnel_choice.h), and helperd runs it with that one (provider_for)
 * whatever tunnel.provider says now. session.c never asks which provider it has.
 *
 * The early result: provision may call done once before its final result with
 * startable set, rc TUNNEL_OK and the token (calls 0): the agent may be started now
 * (Cloudflare: the tunnel and its ingress exist) while the provider goes on (DNS). That
 * callback must not cancel the operation; the final result still comes, and a session
 * becomes active only after it. A provider that never gives one (the relay) is
 * unaffected. */
#ifndef KAIDEN_PROVIDER_H
#define KAIDEN_PROVIDER_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"
#include "proto.h"
#include "seam.h"
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
	int startable;      /* 1: not the final result, see "The early result" above */
};

typedef void (*tunnel_done_fn)(void *arg, const struct tunnel_result *res);

/* One operation in flight; each provider defines it in its own file. */
struct tunnel_op;

struct tunnel_provider {
	const char *name;  /* as in the logs: "none", "cloudflare", "relay" */
	const char *label; /* as in a sentence: "Cloudflare", "the relay" */
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
	/* The command that has the agent run session t: its type into *type and its
	 * members added to fields. token: what provision or token handed back (NULL for a
	 * provider without one); agent_version: the protocol version the device's agent said
	 * in its hello (hub_version). NULL, or why this agent cannot run the session (a
	 * sentence a person can act on, borrowed; nothing was added). NULL in a provider
	 * that refuses every session. */
	const char *(*agent_start)(const struct store_tunnel *t, const char *token,
	                           int agent_version, enum proto_type *type, json_object *fields);
	/* Deletes this install's objects left behind by sessions that are no longer live.
	 * One sweep at a time: 0 when one started, and done (may be NULL) runs when it has
	 * finished (perhaps before this returns); -1 when none started (one is running, or
	 * the provider is not ready), and done does not run. NULL: the provider leaves
	 * nothing behind. */
	int (*sweep)(void (*done)(void *arg, int deleted), void *arg);
};

extern const struct tunnel_provider tunnel_provider_none;
extern const struct tunnel_provider tunnel_provider_cf;
extern const struct tunnel_provider tunnel_provider_relay;

/* tunnel_none.c: the sentence a session made with provider which is refused with, while
 * that provider cannot work (copied). */
void tunnel_none_set_reason(enum seam_provider which, const char *reason);

/* ---- the providers at hand (provider.c) -------------------------------------------- */

/* Starts every provider that can work, once at start-up: the relay always; Cloudflare
 * when its settings are complete (tunnel_cf_missing) and its init succeeds. Logs which
 * can work and which new sessions get (tunnel_choice), and, when that one cannot work,
 * what to set. */
void provider_start(void);
/* The table that runs a session made with provider which (its row's): the provider when
 * it was started, else "none", whose refusal says which settings to set or that it
 * could not start. Never NULL; borrowed until provider_stop (after it: "none"). */
const struct tunnel_provider *provider_for(enum seam_provider which);
/* Starts the orphan sweep of every started provider that has one: how many started;
 * done (may be NULL) runs once when the last of them has finished (perhaps before this
 * returns), never when none started. One call at a time: a second while the sweeps of a
 * first still run starts nothing and returns 0. */
int provider_sweep(void (*done)(void *arg), void *arg);
/* Shuts the started providers down. */
void provider_stop(void);

#endif
