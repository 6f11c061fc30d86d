/* agent_load.c: simulated kaiden agents over real WebSockets, for the benchmark and the
 * integration tests. One process, one epoll loop, a minimal RFC 6455 client (masked
 * frames, text/close/ping), so that 10,000 connections cost this side little and every
 * kind of bad frame can be sent on purpose.
 *
 *   agent_load [target] [credentials] [behaviour] [report]
 *
 * target:      --url ws://HOST:PORT[/PATH]   (default path /api/v1/ws/agent)
 *              --unix SOCKET [--path PATH]   helperd's Unix socket directly
 *              --xff ADDR                    send X-Forwarded-For: ADDR
 * credentials: --device ID --secret S        one device
 *              --ticket T                    (with --device or --cluster) offer this
 *                                            resumption ticket: a version-4 hello
 *              --tickets                     keep each welcome's (and ticket message's)
 *                                            ticket and offer it in the next hello
 *              --cluster ID --node NAME --secret S   one node of a cluster: the hello of
 *                                            protocol version 3 with the cluster secret
 *              --devices FILE                lines "ID SECRET"; connection i uses line i % n
 *              --create N --out FILE         make N devices in the database named by the
 *                                            KAIDEN_DATABASE_* settings, all with one
 *                                            random secret, write FILE, and exit;
 *                                            --cheap-hash hashes it with argon2id's
 *                                            minimum cost (memory benchmarks only);
 *                                            --real-hash FILE also writes that secret's
 *                                            hash at the product's cost (agents.sh's
 *                                            storm swaps it in after the first logins)
 * behaviour:   -n N (connections, default 1), --rate R (new connections per second,
 *              default 1000), --heartbeat S (default: what welcome says)
 *              --first hello|garbage|binary|oversize|heartbeat|none   first message
 *              --after garbage|binary|oversize|hello|bigheartbeat|none   sent right
 *                             after welcome (bigheartbeat: ~4 KB, arrives in pieces)
 *              --after-text JSON [--after-count N]   a message sent N times (default
 *                             1) right after welcome (after --after's)
 *              --hold S       stay S seconds after welcome, then close (1000)
 *              --duration S   load mode: run S seconds, then report and close
 *              --expect-close CODE   exit 0 only if the (one) connection is closed by
 *                                    the server with CODE
 *              --expect-welcome      exit 0 only if welcome arrived (then --hold)
 *              --timeout S    give up after S seconds (default 30)
 *              --reconnect    load mode: a closed connection reconnects as the agent
 *                             does after a lost link (1, 2, 4, 8, 16 s, +0-20%); once
 *                             every agent was online, a drop (kill -9 of helperd) is
 *                             timed until all are back, then reported, and the run ends
 *                             (with --duration S: S seconds later)
 *              --bind ADDR    connect from this local IPv4 address (several 127.0.0.x
 *                             processes get past 28k ephemeral ports per address)
 * report:      --pid PID      sample the server's RSS and CPU time (load mode)
 *              --ticket-out FILE   write the ticket of the (one) welcome to FILE
 *
 * Prints one summary line: `agent_load: N connected, N welcomed, N closed {code:count}`,
 * and in load mode the server's RSS growth per authenticated connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "ticket.h"

enum phase { P_CONNECTING, P_HANDSHAKE, P_HELLO_SENT, P_ONLINE, P_CLOSED };

struct agent {
	int fd;
	uint8_t phase;
	uint8_t out_pending;
	uint16_t close_code;
	int64_t next_hb_ms;
	int64_t hold_until_ms;
	int dev;
	uint8_t tries;   /* --reconnect: consecutive attempts without a welcome */
	int64_t retry_ms; /* --reconnect: when to connect again (0: not waiting) */
	char ticket[TICKET_MAX]; /* --tickets: the last one the server gave, or "" */
	char *out;       /* unsent bytes (rare) */
	size_t out_len;
	unsigned char in[2048];
	size_t in_len;
};

