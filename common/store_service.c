/* store_service.c: cloud services and their revisions, tenant-scoped (store_service.h).
 *
 * Every write reads the row first inside its transaction (FOR UPDATE on PostgreSQL;
 * SQLite's BEGIN IMMEDIATE serialises writers), decides from what it read (the status
 * diagram, op_seq), then writes: so two requests never both pass a status check, and a
 * helperd report racing a DELETE either lands before it or finds its op_seq stale. */
#include "store_service.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "store_row.h"
#include "store_tenant.h"
#include "store_webhook.h"

#define RELEASE_MAX 53
#define NAMESPACE_PREFIX "paas-ws-"

const char *const service_statuses[SERVICE__MAX + 1] = {
	[SERVICE_PENDING] = "pending",     [SERVICE_DEPLOYING] = "deploying",
	[SERVICE_RUNNING] = "running",     [SERVICE_FAILED] = "failed",
	[SERVICE_UPGRADING] = "upgrading", [SERVICE_ROLLING_BACK] = "rolling_back",
	[SERVICE_DELETING] = "deleting",   [SERVICE_DELETED] = "deleted",
	[SERVICE__MAX] = NULL,
};

const char *service_status_name(enum service_status s)
{
	return (int)s >= 0 && s < SERVICE__MAX ? service_statuses[s] : "?";
}

int service_status_parse(const char *text, enum service_status *out)
{
	for (int i = 0; text && i < SERVICE__MAX; i++)
		if (strcmp(service_statuses[i], text) == 0) {
			*out = (enum service_status)i;
			return 0;
		}
	return -1;
}

/* The template's slug and name are read by subqueries, not a join, so that the
 * unqualified "id" store_list_run appends stays the service's. */
#define SERVICE_COLS                                                                        \
	"s.id AS id, s.name AS name, s.reference_id AS reference_id, "                        \
	"(SELECT t.slug FROM app_templates t WHERE t.id = s.template_id) AS template, "       \
	"s.template_id AS template_id, "                                                       \
	"(SELECT t.name FROM app_templates t WHERE t.id = s.template_id) AS template_name, " \
	"s.subdomain AS subdomain, s.custom_domain AS custom_domain, "                        \
	"s.domain_status AS domain_status, s.domain_checked_at AS domain_checked_at, "        \
	"s.chart_version AS chart_version, s.storage_size AS storage_size, "                 \
	"s.plain_values AS \"values\", "                                                    \
	"s.secret_names AS secret_names, s.status AS status, s.error AS error, "              \
	"s.helm_release AS helm_release, s.namespace AS namespace, s.revision AS revision, " \
	"s.rollback_to AS rollback_to, s.pods_ready AS pods_ready, "                          \
	"s.pods_total AS pods_total, s.op_seq AS op_seq, s.created_at AS created_at, "        \
	"s.updated_at AS updated_at, s.deployed_at AS deployed_at, s.deleted_at AS deleted_at"
#define SERVICE_SELECT "SELECT " SERVICE_COLS " FROM cloud_services s"

static const struct store_col service_cols[] = {
	{ "id", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },
	{ "reference_id", STORE_COL_TEXT },
	{ "template", STORE_COL_TEXT },
	{ "template_id", STORE_COL_TEXT },
	{ "template_name", STORE_COL_TEXT },
	{ "subdomain", STORE_COL_TEXT },
	{ "custom_domain", STORE_COL_TEXT },
	{ "domain_status", STORE_COL_TEXT },
	{ "domain_checked_at", STORE_COL_TEXT },
	{ "chart_version", STORE_COL_TEXT },
	{ "storage_size", STORE_COL_TEXT },
	{ "values", STORE_COL_JSON },
	{ "secret_names", STORE_COL_JSON },
	{ "status", STORE_COL_TEXT },
	{ "error", STORE_COL_TEXT },
	{ "helm_release", STORE_COL_TEXT },
	{ "namespace", STORE_COL_TEXT },
	{ "revision", STORE_COL_INT },
	{ "rollback_to", STORE_COL_INT },
	{ "pods_ready", STORE_COL_INT },
	{ "pods_total", STORE_COL_INT },
	{ "op_seq", STORE_COL_INT },
	{ "created_at", STORE_COL_TEXT },
	{ "updated_at", STORE_COL_TEXT },
	{ "deployed_at", STORE_COL_TEXT },
	{ "deleted_at", STORE_COL_TEXT },
};
#define SERVICE_NCOLS ((int)ARRAY_LEN(service_cols))

static const struct store_col revision_cols[] = {
	{ "revision", STORE_COL_INT },      { "status", STORE_COL_TEXT },
	{ "chart_version", STORE_COL_TEXT }, { "app_version", STORE_COL_TEXT },
	{ "description", STORE_COL_TEXT },  { "updated", STORE_COL_TEXT },
	{ "values", STORE_COL_JSON },       { "secret_names", STORE_COL_JSON },
	{ "created_at", STORE_COL_TEXT },
};
#define REVISION_NCOLS ((int)ARRAY_LEN(revision_cols))

