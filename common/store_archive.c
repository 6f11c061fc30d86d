/* store_archive.c: the archive of one tenant's rows (store_archive.h).
 *
 * Rows travel generically: SELECT * and the result's column names out, the table's own
 * column names (checked against what the archive says) in. Every value is the
 * database's text (or null), so a column added by a later migration is carried without
 * a change here, and JSON, integers, time stamps and NULLs come back as they were
 * stored: nothing is parsed and re-printed on the way.
 *
 * What a row may name is data: archive_tables below lists every table that holds a
 * tenant's rows, whether an archive carries it, the credential it never carries, and
 * each column that names a row of another table. Export writes null where such a
 * column names a row outside the tenant's export; import builds the set of ids of each
 * table of the archive first and refuses the archive when a row names anything outside
 * it, or when a row's id exists here (an INSERT ... ON CONFLICT (id) DO NOTHING that
 * inserts nothing), so a doctored archive cannot hand out another tenant's user or a
 * platform admin. A table or foreign key added later is one row or one ref below;
 * check_store_tenant compares this table with the schema's foreign keys.
 *
 * A column that names a row of a platform table (a service's template) travels by that
 * row's name, not its id (ids differ between deployments): export adds the name as a
 * member of its own (a service's "template", the slug) and writes null in the column;
 * import looks the name up here, refuses the archive when there is no such row, and
 * writes this deployment's id.
 *
 * Cloud services travel without what belongs to the deployment they ran in (decisions.md
 * "Issue 13: services in the archive"): never the sealed secret values (the key is this
 * installation's), never their revisions or jobs (their Helm releases stay where they
 * ran). Import makes a live one anew: pending with an install job, or failed saying to
 * set its secret values again when it had any; a deleted one stays history. */
#include "store_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "seam.h"
#include "store_auth.h"
#include "store_row.h"
#include "store_service.h"
#include "store_tenant.h"

#define ARCHIVE_FORMAT "kaiden-tenant-export"
#define ARCHIVE_VERSION 1
#define SQL_MAX (64 * 1024)
#define REFS_MAX 4

/* What an archive does with a table's rows. */
enum carry {
	CARRY_ROWS,  /* exported and imported */
	CARRY_DROP,  /* credentials: not exported; an older archive's rows are checked like
	                any other, then not written */
	CARRY_NEVER, /* state of this deployment (jobs, logins): never in an archive */
};

/* A column that names a row of target ("": a row of any table of the archive, or the
 * tenant: an audit entry's target). With by, target is a platform table (no tenant's
 * rows, not in the archive): the row travels as the member named member, holding the
 * target's column by (a unique name) instead of its id. */
struct archive_ref {
	const char *column;
	const char *target;
	const char *by;
	const char *member;
};

struct archive_table {
	const char *name;
	enum carry carry;
	const char *secret; /* a column an archive never holds (export and import write null) */
	struct archive_ref refs[REFS_MAX]; /* ends at a NULL column */
	/* Why import refuses row, or NULL (a rule of the table beyond its references). */
	const char *(*refuse)(json_object *row);
	/* Import: makes the archive's row (checked) into what this deployment writes, in
	 * place. 0, or -1 out of memory. */
	int (*imported)(json_object *row);
	/* An SQL condition on the rows only staff may read, or NULL: an export a tenant's
	 * user asks for leaves them out. */
	const char *staff_only;
	int outlives; /* its rows outlive their tenant: deleting the tenant keeps them */
};

static const char *session_live(json_object *row);
static int service_imported(json_object *row);

/* Every table that holds a tenant's rows (tenant_id names the tenant in each), in the
 * order an import inserts them: a table after the ones its rows name (a tenant delete
 * goes the other way). */
