/* check_agent_tunnel.c: agent/tunnel.c driving the fake cloudflared
 * (tests/fakes/fake_cloudflared.py) against the fake Cloudflare API
 * (tests/fakes/fake_cloudflare.py), both real child processes, on a real lws loop.
 *
 * Run from the repository root (tests/run-unit.sh does). A missing python3 or fake is a
 * failure, never a skip. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libwebsockets.h>

#include "jsonx.h"
/* By path: helperd/ has a tunnel.h too, and -Ihelperd comes first. */
#include "../../agent/tunnel.h"

extern char **environ;

#define S1 "0190a8e2-7c1d-7abc-8def-000000000001"
#define S2 "0190a8e2-7c1d-7abc-8def-000000000002"
#define S3 "0190a8e2-7c1d-7abc-8def-000000000003"
#define CF_TOKEN "fake-cf-token"
#define ACCOUNT "0123456789abcdef0123456789abcdef"

/* ---- the fake API, one per test case (unchecked fixture, in the parent) ---- */

static pid_t api_pid;
static char api_base[64];
static char tmpdir[PATH_MAX];
static char cfd_dir[PATH_MAX + 8];
static char fake_cloudflared[PATH_MAX];

static void api_start(void)
{
	char *argv[] = { "python3", "tests/fakes/fake_cloudflare.py", "--port", "0",
	                 "--token", CF_TOKEN, "--account", ACCOUNT, "--rate-limit", "0", NULL };
	posix_spawn_file_actions_t fa;
	int fds[2];
	char line[32] = "";
	size_t n = 0;
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/kaiden-tunnel-XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(cfd_dir, sizeof(cfd_dir), "%s/cfd", tmpdir);
	ck_assert_int_eq(mkdir(cfd_dir, 0700), 0);
	ck_assert_msg(realpath("tests/fakes/fake_cloudflared.py", fake_cloudflared) != NULL,
	              "run from the repository root: tests/fakes/fake_cloudflared.py not found");

	ck_assert_int_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	ck_assert_int_eq(posix_spawnp(&api_pid, "python3", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	/* The first stdout line is the port, printed once it listens. */
	while (n < sizeof(line) - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(fds[0]);
	ck_assert_msg(atoi(line) > 0, "the fake API did not print its port");
	snprintf(api_base, sizeof(api_base), "http://127.0.0.1:%d", atoi(line));
	setenv("KAIDEN_FAKE_CF_URL", api_base, 1);
	setenv("KAIDEN_FAKE_CLOUDFLARED_DIR", cfd_dir, 1);
	setenv("KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS", "100", 1);
	setenv("KAIDEN_FAKE_CLOUDFLARED_BACKOFF_MS", "100", 1);
	setenv("KAIDEN_FAKE_CLOUDFLARED_HEARTBEAT_MS", "300", 1);
	unsetenv("KAIDEN_FAKE_CLOUDFLARED_FAIL");
	/* Must not reach cloudflared. */
	setenv("KAIDEN_SECRET", "device-secret-must-not-leak", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void api_stop(void)
{
	char cmd[PATH_MAX + 16];

	if (api_pid > 0) {
		kill(api_pid, SIGTERM);
		waitpid(api_pid, NULL, 0);
		api_pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (tmpdir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	curl_global_cleanup();
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t old = *buf ? strlen(*buf) : 0;
	char *nb = realloc(*buf, old + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + old, p, size * n);
	nb[old + size * n] = '\0';
	*buf = nb;
	return size * n;
}

/* POST to the fake API; returns the parsed reply (owned). */
static json_object *api_post(const char *path, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256];
	char *reply = NULL;
	json_object *obj;

	snprintf(url, sizeof(url), "%s/client/v4%s", api_base, path);
	h = curl_slist_append(h, "Authorization: Bearer " CF_TOKEN);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	ck_assert_ptr_nonnull(reply);
	obj = json_tokener_parse(reply);
	free(reply);
	ck_assert_ptr_nonnull(obj);
	return obj;
}

/* A new tunnel's token (owned). */
static char *new_token(const char *name)
{
	char body[128];
	json_object *r, *result;
	char *token;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"config_src\":\"cloudflare\"}", name);
	r = api_post("/accounts/" ACCOUNT "/cfd_tunnel", body);
	ck_assert(json_object_object_get_ex(r, "result", &result));
	ck_assert_ptr_nonnull(jsonx_str(result, "token"));
	token = strdup(jsonx_str(result, "token"));
	json_object_put(r);
	return token;
}

/* ---- the loop and the reports ---- */

#define MAX_REPORTS 64

static struct lws_context *ctx;
static lws_sorted_usec_list_t sul_wake;
static struct {
	enum proto_type type;
	char session_id[40];
	char reason[600];
} reports[MAX_REPORTS];
static int nreports;

static void on_report(void *arg, enum proto_type type, const char *session_id,
                      const char *reason)
{
	ck_assert_ptr_eq(arg, &nreports);
	ck_assert_int_lt(nreports, MAX_REPORTS);
	reports[nreports].type = type;
	snprintf(reports[nreports].session_id, sizeof(reports[0].session_id), "%s", session_id);
	snprintf(reports[nreports].reason, sizeof(reports[0].reason), "%s", reason ? reason : "");
	nreports++;
}

static void wake(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, wake, 50 * LWS_US_PER_MS);
}

/* Each case reads the records of its own processes only. */
static void clear_records(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*", cfd_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup_loop(int ready_timeout_s, int grace_s, const char *program)
{
	clear_records();
	struct lws_context_creation_info info;
	struct tunnel_config cfg = { 0 };

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.gid = -1;
	info.uid = -1;
	lws_set_log_level(LLL_ERR, NULL);
	ctx = lws_create_context(&info);
	ck_assert_ptr_nonnull(ctx);
	wake(&sul_wake);
	cfg.cloudflared = program ? program : fake_cloudflared;
	cfg.ready_timeout_s = ready_timeout_s;
	cfg.grace_s = grace_s;
	ck_assert_int_eq(tunnel_init(ctx, &cfg, on_report, &nreports), 0);
	nreports = 0;
}

static void teardown_loop(void)
{
	lws_sul_cancel(&sul_wake);
	tunnel_clear();
	lws_context_destroy(ctx);
	ctx = NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until the want'th report arrives (1-based) or timeout_s passes. */
static int run_until_reports(int want, double timeout_s)
{
	double end = now_s() + timeout_s;

	while (nreports < want && now_s() < end)
		lws_service(ctx, 0);
	return nreports >= want;
}

static void run_for(double seconds)
{
	double end = now_s() + seconds;

	while (now_s() < end)
		lws_service(ctx, 0);
}

static int run_until_no_tunnels(double timeout_s)
{
	double end = now_s() + timeout_s;

	while (tunnel_count() > 0 && now_s() < end)
		lws_service(ctx, 0);
	return tunnel_count() == 0;
}

/* The fake's record for the only cloudflared started so far (owned), and its pid. */
static json_object *read_record(pid_t *pid_out, int which)
{
	char cmd[PATH_MAX + 64], path[PATH_MAX + 64];
	FILE *p;
	json_object *obj;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ls -1 '%s' | grep -v '\\.tmp$' | sort", cfd_dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	path[0] = '\0';
	while (fgets(path, sizeof(path), p) && n++ < which)
		;
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	ck_assert_msg(path[0], "no cloudflared record in %s", cfd_dir);
	snprintf(cmd, sizeof(cmd), "%s/%s", cfd_dir, path);
	obj = json_object_from_file(cmd);
	ck_assert_ptr_nonnull(obj);
	if (pid_out)
		*pid_out = json_object_get_int(json_object_object_get(obj, "pid"));
	return obj;
}

static int process_gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

static int session_listed(const char *session_id)
{
	json_object *a = tunnel_sessions();
	int found = 0;

	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), session_id) == 0)
			found = 1;
	json_object_put(a);
	return found;
}

/* ---- cases ---- */

START_TEST(test_start_ready_stop)
{
	char *token = new_token("kaiden-sess-t1");
	json_object *rec, *argv;
	pid_t pid;
	char path[64], env[8192];
	FILE *f;
	size_t n;

	setup_loop(20, 5, NULL);
	tunnel_start(S1, token, 0);
	ck_assert_int_eq(tunnel_count(), 1);
	ck_assert(session_listed(S1));
	ck_assert_msg(run_until_reports(1, 15), "no report within 15 s");
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_READY);
	ck_assert_str_eq(reports[0].session_id, S1);

	/* The token went by environment only: not in argv, and the fake read it from env. */
	rec = read_record(&pid, 0);
	ck_assert(!json_object_get_boolean(json_object_object_get(rec, "token_in_argv")));
	ck_assert_str_eq(jsonx_str(rec, "token_source"), "env");
	ck_assert(json_object_get_boolean(json_object_object_get(rec, "ready")));
	argv = json_object_object_get(rec, "argv");
	for (size_t i = 0; i < json_object_array_length(argv); i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(argv, i));
		ck_assert_msg(strstr(a, token) == NULL, "token in argv[%zu]", i);
		ck_assert_msg(strstr(a, "token") == NULL, "a token flag in argv: %s", a);
	}
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(argv, 0)), "tunnel");
	/* The child's environment has the token and not the device secret. */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (env[i] == '\0')
			env[i] = '\n';
	ck_assert(strstr(env, "TUNNEL_TOKEN=") != NULL);
	ck_assert(strstr(env, "device-secret-must-not-leak") == NULL);
	json_object_put(rec);

	/* A repeated start answers ready again, at once, without a second process. */
	tunnel_start(S1, token, 0);
	ck_assert_int_eq(nreports, 2);
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_READY);
	ck_assert_int_eq(tunnel_count(), 1);

	/* stop -> stopped, and no process left. */
	tunnel_stop(S1);
	ck_assert(!session_listed(S1));
	ck_assert_msg(run_until_reports(3, 10), "no stopped within 10 s");
	ck_assert_int_eq(reports[2].type, PROTO_TUNNEL_STOPPED);
	ck_assert_str_eq(reports[2].session_id, S1);
	ck_assert_int_eq(tunnel_count(), 0);
	ck_assert(process_gone(pid));
	rec = read_record(NULL, 0);
	ck_assert_str_eq(jsonx_str(rec, "state"), "exited");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(rec, "exit_code")), 0);
	json_object_put(rec);

	/* A repeated stop (now unknown) answers stopped at once. */
	tunnel_stop(S1);
	ck_assert_int_eq(nreports, 4);
	ck_assert_int_eq(reports[3].type, PROTO_TUNNEL_STOPPED);
	teardown_loop();
	free(token);
}
END_TEST

