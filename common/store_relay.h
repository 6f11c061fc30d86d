/* store_relay.h: what helperd's relay (helperd/relay*.c) reads and writes on session
 * rows: a session as an engineer's connect needs it, the standing of the sessions that
 * have streams (re-read while they run), and the bytes the streams carried.
 *
 * helperd serves every tenant (its connection has kaiden.staff on), so these look a
 * session up by its id alone, platform-wide, and say so in their names; the caller
 * compares the row's tenant with the credential's. Return codes as in store.h. */
#ifndef KAIDEN_STORE_RELAY_H
#define KAIDEN_STORE_RELAY_H

#include <stdint.h>
#include "compat.h"
#include "ids.h"
#include "seam.h"
#include "store.h"

struct db;

/* A session as the relay's connect check needs it. */
struct store_relay_session {
	char id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	char device_id[UUID_STR_LEN];
	char engineer_id[UUID_STR_LEN]; /* "" when no user started it (a service token) */
	enum seam_status status;
	enum seam_provider provider;
	int tenant_suspended;           /* the session's tenant is suspended */
};

/* The session id (either case) platform-wide: STORE_OK with *out, STORE_NOT_FOUND for
 * no such session or not a UUID. */
int store_relay_session_get_any(struct db *db, const char *id,
                                struct store_relay_session *out) WUR;

/* What a running stream's session is now. */
enum store_relay_standing {
	STORE_RELAY_LIVE = 0,    /* active, its tenant not suspended */
	STORE_RELAY_ENDED,       /* not active any more (ending, ended, failed), or gone */
	STORE_RELAY_SUSPENDED    /* active, but its tenant is suspended */
};
/* For n session ids (canonical UUIDs, platform-wide), standing[i] for ids[i]; in
 * batches, a query each. STORE_OK, or the failure (standing then unspecified). */
int store_relay_standing_any(struct db *db, const char *const *ids, int n,
                             unsigned char *standing) WUR;

/* The helperd holding the device's agent (devices.helperd of a device online) into
 * instance (STORE_PEER_INSTANCE_MAX + 1 bytes): STORE_OK, or STORE_NOT_FOUND when no
 * helperd holds it. Issue 15's holder lease may replace what this reads. */
int store_relay_holder_any(struct db *db, const char *device_id, char *instance,
                           size_t size) WUR;

/* Adds what streams carried to the session's bytes_in (engineer -> machine) and
 * bytes_out (machine -> engineer). STORE_NOT_FOUND when the row is gone. */
int store_relay_add_bytes(struct db *db, const char *tenant_id, const char *id,
                          uint64_t bytes_in, uint64_t bytes_out) WUR;

#endif
