/* catalog.c: cloud service templates checked whole, catalog files read (catalog.h). */
#include "catalog.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "yamljson.h"

const char *const catalog_categories[] = { "AI & LLM",   "Automation", "Database", "Cache",
	                                   "Monitoring", "Developer tools", NULL };

/* The members, in the order a checked template has them; lengths in characters. The
 * JSON members (values_schema, inputs, default_values) are checked by their own code. */
static const struct jsonx_field template_fields[] = {
	{ "slug", JSONX_STRING, 1, 1, 63, 0 },
	{ "name", JSONX_STRING, 1, 1, 100, 0 },
	{ "description", JSONX_STRING, 0, 0, 2000, 0 },
	{ "icon", JSONX_STRING, 0, 0, 200, 0 },
	{ "category", JSONX_STRING, 1, 1, 32, 0 },
	{ "tags", JSONX_ARRAY, 0, 0, 16, 0 },
	{ "price_label", JSONX_STRING, 0, 0, 64, 0 },
	{ "chart_repo", JSONX_STRING, 1, 1, 512, 0 },
	{ "chart_name", JSONX_STRING, 1, 1, 63, 0 },
	{ "chart_version", JSONX_STRING, 1, 1, 64, 0 },
	{ "values_schema", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "inputs", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "default_values", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "enabled", JSONX_BOOL, 0, 0, 0, 0 },
};

#define fail values_error

static int only_chars(const char *s, const char *allowed)
{
	return strspn(s, allowed) == strlen(s);
}

int catalog_slug_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len >= 1 && len <= 63 && only_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-") &&
	       s[0] != '-' && s[len - 1] != '-';
}

int catalog_template_web(json_object *tpl)
{
	json_object *inputs = NULL;

	return json_object_object_get_ex(tpl, "inputs", &inputs) &&
	       json_object_object_get_ex(inputs, "host", NULL);
}

/* An exact semantic version: MAJOR.MINOR.PATCH, numbers without leading zeros, then
 * optionally -pre and +build of [0-9A-Za-z.-]. */
static int version_exact(const char *v)
{
	for (int part = 0; part < 3; part++) {
		size_t digits = strspn(v, "0123456789");
		if (digits == 0 || (digits > 1 && v[0] == '0') || digits > 9)
			return 0;
		v += digits;
		if (part < 2 && *v++ != '.')
			return 0;
	}
	if (*v == '-' || *v == '+') {
		const char *ident = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-+";
		return v[1] != '\0' && only_chars(v + 1, ident);
	}
	return *v == '\0';
}

static int icon_valid(const char *icon)
{
	size_t len = strlen(icon);

	if (!strchr(icon, '/') && !strchr(icon, '.')) {
		/* An emoji, or a few characters: at most 8 code points, so 32 bytes. */
		size_t chars = 0;
		for (const char *p = icon; *p; p++)
			chars += ((unsigned char)*p & 0xc0) != 0x80;
		return chars <= 8;
	}
	return len >= 5 && only_chars(icon, "abcdefghijklmnopqrstuvwxyz0123456789/_.-") &&
	       icon[0] != '/' && icon[0] != '.' && !strstr(icon, "..") && !strstr(icon, "//") &&
	       (strcmp(icon + len - 4, ".svg") == 0 || strcmp(icon + len - 4, ".png") == 0);
}

static int chart_repo_valid(const char *repo)
{
	const char *rest;

	if (strncmp(repo, "oci://", 6) == 0)
		rest = repo + 6;
	else if (strncmp(repo, "https://", 8) == 0)
		rest = repo + 8;
	else
		return 0;
	/* A host, then a path; no user:password@ (credentials do not belong in a catalog),
	 * no spaces, quotes or anything a shell or a URL would read twice. */
	return *rest && *rest != '/' && !strchr(rest, '@') &&
	       only_chars(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                        "-._~/:%") &&
	       repo[strlen(repo) - 1] != '/';
}

static json_object *member(json_object *obj, const char *name)
{
	json_object *v = NULL;

	return json_object_object_get_ex(obj, name, &v) ? v : NULL;
}

static int tags_valid(json_object *tags, struct vs_error *err)
{
	size_t n = json_object_array_length(tags);

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(tags, i);
		struct jsonx_field f = { "tag", JSONX_STRING, 1, 1, 32, 0 };
		struct jsonx_error je;
		json_object *probe = json_object_new_object();
		int bad;
		json_object_object_add(probe, "tag", json_object_get(t));
		bad = jsonx_check(probe, &f, 1, &je) < 0;
		json_object_put(probe);
		if (bad)
			return fail(err, "tags", "each tag is text of 1 to 32 characters");
		for (size_t j = 0; j < i; j++)
			if (json_object_equal(t, json_object_array_get_idx(tags, j)))
				return fail(err, "tags", "%s is listed twice", json_object_get_string(t));
	}
	return 0;
}

