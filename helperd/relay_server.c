/* relay_server.c: the relay's lws protocols (relay_server.h): an accepted socket
 * becomes a stream or is paired with one, bytes are piped both ways, and the stream
 * ends (relay_stream.h has the diagram).
 *
 * Every upgrade request reaches this file's callback first, as protocols[0]
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): relay_accept.c checks it and either answers an
 * HTTP error or leaves what it found in `pending`, which the ESTABLISHED callback of
 * the same request takes (lws upgrades in one synchronous call). The agents' path goes
 * on to the hub untouched.
 *
 * Writes happen only in SERVER_WRITEABLE: a few chunks of the side's pipe per callback
 * (while the socket takes them), and then the close frame when one is due. Reading is
 * switched with lws_rx_flow_control, following the pipes (relay_pipe.h): the engineer
 * is not read until the stream is paired, a source whose pipe is full is not read until
 * it drains below half, and nothing is read once the stream is closing. */
#include "relay_server.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "helperd.h"
#include "hub.h"
#include "log.h"
#include "relay_peer.h"
#include "relay_stream.h"
#include "utf8.h"

/* What lws reads from a relay socket at a time (the context's pt_serv_buf_size caps a
 * read too: main.c raises it to match). */
#define RX_BUFFER (32 * 1024)
/* Seconds a close frame may wait for the peer's answer, and a flush for a peer that
 * reads slowly, before lws drops the socket. */
#define CLOSE_GRACE_S 5
#define FLUSH_GRACE_S 60
/* Chunks written per WRITEABLE callback, at most (then the loop serves others). */
#define WRITES_PER_CALLBACK 8
/* lws's private opcode for a close frame (lws-write.h leaves 4 out of its enum). */
#define LWS_WRITE_CLOSE_ 4

struct relay_streams relay_all;
static struct relay_pending pending;

/* ---- streams ------------------------------------------------------------------------ */

struct relay_stream *relay_stream_opening(const char *stream_id)
{
	for (struct relay_stream *s = relay_all.head; s; s = s->next)
		if (s->state == RELAY_OPENING && strcmp(s->id, stream_id) == 0)
			return s;
	return NULL;
}

int relay_session_streams(const char *session_id)
{
	int n = 0;

	for (struct relay_stream *s = relay_all.head; s; s = s->next)
		n += strcmp(s->session_id, session_id) == 0;
	return n;
}

int relay_server_connections(void)
{
	return relay_all.sockets;
}

int relay_server_count(void)
{
	return relay_all.count;
}

struct relay_stream *relay_stream_new(const struct relay_pending *p)
{
	struct relay_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	ids_uuid7(s->id);
	/* A data socket that reaches another helperd finds its way here by this. */
	relay_peer_tag(s->id);
	memcpy(s->session_id, p->session.id, UUID_STR_LEN);
	memcpy(s->tenant_id, p->session.tenant_id, UUID_STR_LEN);
	memcpy(s->device_id, p->session.device_id, UUID_STR_LEN);
	memcpy(s->addr, p->addr, sizeof(s->addr));
	s->target = p->target;
	s->cred = p->cred;
	s->state = RELAY_OPENING;
	s->opened_ms = s->active_ms = ids_now_ms();
	relay_key_new(&s->key, s->opened_ms);
	for (int i = 0; i < 2; i++)
		relay_pipe_init(&s->side[i].out, RELAY_PIPE_BOUND, LWS_PRE);
	s->next = relay_all.head;
	if (relay_all.head)
		relay_all.head->prev = s;
	relay_all.head = s;
	relay_all.count++;
	return s;
}

