/* store_auth_row.h: what the accounts files of the store share (store_user.c,
 * store_login.c, store_token.c; private to them, as store_row.h is to the store).
 *
 * The three credential lookups (the login check, a login's jti, an API token) read the
 * user behind the credential through one SELECT each: a plain statement on SQLite, a
 * SECURITY DEFINER function on PostgreSQL (sql/pg/0004_accounts.sql), since they run
 * before the request's tenant is known. Each result starts with the same six columns,
 * so one function turns any of them into a store_identity. */
#ifndef KAIDEN_STORE_AUTH_ROW_H
#define KAIDEN_STORE_AUTH_ROW_H

#include "compat.h"

struct db_res;
struct store_identity;

/* The leading columns of every credential lookup: user_id (NULL for a service token),
 * tenant_id (NULL for staff), email, role ("service" for a service token), user_status
 * ("active" for a service token), tenant_status. */
enum auth_col {
	AUTH_COL_USER_ID,
	AUTH_COL_TENANT_ID,
	AUTH_COL_EMAIL,
	AUTH_COL_ROLE,
	AUTH_COL_USER_STATUS,
	AUTH_COL_TENANT_STATUS,
	AUTH_COL__MAX /* the credential's own columns follow */
};

/* The identity in row 0 of res, with credential_id (may be ""): 0, or -1 when it is no
 * one who may act: no row, a user gone or not active, a role that is not known, or a
 * role and tenant that do not go together. *out is written only on 0. */
int store_identity_row(const struct db_res *res, const char *credential_id,
                       struct store_identity *out) WUR;

#endif
