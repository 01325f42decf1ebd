#!/usr/bin/env python3
"""ctlprobe: hostile and odd clients for tr7ntpd's control socket (stdlib only).

  badinput SOCKET [--max-conns N] [--line-limit N]
      every bad input of THREATS.md §2c, each case checked; prints a JSON summary
      and exits 1 if any case misbehaved
  raw SOCKET TEXT
      sends TEXT (Python escapes allowed), half-closes, prints what came back
"""
import argparse
import json
import socket
import sys
import threading
import time

GREETING = b"TR7CTL 1 "


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: waits for room in the listen backlog
    s.settimeout(timeout)
    return s


def read_until_close(s, limit=16 << 20, timeout=15.0):
    """Reads until EOF; returns (bytes, closed_by_peer)."""
    s.settimeout(0.5)
    data = b""
    end = time.time() + timeout
    while time.time() < end and len(data) < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not d:
            return data, True
        data += d
    return data, False


def read_replies(s, n, timeout=5.0):
    """Reads the greeting (if not read yet) and n framed replies; returns the lines."""
    s.settimeout(timeout)
    buf = b""
    ends = 0
    while ends < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
        ends = sum(1 for l in buf.split(b"\n") if l.startswith(b"END "))
    return buf.decode("utf-8", "replace").split("\n")


class Checker:
    def __init__(self):
        self.results = {}
        self.failed = []
        self.lock = threading.Lock()

    def check(self, name, ok, detail=""):
        with self.lock:
            self.results[name] = "ok" if ok else "FAIL " + detail
            if not ok:
                self.failed.append(name)


def end_lines(text):
    return [l for l in text.split("\n") if l.startswith("END ")]


def expect_error_close(c, path, name, payload, code, half_close=False):
    """Sends payload; expects an ERR <code> and the connection closed by the server."""
    try:
        s = connect(path)
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all: expected
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data, closed = read_until_close(s)
        s.close()
        text = data.decode("utf-8", "replace")
        ends = end_lines(text)
        ok = data.startswith(GREETING) and closed and any((" ERR %d " % code) in e for e in ends)
        c.check(name, ok, repr(text[-200:]) + " closed=%s" % closed)
    except Exception as e:  # noqa: BLE001
        c.check(name, False, repr(e))


def case_pipelined(c, path):
    s = connect(path)
    cmds = [b"tracking", b"bogus", b"serverstats", b"allow check 127.0.0.1", b"timezone get"]
    s.sendall(b"\n".join(cmds) + b"\n")
    lines = read_replies(s, len(cmds))
    s.close()
    ends = [l for l in lines if l.startswith("END ")]
    seqs = [int(e.split()[1]) for e in ends]
    ok = seqs == [1, 2, 3, 4, 5] and "ERR 38" in ends[1] and ends[0].endswith("OK") and ends[4].endswith("OK")
    c.check("pipelined commands answered in order", ok, repr(ends))


def case_half_close(c, path):
    for name, payload in (("half-close after request", b"tracking\n"),
                          ("half-close without final newline", b"serverstats")):
        s = connect(path)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data, closed = read_until_close(s)
        s.close()
        ends = end_lines(data.decode())
        c.check(name, closed and len(ends) == 1 and ends[0] == "END 1 OK", repr(data[-200:]))


def case_slow(c, path, line_limit_s):
    """One byte every 10 s: closed by the line deadline (ERR 110) before the second byte."""
    s = connect(path)
    t0 = time.time()
    s.sendall(b"t")
    s.settimeout(12)
    data = b""
    closed = False
    try:
        while True:
            d = s.recv(4096)
            if not d:
                closed = True
                break
            data += d
    except socket.timeout:
        pass
    took = time.time() - t0
    s.close()
    c.check("1 byte every 10 s: closed by the line deadline", closed and b"ERR 110" in data and took < 10,
            "took %.1f s, %r" % (took, data[-120:]))


