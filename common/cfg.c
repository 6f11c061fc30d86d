/* cfg.c: the configuration table, and loading it from defaults, a YAML file and the
 * environment. Values are checked when they are set, so cfg_str/cfg_int never fail. */
#include "cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "yamljson.h"

static const struct cfg_entry table[CFG__MAX] = {
	[CFG_SERVER_SOCKET] = { "server.socket", "KAIDEN_SERVER_SOCKET", CFG_T_STRING,
		"/run/kaiden/api.sock", 0, 0, NULL, 0,
		"Unix socket kaiden-api serve listens on for nginx (FastCGI)" },
	[CFG_SERVER_THREADS] = { "server.threads", "KAIDEN_SERVER_THREADS", CFG_T_INT, "4", 1, 256,
		NULL, 0, "worker threads, each with its own database connection" },
	[CFG_SERVER_MAX_BODY] = { "server.max_body", "KAIDEN_SERVER_MAX_BODY", CFG_T_INT, "65536",
		1024, 16777216, NULL, 0, "largest request body accepted, in bytes (413 above)" },
	[CFG_SERVER_MAX_IMPORT] = { "server.max_import", "KAIDEN_SERVER_MAX_IMPORT", CFG_T_INT,
		"67108864", 1024, 1073741824, NULL, 0,
		"largest tenant archive POST /api/v1/tenant/import accepts, in bytes (the other "
		"routes: server.max_body)" },
	[CFG_SERVER_PUBLIC_URL] = { "server.public_url", "KAIDEN_SERVER_PUBLIC_URL", CFG_T_STRING,
		"", 0, 0, NULL, 0,
		"the URL users reach the portal and API at (https://HOST), for links and the "
		"--server of relay sessions' kaiden-connect commands (empty: each request's "
		"scheme and Host)" },
	[CFG_SERVER_MODE] = { "server.mode", "KAIDEN_SERVER_MODE", CFG_T_ENUM, "single", 0, 0,
		"single|multi", 0,
		"single: every row belongs to the fixed default tenant; multi: tenants, named by "
		"subdomain or tenant_code at login" },
	[CFG_DATABASE_DRIVER] = { "database.driver", "KAIDEN_DATABASE_DRIVER", CFG_T_ENUM,
		"sqlite", 0, 0, "sqlite|postgres", 0, "which database to use" },
	[CFG_DATABASE_PATH] = { "database.path", "KAIDEN_DATABASE_PATH", CFG_T_STRING,
		"./kaiden.db", 0, 0, NULL, 0,
		"SQLite database file (driver sqlite); only `kaiden-api migrate` creates it" },
	[CFG_DATABASE_DSN] = { "database.dsn", "KAIDEN_DATABASE_DSN", CFG_T_STRING, "", 0, 0,
		NULL, 1, "libpq connection string or URI (driver postgres); connect as a non-owner "
		"role so row-level security holds" },
	[CFG_DATABASE_OWNER_DSN] = { "database.owner_dsn", "KAIDEN_DATABASE_OWNER_DSN",
		CFG_T_STRING, "", 0, 0, NULL, 1,
		"libpq connection string of the schema owner, for migrations (empty: database.dsn)" },
	[CFG_DATABASE_POOLER] = { "database.pooler", "KAIDEN_DATABASE_POOLER", CFG_T_ENUM, "none",
		0, 0, "none|transaction", 0,
		"transaction: kaiden-api's database.dsn goes through a pooler in transaction mode "
		"(PgBouncer pool_mode = transaction): no prepared statements, no LISTEN (each "
		"request checks its credential); admin commands and helperd need a direct DSN" },
	[CFG_SERVER_BASE_DOMAIN] = { "server.base_domain", "KAIDEN_SERVER_BASE_DOMAIN",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"multi mode: requests to <code>.<base_domain> act for tenant <code> (empty: "
		"tenant_code at login only)" },
	[CFG_AUTH_JWT_SECRET] = { "auth.jwt_secret", "KAIDEN_AUTH_JWT_SECRET", CFG_T_STRING, "", 0,
		0, NULL, 1, "HS256 key that signs login tokens, at least 32 characters (empty: "
		"logins are refused)" },
	[CFG_AUTH_TOKEN_TTL] = { "auth.token_ttl", "KAIDEN_AUTH_TOKEN_TTL", CFG_T_INT, "43200", 60,
		2592000, NULL, 0, "seconds a login token stays valid" },
	[CFG_AUTH_MAX_FAILURES] = { "auth.max_failures", "KAIDEN_AUTH_MAX_FAILURES", CFG_T_INT,
		"5", 1, 1000, NULL, 0,
		"passwords checked for one account (its email, any tenant) within "
		"auth.failure_window before 429" },
	[CFG_AUTH_MAX_ADDR_FAILURES] = { "auth.max_address_failures",
		"KAIDEN_AUTH_MAX_ADDRESS_FAILURES", CFG_T_INT, "20", 1, 100000, NULL, 0,
		"login attempts from one address (refused ones too; a right password is given "
		"back) within auth.failure_window before 429" },
	[CFG_AUTH_FAILURE_WINDOW] = { "auth.failure_window", "KAIDEN_AUTH_FAILURE_WINDOW",
		CFG_T_INT, "900", 1, 86400, NULL, 0,
		"seconds a throttle window lasts, from its first counted attempt" },
	[CFG_CF_DOMAIN] = { "cloudflare.domain", "KAIDEN_CF_DOMAIN", CFG_T_STRING,
		CFG_CF_DOMAIN_EXAMPLE, 0, 0, NULL, 0,
		"sessions are published as sess-<id>.<domain> and sess-<id>-ssh.<domain>" },
	[CFG_SESSION_SSH_PORT] = { "session.ssh_port", "KAIDEN_SESSION_SSH_PORT", CFG_T_INT, "22",
		1, 65535, NULL, 0, "SSH port on the customer machine a session exposes" },
	[CFG_SESSION_WEB_PORT] = { "session.web_port", "KAIDEN_SESSION_WEB_PORT", CFG_T_INT,
		"8080", 1, 65535, NULL, 0, "web desktop port on the customer machine" },
	[CFG_LOG_LEVEL] = { "log.level", "KAIDEN_LOG_LEVEL", CFG_T_ENUM, "info", 0, 0,
		"debug|info|warn|error", 0, "lowest level logged" },

	[CFG_HELPERD_LISTEN] = { "helperd.listen", "KAIDEN_HELPERD_LISTEN", CFG_T_STRING,
		"127.0.0.1:8081", 0, 0, NULL, 0,
		"host:port helperd serves the agent WebSocket on (nginx proxies /api/v1/ws/ to it)" },
	[CFG_HELPERD_METRICS] = { "helperd.metrics", "KAIDEN_HELPERD_METRICS", CFG_T_STRING,
		"127.0.0.1:9091", 0, 0, NULL, 0, "host:port of helperd's Prometheus /metrics" },
	[CFG_HELPERD_INSTANCE] = { "helperd.instance", "KAIDEN_HELPERD_INSTANCE", CFG_T_STRING, "",
		0, 0, NULL, 0,
		"this helperd's name in job leases (empty: the host name; two helperds on one "
		"host need different names)" },
	[CFG_HELPERD_HEARTBEAT] = { "helperd.heartbeat", "KAIDEN_HELPERD_HEARTBEAT", CFG_T_INT,
		"20", 1, 3600, NULL, 0, "seconds between agent heartbeats (told to agents)" },
	[CFG_HELPERD_AGENT_TIMEOUT] = { "helperd.agent_timeout", "KAIDEN_HELPERD_AGENT_TIMEOUT",
		CFG_T_INT, "60", 2, 86400, NULL, 0,
		"seconds without a heartbeat after which an agent is offline" },
	[CFG_HELPERD_POLL_MS] = { "helperd.poll_ms", "KAIDEN_HELPERD_POLL_MS", CFG_T_INT, "250",
		10, 60000, NULL, 0, "how often helperd looks for new jobs on SQLite (no NOTIFY)" },
	[CFG_HELPERD_SWEEP] = { "helperd.sweep", "KAIDEN_HELPERD_SWEEP", CFG_T_INT, "300", 1,
		86400, NULL, 0, "seconds between sweeps for orphaned tunnels and expired sessions (one helperd sweeps per period)" },
	[CFG_HELPERD_PEER_ADDRESS] = { "helperd.peer_address", "KAIDEN_HELPERD_PEER_ADDRESS",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"host:port or socket path where the other helperds reach this one's listener, to "
		"join relay streams to it (empty: helperd.listen when it names one host or a socket)" },
	[CFG_SESSION_MAX_DURATION] = { "session.max_duration", "KAIDEN_SESSION_MAX_DURATION",
		CFG_T_INT, "28800", 60, 31536000, NULL, 0, "a session is ended after this many seconds" },
	[CFG_SESSION_OFFLINE_GRACE] = { "session.offline_grace", "KAIDEN_SESSION_OFFLINE_GRACE",
		CFG_T_INT, "900", 1, 31536000, NULL, 0,
		"a session is ended when its device has been offline this long (seconds)" },
	[CFG_SESSION_READY_TIMEOUT] = { "session.ready_timeout", "KAIDEN_SESSION_READY_TIMEOUT",
		CFG_T_INT, "60", 1, 3600, NULL, 0,
		"seconds the agent has to report its tunnel ready before the session fails" },
	[CFG_CF_API_BASE] = { "cloudflare.api_base", "KAIDEN_CF_API_BASE", CFG_T_STRING,
		"https://api.cloudflare.com/client/v4", 0, 0, NULL, 0, "Cloudflare API base URL" },
	[CFG_CF_ACCOUNT_ID] = { "cloudflare.account_id", "KAIDEN_CF_ACCOUNT_ID", CFG_T_STRING, "",
		0, 0, NULL, 0, "Cloudflare account id (tunnels, Access)" },
	[CFG_CF_ZONE_ID] = { "cloudflare.zone_id", "KAIDEN_CF_ZONE_ID", CFG_T_STRING, "", 0, 0,
		NULL, 0, "Cloudflare zone id of cloudflare.domain (DNS)" },
	[CFG_CF_ACCESS_TEAM] = { "cloudflare.access_team", "KAIDEN_CF_ACCESS_TEAM", CFG_T_STRING,
		"", 0, 0, NULL, 0, "Cloudflare Access team name (<team>.cloudflareaccess.com)" },
	[CFG_CF_API_TOKEN] = { "cloudflare.api_token", "KAIDEN_CF_API_TOKEN", CFG_T_STRING, "", 0,
		0, NULL, 1, "Cloudflare API token (Tunnel, DNS and Access edit rights)" },
	[CFG_CF_BUDGET] = { "cloudflare.budget", "KAIDEN_CF_BUDGET", CFG_T_INT, "1000", 2, 1200,
		NULL, 0, "Cloudflare API calls in any 5 minutes, shared by every helperd on the "
		"database (limit: 1200); bursts of a quarter of it, the rest spread over the 5 "
		"minutes, so at least 2" },
	[CFG_CF_BUDGET_WINDOW_MS] = { "cloudflare.budget_window_ms", "KAIDEN_CF_BUDGET_WINDOW_MS",
		CFG_T_INT, "300000", 1000, 300000, NULL, 0,
		"tests only: the span cloudflare.budget counts in, in milliseconds (Cloudflare's "
		"is 5 minutes: leave it)" },
	[CFG_CF_ACCESS_ALLOW] = { "cloudflare.access_allow", "KAIDEN_CF_ACCESS_ALLOW",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"who Access lets into session hostnames besides the engineer who started the "
		"session: comma-separated emails and @domains" },

	[CFG_AGENT_SERVER] = { "agent.server", "KAIDEN_SERVER", CFG_T_STRING, "", 0, 0, NULL, 0,
		"kaiden-agent: wss://HOST/api/v1/ws/agent" },
	[CFG_AGENT_DEVICE_ID] = { "agent.device_id", "KAIDEN_DEVICE_ID", CFG_T_STRING, "", 0, 0,
		NULL, 0, "kaiden-agent: this machine's device id" },
	[CFG_AGENT_SECRET] = { "agent.secret", "KAIDEN_SECRET", CFG_T_STRING, "", 0, 0, NULL, 1,
		"kaiden-agent: the device secret (prefer agent.secret_file)" },
	[CFG_AGENT_SECRET_FILE] = { "agent.secret_file", "KAIDEN_SECRET_FILE", CFG_T_STRING, "", 0,
		0, NULL, 0, "kaiden-agent: file holding the device secret" },
	[CFG_AGENT_CA_FILE] = { "agent.ca_file", "KAIDEN_CA_FILE", CFG_T_STRING, "", 0, 0, NULL, 0,
		"kaiden-agent: CA bundle to verify the server (default: the system's)" },
	[CFG_AGENT_INSECURE] = { "agent.insecure", "KAIDEN_INSECURE", CFG_T_INT, "0", 0, 1, NULL, 0,
		"kaiden-agent: 1 allows a ws:// server URL, and an http:// k8s.api (local use and "
		"tests only)" },
	[CFG_AGENT_CLOUDFLARED] = { "agent.cloudflared", "KAIDEN_CLOUDFLARED", CFG_T_STRING,
		"cloudflared", 0, 0, NULL, 0, "kaiden-agent: the cloudflared program to run" },

	[CFG_TUNNEL_PROVIDER] = { "tunnel.provider", "KAIDEN_TUNNEL_PROVIDER", CFG_T_ENUM, "auto",
		0, 0, "cloudflare|relay|auto", 0,
		"how sessions reach a machine: cloudflare, relay (through helperd), or auto "
		"(cloudflare when its settings are complete, else relay)" },
	[CFG_RELAY_IDLE_TIMEOUT] = { "relay.idle_timeout", "KAIDEN_RELAY_IDLE_TIMEOUT", CFG_T_INT,
		"1800", 5, 86400, NULL, 0,
		"seconds a relay stream may carry no bytes either way before it is closed" },
	[CFG_RELAY_SESSION_STREAMS] = { "relay.session_streams", "KAIDEN_RELAY_SESSION_STREAMS",
		CFG_T_INT, "16", 1, 1024, NULL, 0, "relay streams one session may have open at once" },
	[CFG_RELAY_MAX_STREAMS] = { "relay.max_streams", "KAIDEN_RELAY_MAX_STREAMS", CFG_T_INT,
		"1000", 1, 100000, NULL, 0, "relay streams one helperd carries at once" },
	[CFG_AGENT_RELAY_PORTS] = { "agent.relay_ports", "KAIDEN_RELAY_PORTS", CFG_T_STRING,
		"22,8080", 0, 0, NULL, 0,
		"kaiden-agent: the loopback ports relay streams may reach (comma-separated); "
		"any other port is refused whatever helperd asks" },
	[CFG_AGENT_CLUSTER_ID] = { "agent.cluster_id", "KAIDEN_CLUSTER_ID", CFG_T_STRING, "", 0, 0,
		NULL, 0,
		"kaiden-agent in cluster mode (a DaemonSet): the cluster's id, instead of "
		"agent.device_id; the secret is then the cluster secret" },
	[CFG_AGENT_NODE_NAME] = { "agent.node_name", "KAIDEN_NODE_NAME", CFG_T_STRING, "", 0, 0,
		NULL, 0,
		"kaiden-agent in cluster mode: this node's name (empty: $NODE_NAME, which the "
		"DaemonSet sets from spec.nodeName)" },
	[CFG_AGENT_NODE_REFRESH] = { "agent.node_refresh", "KAIDEN_NODE_REFRESH", CFG_T_INT, "60",
		1, 86400, NULL, 0,
		"kaiden-agent in cluster mode: seconds between two reads of its node from the "
		"Kubernetes API (labels, Ready, unschedulable, resources)" },
	[CFG_K8S_API] = { "k8s.api", "KAIDEN_K8S_API", CFG_T_STRING, "", 0, 0, NULL, 0,
		"the Kubernetes API's URL, for kaiden-agent in cluster mode and for helperd's cloud "
		"services (empty: in-cluster, https://$KUBERNETES_SERVICE_HOST:"
		"$KUBERNETES_SERVICE_PORT; http:// only with k8s.insecure, or agent.insecure for "
		"the agent)" },
	[CFG_K8S_TOKEN_FILE] = { "k8s.token_file", "KAIDEN_K8S_TOKEN_FILE", CFG_T_STRING, "", 0,
		0, NULL, 0,
		"the Kubernetes API's bearer token file, read again for every request (empty: the "
		"service account's, /var/run/secrets/kubernetes.io/serviceaccount/token)" },
	[CFG_K8S_CA_FILE] = { "k8s.ca_file", "KAIDEN_K8S_CA_FILE", CFG_T_STRING, "", 0, 0, NULL,
		0,
		"the CA bundle that verifies the Kubernetes API (empty: the service account's "
		"ca.crt, else the system's)" },
	[CFG_WEBHOOKS_ALLOW_LOOPBACK] = { "webhooks.allow_loopback", "KAIDEN_WEBHOOKS_ALLOW_LOOPBACK",
		CFG_T_INT, "0", 0, 1, NULL, 0,
		"1: webhooks may target http:// and loopback addresses (tests only; private, "
		"link-local and other non-public targets stay refused)" },
	[CFG_WEBHOOKS_TIMEOUT] = { "webhooks.timeout", "KAIDEN_WEBHOOKS_TIMEOUT", CFG_T_INT, "10",
		1, 60, NULL, 0, "seconds one webhook delivery attempt may take, connect included" },
	[CFG_WEBHOOKS_RETRY_BASE] = { "webhooks.retry_base", "KAIDEN_WEBHOOKS_RETRY_BASE",
		CFG_T_INT, "10", 1, 3600, NULL, 0,
		"seconds before a failed webhook delivery's first retry; each next one waits twice "
		"as long, up to webhooks.retry_max" },
	[CFG_WEBHOOKS_RETRY_MAX] = { "webhooks.retry_max", "KAIDEN_WEBHOOKS_RETRY_MAX", CFG_T_INT,
		"3600", 1, 86400, NULL, 0, "the longest wait between two attempts of a delivery" },
	[CFG_WEBHOOKS_GIVE_UP] = { "webhooks.give_up", "KAIDEN_WEBHOOKS_GIVE_UP", CFG_T_INT,
		"86400", 1, 604800, NULL, 0,
		"seconds a webhook may keep failing (its oldest undelivered event) before it is "
		"disabled, with an audit entry" },
	[CFG_WEBHOOKS_KEEP_DAYS] = { "webhooks.keep_days", "KAIDEN_WEBHOOKS_KEEP_DAYS", CFG_T_INT,
		"30", 1, 3650, NULL, 0,
		"days a delivered or failed webhook delivery stays in the delivery log (helperd's "
		"sweep deletes older ones, and events no delivery refers to); pending ones stay "
		"until they are delivered" },

	[CFG_K8S_INSECURE] = { "k8s.insecure", "KAIDEN_K8S_INSECURE", CFG_T_INT, "0", 0, 1, NULL,
		0,
		"1 allows an http:// k8s.api (helperd talks to it and hands it to helm with TLS "
		"checks off; local use and tests only)" },
	[CFG_K8S_SERVICE_ACCOUNT] = { "k8s.service_account", "KAIDEN_K8S_SERVICE_ACCOUNT",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"helperd's own ServiceAccount as NAMESPACE/NAME (deploy/k8s: "
		"kaiden-system/kaiden-helperd): in each tenant namespace it makes, helperd binds "
		"the ClusterRole kaiden-helperd-tenant to it (a RoleBinding kaiden-helperd) "
		"before the quota and helm (empty: no RoleBinding, for an account that has those "
		"rights another way)" },
	[CFG_SERVICES_HELM] = { "services.helm", "KAIDEN_SERVICES_HELM", CFG_T_STRING, "helm", 0,
		0, NULL, 0,
		"the helm (version 3) program helperd runs for cloud services: a path, or a name "
		"looked up in PATH" },
	[CFG_SERVICES_HELM_HOME] = { "services.helm_home", "KAIDEN_SERVICES_HELM_HOME",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"helperd's private directory (made 0700) for helm's HOME, cache, config and data "
		"(empty: $TMPDIR/kaiden-helm-<uid>-<helperd.instance>)" },
	[CFG_SERVICES_HELM_TIMEOUT] = { "services.helm_timeout", "KAIDEN_SERVICES_HELM_TIMEOUT",
		CFG_T_INT, "600", 10, 86400, NULL, 0,
		"seconds one helm command may take (its --timeout; helperd kills it a little "
		"later)" },
	[CFG_SERVICES_DOMAIN] = { "services.domain", "KAIDEN_SERVICES_DOMAIN", CFG_T_STRING, "", 0,
		0, NULL, 0,
		"the platform domain cloud services are reached under: "
		"https://<subdomain>.<domain> (empty: POST /services answers 503)" },
	[CFG_SERVICES_KEY_FILE] = { "services.key_file", "KAIDEN_SERVICES_KEY_FILE", CFG_T_STRING,
		"", 0, 0, NULL, 0,
		"file with the 32-byte key (raw, or 64 hex characters; mode 0600) that seals "
		"services' secret values; kaiden-api and helperd need the same (empty: POST "
		"/services answers 503)" },
	[CFG_SERVICES_DNS_SERVER] = { "services.dns_server", "KAIDEN_SERVICES_DNS_SERVER",
		CFG_T_STRING, "", 0, 0, NULL, 0,
		"HOST:PORT (an IPv4 address) of the DNS server a custom domain's CNAME is looked up "
		"at (empty: the system's resolvers; tests name a fake)" },
	[CFG_SERVICES_DEPLOY_TIMEOUT] = { "services.deploy_timeout",
		"KAIDEN_SERVICES_DEPLOY_TIMEOUT", CFG_T_INT, "600", 30, 86400, NULL, 0,
		"seconds helperd waits for a service's pods to be ready before it is failed" },
	[CFG_SERVICES_QUOTA_GRACE] = { "services.quota_grace", "KAIDEN_SERVICES_QUOTA_GRACE",
		CFG_T_INT, "60", 5, 86400, NULL, 0,
		"seconds the namespace's quota may go on refusing a deploying service's pods before "
		"the deploy fails (its words are in the service's error at once)" },
};

