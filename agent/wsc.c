/* wsc.c: a WebSocket client for bulk streams, wslay's framing over wsc_io.h's bytes, on
 * the lws loop (see wsc.h).
 *
 * A connection's life, by state:
 *
 *   C_TCP    the connect runs (the socket adopted into lws as a descriptor: lws watches
 *            it, the reads and writes are ours), to the server or to http_proxy's proxy
 *   C_PROXY  through a proxy: CONNECT host:port sent, its 200 awaited (wsc_proxy.h)
 *   C_TLS    the TLS handshake (wss)
 *   C_SEND   the upgrade request goes out, then is wiped (it holds the Authorization)
 *   C_HEAD   the answer's head is gathered (at most WSC_HEAD_MAX bytes) and checked: 101,
 *            Upgrade: websocket, Connection: upgrade, the accept value, the subprotocol
 *            asked for, no extension; else failed (with the status, if any)
 *   C_UP     wslay parses what arrives and frames what is sent; its output goes to one
 *            buffer (out), written as far as the socket takes it, refilled once empty
 *   C_GONE   reported (failed or closed); the struct is freed
 *
 * Until C_UP a deadline (WSC_CONNECT_TIMEOUT_S) is set on the descriptor. lws ends a
 * descriptor by RAW_CLOSE_FILE; a failure found here ends it too (end(): the owner told
 * once, the wsi's opaque pointer cleared, the descriptor given to lws to close), so
 * nothing later reaches freed memory.
 *
 * lws's raw-file role clears POLLOUT after the WRITEABLE callback: a write that must
 * wait, found inside that callback, asks again from a zero-delay timer (sul_write).
 * Bytes TLS has already decrypted wake no poll: they are read from a timer (sul_read). */
#include "wsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <sodium.h>
#include <wslay/wslay.h>

#include "wsc_io.h"
#include "wsc_proxy.h"
#include "wsc_upgrade.h"

#define OUT_CAP (WSC_FRAME_MAX + 256u)          /* a frame and its header, or control frames */
#define CLOSE_GRACE_S 5                         /* for the answer to a close wslay sent */

enum wsc_state { C_TCP, C_PROXY, C_TLS, C_SEND, C_HEAD, C_UP, C_GONE };

struct wsc {
	struct lws *wsi;
	const struct wsc_ops *ops;
	void *user;
	enum wsc_state state;
	struct wsc_io io;
	char host[256];               /* the server: for TLS the name (or address) to verify */
	int port;
	int tls;
	char *connect_req;            /* through a proxy: CONNECT (secret: its auth), until sent */
	size_t connect_len, connect_off;
	size_t read_max;
	char *request;                /* the upgrade request (secret), until written */
	size_t request_len, request_off;
	char accept[WSC_B64_ROOM(WSC_ACCEPT_LEN)];
	char subprotocol[64];
	char *head;                   /* the answer's head, until checked */
	size_t head_len;
	wslay_event_context_ptr ws;
	const unsigned char *rx;      /* bytes being fed to wslay */
	size_t rx_len;
	unsigned char *out;           /* OUT_CAP: frames to write (from the first one on) */
	size_t out_off, out_len;
	int want_user_write;
	int in_connect;               /* inside wsc_connect: nothing is reported */
	int in_writeable;             /* inside lws's WRITEABLE callback */
	int ended;                    /* reported; the wsi is gone or going */
	int rx_off;                   /* the owner stopped reading (wsc_rx_flow) */
	int read_wants_write;         /* TLS: a read waits for the socket to be writable */
	int write_wants_read;         /* TLS: a write waits for it to be readable */
	int stop_rx;                  /* the owner ended it from receive: deliver no more */
	int close_queued;             /* wsc_close was called */
	int close_waits;              /* ... and its frame waits for the data queued before */
	unsigned close_code;
	char close_reason[124];
	int close_timed;              /* a deadline is set for the peer's close frame */
	int data_frame, binary;       /* the frame being received; its message's kind */
	unsigned ping_s, hangup_s;
	lws_usec_t last_rx;
	lws_sorted_usec_list_t sul_idle, sul_write, sul_read;
};

