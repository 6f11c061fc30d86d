/* k8s_source.c: see k8s_source.h. Moved here from agent/k8s_node.c (issue 13) so that
 * helperd reaches the same API the same way. */
#include "k8s_source.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jsonx.h"
#include "secretfile.h"

#define DEFAULT_TIMEOUT_MS 10000L

/* Text from the API, made safe for a log line or a message. */
static void text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* --- where to ask ------------------------------------------------------------------ */

/* RFC 3986's unreserved characters, the only ones a host name may have here (no
 * percent-encoding: a Kubernetes API is a DNS name or an address). */
static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* A path character: pchar (unreserved, sub-delims, ':' and '@') or '/'; '%' only as
 * the start of %XX. */
static int path_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)p[i + 1]) ||
			    !isxdigit((unsigned char)p[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		if (!host_char(c) && !strchr("!$&'()*+,;=:@/", c))
			return 0;
	}
	return 1;
}

/* 1 if the path has a "." or ".." segment (libcurl would have folded it away). */
static int dot_segment(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1, len;
		while (j < n && p[j] != '/')
			j++;
		len = j - i - 1;
		if ((len == 1 && p[i + 1] == '.') || (len == 2 && p[i + 1] == '.' && p[i + 2] == '.'))
			return 1;
		i = j;
	}
	return 0;
}

/* Checks url (https, or http when insecure; a host; no credentials, query or fragment)
 * and fills the parts of *s: base_url (scheme and host as given, but the scheme in
 * lower case; no trailing '/'), host (an IPv6 address without its brackets), port (the
 * scheme's default when none is given), prefix (the path without trailing '/'s) and
 * tls. A small parser of its own rather than libcurl's URL API, so that kaiden-agent,
 * which reads its node with libwebsockets, needs no libcurl at all (docs/decisions.md,
 * "Issue 14: the node's reads on libwebsockets"). */
static int base_url(const char *url, int insecure, struct k8s_source *s, char *err,
                    size_t errlen)
{
	const char *p, *auth, *auth_end, *host, *host_end, *path;
	size_t host_len, path_len;
	int tls;
	long port = 0;

	/* The URL is not repeated in an error before its credentials are ruled out. */
	p = strstr(url, "://");
	auth = p ? p + 3 : url;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth))) {
		snprintf(err, errlen, "credentials in the Kubernetes API URL are not supported "
		                      "(the token comes from its file)");
		return -1;
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		tls = 1;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		tls = 0;
	} else {
		snprintf(err, errlen, "%s: the Kubernetes API URL must start with https://", url);
		return -1;
	}
	if (!tls && !insecure) {
		snprintf(err, errlen, "%s: http:// is not encrypted; use https://, or --insecure "
		                      "for local tests", url);
		return -1;
	}
	if (strpbrk(url, "?#")) {
		snprintf(err, errlen, "%s: a query or fragment has no place in the API's URL", url);
		return -1;
	}
	host = auth;
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end || host_end == host + 1 ||
		    strspn(host + 1, "0123456789abcdefABCDEF:.") != (size_t)(host_end - host - 1)) {
			snprintf(err, errlen, "%s: not a valid URL (the IPv6 address)", url);
			return -1;
		}
		host++;
		p = host_end + 1;
	} else {
		host_end = host;
		while (host_end < auth_end && host_char(*host_end))
			host_end++;
		p = host_end;
	}
	host_len = (size_t)(host_end - host);
	if (!host_len) {
		snprintf(err, errlen, "%s: no host", url);
		return -1;
	}
	if (p < auth_end && *p == ':') {
		const char *d = p + 1;
		if (d == auth_end || (size_t)(auth_end - d) > 5 ||
		    strspn(d, "0123456789") < (size_t)(auth_end - d)) {
			snprintf(err, errlen, "%s: not a valid URL (the port)", url);
			return -1;
		}
		port = strtol(d, NULL, 10);
		if (port < 1 || port > 65535) {
			snprintf(err, errlen, "%s: the port is not between 1 and 65535", url);
			return -1;
		}
	} else if (p != auth_end) {
		snprintf(err, errlen, "%s: not a valid URL (the host)", url);
		return -1;
	}
	path = auth_end;
	path_len = strlen(path);
	while (path_len > 0 && path[path_len - 1] == '/')
		path_len--;
	if (!path_ok(path, path_len) || dot_segment(path, path_len)) {
		snprintf(err, errlen, "%s: not a valid URL (the path)", url);
		return -1;
	}
	if (host_len >= sizeof(s->host) ||
	    (size_t)(auth_end - url) + path_len >= sizeof(s->base_url)) {
		snprintf(err, errlen, "the Kubernetes API URL is longer than %zu bytes",
		         sizeof(s->base_url) - 1);
		return -1;
	}
	snprintf(s->base_url, sizeof(s->base_url), "%s://%.*s%.*s", tls ? "https" : "http",
	         (int)(auth_end - auth), auth, (int)path_len, path);
	memcpy(s->host, host, host_len);
	s->host[host_len] = '\0';
	s->port = port ? (int)port : tls ? 443 : 80;
	snprintf(s->prefix, sizeof(s->prefix), "%.*s", (int)path_len, path);
	s->tls = tls;
	return 0;
}