static const struct archive_table archive_tables[] = {
	{ .name = "users", .carry = CARRY_ROWS, .secret = "password_hash" },
	/* A cluster's secret hash travels as a device's does: its agents act only as its
	 * nodes in its tenant. */
	{ .name = "clusters", .carry = CARRY_ROWS },
	{ .name = "devices", .carry = CARRY_ROWS, .refs = { { "cluster_id", "clusters" } } },
	{ .name = "sessions",
	  .carry = CARRY_ROWS,
	  .refs = { { "device_id", "devices" }, { "engineer_id", "users" },
	            { "ticket_id", "tickets" } },
	  .refuse = session_live },
	{ .name = "tickets",
	  .carry = CARRY_ROWS,
	  .refs = { { "device_id", "devices" }, { "cluster_id", "clusters" },
	            { "assigned_to", "users" }, { "created_by", "users" } } },
	{ .name = "ticket_comments",
	  .carry = CARRY_ROWS,
	  .refs = { { "ticket_id", "tickets" }, { "author_id", "users" } },
	  .staff_only = "internal" },
	/* The numbers given so far: carried, so an imported tenant never gets one again. */
	{ .name = "ticket_counters", .carry = CARRY_ROWS },
	/* Webhooks are this deployment's wiring (a URL, a sealed secret, a delivery log),
	 * not the tenant's records: never in an archive, deleted with the tenant. */
	{ .name = "webhooks", .carry = CARRY_NEVER },
	{ .name = "webhook_events", .carry = CARRY_NEVER },
	{ .name = "webhook_deliveries",
	  .carry = CARRY_NEVER,
	  .refs = { { "webhook_id", "webhooks" }, { "event_id", "webhook_events" } } },
	/* Cloud services: their settings travel, their template by slug, never the sealed
	 * secrets (secret_names says which were set); import makes each live one anew
	 * (service_imported). Revisions are the Helm releases' history where they ran: not
	 * carried, deleted with the tenant (before the services). */
	{ .name = "cloud_services",
	  .carry = CARRY_ROWS,
	  .secret = "secret_values",
	  .refs = { { "template_id", "app_templates", "slug", "template" } },
	  .imported = service_imported },
	{ .name = "service_revisions",
	  .carry = CARRY_NEVER,
	  .refs = { { "service_id", "cloud_services" } } },
	{ .name = "api_tokens", .carry = CARRY_DROP, .refs = { { "user_id", "users" } } },
	/* Audit entries outlive their tenant, the tenant.delete entry included (0004: no
	 * foreign keys; on PostgreSQL the application may not delete them). */
	{ .name = "audit_log",
	  .carry = CARRY_ROWS,
	  .refs = { { "actor_id", "users" }, { "credential_id", "api_tokens" }, { "target_id", "" } },
	  .outlives = 1 },
	{ .name = "jobs",
	  .carry = CARRY_NEVER,
	  .refs = { { "session_id", "sessions" }, { "service_id", "cloud_services" } } },
	{ .name = "logins", .carry = CARRY_NEVER, .refs = { { "user_id", "users" } } },
};
#define NTABLES ARRAY_LEN(archive_tables)

static const struct archive_table *table_named(const char *name)
{
	for (size_t i = 0; i < NTABLES; i++)
		if (strcmp(archive_tables[i].name, name) == 0)
			return &archive_tables[i];
	return NULL;
}

int store_archive_reference(const char *table, const char *column, const char **target)
{
	const struct archive_table *t = table_named(table);

	if (strcmp(table, "tenants") == 0)
		return 0;
	if (!t)
		return -1;
	if (strcmp(column, "tenant_id") == 0) {
		*target = "tenants";
		return 1;
	}
	for (int r = 0; r < REFS_MAX && t->refs[r].column; r++)
		if (strcmp(t->refs[r].column, column) == 0) {
			*target = t->refs[r].target;
			return 1;
		}
	return 0;
}

const char *store_archive_delete_order(size_t i)
{
	for (size_t t = NTABLES; t-- > 0;)
		if (!archive_tables[t].outlives && i-- == 0)
			return archive_tables[t].name;
	return NULL;
}

