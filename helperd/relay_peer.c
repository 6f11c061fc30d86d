/* relay_peer.c: relay streams across helperds (relay_peer.h says what and why).
 *
 * A forwarded stream, at the helperd the socket reached:
 *
 *   accepted (relay_accept.c found the peer) -> OPENING, our client connecting to the
 *   peer's same path with the same Authorization, X-Forwarded-For the caller's address
 *   and X-Kaiden-Relay-Hop our instance
 *      --the peer upgrades--> PIPING (relay_stream_pair: bytes both ways, as any stream)
 *      --the peer refuses, or cannot be reached--> CLOSING: the caller's socket closed
 *        with 4052 (reached no one) or 4050 (refused), the reason in words
 *   PIPING --the peer closes--> the caller gets its code and reason (4052 for a lost
 *   connection); --the caller closes--> the peer gets 1000, as the engineer's own end
 *
 * The client's callbacks come here (protocol kaiden-peer); the stream's machinery is
 * relay_server.c's, the agent side being our client. The Authorization is wiped from the
 * pending copy as soon as the handshake has it. */
#include "relay_peer.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "helperd.h"
#include "log.h"
#include "relay_from.h"
#include "relay_server.h"
#include "relay_stream.h"
#include "store_agent.h"
#include "store_status.h"

/* Running helperds looked at to find a stream's (more is a deployment we do not plan). */
#define PEERS_MAX 64
#define TAG_LEN 8

/* What the client needs from accept until its handshake is sent. */
struct peer_link {
	struct relay_stream *stream; /* NULL once the stream is gone (relay_peer_detach) */
	struct lws *wsi;             /* our client, once lws has made it */
	char auth[JWT_MAX_LEN + 128];
	char addr[HUB_ADDR_LEN];
	char from[RELAY_FROM_MAX];   /* a connect's X-Kaiden-Relay-From ("" for none) */
	int handshake_sent;
	int failed_at_start;         /* lws refused inside lws_client_connect_via_info */
};

/* The link whose lws_client_connect_via_info is running (its callbacks may come from
 * inside it). */
static struct peer_link *starting;

static struct {
	char address[STORE_PEER_ADDRESS_MAX + 1];
	char tag[TAG_LEN + 1];
	unsigned char key[TICKET_KEY_LEN]; /* relay_from.h's; never logged */
	int have_key;
} P;

/* FNV-1a, 32 bits, as 8 hex digits: a helperd's tag. */
static void tag_of(const char *instance, char out[TAG_LEN + 1])
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)instance; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	snprintf(out, TAG_LEN + 1, "%08x", h);
}

/* 0 when address is a peer address we can use: an absolute socket path, or host:port. */
static int address_ok(const char *address)
{
	const char *colon;
	char *end;
	long port;

	if (!address[0] || strlen(address) > STORE_PEER_ADDRESS_MAX)
		return -1;
	if (address[0] == '/')
		return 0;
	colon = strrchr(address, ':');
	if (!colon || colon == address)
		return -1;
	port = strtol(colon + 1, &end, 10);
	return *end || port < 1 || port > 65535 ? -1 : 0;
}

void relay_peer_init(void)
{
	const char *set = cfg_str(CFG_HELPERD_PEER_ADDRESS), *listen = cfg_str(CFG_HELPERD_LISTEN);
	const char *colon = strrchr(listen, ':');
	size_t host = colon ? (size_t)(colon - listen) : 0;

	P.address[0] = '\0';
	tag_of(helperd.instance, P.tag);
	P.have_key = store_agent_ticket_key(helperd.db, P.key) == STORE_OK;
	if (!P.have_key)
		log_warn("relay: the deployment's key cannot be read: forwarded connects carry no "
		         "engineer's address, and those forwarded here are logged with the "
		         "forwarding helperd's");
	if (set[0]) {
		if (address_ok(set) == 0)
			snprintf(P.address, sizeof(P.address), "%s", set);
		else
			log_error("helperd.peer_address=%s is neither host:port nor an absolute socket "
			          "path: relay streams cannot be forwarded here", set);
	} else if (listen[0] == '/' ||
	           (host > 0 && !(host == 1 && listen[0] == '*') &&
	            strncmp(listen, "0.0.0.0:", 8) != 0 && strncmp(listen, "[::]:", 5) != 0)) {
		if (address_ok(listen) == 0)
			snprintf(P.address, sizeof(P.address), "%s", listen);
	} else {
		log_info("helperd.listen=%s listens on every address: set helperd.peer_address for "
		         "other helperds to forward relay streams here", listen);
	}
	if (P.address[0])
		log_info("relay: other helperds reach this one at %s (stream tag %s)", P.address,
		         P.tag);
}

const char *relay_peer_address(void)
{
	return P.address;
}

