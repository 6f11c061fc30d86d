/* main.c: kaiden-helperd. Builds the one loop and everything on it, runs it, and takes
 * it apart again on SIGTERM/SIGINT.
 *
 *   kaiden-helperd [--config FILE]
 *
 * Start-up: configuration, database (must be migrated), the loop, metrics, the session
 * module, the hub, the relay, the lws context (on our loop: LWS_SERVER_OPTION_LIBUV with
 * foreign_loops), webhook delivery, cloud services (helm and the Kubernetes API), jobs (requeue this instance's leftovers, then
 * claim), the database watch (LISTEN or data_version), the sweep.
 *
 * Shutdown (first signal): stop taking work (helperd.stopping), close every relay
 * stream with 4054 (relay_shutdown) and every agent with 1001, releasing its device
 * (hub_shutdown), give the close frames up to
 * SHUTDOWN_GRACE_MS to go out, then jobs, services (helm children killed: the next start
 * resumes them), sessions, sweep, watch and metrics stop,
 * the lws context is destroyed while the loop still runs (it closes its own handles
 * through the loop), our handles are closed, and uv_run returns once nothing is left.
 * A second signal exits at once. */
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg.h"
#include "crash.h"
#include "db.h"
#include "events.h"
#include "events_relay.h"
#include "helperd.h"
#include "hub.h"
#include "ids.h"
#include "jobs.h"
#include "log.h"
#include "lws_log.h"
#include "metrics.h"
#include "pgwatch.h"
#include "relay_peer.h"
#include "relay_server.h"
#include "helm_run.h"
#include "k8s_api.h"
#include "k8s_source.h"
#include "secret.h"
#include "service.h"
#include "service_store.h"
#include "session.h"
#include "status.h"
#include "store.h"
#include "sweep.h"
#include "webhook.h"

#define SHUTDOWN_GRACE_MS 2000
#define FD_LIMIT_MAX (1 << 17)
#define FD_RESERVE 256 /* descriptors not lws's (lws_fd_limit) */

struct helperd helperd;

static uv_loop_t loop;
static struct lws_context *context;
static int context_destroying;
static uv_signal_t sig_term, sig_int;
static uv_timer_t stop_timer;
static int stop_timer_open;
static int64_t stop_started_ms;

/* The hub's events: relay.failed is the relay's, the rest the session machine's; an
 * agent going away ends its streams too. An agent's hello makes this helperd its holder:
 * the jobs of its device that waited for it are ours to claim now (store_jobs_claim). */
static void agent_online(const char *device_id, int online)
{
	session_agent_online(device_id, online);
	relay_server_agent_online(device_id, online);
	if (online)
		jobs_kick();
}

static void agent_message(const char *device_id, const struct proto_msg *msg)
{
	if (msg->type == PROTO_RELAY_FAILED)
		relay_server_agent_message(device_id, msg);
	else
		session_agent_message(device_id, msg);
}

static const struct hub_events events = {
	.online = agent_online,
	.message = agent_message,
	.running = session_agent_running,
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kaiden-helperd [--config FILE]\n"
	             "Settings come from FILE and KAIDEN_* environment variables (see README.md).\n");
}

/* Each agent is a descriptor (a relay stream two more): the soft limit goes up to the
 * hard one, logged, so that a unit's LimitNOFILE (helperd/kaiden-helperd.service) is all
 * an operator sets. Capped at FD_LIMIT_MAX (50,000 agents and room to spare) because lws
 * sizes its per-descriptor tables by the limit when the context is made. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_LIMIT_MAX
		                      ? FD_LIMIT_MAX
		                      : rl.rlim_max;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				log_warn("cannot raise the open file limit: %s", strerror(errno));
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("open file limit %lu", (unsigned long)rl.rlim_cur);
}

/* How many descriptors lws may hold, of a soft limit CUR (its table's size: past it a
 * connection is closed as it comes, create_context). Left to itself lws counts up to the
 * whole limit, but helperd's other descriptors (PostgreSQL, libcurl's calls, helm's
 * pipes, libuv's, the log) come from the same limit: an accept then fails with EMFILE
 * with the connection still queued, and lws retries it at once, for ever: a core spent
 * (about 100,000 failed accepts a second here) until a descriptor frees. FD_RESERVE are
 * kept for the others (half of a small limit: an idle helperd on SQLite holds about
 * 20). */
