#!/usr/bin/env python3
"""fake_k8s.py: the Kubernetes API server, as the agent's node reader (issue 12) and
kaiden-helperd's cloud services with the fake helm (issue 13) see it.

    fake_k8s.py [--host 127.0.0.1] [--port 0] [--port-file F] [--token-file F]
                [--user system:serviceaccount:kaiden-system:kaiden-agent]
                [--tls-dir D] [--node NAME ...] [--verbose]

Listens on loopback (ThreadingHTTPServer: a held request holds nobody else). The first
stdout line is the port; --port-file is written atomically once it listens. Python 3
standard library only (plus the openssl program for --tls-dir). Facts it follows:
shared/ref/k8s-api.md (sections 1, 3 and 7); what it serves is shaped like
shared/ref/k8s-schemas/examples/api/node.json and the status-*.json bodies there.

The API (every reply application/json, with Audit-Id and Cache-Control headers):
    GET /api/v1/nodes/{name}   the Node object (kind, apiVersion, metadata with name,
                               uid, resourceVersion, creationTimestamp, labels,
                               annotations; spec with unschedulable only when true;
                               status with capacity, allocatable, conditions, addresses,
                               daemonEndpoints, nodeInfo)
  in the order the real server checks:
    401 Status "Unauthorized" when the Authorization header is missing, not "Bearer",
        or its token is not one the fake knows (no details, as the real one);
    403 Status "nodes \"x\" is forbidden: User \"<user>\" cannot <verb> resource
        \"nodes\" in API group \"\" at the cluster scope" for a known token without the
        verb (the agent's ClusterRole grants `get` on nodes only, so a list, a PUT, a
        PATCH or a DELETE is forbidden to every token; a token added with "rights":
        [] is forbidden even `get`);
    404 Status "nodes \"x\" not found" for an unknown node (details name + kind "nodes"),
        and "the server could not find the requested resource" for any other path;
    then faults and holds (below) act on what would otherwise be answered.

Tokens: --token-file F (first line) is the token with `get` rights; default
"fake-k8s-token". More come through the control API; the token is never logged or
recorded (only whether a header was sent).

--tls-dir D: serves https. Makes (once) D/ca.crt, D/ca.key, D/server.crt, D/server.key
with openssl: a test CA and a server certificate for IPs 127.0.0.1 and ::1 and DNS localhost.
Clients verify with D/ca.crt (the control API is on the same listener).

Control API (/_fake/..., no auth, never faulted or held; replies are JSON objects):
    GET  /_fake/health                 {"ok": true}
    GET  /_fake/nodes                  {"nodes": {name: Node}}
    GET  /_fake/nodes/{name}           the Node (404 {"error"} if none)
    PUT  /_fake/nodes/{name}  NODE     store a whole Node object as given (metadata.name
                                       forced to {name}; resourceVersion set by the fake)
    POST /_fake/nodes/{name}  CHANGE   create (from the template, like node.json) or
                                       change: {"labels": {k: v|null} (merged; null
                                       removes), "replace_labels": {...}, "ready":
                                       "True"|"False"|"Unknown"|null (null: no Ready
                                       condition), "unschedulable": bool, "capacity":
                                       {...}, "allocatable": {...} (merged), "nodeInfo":
                                       {...} (merged)}. Every change bumps
                                       resourceVersion. Answers the Node.
    DELETE /_fake/nodes/{name}         forget it (GET then answers 404)
    POST /_fake/tokens {"token": T, "rights": ["get"]}   add or change a token
    POST /_fake/tokens {"token": T, "remove": true}      forget it (then 401)
    POST /_fake/faults {...}           merge: {"clear": true, "fail": [{"status": 500,
                                       "count": 1, "path": REGEX, "body": TEXT?,
                                       "retry_after": S?}], "drop": [{"count": 1,
                                       "path": REGEX}], "garbage": [{"count": 1,
                                       "path": REGEX, "body": TEXT, "pad": N?}]}
                                       fail: that status with a Status body (reason from
                                       the code: InternalError, ServiceUnavailable, ...),
                                       or `body` as given; drop: the connection is closed
                                       with no reply; garbage: 200 with `body` (default
                                       a truncated Node) and `pad` spaces after it
                                       (default 0). count -1: until cleared.
    GET  /_fake/faults
    POST /_fake/holds {"path": REGEX?, "count": N?}   arm a gate: the next N requests
                                       (default 1, -1: all until released) whose path
                                       matches wait, each in its own thread: {"id": ...}
    GET  /_fake/holds                  the holds: id, path, count, caught, held
    POST /_fake/holds/{id}/wait {"timeout_s": 30, "calls": 1}  blocks until the hold has
                                       caught that many; its view, or 408
    POST /_fake/holds/{id}/release {"drop": bool}  the held requests go on (or, with
                                       drop, are closed unanswered); the hold is disarmed
    POST /_fake/holds/release {"drop": bool}       every hold
    GET  /_fake/log[?since=SEQ]        {"requests": [...]}: seq, method, path, query,
                                       status (null when dropped), auth ("yes"/"no"),
                                       accept, user_agent, fault, hold
    GET  /_fake/counts                 {"requests": N, "answered": N, "by_status": {...},
                                       "by_node": {...}, "held": N}
    GET  /_fake/wait?count=N[&path=P][&status=S][&timeout=T]
                                       blocks until N requests (with that exact path and
                                       status, when given) were answered: as /_fake/log,
                                       or 408 after T seconds (default 30)
    POST /_fake/reset                  nodes, tokens, faults, log back to the start; every
                                       hold released with drop
    GET  /_fake/counts also has "by_resource" (API calls per resource).

Cloud services (issue 13; shared/ref/k8s-api.md sections 4-7, 9). Objects:
    /api/v1/namespaces[/{name}]                         POST GET PUT PATCH DELETE, list
    /api/v1/namespaces/{ns}/{res}[/{name}]  res: resourcequotas, limitranges, pods,
                                                        secrets, events (list only)
    /apis/apps/v1/namespaces/{ns}/deployments[/{name}]  (what fake_helm creates)
    /apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings[/{name}]
                                                        (helperd's own, before helm)
    /api/v1/{res}, /apis/apps/v1/deployments,
    /apis/rbac.authorization.k8s.io/v1/rolebindings     lists across namespaces
    GET /version                                        (helm's reachability check)
  Lists take labelSelector (k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b); terms
  joined by "," are ANDed) and fieldSelector (k=v, k==v, k!=v joined by ","; the
  fields the real server takes: metadata.name and metadata.namespace on every list, and
  on events also involvedObject.{kind,namespace,name,uid,apiVersion}, reason, type,
  source, reportingComponent; another is 400 `field label not supported: K`) and answer {kind: <Kind>List, apiVersion, metadata:
  {resourceVersion}, items} with no kind/apiVersion on the items. Create: 201 with uid,
  resourceVersion, creationTimestamp (namespaces: label kubernetes.io/metadata.name,
  spec.finalizers, status.phase Active; secrets: stringData folded into base64 data, type
  Opaque; limitranges: default <- max, defaultRequest <- default); 409 AlreadyExists; 404
  `namespaces "x" not found` for a missing namespace; 403 `... unable to create new
  content in namespace x because it is being terminated`; 422 Invalid with the
  apimachinery wording and details.causes (namespaces: DNS-1123 label <= 63, the others
  DNS-1123 subdomain <= 253). PUT: 409 Conflict on a stale metadata.resourceVersion (none:
  unconditional), 400 when the body's name differs. RoleBindings: 422 without a roleRef
  (apiGroup rbac.authorization.k8s.io, kind Role or ClusterRole, a name) or with a
  subject whose kind is not ServiceAccount, User or Group, and 422 "cannot change
  roleRef" on an update that changes it (as the real validation); RBAC's escalation
  check (`bind` on the role, or holding its rights) is not modelled. PATCH: merge patch (strategic merge
  patch is treated as one), else 415. DELETE: secrets, quotas, limit ranges answer a
  Status "Success"; pods and deployments the object; a namespace the object with phase
  Terminating, gone at once (or, with config namespace_finalize "manual", kept
  Terminating until /_fake/namespaces/{ns}/finalize). Every error body is the Status of
  section 7 (compact, the real key order).
  Admission of a pod (POSTed, or made by the Deployment controller): requests default to
  limits; LimitRanger fills default/defaultRequest of each Container item and sets the
  kubernetes.io/limit-ranger annotation; ResourceQuota: a quota with cpu/memory keys
  refuses a container without them, 403 `pods "x" is forbidden: failed quota: Q: must
  specify limits.cpu,limits.memory,...` (sorted, comma-joined); a quota whose status.hard
  is empty refuses with `status unknown for quota: Q, resources: ...`; one that would be
  exceeded with `exceeded quota: Q, requested: k=v, used: k=v, limited: k=v`. The quota
  controller fills status.hard/used at once (config quota_sync false: left empty until
  POST /_fake/quotas/sync).
  The controllers: a Deployment gets spec.replicas pods named
  <deployment>-<template hash>-<5 chars> with the template's labels + pod-template-hash
  (a changed template replaces them); a pod the admission refuses is a Warning event
  FailedCreate "Error creating: <message>" on the ReplicaSet (count bumped when repeated),
  retried on the next write in the namespace. Deployment status (replicas,
  readyReplicas, availableReplicas, conditions) follows the pods.
  Pods (kubelet): phase, conditions (PodReadyToStartContainers, Initialized, Ready,
  ContainersReady, PodScheduled) and containerStatuses of one of the states
    pending (ContainerCreating), ready, not-ready (Running, not ready), ImagePullBackOff,
    ErrImagePull, CrashLoopBackOff (Running, restartCount 5, lastState terminated Error),
    CreateContainerConfigError, Unschedulable (PodScheduled False).
  A new pod starts in the state set for its release (below), else the one its template
  annotation fake.kaiden.dev/start names (fake_helm sets it from the chart), else pending.
  Rights: the --token-file token may also do everything on these resources (`RESOURCE:*`);
  a control token's "rights" may name "RESOURCE:VERB", "RESOURCE:*" or "*" (a bare verb
  is still a verb on nodes), or "services": true adds them all. 403 bodies are RBAC's:
  `secrets is forbidden: User "<user>" cannot list resource "secrets" in API group ""
  in the namespace "ns"`. Faults and holds match "method" and "resource" as well as
  "path"; a fail rule with status 403 answers that RBAC message.
Control API for them:
    GET  /_fake/objects[?resource=R][&namespace=NS]   {"objects": [...]} (namespaces have
                                       no namespace: ask without one)
    POST /_fake/pods {"namespace": NS, "instance": RELEASE | "selector": SEL,
                      "state": STATE, "sticky": true}
                                       sets the matching pods to STATE; with "instance"
                                       (and sticky, the default) the release's future pods
                                       start in it too. {"pods": [names]}
    POST /_fake/config {"namespace_finalize": "immediate"|"manual", "quota_sync": bool}
    POST /_fake/namespaces/{ns}/finalize  a Terminating namespace goes, with its objects
    POST /_fake/quotas/sync            fill in every quota's status now
  Make the next N requests of a kind fail: POST /_fake/faults {"fail": [{"status": 500,
  "method": "POST", "resource": "secrets", "count": N}]}. Hold them behind a gate:
  POST /_fake/holds {"method": "POST", "path": "/deployments$", "count": N}.
SIGTERM/SIGINT stop it with status 0. State is in memory only.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from decimal import Decimal
from http.server import ThreadingHTTPServer

from fakeserve import JSONHandler, serve

NODE_PATH = re.compile(r"^/api/v1/nodes/([^/]+)$")
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Gone",
           413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}
VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
         "POST": "create"}

lock = threading.Condition()
args = None
nodes = {}          # name -> Node
tokens = {}         # token -> set of verbs
faults = {"fail": [], "drop": [], "garbage": []}
holds = {}          # id -> hold dict
log = []            # request records
rv_counter = [1000]
hold_ids = [0]


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def next_rv():
    rv_counter[0] += 1
    return str(rv_counter[0])


def condition(ctype, status, reason, message):
    t = now_rfc3339()
    return {"type": ctype, "status": status, "lastHeartbeatTime": t,
            "lastTransitionTime": t, "reason": reason, "message": message}


def template(name):
    """A node as a kubeadm worker's kubelet registers it (the ref's node.json)."""
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": {
            "name": name, "uid": str(uuid.uuid4()), "resourceVersion": next_rv(),
            "creationTimestamp": now_rfc3339(),
            "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": "",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {
            "capacity": {"cpu": "4", "ephemeral-storage": "101430960Ki", "hugepages-1Gi": "0",
                         "hugepages-2Mi": "0", "memory": "16318644Ki", "pods": "110"},
            "allocatable": {"cpu": "3910m", "ephemeral-storage": "93478772582",
                            "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                            "memory": "15601844Ki", "pods": "110"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                          "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                          "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID",
                          "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.11"},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4()),
                "bootID": str(uuid.uuid4()), "kernelVersion": "6.1.0-21-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.13",
                "kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2",
                "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    }


READY_TEXT = {"True": ("KubeletReady", "kubelet is posting ready status"),
              "False": ("KubeletNotReady",
                        "container runtime network not ready: NetworkReady=false"),
              "Unknown": ("NodeStatusUnknown", "Kubelet stopped posting node status.")}


def change_node(node, ch):
    """Applies a control change (see the docstring) to node in place; None or an error."""
    meta, spec, status = node["metadata"], node.setdefault("spec", {}), node["status"]
    if "replace_labels" in ch:
        meta["labels"] = dict(ch["replace_labels"])
    for k, v in (ch.get("labels") or {}).items():
        if v is None:
            meta.setdefault("labels", {}).pop(k, None)
        else:
            meta.setdefault("labels", {})[k] = v
    if "ready" in ch:
        conds = [c for c in status.get("conditions", []) if c.get("type") != "Ready"]
        if ch["ready"] is not None:
            if ch["ready"] not in READY_TEXT:
                return "ready must be True, False, Unknown or null"
            reason, message = READY_TEXT[ch["ready"]]
            conds.append(condition("Ready", ch["ready"], reason, message))
        status["conditions"] = conds
    if "unschedulable" in ch:
        # The API server leaves the field out when false (omitempty).
        if ch["unschedulable"]:
            spec["unschedulable"] = True
        else:
            spec.pop("unschedulable", None)
    for key in ("capacity", "allocatable", "nodeInfo"):
        for k, v in (ch.get(key) or {}).items():
            if v is None:
                status.setdefault(key, {}).pop(k, None)
            else:
                status.setdefault(key, {})[k] = v
    meta["resourceVersion"] = next_rv()
    return None


def status_body(code, message, name=None, kind=None):
    """A metav1.Status in the real server's key order; empty fields left out."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": REASONS.get(code, "InternalError")}
    if name is not None or kind is not None:
        body["details"] = {}
        if name is not None:
            body["details"]["name"] = name
        if kind is not None:
            body["details"]["kind"] = kind
    elif code == 404:
        body["details"] = {}
    body["code"] = code
    return body