/* Start twice while starting: one process, one ready; stop twice while stopping: one
 * stopped; then start again after it is gone: a fresh process. */
START_TEST(test_idempotent_commands)
{
	char *token = new_token("kaiden-sess-t2");
	json_object *rec;

	setup_loop(20, 5, NULL);
	tunnel_start(S2, token, 0);
	tunnel_start(S2, token, 0);
	ck_assert_int_eq(tunnel_count(), 1);
	ck_assert_int_eq(nreports, 0);
	ck_assert(run_until_reports(1, 15));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_READY);
	run_for(0.5);
	ck_assert_int_eq(nreports, 1);

	tunnel_stop(S2);
	tunnel_stop(S2);
	ck_assert(run_until_reports(2, 10));
	run_for(0.5);
	ck_assert_int_eq(nreports, 2);
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_STOPPED);

	/* Started again once gone, on the metrics port the server chose. */
	clear_records();
	tunnel_start(S2, token, 28761);
	ck_assert(run_until_reports(3, 15));
	ck_assert_int_eq(reports[2].type, PROTO_TUNNEL_READY);
	rec = read_record(NULL, 0);
	ck_assert_str_eq(jsonx_str(rec, "metrics"), "127.0.0.1:28761");
	json_object_put(rec);
	tunnel_stop(S2);
	ck_assert(run_until_reports(4, 10));
	ck_assert_int_eq(reports[3].type, PROTO_TUNNEL_STOPPED);
	ck_assert_int_eq(tunnel_count(), 0);
	teardown_loop();
	free(token);
}
END_TEST

