/* main.c: kaiden-api's entry point, and with fcgx_reply.c (a reply's records) the only
 * file that knows libfcgi.
 *
 * Modes:
 *   kaiden-api serve [--socket PATH]  listen on server.socket with server.threads workers
 *   kaiden-api                        FastCGI on fd 0 (spawn-fcgi, a web server), or one
 *                                     request as plain CGI when fd 0 is not a socket
 *   kaiden-api <admin command>        admin.c
 *
 * Each worker thread loops on FCGX_Accept_r with its own database connection, turns
 * the FastCGI request into a struct req (req.c), runs route_dispatch, and writes the
 * reply, its head (resp_head) and body in one system call (fcgx_reply). The connection
 * is closed after each request (finish_request).
 *
 * Stopping: SIGTERM/SIGINT are blocked in every thread and taken by the main thread with
 * sigwait, so no handler runs in the middle of libfcgi. The main thread then sets
 * `stopping` and shuts the listening socket down, which makes every accept() blocked in
 * FCGX_Accept_r fail at once (Linux: EINVAL); workers finish the request they hold,
 * see `stopping`, and return; main joins them and exits 0. Connections still waiting in
 * the backlog are refused (nginx answers them 502). A request still running after
 * STOP_GRACE_SECONDS does not hold the stop up any longer (exit code 1).
 *
 * The socket file is created 0660 (owner and group): nginx must run as kaiden-api's
 * user or in its group. Other local users cannot reach the API behind nginx's back.
 * A server.socket containing ':' is libfcgi's host:port TCP form instead. */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "cfg.h"
#include "crash.h"
#include "db.h"
#include "fcgx_reply.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "route.h"
#include "secret.h"

#define LISTEN_BACKLOG 1024
#define SOCKET_MODE 0660
/* A reply is one JSON document; lists are at most 200 rows. */
#define RESP_MAX (16 * 1024 * 1024)
/* How long a stop waits for the requests in flight. */
#define STOP_GRACE_SECONDS 30
/* Longest path shown in the access log. */
#define LOG_PATH_MAX 200

static atomic_int stopping;
static atomic_int fatal_error;
/* The first worker to connect checks that row-level security holds (db_rls_check). */
static atomic_flag rls_checked = ATOMIC_FLAG_INIT;
static int listen_fd = -1;

/* How a request's body is read (by the route, once the caller is let through) and its
 * reply written: FastCGI streams or stdio. A body left unread (a refused request) is
 * not drained here: libfcgi's close shuts our side and discards what the web server
 * still sends, so a refused 60 MB upload costs no memory and little time. */
struct io {
	struct req_body_source in;
	/* The whole reply, once a request: the parts' bytes in order. 0 or -1 */
	int (*write)(void *ctx, const struct iovec *parts, int n);
};

/* ---- FastCGI and CGI glue ------------------------------------------------------------ */

/* A request's parameters, indexed in one pass over its environment the first time one is
 * asked for: req_init asks for some twenty names, and FCGX_GetParam scans the whole list
 * (thirty-odd "NAME=value" strings from nginx) for each. The first of a repeated name
 * wins, as with FCGX_GetParam. */
#define PARAM_SLOTS 128 /* a power of two; more names than this are looked up by scan */
struct fcgx_params {
	FCGX_Request *fr;
	long body_read; /* bytes of FCGI_STDIN read (fcgx_read) */
	int indexed, full;
	struct {
		const char *entry; /* "NAME=value", or NULL */
		size_t name_len;
	} slot[PARAM_SLOTS];
};

static unsigned param_hash(const char *name, size_t len)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

static void params_index(struct fcgx_params *p)
{
	int n = 0;

	memset(p->slot, 0, sizeof(p->slot));
	p->indexed = 1;
	p->full = 0;
	for (char **e = p->fr->envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len;
		unsigned i;

		if (!eq)
			continue;
		if (++n > PARAM_SLOTS / 2) {
			p->full = 1; /* keep probes short: the rest by FCGX_GetParam */
			return;
		}
		len = (size_t)(eq - *e);
		for (i = param_hash(*e, len) & (PARAM_SLOTS - 1); p->slot[i].entry;
		     i = (i + 1) & (PARAM_SLOTS - 1))
			if (p->slot[i].name_len == len && memcmp(p->slot[i].entry, *e, len) == 0)
				break;
		if (!p->slot[i].entry) {
			p->slot[i].entry = *e;
			p->slot[i].name_len = len;
		}
	}
}

