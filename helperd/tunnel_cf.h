/* tunnel_cf.h: what the Cloudflare provider's two files share: tunnel_cf.c (a session's
 * objects, the settings, the table tunnel_provider_cf) and sweep_cf.c (the orphan
 * sweep). The rest of helperd reaches the provider only through its table
 * (provider.h). */
#ifndef KAIDEN_TUNNEL_CF_H
#define KAIDEN_TUNNEL_CF_H

#include "store_install.h"

/* The account the provider works in, as its init read it. */
struct tunnel_cf_account {
	char account[64], zone[64];
	char domain[256];                  /* sessions' hostnames are its subdomains */
	char install[INSTALL_ID_LEN + 1];  /* this installation's id (cf_name.h) */
};

/* Borrowed; NULL unless the provider's init succeeded (and until its shutdown). */
const struct tunnel_cf_account *tunnel_cf_account(void);

/* The table's sweep (sweep_cf.c): deletes this install's orphans: DNS records, tunnels
 * and Access applications named for its sessions (kaiden-sess-<install>-<short>) that
 * are not live (pending, active or ending), paging through the lists; another
 * install's objects in the same account are never touched. As provider.h's sweep: 0
 * and done (may be NULL) runs when it has finished; -1 before init or while one runs
 * (done does not run). */
int tunnel_cf_sweep(void (*done)(void *arg, int deleted), void *arg);

/* Stops a running sweep without its callback (the provider's shutdown). */
void sweep_cf_cancel(void);

#endif
