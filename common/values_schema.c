/* values_schema.c: a chart's settings form checked, applied, split and turned into the
 * chart's values (values_schema.h). Recursion is bounded by VS_MAX_DEPTH: the schema is
 * checked before anything walks it, and a user's values are walked along the schema,
 * never deeper than it goes. */
#include "values_schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

const char *const values_inputs[] = { "host", "domain", "storage_size", NULL };

static const char *const leaf_types[] = { "string", "integer", "number", "boolean", NULL };

/* snprintf, cut to fit (field names and messages are for people). */
PRINTF_LIKE(3, 4)
static void put(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

int values_error(struct vs_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;
	char what[sizeof(err->message)];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	put(err->code, sizeof(err->code), "invalid_field");
	put(err->field, sizeof(err->field), "%s", field);
	put(err->message, sizeof(err->message), "%s: %s", err->field, what);
	return -1;
}

#define fail values_error

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* A letter, then letters, digits, '_' or '-'; not a name JavaScript objects carry. */
static int name_ok(const char *name)
{
	static const char *const reserved[] = { "constructor", "prototype", NULL };
	size_t len = strlen(name);

	if (len == 0 || len > VS_NAME_MAX ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return 0;
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		return 0;
	return !in_list(name, reserved);
}

static json_object *member(json_object *obj, const char *name)
{
	json_object *v = NULL;

	return obj && json_object_object_get_ex(obj, name, &v) ? v : NULL;
}

/* "prefix.name" into out (cut to fit: a field name is for people). */
static void join(char *out, size_t size, const char *prefix, const char *name)
{
	put(out, size, "%s%s%s", prefix, *prefix ? "." : "", name);
}

/* Characters of a string, or -1 when it is not UTF-8 or holds a control character
 * other than \n and \t. */
static long text_length(json_object *s)
{
	const char *p = json_object_get_string(s);
	size_t len = (size_t)json_object_get_string_len(s), i = 0;
	long n = 0;

	while (i < len) {
		unsigned cp;
		size_t step = utf8_next(p + i, len - i, &cp);
		if (step == 0 || (cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f)
			return -1;
		i += step;
		n++;
	}
	return n;
}

/* A string of at most max characters (and at least 1 when nonempty). */
static int text_ok(json_object *v, long max, int nonempty)
{
	long n;

	if (!v || !json_object_is_type(v, json_type_string))
		return 0;
	n = text_length(v);
	return n >= (nonempty ? 1 : 0) && n <= max;
}

static int is_number(json_object *v)
{
	return v && (json_object_is_type(v, json_type_int) ||
	             (json_object_is_type(v, json_type_double) &&
	              isfinite(json_object_get_double(v))));
}

static int is_count(json_object *v)
{
	return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
	       json_object_get_int64(v) <= VS_STRING_MAX;
}

/* regcomp of a pattern already bounded in length; 0 or -1 with why. */
static int pattern_compile(const char *pattern, regex_t *re, char *why, size_t whylen)
{
	int rc;

	for (const char *p = pattern; *p; p++) {
		if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
			snprintf(why, whylen, "backreferences (\\%c) are not allowed", p[1]);
			return -1;
		}
		if (p[0] == '\\' && p[1])
			p++;
	}
	rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[160];
		regerror(rc, re, msg, sizeof(msg));
		put(why, whylen, "is not a POSIX extended regular expression (%s)", msg);
		return -1;
	}
	return 0;
}

/* ---- a value against its (checked) leaf property ------------------------------------ */

static int value_check(json_object *prop, json_object *v, const char *field, int with_enum,
                       struct vs_error *err)
{
	const char *type = json_object_get_string(member(prop, "type"));
	json_object *min = member(prop, "minimum"), *max = member(prop, "maximum");
	json_object *choices = member(prop, "enum");

	if (strcmp(type, "string") == 0) {
		json_object *minl = member(prop, "minLength"), *maxl = member(prop, "maxLength");
		json_object *pattern = member(prop, "pattern");
		json_object *message = member(prop, "pattern_message");
		long n;

		if (!v || !json_object_is_type(v, json_type_string))
			return fail(err, field, "must be a string");
		n = text_length(v);
		if (n < 0)
			return fail(err, field, "must be text without control characters");
		if (n > (maxl ? json_object_get_int64(maxl) : VS_STRING_MAX))
			return fail(err, field, "must be at most %ld characters",
			            maxl ? (long)json_object_get_int64(maxl) : (long)VS_STRING_MAX);
		if (minl && n < json_object_get_int64(minl))
			return fail(err, field, "must be at least %ld characters",
			            (long)json_object_get_int64(minl));
		if (pattern) {
			regex_t re;
			char why[200];
			int match;
			if (pattern_compile(json_object_get_string(pattern), &re, why, sizeof(why)) < 0)
				return fail(err, field, "the template's pattern %s", why);
			match = regexec(&re, json_object_get_string(v), 0, NULL, 0) == 0;
			regfree(&re);
			/* The template's words when it has them; else words and the pattern,
			 * never the pattern alone. */
			if (!match && message)
				return fail(err, field, "%s", json_object_get_string(message));
			if (!match)
				return fail(err, field, "not in the form this setting takes "
				                        "(the pattern %s)",
				            json_object_get_string(pattern));
		}
	} else if (strcmp(type, "integer") == 0) {
		int64_t i;
		if (!v || !json_object_is_type(v, json_type_int))
			return fail(err, field, "must be a whole number");
		i = json_object_get_int64(v);
		if (min && i < json_object_get_int64(min))
			return fail(err, field, "must be at least %lld",
			            (long long)json_object_get_int64(min));
		if (max && i > json_object_get_int64(max))
			return fail(err, field, "must be at most %lld",
			            (long long)json_object_get_int64(max));
	} else if (strcmp(type, "number") == 0) {
		double d;
		if (!is_number(v))
			return fail(err, field, "must be a number");
		d = json_object_get_double(v);
		if (min && d < json_object_get_double(min))
			return fail(err, field, "must be at least %g", json_object_get_double(min));
		if (max && d > json_object_get_double(max))
			return fail(err, field, "must be at most %g", json_object_get_double(max));
	} else if (!v || !json_object_is_type(v, json_type_boolean)) {
		return fail(err, field, "must be true or false");
	}
	if (with_enum && choices) {
		size_t n = json_object_array_length(choices);
		for (size_t i = 0; i < n; i++)
			if (json_object_equal(v, json_object_array_get_idx(choices, i)))
				return 0;
		return fail(err, field, "must be one of %s",
		            json_object_to_json_string_ext(choices, JSON_C_TO_STRING_PLAIN |
		                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	return 0;
}

/* ---- the schema ---------------------------------------------------------------------- */

static int check_object(json_object *node, const char *field, int depth, int *count,
                        struct vs_error *err);

/* The keywords a property of this type may carry. */
static int keyword_ok(const char *type, const char *key)
{
	static const char *const common[] = { "type", "title", "description", NULL };
	static const char *const string_kw[] = { "default", "enum", "pattern", "pattern_message",
		                                 "minLength", "maxLength", "secret", NULL };
	static const char *const number_kw[] = { "default", "enum", "minimum", "maximum", NULL };
	static const char *const object_kw[] = { "properties", "required", NULL };

	if (in_list(key, common))
		return 1;
	if (strcmp(type, "string") == 0)
		return in_list(key, string_kw);
	if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
		return in_list(key, number_kw);
	if (strcmp(type, "boolean") == 0)
		return strcmp(key, "default") == 0;
	return in_list(key, object_kw);
}

static int check_bounds(json_object *prop, const char *type, const char *field,
                        struct vs_error *err)
{
	char sub[VS_FIELD_MAX];
	json_object *lo, *hi;
	int integer = strcmp(type, "integer") == 0;
	const char *lo_name = integer || strcmp(type, "number") == 0 ? "minimum" : "minLength";
	const char *hi_name = integer || strcmp(type, "number") == 0 ? "maximum" : "maxLength";

	lo = member(prop, lo_name);
	hi = member(prop, hi_name);
	for (int i = 0; i < 2; i++) {
		json_object *b = i ? hi : lo;
		int good;
		if (!b)
			continue;
		join(sub, sizeof(sub), field, i ? hi_name : lo_name);
		if (strcmp(type, "string") == 0)
			good = is_count(b);
		else
			good = integer ? json_object_is_type(b, json_type_int) : is_number(b);
		if (!good && strcmp(type, "string") == 0)
			return fail(err, sub, "must be a whole number from 0 to %d", VS_STRING_MAX);
		if (!good)
			return fail(err, sub, "must be %s", integer ? "a whole number" : "a number");
	}
	if (lo && hi && json_object_get_double(lo) > json_object_get_double(hi)) {
		join(sub, sizeof(sub), field, lo_name);
		return fail(err, sub, "must not be greater than %s", hi_name);
	}
	return 0;
}

static int check_leaf(json_object *prop, const char *type, const char *field,
                      struct vs_error *err)
{
	char sub[VS_FIELD_MAX];
	json_object *choices = member(prop, "enum"), *secret = member(prop, "secret");
	json_object *pattern = member(prop, "pattern"), *dflt = member(prop, "default");
	json_object *message = member(prop, "pattern_message");

	if (check_bounds(prop, type, field, err) < 0)
		return -1;
	if (message) {
		join(sub, sizeof(sub), field, "pattern_message");
		if (!pattern)
			return fail(err, sub, "goes only with a pattern (it is what a person reads "
			                      "when a value does not match it)");
		if (!text_ok(message, VS_TITLE_MAX, 1))
			return fail(err, sub, "must be text of 1 to %d characters", VS_TITLE_MAX);
	}
	if (pattern) {
		regex_t re;
		char why[200];
		join(sub, sizeof(sub), field, "pattern");
		if (!json_object_is_type(pattern, json_type_string) ||
		    json_object_get_string_len(pattern) < 1 ||
		    json_object_get_string_len(pattern) > VS_PATTERN_MAX || text_length(pattern) < 0)
			return fail(err, sub, "must be a regular expression of 1 to %d bytes",
			            VS_PATTERN_MAX);
		if (pattern_compile(json_object_get_string(pattern), &re, why, sizeof(why)) < 0)
			return fail(err, sub, "%s", why);
		regfree(&re);
	}
	if (secret) {
		join(sub, sizeof(sub), field, "secret");
		if (!json_object_is_type(secret, json_type_boolean))
			return fail(err, sub, "must be true or false");
		if (json_object_get_boolean(secret) && dflt)
			return fail(err, sub, "a secret has no default (it would be every install's "
			                      "password): leave default out");
	}
	if (choices) {
		size_t n;
		join(sub, sizeof(sub), field, "enum");
		if (!json_object_is_type(choices, json_type_array) ||
		    (n = json_object_array_length(choices)) < 1 || n > VS_ENUM_MAX)
			return fail(err, sub, "must be a list of 1 to %d values", VS_ENUM_MAX);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(choices, i);
			char at[VS_FIELD_MAX];
			put(at, sizeof(at), "%s[%zu]", sub, i);
			if (value_check(prop, e, at, 0, err) < 0)
				return -1;
			for (size_t j = 0; j < i; j++)
				if (json_object_equal(e, json_object_array_get_idx(choices, j)))
					return fail(err, at, "is listed twice");
		}
	}
	if (dflt) {
		join(sub, sizeof(sub), field, "default");
		if (value_check(prop, dflt, sub, 1, err) < 0)
			return -1;
	}
	return 0;
}

static int check_property(json_object *prop, const char *field, int depth, int *count,
                          struct vs_error *err)
{
	char sub[VS_FIELD_MAX];
	json_object *type = member(prop, "type");
	const char *t;

	if (!prop || !json_object_is_type(prop, json_type_object))
		return fail(err, field, "must be an object with a type");
	join(sub, sizeof(sub), field, "type");
	if (!type || !json_object_is_type(type, json_type_string) ||
	    (!in_list(json_object_get_string(type), leaf_types) &&
	     strcmp(json_object_get_string(type), "object") != 0))
		return fail(err, sub, "must be string, integer, number, boolean or object");
	t = json_object_get_string(type);
	json_object_object_foreach(prop, key, val) {
		(void)val;
		if (!keyword_ok(t, key)) {
			join(sub, sizeof(sub), field, key);
			return fail(err, sub, "is not a keyword a %s property may have", t);
		}
	}
	for (int i = 0; i < 2; i++) {
		const char *kw = i ? "description" : "title";
		json_object *v = member(prop, kw);
		long max = i ? VS_DESCRIPTION_MAX : VS_TITLE_MAX;
		join(sub, sizeof(sub), field, kw);
		if (v && !text_ok(v, max, 0))
			return fail(err, sub, "must be text of at most %ld characters", max);
	}
	if (strcmp(t, "object") == 0)
		return check_object(prop, field, depth, count, err);
	return check_leaf(prop, t, field, err);
}

/* An object node (the top, or a property of type object) at depth (its properties'
 * names are at depth + 1). */
static int check_object(json_object *node, const char *field, int depth, int *count,
                        struct vs_error *err)
{
	char sub[VS_FIELD_MAX], props_field[VS_FIELD_MAX];
	json_object *props = member(node, "properties"), *required = member(node, "required");

	join(props_field, sizeof(props_field), field, "properties");
	if (!props || !json_object_is_type(props, json_type_object))
		return fail(err, props_field, "must be an object of properties");
	json_object_object_foreach(props, name, prop) {
		join(sub, sizeof(sub), props_field, name);
		if (!name_ok(name))
			return fail(err, sub, "a property's name is a letter, then letters, digits, "
			                      "'_' or '-' (at most %d; not constructor or prototype)",
			            VS_NAME_MAX);
		if (depth + 1 > VS_MAX_DEPTH)
			return fail(err, sub, "properties nest at most %d deep", VS_MAX_DEPTH);
		if (++*count > VS_MAX_PROPERTIES)
			return fail(err, sub, "a schema has at most %d properties", VS_MAX_PROPERTIES);
		if (check_property(prop, sub, depth + 1, count, err) < 0)
			return -1;
	}
	if (required) {
		size_t n;
		join(sub, sizeof(sub), field, "required");
		if (!json_object_is_type(required, json_type_array) ||
		    (n = json_object_array_length(required)) > VS_MAX_PROPERTIES)
			return fail(err, sub, "must be a list of property names");
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(required, i);
			const char *s = json_object_is_type(e, json_type_string)
			                        ? json_object_get_string(e) : NULL;
			if (!s || !member(props, s))
				return fail(err, sub, "names %s, which is not one of its properties",
				            s ? s : "something");
			for (size_t j = 0; j < i; j++)
				if (json_object_equal(e, json_object_array_get_idx(required, j)))
					return fail(err, sub, "names %s twice", s);
		}
	}
	return 0;
}

int values_schema_check(json_object *schema, struct vs_error *err)
{
	char sub[VS_FIELD_MAX];
	json_object *type = member(schema, "type");
	int count = 0;

	if (!schema || !json_object_is_type(schema, json_type_object))
		return fail(err, "values_schema", "must be an object with type \"object\"");
	if (!type || !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "object") != 0)
		return fail(err, "values_schema.type", "must be \"object\"");
	json_object_object_foreach(schema, key, val) {
		(void)val;
		if (!keyword_ok("object", key)) {
			join(sub, sizeof(sub), "values_schema", key);
			return fail(err, sub, "is not a keyword of the schema's top level");
		}
	}
	for (int i = 0; i < 2; i++) {
		const char *kw = i ? "description" : "title";
		json_object *v = member(schema, kw);
		long max = i ? VS_DESCRIPTION_MAX : VS_TITLE_MAX;
		join(sub, sizeof(sub), "values_schema", kw);
		if (v && !text_ok(v, max, 0))
			return fail(err, sub, "must be text of at most %ld characters", max);
	}
	return check_object(schema, "values_schema", 0, &count, err);
}

/* ---- a user's values ----------------------------------------------------------------- */

static int is_object_prop(json_object *prop)
{
	return strcmp(json_object_get_string(member(prop, "type")), "object") == 0;
}

static int listed(json_object *list, const char *name)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(list, i)), name) == 0)
			return 1;
	return 0;
}

