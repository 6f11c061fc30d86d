/* events_relay.c: the event stream across helperds (events_relay.h). Outgoing events wait
 * in a JSON array of payloads until a zero-delay timer (the end of this loop turn) sends
 * them in one statement; an array that would grow past RELAY_BATCH_MAX is sent at once. */
#include "events_relay.h"

#include <json-c/json.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "db.h"
#include "events_conn.h"
#include "helperd.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "seam.h"

/* PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
#define RELAY_PAYLOAD_MAX 7999
#define RELAY_BATCH_MAX 256

static struct {
	int on;
	json_object *out; /* payloads waiting for the flush */
	uv_timer_t flush;
	int flush_open;
} R;

int events_relay_on(void)
{
	return R.on;
}

static void flush_now(void)
{
	const char *params[2];

	if (!R.out || json_object_array_length(R.out) == 0)
		return;
	params[0] = seam_channel_name(SEAM_CHANNEL_EVENTS);
	params[1] = json_object_to_json_string_ext(R.out, JSON_C_TO_STRING_PLAIN |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!params[1] ||
	    db_exec(helperd.db, "SELECT pg_notify($1, p) FROM json_array_elements_text($2::json) AS p",
	            2, params, NULL) != DB_OK) {
		log_warn("events: %zu event(s) not sent to the other helperds: %s",
		         json_object_array_length(R.out), db_errmsg(helperd.db));
		metrics_inc("kaiden_events_relayed_total", "direction=\"lost\"",
		            (long)json_object_array_length(R.out));
	} else {
		metrics_inc("kaiden_events_relayed_total", "direction=\"out\"",
		            (long)json_object_array_length(R.out));
	}
	json_object_put(R.out);
	R.out = NULL;
}

static void on_flush(uv_timer_t *t)
{
	(void)t;
	flush_now();
}

void events_relay_send(const char *tenant_id, const char *text)
{
	struct buf p;

	if (!R.on)
		return;
	buf_init(&p, RELAY_PAYLOAD_MAX);
	if (buf_printf(&p, "%s\t%s\t%s", helperd.instance, tenant_id, text) != 0) {
		/* Over PostgreSQL's limit (or no memory): this one stays local. */
		log_debug("events: an event of %zu bytes is not relayed", strlen(text));
		buf_clear(&p);
		return;
	}
	if (!R.out)
		R.out = json_object_new_array();
	if (R.out)
		json_object_array_add(R.out, json_object_new_string_len(p.data, (int)p.len));
	buf_clear(&p);
	if (R.out && json_object_array_length(R.out) >= RELAY_BATCH_MAX)
		flush_now();
	else if (R.out)
		uv_timer_start(&R.flush, on_flush, 0, 0);
}

void events_relay_receive(const char *payload)
{
	const char *tab1 = payload ? strchr(payload, '\t') : NULL;
	const char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
	char tenant[UUID_STR_LEN];
	size_t n;

	if (!R.on || !tab2 || (size_t)(tab2 - tab1 - 1) != UUID_STR_LEN - 1)
		return;
	n = (size_t)(tab1 - payload);
	/* Our own, back from the server. */
	if (n == strlen(helperd.instance) && memcmp(payload, helperd.instance, n) == 0)
		return;
	memcpy(tenant, tab1 + 1, UUID_STR_LEN - 1);
	tenant[UUID_STR_LEN - 1] = '\0';
	if (!ids_is_uuid(tenant) || !events_open())
		return;
	metrics_inc("kaiden_events_relayed_total", "direction=\"in\"", 1);
	events_publish(tenant, tab2 + 1);
}

int events_relay_init(void)
{
	memset(&R, 0, sizeof(R));
	metrics_describe("kaiden_events_relayed_total", METRICS_COUNTER,
	                 "Browser events sent to the other helperds (out), received from them "
	                 "(in), or not sent (lost)");
	if (db_kind(helperd.db) != DB_POSTGRES)
		return 0;
	if (uv_timer_init(helperd.loop, &R.flush) != 0)
		return -1;
	R.flush_open = 1;
	R.on = 1;
	return 0;
}

void events_relay_shutdown(void)
{
	if (!R.flush_open)
		return;
	flush_now();
	R.on = 0;
	uv_timer_stop(&R.flush);
	uv_close((uv_handle_t *)&R.flush, NULL);
	R.flush_open = 0;
}
