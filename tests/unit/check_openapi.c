/* check_openapi.c: docs/openapi.yaml and the route table must describe the same API.
 *
 * The description is read with yamljson (every scalar a string) and compared with
 * route_table() both ways: every route is an operation under `paths`, and every operation
 * under `paths` is a route (HEAD excepted: route_dispatch answers HEAD wherever GET is).
 * Each operation must also document the errors its route can produce (401 when it needs
 * a token, 400 when it takes a body, 404 when its path has an {id}), take a request body
 * exactly when the route does, be public (`security: []`) exactly when the route is, and
 * declare every {placeholder} as a path parameter. A route's summary, when the table has
 * one, must equal the operation's.
 *
 * The comparison is one function, openapi_compare, so the negative tests below can feed
 * it small hand-made tables and documents and prove that it fails when they differ.
 * openapi_lint, likewise tested on small documents, finds the schema mistakes an OpenAPI
 * 3.0 linter reports (nullable without type, $ref siblings, ...: see its comment).
 *
 * Runs from the repository root, or with KAIDEN_SRCDIR naming it. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "req.h"
#include "route.h"
#include "yamljson.h"

#define REPORT_MAX 65536

/* The operation keys of an OpenAPI 3.0 path item; anything else there (parameters,
 * summary, servers, ...) is not an operation. */
static const char *const oa_methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", "trace"
};

static int is_oa_method(const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(oa_methods); i++)
		if (strcmp(key, oa_methods[i]) == 0)
			return 1;
	return 0;
}

/* Lower-cased method name of a route, as OpenAPI spells it. */
static void method_lower(enum http_method m, char *out, size_t outlen)
{
	const char *name = req_method_name(m);
	size_t i = 0;

	for (; name && name[i] && i + 1 < outlen; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[i] = '\0';
}

/* Records one disagreement as "METHOD PATTERN: what". The report is capped; past the cap
 * lines are dropped but still counted by the caller. */
static void problem(struct buf *report, const char *method, const char *pattern,
                    const char *what)
{
	if (buf_printf(report, "%s %s: %s\n", method, pattern, what) != 0) {
		/* The report is full: the line is dropped, the problem still counted. */
	}
}

static json_object *member(json_object *obj, const char *name)
{
	json_object *v = NULL;

	if (!obj || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, name, &v))
		return NULL;
	return v;
}

/* Follows a local "$ref": "#/components/parameters/id" from the document's root
 * (RFC 6901: ~1 is '/', ~0 is '~'). Anything that is not a $ref comes back as is;
 * a $ref that names nothing gives NULL. */
static json_object *deref(json_object *doc, json_object *node)
{
	json_object *ref = member(node, "$ref");
	const char *p;
	json_object *cur = doc;
	char token[128];

	if (!ref)
		return node;
	p = json_object_get_string(ref);
	if (!p || strncmp(p, "#/", 2) != 0)
		return NULL;
	p += 2;
	while (*p) {
		size_t n = 0;

		while (*p && *p != '/' && n + 1 < sizeof(token)) {
			if (p[0] == '~' && p[1] == '1') {
				token[n++] = '/';
				p += 2;
			} else if (p[0] == '~' && p[1] == '0') {
				token[n++] = '~';
				p += 2;
			} else {
				token[n++] = *p++;
			}
		}
		token[n] = '\0';
		cur = member(cur, token);
		if (!cur)
			return NULL;
		if (*p == '/')
			p++;
	}
	return cur;
}