/* One read at a time, on the one loop thread: the bytes are handed on before the next. */
static unsigned char read_buf[WSC_READ_MAX];

/* ---- the end ---- */

static void idle_check(lws_sorted_usec_list_t *sul);

static void wsc_free(struct wsc *c)
{
	lws_sul_cancel(&c->sul_idle);
	lws_sul_cancel(&c->sul_write);
	lws_sul_cancel(&c->sul_read);
	if (c->request) {
		explicit_bzero(c->request, c->request_len);
		free(c->request);
	}
	if (c->connect_req) {
		explicit_bzero(c->connect_req, c->connect_len);
		free(c->connect_req);
	}
	wsc_io_clear(&c->io);
	free(c->head);
	free(c->out);
	if (c->ws)
		wslay_event_context_free(c->ws);
	free(c);
}

/* The connection is over: the owner told once (failed before up, closed after), the
 * descriptor left to lws to close (at once, if it is not closing it already), c freed. */
static void end(struct wsc *c, unsigned http, const char *why)
{
	int was_up = c->state == C_UP;

	if (c->ended)
		return;
	c->ended = 1;
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	c->wsi = NULL;
	c->state = C_GONE;
	if (c->in_connect)
		return; /* wsc_connect frees it and returns NULL */
	if (was_up) {
		if (c->ops->closed)
			c->ops->closed(c, c->user);
	} else if (c->ops->failed)
		c->ops->failed(c, c->user, http, why ? why : "connection failed");
	wsc_free(c);
}

/* ---- wslay's side ---- */

static ssize_t ws_recv(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags,
                       void *user)
{
	struct wsc *c = user;
	size_t n = c->rx_len < len ? c->rx_len : len;

	(void)flags;
	if (!n) {
		wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, c->rx, n);
	c->rx += n;
	c->rx_len -= n;
	return (ssize_t)n;
}

