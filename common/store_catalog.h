/* store_catalog.h: the catalog of cloud services (app_templates, 0015), platform data:
 * no tenant, read in any scope. Conventions as store.h. Every template written here has
 * passed catalog_template_check (catalog.h): the store writes, it does not judge.
 *
 * Template JSON: id, slug, name, description, icon, category, tags (array), price_label,
 * chart_repo, chart_name, chart_version, values_schema (object), inputs (object),
 * default_values (object), enabled (boolean), created_at, updated_at. A list's items
 * leave out values_schema, inputs and default_values (what a marketplace card does not
 * show; GET /catalog/{slug} has them). */
#ifndef KAIDEN_STORE_CATALOG_H
#define KAIDEN_STORE_CATALOG_H

#include <json-c/json.h>
#include "compat.h"
#include "store.h"

/* Every template (at most CATALOG_MAX), ordered by category, then name: *out a new
 * array. category: NULL or exactly one; q: NULL or a literal substring of the name,
 * description or a tag (case-insensitive in ASCII); include_disabled: staff see the
 * disabled ones too. */
int store_catalog_list(struct db *db, const char *category, const char *q,
                       int include_disabled, json_object **out) WUR;
/* STORE_NOT_FOUND when no template has the slug (or it is disabled and
 * include_disabled is 0). */
int store_catalog_get(struct db *db, const char *slug, int include_disabled,
                      json_object **out) WUR;
/* The same by the template's id (any case of the UUID). */
int store_catalog_get_by_id(struct db *db, const char *id, int include_disabled,
                            json_object **out) WUR;
/* Inserts a checked template (catalog_template_check's object): STORE_CONFLICT when the
 * slug is taken. */
int store_catalog_create(struct db *db, json_object *tpl, json_object **out) WUR;
/* Replaces every member of the template with this slug by tpl's (a checked template
 * with the same slug; id and created_at stay). STORE_NOT_FOUND when there is none. */
int store_catalog_replace(struct db *db, json_object *tpl, json_object **out) WUR;
/* Deletes it. STORE_NOT_FOUND when there is none. (Once services refer to templates,
 * one in use is refused with STORE_CONFLICT: docs/decisions.md, issue 13.) */
int store_catalog_delete(struct db *db, const char *slug) WUR;
/* Upserts every template of the array (checked ones) by slug in one transaction: all or
 * nothing. *created and *updated (each may be NULL) get the slugs added and replaced,
 * as new arrays (owned). */
int store_catalog_load(struct db *db, json_object *templates, json_object **created,
                       json_object **updated) WUR;
/* Writes each given template's values_schema, as its text says it, over the stored one
 * of the same slug where the two say the same but perhaps in another key order (what
 * PostgreSQL's jsonb left before 0020): the form's order comes back, nothing else
 * changes (not updated_at either), and a template edited since is left alone. One
 * transaction; *reordered (may be NULL) gets the slugs rewritten, a new array. */
int store_catalog_reorder(struct db *db, json_object *templates, json_object **reordered) WUR;

#endif
