/* check_store_auth.c: store_auth.h (roles, users, login, logins, throttling, user API
 * tokens, the audit log) and migration 0004, the same cases on SQLite and on
 * PostgreSQL; on PostgreSQL also the lookups as the application's role, which
 * row-level security filters. */
#include <pthread.h>

#include "ids.h"
#include "migrations.h"
#include "store.h"
#include "store_auth.h"
#include "testdb.h"

#define PAST "2020-01-01T00:00:00.000Z"

static void set_tenant_status(const char *tenant, const char *status)
{
	const char *p[2] = { status, tenant };

	T_run(T_db, "UPDATE tenants SET status = $1 WHERE id = $2", 2, p);
}

/* Creates a user (password may be NULL); its id into id (UUID_STR_LEN). */
static void mk_user(const char *tenant, const char *email, enum role role, const char *password,
                    char *id)
{
	struct store_user_new u = { tenant, email, "Some One", role, password };
	json_object *o = NULL;

	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jstr(o, "id"));
	json_object_put(o);
}

static long count_where(const char *sql, const char *param)
{
	const char *p[1] = { param };

	return T_count(T_db, sql, param ? 1 : 0, p);
}

/* The value of items[i].key of a list (borrowed). */
static const char *item(const struct store_list *l, size_t i, const char *key)
{
	ck_assert_uint_gt(json_object_array_length(l->items), i);
	return jstr(json_object_array_get_idx(l->items, i), key);
}

/* The values of key in a list's items, in order, joined by '|'. */
static void joined(const struct store_list *l, const char *key, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(l->items); i++) {
		strncat(out, i ? "|" : "", size - strlen(out) - 1);
		strncat(out, item(l, i, key), size - strlen(out) - 1);
	}
}

/* ---- roles -------------------------------------------------------------------------- */

START_TEST(test_roles)
{
	static const enum role all[] = { ROLE_ADMIN, ROLE_ENGINEER, ROLE_TENANT_ADMIN,
		                         ROLE_CUSTOMER };

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		ck_assert_int_eq(role_parse(role_name(all[i])), all[i]);
	ck_assert_str_eq(role_name(ROLE_TENANT_ADMIN), "tenant_admin");
	ck_assert_str_eq(role_name(ROLE_SERVICE), "service");
	ck_assert_int_eq(role_parse("service"), ROLE_NONE);
	ck_assert_int_eq(role_parse("Admin"), ROLE_NONE);
	ck_assert_int_eq(role_parse(""), ROLE_NONE);
	ck_assert_int_eq(role_parse(NULL), ROLE_NONE);
	ck_assert_ptr_null(role_name(ROLE_NONE));
	ck_assert_ptr_null(role_name(ROLE_STAFF));
}
END_TEST

/* ---- users -------------------------------------------------------------------------- */

START_TEST(test_user_create_get)
{
	static const char *const fields[] = { "id",     "tenant_id",  "email",      "name",
		                              "role",   "status",     "created_at", "updated_at",
		                              "last_login_at" };
	struct store_user_new staff = { NULL, "Ada@Example.COM", "Ada", ROLE_ADMIN, "pw" };
	struct store_user_new cust = { DEFAULT_TENANT_ID, "bob@example.com", "Bob", ROLE_CUSTOMER,
		                       NULL };
	json_object *a = NULL, *b = NULL, *g = NULL;
	char id[UUID_STR_LEN];

	ck_assert_int_eq(store_user_create(T_db, &staff, &a), STORE_OK);
	ck_assert(ids_is_uuid(jstr(a, "id")));
	ck_assert_int_eq(json_object_object_length(a), (int)ARRAY_LEN(fields));
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		ck_assert_msg(jhas(a, fields[i]), "user JSON lacks %s", fields[i]);
	ck_assert(!jhas(a, "password_hash"));
	ck_assert_ptr_null(jstr(a, "tenant_id"));
	ck_assert_str_eq(jstr(a, "email"), "ada@example.com");
	ck_assert_str_eq(jstr(a, "role"), "admin");
	ck_assert_str_eq(jstr(a, "status"), "active");
	ck_assert_ptr_null(jstr(a, "last_login_at"));
	ck_assert_str_eq(jstr(a, "created_at"), jstr(a, "updated_at"));
	snprintf(id, sizeof(id), "%s", jstr(a, "id"));
	/* The hash is argon2id, never the password. */
	{
		const char *p[1] = { id };
		char *h = T_value(T_db, "SELECT password_hash FROM users WHERE id = $1", 1, p);
		ck_assert_ptr_nonnull(h);
		ck_assert_ptr_nonnull(strstr(h, "$argon2id$"));
		free(h);
	}

	ck_assert_int_eq(store_user_create(T_db, &cust, &b), STORE_OK);
	ck_assert_str_eq(jstr(b, "tenant_id"), DEFAULT_TENANT_ID);

	/* Staff (NULL) reach any user; a tenant only its own. */
	ck_assert_int_eq(store_user_get(T_db, NULL, id, &g), STORE_OK);
	ck_assert_str_eq(jstr(g, "email"), "ada@example.com");
	json_object_put(g);
	add_tenant2();
	g = (json_object *)0x1;
	ck_assert_int_eq(store_user_get(T_db, DEFAULT_TENANT_ID, id, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_get(T_db, TENANT2, jstr(b, "id"), &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_get(T_db, NULL, NOBODY, &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_get(T_db, NULL, "nope", &g), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_get(T_db, "nope", id, &g), STORE_NOT_FOUND);
	ck_assert_ptr_eq(g, (json_object *)0x1);
	ck_assert_int_eq(store_user_get(T_db, DEFAULT_TENANT_ID, jstr(b, "id"), &g), STORE_OK);
	ck_assert_str_eq(jstr(g, "name"), "Bob");
	json_object_put(g);
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(test_user_create_errors)
{
	char id[UUID_STR_LEN];
	json_object *o = (json_object *)0x1;
	struct store_user_new u = { NULL, "x@example.com", "X", ROLE_ENGINEER, NULL };

	add_tenant2();
	mk_user(NULL, "x@example.com", ROLE_ENGINEER, NULL, id);
	/* Taken among staff, whatever the case. */
	u.email = "X@EXAMPLE.com";
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	/* A staff member's address is reserved: no tenant's user may take it. */
	u.tenant_id = TENANT2;
	u.role = ROLE_CUSTOMER;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	ck_assert_int_eq(count_where("SELECT count(*) FROM users WHERE email = $1",
	                             "x@example.com"),
	                 1);
	/* Another address may be a user of each tenant, once per tenant... */
	mk_user(DEFAULT_TENANT_ID, "w@example.com", ROLE_CUSTOMER, NULL, id);
	mk_user(TENANT2, "w@example.com", ROLE_TENANT_ADMIN, NULL, id);
	u.email = "W@example.com";
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	/* ...and then it is no staff member's. */
	u.tenant_id = NULL;
	u.role = ROLE_ENGINEER;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	u.tenant_id = TENANT2;
	u.role = ROLE_CUSTOMER;
	/* Role and tenant must go together. */
	u.email = "y@example.com";
	u.role = ROLE_ADMIN;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	u.tenant_id = NULL;
	u.role = ROLE_CUSTOMER;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	u.role = ROLE_TENANT_ADMIN;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_CONFLICT);
	/* No such tenant. */
	u.tenant_id = NOBODY;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_NOT_FOUND);
	u.tenant_id = "t2";
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_NOT_FOUND);
	/* Not a user role, or missing fields: the caller's mistake. */
	u.tenant_id = TENANT2;
	u.role = ROLE_SERVICE;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_ERR);
	u.role = ROLE_NONE;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_ERR);
	u.role = ROLE_CUSTOMER;
	u.email = NULL;
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_ERR);
	ck_assert_int_eq(store_user_create(T_db, NULL, &o), STORE_ERR);
	ck_assert_ptr_eq(o, (json_object *)0x1);
	ck_assert_int_eq(count_where("SELECT count(*) FROM users", NULL), 3);
}
END_TEST

static void expect_users(const char *tenant, int staff_only, const char *role, const char *q,
                         const char *want)
{
	struct store_list l;
	struct store_page page = { 50, NULL };
	char got[512];

	ck_assert_int_eq(store_user_list(T_db, tenant, staff_only, role, q, &page, &l), STORE_OK);
	joined(&l, "email", got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0,
	              "tenant=%s staff=%d role=%s q=%s: got [%s], want [%s]", tenant ? tenant : "-",
	              staff_only, role ? role : "-", q ? q : "-", got, want);
	json_object_put(l.items);
}

