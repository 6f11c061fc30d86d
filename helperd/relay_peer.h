/* relay_peer.h: relay streams across helperds (issue 15). With several helperds behind
 * one nginx, an engineer's /api/v1/ws/connect/{session} may reach a helperd that does
 * not hold the session's agent, and an agent's data socket /api/v1/ws/stream/{stream}
 * one where its stream does not wait. Such a socket is accepted here all the same and
 * joined, byte for byte, to the same request made to the helperd that has the other end
 * (a WebSocket client of ours to its peer_address): that helperd checks the request
 * again as its own (the engineer's credential, or the stream's key, pass through) and
 * runs the stream as usual (relay.open, accounts, audit, standing); this one only
 * carries bytes and close codes. One hop at most: a request that comes from a peer
 * (header X-Kaiden-Relay-Hop) is never forwarded again.
 *
 * Who has the other end: for a connect, the helperd holding the device's agent
 * (store_relay_holder_any); for a data socket, the helperd whose tag the stream id ends
 * with (relay_peer_tag: the last 8 hex digits of every stream id a helperd makes are a
 * hash of its instance name), among the running helperds (store_status_peers). */
#ifndef KAIDEN_RELAY_PEER_H
#define KAIDEN_RELAY_PEER_H

#include <stddef.h>
#include "compat.h"
#include "hub_util.h"
#include "ids.h"

struct lws;
struct lws_protocols;
struct relay_pending;
struct relay_stream;

/* The client side of a forwarded stream: put it in the context's protocol list (any
 * place after protocols[0]). */
extern const struct lws_protocols relay_server_protocol_peer;

/* Reads helperd.peer_address (or derives it from helperd.listen); logs it. */
void relay_peer_init(void);
/* Where the other helperds reach this one ("" when they cannot): for the status row. */
const char *relay_peer_address(void);

/* Ends a new stream id with this helperd's tag. */
void relay_peer_tag(char id[UUID_STR_LEN]);

/* 1 when the request came from another helperd (never forwarded again). */
int relay_peer_hop(struct lws *wsi);
/* A connect forwarded here by another helperd: the engineer's address it vouches for
 * (relay_from.h) into addr, which holds the socket's; left as it is when the request is
 * not a peer's or carries none, and logged when the voucher does not check out. */
void relay_peer_vouched(struct lws *wsi, const char *session_id, char addr[HUB_ADDR_LEN]);
/* A connect whose device's agent is not here: 1 with out's forward members set when the
 * helperd holding it can be reached, else 0. */
int relay_peer_route_connect(const char *device_id, struct relay_pending *out);
/* A data socket for a stream not waiting here: 1 with out's forward members set when
 * the stream's helperd can be reached, else 0. */
int relay_peer_route_stream(const char *stream_id, struct relay_pending *out);

/* The accepted socket wsi of a forwarded request became stream s: connects to the peer
 * (s is paired when it answers). 0, or -1 (nothing started). */
int relay_peer_start(struct relay_stream *s, struct lws *wsi, const struct relay_pending *p);
/* Stream s is being freed: its client (if still there) lets go of it and closes. */
void relay_peer_detach(struct relay_stream *s);

#endif
