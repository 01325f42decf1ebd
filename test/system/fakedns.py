#!/usr/bin/env python3
"""fakedns: a tiny authoritative DNS responder for the system tests (stdlib only).

  fakedns.py ADDR PORT [options]

Answers A queries (UDP) from a fixed table; AAAA and other types get an empty NOERROR
answer, unknown names NXDOMAIN. Options (repeatable):
  --a NAME=IP[,IP...]   A records of NAME (TTL 60)
  --missing-for NAME=S  NXDOMAIN for NAME during S seconds from its first query (a record
                        that is provisioned later: the daemon must retry)
  --delay NAME=S        answer queries for NAME only after S seconds (a slow resolver:
                        the daemon must keep working meanwhile)
  --log FILE            one line per query: "<unix time> <qtype> <name> <rcode>"
Delayed answers are queued, so a slow name never holds up the others.
"""
import argparse
import heapq
import select
import socket
import struct
import sys
import time


def parse_name(msg, off):
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("truncated name")
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compression in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace").lower())
        off += n
    return ".".join(labels), off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--a", action="append", default=[])
    ap.add_argument("--missing-for", action="append", default=[])
    ap.add_argument("--delay", action="append", default=[])
    ap.add_argument("--log")
    a = ap.parse_args()
    table = {}
    for spec in a.a:
        name, ips = spec.split("=", 1)
        table[name.lower().rstrip(".")] = [socket.inet_aton(ip) for ip in ips.split(",")]
    missing = {k.lower(): float(v) for k, v in (s.split("=", 1) for s in a.missing_for)}
    first_query = {}
    delay = {k.lower(): float(v) for k, v in (s.split("=", 1) for s in a.delay)}
    log = open(a.log, "a", buffering=1) if a.log else None

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.addr, a.port))
    queue = []  # (due, seq, reply, peer)
    seq = 0
    deadline = time.monotonic() + 3600  # bounded, whatever happens to the test
    while time.monotonic() < deadline:
        timeout = 1.0
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - time.monotonic()))
        r, _, _ = select.select([sock], [], [], timeout)
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, reply, peer = heapq.heappop(queue)
            sock.sendto(reply, peer)
        if not r:
            continue
        msg, peer = sock.recvfrom(4096)
        try:
            if len(msg) < 12:
                continue
            qid, flags, qd, _, _, _ = struct.unpack("!HHHHHH", msg[:12])
            if flags & 0x8000 or qd != 1:
                continue
            name, off = parse_name(msg, 12)
            qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
            question = msg[12:off + 4]
        except (ValueError, struct.error):
            continue
        rcode = 0
        answers = []
        first = first_query.setdefault(name, time.monotonic())
        if name not in table or time.monotonic() < first + missing.get(name, 0.0):
            rcode = 3
        elif qtype == 1 and qclass == 1:
            answers = table[name]
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD RA
        reply = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0) + question
        for ip in answers:
            reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + ip
        if log:
            log.write("%.3f %d %s %d\n" % (time.time(), qtype, name, rcode))
        seq += 1
        heapq.heappush(queue, (now + delay.get(name, 0.0), seq, reply, peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
