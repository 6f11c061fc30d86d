/* check_agent_sysinfo.c: the facts in the agent's hello (agent/sysinfo.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "sysinfo.h"

static const struct {
	const char *file;
	const char *want; /* NULL: -1 */
} cases[] = {
	{ "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
	  "Debian GNU/Linux 12 (bookworm)" },
	{ "PRETTY_NAME='Alpine Linux v3.19'\n", "Alpine Linux v3.19" },
	{ "PRETTY_NAME=Arch\n", "Arch" },
	{ "PRETTY_NAME=\"Say \\\"hi\\\" \\\\o/\"\n", "Say \"hi\" \\o/" },
	{ "PRETTY_NAME=\"caf\xc3\xa9\tOS\"\n", "caf??\?OS" },
	{ "PRETTY_NAME=\"\"\n", NULL },
	{ "NAME=Debian\n", NULL },
	{ "", NULL },
};

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

START_TEST(test_os_release)
{
	char path[] = "/tmp/kaiden-osrel-XXXXXX";
	char out[64] = "untouched";
	int fd = mkstemp(path);
	FILE *f;
	int rc;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(cases[_i].file, f);
	fclose(f);
	rc = sysinfo_os_release(path, out, sizeof(out));
	unlink(path);
	if (cases[_i].want) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(out, cases[_i].want);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(out, "untouched");
	}
}
END_TEST

START_TEST(test_missing_file)
{
	char out[16] = "x";

	ck_assert_int_eq(sysinfo_os_release("/nonexistent/os-release", out, sizeof(out)), -1);
	ck_assert_str_eq(out, "x");
}
END_TEST

/* This machine's facts are non-empty printable ASCII and make a valid hello. */
START_TEST(test_facts_make_a_hello)
{
	struct sysinfo_facts facts;
	json_object *f = json_object_new_object();
	char *text;

	sysinfo_get(&facts);
	ck_assert(*facts.hostname && printable(facts.hostname));
	ck_assert(*facts.os && printable(facts.os));
	ck_assert(*facts.arch && printable(facts.arch));
	ck_assert_str_eq(facts.agent_version, AGENT_VERSION);
	ck_assert_ptr_nonnull(strstr(facts.os, "Linux"));
	json_object_object_add(f, "version", json_object_new_int(PROTO_VERSION));
	jsonx_add_str(f, "device_id", "d");
	jsonx_add_str(f, "secret", "s");
	jsonx_add_str(f, "agent_version", facts.agent_version);
	jsonx_add_str(f, "hostname", facts.hostname);
	jsonx_add_str(f, "os", facts.os);
	jsonx_add_str(f, "arch", facts.arch);
	text = proto_build(PROTO_HELLO, f);
	ck_assert_ptr_nonnull(text);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_sysinfo");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_os_release, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_facts_make_a_hello);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
