"""60_a11y: an automated accessibility check of every page the portal has.

The pages are read from www/app/pages.js (its `routes`), so a page added there is
checked without a change here; a module under www/app/pages/ that exports render() but
that pages.js does not route is a failure (a page nobody can reach). Each page is
opened (as the administrator, signed out for a public page such as sign-in, and the
CUSTOMER_PAGES again as the customer), and once it has drawn itself (its <h1> shown,
nothing "Loading...") axe-core (tests/node_modules, PORTAL_AXE) runs in it at 1280 and
at 390 px wide: any violation of impact serious or critical fails, the lesser ones are
named in the ok line.

A route with parameters (/devices/:id) is opened with the id of the first item the API
lists at its prefix (GET /api/v1/devices); MAKE below says how to make one when the list
may be empty; PATHS overrides the whole path for a pattern. A page that cannot be
reached (no id, an error, not drawn within 10 s) is a failure, never skipped.

axe is injected with selenium's execute_script, which runs through the DevTools protocol
and is not a page script: the portal's Content-Security-Policy (script-src 'self', no
inline script) does not apply to it, and checked below, the page is served with that
policy and no CSP violation reaches the console (drain()).
"""
import json
import os
import re
import urllib.request
import uuid

from browser import *  # noqa: F401,F403

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "..", "..", "www", "app")
AXE = os.environ.get("PORTAL_AXE", "")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING = ("serious", "critical")

# How to make an item when the API lists none at a route's prefix: prefix -> a function
# (of the api() keyword arguments to use: token, tenant) returning its id (through api(),
# as set-up).
def make_session(**who):
    st, devs = api("GET", "devices?limit=1", **who)
    if st != 200 or not devs.get("items"):
        return None
    st, s = api("POST", "sessions", {"device_id": devs["items"][0]["id"],
                                     "engineer_name": "a11y check"}, **who)
    return s.get("id") if st in (200, 201, 202) and s else None


def make_user(**who):
    """A customer of the tenant (multi mode: the default tenant has no user of its own)."""
    st, u = api("POST", "users", {"email": "a11y-%s@example.com" % os.urandom(3).hex(),
                                  "name": "A11y Check", "role": "customer",
                                  "password": PASSWORD}, **who)
    return u.get("id") if st == 201 and u else None


def make_ticket(**who):
    """A ticket of the tenant, with a comment and an internal note (issue 11)."""
    st, t = api("POST", "tickets", {"title": "a11y check", "description": "What the page shows.",
                                    "priority": "high"}, **who)
    if st != 201 or not t:
        return None
    api("POST", "tickets/%s/comments" % t["id"], {"body": "A reply."}, **who)
    api("POST", "tickets/%s/comments" % t["id"], {"body": "A staff note.", "internal": True}, **who)
    return t["id"]


def make_webhook(**who):
    """A webhook of the tenant (test_portal.sh allows a loopback target)."""
    st, w = api("POST", "webhooks", {"url": "http://127.0.0.1:9/a11y", "events": ["ticket.created"],
                                     "description": "a11y check"}, **who)
    return w.get("id") if st == 201 and w else None


def make_cluster(**who):
    """A cluster of the tenant (issue 12) with a node, made with SQL (agents do not enrol
    in cluster mode yet): NotReady, cordoned, its labels and resources, a stale reason."""
    st, c = api("POST", "clusters", {"name": "a11y-%s" % os.urandom(3).hex()}, **who)
    if st != 201 or not c:
        return None
    done, out = sql(
        "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name, node_status, "
        "unschedulable, node_reason, labels, resources, versions) SELECT '%s', tenant_id, 'a11y-node', '', id, "
        "'a11y-node', 'NotReady', (1 = 1), 'kubelet stopped posting node status', "
        "'{\"zone\":\"a\",\"kubernetes.io/os\":\"linux\"}', "
        "'{\"cpu_capacity_m\":2000,\"cpu_allocatable_m\":1900,\"memory_capacity\":4294967296,"
        "\"memory_allocatable\":3900000000,\"capacity\":{\"cpu\":\"2\",\"memory\":\"4Gi\",\"pods\":\"110\"},"
        "\"allocatable\":{\"cpu\":\"1900m\",\"memory\":\"3900000000\",\"pods\":\"110\"}}', "
        "'{\"kubelet\":\"v1.31.2\"}' FROM clusters WHERE id = '%s'" % (uuid.uuid4(), c["id"]))
    check("set-up: a node of the a11y cluster, with SQL", done, out)
    return c["id"]


