/* check_store_relay.c: what helperd's relay reads and writes in the database, the same
 * cases on SQLite and on PostgreSQL: store_relay.h (a session by id, the standing of
 * running streams' sessions, the bytes) and credential.h (identify a Bearer header,
 * then re-check the credential by its id after a revocation, a disabled user, a
 * suspended tenant). */
#include "cfg.h"
#include "credential.h"
#include "ids.h"
#include "store.h"
#include "store_auth.h"
#include "store_relay.h"
#include "store_tenant.h"
#include "testdb.h"

static void mk_tenant(const char *code, char *id)
{
	struct store_tenant_fields f = { code, code, NULL, NULL, NULL, NULL, NULL };
	json_object *t = NULL, *v;

	ck_assert_int_eq(store_tenant_create(T_db, &f, &t), STORE_OK);
	ck_assert(json_object_object_get_ex(t, "id", &v));
	snprintf(id, UUID_STR_LEN, "%s", json_object_get_string(v));
	json_object_put(t);
}

static void suspend(const char *tenant)
{
	struct store_tenant_fields f = { NULL, NULL, "suspended", NULL, NULL, NULL, NULL };
	json_object *t = NULL;

	ck_assert_int_eq(store_tenant_update(T_db, tenant, &f, &t), STORE_OK);
	json_object_put(t);
}

/* A relay session (pending) of a new device in tenant; its id into id. */
static void mk_session(const char *tenant, const char *engineer, char *id)
{
	struct store_session_new s = { NULL, "Eve", NULL, "example.com", 22, 8080, engineer,
	                               SEAM_PROVIDER_RELAY, NULL };
	json_object *d = NULL, *o = NULL, *v;
	char dev[UUID_STR_LEN];

	ck_assert_int_eq(store_device_create(T_db, tenant, "m", "$argon2id$fake-hash", &d),
	                 STORE_OK);
	ck_assert(json_object_object_get_ex(d, "id", &v));
	snprintf(dev, sizeof(dev), "%s", json_object_get_string(v));
	json_object_put(d);
	s.device_id = dev;
	ck_assert_int_eq(store_session_create(T_db, tenant, &s, &o), STORE_OK);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	snprintf(id, UUID_STR_LEN, "%s", json_object_get_string(v));
	json_object_put(o);
}

static void set_status(const char *id, const char *status)
{
	const char *p[2] = { id, status };

	ck_assert_int_eq(db_exec(T_db, "UPDATE sessions SET status = $2 WHERE id = $1", 2, p, NULL),
	                 DB_OK);
}

