/* check_agent_link.c: agent/link.c against a scripted WebSocket server in the same lws
 * context (a second vhost that listens on a loopback port): hello, welcome, heartbeats,
 * commands, the queue, close codes and the backoff they choose, oversize and
 * out-of-order messages, URL parsing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "jsonx.h"
#include "link.h"
#include "proto.h"

#define S1 "0190a8e2-7c1d-7abc-8def-000000000001"
#define S2 "0190a8e2-7c1d-7abc-8def-000000000002"
#define DEVICE "01a206ac-b263-75e9-ba89-f90625dcd8b3"
#define SECRET "s3cret-value"

/* ---- the scripted server ---- */

enum on_hello { WELCOME, CLOSE_AUTH, CLOSE_RATE, NOTHING, STOP_FIRST, OLD_SERVER };

static struct {
	struct lws *wsi;
	int port;
	int connections;
	enum on_hello on_hello;
	int heartbeat_s;
	char rx[PROTO_MAX_MSG + 1];
	size_t rx_len;
	/* what arrived, in order */
	enum proto_type types[64];
	json_object *msgs[64];
	int nmsgs;
	int peer_close_code;    /* code in the agent's close frame */
	int closed;             /* connections that ended */
	/* what to do next from WRITEABLE */
	char *out[8];
	int nout;
	int close_code;
	const char *close_reason; /* NULL: "test" */
	const char *ticket;       /* WELCOME gives it, when set */
} srv;

static void srv_send_text(const char *text)
{
	ck_assert_int_lt(srv.nout, 8);
	srv.out[srv.nout++] = strdup(text);
	lws_callback_on_writable(srv.wsi);
}

static void srv_send(enum proto_type type, json_object *fields)
{
	char *text = proto_build(type, fields);

	ck_assert_ptr_nonnull(text);
	srv_send_text(text);
	free(text);
}

static void srv_close(int code)
{
	srv.close_code = code;
	lws_callback_on_writable(srv.wsi);
}

static void srv_message(void)
{
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	json_object *f;

	ck_assert_msg(proto_parse(srv.rx, srv.rx_len, &msg, &err) == 0, "agent sent: %s",
	              err.message);
	ck_assert_int_lt(srv.nmsgs, 64);
	srv.types[srv.nmsgs] = msg.type;
	srv.msgs[srv.nmsgs++] = msg.obj;
	if (msg.type != PROTO_HELLO)
		return;
	switch (srv.on_hello) {
	case OLD_SERVER:
		/* a helperd from before protocol 4, word for word */
		if (json_object_get_int(json_object_object_get(msg.obj, "version")) > 3) {
			srv.close_reason = "unsupported protocol version";
			srv_close(PROTO_CLOSE_PROTOCOL);
			break;
		}
		/* fall through */
	case WELCOME:
		f = json_object_new_object();
		json_object_object_add(f, "heartbeat", json_object_new_int(srv.heartbeat_s));
		if (srv.ticket && srv.on_hello == WELCOME)
			jsonx_add_str(f, "ticket", srv.ticket);
		srv_send(PROTO_WELCOME, f);
		break;
	case CLOSE_AUTH:
		srv_close(PROTO_CLOSE_AUTH);
		break;
	case CLOSE_RATE:
		srv_close(PROTO_CLOSE_RATE);
		break;
	case STOP_FIRST:
		f = json_object_new_object();
		jsonx_add_str(f, "session_id", S1);
		srv_send(PROTO_TUNNEL_STOP, f);
		break;
	case NOTHING:
		break;
	}
}

static int srv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		srv.wsi = wsi;
		srv.connections++;
		srv.rx_len = 0;
		srv.close_code = 0;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		ck_assert(srv.rx_len + len <= PROTO_MAX_MSG);
		memcpy(srv.rx + srv.rx_len, in, len);
		srv.rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			srv_message();
			srv.rx_len = 0;
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (srv.nout) {
			char *t = srv.out[0];
			size_t n = strlen(t);
			unsigned char *buf = malloc(LWS_PRE + n);
			memcpy(buf + LWS_PRE, t, n);
			lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
			free(buf);
			free(t);
			memmove(srv.out, srv.out + 1, sizeof(srv.out[0]) * (size_t)--srv.nout);
			if (srv.nout || srv.close_code)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (srv.close_code) {
			const char *why = srv.close_reason ? srv.close_reason : "test";
			lws_close_reason(wsi, (enum lws_close_status)srv.close_code,
			                 (unsigned char *)why, strlen(why));
			srv.close_reason = NULL;
			return -1;
		}
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			srv.peer_close_code = ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1];
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (wsi == srv.wsi)
			srv.wsi = NULL;
		srv.closed++;
		return 0;
	default:
		return 0;
	}
}

