#!/usr/bin/python3
"""50_live.py: live updates with the real daemons. The engineer has the devices page
open; a real kaiden-agent starts for a new device and its row turns online without a
reload (a marker set on window stays), then offline when the agent stops; on the device
page a session started from the page goes through its steps to active (the built-in
relay) and shows the kaiden-connect commands; End takes it to ended, and the device
page's sessions list and status follow without a reload."""
import os
import uuid

from browser import *  # noqa: F401,F403
from agent import Agent

MARK = "return window.__kaidenLiveMark === 1"
# test_portal.sh runs this once more with Cloudflare sessions (the fakes) on PostgreSQL.
PROVIDER = os.environ.get("PORTAL_PROVIDER", "relay")


def row_status(dev_id):
    def cond(d):
        rows = d.find_elements(By.CSS_SELECTOR, '#devices tr[data-device-id="%s"]' % dev_id)
        return rows[0].find_element(By.CSS_SELECTOR, "td[data-label=Status]").text.strip() \
            if rows else None
    return cond


def stream_state():
    """events.js's state(): 'live' while the page's event stream is open (it keeps it on
    <html data-events>)."""
    return drv.execute_script("return document.documentElement.dataset.events || 'none'")


def steps():
    name = "live-%s" % uuid.uuid4().hex[:8]
    status, dev = api("POST", "devices", {"name": name})
    if not check("a device registered through the API for the live test", status == 201, status):
        return
    dev_id = dev.get("device_id") or dev["id"]
    agent = Agent(dev_id, dev["secret"], OUT)

    # 1. The devices page, showing the new device offline.
    drv.get(URL + "/#/signin?next=" + "/devices")
    wait_for("the sign-in form", EC.visibility_of_element_located((By.ID, "email")))
    sign_in(PASSWORD)
    wait_for("signed in", EC.visibility_of_element_located((By.CSS_SELECTOR, "#devices tbody tr")))
    drv.get(URL + "/#/devices?q=" + name)
    if not wait_for("the new device is listed, offline",
                    lambda d: row_status(dev_id)(d) == "offline"):
        return
    ok("the new device is listed, offline")
    # The stream is open (and its first re-read sent) before the marker is set.
    wait_for("the page's event stream opens", lambda d: stream_state() == "live")
    drv.execute_script("window.__kaidenLiveMark = 1")
    drain("the devices page")
    n_before = len(requested)

    try:
        # 2. Its agent starts: the row turns online, without a reload or a poll.
        agent.start()
        if long_wait("the row turns online when the agent connects",
                     lambda d: row_status(dev_id)(d) == "online"):
            ok("the row turns online when the agent connects")
        check("no reload happened (the window's marker stays)", drv.execute_script(MARK))
        drain("device online")
        later = [u for u in requested[n_before:] if "/api/v1/devices" in u]
        check("the change came through the event stream, not a re-read", not later, later)
        st = stream_state()
        check("the page's event stream is open (%s)" % st, st == "live", st)
        seen = drv.find_element(By.CSS_SELECTOR, '#devices tr[data-device-id="%s"] '
                                'td[data-label="Last seen"]' % dev_id).text
        check("its last seen is now (%s)" % seen, seen == "just now", seen)
        agent_cell = drv.find_element(By.CSS_SELECTOR, '#devices tr[data-device-id="%s"] '
                                      'td[data-label="Agent"]' % dev_id).text
        check("its agent version shows (%s)" % agent_cell, agent_cell not in ("", "—"), agent_cell)
        shoot("device-online")

        # 3. The agent stops: offline, still without a reload.
        agent.stop()
        if long_wait("the row turns offline when the agent stops",
                     lambda d: row_status(dev_id)(d) == "offline"):
            ok("the row turns offline when the agent stops")
        check("still no reload", drv.execute_script(MARK))
        drain("device offline")

        # 4. The device page: the agent back, its status follows.
        drv.find_element(By.CSS_SELECTOR, '#devices tr[data-device-id="%s"] a' % dev_id).click()
        if wait_for("the device page opens", EC.visibility_of_element_located((By.ID, "device-status"))):
            check("the device page says offline", text_of("#device-status") == "offline",
                  text_of("#device-status"))
        agent.start()
        if long_wait("the device page turns online", lambda d: d.find_element(
                By.ID, "device-status").text.strip() == "online"):
            ok("the device page turns online")
        check("no reload on the device page", drv.execute_script(MARK))
        drain("device page online")

        # 5. A session from the page: its steps, active, the connect commands. The steps
        # the page shows are recorded as they come (how many depends on how fast the
        # provider is: the relay is often active before the page first asks).
        drv.execute_script(
            "window.__kaidenSteps = [];"
            "new MutationObserver(() => {"
            "  const e = document.getElementById('session-step');"
            "  const s = window.__kaidenSteps, t = e ? e.textContent.trim() : '';"
            "  if (t && s[s.length - 1] !== t) s.push(t);"
            "}).observe(document.body, { subtree: true, childList: true, characterData: true });")
        drv.find_element(By.ID, "session-start").click()
        if not wait_for("the session page opens",
                        EC.visibility_of_element_located((By.ID, "session-status"))):
            return
        sid = drv.current_url.rsplit("/", 1)[-1]
        if long_wait("the session becomes active", lambda d: d.find_element(
                By.ID, "session-status").text.strip() == "active"):
            ok("the session becomes active (steps shown: %s)" % " > ".join(
                drv.execute_script("return window.__kaidenSteps || []")))
        step = text_of("#session-step")
        check("its step says active (%s)" % step, "active" in step.lower(), step)
        if PROVIDER == "cloudflare":
            if wait_for("the Cloudflare addresses are shown",
                        EC.visibility_of_element_located((By.ID, "session-url"))):
                url = text_of("#session-url")
                check("the web address is the session's (%s)" % url,
                      url.startswith("https://sess-"), url)
                check("the ssh host is shown", text_of("#session-ssh-host").startswith("sess-"))
        elif wait_for("the connect commands are shown",
                      EC.visibility_of_element_located((By.ID, "connect-ssh"))):
            ssh = text_of("#connect-ssh")
            check("the ssh command names kaiden-connect and the session",
                  "kaiden-connect" in ssh and sid in ssh, ssh)
        status, js = api("GET", "sessions/" + sid)
        check("the API agrees: active, by the %s" % PROVIDER, status == 200 and
              js["status"] == "active" and js.get("provider") == PROVIDER, js)
        drain("session active")
        shoot("session-active")

        # 6. End: ended.
        drv.find_element(By.ID, "session-end").click()
        if long_wait("End takes the session to ended", lambda d: d.find_element(
                By.ID, "session-status").text.strip() == "ended"):
            ok("End takes the session to ended")
        drain("session ended")

        # 7. Back on the device page, its list shows the ended session; then the agent
        # stops and the page follows.
        drv.execute_script("history.back()")
        if wait_for("the device page lists the session", EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "#device-sessions tbody tr"))):
            row = text_of("#device-sessions tbody tr")
            check("the session is listed as ended", "ended" in row, row)
        drv.execute_script("window.__kaidenLiveMark = 1")
        status, s2 = api("POST", "sessions", {"device_id": dev_id, "engineer_name": "API"})
        check("a second session started through the API", status in (201, 202), status)
        if long_wait("the device page's list shows the new session without a reload",
                     lambda d: len(d.find_elements(By.CSS_SELECTOR, "#device-sessions tbody tr")) >= 2):
            ok("the device page's list shows the new session without a reload")
        if long_wait("the new session shows active in the list", lambda d: "active" in d.find_elements(
                By.CSS_SELECTOR, "#device-sessions tbody tr")[0].text):
            ok("the new session shows active in the list")
        api("DELETE", "sessions/" + s2["id"])
        long_wait("the list shows it ended", lambda d: "ended" in d.find_elements(
            By.CSS_SELECTOR, "#device-sessions tbody tr")[0].text)
        agent.stop()
        if long_wait("the device page turns offline", lambda d: d.find_element(
                By.ID, "device-status").text.strip() == "offline"):
            ok("the device page turns offline")
        check("no reload on the device page", drv.execute_script(MARK))
        drain("device page offline")
    finally:
        agent.stop()


run(steps)
