/* helm_run.c: helm as a child process on the loop (helm_run.h says what it promises).
 *
 * A run's life:
 *
 *   helm_run_start: guard -> token read -> env built -> uv_spawn (own process group)
 *     -> stdin written then closed; stdout/stderr read into capped buffers;
 *        one timer armed for timeout_ms
 *   RUNNING --timer--> SIGTERM to the group, timer re-armed for kill_grace_ms
 *           --timer again--> SIGKILL to the group
 *   RUNNING --a cap passed--> SIGKILL to the group (HELM_TOO_LARGE)
 *   exit callback + both output pipes at EOF --> callback, then every handle closed;
 *     the run is freed when libuv has closed the last one.
 *   After the exit, a pipe still open (a grandchild holding it) is closed after
 *   PIPE_DRAIN_MS: the exit decides, not the last writer.
 *
 * The child gets its own process group (UV_PROCESS_DETACHED: setsid), so a kill reaches
 * what helm started (a post-renderer; a test's fake and its `sleep`). */
#include "helm_run.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonx.h"
#include "log.h"

#define PIPE_DRAIN_MS 1000
#define DEFAULT_TIMEOUT_S 600
#define DEFAULT_RUN_MS ((DEFAULT_TIMEOUT_S + 60) * 1000L)
#define ENV_MAX 16

enum phase { PH_RUNNING, PH_TERM_SENT, PH_KILLED, PH_EXITED };

struct helm_run {
	uv_process_t proc;
	uv_pipe_t in, out, err;
	uv_timer_t timer;
	uv_write_t write_req;
	int open_handles;        /* closes still to come before the free */
	int in_open, out_open, err_open, exited, finished, cancelled;
	int out_over, err_over;  /* which stream passed its cap */
	enum phase phase;
	enum helm_outcome kill_reason;  /* why we killed it, when we did */
	int exit_status, term_signal;
	char *values;
	size_t values_len;
	struct buf out_buf, err_buf;
	char what[160];          /* "upgrade release=... namespace=..." for logs */
	char mark[K8S_PATH_MAX + 96]; /* runs/<release> of a command that changes the release
	                               * ("": none): removed when its exit is seen */
	uint64_t started;
	long timeout_ms;
	helm_done_fn done;
	void *arg;
	struct helm_run *prev, *next;
};

static struct {
	uv_loop_t *loop;
	char *helm, *home, *path;
	struct k8s_source k8s;
	long kill_grace_ms;
	size_t max_out, max_err;
	struct helm_run *runs;
	int running;
} R;

/* --- names ------------------------------------------------------------------------- */

static int dns_label_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int helm_namespace_ok(const char *ns)
{
	size_t n, p = sizeof(HELM_NAMESPACE_PREFIX) - 1;

	if (!ns)
		return 0;
	n = strlen(ns);
	/* The whole name is a DNS-1123 label: [a-z0-9-], at most 63, alphanumeric at both
	 * ends; the prefix already starts with a letter. */
	return n > p && n <= 63 && strncmp(ns, HELM_NAMESPACE_PREFIX, p) == 0 &&
	       dns_label_chars(ns + p, n - p) && ns[n - 1] != '-';
}

