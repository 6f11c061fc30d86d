/* yamljson.c: libyaml's event stream turned into a json-c tree.
 *
 * A small explicit stack replaces recursion: each open mapping or sequence is a frame;
 * inside a mapping, scalars alternate between key and value. Anchors, aliases and tags
 * are refused: config files and our OpenAPI description do not need them.
 *
 * Typed (yamljson_read_typed), a plain scalar is read as YAML 1.2's core schema reads it
 * (true/false, integers, decimals); quoted ones stay strings; a key given twice in one
 * mapping is refused. */
#include "yamljson.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YJ_MAX_DEPTH 64

struct frame {
	json_object *node;
	char *pending_key; /* mapping: key read, value not yet */
};

/* A plain scalar in the core schema: 1 with *out (owned; NULL for YAML's null), or 0
 * when it is a string. */
static int plain_value(const char *v, size_t len, json_object **out)
{
	static const char int_re[] = "^[-+]?(0|[1-9][0-9]*)$";
	static const char float_re[] = "^[-+]?(0|[1-9][0-9]*)?(\\.[0-9]+)?([eE][-+]?[0-9]+)?$";
	regex_t re;
	int is_int, is_float;

	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0) {
		*out = NULL;
		return 1;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*out = json_object_new_boolean(v[0] == 't');
		return 1;
	}
	if (regcomp(&re, int_re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	is_int = regexec(&re, v, 0, NULL, 0) == 0;
	regfree(&re);
	if (is_int) {
		long long n;
		errno = 0;
		n = strtoll(v, NULL, 10);
		if (errno == ERANGE)
			return 0; /* too large for a number: kept as text */
		*out = json_object_new_int64(n);
		return 1;
	}
	if (regcomp(&re, float_re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	/* A digit and a dot or an exponent: "1.5", "2e3"; not "1.2.3", ".", "e5". */
	is_float = regexec(&re, v, 0, NULL, 0) == 0 && strpbrk(v, "0123456789") &&
	           strpbrk(v, ".eE") && !(v[0] == '.' || v[0] == 'e' || v[0] == 'E');
	regfree(&re);
	if (is_float) {
		double d;
		errno = 0;
		d = strtod(v, NULL);
		if (errno == ERANGE)
			return 0;
		*out = json_object_new_double(d);
		return 1;
	}
	return 0;
}

static int frame_add(struct frame *f, json_object *val, char *err, size_t errlen,
                     const yaml_event_t *ev, int typed)
{
	if (json_object_is_type(f->node, json_type_array)) {
		json_object_array_add(f->node, val);
		return 0;
	}
	if (!f->pending_key) {
		snprintf(err, errlen, "line %zu column %zu: a mapping key must be a plain value",
		         ev->start_mark.line + 1, ev->start_mark.column + 1);
		json_object_put(val);
		return -1;
	}
	if (typed && json_object_object_get_ex(f->node, f->pending_key, NULL)) {
		snprintf(err, errlen, "line %zu column %zu: the key %.60s is given twice",
		         ev->start_mark.line + 1, ev->start_mark.column + 1, f->pending_key);
		json_object_put(val);
		return -1;
	}
	json_object_object_add(f->node, f->pending_key, val);
	free(f->pending_key);
	f->pending_key = NULL;
	return 0;
}

static int read_yaml(FILE *file, int typed, json_object **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct frame stack[YJ_MAX_DEPTH];
	int depth = 0, done = 0, rc = -1;
	json_object *root = NULL;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_file(&parser, file);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errlen, "line %zu column %zu: %s", parser.problem_mark.line + 1,
			         parser.problem_mark.column + 1,
			         parser.problem ? parser.problem : "syntax error");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_END_EVENT:
			done = 1; /* only the first document */
			break;
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen, "line %zu column %zu: aliases are not supported",
			         ev.start_mark.line + 1, ev.start_mark.column + 1);
			yaml_event_delete(&ev);
			goto out;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			json_object *node = ev.type == YAML_MAPPING_START_EVENT ? json_object_new_object()
			                                                       : json_object_new_array();
			if (depth == YJ_MAX_DEPTH) {
				snprintf(err, errlen, "line %zu: nested too deeply", ev.start_mark.line + 1);
				json_object_put(node);
				yaml_event_delete(&ev);
				goto out;
			}
			if (depth > 0) {
				if (frame_add(&stack[depth - 1], json_object_get(node), err, errlen, &ev,
				              typed) < 0) {
					json_object_put(node);
					yaml_event_delete(&ev);
					goto out;
				}
			} else {
				root = json_object_get(node);
			}
			stack[depth].node = node;
			stack[depth].pending_key = NULL;
			depth++;
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			free(stack[depth].pending_key);
			json_object_put(stack[depth].node);
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			size_t len = ev.data.scalar.length;
			if (depth == 0) {
				root = json_object_new_string_len(v, (int)len);
			} else if (json_object_is_type(stack[depth - 1].node, json_type_object) &&
			           !stack[depth - 1].pending_key) {
				stack[depth - 1].pending_key = strndup(v, len);
			} else {
				/* A plain "~" or "null" or empty value is YAML's null. */
				json_object *val = NULL;
				int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				int is_null = plain &&
				              (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
				if (!(typed && plain && plain_value(v, len, &val)) && !is_null)
					val = json_object_new_string_len(v, (int)len);
				if (frame_add(&stack[depth - 1], val, err, errlen, &ev, typed) < 0) {
					yaml_event_delete(&ev);
					goto out;
				}
			}
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (!root)
		root = json_object_new_object(); /* an empty file is an empty mapping */
	*out = root;
	root = NULL;
	rc = 0;
out:
	while (depth > 0) {
		depth--;
		free(stack[depth].pending_key);
		json_object_put(stack[depth].node);
	}
	json_object_put(root);
	yaml_parser_delete(&parser);
	return rc;
}

int yamljson_read(FILE *file, json_object **out, char *err, size_t errlen)
{
	return read_yaml(file, 0, out, err, errlen);
}

int yamljson_read_typed(FILE *file, json_object **out, char *err, size_t errlen)
{
	return read_yaml(file, 1, out, err, errlen);
}

int yamljson_read_file(const char *path, json_object **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char inner[200];
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = yamljson_read(f, out, inner, sizeof(inner));
	fclose(f);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, inner);
	return rc;
}
