/* h_services.c: /api/v1/services, a tenant's cloud services (store_service.h).
 *
 * kaiden-api never runs helm nor calls Kubernetes: each change writes the row and its job
 * in one transaction (202 Accepted) and helperd does the work. What a handler does:
 *   1. services_ready: services.domain, services.key_file (the key loads) and a
 *      Kubernetes API (k8s.api, or in-cluster) are set, else 503 services_unavailable
 *      naming the setting (reads need none of them);
 *   2. checks the body: names, the template, the values against the template's
 *      values_schema (values_schema_apply: the first problem, named "values.<path>");
 *   3. splits the values: the plain ones stored as given (defaults applied), the secret
 *      ones sealed (values_seal) into one blob; only their paths are stored in clear;
 *   4. calls the store, audits (never a value: names, template, status changes).
 * Replies never hold a secret value: "secrets" maps each secret path to "set"/"unset". */
#include "handlers.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "catalog.h"
#include "cfg.h"
#include "ids.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "store_catalog.h"
#include "store_service.h"
#include "store_tenant.h"
#include "values_schema.h"
#include "values_seal.h"

#define SERVICE_Q_MAX 256
#define REF_MAX 40 /* a reference_id made from a name: short enough for most release names */
#define VERIFY_INTERVAL 10
#define DNS_TIMEOUT 2

/* Subdomains that would pass for the platform's own hosts. */
static const char *const reserved[] = { "www",  "api",  "admin", "mail",   "smtp",   "imap",
	                                "pop",  "ftp",  "ns1",   "ns2",    "portal", "app",
	                                "auth", "login", "status", "kaiden", "helperd", NULL };

static const struct jsonx_field create_fields[] = {
	{ "name", JSONX_STRING, 1, 1, 100, 0 },
	{ "template", JSONX_STRING, 1, 1, 64, 0 },
	{ "reference_id", JSONX_STRING, 0, 1, 63, 1 },
	{ "subdomain", JSONX_STRING, 0, 1, 63, 1 },
	{ "values", JSONX_OBJECT, 0, 0, 0, 1 },
	{ "storage_size", JSONX_STRING, 0, 1, 16, 1 },
};
static const struct jsonx_field patch_fields[] = {
	{ "name", JSONX_STRING, 0, 1, 100, 0 },
	{ "values", JSONX_OBJECT, 0, 0, 0, 0 },
	{ "chart_version", JSONX_STRING, 0, 1, 64, 0 },
	{ "storage_size", JSONX_STRING, 0, 1, 16, 1 }, /* null: the template's default again */
};
static const struct jsonx_field rollback_fields[] = {
	{ "revision", JSONX_INT, 1, 0, 0, 0 },
};
static const struct jsonx_field domain_fields[] = {
	{ "domain", JSONX_STRING, 1, 4, 253, 0 },
};