/* 1 if a parameter list (path-level or operation-level) declares name as in: path. */
static int declares_path_param(json_object *doc, json_object *params, const char *name)
{
	if (!params || !json_object_is_type(params, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(params); i++) {
		json_object *p = deref(doc, json_object_array_get_idx(params, i));
		json_object *pname = member(p, "name"), *pin = member(p, "in");

		if (pname && pin && strcmp(json_object_get_string(pname), name) == 0 &&
		    strcmp(json_object_get_string(pin), "path") == 0)
			return 1;
	}
	return 0;
}

static int has_2xx(json_object *responses)
{
	json_object_object_foreach(responses, code, val) {
		(void)val;
		if (code[0] == '2' && strlen(code) == 3)
			return 1;
	}
	return 0;
}

/* 1 when the operation overrides the document's security with `security: []`. */
static int is_public(json_object *op)
{
	json_object *sec = member(op, "security");

	return sec && json_object_is_type(sec, json_type_array) &&
	       json_object_array_length(sec) == 0;
}

/* Checks one route against its operation; returns the number of problems found. */
static int check_operation(json_object *doc, json_object *path_item, json_object *op,
                           const struct route *rt, struct buf *report)
{
	const char *pat = rt->pattern;
	const char *method = req_method_name(rt->method);
	json_object *responses = member(op, "responses");
	json_object *summary = member(op, "summary");
	int n = 0;

	if (!responses || !json_object_is_type(responses, json_type_object)) {
		problem(report, method, pat, "has no responses");
		return 1;
	}
	if (!has_2xx(responses)) {
		problem(report, method, pat, "documents no 2xx response");
		n++;
	}
	if ((rt->flags & ROUTE_AUTH) && !member(responses, "401")) {
		problem(report, method, pat, "needs a token but documents no 401");
		n++;
	}
	if ((rt->flags & ROUTE_BODY) && !member(responses, "400")) {
		problem(report, method, pat, "takes a body but documents no 400");
		n++;
	}
	if (strchr(pat, '{') && !member(responses, "404")) {
		problem(report, method, pat, "has a path parameter but documents no 404");
		n++;
	}
	if ((rt->flags & ROUTE_BODY) && !member(op, "requestBody")) {
		problem(report, method, pat, "takes a body but has no requestBody");
		n++;
	}
	if (!(rt->flags & ROUTE_BODY) && member(op, "requestBody")) {
		problem(report, method, pat, "takes no body but has a requestBody");
		n++;
	}
	if ((rt->flags & ROUTE_AUTH) && is_public(op)) {
		problem(report, method, pat, "needs a token but says security: []");
		n++;
	}
	if (!(rt->flags & ROUTE_AUTH) && !is_public(op)) {
		problem(report, method, pat, "is public but lacks security: []");
		n++;
	}

	/* Every {placeholder} of the pattern is a declared path parameter. */
	for (const char *p = strchr(pat, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		char name[64];
		size_t len;

		if (!end)
			break;
		len = (size_t)(end - p - 1);
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		if (!declares_path_param(doc, member(path_item, "parameters"), name) &&
		    !declares_path_param(doc, member(op, "parameters"), name)) {
			char what[128];

			snprintf(what, sizeof(what), "path parameter {%s} is not declared", name);
			problem(report, method, pat, what);
			n++;
		}
	}

	/* The table's summary is optional; when it is there the two must agree. */
	if (rt->summary) {
		const char *doc_summary = summary ? json_object_get_string(summary) : NULL;

		if (!doc_summary || strcmp(doc_summary, rt->summary) != 0) {
			char what[512];

			snprintf(what, sizeof(what), "summary \"%s\" in the table, \"%s\" in the "
			         "description", rt->summary, doc_summary ? doc_summary : "(none)");
			problem(report, method, pat, what);
			n++;
		}
	}
	return n;
}

/* Compares routes[0..n) with the OpenAPI document; returns the number of disagreements
 * and describes each on its own line in report. */
static int openapi_compare(const struct route *routes, size_t nroutes, json_object *doc,
                           struct buf *report)
{
	json_object *paths = member(doc, "paths");
	int n = 0;

	if (!paths || !json_object_is_type(paths, json_type_object)) {
		problem(report, "-", "-", "the description has no paths");
		return 1;
	}

	/* Route -> operation. */
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		char method[16];
		json_object *item, *op;

		if (rt->method == HTTP_HEAD)
			continue;
		method_lower(rt->method, method, sizeof(method));
		item = member(paths, rt->pattern);
		op = member(item, method);
		if (!op) {
			problem(report, req_method_name(rt->method), rt->pattern,
			        "is routed but not in the description");
			n++;
			continue;
		}
		n += check_operation(doc, item, op, rt, report);
	}

	/* Operation -> route. */
	json_object_object_foreach(paths, pattern, item) {
		if (!json_object_is_type(item, json_type_object)) {
			problem(report, "-", pattern, "is not a path item");
			n++;
			continue;
		}
		json_object_object_foreach(item, key, op) {
			int found = 0;

			(void)op;
			if (!is_oa_method(key) || strcmp(key, "head") == 0)
				continue;
			for (size_t i = 0; i < nroutes && !found; i++) {
				char method[16];

				method_lower(routes[i].method, method, sizeof(method));
				found = strcmp(method, key) == 0 &&
				        strcmp(routes[i].pattern, pattern) == 0;
			}
			if (!found) {
				problem(report, key, pattern,
				        "is in the description but not routed");
				n++;
			}
		}
	}
	return n;
}

/* ---- schema mistakes a linter flags ------------------------------------------------ */

/* OpenAPI 3.0.3 lets a description say things that parse but do not mean what they
 * seem; tools then reject what the API really sends. openapi_lint finds, anywhere in the
 * document:
 *  - `nullable` without `type` in the same schema: 3.0 ignores it there, so null is not
 *    allowed (`allOf: [$ref]` + `nullable` needs `type: object` beside them);
 *  - siblings of a `$ref`: a Reference Object cannot be extended, they are ignored;
 *  - a local `$ref` that names nothing;
 *  - a `type` that 3.0 does not have (e.g. 3.1's "null") or that is not a string;
 *  - `type: array` without `items` (3.0 requires it);
 *  - a `required` name that is not under `properties` (when the schema has no
 *    allOf/anyOf/oneOf that could supply it). */

static const char *const oa_types[] = { "string", "number", "integer", "boolean", "array",
	                                "object" };

static void lint_problem(struct buf *report, const char *path, const char *what)
{
	if (buf_printf(report, "%s: %s\n", path, what) != 0) {
		/* The report is full: the line is dropped, the problem still counted. */
	}
}

/* A Reference Object at path: no siblings, and it must resolve. */
static int lint_ref(json_object *doc, json_object *node, const char *path, struct buf *report)
{
	int n = 0;

	json_object_object_foreach(node, key, val) {
		char what[160];

		(void)val;
		if (strcmp(key, "$ref") == 0)
			continue;
		snprintf(what, sizeof(what), "`%.64s` beside `$ref` is ignored in OpenAPI 3.0 (wrap "
		         "the $ref in allOf)", key);
		lint_problem(report, path, what);
		n++;
	}
	if (!deref(doc, node)) {
		lint_problem(report, path, "`$ref` names nothing in this document");
		n++;
	}
	return n;
}

static int lint_schema(json_object *doc, json_object *s, const char *path, struct buf *report);

/* The schemas of a list keyword (allOf, anyOf, oneOf) of s. */
static int lint_schema_list(json_object *doc, json_object *s, const char *key,
                            const char *path, struct buf *report)
{
	json_object *list = member(s, key);
	char sub[512];
	int n = 0;

	if (!list)
		return 0;
	if (!json_object_is_type(list, json_type_array)) {
		snprintf(sub, sizeof(sub), "`%s` must be a list of schemas", key);
		lint_problem(report, path, sub);
		return 1;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		snprintf(sub, sizeof(sub), "%s/%s/%zu", path, key, i);
		n += lint_schema(doc, json_object_array_get_idx(list, i), sub, report);
	}
	return n;
}

static int lint_schema(json_object *doc, json_object *s, const char *path, struct buf *report)
{
	json_object *type = member(s, "type"), *props = member(s, "properties");
	json_object *required = member(s, "required"), *extra;
	const char *t = NULL;
	char sub[512];
	int n = 0;

	if (!s || !json_object_is_type(s, json_type_object)) {
		lint_problem(report, path, "is not a schema object");
		return 1;
	}
	if (member(s, "$ref"))
		return lint_ref(doc, s, path, report);
	if (type) {
		int known = 0;

		t = json_object_is_type(type, json_type_string) ? json_object_get_string(type) : "";
		for (size_t i = 0; i < ARRAY_LEN(oa_types); i++)
			known |= strcmp(t, oa_types[i]) == 0;
		if (!known) {
			snprintf(sub, sizeof(sub), "type `%.64s` is not an OpenAPI 3.0 type (string, "
			         "number, integer, boolean, array, object; null is `nullable: true`)", t);
			lint_problem(report, path, sub);
			n++;
		}
	}
	if (member(s, "nullable") && !type) {
		lint_problem(report, path, "`nullable` without `type`: OpenAPI 3.0 ignores it, so "
		             "null is not allowed (add the type, e.g. `type: object` beside allOf)");
		n++;
	}
	if (t && strcmp(t, "array") == 0 && !member(s, "items")) {
		lint_problem(report, path, "`type: array` without `items`");
		n++;
	}
	if (required && !member(s, "allOf") && !member(s, "anyOf") && !member(s, "oneOf")) {
		for (size_t i = 0; json_object_is_type(required, json_type_array) &&
		                   i < json_object_array_length(required); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(required, i));

			if (!member(props, name)) {
				snprintf(sub, sizeof(sub), "required `%.64s` is not under properties", name);
				lint_problem(report, path, sub);
				n++;
			}
		}
	}
	if (props && json_object_is_type(props, json_type_object)) {
		json_object_object_foreach(props, name, prop) {
			snprintf(sub, sizeof(sub), "%s/properties/%s", path, name);
			n += lint_schema(doc, prop, sub, report);
		}
	}
	if (member(s, "items")) {
		snprintf(sub, sizeof(sub), "%s/items", path);
		n += lint_schema(doc, member(s, "items"), sub, report);
	}
	extra = member(s, "additionalProperties");
	if (extra && json_object_is_type(extra, json_type_object)) {
		snprintf(sub, sizeof(sub), "%s/additionalProperties", path);
		n += lint_schema(doc, extra, sub, report);
	}
	if (member(s, "not")) {
		snprintf(sub, sizeof(sub), "%s/not", path);
		n += lint_schema(doc, member(s, "not"), sub, report);
	}
	n += lint_schema_list(doc, s, "allOf", path, report);
	n += lint_schema_list(doc, s, "anyOf", path, report);
	n += lint_schema_list(doc, s, "oneOf", path, report);
	return n;
}

