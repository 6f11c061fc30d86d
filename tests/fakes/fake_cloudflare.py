#!/usr/bin/env python3
"""fake_cloudflare.py: an in-memory stand-in for the parts of the Cloudflare v4 API that
Kaiden uses (tunnels, DNS records, Access apps and policies), with fault injection and a
control API for tests.

Facts come from shared/ref/cloudflare-api.md (section 8 is the checklist). Where the ref
says "unconfirmed", or says nothing, the fake makes a choice; every such choice is listed
under "Guesses" in tests/fakes/README.md, and the codes that are guesses are marked below.

Standard library only: the test machines have Debian's python3 and nothing else.

    fake_cloudflare.py --port 0 --port-file P --token T --account A --zone Z

prints the chosen port as the first line of stdout (and writes it to --port-file).
"""

import argparse
import base64
import binascii
import hmac
import ipaddress
import json
import math
import os
import re
import secrets
import select
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/client/v4"
CONTROL_PREFIX = "/_fake/"
MAX_BODY = 1 << 20  # the real API refuses huge bodies too; 1 MiB is plenty for us

# --- error codes -------------------------------------------------------------------------
# (ref) = in shared/ref/cloudflare-api.md; (seen) = in public error reports, not the ref;
# (guess) = the fake's choice, listed in README.md.
E_AUTH = (10000, "Authentication error")                                       # (ref)
E_RATE = (971, "Please wait and consider throttling your request speed")       # (ref)
E_ROUTE = 7003                                                                 # (seen)
E_NO_ROUTE = (7000, "No route for that URI")                                   # (seen)
E_METHOD = (7001, "Method not allowed")                                        # (guess)
E_BAD_JSON = (6007, "Malformed JSON in request body")                          # (seen)
E_BAD_HEADERS = (6003, "Invalid request headers")                              # (seen)
E_BAD_CTYPE = (6105, "Invalid Content-Type header, valid values are "
               "application/json,multipart/form-data")                         # (seen)
E_INTERNAL = (10001, "Internal server error")                                  # (guess)
E_TUNNEL_INVALID = 1001                                                        # (guess)
E_TUNNEL_NOT_FOUND = (1003, "Tunnel not found")                                # (guess)
E_TUNNEL_NAME = (1013, "You already have a tunnel with this name")            # (ref code)
E_TUNNEL_ACTIVE = (1022, "Cannot delete tunnel because it has active connections")  # (ref)
E_TUNNEL_WARP = (1023, "Cannot delete tunnel because it has warp routing enabled")  # (ref code)
E_TUNNEL_SECRET = (1021, "Invalid tunnel secret")                              # (guess)
E_DNS_VALIDATION = (1004, "DNS Validation Error")                              # (seen)
E_DNS_NOT_FOUND = (81044, "Record does not exist.")                            # (seen)
E_DNS_HOST_EXISTS = (81053, "An A, AAAA, or CNAME record with that host already exists.")  # (ref)
E_DNS_CNAME_EXISTS = (81054, "A CNAME record with that host already exists.")  # (ref)
E_DNS_IDENTICAL = (81057, "Record already exists.")                           # (ref)
E_DNS_BATCH_SIZE = 81058                                                       # (guess)
E_ACCESS_INVALID = 12130                                                       # (guess)
E_ACCESS_NOT_FOUND = 12132                                                     # (guess)
E_ACCESS_CONFLICT = 12133                                                      # (guess)

# Page sizes. DNS's default is in the ref; the others are guesses (README.md). The
# Access lists' cap is below the 100 helperd's sweep asks for, on purpose: a client
# that takes a page shorter than its per_page for the last one stops after page 1.
# Faults' "max_per_page" lowers any of them for one test.
TUNNEL_PER_PAGE, TUNNEL_MAX_PER_PAGE = 20, 1000
DNS_PER_PAGE, DNS_MAX_PER_PAGE = 100, 5000000
ACCESS_PER_PAGE, ACCESS_MAX_PER_PAGE = 25, 50
PAGE_CAP_KINDS = ("tunnels", "dns", "access")
# Records one dns_records/batch may touch: the Free plan's (Cloudflare's "Batch record
# changes" page: Free 200, paid plans 3,500).
DNS_BATCH_MAX = 200

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HOST_RE = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$")
# Services an ingress rule may name (ref, section 3; plus the two cloudflared built-ins).
SERVICE_RE = re.compile(r"^((https?|tcp|ssh|rdp|smb|unix\+tls|unix)://?\S+|unix:\S+|"
                        r"http_status:[1-5][0-9][0-9]|hello_world|bastion)$")
DNS_TYPES = {"A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "HTTPS", "SVCB"}
PROXIABLE = {"A", "AAAA", "CNAME"}
ACCESS_TYPES = {"self_hosted", "ssh", "vnc", "rdp", "saas", "bookmark", "app_launcher",
                "warp", "biso", "infrastructure"}
BROWSER_RENDERED = {"ssh", "vnc", "rdp"}  # only allow/deny policies (ref, section 5)
DECISIONS = {"allow", "deny", "non_identity", "bypass"}


def now_iso():
    """RFC 3339 with microseconds, UTC, the shape Cloudflare uses for created_at."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hex_id(nbytes=16):
    return secrets.token_hex(nbytes)


class ApiError(Exception):
    """One failed API call: HTTP status plus Cloudflare's errors list."""

    def __init__(self, status, code, message, chain=None, headers=None):
        super().__init__(message)
        self.status = status
        self.errors = [{"code": code, "message": message}]
        if chain:
            self.errors[0]["error_chain"] = [{"code": c, "message": m} for c, m in chain]
        self.headers = headers or []


def err(status, pair, message=None, chain=None):
    code, default = pair
    return ApiError(status, code, message or default, chain)


def envelope(result=None, errors=None, result_info=None, messages=None):
    """Cloudflare's envelope. success follows errors; result is null on failure."""
    env = {"success": not errors, "errors": errors or [], "messages": messages or [],
           "result": None if errors else result}
    if result_info is not None and not errors:
        env["result_info"] = result_info
    return env


def truthy(value):
    return str(value).lower() in ("1", "true", "yes")


def int_param(query, name, default, error_code):
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, error_code, f"{name} must be an integer") from None
    if value < 1:
        raise ApiError(400, error_code, f"{name} must be at least 1")
    return value