/* A DNS label: [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63. */
static int dns_label(const char *s, size_t len)
{
	if (len < 1 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* A host name of two labels or more, lower case, at most 253. */
static int dns_name(const char *s)
{
	size_t len = strlen(s), start = 0;
	int labels = 0;

	if (len < 4 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++)
		if (i == len || s[i] == '.') {
			if (!dns_label(s + start, i - start))
				return 0;
			labels++;
			start = i + 1;
		}
	return labels >= 2;
}

/* 1 when the k8s API is known: k8s.api, or in a cluster. */
static int k8s_known(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	return cfg_str(CFG_K8S_API)[0] || (host && host[0]);
}

/* Step 1 (see the top): 0 with *key loaded (when key is not NULL), or -1 with the 503. */
static int services_ready(struct req *r, struct resp *rs, struct values_key *key)
{
	char err[256];

	if (!cfg_str(CFG_SERVICES_DOMAIN)[0]) {
		resp_error(rs, 503, "services_unavailable", NULL,
		           "cloud services are not configured: set services.domain "
		           "(KAIDEN_SERVICES_DOMAIN), the domain services are reached under");
		return -1;
	}
	if (!cfg_str(CFG_SERVICES_KEY_FILE)[0]) {
		resp_error(rs, 503, "services_unavailable", NULL,
		           "cloud services are not configured: set services.key_file "
		           "(KAIDEN_SERVICES_KEY_FILE), the key that seals secret values");
		return -1;
	}
	if (!k8s_known()) {
		resp_error(rs, 503, "services_unavailable", NULL,
		           "cloud services are not configured: set k8s.api (KAIDEN_K8S_API), or run "
		           "in a Kubernetes cluster");
		return -1;
	}
	if (key && values_key_load(cfg_str(CFG_SERVICES_KEY_FILE), key, err, sizeof(err)) != 0) {
		log_error("req=%s services.key_file: %s", r->request_id, err);
		resp_error(rs, 503, "services_unavailable", NULL,
		           "cloud services are not available: services.key_file: %s", err);
		return -1;
	}
	return 0;
}

/* The member at a dotted path (borrowed), or NULL. */
static json_object *path_get(json_object *root, const char *path)
{
	char seg[VS_PATH_MAX + 1];
	const char *p = path;
	json_object *cur = root;

	while (cur && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (!json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, seg, &cur))
			return NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

/* The secret paths of schema that secrets sets, as a new array (owned). */
static json_object *set_paths(json_object *schema, json_object *secrets)
{
	json_object *all = values_schema_secret_paths(schema), *set = json_object_new_array();

	for (size_t i = 0; all && set && i < json_object_array_length(all); i++) {
		const char *p = json_object_get_string(json_object_array_get_idx(all, i));
		if (path_get(secrets, p))
			json_object_array_add(set, json_object_new_string(p));
	}
	json_object_put(all);
	return set;
}

/* Removes members that are null, at any depth (a PATCH's "unset this"). */
static void strip_nulls(json_object *o)
{
	int again = 1;

	while (again && json_object_is_type(o, json_type_object)) {
		again = 0;
		json_object_object_foreach(o, k, v)
		{
			if (!v) {
				json_object_object_del(o, k);
				again = 1;
				break;
			}
			strip_nulls(v);
		}
	}
}

/* The service as the API shows it: secret_names become "secrets" (each of the
 * template's secret paths "set" or "unset"), plus web, urls, pods and domain. A service
 * whose template has no web address (catalog_template_web) has no urls. */
/* The template a view needs: from seen (slug -> template, kept for the rest of a list, so
 * a page of services reads each template once) when given, else from the store. The
 * caller puts the reference it gets. */
static json_object *view_template(struct req *r, const char *slug, json_object *seen)
{
	json_object *tpl = NULL;

	if (!slug)
		return NULL;
	if (seen && json_object_object_get_ex(seen, slug, &tpl))
		return json_object_get(tpl);
	if (store_catalog_get(r->db, slug, 1, &tpl) != STORE_OK)
		tpl = NULL;
	if (seen && tpl)
		json_object_object_add(seen, slug, json_object_get(tpl));
	return tpl;
}

static void service_view_seen(struct req *r, json_object *svc, json_object *seen)
{
	json_object *tpl = NULL, *schema = NULL, *names = NULL, *secrets, *urls, *pods, *dom;
	const char *slug = jsonx_str(svc, "template"), *sub = jsonx_str(svc, "subdomain");
	const char *custom = jsonx_str(svc, "custom_domain"), *domain = cfg_str(CFG_SERVICES_DOMAIN);
	char host[320], record[640];
	json_object *all = NULL;
	int web = 0;

	secrets = json_object_new_object();
	if ((tpl = view_template(r, slug, seen))) {
		web = catalog_template_web(tpl);
		if (json_object_object_get_ex(tpl, "values_schema", &schema))
			all = values_schema_secret_paths(schema);
	}
	json_object_object_get_ex(svc, "secret_names", &names);
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		const char *p = json_object_get_string(json_object_array_get_idx(all, i));
		int set = 0;
		for (size_t j = 0; names && j < json_object_array_length(names); j++)
			set |= strcmp(p, json_object_get_string(json_object_array_get_idx(names, j))) == 0;
		json_object_object_add(secrets, p, json_object_new_string(set ? "set" : "unset"));
	}
	json_object_put(all);
	json_object_put(tpl);
	json_object_object_del(svc, "secret_names");
	json_object_object_add(svc, "secrets", secrets);
	snprintf(host, sizeof(host), "%s.%s", sub ? sub : "", domain[0] ? domain : "invalid");
	json_object_object_add(svc, "web", json_object_new_boolean(web));
	urls = json_object_new_array();
	if (web) {
		char url[400];
		snprintf(url, sizeof(url), "https://%s", host);
		json_object_array_add(urls, json_object_new_string(url));
		if (custom) {
			snprintf(url, sizeof(url), "https://%s", custom);
			json_object_array_add(urls, json_object_new_string(url));
		}
	}
	json_object_object_add(svc, "urls", urls);
	pods = json_object_new_object();
	{
		json_object *v;
		if (json_object_object_get_ex(svc, "pods_ready", &v))
			json_object_object_add(pods, "ready", json_object_get(v));
		if (json_object_object_get_ex(svc, "pods_total", &v))
			json_object_object_add(pods, "total", json_object_get(v));
	}
	json_object_object_add(svc, "pods", pods);
	dom = NULL;
	if (custom) {
		json_object *v;
		dom = json_object_new_object();
		jsonx_add_str(dom, "name", custom);
		if (json_object_object_get_ex(svc, "domain_status", &v))
			json_object_object_add(dom, "status", json_object_get(v));
		if (json_object_object_get_ex(svc, "domain_checked_at", &v))
			json_object_object_add(dom, "checked_at", json_object_get(v));
		jsonx_add_str(dom, "cname_target", host);
		snprintf(record, sizeof(record), "%s. CNAME %s.", custom, host);
		jsonx_add_str(dom, "record", record);
	}
	json_object_object_add(svc, "domain", dom);
}

static void service_view(struct req *r, json_object *svc)
{
	service_view_seen(r, svc, NULL);
}

/* reference_id from a name: lower case letters and digits, the rest runs of '-'. */
static void reference_of(const char *name, char out[REF_MAX + 1])
{
	size_t n = 0;

	for (const char *p = name; *p && n < REF_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) && c < 128)
			out[n++] = (char)tolower(c);
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, REF_MAX + 1, "service");
}