static void why_set(struct store_service_why *why, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void why_set(struct store_service_why *why, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	snprintf(why->field, sizeof(why->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

static int service_read(struct db *db, const char *tenant, const char *id, json_object **out)
{
	const char *params[2] = { tenant, id };

	return store_row_one(db, SERVICE_SELECT " WHERE s.tenant_id = $1 AND s.id = $2", 2, params,
	                     service_cols, SERVICE_NCOLS, out);
}

/* The JSON text of o (an object or array; NULL gives dflt). Borrowed from o. */
static const char *json_text_or(json_object *o, const char *dflt)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
	         : dflt;
}

/* Whether a live service (any tenant's, but except) has the subdomain or custom domain:
 * 1, 0, or a negative store_rc. */
static int host_taken(struct db *db, const char *subdomain, const char *domain,
                      const char *except)
{
	const char *params[3] = { subdomain, domain, except };
	char v[8];
	int rc;

	if (db_kind(db) == DB_POSTGRES)
		rc = store_one_value(db, "SELECT CASE WHEN kaiden_service_host_taken($1, $2, $3) "
		                         "THEN 1 ELSE 0 END",
		                     3, params, v, sizeof(v), NULL);
	else
		rc = store_one_value(db,
		                     "SELECT count(*) FROM cloud_services WHERE deleted_at IS NULL "
		                     "AND ($3 IS NULL OR id <> $3) AND (($1 IS NOT NULL AND "
		                     "subdomain = $1) OR ($2 IS NOT NULL AND custom_domain = $2))",
		                     3, params, v, sizeof(v), NULL);
	if (rc < 0)
		return rc;
	return rc == 1 && strcmp(v, "0") != 0;
}

int store_service_host_taken(struct db *db, const char *subdomain, const char *custom_domain)
{
	return host_taken(db, subdomain, custom_domain, NULL);
}

/* Reads back the service and ends the transaction (store_tx_end). */
static int read_and_end(struct db *db, int rc, const char *tenant, const char *id,
                        json_object **out)
{
	json_object *row = NULL;

	if (rc == STORE_OK)
		rc = service_read(db, tenant, id, &row);
	return store_tx_end(db, rc, row, out);
}

int store_service_create(struct db *db, const char *tenant_id,
                         const struct store_service_new *s, json_object **out,
                         struct store_service_why *why)
{
	char tenant[UUID_STR_LEN], id[UUID_STR_LEN], tpl[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char code[64], ns[80], release[160];
	const char *tp[1] = { tenant };
	int rc;

	if (store_id(tenant_id, tenant) != 0 || !s || store_id(s->template_id, tpl) != 0)
		return STORE_NOT_FOUND;
	if (!s->name || !s->reference_id || !s->subdomain || !s->chart_version || !s->values) {
		log_error("tenant=%s service create without a name, reference_id, subdomain, "
		          "chart_version or values",
		          tenant);
		return STORE_ERR;
	}
	ids_uuid7(id);
	store_time(0, now);
	rc = store_tenant_quota_begin(db, tenant, QUOTA_SERVICES);
	if (rc != STORE_OK)
		return rc;
	rc = store_one_value(db, "SELECT code FROM tenants WHERE id = $1", 1, tp, code, sizeof(code),
	                     NULL);
	if (rc <= 0) {
		rc = rc == 0 ? STORE_NOT_FOUND : rc;
		goto fail;
	}
	snprintf(ns, sizeof(ns), NAMESPACE_PREFIX "%s", code);
	snprintf(release, sizeof(release), "%s-%s", ns, s->reference_id);
	if (strlen(release) > RELEASE_MAX) {
		size_t room = RELEASE_MAX > strlen(ns) + 1 ? RELEASE_MAX - strlen(ns) - 1 : 0;
		why_set(why, "reference_id",
		        "makes the release name %s-... %zu characters long: at most %d, so at most "
		        "%zu characters here",
		        ns, strlen(release), RELEASE_MAX, room);
		rc = STORE_CONFLICT;
		goto fail;
	}
	{
		const char *p[1] = { tpl };
		rc = store_one_value(db, "SELECT id FROM app_templates WHERE id = $1", 1, p, NULL, 0,
		                     NULL);
		if (rc <= 0) {
			rc = rc == 0 ? STORE_NOT_FOUND : rc;
			goto fail;
		}
	}
	{
		const char *p[2] = { tenant, s->reference_id };
		rc = store_one_value(db,
		                     "SELECT id FROM cloud_services WHERE tenant_id = $1 AND "
		                     "reference_id = $2 AND deleted_at IS NULL",
		                     2, p, NULL, 0, NULL);
		if (rc != 0) {
			if (rc > 0) {
				why_set(why, "reference_id", "another service of yours has it");
				rc = STORE_CONFLICT;
			}
			goto fail;
		}
	}
	rc = host_taken(db, s->subdomain, NULL, NULL);
	if (rc != 0) {
		if (rc > 0) {
			why_set(why, "subdomain", "is taken by another service");
			rc = STORE_CONFLICT;
		}
		goto fail;
	}
	{
		const char *params[12] = { id,
			                   tenant,
			                   tpl,
			                   s->name,
			                   s->reference_id,
			                   s->subdomain,
			                   s->chart_version,
			                   json_text_or(s->values, "{}"),
			                   s->secret_values,
			                   json_text_or(s->secret_names, "[]"),
			                   release,
			                   ns };
		const char *p14[14];
		memcpy(p14, params, sizeof(params));
		p14[12] = now;
		p14[13] = s->storage_size;
		rc = db_exec(db,
		             "INSERT INTO cloud_services (id, tenant_id, template_id, name, "
		             "reference_id, subdomain, chart_version, plain_values, secret_values, "
		             "secret_names, helm_release, namespace, status, op_seq, created_at, "
		             "updated_at, storage_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
		             "$10, $11, $12, 'pending', 1, $13, $13, $14)",
		             14, p14, NULL);
	}
	if (rc == DB_CONSTRAINT) {
		/* A create of the same name committed between the checks and the insert. */
		why_set(why, "subdomain", "is taken by another service");
		rc = STORE_CONFLICT;
		goto fail;
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto fail;
	}
	rc = store_job_add_service(db, tenant, SEAM_JOB_SERVICE_INSTALL, id, 1, now);
	return read_and_end(db, rc, tenant, id, out);
fail:
	db_rollback(db);
	return rc;
}

int store_service_get(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN];

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	return service_read(db, tenant, svc, out);
}

int store_service_list(struct db *db, const char *tenant_id,
                       const struct store_service_filter *f, const struct store_page *page,
                       struct store_list *out)
{
	char tenant[UUID_STR_LEN], cursor_buf[UUID_STR_LEN];
	const char *params[6], *cursor;
	struct buf sql;
	char *pattern = NULL;
	int nparams = 1, limit = store_page_limit(page), rc;

	rc = store_list_ids(tenant_id, page, tenant, cursor_buf, &cursor);
	if (rc != STORE_OK)
		return rc;
	rc = STORE_ERR;
	buf_init(&sql, 2048);
	params[0] = tenant;
	if (buf_puts(&sql, SERVICE_SELECT " WHERE tenant_id = $1") != 0)
		goto out;
	if (f && f->status) {
		if (store_sql_and(&sql, "status = $?", params, &nparams, f->status) != 0)
			goto out;
	} else if (buf_puts(&sql, " AND deleted_at IS NULL") != 0) {
		goto out;
	}
	if (f && f->template &&
	    store_sql_and(&sql,
	                  "template_id IN (SELECT t.id FROM app_templates t WHERE t.slug = $?)",
	                  params, &nparams, f->template) != 0)
		goto out;
	if (f && f->q) {
		pattern = store_like_pattern(f->q);
		if (!pattern ||
		    store_sql_and(&sql,
		                  "(lower(name) LIKE lower($?) ESCAPE '\\' OR reference_id LIKE "
		                  "lower($?) ESCAPE '\\' OR subdomain LIKE lower($?) ESCAPE '\\')",
		                  params, &nparams, pattern) != 0)
			goto out;
	}
	rc = store_list_run(db, &sql, params, nparams, cursor, limit, service_cols, SERVICE_NCOLS,
	                    out);
out:
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* The row's status, op_seq and revision, locked for the transaction. 1, 0 (no such live
 * row, deleted_ok 0 / any row, deleted_ok 1), or a negative store_rc. */
static int lock_row(struct db *db, const char *tenant, const char *id, int deleted_ok,
                    enum service_status *status, long long *op_seq, int *revision)
{
	const char *params[2] = { tenant, id };
	struct db_res *res = NULL;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql),
	         "SELECT status, op_seq, revision FROM cloud_services WHERE tenant_id = $1 AND "
	         "id = $2%s%s",
	         deleted_ok ? "" : " AND deleted_at IS NULL",
	         db_kind(db) == DB_POSTGRES ? " FOR UPDATE" : "");
	rc = db_exec(db, sql, 2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0) {
		rc = 0;
	} else if (service_status_parse(db_res_get(res, 0, 0), status) != 0) {
		log_error("service=%s has an unknown status", id);
		rc = STORE_ERR;
	} else {
		*op_seq = strtoll(db_res_get(res, 0, 1), NULL, 10);
		*revision = atoi(db_res_get(res, 0, 2));
		rc = 1;
	}
	db_res_free(res);
	return rc;
}

/* Opens the transaction and locks the row (lock_row): STORE_OK, or the failure with the
 * transaction ended (STORE_NOT_FOUND when there is no such row). */
static int begin_locked(struct db *db, const char *tenant, const char *id, int deleted_ok,
                        enum service_status *status, long long *op_seq, int *revision)
{
	int rc = db_begin(db);

	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = lock_row(db, tenant, id, deleted_ok, status, op_seq, revision);
	if (rc == 1)
		return STORE_OK;
	db_rollback(db);
	return rc == 0 ? STORE_NOT_FOUND : rc;
}

/* Appends ", <column> = $k" with value bound as the next parameter. */
static int set_param(struct buf *sql, const char *column, const char **params, int *n,
                     int cap, const char *value)
{
	if (*n >= cap)
		return -1;
	params[(*n)++] = value;
	return buf_printf(sql, ", %s = $%d", column, *n);
}

int store_service_queue(struct db *db, const char *tenant_id, const char *id,
                        enum service_op op, const struct store_service_change *change,
                        long long expect_op_seq, json_object **out,
                        struct store_service_why *why)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN], seq[24], rev[16];
	static const struct store_service_change none;
	const char *params[16];
	struct buf sql;
	enum service_status status, to;
	enum seam_job kind;
	long long op_seq;
	int revision, n = 0, rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	if (!change)
		change = &none;
	store_time(0, now);
	rc = begin_locked(db, tenant, svc, 0, &status, &op_seq, &revision);
	if (rc != STORE_OK)
		return rc;
	buf_init(&sql, 512);
	if (expect_op_seq > 0 && op_seq != expect_op_seq) {
		why_set(why, "op_seq", "the service changed meanwhile: read it again");
		rc = STORE_CONFLICT;
		goto fail;
	}
	rc = STORE_CONFLICT;
	switch (op) {
	case SERVICE_OP_UPGRADE:
		if (status != SERVICE_RUNNING && status != SERVICE_FAILED) {
			why_set(why, "status", "the service is %s: wait until it is running or failed",
			        service_status_name(status));
			goto fail;
		}
		/* A volume's size is fixed once a release made it: helm upgrade cannot change a
		 * StatefulSet's volumeClaimTemplates, and a PVC never shrinks. */
		if (change->set_storage && revision > 0) {
			why_set(why, "storage_size",
			        "is fixed once the service has been deployed (its volume exists): "
			        "launch a new service for another size");
			goto fail;
		}
		/* Never deployed: the next operation installs. */
		to = revision == 0 ? SERVICE_DEPLOYING : SERVICE_UPGRADING;
		kind = revision == 0 ? SEAM_JOB_SERVICE_INSTALL : SEAM_JOB_SERVICE_UPGRADE;
		break;
	case SERVICE_OP_ROLLBACK:
		if (status != SERVICE_RUNNING && status != SERVICE_FAILED) {
			why_set(why, "status", "the service is %s: wait until it is running or failed",
			        service_status_name(status));
			goto fail;
		}
		snprintf(rev, sizeof(rev), "%d", change->revision);
		if (change->revision < 1 || change->revision == revision) {
			why_set(why, "revision", "must be an earlier revision than the current one (%d)",
			        revision);
			goto fail;
		}
		{
			const char *p[3] = { tenant, svc, rev };
			rc = store_one_value(db,
			                     "SELECT revision FROM service_revisions WHERE tenant_id = $1 "
			                     "AND service_id = $2 AND revision = $3",
			                     3, p, NULL, 0, NULL);
			if (rc <= 0) {
				if (rc == 0) {
					why_set(why, "revision", "the service has no revision %d",
					        change->revision);
					rc = STORE_CONFLICT;
				}
				goto fail;
			}
			rc = STORE_CONFLICT;
		}
		to = SERVICE_ROLLING_BACK;
		kind = SEAM_JOB_SERVICE_ROLLBACK;
		break;
	case SERVICE_OP_UNINSTALL:
		if (status == SERVICE_DELETING) {
			why_set(why, "status", "the service is already being deleted");
			goto fail;
		}
		to = SERVICE_DELETING;
		kind = SEAM_JOB_SERVICE_UNINSTALL;
		break;
	default:
		rc = STORE_ERR;
		goto fail;
	}
	if (change->set_domain && change->custom_domain) {
		rc = host_taken(db, NULL, change->custom_domain, svc);
		if (rc != 0) {
			if (rc > 0) {
				why_set(why, "domain", "is another service's custom domain");
				rc = STORE_CONFLICT;
			}
			goto fail;
		}
	}
	snprintf(seq, sizeof(seq), "%lld", op_seq + 1);
	params[n++] = tenant;
	params[n++] = svc;
	params[n++] = now;
	params[n++] = service_status_name(to);
	params[n++] = seq;
	rc = STORE_ERR;
	if (buf_puts(&sql, "UPDATE cloud_services SET updated_at = $3, status = $4, op_seq = $5, "
	                   "error = NULL") != 0)
		goto fail;
	if ((change->name && set_param(&sql, "name", params, &n, 16, change->name) != 0) ||
	    (change->values &&
	     set_param(&sql, "plain_values", params, &n, 16, json_text_or(change->values, "{}")) !=
	             0) ||
	    (change->set_secrets &&
	     (set_param(&sql, "secret_values", params, &n, 16, change->secret_values) != 0 ||
	      set_param(&sql, "secret_names", params, &n, 16,
	                json_text_or(change->secret_names, "[]")) != 0)) ||
	    (change->chart_version &&
	     set_param(&sql, "chart_version", params, &n, 16, change->chart_version) != 0) ||
	    (change->set_storage &&
	     set_param(&sql, "storage_size", params, &n, 16, change->storage_size) != 0) ||
	    (change->set_domain &&
	     (set_param(&sql, "custom_domain", params, &n, 16, change->custom_domain) != 0 ||
	      buf_puts(&sql, ", domain_status = 'unverified', domain_checked_at = NULL") != 0)) ||
	    (change->domain_status &&
	     (set_param(&sql, "domain_status", params, &n, 16, change->domain_status) != 0 ||
	      buf_puts(&sql, ", domain_checked_at = $3") != 0)) ||
	    (op == SERVICE_OP_ROLLBACK && set_param(&sql, "rollback_to", params, &n, 16, rev) != 0) ||
	    buf_puts(&sql, " WHERE tenant_id = $1 AND id = $2") != 0)
		goto fail;
	rc = db_exec(db, sql.data, n, params, NULL);
	if (rc == DB_CONSTRAINT) {
		why_set(why, change->set_domain ? "domain" : "values",
		        change->set_domain ? "is another service's custom domain"
		                           : "the database refused the change");
		rc = STORE_CONFLICT;
		goto fail;
	}
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto fail;
	}
	rc = store_job_add_service(db, tenant, kind, svc, op_seq + 1, now);
	buf_clear(&sql);
	return read_and_end(db, rc, tenant, svc, out);
