/* admin.h: kaiden-api's command line. main.c owns the server modes (serve, FastCGI on
 * fd 0, CGI); everything else is an admin subcommand run here.
 *
 *   kaiden-api [--config FILE] [COMMAND [OPTIONS]]
 *
 * Exit codes: 0 done, 1 failed (message on stderr), 2 bad usage. Only the result goes
 * to stdout (a token, the route table...), so scripts can capture it. */
#ifndef KAIDEN_ADMIN_H
#define KAIDEN_ADMIN_H

#include <stdio.h>
#include "compat.h"

#ifndef KAIDEN_VERSION
#define KAIDEN_VERSION "0.1.0"
#endif

#define ADMIN_EXIT_OK 0
#define ADMIN_EXIT_FAIL 1
#define ADMIN_EXIT_USAGE 2

/* The command line split into global options, the command and its arguments. */
struct admin_args {
	const char *config;  /* --config FILE, else NULL */
	const char *command; /* NULL when none was given */
	int argc;            /* the arguments after the command */
	char **argv;
};

/* Reads the leading global options (--config FILE, --config=FILE, -h/--help, which
 * becomes the command "help"). 0, or -1 after printing what is wrong to stderr. */
int admin_args_parse(int argc, char **argv, struct admin_args *a) WUR;

/* Takes the option name (and its value) at argv[*i]: "--name VALUE" or "--name=VALUE".
 * 1 (matched; *value set and *i moved past it), 0 (not this option), -1 (no value;
 * message printed). */
int admin_opt(int argc, char **argv, int *i, const char *name, const char **value) WUR;

/* cfg_load of path, else of $KAIDEN_CONFIG, else defaults; then the environment; then
 * log_init at log.level. 0, or -1 with the message printed. */
int admin_config_load(const char *path) WUR;

struct db;
/* db_open with database.driver and database.path (sqlite) or database.dsn (postgres),
 * for an admin command: it serves every tenant, so the connection keeps kaiden.staff on
 * (db_session_set; row-level security lets every row through). 0, or -1 (logged). */
int admin_db_open(struct db **out) WUR;
/* The same database for serving requests: no session-wide staff switch; each request's
 * scope sets its tenant (auth_scope_begin). */
int admin_db_open_serve(struct db **out) WUR;
/* 1 when database.dsn goes through a pooler in transaction mode (database.pooler):
 * both opens above then db_set_pooled the connection, so admin_db_open fails (its staff
 * switch is a session setting; said) and serving keeps no credentials (no LISTEN). */
int admin_db_pooled(void);

void admin_usage(FILE *out);

/* Runs a subcommand other than the server modes; returns the exit code. */
int admin_run(const struct admin_args *a) WUR;

#endif
