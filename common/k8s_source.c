/* k8s_source.c: see k8s_source.h. Moved here from agent/k8s_node.c (issue 13) so that
 * helperd reaches the same API the same way. */
#include "k8s_source.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int url_part(CURLU *u, CURLUPart part, char **value)
{
	*value = NULL;
	return curl_url_get(u, part, value, 0) == CURLUE_OK && *value && **value;
}

static int has_part(CURLU *u, CURLUPart part)
{
	char *v;
	int has = url_part(u, part, &v);

	curl_free(v);
	return has;
}

/* Checks url (https, or http when insecure; a host; no credentials, query or fragment)
 * and writes it without a trailing '/' into out. */
static int base_url(const char *url, int insecure, char *out, size_t outlen, char *err,
                    size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *norm = NULL;
	int rc = -1;
	size_t n;

	if (!u)
		goto out;
	/* The URL is not repeated in an error before its credentials are ruled out. */
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(err, errlen, "the Kubernetes API URL is not a valid URL");
		goto out;
	}
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_OPTIONS)) {
		snprintf(err, errlen, "credentials in the Kubernetes API URL are not supported "
		                      "(the token comes from its file)");
		goto out;
	}
	url_part(u, CURLUPART_SCHEME, &scheme);
	if (!scheme || (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
		snprintf(err, errlen, "%s: the Kubernetes API URL must start with https://", url);
		goto out;
	}
	if (strcmp(scheme, "http") == 0 && !insecure) {
		snprintf(err, errlen, "%s: http:// is not encrypted; use https://, or --insecure "
		                      "for local tests", url);
		goto out;
	}
	if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
		snprintf(err, errlen, "%s: a query or fragment has no place in the API's URL", url);
		goto out;
	}
	if (!has_part(u, CURLUPART_HOST)) {
		snprintf(err, errlen, "%s: no host", url);
		goto out;
	}
	if (!url_part(u, CURLUPART_URL, &norm)) {
		snprintf(err, errlen, "%s: not a valid URL", url);
		goto out;
	}
	n = strlen(norm);
	while (n > 0 && norm[n - 1] == '/')
		n--;
	if (n >= outlen) {
		snprintf(err, errlen, "the Kubernetes API URL is longer than %zu bytes", outlen - 1);
		goto out;
	}
	memcpy(out, norm, n);
	out[n] = '\0';
	rc = 0;
out:
	curl_free(scheme);
	curl_free(norm);
	curl_url_cleanup(u);
	return rc;
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
	if (base_url(url, insecure, s.base_url, sizeof(s.base_url), err, errlen) != 0)
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