def make_service(**who):
    """An n8n service of the tenant (issue 13): it has a web address, so its Domain tab
    has the form. Its pods are made ready at the fake cluster (test_portal.sh's fake
    helm starts n8n's unable to pull), and it is returned once helperd has it running,
    so its revisions tab has one."""
    ref = "a11y-%s" % os.urandom(3).hex()
    st, s = api("POST", "services", {"template": "n8n", "name": "A11y flows", "reference_id": ref, "subdomain": ref,
                                     "values": {"main": {"secret": {"n8n": {"encryption_key": "a11y-" + os.urandom(10).hex()}}}}},
                **who)
    if st not in (201, 202) or not s:
        check("set-up: a service (POST /services)", False, "%s %s" % (st, s))
        return None
    ready = json.dumps({"namespace": s["namespace"], "instance": s["helm_release"], "state": "ready"}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(os.environ["PORTAL_K8S_URL"] + "/_fake/pods", data=ready,
                                                           method="POST"), timeout=10) as r:
            check("set-up: its pods ready at the fake cluster", r.status == 200)
    except OSError as e:
        check("set-up: its pods ready at the fake cluster", False, e)
    end = time.time() + 40
    while time.time() < end:
        st, now = api("GET", "services/" + s["id"], **who)
        if st == 200 and now["status"] == "running":
            break
        time.sleep(0.5)
    check("set-up: the a11y service runs (helperd)", st == 200 and now["status"] == "running",
          "%s %s" % (st, now and now.get("status")))
    return s["id"]


def failed_service():
    """A PostgreSQL service whose install fails (test_portal.sh's fake helm refuses
    PostgreSQL's chart), never deployed: its page offers what can be done, its
    configuration the storage size. Its page's path."""
    ref = "a11y-pg-%s" % os.urandom(3).hex()
    pw = "a11y-" + os.urandom(8).hex()
    st, s = api("POST", "services", {"template": "postgresql", "name": "A11y broken database", "reference_id": ref,
                                     "subdomain": ref, "storage_size": "4Gi",
                                     "values": {"auth": {"postgresPassword": pw, "password": pw}}})
    if not check("set-up: a PostgreSQL service (POST /services)", st == 202 and s, "%s %s" % (st, s)):
        return "/services"
    end = time.time() + 40
    while time.time() < end:
        st, now = api("GET", "services/" + s["id"])
        if st == 200 and now["status"] == "failed":
            break
        time.sleep(0.5)
    check("set-up: its install fails (helperd, the fake helm)", st == 200 and now["status"] == "failed",
          "%s %s" % (st, now and now.get("status")))
    return "/services/" + s["id"]


def failed_overview():
    drv.execute_script("location.hash = arguments[0]", "#" + failed_service())
    return "#service-failed-help"


MAKE = {"/sessions": make_session, "/users": make_user, "/tickets": make_ticket,
        "/webhooks": make_webhook, "/services": make_service}
# Who lists (and makes) the items at a prefix, when not the stack's token (a service
# token of the default tenant, which may not reach /admin/...): prefix -> a function ->
# api() keyword arguments.
AS = {"/admin/tenants": lambda: {"token": admin_token()},
      # Webhooks: the administrator's own, in the tenant the browser acts in.
      "/webhooks": lambda: {"token": admin_token(), "tenant": "default" if MODE != "single" else None}}
# Patterns whose path is not "the prefix's first item": pattern -> a function (of the
# api() keyword arguments, as MAKE's) -> path. A cluster's page is opened on one made
# here, with a node (the enrolment state above makes a cluster without any).
PATHS = {"/clusters/:id": lambda **who: "/clusters/%s" % make_cluster(**who),
         "/services/new/:slug": lambda **who: "/services/new/postgresql"}
# Who opens which pages (a role sees other buttons and states): the administrator every
# page that needs a sign-in; then these, again, as the customer (PORTAL_CUSTOMER), whose
# pages are read-only. A pattern pages.js does not route is left out.
CUSTOMER_PAGES = ("/devices", "/devices/:id", "/sessions", "/sessions/:id", "/tickets",
                  "/tickets/new", "/tickets/:id", "/clusters", "/clusters/:id", "/services",
                  "/services/marketplace", "/services/:id")
# After the page itself, states of it worth checking too: pattern -> [(name, function
# that brings the state about and returns a CSS selector to wait for)].
def registered():
    name = drv.find_element(By.ID, "device-name")
    name.send_keys("a11y-%d" % int(time.time() * 1000))
    name.send_keys(Keys.ENTER)
    return "#device-secret"


