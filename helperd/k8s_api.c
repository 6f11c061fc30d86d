/* k8s_api.c: the cloud services' Kubernetes API calls (k8s_api.h says what they
 * promise).
 *
 * One call is a few HTTP requests in a row; its step says which answer it waits for:
 *
 *   create namespace:  POST --201--> done
 *                           --409 AlreadyExists--> GET --ours, Active--> done (existed)
 *                                                      --not ours--> refused
 *                                                      --Terminating--> transient
 *   bind tenant role:  POST the RoleBinding --201--> done
 *                           --409 AlreadyExists--> GET --binds our role to our account--> done
 *                                                          (existed)
 *                                                      --anything else--> refused
 *   apply quota:       for the quota, then the limit range:
 *                      POST --201--> next object
 *                           --409 AlreadyExists--> GET --200--> PUT (its resourceVersion)
 *                                                               --200--> next object
 *                                                               --409 Conflict--> GET again
 *                                                                 (3 times at most)
 *   list pods:         GET --200--> summed up --> done
 *   quota counted:     GET the quota --200--> status.hard compared with spec.hard --> done
 *   quota refusal:     GET the FailedCreate events --200--> the newest quota refusal
 *                      of the release's controllers --> done
 *   delete namespace:  DELETE --200/202--> done; --404--> done (gone)
 *   any other answer:  refused (the Status as a sentence), transient for 0, 429, 5xx.
 */
#include "k8s_api.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helm_run.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"

#define MAX_CONFLICTS 3

enum kind { OP_CREATE_NS, OP_BIND, OP_APPLY, OP_LIST_PODS, OP_DELETE_NS,
	OP_QUOTA_COUNTED, OP_QUOTA_REFUSAL };

#define RBAC_GROUP "rbac.authorization.k8s.io"
enum step { ST_POST, ST_GET_EXISTING, ST_PUT, ST_GET, ST_DELETE,
	ST_GET_QUOTA, ST_GET_EVENTS };

struct k8s_api_call {
	enum kind kind;
	enum step step;
	char ns[64];
	char tenant[64];
	char release[HELM_RELEASE_MAX + 1];
	char sa_ns[64], sa_name[254]; /* OP_BIND: the subject */
	int object;              /* OP_APPLY: 0 the quota, 1 the limit range */
	int64_t since;           /* OP_QUOTA_REFUSAL: events last seen before are old */
	int conflicts;
	char *bodies[2];         /* OP_APPLY: the two objects; OP_CREATE_NS, OP_BIND: [0] */
	struct http_call *http;
	k8s_api_done_fn done;
	void *arg;
	struct k8s_api_call *prev, *next;
};

static struct {
	int ready;
	struct k8s_source src;
	struct k8s_api_call *calls;
} K;

/* --- quantities and bodies --------------------------------------------------------- */

void k8s_api_cpu_text(int64_t m, char *out, size_t outlen)
{
	if (m % 1000 == 0)
		snprintf(out, outlen, "%lld", (long long)(m / 1000));
	else
		snprintf(out, outlen, "%lldm", (long long)m);
}

void k8s_api_bytes_text(int64_t b, char *out, size_t outlen)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = { { "Ti", 40 }, { "Gi", 30 }, { "Mi", 20 }, { "Ki", 10 } };

	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		int64_t unit = (int64_t)1 << units[i].shift;
		if (b != 0 && b % unit == 0) {
			snprintf(out, outlen, "%lld%s", (long long)(b / unit), units[i].suffix);
			return;
		}
	}
	snprintf(out, outlen, "%lld", (long long)b);
}

static void add_cpu(json_object *o, const char *key, int64_t m)
{
	char t[32];

	k8s_api_cpu_text(m, t, sizeof(t));
	json_object_object_add(o, key, json_object_new_string(t));
}

static void add_bytes(json_object *o, const char *key, int64_t b)
{
	char t[32];

	k8s_api_bytes_text(b, t, sizeof(t));
	json_object_object_add(o, key, json_object_new_string(t));
}

static json_object *object_head(const char *kind, const char *name, const char *ns)
{
	json_object *o = json_object_new_object(), *meta = json_object_new_object();
	json_object *labels = json_object_new_object();

	json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(meta, "name", json_object_new_string(name));
	if (ns)
		json_object_object_add(meta, "namespace", json_object_new_string(ns));
	json_object_object_add(labels, K8S_API_MANAGED_BY_LABEL,
	                       json_object_new_string(K8S_API_MANAGED_BY));
	json_object_object_add(meta, "labels", labels);
	json_object_object_add(o, "metadata", meta);
	return o;
}

static char *to_text(json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
	char *s = t ? strdup(t) : NULL;

	json_object_put(o);
	return s;
}

