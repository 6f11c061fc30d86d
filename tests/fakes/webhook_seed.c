/* webhook_seed.c: test-only driver of the webhook store, straight on the database named
 * by the usual settings (KAIDEN_DATABASE_*, KAIDEN_AUTH_JWT_SECRET), for the delivery
 * tests (case-106) to make hooks and events of any type at will, through the same store
 * functions kaiden-api calls:
 *
 *   webhook_seed hook TENANT_ID|platform URL [EVENTS]   store_webhook_create; prints
 *                                                       "<hook id> <secret>"; EVENTS: a
 *                                                       JSON array (["ticket.created"])
 *   webhook_seed event TENANT_ID TYPE [N]               N (default 1) store_webhook_emit,
 *                                                       each in its own tenant scope as
 *                                                       kaiden-api's (staff off), data
 *                                                       {"seq": i}; prints the event ids
 *                                                       (the newest event's: emit a type
 *                                                       some hook wants)
 *   webhook_seed resume TENANT_ID|platform HOOK_ID      store_webhook_update to active */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "store_row.h"
#include "store_webhook.h"
#include "webhook_secret.h"

static const char *scope(const char *tenant)
{
	return strcmp(tenant, "platform") == 0 ? NULL : tenant;
}

static int add_hook(struct db *db, const char *tenant, const char *url, const char *events)
{
	char secret[WEBHOOK_SECRET_LEN], sealed[WEBHOOK_SEALED_MAX];
	struct store_webhook_new w = { url, "webhook_seed", NULL, sealed, NULL };
	json_object *out = NULL;
	int rc = -1;

	webhook_secret_new(secret);
	w.events = json_tokener_parse(events);
	if (w.events && webhook_secret_seal(cfg_str(CFG_AUTH_JWT_SECRET), secret, sealed) == 0 &&
	    store_webhook_create(db, scope(tenant), &w, &out) == STORE_OK) {
		json_object *id;
		if (json_object_object_get_ex(out, "id", &id)) {
			printf("%s %s\n", json_object_get_string(id), secret);
			rc = 0;
		}
	}
	json_object_put(w.events);
	json_object_put(out);
	return rc;
}

/* The id of the newest event: what store_webhook_emit just wrote. */
static int add_event(struct db *db, const char *tenant, const char *type, int seq)
{
	json_object *data = json_object_new_object();
	char id[64];
	int rc = -1;

	json_object_object_add(data, "seq", json_object_new_int(seq));
	/* As kaiden-api emits: inside a request's scope of that tenant, staff off (on
	 * PostgreSQL row-level security holds the transaction to the tenant), and in the
	 * transaction of a change (db_begin: on SQLite a scope is none), so that the event
	 * and its deliveries commit together, as store_webhook_emit requires. */
	if (db_scope_begin(db, tenant, 0) != DB_OK)
		goto out;
	if (db_begin(db) != DB_OK || store_webhook_emit(db, tenant, type, data) != STORE_OK ||
	    db_commit(db) != DB_OK ||
	    store_one_value(db, "SELECT id FROM webhook_events ORDER BY id DESC LIMIT 1", 0, NULL,
	                    id, sizeof(id), NULL) != 1) {
		db_rollback(db);
		if (db_scope_end(db, 0) != DB_OK)
			fprintf(stderr, "webhook_seed: the rollback failed\n");
		goto out;
	}
	if (db_scope_end(db, 1) != DB_OK)
		goto out;
	printf("%s\n", id);
	rc = 0;
out:
	json_object_put(data);
	return rc;
}

static int resume(struct db *db, const char *tenant, const char *hook)
{
	struct store_webhook_patch p = { NULL, NULL, "active", NULL };
	json_object *out = NULL;
	int rc = store_webhook_update(db, scope(tenant), hook, &p, &out);

	json_object_put(out);
	return rc == STORE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	char err[256];
	const char *driver, *cmd = argc > 1 ? argv[1] : "";
	int rc = 1;

	log_init("webhook_seed", LOG_LVL_WARN);
	if (argc < 4 || (strcmp(cmd, "hook") != 0 && strcmp(cmd, "event") != 0 &&
	                 strcmp(cmd, "resume") != 0)) {
		fprintf(stderr, "usage: webhook_seed hook TENANT|platform URL [EVENTS] | "
		                "event TENANT TYPE [N] | resume TENANT|platform HOOK\n");
		return 2;
	}
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0) {
		fprintf(stderr, "webhook_seed: %s\n", err);
		return 1;
	}
	driver = cfg_str(CFG_DATABASE_DRIVER);
	if (db_open_existing(driver,
	                     strcmp(driver, "postgres") == 0 ? cfg_str(CFG_DATABASE_DSN)
	                                                     : cfg_str(CFG_DATABASE_PATH),
	                     &db) != DB_OK ||
	    db_session_set(db, "kaiden.staff", "on") != DB_OK) {
		fprintf(stderr, "webhook_seed: cannot open the database\n");
		goto out;
	}
	if (strcmp(cmd, "hook") == 0) {
		rc = add_hook(db, argv[2], argv[3], argc > 4 ? argv[4] : "[\"ticket.created\"]") ? 1 : 0;
	} else if (strcmp(cmd, "resume") == 0) {
		rc = resume(db, argv[2], argv[3]) ? 1 : 0;
	} else {
		int n = argc > 4 ? atoi(argv[4]) : 1;
		rc = 0;
		for (int i = 1; i <= n && rc == 0; i++)
			rc = add_event(db, argv[2], argv[3], i) ? 1 : 0;
	}
out:
	db_close(db);
	return rc;
}