/* storage_size: a whole number of MiB, GiB or TiB as Kubernetes writes it ("8Gi", no
 * leading zero, at most 7 digits): 0 with *mib, or -1. Decimal units (8G) and fractions
 * are refused rather than converted: the value goes to the chart as given. */
static int storage_parse(const char *text, long long *mib)
{
	size_t len = strlen(text), digits = len >= 2 ? len - 2 : 0;
	long long n = 0;

	if (digits < 1 || digits > 7 || text[0] == '0')
		return -1;
	for (size_t i = 0; i < digits; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		n = n * 10 + (text[i] - '0');
	}
	if (strcmp(text + digits, "Mi") == 0)
		*mib = n;
	else if (strcmp(text + digits, "Gi") == 0)
		*mib = n * 1024;
	else if (strcmp(text + digits, "Ti") == 0)
		*mib = n * 1024 * 1024;
	else
		return -1;
	return 0;
}

/* Checks a storage_size for template tpl in the caller's tenant: the template maps the
 * input (inputs.storage_size), the form, at least 1Gi and at most the tenant's
 * services_storage quota (the namespace's ResourceQuota would refuse the volume anyway,
 * but only once helm runs). 0, or -1 with the 400 reply. */
static int storage_check(struct req *r, struct resp *rs, json_object *tpl, const char *size)
{
	struct store_service_limits lim;
	json_object *inputs = NULL;
	long long mib;
	int rc;

	if (!json_object_object_get_ex(tpl, "inputs", &inputs) ||
	    !json_object_object_get_ex(inputs, "storage_size", NULL)) {
		resp_error(rs, 400, "invalid_field", "storage_size",
		           "storage_size: %s takes no storage size (leave it out)",
		           jsonx_str(tpl, "name") ? jsonx_str(tpl, "name") : "this application");
		return -1;
	}
	if (storage_parse(size, &mib) != 0) {
		resp_error(rs, 400, "invalid_field", "storage_size",
		           "storage_size: must be a size such as 8Gi: a whole number of Mi, Gi or Ti");
		return -1;
	}
	rc = store_service_limits(r->db, r->tenant_id, &lim);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "quotas");
		return -1;
	}
	if (mib < 1024) {
		resp_error(rs, 400, "invalid_field", "storage_size", "storage_size: at least 1Gi");
		return -1;
	}
	if (mib > (long long)lim.storage_gib * 1024) {
		resp_error(rs, 400, "invalid_field", "storage_size",
		           "storage_size: at most %ldGi, the workspace's services_storage quota",
		           lim.storage_gib);
		return -1;
	}
	return 0;
}

/* The enabled template named by slug or id (owned), or NULL with the 400 reply. */
static json_object *template_of(struct req *r, struct resp *rs, const char *ref)
{
	json_object *tpl = NULL;
	int rc = ids_is_uuid(ref) ? store_catalog_get_by_id(r->db, ref, 0, &tpl)
	                          : store_catalog_get(r->db, ref, 0, &tpl);

	if (tpl)
		return tpl;
	if (rc == STORE_OK || rc == STORE_NOT_FOUND)
		resp_error(rs, 400, "invalid_field", "template",
		           "template: no template of the catalog has that slug or id");
	else
		resp_store_error(rs, rc, r->db, r->request_id, "template");
	return NULL;
}

/* The checked values split and sealed: 0 with *plain (owned), *sealed (owned or NULL)
 * and *names (owned), or -1 with the reply. */
static int values_prepare(struct req *r, struct resp *rs, const struct values_key *key,
                          json_object *schema, json_object *values, json_object **plain,
                          char **sealed, json_object **names)
{
	struct vs_error e;
	json_object *applied = NULL, *secret = NULL;
	int rc = -1;

	if (values_schema_apply(schema, values, &applied, &e) != 0) {
		resp_error(rs, 400, e.code, e.field, "%s", e.message);
		return -1;
	}
	if (values_schema_split(schema, applied, plain, &secret) != 0) {
		resp_error(rs, 500, "internal", NULL, "out of memory");
		goto out;
	}
	*names = set_paths(schema, secret);
	*sealed = NULL;
	if (json_object_object_length(secret) > 0 && !(*sealed = values_seal(key, secret))) {
		log_error("req=%s sealing the secret values failed", r->request_id);
		resp_error(rs, 500, "internal", NULL, "could not seal the secret values");
		json_object_put(*plain);
		json_object_put(*names);
		goto out;
	}
	rc = 0;
out:
	json_object_put(applied);
	json_object_put(secret);
	return rc;
}