fail:
	buf_clear(&sql);
	db_rollback(db);
	return rc;
}

/* Runs one UPDATE of the service's row (params[0] the tenant, params[1] the service) in a
 * transaction, then reads the service back: STORE_OK when it changed the row, missing
 * when it did not. */
static int update_and_read(struct db *db, const char *sql, int n, const char **params,
                           int missing, json_object **out)
{
	int rc = db_begin(db);

	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = db_exec(db, sql, n, params, NULL);
	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_changes(db) == 1 ? STORE_OK : missing;
	return read_and_end(db, rc, params[0], params[1], out);
}

int store_service_rename(struct db *db, const char *tenant_id, const char *id,
                         const char *name, json_object **out)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN];
	const char *params[4] = { tenant, svc, name, now };

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	if (!name)
		return STORE_ERR;
	store_time(0, now);
	return update_and_read(db,
	                       "UPDATE cloud_services SET name = $3, updated_at = $4 WHERE "
	                       "tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
	                       4, params, STORE_NOT_FOUND, out);
}

int store_service_domain_claim(struct db *db, const char *tenant_id, const char *id,
                               int min_interval, char *domain_out, int *retry_after)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN], cutoff[TIMESTAMP_LEN];
	const char *params[4] = { tenant, svc, now, cutoff };
	struct db_res *res = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	store_time(0, now);
	store_time(-min_interval, cutoff);
	rc = db_exec(db,
	             "UPDATE cloud_services SET domain_checked_at = $3 WHERE tenant_id = $1 AND "
	             "id = $2 AND deleted_at IS NULL AND custom_domain IS NOT NULL AND "
	             "(domain_checked_at IS NULL OR domain_checked_at <= $4) "
	             "RETURNING custom_domain",
	             4, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 1) {
		if (domain_out)
			store_text_copy(domain_out, 254, db_res_get(res, 0, 0));
		rc = STORE_OK;
		goto out;
	}
	db_res_free(res);
	res = NULL;
	/* Why not: no such service, no domain, or too soon (and how long to wait). */
	rc = db_exec(db,
	             db_kind(db) == DB_POSTGRES
	                     ? "SELECT custom_domain, ceil(extract(epoch FROM (domain_checked_at - "
	                       "CAST($3 AS timestamptz)))) FROM cloud_services WHERE tenant_id = $1 "
	                       "AND id = $2 AND deleted_at IS NULL"
	                     : "SELECT custom_domain, CAST(ceil((julianday(domain_checked_at) - "
	                       "julianday($3)) * 86400.0) AS INTEGER) FROM cloud_services WHERE "
	                       "tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
	             3, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
	} else if (!db_res_get(res, 0, 0)) {
		rc = STORE_CONFLICT;
	} else {
		/* checked_at - now is negative; the wait is interval + that. */
		long ago = db_res_get(res, 0, 1) ? strtol(db_res_get(res, 0, 1), NULL, 10) : 0;
		long left = min_interval + ago;
		if (retry_after)
			*retry_after = left < 1 ? 1 : left > min_interval ? min_interval : (int)left;
		rc = STORE_BUSY;
	}