static const char *member_str(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A live session holds a tunnel and Cloudflare objects of the deployment it runs in
 * (their ids are in the row): here helperd would end it and delete what those ids name. */
static const char *session_live(json_object *row)
{
	const char *status = member_str(row, "status");

	if (seam_status_is(status, SEAM_STATUS_ENDED) || seam_status_is(status, SEAM_STATUS_FAILED))
		return NULL;
	return "status: only ended or failed sessions move (end it before the export)";
}

#define IMPORTED_SECRETS "imported: set the secret values again, then deploy"

/* A live service comes in as if just created: pending (helperd installs it), or failed
 * saying why when it had secret values (they are not in the archive, and an install
 * without them would run the chart with empty passwords). No release, revision, pods or
 * queued rollback of the deployment it ran in; a custom domain is looked up again. A
 * deleted one stays as it was (history). Either way no secret is set here. */
static int service_imported(json_object *row)
{
	const char *status = member_str(row, "status");
	const char *names = member_str(row, "secret_names");
	int had_secrets = names && names[0] == '[' && names[strspn(names, "[ \t\n")] != ']';
	struct {
		const char *column, *value;
	} set[] = {
		{ "secret_names", "[]" },
		{ "status", had_secrets ? "failed" : "pending" },
		{ "error", had_secrets ? IMPORTED_SECRETS : NULL },
		{ "revision", "0" },
		{ "rollback_to", NULL },
		{ "pods_ready", "0" },
		{ "pods_total", "0" },
		{ "op_seq", "1" },
		{ "deployed_at", NULL },
		{ "domain_status", "unverified" },
		{ "domain_checked_at", NULL },
	};
	size_t n = status && strcmp(status, "deleted") == 0 ? 1 : ARRAY_LEN(set);

	for (size_t i = 0; i < n; i++) {
		json_object *v = set[i].value ? json_object_new_string(set[i].value) : NULL;
		if ((set[i].value && !v) || json_object_object_add(row, set[i].column, v) != 0) {
			json_object_put(v);
			return -1;
		}
	}
	return 0;
}

/* ---- the ids of an archive ---------------------------------------------------------------- */

/* The ids of each table's rows in an archive (ids[i] for archive_tables[i], a JSON object
 * used as a set; NULL when the archive has no such table) and the tenant's. */
struct id_sets {
	json_object *ids[NTABLES];
	const char *tenant;
};

static void id_sets_clear(struct id_sets *s)
{
	for (size_t i = 0; i < NTABLES; i++)
		json_object_put(s->ids[i]);
	memset(s, 0, sizeof(*s));
}

/* Fills s from tables (rows already checked to be objects). 0; -1 out of memory; or 1
 * when an id is there twice, with *dup_table and *dup_row (borrowed) naming the second. */
static int id_sets_fill(struct id_sets *s, json_object *tables, const char *tenant,
                        size_t *dup_table, json_object **dup_row)
{
	memset(s, 0, sizeof(*s));
	s->tenant = tenant;
	for (size_t i = 0; i < NTABLES; i++) {
		json_object *rows;
		size_t n;
		if (!json_object_object_get_ex(tables, archive_tables[i].name, &rows))
			continue;
		s->ids[i] = json_object_new_object();
		if (!s->ids[i])
			return -1;
		n = json_object_array_length(rows);
		for (size_t r = 0; r < n; r++) {
			json_object *row = json_object_array_get_idx(rows, r);
			const char *id = member_str(row, "id");
			if (!id)
				continue;
			if (json_object_object_get_ex(s->ids[i], id, NULL)) {
				*dup_table = i;
				*dup_row = row;
				return 1;
			}
			if (json_object_object_add(s->ids[i], id, NULL) != 0)
				return -1;
		}
	}
	return 0;
}

/* 1 when id is a row of target in the archive ("": of any table, or the tenant). */
static int id_sets_has(const struct id_sets *s, const char *target, const char *id)
{
	if (!target[0] && strcmp(id, s->tenant) == 0)
		return 1;
	for (size_t i = 0; i < NTABLES; i++)
		if (s->ids[i] && (!target[0] || strcmp(archive_tables[i].name, target) == 0) &&
		    json_object_object_get_ex(s->ids[i], id, NULL))
			return 1;
	return 0;
}

/* The first column of row (of table t) that names a row outside the archive: its ref,
 * or NULL when there is none. */
static const struct archive_ref *ref_outside(const struct id_sets *s,
                                             const struct archive_table *t, json_object *row)
{
	for (int r = 0; r < REFS_MAX && t->refs[r].column; r++) {
		const char *v = member_str(row, t->refs[r].column);
		if (t->refs[r].by)
			continue; /* a platform row, by name: platform_names, platform_ids */
		if (v && !id_sets_has(s, t->refs[r].target, v))
			return &t->refs[r];
	}
	return NULL;
}

/* Export: each platform reference of tables' rows as its name (ref->member), the column
 * null. */
static int platform_names(struct db *db, json_object *tables)
{
	for (size_t i = 0; i < NTABLES; i++) {
		const struct archive_table *t = &archive_tables[i];
		json_object *rows;
		if (!json_object_object_get_ex(tables, t->name, &rows))
			continue;
		for (int r = 0; r < REFS_MAX && t->refs[r].column; r++) {
			const struct archive_ref *ref = &t->refs[r];
			char sql[160], name[256];
			if (!ref->by)
				continue;
			snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE id = $1", ref->by,
			         ref->target);
			for (size_t k = 0; k < json_object_array_length(rows); k++) {
				json_object *row = json_object_array_get_idx(rows, k), *v = NULL;
				const char *p[1] = { member_str(row, ref->column) };
				int rc = p[0] ? store_one_value(db, sql, 1, p, name, sizeof(name), NULL)
				              : 0;
				if (rc < 0)
					return rc;
				if (rc > 0 && !(v = json_object_new_string(name)))
					return STORE_ERR;
				if (json_object_object_add(row, ref->member, v) != 0 ||
				    json_object_object_add(row, ref->column, NULL) != 0)
					return STORE_ERR;
			}
		}
	}
	return STORE_OK;
}

/* ---- export ------------------------------------------------------------------------------ */

/* The rows of sql ($1: id), as objects of column -> text or null, into a new array
 * *out. */
static int query_rows(struct db *db, const char *sql, const char *id, json_object **out)
{
	const char *params[1] = { id };
	struct db_res *res = NULL;
	json_object *rows = NULL;
	int rc = db_exec(db, sql, 1, params, &res);

	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	rc = STORE_ERR;
	rows = json_object_new_array_ext(db_res_rows(res) + 1);
	if (!rows)
		goto out;
	for (int r = 0; r < db_res_rows(res); r++) {
		json_object *row = json_object_new_object();
		if (!row || json_object_array_add(rows, row) != 0) {
			json_object_put(row);
			goto out;
		}
		for (int c = 0; c < db_res_cols(res); c++) {
			const char *v = db_res_get(res, r, c);
			json_object *j = v ? json_object_new_string(v) : NULL;
			if ((v && !j) || json_object_object_add(row, db_res_name(res, c), j) != 0) {
				json_object_put(j);
				goto out;
			}
		}
	}
	*out = rows;
	rows = NULL;
	rc = STORE_OK;
out:
	json_object_put(rows);
	db_res_free(res);
	return rc;
}