/* Everything that is not a schema: Reference Objects are checked, `schema` members and
 * components/schemas are schemas; examples are data, not description. */
static int lint_node(json_object *doc, json_object *node, const char *path, struct buf *report)
{
	char sub[512];
	int n = 0;

	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++) {
			snprintf(sub, sizeof(sub), "%s/%zu", path, i);
			n += lint_node(doc, json_object_array_get_idx(node, i), sub, report);
		}
		return n;
	}
	if (!json_object_is_type(node, json_type_object))
		return 0;
	if (member(node, "$ref"))
		return lint_ref(doc, node, path, report);
	json_object_object_foreach(node, key, val) {
		snprintf(sub, sizeof(sub), "%s/%s", path, key);
		if (strcmp(key, "example") == 0 || strcmp(key, "examples") == 0)
			continue;
		if (strcmp(key, "schema") == 0) {
			n += lint_schema(doc, val, sub, report);
		} else if (strcmp(path, "#/components") == 0 && strcmp(key, "schemas") == 0 &&
		           json_object_is_type(val, json_type_object)) {
			json_object_object_foreach(val, name, schema) {
				snprintf(sub, sizeof(sub), "#/components/schemas/%s", name);
				n += lint_schema(doc, schema, sub, report);
			}
		} else {
			n += lint_node(doc, val, sub, report);
		}
	}
	return n;
}

