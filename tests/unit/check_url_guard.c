/* check_url_guard.c: the webhook target guard. A table of URLs (odd spellings of
 * loopback, userinfo, schemes, ports, every special-purpose range, IPv6 forms that embed
 * IPv4) with the expected verdict with and without URL_GUARD_ALLOW_LOOPBACK, the class of
 * single addresses, the pinned address and CURLOPT_RESOLVE entry, and the sentences.
 * No network here: only literal addresses and names from /etc/hosts (localhost). */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "url_guard.h"

#define ALLOW URL_GUARD_ALLOW_LOOPBACK

static const struct {
	const char *url;
	int flags;
	int rc;
} cases[] = {
	/* public literal addresses pass */
	{ "https://93.184.216.34/", 0, URL_GUARD_OK },
	{ "https://93.184.216.34:8443/hook?x=1#f", 0, URL_GUARD_OK },
	{ "HTTPS://93.184.216.34/", 0, URL_GUARD_OK },                /* uppercase scheme */
	{ "hTtPs://93.184.216.34/", 0, URL_GUARD_OK },
	{ "https://[2606:2800:220:1:248:1893:25c8:1946]/", 0, URL_GUARD_OK },
	{ "https://[64:ff9b::5db8:d822]/", 0, URL_GUARD_OK },        /* NAT64 of a public one */
	{ "https://[2002:5db8:d822::1]/", 0, URL_GUARD_OK },         /* 6to4 of a public one */
	{ "https://1.1.1.1./", 0, URL_GUARD_OK },                    /* trailing dot */
	/* scheme */
	{ "http://93.184.216.34/", 0, URL_GUARD_SCHEME },
	{ "http://93.184.216.34/", ALLOW, URL_GUARD_OK },
	{ "HTTP://93.184.216.34/", ALLOW, URL_GUARD_OK },
	{ "ftp://93.184.216.34/", ALLOW, URL_GUARD_SCHEME },
	{ "file:///etc/passwd", ALLOW, URL_GUARD_SCHEME },
	{ "gopher://93.184.216.34/", 0, URL_GUARD_SCHEME },
	{ "ws://93.184.216.34/", 0, URL_GUARD_SCHEME },
	{ "javascript:alert(1)", 0, URL_GUARD_MALFORMED },
	{ "93.184.216.34/", 0, URL_GUARD_MALFORMED },               /* no scheme */
	{ "", 0, URL_GUARD_MALFORMED },
	{ "https://", 0, URL_GUARD_MALFORMED },
	{ "https:// 93.184.216.34/", 0, URL_GUARD_MALFORMED },
	{ "https://exa mple.com/", 0, URL_GUARD_MALFORMED },
	{ "https://93.184.216.34:65536/", 0, URL_GUARD_MALFORMED },
	/* userinfo */
	{ "https://user@93.184.216.34/", 0, URL_GUARD_USERINFO },
	{ "https://user:pw@93.184.216.34/", 0, URL_GUARD_USERINFO },
	{ "https://:pw@93.184.216.34/", 0, URL_GUARD_USERINFO },
	{ "https://user@host/", 0, URL_GUARD_USERINFO },
	{ "https://93.184.216.34\\@127.0.0.1/", 0, URL_GUARD_USERINFO },
	{ "https://127.0.0.1#@93.184.216.34/", 0, URL_GUARD_FORBIDDEN }, /* the host is 127.0.0.1 */
	/* port */
	{ "https://93.184.216.34:0/", 0, URL_GUARD_PORT },
	{ "https://93.184.216.34:/", 0, URL_GUARD_OK },             /* empty: the default */
	/* host */
	{ "https://[fe80::1%25eth0]/", 0, URL_GUARD_HOST },
	{ "https://./", 0, URL_GUARD_HOST },
	/* loopback, however spelled */
	{ "http://127.0.0.1/", 0, URL_GUARD_SCHEME },
	{ "https://127.0.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "http://127.0.0.1:8080/", ALLOW, URL_GUARD_OK },
	{ "http://0x7f000001/", ALLOW, URL_GUARD_OK },
	{ "https://0x7f000001/", 0, URL_GUARD_FORBIDDEN },
	{ "https://2130706433/", 0, URL_GUARD_FORBIDDEN },
	{ "https://127.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://0177.0.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://%31%32%37.0.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://127.255.255.254/", 0, URL_GUARD_FORBIDDEN },
	{ "https://127.0.0.1./", 0, URL_GUARD_FORBIDDEN },
	{ "https://[::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "http://[::1]:9/", ALLOW, URL_GUARD_OK },
	{ "https://[::ffff:127.0.0.1]/", 0, URL_GUARD_FORBIDDEN },
	{ "http://[::ffff:127.0.0.1]/", ALLOW, URL_GUARD_OK },
	{ "https://[::ffff:7f00:1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[0:0:0:0:0:0:0:1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://localhost/", 0, URL_GUARD_FORBIDDEN },
	{ "https://LOCALHOST./", 0, URL_GUARD_FORBIDDEN },
	{ "http://localhost:8080/x", ALLOW, URL_GUARD_OK },
	{ "http://LocalHost.:8080/x", ALLOW, URL_GUARD_OK },
	/* allow-loopback allows loopback only */
	{ "http://10.0.0.1/", ALLOW, URL_GUARD_FORBIDDEN },
	{ "http://0.0.0.0/", ALLOW, URL_GUARD_FORBIDDEN },
	{ "http://[::]/", ALLOW, URL_GUARD_FORBIDDEN },
	{ "http://169.254.169.254/latest/meta-data/", ALLOW, URL_GUARD_FORBIDDEN },
	{ "http://[::ffff:10.0.0.1]/", ALLOW, URL_GUARD_FORBIDDEN },
	{ "http://[64:ff9b::7f00:1]/", ALLOW, URL_GUARD_FORBIDDEN }, /* NAT64: not this host */
	/* private, link-local, CGNAT, unspecified, multicast, reserved */
	{ "https://10.1.2.3/", 0, URL_GUARD_FORBIDDEN },
	{ "https://172.16.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://172.31.255.255/", 0, URL_GUARD_FORBIDDEN },
	{ "https://172.15.255.255/", 0, URL_GUARD_OK },
	{ "https://172.32.0.1/", 0, URL_GUARD_OK },
	{ "https://192.168.1.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://169.254.169.254/", 0, URL_GUARD_FORBIDDEN },
	{ "https://100.64.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://100.127.255.255/", 0, URL_GUARD_FORBIDDEN },
	{ "https://100.128.0.1/", 0, URL_GUARD_OK },
	{ "https://0.0.0.0/", 0, URL_GUARD_FORBIDDEN },
	{ "https://0/", 0, URL_GUARD_FORBIDDEN },
	{ "https://224.0.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://239.255.255.250/", 0, URL_GUARD_FORBIDDEN },
	{ "https://255.255.255.255/", 0, URL_GUARD_FORBIDDEN },
	{ "https://240.0.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://192.0.2.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://198.18.0.1/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[fc00::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[fd12:3456::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[fe80::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[febf::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[fec0::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[ff02::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[::]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[::ffff:192.168.0.1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[::ffff:169.254.169.254]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[::10.0.0.1]/", 0, URL_GUARD_FORBIDDEN },        /* IPv4-compatible */
	{ "https://[64:ff9b::a00:1]/", 0, URL_GUARD_FORBIDDEN },    /* NAT64 of 10.0.0.1 */
	{ "https://[2002:a9fe:a9fe::1]/", 0, URL_GUARD_FORBIDDEN }, /* 6to4 of 169.254.169.254 */
	{ "https://[2001:db8::1]/", 0, URL_GUARD_FORBIDDEN },
	{ "https://[2001::1]/", 0, URL_GUARD_FORBIDDEN },           /* Teredo */
	{ "https://[100::1]/", 0, URL_GUARD_FORBIDDEN },
	/* a name that does not resolve (.invalid never does, and there is no network) */
	{ "https://no-such-host.invalid/", 0, URL_GUARD_RESOLVE },
};

START_TEST(test_table)
{
	struct url_guard_target t;
	char why[URL_GUARD_WHY_MAX];
	int rc;

	rc = url_guard_check(cases[_i].url, cases[_i].flags, &t, why);
	ck_assert_msg(rc == cases[_i].rc, "%s (flags %d): got %d, want %d (%s)", cases[_i].url,
	              cases[_i].flags, rc, cases[_i].rc, why);
	if (rc == URL_GUARD_OK) {
		ck_assert_str_eq(why, "");
		ck_assert(t.addr[0] != '\0');
		ck_assert(t.port >= 1 && t.port <= 65535);
		ck_assert(strncmp(t.url, "http", 4) == 0);
	} else {
		ck_assert_msg(strlen(why) > 10, "%s: no sentence", cases[_i].url);
	}
}
END_TEST

static int classify_text(const char *text)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;

	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
		v4.sin_family = AF_INET;
		return url_guard_classify((struct sockaddr *)&v4);
	}
	ck_assert_msg(inet_pton(AF_INET6, text, &v6.sin6_addr) == 1, "bad test address %s", text);
	v6.sin6_family = AF_INET6;
	return url_guard_classify((struct sockaddr *)&v6);
}

