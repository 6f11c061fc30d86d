/* metrics.c: a small Prometheus registry and its HTTP listener.
 *
 * The registry is a list of families (name, type, help), each with a list of series
 * (a label set and a value, or histogram buckets). helperd has a few dozen series, so
 * lookups are linear; nothing here runs per heartbeat.
 *
 * The listener is a plain uv_tcp server on the loop, separate from the agents' lws
 * vhost: it answers GET /metrics (and GET /healthz with "ok") with HTTP/1.0 and closes,
 * which is all a Prometheus scraper needs. A request larger than 4 KiB, or slower than
 * 5 seconds, is dropped. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "helperd.h"
#include "log.h"

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                  1,     2.5,  5,     10,   30,  60 };
#define NBUCKETS ((int)ARRAY_LEN(buckets))

struct series {
	struct series *next;
	char *labels;             /* "" for none */
	double value;             /* counter/gauge; histogram: the sum */
	unsigned long count;      /* histogram */
	unsigned long *bucket;    /* histogram: NBUCKETS cumulative counts */
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum metrics_type type;
	struct series *series;
};

static struct family *families, **families_tail = &families;

static struct family *family_get(const char *name, enum metrics_type type)
{
	struct family *f;

	for (f = families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name))) {
		free(f);
		log_error("metric=%s out of memory", name);
		return NULL;
	}
	f->type = type;
	/* Kept in the order of first use: the output is stable from scrape to scrape. */
	*families_tail = f;
	families_tail = &f->next;
	return f;
}

static struct series *series_get(struct family *f, const char *labels)
{
	struct series *s, **tail = &f->series;

	if (!labels)
		labels = "";
	for (s = f->series; s; s = s->next) {
		if (strcmp(s->labels, labels) == 0)
			return s;
		tail = &s->next;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->labels = strdup(labels)) ||
	    (f->type == METRICS_HISTOGRAM && !(s->bucket = calloc(NBUCKETS, sizeof(*s->bucket))))) {
		if (s)
			free(s->labels);
		free(s);
		log_error("metric=%s out of memory", f->name);
		return NULL;
	}
	*tail = s;
	return s;
}

void metrics_describe(const char *name, enum metrics_type type, const char *help)
{
	struct family *f = family_get(name, type);

	if (!f)
		return;
	f->type = type;
	free(f->help);
	f->help = help ? strdup(help) : NULL;
}

void metrics_inc(const char *name, const char *labels, double by)
{
	struct family *f = family_get(name, METRICS_COUNTER);
	struct series *s = f ? series_get(f, labels) : NULL;

	if (s)
		s->value += by;
}

void metrics_set(const char *name, const char *labels, double value)
{
	struct family *f = family_get(name, METRICS_GAUGE);
	struct series *s = f ? series_get(f, labels) : NULL;

	if (s)
		s->value = value;
}

void metrics_observe(const char *name, const char *labels, double seconds)
{
	struct family *f = family_get(name, METRICS_HISTOGRAM);
	struct series *s;

	if (!f)
		return;
	if (f->type != METRICS_HISTOGRAM) {
		log_error("metric=%s observed but not a histogram", name);
		return;
	}
	s = series_get(f, labels);
	if (!s)
		return;
	s->value += seconds;
	s->count++;
	for (int i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			s->bucket[i]++;
}

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

/* Prometheus accepts Go's float syntax; integers print without a fraction. */
static int put_value(struct buf *b, double v)
{
	if (isnan(v))
		return buf_puts(b, "NaN");
	if (isinf(v))
		return buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e15)
		return buf_printf(b, "%.0f", v);
	return buf_printf(b, "%.9g", v);
}

static int put_series(struct buf *b, const struct family *f, const struct series *s)
{
	const char *sep = s->labels[0] ? "," : "";

	if (f->type != METRICS_HISTOGRAM) {
		if (s->labels[0] ? buf_printf(b, "%s{%s} ", f->name, s->labels)
		                 : buf_printf(b, "%s ", f->name))
			return -1;
		return put_value(b, s->value) || buf_puts(b, "\n");
	}
	for (int i = 0; i < NBUCKETS; i++)
		if (buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %lu\n", f->name, s->labels, sep,
		               buckets[i], s->bucket[i]))
			return -1;
	if (buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %lu\n", f->name, s->labels, sep, s->count))
		return -1;
	if (s->labels[0] ? buf_printf(b, "%s_sum{%s} ", f->name, s->labels)
	                 : buf_printf(b, "%s_sum ", f->name))
		return -1;
	if (put_value(b, s->value) || buf_puts(b, "\n"))
		return -1;
	return s->labels[0] ? buf_printf(b, "%s_count{%s} %lu\n", f->name, s->labels, s->count)
	                    : buf_printf(b, "%s_count %lu\n", f->name, s->count);
}