static const char *fcgx_param(void *ctx, const char *name)
{
	struct fcgx_params *p = ctx;
	size_t len = strlen(name);

	if (!p->indexed)
		params_index(p);
	if (p->full)
		return FCGX_GetParam(name, p->fr->envp);
	for (unsigned i = param_hash(name, len) & (PARAM_SLOTS - 1); p->slot[i].entry;
	     i = (i + 1) & (PARAM_SLOTS - 1))
		if (p->slot[i].name_len == len && memcmp(p->slot[i].entry, name, len) == 0)
			return p->slot[i].entry + len + 1;
	return NULL;
}

static int fcgx_read(void *ctx, char *buf, int n)
{
	struct fcgx_params *p = ctx;
	int got = FCGX_GetStr(buf, n, p->fr->in);

	if (got > 0)
		p->body_read += got;
	return got;
}

static int fcgx_write(void *ctx, const struct iovec *parts, int n)
{
	struct fcgx_params *p = ctx;

	/* FCGX_FPrintF knows no %zu: the head is formatted by resp_head, and the whole reply
	 * goes out in one system call (fcgx_reply.h). */
	return fcgx_reply(p->fr, parts, n);
}

/* Ends the request: libfcgi writes FCGI_END_REQUEST and closes the connection. Its own
 * close shuts the write side down and then waits in poll() until nginx closes its end,
 * reading what is left, so that input nobody read cannot turn the close into a TCP reset
 * that loses the reply. When the input has been read to its end there is nothing left to
 * reset on: the connection is closed at once (FCGX_Detach is libfcgi's way of asking for
 * a close without the shutdown), which saves a worker three system calls and a wake-up a
 * request. What is left once a request without a body, or a body read through to its
 * CONTENT_LENGTH, has been read is the empty FCGI_STDIN record that ends the input:
 * nginx sends it with the params, or right after the body's last byte, so the one read
 * below finds it (in libfcgi's buffer, as a rule) and cannot wait on a client. A body
 * left unread or read in part (a request refused before its body was read) keeps
 * libfcgi's lingering close, and is not read here: that could wait on a client sending
 * slowly, before the reply has gone. */
static void finish_request(FCGX_Request *fr, long content_length, long body_read)
{
	char c;
	int at_end = FCGX_HasSeenEOF(fr->in) == EOF;
	/* req.c's reading of CONTENT_LENGTH: -1 for none (a body, if any, is then left
	 * unread or read to its end, which at_end already saw) */
	long want = content_length < 0 ? 0 : content_length;

	if (!at_end && body_read == want)
		at_end = FCGX_GetStr(&c, 1, fr->in) == 0 && FCGX_HasSeenEOF(fr->in) == EOF;
	fr->detached = 0;
	if (at_end)
		(void)FCGX_Detach(fr);
	FCGX_Finish_r(fr);
}

static const char *cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static int cgi_read(void *ctx, char *buf, int n)
{
	(void)ctx;
	return (int)fread(buf, 1, (size_t)n, stdin);
}