START_TEST(test_session_get)
{
	struct store_relay_session s;
	char tenant[UUID_STR_LEN], sess[UUID_STR_LEN], upper[UUID_STR_LEN], other[UUID_STR_LEN];

	mk_tenant("acme", tenant);
	mk_session(tenant, NULL, sess);
	/* Found by id alone, in either case; the row's tenant and device come with it. */
	for (int i = 0; i < UUID_STR_LEN; i++)
		upper[i] = (char)(sess[i] >= 'a' && sess[i] <= 'f' ? sess[i] - 'a' + 'A' : sess[i]);
	ck_assert_int_eq(store_relay_session_get_any(T_db, upper, &s), STORE_OK);
	ck_assert_str_eq(s.id, sess);
	ck_assert_str_eq(s.tenant_id, tenant);
	ck_assert_uint_eq(strlen(s.device_id), UUID_STR_LEN - 1);
	ck_assert_str_eq(s.engineer_id, "");
	ck_assert_int_eq(s.status, SEAM_STATUS_PENDING);
	ck_assert_int_eq(s.provider, SEAM_PROVIDER_RELAY);
	ck_assert_int_eq(s.tenant_suspended, 0);
	set_status(sess, "active");
	suspend(tenant);
	ck_assert_int_eq(store_relay_session_get_any(T_db, sess, &s), STORE_OK);
	ck_assert_int_eq(s.status, SEAM_STATUS_ACTIVE);
	ck_assert_int_eq(s.tenant_suspended, 1);
	/* No such session, not a UUID. */
	ids_uuid7(other);
	ck_assert_int_eq(store_relay_session_get_any(T_db, other, &s), STORE_NOT_FOUND);
	ck_assert_int_eq(store_relay_session_get_any(T_db, "nope", &s), STORE_NOT_FOUND);
	ck_assert_int_eq(store_relay_session_get_any(T_db, NULL, &s), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_standing_and_bytes)
{
	char acme[UUID_STR_LEN], beta[UUID_STR_LEN], a[UUID_STR_LEN], b[UUID_STR_LEN],
		c[UUID_STR_LEN], gone[UUID_STR_LEN];
	const char *ids[4] = { a, b, c, gone };
	unsigned char standing[4] = { 9, 9, 9, 9 };
	const char *p[1] = { a };
	char *v;

	mk_tenant("acme", acme);
	mk_tenant("beta", beta);
	mk_session(acme, NULL, a);
	mk_session(acme, NULL, b);
	mk_session(beta, NULL, c);
	ids_uuid7(gone);
	set_status(a, "active");
	set_status(b, "ending");
	set_status(c, "active");
	suspend(beta);
	ck_assert_int_eq(store_relay_standing_any(T_db, ids, 4, standing), STORE_OK);
	ck_assert_int_eq(standing[0], STORE_RELAY_LIVE);
	ck_assert_int_eq(standing[1], STORE_RELAY_ENDED);
	ck_assert_int_eq(standing[2], STORE_RELAY_SUSPENDED);
	ck_assert_int_eq(standing[3], STORE_RELAY_ENDED);
	ck_assert_int_eq(store_relay_standing_any(T_db, ids, 0, standing), STORE_OK);

	/* Bytes add up; the tenant must be the row's. */
	ck_assert_int_eq(store_relay_add_bytes(T_db, acme, a, 1000, 5), STORE_OK);
	ck_assert_int_eq(store_relay_add_bytes(T_db, acme, a, 5000000000ULL, 7), STORE_OK);
	ck_assert_int_eq(store_relay_add_bytes(T_db, acme, a, 0, 0), STORE_OK);
	ck_assert_int_eq(store_relay_add_bytes(T_db, beta, a, 1, 1), STORE_NOT_FOUND);
	ck_assert_int_eq(store_relay_add_bytes(T_db, acme, gone, 1, 1), STORE_NOT_FOUND);
	v = T_value(T_db, "SELECT bytes_in || ' ' || bytes_out FROM sessions WHERE id = $1", 1, p);
	ck_assert_str_eq(v, "5000001000 12");
	free(v);
}
END_TEST

static void header(char *out, size_t size, const char *token)
{
	snprintf(out, size, "Bearer %s", token);
}

START_TEST(test_credential)
{
	struct store_user_new u = { NULL, "eng@example.com", "Eng", ROLE_ENGINEER, NULL };
	struct store_user_patch off = { NULL, NULL, ROLE_NONE, "disabled", NULL };
	char token[TOKEN_LEN], service[TOKEN_LEN], h[TOKEN_LEN + 16], tenant[UUID_STR_LEN];
	struct store_identity who, now;
	struct credential cred, scred;
	json_object *o = NULL, *v;
	int store_rc = 0;

	/* Shapes of the header, before any lookup. */
	ck_assert_int_eq(credential_identify(T_db, NULL, "t", &cred, &store_rc), CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify(T_db, "", "t", &cred, &store_rc), CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify(T_db, "Basic eA==", "t", &cred, &store_rc),
	                 CREDENTIAL_MALFORMED);
	ck_assert_int_eq(credential_identify(T_db, "Bearer ", "t", &cred, &store_rc),
	                 CREDENTIAL_UNKNOWN);
	ck_assert_int_eq(credential_identify(T_db, "Bearer kdn_nope", "t", &cred, &store_rc),
	                 CREDENTIAL_UNKNOWN);
	/* No auth.jwt_secret: no login token is valid. */
	ck_assert_int_eq(credential_identify(T_db, "Bearer a.b.c", "t", &cred, &store_rc),
	                 CREDENTIAL_UNKNOWN);
	/* The login cookie (helperd's event stream): absent, malformed, too long. */
	ck_assert_int_eq(credential_identify_cookie(T_db, NULL, "t", &cred, &store_rc),
	                 CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify_cookie(T_db, "", "t", &cred, &store_rc),
	                 CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify_cookie(T_db, "kaiden_csrf=x; other=1", "t", &cred,
	                                            &store_rc),
	                 CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify_cookie(T_db, "kaiden_session=a b.c", "t", &cred,
	                                            &store_rc),
	                 CREDENTIAL_MISSING);
	ck_assert_int_eq(credential_identify_cookie(T_db, "kaiden_session=a.b.c", "t", &cred,
	                                            &store_rc),
	                 CREDENTIAL_UNKNOWN);
	{
		char big[9000];

		memset(big, 'a', sizeof(big) - 1);
		memcpy(big, "kaiden_session=", 15);
		big[sizeof(big) - 1] = '\0';
		ck_assert_int_eq(credential_identify_cookie(T_db, big, "t", &cred, &store_rc),
		                 CREDENTIAL_MALFORMED);
	}

	/* A user's API token: identified as the user; re-checked by its id. */
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_OK);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	memset(&who, 0, sizeof(who));
	snprintf(who.user_id, sizeof(who.user_id), "%s", json_object_get_string(v));
	who.role = ROLE_ENGINEER;
	json_object_put(o);
	o = NULL;
	ck_assert_int_eq(store_user_token_create(T_db, &who, "t", 0, token, NULL), STORE_OK);
	header(h, sizeof(h), token);
	ck_assert_int_eq(credential_identify(T_db, h, "t", &cred, &store_rc), CREDENTIAL_OK);
	ck_assert_int_eq(cred.kind, CREDENTIAL_TOKEN);
	ck_assert_int_eq(cred.who.role, ROLE_ENGINEER);
	ck_assert_str_eq(cred.who.user_id, who.user_id);
	ck_assert_int_eq(credential_recheck(T_db, &cred, &now, &store_rc), CREDENTIAL_OK);
	ck_assert_str_eq(now.user_id, who.user_id);
	/* A valid API token is still no cookie: only a login is ever one. */
	snprintf(h, sizeof(h), "kaiden_session=%s", token);
	ck_assert_int_eq(credential_identify_cookie(T_db, h, "t", &scred, &store_rc),
	                 CREDENTIAL_UNKNOWN);
	header(h, sizeof(h), token);
	ck_assert_str_eq(now.credential_id, cred.who.credential_id);
	/* Disabling the user revokes it: unknown from then on, both ways. */
	ck_assert_int_eq(store_user_update(T_db, NULL, who.user_id, &off, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(credential_recheck(T_db, &cred, &now, &store_rc), CREDENTIAL_UNKNOWN);
	ck_assert_int_eq(credential_identify(T_db, h, "t", &cred, &store_rc), CREDENTIAL_UNKNOWN);

	/* A service token of a tenant that is then suspended: still identified, suspended
	 * says so. */
	mk_tenant("acme", tenant);
	ck_assert_int_eq(store_token_create(T_db, tenant, "svc", service, NULL), STORE_OK);
	header(h, sizeof(h), service);
	ck_assert_int_eq(credential_identify(T_db, h, "t", &scred, &store_rc), CREDENTIAL_OK);
	ck_assert_int_eq(scred.who.role, ROLE_SERVICE);
	ck_assert_str_eq(scred.who.tenant_id, tenant);
	ck_assert_int_eq(scred.who.tenant_suspended, 0);
	suspend(tenant);
	ck_assert_int_eq(credential_recheck(T_db, &scred, &now, &store_rc), CREDENTIAL_OK);
	ck_assert_int_eq(now.tenant_suspended, 1);
	/* A credential id that names nothing. */
	ids_uuid7(scred.who.credential_id);
	ck_assert_int_eq(credential_recheck(T_db, &scred, &now, &store_rc), CREDENTIAL_UNKNOWN);
	scred.kind = CREDENTIAL_LOGIN;
	ck_assert_int_eq(credential_recheck(T_db, &scred, &now, &store_rc), CREDENTIAL_UNKNOWN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_relay");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	char err[256];

	(void)T_open_again; /* testdb.h's, unused here */
	(void)T_count;
	if (cfg_load(NULL, err, sizeof(err)) != 0 || secret_init() != 0)
		return EXIT_FAILURE;
	T_ADD(sq, pg, test_session_get);
	T_ADD(sq, pg, test_standing_and_bytes);
	T_ADD(sq, pg, test_credential);
	return T_main(s, sq, pg);
}
