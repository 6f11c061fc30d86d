/* admin.c: the admin subcommands and the command-line plumbing they share with the
 * server modes in main.c. */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "catalog.h"
#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "jsonx.h"
#include "log.h"
#include "migrations.h"
#include "req.h"
#include "route.h"
#include "secret.h"
#include "store.h"
#include "store_auth.h"
#include "store_catalog.h"
#include "store_tenant.h"

/* Passwords: as the users API takes them. */
#define PASSWORD_MIN 10
#define PASSWORD_MAX 1024

void admin_usage(FILE *out)
{
	fputs("usage: kaiden-api [--config FILE] [COMMAND [OPTIONS]]\n"
	      "\n"
	      "  (no command)          answer FastCGI on fd 0 (spawn-fcgi, a web server),\n"
	      "                        or one request as CGI when stdin is not a socket\n"
	      "  serve [--socket PATH] listen on a Unix socket (server.socket) with\n"
	      "                        server.threads workers; SIGTERM/SIGINT stop it after\n"
	      "                        the requests in flight\n"
	      "  migrate               apply the database migrations this binary carries (the\n"
	      "                        one that makes the catalog also loads the built-in one)\n"
	      "  token create [--name NAME] [--tenant CODE|ID]\n"
	      "                        make a service token (the tenant's, default: the\n"
	      "                        default tenant) and print it (only it) on stdout\n"
	      "  token create --user EMAIL [--tenant CODE|ID] [--name NAME]\n"
	      "               [--expires-in-days N]\n"
	      "                        make an API token acting as that user; print it\n"
	      "  user add --email EMAIL --name NAME --role ROLE [--tenant CODE|ID]\n"
	      "           [--password-file FILE]\n"
	      "                        add a user (ROLE admin|engineer: staff; tenant_admin|\n"
	      "                        customer: of --tenant, default the default tenant);\n"
	      "                        the password is the file's first line, else stdin's;\n"
	      "                        prints the user as JSON\n"
	      "  catalog load FILE     add or replace the cloud service templates of a catalog\n"
	      "                        file by slug, all in one transaction, after checking\n"
	      "                        every one (catalog/catalog.yaml is the committed one)\n"
	      "  routes                print the route table: METHOD PATTERN per line\n"
	      "  config                print every setting, its value and where it came from\n"
	      "  version               print the version\n"
	      "  help                  print this\n"
	      "\n"
	      "The config file is --config FILE, else $KAIDEN_CONFIG; KAIDEN_* environment\n"
	      "variables override it (see `kaiden-api config`).\n",
	      out);
}

int admin_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		*i += 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "kaiden-api: %s needs a value\n", name);
		return -1;
	}
	*value = argv[*i + 1];
	*i += 2;
	return 1;
}

int admin_args_parse(int argc, char **argv, struct admin_args *a)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	while (i < argc) {
		int rc = admin_opt(argc, argv, &i, "--config", &a->config);
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			a->command = "help";
			i++;
			break;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "kaiden-api: unknown option %s (see kaiden-api --help)\n",
			        argv[i]);
			return -1;
		}
		a->command = argv[i++];
		break;
	}
	a->argc = argc - i;
	a->argv = argv + i;
	return 0;
}

/* The config file admin_config_load read (borrowed from argv or the environment), for
 * messages that must say which settings were used. */
static const char *config_file;

int admin_config_load(const char *path)
{
	char err[512];
	int level;

	if (!path || !*path)
		path = getenv("KAIDEN_CONFIG");
	if (path && !*path)
		path = NULL;
	config_file = path;
	if (cfg_load(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "kaiden-api: config: %s\n", err);
		return -1;
	}
	level = log_level_parse(cfg_str(CFG_LOG_LEVEL));
	log_init("kaiden-api", level < 0 ? LOG_LVL_INFO : (enum log_level)level);
	return 0;
}

/* The setting naming the database: key (database.dsn or database.owner_dsn) on
 * PostgreSQL, database.path on SQLite. */
