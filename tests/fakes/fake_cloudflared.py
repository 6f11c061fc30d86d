#!/usr/bin/env python3
"""fake_cloudflared.py: stands in for `cloudflared` in tests (install it on PATH as
`cloudflared`). It behaves like the real connector as far as kaiden-agent can see:

    cloudflared [--no-autoupdate] tunnel [--metrics H:P] [--loglevel L] [...] run
    cloudflared --version | cloudflared tunnel --version | cloudflared version

* Token from --token (works, but argv is visible in ps), env TUNNEL_TOKEN, or --token-file /
  env TUNNEL_TOKEN_FILE, in that order (as cloudflared). A malformed token prints
  "Provided Tunnel token is not valid." and exits 1.
* "The edge" is the fake API named by env KAIDEN_FAKE_CF_URL: it registers a connector with
  POST /_fake/tunnels/{t}/connect, passing the secret from the token. A deleted tunnel or a
  wrong secret logs "Unauthorized: Failed to get tunnel" and retries with backoff forever,
  never becoming ready, as the real one does (ref, section 6).
* While connected it re-registers every heartbeat, so deleting its connections through the
  API while it runs makes it reconnect (and the tunnel healthy again), as the real one does.
* Metrics server: /ready 200 {"status":200,"readyConnections":4,"connectorId":..} once
  connected, 503 before and while shutting down; /healthcheck "OK"; /metrics Prometheus.
* SIGTERM/SIGINT: unregister, wait the drain time (bounded by --grace-period), exit 0; a
  second signal exits at once (status 1).

Test knobs (environment):
  KAIDEN_FAKE_CLOUDFLARED_DIR       write cloudflared-<pid>.json there: pid, argv (token
                                    redacted), token_source, state, exit_code
  KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS  delay before registering (default 200)
  KAIDEN_FAKE_CLOUDFLARED_FAIL      exit (die with status 1 after the ready delay) |
                                    never_ready (never registers) | ignore_term (ignores
                                    SIGTERM/SIGINT; only SIGKILL stops it)
  KAIDEN_FAKE_CLOUDFLARED_BACKOFF_MS      first retry delay, doubling to 16x (default 1000)
  KAIDEN_FAKE_CLOUDFLARED_HEARTBEAT_MS    re-registration interval (default 1000)
  KAIDEN_FAKE_CLOUDFLARED_DRAIN_MS        time "draining" after SIGTERM (default 0)
"""

import os
import signal
import sys

# Catch SIGTERM/SIGINT before the slow imports below: on a loaded machine they take a few
# hundred milliseconds, and a supervisor that stops us at once must still see a clean exit.
# main() replays what arrived here.
EARLY_SIGNALS = []
signal.signal(signal.SIGTERM, lambda signum, frame: EARLY_SIGNALS.append(signum))
signal.signal(signal.SIGINT, lambda signum, frame: EARLY_SIGNALS.append(signum))

import base64  # noqa: E402
import binascii  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

VERSION = "2024.8.2"
BUILT = "2024-08-05-1200 UTC"
HA_CONNECTIONS = 4
LEVELS = {"debug": 0, "info": 1, "warn": 2, "error": 3, "fatal": 4}
TAGS = {0: "DBG", 1: "INF", 2: "WRN", 3: "ERR", 4: "FTL"}
# Flags that take no value; any other flag takes the next word unless written --f=v.
BOOL_FLAGS = {"no-autoupdate", "version", "v", "help", "h", "no-tls-verify", "post-quantum",
              "pq", "no-chunked-encoding", "management-diagnostics", "compression-quality",
              "disable-quic-pmtu-discovery"}
TOKEN_INVALID = "Provided Tunnel token is not valid."


def env_ms(name, default):
    try:
        return max(0, int(os.environ.get(name, default))) / 1000.0
    except ValueError:
        return default / 1000.0


def go_duration(text, default):
    """Parse a Go duration such as 30s, 1m30s, 500ms."""
    total, pos = 0.0, 0
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text or ""):
        if m.start() != pos:
            return default
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    return total if text and pos == len(text) else default


class Logger:
    def __init__(self, level="info", logfile=None):
        self.level = LEVELS.get(level, 1)
        self.file = open(logfile, "a", buffering=1) if logfile else None
        self.lock = threading.Lock()

    def __call__(self, level, message, **fields):
        if level < self.level:
            return
        ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = "".join(f" {k}={json.dumps(v) if isinstance(v, str) and ' ' in v else v}"
                        for k, v in fields.items())
        line = f"{ts} {TAGS[level]} {message}{extra}\n"
        with self.lock:
            sys.stderr.write(line)
            sys.stderr.flush()
            if self.file:
                self.file.write(line)