void relay_peer_tag(char id[UUID_STR_LEN])
{
	memcpy(id + UUID_STR_LEN - 1 - TAG_LEN, P.tag, TAG_LEN);
}

int relay_peer_hop(struct lws *wsi)
{
	char hop[8];

	return lws_hdr_custom_copy(wsi, hop, sizeof(hop), "x-kaiden-relay-hop:", 19) >= 0;
}

void relay_peer_vouched(struct lws *wsi, const char *session_id, char addr[HUB_ADDR_LEN])
{
	char value[RELAY_FROM_MAX];

	if (!relay_peer_hop(wsi) ||
	    lws_hdr_custom_copy(wsi, value, sizeof(value), "x-kaiden-relay-from:", 20) < 0)
		return;
	if (P.have_key && relay_from_check(P.key, value, session_id, ids_now_ms(), addr) == 0)
		log_info("relay: connect session=%s forwarded by a peer for %s", session_id, addr);
	else
		log_warn("relay: connect session=%s from %s: its X-Kaiden-Relay-From does not check "
		         "out (another deployment's key, a clock far off, or not a helperd): the "
		         "socket's address stands", session_id, addr);
}

/* The peer named instance, if it runs and can be reached: its address into out. */
static int route_to(const char *instance, struct relay_pending *out)
{
	struct store_peer peer;
	int n = 0;

	if (strcmp(instance, helperd.instance) == 0 ||
	    store_status_peers(helperd.db, instance, &peer, 1, &n) != STORE_OK || n != 1)
		return 0;
	out->forward = 1;
	memcpy(out->peer, peer.instance, sizeof(out->peer));
	memcpy(out->peer_address, peer.address, sizeof(out->peer_address));
	return 1;
}

int relay_peer_route_connect(const char *device_id, struct relay_pending *out)
{
	char holder[STORE_PEER_INSTANCE_MAX + 1];

	if (store_relay_holder_any(helperd.db, device_id, holder, sizeof(holder)) != STORE_OK)
		return 0;
	return route_to(holder, out);
}

int relay_peer_route_stream(const char *stream_id, struct relay_pending *out)
{
	const char *tag = stream_id + UUID_STR_LEN - 1 - TAG_LEN;
	struct store_peer *peers;
	char t[TAG_LEN + 1];
	int n = 0, found = 0;

	if (strlen(stream_id) != UUID_STR_LEN - 1 || strcmp(tag, P.tag) == 0)
		return 0;
	peers = calloc(PEERS_MAX, sizeof(*peers));
	if (!peers)
		return 0;
	if (store_status_peers(helperd.db, NULL, peers, PEERS_MAX, &n) == STORE_OK)
		for (int i = 0; i < n && !found; i++) {
			tag_of(peers[i].instance, t);
			if (strcmp(t, tag) == 0 && strcmp(peers[i].instance, helperd.instance) != 0) {
				out->forward = 1;
				memcpy(out->peer, peers[i].instance, sizeof(out->peer));
				memcpy(out->peer_address, peers[i].address, sizeof(out->peer_address));
				found = 1;
			}
		}
	free(peers);
	return found;
}

int relay_peer_start(struct relay_stream *s, struct lws *wsi, const struct relay_pending *p)
{
	struct lws_client_connect_info i;
	struct peer_link *link = calloc(1, sizeof(*link));
	char address[STORE_PEER_ADDRESS_MAX + 2];
	const char *colon;
	struct lws *client;

	if (!link)
		return -1;
	link->stream = s;
	memcpy(link->auth, p->auth, sizeof(link->auth));
	memcpy(link->addr, p->addr, sizeof(link->addr));
	if (p->kind == RELAY_PATH_CONNECT && P.have_key && p->addr[0] &&
	    relay_from_sign(P.key, p->session.id, p->addr, ids_now_ms(), link->from) != 0)
		link->from[0] = '\0';
	memset(&i, 0, sizeof(i));
	if (p->peer_address[0] == '/') {
		/* lws: a client address starting with '+' is a Unix socket's path. */
		snprintf(address, sizeof(address), "+%s", p->peer_address);
		i.port = 0;
	} else {
		colon = strrchr(p->peer_address, ':');
		snprintf(address, sizeof(address), "%.*s", (int)(colon - p->peer_address),
		         p->peer_address);
		i.port = atoi(colon + 1);
	}
	i.context = lws_get_context(wsi);
	i.vhost = lws_get_vhost(wsi);
	i.address = address;
	i.path = p->path;
	i.host = "localhost";
	i.origin = "localhost";
	/* A data socket goes as the agent's does (its subprotocol); a connect has none. */
	i.protocol = p->kind == RELAY_PATH_STREAM ? relay_server_protocol_stream.name : NULL;
	i.local_protocol_name = relay_server_protocol_peer.name;
	i.opaque_user_data = link;
	/* Not i.pwsi: lws could write there after the link is freed. */
	starting = link;
	client = lws_client_connect_via_info(&i);
	starting = NULL;
	if (!client || link->failed_at_start) {
		explicit_bzero(link->auth, sizeof(link->auth));
		free(link);
		return -1;
	}
	link->wsi = client;
	s->peer_link = link;
	log_info("stream=%s session=%s forwarding to %s at %s", s->id,
	         s->session_id[0] ? s->session_id : "-", s->peer, p->peer_address);
	return 0;
}

