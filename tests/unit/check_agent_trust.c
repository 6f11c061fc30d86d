/* check_agent_trust.c: which system CA directory the agent trusts without --ca-file
 * (agent/trust.c): only a directory with hash links, $SSL_CERT_DIR first. The store
 * itself is exercised against a TLS server by tests/scripts/test_agent_relay.sh and
 * tests/bench/agent_footprint.sh. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trust.h"

static char dir[] = "/tmp/kaiden-trust-XXXXXX";

static void touch(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/kaiden-trust-XXXXXX");
}

START_TEST(test_links)
{
	ck_assert_int_eq(trust_dir_has_links(dir), 0);          /* empty */
	touch("ca-certificates.crt");
	touch("Some_CA.pem");
	touch("0123abcd.pem");
	touch("0123abcd.");
	touch("0123ABCD.0");                                    /* OpenSSL's are lowercase */
	touch("0123abcd.0x");
	ck_assert_int_eq(trust_dir_has_links(dir), 0);
	touch("0123abcd.1");
	ck_assert_int_eq(trust_dir_has_links(dir), 1);
	ck_assert_int_eq(trust_dir_has_links("/nonexistent/kaiden-trust"), 0);
}
END_TEST

START_TEST(test_system_dir)
{
	/* $SSL_CERT_DIR decides, as in OpenSSL; a directory without links is not used. */
	setenv("SSL_CERT_DIR", dir, 1);
	ck_assert_ptr_null(trust_system_dir());
	touch("5ad8a5d6.0");
	ck_assert_str_eq(trust_system_dir(), dir);
	setenv("SSL_CERT_DIR", "/nonexistent/kaiden-trust", 1);
	ck_assert_ptr_null(trust_system_dir());
	unsetenv("SSL_CERT_DIR");
}
END_TEST

START_TEST(test_status)
{
	/* Nothing asked: fine. A directory asked but never installed (lws did not offer
	 * the SSL_CTX): the agent must not go on with lws's own store. */
	trust_use_dir(NULL);
	ck_assert_int_eq(trust_status(), 0);
	trust_use_dir(dir);
	ck_assert_int_eq(trust_status(), -1);
	trust_use_dir(NULL);
	ck_assert_int_eq(trust_status(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_trust");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_links);
	tcase_add_test(tc, test_system_dir);
	tcase_add_test(tc, test_status);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
