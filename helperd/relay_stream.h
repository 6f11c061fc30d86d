/* relay_stream.h: the relay's insides, shared by its files (not for other modules:
 * they use relay_server.h).
 *
 *   relay_server.c   the lws protocols: accept -> stream, pairing, piping, closing
 *   relay_accept.c   the checks before an upgrade, and the HTTP refusals
 *   relay_watch.c    the timer: pairing and idle timeouts, the sessions' and
 *                    credentials' standing, the periodic byte count
 *   relay_account.c  bytes on the session row, the audit log, the metrics
 *   relay_peer.c     a stream whose other end another helperd has (relay_peer.h): its
 *                    agent side is our WebSocket client to that helperd
 *
 * A stream (one engineer connection = one TCP connection on the machine):
 *
 *   OPENING --data socket paired--> PIPING --either side ends--> CLOSING --both gone--> freed
 *      |  relay.open sent; engineer      bytes both ways,          the other side is
 *      |  not read                       each direction bounded    flushed, then closed
 *      +--10 s, relay.failed, engineer gone, a standing check----> CLOSING
 *
 * Each side (engineer, agent) has the pipe of bytes waiting to be written to it; the
 * pipe's source is the other side's socket. A forced end (4050-4055, 4000) drops what
 * is queued and closes both sockets at once; a side that ends by itself (1000, or its
 * connection lost) has the other side flushed first, then closed. */
#ifndef KAIDEN_RELAY_STREAM_H
#define KAIDEN_RELAY_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "credential.h"
#include "jwt.h"
#include "hub_util.h"
#include "ids.h"
#include "relay_key.h"
#include "relay_path.h"
#include "relay_pipe.h"
#include "store_relay.h"
#include "store_status.h"

struct lws;

enum relay_side_id { RELAY_ENGINEER = 0, RELAY_AGENT = 1 };
enum relay_state { RELAY_OPENING, RELAY_PIPING, RELAY_CLOSING };

#define RELAY_WHY_MAX 123 /* a close frame's reason: 125 bytes less the code */

struct relay_side {
	struct lws *wsi;          /* NULL: not (or no longer) connected */
	struct relay_pipe out;    /* bytes to write to this socket */
	uint64_t written;         /* bytes written to it */
	uint16_t close_code;      /* a close to send (0: none); at once when close_now,
	                             else once out is empty */
	uint16_t peer_code;       /* the code the peer closed with (0: none seen) */
	uint8_t close_now, close_sent, rx_off;
	char close_why[RELAY_WHY_MAX + 1];
};

struct relay_stream {
	struct relay_stream *prev, *next;
	char id[UUID_STR_LEN];
	char session_id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	char device_id[UUID_STR_LEN];
	enum relay_target target;
	enum relay_state state;
	struct relay_key key;
	struct credential cred;   /* the engineer's, as identified at connect */
	char addr[HUB_ADDR_LEN];  /* the engineer's address */
	int64_t opened_ms, active_ms;
	struct relay_side side[2];
	uint64_t counted_in, counted_out; /* already added to the session row */
	uint64_t metered_in, metered_out; /* already added to the metrics */
	uint16_t end_code;        /* how the engineer's socket ended (the audit's) */
	char end_why[RELAY_WHY_MAX + 1];
	/* Forwarded (relay_peer.h): the other helperd runs the stream; this one carries
	 * bytes and close codes, and accounts, audits and watches nothing. */
	int forward;
	char peer[STORE_PEER_INSTANCE_MAX + 1];
	char peer_why[RELAY_WHY_MAX + 1]; /* the reason of the peer's close */
	void *peer_link;          /* relay_peer.c's client state, until the stream ends */
};

/* What lws keeps per socket (both protocols). */
struct relay_conn {
	struct relay_stream *stream;
	enum relay_side_id side;
};

/* What the checks before an upgrade found, for the ESTABLISHED callback that follows
 * in the same call (lws upgrades synchronously): one slot, keyed by wsi. */
struct relay_pending {
	struct lws *wsi;
	enum relay_path kind;     /* RELAY_PATH_CONNECT or RELAY_PATH_STREAM */
	struct credential cred;
	struct store_relay_session session;
	enum relay_target target;
	char addr[HUB_ADDR_LEN];
	struct relay_stream *stream; /* a data socket's stream */
	/* Forwarded to another helperd (relay_peer.h): */
	int forward;
	char peer[STORE_PEER_INSTANCE_MAX + 1];
	char peer_address[STORE_PEER_ADDRESS_MAX + 1];
	char path[160];           /* the request to make there, query included */
	char auth[JWT_MAX_LEN + 128]; /* its Authorization (secret: wiped once used) */
};

/* ---- relay_server.c ------------------------------------------------------------- */

/* The streams (a list), how many there are, and the settings read at init. */
struct relay_streams {
	struct relay_stream *head;
	int count;
	int sockets;              /* engineer and data sockets open */
	int initialised;
	long idle_ms, session_max, total_max;
};
extern struct relay_streams relay_all;

/* The stream with this id that waits for its data socket, or NULL. */
struct relay_stream *relay_stream_opening(const char *stream_id);
/* Streams of a session that count against relay.session_streams. */
int relay_session_streams(const char *session_id);
/* Ends the stream: both sockets get code and why at once (queued bytes dropped). */
void relay_stream_close(struct relay_stream *s, int code, const char *why);
/* For relay_peer.c, which drives a stream's agent side as a client: a new stream for
 * an accepted request; the agent side joined (the stream pipes); bytes read from side
 * id; side id may be written; side id's socket is gone. */
struct relay_stream *relay_stream_new(const struct relay_pending *p);
void relay_stream_pair(struct relay_stream *s, struct lws *wsi);
void relay_stream_receive(struct lws *wsi, struct relay_stream *s, enum relay_side_id id,
                          const void *in, size_t len);
int relay_stream_writeable(struct relay_stream *s, enum relay_side_id id);
void relay_stream_closed(struct relay_conn *conn);

/* ---- relay_accept.c ---------------------------------------------------------------- */

/* The checks of an upgrade request (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): 0 to let it
 * upgrade (out->kind says whose it is; RELAY_PATH_OTHER: not the relay's, e.g. the
 * agents' path), 1 when it was refused with an HTTP error already written. */
int relay_accept(struct lws *wsi, struct relay_pending *out);
/* An HTTP error in the API's JSON shape ({"error":{"code","message","field"?}}); field
 * may be NULL. 0, or -1 when it could not be written. */
int relay_http_error(struct lws *wsi, unsigned status, const char *code, const char *field,
                     const char *message);

/* ---- relay_account.c --------------------------------------------------------------- */

void relay_account_init(void);
/* A refusal or an outcome, by result (the metric's label). */
void relay_account_result(const char *result);
/* A stream began (audit session.connect, gauges). */
void relay_account_open(struct relay_stream *s);
/* Adds what the stream carried since the last call to its session row. */
void relay_account_bytes(struct relay_stream *s);
/* The stream is over (bytes, audit session.disconnect, gauges). */
void relay_account_close(struct relay_stream *s);
/* The gauges, after the count changed. */
void relay_account_gauges(void);

/* ---- relay_watch.c ----------------------------------------------------------------- */

int relay_watch_init(void) WUR;
void relay_watch_shutdown(void);

#endif