START_TEST(test_user_list)
{
	char id[UUID_STR_LEN];
	struct store_list l;
	struct store_page page = { 2, NULL };

	add_tenant2();
	mk_user(NULL, "admin@k.io", ROLE_ADMIN, NULL, id);
	mk_user(NULL, "eng@k.io", ROLE_ENGINEER, NULL, id);
	mk_user(DEFAULT_TENANT_ID, "ta@d.io", ROLE_TENANT_ADMIN, NULL, id);
	mk_user(DEFAULT_TENANT_ID, "c_1@d.io", ROLE_CUSTOMER, NULL, id);
	mk_user(DEFAULT_TENANT_ID, "c%2@d.io", ROLE_CUSTOMER, NULL, id);
	mk_user(TENANT2, "other@t2.io", ROLE_CUSTOMER, NULL, id);
	/* Newest first. */
	expect_users(NULL, 1, NULL, NULL, "eng@k.io|admin@k.io");
	expect_users(NULL, 0, NULL, NULL,
	             "other@t2.io|c%2@d.io|c_1@d.io|ta@d.io|eng@k.io|admin@k.io");
	expect_users(DEFAULT_TENANT_ID, 0, NULL, NULL, "c%2@d.io|c_1@d.io|ta@d.io");
	expect_users(DEFAULT_TENANT_ID, 1, NULL, NULL, "c%2@d.io|c_1@d.io|ta@d.io");
	expect_users(TENANT2, 0, NULL, NULL, "other@t2.io");
	expect_users(DEFAULT_TENANT_ID, 0, "customer", NULL, "c%2@d.io|c_1@d.io");
	expect_users(NULL, 0, "engineer", NULL, "eng@k.io");
	expect_users(NULL, 0, "nonsense", NULL, "");
	expect_users(DEFAULT_TENANT_ID, 0, NULL, "%", "c%2@d.io");
	expect_users(DEFAULT_TENANT_ID, 0, NULL, "_", "c_1@d.io");
	expect_users(NULL, 0, NULL, "K.IO", "eng@k.io|admin@k.io");
	expect_users(NULL, 0, NULL, "some one", /* the name */
	             "other@t2.io|c%2@d.io|c_1@d.io|ta@d.io|eng@k.io|admin@k.io");
	expect_users(DEFAULT_TENANT_ID, 0, "customer", "1@", "c_1@d.io");

	/* Pages. */
	ck_assert_int_eq(store_user_list(T_db, DEFAULT_TENANT_ID, 0, NULL, NULL, &page, &l),
	                 STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 2);
	ck_assert_int_eq(l.has_more, 1);
	ck_assert_str_eq(l.next_cursor, item(&l, 1, "id"));
	page.cursor = l.next_cursor;
	{
		struct store_list l2;
		ck_assert_int_eq(
		    store_user_list(T_db, DEFAULT_TENANT_ID, 0, NULL, NULL, &page, &l2), STORE_OK);
		ck_assert_int_eq(json_object_array_length(l2.items), 1);
		ck_assert_int_eq(l2.has_more, 0);
		ck_assert_str_eq(item(&l2, 0, "email"), "ta@d.io");
		json_object_put(l2.items);
	}
	json_object_put(l.items);
	page.cursor = "bad";
	ck_assert_int_eq(store_user_list(T_db, NULL, 0, NULL, NULL, &page, &l), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_list(T_db, "bad", 0, NULL, NULL, NULL, &l), STORE_NOT_FOUND);
}
END_TEST

/* A login for user (found by their email and password) and its jti. */
static void mk_login(const char *tenant, const char *email, const char *password,
                     char jti[UUID_STR_LEN])
{
	struct store_identity who;

	ck_assert_int_eq(store_login_check(T_db, tenant, email, password, &who), STORE_OK);
	ck_assert_int_eq(store_login_create(T_db, &who, 3600, jti), STORE_OK);
}

/* A user token of the user behind who; the token into token. */
static void mk_user_token(const struct store_identity *who, char token[TOKEN_LEN])
{
	json_object *o = NULL;

	ck_assert_int_eq(store_user_token_create(T_db, who, "t", 0, token, &o), STORE_OK);
	json_object_put(o);
}

START_TEST(test_user_update)
{
	char id[UUID_STR_LEN], other[UUID_STR_LEN], staff[UUID_STR_LEN], jti[UUID_STR_LEN];
	char token[TOKEN_LEN];
	struct store_identity who;
	json_object *o = NULL;
	struct store_user_patch p;

	add_tenant2();
	mk_user(DEFAULT_TENANT_ID, "ann@d.io", ROLE_CUSTOMER, "old-pw", id);
	mk_user(DEFAULT_TENANT_ID, "taken@d.io", ROLE_CUSTOMER, NULL, other);
	mk_user(NULL, "staff@k.io", ROLE_ENGINEER, NULL, staff);
	mk_user(TENANT2, "free-there@t2.io", ROLE_CUSTOMER, NULL, other);

	/* Name, email (lower-cased) and role; updated_at moves. */
	memset(&p, 0, sizeof(p));
	p.name = "Ann B";
	p.email = "ANN.B@d.io";
	p.role = ROLE_TENANT_ADMIN;
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "name"), "Ann B");
	ck_assert_str_eq(jstr(o, "email"), "ann.b@d.io");
	ck_assert_str_eq(jstr(o, "role"), "tenant_admin");
	ck_assert_str_eq(jstr(o, "status"), "active");
	ck_assert_str_ge(jstr(o, "updated_at"), jstr(o, "created_at"));
	json_object_put(o);
	o = (json_object *)0x1;

	/* An email taken in the same tenant conflicts; one taken elsewhere does not. */
	memset(&p, 0, sizeof(p));
	p.email = "Taken@d.io";
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);
	/* A staff member's address is reserved, and a tenant user's for staff. */
	p.email = "Staff@k.io";
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_CONFLICT);
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_CONFLICT);
	p.email = "free-there@t2.io";
	ck_assert_int_eq(store_user_update(T_db, NULL, staff, &p, &o), STORE_CONFLICT);
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_OK);
	json_object_put(o);
	o = (json_object *)0x1;
	/* Its own email is no conflict. */
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_OK);
	json_object_put(o);
	o = (json_object *)0x1;

	/* Roles stay on their side of staff / tenant. */
	memset(&p, 0, sizeof(p));
	p.role = ROLE_ADMIN;
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_CONFLICT);
	p.role = ROLE_CUSTOMER;
	ck_assert_int_eq(store_user_update(T_db, NULL, staff, &p, &o), STORE_CONFLICT);
	p.role = ROLE_ADMIN;
	ck_assert_int_eq(store_user_update(T_db, NULL, staff, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "role"), "admin");
	json_object_put(o);
	o = (json_object *)0x1;

	/* Another tenant's user, or a tenant scope on staff, is not found. */
	memset(&p, 0, sizeof(p));
	p.name = "x";
	ck_assert_int_eq(store_user_update(T_db, TENANT2, id, &p, &o), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, staff, &p, &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_update(T_db, NULL, NOBODY, &p, &o), STORE_NOT_FOUND);
	p.status = "gone";
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_ERR);
	p.status = NULL;
	p.role = ROLE_SERVICE;
	ck_assert_int_eq(store_user_update(T_db, NULL, id, &p, &o), STORE_ERR);
	ck_assert_int_eq(store_user_update(T_db, NULL, id, NULL, &o), STORE_ERR);
	ck_assert_ptr_eq(o, (json_object *)0x1);

	/* A new password: the old one stops working, and so do the logins made with it
	 * (not the API tokens). */
	mk_login(DEFAULT_TENANT_ID, "free-there@t2.io", "old-pw", jti);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_OK);
	mk_user_token(&who, token);
	memset(&p, 0, sizeof(p));
	p.password = "new-pw";
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	json_object_put(o);
	o = NULL;
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "free-there@t2.io", "old-pw",
	                                   &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	mk_login(DEFAULT_TENANT_ID, "free-there@t2.io", "new-pw", jti);

	/* Disabling ends logins and tokens, and logging in; enabling again brings back
	 * the login, not the tokens. */
	memset(&p, 0, sizeof(p));
	p.status = "disabled";
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	ck_assert_str_eq(jstr(o, "status"), "disabled");
	json_object_put(o);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "free-there@t2.io", "new-pw",
	                                   &who),
	                 STORE_NOT_FOUND);
	p.status = "active";
	ck_assert_int_eq(store_user_update(T_db, DEFAULT_TENANT_ID, id, &p, &o), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "free-there@t2.io", "new-pw",
	                                   &who),
	                 STORE_OK);
}
END_TEST

