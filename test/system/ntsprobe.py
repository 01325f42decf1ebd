#!/usr/bin/env python3
"""NTS-KE probe for the system tests (RFC 8915 section 4), with Python's ssl module.

  ntsprobe.py ke HOST PORT CA       one NTS-KE; prints the number of cookies (exit 1 if none)
  ntsprobe.py badke HOST PORT CA    runs the bad-input cases against an NTS-KE server and
                                    prints one JSON object: {"cases": {name: result}, ...}
Each case says what happened: the records of the response, "closed" (the server closed
without a response), "timeout" (nothing for several seconds), or a handshake error.
"""
import json
import socket
import ssl
import struct
import sys
import time


def record(rtype, body=b"", critical=True):
    return struct.pack("!HH", (0x8000 if critical else 0) | rtype, len(body)) + body


def u16s(*v):
    return b"".join(struct.pack("!H", x) for x in v)


GOOD = record(1, u16s(0)) + record(4, u16s(15)) + record(0)


def parse(data):
    """Records of one message: [(critical, type, body)], or None if incomplete/bad."""
    out, pos = [], 0
    while pos + 4 <= len(data):
        w, n = struct.unpack_from("!HH", data, pos)
        body = data[pos + 4:pos + 4 + n]
        if len(body) < n:
            return None
        pos += 4 + n
        out.append((bool(w & 0x8000), w & 0x7FFF, body))
        if w & 0x7FFF == 0:
            return out
    return None


def context(ca, alpn=True, tls13=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(["ntske/1"])
    return ctx


def exchange(host, port, ca, payload, alpn=True, tls13=True, timeout=5.0, chunks=1):
    """Sends payload over TLS; returns a summary of what came back."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        return {"error": "connect: %s" % e}
    try:
        s = context(ca, alpn, tls13).wrap_socket(raw, server_hostname="localhost")
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return {"handshake_failed": str(e)}
    try:
        step = max(1, len(payload) // chunks)
        for i in range(0, len(payload), step):
            s.sendall(payload[i:i + step])
        data = b""
        s.settimeout(timeout)
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                return {"timeout": True, "bytes": len(data)}
            except (ssl.SSLError, OSError) as e:
                break
            if not d:
                break
            data += d
            if parse(data) is not None:
                break
        recs = parse(data)
        if recs is None:
            return {"closed": True, "bytes": len(data)}
        return {"records": [[c, t, b.hex()] for c, t, b in recs], "bytes": len(data)}
    finally:
        try:
            s.close()
        except OSError:
            pass


def idle_closed_after(host, port, limit=8.0):
    """Connects and sends nothing: seconds until the server closes (None: it did not)."""
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=limit)
    s.settimeout(limit)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return time.time() - t0
    except socket.timeout:
        return None
    except OSError:
        return time.time() - t0
    finally:
        s.close()


def badke(host, port, ca):
    cases = {}
    cases["good"] = exchange(host, port, ca, GOOD)
    cases["unknown_critical"] = exchange(host, port, ca, record(1, u16s(0)) + record(4, u16s(15)) +
                                         record(0x4321, b"x") + record(0))
    cases["unknown_noncritical"] = exchange(host, port, ca, record(1, u16s(0)) + record(4, u16s(15)) +
                                            record(0x4321, b"x", False) + record(0))
    cases["error_record"] = exchange(host, port, ca, record(2, u16s(1)) + GOOD)
    cases["no_next_protocol"] = exchange(host, port, ca, record(4, u16s(15)) + record(0))
    cases["other_aead"] = exchange(host, port, ca, record(1, u16s(0)) + record(4, u16s(30)) + record(0))
    cases["split"] = exchange(host, port, ca, GOOD, chunks=len(GOOD))
    big = b"".join(record(0x4444, b"\0" * 1000, False) for _ in range(20))  # 20 KB, no end
    cases["oversized"] = exchange(host, port, ca, big)
    cases["no_alpn"] = exchange(host, port, ca, GOOD, alpn=False)
    cases["tls12"] = exchange(host, port, ca, GOOD, tls13=False)
    # Not TLS at all.
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 10)
        s.settimeout(5)
        got = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
        except OSError:
            pass
        cases["not_tls"] = {"closed": True, "bytes": len(got)}
        s.close()
    except OSError as e:
        cases["not_tls"] = {"error": str(e)}
    cases["slowloris_closed_after_s"] = idle_closed_after(host, port)
    # More idle connections than the server takes: the extra ones are closed at once.
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(12)]
    time.sleep(0.3)
    closed_at_once = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed_at_once += 1
        except BlockingIOError:
            pass
        except OSError:
            closed_at_once += 1
    for s in socks:
        s.close()
    cases["flood_closed_at_once"] = closed_at_once
    time.sleep(0.2)
    cases["good_after"] = exchange(host, port, ca, GOOD)
    return cases


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("badke", "ke"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "ke":
        r = exchange(sys.argv[2], int(sys.argv[3]), sys.argv[4], GOOD)
        n = sum(1 for c, t, b in r.get("records", []) if t == 5)
        print(n)
        return 0 if n > 0 else 1
    print(json.dumps({"cases": badke(sys.argv[2], int(sys.argv[3]), sys.argv[4])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
