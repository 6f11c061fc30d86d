/* store_catalog.c: app_templates (store_catalog.h). */
#include "store_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "store_row.h"

#define CARD_COLUMNS                                                                     \
	"id, slug, name, description, icon, category, tags, price_label, chart_repo, "     \
	"chart_name, chart_version, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, "     \
	"created_at, updated_at"
#define FULL_COLUMNS CARD_COLUMNS ", values_schema, inputs, default_values"

static const struct store_col full_cols[] = {
	{ "id", STORE_COL_TEXT },           { "slug", STORE_COL_TEXT },
	{ "name", STORE_COL_TEXT },         { "description", STORE_COL_TEXT },
	{ "icon", STORE_COL_TEXT },         { "category", STORE_COL_TEXT },
	{ "tags", STORE_COL_JSON },         { "price_label", STORE_COL_TEXT },
	{ "chart_repo", STORE_COL_TEXT },   { "chart_name", STORE_COL_TEXT },
	{ "chart_version", STORE_COL_TEXT }, { "enabled", STORE_COL_BOOL },
	{ "created_at", STORE_COL_TEXT },   { "updated_at", STORE_COL_TEXT },
	{ "values_schema", STORE_COL_JSON }, { "inputs", STORE_COL_JSON },
	{ "default_values", STORE_COL_JSON },
};
#define FULL_NCOLS ((int)ARRAY_LEN(full_cols))
#define CARD_NCOLS (FULL_NCOLS - 3)

/* The template's members as the statements' parameters $2..$15, in the order of the
 * INSERT below; the JSON ones as text (owned by tpl: json-c keeps the string). */
#define TPL_PARAMS 14
static void tpl_params(json_object *tpl, const char **p)
{
	static const char *const text[] = { "slug", "name", "description", "icon", "category" };
	json_object *v = NULL;

	for (size_t i = 0; i < ARRAY_LEN(text); i++)
		p[i] = jsonx_str(tpl, text[i]);
	json_object_object_get_ex(tpl, "tags", &v);
	p[5] = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
	p[6] = jsonx_str(tpl, "price_label");
	p[7] = jsonx_str(tpl, "chart_repo");
	p[8] = jsonx_str(tpl, "chart_name");
	p[9] = jsonx_str(tpl, "chart_version");
	for (int i = 0; i < 3; i++) {
		static const char *const json[] = { "values_schema", "inputs", "default_values" };
		json_object_object_get_ex(tpl, json[i], &v);
		p[10 + i] = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
		                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	json_object_object_get_ex(tpl, "enabled", &v);
	p[13] = json_object_get_boolean(v) ? "1" : "0";
}

static const char insert_sql[] =
	"INSERT INTO app_templates (id, slug, name, description, icon, category, tags, "
	"price_label, chart_repo, chart_name, chart_version, values_schema, inputs, "
	"default_values, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
	"$8, $9, $10, $11, $12, $13, $14, $15, $16, $16)";
static const char replace_sql[] =
	"UPDATE app_templates SET name = $2, description = $3, icon = $4, category = $5, "
	"tags = $6, price_label = $7, chart_repo = $8, chart_name = $9, chart_version = $10, "
	"values_schema = $11, inputs = $12, default_values = $13, enabled = $14, "
	"updated_at = $15 WHERE slug = $1";

/* The template whose column key ("slug" or "id") is value. */
static int read_one(struct db *db, const char *key, const char *value, int include_disabled,
                    json_object **out)
{
	const char *params[1] = { value };
	char sql[sizeof("SELECT " FULL_COLUMNS " FROM app_templates WHERE slug = $1 AND enabled")];

	snprintf(sql, sizeof(sql), "SELECT " FULL_COLUMNS " FROM app_templates WHERE %s = $1%s",
	         strcmp(key, "id") == 0 ? "id" : "slug", include_disabled ? "" : " AND enabled");
	return store_row_one(db, sql, 1, params, full_cols, FULL_NCOLS, out);
}

int store_catalog_get(struct db *db, const char *slug, int include_disabled, json_object **out)
{
	if (!catalog_slug_valid(slug))
		return STORE_NOT_FOUND;
	return read_one(db, "slug", slug, include_disabled, out);
}

int store_catalog_get_by_id(struct db *db, const char *id, int include_disabled,
                            json_object **out)
{
	char tpl[UUID_STR_LEN];

	if (store_id(id, tpl) != 0)
		return STORE_NOT_FOUND;
	return read_one(db, "id", tpl, include_disabled, out);
}

int store_catalog_list(struct db *db, const char *category, const char *q,
                       int include_disabled, json_object **out)
{
	const char *params[3];
	struct buf sql;
	struct db_res *res = NULL;
	json_object *items = NULL;
	char *pattern = NULL;
	int nparams = 0, rc = STORE_ERR;

	buf_init(&sql, 1024);
	if (buf_puts(&sql, "SELECT " CARD_COLUMNS " FROM app_templates WHERE 1 = 1") != 0 ||
	    (!include_disabled && buf_puts(&sql, " AND enabled") != 0) ||
	    (category && store_sql_and(&sql, "category = $?", params, &nparams, category) != 0) ||
	    (q && store_sql_search(&sql, params, &nparams, "name",
	                           "description || ' ' || CAST(tags AS TEXT)", q, &pattern) != 0) ||
	    buf_puts(&sql, " ORDER BY category, name, slug") != 0)
		goto out;
	rc = db_exec(db, sql.data, nparams, params, &res);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	items = json_object_new_array();
	rc = items ? STORE_OK : STORE_ERR;
	for (int r = 0; r < db_res_rows(res) && r < CATALOG_MAX && rc == STORE_OK; r++) {
		json_object *row = NULL;
		rc = store_row_json(res, r, full_cols, CARD_NCOLS, &row);
		if (rc == STORE_OK)
			json_object_array_add(items, row);
	}
	if (rc == STORE_OK) {
		*out = items;
		items = NULL;
	}
out:
	json_object_put(items);
	db_res_free(res);
	free(pattern);
	buf_clear(&sql);
	return rc;
}

/* insert_sql or replace_sql for tpl inside the open transaction: STORE_OK, or
 * STORE_CONFLICT (a slug taken), STORE_NOT_FOUND (nothing replaced). */
static int write_tpl(struct db *db, const char *sql, json_object *tpl, const char *now)
{
	char id[UUID_STR_LEN];
	const char *params[TPL_PARAMS + 2];
	int rc;

	ids_uuid7(id);
	params[0] = id;
	tpl_params(tpl, params + 1);
	params[TPL_PARAMS + 1] = now;
	/* A replace names no id: its parameters start at the slug. */
	if (sql == replace_sql)
		rc = db_exec(db, sql, TPL_PARAMS + 1, params + 1, NULL);
	else
		rc = db_exec(db, sql, TPL_PARAMS + 2, params, NULL);
	if (rc == DB_CONSTRAINT)
		return STORE_CONFLICT;
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}

/* One write and its row read back, in a transaction of its own. */
static int write_one(struct db *db, const char *sql, json_object *tpl, json_object **out)
{
	char now[TIMESTAMP_LEN];
	json_object *row = NULL;
	int rc;

	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK)
		return store_rc_of(rc);
	rc = write_tpl(db, sql, tpl, now);
	if (rc == STORE_OK)
		rc = read_one(db, "slug", jsonx_str(tpl, "slug"), 1, &row);
	return store_tx_end(db, rc, row, out);
}