static int cgi_write(void *ctx, const struct iovec *parts, int n)
{
	(void)ctx;
	for (int i = 0; i < n; i++)
		if (fwrite(parts[i].iov_base, 1, parts[i].iov_len, stdout) != parts[i].iov_len)
			return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

/* ---- one request --------------------------------------------------------------------- */

/* Writes s into out with anything that could break a logfmt line percent-encoded. */
static void log_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; s && *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%') {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (s && *s && outlen >= 4) {
		/* Cut short: say so. */
		o = outlen - 4;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Microseconds since t0, rounded: the access log shows them as milliseconds with three
 * decimals, written from the integer (a float through printf cost more than the rest of
 * the line). */
static long us_since(const struct timespec *t0)
{
	struct timespec t1;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (long long)(t1.tv_sec - t0->tv_sec) * 1000000000LL + (t1.tv_nsec - t0->tv_nsec);
	return ns < 0 ? 0 : (long)((ns + 500) / 1000);
}

/* Returns the request's CONTENT_LENGTH as req.c read it (-1: none), for finish_request. */
static long handle_request(struct db *db, struct auth_cache *cache, req_param_fn param,
                           void *param_ctx, const struct io *io)
{
	static const char oom_reply[] = "Status: 500 Internal Server Error\r\n"
	                                "Content-Type: application/json\r\n\r\n"
	                                "{\"error\":{\"code\":\"internal\",\"message\":"
	                                "\"out of memory\"}}";
	const struct iovec oom = { (void *)oom_reply, sizeof(oom_reply) - 1 };
	struct timespec t0;
	struct req r;
	struct resp rs;
	struct buf out; /* the reply's head (resp_head) */
	const char *body;
	size_t body_len;
	char path[LOG_PATH_MAX + 4], method[64];
	long us, content_length;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (req_init(&r, param, param_ctx, db) < 0) {
		log_error("request could not be read: out of memory");
		(void)io->write(io->in.ctx, &oom, 1);
		return -1;
	}
	resp_init(&rs);
	buf_init(&out, RESP_MAX);
	r.body_from = &io->in;
	r.auth_cache = cache;
	route_dispatch(&r, &rs);
	if (resp_head(&rs, r.method == HTTP_HEAD, &out, &body, &body_len) < 0 ||
	    body_len > RESP_MAX) {
		log_error("req=%s the reply could not be serialized", r.request_id);
		rs.status = 500;
		(void)io->write(io->in.ctx, &oom, 1);
	} else if (io->write(io->in.ctx,
	                     (const struct iovec[]){ { out.data, out.len },
	                                             { (void *)body, body_len } },
	                     2) < 0) {
		log_warn("req=%s the client went away before the reply was written", r.request_id);
	}
	/* The access log: never the Authorization header nor a body. */
	log_escape(r.path, path, sizeof(path));
	log_escape(r.method_name, method, sizeof(method));
	/* auth=kept: the credential was one this worker had verified a moment ago. */
	us = us_since(&t0);
	log_info("req=%s method=%s path=%s status=%d ms=%ld.%03ld%s", r.request_id, method, path,
	         rs.status, us / 1000, us % 1000, r.cred_kept ? " auth=kept" : "");
	buf_clear(&out);
	resp_clear(&rs);
	content_length = r.content_length;
	req_clear(&r);
	return content_length;
}

/* ---- workers ------------------------------------------------------------------------- */

struct worker {
	pthread_t thread;
	int index;
	struct db *db;
	struct auth_cache cache; /* the credentials this worker verified (auth_cache.h) */
};

/* Opens the worker's connection; the first one to succeed says whether row-level
 * security holds for the role it connects as. The credential cache listens on it
 * (PostgreSQL), unless it goes through a pooler in transaction mode, where a LISTEN
 * hears nothing: then the cache stays off and every request checks its credential
 * (docs/decisions.md, "Issue 15: kaiden-api behind PgBouncer"). 0 or -1. */
static int worker_db_open(struct worker *w)
{
	if (admin_db_open_serve(&w->db) < 0) {
		w->db = NULL;
		return -1;
	}
	if (!atomic_flag_test_and_set(&rls_checked))
		(void)db_rls_check(w->db);
	auth_cache_init(&w->cache, admin_db_pooled() ? NULL : w->db);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct io io = { { fcgx_read, NULL, 1 }, fcgx_write };
	FCGX_Request fr;
	struct fcgx_params params;
	long content_length;

	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_error("worker=%d could not set up its request", w->index);
		goto fatal;
	}
	io.in.ctx = &params;
	params.fr = &fr;
	if (worker_db_open(w) < 0)
		log_warn("worker=%d no database yet; will retry per request", w->index);
	while (!atomic_load(&stopping)) {
		if (FCGX_Accept_r(&fr) < 0) {
			int e = errno;
			if (atomic_load(&stopping))
				break;
			if (e == EBADF || e == ENOTSOCK || e == EINVAL) {
				log_error("worker=%d cannot accept on fd %d: %s", w->index, listen_fd,
				          strerror(e));
				goto fatal;
			}
			log_warn("worker=%d accept failed: %s", w->index, strerror(e));
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
			continue;
		}
		/* A database that was down at start (PostgreSQL restarting) is retried here;
		 * until then requests get 503. */
		if (!w->db)
			(void)worker_db_open(w);
		params.indexed = 0;
		params.body_read = 0;
		content_length =
			handle_request(w->db, w->db ? &w->cache : NULL, fcgx_param, &params, &io);
		finish_request(&fr, content_length, params.body_read);
	}
	FCGX_Free(&fr, 0);
	if (w->db)
		db_close(w->db);
	w->db = NULL;
	return NULL;
fatal:
	/* The listening socket is unusable: ask main to stop everything. */
	atomic_store(&fatal_error, 1);
	kill(getpid(), SIGTERM);
	if (w->db)
		db_close(w->db);
	w->db = NULL;
	return NULL;
}

