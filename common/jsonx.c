/* jsonx.c: strict parsing and field-table validation of JSON input; JSON strings
 * written as text. */
#include "jsonx.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static void jsonx_fail(struct jsonx_error *err, const char *code, const char *field,
                       const char *fmt, ...) PRINTF_LIKE(4, 5);

static void jsonx_fail(struct jsonx_error *err, const char *code, const char *field,
                       const char *fmt, ...)
{
	va_list ap;

	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* White space as JSON has it (RFC 8259 2). */
static int json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The four hex digits at s (n bytes available) as a number, or -1. */
static long hex4(const char *s, size_t n)
{
	char digits[5];

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		digits[i] = s[i];
	}
	digits[4] = '\0';
	return strtol(digits, NULL, 16);
}

/* The number token at data[i] (outside strings): the index just past its integer
 * part, or 0 when it is an integer (no fraction, no exponent) that json-c would quietly
 * clamp: above 18446744073709551615 or below -9223372036854775808. */
static size_t integer_end(const char *data, size_t len, size_t i)
{
	static const char max_pos[] = "18446744073709551615", max_neg[] = "9223372036854775808";
	int negative = data[i] == '-';
	size_t start = i + (size_t)negative, end = start, digits;
	const char *limit = negative ? max_neg : max_pos;

	while (end < len && data[end] >= '0' && data[end] <= '9')
		end++;
	if (end < len && (data[end] == '.' || data[end] == 'e' || data[end] == 'E'))
		return end; /* a double: numbers_finite looks at its range */
	digits = end - start; /* JSON allows no leading zeros: digits say the magnitude */
	if (digits > strlen(limit) ||
	    (digits == strlen(limit) && memcmp(data + start, limit, digits) > 0))
		return 0;
	return end;
}

/* What json-c's strict mode still lets through, looked for in a document it parsed:
 * the tokens NaN, Infinity and -Infinity (JSON has no such numbers); integers past 64
 * bits (json-c clamps them without a word); \u0000 (it becomes a NUL that cuts a key
 * short or hides the rest of a string, and PostgreSQL text cannot hold it); a lone
 * surrogate escape (json-c quietly makes it U+FFFD); and string bytes that are not
 * strict UTF-8 (surrogates, overlong forms, past U+10FFFF: json-c's check takes them,
 * PostgreSQL does not). Keys and values alike, at any depth. The document is known to
 * be well-formed here, so tracking strings by their quotes is exact. *names is the
 * number of member names written, for tree_ok to compare. */
static int text_ok(const char *data, size_t len, size_t *names, struct jsonx_error *err)
{
	int in_string = 0;

	*names = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)data[i];
		unsigned cp;
		size_t n;

		if (!in_string) {
			if (c == 'N' || c == 'I') {
				jsonx_fail(err, "invalid_json", NULL,
				           "the body is not valid JSON: NaN and Infinity are not JSON "
				           "numbers (byte %zu)", i);
				return -1;
			}
			if (c == '-' || (c >= '0' && c <= '9')) {
				size_t end = integer_end(data, len, i);
				if (end == 0) {
					jsonx_fail(err, "invalid_json", NULL,
					           "the body is not valid JSON: an integer past 64 bits "
					           "(byte %zu)", i);
					return -1;
				}
				i = end;
				continue;
			}
			in_string = c == '"';
			i++;
			continue;
		}
		if (c == '"') {
			/* A string followed by ':' is a member name. */
			size_t next = i + 1;
			while (next < len && json_space(data[next]))
				next++;
			if (next < len && data[next] == ':')
				(*names)++;
			in_string = 0;
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < len && data[i + 1] == 'u') {
			long u = hex4(data + i + 2, len - i - 2);
			if (u == 0) {
				jsonx_fail(err, "invalid_json", NULL,
				           "the body is not valid JSON: \\u0000 (NUL) is not accepted in a "
				           "string (byte %zu)", i);
				return -1;
			}
			if (u >= 0xd800 && u <= 0xdbff && i + 7 < len && data[i + 6] == '\\' &&
			    data[i + 7] == 'u') {
				long low = hex4(data + i + 8, len - i - 8);
				if (low >= 0xdc00 && low <= 0xdfff) {
					i += 12; /* a surrogate pair: one code point */
					continue;
				}
			}
			if (u >= 0xd800 && u <= 0xdfff) {
				jsonx_fail(err, "invalid_json", NULL,
				           "the body is not valid JSON: a lone UTF-16 surrogate escape "
				           "(byte %zu)", i);
				return -1;
			}
			i += 6;
			continue;
		}
		if (c == '\\') {
			i += 2;
			continue;
		}
		n = c < 0x80 ? 1 : utf8_next(data + i, len - i, &cp);
		if (n == 0) {
			jsonx_fail(err, "invalid_json", NULL,
			           "the body is not valid JSON: a string is not valid UTF-8 (byte %zu)", i);
			return -1;
		}
		i += n;
	}
	return 0;
}

