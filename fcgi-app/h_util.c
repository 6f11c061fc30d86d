/* h_util.c: what several handlers need (handlers.h). */
#include "handlers.h"

#include <string.h>

#include "cfg.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"
#include "store.h"

int h_body_object(struct req *r, struct resp *rs, const struct jsonx_field *fields, size_t n,
                  json_object **out)
{
	struct jsonx_error err;
	json_object *in = NULL;

	if (jsonx_parse(r->body, r->body_len, &in, &err) < 0 ||
	    jsonx_check(in, fields, n, &err) < 0) {
		json_object_put(in);
		resp_jsonx_error(rs, &err);
		return -1;
	}
	*out = in;
	return 0;
}

int h_secret_make(struct req *r, struct resp *rs, const char *what,
                  char secret[SECRET_TEXT_LEN], char hash[SECRET_HASH_LEN])
{
	secret_random_text(secret);
	/* argon2 on the request path: once per device or cluster made or rotated, by design. */
	if (secret_hash(secret, hash) < 0) {
		log_error("req=%s %s secret hashing failed", r->request_id, what);
		resp_error(rs, 500, "internal", NULL, "could not hash the %s secret", what);
		return -1;
	}
	return 0;
}

int h_page(struct req *r, struct resp *rs, struct store_page *page, char cursor[UUID_STR_LEN])
{
	const char *bad = NULL;

	if (req_page(r, page, cursor, &bad) == 0)
		return 0;
	resp_error(rs, 400, "invalid_query", bad, "%s: %s", bad,
	           strcmp(bad, "limit") == 0 ? "must be a whole number from 1 to 200"
	                                     : "must be the next_cursor of a previous page");
	return -1;
}

const char *h_server_url(const struct req *r)
{
	const char *url = cfg_str(CFG_SERVER_PUBLIC_URL);

	return url && *url ? url : r->origin;
}
