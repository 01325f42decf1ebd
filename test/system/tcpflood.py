#!/usr/bin/env python3
"""tcpflood: many idle TCP connections to one address, as fast as allowed (stdlib only).

  tcpflood.py HOST PORT COUNT SECONDS [HOLD]

Opens COUNT connections to HOST:PORT spread over SECONDS (non-blocking connects: a full
backlog does not stall it), keeping at most HOLD (default 800) open at once (the oldest
is closed first), sending nothing: silent clients holding the server's slots. Closes
everything at the end and prints "opened=N failed=F seconds=S". Bounded in count and time.
"""
import resource
import socket
import sys
import time


def main():
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    hold = int(sys.argv[5]) if len(sys.argv) > 5 else 800
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, hold + 64)), hard))
    open_socks = []
    opened = failed = 0
    t0 = time.monotonic()
    for i in range(count):
        # Pace: connection i goes out no earlier than i/count of the way through.
        due = t0 + seconds * i / count
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        if time.monotonic() - t0 > seconds + 5:
            break  # bounded in time whatever happens
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc not in (0, 115):  # 115: EINPROGRESS
            failed += 1
            s.close()
            continue
        opened += 1
        open_socks.append(s)
        if len(open_socks) > hold:
            open_socks.pop(0).close()
    elapsed = time.monotonic() - t0
    for s in open_socks:
        s.close()
    print("opened=%d failed=%d seconds=%.2f" % (opened, failed, elapsed), flush=True)


if __name__ == "__main__":
    main()