/* The number of schema mistakes in doc, each described on its own line in report. */
static int openapi_lint(json_object *doc, struct buf *report)
{
	return lint_node(doc, doc, "#", report);
}

/* ---- the real table against the real file ----------------------------------------- */

static json_object *read_openapi(void)
{
	const char *srcdir = getenv("KAIDEN_SRCDIR");
	char path[4096];
	char err[256];
	json_object *doc = NULL;

	snprintf(path, sizeof(path), "%s%sdocs/openapi.yaml", srcdir ? srcdir : "",
	         srcdir && *srcdir ? "/" : "");
	if (yamljson_read_file(path, &doc, err, sizeof(err)) != 0)
		ck_abort_msg("cannot read %s: %s (run from the repository root or set "
		             "KAIDEN_SRCDIR)", path, err);
	return doc;
}

START_TEST(table_matches_description)
{
	json_object *doc = read_openapi();
	struct buf report;
	int n;

	buf_init(&report, REPORT_MAX);
	n = openapi_compare(route_table(), ROUTE__MAX, doc, &report);
	ck_assert_msg(n == 0, "route table and docs/openapi.yaml disagree (%d):\n%s", n,
	              report.data ? report.data : "");
	buf_clear(&report);
	json_object_put(doc);
}
END_TEST