def take_rule(kind, path, method=None, resource=None):
    """The first armed rule of faults[kind] matching the request (path regex, and the
    rule's method and resource when it names them), its count used up (lock held)."""
    for rule in faults[kind]:
        if re.search(rule.get("path", ""), path) and \
                rule.get("method", method) == method and \
                rule.get("resource", resource) == resource:
            if rule.get("count", 1) > 0:
                rule["count"] = rule.get("count", 1) - 1
            faults[kind] = [r for r in faults[kind] if r.get("count", 1) != 0]
            return rule
    return None


# --- the objects of the cloud-services calls (issue 13) ---------------------------------
# Namespaces (cluster scope); resourcequotas, limitranges, pods, secrets, events (core,
# namespaced); deployments (apps/v1, namespaced); rolebindings (rbac.authorization.k8s.io/v1,
# namespaced). objs[(resource, namespace, name)] = obj,
# namespace None for namespaces themselves. Everything below runs with `lock` held.

NAMESPACED = {"resourcequotas": "ResourceQuota", "limitranges": "LimitRange",
              "pods": "Pod", "secrets": "Secret", "events": "Event",
              "deployments": "Deployment", "rolebindings": "RoleBinding"}
KINDS = dict(NAMESPACED, namespaces="Namespace", nodes="Node")
GROUP = {"deployments": "apps", "rolebindings": "rbac.authorization.k8s.io"}
RBAC_GROUP = "rbac.authorization.k8s.io"
SERVICE_RESOURCES = ("namespaces",) + tuple(NAMESPACED)
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete",
             "deletecollection")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
             "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
             "  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric "
                 "character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