def paginate(items, query, default_per_page, max_per_page, error_code):
    """Slice one page and build the exact result_info the ref describes."""
    page = int_param(query, "page", 1, error_code)
    # Above the maximum the fake clamps (guess) rather than failing.
    per_page = min(int_param(query, "per_page", default_per_page, error_code), max_per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    info = {"page": page, "per_page": per_page, "count": len(chunk),
            "total_count": len(items),
            "total_pages": max(1, math.ceil(len(items) / per_page))}
    return chunk, info


def norm_host(name):
    return name.strip().rstrip(".").lower()


def redact(body):
    """Copy of a request body with secrets replaced, for the request log."""
    if isinstance(body, dict):
        return {k: ("[redacted]" if k in ("tunnel_secret", "secret", "token") and v
                    else redact(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [redact(v) for v in body]
    return body


# --- faults --------------------------------------------------------------------------------

class Faults:
    """What goes wrong, and when. All methods run under State.lock.

    rate_limit: fixed window (limit calls per window_s) like the real 1200 / 300 s, on by
    default; rate_limit_next: the next K calls get 429; fail/drop: rules matched by method
    and a regex on the path after /client/v4, each used up after `count` matches
    (-1 = forever), applied before the call runs or, with "after": true, after it ran (the
    change is made but the reply is lost, as when a proxy dies mid-reply)."""

    def __init__(self, limit, window_s):
        self.default_limit, self.default_window = limit, window_s
        self.clear()

    def clear(self):
        self.limit = self.default_limit
        self.window_s = self.default_window
        self.window_start = None
        self.window_calls = 0
        self.rate_limit_next = 0
        self.retry_after = None
        self.latency_ms = 0
        self.fail = []
        self.drop = []
        self.linger_s = 0
        self.max_per_page = {}

    def cap(self, kind, max_per_page):
        """The page-size cap of a list kind: the fixed one, or a lower one set here."""
        return min(max_per_page, self.max_per_page.get(kind, max_per_page))

    def view(self):
        return {"rate_limit": ({"limit": self.limit, "window_s": self.window_s,
                                "used": self.window_calls} if self.limit else None),
                "rate_limit_next": self.rate_limit_next, "retry_after": self.retry_after,
                "latency_ms": self.latency_ms, "fail": self.fail, "drop": self.drop,
                "linger_s": self.linger_s, "max_per_page": self.max_per_page}

    def update(self, body):
        if body.get("clear"):
            self.clear()
        if "rate_limit" in body:
            rl = body["rate_limit"]
            if rl is None:
                self.limit = 0
            else:
                self.limit = int(rl.get("limit", self.default_limit))
                self.window_s = float(rl.get("window_s", self.default_window))
            self.window_start, self.window_calls = None, 0
        for key in ("rate_limit_next", "latency_ms"):
            if key in body:
                setattr(self, key, int(body[key]))
        if "retry_after" in body:
            self.retry_after = None if body["retry_after"] is None else int(body["retry_after"])
        if "linger_s" in body:
            self.linger_s = float(body["linger_s"])
        for kind, cap in (body.get("max_per_page") or {}).items():
            if kind not in PAGE_CAP_KINDS or int(cap) < 1:
                raise ValueError(f"max_per_page: {kind} must be one of {PAGE_CAP_KINDS}, "
                                 "with a cap of at least 1")
            self.max_per_page[kind] = int(cap)
        for kind in ("fail", "drop"):
            for rule in body.get(kind, []):
                r = {"method": str(rule.get("method", "*")).upper(),
                     "path": rule.get("path", ".*"), "count": int(rule.get("count", 1)),
                     "after": bool(rule.get("after", False)),
                     "delay_ms": int(rule.get("delay_ms", 0))}
                re.compile(r["path"])  # reject a bad pattern now, not at match time
                if kind == "fail":
                    r["status"] = int(rule.get("status", 500))
                    r["code"] = int(rule.get("code", E_INTERNAL[0]))
                    r["message"] = rule.get("message", E_INTERNAL[1])
                    r["html"] = bool(rule.get("html", False))
                getattr(self, kind).append(r)

    def rate_limited(self):
        """Count one API call; return Retry-After seconds if it must get a 429."""
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self.retry_after if self.retry_after is not None else 1
        if not self.limit:
            return None
        now = time.monotonic()
        if self.window_start is None or now - self.window_start >= self.window_s:
            self.window_start, self.window_calls = now, 0
        if self.window_calls >= self.limit:
            left = self.window_s - (now - self.window_start)
            return self.retry_after if self.retry_after is not None else max(1, math.ceil(left))
        self.window_calls += 1
        return None

    def ratelimit_headers(self):
        if not self.limit:
            return []
        left = self.window_s
        if self.window_start is not None:
            left = max(0, self.window_s - (time.monotonic() - self.window_start))
        remaining = max(0, self.limit - self.window_calls)
        return [("Ratelimit", f'"default";r={remaining};t={math.ceil(left)}'),
                ("Ratelimit-Policy", f'"default";q={self.limit};w={int(self.window_s)}')]

    def take(self, kind, method, path):
        """First matching rule of `kind`, consuming one use; None if none matches."""
        rules = getattr(self, kind)
        for rule in rules:
            if rule["method"] not in ("*", method) or not re.search(rule["path"], path):
                continue
            if rule["count"] > 0:
                rule["count"] -= 1
                if rule["count"] == 0:
                    rules.remove(rule)
            return dict(rule)
        return None


# --- holds ---------------------------------------------------------------------------------

class Holds:
    """Gates that hold the system in a state a test asserts, instead of racing a timer.

    A test arms a hold on the next call(s) matching a method and a regex on the path after
    /client/v4 (as fault rules match). A call it catches (its log entry gets "hold": id)
    waits in its own thread (the server is threaded: every other call and the control API
    go on) until the test releases it: then it runs as usual, or with drop it is closed
    unanswered and never runs (fault "hold_drop"). A held call whose client hangs up
    (helperd killed) is abandoned: never run, logged with fault "abandoned", as a request
    the origin never saw. A test arms, acts, then waits (blocking, with a timeout) until the hold has
    caught its call: from then on the client sits in that call until the release.

    Its own lock and condition, not State.lock: a held call and a waiting test must never
    block the rest of the fake."""

    POLL_S = 0.05  # how often a held call looks for a hung-up client
    MAX_WAIT_S = 300

    def __init__(self):
        self.cv = threading.Condition()
        self.next_id = 0
        self.holds = {}  # id -> hold; insertion order = arming order

    @staticmethod
    def _view(hold):
        return {k: v for k, v in hold.items() if not k.startswith("_")}

    def arm(self, body):
        method = str(body.get("method", "*")).upper()
        path = str(body.get("path", ".*"))
        re.compile(path)  # a bad pattern is refused now
        count = int(body.get("count", 1))
        if count == 0 or count < -1:
            raise ValueError("count must be at least 1, or -1 for every call")
        with self.cv:
            self.next_id += 1
            hold = {"id": self.next_id, "method": method, "path": path, "count": count,
                    "caught": 0, "released": None, "calls": []}
            self.holds[hold["id"]] = hold
            return self._view(hold)

    def list(self):
        with self.cv:
            return [self._view(h) for h in self.holds.values()]

    def _get(self, hid):
        hold = self.holds.get(hid)
        if hold is None:
            raise ApiError(404, 1, f"no hold {hid}")
        return hold

    def wait(self, hid, body):
        """Blocks until hold hid has caught `calls` calls (default 1) or timeout_s passed
        (default 30): the hold's view, or a 408."""
        want = int(body.get("calls", 1))
        timeout = min(float(body.get("timeout_s", 30)), self.MAX_WAIT_S)
        with self.cv:
            hold = self._get(hid)
            if not self.cv.wait_for(lambda: hold["caught"] >= want, timeout):
                raise ApiError(408, 1, f"hold {hid} caught {hold['caught']} of {want} "
                                       f"calls in {timeout:g} s")
            return self._view(hold)

    def release(self, hid, body):
        """Disarms hold hid (None: all) and lets its held calls go: run, or drop."""
        how = "drop" if body.get("drop") else "run"
        with self.cv:
            chosen = list(self.holds.values()) if hid is None else [self._get(hid)]
            for hold in chosen:
                hold["released"] = how
                del self.holds[hold["id"]]
            self.cv.notify_all()
            return [self._view(h) for h in chosen]

    def catch(self, method, path):
        """The hold this call is caught by (consuming one of its count), or None."""
        with self.cv:
            for hold in self.holds.values():
                if hold["released"] or hold["count"] == 0:
                    continue
                if hold["method"] not in ("*", method) or not re.search(hold["path"], path):
                    continue
                if hold["count"] > 0:
                    hold["count"] -= 1
                hold["caught"] += 1
                call = {"method": method, "path": path, "state": "held"}
                hold["calls"].append(call)
                self.cv.notify_all()
                return hold, call
        return None

    def block(self, hold, call, conn):
        """Waits until the hold is released ("run" or "drop") or the client hung up
        ("abandoned"). Runs in the call's own thread."""
        watch = True
        with self.cv:
            while not hold["released"]:
                self.cv.wait(self.POLL_S)
                if watch and not hold["released"]:
                    gone = client_gone(conn)
                    if gone is None:
                        watch = False  # it sent more bytes: cannot tell, stop looking
                    elif gone:
                        call["state"] = "abandoned"
                        self.cv.notify_all()
                        return "abandoned"
            call["state"] = "released" if hold["released"] == "run" else "dropped"
            self.cv.notify_all()
            return hold["released"]


def client_gone(conn):
    """True if the peer closed the connection, False if it is quiet, None if it sent
    bytes (a pipelined request: nothing to learn without reading them)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        data = conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return None if data else True


# --- state -------------------------------------------------------------------------------

class State:
    """Everything the fake remembers. One lock guards it all: calls are tiny, and a single
    lock makes concurrent requests from helperd (it runs independent calls in parallel)
    behave like serialised ones, which is all the real API promises anyway."""

    def __init__(self, args):
        self.account, self.zone, self.zone_name = args.account, args.zone, norm_host(args.zone_name)
        self.lock = threading.RLock()
        self.faults = Faults(args.rate_limit, args.rate_window)
        self.reset()

    def reset(self):
        with self.lock:
            self.tunnels = {}      # id -> tunnel (with "secret"); insertion = creation order
            self.configs = {}      # tunnel id -> configuration result
            self.connectors = {}   # tunnel id -> {client_id -> connector}
            self.dns = {}          # record id -> record
            self.apps = {}         # app id -> app (policies inline, reusable ones by id)
            self.policies = {}     # reusable policy id -> policy
            self.log = []
            self.log_seq = 0
            self.faults.clear()

    def add_log(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)

    # ---- tunnels ----

    def live_connectors(self, tid):
        """Connectors of a tunnel, after forgetting lingering ones whose time is up."""
        conns = self.connectors.setdefault(tid, {})
        now = time.monotonic()
        for cid in [c for c, v in conns.items()
                    if v["_expires"] is not None and v["_expires"] <= now]:
            del conns[cid]
        return conns

    def tunnel_status(self, t):
        active = [c for c in self.live_connectors(t["id"]).values() if c["_expires"] is None]
        if active:
            return t["_status_override"] or "healthy"
        return "down" if t["conns_active_at"] else "inactive"

    def tunnel_token(self, t):
        payload = {"a": self.account, "t": t["id"], "s": t["secret"]}
        return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def tunnel_view(self, t, with_token=False):
        view = {k: v for k, v in t.items() if not k.startswith("_") and k != "secret"}
        view["status"] = self.tunnel_status(t)
        view["connections"] = []  # deprecated field, "will be empty" (ref)
        if with_token:
            view["token"] = self.tunnel_token(t)
            view["credentials_file"] = {"AccountTag": self.account, "TunnelID": t["id"],
                                        "TunnelName": t["name"], "TunnelSecret": t["secret"]}
        return view

    def connector_view(self, c):
        return {k: v for k, v in c.items() if not k.startswith("_")}

    def live_name_taken(self, name, except_id=None):
        return any(t["name"] == name and t["deleted_at"] is None and t["id"] != except_id
                   for t in self.tunnels.values())

    def attach(self, t, client_id, nconns, version, arch, secret_used):
        conns = self.live_connectors(t["id"])
        was_active = any(c["_expires"] is None for c in conns.values())
        ts = now_iso()
        conns[client_id] = {
            "id": client_id, "arch": arch, "version": version, "run_at": ts,
            "config_version": self.configs.get(t["id"], {}).get("version", 0),
            "features": ["ha-origin", "serialized_headers"],
            "conns": [{"id": str(uuid.uuid4()), "uuid": None, "colo_name": f"fra0{i + 1}",
                       "is_pending_reconnect": False, "opened_at": ts,
                       "origin_ip": "127.0.0.1", "client_id": client_id,
                       "client_version": version} for i in range(nconns)],
            "_expires": None, "_secret": secret_used}
        for conn in conns[client_id]["conns"]:
            conn["uuid"] = conn["id"]
        if not was_active:
            t["conns_active_at"] = ts
            t["conns_inactive_at"] = None

    def detach(self, t, client_id=None):
        """Detach one or all connectors. With linger_s > 0 they stay listed as pending
        reconnect for that long (as the real edge keeps them a few minutes)."""
        conns = self.live_connectors(t["id"])
        ids = [client_id] if client_id else list(conns)
        gone = 0
        for cid in ids:
            c = conns.get(cid)
            if c is None or c["_expires"] is not None:
                continue
            gone += 1
            if self.faults.linger_s > 0:
                c["_expires"] = time.monotonic() + self.faults.linger_s
                for conn in c["conns"]:
                    conn["is_pending_reconnect"] = True
            else:
                del conns[cid]
        if gone and not any(c["_expires"] is None for c in conns.values()):
            t["conns_inactive_at"] = now_iso()
        return gone

    def counts(self):
        live = [t for t in self.tunnels.values() if t["deleted_at"] is None]
        connectors = sum(len(self.live_connectors(t)) for t in self.tunnels)
        app_policies = sum(1 for a in self.apps.values() for p in a["policies"]
                           if not p.get("reusable"))
        c = {"live_tunnels": len(live), "deleted_tunnels": len(self.tunnels) - len(live),
             "connectors": connectors, "dns_records": len(self.dns),
             "access_apps": len(self.apps), "access_policies": len(self.policies),
             "app_policies": app_policies}
        # What a session could leave behind; a clean teardown makes this 0.
        c["leftover"] = (c["live_tunnels"] + c["connectors"] + c["dns_records"]
                         + c["access_apps"] + c["access_policies"])
        return c


# --- API handlers --------------------------------------------------------------------------

class Api:
    """The /client/v4 routes. Each handler gets (state, request) and returns
    (http_status, result[, result_info]) or raises ApiError."""

    def __init__(self, state):
        self.s = state

    # ---- tunnels ----

    def _tunnel(self, tid, live=False):
        t = self.s.tunnels.get(tid)
        if t is None or (live and t["deleted_at"] is not None):
            raise err(404, E_TUNNEL_NOT_FOUND)
        return t

    def tunnel_create(self, req):
        body = req.body_object()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, E_TUNNEL_INVALID, "name is required")
        config_src = body.get("config_src", "local")
        if config_src not in ("local", "cloudflare"):
            raise ApiError(400, E_TUNNEL_INVALID, "config_src must be 'local' or 'cloudflare'")
        secret = body.get("tunnel_secret")
        if secret is None:
            secret = base64.b64encode(secrets.token_bytes(32)).decode()
        else:
            try:
                raw = base64.b64decode(secret, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raw = b""
            if len(raw) < 32:
                raise ApiError(400, E_TUNNEL_INVALID,
                               "tunnel_secret must be at least 32 bytes, base64 encoded")
        if self.s.live_name_taken(name):
            raise err(409, E_TUNNEL_NAME)
        t = {"id": str(uuid.uuid4()), "account_tag": self.s.account, "created_at": now_iso(),
             "deleted_at": None, "name": name, "config_src": config_src,
             "remote_config": config_src == "cloudflare", "tun_type": "cfd_tunnel",
             "conns_active_at": None, "conns_inactive_at": None, "metadata": {},
             "secret": secret, "_status_override": None, "_warp": False}
        self.s.tunnels[t["id"]] = t
        return 200, self.s.tunnel_view(t, with_token=True)

    def tunnel_list(self, req):
        q = req.query
        items = list(self.s.tunnels.values())
        if "name" in q:
            items = [t for t in items if t["name"] == q["name"]]
        if "uuid" in q:
            items = [t for t in items if t["id"] == q["uuid"].lower()]
        if q.get("is_deleted", "") != "":
            want_deleted = truthy(q["is_deleted"])
            items = [t for t in items if (t["deleted_at"] is not None) == want_deleted]
        if "status" in q:
            items = [t for t in items if self.s.tunnel_status(t) == q["status"]]
        # include_prefix/exclude_prefix (2024 schema) and name_prefix (cloudflared): the
        # ref cannot say which the server honours, so the fake honours all three.
        for key in ("include_prefix", "name_prefix"):
            if q.get(key):
                items = [t for t in items if t["name"].startswith(q[key])]
        if q.get("exclude_prefix"):
            items = [t for t in items if not t["name"].startswith(q["exclude_prefix"])]
        if q.get("existed_at"):
            at = q["existed_at"]
            items = [t for t in items if t["created_at"] <= at
                     and (t["deleted_at"] is None or t["deleted_at"] > at)]
        chunk, info = paginate(items, q, TUNNEL_PER_PAGE,
                               self.s.faults.cap("tunnels", TUNNEL_MAX_PER_PAGE),
                               E_TUNNEL_INVALID)
        return 200, [self.s.tunnel_view(t) for t in chunk], info

    def tunnel_get(self, req):
        # A deleted tunnel is still readable: deletion is soft (ref).
        return 200, self.s.tunnel_view(self._tunnel(req.params["tid"]))

    def tunnel_patch(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        body = req.body_object()
        name = body.get("name")
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise ApiError(400, E_TUNNEL_INVALID, "name must be a non-empty string")
            if self.s.live_name_taken(name, except_id=t["id"]):
                raise err(409, E_TUNNEL_NAME)
        secret = body.get("tunnel_secret")
        if secret is not None:
            try:
                raw = base64.b64decode(secret, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raw = b""
            if len(raw) < 32:
                raise ApiError(400, E_TUNNEL_INVALID,
                               "tunnel_secret must be at least 32 bytes, base64 encoded")
        if name is not None:
            t["name"] = name
        if secret is not None:
            # Old connectors keep running until their connections are deleted (ref).
            t["secret"] = secret
        return 200, self.s.tunnel_view(t, with_token=True)

    def tunnel_delete(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        cascade = truthy(req.query.get("cascade", ""))
        if not cascade:
            if self.s.live_connectors(t["id"]):
                raise err(400, E_TUNNEL_ACTIVE)
            if t["_warp"]:
                raise err(400, E_TUNNEL_WARP)
        else:
            self.s.connectors[t["id"]] = {}
        t["deleted_at"] = now_iso()
        return 200, self.s.tunnel_view(t)

    def tunnel_token(self, req):
        return 200, self.s.tunnel_token(self._tunnel(req.params["tid"], live=True))

    def tunnel_config_get(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        cfg = self.s.configs.get(t["id"])
        if cfg is None:
            cfg = {"tunnel_id": t["id"], "account_id": self.s.account, "version": 0,
                   "config": None, "source": "cloudflare", "created_at": t["created_at"]}
        return 200, cfg

    def tunnel_config_put(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        body = req.body_object()
        config = body.get("config")
        if not isinstance(config, dict):
            raise ApiError(400, E_TUNNEL_INVALID, "config is required")
        validate_ingress(config.get("ingress"))
        warp = config.get("warp-routing")
        t["_warp"] = bool(isinstance(warp, dict) and warp.get("enabled"))
        version = self.s.configs.get(t["id"], {}).get("version", 0) + 1
        cfg = {"tunnel_id": t["id"], "account_id": self.s.account, "version": version,
               "config": config, "source": "cloudflare", "created_at": now_iso()}
        self.s.configs[t["id"]] = cfg
        return 200, cfg

    def tunnel_connections_get(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        return 200, [self.s.connector_view(c) for c in self.s.live_connectors(t["id"]).values()]

    def tunnel_connections_delete(self, req):
        t = self._tunnel(req.params["tid"], live=True)
        conns = self.s.live_connectors(t["id"])
        client_id = req.query.get("client_id")
        had_active = any(c["_expires"] is None for c in conns.values())
        for cid in ([client_id] if client_id else list(conns)):
            conns.pop(cid, None)
        if had_active and not any(c["_expires"] is None for c in conns.values()):
            t["conns_inactive_at"] = now_iso()
        return 200, None

    # ---- DNS ----

    def _record(self, rid):
        r = self.s.dns.get(rid)
        if r is None:
            raise err(404, E_DNS_NOT_FOUND)
        return r

    def _fqdn(self, name):
        """Cloudflare completes a relative name with the zone name; "@" is the apex."""
        name = norm_host(name)
        zone = self.s.zone_name
        if name in ("@", zone):
            return zone
        return name if name.endswith("." + zone) else f"{name}.{zone}"

    def dns_create(self, req):
        rec = self._dns_make(req.body_object())
        self.s.dns[rec["id"]] = rec
        return 200, rec

    def _dns_make(self, body, rid=None, created_on=None):
        """A record from a create (rid None: a new id) or an overwrite of record rid,
        checked as the create route checks it, against the records there are now (rid's
        own excepted). Stores nothing."""
        if not isinstance(body, dict):
            raise ApiError(400, E_DNS_VALIDATION[0], E_DNS_VALIDATION[1],
                           chain=[(9000, "DNS record must be an object")])

        def invalid(code, message):
            return ApiError(400, E_DNS_VALIDATION[0], E_DNS_VALIDATION[1],
                            chain=[(code, message)])

        rtype = body.get("type")
        if not isinstance(rtype, str) or rtype.upper() not in DNS_TYPES:
            raise invalid(9020, "Invalid DNS record type")
        rtype = rtype.upper()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid(9000, "DNS name is invalid.")
        fqdn = self._fqdn(name)
        if fqdn != self.s.zone_name and not HOST_RE.match(fqdn):
            raise invalid(9000, "DNS name is invalid.")
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise invalid(9007, f"Content for {rtype} record is invalid.")
        if rtype == "A" or rtype == "AAAA":
            try:
                ip = ipaddress.ip_address(content)
            except ValueError:
                ip = None
            if ip is None or ip.version != (4 if rtype == "A" else 6):
                raise invalid(9005 if rtype == "A" else 9006,
                              f"Content for {rtype} record must be a valid "
                              f"IPv{4 if rtype == 'A' else 6} address.")
        if rtype == "CNAME":
            content = norm_host(content)
            if not HOST_RE.match(content):
                raise invalid(9007, "Content for CNAME record is invalid.")
        # ttl is required in the current schema; the fake defaults it to 1 (auto) (guess).
        ttl = body.get("ttl", 1)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not (ttl == 1 or 60 <= ttl <= 86400):
            raise invalid(9021, "Invalid TTL. Must be between 60 and 86400 seconds, "
                                "or 1 for Automatic.")
        proxied = body.get("proxied", False)
        if not isinstance(proxied, bool):
            raise invalid(9003, "Invalid 'proxied' value, must be a boolean")
        if proxied and rtype not in PROXIABLE:
            raise invalid(9004, "This record type cannot be proxied.")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 100):
            raise invalid(9100, "DNS record comment is invalid or longer than 100 characters.")
        same_name = [r for r in self.s.dns.values() if r["name"] == fqdn and r["id"] != rid]
        if any(r["type"] == rtype and r["content"] == content for r in same_name):
            raise err(400, E_DNS_IDENTICAL)
        if rtype == "CNAME" and same_name:
            raise err(400, E_DNS_HOST_EXISTS)
        if rtype != "CNAME" and any(r["type"] == "CNAME" for r in same_name):
            raise err(400, E_DNS_CNAME_EXISTS)
        ts = now_iso()
        return {"id": rid or hex_id(), "zone_id": self.s.zone, "zone_name": self.s.zone_name,
                "name": fqdn, "type": rtype, "content": content,
                "proxiable": rtype in PROXIABLE, "proxied": proxied, "ttl": ttl,
                "locked": False, "settings": {}, "comment": comment,
                "tags": body.get("tags") or [], "meta": {"auto_added": False,
                                                         "managed_by_apps": False,
                                                         "managed_by_argo_tunnel": False},
                "created_on": created_on or ts, "modified_on": ts}

    def dns_batch(self, req):
        """POST dns_records/batch: deletes, then patches, then puts, then posts, each list
        in its order, in one transaction: the first failing action undoes the others and
        is the reply (its own status and error). The result has the four lists, each the
        records as the actions left them (deletes: as they were)."""
        body = req.body_object()
        lists = {}
        for key in ("deletes", "patches", "puts", "posts"):
            items = body.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ApiError(400, E_DNS_VALIDATION[0], E_DNS_VALIDATION[1],
                               chain=[(9000, f"{key} must be a list of objects")])
            lists[key] = items
        total = sum(len(v) for v in lists.values())
        if total > DNS_BATCH_MAX:
            raise ApiError(400, E_DNS_VALIDATION[0], E_DNS_VALIDATION[1],
                           chain=[(E_DNS_BATCH_SIZE, f"A batch may hold at most "
                                                     f"{DNS_BATCH_MAX} records.")])
        saved = {rid: dict(rec) for rid, rec in self.s.dns.items()}
        out = {"deletes": [], "patches": [], "puts": [], "posts": []}
        try:
            for item in lists["deletes"]:
                rec = self._record(str(item.get("id", "")))
                del self.s.dns[rec["id"]]
                out["deletes"].append(rec)
            for key in ("patches", "puts"):
                for item in lists[key]:
                    old = self._record(str(item.get("id", "")))
                    fields = {k: v for k, v in item.items() if k != "id"}
                    merged = dict(old, **fields) if key == "patches" else fields
                    rec = self._dns_make(merged, rid=old["id"], created_on=old["created_on"])
                    self.s.dns[rec["id"]] = rec
                    out[key].append(rec)
            for item in lists["posts"]:
                rec = self._dns_make(item)
                self.s.dns[rec["id"]] = rec
                out["posts"].append(rec)
        except ApiError:
            self.s.dns.clear()
            self.s.dns.update(saved)
            raise
        return 200, out

    def dns_list(self, req):
        q = req.query
        preds = []
        if q.get("type"):
            preds.append(lambda r: r["type"] == q["type"].upper())
        for field in ("name", "content", "comment"):
            fold = (lambda v: norm_host(v)) if field == "name" else (lambda v: v)
            for op in ("", ".exact", ".contains", ".startswith", ".endswith"):
                key = field + op
                if key not in q:
                    continue
                want = fold(q[key])
                test = {"": lambda v, w: v == w, ".exact": lambda v, w: v == w,
                        ".contains": lambda v, w: w in v,
                        ".startswith": lambda v, w: v.startswith(w),
                        ".endswith": lambda v, w: v.endswith(w)}[op]
                preds.append(lambda r, f=field, t=test, w=want, g=fold:
                             r[f] is not None and t(g(r[f]), w))
        if "comment.present" in q:
            preds.append(lambda r: bool(r["comment"]))
        if "comment.absent" in q:
            preds.append(lambda r: not r["comment"])
        if q.get("proxied", "") != "":
            preds.append(lambda r: r["proxied"] == truthy(q["proxied"]))
        combine = any if q.get("match") == "any" else all
        items = [r for r in self.s.dns.values()
                 if not preds or combine(p(r) for p in preds)]
        chunk, info = paginate(items, q, DNS_PER_PAGE,
                               self.s.faults.cap("dns", DNS_MAX_PER_PAGE), 1004)
        return 200, chunk, info

    def dns_get(self, req):
        return 200, self._record(req.params["rid"])

    def dns_delete(self, req):
        rec = self._record(req.params["rid"])
        del self.s.dns[rec["id"]]
        return 200, {"id": rec["id"]}

    # ---- Access ----

    def _app(self, aid):
        a = self.s.apps.get(aid)
        if a is None:
            raise ApiError(404, E_ACCESS_NOT_FOUND, "access.api.error.not_found: "
                                                    "application not found")
        return a

    def _policy_from(self, spec, app_type, index):
        """An app's policy entry: a reference {id, precedence} to a reusable policy, or
        an inline policy that becomes app-scoped."""
        if not isinstance(spec, dict):
            raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                                  "policies must be objects")
        precedence = spec.get("precedence", index + 1)
        if "id" in spec and "include" not in spec:
            pol = self.s.policies.get(spec["id"])
            if pol is None:
                raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                                      f"policy {spec['id']} not found")
            self._check_decision(pol["decision"], app_type)
            return dict(pol, precedence=precedence)
        pol = validate_policy(spec)
        self._check_decision(pol["decision"], app_type)
        ts = now_iso()
        return dict(pol, id=str(uuid.uuid4()), precedence=precedence, reusable=False,
                    created_at=ts, updated_at=ts)

    @staticmethod
    def _check_decision(decision, app_type):
        if app_type in BROWSER_RENDERED and decision not in ("allow", "deny"):
            raise ApiError(400, E_ACCESS_INVALID,
                           "access.api.error.invalid_request: browser-rendered applications "
                           "allow only Allow and Block policies")

    def app_create(self, req):
        body = req.body_object()
        atype = body.get("type")
        if atype not in ACCESS_TYPES:
            raise ApiError(400, E_ACCESS_INVALID,
                           "access.api.error.invalid_request: type is required")
        domain = body.get("domain")
        uris = []
        if atype in ("self_hosted", "ssh", "vnc", "rdp"):
            if not isinstance(domain, str) or not domain:
                raise ApiError(400, E_ACCESS_INVALID,
                               "access.api.error.invalid_request: domain is required")
            uris = self._app_uris(body, domain)
            for uri in uris:
                host, _, path = uri.partition("/")
                if not HOST_RE.match(norm_host(host)):
                    raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                   f"domain {uri} is invalid")
                if path and atype in BROWSER_RENDERED:
                    raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                   "browser-rendered applications cannot have a path")
            taken = {u for a in self.s.apps.values() for u in a.get("_uris", [])}
            if any(u in taken for u in uris):
                raise ApiError(400, E_ACCESS_CONFLICT, "access.api.error.conflict: "
                               "an application with this domain already exists")
        policies = body.get("policies", [])
        if not isinstance(policies, list):
            raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                                  "policies must be a list")
        expanded = [self._policy_from(p, atype, i) for i, p in enumerate(policies)]
        ts = now_iso()
        app = dict(body)  # unknown fields are echoed back, as the real API stores them
        app.update({"id": str(uuid.uuid4()), "aud": hex_id(32), "type": atype,
                    "name": body.get("name") or domain or atype, "domain": domain,
                    "session_duration": body.get("session_duration", "24h"),
                    "app_launcher_visible": body.get("app_launcher_visible", True),
                    "allowed_idps": body.get("allowed_idps", []),
                    "auto_redirect_to_identity": body.get("auto_redirect_to_identity", False),
                    "policies": expanded, "created_at": ts, "updated_at": ts})
        if uris:
            app["destinations"] = [{"type": "public", "uri": u} for u in uris]
            app["self_hosted_domains"] = list(uris)
            app["_uris"] = uris
        self.s.apps[app["id"]] = app
        return 201, self._app_view(app)

    @staticmethod
    def _app_uris(body, domain):
        """The public hostnames (and paths) an app protects: its `destinations` of type
        public; without them its deprecated `self_hosted_domains` (ignored when
        `destinations` is given, as the schema says); without either, `domain` alone.
        `domain` must be one of them."""
        dests, legacy = body.get("destinations"), body.get("self_hosted_domains")
        if dests is not None:
            if not isinstance(dests, list) or not dests or not all(
                    isinstance(d, dict) and d.get("type", "public") in ("public", "private")
                    for d in dests):
                raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                               "destinations must be a list of public or private "
                               "destinations")
            uris = []
            for d in dests:
                if d.get("type", "public") != "public":
                    continue  # private destinations: not modelled
                if not isinstance(d.get("uri"), str) or not d["uri"]:
                    raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                   "a public destination needs a uri")
                uris.append(d["uri"])
        elif legacy is not None:
            if not isinstance(legacy, list) or not legacy or not all(
                    isinstance(u, str) and u for u in legacy):
                raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                               "self_hosted_domains must be a list of domains")
            uris = list(legacy)
        else:
            return [domain]
        norm = [u.strip().rstrip(".").lower() for u in uris]
        if len(set(norm)) != len(norm):
            raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                           "a destination is listed twice")
        if domain.strip().rstrip(".").lower() not in norm:
            raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                           "domain must be one of the application's destinations")
        return norm

    def _app_view(self, app):
        # Reusable policies are shown as they are now, not as they were when attached.
        view = {k: v for k, v in app.items() if not k.startswith("_")}
        view["policies"] = [dict(self.s.policies.get(p["id"], p), precedence=p["precedence"])
                            if p.get("reusable") else p for p in app["policies"]]
        return view

    def app_list(self, req):
        q = req.query
        exact = truthy(q.get("exact", ""))
        items = list(self.s.apps.values())
        for field in ("name", "domain", "aud"):
            if q.get(field):
                want = q[field]
                if exact or field == "aud":
                    items = [a for a in items if a.get(field) == want]
                else:
                    items = [a for a in items if want.lower() in str(a.get(field, "")).lower()]
        if q.get("search"):
            s = q["search"].lower()
            items = [a for a in items if s in str(a.get("name", "")).lower()
                     or s in str(a.get("domain", "")).lower()]
        chunk, info = paginate(items, q, ACCESS_PER_PAGE,
                               self.s.faults.cap("access", ACCESS_MAX_PER_PAGE),
                               E_ACCESS_INVALID)
        return 200, [self._app_view(a) for a in chunk], info

    def app_get(self, req):
        return 200, self._app_view(self._app(req.params["aid"]))

    def app_delete(self, req):
        app = self._app(req.params["aid"])
        del self.s.apps[app["id"]]  # its inline (app-scoped) policies go with it
        return 202, {"id": app["id"]}

    def app_policy_list(self, req):
        app = self._app(req.params["aid"])
        return 200, self._app_view(app)["policies"], {
            "page": 1, "per_page": len(app["policies"]), "count": len(app["policies"]),
            "total_count": len(app["policies"]), "total_pages": 1}

    def app_policy_create(self, req):
        app = self._app(req.params["aid"])
        pol = self._policy_from(req.body_object(), app["type"], len(app["policies"]))
        app["policies"].append(pol)
        app["updated_at"] = now_iso()
        return 201, pol

    def _app_policy(self, app, pid):
        for p in app["policies"]:
            if p["id"] == pid:
                return p
        raise ApiError(404, E_ACCESS_NOT_FOUND, "access.api.error.not_found: policy not found")

    def app_policy_get(self, req):
        app = self._app(req.params["aid"])
        return 200, self._app_policy(app, req.params["pid"])

    def app_policy_delete(self, req):
        app = self._app(req.params["aid"])
        pol = self._app_policy(app, req.params["pid"])
        app["policies"].remove(pol)
        app["updated_at"] = now_iso()
        return 200, {"id": pol["id"]}

    def _reusable(self, pid):
        pol = self.s.policies.get(pid)
        if pol is None:
            raise ApiError(404, E_ACCESS_NOT_FOUND, "access.api.error.not_found: "
                                                    "policy not found")
        return pol

    def _policy_users(self, pid):
        return [a["id"] for a in self.s.apps.values()
                if any(p["id"] == pid for p in a["policies"])]

    def policy_create(self, req):
        pol = validate_policy(req.body_object())
        ts = now_iso()
        pol.update({"id": str(uuid.uuid4()), "reusable": True, "created_at": ts,
                    "updated_at": ts})
        self.s.policies[pol["id"]] = pol
        return 201, dict(pol, app_count=0)

    def policy_list(self, req):
        items = [dict(p, app_count=len(self._policy_users(p["id"])))
                 for p in self.s.policies.values()]
        chunk, info = paginate(items, req.query, ACCESS_PER_PAGE,
                               self.s.faults.cap("access", ACCESS_MAX_PER_PAGE),
                               E_ACCESS_INVALID)
        return 200, chunk, info

    def policy_get(self, req):
        pol = self._reusable(req.params["pid"])
        return 200, dict(pol, app_count=len(self._policy_users(pol["id"])))

    def policy_delete(self, req):
        pol = self._reusable(req.params["pid"])
        users = self._policy_users(pol["id"])
        if users:
            # Teardown must delete the apps first (ref, section 1, step 5).
            raise ApiError(400, E_ACCESS_CONFLICT, "access.api.error.policy_in_use: policy "
                           f"is used by {len(users)} application(s)")
        del self.s.policies[pol["id"]]
        return 200, {"id": pol["id"]}

    # ---- user ----

    def token_verify(self, req):
        return 200, {"id": hex_id(), "status": "active"}


def validate_ingress(ingress):
    """Reject what the real API rejects (ref, section 3): empty or malformed rules, and a
    last rule that is not a catch-all."""
    def bad(message):
        return ApiError(400, E_TUNNEL_INVALID, f"Invalid ingress configuration: {message}")

    if not isinstance(ingress, list) or not ingress:
        raise bad("at least one ingress rule is required")
    for i, rule in enumerate(ingress, 1):
        if not isinstance(rule, dict):
            raise bad(f"rule #{i} is not an object")
        service = rule.get("service")
        if not isinstance(service, str) or not SERVICE_RE.match(service):
            raise bad(f"rule #{i} has an invalid service {service!r}")
        host = rule.get("hostname")
        if host is not None and (not isinstance(host, str) or
                                 (host and not HOST_RE.match(norm_host(host)))):
            raise bad(f"rule #{i} has an invalid hostname")
        catch_all = not host and not rule.get("path")
        if catch_all and i != len(ingress):
            raise bad(f"rule #{i} matches all URLs but is not the last rule")
        if i == len(ingress) and not catch_all:
            raise bad("the last ingress rule must match all URLs "
                      "(it must not have a hostname or path)")
        origin = rule.get("originRequest")
        if origin is not None and not isinstance(origin, dict):
            raise bad(f"rule #{i} originRequest must be an object")


def validate_policy(body):
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                              "name is required")
    if body.get("decision") not in DECISIONS:
        raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: decision "
                                              "must be allow, deny, non_identity or bypass")
    for key in ("include", "exclude", "require"):
        rules = body.get(key, [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) and len(r) == 1
                                                  for r in rules):
            raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                                  f"{key} must be a list of rules")
    if not body.get("include"):
        raise ApiError(400, E_ACCESS_INVALID, "access.api.error.invalid_request: "
                                              "include needs at least one rule")
    pol = dict(body)
    pol.setdefault("exclude", [])
    pol.setdefault("require", [])
    return pol


# The route table. {a} and {z} are checked against --account / --zone before the handler.
ACCT = r"/accounts/(?P<account>[^/]+)"
ZONE = r"/zones/(?P<zone>[^/]+)"
TUN = ACCT + r"/cfd_tunnel/(?P<tid>[^/]+)"
ROUTES = [(re.compile("^" + pattern + "$"), methods) for pattern, methods in [
    (ACCT + r"/cfd_tunnel", {"GET": "tunnel_list", "POST": "tunnel_create"}),
    (TUN, {"GET": "tunnel_get", "PATCH": "tunnel_patch", "DELETE": "tunnel_delete"}),
    (TUN + r"/token", {"GET": "tunnel_token"}),
    (TUN + r"/configurations", {"GET": "tunnel_config_get", "PUT": "tunnel_config_put"}),
    (TUN + r"/connections", {"GET": "tunnel_connections_get",
                             "DELETE": "tunnel_connections_delete"}),
    (ZONE + r"/dns_records", {"GET": "dns_list", "POST": "dns_create"}),
    (ZONE + r"/dns_records/batch", {"POST": "dns_batch"}),
    (ZONE + r"/dns_records/(?P<rid>[^/]+)", {"GET": "dns_get", "DELETE": "dns_delete"}),
    (ACCT + r"/access/apps", {"GET": "app_list", "POST": "app_create"}),
    (ACCT + r"/access/apps/(?P<aid>[^/]+)", {"GET": "app_get", "DELETE": "app_delete"}),
    (ACCT + r"/access/apps/(?P<aid>[^/]+)/policies", {"GET": "app_policy_list",
                                                      "POST": "app_policy_create"}),
    (ACCT + r"/access/apps/(?P<aid>[^/]+)/policies/(?P<pid>[^/]+)",
     {"GET": "app_policy_get", "DELETE": "app_policy_delete"}),
    (ACCT + r"/access/policies", {"GET": "policy_list", "POST": "policy_create"}),
    (ACCT + r"/access/policies/(?P<pid>[^/]+)", {"GET": "policy_get",
                                                 "DELETE": "policy_delete"}),
    (r"/user/tokens/verify", {"GET": "token_verify"}),
]]


class Request:
    def __init__(self, method, path, query, raw_body, content_type):
        self.method, self.path, self.query = method, path, query
        self.raw_body, self.content_type = raw_body, content_type
        self.params = {}
        self.body = None

    def parse_body(self):
        """Parse a JSON body if there is one: wrong Content-Type and malformed JSON are
        refused before any handler runs, as Cloudflare does."""
        if not self.raw_body.strip():
            self.body = None
            return
        if not self.content_type.lower().startswith("application/json"):
            raise ApiError(400, E_BAD_HEADERS[0], E_BAD_HEADERS[1],
                           chain=[E_BAD_CTYPE])
        try:
            self.body = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise err(400, E_BAD_JSON) from None

    def body_object(self):
        if self.body is None:
            self.body = {}
        if not isinstance(self.body, dict):
            raise err(400, E_BAD_JSON, "Request body must be a JSON object")
        return self.body


# --- HTTP ------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so libcurl's connection reuse is exercised

    def version_string(self):
        return "cloudflare"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_cloudflare: " + (fmt % args) + "\n")

    # Every method goes through one dispatcher, so unknown methods on known routes get a
    # 405 envelope instead of http.server's HTML 501.
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")  # unread bytes would poison keep-alive
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, payload, headers=(), html=False):
        if html:  # what a real edge 5xx often is: an HTML page, not JSON
            phrase = self.responses.get(status, ("Error",))[0]
            body = (f"<html><head><title>{status} {phrase}</title></head><body>"
                    f"<center><h1>{status}</h1></center><hr><center>cloudflare</center>"
                    "</body></html>").encode()
            ctype = "text/html"
        else:
            body = json.dumps(payload).encode()
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("cf-ray", secrets.token_hex(8) + "-FRA")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self):
        """Close the connection without a reply (libcurl: "Empty reply from server")."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.reply(413, envelope(errors=[{"code": 9207, "message": "Request body is "
                                              "too large or unreadable."}]))
            return
        if url.path.startswith(CONTROL_PREFIX):
            self.handle_control(url.path, query, raw)
        else:
            self.handle_api(url.path, query, raw)

    # ---- the Cloudflare API ----

    def handle_api(self, path, query, raw):
        state = self.server.state
        method = self.command
        sub = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else path
        auth_header = self.headers.get("Authorization")
        entry = {"kind": "api", "time": now_iso(), "method": method, "path": path,
                 "query": query, "auth": "yes" if auth_header else "no", "fault": None}
        try:
            parsed = json.loads(raw) if raw.strip() else None
            entry["body"] = redact(parsed)
        except (ValueError, UnicodeDecodeError):
            entry["body"] = None
            entry["body_raw"] = raw[:2000].decode("utf-8", "replace")
        caught = self.server.holds.catch(method, sub)
        if caught and not self.held(entry, *caught):
            return

        with state.lock:
            faults = state.faults
            latency = faults.latency_ms
            retry_after = faults.rate_limited()
            before = after = None
            if retry_after is None:
                for kind in ("drop", "fail"):
                    rule = faults.take(kind, method, sub)
                    if rule:
                        rule["kind"] = kind
                        before, after = (None, rule) if rule["after"] else (rule, None)
                        break
        delay = latency + ((before or after or {}).get("delay_ms") or 0)
        if delay:
            time.sleep(delay / 1000.0)  # outside the lock: one slow call must not stall all

        if retry_after is not None:
            entry["fault"] = "rate_limit"
            self.finish_api(entry, 429, envelope(errors=[dict(zip(("code", "message"),
                                                                  E_RATE))]),
                            [("Retry-After", str(retry_after))])
            return
        if before:
            if self.apply_fault(entry, before):
                return

        with state.lock:
            status, payload, headers = self.run_api(method, path, sub, query, raw,
                                                    auth_header)
            rl_headers = state.faults.ratelimit_headers()
        if after:
            if self.apply_fault(entry, after, applied_status=status):
                return
        self.finish_api(entry, status, payload, headers + rl_headers)

    def held(self, entry, hold, call):
        """A call a hold caught waits here for its release; False if it must not run."""
        entry["hold"] = hold["id"]
        how = self.server.holds.block(hold, call, self.connection)
        if how == "run":
            return True
        entry["fault"] = "abandoned" if how == "abandoned" else "hold_drop"
        entry["status"] = None
        self.server.state.add_log(entry)
        self.drop()
        return False

    def apply_fault(self, entry, rule, applied_status=None):
        entry["fault"] = rule["kind"] + ("_after" if rule["after"] else "")
        if applied_status is not None:
            entry["applied_status"] = applied_status  # what the lost reply would have been
        if rule["kind"] == "drop":
            entry["status"] = None
            self.server.state.add_log(entry)
            self.drop()
            return True
        payload = envelope(errors=[{"code": rule["code"], "message": rule["message"]}])
        self.finish_api(entry, rule["status"], payload, html=rule["html"])
        return True

    def finish_api(self, entry, status, payload, headers=(), html=False):
        entry["status"] = status
        self.server.state.add_log(entry)
        self.reply(status, payload, headers, html=html)

    def run_api(self, method, path, sub, query, raw, auth_header):
        """The fixed order of checks: auth, route, method, scope, body, handler."""
        state = self.server.state
        try:
            expected = "Bearer " + self.server.token
            if not auth_header or not hmac.compare_digest(auth_header.strip(), expected):
                raise err(self.server.auth_status, E_AUTH)
            match = methods = None
            if path.startswith(API_PREFIX + "/"):
                for pattern, methods in ROUTES:
                    match = pattern.match(sub)
                    if match:
                        break
            if not match:
                error = ApiError(404, E_ROUTE, f"Could not route to {sub}, perhaps your "
                                               "object identifier is invalid?")
                error.errors.append(dict(zip(("code", "message"), E_NO_ROUTE)))
                raise error
            if method not in methods:
                error = err(405, E_METHOD)
                error.headers = [("Allow", ", ".join(sorted(methods)))]
                raise error
            params = match.groupdict()
            # A token scoped to one account / zone gets an auth error elsewhere (guess).
            if params.get("account", state.account) != state.account or \
                    params.get("zone", state.zone) != state.zone:
                raise err(self.server.auth_status, E_AUTH)
            req = Request(method, path, query, raw, self.headers.get("Content-Type", ""))
            req.params = params
            req.parse_body()
            out = getattr(Api(state), methods[method])(req)
            status, result = out[0], out[1]
            info = out[2] if len(out) > 2 else None
            return status, envelope(result, result_info=info), []
        except ApiError as e:
            return e.status, envelope(errors=e.errors), e.headers

    # ---- the control API (for tests; no auth, no faults) ----

    def handle_control(self, path, query, raw):
        state = self.server.state
        method = self.command
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            self.reply(400, envelope(errors=[dict(zip(("code", "message"), E_BAD_JSON))]))
            return
        route = path[len(CONTROL_PREFIX):].rstrip("/")
        m = re.match(r"^tunnels/([^/]+)/(connect|disconnect|status)$", route)
        if route == "holds" or route.startswith("holds/"):
            self.control_holds(method, route, body)
            return
        try:
            with state.lock:
                if method == "GET" and route == "health":
                    result = {"ok": True}
                elif method == "GET" and route == "state":
                    result = self.control_state()
                elif method == "GET" and route == "log":
                    kind = query.get("kind")
                    since = int(query.get("since", 0) or 0)
                    result = [e for e in state.log
                              if (not kind or e["kind"] == kind) and e["seq"] > since]
                elif method == "GET" and route == "counts":
                    result = state.counts()
                elif method == "GET" and route == "faults":
                    result = state.faults.view()
                elif method == "POST" and route == "faults":
                    state.faults.update(body)
                    result = state.faults.view()
                elif method == "POST" and route == "reset":
                    state.reset()
                    self.server.holds.release(None, {"drop": True})
                    result = {"reset": True}
                elif method == "POST" and m:
                    result = self.control_tunnel(m.group(1), m.group(2), body)
                else:
                    raise ApiError(404, E_ROUTE, f"no control route {method} {path}")
            self.reply(200, envelope(result))
        except ApiError as e:
            self.reply(e.status, envelope(errors=e.errors))
        except (ValueError, TypeError, KeyError, re.error) as e:
            self.reply(400, envelope(errors=[{"code": 1, "message": f"bad control body: {e}"}]))

    def control_holds(self, method, route, body):
        """holds (GET list, POST arm), holds/release, holds/N/wait, holds/N/release. Outside
        State.lock: a wait blocks this thread only."""
        holds = self.server.holds
        m = re.match(r"^holds/([0-9]+)/(wait|release)$", route)
        try:
            if method == "GET" and route == "holds":
                result = holds.list()
            elif method == "POST" and route == "holds":
                result = holds.arm(body)
            elif method == "POST" and route == "holds/release":
                result = holds.release(None, body)
            elif method == "POST" and m and m.group(2) == "wait":
                result = holds.wait(int(m.group(1)), body)
            elif method == "POST" and m:
                result = holds.release(int(m.group(1)), body)
            else:
                raise ApiError(404, E_ROUTE, f"no control route {method} /_fake/{route}")
            self.reply(200, envelope(result))
        except ApiError as e:
            self.reply(e.status, envelope(errors=e.errors))
        except (ValueError, TypeError, re.error) as e:
            self.reply(400, envelope(errors=[{"code": 1, "message": f"bad control body: {e}"}]))

    def control_state(self):
        s = self.server.state
        tunnels = []
        for t in s.tunnels.values():
            view = s.tunnel_view(t)
            view["configuration"] = s.configs.get(t["id"])
            view["connectors"] = [s.connector_view(c) for c in s.live_connectors(t["id"]).values()]
            view["status_override"] = t["_status_override"]
            tunnels.append(view)
        live_ids = {t["id"] for t in s.tunnels.values() if t["deleted_at"] is None}
        dangling = [r["name"] for r in s.dns.values() if r["type"] == "CNAME"
                    and r["content"].endswith(".cfargotunnel.com")
                    and r["content"][:-len(".cfargotunnel.com")] not in live_ids]
        # Tunnel hostnames no Access application covers: what must never exist.
        covered = {u for a in s.apps.values() for u in a.get("_uris", [])}
        unprotected = [r["name"] for r in s.dns.values() if r["type"] == "CNAME"
                       and r["content"].endswith(".cfargotunnel.com")
                       and r["name"] not in covered]
        return {"account": s.account, "zone": s.zone, "zone_name": s.zone_name,
                "tunnels": tunnels, "dns_records": list(s.dns.values()),
                "unprotected_tunnel_cnames": unprotected,
                "access_apps": [Api(s)._app_view(a) for a in s.apps.values()],
                "access_policies": list(s.policies.values()),
                "dangling_tunnel_cnames": dangling, "faults": s.faults.view(),
                "counts": s.counts()}

    def control_tunnel(self, tid, action, body):
        """Attach/detach fake connectors. Used by tests directly (no secret needed) and by
        fake_cloudflared (which passes the secret from its token, so a bad token or a
        deleted tunnel fails as it does against the real edge)."""
        s = self.server.state
        t = s.tunnels.get(tid)
        log = {"kind": "control", "time": now_iso(), "method": "POST",
               "path": f"/_fake/tunnels/{tid}/{action}", "query": {}, "body": redact(body),
               "auth": "no", "fault": None}
        if t is None or t["deleted_at"] is not None:
            # The message cloudflared logs for this case (ref, section 6).
            log["status"] = 404
            s.add_log(log)
            raise ApiError(404, E_TUNNEL_NOT_FOUND[0], "Unauthorized: Failed to get tunnel")
        if action == "status":
            status = body.get("status")
            if status not in (None, "healthy", "degraded"):
                raise ApiError(400, 1, "status override must be healthy, degraded or null")
            t["_status_override"] = status
            return {"status": s.tunnel_status(t)}
        if action == "disconnect":
            gone = s.detach(t, body.get("client_id"))
            if gone:
                log["status"] = 200
                s.add_log(log)
            return {"detached": gone, "status": s.tunnel_status(t)}
        client_id = body.get("client_id") or str(uuid.uuid4())
        existing = s.live_connectors(tid).get(client_id)
        secret = body.get("secret")
        if secret is not None:
            # A running connector keeps its session after a secret rotation (ref).
            known = existing is not None and existing["_secret"] == secret
            if not known and not hmac.compare_digest(str(secret), t["secret"]):
                log["status"] = 401
                s.add_log(log)
                raise ApiError(401, E_TUNNEL_SECRET[0], "Invalid tunnel secret")
        if existing is not None and existing["_expires"] is None:
            # Heartbeat from an attached connector: nothing changes, nothing is logged.
            return {"client_id": client_id, "attached": "existing",
                    "status": s.tunnel_status(t),
                    "config_version": s.configs.get(tid, {}).get("version", 0)}
        s.attach(t, client_id, int(body.get("conns", 4)), body.get("version", "2024.8.2"),
                 body.get("arch", "linux_amd64"), secret)
        log["status"] = 200
        s.add_log(log)
        return {"client_id": client_id, "attached": "new", "status": s.tunnel_status(t),
                "config_version": s.configs.get(tid, {}).get("version", 0)}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="Fake Cloudflare API for Kaiden tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port here (atomically)")
    ap.add_argument("--token", default="fake-cf-token", help="the API token accepted")
    ap.add_argument("--account", default="0123456789abcdef0123456789abcdef")
    ap.add_argument("--zone", default="fedcba9876543210fedcba9876543210")
    ap.add_argument("--zone-name", default="example.com")
    ap.add_argument("--rate-limit", type=int, default=1200,
                    help="calls per window before 429 (0 = off); the real one is 1200/300s")
    ap.add_argument("--rate-window", type=float, default=300.0)
    ap.add_argument("--auth-status", type=int, choices=(400, 403), default=403,
                    help="HTTP status of an auth failure (unconfirmed in the ref)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args()

    server = Server((args.host, args.port), Handler)
    server.state = State(args)
    server.holds = Holds()
    server.token = args.token
    server.auth_status = args.auth_status
    server.verbose = args.verbose
    port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(port, flush=True)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
