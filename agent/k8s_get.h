/* k8s_get.h: one GET of the Kubernetes API with libwebsockets' HTTP client, on the
 * agent's own lws context and loop (cluster mode's node reads, k8s_node.h; issue 14:
 * the agent is not linked with libcurl, whose 26 libraries cost a node's agent about
 * 5 MiB of resident memory, docs/benchmarks.md "The agent's footprint").
 *
 * k8s_get_init adds a vhost of its own to the context, trusting the source's CA file
 * alone (the service account's ca.crt in a pod), or the system's CAs when it has none:
 * never the CA the link to the server trusts, and the link never trusts this one.
 *
 * Rules:
 * - The token file is read afresh for every request (k8s_source_token); the token goes
 *   only into the request's Authorization header, is never logged nor put in a reason,
 *   and is wiped from memory once the header is written (or the request ends).
 * - https always verifies the server (chain and host name); http only when the source
 *   allows it (tests). Redirects are not followed. HTTP/1.1 only.
 * - The whole request (connect, TLS, answer) is bounded by the source's timeout_ms, and
 *   the body by K8S_GET_BODY_MAX: past either the request ends with a reason.
 * - Asynchronous: k8s_get_start returns at once; the callback runs later on the loop
 *   (from a timer, never from inside k8s_get_start or k8s_get_cancel), once per started
 *   request unless it was cancelled. One request at a time per process.
 * Loop thread only. */
#ifndef KAIDEN_AGENT_K8S_GET_H
#define KAIDEN_AGENT_K8S_GET_H

#include <stddef.h>

#include <libwebsockets.h>

#include "compat.h"
#include "k8s_source.h"

#define K8S_GET_BODY_MAX (4u << 20) /* a Node lists its images: tens of KiB is common */

/* status: the HTTP status (0 when there was no answer, with reason set: the
 * connection, TLS, a timeout, a body over the cap). body: status's body, borrowed for the
 * call (NUL-terminated; len bytes). */
typedef void (*k8s_get_fn)(void *arg, long status, const char *body, size_t len,
                           const char *reason);

/* Adds the vhost for src (copied) to context. 0, or -1 with a reason in err. */
int k8s_get_init(struct lws_context *context, const struct k8s_source *src, char *err,
                 size_t errlen) WUR;

/* GET {base_url}{path} (path starts with '/'). 0: fn will be called; -1 with a reason
 * (the token file, a request already in flight, the connection could not be set up)
 * and fn will not be called. */
int k8s_get_start(const char *path, k8s_get_fn fn, void *arg, char *reason,
                  size_t reasonlen) WUR;

/* 1 while a request is in flight (started, its callback not yet run). */
int k8s_get_busy(void);

/* Ends a request in flight without calling its callback (its connection is closed). */
void k8s_get_cancel(void);

/* Cancels, and forgets the vhost (it goes with the context). */
void k8s_get_clear(void);

#endif
