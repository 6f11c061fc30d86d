/* auth.h: who is calling. An `Authorization: Bearer <token>` header is checked against
 * the API tokens (store_token_check: SHA-256 digest, constant-time compare, so no argon2
 * on the request path) and names the tenant the request acts for. */
#ifndef KAIDEN_AUTH_H
#define KAIDEN_AUTH_H

#include "compat.h"
#include "req.h"
#include "resp.h"

/* 0 with r->tenant_id set; -1 with the reply already in rs (401 unauthorized for a
 * missing, malformed, unknown or revoked token; 503/500 when the database fails). */
int auth_check(struct req *r, struct resp *rs) WUR;

#endif