/* The reply of a refused write (STORE_CONFLICT with why, others by code). */
static void service_refused(struct req *r, struct resp *rs, int rc,
                            const struct store_service_why *why)
{
	if (rc == STORE_QUOTA) {
		long limit = 0;
		if (store_tenant_quota_check(r->db, r->tenant_id, QUOTA_SERVICES, &limit) !=
		    STORE_CONFLICT)
			limit = 0;
		resp_error(rs, 409, "quota_exceeded", NULL,
		           "quota max_services reached: this tenant may have %ld services; delete "
		           "one or ask for a higher quota",
		           limit);
	} else if (rc == STORE_CONFLICT && strcmp(why->field, "status") == 0) {
		resp_error(rs, 409, "service_busy", "status", "%s", why->text);
	} else if (rc == STORE_CONFLICT && strcmp(why->field, "op_seq") == 0) {
		resp_error(rs, 409, "service_busy", NULL, "%s", why->text);
	} else if (rc == STORE_CONFLICT && strcmp(why->field, "storage_size") == 0) {
		resp_error(rs, 400, "invalid_field", "storage_size", "storage_size: %s", why->text);
	} else if (rc == STORE_CONFLICT && strcmp(why->field, "revision") == 0) {
		resp_error(rs, 400, "invalid_field", "revision", "revision: %s", why->text);
	} else if (rc == STORE_CONFLICT && strcmp(why->field, "reference_id") == 0 &&
	           strstr(why->text, "characters")) {
		resp_error(rs, 400, "invalid_field", "reference_id", "reference_id: %s", why->text);
	} else if (rc == STORE_CONFLICT && why->field[0]) {
		resp_error(rs, 409, "name_taken", why->field, "%s: %s", why->field, why->text);
	} else {
		resp_store_error(rs, rc, r->db, r->request_id, "service");
	}
}

void h_services_create(struct req *r, struct resp *rs)
{
	struct values_key key;
	struct store_service_why why;
	json_object *in = NULL, *tpl = NULL, *schema = NULL, *plain = NULL, *names = NULL;
	json_object *svc = NULL, *details = NULL;
	char ref[REF_MAX + 1], location[64 + UUID_STR_LEN];
	const char *reference, *subdomain;
	char *sealed = NULL;
	int rc;

	memset(&key, 0, sizeof(key));
	memset(&why, 0, sizeof(why));
	if (services_ready(r, rs, &key) < 0)
		return;
	if (h_body_object(r, rs, create_fields, ARRAY_LEN(create_fields), &in) < 0)
		goto out;
	reference = jsonx_str(in, "reference_id");
	if (!reference) {
		reference_of(jsonx_str(in, "name"), ref);
		reference = ref;
	} else if (!dns_label(reference, strlen(reference))) {
		resp_error(rs, 400, "invalid_field", "reference_id",
		           "reference_id: must be a DNS label: lower case letters, digits and '-', "
		           "at most 63, not starting or ending with '-'");
		goto out;
	}
	subdomain = jsonx_str(in, "subdomain");
	if (!subdomain)
		subdomain = reference;
	if (!dns_label(subdomain, strlen(subdomain))) {
		resp_error(rs, 400, "invalid_field", "subdomain",
		           "subdomain: must be a DNS label: lower case letters, digits and '-', at "
		           "most 63, not starting or ending with '-'");
		goto out;
	}
	for (size_t i = 0; reserved[i]; i++)
		if (strcmp(subdomain, reserved[i]) == 0) {
			resp_error(rs, 400, "invalid_field", "subdomain",
			           "subdomain: %s is reserved for the platform; choose another",
			           subdomain);
			goto out;
		}
	tpl = template_of(r, rs, jsonx_str(in, "template"));
	if (!tpl)
		goto out;
	json_object_object_get_ex(tpl, "values_schema", &schema);
	if (jsonx_str(in, "storage_size") &&
	    storage_check(r, rs, tpl, jsonx_str(in, "storage_size")) < 0)
		goto out;
	if (values_prepare(r, rs, &key, schema, json_object_object_get(in, "values"), &plain,
	                   &sealed, &names) < 0)
		goto out;
	{
		struct store_service_new s = { .template_id = jsonx_str(tpl, "id"),
			                       .name = jsonx_str(in, "name"),
			                       .reference_id = reference,
			                       .subdomain = subdomain,
			                       .chart_version = jsonx_str(tpl, "chart_version"),
			                       .values = plain,
			                       .secret_values = sealed,
			                       .secret_names = names,
			                       .storage_size = jsonx_str(in, "storage_size") };
		rc = store_service_create(r->db, r->tenant_id, &s, &svc, &why);
	}
	if (rc == STORE_NOT_FOUND) {
		resp_error(rs, 400, "invalid_field", "template",
		           "template: no template of the catalog has that slug or id");
		goto out;
	}
	if (rc != STORE_OK) {
		service_refused(r, rs, rc, &why);
		goto out;
	}
	details = json_object_new_object();
	if (details) {
		jsonx_add_str(details, "name", jsonx_str(svc, "name"));
		jsonx_add_str(details, "template", jsonx_str(svc, "template"));
		jsonx_add_str(details, "reference_id", jsonx_str(svc, "reference_id"));
		jsonx_add_str(details, "subdomain", jsonx_str(svc, "subdomain"));
	}
	auth_audit(r, "service.create", "service", jsonx_str(svc, "id"), details);
	snprintf(location, sizeof(location), "/api/v1/services/%s", jsonx_str(svc, "id"));
	resp_header(rs, "Location", location);
	service_view(r, svc);
	resp_json(rs, 202, svc);
	svc = NULL;
out:
	values_key_clear(&key);
	free(sealed);
	json_object_put(details);
	json_object_put(svc);
	json_object_put(names);
	json_object_put(plain);
	json_object_put(tpl);
	json_object_put(in);
}

