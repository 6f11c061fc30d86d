#!/usr/bin/env python3
"""ws_events.py: reads helperd's live event stream (/api/v1/ws/events) as a script would,
for the integration tests.

    ws_events.py --url ws://127.0.0.1:PORT/api/v1/ws/events --token-file F
                 [--match SUBSTRING] [--timeout S]

Connects with "Authorization: Bearer <the file's first line>" and the subprotocol
kaiden-events, prints "connected" once the upgrade is answered with 101, then each event
(a text frame) on a line of its own, flushed. Exits 0 after the first event containing
--match (without --match: never, until --timeout), 1 on timeout or when the stream ends
first, 2 when the upgrade is refused (its status line printed). Python 3 standard library
only; a minimal RFC 6455 client (masked frames; answers pings).
"""
import argparse
import base64
import os
import socket
import struct
import sys
import time
import urllib.parse


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_exact(sock, buf, n):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    return buf[:n], buf[n:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--match")
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    with open(args.token_file) as f:
        token = f.readline().strip()
    u = urllib.parse.urlsplit(args.url)
    deadline = time.monotonic() + args.timeout
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=args.timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    host = "%s:%d" % (u.hostname, u.port or 80)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: kaiden-events\r\nAuthorization: Bearer %s\r\n\r\n"
                  % (u.path + ("?" + u.query if u.query else ""), host, key, token)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            print("no answer to the upgrade", flush=True)
            return 2
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status + " ":
        print(status, flush=True)
        return 2
    print("connected", flush=True)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 1
        sock.settimeout(left)
        try:
            hdr, buf = read_exact(sock, buf, 2)
            opcode, n = hdr[0] & 0x0F, hdr[1] & 0x7F
            if n == 126:
                ext, buf = read_exact(sock, buf, 2)
                n = struct.unpack("!H", ext)[0]
            elif n == 127:
                ext, buf = read_exact(sock, buf, 8)
                n = struct.unpack("!Q", ext)[0]
            payload, buf = read_exact(sock, buf, n)
        except (EOFError, socket.timeout, OSError):
            return 1
        if opcode == 0x9:
            send_frame(sock, 0xA, payload)
        elif opcode == 0x8:
            return 1
        elif opcode == 0x1:
            text = payload.decode(errors="replace")
            print(text, flush=True)
            if args.match and args.match in text:
                return 0


if __name__ == "__main__":
    sys.exit(main())
