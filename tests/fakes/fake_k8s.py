#!/usr/bin/env python3
"""fake_k8s.py: the Kubernetes API server, as the agent's node reader sees it (issue 12).

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
with openssl: a test CA and a server certificate for IP 127.0.0.1 and DNS localhost.
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
                                       "path": REGEX, "body": TEXT}]}
                                       fail: that status with a Status body (reason from
                                       the code: InternalError, ServiceUnavailable, ...),
                                       or `body` as given; drop: the connection is closed
                                       with no reply; garbage: 200 with `body` (default
                                       a truncated Node). count -1: until cleared.
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
SIGTERM/SIGINT stop it with status 0. State is in memory only.
"""

import argparse
import copy
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
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


def take_rule(kind, path):
    """The first armed rule of faults[kind] matching path, its count used up (lock held)."""
    for rule in faults[kind]:
        if re.search(rule.get("path", ""), path):
            if rule.get("count", 1) > 0:
                rule["count"] = rule.get("count", 1) - 1
            faults[kind] = [r for r in faults[kind] if r.get("count", 1) != 0]
            return rule
    return None


def hold_view(h):
    return {"id": h["id"], "path": h["path"], "count": h["count"], "caught": h["caught"],
            "held": h["held"]}


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
        self.read_body()
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
                if h["count"] != 0 and re.search(h["path"], url.path):
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
        """(status, body, headers) for an API request, the lock held; status None: drop."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token is None or token not in tokens:
            return 401, status_body(401, "Unauthorized"), ()
        m = NODE_PATH.match(path)
        verb = VERBS.get(method, method.lower())
        if m or path == "/api/v1/nodes":
            name = urllib.parse.unquote(m.group(1)) if m else None
            if m is None and verb == "get":
                verb = "list"
            if verb not in tokens[token]:
                what = f'nodes "{name}"' if name else "nodes"
                return 403, status_body(
                    403, f'{what} is forbidden: User "{args.user}" cannot {verb} resource '
                    f'"nodes" in API group "" at the cluster scope', name, "nodes"), ()
        else:
            return 404, status_body(404, "the server could not find the requested resource"), ()
        rule = take_rule("drop", path)
        if rule:
            rec["fault"] = "drop"
            return None, None, ()
        rule = take_rule("fail", path)
        if rule:
            rec["fault"] = "fail"
            code = rule.get("status", 500)
            hdr = ()
            if rule.get("retry_after") is not None:
                hdr = (("Retry-After", str(rule["retry_after"])),)
            if "body" in rule:
                return code, rule["body"].encode(), hdr
            msg = {500: "Internal error occurred: etcdserver: request timed out",
                   503: "the server is currently unable to handle the request",
                   429: "Too many requests, please try again later."}.get(code, "injected")
            return code, status_body(code, msg), hdr
        rule = take_rule("garbage", path)
        if rule:
            rec["fault"] = "garbage"
            if name in nodes:
                text = json.dumps(nodes[name])
                text = text[:len(text) // 2]
            else:
                text = '{"kind":"Node","apiVersion":"v1","metadata":{"name":'
            return 200, rule.get("body", text).encode(), ()
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
        if path == "/tokens" and method == "POST":
            if not isinstance(data.get("token"), str) or not data["token"]:
                return self.send_json(400, {"error": "token must be a non-empty string"})
            with lock:
                if data.get("remove"):
                    tokens.pop(data["token"], None)
                else:
                    tokens[data["token"]] = set(data.get("rights", ["get"]))
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

    def control_holds(self, method, rest, data):
        with lock:
            if not rest and method == "GET":
                return self.send_json(200, {"holds": [hold_view(h) for h in holds.values()]})
            if not rest and method == "POST":
                hold_ids[0] += 1
                h = {"id": hold_ids[0], "path": data.get("path", ""),
                     "count": data.get("count", 1), "caught": 0, "held": 0,
                     "released": False, "drop": False}
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
    by_status, by_node = {}, {}
    for r in log:
        if r["status"] is not None:
            by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
        m = NODE_PATH.match(r["path"])
        if m:
            by_node[m.group(1)] = by_node.get(m.group(1), 0) + 1
    return {"requests": len(log), "answered": sum(by_status.values()),
            "by_status": by_status, "by_node": by_node,
            "held": sum(h["held"] for h in holds.values())}


def reset():
    nodes.clear()
    tokens.clear()
    tokens[args.default_token] = {"get"}
    for k in faults:
        faults[k] = []
    for h in list(holds.values()):
        release(h, True)
    log.clear()
    for name in args.node or []:
        nodes[name] = template(name)


def make_tls(d):
    """A test CA and a server certificate for 127.0.0.1/localhost under d (once)."""
    os.makedirs(d, exist_ok=True)
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
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
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.tls_dir:
        crt, key = make_tls(args.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
