"""agent.py: a real kaiden-agent for the portal's tests (not a browser script: the
NN_*.py loop skips it). test_portal.sh gives PORTAL_AGENT_BIN (the build's kaiden-agent)
and PORTAL_AGENT_URL (helperd's agent socket through nginx).

    a = Agent(device_id, secret, out_dir); a.start(); ...; a.stop()
    seen_once(device_id, secret, out_dir, api)   # its agent comes once and goes

helperd lets a session wait for a device's agent only if the device was seen lately
(session.ready_timeout: test_portal.sh gives helperd 3600 s); a session on a device never
seen fails at once ("device is offline"). A script that wants a pending session on an
agent-less device makes the device seen once first.
"""
import os
import signal
import subprocess
import time


class Agent:
    def __init__(self, device_id, secret, out_dir):
        self.device_id = device_id
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        # The secret goes in a 0600 file, never on the command line.
        self.secret_file = os.path.join(out_dir, "agent-%s.secret" % device_id)
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        self.log = os.path.join(out_dir, "agent-%s.log" % device_id)
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [os.environ["PORTAL_AGENT_BIN"], "--server", os.environ["PORTAL_AGENT_URL"],
                 "--insecure", "--device-id", self.device_id, "--secret-file", self.secret_file],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return self

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-600:]
        except OSError:
            return ""


def wait_until(cond, seconds):
    """cond() polled every 0.1 s for up to seconds: its last value."""
    end = time.time() + seconds
    v = cond()
    while not v and time.time() < end:
        time.sleep(0.1)
        v = cond()
    return v


def seen_once(device_id, secret, out_dir, api):
    """The device's real agent connects, is seen online through the API, and goes: True
    when it was seen. api is browser.api (or any (status, json) = api(method, path))."""
    a = Agent(device_id, secret, out_dir).start()
    try:
        return wait_until(lambda: (api("GET", "devices/" + device_id)[1] or {}).get(
            "status") == "online", 15)
    finally:
        a.stop()