START_TEST(test_user_delete)
{
	char id[UUID_STR_LEN], jti[UUID_STR_LEN], token[TOKEN_LEN];
	struct store_identity who;

	add_tenant2();
	mk_user(DEFAULT_TENANT_ID, "del@d.io", ROLE_CUSTOMER, "pw", id);
	mk_login(DEFAULT_TENANT_ID, "del@d.io", "pw", jti);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_OK);
	mk_user_token(&who, token);

	ck_assert_int_eq(store_user_delete(T_db, TENANT2, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_delete(T_db, DEFAULT_TENANT_ID, NOBODY), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_delete(T_db, DEFAULT_TENANT_ID, "x"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_OK);

	ck_assert_int_eq(store_user_delete(T_db, DEFAULT_TENANT_ID, id), STORE_OK);
	ck_assert_int_eq(store_user_delete(T_db, DEFAULT_TENANT_ID, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_check(T_db, token, who.tenant_id), STORE_NOT_FOUND);
	/* The token's row stays, revoked, a user token with no user; the logins go. */
	ck_assert_int_eq(count_where("SELECT count(*) FROM api_tokens WHERE kind = 'user' "
	                             "AND user_id IS NULL AND revoked_at IS NOT NULL",
	                             NULL),
	                 1);
	ck_assert_int_eq(count_where("SELECT count(*) FROM logins", NULL), 0);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "del@d.io", "pw", &who),
	                 STORE_NOT_FOUND);
	/* Staff are deleted with no tenant scope. */
	mk_user(NULL, "s@k.io", ROLE_ADMIN, NULL, id);
	ck_assert_int_eq(store_user_delete(T_db, DEFAULT_TENANT_ID, id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_delete(T_db, NULL, id), STORE_OK);
}
END_TEST

/* ---- login -------------------------------------------------------------------------- */

START_TEST(test_login_check)
{
	char admin[UUID_STR_LEN], cust[UUID_STR_LEN], twin[UUID_STR_LEN], t2[UUID_STR_LEN];
	char nopw[UUID_STR_LEN];
	struct store_identity who;

	add_tenant2();
	mk_user(NULL, "root@k.io", ROLE_ADMIN, "admin-pw", admin);
	mk_user(DEFAULT_TENANT_ID, "cust@d.io", ROLE_CUSTOMER, "cust-pw", cust);
	mk_user(TENANT2, "t2@t2.io", ROLE_TENANT_ADMIN, "t2-pw", t2);
	mk_user(DEFAULT_TENANT_ID, "nopw@d.io", ROLE_CUSTOMER, NULL, nopw);

	/* Right password: who, with no credential yet. Emails match whatever the case. */
	memset(&who, 0x55, sizeof(who));
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "Cust@D.io", "cust-pw", &who),
	                 STORE_OK);
	ck_assert_str_eq(who.user_id, cust);
	ck_assert_str_eq(who.tenant_id, DEFAULT_TENANT_ID);
	ck_assert_str_eq(who.email, "cust@d.io");
	ck_assert_int_eq(who.role, ROLE_CUSTOMER);
	ck_assert_str_eq(who.credential_id, "");
	ck_assert_int_eq(who.tenant_suspended, 0);

	/* One answer for a wrong password, an unknown email, no password at all. */
	memset(&who, 0x55, sizeof(who));
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "cust@d.io", "wrong", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "who@d.io", "cust-pw", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "nopw@d.io", "", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "cust@d.io", NULL, &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, NULL, "x", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, "acme", "cust@d.io", "cust-pw", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(who.role, 0x55555555);

	/* No tenant named: staff only. A tenant named: its users and staff, nobody else's. */
	ck_assert_int_eq(store_login_check(T_db, NULL, "cust@d.io", "cust-pw", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, NULL, "root@k.io", "admin-pw", &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_ADMIN);
	ck_assert_str_eq(who.tenant_id, "");
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "root@k.io", "admin-pw", &who), STORE_OK);
	ck_assert_str_eq(who.user_id, admin);
	ck_assert_str_eq(who.tenant_id, "");
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "cust@d.io", "cust-pw", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "t2@t2.io", "t2-pw", &who), STORE_OK);
	ck_assert_str_eq(who.tenant_id, TENANT2);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "t2@t2.io", "t2-pw", &who),
	                 STORE_NOT_FOUND);

	/* Staff come first: a tenant user with a staff member's email (which the store no
	 * longer makes; an older row or an import may hold one) never shadows the staff
	 * account at that tenant's login. */
	{
		char hash[SECRET_HASH_LEN];
		ck_assert_int_eq(secret_hash("twin-pw", hash), 0);
		ids_uuid7(twin);
		T_run(T_db,
		      "INSERT INTO users (id, tenant_id, email, name, role, password_hash, "
		      "created_at, updated_at) VALUES ($1, $2, 'root@k.io', 'Twin', 'customer', $3, "
		      "'" PAST "', '" PAST "')",
		      3, (const char *const[]){ twin, TENANT2, hash });
	}
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "root@k.io", "admin-pw", &who), STORE_OK);
	ck_assert_str_eq(who.user_id, admin);
	ck_assert_str_eq(who.tenant_id, "");
	ck_assert_int_eq(who.role, ROLE_ADMIN);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "root@k.io", "twin-pw", &who),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "root@k.io", "admin-pw", &who),
	                 STORE_OK);
	ck_assert_str_eq(who.user_id, admin);

	/* Disabled: not found. A suspended tenant: found, and said so. */
	T_run(T_db, "UPDATE users SET status = 'disabled' WHERE id = $1", 1,
	      (const char *const[]){ cust });
	ck_assert_int_eq(store_login_check(T_db, DEFAULT_TENANT_ID, "cust@d.io", "cust-pw", &who),
	                 STORE_NOT_FOUND);
	set_tenant_status(TENANT2, "suspended");
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "t2@t2.io", "t2-pw", &who), STORE_OK);
	ck_assert_int_eq(who.tenant_suspended, 1);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "root@k.io", "admin-pw", &who), STORE_OK);
	ck_assert_int_eq(who.tenant_suspended, 0);
}
END_TEST

