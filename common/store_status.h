/* store_status.h: the system's state at a glance, for platform staff (GET
 * /api/v1/admin/system): each kaiden-helperd's heartbeat row (table helperd_status,
 * written by helperd/status.c every few seconds) and counts of jobs, devices and sessions
 * across every tenant. Call it where every tenant's rows are visible (PostgreSQL:
 * kaiden.staff on, as platform staff and helperd are). */
#ifndef KAIDEN_STORE_STATUS_H
#define KAIDEN_STORE_STATUS_H

#include <json-c/json.h>
#include "compat.h"
#include "ids.h"

struct db;

/* A helperd is "not running" when its last beat is older than this many of its own
 * intervals. */
#define STORE_STATUS_STALE_BEATS 3
/* Rows silent this long are deleted by the next beat of any helperd. */
#define STORE_STATUS_PRUNE_S (7 * 24 * 3600)

/* One helperd's beat. cf_budget 0: this helperd runs no Cloudflare client (cf_used and
 * cf_window_s are then not stored). */
struct store_beat {
	const char *instance;   /* helperd.instance, 1..128 characters */
	const char *version;
	const char *started_at; /* RFC 3339 */
	int every_s;            /* seconds between beats, >= 1 */
	int agents;             /* agents connected to it now */
	int relay_streams;      /* relay streams open through it now */
	int cf_used, cf_budget, cf_window_s;
	const char *peer_address; /* helperd.peer_address as used, NULL: none (1..300) */
};

/* Writes (inserts or replaces) the instance's row with heartbeat_at = now, and prunes
 * rows silent for STORE_STATUS_PRUNE_S. STORE_OK or STORE_ERR. */
int store_status_beat(struct db *db, const struct store_beat *beat) WUR;

/* The status object:
 *   {"checked_at", "helperds":[{"instance","version","started_at","heartbeat_at",
 *     "every_seconds","running","agents","relay_streams",
 *     "cloudflare":{"calls_used","budget","window_seconds"}|null}...] (by instance),
 *    "jobs":{"queued","running","failed","done"},
 *    "devices":{"online","total"} (not deleted),
 *    "sessions":{"pending","active","ending","ended","failed"}}
 * running: the helperd_live view lists it (heartbeat_at within STORE_STATUS_STALE_BEATS *
 * every_seconds of the database's clock); now_ms (0: the clock) is checked_at. A stopped helperd keeps agents/relay_streams as it last wrote them;
 * the reader should show them only while running. STORE_OK or STORE_ERR. */
int store_status_get(struct db *db, int64_t now_ms, json_object **out) WUR;

/* A helperd that runs (as store_status_get's "running") and can be reached by its
 * peers: its instance and peer_address. */
#define STORE_PEER_INSTANCE_MAX 128
#define STORE_PEER_ADDRESS_MAX 300
struct store_peer {
	char instance[STORE_PEER_INSTANCE_MAX + 1];
	char address[STORE_PEER_ADDRESS_MAX + 1];
};
/* The running helperds with a peer_address, at most max of them into out (*n), by
 * instance; with instance not NULL only that one (*n 0 or 1). STORE_OK or STORE_ERR. */
int store_status_peers(struct db *db, const char *instance, struct store_peer *out, int max,
                       int *n) WUR;

#endif