/* What only the parsed tree shows. A number past a double's range (1e999) parses as
 * infinity, which has no JSON form to store or send back: 0. A member name used twice
 * in one object (json-c keeps the last, another reader may keep the first: one body
 * read two ways is how checks get bypassed) leaves the tree with fewer names than
 * text_ok counted in the text: *names is the tree's count. 1 otherwise. The tokener's
 * depth limit bounds the recursion. */
static int tree_ok(json_object *v, size_t *names)
{
	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!tree_ok(json_object_array_get_idx(v, i), names))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(v, key, member) {
			(void)key;
			(*names)++;
			if (!tree_ok(member, names))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

int jsonx_parse(const char *data, size_t len, json_object **out, struct jsonx_error *err)
{
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t used, names_written = 0, names_parsed = 0;

	if (!data || len == 0) {
		jsonx_fail(err, "invalid_json", NULL, "the request body is empty; send a JSON object");
		return -1;
	}
	if (len > INT32_MAX) {
		jsonx_fail(err, "invalid_json", NULL, "the body is too large to parse");
		return -1;
	}
	tok = json_tokener_new_ex(32);
	if (!tok) {
		jsonx_fail(err, "invalid_json", NULL, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number like "12" is only finished by the end of input. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_continue) {
			jsonx_fail(err, "invalid_json", NULL,
			           "the body is not valid JSON: it ends in the middle of a value");
			goto fail;
		}
	}
	/* Success with obj NULL is the JSON value null: jsonx_check calls it not an object. */
	if (jerr != json_tokener_success) {
		jsonx_fail(err, "invalid_json", NULL, "the body is not valid JSON: %s at byte %zu",
		           json_tokener_error_desc(jerr), used);
		goto fail;
	}
	/* Only white space may follow the value. */
	for (size_t i = used; i < len; i++) {
		if (!json_space(data[i])) {
			jsonx_fail(err, "invalid_json", NULL,
			           "the body is not valid JSON: unexpected data after the value at byte %zu",
			           i);
			json_object_put(obj);
			goto fail;
		}
	}
	if (text_ok(data, used, &names_written, err) < 0) {
		json_object_put(obj);
		goto fail;
	}
	if (!tree_ok(obj, &names_parsed)) {
		jsonx_fail(err, "invalid_json", NULL,
		           "the body is not valid JSON: a number is too large (beyond 1.8e308)");
		json_object_put(obj);
		goto fail;
	}
	if (names_parsed != names_written) {
		jsonx_fail(err, "invalid_json", NULL,
		           "the body is not valid JSON: an object has the same member name twice");
		json_object_put(obj);
		goto fail;
	}
	json_tokener_free(tok);
	*out = obj;
	return 0;
fail:
	json_tokener_free(tok);
	return -1;
}

static const char *type_name(enum jsonx_type t)
{
	switch (t) {
	case JSONX_STRING: return "a string";
	case JSONX_INT: return "an integer";
	case JSONX_BOOL: return "true or false";
	case JSONX_OBJECT: return "an object";
	case JSONX_ARRAY: return "an array";
	}
	return "?";
}

/* Strings are already strict UTF-8 without NUL (jsonx_parse checked); refuse control characters,
 * allowing tab and newline only in long free-text fields. */
static int string_ok(const char *s, size_t len, int free_text)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x7f || (c < 0x20 && !(free_text && (c == '\n' || c == '\t' || c == '\r'))))
			return 0;
	}
	return 1;
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