START_TEST(description_lints_clean)
{
	json_object *doc = read_openapi();
	struct buf report;
	int n;

	buf_init(&report, REPORT_MAX);
	n = openapi_lint(doc, &report);
	ck_assert_msg(n == 0, "docs/openapi.yaml has %d schema mistake(s):\n%s", n,
	              report.data ? report.data : "");
	buf_clear(&report);
	json_object_put(doc);
}
END_TEST

START_TEST(description_header)
{
	json_object *doc = read_openapi();
	json_object *servers = member(doc, "servers");
	json_object *schemes = member(member(doc, "components"), "securitySchemes");
	json_object *bearer = member(schemes, "bearer");

	ck_assert_str_eq(json_object_get_string(member(doc, "openapi")), "3.0.3");
	ck_assert_ptr_nonnull(servers);
	ck_assert(json_object_is_type(servers, json_type_array));
	ck_assert_str_eq(json_object_get_string(
		member(json_object_array_get_idx(servers, 0), "url")), "/");
	ck_assert_ptr_nonnull(bearer);
	ck_assert_str_eq(json_object_get_string(member(bearer, "type")), "http");
	ck_assert_str_eq(json_object_get_string(member(bearer, "scheme")), "bearer");
	/* Authentication is the rule; the public operations opt out one by one. */
	ck_assert_ptr_nonnull(member(doc, "security"));
	json_object_put(doc);
}
END_TEST

/* Every summary in the table is one line, so it can be printed by `kaiden-api routes`. */
START_TEST(table_summaries_one_line)
{
	const struct route *rt = route_table();

	for (int i = 0; i < ROUTE__MAX; i++) {
		ck_assert_ptr_nonnull(rt[i].pattern);
		if (rt[i].summary)
			ck_assert_msg(!strchr(rt[i].summary, '\n') && rt[i].summary[0],
			              "route %d: summary must be one non-empty line", i);
	}
}
END_TEST

/* ---- the checker itself, on hand-made tables and documents ------------------------- */

static const char good_yaml[] =
	"openapi: 3.0.3\n"
	"security:\n"
	"  - bearer: []\n"
	"components:\n"
	"  parameters:\n"
	"    id:\n"
	"      name: id\n"
	"      in: path\n"
	"      required: true\n"
	"      schema: {type: string}\n"
	"paths:\n"
	"  /ping:\n"
	"    get:\n"
	"      summary: Ping\n"
	"      security: []\n"
	"      responses:\n"
	"        '200': {description: ok}\n"
	"    head:\n"
	"      summary: Ping, headers only\n"
	"      security: []\n"
	"      responses:\n"
	"        '200': {description: ok}\n"
	"  /things:\n"
	"    post:\n"
	"      summary: Make a thing\n"
	"      requestBody:\n"
	"        content: {application/json: {schema: {type: object}}}\n"
	"      responses:\n"
	"        '201': {description: made}\n"
	"        '400': {description: bad}\n"
	"        '401': {description: no token}\n"
	"  /things/{id}:\n"
	"    parameters:\n"
	"      - $ref: '#/components/parameters/id'\n"
	"    get:\n"
	"      summary: Get a thing\n"
	"      responses:\n"
	"        '200': {description: ok}\n"
	"        '401': {description: no token}\n"
	"        '404': {description: none}\n";

static const struct route good_routes[] = {
	{ HTTP_GET, "/ping", NULL, 0, 0, "Ping" },
	{ HTTP_HEAD, "/ping", NULL, 0, 0, NULL },
	{ HTTP_POST, "/things", NULL, ROUTE_AUTH | ROUTE_BODY, ROLE_ANY, "Make a thing" },
	{ HTTP_GET, "/things/{id}", NULL, ROUTE_AUTH, ROLE_ANY, NULL },
};

