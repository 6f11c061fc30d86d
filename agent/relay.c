/* relay.c: the relay sessions the agent accepted, and the checks before a stream.
 *
 * A session is remembered from relay.start until tunnel.stop (or the agent stops):
 * its id and the two ports helperd named for it. relay.open is checked in a fixed
 * order, the first failure answered by relay.failed with a sentence naming it:
 *   1. the session is one this agent accepted (and has not stopped);
 *   2. the target's port (ssh_port or web_port) is in agent.relay_ports: helperd's word
 *      is not enough, the machine's owner decides which loopback ports are reachable;
 *   3. stream.c connects to 127.0.0.1:port (the only host there is) and opens the
 *      data socket; what fails there is reported from stream.c through on_failed. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "link.h"
#include "log.h"
#include "stream.h"

struct relay_session {
	char id[UUID_STR_LEN];
	int ssh_port, web_port;
};

static struct {
	struct relay_config cfg;
	relay_send_fn send;
	struct relay_session sessions[RELAY_SESSIONS_MAX];
	int nsessions;
	int closing; /* the agent stops (relay_stop_all): nothing new starts */
} R;

int relay_ports_parse(const char *text, struct relay_ports *out, char *err, size_t errlen)
{
	struct relay_ports ports = { 0 };
	const char *p = text ? text : "";

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		*out = ports;
		return 0;
	}
	for (;;) {
		const char *item = p, *end;
		char *num_end = NULL;
		long port;
		int len;

		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strcspn(item, ",");
		len = (int)(end - item);
		while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
			len--;
		errno = 0;
		port = len > 0 && item[0] >= '0' && item[0] <= '9' ? strtol(item, &num_end, 10) : 0;
		if (len == 0 || errno || num_end != item + len || port < 1 || port > 65535) {
			snprintf(err, errlen, "agent.relay_ports: \"%.*s\" is not a port (1-65535); "
			                      "give a comma-separated list such as 22,8080",
			         len > 40 ? 40 : len, item);
			return -1;
		}
		if (relay_ports_allow(&ports, (int)port)) {
			snprintf(err, errlen, "agent.relay_ports: port %ld is listed twice", port);
			return -1;
		}
		if (ports.n == RELAY_PORTS_MAX) {
			snprintf(err, errlen, "agent.relay_ports: more than %d ports", RELAY_PORTS_MAX);
			return -1;
		}
		ports.port[ports.n++] = (int)port;
		if (!*end)
			break;
		p = end + 1;
	}
	*out = ports;
	return 0;
}

int relay_ports_allow(const struct relay_ports *ports, int port)
{
	for (int i = 0; i < ports->n; i++)
		if (ports->port[i] == port)
			return 1;
	return 0;
}