static enum cfg_key db_key(enum cfg_key key)
{
	return strcmp(cfg_str(CFG_DATABASE_DRIVER), "postgres") == 0 ? key : CFG_DATABASE_PATH;
}

/* Which database, and from which settings, for a message: "the SQLite database
 * /x/kaiden.db (database.path from the file var/kaiden.yaml)". A PostgreSQL DSN may hold
 * a password, so only where it came from is said. key: as db_key gives it. */
static void db_describe(enum cfg_key key, char *out, size_t len)
{
	const struct cfg_entry *e = &cfg_table()[key];
	const char *source = cfg_source(key);
	char from[512];

	if (strcmp(source, "file") == 0)
		snprintf(from, sizeof(from), "from the file %s", config_file ? config_file : "?");
	else if (strcmp(source, "environment") == 0)
		snprintf(from, sizeof(from), "from the environment, %s", e->env);
	else if (strcmp(source, "default") == 0)
		snprintf(from, sizeof(from), "is the default: %s, no %s",
		         config_file ? "not in the config file" : "no config file given", e->env);
	else
		snprintf(from, sizeof(from), "from the %s", source);
	if (key == CFG_DATABASE_PATH)
		snprintf(out, len, "the SQLite database %s (%s %s)", cfg_str(key), e->name, from);
	else
		snprintf(out, len, "the PostgreSQL database (%s %s)", e->name, from);
}

int admin_db_pooled(void)
{
	return strcmp(cfg_str(CFG_DATABASE_DRIVER), "postgres") == 0 &&
	       strcmp(cfg_str(CFG_DATABASE_POOLER), "transaction") == 0;
}

/* key: database.dsn or database.owner_dsn (db_key). create: 1 for `migrate`, the only
 * command that may make a new SQLite file. */
static int db_open_as(enum cfg_key key, int create, struct db **out)
{
	const char *driver = cfg_str(CFG_DATABASE_DRIVER);
	char where[1024];
	int rc;

	key = db_key(key);
	rc = create ? db_open(driver, cfg_str(key), out)
	            : db_open_existing(driver, cfg_str(key), out);
	if (rc == DB_OK) {
		/* database.owner_dsn is not pooled: migrations want a session of their own. */
		if (key == CFG_DATABASE_DSN && admin_db_pooled())
			db_set_pooled(*out);
		return 0;
	}
	db_describe(key, where, sizeof(where));
	if (rc == DB_MISSING)
		log_error("%s does not exist: run `kaiden-api migrate` with the same settings to "
		          "create it (make run's settings: --config VAR/kaiden.yaml)", where);
	else
		log_error("could not open %s", where);
	return -1;
}

/* Says, and fails, when the database is not migrated to this binary's version: every
 * command would otherwise fail on its first table with "no such table". */
static int db_check_migrated(struct db *db)
{
	char where[1024];
	int version = 0, want = migrations_latest(db);

	if (store_schema_version(db, &version) != 0)
		return -1;
	if (version == want)
		return 0;
	db_describe(db_key(CFG_DATABASE_DSN), where, sizeof(where));
	if (version == 0)
		log_error("%s is not migrated (no tables): run `kaiden-api migrate` with the same "
		          "settings first", where);
	else
		log_error("%s is at schema version %d, this binary needs %d: run `kaiden-api "
		          "migrate`", where, version, want);
	return -1;
}