static rlim_t lws_fd_limit(rlim_t cur)
{
	rlim_t n = cur == RLIM_INFINITY || cur > FD_LIMIT_MAX ? FD_LIMIT_MAX : cur;

	return n - (n / 2 < FD_RESERVE ? n / 2 : FD_RESERVE);
}

/* lws_create_context, with lws_fd_limit as the open file limit lws reads when it makes the
 * context (sysconf(_SC_OPEN_MAX): it sizes its table by it, and stops accepting at it).
 * Not info.fd_limit_per_thread: lws takes a value under the process's limit as "not the
 * ulimit", and then finds the connection of every event by a linear search of its whole
 * table (wsi_from_fd), thousands of compares a heartbeat with thousands of agents. The
 * soft limit is put back at once, so the other descriptors have the reserve above lws's
 * share. lws indexes its table by descriptor number: a connection whose number lands
 * above its share (the others holding low numbers) is closed by lws ("Socket fd N is too
 * high"), which happens only at the share anyway. */
static struct lws_context *create_context(const struct lws_context_creation_info *info)
{
	struct rlimit rl, share;
	struct lws_context *c;
	int lowered = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		share = rl;
		share.rlim_cur = lws_fd_limit(rl.rlim_cur);
		lowered = share.rlim_cur < rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &share) == 0;
		if (lowered)
			log_info("lws holds at most %lu descriptors", (unsigned long)share.rlim_cur);
	}
	c = lws_create_context(info);
	if (lowered && setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("cannot put the open file limit back: %s", strerror(errno));
	return c;
}

static int instance_name(void)
{
	const char *name = cfg_str(CFG_HELPERD_INSTANCE);

	if (name && name[0]) {
		snprintf(helperd.instance, sizeof(helperd.instance), "%s", name);
		return 0;
	}
	if (gethostname(helperd.instance, sizeof(helperd.instance) - 1) != 0 ||
	    !helperd.instance[0]) {
		log_error("no helperd.instance and no host name: set KAIDEN_HELPERD_INSTANCE");
		return -1;
	}
	helperd.instance[sizeof(helperd.instance) - 1] = '\0';
	return 0;
}

static int db_start(void)
{
	const char *driver = cfg_str(CFG_DATABASE_DRIVER);
	const char *target = strcmp(driver, "postgres") == 0 ? cfg_str(CFG_DATABASE_DSN)
	                                                     : cfg_str(CFG_DATABASE_PATH);

	int rc = db_open_existing(driver, target, &helperd.db);

	if (rc == DB_MISSING) {
		log_error("database=sqlite %s does not exist: run kaiden-api migrate with the same "
		          "settings first", target);
		return -1;
	}
	if (rc != DB_OK) {
		log_error("database=%s could not open it", driver);
		return -1;
	}
	/* helperd serves every tenant: row-level security's staff switch, for the whole
	 * connection (kept across reconnects). Its LISTEN connection (pgwatch.c) reads no
	 * table. */
	if (db_session_set(helperd.db, "kaiden.staff", "on") != DB_OK) {
		log_error("database=%s could not set kaiden.staff", driver);
		return -1;
	}
	(void)db_rls_check(helperd.db);
	if (store_health(helperd.db) != 0) {
		log_error("database=%s is not reachable or not migrated to this version: run "
		          "kaiden-api migrate", driver);
		return -1;
	}
	return 0;
}

/* 1 if something accepts connections on the Unix socket at path. */
static int socket_in_use(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, in_use;

	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	in_use = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return in_use;
}

/* helperd.listen: "host:port" (TCP), or an absolute path (a Unix socket, which is what
 * nginx/kaiden.conf proxies to). */
