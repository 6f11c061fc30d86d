/* events_json.c: event JSON and the Origin check (events_json.h). */
#include "events_json.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ids.h"

/* Longest host[:port] compared. */
#define AUTHORITY_MAX 300

static char *finish(json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char *out = text ? strdup(text) : NULL;

	json_object_put(o);
	return out;
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

char *events_device_json(const char *device_id, int online, int64_t last_seen_ms,
                         const struct events_facts *facts)
{
	json_object *o = json_object_new_object();
	char ts[TIMESTAMP_LEN];

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("device"));
	json_object_object_add(o, "id", str_or_null(device_id));
	json_object_object_add(o, "status", json_object_new_string(online ? "online" : "offline"));
	if (last_seen_ms > 0) {
		ids_timestamp(last_seen_ms, ts);
		json_object_object_add(o, "last_seen", json_object_new_string(ts));
	} else {
		json_object_object_add(o, "last_seen", NULL);
	}
	if (facts) {
		if (facts->hostname)
			json_object_object_add(o, "hostname", json_object_new_string(facts->hostname));
		if (facts->os)
			json_object_object_add(o, "os", json_object_new_string(facts->os));
		if (facts->agent_version)
			json_object_object_add(o, "agent_version",
			                       json_object_new_string(facts->agent_version));
	}
	return finish(o);
}

char *events_session_json(const char *id, const char *device_id, const char *status,
                          const char *step)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("session"));
	json_object_object_add(o, "id", str_or_null(id));
	json_object_object_add(o, "device_id", str_or_null(device_id));
	json_object_object_add(o, "status", str_or_null(status));
	json_object_object_add(o, "step", str_or_null(step));
	return finish(o);
}

char *events_node_json(const char *device_id, const char *node_name, const char *node_status,
                       int unschedulable, const char *reason)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("node"));
	json_object_object_add(o, "id", str_or_null(device_id));
	json_object_object_add(o, "node_name", str_or_null(node_name));
	if (!reason) {
		json_object_object_add(o, "node_status", str_or_null(node_status));
		json_object_object_add(o, "unschedulable", json_object_new_boolean(unschedulable));
	}
	json_object_object_add(o, "node_reason", str_or_null(reason));
	return finish(o);
}

char *events_service_json(const char *id, const char *status, const char *error,
                          int pods_ready, int pods_total, int revision)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("service"));
	json_object_object_add(o, "id", str_or_null(id));
	json_object_object_add(o, "status", str_or_null(status));
	json_object_object_add(o, "error", str_or_null(error));
	json_object_object_add(o, "pods_ready", json_object_new_int(pods_ready));
	json_object_object_add(o, "pods_total", json_object_new_int(pods_total));
	json_object_object_add(o, "revision", json_object_new_int(revision));
	return finish(o);
}

/* host[:port] into out (lower case) with the port, or the default port when none is
 * written: 0, or -1 when it is not a plain authority (empty, too long, a path, user
 * info, a bad port, an unclosed IPv6 bracket). */
static int authority(const char *s, size_t len, const char *default_port, char *out)
{
	const char *port = NULL, *host_end = s + len;
	size_t hlen;

	if (len == 0 || len >= AUTHORITY_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || strchr("/?#@\\", c))
			return -1;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return -1;
		host_end = close + 1;
		if (host_end < s + len) {
			if (*host_end != ':')
				return -1;
			port = host_end + 1;
		}
	} else {
		const char *colon = memchr(s, ':', len);
		if (colon) {
			host_end = colon;
			port = colon + 1;
		}
	}
	hlen = (size_t)(host_end - s);
	if (hlen == 0)
		return -1;
	if (port) {
		size_t plen = (size_t)(s + len - port);
		if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen)
			return -1;
		/* No leading zeros: "080" is not port 80 to every reader. */
		while (plen > 1 && *port == '0') {
			port++;
			plen--;
		}
		memcpy(out, s, hlen);
		out[hlen] = ':';
		memcpy(out + hlen + 1, port, plen);
		out[hlen + 1 + plen] = '\0';
	} else {
		memcpy(out, s, hlen);
		out[hlen] = ':';
		strcpy(out + hlen + 1, default_port);
	}
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

int events_origin_ok(const char *origin, const char *host)
{
	char a[AUTHORITY_MAX + 8], b[AUTHORITY_MAX + 8];
	const char *rest, *default_port;

	if (!origin || !host)
		return 0;
	if (strncasecmp(origin, "http://", 7) == 0) {
		rest = origin + 7;
		default_port = "80";
	} else if (strncasecmp(origin, "https://", 8) == 0) {
		rest = origin + 8;
		default_port = "443";
	} else {
		return 0;
	}
	if (authority(rest, strlen(rest), default_port, a) != 0 ||
	    authority(host, strlen(host), default_port, b) != 0)
		return 0;
	return strcmp(a, b) == 0;
}