static char *values[CFG__MAX];
static long ints[CFG__MAX];
static const char *sources[CFG__MAX];

static int choice_ok(const char *choices, const char *v)
{
	size_t len = strlen(v);
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && strncmp(p, v, n) == 0)
			return 1;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

static int entry_set(enum cfg_key key, const char *value, const char *source, char *err,
                     size_t errlen)
{
	const struct cfg_entry *e = &table[key];
	char *copy;
	long n = 0;

	switch (e->type) {
	case CFG_T_INT: {
		char *end;
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < e->min || n > e->max) {
			snprintf(err, errlen, "%s (from %s): \"%s\" is not a whole number from %ld to %ld",
			         e->name, source, e->secret ? "***" : value, e->min, e->max);
			return -1;
		}
		break;
	}
	case CFG_T_ENUM:
		if (!choice_ok(e->choices, value)) {
			snprintf(err, errlen, "%s (from %s): \"%s\" is not one of %s", e->name, source,
			         value, e->choices);
			return -1;
		}
		break;
	case CFG_T_STRING:
		break;
	}
	copy = strdup(value);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", e->name);
		return -1;
	}
	free(values[key]);
	values[key] = copy;
	ints[key] = n;
	sources[key] = source;
	return 0;
}

static int key_by_name(const char *name)
{
	for (int i = 0; i < CFG__MAX; i++)
		if (strcmp(table[i].name, name) == 0)
			return i;
	return -1;
}

