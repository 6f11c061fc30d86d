/* store_row.c: rows to JSON, pages, ids and the small SQL helpers the store shares. */
#include "store_row.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 200
/* A text list's items: 200 rows of a few KiB each at the very most; the reply's own cap
 * (main.c) is 16 MiB. */
#define LIST_TEXT_MAX (16 * 1024 * 1024)
/* A text list's columns: the device's 18, with room to grow. */
#define LIST_TEXT_COLS 64

/* A STORE_COL_INT value: 0 and *n, or -1 (logged: null is the honest answer) when v is
 * not a 64-bit integer. */
static int int_value(const char *v, const char *name, long long *n)
{
	char *end;

	errno = 0;
	*n = strtoll(v, &end, 10);
	if (errno || end == v || *end) {
		log_error("store column=%s is not an integer", name);
		return -1;
	}
	return 0;
}

static json_object *value_json(const char *v, enum store_col_type type, const char *name)
{
	if (!v)
		return NULL; /* json-c's null */
	switch (type) {
	case STORE_COL_INT: {
		long long n;
		return int_value(v, name, &n) == 0 ? json_object_new_int64(n) : NULL;
	}
	case STORE_COL_JSON: {
		json_object *j = json_tokener_parse(v);
		/* The column is checked JSON on both backends, so this is corruption or the
		 * JSON literal null: either way null is the honest answer. */
		if (!j && strcmp(v, "null") != 0)
			log_error("store column=%s holds invalid JSON", name);
		return j;
	}
	case STORE_COL_BOOL:
		return json_object_new_boolean(strcmp(v, "0") != 0);
	case STORE_COL_TEXT:
		break;
	}
	return json_object_new_string(v);
}

/* 0 when res has exactly the columns cols[0..n), in order (checked once per result, not
 * per row), else -1 (logged). */
static int cols_match(const struct db_res *res, const struct store_col *cols, int n)
{
	if (db_res_cols(res) != n) {
		log_error("store: result shape does not match its column table");
		return -1;
	}
	for (int c = 0; c < n; c++) {
		if (strcmp(db_res_name(res, c), cols[c].name) != 0) {
			log_error("store: column %d is %s, expected %s", c, db_res_name(res, c),
			          cols[c].name);
			return -1;
		}
	}
	return 0;
}

/* Row row of res (checked by cols_match) as an object. The keys are the column tables'
 * string literals, so json-c keeps pointers to them rather than copies, and each is new
 * to the object (no lookup): the list of 50 devices makes 900 of them. */
