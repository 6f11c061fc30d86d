#!/usr/bin/python3
"""15_device_delete.py: removing a device from its page. Asked first (Cancel keeps it);
then the device leaves the list and the API, and its session stays in the history under
its name (the API names a removed device's sessions: no request for the device, so no
404, which drain() would catch). A customer is offered no removal."""
import secrets

from browser import *  # noqa: F401,F403

NAME = "retired-" + secrets.token_hex(3)


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
