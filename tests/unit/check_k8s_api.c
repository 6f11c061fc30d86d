/* check_k8s_api.c: helperd/k8s_api.c on a real libuv loop (http.c's curl multi) against
 * tests/fakes/fake_k8s.py: a namespace created with its labels, again (409 -> done), one
 * another tenant holds (refused); the quota and limit range created then replaced (PUT
 * with the resourceVersion); a release's pods summed up (ready, ImagePullBackOff,
 * CrashLoopBackOff) after the LimitRange let them past the quota; a namespace deleted,
 * then gone; helperd's RoleBinding in a namespace (created, again -> done, one that binds
 * another account refused); the namespace guard (nothing sent); a 403 as a sentence; no
 * token file; the quota's status.hard waited for (the fake's quota controller held, then
 * synced); a Deployment's pod the quota refuses read back from its FailedCreate event;
 * and the pure parts (the PodList summary, the bodies, quantities, the account setting,
 * the event list). */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "fakek8s.h"
#include "http.h"
#include "k8s_api.h"
#include "log.h"

#define TOKEN "check-k8s-api-token-Qw93"
#define TENANT "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define NS "paas-ws-t1"

static uv_loop_t T_loop;

/* --- the fake (fakek8s.h) ------------------------------------------------------------ */

/* A blocking request to the fake (control API, or the API with the token): status. */
static long call(const char *method, const char *path, const char *body, struct buf *out,
                 int auth)
{
	return K_call(method, path, body, out, auth ? TOKEN : NULL);
}

static void init_api(void)
{
	struct k8s_source src;
	char err[256];

	ck_assert_msg(k8s_source_init(&src, K_base, K_token, "", 1, err, sizeof(err)) == 0,
	              "%s", err);
	src.timeout_ms = 5000;
	ck_assert_int_eq(k8s_api_init(&T_loop, &src), 0);
}

static void setup(void)
{
	log_init("check_k8s_api", LOG_LVL_DEBUG);
	ck_assert_int_eq(uv_loop_init(&T_loop), 0);
	K_start(TOKEN, NULL, 0);
	init_api();
}

static void teardown(void)
{
	k8s_api_shutdown();
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&T_loop), 0);
	K_stop();
}

/* --- running a call ---------------------------------------------------------------- */

struct got {
	int called;
	struct k8s_api_result res;
};

static void on_done(void *arg, const struct k8s_api_result *res)
{
	struct got *g = arg;

	g->called++;
	g->res = *res;
}

static void wait_for(struct k8s_api_call *c, struct got *g, const char *err)
{
	ck_assert_msg(c != NULL, "refused: %s", err);
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g->called, 1);
}

static struct got create_ns(const char *ns, const char *tenant)
{
	struct got g = { 0 };
	char err[256] = "";

	wait_for(k8s_api_create_namespace(ns, tenant, on_done, &g, err, sizeof(err)), &g, err);
	return g;
}

static long requests_seen(void)
{
	struct buf b;
	long n = -1;
	const char *p;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(call("GET", "/_fake/counts", NULL, &b, 0), 200);
	p = strstr(b.data, "\"requests\":");
	if (p)
		n = strtol(p + 11, NULL, 10);
	buf_clear(&b);
	return n;
}

START_TEST(test_namespace)
{
	struct got g;
	struct buf b;

	g = create_ns(NS, TENANT);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.http_status, 201);
	ck_assert_int_eq(g.res.existed, 0);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(call("GET", "/api/v1/namespaces/" NS, NULL, &b, 1), 200);
	ck_assert_ptr_nonnull(strstr(b.data, "\"app.kubernetes.io/managed-by\":\"kaiden\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"kaiden.dev/tenant\":\"" TENANT "\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"pod-security.kubernetes.io/enforce\":\"baseline\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"pod-security.kubernetes.io/warn\":\"restricted\""));
	buf_clear(&b);

	/* again: 409 AlreadyExists, then the GET finds it ours */
	g = create_ns(NS, TENANT);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.existed, 1);

	/* another tenant's namespace is not taken over */
	g = create_ns(NS, "another-tenant");
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.transient, 0);
	ck_assert_ptr_nonnull(strstr(g.res.reason, "exists and is not this tenant's"));

	/* delete, then delete again: gone */
	{
		struct got d = { 0 };
		char err[256];
		wait_for(k8s_api_delete_namespace(NS, on_done, &d, err, sizeof(err)), &d, err);
		ck_assert_msg(d.res.ok, "%s", d.res.reason);
		ck_assert_int_eq(d.res.gone, 0);
		memset(&d, 0, sizeof(d));
		wait_for(k8s_api_delete_namespace(NS, on_done, &d, err, sizeof(err)), &d, err);
		ck_assert(d.res.ok);
		ck_assert_int_eq(d.res.gone, 1);
	}
}
END_TEST

