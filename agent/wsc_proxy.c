/* wsc_proxy.c: the CONNECT proxy's texts (see wsc_proxy.h). */
#include "wsc_proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

int wsc_proxy_from_env(struct wsc_proxy *out, char *why, size_t whylen)
{
	const char *v = getenv("http_proxy"), *at, *hostpart, *colon;
	char *end;
	long port;
	size_t hl;

	if (!v || !*v)
		return 0;
	if (strncmp(v, "http://", 7) == 0)
		v += 7;
	memset(out, 0, sizeof(*out));
	at = strrchr(v, '@');
	hostpart = at ? at + 1 : v;
	if (at && lws_b64_encode_string(v, (int)(at - v), out->auth, (int)sizeof(out->auth)) < 0)
		goto bad;
	if (hostpart[0] == '[') {
		const char *close = strchr(hostpart, ']');
		if (!close || close[1] != ':')
			goto bad;
		hostpart++;
		hl = (size_t)(close - hostpart);
		colon = close + 1;
	} else {
		colon = strrchr(hostpart, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - hostpart);
	}
	port = strtol(colon + 1, &end, 10);
	if (!hl || hl >= sizeof(out->host) || (*end && strcmp(end, "/") != 0) || port < 1 ||
	    port > 65535)
		goto bad;
	memcpy(out->host, hostpart, hl);
	out->port = (int)port;
	return 1;
bad:
	explicit_bzero(out->auth, sizeof(out->auth));
	snprintf(why, whylen, "http_proxy is not [user:pass@]host:port");
	return -1;
}

int wsc_proxy_request(const struct wsc_proxy *p, const char *host, int port, char *buf,
                      size_t buflen)
{
	int v6 = strchr(host, ':') != NULL;
	int n = snprintf(buf, buflen, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n%s%s%s\r\n",
	                 v6 ? "[" : "", host, v6 ? "]" : "", port, v6 ? "[" : "", host,
	                 v6 ? "]" : "", port, p->auth[0] ? "Proxy-Authorization: Basic " : "",
	                 p->auth, p->auth[0] ? "\r\n" : "");

	return n < 0 || (size_t)n >= buflen ? -1 : n;
}

int wsc_proxy_answer(const char *head, char *why, size_t whylen)
{
	if ((strncmp(head, "HTTP/1.1 200", 12) == 0 || strncmp(head, "HTTP/1.0 200", 12) == 0) &&
	    (head[12] == ' ' || head[12] == '\r'))
		return 0;
	snprintf(why, whylen, "the HTTP proxy refused the connection: %.*s",
	         (int)strcspn(head, "\r\n") > 80 ? 80 : (int)strcspn(head, "\r\n"), head);
	return -1;
}