char *k8s_api_quota_body(const char *ns, const struct k8s_api_quota *q)
{
	json_object *o = object_head("ResourceQuota", K8S_API_QUOTA_NAME, ns);
	json_object *spec = json_object_new_object(), *hard = json_object_new_object();
	char n[32];

	if (q->cpu_m > 0) {
		add_cpu(hard, "requests.cpu", q->cpu_m);
		add_cpu(hard, "limits.cpu", q->cpu_m);
	}
	if (q->memory > 0) {
		add_bytes(hard, "requests.memory", q->memory);
		add_bytes(hard, "limits.memory", q->memory);
	}
	if (q->storage > 0)
		add_bytes(hard, "requests.storage", q->storage);
	if (q->pods > 0) {
		snprintf(n, sizeof(n), "%d", q->pods);
		json_object_object_add(hard, "pods", json_object_new_string(n));
	}
	/* A tenant's service is reached through the platform's ingress, never a node port
	 * or a cloud load balancer of its own. */
	json_object_object_add(hard, "services.loadbalancers", json_object_new_string("0"));
	json_object_object_add(hard, "services.nodeports", json_object_new_string("0"));
	json_object_object_add(spec, "hard", hard);
	json_object_object_add(o, "spec", spec);
	return to_text(o);
}

static int64_t at_most(int64_t want, int64_t cap)
{
	return cap > 0 && want > cap ? cap : want;
}

char *k8s_api_limits_body(const char *ns, const struct k8s_api_quota *q)
{
	json_object *o = object_head("LimitRange", K8S_API_LIMITS_NAME, ns);
	json_object *spec = json_object_new_object(), *limits = json_object_new_array();
	json_object *item = json_object_new_object(), *def = json_object_new_object();
	json_object *req = json_object_new_object();
	int64_t cpu = at_most(q->default_cpu_m > 0 ? q->default_cpu_m : 500, q->cpu_m);
	int64_t mem = at_most(q->default_memory > 0 ? q->default_memory : 512LL << 20, q->memory);
	int64_t rcpu = at_most(q->default_request_cpu_m > 0 ? q->default_request_cpu_m : 100, cpu);
	int64_t rmem = at_most(q->default_request_memory > 0 ? q->default_request_memory
	                                                     : 128LL << 20, mem);

	json_object_object_add(item, "type", json_object_new_string("Container"));
	add_cpu(def, "cpu", cpu);
	add_bytes(def, "memory", mem);
	add_cpu(req, "cpu", rcpu);
	add_bytes(req, "memory", rmem);
	json_object_object_add(item, "default", def);
	json_object_object_add(item, "defaultRequest", req);
	json_object_array_add(limits, item);
	json_object_object_add(spec, "limits", limits);
	json_object_object_add(o, "spec", spec);
	return to_text(o);
}

static char *namespace_body(const char *ns, const char *tenant)
{
	json_object *o = object_head("Namespace", ns, NULL), *meta, *labels;

	json_object_object_get_ex(o, "metadata", &meta);
	json_object_object_get_ex(meta, "labels", &labels);
	json_object_object_add(labels, K8S_API_TENANT_LABEL, json_object_new_string(tenant));
	/* Pod Security Admission: a tenant's charts may not run privileged pods, host
	 * namespaces or host paths (baseline, enforced); what falls short of restricted is
	 * said back to helm as a warning. */
	json_object_object_add(labels, "pod-security.kubernetes.io/enforce",
	                       json_object_new_string("baseline"));
	json_object_object_add(labels, "pod-security.kubernetes.io/warn",
	                       json_object_new_string("restricted"));
	return to_text(o);
}

/* --- the RoleBinding ------------------------------------------------------------- */