int k8s_source_init(struct k8s_source *src, const char *api_url, const char *token_file,
                    const char *ca_file, int insecure, char *err, size_t errlen)
{
	struct k8s_source s;
	char url[K8S_URL_MAX];

	memset(&s, 0, sizeof(s));
	if (!api_url || !*api_url) {
		const char *host = getenv("KUBERNETES_SERVICE_HOST");
		const char *port = getenv("KUBERNETES_SERVICE_PORT");
		int v6 = host && strchr(host, ':') != NULL;
		if (!host || !*host || !port || !*port) {
			snprintf(err, errlen, "not in a pod: KUBERNETES_SERVICE_HOST and "
			                      "KUBERNETES_SERVICE_PORT must be defined (or give "
			                      "--k8s-api URL)");
			return -1;
		}
		if ((size_t)snprintf(url, sizeof(url), "https://%s%s%s:%s", v6 ? "[" : "", host,
		                     v6 ? "]" : "", port) >= sizeof(url)) {
			snprintf(err, errlen, "KUBERNETES_SERVICE_HOST is too long");
			return -1;
		}
	} else if ((size_t)snprintf(url, sizeof(url), "%s", api_url) >= sizeof(url)) {
		snprintf(err, errlen, "the Kubernetes API URL is longer than %zu bytes",
		         sizeof(url) - 1);
		return -1;
	}
	if (base_url(url, insecure, &s, err, errlen) != 0)
		return -1;
	if (token_file && *token_file) {
		if (strlen(token_file) >= sizeof(s.token_file)) {
			snprintf(err, errlen, "the token file's path is too long");
			return -1;
		}
		snprintf(s.token_file, sizeof(s.token_file), "%s", token_file);
	} else {
		snprintf(s.token_file, sizeof(s.token_file), "%s", K8S_SA_TOKEN);
	}
	if (ca_file && *ca_file) {
		if (strlen(ca_file) >= sizeof(s.ca_file) || access(ca_file, R_OK) != 0) {
			snprintf(err, errlen, "k8s_ca_file=%s cannot be read", ca_file);
			return -1;
		}
		snprintf(s.ca_file, sizeof(s.ca_file), "%s", ca_file);
	} else if (access(K8S_SA_CA, R_OK) == 0) {
		snprintf(s.ca_file, sizeof(s.ca_file), "%s", K8S_SA_CA);
	}
	s.insecure = insecure;
	s.timeout_ms = DEFAULT_TIMEOUT_MS;
	*src = s;
	return 0;
}

int k8s_source_is_http(const struct k8s_source *src)
{
	return strncmp(src->base_url, "http://", 7) == 0;
}

int k8s_source_token(const struct k8s_source *src, char *out, size_t outlen, char *reason,
                     size_t reasonlen)
{
	char err[128];
	int loose;

	if (secret_file_read(src->token_file, out, outlen, &loose, err, sizeof(err)) != 0) {
		snprintf(reason, reasonlen, "the service account token %s %s", src->token_file, err);
		text_clean(reason);
		return -1;
	}
	return 0;
}

void k8s_status_reason(long http_status, const char *body, size_t len, char *reason,
                       size_t reasonlen)
{
	json_object *root = NULL;
	struct jsonx_error jerr;
	const char *kind, *why, *message;
	char shown[200];

	if (body && len && jsonx_parse(body, len, &root, &jerr) == 0 &&
	    json_object_is_type(root, json_type_object) && (kind = jsonx_str(root, "kind")) &&
	    strcmp(kind, "Status") == 0) {
		why = jsonx_str(root, "reason");
		message = jsonx_str(root, "message");
		if (http_status == 401) {
			/* The message is only "Unauthorized": say what that means here. */
			snprintf(reason, reasonlen, "401 Unauthorized: the Kubernetes API refused the "
			                            "service account token (expired, or not this "
			                            "cluster's)");
		} else {
			snprintf(shown, sizeof(shown), "%s", message && *message ? message : "no message");
			text_clean(shown);
			snprintf(reason, reasonlen, "%ld %.40s: %s", http_status,
			         why && *why ? why : "Failure", shown);
			text_clean(reason);
		}
	} else {
		snprintf(reason, reasonlen, "HTTP %ld from the Kubernetes API (not a Status)",
		         http_status);
	}
	json_object_put(root);
}

void k8s_status_kind(const char *body, size_t len, char *out, size_t outlen)
{
	json_object *root = NULL;
	struct jsonx_error jerr;
	const char *kind, *why;

	if (outlen)
		out[0] = '\0';
	if (body && len && jsonx_parse(body, len, &root, &jerr) == 0 &&
	    json_object_is_type(root, json_type_object) && (kind = jsonx_str(root, "kind")) &&
	    strcmp(kind, "Status") == 0 && (why = jsonx_str(root, "reason"))) {
		snprintf(out, outlen, "%s", why);
		text_clean(out);
	}
	json_object_put(root);
}
