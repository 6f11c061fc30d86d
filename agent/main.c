/* main.c: kaiden-agent. Options and configuration, the lws context and loop, signals.
 *
 *   kaiden-agent --server URL --device-id ID (--secret S | --secret-file F)
 *                [--ca-file F] [--insecure] [--cloudflared PATH] [--relay-ports LIST]
 *                [--config FILE]
 *   kaiden-agent --server URL --cluster-id ID --node-name NAME (--secret-file F | ...)
 *                [--k8s-api URL] [--k8s-token-file F] [--k8s-ca-file F] [--node-refresh N]
 *                [same options as above]
 *
 * The second form is cluster mode (issue 12: one agent per node, a DaemonSet): the agent
 * says hello with the cluster's id and secret and its node's name (protocol version 3),
 * and helperd answers with the node's device; it reads its Node from the Kubernetes API
 * at start and every --node-refresh seconds (node_watch.c, asynchronous on the loop, with
 * lws' HTTP client: k8s_get.c) and sends a
 * "node" message with each change (or the reason a read failed), and the latest reading
 * again after every welcome. Sessions, tunnels and the relay work as for a device.
 *
 * Every option is also a setting (common/cfg.h, agent.*; KAIDEN_* in the environment);
 * the command line wins. SIGTERM/SIGINT: close every relay stream, stop every
 * cloudflared (SIGTERM, grace, SIGKILL), tell the server, exit 0; a second signal kills
 * them at once. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "k8s_node.h"
#include "link.h"
#include "log.h"
#include "lws_log.h"
#include "node_watch.h"
#include "proto.h"
#include "relay.h"
#include "release.h"
#include "secretfile.h"
#include "stream.h"
#include "sysinfo.h"
#include "trust.h"
#include "tunnel.h"
#include "wsc.h"

#define SECRET_MAX 256
#define SHUTDOWN_MAX_S 20 /* whatever happens, exit this long after the signal */
/* lws sizes two tables by the descriptor limit, 16 bytes a descriptor, all written at
 * start: a container's usual limit of 1,048,576 would cost 16 MiB. This many is ample
 * (the link, two a relay stream, cloudflared's pipes) and costs 64 KiB. */
#define AGENT_LWS_FDS_MAX 4096

static volatile sig_atomic_t signals_seen;
static struct lws_context *context;
static lws_sorted_usec_list_t sul_wake;

struct cli_setting {
	const char *name;
	const char *value;
};

/* While stopping, the loop must come round at least once a second to check progress. */
static void wake(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(context, 0, sul, wake, LWS_US_PER_SEC);
}

static void on_signal(int sig)
{
	(void)sig;
	signals_seen++;
	/* Wakes lws's poll(); it only writes to a pipe. */
	if (context)
		lws_cancel_service(context);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kaiden-agent --server URL --device-id ID (--secret-file F | --secret S)\n"
	        "                    [--ca-file F] [--insecure] [--cloudflared PATH]\n"
	        "                    [--relay-ports LIST] [--config FILE]\n"
	        "       kaiden-agent --server URL --cluster-id ID --node-name NAME\n"
	        "                    (--secret-file F | --secret S) [--k8s-api URL]\n"
	        "                    [--k8s-token-file F] [--k8s-ca-file F] [--node-refresh N] ...\n"
	        "\n"
	        "  --server URL        wss://HOST/api/v1/ws/agent                  (KAIDEN_SERVER)\n"
	        "  --device-id ID      this machine's device id                 (KAIDEN_DEVICE_ID)\n"
	        "  --secret-file F     file holding the device secret         (KAIDEN_SECRET_FILE)\n"
	        "  --secret S          the secret itself: visible to other users in ps  (KAIDEN_SECRET)\n"
	        "  --ca-file F         CA bundle for the server's certificate     (KAIDEN_CA_FILE)\n"
	        "  --insecure          allow a ws:// URL (local tests only)       (KAIDEN_INSECURE)\n"
	        "  --cloudflared PATH  the cloudflared program                (KAIDEN_CLOUDFLARED)\n"
	        "  --relay-ports LIST  loopback ports relay streams may reach, e.g. 22,8080\n"
	        "                                                            (KAIDEN_RELAY_PORTS)\n"
	        "  --config FILE       YAML settings file (agent.*, session.ready_timeout)\n"
	        "  --version           print the version\n"
	        "\n"
	        "cluster mode (a DaemonSet's agent, instead of --device-id):\n"
	        "  --cluster-id ID     the cluster's id; the secret is the cluster's (KAIDEN_CLUSTER_ID)\n"
	        "  --node-name NAME    this node            (KAIDEN_NODE_NAME, else NODE_NAME)\n"
	        "  --k8s-api URL       the Kubernetes API (default: in-cluster)   (KAIDEN_K8S_API)\n"
	        "  --k8s-token-file F  bearer token file (default: the service account's)\n"
	        "                                                         (KAIDEN_K8S_TOKEN_FILE)\n"
	        "  --k8s-ca-file F     CA of the API (default: the service account's)\n"
	        "                                                            (KAIDEN_K8S_CA_FILE)\n"
	        "  --node-refresh N    seconds between reads of the node, default 60\n"
	        "                                                           (KAIDEN_NODE_REFRESH)\n"
	        "  --insecure          also allows an http:// --k8s-api\n");
}