int admin_db_open(struct db **out)
{
	struct db *db = NULL;

	if (db_open_as(CFG_DATABASE_DSN, 0, &db) < 0)
		return -1;
	if (db_check_migrated(db) < 0) {
		db_close(db);
		return -1;
	}
	/* The admin commands serve every tenant: row-level security's staff switch (db.h). */
	if (db_session_set(db, "kaiden.staff", "on") != DB_OK) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int admin_db_open_serve(struct db **out)
{
	return db_open_as(CFG_DATABASE_DSN, 0, out);
}

/* Options common to every subcommand: --config may also follow the command. Anything
 * else unknown is a usage error. Returns 0, or ADMIN_EXIT_USAGE. */
static int only_config(const struct admin_args *a, const char **config)
{
	for (int i = 0; i < a->argc;) {
		int rc = admin_opt(a->argc, a->argv, &i, "--config", config);
		if (rc < 0)
			return ADMIN_EXIT_USAGE;
		if (rc == 0) {
			fprintf(stderr, "kaiden-api %s: unexpected argument %s\n", a->command,
			        a->argv[i]);
			return ADMIN_EXIT_USAGE;
		}
	}
	return 0;
}

static int cmd_routes(void)
{
	const struct route *t = route_table();

	for (int i = 0; i < ROUTE__MAX; i++)
		printf("%s %s\n", req_method_name(t[i].method), t[i].pattern);
	return ADMIN_EXIT_OK;
}

static void cli_audit(struct db *db, const char *tenant_id, const char *action,
                      const char *target_type, const char *target_id, json_object *details);

/* Loads checked templates: 0 with "added N, replaced M" said on stdout, or -1 (said). */
static int catalog_store(struct db *db, const char *cmd, json_object *templates)
{
	json_object *made = NULL, *replaced = NULL, *details;
	int rc = store_catalog_load(db, templates, &made, &replaced);

	if (rc != STORE_OK) {
		fprintf(stderr, "kaiden-api %s: the catalog could not be written (%s); nothing "
		                "was changed\n", cmd, db_errmsg(db));
		return -1;
	}
	details = json_object_new_object();
	if (details) {
		json_object_object_add(details, "created", json_object_get(made));
		json_object_object_add(details, "updated", json_object_get(replaced));
	}
	cli_audit(db, NULL, "catalog.load", "app_template", NULL, details);
	printf("catalog: added %zu, replaced %zu template(s)\n", json_object_array_length(made),
	       json_object_array_length(replaced));
	json_object_put(details);
	json_object_put(made);
	json_object_put(replaced);
	return 0;
}

/* The migration that made app_templates has just run: a fresh install gets the catalog
 * this binary carries (an existing one keeps its own; `catalog load` updates it). */
#define CATALOG_MIGRATION 15
/* The one that made values_schema keep its text (0020): an existing catalog gets the
 * built-in templates' order back where their schemas still say the same (jsonb had
 * sorted the keys: docs/decisions.md, "Issue 13: the form's order"). */
#define CATALOG_ORDER_MIGRATION 20

/* The built-in templates' values_schema order put back (store_catalog_reorder): 0, or
 * -1 (said). */
static int catalog_reorder(struct db *db)
{
	json_object *templates = NULL, *done = NULL;
	char why[600];
	int rc = catalog_read_builtin(&templates, why, sizeof(why));

	if (rc < 0) {
		fprintf(stderr, "kaiden-api migrate: %s\n", why);
	} else if (db_session_set(db, "kaiden.staff", "on") != DB_OK ||
	           store_catalog_reorder(db, templates, &done) != STORE_OK) {
		fprintf(stderr, "kaiden-api migrate: the catalog's order could not be written (%s)\n",
		        db_errmsg(db));
		rc = -1;
	} else {
		printf("catalog: the form's order put back in %zu template(s)\n",
		       json_object_array_length(done));
	}
	json_object_put(templates);
	json_object_put(done);
	return rc;
}

static int cmd_migrate(void)
{
	struct db *db = NULL;
	int applied = 0, before = 0;

	/* As the schema's owner when one is configured: the application's role may not
	 * create or alter tables (sql/pg/0006_rls.sql). */
	if (db_open_as(*cfg_str(CFG_DATABASE_OWNER_DSN) ? CFG_DATABASE_OWNER_DSN : CFG_DATABASE_DSN,
	               1, &db) < 0)
		return ADMIN_EXIT_FAIL;
	if (store_schema_version(db, &before) < 0 || migrations_apply(db, &applied) < 0) {
		fprintf(stderr, "kaiden-api migrate: failed after %d migration(s): %s\n", applied,
		        db_errmsg(db));
		db_close(db);
		return ADMIN_EXIT_FAIL;
	}
	printf("applied %d migration(s)\n", applied);
	if (before < CATALOG_MIGRATION && applied > 0 &&
	    migrations_latest(db) >= CATALOG_MIGRATION) {
		json_object *templates = NULL;
		char why[600];
		int rc = catalog_read_builtin(&templates, why, sizeof(why));
		/* Its audit row is the platform's: row-level security's staff switch. */
		if (rc == 0 && db_session_set(db, "kaiden.staff", "on") != DB_OK)
			rc = -1;
		if (rc < 0 && templates)
			fprintf(stderr, "kaiden-api migrate: the catalog was not loaded\n");
		else if (rc < 0)
			fprintf(stderr, "kaiden-api migrate: %s\n", why);
		else
			rc = catalog_store(db, "migrate", templates);
		json_object_put(templates);
		if (rc < 0) {
			db_close(db);
			return ADMIN_EXIT_FAIL;
		}
	} else if (before >= CATALOG_MIGRATION && before < CATALOG_ORDER_MIGRATION &&
	           applied > 0 && migrations_latest(db) >= CATALOG_ORDER_MIGRATION &&
	           catalog_reorder(db) < 0) {
		db_close(db);
		return ADMIN_EXIT_FAIL;
	}
	db_close(db);
	return ADMIN_EXIT_OK;
}

static int cmd_catalog(const struct admin_args *a)
{
	const char *config = a->config, *file = NULL;
	json_object *templates = NULL;
	struct db *db = NULL;
	char why[600];
	int rc = ADMIN_EXIT_FAIL;

	if (a->argc < 1 || strcmp(a->argv[0], "load") != 0)
		goto usage;
	for (int i = 1; i < a->argc;) {
		int got = admin_opt(a->argc, a->argv, &i, "--config", &config);
		if (got < 0)
			goto usage;
		if (got == 0) {
			if (file || a->argv[i][0] == '-')
				goto usage;
			file = a->argv[i++];
		}
	}
	if (!file)
		goto usage;
	if (admin_config_load(config) < 0)
		return ADMIN_EXIT_FAIL;
	/* Every template is checked before the database is touched. */
	if (catalog_read_file(file, &templates, why, sizeof(why)) < 0) {
		fprintf(stderr, "kaiden-api catalog load: %s\n", why);
		return ADMIN_EXIT_FAIL;
	}
	if (admin_db_open(&db) == 0 && catalog_store(db, "catalog load", templates) == 0)
		rc = ADMIN_EXIT_OK;
	db_close(db);
	json_object_put(templates);
	return rc;
usage:
	fprintf(stderr, "usage: kaiden-api catalog load FILE\n");
	return ADMIN_EXIT_USAGE;
}

/* --tenant CODE|ID -> the tenant's id; 0, or -1 with the message printed. */
static int tenant_resolve(struct db *db, const char *cmd, const char *given,
                          char id[UUID_STR_LEN])
{
	json_object *tenant = NULL;
	int rc;

	if (ids_is_uuid(given)) {
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			id[i] = (char)tolower((unsigned char)given[i]);
		rc = store_tenant_get(db, id, &tenant);
		json_object_put(tenant);
	} else {
		rc = store_tenant_by_code(db, given, id);
	}
	if (rc == STORE_NOT_FOUND) {
		fprintf(stderr, "kaiden-api %s: no tenant has the id or code %s\n", cmd, given);
		return -1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "kaiden-api %s: could not look the tenant up (is the database "
		                "migrated?)\n", cmd);
		return -1;
	}
	return 0;
}