START_TEST(test_logins)
{
	char id[UUID_STR_LEN], jti[UUID_STR_LEN], jti2[UUID_STR_LEN], staff_jti[UUID_STR_LEN];
	struct store_identity who, got;

	add_tenant2();
	mk_user(TENANT2, "eve@t2.io", ROLE_CUSTOMER, "pw", id);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "eve@t2.io", "pw", &who), STORE_OK);
	ck_assert_int_eq(store_login_create(T_db, &who, 0, jti), STORE_ERR);
	ck_assert_int_eq(store_login_create(T_db, &who, 600, jti), STORE_OK);
	ck_assert(ids_is_uuid(jti));
	ck_assert_int_eq(count_where("SELECT count(*) FROM users WHERE id = $1 AND "
	                             "last_login_at IS NOT NULL",
	                             id),
	                 1);
	ck_assert_int_eq(count_where("SELECT count(*) FROM logins WHERE id = $1 AND tenant_id = '" TENANT2
	                             "' AND expires_at > created_at",
	                             jti),
	                 1);

	ck_assert_int_eq(store_login_lookup(T_db, jti, &got), STORE_OK);
	ck_assert_str_eq(got.user_id, id);
	ck_assert_str_eq(got.tenant_id, TENANT2);
	ck_assert_str_eq(got.email, "eve@t2.io");
	ck_assert_int_eq(got.role, ROLE_CUSTOMER);
	ck_assert_str_eq(got.credential_id, jti);
	ck_assert_int_eq(got.tenant_suspended, 0);

	/* As the user is now: another role, a suspended tenant. */
	T_run(T_db, "UPDATE users SET role = 'tenant_admin' WHERE id = $1", 1,
	      (const char *const[]){ id });
	set_tenant_status(TENANT2, "suspended");
	ck_assert_int_eq(store_login_lookup(T_db, jti, &got), STORE_OK);
	ck_assert_int_eq(got.role, ROLE_TENANT_ADMIN);
	ck_assert_int_eq(got.tenant_suspended, 1);

	/* Revoked once; then not found (lookup and revoke alike). */
	ck_assert_int_eq(store_login_create(T_db, &who, 600, jti2), STORE_OK);
	ck_assert_int_eq(store_login_revoke(T_db, jti), STORE_OK);
	ck_assert_int_eq(store_login_revoke(T_db, jti), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, jti2, &got), STORE_OK);
	ck_assert_int_eq(store_login_revoke(T_db, NOBODY), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_revoke(T_db, "x"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, NOBODY, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(T_db, "", &got), STORE_NOT_FOUND);

	/* Expired. The next login of the user clears expired ones away. */
	T_run(T_db, "UPDATE logins SET expires_at = '" PAST "' WHERE id = $1", 1,
	      (const char *const[]){ jti2 });
	ck_assert_int_eq(store_login_lookup(T_db, jti2, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_create(T_db, &who, 600, jti), STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM logins WHERE id = $1", jti2), 0);

	/* Staff: no tenant. */
	mk_user(NULL, "boss@k.io", ROLE_ADMIN, "boss-pw", id);
	mk_login(NULL, "boss@k.io", "boss-pw", staff_jti);
	ck_assert_int_eq(store_login_lookup(T_db, staff_jti, &got), STORE_OK);
	ck_assert_str_eq(got.tenant_id, "");
	ck_assert_int_eq(got.role, ROLE_ADMIN);
	ck_assert_int_eq(count_where("SELECT count(*) FROM logins WHERE id = $1 AND tenant_id IS NULL",
	                             staff_jti),
	                 1);
	/* A user gone meanwhile: refused. */
	memset(&who, 0, sizeof(who));
	snprintf(who.user_id, sizeof(who.user_id), "%s", NOBODY);
	ck_assert_int_eq(store_login_create(T_db, &who, 600, jti), STORE_NOT_FOUND);
}
END_TEST

/* ---- throttling --------------------------------------------------------------------- */

/* One reservation; its verdict. */
static enum store_throttle reserve(struct db *db, const char *email, const char *addr,
                                   const struct store_login_limits *lim,
                                   struct store_throttle_verdict *v)
{
	memset(v, 0x55, sizeof(*v));
	ck_assert_int_eq(store_login_reserve(db, email, addr, lim, v), STORE_OK);
	if (v->by == STORE_THROTTLE_NONE)
		ck_assert_msg(v->key[0] == '\0' && v->retry_after == 0, "counted, yet a key");
	else
		ck_assert_msg(v->retry_after >= 1 && v->retry_after <= lim->window_seconds &&
		                  strlen(v->window_start) == TIMESTAMP_LEN - 1,
		              "retry_after %ld, window %s", v->retry_after, v->window_start);
	return v->by;
}

static long attempts_of(const char *key)
{
	return count_where("SELECT coalesce(sum(attempts), 0) FROM login_throttle WHERE key = $1",
	                   key);
}

START_TEST(test_throttle)
{
	const struct store_login_limits lim = { 60, 3, 5 };
	struct store_throttle_verdict v;

	/* The account: its email, case-insensitive, counted before any password; the
	 * fourth is refused and not counted. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reserve(T_db, i ? "vic@d.io" : "Vic@D.io", "10.0.0.1", &lim, &v),
		                 STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "VIC@d.io", "10.0.0.2", &lim, &v), STORE_THROTTLE_ACCOUNT);
	ck_assert_str_eq(v.key, "account:vic@d.io");
	ck_assert_int_eq(attempts_of("account:vic@d.io"), 3);

	/* The address counts every attempt, refused ones too: 10.0.0.2 has 1. */
	ck_assert_int_eq(attempts_of("address:10.0.0.2"), 1);
	ck_assert_int_eq(reserve(T_db, "a@d.io", "10.0.0.1", &lim, &v), STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "b@d.io", "10.0.0.1", &lim, &v), STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "c@d.io", "10.0.0.1", &lim, &v), STORE_THROTTLE_ADDRESS);
	ck_assert_str_eq(v.key, "address:10.0.0.1");
	/* A refusal by the address counts nothing for the account (no row made). */
	ck_assert_int_eq(count_where("SELECT count(*) FROM login_throttle WHERE key = $1",
	                             "account:c@d.io"),
	                 0);
	ck_assert_int_eq(attempts_of("address:10.0.0.1"), 6);
	ck_assert_int_eq(reserve(T_db, "c@d.io", "10.0.0.3", &lim, &v), STORE_THROTTLE_NONE);
	/* No address: the account alone. */
	ck_assert_int_eq(reserve(T_db, "vic@d.io", NULL, &lim, &v), STORE_THROTTLE_ACCOUNT);
	ck_assert_int_eq(reserve(T_db, "d@d.io", NULL, &lim, &v), STORE_THROTTLE_NONE);

	/* Retry-After: until the key's window ends. */
	{
		char start[TIMESTAMP_LEN];
		ids_timestamp(ids_now_ms() - 50 * 1000, start);
		T_run(T_db, "UPDATE login_throttle SET window_start = $1 WHERE key = 'account:vic@d.io'",
		      1, (const char *const[]){ start });
	}
	ck_assert_int_eq(reserve(T_db, "vic@d.io", "10.0.0.4", &lim, &v), STORE_THROTTLE_ACCOUNT);
	ck_assert_msg(v.retry_after >= 9 && v.retry_after <= 11, "retry_after %ld, want about 10",
	              v.retry_after);

	/* A window that has ended starts again at 1. */
	T_run(T_db, "UPDATE login_throttle SET window_start = '" PAST "' "
	            "WHERE key IN ('account:vic@d.io', 'address:10.0.0.1')",
	      0, NULL);
	ck_assert_int_eq(reserve(T_db, "vic@d.io", "10.0.0.1", &lim, &v), STORE_THROTTLE_NONE);
	ck_assert_int_eq(attempts_of("account:vic@d.io"), 1);
	ck_assert_int_eq(attempts_of("address:10.0.0.1"), 1);

	/* A right password: the account's count goes, the address gets its attempt back. */
	ck_assert_int_eq(store_login_release(T_db, "Vic@d.io", "10.0.0.1"), STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM login_throttle WHERE key = $1",
	                             "account:vic@d.io"),
	                 0);
	ck_assert_int_eq(attempts_of("address:10.0.0.1"), 0);
	ck_assert_int_eq(store_login_release(T_db, "vic@d.io", "10.0.0.1"), STORE_OK);
	ck_assert_int_eq(attempts_of("address:10.0.0.1"), 0);

	/* Keys whose window has ended are pruned as attempts come: anonymous clients cannot
	 * grow the table past what one window holds. */
	T_run(T_db, "UPDATE login_throttle SET window_start = '" PAST "' WHERE key <> "
	            "'account:vic@d.io'",
	      0, NULL);
	ck_assert_int_eq(reserve(T_db, "e@d.io", "10.0.0.9", &lim, &v), STORE_THROTTLE_NONE);
	ck_assert_int_eq(count_where("SELECT count(*) FROM login_throttle", NULL), 2);

	ck_assert_int_eq(store_login_reserve(T_db, NULL, "10.0.0.1", &lim, &v), STORE_ERR);
}
END_TEST

/* An IPv6 client counts by its /64: rotating through the addresses of one /64 (which one
 * host commonly holds) buys no more attempts and makes no more rows. IPv4-mapped
 * addresses stay apart. */
START_TEST(test_throttle_ipv6_prefix)
{
	const struct store_login_limits lim = { 60, 100, 3 };
	struct store_throttle_verdict v;

	ck_assert_int_eq(reserve(T_db, "a@d.io", "2001:db8:1:2::1", &lim, &v), STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "b@d.io", "2001:DB8:1:2:ffff::9", &lim, &v),
	                 STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "c@d.io", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &lim, &v),
	                 STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "d@d.io", "2001:db8:1:2::77", &lim, &v),
	                 STORE_THROTTLE_ADDRESS);
	ck_assert_str_eq(v.key, "address:2001:db8:1:2::/64");
	ck_assert_int_eq(attempts_of("address:2001:db8:1:2::/64"), 4);
	ck_assert_int_eq(count_where("SELECT count(*) FROM login_throttle WHERE key LIKE "
	                             "'address:%'",
	                             NULL),
	                 1);
	/* Another /64, and IPv4-mapped addresses (one key each), count apart. */
	ck_assert_int_eq(reserve(T_db, "d@d.io", "2001:db8:1:3::1", &lim, &v), STORE_THROTTLE_NONE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reserve(T_db, "e@d.io", "::ffff:10.0.0.1", &lim, &v),
		                 STORE_THROTTLE_NONE);
	ck_assert_int_eq(reserve(T_db, "e@d.io", "::ffff:10.0.0.2", &lim, &v), STORE_THROTTLE_NONE);
	/* A right password gives the /64 its attempt back. */
	ck_assert_int_eq(store_login_release(T_db, "a@d.io", "2001:db8:1:2::abcd"), STORE_OK);
	ck_assert_int_eq(attempts_of("address:2001:db8:1:2::/64"), 3);
}
END_TEST

/* Parallel logins count one after another: of many at once, exactly the limit pass. */
struct throttle_worker {
	pthread_t thread;
	const struct store_login_limits *lim;
	int tries;
	int distinct_emails;
	int id;
	int passed;
	int failed;
};

static void *throttle_worker_run(void *arg)
{
	struct throttle_worker *w = arg;
	struct db *db = T_open_again();

	for (int i = 0; i < w->tries; i++) {
		struct store_throttle_verdict v;
		char email[64];
		snprintf(email, sizeof(email), "race%d@d.io", w->distinct_emails ? w->id * 100 + i : 0);
		if (store_login_reserve(db, email, "10.9.9.9", w->lim, &v) != STORE_OK)
			w->failed++;
		else if (v.by == STORE_THROTTLE_NONE)
			w->passed++;
	}
	db_close(db);
	return NULL;
}

static int throttle_race(const struct store_login_limits *lim, int distinct_emails)
{
	struct throttle_worker w[8];
	int passed = 0;

	memset(w, 0, sizeof(w));
	for (int i = 0; i < 8; i++) {
		w[i].lim = lim;
		w[i].tries = 4;
		w[i].distinct_emails = distinct_emails;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, throttle_worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(w[i].thread, NULL), 0);
		ck_assert_int_eq(w[i].failed, 0);
		passed += w[i].passed;
	}
	return passed;
}

START_TEST(test_throttle_parallel)
{
	const struct store_login_limits account = { 900, 5, 1000 }, address = { 900, 1000, 20 };

	/* 32 at once for one account: 5 pass. */
	ck_assert_int_eq(throttle_race(&account, 0), 5);
	ck_assert_int_eq(attempts_of("account:race0@d.io"), 5);
	T_run(T_db, "DELETE FROM login_throttle", 0, NULL);
	/* 32 at once from one address, each for another account: 20 pass, all 32 count. */
	ck_assert_int_eq(throttle_race(&address, 1), 20);
	ck_assert_int_eq(attempts_of("address:10.9.9.9"), 32);
}
END_TEST

