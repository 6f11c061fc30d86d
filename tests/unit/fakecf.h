/* fakecf.h: the fake Cloudflare API (tests/fakes/fake_cloudflare.py) as a child process
 * of a unit test, plus blocking helpers for its control API (/_fake/...). Included by
 * check_cf.c and check_session.c; everything here is static.
 *
 * The fake runs on a free loopback port; it is killed with SIGTERM at teardown, and
 * PR_SET_PDEATHSIG stops it too when a failed check ends the test's child early. */
#ifndef KAIDEN_FAKECF_H
#define KAIDEN_FAKECF_H

#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define F_TOKEN "fake-cf-token-Zq7t0k3n-SECRET"
#define F_ACCOUNT "0123456789abcdef0123456789abcdef"
#define F_ZONE "fedcba9876543210fedcba9876543210"
#define F_ZONE_NAME "example.com"

static pid_t F_pid;
static int F_port;
static char F_base[128];    /* http://127.0.0.1:port */
static char F_api[160];     /* F_base + /client/v4 */
static char F_dir[256];

static void F_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double F_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t F_write(char *data, size_t size, size_t n, void *userp)
{
	return buf_append(userp, data, size * n) == 0 ? size * n : 0;
}

/* A blocking request to url; with auth, the API token goes with it. The parsed reply
 * (owned) or NULL. */
static json_object *F_request(const char *method, const char *url, const char *body, int auth)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct buf out;
	json_object *j = NULL;

	ck_assert_ptr_nonnull(h);
	buf_init(&out, 16u << 20);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, F_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (auth)
		hdr = curl_slist_append(hdr, "Authorization: Bearer " F_TOKEN);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK && out.data)
		j = json_tokener_parse(out.data);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	buf_clear(&out);
	return j;
}

/* A request to the fake's control API (path from /_fake/...). */
static json_object *F_http(const char *method, const char *path, const char *body)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", F_base, path);
	return F_request(method, url, body, 0);
}

/* The .result (owned) of an envelope, asserting success. */
static json_object *F_result(json_object *env, const char *method, const char *path)
{
	json_object *res = NULL, *ok;

	ck_assert_msg(env != NULL, "fake: no reply to %s %s", method, path);
	ck_assert_msg(json_object_object_get_ex(env, "success", &ok) && json_object_get_boolean(ok),
	              "fake: %s %s failed: %s", method, path, json_object_to_json_string(env));
	if (json_object_object_get_ex(env, "result", &res))
		json_object_get(res);
	json_object_put(env);
	return res;
}

/* The .result (owned) of a POST to the API proper (path after /client/v4), asserting
 * success: objects a test makes as someone else (or a lost reply) would. */
static json_object *F_api_post(const char *path, const char *body)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", F_api, path);
	return F_result(F_request("POST", url, body, 1), "POST", path);
}

/* The .result of a control call (owned), asserting success. */
static json_object *F_ctl(const char *method, const char *path, const char *body)
{
	return F_result(F_http(method, path, body), method, path);
}

static void F_faults(const char *json)
{
	json_object_put(F_ctl("POST", "/_fake/faults", json));
}

static long F_count(const char *name)
{
	json_object *c = F_ctl("GET", "/_fake/counts", NULL), *v;
	long n = -1;

	if (json_object_object_get_ex(c, name, &v))
		n = json_object_get_int64(v);
	json_object_put(c);
	return n;
}

/* API requests the fake has logged (kind=api). */
static int F_api_calls(void)
{
	json_object *log = F_ctl("GET", "/_fake/log?kind=api", NULL);
	int n = (int)json_object_array_length(log);

	json_object_put(log);
	return n;
}

static void F_start(const char *extra_arg)
{
	char portfile[300], port[32], cmd_port[16];
	double until;

	snprintf(F_dir, sizeof(F_dir), "%s/kaiden-fakecf-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(F_dir));
	snprintf(portfile, sizeof(portfile), "%s/port", F_dir);
	F_pid = fork();
	ck_assert_int_ge(F_pid, 0);
	if (F_pid == 0) {
		char errlog[300];
		int devnull = open("/dev/null", O_WRONLY), errfd;
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (devnull >= 0)
			dup2(devnull, 1);
		/* Its own stderr (tracebacks of requests we cancelled) goes to a file. */
		snprintf(errlog, sizeof(errlog), "%s/fake.stderr", F_dir);
		errfd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (errfd >= 0)
			dup2(errfd, 2);
		snprintf(cmd_port, sizeof(cmd_port), "0");
		execlp("python3", "python3", "tests/fakes/fake_cloudflare.py", "--port", cmd_port,
		       "--port-file", portfile, "--token", F_TOKEN, "--account", F_ACCOUNT, "--zone",
		       F_ZONE, "--zone-name", F_ZONE_NAME, "--rate-limit", "0",
		       extra_arg ? extra_arg : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	until = F_now() + 15;
	F_port = 0;
	while (F_now() < until) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			if (fgets(port, sizeof(port), f))
				F_port = atoi(port);
			fclose(f);
			if (F_port > 0)
				break;
		}
		F_sleep_ms(20);
	}
	ck_assert_msg(F_port > 0, "the fake Cloudflare API did not start (python3 %s)",
	              "tests/fakes/fake_cloudflare.py");
	snprintf(F_base, sizeof(F_base), "http://127.0.0.1:%d", F_port);
	snprintf(F_api, sizeof(F_api), "%s/client/v4", F_base);
	json_object_put(F_ctl("GET", "/_fake/health", NULL));
}

static void F_stop(void)
{
	if (F_pid > 0) {
		int status;
		kill(F_pid, SIGTERM);
		waitpid(F_pid, &status, 0);
		F_pid = 0;
	}
	if (F_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", F_dir);
		F_dir[0] = '\0';
	}
}

static void F_tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs loop until *flag is set or seconds pass; 0 on the flag, -1 on the time limit. */
static int F_run_until(uv_loop_t *loop, const int *flag, double seconds)
{
	double until = F_now() + seconds;
	uv_timer_t tick;
	int rc = -1;

	/* A ticking timer keeps uv_run(ONCE) from blocking forever when nothing is due. */
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, F_tick, 50, 50);
	while (F_now() < until) {
		if (*flag) {
			rc = 0;
			break;
		}
		uv_run(loop, UV_RUN_ONCE);
	}
	if (*flag)
		rc = 0;
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return rc;
}

#endif
