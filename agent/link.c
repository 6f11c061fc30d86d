/* link.c: the WebSocket link to kaiden-helperd and its reconnect logic.
 *
 * States (one connection at a time, L.wsi):
 *
 *   WAITING --retry timer--> CONNECTING --established--> HELLO (hello written first)
 *   HELLO --welcome--> ONLINE (heartbeat at once, then every `heartbeat` s; queued
 *                      messages flushed)
 *   any --closed/error--> WAITING, with a delay chosen by the close code:
 *     4001 auth, 4003 gone, 4008 replaced, 4029 rate   slow: 60 s, 120 s, 240 s (+25%)
 *     1001 server shutting down                        soon: 1-2 s
 *     anything else (4000, 4009, 1006 dropped, ...)    1, 2, 4 ... 50 s (+20%, so <= 60 s)
 *   A connection that stayed online for STABLE_S resets the backoff, so a flapping
 *   server is not hammered but a restart after a long uptime is retried at once.
 *   link_close (agent shutdown): flush the queue, close with 1001, never reconnect.
 *
 * Resumption (protocol 4): welcome (and later a "ticket" message) gives a ticket that
 * the next hello offers beside the secret, so the server can skip argon2id; a slow
 * close (4001, 4003, 4008, 4029) forgets it.
 *
 * An older helperd (protocols 1-3, before tickets) closes a version-4 hello with 4000
 * "unsupported protocol version": the next hello says 3, without the ticket it would not
 * know, and the first after the next welcome says 4 again (a server upgraded since takes
 * it; one still old costs one refused hello per reconnect).
 *
 * Writes happen only in LWS_CALLBACK_CLIENT_WRITEABLE: hello, then a due heartbeat,
 * then one queued message per callback. The token in tunnel.start, the key in
 * relay.open, the ticket and the secret in hello are never logged: only message types
 * are. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "sysinfo.h"
#include "ticket.h"

#define QUEUE_MAX 128
#define WELCOME_TIMEOUT_S 30
#define STABLE_S 30
#define CLOSE_FLUSH_S 3

struct qmsg {
	struct qmsg *next;
	enum proto_type type;
	size_t len;
	unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
};

enum link_state { L_WAITING, L_CONNECTING, L_HELLO, L_ONLINE };

static struct {
	struct lws_context *context;
	struct link_config cfg; /* url and device_id point into the copies below */
	char url_copy[1100];
	char device_id_copy[80];   /* a node's: from welcome */
	char cluster_id_copy[80];
	char node_name_copy[256];
	/* The server's resumption ticket (welcome, ticket), offered in the next hello: in
	 * memory only, never on disk (agent/PROTOCOL.md says why). "" when none. */
	char ticket[TICKET_MAX];
	struct link_handlers h;
	struct link_url url;
	char host_header[300];
	struct lws *wsi;
	enum link_state state;
	int hello_sent;
	int heartbeat_s;
	int heartbeat_due;
	int close_code;        /* from the server's close frame, 0 if none */
	char close_reason[64]; /* ... and its reason, cut short */
	int hello_version;     /* what the next hello says: PROTO_VERSION, or 3 (above) */
	int last_close_code;
	unsigned last_retry_ms;
	int retry_scheduled;
	uint16_t tries_normal, tries_slow;
	time_t online_since;
	int closing, done;
	struct qmsg *head, *tail;
	int queued;
	char *rx;              /* frame reassembly, PROTO_MAX_MSG cap */
	size_t rx_len;
	lws_sorted_usec_list_t sul_retry, sul_heartbeat, sul_close;
} L;

static const uint32_t normal_ms[] = { 1000, 2000, 4000, 8000, 16000, 32000, 50000 };
static const uint32_t slow_ms[] = { 60000, 120000, 240000 };
static const uint32_t soon_ms[] = { 1000 };

static const lws_retry_bo_t normal_bo = {
	.retry_ms_table = normal_ms, .retry_ms_table_count = LWS_ARRAY_SIZE(normal_ms),
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS, .jitter_percent = 20,
	/* Idle policy for the live connection: a WebSocket ping after 30 s without traffic,
	 * hang up after 90 s, so a silently dead path is noticed and reconnected. */
	.secs_since_valid_ping = 30, .secs_since_valid_hangup = 90,
};
static const lws_retry_bo_t slow_bo = {
	.retry_ms_table = slow_ms, .retry_ms_table_count = LWS_ARRAY_SIZE(slow_ms),
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS, .jitter_percent = 25,
};
static const lws_retry_bo_t soon_bo = {
	.retry_ms_table = soon_ms, .retry_ms_table_count = LWS_ARRAY_SIZE(soon_ms),
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS, .jitter_percent = 100,
};

