/* events.c: the event stream's sockets (events.h): the list of streams, their bounded
 * send queues, the publishing of events to the streams of a tenant, and a one-second
 * tick for the credential rechecks, pings and idle closes.
 *
 * Writes happen only in SERVER_WRITEABLE: the queued frames, a ping when due, then the
 * close frame when one is due (written by hand, as hub.c does, so that Debian's lws 4.1
 * sends our code). */
#include "events.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_conn.h"
#include "events_json.h"
#include "events_relay.h"
#include "helperd.h"
#include "log.h"
#include "metrics.h"

#define CLOSE_GRACE_S 5
#define WHY_MAX 100
#define TICK_MS 1000
/* lws's private opcode for a close frame (lws-write.h leaves 4 out of its enum). */
#define LWS_WRITE_CLOSE_ 4

struct ev_msg {
	struct ev_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
};

struct ev_conn {
	struct lws *wsi;
	struct ev_conn *prev, *next;
	struct ev_msg *head, *tail;
	size_t queued;
	struct credential cred;
	char tenant_id[UUID_STR_LEN];
	char addr[HUB_ADDR_LEN];
	int64_t rx_ms;      /* the browser's last frame or pong */
	int64_t ping_ms;    /* our last ping */
	int64_t checked_ms; /* the credential's last recheck */
	uint16_t close_code;
	uint8_t close_sent, ping_due;
	char close_why[WHY_MAX + 1];
};

static struct {
	int initialised;
	struct ev_conn *head;
	int count;
	uv_timer_t tick;
	int tick_open;
	struct events_pending pending;
} E;

/* ---- shared with events_accept.c --------------------------------------------------- */

int events_open(void)
{
	return E.initialised;
}

struct events_pending *events_pending(void)
{
	return &E.pending;
}

int events_count(void)
{
	return E.count;
}

/* The same user (any of their logins and tokens), or the same service token. */
static int same_holder(const struct credential *a, const struct credential *b)
{
	if (a->who.user_id[0] || b->who.user_id[0])
		return strcmp(a->who.user_id, b->who.user_id) == 0;
	return strcmp(a->who.credential_id, b->who.credential_id) == 0;
}

int events_count_of(const struct credential *cred)
{
	int n = 0;

	for (struct ev_conn *c = E.head; c; c = c->next)
		n += !c->close_code && !c->close_sent && same_holder(&c->cred, cred);
	return n;
}

void events_refused(const char *reason)
{
	char labels[80];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_inc("kaiden_events_refused_total", labels, 1);
}

int events_connections(void)
{
	return E.count;
}

/* ---- the queue ----------------------------------------------------------------------- */

static void queue_clear(struct ev_conn *c)
{
	struct ev_msg *m = c->head, *next;

	for (; m; m = next) {
		next = m->next;
		free(m);
	}
	c->head = c->tail = NULL;
	c->queued = 0;
}

static void gauge(void)
{
	metrics_set("kaiden_events_connections", NULL, E.count);
}

/* Starts closing c with code: what is queued is dropped, the close frame goes out from
 * WRITEABLE. */
static void conn_close(struct ev_conn *c, int code, const char *why)
{
	char labels[48];

	if (c->close_code || c->close_sent || !c->wsi)
		return;
	log_info("events: addr=%s credential=%s closing %d: %s", c->addr,
	         c->cred.who.credential_id, code, why);
	snprintf(labels, sizeof(labels), "code=\"%d\"", code);
	metrics_inc("kaiden_events_closed_total", labels, 1);
	c->close_code = (uint16_t)code;
	snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	queue_clear(c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_S);
	lws_callback_on_writable(c->wsi);
}

static void enqueue(struct ev_conn *c, const char *text, size_t len)
{
	struct ev_msg *m;

	if (c->close_code || c->close_sent)
		return;
	if (c->queued + len > EVENTS_QUEUE_MAX) {
		conn_close(c, EVENTS_CLOSE_SLOW, "events were not read: reconnect");
		return;
	}
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->queued += len;
	lws_callback_on_writable(c->wsi);
}

