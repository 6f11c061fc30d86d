/* node_watch.c: see node_watch.h.
 *
 *   IDLE --timer--> READING (worker thread in k8s_node_fetch)
 *   READING --worker done, lws_cancel_service--> (node_watch_poll joins it) judge the
 *           reading, maybe call back --> IDLE, timer set to refresh_s
 *   any --node_watch_clear--> cancel flag set, worker joined, timer cancelled
 *
 * The worker touches only W.result, W.rc, W.reason (then W.done under the mutex); the
 * loop reads them only after it saw W.done, and joins the thread before the next read
 * reuses them. The worker never logs. */
#include "node_watch.h"

#include <pthread.h>
#include <string.h>

#include "log.h"

static struct {
	struct lws_context *context;
	struct node_watch_config cfg;
	node_watch_fn fn;
	void *arg;
	lws_sorted_usec_list_t sul;
	int initialised;

	/* the read in flight */
	pthread_t thread;
	int running;
	volatile int cancel;
	pthread_mutex_t lock;
	int done;                    /* under lock */
	int rc;
	struct k8s_node result;
	char reason[K8S_REASON_MAX];

	/* what the loop remembers between reads */
	int reads;
	int have_good;               /* last_good holds a reading */
	int failing;                 /* the last read failed, with last_reason */
	struct k8s_node last_good;
	char last_reason[K8S_REASON_MAX];
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *worker(void *arg)
{
	(void)arg;
	W.rc = k8s_node_fetch(&W.cfg.src, W.cfg.node_name, &W.result, &W.cancel, W.reason,
	                      sizeof(W.reason));
	pthread_mutex_lock(&W.lock);
	W.done = 1;
	pthread_mutex_unlock(&W.lock);
	/* Thread-safe: it wakes the loop's poll() through a pipe. */
	lws_cancel_service(W.context);
	return NULL;
}

static void start_read(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (W.running || W.cancel)
		return;
	W.done = 0;
	if (pthread_create(&W.thread, NULL, worker, NULL) != 0) {
		log_warn("node=%s cannot start a thread to read the node; trying again in %d s",
		         W.cfg.node_name, W.cfg.refresh_s);
		lws_sul_schedule(W.context, 0, &W.sul, start_read,
		                 (lws_usec_t)W.cfg.refresh_s * LWS_US_PER_SEC);
		return;
	}
	W.running = 1;
}

int node_watch_init(struct lws_context *context, const struct node_watch_config *cfg,
                    node_watch_fn fn, void *arg)
{
	if (!context || !cfg || !fn || cfg->refresh_s < 1 ||
	    !k8s_node_name_valid(cfg->node_name)) {
		log_error("node watch: bad configuration");
		return -1;
	}
	W.context = context;
	W.cfg = *cfg;
	W.fn = fn;
	W.arg = arg;
	W.cancel = 0;
	W.running = 0;
	W.reads = 0;
	W.have_good = 0;
	W.failing = 0;
	memset(&W.sul, 0, sizeof(W.sul));
	W.initialised = 1;
	lws_sul_schedule(context, 0, &W.sul, start_read, 1);
	return 0;
}

/* Judges a finished read: whether to call back, and with which bits. */
static void judge(void)
{
	if (W.rc == 0) {
		unsigned changed = W.have_good ? k8s_node_diff(&W.last_good, &W.result)
		                               : K8S_CHANGED_ALL;
		int report = changed != 0 || W.failing;
		W.last_good = W.result;
		W.have_good = 1;
		W.failing = 0;
		if (report)
			W.fn(W.arg, &W.last_good, NULL, changed);
		return;
	}
	if (!W.failing || strcmp(W.last_reason, W.reason) != 0) {
		snprintf(W.last_reason, sizeof(W.last_reason), "%s", W.reason);
		W.failing = 1;
		W.fn(W.arg, NULL, W.last_reason, 0);
	}
}

void node_watch_poll(void)
{
	int done;

	if (!W.initialised || !W.running)
		return;
	pthread_mutex_lock(&W.lock);
	done = W.done;
	pthread_mutex_unlock(&W.lock);
	if (!done)
		return;
	pthread_join(W.thread, NULL);
	W.running = 0;
	W.reads++;
	if (W.cancel)
		return;
	judge();
	lws_sul_schedule(W.context, 0, &W.sul, start_read,
	                 (lws_usec_t)W.cfg.refresh_s * LWS_US_PER_SEC);
}

void node_watch_clear(void)
{
	if (!W.initialised)
		return;
	W.cancel = 1;
	lws_sul_cancel(&W.sul);
	if (W.running) {
		pthread_join(W.thread, NULL);
		W.running = 0;
	}
	W.initialised = 0;
}

int node_watch_reads(void)
{
	return W.reads;
}
