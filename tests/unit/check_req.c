/* check_req.c: building a request from CGI parameters, and the query string. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "req.h"
#include "secret.h"
#include "store.h"

/* CGI parameters as NULL-terminated name, value pairs. */
static const char *param_from(void *ctx, const char *name)
{
	const char *const *kv = ctx;

	for (; kv && kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static struct req r;

static void setup(void)
{
	ck_assert_int_eq(secret_init(), 0);
	memset(&r, 0, sizeof(r));
}

static void teardown(void)
{
	req_clear(&r);
}

/* Initialises r from the pairs. */
static void init_kv(const char *const *kv)
{
	req_clear(&r);
	ck_assert_int_eq(req_init(&r, param_from, (void *)kv, NULL), 0);
}

static void init_query(const char *query)
{
	const char *kv[] = { "QUERY_STRING", query, NULL };
	init_kv(kv);
}

START_TEST(test_nothing_set)
{
	ck_assert_int_eq(req_init(&r, NULL, NULL, NULL), 0);
	ck_assert_int_eq(r.method, HTTP_OTHER);
	ck_assert_str_eq(r.path, "");
	ck_assert_str_eq(r.query, "");
	ck_assert_str_eq(r.content_type, "");
	ck_assert_str_eq(r.authorization, "");
	ck_assert_int_eq(r.content_length, -1);
	ck_assert(ids_is_uuid(r.request_id));
	ck_assert_ptr_null(r.body);

	const char *kv[] = { NULL };
	init_kv(kv);
	ck_assert_str_eq(r.path, "");
}
END_TEST

START_TEST(test_methods)
{
	ck_assert_int_eq(req_method_parse("GET"), HTTP_GET);
	ck_assert_int_eq(req_method_parse("HEAD"), HTTP_HEAD);
	ck_assert_int_eq(req_method_parse("DELETE"), HTTP_DELETE);
	ck_assert_int_eq(req_method_parse("PATCH"), HTTP_PATCH);
	ck_assert_int_eq(req_method_parse("get"), HTTP_OTHER);
	ck_assert_int_eq(req_method_parse(""), HTTP_OTHER);
	ck_assert_int_eq(req_method_parse(NULL), HTTP_OTHER);
	ck_assert_int_eq(req_method_parse("GETX"), HTTP_OTHER);
	ck_assert_str_eq(req_method_name(HTTP_PATCH), "PATCH");
	ck_assert_str_eq(req_method_name((enum http_method)99), "OTHER");

	/* A huge method name is kept short. */
	char big[1000];
	memset(big, 'X', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *kv[] = { "REQUEST_METHOD", big, NULL };
	init_kv(kv);
	ck_assert_int_eq(r.method, HTTP_OTHER);
	ck_assert_uint_le(strlen(r.method_name), 16);
}
END_TEST

START_TEST(test_path_sources)
{
	const char *nginx[] = { "DOCUMENT_URI", "/api/v1/devices", "SCRIPT_NAME",
	                        "/api/v1/devices/index.php", "REQUEST_URI", "/x?y", NULL };
	init_kv(nginx);
	ck_assert_str_eq(r.path, "/api/v1/devices");

	const char *cgi[] = { "SCRIPT_NAME", "/api", "PATH_INFO", "/v1/devices", NULL };
	init_kv(cgi);
	ck_assert_str_eq(r.path, "/api/v1/devices");

	const char *info_only[] = { "PATH_INFO", "/api/v1/healthz", NULL };
	init_kv(info_only);
	ck_assert_str_eq(r.path, "/api/v1/healthz");

	const char *uri[] = { "REQUEST_URI", "/api/v1/a%20b%2Fc?limit=5#frag", NULL };
	init_kv(uri);
	ck_assert_str_eq(r.path, "/api/v1/a b/c");

	/* %00 and malformed escapes: kept raw, so they match no route. */
	const char *nul[] = { "REQUEST_URI", "/api/v1/devices%00/x", NULL };
	init_kv(nul);
	ck_assert_str_eq(r.path, "/api/v1/devices%00/x");
	const char *bad[] = { "REQUEST_URI", "/api/%zz", NULL };
	init_kv(bad);
	ck_assert_str_eq(r.path, "/api/%zz");
	const char *trunc[] = { "REQUEST_URI", "/api/%4", NULL };
	init_kv(trunc);
	ck_assert_str_eq(r.path, "/api/%4");
}
END_TEST

START_TEST(test_content_length)
{
	static const struct {
		const char *text;
		long want;
	} cases[] = {
		{ "12", 12 }, { "0", 0 }, { "", -1 }, { "abc", -1 }, { "-1", -1 }, { "12a", -1 },
		{ " 12", -1 }, { "99999999999999999999999", LONG_MAX }, { "2147483647", 2147483647L },
		{ "65537", 65537 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *kv[] = { "CONTENT_LENGTH", cases[i].text, NULL };
		init_kv(kv);
		ck_assert_msg(r.content_length == cases[i].want, "CONTENT_LENGTH=%s gave %ld",
		              cases[i].text, r.content_length);
	}
}
END_TEST

START_TEST(test_request_id)
{
	const char *ok[] = { "HTTP_X_REQUEST_ID", "abc-123_x.y:z", NULL };
	init_kv(ok);
	ck_assert_str_eq(r.request_id, "abc-123_x.y:z");

	const char *bad[] = { "HTTP_X_REQUEST_ID", "a b\r\nSet-Cookie: x", NULL };
	init_kv(bad);
	ck_assert(ids_is_uuid(r.request_id));

	char longid[66];
	memset(longid, 'a', 65);
	longid[65] = '\0';
	const char *too_long[] = { "HTTP_X_REQUEST_ID", longid, NULL };
	init_kv(too_long);
	ck_assert(ids_is_uuid(r.request_id));
}
END_TEST

/* Where the caller reached us, for links: scheme and Host as sent, or nothing. */
START_TEST(test_origin)
{
	static const struct {
		const char *scheme, *https, *host, *want, *port;
	} cases[] = {
		{ "https", NULL, "Kaiden.Example.com", "https://kaiden.example.com", NULL },
		/* nginx passes the Host without its port: SERVER_PORT fills it in, unless it is
		 * the scheme's own. */
		{ "http", NULL, "127.0.0.1", "http://127.0.0.1:8080", "8080" },
		{ "https", NULL, "h.example", "https://h.example", "443" },
		{ "http", NULL, "h.example", "http://h.example", "80" },
		{ "https", NULL, "h.example", "https://h.example:80", "80" },
		{ "https", NULL, "[::1]", "https://[::1]:8443", "8443" },
		{ "https", NULL, "h.example:9000", "https://h.example:9000", "8443" },
		{ "https", NULL, "h.example", "https://h.example", "x1" },
		{ "https", NULL, "h.example", "https://h.example", "123456" },
		{ "http", NULL, "127.0.0.1:8080", "http://127.0.0.1:8080", NULL },
		{ NULL, "on", "h.example:443", "https://h.example:443", NULL },
		{ "https", NULL, "[::1]:8443", "https://[::1]:8443", NULL },
		{ "http", NULL, "[::1]", "http://[::1]", NULL },
		{ NULL, NULL, "h.example", "", NULL },          /* no scheme */
		{ "ftp", NULL, "h.example", "", NULL },
		{ "https", NULL, NULL, "", NULL },              /* no Host */
		{ "https", NULL, "", "", NULL },
		{ "https", NULL, "h.example:", "", NULL },
		{ "https", NULL, "h.example:123456", "", NULL },
		{ "https", NULL, "h.example:80x", "", NULL },
		{ "https", NULL, "h example", "", NULL },
		{ "https", NULL, "h.example/path", "", NULL },
		{ "https", NULL, "-o.example", "", NULL },
		{ "https", NULL, "h'.example", "", NULL },
		{ "https", NULL, "user@h.example", "", NULL },
		{ "https", NULL, "[::1", "", NULL },
		{ "https", NULL, "[::1]x", "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *kv[] = { "REQUEST_SCHEME", cases[i].scheme, "HTTPS", cases[i].https,
			             "HTTP_HOST", cases[i].host, "SERVER_PORT", cases[i].port, NULL };
		/* Unset parameters are left out of the list. */
		const char *set[9];
		int n = 0;
		for (int k = 0; k < 8; k += 2)
			if (kv[k + 1]) {
				set[n++] = kv[k];
				set[n++] = kv[k + 1];
			}
		set[n] = NULL;
		init_kv(set);
		ck_assert_msg(strcmp(r.origin, cases[i].want) == 0, "case %zu: origin '%s', want '%s'",
		              i, r.origin, cases[i].want);
	}
}
END_TEST

START_TEST(test_query_basic)
{
	char out[64];
	int too_long = -1;

	init_query("a=1&b=two&c&d=&e=x%20y+z&a=second");
	ck_assert_str_eq(req_query(&r, "a", out, sizeof(out), &too_long), "1");
	ck_assert_int_eq(too_long, 0);
	ck_assert_str_eq(req_query(&r, "b", out, sizeof(out), NULL), "two");
	ck_assert_str_eq(req_query(&r, "c", out, sizeof(out), NULL), "");
	ck_assert_str_eq(req_query(&r, "d", out, sizeof(out), NULL), "");
	ck_assert_str_eq(req_query(&r, "e", out, sizeof(out), NULL), "x y z");
	ck_assert_ptr_null(req_query(&r, "f", out, sizeof(out), NULL));
	ck_assert_ptr_null(req_query(&r, "", out, sizeof(out), NULL));
	ck_assert_ptr_null(req_query(&r, "a", out, 0, NULL));
}
END_TEST

START_TEST(test_query_edges)
{
	char out[8];
	int too_long = 0;

	init_query("");
	ck_assert_ptr_null(req_query(&r, "a", out, sizeof(out), NULL));
	init_query("&&&=x&=&a");
	ck_assert_str_eq(req_query(&r, "a", out, sizeof(out), NULL), "");
	/* The name may be escaped too. */
	init_query("%6cimit=5");
	ck_assert_str_eq(req_query(&r, "limit", out, sizeof(out), NULL), "5");
	/* %00 and malformed escapes stay literal; the result is always a C string. */
	init_query("q=a%00b&r=%zz&s=%4&t=%");
	ck_assert_str_eq(req_query(&r, "q", out, sizeof(out), NULL), "a%00b");
	ck_assert_str_eq(req_query(&r, "r", out, sizeof(out), NULL), "%zz");
	ck_assert_str_eq(req_query(&r, "s", out, sizeof(out), NULL), "%4");
	ck_assert_str_eq(req_query(&r, "t", out, sizeof(out), NULL), "%");
	/* Truncation is reported. */
	init_query("q=0123456789");
	ck_assert_str_eq(req_query(&r, "q", out, sizeof(out), &too_long), "0123456");
	ck_assert_int_eq(too_long, 1);
	init_query("q=0123456");
	ck_assert_str_eq(req_query(&r, "q", out, sizeof(out), &too_long), "0123456");
	ck_assert_int_eq(too_long, 0);
	/* Escaped '&' and '=' are data, not separators. */
	init_query("q=a%26b%3Dc");
	ck_assert_str_eq(req_query(&r, "q", out, sizeof(out), NULL), "a&b=c");
}
END_TEST

START_TEST(test_query_huge)
{
	size_t n = 200000;
	char *q = malloc(n + 16), out[32];
	ck_assert_ptr_nonnull(q);
	memcpy(q, "x=", 2);
	memset(q + 2, 'a', n);
	strcpy(q + 2 + n, "&limit=7");
	init_query(q);
	free(q);
	int too_long = 0;
	ck_assert_str_eq(req_query(&r, "limit", out, sizeof(out), NULL), "7");
	ck_assert_ptr_nonnull(req_query(&r, "x", out, sizeof(out), &too_long));
	ck_assert_int_eq(too_long, 1);
	long limit = 0;
	ck_assert_int_eq(req_query_long(&r, "x", 1, 200, &limit), -1);

	/* A huge parameter name never matches and never overflows. */
	char *name = malloc(5000);
	ck_assert_ptr_nonnull(name);
	memset(name, '%', 4998);
	name[4998] = '=';
	name[4999] = '\0';
	init_query(name);
	free(name);
	ck_assert_ptr_null(req_query(&r, "limit", out, sizeof(out), NULL));
}
END_TEST

START_TEST(test_query_long)
{
	long v = -5;

	init_query("a=7&b=007&c=1e3&d=+5&e=-1&f=201&g=200&h=&i=99999999999999999999&j=0");
	ck_assert_int_eq(req_query_long(&r, "a", 1, 200, &v), 1);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(req_query_long(&r, "b", 1, 200, &v), 1);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(req_query_long(&r, "c", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "d", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "e", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "f", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "g", 1, 200, &v), 1);
	ck_assert_int_eq(v, 200);
	ck_assert_int_eq(req_query_long(&r, "h", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "i", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "j", 1, 200, &v), -1);
	ck_assert_int_eq(req_query_long(&r, "absent", 1, 200, &v), 0);
	ck_assert_int_eq(v, 200); /* untouched when absent or bad */
}
END_TEST

START_TEST(test_query_typed)
{
	char id[UUID_STR_LEN], text[8];
	const char *choice = NULL;
	static const char *const choices[] = { "online", "offline", NULL };

	init_query("id=0190A0B0-C0D0-7E0F-8000-000000000001&bad=0190a0b0&s=online&t=ONLINE");
	ck_assert_int_eq(req_query_uuid(&r, "id", id), 1);
	ck_assert_str_eq(id, "0190a0b0-c0d0-7e0f-8000-000000000001");
	ck_assert_int_eq(req_query_uuid(&r, "bad", id), -1);
	ck_assert_int_eq(req_query_uuid(&r, "none", id), 0);
	ck_assert_int_eq(req_query_enum(&r, "s", choices, &choice), 1);
	ck_assert_str_eq(choice, "online");
	ck_assert_int_eq(req_query_enum(&r, "t", choices, &choice), -1);
	ck_assert_int_eq(req_query_enum(&r, "none", choices, &choice), 0);

	init_query("a=caf%C3%A9&b=%C3%28&c=%01&d=1234567&e=12345678&f=&g=%ED%A0%80");
	ck_assert_int_eq(req_query_text(&r, "a", text, sizeof(text)), 1);
	ck_assert_str_eq(text, "caf\xc3\xa9");
	ck_assert_int_eq(req_query_text(&r, "b", text, sizeof(text)), -1); /* bad UTF-8 */
	ck_assert_int_eq(req_query_text(&r, "c", text, sizeof(text)), -1); /* control */
	ck_assert_int_eq(req_query_text(&r, "d", text, sizeof(text)), 1);
	ck_assert_int_eq(req_query_text(&r, "e", text, sizeof(text)), -1); /* too long */
	ck_assert_int_eq(req_query_text(&r, "f", text, sizeof(text)), 0);  /* empty */
	ck_assert_int_eq(req_query_text(&r, "g", text, sizeof(text)), -1); /* surrogate */

	{
		char t[TIMESTAMP_LEN];
		init_query("a=2026-11-01T12:00:00%2B02:00&b=2026-11-01&c=&d=2026-02-30T00:00:00Z");
		ck_assert_int_eq(req_query_time(&r, "a", t), 1);
		ck_assert_str_eq(t, "2026-11-01T10:00:00.000Z");
		ck_assert_int_eq(req_query_time(&r, "b", t), -1); /* a date alone */
		ck_assert_int_eq(req_query_time(&r, "c", t), 0);
		ck_assert_int_eq(req_query_time(&r, "none", t), 0);
		ck_assert_int_eq(req_query_time(&r, "d", t), -1);
	}
}
END_TEST

START_TEST(test_query_period)
{
	char since_buf[TIMESTAMP_LEN], until_buf[TIMESTAMP_LEN];
	const char *since = "x", *until = "x", *bad = NULL, *why = NULL;

	init_query("");
	ck_assert_int_eq(req_query_period(&r, since_buf, until_buf, &since, &until, &bad, &why), 0);
	ck_assert_ptr_null(since);
	ck_assert_ptr_null(until);

	init_query("since=2026-11-01T00:00:00Z&until=2026-12-01T01:00:00%2B01:00");
	ck_assert_int_eq(req_query_period(&r, since_buf, until_buf, &since, &until, &bad, &why), 0);
	ck_assert_str_eq(since, "2026-11-01T00:00:00.000Z");
	ck_assert_str_eq(until, "2026-12-01T00:00:00.000Z");

	init_query("since=yesterday");
	ck_assert_int_eq(req_query_period(&r, since_buf, until_buf, &since, &until, &bad, &why), -1);
	ck_assert_str_eq(bad, "since");
	ck_assert_ptr_nonnull(strstr(why, "RFC 3339"));

	init_query("since=2026-11-01T00:00:00Z&until=2026-13-01T00:00:00Z");
	ck_assert_int_eq(req_query_period(&r, since_buf, until_buf, &since, &until, &bad, &why), -1);
	ck_assert_str_eq(bad, "until");
}
END_TEST

START_TEST(test_page)
{
	struct store_page page;
	char cursor[UUID_STR_LEN];
	const char *bad = NULL;

	init_query("");
	ck_assert_int_eq(req_page(&r, &page, cursor, &bad), 0);
	ck_assert_int_eq(page.limit, 50);
	ck_assert_ptr_null(page.cursor);

	init_query("limit=200&cursor=0190A0B0-C0D0-7E0F-8000-000000000001");
	ck_assert_int_eq(req_page(&r, &page, cursor, &bad), 0);
	ck_assert_int_eq(page.limit, 200);
	ck_assert_str_eq(page.cursor, "0190a0b0-c0d0-7e0f-8000-000000000001");

	init_query("limit=0");
	ck_assert_int_eq(req_page(&r, &page, cursor, &bad), -1);
	ck_assert_str_eq(bad, "limit");
	init_query("cursor=x");
	ck_assert_int_eq(req_page(&r, &page, cursor, &bad), -1);
	ck_assert_str_eq(bad, "cursor");
}
END_TEST

START_TEST(test_text_valid)
{
	ck_assert_int_eq(req_text_valid(""), 1);
	ck_assert_int_eq(req_text_valid("plain ascii ~"), 1);
	ck_assert_int_eq(req_text_valid("\xe2\x82\xac \xf0\x9f\x98\x80"), 1);
	ck_assert_int_eq(req_text_valid("tab\t"), 0);
	ck_assert_int_eq(req_text_valid("del\x7f"), 0);
	ck_assert_int_eq(req_text_valid("\xc0\xaf"), 0);         /* overlong '/' */
	ck_assert_int_eq(req_text_valid("\xe0\x80\xaf"), 0);     /* overlong */
	ck_assert_int_eq(req_text_valid("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
	ck_assert_int_eq(req_text_valid("\xc2\x85"), 0);         /* C1 control */
	ck_assert_int_eq(req_text_valid("\xe2\x82"), 0);         /* cut short */
	ck_assert_int_eq(req_text_valid("\x80"), 0);
	ck_assert_int_eq(req_text_valid("\xed\xa0\x80"), 0);     /* a surrogate */
	ck_assert_int_eq(req_text_valid("\xef\xbf\xbd"), 1);     /* U+FFFD */
}
END_TEST

START_TEST(test_body_and_keep)
{
	char *body = strdup("{}");
	init_query("");
	req_take_body(&r, body, 2);
	ck_assert_uint_eq(r.body_len, 2);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(req_keep(&r, strdup("x")), 0);
	ck_assert_int_eq(req_keep(&r, strdup("overflow")), -1); /* freed, not leaked */
}
END_TEST

static Suite *req_suite(void)
{
	Suite *s = suite_create("req");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nothing_set);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_path_sources);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_origin);
	tcase_add_test(tc, test_query_basic);
	tcase_add_test(tc, test_query_edges);
	tcase_add_test(tc, test_query_huge);
	tcase_add_test(tc, test_query_long);
	tcase_add_test(tc, test_query_typed);
	tcase_add_test(tc, test_query_period);
	tcase_add_test(tc, test_page);
	tcase_add_test(tc, test_text_valid);
	tcase_add_test(tc, test_body_and_keep);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(req_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
