/* yamljson.h: a YAML document (libyaml) read into a json-c tree: mappings become
 * objects, sequences arrays, every scalar a string. Used for the config file and by the
 * test that compares docs/openapi.yaml with the route table. */
#ifndef KAIDEN_YAMLJSON_H
#define KAIDEN_YAMLJSON_H

#include <stdio.h>
#include <json-c/json.h>
#include "compat.h"

/* 0 and *out (owned by the caller) on success; -1 with a message naming line and column. */
int yamljson_read(FILE *f, json_object **out, char *err, size_t errlen) WUR;
int yamljson_read_file(const char *path, json_object **out, char *err, size_t errlen) WUR;

#endif
