#!/usr/bin/python3
"""20_sessions.py: the session history (#/sessions): its rows, the filters by device,
status, engineer and dates (kept in the address), the empty state, "More" by the cursor,
the device page's link to its sessions; a session's progress step by step (a pending
session at its first step, then followed to its end without a reload); a customer's
history without actions. Set-up through the API: two devices of this script's own and
four sessions on them (helperd runs: each device's agent came once, so sessions wait for
it, pending; ended ones end). The customer's history is of the customer's tenant: in single mode the same
device and sessions; in multi mode (the customer is CUSTOMER_TENANT's) a device and three
sessions made there the same way, with the administrator's token acting in it."""
import datetime
import os

from selenium.webdriver.support.select import Select

from browser import *  # noqa: F401,F403

TAG = "s20-%s" % os.urandom(3).hex()
ALPHA, BETA = TAG + "-alpha", TAG + "-beta"
INES, TOM = "Ines Rivera", "Tom Ng"


def setup(tenant=None):
    """{name: id} of the devices and sessions made through the API, or None; tenant: made
    in that tenant (its code) with the administrator's token, the alpha device and its
    sessions only."""
    ids = {}
    where = " in " + tenant if tenant else ""
    who = {"token": admin_token(), "tenant": tenant} if tenant else {}
    if tenant and not who["token"]:
        return None
    for name in (ALPHA,) if tenant else (ALPHA, BETA):
        st, d = api("POST", "devices", {"name": name}, **who)
        if not check("set-up: device %s registered%s" % (name, where), st == 201, (st, d)):
            return None
        ids[name] = d["id"]
        # helperd runs in the stack: the device's agent comes once, so its sessions wait
        # for it (pending) instead of failing at once.
        from agent import seen_once
        check("set-up: device %s seen once%s" % (name, where),
              seen_once(d["id"], d["secret"], OUT, lambda m, p: api(m, p, **who)))
    # Oldest first: a1, a2, a3 on alpha, b1 on beta; a1 and a3 ended (ending here).
    for key, dev, eng, notes in (("a1", ALPHA, INES, "Disk full on /var\nCleared the logs."),
                                 ("a2", ALPHA, INES, None),
                                 ("a3", ALPHA, TOM, "Printer driver"),
                                 ("b1", BETA, TOM, None)):
        if dev not in ids:
            continue
        st, s = api("POST", "sessions", {"device_id": ids[dev], "engineer_name": eng, "notes": notes}, **who)
        if not check("set-up: session %s started%s" % (key, where), st == 201, (st, s)):
            return None
        ids[key] = s["id"]
        ids[key + ".provider"] = s["provider"]
    for key in ("a1", "a3"):
        st, s = api("DELETE", "sessions/" + ids[key], **who)
        if not check("set-up: session %s ended%s" % (key, where), st == 202, (st, s)):
            return None
    return ids


def rows():
    """The history's rows as (device, engineer, status, notes), and their session ids."""
    out, sids = [], []
    for tr in drv.find_elements(By.CSS_SELECTOR, "#sessions tbody tr"):
        tds = tr.find_elements(By.TAG_NAME, "td")
        out.append(tuple(tds[i].text.strip() for i in (0, 1, 2, 5)))
        href = tds[3].find_element(By.TAG_NAME, "a").get_attribute("href")
        sids.append(href.rsplit("/", 1)[-1])
    return out, sids


def show(name, path, want_rows=None):
    """Opens #path and waits for its rows (want_rows of them, when given) or its state."""
    drv.get(URL + "/#" + path)
    if want_rows is None:
        cond = EC.visibility_of_element_located((By.CSS_SELECTOR, "#sessions tbody tr"))
    else:
        def cond(d):
            n = len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr"))
            return n == want_rows and "Loading" not in d.find_element(By.ID, "sessions-list-state").text
    return wait_for(name, cond)


