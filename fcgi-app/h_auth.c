/* h_auth.c: FIXME(issue 4): placeholder handlers answering 501 until written. */
#include "handlers.h"

void h_auth_login(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_auth_me(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_auth_logout(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tokens_create(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_tokens_list(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

void h_token_delete(struct req *r, struct resp *rs)
{
	(void)r;
	resp_error(rs, 501, "not_implemented", NULL, "not built yet");
}

