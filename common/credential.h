/* credential.h: who an Authorization header's bearer credential is, for kaiden-api
 * (fcgi-app/auth.c) and helperd's relay (helperd/relay_accept.c), written once.
 *
 * Two kinds of credential (Authorization: Bearer <token>):
 *   - a login token: a JWT (jwt.h) signed with auth.jwt_secret; its jti names a login
 *     row, which is the truth about revocation, the user's role, tenant and suspension
 *     (store_login_lookup);
 *   - an API token "kdn_<id>_<secret>" (store_token_identify): a user's own token, with
 *     that user's rights as they are now, or a service token of a tenant.
 * A credential of a disabled or deleted user is unknown. A suspended tenant's credential
 * is identified (out->who.tenant_suspended = 1): refusing it (403 tenant_suspended) is
 * the caller's business, so that the caller can say so.
 *
 * A browser sends the login token as the kaiden_session cookie instead
 * (credential_identify_cookie): helperd's event stream takes it that way.
 *
 * A caller that holds on to an identity (a relay stream lasts hours) asks again with
 * credential_recheck, which needs no secret: the login or token row by its id. */
#ifndef KAIDEN_CREDENTIAL_H
#define KAIDEN_CREDENTIAL_H

#include "compat.h"
#include "store_auth.h"

struct db;

enum credential_kind { CREDENTIAL_LOGIN, CREDENTIAL_TOKEN };

struct credential {
	struct store_identity who;
	enum credential_kind kind;
};

enum credential_rc {
	CREDENTIAL_OK = 0,
	CREDENTIAL_MISSING,    /* no Authorization header (401) */
	CREDENTIAL_MALFORMED,  /* not "Bearer <token>", or too long (401) */
	CREDENTIAL_UNKNOWN,    /* no valid credential: wrong, expired, revoked, its user
	                          disabled or gone, no role (401) */
	CREDENTIAL_DB,         /* the database failed: *store_rc says how (503, or 500) */
	CREDENTIAL_INTERNAL    /* the token could not be checked (JWT library failure: 500) */
};

/* Identifies the credential of an Authorization header value (NULL or "" when there is
 * none). log_id names the request in log lines ("req=<id>"-style prefix text; never the
 * token). CREDENTIAL_OK with *out written; else out is untouched and, for
 * CREDENTIAL_DB, *store_rc (may be NULL) gets the store's code. The token is wiped from
 * the stack before returning. */
enum credential_rc credential_identify(struct db *db, const char *authorization,
                                       const char *log_id, struct credential *out,
                                       int *store_rc) WUR;

/* The same for the login cookie (kaiden_session, cookies.h) of a Cookie header value:
 * CREDENTIAL_MISSING when the header or the cookie is absent (or the header malformed:
 * cookie_get), CREDENTIAL_MALFORMED when the header is too long, CREDENTIAL_UNKNOWN
 * when the cookie is not a valid login token (an API token is never a cookie); the
 * rest as credential_identify. A login so identified is rechecked as any other. */
enum credential_rc credential_identify_cookie(struct db *db, const char *cookie_header,
                                              const char *log_id, struct credential *out,
                                              int *store_rc) WUR;

/* Asks again about a credential identified earlier: CREDENTIAL_OK with *now (role,
 * tenant, suspension as they are now), CREDENTIAL_UNKNOWN when it was revoked or
 * expired or its user disabled or deleted since, CREDENTIAL_DB when the database
 * failed (*store_rc as above). */
enum credential_rc credential_recheck(struct db *db, const struct credential *cred,
                                      struct store_identity *now, int *store_rc) WUR;

#endif
