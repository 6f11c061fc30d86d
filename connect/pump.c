/* pump.c: the streams of kaiden-connect (see pump.h).
 *
 * A pump has a WebSocket (lws client on our libuv loop) and a local side: in_fd (read,
 * polled with uv_poll) and out_fd (written, polled when there is something to write);
 * one poll handle when both are the same socket. Two bounded queues:
 *   to_ws   local bytes waiting for LWS_CALLBACK_CLIENT_WRITEABLE; reading in_fd stops
 *           while it holds PUMP_MAX_QUEUED bytes;
 *   from_ws WebSocket payload waiting for out_fd; past PUMP_MAX_QUEUED the WebSocket's
 *           rx flow control is off, so lws stops reading the TCP connection.
 * End: input EOF on a socket (the local client hung up) closes the WebSocket with 1000
 * once to_ws is sent; EOF on stdin only stops reading (a WebSocket has no half-close, and
 * ssh, the ProxyCommand user, keeps stdin open until it is done). When the WebSocket is
 * gone, what it delivered is still written out, then the pump ends with a status. */
#include "pump.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "wsc.h"

#define CHUNK WSC_READ_MAX  /* the most one read of the WebSocket brings (wsc.h) */
#define CLOSE_TARGET_REFUSED 4050
#define CLOSE_GRACE_S 2          /* for helperd's answer to our close frame */

struct queue {
	unsigned char *data;
	size_t off, len; /* bytes data[off .. off+len) */
};

struct pump {
	struct pump *next;
	struct wsc *ws;               /* the WebSocket (wsc.h), NULL once it is gone */
	int in_fd, out_fd;
	int same_fd;
	uv_poll_t in_poll, out_poll;
	int in_polling, out_polling;  /* events now asked for (in_poll has both if same_fd) */
	int in_sync, out_sync;        /* a regular file (not pollable): always ready */
	int established, in_eof, local_broken, throttled;
	int close_requested;          /* we close the WebSocket at the next WRITEABLE */
	int peer_code;                /* close code from the server, 0 if none */
	char peer_reason[124];
	int status_set;
	enum connect_exit status;
	char message[512];
	int closing_handles;
	struct queue to_ws, from_ws;
};

static struct {
	struct lws_context *context;
	uv_loop_t *loop;
	struct pump_server srv;
	pump_done_fn done;
	struct pump *all;
	int count;
} P;

static void sync_polls(struct pump *p);
static void maybe_finish(struct pump *p);

/* ---- queues ---- */

static int queue_reserve(struct queue *q, size_t room)
{
	if (q->off && q->off + q->len + room > PUMP_MAX_QUEUED + CHUNK) {
		memmove(q->data, q->data + q->off, q->len);
		q->off = 0;
	}
	if (!q->data) {
		q->data = malloc(PUMP_MAX_QUEUED + CHUNK);
		if (!q->data)
			return -1;
	}
	return 0;
}

static void queue_consume(struct queue *q, size_t n)
{
	q->off += n;
	q->len -= n;
	if (!q->len)
		q->off = 0;
}

/* ---- status ---- */

