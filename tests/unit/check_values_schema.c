/* check_values_schema.c: the values schema module (common/values_schema.h), data-driven:
 * schemas accepted and refused (each refusal naming its field), a user's values against
 * one schema (types strict, unknown keys, defaults, required, enum, bounds, pattern),
 * split, secret paths, merge, key paths, inputs, the chart's values; and hostile input:
 * deep nesting, huge strings, bad and slow regular expressions, type confusion, keys
 * with dots or __proto__, arrays where objects belong. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "testjson.h"
#include "values_schema.h"

/* ---- schemas ------------------------------------------------------------------------- */

static const struct {
	const char *schema;
	const char *field; /* NULL: accepted */
} schemas[] = {
	{ "{\"type\":\"object\",\"properties\":{}}", NULL },
	{ "{\"type\":\"object\",\"title\":\"t\",\"description\":\"d\",\"properties\":{"
	  "\"a\":{\"type\":\"string\",\"title\":\"A\",\"default\":\"x\",\"enum\":[\"x\",\"y\"]},"
	  "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5,\"default\":3},"
	  "\"f\":{\"type\":\"number\",\"minimum\":0.5,\"maximum\":2},"
	  "\"b\":{\"type\":\"boolean\",\"default\":false},"
	  "\"p\":{\"type\":\"string\",\"secret\":true,\"minLength\":8,\"maxLength\":64,"
	  "\"pattern\":\"^[A-Za-z0-9]+$\"},"
	  "\"auth\":{\"type\":\"object\",\"required\":[\"user\"],\"properties\":{"
	  "\"user\":{\"type\":\"string\"}}}},\"required\":[\"p\"]}", NULL },
	/* four deep: n8n's main.secret.n8n.encryption_key */
	{ "{\"type\":\"object\",\"properties\":{\"main\":{\"type\":\"object\",\"properties\":{"
	  "\"secret\":{\"type\":\"object\",\"properties\":{\"n8n\":{\"type\":\"object\","
	  "\"properties\":{\"encryption_key\":{\"type\":\"string\",\"secret\":true}}}}}}}}}", NULL },
	{ "[]", "values_schema" },
	{ "\"object\"", "values_schema" },
	{ "{\"properties\":{}}", "values_schema.type" },
	{ "{\"type\":\"array\",\"properties\":{}}", "values_schema.type" },
	{ "{\"type\":\"object\"}", "values_schema.properties" },
	{ "{\"type\":\"object\",\"properties\":[]}", "values_schema.properties" },
	{ "{\"type\":\"object\",\"properties\":{},\"$ref\":\"x\"}", "values_schema.$ref" },
	{ "{\"type\":\"object\",\"properties\":{},\"title\":7}", "values_schema.title" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":[]}}", "values_schema.properties.a" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{}}}", "values_schema.properties.a.type" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\"}}}",
	  "values_schema.properties.a.type" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"string\"]}}}",
	  "values_schema.properties.a.type" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minimun\":1}}}",
	  "values_schema.properties.a.minimun" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minimum\":1}}}",
	  "values_schema.properties.a.minimum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"pattern\":\"x\"}}}",
	  "values_schema.properties.a.pattern" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\",\"enum\":[true]}}}",
	  "values_schema.properties.a.enum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"secret\":true}}}",
	  "values_schema.properties.a.secret" },
	/* names: dots, __proto__, JavaScript's, empty, too long, not a letter first */
	{ "{\"type\":\"object\",\"properties\":{\"a.b\":{\"type\":\"string\"}}}",
	  "values_schema.properties.a.b" },
	{ "{\"type\":\"object\",\"properties\":{\"__proto__\":{\"type\":\"string\"}}}",
	  "values_schema.properties.__proto__" },
	{ "{\"type\":\"object\",\"properties\":{\"constructor\":{\"type\":\"string\"}}}",
	  "values_schema.properties.constructor" },
	{ "{\"type\":\"object\",\"properties\":{\"\":{\"type\":\"string\"}}}",
	  "values_schema.properties." },
	{ "{\"type\":\"object\",\"properties\":{\"1a\":{\"type\":\"string\"}}}",
	  "values_schema.properties.1a" },
	{ "{\"type\":\"object\",\"properties\":{\"a b\":{\"type\":\"string\"}}}",
	  "values_schema.properties.a b" },
	{ "{\"type\":\"object\",\"properties\":{\"a[0]\":{\"type\":\"string\"}}}",
	  "values_schema.properties.a[0]" },
	/* bounds */
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":1.5}}}",
	  "values_schema.properties.a.minimum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":\"1\"}}}",
	  "values_schema.properties.a.minimum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":5,"
	  "\"maximum\":1}}}", "values_schema.properties.a.minimum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":-1}}}",
	  "values_schema.properties.a.maxLength" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":5000}}}",
	  "values_schema.properties.a.maxLength" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minLength\":3,"
	  "\"maxLength\":2}}}", "values_schema.properties.a.minLength" },
	/* patterns: not compiling, a backreference, too long, not a string */
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"([a-z\"}}}",
	  "values_schema.properties.a.pattern" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"a{2,1}\"}}}",
	  "values_schema.properties.a.pattern" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":"
	  "\"(a*)\\\\1\"}}}", "values_schema.properties.a.pattern" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"\"}}}",
	  "values_schema.properties.a.pattern" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":1}}}",
	  "values_schema.properties.a.pattern" },
	/* enum and default */
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":[]}}}",
	  "values_schema.properties.a.enum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":\"x\"}}}",
	  "values_schema.properties.a.enum" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":[\"x\",1]}}}",
	  "values_schema.properties.a.enum[1]" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":[\"x\",\"x\"]}}}",
	  "values_schema.properties.a.enum[1]" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":[\"x\"],"
	  "\"default\":\"y\"}}}", "values_schema.properties.a.default" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"default\":\"3\"}}}",
	  "values_schema.properties.a.default" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"maximum\":2,"
	  "\"default\":3}}}", "values_schema.properties.a.default" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x$\","
	  "\"default\":\"y\"}}}", "values_schema.properties.a.default" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"secret\":true,"
	  "\"default\":\"hunter22\"}}}", "values_schema.properties.a.secret" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"secret\":\"yes\"}}}",
	  "values_schema.properties.a.secret" },
	/* objects: default, enum on an object; required naming nothing, twice, not a list */
	{ "{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\",\"properties\":{},"
	  "\"default\":{}}}}", "values_schema.properties.o.default" },
	{ "{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\"}}}",
	  "values_schema.properties.o.properties" },
	{ "{\"type\":\"object\",\"properties\":{},\"required\":[\"x\"]}", "values_schema.required" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
	  "\"required\":[\"a\",\"a\"]}", "values_schema.required" },
	{ "{\"type\":\"object\",\"properties\":{},\"required\":\"x\"}", "values_schema.required" },
	{ "{\"type\":\"object\",\"properties\":{},\"required\":[1]}", "values_schema.required" },
	/* text */
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"title\":\"a\\u0001\"}}}",
	  "values_schema.properties.a.title" },
	/* pattern_message: beside a pattern, text of 1 to 200 characters, strings only */
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x$\","
	  "\"pattern_message\":\"Only x.\"}}}", NULL },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
	  "\"pattern_message\":\"Only x.\"}}}", "values_schema.properties.a.pattern_message" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x$\","
	  "\"pattern_message\":\"\"}}}", "values_schema.properties.a.pattern_message" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x$\","
	  "\"pattern_message\":[\"Only x.\"]}}}", "values_schema.properties.a.pattern_message" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x$\","
	  "\"pattern_message\":\"a\\u0007\"}}}", "values_schema.properties.a.pattern_message" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
	  "\"pattern_message\":\"Only x.\"}}}", "values_schema.properties.a.pattern_message" },
};

