#!/usr/bin/env python3
"""session_timeline.py: where each session's setup time went, from info-level logs.

    python3 tests/bench/session_timeline.py HELPERD_LOG AGENT_LOG N LATENCIES...

tests/bench/sessions.sh runs it with LOG_LEVEL=info. Sessions are taken in the order
helperd claimed them, N per latency (sessions.sh runs them one after another). For each
latency, the median and the maximum of (ms):

  created -> claim        the row made by kaiden-api until helperd claims its start job
  claim -> tunnel.start   helperd's Cloudflare calls until it sends tunnel.start
  tunnel.start -> ready   the agent: spawn cloudflared, probe /ready, send tunnel.ready
  ready -> active         the agent's "tunnel ready" until helperd's "active"

All the processes run on one machine, so their clocks agree.
"""

import re
import statistics
import sys
from datetime import datetime

LINE = re.compile(r'^ts=(\S+) .*?msg="(.*)"$')
SESSION = re.compile(r"session=([0-9a-f-]{36})")


def ms(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000.0


def events(path, marks):
    """{session: {mark: first time}} for the lines whose message matches a mark."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                continue
            s = SESSION.search(m.group(2))
            if not s:
                continue
            for name, pattern in marks.items():
                hit = re.search(pattern, m.group(2))
                if hit:
                    ev = out.setdefault(s.group(1), {})
                    if name not in ev:
                        ev[name] = (ms(m.group(1)), hit)
    return out


def main(argv):
    helperd_log, agent_log, n, latencies = argv[0], argv[1], int(argv[2]), argv[3:]
    h = events(helperd_log, {
        "claim": r"kind=session\.start .* claimed$",
        "start": r"tunnel\.start sent$",
        "active": r"active in (\d+) ms \((\d+) ms after it was created\)"})
    a = events(agent_log, {"ready": r"tunnel ready$"})
    order = sorted((ev["claim"][0], sid) for sid, ev in h.items() if "claim" in ev)
    print("| fake API latency | N | created → claim | claim → tunnel.start "
          "| tunnel.start → ready | ready → active | created → active |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, lat in enumerate(latencies):
        rows = []
        for _, sid in order[i * n:(i + 1) * n]:
            ev, ag = h[sid], a.get(sid, {})
            if not all(k in ev for k in ("claim", "start", "active")) or "ready" not in ag:
                continue
            active = ev["active"][0]
            created = active - int(ev["active"][1].group(2))
            rows.append((ev["claim"][0] - created, ev["start"][0] - ev["claim"][0],
                         ag["ready"][0] - ev["start"][0], active - ag["ready"][0],
                         active - created))
        if not rows:
            print(f"| {lat} ms | 0 | | | | | |")
            continue
        cells = []
        for col in zip(*rows):
            cells.append(f"{statistics.median(col):.0f} / {max(col):.0f}")
        print(f"| {lat} ms | {len(rows)} | " + " | ".join(cells) + " |")
    print()
    print("(median / max, ms, from helperd's and the agent's info-level logs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
