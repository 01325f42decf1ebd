#!/usr/bin/env python3
"""faultkill: kill -9 the privilege-separated tr7ntpd at random moments while it writes
its files, then check every file (stdlib only).

  faultkill.py --cmd 'setpriv ... tr7ntpd -n -e -f CONF' --state DIR --sock SOCK
               --drift NAME --kills N --seed S --log FILE [--max-delay S] [--max-seconds S]

Each round: start the daemon (helper + worker), wait for its control socket, then from a
writer thread change the allow list as fast as it answers (allow add / allow delete of
a /24: the runtime state file and the audit log are written and fsynced each time; the
daemon writes its drift file every 20 ms with TR7_TEST_DRIFT_INTERVAL), kill -9 the
worker or the helper (at random) after a random delay, wait until both are gone, and
check:
  * every audit file (audit/audit.log and its rotations) is whole JSON lines, ending with
    a newline; every change the daemon acknowledged (END OK) is in the trail with result
    ok: nothing acknowledged is lost;
  * runtime.state parses (version=1, rule lines) and every rule in it was audited;
  * the drift file, if any, is one finite number within +-500 ppm; saved-clock, if any,
    is "tr7ntp-clock 1 <ns>";
  * the next start is clean: no error or warning about a state file in its log (checked
    in the next round, and once more at the end).
Prints one JSON line of figures; exits 1 at the first broken file (it is kept).
Bounded: N rounds, each start waits at most 20 s, the whole run at most --max-seconds.
"""
import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

