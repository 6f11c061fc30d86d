/* link.h: the agent's WebSocket link to kaiden-helperd (lws client, protocol
 * "kaiden-agent"). It sends hello, waits for welcome, heartbeats with the running
 * sessions, hands tunnel commands to its handlers, and reconnects forever: exponential
 * backoff with jitter, slower after an auth refusal, soon after a server shutdown.
 * Messages the agent sends while the link is down wait in a bounded queue and go out
 * after the next welcome. */
#ifndef KAIDEN_AGENT_LINK_H
#define KAIDEN_AGENT_LINK_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"
#include "proto.h"

struct lws_context;
struct lws_protocols;

struct link_config {
	const char *url;       /* wss://host[:port]/path (ws:// only with insecure) */
	const char *device_id; /* "" in cluster mode */
	const char *secret;    /* borrowed: must live as long as the link */
	int insecure;          /* allow ws:// */
	const char *cluster_id; /* a node's agent (hello version 3): the cluster's id */
	const char *node_name;  /* and the node; both NULL or "" for a device's agent */
};

/* What the link does with the server's commands. */
struct link_handlers {
	void (*tunnel_start)(const char *session_id, const char *token, int metrics_port);
	void (*tunnel_stop)(const char *session_id);
	/* Owned JSON array of running session ids, for heartbeats. */
	json_object *(*sessions)(void);
	/* Protocol version 2 (relay.c); NULL: relay.* is a protocol error. The key is
	 * borrowed for the call and wiped after it. */
	void (*relay_start)(const char *session_id, int ssh_port, int web_port);
	void (*relay_open)(const char *session_id, const char *stream_id, const char *target,
	                   const char *key);
	/* After each welcome (NULL: nothing), once online: what must be said again on
	 * every connection (a node's agent: its latest reading). */
	void (*welcomed)(void);
};

/* The pieces of a server URL. */
struct link_url {
	int tls;
	char host[256];    /* without brackets for IPv6 */
	int port;
	char path[1024];   /* starts with '/' */
};

/* Parses ws[s]://host[:port][/path]: 0, or -1 with a message in err. ws:// is refused
 * unless insecure. */
int link_url_parse(const char *url, int insecure, struct link_url *out, char *err,
                   size_t errlen) WUR;

/* The Host header for u: host[:port] (the port only when not the scheme's default),
 * brackets around an IPv6 address. */
void link_host_header(const struct link_url *u, char *out, size_t outlen);

/* Where the system keeps its CA bundle (Debian/Ubuntu, RHEL/Fedora, Alpine/others), or
 * NULL: the default for client_ssl_ca_filepath. */
const char *link_system_ca_file(void);

/* The lws protocol entry for the context's protocol list. */
extern const struct lws_protocols link_protocol;

/* cfg and handlers are copied (url and device_id too; the secret is borrowed). Starts
 * connecting at once. 0, or -1. */
int link_init(struct lws_context *context, const struct link_config *cfg,
              const struct link_handlers *handlers) WUR;
/* Queues a message (fields taken, see proto_build). Messages before welcome wait. */
void link_send(enum proto_type type, json_object *fields);
/* Sends what is queued (briefly), closes with 1001 and stops reconnecting. */
void link_close(void);
/* 1 once link_close has finished (or there was no connection to close). */
int link_done(void);
/* 1 while authenticated (welcome received). */
int link_online(void);
/* Frees the queue; call after lws_context_destroy. */
void link_clear(void);

/* For logs and tests: the close code of the last closed connection (0: none received)
 * and the delay (ms, jitter included) before the next attempt. */
int link_last_close_code(void);
unsigned link_last_retry_ms(void);

/* For tests: the delay (ms) the backoff policy gives after a close with code, for the
 * try'th consecutive failure (0-based), without jitter. */
unsigned link_backoff_base_ms(int close_code, unsigned try);

#endif
