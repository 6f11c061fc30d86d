/* check_fcgx_reply.c: a reply written by fcgx_reply reaches the web server as the records
 * libfcgi writes for the same bytes: the FCGI_STDOUT content, one empty FCGI_STDOUT, one
 * FCGI_END_REQUEST, then the end of the connection. The web server's side is played
 * here over a real Unix socket that libfcgi accepts on. */
#include <check.h>
#include <errno.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "fcgx_reply.h"

/* A request id over 255, so that both of its bytes are checked. */
#define REQUEST_ID 0x0102

static char dir[64], path[96];
static int listen_sock = -1;

static void setup(void)
{
	strcpy(dir, "/tmp/check_fcgx_reply.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(FCGX_Init(), 0);
	listen_sock = FCGX_OpenSocket(path, 8);
	ck_assert_int_ge(listen_sock, 0);
}

static void teardown(void)
{
	close(listen_sock);
	unlink(path);
	rmdir(dir);
}

static void put_record(struct buf *b, int type, const void *content, size_t len)
{
	FCGI_Header h = { .version = FCGI_VERSION_1,
		          .type = (unsigned char)type,
		          .requestIdB1 = REQUEST_ID >> 8,
		          .requestIdB0 = REQUEST_ID & 0xff,
		          .contentLengthB1 = (unsigned char)(len >> 8),
		          .contentLengthB0 = (unsigned char)(len & 0xff) };
	ck_assert_int_eq(buf_append(b, &h, sizeof(h)), 0);
	if (len)
		ck_assert_int_eq(buf_append(b, content, len), 0);
}

/* The web server's side: connects and sends a whole GET (begin, params, end of input). */
static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	FCGI_BeginRequestBody begin = { .roleB0 = FCGI_RESPONDER };
	static const char params[] = "\x0e\x03REQUEST_METHODGET";
	struct buf b;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	buf_init(&b, 4096);
	put_record(&b, FCGI_BEGIN_REQUEST, &begin, sizeof(begin));
	put_record(&b, FCGI_PARAMS, params, sizeof(params) - 1);
	put_record(&b, FCGI_PARAMS, NULL, 0);
	put_record(&b, FCGI_STDIN, NULL, 0);
	ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	buf_clear(&b);
	return fd;
}

/* What the web server read, until the connection's end; then it closes its side, as
 * nginx does (libfcgi's close waits for that). */
struct wire {
	int fd;
	struct buf bytes;
};

