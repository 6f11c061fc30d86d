/* wsc.c: a WebSocket client on lws's raw role with wslay's framing (see wsc.h).
 *
 * A connection's life, by state:
 *
 *   C_CONNECTING  lws connects (and does TLS); once it is a raw socket, WRITEABLE sends
 *                 the upgrade request, which is then wiped (it holds the Authorization)
 *   C_HEAD        the answer's head is gathered (at most WSC_HEAD_MAX bytes) and checked:
 *                 101, Upgrade: websocket, Connection: upgrade, the accept value, the
 *                 subprotocol asked for, no extension; else failed (the status, if any)
 *   C_UP          wslay parses what arrives and frames what is sent; its output goes to
 *                 one buffer (out) that one lws_write per WRITEABLE empties (lws keeps
 *                 what the socket did not take and calls WRITEABLE only once it is out)
 *   C_GONE        reported (failed or closed) and forgotten by lws; the struct is freed
 *
 * lws tells the end of a connection that never became a raw socket by
 * CLIENT_CONNECTION_ERROR, and of one that did by RAW_CLOSE: each ends it here, once;
 * the wsi's opaque pointer is cleared first, so nothing later reaches freed memory. */
#include "wsc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>
#include <sodium.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_B64_LEN 24                          /* 16 random bytes, base64 */
#define ACCEPT_B64_LEN 28                       /* a SHA-1, base64 */
/* lws_b64_encode_string wants room for one byte more than the text and its NUL. */
#define B64_ROOM(len) ((len) + 2)
#define OUT_CAP (WSC_FRAME_MAX + 256u)          /* a frame and its header, or control frames */
#define REQUEST_MAX 6144u
#define CLOSE_GRACE_S 5                         /* for the answer to a close wslay sent */

enum wsc_state { C_CONNECTING, C_HEAD, C_UP, C_GONE };

struct wsc {
	struct lws *wsi;
	const struct wsc_ops *ops;
	void *user;
	enum wsc_state state;
	char *request;                /* the upgrade request (secret), until written */
	size_t request_len;
	char accept[B64_ROOM(ACCEPT_B64_LEN)];
	char subprotocol[64];
	char *head;                   /* the answer's head, until checked */
	size_t head_len;
	wslay_event_context_ptr ws;
	const unsigned char *rx;      /* bytes being fed to wslay */
	size_t rx_len;
	unsigned char *out;           /* LWS_PRE + OUT_CAP: frames for the next write (from the
	                                 first one on) */
	size_t out_len;
	int want_user_write;
	int in_connect;               /* inside wsc_connect: nothing is reported */
	int ended;                    /* lws is done with the wsi (it is gone or going) */
	int forgotten;                /* the owner let go: no callback */
	int stop_rx;                  /* the owner ended it from receive: deliver no more */
	int close_queued;             /* wsc_close was called */
	int close_waits;              /* ... and its frame waits for the data queued before */
	unsigned close_code;
	char close_reason[124];
	int close_timed;              /* a deadline is set for the peer's close frame */
	int data_frame, binary;       /* the frame being received; its message's kind */
	unsigned ping_s, hangup_s;
	lws_usec_t last_rx;
	lws_sorted_usec_list_t sul_idle;
};

/* ---- helpers ---- */

int wsc_accept_value(const char *key, char *out, size_t outlen)
{
	char joined[KEY_B64_LEN + sizeof(WS_GUID)];
	unsigned char sha[20];
	int n = snprintf(joined, sizeof(joined), "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof(joined) || outlen < B64_ROOM(ACCEPT_B64_LEN))
		return -1;
	lws_SHA1((const unsigned char *)joined, (size_t)n, sha);
	return lws_b64_encode_string((const char *)sha, (int)sizeof(sha), out, (int)outlen) ==
	               ACCEPT_B64_LEN
	           ? 0
	           : -1;
}

/* A header value may not carry a line break (or any control byte but tab). */
static int header_safe(const char *v)
{
	for (; v && *v; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return 0;
	return 1;
}

/* Whether a comma-separated header value has the token (case-insensitive). */
static int has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);

	while (*value) {
		size_t n;
		while (*value == ' ' || *value == '\t' || *value == ',')
			value++;
		n = strcspn(value, ",");
		while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(value, token, tl) == 0)
			return 1;
		value += strcspn(value, ",");
	}
	return 0;
}

/* ---- the end ---- */

static void idle_check(lws_sorted_usec_list_t *sul);

static void wsc_free(struct wsc *c)
{
	lws_sul_cancel(&c->sul_idle);
	if (c->request) {
		explicit_bzero(c->request, c->request_len);
		free(c->request);
	}
	free(c->head);
	free(c->out);
	if (c->ws)
		wslay_event_context_free(c->ws);
	free(c);
}

