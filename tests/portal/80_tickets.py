#!/usr/bin/python3
"""80_tickets.py: tickets through the portal, end to end. A customer opens a ticket
about a device (the "New ticket" form) and sees it in their list; an engineer finds it
in the queue's Unassigned tab, takes it (then it is under Mine, not Unassigned), writes
an internal note and a reply, moves it to in progress, starts a session from the ticket
on the ticket's device (a real kaiden-agent runs for it) and sees the session go live in
place (no navigation: the progress, the connect commands, the ticket's sessions list and
the "session started" system entry), ends it, and marks the ticket resolved; the
customer then sees the reply and the system entries but never the internal note (in the
page nor in what the API gives the browser), closes the ticket and could reopen it.

Single mode: the customer is the default tenant's, as are the device and the engineer's
acting tenant. Multi mode: the customer is CUSTOMER_TENANT's; the device is made there
(the administrator's token acting in it) and the engineer switches to it in the header."""
import os
import re
import secrets

from selenium.webdriver.support.ui import Select

from browser import *  # noqa: F401,F403
from agent import Agent, wait_until

UNIQ = secrets.token_hex(3)
TITLE = "Till %s cannot print receipts" % UNIQ
INTERNAL = "INTERNAL-%s: driver 4.2 is broken on this model" % UNIQ
REPLY = "PUBLIC-%s: we are looking at it now." % UNIQ
ENGINEER = os.environ.get("PORTAL_ENGINEER", "")


def who():
    """api() keyword arguments acting in the customer's tenant."""
    return {"token": admin_token(), "tenant": CUSTOMER_TENANT} if CUSTOMER_TENANT else {}


def nav_labels():
    return [a.text.strip() for a in drv.find_elements(By.CSS_SELECTOR, "header nav a")]


def sign_out():
    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))


def signed_in_as(email):
    sign_in(PASSWORD, email)
    return wait_for("%s signs in" % email, EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "header .who"), email))


def status_text():
    return drv.find_element(By.CSS_SELECTOR, "#ticket-status .badge").get_attribute("data-status")


def comments(css="#ticket-comments li"):
    return [(li.get_attribute("data-type"), li.get_attribute("data-internal"), li.text)
            for li in drv.find_elements(By.CSS_SELECTOR, css)]


