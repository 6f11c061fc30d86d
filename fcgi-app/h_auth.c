/* h_auth.c: /api/v1/auth: logging in and out, who am I, and a user's API tokens.
 *
 * Login, in order (seed 004 decisions 2, 4 and 6):
 *   1. auth.jwt_secret must be set (else 503 login_unavailable: no token could be signed)
 *   2. the tenant: mode single -> the default tenant; multi -> tenant_code, else the
 *      Host's subdomain, else none (then only staff can log in)
 *   3. throttling: the attempt is counted for the account (its email, whatever tenant is
 *      named) and the source address before the password is looked at, atomically, so
 *      parallel guesses cannot pass the limits; over either -> 429 + Retry-After, and
 *      the burst's one auth.login_throttled audit row counts it
 *   4. the password (store_login_check; one answer for unknown email, wrong password and
 *      disabled user); a failure is audited, a success gives the counted attempt back
 *   5. a suspended tenant -> 403 tenant_suspended
 *   6. a login row (its id is the JWT's jti, what logout revokes), the JWT, the audit;
 *      the JWT goes in the reply and, for browsers, in the kaiden_session cookie with
 *      its kaiden_csrf token (cookie.h). Logout clears both cookies.
 * Steps 2-4 run before anyone is known, across tenants (store_auth.h); step 6 runs in the
 * user's own database scope. */
#include "handlers.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "cfg.h"
#include "cookie.h"
#include "db.h"
#include "ids.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "store.h"
#include "store_auth.h"
#include "store_tenant.h"

#define EMAIL_MAX 254
#define TENANT_CODE_MAX 63
#define TOKEN_DAYS_MAX 3650

static const struct jsonx_field login_fields[] = {
	{ "email", JSONX_STRING, 1, 1, EMAIL_MAX, 0 },
	{ "password", JSONX_STRING, 1, 1, 1024, 0 },
	{ "tenant_code", JSONX_STRING, 0, 1, TENANT_CODE_MAX, 1 },
};

static const struct jsonx_field token_create_fields[] = {
	{ "name", JSONX_STRING, 1, 1, 128, 0 },
	{ "expires_in_days", JSONX_INT, 0, 0, 0, 1 },
};

static int multi_mode(void)
{
	return strcmp(cfg_str(CFG_SERVER_MODE), "multi") == 0;
}

/* A login token (Bearer or the login cookie), not an API token. */
static int credential_is_login(const struct req *r)
{
	return r->login_credential;
}

/* {id, code, name, plan, status} of a tenant, as the login reply shows it. */
static int tenant_brief(struct req *r, const char *id, json_object **out)
{
	static const char *const keep[] = { "id", "code", "name", "plan", "status" };
	json_object *full = NULL, *brief, *v;
	int rc = store_tenant_get(r->db, id, &full);

	if (rc != STORE_OK)
		return rc;
	brief = json_object_new_object();
	if (!brief) {
		json_object_put(full);
		return STORE_ERR;
	}
	for (size_t i = 0; i < ARRAY_LEN(keep); i++)
		if (json_object_object_get_ex(full, keep[i], &v))
			json_object_object_add(brief, keep[i], json_object_get(v));
	json_object_put(full);
	*out = brief;
	return STORE_OK;
}

/* "<code>" from "<code>.<server.base_domain>", or 0. */
static int host_code(const struct req *r, char code[TENANT_CODE_MAX + 1])
{
	const char *base = cfg_str(CFG_SERVER_BASE_DOMAIN), *host = r->host ? r->host : "";
	size_t blen = base ? strlen(base) : 0, hlen = strlen(host), clen;

	if (blen == 0 || hlen <= blen + 1 || strcasecmp(host + hlen - blen, base) != 0 ||
	    host[hlen - blen - 1] != '.')
		return 0;
	clen = hlen - blen - 1;
	if (clen > TENANT_CODE_MAX || memchr(host, '.', clen))
		return 0;
	memcpy(code, host, clen);
	code[clen] = '\0';
	return 1;
}

/* The tenant a login names. 1 with id written; 0 for none (staff only); 2 for a
 * tenant_code that names no tenant (the login fails like a wrong password); -1 with the
 * reply set. */
