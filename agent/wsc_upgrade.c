/* wsc_upgrade.c: the upgrade as text (see wsc_upgrade.h). */
#include "wsc_upgrade.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "wsc.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define REQUEST_MAX 6144u

int wsc_accept_value(const char *key, char *out, size_t outlen)
{
	char joined[WSC_KEY_LEN + sizeof(WS_GUID)];
	unsigned char sha[20];
	int n = snprintf(joined, sizeof(joined), "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof(joined) || outlen < WSC_B64_ROOM(WSC_ACCEPT_LEN))
		return -1;
	lws_SHA1((const unsigned char *)joined, (size_t)n, sha);
	return lws_b64_encode_string((const char *)sha, (int)sizeof(sha), out, (int)outlen) ==
	               WSC_ACCEPT_LEN
	           ? 0
	           : -1;
}

/* A header value may not carry a line break (or any control byte but tab). */
static int header_safe(const char *v)
{
	for (; v && *v; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return 0;
	return 1;
}

/* Whether a comma-separated header value has the token (case-insensitive). */
static int has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);

	while (*value) {
		size_t n;
		while (*value == ' ' || *value == '\t' || *value == ',')
			value++;
		n = strcspn(value, ",");
		while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(value, token, tl) == 0)
			return 1;
		value += strcspn(value, ",");
	}
	return 0;
}

int wsc_upgrade_key(char key[WSC_B64_ROOM(WSC_KEY_LEN)],
                    char accept[WSC_B64_ROOM(WSC_ACCEPT_LEN)])
{
	unsigned char nonce[16];

	randombytes_buf(nonce, sizeof(nonce));
	if (lws_b64_encode_string((const char *)nonce, (int)sizeof(nonce), key,
	                          WSC_B64_ROOM(WSC_KEY_LEN)) != WSC_KEY_LEN)
		return -1;
	return wsc_accept_value(key, accept, WSC_B64_ROOM(WSC_ACCEPT_LEN));
}

int wsc_upgrade_info_ok(const struct wsc_info *info)
{
	return info->path && info->path[0] == '/' && info->host && header_safe(info->path) &&
	       !strchr(info->path, ' ') && header_safe(info->host) && header_safe(info->origin) &&
	       header_safe(info->subprotocol) && header_safe(info->auth);
}

char *wsc_upgrade_request(const struct wsc_info *info, const char *key, size_t *len)
{
	char *r = malloc(REQUEST_MAX);
	int n;

	if (!r)
		return NULL;
	n = snprintf(r, REQUEST_MAX,
	             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s%s%s%s%s%s\r\n",
	             info->path, info->host, key, info->origin ? "Origin: " : "",
	             info->origin ? info->origin : "", info->origin ? "\r\n" : "",
	             info->subprotocol ? "Sec-WebSocket-Protocol: " : "",
	             info->subprotocol ? info->subprotocol : "", info->subprotocol ? "\r\n" : "",
	             info->auth ? "Authorization: " : "", info->auth ? info->auth : "",
	             info->auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= REQUEST_MAX) {
		explicit_bzero(r, REQUEST_MAX);
		free(r);
		return NULL;
	}
	*len = (size_t)n;
	return r;
}

int wsc_upgrade_check(char *head, size_t len, const char *accept_value,
                      const char *subprotocol, unsigned *http, char *why, size_t whylen)
{
	char *line = head, *end = head + len;
	int upgrade = 0, connection = 0, accept = 0, proto = !subprotocol[0];
	unsigned status;

	*http = 0;
	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (line[12] != ' ' && line[12] != '\r')) {
		snprintf(why, whylen, "the server's answer is not HTTP");
		return -1;
	}
	status = (unsigned)((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
	if (status != 101) {
		*http = status;
		snprintf(why, whylen, "the server answered HTTP %u instead of a WebSocket upgrade",
		         status);
		return -1;
	}
	/* Each header line: "Name: value\r\n", up to the blank line. */
	line = strstr(line, "\r\n") + 2;
	while (line < end && !(line[0] == '\r' && line[1] == '\n')) {
		char *eol = strstr(line, "\r\n"), *colon, *v;
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			snprintf(why, whylen, "the server's upgrade answer has a malformed header");
			return -1;
		}
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (char *t = v + strlen(v); t > v && (t[-1] == ' ' || t[-1] == '\t'); t--)
			t[-1] = '\0';
		if (strcasecmp(line, "Upgrade") == 0)
			upgrade = strcasecmp(v, "websocket") == 0;
		else if (strcasecmp(line, "Connection") == 0)
			connection = has_token(v, "upgrade");
		else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0)
			accept = strcmp(v, accept_value) == 0;
		else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0)
			proto = subprotocol[0] && strcmp(v, subprotocol) == 0;
		else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0) {
			*http = status;
			snprintf(why, whylen, "the server chose a WebSocket extension none was offered");
			return -1;
		}
		line = eol + 2;
	}
	if (!upgrade || !connection || !accept || !proto) {
		*http = status;
		snprintf(why, whylen, "the server's upgrade answer is not valid (%s)",
		         !upgrade      ? "Upgrade"
		         : !connection ? "Connection"
		         : !accept     ? "Sec-WebSocket-Accept"
		                       : "Sec-WebSocket-Protocol");
		return -1;
	}
	return 0;
}

