"""70_keyboard: the engineer's path with the keyboard only (Tab, Shift-Tab, Enter, Space
and typing; no click): the skip link, sign in, search the devices, open one, start a
session, end it. Every time the focus lands on a link, button or field, that element
shows it (a computed outline or box-shadow); after every route change the focus is on
the new page's <h1> or <main> (or the field the page chose, sign-in's email), and the
page's title is in the #announce live region for screen readers.
"""
from selenium.webdriver.common.action_chains import ActionChains

import json
import os

from browser import *  # noqa: F401,F403

CONTROLS = ("a", "button", "input", "select", "textarea", "summary")
unseen = []  # controls that had the focus without showing it


def press(*keys):
    ActionChains(drv).send_keys(*keys).perform()


def shift_tab():
    ActionChains(drv).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()


def focused():
    """What has the focus, and whether it shows it."""
    return drv.execute_script("""
        const el = document.activeElement;
        const cs = getComputedStyle(el);
        const r = el.getBoundingClientRect();
        return {tag: el.tagName.toLowerCase(), id: el.id, text: el.textContent.trim().slice(0, 60),
                cls: el.className,
                ring: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) ||
                      (cs.boxShadow && cs.boxShadow !== 'none'),
                onscreen: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
                inMain: !!el.closest('main')};""")


def note(f):
    """Records a control that has the focus but does not show it."""
    if f["tag"] in CONTROLS and not (f["ring"] and f["onscreen"]):
        unseen.append("%s#%s '%s'" % (f["tag"], f["id"], f["text"]))
    return f


def tab_to(name, want, limit=80, back=False):
    """Tab (or Shift-Tab) until want(focused()) holds; the element, or None."""
    for _ in range(limit):
        shift_tab() if back else press(Keys.TAB)
        f = note(focused())
        if want(f):
            ok("Tab reaches " + name)
            return f
    bad("Tab reaches " + name, "not in %d presses; the focus is on %s" % (limit, focused()))
    return None


def landed(name, heading):
    """After a route change: the focus on <h1> (or <main>), the title announced."""
    f = focused()
    check(name + ": the focus moved to the page's heading or <main>",
          f["tag"] in ("h1", "main") and f["inMain"], "it is on %s" % f)
    if heading:
        check(name + ": the heading that has the focus is the page's", heading in f["text"] or
              f["tag"] == "main", "it says '%s'" % f["text"])
    # #announce is .sr (clipped to 1 px): its text is read, not its rendering.
    said = lambda d: d.execute_script(  # noqa: E731
        "return document.getElementById('announce').textContent.trim()")
    if wait_for(name + ": announced to screen readers",
                lambda d: heading in said(d)) is not None:
        ok(name + ": announced to screen readers (%s)" % said(drv))