void h_services_list(struct req *r, struct resp *rs)
{
	struct store_page page;
	struct store_list list;
	struct store_service_filter f = { 0 };
	char cursor[UUID_STR_LEN], q[SERVICE_Q_MAX + 1], tpl[64];
	json_object *seen;
	int rc;

	if (h_page(r, rs, &page, cursor) < 0)
		return;
	rc = req_query_enum(r, "status", service_statuses, &f.status);
	if (rc < 0) {
		resp_error(rs, 400, "invalid_query", "status",
		           "status: must be pending, deploying, running, failed, upgrading, "
		           "rolling_back, deleting or deleted");
		return;
	}
	if (rc == 0)
		f.status = NULL;
	rc = req_query_text(r, "template", tpl, sizeof(tpl));
	if (rc < 0) {
		resp_error(rs, 400, "invalid_query", "template", "template: must be a template's slug");
		return;
	}
	f.template = rc > 0 ? tpl : NULL;
	rc = req_query_text(r, "q", q, sizeof(q));
	if (rc < 0) {
		resp_error(rs, 400, "invalid_query", "q",
		           "q: must be text of at most 256 bytes without control characters");
		return;
	}
	f.q = rc > 0 ? q : NULL;
	memset(&list, 0, sizeof(list));
	rc = store_service_list(r->db, r->tenant_id, &f, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "service list");
		return;
	}
	seen = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(list.items); i++)
		service_view_seen(r, json_object_array_get_idx(list.items, i), seen);
	json_object_put(seen);
	resp_list(rs, &list);
}

void h_service_get(struct req *r, struct resp *rs)
{
	json_object *svc = NULL;
	int rc = store_service_get(r->db, r->tenant_id, r->params[0], &svc);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "service");
		return;
	}
	service_view(r, svc);
	resp_json(rs, 200, svc);
}

/* Replies with the service after a queued operation (202) and audits it. */
static void queued(struct req *r, struct resp *rs, const char *action, json_object *svc,
                   json_object *details)
{
	if (!details)
		details = json_object_new_object();
	if (details)
		jsonx_add_str(details, "status", jsonx_str(svc, "status"));
	auth_audit(r, action, "service", r->params[0], details);
	json_object_put(details);
	service_view(r, svc);
	resp_json(rs, 202, svc);
}