/* ${VAR} in a file value takes VAR from the environment (unset: empty), as the seed's
 * config shows for secrets such as ${CF_API_TOKEN}. */
static char *expand_env(const char *in)
{
	size_t cap = strlen(in) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (const char *p = in; *p;) {
		const char *add = p;
		size_t n = 1;
		char name[128];
		if (p[0] == '$' && p[1] == '{') {
			const char *close = strchr(p + 2, '}');
			if (close && (size_t)(close - p - 2) < sizeof(name)) {
				memcpy(name, p + 2, (size_t)(close - p - 2));
				name[close - p - 2] = '\0';
				add = getenv(name);
				if (!add)
					add = "";
				n = strlen(add);
				p = close + 1;
				goto append;
			}
		}
		p++;
append:
		if (len + n + 1 > cap) {
			char *grown;
			cap = (len + n + 1) * 2;
			grown = realloc(out, cap);
			if (!grown) {
				free(out);
				return NULL;
			}
			out = grown;
		}
		memcpy(out + len, add, n);
		len += n;
	}
	out[len] = '\0';
	return out;
}

static int load_file(const char *path, char *err, size_t errlen)
{
	json_object *root = NULL;
	char inner[256];
	int rc = -1;

	if (yamljson_read_file(path, &root, inner, sizeof(inner)) < 0) {
		snprintf(err, errlen, "config file %s", inner);
		return -1;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "config file %s: must be a mapping of sections", path);
		goto out;
	}
	json_object_object_foreach(root, section, settings) {
		if (!json_object_is_type(settings, json_type_object)) {
			snprintf(err, errlen, "config file %s: %s: must be a mapping of settings", path,
			         section);
			goto out;
		}
		json_object_object_foreach(settings, key, val) {
			char name[128], *expanded;
			int k, set_rc;
			snprintf(name, sizeof(name), "%s.%s", section, key);
			k = key_by_name(name);
			if (k < 0) {
				snprintf(err, errlen, "config file %s: %s: unknown setting", path, name);
				goto out;
			}
			if (!json_object_is_type(val, json_type_string)) {
				snprintf(err, errlen, "config file %s: %s: must be a single value", path, name);
				goto out;
			}
			expanded = expand_env(json_object_get_string(val));
			if (!expanded) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			set_rc = entry_set((enum cfg_key)k, expanded, "file", err, errlen);
			free(expanded);
			if (set_rc < 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

int cfg_load(const char *path, char *err, size_t errlen)
{
	for (int i = 0; i < CFG__MAX; i++)
		if (entry_set((enum cfg_key)i, table[i].def, "default", err, errlen) < 0)
			return -1;
	if (path && load_file(path, err, errlen) < 0)
		return -1;
	for (int i = 0; i < CFG__MAX; i++) {
		const char *v = getenv(table[i].env);
		if (v && entry_set((enum cfg_key)i, v, "environment", err, errlen) < 0)
			return -1;
	}
	return 0;
}

int cfg_set(const char *name, const char *value, char *err, size_t errlen)
{
	int k = key_by_name(name);

	if (k < 0) {
		snprintf(err, errlen, "%s: unknown setting", name);
		return -1;
	}
	if (!values[0]) {
		/* First use without cfg_load: start from the defaults. */
		for (int i = 0; i < CFG__MAX; i++)
			if (entry_set((enum cfg_key)i, table[i].def, "default", err, errlen) < 0)
				return -1;
	}
	return entry_set((enum cfg_key)k, value, "command line", err, errlen);
}

static void ensure_loaded(void)
{
	char err[256];

	if (!values[0] && cfg_load(NULL, err, sizeof(err)) < 0)
		abort(); /* the defaults themselves are wrong: a bug */
}

const char *cfg_str(enum cfg_key key)
{
	ensure_loaded();
	return values[key];
}

long cfg_int(enum cfg_key key)
{
	ensure_loaded();
	return ints[key];
}

const char *cfg_source(enum cfg_key key)
{
	ensure_loaded();
	return sources[key];
}

const struct cfg_entry *cfg_table(void)
{
	return table;
}

void cfg_dump(FILE *out)
{
	ensure_loaded();
	for (int i = 0; i < CFG__MAX; i++) {
		const char *v = values[i];
		if (table[i].secret && *v)
			v = "(set, not shown)";
		fprintf(out, "%-20s %-26s %-12s %s\n", table[i].name, table[i].env, sources[i], v);
	}
}