static json_object *yaml_doc(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	json_object *doc = NULL;
	char err[256];

	ck_assert_ptr_nonnull(f);
	if (yamljson_read(f, &doc, err, sizeof(err)) != 0)
		ck_abort_msg("hand-made YAML does not parse: %s", err);
	fclose(f);
	return doc;
}

/* Runs the checker and returns its report (owned by the caller); *n gets the count. */
static char *compare(const struct route *routes, size_t nroutes, json_object *doc, int *n)
{
	struct buf report;
	char *text;

	buf_init(&report, REPORT_MAX);
	*n = openapi_compare(routes, nroutes, doc, &report);
	text = buf_take(&report);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Compares a table with good_yaml after replacing the first `from` by `to` in it, and
 * checks that exactly `want` problems are found and that `needle` is reported. */
static void expect(const struct route *routes, size_t nroutes, const char *from,
                   const char *to, int want, const char *needle)
{
	struct buf text;
	const char *at = from ? strstr(good_yaml, from) : NULL;
	json_object *doc;
	char *report;
	int n;

	buf_init(&text, sizeof(good_yaml) * 2);
	if (from) {
		ck_assert_msg(at != NULL, "fixture lacks \"%s\"", from);
		ck_assert(buf_append(&text, good_yaml, (size_t)(at - good_yaml)) == 0);
		ck_assert(buf_puts(&text, to) == 0);
		ck_assert(buf_puts(&text, at + strlen(from)) == 0);
	} else {
		ck_assert(buf_puts(&text, good_yaml) == 0);
	}
	doc = yaml_doc(text.data);
	report = compare(routes, nroutes, doc, &n);
	ck_assert_msg(n == want, "want %d problem(s), got %d:\n%s", want, n, report);
	if (needle)
		ck_assert_msg(strstr(report, needle) != NULL, "report lacks \"%s\":\n%s", needle,
		              report);
	free(report);
	json_object_put(doc);
	buf_clear(&text);
}

START_TEST(checker_accepts_agreement)
{
	expect(good_routes, ARRAY_LEN(good_routes), NULL, NULL, 0, NULL);
}
END_TEST

START_TEST(checker_route_missing_from_description)
{
	struct route routes[ARRAY_LEN(good_routes) + 1];

	memcpy(routes, good_routes, sizeof(good_routes));
	routes[ARRAY_LEN(good_routes)] =
		(struct route){ HTTP_DELETE, "/things/{id}", NULL, ROUTE_AUTH, ROLE_ANY, NULL };
	expect(routes, ARRAY_LEN(routes), NULL, NULL, 1,
	       "DELETE /things/{id}: is routed but not in the description");
}
END_TEST

START_TEST(checker_operation_not_routed)
{
	/* Drop GET /things/{id} from the table: its operation is left over. */
	expect(good_routes, ARRAY_LEN(good_routes) - 1, NULL, NULL, 1,
	       "get /things/{id}: is in the description but not routed");
}
END_TEST

START_TEST(checker_wrong_method)
{
	expect(good_routes, ARRAY_LEN(good_routes), "  /things:\n    post:",
	       "  /things:\n    put:", 2, "POST /things: is routed but not in the description");
}
END_TEST

START_TEST(checker_missing_401)
{
	expect(good_routes, ARRAY_LEN(good_routes), "        '401': {description: no token}\n"
	       "        '404'", "        '404'", 1, "needs a token but documents no 401");
}
END_TEST

START_TEST(checker_missing_400)
{
	expect(good_routes, ARRAY_LEN(good_routes), "        '400': {description: bad}\n", "",
	       1, "POST /things: takes a body but documents no 400");
}
END_TEST

START_TEST(checker_missing_404)
{
	expect(good_routes, ARRAY_LEN(good_routes), "        '404': {description: none}\n", "",
	       1, "GET /things/{id}: has a path parameter but documents no 404");
}
END_TEST

START_TEST(checker_missing_request_body)
{
	expect(good_routes, ARRAY_LEN(good_routes),
	       "      requestBody:\n        content: {application/json: {schema: {type: object}}}\n",
	       "", 1, "takes a body but has no requestBody");
}
END_TEST

START_TEST(checker_summary_differs)
{
	expect(good_routes, ARRAY_LEN(good_routes), "summary: Make a thing",
	       "summary: Create a thing", 1,
	       "summary \"Make a thing\" in the table, \"Create a thing\" in the description");
}
END_TEST

START_TEST(checker_null_summary_tolerated)
{
	/* GET /things/{id} has no summary in the table: any summary in the file is fine. */
	expect(good_routes, ARRAY_LEN(good_routes), "summary: Get a thing",
	       "summary: Fetch one thing", 0, NULL);
}
END_TEST

START_TEST(checker_security_mismatch)
{
	/* The public /ping loses its opt-out... */
	expect(good_routes, ARRAY_LEN(good_routes),
	       "      summary: Ping\n      security: []\n", "      summary: Ping\n", 1,
	       "GET /ping: is public but lacks security: []");
	/* ...and an authenticated route gains one. */
	expect(good_routes, ARRAY_LEN(good_routes), "      summary: Get a thing\n",
	       "      summary: Get a thing\n      security: []\n", 1,
	       "needs a token but says security: []");
}
END_TEST

START_TEST(checker_undeclared_path_param)
{
	expect(good_routes, ARRAY_LEN(good_routes),
	       "    parameters:\n      - $ref: '#/components/parameters/id'\n", "", 1,
	       "path parameter {id} is not declared");
	/* A $ref that points nowhere declares nothing either. */
	expect(good_routes, ARRAY_LEN(good_routes), "#/components/parameters/id",
	       "#/components/parameters/nope", 1, "path parameter {id} is not declared");
}
END_TEST

START_TEST(checker_head_ignored)
{
	/* No HEAD operation in the file while the table has one: still fine. */
	expect(good_routes, ARRAY_LEN(good_routes),
	       "    head:\n      summary: Ping, headers only\n      security: []\n"
	       "      responses:\n        '200': {description: ok}\n", "", 0, NULL);
}
END_TEST

START_TEST(checker_no_paths)
{
	json_object *doc = yaml_doc("openapi: 3.0.3\ninfo: {title: x}\n");
	int n;
	char *report = compare(good_routes, ARRAY_LEN(good_routes), doc, &n);

	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(report, "the description has no paths"));
	free(report);
	json_object_put(doc);
}
END_TEST

