#!/usr/bin/env python3
"""webhook_receiver.py: a customer's webhook endpoint, for the delivery tests (issue 11).

    webhook_receiver.py [--port 0] [--port-file F] [--log F.jsonl]

Listens on 127.0.0.1 (ThreadingHTTPServer: one thread per request, so a held request
holds nobody else). The first stdout line is the port; --port-file is written once it
listens. Python 3 standard library only.

A hook is a path: any POST outside /_ is a delivery to the hook at that path (e.g.
/h/a). Each is verified as a real receiver would (common/webhook_sign.h): the
Kaiden-Signature header's t and v1 against HMAC-SHA256(secret, "<t>.<body>") with the
path's secret, any one v1 matching, compared in constant time, t within 300 s; and
recorded (in memory, GET /_log, and one JSON line per request in --log):
    seq, path, arrival (unix seconds, float, when the request came in), answered,
    event_id (the Kaiden-Event-Id header), body_id, type, tenant_id (from the JSON body),
    t, verdict (ok | mismatch | malformed | stale | no_secret | no_header),
    status (what it answered), user_agent, content_type
Secrets and signatures are never recorded.

Control (no auth; loopback only):
    POST /_config/<path>  {"secret": "whsec_...", "fail_first": N, "fail_status": 500,
                           "status": 200, "redirect": "/elsewhere", "hold": true}
        merged into the path's settings. The answer: "hold" keeps requests waiting
        until released; then the first fail_first requests get fail_status; then
        "redirect" answers 302 with Location: <redirect> (on this server), else
        "status" (default 200). A bad signature is answered 400 whatever the settings.
    GET /_release/<path>  lets the held requests (and every later one) through
    GET /_log[?path=P]    {"requests": [...]} in arrival order
    GET /_wait?path=P&count=N[&held=1][&timeout=S]
        blocks until P has N recorded requests (held=1: N requests waiting at the gate),
        then answers as /_log; 408 after the timeout (default 30 s)
    GET /_health          {"ok": true}
"""

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer

from fakeserve import JSONHandler, serve

TOLERANCE = 300
MAX_BODY = 1 << 20

lock = threading.Condition()
settings = {}   # path -> dict
records = []    # dicts, arrival order
held = {}       # path -> requests waiting at the gate now
log_file = None


def verify(header, secret, body, now):
    """The verdict on a Kaiden-Signature header, by webhook_sign.h's rules."""
    if header is None:
        return "no_header", None
    if not secret:
        return "no_secret", None
    t, v1 = None, []
    for item in header.strip(" \t").split(","):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            return "malformed", None
        if key == "t":
            if t is not None or not value.isdigit() or len(value) > 18 or \
                    (len(value) > 1 and value[0] == "0"):
                return "malformed", None
            t = int(value)
        elif key == "v1":
            if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
                return "malformed", None
            v1.append(value.lower())
    if t is None or not v1 or len(v1) > 8:
        return "malformed", t
    want = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    good = False
    for v in v1:
        good |= hmac.compare_digest(v, want)
    if not good:
        return "mismatch", t
    if abs(now - t) > TOLERANCE:
        return "stale", t
    return "ok", t


class Handler(JSONHandler):
    max_body = MAX_BODY

    def answer(self, status, obj=None, headers=()):
        self.send_json(status, obj, headers)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_health":
            return self.answer(200, {"ok": True})
        if url.path.startswith("/_release/"):
            path = url.path[len("/_release"):]
            with lock:
                settings.setdefault(path, {})["hold"] = False
                lock.notify_all()
            return self.answer(200, {"released": path})
        if url.path == "/_log":
            with lock:
                return self.answer(200, {"requests": self.select(q.get("path"))})
        if url.path == "/_wait":
            path, count = q.get("path"), int(q.get("count", "1"))
            deadline = time.time() + float(q.get("timeout", "30"))
            with lock:
                while True:
                    got = held.get(path, 0) if q.get("held") else len(self.select(path))
                    if got >= count:
                        return self.answer(200, {"requests": self.select(path)})
                    left = deadline - time.time()
                    if left <= 0:
                        return self.answer(408, {"requests": self.select(path)})
                    lock.wait(left)
        return self.answer(404, {"error": "no such control call"})

    @staticmethod
    def select(path):
        return [r for r in records if path is None or r["path"] == path]

    def do_POST(self):
        arrival = time.time()
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if body is None:
            return self.answer(413, {"error": "too large"})
        if url.path.startswith("/_config/"):
            path = url.path[len("/_config"):]
            with lock:
                settings.setdefault(path, {}).update(json.loads(body or b"{}"))
                lock.notify_all()
            return self.answer(200, {"path": path})
        self.deliver(url.path, body, arrival)

    def deliver(self, path, body, arrival):
        with lock:
            conf = settings.setdefault(path, {})
            held[path] = held.get(path, 0) + 1
            lock.notify_all()
            while conf.get("hold"):
                lock.wait()
            held[path] -= 1
            secret = conf.get("secret")
        verdict, t = verify(self.headers.get("Kaiden-Signature"), secret, body, int(time.time()))
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        if not isinstance(event, dict):
            event = {}
        headers = []
        with lock:
            seen = len(self.select(path))
            if verdict != "ok":
                status = 400
            elif seen < conf.get("fail_first", 0):
                status = conf.get("fail_status", 500)
            elif conf.get("redirect"):
                status = 302
                headers.append(("Location", conf["redirect"]))
            else:
                status = conf.get("status", 200)
            rec = {
                "seq": len(records) + 1, "path": path, "arrival": arrival,
                "answered": time.time(), "event_id": self.headers.get("Kaiden-Event-Id"),
                "body_id": event.get("id"), "type": event.get("type"),
                "tenant_id": event.get("tenant_id"), "t": t, "verdict": verdict,
                "status": status, "user_agent": self.headers.get("User-Agent"),
                "content_type": self.headers.get("Content-Type"),
            }
            records.append(rec)
            if log_file:
                log_file.write(json.dumps(rec) + "\n")
                log_file.flush()
            lock.notify_all()
        self.answer(status, {"received": status < 300}, headers)


def main():
    global log_file
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    args = ap.parse_args()
    if args.log:
        log_file = open(args.log, "a")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
