/* store_auth.h: accounts. Users, login records (the jti of a login token), per-user API
 * tokens, login throttling, and the audit log. Conventions as store.h (return codes,
 * pages, JSON built here).
 *
 * Who is who (seed 000 §3.3, seed 004):
 *   admin, engineer         platform staff: users.tenant_id is NULL; they serve every
 *                           tenant (which one a request acts for is auth.c's business)
 *   tenant_admin, customer  belong to exactly one tenant
 * Emails are stored lower-cased and are unique among staff and within a tenant (the same
 * address may exist in two tenants, never as staff and a tenant user both: staff emails
 * are reserved). Passwords are argon2id (secret.h).
 *
 * Lookups made before the request's tenant is known (the token check, login) read
 * across tenants: on PostgreSQL they go through SECURITY DEFINER functions (migration
 * 0004), so row-level security can stay forced on the tables themselves. */
#ifndef KAIDEN_STORE_AUTH_H
#define KAIDEN_STORE_AUTH_H

#include <json-c/json.h>
#include "compat.h"
#include "ids.h"
#include "secret.h"
#include "store.h"

/* ---- roles -------------------------------------------------------------------------- */

enum role {
	ROLE_NONE = 0,
	ROLE_ADMIN = 1 << 0,
	ROLE_ENGINEER = 1 << 1,
	ROLE_TENANT_ADMIN = 1 << 2,
	ROLE_CUSTOMER = 1 << 3,
	ROLE_SERVICE = 1 << 4  /* a tenant-wide API token with no user (kaiden-api token
	                          create without --user; what make run's admin.token is) */
};
#define ROLE_STAFF (ROLE_ADMIN | ROLE_ENGINEER)
#define ROLE_ANY (ROLE_ADMIN | ROLE_ENGINEER | ROLE_TENANT_ADMIN | ROLE_CUSTOMER | ROLE_SERVICE)

/* "admin" -> ROLE_ADMIN ...; ROLE_NONE for anything else ("service" is not a user role:
 * role_parse never returns it). */
enum role role_parse(const char *name);
const char *role_name(enum role r);

/* ---- who a credential is -------------------------------------------------------------- */

struct store_identity {
	char user_id[UUID_STR_LEN];   /* "" for a service token */
	char tenant_id[UUID_STR_LEN]; /* "" for staff */
	char email[256];              /* "" for a service token */
	enum role role;
	char credential_id[UUID_STR_LEN]; /* the login (jti) or API token id */
	int tenant_suspended;         /* the user's (or token's) tenant is suspended */
	char expires_at[TIMESTAMP_LEN]; /* when the login or token ends ("" never; set by
	                                   the credential lookups): a holder that keeps the
	                                   identity checks it */
};

/* ---- users -------------------------------------------------------------------------
 * User JSON: id, tenant_id (null for staff), email, name, role, status ("active" |
 * "disabled"), created_at, updated_at, last_login_at. Never the password hash. */

struct store_user_new {
	const char *tenant_id;  /* NULL for staff roles; required for tenant roles */
	const char *email;
	const char *name;
	enum role role;
	const char *password;   /* hashed here; NULL: the user cannot log in until one is set */
};

/* STORE_CONFLICT: the email is taken (among staff, or in that tenant), or reserved:
 * a staff member's email is no tenant user's, and a tenant user's no staff member's;
 * STORE_NOT_FOUND: no such tenant. The role must match the tenant (staff: NULL). */
int store_user_create(struct db *db, const struct store_user_new *u, json_object **out) WUR;
/* Inside the caller's transaction: STORE_CONFLICT when email is reserved for the other
 * kind of user (staff: a tenant user has it; a tenant user: a staff member has it),
 * else STORE_OK (or the failure). Across tenants, so on PostgreSQL through
 * kaiden_email_reserved (a tenant admin's scope sees no staff); user create and update
 * and the archive import's users ask it. */
int store_user_email_unreserved(struct db *db, const char *email, int staff) WUR;
/* tenant_id NULL: any user (staff callers); else only that tenant's users. */
int store_user_get(struct db *db, const char *tenant_id, const char *id,
                   json_object **out) WUR;
/* A staff member (admin or engineer) by id, from any scope: *out is {id, name, role,
 * status}. On PostgreSQL through kaiden_staff_user, since a tenant's scope sees no staff
 * rows (a ticket's assignee and a staff comment's author are looked up from inside
 * one). STORE_NOT_FOUND for a tenant user or no such user. */
