/* relay_watch.c: the relay's one timer (every WATCH_MS, doing nothing while there is no
 * stream), so that a stream ends within a second of the reason for it:
 *   - a stream not paired RELAY_KEY_TTL_MS after relay.open: 4050 "the agent did not
 *     open the stream";
 *   - a paired stream that carried no byte either way for relay.idle_timeout: 4053;
 *   - the standing of what the streams depend on, read again: one query for all their
 *     sessions (not active any more: 4051; tenant suspended: 4055) and one per distinct
 *     credential (revoked, expired, user disabled or deleted, tenant suspended, or the
 *     user no longer allowed: 4055). A database that does not answer ends nothing
 *     (logged); the next tick asks again;
 *   - every BYTES_EVERY_MS, the bytes carried so far go to the session rows.
 * The device going offline (4052) and helperd stopping (4054) are events (relay_server.c). */
#include <stdlib.h>
#include <string.h>

#include "helperd.h"
#include "log.h"
#include "relay_stream.h"

#define WATCH_MS 500
#define BYTES_EVERY_MS 5000

static uv_timer_t timer;
static int timer_open;
static int64_t bytes_at_ms;

static int by_session(const void *a, const void *b)
{
	return strcmp((*(struct relay_stream *const *)a)->session_id,
	              (*(struct relay_stream *const *)b)->session_id);
}

static int by_credential(const void *a, const void *b)
{
	const struct relay_stream *x = *(struct relay_stream *const *)a;
	const struct relay_stream *y = *(struct relay_stream *const *)b;

	if (x->cred.kind != y->cred.kind)
		return x->cred.kind < y->cred.kind ? -1 : 1;
	return strcmp(x->cred.who.credential_id, y->cred.who.credential_id);
}

/* Is who still allowed what it was allowed at connect (relay_accept.c's rules, which
 * depend on its role and tenant)? */
static int still_allowed(const struct store_identity *then, const struct store_identity *now)
{
	if (now->tenant_suspended || now->role == ROLE_CUSTOMER || now->role == ROLE_NONE)
		return 0;
	if (now->role == then->role)
		return strcmp(now->tenant_id, then->tenant_id) == 0;
	/* Promoted to admin keeps every session; any other change of role ends it. */
	return now->role == ROLE_ADMIN;
}

static void check_sessions(struct relay_stream **v, int n)
{
	const char **ids = malloc((size_t)n * sizeof(*ids));
	unsigned char *standing = malloc((size_t)n);
	int m = 0, i, j;

	if (!ids || !standing)
		goto out;
	qsort(v, (size_t)n, sizeof(*v), by_session);
	for (i = 0; i < n; i++)
		if (m == 0 || strcmp(ids[m - 1], v[i]->session_id) != 0)
			ids[m++] = v[i]->session_id;
	if (store_relay_standing_any(helperd.db, ids, m, standing) != STORE_OK) {
		log_warn("relay: the standing of %d sessions could not be read", m);
		goto out;
	}
	for (i = 0, j = 0; i < n; i++) {
		while (strcmp(ids[j], v[i]->session_id) != 0)
			j++;
		if (standing[j] == STORE_RELAY_ENDED)
			relay_stream_close(v[i], RELAY_CLOSE_ENDED, "the session ended");
		else if (standing[j] == STORE_RELAY_SUSPENDED)
			relay_stream_close(v[i], RELAY_CLOSE_REVOKED, "the tenant is suspended");
	}
out:
	free(standing);
	free(ids);
}

static void check_credentials(struct relay_stream **v, int n)
{
	struct store_identity now;
	enum credential_rc rc = CREDENTIAL_OK;
	int i, first;

	qsort(v, (size_t)n, sizeof(*v), by_credential);
	for (i = 0, first = -1; i < n; i++) {
		if (first < 0 || by_credential(&v[first], &v[i]) != 0) {
			first = i;
			rc = credential_recheck(helperd.db, &v[i]->cred, &now, NULL);
			if (rc == CREDENTIAL_DB)
				log_warn("credential=%s relay: standing not read",
				         v[i]->cred.who.credential_id);
		}
		if (rc == CREDENTIAL_UNKNOWN ||
		    (rc == CREDENTIAL_OK && !still_allowed(&v[i]->cred.who, &now)))
			relay_stream_close(v[i], RELAY_CLOSE_REVOKED, "access revoked");
	}
}

static void on_tick(uv_timer_t *t)
{
	int64_t now = ids_now_ms();
	struct relay_stream **v;
	int n = 0;

	(void)t;
	if (relay_all.count == 0)
		return;
	for (struct relay_stream *s = relay_all.head; s; s = s->next) {
		if (s->state == RELAY_OPENING && now - s->opened_ms > RELAY_KEY_TTL_MS) {
			relay_account_result("agent_timeout");
			relay_stream_close(s, RELAY_CLOSE_REFUSED, "the agent did not open the stream");
		} else if (s->state == RELAY_PIPING && now - s->active_ms > relay_all.idle_ms) {
			relay_stream_close(s, RELAY_CLOSE_IDLE, "idle timeout");
		}
	}
	if (now - bytes_at_ms >= BYTES_EVERY_MS) {
		bytes_at_ms = now;
		for (struct relay_stream *s = relay_all.head; s; s = s->next)
			relay_account_bytes(s);
	}
	v = malloc((size_t)relay_all.count * sizeof(*v));
	if (!v)
		return;
	/* A forwarded stream's standing is the helperd's that runs it (relay_peer.h). */
	for (struct relay_stream *s = relay_all.head; s; s = s->next)
		if (s->state != RELAY_CLOSING && !s->forward && n < relay_all.count)
			v[n++] = s;
	if (n > 0) {
		check_sessions(v, n);
		n = 0;
		for (struct relay_stream *s = relay_all.head; s; s = s->next)
			if (s->state != RELAY_CLOSING && !s->forward && n < relay_all.count)
				v[n++] = s;
		if (n > 0)
			check_credentials(v, n);
	}
	free(v);
}

int relay_watch_init(void)
{
	if (uv_timer_init(helperd.loop, &timer) != 0)
		return -1;
	timer_open = 1;
	bytes_at_ms = ids_now_ms();
	uv_timer_start(&timer, on_tick, WATCH_MS, WATCH_MS);
	return 0;
}

void relay_watch_shutdown(void)
{
	if (!timer_open)
		return;
	timer_open = 0;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
}