static int row_json(const struct db_res *res, int row, const struct store_col *cols, int n,
                    json_object **out)
{
	json_object *obj = json_object_new_object();

	if (!obj)
		return STORE_ERR;
	for (int c = 0; c < n; c++) {
		const char *v = db_res_get(res, row, c);
		json_object *j = value_json(v, cols[c].type, cols[c].name);
		if (v && !j && (cols[c].type == STORE_COL_TEXT || cols[c].type == STORE_COL_BOOL)) {
			json_object_put(obj);
			return STORE_ERR; /* out of memory */
		}
		if (json_object_object_add_ex(obj, cols[c].name, j,
		                              JSON_C_OBJECT_ADD_KEY_IS_NEW |
		                                  JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
			json_object_put(j);
			json_object_put(obj);
			return STORE_ERR;
		}
	}
	*out = obj;
	return STORE_OK;
}

/* value_json's value (v not NULL: row_text writes null itself) appended as JSON text,
 * the bytes json-c writes for it (PLAIN, no slash escape). A stored JSON value goes
 * through json-c itself, so its text comes out as the object path writes it whatever form
 * the database keeps it in (jsonb's spaces, number forms). */
static int value_text(const char *v, enum store_col_type type, const char *name,
                      struct buf *out)
{
	switch (type) {
	case STORE_COL_INT: {
		long long n;
		if (int_value(v, name, &n) != 0)
			return buf_append(out, "null", 4);
		return buf_printf(out, "%lld", n);
	}
	case STORE_COL_JSON: {
		json_object *j = json_tokener_parse(v);
		const char *text;
		size_t len;
		int rc;
		if (!j) {
			if (strcmp(v, "null") != 0)
				log_error("store column=%s holds invalid JSON", name);
			return buf_append(out, "null", 4);
		}
		text = json_object_to_json_string_length(
			j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		rc = text ? buf_append(out, text, len) : -1;
		json_object_put(j);
		return rc;
	}
	case STORE_COL_BOOL:
		return strcmp(v, "0") != 0 ? buf_append(out, "true", 4) : buf_append(out, "false", 5);
	case STORE_COL_TEXT:
		break;
	}
	return jsonx_buf_str(out, v);
}

/* Row row of res (checked by cols_match) as the text of row_json's object: keys in the
 * column table's order, as json-c keeps them. klen[c] is strlen(cols[c].name). */
static int row_text(const struct db_res *res, int row, const struct store_col *cols,
                    const size_t *klen, int n, struct buf *out)
{
	for (int c = 0; c < n; c++) {
		const char *v = db_res_get(res, row, c);
		/* {"key": or ,"key":, and null when it is, in one copy. The keys are the column
		 * tables' literals, SQL names that need no escape (cols_match held them to the
		 * result's). */
		size_t len = klen[c] + 4 + (v ? 0 : 4);
		char *d;
		if (buf_reserve(out, len) != 0)
			return -1;
		d = out->data + out->len;
		d[0] = c ? ',' : '{';
		d[1] = '"';
		memcpy(d + 2, cols[c].name, klen[c]);
		d[klen[c] + 2] = '"';
		d[klen[c] + 3] = ':';
		if (!v)
			memcpy(d + klen[c] + 4, "null", 4);
		out->len += len;
		out->data[out->len] = '\0';
		if (v && value_text(v, cols[c].type, cols[c].name, out) != 0)
			return -1;
	}
	return buf_append(out, n ? "}" : "{}", n ? 1 : 2);
}

int store_row_json(const struct db_res *res, int row, const struct store_col *cols, int n,
                   json_object **out)
{
	if (row < 0 || row >= db_res_rows(res)) {
		log_error("store: result shape does not match its column table");
		return STORE_ERR;
	}
	if (cols_match(res, cols, n) != 0)
		return STORE_ERR;
	return row_json(res, row, cols, n, out);
}

/* Runs sql for one row: STORE_OK with *res holding at least one, else the store code
 * (*res then freed). */
static int first_row(struct db *db, const char *sql, int nparams, const char *const *params,
                     struct db_res **res)
{
	int rc = db_exec(db, sql, nparams, params, res);

	if (rc == DB_OK && db_res_rows(*res) > 0)
		return STORE_OK;
	db_res_free(*res);
	*res = NULL;
	return rc == DB_OK ? STORE_NOT_FOUND : store_rc_of(rc);
}

/* The keys' lengths of a text row or list (klen[c] = strlen(cols[c].name)). 0, or -1
 * (logged) when there are more columns than a text row takes. */
static int keys_len(const struct store_col *cols, int n, size_t klen[LIST_TEXT_COLS])
{
	if (n > LIST_TEXT_COLS) {
		log_error("store: a text row or list of %d columns (at most %d)", n, LIST_TEXT_COLS);
		return -1;
	}
	for (int c = 0; c < n; c++)
		klen[c] = strlen(cols[c].name);
	return 0;
}

int store_row_one(struct db *db, const char *sql, int nparams, const char *const *params,
                  const struct store_col *cols, int n, json_object **out)
{
	struct db_res *res = NULL;
	int rc = first_row(db, sql, nparams, params, &res);

	if (rc == STORE_OK)
		rc = store_row_json(res, 0, cols, n, out);
	db_res_free(res);
	return rc;
}

int store_row_one_text(struct db *db, const char *sql, int nparams, const char *const *params,
                       const struct store_col *cols, int n, struct buf *out)
{
	struct db_res *res = NULL;
	size_t klen[LIST_TEXT_COLS];
	int rc = first_row(db, sql, nparams, params, &res);

	if (rc != STORE_OK)
		return rc;
	if (cols_match(res, cols, n) != 0 || keys_len(cols, n, klen) != 0) {
		rc = STORE_ERR;
	} else if (row_text(res, 0, cols, klen, n, out) != 0) {
		log_error("store: a row's text did not fit (%zu bytes) or memory ran out", out->len);
		buf_clear(out);
		rc = STORE_ERR;
	}
	db_res_free(res);
	return rc;
}

/* Empties out and sets its page: has_more when the query found a row past the limit,
 * and then the cursor, the id (column 0) of the page's last row. */
static void list_page(const struct db_res *res, int limit, struct store_list *out)
{
	const char *last;

	memset(out, 0, sizeof(*out));
	out->has_more = db_res_rows(res) > limit;
	last = out->has_more && limit > 0 ? db_res_get(res, limit - 1, 0) : NULL;
	if (last)
		snprintf(out->next_cursor, sizeof(out->next_cursor), "%s", last);
}

int store_list_fill(const struct db_res *res, int limit, const struct store_col *cols,
                    int n, struct store_list *out)
{
	int rows = db_res_rows(res), shown = rows > limit ? limit : rows;
	json_object *items = json_object_new_array_ext(shown + 1);

	if (!items)
		return STORE_ERR;
	if (shown > 0 && cols_match(res, cols, n) != 0) {
		json_object_put(items);
		return STORE_ERR;
	}
	for (int r = 0; r < shown; r++) {
		json_object *item;
		if (row_json(res, r, cols, n, &item) != STORE_OK) {
			json_object_put(items);
			return STORE_ERR;
		}
		json_object_array_add(items, item);
	}
	list_page(res, limit, out);
	out->items = items;
	return STORE_OK;
}

/* A list's text written a row at a time: by store_list_fill_text from a result, and by
 * list_ordered straight from the query's rows (db_exec_each: on SQLite they are then
 * never copied into a result). */
struct text_page {
	const struct store_col *cols;
	int n, limit, rows;
	size_t klen[LIST_TEXT_COLS];
	struct buf text;
	char cursor[UUID_STR_LEN];
};

static int text_page_init(struct text_page *t, const struct store_col *cols, int n, int limit)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->n = n;
	t->limit = limit;
	buf_init(&t->text, LIST_TEXT_MAX);
	return keys_len(cols, n, t->klen);
}

/* db_row_fn: row `row` of res onto the page. The first limit rows are written; one more
 * only says that another page follows, whose cursor is the last written row's id
 * (column 0). 0, or -1 (logged). */
static int text_page_row(void *ctx, const struct db_res *res, int row)
{
	struct text_page *t = ctx;
	const char *id;

	if (t->rows++ >= t->limit)
		return 0;
	if (t->rows == 1) {
		if (cols_match(res, t->cols, t->n) != 0)
			return -1;
		/* Room for a device's usual ~380 bytes a row, so the text seldom moves as it
		 * grows. */
		if (buf_reserve(&t->text, 2 + (size_t)t->limit * 512) != 0)
			goto fail;
	}
	if (buf_append(&t->text, t->rows == 1 ? "[" : ",", 1) != 0 ||
	    row_text(res, row, t->cols, t->klen, t->n, &t->text) != 0)
		goto fail;
	if (t->rows == t->limit && (id = db_res_get(res, row, 0)) != NULL)
		snprintf(t->cursor, sizeof(t->cursor), "%s", id);
	return 0;
fail:
	log_error("store: a list's text did not fit (%zu bytes) or memory ran out", t->text.len);
	return -1;
}

/* The page written (ok: every row went on it) as out: STORE_OK, else STORE_ERR and the
 * text freed. */
static int text_page_end(struct text_page *t, int ok, struct store_list *out)
{
	if (ok && ((t->rows == 0 && buf_append(&t->text, "[", 1) != 0) ||
	           buf_append(&t->text, "]", 1) != 0)) {
		log_error("store: a list's text did not fit (%zu bytes) or memory ran out",
		          t->text.len);
		ok = 0;
	}
	if (!ok) {
		buf_clear(&t->text);
		return STORE_ERR;
	}
	memset(out, 0, sizeof(*out));
	out->has_more = t->rows > t->limit;
	if (out->has_more)
		memcpy(out->next_cursor, t->cursor, sizeof(out->next_cursor));
	out->text = t->text;
	return STORE_OK;
}

int store_list_fill_text(const struct db_res *res, int limit, const struct store_col *cols,
                         int n, struct store_list *out)
{
	struct text_page t;
	int ok = text_page_init(&t, cols, n, limit) == 0;

	for (int r = 0; ok && r < db_res_rows(res); r++)
		ok = text_page_row(&t, res, r) == 0;
	return text_page_end(&t, ok, out);
}

int store_page_limit(const struct store_page *page)
{
	if (!page || page->limit == 0)
		return PAGE_DEFAULT;
	if (page->limit < 1)
		return 1;
	return page->limit > PAGE_MAX ? PAGE_MAX : page->limit;
}

int store_rc_of(int db_rc)
{
	return db_rc == DB_BUSY ? STORE_BUSY : STORE_ERR;
}

int store_id(const char *s, char out[UUID_STR_LEN])
{
	return ids_uuid_lower(s, out);
}

void store_text_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void store_time(int offset_seconds, char out[TIMESTAMP_LEN])
{
	ids_timestamp(ids_now_ms() + (int64_t)offset_seconds * 1000, out);
}

int store_sql_and(struct buf *sql, const char *expr, const char **params, int *nparams,
                  const char *value)
{
	int k = *nparams + 1;

	if (buf_puts(sql, " AND ") != 0)
		return -1;
	for (const char *p = expr; *p; p++) {
		if (p[0] == '$' && p[1] == '?') {
			if (buf_printf(sql, "$%d", k) != 0)
				return -1;
			p++;
		} else if (buf_append(sql, p, 1) != 0) {
			return -1;
		}
	}
	params[k - 1] = value;
	*nparams = k;
	return 0;
}

int store_sql_search(struct buf *sql, const char **params, int *nparams, const char *col_a,
                     const char *col_b, const char *q, char **pattern)
{
	char expr[256];

	*pattern = store_like_pattern(q);
	if (!*pattern)
		return -1;
	snprintf(expr, sizeof(expr),
	         "(lower(%s) LIKE lower($?) ESCAPE '\\' OR lower(%s) LIKE lower($?) ESCAPE '\\')",
	         col_a, col_b);
	return store_sql_and(sql, expr, params, nparams, *pattern);
}

char *store_like_pattern(const char *q)
{
	struct buf b;

	buf_init(&b, 4 * strlen(q) + 16);
	if (buf_puts(&b, "%") != 0)
		goto fail;
	for (const char *p = q; *p; p++) {
		if ((*p == '%' || *p == '_' || *p == '\\') && buf_puts(&b, "\\") != 0)
			goto fail;
		if (buf_append(&b, p, 1) != 0)
			goto fail;
	}
	if (buf_puts(&b, "%") != 0)
		goto fail;
	return buf_take(&b);
fail:
	buf_clear(&b);
	return NULL;
}

int store_tx_end(struct db *db, int rc, json_object *row, json_object **out)
{
	if (rc == STORE_OK && db_commit(db) != DB_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK) {
		db_rollback(db);
		json_object_put(row);
		return rc;
	}
	*out = row;
	return STORE_OK;
}

int store_list_ids(const char *tenant_id, const struct store_page *page,
                   char tenant[UUID_STR_LEN], char cursor_buf[UUID_STR_LEN],
                   const char **cursor)
{
	if (store_id(tenant_id, tenant) != 0 ||
	    (page && page->cursor && store_id(page->cursor, cursor_buf) != 0))
		return STORE_NOT_FOUND;
	*cursor = page && page->cursor ? cursor_buf : NULL;
	return STORE_OK;
}

/* store_list_ordered's work; as_text picks store_list_fill_text. */
static int list_ordered(struct db *db, struct buf *sql, const char **params, int nparams,
                        const char *order, int limit, const struct store_col *cols, int n,
                        int as_text, struct store_list *out)
{
	struct db_res *res = NULL;
	char limit_text[16];
	int rc;

	/* One row more than the page tells whether another page follows. */
	snprintf(limit_text, sizeof(limit_text), "%d", limit + 1);
	params[nparams++] = limit_text;
	if (buf_printf(sql, " ORDER BY %s LIMIT $%d", order, nparams) != 0)
		return STORE_ERR;
	if (as_text) {
		/* Written as the rows come: no result held (SQLite copies none). */
		struct text_page t;
		if (text_page_init(&t, cols, n, limit) != 0)
			return STORE_ERR;
		rc = db_exec_each(db, sql->data, nparams, params, text_page_row, &t);
		return text_page_end(&t, rc == DB_OK, out) == STORE_OK ? STORE_OK : store_rc_of(rc);
	}
	rc = db_exec(db, sql->data, nparams, params, &res);
	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = store_list_fill(res, limit, cols, n, out);
	db_res_free(res);
	return rc;
}

/* store_list_run's work; as_text as for list_ordered. */
static int list_run(struct db *db, struct buf *sql, const char **params, int nparams,
                    const char *cursor, int limit, const struct store_col *cols, int n,
                    int as_text, struct store_list *out)
{
	if (cursor && store_sql_and(sql, "id < $?", params, &nparams, cursor) != 0)
		return STORE_ERR;
	return list_ordered(db, sql, params, nparams, "id DESC", limit, cols, n, as_text, out);
}

int store_list_run(struct db *db, struct buf *sql, const char **params, int nparams,
                   const char *cursor, int limit, const struct store_col *cols, int n,
                   struct store_list *out)
{
	return list_run(db, sql, params, nparams, cursor, limit, cols, n, 0, out);
}

int store_list_run_text(struct db *db, struct buf *sql, const char **params, int nparams,
                        const char *cursor, int limit, const struct store_col *cols, int n,
                        struct store_list *out)
{
	return list_run(db, sql, params, nparams, cursor, limit, cols, n, 1, out);
}

int store_list_ordered(struct db *db, struct buf *sql, const char **params, int nparams,
                       const char *order, int limit, const struct store_col *cols, int n,
                       struct store_list *out)
{
	return list_ordered(db, sql, params, nparams, order, limit, cols, n, 0, out);
}

int store_device_lock(struct db *db, const char *tenant, const char *device, int exclusive)
{
	static const char base[] =
		"SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";
	static const char for_update[] =
		"SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL "
		"FOR UPDATE";
	static const char for_share[] =
		"SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL "
		"FOR SHARE";
	const char *params[2] = { tenant, device };
	const char *sql = db_kind(db) != DB_POSTGRES ? base : exclusive ? for_update : for_share;
	struct db_res *res = NULL;
	int rc = db_exec(db, sql, 2, params, &res);

	if (rc != DB_OK)
		rc = store_rc_of(rc);
	else
		rc = db_res_rows(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
	db_res_free(res);
	return rc;
}

/* The first value of the first row of sql: 1 and a copy into out (NULL stays NULL as ""),
 * 0 when there is no row, or a negative store_rc. */
int store_one_value(struct db *db, const char *sql, int n, const char *const *params,
                    char *out, size_t outlen, int *is_null)
{
	struct db_res *res = NULL;
	int rc = db_exec(db, sql, n, params, &res);

	if (rc != DB_OK) {
		rc = store_rc_of(rc);
	} else if (db_res_rows(res) == 0 || db_res_cols(res) < 1) {
		rc = 0;
	} else {
		const char *v = db_res_get(res, 0, 0);
		if (out)
			snprintf(out, outlen, "%s", v ? v : "");
		if (is_null)
			*is_null = v == NULL;
		rc = 1;
	}
	db_res_free(res);
	return rc;
}

/* 1 when this database has the table, 0 when not, or a negative store_rc. name is one
 * of ours, never input. */
int store_table_exists(struct db *db, const char *name)
{
	const char *params[1] = { name };
	int is_null = 1;
	int rc;

	if (db_kind(db) == DB_POSTGRES)
		rc = store_one_value(db, "SELECT CAST(to_regclass($1) AS text)", 1, params, NULL,
		                     0, &is_null);
	else
		rc = store_one_value(db,
		                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
		                     1, params, NULL, 0, &is_null);
	if (rc < 0)
		return rc;
	return rc == 1 && !is_null;
}

int store_row_id_list(struct db *db, const char *const *ids, int n, struct buf *out)
{
	int pg = db_kind(db) == DB_POSTGRES;

	if (buf_puts(out, pg ? "{" : "[") != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!ids_is_uuid(ids[i])) {
			log_error("id list: an id is not a UUID (refused)");
			return -1;
		}
		if (buf_printf(out, pg ? "%s%s" : "%s\"%s\"", i ? "," : "", ids[i]) != 0)
			return -1;
	}
	return buf_puts(out, pg ? "}" : "]");
}