/* An audit row for what a command did: no actor (the operator at the console). */
static void cli_audit(struct db *db, const char *tenant_id, const char *action,
                      const char *target_type, const char *target_id, json_object *details)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	a.actor_email = "(kaiden-api command line)";
	a.action = action;
	a.target_type = target_type;
	a.target_id = target_id;
	a.details = details;
	if (store_audit_add(db, &a) != STORE_OK)
		log_warn("audit action=%s target=%s could not be recorded", action,
		         target_id ? target_id : "-");
}

/* The user with this email (exactly, any case), among tenant_id's users when given,
 * else among every user. 0 with *out (owned), or -1 with the message printed. */
static int user_by_email(struct db *db, const char *cmd, const char *tenant_id,
                         const char *email, json_object **out)
{
	struct store_page page = { 200, NULL };
	char cursor[UUID_STR_LEN];
	json_object *found = NULL;
	int matches = 0, rc = -1;

	for (;;) {
		struct store_list list;
		memset(&list, 0, sizeof(list));
		if (store_user_list(db, tenant_id, 0, NULL, email, &page, &list) != STORE_OK) {
			fprintf(stderr, "kaiden-api %s: could not list users (is the database "
			                "migrated?)\n", cmd);
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(list.items); i++) {
			json_object *u = json_object_array_get_idx(list.items, i);
			const char *e = jsonx_str(u, "email");
			if (e && strcasecmp(e, email) == 0) {
				matches++;
				json_object_put(found);
				found = json_object_get(u);
			}
		}
		json_object_put(list.items);
		if (!list.has_more)
			break;
		memcpy(cursor, list.next_cursor, sizeof(cursor));
		page.cursor = cursor;
	}
	if (matches == 0) {
		fprintf(stderr, "kaiden-api %s: no user has the email %s%s\n", cmd, email,
		        tenant_id ? " in that tenant" : "");
		goto out;
	}
	if (matches > 1) {
		fprintf(stderr, "kaiden-api %s: %d users have the email %s (one per tenant); name "
		                "the tenant with --tenant CODE|ID\n", cmd, matches, email);
		goto out;
	}
	*out = found;
	found = NULL;
	rc = 0;
out:
	json_object_put(found);
	return rc;
}

