/* tunnel_none.c: the "none" provider, which runs a session whose own provider cannot
 * work here (provider.c; today: a Cloudflare session while Cloudflare's settings are
 * incomplete or it could not start). It refuses every session with one sentence per
 * provider that says what to set, and makes nothing, so ending a session has nothing
 * to delete. */
#include "provider.h"

#include <stdio.h>

static char none_reason[SEAM_PROVIDER__MAX][512];

void tunnel_none_set_reason(enum seam_provider which, const char *reason)
{
	if ((unsigned)which < SEAM_PROVIDER__MAX)
		snprintf(none_reason[which], sizeof(none_reason[which]), "%s", reason);
}

static void none_missing_settings(char *out, size_t size)
{
	if (size)
		out[0] = '\0';
}

static int none_init(void)
{
	return 0;
}

static void none_shutdown(void)
{
}

static const char *none_refuse(const struct store_tunnel *t)
{
	if ((unsigned)t->provider < SEAM_PROVIDER__MAX && none_reason[t->provider][0])
		return none_reason[t->provider];
	return "the session's tunnel provider is not available";
}

const struct tunnel_provider tunnel_provider_none = {
	.name = "none",
	.label = "none",
	.missing_settings = none_missing_settings,
	.init = none_init,
	.shutdown = none_shutdown,
	.cannot_provision = none_refuse,
	.cannot_restore = none_refuse,
	/* provision, token, agent_start: never called (both refusals above always
	 * answer); teardown, sweep: nothing is ever made */
};
