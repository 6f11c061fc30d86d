/* check_auth_cache.c: a worker's kept credentials (fcgi-app/auth_cache.h) through
 * route_dispatch, as kaiden-api's workers call it, on a SQLite file with a second
 * connection standing for another worker or an admin command: a read is answered from a
 * kept credential; writes never are; any change (another connection's commit, a row the
 * worker's own connection changes) empties the cache; a request whose credential changed
 * while it ran is confirmed false, so route.c runs it again; a revoked token is refused
 * at once. PostgreSQL's notifications are check_rls's (test_notices) and case-86's. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_cache.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "migrations.h"
#include "req.h"
#include "resp.h"
#include "route.h"
#include "secret.h"
#include "store.h"
#include "store_auth.h"

static struct db *db, *other;
static struct auth_cache cache;
static char token[TOKEN_LEN], bearer[TOKEN_LEN + 16], dir[256], path[300];
static int kept; /* r.cred_kept of the last request */

static void setup(void)
{
	char err[256];
	int applied = 0;

	ck_assert_int_eq(secret_init(), 0);
	log_init("check_auth_cache", LOG_LVL_ERROR);
	ck_assert_msg(cfg_load(NULL, err, sizeof(err)) == 0, "%s", err);
	snprintf(dir, sizeof(dir), "%s/check_auth_cache.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.db", dir);
	ck_assert_int_eq(db_open("sqlite", path, &db), DB_OK);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_eq(db_open("sqlite", path, &other), DB_OK);
	ck_assert_int_eq(store_token_create(db, DEFAULT_TENANT_ID, "test", token, NULL), STORE_OK);
	snprintf(bearer, sizeof(bearer), "Bearer %s", token);
	auth_cache_init(&cache, db);
	ck_assert_int_eq(cache.on, 1);
}

/* The token's first use records last_used_at, a change of the worker's own that empties
 * the cache once: a read to get past it. */
static int call(const char *method, const char *p);
static void first_use(void)
{
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
}

static void teardown(void)
{
	char f[340];

	db_close(other);
	db_close(db);
	for (int i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s/k.db%s", dir, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(f);
	}
	rmdir(dir);
}

static const char *param_from(void *ctx, const char *name)
{
	const char *const *kv = ctx;

	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

/* method path with the token, through the worker's cache: the status. */
static int call(const char *method, const char *p)
{
	const char *kv[] = { "REQUEST_METHOD", method, "DOCUMENT_URI", p, "HTTP_AUTHORIZATION",
	                     bearer, NULL, NULL };
	struct req r;
	struct resp rs;
	int status;

	ck_assert_int_eq(req_init(&r, param_from, kv, db), 0);
	r.auth_cache = &cache;
	resp_init(&rs);
	route_dispatch(&r, &rs);
	status = rs.status;
	kept = r.cred_kept;
	resp_clear(&rs);
	req_clear(&r);
	return status;
}

START_TEST(test_kept_for_reads)
{
	first_use();
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 0);
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 1);
	ck_assert_int_eq(call("HEAD", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 1);
	/* A write checks in full, whatever is kept. */
	ck_assert_int_eq(call("DELETE", "/api/v1/devices/0190a0b0-c0d0-7e0f-8000-000000000001"),
	                 404);
	ck_assert_int_eq(kept, 0);
}
END_TEST

/* Another connection's commit, however unrelated, empties the cache. */
START_TEST(test_other_commit)
{
	first_use();
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 1);
	/* A statement that changes no byte commits nothing: not a change. */
	ck_assert_int_eq(db_exec(other, "UPDATE tenants SET name = name", 0, NULL, NULL), DB_OK);
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 1);
	ck_assert_int_eq(db_exec(other, "UPDATE tenants SET name = name || 'x'", 0, NULL, NULL), DB_OK);
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 0);
	/* That check's own read is the one that saw the change: its answer is not kept
	 * (auth_cache_put), the next one's is. */
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 0);
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(kept, 1);
}
END_TEST

