/* resp.h: the reply being built for a request. Handlers fill it; main.c writes it out
 * with resp_head. resp_error is the one place a failure becomes an HTTP status. */
#ifndef KAIDEN_RESP_H
#define KAIDEN_RESP_H

#include <json-c/json.h>
#include "buf.h"
#include "compat.h"

struct resp {
	int status;          /* 0 until set */
	json_object *body;   /* owned */
	struct buf text;     /* the body as JSON text instead, when body is NULL and text.len
	                        is not 0 (resp_list of a list given as text) */
	struct buf headers;  /* extra "Name: value\r\n" lines */
};

void resp_init(struct resp *rs);
void resp_clear(struct resp *rs);

/* Sets status and body (ownership of body moves to rs; NULL means no body); any text
 * body is dropped. */
void resp_json(struct resp *rs, int status, json_object *body);
/* Sets status and the body as JSON text (text moves into rs and is left empty); any
 * object body is dropped. The text must be what json-c would write (resp_head hands
 * it out as it is). */
void resp_text(struct resp *rs, int status, struct buf *text);
/* {"error":{"code","message"[,"field"]}} with status. field may be NULL. */
void resp_error(struct resp *rs, int status, const char *code, const char *field,
                const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Adds a header line; a name or value holding CR or LF is dropped (never split a
 * header). */
void resp_header(struct resp *rs, const char *name, const char *value);

struct store_list;
/* 200 {"items":[...],"next_cursor":"<id>"|null}; the items (list->items, or
 * list->text: then the reply is text, byte for byte what json-c would write) move into
 * the reply. */
void resp_list(struct resp *rs, struct store_list *list);

struct jsonx_error;
struct db;
/* 400 with the code, field and message jsonx found. */
void resp_jsonx_error(struct resp *rs, const struct jsonx_error *err);
/* A failed store_* call (rc < 0) as a reply: STORE_NOT_FOUND -> 404 not_found ("what"
 * names the resource), STORE_BUSY -> 503 unavailable, STORE_ERR -> 503 unavailable when
 * the database does not answer db_ping (which also reconnects), else 500 internal,
 * logged with request_id. STORE_CONFLICT means something different per endpoint: the
 * handler answers it; here it is a 500. */
void resp_store_error(struct resp *rs, int rc, struct db *db, const char *request_id,
                      const char *what);

/* The reply's CGI head, "Status: 200 OK\r\nContent-Type: application/json\r\n...\r\n\r\n",
 * into out, and its body as *body and *body_len (NULL and 0 for none, and for a HEAD
 * request, whose Content-Length is still the body's): the body stays rs's, valid until
 * rs changes, so it goes out without a copy. 0 or -1 (out of memory). */
int resp_head(const struct resp *rs, int head_only, struct buf *out, const char **body,
              size_t *body_len) WUR;
/* The head and then the body, both into out. 0 or -1 (out of memory). */
int resp_serialize(const struct resp *rs, int head_only, struct buf *out) WUR;
const char *resp_reason(int status);

#endif
