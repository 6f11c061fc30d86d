/* resp.h: the reply being built for a request. Handlers fill it; main.c writes it out
 * with resp_serialize. resp_error is the one place a failure becomes an HTTP status. */
#ifndef KAIDEN_RESP_H
#define KAIDEN_RESP_H

#include <json-c/json.h>
#include "buf.h"
#include "compat.h"

struct resp {
	int status;          /* 0 until set */
	json_object *body;   /* owned */
	struct buf headers;  /* extra "Name: value\r\n" lines */
};

void resp_init(struct resp *rs);
void resp_clear(struct resp *rs);

/* Sets status and body (ownership of body moves to rs; NULL means no body). */
void resp_json(struct resp *rs, int status, json_object *body);
/* {"error":{"code","message"[,"field"]}} with status. field may be NULL. */
void resp_error(struct resp *rs, int status, const char *code, const char *field,
                const char *fmt, ...) PRINTF_LIKE(5, 6);
void resp_header(struct resp *rs, const char *name, const char *value);

/* "Status: 200 OK\r\nContent-Type: application/json\r\n...\r\n\r\n{...}" into out;
 * HEAD requests get no body. 0 or -1 (out of memory). */
int resp_serialize(const struct resp *rs, int head_only, struct buf *out) WUR;
const char *resp_reason(int status);

#endif
