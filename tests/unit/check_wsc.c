/* check_wsc.c: agent/wsc.c, the relay's WebSocket client, against a real lws WebSocket
 * server (a vhost of the same context, on a loopback port) and against a raw TCP server
 * in a thread that answers the upgrade with what each test gives it (a wrong accept
 * value, no Upgrade, an HTTP error, a head that never ends, frames right after the head,
 * a masked frame, silence).
 *
 * The lws server: /echo sends every binary frame back; /close4050 closes at once with
 * 4050 "no such port"; /refuse answers 403 before the upgrade. Everything the server saw
 * (the request's Authorization and subprotocol, the close code and reason of the
 * client's close) is kept for the asserts. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "wsc.h"
#include "wsc_upgrade.h"

#define TOTAL (4u * 1024u * 1024u) /* bytes through /echo */

static struct lws_context *ctx;
static int srv_port;
static lws_sorted_usec_list_t sul_wake;

/* ---- what the lws server saw ---- */

static struct {
	char auth[256];
	char protocol[64];
	unsigned close_code;
	char close_reason[128];
	int established;
	size_t received;          /* bytes of binary frames, all paths */
	size_t received_at_close; /* ... when the client's close frame came */
	/* /echo: frames waiting to go back */
	unsigned char *pending;
	size_t pending_len;
} srv;

/* ---- what the client saw ---- */

static struct {
	int up, failed, closed, peer_close;
	unsigned http, peer_code;
	char why[256], peer_reason[128];
	unsigned char *got;
	size_t got_len;
	size_t sent;
	int binary_seen, text_seen;
	int close_after_send; /* wsc_close once everything is sent */
	int close_with_last;  /* wsc_close in the call that sends the last frame */
	int throttle;         /* stop reading after each 256 KiB, resume 20 ms later */
	int throttled_times;
	lws_sorted_usec_list_t sul_resume;
	struct wsc *c;
} cl;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define RUN_UNTIL(cond, secs)                                                          \
	do {                                                                               \
		double end_ = now_s() + (secs);                                                \
		while (!(cond) && now_s() < end_)                                              \
			lws_service(ctx, 0);                                                       \
	} while (0)

static void wake(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, wake, 50 * LWS_US_PER_MS);
}

/* The byte at offset i of the stream /echo carries. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7u + (i >> 13));
}

/* The client received n bytes, and they are the pattern's first n. */
static void got_is_pattern(size_t n)
{
	ck_assert_uint_eq(cl.got_len, n);
	for (size_t i = 0; i < n; i++)
		if (cl.got[i] != pattern(i))
			ck_abort_msg("byte %zu differs", i);
}

/* ---- the lws server ---- */

