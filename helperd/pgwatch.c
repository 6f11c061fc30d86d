/* pgwatch.c: LISTEN kaiden_jobs (and kaiden_events: the other helperds' browser events,
 * handed to events_relay.c) on PostgreSQL, or PRAGMA data_version on SQLite.
 *
 * The PostgreSQL side is a small state machine, all of it on the loop and never
 * blocking (the connection is made with PQconnectStartParams/PQconnectPoll):
 *
 *   BACKOFF --timer--> CONNECTING --PQconnectPoll OK--> LISTEN_SENT --result--> LISTENING
 *      ^                   |                                |                      |
 *      +-------------------+--------- failure, timeout -----+-------- lost --------+
 *
 * Every state but BACKOFF has a uv_poll_t on PQsocket(conn). A socket number may
 * change while connecting (libpq tries each host), so the poll follows it: the old
 * handle is closed (asynchronously: each handle is its own allocation) and a new one
 * made. On entering LISTENING the jobs table is scanned (jobs_kick): a NOTIFY sent while
 * we were disconnected is lost. The backoff doubles from 250 ms to 10 s, with jitter,
 * and resets once LISTENING.
 *
 * SQLite has no NOTIFY: PRAGMA data_version (which moves when another connection
 * commits) is read every helperd.poll_ms, and also FS_NUDGE_MS after the directory of the
 * database says one of its files was written (a uv_fs_event: inotify on Linux), so a job
 * kaiden-api queued is claimed within milliseconds instead of up to a poll interval
 * later. The nudge is an optimisation only: a commit whose write came before its
 * wal-index was updated, or a file system without events, waits for the poll. */
#include "pgwatch.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "events_relay.h"
#include "helperd.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "seam.h"

#define CHANNEL seam_channel_name(SEAM_CHANNEL_JOBS)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define CONNECT_TIMEOUT_MS 15000
/* After a write in the SQLite database's directory: long enough for the writer to update
 * the wal-index after its last write(), short against a poll interval. */
#define FS_NUDGE_MS 2

enum watch_state { W_OFF, W_BACKOFF, W_CONNECTING, W_LISTEN_SENT, W_LISTENING };

struct watch_poll {
	uv_poll_t handle;
	int fd;
};

static struct {
	enum watch_state state;
	PGconn *conn;
	struct watch_poll *poll;
	uv_timer_t timer;      /* backoff, connect deadline, or the SQLite poll */
	int timer_open;
	int backoff_ms;
	int ever_listened;
	/* SQLite */
	long data_version;
	int have_version;
	uv_fs_event_t fs;      /* the database's directory */
	uv_timer_t nudge;      /* a check FS_NUDGE_MS after a write there */
	int fs_open, nudge_open;
	char db_name[256];     /* the database file's name: its -wal and -journal start so */
} w;

static void connect_start(void);
static void on_backoff(uv_timer_t *t);
static void on_poll(uv_poll_t *h, int status, int events);

static const char *state_name(enum watch_state s)
{
	static const char *names[] = { "off", "backoff", "connecting", "listen_sent",
		                       "listening" };
	return names[s];
}

static void poll_closed(uv_handle_t *h)
{
	free(h->data);
}

static void poll_stop(void)
{
	if (!w.poll)
		return;
	uv_poll_stop(&w.poll->handle);
	uv_close((uv_handle_t *)&w.poll->handle, poll_closed);
	w.poll = NULL;
}

/* Watches PQsocket(conn) for events, following a change of socket. */
static int poll_watch(int events)
{
	int fd = PQsocket(w.conn);

	if (fd < 0)
		return -1;
	if (w.poll && w.poll->fd != fd)
		poll_stop();
	if (!w.poll) {
		w.poll = calloc(1, sizeof(*w.poll));
		if (!w.poll)
			return -1;
		w.poll->fd = fd;
		w.poll->handle.data = w.poll;
		if (uv_poll_init(helperd.loop, &w.poll->handle, fd) != 0) {
			free(w.poll);
			w.poll = NULL;
			return -1;
		}
	}
	return uv_poll_start(&w.poll->handle, events, on_poll) == 0 ? 0 : -1;
}

static void set_listening_gauge(int up)
{
	metrics_set("kaiden_db_listen_up", NULL, up);
}

/* Drops the connection and retries after the backoff. */
static void fail(const char *why)
{
	/* Jitter of up to a quarter, so that several helperds do not reconnect in step. */
	int delay = w.backoff_ms + (int)(random() % (w.backoff_ms / 4 + 1));

	if (w.state == W_LISTENING)
		log_warn("db=postgres listen connection lost (%s): reconnecting", why);
	else if (w.state != W_OFF)
		log_warn("db=postgres listen connection failed in state %s (%s): retrying in %d ms",
		         state_name(w.state), why, delay);
	set_listening_gauge(0);
	poll_stop();
	if (w.conn) {
		PQfinish(w.conn);
		w.conn = NULL;
	}
	if (helperd.stopping) {
		w.state = W_OFF;
		return;
	}
	w.state = W_BACKOFF;
	w.backoff_ms = w.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w.backoff_ms * 2;
	uv_timer_stop(&w.timer);
	uv_timer_start(&w.timer, on_backoff, (uint64_t)delay, 0);
}