BAD_START = re.compile(r"(runtime state|runtime\.state|drift file|saved clock|audit|state_dir).*"
                       r"(corrupt|not applied|NOT applied|cannot|unreadable|refused|\.bad|invalid)"
                       r"|fatal|worker not sandboxed|seccomp", re.I)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def connect(path, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    greeting = b""
    while not greeting.endswith(b"\n"):
        d = s.recv(256)
        if not d:
            raise OSError("closed before the greeting")
        greeting += d
    if not greeting.startswith(b"TR7CTL 1"):
        raise OSError("bad greeting %r" % greeting)
    return s


class Writer(threading.Thread):
    """Changes the allow list until stopped or the connection breaks; records what the
    daemon acknowledged, in order."""

    def __init__(self, path, round_no):
        super().__init__(daemon=True)
        self.path = path
        self.round_no = round_no
        self.acked = []  # command lines answered END n OK
        self.stop = threading.Event()

    def run(self):
        try:
            s = connect(self.path, 5.0)
        except OSError:
            return
        buf = b""
        seq = 0
        k = 0
        try:
            while not self.stop.is_set():
                prefix = "10.%d.%d.0/24" % (self.round_no % 250, (k // 2) % 250)
                cmd = ("allow add " if k % 2 == 0 else "allow delete ") + prefix
                k += 1
                s.sendall(cmd.encode() + b"\n")
                seq += 1
                end = ("END %d " % seq).encode()
                while True:
                    i = buf.find(end)
                    if i >= 0:
                        j = buf.find(b"\n", i)
                        if j >= 0:
                            line = buf[i:j]
                            buf = buf[j + 1:]
                            break
                    d = s.recv(4096)
                    if not d:
                        raise OSError("closed")
                    buf += d
                if line.endswith(b" OK"):
                    self.acked.append(cmd)
        except OSError:
            pass
        finally:
            s.close()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_files(a, acked, figures, audited_adds):
    """Returns an error text, or None. `audited_adds`: every "allow add P" seen with result
    ok so far (kept across rounds: rotation drops old records, not their rules)."""
    d = os.path.join(a.state, "audit")
    records = []
    names = sorted((n for n in os.listdir(d) if n.startswith("audit.log")), reverse=True)
    for n in names:
        if n.endswith(".tmp"):
            continue
        data = read(os.path.join(d, n))
        figures["files_checked"] += 1
        if data and not data.endswith(b"\n"):
            return "%s does not end with a whole line" % n
        for ln, line in enumerate(data.splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError:
                return "%s:%d is not a whole JSON record: %r" % (n, ln, line[:80])
            if not isinstance(obj, dict) or "command" not in obj or "result" not in obj:
                return "%s:%d is not an audit record" % (n, ln)
            records.append(obj)
    figures["records_seen"] = len(records)
    ok_cmds = {}
    for r in records:
        if r["result"] == "ok":
            ok_cmds[r["command"]] = ok_cmds.get(r["command"], 0) + 1
            if r["command"].startswith("allow add "):
                audited_adds.add(r["command"][len("allow add "):])
    # Nothing acknowledged is lost (each command line is unique within a round but for
    # the repeats of a prefix, counted).
    need = {}
    for c in acked:
        need[c] = need.get(c, 0) + 1
    for c, n in need.items():
        if ok_cmds.get(c, 0) < n:
            return "acknowledged %d x '%s', only %d in the audit trail" % (n, c, ok_cmds.get(c, 0))
    figures["acked_checked"] += len(acked)
    # The runtime state: whole, and nothing in it that was not audited.
    p = os.path.join(a.state, "runtime.state")
    if os.path.exists(p):
        figures["files_checked"] += 1
        text = read(p).decode("utf-8", "replace")
        lines = [l for l in text.split("\n") if l and not l.startswith("#")]
        if not text.endswith("\n") or not lines or lines[0] != "version=1":
            return "runtime.state is not whole: %r" % text[-120:]
        for l in lines[1:]:
            m = re.fullmatch(r"rule=(\S+) action=(allow|deny|remove)", l)
            if not m:
                return "runtime.state: bad line %r" % l
            if m.group(2) == "allow" and m.group(1) not in audited_adds:
                return "runtime.state has %s, never audited" % m.group(1)
    p = os.path.join(a.state, a.drift)
    if os.path.exists(p):
        figures["files_checked"] += 1
        text = read(p).decode("utf-8", "replace")
        first = text.split("\n")[0].strip()
        try:
            v = float(first)
        except ValueError:
            return "drift file is not a number: %r" % text[:80]
        if not (abs(v) <= 500.0) or not text.endswith("\n"):
            return "drift file out of range or not whole: %r" % text[:80]
        figures["drift_files"] += 1
    p = os.path.join(a.state, "saved-clock")
    if os.path.exists(p):
        figures["files_checked"] += 1
        if not re.fullmatch(rb"tr7ntp-clock 1 \d+\n", read(p)):
            return "saved-clock is not whole: %r" % read(p)[:80]
    figures["tmp_left"] = len([n for n in os.listdir(a.state) if n.endswith(".tmp")])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--sock", required=True)
    ap.add_argument("--drift", default="drift")
    ap.add_argument("--kills", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", required=True)
    ap.add_argument("--max-delay", type=float, default=0.3)
    ap.add_argument("--max-seconds", type=float, default=3000)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    figures = {"seed": a.seed, "kills": 0, "worker_kills": 0, "helper_kills": 0, "files_checked": 0,
               "acked_checked": 0, "drift_files": 0, "records_seen": 0, "tmp_left": 0, "lost": 0,
               "unclean_starts": 0}
    t0 = time.monotonic()
    cmd = a.cmd.split()
    audited_adds = set()
    for rnd in range(a.kills + 1):
        if time.monotonic() - t0 > a.max_seconds:
            figures["stopped_early"] = True
            break
        with open(a.log, "wb") as log:
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        s = None
        while time.monotonic() < deadline:
            if p.poll() is not None:
                break
            try:
                s = connect(a.sock, 1.0)
                break
            except OSError:
                time.sleep(0.005)
        if s is None:
            p.kill()
            p.wait()
            print(json.dumps(figures))
            sys.stderr.write("round %d: the daemon did not start (log %s)\n" % (rnd, a.log))
            return 1
        s.close()
        # The start was clean: nothing wrong with what the previous round left.
        text = read(a.log).decode("utf-8", "replace")
        bad = [l for l in text.splitlines() if ("error:" in l or "warning:" in l) and BAD_START.search(l)]
        if bad:
            figures["unclean_starts"] += 1
            print(json.dumps(figures))
            sys.stderr.write("round %d: unclean start: %s\n" % (rnd, bad[0]))
            return 1
        if rnd == a.kills:
            p.send_signal(signal.SIGTERM)  # the last start only proves the files are fine
            p.wait(timeout=20)
            break
        helper = p.pid
        kids = []
        for _ in range(200):
            kids = children(helper)
            if kids:
                break
            time.sleep(0.005)
        worker = kids[0] if kids else None
        w = Writer(a.sock, rnd)
        w.start()
        time.sleep(rng.uniform(0.0, a.max_delay))
        victim = helper if worker is None or rng.random() < 0.5 else worker
        os.kill(victim, signal.SIGKILL)
        figures["kills"] += 1
        figures["helper_kills" if victim == helper else "worker_kills"] += 1
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print(json.dumps(figures))
            sys.stderr.write("round %d: the helper did not exit after the kill\n" % rnd)
            return 1
        for _ in range(500):
            if worker is None or not alive(worker):
                break
            time.sleep(0.01)
        else:
            os.kill(worker, signal.SIGKILL)
            print(json.dumps(figures))
            sys.stderr.write("round %d: the worker outlived the helper\n" % rnd)
            return 1
        w.stop.set()
        w.join(5)
        err = check_files(a, w.acked, figures, audited_adds)
        if err:
            figures["lost"] += 1
            print(json.dumps(figures))
            sys.stderr.write("round %d (killed %s): %s\n" % (rnd, "helper" if victim == helper else "worker", err))
            return 1
    figures["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
