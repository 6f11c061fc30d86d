/* metrics.h: helperd's Prometheus metrics, served as text on helperd.metrics (/metrics).
 * Names follow Prometheus conventions (kaiden_ prefix, _total for counters, _seconds for
 * durations). labels is NULL or a preformatted label set without braces, e.g.
 * `method="POST",status="200"`. Loop thread only. */
#ifndef KAIDEN_METRICS_H
#define KAIDEN_METRICS_H

#include "compat.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/* Declares a metric's type and help text (once, before use). */
void metrics_describe(const char *name, enum metrics_type type, const char *help);
void metrics_inc(const char *name, const char *labels, double by);
void metrics_set(const char *name, const char *labels, double value);
/* Histogram with fixed buckets from 5 ms to 60 s. */
void metrics_observe(const char *name, const char *labels, double seconds);
/* The exposition text (owned: free). */
char *metrics_render(void);

/* Starts the HTTP listener on helperd.metrics. */
int metrics_init(void) WUR;
/* Stops listening (scrapes in flight finish). */
void metrics_shutdown(void);
/* Frees the registry: at exit, once the loop has stopped. */
void metrics_free(void);

#endif