static int is_slow_code(int code)
{
	return code == PROTO_CLOSE_AUTH || code == PROTO_CLOSE_GONE ||
	       code == PROTO_CLOSE_REPLACED || code == PROTO_CLOSE_RATE;
}

unsigned link_backoff_base_ms(int close_code, unsigned try)
{
	const lws_retry_bo_t *bo = close_code == PROTO_CLOSE_SHUTDOWN ? &soon_bo
	                           : is_slow_code(close_code)          ? &slow_bo
	                                                               : &normal_bo;
	if (try >= bo->retry_ms_table_count)
		try = bo->retry_ms_table_count - 1u;
	return bo->retry_ms_table[try];
}

static const char *close_meaning(int code)
{
	switch (code) {
	case PROTO_CLOSE_PROTOCOL: return "protocol error";
	case PROTO_CLOSE_AUTH: return "authentication refused: check the device id and secret";
	case PROTO_CLOSE_GONE: return "device or cluster deleted, or tenant suspended";
	case PROTO_CLOSE_REPLACED: return "another agent connected with this device id";
	case PROTO_CLOSE_TIMEOUT: return "server timed out waiting for hello or heartbeats";
	case PROTO_CLOSE_RATE: return "too many failed attempts from this address";
	case PROTO_CLOSE_SHUTDOWN: return "server is going away";
	case 1000: return "normal close";
	case 0: return "connection lost";
	default: return "closed";
	}
}

int link_url_parse(const char *url, int insecure, struct link_url *out, char *err,
                   size_t errlen)
{
	struct link_url u = { 0 };
	const char *p, *host_end, *path;
	size_t host_len;

	if (!url || !*url) {
		snprintf(err, errlen, "no server URL (--server or KAIDEN_SERVER)");
		return -1;
	}
	if (strncmp(url, "wss://", 6) == 0) {
		u.tls = 1;
		u.port = 443;
		p = url + 6;
	} else if (strncmp(url, "ws://", 5) == 0) {
		if (!insecure) {
			snprintf(err, errlen, "%s: ws:// is not encrypted; use wss://, or --insecure "
			                      "for local tests", url);
			return -1;
		}
		u.port = 80;
		p = url + 5;
	} else {
		snprintf(err, errlen, "%s: the server URL must start with wss://", url);
		return -1;
	}
	path = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(path - p))) {
		snprintf(err, errlen, "%s: credentials in the URL are not supported", url);
		return -1;
	}
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(path - p));
		if (!host_end) {
			snprintf(err, errlen, "%s: unterminated [IPv6] address", url);
			return -1;
		}
		host_len = (size_t)(host_end - p - 1);
		memcpy(u.host, p + 1, host_len < sizeof(u.host) ? host_len : 0);
		p = host_end + 1;
	} else {
		host_end = p + strcspn(p, ":/?#");
		host_len = (size_t)(host_end - p);
		if (host_len < sizeof(u.host))
			memcpy(u.host, p, host_len);
		p = host_end;
	}
	if (host_len == 0 || host_len >= sizeof(u.host)) {
		snprintf(err, errlen, "%s: no valid host name", url);
		return -1;
	}
	if (*p == ':') {
		char *end;
		long port;
		errno = 0;
		port = strtol(p + 1, &end, 10);
		if (end == p + 1 || end != path || errno || port < 1 || port > 65535) {
			snprintf(err, errlen, "%s: invalid port", url);
			return -1;
		}
		u.port = (int)port;
	} else if (p != path) {
		snprintf(err, errlen, "%s: invalid host", url);
		return -1;
	}
	if (*path == '#' || strchr(path, '#')) {
		snprintf(err, errlen, "%s: a fragment makes no sense in a server URL", url);
		return -1;
	}
	if (*path != '/')
		snprintf(u.path, sizeof(u.path), "/%s", path);
	else if (strlen(path) < sizeof(u.path))
		snprintf(u.path, sizeof(u.path), "%s", path);
	else {
		snprintf(err, errlen, "%s: path too long", url);
		return -1;
	}
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "the server URL contains spaces or control characters");
			return -1;
		}
	*out = u;
	return 0;
}