/* A throttled burst is one audit row per tenant, key and window, with a count. */
START_TEST(test_audit_throttled)
{
	struct store_throttle_verdict v, w;

	add_tenant2();
	memset(&v, 0, sizeof(v));
	v.by = STORE_THROTTLE_ACCOUNT;
	snprintf(v.key, sizeof(v.key), "account:vic@d.io");
	snprintf(v.window_start, sizeof(v.window_start), "2026-01-01T00:00:00.000Z");
	v.retry_after = 5;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(store_audit_throttled(T_db, TENANT2, "vic@d.io", "10.0.0.1", "r1", &v),
		                 STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = $1",
	                             "auth.login_throttled"),
	                 1);
	{
		struct store_audit_filter f = { TENANT2, "auth.login_throttled", NULL, NULL, NULL,
			                        NULL };
		struct store_list l;
		json_object *d;
		memset(&l, 0, sizeof(l));
		ck_assert_int_eq(store_audit_list(T_db, &f, NULL, &l), STORE_OK);
		ck_assert_uint_eq(json_object_array_length(l.items), 1);
		ck_assert(json_object_object_get_ex(json_object_array_get_idx(l.items, 0), "details",
		                                    &d));
		ck_assert_int_eq(json_object_get_int(json_object_object_get(d, "count")), 3);
		ck_assert_str_eq(jstr(d, "key"), "account:vic@d.io");
		ck_assert_str_eq(jstr(d, "window_start"), "2026-01-01T00:00:00.000Z");
		ck_assert_str_eq(jstr(d, "reason"), "throttled");
		ck_assert_str_eq(jstr(json_object_array_get_idx(l.items, 0), "actor_email"),
		                 "vic@d.io");
		json_object_put(l.items);
	}
	/* Another tenant, another window, another key: rows of their own. An address's burst
	 * (no tenant) is one row too. */
	ck_assert_int_eq(store_audit_throttled(T_db, NULL, "vic@d.io", "10.0.0.1", "r2", &v),
	                 STORE_OK);
	w = v;
	snprintf(w.window_start, sizeof(w.window_start), "2026-01-01T00:15:00.000Z");
	ck_assert_int_eq(store_audit_throttled(T_db, TENANT2, "vic@d.io", "10.0.0.1", "r3", &w),
	                 STORE_OK);
	w.by = STORE_THROTTLE_ADDRESS;
	snprintf(w.key, sizeof(w.key), "address:10.0.0.1");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(store_audit_throttled(T_db, NULL, NULL, "10.0.0.1", "r4", &w),
		                 STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = $1",
	                             "auth.login_throttled"),
	                 4);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = $1 "
	                             "AND tenant_id IS NULL",
	                             "auth.login_throttled"),
	                 2);
	w.by = STORE_THROTTLE_NONE;
	ck_assert_int_eq(store_audit_throttled(T_db, NULL, NULL, NULL, NULL, &w), STORE_ERR);
}
END_TEST

/* ---- API tokens --------------------------------------------------------------------- */