int helm_release_ok(const char *name)
{
	/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$, <= 53:
	 * dot-separated labels, each alphanumeric at both ends. */
	size_t n, start = 0;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > HELM_RELEASE_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		if (i == start || name[start] == '-' || name[i - 1] == '-' ||
		    !dns_label_chars(name + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* --- argument arrays --------------------------------------------------------------- */

void helm_args_clear(struct helm_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	memset(a, 0, sizeof(*a));
}

static int add(struct helm_args *a, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int add(struct helm_args *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (a->argc >= HELM_ARGV_MAX)
		return -1;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	a->argv[a->argc++] = s;
	a->argv[a->argc] = NULL;
	return 0;
}

static int names_ok(const char *ns, const char *release, char *err, size_t errlen)
{
	if (!helm_namespace_ok(ns)) {
		snprintf(err, errlen, "namespace refused: only %s<name> namespaces (a DNS-1123 "
		                      "label) are managed", HELM_NAMESPACE_PREFIX);
		return 0;
	}
	if (!helm_release_ok(release)) {
		snprintf(err, errlen, "release name refused: helm takes lowercase letters, digits, "
		                      "'-' and '.', at most %d", HELM_RELEASE_MAX);
		return 0;
	}
	return 1;
}

/* A chart reference or URL or version: printable, no spaces, not a flag. */
static int word_ok(const char *s, size_t max)
{
	size_t n;

	if (!s || !*s || *s == '-')
		return 0;
	n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int begin(struct helm_args *a, const char *verb, const char *ns, const char *release,
                 char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (!names_ok(ns, release, err, errlen))
		return -1;
	if (add(a, "%s", verb) != 0 || add(a, "%s", release) != 0) {
		helm_args_clear(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int finish_args(struct helm_args *a, int failed, char *err, size_t errlen)
{
	if (failed) {
		helm_args_clear(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int helm_args_upgrade(struct helm_args *a, const char *ns, const char *release,
                      const struct helm_install *in, char *err, size_t errlen)
{
	const struct helm_chart *c = &in->chart;
	int has_repo = c->repo && *c->repo, bad = 0;
	int timeout_s = in->timeout_s > 0 ? in->timeout_s : DEFAULT_TIMEOUT_S;

	if (!word_ok(c->ref, 512) || (has_repo && !word_ok(c->repo, 1024))) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errlen, "the chart reference or repository is not acceptable");
		return -1;
	}
	if (!word_ok(c->version, 64)) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errlen, "the chart version must be pinned (a version without spaces)");
		return -1;
	}
	if (has_repo && strncmp(c->ref, "oci://", 6) == 0) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errlen, "an oci:// chart takes no repository URL");
		return -1;
	}
	if (in->history_max < 0 || timeout_s > 86400) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errlen, "history_max or timeout out of range");
		return -1;
	}
	if (begin(a, "upgrade", ns, release, err, errlen) != 0)
		return -1;
	bad |= add(a, "%s", c->ref);
	bad |= add(a, "--install");
	bad |= add(a, "--namespace");
	bad |= add(a, "%s", ns);
	bad |= add(a, "--version");
	bad |= add(a, "%s", c->version);
	if (has_repo) {
		bad |= add(a, "--repo");
		bad |= add(a, "%s", c->repo);
	}
	bad |= add(a, "-f");
	bad |= add(a, "-");
	bad |= add(a, "--reset-values");
	if (in->history_max > 0) {
		bad |= add(a, "--history-max");
		bad |= add(a, "%d", in->history_max);
	}
	if (in->wait)
		bad |= add(a, "--wait");
	bad |= add(a, "--timeout");
	bad |= add(a, "%ds", timeout_s);
	return finish_args(a, bad, err, errlen);
}

int helm_args_rollback(struct helm_args *a, const char *ns, const char *release, int revision,
                       int wait, int timeout_s, char *err, size_t errlen)
{
	int bad = 0;

	if (revision < 1) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errlen, "a rollback names a revision (1 or more)");
		return -1;
	}
	if (begin(a, "rollback", ns, release, err, errlen) != 0)
		return -1;
	bad |= add(a, "%d", revision);
	bad |= add(a, "--namespace");
	bad |= add(a, "%s", ns);
	if (wait)
		bad |= add(a, "--wait");
	bad |= add(a, "--timeout");
	bad |= add(a, "%ds", timeout_s > 0 && timeout_s <= 86400 ? timeout_s : DEFAULT_TIMEOUT_S);
	return finish_args(a, bad, err, errlen);
}

int helm_args_uninstall(struct helm_args *a, const char *ns, const char *release,
                        int timeout_s, char *err, size_t errlen)
{
	int bad = 0;

	if (begin(a, "uninstall", ns, release, err, errlen) != 0)
		return -1;
	bad |= add(a, "--namespace");
	bad |= add(a, "%s", ns);
	bad |= add(a, "--timeout");
	bad |= add(a, "%ds", timeout_s > 0 && timeout_s <= 86400 ? timeout_s : DEFAULT_TIMEOUT_S);
	return finish_args(a, bad, err, errlen);
}

/* verb [word2] NAME --namespace NS [--max N] -o json */
static int read_args(struct helm_args *a, const char *verb, const char *word2, const char *ns,
                     const char *release, int max, char *err, size_t errlen)
{
	int bad = 0;

	memset(a, 0, sizeof(*a));
	if (!names_ok(ns, release, err, errlen))
		return -1;
	bad |= add(a, "%s", verb);
	if (word2)
		bad |= add(a, "%s", word2);
	bad |= add(a, "%s", release);
	bad |= add(a, "--namespace");
	bad |= add(a, "%s", ns);
	if (max > 0) {
		bad |= add(a, "--max");
		bad |= add(a, "%d", max);
	}
	bad |= add(a, "-o");
	bad |= add(a, "json");
	return finish_args(a, bad, err, errlen);
}

int helm_args_status(struct helm_args *a, const char *ns, const char *release, char *err,
                     size_t errlen)
{
	return read_args(a, "status", NULL, ns, release, 0, err, errlen);
}

int helm_args_history(struct helm_args *a, const char *ns, const char *release, int max,
                      char *err, size_t errlen)
{
	return read_args(a, "history", NULL, ns, release, max > 0 && max <= 256 ? max : 256, err,
	                 errlen);
}

int helm_args_get_values(struct helm_args *a, const char *ns, const char *release,
                         char *err, size_t errlen)
{
	return read_args(a, "get", "values", ns, release, 0, err, errlen);
}

/* --- the guard --------------------------------------------------------------------- */

/* The subcommands and the flags the builders use; nothing else is ever run. A flag
 * that takes a value says so. Anything that could carry a secret or point helm
 * elsewhere (--set*, --kube-*, --kubeconfig, --password, -A, --post-renderer) is not
 * here, so it is refused. */
static const struct {
	const char *verb;
	int positionals;   /* after the verb (and "values" for get) */
	const char *flags; /* " --flag --flag=V " list: "=V" takes a value */
} verbs[] = {
	{ "upgrade", 2, " --install --namespace=V --version=V --repo=V -f=V --reset-values "
	                "--history-max=V --wait --timeout=V " },
	{ "rollback", 2, " --namespace=V --wait --timeout=V " },
	{ "uninstall", 1, " --namespace=V --timeout=V " },
	{ "status", 1, " --namespace=V -o=V " },
	{ "history", 1, " --namespace=V --max=V -o=V " },
	{ "get", 1, " --namespace=V -o=V " },
};

/* 1 (flag known, takes no value), 2 (known, takes a value) or 0. */
static int flag_kind(const char *flags, const char *arg)
{
	char pat[64];

	if (strlen(arg) > 40 || strchr(arg, '=') || strchr(arg, ' '))
		return 0;
	snprintf(pat, sizeof(pat), " %s ", arg);
	if (strstr(flags, pat))
		return 1;
	snprintf(pat, sizeof(pat), " %s=V ", arg);
	return strstr(flags, pat) ? 2 : 0;
}

int helm_args_check(const struct helm_args *a, char *err, size_t errlen)
{
	const char *verb, *release = NULL, *ns = NULL;
	int v = -1, first = 1, positionals = 0;

	if (!a || a->argc < 2 || a->argc > HELM_ARGV_MAX || a->argv[a->argc] != NULL) {
		snprintf(err, errlen, "helm refused: no command");
		return -1;
	}
	verb = a->argv[0];
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (verb && strcmp(verb, verbs[i].verb) == 0)
			v = (int)i;
	if (v < 0) {
		snprintf(err, errlen, "helm refused: not a command helperd runs");
		return -1;
	}
	if (strcmp(verb, "get") == 0) {
		if (strcmp(a->argv[1], "values") != 0) {
			snprintf(err, errlen, "helm refused: only `get values` is run");
			return -1;
		}
		first = 2;
	}
	for (int i = first; i < a->argc; i++) {
		const char *arg = a->argv[i];
		int kind;
		if (!arg) {
			snprintf(err, errlen, "helm refused: a missing argument");
			return -1;
		}
		if (arg[0] != '-') {
			if (++positionals > verbs[v].positionals) {
				snprintf(err, errlen, "helm refused: an unexpected argument");
				return -1;
			}
			if (positionals == 1)
				release = arg;
			continue;
		}
		kind = flag_kind(verbs[v].flags, arg);
		if (kind == 0) {
			snprintf(err, errlen, "helm refused: a flag helperd does not use");
			return -1;
		}
		if (kind == 2) {
			const char *value = i + 1 < a->argc ? a->argv[i + 1] : NULL;
			if (!value) {
				snprintf(err, errlen, "helm refused: %s without a value", arg);
				return -1;
			}
			if (strcmp(arg, "--namespace") == 0) {
				if (ns) {
					snprintf(err, errlen, "helm refused: --namespace given twice");
					return -1;
				}
				ns = value;
			} else if (strcmp(arg, "-f") == 0) {
				if (strcmp(value, "-") != 0) {
					snprintf(err, errlen, "helm refused: values come only on stdin (-f -)");
					return -1;
				}
			} else if (strcmp(arg, "-o") == 0 && strcmp(value, "json") != 0) {
				snprintf(err, errlen, "helm refused: -o json only");
				return -1;
			} else if (value[0] == '-') {
				snprintf(err, errlen, "helm refused: %s without a value", arg);
				return -1;
			}
			i++;
		}
	}
	if (positionals != verbs[v].positionals) {
		snprintf(err, errlen, "helm refused: %s takes %d argument(s)", verb,
		         verbs[v].positionals);
		return -1;
	}
	if (!ns) {
		snprintf(err, errlen, "helm refused: no --namespace (helm would use the default)");
		return -1;
	}
	if (!helm_namespace_ok(ns)) {
		snprintf(err, errlen, "helm refused: namespace \"%.63s\" is not %s<name>",
		         dns_label_chars(ns, strlen(ns)) ? ns : "?", HELM_NAMESPACE_PREFIX);
		return -1;
	}
	if (!helm_release_ok(release)) {
		snprintf(err, errlen, "helm refused: \"%.60s\" is not a valid release name "
		                      "(lowercase letters, digits, '-', '.', at most %d)",
		         release && dns_label_chars(release, strlen(release)) ? release : "?",
		         HELM_RELEASE_MAX);
		return -1;
	}
	return 0;
}

/* --- set-up ------------------------------------------------------------------------ */

/* Makes dir (0700) if missing; it must then be a directory of ours, not a symlink, and
 * closed to others (tightened to 0700 if it is not). */
static int private_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to another user: helm's files must be private",
		         dir);
		return -1;
	}
	if ((st.st_mode & 077) && chmod(dir, 0700) != 0) {
		snprintf(err, errlen, "%s is open to others and cannot be made private: %s", dir,
		         strerror(errno));
		return -1;
	}
	return 0;
}