/* Both sockets are gone: the stream's last accounts, then it is freed. */
static void stream_finish(struct relay_stream *s)
{
	relay_account_close(s);
	relay_peer_detach(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		relay_all.head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	relay_all.count--;
	relay_key_wipe(&s->key);
	for (int i = 0; i < 2; i++)
		relay_pipe_clear(&s->side[i].out);
	free(s);
	relay_account_gauges();
}

/* Reads side `id` or not, as the stream's state and the pipe it feeds say. A side being
 * closed is read again: its answer to our close frame must get in (what else it sends
 * is dropped). */
static void rx_update(struct relay_stream *s, enum relay_side_id id)
{
	struct relay_side *src = &s->side[id];
	int want = src->close_code ||
	           (s->state == RELAY_PIPING && !s->side[!id].out.paused);

	if (!src->wsi || want == !src->rx_off)
		return;
	src->rx_off = !want;
	lws_rx_flow_control(src->wsi, want);
}

/* Copies why into out, cut to RELAY_WHY_MAX bytes at a character boundary (a close
 * reason must be valid UTF-8). */
static void copy_why(char out[RELAY_WHY_MAX + 1], const char *why)
{
	size_t len = why ? strlen(why) : 0, n = 0, step;
	unsigned cp;

	while (n < len && (step = utf8_next(why + n, len - n, &cp)) > 0 &&
	       n + step <= RELAY_WHY_MAX)
		n += step;
	memcpy(out, why ? why : "", n);
	out[n] = '\0';
}

/* Queues a close of side id: at once (what is queued for it is dropped), or once its
 * pipe is written out. A close at once replaces a pending flush; nothing replaces a
 * close at once or a frame already sent. */
static void side_close(struct relay_stream *s, enum relay_side_id id, int code,
                       const char *why, int now)
{
	struct relay_side *d = &s->side[id];

	if (!d->wsi || d->close_sent || (d->close_code && (!now || d->close_now)))
		return;
	d->close_code = (uint16_t)code;
	d->close_now = (uint8_t)now;
	copy_why(d->close_why, why);
	if (now)
		relay_pipe_clear(&d->out);
	if (id == RELAY_ENGINEER) {
		s->end_code = (uint16_t)code;
		memcpy(s->end_why, d->close_why, sizeof(s->end_why));
	}
	lws_set_timeout(d->wsi, PENDING_TIMEOUT_USER_OK, now ? CLOSE_GRACE_S : FLUSH_GRACE_S);
	lws_callback_on_writable(d->wsi);
	rx_update(s, id);
}

void relay_stream_close(struct relay_stream *s, int code, const char *why)
{
	if (s->state != RELAY_CLOSING)
		log_info("stream=%s session=%s closing %d: %s", s->id, s->session_id, code, why);
	s->state = RELAY_CLOSING;
	side_close(s, RELAY_ENGINEER, code, why, 1);
	side_close(s, RELAY_AGENT, code, why, 1);
	rx_update(s, RELAY_ENGINEER);
	rx_update(s, RELAY_AGENT);
}

/* ---- the sockets ---------------------------------------------------------------------- */

/* The engineer's socket after an accepted connect: a stream, and relay.open to the
 * agent. */
static int engineer_established(struct lws *wsi, struct relay_conn *conn,
                                const struct relay_pending *p)
{
	struct relay_stream *s = relay_stream_new(p);
	json_object *fields;

	if (!s)
		return -1;
	conn->stream = s;
	conn->side = RELAY_ENGINEER;
	s->side[RELAY_ENGINEER].wsi = wsi;
	relay_all.sockets++;
	/* Not read until the agent's data socket is paired: nothing to send it to. */
	s->side[RELAY_ENGINEER].rx_off = 1;
	lws_rx_flow_control(wsi, 0);
	relay_account_open(s);
	relay_account_gauges();
	fields = json_object_new_object();
	json_object_object_add(fields, "session_id", json_object_new_string(s->session_id));
	json_object_object_add(fields, "stream_id", json_object_new_string(s->id));
	json_object_object_add(fields, "target",
	                       json_object_new_string(relay_target_name(s->target)));
	json_object_object_add(fields, "key", json_object_new_string(s->key.text));
	if (hub_send(s->device_id, PROTO_RELAY_OPEN, fields) != 0) {
		relay_account_result("agent_offline");
		relay_stream_close(s, RELAY_CLOSE_OFFLINE, "the agent went offline");
	}
	return 0;
}

/* A forwarded request's socket: a stream whose agent side is our client to the peer
 * (relay_peer.c). Not read until the peer has answered. */
static int forward_established(struct lws *wsi, struct relay_conn *conn,
                               struct relay_pending *p)
{
	struct relay_stream *s = relay_stream_new(p);

	if (!s)
		return -1;
	s->forward = 1;
	memcpy(s->peer, p->peer, sizeof(s->peer));
	conn->stream = s;
	conn->side = RELAY_ENGINEER;
	s->side[RELAY_ENGINEER].wsi = wsi;
	relay_all.sockets++;
	s->side[RELAY_ENGINEER].rx_off = 1;
	lws_rx_flow_control(wsi, 0);
	relay_account_gauges();
	if (relay_peer_start(s, wsi, p) != 0) {
		relay_account_result("peer_unreachable");
		relay_stream_close(s, RELAY_CLOSE_OFFLINE,
		                   "the helperd holding the agent cannot be reached");
	}
	return 0;
}

void relay_stream_pair(struct relay_stream *s, struct lws *wsi)
{
	s->side[RELAY_AGENT].wsi = wsi;
	relay_all.sockets++;
	s->state = RELAY_PIPING;
	s->active_ms = ids_now_ms();
	relay_account_result("paired");
	log_info("stream=%s session=%s paired in %lld ms", s->id, s->session_id,
	         (long long)(s->active_ms - s->opened_ms));
	rx_update(s, RELAY_ENGINEER);
	rx_update(s, RELAY_AGENT);
	if (relay_pipe_peek(&s->side[RELAY_AGENT].out))
		lws_callback_on_writable(wsi);
}

/* The agent's data socket for an opening stream: paired. */
static int agent_established(struct lws *wsi, struct relay_conn *conn, struct relay_stream *s)
{
	conn->stream = s;
	conn->side = RELAY_AGENT;
	relay_stream_pair(s, wsi);
	return 0;
}

static int established(struct lws *wsi, struct relay_conn *conn)
{
	struct relay_pending p = pending;

	int rc;

	memset(&pending, 0, sizeof(pending));
	memset(conn, 0, sizeof(*conn));
	if (p.wsi != wsi) {
		explicit_bzero(&p, sizeof(p));
		return -1;
	}
	if (p.forward) {
		rc = forward_established(wsi, conn, &p);
		explicit_bzero(&p, sizeof(p));
		return rc;
	}
	if (p.kind == RELAY_PATH_CONNECT)
		return engineer_established(wsi, conn, &p);
	if (p.kind == RELAY_PATH_STREAM && p.stream && p.stream->state == RELAY_OPENING)
		return agent_established(wsi, conn, p.stream);
	return -1;
}

void relay_stream_receive(struct lws *wsi, struct relay_stream *s, enum relay_side_id id,
                          const void *in, size_t len)
{
	struct relay_side *src = &s->side[id], *dst = &s->side[!id];
	int rc;

	if (s->state == RELAY_CLOSING || src->close_code)
		return;
	if (!lws_frame_is_binary(wsi)) {
		log_info("stream=%s %s sent a text frame", s->id,
		         id == RELAY_ENGINEER ? "the engineer" : "the agent");
		s->state = RELAY_CLOSING;
		side_close(s, id, RELAY_CLOSE_PROTOCOL, "text frames are not accepted", 1);
		side_close(s, !id, RELAY_CLOSE_DONE, "the other end broke the protocol", 0);
		rx_update(s, RELAY_ENGINEER);
		rx_update(s, RELAY_AGENT);
		return;
	}
	if (len == 0)
		return;
	s->active_ms = ids_now_ms();
	rc = relay_pipe_push(&dst->out, in, len);
	if (rc == RELAY_PIPE_NOMEM) {
		relay_stream_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	if (rc == RELAY_PIPE_PAUSE)
		rx_update(s, id);
	if (dst->wsi)
		lws_callback_on_writable(dst->wsi);
}

static int send_close(struct relay_side *d)
{
	unsigned char frame[LWS_PRE + 2 + RELAY_WHY_MAX];
	size_t n = strlen(d->close_why);

	frame[LWS_PRE] = (unsigned char)(d->close_code >> 8);
	frame[LWS_PRE + 1] = (unsigned char)d->close_code;
	memcpy(frame + LWS_PRE + 2, d->close_why, n);
	d->close_sent = 1;
	/* Written here rather than by returning -1 after lws_close_reason: Debian's lws 4.1
	 * would drop the frame (hub.c says why). lws answers the peer's close and frees
	 * the connection; if the peer stays silent the CLOSE_ACK timeout does. */
	lws_set_timeout(d->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_GRACE_S);
	if (lws_write(d->wsi, frame + LWS_PRE, n + 2, (enum lws_write_protocol)LWS_WRITE_CLOSE_) < 0)
		return -1;
	return 0;
}

int relay_stream_writeable(struct relay_stream *s, enum relay_side_id id)
{
	struct relay_side *d = &s->side[id];
	struct relay_chunk *c;
	int n = 0;

	if (d->close_sent)
		return 0;
	if (d->close_code && (d->close_now || !relay_pipe_peek(&d->out)))
		return send_close(d);
	while ((c = relay_pipe_peek(&d->out))) {
		if (lws_write(d->wsi, c->buf + LWS_PRE, c->len, LWS_WRITE_BINARY) < (int)c->len)
			return -1;
		d->written += c->len;
		if (relay_pipe_pop(&d->out) == RELAY_PIPE_RESUME)
			rx_update(s, !id);
		if (++n >= WRITES_PER_CALLBACK || lws_send_pipe_choked(d->wsi))
			break;
	}
	if (relay_pipe_peek(&d->out) || d->close_code)
		lws_callback_on_writable(d->wsi);
	return 0;
}

/* The data socket ended by itself: the engineer gets what is queued, then a close that
 * says why. A clean 1000 is the target closing, unless the session has ended meanwhile
 * (the agent closes its streams on tunnel.stop): then 4051. */
static void agent_gone(struct relay_stream *s, uint16_t peer_code)
{
	unsigned char standing = STORE_RELAY_LIVE;
	const char *ids[1] = { s->session_id };

	if (peer_code != RELAY_CLOSE_DONE) {
		side_close(s, RELAY_ENGINEER, RELAY_CLOSE_OFFLINE,
		           hub_online(s->device_id) ? "the agent's stream was lost"
		                                    : "the agent went offline",
		           0);
		return;
	}
	if (store_relay_standing_any(helperd.db, ids, 1, &standing) != STORE_OK)
		standing = STORE_RELAY_LIVE;
	if (standing == STORE_RELAY_ENDED)
		side_close(s, RELAY_ENGINEER, RELAY_CLOSE_ENDED, "the session ended", 0);
	else if (standing == STORE_RELAY_SUSPENDED)
		side_close(s, RELAY_ENGINEER, RELAY_CLOSE_REVOKED, "the tenant is suspended", 0);
	else
		side_close(s, RELAY_ENGINEER, RELAY_CLOSE_DONE, "the target closed the connection", 0);
}

/* The peer ended a forwarded stream: the engineer (or the agent, for a forwarded data
 * socket) gets what is queued, then the peer's own close, or 4052 when the connection
 * was lost (a code that may not be sent). */
static void peer_gone(struct relay_stream *s, uint16_t peer_code)
{
	if (peer_code == RELAY_CLOSE_DONE || (peer_code >= 4000 && peer_code <= 4999))
		side_close(s, RELAY_ENGINEER, peer_code,
		           s->peer_why[0] ? s->peer_why : "the stream ended", 0);
	else
		side_close(s, RELAY_ENGINEER, RELAY_CLOSE_OFFLINE,
		           "the helperd holding the agent went away", 0);
}

void relay_stream_closed(struct relay_conn *conn)
{
	struct relay_stream *s = conn->stream;
	enum relay_side_id id = conn->side;
	struct relay_side *d, *o;

	if (!s)
		return; /* never established */
	conn->stream = NULL;
	d = &s->side[id];
	o = &s->side[!id];
	d->wsi = NULL;
	relay_all.sockets--;
	log_debug("stream=%s %s socket closed (peer code %u)", s->id,
	          id == RELAY_ENGINEER ? "engineer" : "agent", d->peer_code);
	relay_pipe_clear(&d->out);
	if (id == RELAY_ENGINEER && !s->end_code)
		s->end_code = d->peer_code ? d->peer_code : LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
	if (o->wsi && !o->close_code) {
		/* This side ended by itself: the other is flushed, then closed. */
		if (id == RELAY_ENGINEER)
			side_close(s, RELAY_AGENT, RELAY_CLOSE_DONE, "the engineer closed the connection", 0);
		else if (s->forward)
			peer_gone(s, d->peer_code);
		else
			agent_gone(s, d->peer_code);
	}
	s->state = RELAY_CLOSING;
	rx_update(s, !id);
	if (!o->wsi)
		stream_finish(s);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct relay_conn *conn = user;
	char uri[128];
	int rc;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		memset(&pending, 0, sizeof(pending));
		rc = relay_accept(wsi, &pending);
		if (rc != 0 || pending.kind == RELAY_PATH_OTHER)
			memset(&pending, 0, sizeof(pending));
		return rc;
	case LWS_CALLBACK_HTTP:
		/* A plain request (no upgrade) to helperd's listener. */
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0 &&
		    (strncmp(uri, RELAY_CONNECT_PREFIX, strlen(RELAY_CONNECT_PREFIX)) == 0 ||
		     strncmp(uri, RELAY_STREAM_PREFIX, strlen(RELAY_STREAM_PREFIX)) == 0))
			rc = relay_http_error(wsi, 400, "bad_request", NULL,
			                      "this endpoint takes a WebSocket upgrade");
		else
			rc = relay_http_error(wsi, 404, "not_found", NULL, "no such path");
		if (rc != 0 || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Only a request relay_accept passed becomes one of ours. */
		return pending.wsi == wsi && pending.kind != RELAY_PATH_OTHER ? 0 : 1;
	case LWS_CALLBACK_ESTABLISHED:
		return established(wsi, conn);
	case LWS_CALLBACK_RECEIVE:
		if (conn->stream)
			relay_stream_receive(wsi, conn->stream, conn->side, in, len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (conn->stream)
			conn->stream->side[conn->side].peer_code =
				len >= 2 ? (uint16_t)(((unsigned char *)in)[0] << 8 |
				                      ((unsigned char *)in)[1])
				         : LWS_CLOSE_STATUS_NO_STATUS;
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return conn->stream ? relay_stream_writeable(conn->stream, conn->side) : 0;
	case LWS_CALLBACK_CLOSED:
		relay_stream_closed(conn);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols relay_server_protocol_connect = {
	.name = "kaiden-connect",
	.callback = callback,
	.per_session_data_size = sizeof(struct relay_conn),
	.rx_buffer_size = RX_BUFFER,
	.tx_packet_size = RX_BUFFER,
};

const struct lws_protocols relay_server_protocol_stream = {
	.name = "kaiden-stream",
	.callback = callback,
	.per_session_data_size = sizeof(struct relay_conn),
	.rx_buffer_size = RX_BUFFER,
	.tx_packet_size = RX_BUFFER,
};

/* ---- interface ----------------------------------------------------------------------- */

int relay_server_init(void)
{
	memset(&relay_all, 0, sizeof(relay_all));
	relay_peer_init();
	relay_all.idle_ms = cfg_int(CFG_RELAY_IDLE_TIMEOUT) * 1000;
	relay_all.session_max = cfg_int(CFG_RELAY_SESSION_STREAMS);
	relay_all.total_max = cfg_int(CFG_RELAY_MAX_STREAMS);
	relay_account_init();
	if (relay_watch_init() != 0)
		return -1;
	relay_all.initialised = 1;
	return 0;
}

void relay_server_shutdown(void)
{
	if (!relay_all.initialised)
		return;
	relay_all.initialised = 0;
	relay_watch_shutdown();
	for (struct relay_stream *s = relay_all.head; s; s = s->next) {
		relay_account_bytes(s);
		relay_stream_close(s, RELAY_CLOSE_SHUTDOWN, "helperd is shutting down");
	}
}

void relay_server_agent_online(const char *device_id, int online)
{
	if (online || !device_id)
		return;
	for (struct relay_stream *s = relay_all.head; s; s = s->next)
		if (strcmp(s->device_id, device_id) == 0)
			relay_stream_close(s, RELAY_CLOSE_OFFLINE, "the agent went offline");
}

void relay_server_agent_message(const char *device_id, const struct proto_msg *msg)
{
	const char *stream_id, *reason;
	struct relay_stream *s;

	if (!msg || msg->type != PROTO_RELAY_FAILED || !device_id)
		return;
	stream_id = jsonx_str(msg->obj, "stream_id");
	reason = jsonx_str(msg->obj, "reason");
	for (s = relay_all.head; s; s = s->next)
		if (stream_id && strcasecmp(s->id, stream_id) == 0)
			break;
	/* Another device's stream is not this agent's to fail. */
	if (!s || strcmp(s->device_id, device_id) != 0) {
		log_info("device=%s relay.failed for a stream it does not have", device_id);
		return;
	}
	if (s->state != RELAY_OPENING) {
		log_info("stream=%s relay.failed after it was paired: ignored", s->id);
		return;
	}
	relay_account_result("target_refused");
	relay_stream_close(s, RELAY_CLOSE_REFUSED, reason ? reason : "the agent could not open it");
}

void relay_server_session_end(const char *session_id)
{
	if (!session_id)
		return;
	for (struct relay_stream *s = relay_all.head; s; s = s->next)
		if (strcasecmp(s->session_id, session_id) == 0)
			relay_stream_close(s, RELAY_CLOSE_ENDED, "the session ended");
}