static ssize_t ws_send(wslay_event_context_ptr ws, const uint8_t *data, size_t len,
                       int flags, void *user)
{
	struct wsc *c = user;
	size_t room = OUT_CAP - c->out_off - c->out_len, n = len < room ? len : room;

	(void)flags;
	if (!n) {
		wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (!c->out && !(c->out = malloc(OUT_CAP))) {
		wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	memcpy(c->out + c->out_off + c->out_len, data, n);
	c->out_len += n;
	return (ssize_t)n;
}

static int ws_genmask(wslay_event_context_ptr ws, uint8_t *buf, size_t len, void *user)
{
	(void)ws;
	(void)user;
	randombytes_buf(buf, len);
	return 0;
}

static void ws_frame_start(wslay_event_context_ptr ws,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct wsc *c = user;

	(void)ws;
	c->data_frame = arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
	                arg->opcode == WSLAY_CONTINUATION_FRAME;
	if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
		c->binary = arg->opcode == WSLAY_BINARY_FRAME;
}

static void ws_frame_chunk(wslay_event_context_ptr ws,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct wsc *c = user;

	if (!c->data_frame || c->stop_rx || !arg->data_length)
		return;
	if (c->ops->receive(c, c->user, arg->data, arg->data_length, c->binary) != 0) {
		c->stop_rx = 1;
		wslay_event_shutdown_read(ws);
	}
}

static void ws_message(wslay_event_context_ptr ws, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
	struct wsc *c = user;

	(void)ws;
	if (arg->opcode != WSLAY_CONNECTION_CLOSE || !c->ops->peer_close)
		return;
	if (arg->msg_length >= 2)
		c->ops->peer_close(c, c->user, arg->status_code, (const char *)arg->msg + 2,
		                   arg->msg_length - 2);
	else
		c->ops->peer_close(c, c->user, 0, "", 0);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.genmask_callback = ws_genmask,
	.on_frame_recv_start_callback = ws_frame_start,
	.on_frame_recv_chunk_callback = ws_frame_chunk,
	.on_msg_recv_callback = ws_message,
};

/* ---- the upgrade ---- */

static int feed(struct wsc *c, const void *in, size_t len);

/* Bytes of the answer: gathered until its blank line, then checked. 0, or -1 to end. */
static int head_take(struct wsc *c, const unsigned char *in, size_t len)
{
	size_t old = c->head_len, take = len < WSC_HEAD_MAX - old ? len : WSC_HEAD_MAX - old;
	char *blank, why[160];
	unsigned http;
	size_t head_end;

	memcpy(c->head + old, in, take);
	c->head_len += take;
	c->head[c->head_len] = '\0';
	blank = strstr(c->head + (old > 3 ? old - 3 : 0), "\r\n\r\n");
	if (!blank) {
		if (memchr(in, '\0', take) != NULL) {
			end(c, 0, "the server's answer has a NUL byte in its head");
			return -1;
		}
		if (c->head_len < WSC_HEAD_MAX)
			return 0;
		end(c, 0, "the server's answer has no end of head within 8192 bytes");
		return -1;
	}
	head_end = (size_t)(blank - c->head) + 4;
	if (wsc_upgrade_check(c->head, head_end, c->accept, c->subprotocol, &http, why,
	                      sizeof(why)) != 0) {
		end(c, http, why);
		return -1;
	}
	if (wslay_event_context_client_init(&c->ws, &ws_callbacks, c) != 0) {
		end(c, 0, "out of memory");
		return -1;
	}
	wslay_event_config_set_no_buffering(c->ws, 1);
	free(c->head);
	c->head = NULL;
	c->state = C_UP;
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	if (c->ping_s || c->hangup_s)
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_idle, idle_check,
		                 (lws_usec_t)(c->ping_s ? c->ping_s : c->hangup_s) * LWS_US_PER_SEC);
	if (c->ops->up)
		c->ops->up(c, c->user);
	/* The rest of this read, after the head, is frames (all of it: only the head's part
	 * was copied above). */
	if (old + len > head_end)
		return feed(c, in + (head_end - old), old + len - head_end);
	return 0;
}

/* Bytes of the proxy's answer to CONNECT: gathered until its blank line, then checked;
 * nothing may follow it (the server has not been spoken to yet). 0, or -1 to end. */
static int connect_next(struct wsc *c);

static int proxy_take(struct wsc *c, const unsigned char *in, size_t len)
{
	size_t old = c->head_len, take = len < WSC_HEAD_MAX - old ? len : WSC_HEAD_MAX - old;
	char *blank, why[160];

	memcpy(c->head + old, in, take);
	c->head_len += take;
	c->head[c->head_len] = '\0';
	blank = strstr(c->head + (old > 3 ? old - 3 : 0), "\r\n\r\n");
	if (!blank) {
		if (memchr(in, '\0', take) == NULL && c->head_len < WSC_HEAD_MAX)
			return 0;
		end(c, 0, "the HTTP proxy's answer has no end of head within 8192 bytes");
		return -1;
	}
	if (wsc_proxy_answer(c->head, why, sizeof(why)) != 0) {
		end(c, 0, why);
		return -1;
	}
	if ((size_t)(blank - c->head) + 4 != old + len) {
		end(c, 0, "the HTTP proxy sent bytes after its answer");
		return -1;
	}
	c->head_len = 0;
	return connect_next(c);
}

/* ---- frames ---- */

static void write_timer(lws_sorted_usec_list_t *sul);
static void read_timer(lws_sorted_usec_list_t *sul);

/* Writable again soon: from a zero-delay timer when inside the WRITEABLE callback (lws
 * clears POLLOUT after it), else at once. */
static void ask_write(struct wsc *c)
{
	if (!c->wsi)
		return;
	if (c->in_writeable)
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_write, write_timer, 1);
	else
		lws_callback_on_writable(c->wsi);
}

