/* lws_log.c: libwebsockets' log lines into ours, repeats folded (lws_log.h). */
#include <libwebsockets.h>
#include <string.h>

#include "log.h"
#include "lws_log.h"

/* Lines lws always writes right after another one, saying nothing more: taken as part of
 * that line's run, so that the pair folds as one line would. */
static const struct {
	const char *after, *line; /* prefixes */
} followers[] = {
	/* an accepted connection whose descriptor number is past lws's table (helperd at
	 * its descriptor share: helperd/main.c, create_context) */
	{ "Socket fd ", "lws_adopt_descriptor_vhost2: fail inserting socket" },
};

static int has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(s, prefix, p) == 0;
}

/* 1 when line is the follower of the run's line, within the run's window. */
static int follows_run(const struct lws_log_run *run, const char *line, size_t n, time_t now)
{
	if (!run->len || now - run->first >= LWS_LOG_REPEAT_S || now < run->first)
		return 0;
	for (size_t i = 0; i < sizeof(followers) / sizeof(followers[0]); i++)
		if (has_prefix(line, n, followers[i].line) &&
		    has_prefix(run->line, run->len, followers[i].after))
			return 1;
	return 0;
}

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
	if (follows_run(run, line, n, now))
		return 0;
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