START_TEST(test_schemas)
{
	json_object *schema = J(schemas[_i].schema);
	struct vs_error err;
	int rc = values_schema_check(schema, &err);

	if (!schemas[_i].field) {
		ck_assert_msg(rc == 0, "schema %d refused: %s", _i, err.message);
	} else {
		ck_assert_msg(rc == -1, "schema %d accepted: %s", _i, schemas[_i].schema);
		ck_assert_str_eq(err.field, schemas[_i].field);
		ck_assert_msg(strncmp(err.message, err.field, strlen(err.field)) == 0,
		              "the message does not name the field: %s", err.message);
	}
	json_object_put(schema);
}
END_TEST

/* Nesting past VS_MAX_DEPTH: one level too many, and ten thousand (built with json-c:
 * jsonx_parse refuses such depth itself). */
START_TEST(test_schema_limits)
{
	char text[65536];
	size_t n = 0;
	json_object *schema;
	struct vs_error err;

	for (int depth = 5; depth <= 10000; depth = depth == 5 ? 10000 : depth + 1) {
		json_object *cur;
		schema = json_object_new_object();
		cur = schema;
		for (int i = 0; i < depth + 1; i++) {
			json_object *props = json_object_new_object(), *o = json_object_new_object();
			json_object_object_add(cur, "type", json_object_new_string("object"));
			json_object_object_add(cur, "properties", props);
			if (i < depth)
				json_object_object_add(props, "o", o);
			else
				json_object_put(o);
			cur = o;
		}
		ck_assert_int_eq(values_schema_check(schema, &err), -1);
		ck_assert_msg(strstr(err.message, "nest at most 4 deep") != NULL, "%s", err.message);
		ck_assert_str_eq(err.field, "values_schema.properties.o.properties.o.properties.o."
		                            "properties.o.properties.o");
		json_object_put(schema);
	}

	n = (size_t)snprintf(text, sizeof(text), "{\"type\":\"object\",\"properties\":{");
	for (int i = 0; i < VS_MAX_PROPERTIES + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"p%d\":{\"type\":\"string\"}",
		                      i ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "}}");
	schema = J(text);
	ck_assert_int_eq(values_schema_check(schema, &err), -1);
	ck_assert_str_eq(err.field, "values_schema.properties.p64");
	json_object_put(schema);
}
END_TEST

