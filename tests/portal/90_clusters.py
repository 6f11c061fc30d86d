#!/usr/bin/python3
"""90_clusters.py: Kubernetes clusters through the portal (issue 12). A customer is
offered Clusters to read but no "New cluster", and #/clusters/new tells them so. The
administrator (acting in the default tenant) opens Clusters from the menu, is told in the
page that a cluster needs a name, enrols one and sees its secret once, inside the
install snippet (the Secret manifest, with Copy) beside the agent's and the apply
commands; the API never shows the secret again, and after Done (or a reload) the page
no longer holds it. A second cluster of that name is refused next to the field.

Nodes: node-1 is a real kaiden-agent in cluster mode (agent.py's ClusterAgent), given
the secret the enrolment card showed (in a 0600 file) and reading its node every second
from tests/fakes/fake_k8s.py on a port of its own (agent.py's FakeK8s: node-1 with its
labels, CPU and memory capacity and allocatable, Ready, its kubelet); helperd makes its
device as it joins. node-2 is a row made with SQL (browser.py sql(), as
tests/integration/case-110-clusters.sh does), the agent-less case: NotReady, cordoned,
its facts stale, never seen. The cluster's page shows both with their facts (node-1's
as the fake serves them: Ready, CPU and memory "allocatable of capacity", kubelet,
labels folded; node-2's stale reason); node-2's Start session is disabled (forced on,
the server's node_offline is said beside it). Then changes at the fake (a label, Ready
to False and back) show on the open page without a reload, through the node events of
the live stream. Then rename, a new secret (asked first, shown once, different; node-1's
agent restarted with it is the same device), the device page's node facts and cluster
link (and no Rotate secret: the page points to the cluster's), node-1's Start session
(its page goes active), and Delete (asked first): the cluster leaves the list, the
session ends and node-1's agent is dropped (4003). The agent and the fake are stopped
at the end, whatever happened."""
import re
import secrets
import uuid

from agent import ClusterAgent, FakeK8s, wait_until
from browser import *  # noqa: F401,F403

UNIQ = secrets.token_hex(3)
NAME = "k8s-" + UNIQ
TENANT = None if MODE == "single" else "default"


def nav_labels():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "header nav a")]


def list_read(state_id):
    wait_for("the list is read", lambda d: not d.find_element(By.ID, state_id).is_displayed()
             or "Loading" not in d.find_element(By.ID, state_id).text)


def card_shown(what):
    """The secret card's text, once shown with its warning, Copy and the focus."""
    if not wait_for(what + " is shown", EC.visibility_of_element_located((By.ID, "cluster-secret"))):
        return None
    card = drv.find_element(By.ID, "cluster-secret")
    check(what + ": a warning that it is shown once", "only time" in card.find_element(By.CSS_SELECTOR, ".warning").text)
    check(what + ": Copy buttons", card.find_elements(By.CSS_SELECTOR, "button.copy"))
    check(what + ": the card has the focus", drv.switch_to.active_element == card)
    return text_of("#cluster-install")


def cells(node):
    """{column: text} of the node's row in #cluster-nodes, read in one go (the page draws
    the rows again on each event: no element is held across a redraw)."""
    return drv.execute_script("""
        const out = {};
        for (const td of document.querySelectorAll('#cluster-nodes tr[data-node="' + arguments[0] + '"] td'))
          out[td.dataset.label] = td.innerText.trim();
        return out;""", node)


def labels_of(dev_id):
    """The labels of a node's row, folded or not: 'k=v' (or 'k' for an empty value) each."""
    return drv.execute_script("""
        return [...document.querySelectorAll('#node-labels-' + arguments[0] + ' li')].map((li) => li.textContent);""",
                              dev_id)


def node_device(cid, node_name):
    """The node's device as GET /clusters/{id}/nodes has it, once its agent is online
    and its first reading stored; else None."""
    st, lst = api("GET", "clusters/%s/nodes" % cid)
    for d in (lst or {}).get("items", []) if st == 200 else []:
        if d.get("node_name") == node_name and d.get("status") == "online" and d.get("node_updated_at"):
            return d
    return None


