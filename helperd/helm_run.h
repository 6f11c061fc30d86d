/* helm_run.h: running the `helm` (version 3) program for cloud services (issue 13), as a
 * child process on helperd's libuv loop. Facts: shared/ref/helm-cli.md.
 *
 * What this module promises, whoever calls it:
 *   - Never a shell: an argument array, built by the helm_args_* functions below and
 *     checked again by helm_run_start (the guard): every flag must be one these builders
 *     use, the namespace must be `paas-ws-` + a DNS-1123 label remainder (seed FR-1.5;
 *     whatever the database says), the release name must be one helm accepts (at most
 *     53, helm-cli.md section 9), and values come only on stdin (`-f -`). A refused
 *     command is never started.
 *   - No secret in argv: the values go to the child's stdin (then closed); the
 *     Kubernetes token goes in HELM_KUBETOKEN, read from its file for every run.
 *   - An environment made from nothing: PATH, HOME and TMPDIR in the private directory,
 *     HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME under it, HELM_NO_PLUGINS=1,
 *     HELM_KUBEAPISERVER, HELM_KUBETOKEN, and HELM_KUBECAFILE (https with a CA file) or
 *     HELM_KUBEINSECURE_SKIP_TLS_VERIFY=true (an http:// API, allowed by k8s.insecure).
 *     helperd's own environment (database DSN, Cloudflare token) never reaches helm.
 *   - Bounded: stdout at most max_out bytes, stderr max_err (beyond: the child is
 *     killed, HELM_TOO_LARGE); a timeout (SIGTERM to the child's process group, SIGKILL
 *     kill_grace_ms later: HELM_TIMEOUT).
 *   - Never blocks the loop; the callback runs later on the loop, exactly once per
 *     started run unless it is cancelled.
 *   - Logs the subcommand, release, namespace, outcome and time; never stdin, stdout
 *     (`status -o json` carries the values and the rendered Secrets) or the token.
 *
 * Loop thread only. */
#ifndef KAIDEN_HELM_RUN_H
#define KAIDEN_HELM_RUN_H

#include <stddef.h>
#include <uv.h>
#include "compat.h"
#include "k8s_source.h"

#define HELM_ARGV_MAX 32
#define HELM_RELEASE_MAX 53        /* helm's own limit (validate_name.go) */
#define HELM_NAMESPACE_PREFIX "paas-ws-"
#define HELM_ERROR_MAX 512
#define HELM_DEFAULT_MAX_OUT (1u << 20)   /* 1 MiB of stdout */
#define HELM_DEFAULT_MAX_ERR (64u << 10)  /* 64 KiB of stderr */

struct helm_config {
	const char *helm;          /* the program: a path, or a name looked up in PATH
	                            * (copied; NULL or "": "helm") */
	const char *home;          /* the private directory (copied; made 0700 with
	                            * home/, cache/, config/, data/, tmp/ in it) */
	const char *path;          /* PATH given to helm (copied; NULL: helperd's own, else
	                            * /usr/local/bin:/usr/bin:/bin) */
	struct k8s_source k8s;     /* the cluster helm talks to (the one k8s_api.c uses) */
	long kill_grace_ms;        /* SIGTERM -> SIGKILL; 0: 5000 */
	size_t max_out, max_err;   /* 0: the defaults above */
};

/* 0, or -1 with a sentence in err (the directory cannot be made or is not private:
 * not ours, or open to others after chmod). Called again, it replaces the settings
 * (runs under way keep theirs). */
int helm_run_init(uv_loop_t *loop, const struct helm_config *cfg, char *err,
                  size_t errlen) WUR;
/* services.helm_home's default for this helperd: $TMPDIR (else /tmp) +
 * "/kaiden-helm-<uid>-<instance>" (instance's characters outside [A-Za-z0-9._-]
 * become '_'). helm_run_init then makes it 0700 and refuses it when it is not ours. */
void helm_run_default_home(const char *instance, char *out, size_t outlen);
/* Kills every running child (SIGKILL to its group), no callbacks; forgets the config.
 * The loop must then run once more to close the handles. */
void helm_run_shutdown(void);

/* --- names ---------------------------------------------------------------------- */

/* 1 when ns is `paas-ws-` + a remainder that keeps ns a DNS-1123 label (<= 63). */
int helm_namespace_ok(const char *ns);
/* 1 when name matches helm's release name rule (section 9) and is at most 53 long. */
int helm_release_ok(const char *name);