/* A namespace that is terminating is a transient refusal. */
START_TEST(test_namespace_terminating)
{
	struct got g, d = { 0 };
	char err[256];

	ck_assert_int_eq(call("POST", "/_fake/config", "{\"namespace_finalize\":\"manual\"}",
	                      NULL, 0), 200);
	g = create_ns(NS, TENANT);
	ck_assert(g.res.ok);
	wait_for(k8s_api_delete_namespace(NS, on_done, &d, err, sizeof(err)), &d, err);
	ck_assert(d.res.ok);
	g = create_ns(NS, TENANT);
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.transient, 1);
	ck_assert_ptr_nonnull(strstr(g.res.reason, "still being deleted"));
}
END_TEST

START_TEST(test_quota_and_pods)
{
	struct k8s_api_quota q = { .cpu_m = 2000, .memory = 4LL << 30, .storage = 20LL << 30,
	                           .pods = 20 };
	struct got g = { 0 };
	struct buf b;
	char err[256];
	static const char pod[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":"
		"{\"app.kubernetes.io/instance\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":"
		"\"main\",\"image\":\"docker.io/bitnami/postgresql:17.6.0\"}]}}";
	char body[512];

	ck_assert(create_ns(NS, TENANT).res.ok);
	wait_for(k8s_api_apply_quota(NS, &q, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.existed, 0);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(call("GET", "/api/v1/namespaces/" NS "/resourcequotas/kaiden-quota", NULL,
	                      &b, 1), 200);
	ck_assert_ptr_nonnull(strstr(b.data, "\"requests.cpu\":\"2\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"limits.memory\":\"4Gi\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"requests.storage\":\"20Gi\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"pods\":\"20\""));
	buf_reset(&b);

	/* the plan changes: replaced in place */
	q.cpu_m = 1500;
	q.pods = 5;
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_apply_quota(NS, &q, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.existed, 1);
	ck_assert_int_eq(call("GET", "/api/v1/namespaces/" NS "/resourcequotas/kaiden-quota", NULL,
	                      &b, 1), 200);
	ck_assert_ptr_nonnull(strstr(b.data, "\"requests.cpu\":\"1500m\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"pods\":\"5\""));
	buf_reset(&b);
	ck_assert_int_eq(call("GET", "/api/v1/namespaces/" NS "/limitranges/kaiden-limits", NULL,
	                      &b, 1), 200);
	ck_assert_ptr_nonnull(strstr(b.data, "\"defaultRequest\""));
	buf_reset(&b);

	/* pods without resources get past the quota thanks to the LimitRange */
	snprintf(body, sizeof(body), pod, "pg-0", "paas-ws-t1-pg");
	ck_assert_int_eq(call("POST", "/api/v1/namespaces/" NS "/pods", body, &b, 1), 201);
	snprintf(body, sizeof(body), pod, "pg-1", "paas-ws-t1-pg");
	ck_assert_int_eq(call("POST", "/api/v1/namespaces/" NS "/pods", body, NULL, 1), 201);
	snprintf(body, sizeof(body), pod, "other-0", "paas-ws-t1-redis");
	ck_assert_int_eq(call("POST", "/api/v1/namespaces/" NS "/pods", body, NULL, 1), 201);
	buf_clear(&b);

	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "paas-ws-t1-pg", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.pods.total, 2);
	ck_assert_int_eq(g.res.pods.ready, 0);
	ck_assert_str_eq(g.res.pods.reason, "ContainerCreating");
	ck_assert_int_eq(g.res.pods.stuck, 0);

	ck_assert_int_eq(call("POST", "/_fake/pods", "{\"namespace\":\"" NS "\",\"instance\":"
	                      "\"paas-ws-t1-pg\",\"state\":\"ImagePullBackOff\"}", NULL, 0), 200);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "paas-ws-t1-pg", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.pods.total, 2);
	ck_assert_str_eq(g.res.pods.reason, "ImagePullBackOff");
	ck_assert_int_eq(g.res.pods.stuck, 1);
	ck_assert_ptr_nonnull(strstr(g.res.pods.problem, "pod pg-0: the image cannot be pulled "
	                                                 "(ImagePullBackOff): Back-off pulling"));

	ck_assert_int_eq(call("POST", "/_fake/pods", "{\"namespace\":\"" NS "\",\"instance\":"
	                      "\"paas-ws-t1-pg\",\"state\":\"ready\"}", NULL, 0), 200);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "paas-ws-t1-pg", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.pods.total, 2);
	ck_assert_int_eq(g.res.pods.ready, 2);
	ck_assert_str_eq(g.res.pods.reason, "");

	ck_assert_int_eq(call("POST", "/_fake/pods", "{\"namespace\":\"" NS "\",\"instance\":"
	                      "\"paas-ws-t1-redis\",\"state\":\"CrashLoopBackOff\"}", NULL, 0),
	                 200);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "paas-ws-t1-redis", on_done, &g, err, sizeof(err)), &g,
	         err);
	ck_assert_int_eq(g.res.pods.total, 1);
	ck_assert_str_eq(g.res.pods.reason, "CrashLoopBackOff");
	ck_assert_ptr_nonnull(strstr(g.res.pods.problem, "a container keeps crashing"));

	/* no pods at all: 0 of 0 */
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "nothing", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert(g.res.ok);
	ck_assert_int_eq(g.res.pods.total, 0);
}
END_TEST