def steps():
    running = []  # the fake and the agents: stopped at the end, whatever happened
    try:
        flow(running)
    finally:
        for p in reversed(running):
            p.stop()


def flow(running):
    # 1. A customer reads clusters, enrols none.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD, CUSTOMER)
    wait_for("the customer signs in", EC.presence_of_element_located((By.ID, "signout")))
    check("a customer's menu has Clusters", "Clusters" in nav_labels(), nav_labels())
    drv.find_element(By.LINK_TEXT, "Clusters").click()
    if wait_for("the customer's clusters page", EC.presence_of_element_located((By.ID, "clusters-state"))):
        list_read("clusters-state")
        check("no New cluster for a customer", not drv.find_elements(By.ID, "cluster-new"))
    drv.get(URL + "/#/clusters/new")
    if wait_for("#/clusters/new tells a customer it is not theirs", EC.visibility_of_element_located((By.ID, "cluster-refused"))):
        ok("#/clusters/new tells a customer it is not theirs")
    check("and offers no form", not drv.find_elements(By.ID, "cluster-name"))
    drain("a customer at #/clusters")
    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))

    # 2. The administrator enrols a cluster: its secret once, in the snippet.
    sign_in(PASSWORD)
    wait_for("the administrator signs in", EC.presence_of_element_located((By.ID, "signout")))
    check("an administrator's menu has Clusters", "Clusters" in nav_labels(), nav_labels())
    drv.find_element(By.LINK_TEXT, "Clusters").click()
    if not wait_for("the clusters page", EC.element_to_be_clickable((By.ID, "cluster-new"))):
        return None
    list_read("clusters-state")
    drain("the clusters page")
    drv.find_element(By.ID, "cluster-new").click()
    if not wait_for("the enrolment page", EC.visibility_of_element_located((By.ID, "cluster-name"))):
        return None
    n = len(requested)
    drv.find_element(By.ID, "cluster-name").send_keys("   ")  # past the browser's own check
    drv.find_element(By.ID, "cluster-create").click()
    wait_for("no name is said in the page", EC.visibility_of_element_located((By.ID, "cluster-name-error")))
    check("without asking the server", not [u for u in requested[n:] if u.endswith("/api/v1/clusters")], requested[n:])
    drv.find_element(By.ID, "cluster-name").clear()
    drv.find_element(By.ID, "cluster-name").send_keys(NAME)
    drv.find_element(By.ID, "cluster-create").click()
    install = card_shown("the cluster's secret")
    if not install:
        return None
    m = re.search(r'\n  cluster_id: "([0-9a-f-]{36})"\n  secret: "([A-Za-z0-9_-]{43})"\n  server: "(http[^"]+)"', install)
    if not check("the snippet is the Secret manifest with the id, the secret and the server",
                 m and "kind: Secret" in install and "name: kaiden-credentials" in install, install):
        return None
    cid, secret = m.group(1), m.group(2)
    check("the apply command is shown (%s)" % text_of("#cluster-install-command"),
          text_of("#cluster-install-command") == "kubectl apply -f kaiden-credentials.yaml")
    check("and the agent's (%s)" % text_of("#cluster-agent-command"),
          "kaiden-agent.yaml" in text_of("#cluster-agent-command"))
    check("the agent's server URL is this portal's (%s)" % text_of("#cluster-agent-server"),
          text_of("#cluster-agent-server") == "ws" + URL[4:] + "/api/v1/ws/agent" or
          text_of("#cluster-agent-server") == "wss://" + URL.split("://", 1)[1] + "/api/v1/ws/agent")
    check("the words say to apply the agent, then the Secret", "deploy/k8s/agent/kaiden-agent.yaml" in
          text_of("#cluster-secret") and "Save this as kaiden-credentials.yaml" in text_of("#cluster-secret"))
    drain("a cluster enrolled")
    shoot("cluster-enrolled")
    st, c = api("GET", "clusters/" + cid)
    check("the API has it, without the secret or the snippet (%s)" % st,
          st == 200 and c["name"] == NAME and "secret" not in c and "install" not in c, c)
    st, lst = api("GET", "clusters?q=" + NAME)
    check("nor does its list", st == 200 and [x["id"] for x in lst["items"]] == [cid]
          and secret not in json.dumps(lst), lst)
    check("the secret was never kept in storage", secret not in json.dumps(drv.execute_script(
        "return [Object.entries(localStorage), Object.entries(sessionStorage)]")))
    # A reload of the enrolment page forgets it.
    drv.refresh()
    wait_for("the enrolment page again", EC.visibility_of_element_located((By.ID, "cluster-name")))
    check("a reload no longer shows the secret", secret not in drv.page_source
          and not drv.find_elements(By.ID, "cluster-secret"))
    drv.find_element(By.ID, "cluster-name").send_keys(NAME)
    drv.find_element(By.ID, "cluster-create").click()
    if wait_for("a taken name is refused next to the field", EC.visibility_of_element_located((By.ID, "cluster-name-error"))):
        check("it says so (%s)" % text_of("#cluster-name-error"), "name" in text_of("#cluster-name-error"))
    drain("a taken name", {("/api/v1/clusters", 409)})

    # 3. Its nodes: node-1 a real agent in cluster mode with the secret the card showed,
    # reading its node from the fake Kubernetes API; node-2 a row made with SQL.
    k8s = FakeK8s(OUT).start()
    running.append(k8s)
    # The fake's kubeadm worker with four labels (one without a value), 4 CPU / 8 GiB of
    # which 3.5 CPU / 7.5 GiB allocatable, and kubelet v1.31.2.
    st, node = k8s.node("node-1", {
        "replace_labels": {"kubernetes.io/hostname": "node-1", "kubernetes.io/arch": "amd64",
                           "node-role.kubernetes.io/worker": "", "topology.kubernetes.io/zone": "a"},
        "capacity": {"cpu": "4", "memory": "8Gi"}, "allocatable": {"cpu": "3500m", "memory": "7680Mi"},
        "nodeInfo": {"kubeletVersion": "v1.31.2"}})
    if not check("set-up: the fake Kubernetes API serves node-1 (%s)" % st, st == 200, node):
        return
    fake_labels = node["metadata"]["labels"]
    agent = ClusterAgent(cid, "node-1", secret, OUT, k8s).start()
    running.append(agent)
    d1 = wait_until(lambda: node_device(cid, "node-1"), 20)
    if not check("set-up: node-1's agent joins the cluster, online with its first reading", d1,
                 agent.log_tail()):
        return
    n1 = d1["id"]
    n2 = str(uuid.uuid4())
    okq, out = sql(
        "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name, node_status, "
        "unschedulable, node_reason, labels) SELECT '%s', tenant_id, 'node-2-%s', '', id, 'node-2', "
        "'NotReady', (1 = 1), 'nodes \"node-2\" is forbidden', '{}' FROM clusters WHERE id = '%s'" % (n2, UNIQ, cid))
    check("set-up: node-2 inserted with SQL", okq, out)

    # 4. The cluster's page: its nodes and their facts.
    drv.get(URL + "/#/clusters")
    row_link = "#clusters tr[data-id='%s'] a" % cid
    if not wait_for("the cluster is listed", EC.element_to_be_clickable((By.CSS_SELECTOR, row_link))):
        return
    row = drv.find_element(By.CSS_SELECTOR, "#clusters tr[data-id='%s']" % cid).text
    check("its row says online, 2 nodes (%s)" % row, "online" in row and "2 nodes" in row, row)
    shoot("clusters")
    drv.find_element(By.CSS_SELECTOR, row_link).click()
    if not wait_for("the cluster's page lists its nodes", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#cluster-nodes tr[data-node='node-2']"))):
        return
    # The rows are drawn again when the event stream opens (what moved meanwhile is read):
    # read once that has happened, each row in one go (cells()).
    long_wait("the page follows the live event stream", lambda d: d.execute_script(
        "return document.documentElement.dataset.events") == "live", 10)
    one, two = cells("node-1"), cells("node-2")
    # What the fake serves, as clusters.js usage() writes it: 3500m of 4 -> "3.5 CPU of
    # 4 CPU"; 7680Mi of 8Gi -> "7.5 GiB of 8 GiB".
    check("node-1: online, Ready (%s)" % one, one.get("Agent", "").startswith("online")
          and one.get("Status") == "Ready", one)
    check("node-1: CPU and memory allocatable of capacity, from the fake (%s, %s)" % (
        one.get("CPU"), one.get("Memory")), one.get("CPU") == "3.5 CPU of 4 CPU"
        and one.get("Memory") == "7.5 GiB of 8 GiB", one)
    check("node-1: its kubelet, from the fake", one.get("Kubelet") == "v1.31.2", one)
    check("node-1: its labels folded (%s)" % one.get("Labels"),
          one.get("Labels") == "%d labels" % len(fake_labels), one)
    want = [k if v == "" else "%s=%s" % (k, v) for k, v in sorted(fake_labels.items())]
    check("... each the fake's, by key (%s)" % labels_of(n1), labels_of(n1) == want, want)
    # Unfolded by a click (tried again if the row was drawn anew under it).
    long_wait("node-1's labels unfold", lambda d: d.find_element(
        By.CSS_SELECTOR, "#node-labels-%s summary" % n1).click() or d.find_element(
        By.ID, "node-labels-" + n1).get_attribute("open") is not None, 10)
    check("... and show (%s)" % text_of("#node-labels-" + n1),
          "topology.kubernetes.io/zone=a" in text_of("#node-labels-" + n1))
    check("node-2: offline, Not ready, cordoned, why its facts are stale (%s)" % two,
          two.get("Agent", "").startswith("offline") and "Not ready" in two.get("Status", "")
          and "cordoned" in two.get("Status", "") and "forbidden" in two.get("Status", "")
          and two.get("CPU") == "—" and two.get("Labels") == "—", two)
    enabled = lambda dev_id: drv.execute_script(  # noqa: E731
        "const b = document.getElementById(arguments[0]); return b && !b.disabled", "node-start-" + dev_id)
    check("node-1's Start session is enabled", enabled(n1))
    check("node-2's is not (its agent is offline)", not enabled(n2))
    check("the cluster's facts: online, 2 nodes", text_of("#cluster-status") == "online"
          and text_of("#cluster-node-count") == "2 nodes")
    drain("the cluster's page")
    shoot("cluster", at="#cluster-nodes-title")
    # The server's refusal, said beside the button (as when the node went offline since
    # the page was drawn).
    drv.execute_script("const b = document.getElementById(arguments[0]); b.disabled = false; b.click()",
                       "node-start-" + n2)
    if wait_for("node_offline is said beside the button", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#node-start-%s-message .error" % n2))):
        check("it says the agent is offline (%s)" % text_of("#node-start-%s-message" % n2),
              "offline" in text_of("#node-start-%s-message" % n2))
        check("in words, without the field's name (%s)" % text_of("#node-start-%s-message" % n2),
              "node_name" not in text_of("#node-start-%s-message" % n2).lower())
    drain("a session on an offline node", {("/api/v1/sessions", 409)})

    # 4b. Live: a change at the fake reaches the open page without a reload. The agent
    # reads node-1 every second, helperd stores a changed reading and sends the tenant's
    # browsers a node event, and the page reads its nodes again on it. The stream is open
    # (no fallback polling stands in for the event) and the page is never reloaded (a
    # mark set in it now would be gone).
    drv.execute_script("window.kaidenSamePage = true")
    st, _ = k8s.node("node-1", {"labels": {"topology.kubernetes.io/zone": "b", "team": "payments"}})
    check("set-up: node-1's labels change at the fake (%s)" % st, st == 200)
    if long_wait("a label changed at the fake shows on the page", lambda d: {
            "topology.kubernetes.io/zone=b", "team=payments"} <= set(labels_of(n1))
            and cells("node-1").get("Labels") == "%d labels" % (len(fake_labels) + 1), 15):
        ok("a label changed at the fake shows on the page (%s)" % ", ".join(labels_of(n1)))
    st, _ = k8s.node("node-1", {"ready": "False"})
    check("set-up: node-1's Ready condition goes False at the fake (%s)" % st, st == 200)
    if long_wait("Ready False at the fake shows as Not ready", lambda d: cells("node-1").get("Status") == "Not ready", 15):
        ok("Ready False at the fake shows as Not ready")
    check("node-1's agent stays online meanwhile", cells("node-1").get("Agent", "").startswith("online"),
          cells("node-1"))
    check("the page was not reloaded and still follows the stream", drv.execute_script(
        "return window.kaidenSamePage === true && document.documentElement.dataset.events === 'live'"))
    drain("changes at the fake")
    shoot("cluster-node-not-ready", at="#cluster-nodes-title")
    k8s.node("node-1", {"ready": "True"})
    if long_wait("Ready again at the fake shows as Ready", lambda d: cells("node-1").get("Status") == "Ready", 15):
        ok("Ready again at the fake shows as Ready")

    # 5. Rename.
    name = drv.find_element(By.ID, "cluster-edit-name")
    name.clear()
    name.send_keys(NAME + "-renamed")
    drv.find_element(By.ID, "cluster-save").click()
    if wait_for("Rename renames it", EC.text_to_be_present_in_element((By.ID, "cluster-edit-message"), "Renamed")):
        check("the heading says the new name", text_of("#cluster-title") == NAME + "-renamed")
        st, c = api("GET", "clusters/" + cid)
        check("the API has the new name", st == 200 and c["name"] == NAME + "-renamed", c)
    drain("rename")

    # 6. A new secret: asked first, shown once, different.
    drv.find_element(By.ID, "cluster-rotate").click()
    wait_for("a new secret is asked first", EC.element_to_be_clickable((By.ID, "cluster-rotate-yes")))
    check("nothing rotated before the answer", not drv.find_elements(By.ID, "cluster-secret"))
    drv.find_element(By.ID, "cluster-rotate-yes").click()
    cmds = card_shown("the new secret")
    m2 = re.search(r'"secret":"([A-Za-z0-9_-]{43})"', cmds or "")
    check("the commands put a new secret into the cluster's Secret", m2 and "patch secret kaiden-credentials" in cmds
          and m2.group(1) != secret, cmds)
    drain("a new secret")
    shoot("cluster-rotated")
    drv.find_element(By.ID, "cluster-secret-done").click()
    check("Done removes it from the page", m2 and m2.group(1) not in drv.page_source and secret not in drv.page_source)
    st, c = api("GET", "clusters/" + cid)
    check("the API does not show it", st == 200 and "secret" not in c, c)
    # As the card says: the new secret into the cluster's Secret, the agents restarted.
    # node-1's agent with the new secret (from the card) joins as the same device.
    new_secret = m2.group(1) if m2 else secret
    agent.stop()
    check("node-1's agent stopped: offline", wait_until(
        lambda: (api("GET", "devices/" + n1)[1] or {}).get("status") == "offline", 10))
    agent = ClusterAgent(cid, "node-1", new_secret, OUT, k8s, name="node-1-rotated-" + cid[:8]).start()
    running.append(agent)
    d1 = wait_until(lambda: node_device(cid, "node-1"), 20)
    check("... restarted with the new secret, the same device is online (%s)" % (d1 or {}).get("id"),
          d1 and d1["id"] == n1, agent.log_tail())

    # 7. The device page of a node: its cluster and facts.
    drv.get(URL + "/#/devices/" + n1)
    if wait_for("the node's device page links its cluster", EC.visibility_of_element_located((By.ID, "device-cluster"))):
        check("the link goes to the cluster", drv.find_element(By.ID, "device-cluster").get_attribute("href").endswith("#/clusters/" + cid))
        if wait_for("the link says the cluster's name", EC.text_to_be_present_in_element((By.ID, "device-cluster"), NAME + "-renamed")):
            ok("the link says the cluster's name")
        check("its node name and status", text_of("#device-node-name") == "node-1" and text_of("#device-node-status") == "Ready")
    check("a node offers no Rotate secret: its page points to the cluster's secret",
          drv.find_elements(By.ID, "device-rotate-node") and not drv.find_elements(By.ID, "device-rotate")
          and drv.find_element(By.CSS_SELECTOR, "#device-rotate-node a").get_attribute("href").endswith("#/clusters/" + cid))
    shoot("cluster-node-device")
    # Live there too: Ready going False at the fake reaches the open device page.
    drv.execute_script("window.kaidenSamePage = true")
    k8s.node("node-1", {"ready": "False"})
    if long_wait("Ready False at the fake shows on the device page", lambda d: text_of("#device-node-status") == "Not ready", 15):
        ok("Ready False at the fake shows on the device page")
    check("... without a reload", drv.execute_script("return window.kaidenSamePage === true"))
    k8s.node("node-1", {"ready": "True"})
    if long_wait("Ready again shows on the device page", lambda d: text_of("#device-node-status") == "Ready", 15):
        ok("Ready again shows on the device page")
    drain("a node's device page")

    # 8. Start session on node-1: the session's page, live.
    drv.get(URL + "/#/clusters/" + cid)
    if not wait_for("the cluster's page again", EC.element_to_be_clickable((By.ID, "node-start-" + n1))):
        return
    drv.find_element(By.ID, "node-start-" + n1).click()
    sid = None
    if wait_for("Start session goes to the session's page", lambda d: "#/sessions/" in d.current_url):
        sid = drv.current_url.split("#/sessions/")[1]
        try:
            WebDriverWait(drv, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: d.find_elements(By.ID, "session-status")
                and d.find_element(By.ID, "session-status").text.strip() == "active")
            ok("the session on node-1 goes active")
        except TimeoutException:
            bad("the session on node-1 goes active", drv.find_element(By.TAG_NAME, "body").text[:300])
        st, s = api("GET", "sessions/" + sid)
        check("it is on node-1's device", st == 200 and s["device_id"] == n1, s)
    drain("a session on a node")

    # 9. Delete, asked first: the session ends, the cluster leaves the list.
    drv.get(URL + "/#/clusters/" + cid)
    if not wait_for("the cluster's page again", EC.element_to_be_clickable((By.ID, "cluster-delete"))):
        return
    drv.find_element(By.ID, "cluster-delete").click()
    wait_for("Delete is asked first", EC.element_to_be_clickable((By.ID, "cluster-delete-yes")))
    check("the question says sessions end", "sessions" in drv.find_element(By.CSS_SELECTOR, ".confirm-q").text)
    drv.find_element(By.ID, "cluster-delete-yes").click()
    if wait_for("Delete goes back to the list", lambda d: d.current_url.endswith("#/clusters")):
        list_read("clusters-state")
        check("the cluster is no longer listed", not drv.find_elements(By.CSS_SELECTOR, "#clusters tr[data-id='%s']" % cid))
    st, _ = api("GET", "clusters/" + cid)
    check("the API no longer has it (%s)" % st, st == 404)
    if sid:
        check("its node's session ends", wait_until(
            lambda: (api("GET", "sessions/" + sid)[1] or {}).get("status") in ("ending", "ended"), 20))
    # helperd checks a connected node's device as any device's (a heartbeat, then 5 s).
    check("node-1's agent is dropped: its device offline", wait_until(
        lambda: sql("SELECT status FROM devices WHERE id = '%s'" % n1) == (True, "offline"), 20),
        sql("SELECT status FROM devices WHERE id = '%s'" % n1))
    check("... told the cluster is gone (4003)", wait_until(lambda: "code=4003" in agent.log_text(), 10),
          agent.log_tail())
    drain("delete")
    logs = "".join(open(f, encoding="utf-8", errors="replace").read() for f in
                   (k8s.log, *(a.log for a in running if isinstance(a, ClusterAgent))))
    check("no agent's or fake's log holds a cluster secret", secret not in logs and new_secret not in logs)


run(steps)
