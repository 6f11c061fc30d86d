/* node_watch.c: see node_watch.h.
 *
 *   IDLE --timer--> READING (k8s_node_read: a GET on the loop)
 *   READING --answer or failure (on_read)--> judge the reading, maybe call back --> IDLE,
 *           timer set to refresh_s
 *   any --node_watch_clear--> read cancelled, timer cancelled
 *
 * A read that cannot even start (the token file, most often) is judged as a failed
 * reading at once, as one that failed on the wire. */
#include "node_watch.h"

#include <string.h>

#include "log.h"

static struct {
	struct lws_context *context;
	struct node_watch_config cfg;
	node_watch_fn fn;
	void *arg;
	lws_sorted_usec_list_t sul;
	int initialised;

	/* what the loop remembers between reads */
	int reads;
	int have_good;               /* last_good holds a reading */
	int failing;                 /* the last read failed, with last_reason */
	struct k8s_node last_good;
	char last_reason[K8S_REASON_MAX];
} W;

static void start_read(lws_sorted_usec_list_t *sul);

/* Judges a finished read: whether to call back, and with which bits. */
static void judge(const struct k8s_node *node, const char *reason)
{
	if (node) {
		unsigned changed = W.have_good ? k8s_node_diff(&W.last_good, node)
		                               : K8S_CHANGED_ALL;
		int report = changed != 0 || W.failing;
		W.last_good = *node;
		W.have_good = 1;
		W.failing = 0;
		if (report)
			W.fn(W.arg, &W.last_good, NULL, changed);
		return;
	}
	if (!W.failing || strcmp(W.last_reason, reason) != 0) {
		snprintf(W.last_reason, sizeof(W.last_reason), "%s", reason);
		W.failing = 1;
		W.fn(W.arg, NULL, W.last_reason, 0);
	}
}

static void on_read(void *arg, const struct k8s_node *node, const char *reason)
{
	(void)arg;
	if (!W.initialised)
		return;
	W.reads++;
	judge(node, reason);
	if (W.cfg.read_over)
		W.cfg.read_over();
	lws_sul_schedule(W.context, 0, &W.sul, start_read,
	                 (lws_usec_t)W.cfg.refresh_s * LWS_US_PER_SEC);
}

static void start_read(lws_sorted_usec_list_t *sul)
{
	char reason[K8S_REASON_MAX];

	(void)sul;
	if (!W.initialised || k8s_get_busy())
		return;
	if (k8s_node_read(W.cfg.node_name, on_read, NULL, reason, sizeof(reason)) != 0)
		on_read(NULL, NULL, reason);
}

int node_watch_init(struct lws_context *context, const struct node_watch_config *cfg,
                    node_watch_fn fn, void *arg)
{
	char err[K8S_REASON_MAX];

	if (!context || !cfg || !fn || cfg->refresh_s < 1 ||
	    !k8s_node_name_valid(cfg->node_name)) {
		log_error("node watch: bad configuration");
		return -1;
	}
	if (k8s_get_init(context, &cfg->src, err, sizeof(err)) != 0) {
		log_error("node=%s %s", cfg->node_name, err);
		return -1;
	}
	W.context = context;
	W.cfg = *cfg;
	W.fn = fn;
	W.arg = arg;
	W.reads = 0;
	W.have_good = 0;
	W.failing = 0;
	memset(&W.sul, 0, sizeof(W.sul));
	W.initialised = 1;
	lws_sul_schedule(context, 0, &W.sul, start_read, 1);
	return 0;
}

void node_watch_clear(void)
{
	if (!W.initialised)
		return;
	W.initialised = 0;
	lws_sul_cancel(&W.sul);
	k8s_get_clear();
}

int node_watch_reads(void)
{
	return W.reads;
}