void events_publish(const char *tenant_id, const char *text)
{
	size_t len = strlen(text);
	int n = 0;

	if (!E.initialised)
		return;
	for (struct ev_conn *c = E.head; c; c = c->next)
		if (strcmp(c->tenant_id, tenant_id) == 0) {
			enqueue(c, text, len);
			n++;
		}
	if (n)
		metrics_inc("kaiden_events_sent_total", NULL, n);
}

/* 1 when an event made now goes anywhere: a stream here, or the other helperds (also
 * while this one stops: its agents' going offline is news to theirs). */
static int wanted(const char *tenant_id)
{
	return tenant_id && ((E.initialised && E.head) || events_relay_on());
}

/* An event made here: to this helperd's streams of the tenant and to the other helperds'
 * (events_relay.h). Frees text. */
static void emit(const char *tenant_id, char *text)
{
	if (!text)
		return;
	events_relay_send(tenant_id, text);
	events_publish(tenant_id, text);
	free(text);
}

void events_device(const char *tenant_id, const char *device_id, int online,
                   int64_t last_seen_ms, const struct events_facts *facts)
{
	if (wanted(tenant_id))
		emit(tenant_id, events_device_json(device_id, online, last_seen_ms, facts));
}

void events_session(const char *tenant_id, const char *id, const char *device_id,
                    const char *status, const char *step)
{
	if (wanted(tenant_id))
		emit(tenant_id, events_session_json(id, device_id, status, step));
}

void events_node(const char *tenant_id, const char *device_id, const char *node_name,
                 const char *node_status, int unschedulable, const char *reason)
{
	if (wanted(tenant_id))
		emit(tenant_id, events_node_json(device_id, node_name, node_status, unschedulable,
		                                 reason));
}

void events_service(const char *tenant_id, const char *id, const char *status,
                    const char *error, int pods_ready, int pods_total, int revision)
{
	if (wanted(tenant_id))
		emit(tenant_id, events_service_json(id, status, error, pods_ready, pods_total,
		                                    revision));
}

/* ---- the sockets --------------------------------------------------------------------- */

