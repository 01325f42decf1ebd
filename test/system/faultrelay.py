#!/usr/bin/env python3
"""faultrelay: a userspace UDP relay between NTP clients and one server, for the fault
suite (stdlib only). This kernel has no sch_netem: delays, drops and odd replies are made
here.

  faultrelay.py LISTEN_ADDR LISTEN_PORT SERVER_ADDR SERVER_PORT [options]

  --delay-up S        hold each client -> server datagram S seconds
  --delay-down S      hold each server -> client datagram S seconds
  --drop-file PATH    while PATH exists, drop everything (both ways)
  --reply-from ADDR:PORT  send replies to clients from this address and port instead of
                      the one they asked (a source answering from elsewhere)
  --stats FILE        counters as JSON on exit (SIGTERM)

Bounded: it serves until SIGTERM; at most 100000 datagrams are held at once.
"""
import argparse
import heapq
import itertools
import json
import os
import select
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("laddr")
    ap.add_argument("lport", type=int)
    ap.add_argument("saddr")
    ap.add_argument("sport", type=int)
    ap.add_argument("--delay-up", type=float, default=0.0)
    ap.add_argument("--delay-down", type=float, default=0.0)
    ap.add_argument("--drop-file", default=None)
    ap.add_argument("--reply-from", default=None)
    ap.add_argument("--stats", default=None)
    a = ap.parse_args()
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind((a.laddr, a.lport))
    replier = front
    if a.reply_from:
        host, port = a.reply_from.rsplit(":", 1)
        replier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        replier.bind((host, int(port)))
    # One upstream socket per client address, so replies find their way back.
    back = {}
    back_of = {}
    queue = []  # (due, seq, sock, data, dest)
    seq = itertools.count()
    stats = {"up": 0, "down": 0, "dropped": 0}
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def dropping():
        return a.drop_file is not None and os.path.exists(a.drop_file)

    while running[0]:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, sock, data, dest = heapq.heappop(queue)
            try:
                sock.sendto(data, dest)
            except OSError:
                pass
        timeout = 0.2 if not queue else max(0.0, min(0.2, queue[0][0] - now))
        r, _, _ = select.select([front] + list(back.values()), [], [], timeout)
        for sock in r:
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            if dropping() or len(queue) > 100000:
                stats["dropped"] += 1
                continue
            if sock is front:
                b = back.get(peer)
                if b is None:
                    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    b.bind((a.laddr, 0))
                    back[peer] = b
                    back_of[b] = peer
                stats["up"] += 1
                heapq.heappush(queue, (time.monotonic() + a.delay_up, next(seq), b, data, (a.saddr, a.sport)))
            else:
                stats["down"] += 1
                heapq.heappush(queue, (time.monotonic() + a.delay_down, next(seq), replier, data, back_of[sock]))
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
