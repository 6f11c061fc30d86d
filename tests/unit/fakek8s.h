/* fakek8s.h: the fake Kubernetes API (tests/fakes/fake_k8s.py) as a child process of a
 * unit test, plus a blocking helper for its control API (/_fake/...) and the API itself.
 * Included by check_k8s_api.c and check_k8s_node.c; everything here is static.
 *
 * The fake runs on a free loopback port (plain HTTP, or HTTPS with a CA it makes in
 * K_dir/tls); it is killed with SIGTERM at K_stop, and PR_SET_PDEATHSIG stops it too
 * when a failed check ends the test's child early. */
#ifndef KAIDEN_FAKEK8S_H
#define KAIDEN_FAKEK8S_H

#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static pid_t K_pid;
static char K_dir[256], K_base[128], K_token[300];
static int K_tls;
/* Where the fake listens: an IPv4 or IPv6 address ("::" takes both); K_base then names
 * 127.0.0.1, or [::1] for an IPv6 one. */
static const char *K_host = "127.0.0.1";

static double K_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void K_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static size_t K_to_buf(char *data, size_t size, size_t n, void *userp)
{
	return buf_append(userp, data, size * n) == 0 ? size * n : 0;
}

/* A blocking request to the fake at path (the control API under /_fake/, or the API with
 * bearer, NULL: no Authorization): its HTTP status; the body into *out when given. */
static long K_call(const char *method, const char *path, const char *body, struct buf *out,
                   const char *bearer)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct buf ignored;
	char url[512], ca[300], auth[300];
	long status = 0;

	buf_init(&ignored, 1 << 20);
	snprintf(url, sizeof(url), "%s%s", K_base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, K_to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out ? out : &ignored);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (K_tls) {
		snprintf(ca, sizeof(ca), "%s/tls/ca.crt", K_dir);
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	}
	hd = curl_slist_append(hd, "Content-Type: application/json");
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		hd = curl_slist_append(hd, auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	buf_clear(&ignored);
	return status;
}

/* Starts the fake in a new K_dir with token in K_dir/token (K_token); node: NULL, or a
 * node it serves; tls: HTTPS with its own CA. */
static void K_start(const char *token, const char *node, int tls)
{
	char portfile[300], tlsdir[300], port[16] = "", text[256];
	const char *argv[14];
	int n = 0;
	double until;

	snprintf(K_dir, sizeof(K_dir), "%s/kaiden-fakek8s-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(K_dir));
	snprintf(portfile, sizeof(portfile), "%s/port", K_dir);
	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", K_dir);
	snprintf(K_token, sizeof(K_token), "%s/token", K_dir);
	snprintf(text, sizeof(text), "%s\n", token);
	K_write_text(K_token, text);
	K_tls = tls;
	argv[n++] = "python3";
	argv[n++] = "tests/fakes/fake_k8s.py";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--token-file";
	argv[n++] = K_token;
	argv[n++] = "--host";
	argv[n++] = K_host;
	if (node) {
		argv[n++] = "--node";
		argv[n++] = node;
	}
	if (tls) {
		argv[n++] = "--tls-dir";
		argv[n++] = tlsdir;
	}
	argv[n] = NULL;
	K_pid = fork();
	ck_assert_int_ge(K_pid, 0);
	if (K_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	for (until = K_now_s() + 20; K_now_s() < until && !port[0];) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			if (!fgets(port, sizeof(port), f))
				port[0] = '\0';
			fclose(f);
		}
		if (!port[0])
			usleep(20000);
	}
	ck_assert_msg(port[0], "tests/fakes/fake_k8s.py did not start");
	port[strcspn(port, "\n")] = '\0';
	snprintf(K_base, sizeof(K_base), "%s://%s:%s", tls ? "https" : "http",
	         strchr(K_host, ':') ? "[::1]" : "127.0.0.1", port);
	ck_assert_int_eq(K_call("GET", "/_fake/health", NULL, NULL, NULL), 200);
}

/* Stops the fake (its directory stays). */
static void K_kill(void)
{
	if (K_pid > 0) {
		kill(K_pid, SIGTERM);
		waitpid(K_pid, NULL, 0);
		K_pid = 0;
	}
}

/* Stops the fake and removes its directory. */
static void K_stop(void)
{
	char cmd[300];

	K_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", K_dir);
	if (K_dir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", K_dir);
}

#endif
