/* fuzz_proto.c: the agent <-> helperd message parser (common/proto.c), which both
 * helperd (every frame an agent sends) and the agent (every frame helperd sends) run on
 * untrusted bytes. The input is one frame.
 *
 * Beyond "no crash, no leak": a frame proto_parse accepts must build again with
 * proto_build from its own members (the two share their checks, proto.h), and
 * proto_msg_clear must leave nothing behind. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg msg;
	struct jsonx_error err;
	json_object *fields = NULL;
	char *text;

	fuzz_quiet("fuzz_proto");
	if (proto_parse((const char *)data, size, &msg, &err) != 0)
		return 0;
	if ((int)msg.type < 0 || msg.type >= PROTO__MAX || !proto_type_name(msg.type)) {
		fprintf(stderr, "fuzz_proto: parsed a message of type %d\n", (int)msg.type);
		abort();
	}
	/* Rebuild it from its members (proto_build takes them and adds "type" itself). */
	if (json_object_deep_copy(msg.obj, &fields, NULL) != 0)
		abort();
	json_object_object_del(fields, "type");
	text = proto_build(msg.type, fields);
	if (!text) {
		fprintf(stderr, "fuzz_proto: an accepted %s message does not build again\n",
		        proto_type_name(msg.type));
		abort();
	}
	proto_text_free(text);
	proto_msg_clear(&msg);
	return 0;
}
