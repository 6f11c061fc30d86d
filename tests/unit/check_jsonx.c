/* check_jsonx.c: strict JSON parsing and field validation (data-driven). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

static const struct jsonx_field fields[] = {
	{ "name", JSONX_STRING, 1, 1, 8, 0 },
	{ "notes", JSONX_STRING, 0, 0, 300, 1 },
	{ "count", JSONX_INT, 0, 0, 0, 0 },
	{ "on", JSONX_BOOL, 0, 0, 0, 0 },
};

static const struct {
	const char *body;
	const char *code; /* NULL: accepted */
	const char *field;
} cases[] = {
	{ "{\"name\":\"abc\"}", NULL, "" },
	{ "  {\"name\":\"abc\",\"notes\":null}\n", NULL, "" },
	{ "{\"name\":\"\xc3\xa9t\xc3\xa9\"}", NULL, "" },           /* 3 characters, 5 bytes */
	{ "{\"name\":\"12345678\",\"notes\":\"a\\nb\\tc\"}", NULL, "" },
	{ "{\"name\":\"a\",\"count\":3,\"on\":true}", NULL, "" },
	{ "", "invalid_json", "" },
	{ "{", "invalid_json", "" },
	{ "{\"name\":\"a\"} x", "invalid_json", "" },
	{ "{\"name\":\"a\",}", "invalid_json", "" },
	{ "{'name':'a'}", "invalid_json", "" },
	{ "{\"name\":\"\xff\"}", "invalid_json", "" },
	{ "[1,2]", "not_an_object", "" },
	{ "12", "not_an_object", "" },
	{ "\"x\"", "not_an_object", "" },
	{ "null", "not_an_object", "" },
	{ "{}", "missing_field", "name" },
	{ "{\"name\":\"a\",\"extra\":1}", "unknown_field", "extra" },
	{ "{\"name\":1}", "invalid_field", "name" },
	{ "{\"name\":null}", "invalid_field", "name" },
	{ "{\"name\":\"\"}", "invalid_field", "name" },
	{ "{\"name\":\"123456789\"}", "invalid_field", "name" },
	{ "{\"name\":\"a\\nb\"}", "invalid_field", "name" },
	{ "{\"name\":\"a\",\"count\":\"3\"}", "invalid_field", "count" },
	{ "{\"name\":\"a\",\"count\":1.5}", "invalid_field", "count" },
	{ "{\"name\":\"a\",\"on\":1}", "invalid_field", "on" },
	{ "{\"name\":\"a\",\"notes\":\"a\\u0001\"}", "invalid_field", "notes" },
	/* What json-c's strict mode takes and JSON (or PostgreSQL) does not: refused by
	 * jsonx_parse itself, wherever they are in the document, keys included. */
	{ "{\"name\":\"a\",\"count\":NaN}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":Infinity}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":-Infinity}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":{\"y\":[1,{\"z\":NaN}]}}", "invalid_json", "" },
	{ "[Infinity]", "invalid_json", "" },
	{ "NaN", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":1e999}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":18446744073709551616}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":99999999999999999999}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":-9223372036854775809}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":[123456789012345678901234567890]}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"count\":9223372036854775807}", NULL, "" },
	{ "{\"name\":\"a\",\"count\":-9223372036854775808}", NULL, "" },
	{ "{\"name\":\"a\",\"count\":-0}", NULL, "" },
	{ "{\"name\":\"123456789012345678901234567890\"}", "invalid_field", "name" }, /* a string */
	{ "{\"name\":\"a\",\"count\":-1e400}", "invalid_json", "" },
	{ "{\"name\":\"a\\u0000b\"}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":{\"k\\u0000\":1}}", "invalid_json", "" },
	{ "{\"na\\u0000me\":\"a\"}", "invalid_json", "" },
	{ "{\"name\":\"\\ud800\"}", "invalid_json", "" },
	{ "{\"name\":\"\\uDFFF\"}", "invalid_json", "" },
	{ "{\"name\":\"\\ud800\\u0041\"}", "invalid_json", "" },
	{ "{\"name\":\"\\ud800\\ud800\\udc00\"}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":{\"\\udc00\":1}}", "invalid_json", "" },
	{ "{\"name\":\"\xed\xa0\x80\"}", "invalid_json", "" },   /* a surrogate in UTF-8 */
	{ "{\"name\":\"\xc0\x80\"}", "invalid_json", "" },        /* overlong NUL */
	{ "{\"name\":\"\xf4\x90\x80\x80\"}", "invalid_json", "" }, /* past U+10FFFF */
	{ "{\"name\":\"a\",\"x\":{\"\xed\xbf\xbf\":1}}", "invalid_json", "" },
	/* A member name twice in one object, at any depth (json-c would keep the last). */
	{ "{\"name\":\"a\",\"name\":\"b\"}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":[{\"k\":1,\"j\":2,\"k\":3}]}", "invalid_json", "" },
	{ "{\"name\":\"a\",\"x\":{\"k\":{\"deep\":1}},\"x\":{\"k\":2}}", "invalid_json", "" },
	{ "{\"name\" : \"a\", \"na\\u006de\" : \"b\"}", "invalid_json", "" }, /* escaped */
	/* ... and what looks like them but is fine. */
	{ "{\"name\":\"a\",\"x\":{\"name\":1,\"k\":[{\"name\":2}]}}", "unknown_field", "x" },
	{ "{\"name\":\"k:\",\"notes\":\"\\\"a\\\":1\"}", NULL, "" },
	{ "{\"name\":\"\\ud83d\\ude00\"}", NULL, "" },        /* a surrogate pair */
	{ "{\"name\":\"\\\\u0000\"}", NULL, "" },             /* an escaped backslash */
	{ "{\"name\":\"NaN\",\"notes\":\"Infinity \\\"NaN\"}", NULL, "" },
	{ "{\"name\":\"a\",\"count\":1E308}", "invalid_field", "count" }, /* parsed */
};

START_TEST(test_cases)
{
	json_object *obj = NULL;
	struct jsonx_error err;
	const char *body = cases[_i].body;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = jsonx_parse(body, strlen(body), &obj, &err);
	if (rc == 0) {
		rc = jsonx_check(obj, fields, sizeof(fields) / sizeof(fields[0]), &err);
		json_object_put(obj);
	}
	if (!cases[_i].code) {
		ck_assert_msg(rc == 0, "case %d (%s): %s", _i, body, err.message);
	} else {
		ck_assert_msg(rc == -1, "case %d (%s) accepted", _i, body);
		ck_assert_str_eq(err.code, cases[_i].code);
		ck_assert_str_eq(err.field, cases[_i].field);
		ck_assert(strlen(err.message) > 0);
		if (*cases[_i].field)
			ck_assert_msg(strstr(err.message, cases[_i].field) != NULL,
			              "message does not name the field: %s", err.message);
	}
}
END_TEST

START_TEST(test_deep_nesting_and_helpers)
{
	char deep[4096];
	json_object *obj = NULL;
	struct jsonx_error err;
	size_t n = 0;

	for (int i = 0; i < 1000; i++)
		deep[n++] = '[';
	ck_assert_int_eq(jsonx_parse(deep, n, &obj, &err), -1);
	ck_assert_str_eq(err.code, "invalid_json");

	/* A raw NUL byte in a string (the length says it is there). */
	ck_assert_int_eq(jsonx_parse("{\"a\":\"x\0y\"}", 11, &obj, &err), -1);
	ck_assert_str_eq(err.code, "invalid_json");

	ck_assert_int_eq(jsonx_parse("{\"a\":\"b\",\"n\":null}", 18, &obj, &err), 0);
	ck_assert_str_eq(jsonx_str(obj, "a"), "b");
	ck_assert_ptr_null(jsonx_str(obj, "n"));
	ck_assert_ptr_null(jsonx_str(obj, "zz"));
	jsonx_add_str(obj, "c", NULL);
	jsonx_add_str(obj, "d", "e");
	ck_assert_str_eq(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN),
	                 "{\"a\":\"b\",\"n\":null,\"c\":null,\"d\":\"e\"}");
	json_object_put(obj);
}
END_TEST

/* json-c's own text for the string s (how a reply writes it). */
static const char *jsonc_str(json_object **hold, const char *s)
{
	json_object_put(*hold);
	*hold = json_object_new_string(s);
	return json_object_to_json_string_ext(*hold, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* jsonx_buf_str writes what json-c writes: every byte alone, between others, and a run
 * of them, and at each place of a longer string; plus a golden line that would catch
 * both changing together. */
START_TEST(test_buf_str_matches_json_c)
{
	static const char *const texts[] = {
		"", "plain", "quote\" and \\ back", "a/b</script>", "tab\there\nnew\r\f\b",
		"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xe2\x80\xa8",
		"bad utf-8 \xff\xfe\xc3 \x80", "\x1f\x7f\x01end", "\"\"\"",
	};
	json_object *hold = NULL;
	struct buf b, all;
	char one[4];

	buf_init(&b, 1 << 16);
	buf_init(&all, 1 << 16);
	for (int c = 1; c < 256; c++) {
		/* The byte alone, and between two letters. */
		for (int wrap = 0; wrap < 2; wrap++) {
			snprintf(one, sizeof(one), wrap ? "x%cy" : "%c", c);
			buf_reset(&b);
			ck_assert_int_eq(jsonx_buf_str(&b, one), 0);
			ck_assert_msg(strcmp(b.data, jsonc_str(&hold, one)) == 0,
			              "byte 0x%02x: %s, json-c %s", c, b.data, jsonc_str(&hold, one));
		}
		ck_assert_int_eq(buf_append(&all, (char[]){ (char)c }, 1), 0);
	}
	buf_reset(&b);
	ck_assert_int_eq(jsonx_buf_str(&b, all.data), 0);
	ck_assert_str_eq(b.data, jsonc_str(&hold, all.data));
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		buf_reset(&b);
		ck_assert_int_eq(jsonx_buf_str(&b, texts[i]), 0);
		ck_assert_str_eq(b.data, jsonc_str(&hold, texts[i]));
	}
	/* Strings read eight bytes at a time: every byte that is escaped, and those next to
	 * it in value, at each place of a 25-byte string of plain bytes around it (letters,
	 * bytes above 0x7f, the neighbours of what is escaped). */
	{
		static const unsigned char fills[] = { 'a', 0x80, 0xff, 0x20, 0x21, 0x23, 0x5b,
		                                       0x5d, 0x7f };
		static const unsigned char marks[] = { 0x01, 0x08, 0x1f, '"', '\\', 0x20, 0x21,
		                                       0x23, 0x5b, 0x5d, 0xa2, 0xdc, 0x9f };
		char text[26];
		for (size_t f = 0; f < sizeof(fills); f++)
			for (size_t m = 0; m < sizeof(marks); m++)
				for (int at = 0; at < 25; at++) {
					memset(text, (char)fills[f], 25);
					text[25] = '\0';
					text[at] = (char)marks[m];
					buf_reset(&b);
					ck_assert_int_eq(jsonx_buf_str(&b, text), 0);
					ck_assert_msg(strcmp(b.data, jsonc_str(&hold, text)) == 0,
					              "0x%02x at %d among 0x%02x: %s, json-c %s", marks[m],
					              at, fills[f], b.data, jsonc_str(&hold, text));
				}
	}
	buf_reset(&b);
	ck_assert_int_eq(jsonx_buf_str(&b, "\x01\b\t\n\f\r\"\\/\x7f\xc3\xa9"), 0);
	ck_assert_str_eq(b.data, "\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/\x7f\xc3\xa9\"");
	/* A cap that cuts the string is an error, not a short string. */
	buf_clear(&b);
	buf_init(&b, 8);
	ck_assert_int_eq(jsonx_buf_str(&b, "0123456789"), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(jsonx_buf_str(&b, "01\n"), 0);
	ck_assert_str_eq(b.data, "\"01\\n\"");
	json_object_put(hold);
	buf_clear(&b);
	buf_clear(&all);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonx");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_deep_nesting_and_helpers);
	tcase_add_test(tc, test_buf_str_matches_json_c);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