/* A DNS-1123 label (dots 0) or subdomain (dots 1) of at most max characters. */
static int dns_name_ok(const char *s, size_t len, size_t max, int dots)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (alnum)
			continue;
		if (ch == '-' && i > 0 && i < len - 1)
			continue;
		/* a dot between two alphanumerics: each label starts and ends with one */
		if (dots && ch == '.' && i > 0 && i < len - 1 && s[i - 1] != '-' && s[i - 1] != '.' &&
		    s[i + 1] != '-' && s[i + 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

int k8s_api_account_parse(const char *account, char *ns, size_t nslen, char *name,
                          size_t namelen)
{
	const char *slash = account ? strchr(account, '/') : NULL;
	size_t nl, ml;

	if (!slash)
		return -1;
	nl = (size_t)(slash - account);
	ml = strlen(slash + 1);
	if (!dns_name_ok(account, nl, 63, 0) || !dns_name_ok(slash + 1, ml, 253, 1) ||
	    nl >= nslen || ml >= namelen)
		return -1;
	memcpy(ns, account, nl);
	ns[nl] = '\0';
	memcpy(name, slash + 1, ml + 1);
	return 0;
}

char *k8s_api_rolebinding_body(const char *ns, const char *sa_ns, const char *sa_name)
{
	json_object *o = object_head("RoleBinding", K8S_API_ROLEBINDING_NAME, ns);
	json_object *ref = json_object_new_object(), *subjects = json_object_new_array();
	json_object *sa = json_object_new_object();

	json_object_object_add(o, "apiVersion", json_object_new_string(RBAC_GROUP "/v1"));
	json_object_object_add(ref, "apiGroup", json_object_new_string(RBAC_GROUP));
	json_object_object_add(ref, "kind", json_object_new_string("ClusterRole"));
	json_object_object_add(ref, "name", json_object_new_string(K8S_API_TENANT_ROLE));
	json_object_object_add(o, "roleRef", ref);
	json_object_object_add(sa, "kind", json_object_new_string("ServiceAccount"));
	json_object_object_add(sa, "name", json_object_new_string(sa_name));
	json_object_object_add(sa, "namespace", json_object_new_string(sa_ns));
	json_object_array_add(subjects, sa);
	json_object_object_add(o, "subjects", subjects);
	return to_text(o);
}

/* --- pods -------------------------------------------------------------------------- */

static const struct {
	const char *reason;
	const char *words;
	int stuck;
} waiting_words[] = {
	{ "ImagePullBackOff", "the image cannot be pulled", 1 },
	{ "ErrImagePull", "the image cannot be pulled", 1 },
	{ "InvalidImageName", "the image name is not valid", 1 },
	{ "CrashLoopBackOff", "a container keeps crashing", 1 },
	{ "CreateContainerConfigError", "a container's configuration is missing (a Secret or "
	                                "ConfigMap key)", 1 },
	{ "CreateContainerError", "a container cannot be created", 1 },
	{ "RunContainerError", "a container cannot be started", 1 },
	{ "Unschedulable", "no node can run it", 1 },
	{ "ContainerCreating", "containers are being created", 0 },
	{ "PodInitializing", "it is starting", 0 },
};

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static json_object *member(json_object *o, const char *name, json_type type)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* Condition type's status ("True"/"False"/...) and its reason/message, or NULL. */
static json_object *condition(json_object *status, const char *type)
{
	json_object *conds = member(status, "conditions", json_type_array);
	size_t n = conds ? json_object_array_length(conds) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = json_object_is_type(c, json_type_object) ? jsonx_str(c, "type")
		                                                         : NULL;
		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static void note_problem(struct k8s_pods *p, const char *pod, const char *reason,
                         const char *message)
{
	const char *words = NULL;
	int stuck = 0;

	for (size_t i = 0; i < ARRAY_LEN(waiting_words); i++) {
		if (strcmp(reason, waiting_words[i].reason) == 0) {
			words = waiting_words[i].words;
			stuck = waiting_words[i].stuck;
		}
	}
	/* A stuck reason wins over a passing one found earlier. */
	if (p->reason[0] && (p->stuck || !stuck))
		return;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	clean(p->reason);
	p->stuck = stuck;
	if (message && *message)
		snprintf(p->problem, sizeof(p->problem), "pod %s: %s (%s): %s", pod,
		         words ? words : "waiting", reason, message);
	else
		snprintf(p->problem, sizeof(p->problem), "pod %s: %s (%s)", pod,
		         words ? words : "waiting", reason);
	clean(p->problem);
}

int k8s_pods_parse(const char *json, size_t len, struct k8s_pods *out, char *reason,
                   size_t reasonlen)
{
	json_object *root = NULL, *items;
	struct jsonx_error jerr;
	struct k8s_pods p;
	const char *kind;
	size_t n;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	if (jsonx_parse(json, len, &root, &jerr) != 0) {
		snprintf(reason, reasonlen, "the pod list is not JSON (%.120s)", jerr.message);
		return -1;
	}
	kind = json_object_is_type(root, json_type_object) ? jsonx_str(root, "kind") : NULL;
	items = member(root, "items", json_type_array);
	if (!kind || strcmp(kind, "PodList") != 0 || !items) {
		snprintf(reason, reasonlen, "the answer is not a PodList");
		goto out;
	}
	n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		json_object *pod = json_object_array_get_idx(items, i);
		json_object *meta = member(pod, "metadata", json_type_object);
		json_object *status = member(pod, "status", json_type_object);
		json_object *ready = condition(status, "Ready");
		json_object *sched = condition(status, "PodScheduled");
		json_object *cs = member(status, "containerStatuses", json_type_array);
		const char *name = meta ? jsonx_str(meta, "name") : NULL;
		const char *st;
		char pod_name[64];

		if (!json_object_is_type(pod, json_type_object)) {
			snprintf(reason, reasonlen, "pod %zu is not an object", i);
			goto out;
		}
		snprintf(pod_name, sizeof(pod_name), "%s", name ? name : "?");
		clean(pod_name);
		p.total++;
		st = ready ? jsonx_str(ready, "status") : NULL;
		if (st && strcmp(st, "True") == 0) {
			p.ready++;
			continue;
		}
		st = sched ? jsonx_str(sched, "status") : NULL;
		if (st && strcmp(st, "False") == 0) {
			const char *why = jsonx_str(sched, "reason");
			note_problem(&p, pod_name, why && *why ? why : "Unschedulable",
			             jsonx_str(sched, "message"));
			continue;
		}
		for (size_t j = 0; cs && j < json_object_array_length(cs); j++) {
			json_object *c = json_object_array_get_idx(cs, j);
			json_object *state = member(c, "state", json_type_object);
			json_object *waiting = member(state, "waiting", json_type_object);
			const char *why = waiting ? jsonx_str(waiting, "reason") : NULL;
			if (why && *why)
				note_problem(&p, pod_name, why, jsonx_str(waiting, "message"));
		}
	}
	*out = p;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/* --- requests ---------------------------------------------------------------------- */

static void call_unlink(struct k8s_api_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (K.calls == c)
		K.calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void call_free(struct k8s_api_call *c)
{
	free(c->bodies[0]);
	free(c->bodies[1]);
	free(c);
}

static void finish(struct k8s_api_call *c, struct k8s_api_result *r)
{
	call_unlink(c);
	if (!r->ok)
		log_warn("namespace=%s kubernetes: %s", c->ns, r->reason);
	c->done(c->arg, r);
	call_free(c);
}

static void on_http(void *arg, const struct http_response *resp);

/* Sends one request: 0, or -1 with *r filled (the caller finishes the call). */
static int send_req(struct k8s_api_call *c, enum step step, const char *method,
                    const char *path, const char *body, struct k8s_api_result *r)
{
	char *token = malloc(K8S_TOKEN_MAX + 2), *auth = NULL, ctype[80], url[K8S_URL_MAX + 512];
	const char *headers[4];
	struct http_request req;
	size_t auth_len = K8S_TOKEN_MAX + 40;

	memset(r, 0, sizeof(*r));
	c->step = step;
	c->http = NULL;
	auth = malloc(auth_len);
	if (!token || !auth) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		r->transient = 1;
		goto out;
	}
	if (k8s_source_token(&K.src, token, K8S_TOKEN_MAX + 2, r->reason, sizeof(r->reason)) != 0)
		goto out;
	snprintf(auth, auth_len, "Authorization: Bearer %s", token);
	snprintf(url, sizeof(url), "%s%s", K.src.base_url, path);
	snprintf(ctype, sizeof(ctype), "Content-Type: application/json");
	headers[0] = "Accept: application/json";
	headers[1] = auth;
	headers[2] = body ? ctype : NULL;
	headers[3] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.timeout_ms = K.src.timeout_ms > 0 ? K.src.timeout_ms : 10000;
	req.protocols = K.src.insecure ? "http,https" : "https";
	req.ca_file = K.src.ca_file;
	c->http = http_request(&req, on_http, c);
	if (!c->http) {
		snprintf(r->reason, sizeof(r->reason), "cannot set up a request to the Kubernetes API");
		r->transient = 1;
	}
out:
	if (token) {
		explicit_bzero(token, K8S_TOKEN_MAX + 2);
		free(token);
	}
	if (auth) {
		explicit_bzero(auth, auth_len);
		free(auth);
	}
	return c->http ? 0 : -1;
}

/* A failed answer as a result. */
static void refusal(const struct http_response *resp, struct k8s_api_result *r)
{
	r->ok = 0;
	r->http_status = resp->status;
	if (resp->status == 0) {
		snprintf(r->reason, sizeof(r->reason), "cannot reach the Kubernetes API: %.180s",
		         resp->error);
		clean(r->reason);
		r->transient = 1;
		return;
	}
	k8s_status_reason(resp->status, resp->body, resp->body_len, r->reason, sizeof(r->reason));
	k8s_status_kind(resp->body, resp->body_len, r->status_reason, sizeof(r->status_reason));
	r->transient = resp->status == 429 || resp->status >= 500;
}

static const char *resource_of(int object)
{
	return object == 0 ? "resourcequotas" : "limitranges";
}

static const char *name_of(int object)
{
	return object == 0 ? K8S_API_QUOTA_NAME : K8S_API_LIMITS_NAME;
}

static int apply_next(struct k8s_api_call *c, struct k8s_api_result *r)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s", c->ns, resource_of(c->object));
	return send_req(c, ST_POST, "POST", path, c->bodies[c->object], r);
}

static int apply_get(struct k8s_api_call *c, struct k8s_api_result *r)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", c->ns,
	         resource_of(c->object), name_of(c->object));
	return send_req(c, ST_GET_EXISTING, "GET", path, NULL, r);
}