/* Every row of table t that belongs to tenant (staff_rows 0: but t's staff-only ones). */
static int table_rows(struct db *db, const struct archive_table *t, const char *tenant,
                      int staff_rows, json_object **out)
{
	char sql[256];
	int only = !staff_rows && t->staff_only;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE tenant_id = $1%s%s%s ORDER BY id",
	         t->name, only ? " AND NOT (" : "", only ? t->staff_only : "", only ? ")" : "");
	return query_rows(db, sql, tenant, out);
}

/* What an export may not say: credentials become null, and so does each reference to a
 * row outside the tenant's export (a staff member, a login, a deleted user). The names
 * kept beside them (engineer_name, actor_email, actor_role) still say who it was. */
static int scrub(json_object *tables, const char *tenant)
{
	struct id_sets s;
	size_t dup_table;
	json_object *dup_row;
	int rc = id_sets_fill(&s, tables, tenant, &dup_table, &dup_row) < 0 ? STORE_ERR : STORE_OK;

	for (size_t i = 0; i < NTABLES && rc == STORE_OK; i++) {
		const struct archive_table *t = &archive_tables[i];
		json_object *rows;
		size_t n;
		if (!json_object_object_get_ex(tables, t->name, &rows))
			continue;
		n = json_object_array_length(rows);
		for (size_t r = 0; r < n; r++) {
			json_object *row = json_object_array_get_idx(rows, r);
			const struct archive_ref *ref;
			if (t->secret && json_object_object_get_ex(row, t->secret, NULL))
				json_object_object_add(row, t->secret, NULL);
			while ((ref = ref_outside(&s, t, row)))
				json_object_object_add(row, ref->column, NULL);
		}
	}
	id_sets_clear(&s);
	return rc;
}

static int tables_of(struct db *db, const char *tenant_id, int staff_rows, json_object **out)
{
	char tenant[UUID_STR_LEN];
	json_object *tables;
	int rc = STORE_OK;

	if (store_id(tenant_id, tenant) != 0)
		return STORE_NOT_FOUND;
	tables = json_object_new_object();
	if (!tables)
		return STORE_ERR;
	for (size_t i = 0; i < NTABLES && rc == STORE_OK; i++) {
		json_object *rows = NULL;
		if (archive_tables[i].carry != CARRY_ROWS)
			continue;
		rc = store_table_exists(db, archive_tables[i].name);
		if (rc < 0)
			break;
		if (rc == 0) {
			rc = STORE_OK;
			continue;
		}
		rc = table_rows(db, &archive_tables[i], tenant, staff_rows, &rows);
		if (rc == STORE_OK)
			json_object_object_add(tables, archive_tables[i].name, rows);
	}
	if (rc == STORE_OK)
		rc = scrub(tables, tenant);
	if (rc == STORE_OK)
		rc = platform_names(db, tables);
	if (rc != STORE_OK) {
		json_object_put(tables);
		return rc;
	}
	*out = tables;
	return STORE_OK;
}

int store_archive_tables(struct db *db, const char *tenant_id, json_object **out)
{
	return tables_of(db, tenant_id, 1, out);
}

/* The schema version of this database: the last migration applied. */
static int schema_version(struct db *db, long *version)
{
	char v[32];
	int is_null = 1;
	int rc = store_one_value(db, "SELECT max(version) AS version FROM schema_migrations", 0,
	                         NULL, v, sizeof(v), &is_null);

	if (rc < 0)
		return rc;
	*version = rc == 1 && !is_null ? strtol(v, NULL, 10) : 0;
	return STORE_OK;
}

int store_archive_export(struct db *db, const char *id, int staff_rows, json_object **out)
{
	char tenant[UUID_STR_LEN], now[TIMESTAMP_LEN];
	json_object *archive = NULL, *rows = NULL, *tables = NULL;
	long schema = 0;
	int rc;

	if (store_id(id, tenant) != 0)
		return STORE_NOT_FOUND;
	rc = query_rows(db, "SELECT * FROM tenants WHERE id = $1", tenant, &rows);
	if (rc == STORE_OK && json_object_array_length(rows) == 0)
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK)
		rc = schema_version(db, &schema);
	if (rc == STORE_OK)
		rc = tables_of(db, tenant, staff_rows, &tables);
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	archive = json_object_new_object();
	if (!archive)
		goto out;
	store_time(0, now);
	json_object_object_add(archive, "format", json_object_new_string(ARCHIVE_FORMAT));
	json_object_object_add(archive, "version", json_object_new_int(ARCHIVE_VERSION));
	json_object_object_add(archive, "exported_at", json_object_new_string(now));
	json_object_object_add(archive, "schema", json_object_new_int64(schema));
	json_object_object_add(archive, "tenant",
	                       json_object_get(json_object_array_get_idx(rows, 0)));
	json_object_object_add(archive, "tables", tables);
	tables = NULL;
	*out = archive;
	rc = STORE_OK;