/* ---- the agent side's handlers ---- */

static struct {
	int starts, stops, relay_starts, relay_opens;
	char sid[64], token[64], stream[64], target[8], key[64];
	int port, ssh_port, web_port;
	int running; /* report S1 as running in heartbeats */
} agent;

static void h_start(const char *sid, const char *token, int port)
{
	agent.starts++;
	snprintf(agent.sid, sizeof(agent.sid), "%s", sid);
	snprintf(agent.token, sizeof(agent.token), "%s", token);
	agent.port = port;
}

static void h_stop(const char *sid)
{
	agent.stops++;
	snprintf(agent.sid, sizeof(agent.sid), "%s", sid);
}

static void h_relay_start(const char *sid, int ssh_port, int web_port)
{
	agent.relay_starts++;
	snprintf(agent.sid, sizeof(agent.sid), "%s", sid);
	agent.ssh_port = ssh_port;
	agent.web_port = web_port;
}

static void h_relay_open(const char *sid, const char *stream, const char *target,
                         const char *key)
{
	agent.relay_opens++;
	snprintf(agent.sid, sizeof(agent.sid), "%s", sid);
	snprintf(agent.stream, sizeof(agent.stream), "%s", stream);
	snprintf(agent.target, sizeof(agent.target), "%s", target);
	snprintf(agent.key, sizeof(agent.key), "%s", key);
}

static json_object *h_sessions(void)
{
	json_object *a = json_object_new_array();

	if (agent.running)
		json_object_array_add(a, json_object_new_string(S1));
	return a;
}

/* ---- the loop ---- */

static struct lws_context *ctx;
static lws_sorted_usec_list_t sul_wake;

static void wake(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, wake, 50 * LWS_US_PER_MS);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define RUN_UNTIL(cond, secs)                                                          \
	do {                                                                               \
		double end_ = now_s() + (secs);                                                \
		while (!(cond) && now_s() < end_)                                              \
			lws_service(ctx, 0);                                                       \
	} while (0)

