/* values_schema.h: the settings form of a cloud service's chart (issue 13), pure
 * functions over json-c trees: no database, no I/O, no globals.
 *
 * A values schema is a small subset of JSON Schema, from which the portal builds the
 * form and the API checks what a user sends:
 *
 *   {"type": "object", "title"?, "description"?, "required"?: [names],
 *    "properties": {NAME: PROPERTY, ...}}
 *   PROPERTY: {"type": "string"|"integer"|"number"|"boolean", "title"?, "description"?,
 *              "default"?, "enum"?: [values], "minimum"?, "maximum"? (integer, number),
 *              "pattern"?, "pattern_message"?, "minLength"?, "maxLength"? (string),
 *              "secret"?: true (string)}
 *           | {"type": "object", "title"?, "description"?, "required"?, "properties"}
 *
 * A property's place in the tree is the chart's value key path: the schema
 * {"auth": {"type": "object", "properties": {"password": {...}}}} is the chart value
 * auth.password, and the user's values mirror it ({"auth": {"password": "..."}}). Rules:
 *   - names: a letter, then letters, digits, '_' or '-', at most VS_NAME_MAX; so no dots
 *     (a dot is the path separator), no "__proto__"; "constructor" and "prototype" are
 *     refused too (the portal builds forms from these names in JavaScript).
 *   - at most VS_MAX_DEPTH names in a path (n8n's main.secret.n8n.encryption_key is
 *     four), VS_MAX_PROPERTIES properties in the whole schema.
 *   - any other keyword is refused (a typo such as "minimun" must not pass silently).
 *   - pattern: a POSIX extended regular expression (regcomp REG_EXTENDED), at most
 *     VS_PATTERN_MAX bytes, matched as JSON Schema does: anywhere in the value unless
 *     anchored with ^...$. One that does not compile is refused, and so is a
 *     backreference (\1..\9: exponential to match).
 *   - pattern_message: what a person reads when a value does not match the pattern,
 *     instead of the regular expression ("Use lower-case letters, digits and _"): text
 *     of 1 to VS_TITLE_MAX characters, only beside a pattern. Without one, a mismatch
 *     says in words that the value is not in the setting's form, naming the pattern.
 *   - strings: at most VS_STRING_MAX characters whatever maxLength says; no control
 *     characters but \n and \t.
 *   - secret: true marks a string that is stored encrypted and never shown again (a
 *     password, an encryption key); a secret property has no default (a default secret
 *     is one password for every install).
 *   - a default must itself pass the property's checks.
 *
 * Every error names where it is: "values_schema.properties.auth.properties.password.
 * minLength" for a schema, "values.auth.password" for a user's value (VS_FIELD_MAX),
 * with a sentence a person can act on. */
#ifndef KAIDEN_VALUES_SCHEMA_H
#define KAIDEN_VALUES_SCHEMA_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"

#define VS_NAME_MAX 63
#define VS_MAX_DEPTH 4
#define VS_MAX_PROPERTIES 64
#define VS_PATTERN_MAX 256
#define VS_STRING_MAX 4096
#define VS_ENUM_MAX 64
#define VS_TITLE_MAX 200
#define VS_DESCRIPTION_MAX 2000
#define VS_FIELD_MAX 256
/* A chart value key path (values_path_set): at most this long and this many segments;
 * an index at most VS_INDEX_MAX. */
#define VS_PATH_MAX 256
#define VS_PATH_SEGMENTS 16
#define VS_INDEX_MAX 99

struct vs_error {
	char code[32];            /* the API's error code: "invalid_field", or
	                             "unknown_field" for a key the schema does not have,
	                             "missing_field" for a template member left out */
	char field[VS_FIELD_MAX]; /* "values.auth.password", "values_schema.properties..." */
	char message[512];        /* names the field too */
};

/* Fills err: code "invalid_field", field, and the message "<field>: <what>". Returns -1 (for `return
 * values_error(...)`). */
int values_error(struct vs_error *err, const char *field, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

/* Checks a values schema as above. 0, or -1 with err filled (field under
 * "values_schema"). */
int values_schema_check(json_object *schema, struct vs_error *err) WUR;

/* Checks values (a user's object; NULL is {}) against a schema that passed
 * values_schema_check: every key a property (unknown ones refused), every value of its
 * type exactly (no "3" for 3, no 3.0 for an integer, no null), enum, bounds, lengths and
 * pattern; then fills in the defaults of the properties not given and checks that
 * every required one is there (nested objects included). 0 with *out (owned: the values
 * with defaults applied, a new tree), or -1 with err filled (field "values.<path>").
 * Only the first problem is reported. */
int values_schema_apply(json_object *schema, json_object *values, json_object **out,
                        struct vs_error *err) WUR;

/* Splits values (as values_schema_apply gives them) into the non-secret values and the
 * secret ones, each a new tree with the same nesting (owned; {} when there are none).
 * 0, or -1 when out of memory. */
int values_schema_split(json_object *schema, json_object *values, json_object **plain,
                        json_object **secret) WUR;

/* The dotted paths of the schema's secret properties ("auth.password"), in schema
 * order, as a new JSON array of strings (owned). NULL when out of memory. What a reply
 * shows as set/unset instead of a value. */
json_object *values_schema_secret_paths(json_object *schema);

/* Merges src into dst in place, as Helm merges values files: objects key by key,
 * recursively; anything else (arrays included) replaces dst's member. src is not changed
 * (its members are copied). 0, or -1 when out of memory. */
int values_merge(json_object *dst, json_object *src) WUR;

/* Sets value (reference taken, even on failure) at path in root, an object:
 *   path    = segment ("." segment)*      at most VS_PATH_SEGMENTS, VS_PATH_MAX bytes
 *   segment = name ("[" index "]")?       name as a property name above; index 0..99
 * e.g. "ingress.hosts[0].host", "primary.persistence.size". Missing objects and arrays
 * on the way are made; an index may name an element that exists or the next one (which
 * is made); an element made on the way is an object. -1 when the path is malformed, an
 * index is further out, or the path runs through something that is not an object (an
 * array without an index, a string, ...); root is then unchanged where it matters: the
 * checks run before anything is made. */
int values_path_set(json_object *root, const char *path, json_object *value) WUR;

/* 1 when path is well-formed (the grammar above), else 0. */
int values_path_valid(const char *path);

/* Kaiden's own inputs a template maps into chart values (the template's "inputs"):
 * "host" (the service's host name), "domain" (its custom domain, given only once
 * verified: an array element its path makes starts as a copy of the element before it,
 * so "ingress.hosts[1].host" gets hosts[0]'s paths) and "storage_size" (a Kubernetes
 * quantity). */
extern const char *const values_inputs[];

/* Checks a template's inputs mapping: an object whose members are among values_inputs,
 * each an array of 1..8 well-formed paths; "domain" only with "host", and none of its
 * paths one of host's (it is served beside the host, not instead). 0, or -1 with err
 * (field "inputs.<name>"). */
int values_inputs_check(json_object *inputs, struct vs_error *err) WUR;

/* The chart's values for an install or upgrade: a new tree (owned) of default_values
 * (the template's), merged with values (values_merge: the user's, plain and secret
 * together), then each input given in given_inputs ({"host": "...", ...}; NULL or a
 * member missing: left as the merge has it) set at every path inputs maps it to. 0, or
 * -1 with err (a path that runs into a non-object: field "inputs.<name>"). */
int values_chart_build(json_object *default_values, json_object *values, json_object *inputs,
                       json_object *given_inputs, json_object **out,
                       struct vs_error *err) WUR;

#endif
