/* wsc_proxy.h: an HTTP proxy for agent/wsc.c's connections, as libwebsockets 4.1 takes
 * one for the control link: the environment's http_proxy, "[http://][user:pass@]host:port"
 * (an IPv6 host in brackets), reached with CONNECT (RFC 9110 9.3.6) and Basic
 * Proxy-Authorization when user:pass is given. So a data socket goes where the control
 * link goes. As text only: wsc.c sends and reads. */
#ifndef KAIDEN_AGENT_WSC_PROXY_H
#define KAIDEN_AGENT_WSC_PROXY_H

#include <stddef.h>
#include "compat.h"

struct wsc_proxy {
	char host[256];
	int port;
	char auth[192]; /* base64 of user:pass, "" for none (a secret: never logged) */
};

/* The proxy http_proxy names: 1 with *out filled, 0 when none is set, -1 with why when
 * it is set but not host:port. */
int wsc_proxy_from_env(struct wsc_proxy *out, char *why, size_t whylen) WUR;
/* The CONNECT request for host:port, NUL-terminated into buf: its length, or -1 when
 * it does not fit. */
int wsc_proxy_request(const struct wsc_proxy *p, const char *host, int port, char *buf,
                      size_t buflen) WUR;
/* The proxy's answer head (NUL-terminated): 0 when it is 200, else -1 with why. */
int wsc_proxy_answer(const char *head, char *why, size_t whylen) WUR;

#endif