out:
	db_res_free(res);
	return rc;
}

int store_service_domain_result(struct db *db, const char *tenant_id, const char *id,
                                const char *domain, int verified, json_object **out,
                                int *queued, struct store_service_why *why)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN], was[16], row[40];
	const char *status = verified ? "verified" : "unverified";
	const char *params[5] = { tenant, svc, domain, status, now };
	struct store_service_change c;
	int rc;

	*queued = 0;
	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0 || !domain)
		return STORE_NOT_FOUND;
	/* row: "<domain_status> <op_seq>" */
	rc = store_one_value(db,
	                     "SELECT domain_status || ' ' || op_seq FROM cloud_services WHERE "
	                     "tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND "
	                     "custom_domain = $3",
	                     3, params, row, sizeof(row), NULL);
	if (rc <= 0)
		return rc == 0 ? STORE_CONFLICT : rc;
	if (sscanf(row, "%15s", was) != 1)
		return STORE_ERR;
	if (strcmp(was, status) != 0) {
		/* In or out of the chart: an upgrade, unless the domain or anything else
		 * changed since the read (the op_seq moved). */
		memset(&c, 0, sizeof(c));
		c.domain_status = status;
		rc = store_service_queue(db, tenant_id, id, SERVICE_OP_UPGRADE, &c,
		                         strtoll(row + strlen(was), NULL, 10), out, why);
		if (rc == STORE_OK)
			*queued = 1;
		return rc;
	}
	store_time(0, now);
	return update_and_read(db,
	                       "UPDATE cloud_services SET domain_status = $4, domain_checked_at = "
	                       "$5 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND "
	                       "custom_domain = $3",
	                       5, params, STORE_CONFLICT, out);
}