START_TEST(test_exits_early)
{
	char *token = new_token("kaiden-sess-t3");
	pid_t pid;
	json_object *rec;

	setenv("KAIDEN_FAKE_CLOUDFLARED_FAIL", "exit", 1);
	setup_loop(20, 5, NULL);
	tunnel_start(S3, token, 0);
	unsetenv("KAIDEN_FAKE_CLOUDFLARED_FAIL");
	ck_assert(run_until_reports(1, 15));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_FAILED);
	ck_assert_msg(strstr(reports[0].reason, "exited with status 1") != NULL, "%s",
	              reports[0].reason);
	ck_assert_msg(strstr(reports[0].reason, "Couldn't start tunnel") != NULL,
	              "no last line in: %s", reports[0].reason);
	ck_assert_int_eq(tunnel_count(), 0);
	rec = read_record(&pid, 0);
	ck_assert(process_gone(pid));
	json_object_put(rec);
	/* A stop afterwards: stopped (idempotent). */
	tunnel_stop(S3);
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_STOPPED);
	teardown_loop();
	free(token);
}
END_TEST

START_TEST(test_bad_token_and_missing_program)
{
	setup_loop(20, 5, NULL);
	tunnel_start(S1, "not-a-token", 0);
	ck_assert(run_until_reports(1, 15));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_FAILED);
	ck_assert_msg(strstr(reports[0].reason, "Provided Tunnel token is not valid.") != NULL,
	              "%s", reports[0].reason);
	/* The token is not echoed in the reason. */
	ck_assert(strstr(reports[0].reason, "not-a-token") == NULL);
	teardown_loop();

	setup_loop(20, 5, "/nonexistent/cloudflared");
	tunnel_start(S1, "x", 0);
	/* glibc reports the failed exec at once; under valgrind (fork + exec) the child
	 * exits 127 instead. */
	ck_assert(run_until_reports(1, 5));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_FAILED);
	ck_assert_msg(strstr(reports[0].reason, "cannot run /nonexistent/cloudflared") != NULL,
	              "%s", reports[0].reason);
	ck_assert_int_eq(tunnel_count(), 0);
	teardown_loop();
}
END_TEST