/* A token for an existing user: acts with that user's rights as they are when used. */
static int token_for_user(struct db *db, const char *user_email, const char *tenant_given,
                          const char *name, long days)
{
	char tenant[UUID_STR_LEN], token[TOKEN_LEN];
	json_object *user = NULL, *out = NULL, *details = NULL;
	struct store_identity who;
	const char *v;
	int rc = ADMIN_EXIT_FAIL;

	token[0] = '\0';
	if (tenant_given && tenant_resolve(db, "token create", tenant_given, tenant) < 0)
		goto out;
	if (user_by_email(db, "token create", tenant_given ? tenant : NULL, user_email, &user) < 0)
		goto out;
	if ((v = jsonx_str(user, "status")) && strcmp(v, "active") != 0) {
		fprintf(stderr, "kaiden-api token create: the user %s is %s\n", user_email, v);
		goto out;
	}
	memset(&who, 0, sizeof(who));
	snprintf(who.user_id, sizeof(who.user_id), "%s", jsonx_str(user, "id"));
	v = jsonx_str(user, "tenant_id");
	snprintf(who.tenant_id, sizeof(who.tenant_id), "%s", v ? v : "");
	snprintf(who.email, sizeof(who.email), "%s", jsonx_str(user, "email"));
	who.role = role_parse(jsonx_str(user, "role"));
	if (store_user_token_create(db, &who, name, days * 86400L, token, &out) != STORE_OK) {
		fprintf(stderr, "kaiden-api token create: could not store the token\n");
		goto out;
	}
	details = json_object_new_object();
	jsonx_add_str(details, "name", name);
	jsonx_add_str(details, "user_id", who.user_id);
	jsonx_add_str(details, "source", "command line");
	cli_audit(db, who.tenant_id[0] ? who.tenant_id : NULL, "token.create", "token",
	          jsonx_str(out, "id"), details);
	printf("%s\n", token);
	if (fflush(stdout) == 0)
		rc = ADMIN_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	json_object_put(details);
	json_object_put(out);
	json_object_put(user);
	return rc;
}

