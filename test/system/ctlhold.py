#!/usr/bin/env python3
"""ctlhold: opens N connections to a control socket and holds them idle (stdlib only).

  ctlhold.py SOCKET N [HOLD_S]

Connects N times, one after the other, reads each greeting and whatever follows at once
(a "busy" refusal and a close), then prints "held=K busy=B" (K connections that got a
slot and are still open, B refused or closed since) and keeps the open ones, silent, for
HOLD_S seconds (default 30) or until killed. Bounded: each connect waits at most 2 s.
"""
import socket
import sys
import time


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    hold_s = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    held, busy = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(path)
            data = s.recv(4096)
            # A refused one gets the greeting and an error frame, then EOF.
            s.settimeout(0.05)
            try:
                more = s.recv(4096)
                data += more
                closed = more == b""
            except socket.timeout:
                closed = False
        except OSError:
            busy += 1
            s.close()
            continue
        if b"ERR" in data or closed:
            busy += 1
            s.close()
        else:
            held.append(s)
    # Some of the earlier ones may have been closed since (evicted): count the open ones.
    still = 0
    for s in held:
        s.settimeout(0.0)
        data, closed = b"", False
        while True:
            try:
                more = s.recv(4096)
            except BlockingIOError:
                break
            except OSError:
                closed = True
                break
            if more == b"":
                closed = True
                break
            data += more
        if not closed and b"ERR" not in data:
            still += 1
    print("held=%d busy=%d" % (still, n - still), flush=True)
    time.sleep(hold_s)


if __name__ == "__main__":
    main()
