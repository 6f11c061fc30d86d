#!/usr/bin/python3
"""10_engineer.py: sign-in (a wrong password, the right one), the devices list, search and
filter, a device's page, registering a device (its secret once), a session started,
followed, annotated and ended, a customer's view without those buttons, sign-out, the
help page."""
from browser import *  # noqa: F401,F403


def steps():
    # 1. Signed out, / goes to the sign-in form, asking the API nothing.
    drv.get(URL + "/")
    if wait_for("signed out, / shows the sign-in form",
                EC.visibility_of_element_located((By.ID, "email"))):
        ok("signed out, / shows the sign-in form")
        check("the address is #/signin", drv.current_url.endswith("#/signin"), drv.current_url)
        check("the CSP holds: the page's scripts ran with no inline script",
              drv.execute_script("return document.querySelectorAll('script:not([src])').length") == 0)
    drain("signed out")
    shoot("signin")

    # 2. A wrong password: the API's one generic message.
    sign_in("not-the-password")
    if wait_for("a wrong password shows an error",
                EC.visibility_of_element_located((By.CSS_SELECTOR, "#signin-message .error"))):
        msg = text_of("#signin-message .error")
        check("a wrong password shows the generic error", msg == "Email or password is wrong.", msg)
        check("the password field is emptied after a failure",
              drv.find_element(By.ID, "password").get_attribute("value") == "")
    drain("wrong password", {("/api/v1/auth/login", 401)})
    shoot("signin-error")

    # 3. The right password: the devices page, the user in the header.
    sign_in(PASSWORD)
    if wait_for("signed in, the devices page shows",
                EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr"))):
        ok("signed in, the devices page shows")
        check("the header names the signed-in user", EMAIL in text_of("header .who"),
              text_of("header .who"))
        names = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#devices tbody td:first-child")]
        check("the registered device is listed", DEVICE in names, names)
        # The stack's device (the live tests' own devices, seen by their agents, may be
        # listed before it).
        row = next((r.text for r in drv.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
                    if r.text.startswith(DEVICE)), "")
        check("a device row says offline and never seen", "offline" in row and "never" in row, row)
        cookies = drv.execute_script("return document.cookie")
        check("the session cookie is out of the page's reach (HttpOnly)",
              "kaiden_session" not in cookies and "kaiden_csrf" in cookies, cookies)
        check("nothing is kept in localStorage or sessionStorage", storage_empty())
    drain("sign in and devices")
    shoot("devices")

    # 4. Search and filter (kept in the address), the empty state.
    q = drv.find_element(By.ID, "device-q")
    q.send_keys("no-such-device-zz", Keys.ENTER)
    if wait_for("a search that matches nothing shows the empty state",
                EC.text_to_be_present_in_element((By.ID, "devices-state"), "No device matches")):
        ok("a search that matches nothing shows the empty state")
        check("the search is in the address", "q=no-such-device-zz" in drv.current_url,
              drv.current_url)
    drv.get(URL + "/#/devices?status=offline&q=" + DEVICE[:6])
    if wait_for("the offline filter lists the device",
                EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr"))):
        ok("the offline filter lists the device")
        check("the status select shows the filter",
              drv.find_element(By.ID, "device-status").get_attribute("value") == "offline")
    drain("search and filter")

    # 5. The device page: its facts and (no) sessions.
    drv.find_element(By.LINK_TEXT, DEVICE).click()
    if wait_for("the device page shows its facts",
                EC.visibility_of_element_located((By.CSS_SELECTOR, "dl.facts"))):
        ok("the device page shows its facts")
        check("the device page is titled with its name", text_of("main h1") == DEVICE,
              text_of("main h1"))
        wait_for("the device page says it has no sessions",
                 EC.text_to_be_present_in_element((By.ID, "sessions-state"), "No sessions"))
    drain("device page")
    shoot("device")

    dev_id = sid = None
    # 6. Register a device: its secret once, the agent's commands, a link to it.
    NEW = "lab-server"
    drv.get(URL + "/#/devices")
    if wait_for("the devices page offers to register a device",
                EC.element_to_be_clickable((By.ID, "device-register"))):
        drv.find_element(By.ID, "device-register").click()
    if wait_for("the register page shows its form",
                EC.visibility_of_element_located((By.ID, "device-name"))):
        ok("the register page shows its form")
        check("the register page is at #/devices/new", drv.current_url.endswith("#/devices/new"),
              drv.current_url)
    drain("register page")
    shoot("device-new")
    drv.find_element(By.ID, "device-name").send_keys(NEW, Keys.ENTER)
    if wait_for("registering shows the secret once",
                EC.visibility_of_element_located((By.ID, "new-device-secret"))):
        ok("registering shows the secret once")
        secret = text_of("#new-device-secret")
        dev_id = text_of("#new-device-id")
        check("the secret is there (%d characters)" % len(secret), len(secret) >= 20, secret)
        warn = text_of("#device-secret .warning")
        check("a warning says the secret is shown only this time", "only time" in warn, warn)
        cmds = text_of("#agent-commands")
        host = urlsplit(URL).netloc
        check("the commands write the secret to a 0600 file",
              "install -m 600 /dev/stdin /etc/kaiden/device.secret" in cmds and secret in cmds, cmds)
        check("the agent command names this server, the device and the secret file",
              ("kaiden-agent --server 'wss://%s/api/v1/ws/agent' --device-id '%s' "
               "--secret-file /etc/kaiden/device.secret" % (host, dev_id)) in cmds, cmds)
        check("the secret is not in the address", secret not in drv.current_url)
        check("nothing is kept in localStorage or sessionStorage", storage_empty())
    drain("register a device")
    shoot("device-registered")
    drv.find_element(By.ID, "new-device-link").click()
    if wait_for("the link opens the new device",
                EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), NEW)):
        ok("the link opens the new device")
        wait_for("the new device has no sessions",
                 EC.text_to_be_present_in_element((By.ID, "sessions-state"), "No sessions"))
    drain("the new device")

    # (live updates: helperd runs in this stack.) helperd lets a session wait only for a
    # device seen lately, so the new device's real agent (with the secret the page
    # showed) comes once and goes; the session below then waits for it, pending.
    if dev_id:
        from agent import seen_once
        check("the new device's agent came once", seen_once(dev_id, secret, OUT, api))

    # 7. Start a session: its agent away, it stays pending, and says so.
    drv.find_element(By.ID, "session-start").click()
    if wait_for("starting a session opens its page",
                EC.visibility_of_element_located((By.ID, "session-status"))):
        ok("starting a session opens its page")
        sid = drv.current_url.rsplit("/", 1)[-1]
        check("the session page is at #/sessions/ID", "#/sessions/" in drv.current_url,
              drv.current_url)
        check("the session is pending", text_of("#session-status") == "pending",
              text_of("#session-status"))
        step = text_of("#session-step")
        check("the step is shown (%s)" % step, step not in ("", "—"), step)
        wait_for("the heading names the device",
                 EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), NEW))
        ssh = text_of("#connect-ssh")
        web = text_of("#connect-web")
        check("the ssh command is ready to copy", "kaiden-connect" in ssh and sid in ssh
              and ssh.startswith("ssh "), ssh)
        check("the web command is ready to copy", web.startswith("kaiden-connect") and sid in web, web)
        check("each command has a copy button",
              len(drv.find_elements(By.CSS_SELECTOR, "#session-access button.copy")) == 2)
        e0 = text_of("#session-elapsed")
        wait_for("the elapsed time moves",
                 lambda d: d.find_element(By.ID, "session-elapsed").text.strip() != e0)
        notes = drv.find_element(By.ID, "session-notes")
        notes.send_keys("Printer queue stuck; <b>not bold</b>")
        drv.find_element(By.ID, "session-notes-save").click()
        wait_for("the notes are saved",
                 EC.text_to_be_present_in_element((By.ID, "session-notes-state"), "Saved."))
    drain("a pending session")
    if sid:
        polls = sum(1 for u in requested if u.endswith("/api/v1/sessions/" + sid))
        check("the page reads a pending session again (%d reads)" % polls, polls >= 2)
    shoot("session")
    if sid:
        drv.find_element(By.ID, "session-end").click()
        if wait_for("End moves the session to ending or ended", lambda d: d.find_element(
                By.ID, "session-status").text.strip() in ("ending", "ended")):
            ok("End moves the session to ending or ended")
            check("the End button is gone", not drv.find_element(By.ID, "session-end").is_displayed())
            check("the connect commands are gone", not drv.find_elements(By.ID, "connect-ssh"))
        drain("end the session")
        shoot("session-ended")
        drv.refresh()
        if wait_for("the notes are kept", lambda d: d.find_element(
                By.ID, "session-notes").get_attribute("value") == "Printer queue stuck; <b>not bold</b>"):
            ok("the notes are kept (as text)")
        # Leaving the page stops its reading.
        drv.get(URL + "/#/devices")
        wait_for("back to the devices", EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr")))
        drain("leave the session page")
        n = len(requested)
        time.sleep(2.5)
        drain("after leaving the session page")
        late = [u for u in requested[n:] if "/sessions/" in u]
        check("the session page stops reading once left", not late, late)

    # 8. Sign out: the sign-in page, nothing remembered, the devices page refused.
    click_id("signout")
    if wait_for("sign-out shows the sign-in page",
                EC.visibility_of_element_located((By.ID, "email"))):
        ok("sign-out shows the sign-in page")
        cookies = drv.execute_script("return document.cookie")
        check("sign-out clears the CSRF cookie", "kaiden_csrf" not in cookies, cookies)
        check("the header names nobody after sign-out",
              not drv.find_elements(By.CSS_SELECTOR, "header .who"))
    drv.get(URL + "/#/devices")
    if wait_for("signed out, #/devices goes to the sign-in page",
                EC.visibility_of_element_located((By.ID, "email"))):
        ok("signed out, #/devices goes to the sign-in page")
    drain("sign out")

    # 8b. A customer sees the same pages without the buttons the server would refuse.
    if CUSTOMER and dev_id and sid:
        sign_in(PASSWORD, CUSTOMER)
        if wait_for("a customer signs in", EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "#devices tbody tr"))):
            ok("a customer signs in")
            check("a customer is offered no registration",
                  not drv.find_elements(By.ID, "device-register"))
        drv.get(URL + "/#/devices/new")
        if wait_for("#/devices/new tells a customer they may not register", EC.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "main .error"), "may not register")):
            ok("#/devices/new tells a customer they may not register")
            check("and shows no form", not drv.find_elements(By.ID, "device-name"))
        if MODE == "multi":
            # Multi mode: the customer is another tenant's, and sees only its devices.
            drv.get(URL + "/#/devices")
            if wait_for("a customer sees their tenant's device", EC.visibility_of_element_located(
                    (By.CSS_SELECTOR, "#devices tbody tr"))):
                names = [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#devices tbody td:first-child")]
                check("a customer sees only their tenant's devices", names == [CUSTOMER_DEVICE], names)
                check("a customer gets no tenant switcher", not drv.find_elements(By.ID, "tenant-switch"))
            drv.get(URL + "/#/devices/" + dev_id)
            if wait_for("another tenant's device is not found for a customer",
                        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main .error"), "No such device")):
                ok("another tenant's device is not found for a customer")
            drain("a customer (another tenant)", {("/api/v1/devices/" + dev_id, 404)})
        else:
            drv.get(URL + "/#/devices/" + dev_id)
            if wait_for("a customer sees the device", EC.visibility_of_element_located(
                    (By.CSS_SELECTOR, "#device-sessions tbody tr"))):
                ok("a customer sees the device and its session")
                check("a customer is offered no session start", not drv.find_elements(By.ID, "session-start"))
                drv.find_element(By.CSS_SELECTOR, "#device-sessions tbody a").click()
            if wait_for("a customer sees the session", EC.visibility_of_element_located((By.ID, "session-status"))):
                ok("a customer sees the session")
                check("the session link leads to it", drv.current_url.endswith("#/sessions/" + sid),
                      drv.current_url)
                check("a customer cannot end it", not drv.find_elements(By.ID, "session-end"))
                check("a customer reads the notes but cannot save them",
                      drv.find_element(By.ID, "session-notes").get_attribute("readonly") is not None
                      and not drv.find_elements(By.ID, "session-notes-save"))
            drain("a customer")
        click_id("signout")
        wait_for("the customer signs out", EC.visibility_of_element_located((By.ID, "email")))
        drain("the customer signs out")

    # 9. The help page (the old /), its script and style files allowed by the CSP.
    drv.get(URL + "/help.html")
    if wait_for("the help page fills its status box from /healthz",
                EC.text_to_be_present_in_element((By.ID, "health-status"), "ok")):
        ok("the help page fills its status box from /healthz")
        check("the help page is styled (help.css loaded)", drv.execute_script(
            "return getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)")
    drain("help page")
    drv.get(URL + "/#/signin")
    wait_for("back to the sign-in page", EC.visibility_of_element_located((By.ID, "email")))


run(steps)