static void start(enum on_hello on_hello, int heartbeat_s)
{
	static struct lws_protocols cp[2];
	static const struct lws_protocols server_protocols[] = {
		{ "kaiden-agent", srv_cb, 0, PROTO_MAX_MSG, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	struct link_config cfg = { 0 };
	struct link_handlers h = { .tunnel_start = h_start, .tunnel_stop = h_stop,
	                           .sessions = h_sessions, .relay_start = h_relay_start,
	                           .relay_open = h_relay_open };
	char url[128];

	memset(&srv, 0, sizeof(srv));
	memset(&agent, 0, sizeof(agent));
	srv.on_hello = on_hello;
	srv.heartbeat_s = heartbeat_s;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	ck_assert_ptr_nonnull(ctx);
	/* The first vhost is the one client connections use: the agent's. */
	cp[0] = link_protocol;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "agent";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = cp;
	ck_assert_ptr_nonnull(lws_create_vhost(ctx, &info));
	memset(&info, 0, sizeof(info));
	info.vhost_name = "server";
	info.port = 0; /* a free port, read back below */
	info.iface = "127.0.0.1";
	info.protocols = server_protocols;
	vh = lws_create_vhost(ctx, &info);
	ck_assert_ptr_nonnull(vh);
	srv.port = lws_get_vhost_listen_port(vh);
	ck_assert_int_gt(srv.port, 0);
	wake(&sul_wake);

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/api/v1/ws/agent", srv.port);
	cfg.url = url;
	cfg.device_id = DEVICE;
	cfg.secret = SECRET;
	cfg.insecure = 1;
	ck_assert_int_eq(link_init(ctx, &cfg, &h), 0);
}

static void stop(void)
{
	lws_sul_cancel(&sul_wake);
	lws_context_destroy(ctx);
	ctx = NULL;
	link_clear();
	for (int i = 0; i < srv.nmsgs; i++)
		json_object_put(srv.msgs[i]);
	for (int i = 0; i < srv.nout; i++)
		free(srv.out[i]);
}

static int count_type(enum proto_type t)
{
	int n = 0;

	for (int i = 0; i < srv.nmsgs; i++)
		n += srv.types[i] == t;
	return n;
}

/* ---- cases ---- */

START_TEST(test_hello_welcome_heartbeats_commands)
{
	json_object *hello, *f, *sessions;
	double t0;

	agent.running = 0;
	start(WELCOME, 1);
	agent.running = 1;
	RUN_UNTIL(link_online() && count_type(PROTO_HEARTBEAT) >= 1, 5);
	ck_assert(link_online());
	ck_assert_int_eq(srv.types[0], PROTO_HELLO);
	hello = srv.msgs[0];
	ck_assert_str_eq(jsonx_str(hello, "device_id"), DEVICE);
	ck_assert_str_eq(jsonx_str(hello, "secret"), SECRET);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(hello, "version")),
	                 PROTO_VERSION);
	ck_assert(strlen(jsonx_str(hello, "hostname")) > 0);
	ck_assert(strlen(jsonx_str(hello, "os")) > 0);
	ck_assert(strlen(jsonx_str(hello, "arch")) > 0);
	/* The first heartbeat comes at once after welcome and lists the running session. */
	ck_assert_int_eq(srv.types[1], PROTO_HEARTBEAT);
	sessions = json_object_object_get(srv.msgs[1], "sessions");
	ck_assert_int_eq(json_object_array_length(sessions), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(sessions, 0)), S1);
	/* Then one every heartbeat seconds. */
	t0 = now_s();
	RUN_UNTIL(count_type(PROTO_HEARTBEAT) >= 3, 5);
	ck_assert_int_ge(count_type(PROTO_HEARTBEAT), 3);
	ck_assert_msg(now_s() - t0 >= 1.5, "two heartbeats in %.2f s", now_s() - t0);

	/* Commands reach the handlers. */
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S2);
	jsonx_add_str(f, "token", "eyJhIjoiYiJ9");
	json_object_object_add(f, "metrics_port", json_object_new_int(20300));
	srv_send(PROTO_TUNNEL_START, f);
	RUN_UNTIL(agent.starts == 1, 5);
	ck_assert_int_eq(agent.starts, 1);
	ck_assert_str_eq(agent.sid, S2);
	ck_assert_str_eq(agent.token, "eyJhIjoiYiJ9");
	ck_assert_int_eq(agent.port, 20300);
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S2);
	srv_send(PROTO_TUNNEL_STOP, f);
	RUN_UNTIL(agent.stops == 1, 5);
	ck_assert_int_eq(agent.stops, 1);
	/* Protocol 2: relay.start and relay.open reach the relay handlers. */
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S2);
	json_object_object_add(f, "ssh_port", json_object_new_int(2222));
	json_object_object_add(f, "web_port", json_object_new_int(8081));
	srv_send(PROTO_RELAY_START, f);
	RUN_UNTIL(agent.relay_starts == 1, 5);
	ck_assert_int_eq(agent.relay_starts, 1);
	ck_assert_int_eq(agent.ssh_port, 2222);
	ck_assert_int_eq(agent.web_port, 8081);
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S2);
	jsonx_add_str(f, "stream_id", S1);
	jsonx_add_str(f, "target", "web");
	jsonx_add_str(f, "key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	srv_send(PROTO_RELAY_OPEN, f);
	RUN_UNTIL(agent.relay_opens == 1, 5);
	ck_assert_int_eq(agent.relay_opens, 1);
	ck_assert_str_eq(agent.sid, S2);
	ck_assert_str_eq(agent.stream, S1);
	ck_assert_str_eq(agent.target, "web");
	ck_assert_str_eq(agent.key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

	/* Reports go out. */
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S2);
	link_send(PROTO_TUNNEL_STOPPED, f);
	RUN_UNTIL(count_type(PROTO_TUNNEL_STOPPED) == 1, 5);
	ck_assert_int_eq(count_type(PROTO_TUNNEL_STOPPED), 1);

	/* link_close: a 1001 close frame, and done. */
	link_close();
	RUN_UNTIL(link_done(), 5);
	ck_assert(link_done());
	RUN_UNTIL(srv.closed == 1, 2);
	ck_assert_int_eq(srv.peer_close_code, 1001);
	stop();
}
END_TEST