int jsonx_check(json_object *obj, const struct jsonx_field *fields, size_t n,
                struct jsonx_error *err)
{
	if (!json_object_is_type(obj, json_type_object)) {
		jsonx_fail(err, "not_an_object", NULL, "the body must be a JSON object");
		return -1;
	}
	json_object_object_foreach(obj, key, val) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == n) {
			char shown[64];
			snprintf(shown, sizeof(shown), "%s", key);
			jsonx_fail(err, "unknown_field", shown, "%s: this field is not accepted here",
			           shown);
			return -1;
		}
		(void)val;
	}
	for (size_t i = 0; i < n; i++) {
		const struct jsonx_field *f = &fields[i];
		json_object *v;

		if (!json_object_object_get_ex(obj, f->name, &v)) {
			if (f->required) {
				jsonx_fail(err, "missing_field", f->name, "%s: this field is required",
				           f->name);
				return -1;
			}
			continue;
		}
		if (v == NULL) { /* JSON null */
			if (f->nullable)
				continue;
			jsonx_fail(err, "invalid_field", f->name, "%s: must be %s, not null", f->name,
			           type_name(f->type));
			return -1;
		}
		switch (f->type) {
		case JSONX_STRING: {
			const char *s;
			size_t len, chars;
			if (!json_object_is_type(v, json_type_string))
				goto wrong_type;
			s = json_object_get_string(v);
			len = (size_t)json_object_get_string_len(v);
			if (strlen(s) != len || !string_ok(s, len, f->max_len > 256)) {
				jsonx_fail(err, "invalid_field", f->name,
				           "%s: must not contain control characters", f->name);
				return -1;
			}
			chars = utf8_chars(s, len);
			if (chars < f->min_len || chars > f->max_len) {
				if (f->min_len > 0 && chars < f->min_len)
					jsonx_fail(err, "invalid_field", f->name,
					           "%s: must be %zu to %zu characters long", f->name, f->min_len,
					           f->max_len);
				else
					jsonx_fail(err, "invalid_field", f->name,
					           "%s: must be at most %zu characters long", f->name, f->max_len);
				return -1;
			}
			break;
		}
		case JSONX_INT:
			if (!json_object_is_type(v, json_type_int))
				goto wrong_type;
			break;
		case JSONX_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				goto wrong_type;
			break;
		case JSONX_OBJECT:
			if (!json_object_is_type(v, json_type_object))
				goto wrong_type;
			break;
		case JSONX_ARRAY: {
			size_t count;
			if (!json_object_is_type(v, json_type_array))
				goto wrong_type;
			count = json_object_array_length(v);
			if (count < f->min_len || count > f->max_len) {
				jsonx_fail(err, "invalid_field", f->name,
				           "%s: must have %zu to %zu elements", f->name, f->min_len,
				           f->max_len);
				return -1;
			}
			break;
		}
		}
		continue;
wrong_type:
		jsonx_fail(err, "invalid_field", f->name, "%s: must be %s", f->name, type_name(f->type));
		return -1;
	}
	return 0;
}

const char *jsonx_str(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void jsonx_add_str(json_object *obj, const char *name, const char *value)
{
	json_object_object_add(obj, name, value ? json_object_new_string(value) : NULL);
}

/* Bytes all 0x01 and all 0x80, for the word-at-a-time tests below. */
#define WORD_ONES UINT64_C(0x0101010101010101)
#define WORD_HIGHS UINT64_C(0x8080808080808080)

/* Whether the 8 bytes of w hold one that jsonx_buf_str escapes (below 0x20, '"' or '\\').
 * The classic tests ("Bit Twiddling Hacks": haszero, hasless with n <= 128): each is
 * exact about whether such a byte is there, though not about which one it is. */
static int word_needs_escape(uint64_t w)
{
	uint64_t quote = w ^ (WORD_ONES * '"'), slash = w ^ (WORD_ONES * '\\');

	return ((((w - WORD_ONES * 0x20) & ~w) | ((quote - WORD_ONES) & ~quote) |
	         ((slash - WORD_ONES) & ~slash)) &
	        WORD_HIGHS) != 0;
}

int jsonx_buf_str(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s, *p = s, *end = s + strlen(s);
	size_t start = out->len;

	/* Most strings need no escape at all: one copy between the quotes. They are looked
	 * at eight bytes at a time, then byte by byte from the word that holds one. */
	for (uint64_t w; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if (word_needs_escape(w))
			break;
	}
	while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
		p++;
	if (p == end) {
		size_t n = (size_t)(p - s);
		char *d;
		if (buf_reserve(out, n + 2) != 0)
			return -1;
		d = out->data + out->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		out->len += n + 2;
		out->data[out->len] = '\0';
		return 0;
	}
	if (buf_append(out, "\"", 1) != 0)
		return -1;
	/* Otherwise the bytes that need none are appended a run at a time. */
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t esc_len = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc_len = 6;
			break;
		}
		if (buf_append(out, run, (size_t)(p - run)) != 0 || buf_append(out, esc, esc_len) != 0)
			goto fail;
		run = p + 1;
	}
	if (buf_puts(out, run) != 0 || buf_append(out, "\"", 1) != 0)
		goto fail;
	return 0;
fail:
	/* Nothing of a string that did not fit stays behind. */
	out->len = start;
	out->data[start] = '\0';
	return -1;
}