/* ---- values -------------------------------------------------------------------------- */

static const char app_schema[] =
	"{\"type\":\"object\",\"required\":[\"password\"],\"properties\":{"
	"\"password\":{\"type\":\"string\",\"secret\":true,\"minLength\":8,\"maxLength\":64},"
	"\"database\":{\"type\":\"string\",\"default\":\"app\",\"pattern\":\"^[a-z_][a-z0-9_]*$\","
	"\"maxLength\":63},"
	"\"replicas\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3,\"default\":1},"
	"\"ratio\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
	"\"metrics\":{\"type\":\"boolean\",\"default\":false},"
	"\"architecture\":{\"type\":\"string\",\"enum\":[\"standalone\",\"replication\"],"
	"\"default\":\"standalone\"},"
	"\"auth\":{\"type\":\"object\",\"required\":[\"username\"],\"properties\":{"
	"\"username\":{\"type\":\"string\",\"default\":\"app\"},"
	"\"token\":{\"type\":\"string\",\"secret\":true}}},"
	"\"extra\":{\"type\":\"object\",\"properties\":{\"note\":{\"type\":\"string\"}}}}}";

static const struct {
	const char *values;
	const char *field; /* NULL: accepted */
	const char *want;  /* accepted: the result */
} values[] = {
	{ "{\"password\":\"abcdefgh\"}", NULL,
	  "{\"password\":\"abcdefgh\",\"database\":\"app\",\"replicas\":1,\"metrics\":false,"
	  "\"architecture\":\"standalone\",\"auth\":{\"username\":\"app\"}}" },
	{ "{\"password\":\"abcdefgh\",\"database\":\"x_1\",\"replicas\":3,\"ratio\":0.5,"
	  "\"metrics\":true,\"architecture\":\"replication\",\"auth\":{\"username\":\"u\","
	  "\"token\":\"t\"},\"extra\":{\"note\":\"a\\nb\"}}", NULL,
	  "{\"password\":\"abcdefgh\",\"database\":\"x_1\",\"replicas\":3,\"ratio\":0.5,"
	  "\"metrics\":true,\"architecture\":\"replication\",\"auth\":{\"username\":\"u\","
	  "\"token\":\"t\"},\"extra\":{\"note\":\"a\\nb\"}}" },
	{ "{\"password\":\"abcdefgh\",\"ratio\":1}", NULL,
	  "{\"password\":\"abcdefgh\",\"database\":\"app\",\"replicas\":1,\"ratio\":1,"
	  "\"metrics\":false,\"architecture\":\"standalone\",\"auth\":{\"username\":\"app\"}}" },
	{ "{\"password\":\"abcdefgh\",\"extra\":{}}", NULL,
	  "{\"password\":\"abcdefgh\",\"database\":\"app\",\"replicas\":1,\"metrics\":false,"
	  "\"architecture\":\"standalone\",\"auth\":{\"username\":\"app\"},\"extra\":{}}" },
	{ "{}", "values.password", NULL },
	{ "{\"password\":null}", "values.password", NULL },
	{ "{\"password\":\"short\"}", "values.password", NULL },
	{ "{\"password\":12345678}", "values.password", NULL },
	{ "{\"password\":\"abcdefgh\",\"nope\":1}", "values.nope", NULL },
	{ "{\"password\":\"abcdefgh\",\"auth.username\":\"x\"}", "values.auth.username", NULL },
	{ "{\"password\":\"abcdefgh\",\"__proto__\":{\"x\":1}}", "values.__proto__", NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":{\"nope\":1}}", "values.auth.nope", NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":[]}", "values.auth", NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":\"x\"}", "values.auth", NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":{\"username\":[\"x\"]}}", "values.auth.username",
	  NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":{\"username\":{\"a\":1}}}", "values.auth.username",
	  NULL },
	{ "{\"password\":\"abcdefgh\",\"database\":\"Bad-Name\"}", "values.database", NULL },
	{ "{\"password\":\"abcdefgh\",\"database\":\"a\\u0001\"}", "values.database", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":\"2\"}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":2.0}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":true}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":0}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":4}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"replicas\":9223372036854775807}", "values.replicas", NULL },
	{ "{\"password\":\"abcdefgh\",\"ratio\":1.5}", "values.ratio", NULL },
	{ "{\"password\":\"abcdefgh\",\"ratio\":\"0.5\"}", "values.ratio", NULL },
	{ "{\"password\":\"abcdefgh\",\"metrics\":1}", "values.metrics", NULL },
	{ "{\"password\":\"abcdefgh\",\"metrics\":\"true\"}", "values.metrics", NULL },
	{ "{\"password\":\"abcdefgh\",\"architecture\":\"cluster\"}", "values.architecture", NULL },
	{ "{\"password\":\"abcdefgh\",\"architecture\":[\"standalone\"]}", "values.architecture",
	  NULL },
	{ "{\"password\":\"abcdefgh\",\"auth\":{\"username\":null}}", "values.auth.username", NULL },
	{ "[]", "values", NULL },
	{ "\"x\"", "values", NULL },
};

