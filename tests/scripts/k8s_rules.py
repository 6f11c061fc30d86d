#!/usr/bin/env python3
"""k8s_rules.py: the project's own rules for deploy/k8s/, beyond what the Kubernetes
schemas check (tests/scripts/test_k8s.sh runs both).

    k8s_rules.py check FILE.yaml...      one line per broken rule; exit 1 if any
    k8s_rules.py selftest FILE.yaml...   breaks the manifests once per rule (a copy in
                                         memory) and checks that exactly that rule
                                         fails; exit 1 if a rule did not

Rules (each has a name; a failure line starts with it):
  probes        every container of the server's Deployments/StatefulSets has a
                readinessProbe and a livenessProbe (init containers cannot have them)
  image-tag     every image names a tag, not `latest` and not none; Kaiden's own images
                carry the version the programs report (KAIDEN_VERSION, AGENT_VERSION)
  pod-security  every pod: runAsNonRoot, seccompProfile RuntimeDefault, no hostPID or
                hostIPC; every container (init ones too): readOnlyRootFilesystem,
                allowPrivilegeEscalation false, capabilities drop ALL and add none,
                not privileged
  resources     every container requests and limits cpu and memory
  node-name     the agent DaemonSet's NODE_NAME comes from spec.nodeName
  agent         the agent DaemonSet: hostNetwork; KAIDEN_CLUSTER_ID and KAIDEN_SECRET
                from the Secret kaiden-credentials (cluster_id, secret); tolerates every
                taint (operator Exists, no key or effect); runs as a ServiceAccount
                that these manifests define
  rbac          every binding names exactly one ServiceAccount of these manifests (the
                agent's or helperd's) and a role they define; the agent's roles allow
                exactly `get` on `nodes` (core group)
  helperd-rbac  helperd runs as its own ServiceAccount with its token mounted; the
                ClusterRole bound to it cluster-wide allows exactly namespaces create/get/
                delete, rolebindings create/get and `bind` on kaiden-helperd-tenant
                (resourceNames); no helperd role has a `*` apiGroup, resource or verb,
                `escalate` or `impersonate`, or `bind` without resourceNames;
                kaiden-helperd-tenant exists, is not bound by any ClusterRoleBinding,
                grants nothing on RBAC objects and only reads pods; the
                ValidatingAdmissionPolicy that keeps helperd in paas-ws-* matches
                helperd's user name, fails closed, and a binding denies with it; the
                ConfigMap's KAIDEN_K8S_SERVICE_ACCOUNT is helperd's account
  namespace     every namespaced object is in kaiden-system
  settings      every KAIDEN_* name a ConfigMap or a container's env sets is a setting
                of common/cfg.c
  websocket     an Ingress routes /api/v1/ws/ with read and send timeouts at least as
                long as nginx/kaiden.conf's longest proxy_read_timeout
  secrets       every Secret key a container reads is a key of that Secret in the
                files given (deploy/k8s/examples/ shows each Secret an admin makes)
  replicas      the web Deployment and helperd's StatefulSet run at least 2 replicas
                with a pod anti-affinity on kubernetes.io/hostname that selects their
                own pods (issue 15); each helperd's KAIDEN_HELPERD_INSTANCE is its pod's
                name (metadata.name)
"""
import copy
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAMESPACE = "kaiden-system"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                  "ValidatingAdmissionPolicyBinding"}
TENANT_ROLE = "kaiden-helperd-tenant"
TENANT_PREFIX = "paas-ws-"
# (apiGroup, resource, verb, resourceName or None): all the cluster-wide role may do.
HELPERD_CLUSTER = {("", "namespaces", v, None) for v in ("create", "get", "delete")} | \
    {("rbac.authorization.k8s.io", "rolebindings", v, None) for v in ("create", "get")} | \
    {("rbac.authorization.k8s.io", "clusterroles", "bind", TENANT_ROLE)}
