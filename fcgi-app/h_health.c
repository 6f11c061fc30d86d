/* h_health.c: GET /healthz (outside /api/v1, as docs/openapi.yaml has it), for load
 * balancers and the integration harness. No auth; says only whether the database
 * answers and is migrated. */
#include "handlers.h"

#include "db.h"
#include "jsonx.h"
#include "store.h"

void h_healthz(struct req *r, struct resp *rs)
{
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
	resp_json(rs, 200, body);
}