/* Values of one object node into out (an empty object made by the caller). */
static int apply_object(json_object *node, json_object *values, const char *field,
                        json_object *out, struct vs_error *err)
{
	char sub[VS_FIELD_MAX];
	json_object *props = member(node, "properties"), *required = member(node, "required");

	if (values && !json_object_is_type(values, json_type_object))
		return fail(err, field, "must be an object");
	if (values) {
		json_object_object_foreach(values, key, val) {
			(void)val;
			if (!member(props, key)) {
				join(sub, sizeof(sub), field, key);
				fail(err, sub, "is not a setting of this application");
				put(err->code, sizeof(err->code), "unknown_field");
				return -1;
			}
		}
	}
	json_object_object_foreach(props, name, prop) {
		json_object *given = NULL, *v = NULL;
		/* A null is a value of the wrong type, not a value left out. */
		int has = values && json_object_object_get_ex(values, name, &given);
		join(sub, sizeof(sub), field, name);
		if (has && !given) {
			return fail(err, sub, "must be %s", is_object_prop(prop) ? "an object"
			            : strcmp(json_object_get_string(member(prop, "type")), "boolean") == 0
			                    ? "true or false" : "given (null is not a value)");
		} else if (is_object_prop(prop)) {
			v = json_object_new_object();
			if (!v)
				return fail(err, sub, "out of memory");
			if (apply_object(prop, given, sub, v, err) < 0) {
				json_object_put(v);
				return -1;
			}
			if (json_object_object_length(v) == 0 && !given) {
				json_object_put(v);
				v = NULL;
			}
		} else if (given) {
			if (value_check(prop, given, sub, 1, err) < 0)
				return -1;
			v = json_object_get(given);
		} else if (member(prop, "default")) {
			v = json_object_get(member(prop, "default"));
		}
		/* Nested objects are always there in the chart's values: their required
		 * members are required whether or not the user sent the object. */
		if (!v && listed(required, name))
			return fail(err, sub, "is required");
		if (v && json_object_object_add(out, name, v) != 0)
			return fail(err, sub, "out of memory");
	}
	return 0;
}

