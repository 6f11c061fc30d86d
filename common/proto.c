/* proto.c: the agent <-> helperd messages (proto.h): one field table per type, checked
 * with jsonx_check, plus the few rules a table cannot say (UUIDs, integer ranges, the
 * elements of heartbeat.sessions). Parsing and building share the same checks, so a
 * message one side builds is always one the other side accepts. */
#include "proto.h"

#include <stdint.h>
#include <stdio.h>
#include <sodium.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "ticket.h"

/* Bounds. The token is a base64 blob (a few hundred bytes in practice); the reason is a
 * sentence plus perhaps cloudflared's last log line. */
#define TOKEN_MAX 4096
#define REASON_MAX 1024
#define SECRET_MAX 256
#define DEVICE_ID_MAX 64
#define HEARTBEAT_MAX_S 3600
/* A node's quantities ("15601844Ki") and version texts ("containerd://1.7.13"). */
#define PROTO_QUANTITY_MAX 64
#define PROTO_VERSION_TEXT_MAX 256
/* More sessions than fit in PROTO_MAX_MSG cannot be sent anyway; this keeps the table
 * honest about it (16384 / 39 bytes per quoted UUID and comma). */
#define SESSIONS_MAX 400

/* Every table starts with "type" so jsonx_check accepts it as a member. */
#define TYPE_FIELD { "type", JSONX_STRING, 1, 1, 32, 0 }
#define SESSION_ID_FIELD { "session_id", JSONX_STRING, 1, 36, 36, 0 }

static const struct jsonx_field hello_fields[] = {
	TYPE_FIELD,
	{ "version", JSONX_INT, 1, 0, 0, 0 },
	/* exactly one of device_id and cluster_id (with node_name): check_hello */
	{ "device_id", JSONX_STRING, 0, 1, DEVICE_ID_MAX, 0 },
	{ "cluster_id", JSONX_STRING, 0, 1, DEVICE_ID_MAX, 0 },
	{ "node_name", JSONX_STRING, 0, 1, IDS_DNS_NAME_MAX, 0 },
	{ "secret", JSONX_STRING, 1, 1, SECRET_MAX, 0 },
	/* version 4: check_hello */
	{ "ticket", JSONX_STRING, 0, 1, TICKET_MAX - 1, 0 },
	{ "agent_version", JSONX_STRING, 1, 1, 64, 0 },
	{ "hostname", JSONX_STRING, 1, 1, 255, 0 },
	{ "os", JSONX_STRING, 1, 1, 256, 0 },
	{ "arch", JSONX_STRING, 1, 1, 64, 0 },
};
static const struct jsonx_field heartbeat_fields[] = {
	TYPE_FIELD,
	{ "sessions", JSONX_ARRAY, 1, 0, SESSIONS_MAX, 0 },
};
static const struct jsonx_field session_only_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
};
static const struct jsonx_field failed_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
	{ "reason", JSONX_STRING, 1, 1, REASON_MAX, 0 },
};
static const struct jsonx_field welcome_fields[] = {
	TYPE_FIELD,
	{ "heartbeat", JSONX_INT, 1, 0, 0, 0 },
	{ "device_id", JSONX_STRING, 0, 36, 36, 0 },
	{ "ticket", JSONX_STRING, 0, 1, TICKET_MAX - 1, 0 },
};
static const struct jsonx_field ticket_fields[] = {
	TYPE_FIELD,
	{ "ticket", JSONX_STRING, 1, 1, TICKET_MAX - 1, 0 },
};
/* A reading (error absent or null: every other member required) or a failure (error
 * only): check_node. The objects' insides are checked there too. */
