/* check_proto.c: the agent <-> helperd messages (data-driven): every type valid and
 * invalid, unknown types and members, the size cap, and builders that round-trip. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define U1 "0190a8e2-7c1d-7abc-8def-0123456789ab"
#define U2 "0190A8E2-7C1D-7ABC-8DEF-0123456789AC"
#define HELLO_REST ",\"device_id\":\"dev-1\",\"secret\":\"s3cret\",\"agent_version\":\"0.1.0\"," \
                   "\"hostname\":\"web-1\",\"os\":\"Debian GNU/Linux 12 (bookworm) 6.1.0\"," \
                   "\"arch\":\"x86_64\"}"

#define CLUSTER_REST ",\"secret\":\"s3cret\",\"agent_version\":\"0.1.0\",\"hostname\":\"w\"," \
                     "\"os\":\"Linux\",\"arch\":\"x86_64\"}"
#define RES_GOOD "{\"cpu_capacity_m\":4000,\"cpu_allocatable_m\":3910," \
                 "\"memory_capacity\":16710291456,\"memory_allocatable\":null," \
                 "\"capacity\":{\"cpu\":\"4\",\"memory\":\"16318644Ki\",\"pods\":\"110\"}," \
                 "\"allocatable\":{\"cpu\":\"3910m\",\"memory\":null}}"
#define NODE_WITH(status, unsched, labels, res, versions) \
	"{\"type\":\"node\",\"node_name\":\"worker-1\",\"node_status\":" status \
	",\"unschedulable\":" unsched ",\"labels\":" labels ",\"resources\":" res \
	",\"versions\":" versions "}"
#define NODE_GOOD NODE_WITH("\"Ready\"", "false", \
	"{\"kubernetes.io/hostname\":\"worker-1\",\"node-role.kubernetes.io/worker\":\"\"}", \
	RES_GOOD, "{\"kubelet\":\"v1.30.2\",\"os_image\":\"Debian GNU/Linux 12 (bookworm)\"," \
	"\"kernel\":\"6.1.0-21-amd64\",\"container_runtime\":\"containerd://1.7.13\"," \
	"\"architecture\":\"amd64\"}")

static const struct {
	const char *text;
	int type;         /* expected type when accepted */
	const char *code; /* NULL: accepted */
	const char *field;
} cases[] = {
	/* hello */
	{ "{\"type\":\"hello\",\"version\":1" HELLO_REST, PROTO_HELLO, NULL, "" },
	{ "{\"type\":\"hello\",\"version\":\"1\"" HELLO_REST, 0, "invalid_field", "version" },
	{ "{\"type\":\"hello\",\"version\":1.0" HELLO_REST, 0, "invalid_field", "version" },
	{ "{\"type\":\"hello\",\"version\":0" HELLO_REST, 0, "invalid_field", "version" },
	/* Past 64 bits: refused by the JSON reader rather than clamped. */
	{ "{\"type\":\"hello\",\"version\":99999999999999999999999" HELLO_REST, 0, "invalid_json",
	  "" },
	{ "{\"type\":\"hello\",\"version\":1,\"device_id\":\"d\",\"agent_version\":\"1\","
	  "\"hostname\":\"h\",\"os\":\"o\",\"arch\":\"a\"}", 0, "missing_field", "secret" },
	{ "{\"type\":\"hello\",\"version\":1,\"device_id\":\"\",\"secret\":\"s\",\"agent_version\":"
	  "\"1\",\"hostname\":\"h\",\"os\":\"o\",\"arch\":\"a\"}", 0, "invalid_field", "device_id" },
	{ "{\"type\":\"hello\",\"version\":1,\"extra\":true" HELLO_REST, 0, "unknown_field",
	  "extra" },
	{ "{\"type\":\"hello\",\"version\":1,\"device_id\":\"d\",\"secret\":\"s\\n\","
	  "\"agent_version\":\"1\",\"hostname\":\"h\",\"os\":\"o\",\"arch\":\"a\"}", 0,
	  "invalid_field", "secret" },
	/* hello, version 4: a resumption ticket beside the secret */
	{ "{\"type\":\"hello\",\"version\":4,\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" HELLO_REST, PROTO_HELLO, NULL, "" },
	{ "{\"type\":\"hello\",\"version\":3,\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" HELLO_REST, 0, "invalid_field",
	  "ticket" },
	{ "{\"type\":\"hello\",\"version\":4,\"ticket\":\"\"" HELLO_REST, 0, "invalid_field",
	  "ticket" },
	{ "{\"type\":\"hello\",\"version\":4,\"ticket\":7" HELLO_REST, 0, "invalid_field",
	  "ticket" },
	/* Bounded: TICKET_MAX - 1 characters at most. */
	{ "{\"type\":\"hello\",\"version\":4,\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" HELLO_REST, 0,
	  "invalid_field", "ticket" },
	{ "{\"type\":\"hello\",\"version\":4,\"cluster_id\":\"" U1 "\",\"node_name\":\"w-1\","
	  "\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" CLUSTER_REST, PROTO_HELLO, NULL, "" },
	/* The secret stays required: a refused ticket falls back to it. */
	{ "{\"type\":\"hello\",\"version\":4,\"device_id\":\"d\",\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	  "\"agent_version\":\"1\",\"hostname\":\"h\",\"os\":\"o\",\"arch\":\"a\"}", 0,
	  "missing_field", "secret" },
	/* hello, version 3: a node's agent */
	{ "{\"type\":\"hello\",\"version\":3,\"cluster_id\":\"" U1 "\",\"node_name\":\"worker-1\""
	  CLUSTER_REST, PROTO_HELLO, NULL, "" },
	{ "{\"type\":\"hello\",\"version\":2,\"cluster_id\":\"" U1 "\",\"node_name\":\"worker-1\""
	  CLUSTER_REST, 0, "invalid_field", "cluster_id" },
	{ "{\"type\":\"hello\",\"version\":3,\"cluster_id\":\"" U1 "\"" CLUSTER_REST, 0,
	  "missing_field", "node_name" },
	{ "{\"type\":\"hello\",\"version\":3,\"cluster_id\":\"" U1 "\",\"node_name\":\"../secrets\""
	  CLUSTER_REST, 0, "invalid_field", "node_name" },
	{ "{\"type\":\"hello\",\"version\":3,\"cluster_id\":\"" U1 "\",\"node_name\":\"Worker\""
	  CLUSTER_REST, 0, "invalid_field", "node_name" },
	{ "{\"type\":\"hello\",\"version\":3,\"cluster_id\":\"" U1 "\",\"device_id\":\"" U2 "\","
	  "\"node_name\":\"w\"" CLUSTER_REST, 0, "invalid_field", "cluster_id" },
	{ "{\"type\":\"hello\",\"version\":3,\"node_name\":\"w\"" CLUSTER_REST, 0, "missing_field",
	  "device_id" },
	{ "{\"type\":\"hello\",\"version\":3,\"node_name\":\"w\"" HELLO_REST, 0, "invalid_field",
	  "node_name" },
	/* node */
	{ NODE_GOOD, PROTO_NODE, NULL, "" },
	{ "{\"type\":\"node\",\"node_name\":\"worker-1\",\"error\":\"403 Forbidden: nodes is "
	  "forbidden\"}", PROTO_NODE, NULL, "" },
	{ "{\"type\":\"node\",\"node_name\":\"worker-1\",\"error\":\"\"}", 0, "invalid_field",
	  "error" },
	{ "{\"type\":\"node\",\"node_name\":\"worker-1\",\"error\":\"x\",\"node_status\":\"Ready\"}",
	  0, "invalid_field", "node_status" },
	{ "{\"type\":\"node\",\"node_name\":\"worker-1\"}", 0, "missing_field", "node_status" },
	{ "{\"type\":\"node\",\"node_name\":\"worker-1\",\"error\":null,\"node_status\":\"Ready\","
	  "\"unschedulable\":false,\"labels\":{},\"resources\":" RES_GOOD "}", 0, "missing_field",
	  "versions" },
	{ NODE_WITH("\"Sick\"", "false", "{}", RES_GOOD, "{}"), 0, "invalid_field",
	  "node_status" },
	{ NODE_WITH("\"NotReady\"", "0", "{}", RES_GOOD, "{}"), 0, "invalid_field",
	  "unschedulable" },
	{ NODE_WITH("\"NotReady\"", "true", "[]", RES_GOOD, "{}"), 0, "invalid_field", "labels" },
	{ NODE_WITH("\"Unknown\"", "true", "{\"a\":1}", RES_GOOD, "{}"), 0, "invalid_field",
	  "labels" },
	{ NODE_WITH("\"Unknown\"", "true", "{\"a b\":\"c\"}", RES_GOOD, "{}"), 0, "invalid_field",
	  "labels" },
	{ NODE_WITH("\"Unknown\"", "true", "{\"/a\":\"c\"}", RES_GOOD, "{}"), 0, "invalid_field",
	  "labels" },
	{ NODE_WITH("\"Unknown\"", "true", "{\"a\":\"c\\n\"}", RES_GOOD, "{}"), 0,
	  "invalid_field", "labels" },
	{ NODE_WITH("\"Ready\"", "false", "{\"example.com/role\":\"\",\"x_y.z-1\":\"v-1.2_3\"}",
	            RES_GOOD, "{\"kubelet\":null}"), PROTO_NODE, NULL, "" },
	{ NODE_WITH("\"Ready\"", "false", "{}", RES_GOOD, "{\"kubelet\":1}"), 0, "invalid_field",
	  "versions" },
	{ NODE_WITH("\"Ready\"", "false", "{}", RES_GOOD, "{\"shell\":\"x\"}"), 0,
	  "invalid_field", "versions" },
	{ NODE_WITH("\"Ready\"", "false", "{}", "{}", "{}"), 0, "invalid_field", "resources" },
	{ NODE_WITH("\"Ready\"", "false", "{}",
	            "{\"cpu_capacity_m\":-1,\"cpu_allocatable_m\":null,\"memory_capacity\":null,"
	            "\"memory_allocatable\":null,\"capacity\":{},\"allocatable\":{}}", "{}"),
	  0, "invalid_field", "resources" },
	{ NODE_WITH("\"Ready\"", "false", "{}",
	            "{\"cpu_capacity_m\":null,\"cpu_allocatable_m\":null,\"memory_capacity\":null,"
	            "\"memory_allocatable\":null,\"capacity\":{\"cpu\":7},\"allocatable\":{}}",
	            "{}"),
	  0, "invalid_field", "resources" },
	{ "{\"type\":\"node\",\"node_name\":\"UPPER\",\"error\":\"x\"}", 0, "invalid_field",
	  "node_name" },
	/* welcome, version 3 */
	{ "{\"type\":\"welcome\",\"heartbeat\":30,\"device_id\":\"" U1 "\"}", PROTO_WELCOME, NULL,
	  "" },
	{ "{\"type\":\"welcome\",\"heartbeat\":30,\"device_id\":\"dev-1\"}", 0, "invalid_field",
	  "device_id" },
	/* welcome and ticket, version 4 */
	{ "{\"type\":\"welcome\",\"heartbeat\":30,\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", PROTO_WELCOME, NULL, "" },
	{ "{\"type\":\"ticket\",\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", PROTO_TICKET, NULL, "" },
	{ "{\"type\":\"ticket\"}", 0, "missing_field", "ticket" },
	{ "{\"type\":\"ticket\",\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", 0, "invalid_field", "ticket" },
	{ "{\"type\":\"ticket\",\"ticket\":\"1.1.1790000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"heartbeat\":3}", 0, "unknown_field",
	  "heartbeat" },
	/* heartbeat */
	{ "{\"type\":\"heartbeat\",\"sessions\":[]}", PROTO_HEARTBEAT, NULL, "" },
	{ "{\"type\":\"heartbeat\",\"sessions\":[\"" U1 "\",\"" U2 "\"]}", PROTO_HEARTBEAT, NULL,
	  "" },
	{ "{\"type\":\"heartbeat\"}", 0, "missing_field", "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":null}", 0, "invalid_field", "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":\"" U1 "\"}", 0, "invalid_field", "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":[1]}", 0, "invalid_field", "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":[\"not-a-uuid\"]}", 0, "invalid_field",
	  "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":[\"" U1 "\",null]}", 0, "invalid_field",
	  "sessions" },
	{ "{\"type\":\"heartbeat\",\"sessions\":[],\"x\":1}", 0, "unknown_field", "x" },
	/* tunnel.ready / tunnel.stopped / tunnel.stop */
	{ "{\"type\":\"tunnel.ready\",\"session_id\":\"" U1 "\"}", PROTO_TUNNEL_READY, NULL, "" },
	{ "{\"type\":\"tunnel.ready\"}", 0, "missing_field", "session_id" },
	{ "{\"type\":\"tunnel.ready\",\"session_id\":\"0190a8e2-7c1d-7abc-8def-0123456789az\"}", 0,
	  "invalid_field", "session_id" },
	{ "{\"type\":\"tunnel.ready\",\"session_id\":\"x\"}", 0, "invalid_field", "session_id" },
	{ "{\"type\":\"tunnel.stopped\",\"session_id\":\"" U2 "\"}", PROTO_TUNNEL_STOPPED, NULL,
	  "" },
	{ "{\"type\":\"tunnel.stopped\",\"session_id\":7}", 0, "invalid_field", "session_id" },
	{ "{\"type\":\"tunnel.stop\",\"session_id\":\"" U1 "\"}", PROTO_TUNNEL_STOP, NULL, "" },
	{ "{\"type\":\"tunnel.stop\",\"session_id\":\"" U1 "\",\"token\":\"t\"}", 0,
	  "unknown_field", "token" },
	/* tunnel.failed */
	{ "{\"type\":\"tunnel.failed\",\"session_id\":\"" U1 "\",\"reason\":\"exit 1\"}",
	  PROTO_TUNNEL_FAILED, NULL, "" },
	{ "{\"type\":\"tunnel.failed\",\"session_id\":\"" U1 "\"}", 0, "missing_field", "reason" },
	{ "{\"type\":\"tunnel.failed\",\"session_id\":\"" U1 "\",\"reason\":\"\"}", 0,
	  "invalid_field", "reason" },
	/* welcome */
	{ "{\"type\":\"welcome\",\"heartbeat\":30}", PROTO_WELCOME, NULL, "" },
	{ "{\"type\":\"welcome\"}", 0, "missing_field", "heartbeat" },
	{ "{\"type\":\"welcome\",\"heartbeat\":0}", 0, "invalid_field", "heartbeat" },
	{ "{\"type\":\"welcome\",\"heartbeat\":-5}", 0, "invalid_field", "heartbeat" },
	{ "{\"type\":\"welcome\",\"heartbeat\":86400}", 0, "invalid_field", "heartbeat" },
	{ "{\"type\":\"welcome\",\"heartbeat\":true}", 0, "invalid_field", "heartbeat" },
	/* tunnel.start */
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"eyJh\"}",
	  PROTO_TUNNEL_START, NULL, "" },
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"eyJh\","
	  "\"metrics_port\":20241}", PROTO_TUNNEL_START, NULL, "" },
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"eyJh\","
	  "\"metrics_port\":65536}", 0, "invalid_field", "metrics_port" },
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"eyJh\","
	  "\"metrics_port\":\"80\"}", 0, "invalid_field", "metrics_port" },
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\"}", 0, "missing_field", "token" },
	{ "{\"type\":\"tunnel.start\",\"token\":\"eyJh\"}", 0, "missing_field", "session_id" },
	{ "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"\"}", 0,
	  "invalid_field", "token" },
	/* the envelope */
	{ "{\"type\":\"shell.exec\",\"cmd\":\"id\"}", 0, "unknown_type", "type" },
	{ "{\"type\":\"HELLO\"}", 0, "unknown_type", "type" },
	{ "{\"type\":7}", 0, "invalid_field", "type" },
	{ "{\"type\":null}", 0, "invalid_field", "type" },
	{ "{\"session_id\":\"" U1 "\"}", 0, "missing_field", "type" },
	{ "[\"hello\"]", 0, "not_an_object", "" },
	{ "\"hello\"", 0, "not_an_object", "" },
	{ "null", 0, "not_an_object", "" },
	{ "{\"type\":\"welcome\",\"heartbeat\":30", 0, "invalid_json", "" },
	{ "{\"type\":\"welcome\",\"heartbeat\":30}{}", 0, "invalid_json", "" },
	{ "{\"type\":\"tunnel.ready\",\"session_id\":\"\xc3\x28\"}", 0, "invalid_json", "" },
	{ "", 0, "invalid_json", "" },
};

