/* db_pg.c: the PostgreSQL backend of db.h, on libpq.
 *
 * Every statement is sent with untyped text parameters, so the server infers each $n's
 * type from where it is used (a uuid column makes it a uuid). The session runs with
 * TimeZone=UTC and DateStyle=ISO; timestamptz results (OID 1184) come back as
 * "2026-11-23 03:45:56.123+00" and are rewritten to the RFC 3339 form ids.h makes,
 * "2026-11-23T03:45:56.123Z", so both backends hand out the same text. A result is not
 * copied: the db_res points into the PGresult, which it keeps until db_res_free (the
 * exception to "PQclear where the query ran"; a page of 50 devices is 900 values).
 *
 * Prepared statements. The store runs the same few statements over and over, and
 * parsing and planning each one again costs the server about as much as running it. So
 * each connection keeps a small cache keyed by the SQL text: the first time a
 * SELECT/INSERT/UPDATE/DELETE/WITH text is run it is PQprepare'd under a new name
 * ("k1", "k2", ...), and from then on it costs one PQexecPrepared, still one round
 * trip. Anything else (BEGIN, COMMIT, SET, DDL: nothing to plan) goes through
 * PQexecParams as before, and so does every text once the cache is full (it does not
 * evict: a deallocation would cost a round trip, and the store has fewer statements than
 * slots). db_script never prepares. The server parses with the same untyped parameters
 * either way, so results, types and errors are those PQexecParams gives. A connection
 * through a pooler in transaction mode (db_set_pooled) prepares nothing: a named
 * statement lives in one server session, and the pooler lends another to the next
 * transaction; every statement then goes the PQexecParams way (in a scope's pipeline,
 * PQsendQueryParams: an unnamed statement, still one round trip).
 *
 * A prepared statement lives in the server session, so:
 *   - a reconnect (PQreset) starts a session without any: the cache is emptied;
 *   - a statement the server no longer has (26000: DEALLOCATE / DISCARD ALL by someone
 *     else) empties the cache, and one whose plan can no longer return the same columns
 *     (0A000 from RevalidateCachedQuery: a column's type changed, a SELECT * gained a
 *     column) is forgotten. Outside a transaction the statement is then prepared again
 *     and run once more; inside one the transaction has already failed, so the caller
 *     gets the error and the next run prepares afresh;
 *   - names are never reused on a connection, so a forgotten statement that the server
 *     still holds (until the session ends) never clashes with a new one;
 *   - a statement that fails to prepare is not cached; one that fails to run stays
 *     cached (the failure was in its values or the data, not in the statement).
 *
 * A dead connection (the server restarted) is found out by the statement that meets it.
 * That statement fails unless it is a read outside a transaction (run again on a new
 * connection: harmless). The next statement, finding the connection already known dead,
 * reconnects before it is sent: nothing of it reached the server, so that is safe for a
 * write too. The one exception is a transaction the connection died in: its caller must
 * see it fail through to its ROLLBACK (which then succeeds, as there is nothing left to
 * roll back), so nothing of its later statements runs outside it.
 *
 * Tenant scopes (db.h). Opening a scope sends nothing: its first statement goes in one
 * libpq pipeline with what the scope needs before it, and costs one round trip:
 *   write scope   BEGIN; SELECT set_config('kaiden.tenant_id', $1, true),
 *                 set_config('kaiden.staff', $2, true); the statement; Sync
 *                 (later statements run in that transaction; db_scope_end's COMMIT or
 *                 ROLLBACK is the second round trip, or none when nothing ran)
 *   read scope    the same settings plus transaction_read_only, then the statement, with
 *                 no BEGIN: the messages up to the Sync are one implicit transaction,
 *                 which ends with it, settings and all. Every statement of a read scope
 *                 goes this way (one round trip each, nothing to commit); a db_begin in
 *                 one opens a real transaction (BEGIN READ ONLY + the settings) for the
 *                 rest of the scope.
 * Row-level security is bound as before: the settings are transaction-local (the third
 * argument of set_config), so no statement outside the scope's transaction sees them.
 * Under READ COMMITTED every statement takes its own snapshot anyway, so statements of a
 * read scope see what they would have seen in one transaction; read-only makes a write
 * in one an error instead of a silent commit. A connection found dead by a scope's first
 * pipeline is made again and the pipeline sent once more (nothing of it was committed,
 * or it was a read). After that nothing inside a scope reconnects: a statement meeting a
 * dead connection marks it lost_in_tx, every later statement fails, nested rollbacks
 * (savepoints) do nothing useful, and db_scope_end reports the loss (DB_ERR if it was to
 * commit) and clears it; the next statement or scope reconnects.
 * Session settings (db_session_set) and LISTENs (db_listen) are kept here and applied
 * again after every reconnect, after the fixed ones.
 *
 * Notifications (db_listen, db_notices). libpq queues the ones that arrive with any
 * result; db_notices counts those of the listened channels (others are dropped: only
 * kaiden-api's workers listen, on one channel) and counts every reconnect as one, since
 * a new session has missed whatever was sent meanwhile. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_impl.h"
#include "log.h"

#define PG_TIMESTAMPTZ_OID 1184
#define PG_TIMESTAMP_LEN 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL */
#define PG_STMT_CACHE_SIZE 64
#define PG_SETTINGS_MAX 8
#define PG_LISTEN_MAX 4
/* The scope's settings, for its transaction only (set_config's third argument). */
#define PG_SCOPE_SET                                                                     \
	"SELECT set_config('kaiden.tenant_id', $1, true), set_config('kaiden.staff', $2, true)"
