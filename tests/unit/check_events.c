/* check_events.c: the browser event stream's pure parts (helperd/events_json.h): the
 * events' JSON and the Origin check (cross-site WebSocket hijacking). */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "events_json.h"

static const struct {
	const char *origin, *host;
	int want;
} origins[] = {
	{ "http://127.0.0.1:8080", "127.0.0.1:8080", 1 },
	{ "http://127.0.0.1:8080", "127.0.0.1:8081", 0 },        /* another port */
	{ "http://127.0.0.1:8080", "127.0.0.1", 0 },             /* port 80 vs 8080 */
	{ "https://support.example.com", "support.example.com", 1 },
	{ "https://support.example.com", "support.example.com:443", 1 },
	{ "https://support.example.com:443", "support.example.com", 1 },
	{ "http://support.example.com", "support.example.com:80", 1 },
	{ "http://support.example.com:80", "support.example.com", 1 },
	{ "https://support.example.com", "support.example.com:80", 0 },
	{ "HTTPS://Support.Example.COM", "support.example.com", 1 },/* case */
	{ "https://evil.example", "support.example.com", 0 },
	{ "https://support.example.com.evil.example", "support.example.com", 0 },
	{ "https://evil-support.example.com", "support.example.com", 0 },
	{ "https://acme.support.example.com", "support.example.com", 0 }, /* a subdomain */
	{ "null", "support.example.com", 0 },                   /* sandboxed frame, file: */
	{ "", "support.example.com", 0 },
	{ "ws://support.example.com", "support.example.com", 0 },
	{ "file://support.example.com", "support.example.com", 0 },
	{ "https://support.example.com/", "support.example.com", 0 }, /* a path */
	{ "https://user@support.example.com", "support.example.com", 0 },
	{ "https://support.example.com:", "support.example.com", 0 },
	{ "https://support.example.com:4x3", "support.example.com", 0 },
	{ "https://support.example.com:0443", "support.example.com", 1 }, /* leading zero */
	{ "https://support.example.com:123456", "support.example.com", 0 },
	{ "https://support.example.com ", "support.example.com", 0 },
	{ "https://support.example.com\r\nX: y", "support.example.com", 0 },
	{ "http://[::1]:8080", "[::1]:8080", 1 },
	{ "http://[::1]", "[::1]:80", 1 },
	{ "http://[::1]:8080", "[::1]:8081", 0 },
	{ "http://[::1:8080", "[::1]:8080", 0 },
	{ "https://support.example.com", "", 0 },
	{ "https://support.example.com", ":443", 0 },
};

START_TEST(test_origin)
{
	ck_assert_msg(events_origin_ok(origins[_i].origin, origins[_i].host) == origins[_i].want,
	              "origin '%s' host '%s': want %d", origins[_i].origin, origins[_i].host,
	              origins[_i].want);
}
END_TEST

START_TEST(test_origin_null)
{
	ck_assert_int_eq(events_origin_ok(NULL, "a.example"), 0);
	ck_assert_int_eq(events_origin_ok("https://a.example", NULL), 0);
}
END_TEST

