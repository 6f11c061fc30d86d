"""browser.py: what every portal browser script shares. Importing it starts Debian's
chromium (headless, through chromedriver and python3-selenium); a script then drives the
portal of the stack tests/scripts/test_portal.sh started, and ends with run(steps).

    from browser import *          # drv, URL, EMAIL, PASSWORD, check, drain, shoot, ...
    def steps(): ...
    run(steps)

The stack is described by the environment test_portal.sh sets:
    PORTAL_URL       the portal's origin (http://127.0.0.1:PORT)
    PORTAL_EMAIL     an administrator (staff)        PORTAL_PASSWORD_FILE  their password
    PORTAL_CUSTOMER  a customer of the default tenant, with the same password
    PORTAL_DEVICE    a device registered through the API before the scripts run
    PORTAL_TOKEN     an administrator's API token (for set-up through the API; never typed
                     into the browser)
    PORTAL_DB        sqlite | postgres
    PORTAL_OUT       a directory for this script (chromium's profile, its log)
    PORTAL_SHOTS     the directory every script saves its screenshots into

Scripts run one after another (tests/portal/NN_name.py, in the order of NN), each in a
fresh browser; what one leaves behind in the stack the next may see, so a script makes
its own data and checks for it by name.

Prints one line per check, "ok NAME" or "FAIL NAME: WHY", which test_portal.sh counts.
After every step it reads the browser's console and network log: any console error, any
request that failed or answered >= 400 (but those the step expects, such as the 401 of
a wrong password) and any request to another origin fails the step. Screenshots of each
page at 1280 and 390 px wide go to PORTAL_SHOTS.
"""
import json
import os
import sys
import time
import traceback
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["PORTAL_URL"]
EMAIL = os.environ["PORTAL_EMAIL"]
PW_FILE = os.environ["PORTAL_PASSWORD_FILE"]
DEVICE = os.environ["PORTAL_DEVICE"]
OUT = os.environ["PORTAL_OUT"]
CUSTOMER = os.environ.get("PORTAL_CUSTOMER")  # a customer with the same password
TOKEN = os.environ.get("PORTAL_TOKEN", "")
DB = os.environ.get("PORTAL_DB", "sqlite")
MODE = os.environ.get("PORTAL_MODE", "single")  # single | multi (server.mode)
# Multi mode: the customer's tenant (its code) and that tenant's own device; single
# mode: empty (the customer is the default tenant's).
CUSTOMER_TENANT = os.environ.get("PORTAL_CUSTOMER_TENANT", "")
CUSTOMER_DEVICE = os.environ.get("PORTAL_CUSTOMER_DEVICE", "")
with open(PW_FILE, encoding="utf-8") as f:
    PASSWORD = f.read().strip()
ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(URL))
SHOTS = os.environ.get("PORTAL_SHOTS") or os.path.join(OUT, "screenshots")
os.makedirs(SHOTS, exist_ok=True)
os.makedirs(OUT, exist_ok=True)
failed = 0


def ok(name):
    print("ok " + name, flush=True)


