/* tunnel_choice.h: which tunnel provider new sessions get, from the settings; shared by
 * kaiden-api (which records it on the session row) and helperd (which starts the
 * providers it may be asked for).
 *
 *   tunnel.provider   new sessions get
 *   cloudflare        Cloudflare (its sessions fail, saying which settings to set, while
 *                     they are incomplete)
 *   relay             the relay through helperd
 *   auto (default)    Cloudflare when its settings are complete, else the relay */
#ifndef KAIDEN_TUNNEL_CHOICE_H
#define KAIDEN_TUNNEL_CHOICE_H

#include <stddef.h>
#include "compat.h"
#include "seam.h"

/* The environment names of the Cloudflare settings that are not set, ", "-separated
 * into out (size bytes); "" when they are complete. cloudflare.domain's default is an
 * example and counts as not set. */
void tunnel_cf_missing(char *out, size_t size);

/* The provider a session made now gets (after cfg_load). */
enum seam_provider tunnel_choice(void);

#endif