/* 1 if program (a path, or a name looked up on PATH) is an executable file. */
static int program_found(const char *program)
{
	const char *path = getenv("PATH");
	char candidate[4096];

	if (strchr(program, '/'))
		return access(program, X_OK) == 0;
	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, n ? path : ".", program);
		if (access(candidate, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

static void report(void *arg, enum proto_type type, const char *session_id, const char *reason)
{
	json_object *f = json_object_new_object();

	(void)arg;
	jsonx_add_str(f, "session_id", session_id);
	if (type == PROTO_TUNNEL_FAILED)
		jsonx_add_str(f, "reason", reason && *reason ? reason : "failed");
	link_send(type, f);
}

/* Heartbeats list the cloudflared tunnels and the relay sessions. */
static json_object *sessions(void)
{
	json_object *a = tunnel_sessions();

	relay_sessions_add(a);
	return a;
}

/* tunnel.stop ends a relay session or a cloudflared tunnel (or answers stopped). */
static void stop(const char *session_id)
{
	if (!relay_stop(session_id))
		tunnel_stop(session_id);
}

/* The latest reading, said again after every welcome (a reconnect, a new helperd). */
static struct {
	int have_good;          /* good holds a reading */
	int failing;            /* the last read failed, with reason */
	struct k8s_node good;
	char reason[K8S_REASON_MAX];
} last_node;

static void add_int_or_null(json_object *o, const char *name, int64_t v)
{
	json_object_object_add(o, name, v < 0 ? NULL : json_object_new_int64(v));
}

static void add_text_or_null(json_object *o, const char *name, const char *v)
{
	jsonx_add_str(o, name, *v ? v : NULL);
}

/* The "node" message's members for a reading of node name (proto.h). NULL when the
 * labels' text does not parse (it is k8s_node.c's own JSON, so never in practice). */
static json_object *node_fields(const struct k8s_node *n, const char *name)
{
	json_object *o = json_object_new_object(), *res, *cap, *alloc, *ver;
	json_object *labels = json_tokener_parse(n->labels);

	if (!o || !labels || !json_object_is_type(labels, json_type_object)) {
		json_object_put(o);
		json_object_put(labels);
		return NULL;
	}
	jsonx_add_str(o, "node_name", name); /* the hello's, as helperd checks */
	jsonx_add_str(o, "node_status", k8s_ready_name(n->ready));
	json_object_object_add(o, "unschedulable", json_object_new_boolean(n->unschedulable));
	json_object_object_add(o, "labels", labels);
	res = json_object_new_object();
	add_int_or_null(res, "cpu_capacity_m", n->res.cpu_capacity_m);
	add_int_or_null(res, "cpu_allocatable_m", n->res.cpu_allocatable_m);
	add_int_or_null(res, "memory_capacity", n->res.memory_capacity);
	add_int_or_null(res, "memory_allocatable", n->res.memory_allocatable);
	cap = json_object_new_object();
	add_text_or_null(cap, "cpu", n->res.cpu_capacity);
	add_text_or_null(cap, "memory", n->res.memory_capacity_raw);
	add_text_or_null(cap, "pods", n->res.pods_capacity);
	alloc = json_object_new_object();
	add_text_or_null(alloc, "cpu", n->res.cpu_allocatable);
	add_text_or_null(alloc, "memory", n->res.memory_allocatable_raw);
	add_text_or_null(alloc, "pods", n->res.pods_allocatable);
	json_object_object_add(res, "capacity", cap);
	json_object_object_add(res, "allocatable", alloc);
	json_object_object_add(o, "resources", res);
	ver = json_object_new_object();
	add_text_or_null(ver, "kubelet", n->kubelet_version);
	add_text_or_null(ver, "os_image", n->os_image);
	add_text_or_null(ver, "kernel", n->kernel_version);
	add_text_or_null(ver, "container_runtime", n->container_runtime_version);
	add_text_or_null(ver, "architecture", n->architecture);
	json_object_object_add(o, "versions", ver);
	return o;
}

/* A reading (reason NULL) or a failure, to helperd: only while online (what is read
 * meanwhile is kept in last_node, and a welcome sends it: node_welcomed). */
static void node_send_one(const char *name, const struct k8s_node *node, const char *reason)
{
	json_object *f;

	if (!link_online())
		return;
	if (reason) {
		f = json_object_new_object();
		jsonx_add_str(f, "node_name", name);
		jsonx_add_str(f, "error", reason);
	} else if (!(f = node_fields(node, name))) {
		log_warn("node=%s the reading cannot be sent: its labels are not JSON", name);
		return;
	}
	link_send(PROTO_NODE, f);
}

/* The latest good reading, and the current failure if the node cannot be read now. */
static void node_send(const char *name)
{
	if (last_node.have_good)
		node_send_one(name, &last_node.good, NULL);
	if (last_node.failing)
		node_send_one(name, NULL, last_node.reason);
}

static char node_name_sent[K8S_NODE_NAME_MAX + 1];

/* Once a burst of work is over (start-up and the TLS handshake, a read of the node, the
 * last session of a run), the agent gives back what it no longer uses (release.h): the
 * heap's free pages and the library code the burst ran through. A few seconds later, so
 * that the burst's tail (a connection's close, the answers to the welcome) is over too;
 * a new burst in the meantime moves it on. */
#define RELEASE_DELAY_US (3 * LWS_US_PER_SEC)
static lws_sorted_usec_list_t sul_release;

static void release_now(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	log_debug("released %ld bytes of clean library mappings", release_idle());
}

static void release_soon(void)
{
	lws_sul_schedule(context, 0, &sul_release, release_now, RELEASE_DELAY_US);
}

/* Online (at start or after a reconnect): the node's latest reading in cluster mode. */
static void welcomed(void)
{
	if (*node_name_sent)
		node_send(node_name_sent);
	release_soon();
}

/* What the node watch found: logged, kept, and sent to helperd. */
static void node_report(void *arg, const struct k8s_node *node, const char *reason,
                        unsigned changed)
{
	const char *name = arg;
	char what[128];

	if (!node) {
		log_warn("node=%s cannot read the node: %s", name, reason);
		last_node.failing = 1;
		snprintf(last_node.reason, sizeof(last_node.reason), "%s", reason);
		node_send_one(name, NULL, reason);
		return;
	}
	last_node.good = *node;
	last_node.have_good = 1;
	last_node.failing = 0;
	node_send_one(name, node, NULL);
	if (changed == K8S_CHANGED_ALL)
		snprintf(what, sizeof(what), "first");
	else if (changed == 0)
		snprintf(what, sizeof(what), "none");  /* readable again after a failure */
	else
		k8s_change_names(changed, what, sizeof(what));
	log_info("node=%s %s%s changed=%s cpu=%s/%s memory=%s/%s kubelet=%s runtime=%s "
	         "labels=%s",
	         name, k8s_ready_name(node->ready), node->unschedulable ? ",unschedulable" : "",
	         what, node->res.cpu_allocatable, node->res.cpu_capacity,
	         node->res.memory_allocatable_raw, node->res.memory_capacity_raw,
	         node->kubelet_version, node->container_runtime_version, node->labels);
}

/* 1 if id looks like an id the server hands out: 1 to 64 letters, digits, '-' or '_'. */
static int id_valid(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= 64 && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                       "0123456789-_") == n;
}

/* Checks the settings of either mode and fills *nw for cluster mode. 1 in cluster mode,
 * 0 in device mode, -1 after logging what is wrong. */
static int agent_mode(struct node_watch_config *nw)
{
	static const enum cfg_key cluster_only[] = {
		CFG_AGENT_NODE_NAME, CFG_K8S_API, CFG_K8S_TOKEN_FILE,
		CFG_K8S_CA_FILE, CFG_AGENT_NODE_REFRESH,
	};
	const char *cluster_id = cfg_str(CFG_AGENT_CLUSTER_ID);
	const char *node_name = cfg_str(CFG_AGENT_NODE_NAME);
	char err[256];

	if (*cluster_id && *cfg_str(CFG_AGENT_DEVICE_ID)) {
		log_error("both a device id and a cluster id are given: an agent serves one machine "
		          "(--device-id) or one node of a cluster (--cluster-id), not both");
		return -1;
	}
	if (!*cluster_id) {
		if (!*cfg_str(CFG_AGENT_DEVICE_ID)) {
			log_error("no device id: --device-id or KAIDEN_DEVICE_ID (or, on a Kubernetes "
			          "node, --cluster-id and --node-name)");
			return -1;
		}
		for (size_t i = 0; i < ARRAY_LEN(cluster_only); i++) {
			if (strcmp(cfg_source(cluster_only[i]), "default") != 0) {
				log_error("%s is set (%s) but there is no cluster id: it belongs to "
				          "cluster mode (--cluster-id)", cfg_table()[cluster_only[i]].name,
				          cfg_source(cluster_only[i]));
				return -1;
			}
		}
		return 0;
	}
	if (!id_valid(cluster_id)) {
		log_error("the cluster id must be 1 to 64 letters, digits, '-' or '_' (the id "
		          "shown when the cluster was created)");
		return -1;
	}
	/* The DaemonSet sets NODE_NAME from spec.nodeName (the downward API). */
	if (!*node_name && getenv("NODE_NAME"))
		node_name = getenv("NODE_NAME");
	if (!*node_name) {
		log_error("cluster=%s no node name: --node-name, KAIDEN_NODE_NAME or NODE_NAME "
		          "(fieldRef spec.nodeName)", cluster_id);
		return -1;
	}
	if (!k8s_node_name_valid(node_name)) {
		log_error("cluster=%s the node name is not a Kubernetes node name (lowercase "
		          "letters, digits, '-' and '.', at most 253)", cluster_id);
		return -1;
	}
	memset(nw, 0, sizeof(*nw));
	if (k8s_source_init(&nw->src, cfg_str(CFG_K8S_API), cfg_str(CFG_K8S_TOKEN_FILE),
	                    cfg_str(CFG_K8S_CA_FILE),
	                    (int)(cfg_int(CFG_AGENT_INSECURE) || cfg_int(CFG_K8S_INSECURE)), err,
	                    sizeof(err)) != 0) {
		log_error("cluster=%s node=%s %s", cluster_id, node_name, err);
		return -1;
	}
	snprintf(nw->node_name, sizeof(nw->node_name), "%s", node_name);
	nw->refresh_s = (int)cfg_int(CFG_AGENT_NODE_REFRESH);
	return 1;
}

static int set(const char *name, const char *value)
{
	char err[256];

	if (cfg_set(name, value, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaiden-agent: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "secret", required_argument, NULL, 'S' },
		{ "secret-file", required_argument, NULL, 'f' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cloudflared", required_argument, NULL, 'C' },
		{ "relay-ports", required_argument, NULL, 'P' },
		{ "config", required_argument, NULL, 'F' },
		{ "cluster-id", required_argument, NULL, 'I' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "k8s-api", required_argument, NULL, 'A' },
		{ "k8s-token-file", required_argument, NULL, 'T' },
		{ "k8s-ca-file", required_argument, NULL, 'R' },
		{ "node-refresh", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	struct cli_setting cli[32];
	int ncli = 0, secret_on_argv = 0, opt, rc = 1, cluster;
	char err[256], secret[SECRET_MAX + 2];
	const char *secret_file, *ca_file, *ca_dir = NULL;
	struct lws_context_creation_info info;
	/* trust_protocol first: lws offers the client SSL_CTX to protocols[0] (trust.h). */
	const struct lws_protocols protocols[] = { trust_protocol, link_protocol,
	                                           wsc_protocol, stream_target_protocol,
	                                           { 0 } };
	struct tunnel_config tcfg;
	struct link_config lcfg;
	struct relay_config rcfg;
	struct node_watch_config nwcfg;
	struct link_handlers handlers = {
		.tunnel_start = tunnel_start,
		.tunnel_stop = stop,
		.sessions = sessions,
		.relay_start = relay_start,
		.relay_open = relay_open,
		.welcomed = welcomed,
	};
	char ports_text[RELAY_PORTS_MAX * 6 + 8];
	struct sigaction sa;
	int lvl, stopping = 0, killed = 0, busy = 0, now_busy;
	time_t stop_started = 0;

	/* One malloc arena: the agent has one thread (the node reader's of issue 12 is gone:
	 * it reads on the loop), and no library's thread should keep an arena of its own. */
	mallopt(M_ARENA_MAX, 1);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's': cli[ncli++] = (struct cli_setting){ "agent.server", optarg }; break;
		case 'd': cli[ncli++] = (struct cli_setting){ "agent.device_id", optarg }; break;
		case 'S':
			cli[ncli++] = (struct cli_setting){ "agent.secret", optarg };
			secret_on_argv = 1;
			break;
		case 'f': cli[ncli++] = (struct cli_setting){ "agent.secret_file", optarg }; break;
		case 'c': cli[ncli++] = (struct cli_setting){ "agent.ca_file", optarg }; break;
		case 'k': cli[ncli++] = (struct cli_setting){ "agent.insecure", "1" }; break;
		case 'C': cli[ncli++] = (struct cli_setting){ "agent.cloudflared", optarg }; break;
		case 'P': cli[ncli++] = (struct cli_setting){ "agent.relay_ports", optarg }; break;
		case 'F': config = optarg; break;
		case 'I': cli[ncli++] = (struct cli_setting){ "agent.cluster_id", optarg }; break;
		case 'N': cli[ncli++] = (struct cli_setting){ "agent.node_name", optarg }; break;
		case 'A': cli[ncli++] = (struct cli_setting){ "k8s.api", optarg }; break;
		case 'T': cli[ncli++] = (struct cli_setting){ "k8s.token_file", optarg }; break;
		case 'R': cli[ncli++] = (struct cli_setting){ "k8s.ca_file", optarg }; break;
		case 'r': cli[ncli++] = (struct cli_setting){ "agent.node_refresh", optarg }; break;
		case 'V': printf("kaiden-agent %s (protocol %d)\n", AGENT_VERSION, PROTO_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (ncli == (int)ARRAY_LEN(cli)) {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kaiden-agent: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (cfg_load(config, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaiden-agent: %s\n", err);
		return 2;
	}
	for (int i = 0; i < ncli; i++)
		if (set(cli[i].name, cli[i].value) != 0)
			return 2;
	lvl = log_level_parse(cfg_str(CFG_LOG_LEVEL));
	log_init("kaiden-agent", lvl < 0 ? LOG_LVL_INFO : (enum log_level)lvl);
	if (secret_on_argv) {
		log_warn("--secret: the command line is visible to every user of this machine "
		         "(ps, /proc); use --secret-file (mode 0600) instead");
		/* Shortens the window in which ps shows it; not a substitute for a file. */
		for (int i = 1; i < argc; i++) {
			if (strncmp(argv[i], "--secret=", 9) == 0)
				explicit_bzero(argv[i] + 9, strlen(argv[i] + 9));
			else if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc)
				explicit_bzero(argv[i + 1], strlen(argv[i + 1]));
		}
	}

	cluster = agent_mode(&nwcfg);
	if (cluster < 0)
		return 2;
	secret_file = cfg_str(CFG_AGENT_SECRET_FILE);
	if (*secret_file && *cfg_str(CFG_AGENT_SECRET)) {
		log_error("both a secret and a secret file are given; keep one (--secret-file)");
		return 2;
	}
	if (*secret_file) {
		int loose;
		if (secret_file_read(secret_file, secret, sizeof(secret), &loose, err,
		                     sizeof(err)) != 0) {
			log_error("secret_file=%s %s", secret_file, err);
			return 2;
		}
		if (loose)
			log_warn("secret_file=%s is readable by group or others; chmod 600 it",
			         secret_file);
	} else if (*cfg_str(CFG_AGENT_SECRET)) {
		if (strlen(cfg_str(CFG_AGENT_SECRET)) > SECRET_MAX) {
			log_error("the secret is longer than %d bytes", SECRET_MAX);
			return 2;
		}
		snprintf(secret, sizeof(secret), "%s", cfg_str(CFG_AGENT_SECRET));
	} else {
		log_error("no secret: --secret-file F (or KAIDEN_SECRET_FILE)");
		return 2;
	}
	{
		struct link_url url;
		if (link_url_parse(cfg_str(CFG_AGENT_SERVER), (int)cfg_int(CFG_AGENT_INSECURE), &url,
		                   err, sizeof(err)) != 0) {
			log_error("%s", err);
			goto out_secret;
		}
	}
	memset(&rcfg, 0, sizeof(rcfg));
	if (relay_ports_parse(cfg_str(CFG_AGENT_RELAY_PORTS), &rcfg.ports, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = 2; /* a setting's mistake, as a missing device id */
		goto out_secret;
	}
	relay_ports_format(&rcfg.ports, ports_text, sizeof(ports_text));
	if (!rcfg.ports.n)
		log_warn("agent.relay_ports is empty: every relay stream will be refused");
	ca_file = cfg_str(CFG_AGENT_CA_FILE);
	if (*ca_file && access(ca_file, R_OK) != 0) {
		log_error("ca_file=%s cannot be read: %s", ca_file, strerror(errno));
		goto out_secret;
	}
	if (!*ca_file) {
		/* The system's CAs: read one by one from the hashed directory when it has one,
		 * else parsed whole from the bundle (trust.h). */
		ca_dir = trust_system_dir();
		ca_file = ca_dir ? NULL : link_system_ca_file();
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	{
		struct rlimit nofile;
		if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > AGENT_LWS_FDS_MAX)
			info.fd_limit_per_thread = AGENT_LWS_FDS_MAX;
	}
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* The trust is ca_file or ca_dir alone (--ca-file, else the system's CAs): without
	 * this lws also loads OpenSSL's default store, the system's bundle again (about 800
	 * KiB of parsed certificates held for ever), and would trust it beside --ca-file. */
	if (ca_file || ca_dir)
		info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.client_ssl_ca_filepath = ca_file;
	trust_use_dir(ca_dir);
	info.gid = -1;
	info.uid = -1;
	/* lws reads the control link and the Kubernetes API's answers into this buffer (the
	 * relay's data sockets read their own: wsc.h). */
	info.pt_serv_buf_size = 32 * 1024;
	context = lws_create_context(&info);
	if (!context) {
		log_error("cannot create the libwebsockets context");
		goto out_secret;
	}
	if (trust_status() != 0) {
		log_error("ca_dir=%s the system's CAs could not be set up; give --ca-file", ca_dir);
		goto out_context;
	}

	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.cloudflared = cfg_str(CFG_AGENT_CLOUDFLARED);
	tcfg.ready_timeout_s = (int)cfg_int(CFG_SESSION_READY_TIMEOUT);
	tcfg.grace_s = 10;
	if (tunnel_init(context, &tcfg, report, NULL) != 0)
		goto out_context;
	/* Not fatal: the agent stays reachable, relay sessions do not use cloudflared, and
	 * each Cloudflare session reports the failure (the agent image has no cloudflared). */
	if (!program_found(tcfg.cloudflared))
		log_warn("cloudflared=%s not found or not executable: Cloudflare sessions will fail "
		         "until it is installed (--cloudflared PATH); relay sessions do not need it",
		         tcfg.cloudflared);
	rcfg.server_url = cfg_str(CFG_AGENT_SERVER);
	rcfg.insecure = (int)cfg_int(CFG_AGENT_INSECURE);
	if (relay_init(context, &rcfg, link_send) != 0)
		goto out_context;
	lcfg.url = cfg_str(CFG_AGENT_SERVER);
	lcfg.device_id = cfg_str(CFG_AGENT_DEVICE_ID);
	lcfg.secret = secret;
	lcfg.insecure = (int)cfg_int(CFG_AGENT_INSECURE);
	lcfg.cluster_id = cluster ? cfg_str(CFG_AGENT_CLUSTER_ID) : NULL;
	lcfg.node_name = cluster ? nwcfg.node_name : NULL;
	if (cluster) {
		nwcfg.read_over = release_soon; /* a read is a TLS handshake: a burst */
		if (node_watch_init(context, &nwcfg, node_report, nwcfg.node_name) != 0)
			goto out_context;
		snprintf(node_name_sent, sizeof(node_name_sent), "%s", nwcfg.node_name);
	}
	if (link_init(context, &lcfg, &handlers) != 0)
		goto out_context;
	/* Only now: creating the lws context puts SIGTERM back to its default action (seen
	 * with Debian's lws 4.1.6), which would kill the agent without stopping cloudflared. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cluster)
		log_info("cluster=%s node=%s starting kaiden-agent %s server=%s k8s_api=%s "
		         "node_refresh=%d cloudflared=%s relay_ports=%s",
		         cfg_str(CFG_AGENT_CLUSTER_ID), nwcfg.node_name, AGENT_VERSION, lcfg.url,
		         nwcfg.src.base_url, nwcfg.refresh_s, tcfg.cloudflared, ports_text);
	else
		log_info("device=%s starting kaiden-agent %s server=%s cloudflared=%s relay_ports=%s",
		         lcfg.device_id, AGENT_VERSION, lcfg.url, tcfg.cloudflared, ports_text);

	for (;;) {
		if (lws_service(context, 0) < 0)
			break;
		/* The last tunnel or relay stream has ended: a burst is over (release_soon). */
		now_busy = tunnel_count() + relay_stream_count();
		if (busy && !now_busy && !signals_seen)
			release_soon();
		busy = now_busy;
		if (signals_seen && !stopping) {
			stopping = 1;
			stop_started = time(NULL);
			node_watch_clear();
			log_info("stopping: %d tunnel(s) and %d relay stream(s) to stop",
			         tunnel_count(), relay_stream_count());
			relay_stop_all();
			tunnel_stop_all();
			wake(&sul_wake);
		}
		if (signals_seen > 1 && !killed) {
			killed = 1;
			log_warn("second signal: killing cloudflared at once");
			tunnel_kill_all();
		}
		if (stopping) {
			/* The stopped reports go out before the link closes. */
			if (tunnel_count() == 0 && relay_stream_count() == 0)
				link_close();
			if (link_done())
				break;
			if (time(NULL) - stop_started > SHUTDOWN_MAX_S) {
				log_warn("stopping took too long; exiting");
				break;
			}
		}
	}
	rc = 0;
out_context:
	node_watch_clear();
	lws_sul_cancel(&sul_wake);
	lws_sul_cancel(&sul_release);
	relay_clear();
	tunnel_clear();
	lws_context_destroy(context);
	context = NULL;
	link_clear();
out_secret:
	explicit_bzero(secret, sizeof(secret));
	if (stopping)
		log_info("stopped");
	return rc;
}
