/* relay_server.h: helperd's side of the built-in relay (agent/PROTOCOL.md, "The relay"
 * and "Engineer side"; agent/relay.h is the agent's).
 *
 * Two WebSocket endpoints on helperd's listener:
 *   GET /api/v1/ws/connect/{session_id}?target=ssh|web   the engineer (kaiden-connect),
 *       Bearer login JWT or API token, no subprotocol; refused before the upgrade with
 *       the API's JSON error (400, 401, 403, 404, 409, 429, 503)
 *   GET /api/v1/ws/stream/{stream_id}                    the agent's data socket for one
 *       stream, subprotocol kaiden-stream, Bearer <the stream's one-time key>; 401
 *       before the upgrade for an unknown stream, a wrong, used or stale key
 * For each accepted engineer socket helperd sends relay.open to the session's device,
 * pairs the data socket the agent opens, and pipes binary frames both ways, at most
 * 256 KiB queued per direction. The stream ends with the close codes of proto.h's enum
 * relay_close; its bytes go to the session row, the audit log and /metrics.
 *
 * Put relay_server_protocol_connect FIRST in the context's protocol list: lws gives a request
 * without a subprotocol to protocols[0], and it sees every upgrade request first
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE), letting the agents' path through to the hub. */
#ifndef KAIDEN_RELAY_SERVER_H
#define KAIDEN_RELAY_SERVER_H

#include "compat.h"
#include "proto.h"

struct lws_protocols;

extern const struct lws_protocols relay_server_protocol_connect;
extern const struct lws_protocols relay_server_protocol_stream;

/* Reads relay.idle_timeout, relay.session_streams, relay.max_streams; starts the
 * watch timer. */
int relay_server_init(void) WUR;
/* helperd is stopping: every stream closes with 4054 (both sockets); new requests get
 * 503. */
void relay_server_shutdown(void);
/* Relay sockets still open (shutdown waits for their close frames). */
int relay_server_connections(void);
/* Streams here. */
int relay_server_count(void);

/* Hub events. The device's agent went away (online 0): its streams close with 4052. */
void relay_server_agent_online(const char *device_id, int online);
/* A relay.failed from the device's agent (msg borrowed): the engineer's socket closes
 * with 4050 and the agent's reason. Other types are ignored. */
void relay_server_agent_message(const char *device_id, const struct proto_msg *msg);

/* The session ended (or is ending): its streams close with 4051 at once. The session
 * machine may call it; the watch finds it within a second anyway. */
void relay_server_session_end(const char *session_id);

#endif