#define PG_SCOPE_SET_READ                                                                \
	"SELECT set_config('kaiden.tenant_id', $1, true), set_config('kaiden.staff', $2, true), " \
	"set_config('transaction_read_only', 'on', true)"

struct pg_stmt {
	char *sql; /* owned copy: the key */
	unsigned long hash;
	char name[24]; /* "k<n>" */
};

/* A session setting (db_session_set) as SET text, made once: "SET name = 'value'". */
struct pg_setting {
	char name[DB_SETTING_NAME_MAX + 1];
	char *sql; /* owned */
};

/* A scope not yet (or, for a read scope, not now) sent: see the top of the file. */
struct pg_scope {
	int pending;   /* the next statement goes with the scope's settings */
	int read;      /* a read scope */
	int want_tx;   /* a read scope that db_begin asked a real transaction of */
	char tenant[40]; /* "" for none (checked by db_scope_begin) */
	const char *staff; /* "on" or "off" */
};

struct db_pg {
	struct db base; /* first: a struct db * is a struct db_pg * */
	PGconn *conn;
	unsigned long next_name; /* the number of the last statement name handed out */
	int nstmts;              /* stmts[0 .. nstmts - 1] are in use */
	int lost_in_tx;          /* the connection died inside a transaction not yet ended */
	int nsettings;
	struct pg_scope scope;
	int nlisten;
	char listen[PG_LISTEN_MAX][DB_SETTING_NAME_MAX + 1];
	unsigned long notices;   /* db_notices */
	struct pg_setting settings[PG_SETTINGS_MAX];
	struct pg_stmt stmts[PG_STMT_CACHE_SIZE];
};

static struct db_pg *pg_of(struct db *db)
{
	return (struct db_pg *)db;
}

/* The error text of a failed result: SQLSTATE class 22 (data exceptions) quotes the
 * offending value, which may be a secret, so those are reported by code only. */
static int pg_result_fail(struct db *db, PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	enum db_rc rc = DB_ERR;

	if (!state)
		return db_fail(db, DB_ERR, sql, "%s", PQerrorMessage(pg_of(db)->conn));
	if (strncmp(state, "23", 2) == 0)
		rc = DB_CONSTRAINT;
	else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		rc = DB_BUSY;
	if (strncmp(state, "22", 2) == 0 || !primary)
		return db_fail(db, rc, sql, "invalid value (SQLSTATE %s)", state);
	return db_fail(db, rc, sql, "%s (SQLSTATE %s)", primary, state);
}

/* ---- the statement cache (see the top of the file) -------------------------------- */

static int is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* 1 for the statements the server plans: the ones a prepared statement saves work on.
 * Transaction control, SET and DDL stay unprepared (nothing to plan, and no slot spent
 * on a one-off CREATE). */
static int stmt_worth_preparing(const char *sql)
{
	static const char *const verbs[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "WITH" };

	while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '\r')
		sql++;
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		size_t len = strlen(verbs[i]);
		/* A match means sql has at least len characters, so sql[len] is readable. */
		if (strncasecmp(sql, verbs[i], len) == 0 && !is_word_char(sql[len]))
			return 1;
	}
	return 0;
}

static struct pg_stmt *stmt_find(struct db_pg *pg, const char *sql, unsigned long hash)
{
	for (int i = 0; i < pg->nstmts; i++)
		if (pg->stmts[i].hash == hash && strcmp(pg->stmts[i].sql, sql) == 0)
			return &pg->stmts[i];
	return NULL;
}

/* A new entry under a new name, not yet prepared; NULL when the cache is full or memory
 * is short (the caller then runs the statement unprepared). */