def bad(name, why):
    global failed
    failed += 1
    print("FAIL %s: %s" % (name, str(why).replace("\n", " ")[:600]), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        bad(name, why or "not so")
    return cond


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--user-data-dir=" + os.path.join(OUT, "profile"), "--window-size=1280,900",
          "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--disable-extensions",
          "--lang=en-US"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
service = Service("/usr/bin/chromedriver", log_output=os.path.join(OUT, "chromedriver.log")) \
    if "log_output" in Service.__init__.__code__.co_varnames \
    else Service("/usr/bin/chromedriver", log_path=os.path.join(OUT, "chromedriver.log"))
try:
    drv = webdriver.Chrome(service=service, options=opts)
except WebDriverException as e:
    bad("chromium starts under chromedriver", e.msg)
    sys.exit(1)
ok("chromium starts under chromedriver")
# A condition that reads an element the page has just redrawn (the session page redraws
# its facts each second) is tried again, not an error.
wait = WebDriverWait(drv, 10, ignored_exceptions=(StaleElementReferenceException,))
ours = set()  # the ids of the requests the portal's pages made
requested = []  # the URLs they asked for, in order


def drain(step, allowed=()):
    """One check: since the last drain, no console error, no failed request, nothing
    fetched from elsewhere; allowed = {(path, status)} expected >= 400 answers."""
    problems = []
    allowed = set(allowed)
    if allowed:  # test_portal.sh lets these through its nginx log check too
        with open(os.path.join(OUT, "allowed-answers"), "a", encoding="utf-8") as f:
            f.writelines("%s %d\n" % a for a in sorted(allowed))
    for e in drv.get_log("browser"):
        if e.get("level") != "SEVERE":
            continue
        msg = e.get("message", "")
        if msg.startswith(("chrome://", "chrome-untrusted://", "devtools://")):
            continue  # chromium's own pages
        # Chromium logs every >= 400 answer as a console error too: the network check
        # below judges those.
        if "Failed to load resource: the server responded with a status of" in msg and \
                any(p in msg for p, _ in allowed):
            continue
        problems.append("console: " + msg)
    for e in drv.get_log("performance"):
        m = json.loads(e["message"])["message"]
        meth, p = m.get("method"), m.get("params", {})
        # Only what the portal's pages asked for: chromium's own pages (its new-tab
        # page, loading in the background at start) are not the portal's.
        if meth == "Network.requestWillBeSent":
            if not p.get("documentURL", "").startswith(ORIGIN + "/"):
                continue
            ours.add(p["requestId"])
            u = p["request"]["url"]
            requested.append(u)
            if not (u.startswith(ORIGIN + "/") or u.startswith("data:")):
                problems.append("request elsewhere: " + u)
        elif p.get("requestId") not in ours:
            continue
        elif meth == "Network.responseReceived":
            r = p["response"]
            if r["status"] >= 400:
                path = urlsplit(r["url"]).path
                if (path, r["status"]) not in allowed:
                    problems.append("%s answered %d" % (path, r["status"]))
        elif meth == "Network.loadingFailed":
            if not p.get("canceled"):
                problems.append("request failed: %s" % p.get("errorText"))
    # A value drawn as text by mistake (DOM append(null) writes "null").
    try:
        stray = drv.execute_script("""
            const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            const out = [];
            for (let n = w.nextNode(); n; n = w.nextNode()) {
              const t = n.nodeValue.trim();
              if (t === 'null' || t === 'undefined' || t === '[object Object]' || t === 'NaN') out.push(t);
            }
            return out;""")
    except WebDriverException:
        stray = []
    if stray:
        problems.append("the page shows %s as text" % ", ".join(sorted(set(stray))))
    check(step + ": no console error, failed request or outside request", not problems,
          "; ".join(problems))


def shoot(name, at=None):
    """Screenshots NAME-1280.png and NAME-390.png of what the window shows now: its top,
    or scrolled to the element the CSS selector at names (a part further down)."""
    scroll = "window.scrollTo(0, 0)" if not at else \
        "const e = document.querySelector(%s); if (e) e.scrollIntoView({block: 'start'}); " \
        "else window.scrollTo(0, 0)" % json.dumps(at)
    try:
        drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        drv.execute_script(scroll)
        drv.save_screenshot(os.path.join(SHOTS, name + "-1280.png"))
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        drv.execute_script(scroll)
        drv.save_screenshot(os.path.join(SHOTS, name + "-390.png"))
        overflow = drv.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        check("%s at 390 px: nothing wider than the screen" % name, not overflow,
              "the page scrolls sideways")
    except WebDriverException as e:
        bad("screenshots of " + name, e.msg)


def text_of(css):
    return drv.find_element(By.CSS_SELECTOR, css).text.strip()


def wait_for(name, cond):
    try:
        return wait.until(cond)
    except TimeoutException:
        bad(name, "not within 10 s; the page shows: " +
            drv.find_element(By.TAG_NAME, "body").text[:300])
        return None


def long_wait(name, cond, seconds=25):
    """wait_for with a longer bound, for what takes a server round or a session's steps;
    an element re-drawn meanwhile (a list replaced by an event) is simply read again."""
    try:
        return WebDriverWait(drv, seconds, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(cond)
    except TimeoutException:
        bad(name, "not within %d s; the page shows: %s" % (
            seconds, drv.find_element(By.TAG_NAME, "body").text[:400]))
        return None


def click_id(element_id, tries=3):
    """Finds the element with that id and clicks it, finding it again when the page drew
    it anew in between (a button a live reading re-creates, as a person's click would
    land on the new one)."""
    for i in range(tries):
        try:
            drv.find_element(By.ID, element_id).click()
            return
        except StaleElementReferenceException:
            if i == tries - 1:
                raise


def sign_in(password, email=None, tenant=None, tries=3):
    """Fills the sign-in form and submits it. The tenant code field (multi mode) gets
    tenant, or the customer's tenant for CUSTOMER, else stays empty (staff). The form is
    filled again from the start when the page drew it anew meanwhile (after a sign-out
    the sign-in page can be drawn twice), as a person would type into the new one."""
    for i in range(tries):
        try:
            _fill_sign_in(password, email, tenant)
            return
        except StaleElementReferenceException:
            if i == tries - 1:
                raise


def _fill_sign_in(password, email, tenant):
    e = drv.find_element(By.ID, "email")
    e.clear()
    e.send_keys(email or EMAIL)
    t = drv.find_elements(By.ID, "tenant")
    if t:
        t[0].clear()
        code = tenant if tenant is not None else (CUSTOMER_TENANT if email == CUSTOMER else "")
        if code:
            t[0].send_keys(code)
    p = drv.find_element(By.ID, "password")
    p.clear()
    p.send_keys(password)
    drv.find_element(By.ID, "signin").click()


def switch_tenant(code):
    """Chooses CODE in the header's tenant switcher (staff, multi mode) once the switcher
    offers it: it lists the tenants when GET /admin/tenants has answered, and is drawn
    again with each page."""
    from selenium.webdriver.support.select import Select
    if wait_for("the tenant switcher offers %s" % code, EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#tenant-switch option[value='%s']" % code))) is None:
        return False
    for _ in range(3):  # the header drawn again between the find and the choice
        try:
            Select(drv.find_element(By.ID, "tenant-switch")).select_by_value(code)
            return True
        except (StaleElementReferenceException, WebDriverException):
            wait_for("the tenant switcher offers %s" % code, EC.presence_of_element_located(
                (By.CSS_SELECTOR, "#tenant-switch option[value='%s']" % code)))
    bad("the tenant switcher chooses %s" % code, "it changed under the choice three times")
    return False


def storage_empty():
    return drv.execute_script("return localStorage.length + sessionStorage.length") == 0



def api(method, path, body=None, token=None, tenant=None):
    """(status, parsed JSON or None) of a call to the API with the stack's token (a
    service token of the default tenant: it acts there, and may not reach /admin/...) or
    the token given (admin_token(): staff), acting in tenant (X-Kaiden-Tenant: a code or
    id, for staff) when given: for set-up and for checking what a page did, never for
    what the page itself must show."""
    import urllib.request
    import urllib.error
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + "/api/v1/" + path.lstrip("/"), data=data, method=method)
    req.add_header("Authorization", "Bearer " + (token or TOKEN))
    req.add_header("Accept", "application/json")
    if tenant:
        req.add_header("X-Kaiden-Tenant", tenant)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def cli(*args):
    """kaiden-api's own commands on the stack's database (its environment names it)."""
    import subprocess
    b = os.environ.get("B", "build")
    exe = os.path.join(b if os.path.isabs(b) else os.path.join(os.getcwd(), b), "bin", "kaiden-api")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)


_admin_token = None


def admin_token():
    """An API token of the administrator (EMAIL), made once per script with kaiden-api
    token create: staff, so it reaches /admin/... and, with api(..., tenant=CODE), acts in
    any tenant (multi mode: without a tenant it acts at platform level). Revoked when the
    script ends (run()). None (a failed check) if it cannot be made."""
    global _admin_token
    if _admin_token is None:
        r = cli("token", "create", "--user", EMAIL, "--name",
                "%s set-up %s" % (os.path.basename(sys.argv[0]), os.urandom(3).hex()),
                "--expires-in-days", "1")
        tok = r.stdout.strip()
        if check("an administrator's API token for set-up (kaiden-api token create)",
                 r.returncode == 0 and tok, r.stderr.strip()):
            _admin_token = tok
    return _admin_token


def _revoke_admin_token():
    if not _admin_token:
        return
    st, mine = api("GET", "auth/tokens", token=_admin_token)
    for k in (mine or {}).get("items", []):
        if k.get("name", "").startswith(os.path.basename(sys.argv[0]) + " set-up") \
                and not k.get("revoked_at"):
            api("DELETE", "auth/tokens/" + k["id"], token=_admin_token)


def run(steps):
    """Runs steps() in the browser, reporting an exception as a failed check (a broken
    page must fail the test, not hang it); quits chromium; exits 1 if any check failed."""
    # What chromium did before the script's first page (its new-tab page) is not the
    # portal's.
    drv.get_log("browser")
    drv.get_log("performance")
    try:
        steps()
    except Exception as e:  # noqa: BLE001
        # Where in the scripts it happened (chromium's own stack says nothing).
        where = [f for f in traceback.extract_tb(e.__traceback__)
                 if f.filename.startswith(os.path.dirname(os.path.abspath(__file__)))]
        bad("the browser run of " + os.path.basename(sys.argv[0]),
            "%s at %s: %s" % (type(e).__name__,
                              " < ".join("%s:%d" % (os.path.basename(f.filename), f.lineno)
                                         for f in reversed(where)) or "?",
                              str(e).split("Stacktrace:")[0].strip()))
    finally:
        drv.quit()
        _revoke_admin_token()
    sys.exit(1 if failed else 0)


def sql(query):
    """(ok, output) of one SQL statement on the stack's database as its owner (sqlite3 on
    KAIDEN_DATABASE_PATH, or psql on KAIDEN_DATABASE_OWNER_DSN: the environment the
    stack exported), for set-up the API cannot do (issue 12: a node without an agent,
    90_clusters's node-2 and 60_a11y's). Bypasses the API's checks: set-up only."""
    import subprocess
    if DB == "sqlite":
        argv = ["sqlite3", "-batch", "-noheader", "-cmd", ".timeout 5000",
                os.environ["KAIDEN_DATABASE_PATH"], query]
    else:
        argv = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                os.environ.get("KAIDEN_DATABASE_OWNER_DSN") or os.environ["KAIDEN_DATABASE_DSN"],
                "-c", query]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return r.returncode == 0, (r.stdout if r.returncode == 0 else r.stderr).strip()
