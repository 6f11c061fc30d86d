/* h_util.c: what several handlers need (handlers.h). */
#include "handlers.h"

#include "jsonx.h"

int h_body_object(struct req *r, struct resp *rs, const struct jsonx_field *fields, size_t n,
                  json_object **out)
{
	struct jsonx_error err;
	json_object *in = NULL;

	if (jsonx_parse(r->body, r->body_len, &in, &err) < 0 ||
	    jsonx_check(in, fields, n, &err) < 0) {
		json_object_put(in);
		resp_jsonx_error(rs, &err);
		return -1;
	}
	*out = in;
	return 0;
}