static struct {
	const char *host, *port, *unix_path, *path, *xff;
	const char *first, *after;
	const char *node;       /* with --cluster: devs[0].id is the cluster's id */
	const char *after_text;
	int after_count;
	struct { char id[UUID_STR_LEN]; char secret[300]; } *devs;
	int ndevs;
	int n, rate, heartbeat, hold, duration, timeout;
	int expect_close, expect_welcome;
	int pid;
	struct agent *a;
	int epfd;
	int connected, welcomed, closed, failed;
	int codes[6000];
	int hb_sent;
	int welcome_hb; /* seconds, from the last welcome */
	int tickets, reconnect;
	const char *ticket, *ticket_out, *bind_addr;
	int online;             /* welcomed and not closed since */
	int64_t drop_ms;        /* --reconnect: when the first of all-online dropped */
	int all_once, recovered;
} O;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *msg)
{
	fprintf(stderr, "agent_load: %s\n", msg);
	exit(2);
}

/* ---- frames ---------------------------------------------------------------------- */

static void agent_close_fd(struct agent *a, int code)
{
	if (a->phase == P_CLOSED)
		return;
	if (a->phase == P_ONLINE)
		O.online--;
	if (O.reconnect) {
		/* As the agent's normal backoff: 1, 2, 4, 8, 16 s, each plus 0-20 %. */
		int64_t base = 1000LL << (a->tries < 4 ? a->tries : 4);
		a->retry_ms = now_ms() + base + (int64_t)randombytes_uniform((uint32_t)(base / 5) + 1);
		if (a->tries < 255)
			a->tries++;
	}
	a->phase = P_CLOSED;
	a->close_code = (uint16_t)code;
	if (code > 0 && code < (int)ARRAY_LEN(O.codes))
		O.codes[code]++;
	O.closed++;
	epoll_ctl(O.epfd, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	a->fd = -1;
	free(a->out);
	a->out = NULL;
	a->out_len = 0;
}

static int flush_out(struct agent *a)
{
	while (a->out_len) {
		ssize_t w = write(a->fd, a->out, a->out_len);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		memmove(a->out, a->out + w, a->out_len - (size_t)w);
		a->out_len -= (size_t)w;
	}
	return 0;
}

static int send_raw(struct agent *a, const void *data, size_t len)
{
	char *p;

	if (!a->out_len) {
		ssize_t w = write(a->fd, data, len);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		data = (const char *)data + w;
		len -= (size_t)w;
		if (!len)
			return 0;
	}
	p = realloc(a->out, a->out_len + len);
	if (!p)
		return -1;
	memcpy(p + a->out_len, data, len);
	a->out = p;
	a->out_len += len;
	return 0;
}

static int send_frame(struct agent *a, int opcode, const void *payload, size_t len)
{
	unsigned char *f = malloc(len + 14);
	size_t h = 0;
	uint32_t mask;
	int rc;

	if (!f)
		return -1;
	f[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		f[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		f[h++] = 0x80 | 126;
		f[h++] = (unsigned char)(len >> 8);
		f[h++] = (unsigned char)len;
	} else {
		f[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	mask = randombytes_random();
	memcpy(f + h, &mask, 4);
	for (size_t i = 0; i < len; i++)
		f[h + 4 + i] = ((const unsigned char *)payload)[i] ^ f[h + (i & 3)];
	rc = send_raw(a, f, h + 4 + len);
	free(f);
	return rc;
}

static int send_text(struct agent *a, const char *s)
{
	return send_frame(a, 1, s, strlen(s));
}

/* ,"ticket":"..." for a version-4 hello when one is held, else "". */
static const char *ticket_member(const struct agent *a, char out[TICKET_MAX + 16])
{
	const char *t = O.ticket ? O.ticket : a->ticket;

	if (!t[0])
		return "";
	snprintf(out, TICKET_MAX + 16, ",\"ticket\":\"%s\"", t);
	return out;
}

static int send_hello(struct agent *a)
{
	char msg[1200], tm[TICKET_MAX + 16];
	int version = O.tickets || O.ticket ? 4 : 0;

	if (O.node) {
		snprintf(msg, sizeof(msg),
		         "{\"type\":\"hello\",\"version\":%d,\"cluster_id\":\"%s\",\"node_name\":"
		         "\"%s\",\"secret\":\"%s\"%s,\"agent_version\":\"load-1.0\",\"hostname\":"
		         "\"%s\",\"os\":\"linux\",\"arch\":\"x86_64\"}",
		         version ? version : 3, O.devs[a->dev].id, O.node, O.devs[a->dev].secret,
		         ticket_member(a, tm), O.node);
		return send_text(a, msg);
	}
	snprintf(msg, sizeof(msg),
	         "{\"type\":\"hello\",\"version\":%d,\"device_id\":\"%s\",\"secret\":\"%s\"%s,"
	         "\"agent_version\":\"load-1.0\",\"hostname\":\"load-%d\",\"os\":\"linux\","
	         "\"arch\":\"x86_64\"}",
	         version ? version : 1, O.devs[a->dev].id, O.devs[a->dev].secret,
	         ticket_member(a, tm), (int)(a - O.a));
	return send_text(a, msg);
}

/* Sends one of the named bad (or plain) messages. */
static int send_named(struct agent *a, const char *what)
{
	if (strcmp(what, "hello") == 0)
		return send_hello(a);
	if (strcmp(what, "garbage") == 0)
		return send_text(a, "{this is not json");
	if (strcmp(what, "binary") == 0)
		return send_frame(a, 2, "\x01\x02\x03", 3);
	if (strcmp(what, "heartbeat") == 0)
		return send_text(a, "{\"type\":\"heartbeat\",\"sessions\":[]}");
	if (strcmp(what, "bigheartbeat") == 0) {
		/* ~4 KB, more than helperd's receive buffer: it arrives in pieces. */
		char msg[4200];
		size_t n = (size_t)snprintf(msg, sizeof(msg), "{\"type\":\"heartbeat\",\"sessions\":[");
		for (int i = 0; i < 100; i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n,
			                      "%s\"0190a2c4-0000-7000-8000-%012d\"", i ? "," : "", i);
		snprintf(msg + n, sizeof(msg) - n, "]}");
		return send_text(a, msg);
	}
	if (strcmp(what, "oversize") == 0) {
		size_t len = 20000;
		char *big = malloc(len + 1);
		int rc;
		if (!big)
			return -1;
		memset(big, ' ', len);
		big[0] = '{';
		big[len - 1] = '}';
		big[len] = '\0';
		rc = send_frame(a, 1, big, len);
		free(big);
		return rc;
	}
	return 0; /* none */
}

/* The "ticket" member of a welcome or ticket message (the server's own JSON, no
 * escapes in a ticket), kept for the next hello with --tickets, written with
 * --ticket-out. */
static void keep_ticket(struct agent *a, const char *json)
{
	const char *t = strstr(json, "\"ticket\":\"");
	size_t n;

	if (!t)
		return;
	t += 10;
	n = strcspn(t, "\"");
	if (n == 0 || n >= sizeof(a->ticket))
		return;
	if (O.tickets) {
		memcpy(a->ticket, t, n);
		a->ticket[n] = '\0';
	}
	if (O.ticket_out) {
		FILE *f = fopen(O.ticket_out, "w");
		if (f) {
			fprintf(f, "%.*s\n", (int)n, t);
			fclose(f);
		}
	}
}

static void on_welcome(struct agent *a, const char *json)
{
	const char *hb = strstr(json, "\"heartbeat\":");
	int secs = O.heartbeat ? O.heartbeat : (hb ? atoi(hb + 12) : 20);
	int64_t now = now_ms();

	if (secs < 1)
		secs = 1;
	O.welcome_hb = secs;
	a->phase = P_ONLINE;
	O.welcomed++;
	O.online++;
	a->tries = 0;
	keep_ticket(a, json);
	/* Spread the heartbeats over the interval. */
	a->next_hb_ms = now + 1000 * (int64_t)secs - (int64_t)(randombytes_uniform(1000u * (uint32_t)secs) / 2);
	a->hold_until_ms = O.hold >= 0 ? now + 1000 * (int64_t)O.hold : 0;
	if (O.after && send_named(a, O.after) != 0) {
		agent_close_fd(a, -1);
		return;
	}
	for (int i = 0; O.after_text && i < O.after_count; i++)
		if (send_text(a, O.after_text) != 0) {
			agent_close_fd(a, -1);
			return;
		}
}

/* Reads what the server sent: the handshake answer, then frames. */
static void on_readable(struct agent *a)
{
	for (;;) {
		ssize_t r = read(a->fd, a->in + a->in_len, sizeof(a->in) - a->in_len);
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			agent_close_fd(a, a->close_code ? a->close_code : 1006);
			return;
		}
		if (r < 0)
			return;
		a->in_len += (size_t)r;
		if (a->phase == P_HANDSHAKE) {
			unsigned char *end = memmem(a->in, a->in_len, "\r\n\r\n", 4);
			if (!end) {
				if (a->in_len == sizeof(a->in))
					agent_close_fd(a, -2);
				continue;
			}
			if (a->in_len < 12 || memcmp(a->in + 9, "101", 3) != 0) {
				O.failed++;
				agent_close_fd(a, -3);
				return;
			}
			memmove(a->in, end + 4, a->in_len - (size_t)(end + 4 - a->in));
			a->in_len -= (size_t)(end + 4 - a->in);
			a->phase = P_HELLO_SENT;
			O.connected++;
			if (send_named(a, O.first) != 0) {
				agent_close_fd(a, -1);
				return;
			}
		}
		/* Frames. */
		while (a->in_len >= 2) {
			size_t h = 2, len = a->in[1] & 0x7f;
			int op = a->in[0] & 0x0f;
			if (len == 126) {
				if (a->in_len < 4)
					break;
				len = ((size_t)a->in[2] << 8) | a->in[3];
				h = 4;
			} else if (len == 127) {
				agent_close_fd(a, -4); /* nothing this big is expected */
				return;
			}
			if (h + len > sizeof(a->in)) {
				agent_close_fd(a, -4);
				return;
			}
			if (a->in_len < h + len)
				break;
			if (op == 1) {
				char text[sizeof(a->in) + 1];
				memcpy(text, a->in + h, len);
				text[len] = '\0';
				if (strstr(text, "\"type\":\"welcome\""))
					on_welcome(a, text);
				else if (strstr(text, "\"type\":\"ticket\""))
					keep_ticket(a, text);
			} else if (op == 8) {
				int code = len >= 2 ? (a->in[h] << 8) | a->in[h + 1] : 1005;
				a->close_code = (uint16_t)code;
				send_frame(a, 8, a->in + h, len >= 2 ? 2 : 0);
				agent_close_fd(a, code);
				return;
			} else if (op == 9) {
				send_frame(a, 10, a->in + h, len);
			}
			memmove(a->in, a->in + h + len, a->in_len - h - len);
			a->in_len -= h + len;
			if (a->phase == P_CLOSED)
				return;
		}
	}
}

static void on_writable(struct agent *a)
{
	char req[1024];
	int err = 0;
	socklen_t el = sizeof(err);

	if (a->phase == P_CONNECTING) {
		if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
			if (!O.reconnect)
				O.failed++;
			agent_close_fd(a, -5);
			return;
		}
		snprintf(req, sizeof(req),
		         "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		         "Sec-WebSocket-Key: a2FpZGVuLWxvYWQtdG9vbA==\r\nSec-WebSocket-Version: 13\r\n"
		         "Sec-WebSocket-Protocol: kaiden-agent\r\n%s%s%s\r\n",
		         O.path, O.host ? O.host : "localhost", O.xff ? "X-Forwarded-For: " : "",
		         O.xff ? O.xff : "", O.xff ? "\r\n" : "");
		a->phase = P_HANDSHAKE;
		if (send_raw(a, req, strlen(req)) != 0) {
			agent_close_fd(a, -1);
			return;
		}
	}
	if (flush_out(a) != 0) {
		agent_close_fd(a, -1);
		return;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN | (a->out_len ? EPOLLOUT : 0),
			                  .data.ptr = a };
		epoll_ctl(O.epfd, EPOLL_CTL_MOD, a->fd, &ev);
	}
}

static int agent_start(struct agent *a, int i)
{
	struct epoll_event ev;
	int fd, rc;

	{
		/* A reconnect keeps what the agent learnt. */
		char ticket[TICKET_MAX];
		uint8_t tries = a->tries;
		memcpy(ticket, a->ticket, sizeof(ticket));
		memset(a, 0, sizeof(*a));
		memcpy(a->ticket, ticket, sizeof(ticket));
		a->tries = tries;
	}
	a->dev = i % O.ndevs;
	if (O.unix_path) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", O.unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		sin.sin_port = htons((uint16_t)atoi(O.port));
		if (inet_pton(AF_INET, O.host, &sin.sin_addr) != 1)
			die("--url: the host must be an IPv4 address");
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		if (O.bind_addr) {
			struct sockaddr_in local = { .sin_family = AF_INET };
			if (inet_pton(AF_INET, O.bind_addr, &local.sin_addr) != 1)
				die("--bind: an IPv4 address");
			if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
				close(fd);
				return -1;
			}
		}
		rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
		close(fd);
		return -1;
	}
	a->fd = fd;
	a->phase = P_CONNECTING;
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = a;
	epoll_ctl(O.epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

/* ---- server sampling --------------------------------------------------------------- */

static long rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static double cpu_seconds(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- devices ------------------------------------------------------------------------ */

static void load_devices(const char *file)
{
	char line[512];
	FILE *f = fopen(file, "r");
	int cap = 0;

	if (!f)
		die("cannot open --devices file");
	while (fgets(line, sizeof(line), f)) {
		char id[UUID_STR_LEN], secret[300];
		if (sscanf(line, "%36s %299s", id, secret) != 2)
			continue;
		if (O.ndevs == cap) {
			cap = cap ? cap * 2 : 256;
			O.devs = realloc(O.devs, (size_t)cap * sizeof(*O.devs));
			if (!O.devs)
				die("out of memory");
		}
		snprintf(O.devs[O.ndevs].id, sizeof(O.devs[0].id), "%s", id);
		snprintf(O.devs[O.ndevs].secret, sizeof(O.devs[0].secret), "%s", secret);
		O.ndevs++;
	}
	fclose(f);
}

static int create_devices(int n, const char *out, int cheap, const char *real_hash_out)
{
	const char *driver = cfg_str(CFG_DATABASE_DRIVER);
	const char *target = strcmp(driver, "postgres") == 0 ? cfg_str(CFG_DATABASE_DSN)
	                                                     : cfg_str(CFG_DATABASE_PATH);
	char secret[SECRET_TEXT_LEN], hash[SECRET_HASH_LEN], name[64];
	struct db *db = NULL;
	FILE *f;

	secret_random_text(secret);
	if (cheap) {
		if (crypto_pwhash_str_alg(hash, secret, strlen(secret), crypto_pwhash_OPSLIMIT_MIN,
		                          crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13))
			die("hash failed");
	} else if (secret_hash(secret, hash) != 0) {
		die("hash failed");
	}
	if (real_hash_out) {
		char real[SECRET_HASH_LEN];
		if (secret_hash(secret, real) != 0)
			die("hash failed");
		f = fopen(real_hash_out, "w");
		if (!f)
			die("cannot write --real-hash");
		fprintf(f, "%s\n", real);
		fclose(f);
	}
	if (db_open(driver, target, &db) != DB_OK)
		die("cannot open the database (KAIDEN_DATABASE_*)");
	/* A tool for every tenant, like helperd: row-level security's staff switch. */
	if (db_session_set(db, "kaiden.staff", "on") != DB_OK)
		die("cannot set kaiden.staff");
	f = fopen(out, "w");
	if (!f)
		die("cannot write --out");
	/* Each create is its own transaction (it counts the tenant's device quota first). */
	for (int i = 0; i < n; i++) {
		json_object *d = NULL;
		snprintf(name, sizeof(name), "load-%d", i);
		if (store_device_create(db, DEFAULT_TENANT_ID, name, hash, &d) != STORE_OK)
			die("device create failed");
		fprintf(f, "%s %s\n", json_object_get_string(json_object_object_get(d, "id")), secret);
		json_object_put(d);
	}
	fclose(f);
	db_close(db);
	printf("agent_load: created %d devices in %s\n", n, out);
	return 0;
}

/* ---- main --------------------------------------------------------------------------- */

static void summary(void)
{
	printf("agent_load: %d connected, %d welcomed, %d closed, %d failed {", O.connected,
	       O.welcomed, O.closed, O.failed);
	for (int c = 0, first = 1; c < (int)ARRAY_LEN(O.codes); c++)
		if (O.codes[c]) {
			printf("%s%d:%d", first ? "" : ",", c, O.codes[c]);
			first = 0;
		}
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *devices = NULL, *device = NULL, *secret = NULL, *out = NULL;
	const char *real_hash_out = NULL;
	int create = 0, cheap = 0, started = 0, single;
	int64_t t0, deadline, next_start, load_end = 0;
	long rss0 = -1, rss_mid = -1;
	double cpu0 = 0, cpu_mid = 0;
	int64_t t_mid = 0;
	char err[256];
	struct rlimit rl;
	struct epoll_event evs[256];

	O.n = 1;
	O.rate = 1000;
	O.hold = -1;
	O.timeout = 30;
	O.first = "hello";
	O.path = "/api/v1/ws/agent";
	O.after_count = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (OPT("--url")) url = v;
		else if (OPT("--unix")) O.unix_path = v;
		else if (OPT("--path")) O.path = v;
		else if (OPT("--xff")) O.xff = v;
		else if (OPT("--device")) device = v;
		else if (OPT("--cluster")) device = v;
		else if (OPT("--node")) O.node = v;
		else if (OPT("--after-text")) O.after_text = v;
		else if (OPT("--after-count")) O.after_count = atoi(v);
		else if (OPT("--secret")) secret = v;
		else if (OPT("--ticket")) O.ticket = v;
		else if (OPT("--ticket-out")) O.ticket_out = v;
		else if (OPT("--bind")) O.bind_addr = v;
		else if (strcmp(a, "--tickets") == 0) O.tickets = 1;
		else if (strcmp(a, "--reconnect") == 0) O.reconnect = 1;
		else if (OPT("--devices")) devices = v;
		else if (OPT("--create")) create = atoi(v);
		else if (OPT("--out")) out = v;
		else if (OPT("--real-hash")) real_hash_out = v;
		else if (strcmp(a, "--cheap-hash") == 0) cheap = 1;
		else if (OPT("-n")) O.n = atoi(v);
		else if (OPT("--rate")) O.rate = atoi(v);
		else if (OPT("--heartbeat")) O.heartbeat = atoi(v);
		else if (OPT("--first")) O.first = v;
		else if (OPT("--after")) O.after = v;
		else if (OPT("--hold")) O.hold = atoi(v);
		else if (OPT("--duration")) O.duration = atoi(v);
		else if (OPT("--expect-close")) O.expect_close = atoi(v);
		else if (strcmp(a, "--expect-welcome") == 0) O.expect_welcome = 1;
		else if (OPT("--timeout")) O.timeout = atoi(v);
		else if (OPT("--pid")) O.pid = atoi(v);
		else {
			fprintf(stderr, "agent_load: unknown or incomplete option %s\n", a);
			return 2;
		}
#undef OPT
	}
	log_init("agent_load", LOG_LVL_WARN);
	if (sodium_init() < 0)
		die("libsodium");
	signal(SIGPIPE, SIG_IGN);
	if (create > 0) {
		if (!out)
			die("--create needs --out FILE");
		if (cfg_load(NULL, err, sizeof(err)) != 0)
			die(err);
		return create_devices(create, out, cheap, real_hash_out);
	}
	if (url) {
		static char host[256], port[16], path[256];
		if (sscanf(url, "ws://%255[^:/]:%15[0-9]%255s", host, port, path) < 2)
			die("--url must be ws://HOST:PORT[/PATH]");
		O.host = host;
		O.port = port;
		if (path[0])
			O.path = path;
	} else if (!O.unix_path) {
		die("give --url or --unix");
	}
	if (devices) {
		load_devices(devices);
	} else if (device && secret) {
		O.devs = calloc(1, sizeof(*O.devs));
		snprintf(O.devs[0].id, sizeof(O.devs[0].id), "%s", device);
		snprintf(O.devs[0].secret, sizeof(O.devs[0].secret), "%s", secret);
		O.ndevs = 1;
	}
	if (O.ndevs == 0)
		die("no credentials: --device/--secret or --devices");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	O.a = calloc((size_t)O.n, sizeof(*O.a));
	O.epfd = epoll_create1(0);
	if (!O.a || O.epfd < 0)
		die("out of memory");
	single = O.n == 1 && !O.duration;
	if (O.pid) {
		rss0 = rss_kb(O.pid);
		cpu0 = cpu_seconds(O.pid);
	}
	t0 = now_ms();
	deadline = t0 + 1000 * (int64_t)O.timeout;
	next_start = t0;
	for (;;) {
		int64_t now = now_ms();
		int nev;

		/* Open connections at the given rate. */
		while (started < O.n && now >= next_start) {
			if (agent_start(&O.a[started], started) != 0) {
				O.failed++;
				O.a[started].phase = P_CLOSED;
				O.a[started].fd = -1;
			}
			started++;
			next_start = t0 + (int64_t)started * 1000 / (O.rate > 0 ? O.rate : 1000000);
		}
		nev = epoll_wait(O.epfd, evs, (int)ARRAY_LEN(evs), 20);
		for (int i = 0; i < nev; i++) {
			struct agent *a = evs[i].data.ptr;
			if (a->phase == P_CLOSED)
				continue;
			if (evs[i].events & EPOLLOUT)
				on_writable(a);
			if (a->phase != P_CLOSED && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				on_readable(a);
		}
		now = now_ms();
		/* Heartbeats and holds: a linear pass every 20 ms is cheap next to the server. */
		for (int i = 0; i < started; i++) {
			struct agent *a = &O.a[i];
			if (a->phase == P_CLOSED && a->retry_ms && now >= a->retry_ms) {
				if (agent_start(a, i) != 0) {
					a->phase = P_CLOSED;
					a->fd = -1;
					a->retry_ms = now + 1000;
				}
				continue;
			}
			if (a->phase != P_ONLINE)
				continue;
			if (single && a->hold_until_ms && now >= a->hold_until_ms) {
				send_frame(a, 8, "\x03\xe8", 2);
				agent_close_fd(a, 1000);
				continue;
			}
			if (now >= a->next_hb_ms) {
				int secs = O.heartbeat ? O.heartbeat : O.welcome_hb ? O.welcome_hb : 20;
				if (send_text(a, "{\"type\":\"heartbeat\",\"sessions\":[]}") != 0)
					agent_close_fd(a, -1);
				O.hb_sent++;
				a->next_hb_ms = now + 1000 * (int64_t)secs;
			}
		}
		if (single) {
			struct agent *a = &O.a[0];
			if (a->phase == P_CLOSED)
				break;
			if (O.expect_welcome && O.hold < 0 && a->phase == P_ONLINE)
				break;
		} else if (O.reconnect) {
			if (!O.all_once && O.online == O.n) {
				O.all_once = 1;
				printf("agent_load: %d of %d welcomed in %.1f s\n", O.online, O.n,
				       (double)(now - t0) / 1000.0);
				fflush(stdout);
			} else if (O.all_once && !O.drop_ms && O.online < O.n) {
				O.drop_ms = now;
			} else if (O.drop_ms && O.online == O.n) {
				printf("agent_load: %d of %d back online %.1f s after the drop\n", O.online,
				       O.n, (double)(now - O.drop_ms) / 1000.0);
				fflush(stdout);
				O.recovered = 1;
				O.drop_ms = 0;
				/* With --duration, stay connected that long (other processes may
				 * still be coming back); else done. */
				if (!O.duration)
					break;
				load_end = now + 1000 * (int64_t)O.duration;
			}
			if (load_end && now >= load_end)
				break;
		} else if (O.duration) {
			if (!load_end && started == O.n && O.welcomed + O.closed >= O.n) {
				load_end = now + 1000 * (int64_t)O.duration;
				if (O.pid) {
					cpu_mid = cpu_seconds(O.pid);
					rss_mid = rss_kb(O.pid);
					t_mid = now;
				}
				printf("agent_load: %d of %d welcomed in %.1f s\n", O.welcomed, O.n,
				       (double)(now - t0) / 1000.0);
				fflush(stdout);
			}
			if (load_end && now >= load_end)
				break;
		}
		if (now >= deadline && !(O.duration && load_end)) {
			if (O.reconnect)
				printf("agent_load: %d of %d online at the timeout\n", O.online, O.n);
			fprintf(stderr, "agent_load: timed out after %d s\n", O.timeout);
			break;
		}
	}
	if (O.pid) {
		long rss1 = rss_kb(O.pid);
		double cpu1 = cpu_seconds(O.pid);
		double secs = (double)(now_ms() - t0) / 1000.0;
		printf("agent_load: server rss %ld kB -> %ld kB, %.0f bytes per welcomed agent; "
		       "server cpu %.2f s over %.1f s (%.1f%%); %d heartbeats sent\n",
		       rss0, rss1, O.welcomed ? (double)(rss1 - rss0) * 1024.0 / O.welcomed : 0.0,
		       cpu1 - cpu0, secs, secs > 0 ? 100.0 * (cpu1 - cpu0) / secs : 0.0, O.hb_sent);
		if (t_mid) {
			double steady = (double)(now_ms() - t_mid) / 1000.0;
			printf("agent_load: steady state (all connected): server cpu %.2f s over %.1f s "
			       "(%.2f%% of a core), rss %ld kB -> %ld kB\n",
			       cpu1 - cpu_mid, steady, steady > 0 ? 100.0 * (cpu1 - cpu_mid) / steady : 0.0,
			       rss_mid, rss1);
		}
	}
	summary();
	if (single) {
		struct agent *a = &O.a[0];
		if (O.expect_close)
			return a->phase == P_CLOSED && a->close_code == O.expect_close ? 0 : 1;
		if (O.expect_welcome)
			return O.welcomed == 1 ? 0 : 1;
	}
	for (int i = 0; i < started; i++)
		if (O.a[i].phase != P_CLOSED && O.a[i].fd >= 0) {
			send_frame(&O.a[i], 8, "\x03\xe8", 2);
			close(O.a[i].fd);
		}
	if (O.reconnect)
		return O.recovered ? 0 : 1;
	return O.failed ? 1 : 0;
}
