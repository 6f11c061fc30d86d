/* check_relay.c: the relay's pure parts: its paths and target (relay_path.h), the
 * one-time stream key (relay_key.h) and the bounded pipe with its flow-control
 * bookkeeping (relay_pipe.h). The relay on real sockets is tested end to end with the
 * agent, kaiden-connect and sshd (tests/integration). */
#include <check.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_key.h"
#include "relay_path.h"
#include "relay_pipe.h"

#define SID "01a206af-e5c6-7217-bbb1-046bcbb561fd"

START_TEST(test_paths)
{
	char id[UUID_STR_LEN];

	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/" SID, id), RELAY_PATH_CONNECT);
	ck_assert_str_eq(id, SID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/stream/" SID, id), RELAY_PATH_STREAM);
	ck_assert_str_eq(id, SID);
	/* Upper case comes back as stored: lower case. */
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/01A206AF-E5C6-7217-BBB1-046BCBB561FD",
	                                  id),
	                 RELAY_PATH_CONNECT);
	ck_assert_str_eq(id, SID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/agent", id), RELAY_PATH_OTHER);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect", id), RELAY_PATH_OTHER);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/streams/" SID, id), RELAY_PATH_OTHER);
	ck_assert_int_eq(relay_path_parse("", id), RELAY_PATH_OTHER);
	ck_assert_int_eq(relay_path_parse(NULL, id), RELAY_PATH_OTHER);
	/* The prefix with anything but exactly a UUID after it. */
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/", id), RELAY_PATH_BAD_ID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/nope", id), RELAY_PATH_BAD_ID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/" SID "/", id), RELAY_PATH_BAD_ID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/connect/" SID "x", id), RELAY_PATH_BAD_ID);
	ck_assert_int_eq(relay_path_parse("/api/v1/ws/stream/../" SID, id), RELAY_PATH_BAD_ID);
}
END_TEST

static int target(enum relay_target *out, int n, ...)
{
	const char *args[8];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		args[i] = va_arg(ap, const char *);
	va_end(ap);
	return relay_target_parse(args, n, out);
}

START_TEST(test_target)
{
	enum relay_target t = RELAY_TARGET_WEB;

	ck_assert_int_eq(target(&t, 0), 0);
	ck_assert_int_eq(t, RELAY_TARGET_SSH);
	ck_assert_int_eq(target(&t, 1, "target=web"), 0);
	ck_assert_int_eq(t, RELAY_TARGET_WEB);
	ck_assert_int_eq(target(&t, 2, "x=1", "target=ssh"), 0);
	ck_assert_int_eq(t, RELAY_TARGET_SSH);
	/* Unknown arguments are ignored; a bad or repeated target is not. */
	t = RELAY_TARGET_WEB;
	ck_assert_int_eq(target(&t, 1, "targets=web"), 0);
	ck_assert_int_eq(t, RELAY_TARGET_SSH);
	ck_assert_int_eq(target(&t, 1, "target=rdp"), -1);
	ck_assert_int_eq(target(&t, 1, "target="), -1);
	ck_assert_int_eq(target(&t, 1, "target=SSH"), -1);
	ck_assert_int_eq(target(&t, 2, "target=ssh", "target=web"), -1);
	ck_assert_str_eq(relay_target_name(RELAY_TARGET_SSH), "ssh");
	ck_assert_str_eq(relay_target_name(RELAY_TARGET_WEB), "web");
}
END_TEST

START_TEST(test_key)
{
	struct relay_key key, other;
	char header[128];

	relay_key_new(&key, 1000);
	relay_key_new(&other, 1000);
	ck_assert_uint_eq(strlen(key.text), PROTO_STREAM_KEY_LEN);
	ck_assert_str_ne(key.text, other.text);
	for (const char *c = key.text; *c; c++)
		ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		                 *c));

	ck_assert_int_eq(relay_key_check(&key, NULL, 1000), RELAY_KEY_MISSING);
	ck_assert_int_eq(relay_key_check(&key, "", 1000), RELAY_KEY_MISSING);
	ck_assert_int_eq(relay_key_check(&key, key.text, 1000), RELAY_KEY_MISSING);
	snprintf(header, sizeof(header), "Basic %s", key.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000), RELAY_KEY_MISSING);
	/* Another stream's key, a key cut short or too long, garbage: wrong. */
	snprintf(header, sizeof(header), "Bearer %s", other.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000), RELAY_KEY_WRONG);
	snprintf(header, sizeof(header), "Bearer %.42s", key.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000), RELAY_KEY_WRONG);
	snprintf(header, sizeof(header), "Bearer %sA", key.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000), RELAY_KEY_WRONG);
	ck_assert_int_eq(relay_key_check(&key, "Bearer ", 1000), RELAY_KEY_WRONG);
	/* What is worth carrying to another helperd: the shape of a key, not more. */
	snprintf(header, sizeof(header), "Bearer %s", other.text);
	ck_assert_int_eq(relay_key_well_formed(header), 1);
	snprintf(header, sizeof(header), "bearer  %s ", other.text);
	ck_assert_int_eq(relay_key_well_formed(header), 1);
	snprintf(header, sizeof(header), "Bearer %.42s", other.text);
	ck_assert_int_eq(relay_key_well_formed(header), 0);
	snprintf(header, sizeof(header), "Bearer %.42s=", other.text);
	ck_assert_int_eq(relay_key_well_formed(header), 0);
	snprintf(header, sizeof(header), "Basic %s", other.text);
	ck_assert_int_eq(relay_key_well_formed(header), 0);
	ck_assert_int_eq(relay_key_well_formed(NULL), 0);
	ck_assert_int_eq(relay_key_well_formed("Bearer not-a-key"), 0);
	/* Too old: RELAY_KEY_TTL_MS after it was made, and not before it. */
	snprintf(header, sizeof(header), "Bearer %s", key.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000 + RELAY_KEY_TTL_MS + 1),
	                 RELAY_KEY_EXPIRED);
	ck_assert_int_eq(relay_key_check(&key, header, 999), RELAY_KEY_EXPIRED);
	/* None of that used it up; the right key in time does, once. The scheme's case
	 * and trailing blanks do not matter. */
	snprintf(header, sizeof(header), "bearer   %s \t", key.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1000 + RELAY_KEY_TTL_MS), RELAY_KEY_OK);
	ck_assert_int_eq(relay_key_check(&key, header, 1001), RELAY_KEY_USED);
	/* A wrong key says wrong even after the right one was used. */
	snprintf(header, sizeof(header), "Bearer %s", other.text);
	ck_assert_int_eq(relay_key_check(&key, header, 1001), RELAY_KEY_WRONG);
	/* Wiped: nothing matches, not even an empty key. */
	relay_key_wipe(&other);
	ck_assert_int_eq(relay_key_check(&other, "Bearer ", 1000), RELAY_KEY_WRONG);
}
END_TEST

