/* check_connect_cmd.c: the connect commands of a relay session (connect_cmd.h) and who
 * may use them (relay_access.h). The commands are run the way an engineer runs them:
 * pasted into `sh -c`, with `ssh` and `kaiden-connect` being scripts that print the
 * argv they got, and the ProxyCommand run as ssh runs it (%% -> %, then sh -c "exec
 * ..."), so a quoting mistake shows as a wrong argument, not as a wrong string. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "connect_cmd.h"
#include "ids.h"
#include "jsonx.h"
#include "relay_access.h"

#define SESSION "01a206af-e5c6-7217-bbb1-046bcbb561fd"
#define DEVICE "01a206ac-b263-75e9-ba89-f90625dcd8b3"
#define SEP '\036' /* what the fake programs print after each argument */

static char bindir[256], kcdir[300];

/* A fake program: prints its argv, each argument followed by SEP, its name first; to
 * the file $KC_OUT when that is set (a ProxyCommand's stdout is ssh's connection: it
 * stays open until the file is written, else ssh sees EOF and kills the command). */
static void fake(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "#!/bin/sh\n"
	        "args() { printf '%%s\\036' %s; for a; do printf '%%s\\036' \"$a\"; done; }\n"
	        "if [ -n \"$KC_OUT\" ]; then args \"$@\" >\"$KC_OUT\"; else args \"$@\"; fi\n",
	        name);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

/* A temporary directory holding fake `ssh` and `kaiden-connect`, and in it kc/ with
 * only the fake kaiden-connect (for the real ssh). */
