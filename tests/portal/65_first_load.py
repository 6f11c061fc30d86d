"""65_first_load: what the first load of the portal costs, from the browser's own account
(the Performance API's transferSize: bytes on the wire, headers included, after gzip):
the sign-in page and the devices page, each with a cold cache, must each transfer under
150 KB in total (the page, its style sheet and modules, and the API calls it makes). Then
a second visit must take every asset from the browser's cache (they are under
/app/<hash>/, kept a year) and ask the server again only for the page itself.
"""
from browser import *  # noqa: F401,F403

BUDGET = 150 * 1000  # bytes transferred, per first load

ENTRIES = """
    const nav = performance.getEntriesByType('navigation')[0];
    return [nav].concat(performance.getEntriesByType('resource')).map((e) => ({
      url: e.name, type: e.initiatorType || 'navigation', transfer: e.transferSize,
      encoded: e.encodedBodySize, decoded: e.decodedBodySize}));"""


def summary(entries):
    total = sum(e["transfer"] for e in entries)
    body = sum(e["decoded"] for e in entries)
    return total, "%d requests, %.1f KB transferred (%.1f KB before gzip)" % (
        len(entries), total / 1000, body / 1000)


def first_load(name):
    entries = drv.execute_script(ENTRIES)
    total, text = summary(entries)
    check("%s, cold cache: under %d KB transferred (%s)" % (name, BUDGET // 1000, text),
          total < BUDGET, "; ".join("%s %d" % (e["url"], e["transfer"]) for e in entries))
    # A URL asked for twice in one load (the icon) may come from the cache the second
    # time; its first time, like every other URL's, was over the network.
    first = {}
    for e in entries:
        first[e["url"]] = max(first.get(e["url"], 0), e["transfer"])
    cached = [u for u, t in first.items() if t == 0]
    check("%s, cold cache: nothing came from a cache" % name, not cached, ", ".join(cached))
    assets = [e for e in entries if "/app/" in e["url"]]
    check("%s: the style sheet and modules are counted (%d)" % (name, len(assets)),
          len(assets) >= 5, str([e["url"] for e in entries]))
    print("# %s: %s" % (name, text), file=sys.stderr)
    for e in entries:
        print("#   %6d %6d %s" % (e["transfer"], e["decoded"], e["url"]), file=sys.stderr)


def steps():
    # Sign-in: this chromium's profile is new, so its cache is empty.
    drv.get(URL + "/")
    if wait_for("the sign-in page", EC.presence_of_element_located((By.ID, "email"))) is None:
        return
    first_load("sign-in")
    drain("sign-in, first load")

    sign_in(PASSWORD)
    if wait_for("signed in", EC.presence_of_element_located((By.ID, "signout"))) is None:
        return
    drain("signing in")

    # The devices page, signed in, cache emptied, loaded afresh.
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd("Network.clearBrowserCache", {})
    drv.get(URL + "/?cold#/devices")
    if wait_for("the devices list", lambda d: d.find_elements(
            By.CSS_SELECTOR, "#devices tbody tr")) is None:
        return
    first_load("devices")
    drain("devices, first load")

    # A later visit: the assets from the cache, only the page itself asked for again.
    drv.get(URL + "/?again#/devices")
    if wait_for("the devices list again", lambda d: d.find_elements(
            By.CSS_SELECTOR, "#devices tbody tr")) is None:
        return
    entries = drv.execute_script(ENTRIES)
    fetched = [e["url"] for e in entries if "/app/" in e["url"] and e["transfer"] > 0]
    assets = [e for e in entries if "/app/" in e["url"]]
    check("a second visit takes the %d assets from the cache" % len(assets),
          assets and not fetched, "fetched again: " + ", ".join(fetched))
    total, text = summary(entries)
    ok("a second visit: %s" % text)
    drain("devices, second visit")


run(steps)