START_TEST(test_cases)
{
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	const char *text = cases[_i].text;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = proto_parse(text, strlen(text), &msg, &err);
	if (!cases[_i].code) {
		ck_assert_msg(rc == 0, "case %d (%s): %s", _i, text, err.message);
		ck_assert_int_eq(msg.type, cases[_i].type);
		ck_assert_ptr_nonnull(msg.obj);
		ck_assert_str_eq(jsonx_str(msg.obj, "type"), proto_type_name(msg.type));
		proto_msg_clear(&msg);
		ck_assert_ptr_null(msg.obj);
	} else {
		ck_assert_msg(rc == -1, "case %d (%s) accepted", _i, text);
		ck_assert_msg(strcmp(err.code, cases[_i].code) == 0, "case %d: code %s, want %s (%s)",
		              _i, err.code, cases[_i].code, err.message);
		ck_assert_msg(strcmp(err.field, cases[_i].field) == 0, "case %d: field %s, want %s",
		              _i, err.field, cases[_i].field);
		ck_assert(strlen(err.message) > 0);
		if (*cases[_i].field)
			ck_assert_msg(strstr(err.message, cases[_i].field) != NULL,
			              "message does not name the field: %s", err.message);
	}
}
END_TEST

START_TEST(test_type_names)
{
	for (int t = 0; t < PROTO__MAX; t++)
		ck_assert_int_eq(proto_type_parse(proto_type_name((enum proto_type)t)), t);
	ck_assert_int_eq(proto_type_parse("tunnel.start"), PROTO_TUNNEL_START);
	ck_assert_int_eq(proto_type_parse("nope"), -1);
	ck_assert_int_eq(proto_type_parse(""), -1);
	ck_assert_int_eq(proto_type_parse(NULL), -1);
	ck_assert_str_eq(proto_type_name(PROTO__MAX), "?");
}
END_TEST