/* lws is done with the wsi: report once (failed before up, closed after) and free. */
static void end(struct wsc *c, unsigned http, const char *why)
{
	int was_up = c->state == C_UP;

	if (c->ended)
		return;
	c->ended = 1;
	if (c->wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	c->wsi = NULL;
	c->state = C_GONE;
	if (c->in_connect)
		return; /* wsc_connect frees it and returns NULL */
	if (!c->forgotten) {
		if (was_up) {
			if (c->ops->closed)
				c->ops->closed(c, c->user);
		} else if (c->ops->failed)
			c->ops->failed(c, c->user, http, why);
	}
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
	size_t room = OUT_CAP - c->out_len, n = len < room ? len : room;

	(void)flags;
	if (!n) {
		wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (!c->out && !(c->out = malloc(LWS_PRE + OUT_CAP))) {
		wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	memcpy(c->out + LWS_PRE + c->out_len, data, n);
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

	if (!c->data_frame || c->stop_rx || c->forgotten || !arg->data_length)
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
	if (arg->opcode != WSLAY_CONNECTION_CLOSE || c->forgotten || !c->ops->peer_close)
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

/* The answer's head is whole (head[0 .. len), its blank line included): 0 when it is a
 * valid 101 for our request, else -1 with *http (0 if it was not HTTP) and why. */
static int head_check(struct wsc *c, size_t len, unsigned *http, char *why, size_t whylen)
{
	char *line = c->head, *end = c->head + len;
	int upgrade = 0, connection = 0, accept = 0, proto = !c->subprotocol[0];
	unsigned status;

	*http = 0;
	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (line[12] != ' ' && line[12] != '\r')) {
		snprintf(why, whylen, "the server's answer is not HTTP");
		return -1;
	}
	status = (unsigned)((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
	if (status != 101) {
		*http = status;
		snprintf(why, whylen, "the server answered HTTP %u instead of a WebSocket upgrade",
		         status);
		return -1;
	}
	/* Each header line: "Name: value\r\n", up to the blank line. */
	line = strstr(line, "\r\n") + 2;
	while (line < end && !(line[0] == '\r' && line[1] == '\n')) {
		char *eol = strstr(line, "\r\n"), *colon, *v;
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			snprintf(why, whylen, "the server's upgrade answer has a malformed header");
			return -1;
		}
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (char *t = v + strlen(v); t > v && (t[-1] == ' ' || t[-1] == '\t'); t--)
			t[-1] = '\0';
		if (strcasecmp(line, "Upgrade") == 0)
			upgrade = strcasecmp(v, "websocket") == 0;
		else if (strcasecmp(line, "Connection") == 0)
			connection = has_token(v, "upgrade");
		else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0)
			accept = strcmp(v, c->accept) == 0;
		else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0)
			proto = c->subprotocol[0] && strcmp(v, c->subprotocol) == 0;
		else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0) {
			*http = status;
			snprintf(why, whylen, "the server chose a WebSocket extension none was offered");
			return -1;
		}
		line = eol + 2;
	}
	if (!upgrade || !connection || !accept || !proto) {
		*http = status;
		snprintf(why, whylen, "the server's upgrade answer is not valid (%s)",
		         !upgrade      ? "Upgrade"
		         : !connection ? "Connection"
		         : !accept     ? "Sec-WebSocket-Accept"
		                       : "Sec-WebSocket-Protocol");
		return -1;
	}
	return 0;
}

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
	if (head_check(c, head_end, &http, why, sizeof(why)) != 0) {
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
	if (c->ping_s || c->hangup_s)
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_idle, idle_check,
		                 (lws_usec_t)(c->ping_s ? c->ping_s : c->hangup_s) * LWS_US_PER_SEC);
	if (!c->forgotten && c->ops->up)
		c->ops->up(c, c->user);
	/* The rest of this read, after the head, is frames (all of it: only the head's part
	 * was copied above). */
	if (old + len > head_end)
		return feed(c, in + (head_end - old), old + len - head_end);
	return 0;
}

/* ---- frames ---- */

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
		lws_callback_on_writable(c->wsi);
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

static int write_out(struct wsc *c)
{
	if (wslay_event_send(c->ws) != 0 || close_when_sent(c) != 0)
		return -1;
	if (!c->out_len && c->want_user_write && !c->close_queued && !c->stop_rx &&
	    wslay_event_get_write_enabled(c->ws)) {
		c->want_user_write = 0;
		if (!c->forgotten && c->ops->writeable(c, c->user) != 0) {
			if (!c->close_queued)
				return -1;
			c->stop_rx = 1;
		}
		if (c->ended || wslay_event_send(c->ws) != 0 || close_when_sent(c) != 0)
			return -1;
	}
	if (c->out_len) {
		size_t n = c->out_len;
		c->out_len = 0;
		/* lws keeps what the socket does not take now and writes it first. */
		if (lws_write(c->wsi, c->out + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			return -1;
	}
	return settle(c);
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
			lws_callback_on_writable(c->wsi);
	}
	next = (lws_usec_t)(c->ping_s ? c->ping_s : c->hangup_s) * LWS_US_PER_SEC;
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_idle, idle_check, next);
}