START_TEST(test_classify)
{
	static const struct {
		const char *addr;
		int cls;
	} addrs[] = {
		{ "8.8.8.8", URL_GUARD_PUBLIC },
		{ "9.255.255.255", URL_GUARD_PUBLIC },
		{ "10.0.0.0", URL_GUARD_PRIVATE },
		{ "10.255.255.255", URL_GUARD_PRIVATE },
		{ "11.0.0.0", URL_GUARD_PUBLIC },
		{ "127.0.0.1", URL_GUARD_LOOPBACK },
		{ "126.255.255.255", URL_GUARD_PUBLIC },
		{ "128.0.0.0", URL_GUARD_PUBLIC },
		{ "169.253.255.255", URL_GUARD_PUBLIC },
		{ "169.254.0.0", URL_GUARD_LINK_LOCAL },
		{ "169.255.0.0", URL_GUARD_PUBLIC },
		{ "100.63.255.255", URL_GUARD_PUBLIC },
		{ "100.64.0.0", URL_GUARD_CGNAT },
		{ "192.167.255.255", URL_GUARD_PUBLIC },
		{ "192.168.0.0", URL_GUARD_PRIVATE },
		{ "192.169.0.0", URL_GUARD_PUBLIC },
		{ "0.1.2.3", URL_GUARD_UNSPECIFIED },
		{ "223.255.255.255", URL_GUARD_PUBLIC },
		{ "224.0.0.0", URL_GUARD_MULTICAST },
		{ "239.255.255.255", URL_GUARD_MULTICAST },
		{ "240.0.0.0", URL_GUARD_RESERVED },
		{ "255.255.255.255", URL_GUARD_RESERVED },
		{ "198.17.255.255", URL_GUARD_PUBLIC },
		{ "198.19.255.255", URL_GUARD_RESERVED },
		{ "198.20.0.0", URL_GUARD_PUBLIC },
		{ "203.0.113.9", URL_GUARD_RESERVED },
		{ "198.51.100.9", URL_GUARD_RESERVED },
		{ "192.0.0.9", URL_GUARD_RESERVED },
		{ "192.88.99.1", URL_GUARD_RESERVED },
		{ "::1", URL_GUARD_LOOPBACK },
		{ "::", URL_GUARD_UNSPECIFIED },
		{ "::2", URL_GUARD_RESERVED },
		{ "::ffff:127.0.0.1", URL_GUARD_LOOPBACK },
		{ "::ffff:8.8.8.8", URL_GUARD_PUBLIC },
		{ "::ffff:100.64.1.1", URL_GUARD_CGNAT },
		{ "64:ff9b::808:808", URL_GUARD_PUBLIC },
		{ "64:ff9b::7f00:1", URL_GUARD_RESERVED },
		{ "64:ff9b::c0a8:1", URL_GUARD_PRIVATE },
		{ "64:ff9b:1::1", URL_GUARD_RESERVED },
		{ "2002:808:808::", URL_GUARD_PUBLIC },
		{ "2002:7f00:1::", URL_GUARD_RESERVED },
		{ "2002:a00:1::", URL_GUARD_PRIVATE },
		{ "2606:4700:4700::1111", URL_GUARD_PUBLIC },
		{ "3fff:ffff::1", URL_GUARD_PUBLIC },
		{ "4000::1", URL_GUARD_RESERVED },
		{ "1fff::1", URL_GUARD_RESERVED },
		{ "fbff::1", URL_GUARD_RESERVED },
		{ "fc00::", URL_GUARD_PRIVATE },
		{ "fdff:ffff::1", URL_GUARD_PRIVATE },
		{ "fe80::1", URL_GUARD_LINK_LOCAL },
		{ "febf:ffff::1", URL_GUARD_LINK_LOCAL },
		{ "fec0::1", URL_GUARD_PRIVATE },
		{ "ff00::", URL_GUARD_MULTICAST },
		{ "2001:db8:1::1", URL_GUARD_RESERVED },
		{ "2001:0:1::1", URL_GUARD_RESERVED },
		{ "2001:1::1", URL_GUARD_PUBLIC },
		{ "100::1", URL_GUARD_RESERVED },
	};
	struct sockaddr other;
	size_t i;

	for (i = 0; i < ARRAY_LEN(addrs); i++)
		ck_assert_msg(classify_text(addrs[i].addr) == addrs[i].cls, "%s: got %d, want %d",
		              addrs[i].addr, classify_text(addrs[i].addr), addrs[i].cls);
	memset(&other, 0, sizeof(other));
	other.sa_family = AF_UNIX;
	ck_assert_int_eq(url_guard_classify(&other), URL_GUARD_RESERVED);
	ck_assert_int_eq(url_guard_classify(NULL), URL_GUARD_RESERVED);
	ck_assert_str_eq(url_guard_class_name(URL_GUARD_PRIVATE), "a private address");
	ck_assert_str_eq(url_guard_class_name(99), "an unknown kind of address");
}
END_TEST