/* Where default_values sets a secret property of the schema: its path, else NULL. */
static const char *secret_in_defaults(json_object *defaults, json_object *paths)
{
	for (size_t i = 0; i < json_object_array_length(paths); i++) {
		const char *path = json_object_get_string(json_object_array_get_idx(paths, i));
		char copy[VS_FIELD_MAX], *save = NULL;
		json_object *cur = defaults;
		snprintf(copy, sizeof(copy), "%s", path);
		for (char *seg = strtok_r(copy, ".", &save); seg && cur;
		     seg = strtok_r(NULL, ".", &save))
			cur = json_object_is_type(cur, json_type_object) ? member(cur, seg) : NULL;
		if (cur)
			return path;
	}
	return NULL;
}

/* The cross checks: no secret in default_values, every input path settable. */
static int template_consistent(json_object *t, struct vs_error *err)
{
	json_object *schema = member(t, "values_schema"), *defaults = member(t, "default_values");
	json_object *paths = values_schema_secret_paths(schema), *probe = NULL;
	json_object *given = json_object_new_object();
	const char *secret;
	int rc = -1;

	if (!paths || !given) {
		fail(err, "values_schema", "out of memory");
		goto out;
	}
	secret = secret_in_defaults(defaults, paths);
	if (secret) {
		char field[VS_FIELD_MAX];
		snprintf(field, sizeof(field), "default_values.%s", secret);
		fail(err, field, "is a secret setting: each install gives its own, so it has no "
		                 "default");
		goto out;
	}
	json_object_object_add(given, "host", json_object_new_string("app.example.com"));
	json_object_object_add(given, "domain", json_object_new_string("shop.example.com"));
	json_object_object_add(given, "storage_size", json_object_new_string("1Gi"));
	if (values_chart_build(defaults, NULL, member(t, "inputs"), given, &probe, err) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(probe);
	json_object_put(given);
	json_object_put(paths);
	return rc;
}

/* The member of tpl, or a new default (owned either way). */
static json_object *taken(json_object *tpl, const char *name, json_object *dflt)
{
	json_object *v = member(tpl, name);

	if (v) {
		json_object_put(dflt);
		return json_object_get(v);
	}
	return dflt;
}

int catalog_template_check(json_object *tpl, json_object **out, struct vs_error *err)
{
	struct jsonx_error je;
	json_object *t = NULL, *copy = NULL;
	const char *s;

	if (!tpl || !json_object_is_type(tpl, json_type_object))
		return fail(err, "template", "must be an object");
	if (jsonx_check(tpl, template_fields, ARRAY_LEN(template_fields), &je) < 0) {
		snprintf(err->code, sizeof(err->code), "%s", je.code);
		snprintf(err->field, sizeof(err->field), "%s", je.field);
		snprintf(err->message, sizeof(err->message), "%s", je.message);
		return -1;
	}
	if (!catalog_slug_valid(jsonx_str(tpl, "slug")))
		return fail(err, "slug", "must be a DNS label: a-z, 0-9 and '-', not at either end");
	s = jsonx_str(tpl, "category");
	for (int i = 0;; i++) {
		if (!catalog_categories[i])
			return fail(err, "category", "must be one of AI & LLM, Automation, Database, "
			                             "Cache, Monitoring, Developer tools");
		if (strcmp(s, catalog_categories[i]) == 0)
			break;
	}
	if (member(tpl, "icon") && !icon_valid(jsonx_str(tpl, "icon")))
		return fail(err, "icon", "must be an emoji (at most 8 characters, no '/') or a "
		                         "path of the portal's such as icons/redis.svg");
	if (member(tpl, "tags") && tags_valid(member(tpl, "tags"), err) < 0)
		return -1;
	if (!chart_repo_valid(jsonx_str(tpl, "chart_repo")))
		return fail(err, "chart_repo", "must be oci://host/path or an https:// Helm "
		                               "repository URL, without credentials or spaces");
	if (!catalog_slug_valid(jsonx_str(tpl, "chart_name")))
		return fail(err, "chart_name", "must be a chart's name: a-z, 0-9 and '-'");
	if (!version_exact(jsonx_str(tpl, "chart_version")))
		return fail(err, "chart_version", "must be an exact version such as 17.1.0 "
		                                  "(charts are pinned: no ranges)");

	t = json_object_new_object();
	if (!t)
		return fail(err, "template", "out of memory");
	/* In template_fields' order, defaults filled in. */
	json_object_object_add(t, "slug", taken(tpl, "slug", NULL));
	json_object_object_add(t, "name", taken(tpl, "name", NULL));
	json_object_object_add(t, "description", taken(tpl, "description", json_object_new_string("")));
	json_object_object_add(t, "icon", taken(tpl, "icon", json_object_new_string("")));
	json_object_object_add(t, "category", taken(tpl, "category", NULL));
	json_object_object_add(t, "tags", taken(tpl, "tags", json_object_new_array()));
	json_object_object_add(t, "price_label", taken(tpl, "price_label", json_object_new_string("")));
	json_object_object_add(t, "chart_repo", taken(tpl, "chart_repo", NULL));
	json_object_object_add(t, "chart_name", taken(tpl, "chart_name", NULL));
	json_object_object_add(t, "chart_version", taken(tpl, "chart_version", NULL));
	json_object_object_add(t, "values_schema",
	                       taken(tpl, "values_schema",
	                             json_tokener_parse("{\"type\":\"object\",\"properties\":{}}")));
	json_object_object_add(t, "inputs", taken(tpl, "inputs", json_object_new_object()));
	json_object_object_add(t, "default_values",
	                       taken(tpl, "default_values", json_object_new_object()));
	json_object_object_add(t, "enabled", taken(tpl, "enabled", json_object_new_boolean(1)));

	if (values_schema_check(member(t, "values_schema"), err) < 0 ||
	    values_inputs_check(member(t, "inputs"), err) < 0 || template_consistent(t, err) < 0) {
		json_object_put(t);
		return -1;
	}
	/* A tree of its own: the caller's may be freed or changed. */
	if (json_object_deep_copy(t, &copy, NULL) != 0) {
		json_object_put(t);
		return fail(err, "template", "out of memory");
	}
	json_object_put(t);
	*out = copy;
	return 0;
}

int catalog_parse(json_object *doc, json_object **out, char *why, size_t whylen)
{
	json_object *list = doc && json_object_is_type(doc, json_type_object)
	                            ? member(doc, "templates") : NULL;
	json_object *result;
	size_t n;

	if (!list || !json_object_is_type(list, json_type_array) ||
	    json_object_object_length(doc) != 1 || (n = json_object_array_length(list)) < 1 ||
	    n > CATALOG_MAX) {
		snprintf(why, whylen, "a catalog is {templates: [...]} with 1 to %d templates",
		         CATALOG_MAX);
		return -1;
	}
	result = json_object_new_array();
	if (!result) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *tpl = json_object_array_get_idx(list, i), *checked = NULL;
		struct vs_error err;
		const char *slug = tpl && json_object_is_type(tpl, json_type_object)
		                           ? jsonx_str(tpl, "slug") : NULL;
		if (catalog_template_check(tpl, &checked, &err) < 0) {
			if (snprintf(why, whylen, "templates[%zu] (%.63s): %s", i, slug ? slug : "no slug",
			             err.message) < 0)
				why[0] = '\0';
			json_object_put(result);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(jsonx_str(json_object_array_get_idx(result, j), "slug"), slug) == 0) {
				snprintf(why, whylen, "templates[%zu] (%.63s): slug: given twice", i, slug);
				json_object_put(checked);
				json_object_put(result);
				return -1;
			}
		json_object_array_add(result, checked);
	}
	*out = result;
	return 0;
}

static int parse_yaml(FILE *f, const char *name, json_object **out, char *why, size_t whylen)
{
	json_object *doc = NULL;
	char err[300];
	int rc;

	if (yamljson_read_typed(f, &doc, err, sizeof(err)) < 0) {
		if (snprintf(why, whylen, "%s: %s", name, err) < 0)
			why[0] = '\0';
		return -1;
	}
	rc = catalog_parse(doc, out, err, sizeof(err));
	json_object_put(doc);
	if (rc < 0 && snprintf(why, whylen, "%s: %s", name, err) < 0)
		why[0] = '\0';
	return rc;
}

int catalog_read_file(const char *path, json_object **out, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		snprintf(why, whylen, "%s: cannot be read", path);
		return -1;
	}
	rc = parse_yaml(f, path, out, why, whylen);
	fclose(f);
	return rc;
}

int catalog_read_builtin(json_object **out, char *why, size_t whylen)
{
	FILE *f = fmemopen((void *)catalog_builtin, strlen(catalog_builtin), "r");
	int rc;

	if (!f) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = parse_yaml(f, "the built-in catalog", out, why, whylen);
	fclose(f);
	return rc;
}
