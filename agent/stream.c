/* stream.c: the relay streams: a target TCP connection and a data WebSocket, piped.
 *
 * Each stream has two sockets, each with its own small state, and one table
 * (settle_table: target state x data socket state -> what follows) that settle() runs
 * after every event of either socket:
 *
 *   target:  CONNECTING --POLLOUT, SO_ERROR 0--> UP --EOF, error, closed--> GONE
 *            CONNECTING --refused, error, 10 s timer--> GONE (the stream failed)
 *   data ws: NONE --target UP: connect--> OPENING --101--> UP --closed (any code)--> GONE
 *            OPENING --refused (HTTP 401, TLS, unreachable)--> GONE (the stream failed)
 *
 *   settle:  (a stream stopping or failed overrides every row but the last)
 *            failed before the data socket was up   relay.failed once; close the rest
 *            stopping (tunnel.stop, shutdown)       close both at once
 *            target GONE, ws UP                     send what the target sent, close 1000
 *            target GONE, ws OPENING                wait for UP, then as above
 *            ws GONE, target UP                     write out what arrived, close the target
 *            both GONE (or NONE)                    free the stream (from a timer, never
 *                                                   inside a callback of its own sockets)
 *
 * The target is adopted into lws as a raw *file* descriptor, not a raw socket: lws then
 * leaves reading and writing to us (recv/send straight into the stream's buffer, so the
 * 256 KiB bound is exact and a refused connect keeps its errno), where the raw-socket
 * role reads by itself, closes at the first EOF and consumes the connect error. lws
 * still owns and closes the descriptor. Its raw-file role clears POLLOUT after the
 * WRITEABLE callback, so a write that hit EAGAIN asks again from a zero-delay timer.
 *
 * Flow control: target -> ws bytes wait in to_ws (at most STREAM_MAX_QUEUED); when it is
 * full, POLLIN is off on the target (lws_rx_flow_control) until a frame went out. ws ->
 * target bytes wait in to_target; when less than one read of the data socket (WS_RX_CHUNK)
 * fits, rx flow control stops it until the target took some. Besides the two buffers,
 * the data socket (wsc.h) holds at most one frame (WS_FRAME) and lws what the kernel
 * did not take of it.
 *
 * The stream key is copied from relay.open, written into the upgrade request's
 * Authorization header, and wiped at once; it never reaches a log. */
#include "stream.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "ids.h"
#include "log.h"
#include "proto.h"
#include "wsc.h"

#define WS_FRAME (64u * 1024u)      /* bytes per binary frame sent */
#define WS_RX_CHUNK (64u * 1024u)   /* the most one read of the data socket brings
                                       (its wsc_info.read_max) */
#define DRAIN_TIMEOUT_S 30          /* a target that will not take the rest is closed */
#define STOP_GRACE_S 2              /* a close frame that cannot be sent is not waited for */

enum target_state { T_CONNECTING, T_UP, T_GONE };
enum ws_state { W_NONE, W_OPENING, W_UP, W_GONE };

/* Bytes waiting for one direction. The data lives at mem + LWS_PRE + off, so a frame can
 * be sent from it in place (lws writes the frame header into the bytes before it). */
struct pipebuf {
	unsigned char *mem;
	size_t off, len;
};

struct stream {
	struct stream *next;
	char session_id[UUID_STR_LEN];
	char stream_id[UUID_STR_LEN];
	int port;
	char key[PROTO_STREAM_KEY_LEN + 1];
	int fd;                         /* the target's socket, owned by lws once adopted */
	struct lws *target;
	struct wsc *ws;                 /* the data socket (wsc.h), NULL once it is gone */
	enum target_state tstate;
	enum ws_state wstate;
	int target_throttled, ws_throttled;
	int stopping, failed, draining;
	int close_code;                 /* the data socket's close code from helperd */
	size_t bytes_in, bytes_out;     /* to the target, from the target */
	struct pipebuf to_ws, to_target;
	lws_sorted_usec_list_t sul_connect, sul_rearm;
};

static struct {
	struct lws_context *context;
	struct lws_vhost *vhost;   /* the context's default vhost: targets are adopted there */
	int tls;
	int port;
	char host[256];
	char host_header[300];
	char control_path[1024];
	stream_failed_fn failed;
	struct stream *all;
	int count;
	lws_sorted_usec_list_t sul_reap;
} S;

