#!/usr/bin/env python3
"""fakentp: a scriptable fake NTP server for the system tests and the bench (stdlib only).

  fakentp.py ADDR PORT [options]

It answers mode-3 requests with a server reply whose time is
    served = now + offset + rate_ppm * 1e-6 * (now - epoch)
(`now` the system clock; `epoch` defaults to the start; pass --epoch to know it exactly).
Receive timestamps come from the kernel (SO_TIMESTAMPNS).

Behaviour options (for the falseticker, KoD, leap and malformed-reply cases):
  --offset S         time offset (s)                --rate PPM   rate error (ppm)
  --epoch T          reference instant of --rate (Unix seconds, float)
  --stratum N        stratum (default 1)            --leap N     LI field (0..3)
  --refid TEXT       refid (4 ASCII chars, default GPS)
  --kod CODE         answer every request with a KoD (RATE, DENY, RSTR, ...)
  --kod-after N      ... only after N normal replies
  --malformed KIND   send a bad reply instead of a good one, KIND one of:
                     short, bad_origin, zero_origin, zero_transmit, mode3, stratum16,
                     li3, bad_version, huge_root, rx_after_tx, duplicate (good reply, twice)
  --malformed-every N  only every Nth reply is bad (default 1: all)
  --drop P           ignore a request with probability P
  --seed N           random seed (drops)
  --jump-after S     after S seconds, the time jumps by --jump seconds
  --jump-file PATH   ... or once PATH exists (the test decides when)
  --jump S
  --stats FILE       write counters as JSON to FILE on exit (SIGTERM), with the number
                     of distinct client source ports seen
"""
import argparse
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NTP_UNIX = 2208988800
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def to_ntp(t):
    sec = int(t // 1)
    frac = int(round((t - sec) * 2**32))
    if frac >= 2**32:
        sec += 1
        frac -= 2**32
    return ((sec + NTP_UNIX) & 0xFFFFFFFF) << 32 | frac


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--offset", type=float, default=0.0)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--epoch", type=float, default=None)
    ap.add_argument("--stratum", type=int, default=1)
    ap.add_argument("--leap", type=int, default=0)
    ap.add_argument("--refid", default="GPS")
    ap.add_argument("--kod", default=None)
    ap.add_argument("--kod-after", type=int, default=0)
    ap.add_argument("--malformed", default=None)
    ap.add_argument("--malformed-every", type=int, default=1)
    ap.add_argument("--drop", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", default=None)
    ap.add_argument("--jump-after", type=float, default=None)
    ap.add_argument("--jump", type=float, default=0.0)
    ap.add_argument("--jump-file", default=None)
    a = ap.parse_args()
    epoch = a.epoch if a.epoch is not None else time.time()
    rng = random.Random(a.seed)
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((a.addr, a.port))
    stats = {"requests": 0, "replies": 0, "kod": 0, "malformed": 0, "dropped": 0}
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    start = time.time()
    ports = set()
    port123 = [0]

    def served(now):
        t = now + a.offset + a.rate * 1e-6 * (now - epoch)
        if a.jump_after is not None and now - start >= a.jump_after:
            t += a.jump
        elif a.jump_file is not None and os.path.exists(a.jump_file):
            t += a.jump
        return t

    refid = (a.refid.encode() + b"\0\0\0\0")[:4]
    normal = 0
    while running[0]:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        try:
            data, anc, _, peer = s.recvmsg(2048, 256)
        except (BlockingIOError, InterruptedError):
            continue
        rx = None
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, ns = struct.unpack("qq", cdata[:16])
                rx = sec + ns * 1e-9
        if rx is None:
            rx = time.time()
        if len(data) < 48 or (data[0] & 7) != 3:
            continue
        stats["requests"] += 1
        ports.add(peer[1])
        if peer[1] == 123:
            port123[0] += 1
        if a.drop and rng.random() < a.drop:
            stats["dropped"] += 1
            continue
        version = (data[0] >> 3) & 7
        origin = data[40:48]
        poll = data[2]
        kod = a.kod is not None and normal >= a.kod_after
        t2 = served(rx)
        leap = a.leap
        stratum = a.stratum
        rid = refid
        if kod:
            leap, stratum, rid = 3, 0, (a.kod.encode() + b"    ")[:4]
        head = struct.pack("!BBBbII4s", (leap << 6) | (version << 3) | 4, stratum, poll, -20, 0, 64, rid)
        bad = a.malformed is not None and not kod and (stats["requests"] % a.malformed_every == 0)
        kind = a.malformed if bad else None
        t3 = served(time.time())
        ref = to_ntp(t2 - 8)
        rxn, txn = to_ntp(t2), to_ntp(t3)
        org = origin
        if kind == "bad_origin":
            org = struct.pack("!Q", struct.unpack("!Q", origin)[0] ^ 0x1)
        elif kind == "zero_origin":
            org = b"\0" * 8
        elif kind == "zero_transmit":
            txn = 0
        elif kind == "rx_after_tx":
            rxn, txn = txn + (1 << 30), rxn
        pkt = bytearray(head + struct.pack("!Q", ref) + org + struct.pack("!QQ", rxn, txn))
        if kind == "mode3":
            pkt[0] = (pkt[0] & 0xF8) | 3
        elif kind == "stratum16":
            pkt[1] = 16
        elif kind == "li3":
            pkt[0] |= 0xC0
        elif kind == "bad_version":
            pkt[0] = (pkt[0] & 0xC7) | (7 << 3)
        elif kind == "huge_root":
            pkt[4:12] = b"\xff" * 8
        elif kind == "short":
            pkt = pkt[:40]
        s.sendto(bytes(pkt), peer)
        if kind == "duplicate":
            s.sendto(bytes(pkt), peer)
        if kod:
            stats["kod"] += 1
        elif bad and kind != "duplicate":
            stats["malformed"] += 1
        else:
            stats["replies"] += 1
            normal += 1
    stats["distinct_ports"] = len(ports)
    stats["port_123"] = port123[0]
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
