/* node_watch.h: the agent's node, read from the Kubernetes API (k8s_node.h) at start and
 * every refresh period, without ever blocking the lws loop (cluster mode, issue 12).
 *
 * Each read is an asynchronous GET on the loop itself (k8s_node_read, k8s_get.h: no
 * thread; until issue 14 a worker thread ran a blocking libcurl request). The next read
 * is scheduled a refresh period after the previous one finished, so reads never overlap
 * and a slow API is not asked faster than it answers.
 *
 * The callback runs on the loop, only when there is something to
 * say: the first reading (good or not), a good reading that differs from the last good
 * one (k8s_node_diff), the first good reading after failures, a failure after a good
 * reading, and a failure whose reason differs from the previous failure's. Loop thread
 * only, one watcher per process. */
#ifndef KAIDEN_AGENT_NODE_WATCH_H
#define KAIDEN_AGENT_NODE_WATCH_H

#include <libwebsockets.h>
#include "compat.h"
#include "k8s_node.h"

struct node_watch_config {
	struct k8s_source src;                   /* copied */
	char node_name[K8S_NODE_NAME_MAX + 1];
	int refresh_s;                           /* >= 1 */
	void (*read_over)(void);                 /* after every read, whether the callback
	                                          * ran or not; NULL: nothing */
};

/* node: the reading (borrowed for the call), or NULL when it failed, with reason set.
 * changed: the k8s_change bits against the last good reading; every bit for the first
 * good one; 0 for a failure. */
typedef void (*node_watch_fn)(void *arg, const struct k8s_node *node, const char *reason,
                              unsigned changed);

/* Sets up the API client on context (k8s_get_init: a vhost trusting the source's CA)
 * and starts the first read now. 0, or -1 (logged). */
int node_watch_init(struct lws_context *context, const struct node_watch_config *cfg,
                    node_watch_fn fn, void *arg) WUR;
/* Cancels a read in flight (its connection closed at once) and stops the schedule. */
void node_watch_clear(void);
/* Reads finished so far (good or not). */
int node_watch_reads(void);

#endif