static const struct jsonx_field node_fields[] = {
	TYPE_FIELD,
	{ "node_name", JSONX_STRING, 1, 1, IDS_DNS_NAME_MAX, 0 },
	{ "node_status", JSONX_STRING, 0, 1, 16, 0 },
	{ "unschedulable", JSONX_BOOL, 0, 0, 0, 0 },
	{ "labels", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "resources", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "versions", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "error", JSONX_STRING, 0, 1, REASON_MAX, 1 },
};
static const char *const node_reading[] = { "node_status", "unschedulable", "labels",
	                                    "resources", "versions" };
#define QUANTITY_FIELD(name) { name, JSONX_STRING, 0, 1, PROTO_QUANTITY_MAX, 1 }
static const struct jsonx_field quantities_fields[] = {
	QUANTITY_FIELD("cpu"), QUANTITY_FIELD("memory"), QUANTITY_FIELD("pods"),
};
#define AMOUNT_FIELD(name) { name, JSONX_INT, 1, 0, 0, 1 }
static const struct jsonx_field resources_fields[] = {
	AMOUNT_FIELD("cpu_capacity_m"), AMOUNT_FIELD("cpu_allocatable_m"),
	AMOUNT_FIELD("memory_capacity"), AMOUNT_FIELD("memory_allocatable"),
	{ "capacity", JSONX_OBJECT, 1, 0, 0, 0 },
	{ "allocatable", JSONX_OBJECT, 1, 0, 0, 0 },
};
#define VERSION_FIELD(name) { name, JSONX_STRING, 0, 0, PROTO_VERSION_TEXT_MAX, 1 }
static const struct jsonx_field versions_fields[] = {
	VERSION_FIELD("kubelet"), VERSION_FIELD("os_image"), VERSION_FIELD("kernel"),
	VERSION_FIELD("container_runtime"), VERSION_FIELD("architecture"),
};
static const struct jsonx_field start_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
	{ "token", JSONX_STRING, 1, 1, TOKEN_MAX, 0 },
	{ "metrics_port", JSONX_INT, 0, 0, 0, 0 },
};
#define STREAM_ID_FIELD { "stream_id", JSONX_STRING, 1, 36, 36, 0 }
static const struct jsonx_field relay_failed_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
	STREAM_ID_FIELD,
	{ "reason", JSONX_STRING, 1, 1, REASON_MAX, 0 },
};
static const struct jsonx_field relay_start_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
	{ "ssh_port", JSONX_INT, 1, 0, 0, 0 },
	{ "web_port", JSONX_INT, 1, 0, 0, 0 },
};
static const struct jsonx_field relay_open_fields[] = {
	TYPE_FIELD,
	SESSION_ID_FIELD,
	STREAM_ID_FIELD,
	{ "target", JSONX_STRING, 1, 3, 3, 0 },
	{ "key", JSONX_STRING, 1, PROTO_STREAM_KEY_LEN, PROTO_STREAM_KEY_LEN, 0 },
};

/* THE table, indexed by enum proto_type. */
static const struct {
	const char *name;
	const struct jsonx_field *fields;
	size_t n;
} types[PROTO__MAX] = {
	[PROTO_HELLO] = { "hello", hello_fields, ARRAY_LEN(hello_fields) },
	[PROTO_HEARTBEAT] = { "heartbeat", heartbeat_fields, ARRAY_LEN(heartbeat_fields) },
	[PROTO_TUNNEL_READY] = { "tunnel.ready", session_only_fields,
	                         ARRAY_LEN(session_only_fields) },
	[PROTO_TUNNEL_FAILED] = { "tunnel.failed", failed_fields, ARRAY_LEN(failed_fields) },
	[PROTO_TUNNEL_STOPPED] = { "tunnel.stopped", session_only_fields,
	                           ARRAY_LEN(session_only_fields) },
	[PROTO_WELCOME] = { "welcome", welcome_fields, ARRAY_LEN(welcome_fields) },
	[PROTO_TUNNEL_START] = { "tunnel.start", start_fields, ARRAY_LEN(start_fields) },
	[PROTO_TUNNEL_STOP] = { "tunnel.stop", session_only_fields,
	                        ARRAY_LEN(session_only_fields) },
	[PROTO_RELAY_FAILED] = { "relay.failed", relay_failed_fields,
	                         ARRAY_LEN(relay_failed_fields) },
	[PROTO_RELAY_START] = { "relay.start", relay_start_fields, ARRAY_LEN(relay_start_fields) },
	[PROTO_RELAY_OPEN] = { "relay.open", relay_open_fields, ARRAY_LEN(relay_open_fields) },
	[PROTO_NODE] = { "node", node_fields, ARRAY_LEN(node_fields) },
	[PROTO_TICKET] = { "ticket", ticket_fields, ARRAY_LEN(ticket_fields) },
};