/* The token revoked by another connection, or by the worker's own: the next read is
 * refused. */
START_TEST(test_revoked)
{
	for (int own = 0; own <= 1; own++) {
		char fresh[TOKEN_LEN];

		first_use();
		ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
		ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
		ck_assert_int_eq(kept, 1);
		ck_assert_int_eq(db_exec(own ? db : other,
		                         "UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00.000Z'",
		                         0, NULL, NULL),
		                 DB_OK);
		ck_assert_int_eq(call("GET", "/api/v1/devices"), 401);
		ck_assert_int_eq(kept, 0);
		ck_assert_int_eq(store_token_create(db, DEFAULT_TENANT_ID, "again", fresh, NULL),
		                 STORE_OK);
		snprintf(bearer, sizeof(bearer), "Bearer %s", fresh);
	}
}
END_TEST

/* A change that lands while a request holds a kept credential: the request is not
 * confirmed (route.c runs it again); one that did not is. A request with no statement
 * of its own makes one to be sure. */
START_TEST(test_confirm)
{
	struct credential cred;
	struct auth_cache_use use;
	unsigned long trips;

	first_use();
	ck_assert_int_eq(call("GET", "/api/v1/devices"), 200);
	ck_assert_int_eq(auth_cache_get(&cache, db, bearer, &cred, &use), 1);
	ck_assert_int_eq(cred.who.role, ROLE_SERVICE);
	trips = db_trips(db);
	ck_assert_int_eq(auth_cache_confirm(&cache, db, &use), 1);
	ck_assert_uint_gt(db_trips(db), trips);

	ck_assert_int_eq(auth_cache_get(&cache, db, bearer, &cred, &use), 1);
	ck_assert_int_eq(db_exec(other, "UPDATE tenants SET name = name || 'x'", 0, NULL, NULL), DB_OK);
	ck_assert_int_eq(auth_cache_confirm(&cache, db, &use), 0);
	ck_assert_int_eq(auth_cache_get(&cache, db, bearer, &cred, &use), 0);
	ck_assert_int_eq(auth_cache_get(&cache, db, "Bearer kdn_unknown", &cred, &use), 0);
}
END_TEST

/* A credential whose login or token has ended is not answered from the cache. */
START_TEST(test_expired)
{
	struct credential cred;
	struct auth_cache_use use;
	unsigned long mark = auth_cache_mark(&cache, db);

	memset(&cred, 0, sizeof(cred));
	cred.who.role = ROLE_SERVICE;
	snprintf(cred.who.expires_at, sizeof(cred.who.expires_at), "2001-01-01T00:00:00.000Z");
	auth_cache_put(&cache, db, "Bearer x", &cred, mark);
	ck_assert_int_eq(auth_cache_get(&cache, db, "Bearer x", &cred, &use), 0);
	snprintf(cred.who.expires_at, sizeof(cred.who.expires_at), "2999-01-01T00:00:00.000Z");
	auth_cache_put(&cache, db, "Bearer x", &cred, mark);
	ck_assert_int_eq(auth_cache_get(&cache, db, "Bearer x", &cred, &use), 1);
	/* Something changed between the mark and the put: not kept. */
	ck_assert_int_eq(db_exec(other, "UPDATE tenants SET name = name || 'x'", 0, NULL, NULL), DB_OK);
	(void)db_notices(db, 1);
	auth_cache_put(&cache, db, "Bearer y", &cred, mark);
	ck_assert_int_eq(auth_cache_get(&cache, db, "Bearer y", &cred, &use), 0);
}
END_TEST

static Suite *auth_cache_suite(void)
{
	Suite *s = suite_create("auth_cache");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kept_for_reads);
	tcase_add_test(tc, test_other_commit);
	tcase_add_test(tc, test_revoked);
	tcase_add_test(tc, test_confirm);
	tcase_add_test(tc, test_expired);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