/* The PUT of our object with the resourceVersion the server has now: 0 sent, or -1
 * with *r filled. */
static int apply_put(struct k8s_api_call *c, const struct http_response *resp,
                     struct k8s_api_result *r)
{
	json_object *cur = NULL, *mine = NULL, *meta, *cmeta, *rv;
	struct jsonx_error jerr;
	char path[256];
	char *body = NULL;
	int rc = -1;

	if (jsonx_parse(resp->body, resp->body_len, &cur, &jerr) != 0 ||
	    !(cmeta = member(cur, "metadata", json_type_object)) ||
	    !(rv = member(cmeta, "resourceVersion", json_type_string)) ||
	    jsonx_parse(c->bodies[c->object], strlen(c->bodies[c->object]), &mine, &jerr) != 0 ||
	    !(meta = member(mine, "metadata", json_type_object))) {
		snprintf(r->reason, sizeof(r->reason), "the Kubernetes API answered %s %s without "
		                                       "a resourceVersion", resource_of(c->object),
		         name_of(c->object));
		goto out;
	}
	json_object_object_add(meta, "resourceVersion", json_object_get(rv));
	body = to_text(mine);
	mine = NULL;
	if (!body) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", c->ns,
	         resource_of(c->object), name_of(c->object));
	rc = send_req(c, ST_PUT, "PUT", path, body, r);
