/* kaiden-connect: the engineer's client of the built-in relay. It carries one TCP
 * connection per stream to a session's target (ssh or web on the customer machine's
 * loopback) through helperd's /api/v1/ws/connect (agent/PROTOCOL.md, "Engineer side").
 *
 *   ssh -o ProxyCommand='kaiden-connect --server https://HOST --session ID' user@x
 *   kaiden-connect --server https://HOST --session ID --target web --listen 127.0.0.1:8022
 *
 * The token comes from KAIDEN_TOKEN or --token-file, never from argv (ps shows argv to
 * every local user). Errors are one line on stderr and an exit status (pump.h). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "link.h"
#include "pump.h"
#include "secretfile.h"
#include "wsc.h"

static uv_loop_t loop;
static struct lws_context *context;
static uv_poll_t listen_poll;
static int listen_fd = -1;
static int exit_status = CONNECT_OK;
static uv_signal_t sig_int, sig_term;
static int destroying; /* stop() has started the context's teardown */
static int signalled;  /* SIGINT or SIGTERM asked us to stop: exit 0, quietly */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kaiden-connect --server https://HOST --session ID [--target ssh|web]\n"
	        "                      [--listen 127.0.0.1:PORT] [--token-file F] [--ca-file F]\n"
	        "                      [--insecure]\n"
	        "Carries a TCP connection to a session's target through the Kaiden relay.\n"
	        "Without --listen it pipes stdin/stdout (for ssh -o ProxyCommand=...); with\n"
	        "--listen it accepts local TCP connections, one stream each.\n"
	        "  --server URL      the Kaiden server, https://HOST[:PORT] (http:// needs --insecure)\n"
	        "  --session ID      the session's id\n"
	        "  --target T        ssh (default) or web\n"
	        "  --listen A:PORT   accept local connections there instead of using stdin/stdout\n"
	        "  --token-file F    file holding the API token or login JWT (else KAIDEN_TOKEN)\n"
	        "  --ca-file F       CA bundle for the server's certificate\n"
	        "  --insecure        allow an http:// server (local tests only)\n"
	        "Exit status: 0 done, 1 other error, 2 usage, 3 server unreachable, 4 not allowed,\n"
	        "5 session not found, 6 session not active or agent offline, 7 target refused,\n"
	        "8 too many streams, 9 closed by the server.\n");
}