def case_never_reads(c, path):
    """Pipelines big replies and never reads: the server must drop it, not block."""
    s = connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    t0 = time.time()
    sent = 0
    s.settimeout(0.2)
    try:
        for _ in range(2000):
            s.send(b"timezone list\n" * 16)
            sent += 16
    except (socket.timeout, BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass
    # Wait for the server to drop us (write timeout 10 s).
    closed = False
    end = time.time() + 20
    while time.time() < end:
        time.sleep(0.5)
        try:
            s.setblocking(False)
            s.send(b"x")
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    # Still reachable from other clients during and after.
    s2 = connect(path)
    s2.sendall(b"tracking\n")
    ok2 = any(l == "END 1 OK" for l in read_replies(s2, 1))
    s2.close()
    s.close()
    c.check("client that never reads is dropped", closed and ok2,
            "closed=%s after %.1f s, sent %d commands, other client ok=%s" % (closed, time.time() - t0, sent, ok2))


def case_conn_limit(c, path, max_conns):
    socks = []
    busy = 0
    greeted = 0
    for _ in range(max_conns + 5):
        s = connect(path)
        socks.append(s)
    time.sleep(0.3)
    for s in socks:
        s.settimeout(2)
        try:
            d = s.recv(4096)
        except socket.timeout:
            d = b""
        if b"ERR 11" in d:
            busy += 1
        elif d.startswith(GREETING):
            greeted += 1
    for s in socks:
        s.close()
    time.sleep(0.3)
    s = connect(path)
    s.sendall(b"tracking\n")
    ok_after = any(l == "END 1 OK" for l in read_replies(s, 1))
    s.close()
    c.check("connections over the limit get busy", busy == 5 and greeted == max_conns and ok_after,
            "busy=%d greeted=%d after=%s" % (busy, greeted, ok_after))


def cmd_badinput(a):
    c = Checker()
    limit = a.line_limit
    cases = [
        ("1 MiB without newline", b"x" * (1 << 20), 7),
        ("line over the limit", b"a" * (limit + 1) + b"\n", 7),
        ("NUL byte", b"track\x00ing\n", 84),
        ("invalid UTF-8", b"timezone set \xc3\x28\n", 84),
        ("bare CR", b"tracking\rsources\n", 84),
        ("TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + bytes(range(256)) + b"\n", 84),
        ("binary junk", bytes(range(1, 32)) * 8 + b"\n", 84),
    ]
    for name, payload, code in cases:
        expect_error_close(c, a.socket, name, payload, code)
    # Exactly the limit is a line (an unknown command, but the connection stays).
    s = connect(a.socket)
    s.sendall(b"a" * limit + b"\ntracking\n")
    ends = [l for l in read_replies(s, 2) if l.startswith("END ")]
    s.close()
    c.check("line of exactly the limit", len(ends) == 2 and "ERR 38" in ends[0] and ends[1] == "END 2 OK", repr(ends))
    # Unknown commands and bad arguments: an error, the connection goes on.
    s = connect(a.socket)
    s.sendall(b"frobnicate\nallow add 10.0.0.1/8\nclients 0x10\ntracking\n")
    ends = [l for l in read_replies(s, 4) if l.startswith("END ")]
    s.close()
    c.check("unknown command and wrong arguments", len(ends) == 4 and "ERR 38" in ends[0] and "ERR 22" in ends[1]
            and "ERR 22" in ends[2] and ends[3] == "END 4 OK", repr(ends))
    case_pipelined(c, a.socket)
    case_half_close(c, a.socket)
    case_conn_limit(c, a.socket, a.max_conns)
    slow = [threading.Thread(target=case_slow, args=(c, a.socket, 5)),
            threading.Thread(target=case_never_reads, args=(c, a.socket))]
    for t in slow:
        t.start()
    for t in slow:
        t.join()
    print(json.dumps(c.results, indent=1))
    return 1 if c.failed else 0


def cmd_ntploop(a):
    """NTP client mode-3 queries every interval until STOPFILE exists (or max time);
    prints {"sent", "answered", "lost", "max_delay", "mean_delay"}."""
    import os
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    sent = answered = 0
    delays = []
    end = time.time() + a.max_seconds
    while time.time() < end and not os.path.exists(a.stopfile):
        req = bytearray(48)
        req[0] = 0x23
        tx = os.urandom(8)
        req[40:48] = tx
        t1 = time.time()
        s.sendto(bytes(req), (a.host, a.port))
        sent += 1
        try:
            while True:
                d, _ = s.recvfrom(1024)
                if len(d) >= 48 and d[24:32] == tx:
                    break
            delays.append(time.time() - t1)
            answered += 1
        except socket.timeout:
            pass
        time.sleep(a.interval)
    out = {"sent": sent, "answered": answered, "lost": sent - answered,
           "max_delay": max(delays) if delays else None,
           "mean_delay": sum(delays) / len(delays) if delays else None}
    print(json.dumps(out))
    return 0


def cmd_raw(a):
    s = connect(a.socket)
    s.sendall(a.text.encode().decode("unicode_escape").encode("latin-1"))
    s.shutdown(socket.SHUT_WR)
    data, _ = read_until_close(s)
    sys.stdout.write(data.decode("utf-8", "replace"))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("badinput")
    b.add_argument("socket")
    b.add_argument("--max-conns", type=int, default=16)
    b.add_argument("--line-limit", type=int, default=1024)
    r = sub.add_parser("raw")
    r.add_argument("socket")
    r.add_argument("text")
    n = sub.add_parser("ntploop")
    n.add_argument("host")
    n.add_argument("port", type=int)
    n.add_argument("stopfile")
    n.add_argument("--interval", type=float, default=0.05)
    n.add_argument("--max-seconds", type=float, default=60)
    a = p.parse_args()
    return {"badinput": cmd_badinput, "raw": cmd_raw, "ntploop": cmd_ntploop}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
