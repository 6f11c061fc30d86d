/* hub.c: the agents' WebSocket hub (hub.h), lws protocol "kaiden-agent".
 *
 * A connection's life (struct conn, lws's per-session data):
 *
 *   HELLO --hello--> VERIFYING --secret ok--> ONLINE --close/timeout/replaced--> CLOSING
 *     |  |               |  (argon2id on the thread pool)          ^                ^
 *     |  +--hello with a good ticket (no argon2id) ----------------+                |
 *     +-- 10 s, bad -----+-- wrong secret 4001, deleted/suspended 4003, rate 4029 --+
 *
 *   - HELLO: only a hello is accepted; none within HELLO_TIMEOUT_MS closes with 4009.
 *   - VERIFYING: the device's (or, for a node's agent, the cluster's) hash was read on
 *     the loop (one indexed SELECT); the
 *     argon2id check runs on libuv's thread pool (uv_queue_work) because it costs
 *     ~64 MiB and tens of milliseconds. Anything the agent sends meanwhile is a
 *     protocol error. If the socket closes first, the work finds conn == NULL and only
 *     frees itself. A node's agent (hello version 3 with cluster_id and node_name) has
 *     its device found or made once the cluster secret verified (store_agent_node_join,
 *     one transaction); from then on it is that device's connection like any other,
 *     and its "node" messages are stored on the device (store_agent_node_report).
 *   - Resumption (ticket.h, protocol version 4): a hello may carry the ticket of an
 *     earlier welcome. The same SELECT that read the hash read the secret's version;
 *     a ticket whose MAC, kind, id, expiry and version all check out, for a device
 *     (or cluster) still welcome, admits at once on the loop. Any other ticket is
 *     counted and forgotten, and the hello goes on to argon2id as if it had none, so
 *     that path alone decides refusals (4001, 4003) exactly as before. A version-4
 *     agent gets a new ticket in every welcome, and another (a "ticket" message) once
 *     its last one is TICKET_REFRESH_S old, so a long-connected agent always holds one
 *     that outlives a helperd restart.
 *   - ONLINE: in the device map. A second connection for the same device takes over:
 *     the old one closes with 4008 and leaves the map, so its close does not mark the
 *     device offline. Heartbeats update seen_ms in memory; last_seen is written for all
 *     of them at once every SEEN_FLUSH_MS, which also reads whether each is still
 *     welcome: a device deleted, or a tenant suspended or deleted, since the hello closes
 *     with 4003. Silence for helperd.agent_timeout closes with 4009.
 *   - CLOSING: close_code is set and a WRITEABLE callback is asked for, which sends the
 *     close frame (lws_close_reason) and returns -1. Input is ignored from here on.
 *     lws's own timeout closes the socket if the peer never lets us write.
 *
 * One timer (TICK_MS) scans every connection for the two timeouts and flushes the
 * batched writes: no per-connection timers. Offline marks are batched too (a burst of
 * closes is one UPDATE), and skip a device that came back meanwhile.
 *
 * Writes happen only in LWS_CALLBACK_SERVER_WRITEABLE, one message per callback, from
 * a per-connection queue of buffers with LWS_PRE headroom (capped: an agent that stops
 * reading is closed rather than allowed to grow the queue).
 *
 * Failed authentications (unknown device, wrong secret) are counted per client address
 * (hub_util.h); an address out of tries gets 4029 at once, before any lookup or hash.
 * Memory per connection is what lws keeps (its struct lws and a receive buffer of
 * RX_BUFFER bytes) plus struct conn (272 bytes) and a map node: ~3 KB per agent in all
 * (docs/benchmarks.md). lws's validity timers are off (helperd/main.c): they cost a walk
 * of every connection per connection established. */
#include "hub.h"

#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "events.h"
#include "events_json.h"
#include "helperd.h"
#include "hub_util.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "store.h"
#include "store_agent.h"
#include "ticket.h"

#define AGENT_PATH "/api/v1/ws/agent"
#define HELLO_TIMEOUT_MS 10000
#define TICK_MS 1000
#define SEEN_FLUSH_MS 5000
/* An agent's unsent messages: a heartbeat listing 400 stray sessions may be answered
 * by 400 tunnel.stop at once; more than this means the agent has stopped reading. */
#define QUEUE_MAX_BYTES (256 * 1024)
#define RX_BUFFER 1024
#define CLOSE_GRACE_S 5
/* A node's agent reports on changes, at most once a refresh period (a second at the
 * least) and after each welcome: more than this in a minute is a broken or hostile
 * agent, not a node, and each costs a database write. */
#define NODE_BURST 30
/* A ticket admits for TICKET_TTL_S; a connected agent gets a fresh one every
 * TICKET_REFRESH_S, so a restart finds every agent holding one at least
 * TTL - REFRESH from expiry. */
#define TICKET_TTL_S (72 * 3600)
#define TICKET_REFRESH_S (24 * 3600)
/* lws's private opcode for a close frame (lws-write.h leaves 4 out of its enum). */
#define LWS_WRITE_CLOSE_ 4

enum conn_state { C_HELLO, C_VERIFYING, C_ONLINE, C_CLOSING };

struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
};

struct verify_work;

struct conn {
	struct lws *wsi;
	struct conn *prev, *next;  /* every connection */
	struct outmsg *out_head, *out_tail;
	char *rx;                  /* a message arriving in several fragments */
	struct verify_work *work;  /* while VERIFYING */
	int64_t since_ms;          /* connected at */
	int64_t seen_ms;           /* last heartbeat (ONLINE) */
	uint32_t rx_len;
	uint16_t close_code;
	uint8_t state;
	uint8_t proto_version;     /* the hello's version: 1 .. PROTO_VERSION */
	uint8_t in_map : 1, seen_dirty : 1, rx_skip : 1;
	uint8_t node_burst;        /* node messages in the current minute (NODE_BURST) */
	int64_t node_window_ms;    /* when that minute started */
	int64_t ticket_ms;         /* when the last ticket was sent (version 4), else 0 */
	long long secret_version;  /* of the secret that admitted it: for the next ticket */
	char *node_name;           /* a node's agent: its node (owned), else NULL */
	char *cluster_id;          /* and its cluster (owned): a node's tickets name it */
	uint32_t out_bytes;        /* queued, for QUEUE_MAX_BYTES */
	const char *close_why;     /* static text for the close frame and the log */
	char device_id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN]; /* the device's (ONLINE), for the browsers' events */
	char addr[HUB_ADDR_LEN];
};

struct verify_work {
	uv_work_t req;
	struct conn *conn; /* NULL once the connection closed */
	int ok;
	struct store_agent_auth auth;
	char device_id[UUID_STR_LEN];
	char cluster_id[UUID_STR_LEN]; /* a node's agent: "" for a device's */
	char secret[260];
	char ticket[TICKET_MAX];       /* the hello's (version 4), or "" */
	char hostname[256], os[260], agent_version[68];
};

static struct {
	int initialised;
	struct hub_events events;
	struct conn *conns;
	int nconns;
	struct hub_map map; /* device id -> struct conn (ONLINE or CLOSING) */
	struct hub_rate *rate;
	uv_timer_t tick;
	int64_t last_seen_flush_ms;
	/* devices whose connection closed, to mark offline at the next tick (and then to
	 * tell the browsers: events.h) */
	struct gone {
		char device_id[UUID_STR_LEN];
		char tenant_id[UUID_STR_LEN];
		int64_t seen_ms;
	} *offline;
	int noffline, offline_cap;
	int trusted_listener; /* helperd.listen is a Unix socket: every peer is the proxy */
	long heartbeat_s, timeout_ms;
	int verifying;
	unsigned char ticket_key[TICKET_KEY_LEN]; /* store_agent_ticket_key; never logged */
} H;

static void count_gauge(void)
{
	metrics_set("kaiden_agents_connected", NULL, (double)H.map.count);
	metrics_set("kaiden_agent_connections", NULL, H.nconns);
}

static void auth_failure(const char *reason)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_inc("kaiden_agent_auth_failures_total", labels, 1);
}

/* Starts closing c with code: the frame goes out from the WRITEABLE callback. */
static void conn_close(struct conn *c, int code, const char *why)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	c->close_code = (uint16_t)code;
	c->close_why = why;
	if (code != PROTO_CLOSE_SHUTDOWN)
		log_info("device=%s addr=%s closing %d: %s", c->device_id[0] ? c->device_id : "-",
		         c->addr, code, why);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_S);
	lws_callback_on_writable(c->wsi);
}

static int enqueue(struct conn *c, const char *text)
{
	size_t len = strlen(text);
	struct outmsg *m;

	if (c->out_bytes + len > QUEUE_MAX_BYTES) {
		conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "the agent is not reading");
		return -1;
	}
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return -1;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->out_bytes += (uint32_t)len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

static void queue_free(struct conn *c)
{
	struct outmsg *m, *next;

	for (m = c->out_head; m; m = next) {
		next = m->next;
		/* A tunnel.start carries a token. */
		sodium_memzero(m->buf + LWS_PRE, m->len);
		free(m);
	}
	c->out_head = c->out_tail = NULL;
	c->out_bytes = 0;
}

static void offline_add(const struct conn *c)
{
	const char *device_id = c->device_id;

	if (H.noffline == H.offline_cap) {
		int cap = H.offline_cap ? H.offline_cap * 2 : 64;
		void *p = realloc(H.offline, (size_t)cap * sizeof(*H.offline));
		if (!p) {
			log_error("device=%s out of memory queueing the offline mark", device_id);
			return;
		}
		H.offline = p;
		H.offline_cap = cap;
	}
	memcpy(H.offline[H.noffline].device_id, device_id, UUID_STR_LEN);
	memcpy(H.offline[H.noffline].tenant_id, c->tenant_id, UUID_STR_LEN);
	H.offline[H.noffline++].seen_ms = c->seen_ms;
}

/* ---- verification -------------------------------------------------------------------- */

static void verify_run(uv_work_t *req)
{
	struct verify_work *w = req->data;

	w->ok = secret_verify(w->auth.secret_hash, w->secret);
	sodium_memzero(w->secret, sizeof(w->secret));
}