int store_user_staff_get(struct db *db, const char *id, json_object **out) WUR;
/* tenant_id NULL and staff_only 1: staff users; tenant_id NULL and staff_only 0: every
 * user; else that tenant's users. role: NULL or a role name. q: NULL or a substring of
 * email or name. */
int store_user_list(struct db *db, const char *tenant_id, int staff_only, const char *role,
                    const char *q, const struct store_page *page, struct store_list *out) WUR;

struct store_user_patch {
	const char *name;      /* NULL: unchanged */
	const char *email;     /* NULL: unchanged */
	enum role role;        /* ROLE_NONE: unchanged */
	const char *status;    /* NULL, "active" or "disabled" */
	const char *password;  /* NULL: unchanged; a new one also revokes the user's logins */
};
/* Scoped like store_user_get. Disabling revokes the user's logins and API tokens.
 * STORE_CONFLICT: email taken or reserved (as store_user_create). */
int store_user_update(struct db *db, const char *tenant_id, const char *id,
                      const struct store_user_patch *p, json_object **out) WUR;
/* Deletes the user; their logins and API tokens are revoked, audit rows keep the email. */
int store_user_delete(struct db *db, const char *tenant_id, const char *id) WUR;

/* ---- login ---------------------------------------------------------------------------- */

/* Finds an active user by email and checks the password (argon2id; a dummy hash is
 * verified when there is no such user, so timing does not tell). tenant_id: the tenant
 * the login names (code or subdomain resolved by the caller), or NULL: then only staff
 * (server.mode multi) or staff and the default tenant's users (single: the caller passes
 * DEFAULT_TENANT_ID). A tenant's login also finds staff (staff may log in anywhere),
 * and staff come first: a tenant user with a staff member's email (store_user_create
 * refuses one; older or imported rows may exist) never shadows the staff account.
 * STORE_OK with *out filled (credential_id empty), STORE_NOT_FOUND for a wrong email or
 * password or a disabled user (one answer for all). */
int store_login_check(struct db *db, const char *tenant_id, const char *email,
                      const char *password, struct store_identity *out) WUR;
/* Records a login: a logins row with a new id (written to jti) lasting ttl seconds, and
 * the user's last_login_at. */
int store_login_create(struct db *db, const struct store_identity *who, int ttl_seconds,
                       char jti[UUID_STR_LEN]) WUR;
/* The login jti of a verified token: STORE_OK with *out (role, tenant, suspension as
 * they are now, not as the token says); STORE_NOT_FOUND when revoked, expired, or the
 * user is gone or disabled. */
int store_login_lookup(struct db *db, const char *jti, struct store_identity *out) WUR;
/* Revokes one login (logout). STORE_NOT_FOUND if unknown or already revoked. */
int store_login_revoke(struct db *db, const char *jti) WUR;

/* ---- throttling ------------------------------------------------------------------------
 * Logins are counted per account (the lower-cased email, whatever tenant the login names:
 * the lock is the account's, so naming another tenant buys no more guesses) and per
 * source address (an IPv6 client by its /64), each in a window that starts at the key's first counted attempt and
 * lasts window_seconds. An attempt is counted before its password is checked, in one
 * atomic step per key, so parallel logins cannot slip past the limit. */

struct store_login_limits {
	int window_seconds;
	long account_max;  /* passwords checked per account and window */
	long address_max;  /* attempts per address and window, refused ones included */
};

enum store_throttle {
	STORE_THROTTLE_NONE = 0, /* counted: go on and check the password */
	STORE_THROTTLE_ACCOUNT,
	STORE_THROTTLE_ADDRESS
};

#define STORE_THROTTLE_KEY_MAX 1100 /* "account:" + an email of 254 characters, as UTF-8;
                                       login_throttle.key's CHECK says the same */

struct store_throttle_verdict {
	enum store_throttle by;
	char key[STORE_THROTTLE_KEY_MAX];  /* the key that refused ("account:<email>" or
	                                      "address:<addr>"); "" when counted */
	char window_start[TIMESTAMP_LEN];  /* that key's window */
	long retry_after;                  /* seconds until it ends, >= 1; 0 when counted */
};

/* Counts one login attempt of email from address (NULL: no address limit) before its
 * password is checked: the address's count always goes up; the account's only when
 * neither limit refuses (a refused attempt checks no password, so the account's lock
 * ends when Retry-After says). STORE_OK with *out; out->by says whether it was refused. */