void helm_run_default_home(const char *instance, char *out, size_t outlen)
{
	const char *tmp = getenv("TMPDIR");
	size_t n;

	n = (size_t)snprintf(out, outlen, "%s/kaiden-helm-%u-", tmp && *tmp ? tmp : "/tmp",
	                     (unsigned)geteuid());
	for (const char *p = instance ? instance : ""; *p && n + 1 < outlen; p++, n++)
		out[n] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
		                *p) ? *p : '_';
	if (n < outlen)
		out[n] = '\0';
}

static void config_clear(void)
{
	free(R.helm);
	free(R.home);
	free(R.path);
	R.helm = R.home = R.path = NULL;
}

int helm_run_init(uv_loop_t *loop, const struct helm_config *cfg, char *err, size_t errlen)
{
	static const char *const sub[] = { "home", "cache", "config", "data", "tmp", "runs" };
	char dir[K8S_PATH_MAX + 16];
	const char *path;

	if (!cfg->home || !*cfg->home || strlen(cfg->home) >= K8S_PATH_MAX) {
		snprintf(err, errlen, "services.helm_home: no directory for helm's files");
		return -1;
	}
	if (private_dir(cfg->home, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(sub); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", cfg->home, sub[i]);
		if (private_dir(dir, err, errlen) != 0)
			return -1;
	}
	path = cfg->path ? cfg->path : getenv("PATH");
	config_clear();
	R.loop = loop;
	R.helm = strdup(cfg->helm && *cfg->helm ? cfg->helm : "helm");
	R.home = strdup(cfg->home);
	R.path = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!R.helm || !R.home || !R.path) {
		config_clear();
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	R.k8s = cfg->k8s;
	R.kill_grace_ms = cfg->kill_grace_ms > 0 ? cfg->kill_grace_ms : 5000;
	R.max_out = cfg->max_out ? cfg->max_out : HELM_DEFAULT_MAX_OUT;
	R.max_err = cfg->max_err ? cfg->max_err : HELM_DEFAULT_MAX_ERR;
	return 0;
}

/* --- one run ----------------------------------------------------------------------- */

static void run_unlink(struct helm_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (R.runs == r)
		R.runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void run_free(struct helm_run *r)
{
	buf_clear(&r->out_buf);
	buf_clear(&r->err_buf);
	if (r->values) {
		explicit_bzero(r->values, r->values_len);
		free(r->values);
	}
	free(r);
}

static void on_closed(uv_handle_t *h)
{
	struct helm_run *r = h->data;

	if (--r->open_handles == 0)
		run_free(r);
}

static void close_handle(struct helm_run *r, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_closed);
	(void)r;
}

static void kill_group(struct helm_run *r, int sig)
{
	/* A negative pid: the whole group the child leads (it ran setsid). */
	if (!r->exited && r->proc.pid > 0)
		kill(-r->proc.pid, sig);
}

/* Once: every handle closed; the run is freed when the last close has run. */
static void release(struct helm_run *r)
{
	if (r->finished)
		return;
	r->finished = 1;
	R.running--;
	run_unlink(r);
	uv_timer_stop(&r->timer);
	close_handle(r, (uv_handle_t *)&r->timer);
	close_handle(r, (uv_handle_t *)&r->in);
	close_handle(r, (uv_handle_t *)&r->out);
	close_handle(r, (uv_handle_t *)&r->err);
	close_handle(r, (uv_handle_t *)&r->proc);
}

/* Copies the printable part of s (up to n bytes) into out. */
static void clean_copy(char *out, size_t outlen, const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < outlen; i++)
		out[j++] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ? '?' : s[i];
	out[j] = '\0';
}