RBAC_RESOURCES = {"roles", "rolebindings", "clusterroles", "clusterrolebindings"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
ANN = "nginx.ingress.kubernetes.io/"


def source_version(path, macro):
    with open(os.path.join(ROOT, path)) as fh:
        m = re.search(r'^#define %s "([^"]+)"' % macro, fh.read(), re.M)
    return m.group(1) if m else None


def cfg_names():
    with open(os.path.join(ROOT, "common", "cfg.c")) as fh:
        return set(re.findall(r'"(KAIDEN_[A-Z0-9_]+)"', fh.read()))


def longest_ws_timeout():
    with open(os.path.join(ROOT, "nginx", "kaiden.conf")) as fh:
        return max(int(s) for s in re.findall(r"proxy_read_timeout (\d+)s;", fh.read()))


VERSIONS = {"kaiden-server": source_version("fcgi-app/admin.h", "KAIDEN_VERSION"),
            "kaiden-agent": source_version("agent/sysinfo.h", "AGENT_VERSION")}
SETTINGS = cfg_names()
WS_TIMEOUT = longest_ws_timeout()


def load(paths):
    docs = []
    for p in paths:
        with open(p) as fh:
            for d in yaml.safe_load_all(fh):
                if d:
                    docs.append(d)
    return docs


def name(d):
    return "%s/%s" % (d.get("kind"), d.get("metadata", {}).get("name"))


def pod_spec(d):
    return d["spec"]["template"]["spec"]


def containers(d, init=True):
    spec = pod_spec(d)
    out = list(spec.get("containers", []))
    if init:
        out += spec.get("initContainers", [])
    return out


def is_agent(d):
    return d.get("kind") == "DaemonSet"


def env_of(c, var):
    for e in c.get("env", []):
        if e.get("name") == var:
            return e
    return None


def secret_ref(e):
    return (e or {}).get("valueFrom", {}).get("secretKeyRef") or {}


# ---- the rules: each yields the problems it finds --------------------------------------
def r_probes(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in containers(d, init=False):
                for probe in ("readinessProbe", "livenessProbe"):
                    if not c.get(probe):
                        yield "%s container %s has no %s" % (name(d), c["name"], probe)


def r_image_tag(docs):
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        for c in containers(d):
            image = c.get("image", "")
            last = image.rsplit("/", 1)[-1]
            if "@" in last:
                continue  # a digest pins it
            if ":" not in last:
                yield "%s container %s: image %r has no tag" % (name(d), c["name"], image)
                continue
            repo, tag = last.split(":", 1)
            if tag == "latest":
                yield "%s container %s: image %r is :latest" % (name(d), c["name"], image)
            elif repo in VERSIONS and tag != VERSIONS[repo]:
                yield "%s container %s: image %r, but the programs say version %s" % (
                    name(d), c["name"], image, VERSIONS[repo])


def r_pod_security(docs):
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(d)
        psc = spec.get("securityContext", {})
        for flag in ("hostPID", "hostIPC"):
            if spec.get(flag):
                yield "%s sets %s" % (name(d), flag)
        for c in containers(d):
            csc = c.get("securityContext", {})
            if not csc.get("runAsNonRoot", psc.get("runAsNonRoot")):
                yield "%s container %s: not runAsNonRoot" % (name(d), c["name"])
            seccomp = csc.get("seccompProfile", psc.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                yield "%s container %s: seccompProfile is not RuntimeDefault" % (name(d), c["name"])
            if csc.get("readOnlyRootFilesystem") is not True:
                yield "%s container %s: root filesystem not read-only" % (name(d), c["name"])
            if csc.get("allowPrivilegeEscalation") is not False:
                yield "%s container %s: allowPrivilegeEscalation not false" % (name(d), c["name"])
            if csc.get("privileged"):
                yield "%s container %s: privileged" % (name(d), c["name"])
            caps = csc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []):
                yield "%s container %s: capabilities not dropped (drop: [ALL])" % (name(d), c["name"])
            if caps.get("add"):
                yield "%s container %s: adds capabilities %s" % (name(d), c["name"], caps["add"])


def r_resources(docs):
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        for c in containers(d):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        yield "%s container %s: no %s.%s" % (name(d), c["name"], kind, r)


def r_node_name(docs):
    agents = [d for d in docs if is_agent(d)]
    if not agents:
        yield "no agent DaemonSet"
    for d in agents:
        for c in containers(d, init=False):
            e = env_of(c, "NODE_NAME")
            path = (e or {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            if path != "spec.nodeName":
                yield "%s container %s: NODE_NAME is not from spec.nodeName" % (name(d), c["name"])


def r_agent(docs):
    accounts = {(d["metadata"].get("namespace"), d["metadata"]["name"])
                for d in docs if d["kind"] == "ServiceAccount"}
    for d in docs:
        if not is_agent(d):
            continue
        spec = pod_spec(d)
        if spec.get("hostNetwork") is not True:
            yield "%s: no hostNetwork (the node's sshd is its 127.0.0.1:22)" % name(d)
        if not any(t == {"operator": "Exists"} for t in spec.get("tolerations", [])):
            yield "%s: does not tolerate every taint ({operator: Exists})" % name(d)
        sa = spec.get("serviceAccountName")
        if (d["metadata"].get("namespace"), sa) not in accounts:
            yield "%s: ServiceAccount %r is not in these manifests" % (name(d), sa)
        for c in containers(d, init=False):
            for var, key in (("KAIDEN_CLUSTER_ID", "cluster_id"), ("KAIDEN_SECRET", "secret")):
                ref = secret_ref(env_of(c, var))
                if ref.get("name") != "kaiden-credentials" or ref.get("key") != key:
                    yield "%s container %s: %s is not the Secret kaiden-credentials' %s" % (
                        name(d), c["name"], var, key)


def bindings(docs):
    return [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]


def bound_roles(docs, sas):
    """Names of the roles bound to one of the ServiceAccount names sas in kaiden-system."""
    return {b.get("roleRef", {}).get("name") for b in bindings(docs)
            if any(s.get("kind") == "ServiceAccount" and s.get("name") in sas and
                   s.get("namespace") == NAMESPACE for s in b.get("subjects", []))}


def r_rbac(docs):
    roles = [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
    agent_sas = {pod_spec(d).get("serviceAccountName") for d in docs if is_agent(d)}
    helperd_sas = {pod_spec(d).get("serviceAccountName") for d in docs
                   if d["kind"] == "StatefulSet"}
    agent_roles = bound_roles(docs, agent_sas)
    if not agent_roles:
        yield "no ClusterRole for the agent"
    want = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    for d in roles:
        if d["metadata"]["name"] in agent_roles and (d.get("rules") != want or
                                                     d.get("aggregationRule")):
            yield "%s: rules are %s, not exactly get on nodes" % (name(d), d.get("rules"))
    for d in bindings(docs):
        subjects = d.get("subjects", [])
        ok = len(subjects) == 1 and all(
            s.get("kind") == "ServiceAccount" and s.get("name") in agent_sas | helperd_sas and
            s.get("namespace") == NAMESPACE for s in subjects)
        if not ok:
            yield "%s: binds %s, not only the agent's or helperd's ServiceAccount" % (
                name(d), subjects)
        if d.get("roleRef", {}).get("name") not in {r["metadata"]["name"] for r in roles}:
            yield "%s: binds a role these manifests do not define" % name(d)


def grants(role):
    """The role's rules as (apiGroup, resource, verb, resourceName or None) tuples."""
    out = set()
    for rule in role.get("rules") or []:
        for g in rule.get("apiGroups") or [""]:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    for n in rule.get("resourceNames") or [None]:
                        out.add((g, r, v, n))
    return out


def r_helperd_rbac(docs):
    sts = [d for d in docs if d["kind"] == "StatefulSet"]
    if not sts:
        yield "no helperd StatefulSet"
        return
    spec = pod_spec(sts[0])
    sa = spec.get("serviceAccountName")
    if sa not in {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}:
        yield "%s: ServiceAccount %r is not in these manifests" % (name(sts[0]), sa)
    if spec.get("automountServiceAccountToken") is not True:
        yield "%s: its token is not mounted (automountServiceAccountToken: true)" % name(sts[0])
    user = "system:serviceaccount:%s:%s" % (NAMESPACE, sa)
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("ClusterRole", "Role")}
    tenant = roles.get(TENANT_ROLE)
    if not tenant or tenant["kind"] != "ClusterRole":
        yield "no ClusterRole %s" % TENANT_ROLE
    mine = bound_roles(docs, {sa}) - {TENANT_ROLE}
    for rn in sorted(mine | ({TENANT_ROLE} if tenant else set())):
        role = roles.get(rn)
        if not role:
            continue
        if role.get("aggregationRule"):
            yield "%s: an aggregationRule" % name(role)
        for g, r, v, n in sorted(grants(role), key=str):
            if "*" in (g, r, v):
                yield "%s: grants %r on %r in group %r (a wildcard)" % (name(role), v, r, g)
            if v in ("escalate", "impersonate"):
                yield "%s: grants %s on %s" % (name(role), v, r)
            if v == "bind" and n is None:
                yield "%s: bind on %s without resourceNames" % (name(role), r)
    cluster_wide = [b for b in docs if b["kind"] == "ClusterRoleBinding"
                    and b.get("roleRef", {}).get("name") in mine]
    for b in cluster_wide:
        got = grants(roles.get(b["roleRef"]["name"], {}))
        if got != HELPERD_CLUSTER:
            yield "%s: helperd's cluster-wide rights are %s, not exactly %s" % (
                name(b), sorted(got, key=str), sorted(HELPERD_CLUSTER, key=str))
    if not cluster_wide:
        yield "no ClusterRoleBinding gives helperd's account its namespaces"
    for b in docs:
        if b["kind"] == "ClusterRoleBinding" and b.get("roleRef", {}).get("name") == TENANT_ROLE:
            yield "%s: binds %s cluster-wide (helperd binds it per namespace)" % (
                name(b), TENANT_ROLE)
    if tenant:
        for g, r, v, _ in grants(tenant):
            if r in RBAC_RESOURCES:
                yield "%s: grants %s on %s (a chart could hand out rights)" % (name(tenant), v, r)
            if r == "pods" and v not in ("get", "list", "watch"):
                yield "%s: %s on pods (read only: charts make pods through controllers)" % (
                    name(tenant), v)
    # The fence RBAC cannot build: a ValidatingAdmissionPolicy for helperd's writes.
    policies = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy" and any(
        user in (c.get("expression") or "") for c in d["spec"].get("matchConditions") or [])]
    if not policies:
        yield "no ValidatingAdmissionPolicy matches %s" % user
    for p in policies:
        if p["spec"].get("failurePolicy") != "Fail":
            yield "%s: failurePolicy is not Fail" % name(p)
        text = " ".join((v.get("expression") or "") for v in p["spec"].get("validations") or [])
        if TENANT_PREFIX not in text or "request.namespace" not in text:
            yield "%s: no validation keeps writes in %s* namespaces" % (name(p), TENANT_PREFIX)
        if not any(b["kind"] == "ValidatingAdmissionPolicyBinding" and
                   b["spec"].get("policyName") == p["metadata"]["name"] and
                   "Deny" in (b["spec"].get("validationActions") or []) for b in docs):
            yield "%s: no ValidatingAdmissionPolicyBinding denies with it" % name(p)
    for d in docs:
        if d["kind"] == "ConfigMap" and "KAIDEN_K8S_SERVICE_ACCOUNT" in d.get("data", {}):
            if d["data"]["KAIDEN_K8S_SERVICE_ACCOUNT"] != "%s/%s" % (NAMESPACE, sa):
                yield "%s: KAIDEN_K8S_SERVICE_ACCOUNT is %r, not helperd's %s/%s" % (
                    name(d), d["data"]["KAIDEN_K8S_SERVICE_ACCOUNT"], NAMESPACE, sa)


def r_namespace(docs):
    for d in docs:
        if d["kind"] not in CLUSTER_SCOPED and d["metadata"].get("namespace") != NAMESPACE:
            yield "%s: namespace %r, not %s" % (name(d), d["metadata"].get("namespace"), NAMESPACE)
        if d["kind"] == "Namespace" and d["metadata"]["name"] != NAMESPACE:
            yield "%s: a namespace other than %s" % (name(d), NAMESPACE)


def r_settings(docs):
    for d in docs:
        names = []
        if d["kind"] == "ConfigMap":
            names = list(d.get("data", {}))
        elif d["kind"] in WORKLOADS:
            names = [e["name"] for c in containers(d) for e in c.get("env", [])]
        for n in names:
            if n.startswith("KAIDEN_") and n not in SETTINGS:
                yield "%s: %s is not a setting in common/cfg.c" % (name(d), n)


def r_websocket(docs):
    found = False
    for d in docs:
        if d["kind"] != "Ingress":
            continue
        paths = [p.get("path") for r in d["spec"].get("rules", [])
                 for p in r.get("http", {}).get("paths", [])]
        if "/api/v1/ws/" not in paths:
            continue
        found = True
        ann = d["metadata"].get("annotations", {})
        for a in ("proxy-read-timeout", "proxy-send-timeout"):
            v = ann.get(ANN + a, "")
            if not v.isdigit() or int(v) < WS_TIMEOUT:
                yield "%s: %s%s is %r, under %d s (nginx/kaiden.conf)" % (name(d), ANN, a, v, WS_TIMEOUT)
    if not found:
        yield "no Ingress routes /api/v1/ws/"


def r_secrets(docs):
    keys = {}
    for d in docs:
        if d["kind"] == "Secret":
            keys[d["metadata"]["name"]] = set(d.get("stringData", {})) | set(d.get("data", {}))
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        for c in containers(d):
            for e in c.get("env", []):
                ref = secret_ref(e)
                if ref and ref.get("key") not in keys.get(ref.get("name"), ()):
                    yield "%s container %s: %s reads key %r of Secret %r, which has no such key here" % (
                        name(d), c["name"], e["name"], ref.get("key"), ref.get("name"))


def anti_affinity_selects_itself(d):
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    aa = pod_spec(d).get("affinity", {}).get("podAntiAffinity", {})
    terms = [t.get("podAffinityTerm", {}) for t in
             aa.get("preferredDuringSchedulingIgnoredDuringExecution", [])] + \
        aa.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    for t in terms:
        want = t.get("labelSelector", {}).get("matchLabels", {})
        if t.get("topologyKey") == "kubernetes.io/hostname" and want and \
                all(labels.get(k) == v for k, v in want.items()):
            return True
    return False


def r_replicas(docs):
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        if d["spec"].get("replicas", 1) < 2:
            yield "%s: %s replica(s), not at least 2" % (name(d), d["spec"].get("replicas", 1))
        if not anti_affinity_selects_itself(d):
            yield "%s: no pod anti-affinity on kubernetes.io/hostname selecting its own pods" % name(d)
        if d["kind"] == "StatefulSet":
            for c in containers(d, init=False):
                e = env_of(c, "KAIDEN_HELPERD_INSTANCE")
                ref = (e or {}).get("valueFrom", {}).get("fieldRef", {})
                if ref.get("fieldPath") != "metadata.name":
                    yield "%s container %s: KAIDEN_HELPERD_INSTANCE is not the pod's name" % (
                        name(d), c["name"])


RULES = {"probes": r_probes, "image-tag": r_image_tag, "pod-security": r_pod_security,
         "resources": r_resources, "node-name": r_node_name, "agent": r_agent, "rbac": r_rbac,
         "helperd-rbac": r_helperd_rbac, "namespace": r_namespace, "settings": r_settings, "websocket": r_websocket,
         "secrets": r_secrets, "replicas": r_replicas}


def problems(docs):
    return [(rule, p) for rule, fn in RULES.items() for p in fn(docs)]


# ---- selftest: one breakage per rule (at least), each must be caught by that rule ---------
def first(docs, kind, pred=lambda d: True):
    return next(d for d in docs if d["kind"] == kind and pred(d))


def web(docs):
    return first(docs, "Deployment")


def agent_container(docs):
    return containers(first(docs, "DaemonSet"), init=False)[0]


def role(docs, role_name):
    return first(docs, "ClusterRole", lambda d: d["metadata"]["name"] == role_name)


def set_env(c, var, value):
    env_of(c, var)["valueFrom"] = value


MUTATIONS = [
    ("probes", "drop a container's readinessProbe",
     lambda ds: containers(web(ds), init=False)[0].pop("readinessProbe")),
    ("probes", "drop helperd's livenessProbe",
     lambda ds: containers(first(ds, "StatefulSet"), init=False)[0].pop("livenessProbe")),
    ("image-tag", "an image with :latest",
     lambda ds: containers(web(ds))[0].update(image="kaiden-server:latest")),
    ("image-tag", "an image without a tag",
     lambda ds: agent_container(ds).update(image="registry.example.com/kaiden-agent")),
    ("image-tag", "a tag that is not the programs' version",
     lambda ds: containers(web(ds))[-1].update(image="kaiden-server:0.0.9")),
    ("pod-security", "runAsNonRoot off",
     lambda ds: pod_spec(web(ds))["securityContext"].update(runAsNonRoot=False)),
    ("pod-security", "seccomp Unconfined",
     lambda ds: pod_spec(first(ds, "DaemonSet"))["securityContext"].update(
         seccompProfile={"type": "Unconfined"})),
    ("pod-security", "a writable root filesystem",
     lambda ds: containers(web(ds))[-1]["securityContext"].update(readOnlyRootFilesystem=False)),
    ("pod-security", "a capability kept",
     lambda ds: agent_container(ds)["securityContext"]["capabilities"].update(drop=["NET_RAW"])),
    ("pod-security", "a capability added",
     lambda ds: agent_container(ds)["securityContext"]["capabilities"].update(add=["NET_ADMIN"])),
    ("pod-security", "privileged",
     lambda ds: agent_container(ds)["securityContext"].update(privileged=True)),
    ("pod-security", "privilege escalation allowed",
     lambda ds: containers(web(ds))[0]["securityContext"].pop("allowPrivilegeEscalation")),
    ("pod-security", "hostPID",
     lambda ds: pod_spec(first(ds, "DaemonSet")).update(hostPID=True)),
    ("resources", "no memory limit",
     lambda ds: containers(first(ds, "StatefulSet"))[0]["resources"]["limits"].pop("memory")),
    ("node-name", "NODE_NAME from metadata.name",
     lambda ds: set_env(agent_container(ds), "NODE_NAME",
                        {"fieldRef": {"fieldPath": "metadata.name"}})),
    ("agent", "no hostNetwork",
     lambda ds: pod_spec(first(ds, "DaemonSet")).pop("hostNetwork")),
    ("agent", "a toleration for one key only",
     lambda ds: pod_spec(first(ds, "DaemonSet")).update(
         tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}])),
    ("agent", "the secret from the server's Secret",
     lambda ds: set_env(agent_container(ds), "KAIDEN_SECRET",
                        {"secretKeyRef": {"name": "kaiden-server", "key": "jwt-secret"}})),
    ("agent", "its ServiceAccount left out",
     lambda ds: ds.__setitem__(slice(None), [d for d in ds if d["kind"] != "ServiceAccount"
                                             or d["metadata"]["name"] != "kaiden-agent"])),
    ("rbac", "list as well as get",
     lambda ds: first(ds, "ClusterRole")["rules"][0].update(verbs=["get", "list"])),
    ("rbac", "pods as well as nodes",
     lambda ds: first(ds, "ClusterRole")["rules"][0].update(resources=["nodes", "pods"])),
    ("rbac", "a wildcard rule added",
     lambda ds: first(ds, "ClusterRole")["rules"].append(
         {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})),
    ("rbac", "bound to a group",
     lambda ds: first(ds, "ClusterRoleBinding")["subjects"].append(
         {"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"})),
    ("helperd-rbac", "a wildcard verb in the tenant role",
     lambda ds: role(ds, TENANT_ROLE)["rules"][0].update(verbs=["*"])),
    ("helperd-rbac", "a wildcard resource in the tenant role",
     lambda ds: role(ds, TENANT_ROLE)["rules"].append(
         {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]})),
    ("helperd-rbac", "rolebindings in the tenant role",
     lambda ds: role(ds, TENANT_ROLE)["rules"].append(
         {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"],
          "verbs": ["create"]})),
    ("helperd-rbac", "pods created directly",
     lambda ds: next(r for r in role(ds, TENANT_ROLE)["rules"] if r["resources"] == ["pods"])[
         "verbs"].append("create")),
    ("helperd-rbac", "bind without resourceNames",
     lambda ds: next(r for r in role(ds, "kaiden-helperd")["rules"] if "bind" in r["verbs"]).pop(
         "resourceNames")),
    ("helperd-rbac", "list on namespaces",
     lambda ds: role(ds, "kaiden-helperd")["rules"][0]["verbs"].append("list")),
    ("helperd-rbac", "escalate on clusterroles",
     lambda ds: next(r for r in role(ds, "kaiden-helperd")["rules"] if "bind" in r["verbs"])[
         "verbs"].append("escalate")),
    ("helperd-rbac", "the tenant role bound cluster-wide",
     lambda ds: first(ds, "ClusterRoleBinding", lambda d: d["metadata"]["name"] == "kaiden-helperd")[
         "roleRef"].update(name=TENANT_ROLE)),
    ("helperd-rbac", "its token not mounted",
     lambda ds: pod_spec(first(ds, "StatefulSet")).update(automountServiceAccountToken=False)),
    ("helperd-rbac", "the policy matches another user",
     lambda ds: first(ds, "ValidatingAdmissionPolicy")["spec"]["matchConditions"][0].update(
         expression='request.userInfo.username == "system:serviceaccount:default:x"')),
    ("helperd-rbac", "the policy fails open",
     lambda ds: first(ds, "ValidatingAdmissionPolicy")["spec"].update(failurePolicy="Ignore")),
    ("helperd-rbac", "the policy's binding left out",
     lambda ds: ds.__setitem__(slice(None), [
         d for d in ds if d["kind"] != "ValidatingAdmissionPolicyBinding"])),
    ("helperd-rbac", "k8s.service_account names another account",
     lambda ds: first(ds, "ConfigMap", lambda d: d["metadata"]["name"] == "kaiden-config")[
         "data"].update(KAIDEN_K8S_SERVICE_ACCOUNT="kaiden-system/default")),
    ("namespace", "an object in default",
     lambda ds: first(ds, "Service")["metadata"].update(namespace="default")),
    ("settings", "a misspelt setting",
     lambda ds: first(ds, "ConfigMap")["data"].update(KAIDEN_SERVR_MODE="multi")),
    ("websocket", "a short read timeout on /api/v1/ws/",
     lambda ds: first(ds, "Ingress", lambda d: "ws" in d["metadata"]["name"])["metadata"][
         "annotations"].update({ANN + "proxy-read-timeout": "60"})),
    ("secrets", "a key the example Secret does not have",
     lambda ds: first(ds, "Secret", lambda d: d["metadata"]["name"] == "kaiden-server")[
         "stringData"].pop("jwt-secret")),
    ("replicas", "one helperd",
     lambda ds: first(ds, "StatefulSet")["spec"].update(replicas=1)),
    ("replicas", "the web pods' anti-affinity left out",
     lambda ds: pod_spec(web(ds)).pop("affinity")),
    ("replicas", "helperd's anti-affinity selecting the web pods",
     lambda ds: pod_spec(first(ds, "StatefulSet"))["affinity"]["podAntiAffinity"][
         "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
         "labelSelector"]["matchLabels"].update({"app.kubernetes.io/component": "web"})),
    ("replicas", "both helperds under one instance name",
     lambda ds: containers(first(ds, "StatefulSet"), init=False)[0]["env"].__setitem__(
         0, {"name": "KAIDEN_HELPERD_INSTANCE", "value": "kaiden-helperd"})),
    ("secrets", "the agent's Secret left out",
     lambda ds: ds.__setitem__(slice(None), [
         d for d in ds if d["metadata"]["name"] != "kaiden-credentials"])),
]


