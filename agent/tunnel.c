/* tunnel.c: cloudflared supervision.
 *
 * Each session's tunnel is a small state machine, advanced by one lws timer that drains
 * the child's output, reaps it, probes /ready and enforces deadlines. The timer runs every
 * TICK_MS while any tunnel exists, sooner while one is starting: /ready is probed
 * PROBE_FIRST_MS after the spawn, then every tenth of the time since (at least
 * PROBE_FIRST_MS, at most TICK_MS), so a tunnel's readiness is seen within about 10% of
 * the time it took; a probe under way is read after PROBE_READ_MS, then after as long as
 * it has already waited:
 *
 *   (none) --start--> STARTING --/ready 200--> READY
 *   STARTING --exit--> failed (reason: exit status, last output line)
 *   STARTING --ready_timeout--> failed, SIGTERM --> FAILING --grace--> SIGKILL
 *   READY --exit--> failed ("exited unexpectedly")
 *   STARTING|READY --stop--> SIGTERM --> STOPPING --grace--> SIGKILL
 *   STOPPING --exit--> stopped;  FAILING --exit--> (stopped if a stop came meanwhile)
 *
 * A tunnel is freed only once its process has been reaped, so no cloudflared outlives
 * the record of it. Tokens are never stored: the child's environment is built, spawned
 * and wiped in tunnel_start. */
#include "tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "ids.h"
#include "log.h"

extern char **environ;

#define TICK_MS 200
#define PROBE_FIRST_MS 10  /* first /ready probe after the spawn; the shortest interval */
#define PROBE_READ_MS 2    /* first look for a probe's answer */
#define PROBE_TIMEOUT_MS 2000
#define LINE_MAX_LEN 400

enum tunnel_state { T_STARTING, T_READY, T_STOPPING, T_FAILING };
enum probe_state { P_IDLE, P_CONNECTING, P_READING };

struct tunnel {
	struct tunnel *next;
	char session_id[UUID_STR_LEN];
	enum tunnel_state state;
	pid_t pid;
	int port;
	int claim_fd;            /* the metrics port's claim (claim_port), -1 when none */
	int out_fd;              /* read end of the child's stdout+stderr, -1 when closed */
	char line[LINE_MAX_LEN]; /* partial output line */
	size_t line_len;
	char last_line[LINE_MAX_LEN];
	int64_t started_ms;
	int64_t next_probe_ms;   /* STARTING: the next /ready probe is due then */
	int64_t ready_deadline_ms;
	int64_t kill_at_ms;      /* STOPPING/FAILING: SIGKILL at this time (0: sent) */
	int report_stopped;      /* a stop arrived: answer stopped when reaped */
	int probe_fd;
	enum probe_state probe;
	int64_t probe_started_ms;
	char probe_buf[32];
	size_t probe_len;
};

static struct {
	struct lws_context *context;
	struct tunnel_config cfg;
	tunnel_report_fn report;
	void *arg;
	struct tunnel *list;
	lws_sorted_usec_list_t sul;
	int ticking;             /* inside tick(), which re-arms the timer at its end */
	int closing;             /* the agent stops (tunnel_stop_all): nothing new starts */
} tn;

static void tick(lws_sorted_usec_list_t *sul);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long until the timer is next needed: TICK_MS, or sooner for a starting tunnel's
 * probe (due, or under way and waiting for its answer). */
static int64_t tick_delay_ms(int64_t now)
{
	int64_t delay = TICK_MS;

	for (struct tunnel *t = tn.list; t; t = t->next) {
		if (t->state != T_STARTING)
			continue;
		if (t->probe != P_IDLE) {
			/* its answer: soon, then backing off as it keeps us waiting */
			int64_t wait = now - t->probe_started_ms;
			if (wait < PROBE_READ_MS)
				wait = PROBE_READ_MS;
			if (delay > wait)
				delay = wait;
		} else if (t->next_probe_ms - now < delay) {
			delay = t->next_probe_ms - now;
		}
	}
	return delay > 0 ? delay : 0;
}

/* (Re)arm the timer for when it is next needed, unless a tick is running (it re-arms at
 * its end). */
static void schedule_tick(void)
{
	if (tn.ticking)
		return;
	lws_sul_cancel(&tn.sul);
	if (!tn.list)
		return;
	lws_sul_schedule(tn.context, 0, &tn.sul, tick, tick_delay_ms(now_ms()) * LWS_US_PER_MS);
}