out:
	free(body);
	json_object_put(cur);
	json_object_put(mine);
	return rc;
}

/* The namespace that exists already: ours and this tenant's, and not going away? */
static void check_namespace(struct k8s_api_call *c, const struct http_response *resp,
                            struct k8s_api_result *r)
{
	json_object *root = NULL, *meta, *labels, *status;
	struct jsonx_error jerr;
	const char *by, *tenant, *phase;

	if (jsonx_parse(resp->body, resp->body_len, &root, &jerr) != 0 ||
	    !(meta = member(root, "metadata", json_type_object))) {
		snprintf(r->reason, sizeof(r->reason), "the Kubernetes API answered namespace %s "
		                                       "with something that is not a Namespace",
		         c->ns);
		goto out;
	}
	labels = member(meta, "labels", json_type_object);
	by = labels ? jsonx_str(labels, K8S_API_MANAGED_BY_LABEL) : NULL;
	tenant = labels ? jsonx_str(labels, K8S_API_TENANT_LABEL) : NULL;
	status = member(root, "status", json_type_object);
	phase = status ? jsonx_str(status, "phase") : NULL;
	if (!by || strcmp(by, K8S_API_MANAGED_BY) != 0 || !tenant ||
	    strcmp(tenant, c->tenant) != 0) {
		snprintf(r->reason, sizeof(r->reason), "namespace %s exists and is not this "
		                                       "tenant's (labels %s=%s and %s=<tenant> "
		                                       "missing): not taken over", c->ns,
		         K8S_API_MANAGED_BY_LABEL, K8S_API_MANAGED_BY, K8S_API_TENANT_LABEL);
		goto out;
	}
	if (phase && strcmp(phase, "Terminating") == 0) {
		snprintf(r->reason, sizeof(r->reason), "namespace %s is still being deleted; "
		                                       "try again once it is gone", c->ns);
		r->transient = 1;
		goto out;
	}
	r->ok = 1;
	r->existed = 1;
out:
	json_object_put(root);
}

/* The RoleBinding that exists already: does it bind our role to our account? (Its
 * roleRef cannot change, and a binding someone else made is not ours to rewrite.) */
static void check_binding(struct k8s_api_call *c, const struct http_response *resp,
                          struct k8s_api_result *r)
{
	json_object *root = NULL, *ref, *subjects;
	struct jsonx_error jerr;
	const char *kind, *name;
	int found = 0;

	if (jsonx_parse(resp->body, resp->body_len, &root, &jerr) != 0 ||
	    !(ref = member(root, "roleRef", json_type_object))) {
		snprintf(r->reason, sizeof(r->reason), "the Kubernetes API answered rolebinding %s "
		                                       "in %s with something that is not a "
		                                       "RoleBinding", K8S_API_ROLEBINDING_NAME, c->ns);
		goto out;
	}
	kind = jsonx_str(ref, "kind");
	name = jsonx_str(ref, "name");
	subjects = member(root, "subjects", json_type_array);
	for (size_t i = 0; subjects && i < json_object_array_length(subjects); i++) {
		json_object *sj = json_object_array_get_idx(subjects, i);
		const char *sk = json_object_is_type(sj, json_type_object) ? jsonx_str(sj, "kind") : NULL;
		const char *sn = sk ? jsonx_str(sj, "name") : NULL;
		const char *sns = sk ? jsonx_str(sj, "namespace") : NULL;
		if (sk && sn && sns && strcmp(sk, "ServiceAccount") == 0 &&
		    strcmp(sn, c->sa_name) == 0 && strcmp(sns, c->sa_ns) == 0)
			found = 1;
	}
	if (!kind || strcmp(kind, "ClusterRole") != 0 || !name ||
	    strcmp(name, K8S_API_TENANT_ROLE) != 0 || !found) {
		snprintf(r->reason, sizeof(r->reason), "rolebinding %s in %s exists and is not %s "
		                                       "for %.40s/%.60s: not changed",
		         K8S_API_ROLEBINDING_NAME, c->ns, K8S_API_TENANT_ROLE, c->sa_ns, c->sa_name);
		goto out;
	}
	r->ok = 1;
	r->existed = 1;
out:
	json_object_put(root);
}