/* After wslay read or was given something: whether the connection is over, and whether
 * there is something to write. 0, or -1 to close the socket. */
static int settle(struct wsc *c)
{
	if (wslay_event_get_close_received(c->ws) && wslay_event_get_close_sent(c->ws) &&
	    !c->out_len && !wslay_event_want_write(c->ws))
		return -1;
	if (c->stop_rx && !c->close_queued)
		return -1;
	/* wslay closed by itself (a protocol error from the peer): the answer is waited for,
	 * but not for ever. */
	if (wslay_event_get_close_sent(c->ws) && !c->close_queued && !c->close_timed) {
		c->close_timed = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_S);
	}
	if (c->out_len || wslay_event_want_write(c->ws) || c->want_user_write || c->close_waits)
		ask_write(c);
	return 0;
}

static int feed(struct wsc *c, const void *in, size_t len)
{
	c->rx = in;
	c->rx_len = len;
	if (wslay_event_recv(c->ws) != 0)
		return -1; /* a protocol error (wslay queued a close; no waiting for it) */
	c->rx_len = 0;
	return settle(c);
}

/* wslay sends control frames before queued data: a close frame is handed to it only once
 * the data queued before it has gone out (into out, which is written in order). */
static int close_when_sent(struct wsc *c)
{
	if (!c->close_waits || wslay_event_get_queued_msg_count(c->ws))
		return 0;
	c->close_waits = 0;
	if (wslay_event_get_close_sent(c->ws))
		return 0; /* the peer closed first: wslay answered it */
	if (wslay_event_queue_close(c->ws, (uint16_t)c->close_code,
	                            (const uint8_t *)c->close_reason, strlen(c->close_reason)) != 0)
		return -1;
	return wslay_event_send(c->ws);
}

/* Writes out as far as the socket takes it. 0 when it is empty, 1 when the rest waits
 * (for writable, or for readable under TLS), -1 on an error. */
static int flush(struct wsc *c)
{
	while (c->out_len) {
		ssize_t n = wsc_io_write(&c->io, c->out + c->out_off, c->out_len);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->out_len -= (size_t)n;
			continue;
		}
		if (n != WSC_IO_AGAIN)
			return -1;
		if (c->io.wait == IO_WAIT_READ)
			c->write_wants_read = 1; /* the next readable event writes again */
		else
			ask_write(c);
		return 1;
	}
	c->out_off = 0;
	return 0;
}

static int write_out(struct wsc *c)
{
	int r = flush(c);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (wslay_event_send(c->ws) != 0 || close_when_sent(c) != 0)
		return -1;
	if (!c->out_len && c->want_user_write && !c->close_queued && !c->stop_rx &&
	    wslay_event_get_write_enabled(c->ws)) {
		c->want_user_write = 0;
		if (c->ops->writeable(c, c->user) != 0) {
			if (!c->close_queued)
				return -1;
			c->stop_rx = 1;
		}
		if (wslay_event_send(c->ws) != 0 || close_when_sent(c) != 0)
			return -1;
	}
	r = flush(c);
	if (r < 0)
		return -1;
	return settle(c);
}

/* One read (at most read_max bytes) and what follows from it. 0, or -1 to close. */
static int read_once(struct wsc *c)
{
	ssize_t n;

	if (c->state == C_UP && c->rx_off)
		return 0; /* POLLIN is off: this is a late event */
	n = wsc_io_read(&c->io, read_buf, c->read_max);
	if (n == WSC_IO_AGAIN) {
		if (c->io.wait == IO_WAIT_WRITE) {
			c->read_wants_write = 1;
			ask_write(c);
		}
		return 0;
	}
	if (n <= 0)
		return -1; /* the peer closed, or an error */
	c->last_rx = lws_now_usecs();
	if (c->state == C_PROXY)
		return proxy_take(c, read_buf, (size_t)n);
	if (c->state != C_UP)
		return head_take(c, read_buf, (size_t)n);
	if (feed(c, read_buf, (size_t)n) != 0)
		return -1;
	/* What TLS holds decrypted wakes no poll. */
	if (!c->rx_off && wsc_io_pending(&c->io))
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_read, read_timer, 1);
	return 0;
}