void h_service_patch(struct req *r, struct resp *rs)
{
	struct values_key key;
	struct store_service_why why;
	struct store_service_change c;
	json_object *in = NULL, *svc = NULL, *tpl = NULL, *schema = NULL, *plain = NULL;
	json_object *names = NULL, *current = NULL, *opened = NULL, *details = NULL;
	char *sealed = NULL, *old_sealed = NULL;
	const char *version;
	long long op_seq = 0;
	int rc;

	memset(&key, 0, sizeof(key));
	memset(&why, 0, sizeof(why));
	memset(&c, 0, sizeof(c));
	if (h_body_object(r, rs, patch_fields, ARRAY_LEN(patch_fields), &in) < 0)
		return;
	c.name = jsonx_str(in, "name");
	version = jsonx_str(in, "chart_version");
	if (!json_object_object_get_ex(in, "values", NULL) && !version &&
	    !json_object_object_get_ex(in, "storage_size", NULL)) {
		/* A rename alone: no operation. */
		if (!c.name) {
			resp_error(rs, 400, "missing_field", NULL,
			           "nothing to change: give name, values, chart_version or "
			           "storage_size");
			goto out;
		}
		rc = store_service_rename(r->db, r->tenant_id, r->params[0], c.name, &svc);
		if (rc != STORE_OK) {
			resp_store_error(rs, rc, r->db, r->request_id, "service");
			goto out;
		}
		details = json_object_new_object();
		jsonx_add_str(details, "name", c.name);
		auth_audit(r, "service.update", "service", r->params[0], details);
		service_view(r, svc);
		resp_json(rs, 200, svc); /* takes svc */
		svc = NULL;
		goto out;
	}
	rc = store_service_get(r->db, r->tenant_id, r->params[0], &current);
	if (rc == STORE_OK && jsonx_str(current, "deleted_at"))
		rc = STORE_NOT_FOUND;
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "service");
		goto out;
	}
	if (services_ready(r, rs, &key) < 0)
		goto out;
	rc = store_catalog_get(r->db, jsonx_str(current, "template"), 1, &tpl);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	json_object_object_get_ex(tpl, "values_schema", &schema);
	/* The only versions: the one it runs, or the template's pin (an upgrade of the
	 * chart is a change to the template, made on purpose). */
	if (version && strcmp(version, jsonx_str(current, "chart_version")) != 0 &&
	    strcmp(version, jsonx_str(tpl, "chart_version")) != 0) {
		resp_error(rs, 400, "invalid_field", "chart_version",
		           "chart_version: must be the service's (%s) or its template's (%s)",
		           jsonx_str(current, "chart_version"), jsonx_str(tpl, "chart_version"));
		goto out;
	}
	c.chart_version = version;
	if (json_object_object_get_ex(in, "storage_size", NULL)) {
		const char *size = jsonx_str(in, "storage_size"), *now = jsonx_str(current, "storage_size");
		if (size && storage_check(r, rs, tpl, size) < 0)
			goto out;
		/* The size it has is no change (a form that sends every field may send it). */
		if (!((!size && !now) || (size && now && strcmp(size, now) == 0))) {
			c.set_storage = 1;
			c.storage_size = size;
		}
	}
	if (json_object_object_get_ex(in, "values", NULL)) {
		json_object *all = NULL, *v, *cur_plain = NULL;
		rc = store_service_secrets(r->db, r->tenant_id, r->params[0], &old_sealed, &op_seq);
		if (rc != STORE_OK) {
			resp_store_error(rs, rc, r->db, r->request_id, "service");
			goto out;
		}
		if (old_sealed && values_open(&key, old_sealed, &opened) != 0) {
			resp_error(rs, 409, "secrets_unreadable", "values",
			           "values: the stored secret values cannot be opened with this "
			           "services.key_file; give every secret value again");
			goto out;
		}
		/* The whole values: what it has, then the request's over them; a null unsets. */
		json_object_deep_copy(json_object_object_get(current, "values"), &cur_plain, NULL);
		all = cur_plain ? cur_plain : json_object_new_object();
		if (opened && values_merge(all, opened) != 0)
			rc = -1;
		v = json_object_object_get(in, "values");
		if (rc == STORE_OK && values_merge(all, v) != 0)
			rc = -1;
		if (rc != STORE_OK) {
			json_object_put(all);
			resp_error(rs, 500, "internal", NULL, "out of memory");
			goto out;
		}
		strip_nulls(all);
		rc = values_prepare(r, rs, &key, schema, all, &plain, &sealed, &names);
		json_object_put(all);
		if (rc < 0)
			goto out;
		c.values = plain;
		c.set_secrets = 1;
		c.secret_values = sealed;
		c.secret_names = names;
	}
	rc = store_service_queue(r->db, r->tenant_id, r->params[0], SERVICE_OP_UPGRADE, &c, op_seq,
	                         &svc, &why);
	if (rc != STORE_OK) {
		service_refused(r, rs, rc, &why);
		goto out;
	}
	details = json_object_new_object();
	if (details) {
		json_object *changed = json_object_new_array();
		if (c.name)
			json_object_array_add(changed, json_object_new_string("name"));
		if (c.values)
			json_object_array_add(changed, json_object_new_string("values"));
		if (version)
			json_object_array_add(changed, json_object_new_string("chart_version"));
		if (c.set_storage)
			json_object_array_add(changed, json_object_new_string("storage_size"));
		json_object_object_add(details, "changed", changed);
	}
	queued(r, rs, "service.upgrade", svc, details);
	details = NULL;
	svc = NULL;
out:
	values_key_clear(&key);
	free(sealed);
	free(old_sealed);
	json_object_put(opened);
	json_object_put(details);
	json_object_put(current);
	json_object_put(svc);
	json_object_put(names);
	json_object_put(plain);
	json_object_put(tpl);
	json_object_put(in);
}

void h_service_revisions(struct req *r, struct resp *rs)
{
	json_object *items = NULL, *body;
	int rc = store_service_revisions(r->db, r->tenant_id, r->params[0], &items);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "service");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i), *names = NULL;
		json_object_object_get_ex(it, "secret_names", &names);
		json_object_object_add(it, "secrets_set", json_object_get(names));
		json_object_object_del(it, "secret_names");
	}
	body = json_object_new_object();
	json_object_object_add(body, "items", items);
	json_object_object_add(body, "next_cursor", NULL);
	resp_json(rs, 200, body);
}

void h_service_rollback(struct req *r, struct resp *rs)
{
	struct store_service_why why;
	struct store_service_change c;
	json_object *in = NULL, *svc = NULL, *details;
	int64_t revision;
	int rc;

	memset(&why, 0, sizeof(why));
	memset(&c, 0, sizeof(c));
	if (h_body_object(r, rs, rollback_fields, ARRAY_LEN(rollback_fields), &in) < 0)
		return;
	revision = json_object_get_int64(json_object_object_get(in, "revision"));
	if (revision < 1 || revision > 1000000) {
		resp_error(rs, 400, "invalid_field", "revision",
		           "revision: must be one of the service's revisions (GET .../revisions)");
		goto out;
	}
	c.revision = (int)revision;
	rc = store_service_queue(r->db, r->tenant_id, r->params[0], SERVICE_OP_ROLLBACK, &c, 0,
	                         &svc, &why);
	if (rc != STORE_OK) {
		service_refused(r, rs, rc, &why);
		goto out;
	}
	details = json_object_new_object();
	if (details)
		json_object_object_add(details, "revision", json_object_new_int(c.revision));
	queued(r, rs, "service.rollback", svc, details);
	svc = NULL;
out:
	json_object_put(svc);
	json_object_put(in);
}