static void on_http(void *arg, const struct http_response *resp)
{
	struct k8s_api_call *c = arg;
	struct k8s_api_result r;
	char why[32];

	c->http = NULL;
	memset(&r, 0, sizeof(r));
	r.http_status = resp->status;
	k8s_status_kind(resp->body, resp->body_len, why, sizeof(why));
	switch (c->step) {
	case ST_POST:
		if (resp->status == 201 || resp->status == 200) {
			if (c->kind == OP_APPLY && ++c->object < 2) {
				if (apply_next(c, &r) == 0)
					return;
				break;
			}
			r.ok = 1;
			break;
		}
		if (resp->status == 409 && strcmp(why, "AlreadyExists") == 0) {
			char path[192];
			if (c->kind == OP_APPLY) {
				if (apply_get(c, &r) == 0)
					return;
				break;
			}
			if (c->kind == OP_BIND)
				snprintf(path, sizeof(path), "/apis/" RBAC_GROUP "/v1/namespaces/%s/"
				         "rolebindings/" K8S_API_ROLEBINDING_NAME, c->ns);
			else
				snprintf(path, sizeof(path), "/api/v1/namespaces/%s", c->ns);
			if (send_req(c, ST_GET_EXISTING, "GET", path, NULL, &r) == 0)
				return;
			break;
		}
		refusal(resp, &r);
		break;
	case ST_GET_EXISTING:
		if (resp->status != 200) {
			refusal(resp, &r);
			break;
		}
		if (c->kind == OP_CREATE_NS) {
			check_namespace(c, resp, &r);
			break;
		}
		if (c->kind == OP_BIND) {
			check_binding(c, resp, &r);
			break;
		}
		if (apply_put(c, resp, &r) == 0)
			return;
		break;
	case ST_PUT:
		if (resp->status == 200) {
			if (++c->object < 2) {
				if (apply_next(c, &r) == 0)
					return;
				break;
			}
			r.ok = 1;
			r.existed = 1;
			break;
		}
		if (resp->status == 409 && strcmp(why, "Conflict") == 0 &&
		    ++c->conflicts < MAX_CONFLICTS) {
			if (apply_get(c, &r) == 0)
				return;
			break;
		}
		refusal(resp, &r);
		break;
	case ST_GET:
		if (resp->status != 200) {
			refusal(resp, &r);
			break;
		}
		if (k8s_pods_parse(resp->body, resp->body_len, &r.pods, r.reason,
		                   sizeof(r.reason)) == 0)
			r.ok = 1;
		break;
	case ST_GET_QUOTA:
		if (resp->status != 200) {
			refusal(resp, &r);
			break;
		}
		r.counted = k8s_quota_counted_parse(resp->body, resp->body_len);
		if (r.counted < 0) {
			r.counted = 0;
			snprintf(r.reason, sizeof(r.reason), "the Kubernetes API answered quota %s "
			                                     "with something that is not a "
			                                     "ResourceQuota", K8S_API_QUOTA_NAME);
			break;
		}
		r.ok = 1;
		break;
	case ST_GET_EVENTS:
		if (resp->status != 200) {
			refusal(resp, &r);
			break;
		}
		if (k8s_events_quota_refusal(resp->body, resp->body_len, c->release, c->since,
		                             r.refusal, sizeof(r.refusal), r.reason,
		                             sizeof(r.reason)) == 0)
			r.ok = 1;
		break;
	case ST_DELETE:
		if (resp->status == 200 || resp->status == 202) {
			r.ok = 1;
		} else if (resp->status == 404) {
			r.ok = 1;
			r.gone = 1;
		} else {
			refusal(resp, &r);
		}
		break;
	}
	finish(c, &r);
}

/* --- the calls --------------------------------------------------------------------- */

int k8s_api_init(uv_loop_t *loop, const struct k8s_source *src)
{
	if (K.ready) {
		K.src = *src;
		return 0;
	}
	if (http_init(loop) != 0)
		return -1;
	K.src = *src;
	K.ready = 1;
	return 0;
}

void k8s_api_cancel(struct k8s_api_call *c)
{
	if (!c)
		return;
	if (c->http)
		http_cancel(c->http);
	call_unlink(c);
	call_free(c);
}

void k8s_api_shutdown(void)
{
	if (!K.ready)
		return;
	while (K.calls)
		k8s_api_cancel(K.calls);
	http_shutdown();
	K.ready = 0;
}

/* A call of kind in namespace ns (refused unless paas-ws-*) about release (NULL: none;
 * else refused unless a release name): NULL with err when refused. */
static struct k8s_api_call *call_new(enum kind kind, const char *ns, const char *release,
                                     k8s_api_done_fn done, void *arg, char *err, size_t errlen)
{
	struct k8s_api_call *c;

	if (!K.ready || !done) {
		snprintf(err, errlen, "the Kubernetes API client is not set up");
		return NULL;
	}
	if (!helm_namespace_ok(ns)) {
		snprintf(err, errlen, "namespace refused: only %s<name> namespaces (a DNS-1123 "
		                      "label) are managed", HELM_NAMESPACE_PREFIX);
		log_warn("kubernetes: %s", err);
		return NULL;
	}
	if (release && !helm_release_ok(release)) {
		snprintf(err, errlen, "release name refused");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->kind = kind;
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->release, sizeof(c->release), "%s", release ? release : "");
	c->done = done;
	c->arg = arg;
	return c;
}