/* The cap is on bytes received, before parsing; a message just under it is parsed. */
START_TEST(test_size_cap)
{
	size_t cap = PROTO_MAX_MSG;
	char *big = malloc(cap + 2);
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	const char *head = "{\"type\":\"tunnel.failed\",\"session_id\":\"" U1 "\",\"reason\":\"";
	size_t n;

	ck_assert_ptr_nonnull(big);
	/* A valid-looking frame of PROTO_MAX_MSG + 1 bytes: refused as too large. */
	n = strlen(head);
	memcpy(big, head, n);
	memset(big + n, 'x', cap + 1 - n - 2);
	memcpy(big + cap + 1 - 2, "\"}", 2);
	big[cap + 1] = '\0';
	ck_assert_int_eq(proto_parse(big, cap + 1, &msg, &err), -1);
	ck_assert_str_eq(err.code, "too_large");
	/* Exactly PROTO_MAX_MSG bytes passes the cap and is judged on its fields: the
	 * reason is over 1024 characters. */
	memcpy(big + cap - 2, "\"}", 2);
	ck_assert_int_eq(proto_parse(big, cap, &msg, &err), -1);
	ck_assert_str_eq(err.code, "invalid_field");
	ck_assert_str_eq(err.field, "reason");
	/* 4096-character token accepted, 4097 refused. */
	{
		char *start = malloc(8192);
		int len;
		ck_assert_ptr_nonnull(start);
		len = snprintf(start, 8192,
		               "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"%0*d\"}",
		               4096, 0);
		ck_assert_int_eq(proto_parse(start, (size_t)len, &msg, &err), 0);
		proto_msg_clear(&msg);
		len = snprintf(start, 8192,
		               "{\"type\":\"tunnel.start\",\"session_id\":\"" U1 "\",\"token\":\"%0*d\"}",
		               4097, 0);
		ck_assert_int_eq(proto_parse(start, (size_t)len, &msg, &err), -1);
		ck_assert_str_eq(err.field, "token");
		free(start);
	}
	free(big);
}
END_TEST