START_TEST(test_never_ready)
{
	char *token = new_token("kaiden-sess-t4");
	double t0;
	pid_t pid;
	json_object *rec;

	setenv("KAIDEN_FAKE_CLOUDFLARED_FAIL", "never_ready", 1);
	setup_loop(2, 3, NULL);
	t0 = now_s();
	tunnel_start(S1, token, 0);
	unsetenv("KAIDEN_FAKE_CLOUDFLARED_FAIL");
	ck_assert(run_until_reports(1, 10));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_FAILED);
	ck_assert_msg(now_s() - t0 >= 1.9, "failed after %.2f s, before the timeout", now_s() - t0);
	ck_assert_msg(strstr(reports[0].reason, "not ready within 2 s") != NULL, "%s",
	              reports[0].reason);
	ck_assert(!session_listed(S1));
	/* It is killed and reaped; nothing more is reported unless asked. */
	ck_assert(run_until_no_tunnels(8));
	ck_assert_int_eq(nreports, 1);
	rec = read_record(&pid, 0);
	ck_assert(process_gone(pid));
	json_object_put(rec);
	teardown_loop();
	free(token);
}
END_TEST

/* A cloudflared that ignores SIGTERM is SIGKILLed after the grace period. */
START_TEST(test_ignore_term_killed)
{
	char *token = new_token("kaiden-sess-t5");
	double t0;
	pid_t pid;
	json_object *rec;

	setenv("KAIDEN_FAKE_CLOUDFLARED_FAIL", "ignore_term", 1);
	setup_loop(20, 2, NULL);
	tunnel_start(S1, token, 0);
	unsetenv("KAIDEN_FAKE_CLOUDFLARED_FAIL");
	ck_assert(run_until_reports(1, 15));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_READY);
	t0 = now_s();
	tunnel_stop(S1);
	ck_assert(run_until_reports(2, 10));
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_STOPPED);
	ck_assert_msg(now_s() - t0 >= 1.9, "stopped after %.2f s", now_s() - t0);
	rec = read_record(&pid, 0);
	ck_assert(process_gone(pid));
	/* SIGKILL leaves the record "running": it never got to write "exited". */
	ck_assert_str_eq(jsonx_str(rec, "state"), "running");
	json_object_put(rec);
	teardown_loop();
	free(token);
}
END_TEST

/* Two sessions at once; stop_all stops both and reports stopped for each. */
START_TEST(test_two_and_stop_all)
{
	char *t1 = new_token("kaiden-sess-t6"), *t2 = new_token("kaiden-sess-t7");
	json_object *a;

	setup_loop(20, 5, NULL);
	tunnel_start(S1, t1, 0);
	tunnel_start(S2, t2, 0);
	ck_assert(run_until_reports(2, 15));
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_READY);
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_READY);
	a = tunnel_sessions();
	ck_assert_int_eq(json_object_array_length(a), 2);
	json_object_put(a);
	tunnel_stop_all();
	/* The agent stops: a start, for a session it is stopping or a new one, starts
	 * nothing and is not answered (a "failed" would fail the session). */
	ck_assert_int_eq(tunnel_count(), 2);
	tunnel_start(S1, t1, 0);
	tunnel_start("0190a8e2-7c1d-7abc-8def-000000000003", t2, 0);
	ck_assert_int_eq(nreports, 2); /* a refusal is reported at once: none */
	ck_assert_int_eq(tunnel_count(), 2); /* nothing spawned */
	ck_assert(run_until_reports(4, 10));
	ck_assert_int_eq(reports[2].type, PROTO_TUNNEL_STOPPED);
	ck_assert_int_eq(reports[3].type, PROTO_TUNNEL_STOPPED);
	ck_assert_int_eq(tunnel_count(), 0);
	ck_assert_int_eq(nreports, 4);
	teardown_loop();
	free(t1);
	free(t2);
}
END_TEST