static void fail_auth(struct conn *c, const char *reason, const char *why)
{
	hub_rate_fail(H.rate, c->addr, ids_now_ms());
	auth_failure(reason);
	log_warn("device=%s addr=%s authentication failed: %s", c->device_id, c->addr, why);
	conn_close(c, PROTO_CLOSE_AUTH, "authentication failed");
}

/* A new ticket for c (version 4, ONLINE or becoming so) into out. */
static void ticket_for(struct conn *c, char out[TICKET_MAX])
{
	ticket_issue(H.ticket_key, c->cluster_id ? TICKET_CLUSTER : TICKET_DEVICE,
	             c->cluster_id ? c->cluster_id : c->device_id, c->secret_version,
	             ids_now_ms() / 1000 + TICKET_TTL_S, out);
	c->ticket_ms = ids_now_ms();
}

static void go_online(struct conn *c, struct verify_work *w)
{
	struct store_agent_facts facts = { w->hostname, w->os, c->addr, w->agent_version };
	struct conn *old = hub_map_get(&H.map, c->device_id);
	json_object *fields;
	char *text;
	int rc;

	rc = store_agent_online(helperd.db, w->auth.tenant_id, c->device_id, helperd.instance,
	                        &facts);
	if (rc == STORE_NOT_FOUND) {
		conn_close(c, PROTO_CLOSE_GONE, c->node_name ? "node deleted" : "device deleted");
		return;
	}
	if (rc != STORE_OK) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "database unavailable");
		return;
	}
	if (old && old != c) {
		hub_map_del(&H.map, c->device_id, old);
		old->in_map = 0;
		conn_close(old, PROTO_CLOSE_REPLACED, "replaced by a newer connection");
	}
	if (hub_map_put(&H.map, c->device_id, c) != 0) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	c->in_map = 1;
	c->state = C_ONLINE;
	c->seen_ms = ids_now_ms();
	fields = json_object_new_object();
	json_object_object_add(fields, "heartbeat", json_object_new_int((int)H.heartbeat_s));
	if (c->proto_version >= 3)
		jsonx_add_str(fields, "device_id", c->device_id);
	if (c->proto_version >= 4) {
		char ticket[TICKET_MAX];
		ticket_for(c, ticket);
		jsonx_add_str(fields, "ticket", ticket);
		sodium_memzero(ticket, sizeof(ticket));
	}
	text = proto_build(PROTO_WELCOME, fields);
	if (!text || enqueue(c, text) != 0) {
		proto_text_free(text);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "cannot build welcome");
		return;
	}
	proto_text_free(text); /* it holds the ticket */
	count_gauge();
	log_info("device=%s agent online addr=%s agent_version=%s hostname=%s%s%s", c->device_id,
	         c->addr, w->agent_version, w->hostname, w->ticket[0] ? " (resumed)" : "",
	         old ? " (replaced a connection)" : "");
	memcpy(c->tenant_id, w->auth.tenant_id, sizeof(c->tenant_id));
	events_device(c->tenant_id, c->device_id, 1, c->seen_ms,
	              &(struct events_facts){ w->hostname, w->os, w->agent_version });
	if (H.events.online)
		H.events.online(c->device_id, 1);
}

/* A node's agent whose cluster secret verified: its device, found or made. 0, or -1
 * with c closing. */
static int node_join(struct conn *c, struct verify_work *w)
{
	int created = 0;
	int rc = store_agent_node_join(helperd.db, w->auth.tenant_id, w->cluster_id,
	                               c->node_name, c->device_id, &created);

	if (rc == STORE_NOT_FOUND) {
		auth_failure("gone");
		conn_close(c, PROTO_CLOSE_GONE, "cluster deleted");
		return -1;
	}
	if (rc != STORE_OK) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "database unavailable");
		return -1;
	}
	log_info("device=%s cluster=%s node=%s %s", c->device_id, w->cluster_id, c->node_name,
	         created ? "node registered" : "node found");
	return 0;
}

/* The credentials were checked (w->ok: by argon2id, or a ticket): what follows. */
static void admit(struct conn *c, struct verify_work *w)
{
	if (!w->ok) {
		fail_auth(c, "bad_secret", "wrong secret");
		return;
	}
	if (w->auth.gone) {
		auth_failure(w->auth.suspended ? "suspended" : "gone");
		conn_close(c, PROTO_CLOSE_GONE,
		           w->auth.suspended ? "tenant suspended"
		           : w->cluster_id[0] ? "cluster deleted" : "device deleted");
		return;
	}
	if (w->cluster_id[0] && node_join(c, w) != 0)
		return;
	c->secret_version = w->auth.secret_version;
	go_online(c, w);
}

static void verify_done(uv_work_t *req, int status)
{
	struct verify_work *w = req->data;
	struct conn *c = w->conn;

	H.verifying--;
	if (!c || status != 0 || helperd.stopping)
		goto out;
	c->work = NULL;
	if (c->state != C_VERIFYING)
		goto out;
	admit(c, w);
out:
	if (c && c->work == w)
		c->work = NULL;
	sodium_memzero(w, sizeof(*w));
	free(w);
}