/* The linter, on small documents: each holds one mistake of a kind (or none). */
static void expect_lint(const char *schemas, int want, const char *needle)
{
	struct buf text, report;
	json_object *doc;
	int n;

	buf_init(&text, 8192);
	buf_init(&report, REPORT_MAX);
	ck_assert(buf_printf(&text,
	                     "openapi: 3.0.3\n"
	                     "paths:\n"
	                     "  /x:\n"
	                     "    get:\n"
	                     "      parameters:\n"
	                     "        - $ref: '#/components/parameters/id'\n"
	                     "      responses:\n"
	                     "        '200':\n"
	                     "          description: ok\n"
	                     "          content:\n"
	                     "            application/json:\n"
	                     "              schema: {$ref: '#/components/schemas/A'}\n"
	                     "              example: {type: nonsense, nullable: true}\n"
	                     "components:\n"
	                     "  parameters:\n"
	                     "    id: {name: id, in: path, required: true, schema: {type: string}}\n"
	                     "  schemas:\n"
	                     "    B: {type: object, properties: {n: {type: integer}}}\n"
	                     "%s",
	                     schemas) == 0);
	doc = yaml_doc(text.data);
	n = openapi_lint(doc, &report);
	ck_assert_msg(n == want, "want %d problem(s), got %d:\n%s", want, n,
	              report.data ? report.data : "");
	if (needle)
		ck_assert_msg(report.data && strstr(report.data, needle), "report lacks \"%s\":\n%s",
		              needle, report.data ? report.data : "");
	json_object_put(doc);
	buf_clear(&report);
	buf_clear(&text);
}