def parse_argv(argv):
    """Split argv into flags and words. cloudflared (urfave/cli) accepts -f and --f alike
    and scopes flags to subcommands; the fake takes them anywhere."""
    flags, words, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.lstrip("-").partition("=")
            if eq:
                flags[name] = value
            elif (name in BOOL_FLAGS or i + 1 >= len(argv)
                  or argv[i + 1].startswith("-") or argv[i + 1] in ("tunnel", "run")):
                flags[name] = True
            else:
                flags[name] = argv[i + 1]
                i += 1
        else:
            words.append(arg)
        i += 1
    return flags, words


def redact_argv(argv):
    """argv as recorded for tests: a token given on the command line is replaced, so the
    record never holds it, and token_in_argv says it was there."""
    out, hide_next = [], False
    for arg in argv:
        if hide_next:
            out.append("[REDACTED]")
            hide_next = False
        elif re.match(r"^--?token=", arg):
            out.append(arg.split("=", 1)[0] + "=[REDACTED]")
        elif arg in ("--token", "-token"):
            out.append(arg)
            hide_next = True
        else:
            out.append(arg)
    return out


def decode_token(token):
    """A tunnel token is base64 of JSON {"a": account, "t": tunnel UUID, "s": base64
    secret}. Returns the dict, or None if anything is off."""
    try:
        data = json.loads(base64.b64decode(token.strip(), validate=True))
        if not all(isinstance(data.get(k), str) and data[k] for k in ("a", "t", "s")):
            return None
        uuid.UUID(data["t"])
        base64.b64decode(data["s"], validate=True)
        return data
    except (binascii.Error, ValueError, TypeError, AttributeError, UnicodeDecodeError):
        return None


class Record:
    """cloudflared-<pid>.json in KAIDEN_FAKE_CLOUDFLARED_DIR, so tests can check that no
    process is left and that the token never reached argv."""

    def __init__(self, argv):
        self.dir = os.environ.get("KAIDEN_FAKE_CLOUDFLARED_DIR")
        self.data = {"pid": os.getpid(), "ppid": os.getppid(),
                     "argv": redact_argv(argv),
                     "token_in_argv": any(re.match(r"^--?token(=|$)", a) for a in argv),
                     "token_source": None, "tunnel_id": None, "metrics": None,
                     "state": "starting", "ready": False, "exit_code": None,
                     "started_at": time.time(), "ended_at": None}
        self.lock = threading.Lock()

    def update(self, **fields):
        with self.lock:
            self.data.update(fields)
            if not self.dir:
                return
            path = os.path.join(self.dir, f"cloudflared-{os.getpid()}.json")
            tmp = path + ".tmp"
            try:
                with open(tmp, "w") as f:
                    json.dump(self.data, f)
                os.replace(tmp, path)
            except OSError:
                pass  # a missing directory must not change how the connector behaves


class Connector:
    """Shared by the main loop and the metrics server."""

    def __init__(self):
        self.ready = False
        self.registered = False  # the fake edge knows this connector
        self.connector_id = str(uuid.uuid4())
        self.lock = threading.Lock()


def make_metrics_handler(conn):
    class MetricsHandler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def send(self, status, body, ctype):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?")[0]
            ready = conn.ready
            n = HA_CONNECTIONS if ready else 0
            if path == "/ready":
                self.send(200 if ready else 503,
                          json.dumps({"status": 200 if ready else 503, "readyConnections": n,
                                      "connectorId": conn.connector_id}),
                          "application/json")
            elif path == "/healthcheck":
                self.send(200, "OK\n", "text/plain; charset=utf-8")
            elif path == "/metrics":
                self.send(200, "\n".join([
                    "# HELP build_info Build and version information",
                    "# TYPE build_info gauge",
                    f'build_info{{goversion="go1.22.5",revision="fake",type="fake",'
                    f'version="{VERSION}"}} 1',
                    "# HELP cloudflared_tunnel_ha_connections Number of active ha connections",
                    "# TYPE cloudflared_tunnel_ha_connections gauge",
                    f"cloudflared_tunnel_ha_connections {n}",
                    "# HELP cloudflared_tunnel_total_requests Amount of requests proxied "
                    "through all the tunnels",
                    "# TYPE cloudflared_tunnel_total_requests counter",
                    "cloudflared_tunnel_total_requests 0",
                    "# HELP cloudflared_tunnel_request_errors Amount of requests errors",
                    "# TYPE cloudflared_tunnel_request_errors counter",
                    "cloudflared_tunnel_request_errors 0", ""]),
                    "text/plain; version=0.0.4; charset=utf-8")
            else:
                self.send(404, "404 page not found\n", "text/plain; charset=utf-8")

    return MetricsHandler


