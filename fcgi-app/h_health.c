/* h_health.c: GET /healthz (outside /api/v1, as docs/openapi.yaml has it), for load
 * balancers, the integration harness and the portal's sign-in page. No auth; says only
 * whether the database answers and is migrated, the server's mode, and in multi mode
 * whether the Host is a tenant's subdomain (the sign-in page then asks no tenant code). */
#include "handlers.h"

#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "db.h"
#include "jsonx.h"
#include "store.h"
#include "store_tenant.h"

void h_healthz(struct req *r, struct resp *rs)
{
	const int multi = strcmp(cfg_str(CFG_SERVER_MODE), "multi") == 0;
	char code[TENANT_CODE_MAX + 1], id[UUID_STR_LEN];
	json_object *body;

	if (!r->db || store_health(r->db) < 0) {
		resp_error(rs, 503, "unavailable", NULL,
		           "the database is unreachable or not migrated");
		return;
	}
	body = json_object_new_object();
	if (!body) {
		resp_error(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	jsonx_add_str(body, "status", "ok");
	jsonx_add_str(body, "database", db_kind(r->db) == DB_POSTGRES ? "postgres" : "sqlite");
	jsonx_add_str(body, "mode", multi ? "multi" : "single");
	if (multi)
		json_object_object_add(body, "tenant_host",
		                       json_object_new_boolean(
		                               auth_host_tenant_code(r, code) &&
		                               store_tenant_by_code(r->db, code, id) == STORE_OK));
	resp_json(rs, 200, body);
}