/* Reports made while offline wait, and go after welcome (after the first heartbeat). */
START_TEST(test_queue_before_welcome)
{
	json_object *f;

	start(WELCOME, 20);
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", S1);
	jsonx_add_str(f, "reason", "cloudflared exited with status 1");
	link_send(PROTO_TUNNEL_FAILED, f);
	RUN_UNTIL(count_type(PROTO_TUNNEL_FAILED) == 1, 5);
	ck_assert_int_eq(srv.types[0], PROTO_HELLO);
	ck_assert_int_eq(srv.types[1], PROTO_HEARTBEAT);
	ck_assert_int_eq(srv.types[2], PROTO_TUNNEL_FAILED);
	ck_assert_str_eq(jsonx_str(srv.msgs[2], "reason"), "cloudflared exited with status 1");
	stop();
}
END_TEST

/* 4001: slow backoff (60 s + up to 25 %). 4029 the same. */
START_TEST(test_close_auth_slow)
{
	start(CLOSE_AUTH, 20);
	RUN_UNTIL(link_last_close_code() != 0, 5);
	ck_assert_int_eq(link_last_close_code(), PROTO_CLOSE_AUTH);
	ck_assert(!link_online());
	ck_assert_uint_ge(link_last_retry_ms(), 60000);
	ck_assert_uint_le(link_last_retry_ms(), 75000);
	/* and it does not come back within a few seconds */
	RUN_UNTIL(srv.connections > 1, 2);
	ck_assert_int_eq(srv.connections, 1);
	stop();

	start(CLOSE_RATE, 20);
	RUN_UNTIL(link_last_close_code() != 0, 5);
	ck_assert_int_eq(link_last_close_code(), PROTO_CLOSE_RATE);
	ck_assert_uint_ge(link_last_retry_ms(), 60000);
	stop();
}
END_TEST

/* hello i's version, and whether it offered a ticket. */
static void assert_hello(int i, int version, int with_ticket)
{
	json_object *t;

	ck_assert_int_eq(srv.types[i], PROTO_HELLO);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(srv.msgs[i], "version")), version);
	ck_assert_int_eq(json_object_object_get_ex(srv.msgs[i], "ticket", &t), with_ticket);
}

/* An agent upgraded before its server: an older helperd refuses hello version 4 with
 * 4000 "unsupported protocol version"; the agent says 3 (without its ticket, a member the
 * old server does not know), gets its welcome, and tries 4 again on its next connection. */
START_TEST(test_older_server)
{
	int first_v3;

	start(WELCOME, 20);
	srv.ticket = "1.1.4102444800.QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo";
	RUN_UNTIL(link_online(), 5);
	ck_assert(link_online());
	/* the server is replaced by an older one */
	srv.on_hello = OLD_SERVER;
	srv_close(PROTO_CLOSE_SHUTDOWN);
	RUN_UNTIL(link_last_close_code() == PROTO_CLOSE_PROTOCOL, 5);
	ck_assert_int_eq(link_last_close_code(), PROTO_CLOSE_PROTOCOL);
	RUN_UNTIL(srv.connections == 3 && link_online(), 8);
	ck_assert(link_online());
	ck_assert_int_eq(srv.connections, 3);
	ck_assert_int_eq(count_type(PROTO_HELLO), 3);
	assert_hello(0, PROTO_VERSION, 0);
	/* the hellos: 4 with the ticket (refused), then 3 without it */
	first_v3 = -1;
	for (int i = 1, n = 0; i < srv.nmsgs; i++) {
		if (srv.types[i] != PROTO_HELLO)
			continue;
		if (++n == 1) {
			assert_hello(i, PROTO_VERSION, 1);
		} else {
			assert_hello(i, 3, 0);
			first_v3 = i;
		}
	}
	ck_assert_int_gt(first_v3, 0);
	/* after that welcome, the next connection says 4 again: refused, then 3 */
	srv_close(PROTO_CLOSE_SHUTDOWN);
	RUN_UNTIL(srv.connections == 5 && link_online(), 12);
	ck_assert(link_online());
	ck_assert_int_eq(count_type(PROTO_HELLO), 5);
	for (int i = first_v3 + 1, n = 0; i < srv.nmsgs; i++) {
		if (srv.types[i] != PROTO_HELLO)
			continue;
		n++;
		assert_hello(i, n == 1 ? PROTO_VERSION : 3, n == 1);
	}
	stop();
}
END_TEST

