/* relay_account.c: what the relay's streams leave behind: bytes on the session row
 * (sessions.bytes_in: engineer -> machine, bytes_out: machine -> engineer; added every
 * few seconds while a stream runs and when it ends), the audit log's session.connect and
 * session.disconnect (actor: the engineer's credential; tenant: the session's), and the
 * Prometheus metrics:
 *   kaiden_relay_streams                gauge: streams here
 *   kaiden_relay_streams_total{result}  counter: paired, and each way a stream was
 *                                       refused or failed (the refusal's code,
 *                                       target_refused, agent_timeout, agent_offline,
 *                                       unknown_stream, bad_key)
 *   kaiden_relay_bytes_total{direction} counter: in (engineer -> machine), out */
#include <stdio.h>
#include <string.h>

#include "helperd.h"
#include "log.h"
#include "metrics.h"
#include "relay_stream.h"
#include "store_auth.h"

void relay_account_init(void)
{
	metrics_describe("kaiden_relay_streams", METRICS_GAUGE, "relay streams here");
	metrics_describe("kaiden_relay_streams_total", METRICS_COUNTER,
	                 "relay streams paired, and refused or failed, by result");
	metrics_describe("kaiden_relay_bytes_total", METRICS_COUNTER,
	                 "bytes the relay carried: in (engineer to machine), out");
	relay_account_gauges();
}

void relay_account_gauges(void)
{
	metrics_set("kaiden_relay_streams", NULL, relay_all.count);
}

void relay_account_result(const char *result)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	metrics_inc("kaiden_relay_streams_total", labels, 1);
}

static void audit(struct relay_stream *s, const char *action, json_object *details)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.tenant_id = s->tenant_id;
	a.actor = &s->cred.who;
	a.action = action;
	a.target_type = "session";
	a.target_id = s->session_id;
	a.remote_addr = s->addr[0] ? s->addr : NULL;
	a.details = details;
	if (store_audit_add(helperd.db, &a) != STORE_OK)
		log_error("stream=%s session=%s audit %s could not be recorded", s->id,
		          s->session_id, action);
}

void relay_account_open(struct relay_stream *s)
{
	json_object *details = json_object_new_object();

	json_object_object_add(details, "target",
	                       json_object_new_string(relay_target_name(s->target)));
	json_object_object_add(details, "stream_id", json_object_new_string(s->id));
	audit(s, "session.connect", details);
	json_object_put(details);
	log_info("stream=%s session=%s connect target=%s credential=%s addr=%s", s->id,
	         s->session_id, relay_target_name(s->target), s->cred.who.credential_id,
	         s->addr);
}

void relay_account_bytes(struct relay_stream *s)
{
	/* What was written to the agent came from the engineer, and the reverse. */
	uint64_t in = s->side[RELAY_AGENT].written, out = s->side[RELAY_ENGINEER].written;
	int rc;

	/* A forwarded stream is the other helperd's to count (relay_peer.h). */
	if (s->forward)
		return;
	/* The metrics count at once; the row when it can be written (else next time). */
	if (in > s->metered_in)
		metrics_inc("kaiden_relay_bytes_total", "direction=\"in\"", (double)(in - s->metered_in));
	if (out > s->metered_out)
		metrics_inc("kaiden_relay_bytes_total", "direction=\"out\"",
		            (double)(out - s->metered_out));
	s->metered_in = in;
	s->metered_out = out;
	if (in == s->counted_in && out == s->counted_out)
		return;
	rc = store_relay_add_bytes(helperd.db, s->tenant_id, s->session_id, in - s->counted_in,
	                           out - s->counted_out);
	if (rc == STORE_OK || rc == STORE_NOT_FOUND) {
		s->counted_in = in;
		s->counted_out = out;
	} else {
		log_warn("stream=%s session=%s bytes not recorded yet", s->id, s->session_id);
	}
}

void relay_account_close(struct relay_stream *s)
{
	json_object *details;
	int64_t seconds = (ids_now_ms() - s->opened_ms) / 1000;

	if (s->forward) {
		log_info("stream=%s forwarded to %s closed code=%u", s->id, s->peer, s->end_code);
		return;
	}
	details = json_object_new_object();
	relay_account_bytes(s);
	json_object_object_add(details, "target",
	                       json_object_new_string(relay_target_name(s->target)));
	json_object_object_add(details, "stream_id", json_object_new_string(s->id));
	json_object_object_add(details, "bytes_in",
	                       json_object_new_int64((int64_t)s->side[RELAY_AGENT].written));
	json_object_object_add(details, "bytes_out",
	                       json_object_new_int64((int64_t)s->side[RELAY_ENGINEER].written));
	json_object_object_add(details, "seconds", json_object_new_int64(seconds));
	json_object_object_add(details, "close_code", json_object_new_int(s->end_code));
	if (s->end_why[0])
		json_object_object_add(details, "close_reason", json_object_new_string(s->end_why));
	audit(s, "session.disconnect", details);
	json_object_put(details);
	log_info("stream=%s session=%s disconnect code=%u bytes_in=%llu bytes_out=%llu "
	         "seconds=%lld",
	         s->id, s->session_id, s->end_code,
	         (unsigned long long)s->side[RELAY_AGENT].written,
	         (unsigned long long)s->side[RELAY_ENGINEER].written, (long long)seconds);
}