/* lws's "validity" timer (a ping after 300 s idle, hang up at 310 s, its default) is
 * off: every socket here has its own liveness rule (the hub's heartbeat timeout, the
 * events' pings, the relay's idle timeout), and lws keeps those timers in one sorted
 * list that it walks from the head to re-arm one at its tail, on every connection's
 * establishment: with 10,000 agents reconnecting at once that walk was 58% of helperd's
 * CPU (perf), quadratic in the agents. With hangup 0 lws schedules none. */
static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0,
	                                    .secs_since_valid_hangup = 0 };

static int lws_start(void)
{
	static struct lws_protocols protocols[6];
	static char iface[256];
	const char *listen = cfg_str(CFG_HELPERD_LISTEN);
	struct lws_context_creation_info info;
	void *foreign[1] = { &loop };
	const char *colon;
	char *end;
	long port;

	memset(&info, 0, sizeof(info));
	/* The relay's engineer endpoint first: lws gives an upgrade without a subprotocol
	 * to protocols[0], and its callback sees every upgrade request first (relay_server.h).
	 * protocols[5] stays zeroed: the end of the list. The relay's client to another
	 * helperd (relay_peer.h) has one too. */
	protocols[0] = relay_server_protocol_connect;
	protocols[1] = relay_server_protocol_stream;
	protocols[2] = hub_protocol;
	protocols[3] = events_protocol;
	protocols[4] = relay_server_protocol_peer;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = foreign;
	info.vhost_name = "agents";
	info.timeout_secs = 10;
	info.retry_and_idle_policy = &no_validity;
	/* A read from a socket is at most this: relay streams read 32 KiB at a time. */
	info.pt_serv_buf_size = 32 * 1024;
	if (listen[0] == '/') {
		if (strlen(listen) >= sizeof(iface)) {
			log_error("helperd.listen: socket path too long");
			return -1;
		}
		snprintf(iface, sizeof(iface), "%s", listen);
		if (socket_in_use(iface)) {
			log_error("helperd.listen=%s: another process is listening there", iface);
			return -1;
		}
		/* A socket file left by a previous run would make bind fail. */
		if (unlink(iface) != 0 && errno != ENOENT)
			log_warn("helperd.listen: cannot remove old %s: %s", iface, strerror(errno));
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = iface;
		info.port = 0; /* lws binds iface as a Unix socket path only with port 0 */
	} else {
		colon = strrchr(listen, ':');
		port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (!colon || *end || port < 1 || port > 65535 ||
		    (size_t)(colon - listen) >= sizeof(iface)) {
			log_error("helperd.listen must be host:port or an absolute socket path, not '%s'",
			          listen);
			return -1;
		}
		snprintf(iface, sizeof(iface), "%.*s", (int)(colon - listen), listen);
		info.port = (int)port;
		/* lws binds an interface name or an address; empty or * is every address. */
		info.iface = iface[0] && strcmp(iface, "*") != 0 ? iface : NULL;
	}
	/* KAIDEN_LWS_DEBUG=1 lets lws's own debug lines through (Debian builds it with them):
	 * for chasing a protocol problem, never in production (it is very chatty). */
	lws_set_log_level(getenv("KAIDEN_LWS_DEBUG") ? 0xff : (LLL_ERR | LLL_WARN), lws_log_emit);
	/* The vhost is made separately: lws_create_context alone gives back a context even
	 * when its listener could not bind, and helperd would run deaf. */
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	context = create_context(&info);
	if (!context) {
		log_error("helperd.listen=%s: cannot start lws", listen);
		return -1;
	}
	if (!lws_create_vhost(context, &info)) {
		log_error("helperd.listen=%s: cannot listen there (in use, or no such address?)",
		          listen);
		return -1;
	}
	log_info("helperd.listen=%s serving agents on /api/v1/ws/agent, the relay on "
	         "/api/v1/ws/connect/ and /api/v1/ws/stream/, browser events on /api/v1/ws/events",
	         listen);
	return 0;
}

/* Cloud services (issue 13): helm and the Kubernetes API from the settings. A helperd
 * without them still starts (it serves agents and sessions); its service jobs then fail
 * their service with why, naming the setting. */