/* What the delivery gets: the normalised URL, the pinned address and the resolve entry. */
START_TEST(test_pinning)
{
	struct url_guard_target t;
	char why[URL_GUARD_WHY_MAX];

	ck_assert_int_eq(url_guard_check("http://LocalHost.:8080/hook?a=1", ALLOW, &t, why),
	                 URL_GUARD_OK);
	ck_assert_str_eq(t.host, "localhost");
	ck_assert_int_eq(t.port, 8080);
	ck_assert_str_eq(t.addr, "127.0.0.1");
	ck_assert_str_eq(t.resolve, "localhost:8080:127.0.0.1");
	ck_assert_str_eq(t.url, "http://localhost:8080/hook?a=1");

	ck_assert_int_eq(url_guard_check("http://0x7f000001/", ALLOW, &t, why), URL_GUARD_OK);
	ck_assert_str_eq(t.url, "http://127.0.0.1/");
	ck_assert_str_eq(t.host, "127.0.0.1");
	ck_assert_int_eq(t.port, 80);
	ck_assert_str_eq(t.addr, "127.0.0.1");
	ck_assert_str_eq(t.resolve, "");              /* a literal: curl does not resolve */

	ck_assert_int_eq(url_guard_check("http://[::1]:9/", ALLOW, &t, why), URL_GUARD_OK);
	ck_assert_str_eq(t.host, "::1");
	ck_assert_str_eq(t.addr, "::1");
	ck_assert_str_eq(t.resolve, "");

	ck_assert_int_eq(url_guard_check("https://1.1.1.1./", 0, &t, why), URL_GUARD_OK);
	ck_assert_str_eq(t.url, "https://1.1.1.1/");

	ck_assert_int_eq(url_guard_check("HTTPS://93.184.216.34/x", 0, &t, why), URL_GUARD_OK);
	ck_assert_str_eq(t.url, "https://93.184.216.34/x");
	ck_assert_int_eq(t.port, 443);

	/* A refusal leaves *out as it was. */
	memset(&t, 'x', sizeof(t));
	t.url[0] = '\0';
	ck_assert_int_eq(url_guard_check("https://10.0.0.1/", 0, &t, why), URL_GUARD_FORBIDDEN);
	ck_assert_str_eq(t.url, "");
	ck_assert_int_eq(t.host[0], 'x');
}
END_TEST

