/* status.h: this helperd's row in helperd_status (store_status.h), written at start-up and
 * every STATUS_EVERY_S seconds after: version, start time, agents connected, relay
 * streams open, the Cloudflare budget spent. GET /api/v1/admin/system reads the rows; a
 * helperd whose row stops moving is shown as not running, and the agents it held read
 * offline (its row is their holder's lease: migration 0021). */
#ifndef KAIDEN_HELPERD_STATUS_H
#define KAIDEN_HELPERD_STATUS_H

#include "compat.h"

#define STATUS_EVERY_S 5

int status_init(void) WUR;
void status_shutdown(void);

#endif
