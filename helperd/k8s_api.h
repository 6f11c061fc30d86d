/* k8s_api.h: the Kubernetes API calls of cloud services (issue 13), asynchronous on
 * helperd's loop through http.h (libcurl multi). Facts: shared/ref/k8s-api.md 1, 4-9.
 *
 * Where: the struct k8s_source of common/k8s_source.h (settings k8s.api, k8s.token_file,
 * k8s.ca_file, k8s.insecure; empty k8s.api: in cluster). The token file is read for
 * every request (the kubelet rotates it); the token goes only in the Authorization
 * header, never in a log or a reason.
 *
 * Promises, whoever calls:
 *   - Every call refuses a namespace that is not `paas-ws-` + a DNS-1123 label
 *     remainder (helm_namespace_ok, seed FR-1.5), whatever the database says: such a
 *     call returns NULL with err and nothing is sent.
 *   - Idempotent for a job resumed after a crash: a create that meets 409 AlreadyExists
 *     is done (res.existed = 1) - for a namespace only once its labels say it is
 *     Kaiden's and this tenant's; a delete that meets 404 is done (res.gone = 1).
 *   - A refusal is the API's Status turned into a sentence ("403 Forbidden: namespaces
 *     is forbidden: User ..."); transport errors, 429 and 5xx are marked transient.
 *   - The callback runs later on the loop, exactly once unless the call is cancelled.
 * Loop thread only. */
#ifndef KAIDEN_K8S_API_H
#define KAIDEN_K8S_API_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "compat.h"
#include "k8s_source.h"

#define K8S_API_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define K8S_API_MANAGED_BY "kaiden"
#define K8S_API_TENANT_LABEL "kaiden.dev/tenant"
#define K8S_API_QUOTA_NAME "kaiden-quota"
#define K8S_API_LIMITS_NAME "kaiden-limits"
/* helperd's rights in a tenant namespace: the ClusterRole deploy/k8s/server/
 * helperd-rbac.yaml defines, bound by a RoleBinding of this name. */
#define K8S_API_TENANT_ROLE "kaiden-helperd-tenant"
#define K8S_API_ROLEBINDING_NAME "kaiden-helperd"

/* Sets up (http_init on loop: one more user of the multi handle). 0 or -1. */
int k8s_api_init(uv_loop_t *loop, const struct k8s_source *src) WUR;
/* Cancels every call (no callbacks); http_shutdown for our use. */
void k8s_api_shutdown(void);

/* A release's pods, summed up (k8s-api.md section 6). Plain data. */
struct k8s_pods {
	int total;                 /* pods matching app.kubernetes.io/instance=<release> */
	int ready;                 /* of which condition Ready is "True" */
	int stuck;                 /* 1: problem is one that will not fix itself
	                            * (ImagePullBackOff, ErrImagePull, CrashLoopBackOff,
	                            * CreateContainerConfigError, Unschedulable, ...) */
	char reason[64];           /* the first waiting reason found ("ImagePullBackOff",
	                            * "Unschedulable" for a pod no node takes), "" if none */
	char problem[320];         /* that reason in plain words, with the pod and the
	                            * kubelet's message: "pod pg-0: the image cannot be
	                            * pulled (ImagePullBackOff): Back-off pulling image ..." */
};

/* How much of a quota refusal's words are kept. */
#define K8S_REFUSAL_MAX 400

struct k8s_api_result {
	int ok;                    /* 1: done (see existed / gone) */
	long http_status;          /* the last answer's, 0 after a transport error */
	int transient;             /* not ok, and worth retrying later (transport, 429, 5xx,
	                            * a namespace still terminating) */
	int existed;               /* a create found the object already there */
	int gone;                  /* a delete found nothing */
	char status_reason[32];    /* the Status body's reason ("Forbidden", ...), or "" */
	char reason[K8S_REASON_MAX]; /* "" when ok; else a sentence a person can act on */
	struct k8s_pods pods;      /* k8s_api_list_pods only */
	int counted;               /* k8s_api_quota_counted: 1 when the quota controller has
	                            * filled status.hard with spec.hard */
	char refusal[K8S_REFUSAL_MAX]; /* k8s_api_quota_refusal: "exceeded quota: ..." or "" */
};

typedef void (*k8s_api_done_fn)(void *arg, const struct k8s_api_result *res);

struct k8s_api_call;

/* A tenant plan's limits for its namespace. Quantities in base units; 0 leaves a
 * default (below) or, for the hard limits, the key out. */
struct k8s_api_quota {
	int64_t cpu_m;             /* requests.cpu and limits.cpu, millicores */
	int64_t memory;            /* requests.memory and limits.memory, bytes */
	int64_t storage;           /* requests.storage, bytes */
	int pods;                  /* pods */
	/* The LimitRange's per-container defaults for charts that set no resources (a
	 * cpu/memory quota refuses such pods otherwise); 0: 500m / 512Mi limits, 100m /
	 * 128Mi requests, each at most the quota's. */
	int64_t default_cpu_m, default_memory;
	int64_t default_request_cpu_m, default_request_memory;
};

