/* lws_log.c: libwebsockets' log lines into ours, repeats folded (lws_log.h). */
#include <libwebsockets.h>
#include <string.h>

#include "log.h"
#include "lws_log.h"

int lws_log_take(struct lws_log_run *run, int level, const char *line, size_t n,
                 time_t now, unsigned *fold, long *fold_s)
{
	*fold = 0;
	*fold_s = 0;
	if (n > sizeof(run->line)) {
		/* too long to keep: written, and it ends the run (reported first) */
		*fold = run->repeats;
		*fold_s = (long)(now - run->first);
		run->len = 0;
		run->repeats = 0;
		return 1;
	}
	if (run->len == n && run->level == level && memcmp(run->line, line, n) == 0 &&
	    now - run->first < LWS_LOG_REPEAT_S && now >= run->first) {
		run->repeats++;
		return 0;
	}
	*fold = run->repeats;
	*fold_s = (long)(now - run->first);
	memcpy(run->line, line, n);
	run->len = n;
	run->first = now;
	run->repeats = 0;
	run->level = level;
	return 1;
}

static enum log_level level_of(int lws_level)
{
	return (lws_level & LLL_ERR) ? LOG_LVL_ERROR : LOG_LVL_WARN;
}

void lws_log_emit(int level, const char *line)
{
	static struct lws_log_run run;
	size_t n = strcspn(line, "\r\n");
	int run_level = run.level;
	unsigned fold;
	long fold_s;

	if (!lws_log_take(&run, level, line, n, time(NULL), &fold, &fold_s))
		return;
	if (fold)
		log_msg(level_of(run_level), "lws: the line above %u more times in %ld s", fold,
		        fold_s);
	log_msg(level_of(level), "lws: %.*s", (int)n, line);
}
