/* service_seed.c: test-only driver of the services store, straight on the database named
 * by the usual settings (KAIDEN_DATABASE_*, KAIDEN_SERVICES_KEY_FILE), so helperd's
 * service jobs can be tested (case-124) through the very store functions kaiden-api
 * calls, with the secret values sealed as kaiden-api seals them:
 *
 *   service_seed create TENANT_ID SLUG REFERENCE_ID SUBDOMAIN VALUES SECRETS
 *       store_service_create with the template SLUG's id and pinned version; VALUES the
 *       plain values (a JSON object), SECRETS the secret ones (a JSON object, sealed, or
 *       "{}" for none); prints the service's id
 *   service_seed upgrade TENANT_ID ID VALUES SECRETS    store_service_queue upgrade
 *   service_seed rollback TENANT_ID ID REVISION         store_service_queue rollback
 *   service_seed delete TENANT_ID ID                    store_service_queue uninstall
 * Each prints the service's status after the call; exit 1 with the store's code on a
 * refusal. Secrets come in argv here: this is a test tool, and case-124 checks helm's
 * argv and helperd's logs, not this program's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "store_catalog.h"
#include "store_service.h"
#include "values_seal.h"

static const char *member(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* names: the dotted paths of the leaves of obj (prefix ""). */
static void leaf_paths(json_object *obj, const char *prefix, json_object *names)
{
	json_object_object_foreach(obj, k, v)
	{
		char path[256];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_object_is_type(v, json_type_object))
			leaf_paths(v, path, names);
		else
			json_object_array_add(names, json_object_new_string(path));
	}
}

/* The sealed text of secrets (NULL for none) and its names. */
static int seal(const char *secrets, char **sealed, json_object **names)
{
	struct values_key key;
	json_object *obj = json_tokener_parse(secrets);
	char err[256];
	int rc = -1;

	*sealed = NULL;
	*names = json_object_new_array();
	if (!obj || !json_object_is_type(obj, json_type_object))
		goto out;
	leaf_paths(obj, "", *names);
	if (json_object_object_length(obj) == 0) {
		rc = 0;
		goto out;
	}
	if (values_key_load(cfg_str(CFG_SERVICES_KEY_FILE), &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "service_seed: %s\n", err);
		goto out;
	}
	*sealed = values_seal(&key, obj);
	values_key_clear(&key);
	rc = *sealed ? 0 : -1;
out:
	json_object_put(obj);
	return rc;
}

static int report(int rc, json_object *out, const struct store_service_why *why)
{
	if (rc != STORE_OK) {
		fprintf(stderr, "service_seed: store code %d %s %s\n", rc, why->field, why->text);
		return 1;
	}
	printf("%s %s\n", member(out, "id"), member(out, "status"));
	return 0;
}

static int create(struct db *db, char **argv)
{
	struct store_service_new s = { 0 };
	struct store_service_why why = { { 0 }, { 0 } };
	json_object *tpl = NULL, *out = NULL, *names = NULL;
	char *sealed = NULL;
	int rc = 1;

	if (store_catalog_get(db, argv[3], 1, &tpl) != STORE_OK) {
		fprintf(stderr, "service_seed: no template %s\n", argv[3]);
		return 1;
	}
	s.template_id = member(tpl, "id");
	s.chart_version = member(tpl, "chart_version");
	s.name = argv[4];
	s.reference_id = argv[4];
	s.subdomain = argv[5];
	s.values = json_tokener_parse(argv[6]);
	if (!s.values || seal(argv[7], &sealed, &names) != 0)
		goto out;
	s.secret_values = sealed;
	s.secret_names = names;
	rc = store_service_create(db, argv[2], &s, &out, &why);
	rc = report(rc, out, &why);
out:
	free(sealed);
	json_object_put(names);
	json_object_put(s.values);
	json_object_put(out);
	json_object_put(tpl);
	return rc;
}

static int queue(struct db *db, int argc, char **argv)
{
	struct store_service_change c = { 0 };
	struct store_service_why why = { { 0 }, { 0 } };
	json_object *out = NULL, *names = NULL;
	char *sealed = NULL;
	enum service_op op;
	int rc = 1;

	if (strcmp(argv[1], "upgrade") == 0 && argc >= 6) {
		op = SERVICE_OP_UPGRADE;
		c.values = json_tokener_parse(argv[4]);
		if (!c.values || seal(argv[5], &sealed, &names) != 0)
			goto out;
		c.set_secrets = 1;
		c.secret_values = sealed;
		c.secret_names = names;
	} else if (strcmp(argv[1], "rollback") == 0 && argc >= 5) {
		op = SERVICE_OP_ROLLBACK;
		c.revision = atoi(argv[4]);
	} else if (strcmp(argv[1], "delete") == 0) {
		op = SERVICE_OP_UNINSTALL;
	} else {
		fprintf(stderr, "service_seed: bad arguments\n");
		goto out;
	}
	rc = store_service_queue(db, argv[2], argv[3], op, &c, 0, &out, &why);
	rc = report(rc, out, &why);
out:
	free(sealed);
	json_object_put(names);
	json_object_put(c.values);
	json_object_put(out);
	return rc;
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	char err[256];
	const char *driver, *cmd = argc > 1 ? argv[1] : "";
	int rc = 1;

	log_init("service_seed", LOG_LVL_WARN);
	if (argc < 4 || (strcmp(cmd, "create") == 0 && argc < 8)) {
		fprintf(stderr, "usage: service_seed create TENANT SLUG REF SUBDOMAIN VALUES SECRETS"
		                " | upgrade TENANT ID VALUES SECRETS | rollback TENANT ID REVISION"
		                " | delete TENANT ID\n");
		return 2;
	}
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0) {
		fprintf(stderr, "service_seed: %s\n", err);
		return 1;
	}
	driver = cfg_str(CFG_DATABASE_DRIVER);
	if (db_open_existing(driver,
	                     strcmp(driver, "postgres") == 0 ? cfg_str(CFG_DATABASE_DSN)
	                                                     : cfg_str(CFG_DATABASE_PATH),
	                     &db) != DB_OK ||
	    db_session_set(db, "kaiden.staff", "on") != DB_OK) {
		fprintf(stderr, "service_seed: cannot open the database\n");
		goto out;
	}
	rc = strcmp(cmd, "create") == 0 ? create(db, argv) : queue(db, argc, argv);
out:
	db_close(db);
	return rc;
}
