/* events.h: the browser's event stream, GET /api/v1/ws/events (docs/api.md, "Live
 * events"): the portal learns at once that a device went online or offline, or that a
 * session moved, instead of polling.
 *
 * A WebSocket with subprotocol "kaiden-events" on helperd's listener, behind nginx.
 * Before the upgrade (events_accept.c, refused with the API's JSON error): helperd
 * stopping (503), the total cap (429), the Origin (403: it must name the request's own
 * Host, against cross-site WebSocket hijacking; a browser always sends one), the
 * credential (the kaiden_session cookie, or an Authorization header for scripts: 401),
 * a suspended tenant (403), the per-user cap (429), the tenant (tenant users and
 * service tokens: their own; staff: the default tenant in single mode, ?tenant=ID-or-code
 * in multi mode).
 * Afterwards the server only sends (JSON text frames, events_json.h): the events of that
 * tenant. What the browser sends is ignored. Every EVENTS_RECHECK_S the credential is
 * asked about again (credential_recheck): a logout, a disabled user or a suspended
 * tenant closes the stream with 4055. A ping every EVENTS_PING_S; no pong nor any frame
 * for EVENTS_IDLE_S closes it with 4053. A browser that reads too slowly for its queue
 * (EVENTS_QUEUE_MAX bytes) is closed with 4056: it reconnects and reads afresh. helperd
 * stopping closes with 4054.
 *
 * Events are every helperd's: this one's (the agents connected to it, the sessions and
 * services it runs) and, on PostgreSQL, the others' (events_relay.h). */
#ifndef KAIDEN_EVENTS_H
#define KAIDEN_EVENTS_H

#include <stdint.h>
#include "compat.h"

struct lws;
struct lws_protocols;

#define EVENTS_PATH "/api/v1/ws/events"
#define EVENTS_PER_USER 8         /* streams one user (or token) may hold */
#define EVENTS_MAX 2000           /* streams on one helperd */
#define EVENTS_QUEUE_MAX (64 * 1024)
#define EVENTS_RECHECK_S 5
#define EVENTS_PING_S 30
#define EVENTS_IDLE_S 75

enum events_close {
	EVENTS_CLOSE_IDLE = 4053,     /* no answer to pings */
	EVENTS_CLOSE_SHUTDOWN = 4054, /* helperd is stopping */
	EVENTS_CLOSE_REVOKED = 4055,  /* signed out, user disabled, tenant suspended */
	EVENTS_CLOSE_SLOW = 4056      /* the browser did not read its events */
};

extern const struct lws_protocols events_protocol;

int events_init(void) WUR;
/* Closes every stream with 4054; new requests get 503. */
void events_shutdown(void);
/* Event sockets still open (shutdown waits for them). */
int events_connections(void);

/* The upgrade of EVENTS_PATH (relay_server.c's CONFIRM_UPGRADE hands it here): 0 when
 * accepted (the events protocol takes the socket), 1 when refused with an HTTP answer,
 * -1 when even that failed. */
int events_accept(struct lws *wsi);

struct events_facts;

/* A device of tenant_id went online or offline; last_seen_ms its last sign of life;
 * facts (NULL: none) what its agent reported at its hello. */
void events_device(const char *tenant_id, const char *device_id, int online,
                   int64_t last_seen_ms, const struct events_facts *facts);
/* A node's agent reported its node (events_node_json), once stored. */
void events_node(const char *tenant_id, const char *device_id, const char *node_name,
                 const char *node_status, int unschedulable, const char *reason);
/* helperd wrote a cloud service's row (events_service_json): its status, error, pods
 * and revision as they are now. */
void events_service(const char *tenant_id, const char *id, const char *status,
                    const char *error, int pods_ready, int pods_total, int revision);
/* A session's row moved to status and step (names as the API shows them). */
void events_session(const char *tenant_id, const char *id, const char *device_id,
                    const char *status, const char *step);

#endif
