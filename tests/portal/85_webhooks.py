#!/usr/bin/python3
"""85_webhooks.py: webhooks through the portal. A customer is offered no Webhooks and is
told so at its address. The administrator (acting in the default tenant) opens Webhooks
from the menu, is refused a private address next to the URL field (the server's guard
against request forgery; test_portal.sh allows loopback only) and an empty choice of
events in the page, adds a hook to a receiver run here on loopback and sees its signing
secret once (a warning, a Copy button; gone from the page after Done); on the hook's
page edits its description and events, disables and enables it, makes a new secret
(asked first; shown once, different); an event (a ticket opened through the API)
reaches the receiver signed with the new secret, and the delivery log shows it
delivered with its attempts and response time; Delete (asked first) removes it. Last,
the Platform tab: a platform hook, not listed among the tenant's."""
import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from browser import *  # noqa: F401,F403

UNIQ = secrets.token_hex(3)
received = []  # (headers, body, status answered) of every POST the receiver got
FLAKY = b"retry-me"  # an event whose body holds this is refused (500) twice, then taken


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        eid = self.headers.get("Kaiden-Event-Id")
        tries = len([r for r in received if r[0].get("Kaiden-Event-Id") == eid])
        status = 500 if FLAKY in body and tries < 2 else 200
        received.append((dict(self.headers), body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def signed(headers, body, secret):
    sig = dict(p.split("=", 1) for p in headers.get("Kaiden-Signature", "").split(",") if "=" in p)
    want = hmac.new(secret.encode(), ("%s." % sig.get("t", "")).encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig.get("v1", ""), want)


def nav_labels():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "header nav a")]


def secret_shown():
    if not wait_for("the signing secret is shown", EC.visibility_of_element_located((By.ID, "webhook-secret"))):
        return None
    card = drv.find_element(By.ID, "webhook-secret")
    check("with a warning that it is shown once", "only time" in card.find_element(By.CSS_SELECTOR, ".warning").text)
    check("and a Copy button", card.find_elements(By.CSS_SELECTOR, "button.copy"))
    check("the secret's card has the focus", drv.switch_to.active_element == card)
    return text_of("#webhook-secret-value")


def log_until(cond, seconds=20):
    """The delivery log's rows ({column: text}, newest first), read again with Refresh
    until cond(rows) holds or seconds pass: the last rows read."""
    rows = []
    end = time.time() + seconds
    while time.time() < end:
        drv.find_element(By.ID, "webhook-deliveries-refresh").click()
        wait_for("the log is read again", lambda d: not d.find_element(
            By.ID, "webhook-deliveries-state").is_displayed() or not d.find_element(
            By.ID, "webhook-deliveries-state").text.startswith("Loading"))
        rows = [{c.get_attribute("data-label"): c.text for c in tr.find_elements(By.TAG_NAME, "td")}
                for tr in drv.find_elements(By.CSS_SELECTOR, "#webhook-deliveries tbody tr")]
        if cond(rows):
            return rows
        time.sleep(0.3)
    return rows


def steps():
    srv = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    hook_url = "http://127.0.0.1:%d/hook-%s" % (srv.server_address[1], UNIQ)
    try:
        flow(hook_url)
    finally:
        srv.shutdown()


