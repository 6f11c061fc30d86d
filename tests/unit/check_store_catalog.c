/* check_store_catalog.c: the catalog (catalog.h, store_catalog.h). Templates checked
 * whole (each refusal naming its field), the committed catalog file and the built-in
 * copy read and checked, typed YAML, which templates have a web address; then the store
 * on SQLite and on PostgreSQL, the latter as the application's role inside a tenant's
 * scope (a platform table: every scope reads it): load (all or nothing, by slug), the form's order kept and put back,
 * list with category and q, disabled ones for staff only, get, create (a slug once),
 * replace, delete. */
#include <ctype.h>
#include <stdio.h>
#include <sys/wait.h>

#include "catalog.h"
#include "cfg.h"
#include "jsonx.h"
#include "testjson.h"
#include "store.h"
#include "store_catalog.h"
#include "testdb.h"
#include "yamljson.h"

#define BASE "\"slug\":\"demo\",\"name\":\"Demo\",\"category\":\"Database\"," \
             "\"chart_repo\":\"oci://registry.example.com/charts\",\"chart_name\":\"demo\"," \
             "\"chart_version\":\"1.2.3\""

/* Each case: BASE with these members set (null: taken out). */
static const struct {
	const char *tpl;
	const char *field; /* NULL: accepted */
} templates[] = {
	{ "{}", NULL },
	{ "{\"description\":\"d\",\"icon\":\"\xf0\x9f\x90\x98\",\"tags\":[\"a\",\"b\"],"
	  "\"price_label\":\"Free\",\"enabled\":false,\"values_schema\":{\"type\":\"object\","
	  "\"properties\":{\"auth\":{\"type\":\"object\",\"properties\":{\"password\":{\"type\":"
	  "\"string\",\"secret\":true}}}}},\"inputs\":{\"host\":[\"ingress.hosts[0].host\"]},"
	  "\"default_values\":{\"ingress\":{\"enabled\":true}}}", NULL },
	{ "{\"icon\":\"icons/demo.svg\"}", NULL },
	{ "{\"chart_repo\":\"https://charts.example.com/stable\",\"chart_version\":"
	  "\"0.1.0-rc.1+b5\"}", NULL },
	{ "{\"id\":\"x\"}", "id" },
	{ "{\"slug\":null}", "slug" },
	{ "{\"slug\":\"Demo\"}", "slug" },
	{ "{\"slug\":\"-demo\"}", "slug" },
	{ "{\"slug\":\"de.mo\"}", "slug" },
	{ "{\"name\":\"\"}", "name" },
	{ "{\"category\":\"Games\"}", "category" },
	{ "{\"category\":\"database\"}", "category" },
	{ "{\"icon\":\"/etc/passwd.png\"}", "icon" },
	{ "{\"icon\":\"icons/../../x.svg\"}", "icon" },
	{ "{\"icon\":\"icons/x.js\"}", "icon" },
	{ "{\"icon\":\"a very long icon\"}", "icon" },
	{ "{\"tags\":\"db\"}", "tags" },
	{ "{\"tags\":[\"a\",\"a\"]}", "tags" },
	{ "{\"tags\":[1]}", "tags" },
	{ "{\"tags\":[\"\"]}", "tags" },
	{ "{\"chart_repo\":\"http://charts.example.com\"}", "chart_repo" },
	{ "{\"chart_repo\":\"oci://user:pw@registry.example.com/c\"}", "chart_repo" },
	{ "{\"chart_repo\":\"oci://registry.example.com/c d\"}", "chart_repo" },
	{ "{\"chart_repo\":\"oci://\"}", "chart_repo" },
	{ "{\"chart_repo\":\"file:///etc\"}", "chart_repo" },
	{ "{\"chart_name\":\"../x\"}", "chart_name" },
	{ "{\"chart_version\":\"^1.2.3\"}", "chart_version" },
	{ "{\"chart_version\":\"1.2\"}", "chart_version" },
	{ "{\"chart_version\":\"1.2.x\"}", "chart_version" },
	{ "{\"chart_version\":\"01.2.3\"}", "chart_version" },
	{ "{\"chart_version\":\">=1.0.0\"}", "chart_version" },
	{ "{\"enabled\":\"yes\"}", "enabled" },
	{ "{\"values_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
	  "\"strin\"}}}}", "values_schema.properties.a.type" },
	{ "{\"values_schema\":[]}", "values_schema" },
	{ "{\"inputs\":{\"subdomain\":[\"a\"]}}", "inputs.subdomain" },
	{ "{\"default_values\":[]}", "default_values" },
	/* a secret in the defaults; an input path through a string */
	{ "{\"values_schema\":{\"type\":\"object\",\"properties\":{\"auth\":{\"type\":"
	  "\"object\",\"properties\":{\"password\":{\"type\":\"string\",\"secret\":true}}}}},"
	  "\"default_values\":{\"auth\":{\"password\":\"hunter2hunter2\"}}}",
	  "default_values.auth.password" },
	{ "{\"inputs\":{\"host\":[\"ingress.host\"]},\"default_values\":{\"ingress\":"
	  "\"off\"}}", "inputs.host" },
	/* The custom domain's mapping: checked at load like host's (settable in the
	 * defaults, beside the host, not instead of it). */
	{ "{\"inputs\":{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.hosts[1]"
	  ".host\"]},\"default_values\":{\"ingress\":{\"hosts\":[{\"paths\":[\"/\"]}]}}}", NULL },
	{ "{\"inputs\":{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.hosts[2]"
	  ".host\"]}}", "inputs.domain" },
	{ "{\"inputs\":{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.tls.host\"]},"
	  "\"default_values\":{\"ingress\":{\"tls\":[]}}}", "inputs.domain" },
	{ "{\"inputs\":{\"domain\":[\"ingress.hosts[1].host\"]}}", "inputs.domain" },
	{ "{\"inputs\":{\"host\":[\"ingress.hosts[0].host\"],\"domain\":[\"ingress.hosts[0]"
	  ".host\"]}}", "inputs.domain" },
};