POD_STATES = ("pending", "ready", "not-ready", "ImagePullBackOff", "ErrImagePull",
              "CrashLoopBackOff", "CreateContainerConfigError", "Unschedulable")
START_ANNOTATION = "fake.kaiden.dev/start"

objs = {}
pod_states = {}     # (namespace, instance) -> state new and existing pods of it take
config = {"namespace_finalize": "immediate", "quota_sync": True}


def qualified(resource):
    return f"{resource}.{GROUP[resource]}" if resource in GROUP else resource


def details_of(resource, name=None, kind=None):
    d = {}
    if name is not None:
        d["name"] = name
    if resource in GROUP:
        d["group"] = GROUP[resource]
    d["kind"] = kind or resource
    return d


def status_err(code, message, details=None, reason=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason or REASONS.get(code, "InternalError")}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return code, body, ()


def not_found(resource, name):
    return status_err(404, f'{qualified(resource)} "{name}" not found',
                      details_of(resource, name))


def forbidden(resource, name, message):
    what = f'{qualified(resource)} "{name}"' if name else qualified(resource)
    return status_err(403, f"{what} is forbidden: {message}", details_of(resource, name))


def invalid(resource, name, causes):
    """422 Invalid: causes [(field, 'Invalid value: ...'), ...] as the API server words it."""
    kind = KINDS[resource] + (f".{GROUP[resource]}" if resource in GROUP else "")
    errs = [f"{f}: {m}" for f, m in causes]
    text = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
    det = {"name": name} if name else {}
    if resource in GROUP:
        det["group"] = GROUP[resource]
    det["kind"] = KINDS[resource]
    det["causes"] = [{"reason": "FieldValueRequired" if m.startswith("Required")
                      else "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
    return status_err(422, f'{kind} "{name}" is invalid: {text}', det)


def name_problems(resource, name):
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    q = json.dumps(name)
    out = []
    if resource == "namespaces":
        if len(name) > 63:
            out.append(("metadata.name", f"Invalid value: {q}: must be no more than 63 characters"))
        if not DNS1123_LABEL.match(name):
            out.append(("metadata.name", f"Invalid value: {q}: {LABEL_MSG}"))
    elif resource == "rolebindings":
        # RBAC names are path segments (apimachinery path.IsValidPathSegmentName).
        if name in (".", ".."):
            out.append(("metadata.name", f"Invalid value: {q}: may not be '{name}'"))
        for ch in "/%":
            if ch in name:
                out.append(("metadata.name", f"Invalid value: {q}: may not contain '{ch}'"))
    else:
        if len(name) > 253:
            out.append(("metadata.name", f"Invalid value: {q}: must be no more than 253 characters"))
        if not DNS1123_SUBDOMAIN.match(name):
            out.append(("metadata.name", f"Invalid value: {q}: {SUBDOMAIN_MSG}"))
    return out


def parse_selector(text):
    """labelSelector -> list of (key, op, values); ValueError on a bad one."""
    reqs = []
    if not text:
        return reqs
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", p)
        if m:
            reqs.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)$", p)
        if m:
            reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", [m.group(3)]))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", p)
        if m:
            reqs.append((m.group(2), "!" if m.group(1) else "exists", []))
            continue
        raise ValueError(f"unable to parse requirement: found '{p}', expected: in, notin, =, ==, !=, gt, lt")
    return reqs


EVENT_FIELDS = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "reason", "type", "source",
                "reportingComponent"}


def parse_field_selector(resource, text):
    """fieldSelector -> list of (field, negated, value); ValueError on a bad one."""
    reqs = []
    for p in (text.split(",") if text else []):
        m = re.match(r"^([\w.]+)\s*(==|!=|=)\s*(.*)$", p.strip())
        if not m:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{p}'")
        field = m.group(1)
        if field not in ("metadata.name", "metadata.namespace") and \
                not (resource == "events" and field in EVENT_FIELDS):
            raise ValueError(f"field label not supported: {field}")
        reqs.append((field, m.group(2) == "!=", m.group(3)))
    return reqs


def field_value(obj, field):
    if field == "source":
        return (obj.get("source") or {}).get("component", "")
    cur = obj
    for part in field.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def fields_match(reqs, obj):
    return all((field_value(obj, f) != v) if neg else (field_value(obj, f) == v)
               for f, neg, v in reqs)


def selector_matches(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        have = key in labels
        if op == "=" and labels.get(key) != vals[0]:
            return False
        if op == "!=" and have and labels[key] == vals[0]:
            return False
        if op == "in" and labels.get(key) not in vals:
            return False
        if op == "notin" and have and labels[key] in vals:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
    return True


def strip_kind(o):
    return dict((k, v) for k, v in o.items() if k not in ("kind", "apiVersion"))


def new_meta(meta, resource, ns, name):
    meta = dict(meta or {})
    meta["name"] = name
    if ns is not None:
        meta["namespace"] = ns
    meta["uid"] = str(uuid.uuid4())
    meta["resourceVersion"] = next_rv()
    meta["creationTimestamp"] = now_rfc3339()
    for k in ("deletionTimestamp", "generation"):
        meta.pop(k, None)
    if resource == "deployments":
        meta["generation"] = 1
    return meta


# Quantities: Decimal values; cpu shown in cores or millicores, memory in binary units.
SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
          "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
          "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
          "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
          "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60}


def quantity(text):
    m = re.match(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|)$",
                 str(text).strip())
    if not m:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    num = Decimal(m.group(1))
    suf = m.group(2)
    if suf[:1] in "eE" and suf:
        return num * (Decimal(10) ** int(suf[1:]))
    return num * SUFFIX[suf]


def fmt_quantity(resource, v):
    if "cpu" in resource:
        if v == v.to_integral_value():
            return str(int(v))
        return f"{int((v * 1000).to_integral_value())}m"
    if v == 0:
        return "0"
    if v == v.to_integral_value():
        n = int(v)
        for suf in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            if n % int(SUFFIX[suf]) == 0:
                return f"{n // int(SUFFIX[suf])}{suf}"
        return str(n)
    return str(v)


def pod_usage(pod):
    """The pod's quota usage: {resource: Decimal} for pods and the compute keys."""
    use = {"pods": Decimal(1)}
    for c in pod.get("spec", {}).get("containers", []):
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                v = (res.get(kind) or {}).get(r)
                if v is not None:
                    key = f"{kind}.{r}"
                    use[key] = use.get(key, Decimal(0)) + quantity(v)
                    if kind == "requests":
                        use[r] = use.get(r, Decimal(0)) + quantity(v)
    return use


def live_pods(ns):
    return [o for (r, n, _), o in objs.items() if r == "pods" and n == ns
            and o.get("status", {}).get("phase") not in ("Succeeded", "Failed")]


