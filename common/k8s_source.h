/* k8s_source.h: where a Kubernetes API is and how to authenticate to it, shared by
 * kaiden-agent's node reader (agent/k8s_node.c) and helperd's cloud services
 * (helperd/k8s_api.c, helperd/helm_run.c). Facts: shared/ref/k8s-api.md sections 1 and 7.
 *
 * - In cluster (no URL given): https:// + $KUBERNETES_SERVICE_HOST + ':' +
 *   $KUBERNETES_SERVICE_PORT (an IPv6 host in brackets), the service account's token and
 *   ca.crt.
 * - The token file is read afresh for every request (k8s_source_token): the kubelet
 *   rotates the mounted token. A token is never logged nor put in a reason.
 * - https always verifies the server; http:// only when insecure is set (tests).
 * Nothing here logs, so it may run on any thread. */
#ifndef KAIDEN_K8S_SOURCE_H
#define KAIDEN_K8S_SOURCE_H

#include <stddef.h>
#include "compat.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_SA_TOKEN K8S_SA_DIR "/token"
#define K8S_SA_CA K8S_SA_DIR "/ca.crt"

#define K8S_URL_MAX 1024
#define K8S_PATH_MAX 1024
#define K8S_TOKEN_MAX 16384     /* bound tokens are about 1 KiB; room for big claims */
#define K8S_REASON_MAX 256

/* Where and how to ask. Filled by k8s_source_init; plain data, copyable. */
struct k8s_source {
	char base_url[K8S_URL_MAX];     /* scheme://host[:port][/prefix], no trailing '/' */
	/* base_url's parts, for a client that takes them apart (the agent's, on lws) */
	char host[256];                 /* a name or an address; IPv6 without brackets */
	int port;                       /* the scheme's default when the URL has none */
	char prefix[K8S_URL_MAX];       /* "" or "/k8s/clusters/c-1": no trailing '/' */
	int tls;                        /* 1: https */
	char token_file[K8S_PATH_MAX];
	char ca_file[K8S_PATH_MAX];     /* "" : the system's CAs (https) or none (http) */
	int insecure;                   /* 1: http:// allowed */
	long timeout_ms;                /* the whole request; default 10000 */
};

/* Fills src. api_url "" means in cluster: https:// + $KUBERNETES_SERVICE_HOST + ':' +
 * $KUBERNETES_SERVICE_PORT (an IPv6 host in brackets); else the URL must be https://, or
 * http:// with insecure, with a host (a DNS name, an IPv4 address or a bracketed IPv6
 * one; no percent-encoding), an optional port (1 to 65535), no credentials, query or
 * fragment, and a path prefix of plain path characters without "." or ".." segments
 * (kept: API proxies serve under one). token_file "" means the service account's; ca_file
 * "" means the service account's ca.crt when it exists, else the system's; a given
 * ca_file must be readable. The token file is not read here (it is read per request).
 * 0, or -1 with a sentence in err; src is written only on success. */
int k8s_source_init(struct k8s_source *src, const char *api_url, const char *token_file,
                    const char *ca_file, int insecure, char *err, size_t errlen) WUR;

/* 1 when src speaks plain http (only possible with insecure). */
int k8s_source_is_http(const struct k8s_source *src);

/* Reads the token file now into out (outlen >= K8S_TOKEN_MAX + 2 is enough for any
 * token we accept). 0, or -1 with a reason naming the file (never the token). The caller
 * wipes out (explicit_bzero) when done. */
int k8s_source_token(const struct k8s_source *src, char *out, size_t outlen, char *reason,
                     size_t reasonlen) WUR;

/* The reason for a non-2xx answer: the HTTP status, the Status's reason and message
 * when the body is one ("403 Forbidden: nodes \"w\" is forbidden: User ..."), else the
 * status and a hint ("HTTP 500 from the Kubernetes API (not a Status)"). Control
 * characters and non-ASCII bytes of the API's text become '?'. */
void k8s_status_reason(long http_status, const char *body, size_t len, char *reason,
                       size_t reasonlen);

/* The Status body's `reason` ("AlreadyExists", "NotFound", ...) copied into out, or ""
 * when the body is not a Status or has none. */
void k8s_status_kind(const char *body, size_t len, char *out, size_t outlen);

#endif
