#!/usr/bin/python3
"""15_device_delete.py: a device's secret rotated, then the device removed, from its
page. Rotate secret is asked first (Cancel changes nothing); then the new secret is shown
once, in a card with the agent's commands (as after registering), differs from the old,
is gone from the page after Done and never in the API; a real kaiden-agent given the old
secret is refused (4001) and one given the new secret comes online. Removal is asked
first (Cancel keeps it); then the device leaves the list and the API, and its session
stays in the history under its name (the API names a removed device's sessions: no
request for the device, so no 404, which drain() would catch). A customer is offered no
removal."""
import re
import secrets

from agent import Agent, seen_once, wait_until
from browser import *  # noqa: F401,F403

NAME = "retired-" + secrets.token_hex(3)


def rotate(d):
    """Rotate secret on the open device page: asked first, shown once, and it works."""
    if not wait_for("the device page offers Rotate secret", EC.element_to_be_clickable((By.ID, "device-rotate"))):
        return
    check("a standalone device has no cluster note", not drv.find_elements(By.ID, "device-rotate-node"))
    drv.find_element(By.ID, "device-rotate").click()
    if wait_for("a new secret is asked first", EC.element_to_be_clickable((By.ID, "device-rotate-yes"))):
        ok("a new secret is asked first")
        check("nothing rotated before the answer", not drv.find_elements(By.ID, "device-secret"))
        shoot("device-rotate-ask", at="#device-rotate-no")
        drv.find_element(By.ID, "device-rotate-no").click()
        check("Cancel changes nothing", sql("SELECT secret_version FROM devices WHERE id = '%s'" % d["id"]) == (True, "1"))
    drv.find_element(By.ID, "device-rotate").click()
    wait_for("the question again", EC.element_to_be_clickable((By.ID, "device-rotate-yes")))
    drv.find_element(By.ID, "device-rotate-yes").click()
    if not wait_for("the new secret is shown", EC.visibility_of_element_located((By.ID, "device-secret"))):
        return
    card = drv.find_element(By.ID, "device-secret")
    check("a warning that it is shown once", "only time" in card.find_element(By.CSS_SELECTOR, ".warning").text)
    check("the card has the focus", drv.switch_to.active_element == card)
    new = text_of("#rotated-device-secret")
    cmds = text_of("#agent-commands")
    check("a new secret, not the old one", re.fullmatch(r"[A-Za-z0-9_-]{43}", new) and new != d["secret"], new)
    check("the agent's commands hold it and the device id", new in cmds and d["id"] in cmds
          and "--secret-file" in cmds, cmds)
    check("the secret's version went up", sql("SELECT secret_version FROM devices WHERE id = '%s'" % d["id"]) == (True, "2"))
    drain("rotate a device's secret")
    shoot("device-rotated", at="#device-secret")
    drv.find_element(By.ID, "device-secret-done").click()
    check("Done removes it from the page", new not in drv.page_source and not drv.find_elements(By.ID, "device-secret"))
    check("the focus goes back to Rotate secret", drv.switch_to.active_element.get_attribute("id") == "device-rotate")
    st, x = api("GET", "devices/" + d["id"])
    check("the API does not show it", st == 200 and "secret" not in x and new not in json.dumps(x), x)
    # Real agents: the old secret is refused, the card's one comes online.
    old = Agent(d["id"], d["secret"], OUT, name="rotated-old-" + d["id"][:8]).start()
    try:
        check("an agent with the old secret is refused (4001)",
              wait_until(lambda: "code=4001" in old.log_text(), 15), old.log_tail())
    finally:
        old.stop()
    check("an agent with the new secret comes online", seen_once(d["id"], new, OUT, api))


def steps():
    st, d = api("POST", "devices", {"name": NAME})
    if not check("set-up: a device to remove (%s)" % st, st == 201, d):
        return
    st, s = api("POST", "sessions", {"device_id": d["id"], "engineer_name": "Set-up"})
    check("set-up: a session on it (%s)" % st, st == 201, s)
    api("DELETE", "sessions/" + s["id"])  # over before the device goes (else 409 device_busy)

    drv.get(URL + "/#/signin")
    wait_for("the sign-in page", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD)
    wait_for("signed in", EC.visibility_of_element_located((By.ID, "signout")))
    drv.get(URL + "/#/devices/" + d["id"])
    if wait_for("the device page offers removal", EC.element_to_be_clickable((By.ID, "device-delete"))):
        drv.find_element(By.ID, "device-delete").click()
        if wait_for("removal asks first", EC.visibility_of_element_located((By.ID, "device-delete-no"))):
            ok("removal asks first")
            shoot("device-delete")
            drv.find_element(By.ID, "device-delete-no").click()
            check("Cancel keeps the device", api("GET", "devices/" + d["id"])[0] == 200)
        rotate(d)
        # Ended by now (helperd ends a pending session at once, or after its stop).
        wait_for("the session on it is over", lambda _: api("GET", "sessions/" + s["id"])[1]["status"]
                 in ("ended", "failed"))
        drv.find_element(By.ID, "device-delete").click()
        wait_for("the question again", EC.element_to_be_clickable((By.ID, "device-delete-yes")))
        drv.find_element(By.ID, "device-delete-yes").click()
        if wait_for("removal goes back to the devices", lambda dr: dr.current_url.endswith("#/devices")):
            ok("removal goes back to the devices")
            check("the API no longer has the device", api("GET", "devices/" + d["id"])[0] == 404)
    drain("remove a device")

    drv.get(URL + "/#/sessions?device_id=" + d["id"])
    if wait_for("the removed device's session is in the history", EC.visibility_of_element_located(
            (By.CSS_SELECTOR, "#sessions tbody tr"))):
        ok("the removed device's session is in the history")
        row = text_of("#sessions tbody tr")
        check("it is listed under the device's name", NAME in row, row)
    drv.get(URL + "/#/sessions/" + s["id"])
    if wait_for("the session page names the removed device", EC.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "main h1"), NAME)):
        ok("the session page names the removed device")
    drain("a removed device's session")


run(steps)