def quota_sync(ns):
    """The quota controller: status.hard and status.used of every quota in ns."""
    if not config["quota_sync"]:
        return
    total = {}
    for p in live_pods(ns):
        for k, v in pod_usage(p).items():
            total[k] = total.get(k, Decimal(0)) + v
    for (r, n, _), q in objs.items():
        if r == "resourcequotas" and n == ns:
            hard = dict((q.get("spec") or {}).get("hard") or {})
            used = {}
            for k in hard:
                used[k] = fmt_quantity(k, total.get(k, Decimal(0)))
            st = {"hard": hard, "used": used}
            if q.get("status") != st:
                q["status"] = st
                q["metadata"]["resourceVersion"] = next_rv()


def limitrange_defaults(item):
    """A LimitRange item as the API server stores it: default <- max, defaultRequest <-
    default (then min), for type Container."""
    if item.get("type") == "Container":
        if "default" not in item and item.get("max"):
            item["default"] = dict(item["max"])
        dr = dict(item.get("min") or {})
        dr.update(item.get("default") or {})
        dr.update(item.get("defaultRequest") or {})
        if dr:
            item["defaultRequest"] = dr
    return item


def admit_pod(ns, pod):
    """Mutating then validating admission of a new pod: NamespaceLifecycle, defaulting
    (requests from limits), LimitRanger, ResourceQuota. None, or a (status, body, h)."""
    name = pod["metadata"].get("name")
    nso = objs.get(("namespaces", None, ns))
    if nso is None:
        return not_found("namespaces", ns)
    if nso["status"].get("phase") == "Terminating":
        return forbidden("pods", name, f"unable to create new content in namespace {ns} "
                         f"because it is being terminated")
    said = {}
    for c in pod.get("spec", {}).get("containers", []):
        res = c.setdefault("resources", {})
        for r, v in (res.get("limits") or {}).items():
            res.setdefault("requests", {}).setdefault(r, v)
        for (r, n, _), lr in objs.items():
            if r != "limitranges" or n != ns:
                continue
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                for kind, src in (("limits", "default"), ("requests", "defaultRequest")):
                    for rr, v in (item.get(src) or {}).items():
                        if rr not in (res.get(kind) or {}):
                            res.setdefault(kind, {})[rr] = v
                            said.setdefault((kind, c.get("name")), []).append(rr)
        if not res:
            c["resources"] = {}
    if said:
        parts = [f"{', '.join(sorted(set(rs)))} {'request' if k == 'requests' else 'limit'} "
                 f"for container {cn}" for (k, cn), rs in sorted(said.items())]
        pod["metadata"].setdefault("annotations", {})["kubernetes.io/limit-ranger"] = \
            "LimitRanger plugin set: " + "; ".join(parts)
    use = pod_usage(pod)
    for (r, n, _), q in sorted(objs.items(), key=lambda kv: kv[0][2]):
        if r != "resourcequotas" or n != ns:
            continue
        qname = q["metadata"]["name"]
        hard = (q.get("spec") or {}).get("hard") or {}
        tracked = [k for k in hard if k in COMPUTE or k == "pods"]
        if not tracked:
            continue
        st = q.get("status") or {}
        if not st.get("hard"):
            return forbidden("pods", name, f"status unknown for quota: {qname}, resources: "
                             + ",".join(sorted(tracked)))
        need = set(k for k in hard if k in COMPUTE)
        missing = set()
        for c in pod.get("spec", {}).get("containers", []):
            res = c.get("resources") or {}
            have = set()
            for kind in ("requests", "limits"):
                for rr in (res.get(kind) or {}):
                    have.add(f"{kind}.{rr}")
                    if kind == "requests":
                        have.add(rr)
            missing |= need - have
        if missing:
            return forbidden("pods", name, f"failed quota: {qname}: must specify "
                             + ",".join(sorted(missing)))
        over = []
        for k in sorted(tracked):
            used = quantity((st.get("used") or {}).get(k, "0"))
            if used + use.get(k, Decimal(0)) > quantity(hard[k]):
                over.append(k)
        if over:
            def fmt(vals):
                return ",".join(f"{k}={fmt_quantity(k, vals(k))}" for k in over)
            return forbidden("pods", name, f"exceeded quota: {qname}, requested: "
                             + fmt(lambda k: use.get(k, Decimal(0))) + ", used: "
                             + fmt(lambda k: quantity(st["used"].get(k, "0")))
                             + ", limited: " + fmt(lambda k: quantity(hard[k])))
    return None