char *metrics_render(void)
{
	struct buf b;

	buf_init(&b, 4 << 20);
	for (const struct family *f = families; f; f = f->next) {
		if (f->help && buf_printf(&b, "# HELP %s %s\n", f->name, f->help))
			goto fail;
		if (buf_printf(&b, "# TYPE %s %s\n", f->name, type_name(f->type)))
			goto fail;
		/* A described family with no series yet shows a zero, so dashboards and alerts
		 * see the metric exist from the start. */
		if (!f->series && f->type != METRICS_HISTOGRAM) {
			if (buf_printf(&b, "%s 0\n", f->name))
				goto fail;
			continue;
		}
		for (const struct series *s = f->series; s; s = s->next)
			if (put_series(&b, f, s))
				goto fail;
	}
	return buf_take(&b);
fail:
	log_error("metrics: the exposition text does not fit");
	buf_clear(&b);
	return NULL;
}

static void registry_free(void)
{
	struct family *f, *fn;
	struct series *s, *sn;

	for (f = families; f; f = fn) {
		fn = f->next;
		for (s = f->series; s; s = sn) {
			sn = s->next;
			free(s->labels);
			free(s->bucket);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	families = NULL;
	families_tail = &families;
}

/* ---- the HTTP listener ----------------------------------------------------------- */

#define REQ_MAX 4096
#define REQ_TIMEOUT_MS 5000

struct client {
	struct client *prev, *next; /* every open client, for shutdown */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write;
	char req[REQ_MAX];
	size_t len;
	char *reply;
	int closing, handles;
};

static uv_tcp_t server;
static int server_open;
static struct client *clients;

static void client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	if (--c->handles == 0) {
		free(c->reply);
		free(c);
	}
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->tcp, client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, client_handle_closed);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	client_close(w->data);
}

static void reply(struct client *c, const char *status, const char *type, const char *body)
{
	struct buf b;
	uv_buf_t ub;

	uv_read_stop((uv_stream_t *)&c->tcp);
	buf_init(&b, (8 << 20));
	if (buf_printf(&b,
	               "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	               "Connection: close\r\n\r\n%s",
	               status, type, strlen(body), body) != 0) {
		buf_clear(&b);
		client_close(c);
		return;
	}
	ub.len = b.len;
	c->reply = buf_take(&b);
	ub.base = c->reply;
	c->write.data = c;
	if (!c->reply || uv_write(&c->write, (uv_stream_t *)&c->tcp, &ub, 1, on_written) != 0)
		client_close(c);
}

static void handle_request(struct client *c)
{
	char *text;

	if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics?", 13) == 0) {
		text = metrics_render();
		if (!text) {
			reply(c, "500 Internal Server Error", "text/plain", "out of memory\n");
			return;
		}
		reply(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text);
		free(text);
	} else if (strncmp(c->req, "GET /healthz ", 13) == 0) {
		reply(c, "200 OK", "text/plain", "ok\n");
	} else if (strncmp(c->req, "GET ", 4) == 0) {
		reply(c, "404 Not Found", "text/plain", "not found: try /metrics\n");
	} else {
		reply(c, "405 Method Not Allowed", "text/plain", "GET only\n");
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct client *c = h->data;

	(void)suggested;
	b->base = c->req + c->len;
	b->len = REQ_MAX - 1 - c->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;

	(void)b;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
		handle_request(c);
		return;
	}
	if (c->len >= REQ_MAX - 1)
		reply(c, "431 Request Header Fields Too Large", "text/plain", "too large\n");
}

static void on_timeout(uv_timer_t *t)
{
	client_close(t->data);
}

static void on_connection(uv_stream_t *srv, int status)
{
	struct client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	uv_tcp_init(helperd.loop, &c->tcp);
	uv_timer_init(helperd.loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	c->next = clients;
	if (clients)
		clients->prev = c;
	clients = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, REQ_TIMEOUT_MS, 0);
}

/* "host:port" (host may be [v6]) into a sockaddr. */
static int parse_hostport(const char *spec, struct sockaddr_storage *out)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	size_t hl;
	long port;
	char *end;

	if (!colon)
		return -1;
	hl = (size_t)(colon - spec);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) == 0 ? 0 : -1;
	}
	if (!host[0] || strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0 ? 0 : -1;
}

int metrics_init(void)
{
	const char *spec = cfg_str(CFG_HELPERD_METRICS);
	struct sockaddr_storage addr;
	int rc;

	if (!spec || !spec[0] || strcmp(spec, "off") == 0) {
		log_info("metrics: no listener (helperd.metrics is empty)");
		return 0;
	}
	memset(&addr, 0, sizeof(addr));
	if (parse_hostport(spec, &addr) != 0) {
		log_error("metrics: helperd.metrics must be host:port, not '%s'", spec);
		return -1;
	}
	uv_tcp_init(helperd.loop, &server);
	server_open = 1;
	rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&server, 64, on_connection);
	if (rc != 0) {
		log_error("metrics: cannot listen on %s: %s", spec, uv_strerror(rc));
		metrics_shutdown();
		return -1;
	}
	log_info("metrics: serving /metrics on %s", spec);
	return 0;
}

void metrics_shutdown(void)
{
	if (server_open) {
		server_open = 0;
		uv_close((uv_handle_t *)&server, NULL);
	}
	while (clients)
		client_close(clients);
	/* The registry stays until metrics_free: modules may still count. */
}

void metrics_free(void)
{
	registry_free();
}