/* ---- the client's callbacks ------------------------------------------------------------ */

static int append_headers(struct lws *wsi, struct peer_link *link, unsigned char **pos,
                          unsigned char *end)
{
	int rc = 0;

	if (link->auth[0] &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	                                 (unsigned char *)link->auth, (int)strlen(link->auth),
	                                 pos, end))
		rc = -1;
	if (!rc && link->addr[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-forwarded-for:",
	                                (unsigned char *)link->addr, (int)strlen(link->addr),
	                                pos, end))
		rc = -1;
	if (!rc && link->from[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-kaiden-relay-from:",
	                                (unsigned char *)link->from, (int)strlen(link->from),
	                                pos, end))
		rc = -1;
	if (!rc && lws_add_http_header_by_name(wsi, (const unsigned char *)"x-kaiden-relay-hop:",
	                                       (unsigned char *)helperd.instance,
	                                       (int)strlen(helperd.instance), pos, end))
		rc = -1;
	explicit_bzero(link->auth, sizeof(link->auth));
	link->handshake_sent = 1;
	return rc;
}

static void link_free(struct lws *wsi, struct peer_link *link)
{
	lws_set_opaque_user_data(wsi, NULL);
	if (link->stream)
		link->stream->peer_link = NULL;
	explicit_bzero(link->auth, sizeof(link->auth));
	free(link);
}

void relay_peer_detach(struct relay_stream *s)
{
	struct peer_link *link = s->peer_link;

	if (!link)
		return;
	s->peer_link = NULL;
	link->stream = NULL;
	/* Still connecting: it closes when lws next calls it back (ESTABLISHED refuses). */
	if (link->wsi)
		lws_set_timeout(link->wsi, PENDING_TIMEOUT_USER_OK, 1);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct peer_link *link = lws_get_opaque_user_data(wsi);
	struct relay_stream *s = link ? link->stream : NULL;
	struct relay_conn conn;

	if (link && link != starting)
		link->wsi = wsi;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return link ? append_headers(wsi, link, (unsigned char **)in,
		                             *(unsigned char **)in + len)
		            : -1;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!s || s->state != RELAY_OPENING)
			return -1;
		relay_stream_pair(s, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (link && link == starting) {
			/* Inside lws_client_connect_via_info: relay_peer_start cleans up. */
			link->failed_at_start = 1;
			lws_set_opaque_user_data(wsi, NULL);
			return 0;
		}
		/* Refused before the upgrade, or not reached: no socket of ours to close. */
		if (s) {
			log_info("stream=%s forwarding to %s failed: %s", s->id, s->peer,
			         in ? (const char *)in : "no reason");
			if (s->state == RELAY_OPENING)
				relay_stream_close(s, link->handshake_sent ? RELAY_CLOSE_REFUSED
				                                           : RELAY_CLOSE_OFFLINE,
				                   link->handshake_sent
				                           ? "the helperd holding the agent refused the stream"
				                           : "the helperd holding the agent cannot be reached");
		}
		if (link)
			link_free(wsi, link);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (s)
			relay_stream_receive(wsi, s, RELAY_AGENT, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s ? relay_stream_writeable(s, RELAY_AGENT) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (s) {
			size_t n = len > 2 ? len - 2 : 0;
			s->side[RELAY_AGENT].peer_code =
				len >= 2 ? (uint16_t)(((unsigned char *)in)[0] << 8 |
				                      ((unsigned char *)in)[1])
				         : LWS_CLOSE_STATUS_NO_STATUS;
			if (n > RELAY_WHY_MAX)
				n = RELAY_WHY_MAX;
			memcpy(s->peer_why, n ? (const char *)in + 2 : "", n);
			s->peer_why[n] = '\0';
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s && s->side[RELAY_AGENT].wsi == wsi) {
			conn.stream = s;
			conn.side = RELAY_AGENT;
			relay_stream_closed(&conn);
		}
		if (link)
			link_free(wsi, link);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols relay_server_protocol_peer = {
	.name = "kaiden-peer",
	.callback = callback,
	.per_session_data_size = 0,
	.rx_buffer_size = 32 * 1024,
	.tx_packet_size = 32 * 1024,
};
