/* relay_access.h: who may open relay streams to a session (GET /api/v1/ws/connect), the
 * one rule that helperd enforces and kaiden-api follows when it decides whether a
 * session's reply shows the caller its connect commands (docs/api.md, "Permissions").
 *
 *   caller                         may connect to
 *   staff admin                    any session
 *   staff engineer                 a session they started (sessions.engineer_id)
 *   tenant admin, service token    a session of their own tenant
 *   customer                       none
 *
 * Whether the session is a relay session, is live, and whether the caller's tenant is
 * suspended or the credential revoked are separate checks (the credential's: auth). */
#ifndef KAIDEN_RELAY_ACCESS_H
#define KAIDEN_RELAY_ACCESS_H

#include "compat.h"
#include "store_auth.h"

/* 1 when who may connect to a session of session_tenant_id that session_engineer_id
 * started (NULL or "": no user started it, e.g. a service token), else 0. who is
 * borrowed; a NULL who or tenant is 0. */
int relay_access_allowed(const struct store_identity *who, const char *session_tenant_id,
                         const char *session_engineer_id) WUR;

#endif