static void *read_all(void *arg)
{
	struct wire *w = arg;
	char chunk[16384];
	ssize_t n;

	while ((n = read(w->fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&w->bytes, chunk, (size_t)n) != 0)
			break;
	close(w->fd);
	return NULL;
}

/* The records of a reply, checked as a web server reads them: the FCGI_STDOUT content
 * into stdout_bytes, and exactly one empty FCGI_STDOUT and one FCGI_END_REQUEST
 * (complete, status 0) at its end. */
static void parse_reply(const struct buf *wire, struct buf *stdout_bytes)
{
	size_t at = 0;
	int ended_stdout = 0, ended = 0;

	while (at < wire->len) {
		const FCGI_Header *h = (const FCGI_Header *)(wire->data + at);
		size_t len, pad;

		ck_assert_uint_ge(wire->len - at, sizeof(*h));
		ck_assert_int_eq(ended, 0); /* nothing after FCGI_END_REQUEST */
		ck_assert_int_eq(h->version, FCGI_VERSION_1);
		ck_assert_int_eq((h->requestIdB1 << 8) | h->requestIdB0, REQUEST_ID);
		len = (size_t)h->contentLengthB1 << 8 | h->contentLengthB0;
		pad = h->paddingLength;
		ck_assert_uint_ge(wire->len - at, sizeof(*h) + len + pad);
		if (h->type == FCGI_STDOUT) {
			ck_assert_int_eq(ended_stdout, 0);
			if (len == 0)
				ended_stdout = 1;
			else
				ck_assert_int_eq(buf_append(stdout_bytes, h + 1, len), 0);
		} else {
			const FCGI_EndRequestBody *e = (const FCGI_EndRequestBody *)(h + 1);
			ck_assert_int_eq(h->type, FCGI_END_REQUEST);
			ck_assert_int_eq(ended_stdout, 1);
			ck_assert_uint_eq(len, sizeof(*e));
			ck_assert_int_eq(e->protocolStatus, FCGI_REQUEST_COMPLETE);
			ck_assert_int_eq(e->appStatusB3 | e->appStatusB2 | e->appStatusB1 | e->appStatusB0,
			                 0);
			ended = 1;
		}
		at += sizeof(*h) + len + pad;
	}
	ck_assert_int_eq(ended, 1);
}

/* One request answered with the parts, by fcgx_reply (ours) or by libfcgi's own stream;
 * what the web server read is in *wire. */
static void answer(const struct iovec *parts, int n, int ours, struct buf *wire)
{
	FCGX_Request fr;
	struct wire w;
	pthread_t reader;

	ck_assert_int_eq(FCGX_InitRequest(&fr, listen_sock, 0), 0);
	w.fd = client_connect();
	buf_init(&w.bytes, 64 << 20);
	ck_assert_int_eq(FCGX_Accept_r(&fr), 0);
	ck_assert_str_eq(FCGX_GetParam("REQUEST_METHOD", fr.envp), "GET");
	/* The web server reads as the reply is written: a large one fills the socket. */
	ck_assert_int_eq(pthread_create(&reader, NULL, read_all, &w), 0);
	if (ours) {
		ck_assert_int_eq(fcgx_reply(&fr, parts, n), 0);
	} else {
		for (int i = 0; i < n; i++)
			ck_assert_int_eq(FCGX_PutStr(parts[i].iov_base, (int)parts[i].iov_len, fr.out),
			                 (int)parts[i].iov_len);
	}
	FCGX_Finish_r(&fr);
	ck_assert_int_eq(pthread_join(reader, NULL), 0);
	*wire = w.bytes;
}

/* Both ways of answering carry the same content, and ours that of the parts in order. */
static void same_as_libfcgi(const struct iovec *parts, int n)
{
	struct buf wire_ours, wire_lib, ours, lib, want;

	buf_init(&ours, 64 << 20);
	buf_init(&lib, 64 << 20);
	buf_init(&want, 64 << 20);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(buf_append(&want, parts[i].iov_base, parts[i].iov_len), 0);
	answer(parts, n, 1, &wire_ours);
	answer(parts, n, 0, &wire_lib);
	parse_reply(&wire_ours, &ours);
	parse_reply(&wire_lib, &lib);
	ck_assert_uint_eq(ours.len, want.len);
	ck_assert_uint_eq(lib.len, want.len);
	ck_assert(want.len == 0 || memcmp(ours.data, want.data, want.len) == 0);
	ck_assert(want.len == 0 || memcmp(lib.data, want.data, want.len) == 0);
	buf_clear(&wire_ours);
	buf_clear(&wire_lib);
	buf_clear(&ours);
	buf_clear(&lib);
	buf_clear(&want);
}

START_TEST(test_small_reply)
{
	static const char head[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n";
	static const char body[] = "{\"id\":\"x\"}";
	const struct iovec parts[] = { { (void *)head, sizeof(head) - 1 },
		                       { (void *)body, sizeof(body) - 1 } };

	same_as_libfcgi(parts, 2);
}
END_TEST

/* Nothing at all, and parts of no bytes among others: no empty record but the last. */
START_TEST(test_empty_parts)
{
	static const char a[] = "Status: 204 No Content\r\n\r\n";
	const struct iovec parts[] = { { (void *)a, 0 }, { (void *)a, sizeof(a) - 1 },
		                       { NULL, 0 } };

	same_as_libfcgi(parts, 0);
	same_as_libfcgi(parts, 3);
}
END_TEST

/* A body over one record's 65,535 bytes, and more parts than one writev's batch. */
START_TEST(test_large_and_many)
{
	enum { BIG = 3 * 65536 + 17, MANY = 150 };
	char *big = malloc(BIG);
	struct iovec parts[MANY];

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)('a' + i % 26);
	parts[0] = (struct iovec){ big, BIG };
	same_as_libfcgi(parts, 1);
	/* 150 parts of 0 to 700 bytes, some over a record's end. */
	for (int i = 0; i < MANY; i++)
		parts[i] = (struct iovec){ big + i * 977, (size_t)(i * 37) % 701 };
	parts[MANY / 2] = (struct iovec){ big, 70000 };
	same_as_libfcgi(parts, MANY);
	free(big);
}
END_TEST

/* The web server gone before the reply: -1 and EPIPE, and libfcgi's finish writes
 * nothing more and does not fail. */
START_TEST(test_peer_gone)
{
	static const char body[] = "Status: 200 OK\r\n\r\n{}";
	const struct iovec part = { (void *)body, sizeof(body) - 1 };
	FCGX_Request fr;
	int fd;

	ck_assert_int_eq(FCGX_InitRequest(&fr, listen_sock, 0), 0);
	fd = client_connect();
	ck_assert_int_eq(FCGX_Accept_r(&fr), 0);
	close(fd);
	errno = 0;
	ck_assert_int_eq(fcgx_reply(&fr, &part, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(FCGX_GetError(fr.out), EPIPE);
	FCGX_Finish_r(&fr);
}
END_TEST

static Suite *fcgx_reply_suite(void)
{
	Suite *s = suite_create("fcgx_reply");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_small_reply);
	tcase_add_test(tc, test_empty_parts);
	tcase_add_test(tc, test_large_and_many);
	tcase_add_test(tc, test_peer_gone);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fcgx_reply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