static int cmd_token(const struct admin_args *a)
{
	const char *config = a->config, *name = "cli", *tenant_given = NULL, *user = NULL;
	const char *days_text = NULL;
	char token[TOKEN_LEN], tenant[UUID_STR_LEN];
	json_object *out = NULL, *details = NULL;
	struct db *db = NULL;
	long days = 0;
	int rc = ADMIN_EXIT_FAIL;

	if (a->argc < 1 || strcmp(a->argv[0], "create") != 0)
		goto usage;
	for (int i = 1; i < a->argc;) {
		int m = admin_opt(a->argc, a->argv, &i, "--name", &name);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--tenant", &tenant_given);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--user", &user);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--expires-in-days", &days_text);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--config", &config);
		if (m == 0)
			fprintf(stderr, "kaiden-api token create: unexpected argument %s\n", a->argv[i]);
		if (m <= 0)
			goto usage;
	}
	if (!*name || strlen(name) > 128 || !req_text_valid(name)) {
		fprintf(stderr, "kaiden-api token create: --name must be 1 to 128 printable "
		                "characters\n");
		return ADMIN_EXIT_USAGE;
	}
	if (days_text) {
		char *end = NULL;
		days = strtol(days_text, &end, 10);
		if (!user || !end || *end || end == days_text || days < 1 || days > 3650) {
			fprintf(stderr, "kaiden-api token create: --expires-in-days takes 1 to 3650, "
			                "with --user\n");
			return ADMIN_EXIT_USAGE;
		}
	}
	if (tenant_given && (!*tenant_given || strlen(tenant_given) > 63)) {
		fprintf(stderr, "kaiden-api token create: --tenant must be a tenant's id or code\n");
		return ADMIN_EXIT_USAGE;
	}
	if (user && (!*user || strlen(user) > 254)) {
		fprintf(stderr, "kaiden-api token create: --user must be a user's email\n");
		return ADMIN_EXIT_USAGE;
	}
	if (admin_config_load(config) < 0)
		return ADMIN_EXIT_FAIL;
	if (secret_init() < 0) {
		fprintf(stderr, "kaiden-api: libsodium failed to initialise\n");
		return ADMIN_EXIT_FAIL;
	}
	if (admin_db_open(&db) < 0)
		return ADMIN_EXIT_FAIL;
	if (user) {
		rc = token_for_user(db, user, tenant_given, name, days);
		db_close(db);
		return rc;
	}
	/* A service token: no user, the tenant's (default: the default tenant's). */
	memcpy(tenant, DEFAULT_TENANT_ID, sizeof(DEFAULT_TENANT_ID));
	if (tenant_given && tenant_resolve(db, "token create", tenant_given, tenant) < 0)
		goto out;
	if (store_token_create(db, tenant, name, token, &out) != STORE_OK) {
		fprintf(stderr, "kaiden-api token create: could not store the token (is the "
		                "database migrated? does the tenant exist?)\n");
		goto out;
	}
	details = json_object_new_object();
	jsonx_add_str(details, "name", name);
	jsonx_add_str(details, "source", "command line");
	cli_audit(db, tenant, "token.create", "token", out ? jsonx_str(out, "id") : NULL, details);
	printf("%s\n", token);
	if (fflush(stdout) != 0)
		goto out;
	rc = ADMIN_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	json_object_put(details);
	json_object_put(out);
	db_close(db);
	return rc;
usage:
	fprintf(stderr, "usage: kaiden-api token create [--name NAME] [--tenant CODE|ID]\n"
	                "       kaiden-api token create --user EMAIL [--tenant CODE|ID] "
	                "[--name NAME] [--expires-in-days N]\n");
	return ADMIN_EXIT_USAGE;
}

/* Characters (code points) of valid UTF-8. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Turns terminal echo off (on: 0) or back on; 0, or -1 when stdin is no terminal. */
static int echo_off(struct termios *saved)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) != 0)
		return -1;
	t = *saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	return tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0 ? 0 : -1;
}

/* One line (without its line end) from f into out; 0, or -1 when there is none or it is
 * too long. */