START_TEST(lint_accepts_good)
{
	expect_lint("    A:\n"
	            "      type: object\n"
	            "      required: [b, c]\n"
	            "      properties:\n"
	            "        b:\n"
	            "          type: object\n"
	            "          nullable: true\n"
	            "          allOf: [{$ref: '#/components/schemas/B'}]\n"
	            "        c: {type: array, items: {type: string, nullable: true}}\n",
	            0, NULL);
}
END_TEST

START_TEST(lint_nullable_without_type)
{
	/* The shape docs/openapi.yaml had for LoginResult.tenant, Me.user and Me.tenant. */
	expect_lint("    A:\n"
	            "      type: object\n"
	            "      properties:\n"
	            "        b:\n"
	            "          allOf: [{$ref: '#/components/schemas/B'}]\n"
	            "          nullable: true\n",
	            1, "#/components/schemas/A/properties/b: `nullable` without `type`");
}
END_TEST

START_TEST(lint_ref_siblings)
{
	expect_lint("    A:\n"
	            "      type: object\n"
	            "      properties:\n"
	            "        b: {$ref: '#/components/schemas/B', nullable: true}\n",
	            1, "/properties/b: `nullable` beside `$ref` is ignored");
}
END_TEST

START_TEST(lint_ref_dangling)
{
	expect_lint("    A: {type: object, properties: {b: {$ref: '#/components/schemas/C'}}}\n", 1,
	            "`$ref` names nothing");
}
END_TEST

START_TEST(lint_unknown_type)
{
	expect_lint("    A: {type: object, properties: {b: {type: 'null'}}}\n", 1,
	            "type `null` is not an OpenAPI 3.0 type");
}
END_TEST

START_TEST(lint_array_without_items)
{
	expect_lint("    A: {type: array}\n", 1, "#/components/schemas/A: `type: array` without");
}
END_TEST

START_TEST(lint_required_not_a_property)
{
	expect_lint("    A: {type: object, required: [b, c], properties: {b: {type: string}}}\n", 1,
	            "required `c` is not under properties");
	/* allOf may bring the property: not flagged. */
	expect_lint("    A:\n"
	            "      type: object\n"
	            "      required: [n]\n"
	            "      allOf: [{$ref: '#/components/schemas/B'}]\n",
	            0, NULL);
}
END_TEST

START_TEST(lint_parameter_schema)
{
	/* A schema outside components (a parameter's) is checked too. */
	expect_lint("    A: {type: string}\n"
	            "  headers:\n"
	            "    H: {schema: {nullable: true}}\n",
	            1, "#/components/headers/H/schema: `nullable` without `type`");
}
END_TEST

static Suite *openapi_suite(void)
{
	Suite *s = suite_create("openapi");
	TCase *real = tcase_create("real");
	TCase *checker = tcase_create("checker");

	tcase_add_test(real, table_matches_description);
	tcase_add_test(real, description_lints_clean);
	tcase_add_test(real, description_header);
	tcase_add_test(real, table_summaries_one_line);
	suite_add_tcase(s, real);

	tcase_add_test(checker, checker_accepts_agreement);
	tcase_add_test(checker, checker_route_missing_from_description);
	tcase_add_test(checker, checker_operation_not_routed);
	tcase_add_test(checker, checker_wrong_method);
	tcase_add_test(checker, checker_missing_401);
	tcase_add_test(checker, checker_missing_400);
	tcase_add_test(checker, checker_missing_404);
	tcase_add_test(checker, checker_missing_request_body);
	tcase_add_test(checker, checker_summary_differs);
	tcase_add_test(checker, checker_null_summary_tolerated);
	tcase_add_test(checker, checker_security_mismatch);
	tcase_add_test(checker, checker_undeclared_path_param);
	tcase_add_test(checker, checker_head_ignored);
	tcase_add_test(checker, checker_no_paths);
	tcase_add_test(checker, lint_accepts_good);
	tcase_add_test(checker, lint_nullable_without_type);
	tcase_add_test(checker, lint_ref_siblings);
	tcase_add_test(checker, lint_ref_dangling);
	tcase_add_test(checker, lint_unknown_type);
	tcase_add_test(checker, lint_array_without_items);
	tcase_add_test(checker, lint_required_not_a_property);
	tcase_add_test(checker, lint_parameter_schema);
	suite_add_tcase(s, checker);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(openapi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