def marks():
    """The session page's steps as [(group, step, mark)]."""
    out = []
    for g in drv.find_elements(By.CSS_SELECTOR, "#session-steps .step-group"):
        title = g.find_element(By.TAG_NAME, "h3").text.strip()
        for li in g.find_elements(By.CSS_SELECTOR, "li.step"):
            out.append((title, li.get_attribute("data-step"), li.get_attribute("data-mark")))
    return out


def steps():
    ids = setup()
    if not ids:
        return
    a1, a2, a3, b1 = ids["a1"], ids["a2"], ids["a3"], ids["b1"]
    today = datetime.date.today()
    relay = ids["b1.provider"] == "relay"

    # 1. Sign in; the menu's Sessions entry opens the history, newest first.
    drv.get(URL + "/#/signin")
    wait_for("the sign-in form", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD)
    wait_for("signed in", EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr")))
    drv.find_element(By.LINK_TEXT, "Sessions").click()
    if wait_for("the menu's Sessions opens the history",
                EC.visibility_of_element_located((By.CSS_SELECTOR, "#sessions tbody tr"))):
        ok("the menu's Sessions opens the history")
        check("the address is #/sessions", drv.current_url.endswith("#/sessions"), drv.current_url)
        check("the menu marks Sessions", drv.find_element(
            By.CSS_SELECTOR, "header nav a[aria-current=page]").text == "Sessions")
        got, sids = rows()
        mine = [r for r, s in zip(got, sids) if s in (a1, a2, a3, b1)]
        check("the history lists this script's sessions, newest first",
              [s for s in sids if s in (a1, a2, a3, b1)] == [b1, a3, a2, a1], sids)
        check("each row names its device, engineer and status",
              mine[0][:3] == (BETA, TOM, "pending") and mine[3][:3] == (ALPHA, INES, "ended"), mine)
        check("the notes column shows the first line only", mine[3][3] == "Disk full on /var", mine[3])
        link = drv.find_element(By.CSS_SELECTOR, "#sessions tbody tr td:first-child a")
        check("the device is a link to its page", "#/devices/" in link.get_attribute("href"))
        dur = drv.find_elements(By.CSS_SELECTOR, "#sessions tbody tr td:nth-child(5)")[0].text
        check("the duration of a live session is shown (%s)" % dur, "so far" in dur, dur)
        for eid in ("sessions-device", "sessions-engineer", "sessions-status", "sessions-from", "sessions-to"):
            lab = drv.find_elements(By.CSS_SELECTOR, "label[for=%s]" % eid)
            check("the %s filter is labelled" % eid, len(lab) == 1 and lab[0].text.strip())
    drain("the session history")
    shoot("sessions")

    # 2. Filters through the form: device (a select of the devices), status, engineer.
    Select(drv.find_element(By.ID, "sessions-device")).select_by_visible_text(ALPHA)
    if wait_for("choosing a device filters by it", lambda d: "device_id=" + ids[ALPHA] in d.current_url
                and len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 3):
        got, sids = rows()
        check("the device filter lists its three sessions", sids == [a3, a2, a1], sids)
    Select(drv.find_element(By.ID, "sessions-status")).select_by_value("ended")
    if wait_for("choosing a status adds it", lambda d: "status=ended" in d.current_url
                and len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 2):
        got, sids = rows()
        check("device and status: the two ended ones", sids == [a3, a1], sids)
    eng = drv.find_element(By.ID, "sessions-engineer")
    eng.send_keys("rIVer", Keys.ENTER)
    if wait_for("an engineer's name narrows it", lambda d: "engineer=rIVer" in d.current_url
                and len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1):
        got, sids = rows()
        check("device, status and engineer (any case): one session", sids == [a1], sids)
        check("the filters stay shown in the form",
              drv.find_element(By.ID, "sessions-engineer").get_attribute("value") == "rIVer"
              and drv.find_element(By.ID, "sessions-status").get_attribute("value") == "ended"
              and drv.find_element(By.ID, "sessions-device").get_attribute("value") == ids[ALPHA])
        check("a link clears the filters", drv.find_elements(By.ID, "sessions-clear"))
    drain("filters through the form")
    shoot("sessions-filtered")

    # 3. Filters from the address: engineer alone, dates, the empty state.
    if show("engineer=tom from the address", "/sessions?engineer=tom"):
        got, sids = rows()
        check("engineer=tom: only Tom's sessions", all(r[1] == TOM for r in got) and
              [s for s in sids if s in (a1, a2, a3, b1)] == [b1, a3], got)
    d0, d1 = today.isoformat(), (today + datetime.timedelta(days=1)).isoformat()
    dm1 = (today - datetime.timedelta(days=1)).isoformat()
    if show("from today to today", "/sessions?device_id=%s&from=%s&to=%s" % (ids[ALPHA], d0, d0), 3):
        ok("from today to today: the device's three sessions")
        check("the dates show in the form",
              drv.find_element(By.ID, "sessions-from").get_attribute("value") == d0
              and drv.find_element(By.ID, "sessions-to").get_attribute("value") == d0)
    if show("from tomorrow: nothing", "/sessions?device_id=%s&from=%s" % (ids[ALPHA], d1), 0):
        st = text_of("#sessions-list-state")
        check("the empty state says no session matches", st == "No session matches these filters.", st)
        check("the empty list shows no table", not drv.find_element(By.ID, "sessions").is_displayed())
    if show("to yesterday: nothing", "/sessions?device_id=%s&to=%s" % (ids[ALPHA], dm1), 0):
        ok("to yesterday: nothing")
    drain("filters from the address")

    # 4. Pages: two a page, More for the rest.
    if show("two a page", "/sessions?device_id=%s&limit=2" % ids[ALPHA], 2):
        more = drv.find_element(By.ID, "sessions-more")
        check("More is offered", more.is_displayed())
        more.click()
        if wait_for("More adds the rest", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 3):
            got, sids = rows()
            check("the pages together: every session once, in order", sids == [a3, a2, a1], sids)
            check("no More after the last page", not drv.find_element(By.ID, "sessions-more").is_displayed())
    drain("pages")

    # 5. The device page links to its history.
    drv.get(URL + "/#/devices/" + ids[BETA])
    if wait_for("the device page links to all its sessions",
                EC.element_to_be_clickable((By.ID, "device-all-sessions"))):
        drv.find_element(By.ID, "device-all-sessions").click()
        if wait_for("the link opens the history of that device",
                    lambda d: "device_id=" + ids[BETA] in d.current_url
                    and len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1):
            got, sids = rows()
            check("the beta device's one session", sids == [b1], sids)
            check("the device select shows it",
                  drv.find_element(By.ID, "sessions-device").get_attribute("value") == ids[BETA])
    drain("from the device page")

    # 6. A session's progress: pending at its first step (no helperd here).
    first = ["agent", "active"] if relay else ["tunnel", "dns", "token", "agent", "active"]
    drv.find_element(By.CSS_SELECTOR, "#sessions tbody tr td:nth-child(4) a").click()
    if wait_for("the row opens the session", EC.visibility_of_element_located((By.CSS_SELECTOR, "#session-steps li"))):
        ok("the row opens the session")
        m = marks()
        check("the steps are the %s's, in order" % ("relay" if relay else "Cloudflare"),
              [s for _, s, _ in m] == first, m)
        check("pending: the first step is current, the rest to do",
              [k for _, _, k in m] == ["current"] + ["todo"] * (len(first) - 1), m)
        cur = drv.find_element(By.CSS_SELECTOR, "#session-steps li[aria-current=step]")
        check("the current step is marked for screen readers too",
              cur.get_attribute("data-step") == first[0] and "in progress" in cur.get_attribute("textContent"))
        t = cur.find_elements(By.CSS_SELECTOR, "time")
        check("the first step shows when it was reached (+m:ss)", t and t[0].text.startswith("+0:"),
              [x.text for x in t])
        check("the elapsed time is shown", text_of("#session-elapsed") not in ("", "—"))
        check("the step line names the current step", text_of("#session-step") != "")
        check("no failure is shown", not drv.find_elements(By.ID, "session-failed-at"))
    drain("a pending session's steps")
    shoot("session-steps")

    # ... ended elsewhere: the page follows it to its tear-down steps without a reload.
    api("DELETE", "sessions/" + b1)
    if wait_for("the page follows the session to its end",
                lambda d: d.find_element(By.ID, "session-status").text.strip() == "ended"):
        ok("the page follows the session to its end")
        m = marks()
        end = [(s, k) for g, s, k in m if g == "Ending"]
        check("ended: the tear-down steps done", end and end[0][0] == "stop"
              and all(k == "done" for _, k in end) and end[-1][0] == "ended", m)
        setup_ = [(s, k) for g, s, k in m if g == "Setting up"]
        check("the set-up it did not finish is marked not reached",
              setup_ and setup_[0] == (first[0], "skipped"), m)
        check("the stop step shows when the page saw it", drv.find_elements(
            By.CSS_SELECTOR, "#session-steps li[data-step=stop] time"))
    drain("the page follows the end")
    # Leaving the page stops its reading.
    drv.get(URL + "/#/sessions")
    wait_for("back to the history", EC.visibility_of_element_located((By.CSS_SELECTOR, "#sessions tbody tr")))
    drain("leave the session page")
    n = len(requested)
    time.sleep(2.5)
    drain("after leaving the session page")
    late = [u for u in requested[n:] if "/sessions/" in u]
    check("the session page stops following once left", not late, late)

    # An ended session opened later: only its tear-down steps (the page did not see the
    # set-up).
    drv.get(URL + "/#/sessions/" + a1)
    if wait_for("an ending session's steps", EC.visibility_of_element_located((By.CSS_SELECTOR, "#session-steps li"))):
        m = marks()
        check("opened once ended: only the ending steps, done",
              {g for g, _, _ in m} == {"Ending"} and m[0][1:] == ("stop", "done"), m)
    drain("an ending session's steps")

    click_id("signout")
    wait_for("signed out", EC.visibility_of_element_located((By.ID, "email")))
    drain("sign out")

    # 7. A customer: the history (who, when, how long, notes), no actions. Multi mode:
    # the same device and sessions, made in the customer's tenant.
    if CUSTOMER and CUSTOMER_TENANT:
        ids = setup(CUSTOMER_TENANT)
        if not ids:
            return
        a1, a2, a3 = ids["a1"], ids["a2"], ids["a3"]
    if CUSTOMER:
        sign_in(PASSWORD, CUSTOMER)
        wait_for("a customer signs in", EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr")))
        if show("a customer sees the history", "/sessions?device_id=" + ids[ALPHA], 3):
            ok("a customer sees the history")
            got, sids = rows()
            check("a customer's history: who, when, notes", sids == [a3, a2, a1] and got[2][1] == INES
                  and got[2][3] == "Disk full on /var", got)
            check("a customer has the device select", len(drv.find_elements(
                By.CSS_SELECTOR, "#sessions-device option")) >= 3)
            check("the history page offers no action",
                  not drv.find_elements(By.CSS_SELECTOR, "main button.danger"))
        drv.get(URL + "/#/sessions/" + a2)
        if wait_for("a customer sees a session's steps", EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "#session-steps li"))):
            ok("a customer sees a session's steps")
            check("a customer cannot end it", not drv.find_elements(By.ID, "session-end"))
            check("a customer cannot save notes", not drv.find_elements(By.ID, "session-notes-save"))
        drain("a customer's history")
        click_id("signout")
        wait_for("the customer signs out", EC.visibility_of_element_located((By.ID, "email")))
        drain("the customer signs out")


run(steps)