def browser_get(path):
    """(status, JSON) of a GET the page itself could make: the browser's fetch with its
    own cookie (what the API gives this signed-in person)."""
    return drv.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const t = sessionStorage.getItem('kaiden.tenant');
        fetch(arguments[0], {credentials: 'same-origin', headers: t ? {'X-Kaiden-Tenant': t} : {}})
          .then(async (r) => done([r.status, await r.json()]), (e) => done([0, String(e)]));""",
        "/api/v1/" + path)


def steps():
    # Set-up: a device of the customer's tenant, its real agent running.
    st, dev = api("POST", "devices", {"name": "till-" + UNIQ}, **who())
    if not check("set-up: a device of the customer's tenant (%s)" % st, st == 201, dev):
        return
    agent = Agent(dev["id"], dev["secret"], OUT).start()
    try:
        if not check("set-up: its agent is online", wait_until(lambda: (api(
                "GET", "devices/" + dev["id"], **who())[1] or {}).get("status") == "online", 15),
                agent.log_tail()):
            return
        flow(dev)
    finally:
        agent.stop()


def flow(dev):
    # 1. The customer: Tickets in the menu, New ticket, the form.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    if not signed_in_as(CUSTOMER):
        return
    check("a customer's menu has Tickets", "Tickets" in nav_labels(), nav_labels())
    check("and no Webhooks", "Webhooks" not in nav_labels(), nav_labels())
    drv.find_element(By.LINK_TEXT, "Tickets").click()
    wait_for("the customer's ticket list", EC.visibility_of_element_located((By.ID, "ticket-new")))
    check("a customer is offered no queue tabs", not drv.find_elements(By.ID, "tickets-tab-unassigned"))
    drain("the customer's tickets")
    drv.find_element(By.ID, "ticket-new").click()
    if not wait_for("New ticket opens the form", EC.visibility_of_element_located((By.ID, "ticket-title"))):
        return
    wait_for("the form lists the tenant's devices", EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#ticket-device option[value='%s']" % dev["id"])))
    drv.find_element(By.ID, "ticket-title").send_keys(TITLE)
    drv.find_element(By.ID, "ticket-description").send_keys(
        "Since this morning the till says 'printer offline'.\nI restarted it twice.")
    Select(drv.find_element(By.ID, "ticket-priority")).select_by_value("high")
    Select(drv.find_element(By.ID, "ticket-device")).select_by_value(dev["id"])
    drain("the new ticket form")
    shoot("ticket-new")
    drv.find_element(By.ID, "ticket-create").click()
    if not wait_for("opening the ticket shows its page", EC.visibility_of_element_located((By.ID, "ticket-created"))):
        return
    ok("opening the ticket shows its page")
    tid = drv.current_url.split("#/tickets/")[1].split("?")[0]
    number = drv.find_element(By.CSS_SELECTOR, "h1 .ticket-number").text
    check("its number is TKT-YYYYMMDD-NNN (%s)" % number, re.fullmatch(r"TKT-\d{8}-\d{3,}", number), number)
    check("its status is open", status_text() == "open", status_text())
    check("its priority is high", drv.find_element(By.CSS_SELECTOR, "#ticket-priority-now .badge")
          .get_attribute("data-priority") == "high")
    check("its device is named", text_of("#ticket-device-link") == dev["name"], text_of("#ticket-device-link"))
    check("the customer gets no handling controls", not drv.find_elements(By.ID, "ticket-handling"))
    check("no internal-note toggle", not drv.find_elements(By.ID, "ticket-comment-internal"))
    check("no Start a session", not drv.find_elements(By.ID, "ticket-session-form"))
    st, t = api("GET", "tickets/" + tid, **who())
    check("the API has it: the customer's, high, on the device", st == 200 and t["title"] == TITLE and
          t["priority"] == "high" and t["device_id"] == dev["id"] and t["status"] == "open", t)
    drain("the ticket opened")
    drv.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    if wait_for("the customer's list shows it", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid))):
        row = drv.find_element(By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid).text
        check("its row says open and high (%s)" % row, "Open" in row and "High" in row, row)
    drain("the customer's list")
    shoot("tickets-customer")
    sign_out()

    # 2. The engineer: the queue, Unassigned, Take it, Mine.
    if not signed_in_as(ENGINEER):
        return
    if CUSTOMER_TENANT:
        switch_tenant(CUSTOMER_TENANT)
        wait_for("the engineer acts in %s" % CUSTOMER_TENANT, lambda d: d.find_element(
            By.ID, "tenant-switch").get_attribute("value") == CUSTOMER_TENANT)
    check("an engineer's menu has Tickets", "Tickets" in nav_labels(), nav_labels())
    drv.get(URL + "/#/tickets")
    if wait_for("the queue opens on Unassigned", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid))):
        ok("the queue opens on Unassigned")
        check("the Unassigned tab is the current one", drv.find_element(
            By.ID, "tickets-tab-unassigned").get_attribute("aria-current") == "page")
    drain("the queue")
    # The order: most urgent first (the queue's default), newest first on request. Two
    # more tickets of this script's: urgent, then low (the newest).
    for prio in ("urgent", "low"):
        st, x = api("POST", "tickets", {"title": "%s order check %s" % (prio, UNIQ), "priority": prio}, **who())
        check("set-up: a %s ticket through the API (%s)" % (prio, st), st == 201, x)
    drv.get(URL + "/#/tickets?view=all&q=" + UNIQ)

    def order(d):
        rows = d.find_elements(By.CSS_SELECTOR, "#tickets tbody tr td:nth-child(4) .badge")
        return [r.get_attribute("data-priority") for r in rows] if len(rows) == 3 else None
    got = wait_for("All, searched, lists the three", order)
    check("most urgent first by default (%s)" % got, got == ["urgent", "high", "low"], got)
    old = drv.find_element(By.ID, "tickets")
    Select(drv.find_element(By.ID, "tickets-sort")).select_by_value("newest")
    wait_for("the order changes", lambda d: "sort=newest" in d.current_url)
    wait_for("the list is drawn again", EC.staleness_of(old))
    got = wait_for("newest first lists the three", order)
    check("newest first on request (%s)" % got, got == ["low", "urgent", "high"], got)
    drain("the queue's order")
    drv.get(URL + "/#/tickets?view=unassigned")
    wait_for("the queue again", EC.visibility_of_element_located((By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid)))
    drain("the queue again")
    shoot("tickets-queue")
    drv.find_element(By.CSS_SELECTOR, "#tickets tr[data-id='%s'] a" % tid).click()
    if not wait_for("the engineer opens the ticket", EC.element_to_be_clickable((By.ID, "ticket-take"))):
        return
    drv.find_element(By.ID, "ticket-take").click()
    if wait_for("Take it assigns it to the engineer", EC.text_to_be_present_in_element(
            (By.ID, "ticket-assignee-now"), "You")):
        ok("Take it assigns it to the engineer")
    st, t = api("GET", "tickets/" + tid, **who())
    st2, eng = api("GET", "users?scope=platform&q=" + ENGINEER, token=admin_token())
    eid = [u["id"] for u in (eng or {}).get("items", []) if u["email"] == ENGINEER]
    check("the API says it is the engineer's", eid and t.get("assigned_to") == eid[0], (t, eng))
    drain("take it")
    drv.get(URL + "/#/tickets?view=mine")
    if wait_for("Mine lists it", EC.visibility_of_element_located((By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid))):
        ok("Mine lists it")
    old = drv.find_element(By.ID, "tickets")
    drv.find_element(By.ID, "tickets-tab-unassigned").click()
    wait_for("Unassigned is opened", EC.staleness_of(old))
    wait_for("Unassigned is drawn", lambda d: d.find_element(By.ID, "tickets").is_displayed() or
             d.find_element(By.ID, "tickets-state").text.startswith("No "))
    check("Unassigned no longer lists it",
          not drv.find_elements(By.CSS_SELECTOR, "#tickets tr[data-id='%s']" % tid))
    drain("mine and unassigned")

    # 3. An internal note, a reply, in progress.
    drv.get(URL + "/#/tickets/" + tid)
    if not wait_for("the ticket again", EC.visibility_of_element_located((By.ID, "ticket-comment"))):
        return
    # With the keyboard alone: the text, Tab to the toggle, Space, Tab to the button, Enter.
    drv.find_element(By.ID, "ticket-comment").send_keys(INTERNAL)
    active = lambda: drv.switch_to.active_element.get_attribute("id")  # noqa: E731
    drv.switch_to.active_element.send_keys(Keys.TAB)
    check("Tab goes from the reply to the internal-note toggle (%s)" % active(),
          active() == "ticket-comment-internal", active())
    drv.switch_to.active_element.send_keys(Keys.SPACE)
    check("Space turns it on", drv.find_element(By.ID, "ticket-comment-internal").is_selected())
    check("the toggle says it is an internal note",
          text_of("#ticket-comment-add") == "Add internal note", text_of("#ticket-comment-add"))
    check("and the form is marked internal", "internal" in drv.find_element(
        By.ID, "ticket-comment-form").get_attribute("class"))
    drv.switch_to.active_element.send_keys(Keys.TAB)
    check("Tab goes on to the button (%s)" % active(), active() == "ticket-comment-add", active())
    drv.switch_to.active_element.send_keys(Keys.ENTER)
    if wait_for("the internal note is in the conversation, marked", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#ticket-comments li.comment.internal"))):
        li = drv.find_element(By.CSS_SELECTOR, "#ticket-comments li.comment.internal").text
        check("marked Internal note, with its text", "Internal note" in li and INTERNAL in li, li)
    drv.find_element(By.ID, "ticket-comment-internal").click()
    drv.find_element(By.ID, "ticket-comment").send_keys(REPLY)
    drv.find_element(By.ID, "ticket-comment-add").click()
    if wait_for("the reply is in the conversation", lambda d: any(
            REPLY in c[2] and c[1] == "false" for c in comments("#ticket-comments li.comment"))):
        ok("the reply is in the conversation, not internal")
    drain("comments")
    moves = [b.get_attribute("data-to") for b in drv.find_elements(By.CSS_SELECTOR, "#ticket-moves button")]
    check("an open ticket offers only in progress (%s)" % moves, moves == ["in_progress"], moves)
    drv.find_element(By.ID, "ticket-move-in_progress").click()
    if wait_for("Start work moves it to in progress", lambda d: status_text() == "in_progress"):
        ok("Start work moves it to in progress")
    check("a status change entry is in the conversation",
          wait_for("a status change entry", lambda d: any(c[0] == "status_change" for c in comments())))
    drain("in progress")

    # 4. A session from the ticket, live in place.
    sel = drv.find_element(By.ID, "ticket-session-device")
    wait_for("the device select is filled", lambda d: sel.get_attribute("value") == dev["id"])
    check("the session's device defaults to the ticket's", sel.get_attribute("value") == dev["id"],
          sel.get_attribute("value"))
    here = drv.current_url
    drv.execute_script("window.__kaidenTicketMark = 1")
    drv.find_element(By.ID, "ticket-session-start").click()
    if long_wait("the session goes live in the ticket's page", lambda d: d.find_elements(
            By.ID, "session-status") and d.find_element(By.ID, "session-status").text.strip() == "active"):
        ok("the session goes live in the ticket's page")
    check("without leaving the page", drv.current_url == here and
          drv.execute_script("return window.__kaidenTicketMark === 1"), drv.current_url)
    if wait_for("its connect commands are shown", EC.visibility_of_element_located((By.ID, "connect-ssh"))):
        check("the ssh command names kaiden-connect", "kaiden-connect" in text_of("#connect-ssh"))
    if long_wait("the ticket's sessions list has it", lambda d: d.find_elements(
            By.CSS_SELECTOR, "#ticket-sessions tbody tr")):
        ok("the ticket's sessions list has it")
    sid = drv.find_element(By.CSS_SELECTOR, "#ticket-sessions tbody tr").get_attribute("data-session")
    st, s = api("GET", "sessions/" + sid, **who())
    check("the API links the session to the ticket", st == 200 and s.get("ticket_id") == tid, s)
    if long_wait("a system entry says the session started", lambda d: any(
            c[0] in ("system", "status_change") and "session" in c[2].lower() for c in comments())):
        ok("a system entry says the session started")
    drain("the session from the ticket")
    shoot("ticket-session-live", at="#ticket-session")
    n_events = len([c for c in comments() if c[0] != "comment"])
    drv.find_element(By.ID, "session-end").click()
    if long_wait("End takes it to ended, in place", lambda d: d.find_element(
            By.ID, "session-status").text.strip() == "ended"):
        ok("End takes it to ended, in place")
    if long_wait("a system entry says the session ended", lambda d: len(
            [c for c in comments() if c[0] != "comment"]) > n_events):
        ok("a system entry says the session ended")
    drain("the session ended")
    drv.find_element(By.ID, "ticket-live-open").click()
    if wait_for("the session's own page links back to its ticket", EC.visibility_of_element_located(
            (By.ID, "session-ticket"))):
        check("the link is to this ticket", drv.find_element(By.ID, "session-ticket")
              .get_attribute("href").endswith("#/tickets/" + tid))
        drv.find_element(By.ID, "session-ticket").click()
    if not wait_for("back on the ticket", EC.element_to_be_clickable((By.ID, "ticket-move-resolved"))):
        return
    drain("the session's page and back")
    drv.find_element(By.ID, "ticket-move-resolved").click()
    if wait_for("Mark resolved resolves it", lambda d: status_text() == "resolved"):
        ok("Mark resolved resolves it")
    st, t = api("GET", "tickets/" + tid, **who())
    check("the API: resolved, with resolved_at", t.get("status") == "resolved" and t.get("resolved_at"), t)
    drain("resolved")
    shoot("ticket-staff")
    shoot("ticket-conversation", at="#ticket-comments-title")
    sign_out()

    # 5. The customer: the reply and the system entries, never the internal note; close.
    if not signed_in_as(CUSTOMER):
        return
    drv.get(URL + "/#/tickets/" + tid)
    if not wait_for("the customer opens the ticket", EC.visibility_of_element_located((By.ID, "ticket-comments"))):
        return
    wait_for("the conversation is drawn", lambda d: any(REPLY in c[2] for c in comments()))
    # A reply written elsewhere while the page is open shows without a reload (the page
    # follows the ticket's updated_at).
    LATER = "LATER-%s: the new driver is on its way." % UNIQ
    st, _ = api("POST", "tickets/%s/comments" % tid, {"body": LATER}, **who())
    check("staff reply elsewhere (%s)" % st, st == 201)
    if long_wait("the open page shows the reply made elsewhere, with no reload",
                 lambda d: any(LATER in c[2] for c in comments())):
        ok("the open page shows the reply made elsewhere, with no reload")
    all_text = drv.find_element(By.ID, "ticket-comments").text
    check("the customer sees the reply", REPLY in all_text, all_text[:300])
    check("the customer does not see the internal note", INTERNAL.split(":")[0] not in drv.page_source)
    check("nothing is marked internal for the customer",
          not drv.find_elements(By.CSS_SELECTOR, "#ticket-comments li.internal"))
    kinds = {c[0] for c in comments()}
    check("the customer sees the system entries (%s)" % sorted(kinds),
          "status_change" in kinds and ("system" in kinds or len([c for c in comments() if c[0] != "comment"]) >= 3), kinds)
    st, raw = browser_get("tickets/%s/comments?limit=200" % tid)
    bodies = [c.get("body", "") for c in (raw or {}).get("items", [])] if isinstance(raw, dict) else []
    check("the API gives the customer's browser no internal note (%s)" % st,
          st == 200 and bodies and not any(INTERNAL.split(":")[0] in b for b in bodies) and
          not any(c.get("internal") for c in raw["items"]), raw)
    check("the customer sees the session", drv.find_elements(By.CSS_SELECTOR, "#ticket-sessions tbody tr"))
    moves = [b.get_attribute("data-to") for b in drv.find_elements(By.CSS_SELECTOR, "#ticket-moves button")]
    check("a resolved ticket offers the customer close and reopen (%s)" % moves,
          sorted(moves) == ["closed", "open"], moves)
    drain("the customer reads the ticket")
    drv.find_element(By.ID, "ticket-move-closed").click()
    if wait_for("the customer closes it", lambda d: status_text() == "closed"):
        ok("the customer closes it")
    moves = [b.get_attribute("data-to") for b in drv.find_elements(By.CSS_SELECTOR, "#ticket-moves button")]
    check("a closed ticket offers Reopen (%s)" % moves, moves == ["open"], moves)
    st, t = api("GET", "tickets/" + tid, **who())
    check("the API says closed", t.get("status") == "closed", t)
    drain("closed")
    shoot("ticket-closed")
    shoot("ticket-customer-conversation", at="#ticket-comments-title")


run(steps)