START_TEST(test_templates)
{
	json_object *in = J("{" BASE "}"), *over = J(templates[_i].tpl), *out = NULL;
	struct vs_error err;
	int rc;

	json_object_object_foreach(over, key, val) {
		if (val)
			json_object_object_add(in, key, json_object_get(val));
		else
			json_object_object_del(in, key);
	}
	json_object_put(over);
	rc = catalog_template_check(in, &out, &err);

	if (!templates[_i].field) {
		ck_assert_msg(rc == 0, "template %d refused: %s", _i, err.message);
		/* Every member, in order, the defaults filled in. */
		json_object_object_foreach(out, key, val) {
			(void)val;
			ck_assert_msg(strstr("slug name description icon category tags price_label "
			                     "chart_repo chart_name chart_version values_schema inputs "
			                     "default_values enabled",
			                     key) != NULL, "%s", key);
		}
		ck_assert_int_eq(json_object_object_length(out), 14);
		json_object_put(out);
	} else {
		ck_assert_msg(rc == -1, "template %d accepted", _i);
		ck_assert_str_eq(err.field, templates[_i].field);
		ck_assert(strlen(err.message) > 0);
	}
	json_object_put(in);
}
END_TEST

/* The committed file and the copy compiled in: the same four (at least) templates,
 * each checked; the value keys and the Bitnami caveat as decided. */