def enrolled():
    name = drv.find_element(By.ID, "cluster-name")
    name.send_keys("a11y-%d" % int(time.time() * 1000))
    name.send_keys(Keys.ENTER)
    return "#cluster-secret"


def launch_checked():
    """The launch form sent empty: every required field says so beside itself."""
    drv.find_element(By.ID, "service-launch").click()
    return "#service-new-message .error"


def service_tab(tab, sel):
    def bring():
        drv.find_element(By.ID, "service-tab-" + tab).click()
        return sel
    return (tab, bring)


STATES = {"/devices/new": [("registered", registered)], "/clusters/new": [("enrolled", enrolled)],
          "/services/new/:slug": [("checked", launch_checked)],
          "/services/:id": [service_tab("configuration", "#service-config"),
                            service_tab("revisions", "#service-revisions"),
                            service_tab("domain", "#service-domain-form"),
                            service_tab("delete", "#service-delete-form"),
                            ("failed", failed_overview),
                            ("failed, no web address: domain", service_tab("domain", "#service-domain-none")[1]),
                            ("failed, configuration", service_tab("configuration", "#service-config-storage")[1])]}


def routes():
    """[(pattern, module file, public?)] from pages.js, in its order."""
    with open(os.path.join(APP, "pages.js"), encoding="utf-8") as f:
        src = f.read()
    imports = dict(re.findall(r"import \* as (\w+) from '\./(pages/[\w.-]+\.js)';", src))
    body = src[src.index("export const routes"):]
    body = body[:body.index("};")]
    out = []
    for pattern, mod in re.findall(r"^\s*'(/[^']*)'\s*:\s*(\w+)\s*,", body, re.M):
        path = imports.get(mod)
        public = False
        if path:
            with open(os.path.join(APP, path), encoding="utf-8") as f:
                public = bool(re.search(r"as public\b|export const public\b", f.read()))
        out.append((pattern, path, public))
    return out, set(imports.values())


def concrete(pattern, who=None):
    """The path to open for PATTERN, or (None, why); who: api() keyword arguments to list
    the items with (the customer's tenant's, for the customer's pages)."""
    if pattern in PATHS:
        return PATHS[pattern](**(who or {})), None
    if ":" not in pattern:
        return pattern, None
    path = pattern
    while ":" in path:
        i = path.index("/:")
        prefix = path[:i]
        kw = who if who is not None else (AS[prefix]() if prefix in AS else {})
        st, lst = api("GET", prefix.lstrip("/") + "?limit=1", **kw)
        item = lst["items"][0]["id"] if st == 200 and lst and lst.get("items") else None
        if item is None and prefix in MAKE:
            item = MAKE[prefix](**kw)
        if item is None:
            return None, "GET /api/v1%s answered %s with no item, and MAKE has none for %s" % (
                prefix, st, prefix)
        rest = path[i + 2:]
        j = rest.find("/")
        path = prefix + "/" + item + ("" if j < 0 else rest[j:])
    return path, None


def drawn(d):
    return d.execute_script("""
        const main = document.querySelector('main');
        if (!main || !main.querySelector('h1')) return false;
        for (const el of main.querySelectorAll('*')) {
          if (el.children.length === 0 && el.offsetParent !== null &&
              /^Loading/.test(el.textContent.trim())) return false;
        }
        return true;""")


def audit(name):
    """axe at both widths; one check per width."""
    if not drv.execute_script("return typeof window.axe === 'object'"):
        drv.execute_script(AXE_SRC)
    for width in (1280, 390):
        if width == 390:
            drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 390, "height": 844, "deviceScaleFactor": 1,
                                 "mobile": True})
        try:
            res = drv.execute_async_script("""
                const done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},
                                   resultTypes: ['violations']})
                  .then((r) => done({
                    rules: r.passes.length + r.violations.length + r.incomplete.length +
                           r.inapplicable.length,
                    violations: r.violations.map((v) => ({
                      id: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.map((n) => n.target.join(' ') + ': ' +
                                         (n.failureSummary || '').replace(/\\s+/g, ' '))}))}),
                        (e) => done({error: String(e)}));""", TAGS)
        finally:
            if width == 390:
                drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        step = "a11y: %s at %d px" % (name, width)
        if "error" in res:
            bad(step, "axe-core failed: " + res["error"])
            continue
        if res["rules"] < 50:  # a wrong tag or a broken axe would pass everything
            bad(step, "axe-core ran only %d rules" % res["rules"])
            continue
        worst = [v for v in res["violations"] if v["impact"] in FAILING]
        lesser = sorted({"%s (%s)" % (v["id"], v["impact"]) for v in res["violations"]
                         if v["impact"] not in FAILING})
        if worst:
            bad(step + ": no serious or critical violation", "; ".join(
                "%s [%s] %s: %s" % (v["id"], v["impact"], v["help"], " | ".join(v["nodes"][:3]))
                for v in worst))
        else:
            ok(step + ": no serious or critical violation (%d rules)" % res["rules"] +
               (" (lesser: %s)" % ", ".join(lesser) if lesser else ""))