static int writeable(struct ev_conn *c)
{
	unsigned char frame[LWS_PRE + 2 + WHY_MAX];
	struct ev_msg *m;
	size_t n;

	if (c->close_sent)
		return 0;
	if (c->close_code) {
		n = strlen(c->close_why);
		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)c->close_code;
		memcpy(frame + LWS_PRE + 2, c->close_why, n);
		c->close_sent = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_GRACE_S);
		return lws_write(c->wsi, frame + LWS_PRE, n + 2,
		                 (enum lws_write_protocol)LWS_WRITE_CLOSE_) < 0
		               ? -1
		               : 0;
	}
	if (c->ping_due) {
		c->ping_due = 0;
		if (lws_write(c->wsi, frame + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		if (c->head)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	m = c->head;
	if (!m)
		return 0;
	if (lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	c->head = m->next;
	if (!c->head)
		c->tail = NULL;
	c->queued -= m->len;
	free(m);
	if (c->head)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int established(struct lws *wsi, struct ev_conn *c)
{
	struct events_pending p = E.pending;

	memset(&E.pending, 0, sizeof(E.pending));
	memset(c, 0, sizeof(*c));
	if (p.wsi != wsi)
		return -1;
	c->wsi = wsi;
	c->cred = p.cred;
	memcpy(c->tenant_id, p.tenant_id, sizeof(c->tenant_id));
	memcpy(c->addr, p.addr, sizeof(c->addr));
	c->rx_ms = c->ping_ms = c->checked_ms = ids_now_ms();
	c->next = E.head;
	if (E.head)
		E.head->prev = c;
	E.head = c;
	E.count++;
	gauge();
	log_info("events: addr=%s credential=%s role=%s watching tenant=%s", c->addr,
	         c->cred.who.credential_id, role_name(c->cred.who.role), c->tenant_id);
	return 0;
}

static void closed(struct ev_conn *c)
{
	if (!c->wsi)
		return; /* never established */
	queue_clear(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		E.head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	E.count--;
	c->wsi = NULL;
	gauge();
}

/* The credential as it is now: a logout, a disabled user, a suspended tenant closes. */
static void recheck(struct ev_conn *c)
{
	struct store_identity now;
	int store_rc = STORE_ERR;

	switch (credential_recheck(helperd.db, &c->cred, &now, &store_rc)) {
	case CREDENTIAL_OK:
		if (now.tenant_suspended)
			conn_close(c, EVENTS_CLOSE_REVOKED, "the organisation is suspended");
		else if (!(now.role & ROLE_STAFF) && strcmp(now.tenant_id, c->tenant_id) != 0)
			conn_close(c, EVENTS_CLOSE_REVOKED, "the account moved");
		break;
	case CREDENTIAL_UNKNOWN:
		conn_close(c, EVENTS_CLOSE_REVOKED, "signed out");
		break;
	default:
		break; /* the database will answer at the next tick */
	}
}

static void on_tick(uv_timer_t *t)
{
	int64_t now = ids_now_ms();
	struct ev_conn *c;

	(void)t;
	for (c = E.head; c; c = c->next) {
		if (c->close_code || c->close_sent)
			continue;
		if (now - c->checked_ms >= EVENTS_RECHECK_S * 1000) {
			c->checked_ms = now;
			recheck(c);
			if (c->close_code)
				continue;
		}
		if (now - c->rx_ms >= EVENTS_IDLE_S * 1000) {
			conn_close(c, EVENTS_CLOSE_IDLE, "no answer to pings");
		} else if (now - c->ping_ms >= EVENTS_PING_S * 1000) {
			c->ping_ms = now;
			c->ping_due = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
}

static int is_events_path(struct lws *wsi)
{
	char uri[sizeof(EVENTS_PATH) + 1];

	return lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0 &&
	       strcmp(uri, EVENTS_PATH) == 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct ev_conn *c = user;

	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Only a request events_accept passed just now becomes a stream: the same
		 * connection, and the events path (a request for another path that asks for
		 * this subprotocol never went through events_accept). */
		if (E.pending.wsi == wsi && is_events_path(wsi))
			return 0;
		memset(&E.pending, 0, sizeof(E.pending));
		return 1;
	case LWS_CALLBACK_ESTABLISHED:
		return established(wsi, c);
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_RECEIVE_PONG:
		/* The browser has nothing to say; a frame or a pong says it is there. */
		if (c->wsi)
			c->rx_ms = ids_now_ms();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->wsi ? writeable(c) : 0;
	case LWS_CALLBACK_CLOSED:
		closed(c);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols events_protocol = {
	.name = "kaiden-events",
	.callback = callback,
	.per_session_data_size = sizeof(struct ev_conn),
	.rx_buffer_size = 512,
};

/* ---- interface ----------------------------------------------------------------------- */

int events_init(void)
{
	memset(&E, 0, sizeof(E));
	metrics_describe("kaiden_events_connections", METRICS_GAUGE,
	                 "Browser event streams open (/api/v1/ws/events)");
	metrics_describe("kaiden_events_sent_total", METRICS_COUNTER,
	                 "Events queued to browser event streams");
	metrics_describe("kaiden_events_refused_total", METRICS_COUNTER,
	                 "Event stream upgrades refused, by error code");
	metrics_describe("kaiden_events_closed_total", METRICS_COUNTER,
	                 "Event streams closed by helperd, by close code");
	gauge();
	if (uv_timer_init(helperd.loop, &E.tick) != 0)
		return -1;
	E.tick_open = 1;
	uv_timer_start(&E.tick, on_tick, TICK_MS, TICK_MS);
	E.initialised = 1;
	return 0;
}

void events_shutdown(void)
{
	if (!E.initialised)
		return;
	E.initialised = 0;
	if (E.tick_open) {
		E.tick_open = 0;
		uv_timer_stop(&E.tick);
		uv_close((uv_handle_t *)&E.tick, NULL);
	}
	for (struct ev_conn *c = E.head; c; c = c->next)
		conn_close(c, EVENTS_CLOSE_SHUTDOWN, "helperd is shutting down");
}
