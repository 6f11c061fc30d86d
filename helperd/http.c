/* http.c: libcurl multi on the libuv loop (the pattern of curl's multi-uv.c).
 *
 * curl tells us which sockets to watch (socket_cb: one uv_poll_t per socket, kept
 * with curl_multi_assign) and when to wake it (timer_cb: one uv_timer_t; 0 ms means
 * "soon", run as 1 ms). Readiness and timeouts go back through
 * curl_multi_socket_action, after which finished transfers are collected from
 * curl_multi_info_read and their callbacks run. A callback may start or cancel other
 * requests: collection re-reads the multi handle's queue each time. */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"

struct http_call {
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve;
	int discard_body;
	char *method, *url, *body;
	size_t body_len;
	struct buf response;
	int retry_after;
	int too_large;
	char errbuf[CURL_ERROR_SIZE];
	http_done_fn done;
	void *arg;
	struct http_call *prev, *next;
};

struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
};

static struct {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	int timer_open;
	struct http_call *calls;
	int ncalls;
	int users;
} H;

/* Headers carry bearer tokens, bodies and answers a tunnel's secret or token: none of it
 * is left behind in freed memory. */
static void call_free(struct http_call *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	for (struct curl_slist *l = c->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(c->headers);
	curl_slist_free_all(c->resolve);
	free(c->method);
	free(c->url);
	if (c->body)
		explicit_bzero(c->body, c->body_len);
	free(c->body);
	if (c->response.data)
		explicit_bzero(c->response.data, c->response.cap);
	buf_clear(&c->response);
	free(c);
}

static void call_unlink(struct http_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		H.calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	H.ncalls--;
}

static void collect_done(void)
{
	CURLMsg *msg;
	int pending;

	while ((msg = curl_multi_info_read(H.multi, &pending))) {
		struct http_call *c = NULL;
		struct http_response r;
		curl_off_t total_us = 0;
		long status = 0;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME_T, &total_us);
		curl_multi_remove_handle(H.multi, msg->easy_handle);
		if (!c)
			continue;
		call_unlink(c);
		memset(&r, 0, sizeof(r));
		r.retry_after = c->retry_after;
		r.seconds = (double)total_us / 1e6;
		r.body = c->response.data ? c->response.data : "";
		r.body_len = c->response.len;
		if (code != CURLE_OK) {
			r.status = 0;
			r.transport_error = (int)code;
			r.error = c->too_large ? "too_large"
			          : c->errbuf[0] ? c->errbuf
			                         : curl_easy_strerror(code);
		} else {
			r.status = status;
			r.error = "";
		}
		c->done(c->arg, &r);
		call_free(c);
	}
}

static void poll_cb(uv_poll_t *poll, int status, int events)
{
	struct sock_ctx *ctx = poll->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(H.multi, ctx->fd, flags, &running);
	collect_done();
}