int store_catalog_create(struct db *db, json_object *tpl, json_object **out)
{
	return write_one(db, insert_sql, tpl, out);
}

int store_catalog_replace(struct db *db, json_object *tpl, json_object **out)
{
	return write_one(db, replace_sql, tpl, out);
}

int store_catalog_delete(struct db *db, const char *slug)
{
	const char *params[1] = { slug };
	int rc;

	if (!catalog_slug_valid(slug))
		return STORE_NOT_FOUND;
	rc = db_exec(db, "DELETE FROM app_templates WHERE slug = $1", 1, params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return db_changes(db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}

int store_catalog_load(struct db *db, json_object *templates, json_object **created,
                       json_object **updated)
{
	json_object *made = json_object_new_array(), *replaced = json_object_new_array();
	char now[TIMESTAMP_LEN];
	int rc;

	if (!made || !replaced) {
		rc = STORE_ERR;
		goto out;
	}
	store_time(0, now);
	rc = db_begin(db);
	if (rc != DB_OK) {
		rc = store_rc_of(rc);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(templates) && rc == STORE_OK; i++) {
		json_object *tpl = json_object_array_get_idx(templates, i);
		const char *slug = jsonx_str(tpl, "slug");
		/* Replace first: a template that is not there yet changes no row. */
		rc = write_tpl(db, replace_sql, tpl, now);
		if (rc == STORE_OK) {
			json_object_array_add(replaced, json_object_new_string(slug));
		} else if (rc == STORE_NOT_FOUND) {
			rc = write_tpl(db, insert_sql, tpl, now);
			if (rc == STORE_OK)
				json_object_array_add(made, json_object_new_string(slug));
		}
	}
	if (rc != STORE_OK) {
		db_rollback(db);
		goto out;
	}
	rc = db_commit(db) == DB_OK ? STORE_OK : STORE_ERR;
	if (rc != STORE_OK)
		db_rollback(db);
out:
	if (rc == STORE_OK && created)
		*created = json_object_get(made);
	if (rc == STORE_OK && updated)
		*updated = json_object_get(replaced);
	json_object_put(made);
	json_object_put(replaced);
	return rc;
}

int store_catalog_reorder(struct db *db, json_object *templates, json_object **reordered)
{
	json_object *done = json_object_new_array();
	int rc;

	if (!done)
		return STORE_ERR;
	rc = db_begin(db);
	if (rc != DB_OK) {
		json_object_put(done);
		return store_rc_of(rc);
	}
	rc = STORE_OK;
	for (size_t i = 0; i < json_object_array_length(templates) && rc == STORE_OK; i++) {
		json_object *tpl = json_object_array_get_idx(templates, i), *stored = NULL;
		json_object *want = NULL, *have = NULL;
		const char *params[2] = { jsonx_str(tpl, "slug"), NULL };
		int got = read_one(db, "slug", params[0], 1, &stored);

		if (got == STORE_NOT_FOUND)
			continue;
		rc = got;
		json_object_object_get_ex(tpl, "values_schema", &want);
		if (rc == STORE_OK && json_object_object_get_ex(stored, "values_schema", &have) &&
		    json_object_equal(want, have)) {
			params[1] = json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN |
			                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
			if (strcmp(params[1], json_object_to_json_string_ext(
			                             have, JSON_C_TO_STRING_PLAIN |
			                                           JSON_C_TO_STRING_NOSLASHESCAPE)) != 0) {
				int db_rc = db_exec(db, "UPDATE app_templates SET values_schema = $2 "
				                        "WHERE slug = $1",
				                    2, params, NULL);
				if (db_rc != DB_OK)
					rc = store_rc_of(db_rc);
				else
					json_object_array_add(done, json_object_new_string(params[0]));
			}
		}
		json_object_put(stored);
	}
	if (rc == STORE_OK && db_commit(db) != DB_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK)
		db_rollback(db);
	else if (reordered)
		*reordered = json_object_get(done);
	json_object_put(done);
	return rc;
}