static struct pg_stmt *stmt_add(struct db_pg *pg, const char *sql, unsigned long hash)
{
	struct pg_stmt *s;
	char *key;

	if (pg->nstmts == PG_STMT_CACHE_SIZE)
		return NULL;
	key = strdup(sql);
	if (!key)
		return NULL;
	s = &pg->stmts[pg->nstmts++];
	s->sql = key;
	s->hash = hash;
	snprintf(s->name, sizeof(s->name), "k%lu", ++pg->next_name);
	return s;
}

/* Drops one entry; the last one moves into its slot. The server's statement, if it still
 * has it, stays until the session ends (its name is never handed out again). */
static void stmt_forget(struct db_pg *pg, struct pg_stmt *s)
{
	struct pg_stmt *last = &pg->stmts[pg->nstmts - 1];

	free(s->sql);
	if (s != last)
		*s = *last;
	memset(last, 0, sizeof(*last));
	pg->nstmts--;
}

static void stmt_forget_all(struct db_pg *pg)
{
	for (int i = 0; i < pg->nstmts; i++)
		free(pg->stmts[i].sql);
	memset(pg->stmts, 0, sizeof(pg->stmts));
	pg->nstmts = 0;
}

/* 1 when res failed because the prepared statement s is no longer usable as it is; the
 * cache has then been corrected (s is no longer valid). 0 for any other outcome. */
static int stmt_stale(struct db_pg *pg, struct pg_stmt *s, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *where = res ? PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION) : NULL;

	if (!state)
		return 0;
	if (strcmp(state, "26000") == 0) {
		/* Someone ran DEALLOCATE or DISCARD ALL on this session: assume all are gone. */
		log_warn("db=postgres prepared statement %s is gone from the session: "
		         "forgetting %d cached statements", s->name, pg->nstmts);
		stmt_forget_all(pg);
		return 1;
	}
	/* "cached plan must not change result type": the statement's result columns changed
	 * under it (a column's type altered, a SELECT * gained a column), so it must be
	 * prepared anew. Told apart from other 0A000s by where the server raised it, which
	 * does not depend on the server's message language. */
	if (strcmp(state, "0A000") == 0 && where && strcmp(where, "RevalidateCachedQuery") == 0) {
		log_warn("db=postgres prepared statement %s no longer matches the schema: "
		         "preparing it again", s->name);
		if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
			char sql[48];
			snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
			PQclear(PQexec(pg->conn, sql));
		}
		stmt_forget(pg, s);
		return 1;
	}
	return 0;
}

/* Runs sql, prepared when it is worth it and the cache has room, else unprepared.
 * Returns libpq's result of the failing step or of the run (NULL if libpq could not make
 * one: out of memory). A statement found stale is prepared again and run once more, but
 * only outside a transaction: inside one the failure has already aborted it. */
static PGresult *pg_run(struct db_pg *pg, const char *sql, int n, const char *const *params)
{
	struct pg_stmt *s;
	unsigned long hash;
	PGresult *res;

	if (pg->base.pooled || !stmt_worth_preparing(sql))
		return PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
	hash = db_sql_hash(sql);
	for (int attempt = 0;; attempt++) {
		s = stmt_find(pg, sql, hash);
		if (!s) {
			s = stmt_add(pg, sql, hash);
			if (!s)
				return PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
			/* No parameter types: the server infers them, as PQexecParams lets it. */
			res = PQprepare(pg->conn, s->name, sql, 0, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				stmt_forget(pg, s);
				return res;
			}
			PQclear(res);
		}
		res = PQexecPrepared(pg->conn, s->name, n, params, NULL, NULL, 0);
		if (attempt > 0 || !stmt_stale(pg, s, res) ||
		    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
			return res;
		PQclear(res);
	}
}

/* ---- a scope's statement in one pipeline (see the top of the file) ----------------- */

/* What one queued query was, to read its results back. */
enum pipe_kind { PIPE_PLAIN, PIPE_PREPARE, PIPE_EXEC };
struct pipe_sent {
	enum pipe_kind kind;
	const char *sql; /* PIPE_PREPARE: the cache key of the statement prepared */
};
#define PIPE_MAX 5 /* BEGIN, prepare + run the settings, prepare + run the statement */

/* Queues sql: prepared (and first prepared, when new) when it is worth it and the cache
 * has room, else plain. 0, or -1 when libpq refused it (the connection is gone). */
static int pipe_send(struct db_pg *pg, const char *sql, int n, const char *const *params,
                     struct pipe_sent *sent, int *nsent)
{
	struct pg_stmt *s = NULL;
	unsigned long hash;

	if (!pg->base.pooled && stmt_worth_preparing(sql)) {
		hash = db_sql_hash(sql);
		s = stmt_find(pg, sql, hash);
		if (!s && (s = stmt_add(pg, sql, hash)) != NULL) {
			if (!PQsendPrepare(pg->conn, s->name, sql, 0, NULL)) {
				stmt_forget(pg, s);
				return -1;
			}
			sent[(*nsent)++] = (struct pipe_sent){ PIPE_PREPARE, s->sql };
		}
	}
	if (s ? !PQsendQueryPrepared(pg->conn, s->name, n, params, NULL, NULL, 0)
	      : !PQsendQueryParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0))
		return -1;
	sent[(*nsent)++] = (struct pipe_sent){ s ? PIPE_EXEC : PIPE_PLAIN, NULL };
	return 0;
}

