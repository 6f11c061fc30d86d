/* h_tenants.c: FIXME(issue 4): placeholder handlers answering 501 until written. */
#include "handlers.h"

void h_tenants_create(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenants_list(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_admin_get(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_admin_patch(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_admin_delete(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

