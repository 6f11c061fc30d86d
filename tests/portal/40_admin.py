#!/usr/bin/python3
"""40_admin.py: the admin dashboard. Multi mode: the sign-in page asks a tenant code; the
administrator creates a tenant through the page (a bad code is refused under its field),
adds a user to it, changes a quota and sees it, suspends the tenant (its user cannot sign
in: one attempt) and resumes it (the user can), switches the header's tenant; the audit
page lists those actions and filters by action; the system page shows the API's
figures; an engineer sees tenants read-only; a customer has none of these menus. Single
mode: the same, but users belong to the default tenant only, so the tenant page offers
no user form (the API would put the user in the default tenant) and no one of the new
tenant signs in."""
import json
import secrets
import urllib.request

from browser import *  # noqa: F401,F403
from selenium.webdriver.support.ui import Select

ENGINEER = os.environ.get("PORTAL_ENGINEER")
SUFFIX = secrets.token_hex(3)
CODE = "ac" + SUFFIX
NAME = "Acme Tools " + SUFFIX
USER = "ann-%s@acme.test" % SUFFIX


def login_token():
    """An administrator's login token (the API's own view, for comparing figures)."""
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    req = urllib.request.Request(URL + "/api/v1/auth/login", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["token"]


def nav_labels():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "header nav a")]


def sign_out():
    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))


