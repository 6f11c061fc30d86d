/* log.h: one-line structured (logfmt) logs on stderr.
 *
 *   ts=2026-11-23T03:45:56.123Z level=info prog=kaiden-api msg="listening" socket=/x
 *
 * Every line starts with the identity of what it is about: callers put that first in
 * the message ("device=... agent connected"). Secrets never go through here. */
#ifndef KAIDEN_LOG_H
#define KAIDEN_LOG_H

#include "compat.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the program name and the lowest level written. Safe to call again. */
void log_init(const char *prog, enum log_level min);
/* "debug", "info", "warn", "error" -> level; -1 if unknown. */
int log_level_parse(const char *name);
/* Thread-safe; each call writes one whole line. */
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
