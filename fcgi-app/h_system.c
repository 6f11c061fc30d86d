/* h_system.c: GET /api/v1/admin/system, the system's health for platform staff: each
 * kaiden-helperd's last heartbeat (running or not, agents, relay streams, Cloudflare
 * budget) and the counts of jobs, devices and sessions across every tenant
 * (store_status.h says what each member means). */
#include "handlers.h"

#include "store.h"
#include "store_status.h"

void h_system_status(struct req *r, struct resp *rs)
{
	json_object *status = NULL;
	int rc = store_status_get(r->db, 0, &status);

	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "system status");
		return;
	}
	resp_json(rs, 200, status);
}