/* Idle policy of a data socket: a ping after 30 s without traffic, hang up after 90 s,
 * as on the control socket, so a silently dead path frees the target connection. */
#define WS_PING_S 30
#define WS_HANGUP_S 90

int stream_path(const char *control_path, const char *stream_id, char *out, size_t outlen)
{
	size_t path_len = strcspn(control_path, "?#");
	const char *slash = NULL;
	int n;

	for (size_t i = 0; i < path_len; i++)
		if (control_path[i] == '/')
			slash = control_path + i;
	if (!slash || !ids_is_uuid(stream_id))
		return -1;
	n = snprintf(out, outlen, "%.*sstream/%s", (int)(slash - control_path + 1), control_path,
	             stream_id);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int stream_setup(struct lws_context *context, const struct stream_server *srv,
                 stream_failed_fn failed)
{
	char probe[1200];

	memset(&S, 0, sizeof(S));
	if (strlen(srv->host) >= sizeof(S.host) || strlen(srv->host_header) >= sizeof(S.host_header) ||
	    strlen(srv->control_path) >= sizeof(S.control_path) ||
	    stream_path(srv->control_path, "00000000-0000-0000-0000-000000000000", probe,
	                sizeof(probe)) != 0) {
		log_error("relay: the server URL's host or path is too long for the data sockets");
		return -1;
	}
	S.context = context;
	S.vhost = lws_get_vhost_by_name(context, "default");
	if (!S.vhost) {
		log_error("relay: the lws context has no default vhost to adopt targets into");
		return -1;
	}
	S.tls = srv->tls;
	S.port = srv->port;
	snprintf(S.host, sizeof(S.host), "%s", srv->host);
	snprintf(S.host_header, sizeof(S.host_header), "%s", srv->host_header);
	snprintf(S.control_path, sizeof(S.control_path), "%s", srv->control_path);
	S.failed = failed;
	return 0;
}

int stream_count(void)
{
	return S.count;
}

/* ---- buffers ---- */

static int pipebuf_reserve(struct pipebuf *b)
{
	if (!b->mem)
		b->mem = malloc(LWS_PRE + STREAM_MAX_QUEUED);
	return b->mem ? 0 : -1;
}

/* Room at the tail, after moving the data to the front when the tail is short. */
static size_t pipebuf_room(struct pipebuf *b)
{
	if (b->off && STREAM_MAX_QUEUED - b->off - b->len < WS_RX_CHUNK) {
		memmove(b->mem + LWS_PRE, b->mem + LWS_PRE + b->off, b->len);
		b->off = 0;
	}
	return STREAM_MAX_QUEUED - b->off - b->len;
}

static unsigned char *pipebuf_tail(struct pipebuf *b)
{
	return b->mem + LWS_PRE + b->off + b->len;
}

static unsigned char *pipebuf_head(struct pipebuf *b)
{
	return b->mem + LWS_PRE + b->off;
}

static void pipebuf_consume(struct pipebuf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

static void pipebuf_clear(struct pipebuf *b)
{
	free(b->mem);
	b->mem = NULL;
	b->off = b->len = 0;
}

/* ---- life and death ---- */

/* What follows from the two sockets' states: the table at the top of the file, as
 * data. A stream that is stopping or failed closes whatever is left instead. */
enum settle_action {
	A_WAIT,            /* an event of one of the sockets comes next */
	A_OPEN_WS,         /* the target accepted: open the data socket */
	A_PIPE,            /* both up: the callbacks move the bytes */
	A_DRAIN_TO_WS,     /* target gone: send what it sent, then 1000 */
	A_DRAIN_TO_TARGET, /* data socket gone: write out what it brought, then close */
	A_FREE,            /* both gone */
	A_BUG              /* a pair that cannot happen (the ws opens after the target) */
};

static const enum settle_action settle_table[3][4] = {
	/*                 W_NONE     W_OPENING W_UP           W_GONE            */
	[T_CONNECTING] = { A_WAIT,    A_BUG,    A_BUG,         A_BUG },
	[T_UP] =         { A_OPEN_WS, A_WAIT,   A_PIPE,        A_DRAIN_TO_TARGET },
	[T_GONE] =       { A_FREE,    A_WAIT,   A_DRAIN_TO_WS, A_FREE },
};

static void stream_free(struct stream *s)
{
	lws_sul_cancel(&s->sul_connect);
	lws_sul_cancel(&s->sul_rearm);
	explicit_bzero(s->key, sizeof(s->key));
	pipebuf_clear(&s->to_ws);
	pipebuf_clear(&s->to_target);
	free(s);
	S.count--;
}

static void reap(lws_sorted_usec_list_t *sul)
{
	struct stream **pp = &S.all;

	(void)sul;
	while (*pp) {
		struct stream *s = *pp;
		if (settle_table[s->tstate][s->wstate] == A_FREE) {
			log_info("session=%s stream=%s closed: %zu bytes in, %zu out", s->session_id,
			         s->stream_id, s->bytes_in, s->bytes_out);
			*pp = s->next;
			stream_free(s);
		} else
			pp = &s->next;
	}
}

static void fail(struct stream *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* The stream could not be opened: relay.failed once (unless it is being stopped). */
static void fail(struct stream *s, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	if (s->failed || s->stopping)
		return;
	s->failed = 1;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_warn("session=%s stream=%s failed: %s", s->session_id, s->stream_id, reason);
	explicit_bzero(s->key, sizeof(s->key));
	if (S.failed)
		S.failed(s->session_id, s->stream_id, reason);
}

static void kill_wsi(struct lws *wsi, int secs)
{
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, secs);
}

static void open_ws(struct stream *s);
static const struct wsc_ops ws_ops;

/* What follows from the two sockets' states (settle_table, above). */
static void settle(struct stream *s)
{
	enum settle_action a = settle_table[s->tstate][s->wstate];

	if ((s->stopping || s->failed) && a != A_FREE) {
		if (s->tstate != T_GONE)
			kill_wsi(s->target, LWS_TO_KILL_ASYNC);
		/* A close frame if it can go out soon, else just the connection. */
		if (s->wstate == W_UP)
			wsc_close(s->ws, LWS_CLOSE_STATUS_NORMAL, "session stopped", STOP_GRACE_S);
		else if (s->wstate == W_OPENING)
			wsc_drop(s->ws);
		return;
	}
	switch (a) {
	case A_WAIT:
	case A_PIPE:
		break;
	case A_OPEN_WS:
		open_ws(s);
		break;
	case A_DRAIN_TO_WS:
		/* The WRITEABLE callback closes with 1000 once to_ws is empty. No deadline: a
		 * slow engineer may take a while for the last 256 KiB, and a dead one is
		 * helperd's idle timeout's or the data socket's ping's to find. */
		wsc_want_write(s->ws);
		break;
	case A_DRAIN_TO_TARGET:
		/* Read nothing more; the WRITEABLE callback closes once to_target is empty. */
		if (!s->draining) {
			s->draining = 1;
			s->target_throttled = 1;
			lws_rx_flow_control(s->target, 0);
			kill_wsi(s->target, DRAIN_TIMEOUT_S);
		}
		lws_callback_on_writable(s->target);
		break;
	case A_FREE:
		lws_sul_schedule(S.context, 0, &S.sul_reap, reap, 1);
		break;
	case A_BUG:
		log_error("session=%s stream=%s bug: target state %d with data socket state %d",
		          s->session_id, s->stream_id, (int)s->tstate, (int)s->wstate);
		s->failed = 1;
		settle(s);
		break;
	}
}

static void connect_timeout(lws_sorted_usec_list_t *sul)
{
	struct stream *s = lws_container_of(sul, struct stream, sul_connect);

	if (s->tstate != T_CONNECTING)
		return;
	fail(s, "127.0.0.1:%d did not accept the connection within %d s", s->port,
	     STREAM_CONNECT_TIMEOUT_S);
	settle(s);
}

static void rearm(lws_sorted_usec_list_t *sul)
{
	struct stream *s = lws_container_of(sul, struct stream, sul_rearm);

	if (s->target && s->tstate == T_UP)
		lws_callback_on_writable(s->target);
}

/* The sentence for a failed connect: "connection to 127.0.0.1:22 refused". */
static void fail_connect(struct stream *s, int err)
{
	if (err == ECONNREFUSED)
		fail(s, "connection to 127.0.0.1:%d refused (nothing listens there)", s->port);
	else
		fail(s, "connection to 127.0.0.1:%d failed: %s", s->port, strerror(err));
}

int stream_open(const char *session_id, const char *stream_id, int port, const char *key,
                char *why, size_t whylen)
{
	struct sockaddr_in addr;
	struct stream *s;
	lws_adopt_desc_t ad;
	int fd;

	if (port < 1 || port > 65535 || strlen(key) > PROTO_STREAM_KEY_LEN ||
	    !ids_is_uuid(session_id) || !ids_is_uuid(stream_id)) {
		snprintf(why, whylen, "invalid stream parameters");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	snprintf(s->session_id, sizeof(s->session_id), "%s", session_id);
	snprintf(s->stream_id, sizeof(s->stream_id), "%s", stream_id);
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->port = port;
	s->tstate = T_CONNECTING;
	s->wstate = W_NONE;

	/* The only address a stream ever connects to: loopback, whatever helperd says. */
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "no socket for 127.0.0.1:%d: %s", port, strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
		if (errno == ECONNREFUSED)
			snprintf(why, whylen, "connection to 127.0.0.1:%d refused (nothing listens "
			                      "there)", port);
		else
			snprintf(why, whylen, "connection to 127.0.0.1:%d failed: %s", port,
			         strerror(errno));
		close(fd);
		goto fail;
	}
	s->fd = fd;
	s->next = S.all;
	S.all = s;
	S.count++;
	memset(&ad, 0, sizeof(ad));
	ad.vh = S.vhost;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = stream_target_protocol.name;
	ad.opaque = s;
	/* On failure lws has closed fd; the stream is reaped as a dead one. */
	s->target = lws_adopt_descriptor_vhost_via_info(&ad);
	if (!s->target) {
		s->tstate = T_GONE;
		snprintf(why, whylen, "cannot watch the connection to 127.0.0.1:%d", port);
		s->failed = 1; /* reported by the caller */
		explicit_bzero(s->key, sizeof(s->key));
		lws_sul_schedule(S.context, 0, &S.sul_reap, reap, 1);
		return -1;
	}
	/* POLLOUT says the connect finished (either way). */
	lws_callback_on_writable(s->target);
	lws_sul_schedule(S.context, 0, &s->sul_connect, connect_timeout,
	                 (lws_usec_t)STREAM_CONNECT_TIMEOUT_S * LWS_US_PER_SEC);
	log_info("session=%s stream=%s connecting to 127.0.0.1:%d", session_id, stream_id, port);
	return 0;
fail:
	explicit_bzero(s->key, sizeof(s->key));
	free(s);
	return -1;
}

static void open_ws(struct stream *s)
{
	struct wsc_info i;
	char path[1200];
	char auth[8 + PROTO_STREAM_KEY_LEN + 1];

	if (stream_path(S.control_path, s->stream_id, path, sizeof(path)) != 0) {
		fail(s, "no data socket path"); /* cannot happen: checked in stream_setup */
		settle(s);
		return;
	}
	snprintf(auth, sizeof(auth), "Bearer %s", s->key);
	memset(&i, 0, sizeof(i));
	i.context = S.context;
	i.vhost = S.vhost;
	i.address = S.host;
	i.port = S.port;
	i.tls = S.tls;
	i.read_max = WS_RX_CHUNK;
	i.host = S.host_header;
	i.origin = S.host_header;
	i.path = path;
	i.subprotocol = "kaiden-stream";
	i.auth = auth;
	i.ping_s = WS_PING_S;
	i.hangup_s = WS_HANGUP_S;
	i.ops = &ws_ops;
	i.user = s;
	s->ws = wsc_connect(&i);
	/* One use: nothing keeps the key once it is in the request (which wsc wipes once
	 * it is written). */
	explicit_bzero(auth, sizeof(auth));
	explicit_bzero(s->key, sizeof(s->key));
	if (!s->ws) {
		/* Refused before any callback (none will come). */
		s->wstate = W_GONE;
		fail(s, "cannot open the data socket to %s:%d", S.host, S.port);
		settle(s);
		return;
	}
	s->wstate = W_OPENING;
}

void stream_close_session(const char *session_id)
{
	for (struct stream *s = S.all; s; s = s->next)
		if (!s->stopping && strcmp(s->session_id, session_id) == 0) {
			s->stopping = 1;
			explicit_bzero(s->key, sizeof(s->key));
			log_info("session=%s stream=%s closing: the session stopped", s->session_id,
			         s->stream_id);
			settle(s);
		}
}

void stream_close_all(void)
{
	for (struct stream *s = S.all; s; s = s->next)
		if (!s->stopping) {
			s->stopping = 1;
			explicit_bzero(s->key, sizeof(s->key));
			settle(s);
		}
}

void stream_clear(void)
{
	struct stream *s;

	lws_sul_cancel(&S.sul_reap);
	while ((s = S.all)) {
		S.all = s->next;
		/* lws_context_destroy closes them; their callbacks must not find the stream. */
		if (s->target)
			lws_set_opaque_user_data(s->target, NULL);
		if (s->ws)
			wsc_forget(s->ws);
		stream_free(s);
	}
}

/* ---- the target (raw file descriptor role) ---- */

/* Reads what fits into to_ws. 0, or -1 to close the target (EOF or an error). */
static int target_read(struct stream *s)
{
	size_t room;
	ssize_t n;

	if (pipebuf_reserve(&s->to_ws) != 0)
		return -1;
	room = pipebuf_room(&s->to_ws);
	if (!room) {
		s->target_throttled = 1;
		lws_rx_flow_control(s->target, 0);
		return 0;
	}
	n = recv(s->fd, pipebuf_tail(&s->to_ws), room, MSG_DONTWAIT);
	if (n == 0) {
		log_debug("session=%s stream=%s the target closed", s->session_id, s->stream_id);
		return -1;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		log_info("session=%s stream=%s target: %s", s->session_id, s->stream_id,
		         strerror(errno));
		return -1;
	}
	s->to_ws.len += (size_t)n;
	s->bytes_out += (size_t)n;
	if (s->to_ws.len == STREAM_MAX_QUEUED && !s->target_throttled) {
		s->target_throttled = 1;
		lws_rx_flow_control(s->target, 0);
	}
	if (s->wstate == W_UP)
		wsc_want_write(s->ws);
	return 0;
}

/* Writes to_target until it is empty or the socket is full. 0, or -1 to close. */
static int target_write(struct stream *s)
{
	while (s->to_target.len) {
		ssize_t n = send(s->fd, pipebuf_head(&s->to_target), s->to_target.len,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* lws clears POLLOUT after this callback: ask again from a timer. */
				lws_sul_schedule(S.context, 0, &s->sul_rearm, rearm, 1);
				return 0;
			}
			log_info("session=%s stream=%s writing to the target: %s", s->session_id,
			         s->stream_id, strerror(errno));
			return -1;
		}
		pipebuf_consume(&s->to_target, (size_t)n);
		s->bytes_in += (size_t)n;
	}
	if (s->ws_throttled && s->wstate == W_UP && STREAM_MAX_QUEUED - s->to_target.len >= WS_RX_CHUNK) {
		s->ws_throttled = 0;
		wsc_rx_flow(s->ws, 1);
	}
	/* The data socket is gone and everything is written: done. */
	if (s->wstate == W_GONE)
		return -1;
	return 0;
}

static int target_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
	struct stream *s = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT_FILE:
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!s || s->stopping || s->failed)
			return -1;
		if (s->tstate == T_CONNECTING) {
			int err = 0;
			socklen_t elen = sizeof(err);
			if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
				err = errno;
			if (err) {
				fail_connect(s, err);
				return -1;
			}
			s->tstate = T_UP;
			lws_sul_cancel(&s->sul_connect);
			log_info("session=%s stream=%s connected to 127.0.0.1:%d", s->session_id,
			         s->stream_id, s->port);
			settle(s);
			return 0;
		}
		return target_write(s);
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!s || s->stopping || s->failed)
			return -1;
		if (s->tstate == T_CONNECTING) {
			/* A failed connect can show as readable first: recv gives its error. */
			char c;
			if (recv(s->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno != EAGAIN) {
				fail_connect(s, errno);
				return -1;
			}
			return 0;
		}
		if (s->wstate == W_GONE)
			return 0; /* draining toward the target: nothing more to read */
		return target_read(s);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!s)
			return 0;
		if (s->tstate == T_CONNECTING)
			fail(s, "connection to 127.0.0.1:%d failed", s->port);
		s->tstate = T_GONE;
		s->target = NULL;
		s->fd = -1;
		lws_sul_cancel(&s->sul_connect);
		lws_sul_cancel(&s->sul_rearm);
		pipebuf_clear(&s->to_target);
		settle(s);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols stream_target_protocol = {
	.name = "kaiden-relay-target",
	.callback = target_callback,
};