START_TEST(test_committed_catalog)
{
	json_object *file = NULL, *builtin = NULL, *pg, *schema, *paths;
	char why[512];
	const char *srcdir = getenv("KAIDEN_SRCDIR");
	char path[4096];

	snprintf(path, sizeof(path), "%s%scatalog/catalog.yaml", srcdir ? srcdir : "",
	         srcdir && *srcdir ? "/" : "");
	ck_assert_msg(catalog_read_file(path, &file, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(catalog_read_builtin(&builtin, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(json_object_equal(file, builtin), "the built-in catalog is not the file");
	ck_assert_int_ge(json_object_array_length(file), 4);
	ck_assert(strstr(S(file), "\"slug\":\"postgresql\"") && strstr(S(file), "\"slug\":\"redis\"") &&
	          strstr(S(file), "\"slug\":\"n8n\"") && strstr(S(file), "\"slug\":\"anythingllm\""));
	pg = json_object_array_get_idx(file, 0);
	ck_assert_str_eq(jsonx_str(pg, "chart_version"), "17.1.0");
	ck_assert(strstr(S(pg), "\"repository\":\"bitnamilegacy/postgresql\""));
	ck_assert(strstr(S(pg), "\"allowInsecureImages\":true"));
	schema = json_object_object_get(pg, "values_schema");
	paths = values_schema_secret_paths(schema);
	ck_assert_str_eq(S(paths), "[\"auth.postgresPassword\",\"auth.password\"]");
	json_object_put(paths);
	/* Every pattern has its words for people (a pattern_message goes only with a
	 * pattern, so as many of one as of the other). */
	{
		int patterns = 0, messages = 0;
		for (const char *p = S(file); (p = strstr(p, "\"pattern")) != NULL; p++) {
			if (strncmp(p, "\"pattern\":", 10) == 0)
				patterns++;
			else if (strncmp(p, "\"pattern_message\":", 18) == 0)
				messages++;
		}
		ck_assert_int_ge(patterns, 3);
		ck_assert_int_eq(messages, patterns);
	}
	for (size_t i = 0; i < json_object_array_length(file); i++) {
		json_object *t = json_object_array_get_idx(file, i);
		if (strcmp(jsonx_str(t, "slug"), "redis") == 0) {
			ck_assert_str_eq(jsonx_str(t, "chart_version"), "23.1.1");
			ck_assert(strstr(S(t), "\"architecture\":\"standalone\""));
		}
		if (strcmp(jsonx_str(t, "slug"), "n8n") == 0) {
			ck_assert_str_eq(jsonx_str(t, "chart_repo"),
			                 "oci://8gears.container-registry.com/library");
			paths = values_schema_secret_paths(json_object_object_get(t, "values_schema"));
			ck_assert_str_eq(S(paths), "[\"main.secret.n8n.encryption_key\"]");
			json_object_put(paths);
			ck_assert(strstr(S(t), "\"resources\":{\"requests\""));
		}
		/* A template with a web address serves a verified custom domain too: a second
		 * ingress host (the real charts' ingress.hosts[].host and .paths). */
		if (catalog_template_web(t)) {
			json_object *in = json_object_object_get(t, "inputs");
			ck_assert_str_eq(S(json_object_object_get(in, "domain")),
			                 "[\"ingress.hosts[1].host\"]");
		}
	}
	json_object_put(file);
	json_object_put(builtin);
}
END_TEST

static int parse_text(const char *text, json_object **out, char *why, size_t whylen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	json_object *doc = NULL;
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = yamljson_read_typed(f, &doc, why, whylen);
	fclose(f);
	if (rc == 0) {
		rc = catalog_parse(doc, out, why, whylen);
		json_object_put(doc);
	}
	return rc;
}

START_TEST(test_files)
{
	static const char two[] =
		"templates:\n"
		"  - {slug: a, name: A, category: Cache, chart_repo: oci://r.example/c,\n"
		"     chart_name: a, chart_version: \"1.0.0\"}\n"
		"  - {slug: b, name: B, category: Cache, chart_repo: oci://r.example/c,\n"
		"     chart_name: b, chart_version: \"1.0.0\", enabled: false,\n"
		"     values_schema: {type: object, properties: {n: {type: integer, minimum: 1,\n"
		"       default: 2}, r: {type: number, maximum: 1.5}, s: {type: string, default: \"3\"}}}}\n";
	json_object *out = NULL;
	char why[512];

	ck_assert_msg(parse_text(two, &out, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(json_object_array_length(out), 2);
	ck_assert(strstr(S(out), "\"n\":{\"type\":\"integer\",\"minimum\":1,\"default\":2}"));
	ck_assert(strstr(S(out), "\"s\":{\"type\":\"string\",\"default\":\"3\"}"));
	json_object_put(out);

	ck_assert_int_eq(parse_text("templates: []\n", &out, why, sizeof(why)), -1);
	ck_assert_int_eq(parse_text("templates: [[]]\n", &out, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "templates[0] (no slug): template") != NULL, "%s", why);
	ck_assert_int_eq(parse_text("- a\n", &out, why, sizeof(why)), -1);
	ck_assert_int_eq(parse_text("templates: [{slug: a}]\nextra: 1\n", &out, why, sizeof(why)),
	                 -1);
	/* A version read as a number is refused, naming the template and the field. */
	ck_assert_int_eq(parse_text("templates:\n  - {slug: a, name: A, category: Cache, "
	                            "chart_repo: oci://r.example/c, chart_name: a, "
	                            "chart_version: 1.0}\n",
	                            &out, why, sizeof(why)),
	                 -1);
	ck_assert_msg(strstr(why, "templates[0] (a): chart_version") != NULL, "%s", why);
	/* A slug twice; a key twice. */
	ck_assert_int_eq(parse_text("templates:\n"
	                            "  - {slug: a, name: A, category: Cache, chart_repo: "
	                            "oci://r.example/c, chart_name: a, chart_version: \"1.0.0\"}\n"
	                            "  - {slug: a, name: A, category: Cache, chart_repo: "
	                            "oci://r.example/c, chart_name: a, chart_version: \"1.0.0\"}\n",
	                            &out, why, sizeof(why)),
	                 -1);
	ck_assert_msg(strstr(why, "templates[1] (a): slug") != NULL, "%s", why);
	ck_assert_int_eq(parse_text("templates:\n  - {slug: a, slug: b}\n", &out, why, sizeof(why)),
	                 -1);
	ck_assert_msg(strstr(why, "given twice") != NULL, "%s", why);
	ck_assert_int_eq(catalog_read_file("/nonexistent/catalog.yaml", &out, why, sizeof(why)), -1);
}
END_TEST

/* A web address: the templates that map Kaiden's host into their chart. */
START_TEST(test_web)
{
	json_object *list = NULL, *plain;
	char why[512];
	struct vs_error err;
	json_object *in = NULL;

	ck_assert_msg(catalog_read_builtin(&list, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(json_object_array_length(list), 4);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *t = json_object_array_get_idx(list, i);
		const char *slug = jsonx_str(t, "slug");
		int web = strcmp(slug, "n8n") == 0 || strcmp(slug, "anythingllm") == 0;
		ck_assert_msg(catalog_template_web(t) == web, "%s", slug);
	}
	json_object_put(list);
	in = json_tokener_parse("{" BASE "}");
	ck_assert_int_eq(catalog_template_check(in, &plain, &err), 0);
	ck_assert_int_eq(catalog_template_web(plain), 0);
	json_object_put(plain);
	json_object_put(in);
	ck_assert_int_eq(catalog_template_web(NULL), 0);
}
END_TEST

/* ---- the store ----------------------------------------------------------------------- */

static struct db *A;

static json_object *checked(const char *text)
{
	json_object *in = J(text), *out = NULL;
	struct vs_error err;

	ck_assert_msg(catalog_template_check(in, &out, &err) == 0, "%s", err.message);
	json_object_put(in);
	return out;
}

static json_object *builtin(void)
{
	json_object *list = NULL;
	char why[512];

	ck_assert_msg(catalog_read_builtin(&list, why, sizeof(why)) == 0, "%s", why);
	return list;
}

START_TEST(test_load)
{
	json_object *list = builtin(), *made = NULL, *replaced = NULL, *items = NULL, *one = NULL;
	char *id, *again;

	T_use_tenant(&A, DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_catalog_load(A, list, &made, &replaced), STORE_OK);
	ck_assert_str_eq(S(made), "[\"postgresql\",\"redis\",\"n8n\",\"anythingllm\"]");
	ck_assert_str_eq(S(replaced), "[]");
	json_object_put(made);
	json_object_put(replaced);
	id = T_value(A, "SELECT id FROM app_templates WHERE slug = 'redis'", 0, NULL);
	/* Again: replaced, by slug, ids kept. */
	ck_assert_int_eq(store_catalog_load(A, list, &made, &replaced), STORE_OK);
	ck_assert_str_eq(S(made), "[]");
	ck_assert_int_eq(json_object_array_length(replaced), 4);
	json_object_put(made);
	json_object_put(replaced);
	again = T_value(A, "SELECT id FROM app_templates WHERE slug = 'redis'", 0, NULL);
	ck_assert_str_eq(again, id);
	free(again);
	free(id);

	/* The one read back is the one loaded. */
	ck_assert_int_eq(store_catalog_get(A, "postgresql", 0, &one), STORE_OK);
	ck_assert(json_object_equal(json_object_object_get(one, "values_schema"),
	                            json_object_object_get(json_object_array_get_idx(list, 0),
	                                                   "values_schema")));
	ck_assert(json_object_get_boolean(json_object_object_get(one, "enabled")));
	json_object_put(one);

	/* Lists: enabled only, or all for staff; by category, then name. */
	ck_assert_int_eq(store_catalog_list(A, NULL, NULL, 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 3);
	ck_assert(json_object_object_get(json_object_array_get_idx(items, 0), "values_schema") == NULL);
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "slug"), "n8n");
	json_object_put(items);
	ck_assert_int_eq(store_catalog_list(A, NULL, NULL, 1, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 4);
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "slug"), "anythingllm");
	json_object_put(items);
	ck_assert_int_eq(store_catalog_get(A, "anythingllm", 0, &one), STORE_NOT_FOUND);
	ck_assert_int_eq(store_catalog_get(A, "anythingllm", 1, &one), STORE_OK);
	/* By id (any case), the same rule for a disabled one; no such id; not an id. */
	{
		char upper[UUID_STR_LEN];
		json_object *by_id = NULL;
		snprintf(upper, sizeof(upper), "%s", jsonx_str(one, "id"));
		for (char *c = upper; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		ck_assert_int_eq(store_catalog_get_by_id(A, upper, 0, &by_id), STORE_NOT_FOUND);
		ck_assert_int_eq(store_catalog_get_by_id(A, upper, 1, &by_id), STORE_OK);
		ck_assert(json_object_equal(by_id, one));
		json_object_put(by_id);
		ck_assert_int_eq(store_catalog_get_by_id(A, "0190a2c4-0000-7000-8000-00000000ffff", 1,
		                                         &by_id),
		                 STORE_NOT_FOUND);
		ck_assert_int_eq(store_catalog_get_by_id(A, "anythingllm", 1, &by_id), STORE_NOT_FOUND);
	}
	json_object_put(one);
	ck_assert_int_eq(store_catalog_list(A, "Cache", NULL, 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 1);
	json_object_put(items);
	/* q: name, description, tags; any case; % and _ literal. */
	ck_assert_int_eq(store_catalog_list(A, NULL, "POSTGRES", 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 1);
	json_object_put(items);
	ck_assert_int_eq(store_catalog_list(A, NULL, "low-code", 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 1);
	ck_assert_str_eq(jsonx_str(json_object_array_get_idx(items, 0), "slug"), "n8n");
	json_object_put(items);
	ck_assert_int_eq(store_catalog_list(A, NULL, "%", 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 0);
	json_object_put(items);
	ck_assert_int_eq(store_catalog_list(A, "Database", "redis", 0, &items), STORE_OK);
	ck_assert_int_eq(json_object_array_length(items), 0);
	json_object_put(items);
	T_use_done(&A);
	json_object_put(list);
}
END_TEST

/* A load with one template the database refuses writes nothing. */
/* A deep copy of o with every object's keys in the reverse order (what jsonb's sorting
 * did to a form: another order, the same content). */
static json_object *reversed(json_object *o)
{
	json_object *out;
	const char *keys[64];
	size_t n = 0;

	if (!json_object_is_type(o, json_type_object))
		return json_object_get(o);
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		ck_assert_uint_lt(n, ARRAY_LEN(keys));
		keys[n++] = k;
	}
	out = json_object_new_object();
	while (n-- > 0)
		json_object_object_add(out, keys[n], reversed(json_object_object_get(o, keys[n])));
	return out;
}

static const char *schema_text(json_object *tpl)
{
	return json_object_to_json_string_ext(json_object_object_get(tpl, "values_schema"),
	                                      JSON_C_TO_STRING_PLAIN |
	                                              JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The form keeps the order its author wrote (0020 on PostgreSQL), and
 * store_catalog_reorder puts it back in a template whose schema still says the same
 * (not in one edited since), touching nothing else. */
START_TEST(test_form_order)
{
	json_object *list = builtin(), *one = NULL, *done = NULL, *edited;
	const char *p[2];
	char *updated;

	T_use_tenant(&A, DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_catalog_load(A, list, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_catalog_get(A, "postgresql", 0, &one), STORE_OK);
	ck_assert_str_eq(schema_text(one), schema_text(json_object_array_get_idx(list, 0)));
	ck_assert(strstr(schema_text(one), "\"postgresPassword\":{") <
	          strstr(schema_text(one), "\"database\":{"));
	json_object_put(one);

	/* postgresql in another order, redis in another order and edited. */
	edited = reversed(json_object_object_get(json_object_array_get_idx(list, 0),
	                                         "values_schema"));
	p[0] = "postgresql";
	p[1] = json_object_to_json_string_ext(edited, JSON_C_TO_STRING_PLAIN);
	T_run(A, "UPDATE app_templates SET values_schema = $2 WHERE slug = $1", 2, p);
	json_object_put(edited);
	edited = reversed(json_object_object_get(json_object_array_get_idx(list, 1),
	                                         "values_schema"));
	json_object_object_add(edited, "title", json_object_new_string("Edited"));
	p[0] = "redis";
	p[1] = json_object_to_json_string_ext(edited, JSON_C_TO_STRING_PLAIN);
	T_run(A, "UPDATE app_templates SET values_schema = $2 WHERE slug = $1", 2, p);
	updated = T_value(A, "SELECT updated_at FROM app_templates WHERE slug = 'postgresql'", 0,
	                  NULL);

	ck_assert_int_eq(store_catalog_reorder(A, list, &done), STORE_OK);
	ck_assert_str_eq(S(done), "[\"postgresql\"]");
	json_object_put(done);
	ck_assert_int_eq(store_catalog_get(A, "postgresql", 0, &one), STORE_OK);
	ck_assert_str_eq(schema_text(one), schema_text(json_object_array_get_idx(list, 0)));
	ck_assert_str_eq(jsonx_str(one, "updated_at"), updated);
	json_object_put(one);
	ck_assert_int_eq(store_catalog_get(A, "redis", 0, &one), STORE_OK);
	ck_assert_str_eq(schema_text(one), json_object_to_json_string_ext(
	                                           edited, JSON_C_TO_STRING_PLAIN |
	                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(one);
	/* Again: nothing left to put back. */
	ck_assert_int_eq(store_catalog_reorder(A, list, &done), STORE_OK);
	ck_assert_str_eq(S(done), "[]");
	json_object_put(done);
	json_object_put(edited);
	free(updated);
	T_use_done(&A);
	json_object_put(list);
}
END_TEST

START_TEST(test_load_all_or_nothing)
{
	json_object *list = builtin(), *bad = checked("{" BASE "}");

	/* Made to fail at the database: a category its CHECK does not know. */
	json_object_object_add(bad, "category", json_object_new_string("Games"));
	json_object_array_add(list, bad);
	T_use_tenant(&A, DEFAULT_TENANT_ID);
	ck_assert_int_ne(store_catalog_load(A, list, NULL, NULL), STORE_OK);
	T_use_done(&A);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM app_templates", 0, NULL), 0);
	json_object_put(list);
}
END_TEST

START_TEST(test_crud)
{
	json_object *tpl = checked("{" BASE ",\"tags\":[\"x\"]}"), *out = NULL, *again = NULL;

	T_use_tenant(&A, DEFAULT_TENANT_ID);
	ck_assert_int_eq(store_catalog_create(A, tpl, &out), STORE_OK);
	ck_assert_str_eq(jsonx_str(out, "slug"), "demo");
	ck_assert(ids_is_uuid(jsonx_str(out, "id")));
	ck_assert_str_eq(S(json_object_object_get(out, "tags")), "[\"x\"]");
	ck_assert_str_eq(jsonx_str(out, "created_at"), jsonx_str(out, "updated_at"));
	ck_assert_int_eq(store_catalog_create(A, tpl, &again), STORE_CONFLICT);

	json_object_object_add(tpl, "name", json_object_new_string("Demo 2"));
	json_object_object_add(tpl, "enabled", json_object_new_boolean(0));
	ck_assert_int_eq(store_catalog_replace(A, tpl, &again), STORE_OK);
	ck_assert_str_eq(jsonx_str(again, "name"), "Demo 2");
	ck_assert_str_eq(jsonx_str(again, "id"), jsonx_str(out, "id"));
	ck_assert(!json_object_get_boolean(json_object_object_get(again, "enabled")));
	json_object_put(again);

	json_object_object_add(tpl, "slug", json_object_new_string("nothere"));
	ck_assert_int_eq(store_catalog_replace(A, tpl, &again), STORE_NOT_FOUND);
	ck_assert_int_eq(store_catalog_delete(A, "demo"), STORE_OK);
	ck_assert_int_eq(store_catalog_delete(A, "demo"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_catalog_delete(A, "Bad Slug"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_catalog_get(A, "demo", 1, &again), STORE_NOT_FOUND);
	ck_assert_int_eq(store_catalog_get(A, "'; DROP TABLE app_templates; --", 1, &again),
	                 STORE_NOT_FOUND);
	T_use_done(&A);
	json_object_put(out);
	json_object_put(tpl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_catalog");
	TCase *core = tcase_create("core");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again;
	(void)T_kill_session;
	(void)T_parallel;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	tcase_add_loop_test(core, test_templates, 0, (int)ARRAY_LEN(templates));
	tcase_add_test(core, test_committed_catalog);
	tcase_add_test(core, test_files);
	tcase_add_test(core, test_web);
	suite_add_tcase(s, core);
	T_ADD(sq, pg, test_load);
	T_ADD(sq, pg, test_form_order);
	T_ADD(sq, pg, test_load_all_or_nothing);
	T_ADD(sq, pg, test_crud);
	return T_main(s, sq, pg);
}