static void idle_check(lws_sorted_usec_list_t *sul)
{
	struct wsc *c = lws_container_of(sul, struct wsc, sul_idle);
	lws_usec_t quiet = lws_now_usecs() - c->last_rx, next;

	if (c->state != C_UP || !c->wsi)
		return;
	if (c->hangup_s && quiet >= (lws_usec_t)c->hangup_s * LWS_US_PER_SEC) {
		wsc_drop(c);
		return;
	}
	if (c->ping_s && quiet >= (lws_usec_t)c->ping_s * LWS_US_PER_SEC) {
		struct wslay_event_msg ping = { .opcode = WSLAY_PING, .msg = NULL, .msg_length = 0 };
		if (wslay_event_queue_msg(c->ws, &ping) == 0)
			ask_write(c);
	}
	next = (lws_usec_t)(c->ping_s ? c->ping_s : c->hangup_s) * LWS_US_PER_SEC;
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_idle, idle_check, next);
}

/* ---- the connection: TCP, TLS, the request ---- */

static int handshake(struct wsc *c)
{
	char why[256];
	int r = wsc_io_handshake(&c->io, why, sizeof(why));

	if (r == WSC_IO_AGAIN) {
		if (c->io.wait == IO_WAIT_WRITE)
			ask_write(c);
		return 0;
	}
	if (r != 0) {
		end(c, 0, why);
		return -1;
	}
	c->state = C_SEND;
	ask_write(c);
	return 0;
}

/* The socket says something happened while connecting: the connect's outcome. */
static int connected(struct wsc *c)
{
	char why[256];

	if (wsc_io_connected(c->io.fd, why, sizeof(why)) != 0) {
		end(c, 0, why);
		return -1;
	}
	if (c->connect_req) {
		c->state = C_PROXY;
		ask_write(c);
		return 0;
	}
	return connect_next(c);
}

/* At the server (straight, or through the proxy): TLS, or the request. */
static int connect_next(struct wsc *c)
{
	char why[256];

	if (!c->tls) {
		c->state = C_SEND;
		ask_write(c);
		return 0;
	}
	if (wsc_io_tls_start(&c->io, c->host, why, sizeof(why)) != 0) {
		end(c, 0, why);
		return -1;
	}
	c->state = C_TLS;
	return handshake(c);
}

/* Writes *text (a request holding a secret) from *off on; once all of it is out, wipes
 * and frees it (*text becomes NULL). 0, or -1 on an error. */
static int send_text(struct wsc *c, char **text, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = wsc_io_write(&c->io, *text + *off, len - *off);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n != WSC_IO_AGAIN)
			return -1;
		if (c->io.wait == IO_WAIT_WRITE)
			ask_write(c);
		else
			c->write_wants_read = 1;
		return 0;
	}
	explicit_bzero(*text, len);
	free(*text);
	*text = NULL;
	return 0;
}

static int writable(struct wsc *c);

/* The socket is readable: a write that waited for that (TLS) first, then by state. */
static int readable(struct wsc *c)
{
	if (c->write_wants_read) {
		c->write_wants_read = 0;
		if (writable(c) != 0)
			return -1;
	}
	switch (c->state) {
	case C_TCP:
		return connected(c);
	case C_TLS:
		return handshake(c);
	case C_PROXY:
	case C_SEND: /* an early answer (a refusal) is read as the head */
	case C_HEAD:
	case C_UP:
		return read_once(c);
	default:
		return -1;
	}
}