/* 1001 (server shutting down): back within 1-2 s, hello again. */
START_TEST(test_close_shutdown_soon)
{
	start(WELCOME, 20);
	RUN_UNTIL(link_online(), 5);
	srv_close(PROTO_CLOSE_SHUTDOWN);
	RUN_UNTIL(link_last_close_code() == PROTO_CLOSE_SHUTDOWN, 5);
	ck_assert_int_eq(link_last_close_code(), PROTO_CLOSE_SHUTDOWN);
	ck_assert_uint_ge(link_last_retry_ms(), 1000);
	ck_assert_uint_le(link_last_retry_ms(), 2000);
	RUN_UNTIL(srv.connections == 2 && link_online(), 5);
	ck_assert_int_eq(srv.connections, 2);
	ck_assert(link_online());
	ck_assert_int_eq(count_type(PROTO_HELLO), 2);
	stop();
}
END_TEST

/* A message over PROTO_MAX_MSG, or a command before welcome: the agent closes with 4000
 * and retries on the normal schedule (about 1 s first). */
START_TEST(test_protocol_errors)
{
	char *big;

	start(WELCOME, 20);
	RUN_UNTIL(link_online(), 5);
	big = malloc(PROTO_MAX_MSG + 64);
	memset(big, ' ', PROTO_MAX_MSG + 63);
	memcpy(big, "{\"type\":\"tunnel.stop\",\"session_id\":\"" S1 "\"}",
	       strlen("{\"type\":\"tunnel.stop\",\"session_id\":\"" S1 "\"}"));
	big[PROTO_MAX_MSG + 63] = '\0';
	srv_send_text(big);
	free(big);
	RUN_UNTIL(srv.closed == 1, 5);
	ck_assert_int_eq(srv.peer_close_code, PROTO_CLOSE_PROTOCOL);
	ck_assert_int_eq(agent.stops, 0);
	ck_assert_uint_le(link_last_retry_ms(), 1200);
	stop();

	start(STOP_FIRST, 20);
	RUN_UNTIL(srv.closed == 1, 5);
	ck_assert_int_eq(srv.peer_close_code, PROTO_CLOSE_PROTOCOL);
	ck_assert_int_eq(agent.stops, 0);
	stop();

	/* Malformed JSON, and a message type only agents send. */
	start(WELCOME, 20);
	RUN_UNTIL(link_online(), 5);
	srv_send_text("{\"type\":\"tunnel.stop\",");
	RUN_UNTIL(srv.closed == 1, 5);
	ck_assert_int_eq(srv.peer_close_code, PROTO_CLOSE_PROTOCOL);
	RUN_UNTIL(srv.connections == 2 && link_online(), 5);
	ck_assert(link_online());
	srv_send_text("{\"type\":\"heartbeat\",\"sessions\":[]}");
	RUN_UNTIL(srv.closed == 2, 5);
	ck_assert_int_eq(srv.peer_close_code, PROTO_CLOSE_PROTOCOL);
	stop();
}
END_TEST

