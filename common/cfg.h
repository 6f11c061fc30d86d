/* cfg.h: the one configuration table (redis's idea). Every setting has a dotted name
 * used in the YAML file (`database.driver` is `driver:` under `database:`), an
 * environment variable that overrides the file, a type, bounds and a default.
 * Values in the file may use ${VAR} to take a value from the environment.
 *
 * Order of precedence: default < file < environment < cfg_set(). The table is
 * process-wide and read-only once the program has started its threads. */
#ifndef KAIDEN_CFG_H
#define KAIDEN_CFG_H

#include <stdio.h>
#include "compat.h"

enum cfg_key {
	CFG_SERVER_SOCKET,        /* server.socket        KAIDEN_SERVER_SOCKET */
	CFG_SERVER_THREADS,       /* server.threads       KAIDEN_SERVER_THREADS */
	CFG_SERVER_MAX_BODY,      /* server.max_body      KAIDEN_SERVER_MAX_BODY (bytes) */
	CFG_SERVER_MAX_IMPORT,    /* server.max_import    KAIDEN_SERVER_MAX_IMPORT (bytes: tenant import) */
	CFG_SERVER_PUBLIC_URL,    /* server.public_url    KAIDEN_SERVER_PUBLIC_URL */
	CFG_SERVER_MODE,          /* server.mode          KAIDEN_SERVER_MODE single|multi */
	CFG_DATABASE_DRIVER,      /* database.driver      KAIDEN_DATABASE_DRIVER sqlite|postgres */
	CFG_DATABASE_PATH,        /* database.path        KAIDEN_DATABASE_PATH (sqlite file) */
	CFG_DATABASE_DSN,         /* database.dsn         KAIDEN_DATABASE_DSN (libpq conninfo) */
	CFG_DATABASE_OWNER_DSN,   /* database.owner_dsn   KAIDEN_DATABASE_OWNER_DSN (migrations) */
	CFG_DATABASE_POOLER,      /* database.pooler      KAIDEN_DATABASE_POOLER none|transaction (PgBouncer) */
	CFG_SERVER_BASE_DOMAIN,   /* server.base_domain   KAIDEN_SERVER_BASE_DOMAIN (multi: <code>.<base>) */
	CFG_AUTH_JWT_SECRET,      /* auth.jwt_secret      KAIDEN_AUTH_JWT_SECRET (secret, >= 32 chars) */
	CFG_AUTH_TOKEN_TTL,       /* auth.token_ttl       KAIDEN_AUTH_TOKEN_TTL seconds a login lasts */
	CFG_AUTH_MAX_FAILURES,    /* auth.max_failures    KAIDEN_AUTH_MAX_FAILURES per account per window */
	CFG_AUTH_MAX_ADDR_FAILURES,/* auth.max_address_failures KAIDEN_AUTH_MAX_ADDRESS_FAILURES */
	CFG_AUTH_FAILURE_WINDOW,  /* auth.failure_window  KAIDEN_AUTH_FAILURE_WINDOW seconds */
	CFG_CF_DOMAIN,            /* cloudflare.domain    KAIDEN_CF_DOMAIN */
	CFG_SESSION_SSH_PORT,     /* session.ssh_port     KAIDEN_SESSION_SSH_PORT */
	CFG_SESSION_WEB_PORT,     /* session.web_port     KAIDEN_SESSION_WEB_PORT */
	CFG_LOG_LEVEL,            /* log.level            KAIDEN_LOG_LEVEL */