START_TEST(test_values)
{
	json_object *schema = J(app_schema), *in = J(values[_i].values), *out = NULL;
	struct vs_error err;
	int rc;

	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	rc = values_schema_apply(schema, in, &out, &err);
	if (!values[_i].field) {
		ck_assert_msg(rc == 0, "values %d refused: %s", _i, err.message);
		ck_assert_str_eq(S(out), values[_i].want);
		json_object_put(out);
	} else {
		ck_assert_msg(rc == -1, "values %d accepted: %s", _i, values[_i].values);
		ck_assert_str_eq(err.field, values[_i].field);
		ck_assert_str_eq(err.code, strstr(err.message, "not a setting") ? "unknown_field"
		                                                                : "invalid_field");
		ck_assert_msg(strncmp(err.message, err.field, strlen(err.field)) == 0,
		              "the message does not name the field: %s", err.message);
	}
	json_object_put(in);
	json_object_put(schema);
}
END_TEST

/* A required member of an object the user left out is still required; a missing values
 * object (NULL) is {}. */
START_TEST(test_required_nested)
{
	json_object *schema = J("{\"type\":\"object\",\"properties\":{\"auth\":{\"type\":\"object\","
	                        "\"required\":[\"password\"],\"properties\":{\"password\":{"
	                        "\"type\":\"string\",\"secret\":true}}}}}");
	json_object *out = NULL;
	struct vs_error err;

	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	ck_assert_int_eq(values_schema_apply(schema, NULL, &out, &err), -1);
	ck_assert_str_eq(err.field, "values.auth.password");
	ck_assert_str_eq(err.message, "values.auth.password: is required");
	json_object_put(schema);
}
END_TEST

/* A value against its pattern: the template's pattern_message, else words naming the
 * pattern (never the pattern alone); a message of 200 characters passes, 201 do not. */