/* Sends what the pending scope needs ([BEGIN], its settings), then sql, then a Sync, as
 * one pipeline, and reads everything back. Returns the first failure's result, else
 * sql's (owned), or NULL when there was none (out of memory, the connection lost before
 * any answer). A statement whose preparation failed is dropped from the cache. */
static PGresult *pipe_run(struct db_pg *pg, const char *sql, int n, const char *const *params)
{
	const char *set_params[2] = { pg->scope.tenant, pg->scope.staff };
	int begin = !pg->scope.read || pg->scope.want_tx, nsent = 0, failed = 0, at = -1;
	struct pipe_sent sent[PIPE_MAX];
	PGresult *res, *keep = NULL;

	if (!PQenterPipelineMode(pg->conn))
		return NULL;
	if (begin) {
		if (!PQsendQueryParams(pg->conn, pg->scope.read ? "BEGIN READ ONLY" : "BEGIN", 0,
		                       NULL, NULL, NULL, NULL, 0))
			goto sync;
		sent[nsent++] = (struct pipe_sent){ PIPE_PLAIN, NULL };
	}
	if (pipe_send(pg, begin ? PG_SCOPE_SET : PG_SCOPE_SET_READ, 2, set_params, sent,
	              &nsent) < 0 ||
	    pipe_send(pg, sql, n, params, sent, &nsent) < 0)
		goto sync;
	at = nsent - 1; /* sql's own result */
sync:
	if (!PQpipelineSync(pg->conn))
		nsent = 0; /* nothing will come back: the connection is gone */
	for (int i = 0; i < nsent; i++) {
		ExecStatusType st;

		res = PQgetResult(pg->conn);
		if (!res)
			break;
		st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			struct pg_stmt *s;
			if (sent[i].kind == PIPE_PREPARE &&
			    (s = stmt_find(pg, sent[i].sql, db_sql_hash(sent[i].sql))) != NULL)
				stmt_forget(pg, s);
			/* The first failure says why; the queries after it were only skipped. */
			if (!failed && st != PGRES_PIPELINE_ABORTED) {
				PQclear(keep);
				keep = res;
				res = NULL;
				failed = 1;
			}
		} else if (i == at && !failed) {
			keep = res;
			res = NULL;
		}
		PQclear(res);
		/* Each query's results end with a NULL. */
		while ((res = PQgetResult(pg->conn)) != NULL)
			PQclear(res);
		if (PQstatus(pg->conn) == CONNECTION_BAD)
			break;
	}
	/* The Sync's own result, unless the connection went. */
	if (PQstatus(pg->conn) != CONNECTION_BAD) {
		while ((res = PQgetResult(pg->conn)) != NULL) {
			int done = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
			PQclear(res);
			if (done)
				break;
		}
	}
	(void)PQexitPipelineMode(pg->conn);
	return keep;
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]+00" -> "YYYY-MM-DDTHH:MM:SS.fffZ" (fraction cut to
 * milliseconds, as ids_timestamp makes them). Anything else ("infinity", years past 9999,
 * BC dates) is left as PostgreSQL wrote it. 1 if out was written. */
static int pg_timestamp(const char *s, size_t len, char out[PG_TIMESTAMP_LEN])
{
	size_t i = 19;
	int digits = 0;

	if (len < 22 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
	    s[16] != ':')
		return 0;
	memcpy(out, s, 19);
	out[10] = 'T';
	out[19] = '.';
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (digits < 3)
				out[20 + digits++] = s[i];
	}
	while (digits < 3)
		out[20 + digits++] = '0';
	if (len - i != 3 || strcmp(s + i, "+00") != 0)
		return 0;
	out[23] = 'Z';
	out[24] = '\0';
	return 1;
}

static void pg_clear(void *pgres)
{
	PQclear(pgres);
}

