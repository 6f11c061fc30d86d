/* hello.c: the smallest FastCGI responder built like kaiden-api, as the benchmark's
 * baseline. It has kaiden-api's threading model (N threads, each looping on its own
 * FCGX_Accept_r on one shared Unix socket) and answers every request with one fixed JSON
 * body, so what it costs is nginx + FastCGI + libfcgi and nothing else. The difference
 * between this and `GET /api/v1/devices/{id}` is what kaiden-api itself adds (routing,
 * auth, the database, JSON).
 *
 *   hello SOCKET [THREADS [BODY_FILE]]
 *
 * THREADS defaults to 4 (kaiden-api's server.threads default). BODY_FILE, when given, is
 * the body to answer with (the benchmark passes a real device's JSON so both replies are
 * the same size); without it a device-shaped body of about the same size is used.
 * SIGINT/SIGTERM remove the socket and exit. */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BODY_MAX 65536

static const char default_body[] =
	"{\"id\":\"01920f6e-7c1a-7c3e-9d2b-5a4f3e2d1c0b\",\"name\":\"bench-device-0001\","
	"\"status\":\"offline\",\"last_seen\":null,\"hostname\":\"bench-host-0001\","
	"\"os\":\"Debian GNU/Linux 12\",\"ip_address\":\"192.0.2.1\",\"agent_version\":null,"
	"\"cluster_id\":null,\"node_name\":null,\"labels\":null,\"node_status\":null,"
	"\"resources\":null,\"created_at\":\"2025-01-01T00:00:00.000Z\"}";

static int listen_fd = -1;
static char *reply;      /* headers + body, written whole to every request */
static size_t reply_len;

static void *worker(void *arg)
{
	FCGX_Request req;

	(void)arg;
	if (FCGX_InitRequest(&req, listen_fd, 0) != 0) {
		fprintf(stderr, "hello: FCGX_InitRequest failed\n");
		return NULL;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		/* Drain the request body (there is none for GET) as a responder must. */
		char sink[4096];

		while (FCGX_GetStr(sink, sizeof(sink), req.in) > 0)
			;
		FCGX_PutStr(reply, (int)reply_len, req.out);
		FCGX_Finish_r(&req);
	}
	return NULL;
}

/* Reads the whole of a small file into a malloc'd, NUL-terminated string. */
static char *read_body(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n;

	if (!f) {
		fprintf(stderr, "hello: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	data = malloc(BODY_MAX + 1);
	if (!data)
		goto out;
	n = fread(data, 1, BODY_MAX + 1, f);
	if (ferror(f) || n > BODY_MAX) {
		fprintf(stderr, "hello: %s: unreadable or over %d bytes\n", path, BODY_MAX);
		free(data);
		data = NULL;
		goto out;
	}
	/* A trailing newline from the file is not part of the JSON. */
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	data[n] = '\0';
	*len = n;
out:
	fclose(f);
	return data;
}

int main(int argc, char **argv)
{
	const char *sock_path;
	long threads = 4;
	const char *body = default_body;
	size_t body_len = sizeof(default_body) - 1;
	char *file_body = NULL;
	pthread_t *tids = NULL;
	sigset_t sigs;
	int sig = 0, rc = EXIT_FAILURE;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: hello SOCKET [THREADS [BODY_FILE]]\n");
		return 2;
	}
	sock_path = argv[1];
	if (argc >= 3) {
		char *end;

		threads = strtol(argv[2], &end, 10);
		if (*end || threads < 1 || threads > 256) {
			fprintf(stderr, "hello: THREADS must be 1..256\n");
			return 2;
		}
	}
	if (argc == 4) {
		file_body = read_body(argv[3], &body_len);
		if (!file_body)
			return EXIT_FAILURE;
		body = file_body;
	}

	reply = malloc(body_len + 128);
	if (!reply)
		goto out;
	reply_len = (size_t)sprintf(reply, "Status: 200 OK\r\nContent-Type: application/json\r\n"
	                            "Content-Length: %zu\r\n\r\n", body_len);
	memcpy(reply + reply_len, body, body_len);
	reply_len += body_len;

	/* The workers must not take the signals: main waits for them below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (FCGX_Init() != 0) {
		fprintf(stderr, "hello: FCGX_Init failed\n");
		goto out;
	}
	unlink(sock_path);
	listen_fd = FCGX_OpenSocket(sock_path, 1024);
	if (listen_fd < 0) {
		fprintf(stderr, "hello: cannot listen on %s\n", sock_path);
		goto out;
	}
	/* nginx's workers may run as another user. */
	chmod(sock_path, 0666);

	tids = calloc((size_t)threads, sizeof(*tids));
	if (!tids)
		goto out;
	for (long i = 0; i < threads; i++) {
		int err = pthread_create(&tids[i], NULL, worker, NULL);

		if (err) {
			fprintf(stderr, "hello: pthread_create: %s\n", strerror(err));
			goto out;
		}
	}
	fprintf(stderr, "hello: %ld threads on %s, %zu-byte body\n", threads, sock_path,
	        body_len);
	sigwait(&sigs, &sig);
	rc = EXIT_SUCCESS;
out:
	if (listen_fd >= 0)
		unlink(sock_path);
	/* The workers sit in accept(); exiting the process ends them. */
	free(tids);
	free(reply);
	free(file_body);
	return rc;
}