static json_object *parse(char *text)
{
	json_object *o;

	ck_assert_ptr_nonnull(text);
	o = json_tokener_parse(text);
	ck_assert_ptr_nonnull(o);
	free(text);
	return o;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int is_null(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v == NULL;
}

START_TEST(test_device_json)
{
	struct events_facts facts = { "pc-1", "Debian 12", "0.1.0" };
	json_object *o = parse(events_device_json("01a2-dev", 1, 1764672000123LL, &facts));

	ck_assert_str_eq(str(o, "type"), "device");
	ck_assert_str_eq(str(o, "id"), "01a2-dev");
	ck_assert_str_eq(str(o, "status"), "online");
	ck_assert_str_eq(str(o, "last_seen"), "2025-12-02T10:40:00.123Z");
	ck_assert_str_eq(str(o, "hostname"), "pc-1");
	ck_assert_str_eq(str(o, "os"), "Debian 12");
	ck_assert_str_eq(str(o, "agent_version"), "0.1.0");
	json_object_put(o);

	o = parse(events_device_json("01a2-dev", 0, 0, NULL));
	ck_assert_str_eq(str(o, "status"), "offline");
	ck_assert(is_null(o, "last_seen"));
	ck_assert(!json_object_object_get_ex(o, "os", NULL));
	ck_assert_int_eq(json_object_object_length(o), 4);
	json_object_put(o);
}
END_TEST

START_TEST(test_device_json_escapes)
{
	struct events_facts facts = { "a\"b</script>\n", NULL, NULL };
	json_object *o = parse(events_device_json("x", 1, 1, &facts));

	/* What the agent said comes back as it was, as JSON text, never markup. */
	ck_assert_str_eq(str(o, "hostname"), "a\"b</script>\n");
	ck_assert(!json_object_object_get_ex(o, "os", NULL));
	json_object_put(o);
}
END_TEST

START_TEST(test_session_json)
{
	json_object *o = parse(events_session_json("s1", "d1", "pending", "agent"));

	ck_assert_str_eq(str(o, "type"), "session");
	ck_assert_str_eq(str(o, "id"), "s1");
	ck_assert_str_eq(str(o, "device_id"), "d1");
	ck_assert_str_eq(str(o, "status"), "pending");
	ck_assert_str_eq(str(o, "step"), "agent");
	json_object_put(o);

	o = parse(events_session_json("s1", "", "ended", NULL));
	ck_assert(is_null(o, "device_id"));
	ck_assert(is_null(o, "step"));
	json_object_put(o);
}
END_TEST

START_TEST(test_node_json)
{
	json_object *o = parse(events_node_json("d1", "worker-1", "NotReady", 1, NULL)), *v;

	ck_assert_str_eq(str(o, "type"), "node");
	ck_assert_str_eq(str(o, "id"), "d1");
	ck_assert_str_eq(str(o, "node_name"), "worker-1");
	ck_assert_str_eq(str(o, "node_status"), "NotReady");
	ck_assert(json_object_object_get_ex(o, "unschedulable", &v) &&
	          json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
	ck_assert(is_null(o, "node_reason"));
	json_object_put(o);

	/* A failed reading: the reason, and no status (the last good one stays). */
	o = parse(events_node_json("d1", "worker-1", NULL, 0, "403 Forbidden: \"x\"\n"));
	ck_assert_str_eq(str(o, "node_reason"), "403 Forbidden: \"x\"\n");
	ck_assert(!json_object_object_get_ex(o, "node_status", NULL));
	ck_assert(!json_object_object_get_ex(o, "unschedulable", NULL));
	json_object_put(o);
}
END_TEST

START_TEST(test_service_json)
{
	json_object *o = parse(events_service_json("s1", "deploying", "pod p-0: the image "
	                                           "cannot be pulled \"x\"", 0, 1, 0)), *v;
	static const char *const keys[] = { "type", "id", "status", "error", "pods_ready",
		                             "pods_total", "revision" };

	ck_assert_str_eq(str(o, "type"), "service");
	ck_assert_str_eq(str(o, "id"), "s1");
	ck_assert_str_eq(str(o, "status"), "deploying");
	ck_assert_str_eq(str(o, "error"), "pod p-0: the image cannot be pulled \"x\"");
	ck_assert(json_object_object_get_ex(o, "pods_total", &v) &&
	          json_object_is_type(v, json_type_int) && json_object_get_int(v) == 1);
	ck_assert(json_object_object_get_ex(o, "pods_ready", &v) && json_object_get_int(v) == 0);
	ck_assert(json_object_object_get_ex(o, "revision", &v) && json_object_get_int(v) == 0);
	/* Exactly these members: small, and never the values. */
	ck_assert_int_eq(json_object_object_length(o), (int)(sizeof(keys) / sizeof(keys[0])));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert(json_object_object_get_ex(o, keys[i], NULL));
	json_object_put(o);

	/* Running: no error (null, not ""). */
	o = parse(events_service_json("s1", "running", "", 2, 2, 3));
	ck_assert(is_null(o, "error"));
	ck_assert(json_object_object_get_ex(o, "revision", &v) && json_object_get_int(v) == 3);
	json_object_put(o);
	o = parse(events_service_json("s1", "deleted", NULL, 0, 0, 3));
	ck_assert(is_null(o, "error"));
	ck_assert_str_eq(str(o, "status"), "deleted");
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_origin, 0, (int)(sizeof(origins) / sizeof(origins[0])));
	tcase_add_test(tc, test_origin_null);
	tcase_add_test(tc, test_device_json);
	tcase_add_test(tc, test_device_json_escapes);
	tcase_add_test(tc, test_session_json);
	tcase_add_test(tc, test_node_json);
	tcase_add_test(tc, test_service_json);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