static int read_line(FILE *f, char *out, size_t outlen)
{
	size_t len;

	if (!fgets(out, (int)outlen, f))
		return -1;
	len = strlen(out);
	if (len && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (!feof(f))
		return -1; /* longer than outlen - 1 */
	if (len && out[len - 1] == '\r')
		out[--len] = '\0';
	return 0;
}

/* The new user's password: the first line of --password-file, else of stdin (asked
 * twice, without echo, on a terminal). Never from the command line, where any user of
 * the machine could read it (ps, /proc). 0, or -1 with the message printed. */
static int password_read(const char *file, char *out, size_t outlen)
{
	struct termios saved;
	char again[PASSWORD_MAX + 2];
	FILE *f = stdin;
	int tty, rc = -1;

	if (file && strcmp(file, "-") != 0) {
		f = fopen(file, "r");
		if (!f) {
			fprintf(stderr, "kaiden-api user add: cannot read --password-file %s: %s\n", file,
			        strerror(errno));
			return -1;
		}
	}
	tty = f == stdin && echo_off(&saved) == 0;
	if (tty)
		fputs("Password: ", stderr);
	if (read_line(f, out, outlen) < 0) {
		fprintf(stderr, "%skaiden-api user add: no password given (one line of at most %d "
		                "characters on stdin or in --password-file)\n", tty ? "\n" : "",
		        PASSWORD_MAX);
		goto out;
	}
	if (tty) {
		fputs("\nAgain: ", stderr);
		if (read_line(f, again, sizeof(again)) < 0 || strcmp(again, out) != 0) {
			fputs("\nkaiden-api user add: the passwords differ\n", stderr);
			goto out;
		}
		fputs("\n", stderr);
	}
	rc = 0;
out:
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	if (f != stdin)
		fclose(f);
	explicit_bzero(again, sizeof(again));
	if (rc < 0)
		explicit_bzero(out, outlen);
	return rc;
}

static int cmd_user(const struct admin_args *a)
{
	const char *config = a->config, *email = NULL, *name = NULL, *role_text = NULL;
	const char *tenant_given = NULL, *password_file = NULL;
	char password[PASSWORD_MAX + 2], tenant[UUID_STR_LEN];
	json_object *user = NULL, *details = NULL;
	struct store_user_new u;
	struct db *db = NULL;
	enum role role;
	int rc = ADMIN_EXIT_FAIL, src;

	password[0] = '\0';
	if (a->argc < 1 || strcmp(a->argv[0], "add") != 0)
		goto usage;
	for (int i = 1; i < a->argc;) {
		int m = admin_opt(a->argc, a->argv, &i, "--email", &email);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--name", &name);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--role", &role_text);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--tenant", &tenant_given);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--password-file", &password_file);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--config", &config);
		if (m == 0 && strncmp(a->argv[i], "--password", 10) == 0) {
			fprintf(stderr, "kaiden-api user add: the password is never an argument (ps "
			                "shows arguments to everyone): use --password-file FILE or "
			                "stdin\n");
			return ADMIN_EXIT_USAGE;
		}
		if (m == 0)
			fprintf(stderr, "kaiden-api user add: unexpected argument %s\n", a->argv[i]);
		if (m <= 0)
			goto usage;
	}
	if (!email || !name || !role_text)
		goto usage;
	role = role_parse(role_text);
	if (role == ROLE_NONE) {
		fprintf(stderr, "kaiden-api user add: --role must be admin, engineer, tenant_admin or "
		                "customer\n");
		return ADMIN_EXIT_USAGE;
	}
	if ((role & ROLE_STAFF) && tenant_given) {
		fprintf(stderr, "kaiden-api user add: %s is a platform role (staff belong to no "
		                "tenant): leave --tenant out\n", role_text);
		return ADMIN_EXIT_USAGE;
	}
	if (strlen(email) > 254 || !strchr(email, '@') || !req_text_valid(email) ||
	    strchr(email, ' ')) {
		fprintf(stderr, "kaiden-api user add: --email must be an address like "
		                "name@example.com\n");
		return ADMIN_EXIT_USAGE;
	}
	if (!*name || utf8_chars(name) > 200 || !req_text_valid(name)) {
		fprintf(stderr, "kaiden-api user add: --name must be 1 to 200 printable characters\n");
		return ADMIN_EXIT_USAGE;
	}
	if (password_read(password_file, password, sizeof(password)) < 0) {
		rc = ADMIN_EXIT_USAGE;
		goto out;
	}
	if (strlen(password) < PASSWORD_MIN || strlen(password) > PASSWORD_MAX ||
	    !req_text_valid(password)) {
		fprintf(stderr, "kaiden-api user add: the password must be %d to %d printable "
		                "characters\n", PASSWORD_MIN, PASSWORD_MAX);
		rc = ADMIN_EXIT_USAGE;
		goto out;
	}
	if (admin_config_load(config) < 0)
		goto out;
	if (secret_init() < 0) {
		fprintf(stderr, "kaiden-api: libsodium failed to initialise\n");
		goto out;
	}
	if (admin_db_open(&db) < 0)
		goto out;
	/* A tenant role without --tenant: the default tenant (single mode's only one). */
	memcpy(tenant, DEFAULT_TENANT_ID, sizeof(DEFAULT_TENANT_ID));
	if (tenant_given && tenant_resolve(db, "user add", tenant_given, tenant) < 0)
		goto out;

	memset(&u, 0, sizeof(u));
	u.tenant_id = (role & ROLE_STAFF) ? NULL : tenant;
	u.email = email;
	u.name = name;
	u.role = role;
	u.password = password;
	src = store_user_create(db, &u, &user);
	if (src == STORE_CONFLICT) {
		fprintf(stderr, "kaiden-api user add: a user with the email %s already exists %s\n",
		        email, u.tenant_id ? "in that tenant" : "among staff");
		goto out;
	}
	if (src != STORE_OK) {
		fprintf(stderr, "kaiden-api user add: could not store the user (is the database "
		                "migrated?)\n");
		goto out;
	}
	details = json_object_new_object();
	jsonx_add_str(details, "role", role_name(role));
	jsonx_add_str(details, "source", "command line");
	cli_audit(db, u.tenant_id, "user.create", "user", jsonx_str(user, "id"), details);
	printf("%s\n", json_object_to_json_string_ext(user, JSON_C_TO_STRING_PLAIN));
	if (fflush(stdout) == 0)
		rc = ADMIN_EXIT_OK;
