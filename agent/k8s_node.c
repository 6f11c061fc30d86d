/* k8s_node.c: see k8s_node.h. Three parts: where to ask (k8s_source_init), the
 * quantity grammar, and one GET of the node parsed into a struct k8s_node. */
#include "k8s_node.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "jsonx.h"
#include "k8s_get.h"
#include "sysinfo.h"

__extension__ typedef unsigned __int128 u128;

const char *k8s_ready_name(enum k8s_ready ready)
{
	switch (ready) {
	case K8S_READY_TRUE: return "Ready";
	case K8S_READY_FALSE: return "NotReady";
	default: return "Unknown";
	}
}

int k8s_node_name_valid(const char *name)
{
	return ids_dns_subdomain(name);
}

/* --- quantities -------------------------------------------------------------------- */

/* The suffix's power of ten and power of two (apimachinery's suffixer): 0 or -1. */
static int suffix(const char *s, int *exp10, int *exp2)
{
	static const struct {
		const char *name;
		int exp10, exp2;
	} table[] = {
		{ "", 0, 0 },    { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },
		{ "k", 3, 0 },   { "M", 6, 0 },   { "G", 9, 0 },   { "T", 12, 0 },
		{ "P", 15, 0 },  { "E", 18, 0 },  { "Ki", 0, 10 }, { "Mi", 0, 20 },
		{ "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
	};
	const char *p;
	int neg = 0, e = 0;

	for (size_t i = 0; i < ARRAY_LEN(table); i++) {
		if (strcmp(s, table[i].name) == 0) {
			*exp10 = table[i].exp10;
			*exp2 = table[i].exp2;
			return 0;
		}
	}
	/* An exponent: e or E, an optional sign, at least one digit, nothing after. */
	if (s[0] != 'e' && s[0] != 'E')
		return -1;
	p = s + 1;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		e = e * 10 + (*p - '0');
		if (e > 1000) /* past any int64 either way */
			return -1;
	}
	if (*p)
		return -1;
	*exp10 = neg ? -e : e;
	*exp2 = 0;
	return 0;
}