out:
	json_object_put(rows);
	json_object_put(tables);
	return rc;
}

/* ---- import ------------------------------------------------------------------------------ */

/* What an import knows about one table of this database. */
struct table_cols {
	struct db_res *res; /* SELECT * ... WHERE 1 = 0: the names only */
};

static int columns_of(struct db *db, const char *table, struct table_cols *out)
{
	char sql[128];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE 1 = 0", table);
	rc = db_exec(db, sql, 0, NULL, &out->res);
	return rc == DB_OK ? STORE_OK : store_rc_of(rc);
}

/* The database's spelling of column name, or NULL when the table has none such. */
static const char *column_named(const struct table_cols *t, const char *name)
{
	int c = db_res_col(t->res, name);

	return c < 0 ? NULL : db_res_name(t->res, c);
}

static int is_canonical_id(const char *s)
{
	char id[UUID_STR_LEN];

	return s && store_id(s, id) == 0 && strcmp(id, s) == 0;
}

/* Checks one row (where: "tables.devices[3]" or "tenant") against the table's columns:
 * an object of known columns, each a string or null, with a canonical id and the
 * archive's tenant. 0, or -1 with why. */
static int row_check(json_object *row, const struct table_cols *t, const char *where,
                     const char *id_col, const char *tenant, char *why, size_t whylen)
{
	const char *v;

	if (!json_object_is_type(row, json_type_object)) {
		snprintf(why, whylen, "%s: must be an object", where);
		return -1;
	}
	json_object_object_foreach(row, key, value)
	{
		if (!column_named(t, key)) {
			snprintf(why, whylen, "%s: unknown column %.64s", where, key);
			return -1;
		}
		if (value && !json_object_is_type(value, json_type_string)) {
			snprintf(why, whylen, "%s.%.64s: must be a string or null (values are the "
			         "database's text)", where, key);
			return -1;
		}
	}
	v = member_str(row, "id");
	if (!is_canonical_id(v)) {
		snprintf(why, whylen, "%s.id: missing or not a lower-case UUID", where);
		return -1;
	}
	v = member_str(row, id_col);
	if (!v || strcmp(v, tenant) != 0) {
		snprintf(why, whylen, "%s.%s: must be the archive's tenant %s", where, id_col, tenant);
		return -1;
	}
	return 0;
}

/* Refuses row (of table t) in why: its table, id and column, and a sentence. */
static void refuse_row(struct store_archive_why *why, const struct archive_table *t,
                       json_object *row, const char *column, const char *what)
{
	const char *id = member_str(row, "id");

	snprintf(why->table, sizeof(why->table), "%s", t->name);
	snprintf(why->row_id, sizeof(why->row_id), "%s", id ? id : "");
	snprintf(why->column, sizeof(why->column), "%s", column);
	snprintf(why->text, sizeof(why->text), "tables.%s row %s: %s: %s", t->name,
	         id ? id : "?", column, what);
}

/* Import, before the row is checked: each platform reference of row (of table t) from
 * its name (ref->member, which goes) to this deployment's id in ref->column. STORE_OK;
 * STORE_ERR with why when the name is missing or names nothing here. */
static int platform_ids(struct db *db, const struct archive_table *t, json_object *row,
                        struct store_archive_why *why)
{
	if (!json_object_is_type(row, json_type_object))
		return STORE_OK; /* row_check says so */
	for (int r = 0; r < REFS_MAX && t->refs[r].column; r++) {
		const struct archive_ref *ref = &t->refs[r];
		char sql[160], id[UUID_STR_LEN], what[200];
		const char *p[1];
		json_object *v = NULL;
		int rc;
		if (!ref->by)
			continue;
		p[0] = member_str(row, ref->member);
		if (!p[0]) {
			snprintf(what, sizeof(what), "missing: the %s's %s (this deployment's ids "
			         "differ)", ref->target, ref->by);
			refuse_row(why, t, row, ref->member, what);
			return STORE_ERR;
		}
		snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE %s = $1", ref->target, ref->by);
		rc = store_one_value(db, sql, 1, p, id, sizeof(id), NULL);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			snprintf(what, sizeof(what), "%.64s is no %s here (add it to the catalog first)",
			         p[0], strcmp(ref->target, "app_templates") == 0 ? "template" : ref->by);
			refuse_row(why, t, row, ref->member, what);
			return STORE_ERR;
		}
		if (!(v = json_object_new_string(id)) ||
		    json_object_object_add(row, ref->column, v) != 0) {
			json_object_put(v);
			return STORE_ERR;
		}
		json_object_object_del(row, ref->member);
	}
	return STORE_OK;
}

/* Inside the import's transaction: a live service's subdomain and custom domain must be
 * no live service's here (they are unique across the platform). */
