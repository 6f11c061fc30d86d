/* provider.c: the tunnel providers at hand (provider.h).
 *
 * At start-up every provider that can work is started: the relay always (it needs no
 * setting), Cloudflare when its settings are complete and its init succeeds. A session
 * runs with the provider its row names; a provider that was not started hands its
 * sessions to "none", with a refusal that says what to set. tunnel.provider only
 * decides what kaiden-api writes on new rows (tunnel_choice.h); it is logged here so
 * that the log says what new sessions get. */
#include "provider.h"

#include <stdio.h>

#include "cfg.h"
#include "log.h"
#include "tunnel_choice.h"

/* Each seam_provider's table. */
static const struct tunnel_provider *const tables[SEAM_PROVIDER__MAX] = {
	[SEAM_PROVIDER_RELAY] = &tunnel_provider_relay,
	[SEAM_PROVIDER_CLOUDFLARE] = &tunnel_provider_cf,
};

static struct {
	int started;
	int up[SEAM_PROVIDER__MAX]; /* init succeeded (and not yet shut down) */
	char why[SEAM_PROVIDER__MAX][512]; /* why one is not up: the refusal of its rows */
	int sweeps;                        /* provider_sweep: sweeps still running (+1) */
	void (*sweep_done)(void *arg);
	void *sweep_arg;
} P;

/* Starts one provider: 1 when it is up, else 0 with P.why[which] set. */
static int start_one(enum seam_provider which)
{
	const struct tunnel_provider *p = tables[which];
	char missing[256];

	p->missing_settings(missing, sizeof(missing));
	if (missing[0]) {
		/* Not an error: most installs use one provider. The refusal says how to get
		 * the other one, and that the relay needs nothing. */
		snprintf(P.why[which], sizeof(P.why[which]),
		         "%s is not configured: set %s (or set KAIDEN_TUNNEL_PROVIDER=relay to use "
		         "the built-in relay)", p->label, missing);
		return 0;
	}
	if (p->init() != 0) {
		snprintf(P.why[which], sizeof(P.why[which]),
		         "the %s tunnel provider could not start (see helperd's log)", p->name);
		log_error("tunnel provider=%s could not start: its sessions will fail", p->name);
		return 0;
	}
	P.up[which] = 1;
	return 1;
}

void provider_start(void)
{
	enum seam_provider want = tunnel_choice();
	const char *setting = cfg_str(CFG_TUNNEL_PROVIDER);

	P.started = 1;
	for (int i = 0; i < SEAM_PROVIDER__MAX; i++) {
		P.up[i] = 0;
		if (start_one((enum seam_provider)i)) {
			log_info("tunnel provider=%s ready", tables[i]->name);
		} else {
			tunnel_none_set_reason((enum seam_provider)i, P.why[i]);
			log_info("tunnel provider=%s unavailable: %s", tables[i]->name, P.why[i]);
		}
	}
	if (P.up[want])
		log_info("tunnel new sessions get provider=%s (tunnel.provider=%s)",
		         tables[want]->name, setting);
	else
		log_warn("tunnel new sessions get provider=%s (tunnel.provider=%s), which cannot "
		         "work here (every new session will fail): %s",
		         tables[want]->name, setting, P.why[want]);
}

const struct tunnel_provider *provider_for(enum seam_provider which)
{
	if ((unsigned)which < SEAM_PROVIDER__MAX && P.up[which])
		return tables[which];
	return &tunnel_provider_none;
}

/* One provider's sweep has finished: the last one calls the caller's done. */
static void provider_swept(void *arg, int deleted)
{
	(void)arg;
	(void)deleted;
	if (P.sweeps > 0 && --P.sweeps == 0 && P.sweep_done)
		P.sweep_done(P.sweep_arg);
}

int provider_sweep(void (*done)(void *arg), void *arg)
{
	int started = 0;

	if (P.sweeps > 0)
		return 0;
	P.sweep_done = NULL;
	/* Held at 1 while starting them, so a sweep that finishes at once does not call
	 * done before the rest have started. */
	P.sweeps = 1;
	for (int i = 0; i < SEAM_PROVIDER__MAX; i++)
		if (P.up[i] && tables[i]->sweep) {
			P.sweeps++;
			if (tables[i]->sweep(provider_swept, NULL) == 0)
				started++;
			else
				P.sweeps--;
		}
	P.sweep_done = started ? done : NULL;
	P.sweep_arg = arg;
	provider_swept(NULL, 0);
	return started;
}

void provider_stop(void)
{
	if (!P.started)
		return;
	for (int i = 0; i < SEAM_PROVIDER__MAX; i++) {
		if (P.up[i])
			tables[i]->shutdown();
		P.up[i] = 0;
		/* A late hub event finds "none", which refuses everything and makes nothing. */
		tunnel_none_set_reason((enum seam_provider)i, "helperd is stopping");
	}
	P.started = 0;
	/* A running sweep was cancelled without its callback. */
	P.sweeps = 0;
	P.sweep_done = NULL;
}
