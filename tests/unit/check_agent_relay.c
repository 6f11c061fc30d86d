/* check_agent_relay.c: agent/relay.c and agent/stream.c without helperd: the
 * agent.relay_ports parser, the data socket's path derived from the control URL, the
 * checks before a stream (unknown session, a port not allowed), and that a stream
 * connects to 127.0.0.1 and nowhere else (a listener on 127.0.0.2 with the same port is
 * never reached). Messages to helperd are captured by a stub instead of the link. */
#include <check.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "jsonx.h"
#include "proto.h"
#include "relay.h"
#include "stream.h"
#include "wsc.h"

#define S1 "0190a8e2-7c1d-7abc-8def-000000000001"
#define S2 "0190a8e2-7c1d-7abc-8def-000000000002"
#define ST1 "0190a8e2-7c1d-7abc-8def-0000000000a1"
#define ST2 "0190a8e2-7c1d-7abc-8def-0000000000a2"
#define KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* ---- relay_ports ---- */

START_TEST(ports_parse_good)
{
	struct relay_ports p;
	char err[256], text[64];

	ck_assert_int_eq(relay_ports_parse("22,8080", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.n, 2);
	ck_assert_int_eq(p.port[0], 22);
	ck_assert_int_eq(p.port[1], 8080);
	ck_assert(relay_ports_allow(&p, 22));
	ck_assert(relay_ports_allow(&p, 8080));
	ck_assert(!relay_ports_allow(&p, 2222));
	ck_assert(!relay_ports_allow(&p, 0));
	relay_ports_format(&p, text, sizeof(text));
	ck_assert_str_eq(text, "22,8080");

	ck_assert_int_eq(relay_ports_parse(" 22 , 5900,65535 ", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.n, 3);
	ck_assert_int_eq(p.port[2], 65535);
	ck_assert_int_eq(relay_ports_parse("1", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.n, 1);

	/* Empty: no port at all (every stream refused). */
	ck_assert_int_eq(relay_ports_parse("", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.n, 0);
	ck_assert(!relay_ports_allow(&p, 22));
	relay_ports_format(&p, text, sizeof(text));
	ck_assert_str_eq(text, "none");
}
END_TEST

static const struct {
	const char *text;
	const char *in_err;
} bad_ports[] = {
	{ "22,x", "\"x\" is not a port" },
	{ "22,,8080", "\"\" is not a port" },
	{ "22,", "\"\" is not a port" },
	{ "0", "\"0\" is not a port" },
	{ "65536", "\"65536\" is not a port" },
	{ "-22", "\"-22\" is not a port" },
	{ "+22", "\"+22\" is not a port" },
	{ "22;8080", "\"22;8080\" is not a port" },
	{ "22 8080", "\"22 8080\" is not a port" },
	{ "0x16", "\"0x16\" is not a port" },
	{ "22,22", "port 22 is listed twice" },
	{ "99999999999999999999", "is not a port" },
};

START_TEST(ports_parse_bad)
{
	struct relay_ports p = { .n = 7 };
	char err[256];

	for (size_t i = 0; i < ARRAY_LEN(bad_ports); i++) {
		err[0] = '\0';
		ck_assert_msg(relay_ports_parse(bad_ports[i].text, &p, err, sizeof(err)) == -1,
		              "%s accepted", bad_ports[i].text);
		ck_assert_msg(strstr(err, bad_ports[i].in_err) != NULL, "%s: %s",
		              bad_ports[i].text, err);
		ck_assert_msg(strstr(err, "agent.relay_ports") != NULL, "%s", err);
		/* out is written only on success */
		ck_assert_int_eq(p.n, 7);
	}
}
END_TEST

START_TEST(ports_parse_too_many)
{
	struct relay_ports p;
	char err[256], text[RELAY_PORTS_MAX * 8];
	size_t used = 0;

	for (int i = 1; i <= RELAY_PORTS_MAX + 1; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%d", i > 1 ? "," : "",
		                         1000 + i);
	ck_assert_int_eq(relay_ports_parse(text, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than"));
}
END_TEST

/* ---- the data socket's path ---- */

START_TEST(path_from_control_url)
{
	static const struct {
		const char *control;
		const char *want;
	} cases[] = {
		{ "/api/v1/ws/agent", "/api/v1/ws/stream/" ST1 },
		{ "/api/v1/ws/agent?x=1", "/api/v1/ws/stream/" ST1 },
		{ "/kaiden/api/v1/ws/agent", "/kaiden/api/v1/ws/stream/" ST1 },
		{ "/", "/stream/" ST1 },
		{ "/agent", "/stream/" ST1 },
		{ "/ws/agent/", "/ws/agent/stream/" ST1 },
	};
	char out[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ck_assert_int_eq(stream_path(cases[i].control, ST1, out, sizeof(out)), 0);
		ck_assert_str_eq(out, cases[i].want);
	}
	/* The stream id must be a UUID: nothing else reaches the path. */
	ck_assert_int_eq(stream_path("/api/v1/ws/agent", "../../admin", out, sizeof(out)), -1);
	ck_assert_int_eq(stream_path("/api/v1/ws/agent", "", out, sizeof(out)), -1);
	ck_assert_int_eq(stream_path("no-slash", ST1, out, sizeof(out)), -1);
	ck_assert_int_eq(stream_path("/api/v1/ws/agent", ST1, out, 20), -1);
}
END_TEST

/* ---- relay_start / relay_open / relay_stop against a stub link ---- */

static struct {
	int n;
	enum proto_type type[32];
	json_object *fields[32];
} sent;

static void stub_send(enum proto_type type, json_object *fields)
{
	/* Every message must be valid for the protocol, as link_send would check. */
	char *text = proto_build(type, json_object_get(fields));

	ck_assert_msg(text != NULL, "invalid %s", proto_type_name(type));
	proto_text_free(text);
	ck_assert_int_lt(sent.n, 32);
	sent.type[sent.n] = type;
	sent.fields[sent.n++] = fields;
}

static void sent_clear(void)
{
	for (int i = 0; i < sent.n; i++)
		json_object_put(sent.fields[i]);
	sent.n = 0;
}

static struct lws_context *ctx;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static lws_sorted_usec_list_t sul_wake;
static void wake(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, wake, 20 * LWS_US_PER_MS);
}

#define RUN_UNTIL(cond, secs)                                                          \
	do {                                                                               \
		double end_ = now_s() + (secs);                                                \
		while (!(cond) && now_s() < end_)                                              \
			lws_service(ctx, 0);                                                       \
	} while (0)

/* A listening TCP socket on addr (127.0.0.1 or 127.0.0.2), port 0 = any. */
static int listen_on(const char *addr, int port, int *out_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, addr, &a.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&a, &alen);
	*out_port = ntohs(a.sin_port);
	return fd;
}

static void setup(const char *ports)
{
	static const struct lws_protocols protocols[] = {
		{ "placeholder", lws_callback_http_dummy, 0, 0, 0, NULL, 0 },
		{ 0 }, { 0 }, { NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	static struct lws_protocols list[4];
	struct lws_context_creation_info info;
	struct relay_config cfg;
	char err[256];

	list[0] = protocols[0];
	list[1] = wsc_protocol;
	list[2] = stream_target_protocol;
	list[3] = protocols[3];
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = list;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	ck_assert_ptr_nonnull(ctx);
	memset(&cfg, 0, sizeof(cfg));
	/* Port 1 on loopback: nothing answers, so a data socket fails at once. */
	cfg.server_url = "ws://127.0.0.1:1/api/v1/ws/agent";
	cfg.insecure = 1;
	ck_assert_int_eq(relay_ports_parse(ports, &cfg.ports, err, sizeof(err)), 0);
	ck_assert_int_eq(relay_init(ctx, &cfg, stub_send), 0);
	wake(&sul_wake);
	sent.n = 0;
}

static void teardown(void)
{
	lws_sul_cancel(&sul_wake);
	relay_clear();
	lws_context_destroy(ctx);
	ctx = NULL;
	sent_clear();
}

static const char *reason_of(int i)
{
	return jsonx_str(sent.fields[i], "reason");
}

START_TEST(open_checks_before_connecting)
{
	json_object *a;

	setup("22,8080");
	/* A session never started. */
	relay_open(S1, ST1, "ssh", KEY);
	ck_assert_int_eq(sent.n, 1);
	ck_assert_int_eq(sent.type[0], PROTO_RELAY_FAILED);
	ck_assert_str_eq(jsonx_str(sent.fields[0], "session_id"), S1);
	ck_assert_str_eq(jsonx_str(sent.fields[0], "stream_id"), ST1);
	ck_assert_ptr_nonnull(strstr(reason_of(0), "no such relay session"));

	/* relay.start: ready, idempotent, in the heartbeat list. */
	relay_start(S1, 2222, 8080);
	relay_start(S1, 2222, 8080);
	ck_assert_int_eq(sent.n, 3);
	ck_assert_int_eq(sent.type[1], PROTO_TUNNEL_READY);
	ck_assert_int_eq(sent.type[2], PROTO_TUNNEL_READY);
	ck_assert_int_eq(relay_session_count(), 1);
	a = json_object_new_array();
	relay_sessions_add(a);
	ck_assert_int_eq(json_object_array_length(a), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(a, 0)), S1);
	json_object_put(a);

	/* ssh_port 2222 is not allowed here, whatever helperd says. */
	relay_open(S1, ST1, "ssh", KEY);
	ck_assert_int_eq(sent.n, 4);
	ck_assert_int_eq(sent.type[3], PROTO_RELAY_FAILED);
	ck_assert_str_eq(reason_of(3), "port 2222 is not in this agent's relay_ports (22,8080)");
	ck_assert_int_eq(relay_stream_count(), 0);

	/* tunnel.stop: forgotten, stopped; unknown sessions are not relay's. */
	ck_assert_int_eq(relay_stop(S2), 0);
	ck_assert_int_eq(relay_stop(S1), 1);
	ck_assert_int_eq(sent.type[4], PROTO_TUNNEL_STOPPED);
	ck_assert_int_eq(relay_session_count(), 0);
	relay_open(S1, ST2, "web", KEY);
	ck_assert_ptr_nonnull(strstr(reason_of(5), "no such relay session"));
	teardown();
}
END_TEST

START_TEST(empty_ports_refuse_everything)
{
	setup("");
	relay_start(S1, 22, 8080);
	relay_open(S1, ST1, "ssh", KEY);
	ck_assert_int_eq(sent.type[1], PROTO_RELAY_FAILED);
	ck_assert_str_eq(reason_of(1), "port 22 is not in this agent's relay_ports (none)");
	teardown();
}
END_TEST

/* The only host is 127.0.0.1: with a listener on 127.0.0.2:P and none on 127.0.0.1:P,
 * the stream is refused and the 127.0.0.2 listener never sees a connection. */
START_TEST(only_loopback_127_0_0_1)
{
	char ports[32], want[128];
	int other, port, fd, held;

	other = listen_on("127.0.0.2", 0, &port);
	if (other < 0)
		ck_abort_msg("cannot listen on 127.0.0.2: %s", strerror(errno));
	/* 127.0.0.1:P bound but not listening: nobody else can listen there during the
	 * test, and a connection to it is refused. */
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		held = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(held, 0);
		ck_assert_msg(bind(held, (struct sockaddr *)&a, sizeof(a)) == 0,
		              "127.0.0.1:%d is taken: %s", port, strerror(errno));
	}
	snprintf(ports, sizeof(ports), "%d", port);
	setup(ports);
	relay_start(S1, port, port);
	relay_open(S1, ST1, "ssh", KEY);
	RUN_UNTIL(sent.n == 2, 5);
	ck_assert_int_eq(sent.n, 2);
	ck_assert_int_eq(sent.type[1], PROTO_RELAY_FAILED);
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%d refused", port);
	ck_assert_msg(strstr(reason_of(1), want) != NULL, "%s", reason_of(1));
	fd = accept(other, NULL, NULL);
	ck_assert_int_eq(fd, -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(other);
	close(held);
	RUN_UNTIL(relay_stream_count() == 0, 2);
	ck_assert_int_eq(relay_stream_count(), 0);
	teardown();
}
END_TEST

/* A target that accepts: the connection comes from 127.0.0.1 to 127.0.0.1; the data
 * socket cannot be opened (nothing on port 1), so relay.failed says so and the target
 * connection is closed. */
START_TEST(target_then_data_socket_failure)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	char ports[32], addr[32], c;
	int lfd, port, fd = -1;

	lfd = listen_on("127.0.0.1", 0, &port);
	ck_assert_int_ge(lfd, 0);
	snprintf(ports, sizeof(ports), "22,%d", port);
	setup(ports);
	relay_start(S1, 22, port);
	relay_open(S1, ST1, "web", KEY);
	ck_assert_int_eq(relay_stream_count(), 1);
	RUN_UNTIL((fd = accept(lfd, (struct sockaddr *)&peer, &plen)) >= 0, 5);
	ck_assert_int_ge(fd, 0);
	inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr));
	ck_assert_str_eq(addr, "127.0.0.1");
	RUN_UNTIL(sent.n == 2, 10);
	ck_assert_int_eq(sent.n, 2);
	ck_assert_int_eq(sent.type[1], PROTO_RELAY_FAILED);
	ck_assert_msg(strstr(reason_of(1), "data socket") != NULL, "%s", reason_of(1));
	/* The target connection is closed: EOF. */
	{
		double end = now_s() + 5;
		ssize_t n = -1;
		while (now_s() < end) {
			lws_service(ctx, 0);
			n = recv(fd, &c, 1, MSG_DONTWAIT);
			if (n == 0)
				break;
		}
		ck_assert_int_eq(n, 0);
	}
	RUN_UNTIL(relay_stream_count() == 0, 2);
	ck_assert_int_eq(relay_stream_count(), 0);
	close(fd);
	close(lfd);
	teardown();
}
END_TEST

/* tunnel.stop while a stream is connecting: it is closed, no relay.failed follows. */
START_TEST(stop_closes_streams)
{
	char ports[32];
	int lfd, port, fd = -1;
	char c;

	lfd = listen_on("127.0.0.1", 0, &port);
	ck_assert_int_ge(lfd, 0);
	snprintf(ports, sizeof(ports), "%d", port);
	setup(ports);
	relay_start(S1, port, port);
	relay_open(S1, ST1, "ssh", KEY);
	relay_open(S1, ST2, "ssh", KEY);
	ck_assert_int_eq(relay_stream_count(), 2);
	ck_assert_int_eq(relay_stop(S1), 1);
	ck_assert_int_eq(sent.type[sent.n - 1], PROTO_TUNNEL_STOPPED);
	RUN_UNTIL(relay_stream_count() == 0, 3);
	ck_assert_int_eq(relay_stream_count(), 0);
	for (int i = 0; i < sent.n; i++)
		ck_assert_int_ne(sent.type[i], PROTO_RELAY_FAILED);
	/* Whatever reached the listener was closed. */
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
		close(fd);
	}
	close(lfd);
	teardown();
}
END_TEST

/* The agent stopping (relay_stop_all): its sessions stopped (tunnel.stopped), and a
 * relay.start after it, new or for a session it had, neither accepted nor answered. */
START_TEST(start_while_stopping)
{
	setup("22");
	relay_start(S1, 22, 22);
	ck_assert_int_eq(sent.n, 1);
	relay_stop_all();
	ck_assert_int_eq(sent.n, 2);
	ck_assert_int_eq(sent.type[1], PROTO_TUNNEL_STOPPED);
	relay_start(S1, 22, 22);
	relay_start(S2, 22, 22);
	ck_assert_int_eq(sent.n, 2);
	ck_assert_int_eq(relay_session_count(), 0);
	teardown();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent_relay");
	TCase *tc = tcase_create("relay");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ports_parse_good);
	tcase_add_test(tc, ports_parse_bad);
	tcase_add_test(tc, ports_parse_too_many);
	tcase_add_test(tc, path_from_control_url);
	tcase_add_test(tc, open_checks_before_connecting);
	tcase_add_test(tc, empty_ports_refuse_everything);
	tcase_add_test(tc, only_loopback_127_0_0_1);
	tcase_add_test(tc, target_then_data_socket_failure);
	tcase_add_test(tc, stop_closes_streams);
	tcase_add_test(tc, start_while_stopping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
