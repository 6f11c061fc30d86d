/* check_k8s_node.c: the agent's node reader (agent/k8s_node.c): quantities, the Node
 * and Status bodies of shared/ref/k8s-api.md, where to ask, what counts as a change, and
 * k8s_node_read on an lws loop (agent/k8s_get.c) against tests/fakes/fake_k8s.py (each
 * error mode: 401, a rotated token, 403, 404, 500, a dropped or garbled reply, a body over
 * the cap, a timeout and a cancel held at the fake's gate, no token file, nothing
 * listening, https with the test CA, without it and with another CA). */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fakek8s.h"
#include "k8s_node.h"
#include "trust.h"

/* --- quantities -------------------------------------------------------------------- */

static const struct {
	const char *text;
	int scale;
	int ok;
	int64_t want;
} quantities[] = {
	/* CPU in millicores (scale 3), as nodes report it */
	{ "4", 3, 1, 4000 },
	{ "3910m", 3, 1, 3910 },
	{ "0.5", 3, 1, 500 },
	{ ".5", 3, 1, 500 },
	{ "5.", 3, 1, 5000 },
	{ "+2", 3, 1, 2000 },
	{ "1e3", 3, 1, 1000000 },
	{ "1E3", 3, 1, 1000000 },
	{ "1e-3", 3, 1, 1 },
	{ "1.5m", 3, 1, 2 },          /* rounded up, as MilliValue() */
	{ "100n", 3, 1, 1 },
	{ "250u", 3, 1, 1 },
	{ "2k", 3, 1, 2000000 },
	{ "0", 3, 1, 0 },
	{ "0.000", 3, 1, 0 },
	{ "-1", 3, 1, -1000 },
	{ "-1.5m", 3, 1, -2 },        /* away from zero */
	/* memory in bytes (scale 0) */
	{ "16318644Ki", 0, 1, 16710291456LL },
	{ "15601844Ki", 0, 1, 15976288256LL },
	{ "93478772582", 0, 1, 93478772582LL },
	{ "16Gi", 0, 1, 17179869184LL },
	{ "1.5Gi", 0, 1, 1610612736LL },
	{ "512Mi", 0, 1, 536870912LL },
	{ "1Ti", 0, 1, 1099511627776LL },
	{ "1Pi", 0, 1, 1125899906842624LL },
	{ "7Ei", 0, 1, 8070450532247928832LL },
	{ "1M", 0, 1, 1000000 },
	{ "1G", 0, 1, 1000000000 },
	{ "1T", 0, 1, 1000000000000LL },
	{ "1P", 0, 1, 1000000000000000LL },
	{ "9E", 0, 1, 9000000000000000000LL },
	{ "1k", 0, 1, 1000 },
	{ "1m", 0, 1, 1 },            /* a thousandth of a byte, rounded up */
	{ "0.1", 0, 1, 1 },
	{ "9223372036854775807", 0, 1, INT64_MAX },
	{ "922337203685477580700000e-5", 0, 1, INT64_MAX },  /* zeros past 19 digits */
	{ "1e-40", 0, 1, 1 },
	{ "110", 0, 1, 110 },
	/* overflow */
	{ "8Ei", 0, 0, 0 },
	{ "10E", 0, 0, 0 },
	{ "9223372036854775808", 0, 0, 0 },
	{ "9223372036854775807", 3, 0, 0 },
	{ "1e19", 0, 0, 0 },
	{ "1e1001", 0, 0, 0 },
	{ "12345678901234567891", 0, 0, 0 }, /* 20 significant digits */
	{ "0.12345678901234567891", 3, 0, 0 },
	/* garbage */
	{ "", 0, 0, 0 },
	{ ".", 0, 0, 0 },
	{ "-", 0, 0, 0 },
	{ "Mi", 0, 0, 0 },
	{ "1KB", 0, 0, 0 },
	{ "1K", 0, 0, 0 },
	{ "1ki", 0, 0, 0 },
	{ "1mi", 0, 0, 0 },
	{ "1 Gi", 0, 0, 0 },
	{ " 1", 0, 0, 0 },
	{ "1Gi ", 0, 0, 0 },
	{ "1.2.3", 0, 0, 0 },
	{ "--1", 0, 0, 0 },
	{ "+-1", 0, 0, 0 },
	{ "1e", 0, 0, 0 },
	{ "1e+", 0, 0, 0 },
	{ "1e3.5", 0, 0, 0 },
	{ "1e3Mi", 0, 0, 0 },
	{ "1Mie3", 0, 0, 0 },
	{ "4 cores", 3, 0, 0 },
	{ "0x10", 0, 0, 0 },
	{ "1,5", 0, 0, 0 },
};

START_TEST(test_quantity)
{
	int64_t got = 12345;
	int rc = k8s_quantity_parse(quantities[_i].text, quantities[_i].scale, &got);

	if (quantities[_i].ok) {
		ck_assert_msg(rc == 0, "\"%s\" was refused", quantities[_i].text);
		ck_assert_msg(got == quantities[_i].want, "\"%s\" scale %d: %lld, want %lld",
		              quantities[_i].text, quantities[_i].scale, (long long)got,
		              (long long)quantities[_i].want);
	} else {
		ck_assert_msg(rc == -1, "\"%s\" was accepted as %lld", quantities[_i].text,
		              (long long)got);
		ck_assert_msg(got == 12345, "\"%s\": out written on failure", quantities[_i].text);
	}
}
END_TEST