int tunnel_init(struct lws_context *context, const struct tunnel_config *cfg,
                tunnel_report_fn report, void *arg)
{
	if (!context || !cfg || !cfg->cloudflared || !*cfg->cloudflared || !report) {
		log_error("tunnel: init without a context, a cloudflared program or a report");
		return -1;
	}
	memset(&tn, 0, sizeof(tn));
	tn.context = context;
	tn.cfg = *cfg;
	if (tn.cfg.ready_timeout_s <= 0)
		tn.cfg.ready_timeout_s = 60;
	if (tn.cfg.grace_s <= 0)
		tn.cfg.grace_s = 10;
	if (tn.cfg.max_tunnels <= 0)
		tn.cfg.max_tunnels = 16;
	tn.report = report;
	tn.arg = arg;
	return 0;
}

static struct tunnel *find(const char *session_id)
{
	for (struct tunnel *t = tn.list; t; t = t->next)
		if (strcasecmp(t->session_id, session_id) == 0)
			return t;
	return NULL;
}

static int count_all(void)
{
	int n = 0;

	for (struct tunnel *t = tn.list; t; t = t->next)
		n++;
	return n;
}

/* Claims 127.0.0.1:port for a cloudflared about to be started, or -1 when anything is
 * bound to it. The claim is a socket bound to the port and never listening, kept until
 * the tunnel is freed. It is bound first without SO_REUSEADDR, so it fails while any
 * socket holds the port and two claims cannot both succeed, then marked SO_REUSEADDR,
 * which Linux requires of both sockets for cloudflared's listener to bind the same port
 * beside it (Go's listeners, cloudflared's, set SO_REUSEADDR; so does Python's
 * http.server, the fake's). Meanwhile another agent's claim, or any plain bind, is
 * refused: without it, two agents on one machine (or one agent's two starts) could both
 * find a port free in the time before either cloudflared bound it, and the second
 * cloudflared would exit ("failed to start the metrics server") and fail its session. */
static int claim_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A free loopback port for --metrics, claimed (claim_port; *fd the claim), below the
 * kernel's ephemeral range (its first port, /proc/sys/net/ipv4/ip_local_port_range;
 * 32768 when unreadable): every outgoing connection and every bind(0) on the machine
 * takes its port from that range without looking at claims like ours, so a port there
 * could be taken by any connect() before cloudflared binds it. Below it only another
 * listener could take it, and every bind is refused by the claim. From a random port
 * among the 10,000 below the range, the first that can be claimed; -1 if none. */
static int free_port(int *fd)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int low = 32768, base, start;

	if (f) {
		if (fscanf(f, "%d", &low) != 1)
			low = 32768;
		fclose(f);
	}
	if (low <= 12000 || low > 65535)
		low = 32768;
	base = low - 10000;
	start = base + (int)randombytes_uniform(10000);
	for (int i = 0; i < 10000; i++) {
		int port = base + (start - base + i) % 10000;
		if ((*fd = claim_port(port)) >= 0)
			return port;
	}
	return -1;
}

/* The child's environment: ours without TUNNEL_TOKEN* (so only ours counts) and without
 * KAIDEN_SECRET (the device secret is none of cloudflared's business), plus the token. */