int store_service_revisions(struct db *db, const char *tenant_id, const char *id,
                            json_object **out)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN];
	const char *params[2] = { tenant, svc };
	struct db_res *res = NULL;
	json_object *items = NULL, *row = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	rc = store_one_value(db, "SELECT id FROM cloud_services WHERE tenant_id = $1 AND id = $2",
	                     2, params, NULL, 0, NULL);
	if (rc <= 0)
		return rc == 0 ? STORE_NOT_FOUND : rc;
	rc = db_exec(db,
	             "SELECT revision, status, chart_version, app_version, description, updated, "
	             "plain_values AS \"values\", secret_names, created_at FROM service_revisions WHERE "
	             "tenant_id = $1 AND service_id = $2 ORDER BY revision DESC",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_ERR;
	items = json_object_new_array();
	if (!items)
		goto out;
	for (int i = 0; i < db_res_rows(res); i++) {
		if (store_row_json(res, i, revision_cols, REVISION_NCOLS, &row) != STORE_OK)
			goto out;
		json_object_array_add(items, row);
	}
	*out = items;
	items = NULL;
	rc = STORE_OK;
out:
	json_object_put(items);
	db_res_free(res);
	return rc;
}

int store_service_secrets(struct db *db, const char *tenant_id, const char *id,
                          char **sealed_out, long long *op_seq)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN];
	const char *params[2] = { tenant, svc };
	struct db_res *res = NULL;
	char *sealed = NULL;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db,
	             "SELECT secret_values, op_seq FROM cloud_services WHERE tenant_id = $1 AND "
	             "id = $2 AND deleted_at IS NULL",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
	} else if (db_res_get(res, 0, 0) && !(sealed = strdup(db_res_get(res, 0, 0)))) {
		rc = STORE_ERR;
	} else {
		*sealed_out = sealed;
		*op_seq = strtoll(db_res_get(res, 0, 1), NULL, 10);
		rc = STORE_OK;
	}
	db_res_free(res);
	return rc;
}

