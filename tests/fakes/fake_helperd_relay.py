#!/usr/bin/env python3
"""fake_helperd_relay.py: plays kaiden-helperd's side of the relay for a real kaiden-agent
(agent/PROTOCOL.md, "The relay (protocol version 2)"), and drives the agent's relay tests
against real TCP targets on loopback. Uses Debian's python3-websockets.

    fake_helperd_relay.py --agent build/bin/kaiden-agent --work DIR [--only NAME ...]

It serves the control socket /api/v1/ws/agent (hello -> welcome, heartbeats, commands)
and the data sockets /api/v1/ws/stream/<stream_id> (401 before the upgrade for an
unknown stream, a wrong or reused key), starts the agent with --relay-ports naming its
targets, and runs the scenarios below. Each check prints one line:
    ok<TAB>what            bad<TAB>what<TAB>why
(tests/scripts/test_agent_relay.sh turns them into its summary). The agent's log is
DIR/agent.log. Targets (asyncio servers on 127.0.0.1):
    echo   echoes         greet  sends GREET bytes, then closes
    flood  sends FLOOD bytes as fast as it may, then closes
    sink   accepts and never reads      count  reads to EOF and records the total
    closed a port nothing listens on"""

import argparse
import asyncio
import base64
import hashlib
import http
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid

import websockets

GREET = 1 << 20
FLOOD = 200 << 20
ECHO_BYTES = 4 << 20
RSS_BOUND_KB = 8 << 10  # growth allowed while 200 MB are held back (the buffers: 0.5 MB)


def b64key():
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


class Report:
    def __init__(self):
        self.failed = 0

    def ok(self, what):
        print("ok\t%s" % what, flush=True)

    def bad(self, what, why):
        self.failed += 1
        print("bad\t%s\t%s" % (what, str(why).replace("\n", " ")), flush=True)

    def check(self, what, cond, why=""):
        if cond:
            self.ok(what)
        else:
            self.bad(what, why or "condition false")
        return cond


class Targets:
    """The machine's loopback services the agent relays to."""

    def __init__(self):
        self.echo_open = 0
        self.echo_closed = 0
        self.flood_sent = 0
        self.flood_done = asyncio.Event()
        self.sink_conns = 0
        self.count_totals = []
        self.count_event = asyncio.Event()
        self.greet_sha = None
        self.peers = set()
        self.servers = []
        self.ports = {}

    async def start(self):
        for name, handler in (("echo", self.echo), ("greet", self.greet),
                              ("flood", self.flood), ("sink", self.sink),
                              ("count", self.count)):
            srv = await asyncio.start_server(handler, "127.0.0.1", 0)
            self.servers.append(srv)
            self.ports[name] = srv.sockets[0].getsockname()[1]
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.ports["closed"] = s.getsockname()[1]
        s.close()

    def note_peer(self, writer):
        self.peers.add(writer.get_extra_info("peername")[0])

    async def echo(self, reader, writer):
        self.note_peer(writer)
        self.echo_open += 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.echo_closed += 1
            writer.close()

    async def greet(self, reader, writer):
        self.note_peer(writer)
        data = os.urandom(GREET)
        self.greet_sha = hashlib.sha256(data).hexdigest()
        writer.write(data)
        await writer.drain()
        writer.close()

    async def flood(self, reader, writer):
        self.note_peer(writer)
        chunk = os.urandom(64 << 10)
        try:
            while self.flood_sent < FLOOD:
                writer.write(chunk)
                await writer.drain()
                self.flood_sent += len(chunk)
        except (ConnectionError, OSError):
            pass
        self.flood_done.set()
        writer.close()

    async def sink(self, reader, writer):
        self.note_peer(writer)
        self.sink_conns += 1
        try:
            await reader.read(0)  # never reads: waits for the end below
            while not reader.at_eof():
                await asyncio.sleep(3600)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass

    async def count(self, reader, writer):
        self.note_peer(writer)
        total = 0
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                total += len(data)
        except (ConnectionError, OSError):
            pass
        self.count_totals.append(total)
        self.count_event.set()
        writer.close()


