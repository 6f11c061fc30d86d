/* cf_name.h: the names helperd gives the Cloudflare objects of a session, and how the
 * orphan sweep reads them back.
 *
 *   kaiden-sess-<install>-<short>       the tunnel, the web Access app, both DNS
 *                                       records' comment
 *   kaiden-sess-<install>-<short>-ssh   the ssh Access app
 *
 * <install> is this installation's id (store_install.h, 8 of [a-z2-7]), <short> the
 * session's short id (10 of [a-z2-7]): at most 35 characters, within every Cloudflare
 * limit (DNS comments: 100 on the free plan). Hostnames do not carry the install id
 * (sess-<short>.<domain> stays as short as it was). Names made before issue 8 have no
 * install id: kaiden-sess-<short>[-ssh], told apart by the character after 8 of them
 * ('-' or not). */
#ifndef KAIDEN_CF_NAME_H
#define KAIDEN_CF_NAME_H

#include "compat.h"
#include "ids.h"
#include "store_install.h"

#define CF_NAME_PREFIX "kaiden-sess-"
#define CF_NAME_SIZE 48 /* bytes for any name above, NUL included */

/* The name of a session's object into out; ssh: the ssh Access app's. */
void cf_name_make(char out[CF_NAME_SIZE], const char *install, const char *short_id, int ssh);

struct cf_name {
	int legacy;                        /* made before issue 8: no install id */
	char install[INSTALL_ID_LEN + 1];  /* "" when legacy */
	char short_id[SHORT_ID_LEN + 1];
	int ssh;                           /* ends in -ssh */
};

/* 0 and out filled when name is one of the forms above; -1 otherwise (NULL too). */
int cf_name_parse(const char *name, struct cf_name *out) WUR;

#endif