int values_schema_apply(json_object *schema, json_object *values, json_object **out,
                        struct vs_error *err)
{
	json_object *result = json_object_new_object(), *copy = NULL;

	if (!result)
		return fail(err, "values", "out of memory");
	if (apply_object(schema, values, "values", result, err) < 0) {
		json_object_put(result);
		return -1;
	}
	/* A deep copy: the result shares no strings with the caller's tree. */
	if (json_object_deep_copy(result, &copy, NULL) != 0) {
		json_object_put(result);
		return fail(err, "values", "out of memory");
	}
	json_object_put(result);
	*out = copy;
	return 0;
}

/* ---- split, secret paths ------------------------------------------------------------- */

static int split_object(json_object *node, json_object *values, json_object *plain,
                        json_object *secret)
{
	json_object *props = member(node, "properties");

	json_object_object_foreach(values, name, val) {
		json_object *prop = member(props, name), *copy = NULL;
		if (prop && is_object_prop(prop) && json_object_is_type(val, json_type_object)) {
			json_object *p = json_object_new_object(), *s = json_object_new_object();
			int rc = p && s ? split_object(prop, val, p, s) : -1;
			if (rc == 0 && json_object_object_length(p) > 0)
				rc = json_object_object_add(plain, name, json_object_get(p));
			if (rc == 0 && json_object_object_length(s) > 0)
				rc = json_object_object_add(secret, name, json_object_get(s));
			json_object_put(p);
			json_object_put(s);
			if (rc != 0)
				return -1;
			continue;
		}
		if (json_object_deep_copy(val, &copy, NULL) != 0)
			return -1;
		if (json_object_object_add(prop && json_object_get_boolean(member(prop, "secret"))
		                                   ? secret : plain,
		                           name, copy) != 0)
			return -1;
	}
	return 0;
}

