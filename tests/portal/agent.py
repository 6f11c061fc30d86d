"""agent.py: a real kaiden-agent for the portal's tests (not a browser script: the
NN_*.py loop skips it), in either mode, and the fake Kubernetes API a cluster-mode agent
reads its node from. test_portal.sh gives PORTAL_AGENT_BIN (the build's kaiden-agent)
and PORTAL_AGENT_URL (helperd's agent socket through nginx).

    a = Agent(device_id, secret, out_dir); a.start(); ...; a.stop()
    seen_once(device_id, secret, out_dir, api)   # its agent comes once and goes (seen)

    k = FakeK8s(out_dir).start()                 # tests/fakes/fake_k8s.py, a private port
    k.node("node-1", {"labels": {...}, "ready": "False", ...})   # its control API
    a = ClusterAgent(cluster_id, "node-1", cluster_secret, out_dir, k).start()
    ...; a.stop(); k.stop()

Secrets (a device's or a cluster's) and the fake's token go in 0600 files, never on a
command line. Whatever is started here and not stopped is stopped when the script exits
(atexit), so a script that fails half-way leaves no fake or agent running; scripts still
stop theirs in a finally.

helperd lets a session wait for a device's agent only if the device was seen lately
(session.ready_timeout: test_portal.sh gives helperd 3600 s); a session on a device never
seen fails at once ("device is offline"). A script that wants a pending session on an
agent-less device makes the device seen once first.
"""
import atexit
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

FAKE_K8S = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes", "fake_k8s.py")
_running = []  # what was started and not yet stopped


@atexit.register
def _stop_all():
    for p in reversed(list(_running)):
        p.stop()


def private_file(path, text):
    """text (and a newline) in a file of mode 0600 at path: a secret or a token."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def _stop(proc, seconds=15):
    """SIGTERM, then SIGKILL if proc has not exited within seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Agent:
    """A device's agent (--device-id and its secret)."""

    def __init__(self, device_id, secret, out_dir, name=None):
        self.device_id = device_id
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        name = name or device_id
        self.secret_file = private_file(os.path.join(out_dir, "agent-%s.secret" % name), secret)
        self.log = os.path.join(out_dir, "agent-%s.log" % name)
        self.proc = None
        self.env = None

    def args(self):
        return ["--device-id", self.device_id]

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [os.environ["PORTAL_AGENT_BIN"], "--server", os.environ["PORTAL_AGENT_URL"],
                 "--insecure", *self.args(), "--secret-file", self.secret_file],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        _running.append(self)
        return self

    def stop(self):
        if not self.proc:
            return
        _stop(self.proc)
        self.proc = None
        if self in _running:
            _running.remove(self)

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self):
        return self.log_text()[-600:]


class ClusterAgent(Agent):
    """A node's agent in cluster mode: --cluster-id, the cluster's secret and
    --node-name, reading its node from fake (a started FakeK8s) every refresh seconds.
    helperd finds or makes the node's device (GET /clusters/{id}/nodes names it)."""

    def __init__(self, cluster_id, node_name, secret, out_dir, fake, refresh=1, name=None):
        super().__init__(None, secret, out_dir, name or "%s-%s" % (node_name, cluster_id[:8]))
        self.cluster_id = cluster_id
        self.node_name = node_name
        self.fake = fake
        self.refresh = refresh
        # Node readings and the server's close codes are logged at info.
        self.env = dict(os.environ, KAIDEN_LOG_LEVEL="info")

    def args(self):
        return ["--cluster-id", self.cluster_id, "--node-name", self.node_name,
                "--k8s-api", self.fake.url, "--k8s-token-file", self.fake.token_file,
                "--node-refresh", str(self.refresh)]


class FakeK8s:
    """tests/fakes/fake_k8s.py on a port of its own (it picks a free one), with a token
    of its own in a 0600 file; no nodes until node() makes them."""

    def __init__(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        self.token_file = private_file(os.path.join(out_dir, "k8s.token"),
                                       "portal-k8s-" + secrets.token_urlsafe(18))
        self.port_file = os.path.join(out_dir, "k8s.port")
        self.log = os.path.join(out_dir, "fake_k8s.log")
        self.url = None
        self.proc = None

    def start(self, seconds=10):
        """Started and answering its health check, or RuntimeError (nothing left running)."""
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, FAKE_K8S, "--port-file", self.port_file,
                 "--token-file", self.token_file],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        _running.append(self)
        if wait_until(lambda: self.proc.poll() is not None or os.path.exists(self.port_file), seconds) \
                and self.proc.poll() is None:
            with open(self.port_file, encoding="utf-8") as f:
                self.url = "http://127.0.0.1:%d" % int(f.read())
            if self.control("GET", "health")[0] == 200:
                return self
        self.stop()
        with open(self.log, encoding="utf-8", errors="replace") as f:
            raise RuntimeError("fake_k8s.py did not start: " + f.read()[-400:])

    def control(self, method, path, body=None):
        """(status, JSON) of the fake's control API: /_fake/PATH."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_fake/" + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def node(self, name, change):
        """Makes node NAME (from the fake's template, a kubeadm worker) or changes it:
        {"labels": {k: v or None}, "ready": "True"|"False"|"Unknown", "unschedulable",
        "capacity", "allocatable", "nodeInfo"} (fake_k8s.py's docstring): (status, Node)."""
        return self.control("POST", "nodes/" + name, change)

    def stop(self):
        if self.proc:
            _stop(self.proc, 5)
            self.proc = None
        if self in _running:
            _running.remove(self)


def wait_until(cond, seconds):
    """cond() polled every 0.1 s for up to seconds: its last value."""
    end = time.time() + seconds
    v = cond()
    while not v and time.time() < end:
        time.sleep(0.1)
        v = cond()
    return v


def seen_once(device_id, secret, out_dir, api):
    """The device's real agent connects, is seen online through the API, and goes, seen
    offline through the API: True when both were seen. Its going is waited for, so that
    what the caller does next (a session asked for) meets a device helperd knows is
    offline, not an agent still closing (whose session would start and then fail as the
    device went offline before its tunnel was ready). api is browser.api (or any
    (status, json) = api(method, path))."""
    def status():
        return (api("GET", "devices/" + device_id)[1] or {}).get("status")
    a = Agent(device_id, secret, out_dir).start()
    try:
        seen = wait_until(lambda: status() == "online", 15)
    finally:
        a.stop()
    return seen and wait_until(lambda: status() == "offline", 15)
