/* check_cfg.c: the configuration table and the YAML reader under it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "yamljson.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/kaiden-cfg-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static void teardown(void)
{
	if (*path)
		unlink(path);
	*path = '\0';
	unsetenv("KAIDEN_SERVER_THREADS");
	unsetenv("KAIDEN_CF_DOMAIN");
	unsetenv("KAIDEN_TEST_TOKEN");
}

START_TEST(test_defaults)
{
	char err[256];

	ck_assert_int_eq(cfg_load(NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg_str(CFG_DATABASE_DRIVER), "sqlite");
	ck_assert_int_eq(cfg_int(CFG_SERVER_THREADS), 4);
	ck_assert_int_eq(cfg_int(CFG_SERVER_MAX_BODY), 65536);
	/* Every entry has a name, an env name under KAIDEN_ and help. */
	for (int i = 0; i < CFG__MAX; i++) {
		ck_assert_ptr_nonnull(cfg_table()[i].name);
		ck_assert(strncmp(cfg_table()[i].env, "KAIDEN_", 7) == 0);
		ck_assert_ptr_nonnull(cfg_table()[i].help);
	}
}
END_TEST

START_TEST(test_file_env_precedence)
{
	char err[256];

	write_file("# comment\nserver:\n  threads: 8\n  socket: /tmp/x.sock\n"
	           "database:\n  driver: postgres\n  dsn: \"host=/tmp password=${KAIDEN_TEST_TOKEN}\"\n"
	           "cloudflare:\n  domain: file.example.com\n");
	setenv("KAIDEN_TEST_TOKEN", "s3cret", 1);
	setenv("KAIDEN_CF_DOMAIN", "env.example.com", 1);
	ck_assert_msg(cfg_load(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cfg_int(CFG_SERVER_THREADS), 8);
	ck_assert_str_eq(cfg_str(CFG_SERVER_SOCKET), "/tmp/x.sock");
	ck_assert_str_eq(cfg_str(CFG_DATABASE_DRIVER), "postgres");
	ck_assert_str_eq(cfg_str(CFG_DATABASE_DSN), "host=/tmp password=s3cret");
	ck_assert_str_eq(cfg_str(CFG_CF_DOMAIN), "env.example.com");
	ck_assert_int_eq(cfg_set("server.threads", "2", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_int(CFG_SERVER_THREADS), 2);

	/* The dump never shows a secret. */
	char *dump = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&dump, &len);
	cfg_dump(mem);
	fclose(mem);
	ck_assert_ptr_null(strstr(dump, "s3cret"));
	ck_assert_ptr_nonnull(strstr(dump, "env.example.com"));
	free(dump);
}
END_TEST

static const struct {
	const char *yaml; /* NULL: use env */
	const char *env_name, *env_value;
	const char *must_mention;
} bad[] = {
	{ "server:\n  threads: many\n", NULL, NULL, "server.threads" },
	{ "server:\n  threads: 0\n", NULL, NULL, "server.threads" },
	{ "server:\n  colour: red\n", NULL, NULL, "server.colour" },
	{ "database:\n  driver: mysql\n", NULL, NULL, "database.driver" },
	{ "server: 3\n", NULL, NULL, "server" },
	{ "server:\n  socket: [a, b]\n", NULL, NULL, "server.socket" },
	{ "server:\n  socket: \"unterminated\n", NULL, NULL, "line" },
	/* A budget of 1 would have no refill (cf_budget.h): refused, saying the range. */
	{ "cloudflare:\n  budget: 1\n", NULL, NULL, "cloudflare.budget (from" },
	{ "cloudflare:\n  budget: 1\n", NULL, NULL, "from 2 to 1200" },
	{ "cloudflare:\n  budget_window_ms: 999\n", NULL, NULL, "cloudflare.budget_window_ms" },
	{ NULL, "KAIDEN_SERVER_THREADS", "9999", "KAIDEN_SERVER_THREADS" },
};

START_TEST(test_bad_values)
{
	char err[256] = "";
	int rc;

	if (bad[_i].yaml)
		write_file(bad[_i].yaml);
	if (bad[_i].env_name)
		setenv(bad[_i].env_name, bad[_i].env_value, 1);
	rc = cfg_load(bad[_i].yaml ? path : NULL, err, sizeof(err));
	ck_assert_msg(rc == -1, "case %d accepted", _i);
	/* The env case names the setting; say where the value came from too. */
	if (bad[_i].env_name)
		ck_assert_msg(strstr(err, "server.threads") && strstr(err, "environment"), "%s", err);
	else
		ck_assert_msg(strstr(err, bad[_i].must_mention) != NULL, "case %d: %s", _i, err);
}
END_TEST

START_TEST(test_yaml_tree)
{
	json_object *root;
	char err[256];

	write_file("paths:\n  /a/{id}:\n    get:\n      summary: Get it\n      tags: [x, y]\n"
	           "    delete: ~\nempty:\n");
	ck_assert_msg(yamljson_read_file(path, &root, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN),
	                 "{\"paths\":{\"\\/a\\/{id}\":{\"get\":{\"summary\":\"Get it\",\"tags\":[\"x\",\"y\"]},"
	                 "\"delete\":null}},\"empty\":null}");
	json_object_put(root);
	ck_assert_int_eq(yamljson_read_file("/nonexistent/x.yaml", &root, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.yaml"));
}
END_TEST

/* The README's configuration reference lists every setting with its variable, so the
 * table and the documentation cannot drift apart. */
START_TEST(test_readme_documents_every_setting)
{
	const char *dir = getenv("KAIDEN_SRCDIR");
	char readme[512], needle[160], *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(readme, sizeof(readme), "%s/README.md", dir ? dir : ".");
	f = fopen(readme, "r");
	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", readme);
	ck_assert_int_eq(getdelim(&text, &len, '\0', f) > 0, 1);
	fclose(f);
	for (int i = 0; i < CFG__MAX; i++) {
		snprintf(needle, sizeof(needle), "| `%s` | `%s` |", cfg_table()[i].name,
		         cfg_table()[i].env);
		ck_assert_msg(strstr(text, needle) != NULL, "README.md does not document %s (%s)",
		              cfg_table()[i].name, cfg_table()[i].env);
	}
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_file_env_precedence);
	tcase_add_loop_test(tc, test_bad_values, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_yaml_tree);
	tcase_add_test(tc, test_readme_documents_every_setting);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
