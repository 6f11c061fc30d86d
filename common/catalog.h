/* catalog.h: a cloud service template (an app_templates row, issue 13) checked whole,
 * and the catalog file (catalog/catalog.yaml) read into templates. Pure functions: the
 * store (store_catalog.h) writes what passed here, the API and `kaiden-api catalog load`
 * check with the same code.
 *
 * A template, as the API takes and gives it (and as the file holds it):
 *   slug           required; a DNS-1123 label (a-z, 0-9, '-'; at most 63), the key
 *   name           required; 1..100 characters
 *   description    0..2000 characters (default "")
 *   icon           an emoji or a few characters (at most 8, no '/'), or a path of the
 *                  portal's (under www/: "icons/postgresql.svg", [a-z0-9/_.-], no "..",
 *                  ending .svg or .png); default ""
 *   category       required; one of catalog_categories
 *   tags           0..16 distinct strings of 1..32 characters (default [])
 *   price_label    0..64 characters (default "")
 *   chart_repo     required; "oci://host/path" (the chart is <chart_repo>/<chart_name>)
 *                  or "https://..." (a Helm repository: helm --repo URL chart_name);
 *                  at most 512 bytes, no spaces, no user:password@
 *   chart_name     required; a DNS-1123 label
 *   chart_version  required; an exact version MAJOR.MINOR.PATCH[-pre][+build] (no
 *                  range: the chart is pinned)
 *   values_schema  values_schema.h (default {"type":"object","properties":{}})
 *   inputs         values_inputs_check (default {}); with "host" the template's
 *                  services have a web address (catalog_template_web); "domain" (a
 *                  verified custom domain) only beside "host"
 *   default_values an object (default {}); it may not set a secret property (a secret
 *                  is each install's own), and every inputs path must be settable in it
 *   enabled        boolean (default true)
 * Anything else is refused. */
#ifndef KAIDEN_CATALOG_H
#define KAIDEN_CATALOG_H

#include <json-c/json.h>
#include "compat.h"
#include "values_schema.h"

/* The categories, as sql/{pg,sqlite}/0015_app_templates.sql's CHECK lists them;
 * NULL-terminated. */
extern const char *const catalog_categories[];

/* 1 when s is a DNS-1123 label (a slug, a chart name). */
int catalog_slug_valid(const char *s);

/* 1 when tpl (a checked template) gives its services a web address: its inputs map
 * Kaiden's host into the chart (inputs.host: the chart's ingress serves
 * https://<subdomain>.<services.domain>). A template without one (a database, a cache)
 * is reached from inside the cluster only: no URL, no custom domain. */
int catalog_template_web(json_object *tpl);

/* Checks tpl as above. 0 with *out (owned: a new object with every member, the
 * defaults filled in, in the order above), or -1 with err (field: the member,
 * "values_schema.properties...", "inputs.host", "default_values.auth.password", ...). */
int catalog_template_check(json_object *tpl, json_object **out, struct vs_error *err) WUR;

/* A catalog document (yamljson_read_typed of the file): {"templates": [template, ...]}
 * with 1..CATALOG_MAX templates, slugs distinct. 0 with *out (owned: an array of checked
 * templates as catalog_template_check gives them), or -1 with why (a sentence naming
 * the template by position and slug, and the field). */
#define CATALOG_MAX 200
int catalog_parse(json_object *doc, json_object **out, char *why, size_t whylen) WUR;

/* Reads and parses a catalog file: catalog_parse of yamljson_read_typed. */
int catalog_read_file(const char *path, json_object **out, char *why, size_t whylen) WUR;

/* The catalog this binary carries (catalog/catalog.yaml, compiled in), NUL-terminated:
 * what `kaiden-api migrate` loads into a database that has just been given the table. */
extern const char catalog_builtin[];

/* Parses catalog_builtin. */
int catalog_read_builtin(json_object **out, char *why, size_t whylen) WUR;

#endif