static json_object *sessions_of(int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(i ? U2 : U1));
	return a;
}

/* proto_build output parses back to the same type and members. */
START_TEST(test_build_round_trip)
{
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	json_object *f;
	char *text;

	f = json_object_new_object();
	json_object_object_add(f, "version", json_object_new_int(PROTO_VERSION));
	jsonx_add_str(f, "device_id", "dev-1");
	jsonx_add_str(f, "secret", "s/3\"cret");
	jsonx_add_str(f, "agent_version", "0.1.0");
	jsonx_add_str(f, "hostname", "h\xc3\xa9te");
	jsonx_add_str(f, "os", "Debian GNU/Linux 12 (bookworm); Linux 6.1.0");
	jsonx_add_str(f, "arch", "x86_64");
	text = proto_build(PROTO_HELLO, f);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
	ck_assert_int_eq(msg.type, PROTO_HELLO);
	ck_assert_str_eq(jsonx_str(msg.obj, "secret"), "s/3\"cret");
	ck_assert_str_eq(jsonx_str(msg.obj, "hostname"), "h\xc3\xa9te");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(msg.obj, "version")),
	                 PROTO_VERSION);
	proto_msg_clear(&msg);
	free(text);

	f = json_object_new_object();
	json_object_object_add(f, "sessions", sessions_of(2));
	text = proto_build(PROTO_HEARTBEAT, f);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(msg.obj, "sessions")), 2);
	proto_msg_clear(&msg);
	free(text);

	f = json_object_new_object();
	json_object_object_add(f, "sessions", sessions_of(0));
	text = proto_build(PROTO_HEARTBEAT, f);
	ck_assert_str_eq(text, "{\"type\":\"heartbeat\",\"sessions\":[]}");
	free(text);

	f = json_object_new_object();
	jsonx_add_str(f, "session_id", U1);
	jsonx_add_str(f, "reason", "cloudflared exited with status 1: Provided Tunnel token is "
	                           "not valid.");
	text = proto_build(PROTO_TUNNEL_FAILED, f);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
	ck_assert_int_eq(msg.type, PROTO_TUNNEL_FAILED);
	proto_msg_clear(&msg);
	free(text);

	f = json_object_new_object();
	json_object_object_add(f, "heartbeat", json_object_new_int(25));
	text = proto_build(PROTO_WELCOME, f);
	ck_assert_str_eq(text, "{\"type\":\"welcome\",\"heartbeat\":25}");
	free(text);

	f = json_object_new_object();
	jsonx_add_str(f, "session_id", U1);
	jsonx_add_str(f, "token", "eyJhIjoiYSJ9");
	json_object_object_add(f, "metrics_port", json_object_new_int(20300));
	text = proto_build(PROTO_TUNNEL_START, f);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
	ck_assert_str_eq(jsonx_str(msg.obj, "token"), "eyJhIjoiYSJ9");
	proto_msg_clear(&msg);
	free(text);

	for (int t = PROTO_TUNNEL_READY; t <= PROTO_TUNNEL_STOP; t++) {
		if (t != PROTO_TUNNEL_READY && t != PROTO_TUNNEL_STOPPED && t != PROTO_TUNNEL_STOP)
			continue;
		f = json_object_new_object();
		jsonx_add_str(f, "session_id", U2);
		text = proto_build((enum proto_type)t, f);
		ck_assert_ptr_nonnull(text);
		ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
		ck_assert_int_eq(msg.type, t);
		proto_msg_clear(&msg);
		free(text);
	}
}
END_TEST