/* POST /api/v1/namespaces {name, labels managed-by=kaiden, kaiden.dev/tenant=tenant}.
 * 409: GET it; done when its labels are ours and this tenant's, refused otherwise,
 * transient while it is terminating. tenant must be a valid label value (a UUID). */
struct k8s_api_call *k8s_api_create_namespace(const char *ns, const char *tenant,
                                              k8s_api_done_fn done, void *arg, char *err,
                                              size_t errlen);
/* A RoleBinding K8S_API_ROLEBINDING_NAME in ns that binds the ClusterRole
 * K8S_API_TENANT_ROLE to the ServiceAccount `account` ("NAMESPACE/NAME", the setting
 * k8s.service_account): helperd's rights in a namespace it made, right after the
 * namespace. 409: GET it; done (existed) when it binds that role to that account,
 * refused otherwise (never changed: its roleRef cannot be, and it is not ours). */
struct k8s_api_call *k8s_api_bind_tenant_role(const char *ns, const char *account,
                                              k8s_api_done_fn done, void *arg, char *err,
                                              size_t errlen);
/* ResourceQuota K8S_API_QUOTA_NAME and LimitRange K8S_API_LIMITS_NAME in ns, created,
 * or replaced (GET for the resourceVersion, then PUT; a 409 Conflict starts over, at
 * most 3 times) when they exist. The quota first, then the limits. */
struct k8s_api_call *k8s_api_apply_quota(const char *ns, const struct k8s_api_quota *q,
                                         k8s_api_done_fn done, void *arg, char *err,
                                         size_t errlen);
/* GET the pods labelled app.kubernetes.io/instance=<release> in ns, summed up in
 * res->pods. release must be a valid helm release name. */
struct k8s_api_call *k8s_api_list_pods(const char *ns, const char *release,
                                       k8s_api_done_fn done, void *arg, char *err,
                                       size_t errlen);
/* DELETE /api/v1/namespaces/{ns}: done when accepted (the namespace then terminates on
 * its own) or already gone. */
struct k8s_api_call *k8s_api_delete_namespace(const char *ns, k8s_api_done_fn done,
                                              void *arg, char *err, size_t errlen);
void k8s_api_cancel(struct k8s_api_call *call);

/* GET the ResourceQuota K8S_API_QUOTA_NAME in ns: res->counted 1 once status.hard holds
 * every key of spec.hard with the same value (k8s-api.md 5: until the quota controller
 * fills it, admission refuses what the quota tracks with "status unknown for quota").
 * A quota that is not there is a refusal (404). */
struct k8s_api_call *k8s_api_quota_counted(const char *ns, k8s_api_done_fn done, void *arg,
                                           char *err, size_t errlen);
/* GET /api/v1/namespaces/{ns}/events?fieldSelector=reason=FailedCreate: res->refusal is
 * the newest quota refusal ("exceeded quota: ...", "failed quota: ...", "status unknown
 * for quota: ...") of a controller of the release's (its involvedObject named release or
 * release-...), last seen at or after since (Unix seconds), or "" when there is none. A
 * pod the quota refuses is never made: its ReplicaSet or StatefulSet gets this event
 * instead (k8s-api.md 5), so the pods alone show nothing. */
struct k8s_api_call *k8s_api_quota_refusal(const char *ns, const char *release, int64_t since,
                                           k8s_api_done_fn done, void *arg, char *err,
                                           size_t errlen);

/* Pure parts, for tests and fuzzing. */
/* A PodList body into *out. 0, or -1 with a reason (not JSON, not a PodList). */
int k8s_pods_parse(const char *json, size_t len, struct k8s_pods *out, char *reason,
                   size_t reasonlen) WUR;
/* "NAMESPACE/NAME" into its two parts (each a DNS-1123 label, <= 63; a ServiceAccount
 * name may be a subdomain, <= 253). 0, or -1 with nothing written. */
int k8s_api_account_parse(const char *account, char *ns, size_t nslen, char *name,
                          size_t namelen) WUR;
/* The RoleBinding's JSON body (owned string; NULL out of memory). */
char *k8s_api_rolebinding_body(const char *ns, const char *sa_ns, const char *sa_name);
/* An EventList body: the newest quota refusal as k8s_api_quota_refusal says into out
 * ("" none). 0, or -1 with a reason (not JSON, not an EventList). */
int k8s_events_quota_refusal(const char *json, size_t len, const char *release, int64_t since,
                             char *out, size_t outlen, char *reason, size_t reasonlen) WUR;
/* A ResourceQuota body: 1 counted (status.hard has spec.hard), 0 not yet, -1 not a
 * ResourceQuota. */
int k8s_quota_counted_parse(const char *json, size_t len);
/* The JSON body of the quota or the limit range (owned string; NULL out of memory). */
char *k8s_api_quota_body(const char *ns, const struct k8s_api_quota *q);
char *k8s_api_limits_body(const char *ns, const struct k8s_api_quota *q);
/* A quantity in the short form Kubernetes prints: millicores "2" / "1500m", bytes
 * "4Gi" / "512Mi" / "1000". */
void k8s_api_cpu_text(int64_t millicores, char *out, size_t outlen);
void k8s_api_bytes_text(int64_t bytes, char *out, size_t outlen);

#endif
