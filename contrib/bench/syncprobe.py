#!/usr/bin/env python3
"""syncprobe: measures what NTP servers *serve*, for the sync benchmark (stdlib only).

  syncprobe.py wait-sync [--timeout S] [--log FILE] HOST PORT -- COMMAND...
      starts COMMAND (the daemon), asks HOST:PORT every 10 ms until a reply says
      synchronised (LI != 3, stratum 1..15), prints the seconds since the start, then
      stops the daemon (SIGTERM)
  syncprobe.py accuracy --target NAME=HOST:PORT ... --offset S --rate PPM --epoch E
                        --duration S --interval S --skip S
      asks each target every `interval` seconds for `duration` seconds and compares the
      time it serves with the true time of the reference, known exactly:
          true(t) = t + offset + rate * 1e-6 * (t - epoch)      (t: system clock)
      The served time is measured like an NTP client does, but on loopback with kernel
      timestamps, so the probe's own error is microseconds: served - system =
      ((T2 - t1) + (T3 - t4)) / 2. The error is served - true at the midpoint of t1, t4.
      Prints JSON: per target RMS and max |error| over the samples after `skip` seconds.
"""
import argparse
import json
import math
import os
import select
import socket
import struct
import sys
import time

NTP_UNIX = 2208988800
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def ntp_to_unix(raw):
    return (raw >> 32) - NTP_UNIX + (raw & 0xFFFFFFFF) / 2**32


def request():
    p = bytearray(48)
    p[0] = (4 << 3) | 3
    tx = os.urandom(8)
    p[40:48] = tx
    return bytes(p), tx


def ask(sock, host, port, timeout):
    req, tx = request()
    t1 = time.time()
    sock.sendto(req, (host, port))
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None
        data, anc, _, _ = sock.recvmsg(2048, 256)
        t4 = None
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, ns = struct.unpack("qq", cdata[:16])
                t4 = sec + ns * 1e-9
        if t4 is None:
            t4 = time.time()
        if len(data) < 48 or data[24:32] != tx:
            continue
        leap = data[0] >> 6
        stratum = data[1]
        t2 = ntp_to_unix(struct.unpack("!Q", data[32:40])[0])
        t3 = ntp_to_unix(struct.unpack("!Q", data[40:48])[0])
        return {"leap": leap, "stratum": stratum, "t1": t1, "t4": t4, "offset": ((t2 - t1) + (t3 - t4)) / 2}


def sock_for(host):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return s


def cmd_wait_sync(a):
    import subprocess
    s = sock_for(a.host)
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    log = open(a.log, "ab") if a.log else subprocess.DEVNULL
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    end = start + a.timeout
    rc = 1
    out = "timeout"
    while time.time() < end and proc.poll() is None:
        r = ask(s, a.host, a.port, 0.05)
        if r and r["leap"] != 3 and 1 <= r["stratum"] <= 15:
            out = "%.3f" % (r["t4"] - start)
            rc = 0
            break
        time.sleep(0.01)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    print(out)
    return rc


def cmd_accuracy(a):
    targets = []
    for t in a.target:
        name, hp = t.split("=", 1)
        host, port = hp.rsplit(":", 1)
        targets.append((name, host, int(port), sock_for(host)))
    res = {n: {"errors": [], "lost": 0} for n, _, _, _ in targets}
    start = time.time()
    k = 0
    while time.time() - start < a.duration:
        for name, host, port, s in targets:
            r = ask(s, host, port, 0.2)
            if r is None or r["leap"] == 3:
                res[name]["lost"] += 1
                continue
            tm = (r["t1"] + r["t4"]) / 2
            true = a.offset + a.rate * 1e-6 * (tm - a.epoch)
            if tm - start >= a.skip:
                res[name]["errors"].append(r["offset"] - true)
        k += 1
        nxt = start + k * a.interval
        time.sleep(max(0.0, nxt - time.time()))
    out = {}
    for name, v in res.items():
        e = v["errors"]
        if e:
            out[name] = {"samples": len(e), "lost": v["lost"], "rms": math.sqrt(sum(x * x for x in e) / len(e)),
                         "max": max(abs(x) for x in e), "mean": sum(e) / len(e)}
        else:
            out[name] = {"samples": 0, "lost": v["lost"]}
    print(json.dumps(out))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-sync")
    w.add_argument("host")
    w.add_argument("port", type=int)
    w.add_argument("--timeout", type=float, default=60)
    w.add_argument("--log", default=None)
    w.add_argument("command", nargs=argparse.REMAINDER)
    c = sub.add_parser("accuracy")
    c.add_argument("--target", action="append", required=True)
    c.add_argument("--offset", type=float, required=True)
    c.add_argument("--rate", type=float, required=True)
    c.add_argument("--epoch", type=float, required=True)
    c.add_argument("--duration", type=float, default=180)
    c.add_argument("--interval", type=float, default=0.5)
    c.add_argument("--skip", type=float, default=60)
    a = ap.parse_args()
    return cmd_wait_sync(a) if a.cmd == "wait-sync" else cmd_accuracy(a)


if __name__ == "__main__":
    sys.exit(main())