static void set_status(struct pump *p, enum connect_exit status, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static void set_status(struct pump *p, enum connect_exit status, const char *fmt, ...)
{
	va_list ap;

	if (p->status_set)
		return;
	p->status_set = 1;
	p->status = status;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
}

/* The refusals before the upgrade (agent/PROTOCOL.md, "Engineer side"). */
static const struct {
	unsigned http;
	enum connect_exit status;
	const char *message;
} http_refusals[] = {
	{ 401, CONNECT_NOT_ALLOWED,
	  "not allowed: the token was refused (HTTP 401); check KAIDEN_TOKEN or --token-file" },
	{ 403, CONNECT_NOT_ALLOWED, "not allowed: this token may not connect to that session "
	                            "(HTTP 403)" },
	{ 404, CONNECT_NOT_FOUND, "session not found (HTTP 404)" },
	{ 409, CONNECT_NOT_ACTIVE, "session not active, or its agent is offline (HTTP 409)" },
	{ 429, CONNECT_BUSY, "too many streams for this session or server (HTTP 429)" },
};

static void status_from_http(struct pump *p, unsigned http, const char *why)
{
	for (size_t i = 0; i < ARRAY_LEN(http_refusals); i++)
		if (http_refusals[i].http == http) {
			set_status(p, http_refusals[i].status, "%s", http_refusals[i].message);
			return;
		}
	if (http == 0)
		set_status(p, CONNECT_UNREACHABLE, "cannot reach the server %s:%d: %s", P.srv.host,
		           P.srv.port, why && *why ? why : "connection failed");
	else
		set_status(p, CONNECT_UNREACHABLE, "the server answered HTTP %u instead of a "
		                                   "WebSocket upgrade", http);
}

static void status_from_close(struct pump *p)
{
	const char *r = p->peer_reason;

	switch (p->peer_code) {
	case 0:
		set_status(p, CONNECT_CLOSED, "connection to the server lost");
		break;
	case LWS_CLOSE_STATUS_NORMAL:
		set_status(p, CONNECT_OK, "closed");
		break;
	case CLOSE_TARGET_REFUSED:
		set_status(p, CONNECT_REFUSED, "target refused: %s (close %d)",
		           *r ? r : "the agent could not connect to it", p->peer_code);
		break;
	default:
		set_status(p, CONNECT_CLOSED, "closed by the server: %s (close %d)",
		           *r ? r : "no reason given", p->peer_code);
	}
}

/* ---- the local side ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_set(uv_poll_t *h, int *now, int want)
{
	if (*now == want)
		return;
	*now = want;
	if (want)
		uv_poll_start(h, want, on_poll);
	else
		uv_poll_stop(h);
}

static void write_local(struct pump *p);

static void sync_polls(struct pump *p)
{
	int want_in = p->ws && p->established && !p->in_eof && !p->close_requested &&
	              p->to_ws.len < PUMP_MAX_QUEUED ? UV_READABLE : 0;
	int want_out = p->from_ws.len && !p->local_broken ? UV_WRITABLE : 0;

	if (p->closing_handles)
		return;
	if (p->same_fd) {
		poll_set(&p->in_poll, &p->in_polling, want_in | want_out);
	} else {
		if (!p->in_sync)
			poll_set(&p->in_poll, &p->in_polling, want_in);
		if (!p->out_sync)
			poll_set(&p->out_poll, &p->out_polling, want_out);
		else if (want_out)
			write_local(p);
	}
}

static void read_local(struct pump *p)
{
	while (p->to_ws.len < PUMP_MAX_QUEUED) {
		size_t room = PUMP_MAX_QUEUED - p->to_ws.len;
		ssize_t n;

		if (queue_reserve(&p->to_ws, CHUNK) != 0) {
			set_status(p, CONNECT_ERROR, "out of memory");
			p->close_requested = 1;
			break;
		}
		n = read(p->in_fd, p->to_ws.data + p->to_ws.off + p->to_ws.len,
		         room < CHUNK ? room : CHUNK);
		if (n > 0) {
			p->to_ws.len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		p->in_eof = 1;
		if (n < 0) {
			set_status(p, CONNECT_ERROR, "reading the local side: %s", strerror(errno));
			p->close_requested = 1;
		} else if (p->same_fd) {
			set_status(p, CONNECT_OK, "local side closed");
			p->close_requested = 1; /* after to_ws is sent */
		}
		break;
	}
	if (p->ws)
		wsc_want_write(p->ws);
}