	/* kaiden-helperd */
	CFG_HELPERD_LISTEN,       /* helperd.listen       KAIDEN_HELPERD_LISTEN host:port (agent WebSocket) */
	CFG_HELPERD_METRICS,      /* helperd.metrics      KAIDEN_HELPERD_METRICS host:port (/metrics) */
	CFG_HELPERD_INSTANCE,     /* helperd.instance     KAIDEN_HELPERD_INSTANCE (name; default: host name) */
	CFG_HELPERD_HEARTBEAT,    /* helperd.heartbeat    KAIDEN_HELPERD_HEARTBEAT seconds between agent heartbeats */
	CFG_HELPERD_AGENT_TIMEOUT,/* helperd.agent_timeout KAIDEN_HELPERD_AGENT_TIMEOUT seconds of silence = offline */
	CFG_HELPERD_POLL_MS,      /* helperd.poll_ms      KAIDEN_HELPERD_POLL_MS SQLite job poll interval */
	CFG_HELPERD_SWEEP,        /* helperd.sweep        KAIDEN_HELPERD_SWEEP seconds between sweeps */
	CFG_HELPERD_PEER_ADDRESS, /* helperd.peer_address KAIDEN_HELPERD_PEER_ADDRESS where other helperds reach this one */
	CFG_SESSION_MAX_DURATION, /* session.max_duration KAIDEN_SESSION_MAX_DURATION seconds */
	CFG_SESSION_OFFLINE_GRACE,/* session.offline_grace KAIDEN_SESSION_OFFLINE_GRACE seconds */
	CFG_SESSION_READY_TIMEOUT,/* session.ready_timeout KAIDEN_SESSION_READY_TIMEOUT seconds */
	CFG_CF_API_BASE,          /* cloudflare.api_base  KAIDEN_CF_API_BASE */
	CFG_CF_ACCOUNT_ID,        /* cloudflare.account_id KAIDEN_CF_ACCOUNT_ID */
	CFG_CF_ZONE_ID,           /* cloudflare.zone_id   KAIDEN_CF_ZONE_ID */
	CFG_CF_ACCESS_TEAM,       /* cloudflare.access_team KAIDEN_CF_ACCESS_TEAM */
	CFG_CF_API_TOKEN,         /* cloudflare.api_token KAIDEN_CF_API_TOKEN (secret) */
	CFG_CF_BUDGET,            /* cloudflare.budget    KAIDEN_CF_BUDGET calls per 5 minutes */
	CFG_CF_BUDGET_WINDOW_MS,  /* cloudflare.budget_window_ms KAIDEN_CF_BUDGET_WINDOW_MS (tests) */
	CFG_CF_ACCESS_ALLOW,      /* cloudflare.access_allow KAIDEN_CF_ACCESS_ALLOW emails / @domains */

	/* kaiden-agent */
	CFG_AGENT_SERVER,         /* agent.server         KAIDEN_SERVER wss://host/api/v1/ws/agent */
	CFG_AGENT_DEVICE_ID,      /* agent.device_id      KAIDEN_DEVICE_ID */
	CFG_AGENT_SECRET,         /* agent.secret         KAIDEN_SECRET (secret) */
	CFG_AGENT_SECRET_FILE,    /* agent.secret_file    KAIDEN_SECRET_FILE */
	CFG_AGENT_CA_FILE,        /* agent.ca_file        KAIDEN_CA_FILE */
	CFG_AGENT_INSECURE,       /* agent.insecure       KAIDEN_INSECURE 0|1: allow ws:// */
	CFG_AGENT_CLOUDFLARED,    /* agent.cloudflared    KAIDEN_CLOUDFLARED path */
	CFG_TUNNEL_PROVIDER,      /* tunnel.provider      KAIDEN_TUNNEL_PROVIDER cloudflare|relay|auto */
	CFG_RELAY_IDLE_TIMEOUT,   /* relay.idle_timeout   KAIDEN_RELAY_IDLE_TIMEOUT seconds */
	CFG_RELAY_SESSION_STREAMS,/* relay.session_streams KAIDEN_RELAY_SESSION_STREAMS per session */
	CFG_RELAY_MAX_STREAMS,    /* relay.max_streams    KAIDEN_RELAY_MAX_STREAMS per helperd */
	CFG_AGENT_RELAY_PORTS,    /* agent.relay_ports    KAIDEN_RELAY_PORTS loopback ports the agent relays to */
	CFG_AGENT_CLUSTER_ID,     /* agent.cluster_id     KAIDEN_CLUSTER_ID (cluster mode: a DaemonSet's agent) */
	CFG_AGENT_NODE_NAME,      /* agent.node_name      KAIDEN_NODE_NAME (else $NODE_NAME, the downward API's) */
	CFG_AGENT_NODE_REFRESH,   /* agent.node_refresh   KAIDEN_NODE_REFRESH seconds between reads of the node */
	CFG_K8S_API,              /* k8s.api              KAIDEN_K8S_API (empty: in-cluster; agent and helperd) */
	CFG_K8S_TOKEN_FILE,       /* k8s.token_file       KAIDEN_K8S_TOKEN_FILE */
	CFG_K8S_CA_FILE,          /* k8s.ca_file          KAIDEN_K8S_CA_FILE */
	CFG_WEBHOOKS_ALLOW_LOOPBACK, /* webhooks.allow_loopback KAIDEN_WEBHOOKS_ALLOW_LOOPBACK 0|1 (tests) */
	CFG_WEBHOOKS_TIMEOUT,     /* webhooks.timeout     KAIDEN_WEBHOOKS_TIMEOUT seconds per attempt */
	CFG_WEBHOOKS_RETRY_BASE,  /* webhooks.retry_base  KAIDEN_WEBHOOKS_RETRY_BASE first retry delay, seconds */
	CFG_WEBHOOKS_RETRY_MAX,   /* webhooks.retry_max   KAIDEN_WEBHOOKS_RETRY_MAX longest retry delay, seconds */
	CFG_WEBHOOKS_GIVE_UP,     /* webhooks.give_up     KAIDEN_WEBHOOKS_GIVE_UP seconds of failure before disabling */
	CFG_WEBHOOKS_KEEP_DAYS,   /* webhooks.keep_days   KAIDEN_WEBHOOKS_KEEP_DAYS days a finished delivery stays in the log */