void relay_ports_format(const struct relay_ports *ports, char *out, size_t outlen)
{
	size_t used = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	if (!ports->n) {
		snprintf(out, outlen, "none");
		return;
	}
	for (int i = 0; i < ports->n && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%d", i ? "," : "", ports->port[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static struct relay_session *find(const char *session_id)
{
	for (int i = 0; i < R.nsessions; i++)
		if (strcmp(R.sessions[i].id, session_id) == 0)
			return &R.sessions[i];
	return NULL;
}

static void send_session(enum proto_type type, const char *session_id, const char *reason)
{
	json_object *f = json_object_new_object();

	jsonx_add_str(f, "session_id", session_id);
	if (reason)
		jsonx_add_str(f, "reason", reason);
	R.send(type, f);
}

static void send_failed(const char *session_id, const char *stream_id, const char *reason)
{
	json_object *f = json_object_new_object();

	jsonx_add_str(f, "session_id", session_id);
	jsonx_add_str(f, "stream_id", stream_id);
	jsonx_add_str(f, "reason", reason);
	R.send(PROTO_RELAY_FAILED, f);
}

int relay_init(struct lws_context *context, const struct relay_config *cfg,
               relay_send_fn send)
{
	struct link_url url;
	struct stream_server srv;
	char err[256], host_header[300];

	if (link_url_parse(cfg->server_url, cfg->insecure, &url, err, sizeof(err)) != 0) {
		log_error("relay: %s", err);
		return -1;
	}
	memset(&R, 0, sizeof(R));
	R.cfg = *cfg;
	R.cfg.server_url = NULL; /* not kept: the parts below are */
	R.send = send;
	link_host_header(&url, host_header, sizeof(host_header));
	srv.tls = url.tls;
	srv.host = url.host;
	srv.port = url.port;
	srv.host_header = host_header;
	srv.control_path = url.path;
	return stream_setup(context, &srv, send_failed);
}

void relay_start(const char *session_id, int ssh_port, int web_port)
{
	struct relay_session *s = find(session_id);

	/* The agent is going away: a ready now would make the session active on an agent
	 * about to leave; unanswered, helperd sees the agent go and sends the start again
	 * once it is back, as for tunnel.start (tunnel.c). */
	if (R.closing) {
		log_info("session=%s relay.start while the agent stops: not accepted", session_id);
		return;
	}
	if (!s) {
		if (R.nsessions == RELAY_SESSIONS_MAX) {
			log_warn("session=%s relay.start refused: %d relay sessions already",
			         session_id, RELAY_SESSIONS_MAX);
			send_session(PROTO_TUNNEL_FAILED, session_id,
			             "this agent already holds the most relay sessions it accepts");
			return;
		}
		s = &R.sessions[R.nsessions++];
		snprintf(s->id, sizeof(s->id), "%s", session_id);
		log_info("session=%s relay accepted: ssh 127.0.0.1:%d, web 127.0.0.1:%d",
		         session_id, ssh_port, web_port);
	}
	/* A repeat may carry new ports (the session's settings are helperd's). */
	s->ssh_port = ssh_port;
	s->web_port = web_port;
	send_session(PROTO_TUNNEL_READY, session_id, NULL);
}

void relay_open(const char *session_id, const char *stream_id, const char *target,
                const char *key)
{
	struct relay_session *s = find(session_id);
	char why[512], allowed[RELAY_PORTS_MAX * 6 + 8];
	int port;

	if (!s) {
		send_failed(session_id, stream_id,
		            "this agent has no such relay session (never started, or stopped)");
		return;
	}
	port = strcmp(target, "web") == 0 ? s->web_port : s->ssh_port;
	if (!relay_ports_allow(&R.cfg.ports, port)) {
		relay_ports_format(&R.cfg.ports, allowed, sizeof(allowed));
		snprintf(why, sizeof(why), "port %d is not in this agent's relay_ports (%s)", port,
		         allowed);
		log_warn("session=%s stream=%s refused: %s", session_id, stream_id, why);
		send_failed(session_id, stream_id, why);
		return;
	}
	if (stream_open(session_id, stream_id, port, key, why, sizeof(why)) != 0) {
		log_warn("session=%s stream=%s failed: %s", session_id, stream_id, why);
		send_failed(session_id, stream_id, why);
	}
}

int relay_stop(const char *session_id)
{
	struct relay_session *s = find(session_id);
	char id[UUID_STR_LEN];

	if (!s)
		return 0;
	/* session_id may point into the slot that is about to be reused. */
	snprintf(id, sizeof(id), "%s", s->id);
	stream_close_session(id);
	log_info("session=%s relay stopped", id);
	*s = R.sessions[--R.nsessions];
	send_session(PROTO_TUNNEL_STOPPED, id, NULL);
	return 1;
}

void relay_stop_all(void)
{
	R.closing = 1;
	stream_close_all();
	while (R.nsessions) {
		char id[UUID_STR_LEN];
		snprintf(id, sizeof(id), "%s", R.sessions[R.nsessions - 1].id);
		(void)relay_stop(id);
	}
}

void relay_sessions_add(json_object *array)
{
	for (int i = 0; array && i < R.nsessions; i++)
		json_object_array_add(array, json_object_new_string(R.sessions[i].id));
}

int relay_session_count(void)
{
	return R.nsessions;
}

int relay_stream_count(void)
{
	return stream_count();
}

void relay_clear(void)
{
	stream_clear();
	R.nsessions = 0;
}