void h_service_delete(struct req *r, struct resp *rs)
{
	struct store_service_why why;
	json_object *svc = NULL;
	int rc;

	memset(&why, 0, sizeof(why));
	rc = store_service_queue(r->db, r->tenant_id, r->params[0], SERVICE_OP_UNINSTALL, NULL, 0,
	                         &svc, &why);
	if (rc != STORE_OK) {
		service_refused(r, rs, rc, &why);
		return;
	}
	queued(r, rs, "service.delete", svc, NULL);
}

/* The domain routes check, in the order every service route does, the service (404: none
 * in the tenant, or deleted) before the settings (503): 0, or -1 with the reply. *out
 * (may be NULL) gets the service (owned). */
static int domain_route_ready(struct req *r, struct resp *rs, json_object **out)
{
	json_object *svc = NULL;
	int rc = store_service_get(r->db, r->tenant_id, r->params[0], &svc);

	if (rc == STORE_OK && jsonx_str(svc, "deleted_at"))
		rc = STORE_NOT_FOUND;
	if (rc != STORE_OK) {
		json_object_put(svc);
		resp_store_error(rs, rc, r->db, r->request_id, "service");
		return -1;
	}
	if (services_ready(r, rs, NULL) < 0) {
		json_object_put(svc);
		return -1;
	}
	if (out)
		*out = svc;
	else
		json_object_put(svc);
	return 0;
}

/* PUT (domain given) and DELETE (NULL) of the custom domain: an upgrade so that the
 * chart's ingress hosts follow. */
static void domain_change(struct req *r, struct resp *rs, const char *domain)
{
	struct store_service_why why;
	struct store_service_change c;
	json_object *svc = NULL, *details;
	int rc;

	memset(&why, 0, sizeof(why));
	memset(&c, 0, sizeof(c));
	c.set_domain = 1;
	c.custom_domain = domain;
	rc = store_service_queue(r->db, r->tenant_id, r->params[0], SERVICE_OP_UPGRADE, &c, 0, &svc,
	                         &why);
	if (rc != STORE_OK) {
		service_refused(r, rs, rc, &why);
		return;
	}
	details = json_object_new_object();
	if (details)
		jsonx_add_str(details, "domain", domain);
	queued(r, rs, domain ? "service.domain.set" : "service.domain.delete", svc, details);
}

void h_service_domain_put(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *svc = NULL, *tpl = NULL;
	const char *domain, *base = cfg_str(CFG_SERVICES_DOMAIN);
	size_t dl, bl = strlen(base);
	int rc;

	if (domain_route_ready(r, rs, &svc) < 0)
		return;
	rc = store_catalog_get(r->db, jsonx_str(svc, "template"), 1, &tpl);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		resp_store_error(rs, rc, r->db, r->request_id, "template");
		goto out;
	}
	if (!tpl || !catalog_template_web(tpl)) {
		resp_error(rs, 409, "no_web_address", "domain",
		           "domain: %s has no web address (its template maps no host into the "
		           "chart): it is reached inside the cluster, in namespace %s, so a custom "
		           "domain would have nothing to serve",
		           jsonx_str(svc, "template_name") ? jsonx_str(svc, "template_name")
		                                           : jsonx_str(svc, "template"),
		           jsonx_str(svc, "namespace"));
		goto out;
	}
	if (h_body_object(r, rs, domain_fields, ARRAY_LEN(domain_fields), &in) < 0)
		goto out;
	domain = jsonx_str(in, "domain");
	dl = strlen(domain);
	if (!dns_name(domain)) {
		resp_error(rs, 400, "invalid_field", "domain",
		           "domain: must be a host name in lower case (shop.example.com)");
	} else if (strcmp(domain, base) == 0 ||
	           (dl > bl && domain[dl - bl - 1] == '.' && strcmp(domain + dl - bl, base) == 0)) {
		resp_error(rs, 400, "invalid_field", "domain",
		           "domain: names under %s are the platform's; use the subdomain instead", base);
	} else {
		domain_change(r, rs, domain);
	}
out:
	json_object_put(in);
	json_object_put(tpl);
	json_object_put(svc);
}

void h_service_domain_delete(struct req *r, struct resp *rs)
{
	if (domain_route_ready(r, rs, NULL) < 0)
		return;
	domain_change(r, rs, NULL);
}

/* Looks up domain's CNAME at services.dns_server (else the system's resolvers): 1 when
 * it is target, 0 when it is not (or there is none), -1 when the lookup failed. *seen
 * (256 bytes) gets what it points at ("" when none). */