/* The socket is writable: a read that waited for that (TLS) first, then by state. */
static int writable(struct wsc *c)
{
	if (c->read_wants_write) {
		c->read_wants_write = 0;
		if (read_once(c) != 0)
			return -1;
	}
	switch (c->state) {
	case C_TCP:
		return connected(c);
	case C_PROXY:
		return c->connect_req ? send_text(c, &c->connect_req, c->connect_len,
		                                  &c->connect_off)
		                      : 0;
	case C_TLS:
		return handshake(c);
	case C_SEND:
		if (send_text(c, &c->request, c->request_len, &c->request_off) != 0)
			return -1;
		if (!c->request)
			c->state = C_HEAD;
		return 0;
	case C_HEAD:
		return 0;
	case C_UP:
		return write_out(c);
	default:
		return -1;
	}
}

/* From a timer, where no callback can close the socket: an error ends it here. */
static void write_timer(lws_sorted_usec_list_t *sul)
{
	struct wsc *c = lws_container_of(sul, struct wsc, sul_write);

	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void read_timer(lws_sorted_usec_list_t *sul)
{
	struct wsc *c = lws_container_of(sul, struct wsc, sul_read);

	if (c->wsi && c->state == C_UP && read_once(c) != 0)
		end(c, 0, "connection lost");
}

/* ---- lws's side ---- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct wsc *c = lws_get_opaque_user_data(wsi);

	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
		wsc_tls_offer(user); /* wsc_protocol is the vhost's first (kaiden-connect) */
		return 0;
	case LWS_CALLBACK_PROTOCOL_DESTROY:
		wsc_tls_offer(NULL);
		return 0;
	case LWS_CALLBACK_RAW_ADOPT_FILE:
		if (c)
			c->wsi = wsi;
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!c)
			return -1;
		return readable(c) != 0 ? -1 : 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!c)
			return -1;
		c->in_writeable = 1;
		/* After -1, c may be gone (every end() returns -1): nothing touches it. */
		if (writable(c) != 0)
			return -1;
		c->in_writeable = 0;
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c) {
			static const char *const gone[] = {
				[C_TCP] = "no connection within the time allowed",
				[C_PROXY] = "the HTTP proxy did not answer CONNECT",
				[C_TLS] = "the TLS handshake did not complete",
				[C_SEND] = "the connection closed before the upgrade was answered",
				[C_HEAD] = "the connection closed before the upgrade was answered",
			};
			char why[256];
			/* lws closes it (and may tell us twice: the second time finds nothing). */
			lws_set_opaque_user_data(wsi, NULL);
			c->wsi = NULL;
			/* A refused connect can end here (POLLERR) rather than in connected(). */
			if (c->state == C_TCP && wsc_io_connected(c->io.fd, why, sizeof(why)) != 0)
				end(c, 0, why);
			else
				end(c, 0, c->state <= C_HEAD ? gone[c->state] : NULL);
		}
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols wsc_protocol = {
	.name = "kaiden-wsc",
	.callback = callback,
};

/* ---- the owner's calls ---- */

struct wsc *wsc_connect(const struct wsc_info *info)
{
	lws_adopt_desc_t ad;
	char key[WSC_B64_ROOM(WSC_KEY_LEN)], why[256], req[1024];
	struct wsc_proxy proxy;
	struct wsc *c;
	struct lws *wsi;
	int proxied, n;

	if (!info->ops || !info->ops->receive || !info->ops->writeable || !info->address ||
	    !wsc_upgrade_info_ok(info) || strlen(info->address) >= sizeof(c->host) ||
	    (info->subprotocol && strlen(info->subprotocol) >= sizeof(c->subprotocol)))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->io.fd = -1;
	if (wsc_upgrade_key(key, c->accept) != 0)
		goto fail;
	c->request = wsc_upgrade_request(info, key, &c->request_len);
	c->head = malloc(WSC_HEAD_MAX + 1);
	if (!c->request || !c->head)
		goto fail;
	if (info->subprotocol)
		snprintf(c->subprotocol, sizeof(c->subprotocol), "%s", info->subprotocol);
	snprintf(c->host, sizeof(c->host), "%s", info->address);
	c->port = info->port;
	c->tls = info->tls;
	c->read_max = info->read_max && info->read_max < WSC_READ_MAX ? info->read_max
	                                                             : WSC_READ_MAX;
	c->ops = info->ops;
	c->user = info->user;
	c->ping_s = info->ping_s;
	c->hangup_s = info->hangup_s;
	c->last_rx = lws_now_usecs();
	c->state = C_TCP;