def pod_status(pod, state):
    """status of a pod in one of POD_STATES, as kubelet reports it."""
    t = now_rfc3339()
    meta = pod["metadata"]
    containers = pod.get("spec", {}).get("containers", [])

    def cond(ctype, ok, reason=None, message=None):
        c = {"type": ctype, "status": "True" if ok else "False",
             "lastProbeTime": None, "lastTransitionTime": t}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c
    names = "[" + " ".join(c.get("name", "") for c in containers) + "]"
    if state == "Unschedulable":
        return {"phase": "Pending", "conditions": [cond(
            "PodScheduled", False, "Unschedulable",
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
            "available: 1 No preemption victims found for incoming pod.")],
            "qosClass": "BestEffort"}
    ready = state == "ready"
    started = state in ("ready", "not-ready", "CrashLoopBackOff")
    st = {"phase": "Running" if started else "Pending",
          "conditions": [cond("PodReadyToStartContainers", state != "pending"),
                         cond("Initialized", True),
                         cond("Ready", ready, None if ready else "ContainersNotReady",
                              None if ready else f"containers with unready status: {names}"),
                         cond("ContainersReady", ready, None if ready else "ContainersNotReady",
                              None if ready else f"containers with unready status: {names}"),
                         cond("PodScheduled", True)],
          "hostIP": "192.0.2.11", "hostIPs": [{"ip": "192.0.2.11"}],
          "startTime": meta.get("creationTimestamp", t), "containerStatuses": []}
    if state != "pending":
        st["podIP"] = "10.244.1.%d" % (int(meta["uid"][:2], 16) % 250 + 2)
        st["podIPs"] = [{"ip": st["podIP"]}]
    for c in containers:
        image = c.get("image", "")
        cs = {"name": c.get("name", ""), "state": {}, "lastState": {}, "ready": ready,
              "restartCount": 0, "image": image, "imageID": "", "started": started}
        if state in ("ready", "not-ready", "CrashLoopBackOff"):
            cs["imageID"] = image.split(":")[0] + "@sha256:" + \
                hashlib.sha256(image.encode()).hexdigest()
            cs["containerID"] = "containerd://" + hashlib.sha256(
                (meta["uid"] + cs["name"]).encode()).hexdigest()
        if state in ("ready", "not-ready"):
            cs["state"] = {"running": {"startedAt": t}}
        elif state == "CrashLoopBackOff":
            cs["restartCount"] = 5
            cs["started"] = False
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                           f"back-off 5m0s restarting failed container={cs['name']} "
                           f"pod={meta['name']}_{meta.get('namespace')}({meta['uid']})"}}
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                              "startedAt": t, "finishedAt": t,
                                              "containerID": cs["containerID"]}}
        elif state == "pending":
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
        elif state == "ImagePullBackOff":
            cs["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                       "message": f'Back-off pulling image "{image}"'}}
        elif state == "ErrImagePull":
            cs["state"] = {"waiting": {"reason": "ErrImagePull", "message":
                           f'rpc error: code = NotFound desc = failed to pull and unpack '
                           f'image "{image}": not found'}}
        elif state == "CreateContainerConfigError":
            cs["state"] = {"waiting": {"reason": "CreateContainerConfigError",
                                       "message": 'secret "missing" not found'}}
        st["containerStatuses"].append(cs)
    has_res = any((c.get("resources") or {}).get("requests") or
                  (c.get("resources") or {}).get("limits") for c in containers)
    st["qosClass"] = "Burstable" if has_res else "BestEffort"
    return st


def set_pod_state(pod, state):
    pod["status"] = pod_status(pod, state)
    pod["metadata"]["resourceVersion"] = next_rv()


def initial_state(ns, pod):
    inst = (pod["metadata"].get("labels") or {}).get("app.kubernetes.io/instance")
    if (ns, inst) in pod_states:
        return pod_states[(ns, inst)]
    s = (pod["metadata"].get("annotations") or {}).get(START_ANNOTATION, "pending")
    return s if s in POD_STATES else "pending"


def add_event(ns, involved, reason, message, etype="Warning"):
    name = f"{involved['metadata']['name']}.{uuid.uuid4().hex[:16]}"
    for (r, n, _), ev in objs.items():
        if r == "events" and n == ns and ev["reason"] == reason and \
                ev["involvedObject"]["uid"] == involved["metadata"]["uid"] and \
                ev["message"] == message:
            ev["count"] += 1
            ev["lastTimestamp"] = now_rfc3339()
            return
    t = now_rfc3339()
    objs[("events", ns, name)] = {
        "kind": "Event", "apiVersion": "v1",
        "metadata": new_meta({}, "events", ns, name),
        "involvedObject": {"kind": involved["kind"], "namespace": ns,
                           "name": involved["metadata"]["name"],
                           "uid": involved["metadata"]["uid"],
                           "apiVersion": involved["apiVersion"]},
        "reason": reason, "message": message, "source": {"component": "replicaset-controller"},
        "firstTimestamp": t, "lastTimestamp": t, "count": 1, "type": etype}


POD_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def reconcile(ns):
    """The deployment and ReplicaSet controllers and the quota controller, at once: each
    Deployment gets spec.replicas pods of its current template (pod-template-hash),
    older ones go; a pod the admission refuses is a FailedCreate event, tried again on
    the next change in the namespace."""
    for (r, n, dname), d in list(objs.items()):
        if r != "deployments" or n != ns:
            continue
        tmpl = (d.get("spec") or {}).get("template") or {}
        h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]
        h = "".join(POD_SUFFIX[int(c, 16) % len(POD_SUFFIX)] for c in h)
        rs = f"{dname}-{h}"
        mine = [(k, p) for k, p in objs.items() if k[0] == "pods" and k[1] == ns and
                any(o.get("uid") == d["metadata"]["uid"] for o in
                    p["metadata"].get("ownerReferences", []))]
        want = d["spec"].get("replicas", 1)
        current = []
        for k, p in mine:
            if p["metadata"]["labels"].get("pod-template-hash") != h:
                del objs[k]
            else:
                current.append(k)
        for k in current[want:]:
            del objs[k]
        for _ in range(want - len(current)):
            pname = f"{rs}-" + "".join(random.choice(POD_SUFFIX) for _ in range(5))
            meta = copy.deepcopy(tmpl.get("metadata") or {})
            meta.setdefault("labels", {})["pod-template-hash"] = h
            meta["generateName"] = f"{rs}-"
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                        "name": rs, "uid": d["metadata"]["uid"],
                                        "controller": True, "blockOwnerDeletion": True}]
            pod = {"kind": "Pod", "apiVersion": "v1",
                   "metadata": new_meta(meta, "pods", ns, pname),
                   "spec": copy.deepcopy(tmpl.get("spec") or {})}
            refusal = admit_pod(ns, pod)
            if refusal:
                add_event(ns, {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                               "metadata": {"name": rs, "uid": d["metadata"]["uid"]}},
                          "FailedCreate", "Error creating: " + refusal[1]["message"])
                break
            pod["spec"].setdefault("restartPolicy", "Always")
            pod["spec"].setdefault("nodeName", "worker-1")
            set_pod_state(pod, initial_state(ns, pod))
            objs[("pods", ns, pname)] = pod
            quota_sync(ns)
        update_deployment_status(d, h)
    quota_sync(ns)


def update_deployment_status(d, h=None):
    ns = d["metadata"]["namespace"]
    pods = [p for (r, n, _), p in objs.items() if r == "pods" and n == ns and
            any(o.get("uid") == d["metadata"]["uid"] for o in
                p["metadata"].get("ownerReferences", []))]
    ready = sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                       for c in p.get("status", {}).get("conditions", [])))
    want = d["spec"].get("replicas", 1)
    st = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": len(pods),
          "updatedReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}
    if want - ready > 0:
        st["unavailableReplicas"] = want - ready
    t = now_rfc3339()
    st["conditions"] = [
        {"type": "Available", "status": "True" if ready >= want else "False",
         "lastUpdateTime": t, "lastTransitionTime": t,
         "reason": "MinimumReplicasAvailable" if ready >= want else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if ready >= want else
         "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": "True", "lastUpdateTime": t,
         "lastTransitionTime": t, "reason": "NewReplicaSetAvailable" if ready >= want
         else "ReplicaSetUpdated", "message": f'ReplicaSet "{d["metadata"]["name"]}" is '
         + ("progressing." if ready < want else "has successfully progressed.")}]
    for k in ("readyReplicas", "availableReplicas"):
        if st[k] == 0:
            del st[k]
    d["status"] = st


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    target = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def prepare(resource, ns, obj, old=None):
    """Server-side defaults of an object being stored (create or update)."""
    if resource == "namespaces":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"]["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = (old or {}).get("status") or {"phase": "Active"}
    elif resource == "secrets":
        data = dict(obj.get("data") or {})
        for k, v in (obj.pop("stringData", None) or {}).items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        for k, v in data.items():
            try:
                base64.b64decode(v, validate=True)
            except (ValueError, TypeError):
                return invalid(resource, obj["metadata"]["name"], [
                    (f"data[{k}]", f"Invalid value: \"{v}\": illegal base64 data")])
        if data:
            obj["data"] = data
        else:
            obj.pop("data", None)
        obj.setdefault("type", "Opaque")
    elif resource == "limitranges":
        for item in (obj.get("spec") or {}).get("limits") or []:
            limitrange_defaults(item)
    elif resource == "resourcequotas":
        for k, v in ((obj.get("spec") or {}).get("hard") or {}).items():
            try:
                quantity(v)
            except ValueError as e:
                return invalid(resource, obj["metadata"]["name"], [
                    (f"spec.hard[{k}]", f"Invalid value: \"{v}\": {e}")])
        obj["status"] = (old or {}).get("status") or {}
    elif resource == "deployments":
        obj.setdefault("spec", {}).setdefault("replicas", 1)
        if old is not None:
            gen = old["metadata"].get("generation", 1)
            if old.get("spec") != obj.get("spec"):
                gen += 1
            obj["metadata"]["generation"] = gen
            obj["status"] = old.get("status", {})
    elif resource == "rolebindings":
        name = obj["metadata"]["name"]
        ref = obj.get("roleRef")
        causes = []
        if not isinstance(ref, dict):
            causes.append(("roleRef.name", "Required value"))
        else:
            if ref.get("apiGroup") != RBAC_GROUP:
                causes.append(("roleRef.apiGroup", f"Unsupported value: {json.dumps(ref.get('apiGroup', ''))}: "
                               f"supported values: \"{RBAC_GROUP}\""))
            if ref.get("kind") not in ("Role", "ClusterRole"):
                causes.append(("roleRef.kind", f"Unsupported value: {json.dumps(ref.get('kind', ''))}: "
                               "supported values: \"Role\", \"ClusterRole\""))
            if not ref.get("name"):
                causes.append(("roleRef.name", "Required value"))
        for i, sj in enumerate(obj.get("subjects") or []):
            if not isinstance(sj, dict) or sj.get("kind") not in ("ServiceAccount", "User", "Group"):
                kind = sj.get("kind", "") if isinstance(sj, dict) else ""
                causes.append((f"subjects[{i}].kind", f"Unsupported value: {json.dumps(kind)}: "
                               "supported values: \"ServiceAccount\", \"User\", \"Group\""))
            elif not sj.get("name"):
                causes.append((f"subjects[{i}].name", "Required value"))
        if old is not None and old.get("roleRef") != ref:
            causes.append(("roleRef", f"Invalid value: {json.dumps(ref)}: cannot change roleRef"))
        if causes:
            return invalid(resource, name, causes)
    elif resource == "pods":
        refusal = None if old else admit_pod(ns, obj)
        if refusal:
            return refusal
        if not old:
            obj.setdefault("spec", {}).setdefault("restartPolicy", "Always")
            obj["spec"].setdefault("nodeName", "worker-1")
            set_pod_state(obj, initial_state(ns, obj))
        else:
            obj["status"] = old.get("status")
    return None


