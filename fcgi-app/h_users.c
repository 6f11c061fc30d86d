/* h_users.c: FIXME(issue 4): placeholder handlers answering 501 until written. */
#include "handlers.h"

void h_users_create(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_users_list(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_user_get(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_user_patch(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_user_delete(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