/* The metrics port is claimed from the moment it is chosen (agent/tunnel.c, claim_port):
 * two starts held before either cloudflared runs (a program that waits on a FIFO, then
 * runs the fake) have different ports, and neither port can be bound by anyone else
 * meanwhile; once let go, each fake binds its port beside the claim and goes ready. */
static int gate_ports(const char *dir, int ports[2])
{
	char cmd[PATH_MAX + 64], line[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "cat '%s'/args.* 2>/dev/null", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (n < 2 && fgets(line, sizeof(line), p)) {
		char *m = strstr(line, "--metrics 127.0.0.1:");
		if (m)
			ports[n++] = atoi(m + strlen("--metrics 127.0.0.1:"));
	}
	pclose(p);
	return n;
}

static int bind_refused(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc, err;

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	err = errno;
	close(fd);
	return rc != 0 && err == EADDRINUSE;
}

START_TEST(test_metrics_port_claimed)
{
	char *t1 = new_token("kaiden-sess-t8"), *t2 = new_token("kaiden-sess-t9");
	char dir[PATH_MAX + 8], script[PATH_MAX + 32], fifo[PATH_MAX + 32];
	int ports[2] = { 0, 0 }, n = 0, w;
	double end;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/gate", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(script, sizeof(script), "%s/cloudflared", dir);
	f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\nprintf '%%s\\n' \"$*\" >'%s'/args.$$\nread _ <'%s'\n"
	           "exec '%s' \"$@\"\n", dir, fifo, fake_cloudflared);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(script, 0700), 0);

	setup_loop(20, 5, script);
	tunnel_start(S1, t1, 0);
	tunnel_start(S2, t2, 0);
	/* Both programs have written their arguments and wait on the FIFO. */
	end = now_s() + 15;
	while ((n = gate_ports(dir, ports)) < 2 && now_s() < end)
		lws_service(ctx, 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_gt(ports[0], 0);
	ck_assert_int_gt(ports[1], 0);
	ck_assert_int_ne(ports[0], ports[1]);
	ck_assert_msg(bind_refused(ports[0]), "port %d is not claimed", ports[0]);
	ck_assert_msg(bind_refused(ports[1]), "port %d is not claimed", ports[1]);
	ck_assert_int_eq(nreports, 0);

	/* Let both go: each fake binds its port (SO_REUSEADDR) and goes ready. */
	w = open(fifo, O_WRONLY);
	ck_assert_int_ge(w, 0);
	ck_assert_int_eq(write(w, "go\ngo\n", 6), 6);
	close(w);
	ck_assert_msg(run_until_reports(2, 15), "not ready within 15 s");
	ck_assert_int_eq(reports[0].type, PROTO_TUNNEL_READY);
	ck_assert_int_eq(reports[1].type, PROTO_TUNNEL_READY);
	tunnel_stop_all();
	ck_assert(run_until_reports(4, 10));
	ck_assert_int_eq(tunnel_count(), 0);
	/* With the tunnels gone, so are the claims. */
	ck_assert(!bind_refused(ports[0]));
	ck_assert(!bind_refused(ports[1]));
	teardown_loop();
	free(t1);
	free(t2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_tunnel");
	TCase *tc = tcase_create("fake_cloudflared");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, api_start, api_stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_start_ready_stop);
	tcase_add_test(tc, test_idempotent_commands);
	tcase_add_test(tc, test_exits_early);
	tcase_add_test(tc, test_bad_token_and_missing_program);
	tcase_add_test(tc, test_never_ready);
	tcase_add_test(tc, test_ignore_term_killed);
	tcase_add_test(tc, test_two_and_stop_all);
	tcase_add_test(tc, test_metrics_port_claimed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
