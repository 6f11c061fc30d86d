/* tunnel_none.c: the "none" provider, chosen when no other can work (provider.c). It
 * refuses every session with one sentence that says what to set, and makes nothing,
 * so ending a session has nothing to delete. */
#include "provider.h"

#include <stdio.h>

static char none_reason[512] = "no tunnel provider is configured";

void tunnel_none_set_reason(const char *reason)
{
	snprintf(none_reason, sizeof(none_reason), "%s", reason);
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
	(void)t;
	return none_reason;
}

const struct tunnel_provider tunnel_provider_none = {
	.name = "none",
	.label = "none",
	.missing_settings = none_missing_settings,
	.init = none_init,
	.shutdown = none_shutdown,
	.cannot_provision = none_refuse,
	.cannot_restore = none_refuse,
	/* provision, token: never called (both refusals above always answer);
	 * teardown, sweep: nothing is ever made */
};
