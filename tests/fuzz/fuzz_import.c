/* fuzz_import.c: the tenant archive reader (common/store_archive.c:
 * store_archive_import), which takes a whole JSON document from a platform admin and
 * writes its rows. The input is the archive, parsed with the request path's JSON reader
 * (jsonx_parse) as POST /tenant/import does, into a fresh SQLite database (fuzz_db.h)
 * holding what a real one starts with (the migrations' default tenant) plus a staff
 * user (id STAFF_ID) and an API token (TOKEN_ID), for an archive to collide with or
 * point at.
 *
 * Beyond "no crash, no leak": an import that fails writes nothing (every table's row
 * count is as before); one that succeeds says which tenant it made, and none of its
 * tokens or sessions points at a user or device outside that tenant; a refusal
 * always says why, and a refused row names its table with its column. */
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "fuzz.h"
#include "fuzz_db.h"
#include "jsonx.h"
#include "migrations.h"
#include "store.h"
#include "store_archive.h"
#include "store_auth.h"

#define STAFF_ID "0190a0b0-c0d0-7e0f-8000-00000000ad01"
#define TOKEN_ID "0190a0b0-c0d0-7e0f-8000-00000000a701"

/* Rows of the imported tenant that point at a user or device outside it (the privilege
 * escalation of issue 8: a token or session of the archive naming another tenant's user
 * or the platform admin). */
static long outside_refs(struct db *db, const char *tenant_id)
{
	static const char sql[] =
		"SELECT (SELECT count(*) FROM api_tokens t WHERE t.tenant_id = $1 AND t.user_id IS NOT"
		"  NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id"
		"  AND u.tenant_id = $1))"
		" + (SELECT count(*) FROM sessions s WHERE s.tenant_id = $1 AND s.engineer_id IS NOT"
		"  NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.engineer_id"
		"  AND u.tenant_id = $1))"
		" + (SELECT count(*) FROM sessions s WHERE s.tenant_id = $1 AND NOT EXISTS"
		"  (SELECT 1 FROM devices d WHERE d.id = s.device_id AND d.tenant_id = $1))";
	const char *params[1] = { tenant_id };
	struct db_res *res = NULL;
	long n = -1;

	if (db_exec(db, sql, 1, params, &res) == DB_OK && db_res_rows(res) == 1)
		n = atol(db_res_get(res, 0, 0));
	db_res_free(res);
	return n;
}

static void fill(struct db *db)
{
	json_object *user = NULL;
	struct store_user_new staff = { NULL, "admin@example.com", "Admin", ROLE_ADMIN, NULL };
	char token[TOKEN_LEN];

	if (store_user_create(db, &staff, &user) != STORE_OK ||
	    store_token_create(db, DEFAULT_TENANT_ID, "fuzz", token, NULL) != STORE_OK)
		abort();
	json_object_put(user);
	/* Fixed ids, so a seed can point at them (an archive naming the platform admin). */
	if (db_script(db, "UPDATE users SET id = '" STAFF_ID "';"
	                  "UPDATE api_tokens SET id = '" TOKEN_ID "';") != DB_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *archive = NULL, *tenant = NULL;
	struct jsonx_error err;
	struct db *db;
	struct store_archive_why why;
	char *before, *after;
	int rc;

	fuzz_quiet("fuzz_import");
	fuzz_db_setup(fill);
	if (jsonx_parse((const char *)data, size, &archive, &err) != 0)
		return 0;
	db = fuzz_db_open();
	before = fuzz_db_counts(db, NULL);
	memset(&why, 0, sizeof(why));
	rc = store_archive_import(db, archive, &tenant, &why);
	after = fuzz_db_counts(db, NULL);
	if (!before || !after)
		abort();
	if (rc == STORE_OK && !jsonx_str(tenant, "id")) {
		fprintf(stderr, "fuzz_import: an import succeeded without a tenant id\n");
		abort();
	}
	if (rc == STORE_OK && outside_refs(db, jsonx_str(tenant, "id")) != 0) {
		fprintf(stderr, "fuzz_import: an imported token or session points outside its "
		                "tenant\n");
		abort();
	}
	if (rc != STORE_OK && strcmp(before, after) != 0) {
		fprintf(stderr, "fuzz_import: a failed import (%d: %s) changed the row counts %s -> %s\n",
		        rc, why.text, before, after);
		abort();
	}
	if (rc != STORE_OK && !why.text[0]) {
		fprintf(stderr, "fuzz_import: an archive was refused (%d) without saying why\n", rc);
		abort();
	}
	if (why.column[0] && !why.table[0]) {
		fprintf(stderr, "fuzz_import: a refused row names its column but not its table\n");
		abort();
	}
	free(before);
	free(after);
	json_object_put(tenant);
	json_object_put(archive);
	db_close(db);
	return 0;
}