int store_service_template_uses(struct db *db, const char *template_id, long *n)
{
	char tpl[UUID_STR_LEN], v[32];
	const char *params[1] = { tpl };
	int rc;

	if (store_id(template_id, tpl) != 0)
		return STORE_NOT_FOUND;
	rc = store_one_value(db,
	                     db_kind(db) == DB_POSTGRES
	                             ? "SELECT kaiden_template_in_use($1)"
	                             : "SELECT count(*) FROM cloud_services WHERE template_id = $1",
	                     1, params, v, sizeof(v), NULL);
	if (rc < 0)
		return rc;
	*n = rc == 1 ? strtol(v, NULL, 10) : 0;
	return STORE_OK;
}

/* ---- helperd ---------------------------------------------------------------------- */

/* Adds a JSON text column as a member (null when NULL or not JSON). */
static void add_json_text(json_object *o, const char *key, const char *text)
{
	json_object *v = text ? json_tokener_parse(text) : NULL;

	json_object_object_add(o, key, v);
}

static void add_text(json_object *o, const char *key, const char *text)
{
	json_object_object_add(o, key, text ? json_object_new_string(text) : NULL);
}

int store_service_work(struct db *db, const char *tenant_id, const char *id, json_object **out)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN];
	const char *params[2] = { tenant, svc };
	struct db_res *res = NULL;
	json_object *o = NULL, *tpl = NULL, *limits = NULL;
	struct store_service_limits lim;
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	rc = service_read(db, tenant, svc, &o);
	if (rc != STORE_OK)
		return rc;
	rc = db_exec(db,
	             "SELECT s.secret_values, (SELECT code FROM tenants WHERE id = s.tenant_id), "
	             "t.id, t.slug, t.chart_repo, t.chart_name, t.chart_version, t.default_values, "
	             "t.inputs, t.values_schema, s.rollback_to FROM cloud_services s JOIN "
	             "app_templates t ON t.id = s.template_id WHERE s.tenant_id = $1 AND s.id = $2",
	             2, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) != 1) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	rc = STORE_ERR;
	tpl = json_object_new_object();
	if (!tpl)
		goto out;
	add_text(o, "tenant_id", tenant);
	add_text(o, "tenant_code", db_res_get(res, 0, 1));
	add_text(o, "secret_values", db_res_get(res, 0, 0));
	add_text(tpl, "id", db_res_get(res, 0, 2));
	add_text(tpl, "slug", db_res_get(res, 0, 3));
	add_text(tpl, "chart_repo", db_res_get(res, 0, 4));
	add_text(tpl, "chart_name", db_res_get(res, 0, 5));
	add_text(tpl, "chart_version", db_res_get(res, 0, 6));
	add_json_text(tpl, "default_values", db_res_get(res, 0, 7));
	add_json_text(tpl, "inputs", db_res_get(res, 0, 8));
	add_json_text(tpl, "values_schema", db_res_get(res, 0, 9));
	json_object_object_add(o, "template", tpl);
	tpl = NULL;
	if (db_res_get(res, 0, 10)) {
		const char *p[3] = { tenant, svc, db_res_get(res, 0, 10) };
		struct db_res *r2 = NULL;
		json_object *rb;
		rc = db_exec(db,
		             "SELECT revision, chart_version, plain_values, secret_values, secret_names "
		             "FROM service_revisions WHERE tenant_id = $1 AND service_id = $2 AND "
		             "revision = $3",
		             3, p, &r2);
		if (rc != DB_OK) {
			rc = store_rc_of(rc);
			goto out;
		}
		rb = db_res_rows(r2) == 1 ? json_object_new_object() : NULL;
		if (rb) {
			json_object_object_add(rb, "revision",
			                       json_object_new_int(atoi(db_res_get(r2, 0, 0))));
			add_text(rb, "chart_version", db_res_get(r2, 0, 1));
			add_json_text(rb, "values", db_res_get(r2, 0, 2));
			add_text(rb, "secret_values", db_res_get(r2, 0, 3));
			add_json_text(rb, "secret_names", db_res_get(r2, 0, 4));
		}
		db_res_free(r2);
		json_object_object_add(o, "rollback_revision", rb);
	} else {
		json_object_object_add(o, "rollback_revision", NULL);
	}
	rc = store_service_limits(db, tenant, &lim);
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	limits = json_object_new_object();
	if (!limits)
		goto out;
	json_object_object_add(limits, "cpu_millis", json_object_new_int64(lim.cpu_millis));
	json_object_object_add(limits, "memory_mib", json_object_new_int64(lim.memory_mib));
	json_object_object_add(limits, "storage_gib", json_object_new_int64(lim.storage_gib));
	json_object_object_add(limits, "pods", json_object_new_int64(lim.pods));
	json_object_object_add(o, "limits", limits);
	*out = o;
	o = NULL;
	rc = STORE_OK;
out:
	json_object_put(tpl);
	json_object_put(o);
	db_res_free(res);
	return rc;
}