/* ---- lws's side ---- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct wsc *c = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c)
			end(c, 0, in && len ? (const char *)in : in ? (const char *)in
			                                            : "connection failed");
		return 0;
	case LWS_CALLBACK_RAW_ADOPT:
	case LWS_CALLBACK_RAW_CONNECTED:
		if (c && c->state == C_CONNECTING)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (!c)
			return -1;
		if (c->state == C_CONNECTING) {
			int n = lws_write(wsi, (unsigned char *)c->request + LWS_PRE,
			                  c->request_len - LWS_PRE, LWS_WRITE_RAW);
			explicit_bzero(c->request, c->request_len);
			free(c->request);
			c->request = NULL;
			if (n < (int)(c->request_len - LWS_PRE))
				return -1;
			c->state = C_HEAD;
			return 0;
		}
		if (c->state != C_UP)
			return 0;
		return write_out(c);
	case LWS_CALLBACK_RAW_RX:
		if (!c)
			return -1;
		c->last_rx = lws_now_usecs();
		if (c->state == C_HEAD)
			return head_take(c, in, len);
		if (c->state != C_UP)
			return -1; /* nothing may come before the request is out */
		return feed(c, in, len);
	case LWS_CALLBACK_RAW_CLOSE:
		if (c)
			end(c, 0, "the connection closed before the upgrade was answered");
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

static char *request_new(const struct wsc_info *info, const char *key, size_t *len)
{
	char *r = malloc(LWS_PRE + REQUEST_MAX);
	int n;

	if (!r)
		return NULL;
	n = snprintf(r + LWS_PRE, REQUEST_MAX,
	             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s%s%s%s%s%s\r\n",
	             info->path, info->host, key, info->origin ? "Origin: " : "",
	             info->origin ? info->origin : "", info->origin ? "\r\n" : "",
	             info->subprotocol ? "Sec-WebSocket-Protocol: " : "",
	             info->subprotocol ? info->subprotocol : "", info->subprotocol ? "\r\n" : "",
	             info->auth ? "Authorization: " : "", info->auth ? info->auth : "",
	             info->auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= REQUEST_MAX) {
		explicit_bzero(r, LWS_PRE + REQUEST_MAX);
		free(r);
		return NULL;
	}
	*len = LWS_PRE + (size_t)n;
	return r;
}

struct wsc *wsc_connect(const struct wsc_info *info)
{
	struct lws_client_connect_info i;
	unsigned char nonce[16];
	char key[B64_ROOM(KEY_B64_LEN)];
	struct wsc *c;
	struct lws *wsi;

	if (!info->ops || !info->ops->receive || !info->ops->writeable || !info->path ||
	    info->path[0] != '/' || !info->host || !header_safe(info->path) ||
	    strchr(info->path, ' ') || !header_safe(info->host) || !header_safe(info->origin) ||
	    !header_safe(info->subprotocol) || !header_safe(info->auth) ||
	    (info->subprotocol && strlen(info->subprotocol) >= sizeof(c->subprotocol)))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	randombytes_buf(nonce, sizeof(nonce));
	if (lws_b64_encode_string((const char *)nonce, (int)sizeof(nonce), key, (int)sizeof(key)) !=
	        KEY_B64_LEN ||
	    wsc_accept_value(key, c->accept, sizeof(c->accept)) != 0)
		goto fail;
	c->request = request_new(info, key, &c->request_len);
	c->head = malloc(WSC_HEAD_MAX + 1);
	if (!c->request || !c->head)
		goto fail;
	if (info->subprotocol)
		snprintf(c->subprotocol, sizeof(c->subprotocol), "%s", info->subprotocol);
	c->ops = info->ops;
	c->user = info->user;
	c->ping_s = info->ping_s;
	c->hangup_s = info->hangup_s;
	c->last_rx = lws_now_usecs();
	c->state = C_CONNECTING;

	memset(&i, 0, sizeof(i));
	i.context = info->context;
	i.vhost = info->vhost;
	i.address = info->address;
	i.port = info->port;
	i.path = info->path;
	i.host = info->host;
	i.ssl_connection = info->ssl_flags;
	i.method = "RAW";
	i.local_protocol_name = wsc_protocol.name;
	i.opaque_user_data = c;
	i.pwsi = &c->wsi;
	c->in_connect = 1;
	wsi = lws_client_connect_via_info(&i);
	c->in_connect = 0;
	if (!wsi || c->ended) {
		if (wsi && !c->ended)
			lws_set_opaque_user_data(wsi, NULL);
		goto fail;
	}
	c->wsi = wsi;
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
		lws_callback_on_writable(c->wsi);
}

void wsc_rx_flow(struct wsc *c, int on)
{
	if (c->wsi)
		lws_rx_flow_control(c->wsi, on);
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
	lws_callback_on_writable(c->wsi);
}

void wsc_drop(struct wsc *c)
{
	if (c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void wsc_forget(struct wsc *c)
{
	c->forgotten = 1;
	if (c->wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	c->wsi = NULL;
	wsc_free(c);
}
