/* pump.h: one engineer stream of kaiden-connect: the bytes of a local file descriptor
 * pair (stdin/stdout, or one accepted TCP socket) to and from a WebSocket on helperd's
 * /api/v1/ws/connect/{session_id}?target=..., both ways (agent/PROTOCOL.md, "Engineer
 * side"). Each direction buffers at most PUMP_MAX_QUEUED bytes: past that the pump stops
 * reading that side (uv_poll off, or lws rx flow control) until the other side drains. */
#ifndef KAIDEN_CONNECT_PUMP_H
#define KAIDEN_CONNECT_PUMP_H

#include <stddef.h>
#include <uv.h>
#include "compat.h"

struct lws_context;

#define PUMP_MAX_QUEUED (256u * 1024u)
/* The longest token (KAIDEN_TOKEN, --token-file). */
#define PUMP_TOKEN_MAX 4096

/* Exit statuses of kaiden-connect; a pump ends with one of them. */
enum connect_exit {
	CONNECT_OK = 0,
	CONNECT_ERROR = 1,         /* anything else (local I/O, protocol) */
	CONNECT_USAGE = 2,
	CONNECT_UNREACHABLE = 3,   /* no connection, TLS failure, no upgrade */
	CONNECT_NOT_ALLOWED = 4,   /* 401, 403 */
	CONNECT_NOT_FOUND = 5,     /* 404 */
	CONNECT_NOT_ACTIVE = 6,    /* 409: session not active, or its agent offline */
	CONNECT_REFUSED = 7,       /* close 4050: the agent could not reach the target */
	CONNECT_BUSY = 8,          /* 429: too many streams */
	CONNECT_CLOSED = 9         /* closed by helperd: session ended, idle, shutdown ... */
};

/* Where every stream goes. Strings are borrowed and must outlive the pumps. */
struct pump_server {
	const char *host;      /* for the TCP connection */
	int port;
	int tls;
	const char *host_header;
	const char *path;      /* /api/v1/ws/connect/ID?target=ssh */
	const char *token;     /* sent as Authorization: Bearer; never logged */
};

struct pump;
/* Called once per pump when it has ended (after which the pump is freed), with an exit
 * status and, unless CONNECT_OK, a one-line message. */
typedef void (*pump_done_fn)(enum connect_exit status, const char *message);

/* Before any pump_open. */
void pump_setup(struct lws_context *context, uv_loop_t *loop, const struct pump_server *srv,
                pump_done_fn done);
/* Starts a stream between in_fd/out_fd (the same fd for a socket, which is then closed
 * at the end) and a new WebSocket. 0, or -1 (done is not called then). */
int pump_open(int in_fd, int out_fd) WUR;
/* How many pumps are alive. */
int pump_count(void);

#endif
