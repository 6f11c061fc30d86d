/* cfg.h: the one configuration table (redis's idea). Every setting has a dotted name
 * used in the YAML file (`database.driver` is `driver:` under `database:`), an
 * environment variable that overrides the file, a type, bounds and a default.
 * Values in the file may use ${VAR} to take a value from the environment.
 *
 * Order of precedence: default < file < environment < cfg_set(). The table is
 * process-wide and read-only once the program has started its threads. */
#ifndef KAIDEN_CFG_H
#define KAIDEN_CFG_H

#include <stdio.h>
#include "compat.h"

enum cfg_key {
	CFG_SERVER_SOCKET,        /* server.socket        KAIDEN_SERVER_SOCKET */
	CFG_SERVER_THREADS,       /* server.threads       KAIDEN_SERVER_THREADS */
	CFG_SERVER_MAX_BODY,      /* server.max_body      KAIDEN_SERVER_MAX_BODY (bytes) */
	CFG_SERVER_PUBLIC_URL,    /* server.public_url    KAIDEN_SERVER_PUBLIC_URL */
	CFG_SERVER_MODE,          /* server.mode          KAIDEN_SERVER_MODE single|multi */
	CFG_DATABASE_DRIVER,      /* database.driver      KAIDEN_DATABASE_DRIVER sqlite|postgres */
	CFG_DATABASE_PATH,        /* database.path        KAIDEN_DATABASE_PATH (sqlite file) */
	CFG_DATABASE_DSN,         /* database.dsn         KAIDEN_DATABASE_DSN (libpq conninfo) */
	CFG_CF_DOMAIN,            /* cloudflare.domain    KAIDEN_CF_DOMAIN */
	CFG_SESSION_SSH_PORT,     /* session.ssh_port     KAIDEN_SESSION_SSH_PORT */
	CFG_SESSION_WEB_PORT,     /* session.web_port     KAIDEN_SESSION_WEB_PORT */
	CFG_LOG_LEVEL,            /* log.level            KAIDEN_LOG_LEVEL */
	CFG__MAX
};

enum cfg_type { CFG_T_STRING, CFG_T_INT, CFG_T_ENUM };

struct cfg_entry {
	const char *name;    /* dotted name in the file */
	const char *env;     /* environment override */
	enum cfg_type type;
	const char *def;     /* default, as text */
	long min, max;       /* CFG_T_INT bounds */
	const char *choices; /* CFG_T_ENUM: "a|b|c" */
	int secret;          /* never printed */
	const char *help;    /* one line for the README and `kaiden-api config` */
};

/* Resets to defaults, reads the YAML file at path (NULL: none), then the environment.
 * 0, or -1 with a message naming the setting, the source and what is wrong. */
int cfg_load(const char *path, char *err, size_t errlen) WUR;
/* Sets one value by dotted name, checked like any other source. */
int cfg_set(const char *name, const char *value, char *err, size_t errlen) WUR;
/* Borrowed; valid until the next cfg_load/cfg_set of that key. */
const char *cfg_str(enum cfg_key key);
long cfg_int(enum cfg_key key);
const struct cfg_entry *cfg_table(void);
/* Every setting with its value and source, secrets masked. */
void cfg_dump(FILE *out);

#endif