out:
	explicit_bzero(password, sizeof(password));
	json_object_put(details);
	json_object_put(user);
	db_close(db);
	return rc;
usage:
	fprintf(stderr, "usage: kaiden-api user add --email EMAIL --name NAME --role ROLE "
	                "[--tenant CODE|ID]\n"
	                "                           [--password-file FILE]   (else the password "
	                "is read from stdin)\n"
	                "  ROLE: admin | engineer (platform staff) | tenant_admin | customer "
	                "(--tenant, default: the default tenant)\n");
	return ADMIN_EXIT_USAGE;
}

int admin_run(const struct admin_args *a)
{
	const char *config = a->config;
	int rc;

	if (strcmp(a->command, "help") == 0) {
		admin_usage(stdout);
		return ADMIN_EXIT_OK;
	}
	if (strcmp(a->command, "version") == 0) {
		printf("kaiden-api %s\n", KAIDEN_VERSION);
		return ADMIN_EXIT_OK;
	}
	if (strcmp(a->command, "token") == 0)
		return cmd_token(a);
	if (strcmp(a->command, "user") == 0)
		return cmd_user(a);
	if (strcmp(a->command, "catalog") == 0)
		return cmd_catalog(a);
	if (strcmp(a->command, "routes") != 0 && strcmp(a->command, "migrate") != 0 &&
	    strcmp(a->command, "config") != 0) {
		fprintf(stderr, "kaiden-api: unknown command %s\n\n", a->command);
		admin_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	rc = only_config(a, &config);
	if (rc != 0)
		return rc;
	if (strcmp(a->command, "routes") == 0)
		return cmd_routes();
	if (admin_config_load(config) < 0)
		return ADMIN_EXIT_FAIL;
	if (strcmp(a->command, "config") == 0) {
		cfg_dump(stdout);
		return ADMIN_EXIT_OK;
	}
	return cmd_migrate();
}