def start_metrics(address, conn, log):
    """Bind the metrics server. Without --metrics, cloudflared tries 127.0.0.1:20241-20245
    and then a random port (ref, section 6)."""
    if address:
        host, _, port = address.rpartition(":")
        candidates = [(host or "127.0.0.1", int(port))]
    else:
        candidates = [("127.0.0.1", p) for p in range(20241, 20246)] + [("127.0.0.1", 0)]
    for host, port in candidates:
        try:
            server = ThreadingHTTPServer((host, port), make_metrics_handler(conn))
        except OSError as e:
            if address:
                log(3, "failed to start the metrics server", error=str(e))
                return None
            continue
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        bound = f"{server.server_address[0]}:{server.server_address[1]}"
        log(1, f"Starting metrics server on {bound}/metrics")
        return bound
    return None


def edge_call(base, tid, action, body):
    """POST to the fake's control API. Returns (http_status or None, envelope or error)."""
    req = urllib.request.Request(f"{base.rstrip('/')}/_fake/tunnels/{tid}/{action}",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except (OSError, ValueError) as e:
        return None, str(e)


def main(argv):
    flags, words = parse_argv(argv)
    if flags.get("version") or flags.get("v") or words[:1] == ["version"] \
            or words[:2] == ["tunnel", "version"]:
        print(f"cloudflared version {VERSION} (built {BUILT})")
        return 0
    if words[:2] != ["tunnel", "run"]:
        sys.stderr.write("fake cloudflared: only 'cloudflared tunnel [flags] run' and "
                         "'--version' are supported\n")
        return 2

    log = Logger(str(flags.get("loglevel", "info")), flags.get("logfile")
                 if isinstance(flags.get("logfile"), str) else None)
    record = Record(argv)
    fail = os.environ.get("KAIDEN_FAKE_CLOUDFLARED_FAIL", "")
    conn = Connector()
    stop = threading.Event()
    signals = {"count": 0}

    def finish(code):
        conn.ready = False
        record.update(state="exited", ready=False, exit_code=code, ended_at=time.time())
        return code

    def on_signal(signum, frame):
        name = signal.Signals(signum).name.lower().replace("sig", "")
        if fail == "ignore_term":
            log(2, f"Ignoring signal {name} (KAIDEN_FAKE_CLOUDFLARED_FAIL=ignore_term)")
            return
        signals["count"] += 1
        if signals["count"] == 1:
            log(1, f"Initiating graceful shutdown due to signal {name} ...")
            stop.set()
        else:
            log(1, "Received second signal, shutting down at once")
            finish(1)
            os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    record.update(state="starting")
    for signum in EARLY_SIGNALS:
        on_signal(signum, None)

    # The token: --token (same flag as env TUNNEL_TOKEN in cloudflared), then --token-file.
    token, source = None, None
    if isinstance(flags.get("token"), str) and flags["token"]:
        token, source = flags["token"], "argv"
    elif os.environ.get("TUNNEL_TOKEN"):
        token, source = os.environ["TUNNEL_TOKEN"], "env"
    else:
        path = flags.get("token-file") or os.environ.get("TUNNEL_TOKEN_FILE")
        if isinstance(path, str) and path:
            try:
                with open(path) as f:
                    token, source = f.read().strip(), "file"
            except OSError as e:
                log(3, "Failed to read token file", path=path, error=str(e))
                return finish(1)
    record.update(token_source=source)
    if token is None:
        log(3, '"cloudflared tunnel run" requires the ID or name of the tunnel to run as the '
               "last command line argument or in the configuration file.")
        return finish(1)
    creds = decode_token(token)
    if creds is None:
        sys.stderr.write(TOKEN_INVALID + "\n")
        return finish(1)
    tid = creds["t"]
    base = os.environ.get("KAIDEN_FAKE_CF_URL")
    if not base:
        log(3, "fake cloudflared: KAIDEN_FAKE_CF_URL is not set; refusing to guess an edge")
        return finish(1)

    log(1, "Starting tunnel", tunnelID=tid)
    log(1, f"Version {VERSION} (Checksum fake)")
    log(1, "GOOS: linux, GOVersion: go1.22.5, GoArch: amd64")
    log(1, "Generated Connector ID: " + conn.connector_id)
    metrics = start_metrics(flags.get("metrics") if isinstance(flags.get("metrics"), str)
                            else None, conn, log)
    if metrics is None:
        return finish(1)
    record.update(state="running", tunnel_id=tid, metrics=metrics)

    backoff0 = env_ms("KAIDEN_FAKE_CLOUDFLARED_BACKOFF_MS", 1000) or 0.05
    heartbeat = env_ms("KAIDEN_FAKE_CLOUDFLARED_HEARTBEAT_MS", 1000) or 0.05
    grace = go_duration(flags.get("grace-period") if isinstance(flags.get("grace-period"), str)
                        else None, 30.0)
    protocol = flags.get("protocol") if flags.get("protocol") in ("http2", "quic") else "quic"

    if stop.wait(env_ms("KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS", 200)):
        return shutdown(log, base, tid, conn, grace, finish)
    if fail == "exit":
        log(3, "Couldn't start tunnel", error="KAIDEN_FAKE_CLOUDFLARED_FAIL=exit")
        return finish(1)

    backoff, first = backoff0, True
    registered = False
    while not stop.is_set():
        if fail == "never_ready":
            log(3, "Failed to dial a quic connection", error="timeout: no recent network "
                "activity", connIndex=0, event=0, ip="198.41.192.7")
            log(1, "Retrying connection in up to " + f"{backoff:g}s", connIndex=0)
            stop.wait(backoff)
            backoff = min(backoff * 2, backoff0 * 16)
            continue
        status, reply = edge_call(base, tid, "connect",
                                  {"client_id": conn.connector_id, "secret": creds["s"],
                                   "conns": HA_CONNECTIONS, "version": VERSION,
                                   "arch": "linux_amd64"})
        if status == 200:
            result = reply.get("result") or {}
            if result.get("attached") == "new":
                for i in range(HA_CONNECTIONS):
                    log(1, "Registered tunnel connection", connIndex=i,
                        connection=str(uuid.uuid4()), event=0, ip=f"198.41.192.{7 + i}",
                        location=f"fra0{i + 1}", protocol=protocol)
            conn.registered = True
            if not registered:
                conn.ready = True
                registered = True
                record.update(ready=True)
                if first and isinstance(flags.get("pidfile"), str):
                    # cloudflared writes --pidfile after the first connection (ref).
                    with open(flags["pidfile"], "w") as f:
                        f.write(f"{os.getpid()}\n")
                first = False
            backoff = backoff0
            stop.wait(heartbeat)
            continue
        # Not connected: never ready, retry with backoff, forever.
        conn.registered = False
        if registered:
            registered = False
            conn.ready = False
            record.update(ready=False)
            log(3, "Connection terminated", connIndex=0)
        if status in (401, 404):
            message = ((reply.get("errors") or [{}])[0].get("message")
                       if isinstance(reply, dict) else "") or "Unauthorized: Failed to get tunnel"
            if "secret" in message.lower():
                message = "Unauthorized: Invalid tunnel secret"
            log(3, "Register tunnel error from server side", error=message, connIndex=0,
                event=0, ip="198.41.192.7")
        else:
            log(3, "Failed to dial a quic connection", error=str(reply)[:200], connIndex=0,
                event=0, ip="198.41.192.7")
        log(1, f"Retrying connection in up to {backoff:g}s", connIndex=0)
        stop.wait(backoff)
        backoff = min(backoff * 2, backoff0 * 16)
    return shutdown(log, base, tid, conn, grace, finish)


def shutdown(log, base, tid, conn, grace, finish):
    """Unregister from the edge, drain (bounded by the grace period), exit 0."""
    conn.ready = False
    if conn.registered:
        edge_call(base, tid, "disconnect", {"client_id": conn.connector_id})
        for i in range(HA_CONNECTIONS):
            log(1, "Unregistered tunnel connection", connIndex=i, event=0,
                ip=f"198.41.192.{7 + i}")
    drain = min(env_ms("KAIDEN_FAKE_CLOUDFLARED_DRAIN_MS", 0), grace)
    if drain:
        log(1, f"Waiting up to {drain:g}s for in-flight requests (grace period {grace:g}s)")
        time.sleep(drain)  # a second signal interrupts this through os._exit
    log(1, "Tunnel server stopped")
    return finish(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