static void on_connect_deadline(uv_timer_t *t)
{
	(void)t;
	fail("timed out");
}

static void drain_notifies(void)
{
	PGnotify *n;
	int got = 0;

	while ((n = PQnotifies(w.conn)) != NULL) {
		if (strcmp(n->relname, seam_channel_name(SEAM_CHANNEL_EVENTS)) == 0)
			events_relay_receive(n->extra);
		else
			got++;
		PQfreemem(n);
		/* More may have arrived while we looked: read what the socket holds. */
		if (!PQconsumeInput(w.conn))
			break;
	}
	if (got) {
		metrics_inc("kaiden_db_notifications_total", NULL, got);
		jobs_kick();
	}
}

/* Reads the LISTEN's result(s); 1 once it is complete and succeeded, 0 while waiting,
 * -1 if it failed. */
static int listen_result(void)
{
	PGresult *res;
	int ok = 1;

	while (!PQisBusy(w.conn)) {
		res = PQgetResult(w.conn);
		if (!res)
			return ok ? 1 : -1;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("db=postgres LISTEN %s failed: %s", CHANNEL, PQresultErrorMessage(res));
			ok = 0;
		}
		PQclear(res);
	}
	return 0;
}

static void on_listening(void)
{
	w.state = W_LISTENING;
	w.backoff_ms = BACKOFF_MIN_MS;
	uv_timer_stop(&w.timer);
	set_listening_gauge(1);
	if (w.ever_listened) {
		log_info("db=postgres listen connection restored: rescanning jobs");
		metrics_inc("kaiden_db_listen_reconnects_total", NULL, 1);
		/* The loop's own connection died with the server too: make it reconnect now
		 * rather than fail the next claim. */
		if (db_ping(helperd.db) != 0)
			log_warn("db=postgres main connection still down after the listen reconnect");
	} else {
		log_info("db=postgres listening on %s", CHANNEL);
	}
	w.ever_listened = 1;
	jobs_kick();
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	PostgresPollingStatusType ps;
	char listen[96];
	int flush, r;

	(void)h;
	if (!w.conn)
		return;
	if (status < 0 && w.state != W_CONNECTING) {
		fail(uv_strerror(status));
		return;
	}
	switch (w.state) {
	case W_CONNECTING:
		ps = PQconnectPoll(w.conn);
		if (ps == PGRES_POLLING_FAILED) {
			fail(PQerrorMessage(w.conn));
			return;
		}
		if (ps == PGRES_POLLING_READING || ps == PGRES_POLLING_WRITING) {
			if (poll_watch(ps == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE) != 0)
				fail("cannot watch the socket");
			return;
		}
		/* Connected. The channel's name is a fixed identifier (seam.c). */
		snprintf(listen, sizeof(listen), "LISTEN %s; LISTEN %s", CHANNEL,
		         seam_channel_name(SEAM_CHANNEL_EVENTS));
		if (PQsetnonblocking(w.conn, 1) != 0 || !PQsendQuery(w.conn, listen)) {
			fail(PQerrorMessage(w.conn));
			return;
		}
		w.state = W_LISTEN_SENT;
		flush = PQflush(w.conn);
		if (flush < 0 || poll_watch(UV_READABLE | (flush ? UV_WRITABLE : 0)) != 0)
			fail(PQerrorMessage(w.conn));
		return;
	case W_LISTEN_SENT:
	case W_LISTENING:
		if (events & UV_WRITABLE) {
			flush = PQflush(w.conn);
			if (flush < 0) {
				fail(PQerrorMessage(w.conn));
				return;
			}
			if (flush == 0 && poll_watch(UV_READABLE) != 0) {
				fail("cannot watch the socket");
				return;
			}
		}
		if (!(events & UV_READABLE))
			return;
		if (!PQconsumeInput(w.conn) || PQstatus(w.conn) == CONNECTION_BAD) {
			fail(PQerrorMessage(w.conn));
			return;
		}
		if (w.state == W_LISTEN_SENT) {
			r = listen_result();
			if (r < 0) {
				fail("LISTEN refused");
				return;
			}
			if (r == 0)
				return;
			on_listening();
		} else {
			/* Results we did not ask for (none expected) are read and dropped. */
			while (!PQisBusy(w.conn)) {
				PGresult *res = PQgetResult(w.conn);
				if (!res)
					break;
				PQclear(res);
			}
		}
		drain_notifies();
		return;
	default:
		return;
	}
}