static struct got bind_role(const char *ns, const char *account)
{
	struct got g = { 0 };
	char err[256] = "";

	wait_for(k8s_api_bind_tenant_role(ns, account, on_done, &g, err, sizeof(err)), &g, err);
	return g;
}

START_TEST(test_rolebinding)
{
	struct got g;
	struct buf b;
	char err[256];
	long before;

	ck_assert(create_ns(NS, TENANT).res.ok);
	g = bind_role(NS, "kaiden-system/kaiden-helperd");
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.http_status, 201);
	ck_assert_int_eq(g.res.existed, 0);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(call("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/" NS
	                      "/rolebindings/kaiden-helperd", NULL, &b, 1), 200);
	ck_assert_ptr_nonnull(strstr(b.data, "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
	                                     "\"kind\":\"ClusterRole\",\"name\":\"kaiden-helperd-tenant\"}"));
	ck_assert_ptr_nonnull(strstr(b.data, "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":"
	                                     "\"kaiden-helperd\",\"namespace\":\"kaiden-system\"}]"));
	ck_assert_ptr_nonnull(strstr(b.data, "\"app.kubernetes.io/managed-by\":\"kaiden\""));
	buf_clear(&b);

	/* again (a resumed job): 409, read back, the same role and account: done */
	g = bind_role(NS, "kaiden-system/kaiden-helperd");
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.existed, 1);

	/* the binding there names another account: refused, not changed */
	g = bind_role(NS, "other-system/kaiden-helperd");
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.transient, 0);
	ck_assert_msg(strstr(g.res.reason, "rolebinding kaiden-helperd in " NS " exists and is not "
	                                   "kaiden-helperd-tenant for other-system/kaiden-helperd")
	              != NULL, "%s", g.res.reason);

	/* no namespace: the API's 404 as a sentence */
	g = bind_role("paas-ws-none", "kaiden-system/kaiden-helperd");
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.http_status, 404);
	ck_assert_ptr_nonnull(strstr(g.res.reason, "namespaces \"paas-ws-none\" not found"));

	/* a malformed account: refused, nothing sent */
	before = requests_seen();
	memset(&g, 0, sizeof(g));
	ck_assert_ptr_null(k8s_api_bind_tenant_role(NS, "kaiden-helperd", on_done, &g, err,
	                                            sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "k8s.service_account must be NAMESPACE/NAME"));
	ck_assert_ptr_null(k8s_api_bind_tenant_role(NS, "", on_done, &g, err, sizeof(err)));
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
	ck_assert_int_eq(requests_seen(), before);
}
END_TEST