/* The webhook event a status change to s emits, or NULL. */
static const char *status_event(enum service_status s)
{
	switch (s) {
	case SERVICE_RUNNING:
		return "service.deployed";
	case SERVICE_FAILED:
		return "service.failed";
	case SERVICE_DELETED:
		return "service.deleted";
	default:
		return NULL;
	}
}

/* An int column of the row JSON (-1 when null). */
static long long row_int(json_object *row, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || !v)
		return -1;
	return json_object_get_int64(v);
}

/* Whether r changes what the service shows against row (the service as it is): its
 * status, error, pods, revision, values or chart version. */
static int report_changes(const struct store_service_report *r, json_object *row)
{
	json_object *v;
	const char *status = NULL, *error = NULL;

	if (json_object_object_get_ex(row, "status", &v) && v)
		status = json_object_get_string(v);
	if (json_object_object_get_ex(row, "error", &v) && v)
		error = json_object_get_string(v);
	if (r->deployed || r->set_values || r->chart_version)
		return 1;
	return (r->status >= 0 &&
	        (!status || strcmp(status, service_status_name((enum service_status)r->status)))) ||
	       (r->error && strcmp(r->error, error ? error : "") != 0) ||
	       (r->pods_ready >= 0 && r->pods_ready != row_int(row, "pods_ready")) ||
	       (r->pods_total >= 0 && r->pods_total != row_int(row, "pods_total")) ||
	       (r->revision >= 0 && r->revision != row_int(row, "revision"));
}

int store_service_report(struct db *db, const char *tenant_id, const char *id,
                         long long op_seq, const struct store_service_report *r,
                         json_object **out, int *changed)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN];
	char ready[16], total[16], revision[16];
	const char *params[16];
	struct buf sql;
	enum service_status status;
	long long cur_seq;
	int cur_rev, n = 0, rc;
	json_object *row = NULL, *tmp = NULL;

	if (store_id(tenant_id, tenant) != 0 || store_id(id, svc) != 0)
		return STORE_NOT_FOUND;
	if (!r || r->status >= SERVICE__MAX || r->status < -1) {
		log_error("service=%s report: bad status", svc);
		return STORE_ERR;
	}
	store_time(0, now);
	rc = begin_locked(db, tenant, svc, 1, &status, &cur_seq, &cur_rev);
	if (rc != STORE_OK)
		return rc;
	buf_init(&sql, 512);
	if (cur_seq != op_seq) {
		rc = STORE_CONFLICT;
		goto fail;
	}
	/* A poll that finds what the last one found writes nothing (updated_at stays) and
	 * tells nobody: *changed 0. */
	rc = service_read(db, tenant, svc, &row);
	if (rc != STORE_OK)
		goto fail;
	if (!report_changes(r, row)) {
		buf_clear(&sql);
		rc = store_tx_end(db, STORE_OK, row, out ? out : &tmp);
		json_object_put(tmp);
		if (rc == STORE_OK && changed)
			*changed = 0;
		return rc;
	}
	json_object_put(row);
	row = NULL;
	params[n++] = tenant;
	params[n++] = svc;
	params[n++] = now;
	rc = STORE_ERR;
	if (buf_puts(&sql, "UPDATE cloud_services SET updated_at = $3") != 0)
		goto fail;
	if (r->status >= 0) {
		enum service_status to = (enum service_status)r->status;
		if (set_param(&sql, "status", params, &n, 16, service_status_name(to)) != 0 ||
		    (to == SERVICE_DELETED &&
		     buf_puts(&sql, ", deleted_at = coalesce(deleted_at, $3)") != 0) ||
		    (to != SERVICE_ROLLING_BACK && buf_puts(&sql, ", rollback_to = NULL") != 0))
			goto fail;
	}
	if (r->error &&
	    set_param(&sql, "error", params, &n, 16, r->error[0] ? r->error : NULL) != 0)
		goto fail;
	snprintf(ready, sizeof(ready), "%d", r->pods_ready);
	snprintf(total, sizeof(total), "%d", r->pods_total);
	snprintf(revision, sizeof(revision), "%d", r->revision);
	if ((r->pods_ready >= 0 && set_param(&sql, "pods_ready", params, &n, 16, ready) != 0) ||
	    (r->pods_total >= 0 && set_param(&sql, "pods_total", params, &n, 16, total) != 0) ||
	    (r->revision >= 0 && set_param(&sql, "revision", params, &n, 16, revision) != 0) ||
	    (r->deployed && buf_puts(&sql, ", deployed_at = $3") != 0) ||
	    (r->chart_version &&
	     set_param(&sql, "chart_version", params, &n, 16, r->chart_version) != 0) ||
	    (r->set_values &&
	     (set_param(&sql, "plain_values", params, &n, 16, json_text_or(r->values, "{}")) != 0 ||
	      set_param(&sql, "secret_values", params, &n, 16, r->secret_values) != 0 ||
	      set_param(&sql, "secret_names", params, &n, 16,
	                json_text_or(r->secret_names, "[]")) != 0)) ||
	    buf_puts(&sql, " WHERE tenant_id = $1 AND id = $2") != 0)
		goto fail;
	rc = db_exec(db, sql.data, n, params, NULL);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto fail;
	}
	rc = service_read(db, tenant, svc, &row);
	if (rc != STORE_OK)
		goto fail;
	/* The event goes out with the change, in its transaction (store_webhook.h). */
	if (r->status >= 0 && (enum service_status)r->status != status &&
	    status_event((enum service_status)r->status)) {
		rc = store_webhook_emit(db, tenant, status_event((enum service_status)r->status), row);
		if (rc != STORE_OK)
			goto fail;
	}
	buf_clear(&sql);
	rc = store_tx_end(db, STORE_OK, row, out ? out : &tmp);
	json_object_put(tmp);
	if (rc == STORE_OK && changed)
		*changed = 1;
	return rc;