def flow(hook_url):
    # 1. A customer: no Webhooks in the menu; the address says why.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD, CUSTOMER)
    wait_for("the customer signs in", EC.presence_of_element_located((By.ID, "signout")))
    check("a customer's menu has no Webhooks", "Webhooks" not in nav_labels(), nav_labels())
    drv.get(URL + "/#/webhooks")
    if wait_for("#/webhooks tells a customer it is not theirs", EC.visibility_of_element_located((By.ID, "webhooks-refused"))):
        ok("#/webhooks tells a customer it is not theirs")
    drain("a customer at #/webhooks")
    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))

    # 2. The administrator: the list, refusals, a new hook and its secret once.
    sign_in(PASSWORD)
    wait_for("the administrator signs in", EC.presence_of_element_located((By.ID, "signout")))
    check("an administrator's menu has Webhooks", "Webhooks" in nav_labels(), nav_labels())
    drv.find_element(By.LINK_TEXT, "Webhooks").click()
    if not wait_for("the webhooks page", EC.visibility_of_element_located((By.ID, "webhook-url"))):
        return
    wait_for("the list is read", lambda d: "Loading" not in d.find_element(By.ID, "webhooks-state").text
             or not d.find_element(By.ID, "webhooks-state").is_displayed())
    drain("the webhooks page")
    url = drv.find_element(By.ID, "webhook-url")
    url.send_keys("https://10.0.0.1/kaiden")
    drv.find_element(By.ID, "webhook-events-ticket-created").click()
    drv.find_element(By.ID, "webhook-create").click()
    if wait_for("a private address is refused next to the field", EC.visibility_of_element_located(
            (By.ID, "webhook-url-error"))):
        ok("a private address is refused next to the field (%s)" % text_of("#webhook-url-error"))
        check("the URL field is marked invalid", url.get_attribute("aria-invalid") == "true")
    drain("a refused URL", {("/api/v1/webhooks", 422)})
    url.clear()
    url.send_keys(hook_url)
    drv.find_element(By.ID, "webhook-events-ticket-created").click()  # none chosen now
    n = len(requested)
    drv.find_element(By.ID, "webhook-create").click()
    if wait_for("no event chosen is said in the page", EC.visibility_of_element_located((By.ID, "webhook-events-error"))):
        ok("no event chosen is said in the page")
    drain("no event chosen")
    check("without asking the server", not [u for u in requested[n:] if u.endswith("/api/v1/webhooks")],
          requested[n:])
    for ev in ("ticket-created", "ticket-commented", "session-started"):
        drv.find_element(By.ID, "webhook-events-" + ev).click()
    drv.find_element(By.ID, "webhook-description").send_keys("helpdesk " + UNIQ)
    drv.find_element(By.ID, "webhook-create").click()
    secret = secret_shown()
    check("the secret is a long random string", secret and len(secret) >= 32, secret)
    if wait_for("the new hook is listed", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#webhooks tr[data-url='%s']" % hook_url))):
        row = drv.find_element(By.CSS_SELECTOR, "#webhooks tr[data-url='%s']" % hook_url).text
        check("its row says active (%s)" % row, "active" in row, row)
    drain("a hook added")
    shoot("webhook-created")
    drv.find_element(By.ID, "webhook-secret-done").click()
    check("Done removes the secret from the page", secret and secret not in drv.page_source)
    check("and it was never kept in storage", storage_empty() or drv.execute_script(
        "return Object.keys(sessionStorage).every((k) => k === 'kaiden.tenant') && localStorage.length === 0"))
    st, hooks = api("GET", "webhooks", token=admin_token(), tenant="default" if MODE != "single" else None)
    mine = [x for x in (hooks or {}).get("items", []) if x["url"] == hook_url]
    check("the API lists it, without its secret", st == 200 and mine and "secret" not in mine[0], hooks)
    shoot("webhooks")

    # 3. Its page: edit, disable and enable, a new secret.
    drv.find_element(By.CSS_SELECTOR, "#webhooks tr[data-url='%s'] a" % hook_url).click()
    if not wait_for("the hook's page", EC.visibility_of_element_located((By.ID, "webhook-edit"))):
        return
    hid = drv.current_url.split("#/webhooks/")[1].split("?")[0]
    d = drv.find_element(By.ID, "webhook-edit-description")
    d.clear()
    d.send_keys("helpdesk " + UNIQ + " (edited)")
    drv.find_element(By.ID, "webhook-edit-events-ticket-updated").click()
    drv.find_element(By.ID, "webhook-save").click()
    if wait_for("Save saves", EC.text_to_be_present_in_element((By.ID, "webhook-edit-message"), "Saved")):
        st, w = api("GET", "webhooks/" + hid, token=admin_token(), tenant="default" if MODE != "single" else None)
        check("the API has the new description and events", st == 200 and w["description"].endswith("(edited)")
              and "ticket.updated" in w["events"], w)
    drain("edit")
    drv.find_element(By.ID, "webhook-toggle").click()
    if wait_for("Disable disables it", EC.text_to_be_present_in_element((By.ID, "webhook-status"), "disabled")):
        ok("Disable disables it")
    drv.find_element(By.ID, "webhook-toggle").click()
    if wait_for("Enable enables it", EC.text_to_be_present_in_element((By.ID, "webhook-status"), "active")):
        ok("Enable enables it")
    drain("disable, enable")
    drv.find_element(By.ID, "webhook-rotate").click()
    wait_for("a new secret is asked first", EC.element_to_be_clickable((By.ID, "webhook-rotate-yes")))
    drv.find_element(By.ID, "webhook-rotate-yes").click()
    secret2 = secret_shown()
    check("the new secret differs from the first", secret2 and secret2 != secret)
    drain("a new secret")
    shoot("webhook-rotated")
    drv.find_element(By.ID, "webhook-secret-done").click()

    # 4. A delivery: a ticket opened through the API reaches the receiver, signed with
    # the new secret, and the log shows it.
    tenant = None if MODE == "single" else "default"
    st, t = api("POST", "tickets", {"title": "webhook check " + UNIQ}, token=admin_token(), tenant=tenant)
    check("set-up: a ticket opened through the API (%s)" % st, st == 201, t)
    got = None
    for _ in range(300):
        got = next((r for r in received if b"webhook check " + UNIQ.encode() in r[1]), None)
        if got:
            break
        time.sleep(0.1)
    if check("the receiver gets ticket.created", got, "nothing within 30 s"):
        body = json.loads(got[1])
        check("its body is the event (type, id, data)", body.get("type") == "ticket.created" and body.get("id")
              and body.get("data", {}).get("id") == t["id"], body)
        check("signed with the new secret", signed(got[0], got[1], secret2), got[0])
        check("not with the old one", not signed(got[0], got[1], secret))
    rows = log_until(lambda rs: any(r["Status"] == "delivered" for r in rs))
    first = [r for r in rows or [] if r["Status"] == "delivered"]
    if check("the delivery log shows it delivered", first, rows):
        check("event ticket.created, 1 attempt, HTTP 200, a response time (%s)" % first[0],
              "ticket.created" in first[0]["Event"] and first[0]["Attempts"] == "1" and
              "200" in first[0]["Last answer"] and first[0]["Response time"].endswith("ms"), first[0])
    drain("the delivery log")

    # A receiver that fails: the log shows the 500, the attempts and the next try; then
    # the retry delivers it.
    st, t2 = api("POST", "tickets", {"title": "retry-me %s" % UNIQ}, token=admin_token(), tenant=tenant)
    check("set-up: a ticket the receiver refuses twice (%s)" % st, st == 201, t2)
    rows = log_until(lambda rs: any(r["Status"] == "pending" and "500" in r["Last answer"] for r in rs))
    failing = [r for r in rows or [] if r["Status"] == "pending" and "500" in r["Last answer"]]
    if check("the log shows the failed attempt, pending, with its next attempt", failing, rows):
        check("HTTP 500, and a time for the next attempt (%s)" % failing[0],
              failing[0]["Next attempt"] not in ("", "—") and failing[0]["Attempts"] in ("1", "2"), failing[0])
        shoot("webhook-deliveries", at="#webhook-deliveries-title")
    drain("a failing delivery")
    rows = log_until(lambda rs: len(rs) >= 2 and rs[0]["Status"] == "delivered", 30)
    if check("the retry delivers it (newest first)", rows and rows[0]["Status"] == "delivered", rows):
        check("after three attempts, the last answered 200 (%s)" % rows[0],
              rows[0]["Attempts"] == "3" and "200" in rows[0]["Last answer"], rows[0])
    check("the receiver was refused twice, then took it", [r[2] for r in received if FLAKY in r[1]] == [500, 500, 200],
          [r[2] for r in received if FLAKY in r[1]])
    drain("a delivery retried")

    # 5. Delete, asked first.
    drv.find_element(By.ID, "webhook-delete").click()
    wait_for("Delete is asked first", EC.element_to_be_clickable((By.ID, "webhook-delete-yes")))
    drv.find_element(By.ID, "webhook-delete-yes").click()
    if wait_for("Delete goes back to the list", lambda d: d.current_url.endswith("#/webhooks")):
        wait_for("the list is read", lambda d: "Loading" not in d.find_element(By.ID, "webhooks-state").text
                 or not d.find_element(By.ID, "webhooks-state").is_displayed())
        check("the hook is no longer listed", not drv.find_elements(
            By.CSS_SELECTOR, "#webhooks tr[data-url='%s']" % hook_url))
    st, _ = api("GET", "webhooks/" + hid, token=admin_token(), tenant=tenant)
    check("the API no longer has it (%s)" % st, st == 404)
    drain("delete")

    # 6. The platform's hooks (staff): the tab, a hook there, not the tenant's.
    drv.find_element(By.ID, "webhooks-tab-platform").click()
    if not wait_for("the Platform tab", EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Platform webhooks")):
        return
    ok("the Platform tab")
    wait_for("the platform's list is read", lambda d: "Loading" not in d.find_element(By.ID, "webhooks-state").text
             or not d.find_element(By.ID, "webhooks-state").is_displayed())
    purl = hook_url + "-platform"
    drv.find_element(By.ID, "webhook-url").send_keys(purl)
    drv.find_element(By.ID, "webhook-events-device-registered").click()
    drv.find_element(By.ID, "webhook-create").click()
    check("a platform hook's secret is shown once", secret_shown())
    st, hooks = api("GET", "webhooks?scope=platform", token=admin_token())
    mine = [x for x in (hooks or {}).get("items", []) if x["url"] == purl]
    check("the API has it at platform level, with no tenant", st == 200 and mine and mine[0].get("tenant_id") is None, hooks)
    st, hooks = api("GET", "webhooks", token=admin_token(), tenant="default")
    check("and not among the tenant's", st == 200 and not [x for x in hooks.get("items", []) if x["url"] == purl], hooks)
    drain("a platform hook")
    for x in mine:
        api("DELETE", "webhooks/%s?scope=platform" % x["id"], token=admin_token())


run(steps)