/* The sentences the API shows under field "url". */
START_TEST(test_sentences)
{
	struct url_guard_target t;
	char why[URL_GUARD_WHY_MAX];
	char longurl[URL_GUARD_URL_MAX + 16];

	ck_assert_int_eq(url_guard_check("https://10.0.0.5/", 0, &t, why), URL_GUARD_FORBIDDEN);
	ck_assert_str_eq(why, "the URL's address 10.0.0.5 is a private address: webhooks may "
	                 "only call public addresses");
	ck_assert_int_eq(url_guard_check("https://localhost/", 0, &t, why), URL_GUARD_FORBIDDEN);
	ck_assert_str_eq(why, "the host localhost resolves to 127.0.0.1, a loopback address: "
	                 "webhooks may only call public addresses");
	ck_assert_int_eq(url_guard_check("http://93.184.216.34/", 0, &t, why), URL_GUARD_SCHEME);
	ck_assert_str_eq(why, "the URL must start with https://");
	ck_assert_int_eq(url_guard_check("https://u:p@93.184.216.34/", 0, &t, why),
	                 URL_GUARD_USERINFO);
	ck_assert_str_eq(why, "the URL must not contain a user name or password (before an @)");
	ck_assert_int_eq(url_guard_check("https://93.184.216.34:0/", 0, &t, why), URL_GUARD_PORT);
	ck_assert_str_eq(why, "the URL's port must be from 1 to 65535");
	ck_assert_int_eq(url_guard_check("https://no-such-host.invalid/", 0, &t, why),
	                 URL_GUARD_RESOLVE);
	ck_assert_str_eq(why, "the host no-such-host.invalid does not resolve to an address");
	ck_assert_int_eq(url_guard_check(NULL, 0, &t, why), URL_GUARD_MALFORMED);
	ck_assert_str_eq(why, "the URL is empty");

	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "https://a.example/", 18);
	ck_assert_int_eq(url_guard_check(longurl, 0, &t, why), URL_GUARD_MALFORMED);
	ck_assert_str_eq(why, "the URL is longer than 2047 characters");
	/* A host name over 253 characters. */
	memset(longurl, 'a', 300);
	memcpy(longurl, "https://", 8);
	memcpy(longurl + 300, "/", 2);
	ck_assert_int_eq(url_guard_check(longurl, 0, &t, why), URL_GUARD_HOST);
	ck_assert_str_eq(why, "the URL's host name is longer than 253 characters");
}
END_TEST

static Suite *url_guard_suite(void)
{
	Suite *s = suite_create("url_guard");
	TCase *tc = tcase_create("ssrf");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_table, 0, (int)ARRAY_LEN(cases));
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_pinning);
	tcase_add_test(tc, test_sentences);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(url_guard_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