static void connect_start(void)
{
	/* The DSN is expanded (expand_dbname); the settings after it override its own. */
	const char *keys[] = { "dbname", "application_name", "keepalives", "keepalives_idle",
		               "keepalives_interval", "keepalives_count", NULL };
	const char *vals[] = { cfg_str(CFG_DATABASE_DSN), "kaiden-helperd-listen", "1", "30",
		               "10", "3", NULL };
	if (helperd.stopping)
		return;
	w.state = W_CONNECTING;
	w.conn = PQconnectStartParams(keys, vals, 1);
	if (!w.conn) {
		fail("out of memory");
		return;
	}
	if (PQstatus(w.conn) == CONNECTION_BAD) {
		fail(PQerrorMessage(w.conn));
		return;
	}
	/* libpq says to begin as if PQconnectPoll had answered WRITING. */
	if (poll_watch(UV_WRITABLE) != 0) {
		fail("cannot watch the socket");
		return;
	}
	uv_timer_stop(&w.timer);
	uv_timer_start(&w.timer, on_connect_deadline, CONNECT_TIMEOUT_MS, 0);
}

static void on_backoff(uv_timer_t *t)
{
	(void)t;
	connect_start();
}

/* ---- SQLite ------------------------------------------------------------------------ */

static void on_sqlite_poll(uv_timer_t *t)
{
	struct db_res *res = NULL;
	const char *v;
	long version;

	(void)t;
	if (db_exec(helperd.db, "PRAGMA data_version", 0, NULL, &res) != DB_OK)
		goto out;
	v = db_res_rows(res) > 0 ? db_res_get(res, 0, 0) : NULL;
	if (!v)
		goto out;
	version = strtol(v, NULL, 10);
	if (w.have_version && version != w.data_version)
		jobs_kick();
	w.data_version = version;
	w.have_version = 1;
out:
	db_res_free(res);
}

static void on_nudge(uv_timer_t *t)
{
	on_sqlite_poll(t);
}

/* A file in the database's directory changed: if it is the database (or its -wal,
 * -journal), check data_version soon (coalesced: a burst of writes is one check). */
static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	(void)h;
	(void)events;
	if (status != 0 || !filename || strncmp(filename, w.db_name, strlen(w.db_name)) != 0)
		return;
	if (!uv_is_active((uv_handle_t *)&w.nudge))
		uv_timer_start(&w.nudge, on_nudge, FS_NUDGE_MS, 0);
}

/* Watches the database's directory; logs and carries on with the poll alone if it
 * cannot. */
static void sqlite_watch(void)
{
	const char *path = cfg_str(CFG_DATABASE_PATH);
	const char *slash = path ? strrchr(path, '/') : NULL;
	char dir[4096];
	int rc;

	if (!path || !path[0])
		return;
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path > 0 ? slash - path : 1), path);
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(w.db_name, sizeof(w.db_name), "%s", slash ? slash + 1 : path);
	uv_timer_init(helperd.loop, &w.nudge);
	w.nudge_open = 1;
	uv_fs_event_init(helperd.loop, &w.fs);
	w.fs_open = 1;
	rc = uv_fs_event_start(&w.fs, on_fs_event, dir, 0);
	if (rc != 0)
		log_warn("db=sqlite cannot watch %s (%s): new jobs are seen at the next poll only",
		         dir, uv_strerror(rc));
}

/* ---- interface ---------------------------------------------------------------------- */

int pgwatch_init(void)
{
	memset(&w, 0, sizeof(w));
	uv_timer_init(helperd.loop, &w.timer);
	w.timer_open = 1;
	w.backoff_ms = BACKOFF_MIN_MS;
	metrics_describe("kaiden_db_listen_up", METRICS_GAUGE,
	                 "1 while helperd's LISTEN connection to PostgreSQL is up");
	metrics_describe("kaiden_db_listen_reconnects_total", METRICS_COUNTER,
	                 "times the LISTEN connection was restored after a loss");
	metrics_describe("kaiden_db_notifications_total", METRICS_COUNTER,
	                 "NOTIFY kaiden_jobs received");
	if (db_kind(helperd.db) == DB_SQLITE) {
		long ms = cfg_int(CFG_HELPERD_POLL_MS);
		w.state = W_LISTENING;
		set_listening_gauge(1);
		uv_timer_start(&w.timer, on_sqlite_poll, 0, (uint64_t)ms);
		sqlite_watch();
		log_info("db=sqlite polling data_version every %ld ms, and on a write to the "
		         "database's files", ms);
		return 0;
	}
	connect_start();
	return 0;
}

void pgwatch_shutdown(void)
{
	poll_stop();
	if (w.conn) {
		PQfinish(w.conn);
		w.conn = NULL;
	}
	if (w.timer_open) {
		uv_timer_stop(&w.timer);
		uv_close((uv_handle_t *)&w.timer, NULL);
		w.timer_open = 0;
	}
	if (w.fs_open) {
		uv_fs_event_stop(&w.fs);
		uv_close((uv_handle_t *)&w.fs, NULL);
		w.fs_open = 0;
	}
	if (w.nudge_open) {
		uv_timer_stop(&w.nudge);
		uv_close((uv_handle_t *)&w.nudge, NULL);
		w.nudge_open = 0;
	}
	w.state = W_OFF;
}

int pgwatch_listening(void)
{
	return w.state == W_LISTENING;
}