static void setup(void)
{
	snprintf(bindir, sizeof(bindir), "%s/check-connect-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(bindir));
	snprintf(kcdir, sizeof(kcdir), "%s/kc", bindir);
	ck_assert_int_eq(mkdir(kcdir, 0700), 0);
	fake(bindir, "ssh");
	fake(bindir, "kaiden-connect");
	fake(kcdir, "kaiden-connect");
}

static void teardown(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/kaiden-connect", kcdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/argv", kcdir);
	unlink(path);
	rmdir(kcdir);
	snprintf(path, sizeof(path), "%s/ssh", bindir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kaiden-connect", bindir);
	unlink(path);
	rmdir(bindir);
}

/* Runs `sh -c script` with dir first on PATH; its output (owned, NUL-terminated) and
 * exit status. */
static char *sh_run(const char *dir, const char *script, int *exit_status)
{
	struct buf out;
	char chunk[4096], path[4096];
	int fds[2], status = 0;
	pid_t pid;
	ssize_t n;

	snprintf(path, sizeof(path), "%s:%s", dir,
	         getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		setenv("PATH", path, 1);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	buf_init(&out, 1 << 20);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(buf_append(&out, chunk, (size_t)n), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "sh -c %s died", script);
	*exit_status = WEXITSTATUS(status);
	return buf_take(&out);
}

/* sh_run with the fakes first on PATH, which must succeed. */
static char *sh_output(const char *script)
{
	int status = -1;
	char *out = sh_run(bindir, script, &status);

	ck_assert_msg(status == 0, "sh -c %s failed (%d)", script, status);
	return out;
}

/* The output split at SEP into argv (at most max); the count. Pointers into out. */
static int split_args(char *out, char **argv, int max)
{
	int n = 0;

	for (char *p = out, *end; *p && n < max; p = end + 1) {
		end = strchr(p, SEP);
		ck_assert_ptr_nonnull(end);
		*end = '\0';
		argv[n++] = p;
	}
	return n;
}

/* The kaiden-connect argv a ProxyCommand option value makes, run as ssh runs it. */
static int proxy_args(const char *option, char *storage, size_t size, char **argv, int max)
{
	const char *pc = option + strlen("ProxyCommand=");
	struct buf unescaped, script;
	char *out;
	int n;

	ck_assert(strncmp(option, "ProxyCommand=", 13) == 0);
	buf_init(&unescaped, 1 << 16);
	/* ssh: "%%" is a '%'; any other %-token would be expanded, and there must be none. */
	for (const char *p = pc; *p; p++) {
		if (*p == '%') {
			ck_assert_msg(p[1] == '%', "a %%-token ssh would expand: %s", p);
			p++;
		}
		ck_assert_int_eq(buf_append(&unescaped, p, 1), 0);
	}
	buf_init(&script, 1 << 16);
	ck_assert_int_eq(buf_printf(&script, "exec %s", unescaped.data), 0);
	out = sh_output(script.data);
	snprintf(storage, size, "%s", out);
	free(out);
	buf_clear(&unescaped);
	buf_clear(&script);
	n = split_args(storage, argv, max);
	return n;
}

static json_object *new_connect(const char *server, const char *hostname)
{
	json_object *c = connect_cmd_new(server, SESSION, DEVICE, hostname);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* ---- quoting ------------------------------------------------------------------------- */

START_TEST(test_quote)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "https://h.example:8443/x", "https://h.example:8443/x" },
		{ "a b", "'a b'" },
		{ "", "''" },
		{ "it's", "'it'\\''s'" },
		{ "$HOME", "'$HOME'" },
		{ "`id`", "'`id`'" },
		{ "a\\b", "'a\\b'" },
		{ "*", "'*'" },
		{ "~", "'~'" },
		{ "x;y", "'x;y'" },
		{ "50%", "50%" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf b;
		buf_init(&b, 1024);
		ck_assert_int_eq(connect_cmd_quote(&b, cases[i].in), 0);
		ck_assert_str_eq(b.data, cases[i].want);
		/* ... and a shell gives back the word. */
		{
			struct buf script;
			char *out;
			buf_init(&script, 4096);
			ck_assert_int_eq(buf_printf(&script, "printf '%%s\\036' %s", b.data), 0);
			out = sh_output(script.data);
			ck_assert_int_eq((int)strlen(out), (int)strlen(cases[i].in) + 1);
			ck_assert(strncmp(out, cases[i].in, strlen(cases[i].in)) == 0);
			free(out);
			buf_clear(&script);
		}
		buf_clear(&b);
	}
}
END_TEST

START_TEST(test_host_ok)
{
	ck_assert(connect_cmd_host_ok("web-01"));
	ck_assert(connect_cmd_host_ok("web-01.example.com"));
	ck_assert(connect_cmd_host_ok("10.0.0.7"));
	ck_assert(!connect_cmd_host_ok(NULL));
	ck_assert(!connect_cmd_host_ok(""));
	ck_assert(!connect_cmd_host_ok("-oProxyCommand=x"));
	ck_assert(!connect_cmd_host_ok(".hidden"));
	ck_assert(!connect_cmd_host_ok("a b"));
	ck_assert(!connect_cmd_host_ok("root@web"));
	ck_assert(!connect_cmd_host_ok("web;id"));
	ck_assert(!connect_cmd_host_ok("h\"1"));
	{
		char long_name[300];
		memset(long_name, 'a', sizeof(long_name) - 1);
		long_name[sizeof(long_name) - 1] = '\0';
		ck_assert(!connect_cmd_host_ok(long_name));
		long_name[253] = '\0';
		ck_assert(connect_cmd_host_ok(long_name));
	}
}
END_TEST

/* ---- the commands, run --------------------------------------------------------------- */

/* The ssh command gives ssh exactly its options and destination, and its ProxyCommand
 * gives kaiden-connect exactly the server and session, for a server URL that needs
 * every kind of quoting. */
static void check_ssh(const char *server, const char *hostname, const char *want_dest,
                      int insecure)
{
	json_object *c = new_connect(server, hostname);
	char *out, *argv[16], storage[8192], *pargv[16];
	int n, pn, i = 0;

	out = sh_output(jsonx_str(c, "ssh"));
	n = split_args(out, argv, 16);
	ck_assert_msg(n == 6, "%d arguments from %s", n, jsonx_str(c, "ssh"));
	ck_assert_str_eq(argv[0], "ssh");
	ck_assert_str_eq(argv[1], "-o");
	ck_assert_str_eq(argv[3], "-o");
	ck_assert_str_eq(argv[4], "HostKeyAlias=kaiden-" DEVICE);
	ck_assert_str_eq(argv[5], want_dest);

	pn = proxy_args(argv[2], storage, sizeof(storage), pargv, 16);
	ck_assert_int_eq(pn, insecure ? 6 : 5);
	ck_assert_str_eq(pargv[i++], "kaiden-connect");
	ck_assert_str_eq(pargv[i++], "--server");
	ck_assert_str_eq(pargv[i++], server);
	if (insecure)
		ck_assert_str_eq(pargv[i++], "--insecure");
	ck_assert_str_eq(pargv[i++], "--session");
	ck_assert_str_eq(pargv[i++], SESSION);
	free(out);
	json_object_put(c);
}

static void check_web(const char *server, int insecure)
{
	json_object *c = new_connect(server, NULL);
	char *out, *argv[16];
	int n, i = 0;

	out = sh_output(jsonx_str(c, "web"));
	n = split_args(out, argv, 16);
	ck_assert_int_eq(n, insecure ? 10 : 9);
	ck_assert_str_eq(argv[i++], "kaiden-connect");
	ck_assert_str_eq(argv[i++], "--server");
	ck_assert_str_eq(argv[i++], server);
	if (insecure)
		ck_assert_str_eq(argv[i++], "--insecure");
	ck_assert_str_eq(argv[i++], "--session");
	ck_assert_str_eq(argv[i++], SESSION);
	ck_assert_str_eq(argv[i++], "--target");
	ck_assert_str_eq(argv[i++], "web");
	ck_assert_str_eq(argv[i++], "--listen");
	ck_assert_str_eq(argv[i++], "127.0.0.1:18080");
	free(out);
	json_object_put(c);
}

START_TEST(test_plain_commands)
{
	json_object *c = new_connect("https://kaiden.example.com", "web-01");

	/* The form the issue shows, character for character. */
	ck_assert_str_eq(jsonx_str(c, "ssh"),
	                 "ssh -o ProxyCommand='kaiden-connect --server https://kaiden.example.com "
	                 "--session " SESSION "' -o HostKeyAlias=kaiden-" DEVICE " web-01");
	ck_assert_str_eq(jsonx_str(c, "web"),
	                 "kaiden-connect --server https://kaiden.example.com --session " SESSION
	                 " --target web --listen 127.0.0.1:18080");
	ck_assert_ptr_nonnull(strstr(jsonx_str(c, "token"), "KAIDEN_TOKEN"));
	ck_assert_int_eq(json_object_object_length(c), 3);
	json_object_put(c);
	check_ssh("https://kaiden.example.com", "web-01", "web-01", 0);
	check_web("https://kaiden.example.com", 0);
}
END_TEST

START_TEST(test_insecure)
{
	json_object *c = new_connect("http://127.0.0.1:8080", NULL);

	ck_assert_ptr_nonnull(strstr(jsonx_str(c, "ssh"), " --insecure "));
	ck_assert_ptr_nonnull(strstr(jsonx_str(c, "web"), " --insecure "));
	json_object_put(c);
	check_ssh("http://127.0.0.1:8080", NULL, "kaiden-" DEVICE, 1);
	check_web("http://127.0.0.1:8080", 1);
	/* https:// never gets --insecure. */
	c = new_connect("https://127.0.0.1:8443", NULL);
	ck_assert_ptr_null(strstr(jsonx_str(c, "ssh"), "--insecure"));
	json_object_put(c);
}
END_TEST

/* A server URL (an operator's setting) with spaces, both quotes, $, backquotes, a
 * backslash, ssh's %-tokens and a %% stays one argument through both shells. */
START_TEST(test_hostile_server)
{
	static const char *const servers[] = {
		"https://h.example/a b",
		"https://h.example/it's",
		"https://h.example/\"q\"",
		"https://h.example/$HOME/`id`/$(id)",
		"https://h.example/%h%p%r%%%",
		"https://h.example/x\\y;z&w|v>u<t*s?r[q]~p#o!",
		"http://h.example/'%'\"'%%\"'",
	};

	for (size_t i = 0; i < ARRAY_LEN(servers); i++) {
		int insecure = strncmp(servers[i], "http://", 7) == 0;
		check_ssh(servers[i], "web-01", "web-01", insecure);
		check_web(servers[i], insecure);
	}
}
END_TEST

/* The hostname comes from the customer's machine: anything but a plain host name is
 * replaced, so it can never become an ssh option or a shell word of its own. */
START_TEST(test_hostile_hostname)
{
	static const char *const names[] = {
		"-oProxyCommand=touch /tmp/pwned", "web;id", "$(id)", "a b", "root@web", "", "h\"1",
	};

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		check_ssh("https://kaiden.example.com", names[i], "kaiden-" DEVICE, 0);
	check_ssh("https://kaiden.example.com", "db-2.internal", "db-2.internal", 0);
}
END_TEST

/* The real OpenSSH client takes the ssh command as it is pasted: it runs the
 * ProxyCommand (through $SHELL, after expanding its %-tokens) and kaiden-connect gets
 * exactly the server and session. The fake kaiden-connect writes its argv to a file and
 * exits, so ssh then fails to connect (exit 255), which is all it can do here. */
START_TEST(test_real_ssh)
{
	static const char *const servers[] = {
		"https://kaiden.example.com",
		"http://127.0.0.1:8080",
		"https://h.example/%h%p%r%%%/it's a \"test\"/$HOME`id`",
	};

	for (size_t i = 0; i < ARRAY_LEN(servers); i++) {
		json_object *c = new_connect(servers[i], "web-01");
		const char *ssh = jsonx_str(c, "ssh");
		char argv_file[512], *out, *argv[16], storage[8192];
		struct buf script;
		FILE *f;
		size_t len;
		int status = -1, n, k = 0;

		snprintf(argv_file, sizeof(argv_file), "%s/argv", kcdir);
		unlink(argv_file);
		ck_assert(strncmp(ssh, "ssh ", 4) == 0);
		/* The pasted command, with options that keep this ssh away from the user's
		 * configuration and from any prompt. */
		buf_init(&script, 1 << 16);
		ck_assert_int_eq(buf_printf(&script,
		                 "KC_OUT='%s' exec ssh -F /dev/null -o BatchMode=yes "
		                 "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 %s "
		                 "</dev/null 2>/dev/null",
		                 argv_file, ssh + 4), 0);
		out = sh_run(kcdir, script.data, &status);
		free(out);
		buf_clear(&script);
		ck_assert_int_eq(status, 255);
		f = fopen(argv_file, "r");
		/* (n below is checked before any argv[k] is read.) */
		ck_assert_msg(f != NULL, "ssh did not run the ProxyCommand of %s", ssh);
		len = fread(storage, 1, sizeof(storage) - 1, f);
		fclose(f);
		storage[len] = '\0';
		n = split_args(storage, argv, 16);
		ck_assert_int_eq(n, strncmp(servers[i], "http://", 7) == 0 ? 6 : 5);
		ck_assert_str_eq(argv[k++], "kaiden-connect");
		ck_assert_str_eq(argv[k++], "--server");
		ck_assert_str_eq(argv[k++], servers[i]);
		if (strncmp(servers[i], "http://", 7) == 0)
			ck_assert_str_eq(argv[k++], "--insecure");
		ck_assert_str_eq(argv[k++], "--session");
		ck_assert_str_eq(argv[k++], SESSION);
		ck_assert_int_eq(n, k);
		json_object_put(c);
	}
}
END_TEST

START_TEST(test_bad_input)
{
	ck_assert_ptr_null(connect_cmd_new(NULL, SESSION, DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("", SESSION, DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("https://", SESSION, DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("ftp://h", SESSION, DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("HTTPS://h", SESSION, DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("https://h", "not-a-session", DEVICE, NULL));
	ck_assert_ptr_null(connect_cmd_new("https://h", SESSION, "x; id", NULL));
	ck_assert_ptr_null(connect_cmd_new("https://h", SESSION, NULL, NULL));
}
END_TEST

/* ---- who may connect ----------------------------------------------------------------- */

#define TENANT "01a206aa-0000-7000-8000-000000000001"
#define OTHER "01a206aa-0000-7000-8000-000000000002"
#define ME "01a206ab-0000-7000-8000-00000000000a"
#define SOMEONE "01a206ab-0000-7000-8000-00000000000b"

static struct store_identity who(enum role role, const char *user, const char *tenant)
{
	struct store_identity w;

	memset(&w, 0, sizeof(w));
	w.role = role;
	snprintf(w.user_id, sizeof(w.user_id), "%s", user);
	snprintf(w.tenant_id, sizeof(w.tenant_id), "%s", tenant);
	return w;
}

START_TEST(test_access)
{
	struct store_identity admin = who(ROLE_ADMIN, ME, ""), eng = who(ROLE_ENGINEER, ME, "");
	struct store_identity tadmin = who(ROLE_TENANT_ADMIN, ME, TENANT);
	struct store_identity service = who(ROLE_SERVICE, "", TENANT);
	struct store_identity cust = who(ROLE_CUSTOMER, ME, TENANT);
	struct store_identity none = who(ROLE_NONE, ME, TENANT);

	/* Staff admins: any session, whoever started it. */
	ck_assert(relay_access_allowed(&admin, TENANT, SOMEONE));
	ck_assert(relay_access_allowed(&admin, OTHER, NULL));
	/* Staff engineers: only what they started. */
	ck_assert(relay_access_allowed(&eng, TENANT, ME));
	ck_assert(relay_access_allowed(&eng, OTHER, ME));
	ck_assert(!relay_access_allowed(&eng, TENANT, SOMEONE));
	ck_assert(!relay_access_allowed(&eng, TENANT, NULL));
	ck_assert(!relay_access_allowed(&eng, TENANT, ""));
	/* Tenant admins and service tokens: their tenant's, whoever started them. */
	ck_assert(relay_access_allowed(&tadmin, TENANT, SOMEONE));
	ck_assert(relay_access_allowed(&tadmin, TENANT, NULL));
	ck_assert(!relay_access_allowed(&tadmin, OTHER, ME));
	ck_assert(relay_access_allowed(&service, TENANT, NULL));
	ck_assert(!relay_access_allowed(&service, OTHER, NULL));
	/* Customers never, not even a session "started" by them; nobody without a role. */
	ck_assert(!relay_access_allowed(&cust, TENANT, ME));
	ck_assert(!relay_access_allowed(&none, TENANT, ME));
	/* No caller, no tenant. */
	ck_assert(!relay_access_allowed(NULL, TENANT, ME));
	ck_assert(!relay_access_allowed(&admin, NULL, ME));
	ck_assert(!relay_access_allowed(&admin, "", ME));
	/* An engineer with no user id (cannot happen) matches nothing, not "" == "". */
	{
		struct store_identity odd = who(ROLE_ENGINEER, "", "");
		ck_assert(!relay_access_allowed(&odd, TENANT, ""));
	}
	/* A tenant admin without a tenant (cannot happen) matches nothing either. */
	{
		struct store_identity odd = who(ROLE_TENANT_ADMIN, ME, "");
		ck_assert(!relay_access_allowed(&odd, TENANT, ME));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("connect_cmd");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_host_ok);
	tcase_add_test(tc, test_plain_commands);
	tcase_add_test(tc, test_insecure);
	tcase_add_test(tc, test_hostile_server);
	tcase_add_test(tc, test_hostile_hostname);
	tcase_add_test(tc, test_real_ssh);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_access);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