	proxied = wsc_proxy_from_env(&proxy, why, sizeof(why));
	if (proxied < 0)
		goto fail;
	if (proxied) {
		n = wsc_proxy_request(&proxy, c->host, c->port, req, sizeof(req));
		explicit_bzero(proxy.auth, sizeof(proxy.auth));
		c->connect_req = n > 0 ? strdup(req) : NULL;
		explicit_bzero(req, sizeof(req));
		if (!c->connect_req)
			goto fail;
		c->connect_len = (size_t)n;
	}
	c->io.fd = proxied ? wsc_io_tcp(proxy.host, proxy.port, why, sizeof(why))
	                   : wsc_io_tcp(info->address, info->port, why, sizeof(why));
	if (c->io.fd < 0)
		goto fail;
	memset(&ad, 0, sizeof(ad));
	ad.vh = info->vhost ? info->vhost : lws_get_vhost_by_name(info->context, "default");
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = c->io.fd;
	ad.vh_prot_name = wsc_protocol.name;
	ad.opaque = c;
	if (!ad.vh) {
		close(c->io.fd);
		goto fail;
	}
	c->in_connect = 1;
	wsi = lws_adopt_descriptor_vhost_via_info(&ad); /* on failure lws closed the fd */
	c->in_connect = 0;
	if (!wsi || c->ended) {
		if (wsi && !c->ended)
			lws_set_opaque_user_data(wsi, NULL);
		goto fail;
	}
	c->wsi = wsi;
	/* Connect, TLS and the upgrade's answer, all within this. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WSC_CONNECT_TIMEOUT_S);
	lws_callback_on_writable(wsi); /* POLLOUT: the connect finished, either way */
	return c;
fail:
	wsc_free(c);
	return NULL;
}

int wsc_send(struct wsc *c, const void *data, size_t len)
{
	struct wslay_event_msg m = { .opcode = WSLAY_BINARY_FRAME, .msg = data, .msg_length = len };

	if (c->state != C_UP || c->close_queued || len > WSC_FRAME_MAX ||
	    wslay_event_queue_msg(c->ws, &m) != 0)
		return -1;
	return 0;
}

void wsc_want_write(struct wsc *c)
{
	c->want_user_write = 1;
	if (c->wsi && c->state == C_UP)
		ask_write(c);
}

void wsc_rx_flow(struct wsc *c, int on)
{
	c->rx_off = !on;
	if (!c->wsi)
		return;
	lws_rx_flow_control(c->wsi, on);
	/* Bytes TLS decrypted before the stop wake no poll when reading resumes. */
	if (on && wsc_io_pending(&c->io))
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_read, read_timer, 1);
}

void wsc_close(struct wsc *c, unsigned code, const char *reason, unsigned grace_s)
{
	size_t rl = reason ? strlen(reason) : 0;

	if (!c->wsi)
		return;
	if (c->state != C_UP || c->close_queued) {
		if (c->state != C_UP)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	c->close_queued = 1;
	c->close_waits = 1;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%.*s", (int)(rl > 123 ? 123 : rl),
	         reason ? reason : "");
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)(grace_s ? grace_s : 1));
	ask_write(c);
}

void wsc_drop(struct wsc *c)
{
	if (c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void wsc_forget(struct wsc *c)
{
	if (c->wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	c->wsi = NULL;
	wsc_free(c);
}
