/* h_audit.c: GET /api/v1/audit, the audit log, newest first.
 *
 * Who sees what: tenant admins and service tokens their own tenant's entries (a
 * tenant_id= naming another tenant is refused); staff acting in a tenant that tenant's;
 * staff at platform level every entry, platform ones included, or one tenant's with
 * tenant_id=. Filters: action (exact, or a prefix ending in '.': "auth."), actor_id,
 * target_id, since (inclusive) and until (exclusive) as RFC 3339. */
#include "handlers.h"

#include <string.h>

#include "auth.h"
#include "ids.h"
#include "store.h"
#include "store_auth.h"

#define ACTION_MAX 64

/* Actions are dotted lower-case words ("tenant.update"), or such a prefix ending in '.'. */
static int action_valid(const char *s)
{
	if (!s[0] || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

void h_audit_list(struct req *r, struct resp *rs)
{
	struct store_audit_filter f;
	struct store_page page;
	struct store_list list;
	char cursor[UUID_STR_LEN], action[ACTION_MAX + 1], actor[UUID_STR_LEN];
	char target[UUID_STR_LEN], tenant[UUID_STR_LEN], since[TIMESTAMP_LEN], until[TIMESTAMP_LEN];
	const char *bad = NULL, *why = "";
	int has, rc;

	memset(&f, 0, sizeof(f));
	if (req_page(r, &page, cursor, &bad) < 0) {
		why = strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
		                                : "must be the next_cursor of a previous page";
		goto bad_query;
	}
	has = req_query_text(r, "action", action, sizeof(action));
	if (has < 0 || (has && !action_valid(action))) {
		bad = "action";
		why = "must be an action (tenant.update) or a prefix of one ending in '.' (auth.)";
		goto bad_query;
	}
	f.action = has ? action : NULL;
	has = req_query_uuid(r, "actor_id", actor);
	if (has < 0) {
		bad = "actor_id";
		why = "must be a user id";
		goto bad_query;
	}
	f.actor_id = has ? actor : NULL;
	has = req_query_uuid(r, "target_id", target);
	if (has < 0) {
		bad = "target_id";
		why = "must be an id";
		goto bad_query;
	}
	f.target_id = has ? target : NULL;
	if (req_query_period(r, since, until, &f.since, &f.until, &bad, &why) < 0)
		goto bad_query;
	has = req_query_uuid(r, "tenant_id", tenant);
	if (has < 0) {
		bad = "tenant_id";
		why = "must be a tenant id";
		goto bad_query;
	}
	if (r->tenant_id[0]) {
		/* Acting in a tenant (every non-staff caller does): that tenant only. */
		if (has && strcmp(tenant, r->tenant_id) != 0) {
			resp_error(rs, 403, "forbidden", "tenant_id",
			           "tenant_id: you see your own tenant's entries only");
			return;
		}
		f.tenant_id = r->tenant_id;
	} else {
		f.tenant_id = has ? tenant : NULL;
	}
	memset(&list, 0, sizeof(list));
	rc = store_audit_list(r->db, &f, &page, &list);
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "audit list");
		return;
	}
	resp_list(rs, &list);
	return;
bad_query:
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad, why);
}
