/* check_helm_run.c: helperd/helm_run.c on a real libuv loop against small fake `helm`
 * scripts this test writes into a temporary directory: exit codes and the stderr Error
 * line, stdin received, the environment helm gets (exactly), argv without secrets (read
 * by the fake from /proc/<its pid>/cmdline), the stdout and stderr caps, the timeout
 * (SIGTERM, then SIGKILL when the fake ignores it), a missing program, cancel; the
 * guard's refusals (namespace, release name, flags); the argument builders; and the
 * status/history parsers on the JSON of shared/ref/helm-cli.md section 3. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "helm_run.h"
#include "log.h"

#define TOKEN "kube-token-never-in-argv-0123456789"
#define SECRET "pg-password-never-in-argv-9876"
#define NS "paas-ws-t1"
#define REL "paas-ws-t1-pg"

static uv_loop_t T_loop;
static char T_dir[256], T_home[300], T_token[300];

/* --- fixture ----------------------------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return data;
}

/* A fake helm: a shell script with body, at T_dir/name; returns its path (static). */
static const char *fake(const char *name, const char *body)
{
	static char path[400];
	char text[4096];

	snprintf(path, sizeof(path), "%s/%s", T_dir, name);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	write_file(path, text, 0700);
	return path;
}

static void init_with(const char *helm, const char *api, const char *ca, size_t max_out,
                      size_t max_err)
{
	struct helm_config cfg = { 0 };
	char err[256];

	ck_assert_int_eq(k8s_source_init(&cfg.k8s, api, T_token, ca, 1, err, sizeof(err)), 0);
	cfg.helm = helm;
	cfg.home = T_home;
	cfg.path = "/usr/bin:/bin";
	cfg.kill_grace_ms = 300;
	cfg.max_out = max_out;
	cfg.max_err = max_err;
	ck_assert_msg(helm_run_init(&T_loop, &cfg, err, sizeof(err)) == 0, "%s", err);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	log_init("check_helm_run", LOG_LVL_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	snprintf(T_dir, sizeof(T_dir), "%s/helm_run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(T_dir));
	snprintf(T_home, sizeof(T_home), "%s/helm-home", T_dir);
	snprintf(T_token, sizeof(T_token), "%s/token", T_dir);
	write_file(T_token, TOKEN "\n", 0600);
	ck_assert_int_eq(uv_loop_init(&T_loop), 0);
}

static void teardown(void)
{
	char cmd[400];

	helm_run_shutdown();
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&T_loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- one run ----------------------------------------------------------------------- */

struct got {
	int called;
	struct helm_result res;
	char *out, *err;
};

static void on_done(void *arg, const struct helm_result *res)
{
	struct got *g = arg;

	g->called++;
	g->res = *res;
	g->out = strndup(res->out, res->out_len);
	g->err = strndup(res->err, res->err_len);
	g->res.out = g->out;
	g->res.err = g->err;
}

static void got_clear(struct got *g)
{
	free(g->out);
	free(g->err);
}

static void run_status(struct got *g, const char *values, long timeout_ms)
{
	struct helm_args a;
	char err[256];
	struct helm_run *r;

	memset(g, 0, sizeof(*g));
	ck_assert_int_eq(helm_args_status(&a, NS, REL, err, sizeof(err)), 0);
	r = helm_run_start(&a, values, values ? strlen(values) : 0, timeout_ms, on_done, g, err,
	                   sizeof(err));
	helm_args_clear(&a);
	ck_assert_msg(r != NULL, "%s", err);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g->called, 1);
	ck_assert_int_eq(helm_running(), 0);
}

static const char status_json[] =
	"{\"name\":\"flummoxed-chickadee\",\"info\":{\"first_deployed\":\"\","
	"\"last_deployed\":\"2016-01-16T00:00:00Z\",\"deleted\":\"\",\"status\":\"deployed\","
	"\"notes\":\"release notes\"},\"namespace\":\"default\"}";

START_TEST(test_ok_stdout_stdin)
{
	struct got g;
	char script[1024], path[400];
	char *in;

	snprintf(script, sizeof(script),
	         "cat > '%s/stdin'\nprintf '%%s\\n' '%s'\nexit 0", T_dir, status_json);
	init_with(fake("helm-ok", script), "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, "auth:\n  postgresPassword: " SECRET "\n", 5000);
	ck_assert_int_eq(g.res.outcome, HELM_OK);
	ck_assert_int_eq(g.res.exit_status, 0);
	ck_assert_int_eq(g.res.term_signal, 0);
	ck_assert_str_eq(g.res.error, "");
	ck_assert_uint_eq(g.res.out_len, strlen(status_json) + 1);
	ck_assert(strncmp(g.out, status_json, strlen(status_json)) == 0);
	snprintf(path, sizeof(path), "%s/stdin", T_dir);
	in = read_all(path, NULL);
	ck_assert_ptr_nonnull(in);
	ck_assert_str_eq(in, "auth:\n  postgresPassword: " SECRET "\n");
	free(in);
	{
		struct helm_status st;
		char reason[128];
		ck_assert_int_eq(helm_status_parse(g.out, g.res.out_len, &st, reason,
		                                   sizeof(reason)), 0);
		ck_assert_str_eq(st.name, "flummoxed-chickadee");
	}
	got_clear(&g);
}
END_TEST

/* No values: stdin is closed at once (helm reading it sees EOF, not a hang). */
START_TEST(test_no_values_stdin_eof)
{
	struct got g;
	char script[512];

	snprintf(script, sizeof(script), "n=$(cat | wc -c)\necho \"stdin=$n\"");
	init_with(fake("helm-eof", script), "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 5000);
	ck_assert_int_eq(g.res.outcome, HELM_OK);
	ck_assert_str_eq(g.out, "stdin=0\n");
	got_clear(&g);
}
END_TEST

START_TEST(test_error_line)
{
	struct got g;

	init_with(fake("helm-fail",
	               "echo 'WARNING: This chart is deprecated' >&2\n"
	               "echo 'Error: first failure' >&2\n"
	               "echo 'Error: INSTALLATION FAILED: cannot re-use a name that is still in use' >&2\n"
	               "echo 'some trailing diagnostics' >&2\n"
	               "exit 1"),
	          "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 5000);
	ck_assert_int_eq(g.res.outcome, HELM_FAILED);
	ck_assert_int_eq(g.res.exit_status, 1);
	ck_assert_str_eq(g.res.error,
	                 "INSTALLATION FAILED: cannot re-use a name that is still in use");
	ck_assert_int_eq(helm_error_not_found(&g.res), 0);
	ck_assert_uint_eq(g.res.out_len, 0);
	got_clear(&g);
}
END_TEST

START_TEST(test_not_found_and_no_error_line)
{
	struct got g;

	init_with(fake("helm-nf", "echo 'Error: release: not found' >&2; exit 1"),
	          "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 5000);
	ck_assert_str_eq(g.res.error, "release: not found");
	ck_assert_int_eq(helm_error_not_found(&g.res), 1);
	got_clear(&g);
	helm_run_shutdown();

	init_with(fake("helm-nf2", "echo 'Error: uninstall: Release not loaded: x: release: not "
	                           "found' >&2; exit 1"),
	          "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 5000);
	ck_assert_int_eq(helm_error_not_found(&g.res), 1);
	got_clear(&g);
	helm_run_shutdown();

	init_with(fake("helm-3", "echo 'panic: something odd' >&2; exit 3"),
	          "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 5000);
	ck_assert_int_eq(g.res.outcome, HELM_FAILED);
	ck_assert_int_eq(g.res.exit_status, 3);
	ck_assert_str_eq(g.res.error, "helm exited with status 3: panic: something odd");
	got_clear(&g);
}
END_TEST

/* The environment is exactly the documented one; argv carries neither the token nor a
 * value; the working directory is the private one. */
START_TEST(test_env_and_argv)
{
	struct got g;
	struct helm_args a;
	struct helm_install in = { .chart = { "oci://registry-1.docker.io/bitnamicharts/postgresql",
	                                      NULL, "17.1.0" },
	                           .timeout_s = 300 };
	char script[1024], path[400], err[256], want[2048];
	char *env, *argv;
	size_t argv_len;
	struct helm_run *r;

	snprintf(script, sizeof(script),
	         "tr '\\0' '\\n' < /proc/$$/environ | sort > '%s/env'\n"
	         "cat /proc/$$/cmdline > '%s/cmdline'\n"
	         "pwd > '%s/cwd'\n"
	         "cat > /dev/null",
	         T_dir, T_dir, T_dir);
	init_with(fake("helm-env", script), "http://127.0.0.1:1", "", 0, 0);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(helm_args_upgrade(&a, NS, REL, &in, err, sizeof(err)), 0);
	r = helm_run_start(&a, "auth:\n  postgresPassword: " SECRET "\n",
	                   strlen("auth:\n  postgresPassword: " SECRET "\n"), 5000, on_done, &g,
	                   err, sizeof(err));
	helm_args_clear(&a);
	ck_assert_msg(r != NULL, "%s", err);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.res.outcome, HELM_OK);

	snprintf(path, sizeof(path), "%s/env", T_dir);
	env = read_all(path, NULL);
	ck_assert_ptr_nonnull(env);
	snprintf(want, sizeof(want),
	         "HELM_CACHE_HOME=%s/cache\n"
	         "HELM_CONFIG_HOME=%s/config\n"
	         "HELM_DATA_HOME=%s/data\n"
	         "HELM_KUBEAPISERVER=http://127.0.0.1:1\n"
	         "HELM_KUBEINSECURE_SKIP_TLS_VERIFY=true\n"
	         "HELM_KUBETOKEN=" TOKEN "\n"
	         "HELM_NO_PLUGINS=1\n"
	         "HOME=%s/home\n"
	         "PATH=/usr/bin:/bin\n"
	         "TMPDIR=%s/tmp\n",
	         T_home, T_home, T_home, T_home, T_home);
	ck_assert_str_eq(env, want);
	free(env);

	snprintf(path, sizeof(path), "%s/cmdline", T_dir);
	argv = read_all(path, &argv_len);
	ck_assert_ptr_nonnull(argv);
	for (size_t i = 0; i + 1 < argv_len; i++)
		if (argv[i] == '\0')
			argv[i] = ' ';
	ck_assert_ptr_null(strstr(argv, TOKEN));
	ck_assert_ptr_null(strstr(argv, SECRET));
	ck_assert_ptr_null(strstr(argv, "--set"));
	ck_assert_ptr_nonnull(strstr(argv, " upgrade " REL " oci://registry-1.docker.io/"
	                                   "bitnamicharts/postgresql --install --namespace " NS
	                                   " --version 17.1.0 -f - --reset-values --timeout 300s"));
	free(argv);

	snprintf(path, sizeof(path), "%s/cwd", T_dir);
	env = read_all(path, NULL);
	snprintf(want, sizeof(want), "%s\n", T_home);
	ck_assert_str_eq(env, want);
	free(env);
	got_clear(&g);
}
END_TEST

/* https with a CA file: HELM_KUBECAFILE, no skip-verify. */
START_TEST(test_env_https_ca)
{
	struct got g;
	char script[512], path[400], ca[400];
	char *env;

	snprintf(ca, sizeof(ca), "%s/ca.crt", T_dir);
	write_file(ca, "not really a CA\n", 0644);
	snprintf(script, sizeof(script), "tr '\\0' '\\n' < /proc/$$/environ > '%s/env'", T_dir);
	init_with(fake("helm-ca", script), "https://10.0.0.1:6443", ca, 0, 0);
	run_status(&g, NULL, 5000);
	snprintf(path, sizeof(path), "%s/env", T_dir);
	env = read_all(path, NULL);
	ck_assert_ptr_nonnull(strstr(env, "HELM_KUBEAPISERVER=https://10.0.0.1:6443\n"));
	ck_assert_ptr_nonnull(strstr(env, "HELM_KUBECAFILE="));
	ck_assert_ptr_nonnull(strstr(env, ca));
	ck_assert_ptr_null(strstr(env, "INSECURE"));
	free(env);
	got_clear(&g);
}
END_TEST

START_TEST(test_private_dir)
{
	struct stat st;
	char sub[400];

	init_with(fake("helm-x", "exit 0"), "http://127.0.0.1:1", "", 0, 0);
	ck_assert_int_eq(stat(T_home, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(sub, sizeof(sub), "%s/cache", T_home);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	{
		char def[256], want[256];
		helm_run_default_home("host/a b", def, sizeof(def));
		snprintf(want, sizeof(want), "%s/kaiden-helm-%u-host_a_b", getenv("TMPDIR") &&
		         *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (unsigned)geteuid());
		ck_assert_str_eq(def, want);
	}
	/* Loosened by someone: tightened again at the next init. */
	ck_assert_int_eq(chmod(T_home, 0755), 0);
	init_with(fake("helm-x", "exit 0"), "http://127.0.0.1:1", "", 0, 0);
	ck_assert_int_eq(stat(T_home, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* A symlink is not taken for the directory. */
	{
		struct helm_config cfg = { 0 };
		char link[400], err[256];
		snprintf(link, sizeof(link), "%s/link", T_dir);
		ck_assert_int_eq(symlink(T_home, link), 0);
		ck_assert_int_eq(k8s_source_init(&cfg.k8s, "http://127.0.0.1:1", T_token, "", 1,
		                                 err, sizeof(err)), 0);
		cfg.home = link;
		ck_assert_int_eq(helm_run_init(&T_loop, &cfg, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "not a directory"));
	}
}
END_TEST

START_TEST(test_stdout_cap)
{
	struct got g;

	init_with(fake("helm-big", "head -c 2000000 /dev/zero | tr '\\0' a\necho done >&2"),
	          "http://127.0.0.1:1", "", 4096, 0);
	run_status(&g, NULL, 10000);
	ck_assert_int_eq(g.res.outcome, HELM_TOO_LARGE);
	ck_assert_uint_le(g.res.out_len, 4096);
	ck_assert_str_eq(g.res.error, "helm wrote more than 4096 bytes on stdout (stopped)");
	ck_assert_int_ne(g.res.term_signal, 0);
	got_clear(&g);
}
END_TEST

START_TEST(test_stderr_cap)
{
	struct got g;

	init_with(fake("helm-noisy", "while :; do echo 'WARNING: noise noise noise' >&2; done"),
	          "http://127.0.0.1:1", "", 0, 1024);
	run_status(&g, NULL, 10000);
	ck_assert_int_eq(g.res.outcome, HELM_TOO_LARGE);
	ck_assert_uint_le(g.res.err_len, 1024);
	ck_assert_str_eq(g.res.error, "helm wrote more than 1024 bytes on stderr (stopped)");
	got_clear(&g);
}
END_TEST

/* The timeout: SIGTERM to the group ends a `sleep` helm started. */
START_TEST(test_timeout_term)
{
	struct got g;
	uint64_t t0 = uv_hrtime();

	init_with(fake("helm-slow", "echo starting\nsleep 30\necho never"), "http://127.0.0.1:1",
	          "", 0, 0);
	run_status(&g, NULL, 300);
	ck_assert_int_eq(g.res.outcome, HELM_TIMEOUT);
	ck_assert_str_eq(g.out, "starting\n");
	ck_assert_str_eq(g.res.error, "helm did not finish within 1 s (stopped)");
	ck_assert_int_eq(g.res.term_signal, SIGTERM);
	ck_assert_uint_lt(uv_hrtime() - t0, 5000000000ULL);
	got_clear(&g);
}
END_TEST

/* A helm that ignores SIGTERM (so does its sleep: an ignored signal is inherited) is
 * killed kill_grace_ms later. */
START_TEST(test_timeout_kill)
{
	struct got g;
	uint64_t t0 = uv_hrtime();

	init_with(fake("helm-stubborn", "trap '' TERM\nsleep 30"), "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 200);
	ck_assert_int_eq(g.res.outcome, HELM_TIMEOUT);
	ck_assert_int_eq(g.res.term_signal, SIGKILL);
	ck_assert_uint_ge(uv_hrtime() - t0, 450000000ULL);   /* 200 ms + 300 ms grace */
	ck_assert_uint_lt(uv_hrtime() - t0, 5000000000ULL);
	got_clear(&g);
}
END_TEST

/* A command that changes the release leaves a mark while it runs: watched, it is no
 * orphan; abandoned (helperd stopping), it still runs; killed, it is gone. A status
 * leaves none; a mark whose pid was reused by another process is gone too. */
START_TEST(test_orphan)
{
	struct helm_args a;
	struct helm_run *r;
	struct got g;
	char err[256], mark[400], line[64];
	int pid = 0, status;
	FILE *f;

	init_with(fake("helm-hold", "exec sleep 30"), "http://127.0.0.1:1", "", 0, 0);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_NONE);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(helm_args_uninstall(&a, NS, REL, 60, err, sizeof(err)), 0);
	r = helm_run_start(&a, NULL, 0, 60000, on_done, &g, err, sizeof(err));
	helm_args_clear(&a);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_NONE);
	snprintf(mark, sizeof(mark), "%s/runs/%s", T_home, REL);
	f = fopen(mark, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_int_eq(sscanf(line, "%d", &pid), 1);
	helm_run_abandon(r);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_RUNNING);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_GONE);
	/* Another process under that pid: not the helm that was started. */
	f = fopen(mark, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%d 1\n", (int)getpid());
	fclose(f);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_GONE);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
	/* A status leaves no mark; a watched run's exit removes its own. */
	ck_assert_int_eq(unlink(mark), 0);
	init_with(fake("helm-ok0", "exit 0"), "http://127.0.0.1:1", "", 0, 0);
	run_status(&g, NULL, 10000);
	ck_assert_int_eq(access(mark, F_OK), -1);
	got_clear(&g);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(helm_args_uninstall(&a, NS, REL, 60, err, sizeof(err)), 0);
	r = helm_run_start(&a, NULL, 0, 60000, on_done, &g, err, sizeof(err));
	helm_args_clear(&a);
	ck_assert_ptr_nonnull(r);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 1);
	ck_assert_int_eq(access(mark, F_OK), -1);
	ck_assert_int_eq(helm_run_orphan(REL), HELM_ORPHAN_NONE);
	got_clear(&g);
}
END_TEST

START_TEST(test_cancel)
{
	struct got g;
	struct helm_args a;
	struct helm_run *r;
	char err[256];

	init_with(fake("helm-slow", "sleep 30"), "http://127.0.0.1:1", "", 0, 0);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(helm_args_status(&a, NS, REL, err, sizeof(err)), 0);
	r = helm_run_start(&a, NULL, 0, 10000, on_done, &g, err, sizeof(err));
	helm_args_clear(&a);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(helm_running(), 1);
	helm_run_cancel(r);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
	ck_assert_int_eq(helm_running(), 0);
}
END_TEST

START_TEST(test_missing_program_and_token)
{
	struct helm_args a;
	struct got g = { 0 };
	char err[256];

	init_with("/nonexistent/helm", "http://127.0.0.1:1", "", 0, 0);
	ck_assert_int_eq(helm_args_status(&a, NS, REL, err, sizeof(err)), 0);
	ck_assert_ptr_null(helm_run_start(&a, NULL, 0, 1000, on_done, &g, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot run /nonexistent/helm (services.helm)"));
	uv_run(&T_loop, UV_RUN_DEFAULT);

	init_with(fake("helm-ok", "exit 0"), "http://127.0.0.1:1", "", 0, 0);
	ck_assert_int_eq(unlink(T_token), 0);
	ck_assert_ptr_null(helm_run_start(&a, NULL, 0, 1000, on_done, &g, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "the service account token"));
	ck_assert_ptr_null(strstr(err, TOKEN));
	helm_args_clear(&a);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
}
END_TEST

/* --- the guard and the builders ---------------------------------------------------- */

START_TEST(test_names)
{
	char r53[54], r54[55], ns63[64], ns64[65];

	ck_assert(helm_namespace_ok("paas-ws-t1"));
	ck_assert(helm_namespace_ok("paas-ws-0"));
	ck_assert(helm_namespace_ok("paas-ws-a-b"));
	ck_assert(!helm_namespace_ok("paas-ws-"));
	ck_assert(!helm_namespace_ok("paas-ws--"));
	ck_assert(!helm_namespace_ok("paas-ws-a-"));
	ck_assert(!helm_namespace_ok("paas-ws-A"));
	ck_assert(!helm_namespace_ok("paas-ws-a.b"));
	ck_assert(!helm_namespace_ok("paas-ws-a/b"));
	ck_assert(!helm_namespace_ok("default"));
	ck_assert(!helm_namespace_ok("kube-system"));
	ck_assert(!helm_namespace_ok("xpaas-ws-1"));
	ck_assert(!helm_namespace_ok(""));
	ck_assert(!helm_namespace_ok(NULL));
	memset(ns63, 'a', 63);
	memcpy(ns63, "paas-ws-", 8);
	ns63[63] = '\0';
	ck_assert(helm_namespace_ok(ns63));
	memset(ns64, 'a', 64);
	memcpy(ns64, "paas-ws-", 8);
	ns64[64] = '\0';
	ck_assert(!helm_namespace_ok(ns64));

	ck_assert(helm_release_ok("pg"));
	ck_assert(helm_release_ok("paas-ws-t1-pg"));
	ck_assert(helm_release_ok("a.b-c.d"));
	ck_assert(helm_release_ok("0"));
	ck_assert(!helm_release_ok(""));
	ck_assert(!helm_release_ok("-a"));
	ck_assert(!helm_release_ok("a-"));
	ck_assert(!helm_release_ok("a..b"));
	ck_assert(!helm_release_ok(".a"));
	ck_assert(!helm_release_ok("a.-b"));
	ck_assert(!helm_release_ok("A"));
	ck_assert(!helm_release_ok("a_b"));
	ck_assert(!helm_release_ok("a b"));
	memset(r53, 'a', 53);
	r53[53] = '\0';
	ck_assert(helm_release_ok(r53));
	memset(r54, 'a', 54);
	r54[54] = '\0';
	ck_assert(!helm_release_ok(r54));
}
END_TEST

static void want_argv(const struct helm_args *a, const char *want)
{
	char got[1024] = "";

	for (int i = 0; i < a->argc; i++) {
		strncat(got, i ? " " : "", sizeof(got) - strlen(got) - 1);
		strncat(got, a->argv[i], sizeof(got) - strlen(got) - 1);
	}
	ck_assert_str_eq(got, want);
	ck_assert_ptr_null(a->argv[a->argc]);
}

START_TEST(test_builders)
{
	struct helm_args a;
	char err[256];
	struct helm_install in = { .chart = { "postgresql", "https://charts.example/", "17.1.0" },
	                           .wait = 1, .history_max = 20 };

	ck_assert_int_eq(helm_args_upgrade(&a, NS, REL, &in, err, sizeof(err)), 0);
	want_argv(&a, "upgrade " REL " postgresql --install --namespace " NS " --version 17.1.0 "
	              "--repo https://charts.example/ -f - --reset-values --history-max 20 "
	              "--wait --timeout 600s");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	ck_assert_int_eq(helm_args_rollback(&a, NS, REL, 1, 0, 120, err, sizeof(err)), 0);
	want_argv(&a, "rollback " REL " 1 --namespace " NS " --timeout 120s");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	ck_assert_int_eq(helm_args_uninstall(&a, NS, REL, 0, err, sizeof(err)), 0);
	want_argv(&a, "uninstall " REL " --namespace " NS " --timeout 600s");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	ck_assert_int_eq(helm_args_status(&a, NS, REL, err, sizeof(err)), 0);
	want_argv(&a, "status " REL " --namespace " NS " -o json");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	ck_assert_int_eq(helm_args_history(&a, NS, REL, 0, err, sizeof(err)), 0);
	want_argv(&a, "history " REL " --namespace " NS " --max 256 -o json");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	ck_assert_int_eq(helm_args_get_values(&a, NS, REL, err, sizeof(err)), 0);
	want_argv(&a, "get values " REL " --namespace " NS " -o json");
	ck_assert_int_eq(helm_args_check(&a, err, sizeof(err)), 0);
	helm_args_clear(&a);

	/* Refused by the builders */
	ck_assert_int_eq(helm_args_status(&a, "default", REL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "namespace refused"));
	ck_assert_int_eq(a.argc, 0);
	ck_assert_int_eq(helm_args_status(&a, NS, "Bad_Name", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "release name refused"));
	ck_assert_int_eq(helm_args_rollback(&a, NS, REL, 0, 0, 0, err, sizeof(err)), -1);
	in.chart.version = "";
	ck_assert_int_eq(helm_args_upgrade(&a, NS, REL, &in, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "pinned"));
	in.chart.version = "1.0.0";
	in.chart.ref = "--set=x";
	ck_assert_int_eq(helm_args_upgrade(&a, NS, REL, &in, err, sizeof(err)), -1);
	in.chart.ref = "oci://r/x";
	ck_assert_int_eq(helm_args_upgrade(&a, NS, REL, &in, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "oci://"));
}
END_TEST

/* Hand-made arrays the guard refuses (in helm_run_start too: nothing starts). */
START_TEST(test_guard)
{
	static const char *const bad[][12] = {
		{ "status", REL, "--namespace", "default", "-o", "json" },
		{ "status", REL, "--namespace", "kube-system", "-o", "json" },
		{ "status", REL, "-o", "json" },                              /* no namespace */
		{ "status", REL, "--namespace", NS, "--namespace", "default" },
		{ "status", REL, "-n", NS },                                  /* only --namespace */
		{ "status", REL, "--namespace=" NS },
		{ "status", "a-release-name-that-is-longer-than-fifty-three-chars-x", "--namespace", NS },
		{ "status", "Bad", "--namespace", NS },
		{ "upgrade", REL, "c", "--namespace", NS, "--set", "a=b" },
		{ "upgrade", REL, "c", "--namespace", NS, "-f", "/etc/passwd" },
		{ "upgrade", REL, "c", "--namespace", NS, "--kube-token", "x" },
		{ "upgrade", REL, "c", "--namespace", NS, "--kubeconfig", "/x" },
		{ "upgrade", REL, "c", "--namespace", NS, "--post-renderer", "/bin/sh" },
		{ "install", REL, "c", "--namespace", NS },
		{ "status", REL, "extra", "--namespace", NS },
		{ "status", REL, "--namespace", NS, "-o", "yaml" },
		{ "status", REL, "--namespace" },
		{ "get", "manifest", REL, "--namespace", NS },
		{ "list", "--namespace", NS, "-A" },
		{ "status", "--namespace", NS },                              /* no release */
	};
	struct got g = { 0 };
	char err[256];

	init_with(fake("helm-never", "touch ran; exit 0"), "http://127.0.0.1:1", "", 0, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct helm_args a;
		memset(&a, 0, sizeof(a));
		for (int j = 0; bad[i][j]; j++)
			a.argv[a.argc++] = (char *)bad[i][j];
		ck_assert_msg(helm_args_check(&a, err, sizeof(err)) == -1, "case %zu accepted", i);
		ck_assert_ptr_nonnull(strstr(err, "helm refused"));
		ck_assert_ptr_null(helm_run_start(&a, NULL, 0, 1000, on_done, &g, err, sizeof(err)));
	}
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
	{
		char ran[400];
		snprintf(ran, sizeof(ran), "%s/ran", T_home);
		ck_assert_int_eq(access(ran, F_OK), -1);
	}
}
END_TEST

/* --- parsers (helm-cli.md section 3) ----------------------------------------------- */

START_TEST(test_status_parse)
{
	struct helm_status st;
	char reason[256];
	static const char release[] =
		"{\"name\":\"pg\",\"info\":{\"first_deployed\":\"2024-06-01T10:00:59.1234567Z\","
		"\"last_deployed\":\"2024-06-01T10:00:59.1234567Z\",\"deleted\":\"\","
		"\"description\":\"Install complete\",\"status\":\"deployed\",\"notes\":\"...\"},"
		"\"config\":{\"auth\":{\"postgresPassword\":\"" SECRET "\"}},"
		"\"manifest\":\"---\\n# Source: ...\",\"hooks\":[],\"version\":1,"
		"\"namespace\":\"paas-ws-42\"}\n";

	ck_assert_int_eq(helm_status_parse(status_json, strlen(status_json), &st, reason,
	                                   sizeof(reason)), 0);
	ck_assert_str_eq(st.name, "flummoxed-chickadee");
	ck_assert_str_eq(st.namespace_, "default");
	ck_assert_int_eq(st.revision, 0);        /* "version" absent when 0 */
	ck_assert_int_eq(st.state, HELM_STATE_DEPLOYED);
	ck_assert_str_eq(st.first_deployed, "");
	ck_assert_str_eq(st.last_deployed, "2016-01-16T00:00:00Z");
	ck_assert_str_eq(st.description, "");

	ck_assert_int_eq(helm_status_parse(release, strlen(release), &st, reason,
	                                   sizeof(reason)), 0);
	ck_assert_str_eq(st.name, "pg");
	ck_assert_int_eq(st.revision, 1);
	ck_assert_str_eq(st.namespace_, "paas-ws-42");
	ck_assert_str_eq(st.description, "Install complete");
	ck_assert_str_eq(st.status, "deployed");

	/* pending and unknown states */
	{
		static const char pend[] = "{\"name\":\"x\",\"info\":{\"first_deployed\":\"\","
		                           "\"last_deployed\":\"\",\"deleted\":\"\",\"status\":"
		                           "\"pending-install\"},\"version\":2}";
		static const char odd[] = "{\"name\":\"x\",\"info\":{\"status\":\"exploded\"},"
		                          "\"future\":{\"a\":[1,2]}}";
		ck_assert_int_eq(helm_status_parse(pend, strlen(pend), &st, reason, sizeof(reason)), 0);
		ck_assert_int_eq(st.state, HELM_STATE_PENDING_INSTALL);
		ck_assert(helm_state_pending(st.state));
		ck_assert_int_eq(helm_status_parse(odd, strlen(odd), &st, reason, sizeof(reason)), 0);
		ck_assert_int_eq(st.state, HELM_STATE_UNKNOWN);
		ck_assert_str_eq(st.status, "exploded");
	}
	/* strict about types */
	{
		static const char *const bad[] = {
			"{\"name\":\"x\",\"version\":\"1\"}",
			"{\"name\":\"x\",\"version\":1.5}",
			"{\"name\":\"x\",\"version\":-1}",
			"{\"name\":7}",
			"{\"info\":{}}",
			"{\"name\":\"x\",\"info\":\"deployed\"}",
			"{\"name\":\"x\",\"info\":{\"status\":1}}",
			"{\"name\":\"x\",\"namespace\":null}",
			"[]",
			"not json",
			"{\"name\":\"x\",\"name\":\"y\"}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(helm_status_parse(bad[i], strlen(bad[i]), &st, reason,
			                                sizeof(reason)) == -1, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(test_history_parse)
{
	static const char fixture[] =
		"[{\"revision\":3,\"updated\":\"1977-09-02T22:04:05Z\",\"status\":\"superseded\","
		"\"chart\":\"foo-0.1.0-beta.1\",\"app_version\":\"1.0\",\"description\":\"Release "
		"mock\"},{\"revision\":4,\"updated\":\"1977-09-02T22:04:05Z\",\"status\":"
		"\"deployed\",\"chart\":\"foo-0.1.0-beta.1\",\"app_version\":\"1.0\","
		"\"description\":\"Release mock\"}]\n";
	struct helm_revision *revs = NULL;
	size_t n = 99;
	char reason[256];

	ck_assert_int_eq(helm_history_parse(fixture, strlen(fixture), &revs, &n, reason,
	                                    sizeof(reason)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(revs[0].revision, 3);
	ck_assert_int_eq(revs[0].state, HELM_STATE_SUPERSEDED);
	ck_assert_str_eq(revs[0].updated, "1977-09-02T22:04:05Z");
	ck_assert_str_eq(revs[0].chart, "foo-0.1.0-beta.1");
	ck_assert_str_eq(revs[0].app_version, "1.0");
	ck_assert_str_eq(revs[0].description, "Release mock");
	ck_assert_int_eq(revs[1].revision, 4);
	ck_assert_int_eq(revs[1].state, HELM_STATE_DEPLOYED);
	free(revs);

	revs = (void *)1;
	ck_assert_int_eq(helm_history_parse("[]", 2, &revs, &n, reason, sizeof(reason)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(revs);

	{
		/* list's shape (revision a string) is not history's; a missing key; a null */
		static const char *const bad[] = {
			"[{\"revision\":\"1\",\"updated\":\"\",\"status\":\"deployed\",\"chart\":\"c\","
			"\"app_version\":\"1\",\"description\":\"d\"}]",
			"[{\"revision\":1,\"updated\":\"\",\"status\":\"deployed\",\"chart\":\"c\","
			"\"app_version\":\"1\"}]",
			"[{\"revision\":1,\"updated\":null,\"status\":\"deployed\",\"chart\":\"c\","
			"\"app_version\":\"1\",\"description\":\"d\"}]",
			"[1]",
			"{}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(helm_history_parse(bad[i], strlen(bad[i]), &revs, &n, reason,
			                                 sizeof(reason)) == -1, "accepted %s", bad[i]);
	}
	{
		static const char extra[] =
			"[{\"revision\":1,\"updated\":\"\",\"status\":\"failed\",\"chart\":\"c-1\","
			"\"app_version\":\"\",\"description\":\"Release \\\"x\\\" failed\","
			"\"new_member\":true}]";
		ck_assert_int_eq(helm_history_parse(extra, strlen(extra), &revs, &n, reason,
		                                    sizeof(reason)), 0);
		ck_assert_int_eq(revs[0].state, HELM_STATE_FAILED);
		free(revs);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("helm_run");
	TCase *tr = tcase_create("run");
	TCase *tp = tcase_create("pure");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_ok_stdout_stdin);
	tcase_add_test(tr, test_no_values_stdin_eof);
	tcase_add_test(tr, test_error_line);
	tcase_add_test(tr, test_not_found_and_no_error_line);
	tcase_add_test(tr, test_env_and_argv);
	tcase_add_test(tr, test_env_https_ca);
	tcase_add_test(tr, test_private_dir);
	tcase_add_test(tr, test_stdout_cap);
	tcase_add_test(tr, test_stderr_cap);
	tcase_add_test(tr, test_timeout_term);
	tcase_add_test(tr, test_timeout_kill);
	tcase_add_test(tr, test_cancel);
	tcase_add_test(tr, test_orphan);
	tcase_add_test(tr, test_missing_program_and_token);
	tcase_add_test(tr, test_guard);
	suite_add_tcase(s, tr);
	tcase_add_test(tp, test_names);
	tcase_add_test(tp, test_builders);
	tcase_add_test(tp, test_status_parse);
	tcase_add_test(tp, test_history_parse);
	suite_add_tcase(s, tp);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
