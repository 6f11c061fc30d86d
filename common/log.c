/* log.c: logfmt lines on stderr, one write(2) per line so threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"

static const char *log_prog = "kaiden";
static enum log_level log_min = LOG_LVL_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048], ts[TIMESTAMP_LEN];
	va_list ap;
	int n, m;

	if (level < log_min)
		return;
	ids_timestamp(ids_now_ms(), ts);
	n = snprintf(line, sizeof(line), "ts=%s level=%s prog=%s msg=\"", ts,
	             level_names[level], log_prog);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3; /* truncated: still one line */
	/* A message never breaks the line: newlines become spaces. */
	for (char *p = line; p < line + n; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	line[n++] = '"';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}
