/* stream.h: one relay stream of kaiden-agent (agent/PROTOCOL.md, "The relay"): a TCP
 * connection to 127.0.0.1:<port> on this machine and a data WebSocket to helperd's
 * /api/v1/ws/stream/<stream_id> (subprotocol kaiden-stream, the one-use key as Bearer),
 * and the bytes between them, both ways, on the agent's one lws loop.
 *
 * The TCP socket is connected without blocking and adopted into lws; the data WebSocket
 * is opened once the target accepted. Each direction buffers at most STREAM_MAX_QUEUED
 * bytes: beyond that the stream stops reading its source (lws rx flow control on the
 * WebSocket, POLLIN off on the TCP socket) until the other side drains it. relay.c
 * decides whether a stream may be opened at all; this file only carries it. */
#ifndef KAIDEN_AGENT_STREAM_H
#define KAIDEN_AGENT_STREAM_H

#include <stddef.h>
#include "compat.h"

struct lws_context;
struct lws_protocols;

#define STREAM_MAX_QUEUED (256u * 1024u)
/* The target must accept the TCP connection within this many seconds. */
#define STREAM_CONNECT_TIMEOUT_S 10

/* Where every data socket goes: the control link's scheme, host and port. Strings are
 * copied by stream_setup. */
struct stream_server {
	int tls;
	const char *host;         /* for the TCP connection (no brackets) */
	int port;
	const char *host_header;  /* Host: and Origin: */
	const char *control_path; /* the control URL's path, e.g. /api/v1/ws/agent */
};

/* Called once for a stream that could not be opened (the target refused or did not
 * answer, the data socket was refused), with a sentence for relay.failed. Not called
 * for a stream that was piping and then ended. */
typedef void (*stream_failed_fn)(const char *session_id, const char *stream_id,
                                 const char *reason);

/* The protocol for the context's list: the adopted target. The data sockets are
 * wsc.h's (wsc_protocol is in the list too). */
extern const struct lws_protocols stream_target_protocol;

/* The data socket's path: the control path's last segment replaced by
 * stream/<stream_id> ("/api/v1/ws/agent?x" -> "/api/v1/ws/stream/<id>"; the query is
 * dropped). 0, or -1 (no '/' in the path, stream_id not a UUID, out too small). */
int stream_path(const char *control_path, const char *stream_id, char *out,
                size_t outlen) WUR;

/* Before any stream_open. 0, or -1 (a string too long). */
int stream_setup(struct lws_context *context, const struct stream_server *srv,
                 stream_failed_fn failed) WUR;
/* Starts a stream to 127.0.0.1:port (no other host can be given). key is copied and
 * wiped once it is sent (or the stream fails). 0: started (failed may be called later);
 * -1: it failed at once, with the reason in why (failed is not called). */
int stream_open(const char *session_id, const char *stream_id, int port, const char *key,
                char *why, size_t whylen) WUR;
/* Closes every stream of the session (both sockets), at once; freed a moment later. */
void stream_close_session(const char *session_id);
/* Closes every stream (agent shutdown). */
void stream_close_all(void);
/* Streams not yet freed, in any state. */
int stream_count(void);
/* Frees everything, before lws_context_destroy (which then closes the sockets). */
void stream_clear(void);

#endif