static char **child_env(const char *token, char **token_entry)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; e && *e; e++)
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "TUNNEL_TOKEN", 12) == 0 || strncmp(*e, "KAIDEN_SECRET=", 14) == 0)
			continue;
		env[k++] = *e;
	}
	if (asprintf(token_entry, "TUNNEL_TOKEN=%s", token) < 0) {
		free(env);
		return NULL;
	}
	env[k++] = *token_entry;
	env[k] = NULL;
	return env;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int spawn(struct tunnel *t, const char *token, char *why, size_t whylen)
{
	char metrics[32], grace[16];
	char *argv[] = { (char *)tn.cfg.cloudflared, "tunnel", "--no-autoupdate", "--metrics",
	                 metrics, "--loglevel", "info", "--grace-period", grace, "run", NULL };
	char *token_entry = NULL;
	char **env = NULL;
	int pipefd[2] = { -1, -1 };
	int devnull = -1;
	int errpipe[2] = { -1, -1 };
	int rc = -1, err = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", t->port);
	/* cloudflared drains for the grace period; let it finish before our SIGKILL. */
	snprintf(grace, sizeof(grace), "%ds", tn.cfg.grace_s > 2 ? tn.cfg.grace_s - 2 : 1);
	env = child_env(token, &token_entry);
	if (!env) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	/* The child's end must block, as programs expect of stdout. */
	fcntl(pipefd[1], F_SETFL, 0);
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	/* fork + exec rather than posix_spawn, for one thing posix_spawn cannot do:
	 * PR_SET_PDEATHSIG, so cloudflared dies with the agent even when the agent is killed
	 * with SIGKILL and cannot stop it in order (a tunnel must never outlive its agent).
	 * The child runs only async-signal-safe calls before exec. It gets its own process
	 * group, so a ^C at the agent's terminal reaches only the agent, which then stops
	 * cloudflared in order; default signal handling and an empty mask, whatever the
	 * agent ignores or blocks. An exec failure comes back through errpipe. */
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "cannot start %s: %s", tn.cfg.cloudflared, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		static const int defaults[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD };
		sigset_t none;

		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		if (dup2(devnull, 0) < 0 || dup2(pipefd[1], 1) < 0 || dup2(pipefd[1], 2) < 0)
			_exit(127);
		for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			signal(defaults[i], SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvpe(tn.cfg.cloudflared, argv, env);
		err = errno;
		if (write(errpipe[1], &err, sizeof(err)) < 0) {
			/* the parent then sees an exit status of 127 */
		}
		_exit(127);
	}
	close(errpipe[1]);
	errpipe[1] = -1;
	do
		n = read(errpipe[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		snprintf(why, whylen, "cannot run %s: %s", tn.cfg.cloudflared, strerror(err));
		goto out;
	}
	t->pid = pid;
	t->out_fd = pipefd[0];
	pipefd[0] = -1;
	rc = 0;
out:
	if (errpipe[0] >= 0)
		close(errpipe[0]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (devnull >= 0)
		close(devnull);
	wipe_free(token_entry);
	free(env);
	return rc;
}

static void probe_close(struct tunnel *t)
{
	if (t->probe_fd >= 0)
		close(t->probe_fd);
	t->probe_fd = -1;
	t->probe = P_IDLE;
	t->probe_len = 0;
}

static void tunnel_free(struct tunnel *t)
{
	probe_close(t);
	if (t->out_fd >= 0)
		close(t->out_fd);
	if (t->claim_fd >= 0)
		close(t->claim_fd);
	free(t);
}

static void unlink_tunnel(struct tunnel *t)
{
	for (struct tunnel **p = &tn.list; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

static void signal_child(struct tunnel *t, int sig)
{
	/* The group first (cloudflared leads it), then the process itself. */
	if (kill(-t->pid, sig) != 0)
		kill(t->pid, sig);
}

static void begin_stop(struct tunnel *t, enum tunnel_state state, int grace_s)
{
	probe_close(t);
	t->state = state;
	t->kill_at_ms = now_ms() + (int64_t)grace_s * 1000;
	signal_child(t, SIGTERM);
}

void tunnel_start(const char *session_id, const char *token, int metrics_port)
{
	struct tunnel *t = find(session_id);
	char why[256];

	/* The agent is going away: an answer now (failed, or a cloudflared it would stop at
	 * once) would fail the session; unanswered, helperd sees the agent go and sends the
	 * start again once it is back (docs/decisions.md). */
	if (tn.closing) {
		log_info("session=%s tunnel.start while the agent stops: not started", session_id);
		return;
	}
	if (t) {
		switch (t->state) {
		case T_READY:
			log_info("session=%s tunnel already ready", t->session_id);
			tn.report(tn.arg, PROTO_TUNNEL_READY, t->session_id, NULL);
			return;
		case T_STARTING:
			/* Ready (or failed) is reported when it happens. */
			log_info("session=%s tunnel already starting", t->session_id);
			return;
		case T_STOPPING:
		case T_FAILING:
			tn.report(tn.arg, PROTO_TUNNEL_FAILED, session_id,
			          "the previous cloudflared of this session is still stopping; retry");
			return;
		}
	}
	if (count_all() >= tn.cfg.max_tunnels) {
		snprintf(why, sizeof(why), "too many tunnels on this agent (%d)", tn.cfg.max_tunnels);
		tn.report(tn.arg, PROTO_TUNNEL_FAILED, session_id, why);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		tn.report(tn.arg, PROTO_TUNNEL_FAILED, session_id, "out of memory");
		return;
	}
	snprintf(t->session_id, sizeof(t->session_id), "%s", session_id);
	t->out_fd = -1;
	t->probe_fd = -1;
	t->claim_fd = -1;
	t->port = metrics_port > 0 ? metrics_port : free_port(&t->claim_fd);
	if (t->port <= 0) {
		tn.report(tn.arg, PROTO_TUNNEL_FAILED, session_id, "no free loopback port for metrics");
		free(t);
		return;
	}
	if (spawn(t, token, why, sizeof(why)) != 0) {
		log_error("session=%s %s", session_id, why);
		tn.report(tn.arg, PROTO_TUNNEL_FAILED, session_id, why);
		tunnel_free(t);
		return;
	}
	t->state = T_STARTING;
	t->started_ms = now_ms();
	t->next_probe_ms = t->started_ms + PROBE_FIRST_MS;
	t->ready_deadline_ms = t->started_ms + (int64_t)tn.cfg.ready_timeout_s * 1000;
	t->next = tn.list;
	tn.list = t;
	log_info("session=%s cloudflared started pid=%d metrics=127.0.0.1:%d", t->session_id,
	         (int)t->pid, t->port);
	schedule_tick();
}

void tunnel_stop(const char *session_id)
{
	struct tunnel *t = find(session_id);

	if (!t) {
		log_info("session=%s no tunnel to stop", session_id);
		tn.report(tn.arg, PROTO_TUNNEL_STOPPED, session_id, NULL);
		return;
	}
	t->report_stopped = 1;
	if (t->state == T_STARTING || t->state == T_READY) {
		log_info("session=%s stopping cloudflared pid=%d", t->session_id, (int)t->pid);
		begin_stop(t, T_STOPPING, tn.cfg.grace_s);
	}
}

void tunnel_stop_all(void)
{
	tn.closing = 1;
	for (struct tunnel *t = tn.list; t; t = t->next) {
		t->report_stopped = 1;
		if (t->state == T_STARTING || t->state == T_READY) {
			log_info("session=%s stopping cloudflared pid=%d", t->session_id, (int)t->pid);
			begin_stop(t, T_STOPPING, tn.cfg.grace_s);
		}
	}
}

void tunnel_kill_all(void)
{
	for (struct tunnel *t = tn.list; t; t = t->next) {
		t->report_stopped = 1;
		if (t->state == T_STARTING || t->state == T_READY)
			t->state = T_STOPPING;
		probe_close(t);
		signal_child(t, SIGKILL);
		t->kill_at_ms = 0;
	}
}

json_object *tunnel_sessions(void)
{
	json_object *a = json_object_new_array();

	for (struct tunnel *t = tn.list; a && t; t = t->next)
		if (t->state == T_STARTING || t->state == T_READY)
			json_object_array_add(a, json_object_new_string(t->session_id));
	return a;
}

int tunnel_count(void)
{
	return count_all();
}

/* One line of cloudflared's output: to our log, and kept for a failure reason. */
static void output_line(struct tunnel *t)
{
	t->line[t->line_len] = '\0';
	for (size_t i = 0; i < t->line_len; i++)
		if ((unsigned char)t->line[i] < 0x20 || t->line[i] == 0x7f)
			t->line[i] = ' ';
	if (t->line_len > 0) {
		log_info("session=%s cloudflared: %s", t->session_id, t->line);
		memcpy(t->last_line, t->line, t->line_len + 1);
	}
	t->line_len = 0;
}

static void drain_output(struct tunnel *t)
{
	char buf[4096];
	ssize_t n;

	while (t->out_fd >= 0) {
		n = read(t->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (t->line_len)
				output_line(t);
			close(t->out_fd);
			t->out_fd = -1;
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\r') {
				if (t->line_len)
					output_line(t);
			} else if (t->line_len < sizeof(t->line) - 1) {
				t->line[t->line_len++] = buf[i];
			}
		}
	}
}

/* When the probe after one that begins now is due: a tenth of the time since the spawn,
 * within [PROBE_FIRST_MS, TICK_MS]. */
static int64_t probe_interval_ms(const struct tunnel *t, int64_t now)
{
	int64_t i = (now - t->started_ms) / 10;

	return i < PROBE_FIRST_MS ? PROBE_FIRST_MS : i > TICK_MS ? TICK_MS : i;
}

/* One step of `GET /ready HTTP/1.0` on a non-blocking socket: 1 when it answered 200.
 * A new probe begins only when one is due. */
static int probe_step(struct tunnel *t)
{
	static const char req[] = "GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	struct pollfd pfd;
	int64_t now = now_ms();

	if (t->probe != P_IDLE && now - t->probe_started_ms > PROBE_TIMEOUT_MS)
		probe_close(t);
	if (t->probe == P_IDLE && now < t->next_probe_ms)
		return 0;
	if (t->probe == P_IDLE) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)t->port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t->next_probe_ms = now + probe_interval_ms(t, now);
		t->probe_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->probe_fd < 0)
			return 0;
		t->probe_started_ms = now;
		t->probe = P_CONNECTING;
		if (connect(t->probe_fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
		    errno != EINPROGRESS) {
			probe_close(t); /* not listening yet */
			return 0;
		}
	}
	if (t->probe == P_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		pfd.fd = t->probe_fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 0) <= 0)
			return 0;
		if (getsockopt(t->probe_fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0 ||
		    send(t->probe_fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
			probe_close(t);
			return 0;
		}
		t->probe = P_READING;
	}
	if (t->probe == P_READING) {
		ssize_t n = recv(t->probe_fd, t->probe_buf + t->probe_len,
		                 sizeof(t->probe_buf) - 1 - t->probe_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n > 0)
			t->probe_len += (size_t)n;
		t->probe_buf[t->probe_len] = '\0';
		/* "HTTP/1.x 200 ..." is all we read; the body does not matter. */
		if (n <= 0 || t->probe_len >= 12 || strchr(t->probe_buf, '\n')) {
			int ok = strncmp(t->probe_buf, "HTTP/1.", 7) == 0 &&
			         strncmp(t->probe_buf + 8, " 200", 4) == 0;
			probe_close(t);
			return ok;
		}
	}
	return 0;
}

static void exit_reason(int status, const char *last_line, char *out, size_t outlen)
{
	char how[96];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*last_line)
		snprintf(how, sizeof(how), "cannot run %.40s (exit status 127)", tn.cfg.cloudflared);
	else if (WIFEXITED(status))
		snprintf(how, sizeof(how), "cloudflared exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "cloudflared was killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "cloudflared ended");
	if (*last_line)
		snprintf(out, outlen, "%s: %.300s", how, last_line);
	else
		snprintf(out, outlen, "%s", how);
}