START_TEST(test_pattern_message)
{
	json_object *schema = J("{\"type\":\"object\",\"properties\":{"
	                        "\"db\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\","
	                        "\"pattern_message\":\"Use lower-case letters only.\"},"
	                        "\"raw\":{\"type\":\"string\",\"pattern\":\"^[0-9]+$\"}}}");
	json_object *in, *out = NULL, *prop;
	struct vs_error err;
	char text[202];

	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	in = J("{\"db\":\"Bad-Name\"}");
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), -1);
	ck_assert_str_eq(err.field, "values.db");
	ck_assert_str_eq(err.message, "values.db: Use lower-case letters only.");
	json_object_put(in);
	in = J("{\"raw\":\"12a\"}");
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), -1);
	ck_assert_str_eq(err.field, "values.raw");
	ck_assert_str_eq(err.message, "values.raw: not in the form this setting takes "
	                              "(the pattern ^[0-9]+$)");
	json_object_put(in);

	prop = json_object_object_get(json_object_object_get(schema, "properties"), "db");
	memset(text, 'm', 200);
	text[200] = '\0';
	json_object_object_add(prop, "pattern_message", json_object_new_string(text));
	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	text[200] = 'm';
	text[201] = '\0';
	json_object_object_add(prop, "pattern_message", json_object_new_string(text));
	ck_assert_int_eq(values_schema_check(schema, &err), -1);
	ck_assert_str_eq(err.field, "values_schema.properties.db.pattern_message");
	json_object_put(schema);
}
END_TEST

/* Huge strings: a value of 4097 characters whatever maxLength (absent) says; one of
 * 4096 multi-byte characters passes; an unknown key of 100000 bytes is named, cut. */
START_TEST(test_huge_strings)
{
	json_object *schema = J("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
	                        "\"pattern\":\"^(a|b)*$\"},\"u\":{\"type\":\"string\"}}}");
	json_object *in = json_object_new_object(), *out = NULL;
	struct vs_error err;
	char *big = malloc(100001), *utf = malloc(4096 * 2 + 1);

	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	json_object_object_add(in, "a", json_object_new_string(big));
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), -1);
	ck_assert_str_eq(err.field, "values.a");
	ck_assert(strstr(err.message, "at most 4096") != NULL);

	/* The longest string, matched by a pattern with nested repetition: quick. */
	big[4096] = '\0';
	json_object_object_add(in, "a", json_object_new_string(big));
	for (int i = 0; i < 4096; i++)
		memcpy(utf + 2 * i, "\xc3\xa9", 2);
	utf[4096 * 2] = '\0';
	json_object_object_add(in, "u", json_object_new_string(utf));
	ck_assert_msg(values_schema_apply(schema, in, &out, &err) == 0, "%s", err.message);
	json_object_put(out);

	memset(big, 'k', 100000);
	big[100000] = '\0';
	json_object_object_add(in, big, json_object_new_string("x"));
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), -1);
	ck_assert_int_eq(strlen(err.field), VS_FIELD_MAX - 1);
	ck_assert(strncmp(err.field, "values.kkkk", 11) == 0);

	free(big);
	free(utf);
	json_object_put(in);
	json_object_put(schema);
}
END_TEST

/* Values nested far deeper than the schema: refused at the first level the schema does
 * not have, without walking the rest. */
START_TEST(test_deep_values)
{
	json_object *schema = J("{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\","
	                        "\"properties\":{\"s\":{\"type\":\"string\"}}}}}");
	json_object *in = json_object_new_object(), *cur = in, *out = NULL;
	struct vs_error err;

	for (int i = 0; i < 10000; i++) {
		json_object *next = json_object_new_object();
		json_object_object_add(cur, i == 0 ? "o" : i == 1 ? "s" : "x", next);
		cur = next;
	}
	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), -1);
	ck_assert_str_eq(err.field, "values.o.s");
	json_object_put(in);
	json_object_put(schema);
}
END_TEST

