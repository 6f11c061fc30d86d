/* h_audit.c: FIXME(issue 4): placeholder handlers answering 501 until written. */
#include "handlers.h"

void h_audit_list(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