/* Returns 1 when the tunnel is gone (reaped and reported) and must be freed. */
static int advance(struct tunnel *t, int64_t now)
{
	char reason[512];
	int status;
	pid_t r;

	drain_output(t);
	r = waitpid(t->pid, &status, WNOHANG);
	if (r == t->pid || (r < 0 && errno == ECHILD)) {
		drain_output(t);
		if (r < 0)
			status = 0;
		switch (t->state) {
		case T_STARTING:
		case T_READY:
			exit_reason(status, t->last_line, reason, sizeof(reason));
			log_warn("session=%s %s", t->session_id, reason);
			tn.report(tn.arg, PROTO_TUNNEL_FAILED, t->session_id, reason);
			break;
		case T_STOPPING:
			log_info("session=%s cloudflared stopped", t->session_id);
			tn.report(tn.arg, PROTO_TUNNEL_STOPPED, t->session_id, NULL);
			break;
		case T_FAILING:
			log_info("session=%s cloudflared gone", t->session_id);
			if (t->report_stopped)
				tn.report(tn.arg, PROTO_TUNNEL_STOPPED, t->session_id, NULL);
			break;
		}
		return 1;
	}
	switch (t->state) {
	case T_STARTING:
		if (probe_step(t)) {
			t->state = T_READY;
			log_info("session=%s tunnel ready", t->session_id);
			tn.report(tn.arg, PROTO_TUNNEL_READY, t->session_id, NULL);
		} else if (now >= t->ready_deadline_ms) {
			if (*t->last_line)
				snprintf(reason, sizeof(reason),
				         "cloudflared was not ready within %d s: %.300s",
				         tn.cfg.ready_timeout_s, t->last_line);
			else
				snprintf(reason, sizeof(reason), "cloudflared was not ready within %d s",
				         tn.cfg.ready_timeout_s);
			log_warn("session=%s %s", t->session_id, reason);
			tn.report(tn.arg, PROTO_TUNNEL_FAILED, t->session_id, reason);
			begin_stop(t, T_FAILING, tn.cfg.grace_s);
		}
		break;
	case T_READY:
		break;
	case T_STOPPING:
	case T_FAILING:
		if (t->kill_at_ms && now >= t->kill_at_ms) {
			log_warn("session=%s cloudflared pid=%d ignored SIGTERM; sending SIGKILL",
			         t->session_id, (int)t->pid);
			signal_child(t, SIGKILL);
			t->kill_at_ms = 0;
		}
		break;
	}
	return 0;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = now_ms();
	struct tunnel *t, *next;

	(void)sul;
	tn.ticking = 1;
	/* report() may call back into tunnel_start/stop; walk with care. */
	for (t = tn.list; t; t = next) {
		next = t->next;
		if (advance(t, now)) {
			unlink_tunnel(t);
			tunnel_free(t);
		}
	}
	tn.ticking = 0;
	schedule_tick();
}

void tunnel_clear(void)
{
	struct tunnel *t;

	if (tn.context)
		lws_sul_cancel(&tn.sul);
	tn.ticking = 0;
	while ((t = tn.list)) {
		tn.list = t->next;
		signal_child(t, SIGKILL);
		waitpid(t->pid, NULL, 0);
		tunnel_free(t);
	}
}