static void proto_fail(struct jsonx_error *err, const char *code, const char *field,
                       const char *message)
{
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	snprintf(err->message, sizeof(err->message), "%s", message);
}

/* Makes err (from checking member's object) the member's: field member, message
 * "member: <what was wrong inside>", cut to fit. */
static void proto_fail_in(struct jsonx_error *err, const char *member)
{
	char inner[sizeof(err->message)];
	size_t n = strlen(member), k;

	memcpy(inner, err->message, sizeof(inner));
	inner[sizeof(inner) - 1] = '\0';
	snprintf(err->code, sizeof(err->code), "%s", "invalid_field");
	snprintf(err->field, sizeof(err->field), "%s", member);
	if (n + 3 > sizeof(err->message))
		n = sizeof(err->message) - 3;
	memcpy(err->message, member, n);
	memcpy(err->message + n, ": ", 2);
	k = strlen(inner);
	if (k > sizeof(err->message) - n - 3)
		k = sizeof(err->message) - n - 3;
	memcpy(err->message + n + 2, inner, k);
	err->message[n + 2 + k] = '\0';
}

int proto_type_parse(const char *name)
{
	if (!name)
		return -1;
	for (int t = 0; t < PROTO__MAX; t++)
		if (strcmp(types[t].name, name) == 0)
			return t;
	return -1;
}

const char *proto_type_name(enum proto_type type)
{
	if ((int)type < 0 || type >= PROTO__MAX)
		return "?";
	return types[type].name;
}

/* An integer member within [min, max]; absent is fine (the table says if it is required). */
static int int_in_range(json_object *obj, const char *name, int64_t min, int64_t max,
                        struct jsonx_error *err)
{
	json_object *v;
	int64_t n;
	char message[128];

	if (!json_object_object_get_ex(obj, name, &v) || v == NULL)
		return 0;
	/* json-c clamps numbers beyond int64 to INT64_MIN/MAX: out of range here too. */
	n = json_object_get_int64(v);
	if (n >= min && n <= max)
		return 0;
	snprintf(message, sizeof(message), "%s: must be an integer from %lld to %lld", name,
	         (long long)min, (long long)max);
	proto_fail(err, "invalid_field", name, message);
	return -1;
}

/* hello: a device's (device_id) or a node's (version 3: cluster_id and node_name). */
static int check_hello(json_object *obj, struct jsonx_error *err)
{
	const char *device_id = jsonx_str(obj, "device_id");
	const char *cluster_id = jsonx_str(obj, "cluster_id");
	const char *node_name = jsonx_str(obj, "node_name");
	int version = json_object_get_int(json_object_object_get(obj, "version"));

	if (jsonx_str(obj, "ticket") && version < 4) {
		proto_fail(err, "invalid_field", "ticket", "ticket: needs protocol version 4");
		return -1;
	}
	if (device_id && cluster_id) {
		proto_fail(err, "invalid_field", "cluster_id",
		           "cluster_id: give device_id or cluster_id, not both");
		return -1;
	}
	if (!device_id && !cluster_id) {
		proto_fail(err, "missing_field", "device_id",
		           "device_id: this field is required (or cluster_id and node_name)");
		return -1;
	}
	if (device_id) {
		if (node_name) {
			proto_fail(err, "invalid_field", "node_name",
			           "node_name: only with cluster_id");
			return -1;
		}
		return 0;
	}
	if (version < 3) {
		proto_fail(err, "invalid_field", "cluster_id",
		           "cluster_id: needs protocol version 3");
		return -1;
	}
	if (!node_name) {
		proto_fail(err, "missing_field", "node_name",
		           "node_name: this field is required with cluster_id");
		return -1;
	}
	if (!ids_dns_subdomain(node_name)) {
		proto_fail(err, "invalid_field", "node_name",
		           "node_name: must be a Kubernetes node name (DNS-1123 subdomain)");
		return -1;
	}
	return 0;
}

