/* jsonx.h: strict JSON input. Parses a request or message body and checks it against a
 * small table of fields, so every handler validates the same way and every error names
 * the field. And the one JSON string writer for output built as text (jsonx_buf_str). */
#ifndef KAIDEN_JSONX_H
#define KAIDEN_JSONX_H

#include <stddef.h>
#include <json-c/json.h>
#include "buf.h"
#include "compat.h"

/* JSONX_ARRAY checks only that the member is an array of min_len..max_len elements; the
 * caller checks the elements. */
enum jsonx_type { JSONX_STRING, JSONX_INT, JSONX_BOOL, JSONX_OBJECT, JSONX_ARRAY };

struct jsonx_field {
	const char *name;
	enum jsonx_type type;
	int required;
	size_t min_len, max_len; /* JSONX_STRING: length in characters (code points);
	                            JSONX_ARRAY: number of elements */
	int nullable;            /* JSON null is accepted (and means "not given") */
};

/* What was wrong, for the caller to turn into an error reply. */
struct jsonx_error {
	char code[32];     /* "invalid_json", "not_an_object", "missing_field",
	                      "invalid_field", "unknown_field" */
	char field[64];    /* the field concerned, "" if none */
	char message[256]; /* a sentence a person can act on, naming the field */
};

/* Parses len bytes (need not be NUL-terminated) into *out; the whole input must be one
 * JSON value (RFC 8259), and every route and message is parsed here, so this is where
 * json-c's leniencies are refused: NaN, Infinity and -Infinity, numbers past a double's
 * range, integers past 64 bits, \u0000 and lone surrogate escapes, strings (keys too)
 * that are not strict UTF-8, and a member name twice in one object. 0, or -1 with err
 * filled ("invalid_json", message with the offset where there is one). */
int jsonx_parse(const char *data, size_t len, json_object **out, struct jsonx_error *err) WUR;

/* Checks that obj is an object whose members are all in fields[0..n), of the right type
 * and length, and that every required one is present. Strings must be valid UTF-8 with no
 * control characters other than \n and \t (in fields that allow them: max_len > 256).
 * 0, or -1 with err filled. */
int jsonx_check(json_object *obj, const struct jsonx_field *fields, size_t n,
                struct jsonx_error *err) WUR;

/* Borrowed string member, or NULL when absent or null. */
const char *jsonx_str(json_object *obj, const char *name);

/* Adds name -> string (or null when value is NULL) to obj. */
void jsonx_add_str(json_object *obj, const char *name, const char *value);

/* Appends s (NUL-terminated) to out as a JSON string, quotes included, escaped byte for
 * byte as json-c serializes a string with JSON_C_TO_STRING_NOSLASHESCAPE (how replies
 * are written, resp.c): \" \\ \b \f \n \r \t, any other byte below 0x20 as \u00xx
 * (lower-case hex), everything else (DEL, UTF-8, invalid bytes) as it is. Text built
 * here and json-c's objects therefore give the same bytes. 0, or -1 (out's cap or
 * memory; out is left as it was). */
int jsonx_buf_str(struct buf *out, const char *s) WUR;

#endif