START_TEST(test_node_names)
{
	static const char *good[] = { "worker-1", "a", "ip-10-0-0-1.ec2.internal", "0node", "a.b" };
	static const char *bad[] = { "", "Worker", "-a", "a-", "a..b", ".a", "a.", "a/b", "../x",
	                             "a b", "a%2f", "a_b", "é" };
	char long_label[70], too_long[260];

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		ck_assert_msg(k8s_node_name_valid(good[i]), "%s refused", good[i]);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(!k8s_node_name_valid(bad[i]), "%s accepted", bad[i]);
	ck_assert(!k8s_node_name_valid(NULL));
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	ck_assert(!k8s_node_name_valid(long_label));
	long_label[63] = '\0';
	ck_assert(k8s_node_name_valid(long_label));
	for (int i = 0; i < 254; i++)
		too_long[i] = (i % 10 == 9) ? '.' : 'a';
	too_long[254] = '\0';
	ck_assert(!k8s_node_name_valid(too_long));
	too_long[253] = '\0';
	too_long[252] = 'a';
	ck_assert(k8s_node_name_valid(too_long));
}
END_TEST

/* --- Node bodies ------------------------------------------------------------------- */

/* shared/ref/k8s-schemas/examples/api/node.json, as a real worker's kubelet reports it. */
static const char node_json[] =
	"{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"worker-1\","
	"\"uid\":\"6f1c2d1e-8f59-4c43-9a57-2f2f6a8e1b10\",\"resourceVersion\":\"884211\","
	"\"creationTimestamp\":\"2024-05-02T09:14:07Z\",\"labels\":{"
	"\"kubernetes.io/os\":\"linux\",\"beta.kubernetes.io/arch\":\"amd64\","
	"\"beta.kubernetes.io/os\":\"linux\",\"kubernetes.io/arch\":\"amd64\","
	"\"kubernetes.io/hostname\":\"worker-1\",\"node-role.kubernetes.io/worker\":\"\"},"
	"\"annotations\":{\"node.alpha.kubernetes.io/ttl\":\"0\"}},"
	"\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"podCIDRs\":[\"10.244.1.0/24\"]},"
	"\"status\":{\"capacity\":{\"cpu\":\"4\",\"ephemeral-storage\":\"101430960Ki\","
	"\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":\"16318644Ki\",\"pods\":\"110\"},"
	"\"allocatable\":{\"cpu\":\"3910m\",\"ephemeral-storage\":\"93478772582\","
	"\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":\"15601844Ki\",\"pods\":\"110\"},"
	"\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\","
	"\"reason\":\"KubeletHasSufficientMemory\"},{\"type\":\"DiskPressure\",\"status\":\"False\"},"
	"{\"type\":\"PIDPressure\",\"status\":\"False\"},{\"type\":\"Ready\",\"status\":\"True\","
	"\"lastHeartbeatTime\":\"2024-06-01T10:00:00Z\",\"reason\":\"KubeletReady\","
	"\"message\":\"kubelet is posting ready status\"}],"
	"\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.0.2.11\"}],"
	"\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}},"
	"\"nodeInfo\":{\"machineID\":\"0b5a2c9f8e7d4c3b2a190807f6e5d4c3\","
	"\"systemUUID\":\"0b5a2c9f-8e7d-4c3b-2a19-0807f6e5d4c3\",\"bootID\":\"d2b1c3a4\","
	"\"kernelVersion\":\"6.1.0-21-amd64\",\"osImage\":\"Debian GNU/Linux 12 (bookworm)\","
	"\"containerRuntimeVersion\":\"containerd://1.7.13\",\"kubeletVersion\":\"v1.30.2\","
	"\"kubeProxyVersion\":\"v1.30.2\",\"operatingSystem\":\"linux\",\"architecture\":\"amd64\"}}}";

/* node_json with the first occurrence of from replaced by to (owned). */
static char *node_with(const char *from, const char *to)
{
	const char *at = strstr(node_json, from);
	char *out;

	ck_assert_msg(at != NULL, "the fixture has no %s", from);
	out = malloc(sizeof(node_json) + strlen(to));
	ck_assert_ptr_nonnull(out);
	sprintf(out, "%.*s%s%s", (int)(at - node_json), node_json, to, at + strlen(from));
	return out;
}

static int parse(const char *json, struct k8s_node *n, char *reason)
{
	return k8s_node_parse(json, strlen(json), n, reason, K8S_REASON_MAX);
}

