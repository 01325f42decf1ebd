#!/usr/bin/env python3
"""udprelay: a userspace UDP relay that adds delay and jitter (this kernel has no netem).

  udprelay.py LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT
              [--delay S] [--jitter S] [--seed N] [--duration S] [--stats FILE]

Every datagram, in each direction, leaves delay + uniform(-jitter, +jitter) seconds after
it arrived (default 10 ms +- 2 ms). Each client address gets its own upstream socket, so
replies find their way back. Deterministic for a given seed (the delays, not the OS).
Sends are timed by select() up to 1 ms before the deadline, then a short spin, so the
added delay is accurate to some tens of microseconds. Stops after --duration seconds or
on SIGTERM; counts per client go to --stats as JSON.
"""
import argparse
import heapq
import json
import random
import select
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("laddr")
    ap.add_argument("lport", type=int)
    ap.add_argument("uaddr")
    ap.add_argument("uport", type=int)
    ap.add_argument("--delay", type=float, default=0.010)
    ap.add_argument("--jitter", type=float, default=0.002)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--stats", default=None)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lsock.bind((a.laddr, a.lport))
    up = (a.uaddr, a.uport)
    clients = {}   # client addr -> upstream socket
    owner = {}     # upstream socket fileno -> client addr
    last = {}      # client addr -> last use (monotonic): idle mappings are closed
    counts = {}
    q = []
    seq = 0
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    end = time.monotonic() + a.duration

    def later(arrived):
        return arrived + a.delay + rng.uniform(-a.jitter, a.jitter)

    while running[0] and time.monotonic() < end:
        now = time.monotonic()
        while q and q[0][0] <= now:
            _, _, sock, data, dest = heapq.heappop(q)
            try:
                sock.sendto(data, dest)
            except OSError:
                pass
            now = time.monotonic()
        timeout = 0.2
        if q:
            timeout = max(0.0, q[0][0] - now - 0.001)
            if timeout == 0.0:
                continue  # spin the last millisecond
        for peer in [p for p, t in last.items() if now - t > 30]:
            u = clients.pop(peer)
            owner.pop(u.fileno(), None)
            last.pop(peer)
            u.close()
        socks = [lsock] + list(clients.values())
        r, _, _ = select.select(socks, [], [], timeout)
        for s in r:
            try:
                data, peer = s.recvfrom(2048)
            except OSError:
                continue
            arrived = time.monotonic()  # before any bookkeeping: both directions alike
            if s is lsock:
                if peer not in clients:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    u.bind((a.laddr, 0))
                    clients[peer] = u
                    owner[u.fileno()] = peer
                last[peer] = time.monotonic()
                counts["requests"] = counts.get("requests", 0) + 1
                seq += 1
                heapq.heappush(q, (later(arrived), seq, clients[peer], data, up))
            elif s.fileno() in owner:
                seq += 1
                heapq.heappush(q, (later(arrived), seq, lsock, data, owner[s.fileno()]))
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(counts, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