/* Runs server.threads workers on listen_fd until SIGTERM/SIGINT. Exit code. */
static int run_workers(void)
{
	long nthreads = cfg_int(CFG_SERVER_THREADS);
	struct worker *workers;
	sigset_t set;
	int sig = 0, started = 0, rc;

	if (strcmp(cfg_str(CFG_DATABASE_DRIVER), "sqlite") == 0 &&
	    strcmp(cfg_str(CFG_DATABASE_PATH), ":memory:") == 0 && nthreads > 1) {
		/* Each connection would be a separate empty database. */
		log_warn("database.path=:memory: is per connection: running 1 worker, not %ld",
		         nthreads);
		nthreads = 1;
	}
	workers = calloc((size_t)nthreads, sizeof(*workers));
	if (!workers) {
		log_error("out of memory");
		return ADMIN_EXIT_FAIL;
	}
	/* Blocked before any thread starts, so every worker inherits the mask and only
	 * sigwait below ever takes these signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* A client (nginx) that hangs up mid-reply is an EPIPE, not a dead process. */
	signal(SIGPIPE, SIG_IGN);

	for (long i = 0; i < nthreads; i++) {
		workers[i].index = (int)i;
		rc = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (rc != 0) {
			log_error("worker=%ld could not start: %s", i, strerror(rc));
			atomic_store(&fatal_error, 1);
			break;
		}
		started++;
	}
	if (started == nthreads) {
		log_info("workers=%d database=%s%s ready", started, cfg_str(CFG_DATABASE_DRIVER),
		         admin_db_pooled() ? " pooler=transaction (no prepared statements, no kept "
		                             "credentials)" : "");
		while (sigwait(&set, &sig) != 0)
			;
		if (!atomic_load(&fatal_error))
			log_info("signal=%d stopping after the requests in flight", sig);
	}
	atomic_store(&stopping, 1);
	shutdown(listen_fd, SHUT_RDWR);
	/* In-flight requests finish; one stuck on a peer that never sends gets
	 * STOP_GRACE_SECONDS, then the process exits under it. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_GRACE_SECONDS;
	for (int i = 0; i < started; i++) {
		if (pthread_timedjoin_np(workers[i].thread, NULL, &deadline) != 0) {
			log_error("worker=%d still busy after %d s; exiting without it", i,
			          STOP_GRACE_SECONDS);
			return ADMIN_EXIT_FAIL; /* workers is still in use: not freed */
		}
	}
	free(workers);
	log_info("stopped");
	return atomic_load(&fatal_error) ? ADMIN_EXIT_FAIL : ADMIN_EXIT_OK;
}

/* ---- modes --------------------------------------------------------------------------- */