def selftest(docs):
    bad = 0
    if problems(docs):
        print("selftest: the manifests must pass before they are broken")
        return 1
    for rule, what, mutate in MUTATIONS:
        ds = copy.deepcopy(docs)
        try:
            mutate(ds)
        except (StopIteration, KeyError, IndexError, AttributeError, TypeError) as e:
            print("FAIL %s: could not break it (%s): %r" % (rule, what, e))
            bad += 1
            continue
        caught = {r for r, _ in problems(ds)}
        if caught != {rule}:
            print("FAIL %s: %s was caught by %s" % (rule, what, sorted(caught) or "nothing"))
            bad += 1
        else:
            print("ok   %s catches: %s" % (rule, what))
    untested = set(RULES) - {m[0] for m in MUTATIONS}
    for rule in sorted(untested):
        print("FAIL %s: no breakage tests it" % rule)
        bad += 1
    return 1 if bad else 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "selftest"):
        sys.stderr.write("usage: k8s_rules.py check|selftest FILE.yaml...\n")
        return 2
    if None in VERSIONS.values():
        sys.stderr.write("k8s_rules.py: no KAIDEN_VERSION or AGENT_VERSION in the sources\n")
        return 2
    docs = load(argv[2:])
    if argv[1] == "selftest":
        return selftest(docs)
    found = problems(docs)
    for rule, p in found:
        print("%s: %s" % (rule, p))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
