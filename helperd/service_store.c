/* service_store.c: service.h's store table over common/store_service.h, on helperd's
 * database connection (staff scope: every tenant's services).
 *
 * Reads go through store_service_work (the service, its template's chart and values
 * schema, the sealed secrets, a queued rollback's revision, the tenant's limits); writes
 * through store_service_report with the job's op_seq, so a DELETE that came meanwhile
 * makes them STORE_CONFLICT. The chart values are built here (values_chart_build) with
 * the secret values opened (values_seal.h) only for helm's stdin: the text is wiped by
 * the caller once helm_run_start has copied it. */
#include "service_store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "events.h"
#include "helperd.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "store_service.h"
#include "values_schema.h"
#include "values_seal.h"

/* services.key_file's key, loaded at start; key_error says why when it is not. */
static struct values_key key;
static int key_loaded;
static char key_error[400];

int service_store_init(void)
{
	const char *path = cfg_str(CFG_SERVICES_KEY_FILE);
	char err[256];

	key_loaded = 0;
	if (!path || !path[0]) {
		snprintf(key_error, sizeof(key_error), "the secret values cannot be opened: "
		         "services.key_file is not set on this helperd");
		return -1;
	}
	if (values_key_load(path, &key, err, sizeof(err)) != 0) {
		snprintf(key_error, sizeof(key_error), "the secret values cannot be opened: "
		         "services.key_file: %s", err);
		return -1;
	}
	key_loaded = 1;
	return 0;
}

const char *service_store_key_error(void)
{
	return key_loaded ? NULL : key_error;
}