/* The last "Error: ..." line of stderr, without the prefix; 0 if there is none. */
static int error_line(const char *err, size_t len, char *out, size_t outlen)
{
	const char *found = NULL;
	size_t found_len = 0;

	for (size_t i = 0; i < len;) {
		const char *line = err + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		if (n > 7 && strncmp(line, "Error: ", 7) == 0) {
			found = line + 7;
			found_len = n - 7;
		}
		i += n + 1;
	}
	if (!found)
		return 0;
	while (found_len && (found[found_len - 1] == '\r' || found[found_len - 1] == ' '))
		found_len--;
	clean_copy(out, outlen, found, found_len);
	return 1;
}

/* The last non-empty line of stderr, for a failure without an Error: line. */
static void last_line(const char *err, size_t len, char *out, size_t outlen)
{
	size_t end = len, start;

	while (end && (err[end - 1] == '\n' || err[end - 1] == '\r' || err[end - 1] == ' '))
		end--;
	start = end;
	while (start && err[start - 1] != '\n')
		start--;
	clean_copy(out, outlen, err + start, end - start);
}

static void maybe_finish(struct helm_run *r)
{
	struct helm_result res;

	if (r->finished || !r->exited || (r->out_open || r->err_open))
		return;
	memset(&res, 0, sizeof(res));
	res.exit_status = r->term_signal ? -1 : r->exit_status;
	res.term_signal = r->term_signal;
	res.out = r->out_buf.data ? r->out_buf.data : "";
	res.out_len = r->out_buf.len;
	res.err = r->err_buf.data ? r->err_buf.data : "";
	res.err_len = r->err_buf.len;
	res.seconds = (double)(uv_hrtime() - r->started) / 1e9;
	if (r->kill_reason == HELM_TIMEOUT) {
		res.outcome = HELM_TIMEOUT;
		snprintf(res.error, sizeof(res.error), "helm did not finish within %ld s (stopped)",
		         (r->timeout_ms + 999) / 1000);
	} else if (r->kill_reason == HELM_TOO_LARGE) {
		res.outcome = HELM_TOO_LARGE;
		snprintf(res.error, sizeof(res.error), "helm wrote more than %zu bytes on %s "
		                                       "(stopped)",
		         r->out_over ? R.max_out : R.max_err, r->out_over ? "stdout" : "stderr");
	} else if (r->term_signal) {
		res.outcome = HELM_SIGNALLED;
		snprintf(res.error, sizeof(res.error), "helm was ended by signal %d",
		         r->term_signal);
	} else if (r->exit_status == 0) {
		res.outcome = HELM_OK;
	} else {
		char line[HELM_ERROR_MAX - 64];
		res.outcome = HELM_FAILED;
		if (!error_line(res.err, res.err_len, res.error, sizeof(res.error))) {
			last_line(res.err, res.err_len, line, sizeof(line));
			if (*line)
				snprintf(res.error, sizeof(res.error), "helm exited with status %d: %s",
				         r->exit_status, line);
			else
				snprintf(res.error, sizeof(res.error), "helm exited with status %d",
				         r->exit_status);
		}
	}
	if (res.outcome == HELM_OK)
		log_info("%s done in %.1f s", r->what, res.seconds);
	else
		log_warn("%s failed in %.1f s: %s", r->what, res.seconds, res.error);
	if (!r->cancelled)
		r->done(r->arg, &res);
	release(r);
}