static int login_tenant(struct req *r, struct resp *rs, const char *tenant_code,
                        char id[UUID_STR_LEN])
{
	char code[TENANT_CODE_MAX + 1];
	int rc;

	if (!multi_mode()) {
		if (tenant_code && strcasecmp(tenant_code, "default") != 0) {
			resp_error(rs, 400, "invalid_field", "tenant_code",
			           "tenant_code: this server runs in single mode (one organisation); "
			           "leave tenant_code out");
			return -1;
		}
		memcpy(id, DEFAULT_TENANT_ID, sizeof(DEFAULT_TENANT_ID));
		return 1;
	}
	if (tenant_code) {
		rc = store_tenant_by_code(r->db, tenant_code, id);
		if (rc == STORE_NOT_FOUND)
			return 2;
	} else if (host_code(r, code)) {
		/* app.<base> and other hosts that are no tenant's: the generic login. */
		rc = store_tenant_by_code(r->db, code, id);
		if (rc == STORE_NOT_FOUND)
			return 0;
	} else {
		return 0;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "tenant");
		return -1;
	}
	return 1;
}

/* auth.login_failed: no actor, the email that was tried. */
static void audit_failed(struct req *r, const char *tenant_id, const char *email,
                         const char *reason)
{
	struct store_audit a;
	json_object *details = json_object_new_object();

	json_object_object_add(details, "reason", json_object_new_string(reason));
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_email = email;
	a.action = "auth.login_failed";
	a.target_type = "user";
	a.remote_addr = r->remote_addr && *r->remote_addr ? r->remote_addr : NULL;
	a.request_id = r->request_id;
	a.details = details;
	/* Nobody is logged in: a scope of the tenant tried (row-level security lets the
	 * row in), or staff-wide for a platform row. */
	if (db_scope_begin(r->db, tenant_id, tenant_id == NULL) != DB_OK) {
		log_error("req=%s audit action=auth.login_failed could not be recorded",
		          r->request_id);
	} else {
		int rc = store_audit_add(r->db, &a);
		if (db_scope_end(r->db, rc == STORE_OK) != DB_OK || rc != STORE_OK)
			log_error("req=%s audit action=auth.login_failed could not be recorded",
			          r->request_id);
	}
	json_object_put(details);
}

/* A login refused by the throttle: 429 with Retry-After, and the burst's audit row. */
static void throttled(struct req *r, struct resp *rs, const char *tenant_id, const char *email,
                      const struct store_throttle_verdict *v)
{
	char retry[32];
	int by_address = v->by == STORE_THROTTLE_ADDRESS;

	snprintf(retry, sizeof(retry), "%ld", v->retry_after);
	resp_header(rs, "Retry-After", retry);
	resp_error(rs, 429, "too_many_attempts", NULL,
	           "too many failed logins; try again in %ld seconds", v->retry_after);
	/* An address's burst spans emails and tenants: one platform row for it. */
	if (store_audit_throttled(r->db, by_address ? NULL : tenant_id, by_address ? NULL : email,
	                          r->remote_addr && *r->remote_addr ? r->remote_addr : NULL,
	                          r->request_id, v) != STORE_OK)
		log_error("req=%s audit action=auth.login_throttled could not be recorded",
		          r->request_id);
}

static void invalid_credentials(struct resp *rs)
{
	resp_error(rs, 401, "invalid_credentials", NULL, "email or password is wrong");
}

/* Step 6: the login row, the token, the reply; in the user's database scope. */
static void login_issue(struct req *r, struct resp *rs, struct store_identity *who,
                        const char *key)
{
	long ttl = cfg_int(CFG_AUTH_TOKEN_TTL);
	int64_t now = (int64_t)time(NULL);
	const char *tenant = who->tenant_id[0] ? who->tenant_id : NULL;
	json_object *claims = NULL, *user = NULL, *tenant_json = NULL, *body = NULL;
	char jti[UUID_STR_LEN], token[JWT_MAX_LEN], expires[TIMESTAMP_LEN];
	int rc;

	if (db_scope_begin(r->db, tenant, tenant == NULL) != DB_OK) {
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return;
	}
	rc = store_login_create(r->db, who, (int)ttl, jti);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "login");
		goto out;
	}
	memcpy(who->credential_id, jti, sizeof(jti));

	claims = json_object_new_object();
	json_object_object_add(claims, "sub", json_object_new_string(who->user_id));
	json_object_object_add(claims, "tenant_id", tenant ? json_object_new_string(tenant) : NULL);
	json_object_object_add(claims, "role", json_object_new_string(role_name(who->role)
	                                                              ? role_name(who->role)
	                                                              : ""));
	json_object_object_add(claims, "jti", json_object_new_string(jti));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + ttl));
	if (jwt_sign(claims, (const unsigned char *)key, strlen(key), token) != JWT_OK) {
		log_error("req=%s the login token could not be signed", r->request_id);
		resp_error(rs, 500, "internal", NULL,
		           "internal error; quote request id %s when reporting it", r->request_id);
		goto out;
	}

	rc = store_user_get(r->db, tenant, who->user_id, &user);
	if (rc == STORE_OK && tenant)
		rc = tenant_brief(r, tenant, &tenant_json);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "user");
		goto out;
	}

	/* From here the request is this login's. */
	r->who = *who;
	memcpy(r->tenant_id, who->tenant_id, sizeof(r->tenant_id));
	auth_audit(r, "auth.login", "user", who->user_id, NULL);

	/* The browser's copy: the same token in an HttpOnly cookie, and its CSRF token. */
	if (cookie_set_login(r, rs, token, jti, ttl) < 0) {
		log_error("req=%s the login cookie could not be made", r->request_id);
		resp_error(rs, 500, "internal", NULL,
		           "internal error; quote request id %s when reporting it", r->request_id);
		goto out;
	}
	ids_timestamp((now + ttl) * 1000, expires);
	body = json_object_new_object();
	json_object_object_add(body, "token", json_object_new_string(token));
	json_object_object_add(body, "expires_at", json_object_new_string(expires));
	json_object_object_add(body, "user", user);
	json_object_object_add(body, "tenant", tenant_json);
	user = tenant_json = NULL;
	resp_json(rs, 200, body);
