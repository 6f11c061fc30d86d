/* fuzz_k8s_node.c: what the agent reads from the Kubernetes API (agent/k8s_node.c): a
 * Node body, a Status body, and the quantity strings inside a Node.
 *
 * The first byte chooses how the rest is used:
 *   even: the rest is a quantity, parsed for memory (scale 0) and CPU (scale 3);
 *   odd:  the rest is an API answer, parsed as a Node and turned into a reason as a
 *         Status of a 403.
 * Beyond "no crash, no leak": a quantity accepted for CPU is accepted for memory, and
 * the two agree (millicores rounded up lie within a thousand of bytes rounded up times a
 * thousand); an accepted Node has a name, labels that are a JSON object, a known Ready
 * value, no negative resource, and no change against itself; a reason is never empty. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "k8s_node.h"

static void quantity(const char *s)
{
	int64_t bytes = 0, milli = 0;
	int rc0 = k8s_quantity_parse(s, 0, &bytes);
	int rc3 = k8s_quantity_parse(s, 3, &milli);

	if (rc3 == 0 && rc0 != 0) {
		fprintf(stderr, "fuzz_k8s_node: \"%s\" is a CPU quantity but not a memory one\n", s);
		abort();
	}
	/* ceil(1000 x) is in (1000 (ceil(x) - 1), 1000 ceil(x)] for x >= 0 */
	if (rc3 == 0 && milli >= 0 && (milli > bytes * 1000 || milli <= (bytes - 1) * 1000)) {
		fprintf(stderr, "fuzz_k8s_node: \"%s\": %lld m against %lld\n", s,
		        (long long)milli, (long long)bytes);
		abort();
	}
}

static void node(const char *body, size_t len)
{
	struct k8s_node *n = malloc(sizeof(*n));
	char reason[K8S_REASON_MAX] = "";

	if (!n)
		return;
	if (k8s_node_parse(body, len, n, reason, sizeof(reason)) == 0) {
		json_object *labels = json_tokener_parse(n->labels);
		if (!n->name[0] || !labels || !json_object_is_type(labels, json_type_object) ||
		    n->ready > K8S_READY_FALSE || n->res.cpu_capacity_m < -1 ||
		    n->res.memory_allocatable < -1 || k8s_node_diff(n, n) != 0) {
			fprintf(stderr, "fuzz_k8s_node: an accepted Node breaks a rule\n");
			abort();
		}
		json_object_put(labels);
	} else if (!reason[0]) {
		fprintf(stderr, "fuzz_k8s_node: a refused Node without a reason\n");
		abort();
	}
	reason[0] = '\0';
	k8s_status_reason(403, body, len, reason, sizeof(reason));
	if (!reason[0])
		abort();
	free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rest;

	if (size < 1)
		return 0;
	rest = malloc(size);
	if (!rest)
		return 0;
	memcpy(rest, data + 1, size - 1);
	rest[size - 1] = '\0';
	if (data[0] % 2 == 0)
		quantity(rest);
	else
		node(rest, size - 1);
	free(rest);
	return 0;
}
