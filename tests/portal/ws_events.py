"""ws_events.py: helperd's browser event stream (/api/v1/ws/events) through nginx, with
python3-websockets, a real login's cookie and a real kaiden-agent (tests/portal/agent.py).
Not a browser script (the NN_*.py loop skips it): test_portal.sh runs it before the
browser scripts, with the same PORTAL_* environment.

Checks: a stream opens with the login cookie and the site's Origin; a device's agent
coming and going is seen as device online/offline; a session's steps up to active and
its end are seen; refused without a cookie (401), with a foreign Origin or none (403),
for a tenant user naming another tenant (403), past the per-user cap (429); the stream
closes (4055) after a logout. Prints "ok NAME" / "FAIL NAME: WHY".
"""
import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import Agent  # noqa: E402

URL = os.environ["PORTAL_URL"]
TOKEN = os.environ["PORTAL_TOKEN"]
EMAIL = os.environ["PORTAL_EMAIL"]
CUSTOMER = os.environ.get("PORTAL_CUSTOMER")
OUT = os.environ.get("PORTAL_OUT", "/tmp")
with open(os.environ["PORTAL_PASSWORD_FILE"], encoding="utf-8") as f:
    PASSWORD = f.read().strip()
ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(URL))
WS = ("wss" if URL.startswith("https") else "ws") + URL[URL.index(":"):] + "/api/v1/ws/events"
PER_USER = 8
# Staff name the tenant they watch (needed in multi mode; single mode watches the default
# tenant anyway). The set-up token's devices are the default tenant's.
DEFAULT = "?tenant=00000000-0000-0000-0000-000000000000"
failed = 0


def ok(name):
    print("ok " + name, flush=True)


def bad(name, why):
    global failed
    failed += 1
    print("FAIL %s: %s" % (name, str(why).replace("\n", " ")[:600]), flush=True)


def check(name, cond, why=""):
    (ok if cond else lambda n: bad(n, why or "not so"))(name)
    return cond


def http(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + "/api/v1/" + path, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None), r.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None), e.headers


def api(method, path, body=None):
    status, js, _ = http(method, path, body, {"Authorization": "Bearer " + TOKEN})
    return status, js


def login(email, tenant_code="default"):
    """A real login: (Cookie header value, CSRF token)."""
    status, _, headers = http("POST", "auth/login", {"email": email, "password": PASSWORD,
                                                     "tenant_code": tenant_code})
    if status != 200:
        raise RuntimeError("login of %s: %d" % (email, status))
    jar = {}
    for line in headers.get_all("Set-Cookie") or []:
        name, _, rest = line.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return "kaiden_session=%s; kaiden_csrf=%s" % (jar["kaiden_session"], jar["kaiden_csrf"]), \
        jar["kaiden_csrf"]


async def connect(cookie, origin=ORIGIN, query=DEFAULT):
    return await websockets.connect(WS + query, subprotocols=["kaiden-events"], origin=origin,
                                    extra_headers={"Cookie": cookie} if cookie else {},
                                    open_timeout=10, ping_interval=None)


async def refused(cookie, origin=ORIGIN, query=DEFAULT):
    """The HTTP status a refused upgrade got (0 when it was accepted)."""
    try:
        ws = await connect(cookie, origin, query)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return 0


async def until(ws, pred, seconds):
    """Events read until pred(event) holds: (the matching event or None, all read)."""
    seen = []
    end = time.time() + seconds
    while time.time() < end:
        try:
            raw = await asyncio.wait_for(ws.recv(), end - time.time())
        except asyncio.TimeoutError:
            break
        ev = json.loads(raw)
        seen.append(ev)
        if pred(ev):
            return ev, seen
    return None, seen