/* --- argument arrays ------------------------------------------------------------ */

/* argv[0] is the subcommand ("upgrade", "status", ...); the program itself is not in
 * it. Strings are owned (helm_args_clear frees them). */
struct helm_args {
	char *argv[HELM_ARGV_MAX + 1];   /* NULL-terminated */
	int argc;
};

struct helm_chart {
	const char *ref;       /* "oci://registry/path/chart", or a chart name with repo */
	const char *repo;      /* --repo URL for a bare chart name; NULL or "" for oci:// */
	const char *version;   /* pinned chart version (required) */
};

struct helm_install {
	struct helm_chart chart;
	int timeout_s;         /* --timeout; 0: 600 */
	int wait;              /* 1: --wait (helm blocks until ready); 0: return once applied */
	int history_max;       /* --history-max; 0: helm's default (10) */
};

/* Each fills *a (cleared first) and returns 0, or -1 with err when a name, the chart or
 * a number is not acceptable (nothing to free then).
 *
 * install/upgrade: `upgrade NAME CHART --install --namespace NS --version V [--repo URL]
 *   -f - --reset-values [--history-max N] [--wait] --timeout Ns`. One verb for both: a
 *   job resumed after a crash runs the same command whether or not the first attempt
 *   created the release, and a failed first install is recovered (helm-cli.md 2). The
 *   complete values are on stdin every time, with --reset-values: nothing depends on
 *   what the previous revision held. No `-o json`: its output is the whole release with
 *   the chart and the values (large, and secret); read `status -o json` afterwards. */
int helm_args_upgrade(struct helm_args *a, const char *ns, const char *release,
                      const struct helm_install *in, char *err, size_t errlen) WUR;
/* `rollback NAME REVISION --namespace NS [--wait] --timeout Ns` (no -o in helm). */
int helm_args_rollback(struct helm_args *a, const char *ns, const char *release, int revision,
                       int wait, int timeout_s, char *err, size_t errlen) WUR;
/* `uninstall NAME --namespace NS --timeout Ns` (no -o in helm; "release: not found" is
 * for the caller to take as done: helm_error_not_found). */
int helm_args_uninstall(struct helm_args *a, const char *ns, const char *release,
                        int timeout_s, char *err, size_t errlen) WUR;
/* `status NAME --namespace NS -o json` */
int helm_args_status(struct helm_args *a, const char *ns, const char *release, char *err,
                     size_t errlen) WUR;
/* `history NAME --namespace NS --max N -o json` (max 0: 256) */
int helm_args_history(struct helm_args *a, const char *ns, const char *release, int max,
                      char *err, size_t errlen) WUR;
/* `get values NAME --namespace NS -o json`: the user values (secret ones included:
 * never log the output) */
int helm_args_get_values(struct helm_args *a, const char *ns, const char *release,
                         char *err, size_t errlen) WUR;
void helm_args_clear(struct helm_args *a);

/* The guard helm_run_start applies (exposed for tests): 0, or -1 with why in err. */
int helm_args_check(const struct helm_args *a, char *err, size_t errlen) WUR;

/* --- running -------------------------------------------------------------------- */

enum helm_outcome {
	HELM_OK,          /* exit status 0 */
	HELM_FAILED,      /* exited non-zero (helm: 1); error holds its `Error:` line */
	HELM_TIMEOUT,     /* killed after timeout_ms */
	HELM_TOO_LARGE,   /* killed: stdout or stderr past its cap */
	HELM_SIGNALLED,   /* ended by a signal we did not send */
};

struct helm_result {
	enum helm_outcome outcome;
	int exit_status;          /* when it exited, else -1 */
	int term_signal;          /* the signal that ended it, else 0 */
	const char *out;          /* stdout, borrowed for the callback, NUL-terminated */
	size_t out_len;
	const char *err;          /* stderr, borrowed likewise */
	size_t err_len;
	char error[HELM_ERROR_MAX]; /* "" on HELM_OK; else readable: the last `Error: ...`
	                             * line of stderr without "Error: ", or what happened
	                             * ("helm did not finish within 30 s") */
	double seconds;
};

typedef void (*helm_done_fn)(void *arg, const struct helm_result *res);

struct helm_run;

