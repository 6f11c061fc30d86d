#!/usr/bin/python3
"""30_tenant.py: the customer portal's users, API tokens and usage pages. The
administrator makes a tenant admin through the page (a taken email refused next to the
field); the tenant admin makes a customer, disables it (it cannot sign in), enables it,
deletes it; makes an API token (shown once, works), revokes it (refused); the usage page
shows GET /tenant/usage's numbers and renames the tenant; a customer is offered none of
it; an engineer reads users without a button.

Staff act in the default tenant (multi mode too, until they switch): the tenant admin is
made there, and signs in with its code ("default") in multi mode. In single mode the
stack's customer is the default tenant's; in multi mode it is CUSTOMER_TENANT's, which
the administrator reaches with the header's tenant switcher, and the default tenant gets
a customer of its own (LOCAL) for the list and the taken email."""
import os
import secrets

from selenium.webdriver.support.ui import Select

from browser import *  # noqa: F401,F403

UNIQ = secrets.token_hex(3)
TA_EMAIL = "ta-%s@example.com" % UNIQ
CU_EMAIL = "cu-%s@example.com" % UNIQ
ENG_EMAIL = "eng-%s@localhost" % UNIQ
# A customer of the default tenant: the stack's in single mode, one made here in multi.
LOCAL = CUSTOMER if MODE == "single" else "local-%s@example.com" % UNIQ


def nav_labels():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "header nav a")]


def sign_out():
    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))


def code_of(email):
    """The tenant code EMAIL signs in with: none for staff (and in single mode), the
    customer's tenant's for CUSTOMER, "default" for the default tenant's users made here."""
    if MODE == "single" or email in (EMAIL, ENG_EMAIL):
        return ""
    return CUSTOMER_TENANT if email == CUSTOMER else "default"


def signed_in_as(email):
    sign_in(PASSWORD, email, code_of(email))
    return wait_for("%s signs in" % email, EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "header .who"), email))


def user_id(email):
    st, body = api("GET", "users?q=" + email)
    items = [u for u in (body or {}).get("items", []) if u["email"] == email]
    return items[0] if st == 200 and items else None


def engineer():
    """An engineer (staff). Staff are platform users: in single mode POST /users acts in
    the default tenant and refuses staff roles, so it is made as `make run` makes the
    administrator, with kaiden-api user add."""
    r = cli("user", "add", "--email", ENG_EMAIL, "--name", "Erin Engineer", "--role", "engineer",
            "--password-file", PW_FILE)
    return check("an engineer for the read-only view (kaiden-api user add)", r.returncode == 0,
                 r.stderr.strip())


def set_quotas(tenant_id, quotas):
    """The tenant's quotas, through /admin/tenants with an administrator's API token (the
    stack's service token may not)."""
    token = admin_token()
    if not token:
        return
    st, body = api("PATCH", "admin/tenants/" + tenant_id, {"quotas": quotas}, token=token)
    check("quotas set to %s (%s)" % (quotas, st), st == 200, body)


def fill_user(email, name, role, password):
    e = drv.find_element(By.ID, "user-email")
    e.clear()
    e.send_keys(email)
    n = drv.find_element(By.ID, "user-name")
    n.clear()
    n.send_keys(name)
    Select(drv.find_element(By.ID, "user-role-new")).select_by_value(role)
    p = drv.find_element(By.ID, "user-password")
    p.clear()
    p.send_keys(password)
    drv.find_element(By.ID, "user-create").click()


def device_names():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "#devices tbody tr td:first-child a")]


def users_listed(name):
    """The emails the users page lists once it has drawn them."""
    if not wait_for(name, EC.visibility_of_element_located((By.CSS_SELECTOR, "#users tbody tr"))):
        return []
    ok(name)
    return [r.get_attribute("data-email") for r in drv.find_elements(By.CSS_SELECTOR, "#users tbody tr")]