/* The member object's members against a table; an error is said as the member's:
 * field "resources", message "resources: capacity: ...". */
static int check_inner(json_object *obj, const char *member, const struct jsonx_field *fields,
                       size_t n, struct jsonx_error *err)
{
	if (jsonx_check(json_object_object_get(obj, member), fields, n, err) == 0)
		return 0;
	proto_fail_in(err, member);
	return -1;
}

/* A label key: an optional DNS prefix and '/', then a name of at most 63 of letters,
 * digits, '-', '_', '.'; a value: such a name or "". Kubernetes guarantees both; here
 * they are what an untrusted agent sent. */
static int label_name_ok(const char *s, size_t max, int empty_ok)
{
	size_t n = strlen(s);

	if (n == 0)
		return empty_ok;
	if (n > max)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static int label_ok(const char *key, json_object *value)
{
	const char *slash = strchr(key, '/');
	char prefix[IDS_DNS_NAME_MAX + 1];

	if (!json_object_is_type(value, json_type_string) ||
	    !label_name_ok(json_object_get_string(value), 63, 1))
		return 0;
	if (slash) {
		size_t n = (size_t)(slash - key);
		if (n == 0 || n > IDS_DNS_NAME_MAX)
			return 0;
		memcpy(prefix, key, n);
		prefix[n] = '\0';
		if (!ids_dns_subdomain(prefix))
			return 0;
		key = slash + 1;
	}
	return label_name_ok(key, 63, 0);
}

static int check_node(json_object *obj, struct jsonx_error *err)
{
	const char *status = jsonx_str(obj, "node_status");
	json_object *labels, *resources;

	if (!ids_dns_subdomain(jsonx_str(obj, "node_name"))) {
		proto_fail(err, "invalid_field", "node_name",
		           "node_name: must be a Kubernetes node name (DNS-1123 subdomain)");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_LEN(node_reading); i++) {
		int has = json_object_object_get_ex(obj, node_reading[i], NULL);
		char message[128];
		if (jsonx_str(obj, "error") && has) {
			snprintf(message, sizeof(message), "%s: not with error (a failed reading)",
			         node_reading[i]);
			proto_fail(err, "invalid_field", node_reading[i], message);
			return -1;
		}
		if (!jsonx_str(obj, "error") && !has) {
			snprintf(message, sizeof(message), "%s: this field is required (or error)",
			         node_reading[i]);
			proto_fail(err, "missing_field", node_reading[i], message);
			return -1;
		}
	}
	if (jsonx_str(obj, "error"))
		return 0;
	if (strcmp(status, "Ready") != 0 && strcmp(status, "NotReady") != 0 &&
	    strcmp(status, "Unknown") != 0) {
		proto_fail(err, "invalid_field", "node_status",
		           "node_status: must be Ready, NotReady or Unknown");
		return -1;
	}
	labels = json_object_object_get(obj, "labels");
	json_object_object_foreach(labels, key, value) {
		if (!label_ok(key, value)) {
			proto_fail(err, "invalid_field", "labels",
			           "labels: each must be a Kubernetes label (prefix/name: value)");
			return -1;
		}
	}
	if (check_inner(obj, "versions", versions_fields, ARRAY_LEN(versions_fields), err) != 0 ||
	    check_inner(obj, "resources", resources_fields, ARRAY_LEN(resources_fields), err) != 0)
		return -1;
	resources = json_object_object_get(obj, "resources");
	if (check_inner(resources, "capacity", quantities_fields, ARRAY_LEN(quantities_fields),
	                err) != 0 ||
	    check_inner(resources, "allocatable", quantities_fields, ARRAY_LEN(quantities_fields),
	                err) != 0) {
		proto_fail_in(err, "resources");
		return -1;
	}
	for (size_t i = 0; i < 4; i++)
		if (int_in_range(resources, resources_fields[i].name, 0, INT64_MAX, err) != 0) {
			proto_fail_in(err, "resources");
			return -1;
		}
	return 0;
}

/* The checks a field table cannot express. */
static int check_extra(enum proto_type type, json_object *obj, struct jsonx_error *err)
{
	const char *session_id = jsonx_str(obj, "session_id");
	const char *stream_id = jsonx_str(obj, "stream_id");

	if (session_id && !ids_is_uuid(session_id)) {
		proto_fail(err, "invalid_field", "session_id", "session_id: must be a UUID");
		return -1;
	}
	if (stream_id && !ids_is_uuid(stream_id)) {
		proto_fail(err, "invalid_field", "stream_id", "stream_id: must be a UUID");
		return -1;
	}
	switch (type) {
	case PROTO_HELLO:
		if (int_in_range(obj, "version", 1, INT32_MAX, err) != 0)
			return -1;
		return check_hello(obj, err);
	case PROTO_WELCOME: {
		const char *device_id = jsonx_str(obj, "device_id");
		if (device_id && !ids_is_uuid(device_id)) {
			proto_fail(err, "invalid_field", "device_id", "device_id: must be a UUID");
			return -1;
		}
		return int_in_range(obj, "heartbeat", 1, HEARTBEAT_MAX_S, err);
	}
	case PROTO_NODE:
		return check_node(obj, err);
	case PROTO_TUNNEL_START:
		return int_in_range(obj, "metrics_port", 1, 65535, err);
	case PROTO_RELAY_START:
		if (int_in_range(obj, "ssh_port", 1, 65535, err) != 0)
			return -1;
		return int_in_range(obj, "web_port", 1, 65535, err);
	case PROTO_RELAY_OPEN: {
		const char *target = jsonx_str(obj, "target");
		const char *key = jsonx_str(obj, "key");
		if (strcmp(target, "ssh") != 0 && strcmp(target, "web") != 0) {
			proto_fail(err, "invalid_field", "target", "target: must be ssh or web");
			return -1;
		}
		for (const char *k = key; *k; k++)
			if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
			      (*k >= '0' && *k <= '9') || *k == '-' || *k == '_')) {
				proto_fail(err, "invalid_field", "key", "key: must be base64url");
				return -1;
			}
		return 0;
	}
	case PROTO_HEARTBEAT: {
		json_object *sessions = json_object_object_get(obj, "sessions");
		size_t n = json_object_array_length(sessions);
		for (size_t i = 0; i < n; i++) {
			json_object *s = json_object_array_get_idx(sessions, i);
			if (!json_object_is_type(s, json_type_string) ||
			    !ids_is_uuid(json_object_get_string(s))) {
				proto_fail(err, "invalid_field", "sessions",
				           "sessions: must be an array of session UUIDs");
				return -1;
			}
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Checks an object that claims to be a message; on success returns its type. */
static int check_message(json_object *obj, struct jsonx_error *err)
{
	json_object *tv;
	int type;

	if (!json_object_is_type(obj, json_type_object)) {
		proto_fail(err, "not_an_object", NULL, "a message must be a JSON object");
		return -1;
	}
	if (!json_object_object_get_ex(obj, "type", &tv)) {
		proto_fail(err, "missing_field", "type", "type: this field is required");
		return -1;
	}
	if (!json_object_is_type(tv, json_type_string)) {
		proto_fail(err, "invalid_field", "type", "type: must be a string");
		return -1;
	}
	type = proto_type_parse(json_object_get_string(tv));
	if (type < 0) {
		proto_fail(err, "unknown_type", "type", "type: not a message type of this protocol");
		return -1;
	}
	if (jsonx_check(obj, types[type].fields, types[type].n, err) != 0)
		return -1;
	if (check_extra((enum proto_type)type, obj, err) != 0)
		return -1;
	return type;
}

int proto_parse(const char *data, size_t len, struct proto_msg *out, struct jsonx_error *err)
{
	json_object *obj = NULL;
	int type;

	if (len > PROTO_MAX_MSG) {
		proto_fail(err, "too_large", NULL, "the message is larger than PROTO_MAX_MSG bytes");
		return -1;
	}
	if (jsonx_parse(data, len, &obj, err) != 0)
		return -1;
	type = check_message(obj, err);
	if (type < 0) {
		json_object_put(obj);
		return -1;
	}
	out->type = (enum proto_type)type;
	out->obj = obj;
	return 0;
}

/* Zeroes the string values of the members that carry secrets (a tunnel token), so no
 * copy json-c made of them outlives the message in freed memory. */
static void wipe_secrets(json_object *obj)
{
	static const char *const secret_members[] = { "token", "secret", "key", "ticket" };
	json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object))
		return;
	for (size_t i = 0; i < sizeof(secret_members) / sizeof(secret_members[0]); i++)
		if (json_object_object_get_ex(obj, secret_members[i], &v) &&
		    json_object_is_type(v, json_type_string))
			sodium_memzero((void *)json_object_get_string(v),
			               (size_t)json_object_get_string_len(v));
}

void proto_msg_clear(struct proto_msg *msg)
{
	if (!msg)
		return;
	wipe_secrets(msg->obj); /* a tunnel.start's token */
	json_object_put(msg->obj);
	msg->obj = NULL;
}

/* fields is always consumed: its members move into the message, then it is released. */
void proto_text_free(char *text)
{
	if (!text)
		return;
	sodium_memzero(text, strlen(text));
	free(text);
}

char *proto_build(enum proto_type type, json_object *fields)
{
	json_object *obj = NULL;
	struct proto_msg check = { 0 };
	struct jsonx_error err;
	const char *text = NULL;
	char *out = NULL;

	if ((int)type < 0 || type >= PROTO__MAX) {
		log_error("proto: build of unknown message type %d", (int)type);
		goto out;
	}
	if (fields && !json_object_is_type(fields, json_type_object)) {
		log_error("proto: %s: fields must be a JSON object", types[type].name);
		goto out;
	}
	obj = json_object_new_object();
	if (!obj)
		goto out;
	json_object_object_add(obj, "type", json_object_new_string(types[type].name));
	if (fields) {
		json_object_object_foreach(fields, key, val) {
			if (strcmp(key, "type") == 0) {
				log_error("proto: %s: fields must not carry a type member",
				          types[type].name);
				goto out;
			}
			json_object_object_add(obj, key, json_object_get(val));
		}
	}
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto out;
	/* Re-parse the text exactly as the receiver will: this also catches invalid UTF-8
	 * and the size cap, which the object alone cannot show. The message names the field,
	 * never its value, so a token cannot leak into the log. */
	if (proto_parse(text, strlen(text), &check, &err) != 0) {
		log_error("proto: %s: refusing to send an invalid message: %s (%s)",
		          types[type].name, err.message, err.code);
		goto out;
	}
	wipe_secrets(check.obj);
	proto_msg_clear(&check);
	out = strdup(text);
out:
	/* The serialised text lives in obj's print buffer: wipe it with the members. */
	if (obj && text)
		sodium_memzero((void *)text, strlen(text));
	wipe_secrets(obj);
	json_object_put(obj);
	json_object_put(fields);
	return out;
}
