/* check_resp.c: error bodies and the CGI form of a reply. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "resp.h"
#include "store.h"

static struct resp rs;
static struct buf out;

static void setup(void)
{
	resp_init(&rs);
	buf_init(&out, 1 << 20);
}

static void teardown(void)
{
	resp_clear(&rs);
	buf_clear(&out);
}

/* The serialized reply split at the blank line. */
static const char *body_of(const char *reply)
{
	const char *p = strstr(reply, "\r\n\r\n");
	ck_assert_ptr_nonnull(p);
	return p + 4;
}

START_TEST(test_error_body)
{
	json_object *err;

	resp_error(&rs, 400, "invalid_field", "name", "name: must be %d to %d long", 1, 128);
	ck_assert_int_eq(rs.status, 400);
	ck_assert(json_object_object_get_ex(rs.body, "error", &err));
	ck_assert_str_eq(jsonx_str(err, "code"), "invalid_field");
	ck_assert_str_eq(jsonx_str(err, "field"), "name");
	ck_assert_str_eq(jsonx_str(err, "message"), "name: must be 1 to 128 long");
	ck_assert_int_eq(json_object_object_length(rs.body), 1);

	resp_error(&rs, 404, "not_found", NULL, "no such path");
	ck_assert(json_object_object_get_ex(rs.body, "error", &err));
	ck_assert(!json_object_object_get_ex(err, "field", NULL));
	resp_error(&rs, 404, "not_found", "", "no such path");
	ck_assert(json_object_object_get_ex(rs.body, "error", &err));
	ck_assert(!json_object_object_get_ex(err, "field", NULL));
	ck_assert_ptr_null(rs.headers.data);
}
END_TEST

START_TEST(test_unauthorized_header)
{
	resp_error(&rs, 401, "unauthorized", NULL, "no token");
	ck_assert_ptr_nonnull(strstr(rs.headers.data, "WWW-Authenticate: Bearer\r\n"));
}
END_TEST

START_TEST(test_serialize_json)
{
	json_object *o = json_object_new_object();
	jsonx_add_str(o, "url", "https://x/y");
	resp_json(&rs, 201, o);
	resp_header(&rs, "Location", "/api/v1/devices/1");
	ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
	ck_assert_str_eq(out.data, "Status: 201 Created\r\n"
	                           "Content-Type: application/json\r\n"
	                           "Content-Length: 21\r\n"
	                           "Cache-Control: no-store\r\n"
	                           "Location: /api/v1/devices/1\r\n"
	                           "\r\n"
	                           "{\"url\":\"https://x/y\"}");
	ck_assert_uint_eq(strlen(body_of(out.data)), 21);
}
END_TEST

/* A list given as text replies with the bytes the same list as objects gives: with a
 * next cursor and without, empty and not; and an error after it drops the text. */
START_TEST(test_list_text_matches_objects)
{
	static const char *const items[] = {
		"[]", "[{\"id\":\"a\",\"n\":null,\"x\":[1,{\"k\":\"v/\xc3\xa9\"}],\"b\":true}]",
	};
	struct buf json_wire;

	buf_init(&json_wire, 1 << 20);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		for (int more = 0; more < 2; more++) {
			struct store_list objects, text;
			struct jsonx_error e;

			memset(&objects, 0, sizeof(objects));
			memset(&text, 0, sizeof(text));
			ck_assert_int_eq(jsonx_parse(items[i], strlen(items[i]), &objects.items, &e), 0);
			buf_init(&text.text, 1 << 20);
			ck_assert_int_eq(buf_puts(&text.text, items[i]), 0);
			objects.has_more = text.has_more = more;
			if (more) {
				strcpy(objects.next_cursor, "0190a2c4-0000-7000-8000-000000000001");
				strcpy(text.next_cursor, objects.next_cursor);
			}
			resp_clear(&rs);
			resp_init(&rs);
			resp_list(&rs, &objects);
			buf_reset(&json_wire);
			ck_assert_int_eq(resp_serialize(&rs, 0, &json_wire), 0);
			resp_clear(&rs);
			resp_init(&rs);
			resp_list(&rs, &text);
			ck_assert_ptr_null(text.text.data); /* moved into the reply */
			ck_assert_ptr_null(rs.body);
			buf_reset(&out);
			ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
			ck_assert_str_eq(out.data, json_wire.data);
		}
	}
	ck_assert_str_eq(body_of(out.data),
	                 "{\"items\":[{\"id\":\"a\",\"n\":null,\"x\":[1,{\"k\":\"v/\xc3\xa9\"}],"
	                 "\"b\":true}],\"next_cursor\":\"0190a2c4-0000-7000-8000-000000000001\"}");
	/* HEAD: headers only, the length still the body's. */
	buf_reset(&out);
	ck_assert_int_eq(resp_serialize(&rs, 1, &out), 0);
	ck_assert_str_eq(body_of(out.data), "");
	{
		char length[64];
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
		         strlen("{\"items\":[{\"id\":\"a\",\"n\":null,\"x\":[1,{\"k\":\"v/\xc3\xa9\"}],"
		                "\"b\":true}],\"next_cursor\":\"0190a2c4-0000-7000-8000-000000000001\"}"));
		ck_assert_ptr_nonnull(strstr(out.data, length));
	}
	/* An error set afterwards replaces the text. */
	resp_error(&rs, 503, "unavailable", NULL, "busy");
	buf_reset(&out);
	ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
	ck_assert_str_eq(body_of(out.data),
	                 "{\"error\":{\"code\":\"unavailable\",\"message\":\"busy\"}}");
	buf_clear(&json_wire);
}
END_TEST