int values_schema_split(json_object *schema, json_object *values, json_object **plain,
                        json_object **secret)
{
	json_object *p = json_object_new_object(), *s = json_object_new_object();

	if (!p || !s || (values && split_object(schema, values, p, s) < 0)) {
		json_object_put(p);
		json_object_put(s);
		return -1;
	}
	*plain = p;
	*secret = s;
	return 0;
}

static int secret_walk(json_object *node, const char *prefix, json_object *out)
{
	json_object_object_foreach(member(node, "properties"), name, prop) {
		char path[VS_FIELD_MAX];
		join(path, sizeof(path), prefix, name);
		if (is_object_prop(prop)) {
			if (secret_walk(prop, path, out) < 0)
				return -1;
		} else if (json_object_get_boolean(member(prop, "secret")) &&
		           json_object_array_add(out, json_object_new_string(path)) != 0) {
			return -1;
		}
	}
	return 0;
}

json_object *values_schema_secret_paths(json_object *schema)
{
	json_object *out = json_object_new_array();

	if (out && secret_walk(schema, "", out) < 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

/* ---- merge and key paths ------------------------------------------------------------- */

int values_merge(json_object *dst, json_object *src)
{
	json_object_object_foreach(src, key, val) {
		json_object *have = member(dst, key), *copy = NULL;
		if (have && json_object_is_type(have, json_type_object) &&
		    json_object_is_type(val, json_type_object)) {
			if (values_merge(have, val) < 0)
				return -1;
			continue;
		}
		if ((val && json_object_deep_copy(val, &copy, NULL) != 0) ||
		    json_object_object_add(dst, key, copy) != 0)
			return -1;
	}
	return 0;
}

struct segment {
	char name[VS_NAME_MAX + 1];
	int index; /* -1: none */
};

/* path -> segs; the count, or -1 when malformed. */
static int path_parse(const char *path, struct segment *segs)
{
	int n = 0;
	size_t len = strlen(path);

	if (len == 0 || len > VS_PATH_MAX)
		return -1;
	for (const char *p = path;;) {
		size_t name_len = strcspn(p, ".[");
		if (n == VS_PATH_SEGMENTS || name_len == 0 || name_len > VS_NAME_MAX)
			return -1;
		memcpy(segs[n].name, p, name_len);
		segs[n].name[name_len] = '\0';
		if (!name_ok(segs[n].name))
			return -1;
		segs[n].index = -1;
		p += name_len;
		if (*p == '[') {
			size_t digits = strspn(p + 1, "0123456789");
			if (digits < 1 || digits > 2 || p[1 + digits] != ']' ||
			    (digits == 2 && p[1] == '0'))
				return -1;
			segs[n].index = (p[1] - '0') * (digits == 2 ? 10 : 1) +
			                (digits == 2 ? p[2] - '0' : 0);
			p += digits + 2;
		}
		n++;
		if (*p == '\0')
			return n;
		if (*p != '.')
			return -1;
		p++;
	}
}

int values_path_valid(const char *path)
{
	struct segment segs[VS_PATH_SEGMENTS];

	return path && path_parse(path, segs) > 0;
}

/* Walks segs from cur; with make == 0 only checks that the set can be done, with
 * make == 1 does it (value's reference taken). like_previous: an array element made on
 * the way starts as a copy of the element before it when that one is an object (the
 * domain input: a second ingress host with the first one's paths). */
static int path_walk(json_object *cur, const struct segment *segs, int n, json_object *value,
                     int make, int like_previous)
{
	for (int i = 0; i < n; i++) {
		int last = i == n - 1;
		json_object *child;

		if (cur && !json_object_is_type(cur, json_type_object))
			return -1;
		child = member(cur, segs[i].name);
		if (segs[i].index < 0) {
			if (last) {
				if (make)
					return json_object_object_add(cur, segs[i].name, value);
				return 0;
			}
			if (child && !json_object_is_type(child, json_type_object))
				return -1;
			if (!child && make) {
				child = json_object_new_object();
				if (!child || json_object_object_add(cur, segs[i].name, child) != 0)
					return -1;
			}
			cur = child;
			continue;
		}
		/* name[index] */
		if (child && !json_object_is_type(child, json_type_array))
			return -1;
		size_t len = child ? json_object_array_length(child) : 0;
		if ((size_t)segs[i].index > len)
			return -1;
		if (!child && make) {
			child = json_object_new_array();
			if (!child || json_object_object_add(cur, segs[i].name, child) != 0)
				return -1;
		}
		json_object *elem = (size_t)segs[i].index < len
		                            ? json_object_array_get_idx(child, (size_t)segs[i].index)
		                            : NULL;
		if (last) {
			if (!make)
				return 0;
			if (elem)
				return json_object_array_put_idx(child, (size_t)segs[i].index, value);
			return json_object_array_add(child, value);
		}
		if (elem && !json_object_is_type(elem, json_type_object))
			return -1;
		if (!elem && make) {
			json_object *prev = len > 0 ? json_object_array_get_idx(child, len - 1) : NULL;
			elem = NULL;
			if (like_previous && json_object_is_type(prev, json_type_object)) {
				if (json_object_deep_copy(prev, &elem, NULL) != 0)
					return -1;
			} else {
				elem = json_object_new_object();
			}
			if (!elem || json_object_array_add(child, elem) != 0) {
				json_object_put(elem);
				return -1;
			}
		}
		cur = elem;
	}
	return -1;
}

static int path_set(json_object *root, const char *path, json_object *value, int like_previous)
{
	struct segment segs[VS_PATH_SEGMENTS];
	int n = path ? path_parse(path, segs) : -1;

	if (n <= 0 || !root || !json_object_is_type(root, json_type_object) ||
	    path_walk(root, segs, n, NULL, 0, 0) < 0 ||
	    path_walk(root, segs, n, value, 1, like_previous) < 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int values_path_set(json_object *root, const char *path, json_object *value)
{
	return path_set(root, path, value, 0);
}

/* ---- inputs and the chart's values --------------------------------------------------- */

/* The custom domain is served beside the service's host, never instead of it: domain
 * needs host, and none of its paths is one of host's. */
static int domain_check(json_object *inputs, struct vs_error *err)
{
	json_object *domain = member(inputs, "domain"), *host = member(inputs, "host");

	if (!domain)
		return 0;
	if (!host)
		return fail(err, "inputs.domain", "needs inputs.host: a custom domain is served "
		                                  "beside the service's own web address");
	for (size_t i = 0; i < json_object_array_length(domain); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(domain, i));
		for (size_t j = 0; j < json_object_array_length(host); j++) {
			if (strcmp(d, json_object_get_string(json_object_array_get_idx(host, j))) == 0)
				return fail(err, "inputs.domain", "%s is also in inputs.host: the custom "
				                                  "domain would replace the service's own "
				                                  "host; map it to another key, such as "
				                                  "ingress.hosts[1].host",
				            d);
		}
	}
	return 0;
}

int values_inputs_check(json_object *inputs, struct vs_error *err)
{
	char sub[VS_FIELD_MAX];

	if (!inputs || !json_object_is_type(inputs, json_type_object))
		return fail(err, "inputs", "must be an object: {\"host\": [paths], "
		                           "\"storage_size\": [paths]}");
	json_object_object_foreach(inputs, name, paths) {
		size_t n;
		join(sub, sizeof(sub), "inputs", name);
		if (!in_list(name, values_inputs))
			return fail(err, sub, "is not one of Kaiden's inputs (host, domain, "
			                      "storage_size)");
		if (!json_object_is_type(paths, json_type_array) ||
		    (n = json_object_array_length(paths)) < 1 || n > 8)
			return fail(err, sub, "must be a list of 1 to 8 chart value paths");
		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_array_get_idx(paths, i);
			if (!json_object_is_type(p, json_type_string) ||
			    !values_path_valid(json_object_get_string(p)))
				return fail(err, sub, "%s is not a chart value path such as "
				                      "ingress.hosts[0].host",
				            json_object_is_type(p, json_type_string)
				                    ? json_object_get_string(p) : "an item");
		}
	}
	return domain_check(inputs, err);
}

int values_chart_build(json_object *default_values, json_object *values, json_object *inputs,
                       json_object *given_inputs, json_object **out, struct vs_error *err)
{
	json_object *chart = NULL;

	if (default_values) {
		if (json_object_deep_copy(default_values, &chart, NULL) != 0)
			return fail(err, "default_values", "out of memory");
	} else if (!(chart = json_object_new_object())) {
		return fail(err, "default_values", "out of memory");
	}
	if (values && values_merge(chart, values) < 0) {
		json_object_put(chart);
		return fail(err, "values", "out of memory");
	}
	if (!inputs) {
		*out = chart;
		return 0;
	}
	json_object_object_foreach(inputs, name, paths) {
		json_object *given = member(given_inputs, name);
		char sub[VS_FIELD_MAX];
		if (!given)
			continue;
		join(sub, sizeof(sub), "inputs", name);
		for (size_t i = 0; i < json_object_array_length(paths); i++) {
			const char *path = json_object_get_string(json_object_array_get_idx(paths, i));
			json_object *copy = NULL;
			if (json_object_deep_copy(given, &copy, NULL) != 0 ||
			    path_set(chart, path, copy, strcmp(name, "domain") == 0) < 0) {
				json_object_put(chart);
				return fail(err, sub, "%s cannot be set: something on its way is not "
				                      "an object",
				            path);
			}
		}
	}
	*out = chart;
	return 0;
}