out:
	if (db_scope_end(r->db, rs->status == 200) != DB_OK && rs->status == 200) {
		resp_error(rs, 503, "unavailable", NULL,
		           "the login could not be recorded; try again later");
	}
	json_object_put(claims);
	json_object_put(user);
	json_object_put(tenant_json);
	explicit_bzero(token, sizeof(token));
}

void h_auth_login(struct req *r, struct resp *rs)
{
	const char *key = cfg_str(CFG_AUTH_JWT_SECRET);
	json_object *in = NULL;
	struct store_identity who;
	char email[EMAIL_MAX * 4 + 1], tenant_buf[UUID_STR_LEN];
	const char *tenant = NULL;
	struct store_login_limits limits = { (int)cfg_int(CFG_AUTH_FAILURE_WINDOW),
		                             cfg_int(CFG_AUTH_MAX_FAILURES),
		                             cfg_int(CFG_AUTH_MAX_ADDR_FAILURES) };
	struct store_throttle_verdict verdict;
	int named, rc;

	if (!key || strlen(key) < JWT_KEY_MIN) {
		resp_error(rs, 503, "login_unavailable", NULL,
		           "logins are not configured on this server: set auth.jwt_secret "
		           "(KAIDEN_AUTH_JWT_SECRET) to a random string of at least %d characters",
		           JWT_KEY_MIN);
		return;
	}
	if (!r->db) {
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return;
	}
	if (h_body_object(r, rs, login_fields, ARRAY_LEN(login_fields), &in) < 0)
		return;
	/* Emails compare lower-cased (ASCII; the store does the same). */
	snprintf(email, sizeof(email), "%s", jsonx_str(in, "email"));
	for (char *p = email; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	named = login_tenant(r, rs, jsonx_str(in, "tenant_code"), tenant_buf);
	if (named < 0)
		goto out;
	if (named == 1)
		tenant = tenant_buf;

	/* Throttling comes before the password is looked at, so a locked account answers
	 * 429 even to the right password: guessing gains nothing while it lasts. */
	rc = store_login_reserve(r->db, email,
	                         r->remote_addr && *r->remote_addr ? r->remote_addr : NULL,
	                         &limits, &verdict);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "login throttle");
		goto out;
	}
	if (verdict.by != STORE_THROTTLE_NONE) {
		throttled(r, rs, tenant, email, &verdict);
		goto out;
	}

	memset(&who, 0, sizeof(who));
	rc = named == 2 ? STORE_NOT_FOUND
	                : store_login_check(r->db, tenant, email, jsonx_str(in, "password"), &who);
	if (rc == STORE_NOT_FOUND) {
		audit_failed(r, tenant, email, "invalid_credentials");
		invalid_credentials(rs);
		goto out;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "login");
		goto out;
	}
	/* The password was right: whatever follows, this was no guess. */
	if (store_login_release(r->db, email,
	                        r->remote_addr && *r->remote_addr ? r->remote_addr : NULL) !=
	    STORE_OK)
		log_error("req=%s the login's counted attempt could not be given back",
		          r->request_id);
	if (who.tenant_suspended) {
		audit_failed(r, who.tenant_id[0] ? who.tenant_id : tenant, email, "tenant_suspended");
		resp_error(rs, 403, "tenant_suspended", NULL,
		           "your organisation's account is suspended; contact the platform's "
		           "administrators");
		goto out;
	}
	login_issue(r, rs, &who, key);
