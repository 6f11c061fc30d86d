/* proto.h: the agent <-> helperd wire protocol (agent/PROTOCOL.md says it in prose).
 *
 * One WebSocket text frame is one JSON object of at most PROTO_MAX_MSG bytes with a
 * "type" member; every other member is per type (below). Unknown members are refused
 * (a protocol error), so both sides find mistakes early; a new optional member needs a
 * new PROTO_VERSION. Commands carry the session_id they act on and are idempotent: a
 * repeated tunnel.start for a running session answers tunnel.ready again, a
 * tunnel.stop for a stopped one answers tunnel.stopped again.
 *
 *   agent -> helperd
 *     hello          {version, device_id, secret, ticket?, agent_version, hostname, os,
 *                    arch} first message; nothing else is accepted before welcome.
 *                    Version 3: a node's agent gives cluster_id and node_name instead of
 *                    device_id, and the cluster's secret. Version 4: the ticket of the
 *                    last welcome (or ticket message), if the agent holds one
 *     node           {node_name, node_status, unschedulable, labels, resources, versions}
 *                    (version 3) what the agent read of its Kubernetes node: after every
 *                    welcome and on each change; or {node_name, error} when the read
 *                    failed (the last good values stay)
 *     heartbeat      {sessions: [session_id...]}   the tunnels it is running
 *     tunnel.ready   {session_id}
 *     tunnel.failed  {session_id, reason}
 *     tunnel.stopped {session_id}
 *     relay.failed   {session_id, stream_id, reason}   (version 2) a stream could not be
 *                    opened: target refused, port not allowed, session unknown
 *   helperd -> agent
 *     welcome        {heartbeat, device_id?, ticket?}  seconds between heartbeats; the
 *                    device (version 3: a node's, found or made at hello); version 4: a
 *                    resumption ticket (ticket.h, secret) for the next hello
 *     ticket         {ticket}   (version 4) a fresh ticket before the last one expires
 *     tunnel.start   {session_id, token, metrics_port?}  token: the tunnel token, secret
 *     tunnel.stop    {session_id}                  also ends a relay session's streams
 *     relay.start    {session_id, ssh_port, web_port}  (version 2) accept a relay
 *                    session: answered by tunnel.ready (or tunnel.failed)
 *     relay.open     {session_id, stream_id, target, key}  (version 2) open one stream:
 *                    connect to 127.0.0.1:<the target's port> and a data WebSocket to
 *                    /api/v1/ws/stream/<stream_id> with the key (secret, one use)
 *
 * Close codes (RFC 6455 private range) tell the agent what to do next: */
#ifndef KAIDEN_PROTO_H
#define KAIDEN_PROTO_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"
#include "jsonx.h"

/* Version 2 adds the relay messages, 3 the cluster hello and node, 4 resumption tickets;
 * helperd accepts hello from versions 1 to 4, sends relay.* only to an agent that said 2
 * or more and tickets only to one that said 4. */
#define PROTO_VERSION 4
/* A relay stream key: 32 random bytes, base64url without padding. */
#define PROTO_STREAM_KEY_LEN 43
#define PROTO_MAX_MSG 16384

enum proto_close {
	PROTO_CLOSE_PROTOCOL = 4000,      /* malformed or unexpected message: retry later */
	PROTO_CLOSE_AUTH = 4001,          /* unknown device or wrong secret: retry slowly */
	PROTO_CLOSE_GONE = 4003,          /* device deleted, tenant suspended or deleted (at hello
	                                     or while connected): retry slowly */
	PROTO_CLOSE_REPLACED = 4008,      /* a newer connection for the device took over */
	PROTO_CLOSE_TIMEOUT = 4009,       /* no hello, or heartbeats stopped */
	PROTO_CLOSE_RATE = 4029,          /* too many failed attempts from this address */
	PROTO_CLOSE_SHUTDOWN = 1001       /* helperd is stopping: reconnect soon */
};

/* Close codes of the relay's streams (the engineer's /ws/connect socket and the agent's
 * /ws/stream data socket; agent/PROTOCOL.md has the table). */
enum relay_close {
	RELAY_CLOSE_DONE = 1000,           /* the other end closed the connection */
	RELAY_CLOSE_PROTOCOL = 4000,       /* a text frame, or another protocol error */
	RELAY_CLOSE_REFUSED = 4050,        /* the agent could not connect to the target */
	RELAY_CLOSE_ENDED = 4051,          /* the session ended */
	RELAY_CLOSE_OFFLINE = 4052,        /* the agent went offline */
	RELAY_CLOSE_IDLE = 4053,           /* idle timeout */
	RELAY_CLOSE_SHUTDOWN = 4054,       /* helperd is shutting down */
	RELAY_CLOSE_REVOKED = 4055         /* token revoked, user disabled, tenant suspended */
};

enum proto_type {
	PROTO_HELLO,
	PROTO_HEARTBEAT,
	PROTO_TUNNEL_READY,
	PROTO_TUNNEL_FAILED,
	PROTO_TUNNEL_STOPPED,
	PROTO_WELCOME,
	PROTO_TUNNEL_START,
	PROTO_TUNNEL_STOP,
	PROTO_RELAY_FAILED,
	PROTO_RELAY_START,
	PROTO_RELAY_OPEN,
	PROTO_NODE,
	PROTO_TICKET,
	PROTO__MAX
};

struct proto_msg {
	enum proto_type type;
	json_object *obj; /* owned: the whole message; read members with jsonx_str */
};

/* "hello" -> PROTO_HELLO etc.; -1 if unknown. */
int proto_type_parse(const char *name);
const char *proto_type_name(enum proto_type type);

/* Parses and validates one frame against its type's field table. 0, or -1 with err
 * (jsonx codes, plus "unknown_type"; over PROTO_MAX_MSG: "too_large"). */
int proto_parse(const char *data, size_t len, struct proto_msg *out,
                struct jsonx_error *err) WUR;
/* Frees the message, zeroing the values of secret members (token, secret, key, ticket)
 * first. */
void proto_msg_clear(struct proto_msg *msg);

/* Builds a message of type with the members of fields (a JSON object whose members are
 * taken; may be NULL) and serialises it: owned text, or NULL when it does not validate
 * (a bug in the caller: logged). */
char *proto_build(enum proto_type type, json_object *fields);
/* Frees text from proto_build after zeroing it (it may hold a tunnel token). */
void proto_text_free(char *text);

#endif
