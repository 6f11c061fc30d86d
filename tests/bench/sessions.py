#!/usr/bin/env python3
"""sessions.py: the measuring half of tests/bench/sessions.sh (which starts the stack).

    sessions.py API_URL TOKEN DEVICE_ID CF_URL N LATENCY_MS [CALLS_FILE]

Sets the fake Cloudflare API's per-call latency, then runs N sessions one after another
for DEVICE_ID: POST /api/v1/sessions, GET /api/v1/sessions/{id} every 20 ms until
"active" (setup time), DELETE, the same poll until "ended" (teardown time). Between the
marks it counts the Cloudflare API calls the fake logged (GET /_fake/log?kind=api&since=).
Prints one summary line per setting (p50/p95/max in ms, calls per start and per end) and
the calls of the first start and end by method and path shape (appended to CALLS_FILE).
"""

import json
import re
import sys
import time
import urllib.request

POLL_S = 0.020
TIMEOUT_S = 60


def req(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method)
    if token:
        r.add_header("Authorization", "Bearer " + token)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(r, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def pct(values, p):
    v = sorted(values)
    # nearest rank
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.4999)) - 1))
    return v[k]


def shape(path):
    path = re.sub(r"^/client/v4", "", path)
    path = re.sub(r"/[0-9a-f]{32}(?=/|$)", "/{id}", path)
    path = re.sub(r"/[0-9a-f-]{36}(?=/|$)", "/{uuid}", path)
    return path


def main():
    api, token, dev, cf, n, latency = sys.argv[1:7]
    n, latency = int(n), int(latency)
    req("POST", cf + "/_fake/faults", body={"clear": True, "latency_ms": latency})

    def last_seq():
        log = req("GET", cf + "/_fake/log")["result"]
        return log[-1]["seq"] if log else 0

    def calls(since):
        return [e for e in req("GET", cf + "/_fake/log?kind=api&since=%d" % since)["result"]]

    def wait(sid, status):
        t_end = time.monotonic() + TIMEOUT_S
        while True:
            s = req("GET", "%s/api/v1/sessions/%s" % (api, sid), token)
            if s["status"] == status:
                return
            if s["status"] in ("failed", "ended") and s["status"] != status:
                raise SystemExit("session %s is %s, waiting for %s (error: %s)"
                                 % (sid, s["status"], status, s.get("error")))
            if time.monotonic() > t_end:
                raise SystemExit("session %s still %s after %d s" % (sid, s["status"], TIMEOUT_S))
            time.sleep(POLL_S)

    setup, teardown, c_start, c_end = [], [], [], []
    first = None
    for i in range(n):
        seq0 = last_seq()
        t0 = time.monotonic()
        s = req("POST", api + "/api/v1/sessions", token,
                {"device_id": dev, "engineer_name": "bench"})
        wait(s["id"], "active")
        t1 = time.monotonic()
        seq1 = last_seq()
        req("DELETE", "%s/api/v1/sessions/%s" % (api, s["id"]), token)
        wait(s["id"], "ended")
        t2 = time.monotonic()
        seq2 = last_seq()
        start_calls = [e for e in calls(seq0) if e["seq"] <= seq1]
        end_calls = [e for e in calls(seq1) if e["seq"] <= seq2]
        setup.append((t1 - t0) * 1000)
        teardown.append((t2 - t1) * 1000)
        c_start.append(len(start_calls))
        c_end.append(len(end_calls))
        if first is None:
            first = (start_calls, end_calls)
        print("  session %2d: setup %6.0f ms (%d calls), teardown %6.0f ms (%d calls)"
              % (i + 1, setup[-1], c_start[-1], teardown[-1], c_end[-1]), file=sys.stderr)
    req("POST", cf + "/_fake/faults", body={"clear": True})

    print("| %4d ms | %3d | %6.0f | %6.0f | %6.0f | %6.0f | %6.0f | %6.0f | %s | %s |"
          % (latency, n, pct(setup, 50), pct(setup, 95), max(setup),
             pct(teardown, 50), pct(teardown, 95), max(teardown),
             "%g" % (sum(c_start) / float(n)) + ("" if min(c_start) == max(c_start)
                                                 else " (%d-%d)" % (min(c_start), max(c_start))),
             "%g" % (sum(c_end) / float(n)) + ("" if min(c_end) == max(c_end)
                                               else " (%d-%d)" % (min(c_end), max(c_end)))))
    if len(sys.argv) > 7 and first:
        with open(sys.argv[7], "a") as out:
            for name, cs in (("start", first[0]), ("end", first[1])):
                out.write("%d ms, calls of the first session's %s: %s\n" % (
                    latency, name, ", ".join("%s %s" % (e["method"], shape(e["path"])) for e in cs)))


if __name__ == "__main__":
    main()