/* A builder that would send something the receiver refuses gets NULL (and fields is
 * always consumed: ASan/valgrind see no leak). */
START_TEST(test_build_refuses)
{
	json_object *f;

	/* missing member */
	ck_assert_ptr_null(proto_build(PROTO_TUNNEL_READY, NULL));
	/* no members at all is fine where none are needed? none such: heartbeat needs sessions */
	ck_assert_ptr_null(proto_build(PROTO_HEARTBEAT, json_object_new_object()));
	/* unknown member */
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", U1);
	jsonx_add_str(f, "extra", "x");
	ck_assert_ptr_null(proto_build(PROTO_TUNNEL_STOP, f));
	/* a type member in fields */
	f = json_object_new_object();
	jsonx_add_str(f, "type", "tunnel.stop");
	jsonx_add_str(f, "session_id", U1);
	ck_assert_ptr_null(proto_build(PROTO_TUNNEL_STOP, f));
	/* invalid UTF-8 cannot reach the wire */
	f = json_object_new_object();
	jsonx_add_str(f, "session_id", U1);
	jsonx_add_str(f, "reason", "bad \xff byte");
	ck_assert_ptr_null(proto_build(PROTO_TUNNEL_FAILED, f));
	/* a non-UUID session */
	f = json_object_new_object();
	json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("abc"));
	json_object_object_add(f, "sessions", a);
	ck_assert_ptr_null(proto_build(PROTO_HEARTBEAT, f));
	/* too many sessions for one frame */
	f = json_object_new_object();
	json_object_object_add(f, "sessions", sessions_of(500));
	ck_assert_ptr_null(proto_build(PROTO_HEARTBEAT, f));
	/* not an object, unknown type */
	ck_assert_ptr_null(proto_build(PROTO_WELCOME, json_object_new_int(3)));
	ck_assert_ptr_null(proto_build(PROTO__MAX, json_object_new_object()));
}
END_TEST

