/* hub_util.h: the hub's pure parts, kept apart so unit tests reach them without a
 * socket (private to hub.c, relay_from.c and tests/unit/check_hub.c).
 *
 *   - hub_addr_pick: which address an agent connects from. The socket's peer, unless
 *     the peer is our own reverse proxy (loopback, or the Unix socket nginx uses): then
 *     the address the proxy reports. nginx's `$proxy_add_x_forwarded_for` appends the
 *     address it saw to whatever the client sent, so only the LAST X-Forwarded-For
 *     entry is the proxy's word; the ones before it are the client's claims. X-Real-IP
 *     is used only when there is no X-Forwarded-For (nginx passes a client's X-Real-IP
 *     through unless told to set it).
 *   - struct hub_rate: failed authentications per address, as token buckets: HUB_RATE_BURST
 *     failures at once, then one more every HUB_RATE_REFILL_MS. A fixed table (no
 *     allocation per address): an address is hashed to a small window of slots, and a
 *     full window gives up its stalest entry, so a flood of addresses costs memory
 *     never, and at worst forgets old offenders. */
#ifndef KAIDEN_HUB_UTIL_H
#define KAIDEN_HUB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"

#define HUB_ADDR_LEN 48 /* an IPv6 text address plus NUL, with room */

/* 1 if s is an IPv4 or IPv6 address in text. */
int hub_addr_is_ip(const char *s);
/* 1 if addr (text) is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
int hub_addr_is_loopback(const char *addr);

/* The client address into out (HUB_ADDR_LEN). peer: the socket's peer (may be "" for
 * a Unix socket); trusted: the peer is our proxy; xff / xrealip: the headers or NULL.
 * A header value that is not an IP address is ignored. */
void hub_addr_pick(const char *peer, int trusted, const char *xff, const char *xrealip,
                   char out[HUB_ADDR_LEN]);

#define HUB_RATE_SLOTS 4096
#define HUB_RATE_WINDOW 8
#define HUB_RATE_BURST 5
#define HUB_RATE_REFILL_MS 12000

struct hub_rate_entry {
	char addr[HUB_ADDR_LEN];
	double tokens;
	int64_t at_ms; /* when tokens was last brought up to date */
};

struct hub_rate {
	struct hub_rate_entry slot[HUB_RATE_SLOTS];
};

void hub_rate_init(struct hub_rate *r);
/* 1 if addr has no failures left right now. */
int hub_rate_limited(struct hub_rate *r, const char *addr, int64_t now_ms);
/* Counts one failure for addr. */
void hub_rate_fail(struct hub_rate *r, const char *addr, int64_t now_ms);

/* Device id -> value, for the hub's connections (open hashing, grows by doubling).
 * Keys are copied; values are borrowed pointers. */
struct hub_map_node;
struct hub_map {
	struct hub_map_node **bucket;
	size_t nbuckets, count;
};

void hub_map_init(struct hub_map *m);
void hub_map_clear(struct hub_map *m);
void *hub_map_get(const struct hub_map *m, const char *key);
/* Sets key -> value (replacing): 0, or -1 out of memory. */
int hub_map_put(struct hub_map *m, const char *key, void *value) WUR;
/* Removes key if it maps to value (or to anything when value is NULL). 1 if removed. */
int hub_map_del(struct hub_map *m, const char *key, const void *value);

#endif
