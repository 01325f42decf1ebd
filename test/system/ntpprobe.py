#!/usr/bin/env python3
"""ntpprobe: a small NTP client for the system tests (stdlib only).

  query HOST PORT [--version N] [--mode M] [--src ADDR] [--timeout S]
      one request; prints the reply as JSON; exit 1 on timeout
  burst HOST PORT --count N [--src ADDR ...] [--ports-per-src K] [--interval S]
      N requests spread over the sources; prints counts of replies by kind as JSON
  badinput HOST PORT [--src ADDR ...]
      version 0-7 x mode 0-7 x length 0..1100, plus the THREATS.md packet list
      (sent from 8 sockets, spread over the --src addresses if given);
      checks bytes out <= bytes in, replies only where allowed, and that a valid
      request is still answered afterwards; prints a JSON summary; exit 1 on violation
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

NTP_UNIX = 2208988800


def ntp_to_unix(raw):
    return (raw >> 32) - NTP_UNIX + (raw & 0xFFFFFFFF) / 2**32


def unix_to_ntp(t):
    sec = int(t)
    return ((sec + NTP_UNIX) & 0xFFFFFFFF) << 32 | int((t - sec) * 2**32)


def parse_reply(d):
    if len(d) < 48:
        return None
    f = struct.unpack("!BBbbIII", d[:16])
    ts = struct.unpack("!QQQQ", d[16:48])
    refid = f[6]
    refid_text = ""
    if f[1] <= 1:
        refid_text = "".join(chr(c) if 32 <= c < 127 else "." for c in struct.pack("!I", refid))
    return {
        "length": len(d), "leap": f[0] >> 6, "version": (f[0] >> 3) & 7, "mode": f[0] & 7,
        "stratum": f[1], "poll": f[2], "precision": f[3],
        "root_delay": f[4] / 65536.0, "root_dispersion": f[5] / 65536.0,
        "refid": "%08X" % refid, "refid_text": refid_text,
        "reference": ts[0], "origin": ts[1], "receive": ts[2], "transmit": ts[3],
    }


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def make_socket(host, src=None):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    return s


def request(version=4, mode=3, tx=None, length=48):
    p = bytearray(max(length, 48))
    p[0] = (version & 7) << 3 | (mode & 7)
    p[2] = 6
    struct.pack_into("!Q", p, 40, tx if tx is not None else int.from_bytes(os.urandom(8), "big"))
    return bytes(p[:length])


def cmd_query(a):
    s = make_socket(a.host, a.src)
    s.settimeout(a.timeout)
    tx = int.from_bytes(os.urandom(8), "big")
    t1 = time.time()
    s.sendto(request(a.version, a.mode, tx), (a.host, a.port))
    try:
        d, _ = s.recvfrom(4096)
    except socket.timeout:
        print(json.dumps({"error": "timeout"}))
        return 1
    t4 = time.time()
    r = parse_reply(d)
    if r is None:
        print(json.dumps({"error": "short reply", "length": len(d)}))
        return 1
    r["origin_ok"] = r["origin"] == tx
    if r["receive"] and r["transmit"]:
        t2, t3 = ntp_to_unix(r["receive"]), ntp_to_unix(r["transmit"])
        r["offset"] = ((t2 - t1) + (t3 - t4)) / 2
        r["delay"] = (t4 - t1) - (t3 - t2)
        r["server_time"] = t3 - t2
    print(json.dumps(r))
    return 0


def cmd_burst(a):
    srcs = a.src or [None]
    if a.src_base:
        import ipaddress
        base = ipaddress.ip_address(a.src_base)
        srcs = [str(base + i) for i in range(a.src_count)]
    socks = []
    for src in srcs:
        for _ in range(a.ports_per_src):
            socks.append(make_socket(a.host, src))
    counts = {"sent": 0, "reply": 0, "kod_rate": 0, "kod_deny": 0, "other": 0}
    for i in range(a.count):
        s = socks[i % len(socks)]
        s.sendto(request(), (a.host, a.port))
        counts["sent"] += 1
        if a.interval:
            time.sleep(a.interval)
    deadline = time.time() + a.wait
    while time.time() < deadline:
        r, _, _ = select.select(socks, [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        for s in r:
            d, _ = s.recvfrom(4096)
            p = parse_reply(d)
            if p is None:
                counts["other"] += 1
            elif p["stratum"] == 0 and p["refid_text"] == "RATE":
                counts["kod_rate"] += 1
            elif p["stratum"] == 0 and p["refid_text"] == "DENY":
                counts["kod_deny"] += 1
            else:
                counts["reply"] += 1
    print(json.dumps(counts))
    return 0


def threat_packets():
    """The THREATS.md §2a list (beyond the version/mode/length matrix)."""
    out = []

    def ext(t, ln, real=None):
        real = ln if real is None else real
        b = bytearray(real)
        if real >= 4:
            struct.pack_into("!HH", b, 0, t, ln & 0xFFFF)
        return bytes(b)

    base = request()
    for ln in (0, 4, 12, 15):
        out.append(("ext len %d" % ln, base + ext(1, ln, 28), False))
    out.append(("ext len 30", base + ext(1, 30, 32), False))
    out.append(("ext longer than rest", base + ext(1, 64, 32), False))
    out.append(("ext len 65535", base + ext(1, 65535, 40), False))
    out.append(("unknown ext type", base + ext(0xFFFF, 28), True))
    # An NTS field without the rest of NTS (or NTS off): dropped, never answered in clear
    # (as chronyd does; RFC 8915 clients would refuse such a reply anyway).
    out.append(("NTS cookie ext, NTS off", base + ext(0x0204, 28), False))
    many = base + b"".join(ext(i, 16) for i in range(62)) + ext(99, 28)
    out.append(("63 ext fields", many, True))
    out.append(("too many for the max length", base + b"".join(ext(i, 16) for i in range(70)), False))
    out.append(("crypto-NAK sized", base + b"\0" * 4, True))
    out.append(("MD5 MAC key 0", base + b"\0" * 20, True))
    out.append(("SHA1 MAC", base + b"\0\0\0\x07" + b"\1" * 20, True))
    out.append(("truncated MAC", base + b"\0" * 18, False))
    out.append(("76 bytes not an ext", base + b"\0" * 28, False))
    out.append(("65507 bytes", base + b"\0" * (65507 - 48), False))
    for name, byte, val in (("stratum 16", 1, 16), ("stratum 255", 1, 255), ("poll 127", 2, 127),
                            ("poll -127", 2, 0x81), ("precision 127", 3, 127), ("precision -127", 3, 0x81)):
        b = bytearray(request())
        b[byte] = val
        out.append((name, bytes(b), True))
    b = bytearray(request())
    b[0] |= 0xC0
    b[1] = 1
    out.append(("LI=3 stratum 1 request", bytes(b), True))
    b = bytearray(request())
    b[4:12] = b"\xff" * 8
    out.append(("root delay/disp 0xFFFFFFFF", bytes(b), True))
    for name, off in (("zero origin", 24), ("zero receive", 32)):
        b = bytearray(request())
        b[off:off + 8] = b"\0" * 8
        out.append((name, bytes(b), True))
    out.append(("zero transmit", request(tx=0), True))
    out.append(("1900 transmit", request(tx=1), True))
    out.append(("2036 wrap transmit", request(tx=0xFFFFFFFF << 32), True))
    out.append(("far future transmit", request(tx=(1 << 64) - 1), True))
    out.append(("mode 6 control", request(2, 6) + b"\0" * 12, False))
    out.append(("mode 7 monlist", bytes([0x17, 0x00, 0x03, 0x2a]) + b"\0" * 44, False))
    out.append(("symmetric active", request(4, 1), True))  # a mode-2 reply, no association
    out.append(("spoofed server reply", request(4, 4), False))
    out.append(("broadcast", request(4, 5), False))
    return out


def allowed_layout(version, mode, length):
    if not (1 <= version <= 4):
        return False
    if not (mode == 3 or mode == 1 or (version == 1 and mode == 0)):
        return False
    if length == 48:
        return True
    max_mac = 24 if version == 4 else 68
    return 52 <= length <= 48 + max_mac and length % 4 == 0


def cmd_badinput(a):
    fam = family_of(a.host)
    socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(8)]
    srcs = a.src or []
    for i, s in enumerate(socks):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        if srcs:
            s.bind((srcs[i % len(srcs)], 0))
        s.setblocking(False)
    cases = []  # (name, payload, expect_reply)
    for v in range(8):
        for m in range(8):
            for ln in range(0, 1101):
                # Zero-filled beyond the header: only MAC-sized trailers are valid.
                cases.append(("v%d m%d len %d" % (v, m, ln), request(v, m, length=ln), allowed_layout(v, m, ln)))
    cases.extend(threat_packets())
    # A valid request after every 64 cases: its answer proves the server has read the
    # whole chunk (one socket, in order), so the test never overflows the server's
    # receive buffer and a missing answer is a real one.
    paced = []
    for i, c in enumerate(cases):
        paced.append(c)
        if i % 64 == 63:
            paced.append(("sentinel", request(), True))
    cases = paced
    sent_bytes = recv_bytes = 0
    replies = {}
    violations = []
    by_tx = {}

    def drain(timeout):
        nonlocal recv_bytes
        end = time.time() + timeout
        while True:
            r, _, _ = select.select(socks, [], [], max(0.0, end - time.time()))
            if not r:
                return
            for s in r:
                try:
                    d, _ = s.recvfrom(70000)
                except BlockingIOError:
                    continue
                recv_bytes += len(d)
                p = parse_reply(d)
                if p is None:
                    violations.append("reply shorter than 48 bytes")
                    continue
                idx = by_tx.get(p["origin"])
                if idx is None:
                    violations.append("reply with unknown origin %016x" % p["origin"])
                    continue
                replies[idx] = replies.get(idx, 0) + 1
                name, payload, _ = cases[idx]
                if len(d) > len(payload):
                    violations.append("%s: reply %d bytes > request %d" % (name, len(d), len(payload)))

    # Unique transmit timestamp per case so replies can be matched to requests.
    for i, (name, payload, expect) in enumerate(cases):
        if len(payload) >= 48:
            tx = (0x5452370000000000 | i)
            b = bytearray(payload)
            struct.pack_into("!Q", b, 40, tx)
            cases[i] = (name, bytes(b), expect)
            by_tx[tx] = i
    # Send in chunks and wait for the chunk's expected replies, so the server's receive
    # buffer never overflows (a lost datagram would look like a missing answer).
    chunk = 65
    for start in range(0, len(cases), chunk):
        want = 0
        s = socks[(start // chunk) % len(socks)]
        for i in range(start, min(start + chunk, len(cases))):
            name, payload, expect = cases[i]
            try:
                s.sendto(payload, (a.host, a.port))
                sent_bytes += len(payload)
            except OSError as e:
                if len(payload) < 65000:
                    violations.append("%s: send failed: %s" % (name, e))
            want += 1 if expect else 0
        end = time.time() + 2.0
        while time.time() < end:
            got = sum(1 for i in range(start, min(start + chunk, len(cases))) if replies.get(i))
            if got >= want:
                break
            drain(0.005)
    drain(0.5)
    answered = 0
    for i, (name, payload, expect) in enumerate(cases):
        n = replies.get(i, 0)
        answered += n
        if n > 1:
            violations.append("%s: %d replies to one request" % (name, n))
        if n and not expect:
            violations.append("%s: answered, must be dropped" % name)
        if expect and not n:
            violations.append("%s: valid request not answered" % name)
    # Still alive and answering?
    alive = False
    q = socket.socket(fam, socket.SOCK_DGRAM)
    q.settimeout(2)
    q.sendto(request(tx=0x1234), (a.host, a.port))
    try:
        d, _ = q.recvfrom(4096)
        alive = parse_reply(d)["origin"] == 0x1234
    except socket.timeout:
        pass
    if not alive:
        violations.append("no answer to a valid request afterwards")
    if recv_bytes > sent_bytes:
        violations.append("bytes out %d > bytes in %d" % (recv_bytes, sent_bytes))
    summary = {"cases": len(cases), "sent_bytes": sent_bytes, "reply_bytes": recv_bytes,
               "answered": answered, "expected_answers": sum(1 for c in cases if c[2]),
               "alive_after": alive, "violations": violations[:50], "violation_count": len(violations)}
    print(json.dumps(summary, indent=1))
    return 1 if violations else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("query")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("--version", type=int, default=4)
    q.add_argument("--mode", type=int, default=3)
    q.add_argument("--src")
    q.add_argument("--timeout", type=float, default=2.0)
    b = sub.add_parser("burst")
    b.add_argument("host")
    b.add_argument("port", type=int)
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--src", action="append")
    b.add_argument("--ports-per-src", type=int, default=1)
    b.add_argument("--src-base", help="first of --src-count consecutive source addresses")
    b.add_argument("--src-count", type=int, default=1)
    b.add_argument("--interval", type=float, default=0.0)
    b.add_argument("--wait", type=float, default=1.0)
    x = sub.add_parser("badinput")
    x.add_argument("host")
    x.add_argument("port", type=int)
    x.add_argument("--src", action="append")
    a = ap.parse_args()
    return {"query": cmd_query, "burst": cmd_burst, "badinput": cmd_badinput}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