def api_object(method, resource, ns, name, body, query, content_type):
    """The answer (status, body, headers) for a call on the cloud-services objects."""
    kind = KINDS[resource]
    api_version = GROUP[resource] + "/v1" if resource in GROUP else "v1"
    if name is None and method == "GET":
        try:
            reqs = parse_selector(query.get("labelSelector", ""))
            freqs = parse_field_selector(resource, query.get("fieldSelector", ""))
        except ValueError as e:
            return status_err(400, str(e))
        items = [strip_kind(o) for (r, n, _), o in sorted(objs.items(), key=lambda kv: (
            kv[0][1] or "", kv[0][2])) if r == resource and (ns is None or n == ns)
            and selector_matches(reqs, o["metadata"].get("labels"))
            and fields_match(freqs, o)]
        return 200, {"kind": kind + "List", "apiVersion": api_version,
                     "metadata": {"resourceVersion": str(rv_counter[0])}, "items": items}, ()
    if method == "POST" and name is None:
        if resource == "events":
            return status_err(405, "the server does not allow this method on the requested resource")
        if not isinstance(body, dict):
            return status_err(400, "the object provided is unrecognized (must be of type "
                              f"{kind}): couldn't get version/kind; json parse error")
        if body.get("kind") not in (None, kind):
            return status_err(400, f"the object provided is unrecognized (must be of type "
                              f"{kind}): no kind \"{body.get('kind')}\" is registered")
        meta = body.get("metadata") or {}
        oname = meta.get("name") or ""
        if not oname and meta.get("generateName"):
            oname = meta["generateName"] + "".join(random.choice(POD_SUFFIX) for _ in range(5))
        if ns is not None and meta.get("namespace") not in (None, ns):
            return status_err(400, "the namespace of the provided object does not match "
                              "the namespace sent on the request")
        probs = name_problems(resource, oname)
        if probs:
            return invalid(resource, oname, probs)
        if ns is not None:
            nso = objs.get(("namespaces", None, ns))
            if nso is None:
                return not_found("namespaces", ns)
            if nso["status"].get("phase") == "Terminating":
                return forbidden(resource, oname, f"unable to create new content in "
                                 f"namespace {ns} because it is being terminated")
        if (resource, ns, oname) in objs:
            return status_err(409, f'{qualified(resource)} "{oname}" already exists',
                              details_of(resource, oname), "AlreadyExists")
        obj = {"kind": kind, "apiVersion": api_version}
        obj.update(copy.deepcopy(body))
        obj["kind"], obj["apiVersion"] = kind, api_version
        obj["metadata"] = new_meta(meta, resource, ns, oname)
        refusal = prepare(resource, ns, obj)
        if refusal:
            return refusal
        objs[(resource, ns, oname)] = obj
        if ns is not None:
            reconcile(ns)
        return 201, obj, ()
    key = (resource, ns, name)
    if name is None:
        return status_err(405, "the server does not allow this method on the requested resource")
    cur = objs.get(key)
    if method == "GET":
        if cur is None:
            return not_found(resource, name)
        return 200, cur, ()
    if cur is None:
        return not_found(resource, name)
    if method in ("PUT", "PATCH"):
        if method == "PATCH":
            if content_type not in ("application/merge-patch+json",
                                    "application/strategic-merge-patch+json"):
                return status_err(415, "the body of the request was in an unknown format - "
                                  "accepted media types include: application/json-patch+json, "
                                  "application/merge-patch+json, application/apply-patch+yaml")
            if not isinstance(body, dict):
                return status_err(400, "the body of the request is not a JSON object")
            new = merge_patch(cur, body)
        else:
            if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                return status_err(400, f"the object provided is unrecognized (must be of "
                                  f"type {kind})")
            new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            return status_err(400, f"the name of the object ({meta.get('name')}) does not "
                              f"match the name on the URL ({name})")
        rv = meta.get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            return status_err(409, f'Operation cannot be fulfilled on {qualified(resource)} '
                              f'"{name}": the object has been modified; please apply your '
                              f'changes to the latest version and try again',
                              details_of(resource, name), "Conflict")
        for k in ("uid", "creationTimestamp", "namespace", "generateName",
                  "ownerReferences"):
            if k in cur["metadata"]:
                meta[k] = cur["metadata"][k]
        meta["name"] = name
        meta["resourceVersion"] = next_rv()
        new["kind"], new["apiVersion"] = kind, api_version
        refusal = prepare(resource, ns, new, cur)
        if refusal:
            return refusal
        objs[key] = new
        if ns is not None:
            reconcile(ns)
        return 200, new, ()
    if method == "DELETE":
        if resource == "namespaces":
            cur["status"]["phase"] = "Terminating"
            cur["metadata"]["deletionTimestamp"] = now_rfc3339()
            cur["metadata"]["resourceVersion"] = next_rv()
            out = copy.deepcopy(cur)
            if config["namespace_finalize"] == "immediate":
                finalize_namespace(name)
            return 200, out, ()
        del objs[key]
        if resource == "deployments":
            for k, p in list(objs.items()):
                if k[0] == "pods" and k[1] == ns and any(
                        o.get("uid") == cur["metadata"]["uid"]
                        for o in p["metadata"].get("ownerReferences", [])):
                    del objs[k]
        if ns is not None:
            reconcile(ns)
        if resource in ("pods", "deployments"):
            cur["metadata"]["deletionTimestamp"] = now_rfc3339()
            return 200, cur, ()
        det = details_of(resource, name)
        det["uid"] = cur["metadata"]["uid"]
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Success", "details": det}, ()
    return status_err(405, "the server does not allow this method on the requested resource")


def finalize_namespace(ns):
    for k in [k for k in objs if k[1] == ns]:
        del objs[k]
    objs.pop(("namespaces", None, ns), None)
    for k in [k for k in pod_states if k[0] == ns]:
        del pod_states[k]


VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.2",
           "gitCommit": "39683505b630ff2121012f3c5b16215a1449d5ed", "gitTreeState": "clean",
           "buildDate": "2024-06-11T20:21:00Z", "goVersion": "go1.22.4", "compiler": "gc",
           "platform": "linux/amd64"}
ROUTES = (
    (re.compile(r"^/api/v1/(nodes|namespaces)(?:/([^/]+))?$"),
     lambda m: (m.group(1), None, m.group(2))),
    (re.compile(r"^/api/v1/namespaces/([^/]+)/(resourcequotas|limitranges|pods|secrets|events)"
                r"(?:/([^/]+))?$"), lambda m: (m.group(2), m.group(1), m.group(3))),
    (re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/(deployments)(?:/([^/]+))?$"),
     lambda m: (m.group(2), m.group(1), m.group(3))),
    (re.compile(r"^/api/v1/(resourcequotas|limitranges|pods|secrets|events)$"),
     lambda m: (m.group(1), None, None)),
    (re.compile(r"^/apis/apps/v1/(deployments)$"), lambda m: (m.group(1), None, None)),
    (re.compile(r"^/apis/rbac\.authorization\.k8s\.io/v1/namespaces/([^/]+)/(rolebindings)"
                r"(?:/([^/]+))?$"), lambda m: (m.group(2), m.group(1), m.group(3))),
    (re.compile(r"^/apis/rbac\.authorization\.k8s\.io/v1/(rolebindings)$"),
     lambda m: (m.group(1), None, None)),
)


