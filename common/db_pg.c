/* db_pg.c: the PostgreSQL backend of db.h, on libpq.
 *
 * Every statement is sent with untyped text parameters, so the server infers each $n's
 * type from where it is used (a uuid column makes it a uuid). The session runs with
 * TimeZone=UTC and DateStyle=ISO; timestamptz results (OID 1184) come back as
 * "2026-11-23 03:45:56.123+00" and are rewritten to the RFC 3339 form ids.h makes,
 * "2026-11-23T03:45:56.123Z", so both backends hand out the same text.
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
 * either way, so results, types and errors are those PQexecParams gives.
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
 * roll back), so nothing of its later statements runs outside it. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_impl.h"
#include "log.h"

#define PG_TIMESTAMPTZ_OID 1184
#define PG_STMT_CACHE_SIZE 64

struct pg_stmt {
	char *sql; /* owned copy: the key */
	unsigned long hash;
	char name[24]; /* "k<n>" */
};

struct db_pg {
	struct db base; /* first: a struct db * is a struct db_pg * */
	PGconn *conn;
	unsigned long next_name; /* the number of the last statement name handed out */
	int nstmts;              /* stmts[0 .. nstmts - 1] are in use */
	int lost_in_tx;          /* the connection died inside a transaction not yet ended */
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

/* FNV-1a, as in db_sqlite.c: the store's statements share long prefixes, so hashes are
 * compared before texts. */
static unsigned long sql_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619UL;
	return h;
}

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

	if (!stmt_worth_preparing(sql))
		return PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
	hash = sql_hash(sql);
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

/* "YYYY-MM-DD HH:MM:SS[.ffffff]+00" -> "YYYY-MM-DDTHH:MM:SS.fffZ" (fraction cut to
 * milliseconds, as ids_timestamp makes them). Anything else ("infinity", years past 9999,
 * BC dates) is left as PostgreSQL wrote it. 1 if out was written. */
static int pg_timestamp(const char *s, size_t len, char out[32])
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

static int pg_build(PGresult *pgres, struct db_res **out)
{
	struct db_res_build b;
	int rows = PQntuples(pgres), cols = PQnfields(pgres);
	char ts[32];

	db_res_build_init(&b, cols);
	for (int c = 0; c < cols; c++) {
		const char *name = PQfname(pgres, c);
		if (db_res_build_add(&b, name, strlen(name)) != 0)
			goto fail;
	}
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++) {
			const char *v = PQgetisnull(pgres, r, c) ? NULL : PQgetvalue(pgres, r, c);
			size_t len = v ? (size_t)PQgetlength(pgres, r, c) : 0;
			if (v && PQftype(pgres, c) == PG_TIMESTAMPTZ_OID && pg_timestamp(v, len, ts)) {
				v = ts;
				len = strlen(ts);
			}
			if (db_res_build_add(&b, v, len) != 0)
				goto fail;
		}
	}
	return db_res_build_finish(&b, out);
fail:
	db_res_build_clear(&b);
	return -1;
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

static int pg_exec(struct db *db, const char *sql, int n, const char *const *params,
                   struct db_res **out)
{
	PGresult *res;
	ExecStatusType st;
	struct db_res *rows = NULL;
	int rc = DB_ERR;

	int was_in_tx;

	if (PQstatus(pg_of(db)->conn) == CONNECTION_BAD) {
		if (pg_of(db)->lost_in_tx) {
			if (strcmp(sql, "ROLLBACK") == 0) {
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
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		if (was_in_tx && PQstatus(pg_of(db)->conn) == CONNECTION_BAD &&
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
	if (out && pg_build(res, &rows) != 0) {
		rc = db_fail(db, DB_ERR, sql, "out of memory building the result");
		goto out;
	}
	/* PostgreSQL counts the rows a SELECT returned; db_changes counts changed rows. */
	db_ok(db, strncmp(PQcmdStatus(res), "SELECT", 6) == 0 ? 0 : atol(PQcmdTuples(res)));
	if (out)
		*out = rows;
	rc = DB_OK;
out:
	PQclear(res);
	return rc;
}

static int pg_script(struct db *db, const char *sql)
{
	PGresult *res = PQexec(pg_of(db)->conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = DB_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
		rc = pg_result_fail(db, res, sql);
	else
		db_ok(db, 0);
	PQclear(res);
	return rc;
}

static int pg_in_tx(struct db *db)
{
	PGTransactionStatusType st = PQtransactionStatus(pg_of(db)->conn);

	if (pg_of(db)->lost_in_tx)
		return 1; /* until its ROLLBACK: see the top of this file */

	return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

/* What every new connection needs: UTF-8, UTC, ISO dates (so pg_timestamp can read
 * them), and backslashes in literals taken literally (LIKE ... ESCAPE '\'). */
static int pg_setup(struct db *db)
{
	PGconn *conn = pg_of(db)->conn;

	if (PQsetClientEncoding(conn, "UTF8") != 0)
		return db_fail(db, DB_ERR, "", "cannot set client_encoding: %s", PQerrorMessage(conn));
	return pg_script(db, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
	                     "SET standard_conforming_strings = on");
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
	/* Prepared statements die with the session they were made in. */
	stmt_forget_all(pg_of(db));
	if (PQstatus(conn) != CONNECTION_OK) {
		(void)db_fail(db, DB_ERR, "", "reconnect failed: %s", PQerrorMessage(conn));
		return -1;
	}
	return pg_setup(db) == DB_OK ? 0 : -1;
}

static void pg_close(struct db *db)
{
	stmt_forget_all(pg_of(db));
	PQfinish(pg_of(db)->conn);
	free(db);
}

static const struct db_ops pg_ops = {
	.exec = pg_exec,
	.script = pg_script,
	.in_tx = pg_in_tx,
	.reconnect = pg_reconnect,
	.close = pg_close,
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