int store_login_reserve(struct db *db, const char *email, const char *address,
                        const struct store_login_limits *limits,
                        struct store_throttle_verdict *out) WUR;
/* The password was right: clears the account's count and gives the address its attempt
 * back (a login is no guess). */
int store_login_release(struct db *db, const char *email, const char *address) WUR;

/* ---- API tokens ------------------------------------------------------------------------
 * Token JSON: id, name, user_id (null: a service token), created_at, expires_at,
 * last_used_at, revoked_at. The token itself is returned once by create. */

/* A token acting as who->user_id (who->tenant_id for its tenant; staff: NULL tenant).
 * expires_seconds 0: never. */
int store_user_token_create(struct db *db, const struct store_identity *who, const char *name,
                            long expires_seconds, char token_out[TOKEN_LEN],
                            json_object **out) WUR;
/* The caller's own tokens (user_id), newest first. */
int store_user_token_list(struct db *db, const char *user_id, const struct store_page *page,
                          struct store_list *out) WUR;
/* Revokes a token of user_id. STORE_NOT_FOUND if not theirs or already revoked. */
int store_user_token_revoke(struct db *db, const char *user_id, const char *token_id) WUR;
/* Checks a presented API token (user or service): STORE_OK with *out as the user is now
 * (role, tenant, suspension); STORE_NOT_FOUND for malformed, unknown, revoked, expired,
 * or a disabled/deleted user. Updates last_used_at at most once a minute. */
int store_token_identify(struct db *db, const char *token, struct store_identity *out) WUR;
/* The same answer for a token identified earlier, by its id (no secret, no use
 * recorded): for a holder that re-checks a credential it keeps (helperd's relay). */
int store_token_lookup(struct db *db, const char *token_id, struct store_identity *out) WUR;

/* ---- audit log -------------------------------------------------------------------------
 * Append-only. Entry JSON: id, tenant_id (null: platform), actor_id, actor_email,
 * actor_role, action, target_type, target_id, remote_addr, request_id, details (object
 * or null), created_at. Actions: auth.login, auth.login_failed, auth.login_throttled
 * (one row per tenant, throttle key and window; details.count grows), auth.logout,
 * token.create, token.revoke, user.create, user.update, user.delete, device.create,
 * device.delete, session.start, session.end, tenant.create, tenant.update,
 * tenant.delete, tenant.access (staff acting in a tenant), tenant.export, tenant.import,
 * ticket.create, ticket.update, ticket.comment. */

struct store_audit {
	const char *tenant_id;    /* NULL: a platform-level action */
	const struct store_identity *actor; /* NULL: anonymous (failed login) */
	const char *actor_email;  /* when actor is NULL (the email a failed login tried) */
	const char *action;
	const char *target_type;  /* "user", "device", "session", "tenant", "token", "ticket",
	                             NULL */
	const char *target_id;
	const char *remote_addr;
	const char *request_id;
	json_object *details;     /* borrowed; NULL for none. Never secrets. */
};
int store_audit_add(struct db *db, const struct store_audit *a) WUR;
/* A login refused by the throttle (v: store_login_reserve's verdict): the burst's
 * auth.login_throttled row for (tenant_id, v->key, v->window_start), new with count 1 or
 * counted once more. tenant_id: the tenant the login named, NULL for none; email: the
 * address tried (NULL for an address's burst, which spans emails). Runs in no scope. */
int store_audit_throttled(struct db *db, const char *tenant_id, const char *email,
                          const char *remote_addr, const char *request_id,
                          const struct store_throttle_verdict *v) WUR;

struct store_audit_filter {
	const char *tenant_id;   /* NULL: every tenant and platform rows (staff only) */
	const char *action;      /* exact, or a prefix ending in '.': "auth." */
	const char *actor_id;
	const char *target_id;
	const char *since, *until; /* RFC 3339, inclusive / exclusive; NULL: open */
};
int store_audit_list(struct db *db, const struct store_audit_filter *f,
                     const struct store_page *page, struct store_list *out) WUR;

/* Staff acting in a tenant: records tenant.access once per credential and tenant
 * (later calls are no-ops). */
int store_audit_tenant_access(struct db *db, const struct store_identity *who,
                              const char *tenant_id, const char *remote_addr,
                              const char *request_id) WUR;

#endif