int k8s_quantity_parse(const char *s, int scale, int64_t *out)
{
	const char *p = s;
	uint64_t digits = 0;
	int ndigits = 0, exp10 = 0, exp2 = 0, sfx10, seen = 0, neg = 0, fraction = 0;
	u128 num;

	if (!s || !*s)
		return -1;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (;; p++) {
		int d;
		if (*p == '.' && !fraction) {
			fraction = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		d = *p - '0';
		seen = 1;
		if (digits == 0 && d == 0) {
			/* A leading zero: only its place counts. */
			exp10 -= fraction;
		} else if (ndigits < 19) {
			digits = digits * 10 + (uint64_t)d;
			ndigits++;
			exp10 -= fraction;
		} else if (d != 0) {
			return -1; /* more precision than 19 digits hold */
		} else if (!fraction) {
			exp10++; /* a trailing zero of a long integer part */
		}
	}
	if (!seen || suffix(p, &sfx10, &exp2) != 0)
		return -1;
	exp10 += sfx10 + scale;
	if (digits == 0) {
		*out = 0;
		return 0;
	}
	num = (u128)digits << exp2; /* < 2^64 * 2^60 */
	if (exp10 >= 0) {
		if (num > INT64_MAX)
			return -1;
		for (int i = 0; i < exp10; i++) {
			num *= 10;
			if (num > INT64_MAX)
				return -1;
		}
	} else if (exp10 < -38) {
		num = 1; /* num < 10^38: a positive fraction of one, rounded up */
	} else {
		u128 div = 1;
		for (int i = 0; i < -exp10; i++)
			div *= 10;
		num = num / div + (num % div != 0);
		if (num > INT64_MAX)
			return -1;
	}
	*out = neg ? -(int64_t)num : (int64_t)num;
	return 0;
}

/* --- the Node object --------------------------------------------------------------- */

static json_object *member(json_object *obj, const char *name, json_type type)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* A string from the API, cut to fit and cleaned for logs and messages. */
static void copy_text(char *out, size_t outlen, const char *value)
{
	snprintf(out, outlen, "%s", value ? value : "");
	sysinfo_clean(out);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* metadata.labels as a JSON object with its keys sorted, so that two readings of the
 * same labels compare equal as text whatever order they came in. */
static int labels_text(json_object *labels, char *out, size_t outlen, char *reason,
                       size_t reasonlen)
{
	json_object *sorted;
	const char **keys;
	const char *text;
	size_t n, i = 0;
	int rc = -1;

	if (!labels) {
		snprintf(out, outlen, "{}");
		return 0;
	}
	if (!json_object_is_type(labels, json_type_object)) {
		snprintf(reason, reasonlen, "metadata.labels is not an object");
		return -1;
	}
	n = (size_t)json_object_object_length(labels);
	keys = calloc(n ? n : 1, sizeof(*keys));
	sorted = json_object_new_object();
	if (!keys || !sorted) {
		snprintf(reason, reasonlen, "out of memory");
		goto out;
	}
	json_object_object_foreach(labels, key, value) {
		if (!json_object_is_type(value, json_type_string)) {
			char shown[64];
			copy_text(shown, sizeof(shown), key);
			snprintf(reason, reasonlen, "metadata.labels[\"%s\"] is not a string", shown);
			goto out;
		}
		keys[i++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; i < n; i++) {
		json_object *v = NULL;
		json_object_object_get_ex(labels, keys[i], &v);
		json_object_object_add(sorted, keys[i], json_object_get(v));
	}
	text = json_object_to_json_string_ext(sorted, JSON_C_TO_STRING_PLAIN |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(text) >= outlen) {
		snprintf(reason, reasonlen, "metadata.labels are larger than %zu bytes", outlen - 1);
		goto out;
	}
	snprintf(out, outlen, "%s", text);
	rc = 0;
out:
	free(keys);
	json_object_put(sorted);
	return rc;
}

/* status.<map>.<key> as a quantity scaled by 10^scale into *value (-1 when absent) and
 * its text into raw; a present but malformed or negative one is an error. */
static int quantity(json_object *map, const char *mapname, const char *key, int scale,
                    int64_t *value, char *raw, size_t rawlen, char *reason, size_t reasonlen)
{
	json_object *v;
	const char *s;
	int64_t q;

	*value = -1;
	raw[0] = '\0';
	if (!map || !json_object_object_get_ex(map, key, &v))
		return 0;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || strlen(s) >= rawlen || k8s_quantity_parse(s, scale, &q) != 0 || q < 0) {
		char shown[48];
		copy_text(shown, sizeof(shown), s ? s : json_object_to_json_string(v));
		snprintf(reason, reasonlen, "status.%s.%s \"%s\" is not a quantity", mapname, key,
		         shown);
		return -1;
	}
	*value = q;
	snprintf(raw, rawlen, "%s", s);
	return 0;
}

static int resources(json_object *status, struct k8s_resources *r, char *reason,
                     size_t reasonlen)
{
	json_object *cap = member(status, "capacity", json_type_object);
	json_object *alloc = member(status, "allocatable", json_type_object);
	int64_t pods;

	if (quantity(cap, "capacity", "cpu", 3, &r->cpu_capacity_m, r->cpu_capacity,
	             sizeof(r->cpu_capacity), reason, reasonlen) != 0 ||
	    quantity(alloc, "allocatable", "cpu", 3, &r->cpu_allocatable_m, r->cpu_allocatable,
	             sizeof(r->cpu_allocatable), reason, reasonlen) != 0 ||
	    quantity(cap, "capacity", "memory", 0, &r->memory_capacity, r->memory_capacity_raw,
	             sizeof(r->memory_capacity_raw), reason, reasonlen) != 0 ||
	    quantity(alloc, "allocatable", "memory", 0, &r->memory_allocatable,
	             r->memory_allocatable_raw, sizeof(r->memory_allocatable_raw), reason,
	             reasonlen) != 0 ||
	    quantity(cap, "capacity", "pods", 0, &pods, r->pods_capacity, sizeof(r->pods_capacity),
	             reason, reasonlen) != 0 ||
	    quantity(alloc, "allocatable", "pods", 0, &pods, r->pods_allocatable,
	             sizeof(r->pods_allocatable), reason, reasonlen) != 0)
		return -1;
	return 0;
}

/* The Ready condition's status; order is not guaranteed, and a missing one is Unknown. */
static enum k8s_ready ready_of(json_object *status)
{
	json_object *conds = member(status, "conditions", json_type_array);
	size_t n = conds ? json_object_array_length(conds) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *type = json_object_is_type(c, json_type_object) ? jsonx_str(c, "type")
		                                                            : NULL;
		const char *st;
		if (!type || strcmp(type, "Ready") != 0)
			continue;
		st = jsonx_str(c, "status");
		if (st && strcmp(st, "True") == 0)
			return K8S_READY_TRUE;
		if (st && strcmp(st, "False") == 0)
			return K8S_READY_FALSE;
		return K8S_READY_UNKNOWN;
	}
	return K8S_READY_UNKNOWN;
}

int k8s_node_parse(const char *json, size_t len, struct k8s_node *out, char *reason,
                   size_t reasonlen)
{
	json_object *root = NULL, *meta, *labels, *spec, *status, *info, *unsched;
	struct jsonx_error jerr;
	struct k8s_node *n = NULL;
	const char *kind, *name;
	int rc = -1;

	if (jsonx_parse(json, len, &root, &jerr) != 0) {
		snprintf(reason, reasonlen, "the answer is not JSON (%.120s)", jerr.message);
		return -1;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(reason, reasonlen, "the answer is not a JSON object");
		goto out;
	}
	kind = jsonx_str(root, "kind");
	if (!kind) {
		snprintf(reason, reasonlen, "the answer has no kind, so it is not a Node");
		goto out;
	}
	if (strcmp(kind, "Node") != 0) {
		char shown[32];
		copy_text(shown, sizeof(shown), kind);
		snprintf(reason, reasonlen, "the answer is a %s, not a Node", shown);
		goto out;
	}
	meta = member(root, "metadata", json_type_object);
	name = meta ? jsonx_str(meta, "name") : NULL;
	if (!name || !*name || strlen(name) > K8S_NODE_NAME_MAX) {
		snprintf(reason, reasonlen, "the Node has no valid metadata.name");
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(reason, reasonlen, "out of memory");
		goto out;
	}
	copy_text(n->name, sizeof(n->name), name);
	copy_text(n->resource_version, sizeof(n->resource_version),
	          jsonx_str(meta, "resourceVersion"));
	/* Absent or null (json-c's NULL) both mean no labels. */
	if (!json_object_object_get_ex(meta, "labels", &labels))
		labels = NULL;
	if (labels_text(labels, n->labels, sizeof(n->labels), reason, reasonlen) != 0)
		goto out;
	spec = member(root, "spec", json_type_object);
	if (spec && json_object_object_get_ex(spec, "unschedulable", &unsched)) {
		if (!json_object_is_type(unsched, json_type_boolean)) {
			snprintf(reason, reasonlen, "spec.unschedulable is not a boolean");
			goto out;
		}
		n->unschedulable = json_object_get_boolean(unsched);
	}
	status = member(root, "status", json_type_object);
	n->ready = ready_of(status);
	if (resources(status, &n->res, reason, reasonlen) != 0)
		goto out;
	info = member(status, "nodeInfo", json_type_object);
	copy_text(n->kubelet_version, sizeof(n->kubelet_version), jsonx_str(info, "kubeletVersion"));
	copy_text(n->os_image, sizeof(n->os_image), jsonx_str(info, "osImage"));
	copy_text(n->kernel_version, sizeof(n->kernel_version), jsonx_str(info, "kernelVersion"));
	copy_text(n->container_runtime_version, sizeof(n->container_runtime_version),
	          jsonx_str(info, "containerRuntimeVersion"));
	copy_text(n->architecture, sizeof(n->architecture), jsonx_str(info, "architecture"));
	*out = *n;
	rc = 0;
out:
	free(n);
	json_object_put(root);
	return rc;
}

/* --- one reading ------------------------------------------------------------------ */

static struct {
	char name[K8S_NODE_NAME_MAX + 1];
	k8s_node_fn fn;
	void *arg;
} R;

/* The answer to GET /api/v1/nodes/{name} (k8s_get.h), judged. */
static void on_answer(void *arg, long status, const char *body, size_t len,
                      const char *why)
{
	char reason[K8S_REASON_MAX];
	struct k8s_node *n = NULL;

	(void)arg;
	if (!status) {
		snprintf(reason, sizeof(reason), "%s", why);
	} else if (status != 200) {
		k8s_status_reason(status, body, len, reason, sizeof(reason));
	} else if (!(n = malloc(sizeof(*n)))) {
		snprintf(reason, sizeof(reason), "out of memory");
	} else if (k8s_node_parse(body, len, n, reason, sizeof(reason)) != 0) {
		free(n);
		n = NULL;
	} else if (strcmp(n->name, R.name) != 0) {
		snprintf(reason, sizeof(reason), "the Kubernetes API answered node %.100s, not %.100s",
		         n->name, R.name);
		free(n);
		n = NULL;
	}
	R.fn(R.arg, n, n ? NULL : reason);
	free(n);
}

int k8s_node_read(const char *name, k8s_node_fn fn, void *arg, char *reason, size_t reasonlen)
{
	char path[32 + K8S_NODE_NAME_MAX];

	if (!k8s_node_name_valid(name)) {
		snprintf(reason, reasonlen, "the node name is not a valid Kubernetes name");
		return -1;
	}
	snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
	snprintf(R.name, sizeof(R.name), "%s", name);
	R.fn = fn;
	R.arg = arg;
	return k8s_get_start(path, on_answer, NULL, reason, reasonlen);
}

/* --- changes ----------------------------------------------------------------------- */

unsigned k8s_node_diff(const struct k8s_node *a, const struct k8s_node *b)
{
	const struct k8s_resources *ra = &a->res, *rb = &b->res;
	unsigned changed = 0;

	if (strcmp(a->name, b->name) != 0)
		changed |= K8S_CHANGED_NAME;
	if (strcmp(a->labels, b->labels) != 0)
		changed |= K8S_CHANGED_LABELS;
	if (a->ready != b->ready)
		changed |= K8S_CHANGED_READY;
	if (a->unschedulable != b->unschedulable)
		changed |= K8S_CHANGED_UNSCHEDULABLE;
	if (ra->cpu_capacity_m != rb->cpu_capacity_m ||
	    ra->cpu_allocatable_m != rb->cpu_allocatable_m ||
	    ra->memory_capacity != rb->memory_capacity ||
	    ra->memory_allocatable != rb->memory_allocatable ||
	    strcmp(ra->cpu_capacity, rb->cpu_capacity) != 0 ||
	    strcmp(ra->cpu_allocatable, rb->cpu_allocatable) != 0 ||
	    strcmp(ra->memory_capacity_raw, rb->memory_capacity_raw) != 0 ||
	    strcmp(ra->memory_allocatable_raw, rb->memory_allocatable_raw) != 0 ||
	    strcmp(ra->pods_capacity, rb->pods_capacity) != 0 ||
	    strcmp(ra->pods_allocatable, rb->pods_allocatable) != 0)
		changed |= K8S_CHANGED_RESOURCES;
	if (strcmp(a->kubelet_version, b->kubelet_version) != 0 ||
	    strcmp(a->os_image, b->os_image) != 0 ||
	    strcmp(a->kernel_version, b->kernel_version) != 0 ||
	    strcmp(a->container_runtime_version, b->container_runtime_version) != 0 ||
	    strcmp(a->architecture, b->architecture) != 0)
		changed |= K8S_CHANGED_VERSIONS;
	return changed;
}

void k8s_change_names(unsigned changed, char *out, size_t outlen)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ K8S_CHANGED_NAME, "name" },
		{ K8S_CHANGED_LABELS, "labels" },
		{ K8S_CHANGED_READY, "ready" },
		{ K8S_CHANGED_UNSCHEDULABLE, "unschedulable" },
		{ K8S_CHANGED_RESOURCES, "resources" },
		{ K8S_CHANGED_VERSIONS, "versions" },
	};
	size_t len = 0;

	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		int n;
		if (!(changed & names[i].bit))
			continue;
		n = snprintf(out + len, outlen - len, "%s%s", len ? "," : "", names[i].name);
		if (n < 0 || (size_t)n >= outlen - len) {
			out[len] = '\0'; /* whole names only */
			break;
		}
		len += (size_t)n;
	}
}
