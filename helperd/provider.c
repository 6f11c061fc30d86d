/* provider.c: chooses the tunnel provider once at start-up (provider.h).
 *
 * Today the choice is Cloudflare when its settings are complete and it starts, else
 * "none". Issue 9 adds the relay and a tunnel.provider setting
 * (cloudflare | relay | auto): the relay becomes what "auto" falls back to instead of
 * "none", in choose() below. */
#include "provider.h"

#include <stdio.h>

#include "log.h"

static const struct tunnel_provider *chosen;

/* The provider the settings ask for. */
static const struct tunnel_provider *choose(void)
{
	return &tunnel_provider_cf;
}

/* The provider asked for cannot be used: "none" refuses every session with reason. */
static const struct tunnel_provider *fall_back(const char *reason)
{
	tunnel_none_set_reason(reason);
	chosen = &tunnel_provider_none;
	return chosen;
}

const struct tunnel_provider *provider_start(void)
{
	const struct tunnel_provider *want = choose();
	char missing[256], reason[512];

	want->missing_settings(missing, sizeof(missing));
	if (missing[0]) {
		snprintf(reason, sizeof(reason), "no tunnel provider is configured: set %s", missing);
		log_warn("tunnel provider=none: %s (every session will fail until they are set)",
		         reason);
		return fall_back(reason);
	}
	if (want->init() != 0) {
		snprintf(reason, sizeof(reason),
		         "no tunnel provider is configured: the %s provider could not start "
		         "(see helperd's log)", want->label);
		log_error("tunnel provider=none: %s", reason);
		return fall_back(reason);
	}
	chosen = want;
	return chosen;
}

void provider_stop(void)
{
	if (chosen)
		chosen->shutdown();
	chosen = NULL;
}
