/* events_json.h: the pure parts of the browser's event stream (events.h): the events'
 * JSON and the Origin check. No state, no I/O: tests/unit/check_events.c. */
#ifndef KAIDEN_EVENTS_JSON_H
#define KAIDEN_EVENTS_JSON_H

#include <stdint.h>
#include "compat.h"

/* What an agent reported of its machine at its hello (each may be NULL: left out). */
struct events_facts {
	const char *hostname, *os, *agent_version;
};

/* {"type":"device","id":..,"status":"online"|"offline","last_seen":..} and the facts
 * given (hostname, os, agent_version: an online event has them) as a NUL-terminated
 * string (free it), or NULL when out of memory. last_seen_ms <= 0: null. */
char *events_device_json(const char *device_id, int online, int64_t last_seen_ms,
                         const struct events_facts *facts) WUR;

/* {"type":"session","id":..,"device_id":..,"status":..,"step":..} (free it), or NULL.
 * An empty or NULL device_id or step is null. */
char *events_session_json(const char *id, const char *device_id, const char *status,
                          const char *step) WUR;

/* {"type":"node","id":..,"node_name":..,"node_reason":..} (free it), or NULL: a node's
 * agent reported its node. A good reading (reason NULL: node_reason null) adds
 * "node_status" and "unschedulable"; a failed one has neither (the device keeps its last
 * good values). Labels and resources are not in it: the device's GET has them. */
char *events_node_json(const char *device_id, const char *node_name, const char *node_status,
                       int unschedulable, const char *reason) WUR;

/* {"type":"service","id":..,"status":..,"error":..,"pods_ready":n,"pods_total":n,
 * "revision":n} (free it), or NULL: helperd wrote a cloud service's status, error, pods
 * or revision. An empty or NULL error is null. Never its values: the service's GET has
 * what else a page shows. */
char *events_service_json(const char *id, const char *status, const char *error,
                          int pods_ready, int pods_total, int revision) WUR;

/* 1 when origin (the Origin header: "http(s)://host[:port]") names the same host and
 * port as host (the Host header: "host[:port]"), compared without case, a default port
 * (80 for http, 443 for https) written or not; 0 for anything else: absent, "null",
 * another scheme, a path, user info, another host or port. */
int events_origin_ok(const char *origin, const char *host);

#endif