static void on_timer(uv_timer_t *t)
{
	struct helm_run *r = t->data;

	if (r->exited) {
		/* A grandchild still holds a pipe: the exit decides. */
		if (r->out_open) {
			uv_read_stop((uv_stream_t *)&r->out);
			r->out_open = 0;
		}
		if (r->err_open) {
			uv_read_stop((uv_stream_t *)&r->err);
			r->err_open = 0;
		}
		maybe_finish(r);
		return;
	}
	if (r->phase == PH_RUNNING) {
		log_warn("%s: no end within %ld ms: SIGTERM", r->what, r->timeout_ms);
		r->kill_reason = HELM_TIMEOUT;
		r->phase = PH_TERM_SENT;
		kill_group(r, SIGTERM);
		uv_timer_start(&r->timer, on_timer, (uint64_t)R.kill_grace_ms, 0);
	} else if (r->phase == PH_TERM_SENT) {
		log_warn("%s: still running %ld ms after SIGTERM: SIGKILL", r->what,
		         R.kill_grace_ms);
		r->phase = PH_KILLED;
		kill_group(r, SIGKILL);
	}
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
	struct helm_run *r = p->data;

	r->exited = 1;
	r->exit_status = (int)exit_status;
	r->term_signal = term_signal;
	if (r->mark[0])
		(void)unlink(r->mark);
	if (r->out_open || r->err_open)
		uv_timer_start(&r->timer, on_timer, PIPE_DRAIN_MS, 0);
	maybe_finish(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char scratch[65536];

	(void)h;
	(void)suggested;
	/* One loop thread, and each read is copied out before the next: one buffer. */
	*b = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct helm_run *r = s->data;
	int is_out = s == (uv_stream_t *)&r->out;
	struct buf *into = is_out ? &r->out_buf : &r->err_buf;

	if (n > 0) {
		if (buf_append(into, b->base, (size_t)n) != 0) {
			if (r->kill_reason != HELM_TOO_LARGE) {
				log_warn("%s: more than %zu bytes on %s: SIGKILL", r->what,
				         is_out ? R.max_out : R.max_err, is_out ? "stdout" : "stderr");
				r->kill_reason = HELM_TOO_LARGE;
				r->phase = PH_KILLED;
				kill_group(r, SIGKILL);
			}
			if (is_out)
				r->out_over = 1;
			else
				r->err_over = 1;
		}
		return;
	}
	if (n < 0) {
		uv_read_stop(s);
		if (is_out)
			r->out_open = 0;
		else
			r->err_open = 0;
		maybe_finish(r);
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct helm_run *r = w->data;

	/* EPIPE when helm exited without reading: its exit status tells why. */
	(void)status;
	if (r->in_open && !uv_is_closing((uv_handle_t *)&r->in)) {
		r->in_open = 0;
		uv_close((uv_handle_t *)&r->in, on_closed);
	}
	if (r->values) {
		explicit_bzero(r->values, r->values_len);
		free(r->values);
		r->values = NULL;
	}
}

static int env_add(char **env, int *n, const char *name, const char *value)
{
	if (*n >= ENV_MAX || asprintf(&env[*n], "%s=%s", name, value) < 0)
		return -1;
	(*n)++;
	env[*n] = NULL;
	return 0;
}

static void env_free(char **env)
{
	for (int i = 0; env[i]; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
}

/* The whole environment helm gets. The token is in it (never in argv). */
static int env_build(char **env, const char *token)
{
	char dir[K8S_PATH_MAX + 16];
	int n = 0, bad = 0;

	env[0] = NULL;
	bad |= env_add(env, &n, "PATH", R.path);
	snprintf(dir, sizeof(dir), "%s/home", R.home);
	bad |= env_add(env, &n, "HOME", dir);
	snprintf(dir, sizeof(dir), "%s/tmp", R.home);
	bad |= env_add(env, &n, "TMPDIR", dir);
	snprintf(dir, sizeof(dir), "%s/cache", R.home);
	bad |= env_add(env, &n, "HELM_CACHE_HOME", dir);
	snprintf(dir, sizeof(dir), "%s/config", R.home);
	bad |= env_add(env, &n, "HELM_CONFIG_HOME", dir);
	snprintf(dir, sizeof(dir), "%s/data", R.home);
	bad |= env_add(env, &n, "HELM_DATA_HOME", dir);
	bad |= env_add(env, &n, "HELM_NO_PLUGINS", "1");
	bad |= env_add(env, &n, "HELM_KUBEAPISERVER", R.k8s.base_url);
	bad |= env_add(env, &n, "HELM_KUBETOKEN", token);
	if (k8s_source_is_http(&R.k8s))
		bad |= env_add(env, &n, "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "true");
	else if (R.k8s.ca_file[0])
		bad |= env_add(env, &n, "HELM_KUBECAFILE", R.k8s.ca_file);
	return bad ? -1 : 0;
}

/* --- marks: which helm is running on which release -------------------------------- *
 *
 * A command that changes a release (upgrade, rollback, uninstall) leaves the file
 * <home>/runs/<release> with "<pid> <start time>" (the process's starttime in
 * /proc/<pid>/stat, so that a reused pid is not taken for it) until its exit is seen.
 * A helperd stopped or SIGKILLed while helm ran never sees that exit: the mark stays,
 * and the next helperd on this home asks helm_run_orphan whether that helm still runs
 * (it holds the release's pending-* lock and will clear it) or is gone (killed in the
 * middle: the lock will never clear). */

/* The process's start time (clock ticks since boot), or 0 when there is no such
 * process (or only its zombie). */
static unsigned long long proc_start(int pid)
{
	char path[64], line[1024], state = 0, *p;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')'))) {
		/* After "pid (comm)": state is field 3, starttime field 22. */
		if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
		                  "%*d %*d %*d %llu", &state, &start) != 2 || state == 'Z' ||
		    state == 'X')
			start = 0;
	}
	fclose(f);
	return start;
}