/* 1 if something accepts connections on the Unix socket at path. */
static int socket_in_use(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* Listens on path (a Unix socket, made SOCKET_MODE; a stale one is replaced, a live
 * one or a non-socket refused) or on host:port. The fd, or -1. */
static int open_listener(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	if (strchr(path, ':')) {
		/* libfcgi's host:port form (it exit()s itself if it cannot bind). */
		fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
		if (fd < 0)
			log_error("socket=%s could not listen", path);
		return fd;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("socket=%s the path is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("socket=%s exists and is not a socket; not touching it", path);
			return -1;
		}
		if (socket_in_use(path)) {
			log_error("socket=%s another server is listening on it", path);
			return -1;
		}
		if (unlink(path) < 0) {
			log_error("socket=%s stale socket could not be removed: %s", path,
			          strerror(errno));
			return -1;
		}
	}
	/* Made here rather than by FCGX_OpenSocket, which exit()s on a bind failure;
	 * libfcgi only needs the listening descriptor. Created under a umask that gives
	 * SOCKET_MODE, so there is no moment where it is wider. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("socket=%s socket: %s", path, strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	old_mask = umask(0777 & ~SOCKET_MODE);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		log_error("socket=%s could not listen: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, SOCKET_MODE) < 0)
		log_warn("socket=%s chmod failed: %s", path, strerror(errno));
	return fd;
}

static int serve(const struct admin_args *a)
{
	const char *config = a->config, *socket_path = NULL;
	char err[256];
	int rc, owns_file;

	for (int i = 0; i < a->argc;) {
		int m = admin_opt(a->argc, a->argv, &i, "--socket", &socket_path);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--config", &config);
		if (m == 0)
			fprintf(stderr, "kaiden-api serve: unexpected argument %s\n", a->argv[i]);
		if (m <= 0)
			return ADMIN_EXIT_USAGE;
	}
	if (admin_config_load(config) < 0)
		return ADMIN_EXIT_FAIL;
	if (socket_path && cfg_set("server.socket", socket_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "kaiden-api serve: --socket: %s\n", err);
		return ADMIN_EXIT_USAGE;
	}
	if (secret_init() < 0 || FCGX_Init() != 0) {
		log_error("libsodium or libfcgi failed to initialise");
		return ADMIN_EXIT_FAIL;
	}
	/* Copied: cfg's strings are borrowed. */
	char *path = strdup(cfg_str(CFG_SERVER_SOCKET));
	if (!path)
		return ADMIN_EXIT_FAIL;
	listen_fd = open_listener(path);
	if (listen_fd < 0) {
		free(path);
		return ADMIN_EXIT_FAIL;
	}
	owns_file = strchr(path, ':') == NULL;
	log_info("socket=%s listening", path);
	rc = run_workers();
	close(listen_fd);
	if (owns_file)
		unlink(path);
	free(path);
	return rc;
}

/* No command: FastCGI on fd 0 when it is a listening socket, else one CGI request. */
static int inherited(const struct admin_args *a)
{
	if (a->argc > 0) {
		fprintf(stderr, "kaiden-api: unexpected argument %s\n", a->argv[0]);
		return ADMIN_EXIT_USAGE;
	}
	if (admin_config_load(a->config) < 0)
		return ADMIN_EXIT_FAIL;
	if (secret_init() < 0 || FCGX_Init() != 0) {
		log_error("libsodium or libfcgi failed to initialise");
		return ADMIN_EXIT_FAIL;
	}
	if (!FCGX_IsCGI()) {
		listen_fd = 0;
		return run_workers();
	}
	if (!getenv("REQUEST_METHOD")) {
		/* Not started by a web server: most likely a person at a terminal. */
		fprintf(stderr, "kaiden-api: no REQUEST_METHOD: not a CGI request\n\n");
		admin_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	struct io io = { { cgi_read, NULL, 0 }, cgi_write };
	struct db *db = NULL;
	if (admin_db_open_serve(&db) < 0)
		db = NULL; /* the reply says 503 */
	(void)handle_request(db, NULL, cgi_param, NULL, &io);
	if (db)
		db_close(db);
	return ADMIN_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct admin_args a;

	crash_install("kaiden-api");
	if (admin_args_parse(argc, argv, &a) < 0)
		return ADMIN_EXIT_USAGE;
	if (!a.command)
		return inherited(&a);
	if (strcmp(a.command, "serve") == 0)
		return serve(&a);
	return admin_run(&a);
}