/* ---- the data WebSocket ---- */

/* One frame from to_ws; 1000 once the target is gone and all is sent. 0, or -1. */
static int ws_write(struct wsc *c, void *user)
{
	struct stream *s = user;

	if (s->stopping || s->failed) {
		wsc_close(c, LWS_CLOSE_STATUS_NORMAL, "session stopped", STOP_GRACE_S);
		return -1;
	}
	if (s->to_ws.len) {
		size_t n = s->to_ws.len < WS_FRAME ? s->to_ws.len : WS_FRAME;
		if (wsc_send(c, pipebuf_head(&s->to_ws), n) != 0) {
			log_info("session=%s stream=%s data socket write failed", s->session_id,
			         s->stream_id);
			return -1;
		}
		pipebuf_consume(&s->to_ws, n);
		if (s->target_throttled && s->tstate == T_UP && s->wstate == W_UP &&
		    STREAM_MAX_QUEUED - s->to_ws.len >= WS_RX_CHUNK) {
			s->target_throttled = 0;
			lws_rx_flow_control(s->target, 1);
		}
	}
	if (s->to_ws.len) {
		wsc_want_write(c);
		return 0;
	}
	if (s->tstate == T_GONE) {
		wsc_close(c, LWS_CLOSE_STATUS_NORMAL, "the target closed the connection",
		          STOP_GRACE_S);
		return -1;
	}
	return 0;
}

