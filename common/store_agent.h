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
#include "ticket.h"

struct db;

/* What a hello is checked against. */
struct store_agent_auth {
	char tenant_id[UUID_STR_LEN];
	char secret_hash[SECRET_HASH_LEN];
	long long secret_version; /* one more on every new hash (migration 0018): ticket.h */
	int gone;      /* the device was deleted, or its tenant is suspended */
	int suspended; /* (with gone) it is the tenant's suspension */
};

/* The device's credentials, deleted ones included (gone = 1), so that the hub can tell
 * a deleted device (close 4003) from an unknown one (4001). STORE_NOT_FOUND when no
 * device ever had this id (or it is not a UUID). */
int store_agent_auth_get(struct db *db, const char *device_id,
                         struct store_agent_auth *out) WUR;

/* The deployment's key for agents' resumption tickets (ticket.h), made by the first
 * caller (32 random bytes, stored in server_keys; every helperd of the database gets
 * the same). Needs the staff switch on PostgreSQL (server_keys is staff-only). Never
 * logged. */
int store_agent_ticket_key(struct db *db, unsigned char key[TICKET_KEY_LEN]) WUR;

/* ---- cluster mode: an agent of a Kubernetes node (store_agent_node.c) --------------- */

/* What a cluster hello is checked against: the cluster's tenant and secret hash, deleted
 * clusters included (gone = 1: deleted, or its tenant suspended; suspended as above), so
 * that the hub answers them as it answers a deleted device. STORE_NOT_FOUND when no
 * cluster ever had this id (or it is not a UUID). */
int store_agent_cluster_auth_get(struct db *db, const char *cluster_id,
                                 struct store_agent_auth *out) WUR;

/* The live device of node node_name (a DNS-1123 name, checked by the caller) of the
 * tenant's live cluster cluster_id, found or, when there is none, created (named
 * node_name, offline, with no secret of its own: it authenticates only through its
 * cluster), in one transaction: the same node gets the same device across reconnects,
 * and a name whose device was deleted gets a new one. *created (may be NULL) is 1 when
 * it was made now (a "device.registered" event then goes out in the same transaction).
 * Neither refused by nor counted in max_devices (store_tenant.h): a cluster's nodes come
 * with the cluster (its quota is max_clusters), and a node must not lose its agent to a
 * quota that standalone machines filled.
 * STORE_NOT_FOUND when the cluster is deleted or not the tenant's. */
int store_agent_node_join(struct db *db, const char *tenant_id, const char *cluster_id,
                          const char *node_name, char device_out[UUID_STR_LEN],
                          int *created) WUR;

/* One reading of a node, as its agent's "node" message said it (proto.h checked the
 * shapes). A good reading: every member but reason set (JSON texts for the objects),
 * reason NULL. A failed one: reason only, the other members NULL: the last good values
 * stay and the reason is stored beside them. */
struct store_agent_node {
	const char *labels;        /* JSON object text */
	const char *node_status;   /* Ready, NotReady, Unknown */
	int unschedulable;
	const char *resources;     /* JSON object text */
	const char *versions;      /* JSON object text */
	const char *reason;        /* the Kubernetes API's error, or NULL */
};

/* Stores the reading on the live node device (node_updated_at now; updated_at is left
 * alone, as for presence). STORE_NOT_FOUND when the device is deleted, not the tenant's
 * or not a node. */
int store_agent_node_report(struct db *db, const char *tenant_id, const char *device_id,
                            const struct store_agent_node *node) WUR;

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
 * canonical lower-case UUIDs); one of them found offline (another helperd's sweep took
 * instance for dead while its heartbeat row was late: store_agent_expire) is online
 * again, with its device.online. *changed (may be NULL) gets how many rows instance
 * held. */
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

/* Devices online that instance does not hold go offline (device.offline each, in the
 * same transaction) when their holder is not live (helperd_live: its heartbeat row is
 * more than three beats old, migration 0021) or their last_seen is older than
 * max_age_seconds: their helperd died without marking them (a live helperd keeps
 * last_seen fresh and closes silent agents much sooner). The holder's name stays on
 * the row (see store_agent_seen). */
int store_agent_expire(struct db *db, const char *instance, int max_age_seconds,
                       long *changed) WUR;

#endif