def steps():
    # helperd runs in the stack: the device's agent comes once, so the session started
    # below waits for it (pending) instead of failing at once.
    from agent import seen_once
    with open(os.environ["PORTAL_DEVICE_JSON"], encoding="utf-8") as f:
        dj = json.load(f)
    check("the device seen once", seen_once(dj.get("device_id") or dj["id"], dj["secret"], OUT, api))
    drv.get(URL + "/")
    if wait_for("the sign-in page", EC.presence_of_element_located((By.ID, "email"))) is None:
        return
    f = focused()
    check("sign-in: the focus starts in the email box", f["id"] == "email", str(f))
    check("sign-in: the email box shows the focus", f["ring"], str(f))

    # The skip link: first in the page, shown when focused, Enter moves to <main>.
    skip = tab_to("the skip link (Shift-Tab)", lambda f: "skip" in f["cls"], limit=6, back=True)
    if skip:
        check("the skip link is shown when it has the focus",
              skip["onscreen"] and skip["ring"], str(skip))
        check("the skip link says so", skip["text"] == "Skip to main content", skip["text"])
        press(Keys.ENTER)
        f = focused()
        check("Enter on the skip link moves the focus to <main>", f["tag"] == "main", str(f))
        check("the route did not change", drv.current_url.endswith("#/signin"),
              drv.current_url)
    drain("the skip link")

    # Sign in.
    if not tab_to("the email box", lambda f: f["id"] == "email", limit=5):
        return
    press(EMAIL)
    # Multi mode: the tenant code comes between the email and the password (so that Enter
    # in the password box signs in with all filled), in the order the form shows its
    # fields; staff, as here, leave it empty.
    if MODE == "multi":
        press(Keys.TAB)
        check("Tab from email reaches the tenant code box", focused()["id"] == "tenant",
              str(note(focused())))
        tops = drv.execute_script(
            "return ['email', 'tenant', 'password', 'signin'].map("
            "(i) => document.getElementById(i).getBoundingClientRect().top)")
        check("the form shows its fields in the order Tab takes (email, tenant code, "
              "password, Sign in)", tops == sorted(tops), str(tops))
    press(Keys.TAB)
    check("Tab reaches the password box", focused()["id"] == "password", str(focused()))
    press(PASSWORD)
    last = "password"
    press(Keys.TAB)
    check("Tab from %s reaches the Sign in button" % last, focused()["id"] == "signin",
          str(note(focused())))
    shift_tab()
    check("Shift-Tab goes back to the %s box" % last, focused()["id"] == last,
          str(focused()))
    press(Keys.ENTER)
    if wait_for("signed in with Enter: the devices page",
                EC.visibility_of_element_located((By.ID, "signout"))) is None:
        return
    wait_for("the devices list", lambda d: d.find_element(By.ID, "devices-state")
             .get_attribute("hidden") is not None or
             "No device" in d.find_element(By.ID, "devices-state").text)
    ok("signed in with the keyboard")
    landed("devices", "Devices")
    drain("sign-in")

    # Search for the device: the focus stays in the search box through the redraw.
    if not tab_to("the search box", lambda f: f["id"] == "device-q"):
        return
    press(DEVICE)
    drv.execute_script("document.activeElement.dataset.old = '1'")  # the box before the redraw
    press(Keys.ENTER)
    # The page is drawn again for the new query; once it has, the focus is back in the
    # search box (not sampled mid-way: held until so, or 10 s).
    if wait_for("after the search the focus is back in the search box",
                lambda d: "q=" in d.current_url and d.execute_script(
                    "const a = document.activeElement;"
                    "return a.id === 'device-q' && !a.dataset.old && a.value === arguments[0] &&"
                    " !!document.querySelector('#devices tbody tr')", DEVICE)) is not None:
        ok("after the search the focus is back in the search box")
    link = tab_to("the device's link", lambda f: f["tag"] == "a" and f["text"] == DEVICE)
    if not link:
        return
    shift_tab()
    press(Keys.TAB)
    check("Shift-Tab then Tab comes back to the device's link", focused()["text"] == DEVICE,
          str(focused()))
    drain("the devices list")
    press(Keys.ENTER)
    if wait_for("Enter opens the device", EC.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "main h1"), DEVICE)) is None:
        return
    wait_for("its sessions listed", lambda d: not d.find_element(By.ID, "sessions-state")
             .text.startswith("Loading"))
    landed("device", DEVICE)
    drain("the device")

    # Start a session with Space.
    if not tab_to("Start a session", lambda f: f["id"] == "session-start"):
        return
    press(Keys.SPACE)
    if wait_for("Space starts a session: the session page",
                EC.visibility_of_element_located((By.ID, "session-status"))) is None:
        return
    wait_for("the heading names the device", EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "main h1"), DEVICE))
    landed("session", "Session")
    drain("the session")

    # End it with Enter.
    if not tab_to("End the session", lambda f: f["id"] == "session-end"):
        return
    press(Keys.ENTER)
    if wait_for("Enter ends the session", lambda d: d.find_element(By.ID, "session-status")
                .text.strip() in ("ending", "ended")) is not None:
        ok("the session is %s" % drv.execute_script(
            "return document.getElementById('session-status').textContent.trim()"))
        f = focused()
        check("the focus goes to the progress the End changed (%s#%s)" % (f["tag"], f["id"]),
              f["id"] == "session-progress-title", f)
    drain("ending the session")

    # Sign out from the keyboard too: Shift-Tab back into the header.
    if tab_to("Sign out (Shift-Tab)", lambda f: f["id"] == "signout", back=True):
        press(Keys.ENTER)
        if wait_for("Enter signs out", EC.presence_of_element_located((By.ID, "email"))):
            ok("signed out with the keyboard")
    drain("signing out")

    check("every link, button and field that had the focus showed it (%s)" %
          ("none missed" if not unseen else len(unseen)), not unseen, "; ".join(unseen))


run(steps)