def open_page(path, css, name):
    drv.get(URL + "/#" + path)
    return wait_for(name, EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def audit_single():
    if open_page("/audit", "#audit tbody tr", "the audit page lists entries"):
        ok("the audit page lists entries")
        rows = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        check("the audit shows device and session actions",
              any("device.create" in r for r in rows) and any("session.start" in r for r in rows), rows[:6])
        check("an entry says who did it", any(EMAIL in r for r in rows), rows[:3])


def audit_filter(action):
    a = drv.find_element(By.ID, "audit-action")
    a.clear()
    a.send_keys(action)
    drv.find_element(By.ID, "audit-apply").click()
    if wait_for("filtering by action keeps it in the URL",
                lambda d: "action=" + action in d.current_url):
        ok("filtering by action keeps it in the URL")
        wait_for("the filtered list shows", EC.visibility_of_element_located((By.CSS_SELECTOR, "#audit tbody tr")))
        acts = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#audit tbody td:nth-child(3)")]
        check("only %s entries are listed (%d)" % (action, len(acts)),
              acts and all(x == action for x in acts), acts)
    drain("audit filter")


def steps():
    # 1. The sign-in page: a tenant code in multi mode only.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    if MODE == "multi":
        if wait_for("multi mode: the sign-in page asks a tenant code",
                    EC.visibility_of_element_located((By.ID, "tenant"))):
            ok("multi mode: the sign-in page asks a tenant code")
            label = drv.find_element(By.CSS_SELECTOR, "label[for=tenant]").text
            check("the tenant field is labelled", "Tenant code" in label, label)
        shoot("signin-multi")
    else:
        check("single mode: no tenant code asked", not drv.find_elements(By.ID, "tenant"))
    drain("sign-in page")

    # 2. The administrator: Tenants, Audit, System in the menu.
    sign_in(PASSWORD)
    wait_for("the administrator signs in", EC.visibility_of_element_located((By.ID, "signout")))
    labels = nav_labels()
    check("an administrator's menu has Tenants, Audit and System (%s)" % labels,
          all(x in labels for x in ("Tenants", "Audit", "System")), labels)
    if MODE == "multi":
        sel = wait_for("staff get the tenant switcher",
                       EC.visibility_of_element_located((By.ID, "tenant-switch")))
        if sel:
            wait_for("the switcher lists the tenants", lambda d: len(
                d.find_elements(By.CSS_SELECTOR, "#tenant-switch option")) >= 2)
            check("the switcher starts on the default tenant",
                  sel.get_attribute("value") == "default", sel.get_attribute("value"))
    else:
        check("single mode: no tenant switcher", not drv.find_elements(By.ID, "tenant-switch"))
    drain("the administrator signs in")

    # 3. The tenants list.
    if open_page("/admin/tenants", "#tenants tbody tr", "the tenants page lists tenants"):
        ok("the tenants page lists tenants")
        rows = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#tenants tbody tr")]
        check("the default tenant is listed with its status and plan",
              any("default" in r and "active" in r for r in rows), rows)
        if CUSTOMER_TENANT:
            check("the customer's tenant is listed", any(CUSTOMER_TENANT in r for r in rows), rows)
    drain("tenants page")
    shoot("tenants")

    # 4. A new tenant through the page: a bad code first, shown under its field.
    drv.find_element(By.ID, "tenant-create").click()
    wait_for("the new tenant form", EC.visibility_of_element_located((By.ID, "tenant-code")))
    check("the form is at #/admin/tenants/new", drv.current_url.endswith("#/admin/tenants/new"),
          drv.current_url)
    shoot("tenant-new")
    drv.find_element(By.ID, "tenant-code").send_keys("Not A Code")
    drv.find_element(By.ID, "tenant-name").send_keys(NAME)
    drv.find_element(By.ID, "tenant-save").click()
    if wait_for("a bad code is refused under the code field",
                EC.visibility_of_element_located((By.ID, "tenant-code-error"))):
        msg = text_of("#tenant-code-error")
        check("the code's error names the code (%s)" % msg, "code" in msg.lower(), msg)
        check("the code field is marked invalid",
              drv.find_element(By.ID, "tenant-code").get_attribute("aria-invalid") == "true")
    drain("a bad tenant code", {("/api/v1/admin/tenants", 400)})
    code = drv.find_element(By.ID, "tenant-code")
    code.clear()
    code.send_keys(CODE)
    Select(drv.find_element(By.ID, "tenant-plan")).select_by_value("pro")
    drv.find_element(By.ID, "tenant-max-devices").send_keys("3")
    drv.find_element(By.ID, "tenant-max-tickets").send_keys("7")
    drv.execute_script("document.getElementById('tenant-trial').value = '2031-01-31'")
    drv.find_element(By.ID, "tenant-save").click()
    tid = None
    if wait_for("creating opens the tenant's page",
                EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), NAME)):
        ok("creating opens the tenant's page")
        tid = drv.current_url.rsplit("/", 1)[-1]
        facts = text_of("#tenant-facts")
        check("the tenant's facts: code, plan, quota, trial end",
              CODE in facts and "pro" in facts and "2031" in facts
              and text_of("#tenant-quota-devices") == "3", facts)
        check("the open tickets' quota is the one typed", text_of("#tenant-quota-tickets") == "7",
              text_of("#tenant-quota-tickets"))
        check("the tenant is active", text_of("#tenant-status") == "active", text_of("#tenant-status"))
    drain("create a tenant")

    # 5. A user in it (multi mode), through the page.
    if tid and MODE == "multi":
        if wait_for("the tenant's usage shows", EC.text_to_be_present_in_element(
                (By.ID, "tenant-usage"), "Devices")):
            check("the usage counts against the quota", "0 of 3" in text_of("#tenant-usage"),
                  text_of("#tenant-usage"))
            check("open tickets count against theirs", "Open tickets0 of 7" in
                  text_of("#tenant-usage").replace("\n", ""), text_of("#tenant-usage"))
        wait_for("the user list says it is empty", EC.text_to_be_present_in_element(
            (By.ID, "tenant-users-state"), "No users"))
        drv.find_element(By.ID, "user-email").send_keys(USER)
        drv.find_element(By.ID, "user-name").send_keys("Ann " + SUFFIX)
        drv.find_element(By.ID, "user-password").send_keys(PASSWORD)
        drv.find_element(By.ID, "user-add").click()
        if wait_for("the user is added", EC.visibility_of_element_located((By.ID, "user-added"))):
            ok("the user is added")
            check("the tenant's user list shows them", USER in text_of("#tenant-users"),
                  text_of("#tenant-users"))
        drain("add a user to the tenant")
    elif tid:
        check("single mode: the new tenant's page offers no user form",
              not drv.find_elements(By.ID, "tenant-user-new"))
        check("single mode: the page says why", "single mode" in text_of("#tenant-users-section"),
              text_of("#tenant-users-section"))

    # 6. A quota changed, seen on the page and after a reload.
    if tid:
        q = drv.find_element(By.ID, "edit-max-devices")
        q.clear()
        q.send_keys("5")
        drv.find_element(By.ID, "tenant-edit-save").click()
        if wait_for("the quota is saved", EC.visibility_of_element_located((By.ID, "tenant-edit-saved"))):
            check("the page shows the new quota", text_of("#tenant-quota-devices") == "5",
                  text_of("#tenant-quota-devices"))
        drv.refresh()
        if wait_for("after a reload the quota is still 5", EC.text_to_be_present_in_element(
                (By.ID, "tenant-quota-devices"), "5")):
            ok("after a reload the quota is still 5")
        drain("change a quota")

    # 7. Suspend (confirmed), then the tenant's user is refused; resume.
    if tid:
        drv.find_element(By.ID, "tenant-suspend").click()
        wait_for("suspending asks for a confirmation",
                 EC.visibility_of_element_located((By.ID, "tenant-confirm")))
        check("the confirmation says what suspending does",
              "refused" in text_of("#tenant-confirm-text"), text_of("#tenant-confirm-text"))
        drv.find_element(By.ID, "tenant-confirm").click()
        if wait_for("the tenant is suspended", EC.text_to_be_present_in_element(
                (By.ID, "tenant-status"), "suspended")):
            ok("the tenant is suspended")
            check("Resume is offered", bool(drv.find_elements(By.ID, "tenant-resume")))
        drain("suspend")
        shoot("tenant")
        if MODE == "multi":
            sign_out()
            sign_in(PASSWORD, USER, CODE)
            if wait_for("a suspended tenant's user cannot sign in", EC.visibility_of_element_located(
                    (By.CSS_SELECTOR, "#signin-message .error"))):
                msg = text_of("#signin-message .error")
                check("the refusal says the tenant is suspended (%s)" % msg, "suspended" in msg, msg)
            drain("a suspended tenant's user", {("/api/v1/auth/login", 403)})
            sign_in(PASSWORD)
            wait_for("the administrator signs in again",
                     EC.visibility_of_element_located((By.ID, "signout")))
            open_page("/admin/tenants/" + tid, "#tenant-resume", "back on the tenant's page")
        drv.find_element(By.ID, "tenant-resume").click()
        wait_for("resuming asks for a confirmation",
                 EC.visibility_of_element_located((By.ID, "tenant-confirm")))
        drv.find_element(By.ID, "tenant-confirm").click()
        if wait_for("the tenant is active again", EC.text_to_be_present_in_element(
                (By.ID, "tenant-status"), "active")):
            ok("the tenant is active again")
        drain("resume")
        if MODE == "multi":
            # The switcher: the new tenant's (empty) devices.
            open_page("/devices", "#devices tbody tr", "the devices page (default tenant)")
            switch_tenant(CODE)
            if wait_for("the switcher opens the chosen tenant's devices", EC.text_to_be_present_in_element(
                    (By.ID, "devices-state"), "No devices yet")):
                ok("the switcher opens the chosen tenant's devices")
            switch_tenant(CUSTOMER_TENANT)
            if wait_for("switching again lists that tenant's device", EC.text_to_be_present_in_element(
                    (By.CSS_SELECTOR, "#devices tbody"), CUSTOMER_DEVICE)):
                ok("switching again lists that tenant's device")
            drain("the tenant switcher")
            sign_out()
            check("sign-out forgets the chosen tenant", storage_empty())
            sign_in(PASSWORD, USER, CODE)
            if wait_for("after resuming, the tenant's user signs in",
                        EC.visibility_of_element_located((By.ID, "signout"))):
                ok("after resuming, the tenant's user signs in")
                labels = nav_labels()
                check("a customer's menu has no Tenants, Audit or System (%s)" % labels,
                      not any(x in labels for x in ("Tenants", "Audit", "System")), labels)
            drain("the resumed tenant's user")
            sign_out()
            sign_in(PASSWORD)
            wait_for("the administrator signs in again",
                     EC.visibility_of_element_located((By.ID, "signout")))

    # 8. The audit log: those actions, and a filter by action kept in the URL. Single
    # mode: staff read the default tenant's log (the API acts there for them), which
    # holds no platform entries such as tenant.create; the device and session ones are.
    if MODE == "single":
        audit_single()
    elif open_page("/audit?action=tenant.", "#audit tbody tr", "the audit page lists tenant actions"):
        ok("the audit page lists tenant actions")
        rows = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        mine = [r for r in rows if CODE in r or (tid and tid in r)]
        check("the audit shows the tenant's create and updates (%d rows)" % len(mine),
              any("tenant.create" in r for r in mine) and sum("tenant.update" in r for r in mine) >= 3,
              rows[:6])
        check("an entry says who did it", any(EMAIL in r for r in mine), mine[:2])
        check("the action filter is in its field",
              drv.find_element(By.ID, "audit-action").get_attribute("value") == "tenant.")
    drain("audit page")
    audit_filter("session.start" if MODE == "single" else "tenant.create")
    shoot("audit")

    # 9. The system page: the API's figures.
    if open_page("/admin/system", "#system-jobs", "the system page shows its figures"):
        ok("the system page shows its figures")
        st, sysj = api("GET", "admin/system", token=login_token())
        if check("the API answers the system status", st == 200, st):
            for css, want in (("#jobs-queued", sysj["jobs"]["queued"]),
                              ("#jobs-failed", sysj["jobs"]["failed"]),
                              ("#devices-online", sysj["devices"]["online"]),
                              ("#devices-total", sysj["devices"]["total"]),
                              ("#sessions-pending", sysj["sessions"]["pending"])):
                check("%s on the page is the API's %s" % (css, want), text_of(css) == str(want),
                      text_of(css))
            running = sum(1 for d in sysj["helperds"] if d["running"])
            summary = text_of("#system-helperd-summary")
            check("the helperd summary matches the API (%s)" % summary,
                  ("%d of" % running) in summary if running else "No kaiden-helperd" in summary, summary)
    drain("system page")
    shoot("system")
    sign_out()

    # 10. An engineer: tenants read-only.
    if ENGINEER and tid:
        sign_in(PASSWORD, ENGINEER)
        wait_for("the engineer signs in", EC.visibility_of_element_located((By.ID, "signout")))
        labels = nav_labels()
        check("an engineer's menu has Tenants, Audit and System (%s)" % labels,
              all(x in labels for x in ("Tenants", "Audit", "System")), labels)
        if open_page("/admin/tenants", "#tenants tbody tr", "an engineer sees the tenants"):
            ok("an engineer sees the tenants")
            check("an engineer is offered no New tenant", not drv.find_elements(By.ID, "tenant-create"))
        if open_page("/admin/tenants/" + tid, "#tenant-facts", "an engineer sees a tenant"):
            ok("an engineer sees a tenant")
            check("an engineer gets no suspend, edit or user form", not drv.find_elements(
                By.CSS_SELECTOR, "#tenant-suspend, #tenant-resume, #tenant-edit, #tenant-user-new"))
        drain("an engineer, read-only")
        sign_out()

    # 11. A customer: none of these menus.
    if CUSTOMER:
        sign_in(PASSWORD, CUSTOMER)
        wait_for("the customer signs in", EC.visibility_of_element_located((By.ID, "signout")))
        labels = nav_labels()
        check("a customer's menu has no Tenants, Audit or System (%s)" % labels,
              not any(x in labels for x in ("Tenants", "Audit", "System")), labels)
        drv.get(URL + "/#/admin/tenants")
        if wait_for("#/admin/tenants tells a customer it is staff only", EC.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "main .error"), "Only Kaiden staff")):
            ok("#/admin/tenants tells a customer it is staff only")
        drain("a customer")
        sign_out()


run(steps)
