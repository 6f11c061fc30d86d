/* auth.c: bearer tokens -> tenant. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "secret.h"
#include "store.h"

/* A real token is TOKEN_LEN-1 characters; anything far longer is not worth a query. */
#define AUTH_HEADER_MAX 512

int auth_check(struct req *r, struct resp *rs)
{
	const char *h = r->authorization ? r->authorization : "";
	char token[TOKEN_LEN], tenant[UUID_STR_LEN];
	size_t len;
	int rc;

	if (!r->db) {
		/* The worker could not connect: nothing can be checked. */
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return -1;
	}
	if (!*h) {
		resp_error(rs, 401, "unauthorized", NULL,
		           "send an API token as Authorization: Bearer <token>");
		return -1;
	}
	/* The scheme is case-insensitive (RFC 9110 11.1); then one or more spaces. */
	if (strlen(h) > AUTH_HEADER_MAX || strncasecmp(h, "Bearer ", 7) != 0) {
		resp_error(rs, 401, "unauthorized", NULL,
		           "the Authorization header must be: Bearer <token>");
		return -1;
	}
	h += 7;
	h += strspn(h, " ");
	len = strlen(h);
	while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(token) || memchr(h, ' ', len)) {
		resp_error(rs, 401, "unauthorized", NULL, "the bearer token is missing or malformed");
		return -1;
	}
	memcpy(token, h, len);
	token[len] = '\0';

	rc = store_token_check(r->db, token, tenant);
	if (rc == STORE_NOT_FOUND) {
		resp_error(rs, 401, "unauthorized", NULL, "the token is not valid or was revoked");
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_error(rs, rc, r->db, r->request_id, "token check");
		return -1;
	}
	memcpy(r->tenant_id, tenant, sizeof(r->tenant_id));
	return 0;
}