	/* Cloud services (issue 13): helperd runs helm and calls the Kubernetes API */
	CFG_K8S_INSECURE,         /* k8s.insecure         KAIDEN_K8S_INSECURE 0|1: allow an http:// k8s.api */
	CFG_K8S_SERVICE_ACCOUNT,  /* k8s.service_account  KAIDEN_K8S_SERVICE_ACCOUNT helperd's NAMESPACE/NAME */
	CFG_SERVICES_HELM,        /* services.helm        KAIDEN_SERVICES_HELM the helm program */
	CFG_SERVICES_HELM_HOME,   /* services.helm_home   KAIDEN_SERVICES_HELM_HOME helm's private directory */
	CFG_SERVICES_HELM_TIMEOUT,/* services.helm_timeout KAIDEN_SERVICES_HELM_TIMEOUT seconds per helm command */
	CFG_SERVICES_DOMAIN,      /* services.domain      KAIDEN_SERVICES_DOMAIN services' <subdomain>.<domain> */
	CFG_SERVICES_KEY_FILE,    /* services.key_file    KAIDEN_SERVICES_KEY_FILE secret values' sealing key */
	CFG_SERVICES_DNS_SERVER,  /* services.dns_server  KAIDEN_SERVICES_DNS_SERVER resolver for domain checks */
	CFG_SERVICES_DEPLOY_TIMEOUT, /* services.deploy_timeout KAIDEN_SERVICES_DEPLOY_TIMEOUT seconds to ready */
	CFG_SERVICES_QUOTA_GRACE, /* services.quota_grace KAIDEN_SERVICES_QUOTA_GRACE seconds a quota refusal may last */
	CFG__MAX
};

/* cloudflare.domain's default: an example, which helperd treats as not set. */
#define CFG_CF_DOMAIN_EXAMPLE "support.example.com"

enum cfg_type { CFG_T_STRING, CFG_T_INT, CFG_T_ENUM };

struct cfg_entry {
	const char *name;    /* dotted name in the file */
	const char *env;     /* environment override */
	enum cfg_type type;
	const char *def;     /* default, as text */
	long min, max;       /* CFG_T_INT bounds */
	const char *choices; /* CFG_T_ENUM: "a|b|c" */
	int secret;          /* never printed */
	const char *help;    /* one line for the README and `kaiden-api config` */
};

/* Resets to defaults, reads the YAML file at path (NULL: none), then the environment.
 * 0, or -1 with a message naming the setting, the source and what is wrong. */
int cfg_load(const char *path, char *err, size_t errlen) WUR;
/* Sets one value by dotted name, checked like any other source. */
int cfg_set(const char *name, const char *value, char *err, size_t errlen) WUR;
/* Borrowed; valid until the next cfg_load/cfg_set of that key. */
const char *cfg_str(enum cfg_key key);
long cfg_int(enum cfg_key key);
/* Where the value came from: "default", "file", "environment" or "command line"
 * (borrowed, static). */
const char *cfg_source(enum cfg_key key);
const struct cfg_entry *cfg_table(void);
/* Every setting with its value and source, secrets masked. */
void cfg_dump(FILE *out);

#endif
