#!/usr/bin/env python3
"""fcgi_close.py: a FastCGI client for test_api_close.sh, talking to kaiden-api's socket
as nginx does (one request a connection, no FCGI_KEEP_CONN), run against a kaiden-api
with one worker and libfcgi's lingering close made endless
(LIBFCGI_OS_CLOSE_POLL_TIMEOUT=-1).

    fcgi_close.py SOCKET CHECK      (SOCKET: a path, or 127.0.0.1:PORT for TCP)

CHECK is one of:
  get          GET /healthz: the whole reply and FCGI_END_REQUEST, then the end of the
               connection while this client still holds its own end open; and with
               that connection still held, a request on a second one is answered: the
               one worker closed the first at once (fcgi-app/main.c, finish_request)
               instead of waiting in libfcgi's close for this client to close first
  body-read    POST /api/v1/auth/login with a JSON body kaiden-api reads through: the
               same (401)
  body-unread  POST /api/v1/devices with a 70,000-byte body over server.max_body, which
               kaiden-api refuses before reading a byte (413): the whole reply arrives
               while the body is still being sent (libfcgi's lingering close reads it
               after the reply, so the close resets nothing); only after this client
               ends its side does the connection end

Prints what it saw; exits 0 when the check held, 1 when not. Every wait is bounded by a
socket timeout of 30 s, which only a failure reaches (the old close would hold the
connection for ever here)."""
import socket
import struct
import sys
import threading

BEGIN, END, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RID = 1
TIMEOUT = 30


def record(rtype, content=b""):
    return struct.pack(">BBHHBB", 1, rtype, RID, len(content), 0, 0) + content


def nv(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


def request(method, uri, body=b"", ctype=b""):
    params = [(b"REQUEST_METHOD", method), (b"DOCUMENT_URI", uri), (b"REQUEST_URI", uri),
              (b"QUERY_STRING", b""), (b"CONTENT_TYPE", ctype),
              (b"CONTENT_LENGTH", str(len(body)).encode() if body else b""),
              (b"REMOTE_ADDR", b"127.0.0.1"), (b"SERVER_PORT", b"80"),
              (b"HTTP_HOST", b"localhost"), (b"REQUEST_SCHEME", b"http")]
    p = b"".join(nv(k, v) for k, v in params)
    head = record(BEGIN, struct.pack(">HB5x", 1, 0)) + record(PARAMS, p) + record(PARAMS)
    stdin = b"".join(record(STDIN, body[i:i + 65535]) for i in range(0, len(body), 65535))
    return head, stdin + record(STDIN)


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("the connection ended inside a record")
        data += chunk
    return data


def read_reply(s):
    """The STDOUT bytes up to FCGI_END_REQUEST."""
    out = b""
    while True:
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", read_exact(s, 8))
        content = read_exact(s, clen)
        read_exact(s, plen)
        if rtype == STDOUT:
            out += content
        elif rtype == END:
            return out


def status(reply):
    for line in reply.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            return int(line.split()[1])
    return 200 if reply else 0


def connect(path):
    if path.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(path)
    else:
        host, port = path.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    return s


def one(path, method, uri, body=b"", ctype=b"", want=200):
    """A request's reply, its connection left open: (ok, socket)."""
    s = connect(path)
    head, stdin = request(method, uri, body, ctype)
    s.sendall(head + stdin)
    try:
        reply = read_reply(s)
    except (OSError, EOFError) as e:
        print(f"{method.decode()} {uri.decode()}: no reply ({e})")
        return False, s
    got = status(reply)
    print(f"{method.decode()} {uri.decode()}: status {got}, reply {len(reply)} bytes")
    return got == want and b"\r\n\r\n" in reply, s


def freed(path, method, uri, body=b"", ctype=b"", want=200):
    """The request is answered and its connection ended (by the server) while this
    client holds its end open; then, with that connection still open, a request on a
    second connection is answered too: the one worker did not stay behind on the
    first (libfcgi's close would wait there for this client's close)."""
    ok, s1 = one(path, method, uri, body, ctype, want)
    try:
        ended = s1.recv(1) == b""
    except (OSError, socket.timeout):
        ended = False
    print(f"  the connection ended with this end open: {ended}")
    ok2, s2 = one(path, b"GET", b"/healthz")
    s2.close()
    s1.close()
    print(f"  a second connection answered while the first is held: {ok2}")
    return ok and ended and ok2


def body_unread(path):
    body = b'{"name":"' + b"x" * 69980 + b'"}'
    s = connect(path)
    head, stdin = request(b"POST", b"/api/v1/devices", body, b"application/json")
    s.sendall(head)
    sent = threading.Event()

    def send():
        try:
            s.sendall(stdin)
        except OSError:
            pass
        sent.set()

    t = threading.Thread(target=send, daemon=True)
    t.start()
    reply = read_reply(s)
    got = status(reply)
    sent.wait(TIMEOUT)
    s.shutdown(socket.SHUT_WR)
    try:
        ended = s.recv(1) == b""
    except socket.timeout:
        ended = False
    s.close()
    ok = got == 413 and b"payload_too_large" in reply and sent.is_set() and ended
    print(f"POST 70,000 bytes: status {got}, reply {len(reply)} bytes, body sent: "
          f"{sent.is_set()}, connection ended after this end's: {ended}")
    return ok


def main():
    path, check = sys.argv[1], sys.argv[2]
    if check == "get":
        ok = freed(path, b"GET", b"/healthz")
    elif check == "body-read":
        ok = freed(path, b"POST", b"/api/v1/auth/login",
                 b'{"email":"nobody@example.com","password":"not this one"}',
                 b"application/json", want=401)
    elif check == "body-unread":
        ok = body_unread(path)
    else:
        print(f"unknown check {check}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