/* Starts helm with args (checked by helm_args_check; copied), values (len bytes, may be
 * 0; written to stdin, which is then closed), killed after timeout_ms (0: 660000: helm's
 * own --timeout plus a minute). Returns the run, or NULL with err when it is refused or
 * cannot start (not initialised, the token file unreadable, the program missing); done
 * is then never called. */
struct helm_run *helm_run_start(const struct helm_args *args, const char *values,
                                size_t values_len, long timeout_ms, helm_done_fn done,
                                void *arg, char *err, size_t errlen);
/* Kills the child (SIGKILL to its group); done is not called. */
void helm_run_cancel(struct helm_run *run);
/* Stops watching the child without killing it (its pipes closed, done not called): at
 * helperd's shutdown, so that an install or upgrade under way finishes on its own
 * instead of leaving the release's pending-* lock, which the next start would have to
 * wait out (it runs in its own process group, bounded by helm's --timeout). */
void helm_run_abandon(struct helm_run *run);
/* Runs started and not yet finished. */
int helm_running(void);

/* Whether a helm that this helm home started on release, and that nobody watches any more
 * (helperd stopped or was SIGKILLed while it ran), is still running. */
enum helm_orphan {
	HELM_ORPHAN_NONE,    /* no such helm known here (none ran, or its exit was seen) */
	HELM_ORPHAN_RUNNING, /* it still runs: it will clear the release's lock when it ends */
	HELM_ORPHAN_GONE,    /* it is gone without its exit being seen: killed in the middle,
	                      * or ended while nobody watched */
};
enum helm_orphan helm_run_orphan(const char *release);

/* 1 when a failed run's error says the release does not exist ("release: not found",
 * also uninstall's "Release not loaded: NAME: release: not found"). */
int helm_error_not_found(const struct helm_result *res);

/* --- parsing -------------------------------------------------------------------- */

/* pkg/release/status.go, in that order. */
enum helm_state {
	HELM_STATE_UNKNOWN,
	HELM_STATE_DEPLOYED,
	HELM_STATE_UNINSTALLED,
	HELM_STATE_SUPERSEDED,
	HELM_STATE_FAILED,
	HELM_STATE_UNINSTALLING,
	HELM_STATE_PENDING_INSTALL,
	HELM_STATE_PENDING_UPGRADE,
	HELM_STATE_PENDING_ROLLBACK,
};
/* "deployed" -> HELM_STATE_DEPLOYED, ...; anything else (or NULL) HELM_STATE_UNKNOWN. */
enum helm_state helm_state_parse(const char *s);
const char *helm_state_name(enum helm_state st);   /* static */
int helm_state_pending(enum helm_state st);         /* the three pending-* */

/* `helm status -o json` (helm-cli.md section 3): what a service needs of it. Plain data. */
struct helm_status {
	char name[HELM_RELEASE_MAX + 1];
	char namespace_[64];
	int revision;                 /* "version"; 0 when absent */
	enum helm_state state;        /* info.status; UNKNOWN when absent */
	char status[32];              /* info.status as given ("" when absent) */
	char description[256];        /* info.description ("" when absent) */
	char first_deployed[48];      /* RFC 3339 or "" */
	char last_deployed[48];
};

/* An RFC 3339 time as helm prints it ("2026-12-03T06:40:53.123456789+01:00") or the
 * Kubernetes API does ("2026-12-03T05:40:53Z", "...53.123456Z"): Unix seconds, or -1
 * when it is not one. */
int64_t helm_time_seconds(const char *s);

/* Strict about types (a member present with the wrong type is refused), tolerant of
 * members it does not know; `config` and `manifest` (secrets) are never copied.
 * 0 with *out written, or -1 with a reason. */
int helm_status_parse(const char *json, size_t len, struct helm_status *out, char *reason,
                      size_t reasonlen) WUR;

/* One item of `helm history -o json`. All six members are required. */
struct helm_revision {
	int revision;
	char updated[48];
	enum helm_state state;
	char status[32];
	char chart[128];              /* "<name>-<version>" */
	char app_version[64];
	char description[256];
};

/* *out: an owned array of *n items (free() it), oldest first as helm gives them; NULL
 * when n is 0. 0, or -1 with a reason (nothing to free). */
int helm_history_parse(const char *json, size_t len, struct helm_revision **out, size_t *n,
                       char *reason, size_t reasonlen) WUR;

#endif