static void mark_path(const char *release, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/runs/%s", R.home, release);
}

static void mark_write(struct helm_run *r, const struct helm_args *a)
{
	char text[64];
	FILE *f;

	r->mark[0] = '\0';
	if (strcmp(a->argv[0], "upgrade") != 0 && strcmp(a->argv[0], "rollback") != 0 &&
	    strcmp(a->argv[0], "uninstall") != 0)
		return;
	mark_path(a->argv[1], r->mark, sizeof(r->mark));
	snprintf(text, sizeof(text), "%d %llu\n", r->proc.pid, proc_start(r->proc.pid));
	f = fopen(r->mark, "w");
	if (!f || fputs(text, f) < 0) {
		log_warn("%s: cannot write %s: a restart will not know whether it still runs",
		         r->what, r->mark);
		r->mark[0] = '\0';
	}
	if (f)
		fclose(f);
}

enum helm_orphan helm_run_orphan(const char *release)
{
	char path[K8S_PATH_MAX + 96], line[64];
	unsigned long long start = 0;
	int pid = 0;
	FILE *f;

	if (!R.home || !helm_release_ok(release))
		return HELM_ORPHAN_NONE;
	mark_path(release, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return HELM_ORPHAN_NONE;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "%d %llu", &pid, &start) != 2 ||
	    pid <= 0)
		pid = 0;
	fclose(f);
	for (struct helm_run *r = R.runs; r; r = r->next)
		if (pid && r->proc.pid == pid)
			return HELM_ORPHAN_NONE; /* ours, watched: not an orphan */
	if (pid && start && proc_start(pid) == start)
		return HELM_ORPHAN_RUNNING;
	return HELM_ORPHAN_GONE;
}

static void describe(struct helm_run *r, const struct helm_args *a)
{
	const char *ns = "?";
	int rel = strcmp(a->argv[0], "get") == 0 ? 2 : 1;

	for (int i = 1; i + 1 < a->argc; i++)
		if (strcmp(a->argv[i], "--namespace") == 0)
			ns = a->argv[i + 1];
	snprintf(r->what, sizeof(r->what), "release=%s namespace=%s helm %s%s", a->argv[rel], ns,
	         a->argv[0], rel == 2 ? " values" : "");
}

