#!/usr/bin/env python3
"""fake_dns.py: a DNS server over UDP for the tests (stdlib only), what kaiden-api's
services.dns_server names when it verifies a custom domain's CNAME (issue 13).

    fake_dns.py [--port N | --port-file FILE] [--records FILE]
                [--cname NAME=TARGET ...] [--a NAME=IPV4 ...]

Answers each question from the records: a CNAME for a name that has one (whatever type
was asked, as a real server does: the CNAME is the answer, and when its target has an A
record here, that A follows it), an A for a name with one when A or ANY was asked,
NOERROR with no answer (NODATA) for a known name without that type, NXDOMAIN for the
others. Names compare without case and without a trailing dot.

Records come from argv and from the control file (--records): a JSON object
{"cname": {"name": "target"}, "a": {"name": "1.2.3.4"}}, read again whenever its
modification time or size changes, so a test adds a record by rewriting the file (write
a temporary file and rename it over, so no query reads half a file). The file's records
win over argv's for the same name. A missing or unreadable file counts as empty.

--port 0 (the default) binds a free port; --port-file gets the port once it is bound
(written to FILE.tmp then renamed, so a reader never sees half). Binds 127.0.0.1 only.
Logs one line per question on stderr. Stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys

TYPE_A, TYPE_CNAME, TYPE_ANY = 1, 5, 255


def norm(name):
    return name.strip().rstrip(".").lower()


def encode(name):
    return b"".join(bytes([len(p)]) + p.encode("ascii") for p in norm(name).split(".") if p) + b"\0"


class Records:
    def __init__(self, cname, a, path):
        self.base = ({norm(k): norm(v) for k, v in cname.items()}, {norm(k): v for k, v in a.items()})
        self.path = path
        self.stamp = None
        self.file = ({}, {})

    def current(self):
        if self.path:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                stamp = None
            if stamp != self.stamp:
                self.stamp = stamp
                self.file = ({}, {})
                if stamp:
                    try:
                        with open(self.path, encoding="utf-8") as f:
                            data = json.load(f)
                        self.file = ({norm(k): norm(v) for k, v in (data.get("cname") or {}).items()},
                                     {norm(k): v for k, v in (data.get("a") or {}).items()})
                    except (OSError, ValueError, AttributeError) as e:
                        print("fake_dns: %s: %s (no records from it)" % (self.path, e), file=sys.stderr)
        cname = dict(self.base[0])
        cname.update(self.file[0])
        a = dict(self.base[1])
        a.update(self.file[1])
        return cname, a


def parse_question(data):
    """(name, qtype, end of the question) or None."""
    if len(data) < 12 or struct.unpack(">H", data[4:6])[0] < 1:
        return None
    i, labels = 12, []
    while i < len(data) and data[i]:
        n = data[i]
        if n & 0xC0 or i + 1 + n > len(data):
            return None
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if i + 5 > len(data):
        return None
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    return ".".join(labels), qtype, i + 5


def answer(data, records):
    q = parse_question(data)
    if q is None:
        return None, None
    name, qtype, end = q
    cname, a = records.current()
    key = norm(name)
    rrs = []
    rcode = 0
    if key in cname:
        target = cname[key]
        rrs.append((b"\xc0\x0c", TYPE_CNAME, encode(target)))
        if qtype in (TYPE_A, TYPE_ANY) and target in a:
            rrs.append((encode(target), TYPE_A, socket.inet_aton(a[target])))
    elif key in a:
        if qtype in (TYPE_A, TYPE_ANY):
            rrs.append((b"\xc0\x0c", TYPE_A, socket.inet_aton(a[key])))
    else:
        rcode = 3  # NXDOMAIN
    # QR, opcode of the question, AA, RD copied, RA.
    rd = data[2] & 0x01
    flags = 0x8400 | (rd << 8) | 0x80 | rcode
    head = data[:2] + struct.pack(">HHHHH", flags, 1, len(rrs), 0, 0)
    body = b"".join(owner + struct.pack(">HHIH", t, 1, 60, len(rd_)) + rd_ for owner, t, rd_ in rrs)
    what = "NXDOMAIN" if rcode else (",".join("CNAME" if t == TYPE_CNAME else "A" for _, t, _ in rrs) or "NODATA")
    return head + data[12:end] + body, "%s type %d: %s" % (name, qtype, what)


def pairs(items, flag):
    out = {}
    for item in items or []:
        if "=" not in item:
            sys.exit("fake_dns: %s wants NAME=VALUE, not %r" % (flag, item))
        k, v = item.split("=", 1)
        out[k] = v
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--records")
    p.add_argument("--cname", action="append", metavar="NAME=TARGET")
    p.add_argument("--a", action="append", metavar="NAME=IPV4")
    args = p.parse_args()
    a = pairs(args.a, "--a")
    for v in a.values():
        socket.inet_aton(v)
    records = Records(pairs(args.cname, "--cname"), a, args.records)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    print("fake_dns: listening on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            data, peer = sock.recvfrom(4096)
            reply, line = answer(data, records)
            if reply is None:
                continue
            print("fake_dns: " + line, file=sys.stderr, flush=True)
            sock.sendto(reply, peer)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