static int service_admissible(struct db *db, const struct archive_table *t, json_object *row,
                              struct store_archive_why *why)
{
	const char *sub = member_str(row, "subdomain"), *domain = member_str(row, "custom_domain");
	char what[320];
	int rc;

	if (member_str(row, "deleted_at"))
		return STORE_OK;
	rc = sub ? store_service_host_taken(db, sub, NULL) : 0;
	if (rc > 0) {
		snprintf(what, sizeof(what),
		         "%.63s is a live service's here (subdomains are unique across the "
		         "platform): delete that service, or change the archive's subdomain",
		         sub);
		refuse_row(why, t, row, "subdomain", what);
		return STORE_ERR;
	}
	if (rc == 0 && domain)
		rc = store_service_host_taken(db, NULL, domain);
	if (rc > 0) {
		snprintf(what, sizeof(what),
		         "%.120s is a live service's custom domain here: remove it there, or set "
		         "the archive's to null",
		         domain);
		refuse_row(why, t, row, "custom_domain", what);
		return STORE_ERR;
	}
	return rc < 0 ? rc : STORE_OK;
}

/* Inside the import's transaction: STORE_OK when row may be written beside what this
 * deployment holds, else STORE_ERR with why filled (or the failure). A user's email
 * must not be a staff member's here (staff emails are reserved, store_auth.h): staff
 * would still log in first, but the imported user never could. */
static int row_admissible(struct db *db, const struct archive_table *t, json_object *row,
                          struct store_archive_why *why)
{
	const char *email;
	int rc;

	if (strcmp(t->name, "cloud_services") == 0)
		return service_admissible(db, t, row, why);
	if (strcmp(t->name, "users") != 0 || !(email = member_str(row, "email")))
		return STORE_OK;
	rc = store_user_email_unreserved(db, email, 0);
	if (rc == STORE_CONFLICT) {
		refuse_row(why, t, row, "email",
		           "this email belongs to a staff member here (staff emails are reserved)");
		return STORE_ERR;
	}
	return rc;
}

/* Inserts row (checked) into table t unless its id exists here: the column names are
 * the database's own, t's secret goes in as null. STORE_OK; STORE_NOT_FOUND when a row
 * with this id exists here (nothing inserted); STORE_CONFLICT for another unique key;
 * STORE_ERR when the database refuses the row (a check, a type). */