static void fail(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("kaiden-connect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* The session id goes into the path as it is: only what a UUID (or a test's label) uses. */
static int valid_session_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	return strspn(s, "0123456789abcdefABCDEF-") == n ||
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || errno || port < 1 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void stop(void)
{
	if (listen_fd >= 0) {
		uv_close((uv_handle_t *)&listen_poll, NULL);
		close(listen_fd);
		listen_fd = -1;
	}
	if (!uv_is_closing((uv_handle_t *)&sig_int))
		uv_close((uv_handle_t *)&sig_int, NULL);
	if (!uv_is_closing((uv_handle_t *)&sig_term))
		uv_close((uv_handle_t *)&sig_term, NULL);
	/* With a foreign loop the first lws_context_destroy only starts the teardown, and
	 * main's second one, after the loop has run dry, finishes it. A second call while
	 * the loop still runs would free the context under lws's own closing handles: a
	 * signal and then a pump ending (or the reverse) both land here, so only once. */
	if (context && !destroying) {
		destroying = 1;
		lws_context_destroy(context);
	}
}

/* A pump ended. In pipe mode that is the end; with --listen, errors are reported and
 * the listener goes on. */
static void on_pump_done(enum connect_exit status, const char *message)
{
	/* After SIGINT/SIGTERM the pumps end because we stopped them: that is no error. */
	if (signalled)
		return;
	if (status != CONNECT_OK)
		fprintf(stderr, "kaiden-connect: %s\n", message);
	if (listen_fd < 0) {
		exit_status = status;
		stop();
	}
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		if (pump_open(fd, fd) != 0) {
			fprintf(stderr, "kaiden-connect: cannot start a stream: out of memory\n");
			close(fd);
		}
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	(void)signum;
	signalled = 1;
	exit_status = CONNECT_OK;
	/* Pumps die with the context. */
	stop();
}

static void lws_log_line(int level, const char *line)
{
	(void)level;
	if (getenv("KAIDEN_LWS_DEBUG"))
		fprintf(stderr, "kaiden-connect: lws: %.*s\n", (int)strcspn(line, "\n"), line);
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "session", required_argument, NULL, 'S' },
		{ "target", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "token-file", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 'T' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *session = NULL, *target = "ssh", *listen_at = NULL;
	const char *token_file = NULL, *ca_file = NULL, *env_token;
	static char token[PUMP_TOKEN_MAX + 2], ws_url[1200], path[1400], host_header[300];
	static struct link_url url;
	struct pump_server srv;
	struct sockaddr_in lsa;
	struct lws_context_creation_info info;
	static struct lws_protocols protocols[2];
	void *foreign[1] = { &loop };
	char err[512];
	int insecure = 0, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'S': session = optarg; break;
		case 't': target = optarg; break;
		case 'l': listen_at = optarg; break;
		case 'f': token_file = optarg; break;
		case 'c': ca_file = optarg; break;
		case 'k': insecure = 1; break;
		case 'T':
			fail(CONNECT_USAGE, "--token is refused: a token on the command line is visible "
			                    "to every local user (ps); use KAIDEN_TOKEN or --token-file");
			break;
		case 'h': usage(stdout); return CONNECT_OK;
		default: usage(stderr); return CONNECT_USAGE;
		}
	}
	if (optind < argc)
		fail(CONNECT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!server || !session)
		fail(CONNECT_USAGE, "--server and --session are required (see --help)");
	if (!valid_session_id(session))
		fail(CONNECT_USAGE, "--session: '%s' is not a session id", session);
	if (strcmp(target, "ssh") != 0 && strcmp(target, "web") != 0)
		fail(CONNECT_USAGE, "--target must be ssh or web, not '%s'", target);
	if (listen_at && parse_listen(listen_at, &lsa) != 0)
		fail(CONNECT_USAGE, "--listen must be an IPv4 ADDRESS:PORT, such as 127.0.0.1:8022");

	/* https://HOST -> wss://HOST, http:// -> ws:// (refused without --insecure). */
	if (strncmp(server, "https://", 8) == 0)
		snprintf(ws_url, sizeof(ws_url), "wss://%s", server + 8);
	else if (strncmp(server, "http://", 7) == 0)
		snprintf(ws_url, sizeof(ws_url), "ws://%s", server + 7);
	else
		fail(CONNECT_USAGE, "--server must start with https:// (or http:// with --insecure)");
	if (link_url_parse(ws_url, insecure, &url, err, sizeof(err)) != 0)
		fail(CONNECT_USAGE, "--server %s: %s", server,
		     strncmp(ws_url, "ws://", 5) == 0 && !insecure
		         ? "http:// is not encrypted; use https://, or --insecure for local tests"
		         : err);
	/* A server URL with a path (a prefix) keeps it; its trailing slash goes. */
	if (url.path[strlen(url.path) - 1] == '/')
		url.path[strlen(url.path) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/api/v1/ws/connect/%s?target=%s", url.path, session,
	         target);

	env_token = getenv("KAIDEN_TOKEN");
	if (token_file) {
		int loose;
		if (secret_file_read(token_file, token, sizeof(token), &loose, err, sizeof(err)) != 0)
			fail(CONNECT_USAGE, "--token-file %s %s", token_file, err);
		if (loose)
			fprintf(stderr, "kaiden-connect: warning: --token-file %s is readable by group "
			                "or others; chmod 600 it\n", token_file);
	} else if (env_token && *env_token) {
		if (strlen(env_token) > PUMP_TOKEN_MAX)
			fail(CONNECT_USAGE, "KAIDEN_TOKEN is longer than %d bytes", PUMP_TOKEN_MAX);
		snprintf(token, sizeof(token), "%s", env_token);
	} else {
		fail(CONNECT_USAGE, "no token: set KAIDEN_TOKEN or use --token-file");
	}
	if (strcspn(token, "\r\n") != strlen(token))
		fail(CONNECT_USAGE, "the token contains a line break");

	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&loop) != 0)
		fail(CONNECT_ERROR, "cannot start the event loop");
	lws_set_log_level(LLL_ERR | LLL_WARN | (getenv("KAIDEN_LWS_DEBUG") ? 0xff : 0),
	                  lws_log_line);
	memset(&info, 0, sizeof(info));
	protocols[0] = wsc_protocol;
	info.protocols = protocols;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.foreign_loops = foreign;
	info.client_ssl_ca_filepath = ca_file ? ca_file : link_system_ca_file();
	info.timeout_secs = 20;
	context = lws_create_context(&info);
	if (!context)
		fail(CONNECT_ERROR, "cannot start libwebsockets");

	if (url.port == (url.tls ? 443 : 80))
		snprintf(host_header, sizeof(host_header), "%s", url.host);
	else
		snprintf(host_header, sizeof(host_header), "%s:%d", url.host, url.port);
	srv = (struct pump_server){ .host = url.host, .port = url.port, .tls = url.tls,
		                        .host_header = host_header, .path = path, .token = token };
	pump_setup(context, &loop, &srv, on_pump_done);

	uv_signal_init(&loop, &sig_int);
	uv_signal_init(&loop, &sig_term);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);

	if (listen_at) {
		int one = 1;

		listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (listen_fd < 0 ||
		    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(listen_fd, (struct sockaddr *)&lsa, sizeof(lsa)) != 0 ||
		    listen(listen_fd, 16) != 0)
			fail(CONNECT_ERROR, "--listen %s: %s", listen_at, strerror(errno));
		if (uv_poll_init(&loop, &listen_poll, listen_fd) != 0)
			fail(CONNECT_ERROR, "--listen %s: cannot poll the socket", listen_at);
		uv_poll_start(&listen_poll, UV_READABLE, on_accept);
		fprintf(stderr, "kaiden-connect: listening on %s for session %s (%s)\n", listen_at,
		        session, target);
	} else {
		set_nonblocking(STDIN_FILENO);
		set_nonblocking(STDOUT_FILENO);
		if (pump_open(STDIN_FILENO, STDOUT_FILENO) != 0)
			fail(CONNECT_ERROR, "stdin and stdout must be pipes, sockets or terminals");
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (context)
		lws_context_destroy(context);
	context = NULL;
	explicit_bzero(token, sizeof(token));
	(void)uv_loop_close(&loop);
	return exit_status;
}