class Helperd:
    """The control socket and the data sockets."""

    def __init__(self):
        self.agent = None
        self.hello = None
        self.msgs = []
        self.cond = asyncio.Condition()
        self.heartbeats = []
        self.streams = {}      # stream_id -> dict(key, used, ws, event, headers)
        self.refused = []      # (path, reason) of data sockets refused with 401
        self.agent_closed = asyncio.Event()
        self.agent_close_code = None

    # ---- the server ----
    async def process_request(self, path, headers):
        if path == "/api/v1/ws/agent":
            return None
        if path.startswith("/api/v1/ws/stream/"):
            sid = path[len("/api/v1/ws/stream/"):]
            st = self.streams.get(sid)
            auth = headers.get("Authorization", "")
            why = None
            if not st:
                why = "unknown stream"
            elif auth != "Bearer " + st["key"]:
                why = "wrong key"
            elif st["used"]:
                why = "key used before"
            if why:
                self.refused.append((path, why))
                return (http.HTTPStatus.UNAUTHORIZED, [("Content-Type", "application/json")],
                        b'{"error":{"code":"unauthorized","message":"%s"}}' % why.encode())
            st["used"] = True
            st["headers"] = dict(headers)
            return None
        return (http.HTTPStatus.NOT_FOUND, [], b"")

    async def handler(self, ws, path):
        if path == "/api/v1/ws/agent":
            await self.control(ws)
            return
        sid = path.rsplit("/", 1)[1]
        st = self.streams[sid]
        st["ws"] = ws
        st["subprotocol"] = ws.subprotocol
        st["event"].set()
        await ws.wait_closed()

    async def control(self, ws):
        if ws.subprotocol != "kaiden-agent":
            await ws.close(4000, "subprotocol")
            return
        self.hello = json.loads(await ws.recv())
        self.agent = ws
        await ws.send(json.dumps({"type": "welcome", "heartbeat": 1}))
        try:
            async for text in ws:
                m = json.loads(text)
                async with self.cond:
                    if m["type"] == "heartbeat":
                        self.heartbeats.append(m["sessions"])
                    else:
                        self.msgs.append(m)
                    self.cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        self.agent_close_code = ws.close_code
        self.agent_closed.set()

    # ---- the test's side ----
    async def send(self, type_, **fields):
        fields["type"] = type_
        await self.agent.send(json.dumps(fields))

    async def wait_msg(self, pred, timeout=10):
        """The first unconsumed message pred accepts (removed), or None."""
        end = time.monotonic() + timeout
        async with self.cond:
            while True:
                for i, m in enumerate(self.msgs):
                    if pred(m):
                        return self.msgs.pop(i)
                left = end - time.monotonic()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self.cond.wait(), left)
                except asyncio.TimeoutError:
                    return None

    async def wait_heartbeat(self, pred, timeout=10):
        end = time.monotonic() + timeout
        async with self.cond:
            seen = len(self.heartbeats)
            while time.monotonic() < end:
                for hb in self.heartbeats[seen:]:
                    if pred(hb):
                        return hb
                seen = len(self.heartbeats)
                try:
                    await asyncio.wait_for(self.cond.wait(), end - time.monotonic())
                except asyncio.TimeoutError:
                    break
        return None

    async def open(self, session, target, timeout=10, key=None):
        """relay.open; returns (stream_id, ws or None, relay.failed message or None)."""
        stream_id = str(uuid.uuid4())
        st = {"key": key or b64key(), "used": False, "ws": None, "event": asyncio.Event()}
        self.streams[stream_id] = st
        await self.send("relay.open", session_id=session, stream_id=stream_id, target=target,
                        key=st["key"])
        failed = asyncio.ensure_future(self.wait_msg(
            lambda m: m["type"] == "relay.failed" and m["stream_id"] == stream_id, timeout))
        up = asyncio.ensure_future(st["event"].wait())
        done, _ = await asyncio.wait({failed, up}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if up in done:
            failed.cancel()
            return stream_id, st["ws"], None
        up.cancel()
        return stream_id, None, failed.result() if failed in done else None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def recv_bytes(ws, n, timeout=60):
    """Reads binary frames until n bytes came; returns them (text frames: an error)."""
    got = bytearray()
    end = time.monotonic() + timeout
    while len(got) < n:
        msg = await asyncio.wait_for(ws.recv(), max(0.1, end - time.monotonic()))
        if isinstance(msg, str):
            raise ValueError("a text frame")
        got += msg
    return bytes(got)


async def echo_roundtrip(ws, size):
    data = os.urandom(size)

    async def writer():
        for i in range(0, size, 60000):
            await ws.send(data[i:i + 60000])
    w = asyncio.ensure_future(writer())
    back = await recv_bytes(ws, size)
    await w
    return back == data


async def until(cond, timeout):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


async def progress_stops(read, quiet=1.0, timeout=60):
    """Waits until read() stops changing for `quiet` seconds; returns its value."""
    end = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < end:
        await asyncio.sleep(0.1)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return None


async def scenario(args, r):
    t = Targets()
    await t.start()
    h = Helperd()
    server = await websockets.serve(h.handler, "127.0.0.1", 0, process_request=h.process_request,
                                    subprotocols=["kaiden-agent", "kaiden-stream"],
                                    max_size=1 << 20, max_queue=4, compression=None)
    port = server.sockets[0].getsockname()[1]
    secret_file = os.path.join(args.work, "secret")
    with open(secret_file, "w") as f:
        f.write("relay-test-device-secret\n")
    os.chmod(secret_file, 0o600)
    allowed = ",".join(str(t.ports[n]) for n in ("echo", "greet", "flood", "sink", "count",
                                                 "closed"))
    log = open(os.path.join(args.work, "agent.log"), "w")
    env = dict(os.environ, KAIDEN_LOG_LEVEL="debug")
    agent = await asyncio.create_subprocess_exec(
        args.agent, "--server", "ws://127.0.0.1:%d/api/v1/ws/agent" % port, "--device-id",
        str(uuid.uuid4()), "--secret-file", secret_file, "--insecure", "--relay-ports", allowed,
        "--cloudflared", "/bin/false", stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        env=env)
    keys = []
    try:
        if not await until(lambda: h.agent is not None, 15):
            r.bad("the agent connects", "no hello within 15 s")
            return
        r.check("hello says version 2 or more (the relay's)",
                isinstance(h.hello.get("version"), int) and h.hello["version"] >= 2,
                "hello: %r" %
                {k: v for k, v in h.hello.items() if k != "secret"})
        S1, S2, S3, S4 = (str(uuid.uuid4()) for _ in range(4))

        # relay.start: tunnel.ready, idempotent, listed in heartbeats.
        await h.send("relay.start", session_id=S1, ssh_port=t.ports["echo"],
                     web_port=t.ports["greet"])
        m = await h.wait_msg(lambda m: m["type"] == "tunnel.ready" and m["session_id"] == S1, 5)
        r.check("relay.start is answered by tunnel.ready", m is not None)
        await h.send("relay.start", session_id=S1, ssh_port=t.ports["echo"],
                     web_port=t.ports["greet"])
        m = await h.wait_msg(lambda m: m["type"] == "tunnel.ready" and m["session_id"] == S1, 5)
        r.check("a repeated relay.start is answered by tunnel.ready again", m is not None)
        hb = await h.wait_heartbeat(lambda s: S1 in s, 5)
        r.check("the relay session is in the heartbeat", hb is not None)
        await h.send("relay.start", session_id=S2, ssh_port=2222, web_port=t.ports["closed"])
        await h.send("relay.start", session_id=S3, ssh_port=t.ports["flood"],
                     web_port=t.ports["sink"])
        await h.send("relay.start", session_id=S4, ssh_port=t.ports["count"],
                     web_port=t.ports["echo"])
        for s in (S2, S3, S4):
            await h.wait_msg(lambda m, s=s: m["type"] == "tunnel.ready" and m["session_id"] == s, 5)

        # A stream: the data socket's path, subprotocol and key; 4 MB both ways.
        sid, ws, failed = await h.open(S1, "ssh")
        if r.check("relay.open opens a data socket", ws is not None, "relay.failed: %r" % failed):
            st = h.streams[sid]
            keys.append(st["key"])
            r.check("the data socket is /api/v1/ws/stream/<stream_id> with kaiden-stream",
                    st["subprotocol"] == "kaiden-stream", "subprotocol %r" % st["subprotocol"])
            ok = await echo_roundtrip(ws, ECHO_BYTES)
            r.check("4 MB through the relay and back, byte-identical", ok)
            before = t.echo_closed
            await ws.close(1000, "engineer done")
            r.check("the engineer's close ends the target connection",
                    await until(lambda: t.echo_closed > before, 3))
        r.check("the agent connected from and to loopback only", t.peers <= {"127.0.0.1"},
                "peers %r" % t.peers)

        # The target closes first: all it sent arrives, then 1000.
        sid, ws, failed = await h.open(S1, "web")
        if r.check("a stream to the web target opens", ws is not None, repr(failed)):
            keys.append(h.streams[sid]["key"])
            data = bytearray()
            try:
                async for msg in ws:
                    data += msg
            except websockets.ConnectionClosed:
                pass
            r.check("the target's close: its 1 MB arrives, then close 1000",
                    hashlib.sha256(bytes(data)).hexdigest() == t.greet_sha and
                    ws.close_code == 1000, "got %d bytes, close %r" % (len(data), ws.close_code))

        # The engineer closes right after sending: the agent writes it all out first.
        sid, ws, failed = await h.open(S4, "ssh")
        if r.check("a stream to the count target opens", ws is not None, repr(failed)):
            payload = os.urandom(3 << 20)
            for i in range(0, len(payload), 60000):
                await ws.send(payload[i:i + 60000])
            await ws.close(1000, "done")
            await asyncio.wait_for(t.count_event.wait(), 10)
            r.check("what the engineer sent before closing is written out to the target",
                    t.count_totals and t.count_totals[-1] == len(payload),
                    "target got %r of %d" % (t.count_totals, len(payload)))

        # Refusals, each with a sentence naming the cause.
        _, ws, failed = await h.open(S2, "ssh")
        r.check("a port not in relay_ports is refused",
                ws is None and failed and "port 2222 is not in this agent's relay_ports" in
                failed["reason"], repr(failed))
        _, ws, failed = await h.open(S2, "web")
        r.check("a refused connection is reported",
                ws is None and failed and
                ("connection to 127.0.0.1:%d refused" % t.ports["closed"]) in failed["reason"],
                repr(failed))
        _, ws, failed = await h.open(str(uuid.uuid4()), "ssh")
        r.check("a session never started is refused",
                ws is None and failed and "no such relay session" in failed["reason"],
                repr(failed))
        # A data socket refused by helperd (401): the target connection is closed and
        # relay.failed says so.
        stream_id = str(uuid.uuid4())
        h.streams[stream_id] = {"key": b64key(), "used": True, "ws": None,
                                "event": asyncio.Event()}
        before = t.echo_closed
        await h.send("relay.open", session_id=S1, stream_id=stream_id, target="ssh",
                     key=b64key())
        failed = await h.wait_msg(lambda m: m["type"] == "relay.failed" and
                                  m["stream_id"] == stream_id, 10)
        r.check("a data socket refused with 401 is reported and its target closed",
                failed and "401" in failed["reason"] and
                await until(lambda: t.echo_closed > before, 3), repr(failed))

        # A text frame on a data socket: close 4000.
        sid, ws, failed = await h.open(S1, "ssh")
        if ws is not None:
            keys.append(h.streams[sid]["key"])
            await ws.send("a text frame")
            try:
                await asyncio.wait_for(ws.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
            r.check("a text frame on the data socket closes it with 4000", ws.close_code == 4000,
                    "close %r" % ws.close_code)

        # 100 streams at once, each echoing 256 KiB.
        opened = await asyncio.gather(*(h.open(S1, "ssh", timeout=20) for _ in range(100)))
        wss = [w for _, w, _ in opened if w is not None]
        keys += [h.streams[s]["key"] for s, _, _ in opened]
        results = await asyncio.gather(*(echo_roundtrip(w, 256 << 10) for w in wss),
                                       return_exceptions=True)
        r.check("100 concurrent streams each echo 256 KiB byte-identical",
                len(wss) == 100 and all(x is True for x in results),
                "%d opened, %d right" % (len(wss), sum(1 for x in results if x is True)))
        await asyncio.gather(*(w.close() for w in wss))
        await until(lambda: t.echo_open == t.echo_closed, 5)

        # A stalled reader (target -> engineer): the flood target pushes 200 MB, the data
        # socket is not read. The agent must stop reading the target.
        base_rss = rss_kb(agent.pid)
        sid, flood_ws, failed = await h.open(S3, "ssh")
        if r.check("a stream to the flood target opens", flood_ws is not None, repr(failed)):
            keys.append(h.streams[sid]["key"])
            held = await progress_stops(lambda: t.flood_sent)
            grown = rss_kb(agent.pid) - base_rss
            print("info\tstalled reader: target held at %r bytes, agent RSS +%d kB" %
                  (held, grown), flush=True)
            r.check("stalled reader: the target is held back (flow control)",
                    held is not None and held < FLOOD // 4, "target sent %r bytes" % held)
            r.check("stalled reader: the agent's RSS stays bounded", grown < RSS_BOUND_KB,
                    "grew %d kB while %r bytes were held back" % (grown, held))
            # No head-of-line blocking: another stream and the heartbeats go on.
            sid2, ws2, failed2 = await h.open(S1, "ssh")
            hb = await h.wait_heartbeat(lambda s: True, 3)
            r.check("while a stream is stalled, another stream works and heartbeats go on",
                    ws2 is not None and await echo_roundtrip(ws2, 1 << 20) and hb is not None,
                    repr(failed2))
            if ws2 is not None:
                keys.append(h.streams[sid2]["key"])
                await ws2.close()
            # Reading again: all 200 MB arrive, then 1000.
            total = 0
            sha = hashlib.sha256()
            try:
                async for msg in flood_ws:
                    total += len(msg)
            except websockets.ConnectionClosed:
                pass
            r.check("after the stall all 200 MB arrive, then close 1000",
                    total == FLOOD and flood_ws.close_code == 1000,
                    "got %d bytes, close %r" % (total, flood_ws.close_code))

        # A stalled target (engineer -> target): the sink never reads; the data socket is
        # pushed 200 MB. The agent must stop reading the data socket.
        base_rss = rss_kb(agent.pid)
        sid, sink_ws, failed = await h.open(S3, "web")
        if r.check("a stream to the sink target opens", sink_ws is not None, repr(failed)):
            keys.append(h.streams[sid]["key"])
            pushed = 0
            chunk = os.urandom(64 << 10)

            async def push():
                nonlocal pushed
                while pushed < FLOOD:
                    await sink_ws.send(chunk)
                    pushed += len(chunk)
            pusher = asyncio.ensure_future(push())
            held = await progress_stops(lambda: pushed)
            grown = rss_kb(agent.pid) - base_rss
            print("info\tstalled target: data socket held at %r bytes, agent RSS +%d kB" %
                  (held, grown), flush=True)
            r.check("stalled target: the data socket is held back (flow control)",
                    held is not None and held < FLOOD // 4, "pushed %r bytes" % held)
            r.check("stalled target: the agent's RSS stays bounded", grown < RSS_BOUND_KB,
                    "grew %d kB while %r bytes were held back" % (grown, held))
            pusher.cancel()

        # tunnel.stop closes the session's streams (the stalled sink one and three echoes).
        echoes = [await h.open(S1, "ssh") for _ in range(3)]
        for s, _, _ in echoes:
            keys.append(h.streams[s]["key"])
        open_before = t.echo_open - t.echo_closed
        await h.send("tunnel.stop", session_id=S1)
        m = await h.wait_msg(lambda m: m["type"] == "tunnel.stopped" and m["session_id"] == S1, 5)
        r.check("tunnel.stop of a relay session is answered by tunnel.stopped", m is not None)
        closed = await until(lambda: all(w is not None and w.closed for _, w, _ in echoes), 2)
        r.check("tunnel.stop closes the session's data sockets within 1-2 s", closed)
        r.check("tunnel.stop closes the session's target connections",
                open_before == 3 and await until(lambda: t.echo_open == t.echo_closed, 2),
                "open before %d, now %d" % (open_before, t.echo_open - t.echo_closed))
        hb = await h.wait_heartbeat(lambda s: S1 not in s, 5)
        r.check("a stopped relay session leaves the heartbeat", hb is not None)
        _, ws, failed = await h.open(S1, "ssh")
        r.check("relay.open after tunnel.stop is refused",
                ws is None and failed and "no such relay session" in failed["reason"],
                repr(failed))
        await h.send("tunnel.stop", session_id=S1)
        m = await h.wait_msg(lambda m: m["type"] == "tunnel.stopped" and m["session_id"] == S1, 5)
        r.check("a repeated tunnel.stop is answered by tunnel.stopped again", m is not None)

        # Shutdown with streams open: each closes, tunnel.stopped for each session, 1001.
        sid, ws, failed = await h.open(S4, "web")
        if ws is not None:
            keys.append(h.streams[sid]["key"])
        agent.send_signal(signal.SIGTERM)
        try:
            rc = await asyncio.wait_for(agent.wait(), 15)
        except asyncio.TimeoutError:
            rc = None
        stopped = {m["session_id"] for m in h.msgs if m["type"] == "tunnel.stopped"}
        r.check("SIGTERM: the agent exits 0", rc == 0, "exit %r" % rc)
        r.check("SIGTERM: the open data socket is closed", ws is not None and ws.closed)
        r.check("SIGTERM: tunnel.stopped for each relay session, then 1001",
                {S2, S3, S4} <= stopped and h.agent_close_code == 1001,
                "stopped %r, close %r" % (stopped, h.agent_close_code))
        # The sink connection ended with the session (S3 stopped at shutdown).
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
        log.close()
        server.close()
        for s in t.servers:
            s.close()
    with open(os.path.join(args.work, "agent.log")) as f:
        text = f.read()
    r.check("no stream key reaches the agent's log", keys and not any(k in text for k in keys),
            "a key is in agent.log")


def self_signed(work, name):
    """A self-signed certificate for 127.0.0.1 (and localhost): work/name.crt, .key."""
    cert, key = (os.path.join(work, name + ext) for ext in (".crt", ".key"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


async def stop_agent(proc):
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


async def tls_scenario(args, r):
    """Over wss:// with --ca-file: the data socket is TLS too, verified against the same
    CA as the control socket (a certificate for 127.0.0.1 made here)."""
    cert, key = self_signed(args.work, "tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    t = Targets()
    await t.start()
    h = Helperd()
    server = await websockets.serve(h.handler, "127.0.0.1", 0, process_request=h.process_request,
                                    subprotocols=["kaiden-agent", "kaiden-stream"], ssl=ctx,
                                    max_size=1 << 20, compression=None)
    port = server.sockets[0].getsockname()[1]
    # Verification stays on: another CA given with --ca-file (the agent trusts it alone),
    # and the default (the system's bundle), each refuse this server's certificate: the
    # agent says it cannot connect, and no hello arrives.
    other_cert, _ = self_signed(args.work, "other")
    for what, extra in (("another CA (--ca-file)", ["--ca-file", other_cert]),
                        ("the system's CAs (no --ca-file)", [])):
        path = os.path.join(args.work, "agent-untrusted.log")
        with open(path, "w") as ulog:
            untrusted = await asyncio.create_subprocess_exec(
                args.agent, "--server", "wss://127.0.0.1:%d/api/v1/ws/agent" % port,
                "--device-id", str(uuid.uuid4()), "--secret-file",
                os.path.join(args.work, "secret"), *extra, "--cloudflared", "/bin/false",
                stdin=asyncio.subprocess.DEVNULL, stdout=ulog, stderr=ulog)
            try:
                said = await until(lambda: "cannot connect" in open(path).read(), 15)
                r.check("wss: with %s the server's certificate is refused" % what,
                        said and h.agent is None,
                        "hello=%s log: %s" % (h.agent is not None, open(path).read()[-300:]))
            finally:
                await stop_agent(untrusted)
    # The default trust is the system's hashed CA directory ($SSL_CERT_DIR as OpenSSL
    # honours it): with this server's certificate linked by its hash there, the agent
    # connects without --ca-file.
    cadir = os.path.join(args.work, "cadir")
    os.makedirs(cadir, exist_ok=True)
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", cert], check=True,
                            capture_output=True, text=True).stdout.strip()
    shutil.copy(cert, os.path.join(cadir, digest + ".0"))
    with open(os.path.join(args.work, "agent-cadir.log"), "w") as dlog:
        bydir = await asyncio.create_subprocess_exec(
            args.agent, "--server", "wss://127.0.0.1:%d/api/v1/ws/agent" % port,
            "--device-id", str(uuid.uuid4()), "--secret-file",
            os.path.join(args.work, "secret"), "--cloudflared", "/bin/false",
            env=dict(os.environ, SSL_CERT_DIR=cadir),
            stdin=asyncio.subprocess.DEVNULL, stdout=dlog, stderr=dlog)
        try:
            r.check("wss: without --ca-file the system's CA directory is trusted "
                    "(SSL_CERT_DIR holding this server's CA)",
                    await until(lambda: h.agent is not None, 15), "no hello within 15 s")
        finally:
            await stop_agent(bydir)
    h.agent = None
    log = open(os.path.join(args.work, "agent-tls.log"), "w")
    agent = await asyncio.create_subprocess_exec(
        args.agent, "--server", "wss://127.0.0.1:%d/api/v1/ws/agent" % port, "--device-id",
        str(uuid.uuid4()), "--secret-file", os.path.join(args.work, "secret"), "--ca-file",
        cert, "--relay-ports", str(t.ports["echo"]), "--cloudflared", "/bin/false",
        stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        if not await until(lambda: h.agent is not None, 15):
            r.bad("wss: the agent connects with --ca-file", "no hello within 15 s")
            return
        S = str(uuid.uuid4())
        await h.send("relay.start", session_id=S, ssh_port=t.ports["echo"], web_port=1)
        await h.wait_msg(lambda m: m["type"] == "tunnel.ready", 5)
        _, ws, failed = await h.open(S, "ssh")
        r.check("wss: the data socket is TLS, verified with the control link's CA, and "
                "1 MB echoes byte-identical",
                ws is not None and await echo_roundtrip(ws, 1 << 20), repr(failed))
        if ws is not None:
            await ws.close()
    finally:
        await stop_agent(agent)
        log.close()
        server.close()
        for srv in t.servers:
            srv.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    r = Report()
    try:
        asyncio.run(asyncio.wait_for(scenario(args, r), 600))
        asyncio.run(asyncio.wait_for(tls_scenario(args, r), 120))
    except Exception as e:  # an abort is a failure, never a silent end
        r.bad("the scenario ran to its end", "%s: %s" % (type(e).__name__, e))
    sys.exit(1 if r.failed else 0)


if __name__ == "__main__":
    main()
