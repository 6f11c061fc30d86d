/* tunnel_choice.c: tunnel.provider resolved (tunnel_choice.h). */
#include "tunnel_choice.h"

#include <stdio.h>
#include <string.h>

#include "cfg.h"

void tunnel_cf_missing(char *out, size_t size)
{
	static const struct {
		enum cfg_key key;
		const char *env;
	} need[] = {
		{ CFG_CF_API_TOKEN, "KAIDEN_CF_API_TOKEN" },
		{ CFG_CF_ACCOUNT_ID, "KAIDEN_CF_ACCOUNT_ID" },
		{ CFG_CF_ZONE_ID, "KAIDEN_CF_ZONE_ID" },
		{ CFG_CF_DOMAIN, "KAIDEN_CF_DOMAIN" },
		{ CFG_CF_ACCESS_TEAM, "KAIDEN_CF_ACCESS_TEAM" },
		{ CFG_CF_API_BASE, "KAIDEN_CF_API_BASE" },
	};
	size_t len = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(need); i++) {
		const char *v = cfg_str(need[i].key);
		int w;
		/* cloudflare.domain has a default (kaiden-api needs a domain to name a
		 * session's hostnames), but its default is an example: not set either. */
		if (v && v[0] &&
		    !(need[i].key == CFG_CF_DOMAIN && strcmp(v, CFG_CF_DOMAIN_EXAMPLE) == 0))
			continue;
		w = snprintf(out + len, size - len, "%s%s", len ? ", " : "", need[i].env);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
}

enum seam_provider tunnel_choice(void)
{
	const char *want = cfg_str(CFG_TUNNEL_PROVIDER);
	char missing[256];

	if (strcmp(want, "cloudflare") == 0)
		return SEAM_PROVIDER_CLOUDFLARE;
	if (strcmp(want, "relay") == 0)
		return SEAM_PROVIDER_RELAY;
	tunnel_cf_missing(missing, sizeof(missing));
	return missing[0] ? SEAM_PROVIDER_RELAY : SEAM_PROVIDER_CLOUDFLARE;
}
