"""agent.py: a real kaiden-agent for the portal's tests (not a browser script: the
NN_*.py loop skips it). test_portal.sh gives PORTAL_AGENT_BIN (the build's kaiden-agent)
and PORTAL_AGENT_URL (helperd's agent socket through nginx).

    a = Agent(device_id, secret, out_dir); a.start(); ...; a.stop()
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
