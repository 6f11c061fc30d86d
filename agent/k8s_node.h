/* k8s_node.h: the agent's own Node, read from the Kubernetes API (cluster mode, issue 12;
 * the facts are in shared/ref/k8s-api.md sections 1, 3 and 7).
 *
 * Where to ask (struct k8s_source, k8s_source_init) is common/k8s_source.h, shared with
 * helperd; k8s_node_read does one GET /api/v1/nodes/{name} on the agent's lws loop
 * (k8s_get.h, set up by k8s_get_init) and parses the answer into a struct k8s_node;
 * k8s_node_diff tells whether two readings differ in anything worth reporting.
 *
 * Rules:
 * - The token file is read afresh for every request: the mounted service account token
 *   is rotated by the kubelet (client-go re-reads it every minute). The token is never
 *   logged, never in a reason, and wiped from memory once sent (k8s_get.h).
 * - https always verifies the server (CA file: given, else the service account's
 *   ca.crt when it exists, else the system's). http only when insecure is set (tests).
 * - Every failure (the token file, the connection, TLS, a timeout, a 401/403/404/5xx, a
 *   body over K8S_BODY_MAX or not a Node) is a short reason string a person can act on,
 *   never a crash; nothing here logs.
 * - Quantities follow apimachinery's resource.Quantity grammar; CPU is normalised to
 *   millicores and memory to bytes, rounded up as Kubernetes' MilliValue()/Value() do.
 *
 * Thread use: k8s_node_read on the loop thread only (k8s_get.h); the parse functions
 * touch no global state. */
#ifndef KAIDEN_AGENT_K8S_NODE_H
#define KAIDEN_AGENT_K8S_NODE_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"
#include "k8s_get.h"
#include "k8s_source.h"

#define K8S_NODE_NAME_MAX 253   /* a DNS-1123 subdomain */
#define K8S_LABELS_MAX 8192     /* the labels' JSON text, so a node report fits a message */
#define K8S_QUANTITY_MAX 64
#define K8S_VERSION_MAX 256
#define K8S_BODY_MAX K8S_GET_BODY_MAX /* k8s_get.h: 4 MiB */

/* The Ready condition, reduced as the device shows it. */
enum k8s_ready { K8S_READY_UNKNOWN = 0, K8S_READY_TRUE, K8S_READY_FALSE };

struct k8s_resources {
	int64_t cpu_capacity_m, cpu_allocatable_m;   /* millicores; -1: not reported */
	int64_t memory_capacity, memory_allocatable; /* bytes; -1: not reported */
	/* The quantities as the API gave them ("3910m", "16318644Ki"); "" if absent. */
	char cpu_capacity[K8S_QUANTITY_MAX], cpu_allocatable[K8S_QUANTITY_MAX];
	char memory_capacity_raw[K8S_QUANTITY_MAX], memory_allocatable_raw[K8S_QUANTITY_MAX];
	char pods_capacity[K8S_QUANTITY_MAX], pods_allocatable[K8S_QUANTITY_MAX];
};

/* One reading of the node. Plain data (no pointers): copy it with =. */
struct k8s_node {
	char name[K8S_NODE_NAME_MAX + 1];
	char resource_version[64];           /* changes on every kubelet heartbeat: not compared */
	char labels[K8S_LABELS_MAX];         /* a JSON object, keys sorted: "{}" when none */
	enum k8s_ready ready;
	int unschedulable;                   /* spec.unschedulable, absent = 0 */
	struct k8s_resources res;
	char kubelet_version[K8S_VERSION_MAX];
	char os_image[K8S_VERSION_MAX];
	char kernel_version[K8S_VERSION_MAX];
	char container_runtime_version[K8S_VERSION_MAX];
	char architecture[64];
};

/* What changed between two readings (k8s_node_diff). */
enum k8s_change {
	K8S_CHANGED_LABELS = 1 << 0,
	K8S_CHANGED_READY = 1 << 1,
	K8S_CHANGED_UNSCHEDULABLE = 1 << 2,
	K8S_CHANGED_RESOURCES = 1 << 3,
	K8S_CHANGED_VERSIONS = 1 << 4,
	K8S_CHANGED_NAME = 1 << 5,
	K8S_CHANGED_ALL = (1 << 6) - 1,
};

/* "Ready", "NotReady" or "Unknown" (static): the device's node_status. */
const char *k8s_ready_name(enum k8s_ready ready);

/* 1 if name is a valid node name (DNS-1123 subdomain: lowercase letters, digits, '-' and
 * '.', labels starting and ending alphanumeric, at most 253): only such a name is put in
 * a URL path. */
int k8s_node_name_valid(const char *name);

/* Parses a Kubernetes quantity ("3910m", "16318644Ki", "1e3", "0.5") and returns it
 * scaled by 10^scale and rounded up (away from zero for negatives): scale 3 gives
 * millicores for a CPU, 0 bytes for memory. 0 and *out written; -1 for anything outside
 * the grammar (spaces, "1KB", "1.2.3", "e3", ""), more than 19 significant digits, or a
 * result outside int64. */
int k8s_quantity_parse(const char *s, int scale, int64_t *out) WUR;

/* Parses a Node object (len bytes of JSON) into *out. 0, or -1 with a reason ("the
 * answer is not JSON", "the answer is a Status, not a Node", "status.capacity.cpu
 * \"4 cores\" is not a quantity", ...); *out is written only on success. */
int k8s_node_parse(const char *json, size_t len, struct k8s_node *out, char *reason,
                   size_t reasonlen) WUR;

/* node: the reading (borrowed for the call), or NULL with reason set. */
typedef void (*k8s_node_fn)(void *arg, const struct k8s_node *node, const char *reason);

/* Starts GET {base}/api/v1/nodes/{name} on the source k8s_get_init set up: 0, and fn is
 * called later on the loop (unless k8s_get_cancel), with the node or a reason, within
 * about the source's timeout_ms; or -1 with a reason (an invalid name, the token file,
 * a read already in flight) and fn is not called. */
int k8s_node_read(const char *name, k8s_node_fn fn, void *arg, char *reason,
                  size_t reasonlen) WUR;

/* The k8s_change bits in which a and b differ (0: nothing worth reporting). The
 * resourceVersion is left out: it moves with every kubelet heartbeat. */
unsigned k8s_node_diff(const struct k8s_node *a, const struct k8s_node *b);

/* "labels,ready,resources" for the bits set (for logs); "" for 0. */
void k8s_change_names(unsigned changed, char *out, size_t outlen);

#endif