START_TEST(test_node_parse)
{
	struct k8s_node n;
	char reason[K8S_REASON_MAX] = "";

	ck_assert_msg(parse(node_json, &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.name, "worker-1");
	ck_assert_str_eq(n.resource_version, "884211");
	/* keys sorted, whatever the order they came in */
	ck_assert_str_eq(n.labels, "{\"beta.kubernetes.io/arch\":\"amd64\",\"beta.kubernetes.io/os\":"
	                           "\"linux\",\"kubernetes.io/arch\":\"amd64\",\"kubernetes.io/"
	                           "hostname\":\"worker-1\",\"kubernetes.io/os\":\"linux\","
	                           "\"node-role.kubernetes.io/worker\":\"\"}");
	ck_assert_int_eq(n.ready, K8S_READY_TRUE);
	ck_assert_str_eq(k8s_ready_name(n.ready), "Ready");
	ck_assert_int_eq(n.unschedulable, 0);
	ck_assert_int_eq(n.res.cpu_capacity_m, 4000);
	ck_assert_int_eq(n.res.cpu_allocatable_m, 3910);
	ck_assert_int_eq(n.res.memory_capacity, 16710291456LL);
	ck_assert_int_eq(n.res.memory_allocatable, 15976288256LL);
	ck_assert_str_eq(n.res.cpu_capacity, "4");
	ck_assert_str_eq(n.res.cpu_allocatable, "3910m");
	ck_assert_str_eq(n.res.memory_capacity_raw, "16318644Ki");
	ck_assert_str_eq(n.res.memory_allocatable_raw, "15601844Ki");
	ck_assert_str_eq(n.res.pods_capacity, "110");
	ck_assert_str_eq(n.kubelet_version, "v1.30.2");
	ck_assert_str_eq(n.os_image, "Debian GNU/Linux 12 (bookworm)");
	ck_assert_str_eq(n.kernel_version, "6.1.0-21-amd64");
	ck_assert_str_eq(n.container_runtime_version, "containerd://1.7.13");
	ck_assert_str_eq(n.architecture, "amd64");
}
END_TEST

START_TEST(test_node_variants)
{
	struct k8s_node n;
	char reason[K8S_REASON_MAX] = "", *j;

	j = node_with("{\"type\":\"Ready\",\"status\":\"True\"", "{\"type\":\"Ready\",\"status\":\"False\"");
	ck_assert_msg(parse(j, &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(k8s_ready_name(n.ready), "NotReady");
	free(j);
	j = node_with("{\"type\":\"Ready\",\"status\":\"True\"", "{\"type\":\"Ready\",\"status\":\"Unknown\"");
	ck_assert_msg(parse(j, &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(k8s_ready_name(n.ready), "Unknown");
	free(j);
	/* no Ready condition at all (a node that never reported) */
	j = node_with("{\"type\":\"Ready\",\"status\":\"True\"", "{\"type\":\"Readyish\",\"status\":\"True\"");
	ck_assert_msg(parse(j, &n, reason) == 0, "%s", reason);
	ck_assert_int_eq(n.ready, K8S_READY_UNKNOWN);
	free(j);
	/* cordoned */
	j = node_with("\"spec\":{", "\"spec\":{\"unschedulable\":true,");
	ck_assert_msg(parse(j, &n, reason) == 0, "%s", reason);
	ck_assert_int_eq(n.unschedulable, 1);
	free(j);
	/* no labels, no status: a bare node still parses, resources unknown (-1) */
	ck_assert_msg(parse("{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\"}}",
	                    &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.labels, "{}");
	ck_assert_int_eq(n.ready, K8S_READY_UNKNOWN);
	ck_assert_int_eq(n.res.cpu_capacity_m, -1);
	ck_assert_int_eq(n.res.memory_allocatable, -1);
	ck_assert_str_eq(n.res.cpu_capacity, "");
	ck_assert_str_eq(n.kubelet_version, "");
	ck_assert_msg(parse("{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\",\"labels\":null}}",
	                    &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.labels, "{}");
	/* control characters in a version string never reach a log */
	j = node_with("v1.30.2\",\"kubeProxy", "v1\\n2\\u001b[31m\",\"kubeProxy");
	ck_assert_msg(parse(j, &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.kubelet_version, "v1?2?[31m");
	free(j);
}
END_TEST

static const struct {
	const char *from, *to; /* replaced in node_json; from NULL: to is the whole body */
	const char *reason;    /* a part of the reason */
} bad_nodes[] = {
	{ NULL, "", "not JSON" },
	{ NULL, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\"}", "not JSON" },
	{ NULL, "[1,2]", "not a JSON object" },
	{ NULL, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"}",
	  "a Status, not a Node" },
	{ NULL, "{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\"}}", "has no kind, so it is not a Node" },
	{ NULL, "{\"kind\":\"Node\"}", "no valid metadata.name" },
	{ NULL, "{\"kind\":\"Node\",\"metadata\":{\"name\":7}}", "no valid metadata.name" },
	{ NULL, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\",\"name\":\"y\"}}", "not JSON" },
	{ "\"kubernetes.io/os\":\"linux\"", "\"kubernetes.io/os\":1", "metadata.labels[\"kubernetes.io/os\"] is not a string" },
	{ "\"labels\":{", "\"labels\":[],\"x\":{", "metadata.labels is not an object" },
	{ "\"cpu\":\"4\"", "\"cpu\":\"4 cores\"", "status.capacity.cpu \"4 cores\" is not a quantity" },
	{ "\"cpu\":\"3910m\"", "\"cpu\":3910", "status.allocatable.cpu \"3910\" is not a quantity" },
	{ "\"memory\":\"16318644Ki\"", "\"memory\":\"16GB\"", "status.capacity.memory \"16GB\"" },
	{ "\"memory\":\"15601844Ki\"", "\"memory\":\"9Ei\"", "status.allocatable.memory \"9Ei\"" },
	{ "\"memory\":\"15601844Ki\"", "\"memory\":\"-1Gi\"", "status.allocatable.memory \"-1Gi\"" },
	{ "\"pods\":\"110\"", "\"pods\":\"many\"", "status.capacity.pods" },
	{ "\"spec\":{", "\"spec\":{\"unschedulable\":\"true\",", "spec.unschedulable is not a boolean" },
};

START_TEST(test_node_bad)
{
	struct k8s_node n;
	char reason[K8S_REASON_MAX] = "", *j;

	memset(&n, 0x5a, sizeof(n));
	j = bad_nodes[_i].from ? node_with(bad_nodes[_i].from, bad_nodes[_i].to)
	                       : strdup(bad_nodes[_i].to);
	ck_assert_int_eq(parse(j, &n, reason), -1);
	ck_assert_msg(strstr(reason, bad_nodes[_i].reason) != NULL, "reason \"%s\", want \"%s\"",
	              reason, bad_nodes[_i].reason);
	ck_assert_msg(n.name[0] == 0x5a, "out written on failure");
	free(j);
}
END_TEST

START_TEST(test_labels_too_large)
{
	struct buf b;
	struct k8s_node n;
	char reason[K8S_REASON_MAX] = "";

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_puts(&b, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\",\"labels\":{"), 0);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(buf_printf(&b, "%s\"example.com/label-%03d\":\"value-%040d\"",
		                            i ? "," : "", i, i), 0);
	ck_assert_int_eq(buf_puts(&b, "}}}"), 0);
	ck_assert_int_eq(k8s_node_parse(b.data, b.len, &n, reason, sizeof(reason)), -1);
	ck_assert_ptr_nonnull(strstr(reason, "metadata.labels are larger than 8191 bytes"));
	buf_clear(&b);
}
END_TEST

/* --- Status bodies ----------------------------------------------------------------- */

START_TEST(test_status_reason)
{
	static const char s401[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	                           "\"status\":\"Failure\",\"message\":\"Unauthorized\","
	                           "\"reason\":\"Unauthorized\",\"code\":401}";
	static const char s403[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	                           "\"status\":\"Failure\",\"message\":\"nodes \\\"worker-1\\\" is "
	                           "forbidden: User \\\"system:serviceaccount:agent-system:agent\\\" "
	                           "cannot get resource \\\"nodes\\\" in API group \\\"\\\" at the "
	                           "cluster scope\",\"reason\":\"Forbidden\",\"details\":{\"name\":"
	                           "\"worker-1\",\"kind\":\"nodes\"},\"code\":403}";
	static const char s404[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	                           "\"status\":\"Failure\",\"message\":\"nodes \\\"worker-9\\\" not "
	                           "found\",\"reason\":\"NotFound\",\"details\":{\"name\":"
	                           "\"worker-9\",\"kind\":\"nodes\"},\"code\":404}";
	char reason[K8S_REASON_MAX];

	k8s_status_reason(401, s401, strlen(s401), reason, sizeof(reason));
	ck_assert_str_eq(reason, "401 Unauthorized: the Kubernetes API refused the service "
	                         "account token (expired, or not this cluster's)");
	k8s_status_reason(403, s403, strlen(s403), reason, sizeof(reason));
	ck_assert_str_eq(reason, "403 Forbidden: nodes \"worker-1\" is forbidden: User "
	                         "\"system:serviceaccount:agent-system:agent\" cannot get resource "
	                         "\"nodes\" in API group \"\" at the cluster scope");
	k8s_status_reason(404, s404, strlen(s404), reason, sizeof(reason));
	ck_assert_str_eq(reason, "404 NotFound: nodes \"worker-9\" not found");
	k8s_status_reason(502, "<html>Bad Gateway</html>", 24, reason, sizeof(reason));
	ck_assert_str_eq(reason, "HTTP 502 from the Kubernetes API (not a Status)");
	k8s_status_reason(500, NULL, 0, reason, sizeof(reason));
	ck_assert_str_eq(reason, "HTTP 500 from the Kubernetes API (not a Status)");
	{
		static const char nl[] = "{\"kind\":\"Status\",\"message\":\"a\\nb\"}";
		k8s_status_reason(500, nl, strlen(nl), reason, sizeof(reason));
	}
	ck_assert_str_eq(reason, "500 Failure: a?b");
	/* a short buffer: cut, still terminated */
	k8s_status_reason(403, s403, strlen(s403), reason, 20);
	ck_assert_str_eq(reason, "403 Forbidden: node");
}
END_TEST

/* --- where to ask ------------------------------------------------------------------ */

START_TEST(test_source)
{
	struct k8s_source s;
	char err[256] = "";
	char ca[] = "/tmp/kaiden-k8s-ca-XXXXXX";
	int fd = mkstemp(ca);

	ck_assert_int_ge(fd, 0);
	close(fd);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	ck_assert_int_eq(k8s_source_init(&s, "", "", "", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_msg(k8s_source_init(&s, NULL, NULL, ca, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.base_url, "https://10.96.0.1:443");
	ck_assert_str_eq(s.token_file, K8S_SA_TOKEN);
	ck_assert_str_eq(s.ca_file, ca);
	ck_assert_int_eq(s.timeout_ms, 10000);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	ck_assert_msg(k8s_source_init(&s, "", "/t", ca, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.base_url, "https://[fd00:10:96::1]:443");
	ck_assert_str_eq(s.token_file, "/t");
	/* a given URL wins; trailing slashes go, a path prefix stays */
	ck_assert_msg(k8s_source_init(&s, "https://rancher.example/k8s/clusters/c-1/", "/t", ca, 0,
	                              err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.base_url, "https://rancher.example/k8s/clusters/c-1");
	ck_assert_msg(k8s_source_init(&s, "http://127.0.0.1:8001", "/t", "", 1, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_str_eq(s.base_url, "http://127.0.0.1:8001");
	ck_assert_int_eq(s.insecure, 1);
	memset(&s, 0x5a, sizeof(s));
	ck_assert_int_eq(k8s_source_init(&s, "http://127.0.0.1:8001", "/t", "", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "http:// is not encrypted"));
	ck_assert_int_eq(s.base_url[0], 0x5a);
	ck_assert_int_eq(k8s_source_init(&s, "ftp://x", "/t", "", 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "must start with https://"));
	ck_assert_int_eq(k8s_source_init(&s, "https://user:pw@x", "/t", "", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "credentials"));
	ck_assert_ptr_null(strstr(err, "pw"));
	ck_assert_int_eq(k8s_source_init(&s, "https://x/?a=1", "/t", "", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "query or fragment"));
	ck_assert_int_eq(k8s_source_init(&s, "https://x/#f", "/t", "", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(k8s_source_init(&s, "https://", "/t", "", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(k8s_source_init(&s, "https://x:99999", "/t", "", 0, err, sizeof(err)), -1);
	/* the parts the agent's lws client connects with (k8s_get.c) */
	ck_assert_msg(k8s_source_init(&s, "HTTPS://Api.Example:6443/k8s/c-1//", "/t", ca, 0, err,
	                              sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.base_url, "https://Api.Example:6443/k8s/c-1");
	ck_assert_str_eq(s.host, "Api.Example");
	ck_assert_int_eq(s.port, 6443);
	ck_assert_str_eq(s.prefix, "/k8s/c-1");
	ck_assert_int_eq(s.tls, 1);
	ck_assert_msg(k8s_source_init(&s, "https://[fd00:10:96::1]", "/t", ca, 0, err,
	                              sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.host, "fd00:10:96::1");
	ck_assert_int_eq(s.port, 443);
	ck_assert_str_eq(s.prefix, "");
	ck_assert_msg(k8s_source_init(&s, "http://127.0.0.1/", "/t", "", 1, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_str_eq(s.base_url, "http://127.0.0.1");
	ck_assert_int_eq(s.port, 80);
	ck_assert_int_eq(s.tls, 0);
	ck_assert_msg(k8s_source_init(&s, "https://x/a%2Fb", "/t", "", 0, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_str_eq(s.prefix, "/a%2Fb");
	/* what libcurl's URL API refused, or would have rewritten, is refused */
	{
		static const char *const bad[] = {
			"https://x:", "https://x:0", "https://x:6443a", "https://x:123456",
			"https://[fd00::1", "https://[]", "https://[fd00::g]", "https://x y",
			"https://x%41", "https://x/a b", "https://x/%4", "https://x/%zz",
			"https://x/a/../b", "https://x/./b", "https://x/..", "https://x\\y",
			"https:x", "https:/x", "x", "https://x/a\"b", "https://x/\x01",
		};
		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			memset(&s, 0x5a, sizeof(s));
			ck_assert_msg(k8s_source_init(&s, bad[i], "/t", "", 1, err, sizeof(err)) == -1,
			              "%s accepted", bad[i]);
			ck_assert_int_eq(s.base_url[0], 0x5a);
		}
	}
	ck_assert_int_eq(k8s_source_init(&s, "https://x", "/t", "/nonexistent/ca.crt", 0, err,
	                                 sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "k8s_ca_file=/nonexistent/ca.crt cannot be read"));
	unlink(ca);
}
END_TEST

/* --- changes ----------------------------------------------------------------------- */

START_TEST(test_diff)
{
	struct k8s_node a, b;
	char reason[K8S_REASON_MAX] = "", names[128];

	ck_assert_msg(parse(node_json, &a, reason) == 0, "%s", reason);
	b = a;
	ck_assert_uint_eq(k8s_node_diff(&a, &b), 0);
	snprintf(b.resource_version, sizeof(b.resource_version), "999999");
	ck_assert_uint_eq(k8s_node_diff(&a, &b), 0); /* a heartbeat is no change */
	b = a;
	snprintf(b.labels, sizeof(b.labels), "{}");
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_LABELS);
	b = a;
	b.ready = K8S_READY_FALSE;
	b.unschedulable = 1;
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_READY | K8S_CHANGED_UNSCHEDULABLE);
	k8s_change_names(k8s_node_diff(&a, &b), names, sizeof(names));
	ck_assert_str_eq(names, "ready,unschedulable");
	b = a;
	b.res.memory_allocatable -= 1024;
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_RESOURCES);
	b = a;
	/* the same amount written another way is still reported: the raw text is shown */
	snprintf(b.res.cpu_capacity, sizeof(b.res.cpu_capacity), "4000m");
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_RESOURCES);
	b = a;
	snprintf(b.res.pods_allocatable, sizeof(b.res.pods_allocatable), "100");
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_RESOURCES);
	b = a;
	snprintf(b.kubelet_version, sizeof(b.kubelet_version), "v1.31.0");
	ck_assert_uint_eq(k8s_node_diff(&a, &b), K8S_CHANGED_VERSIONS);
	k8s_change_names(K8S_CHANGED_LABELS | K8S_CHANGED_READY | K8S_CHANGED_RESOURCES |
	                 K8S_CHANGED_VERSIONS | K8S_CHANGED_NAME | K8S_CHANGED_UNSCHEDULABLE,
	                 names, sizeof(names));
	ck_assert_str_eq(names, "name,labels,ready,unschedulable,resources,versions");
	k8s_change_names(K8S_CHANGED_LABELS | K8S_CHANGED_READY, names, 10);
	ck_assert_str_eq(names, "labels");
	k8s_change_names(0, names, sizeof(names));
	ck_assert_str_eq(names, "");
}
END_TEST

/* --- against fake_k8s.py ----------------------------------------------------------- */

#define TOKEN "check-k8s-node-token-Zx81"

/* A control call to the fake (fakek8s.h): its HTTP status; the body into *out when out
 * is given. */
static long control(const char *method, const char *path, const char *body, struct buf *out)
{
	char full[300];

	snprintf(full, sizeof(full), "/_fake/%s", path);
	return K_call(method, full, body, out, NULL);
}

static void fake_start(int tls)
{
	K_start(TOKEN, "worker-1", tls);
}

static void source_for_fake(struct k8s_source *s)
{
	char err[256] = "", ca[300];

	snprintf(ca, sizeof(ca), "%s/tls/ca.crt", K_dir);
	ck_assert_msg(k8s_source_init(s, K_base, K_token, K_tls ? ca : "", !K_tls, err,
	                              sizeof(err)) == 0, "%s", err);
	s->timeout_ms = 5000;
}

/* A read's outcome, as the callback saw it. */
struct outcome {
	struct lws_context *ctx;
	int calls;
	int ok;
	struct k8s_node node;
	char reason[K8S_REASON_MAX];
};

static void on_node(void *arg, const struct k8s_node *node, const char *reason)
{
	struct outcome *o = arg;

	o->calls++;
	/* lws_service returns only after its next poll: wake it */
	lws_cancel_service(o->ctx);
	o->ok = node != NULL;
	if (node)
		o->node = *node;
	else
		snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

/* As the agent's: trust_protocol first (it installs the link's trust, trust.h). */
static struct lws_protocols loop_protocols[] = {
	{ 0 },
	{ .name = "check", .callback = lws_callback_http_dummy },
	{ 0 },
};

/* An lws context as the agent's (no listener; a 32 KiB service buffer) with the API
 * client set up for s. */
static struct lws_context *loop_new(const struct k8s_source *s)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	char err[256] = "";

	loop_protocols[0] = trust_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = loop_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.gid = -1;
	info.uid = -1;
	info.pt_serv_buf_size = 32 * 1024;
	lws_set_log_level(0, NULL);
	ctx = lws_create_context(&info);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_msg(k8s_get_init(ctx, s, err, sizeof(err)) == 0, "%s", err);
	return ctx;
}

static void loop_free(struct lws_context *ctx)
{
	k8s_get_clear();
	lws_context_destroy(ctx);
}

/* One read of name on a loop of its own: its rc, with the node and the reason. The
 * callback must come exactly once, after k8s_node_read returned. */
static int fetch(const struct k8s_source *s, const char *name, struct k8s_node *n, char *reason)
{
	struct lws_context *ctx = loop_new(s);
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.ctx = ctx;
	reason[0] = '\0';
	if (k8s_node_read(name, on_node, &o, reason, K8S_REASON_MAX) != 0) {
		ck_assert_int_eq(o.calls, 0);
		ck_assert_int_eq(k8s_get_busy(), 0);
		loop_free(ctx);
		return -1;
	}
	ck_assert_int_eq(o.calls, 0);
	while (!o.calls)
		ck_assert_int_ge(lws_service(ctx, 0), 0);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(k8s_get_busy(), 0);
	loop_free(ctx);
	if (!o.ok) {
		snprintf(reason, K8S_REASON_MAX, "%s", o.reason);
		return -1;
	}
	*n = o.node;
	return 0;
}

#define EXPECT_FAIL(s, name, part)                                                        \
	do {                                                                              \
		struct k8s_node n_;                                                       \
		char r_[K8S_REASON_MAX];                                                  \
		ck_assert_int_eq(fetch(s, name, &n_, r_), -1);                            \
		ck_assert_msg(strstr(r_, part) != NULL, "reason \"%s\", want \"%s\"", r_, part); \
		ck_assert_ptr_null(strstr(r_, TOKEN));                                    \
	} while (0)

START_TEST(test_fetch_http)
{
	struct k8s_source s;
	struct k8s_node n;
	char reason[K8S_REASON_MAX];
	struct buf log;

	fake_start(0);
	source_for_fake(&s);
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.name, "worker-1");
	ck_assert_int_eq(n.ready, K8S_READY_TRUE);
	ck_assert_int_eq(n.res.cpu_allocatable_m, 3910);
	ck_assert_int_eq(n.res.memory_capacity, 16710291456LL);
	ck_assert_str_eq(n.container_runtime_version, "containerd://1.7.13");
	/* the fake saw Accept: application/json and our User-Agent, never the token */
	buf_init(&log, 1 << 20);
	ck_assert_int_eq(control("GET", "log", NULL, &log), 200);
	ck_assert_ptr_nonnull(strstr(log.data, "\"accept\":\"application/json\""));
	ck_assert_ptr_nonnull(strstr(log.data, "\"user_agent\":\"kaiden-agent/"));
	ck_assert_ptr_null(strstr(log.data, TOKEN));
	buf_clear(&log);

	/* a change at the fake shows in the next reading, and the detector sees it */
	{
		struct k8s_node m;
		ck_assert_int_eq(control("POST", "nodes/worker-1",
		                         "{\"labels\":{\"team\":\"db\"},\"ready\":\"False\","
		                         "\"unschedulable\":true,\"capacity\":{\"memory\":\"32Gi\"}}",
		                         NULL), 200);
		ck_assert_msg(fetch(&s, "worker-1", &m, reason) == 0, "%s", reason);
		ck_assert_ptr_nonnull(strstr(m.labels, "\"team\":\"db\""));
		ck_assert_uint_eq(k8s_node_diff(&n, &m), K8S_CHANGED_LABELS | K8S_CHANGED_READY |
		                                             K8S_CHANGED_UNSCHEDULABLE |
		                                             K8S_CHANGED_RESOURCES);
		ck_assert_int_eq(m.res.memory_capacity, 34359738368LL);
		ck_assert_str_eq(m.res.memory_capacity_raw, "32Gi");
	}

	EXPECT_FAIL(&s, "worker-9", "404 NotFound: nodes \"worker-9\" not found");
	EXPECT_FAIL(&s, "../secrets", "not a valid Kubernetes name");

	/* a rotated token: the file is read for every request */
	K_write_text(K_token, "rotated-token-B\n");
	EXPECT_FAIL(&s, "worker-1", "401 Unauthorized: the Kubernetes API refused the service "
	                            "account token");
	ck_assert_int_eq(control("POST", "tokens", "{\"token\":\"rotated-token-B\"}", NULL), 200);
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	ck_assert_int_eq(control("POST", "tokens", "{\"token\":\"no-rights\",\"rights\":[]}", NULL),
	                 200);
	K_write_text(K_token, "no-rights\n");
	EXPECT_FAIL(&s, "worker-1", "403 Forbidden: nodes \"worker-1\" is forbidden: User "
	                            "\"system:serviceaccount:kaiden-system:kaiden-agent\" cannot "
	                            "get resource \"nodes\"");
	K_write_text(K_token, "");
	EXPECT_FAIL(&s, "worker-1", "the service account token");
	EXPECT_FAIL(&s, "worker-1", "is empty");
	unlink(K_token);
	EXPECT_FAIL(&s, "worker-1", "cannot open: No such file or directory");
	K_write_text(K_token, TOKEN "\n");

	ck_assert_int_eq(control("POST", "faults", "{\"fail\":[{\"status\":500}]}", NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "500 InternalError: Internal error occurred");
	ck_assert_int_eq(control("POST", "faults", "{\"fail\":[{\"status\":502,\"body\":\"<html>\"}]}",
	                         NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "HTTP 502 from the Kubernetes API (not a Status)");
	ck_assert_int_eq(control("POST", "faults", "{\"drop\":[{}]}", NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "closed the connection without an answer");
	ck_assert_int_eq(control("POST", "faults", "{\"garbage\":[{}]}", NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "the answer is not JSON");
	ck_assert_int_eq(control("POST", "faults", "{\"garbage\":[{\"body\":\"{\\\"kind\\\":"
	                                           "\\\"Node\\\",\\\"metadata\\\":{\\\"name\\\":"
	                                           "\\\"worker-2\\\"}}\"}]}", NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "answered node worker-2, not worker-1");
	/* the faults are used up: back to normal */
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	K_kill();

	/* nothing listening there any more */
	EXPECT_FAIL(&s, "worker-1", "cannot reach the Kubernetes API");
	K_stop();
}
END_TEST

/* Waits (on a thread, the control API blocking) until hold_id caught a request, then
 * raises the flag and wakes the loop. */
struct hold_wait {
	struct lws_context *ctx;
	int hold_id;
	volatile int caught;
};

static void *hold_waiter(void *arg)
{
	struct hold_wait *w = arg;
	char path[64];

	snprintf(path, sizeof(path), "holds/%d/wait", w->hold_id);
	if (control("POST", path, "{\"timeout_s\":20}", NULL) == 200)
		w->caught = 1;
	else
		w->caught = -1;
	lws_cancel_service(w->ctx);
	return NULL;
}

static int hold_arm(const char *body)
{
	struct buf hold;
	const char *id;
	int n;

	buf_init(&hold, 4096);
	ck_assert_int_eq(control("POST", "holds", body, &hold), 200);
	id = strstr(hold.data, "\"id\":");
	ck_assert_ptr_nonnull(id);
	n = atoi(id + 5);
	buf_clear(&hold);
	return n;
}

/* A reply held at the fake's gate (a server that never answers): the timeout ends the
 * request; a cancel ends it at once without a callback, and the client can read again. */
START_TEST(test_fetch_held)
{
	struct k8s_source s;
	struct k8s_node n;
	struct hold_wait w;
	struct outcome o;
	char reason[K8S_REASON_MAX];
	pthread_t th;

	fake_start(0);
	source_for_fake(&s);
	s.timeout_ms = 400;
	ck_assert_int_eq(control("POST", "holds", "{\"count\":-1}", NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "no answer from the Kubernetes API within 400 ms");
	ck_assert_int_eq(control("POST", "holds/release", "{\"drop\":true}", NULL), 200);

	s.timeout_ms = 60000;
	memset(&w, 0, sizeof(w));
	memset(&o, 0, sizeof(o));
	w.ctx = loop_new(&s);
	o.ctx = w.ctx;
	w.hold_id = hold_arm("{}");
	ck_assert_int_eq(k8s_node_read("worker-1", on_node, &o, reason, sizeof(reason)), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, hold_waiter, &w), 0);
	/* the request reaches the fake's gate while this loop runs */
	while (!w.caught)
		ck_assert_int_ge(lws_service(w.ctx, 0), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.caught, 1);
	ck_assert_int_eq(k8s_get_busy(), 1);
	/* a second read while one is in flight is refused, not queued */
	ck_assert_int_eq(k8s_node_read("worker-1", on_node, &o, reason, sizeof(reason)), -1);
	ck_assert_str_eq(reason, "a request is already in flight");
	k8s_get_cancel();
	ck_assert_int_eq(k8s_get_busy(), 0);
	/* the held request goes on at the fake: its answer must not reach the callback */
	ck_assert_int_eq(control("POST", "holds/release", "{}", NULL), 200);
	ck_assert_int_eq(k8s_node_read("worker-1", on_node, &o, reason, sizeof(reason)), 0);
	while (!o.calls)
		ck_assert_int_ge(lws_service(w.ctx, 0), 0);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_msg(o.ok, "%s", o.reason);
	ck_assert_str_eq(o.node.name, "worker-1");
	loop_free(w.ctx);
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	K_stop();
}
END_TEST

/* A body over the cap (a real Node, padded with JSON whitespace past 4 MiB) is refused;
 * one just under it is read. */
START_TEST(test_fetch_too_large)
{
	struct k8s_source s;
	struct k8s_node n;
	char reason[K8S_REASON_MAX], fault[256];

	fake_start(0);
	source_for_fake(&s);
	snprintf(fault, sizeof(fault), "{\"garbage\":[{\"body\":\"%s\",\"pad\":%u}]}",
	         "{\\\"kind\\\":\\\"Node\\\",\\\"metadata\\\":{\\\"name\\\":\\\"worker-1\\\"}}",
	         K8S_BODY_MAX);
	ck_assert_int_eq(control("POST", "faults", fault, NULL), 200);
	EXPECT_FAIL(&s, "worker-1", "the answer is larger than 4194304 bytes");
	snprintf(fault, sizeof(fault), "{\"garbage\":[{\"body\":\"%s\",\"pad\":%u}]}",
	         "{\\\"kind\\\":\\\"Node\\\",\\\"metadata\\\":{\\\"name\\\":\\\"worker-1\\\"}}",
	         K8S_BODY_MAX - 100);
	ck_assert_int_eq(control("POST", "faults", fault, NULL), 200);
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.name, "worker-1");
	K_stop();
}
END_TEST

START_TEST(test_fetch_https)
{
	struct k8s_source s;
	struct k8s_node n;
	char reason[K8S_REASON_MAX], err[256], other[300];
	struct buf log;

	fake_start(1);
	source_for_fake(&s);
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.name, "worker-1");
	/* a Status body over https too */
	ck_assert_int_eq(control("POST", "tokens", "{\"token\":\"no-rights\",\"rights\":[]}", NULL),
	                 200);
	K_write_text(K_token, "no-rights\n");
	EXPECT_FAIL(&s, "worker-1", "403 Forbidden: nodes \"worker-1\" is forbidden");
	K_write_text(K_token, TOKEN "\n");
	/* the token reached the fake as a bearer token, and never its log */
	buf_init(&log, 1 << 20);
	ck_assert_int_eq(control("GET", "log", NULL, &log), 200);
	ck_assert_ptr_nonnull(strstr(log.data, "\"auth\":\"yes\""));
	ck_assert_ptr_null(strstr(log.data, TOKEN));
	buf_clear(&log);
	/* the link's trust (the system's CAs by directory, trust.h, on the context's own
	 * vhost) is not the API's: the API's vhost still trusts its CA, and only it */
	ck_assert_ptr_nonnull(trust_system_dir());
	trust_use_dir(trust_system_dir());
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	trust_use_dir(NULL);
	/* the system's CAs do not know the fake's */
	ck_assert_msg(k8s_source_init(&s, K_base, K_token, "", 0, err, sizeof(err)) == 0,
	              "%s", err);
	s.ca_file[0] = '\0';
	EXPECT_FAIL(&s, "worker-1", "TLS with the Kubernetes API failed");
	/* and insecure does not turn verification off */
	s.insecure = 1;
	EXPECT_FAIL(&s, "worker-1", "TLS with the Kubernetes API failed");
	/* another CA (a self-signed one of the system's) is no better */
	s.insecure = 0;
	snprintf(other, sizeof(other), "%s/other-ca.crt", K_dir);
	{
		char cmd[800];
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
		         "ec_paramgen_curve:P-256 -nodes -keyout %s/other-ca.key -out %s -days 1 "
		         "-subj /CN=other-ca >/dev/null 2>&1", K_dir, other);
		ck_assert_int_eq(system(cmd), 0);
	}
	snprintf(s.ca_file, sizeof(s.ca_file), "%s", other);
	EXPECT_FAIL(&s, "worker-1", "TLS with the Kubernetes API failed");
	K_stop();
}
END_TEST

/* The number of API requests the fake has seen (its log; control calls are not in it). */
static int fake_requests(void)
{
	struct buf log;
	int n = 0;

	buf_init(&log, 1 << 20);
	ck_assert_int_eq(control("GET", "log", NULL, &log), 200);
	for (const char *p = log.data; p && (p = strstr(p, "\"auth\":")); p++)
		n++;
	buf_clear(&log);
	return n;
}

/* The server's name is checked, not only its chain: an IPv6 address (which lws 4.1 cannot
 * check itself, k8s_get.c) and an IPv4 one the certificate does not name; the request,
 * and so the token, never goes out to such a server. */
START_TEST(test_fetch_host_check)
{
	struct k8s_source s;
	struct k8s_node n;
	char reason[K8S_REASON_MAX], url[128], err[256], ca[300];
	const char *port;
	int before;

	K_host = "::"; /* IPv6 and IPv4 */
	fake_start(1);
	K_host = "127.0.0.1";
	source_for_fake(&s);
	ck_assert_str_eq(s.host, "::1");
	ck_assert_msg(fetch(&s, "worker-1", &n, reason) == 0, "%s", reason);
	ck_assert_str_eq(n.name, "worker-1");
	port = strrchr(K_base, ':') + 1;
	snprintf(ca, sizeof(ca), "%s/tls/ca.crt", K_dir);
	before = fake_requests();
	/* the certificate names 127.0.0.1 and ::1, not these */
	snprintf(url, sizeof(url), "https://[::ffff:127.0.0.1]:%s", port);
	ck_assert_msg(k8s_source_init(&s, url, K_token, ca, 0, err, sizeof(err)) == 0, "%s", err);
	EXPECT_FAIL(&s, "worker-1", "TLS with the Kubernetes API failed: the server's "
	                            "certificate is not for ::ffff:127.0.0.1");
	snprintf(url, sizeof(url), "https://127.0.0.2:%s", port);
	ck_assert_msg(k8s_source_init(&s, url, K_token, ca, 0, err, sizeof(err)) == 0, "%s", err);
	EXPECT_FAIL(&s, "worker-1", "TLS with the Kubernetes API failed");
	ck_assert_int_eq(fake_requests(), before);
	K_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("k8s_node");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("fetch");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_quantity, 0, (int)ARRAY_LEN(quantities));
	tcase_add_test(tc, test_node_names);
	tcase_add_test(tc, test_node_parse);
	tcase_add_test(tc, test_node_variants);
	tcase_add_loop_test(tc, test_node_bad, 0, (int)ARRAY_LEN(bad_nodes));
	tcase_add_test(tc, test_labels_too_large);
	tcase_add_test(tc, test_status_reason);
	tcase_add_test(tc, test_source);
	tcase_add_test(tc, test_diff);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_fetch_http);
	tcase_add_test(tf, test_fetch_held);
	tcase_add_test(tf, test_fetch_too_large);
	tcase_add_test(tf, test_fetch_https);
	tcase_add_test(tf, test_fetch_host_check);
	suite_add_tcase(s, tf);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