/* No server at all: reconnect attempts back off 1, 2, 4 s (+ up to 20 %). */
START_TEST(test_backoff_grows)
{
	unsigned seen[3];

	for (unsigned i = 0; i < 7; i++)
		ck_assert_uint_eq(link_backoff_base_ms(0, i),
		                  i < 6 ? 1000u << i : 50000u);
	ck_assert_uint_eq(link_backoff_base_ms(0, 100), 50000);
	ck_assert_uint_eq(link_backoff_base_ms(PROTO_CLOSE_AUTH, 0), 60000);
	ck_assert_uint_eq(link_backoff_base_ms(PROTO_CLOSE_GONE, 9), 240000);
	ck_assert_uint_eq(link_backoff_base_ms(PROTO_CLOSE_SHUTDOWN, 5), 1000);

	/* Port 9 (discard) has no listener here: every attempt is refused. */
	{
		struct lws_context_creation_info info;
		struct link_config cfg = { "ws://127.0.0.1:9/x", DEVICE, SECRET, 1, NULL, NULL };
		struct link_handlers h = { .tunnel_start = h_start, .tunnel_stop = h_stop,
	                           .sessions = h_sessions, .relay_start = h_relay_start,
	                           .relay_open = h_relay_open };
		static struct lws_protocols cp[2];
		memset(&info, 0, sizeof(info));
		cp[0] = link_protocol;
		info.port = CONTEXT_PORT_NO_LISTEN;
		info.protocols = cp;
		info.gid = -1;
		info.uid = -1;
		ctx = lws_create_context(&info);
		wake(&sul_wake);
		ck_assert_int_eq(link_init(ctx, &cfg, &h), 0);
		for (int i = 0; i < 3; i++) {
			unsigned before = link_last_retry_ms();
			RUN_UNTIL(link_last_retry_ms() != before, 10);
			seen[i] = link_last_retry_ms();
		}
		lws_sul_cancel(&sul_wake);
		lws_context_destroy(ctx);
		link_clear();
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_ge(seen[i], 1000u << i);
		ck_assert_uint_le(seen[i], (1000u << i) * 12 / 10);
	}
}
END_TEST

static const struct {
	const char *url;
	int insecure;
	int ok;
	int tls, port;
	const char *host, *path;
} urls[] = {
	{ "wss://kaiden.example.com/api/v1/ws/agent", 0, 1, 1, 443, "kaiden.example.com",
	  "/api/v1/ws/agent" },
	{ "wss://kaiden.example.com:8443/api/v1/ws/agent", 0, 1, 1, 8443, "kaiden.example.com",
	  "/api/v1/ws/agent" },
	{ "wss://kaiden.example.com", 0, 1, 1, 443, "kaiden.example.com", "/" },
	{ "wss://[::1]:9000/ws", 0, 1, 1, 9000, "::1", "/ws" },
	{ "wss://h/p?x=1", 0, 1, 1, 443, "h", "/p?x=1" },
	{ "ws://127.0.0.1:8080/api/v1/ws/agent", 1, 1, 0, 8080, "127.0.0.1", "/api/v1/ws/agent" },
	{ "ws://127.0.0.1/x", 1, 1, 0, 80, "127.0.0.1", "/x" },
	{ "ws://127.0.0.1:8080/api/v1/ws/agent", 0, 0, 0, 0, NULL, NULL },
	{ "https://kaiden.example.com/", 0, 0, 0, 0, NULL, NULL },
	{ "kaiden.example.com", 0, 0, 0, 0, NULL, NULL },
	{ "", 0, 0, 0, 0, NULL, NULL },
	{ "wss://", 0, 0, 0, 0, NULL, NULL },
	{ "wss://:443/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://h:0/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://h:65536/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://h:12a/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://user:pw@h/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://[::1/x", 0, 0, 0, 0, NULL, NULL },
	{ "wss://h/a b", 0, 0, 0, 0, NULL, NULL },
	{ "wss://h/x#frag", 0, 0, 0, 0, NULL, NULL },
};

START_TEST(test_url_parse)
{
	struct link_url u;
	char err[256] = "";
	int rc = link_url_parse(urls[_i].url, urls[_i].insecure, &u, err, sizeof(err));

	if (!urls[_i].ok) {
		ck_assert_msg(rc == -1, "accepted: %s", urls[_i].url);
		ck_assert(strlen(err) > 0);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", urls[_i].url, err);
	ck_assert_int_eq(u.tls, urls[_i].tls);
	ck_assert_int_eq(u.port, urls[_i].port);
	ck_assert_str_eq(u.host, urls[_i].host);
	ck_assert_str_eq(u.path, urls[_i].path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_link");
	TCase *tc = tcase_create("link");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hello_welcome_heartbeats_commands);
	tcase_add_test(tc, test_queue_before_welcome);
	tcase_add_test(tc, test_close_auth_slow);
	tcase_add_test(tc, test_close_shutdown_soon);
	tcase_add_test(tc, test_older_server);
	tcase_add_test(tc, test_protocol_errors);
	tcase_add_test(tc, test_backoff_grows);
	tcase_add_loop_test(tc, test_url_parse, 0, (int)(sizeof(urls) / sizeof(urls[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
