/* admin.c: the admin subcommands and the command-line plumbing they share with the
 * server modes in main.c. */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "log.h"
#include "migrations.h"
#include "req.h"
#include "route.h"
#include "secret.h"
#include "store.h"

void admin_usage(FILE *out)
{
	fputs("usage: kaiden-api [--config FILE] [COMMAND [OPTIONS]]\n"
	      "\n"
	      "  (no command)          answer FastCGI on fd 0 (spawn-fcgi, a web server),\n"
	      "                        or one request as CGI when stdin is not a socket\n"
	      "  serve [--socket PATH] listen on a Unix socket (server.socket) with\n"
	      "                        server.threads workers; SIGTERM/SIGINT stop it after\n"
	      "                        the requests in flight\n"
	      "  migrate               apply the database migrations this binary carries\n"
	      "  token create [--name NAME] [--tenant ID]\n"
	      "                        make an API token and print it (only it) on stdout\n"
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

int admin_config_load(const char *path)
{
	char err[512];
	int level;

	if (!path || !*path)
		path = getenv("KAIDEN_CONFIG");
	if (path && !*path)
		path = NULL;
	if (cfg_load(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "kaiden-api: config: %s\n", err);
		return -1;
	}
	level = log_level_parse(cfg_str(CFG_LOG_LEVEL));
	log_init("kaiden-api", level < 0 ? LOG_LVL_INFO : (enum log_level)level);
	return 0;
}

int admin_db_open(struct db **out)
{
	const char *driver = cfg_str(CFG_DATABASE_DRIVER);
	const char *target = strcmp(driver, "postgres") == 0 ? cfg_str(CFG_DATABASE_DSN)
	                                                     : cfg_str(CFG_DATABASE_PATH);

	if (db_open(driver, target, out) < 0) {
		log_error("database=%s could not open it", driver);
		return -1;
	}
	return 0;
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

static int cmd_migrate(void)
{
	struct db *db = NULL;
	int applied = 0;

	if (admin_db_open(&db) < 0)
		return ADMIN_EXIT_FAIL;
	if (migrations_apply(db, &applied) < 0) {
		fprintf(stderr, "kaiden-api migrate: failed after %d migration(s): %s\n", applied,
		        db_errmsg(db));
		db_close(db);
		return ADMIN_EXIT_FAIL;
	}
	db_close(db);
	printf("applied %d migration(s)\n", applied);
	return ADMIN_EXIT_OK;
}

static int cmd_token(const struct admin_args *a)
{
	const char *config = a->config, *name = "cli", *tenant = DEFAULT_TENANT_ID;
	char token[TOKEN_LEN];
	struct db *db = NULL;
	int rc = ADMIN_EXIT_FAIL;

	if (a->argc < 1 || strcmp(a->argv[0], "create") != 0) {
		fprintf(stderr, "usage: kaiden-api token create [--name NAME] [--tenant ID]\n");
		return ADMIN_EXIT_USAGE;
	}
	for (int i = 1; i < a->argc;) {
		int m = admin_opt(a->argc, a->argv, &i, "--name", &name);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--tenant", &tenant);
		if (m == 0)
			m = admin_opt(a->argc, a->argv, &i, "--config", &config);
		if (m == 0)
			fprintf(stderr, "kaiden-api token create: unexpected argument %s\n", a->argv[i]);
		if (m <= 0)
			return ADMIN_EXIT_USAGE;
	}
	if (!*name || strlen(name) > 128 || !req_text_valid(name)) {
		fprintf(stderr, "kaiden-api token create: --name must be 1 to 128 printable "
		                "characters\n");
		return ADMIN_EXIT_USAGE;
	}
	if (!ids_is_uuid(tenant)) {
		fprintf(stderr, "kaiden-api token create: --tenant must be a tenant id (UUID)\n");
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
	if (store_token_create(db, tenant, name, token, NULL) != STORE_OK) {
		fprintf(stderr, "kaiden-api token create: could not store the token (is the "
		                "database migrated? does the tenant exist?)\n");
		goto out;
	}
	printf("%s\n", token);
	if (fflush(stdout) != 0)
		goto out;
	rc = ADMIN_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	db_close(db);
	return rc;
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