static int srv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	char path[64];

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
		lws_hdr_copy(wsi, srv.auth, sizeof(srv.auth), WSI_TOKEN_HTTP_AUTHORIZATION);
		lws_hdr_copy(wsi, srv.protocol, sizeof(srv.protocol), WSI_TOKEN_PROTOCOL);
		if (strcmp(path, "/refuse") == 0) {
			lws_return_http_status(wsi, 403, NULL);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		srv.established = 1;
		lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
		if (strcmp(path, "/close4050") == 0) {
			static const char why[] = "no such port";
			lws_close_reason(wsi, (enum lws_close_status)4050, (unsigned char *)why,
			                 sizeof(why) - 1);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RECEIVE: {
		unsigned char *grown;
		srv.received += len;
		lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
		if (strcmp(path, "/sink") == 0)
			return 0;
		grown = realloc(srv.pending, srv.pending_len + len);
		if (!grown)
			return -1;
		srv.pending = grown;
		memcpy(srv.pending + srv.pending_len, in, len);
		srv.pending_len += len;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		static unsigned char buf[LWS_PRE + 16384];
		size_t n = srv.pending_len < 16384 ? srv.pending_len : 16384;
		if (!n)
			return 0;
		memcpy(buf + LWS_PRE, srv.pending, n);
		if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_BINARY) < (int)n)
			return -1;
		memmove(srv.pending, srv.pending + n, srv.pending_len - n);
		srv.pending_len -= n;
		if (srv.pending_len)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		srv.received_at_close = srv.received;
		if (len >= 2) {
			const unsigned char *b = in;
			size_t rl = len - 2 < sizeof(srv.close_reason) - 1 ? len - 2
			                                                   : sizeof(srv.close_reason) - 1;
			srv.close_code = (unsigned)(b[0] << 8 | b[1]);
			memcpy(srv.close_reason, b + 2, rl);
			srv.close_reason[rl] = '\0';
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- the client's callbacks ---- */

static void resume(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (cl.c)
		wsc_rx_flow(cl.c, 1);
}

static void on_up(struct wsc *c, void *user)
{
	(void)user;
	cl.up = 1;
	if ((cl.got && cl.sent < TOTAL) || cl.close_after_send)
		wsc_want_write(c);
}

static int on_receive(struct wsc *c, void *user, const void *data, size_t len, int binary)
{
	(void)c;
	(void)user;
	if (binary)
		cl.binary_seen = 1;
	else
		cl.text_seen = 1;
	if (!cl.got)
		return 0;
	ck_assert_uint_le(cl.got_len + len, TOTAL);
	memcpy(cl.got + cl.got_len, data, len);
	if (cl.throttle && (cl.got_len + len) / (256u * 1024u) != cl.got_len / (256u * 1024u)) {
		wsc_rx_flow(c, 0);
		cl.throttled_times++;
		lws_sul_schedule(ctx, 0, &cl.sul_resume, resume, 20 * LWS_US_PER_MS);
	}
	cl.got_len += len;
	return 0;
}

static int on_writeable(struct wsc *c, void *user)
{
	static unsigned char frame[WSC_FRAME_MAX];
	size_t n = TOTAL - cl.sent < WSC_FRAME_MAX ? TOTAL - cl.sent : WSC_FRAME_MAX;

	(void)user;
	if (cl.got && n) {
		for (size_t i = 0; i < n; i++)
			frame[i] = pattern(cl.sent + i);
		ck_assert_int_eq(wsc_send(c, frame, n), 0);
		cl.sent += n;
		if (cl.sent < TOTAL)
			wsc_want_write(c);
		else if (cl.close_with_last) {
			wsc_close(c, 1000, "done", 5);
			return -1;
		}
		return 0;
	}
	if (cl.close_after_send) {
		cl.close_after_send = 0;
		wsc_close(c, 4001, "bye now", 2);
		return -1;
	}
	return 0;
}

static void on_peer_close(struct wsc *c, void *user, unsigned code, const char *reason,
                          size_t len)
{
	(void)c;
	(void)user;
	cl.peer_close = 1;
	cl.peer_code = code;
	snprintf(cl.peer_reason, sizeof(cl.peer_reason), "%.*s", (int)len, reason);
}

static void on_failed(struct wsc *c, void *user, unsigned http, const char *why)
{
	(void)c;
	(void)user;
	cl.failed++;
	cl.http = http;
	snprintf(cl.why, sizeof(cl.why), "%s", why ? why : "(null)");
	cl.c = NULL;
}

static void on_closed(struct wsc *c, void *user)
{
	(void)c;
	(void)user;
	cl.closed++;
	cl.c = NULL;
}

static const struct wsc_ops ops = {
	.up = on_up,
	.receive = on_receive,
	.writeable = on_writeable,
	.peer_close = on_peer_close,
	.failed = on_failed,
	.closed = on_closed,
};

/* ---- set-up ---- */

static void setup_ctx(const char *cert, const char *key, const char *ca)
{
	static struct lws_protocols client_protocols[2];
	static const struct lws_protocols server_protocols[] = {
		{ "kaiden-stream", srv_cb, 0, 16384, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	memset(&srv, 0, sizeof(srv));
	memset(&cl, 0, sizeof(cl));
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
	               (cert ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	info.gid = -1;
	info.uid = -1;
	info.pt_serv_buf_size = 64 * 1024;
	ctx = lws_create_context(&info);
	ck_assert_ptr_nonnull(ctx);
	/* The client's vhost: wsc_protocol first, so that lws offers it its TLS context. */
	client_protocols[0] = wsc_protocol;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "default";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	if (ca) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		info.client_ssl_ca_filepath = ca;
	}
	ck_assert_ptr_nonnull(lws_create_vhost(ctx, &info));
	memset(&info, 0, sizeof(info));
	info.vhost_name = "server";
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = server_protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	if (cert)
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vh = lws_create_vhost(ctx, &info);
	ck_assert_ptr_nonnull(vh);
	srv_port = lws_get_vhost_listen_port(vh);
	ck_assert_int_gt(srv_port, 0);
	wake(&sul_wake);
}

static void setup(void)
{
	setup_ctx(NULL, NULL, NULL);
}

/* ---- TLS: a certificate for 127.0.0.1 (made here by openssl), and another ---- */

static char tls_dir[64];

static void tls_cert(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
	         "-addext subjectAltName=IP:127.0.0.1 -keyout %s/%s.key -out %s/%s.crt "
	         ">/dev/null 2>&1",
	         tls_dir, name, tls_dir, name);
	ck_assert_msg(system(cmd) == 0, "openssl req failed: %s", cmd);
}

static void setup_tls_with(const char *ca_name)
{
	char cert[128], key[128], ca[128];
	const char *tmp = getenv("TMPDIR");

	snprintf(tls_dir, sizeof(tls_dir), "%s/wsc-tls.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tls_dir));
	tls_cert("server");
	tls_cert("other");
	snprintf(cert, sizeof(cert), "%s/server.crt", tls_dir);
	snprintf(key, sizeof(key), "%s/server.key", tls_dir);
	snprintf(ca, sizeof(ca), "%s/%s.crt", tls_dir, ca_name);
	setup_ctx(cert, key, ca);
}

static void setup_tls(void)
{
	setup_tls_with("server");
}

static void setup_tls_other_ca(void)
{
	setup_tls_with("other");
}

static void teardown(void)
{
	lws_sul_cancel(&sul_wake);
	lws_sul_cancel(&cl.sul_resume);
	if (cl.c)
		wsc_forget(cl.c);
	lws_context_destroy(ctx);
	ctx = NULL;
	free(srv.pending);
	free(cl.got);
	if (tls_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "check_wsc: could not remove %s\n", tls_dir);
		tls_dir[0] = '\0';
	}
}

static struct wsc *open_tls(const char *address, int port, const char *path, const char *auth,
                            int tls)
{
	char host[32];
	struct wsc_info i = { 0 };

	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	i.context = ctx;
	i.address = address;
	i.tls = tls;
	i.port = port;
	i.host = host;
	i.origin = host;
	i.path = path;
	i.subprotocol = "kaiden-stream";
	i.auth = auth;
	i.ops = &ops;
	cl.c = wsc_connect(&i);
	return cl.c;
}

static struct wsc *open_to(int port, const char *path, const char *auth)
{
	return open_tls("127.0.0.1", port, path, auth, 0);
}

/* ---- against lws ---- */

START_TEST(accept_value_rfc6455)
{
	char out[32];

	/* RFC 6455 section 1.3's example. */
	ck_assert_int_eq(wsc_accept_value("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(wsc_accept_value("dGhlIHNhbXBsZSBub25jZQ==", out, 29), -1);
}
END_TEST

START_TEST(echo_megabytes_both_ways)
{
	cl.got = malloc(TOTAL);
	ck_assert_ptr_nonnull(cl.got);
	ck_assert_ptr_nonnull(open_to(srv_port, "/echo", "Bearer sekrit-key"));
	RUN_UNTIL(cl.got_len == TOTAL || cl.failed || cl.closed, 30);
	ck_assert_int_eq(cl.failed, 0);
	ck_assert_int_eq(cl.up, 1);
	ck_assert_str_eq(srv.auth, "Bearer sekrit-key");
	ck_assert_str_eq(srv.protocol, "kaiden-stream");
	got_is_pattern(TOTAL);
	ck_assert(cl.binary_seen && !cl.text_seen);
	/* Our close: the server sees its code and reason, we see its answer and the end. */
	cl.close_after_send = 1;
	wsc_want_write(cl.c);
	RUN_UNTIL(cl.closed, 10);
	ck_assert_int_eq(cl.closed, 1);
	ck_assert_uint_eq(srv.close_code, 4001);
	ck_assert_str_eq(srv.close_reason, "bye now");
	ck_assert_int_eq(cl.peer_close, 1);
	ck_assert_uint_eq(cl.peer_code, 4001);
}
END_TEST

/* A close asked for in the same call as the last frame goes out after it: wslay puts
 * control frames first, wsc holds the close back until the data is out. */
START_TEST(close_goes_after_the_data)
{
	cl.got = malloc(TOTAL);
	cl.close_with_last = 1;
	ck_assert_ptr_nonnull(open_to(srv_port, "/sink", NULL));
	RUN_UNTIL(cl.closed || cl.failed, 30);
	ck_assert_int_eq(cl.failed, 0);
	ck_assert_int_eq(cl.closed, 1);
	ck_assert_uint_eq(cl.sent, TOTAL);
	ck_assert_uint_eq(srv.close_code, 1000);
	ck_assert_uint_eq(srv.received_at_close, TOTAL);
}
END_TEST

/* The reader stops reading now and then (as a stream does when its target is full):
 * what arrives later is the same stream, byte for byte. */
START_TEST(echo_with_reads_paused)
{
	cl.got = malloc(TOTAL);
	cl.throttle = 1;
	ck_assert_ptr_nonnull(open_to(srv_port, "/echo", NULL));
	RUN_UNTIL(cl.got_len == TOTAL || cl.failed || cl.closed, 60);
	ck_assert_int_eq(cl.failed, 0);
	ck_assert_int_eq(cl.closed, 0);
	got_is_pattern(TOTAL);
	ck_assert_int_ge(cl.throttled_times, 15);
}
END_TEST

START_TEST(server_close_code_and_reason)
{
	ck_assert_ptr_nonnull(open_to(srv_port, "/close4050", NULL));
	RUN_UNTIL(cl.closed || cl.failed, 10);
	ck_assert_int_eq(cl.failed, 0);
	ck_assert_int_eq(cl.up, 1);
	ck_assert_int_eq(cl.closed, 1);
	ck_assert_int_eq(cl.peer_close, 1);
	ck_assert_uint_eq(cl.peer_code, 4050);
	ck_assert_str_eq(cl.peer_reason, "no such port");
	ck_assert_str_eq(srv.auth, "");
}
END_TEST

START_TEST(refused_with_http_status)
{
	ck_assert_ptr_nonnull(open_to(srv_port, "/refuse", "Bearer x"));
	RUN_UNTIL(cl.closed || cl.failed, 10);
	ck_assert_int_eq(cl.failed, 1);
	ck_assert_int_eq(cl.closed, 0);
	ck_assert_int_eq(cl.up, 0);
	ck_assert_uint_eq(cl.http, 403);
}
END_TEST

START_TEST(nothing_listens)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	/* A port that was free a moment ago and has nothing listening now. */
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	if (open_to(port, "/echo", NULL)) {
		RUN_UNTIL(cl.failed || cl.closed, 10);
		ck_assert_int_eq(cl.failed, 1);
		ck_assert_uint_eq(cl.http, 0);
	}
	/* else: refused before any callback, which the contract allows */
	ck_assert_int_eq(cl.closed, 0);
	ck_assert_int_eq(cl.up, 0);
}
END_TEST

START_TEST(header_injection_refused)
{
	ck_assert_ptr_null(open_to(srv_port, "/echo", "Bearer x\r\nX-Evil: 1"));
	ck_assert_ptr_null(open_to(srv_port, "/echo HTTP/1.1\r\nX: y", NULL));
	ck_assert_ptr_null(open_to(srv_port, "echo", NULL));
	RUN_UNTIL(0, 0.2);
	ck_assert_int_eq(cl.failed, 0);
	ck_assert_int_eq(srv.established, 0);
}
END_TEST

/* ---- against a raw server ---- */

enum raw_answer {
	RAW_NOT_HTTP,
	RAW_HTTP_500,
	RAW_WRONG_ACCEPT,
	RAW_NO_UPGRADE,
	RAW_WRONG_PROTOCOL,
	RAW_EXTENSION,
	RAW_ENDLESS_HEAD,
	RAW_NUL_IN_HEAD,
	RAW_FRAMES_WITH_HEAD, /* 101, then in the same write a text and a binary frame */
	RAW_BIG_WITH_HEAD,    /* 101 and a 60,000-byte frame in one write (one read, past
	                         WSC_HEAD_MAX) */
	RAW_MASKED_FRAME,     /* 101, then a masked frame: a protocol error from a server */
	RAW_SILENT,           /* 101, then nothing: the client pings, then hangs up */
};

static struct {
	int listen_fd, port;
	enum raw_answer answer;
	pthread_t thread;
	char request[4096];
	int saw_ping;          /* RAW_SILENT: a masked ping frame came */
	int peer_gone;         /* RAW_SILENT: the client closed the connection */
} raw;

static void raw_write(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void *raw_main(void *arg)
{
	int fd = accept(raw.listen_fd, NULL, NULL);
	size_t used = 0;
	char key[64] = "", accept_v[32], head[1024], *k;
	int hl;

	(void)arg;
	if (fd < 0)
		return NULL;
	while (used < sizeof(raw.request) - 1 && !strstr(raw.request, "\r\n\r\n")) {
		ssize_t n = read(fd, raw.request + used, sizeof(raw.request) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		raw.request[used] = '\0';
	}
	k = strstr(raw.request, "Sec-WebSocket-Key: ");
	if (k)
		sscanf(k + 19, "%63[^\r]", key);
	if (wsc_accept_value(key, accept_v, sizeof(accept_v)) != 0)
		snprintf(accept_v, sizeof(accept_v), "none");
	hl = snprintf(head, sizeof(head),
	              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
	              "Sec-WebSocket-Protocol: %s\r\n%s\r\n",
	              raw.answer == RAW_WRONG_ACCEPT ? "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" : accept_v,
	              raw.answer == RAW_WRONG_PROTOCOL ? "other" : "kaiden-stream",
	              raw.answer == RAW_EXTENSION ? "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	                                          : "");
	switch (raw.answer) {
	case RAW_NOT_HTTP:
		raw_write(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 23);
		break;
	case RAW_HTTP_500:
		raw_write(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", 40);
		break;
	case RAW_NO_UPGRADE: {
		char h[512];
		int n = snprintf(h, sizeof(h), "HTTP/1.1 101 Switching Protocols\r\n"
		                               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
		                               "Sec-WebSocket-Protocol: kaiden-stream\r\n\r\n",
		                 accept_v);
		raw_write(fd, h, (size_t)n);
		break;
	}
	case RAW_ENDLESS_HEAD: {
		char line[100];
		memset(line, 'a', sizeof(line) - 2);
		line[98] = '\r';
		line[99] = '\n';
		raw_write(fd, "HTTP/1.1 101 Switching Protocols\r\n", 34);
		for (int i = 0; i < 100; i++)
			raw_write(fd, line, sizeof(line));
		break;
	}
	case RAW_NUL_IN_HEAD:
		raw_write(fd, "HTTP/1.1 101 Switching\0Protocols\r\n", 34);
		raw_write(fd, head + 34, (size_t)hl - 34);
		break;
	case RAW_FRAMES_WITH_HEAD: {
		char all[1200];
		memcpy(all, head, (size_t)hl);
		memcpy(all + hl, "\x81\x02hi\x82\x03" "abc", 9);
		raw_write(fd, all, (size_t)hl + 9);
		break;
	}
	case RAW_BIG_WITH_HEAD: {
		static unsigned char all[1200 + 4 + 60000];
		memcpy(all, head, (size_t)hl);
		all[hl] = 0x82;
		all[hl + 1] = 126;
		all[hl + 2] = 60000 >> 8;
		all[hl + 3] = 60000 & 0xff;
		for (size_t i = 0; i < 60000; i++)
			all[(size_t)hl + 4 + i] = pattern(i);
		raw_write(fd, all, (size_t)hl + 4 + 60000);
		break;
	}
	case RAW_MASKED_FRAME:
		raw_write(fd, head, (size_t)hl);
		raw_write(fd, "\x82\x82\x01\x02\x03\x04xy", 8);
		break;
	case RAW_SILENT: {
		unsigned char b[256];
		ssize_t n;
		raw_write(fd, head, (size_t)hl);
		while ((n = read(fd, b, sizeof(b))) > 0)
			if (b[0] == 0x89 && (b[1] & 0x80))
				raw.saw_ping = 1;
		raw.peer_gone = 1;
		break;
	}
	default:
		raw_write(fd, head, (size_t)hl);
	}
	if (raw.answer != RAW_SILENT) {
		/* Hold the connection until the client ends it. */
		char b[256];
		while (read(fd, b, sizeof(b)) > 0)
			;
	}
	close(fd);
	return NULL;
}

static void raw_start(enum raw_answer answer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(&raw, 0, sizeof(raw));
	raw.answer = answer;
	raw.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(raw.listen_fd, 0);
	ck_assert_int_eq(bind(raw.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(raw.listen_fd, 1), 0);
	ck_assert_int_eq(getsockname(raw.listen_fd, (struct sockaddr *)&a, &al), 0);
	raw.port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&raw.thread, NULL, raw_main, NULL), 0);
}

static void raw_stop(void)
{
	if (cl.c) {
		wsc_drop(cl.c);
		RUN_UNTIL(!cl.c, 5);
	}
	pthread_join(raw.thread, NULL);
	close(raw.listen_fd);
}

static const struct {
	enum raw_answer answer;
	unsigned http;
	const char *why;
} bad_answers[] = {
	{ RAW_NOT_HTTP, 0, "not HTTP" },
	{ RAW_HTTP_500, 500, "HTTP 500" },
	{ RAW_WRONG_ACCEPT, 101, "Sec-WebSocket-Accept" },
	{ RAW_NO_UPGRADE, 101, "(Upgrade)" },
	{ RAW_WRONG_PROTOCOL, 101, "Sec-WebSocket-Protocol" },
	{ RAW_EXTENSION, 101, "extension" },
	{ RAW_ENDLESS_HEAD, 0, "8192" },
	{ RAW_NUL_IN_HEAD, 0, "NUL" },
};

START_TEST(bad_upgrade_answers)
{
	raw_start(bad_answers[_i].answer);
	ck_assert_ptr_nonnull(open_to(raw.port, "/s/1?x=y", "Bearer sekrit"));
	RUN_UNTIL(cl.failed || cl.closed, 10);
	ck_assert_msg(cl.failed == 1, "answer %d: failed %d closed %d", _i, cl.failed, cl.closed);
	ck_assert_int_eq(cl.up, 0);
	ck_assert_uint_eq(cl.http, bad_answers[_i].http);
	ck_assert_msg(strstr(cl.why, bad_answers[_i].why) != NULL, "answer %d: %s", _i, cl.why);
	raw_stop();
	/* The request the client sent, as RFC 6455 4.1 asks. */
	ck_assert_ptr_nonnull(strstr(raw.request, "GET /s/1?x=y HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.request, "\r\nUpgrade: websocket\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.request, "\r\nConnection: Upgrade\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.request, "\r\nSec-WebSocket-Version: 13\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.request, "\r\nSec-WebSocket-Protocol: kaiden-stream\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.request, "\r\nAuthorization: Bearer sekrit\r\n"));
}
END_TEST

START_TEST(frames_in_the_head_read)
{
	raw_start(RAW_FRAMES_WITH_HEAD);
	cl.got = malloc(TOTAL);
	cl.sent = TOTAL; /* nothing to send */
	ck_assert_ptr_nonnull(open_to(raw.port, "/s", NULL));
	RUN_UNTIL(cl.got_len == 5 || cl.failed || cl.closed, 10);
	ck_assert_int_eq(cl.up, 1);
	ck_assert_uint_eq(cl.got_len, 5);
	ck_assert(memcmp(cl.got, "hiabc", 5) == 0);
	ck_assert(cl.text_seen && cl.binary_seen);
	raw_stop();
	ck_assert_int_eq(cl.closed, 1);
}
END_TEST

/* The read that ends the head brings more than WSC_HEAD_MAX bytes of frames with it. */
START_TEST(big_frame_in_the_head_read)
{
	raw_start(RAW_BIG_WITH_HEAD);
	cl.got = malloc(TOTAL);
	cl.sent = TOTAL;
	ck_assert_ptr_nonnull(open_to(raw.port, "/s", NULL));
	RUN_UNTIL(cl.got_len == 60000 || cl.failed || cl.closed, 10);
	ck_assert_int_eq(cl.up, 1);
	got_is_pattern(60000);
	raw_stop();
}
END_TEST

START_TEST(masked_frame_from_server_ends_it)
{
	raw_start(RAW_MASKED_FRAME);
	cl.got = malloc(TOTAL);
	cl.sent = TOTAL;
	ck_assert_ptr_nonnull(open_to(raw.port, "/s", NULL));
	RUN_UNTIL(cl.closed || cl.failed, 10);
	ck_assert_int_eq(cl.up, 1);
	ck_assert_int_eq(cl.closed, 1);
	ck_assert_uint_eq(cl.got_len, 0);
	raw_stop();
}
END_TEST

START_TEST(silent_server_pinged_then_dropped)
{
	struct wsc_info i = { 0 };

	raw_start(RAW_SILENT);
	i.context = ctx;
	i.address = "127.0.0.1";
	i.port = raw.port;
	i.host = "x";
	i.path = "/s";
	i.subprotocol = "kaiden-stream";
	i.ping_s = 1;
	i.hangup_s = 3;
	i.ops = &ops;
	cl.c = wsc_connect(&i);
	ck_assert_ptr_nonnull(cl.c);
	/* The server stays silent; the client pings after 1 s and hangs up after 3. */
	RUN_UNTIL(cl.closed || cl.failed, 15);
	ck_assert_int_eq(cl.up, 1);
	ck_assert_int_eq(cl.closed, 1);
	raw_stop();
	ck_assert_int_eq(raw.saw_ping, 1);
	ck_assert_int_eq(raw.peer_gone, 1);
}
END_TEST

/* ---- through an HTTP proxy (http_proxy, CONNECT), as the control link goes ---- */

static struct {
	int listen_fd, port;
	int refuse;            /* answer 407 instead of connecting */
	pthread_t thread;
	char request[2048];
} px;

static int px_connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                     .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One client: reads its CONNECT, then pipes it to 127.0.0.1:PORT (the port it named)
 * until either side closes. */
static void *px_main(void *arg)
{
	int fd = accept(px.listen_fd, NULL, NULL), up = -1, port = 0;
	size_t used = 0;

	(void)arg;
	if (fd < 0)
		return NULL;
	while (used < sizeof(px.request) - 1 && !strstr(px.request, "\r\n\r\n")) {
		ssize_t n = read(fd, px.request + used, 1); /* the head only: nothing past it */
		if (n <= 0)
			break;
		used += (size_t)n;
		px.request[used] = '\0';
	}
	if (px.refuse || sscanf(px.request, "CONNECT 127.0.0.1:%d ", &port) != 1 ||
	    (up = px_connect_to(port)) < 0) {
		static const char no[] = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
		raw_write(fd, no, sizeof(no) - 1);
		close(fd);
		return NULL;
	}
	{
		static const char yes[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		raw_write(fd, yes, sizeof(yes) - 1);
	}
	for (;;) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { up, POLLIN, 0 } };
		char b[16384];
		ssize_t n;
		if (poll(p, 2, -1) < 0)
			break;
		if (p[0].revents) {
			if ((n = read(fd, b, sizeof(b))) <= 0)
				break;
			raw_write(up, b, (size_t)n);
		}
		if (p[1].revents) {
			if ((n = read(up, b, sizeof(b))) <= 0)
				break;
			raw_write(fd, b, (size_t)n);
		}
	}
	close(up);
	close(fd);
	return NULL;
}

static void px_start(int refuse)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char env[128];

	memset(&px, 0, sizeof(px));
	px.refuse = refuse;
	px.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(px.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(px.listen_fd, 1), 0);
	ck_assert_int_eq(getsockname(px.listen_fd, (struct sockaddr *)&a, &al), 0);
	px.port = ntohs(a.sin_port);
	snprintf(env, sizeof(env), "http://user:pass@127.0.0.1:%d", px.port);
	ck_assert_int_eq(setenv("http_proxy", env, 1), 0);
	ck_assert_int_eq(pthread_create(&px.thread, NULL, px_main, NULL), 0);
}

static void px_stop(void)
{
	unsetenv("http_proxy");
	if (cl.c) {
		wsc_drop(cl.c);
		RUN_UNTIL(!cl.c, 5);
	}
	pthread_join(px.thread, NULL);
	close(px.listen_fd);
}

START_TEST(through_the_proxy)
{
	cl.got = malloc(TOTAL);
	px_start(0);
	ck_assert_ptr_nonnull(open_to(srv_port, "/echo", "Bearer via-proxy"));
	RUN_UNTIL(cl.got_len == TOTAL || cl.failed || cl.closed, 60);
	ck_assert_msg(cl.failed == 0, "%s", cl.why);
	got_is_pattern(TOTAL);
	ck_assert_str_eq(srv.auth, "Bearer via-proxy");
	px_stop();
	/* CONNECT to the server's address, with user:pass as Basic (base64 "user:pass"). */
	{
		char want[64];
		snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n", srv_port);
		ck_assert_msg(strncmp(px.request, want, strlen(want)) == 0, "%s", px.request);
	}
	ck_assert_ptr_nonnull(strstr(px.request, "\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n"));
	ck_assert_ptr_null(strstr(px.request, "via-proxy")); /* the upgrade went inside */
}
END_TEST

START_TEST(proxy_refusal_fails_it)
{
	px_start(1);
	ck_assert_ptr_nonnull(open_to(srv_port, "/echo", "Bearer secret"));
	RUN_UNTIL(cl.failed || cl.closed, 30);
	ck_assert_int_eq(cl.failed, 1);
	ck_assert_int_eq(cl.up, 0);
	ck_assert_msg(strstr(cl.why, "proxy refused") && strstr(cl.why, "407"), "%s", cl.why);
	ck_assert_str_eq(srv.auth, "");
	px_stop();
}
END_TEST

START_TEST(bad_http_proxy_refused)
{
	ck_assert_int_eq(setenv("http_proxy", "http://proxy.example", 1), 0);
	ck_assert_ptr_null(open_to(srv_port, "/echo", NULL));
	unsetenv("http_proxy");
	RUN_UNTIL(0, 0.2);
	ck_assert_int_eq(srv.established, 0);
}
END_TEST

/* ---- over TLS ---- */

START_TEST(tls_echo_verified)
{
	cl.got = malloc(TOTAL);
	ck_assert_ptr_nonnull(open_tls("127.0.0.1", srv_port, "/echo", "Bearer over-tls", 1));
	RUN_UNTIL(cl.got_len == TOTAL || cl.failed || cl.closed, 60);
	ck_assert_msg(cl.failed == 0, "%s", cl.why);
	ck_assert_str_eq(srv.auth, "Bearer over-tls");
	got_is_pattern(TOTAL);
	cl.close_after_send = 1;
	wsc_want_write(cl.c);
	RUN_UNTIL(cl.closed, 10);
	ck_assert_int_eq(cl.closed, 1);
	ck_assert_uint_eq(srv.close_code, 4001);
}
END_TEST

START_TEST(tls_plain_client_refused_by_tls_server)
{
	ck_assert_ptr_nonnull(open_tls("127.0.0.1", srv_port, "/echo", "Bearer x", 0));
	RUN_UNTIL(cl.failed || cl.closed, 30);
	ck_assert_int_eq(cl.failed, 1);
	ck_assert_int_eq(cl.up, 0);
	ck_assert_str_eq(srv.auth, "");
}
END_TEST

/* The name checked is the one connected to: the certificate is for 127.0.0.1 only. */
START_TEST(tls_wrong_name_refused)
{
	ck_assert_ptr_nonnull(open_tls("localhost", srv_port, "/echo", "Bearer secret", 1));
	RUN_UNTIL(cl.failed || cl.closed, 30);
	ck_assert_int_eq(cl.failed, 1);
	ck_assert_int_eq(cl.up, 0);
	ck_assert_msg(strstr(cl.why, "not trusted") != NULL, "%s", cl.why);
	ck_assert_str_eq(srv.auth, ""); /* the request never went out */
}
END_TEST

START_TEST(tls_untrusted_ca_refused)
{
	ck_assert_ptr_nonnull(open_tls("127.0.0.1", srv_port, "/echo", "Bearer secret", 1));
	RUN_UNTIL(cl.failed || cl.closed, 30);
	ck_assert_int_eq(cl.failed, 1);
	ck_assert_msg(strstr(cl.why, "not trusted") != NULL, "%s", cl.why);
	ck_assert_str_eq(srv.auth, "");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wsc");
	TCase *tc = tcase_create("wsc");
	TCase *tls = tcase_create("tls");
	TCase *tls_other = tcase_create("tls-other-ca");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, accept_value_rfc6455);
	tcase_add_test(tc, echo_megabytes_both_ways);
	tcase_add_test(tc, close_goes_after_the_data);
	tcase_add_test(tc, echo_with_reads_paused);
	tcase_add_test(tc, server_close_code_and_reason);
	tcase_add_test(tc, refused_with_http_status);
	tcase_add_test(tc, nothing_listens);
	tcase_add_test(tc, header_injection_refused);
	tcase_add_loop_test(tc, bad_upgrade_answers, 0, (int)(sizeof(bad_answers) / sizeof(bad_answers[0])));
	tcase_add_test(tc, frames_in_the_head_read);
	tcase_add_test(tc, big_frame_in_the_head_read);
	tcase_add_test(tc, masked_frame_from_server_ends_it);
	tcase_add_test(tc, silent_server_pinged_then_dropped);
	tcase_add_test(tc, through_the_proxy);
	tcase_add_test(tc, proxy_refusal_fails_it);
	tcase_add_test(tc, bad_http_proxy_refused);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tls, 90);
	tcase_add_checked_fixture(tls, setup_tls, teardown);
	tcase_add_test(tls, tls_echo_verified);
	tcase_add_test(tls, tls_plain_client_refused_by_tls_server);
	tcase_add_test(tls, tls_wrong_name_refused);
	suite_add_tcase(s, tls);
	tcase_set_timeout(tls_other, 60);
	tcase_add_checked_fixture(tls_other, setup_tls_other_ca, teardown);
	tcase_add_test(tls_other, tls_untrusted_ca_refused);
	suite_add_tcase(s, tls_other);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN); /* as the agent and kaiden-connect do (wsc.h) */
	sr = srunner_create(suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
