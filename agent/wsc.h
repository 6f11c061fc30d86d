/* wsc.h: a WebSocket client for bulk binary streams: the relay's data sockets, on the
 * agent's side (agent/stream.c) and the engineer's (connect/pump.c).
 *
 * lws's own WebSocket client parses what it receives one byte per call and masks what
 * it sends one byte at a time: on the relay that was most of kaiden-connect's CPU and
 * much of the agent's (docs/decisions.md, "The relay's data sockets"). Here the TCP
 * socket is ours, adopted into lws for its events; wss is OpenSSL on lws's client
 * context (wsc_io.h: lws 4.1.6 cannot start TLS on a raw client connection); the
 * environment's http_proxy is gone through with CONNECT, as lws does for the control
 * link (wsc_proxy.h); wsc_upgrade.h writes the upgrade and checks its 101; wslay
 * (Debian's libwslay) frames, masks and parses, and answers pings and close frames.
 * helperd's side, an lws WebSocket server, is unchanged: on the wire nothing differs.
 * The process must ignore SIGPIPE (OpenSSL writes to the socket with write()).
 *
 * A connection calls its owner back (struct wsc_ops), always from the lws loop:
 *
 *   connecting --101 checked--> up --close frames both ways, or the socket ends--> gone
 *        |                                                              (closed: once)
 *        +--refused (an HTTP status), unreachable, TLS failure--> gone  (failed: once)
 *
 * After failed or closed the connection is freed: the owner forgets its pointer there.
 * Writes happen only from the writeable callback (as with lws), at most one wsc_send a
 * call. */
#ifndef KAIDEN_AGENT_WSC_H
#define KAIDEN_AGENT_WSC_H

#include <stddef.h>
#include "compat.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct wsc;

/* The most one wsc_send takes (one binary frame). */
#define WSC_FRAME_MAX (64u * 1024u)
/* The upgrade answer's head may be at most this long. */
#define WSC_HEAD_MAX 8192u
/* The most one read of the socket brings (wsc_info.read_max lowers it). */
#define WSC_READ_MAX (64u * 1024u)
/* The connect, TLS and the upgrade's answer must be through within this. */
#define WSC_CONNECT_TIMEOUT_S 20

struct wsc_ops {
	/* The upgrade was answered 101 and checked: frames may flow. */
	void (*up)(struct wsc *c, void *user);
	/* A data frame's payload, or part of it (binary: 1 for a binary message, 0 for
	 * text). At most one read of the socket (read_max bytes) arrives per event, whatever
	 * the frame sizes. 0, or -1 to end the connection: with the
	 * close frame wsc_close queued before, if any, else at once. */
	int (*receive)(struct wsc *c, void *user, const void *data, size_t len, int binary);
	/* wsc_want_write was asked and the socket can take more. 0, or -1 as above. */
	int (*writeable)(struct wsc *c, void *user);
	/* The peer's close frame: its code (0 if none) and reason (len bytes, not
	 * terminated, UTF-8 checked by wslay). The answer is sent by itself. */
	void (*peer_close)(struct wsc *c, void *user, unsigned code, const char *reason,
	                   size_t len);
	/* No 101: http is the answer's status (0 when there was none: no connection, a TLS
	 * failure, an answer that was not HTTP or not a valid upgrade); why says what. */
	void (*failed)(struct wsc *c, void *user, unsigned http, const char *why);
	/* After up: the connection is gone (close frames exchanged, or the socket ended). */
	void (*closed)(struct wsc *c, void *user);
};

struct wsc_info {
	struct lws_context *context;
	struct lws_vhost *vhost;  /* NULL: the context's default; it must list wsc_protocol */
	const char *address;      /* for the TCP connection, and the name TLS verifies */
	int port;
	int tls;                  /* wss (wsc_tls_offer's context) */
	size_t read_max;          /* bytes a read at most (0: WSC_READ_MAX) */
	const char *host;         /* Host: */
	const char *origin;       /* Origin:, or NULL */
	const char *path;         /* with its query */
	const char *subprotocol;  /* Sec-WebSocket-Protocol:, or NULL */
	const char *auth;         /* Authorization: (a secret: copied into the request only,
	                             which is wiped once written), or NULL */
	unsigned ping_s;          /* a ping after this long with nothing received (0: none) */
	unsigned hangup_s;        /* the connection is dropped after this long (0: never) */
	const struct wsc_ops *ops;
	void *user;
};

/* The protocol the connections' descriptors are adopted with: in the vhost's list. */
extern const struct lws_protocols wsc_protocol;

/* The TLS context of every wss connection: lws's client context for the vhost, as lws
 * offers it (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) to the vhost's first
 * protocol: wsc_protocol handles it when it is first, else that protocol passes it here
 * (agent/trust.c). So the data sockets trust what the control link trusts. Borrowed;
 * NULL when the vhost goes. */
void wsc_tls_offer(void *ssl_ctx);

/* Starts a connection (the name is resolved now, blocking). NULL when it could not
 * even start (no callback comes then). */
struct wsc *wsc_connect(const struct wsc_info *info) WUR;
/* One binary frame of len bytes (at most WSC_FRAME_MAX), from the writeable callback.
 * 0, or -1 (len too long, out of memory, the connection closing). */
int wsc_send(struct wsc *c, const void *data, size_t len) WUR;
/* Asks for the writeable callback. */
void wsc_want_write(struct wsc *c);
/* Stops (0) or resumes (1) reading the socket. */
void wsc_rx_flow(struct wsc *c, int on);
/* Queues a close frame (code, reason up to 123 bytes); the connection ends once both
 * close frames are through, or grace_s seconds later. Nothing more is delivered. */
void wsc_close(struct wsc *c, unsigned code, const char *reason, unsigned grace_s);
/* Ends the connection at once, without a close frame (closed still comes). */
void wsc_drop(struct wsc *c);
/* The owner lets go: no callback comes any more (before lws_context_destroy, which
 * then frees the connection). */
void wsc_forget(struct wsc *c);

#endif