/* status.hard is filled by the quota controller, later: counted only then, and only
 * with the limits asked for (a changed plan is not counted until it catches up). */
START_TEST(test_quota_counted)
{
	struct k8s_api_quota q = { .cpu_m = 2000, .pods = 20 };
	struct got g = { 0 };
	char err[256] = "";

	ck_assert(create_ns(NS, TENANT).res.ok);
	ck_assert_int_eq(call("POST", "/_fake/config", "{\"quota_sync\":false}", NULL, 0), 200);
	wait_for(k8s_api_apply_quota(NS, &q, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_counted(NS, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_int_eq(g.res.counted, 0);
	ck_assert_int_eq(call("POST", "/_fake/quotas/sync", "{}", NULL, 0), 200);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_counted(NS, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.counted, 1);

	q.pods = 5;
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_apply_quota(NS, &q, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_counted(NS, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.counted, 0);
	ck_assert_int_eq(call("POST", "/_fake/quotas/sync", "{}", NULL, 0), 200);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_counted(NS, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.counted, 1);

	/* no quota at all: a refusal, not "not yet" */
	ck_assert(create_ns("paas-ws-t3", TENANT).res.ok);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_counted("paas-ws-t3", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.http_status, 404);
}
END_TEST

/* A Deployment of two replicas under a quota that holds one pod: the second is never
 * made, its ReplicaSet gets FailedCreate, and the release's refusal says the quota's
 * words; another release, or a refusal from before `since`, is not this one's. */
START_TEST(test_quota_refusal)
{
	struct k8s_api_quota q = { .cpu_m = 500 };
	struct got g = { 0 };
	char err[256] = "";
	static const char deploy[] =
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		"\"paas-ws-t1-pg-postgresql\",\"labels\":{\"app.kubernetes.io/instance\":"
		"\"paas-ws-t1-pg\"}},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
		"{\"app.kubernetes.io/instance\":\"paas-ws-t1-pg\"}},\"template\":{\"metadata\":"
		"{\"labels\":{\"app.kubernetes.io/instance\":\"paas-ws-t1-pg\"}},\"spec\":"
		"{\"containers\":[{\"name\":\"main\",\"image\":\"docker.io/bitnami/postgresql:"
		"17.6.0\"}]}}}}";

	ck_assert(create_ns(NS, TENANT).res.ok);
	wait_for(k8s_api_apply_quota(NS, &q, on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_refusal(NS, "paas-ws-t1-pg", 0, on_done, &g, err, sizeof(err)),
	         &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_str_eq(g.res.refusal, "");

	ck_assert_int_eq(call("POST", "/apis/apps/v1/namespaces/" NS "/deployments", deploy, NULL,
	                      1), 201);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_list_pods(NS, "paas-ws-t1-pg", on_done, &g, err, sizeof(err)), &g, err);
	ck_assert_int_eq(g.res.pods.total, 1);
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_refusal(NS, "paas-ws-t1-pg", 0, on_done, &g, err, sizeof(err)),
	         &g, err);
	ck_assert_msg(g.res.ok, "%s", g.res.reason);
	ck_assert_msg(strncmp(g.res.refusal, "exceeded quota: kaiden-quota, requested: ", 41) == 0,
	              "%s", g.res.refusal);
	ck_assert_ptr_nonnull(strstr(g.res.refusal, "limited: limits.cpu=500m"));
	/* another release (a prefix of this one's names, not a dash after it) */
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_refusal(NS, "paas-ws-t1-p", 0, on_done, &g, err, sizeof(err)),
	         &g, err);
	ck_assert_str_eq(g.res.refusal, "");
	/* one seen before this deploy began */
	memset(&g, 0, sizeof(g));
	wait_for(k8s_api_quota_refusal(NS, "paas-ws-t1-pg", (int64_t)time(NULL) + 3600, on_done,
	                               &g, err, sizeof(err)), &g, err);
	ck_assert_str_eq(g.res.refusal, "");
	ck_assert_ptr_null(k8s_api_quota_refusal(NS, "Bad_Name", 0, on_done, &g, err,
	                                         sizeof(err)));
}
END_TEST

/* Outside paas-ws-: refused before anything is sent. */
START_TEST(test_guard)
{
	static const char *const bad[] = { "default", "kube-system", "paas-ws-", "paas-ws-A",
	                                   "paas-ws-a/../../x", "xpaas-ws-1", "" };
	struct k8s_api_quota q = { .cpu_m = 1000 };
	struct got g = { 0 };
	char err[256];
	long before = requests_seen();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_ptr_null(k8s_api_create_namespace(bad[i], TENANT, on_done, &g, err,
		                                            sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "namespace refused"));
		ck_assert_ptr_null(k8s_api_apply_quota(bad[i], &q, on_done, &g, err, sizeof(err)));
		ck_assert_ptr_null(k8s_api_list_pods(bad[i], "pg", on_done, &g, err, sizeof(err)));
		ck_assert_ptr_null(k8s_api_delete_namespace(bad[i], on_done, &g, err, sizeof(err)));
		ck_assert_ptr_null(k8s_api_bind_tenant_role(bad[i], "kaiden-system/kaiden-helperd",
		                                            on_done, &g, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "namespace refused"));
	}
	ck_assert_ptr_null(k8s_api_list_pods(NS, "pg,x=y", on_done, &g, err, sizeof(err)));
	ck_assert_ptr_null(k8s_api_create_namespace(NS, "bad tenant", on_done, &g, err,
	                                            sizeof(err)));
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
	/* the fake counts API requests only (not its control calls): none came */
	ck_assert_int_eq(requests_seen(), before);
}
END_TEST

/* A token without the right: 403 as the API's sentence; no token file: refused. */
START_TEST(test_errors)
{
	struct got g;
	char err[256];

	ck_assert_int_eq(call("POST", "/_fake/tokens", "{\"token\":\"" TOKEN "\",\"rights\":"
	                      "[\"get\"]}", NULL, 0), 200);
	g = create_ns(NS, TENANT);
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.http_status, 403);
	ck_assert_str_eq(g.res.status_reason, "Forbidden");
	ck_assert_int_eq(g.res.transient, 0);
	ck_assert_msg(strstr(g.res.reason, "403 Forbidden: namespaces") != NULL, "%s",
	              g.res.reason);
	ck_assert_ptr_null(strstr(g.res.reason, TOKEN));

	ck_assert_int_eq(call("POST", "/_fake/faults", "{\"fail\":[{\"status\":503,\"count\":1,"
	                      "\"path\":\"namespaces\"}]}", NULL, 0), 200);
	ck_assert_int_eq(call("POST", "/_fake/tokens", "{\"token\":\"" TOKEN "\",\"rights\":"
	                      "[\"*\"]}", NULL, 0), 200);
	g = create_ns(NS, TENANT);
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.transient, 1);

	ck_assert_int_eq(unlink(K_token), 0);
	memset(&g, 0, sizeof(g));
	ck_assert_ptr_null(k8s_api_create_namespace(NS, TENANT, on_done, &g, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "the service account token"));
	uv_run(&T_loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(g.called, 0);
}
END_TEST

START_TEST(test_unreachable)
{
	struct k8s_source src;
	struct got g;
	char err[256];

	ck_assert_int_eq(k8s_source_init(&src, "http://127.0.0.1:9", K_token, "", 1, err,
	                                 sizeof(err)), 0);
	ck_assert_int_eq(k8s_api_init(&T_loop, &src), 0);
	g = create_ns(NS, TENANT);
	ck_assert_int_eq(g.res.ok, 0);
	ck_assert_int_eq(g.res.transient, 1);
	ck_assert_ptr_nonnull(strstr(g.res.reason, "cannot reach the Kubernetes API"));
}
END_TEST

/* --- pure parts -------------------------------------------------------------------- */

START_TEST(test_pods_parse)
{
	struct k8s_pods p;
	char reason[256];
	static const char unsched[] =
		"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[{\"metadata\":"
		"{\"name\":\"a\"},\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
		"\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":"
		"\"0/1 nodes are available: 1 Insufficient cpu.\"}]}},{\"metadata\":{\"name\":\"b\"},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]}";
	static const char mixed[] =
		"{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"a\"},\"status\":"
		"{\"containerStatuses\":[{\"name\":\"c\",\"ready\":false,\"state\":{\"waiting\":"
		"{\"reason\":\"ContainerCreating\"}}}]}},{\"metadata\":{\"name\":\"b\"},\"status\":"
		"{\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
		"\"CreateContainerConfigError\",\"message\":\"secret \\\"x\\\" not found\"}}}]}}]}";

	ck_assert_int_eq(k8s_pods_parse(unsched, strlen(unsched), &p, reason, sizeof(reason)), 0);
	ck_assert_int_eq(p.total, 2);
	ck_assert_int_eq(p.ready, 1);
	ck_assert_str_eq(p.reason, "Unschedulable");
	ck_assert_int_eq(p.stuck, 1);
	ck_assert_str_eq(p.problem, "pod a: no node can run it (Unschedulable): 0/1 nodes are "
	                            "available: 1 Insufficient cpu.");

	/* a stuck reason wins over an earlier passing one */
	ck_assert_int_eq(k8s_pods_parse(mixed, strlen(mixed), &p, reason, sizeof(reason)), 0);
	ck_assert_str_eq(p.reason, "CreateContainerConfigError");
	ck_assert_int_eq(p.stuck, 1);

	ck_assert_int_eq(k8s_pods_parse("{\"kind\":\"Status\"}", 17, &p, reason, sizeof(reason)),
	                 -1);
	ck_assert_int_eq(k8s_pods_parse("nope", 4, &p, reason, sizeof(reason)), -1);
	ck_assert_int_eq(k8s_pods_parse("{\"kind\":\"PodList\",\"items\":[1]}", 30, &p, reason,
	                                sizeof(reason)), -1);
}
END_TEST

START_TEST(test_events_parse)
{
	static const char list[] =
		"{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":["
		/* a StatefulSet's, older */
		"{\"metadata\":{\"name\":\"a\"},\"involvedObject\":{\"kind\":\"StatefulSet\","
		"\"name\":\"paas-ws-t1-db-postgresql\"},\"reason\":\"FailedCreate\",\"message\":"
		"\"create Pod paas-ws-t1-db-postgresql-0 in StatefulSet paas-ws-t1-db-postgresql "
		"failed error: pods \\\"paas-ws-t1-db-postgresql-0\\\" is forbidden: failed quota: "
		"kaiden-quota: must specify limits.cpu\",\"lastTimestamp\":\"2026-12-03T05:00:00Z\"},"
		/* the ReplicaSet's, newer (eventTime only, as events.k8s.io writes) */
		"{\"metadata\":{\"name\":\"b\"},\"involvedObject\":{\"kind\":\"ReplicaSet\","
		"\"name\":\"paas-ws-t1-db-7d9f\"},\"reason\":\"FailedCreate\",\"message\":"
		"\"Error creating: pods \\\"x\\\" is forbidden: exceeded quota: kaiden-quota, "
		"requested: pods=1, used: pods=1, limited: pods=1\",\"lastTimestamp\":null,"
		"\"eventTime\":\"2026-12-03T05:01:00.123456Z\"},"
		/* not a quota's */
		"{\"involvedObject\":{\"name\":\"paas-ws-t1-db\"},\"reason\":\"FailedCreate\","
		"\"message\":\"Error creating: admission webhook denied\",\"lastTimestamp\":"
		"\"2026-12-03T06:00:00Z\"},"
		/* another release's */
		"{\"involvedObject\":{\"name\":\"paas-ws-t1-dbx-1\"},\"reason\":\"FailedCreate\","
		"\"message\":\"exceeded quota: other\",\"lastTimestamp\":\"2026-12-03T06:00:00Z\"},"
		/* not FailedCreate */
		"{\"involvedObject\":{\"name\":\"paas-ws-t1-db\"},\"reason\":\"Scheduled\","
		"\"message\":\"exceeded quota: no\",\"lastTimestamp\":\"2026-12-03T06:00:00Z\"},"
		"7]}";
	char out[K8S_REFUSAL_MAX], reason[128];
	const time_t t0 = 1796274000; /* 2026-12-03T05:00:00Z */

	ck_assert_int_eq(k8s_events_quota_refusal(list, strlen(list), "paas-ws-t1-db", 0, out,
	                                          sizeof(out), reason, sizeof(reason)), 0);
	ck_assert_str_eq(out, "exceeded quota: kaiden-quota, requested: pods=1, used: pods=1, "
	                      "limited: pods=1");
	ck_assert_int_eq(k8s_events_quota_refusal(list, strlen(list), "paas-ws-t1-db", t0 + 61,
	                                          out, sizeof(out), reason, sizeof(reason)), 0);
	ck_assert_str_eq(out, "");
	/* the older one alone: the StatefulSet's */
	ck_assert_int_eq(k8s_events_quota_refusal(list, strlen(list), "paas-ws-t1-db-postgresql",
	                                          t0, out, sizeof(out), reason, sizeof(reason)), 0);
	ck_assert_str_eq(out, "failed quota: kaiden-quota: must specify limits.cpu");
	ck_assert_int_eq(k8s_events_quota_refusal("{\"kind\":\"PodList\",\"items\":[]}", 29,
	                                          "paas-ws-t1-db", 0, out, sizeof(out), reason,
	                                          sizeof(reason)), -1);
	ck_assert_int_eq(k8s_events_quota_refusal("nope", 4, "paas-ws-t1-db", 0, out,
	                                          sizeof(out), reason, sizeof(reason)), -1);

	ck_assert_int_eq(k8s_quota_counted_parse("{\"kind\":\"ResourceQuota\",\"spec\":{\"hard\":"
	                                         "{\"pods\":\"5\"}}}", 53), 0);
	ck_assert_int_eq(k8s_quota_counted_parse("{\"kind\":\"ResourceQuota\",\"spec\":{\"hard\":"
	                                         "{\"pods\":\"5\"}},\"status\":{\"hard\":{\"pods\":"
	                                         "\"4\"}}}", 84), 0);
	ck_assert_int_eq(k8s_quota_counted_parse("{\"kind\":\"ResourceQuota\",\"spec\":{\"hard\":"
	                                         "{\"pods\":\"5\"}},\"status\":{\"hard\":{\"pods\":"
	                                         "\"5\"}}}", 84), 1);
	ck_assert_int_eq(k8s_quota_counted_parse("{\"kind\":\"Status\"}", 17), -1);
}
END_TEST

START_TEST(test_bodies)
{
	struct k8s_api_quota q = { .cpu_m = 250, .memory = 256LL << 20, .pods = 3 };
	char t[32], *body;

	k8s_api_cpu_text(2000, t, sizeof(t));
	ck_assert_str_eq(t, "2");
	k8s_api_cpu_text(1500, t, sizeof(t));
	ck_assert_str_eq(t, "1500m");
	k8s_api_bytes_text(4LL << 30, t, sizeof(t));
	ck_assert_str_eq(t, "4Gi");
	k8s_api_bytes_text(1536LL << 20, t, sizeof(t));
	ck_assert_str_eq(t, "1536Mi");
	k8s_api_bytes_text(1000, t, sizeof(t));
	ck_assert_str_eq(t, "1000");

	body = k8s_api_quota_body(NS, &q);
	ck_assert_str_eq(body,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":"
	                 "\"kaiden-quota\",\"namespace\":\"paas-ws-t1\",\"labels\":{"
	                 "\"app.kubernetes.io/managed-by\":\"kaiden\"}},\"spec\":{\"hard\":{"
	                 "\"requests.cpu\":\"250m\",\"limits.cpu\":\"250m\",\"requests.memory\":"
	                 "\"256Mi\",\"limits.memory\":\"256Mi\",\"pods\":\"3\","
	                 "\"services.loadbalancers\":\"0\",\"services.nodeports\":\"0\"}}}");
	free(body);
	/* defaults clamped to the quota */
	body = k8s_api_limits_body(NS, &q);
	ck_assert_ptr_nonnull(strstr(body, "\"default\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}"));
	ck_assert_ptr_nonnull(strstr(body, "\"defaultRequest\":{\"cpu\":\"100m\",\"memory\":"
	                                   "\"128Mi\"}"));
	free(body);
}
END_TEST

START_TEST(test_account)
{
	static const char *const bad[] = { "", "kaiden-helperd", "/kaiden-helperd",
	                                   "kaiden-system/", "Kaiden/x", "a/b/c", "a/-b",
	                                   "a/b.", "a_b/c", "a/b..c",
	                                   "a123456789012345678901234567890123456789012345678901"
	                                   "234567890123/x" }; /* a 64-character namespace */
	char ns[64] = "untouched", name[254] = "untouched", *body;

	ck_assert_int_eq(k8s_api_account_parse("kaiden-system/kaiden-helperd", ns, sizeof(ns),
	                                       name, sizeof(name)), 0);
	ck_assert_str_eq(ns, "kaiden-system");
	ck_assert_str_eq(name, "kaiden-helperd");
	ck_assert_int_eq(k8s_api_account_parse("ops/helperd.v2", ns, sizeof(ns), name,
	                                       sizeof(name)), 0);
	ck_assert_str_eq(name, "helperd.v2");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ns, sizeof(ns), "untouched");
		ck_assert_msg(k8s_api_account_parse(bad[i], ns, sizeof(ns), name, sizeof(name)) == -1,
		              "%s", bad[i]);
		ck_assert_str_eq(ns, "untouched");
	}
	ck_assert_int_eq(k8s_api_account_parse(NULL, ns, sizeof(ns), name, sizeof(name)), -1);

	body = k8s_api_rolebinding_body(NS, "kaiden-system", "kaiden-helperd");
	ck_assert_str_eq(body,
	                 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
	                 "\"metadata\":{\"name\":\"kaiden-helperd\",\"namespace\":\"paas-ws-t1\","
	                 "\"labels\":{\"app.kubernetes.io/managed-by\":\"kaiden\"}},\"roleRef\":{"
	                 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
	                 "\"name\":\"kaiden-helperd-tenant\"},\"subjects\":[{\"kind\":"
	                 "\"ServiceAccount\",\"name\":\"kaiden-helperd\",\"namespace\":"
	                 "\"kaiden-system\"}]}");
	free(body);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("k8s_api");
	TCase *tf = tcase_create("fake");
	TCase *tp = tcase_create("pure");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_namespace);
	tcase_add_test(tf, test_namespace_terminating);
	tcase_add_test(tf, test_quota_and_pods);
	tcase_add_test(tf, test_rolebinding);
	tcase_add_test(tf, test_quota_counted);
	tcase_add_test(tf, test_quota_refusal);
	tcase_add_test(tf, test_guard);
	tcase_add_test(tf, test_errors);
	tcase_add_test(tf, test_unreachable);
	suite_add_tcase(s, tf);
	tcase_add_test(tp, test_pods_parse);
	tcase_add_test(tp, test_events_parse);
	tcase_add_test(tp, test_bodies);
	tcase_add_test(tp, test_account);
	suite_add_tcase(s, tp);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