def visit(name, path, states=()):
    drv.get(URL + "/#" + path) if not drv.current_url.startswith(URL) else \
        drv.execute_script("location.hash = arguments[0]", "#" + path)
    if wait_for("%s (#%s) is drawn" % (name, path), drawn) is None:
        drain(name)
        return
    ok("%s (#%s) is drawn" % (name, path))
    audit(name)
    drain(name)
    for sname, bring in states:
        sel = bring()
        if wait_for("%s, %s: %s shown" % (name, sname, sel),
                    EC.visibility_of_element_located((By.CSS_SELECTOR, sel))) is None:
            drain(name + ", " + sname)
            continue
        audit("%s, %s" % (name, sname))
        drain(name + ", " + sname)


def steps():
    global AXE_SRC
    if not check("axe-core is installed (%s)" % AXE, AXE and os.path.isfile(AXE),
                 "run make node_modules (npm ci of tests/package-lock.json)"):
        return
    with open(AXE, encoding="utf-8") as f:
        AXE_SRC = f.read()
    with urllib.request.urlopen(URL + "/", timeout=10) as r:
        csp = r.headers.get("Content-Security-Policy", "")
    check("the portal is served with its CSP (script-src 'self', no unsafe-inline)",
          "script-src 'self'" in csp and "unsafe-inline" not in csp, "got: " + csp)

    table, modules = routes()
    check("pages.js routes some pages (%d)" % len(table), len(table) >= 5)
    # A module under pages/ that exports render() is a page; the others are what pages
    # share (user-fields.js).
    on_disk = set()
    for f in os.listdir(os.path.join(APP, "pages")):
        if f.endswith(".js"):
            with open(os.path.join(APP, "pages", f), encoding="utf-8") as fh:
                if re.search(r"^export (async )?function render\b", fh.read(), re.M):
                    on_disk.add("pages/" + f)
    for m in sorted(on_disk - modules):
        bad("a11y: www/app/%s is a page pages.js routes" % m, "not imported by pages.js")
    for pattern, mod, _ in table:
        if mod is None:
            bad("a11y: %s's module is imported by pages.js" % pattern, "no import found")

    # Signed out: the public pages (sign-in).
    drv.get(URL + "/")
    for pattern, mod, public in table:
        if public:
            visit(pattern.strip("/") or "home", pattern)

    # Signed in: every other page, as the administrator; some again as the customer.
    passes = [(None, [p for p, m, public in table if not public]),
              ("customer", [p for p, m, public in table if p in CUSTOMER_PAGES])]
    signed_in = False
    for user, todo in passes:
        if not todo:
            continue
        who = user or "the administrator"
        if signed_in:
            click_id("signout")
            wait_for("signed out", EC.presence_of_element_located((By.ID, "email")))
        drv.get(URL + "/#/signin")
        wait_for("the sign-in form", EC.presence_of_element_located((By.ID, "email")))
        sign_in(PASSWORD, email=None if user is None else os.environ.get(
            "PORTAL_" + user.upper(), ""))
        if wait_for("signed in as %s" % who,
                    EC.presence_of_element_located((By.ID, "signout"))) is None:
            drain("sign-in as " + who)
            return
        drain("sign-in as " + who)
        signed_in = True
        # The customer's pages open its own tenant's items: multi mode, CUSTOMER_TENANT's
        # (its device CUSTOMER_DEVICE), read with the administrator's token acting there.
        lister = None
        if user == "customer" and CUSTOMER_TENANT:
            lister = {"token": admin_token(), "tenant": CUSTOMER_TENANT}
        for pattern in todo:
            path, why = concrete(pattern, lister)
            name = pattern.strip("/").replace("/:", " ").replace("/", " ") or "home"
            if user:
                name += " (%s)" % user
            if path is None:
                bad("a11y: %s (%s) can be opened" % (name, pattern), why)
                continue
            visit(name, path, STATES.get(pattern, ()) if user is None else ())

AXE_SRC = ""
run(steps)