fail:
	json_object_put(row);
	buf_clear(&sql);
	db_rollback(db);
	return rc;
}

int store_service_revision_put(struct db *db, const char *tenant_id, const char *service_id,
                               const struct store_service_revision *rev)
{
	char tenant[UUID_STR_LEN], svc[UUID_STR_LEN], now[TIMESTAMP_LEN], num[16];
	int rc;

	if (store_id(tenant_id, tenant) != 0 || store_id(service_id, svc) != 0)
		return STORE_NOT_FOUND;
	if (!rev || rev->revision < 1 || !rev->status || !rev->status[0]) {
		log_error("service=%s revision put: a revision >= 1 and a status are needed", svc);
		return STORE_ERR;
	}
	snprintf(num, sizeof(num), "%d", rev->revision);
	store_time(0, now);
	{
		const char *p[2] = { tenant, svc };
		rc = store_one_value(db,
		                     "SELECT id FROM cloud_services WHERE tenant_id = $1 AND id = $2",
		                     2, p, NULL, 0, NULL);
		if (rc <= 0)
			return rc == 0 ? STORE_NOT_FOUND : rc;
	}
	{
		const char *params[12] = { tenant,
			                   svc,
			                   num,
			                   rev->status,
			                   rev->chart_version ? rev->chart_version : "",
			                   rev->app_version ? rev->app_version : "",
			                   rev->description ? rev->description : "",
			                   rev->updated,
			                   json_text_or(rev->values, "{}"),
			                   rev->values ? rev->secret_values : NULL,
			                   json_text_or(rev->values ? rev->secret_names : NULL, "[]"),
			                   now };
		/* Values only when given: helm history's later read of an old revision
		 * updates its status and keeps what it ran with. */
		rc = db_exec(db,
		             rev->values
		                     ? "INSERT INTO service_revisions (tenant_id, service_id, revision, "
		                       "status, chart_version, app_version, description, updated, "
		                       "plain_values, secret_values, secret_names, created_at) VALUES "
		                       "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT "
		                       "(service_id, revision) DO UPDATE SET status = excluded.status, "
		                       "chart_version = excluded.chart_version, app_version = "
		                       "excluded.app_version, description = excluded.description, "
		                       "updated = excluded.updated, plain_values = excluded.plain_values, "
		                       "secret_values = excluded.secret_values, secret_names = "
		                       "excluded.secret_names"
		                     : "INSERT INTO service_revisions (tenant_id, service_id, revision, "
		                       "status, chart_version, app_version, description, updated, "
		                       "plain_values, secret_values, secret_names, created_at) VALUES "
		                       "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT "
		                       "(service_id, revision) DO UPDATE SET status = excluded.status, "
		                       "chart_version = excluded.chart_version, app_version = "
		                       "excluded.app_version, description = excluded.description, "
		                       "updated = excluded.updated",
		             12, params, NULL);
	}
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

int store_service_live_count(struct db *db, const char *tenant_id, long *n)
{
	char tenant[UUID_STR_LEN], v[32];
	const char *params[1] = { tenant };
	int rc;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	rc = store_one_value(db,
	                     "SELECT count(*) FROM cloud_services WHERE tenant_id = $1 AND "
	                     "deleted_at IS NULL",
	                     1, params, v, sizeof(v), NULL);
	if (rc < 0)
		return rc;
	*n = rc == 1 ? strtol(v, NULL, 10) : 0;
	return STORE_OK;
}

int store_service_limits(struct db *db, const char *tenant_id, struct store_service_limits *out)
{
	/* By plan: trial, basic, pro, enterprise (store_service.h). */
	static const struct {
		const char *plan;
		struct store_service_limits l;
	} plans[] = {
		{ "trial", { 2000, 4096, 20, 20 } },
		{ "basic", { 4000, 8192, 50, 50 } },
		{ "pro", { 8000, 16384, 200, 100 } },
		{ "enterprise", { 16000, 32768, 500, 200 } },
	};
	static const char *const keys[] = { "services_cpu", "services_memory", "services_storage",
		                            "services_pods" };
	char tenant[UUID_STR_LEN];
	const char *params[1] = { tenant };
	struct db_res *res = NULL;
	struct store_service_limits l = plans[0].l;
	json_object *quotas = NULL, *v;
	int rc;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	rc = db_exec(db, "SELECT plan, quotas FROM tenants WHERE id = $1", 1, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	if (db_res_rows(res) == 0) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	for (size_t i = 0; i < ARRAY_LEN(plans); i++)
		if (db_res_get(res, 0, 0) && strcmp(db_res_get(res, 0, 0), plans[i].plan) == 0)
			l = plans[i].l;
	quotas = db_res_get(res, 0, 1) ? json_tokener_parse(db_res_get(res, 0, 1)) : NULL;
	for (size_t i = 0; quotas && i < ARRAY_LEN(keys); i++) {
		long *slot[] = { &l.cpu_millis, &l.memory_mib, &l.storage_gib, &l.pods };
		if (json_object_object_get_ex(quotas, keys[i], &v) &&
		    json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
			*slot[i] = (long)json_object_get_int64(v);
	}
	*out = l;
	rc = STORE_OK;
out:
	json_object_put(quotas);
	db_res_free(res);
	return rc;
}
