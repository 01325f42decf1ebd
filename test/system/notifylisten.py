#!/usr/bin/env python3
"""notifylisten: a stand-in for systemd's notification socket (sd_notify(3)).

  notifylisten.py PATH OUT     (PATH "@name": the abstract namespace)

Binds an AF_UNIX SOCK_DGRAM socket and appends one line per datagram to OUT:
"<unix time> <message with newlines as '|'>", flushed at once.
"""
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
with open(out, "a", buffering=1) as f:
    f.write("%.6f LISTENING\n" % time.time())
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        f.write("%.6f %s\n" % (time.time(), msg.replace("\n", "|")))