def steps():
    if MODE != "single":
        st, body = api("POST", "users", {"email": LOCAL, "name": "Lou Local", "role": "customer",
                                         "password": PASSWORD})
        if not check("set-up: a customer of the default tenant (%s)" % st, st == 201, body):
            return
    # 1. The administrator: Users, Usage and API tokens in the header.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    if signed_in_as(EMAIL):
        labels = nav_labels()
        check("an administrator's menu has Users and Usage", "Users" in labels and "Usage" in labels, labels)
        check("the header offers API tokens", drv.find_elements(By.ID, "nav-tokens"))
    drain("the administrator signs in")

    # 2. The users of the default tenant; a new tenant admin through the page.
    drv.find_element(By.LINK_TEXT, "Users").click()
    emails = users_listed("the users page lists the tenant's users")
    if emails:
        check("the default tenant's customer is listed", LOCAL in emails, emails)
        check("platform staff are not (the list is the tenant's)", EMAIL not in emails, emails)
        if MODE != "single":
            check("another tenant's customer is not", CUSTOMER not in emails, emails)
    drain("users page")
    if MODE != "single":
        # The header's switcher: the customer's tenant lists its own users; back again.
        sw = wait_for("the header offers the tenant switcher", lambda d: len(Select(
            d.find_element(By.ID, "tenant-switch")).options) > 1 and d.find_element(By.ID, "tenant-switch"))
        if sw:
            check("the switcher shows the default tenant", sw.get_attribute("value") == "default",
                  sw.get_attribute("value"))
            switch_tenant(CUSTOMER_TENANT)
            wait_for("switching the tenant opens its devices", lambda d: CUSTOMER_DEVICE in device_names())
            devs = device_names()
            check("the devices are %s's (%s)" % (CUSTOMER_TENANT, devs), CUSTOMER_DEVICE in devs
                  and DEVICE not in devs, devs)
            drv.find_element(By.LINK_TEXT, "Users").click()
            there = users_listed("the users page in %s" % CUSTOMER_TENANT)
            check("%s's customer is listed there" % CUSTOMER_TENANT, CUSTOMER in there, there)
            check("and not the default tenant's", LOCAL not in there, there)
            drain("switch to %s" % CUSTOMER_TENANT)
            shoot("users-other-tenant")
            switch_tenant("default")
            wait_for("back in the default tenant", lambda d: DEVICE in device_names())
            drv.find_element(By.LINK_TEXT, "Users").click()
            back = users_listed("the users page in the default tenant again")
            check("the default tenant's customer again", LOCAL in back and CUSTOMER not in back, back)
            drain("switch back to the default tenant")
    drv.find_element(By.ID, "user-new").click()
    if wait_for("New user opens the form", EC.visibility_of_element_located((By.ID, "user-email"))):
        ok("New user opens the form")
        roles = [o.get_attribute("value") for o in Select(drv.find_element(By.ID, "user-role-new")).options]
        check("the roles offered are the tenant's (%s)" % roles, roles == ["tenant_admin", "customer"], roles)
    # A taken email: the API's 409 is shown next to the email field.
    fill_user(LOCAL, "Tess Admin", "tenant_admin", PASSWORD)
    if wait_for("a taken email is refused next to the field", EC.visibility_of_element_located(
            (By.ID, "user-email-error"))):
        msg = text_of("#user-email-error")
        check("the field's message says the address is taken", "taken" in msg, msg)
        check("the email field is marked invalid",
              drv.find_element(By.ID, "user-email").get_attribute("aria-invalid") == "true")
        check("and the page stays on the form", drv.current_url.endswith("#/users/new"), drv.current_url)
    drain("a taken email", {("/api/v1/users", 409)})
    shoot("user-new")
    fill_user(TA_EMAIL, "Tess Admin", "tenant_admin", PASSWORD)
    if wait_for("creating the tenant admin opens their page", EC.text_to_be_present_in_element(
            (By.ID, "user-fact-email"), TA_EMAIL)):
        ok("creating the tenant admin opens their page")
        check("their role is Tenant admin", text_of("#user-fact-role") == "Tenant admin", text_of("#user-fact-role"))
        check("they are active", text_of("#user-status") == "active", text_of("#user-status"))
        u = user_id(TA_EMAIL)
        check("the API has the tenant admin", u and u["role"] == "tenant_admin" and u["tenant_id"], u)
    drain("create a tenant admin")

    # 2b. The platform's staff, from the same page: staff acting in a tenant switch to
    # them (?scope=platform, the API's way to platform level in either mode).
    drv.get(URL + "/#/users")
    if wait_for("staff acting in a tenant are offered the staff view",
                EC.element_to_be_clickable((By.ID, "users-tab-staff"))):
        drv.find_element(By.ID, "users-tab-staff").click()
        if wait_for("the staff view lists the platform's staff", EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "#users tbody tr[data-email='%s']" % EMAIL))):
            ok("the staff view lists the platform's staff")
            emails = [r.get_attribute("data-email") for r in drv.find_elements(By.CSS_SELECTOR, "#users tbody tr")]
            check("and not the tenant's customers", LOCAL not in emails and CUSTOMER not in emails, emails)
            check("the view is in the address", "scope=platform" in drv.current_url, drv.current_url)
            shoot("users-staff")
        drv.find_element(By.ID, "user-new").click()
        if wait_for("New user in the staff view offers staff roles",
                    EC.visibility_of_element_located((By.ID, "user-email"))):
            roles = [o.get_attribute("value") for o in Select(drv.find_element(By.ID, "user-role-new")).options]
            check("the roles offered are staff's (%s)" % roles, roles == ["admin", "engineer"], roles)
        staff_email = "staff-%s@example.com" % UNIQ
        fill_user(staff_email, "Sam Staff", "engineer", PASSWORD)
        if wait_for("creating an engineer opens their page", EC.text_to_be_present_in_element(
                (By.ID, "user-fact-email"), staff_email)):
            ok("creating an engineer opens their page")
            check("their role is Engineer", text_of("#user-fact-role") == "Engineer", text_of("#user-fact-role"))
            # Asked as the administrator (the stack's service token may not ask for
            # platform level), with a token made for it (revoked at the end).
            token = admin_token()
            if token:
                st, body = api("GET", "users?scope=platform&q=" + staff_email, token=token)
                items = (body or {}).get("items") or []
                check("the API has the engineer at platform level",
                      st == 200 and len(items) == 1 and items[0]["tenant_id"] is None
                      and items[0]["role"] == "engineer", (st, body))
    drain("the staff view")
    sign_out()

    # 3. The tenant admin: a customer, disabled, refused at sign-in, enabled, deleted.
    if not signed_in_as(TA_EMAIL):
        return
    labels = nav_labels()
    check("a tenant admin's menu has Users and Usage", "Users" in labels and "Usage" in labels, labels)
    drain("the tenant admin signs in")
    drv.find_element(By.LINK_TEXT, "Users").click()
    wait_for("the tenant admin sees the users", EC.visibility_of_element_located((By.ID, "user-new")))
    drv.find_element(By.ID, "user-new").click()
    wait_for("the new user form", EC.visibility_of_element_located((By.ID, "user-email")))
    fill_user(CU_EMAIL, "Cody Customer", "customer", PASSWORD)
    cu = None
    if wait_for("the customer is created", EC.text_to_be_present_in_element((By.ID, "user-fact-email"), CU_EMAIL)):
        ok("the customer is created")
        cu = user_id(CU_EMAIL)
        check("the API has the customer", cu and cu["role"] == "customer", cu)
        check("the page offers Disable", text_of("#user-toggle") == "Disable", text_of("#user-toggle"))
        drv.find_element(By.ID, "user-toggle").click()
        if wait_for("Disable makes the customer disabled", EC.text_to_be_present_in_element(
                (By.ID, "user-status"), "disabled")):
            ok("Disable makes the customer disabled")
            check("the button now offers Enable", text_of("#user-toggle") == "Enable", text_of("#user-toggle"))
            check("the API says disabled", user_id(CU_EMAIL)["status"] == "disabled")
    drain("create and disable a customer")
    cu_page = drv.current_url.split("?")[0]
    sign_out()
    sign_in(PASSWORD, CU_EMAIL, code_of(CU_EMAIL))  # the one wrong sign-in of this script
    if wait_for("the disabled customer cannot sign in", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#signin-message .error"))):
        msg = text_of("#signin-message .error")
        check("the disabled customer gets the generic error", msg == "Email or password is wrong.", msg)
    drain("a disabled user signs in", {("/api/v1/auth/login", 401)})
    if not signed_in_as(TA_EMAIL):
        return
    drv.get(cu_page)
    if wait_for("the customer's page offers Enable", EC.text_to_be_present_in_element((By.ID, "user-toggle"), "Enable")):
        drv.find_element(By.ID, "user-toggle").click()
        if wait_for("Enable makes the customer active", EC.text_to_be_present_in_element(
                (By.ID, "user-status"), "active")):
            ok("Enable makes the customer active")
            check("the API says active", user_id(CU_EMAIL)["status"] == "active")
        # A new password, through its form.
        pw = drv.find_element(By.ID, "user-new-password")
        pw.send_keys(PASSWORD + "-2")
        drv.find_element(By.ID, "user-password-set").click()
        wait_for("a new password is set", EC.text_to_be_present_in_element(
            (By.ID, "user-password-message"), "new password is set"))
        # The name, through the details form.
        nm = drv.find_element(By.ID, "user-edit-name")
        nm.clear()
        nm.send_keys("Cody C. Customer")
        drv.find_element(By.ID, "user-save").click()
        if wait_for("a new name is saved", EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Cody C.")):
            ok("a new name is saved")
            check("the API has the new name", user_id(CU_EMAIL)["name"] == "Cody C. Customer")
    drain("enable, new password, rename")
    shoot("user")
    drv.get(URL + "/#/users")
    if wait_for("the list has the customer", EC.presence_of_element_located(
            (By.CSS_SELECTOR, '#users tr[data-email="%s"]' % CU_EMAIL))):
        ok("the list has the customer")
        row = drv.find_element(By.CSS_SELECTOR, '#users tr[data-email="%s"]' % TA_EMAIL).text
        check("the tenant admin's own row says (you)", "(you)" in row, row)
    drain("the users list")
    shoot("users")
    # Their own page: no Disable, no Delete, the role not changeable.
    drv.find_element(By.CSS_SELECTOR, '#users tr[data-email="%s"] a' % TA_EMAIL).click()
    if wait_for("the tenant admin's own page", EC.visibility_of_element_located((By.ID, "user-edit"))):
        ok("the tenant admin's own page")
        check("no Disable or Delete on one's own page",
              not drv.find_elements(By.ID, "user-toggle") and not drv.find_elements(By.ID, "user-delete"))
        check("one's own role cannot be changed",
              drv.find_element(By.ID, "user-edit-role").get_attribute("disabled") is not None)
    drain("one's own page")
    # Delete the customer: Cancel first, then confirmed.
    drv.get(cu_page)
    if wait_for("the customer's page offers Delete", EC.element_to_be_clickable((By.ID, "user-delete"))):
        drv.find_element(By.ID, "user-delete").click()
        wait_for("Delete asks first", EC.visibility_of_element_located((By.ID, "user-delete-yes")))
        check("the question names the user", CU_EMAIL in text_of(".confirm-q"), text_of(".confirm-q"))
        drv.find_element(By.ID, "user-delete-no").click()
        wait_for("Cancel puts the button back", EC.visibility_of_element_located((By.ID, "user-delete")))
        check("Cancel deleted nothing", user_id(CU_EMAIL) is not None)
        drv.find_element(By.ID, "user-delete").click()
        wait_for("Delete asks again", EC.element_to_be_clickable((By.ID, "user-delete-yes"))).click()
        if wait_for("a deleted user's page leads back to the list", lambda d: d.current_url.endswith("#/users")):
            ok("a deleted user's page leads back to the list")
            wait_for("the list shows", EC.visibility_of_element_located((By.CSS_SELECTOR, "#users tbody tr")))
            check("the customer is gone from the list",
                  not drv.find_elements(By.CSS_SELECTOR, '#users tr[data-email="%s"]' % CU_EMAIL))
            st, _ = api("GET", "users/" + cu["id"]) if cu else (None, None)
            check("the API no longer has the customer (%s)" % st, st == 404)
    drain("delete the customer")

    # 4. An API token: made, shown once, working; revoked, refused.
    drv.find_element(By.ID, "nav-tokens").click()
    if wait_for("the tokens page", EC.text_to_be_present_in_element((By.ID, "tokens-state"), "no API tokens")):
        ok("the tokens page says there are none yet")
    drain("tokens page")
    name = "laptop-" + UNIQ
    drv.find_element(By.ID, "token-name").send_keys(name)
    Select(drv.find_element(By.ID, "token-expiry")).select_by_value("30")
    drv.find_element(By.ID, "token-create").click()
    token = None
    if wait_for("the new token is shown", EC.visibility_of_element_located((By.ID, "new-token"))):
        ok("the new token is shown")
        token = text_of("#new-token")
        check("it is an API token", token.startswith("kdn_") and len(token) > 40, token)
        warn = text_of("#token-created .warning")
        check("a warning says it is shown only this time", "only time" in warn, warn)
        check("it has a Copy button", drv.find_elements(By.CSS_SELECTOR, "#token-created button.copy"))
        wait_for("the list has the new token", EC.presence_of_element_located(
            (By.CSS_SELECTOR, '#tokens tr[data-name="%s"]' % name)))
        row = drv.find_element(By.CSS_SELECTOR, '#tokens tr[data-name="%s"]' % name).text
        check("the new token is listed as active with an expiry", "active" in row and "never" in row, row)
    drain("create a token")
    shoot("token-created")
    if token:
        st, me = api("GET", "auth/me", token=token)
        check("the token works (%s)" % st, st == 200 and me["user"]["email"] == TA_EMAIL, me)
        drv.find_element(By.ID, "token-done").click()
        check("Done forgets the token", token not in drv.page_source)
        drv.get(URL + "/#/devices")
        wait_for("away from the tokens page", EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr")))
        drv.find_element(By.ID, "nav-tokens").click()
        wait_for("back on the tokens page", EC.presence_of_element_located(
            (By.CSS_SELECTOR, '#tokens tr[data-name="%s"]' % name)))
        check("the token is not shown again", token not in drv.page_source and not drv.find_elements(By.ID, "new-token"))
        check("nor kept in localStorage or sessionStorage", storage_empty())
        shoot("tokens")
        row = drv.find_element(By.CSS_SELECTOR, '#tokens tr[data-name="%s"]' % name)
        row.find_element(By.CSS_SELECTOR, "button.secondary").click()
        yes = wait_for("Revoke asks first", lambda d: d.find_element(
            By.CSS_SELECTOR, '#tokens tr[data-name="%s"] button.danger' % name))
        if yes:
            yes.click()
            if wait_for("the token shows revoked", EC.text_to_be_present_in_element(
                    (By.CSS_SELECTOR, '#tokens tr[data-name="%s"]' % name), "revoked")):
                ok("the token shows revoked")
                st, _ = api("GET", "auth/me", token=token)
                check("the revoked token is refused (%s)" % st, st == 401)
    drain("revoke a token")

    # 5. Usage: the numbers of GET /tenant/usage against quotas; the tenant renamed.
    _, t0 = api("GET", "tenant")
    _, u0 = api("GET", "tenant/usage")
    quotas_before = (t0 or {}).get("quotas") or {}
    max_devices = u0["devices"] + 3
    max_sessions = max(u0["sessions_active"], 1)
    max_tickets = u0["open_tickets"] + 4
    set_quotas(t0["id"], {"max_devices": max_devices, "max_concurrent_sessions": max_sessions,
                          "max_open_tickets": max_tickets})
    drv.find_element(By.LINK_TEXT, "Usage").click()
    if wait_for("the usage page", EC.visibility_of_element_located((By.ID, "usage-devices"))):
        ok("the usage page")
        st, u = api("GET", "tenant/usage")
        _, t = api("GET", "tenant")
        num = lambda css: int(text_of(css).replace(",", ""))  # noqa: E731
        for css, key in (("#usage-devices", "devices"), ("#usage-sessions-active", "sessions_active"),
                         ("#usage-users", "users"), ("#usage-devices-online", "devices_online"),
                         ("#usage-sessions-month", "sessions_this_month"), ("#usage-open-tickets", "open_tickets")):
            check("%s shows %s = %s" % (css, key, u[key]), num(css) == u[key], text_of(css))
        minutes = num("#usage-minutes")
        check("the session minutes are the API's (%d, %d)" % (minutes, u["session_minutes_this_month"]),
              abs(minutes - u["session_minutes_this_month"]) <= 1)
        for css, key in (("#usage-relay-in", "relay_bytes_in_this_month"),
                         ("#usage-relay-out", "relay_bytes_out_this_month"), ("#usage-storage", "storage_bytes")):
            shown = drv.find_element(By.CSS_SELECTOR, css).find_element(By.XPATH, "..").text
            check("%s shows %d bytes" % (css, u[key]), "(%s bytes)" % format(u[key], ",") in shown, shown)
        meter = drv.find_elements(By.ID, "usage-devices-meter")
        check("the devices meter goes to the quota (%d)" % max_devices,
              meter and meter[0].get_attribute("max") == str(max_devices)
              and meter[0].get_attribute("value") == str(u["devices"]))
        text = drv.find_element(By.ID, "usage-devices").find_element(By.XPATH, "..").text
        check("devices read 'N of %d devices'" % max_devices,
              text == "%d of %d devices" % (u["devices"], max_devices), text)
        text = drv.find_element(By.ID, "usage-open-tickets").find_element(By.XPATH, "..").text
        check("open tickets read 'N of %d tickets'" % max_tickets,
              text == "%d of %d tickets" % (u["open_tickets"], max_tickets), text)
        if u["sessions_active"] >= max_sessions:
            check("sessions at their quota say so", "At the limit" in
                  drv.find_element(By.ID, "usage-sessions-active-meter").find_element(By.XPATH, "..").text)
        check("users have no quota: 'no limit'", text_of("#usage-users-limit") == "(no limit)")
        check("the tenant's name and code", text_of("#tenant-name") == t["name"] and text_of("#tenant-code") == t["code"],
              (text_of("#tenant-name"), t))
        shoot("usage")
        shoot("usage-quotas", at="#usage-quotas")
        old = t["name"]
        box = drv.find_element(By.ID, "tenant-name-input")
        box.clear()
        box.send_keys("Renamed " + UNIQ)
        drv.find_element(By.ID, "tenant-save").click()
        if wait_for("the tenant is renamed", EC.text_to_be_present_in_element((By.ID, "tenant-name"), "Renamed " + UNIQ)):
            ok("the tenant is renamed")
            check("the API has the new name", api("GET", "tenant")[1]["name"] == "Renamed " + UNIQ)
        box.clear()
        box.send_keys(old)
        drv.find_element(By.ID, "tenant-save").click()
        wait_for("the old name is back", EC.text_to_be_present_in_element((By.ID, "tenant-message"), "Saved."))
        wait_for("the old name is shown", lambda d: d.find_element(By.ID, "tenant-name").text == old)
        # Download all data: the archive lands in the browser's downloads.
        dl = os.path.join(OUT, "downloads")
        os.makedirs(dl, exist_ok=True)
        drv.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": dl})
        drv.find_element(By.ID, "tenant-export").click()
        if wait_for("the export says where it is saved", EC.text_to_be_present_in_element(
                (By.ID, "tenant-export-message"), "Saved as kaiden-")):
            name = text_of("#tenant-export-message").split("Saved as ", 1)[1].split(" ", 1)[0]
            path = os.path.join(dl, name)
            if wait_for("the archive is in the downloads", lambda d: os.path.exists(path)):
                with open(path, encoding="utf-8") as f:
                    arch = json.load(f)
                check("the download is the tenant's export archive",
                      arch.get("format") == "kaiden-tenant-export"
                      and arch.get("tenant", {}).get("id") == t0["id"], str(arch)[:300])
    drain("usage")
    set_quotas(t0["id"], quotas_before)
    sign_out()

    # 6. A customer: no Users, no Usage; #/users says plainly they may not.
    if CUSTOMER and signed_in_as(CUSTOMER):
        labels = nav_labels()
        check("a customer's menu has neither Users nor Usage", "Users" not in labels and "Usage" not in labels, labels)
        check("a customer may still make API tokens", drv.find_elements(By.ID, "nav-tokens"))
        n = len(requested)
        drv.get(URL + "/#/users")
        if wait_for("#/users tells a customer they may not", EC.text_to_be_present_in_element(
                (By.ID, "users-refused"), "may not")):
            ok("#/users tells a customer they may not")
            check("and shows no list nor New user",
                  not drv.find_elements(By.ID, "users") and not drv.find_elements(By.ID, "user-new"))
        drv.get(URL + "/#/usage")
        wait_for("#/usage tells a customer they may not", EC.text_to_be_present_in_element(
            (By.ID, "usage-refused"), "may not"))
        drain("a customer")
        asked = [x for x in requested[n:] if "/api/v1/users" in x or "/api/v1/tenant" in x]
        check("the customer's pages asked the API nothing it would refuse", not asked, asked)
        sign_out()

    # 7. An engineer: the users, read only.
    if engineer() and signed_in_as(ENG_EMAIL):
        drv.find_element(By.LINK_TEXT, "Users").click()
        if wait_for("an engineer sees the users", EC.presence_of_element_located(
                (By.CSS_SELECTOR, '#users tr[data-email="%s"]' % TA_EMAIL))):
            ok("an engineer sees the users")
            check("an engineer is offered no New user", not drv.find_elements(By.ID, "user-new"))
            drv.find_element(By.CSS_SELECTOR, '#users tr[data-email="%s"] a' % TA_EMAIL).click()
        if wait_for("an engineer opens a user", EC.text_to_be_present_in_element((By.ID, "user-fact-email"), TA_EMAIL)):
            ok("an engineer opens a user")
            check("an engineer is offered no edit, password, disable or delete",
                  not any(drv.find_elements(By.ID, i) for i in
                          ("user-edit", "user-password-form", "user-toggle", "user-delete")))
        drv.get(URL + "/#/users/new")
        wait_for("#/users/new tells an engineer they may not", EC.text_to_be_present_in_element(
            (By.ID, "users-refused"), "may not"))
        drain("an engineer")
        sign_out()


run(steps)