/* A tunnel token passed to proto_build does not outlive it in json-c's memory: the
 * string object it came in (still referenced here) is zeroed, and proto_text_free takes
 * the text. */
START_TEST(test_build_wipes_token)
{
	static const char tok[] = "eyJhIjoiZmFrZS10dW5uZWwtdG9rZW4tdmFsdWUifQ";
	json_object *fields = json_object_new_object(), *t = json_object_new_string(tok);
	char *text;

	json_object_get(t); /* ours, to look at afterwards */
	json_object_object_add(fields, "session_id",
	                       json_object_new_string("0190a0b0-c0d0-7e0f-8000-000000000001"));
	json_object_object_add(fields, "token", t);
	text = proto_build(PROTO_TUNNEL_START, fields);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, tok));
	ck_assert_int_eq(json_object_get_string(t)[0], '\0');
	proto_text_free(text);
	json_object_put(t);
}
END_TEST

/* A parsed tunnel.start's token is zeroed when the message is cleared. */
START_TEST(test_clear_wipes_token)
{
	static const char frame[] = "{\"type\":\"tunnel.start\",\"session_id\":"
	                            "\"0190a0b0-c0d0-7e0f-8000-000000000001\",\"token\":\"eyJhc2VjcmV0\"}";
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	json_object *t = NULL;

	ck_assert_int_eq(proto_parse(frame, strlen(frame), &msg, &err), 0);
	ck_assert(json_object_object_get_ex(msg.obj, "token", &t));
	json_object_get(t); /* ours, to look at afterwards */
	ck_assert_str_eq(json_object_get_string(t), "eyJhc2VjcmV0");
	proto_msg_clear(&msg);
	ck_assert_int_eq(json_object_get_string(t)[0], '\0');
	json_object_put(t);
}
END_TEST

/* A hello's ticket is a credential: zeroed when the message is cleared, like the secret. */
START_TEST(test_clear_wipes_ticket)
{
	static const char frame[] = "{\"type\":\"hello\",\"version\":4,\"ticket\":\"1.1.9.abc\""
	                            HELLO_REST;
	struct proto_msg msg = { 0 };
	struct jsonx_error err;
	json_object *t = NULL;

	ck_assert_int_eq(proto_parse(frame, strlen(frame), &msg, &err), 0);
	ck_assert(json_object_object_get_ex(msg.obj, "ticket", &t));
	json_object_get(t);
	proto_msg_clear(&msg);
	ck_assert_int_eq(json_object_get_string(t)[0], '\0');
	json_object_put(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_size_cap);
	tcase_add_test(tc, test_build_round_trip);
	tcase_add_test(tc, test_build_refuses);
	tcase_add_test(tc, test_build_wipes_token);
	tcase_add_test(tc, test_clear_wipes_token);
	tcase_add_test(tc, test_clear_wipes_ticket);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
