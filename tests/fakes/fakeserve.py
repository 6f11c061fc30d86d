"""fakeserve.py: what the loopback HTTP fakes share: a handler base that answers JSON and
reads bounded bodies, and serve(): tell the test which port was taken, then serve until
SIGTERM or SIGINT (status 0).

    from fakeserve import JSONHandler, serve
    class Handler(JSONHandler): ...
    serve(ThreadingHTTPServer(("127.0.0.1", port), Handler), port_file)

The first stdout line is the port; port_file (if given) is written atomically once the
server listens, so a test that sees the file can connect."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    max_body = 1 << 20
    json_separators = None   # (",", ":") for Go's compact form
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write(f"{type(self).__module__}: " + (fmt % args) + "\n")

    def send_json(self, status, obj=None, headers=()):
        """obj: anything json.dumps takes, raw bytes, or None for an empty body."""
        if isinstance(obj, bytes):
            body = obj
        else:
            body = json.dumps(obj, separators=self.json_separators).encode() \
                if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        """The request body, or None when it is longer than max_body."""
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > self.max_body:
            return None
        return self.rfile.read(n)


def serve(server, port_file=None):
    port = server.server_address[1]
    print(port, flush=True)
    if port_file:
        tmp = f"{port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