START_TEST(test_user_tokens)
{
	static const char *const fields[] = { "id",         "name",         "user_id",   "created_at",
		                              "expires_at", "last_used_at", "revoked_at" };
	char id[UUID_STR_LEN], other[UUID_STR_LEN], token[TOKEN_LEN], token2[TOKEN_LEN];
	char tok_id[UUID_STR_LEN], tenant[UUID_STR_LEN];
	struct store_identity who, me, them;
	struct store_list l;
	struct store_page page = { 2, NULL };
	json_object *o = NULL;

	add_tenant2();
	mk_user(TENANT2, "tok@t2.io", ROLE_TENANT_ADMIN, "pw", id);
	mk_user(TENANT2, "them@t2.io", ROLE_CUSTOMER, "pw", other);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "tok@t2.io", "pw", &me), STORE_OK);
	ck_assert_int_eq(store_login_check(T_db, TENANT2, "them@t2.io", "pw", &them), STORE_OK);

	ck_assert_int_eq(store_user_token_create(T_db, &me, "ci", 0, token, &o), STORE_OK);
	ck_assert_int_eq(json_object_object_length(o), (int)ARRAY_LEN(fields));
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		ck_assert_msg(jhas(o, fields[i]), "token JSON lacks %s", fields[i]);
	ck_assert_str_eq(jstr(o, "name"), "ci");
	ck_assert_str_eq(jstr(o, "user_id"), id);
	ck_assert_ptr_null(jstr(o, "expires_at"));
	ck_assert_ptr_null(jstr(o, "revoked_at"));
	ck_assert_int_eq(secret_token_id(token, tok_id), 0);
	ck_assert_str_eq(tok_id, jstr(o, "id"));
	json_object_put(o);

	/* It acts as its user, as the user is now. */
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	ck_assert_str_eq(who.user_id, id);
	ck_assert_str_eq(who.tenant_id, TENANT2);
	ck_assert_str_eq(who.email, "tok@t2.io");
	ck_assert_int_eq(who.role, ROLE_TENANT_ADMIN);
	ck_assert_str_eq(who.credential_id, tok_id);
	ck_assert_int_eq(who.tenant_suspended, 0);
	T_run(T_db, "UPDATE users SET role = 'customer' WHERE id = $1", 1, (const char *const[]){ id });
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_CUSTOMER);
	set_tenant_status(TENANT2, "suspended");
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	ck_assert_int_eq(who.tenant_suspended, 1);
	set_tenant_status(TENANT2, "active");
	/* The older interface takes service tokens only. */
	ck_assert_int_eq(store_token_check(T_db, token, tenant), STORE_NOT_FOUND);

	/* last_used_at: written on use, then at most once a minute. */
	{
		const char *p[1] = { tok_id };
		char *first = T_value(T_db, "SELECT last_used_at FROM api_tokens WHERE id = $1", 1, p);
		char *again;
		ck_assert_ptr_nonnull(first);
		ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
		again = T_value(T_db, "SELECT last_used_at FROM api_tokens WHERE id = $1", 1, p);
		ck_assert_str_eq(first, again);
		free(again);
		T_run(T_db, "UPDATE api_tokens SET last_used_at = '" PAST "' WHERE id = $1", 1, p);
		ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
		again = T_value(T_db, "SELECT last_used_at FROM api_tokens WHERE id = $1", 1, p);
		ck_assert_str_ge(again, first);
		free(again);
		free(first);
	}

	/* Listing: the user's own, newest first, in pages. */
	ck_assert_int_eq(store_user_token_create(T_db, &me, "second", 3600, token2, &o), STORE_OK);
	ck_assert_ptr_nonnull(jstr(o, "expires_at"));
	json_object_put(o);
	mk_user_token(&them, token2);
	ck_assert_int_eq(store_user_token_create(T_db, &me, "third", 0, token2, NULL), STORE_OK);
	ck_assert_int_eq(store_user_token_list(T_db, id, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 2);
	ck_assert_str_eq(item(&l, 0, "name"), "third");
	ck_assert_str_eq(item(&l, 1, "name"), "second");
	ck_assert_int_eq(l.has_more, 1);
	page.cursor = l.next_cursor;
	{
		struct store_list l2;
		ck_assert_int_eq(store_user_token_list(T_db, id, &page, &l2), STORE_OK);
		ck_assert_int_eq(json_object_array_length(l2.items), 1);
		ck_assert_str_eq(item(&l2, 0, "name"), "ci");
		ck_assert_ptr_nonnull(item(&l2, 0, "last_used_at"));
		json_object_put(l2.items);
	}
	json_object_put(l.items);
	ck_assert_int_eq(store_user_token_list(T_db, "x", NULL, &l), STORE_NOT_FOUND);

	/* Revoking: only one's own, once. */
	ck_assert_int_eq(store_user_token_revoke(T_db, other, tok_id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	ck_assert_int_eq(store_user_token_revoke(T_db, id, tok_id), STORE_OK);
	ck_assert_int_eq(store_user_token_revoke(T_db, id, tok_id), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_user_token_revoke(T_db, id, "x"), STORE_NOT_FOUND);

	/* Expired. */
	ck_assert_int_eq(secret_token_id(token2, tok_id), 0);
	ck_assert_int_eq(store_token_identify(T_db, token2, &who), STORE_OK);
	T_run(T_db, "UPDATE api_tokens SET expires_at = '" PAST "' WHERE id = $1", 1,
	      (const char *const[]){ tok_id });
	ck_assert_int_eq(store_token_identify(T_db, token2, &who), STORE_NOT_FOUND);

	/* A wrong secret, malformed tokens. */
	memcpy(token2, token, TOKEN_LEN);
	token2[TOKEN_LEN - 2] = token2[TOKEN_LEN - 2] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(store_token_identify(T_db, token2, &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, "kdn_x", &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_token_identify(T_db, NULL, &who), STORE_NOT_FOUND);

	/* Out of range, or no user. */
	ck_assert_int_eq(store_user_token_create(T_db, &me, "x", -1, token2, NULL), STORE_ERR);
	memset(&who, 0, sizeof(who));
	snprintf(who.user_id, sizeof(who.user_id), "%s", NOBODY);
	ck_assert_int_eq(store_user_token_create(T_db, &who, "x", 0, token2, NULL), STORE_NOT_FOUND);
	memset(&who, 0, sizeof(who));
	ck_assert_int_eq(store_user_token_create(T_db, &who, "x", 0, token2, NULL), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_token_kinds)
{
	char id[UUID_STR_LEN], token[TOKEN_LEN], service[TOKEN_LEN], tenant[UUID_STR_LEN];
	struct store_identity staff, who;

	add_tenant2();
	/* A staff user's token has no tenant. */
	mk_user(NULL, "eng@k.io", ROLE_ENGINEER, "pw", id);
	ck_assert_int_eq(store_login_check(T_db, NULL, "eng@k.io", "pw", &staff), STORE_OK);
	mk_user_token(&staff, token);
	ck_assert_int_eq(count_where("SELECT count(*) FROM api_tokens WHERE user_id = $1 AND "
	                             "tenant_id IS NULL AND kind = 'user'",
	                             id),
	                 1);
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_ENGINEER);
	ck_assert_str_eq(who.tenant_id, "");
	ck_assert_str_eq(who.user_id, id);

	/* A service token acts as its tenant, and says when it is suspended. */
	ck_assert_int_eq(store_token_create(T_db, TENANT2, "svc", service, NULL), STORE_OK);
	ck_assert_int_eq(store_token_identify(T_db, service, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_SERVICE);
	ck_assert_str_eq(who.tenant_id, TENANT2);
	ck_assert_str_eq(who.user_id, "");
	ck_assert_str_eq(who.email, "");
	ck_assert_int_eq(who.tenant_suspended, 0);
	ck_assert_int_eq(store_token_check(T_db, service, tenant), STORE_OK);
	ck_assert_str_eq(tenant, TENANT2);
	set_tenant_status(TENANT2, "suspended");
	ck_assert_int_eq(store_token_identify(T_db, service, &who), STORE_OK);
	ck_assert_int_eq(who.tenant_suspended, 1);
	ck_assert_int_eq(store_token_check(T_db, service, tenant), STORE_OK);

	/* The schema keeps the kinds apart: a service token names no user, and a user
	 * token never turns into one. */
	ck_assert_int_eq(db_exec(T_db, "UPDATE api_tokens SET user_id = $1 WHERE kind = 'service'",
	                         1, (const char *const[]){ id }, NULL),
	                 DB_CONSTRAINT);
	ck_assert_int_eq(db_exec(T_db, "UPDATE api_tokens SET kind = 'service' WHERE kind = 'user'",
	                         0, NULL, NULL),
	                 DB_CONSTRAINT);
	/* Even a user deleted by hand, past the store, leaves its token refused. */
	T_run(T_db, "DELETE FROM users WHERE id = $1", 1, (const char *const[]){ id });
	ck_assert_int_eq(store_token_identify(T_db, token, &who), STORE_NOT_FOUND);
}
END_TEST

/* ---- audit log ---------------------------------------------------------------------- */

static void expect_audit(const struct store_audit_filter *f, const char *want)
{
	struct store_list l;
	char got[512];

	ck_assert_int_eq(store_audit_list(T_db, f, NULL, &l), STORE_OK);
	joined(&l, "action", got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "got [%s], want [%s]", got, want);
	json_object_put(l.items);
}

START_TEST(test_audit)
{
	static const char *const fields[] = { "id",          "tenant_id",   "actor_id",
		                              "actor_email", "actor_role",  "action",
		                              "target_type", "target_id",   "remote_addr",
		                              "request_id",  "details",     "created_at" };
	struct store_identity actor;
	struct store_audit_filter f;
	struct store_list l;
	struct store_page page = { 2, NULL };
	char target[UUID_STR_LEN], before[TIMESTAMP_LEN];
	json_object *details = json_object_new_object(), *d;

	add_tenant2();
	memset(&actor, 0, sizeof(actor));
	ids_uuid7(actor.user_id);
	ids_uuid7(actor.credential_id);
	snprintf(actor.email, sizeof(actor.email), "admin@k.io");
	actor.role = ROLE_ADMIN;
	ids_uuid7(target);
	json_object_object_add(details, "name", json_object_new_string("web-1"));
	{
		struct store_audit a[] = {
			{ NULL, NULL, "who@x.io", "auth.login_failed", NULL, NULL, "10.0.0.1", "r1", NULL },
			{ NULL, &actor, NULL, "auth.login", NULL, NULL, "10.0.0.1", "r2", NULL },
			{ DEFAULT_TENANT_ID, &actor, NULL, "device.create", "device", target, "10.0.0.1",
			  "r3", details },
			{ TENANT2, &actor, NULL, "device.create", "device", NULL, NULL, NULL, NULL },
			{ DEFAULT_TENANT_ID, &actor, NULL, "auth.logout", NULL, NULL, NULL, NULL, NULL },
			{ DEFAULT_TENANT_ID, NULL, NULL, "authx", NULL, NULL, NULL, NULL, NULL },
		};
		for (size_t i = 0; i < ARRAY_LEN(a); i++)
			ck_assert_int_eq(store_audit_add(T_db, &a[i]), STORE_OK);
	}
	json_object_put(details);

	/* Everything (staff), newest first, every field. */
	memset(&f, 0, sizeof(f));
	expect_audit(&f, "authx|auth.logout|device.create|device.create|auth.login|"
	                 "auth.login_failed");
	expect_audit(NULL, "authx|auth.logout|device.create|device.create|auth.login|"
	                   "auth.login_failed");
	ck_assert_int_eq(store_audit_list(T_db, &f, NULL, &l), STORE_OK);
	{
		json_object *e = json_object_array_get_idx(l.items, 3); /* the first device.create */
		ck_assert_int_eq(json_object_object_length(e), (int)ARRAY_LEN(fields));
		for (size_t i = 0; i < ARRAY_LEN(fields); i++)
			ck_assert_msg(jhas(e, fields[i]), "audit JSON lacks %s", fields[i]);
		ck_assert_str_eq(jstr(e, "tenant_id"), DEFAULT_TENANT_ID);
		ck_assert_str_eq(jstr(e, "actor_id"), actor.user_id);
		ck_assert_str_eq(jstr(e, "actor_email"), "admin@k.io");
		ck_assert_str_eq(jstr(e, "actor_role"), "admin");
		ck_assert_str_eq(jstr(e, "target_type"), "device");
		ck_assert_str_eq(jstr(e, "target_id"), target);
		ck_assert_str_eq(jstr(e, "remote_addr"), "10.0.0.1");
		ck_assert_str_eq(jstr(e, "request_id"), "r3");
		ck_assert(json_object_object_get_ex(e, "details", &d));
		ck_assert(json_object_is_type(d, json_type_object));
		ck_assert_str_eq(jstr(d, "name"), "web-1");
		e = json_object_array_get_idx(l.items, 5); /* the failed login */
		ck_assert_ptr_null(jstr(e, "tenant_id"));
		ck_assert_ptr_null(jstr(e, "actor_id"));
		ck_assert_ptr_null(jstr(e, "actor_role"));
		ck_assert_str_eq(jstr(e, "actor_email"), "who@x.io");
		ck_assert(json_object_object_get_ex(e, "details", &d));
		ck_assert_ptr_null(d);
	}
	json_object_put(l.items);

	/* A tenant sees its own entries, not the platform's. */
	f.tenant_id = DEFAULT_TENANT_ID;
	expect_audit(&f, "authx|auth.logout|device.create");
	f.tenant_id = TENANT2;
	expect_audit(&f, "device.create");
	/* Actions: exact, or a prefix ending in '.'. */
	memset(&f, 0, sizeof(f));
	f.action = "auth.";
	expect_audit(&f, "auth.logout|auth.login|auth.login_failed");
	f.action = "auth.login";
	expect_audit(&f, "auth.login");
	f.action = "auth";
	expect_audit(&f, "");
	f.tenant_id = DEFAULT_TENANT_ID;
	f.action = "device.";
	expect_audit(&f, "device.create");
	/* Actor and target. */
	memset(&f, 0, sizeof(f));
	f.actor_id = actor.user_id;
	expect_audit(&f, "auth.logout|device.create|device.create|auth.login");
	f.actor_id = NULL;
	f.target_id = target;
	expect_audit(&f, "device.create");
	f.target_id = NOBODY;
	expect_audit(&f, "");
	/* Time: since inclusive, until exclusive, in any RFC 3339 form. */
	memset(&f, 0, sizeof(f));
	f.since = "2020-01-01T00:00:00Z";
	expect_audit(&f, "authx|auth.logout|device.create|device.create|auth.login|"
	                 "auth.login_failed");
	f.until = "2020-01-01T02:00:00+02:00";
	expect_audit(&f, "");
	ids_timestamp(ids_now_ms() + 3600 * 1000, before);
	f.until = before;
	f.since = NULL;
	expect_audit(&f, "authx|auth.logout|device.create|device.create|auth.login|"
	                 "auth.login_failed");
	T_run(T_db, "UPDATE audit_log SET created_at = '2020-01-01T00:00:00.000Z' "
	            "WHERE action = 'authx'",
	      0, NULL);
	f.until = "2020-01-01T00:00:00.001Z";
	expect_audit(&f, "authx");
	f.until = "2020-01-01T02:00:00+02:00"; /* = 00:00Z: exclusive */
	expect_audit(&f, "");
	f.until = NULL;
	f.since = "2020-01-01T00:00:00Z";
	f.tenant_id = DEFAULT_TENANT_ID;
	f.action = "authx";
	expect_audit(&f, "authx");

	/* Pages. */
	ck_assert_int_eq(store_audit_list(T_db, NULL, &page, &l), STORE_OK);
	ck_assert_int_eq(json_object_array_length(l.items), 2);
	ck_assert_int_eq(l.has_more, 1);
	page.cursor = l.next_cursor;
	{
		struct store_list l2;
		ck_assert_int_eq(store_audit_list(T_db, NULL, &page, &l2), STORE_OK);
		ck_assert_int_eq(json_object_array_length(l2.items), 2);
		ck_assert_str_eq(item(&l2, 0, "action"), "device.create");
		json_object_put(l2.items);
	}
	json_object_put(l.items);

	/* Filters that cannot be right find nothing; entries that cannot be right fail. */
	memset(&f, 0, sizeof(f));
	f.since = "yesterday";
	ck_assert_int_eq(store_audit_list(T_db, &f, NULL, &l), STORE_NOT_FOUND);
	f.since = "2020-01-01 00:00:00";
	ck_assert_int_eq(store_audit_list(T_db, &f, NULL, &l), STORE_NOT_FOUND);
	f.since = NULL;
	f.actor_id = "x";
	ck_assert_int_eq(store_audit_list(T_db, &f, NULL, &l), STORE_NOT_FOUND);
	{
		json_object *arr = json_object_new_array();
		struct store_audit bad = { NULL, NULL, NULL, "x", NULL, NULL, NULL, NULL, arr };
		ck_assert_int_eq(store_audit_add(T_db, &bad), STORE_ERR);
		bad.details = NULL;
		bad.target_id = "not-a-uuid";
		ck_assert_int_eq(store_audit_add(T_db, &bad), STORE_ERR);
		bad.target_id = NULL;
		bad.action = "";
		ck_assert_int_eq(store_audit_add(T_db, &bad), STORE_ERR);
		ck_assert_int_eq(store_audit_add(T_db, NULL), STORE_ERR);
		json_object_put(arr);
	}
}
END_TEST

START_TEST(test_audit_tenant_access)
{
	struct store_identity staff, other;

	add_tenant2();
	memset(&staff, 0, sizeof(staff));
	ids_uuid7(staff.user_id);
	ids_uuid7(staff.credential_id);
	snprintf(staff.email, sizeof(staff.email), "eng@k.io");
	staff.role = ROLE_ENGINEER;
	other = staff;
	ids_uuid7(other.credential_id);

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(store_audit_tenant_access(T_db, &staff, TENANT2, "10.0.0.1", "r"),
		                 STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = 'tenant.access'",
	                             NULL),
	                 1);
	/* Another tenant, or another credential of the same user: recorded again, once. */
	ck_assert_int_eq(store_audit_tenant_access(T_db, &staff, DEFAULT_TENANT_ID, NULL, NULL),
	                 STORE_OK);
	ck_assert_int_eq(store_audit_tenant_access(T_db, &other, TENANT2, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_audit_tenant_access(T_db, &other, TENANT2, NULL, NULL), STORE_OK);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = 'tenant.access'",
	                             NULL),
	                 3);
	ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = 'tenant.access' "
	                             "AND target_type = 'tenant' AND target_id = tenant_id "
	                             "AND actor_role = 'engineer' AND tenant_id = $1",
	                             TENANT2),
	                 2);
	/* No credential, no tenant: refused rather than recorded every time. */
	other.credential_id[0] = '\0';
	ck_assert_int_eq(store_audit_tenant_access(T_db, &other, TENANT2, NULL, NULL), STORE_ERR);
	ck_assert_int_eq(store_audit_tenant_access(T_db, &staff, NULL, NULL, NULL), STORE_ERR);
}
END_TEST