START_TEST(test_split_and_secret_paths)
{
	json_object *schema = J(app_schema), *out = NULL, *plain = NULL, *secret = NULL, *paths;
	json_object *in = J("{\"password\":\"abcdefgh\",\"auth\":{\"token\":\"t0k\"}}");
	struct vs_error err;

	ck_assert_int_eq(values_schema_check(schema, &err), 0);
	ck_assert_int_eq(values_schema_apply(schema, in, &out, &err), 0);
	ck_assert_int_eq(values_schema_split(schema, out, &plain, &secret), 0);
	ck_assert_str_eq(S(plain), "{\"database\":\"app\",\"replicas\":1,\"metrics\":false,"
	                           "\"architecture\":\"standalone\",\"auth\":{\"username\":\"app\"}}");
	ck_assert_str_eq(S(secret), "{\"password\":\"abcdefgh\",\"auth\":{\"token\":\"t0k\"}}");
	ck_assert(strstr(S(plain), "abcdefgh") == NULL && strstr(S(plain), "t0k") == NULL);
	/* Merged back, they are the values again. */
	ck_assert_int_eq(values_merge(plain, secret), 0);
	ck_assert(json_object_equal(plain, out));
	paths = values_schema_secret_paths(schema);
	ck_assert_str_eq(S(paths), "[\"password\",\"auth.token\"]");
	json_object_put(paths);
	json_object_put(plain);
	json_object_put(secret);
	json_object_put(out);
	ck_assert_int_eq(values_schema_split(schema, NULL, &plain, &secret), 0);
	ck_assert_str_eq(S(plain), "{}");
	ck_assert_str_eq(S(secret), "{}");
	json_object_put(plain);
	json_object_put(secret);
	json_object_put(in);
	json_object_put(schema);
}
END_TEST

START_TEST(test_merge)
{
	json_object *dst = J("{\"a\":{\"b\":1,\"c\":[1,2]},\"d\":\"x\",\"e\":{\"f\":1}}");
	json_object *src = J("{\"a\":{\"c\":[3],\"g\":true},\"d\":{\"h\":1},\"e\":null}");

	ck_assert_int_eq(values_merge(dst, src), 0);
	ck_assert_str_eq(S(dst), "{\"a\":{\"b\":1,\"c\":[3],\"g\":true},\"d\":{\"h\":1},\"e\":null}");
	/* src is not shared: changing it changes nothing in dst. */
	json_object_object_add(json_object_object_get(src, "a"), "b", json_object_new_int(9));
	ck_assert_str_eq(S(dst), "{\"a\":{\"b\":1,\"c\":[3],\"g\":true},\"d\":{\"h\":1},\"e\":null}");
	json_object_put(dst);
	json_object_put(src);
}
END_TEST