static void copy_field(char *dst, size_t size, json_object *obj, const char *name)
{
	const char *v = jsonx_str(obj, name);

	snprintf(dst, size, "%s", v ? v : "");
}

/* The hello's ticket (w->ticket, version 4) against what w->auth read: 1 when it
 * admitted c (or c is closing), 0 when the hello goes on to argon2id. A refused ticket
 * is forgotten here (w->ticket emptied), so the full login decides as if there was none. */
static int resume(struct conn *c, struct verify_work *w)
{
	char labels[64];
	enum ticket_rc rc = ticket_check(H.ticket_key, w->cluster_id[0] ? TICKET_CLUSTER
	                                                                : TICKET_DEVICE,
	                                 w->cluster_id[0] ? w->cluster_id : w->device_id,
	                                 w->auth.secret_version, ids_now_ms() / 1000, w->ticket);
	const char *result = rc == TICKET_OK && w->auth.gone ? "gone" : ticket_rc_name(rc);

	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	metrics_inc("kaiden_agent_resumes_total", labels, 1);
	if (rc != TICKET_OK || w->auth.gone) {
		/* The ticket's text is never logged, only what was wrong with it. */
		log_info("device=%s addr=%s ticket refused (%s): full login", c->device_id, c->addr,
		         result);
		sodium_memzero(w->ticket, sizeof(w->ticket));
		return 0;
	}
	w->ok = 1;
	admit(c, w);
	return 1;
}

/* Copies the hello's secret and facts into w and hands w to the thread pool (c is
 * VERIFYING); w is freed here on failure. The secret was checked to be there (proto.c). */
static void verify_queue(struct conn *c, struct verify_work *w, struct proto_msg *msg)
{
	const char *secret = jsonx_str(msg->obj, "secret");

	if (strlen(secret) >= sizeof(w->secret)) {
		sodium_memzero(w, sizeof(*w));
		free(w);
		fail_auth(c, "bad_secret", "secret too long");
		return;
	}
	snprintf(w->secret, sizeof(w->secret), "%s", secret);
	copy_field(w->ticket, sizeof(w->ticket), msg->obj, "ticket");
	copy_field(w->hostname, sizeof(w->hostname), msg->obj, "hostname");
	copy_field(w->os, sizeof(w->os), msg->obj, "os");
	copy_field(w->agent_version, sizeof(w->agent_version), msg->obj, "agent_version");
	w->conn = c;
	w->req.data = w;
	if (w->ticket[0] && resume(c, w)) {
		sodium_memzero(w, sizeof(*w));
		free(w);
		return;
	}
	if (uv_queue_work(helperd.loop, &w->req, verify_run, verify_done) != 0) {
		sodium_memzero(w, sizeof(*w));
		free(w);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "cannot queue verification");
		return;
	}
	H.verifying++;
	c->work = w;
	c->state = C_VERIFYING;
}

/* A node's agent (version 3, checked by proto.c with its node name): the cluster's
 * credentials, answered exactly as a device's (an unknown cluster as a wrong secret,
 * so ids cannot be probed). */