/* ---- migration 0004 on a database with data -------------------------------------- */

#define UP_DEV "01900000-0000-7000-8000-00000000000d"
#define UP_SES "01900000-0000-7000-8000-00000000005e"
#define UP_JOB "01900000-0000-7000-8000-00000000000b"
#define UP_SVC "01900000-0000-7000-8000-000000000001"
#define UP_ODD "01900000-0000-7000-8000-000000000002"

/* A new database at version 3 holding a device, a session, a job, a service token
 * (written to service) and a token that names a user (none existed then). The later
 * migrations are marked as applied so migrations_apply stops at 3; *later gets how
 * many there are. */
static struct db *db_at_0003(char service[TOKEN_LEN], int *later)
{
	const char *backend = T_kind == DB_POSTGRES ? "pg" : "sqlite";
	char target[1024], digest[SECRET_DIGEST_LEN];
	struct db *db;
	int applied = -1;

	*later = 0;
	T_fresh_target(target, sizeof(target));
	ck_assert_int_eq(db_open(T_driver(), target, &db), DB_OK);
	T_run(db, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
	          "name text NOT NULL, applied_at text NOT NULL)",
	      0, NULL);
	for (const struct migration *m = migrations; m->backend; m++) {
		char version[16];
		const char *p[2] = { version, m->name };
		if (strcmp(m->backend, backend) != 0 || m->version < 4)
			continue;
		snprintf(version, sizeof(version), "%d", m->version);
		T_run(db, "INSERT INTO schema_migrations (version, name, applied_at) "
		          "VALUES ($1, $2, 'pending')",
		      2, p);
		(*later)++;
	}
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_eq(applied, 3);

	T_run(db, "INSERT INTO tenants (id, code, name) VALUES ('" TENANT2 "', 't2', 'T2')", 0, NULL);
	T_run(db, "INSERT INTO devices (id, tenant_id, name, secret_hash, helperd) "
	          "VALUES ($1, '" TENANT2 "', 'old-box', '$argon2id$x', 'hd-1')",
	      1, (const char *const[]){ UP_DEV });
	T_run(db, "INSERT INTO sessions (id, tenant_id, device_id, short_id, engineer_name, "
	          "engineer_id, access_web_app_id) VALUES ($1, '" TENANT2 "', $2, 'abcdefghij', "
	          "'Eve', $3, 'app-1')",
	      3, (const char *const[]){ UP_SES, UP_DEV, NOBODY });
	T_run(db, "INSERT INTO jobs (id, tenant_id, kind, session_id) "
	          "VALUES ($1, '" TENANT2 "', 'session.start', $2)",
	      2, (const char *const[]){ UP_JOB, UP_SES });
	secret_token_new(UP_SVC, service);
	secret_digest(service, digest);
	T_run(db, "INSERT INTO api_tokens (id, tenant_id, name, token_digest, last_used_at) "
	          "VALUES ($1, '" TENANT2 "', 'ci', $2, '" PAST "')",
	      2, (const char *const[]){ UP_SVC, digest });
	T_run(db, "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_digest) "
	          "VALUES ($1, '" TENANT2 "', $2, 'by hand', 'd2')",
	      2, (const char *const[]){ UP_ODD, NOBODY });
	return db;
}

/* The rows db_at_0003 wrote are there, as they were, and the service token works. */
static void expect_0003_rows(struct db *db, const char *service)
{
	char tenant[UUID_STR_LEN];
	struct store_identity who;

	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM devices WHERE name = 'old-box' AND "
	                             "helperd = 'hd-1'", 0, NULL),
	                 1);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM sessions WHERE engineer_id = $1 AND "
	                             "access_web_app_id = 'app-1'", 1,
	                         (const char *const[]){ NOBODY }),
	                 1);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM jobs WHERE session_id = $1", 1,
	                         (const char *const[]){ UP_SES }),
	                 1);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM api_tokens", 0, NULL), 2);
	/* The device and the session by SQL, not store_device_get and store_session_get:
	 * those read columns later migrations add (0014's node columns, ...), and
	 * test_upgrade_0004 applies 0004 alone. */
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM devices WHERE id = $1 AND tenant_id = '"
	                             TENANT2 "' AND deleted_at IS NULL", 1,
	                         (const char *const[]){ UP_DEV }),
	                 1);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM sessions WHERE id = $1 AND tenant_id = '"
	                             TENANT2 "'", 1, (const char *const[]){ UP_SES }),
	                 1);
	ck_assert_int_eq(store_token_check(db, service, tenant), STORE_OK);
	ck_assert_str_eq(tenant, TENANT2);
	ck_assert_int_eq(store_token_identify(db, service, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_SERVICE);
}

