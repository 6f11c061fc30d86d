/* k8s_get.c: see k8s_get.h.
 *
 *   idle --k8s_get_start--> connecting (token read, wsi asked for, deadline set)
 *   connecting --APPEND_HANDSHAKE_HEADER--> headers written, token wiped
 *   --ESTABLISHED_CLIENT_HTTP--> status known --RECEIVE_CLIENT_HTTP(_READ)--> body
 *   --COMPLETED_CLIENT_HTTP--> finished: the answer
 *   CLIENT_CONNECTION_ERROR, CLOSED_CLIENT_HTTP before completion, the deadline, the
 *   body cap --> finished: a reason
 *   finished --deliver timer (next loop turn)--> callback --> idle
 *
 * A finished request lets go of its wsi (opaque user data NULL, closed if still open):
 * whatever lws says about it afterwards is ignored. */
#include "k8s_get.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "sysinfo.h"

#define VHOST_NAME "kaiden-k8s"
#define PROTOCOL_NAME "kaiden-k8s"

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

static const struct lws_protocols protocols[] = {
	{ .name = PROTOCOL_NAME, .callback = callback },
	{ 0 },
};

static struct {
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct k8s_source src;

	/* the request */
	int busy;                    /* started, callback not yet run */
	int finished;                /* the outcome is known; delivery pending */
	struct lws *wsi;             /* while the request holds it */
	k8s_get_fn fn;
	void *arg;
	char *token;                 /* until the header is written */
	long status;
	int sent;                    /* the request's headers were written */
	int established;             /* the answer's status line and headers came */
	struct buf body;
	char reason[K8S_REASON_MAX];
	char path[K8S_URL_MAX + 512];
	char host_header[300];
	int v6;                      /* the host is an IPv6 address (peer_is_v6_host) */
	lws_sorted_usec_list_t deadline, deliver;
} G;

static void wipe_token(void)
{
	if (!G.token)
		return;
	explicit_bzero(G.token, K8S_TOKEN_MAX + 2);
	free(G.token);
	G.token = NULL;
}

static void deliver(lws_sorted_usec_list_t *sul)
{
	k8s_get_fn fn = G.fn;
	void *arg = G.arg;
	long status = G.status;
	char reason[K8S_REASON_MAX];
	struct buf body = G.body;

	(void)sul;
	if (!G.busy || !G.finished)
		return;
	snprintf(reason, sizeof(reason), "%s", G.reason);
	/* Idle before the call: the callback may start the next request. */
	G.busy = 0;
	G.finished = 0;
	buf_init(&G.body, K8S_GET_BODY_MAX);
	fn(arg, status, body.data ? body.data : "", body.len, status ? NULL : reason);
	buf_clear(&body);
}