/* Pushes n chunks of size bytes; returns how many pushes said PAUSE. */
static int push_n(struct relay_pipe *p, int n, size_t size)
{
	static unsigned char data[64 * 1024];
	int pauses = 0, rc;

	for (int i = 0; i < n; i++) {
		rc = relay_pipe_push(p, data, size);
		ck_assert_int_ge(rc, 0);
		pauses += rc == RELAY_PIPE_PAUSE;
	}
	return pauses;
}

START_TEST(test_pipe_bound)
{
	struct relay_pipe p;
	struct relay_chunk *c;
	unsigned char hello[] = "hello";
	int resumes = 0;

	relay_pipe_init(&p, RELAY_PIPE_BOUND, 16);
	ck_assert_ptr_null(relay_pipe_peek(&p));
	ck_assert_int_eq(relay_pipe_pop(&p), RELAY_PIPE_OK);
	/* Data keeps its headroom and its bytes, in order. */
	ck_assert_int_eq(relay_pipe_push(&p, hello, 5), RELAY_PIPE_OK);
	ck_assert_int_eq(relay_pipe_push(&p, "!", 1), RELAY_PIPE_OK);
	c = relay_pipe_peek(&p);
	ck_assert_uint_eq(c->len, 5);
	ck_assert(memcmp(c->buf + 16, "hello", 5) == 0);
	ck_assert_int_eq(relay_pipe_pop(&p), RELAY_PIPE_OK);
	ck_assert(memcmp(relay_pipe_peek(&p)->buf + 16, "!", 1) == 0);
	ck_assert_int_eq(relay_pipe_pop(&p), RELAY_PIPE_OK);
	ck_assert_uint_eq(p.queued, 0);

	/* 32 KiB reads: the eighth reaches 256 KiB and says pause, once. */
	ck_assert_int_eq(push_n(&p, 7, 32 * 1024), 0);
	ck_assert(!p.paused);
	ck_assert_int_eq(push_n(&p, 1, 32 * 1024), 1);
	ck_assert(p.paused);
	ck_assert_uint_eq(p.queued, RELAY_PIPE_BOUND);
	/* What lws had read already still fits, without a second pause. */
	ck_assert_int_eq(push_n(&p, 1, 32 * 1024), 0);
	ck_assert_uint_eq(p.queued, RELAY_PIPE_BOUND + 32 * 1024);
	/* Draining: no resume until below half the bound, then exactly one. */
	while (relay_pipe_peek(&p)) {
		size_t before = p.queued;
		int rc = relay_pipe_pop(&p);
		if (rc == RELAY_PIPE_RESUME) {
			resumes++;
			ck_assert_uint_lt(p.queued, RELAY_PIPE_BOUND / 2);
			ck_assert_uint_ge(before, RELAY_PIPE_BOUND / 2);
		}
	}
	ck_assert_int_eq(resumes, 1);
	ck_assert(!p.paused);

	/* Filled again and cut short: clear frees all and forgets the pause. */
	ck_assert_int_eq(push_n(&p, 4, 64 * 1024), 1);
	relay_pipe_clear(&p);
	ck_assert_uint_eq(p.queued, 0);
	ck_assert(!p.paused);
	ck_assert_ptr_null(relay_pipe_peek(&p));
}
END_TEST

/* A steady writer against a reader that takes less than it is given: the queue never
 * passes the bound plus one read, whatever the rates. */
START_TEST(test_pipe_never_grows)
{
	static unsigned char data[4096];
	struct relay_pipe p;
	size_t most = 0;
	int reading = 1;

	relay_pipe_init(&p, RELAY_PIPE_BOUND, 16);
	for (int round = 0; round < 20000; round++) {
		if (reading) {
			int rc = relay_pipe_push(&p, data, 16 + (size_t)(round % 4000));
			ck_assert_int_ge(rc, 0);
			if (rc == RELAY_PIPE_PAUSE)
				reading = 0;
		}
		if (round % 3 == 0 && relay_pipe_peek(&p) && relay_pipe_pop(&p) == RELAY_PIPE_RESUME)
			reading = 1;
		if (p.queued > most)
			most = p.queued;
	}
	ck_assert_uint_le(most, RELAY_PIPE_BOUND + 4016);
	ck_assert_uint_ge(most, RELAY_PIPE_BOUND);
	relay_pipe_clear(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	log_init("check", LOG_LVL_WARN);
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_target);
	tcase_add_test(tc, test_key);
	tcase_add_test(tc, test_pipe_bound);
	tcase_add_test(tc, test_pipe_never_grows);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