/* pgres as a db_res without copying it: the names and values point into pgres, which the
 * result takes (freed with it); only timestamps, rewritten, go in the result's spare room.
 * 0, or -1 when memory ran out or the result is over db.c's cap (pgres is then still
 * the caller's). */
static int pg_build(PGresult *pgres, struct db_res **out)
{
	int rows = PQntuples(pgres), cols = PQnfields(pgres), stamps = 0;
	struct db_res *res;
	char *spare;

	for (int c = 0; c < cols; c++)
		stamps += PQftype(pgres, c) == PG_TIMESTAMPTZ_OID;
	res = db_res_borrow(rows, cols, PQresultMemorySize(pgres),
	                    (size_t)rows * (size_t)stamps * PG_TIMESTAMP_LEN, pgres, pg_clear);
	if (!res)
		return -1;
	spare = db_res_spare(res);
	for (int c = 0; c < cols; c++) {
		int stamp = PQftype(pgres, c) == PG_TIMESTAMPTZ_OID;
		db_res_put_name(res, c, PQfname(pgres, c));
		for (int r = 0; r < rows; r++) {
			const char *v = PQgetisnull(pgres, r, c) ? NULL : PQgetvalue(pgres, r, c);
			if (v && stamp && pg_timestamp(v, (size_t)PQgetlength(pgres, r, c), spare)) {
				v = spare;
				spare += PG_TIMESTAMP_LEN;
			}
			db_res_put(res, r, c, v);
		}
	}
	*out = res;
	return 0;
}

static int pg_in_tx(struct db *db);
static int pg_reconnect(struct db *db);

/* A plain SELECT (changes nothing, so running it twice is harmless). */
static int is_read(const char *sql)
{
	while (*sql == ' ' || *sql == '\n' || *sql == '\t')
		sql++;
	return strncasecmp(sql, "SELECT", 6) == 0 && !is_word_char(sql[6]);
}

/* The end of every statement: res (taken) as DB_OK with *out, or the failure recorded.
 * in_tx: the statement ran inside a transaction, which a lost connection then loses. */
static int pg_finish(struct db *db, PGresult *res, const char *sql, int in_tx,
                     struct db_res **out)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	struct db_res *rows = NULL;
	long changes;
	int rc = DB_ERR;

	db->trips++;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		if (in_tx && PQstatus(pg_of(db)->conn) == CONNECTION_BAD &&
		    strcmp(sql, "COMMIT") != 0 && strcmp(sql, "ROLLBACK") != 0)
			pg_of(db)->lost_in_tx = 1;
		rc = pg_result_fail(db, res, sql);
		goto out;
	}
	/* COMMIT of a transaction that had failed answers "ROLLBACK", not an error. */
	if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0 && strcmp(sql, "COMMIT") == 0) {
		rc = db_fail(db, DB_ERR, sql, "the transaction had failed and was rolled back");
		goto out;
	}
	/* PostgreSQL counts the rows a SELECT returned; db_changes counts changed rows. */
	changes = strncmp(PQcmdStatus(res), "SELECT", 6) == 0 ? 0 : atol(PQcmdTuples(res));
	if (out && pg_build(res, &rows) != 0) {
		rc = db_fail(db, DB_ERR, sql, "out of memory building the result");
		goto out;
	}
	if (out)
		res = NULL; /* rows holds it now */
	db_ok(db, changes);
	if (out)
		*out = rows;
	rc = DB_OK;
out:
	PQclear(res);
	return rc;
}

/* A statement of a scope whose settings are not in force yet: one pipeline (pipe_run).
 * Nothing of the scope has run before it, so a connection found dead is made again and
 * the pipeline sent once more, and so is a statement found stale (see pg_run). A write
 * scope's transaction is open from here on (failed, if the pipeline failed); a read
 * scope's statement was its own transaction, and the next one sends the settings again. */
static int pg_exec_scoped(struct db *db, const char *sql, int n, const char *const *params,
                          struct db_res **out)
{
	struct db_pg *pg = pg_of(db);
	int tx = !pg->scope.read || pg->scope.want_tx;
	struct pg_stmt *s;
	PGresult *res = NULL;
	ExecStatusType st;

	if (PQstatus(pg->conn) == CONNECTION_BAD && pg_reconnect(db) != 0)
		return DB_ERR; /* pg_reconnect said why */
	for (int attempt = 0;; attempt++) {
		res = pipe_run(pg, sql, n, params);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || attempt > 0)
			break;
		if (PQstatus(pg->conn) == CONNECTION_BAD) {
			if (pg_reconnect(db) != 0)
				break;
		} else if (!(s = stmt_find(pg, sql, db_sql_hash(sql))) || !stmt_stale(pg, s, res)) {
			break;
		} else if (PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
			PQclear(PQexec(pg->conn, "ROLLBACK"));
		}
		PQclear(res);
	}
	if (tx)
		pg->scope.pending = 0;
	return pg_finish(db, res, sql, tx, out);
}

