/* db_pg.c: the PostgreSQL backend of db.h, on libpq.
 *
 * Every statement goes through PQexecParams with untyped text parameters, so the server
 * infers each $n's type from where it is used (a uuid column makes it a uuid). The
 * session runs with TimeZone=UTC and DateStyle=ISO; timestamptz results (OID 1184) come
 * back as "2026-11-23 03:45:56.123+00" and are rewritten to the RFC 3339 form ids.h
 * makes, "2026-11-23T03:45:56.123Z", so both backends hand out the same text. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "log.h"

#define PG_TIMESTAMPTZ_OID 1184

struct db_pg {
	struct db base; /* first: a struct db * is a struct db_pg * */
	PGconn *conn;
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

static int pg_exec(struct db *db, const char *sql, int n, const char *const *params,
                   struct db_res **out)
{
	PGconn *conn = pg_of(db)->conn;
	PGresult *res;
	ExecStatusType st;
	struct db_res *rows = NULL;
	int rc = DB_ERR;

	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
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
	if (PQstatus(conn) != CONNECTION_OK) {
		(void)db_fail(db, DB_ERR, "", "reconnect failed: %s", PQerrorMessage(conn));
		return -1;
	}
	return pg_setup(db) == DB_OK ? 0 : -1;
}

static void pg_close(struct db *db)
{
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