out:
	json_object_put(in);
	explicit_bzero(email, sizeof(email));
}

void h_auth_me(struct req *r, struct resp *rs)
{
	const char *own = r->who.tenant_id[0] ? r->who.tenant_id : NULL;
	json_object *user = NULL, *tenant = NULL, *body;
	char acting[UUID_STR_LEN];
	int rc;

	/* Where this caller's requests to tenant endpoints would act (this route itself acts
	 * at the caller's own level). */
	if (auth_acting_tenant(r, rs, acting) < 0)
		return;
	if (r->who.user_id[0]) {
		rc = store_user_get(r->db, own, r->who.user_id, &user);
		if (rc != STORE_OK) {
			resp_store_error(rs, rc, r->db, r->request_id, "user");
			return;
		}
	}
	if (own) {
		rc = tenant_brief(r, own, &tenant);
		if (rc != STORE_OK) {
			json_object_put(user);
			resp_store_error(rs, rc, r->db, r->request_id, "tenant");
			return;
		}
	}
	body = json_object_new_object();
	json_object_object_add(body, "user", user);
	jsonx_add_str(body, "role",
	              r->who.role == ROLE_SERVICE ? "service" : role_name(r->who.role));
	json_object_object_add(body, "tenant", tenant);
	jsonx_add_str(body, "acting_tenant_id", acting[0] ? acting : NULL);
	jsonx_add_str(body, "credential", credential_is_login(r) ? "login" : "api_token");
	resp_json(rs, 200, body);
}

void h_auth_logout(struct req *r, struct resp *rs)
{
	int rc;

	if (!credential_is_login(r)) {
		resp_error(rs, 400, "not_a_login", NULL,
		           "this is an API token, not a login: revoke it with DELETE "
		           "/api/v1/auth/tokens/{id} instead");
		return;
	}
	rc = store_login_revoke(r->db, r->who.credential_id);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		resp_store_error(rs, rc, r->db, r->request_id, "login");
		return;
	}
	/* Already revoked (a race with another logout): the outcome is the same. */
	auth_audit(r, "auth.logout", "user", r->who.user_id, NULL);
	cookie_clear_login(r, rs);
	resp_json(rs, 204, NULL);
}

void h_tokens_create(struct req *r, struct resp *rs)
{
	json_object *in = NULL, *out = NULL, *details = NULL, *v;
	char token[TOKEN_LEN];
	long days = 0;
	int rc;

	token[0] = '\0';
	if (h_body_object(r, rs, token_create_fields, ARRAY_LEN(token_create_fields), &in) < 0)
		return;
	if (json_object_object_get_ex(in, "expires_in_days", &v) && v) {
		int64_t d = json_object_get_int64(v);
		if (d < 1 || d > TOKEN_DAYS_MAX) {
			resp_error(rs, 400, "invalid_field", "expires_in_days",
			           "expires_in_days: must be a whole number of days from 1 to %d "
			           "(leave it out for a token that does not expire)", TOKEN_DAYS_MAX);
			goto out;
		}
		days = (long)d;
	}
	rc = store_user_token_create(r->db, &r->who, jsonx_str(in, "name"), days * 86400L, token,
	                             &out);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "token");
		goto out;
	}
	details = json_object_new_object();
	jsonx_add_str(details, "name", jsonx_str(in, "name"));
	json_object_object_add(details, "expires_in_days",
	                       days ? json_object_new_int64(days) : NULL);
	auth_audit(r, "token.create", "token", jsonx_str(out, "id"), details);
	/* The token itself: here once, never again (the store keeps a digest). */
	jsonx_add_str(out, "token", token);
	resp_json(rs, 201, out);
	out = NULL;
out:
	json_object_put(details);
	json_object_put(out);
	json_object_put(in);
	explicit_bzero(token, sizeof(token));
}

void h_tokens_list(struct req *r, struct resp *rs)
{
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN];
	int rc;

	if (h_page(r, rs, &page, cursor) < 0)
		return;
	memset(&list, 0, sizeof(list));
	rc = store_user_token_list(r->db, r->who.user_id, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "token list");
		return;
	}
	resp_list(rs, &list);
}

void h_token_delete(struct req *r, struct resp *rs)
{
	int rc = store_user_token_revoke(r->db, r->who.user_id, r->params[0]);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "token");
		return;
	}
	auth_audit(r, "token.revoke", "token", r->params[0], NULL);
	resp_json(rs, 204, NULL);
}
