/* webhook_seed.c: test-only writer of webhooks and their events, straight into the
 * database named by the usual settings (KAIDEN_DATABASE_*, KAIDEN_AUTH_JWT_SECRET), for
 * the delivery tests to run without kaiden-api's webhook routes:
 *
 *   webhook_seed hook TENANT_ID|platform URL [EVENTS]
 *                                                 prints "<hook id> <secret>"; EVENTS:
 *                                                 a JSON array (["ticket.created"])
 *   webhook_seed event TENANT_ID TYPE [N]        N (default 1) events; prints their ids
 *   webhook_seed resume HOOK_ID                  re-enables it (store_webhook_resume)
 *
 * An event follows the emission contract (common/store_webhook.c's store_webhook_emit):
 * in one transaction, a webhook_events row with the body {id, type, created_at,
 * tenant_id, data}, a pending delivery for each active hook of the tenant or of the
 * platform whose events list has TYPE, and a "webhook.deliver" job for each of those
 * hooks unless one is queued (store_job_add_webhook), with NOTIFY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "store_row.h"
#include "store_webhook_delivery.h"
#include "webhook_secret.h"

static int add_hook(struct db *db, const char *tenant, const char *url, const char *events)
{
	char id[UUID_STR_LEN], secret[WEBHOOK_SECRET_LEN], sealed[WEBHOOK_SEALED_MAX];
	const char *p[5] = { id, strcmp(tenant, "platform") == 0 ? NULL : tenant, url, sealed,
		             events };

	ids_uuid7(id);
	webhook_secret_new(secret);
	if (webhook_secret_seal(cfg_str(CFG_AUTH_JWT_SECRET), secret, sealed) != 0 ||
	    db_exec(db,
	            "INSERT INTO webhooks (id, tenant_id, url, events, secret_sealed) "
	            "VALUES ($1, $2, $3, $5, $4)",
	            5, p, NULL) != DB_OK)
		return -1;
	printf("%s %s\n", id, secret);
	return 0;
}

static int add_event(struct db *db, const char *tenant, const char *type, int seq)
{
	char id[UUID_STR_LEN], now[TIMESTAMP_LEN], body[512], pattern[96];
	const char *p[4] = { id, tenant, type, body };
	struct db_res *res = NULL;
	int rc = -1;

	ids_uuid7(id);
	store_time(0, now);
	snprintf(body, sizeof(body),
	         "{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":\"%s\",\"tenant_id\":\"%s\","
	         "\"data\":{\"seq\":%d}}",
	         id, type, now, tenant, seq);
	snprintf(pattern, sizeof(pattern), "%%\"%s\"%%", type);
	if (db_begin(db) != DB_OK)
		return -1;
	if (db_exec(db, "INSERT INTO webhook_events (id, tenant_id, type, body) VALUES ($1, $2, $3, $4)",
	            4, p, NULL) != DB_OK)
		goto out;
	{
		const char *q[2] = { tenant, pattern };
		if (db_exec(db,
		            "SELECT id FROM webhooks WHERE (tenant_id = $1 OR tenant_id IS NULL) "
		            "AND status = 'active' AND events LIKE $2 ORDER BY id",
		            2, q, &res) != DB_OK)
			goto out;
	}
	for (int i = 0; i < db_res_rows(res); i++) {
		char delivery[UUID_STR_LEN];
		const char *d[5] = { delivery, tenant, db_res_get(res, i, 0), id, now };
		ids_uuid7(delivery);
		if (db_exec(db,
		            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, "
		            "next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $5)",
		            5, d, NULL) != DB_OK ||
		    store_job_add_webhook(db, tenant, d[2], now) != STORE_OK)
			goto out;
	}
	if (db_commit(db) != DB_OK)
		goto out;
	printf("%s\n", id);
	rc = 0;
out:
	if (rc != 0)
		db_rollback(db);
	db_res_free(res);
	return rc;
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	char err[256];
	const char *driver;
	int rc = 1;

	log_init("webhook_seed", LOG_LVL_WARN);
	if (argc < 3 || (strcmp(argv[1], "resume") != 0 && argc < 4) ||
	    (strcmp(argv[1], "hook") != 0 && strcmp(argv[1], "event") != 0 &&
	     strcmp(argv[1], "resume") != 0)) {
		fprintf(stderr, "usage: webhook_seed hook TENANT|platform URL [EVENTS] | "
		                "event TENANT TYPE [N] | resume HOOK\n");
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
	if (strcmp(argv[1], "resume") == 0) {
		char now[TIMESTAMP_LEN];
		store_time(0, now);
		rc = db_begin(db) == DB_OK && store_webhook_resume(db, argv[2], now) == STORE_OK &&
		             db_commit(db) == DB_OK
		             ? 0 : 1;
		if (rc)
			db_rollback(db);
	} else if (strcmp(argv[1], "hook") == 0) {
		rc = add_hook(db, argv[2], argv[3], argc > 4 ? argv[4] : "[\"ticket.created\"]") == 0
		             ? 0 : 1;
	} else {
		int n = argc > 4 ? atoi(argv[4]) : 1;
		rc = 0;
		for (int i = 1; i <= n && rc == 0; i++)
			rc = add_event(db, argv[2], argv[3], i) == 0 ? 0 : 1;
	}
out:
	db_close(db);
	return rc;
}