static void cluster_hello(struct conn *c, struct proto_msg *msg)
{
	const char *cluster_id = jsonx_str(msg->obj, "cluster_id");
	struct verify_work *w;
	int rc;

	snprintf(c->device_id, sizeof(c->device_id), "%s", "-");
	if (!ids_is_uuid(cluster_id)) {
		fail_auth(c, "unknown_cluster", "the cluster id is not a UUID");
		return;
	}
	c->node_name = strdup(jsonx_str(msg->obj, "node_name"));
	w = calloc(1, sizeof(*w));
	if (!w || !c->node_name) {
		free(w);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	if (ids_uuid_lower(cluster_id, w->cluster_id) != 0) {
		free(w);
		fail_auth(c, "unknown_cluster", "the cluster id is not a UUID");
		return;
	}
	c->cluster_id = strdup(w->cluster_id);
	if (!c->cluster_id) {
		free(w);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	rc = store_agent_cluster_auth_get(helperd.db, w->cluster_id, &w->auth);
	if (rc == STORE_NOT_FOUND) {
		free(w);
		fail_auth(c, "unknown_cluster", "no such cluster");
		return;
	}
	if (rc != STORE_OK) {
		free(w);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "database unavailable");
		return;
	}
	log_debug("cluster=%s node=%s addr=%s hello", w->cluster_id, c->node_name, c->addr);
	verify_queue(c, w, msg);
}

static void hello(struct conn *c, struct proto_msg *msg)
{
	struct verify_work *w;
	const char *device_id = jsonx_str(msg->obj, "device_id");
	const char *cluster_id = jsonx_str(msg->obj, "cluster_id");
	const char *secret = jsonx_str(msg->obj, "secret");
	json_object *v = NULL;
	int rc;

	if (hub_rate_limited(H.rate, c->addr, ids_now_ms())) {
		auth_failure("rate_limited");
		conn_close(c, PROTO_CLOSE_RATE, "too many failed attempts from this address");
		return;
	}
	/* Version 1 agents (no relay) are still served; a newer one is not understood. */
	if (json_object_object_get_ex(msg->obj, "version", &v) &&
	    (json_object_get_int(v) < 1 || json_object_get_int(v) > PROTO_VERSION)) {
		conn_close(c, PROTO_CLOSE_PROTOCOL, "unsupported protocol version");
		return;
	}
	c->proto_version = (uint8_t)json_object_get_int(v);
	if (cluster_id) {
		cluster_hello(c, msg);
		return;
	}
	if (!device_id || !ids_is_uuid(device_id) || !secret) {
		snprintf(c->device_id, sizeof(c->device_id), "%s", "-");
		fail_auth(c, "unknown_device", "the device id is not a UUID");
		return;
	}
	for (int i = 0; i < UUID_STR_LEN - 1; i++)
		c->device_id[i] = (char)(device_id[i] >= 'A' && device_id[i] <= 'F'
		                                 ? device_id[i] - 'A' + 'a'
		                                 : device_id[i]);
	c->device_id[UUID_STR_LEN - 1] = '\0';
	w = calloc(1, sizeof(*w));
	if (!w) {
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	rc = store_agent_auth_get(helperd.db, c->device_id, &w->auth);
	if (rc == STORE_NOT_FOUND) {
		free(w);
		fail_auth(c, "unknown_device", "no such device");
		return;
	}
	if (rc != STORE_OK) {
		free(w);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "database unavailable");
		return;
	}
	snprintf(w->device_id, sizeof(w->device_id), "%s", c->device_id);
	verify_queue(c, w, msg);
}

/* ---- messages --------------------------------------------------------------------- */

/* The object's JSON text as stored (its own buffer, until the object goes); '/' is
 * kept as is, so "kubernetes.io/hostname" reads the same in the database. */
static const char *json_text(json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A node's agent read its node (proto.c checked every member's shape and size). */
static void node_message(struct conn *c, struct proto_msg *msg)
{
	json_object *o = msg->obj;
	int64_t now = ids_now_ms();
	struct store_agent_node node = { 0 };
	int rc;

	if (!c->node_name || strcmp(jsonx_str(o, "node_name"), c->node_name) != 0) {
		conn_close(c, PROTO_CLOSE_PROTOCOL,
		           c->node_name ? "node report for another node" : "node report from a device");
		return;
	}
	if (now - c->node_window_ms >= 60000) {
		c->node_window_ms = now;
		c->node_burst = 0;
	}
	if (++c->node_burst > NODE_BURST) {
		conn_close(c, PROTO_CLOSE_PROTOCOL, "too many node reports");
		return;
	}
	c->seen_ms = now;
	node.reason = jsonx_str(o, "error");
	if (!node.reason) {
		node.node_status = jsonx_str(o, "node_status");
		node.unschedulable =
			json_object_get_boolean(json_object_object_get(o, "unschedulable"));
		node.labels = json_text(json_object_object_get(o, "labels"));
		node.resources = json_text(json_object_object_get(o, "resources"));
		node.versions = json_text(json_object_object_get(o, "versions"));
	}
	rc = store_agent_node_report(helperd.db, c->tenant_id, c->device_id, &node);
	if (rc == STORE_NOT_FOUND) {
		conn_close(c, PROTO_CLOSE_GONE, "node deleted");
		return;
	}
	if (rc != STORE_OK) {
		log_warn("device=%s node=%s node report not stored", c->device_id, c->node_name);
		return;
	}
	/* Written: now the browsers may hear it. */
	events_node(c->tenant_id, c->device_id, c->node_name, node.node_status,
	            node.unschedulable, node.reason);
	if (node.reason)
		log_info("device=%s node=%s cannot be read: %s", c->device_id, c->node_name,
		         node.reason);
	else
		log_info("device=%s node=%s %s%s", c->device_id, c->node_name, node.node_status,
		         node.unschedulable ? ",unschedulable" : "");
}

static void message(struct conn *c, const char *data, size_t len)
{
	struct proto_msg msg = { 0 };
	struct jsonx_error err;

	if (proto_parse(data, len, &msg, &err) != 0) {
		/* err names the field, never its value: safe to log. */
		log_info("device=%s addr=%s bad message: %s %s", c->device_id[0] ? c->device_id : "-",
		         c->addr, err.code, err.field);
		conn_close(c, PROTO_CLOSE_PROTOCOL, "malformed message");
		return;
	}
	switch (c->state) {
	case C_HELLO:
		if (msg.type != PROTO_HELLO)
			conn_close(c, PROTO_CLOSE_PROTOCOL, "hello first");
		else
			hello(c, &msg);
		break;
	case C_VERIFYING:
		conn_close(c, PROTO_CLOSE_PROTOCOL, "nothing is accepted before welcome");
		break;
	case C_ONLINE:
		switch (msg.type) {
		case PROTO_HEARTBEAT:
			c->seen_ms = ids_now_ms();
			c->seen_dirty = 1;
			if (H.events.running)
				H.events.running(c->device_id,
				                 json_object_object_get(msg.obj, "sessions"));
			break;
		case PROTO_NODE:
			node_message(c, &msg);
			break;
		case PROTO_TUNNEL_READY:
		case PROTO_TUNNEL_FAILED:
		case PROTO_TUNNEL_STOPPED:
		case PROTO_RELAY_FAILED:
			c->seen_ms = ids_now_ms();
			if (H.events.message)
				H.events.message(c->device_id, &msg);
			break;
		default:
			conn_close(c, PROTO_CLOSE_PROTOCOL, "unexpected message type");
			break;
		}
		break;
	default:
		break;
	}
	proto_msg_clear(&msg);
}

/* One piece of a frame. Messages are assembled up to PROTO_MAX_MSG; most (heartbeats)
 * arrive whole and are parsed in place. */
static void receive(struct conn *c, const char *in, size_t len)
{
	size_t remaining = lws_remaining_packet_payload(c->wsi);
	int first = lws_is_first_fragment(c->wsi), final = lws_is_final_fragment(c->wsi);

	if (c->state == C_CLOSING)
		return;
	if (lws_frame_is_binary(c->wsi)) {
		conn_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not accepted");
		return;
	}
	if (first && !c->rx && final && remaining == 0) {
		message(c, in, len);
		return;
	}
	if ((size_t)c->rx_len + len + remaining > PROTO_MAX_MSG) {
		conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
		return;
	}
	/* Grown to what this message declares so far, never past PROTO_MAX_MSG. */
	{
		char *grown = realloc(c->rx, c->rx_len + len + remaining + 1);
		if (!grown) {
			conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
			return;
		}
		c->rx = grown;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += (uint32_t)len;
	if (final && remaining == 0) {
		message(c, c->rx, c->rx_len);
		/* It may have been a hello, with the secret in it. */
		sodium_memzero(c->rx, c->rx_len);
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
	}
}

static int writeable(struct conn *c)
{
	struct outmsg *m = c->out_head;

	if (c->state == C_CLOSING) {
		unsigned char frame[LWS_PRE + 125];
		const char *why = c->close_why ? c->close_why : "";
		size_t n = strlen(why) > 123 ? 123 : strlen(why);

		if (!c->close_code)
			return 0; /* sent: waiting for the peer's answer */
		/* The close frame is written here rather than by returning -1 after
		 * lws_close_reason: Debian's lws 4.1 (a _DEBUG build) closes a libuv
		 * connection a second time right after the first, before the frame goes
		 * out ("uv repeat test"), and the agent would see 1006 instead of our code.
		 * lws answers the peer's close and frees the connection; if the peer stays
		 * silent the CLOSE_ACK timeout does. */
		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)c->close_code;
		memcpy(frame + LWS_PRE + 2, why, n);
		c->close_code = 0;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_GRACE_S);
		if (lws_write(c->wsi, frame + LWS_PRE, n + 2, (enum lws_write_protocol)LWS_WRITE_CLOSE_) < 0)
			return -1;
		return 0;
	}
	if (!m)
		return 0;
	if (lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	c->out_head = m->next;
	if (!c->out_head)
		c->out_tail = NULL;
	c->out_bytes -= (uint32_t)m->len;
	sodium_memzero(m->buf + LWS_PRE, m->len);
	free(m);
	if (c->out_head)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- connection life ----------------------------------------------------------------- */

static int path_ok(struct lws *wsi)
{
	char uri[64];
	int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);

	return n > 0 && strcmp(uri, AGENT_PATH) == 0;
}

void hub_client_addr(struct lws *wsi, char out[HUB_ADDR_LEN])
{
	char peer[HUB_ADDR_LEN] = "", xff[512] = "", xreal[HUB_ADDR_LEN] = "";
	int trusted = H.trusted_listener;

	if (!trusted && lws_get_peer_simple(wsi, peer, sizeof(peer)))
		trusted = hub_addr_is_loopback(peer);
	if (trusted) {
		if (lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR) < 0)
			xff[0] = '\0';
		if (lws_hdr_custom_copy(wsi, xreal, sizeof(xreal), "x-real-ip:", 10) < 0)
			xreal[0] = '\0';
	}
	hub_addr_pick(peer, trusted, xff, xreal, out);
}