static void write_local(struct pump *p)
{
	while (p->from_ws.len) {
		ssize_t n = write(p->out_fd, p->from_ws.data + p->from_ws.off, p->from_ws.len);

		if (n > 0) {
			queue_consume(&p->from_ws, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		/* The reader went away (EPIPE): the stream is over; drop what is left. */
		p->local_broken = 1;
		p->from_ws.len = 0;
		p->from_ws.off = 0;
		set_status(p, CONNECT_OK, "local side closed");
		p->close_requested = 1;
		if (p->ws)
			wsc_want_write(p->ws);
		break;
	}
	if (p->throttled && p->ws && p->from_ws.len < PUMP_MAX_QUEUED / 2) {
		p->throttled = 0;
		wsc_rx_flow(p->ws, 1);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pump *p = h->data;

	if (status < 0)
		events = UV_READABLE | UV_WRITABLE; /* let read/write report the error */
	if ((events & UV_WRITABLE) && (h == &p->out_poll || p->same_fd))
		write_local(p);
	if ((events & UV_READABLE) && h == &p->in_poll && !p->in_eof)
		read_local(p);
	sync_polls(p);
	maybe_finish(p);
}

/* ---- the end ---- */

static void handle_closed(uv_handle_t *h)
{
	struct pump *p = h->data;
	struct pump **pp;

	if (--p->closing_handles > 0)
		return;
	for (pp = &P.all; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	P.count--;
	if (p->same_fd)
		close(p->in_fd);
	free(p->to_ws.data);
	free(p->from_ws.data);
	if (P.done)
		P.done(p->status, p->message);
	free(p);
}

/* Ends the pump once the WebSocket is gone and what it delivered is written out. */
static void maybe_finish(struct pump *p)
{
	if (p->ws || p->closing_handles || (p->from_ws.len && !p->local_broken))
		return;
	if (!p->status_set)
		status_from_close(p);
	p->closing_handles = 1 + !p->in_sync + (!p->out_sync && !p->same_fd);
	if (!p->in_sync)
		uv_close((uv_handle_t *)&p->in_poll, handle_closed);
	if (!p->out_sync && !p->same_fd)
		uv_close((uv_handle_t *)&p->out_poll, handle_closed);
	handle_closed((uv_handle_t *)&p->in_poll);
}

/* ---- the WebSocket ---- */

static int ws_writeable(struct wsc *c, void *user)
{
	struct pump *p = user;
	size_t n = p->to_ws.len < WSC_FRAME_MAX ? p->to_ws.len : WSC_FRAME_MAX;

	if (n) {
		if (wsc_send(c, p->to_ws.data + p->to_ws.off, n) != 0) {
			set_status(p, CONNECT_CLOSED, "connection to the server lost while sending");
			return -1;
		}
		queue_consume(&p->to_ws, n);
	}
	if (p->close_requested && !p->to_ws.len) {
		wsc_close(c, LWS_CLOSE_STATUS_NORMAL, NULL, CLOSE_GRACE_S);
		return -1;
	}
	if (p->in_sync && !p->in_eof)
		read_local(p);
	if (p->to_ws.len)
		wsc_want_write(c);
	sync_polls(p);
	return 0;
}

static void ws_up(struct wsc *c, void *user)
{
	struct pump *p = user;

	p->established = 1;
	if (p->in_sync)
		read_local(p);
	sync_polls(p);
	if (p->to_ws.len || p->close_requested)
		wsc_want_write(c);
}

static int ws_receive(struct wsc *c, void *user, const void *in, size_t len, int binary)
{
	struct pump *p = user;

	(void)binary;
	if (p->local_broken)
		return 0;
	if (queue_reserve(&p->from_ws, len) != 0 ||
	    p->from_ws.off + p->from_ws.len + len > PUMP_MAX_QUEUED + CHUNK) {
		/* One read of the socket (CHUNK) arrives per event, so this cannot happen while
		 * the flow control below works; refuse rather than grow. */
		set_status(p, CONNECT_ERROR, "receive buffer overrun");
		return -1;
	}
	memcpy(p->from_ws.data + p->from_ws.off + p->from_ws.len, in, len);
	p->from_ws.len += len;
	if (p->from_ws.len >= PUMP_MAX_QUEUED - CHUNK && !p->throttled) {
		p->throttled = 1;
		wsc_rx_flow(c, 0);
	}
	sync_polls(p);
	return 0;
}

static void ws_peer_close(struct wsc *c, void *user, unsigned code, const char *reason,
                          size_t len)
{
	struct pump *p = user;
	size_t rl = len < sizeof(p->peer_reason) - 1 ? len : sizeof(p->peer_reason) - 1;

	(void)c;
	p->peer_code = (int)code;
	memcpy(p->peer_reason, reason, rl);
	p->peer_reason[rl] = '\0';
	for (size_t i = 0; i < rl; i++)
		if ((unsigned char)p->peer_reason[i] < 0x20)
			p->peer_reason[i] = ' ';
}

static void ws_failed(struct wsc *c, void *user, unsigned http, const char *why)
{
	struct pump *p = user;

	(void)c;
	status_from_http(p, http, why);
	p->ws = NULL;
	sync_polls(p);
	maybe_finish(p);
}

static void ws_closed(struct wsc *c, void *user)
{
	struct pump *p = user;

	(void)c;
	p->ws = NULL;
	sync_polls(p);
	maybe_finish(p);
}

static const struct wsc_ops ws_ops = {
	.up = ws_up,
	.receive = ws_receive,
	.writeable = ws_writeable,
	.peer_close = ws_peer_close,
	.failed = ws_failed,
	.closed = ws_closed,
};

void pump_setup(struct lws_context *context, uv_loop_t *loop, const struct pump_server *srv,
                pump_done_fn done)
{
	P.context = context;
	P.loop = loop;
	P.srv = *srv;
	P.done = done;
}

int pump_count(void)
{
	return P.count;
}

int pump_open(int in_fd, int out_fd)
{
	struct wsc_info i;
	char auth[8 + PUMP_TOKEN_MAX + 1];
	int n;
	struct pump *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	p->in_fd = in_fd;
	p->out_fd = out_fd;
	p->same_fd = in_fd == out_fd;
	/* Regular files (and /dev/null) cannot be polled; they are always ready. */
	p->in_sync = uv_poll_init(P.loop, &p->in_poll, in_fd) != 0;
	p->out_sync = !p->same_fd && uv_poll_init(P.loop, &p->out_poll, out_fd) != 0;
	if (p->same_fd && p->in_sync) {
		free(p);
		return -1;
	}
	p->in_poll.data = p;
	p->out_poll.data = p;
	p->next = P.all;
	P.all = p;
	P.count++;

	n = snprintf(auth, sizeof(auth), "Bearer %s", P.srv.token);
	memset(&i, 0, sizeof(i));
	i.context = P.context;
	i.address = P.srv.host;
	i.port = P.srv.port;
	i.tls = P.srv.tls;
	i.read_max = CHUNK;
	i.host = P.srv.host_header;
	i.origin = P.srv.host_header;
	i.path = P.srv.path;
	i.auth = n > 0 && (size_t)n < sizeof(auth) ? auth : NULL;
	i.ops = &ws_ops;
	i.user = p;
	p->ws = i.auth ? wsc_connect(&i) : NULL;
	explicit_bzero(auth, sizeof(auth));
	if (!p->ws) {
		set_status(p, CONNECT_UNREACHABLE, "cannot reach the server %s:%d", P.srv.host,
		           P.srv.port);
		maybe_finish(p);
	}
	return 0;
}