START_TEST(test_serialize_head)
{
	json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "ok");
	resp_json(&rs, 200, o);
	ck_assert_int_eq(resp_serialize(&rs, 1, &out), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Length: 15\r\n"));
	ck_assert_str_eq(body_of(out.data), "");
}
END_TEST

/* resp_head: the head alone, and the body handed out where rs keeps it (a text body is
 * not copied); a HEAD request or a 204 has none. */
START_TEST(test_head_and_body)
{
	struct buf text;
	const char *body = "x";
	size_t len = 1;

	buf_init(&text, 1 << 20);
	ck_assert_int_eq(buf_puts(&text, "{\"items\":[]}"), 0);
	resp_text(&rs, 200, &text);
	ck_assert_int_eq(resp_head(&rs, 0, &out, &body, &len), 0);
	ck_assert_str_eq(out.data, "Status: 200 OK\r\n"
	                           "Content-Type: application/json\r\n"
	                           "Content-Length: 12\r\n"
	                           "Cache-Control: no-store\r\n"
	                           "\r\n");
	ck_assert_ptr_eq(body, rs.text.data);
	ck_assert_uint_eq(len, 12);

	buf_reset(&out);
	ck_assert_int_eq(resp_head(&rs, 1, &out, &body, &len), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Length: 12\r\n"));
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(len, 0);

	buf_reset(&out);
	body = "x";
	len = 1;
	resp_json(&rs, 204, json_object_new_object());
	ck_assert_int_eq(resp_head(&rs, 0, &out, &body, &len), 0);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_serialize_no_content)
{
	resp_json(&rs, 204, NULL);
	ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
	ck_assert_str_eq(out.data, "Status: 204 No Content\r\nCache-Control: no-store\r\n\r\n");

	/* A body given with 204 is not sent. */
	buf_reset(&out);
	resp_json(&rs, 204, json_object_new_object());
	ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
	ck_assert_str_eq(body_of(out.data), "");
}
END_TEST

START_TEST(test_serialize_unset_status)
{
	ck_assert_int_eq(resp_serialize(&rs, 0, &out), 0);
	ck_assert(strncmp(out.data, "Status: 500 Internal Server Error\r\n", 35) == 0);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Length: 0\r\n"));
}
END_TEST

START_TEST(test_header_injection)
{
	resp_header(&rs, "X-Test", "a\r\nSet-Cookie: evil=1");
	resp_header(&rs, "X-Bad\r\nName", "v");
	resp_header(&rs, "X:Colon", "v");
	resp_header(&rs, NULL, "v");
	resp_header(&rs, "X-Null", NULL);
	ck_assert_ptr_null(rs.headers.data);
	resp_header(&rs, "X-Good", "v");
	ck_assert_str_eq(rs.headers.data, "X-Good: v\r\n");
}
END_TEST

START_TEST(test_serialize_cap)
{
	struct buf small;
	json_object *o = json_object_new_object();
	jsonx_add_str(o, "k", "a long enough value");
	resp_json(&rs, 200, o);
	buf_init(&small, 32);
	ck_assert_int_eq(resp_serialize(&rs, 0, &small), -1);
	buf_clear(&small);
}
END_TEST

START_TEST(test_jsonx_error)
{
	struct jsonx_error e;
	json_object *err;

	memset(&e, 0, sizeof(e));
	strcpy(e.code, "unknown_field");
	strcpy(e.field, "extra");
	strcpy(e.message, "extra: this field is not accepted here");
	resp_jsonx_error(&rs, &e);
	ck_assert_int_eq(rs.status, 400);
	ck_assert(json_object_object_get_ex(rs.body, "error", &err));
	ck_assert_str_eq(jsonx_str(err, "code"), "unknown_field");
	ck_assert_str_eq(jsonx_str(err, "field"), "extra");
}
END_TEST

START_TEST(test_reasons)
{
	ck_assert_str_eq(resp_reason(413), "Content Too Large");
	ck_assert_str_eq(resp_reason(415), "Unsupported Media Type");
	ck_assert_str_eq(resp_reason(422), "Unprocessable Content");
	ck_assert_str_eq(resp_reason(503), "Service Unavailable");
	ck_assert_str_eq(resp_reason(799), "Unknown");
}
END_TEST

static Suite *resp_suite(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_error_body);
	tcase_add_test(tc, test_unauthorized_header);
	tcase_add_test(tc, test_serialize_json);
	tcase_add_test(tc, test_serialize_head);
	tcase_add_test(tc, test_list_text_matches_objects);
	tcase_add_test(tc, test_head_and_body);
	tcase_add_test(tc, test_serialize_no_content);
	tcase_add_test(tc, test_serialize_unset_status);
	tcase_add_test(tc, test_header_injection);
	tcase_add_test(tc, test_serialize_cap);
	tcase_add_test(tc, test_jsonx_error);
	tcase_add_test(tc, test_reasons);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
