/* relay.h: kaiden-agent's side of the relay (agent/PROTOCOL.md, "The relay (protocol
 * version 2)"): the relay sessions helperd gave it (relay.start), and the decision
 * whether a relay.open may become a stream (stream.c carries the bytes).
 *
 *   relay.start {session_id, ssh_port, web_port}  remember it; tunnel.ready (again, for a
 *                                                  repeat: idempotent)
 *   tunnel.stop {session_id}                       close its streams, forget it;
 *                                                  tunnel.stopped
 *   relay.open {session_id, stream_id, target, key}
 *       the session must be one it accepted, the target's port must be in
 *       agent.relay_ports (whatever helperd says), and the connection goes to 127.0.0.1
 *       only; any failure is relay.failed {session_id, stream_id, reason}.
 *
 * Accepted sessions are listed in heartbeats beside the cloudflared tunnels. The agent
 * keeps nothing across its restarts. */
#ifndef KAIDEN_AGENT_RELAY_H
#define KAIDEN_AGENT_RELAY_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"
#include "proto.h"

struct lws_context;

#define RELAY_PORTS_MAX 64
#define RELAY_SESSIONS_MAX 256

/* The loopback ports relay streams may reach (agent.relay_ports). */
struct relay_ports {
	int n;
	int port[RELAY_PORTS_MAX];
};

/* Parses "22,8080" (spaces around items allowed; "" allows none). 0, or -1 with a
 * sentence in err naming the bad item. out is written only on success. */
int relay_ports_parse(const char *text, struct relay_ports *out, char *err,
                      size_t errlen) WUR;
/* 1 if port is in the list. */
int relay_ports_allow(const struct relay_ports *ports, int port);
/* "22,8080" (or "none"), for logs and reasons. */
void relay_ports_format(const struct relay_ports *ports, char *out, size_t outlen);

/* Sends a message to helperd (fields taken, see proto_build): link_send. */
typedef void (*relay_send_fn)(enum proto_type type, json_object *fields);

struct relay_config {
	const char *server_url;   /* the control URL: data sockets go to its host */
	int insecure;             /* allow ws:// (as the control link) */
	struct relay_ports ports;
};

/* cfg is copied. Call after the lws context exists. 0, or -1 (logged). */
int relay_init(struct lws_context *context, const struct relay_config *cfg,
               relay_send_fn send) WUR;
/* The link's handlers. Strings are borrowed for the call; key is copied by the stream
 * and wiped once used. */
void relay_start(const char *session_id, int ssh_port, int web_port);
void relay_open(const char *session_id, const char *stream_id, const char *target,
                const char *key);
/* tunnel.stop: 1 if it was a relay session (its streams are closed, it is forgotten and
 * tunnel.stopped is sent), 0 if not (the caller asks the cloudflared side). */
int relay_stop(const char *session_id);
/* Agent shutdown: every stream closed, every session forgotten (tunnel.stopped each);
 * a relay.start after it is not accepted and not answered. */
void relay_stop_all(void);
/* Appends the accepted sessions' ids to a JSON array (the heartbeat's list). */
void relay_sessions_add(json_object *array);
/* Relay sessions remembered; streams not yet freed. */
int relay_session_count(void);
int relay_stream_count(void);
/* Frees everything; before lws_context_destroy. */
void relay_clear(void);

#endif