async def steps():
    cookie, csrf = login(EMAIL)
    try:
        ws = await connect(cookie)
        ok("a stream opens with the login cookie and this site's Origin")
    except Exception as e:  # noqa: BLE001
        bad("a stream opens with the login cookie and this site's Origin", repr(e))
        return
    check("the server chose the kaiden-events subprotocol", ws.subprotocol == "kaiden-events",
          ws.subprotocol)

    # Multi mode: another tenant (the customer's, or one made here), watched by the same
    # staff member on a second stream, must hear nothing of the default tenant's device.
    other = None
    if os.environ.get("KAIDEN_SERVER_MODE") == "multi":
        code = os.environ.get("PORTAL_CUSTOMER_TENANT")
        if not code:
            code = "ws-%s" % uuid.uuid4().hex[:8]
            status, t, _ = http("POST", "admin/tenants", {"code": code, "name": "WS " + code},
                                {"Cookie": cookie, "X-Kaiden-CSRF": csrf})
            check("a second tenant (multi mode)", status == 201, (status, t))
        other = await connect(cookie, ORIGIN, "?tenant=" + code)

    name = "ws-events-%s" % uuid.uuid4().hex[:8]
    status, dev = api("POST", "devices", {"name": name})
    if not check("a device registered for the stream test", status == 201, status):
        return
    dev_id = dev.get("device_id") or dev["id"]
    agent = Agent(dev_id, dev["secret"], OUT).start()
    try:
        ev, seen = await until(ws, lambda e: e.get("type") == "device" and e.get("id") == dev_id
                               and e.get("status") == "online", 15)
        check("the agent's arrival is a device online event", ev is not None,
              "events: %s; agent: %s" % (seen, agent.log_tail()))
        check("the online event carries last_seen", bool(ev and ev.get("last_seen")), ev)
        if other:
            ev2, seen2 = await until(other, lambda e: e.get("id") == dev_id, 1.5)
            check("another tenant's stream hears nothing of it", ev2 is None and not seen2, seen2)
            await other.close()

        status, s = api("POST", "sessions", {"device_id": dev_id, "engineer_name": "ws test"})
        check("a session started on it", status in (201, 202), (status, s))
        sid = s["id"] if s else ""
        ev, seen = await until(ws, lambda e: e.get("type") == "session" and e.get("id") == sid
                               and e.get("status") in ("active", "failed"), 20)
        steps_seen = [e.get("step") for e in seen if e.get("id") == sid]
        check("the session's events reach active", ev is not None and ev["status"] == "active",
              "events: %s" % seen)
        check("each session event names its device", all(
            e.get("device_id") == dev_id for e in seen if e.get("id") == sid), seen)
        check("a step before active is seen (%s)" % ",".join(map(str, steps_seen)),
              len(steps_seen) >= 2, steps_seen)
        status, _ = api("DELETE", "sessions/" + sid)
        check("the session ended through the API", status in (200, 202, 204), status)
        ev, seen = await until(ws, lambda e: e.get("type") == "session" and e.get("id") == sid
                               and e.get("status") == "ended", 20)
        check("the session's end is seen (ended)", ev is not None, "events: %s" % seen)
    finally:
        agent.stop()
    ev, seen = await until(ws, lambda e: e.get("type") == "device" and e.get("id") == dev_id
                           and e.get("status") == "offline", 15)
    check("the agent's leaving is a device offline event", ev is not None, "events: %s" % seen)

    # Refusals, before the upgrade.
    check("refused without the cookie (401)", await refused(None) == 401)
    check("refused with a foreign Origin (403)",
          await refused(cookie, "http://evil.example") == 403)
    check("refused with the cookie but no Origin (403)", await refused(cookie, None) == 403)
    port = urlsplit(URL).port
    check("refused with another port's Origin (403)",
          await refused(cookie, "http://127.0.0.1:%d" % (port + 1 if port < 65535 else 1)) == 403)
    if CUSTOMER:
        # Multi mode: the customer may live in a tenant of its own (its code given).
        ccookie, _ = login(CUSTOMER, os.environ.get("PORTAL_CUSTOMER_TENANT") or "default")
        check("a customer's own stream opens", await refused(ccookie, ORIGIN, "") == 0)
        check("a customer naming another tenant is refused (403)",
              await refused(ccookie, ORIGIN, "?tenant=" + str(uuid.uuid4())) == 403)
    if CUSTOMER and not os.environ.get("PORTAL_CUSTOMER_TENANT"):
        # A disabled user's stream closes (and the customer is enabled again for the
        # browser scripts). The set-up token manages the default tenant's users: a
        # customer of another tenant (multi mode) is left alone.
        cws = await connect(ccookie, ORIGIN, "")
        status, js = api("GET", "users?q=" + CUSTOMER)
        items = (js or {}).get("items", []) if isinstance(js, dict) else (js or [])
        uid = items[0]["id"] if items else None
        if check("the customer found through the API", status == 200 and uid, (status, js)):
            status, _ = api("PATCH", "users/" + uid, {"status": "disabled"})
            try:
                check("the customer disabled", status == 200, status)
                try:
                    await asyncio.wait_for(cws.wait_closed(), 10)
                except asyncio.TimeoutError:
                    pass
                check("a disabled user's stream closes with 4055", cws.close_code == 4055,
                      "close code %s" % cws.close_code)
            finally:
                status, _ = api("PATCH", "users/" + uid, {"status": "active"})
                check("the customer enabled again", status == 200, status)
    more = []
    try:
        for _ in range(PER_USER - 1):
            more.append(await connect(cookie))
        check("refused past %d streams of one user (429)" % PER_USER,
              await refused(cookie) == 429)
    finally:
        for m in more:
            await m.close()

    # A logout closes the stream.
    status, _, _ = http("POST", "auth/logout", {}, {"Cookie": cookie, "X-Kaiden-CSRF": csrf})
    check("signed out", status in (200, 204), status)
    t0 = time.time()
    try:
        await asyncio.wait_for(ws.wait_closed(), 10)
    except asyncio.TimeoutError:
        pass
    check("the stream closes after the logout with 4055 (%.1f s)" % (time.time() - t0),
          ws.close_code == 4055, "close code %s" % ws.close_code)
    check("the logged-out cookie is refused (401)", await refused(cookie) == 401)


try:
    asyncio.run(steps())
except Exception as e:  # noqa: BLE001
    bad("the stream test", "%s: %s" % (type(e).__name__, e))
sys.exit(1 if failed else 0)