static int services_start(void)
{
	struct helm_config hc;
	struct k8s_source src;
	char home[512], err[512], why[700], sa_ns[64], sa_name[254];
	int configured = 0;

	if (k8s_source_init(&src, cfg_str(CFG_K8S_API), cfg_str(CFG_K8S_TOKEN_FILE),
	                    cfg_str(CFG_K8S_CA_FILE), (int)cfg_int(CFG_K8S_INSECURE), err,
	                    sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "cloud services are not available on this helperd: %s "
		         "(set k8s.api, k8s.token_file and k8s.ca_file)", err);
		goto out;
	}
	if (cfg_str(CFG_K8S_SERVICE_ACCOUNT)[0] &&
	    k8s_api_account_parse(cfg_str(CFG_K8S_SERVICE_ACCOUNT), sa_ns, sizeof(sa_ns), sa_name,
	                          sizeof(sa_name)) != 0) {
		snprintf(why, sizeof(why), "cloud services are not available on this helperd: "
		         "k8s.service_account is not NAMESPACE/NAME (e.g. "
		         "kaiden-system/kaiden-helperd)");
		goto out;
	}
	if (cfg_str(CFG_SERVICES_HELM_HOME)[0])
		snprintf(home, sizeof(home), "%s", cfg_str(CFG_SERVICES_HELM_HOME));
	else
		helm_run_default_home(helperd.instance, home, sizeof(home));
	memset(&hc, 0, sizeof(hc));
	hc.helm = cfg_str(CFG_SERVICES_HELM);
	hc.home = home;
	hc.k8s = src;
	if (helm_run_init(&loop, &hc, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "cloud services are not available on this helperd: %s "
		         "(services.helm_home)", err);
		goto out;
	}
	if (k8s_api_init(&loop, &src) != 0) {
		snprintf(why, sizeof(why), "cloud services are not available on this helperd: the "
		         "Kubernetes API client could not start");
		goto out;
	}
	configured = 1;
	why[0] = '\0';
	if (service_store_init() != 0)
		log_warn("cloud services: %s", service_store_key_error());
	log_info("cloud services: helm %s (home %s), Kubernetes API %s, %s%s", hc.helm, home,
	         src.base_url, cfg_str(CFG_K8S_SERVICE_ACCOUNT)[0] ? "tenant RoleBindings for " :
	         "no tenant RoleBindings (k8s.service_account empty)",
	         cfg_str(CFG_K8S_SERVICE_ACCOUNT));
out:
	if (!configured)
		log_warn("%s", why);
	return service_init(&service_store_db, configured, why);
}

static void close_our_handles(void)
{
	if (stop_timer_open) {
		stop_timer_open = 0;
		uv_close((uv_handle_t *)&stop_timer, NULL);
	}
	if (!uv_is_closing((uv_handle_t *)&sig_term))
		uv_close((uv_handle_t *)&sig_term, NULL);
	if (!uv_is_closing((uv_handle_t *)&sig_int))
		uv_close((uv_handle_t *)&sig_int, NULL);
}

static void finish_shutdown(void)
{
	jobs_shutdown();
	service_shutdown();
	service_store_shutdown();
	helm_run_shutdown();
	k8s_api_shutdown();
	webhook_shutdown();
	relay_server_shutdown();
	events_shutdown();
	session_shutdown();
	sweep_shutdown();
	status_shutdown();
	events_relay_shutdown();
	pgwatch_shutdown();
	metrics_shutdown();
	if (context && !context_destroying) {
		/* With a foreign loop this starts the teardown: lws closes its handles through
		 * the loop, and a second call once uv_run has returned frees the rest. */
		context_destroying = 1;
		lws_context_destroy(context);
	}
	close_our_handles();
}

