/* yamljson.c: libyaml's event stream turned into a json-c tree.
 *
 * A small explicit stack replaces recursion: each open mapping or sequence is a frame;
 * inside a mapping, scalars alternate between key and value. Anchors, aliases and tags
 * are refused: config files and our OpenAPI description do not need them. */
#include "yamljson.h"

#include <errno.h>
#include <string.h>
#include <yaml.h>

#define YJ_MAX_DEPTH 64

struct frame {
	json_object *node;
	char *pending_key; /* mapping: key read, value not yet */
};

static int frame_add(struct frame *f, json_object *val, char *err, size_t errlen,
                     const yaml_event_t *ev)
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
	json_object_object_add(f->node, f->pending_key, val);
	free(f->pending_key);
	f->pending_key = NULL;
	return 0;
}

int yamljson_read(FILE *file, json_object **out, char *err, size_t errlen)
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
				if (frame_add(&stack[depth - 1], json_object_get(node), err, errlen, &ev) < 0) {
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
				int is_null = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				              (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
				if (!is_null)
					val = json_object_new_string_len(v, (int)len);
				if (frame_add(&stack[depth - 1], val, err, errlen, &ev) < 0) {
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