static int pg_exec(struct db *db, const char *sql, int n, const char *const *params,
                   struct db_res **out)
{
	PGresult *res;
	ExecStatusType st;
	int was_in_tx;

	if (db->scope && pg_of(db)->scope.pending && !pg_of(db)->lost_in_tx)
		return pg_exec_scoped(db, sql, n, params, out);
	if (PQstatus(pg_of(db)->conn) == CONNECTION_BAD) {
		/* A reconnect inside a scope would run the rest of the request outside its
		 * transaction and without its tenant. */
		if (pg_of(db)->lost_in_tx || db->scope) {
			if (strcmp(sql, "ROLLBACK") == 0 && !db->scope) {
				pg_of(db)->lost_in_tx = 0;
				db_ok(db, 0);
				return DB_OK;
			}
			return db_fail(db, DB_ERR, sql, "the connection was lost inside the transaction");
		}
		if (pg_reconnect(db) != 0)
			return DB_ERR; /* pg_reconnect said why */
	}
	was_in_tx = pg_in_tx(db);
	res = pg_run(pg_of(db), sql, n, params);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	/* A connection that died while idle (the server restarted) is only found out by the
	 * next statement. A read outside a transaction is safe to run again on a fresh
	 * connection, so the caller never sees that failure; a write is not (it may have
	 * been applied), so it fails and the next statement reconnects. */
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !was_in_tx &&
	    PQstatus(pg_of(db)->conn) == CONNECTION_BAD && is_read(sql) &&
	    pg_reconnect(db) == 0) {
		PQclear(res);
		res = pg_run(pg_of(db), sql, n, params);
	}
	return pg_finish(db, res, sql, was_in_tx, out);
}