static void on_stop_timer(uv_timer_t *t)
{
	(void)t;
	/* Close frames had their chance: go on when they are all gone or the grace ran out. */
	if (hub_connections() + relay_server_connections() + events_connections() > 0 &&
	    ids_now_ms() - stop_started_ms < SHUTDOWN_GRACE_MS)
		return;
	uv_timer_stop(&stop_timer);
	finish_shutdown();
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	if (helperd.stopping) {
		log_warn("signal %d again: exiting at once", signum);
		_exit(1);
	}
	helperd.stopping = 1;
	log_info("worker=%s signal %d: stopping (%d agents connected, %d jobs running)",
	         helperd.instance, signum, hub_count(), jobs_running());
	relay_server_shutdown();
	events_shutdown();
	hub_shutdown();
	stop_started_ms = ids_now_ms();
	uv_timer_init(&loop, &stop_timer);
	stop_timer_open = 1;
	uv_timer_start(&stop_timer, on_stop_timer, 0, 50);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		log_warn("loop: closing a leftover handle of type %s", uv_handle_type_name(h->type));
		uv_close(h, NULL);
	}
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	char err[512];
	int level, rc = 1, loop_open = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	log_init("kaiden-helperd", LOG_LVL_INFO);
	crash_install("kaiden-helperd");
	if (cfg_load(config, err, sizeof(err)) != 0) {
		log_error("configuration: %s", err);
		return 1;
	}
	level = log_level_parse(cfg_str(CFG_LOG_LEVEL));
	log_init("kaiden-helperd", level < 0 ? LOG_LVL_INFO : (enum log_level)level);
	/* Agents heartbeat every helperd.heartbeat seconds: a timeout that does not leave
	 * room for a late one would drop healthy agents over and over. */
	if (cfg_int(CFG_HELPERD_AGENT_TIMEOUT) < 2 * cfg_int(CFG_HELPERD_HEARTBEAT)) {
		log_error("configuration: helperd.agent_timeout (%ld s) must be at least twice "
		          "helperd.heartbeat (%ld s)",
		          cfg_int(CFG_HELPERD_AGENT_TIMEOUT), cfg_int(CFG_HELPERD_HEARTBEAT));
		return 1;
	}
	if (secret_init() != 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	/* A peer that vanishes mid-write is an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (instance_name() != 0 || db_start() != 0)
		goto out;
	if (uv_loop_init(&loop) != 0) {
		log_error("cannot create the event loop");
		goto out;
	}
	loop_open = 1;
	helperd.loop = &loop;
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_int);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_int, on_signal, SIGINT);

	/* The heartbeat row before lws listens (status_init writes it before it returns,
	 * after relay_server_init has its peer address): it is the lease that makes the
	 * agents held here read online (migration 0021). */
	if (metrics_init() != 0 || session_init() != 0 || hub_init(&events) != 0 ||
	    relay_server_init() != 0 || events_init() != 0 || events_relay_init() != 0 ||
	    status_init() != 0 || lws_start() != 0 ||
	    webhook_init() != 0 || services_start() != 0 || jobs_init() != 0 ||
	    pgwatch_init() != 0 || sweep_init() != 0) {
		helperd.stopping = 1;
		hub_shutdown();
		finish_shutdown();
		uv_run(&loop, UV_RUN_DEFAULT);
		goto out;
	}
	log_info("worker=%s started (database %s, heartbeat %ld s, agent timeout %ld s)",
	         helperd.instance, cfg_str(CFG_DATABASE_DRIVER), cfg_int(CFG_HELPERD_HEARTBEAT),
	         cfg_int(CFG_HELPERD_AGENT_TIMEOUT));
	uv_run(&loop, UV_RUN_DEFAULT);
	log_info("worker=%s stopped", helperd.instance);
	rc = 0;
out:
	if (context) {
		lws_context_destroy(context);
		context = NULL;
	}
	if (loop_open) {
		if (uv_loop_close(&loop) == UV_EBUSY) {
			uv_walk(&loop, close_leftover, NULL);
			uv_run(&loop, UV_RUN_DEFAULT);
			if (uv_loop_close(&loop) != 0)
				log_warn("loop: handles still open at exit");
		}
	}
	hub_free();
	metrics_free();
	db_close(helperd.db);
	return rc;
}