static void established(struct lws *wsi, struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->since_ms = ids_now_ms();
	c->state = C_HELLO;
	hub_client_addr(wsi, c->addr);
	c->next = H.conns;
	if (H.conns)
		H.conns->prev = c;
	H.conns = c;
	H.nconns++;
	count_gauge();
	if (helperd.stopping) {
		conn_close(c, PROTO_CLOSE_SHUTDOWN, "helperd is stopping");
		return;
	}
	/* An address out of tries is told so at once, before it spends anything of ours. */
	if (hub_rate_limited(H.rate, c->addr, c->since_ms)) {
		auth_failure("rate_limited");
		conn_close(c, PROTO_CLOSE_RATE, "too many failed attempts from this address");
	}
}

static void closed(struct conn *c)
{
	if (!c->wsi)
		return; /* never established */
	if (c->work)
		c->work->conn = NULL;
	free(c->node_name);
	c->node_name = NULL;
	free(c->cluster_id);
	c->cluster_id = NULL;
	queue_free(c);
	if (c->rx)
		sodium_memzero(c->rx, c->rx_len);
	free(c->rx);
	c->rx = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		H.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	H.nconns--;
	if (c->in_map && hub_map_del(&H.map, c->device_id, c)) {
		c->in_map = 0;
		/* At shutdown every device is released at once (hub_shutdown). */
		if (!helperd.stopping) {
			offline_add(c);
			log_info("device=%s agent offline addr=%s%s%s", c->device_id, c->addr,
			         c->close_why ? ": " : "", c->close_why ? c->close_why : "");
			if (H.events.online)
				H.events.online(c->device_id, 0);
		}
	}
	c->wsi = NULL;
	count_gauge();
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Refusing here closes the socket before the upgrade completes. */
		if (!path_ok(wsi) || !H.initialised)
			return 1;
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		established(wsi, c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		receive(c, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return writeable(c);
	case LWS_CALLBACK_CLOSED:
		closed(c);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols hub_protocol = {
	.name = "kaiden-agent",
	.callback = callback,
	.per_session_data_size = sizeof(struct conn),
	.rx_buffer_size = RX_BUFFER,
	.tx_packet_size = PROTO_MAX_MSG + 64,
};

/* ---- periodic work ------------------------------------------------------------------- */

/* Writes last_seen for the agents heard from since the last flush, and asks whether
 * they are still welcome: an agent whose device was deleted, or whose tenant was
 * suspended or deleted, since it connected is closed with 4003. An agent heartbeats at
 * least every helperd.heartbeat seconds, so it is dropped within a heartbeat plus
 * SEEN_FLUSH_MS. */
static void flush_seen(void)
{
	const char **ids;
	struct conn **conns;
	unsigned char *standing;
	int n = 0;

	if (H.map.count == 0)
		return;
	ids = malloc(H.map.count * sizeof(*ids));
	conns = malloc(H.map.count * sizeof(*conns));
	standing = malloc(H.map.count);
	if (!ids || !conns || !standing)
		goto out;
	for (struct conn *c = H.conns; c; c = c->next)
		if (c->seen_dirty && c->in_map && (size_t)n < H.map.count) {
			conns[n] = c;
			ids[n++] = c->device_id;
			c->seen_dirty = 0;
		}
	if (n == 0)
		goto out;
	if (store_agent_seen(helperd.db, helperd.instance, ids, n, NULL) != STORE_OK)
		log_warn("worker=%s last_seen of %d devices not written", helperd.instance, n);
	if (store_agent_standing(helperd.db, ids, n, standing) != STORE_OK) {
		log_warn("worker=%s standing of %d devices not read", helperd.instance, n);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (standing[i] == AGENT_OK || conns[i]->state != C_ONLINE)
			continue;
		auth_failure(standing[i] == AGENT_SUSPENDED ? "suspended" : "gone");
		conn_close(conns[i], PROTO_CLOSE_GONE,
		           standing[i] == AGENT_SUSPENDED ? "tenant suspended" : "device deleted");
	}
out:
	free(standing);
	free(conns);
	free(ids);
}

static void flush_offline(void)
{
	const char **ids;
	int n = 0;

	if (H.noffline == 0)
		return;
	ids = malloc((size_t)H.noffline * sizeof(*ids));
	if (!ids)
		return;
	/* A device that reconnected since is online again: leave it. */
	for (int i = 0; i < H.noffline; i++)
		if (!hub_map_get(&H.map, H.offline[i].device_id))
			ids[n++] = H.offline[i].device_id;
	if (n > 0 && store_agent_offline(helperd.db, helperd.instance, ids, n, NULL) != STORE_OK) {
		log_warn("worker=%s offline mark of %d devices not written: retrying",
		         helperd.instance, n);
		free(ids);
		return;
	}
	free(ids);
	/* Written: now the browsers may hear it (a re-read through the API agrees). */
	for (int i = 0; i < H.noffline; i++)
		if (!hub_map_get(&H.map, H.offline[i].device_id))
			events_device(H.offline[i].tenant_id, H.offline[i].device_id, 0,
			              H.offline[i].seen_ms, NULL);
	H.noffline = 0;
	if (H.offline_cap > 1024) {
		free(H.offline);
		H.offline = NULL;
		H.offline_cap = 0;
	}
}

/* A version-4 agent's ticket is getting old: a new one (ticket message). */
static void ticket_refresh(struct conn *c)
{
	json_object *fields = json_object_new_object();
	char ticket[TICKET_MAX], *text;

	ticket_for(c, ticket);
	jsonx_add_str(fields, "ticket", ticket);
	sodium_memzero(ticket, sizeof(ticket));
	text = proto_build(PROTO_TICKET, fields);
	if (text && enqueue(c, text) == 0)
		log_debug("device=%s sent a fresh ticket", c->device_id);
	proto_text_free(text);
}

static void on_tick(uv_timer_t *t)
{
	int64_t now = ids_now_ms();

	(void)t;
	for (struct conn *c = H.conns; c; c = c->next) {
		if (c->state == C_HELLO && now - c->since_ms > HELLO_TIMEOUT_MS)
			conn_close(c, PROTO_CLOSE_TIMEOUT, "no hello in time");
		else if (c->state == C_ONLINE && now - c->seen_ms > H.timeout_ms)
			conn_close(c, PROTO_CLOSE_TIMEOUT, "heartbeats stopped");
		else if (c->state == C_ONLINE && c->ticket_ms &&
		         now - c->ticket_ms >= TICKET_REFRESH_S * 1000LL)
			ticket_refresh(c);
	}
	flush_offline();
	if (now - H.last_seen_flush_ms >= SEEN_FLUSH_MS) {
		H.last_seen_flush_ms = now;
		flush_seen();
	}
}

/* ---- interface ---------------------------------------------------------------------- */

int hub_init(const struct hub_events *events)
{
	const char *listen = cfg_str(CFG_HELPERD_LISTEN);
	long released = 0;

	memset(&H, 0, sizeof(H));
	if (events)
		H.events = *events;
	H.rate = malloc(sizeof(*H.rate));
	if (!H.rate)
		return -1;
	hub_rate_init(H.rate);
	hub_map_init(&H.map);
	H.trusted_listener = listen && listen[0] == '/';
	H.heartbeat_s = cfg_int(CFG_HELPERD_HEARTBEAT);
	H.timeout_ms = cfg_int(CFG_HELPERD_AGENT_TIMEOUT) * 1000;
	metrics_describe("kaiden_agents_connected", METRICS_GAUGE,
	                 "agents connected and authenticated here");
	metrics_describe("kaiden_agent_connections", METRICS_GAUGE,
	                 "agent WebSocket connections here, authenticated or not");
	metrics_describe("kaiden_agent_auth_failures_total", METRICS_COUNTER,
	                 "agent authentications refused, by reason");
	metrics_describe("kaiden_agent_resumes_total", METRICS_COUNTER,
	                 "hellos with a resumption ticket, by result (ok: no argon2id)");
	if (store_agent_ticket_key(helperd.db, H.ticket_key) != STORE_OK) {
		log_error("worker=%s cannot read or make the agents' ticket key", helperd.instance);
		free(H.rate);
		H.rate = NULL;
		return -1;
	}
	count_gauge();
	/* This instance holds no connection yet: whatever a previous run left online is
	 * not (its agents reconnect and say so). */
	if (store_agent_release(helperd.db, helperd.instance, &released) != STORE_OK) {
		log_error("worker=%s cannot reset the devices of a previous run", helperd.instance);
		free(H.rate);
		H.rate = NULL;
		return -1;
	}
	if (released)
		log_info("worker=%s %ld devices left online by a previous run marked offline",
		         helperd.instance, released);
	uv_timer_init(helperd.loop, &H.tick);
	uv_timer_start(&H.tick, on_tick, TICK_MS, TICK_MS);
	H.last_seen_flush_ms = ids_now_ms();
	H.initialised = 1;
	return 0;
}

void hub_shutdown(void)
{
	long released = 0;

	if (!H.initialised)
		return;
	H.initialised = 0;
	uv_timer_stop(&H.tick);
	uv_close((uv_handle_t *)&H.tick, NULL);
	flush_seen();
	flush_offline();
	for (struct conn *c = H.conns; c; c = c->next) {
		c->in_map = 0;
		conn_close(c, PROTO_CLOSE_SHUTDOWN, "helperd is stopping");
	}
	hub_map_clear(&H.map);
	if (store_agent_release(helperd.db, helperd.instance, &released) != STORE_OK)
		log_warn("worker=%s devices not marked offline at shutdown", helperd.instance);
	else if (released)
		log_info("worker=%s %ld devices marked offline at shutdown", helperd.instance,
		         released);
	free(H.offline);
	H.offline = NULL;
	H.noffline = H.offline_cap = 0;
	count_gauge();
}

/* After the lws context is gone (every connection closed): frees the rest. */
void hub_free(void)
{
	sodium_memzero(H.ticket_key, sizeof(H.ticket_key));
	free(H.rate);
	H.rate = NULL;
	hub_map_clear(&H.map);
}

int hub_send(const char *device_id, enum proto_type type, json_object *fields)
{
	struct conn *c = device_id ? hub_map_get(&H.map, device_id) : NULL;
	char *text;
	int rc;

	if (!c || c->state != C_ONLINE) {
		json_object_put(fields);
		return -1;
	}
	text = proto_build(type, fields);
	if (!text)
		return -1;
	rc = enqueue(c, text);
	proto_text_free(text); /* it may hold a tunnel token */
	if (rc == 0)
		log_debug("device=%s sent %s", device_id, proto_type_name(type));
	return rc;
}

int hub_online(const char *device_id)
{
	struct conn *c = device_id ? hub_map_get(&H.map, device_id) : NULL;

	return c && c->state == C_ONLINE;
}

int hub_version(const char *device_id)
{
	struct conn *c = device_id ? hub_map_get(&H.map, device_id) : NULL;

	return c && c->state == C_ONLINE ? c->proto_version : 0;
}

int hub_count(void)
{
	return (int)H.map.count;
}

int hub_connections(void)
{
	return H.nconns;
}