void service_store_shutdown(void)
{
	values_key_clear(&key);
	key_loaded = 0;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static long long int_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return (long long)json_object_get_int64(v);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int work(const struct service_row *row, json_object **out)
{
	return store_service_work(helperd.db, row->tenant_id, row->id, out);
}

static int load(const char *tenant_id, const char *service_id, struct service_row *out)
{
	json_object *w = NULL, *tpl;
	struct service_row r;
	int rc = store_service_work(helperd.db, tenant_id, service_id, &w);

	if (rc != STORE_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	tpl = member(w, "template");
	snprintf(r.id, sizeof(r.id), "%s", service_id);
	snprintf(r.tenant_id, sizeof(r.tenant_id), "%s", tenant_id);
	snprintf(r.status, sizeof(r.status), "%s", str_of(w, "status"));
	r.op_seq = int_of(w, "op_seq");
	snprintf(r.namespace_, sizeof(r.namespace_), "%s", str_of(w, "namespace"));
	snprintf(r.release, sizeof(r.release), "%s", str_of(w, "helm_release"));
	snprintf(r.chart_repo, sizeof(r.chart_repo), "%s", str_of(tpl, "chart_repo"));
	snprintf(r.chart_name, sizeof(r.chart_name), "%s", str_of(tpl, "chart_name"));
	snprintf(r.chart_version, sizeof(r.chart_version), "%s", str_of(w, "chart_version"));
	r.revision = (int)int_of(w, "revision");
	r.rollback_to = (int)int_of(w, "rollback_to");
	json_object_put(w);
	*out = r;
	return STORE_OK;
}

/* The opened secret values merged over the plain ones (both trees of the same shape). */
static int values_all(json_object *w, json_object **out, char *err, size_t errlen)
{
	json_object *plain = member(w, "values"), *merged, *secrets = NULL;
	const char *sealed = str_of(w, "secret_values");

	merged = plain ? json_tokener_parse(json_object_to_json_string(plain))
	               : json_object_new_object();
	if (!merged) {
		snprintf(err, errlen, "the service's values cannot be read");
		return -1;
	}
	if (sealed[0]) {
		if (!key_loaded) {
			snprintf(err, errlen, "%s", key_error);
			json_object_put(merged);
			return -1;
		}
		if (values_open(&key, sealed, &secrets) != 0) {
			snprintf(err, errlen, "the secret values cannot be opened (sealed under "
			         "another services.key_file?): set them again");
			json_object_put(merged);
			return -1;
		}
		if (values_merge(merged, secrets) != 0) {
			json_object_put(secrets);
			json_object_put(merged);
			snprintf(err, errlen, "the service's secret values do not fit its values");
			return -1;
		}
		json_object_put(secrets);
	}
	*out = merged;
	return 0;
}

static int values(const struct service_row *row, char **json, size_t *len, char *err,
                  size_t errlen)
{
	json_object *w = NULL, *tpl, *user = NULL, *given = NULL, *chart = NULL;
	struct vs_error vs;
	const char *text, *domain = cfg_str(CFG_SERVICES_DOMAIN);
	char host[300];
	int rc;

	err[0] = '\0';
	rc = work(row, &w);
	if (rc != STORE_OK)
		return rc;
	rc = STORE_ERR;
	tpl = member(w, "template");
	if (values_all(w, &user, err, errlen) != 0)
		goto out;
	given = json_object_new_object();
	if (domain && domain[0]) {
		snprintf(host, sizeof(host), "%s.%s", str_of(w, "subdomain"), domain);
		json_object_object_add(given, "host", json_object_new_string(host));
	}
	/* The custom domain goes to the chart only once verified: an unverified one may be a
	 * name the tenant does not own (docs/decisions.md "Issue 13: the custom domain
	 * reaches the chart"). */
	if (str_of(w, "custom_domain") && str_of(w, "domain_status") &&
	    strcmp(str_of(w, "domain_status"), "verified") == 0)
		json_object_object_add(given, "domain",
		                       json_object_new_string(str_of(w, "custom_domain")));
	/* The service's size (the API checked it against the template and the quota); none:
	 * the template's default_values decide. */
	if (str_of(w, "storage_size") && str_of(w, "storage_size")[0])
		json_object_object_add(given, "storage_size",
		                       json_object_new_string(str_of(w, "storage_size")));
	if (values_chart_build(member(tpl, "default_values"), user, member(tpl, "inputs"), given,
	                       &chart, &vs) != 0) {
		snprintf(err, errlen, "the chart's values cannot be built: %s", vs.message);
		goto out;
	}
	text = json_object_to_json_string_ext(chart, JSON_C_TO_STRING_PLAIN);
	*len = strlen(text);
	*json = malloc(*len + 1);
	if (!*json) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*json, text, *len + 1);
	rc = STORE_OK;
out:
	/* json-c's printed buffer lives in the object until it is freed: wipe what we can. */
	json_object_put(chart);
	json_object_put(user);
	json_object_put(given);
	json_object_put(w);
	return rc;
}

static int quota(const struct service_row *row, struct k8s_api_quota *q)
{
	struct store_service_limits l;
	int rc = store_service_limits(helperd.db, row->tenant_id, &l);

	if (rc != STORE_OK)
		return rc;
	memset(q, 0, sizeof(*q));
	q->cpu_m = l.cpu_millis;
	q->memory = (int64_t)l.memory_mib << 20;
	q->storage = (int64_t)l.storage_gib << 30;
	q->pods = (int)l.pods;
	return STORE_OK;
}

static int status_of(const char *name)
{
	enum service_status s;

	return service_status_parse(name, &s) == 0 ? (int)s : -1;
}

/* The tenant's browsers told (events_service) what the service JSON holds: its status,
 * error, pods and revision, as the API shows them. */
static void tell(const struct service_row *row, json_object *service)
{
	events_service(row->tenant_id, row->id, str_of(service, "status"),
	               str_of(service, "error"), (int)int_of(service, "pods_ready"),
	               (int)int_of(service, "pods_total"), (int)int_of(service, "revision"));
}

/* store_service_report, then, when it changed what the service shows, the browsers told:
 * a poll that finds what the last one found tells nobody. */
static int report(const struct service_row *row, const struct store_service_report *r)
{
	json_object *after = NULL;
	int changed = 0;
	int rc = store_service_report(helperd.db, row->tenant_id, row->id, row->op_seq, r, &after,
	                              &changed);

	if (rc == STORE_OK && changed)
		tell(row, after);
	json_object_put(after);
	return rc;
}

static void announce(const struct service_row *row)
{
	json_object *now = NULL;

	if (store_service_get(helperd.db, row->tenant_id, row->id, &now) == STORE_OK)
		tell(row, now);
	json_object_put(now);
}

static int set_status(const struct service_row *row, const char *status, const char *error)
{
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;

	r.status = status_of(status);
	r.error = error ? error : "";
	return report(row, &r);
}

static int set_pods(const struct service_row *row, const char *error, int ready, int total)
{
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;

	r.error = error ? error : "";
	r.pods_ready = ready;
	r.pods_total = total;
	return report(row, &r);
}

static int finish(const struct service_row *row, const char *status, const char *error,
                  int revision, int ready, int total)
{
	struct store_service_report r = STORE_SERVICE_REPORT_INIT;
	json_object *w = NULL, *rb;
	int rc;

	r.status = status_of(status);
	r.error = error ? error : "";
	r.revision = revision;
	if (strcmp(status, "deleted") != 0) {
		r.pods_ready = ready;
		r.pods_total = total;
	}
	r.deployed = strcmp(status, "running") == 0;
	/* A rollback that ended running: the service's values become the revision's. */
	if (r.deployed && strcmp(row->status, "rolling_back") == 0) {
		rc = work(row, &w);
		if (rc != STORE_OK)
			return rc;
		rb = member(w, "rollback_revision");
		if (rb && json_object_is_type(rb, json_type_object)) {
			r.set_values = 1;
			r.values = member(rb, "values");
			r.secret_values = str_of(rb, "secret_values")[0] ? str_of(rb, "secret_values")
			                                                 : NULL;
			r.secret_names = member(rb, "secret_names");
			r.chart_version = str_of(rb, "chart_version")[0] ? str_of(rb, "chart_version")
			                                                 : NULL;
		}
	}
	rc = report(row, &r);
	json_object_put(w);
	return rc;
}

/* helm's "<chart name>-<version>" less the name: the version. */
static const char *chart_version_of(const struct service_row *row, const char *chart)
{
	size_t n = strlen(row->chart_name);

	if (strncmp(chart, row->chart_name, n) == 0 && chart[n] == '-')
		return chart + n + 1;
	return chart;
}

static int revisions(const struct service_row *row, enum service_job_kind kind,
                     const struct helm_revision *revs, size_t n, int current)
{
	json_object *w = NULL, *src = NULL;
	int rc = STORE_OK;

	if (current > 0) {
		rc = work(row, &w);
		if (rc != STORE_OK)
			return rc;
		/* What the new revision ran with: the row's values, or a rollback's target's. */
		src = kind == SERVICE_JOB_ROLLBACK ? member(w, "rollback_revision") : w;
		if (src && !json_object_is_type(src, json_type_object))
			src = NULL;
	}
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		struct store_service_revision r = {
			.revision = revs[i].revision,
			.status = revs[i].status,
			.chart_version = chart_version_of(row, revs[i].chart),
			.app_version = revs[i].app_version,
			.description = revs[i].description,
			.updated = revs[i].updated[0] ? revs[i].updated : NULL,
		};
		if (revs[i].revision == current && src) {
			r.values = member(src, "values");
			r.secret_values = str_of(src, "secret_values")[0] ? str_of(src, "secret_values")
			                                                  : NULL;
			r.secret_names = member(src, "secret_names");
		}
		rc = store_service_revision_put(helperd.db, row->tenant_id, row->id, &r);
	}
	json_object_put(w);
	return rc;
}

static int others(const struct service_row *row, int *count)
{
	struct service_row self;
	long n = 0;
	int rc = store_service_live_count(helperd.db, row->tenant_id, &n);

	if (rc != STORE_OK)
		return rc;
	/* Less this one while it is not deleted yet (the count is of deleted_at IS NULL). */
	rc = load(row->tenant_id, row->id, &self);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return rc;
	if (rc == STORE_OK && strcmp(self.status, "deleted") != 0)
		n--;
	*count = n > 0 ? (int)n : 0;
	return STORE_OK;
}

const struct service_store service_store_db = {
	.load = load,
	.values = values,
	.quota = quota,
	.set_status = set_status,
	.set_pods = set_pods,
	.finish = finish,
	.revisions = revisions,
	.others = others,
	.announce = announce,
};
