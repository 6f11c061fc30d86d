/* h_tenant.c: FIXME(issue 4): placeholder handlers answering 501 until written. */
#include "handlers.h"

void h_tenant_get(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_patch(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_usage(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_export(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tenant_import(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

