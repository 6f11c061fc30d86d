/* relay_access.c: the connect rule (relay_access.h). */
#include "relay_access.h"

#include <string.h>

int relay_access_allowed(const struct store_identity *who, const char *session_tenant_id,
                         const char *session_engineer_id)
{
	if (!who || !session_tenant_id || !session_tenant_id[0])
		return 0;
	switch (who->role) {
	case ROLE_ADMIN:
		return 1;
	case ROLE_ENGINEER:
		/* Ids are stored lower-cased, so equal ids are equal strings. */
		return who->user_id[0] && session_engineer_id &&
		       strcmp(who->user_id, session_engineer_id) == 0;
	case ROLE_TENANT_ADMIN:
	case ROLE_SERVICE:
		return who->tenant_id[0] && strcmp(who->tenant_id, session_tenant_id) == 0;
	case ROLE_CUSTOMER:
	case ROLE_NONE:
		break;
	}
	return 0;
}