static const struct {
	const char *root;
	const char *path;
	const char *want; /* NULL: refused, root unchanged */
} paths[] = {
	{ "{}", "a", "{\"a\":\"V\"}" },
	{ "{}", "a.b.c", "{\"a\":{\"b\":{\"c\":\"V\"}}}" },
	{ "{}", "ingress.hosts[0].host", "{\"ingress\":{\"hosts\":[{\"host\":\"V\"}]}}" },
	{ "{\"ingress\":{\"enabled\":true,\"hosts\":[{\"paths\":[\"/\"]}]}}", "ingress.hosts[0].host",
	  "{\"ingress\":{\"enabled\":true,\"hosts\":[{\"paths\":[\"/\"],\"host\":\"V\"}]}}" },
	{ "{\"h\":[{\"x\":1}]}", "h[1].host", "{\"h\":[{\"x\":1},{\"host\":\"V\"}]}" },
	{ "{\"h\":[1,2]}", "h[1]", "{\"h\":[1,\"V\"]}" },
	{ "{\"a\":{\"b\":1}}", "a.b", "{\"a\":{\"b\":\"V\"}}" },
	{ "{}", "a-b.c_d", "{\"a-b\":{\"c_d\":\"V\"}}" },
	{ "{\"h\":[]}", "h[1].host", NULL },
	{ "{}", "h[2]", NULL },
	{ "{\"a\":\"s\"}", "a.b", NULL },
	{ "{\"a\":[{}]}", "a.b", NULL },
	{ "{\"a\":{}}", "a[0]", NULL },
	{ "{\"h\":[1]}", "h[0].x", NULL },
	{ "{}", "", NULL },
	{ "{}", ".a", NULL },
	{ "{}", "a.", NULL },
	{ "{}", "a..b", NULL },
	{ "{}", "a[", NULL },
	{ "{}", "a[]", NULL },
	{ "{}", "a[x]", NULL },
	{ "{}", "a[-1]", NULL },
	{ "{}", "a[01]", NULL },
	{ "{}", "a[100]", NULL },
	{ "{}", "a[0][0]", NULL },
	{ "{}", "__proto__.x", NULL },
	{ "{}", "a.constructor", NULL },
	{ "{}", "a b", NULL },
	{ "{}", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", NULL },
};

START_TEST(test_paths)
{
	json_object *root = J(paths[_i].root);
	int rc = values_path_set(root, paths[_i].path, json_object_new_string("V"));

	if (paths[_i].want) {
		ck_assert_msg(rc == 0, "path %s refused", paths[_i].path);
		ck_assert_str_eq(S(root), paths[_i].want);
		ck_assert(values_path_valid(paths[_i].path));
	} else {
		ck_assert_msg(rc == -1, "path %s accepted: %s", paths[_i].path, S(root));
		ck_assert_str_eq(S(root), paths[_i].root);
	}
	json_object_put(root);
}
END_TEST

START_TEST(test_path_limits)
{
	char path[1024];
	size_t n = 0;
	json_object *root = json_object_new_object();

	ck_assert(!values_path_valid(NULL));
	ck_assert_int_eq(values_path_set(NULL, "a", json_object_new_string("x")), -1);
	ck_assert_int_eq(values_path_set(root, NULL, json_object_new_string("x")), -1);
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%sa", i ? "." : "");
	ck_assert(values_path_valid(path));
	snprintf(path + n, sizeof(path) - n, ".a");
	ck_assert(!values_path_valid(path));
	memset(path, 'a', 300);
	path[300] = '\0';
	ck_assert(!values_path_valid(path));
	json_object_put(root);
}
END_TEST

static const struct {
	const char *inputs;
	const char *field; /* NULL: accepted */
} inputs[] = {
	{ "{}", NULL },
	{ "{\"host\":[\"ingress.hosts[0].host\"],\"storage_size\":[\"persistence.size\"]}", NULL },
	{ "[]", "inputs" },
	{ "{\"subdomain\":[\"a\"]}", "inputs.subdomain" },
	{ "{\"host\":\"ingress.hosts[0].host\"}", "inputs.host" },
	{ "{\"host\":[]}", "inputs.host" },
	{ "{\"host\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", "inputs.host" },
	{ "{\"host\":[\"a..b\"]}", "inputs.host" },
	{ "{\"host\":[1]}", "inputs.host" },
	/* The custom domain: beside the host, never without it or instead of it. */
	{ "{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.hosts[1].host\"]}", NULL },
	{ "{\"domain\":[\"ingress.hosts[1].host\"]}", "inputs.domain" },
	{ "{\"host\":[\"ingress.hosts[0].host\",\"config.url\"],\"domain\":[\"config.url\"]}",
	  "inputs.domain" },
	{ "{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.hosts[1]..host\"]}",
	  "inputs.domain" },
};

START_TEST(test_inputs)
{
	json_object *in = J(inputs[_i].inputs);
	struct vs_error err;
	int rc = values_inputs_check(in, &err);

	if (!inputs[_i].field) {
		ck_assert_msg(rc == 0, "inputs %d refused: %s", _i, err.message);
	} else {
		ck_assert_msg(rc == -1, "inputs %d accepted", _i);
		ck_assert_str_eq(err.field, inputs[_i].field);
	}
	json_object_put(in);
}
END_TEST

START_TEST(test_chart_build)
{
	json_object *defaults = J("{\"ingress\":{\"enabled\":true,\"hosts\":[{\"paths\":[{\"path\":"
	                          "\"/\"}]}]},\"persistence\":{\"size\":\"8Gi\"},\"image\":{"
	                          "\"repository\":\"bitnamilegacy/x\"}}");
	json_object *vals = J("{\"auth\":{\"password\":\"pw\"},\"persistence\":{\"size\":\"2Gi\"}}");
	json_object *map = J("{\"host\":[\"ingress.hosts[0].host\",\"config.url\"],"
	                     "\"storage_size\":[\"persistence.size\"]}");
	json_object *given = J("{\"host\":\"app.svc.example.com\",\"storage_size\":\"4Gi\"}");
	json_object *bad = J("{\"host\":[\"image.repository.host\"]}");
	json_object *out = NULL;
	struct vs_error err;

	ck_assert_int_eq(values_chart_build(defaults, vals, map, given, &out, &err), 0);
	ck_assert_str_eq(S(out), "{\"ingress\":{\"enabled\":true,\"hosts\":[{\"paths\":[{\"path\":"
	                         "\"/\"}],\"host\":\"app.svc.example.com\"}]},\"persistence\":{"
	                         "\"size\":\"4Gi\"},\"image\":{\"repository\":\"bitnamilegacy/x\"},"
	                         "\"auth\":{\"password\":\"pw\"},\"config\":{\"url\":"
	                         "\"app.svc.example.com\"}}");
	json_object_put(out);
	/* The template's defaults are not changed by a build. */
	ck_assert(strstr(S(defaults), "app.svc") == NULL && strstr(S(defaults), "pw") == NULL);
	/* An input not given leaves the merge as it is; no inputs at all too. */
	ck_assert_int_eq(values_chart_build(defaults, NULL, map, NULL, &out, &err), 0);
	ck_assert(strstr(S(out), "\"size\":\"8Gi\"") != NULL);
	json_object_put(out);
	ck_assert_int_eq(values_chart_build(NULL, vals, NULL, NULL, &out, &err), 0);
	ck_assert_str_eq(S(out), S(vals));
	json_object_put(out);
	/* A path through a string. */
	ck_assert_int_eq(values_chart_build(defaults, NULL, bad, given, &out, &err), -1);
	ck_assert_str_eq(err.field, "inputs.host");
	json_object_put(bad);
	/* The custom domain: a second ingress host made as a copy of the first (its paths),
	 * whichever order the inputs come in; the first keeps the service's host. */
	bad = J("{\"domain\":[\"ingress.hosts[1].host\"],\"host\":[\"ingress.hosts[0].host\"]}");
	json_object_object_add(given, "domain", json_object_new_string("shop.example.com"));
	ck_assert_int_eq(values_chart_build(defaults, NULL, bad, given, &out, &err), 0);
	ck_assert_str_eq(S(json_object_object_get(out, "ingress")),
	                 "{\"enabled\":true,\"hosts\":[{\"paths\":[{\"path\":\"/\"}],\"host\":"
	                 "\"app.svc.example.com\"},{\"paths\":[{\"path\":\"/\"}],\"host\":"
	                 "\"shop.example.com\"}]}");
	json_object_put(out);
	/* No domain given (none, or not verified): one host only. */
	json_object_object_del(given, "domain");
	ck_assert_int_eq(values_chart_build(defaults, NULL, bad, given, &out, &err), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(
	                         json_object_object_get(out, "ingress"), "hosts")),
	                 1);
	json_object_put(out);
	/* values_path_set (the user's values) makes a new element empty, as before. */
	out = J("{\"hosts\":[{\"paths\":[\"/\"]}]}");
	ck_assert_int_eq(values_path_set(out, "hosts[1].host", json_object_new_string("x")), 0);
	ck_assert_str_eq(S(out), "{\"hosts\":[{\"paths\":[\"/\"]},{\"host\":\"x\"}]}");
	json_object_put(out);
	json_object_put(defaults);
	json_object_put(vals);
	json_object_put(map);
	json_object_put(given);
	json_object_put(bad);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("values_schema");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_schemas, 0, (int)ARRAY_LEN(schemas));
	tcase_add_test(tc, test_schema_limits);
	tcase_add_loop_test(tc, test_values, 0, (int)ARRAY_LEN(values));
	tcase_add_test(tc, test_required_nested);
	tcase_add_test(tc, test_pattern_message);
	tcase_add_test(tc, test_huge_strings);
	tcase_add_test(tc, test_deep_values);
	tcase_add_test(tc, test_split_and_secret_paths);
	tcase_add_test(tc, test_merge);
	tcase_add_loop_test(tc, test_paths, 0, (int)ARRAY_LEN(paths));
	tcase_add_test(tc, test_path_limits);
	tcase_add_loop_test(tc, test_inputs, 0, (int)ARRAY_LEN(inputs));
	tcase_add_test(tc, test_chart_build);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
