/* fuzz_json.c: the strict JSON reader every request body and agent frame goes through
 * (common/jsonx.c): jsonx_parse, then jsonx_check against field tables like the
 * handlers' (every type, required and nullable members, code-point lengths, the
 * control-character rule that differs below and above 256 characters).
 *
 * Beyond "no crash, no leak": an error always has a code and a message, and what the
 * reader accepts, json-c writes out as text the reader accepts again (nothing it takes
 * in is unrepresentable, e.g. a number that overflows to infinity). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "jsonx.h"

static const struct jsonx_field strict_fields[] = {
	{ "name", JSONX_STRING, 1, 1, 64, 0 },
	{ "count", JSONX_INT, 0, 0, 0, 0 },
	{ "enabled", JSONX_BOOL, 0, 0, 0, 0 },
	{ "settings", JSONX_OBJECT, 0, 0, 0, 1 },
	{ "tags", JSONX_ARRAY, 0, 0, 8, 0 },
};
static const struct jsonx_field loose_fields[] = {
	{ "name", JSONX_STRING, 0, 0, 64, 1 },
	{ "note", JSONX_STRING, 0, 0, 4096, 1 },
	{ "count", JSONX_INT, 0, 0, 0, 1 },
	{ "enabled", JSONX_BOOL, 0, 0, 0, 1 },
	{ "settings", JSONX_OBJECT, 0, 0, 0, 1 },
	{ "tags", JSONX_ARRAY, 0, 1, 400, 1 },
};

static void check_with(json_object *obj, const struct jsonx_field *fields, size_t n)
{
	struct jsonx_error err;

	memset(&err, 0, sizeof(err));
	if (jsonx_check(obj, fields, n, &err) != 0 && (!err.code[0] || !err.message[0])) {
		fprintf(stderr, "fuzz_json: jsonx_check failed without saying why\n");
		abort();
	}
	(void)jsonx_str(obj, "name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *obj = NULL, *again = NULL;
	struct jsonx_error err;
	const char *text;
	size_t len;

	fuzz_quiet("fuzz_json");
	memset(&err, 0, sizeof(err));
	if (jsonx_parse((const char *)data, size, &obj, &err) != 0) {
		if (!err.code[0] || !err.message[0])
			abort();
		return 0;
	}
	check_with(obj, strict_fields, sizeof(strict_fields) / sizeof(strict_fields[0]));
	check_with(obj, loose_fields, sizeof(loose_fields) / sizeof(loose_fields[0]));

	text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	if (!text || jsonx_parse(text, len, &again, &err) != 0) {
		fprintf(stderr, "fuzz_json: accepted input written out as %s, which is refused: %s\n",
		        text ? text : "(null)", err.message);
		abort();
	}
	json_object_put(again);
	json_object_put(obj);
	return 0;
}