/* what: the text a failure shows instead of sql (which may hold values). */
static int pg_script_as(struct db *db, const char *sql, const char *what)
{
	PGresult *res = PQexec(pg_of(db)->conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = DB_OK;

	db->trips++;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
		rc = pg_result_fail(db, res, what);
	else
		db_ok(db, 0);
	PQclear(res);
	return rc;
}

static int pg_script(struct db *db, const char *sql)
{
	return pg_script_as(db, sql, sql);
}

static int pg_in_tx(struct db *db)
{
	PGTransactionStatusType st = PQtransactionStatus(pg_of(db)->conn);

	if (pg_of(db)->lost_in_tx || db->scope_tx)
		return 1; /* until its ROLLBACK or db_scope_end: see the top of this file */

	return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

/* What every new connection needs: UTF-8, UTC, ISO dates (so pg_timestamp can read
 * them), and backslashes in literals taken literally (LIKE ... ESCAPE '\'); then the
 * session settings made so far (db_session_set), in one more round trip. */
static int pg_setup(struct db *db)
{
	struct db_pg *pg = pg_of(db);
	struct buf sql;
	int rc;

	if (PQsetClientEncoding(pg->conn, "UTF8") != 0)
		return db_fail(db, DB_ERR, "", "cannot set client_encoding: %s",
		               PQerrorMessage(pg->conn));
	rc = pg_script(db, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
	                   "SET standard_conforming_strings = on");
	if (rc != DB_OK || pg->nsettings + pg->nlisten == 0)
		return rc;
	buf_init(&sql, 64 * 1024);
	for (int i = 0; i < pg->nsettings; i++) {
		if (buf_puts(&sql, pg->settings[i].sql) != 0 || buf_puts(&sql, "; ") != 0) {
			buf_clear(&sql);
			return db_fail(db, DB_ERR, "SET", "out of memory");
		}
	}
	/* Channel names were checked as plain identifiers (db_listen). */
	for (int i = 0; i < pg->nlisten; i++) {
		if (buf_printf(&sql, "LISTEN %s; ", pg->listen[i]) != 0) {
			buf_clear(&sql);
			return db_fail(db, DB_ERR, "LISTEN", "out of memory");
		}
	}
	rc = pg_script_as(db, sql.data, "SET (the session settings), LISTEN");
	buf_clear(&sql);
	return rc;
}

/* NOTICEs (DROP ... CASCADE, IF NOT EXISTS) are chatter, not failures: debug only. */
static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("db=postgres notice: %.200s", message);
}

static int pg_reconnect(struct db *db)
{
	PGconn *conn = pg_of(db)->conn;

	if (PQstatus(conn) == CONNECTION_OK)
		return -1; /* it answers; the failure was something else */
	log_warn("db=postgres connection lost, reconnecting");
	PQreset(conn);
	/* Prepared statements die with the session they were made in; notifications sent
	 * meanwhile were missed (db_notices). */
	stmt_forget_all(pg_of(db));
	pg_of(db)->notices++;
	if (PQstatus(conn) != CONNECTION_OK) {
		(void)db_fail(db, DB_ERR, "", "reconnect failed: %s", PQerrorMessage(conn));
		return -1;
	}
	return pg_setup(db) == DB_OK ? 0 : -1;
}

/* ---- tenant scopes and session settings (see db.h and the top of this file) ------- */

/* Records the scope; its first statement sends it (pg_exec_scoped). */
static int pg_scope_open(struct db *db, const char *tenant_id, int staff, int read)
{
	struct db_pg *pg = pg_of(db);

	if (pg->lost_in_tx)
		return db_fail(db, DB_ERR, "BEGIN", "the last transaction was lost and not rolled back");
	if (PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		return db_fail(db, DB_ERR, "BEGIN", "a transaction is already open");
	/* db_scope_begin checked tenant_id: hex digits and dashes only. */
	memset(&pg->scope, 0, sizeof(pg->scope));
	snprintf(pg->scope.tenant, sizeof(pg->scope.tenant), "%s", tenant_id ? tenant_id : "");
	pg->scope.staff = staff ? "on" : "off";
	pg->scope.read = read;
	pg->scope.pending = 1;
	db_ok(db, 0);
	return DB_OK;
}

/* db_begin in a read scope: the rest of it runs in one read-only transaction. */
static void pg_scope_hold(struct db *db)
{
	struct db_pg *pg = pg_of(db);

	if (pg->scope.read && pg->scope.pending)
		pg->scope.want_tx = 1;
}

static int pg_scope_close(struct db *db, int ok)
{
	struct db_pg *pg = pg_of(db);
	int pending = pg->scope.pending, rc;

	memset(&pg->scope, 0, sizeof(pg->scope));
	/* No transaction was opened: nothing ran, or a read scope's statements each ended
	 * their own. */
	if (pending) {
		db_ok(db, 0);
		return DB_OK;
	}
	/* Lost inside: the server rolled it back when the connection went. */
	if (pg->lost_in_tx || PQstatus(pg->conn) == CONNECTION_BAD) {
		pg->lost_in_tx = 0;
		if (!ok) {
			db_ok(db, 0);
			return DB_OK;
		}
		return db_fail(db, DB_ERR, "COMMIT",
		               "the connection was lost inside the transaction: nothing was committed");
	}
	if (ok && PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
		(void)pg_exec(db, "ROLLBACK", 0, NULL, NULL);
		/* The statement that failed was logged; this is what it cost. */
		return db_fail(db, DB_ERR, "COMMIT",
		               "a statement had failed: the transaction was rolled back");
	}
	rc = pg_exec(db, ok ? "COMMIT" : "ROLLBACK", 0, NULL, NULL);
	/* A COMMIT that met a dead connection may or may not have been applied; either
	 * way the next statement reconnects (the scope is over). */
	pg->lost_in_tx = 0;
	return rc;
}

/* name was checked by db_session_set; value becomes a literal with its quotes doubled
 * (standard_conforming_strings is on, so a backslash is just a backslash). */
static int pg_session_set(struct db *db, const char *name, const char *value)
{
	struct db_pg *pg = pg_of(db);
	struct pg_setting *slot = NULL;
	struct buf sql;
	int rc = DB_ERR;

	buf_init(&sql, 64 * 1024);
	if (buf_printf(&sql, "SET %s = '", name) != 0)
		goto oom;
	for (const char *p = value; *p; p++)
		if (buf_append(&sql, p, 1) != 0 || (*p == '\'' && buf_append(&sql, p, 1) != 0))
			goto oom;
	if (buf_puts(&sql, "'") != 0)
		goto oom;
	for (int i = 0; i < pg->nsettings; i++)
		if (strcmp(pg->settings[i].name, name) == 0)
			slot = &pg->settings[i];
	if (!slot && pg->nsettings == PG_SETTINGS_MAX) {
		rc = db_fail(db, DB_ERR, "SET", "more than %d session settings", PG_SETTINGS_MAX);
		goto out;
	}
	/* Known dead: reconnect first (that applies the settings kept so far). */
	if (PQstatus(pg->conn) == CONNECTION_BAD && pg_reconnect(db) != 0)
		goto out;
	rc = pg_script_as(db, sql.data, "SET (a session setting)");
	if (rc != DB_OK)
		goto out;
	if (!slot) {
		slot = &pg->settings[pg->nsettings++];
		snprintf(slot->name, sizeof(slot->name), "%s", name);
	}
	free(slot->sql);
	slot->sql = buf_take(&sql);
	if (!slot->sql) {
		/* Applied, but it would not come back after a reconnect: forget the name. */
		*slot = pg->settings[--pg->nsettings];
		goto oom;
	}
	goto out;
oom:
	rc = db_fail(db, DB_ERR, "SET", "out of memory");
out:
	buf_clear(&sql);
	return rc;
}

/* name was checked by db_listen. */
static int pg_listen(struct db *db, const char *name)
{
	struct db_pg *pg = pg_of(db);
	char sql[DB_SETTING_NAME_MAX + 16];
	int rc;

	for (int i = 0; i < pg->nlisten; i++)
		if (strcmp(pg->listen[i], name) == 0)
			return DB_OK;
	if (pg->nlisten == PG_LISTEN_MAX)
		return db_fail(db, DB_ERR, "LISTEN", "more than %d channels", PG_LISTEN_MAX);
	if (PQstatus(pg->conn) == CONNECTION_BAD && pg_reconnect(db) != 0)
		return DB_ERR;
	snprintf(sql, sizeof(sql), "LISTEN %s", name);
	rc = pg_script(db, sql);
	if (rc == DB_OK)
		snprintf(pg->listen[pg->nlisten++], sizeof(pg->listen[0]), "%s", name);
	return rc;
}

/* What has arrived: libpq's queue as the exchanges so far left it, or (fresh) after one
 * more exchange, an empty query (a dead connection is made again: that counts). No read
 * of its own: a notification sent before an exchange ended was read with that
 * exchange's results, which is all the guarantee needs (db.h); one sent since waits in
 * the socket for the next exchange (a read here cost a recvfrom, EAGAIN nearly always,
 * twice a request). */
static unsigned long pg_notices(struct db *db, int fresh)
{
	struct db_pg *pg = pg_of(db);
	PGnotify *n;

	if (fresh && (PQstatus(pg->conn) == CONNECTION_OK || pg_reconnect(db) == 0))
		(void)pg_script_as(db, "", "(an empty query)");
	while ((n = PQnotifies(pg->conn)) != NULL) {
		for (int i = 0; i < pg->nlisten; i++) {
			if (strcmp(n->relname, pg->listen[i]) == 0) {
				pg->notices++;
				break;
			}
		}
		PQfreemem(n);
	}
	return pg->notices;
}

static enum db_conn pg_conn_state(struct db *db)
{
	struct db_pg *pg = pg_of(db);

	if (pg->lost_in_tx || PQstatus(pg->conn) == CONNECTION_BAD)
		return DB_CONN_BROKEN;
	return PQtransactionStatus(pg->conn) == PQTRANS_INERROR ? DB_CONN_TX_FAILED : DB_CONN_OK;
}

static void pg_close(struct db *db)
{
	struct db_pg *pg = pg_of(db);

	stmt_forget_all(pg);
	for (int i = 0; i < pg->nsettings; i++)
		free(pg->settings[i].sql);
	PQfinish(pg->conn);
	free(db);
}

static const struct db_ops pg_ops = {
	.exec = pg_exec,
	.script = pg_script,
	.in_tx = pg_in_tx,
	.reconnect = pg_reconnect,
	.close = pg_close,
	.scope_open = pg_scope_open,
	.scope_hold = pg_scope_hold,
	.scope_close = pg_scope_close,
	.listen = pg_listen,
	.notices = pg_notices,
	.session_set = pg_session_set,
	.conn_state = pg_conn_state,
};

int db_pg_open(const char *conninfo, struct db **out)
{
	struct db_pg *pg = calloc(1, sizeof(*pg));
	int rc = DB_ERR;

	if (!pg) {
		log_error("db=postgres out of memory");
		return DB_ERR;
	}
	pg->base.kind = DB_POSTGRES;
	pg->base.ops = &pg_ops;
	pg->conn = PQconnectdb(conninfo);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		/* The conninfo may hold a password: report libpq's message only. */
		(void)db_fail(&pg->base, DB_ERR, "", "cannot connect: %s",
		              pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		goto out;
	}
	PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
	if (pg_setup(&pg->base) != DB_OK)
		goto out;
	*out = &pg->base;
	pg = NULL;
	rc = DB_OK;
out:
	if (pg) {
		PQfinish(pg->conn);
		free(pg);
	}
	return rc;
}