struct helm_run *helm_run_start(const struct helm_args *args, const char *values,
                                size_t values_len, long timeout_ms, helm_done_fn done,
                                void *arg, char *err, size_t errlen)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	char *argv[HELM_ARGV_MAX + 2], *env[ENV_MAX + 1] = { NULL };
	char *token = NULL, reason[K8S_REASON_MAX];
	struct helm_run *r = NULL;
	int rc;

	if (!R.loop || !R.helm) {
		snprintf(err, errlen, "helm is not set up (helm_run_init)");
		return NULL;
	}
	if (!done) {
		snprintf(err, errlen, "no callback");
		return NULL;
	}
	if (helm_args_check(args, err, errlen) != 0) {
		log_warn("helm: %s", err);
		return NULL;
	}
	token = malloc(K8S_TOKEN_MAX + 2);
	r = calloc(1, sizeof(*r));
	if (!token || !r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Read for every run: the kubelet rotates the mounted token. */
	if (k8s_source_token(&R.k8s, token, K8S_TOKEN_MAX + 2, reason, sizeof(reason)) != 0) {
		snprintf(err, errlen, "%s", reason);
		goto fail;
	}
	if (env_build(env, token) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (values_len) {
		r->values = malloc(values_len);
		if (!r->values) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(r->values, values, values_len);
		r->values_len = values_len;
	}
	buf_init(&r->out_buf, R.max_out);
	buf_init(&r->err_buf, R.max_err);
	r->done = done;
	r->arg = arg;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_RUN_MS;
	describe(r, args);
	argv[0] = R.helm;
	for (int i = 0; i < args->argc; i++)
		argv[i + 1] = args->argv[i];
	argv[args->argc + 1] = NULL;

	uv_pipe_init(R.loop, &r->in, 0);
	uv_pipe_init(R.loop, &r->out, 0);
	uv_pipe_init(R.loop, &r->err, 0);
	uv_timer_init(R.loop, &r->timer);
	r->in.data = r->out.data = r->err.data = r->timer.data = r->proc.data = r;
	r->write_req.data = r;
	r->open_handles = 5;
	memset(&opt, 0, sizeof(opt));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&r->in;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&r->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&r->err;
	opt.file = R.helm;
	opt.args = argv;
	opt.env = env;
	opt.cwd = R.home;
	opt.flags = UV_PROCESS_DETACHED;
	opt.stdio_count = 3;
	opt.stdio = stdio;
	opt.exit_cb = on_exit_cb;
	r->started = uv_hrtime();
	rc = uv_spawn(R.loop, &r->proc, &opt);
	env_free(env);
	env[0] = NULL;
	explicit_bzero(token, K8S_TOKEN_MAX + 2);
	free(token);
	token = NULL;
	if (rc != 0) {
		snprintf(err, errlen, "cannot run %s (services.helm): %s", R.helm, uv_strerror(rc));
		log_error("%s: %s", r->what, err);
		/* The handles exist: close them; nothing is running. */
		r->finished = 1;
		uv_close((uv_handle_t *)&r->proc, on_closed);
		uv_close((uv_handle_t *)&r->in, on_closed);
		uv_close((uv_handle_t *)&r->out, on_closed);
		uv_close((uv_handle_t *)&r->err, on_closed);
		uv_close((uv_handle_t *)&r->timer, on_closed);
		return NULL;
	}
	r->in_open = r->out_open = r->err_open = 1;
	r->next = R.runs;
	if (R.runs)
		R.runs->prev = r;
	R.runs = r;
	R.running++;
	mark_write(r, args);
	log_info("%s started (pid %d)", r->what, r->proc.pid);
	uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
	uv_timer_start(&r->timer, on_timer, (uint64_t)r->timeout_ms, 0);
	if (r->values_len) {
		uv_buf_t b = uv_buf_init(r->values, (unsigned)r->values_len);
		if (uv_write(&r->write_req, (uv_stream_t *)&r->in, &b, 1, on_written) != 0)
			on_written(&r->write_req, -1);
	} else {
		r->in_open = 0;
		uv_close((uv_handle_t *)&r->in, on_closed);
	}
	return r;
fail:
	env_free(env);
	if (token) {
		explicit_bzero(token, K8S_TOKEN_MAX + 2);
		free(token);
	}
	if (r) {
		free(r->values);
		free(r);
	}
	return NULL;
}

void helm_run_cancel(struct helm_run *r)
{
	if (!r || r->finished)
		return;
	r->cancelled = 1;
	r->kill_reason = HELM_SIGNALLED;
	r->phase = PH_KILLED;
	kill_group(r, SIGKILL);
	/* The exit callback still comes (and reaps the child); done is not called. */
}

void helm_run_abandon(struct helm_run *r)
{
	if (!r || r->finished)
		return;
	r->cancelled = 1;
	log_info("%s left running on its own (pid %d)", r->what, r->proc.pid);
	release(r);
}

int helm_running(void)
{
	return R.running;
}

void helm_run_shutdown(void)
{
	while (R.runs) {
		struct helm_run *r = R.runs;
		r->cancelled = 1;
		kill_group(r, SIGKILL);
		if (r->mark[0])
			(void)unlink(r->mark);
		release(r);
	}
	config_clear();
	R.loop = NULL;
}

int64_t helm_time_seconds(const char *s)
{
	struct tm tm;
	int n = 0, oh = 0, om = 0;
	int64_t t;
	const char *p;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
		return -1;
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = (int64_t)timegm(&tm);
	if (*p == 'Z' && p[1] == '\0')
		return t;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 &&
	    n == 5 && p[6] == '\0')
		return *p == '+' ? t - (oh * 3600 + om * 60) : t + (oh * 3600 + om * 60);
	return -1;
}

int helm_error_not_found(const struct helm_result *res)
{
	size_t n;
	static const char tail[] = "release: not found";

	if (!res || res->outcome != HELM_FAILED)
		return 0;
	n = strlen(res->error);
	return n >= sizeof(tail) - 1 && strcmp(res->error + n - (sizeof(tail) - 1), tail) == 0;
}

/* --- parsing ----------------------------------------------------------------------- */

static const char *const state_names[] = {
	[HELM_STATE_UNKNOWN] = "unknown",
	[HELM_STATE_DEPLOYED] = "deployed",
	[HELM_STATE_UNINSTALLED] = "uninstalled",
	[HELM_STATE_SUPERSEDED] = "superseded",
	[HELM_STATE_FAILED] = "failed",
	[HELM_STATE_UNINSTALLING] = "uninstalling",
	[HELM_STATE_PENDING_INSTALL] = "pending-install",
	[HELM_STATE_PENDING_UPGRADE] = "pending-upgrade",
	[HELM_STATE_PENDING_ROLLBACK] = "pending-rollback",
};

enum helm_state helm_state_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_LEN(state_names); i++)
		if (strcmp(s, state_names[i]) == 0)
			return (enum helm_state)i;
	return HELM_STATE_UNKNOWN;
}