static void on_timer(uv_timer_t *t)
{
	int running;

	(void)t;
	curl_multi_socket_action(H.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_done();
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	(void)userp;
	if (timeout_ms < 0)
		uv_timer_stop(&H.timer);
	else
		uv_timer_start(&H.timer, on_timer, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
	return 0;
}

static void close_ctx(uv_handle_t *h)
{
	free(h->data);
}

static int socket_cb(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
	struct sock_ctx *ctx = socketp;
	int events = 0;

	(void)easy;
	(void)userp;
	switch (action) {
	case CURL_POLL_IN:
	case CURL_POLL_OUT:
	case CURL_POLL_INOUT:
		if (!ctx) {
			ctx = calloc(1, sizeof(*ctx));
			if (!ctx)
				return -1;
			ctx->fd = s;
			if (uv_poll_init_socket(H.loop, &ctx->poll, s) != 0) {
				free(ctx);
				return -1;
			}
			ctx->poll.data = ctx;
			curl_multi_assign(H.multi, s, ctx);
		}
		if (action != CURL_POLL_OUT)
			events |= UV_READABLE;
		if (action != CURL_POLL_IN)
			events |= UV_WRITABLE;
		uv_poll_start(&ctx->poll, events, poll_cb);
		break;
	case CURL_POLL_REMOVE:
		if (ctx) {
			uv_poll_stop(&ctx->poll);
			uv_close((uv_handle_t *)&ctx->poll, close_ctx);
			curl_multi_assign(H.multi, s, NULL);
		}
		break;
	default:
		break;
	}
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_call *c = userp;

	if (c->discard_body)
		return size * n;
	if (buf_append(&c->response, data, size * n) != 0) {
		c->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static size_t header_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_call *c = userp;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char value[64];
		size_t vlen = len - (sizeof(name) - 1);
		const char *v = data + sizeof(name) - 1;
		char *end;
		long secs;
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		if (vlen == 0 || vlen >= sizeof(value))
			return len;
		memcpy(value, v, vlen);
		value[vlen] = '\0';
		secs = strtol(value, &end, 10);
		if (end != value && *end == '\0' && secs >= 0) {
			c->retry_after = secs > 86400 ? 86400 : (int)secs;
		} else {
			time_t at = curl_getdate(value, NULL);
			if (at > 0) {
				time_t now = time(NULL);
				c->retry_after = at > now ? (int)(at - now) : 0;
			}
		}
	}
	return len;
}

int http_init(uv_loop_t *loop)
{
	if (H.multi) {
		H.users++;
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("http: curl_global_init failed");
		return -1;
	}
	memset(&H, 0, sizeof(H));
	H.loop = loop;
	H.multi = curl_multi_init();
	if (!H.multi) {
		log_error("http: curl_multi_init failed");
		return -1;
	}
	if (uv_timer_init(loop, &H.timer) != 0) {
		curl_multi_cleanup(H.multi);
		H.multi = NULL;
		return -1;
	}
	H.timer_open = 1;
	curl_multi_setopt(H.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(H.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	/* Many sessions talk to one API host: reuse connections, a few at a time. */
	curl_multi_setopt(H.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	H.users = 1;
	return 0;
}

void http_cancel(struct http_call *c)
{
	if (!c)
		return;
	curl_multi_remove_handle(H.multi, c->easy);
	call_unlink(c);
	call_free(c);
}

void http_shutdown(void)
{
	if (!H.multi || --H.users > 0)
		return;
	while (H.calls)
		http_cancel(H.calls);
	curl_multi_cleanup(H.multi);
	H.multi = NULL;
	if (H.timer_open) {
		uv_timer_stop(&H.timer);
		uv_close((uv_handle_t *)&H.timer, NULL);
		H.timer_open = 0;
	}
	curl_global_cleanup();
}

int http_running(void)
{
	return H.ncalls;
}

static char *dup_or_null(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

struct http_call *http_request(const struct http_request *req, http_done_fn done, void *arg)
{
	struct http_call *c;
	CURLcode ok = CURLE_OK;

	if (!H.multi || !req || !req->method || !req->url || !done) {
		log_error("http: request before http_init or without method, url or callback");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	buf_init(&c->response, HTTP_MAX_BODY);
	c->retry_after = -1;
	c->done = done;
	c->arg = arg;
	c->method = strdup(req->method);
	c->url = strdup(req->url);
	c->easy = curl_easy_init();
	if (!c->method || !c->url || !c->easy)
		goto fail;
	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *l = curl_slist_append(c->headers, *h);
		if (!l)
			goto fail;
		c->headers = l;
	}
	/* No "Expect: 100-continue" round trip before a body. */
	{
		struct curl_slist *l = curl_slist_append(c->headers, "Expect:");
		if (!l)
			goto fail;
		c->headers = l;
	}
	ok |= curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	ok |= curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR,
	                       req->protocols ? req->protocols : "http,https");
	ok |= curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (req->resolve && req->resolve[0]) {
		c->resolve = curl_slist_append(NULL, req->resolve);
		if (!c->resolve)
			goto fail;
		ok |= curl_easy_setopt(c->easy, CURLOPT_RESOLVE, c->resolve);
	}
	if (req->ca_file && req->ca_file[0])
		ok |= curl_easy_setopt(c->easy, CURLOPT_CAINFO, req->ca_file);
	c->discard_body = req->discard_body;
	ok |= curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	ok |= curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS,
	                       req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	ok |= curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	ok |= curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	ok |= curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
	ok |= curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	ok |= curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
	ok |= curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	ok |= curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	ok |= curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	ok |= curl_easy_setopt(c->easy, CURLOPT_USERAGENT,
	                       req->user_agent ? req->user_agent : "kaiden-helperd");
	/* A POST always gets a (maybe empty) body: without one libcurl would read stdin. */
	if (req->body || strcmp(req->method, "POST") == 0) {
		c->body = dup_or_null(req->body ? req->body : "", req->body ? req->body_len : 0);
		if (!c->body)
			goto fail;
		c->body_len = req->body ? req->body_len : 0;
		ok |= curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                       (curl_off_t)(req->body ? req->body_len : 0));
		ok |= curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
	}
	if (strcmp(req->method, "GET") == 0 && !req->body)
		ok |= curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(req->method, "POST") != 0)
		ok |= curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, c->method);
	if (ok != CURLE_OK) {
		log_error("http: could not set up a %s request", req->method);
		goto fail;
	}
	if (curl_multi_add_handle(H.multi, c->easy) != CURLM_OK) {
		log_error("http: could not start a %s request", req->method);
		goto fail;
	}
	c->next = H.calls;
	if (H.calls)
		H.calls->prev = c;
	H.calls = c;
	H.ncalls++;
	return c;
fail:
	call_free(c);
	return NULL;
}
