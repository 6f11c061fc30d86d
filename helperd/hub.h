/* hub.h: the agents' WebSocket hub (lws protocol "kaiden-agent" at /api/v1/ws/agent).
 *
 * hub.c authenticates each agent's hello (device id + secret against the argon2id hash,
 * verified off the loop), marks the device online with the facts it reported, keeps
 * last_seen from heartbeats (batched writes), closes agents whose heartbeats stop,
 * replaces an older connection of the same device with a newer one, and rate-limits
 * failed attempts per source address. Writes happen only from the WRITEABLE callback,
 * through a per-connection queue.
 *
 * The session module talks to agents only through this interface. */
#ifndef KAIDEN_HUB_H
#define KAIDEN_HUB_H

#include <json-c/json.h>
#include "compat.h"
#include "hub_util.h"
#include "proto.h"

struct lws;
struct lws_protocols;

/* What the hub tells the session module. */
struct hub_events {
	/* An agent authenticated (online = 1) or went away (online = 0). */
	void (*online)(const char *device_id, int online);
	/* A message other than hello/heartbeat from an authenticated agent
	 * (tunnel.ready, tunnel.failed, tunnel.stopped, relay.failed). msg is borrowed. */
	void (*message)(const char *device_id, const struct proto_msg *msg);
	/* A heartbeat's list of running sessions (borrowed array of session id strings). */
	void (*running)(const char *device_id, json_object *sessions);
};

/* The lws protocol entry to put in the context's protocol list. */
extern const struct lws_protocols hub_protocol;

int hub_init(const struct hub_events *events) WUR;
/* Closes every agent with PROTO_CLOSE_SHUTDOWN and flushes last_seen. */
void hub_shutdown(void);
/* Queues a message for the device's agent: 0, or -1 when it is not connected to this
 * helperd. fields' members are taken (see proto_build). */
int hub_send(const char *device_id, enum proto_type type, json_object *fields) WUR;
/* 1 if the device's agent is connected and authenticated here. */
int hub_online(const char *device_id);
/* The protocol version the device's agent said in its hello (proto.h; relay messages
 * need 2), or 0 when it is not connected and authenticated here. */
int hub_version(const char *device_id);
/* The address a WebSocket client connected from, as the hub records it: behind a
 * trusted proxy (helperd.listen a Unix socket, or a loopback peer) the one
 * X-Forwarded-For / X-Real-IP name, else the peer (hub_util.h's hub_addr_pick). */
void hub_client_addr(struct lws *wsi, char out[HUB_ADDR_LEN]);
/* Authenticated agents connected here. */
int hub_count(void);
/* WebSocket connections here, authenticated or not (for shutdown and tests). */
int hub_connections(void);
/* Frees what hub_shutdown left (after the lws context is destroyed). */
void hub_free(void);

#endif
