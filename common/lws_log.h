/* lws_log.h: libwebsockets' log lines into ours (log.h), each "lws: ..." at warn or error,
 * with a run of one line repeated folded: a helperd at its descriptor limit gets an
 * "accept: errno 24" for every connection it refuses, thousands a second in a reconnect
 * storm. The first line of a run is written; the same line again within LWS_LOG_REPEAT_S
 * seconds of it is counted, not written; then, when another line comes or the window has
 * passed, one "lws: the line above N more times in S s" goes first. A line lws always
 * writes right after another, adding nothing (lws_log.c, followers), is dropped there
 * and so does not break that line's run. Loop thread only
 * (lws logs from its service thread). */
#ifndef KAIDEN_LWS_LOG_H
#define KAIDEN_LWS_LOG_H

#include <stddef.h>
#include <time.h>

#define LWS_LOG_REPEAT_S 10
#define LWS_LOG_LINE_MAX 256 /* a longer line is always written */

struct lws_log_run {
	char line[LWS_LOG_LINE_MAX];
	size_t len;
	time_t first;     /* when the run's written line came */
	unsigned repeats; /* the same line since, not written */
	int level;        /* the run's lws level */
};

/* The decision, for tests: whether line (n bytes, at lws level) is written at now.
 * *fold gets the repeats of the run it ends to report first (0: none), *fold_s their
 * span in seconds; the run's level is then still in run->level until this returns. */
int lws_log_take(struct lws_log_run *run, int level, const char *line, size_t n,
                 time_t now, unsigned *fold, long *fold_s);

/* lws_set_log_level's emitter: LLL_ERR lines at error, the rest at warn. */
void lws_log_emit(int level, const char *line);

#endif
