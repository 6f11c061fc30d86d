/* store_agent.h: what kaiden-helperd's agent hub reads and writes about devices: the
 * credentials an agent's hello is checked against, and presence (online/offline, the
 * facts an agent reports, last_seen, which helperd holds the connection).
 *
 * Unlike the rest of the store, these act across tenants on purpose: an agent presents
 * only its device id (a UUID, unique across tenants), and helperd serves every tenant's
 * agents. The tenant is looked up, never trusted from the agent.
 *
 * Presence writes do not touch updated_at: a heartbeat is telemetry, not an edit of the
 * device, and updated_at tells when someone changed it.
 *
 * Return codes as in store.h; out-parameters are written only on STORE_OK. */
#ifndef KAIDEN_STORE_AGENT_H
#define KAIDEN_STORE_AGENT_H

#include "compat.h"
#include "ids.h"
#include "secret.h"
#include "store.h"

struct db;

/* What a hello is checked against. */
struct store_agent_auth {
	char tenant_id[UUID_STR_LEN];
	char secret_hash[SECRET_HASH_LEN];
	int gone;      /* the device was deleted, or its tenant is suspended */
	int suspended; /* (with gone) it is the tenant's suspension */
};

/* The device's credentials, deleted ones included (gone = 1), so that the hub can tell
 * a deleted device (close 4003) from an unknown one (4001). STORE_NOT_FOUND when no
 * device ever had this id (or it is not a UUID). */
int store_agent_auth_get(struct db *db, const char *device_id,
                         struct store_agent_auth *out) WUR;

/* What an agent reported in its hello (each may be NULL: stored as NULL). */
struct store_agent_facts {
	const char *hostname;
	const char *os;
	const char *ip_address;    /* the client address helperd saw, not the agent's claim */
	const char *agent_version;
};

/* The device is online, held by instance, last_seen now, with these facts.
 * STORE_NOT_FOUND when it is deleted or not in tenant_id. */
int store_agent_online(struct db *db, const char *tenant_id, const char *device_id,
                       const char *instance, const struct store_agent_facts *facts) WUR;

/* last_seen = now for each of the n devices that instance holds (one statement; ids are
 * canonical lower-case UUIDs). *changed (may be NULL) gets how many rows changed. */
int store_agent_seen(struct db *db, const char *instance, const char *const *device_ids,
                     int n, long *changed) WUR;

/* Offline (and held by nobody, last_seen now) for each of the n devices that instance
 * still holds; a device another helperd has taken since is left alone. */
int store_agent_offline(struct db *db, const char *instance, const char *const *device_ids,
                        int n, long *changed) WUR;

/* Whether agents may stay connected: for each of the n devices (canonical lower-case
 * UUIDs), standing[i] gets AGENT_OK, AGENT_DELETED (deleted, or no row at all: its
 * tenant was deleted) or AGENT_SUSPENDED (its tenant is suspended). The hub asks this
 * for the agents it writes last_seen for, and closes the ones no longer welcome. */
enum store_agent_standing { AGENT_OK = 0, AGENT_DELETED = 1, AGENT_SUSPENDED = 2 };
int store_agent_standing(struct db *db, const char *const *device_ids, int n,
                         unsigned char *standing) WUR;

/* Every device instance holds goes offline (last_seen now): at start (a previous run
 * of the same instance died holding them) and at shutdown. */
int store_agent_release(struct db *db, const char *instance, long *changed) WUR;

/* Devices online whose last_seen is older than max_age_seconds and that instance does
 * not hold go offline: their helperd died without marking them (a live helperd keeps
 * last_seen fresh and closes silent agents much sooner). */
int store_agent_expire(struct db *db, const char *instance, int max_age_seconds,
                       long *changed) WUR;

#endif