def match_route(path):
    """(resource, namespace or None, name or None), or None for a path not served."""
    for rx, f in ROUTES:
        m = rx.match(path)
        if m:
            res, ns, name = f(m)
            unq = urllib.parse.unquote
            return res, unq(ns) if ns else None, unq(name) if name else None
    return None


def allowed(rights, resource, verb):
    """Rights: a bare verb ("get") is on nodes (the agent's ClusterRole, as before);
    "RESOURCE:VERB", "RESOURCE:*" and "*" name the rest."""
    if resource == "nodes" and verb in rights:
        return True
    return f"{resource}:{verb}" in rights or f"{resource}:*" in rights or "*" in rights


def forbidden_rbac(resource, ns, name, verb):
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    what = f'{qualified(resource)} "{name}"' if name else qualified(resource)
    return status_err(403, f'{what} is forbidden: User "{args.user}" cannot {verb} resource '
                      f'"{resource}" in API group "{GROUP.get(resource, "")}" {scope}',
                      details_of(resource, name))


def hold_view(h):
    return {"id": h["id"], "path": h["path"], "method": h.get("method"), "count": h["count"],
            "caught": h["caught"], "held": h["held"]}


class Handler(JSONHandler):
    server_version = "fake-kube-apiserver"
    sys_version = ""
    json_separators = (",", ":")   # compact, as Go's encoding/json writes it

    def send_json(self, status, obj=None, headers=()):
        super().send_json(status, obj, (("Audit-Id", str(uuid.uuid4())),
                                        ("Cache-Control", "no-cache, private")) + tuple(headers))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            body = self.read_body()
            if body is None:
                return self.send_json(413, {"error": "too large"})
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                return self.send_json(400, {"error": "the body is not JSON"})
            return self.control(method, url, data)
        self.api_body = self.read_body()
        self.api(method, url)

    # --- the API --------------------------------------------------------------------

    def api(self, method, url):
        rec = {"method": method, "path": url.path,
               "query": dict(urllib.parse.parse_qsl(url.query)),
               "auth": "yes" if self.headers.get("Authorization") else "no",
               "accept": self.headers.get("Accept"),
               "user_agent": self.headers.get("User-Agent"),
               "status": None, "fault": None, "hold": None, "time": time.time()}
        with lock:
            rec["seq"] = len(log) + 1
            log.append(rec)
            hold = None
            for h in holds.values():
                if h["count"] != 0 and re.search(h["path"], url.path) and \
                        h.get("method", method) == method:
                    hold = h
                    break
            if hold:
                hold["count"] -= 1 if hold["count"] > 0 else 0
                hold["caught"] += 1
                hold["held"] += 1
                rec["hold"] = hold["id"]
                lock.notify_all()
                while not hold["released"]:
                    lock.wait()
                hold["held"] -= 1
                if hold["drop"]:
                    rec["fault"] = "hold_drop"
                    lock.notify_all()
                    self.close_connection = True
                    return
            status, obj, headers = self.answer(method, url.path, rec)
            rec["status"] = status
            lock.notify_all()
        if status is None:
            self.close_connection = True
            return
        self.send_json(status, obj, headers)

    def answer(self, method, path, rec):
        """(status, body, headers) for an API request, the lock held; status None: drop.
        The real server's order: authentication, the route, RBAC, then the object."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        if path == "/version" and method == "GET" and (not auth or token in tokens):
            return 200, VERSION, ()
        if token is None or token not in tokens:
            return 401, status_body(401, "Unauthorized"), ()
        route = match_route(path)
        if route is None:
            return 404, status_body(404, "the server could not find the requested resource"), ()
        resource, ns, name = route
        rec["resource"] = resource
        verb = VERBS.get(method, method.lower())
        if name is None and verb == "get":
            verb = "list"
        if name is None and verb == "delete":
            verb = "deletecollection"
        if not allowed(tokens[token], resource, verb):
            return forbidden_rbac(resource, ns, name, verb)
        rule = take_rule("drop", path, method, resource)
        if rule:
            rec["fault"] = "drop"
            return None, None, ()
        rule = take_rule("fail", path, method, resource)
        if rule:
            rec["fault"] = "fail"
            code = rule.get("status", 500)
            hdr = ()
            if rule.get("retry_after") is not None:
                hdr = (("Retry-After", str(rule["retry_after"])),)
            if "body" in rule:
                return code, rule["body"].encode(), hdr
            if code == 403:
                return forbidden_rbac(resource, ns, name, verb)
            msg = {500: "Internal error occurred: etcdserver: request timed out",
                   503: "the server is currently unable to handle the request",
                   429: "Too many requests, please try again later."}.get(code, "injected")
            return code, status_body(code, msg), hdr
        rule = take_rule("garbage", path, method, resource)
        if rule:
            rec["fault"] = "garbage"
            if resource == "nodes" and name in nodes:
                text = json.dumps(nodes[name])
                text = text[:len(text) // 2]
            elif resource == "nodes":
                text = '{"kind":"Node","apiVersion":"v1","metadata":{"name":'
            else:
                o = objs.get((resource, ns, name))
                text = json.dumps(o)[:len(json.dumps(o)) // 2] if o else \
                    '{"kind":"' + KINDS[resource] + '","apiVersion":"v1","metadata":{'
            # pad: that many spaces after the body (JSON whitespace: a whole Node padded
            # past a client's size cap is still a valid Node, only too large)
            return 200, rule.get("body", text).encode() + b" " * int(rule.get("pad", 0)), ()
        if resource != "nodes":
            body = None
            if self.api_body:
                try:
                    body = json.loads(self.api_body)
                except ValueError:
                    return status_err(400, "the object provided is unrecognized: couldn't "
                                      "get version/kind; json parse error: invalid character")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            return api_object(method, resource, ns, name, body, rec["query"], ctype)
        if name is None:  # a list, for a token given "list"
            return 200, {"kind": "NodeList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(rv_counter[0])},
                         "items": [dict((k, v) for k, v in n.items()
                                        if k not in ("kind", "apiVersion"))
                                   for n in nodes.values()]}, ()
        if name not in nodes:
            return 404, status_body(404, f'nodes "{name}" not found', name, "nodes"), ()
        return 200, nodes[name], ()

    # --- the control API ------------------------------------------------------------

    def control(self, method, url, data):
        path = url.path[len("/_fake"):]
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = path.strip("/").split("/")
        if path == "/health":
            return self.send_json(200, {"ok": True})
        if path == "/reset" and method == "POST":
            with lock:
                reset()
                lock.notify_all()
            return self.send_json(200, {"ok": True})
        if parts[0] == "nodes":
            return self.control_nodes(method, parts[1:], data)
        if parts[0] in ("objects", "pods", "config", "namespaces", "quotas"):
            return self.control_objects(method, parts, q, data)
        if path == "/tokens" and method == "POST":
            if not isinstance(data.get("token"), str) or not data["token"]:
                return self.send_json(400, {"error": "token must be a non-empty string"})
            with lock:
                if data.get("remove"):
                    tokens.pop(data["token"], None)
                else:
                    tokens[data["token"]] = set(data.get("rights", ["get"]))
                    if data.get("services"):
                        tokens[data["token"]] |= SERVICE_RIGHTS
            return self.send_json(200, {"ok": True})
        if path == "/faults":
            with lock:
                if method == "POST":
                    if data.get("clear"):
                        for k in faults:
                            faults[k] = []
                    for k in faults:
                        faults[k].extend(copy.deepcopy(data.get(k) or []))
                return self.send_json(200, faults)
        if parts[0] == "holds":
            return self.control_holds(method, parts[1:], data)
        if path == "/log":
            since = int(q.get("since", "0"))
            with lock:
                return self.send_json(200, {"requests": [r for r in log if r["seq"] > since]})
        if path == "/counts":
            with lock:
                return self.send_json(200, counts())
        if path == "/wait":
            want = int(q.get("count", "1"))
            deadline = time.time() + float(q.get("timeout", "30"))

            def matching():
                return [r for r in log if r["status"] is not None
                        and ("path" not in q or r["path"] == q["path"])
                        and ("status" not in q or str(r["status"]) == q["status"])]
            with lock:
                while True:
                    got = matching()
                    if len(got) >= want:
                        return self.send_json(200, {"requests": got})
                    left = deadline - time.time()
                    if left <= 0:
                        return self.send_json(408, {"requests": got})
                    lock.wait(left)
        return self.send_json(404, {"error": "no such control call"})

    def control_nodes(self, method, rest, data):
        with lock:
            if not rest:
                return self.send_json(200, {"nodes": nodes})
            name = urllib.parse.unquote(rest[0])
            if method == "GET":
                if name not in nodes:
                    return self.send_json(404, {"error": f"no node {name}"})
                return self.send_json(200, nodes[name])
            if method == "DELETE":
                nodes.pop(name, None)
                return self.send_json(200, {"ok": True})
            if method == "PUT":
                if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
                    return self.send_json(400, {"error": "a Node object with metadata"})
                data["metadata"]["name"] = name
                data["metadata"]["resourceVersion"] = next_rv()
                nodes[name] = data
                return self.send_json(200, data)
            if method == "POST":
                node = nodes.get(name) or template(name)
                err = change_node(node, data)
                if err:
                    return self.send_json(400, {"error": err})
                nodes[name] = node
                return self.send_json(200, node)
        return self.send_json(405, {"error": "method"})

    def control_objects(self, method, parts, q, data):
        with lock:
            if parts == ["objects"] and method == "GET":
                got = [o for (r, n, _), o in sorted(objs.items(), key=lambda kv: (
                    kv[0][0], kv[0][1] or "", kv[0][2]))
                    if q.get("resource", r) == r and q.get("namespace", n) == n]
                return self.send_json(200, {"objects": got})
            if parts == ["pods"] and method == "POST":
                state, ns = data.get("state"), data.get("namespace")
                if state not in POD_STATES or not ns:
                    return self.send_json(400, {"error": "namespace and a state of "
                                                + ", ".join(POD_STATES)})
                sel = data.get("selector")
                if data.get("instance"):
                    sel = f"app.kubernetes.io/instance={data['instance']}"
                    if data.get("sticky", True):
                        pod_states[(ns, data["instance"])] = state
                try:
                    reqs = parse_selector(sel or "")
                except ValueError as e:
                    return self.send_json(400, {"error": str(e)})
                names = []
                for (r, n, name), p in sorted(objs.items(), key=lambda kv: kv[0][2]):
                    if r == "pods" and n == ns and selector_matches(
                            reqs, p["metadata"].get("labels")):
                        set_pod_state(p, state)
                        names.append(name)
                for (r, n, _), d in objs.items():
                    if r == "deployments" and n == ns:
                        update_deployment_status(d)
                lock.notify_all()
                return self.send_json(200, {"pods": names})
            if parts == ["config"]:
                if method == "POST":
                    for k in ("namespace_finalize", "quota_sync"):
                        if k in data:
                            config[k] = data[k]
                    if config["namespace_finalize"] not in ("immediate", "manual"):
                        config["namespace_finalize"] = "immediate"
                        return self.send_json(400, {"error": "namespace_finalize: immediate "
                                                    "or manual"})
                return self.send_json(200, config)
            if parts[0] == "namespaces" and parts[2:] == ["finalize"] and method == "POST":
                ns = urllib.parse.unquote(parts[1])
                if ("namespaces", None, ns) not in objs:
                    return self.send_json(404, {"error": f"no namespace {ns}"})
                finalize_namespace(ns)
                return self.send_json(200, {"ok": True})
            if parts == ["quotas", "sync"] and method == "POST":
                was = config["quota_sync"]
                config["quota_sync"] = True
                for ns in set(n for (r, n, _) in objs if r == "resourcequotas"):
                    reconcile(ns)
                config["quota_sync"] = was
                return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "no such control call"})

    def control_holds(self, method, rest, data):
        with lock:
            if not rest and method == "GET":
                return self.send_json(200, {"holds": [hold_view(h) for h in holds.values()]})
            if not rest and method == "POST":
                hold_ids[0] += 1
                h = {"id": hold_ids[0], "path": data.get("path", ""),
                     "count": data.get("count", 1), "caught": 0, "held": 0,
                     "released": False, "drop": False}
                if data.get("method"):
                    h["method"] = data["method"]
                holds[h["id"]] = h
                return self.send_json(200, hold_view(h))
            if rest == ["release"] and method == "POST":
                for h in list(holds.values()):
                    release(h, bool(data.get("drop")))
                lock.notify_all()
                return self.send_json(200, {"ok": True})
            try:
                h = holds[int(rest[0])]
            except (ValueError, KeyError):
                return self.send_json(404, {"error": "no such hold"})
            if rest[1:] == ["wait"]:
                want = data.get("calls", 1)
                deadline = time.time() + data.get("timeout_s", 30)
                while h["caught"] < want:
                    left = deadline - time.time()
                    if left <= 0:
                        return self.send_json(408, hold_view(h))
                    lock.wait(left)
                return self.send_json(200, hold_view(h))
            if rest[1:] == ["release"]:
                release(h, bool(data.get("drop")))
                lock.notify_all()
                return self.send_json(200, hold_view(h))
        return self.send_json(404, {"error": "no such control call"})


def release(h, drop):
    h["released"] = True
    h["drop"] = drop
    h["count"] = 0
    holds.pop(h["id"], None)


def counts():
    by_status, by_node, by_resource = {}, {}, {}
    for r in log:
        if r["status"] is not None:
            by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
        m = NODE_PATH.match(r["path"])
        if m:
            by_node[m.group(1)] = by_node.get(m.group(1), 0) + 1
        if r.get("resource"):
            by_resource[r["resource"]] = by_resource.get(r["resource"], 0) + 1
    return {"requests": len(log), "answered": sum(by_status.values()),
            "by_status": by_status, "by_node": by_node, "by_resource": by_resource,
            "held": sum(h["held"] for h in holds.values())}


SERVICE_RIGHTS = set(f"{r}:*" for r in SERVICE_RESOURCES)


def reset():
    nodes.clear()
    tokens.clear()
    tokens[args.default_token] = {"get"} | SERVICE_RIGHTS
    objs.clear()
    pod_states.clear()
    config.update(namespace_finalize="immediate", quota_sync=True)
    for k in faults:
        faults[k] = []
    for h in list(holds.values()):
        release(h, True)
    log.clear()
    for name in args.node or []:
        nodes[name] = template(name)


def make_tls(d):
    """A test CA and a server certificate for 127.0.0.1, ::1 and localhost under d (once)."""
    os.makedirs(d, exist_ok=True)
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")

    def run(*cmd):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=fake-k8s-ca", "-keyout", os.path.join(d, "ca.key"),
        "-out", os.path.join(d, "ca.crt"))
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
        "-keyout", key, "-out", os.path.join(d, "server.csr"))
    run("openssl", "x509", "-req", "-in", os.path.join(d, "server.csr"), "-days", "2",
        "-CA", os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"),
        "-CAcreateserial", "-extfile", ext, "-out", crt)
    return crt, key


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token-file")
    ap.add_argument("--user", default="system:serviceaccount:kaiden-system:kaiden-agent")
    ap.add_argument("--tls-dir")
    ap.add_argument("--node", action="append")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    Handler.verbose = args.verbose
    args.default_token = "fake-k8s-token"
    if args.token_file:
        with open(args.token_file) as f:
            args.default_token = f.readline().strip()
    reset()
    cls = ThreadingHTTPServer
    if ":" in args.host:
        # an IPv6 address ("::" also takes IPv4, as Linux binds it by default)
        class V6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6
        cls = V6Server
    server = cls((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.tls_dir:
        crt, key = make_tls(args.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