void link_host_header(const struct link_url *u, char *out, size_t outlen)
{
	int def = u->tls ? 443 : 80;
	int v6 = strchr(u->host, ':') != NULL;

	if (u->port == def)
		snprintf(out, outlen, v6 ? "[%s]" : "%s", u->host);
	else
		snprintf(out, outlen, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
}

const char *link_system_ca_file(void)
{
	static const char *const paths[] = {
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/cert.pem",
		"/etc/ssl/ca-bundle.pem",
	};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

/* ---- the queue ---- */

static struct qmsg *qmsg_new(enum proto_type type, json_object *fields)
{
	char *text = proto_build(type, fields);
	struct qmsg *m;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (m) {
		m->next = NULL;
		m->type = type;
		m->len = len;
		memcpy(m->buf + LWS_PRE, text, len);
	}
	/* The text may hold the secret (hello): wipe before freeing. */
	explicit_bzero(text, len);
	free(text);
	return m;
}

static void queue_push(struct qmsg *m)
{
	if (L.queued >= QUEUE_MAX) {
		struct qmsg *old = L.head;
		L.head = old->next;
		if (!L.head)
			L.tail = NULL;
		L.queued--;
		log_warn("link: queue full; dropping a %s message", proto_type_name(old->type));
		free(old);
	}
	if (L.tail)
		L.tail->next = m;
	else
		L.head = m;
	L.tail = m;
	L.queued++;
}

static struct qmsg *queue_pop(void)
{
	struct qmsg *m = L.head;

	if (m) {
		L.head = m->next;
		if (!L.head)
			L.tail = NULL;
		L.queued--;
	}
	return m;
}

void link_send(enum proto_type type, json_object *fields)
{
	struct qmsg *m = qmsg_new(type, fields);

	if (!m)
		return; /* logged by proto_build */
	queue_push(m);
	if (L.wsi && L.state == L_ONLINE)
		lws_callback_on_writable(L.wsi);
}

/* ---- connecting and reconnecting ---- */

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_retry(int code)
{
	const lws_retry_bo_t *bo;
	uint16_t *tries;
	unsigned ms;

	if (L.closing || L.retry_scheduled)
		return;
	if (L.online_since && time(NULL) - L.online_since >= STABLE_S)
		L.tries_normal = L.tries_slow = 0;
	L.online_since = 0;
	if (code == PROTO_CLOSE_SHUTDOWN) {
		bo = &soon_bo;
		L.tries_normal = L.tries_slow = 0;
		tries = &L.tries_normal;
		ms = lws_retry_get_delay_ms(L.context, bo, &(uint16_t){ 0 }, NULL);
	} else {
		bo = is_slow_code(code) ? &slow_bo : &normal_bo;
		tries = bo == &slow_bo ? &L.tries_slow : &L.tries_normal;
		ms = lws_retry_get_delay_ms(L.context, bo, tries, NULL);
	}
	L.retry_scheduled = 1;
	L.state = L_WAITING;
	L.last_retry_ms = ms;
	log_info("server=%s reconnecting in %.1f s", L.cfg.url, ms / 1000.0);
	lws_sul_schedule(L.context, 0, &L.sul_retry, connect_now, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
	struct lws_client_connect_info i;

	(void)sul;
	L.retry_scheduled = 0;
	if (L.closing)
		return;
	memset(&i, 0, sizeof(i));
	i.context = L.context;
	i.address = L.url.host;
	i.port = L.url.port;
	i.path = L.url.path;
	i.host = L.host_header;
	i.origin = L.host_header;
	i.ssl_connection = L.url.tls ? LCCSCF_USE_SSL : 0;
	i.protocol = "kaiden-agent";
	i.local_protocol_name = "kaiden-agent";
	i.retry_and_idle_policy = &normal_bo;
	i.pwsi = &L.wsi;
	L.state = L_CONNECTING;
	L.hello_sent = 0;
	L.close_code = 0;
	L.close_reason[0] = '\0';
	L.rx_len = 0;
	log_debug("server=%s connecting", L.cfg.url);
	if (!lws_client_connect_via_info(&i)) {
		L.wsi = NULL;
		schedule_retry(0);
	}
}

int link_init(struct lws_context *context, const struct link_config *cfg,
              const struct link_handlers *handlers)
{
	char err[256];
	struct link_url url;

	if (link_url_parse(cfg->url, cfg->insecure, &url, err, sizeof(err)) != 0) {
		log_error("link: %s", err);
		return -1;
	}
	memset(&L, 0, sizeof(L));
	L.hello_version = PROTO_VERSION;
	L.context = context;
	L.cfg = *cfg;
	snprintf(L.url_copy, sizeof(L.url_copy), "%s", cfg->url);
	snprintf(L.device_id_copy, sizeof(L.device_id_copy), "%s",
	         cfg->device_id ? cfg->device_id : "");
	snprintf(L.cluster_id_copy, sizeof(L.cluster_id_copy), "%s",
	         cfg->cluster_id ? cfg->cluster_id : "");
	snprintf(L.node_name_copy, sizeof(L.node_name_copy), "%s",
	         cfg->node_name ? cfg->node_name : "");
	L.cfg.url = L.url_copy;
	L.cfg.device_id = L.device_id_copy;
	L.cfg.cluster_id = L.cluster_id_copy;
	L.cfg.node_name = L.node_name_copy;
	L.h = *handlers;
	L.url = url;
	L.rx = malloc(PROTO_MAX_MSG + 1);
	if (!L.rx)
		return -1;
	link_host_header(&url, L.host_header, sizeof(L.host_header));
	lws_sul_schedule(L.context, 0, &L.sul_retry, connect_now, 1);
	L.retry_scheduled = 1;
	return 0;
}

static void closed(const char *why)
{
	L.wsi = NULL;
	L.last_close_code = L.close_code;
	/* Refused or replaced: whatever the ticket was, the next hello goes without it. */
	if (is_slow_code(L.close_code))
		sodium_memzero(L.ticket, sizeof(L.ticket));
	lws_sul_cancel(&L.sul_heartbeat);
	if (L.closing) {
		L.done = 1;
		lws_sul_cancel(&L.sul_close);
		return;
	}
	if (L.state == L_ONLINE || L.state == L_HELLO)
		log_warn("server=%s link closed: code=%d %s%s%s", L.cfg.url, L.close_code,
		         close_meaning(L.close_code), why ? ": " : "", why ? why : "");
	if (L.state == L_HELLO && L.close_code == PROTO_CLOSE_PROTOCOL && L.hello_version > 3 &&
	    strstr(L.close_reason, "unsupported protocol version")) {
		L.hello_version = 3;
		log_warn("server=%s does not speak protocol %d (an older kaiden-helperd): saying 3, "
		         "without resumption tickets", L.cfg.url, PROTO_VERSION);
	}
	else
		log_warn("server=%s cannot connect%s%s", L.cfg.url, why ? ": " : "", why ? why : "");
	L.state = L_WAITING;
	schedule_retry(L.close_code);
}

static void heartbeat_timer(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (!L.wsi || L.state != L_ONLINE)
		return;
	L.heartbeat_due = 1;
	lws_callback_on_writable(L.wsi);
	lws_sul_schedule(L.context, 0, &L.sul_heartbeat, heartbeat_timer,
	                 (lws_usec_t)L.heartbeat_s * LWS_US_PER_SEC);
}

static void close_timer(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (L.wsi)
		lws_set_timeout(L.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	else
		L.done = 1;
}

void link_close(void)
{
	if (L.closing)
		return;
	L.closing = 1;
	lws_sul_cancel(&L.sul_retry);
	L.retry_scheduled = 0;
	if (!L.wsi) {
		L.done = 1;
		return;
	}
	lws_callback_on_writable(L.wsi);
	lws_sul_schedule(L.context, 0, &L.sul_close, close_timer,
	                 (lws_usec_t)CLOSE_FLUSH_S * LWS_US_PER_SEC);
}

int link_done(void)
{
	return L.done;
}

int link_last_close_code(void)
{
	return L.last_close_code;
}

unsigned link_last_retry_ms(void)
{
	return L.last_retry_ms;
}

int link_online(void)
{
	return L.wsi && L.state == L_ONLINE;
}

void link_clear(void)
{
	struct qmsg *m;

	while ((m = queue_pop()))
		free(m);
	free(L.rx);
	L.rx = NULL;
	sodium_memzero(L.ticket, sizeof(L.ticket));
}

/* ---- the protocol callback ---- */

static int protocol_error(struct lws *wsi, const char *what)
{
	static const char reason[] = "protocol error";

	log_warn("server=%s protocol error: %s; closing", L.cfg.url, what);
	lws_close_reason(wsi, (enum lws_close_status)PROTO_CLOSE_PROTOCOL,
	                 (unsigned char *)reason, sizeof(reason) - 1);
	return -1;
}

/* The ticket of a welcome or ticket message, if it has one (proto.c bounded it). */
static void keep_ticket(json_object *msg)
{
	const char *ticket = jsonx_str(msg, "ticket");

	if (ticket)
		snprintf(L.ticket, sizeof(L.ticket), "%s", ticket);
}

static int handle_message(struct lws *wsi)
{
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	const char *sid;
	int rc = 0;

	if (proto_parse(L.rx, L.rx_len, &msg, &err) != 0) {
		char what[320];
		snprintf(what, sizeof(what), "%s (%s)", err.message, err.code);
		return protocol_error(wsi, what);
	}
	sid = jsonx_str(msg.obj, "session_id");
	if (L.state != L_ONLINE && msg.type != PROTO_WELCOME) {
		rc = protocol_error(wsi, "a message before welcome");
		goto out;
	}
	switch (msg.type) {
	case PROTO_WELCOME: {
		const char *device_id = jsonx_str(msg.obj, "device_id");
		if (L.state == L_ONLINE) {
			rc = protocol_error(wsi, "a second welcome");
			break;
		}
		/* A node's device is the server's to say; a device's agent knows its own. */
		if (device_id && *L.cfg.cluster_id)
			snprintf(L.device_id_copy, sizeof(L.device_id_copy), "%s", device_id);
		L.heartbeat_s = json_object_get_int(json_object_object_get(msg.obj, "heartbeat"));
		keep_ticket(msg.obj);
		L.hello_version = PROTO_VERSION; /* the next connection tries it again */
		L.state = L_ONLINE;
		L.online_since = time(NULL);
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		if (*L.cfg.cluster_id)
			log_info("device=%s cluster=%s node=%s online server=%s heartbeat=%ds",
			         *L.cfg.device_id ? L.cfg.device_id : "-", L.cfg.cluster_id,
			         L.cfg.node_name, L.cfg.url, L.heartbeat_s);
		else
			log_info("device=%s online server=%s heartbeat=%ds", L.cfg.device_id,
			         L.cfg.url, L.heartbeat_s);
		/* A heartbeat at once tells the server which tunnels survived the reconnect. */
		L.heartbeat_due = 1;
		lws_sul_schedule(L.context, 0, &L.sul_heartbeat, heartbeat_timer,
		                 (lws_usec_t)L.heartbeat_s * LWS_US_PER_SEC);
		if (L.h.welcomed)
			L.h.welcomed();
		lws_callback_on_writable(wsi);
		break;
	}
	case PROTO_TUNNEL_START: {
		json_object *port;
		int metrics_port = 0;
		if (json_object_object_get_ex(msg.obj, "metrics_port", &port) && port)
			metrics_port = json_object_get_int(port);
		log_info("session=%s tunnel.start", sid);
		L.h.tunnel_start(sid, jsonx_str(msg.obj, "token"), metrics_port);
		break;
	}
	case PROTO_TICKET:
		keep_ticket(msg.obj); /* never logged */
		break;
	case PROTO_TUNNEL_STOP:
		log_info("session=%s tunnel.stop", sid);
		L.h.tunnel_stop(sid);
		break;
	case PROTO_RELAY_START:
		if (!L.h.relay_start) {
			rc = protocol_error(wsi, "relay.start, but this agent has no relay");
			break;
		}
		log_info("session=%s relay.start", sid);
		L.h.relay_start(sid, json_object_get_int(json_object_object_get(msg.obj, "ssh_port")),
		                json_object_get_int(json_object_object_get(msg.obj, "web_port")));
		break;
	case PROTO_RELAY_OPEN:
		if (!L.h.relay_open) {
			rc = protocol_error(wsi, "relay.open, but this agent has no relay");
			break;
		}
		/* Never the key: proto_msg_clear wipes it below. */
		log_info("session=%s stream=%s relay.open target=%s", sid,
		         jsonx_str(msg.obj, "stream_id"), jsonx_str(msg.obj, "target"));
		L.h.relay_open(sid, jsonx_str(msg.obj, "stream_id"), jsonx_str(msg.obj, "target"),
		               jsonx_str(msg.obj, "key"));
		break;
	default: {
		char what[64];
		snprintf(what, sizeof(what), "unexpected %s from the server", proto_type_name(msg.type));
		rc = protocol_error(wsi, what);
		break;
	}
	}
out:
	proto_msg_clear(&msg);
	return rc;
}

static int write_msg(struct lws *wsi, unsigned char *buf, size_t len)
{
	int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);

	if (n < (int)len) {
		log_warn("server=%s write failed", L.cfg.url);
		return -1;
	}
	return 0;
}

static int write_hello(struct lws *wsi)
{
	struct sysinfo_facts f;
	json_object *o = json_object_new_object();
	struct qmsg *m;
	int rc;

	sysinfo_get(&f);
	json_object_object_add(o, "version", json_object_new_int(L.hello_version));
	if (*L.cfg.cluster_id) {
		jsonx_add_str(o, "cluster_id", L.cfg.cluster_id);
		jsonx_add_str(o, "node_name", L.cfg.node_name);
	} else {
		jsonx_add_str(o, "device_id", L.cfg.device_id);
	}
	jsonx_add_str(o, "secret", L.cfg.secret);
	if (L.ticket[0] && L.hello_version >= 4)
		jsonx_add_str(o, "ticket", L.ticket);
	jsonx_add_str(o, "agent_version", f.agent_version);
	jsonx_add_str(o, "hostname", f.hostname);
	jsonx_add_str(o, "os", f.os);
	jsonx_add_str(o, "arch", f.arch);
	m = qmsg_new(PROTO_HELLO, o);
	if (!m)
		return -1;
	rc = write_msg(wsi, m->buf, m->len);
	explicit_bzero(m->buf + LWS_PRE, m->len);
	free(m);
	return rc;
}

static int write_heartbeat(struct lws *wsi)
{
	json_object *o = json_object_new_object();
	struct qmsg *m;
	int rc;

	json_object_object_add(o, "sessions", L.h.sessions());
	m = qmsg_new(PROTO_HEARTBEAT, o);
	if (!m)
		return -1;
	rc = write_msg(wsi, m->buf, m->len);
	free(m);
	return rc;
}

static int writeable(struct lws *wsi)
{
	if (L.state == L_HELLO && !L.hello_sent) {
		if (write_hello(wsi) != 0)
			return -1;
		L.hello_sent = 1;
		return 0;
	}
	if (L.state == L_ONLINE) {
		if (L.heartbeat_due) {
			L.heartbeat_due = 0;
			if (write_heartbeat(wsi) != 0)
				return -1;
		} else if (L.head) {
			struct qmsg *m = queue_pop();
			int rc = write_msg(wsi, m->buf, m->len);
			log_debug("server=%s sent %s", L.cfg.url, proto_type_name(m->type));
			free(m);
			if (rc != 0)
				return -1;
		}
		if (L.head || L.heartbeat_due) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (L.closing) {
		static const char reason[] = "agent stopping";
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)reason,
		                 sizeof(reason) - 1);
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	(void)user;
	/* Only our one connection; anything else (a stale wsi) is ignored. */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (wsi != L.wsi)
			return 0;
		{
			char why[160];
			snprintf(why, sizeof(why), "%.*s", in ? (int)(len ? len : strlen(in)) : 0,
			         in ? (const char *)in : "");
			closed(*why ? why : NULL);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (wsi != L.wsi)
			return -1;
		L.state = L_HELLO;
		log_debug("server=%s connected; sending hello", L.cfg.url);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WELCOME_TIMEOUT_S);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (wsi != L.wsi)
			return -1;
		if (lws_frame_is_binary(wsi))
			return protocol_error(wsi, "a binary frame");
		if (lws_is_first_fragment(wsi))
			L.rx_len = 0;
		if (len > PROTO_MAX_MSG - L.rx_len)
			return protocol_error(wsi, "a message larger than PROTO_MAX_MSG");
		memcpy(L.rx + L.rx_len, in, len);
		L.rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			int rc = handle_message(wsi);
			/* The frame may have carried a tunnel token. */
			sodium_memzero(L.rx, L.rx_len);
			L.rx_len = 0;
			return rc;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (wsi != L.wsi)
			return -1;
		return writeable(wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		log_debug("server=%s close frame len=%zu", L.cfg.url, len);
		if (wsi == L.wsi && in && len >= 2) {
			size_t n = len - 2 < sizeof(L.close_reason) - 1 ? len - 2
			                                                  : sizeof(L.close_reason) - 1;
			L.close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
			memcpy(L.close_reason, (const char *)in + 2, n);
			L.close_reason[n] = '\0';
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (wsi == L.wsi)
			closed(NULL);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols link_protocol = {
	.name = "kaiden-agent",
	.callback = callback,
	.per_session_data_size = 0,
	.rx_buffer_size = PROTO_MAX_MSG,
};