const char *helm_state_name(enum helm_state st)
{
	return (size_t)st < ARRAY_LEN(state_names) ? state_names[st] : "unknown";
}

int helm_state_pending(enum helm_state st)
{
	return st == HELM_STATE_PENDING_INSTALL || st == HELM_STATE_PENDING_UPGRADE ||
	       st == HELM_STATE_PENDING_ROLLBACK;
}

/* Member name of obj as a string into out: absent is fine ("" unless required), present
 * must be a string. 0 or -1 with a reason. */
static int str_member(json_object *obj, const char *where, const char *name, int required,
                      char *out, size_t outlen, char *reason, size_t reasonlen)
{
	json_object *v;

	out[0] = '\0';
	if (!json_object_object_get_ex(obj, name, &v)) {
		if (required) {
			snprintf(reason, reasonlen, "%s%s is missing", where, name);
			return -1;
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(reason, reasonlen, "%s%s is not a string", where, name);
		return -1;
	}
	clean_copy(out, outlen, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	return 0;
}

static int int_member(json_object *obj, const char *where, const char *name, int required,
                      int *out, char *reason, size_t reasonlen)
{
	json_object *v;
	int64_t n;

	*out = 0;
	if (!json_object_object_get_ex(obj, name, &v)) {
		if (required) {
			snprintf(reason, reasonlen, "%s%s is missing", where, name);
			return -1;
		}
		return 0;
	}
	n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
	if (n < 0 || n > INT32_MAX) {
		snprintf(reason, reasonlen, "%s%s is not a revision number", where, name);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int parse_root(const char *json, size_t len, json_type want, json_object **root,
                      char *reason, size_t reasonlen)
{
	struct jsonx_error jerr;

	if (jsonx_parse(json, len, root, &jerr) != 0) {
		snprintf(reason, reasonlen, "helm's output is not JSON (%.120s)", jerr.message);
		return -1;
	}
	if (!json_object_is_type(*root, want)) {
		snprintf(reason, reasonlen, "helm's output is not a JSON %s",
		         want == json_type_object ? "object" : "array");
		json_object_put(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

int helm_status_parse(const char *json, size_t len, struct helm_status *out, char *reason,
                      size_t reasonlen)
{
	json_object *root = NULL, *info = NULL;
	struct helm_status s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (parse_root(json, len, json_type_object, &root, reason, reasonlen) != 0)
		return -1;
	if (str_member(root, "", "name", 1, s.name, sizeof(s.name), reason, reasonlen) != 0 ||
	    str_member(root, "", "namespace", 0, s.namespace_, sizeof(s.namespace_), reason,
	               reasonlen) != 0 ||
	    int_member(root, "", "version", 0, &s.revision, reason, reasonlen) != 0)
		goto out;
	if (json_object_object_get_ex(root, "info", &info) &&
	    !json_object_is_type(info, json_type_object)) {
		snprintf(reason, reasonlen, "info is not an object");
		goto out;
	}
	if (info && (str_member(info, "info.", "status", 0, s.status, sizeof(s.status), reason,
	                        reasonlen) != 0 ||
	             str_member(info, "info.", "description", 0, s.description,
	                        sizeof(s.description), reason, reasonlen) != 0 ||
	             str_member(info, "info.", "first_deployed", 0, s.first_deployed,
	                        sizeof(s.first_deployed), reason, reasonlen) != 0 ||
	             str_member(info, "info.", "last_deployed", 0, s.last_deployed,
	                        sizeof(s.last_deployed), reason, reasonlen) != 0))
		goto out;
	s.state = helm_state_parse(s.status);
	*out = s;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

int helm_history_parse(const char *json, size_t len, struct helm_revision **out, size_t *n,
                       char *reason, size_t reasonlen)
{
	json_object *root = NULL;
	struct helm_revision *items = NULL;
	size_t count;
	int rc = -1;

	if (parse_root(json, len, json_type_array, &root, reason, reasonlen) != 0)
		return -1;
	count = json_object_array_length(root);
	if (count) {
		items = calloc(count, sizeof(*items));
		if (!items) {
			snprintf(reason, reasonlen, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < count; i++) {
		json_object *it = json_object_array_get_idx(root, i);
		struct helm_revision *r = &items[i];
		char where[32];
		snprintf(where, sizeof(where), "[%zu].", i);
		if (!json_object_is_type(it, json_type_object)) {
			snprintf(reason, reasonlen, "history item %zu is not an object", i);
			goto out;
		}
		if (int_member(it, where, "revision", 1, &r->revision, reason, reasonlen) != 0 ||
		    str_member(it, where, "updated", 1, r->updated, sizeof(r->updated), reason,
		               reasonlen) != 0 ||
		    str_member(it, where, "status", 1, r->status, sizeof(r->status), reason,
		               reasonlen) != 0 ||
		    str_member(it, where, "chart", 1, r->chart, sizeof(r->chart), reason,
		               reasonlen) != 0 ||
		    str_member(it, where, "app_version", 1, r->app_version, sizeof(r->app_version),
		               reason, reasonlen) != 0 ||
		    str_member(it, where, "description", 1, r->description, sizeof(r->description),
		               reason, reasonlen) != 0)
			goto out;
		r->state = helm_state_parse(r->status);
	}
	*out = items;
	*n = count;
	items = NULL;
	rc = 0;
out:
	free(items);
	json_object_put(root);
	return rc;
}