/* Lets go of the wsi (closing it when still open) and stops the deadline. */
static void release(void)
{
	lws_sul_cancel(&G.deadline);
	wipe_token();
	if (G.wsi) {
		lws_set_opaque_user_data(G.wsi, NULL);
		lws_set_timeout(G.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		G.wsi = NULL;
	}
}

/* The outcome: status 0 and a reason, or the answer's status (its body in G.body). */
static void finish(long status, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void finish(long status, const char *fmt, ...)
{
	if (!G.busy || G.finished)
		return;
	G.finished = 1;
	G.status = status;
	G.reason[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(G.reason, sizeof(G.reason), fmt, ap);
		va_end(ap);
		sysinfo_clean(G.reason);
	}
	release();
	lws_sul_schedule(G.context, 0, &G.deliver, deliver, 1);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	finish(0, "no answer from the Kubernetes API within %ld ms", G.src.timeout_ms);
}

/* lws' reason for a connection that failed, told as a person can act on it. */
static void connection_error(struct lws *wsi, const char *why)
{
	const char *w = why && *why ? why : "connection failed";
	SSL *ssl = lws_get_ssl(wsi);
	long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	/* lws 4.1's own words for a failed handshake ("connect SSL err 1: error:00000001")
	 * say nothing: OpenSSL's verdict on the certificate does. */
	if (verify != X509_V_OK)
		finish(0, "TLS with the Kubernetes API failed: the server's certificate: %.160s",
		       X509_verify_cert_error_string(verify));
	else if (strstr(w, "SSL") || strstr(w, "ssl") || strstr(w, "cert") || strstr(w, "tls") ||
	         strstr(w, "TLS"))
		finish(0, "TLS with the Kubernetes API failed: %.180s", w);
	else if (G.sent && strcmp(w, "read failed") == 0)
		/* the request went out, and the connection closed before any answer */
		finish(0, "the Kubernetes API closed the connection without an answer");
	else
		finish(0, "cannot reach the Kubernetes API: %.180s", w);
}

/* 1 if the server's certificate names the IPv6 address we connected to. lws 4.1 takes
 * the name to check from the Host header cut at its first ':', which leaves nothing
 * usable of an IPv6 address: for one, its check is off (k8s_get_start) and this one,
 * run before the request (and its token) is written, takes its place. */
static int peer_is_v6_host(struct lws *wsi)
{
	SSL *ssl = lws_get_ssl(wsi);
	X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	int ok = cert && SSL_get_verify_result(ssl) == X509_V_OK &&
	         X509_check_ip_asc(cert, G.src.host, 0) == 1;

	X509_free(cert);
	return ok;
}

static int append_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
	static const char accept[] = "application/json";
	static const char agent[] = "kaiden-agent/" AGENT_VERSION;
	char *auth;
	size_t n;
	int rc;

	if (!G.token)
		return -1;
	if (G.src.tls && G.v6 && !peer_is_v6_host(wsi)) {
		finish(0, "TLS with the Kubernetes API failed: the server's certificate is not "
		          "for %.60s", G.src.host);
		return -1;
	}
	n = strlen(G.token) + sizeof("Bearer ");
	auth = malloc(n);
	if (!auth) {
		finish(0, "out of memory");
		return -1;
	}
	snprintf(auth, n, "Bearer %s", G.token);
	wipe_token();
	rc = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	                                  (const unsigned char *)auth, (int)strlen(auth), p, end) ||
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCEPT,
	                                  (const unsigned char *)accept, (int)strlen(accept), p,
	                                  end) ||
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
	                                  (const unsigned char *)agent, (int)strlen(agent), p, end);
	explicit_bzero(auth, n);
	free(auth);
	if (rc) {
		finish(0, "the service account token is too large for a request header");
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	/* release() takes the wsi of a finished request off G: any other is ours. */
	int mine = lws_get_opaque_user_data(wsi) == &G && G.busy && !G.finished;

	(void)user;
	if (mine)
		G.wsi = wsi;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (mine) {
			G.wsi = NULL; /* lws closes it */
			connection_error(wsi, (const char *)in);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (!mine)
			return -1;
		G.sent = 1;
		return append_headers(wsi, (unsigned char **)in, *(unsigned char **)in + len);
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (!mine)
			return -1;
		G.established = 1;
		G.status = (long)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (!mine)
			return -1;
		if (buf_append(&G.body, in, len) != 0) {
			finish(0, "the answer is larger than %u bytes", K8S_GET_BODY_MAX);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buffer[4096 + LWS_PRE], *px = buffer + LWS_PRE;
		int lenx = (int)sizeof(buffer) - LWS_PRE;
		if (!mine)
			return -1;
		/* Calls back with RECEIVE_CLIENT_HTTP_READ, chunked framing removed. */
		if (lws_http_client_read(wsi, &px, &lenx) < 0) {
			if (!G.finished)
				finish(0, "the Kubernetes API closed the connection in its answer");
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (!mine)
			return 0;
		/* Closed by the -1: a keep-alive connection would idle for a minute. */
		lws_set_opaque_user_data(wsi, NULL);
		G.wsi = NULL;
		finish(G.status, NULL);
		return -1;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (mine) {
			G.wsi = NULL;
			if (G.established)
				finish(0, "the Kubernetes API closed the connection in its answer");
			else
				finish(0, "the Kubernetes API closed the connection without an answer");
		}
		return 0;
	default:
		return 0;
	}
}

int k8s_get_init(struct lws_context *context, const struct k8s_source *src, char *err,
                 size_t errlen)
{
	struct lws_context_creation_info vi;

	memset(&vi, 0, sizeof(vi));
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.protocols = protocols;
	vi.vhost_name = VHOST_NAME;
	vi.gid = -1;
	vi.uid = -1;
	vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (src->ca_file[0]) {
		/* That CA alone: not OpenSSL's default store beside it. */
		vi.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		vi.client_ssl_ca_filepath = src->ca_file;
	}
	memset(&G, 0, sizeof(G));
	buf_init(&G.body, K8S_GET_BODY_MAX);
	G.vhost = lws_create_vhost(context, &vi);
	if (!G.vhost) {
		snprintf(err, errlen, "cannot set up the Kubernetes API's TLS (CA file %s)",
		         src->ca_file[0] ? src->ca_file : "the system's");
		return -1;
	}
	G.context = context;
	G.src = *src;
	if (G.src.timeout_ms <= 0)
		G.src.timeout_ms = 10000;
	/* The Host header: an IPv6 address in brackets; the port only when it is not the
	 * scheme's (lws cuts it off again for the certificate's check). */
	G.v6 = strchr(G.src.host, ':') != NULL;
	if (G.src.port == (G.src.tls ? 443 : 80))
		snprintf(G.host_header, sizeof(G.host_header), G.v6 ? "[%s]" : "%s", G.src.host);
	else
		snprintf(G.host_header, sizeof(G.host_header), G.v6 ? "[%s]:%d" : "%s:%d",
		         G.src.host, G.src.port);
	return 0;
}

int k8s_get_start(const char *path, k8s_get_fn fn, void *arg, char *reason,
                  size_t reasonlen)
{
	struct lws_client_connect_info i;

	if (!G.vhost || G.busy) {
		snprintf(reason, reasonlen, G.busy ? "a request is already in flight"
		                                   : "the Kubernetes API client is not set up");
		return -1;
	}
	if ((size_t)snprintf(G.path, sizeof(G.path), "%s%s", G.src.prefix, path) >=
	    sizeof(G.path)) {
		snprintf(reason, reasonlen, "the request's path is too long");
		return -1;
	}
	/* Read afresh each time: the kubelet rotates the mounted token. */
	G.token = malloc(K8S_TOKEN_MAX + 2);
	if (!G.token) {
		snprintf(reason, reasonlen, "out of memory");
		return -1;
	}
	if (k8s_source_token(&G.src, G.token, K8S_TOKEN_MAX + 2, reason, reasonlen) != 0) {
		wipe_token();
		return -1;
	}
	G.fn = fn;
	G.arg = arg;
	G.busy = 1;
	G.finished = 0;
	G.status = 0;
	G.sent = 0;
	G.established = 0;
	G.reason[0] = '\0';
	buf_clear(&G.body);
	buf_init(&G.body, K8S_GET_BODY_MAX);
	memset(&i, 0, sizeof(i));
	i.context = G.context;
	i.vhost = G.vhost;
	i.address = G.src.host;
	i.port = G.src.port;
	i.path = G.path;
	i.host = G.host_header;
	i.method = "GET";
	i.alpn = "http/1.1";
	i.ssl_connection = (G.src.tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT |
	                   (G.v6 ? LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0);
	i.local_protocol_name = PROTOCOL_NAME;
	i.opaque_user_data = &G;
	lws_sul_schedule(G.context, 0, &G.deadline, on_deadline,
	                 (lws_usec_t)G.src.timeout_ms * LWS_US_PER_MS);
	{
		struct lws *wsi = lws_client_connect_via_info(&i);
		if (!G.finished) {
			G.wsi = wsi;
			if (!wsi)
				/* Failed before lws called back (nothing was set up). */
				finish(0, "cannot reach the Kubernetes API: cannot start the "
				          "connection");
		}
	}
	return 0;
}

int k8s_get_busy(void)
{
	return G.busy;
}

void k8s_get_cancel(void)
{
	if (!G.busy)
		return;
	release();
	lws_sul_cancel(&G.deliver);
	G.busy = 0;
	G.finished = 0;
	buf_clear(&G.body);
	buf_init(&G.body, K8S_GET_BODY_MAX);
}

void k8s_get_clear(void)
{
	k8s_get_cancel();
	G.vhost = NULL;
	G.context = NULL;
}
