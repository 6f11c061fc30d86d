/* resp.c: the reply being built, and its CGI form ("Status:" line, headers, body).
 * This is the one place a failure becomes an HTTP status and an error body. */
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"

/* Extra headers of one reply; a handful of short lines. */
#define RESP_HEADERS_MAX 8192
/* A body given as text: main.c's cap on a whole reply. */
#define RESP_TEXT_MAX (16 * 1024 * 1024)

void resp_init(struct resp *rs)
{
	rs->status = 0;
	rs->body = NULL;
	buf_init(&rs->text, RESP_TEXT_MAX);
	buf_init(&rs->headers, RESP_HEADERS_MAX);
}

void resp_clear(struct resp *rs)
{
	json_object_put(rs->body);
	rs->body = NULL;
	rs->status = 0;
	buf_clear(&rs->text);
	buf_clear(&rs->headers);
}

void resp_json(struct resp *rs, int status, json_object *body)
{
	if (rs->body != body)
		json_object_put(rs->body);
	buf_clear(&rs->text);
	rs->status = status;
	rs->body = body;
}

void resp_text(struct resp *rs, int status, struct buf *text)
{
	resp_json(rs, status, NULL);
	rs->text = *text;
	buf_init(text, text->max);
}

void resp_header(struct resp *rs, const char *name, const char *value)
{
	size_t before;

	if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	before = rs->headers.len;
	if (buf_puts(&rs->headers, name) < 0 || buf_puts(&rs->headers, ": ") < 0 ||
	    buf_puts(&rs->headers, value) < 0 || buf_puts(&rs->headers, "\r\n") < 0) {
		/* Not half a line. */
		rs->headers.len = before;
		if (rs->headers.data)
			rs->headers.data[before] = '\0';
		log_warn("header=%s dropped: the reply's headers are full", name);
	}
}

void resp_error(struct resp *rs, int status, const char *code, const char *field,
                const char *fmt, ...)
{
	char message[512];
	json_object *outer, *inner;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	outer = json_object_new_object();
	inner = json_object_new_object();
	if (!outer || !inner) {
		/* Out of memory: the status still tells the client what happened. */
		json_object_put(outer);
		json_object_put(inner);
		resp_json(rs, status, NULL);
	} else {
		jsonx_add_str(inner, "code", code);
		jsonx_add_str(inner, "message", message);
		if (field && *field)
			jsonx_add_str(inner, "field", field);
		json_object_object_add(outer, "error", inner);
		resp_json(rs, status, outer);
	}
	if (status == 401)
		resp_header(rs, "WWW-Authenticate", "Bearer");
}

/* resp_list of a list given as text: the object json-c would make of it, written out
 * ("items" first, then "next_cursor"; PLAIN, as resp_serialize writes). */
static void list_text(struct resp *rs, struct store_list *list)
{
	struct buf body;

	buf_init(&body, RESP_TEXT_MAX);
	/* Its size known but for the cursor's escapes: grown once, not by doubling. */
	if (buf_reserve(&body, list->text.len + 64 + 2 * sizeof(list->next_cursor)) != 0 ||
	    buf_puts(&body, "{\"items\":") != 0 ||
	    buf_append(&body, list->text.data, list->text.len) != 0 ||
	    buf_puts(&body, ",\"next_cursor\":") != 0 ||
	    (list->has_more ? jsonx_buf_str(&body, list->next_cursor)
	                    : buf_puts(&body, "null")) != 0 ||
	    buf_puts(&body, "}") != 0) {
		buf_clear(&body);
		buf_clear(&list->text);
		resp_error(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	buf_clear(&list->text);
	resp_text(rs, 200, &body);
}

void resp_list(struct resp *rs, struct store_list *list)
{
	json_object *body;

	if (list->text.data) {
		list_text(rs, list);
		return;
	}
	body = json_object_new_object();

	if (!body) {
		json_object_put(list->items);
		list->items = NULL;
		resp_error(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	json_object_object_add(body, "items", list->items ? list->items : json_object_new_array());
	list->items = NULL;
	jsonx_add_str(body, "next_cursor", list->has_more ? list->next_cursor : NULL);
	resp_json(rs, 200, body);
}

void resp_jsonx_error(struct resp *rs, const struct jsonx_error *err)
{
	resp_error(rs, 400, err->code[0] ? err->code : "invalid_json", err->field, "%s",
	           err->message);
}

void resp_store_error(struct resp *rs, int rc, struct db *db, const char *request_id,
                      const char *what)
{
	switch (rc) {
	case STORE_NOT_FOUND:
		resp_error(rs, 404, "not_found", NULL, "no such %s", what);
		return;
	case STORE_BUSY:
		resp_error(rs, 503, "unavailable",  NULL,
		           "the database is busy; try again in a moment");
		return;
	default:
		break;
	}
	if (!db || db_ping(db) < 0) {
		log_error("req=%s %s: the database is unreachable", request_id, what);
		resp_error(rs, 503, "unavailable", NULL, "the database is unreachable; try again later");
		return;
	}
	log_error("req=%s %s: store failed rc=%d", request_id, what, rc);
	resp_error(rs, 500, "internal", NULL,
	           "internal error; quote request id %s when reporting it", request_id);
}

const char *resp_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* n in decimal. 0 or -1. */
static int put_number(struct buf *out, size_t n)
{
	char digits[24], *d = digits + sizeof(digits);

	do {
		*--d = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	return buf_append(out, d, (size_t)(digits + sizeof(digits) - d));
}

int resp_head(const struct resp *rs, int head_only, struct buf *out, const char **body,
              size_t *body_len)
{
	int status = rs->status ? rs->status : 500;
	const char *json = NULL;
	size_t json_len = 0;
	int bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);

	*body = NULL;
	*body_len = 0;
	if (rs->body && !bodiless) {
		json = json_object_to_json_string_length(
			rs->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &json_len);
		if (!json)
			return -1;
	} else if (rs->text.len && !bodiless) {
		json = rs->text.data;
		json_len = rs->text.len;
	}
	/* One allocation for the head: the fixed lines and the extra headers. */
	if (buf_reserve(out, 160 + rs->headers.len) < 0)
		return -1;
	/* Put together without printf: every reply has these lines. */
	if (buf_puts(out, "Status: ") < 0 || put_number(out, (size_t)status) < 0 ||
	    buf_puts(out, " ") < 0 || buf_puts(out, resp_reason(status)) < 0 ||
	    buf_puts(out, "\r\n") < 0)
		return -1;
	if (json) {
		if (buf_puts(out, "Content-Type: application/json\r\nContent-Length: ") < 0 ||
		    put_number(out, json_len) < 0 || buf_puts(out, "\r\n") < 0)
			return -1;
	} else if (!bodiless) {
		if (buf_puts(out, "Content-Length: 0\r\n") < 0)
			return -1;
	}
	/* Replies may carry secrets (a new device's) and are per tenant: never cache. */
	if (buf_puts(out, "Cache-Control: no-store\r\n") < 0)
		return -1;
	if (rs->headers.len && buf_append(out, rs->headers.data, rs->headers.len) < 0)
		return -1;
	if (buf_puts(out, "\r\n") < 0)
		return -1;
	if (json && !head_only) {
		*body = json;
		*body_len = json_len;
	}
	return 0;
}

int resp_serialize(const struct resp *rs, int head_only, struct buf *out)
{
	const char *body;
	size_t len;

	if (resp_head(rs, head_only, out, &body, &len) < 0)
		return -1;
	return len ? buf_append(out, body, len) : 0;
}
