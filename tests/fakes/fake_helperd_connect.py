#!/usr/bin/env python3
"""fake_helperd_connect.py: a stand-in for the PLANNED engineer endpoint of helperd,
GET /api/v1/ws/connect/{session_id}?target=ssh|web (agent/PROTOCOL.md, "Engineer side"),
so kaiden-connect can be tested before helperd serves it. Uses Debian's python3-websockets.

    fake_helperd_connect.py --port-file P --token T [--log F] [--echo-close-after N]

Session ids pick the answer (a real helperd looks the session up instead):
    echo       upgrade; every binary frame comes back; with --echo-close-after N the
               stream is closed with 1000 once N bytes were echoed
    missing    404 not_found          ended      409 session_not_active
    forbidden  403 forbidden          busy       429 too_many_streams
    refused    upgrade, then close 4050 (the agent could not reach the target)
    flood      upgrade, send --flood bytes (64 KiB frames), logging "flood N" after each
               MiB, then close 1000: for a client whose reader stalls
A wrong or missing Bearer token gets 401; a path or target outside the protocol, 400.
Errors are the API's JSON error body. Each request's path is appended to --log."""

import argparse
import asyncio
import http
import json
import os
import re
import sys

import websockets

PATH_RE = re.compile(r"^/api/v1/ws/connect/([A-Za-z0-9-]{1,64})\?target=(ssh|web)$")
ERRORS = {
    "missing": (404, "not_found", "session not found"),
    "ended": (409, "session_not_active", "the session is not active"),
    "forbidden": (403, "forbidden", "not allowed for this session"),
    "busy": (429, "too_many_streams", "too many streams for this session"),
}


def error(status, code, message):
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (http.HTTPStatus(status), [("Content-Type", "application/json")], body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--log")
    ap.add_argument("--echo-close-after", type=int, default=0)
    ap.add_argument("--flood", type=int, default=200 << 20)
    args = ap.parse_args()

    def log(line):
        if args.log:
            with open(args.log, "a") as f:
                f.write(line + "\n")

    async def process_request(path, headers):
        log(path)
        if headers.get("Authorization") != "Bearer " + args.token:
            return error(401, "unauthorized", "missing or invalid token")
        m = PATH_RE.match(path)
        if not m:
            return error(400, "invalid", "bad path or target")
        if m.group(1) in ERRORS:
            return error(*ERRORS[m.group(1)])
        if m.group(1) not in ("echo", "refused", "flood"):
            return error(404, "not_found", "session not found")
        return None

    async def handler(ws, path):
        session = PATH_RE.match(path).group(1)
        if session == "refused":
            await ws.close(4050, "connection refused by 127.0.0.1:22")
            return
        if session == "flood":
            chunk = os.urandom(64 << 10)
            sent = 0
            while sent < args.flood:
                await ws.send(chunk)
                sent += len(chunk)
                if sent % (1 << 20) == 0:
                    log("flood %d" % (sent >> 20))
            await ws.close(1000, "done")
            return
        echoed = 0
        try:
            async for msg in ws:
                if isinstance(msg, str):
                    await ws.close(4000, "text frames are not part of the protocol")
                    return
                await ws.send(msg)
                echoed += len(msg)
                if args.echo_close_after and echoed >= args.echo_close_after:
                    await ws.close(1000, "done")
                    return
        except websockets.ConnectionClosed as e:
            log("closed without a close frame" if e.rcvd is None else "closed %d" % e.rcvd.code)

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", 0, process_request=process_request,
                                    max_size=1 << 20, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.rename(tmp, args.port_file)
            await asyncio.Future()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
