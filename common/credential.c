/* credential.c: Authorization: Bearer ... (or the login cookie) -> who (credential.h).
 *
 *   "Bearer" (any case), one or more spaces, the token, optional trailing blanks
 *   token with a dot     a login token: signature and times (jwt.h), then the login row
 *                        (store_login_lookup), whose user must be the token's subject
 *   token without a dot  an API token (kdn_<uuid>_<base64url>): store_token_identify
 * Every kind of refusal past the header's shape is CREDENTIAL_UNKNOWN, so a caller
 * learns nothing about why; the reason goes to the debug log. */
#include "credential.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "cfg.h"
#include "cookies.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "store.h"

/* A login token is at most JWT_MAX_LEN-1 characters; "Bearer " and some spaces on top.
 * Anything longer is not worth a look. */
#define HEADER_MAX (JWT_MAX_LEN + 64)
/* A Cookie header carries the login cookie and a few small others. */
#define COOKIE_HEADER_MAX 8192

static enum credential_rc store_failure(int rc, int *store_rc)
{
	if (rc == STORE_NOT_FOUND)
		return CREDENTIAL_UNKNOWN;
	if (store_rc)
		*store_rc = rc;
	return CREDENTIAL_DB;
}

/* A login token: the signature and times, then the login row, which is the truth about
 * revocation, role and tenant. */
static enum credential_rc login_token(struct db *db, const char *token, const char *log_id,
                                      struct store_identity *who, int *store_rc)
{
	const char *key = cfg_str(CFG_AUTH_JWT_SECRET);
	size_t keylen = key ? strlen(key) : 0;
	json_object *claims = NULL, *v;
	enum credential_rc ret;
	const char *jti, *sub;
	int rc;

	if (keylen < JWT_KEY_MIN) {
		/* No key: no login token can be valid here. */
		log_debug("%s login token refused: auth.jwt_secret is not set", log_id);
		return CREDENTIAL_UNKNOWN;
	}
	rc = jwt_verify(token, (const unsigned char *)key, keylen, (int64_t)time(NULL), &claims);
	if (rc != JWT_OK) {
		log_debug("%s login token refused: %s", log_id, jwt_strerror(rc));
		return rc == JWT_ERR ? CREDENTIAL_INTERNAL : CREDENTIAL_UNKNOWN;
	}
	jti = json_object_object_get_ex(claims, "jti", &v) &&
	              json_object_is_type(v, json_type_string)
	          ? json_object_get_string(v)
	          : NULL;
	sub = json_object_object_get_ex(claims, "sub", &v) &&
	              json_object_is_type(v, json_type_string)
	          ? json_object_get_string(v)
	          : NULL;
	ret = CREDENTIAL_UNKNOWN;
	if (!jti || !ids_is_uuid(jti) || !sub)
		goto out;
	rc = store_login_lookup(db, jti, who);
	if (rc != STORE_OK) {
		ret = store_failure(rc, store_rc);
		goto out;
	}
	/* A token whose subject is not the login's user was not made here. */
	if (strcasecmp(sub, who->user_id) != 0) {
		log_warn("%s login token refused: its subject is not the login's user", log_id);
		goto out;
	}
	if (!who->credential_id[0])
		snprintf(who->credential_id, sizeof(who->credential_id), "%s", jti);
	ret = CREDENTIAL_OK;
out:
	json_object_put(claims);
	return ret;
}

/* A token (no scheme, no blanks) -> who: a login JWT when it has a dot, else an API
 * token. */
static enum credential_rc identify_token(struct db *db, const char *token, const char *log_id,
                                         struct credential *out, int *store_rc)
{
	struct credential cred;
	enum credential_rc ret;
	int rc;

	memset(&cred, 0, sizeof(cred));
	if (strchr(token, '.')) {
		/* API tokens have no dot (kdn_<uuid>_<base64url>): this is a login token. */
		cred.kind = CREDENTIAL_LOGIN;
		ret = login_token(db, token, log_id, &cred.who, store_rc);
	} else {
		cred.kind = CREDENTIAL_TOKEN;
		rc = store_token_identify(db, token, &cred.who);
		ret = rc == STORE_OK ? CREDENTIAL_OK : store_failure(rc, store_rc);
	}
	if (ret == CREDENTIAL_OK && cred.who.role == ROLE_NONE) {
		log_warn("%s credential %s has no role", log_id, cred.who.credential_id);
		ret = CREDENTIAL_UNKNOWN;
	}
	if (ret == CREDENTIAL_OK)
		*out = cred;
	return ret;
}

enum credential_rc credential_identify(struct db *db, const char *authorization,
                                       const char *log_id, struct credential *out,
                                       int *store_rc)
{
	const char *h = authorization ? authorization : "";
	char token[JWT_MAX_LEN];
	enum credential_rc ret;
	size_t len;

	if (!*h)
		return CREDENTIAL_MISSING;
	/* The scheme is case-insensitive (RFC 9110 11.1); then one or more spaces. */
	if (strlen(h) > HEADER_MAX || strncasecmp(h, "Bearer ", 7) != 0)
		return CREDENTIAL_MALFORMED;
	h += 7;
	h += strspn(h, " ");
	len = strlen(h);
	while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(token) || memchr(h, ' ', len) || memchr(h, '\t', len))
		return CREDENTIAL_UNKNOWN;
	memcpy(token, h, len);
	token[len] = '\0';

	ret = identify_token(db, token, log_id, out, store_rc);
	explicit_bzero(token, sizeof(token));
	return ret;
}

enum credential_rc credential_identify_cookie(struct db *db, const char *cookie_header,
                                              const char *log_id, struct credential *out,
                                              int *store_rc)
{
	char token[JWT_MAX_LEN];
	enum credential_rc ret;

	if (!cookie_header || !*cookie_header)
		return CREDENTIAL_MISSING;
	if (strlen(cookie_header) > COOKIE_HEADER_MAX)
		return CREDENTIAL_MALFORMED;
	if (!cookie_get(cookie_header, COOKIE_SESSION, token, sizeof(token)))
		return CREDENTIAL_MISSING;
	/* Only a login token is ever a cookie: an API token there was put by hand. */
	ret = strchr(token, '.') ? identify_token(db, token, log_id, out, store_rc)
	                         : CREDENTIAL_UNKNOWN;
	explicit_bzero(token, sizeof(token));
	return ret;
}

enum credential_rc credential_recheck(struct db *db, const struct credential *cred,
                                      struct store_identity *now, int *store_rc)
{
	struct store_identity who;
	int rc;

	memset(&who, 0, sizeof(who));
	rc = cred->kind == CREDENTIAL_LOGIN
	             ? store_login_lookup(db, cred->who.credential_id, &who)
	             : store_token_lookup(db, cred->who.credential_id, &who);
	if (rc != STORE_OK)
		return store_failure(rc, store_rc);
	/* The same login or token, but for another user or with no role left: not the
	 * credential it was. */
	if (who.role == ROLE_NONE || strcmp(who.user_id, cred->who.user_id) != 0)
		return CREDENTIAL_UNKNOWN;
	if (!who.credential_id[0])
		memcpy(who.credential_id, cred->who.credential_id, UUID_STR_LEN);
	*now = who;
	return CREDENTIAL_OK;
}
