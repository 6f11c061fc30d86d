/* yamljson.h: a YAML document (libyaml) read into a json-c tree: mappings become
 * objects, sequences arrays, every scalar a string (or typed: yamljson_read_typed). Used for the config file and by the
 * test that compares docs/openapi.yaml with the route table. */
#ifndef KAIDEN_YAMLJSON_H
#define KAIDEN_YAMLJSON_H

#include <stdio.h>
#include <json-c/json.h>
#include "compat.h"

/* 0 and *out (owned by the caller) on success; -1 with a message naming line and column. */
int yamljson_read(FILE *f, json_object **out, char *err, size_t errlen) WUR;
/* The same, typed: a plain scalar is a boolean (true, false), an integer, a number
 * (1.5, 2e3) or null as in YAML 1.2's core schema, else a string; a quoted one is
 * always a string ("17.1.0", "8Gi" stay text either way). A key given twice in a
 * mapping is refused. Catalog files (catalog.h) are read so. */
int yamljson_read_typed(FILE *f, json_object **out, char *err, size_t errlen) WUR;
int yamljson_read_file(const char *path, json_object **out, char *err, size_t errlen) WUR;

#endif
