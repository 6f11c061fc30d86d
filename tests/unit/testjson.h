/* testjson.h: JSON in tests (included; everything here is static): a literal parsed
 * strictly (a bad one fails the test), and a tree printed as the API prints it. */
#ifndef KAIDEN_TESTJSON_H
#define KAIDEN_TESTJSON_H

#include <check.h>
#include <string.h>
#include <json-c/json.h>

#include "jsonx.h"

static json_object *J(const char *text)
{
	struct jsonx_error e;
	json_object *o = NULL;

	ck_assert_msg(jsonx_parse(text, strlen(text), &o, &e) == 0, "bad test JSON %s: %s", text,
	              e.message);
	return o;
}

static const char *S(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
}

#endif