START_TEST(test_upgrade_0004_keeps_rows)
{
	char service[TOKEN_LEN];
	json_object *o = NULL;
	struct db *db;
	int later, applied = -1;

	db = db_at_0003(service, &later);
	T_run(db, "DELETE FROM schema_migrations WHERE version = 4", 0, NULL);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_eq(applied, 1);
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM api_tokens WHERE id = $1 AND "
	                             "last_used_at = '" PAST "' AND kind = 'service' AND "
	                             "user_id IS NULL AND revoked_at IS NULL AND expires_at IS NULL",
	                         1, (const char *const[]){ UP_SVC }),
	                 1);
	expect_0003_rows(db, service);
	/* The token that named a user that never was is a revoked user token. */
	ck_assert_int_eq(T_count(db, "SELECT count(*) FROM api_tokens WHERE id = $1 AND "
	                             "kind = 'user' AND user_id IS NULL AND revoked_at IS NOT NULL",
	                         1, (const char *const[]){ UP_ODD }),
	                 1);
	/* The rebuilt table (SQLite) kept its keys and indexes. */
	ck_assert_int_eq(db_exec(db, "INSERT INTO api_tokens (id, tenant_id, name, token_digest) "
	                             "VALUES ($1, $2, 'x', 'd3')",
	                         2, (const char *const[]){ NOBODY, NOBODY }, NULL),
	                 DB_CONSTRAINT);
	ck_assert_int_eq(db_exec(db, "INSERT INTO api_tokens (id, tenant_id, name, token_digest) "
	                             "VALUES ($1, $2, 'x', 'd2')",
	                         2, (const char *const[]){ NOBODY, TENANT2 }, NULL),
	                 DB_CONSTRAINT);
	ck_assert_int_eq(T_count(db,
	                         T_kind == DB_POSTGRES
	                             ? "SELECT count(*) FROM pg_indexes WHERE schemaname = "
	                               "current_schema() AND indexname IN ('api_tokens_tenant_idx', "
	                               "'api_tokens_user_idx')"
	                             : "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	                               "name IN ('api_tokens_tenant_idx', 'api_tokens_user_idx')",
	                         0, NULL),
	                 2);
	/* And accounts work on it, once the later migrations (which the store's SQL needs)
	 * are applied on top. */
	T_run(db, "DELETE FROM schema_migrations WHERE version > 4", 0, NULL);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_eq(applied, later - 1);
	{
		struct store_user_new u = { TENANT2, "new@t2.io", "New", ROLE_CUSTOMER, NULL };
		ck_assert_int_eq(store_user_create(db, &u, &o), STORE_OK);
		json_object_put(o);
	}
	db_close(db);
}
END_TEST

/* The whole way from 0003 to the latest version, with data. */
START_TEST(test_upgrade_to_latest)
{
	char service[TOKEN_LEN];
	struct db *db;
	int later, applied = -1;

	db = db_at_0003(service, &later);
	T_run(db, "DELETE FROM schema_migrations WHERE version >= 4", 0, NULL);
	ck_assert_int_eq(migrations_apply(db, &applied), 0);
	ck_assert_int_eq(applied, later);
	expect_0003_rows(db, service);
	db_close(db);
}
END_TEST

/* ---- PostgreSQL: the lookups as the application's role ---------------------------- */

/* Row-level security hides every row from the application's role outside a scope; the
 * lookups made before the tenant is known still answer, through 0004's SECURITY
 * DEFINER functions, and those are pinned to their schema. */
START_TEST(test_pg_lookups_under_rls)
{
	char id[UUID_STR_LEN], jti[UUID_STR_LEN], token[TOKEN_LEN], service[TOKEN_LEN];
	struct store_identity who;
	struct db *app;
	char *config;

	add_tenant2();
	mk_user(TENANT2, "rls@t2.io", ROLE_CUSTOMER, "pw", id);
	mk_login(TENANT2, "rls@t2.io", "pw", jti);
	ck_assert_int_eq(store_login_lookup(T_db, jti, &who), STORE_OK);
	mk_user_token(&who, token);
	ck_assert_int_eq(store_token_create(T_db, TENANT2, "svc", service, NULL), STORE_OK);
	T_run(T_db, "UPDATE api_tokens SET last_used_at = '" PAST "'", 0, NULL);

	app = T_open_app();
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM users", 0, NULL), 0);
	ck_assert_int_eq(T_count(app, "SELECT count(*) FROM api_tokens", 0, NULL), 0);
	ck_assert_int_eq(store_login_check(app, TENANT2, "rls@t2.io", "pw", &who), STORE_OK);
	ck_assert_str_eq(who.user_id, id);
	ck_assert_int_eq(store_login_check(app, TENANT2, "rls@t2.io", "no", &who), STORE_NOT_FOUND);
	ck_assert_int_eq(store_login_lookup(app, jti, &who), STORE_OK);
	ck_assert_str_eq(who.tenant_id, TENANT2);
	ck_assert_int_eq(store_token_identify(app, token, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_CUSTOMER);
	ck_assert_int_eq(store_token_identify(app, service, &who), STORE_OK);
	ck_assert_int_eq(who.role, ROLE_SERVICE);
	/* Throttling and its audit work as the application (issue 8): the count goes up
	 * through kaiden_audit_throttled, though the role may not update the log itself. */
	{
		const struct store_login_limits lim = { 60, 1, 100 };
		struct store_throttle_verdict v;
		ck_assert_int_eq(reserve(app, "rls@t2.io", "10.1.1.1", &lim, &v), STORE_THROTTLE_NONE);
		ck_assert_int_eq(reserve(app, "rls@t2.io", "10.1.1.1", &lim, &v),
		                 STORE_THROTTLE_ACCOUNT);
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(store_audit_throttled(app, TENANT2, "rls@t2.io", "10.1.1.1",
			                                       "r", &v),
			                 STORE_OK);
		ck_assert_int_eq(store_login_release(app, "rls@t2.io", "10.1.1.1"), STORE_OK);
		ck_assert_int_eq(count_where("SELECT count(*) FROM audit_log WHERE action = "
		                             "'auth.login_throttled' AND details->>'count' = $1",
		                             "2"),
		                 1);
		ck_assert_int_eq(db_exec(app, "UPDATE audit_log SET details = details", 0, NULL, NULL),
		                 DB_ERR);
	}
	/* A tenant's scope sees no staff, yet a staff member's email is refused there. */
	mk_user(NULL, "staff-rls@k.io", ROLE_ENGINEER, NULL, id);
	{
		struct store_user_new u = { TENANT2, "staff-rls@k.io", "Twin", ROLE_CUSTOMER, NULL };
		json_object *o = NULL;
		ck_assert_int_eq(db_scope_begin(app, TENANT2, 0), DB_OK);
		ck_assert_int_eq(store_user_create(app, &u, &o), STORE_CONFLICT);
		u.email = "free-rls@t2.io";
		ck_assert_int_eq(store_user_create(app, &u, &o), STORE_OK);
		json_object_put(o);
		ck_assert_int_eq(db_scope_end(app, 1), DB_OK);
	}
	db_close(app);
	/* The use was recorded through the function too. */
	ck_assert_int_eq(count_where("SELECT count(*) FROM api_tokens WHERE last_used_at > '" PAST
	                             "'",
	                             NULL),
	                 2);

	config = T_value(T_db,
	                 "SELECT array_to_string(proconfig, ';') FROM pg_proc "
	                 "WHERE proname = 'kaiden_auth_token' "
	                 "AND pronamespace = to_regnamespace(current_schema())",
	                 0, NULL);
	ck_assert_ptr_nonnull(config);
	ck_assert_msg(strstr(config, "kaiden.staff=on") && strstr(config, ", pg_temp") &&
	                  strstr(config, T_schemas[0]),
	              "proconfig: %s", config);
	free(config);
	/* Only roles granted it may call one. */
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM pg_proc WHERE proname LIKE 'kaiden\\_auth%' "
	                         "AND pronamespace = to_regnamespace(current_schema()) "
	                         "AND has_function_privilege('public', oid, 'EXECUTE')",
	                         0, NULL),
	                 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_auth");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	T_ADD(sq, pg, test_roles);
	T_ADD(sq, pg, test_user_create_get);
	T_ADD(sq, pg, test_user_create_errors);
	T_ADD(sq, pg, test_user_list);
	T_ADD(sq, pg, test_user_update);
	T_ADD(sq, pg, test_user_delete);
	T_ADD(sq, pg, test_login_check);
	T_ADD(sq, pg, test_logins);
	T_ADD(sq, pg, test_throttle);
	T_ADD(sq, pg, test_throttle_ipv6_prefix);
	T_ADD(sq, pg, test_throttle_parallel);
	T_ADD(sq, pg, test_audit_throttled);
	T_ADD(sq, pg, test_user_tokens);
	T_ADD(sq, pg, test_token_kinds);
	T_ADD(sq, pg, test_audit);
	T_ADD(sq, pg, test_audit_tenant_access);
	T_ADD(sq, pg, test_upgrade_0004_keeps_rows);
	T_ADD(sq, pg, test_upgrade_to_latest);
	tcase_add_test(pg, test_pg_lookups_under_rls);
	return T_main(s, sq, pg);
}