/* Links c and sends its first request: method on the path printed from fmt, with
 * c->bodies[0] as its body when bodies > 0 (the first `bodies` of them must have been
 * made: else out of memory). A first request that cannot be sent (the token file
 * unreadable, a setup failure) is a refusal: NULL with err, no callback, so that a
 * callback never runs on the caller's stack. */
static struct k8s_api_call *start(struct k8s_api_call *c, enum step step, const char *method,
                                  int bodies, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static struct k8s_api_call *start(struct k8s_api_call *c, enum step step, const char *method,
                                  int bodies, char *err, size_t errlen, const char *fmt, ...)
{
	struct k8s_api_result r;
	char path[320];
	va_list ap;

	for (int i = 0; i < bodies; i++)
		if (!c->bodies[i]) {
			snprintf(err, errlen, "out of memory");
			call_free(c);
			return NULL;
		}
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	c->next = K.calls;
	if (K.calls)
		K.calls->prev = c;
	K.calls = c;
	if (send_req(c, step, method, path, bodies ? c->bodies[0] : NULL, &r) != 0) {
		snprintf(err, errlen, "%s", r.reason);
		call_unlink(c);
		call_free(c);
		return NULL;
	}
	return c;
}

struct k8s_api_call *k8s_api_create_namespace(const char *ns, const char *tenant,
                                              k8s_api_done_fn done, void *arg, char *err,
                                              size_t errlen)
{
	struct k8s_api_call *c;
	size_t n = tenant ? strlen(tenant) : 0;

	/* A label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
	if (n == 0 || n > 63 || strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
	                                       "VWXYZ0123456789-_.") != n ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", tenant[0]) ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	            tenant[n - 1])) {
		snprintf(err, errlen, "the tenant id is not a valid label value");
		return NULL;
	}
	c = call_new(OP_CREATE_NS, ns, NULL, done, arg, err, errlen);
	if (!c)
		return NULL;
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	c->bodies[0] = namespace_body(ns, tenant);
	return start(c, ST_POST, "POST", 1, err, errlen, "/api/v1/namespaces");
}

struct k8s_api_call *k8s_api_bind_tenant_role(const char *ns, const char *account,
                                              k8s_api_done_fn done, void *arg, char *err,
                                              size_t errlen)
{
	struct k8s_api_call *c;
	char sa_ns[64], sa_name[254];

	if (k8s_api_account_parse(account, sa_ns, sizeof(sa_ns), sa_name, sizeof(sa_name)) != 0) {
		snprintf(err, errlen, "k8s.service_account must be NAMESPACE/NAME (e.g. "
		                      "kaiden-system/kaiden-helperd)");
		return NULL;
	}
	c = call_new(OP_BIND, ns, NULL, done, arg, err, errlen);
	if (!c)
		return NULL;
	snprintf(c->sa_ns, sizeof(c->sa_ns), "%s", sa_ns);
	snprintf(c->sa_name, sizeof(c->sa_name), "%s", sa_name);
	c->bodies[0] = k8s_api_rolebinding_body(ns, sa_ns, sa_name);
	return start(c, ST_POST, "POST", 1, err, errlen,
	             "/apis/" RBAC_GROUP "/v1/namespaces/%s/rolebindings", ns);
}

struct k8s_api_call *k8s_api_apply_quota(const char *ns, const struct k8s_api_quota *q,
                                         k8s_api_done_fn done, void *arg, char *err,
                                         size_t errlen)
{
	struct k8s_api_call *c;

	if (!q || q->cpu_m < 0 || q->memory < 0 || q->storage < 0 || q->pods < 0) {
		snprintf(err, errlen, "a quota cannot be negative");
		return NULL;
	}
	c = call_new(OP_APPLY, ns, NULL, done, arg, err, errlen);
	if (!c)
		return NULL;
	c->bodies[0] = k8s_api_quota_body(ns, q);
	c->bodies[1] = k8s_api_limits_body(ns, q);
	return start(c, ST_POST, "POST", 2, err, errlen, "/api/v1/namespaces/%s/%s", ns,
	             resource_of(0));
}

struct k8s_api_call *k8s_api_list_pods(const char *ns, const char *release,
                                       k8s_api_done_fn done, void *arg, char *err,
                                       size_t errlen)
{
	struct k8s_api_call *c = call_new(OP_LIST_PODS, ns, release, done, arg, err, errlen);

	/* A release name is [a-z0-9.-]: nothing to escape in it. */
	return c ? start(c, ST_GET, "GET", 0, err, errlen,
	                 "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io%%2Finstance"
	                 "%%3D%s", ns, release)
	         : NULL;
}

struct k8s_api_call *k8s_api_delete_namespace(const char *ns, k8s_api_done_fn done,
                                              void *arg, char *err, size_t errlen)
{
	struct k8s_api_call *c = call_new(OP_DELETE_NS, ns, NULL, done, arg, err, errlen);

	return c ? start(c, ST_DELETE, "DELETE", 0, err, errlen, "/api/v1/namespaces/%s", ns)
	         : NULL;
}

/* --- the quota's status and its refusals ------------------------------------------------ */

int k8s_quota_counted_parse(const char *json, size_t len)
{
	json_object *root = NULL, *spec_hard, *status_hard;
	struct jsonx_error jerr;
	const char *kind;
	int rc = -1;

	if (jsonx_parse(json, len, &root, &jerr) != 0)
		return -1;
	kind = json_object_is_type(root, json_type_object) ? jsonx_str(root, "kind") : NULL;
	if (!kind || strcmp(kind, "ResourceQuota") != 0)
		goto out;
	spec_hard = member(member(root, "spec", json_type_object), "hard", json_type_object);
	status_hard = member(member(root, "status", json_type_object), "hard", json_type_object);
	rc = 0;
	if (!status_hard)
		goto out;
	/* Every limit we asked for, as we asked for it: after a change of plan the old
	 * status counts the old limits until the controller catches up. */
	if (spec_hard) {
		json_object_object_foreach(spec_hard, key, want) {
			json_object *have = member(status_hard, key, json_type_string);
			if (!have || !json_object_is_type(want, json_type_string) ||
			    strcmp(json_object_get_string(have), json_object_get_string(want)) != 0)
				goto out;
		}
	}
	rc = 1;
out:
	json_object_put(root);
	return rc;
}

/* When an event was last seen: lastTimestamp, else (events.k8s.io's recorder) its
 * series' lastObservedTime or eventTime. -1 when it says none. */
static int64_t event_seen(json_object *ev)
{
	json_object *series = member(ev, "series", json_type_object);
	int64_t t = helm_time_seconds(jsonx_str(ev, "lastTimestamp"));

	if (t < 0 && series)
		t = helm_time_seconds(jsonx_str(series, "lastObservedTime"));
	if (t < 0)
		t = helm_time_seconds(jsonx_str(ev, "eventTime"));
	return t;
}

int k8s_events_quota_refusal(const char *json, size_t len, const char *release, int64_t since,
                             char *out, size_t outlen, char *reason, size_t reasonlen)
{
	/* The quota admission's words (apiserver resourcequota controller.go). */
	static const char *const marks[] = { "exceeded quota: ", "failed quota: ",
		                             "status unknown for quota: " };
	json_object *root = NULL, *items;
	struct jsonx_error jerr;
	const char *kind, *best = NULL;
	int64_t best_t = -1;
	size_t rlen = release ? strlen(release) : 0;
	int rc = -1;

	if (jsonx_parse(json, len, &root, &jerr) != 0) {
		snprintf(reason, reasonlen, "the event list is not JSON (%.120s)", jerr.message);
		return -1;
	}
	kind = json_object_is_type(root, json_type_object) ? jsonx_str(root, "kind") : NULL;
	items = member(root, "items", json_type_array);
	if (!kind || strcmp(kind, "EventList") != 0 || !items) {
		snprintf(reason, reasonlen, "the answer is not an EventList");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *ev = json_object_array_get_idx(items, i);
		json_object *inv = member(ev, "involvedObject", json_type_object);
		const char *why = json_object_is_type(ev, json_type_object) ? jsonx_str(ev, "reason")
		                                                           : NULL;
		const char *msg = json_object_is_type(ev, json_type_object) ? jsonx_str(ev, "message")
		                                                           : NULL;
		const char *name = inv ? jsonx_str(inv, "name") : NULL;
		const char *words = NULL;
		int64_t t;

		if (!why || strcmp(why, "FailedCreate") != 0 || !msg || !name || rlen == 0)
			continue;
		/* The release's controllers: Bitnami-style fullnames are the release, or the
		 * release, a dash and the chart's name. */
		if (strncmp(name, release, rlen) != 0 || (name[rlen] != '\0' && name[rlen] != '-'))
			continue;
		for (size_t j = 0; j < ARRAY_LEN(marks) && !words; j++)
			words = strstr(msg, marks[j]);
		if (!words)
			continue;
		t = event_seen(ev);
		if (t < since || t < best_t)
			continue;
		best = words;
		best_t = t;
	}
	snprintf(out, outlen, "%s", best ? best : "");
	clean(out);
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

struct k8s_api_call *k8s_api_quota_counted(const char *ns, k8s_api_done_fn done, void *arg,
                                           char *err, size_t errlen)
{
	struct k8s_api_call *c = call_new(OP_QUOTA_COUNTED, ns, NULL, done, arg, err, errlen);

	return c ? start(c, ST_GET_QUOTA, "GET", 0, err, errlen,
	                 "/api/v1/namespaces/%s/resourcequotas/%s", ns, K8S_API_QUOTA_NAME)
	         : NULL;
}

struct k8s_api_call *k8s_api_quota_refusal(const char *ns, const char *release, int64_t since,
                                           k8s_api_done_fn done, void *arg, char *err,
                                           size_t errlen)
{
	struct k8s_api_call *c = call_new(OP_QUOTA_REFUSAL, ns, release, done, arg, err, errlen);

	if (!c)
		return NULL;
	c->since = since;
	return start(c, ST_GET_EVENTS, "GET", 0, err, errlen,
	             "/api/v1/namespaces/%s/events?fieldSelector=reason%%3DFailedCreate", ns);
}
