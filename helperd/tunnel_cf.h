/* tunnel_cf.h: what the Cloudflare provider's two files share: tunnel_cf.c (a session's
 * objects, the settings) and sweep_cf.c (the orphan sweep). provider.h is the
 * provider's interface to the rest of helperd. */
#ifndef KAIDEN_TUNNEL_CF_H
#define KAIDEN_TUNNEL_CF_H

#include "store_install.h"

/* The account the provider works in, as tunnel_cf_init read it. */
struct tunnel_cf_account {
	char account[64], zone[64];
	char domain[256];                  /* sessions' hostnames are its subdomains */
	char install[INSTALL_ID_LEN + 1];  /* this installation's id (cf_name.h) */
};

/* Borrowed; NULL unless tunnel_cf_init succeeded (and until tunnel_cf_shutdown). */
const struct tunnel_cf_account *tunnel_cf_account(void);

/* Stops a running sweep without its callback (tunnel_cf_shutdown). */
void sweep_cf_cancel(void);

#endif
