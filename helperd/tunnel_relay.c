/* tunnel_relay.c: the relay provider's table (provider.h). helperd carries a relay
 * session's bytes itself (relay*.c: the engineer's /ws/connect and the agent's data
 * sockets), so there is nothing to make outside it: provision and token complete on the
 * next loop turn with no token (no step, no id, no call), there is no teardown and no
 * sweep. The agent accepts the session with relay.start (protocol version 2,
 * agent/PROTOCOL.md "The relay") and answers tunnel.ready; an agent that said version 1
 * cannot, and the session fails saying to update it. */
#include "provider.h"

#include <stdlib.h>

#include "helperd.h"

/* The first agent protocol version that knows relay.start. */
#define RELAY_MIN_AGENT_VERSION 2

struct tunnel_op {
	uv_timer_t timer;
	tunnel_done_fn done;
	void *arg;
};

static void relay_missing_settings(char *out, size_t size)
{
	if (size)
		out[0] = '\0'; /* the relay.* settings all have defaults */
}

static int relay_init(void)
{
	return 0;
}

static void relay_shutdown(void)
{
}

static const char *relay_can(const struct store_tunnel *t)
{
	(void)t;
	return NULL;
}

static void op_closed(uv_handle_t *h)
{
	free(h->data);
}

static void op_close(struct tunnel_op *op)
{
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, op_closed);
}

/* The next loop turn: the operation completes, with no token. */
static void op_due(uv_timer_t *timer)
{
	struct tunnel_op *op = timer->data;
	struct tunnel_result res = { .rc = TUNNEL_OK };
	tunnel_done_fn done = op->done;
	void *arg = op->arg;

	op_close(op); /* freed once closed; the callback may free its machine */
	done(arg, &res);
}

/* provision and token: nothing to make or fetch; done runs on the next loop turn. */
static struct tunnel_op *relay_nothing(struct store_tunnel *t, tunnel_done_fn done, void *arg)
{
	struct tunnel_op *op = calloc(1, sizeof(*op));

	(void)t;
	if (!op)
		return NULL;
	if (uv_timer_init(helperd.loop, &op->timer) != 0) {
		free(op);
		return NULL;
	}
	op->timer.data = op;
	op->done = done;
	op->arg = arg;
	uv_timer_start(&op->timer, op_due, 0, 0);
	return op;
}

static void relay_cancel(struct tunnel_op *op)
{
	op_close(op);
}

static const char *relay_agent_start(const struct store_tunnel *t, const char *token,
                                     int agent_version, enum proto_type *type,
                                     json_object *fields)
{
	(void)token;
	if (agent_version < RELAY_MIN_AGENT_VERSION)
		return "the agent on this device is too old for relay sessions; update "
		       "kaiden-agent (relay sessions need agent protocol version 2)";
	*type = PROTO_RELAY_START;
	json_object_object_add(fields, "session_id", json_object_new_string(t->id));
	json_object_object_add(fields, "ssh_port", json_object_new_int(t->ssh_port));
	json_object_object_add(fields, "web_port", json_object_new_int(t->web_port));
	return NULL;
}

const struct tunnel_provider tunnel_provider_relay = {
	.name = "relay",
	.label = "the relay",
	.missing_settings = relay_missing_settings,
	.init = relay_init,
	.shutdown = relay_shutdown,
	.cannot_provision = relay_can,
	.cannot_restore = relay_can,
	.provision = relay_nothing,
	.token = relay_nothing,
	.cancel = relay_cancel,
	.agent_start = relay_agent_start,
	/* teardown, sweep: NULL, nothing outside helperd is made */
};