static int cname_check(const char *domain, const char *target, char *seen, char *why,
                       size_t whylen)
{
	struct __res_state st;
	unsigned char answer[4096];
	const char *server = cfg_str(CFG_SERVICES_DNS_SERVER);
	ns_msg msg;
	int len, herr, found = 0;

	seen[0] = '\0';
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		snprintf(why, whylen, "the resolver could not start");
		return -1;
	}
	st.retrans = DNS_TIMEOUT;
	st.retry = 1;
	if (server[0]) {
		char host[64];
		const char *colon = strrchr(server, ':');
		size_t hl = colon ? (size_t)(colon - server) : strlen(server);
		long port = colon ? strtol(colon + 1, NULL, 10) : 53;
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		if (hl >= sizeof(host) || port < 1 || port > 65535) {
			res_nclose(&st);
			snprintf(why, whylen, "services.dns_server is not HOST:PORT");
			return -1;
		}
		memcpy(host, server, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
			res_nclose(&st);
			snprintf(why, whylen, "services.dns_server is not an IPv4 address and port");
			return -1;
		}
		st.nsaddr_list[0] = sin;
		st.nscount = 1;
	}
	len = res_nquery(&st, domain, ns_c_in, ns_t_cname, answer, sizeof(answer));
	herr = st.res_h_errno;
	res_nclose(&st);
	if (len < 0) {
		/* NXDOMAIN and "no such record" are answers: no CNAME. */
		if (herr == HOST_NOT_FOUND || herr == NO_DATA)
			return 0;
		snprintf(why, whylen, "the DNS lookup of %.100s failed or timed out", domain);
		return -1;
	}
	if (ns_initparse(answer, len, &msg) != 0) {
		snprintf(why, whylen, "the DNS answer could not be read");
		return -1;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		char name[NS_MAXDNAME];
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_cname)
			continue;
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), name,
		                       sizeof(name)) < 0)
			continue;
		snprintf(seen, 256, "%.254s", name);
		len = (int)strlen(name);
		if (len > 0 && name[len - 1] == '.')
			name[len - 1] = '\0';
		if (strcasecmp(name, target) == 0)
			found = 1;
	}
	return found;
}

void h_service_domain_verify(struct req *r, struct resp *rs)
{
	char domain[254], target[320], seen[256], why[160], retry_text[16];
	struct store_service_why refused;
	json_object *svc = NULL;
	int retry = VERIFY_INTERVAL, verified, queued = 0, rc;

	if (domain_route_ready(r, rs, &svc) < 0)
		return;
	snprintf(target, sizeof(target), "%s.%s", jsonx_str(svc, "subdomain"),
	         cfg_str(CFG_SERVICES_DOMAIN));
	json_object_put(svc);
	svc = NULL;
	rc = store_service_domain_claim(r->db, r->tenant_id, r->params[0], VERIFY_INTERVAL, domain,
	                                &retry);
	if (rc == STORE_BUSY) {
		snprintf(retry_text, sizeof(retry_text), "%d", retry);
		resp_header(rs, "Retry-After", retry_text);
		resp_error(rs, 429, "too_many_requests", NULL,
		           "a custom domain is looked up at most once every %d seconds: try again in "
		           "%d s",
		           VERIFY_INTERVAL, retry);
		return;
	}
	if (rc == STORE_CONFLICT) {
		resp_error(rs, 409, "no_domain", "domain",
		           "domain: the service has no custom domain: PUT .../domain first");
		return;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "service");
		return;
	}
	verified = cname_check(domain, target, seen, why, sizeof(why));
	if (verified < 0) {
		log_warn("req=%s service=%s domain check: %s", r->request_id, r->params[0], why);
		resp_error(rs, 502, "dns_unavailable", NULL, "%s: try again later", why);
		return;
	}
	/* A move in or out of verified is an upgrade (the chart's ingress follows), refused
	 * like one while an operation runs. */
	memset(&refused, 0, sizeof(refused));
	rc = store_service_domain_result(r->db, r->tenant_id, r->params[0], domain, verified, &svc,
	                                 &queued, &refused);
	if (rc != STORE_OK) {
		if (rc == STORE_CONFLICT && refused.field[0])
			service_refused(r, rs, rc, &refused);
		else
			resp_store_error(rs, rc, r->db, r->request_id, "service");
		return;
	}
	{
		json_object *details = json_object_new_object();
		jsonx_add_str(details, "domain", domain);
		jsonx_add_str(details, "status", verified ? "verified" : "unverified");
		if (queued)
			jsonx_add_str(details, "service_status", jsonx_str(svc, "status"));
		auth_audit(r, "service.domain.verify", "service", r->params[0], details);
		json_object_put(details);
	}
	service_view(r, svc);
	{
		json_object *dom = json_object_object_get(svc, "domain");
		if (dom)
			jsonx_add_str(dom, "cname_found", seen[0] ? seen : NULL);
	}
	resp_json(rs, 200, svc);
}