static int row_insert(struct db *db, const char *table, const char *secret, json_object *row,
                      const struct table_cols *t, struct buf *sql, const char **params)
{
	struct db_res *res = NULL;
	int n = 0, rc;

	buf_reset(sql);
	if (buf_printf(sql, "INSERT INTO %s (", table) != 0)
		return STORE_ERR;
	json_object_object_foreach(row, key, value)
	{
		const char *column = column_named(t, key);
		if (buf_printf(sql, "%s\"%s\"", n ? ", " : "", column) != 0)
			return STORE_ERR;
		params[n++] = value && !(secret && strcmp(column, secret) == 0)
		                      ? json_object_get_string(value)
		                      : NULL;
	}
	if (buf_puts(sql, ") VALUES (") != 0)
		return STORE_ERR;
	for (int i = 1; i <= n; i++)
		if (buf_printf(sql, "%s$%d", i > 1 ? ", " : "", i) != 0)
			return STORE_ERR;
	if (buf_puts(sql, ") ON CONFLICT (id) DO NOTHING RETURNING id") != 0)
		return STORE_ERR;
	rc = db_exec(db, sql->data, n, params, &res);
	if (rc == DB_OK) {
		rc = db_res_rows(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
		db_res_free(res);
		return rc;
	}
	/* Another unique key (a session's short id) that exists here; any other refusal
	 * (a check, a value of the wrong type) is the archive's fault. */
	if (rc == DB_CONSTRAINT && (strcasestr(db_errmsg(db), "unique") ||
	                            strcasestr(db_errmsg(db), "duplicate")))
		return STORE_CONFLICT;
	return rc == DB_BUSY ? STORE_BUSY : STORE_ERR;
}

/* An id that exists here: an audit entry of this same tenant is the same event (kept
 * when the tenant was deleted here) and is skipped: 0. Anything else: 1. */
static int id_taken(struct db *db, const char *table, json_object *row, const char *tenant)
{
	char owner[UUID_STR_LEN];
	const char *p[1] = { member_str(row, "id") };
	int is_null = 1;

	if (strcmp(table, "audit_log") != 0)
		return 1;
	if (store_one_value(db, "SELECT tenant_id FROM audit_log WHERE id = $1", 1, p, owner,
	                    sizeof(owner), &is_null) != 1)
		return 1;
	return is_null || strcmp(owner, tenant) != 0;
}

/* The archive's envelope: format, version, schema, tenant and tables. 0, or -1 with why. */
static int envelope_check(struct db *db, json_object *archive, json_object **tenant_row,
                          json_object **tables, char *why, size_t whylen)
{
	json_object *v;
	const char *format;
	long schema = 0;

	if (!archive || !json_object_is_type(archive, json_type_object)) {
		snprintf(why, whylen, "the archive must be a JSON object");
		return -1;
	}
	format = member_str(archive, "format");
	if (!format || strcmp(format, ARCHIVE_FORMAT) != 0) {
		snprintf(why, whylen, "format: must be \"" ARCHIVE_FORMAT "\"");
		return -1;
	}
	if (!json_object_object_get_ex(archive, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != ARCHIVE_VERSION) {
		snprintf(why, whylen, "version: this deployment reads version %d archives",
		         ARCHIVE_VERSION);
		return -1;
	}
	if (!json_object_object_get_ex(archive, "schema", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(why, whylen, "schema: missing or not a whole number");
		return -1;
	}
	if (schema_version(db, &schema) == STORE_OK && json_object_get_int64(v) > schema) {
		snprintf(why, whylen,
		         "schema: the archive comes from a newer database (schema %lld, this one "
		         "has %ld): upgrade this deployment first",
		         (long long)json_object_get_int64(v), schema);
		return -1;
	}
	if (!json_object_object_get_ex(archive, "tenant", tenant_row) ||
	    !json_object_is_type(*tenant_row, json_type_object)) {
		snprintf(why, whylen, "tenant: missing or not an object");
		return -1;
	}
	if (!json_object_object_get_ex(archive, "tables", tables) ||
	    !json_object_is_type(*tables, json_type_object)) {
		snprintf(why, whylen, "tables: missing or not an object");
		return -1;
	}
	json_object_object_foreach(*tables, name, rows)
	{
		const struct archive_table *t = table_named(name);
		if (!t || t->carry == CARRY_NEVER) {
			snprintf(why, whylen, "tables: %.64s is not a table an archive holds", name);
			return -1;
		}
		if (!json_object_is_type(rows, json_type_array)) {
			snprintf(why, whylen, "tables.%s: must be an array of rows", name);
			return -1;
		}
	}
	return 0;
}

int store_archive_import(struct db *db, json_object *archive, json_object **out,
                         struct store_archive_why *why)
{
	struct table_cols tenant_t = { NULL }, cols[NTABLES];
	struct store_archive_why scratch;
	struct id_sets ids;
	json_object *tenant_row = NULL, *tables = NULL, *rows[NTABLES];
	const char *tenant, *code, **params = NULL;
	char where[96];
	struct buf sql;
	int in_tx = 0, rc = STORE_ERR;

	if (!why)
		why = &scratch;
	memset(why, 0, sizeof(*why));
	memset(&ids, 0, sizeof(ids));
	memset(cols, 0, sizeof(cols));
	memset(rows, 0, sizeof(rows));
	buf_init(&sql, SQL_MAX);
	if (envelope_check(db, archive, &tenant_row, &tables, why->text, sizeof(why->text)) != 0)
		goto out;
	tenant = member_str(tenant_row, "id");
	code = member_str(tenant_row, "code");
	if (!is_canonical_id(tenant)) {
		snprintf(why->text, sizeof(why->text), "tenant.id: missing or not a lower-case UUID");
		goto out;
	}
	if (!store_tenant_code_valid(code)) {
		snprintf(why->text, sizeof(why->text), "tenant.code: missing or not a tenant code");
		goto out;
	}
	rc = columns_of(db, "tenants", &tenant_t);
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	if (row_check(tenant_row, &tenant_t, "tenant", "id", tenant, why->text,
	              sizeof(why->text)) != 0)
		goto out;
	/* Every row is checked before anything is written: its shape first, */
	for (size_t i = 0; i < NTABLES; i++) {
		const char *name = archive_tables[i].name;
		size_t n;
		int exists;
		if (!json_object_object_get_ex(tables, name, &rows[i]))
			continue;
		n = json_object_array_length(rows[i]);
		exists = store_table_exists(db, name);
		if (exists < 0) {
			rc = exists;
			goto out;
		}
		if (!exists) {
			if (n > 0) {
				snprintf(why->text, sizeof(why->text),
				         "tables.%s: this deployment has no such table", name);
				goto out;
			}
			rows[i] = NULL;
			continue;
		}
		rc = columns_of(db, name, &cols[i]);
		if (rc != STORE_OK)
			goto out;
		rc = STORE_ERR;
		for (size_t r = 0; r < n; r++) {
			snprintf(where, sizeof(where), "tables.%s[%zu]", name, r);
			json_object *row = json_object_array_get_idx(rows[i], r);
			const char *refused;
			/* The archive's rows are changed in place (the caller's archive): a
			 * platform row's name becomes its id here, a service is made anew. */
			rc = platform_ids(db, &archive_tables[i], row, why);
			if (rc != STORE_OK)
				goto out;
			rc = STORE_ERR;
			if (row_check(row, &cols[i], where, "tenant_id", tenant, why->text,
			              sizeof(why->text)) != 0)
				goto out;
			refused = archive_tables[i].refuse ? archive_tables[i].refuse(row) : NULL;
			if (refused) {
				snprintf(why->text, sizeof(why->text), "%s.%s", where, refused);
				goto out;
			}
			if (archive_tables[i].imported && archive_tables[i].imported(row) != 0)
				goto out;
		}
	}
	/* then what each row names: only rows of this archive. */
	{
		size_t dup_table = 0;
		json_object *dup_row = NULL;
		int dup = id_sets_fill(&ids, tables, tenant, &dup_table, &dup_row);
		if (dup < 0)
			goto out;
		if (dup > 0) {
			refuse_row(why, &archive_tables[dup_table], dup_row, "id",
			           "this id is in the archive twice");
			goto out;
		}
	}
	for (size_t i = 0; i < NTABLES; i++) {
		size_t n = rows[i] ? json_object_array_length(rows[i]) : 0;
		for (size_t r = 0; r < n; r++) {
			json_object *row = json_object_array_get_idx(rows[i], r);
			const struct archive_ref *ref = ref_outside(&ids, &archive_tables[i], row);
			char what[256];
			if (!ref)
				continue;
			snprintf(what, sizeof(what),
			         "%.64s names no row of %s%s (an archive's rows may name only rows of "
			         "the same archive)",
			         member_str(row, ref->column), ref->target[0] ? ref->target : "this archive",
			         ref->target[0] ? " in this archive" : "");
			refuse_row(why, &archive_tables[i], row, ref->column, what);
			goto out;
		}
	}
	/* A row names each column at most once (row_check), so the widest table bounds
	 * the parameters of any INSERT. */
	{
		int widest = db_res_cols(tenant_t.res);
		for (size_t i = 0; i < NTABLES; i++)
			if (cols[i].res && db_res_cols(cols[i].res) > widest)
				widest = db_res_cols(cols[i].res);
		params = calloc((size_t)widest + 1, sizeof(*params));
		if (!params)
			goto out;
	}

	rc = db_begin(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	in_tx = 1;
	{
		const char *p[2] = { tenant, code };
		rc = store_one_value(db, "SELECT id FROM tenants WHERE id = $1 OR code = $2", 2, p,
		                     NULL, 0, NULL);
		if (rc != 0) {
			if (rc > 0) {
				rc = STORE_CONFLICT;
				snprintf(why->text, sizeof(why->text),
				         "tenant: a tenant with this id or code exists here");
			}
			goto out;
		}
	}
	rc = row_insert(db, "tenants", NULL, tenant_row, &tenant_t, &sql, params);
	if (rc != STORE_OK) {
		snprintf(why->text, sizeof(why->text), "tenant: %s: %s",
		         rc == STORE_CONFLICT ? "exists here" : "refused by the database",
		         db_errmsg(db));
		rc = rc == STORE_NOT_FOUND ? STORE_CONFLICT : rc;
		goto out;
	}
	for (size_t i = 0; i < NTABLES; i++) {
		const struct archive_table *t = &archive_tables[i];
		size_t n = rows[i] && t->carry == CARRY_ROWS ? json_object_array_length(rows[i]) : 0;
		for (size_t r = 0; r < n; r++) {
			json_object *row = json_object_array_get_idx(rows[i], r);
			rc = row_admissible(db, t, row, why);
			if (rc != STORE_OK)
				goto out;
			rc = row_insert(db, t->name, t->secret, row, &cols[i], &sql, params);
			if (rc == STORE_NOT_FOUND) {
				rc = STORE_OK;
				if (id_taken(db, t->name, row, tenant)) {
					rc = STORE_ERR;
					refuse_row(why, t, row, "id",
					           "a row with this id exists here (ids are kept, so an "
					           "archive's rows must be new to this deployment)");
					goto out;
				}
			}
			if (rc != STORE_OK) {
				snprintf(why->text, sizeof(why->text), "tables.%s[%zu]: %s: %s", t->name, r,
				         rc == STORE_CONFLICT ? "a row with this key exists here"
				                              : "refused by the database",
				         db_errmsg(db));
				goto out;
			}
			/* A service made anew as pending is installed by helperd, as a create. */
			if (strcmp(t->name, "cloud_services") == 0 && member_str(row, "status") &&
			    strcmp(member_str(row, "status"), "pending") == 0) {
				char now[TIMESTAMP_LEN];
				store_time(0, now);
				rc = store_job_add_service(db, tenant, SEAM_JOB_SERVICE_INSTALL,
				                           member_str(row, "id"), 1, now);
				if (rc != STORE_OK)
					goto out;
			}
		}
	}
	rc = db_commit(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	in_tx = 0;
	rc = store_tenant_get(db, tenant, out);
	if (rc != STORE_OK)
		goto out;
	log_info("tenant=%s imported (code %s)", tenant, code);
out:
	if (in_tx)
		db_rollback(db);
	if (rc != STORE_OK && why->text[0])
		log_info("tenant import refused: %s", why->text);
	for (size_t i = 0; i < NTABLES; i++)
		db_res_free(cols[i].res);
	db_res_free(tenant_t.res);
	id_sets_clear(&ids);
	free(params);
	buf_clear(&sql);
	return rc;
}