static int ws_receive(struct wsc *c, void *user, const void *in, size_t len, int binary)
{
	struct stream *s = user;

	if (!binary) {
		static const char reason[] = "a text frame on a data socket";
		log_warn("session=%s stream=%s protocol error: %s", s->session_id, s->stream_id,
		         reason);
		wsc_close(c, RELAY_CLOSE_PROTOCOL, reason, STOP_GRACE_S);
		return -1;
	}
	if (s->tstate != T_UP)
		return 0; /* the target is gone: nowhere to write */
	if (pipebuf_reserve(&s->to_target) != 0 || pipebuf_room(&s->to_target) < len) {
		/* One read of the socket (WS_RX_CHUNK) arrives per event and the flow control
		 * below stops reading before that no longer fits: refuse rather than grow. */
		log_error("session=%s stream=%s receive buffer overrun", s->session_id,
		          s->stream_id);
		return -1;
	}
	memcpy(pipebuf_tail(&s->to_target), in, len);
	s->to_target.len += len;
	if (STREAM_MAX_QUEUED - s->to_target.len < WS_RX_CHUNK && !s->ws_throttled) {
		s->ws_throttled = 1;
		wsc_rx_flow(c, 0);
	}
	lws_callback_on_writable(s->target);
	return 0;
}

static void ws_up(struct wsc *c, void *user)
{
	struct stream *s = user;

	/* Even when stopping: settle then closes it the ordinary way. */
	s->wstate = W_UP;
	log_info("session=%s stream=%s piping 127.0.0.1:%d", s->session_id, s->stream_id,
	         s->port);
	settle(s);
	if (s->to_ws.len)
		wsc_want_write(c);
}

static void ws_peer_close(struct wsc *c, void *user, unsigned code, const char *reason,
                          size_t len)
{
	struct stream *s = user;

	(void)c;
	(void)reason;
	(void)len;
	s->close_code = (int)code;
}

static void ws_failed(struct wsc *c, void *user, unsigned http, const char *why)
{
	struct stream *s = user;

	(void)c;
	if (http)
		fail(s, "helperd refused the data socket: HTTP %u", http);
	else
		fail(s, "cannot open the data socket: %s", why ? why : "connection failed");
	s->ws = NULL;
	s->wstate = W_GONE;
	settle(s);
}

static void ws_closed(struct wsc *c, void *user)
{
	struct stream *s = user;

	(void)c;
	log_debug("session=%s stream=%s data socket closed (code %d)", s->session_id,
	          s->stream_id, s->close_code);
	s->ws = NULL;
	s->wstate = W_GONE;
	pipebuf_clear(&s->to_ws);
	settle(s);
}

static const struct wsc_ops ws_ops = {
	.up = ws_up,
	.receive = ws_receive,
	.writeable = ws_write,
	.peer_close = ws_peer_close,
	.failed = ws_failed,
	.closed = ws_closed,
};
