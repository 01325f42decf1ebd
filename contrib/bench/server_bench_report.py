#!/usr/bin/env python3
"""Report of server-bench.sh: medians over the runs of each (server, load), the ratios
tr7ntpd/chronyd and tr7ntpd/floor, the issue's targets, the thread runs and the 10^6
client addresses run. Input: the RESULT lines of tr7ntp-bench load (one file)."""
import statistics
import sys
from collections import defaultdict

SERVERS = ("chronyd", "floor", "tr7ntpd")


def parse(path):
    runs = defaultdict(list)  # (server, load) -> [dict]
    with open(path) as f:
        for line in f:
            if not line.startswith("RESULT "):
                continue
            kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
            srv, load, _rep = kv["label"].split(":")
            runs[(srv, load)].append(kv)
    return runs


def med(rows, key):
    vals = []
    for r in rows:
        try:
            v = float(r[key])
        except (KeyError, ValueError):
            continue
        if v != v or (v < 0 and key in ("cpu_us_per_reply", "server_cpu_s", "rss_kb")):
            continue  # not measured
        vals.append(v)
    return statistics.median(vals) if vals else float("nan")


def spread(rows, key):
    vals = [float(r[key]) for r in rows if key in r]
    return (min(vals), max(vals)) if vals else (float("nan"), float("nan"))


def fmt(v, unit=""):
    if v != v:
        return "n/a"
    if unit == "%":
        return "%.3f%%" % (v * 100)
    if abs(v) >= 1000:
        return "%.0f" % v
    return "%.2f" % v


def ratio(a, b):
    if a != a or b != b or b == 0:
        return "n/a"
    return "%.2f" % (a / b)


METRICS = [
    ("cpu/reply us", "cpu_us_per_reply", ""),
    ("T3-T2 p50 us", "srv_p50_us", ""),
    ("T3-T2 p99 us", "srv_p99_us", ""),
    ("RTT p50 us", "rtt_p50_us", ""),
    ("RTT p99 us", "rtt_p99_us", ""),
    ("lag T4-T3 p50 us", "lag_p50_us", ""),
    ("|offset| p50 us", "absoff_p50_us", ""),
    ("loss", "loss", "%"),
    ("replies/s", "replies_per_s", ""),
]


def load_name(load):
    return {"closed": "closed loop, 64 in flight (max replies/s)",
            "probe": "latency probe, 1 in flight (low load)"}.get(load, "open loop %s requests/s" % load)


def main():
    runs = parse(sys.argv[1])
    loads = []
    for (srv, load) in runs:
        if srv in SERVERS and load not in loads and load != "million":
            loads.append(load)
    order = {"50000": 0, "100000": 1, "150000": 2, "closed": 3, "probe": 4}
    loads.sort(key=lambda x: order.get(x, 9))
    print()
    print("Medians over %s runs per cell (min..max of cpu/reply in brackets)." %
          "/".join(str(len(runs[(s, l)])) for s in SERVERS for l in loads[:1]))
    print("floor = minimal recvmmsg/sendmmsg reflector (no kernel timestamps: its T3-T2 is 0 by construction)")
    targets = []
    for load in loads:
        print()
        print("## %s" % load_name(load))
        print("%-16s %12s %12s %12s %10s %10s" % ("metric", "chronyd", "floor", "tr7ntpd", "tr7/chrony", "tr7/floor"))
        for title, key, unit in METRICS:
            vals = {s: med(runs.get((s, load), []), key) for s in SERVERS}
            extra = ""
            if key == "cpu_us_per_reply":
                extra = "  [" + " ".join("%s %.2f..%.2f" % ((s[:5],) + spread(runs.get((s, load), []), key))
                                         for s in SERVERS) + "]"
            fr = ratio(vals["tr7ntpd"], vals["floor"]) if key not in ("srv_p50_us", "srv_p99_us", "absoff_p50_us",
                                                                      "lag_p50_us") else "n/a"
            print("%-16s %12s %12s %12s %10s %10s%s" % (
                title, fmt(vals["chronyd"], unit), fmt(vals["floor"], unit), fmt(vals["tr7ntpd"], unit),
                ratio(vals["tr7ntpd"], vals["chronyd"]), fr, extra))
        fts = runs.get(("floorts", load), [])
        if fts:
            print("%-16s %12s   (the reflector with kernel rx timestamps: the T3-T2 floor, i.e. waking up)" % (
                "floor T3-T2 p50", fmt(med(fts, "srv_p50_us"))))
        c = {k: med(runs.get(("chronyd", load), []), k) for _, k, _ in METRICS}
        t = {k: med(runs.get(("tr7ntpd", load), []), k) for _, k, _ in METRICS}
        f = {k: med(runs.get(("floor", load), []), k) for _, k, _ in METRICS}
        if load == "100000":
            targets.append(("CPU/reply at 100k/s <= 0.85 x chronyd", t["cpu_us_per_reply"] <= 0.85 * c["cpu_us_per_reply"],
                            "%s x" % ratio(t["cpu_us_per_reply"], c["cpu_us_per_reply"])))
            targets.append(("CPU/reply at 100k/s within 10% of the floor", t["cpu_us_per_reply"] <= 1.10 * f["cpu_us_per_reply"],
                            "%s x" % ratio(t["cpu_us_per_reply"], f["cpu_us_per_reply"])))
        if load in ("probe", "50000", "100000", "150000"):
            targets.append(("T3-T2 median <= 0.5 x chronyd (%s)" % load, t["srv_p50_us"] <= 0.5 * c["srv_p50_us"],
                            "%s x" % ratio(t["srv_p50_us"], c["srv_p50_us"])))
        if load == "150000":
            targets.append(("RTT p99 at 150k/s <= chronyd", t["rtt_p99_us"] <= c["rtt_p99_us"],
                            "%s vs %s us" % (fmt(t["rtt_p99_us"]), fmt(c["rtt_p99_us"]))))
            targets.append(("loss at 150k/s <= chronyd", t["loss"] <= c["loss"],
                            "%s vs %s" % (fmt(t["loss"], "%"), fmt(c["loss"], "%"))))

    variants = [v for v in ("tr7batch", "tr7poll") if any(s == v for (s, _l) in runs)]
    if variants:
        print()
        print("## tr7ntpd variants: tr7batch = tx_timestamp batch, tr7poll = busy_poll 50 (default: spread, 0)")
        print("T3-T2 is what the replies claim; the lag T4-T3 is when they really arrived after their")
        print("transmit timestamp (a stamp taken before the reply left shows as extra lag; the client's")
        print("offset is off by half of it). |offset| is exact only in the probe (kernel loader stamps).")
        print("%-8s %-9s %11s %11s %9s %9s %10s %10s" % ("load", "server", "T3-T2 p50", "T3-T2 p99", "lag p50",
                                                     "lag p99", "|off| p50", "cpu/reply"))
        for load in loads:
            for s in ("tr7ntpd",) + tuple(variants):
                rows = runs.get((s, load), [])
                if rows:
                    print("%-8s %-9s %11s %11s %9s %9s %10s %10s" % (
                        load, s, fmt(med(rows, "srv_p50_us")), fmt(med(rows, "srv_p99_us")),
                        fmt(med(rows, "lag_p50_us")), fmt(med(rows, "lag_p99_us")), fmt(med(rows, "absoff_p50_us")),
                        fmt(med(rows, "cpu_us_per_reply"))))
        for load in ("probe", "50000", "100000"):
            p = runs.get(("tr7poll", load), [])
            c = runs.get(("chronyd", load), [])
            if p and c:
                tp, cp = med(p, "srv_p50_us"), med(c, "srv_p50_us")
                targets.append(("T3-T2 median <= 0.5 x chronyd (%s, busy_poll 50)" % load, tp <= 0.5 * cp,
                                "%s x" % ratio(tp, cp)))

    thread_names = sorted({s for (s, l) in runs if s.startswith("tr7t")})
    if thread_names:
        print()
        print("## tr7ntpd threads (4096 client addresses, 16 ports; per-thread CPU split in brackets)")
        print("%-34s %14s %14s %16s" % ("configuration", "closed rep/s", "100k cpu/reply", "100k thread CPU s"))
        desc = {"tr7t1": "threads=1, CPU 1", "tr7t2": "threads=2, both on CPU 1", "tr7t4": "threads=4, all on CPU 1",
                "tr7t2all": "threads=2, CPUs 0-1 (shared w/ loader)"}
        for n in ("tr7t1", "tr7t2", "tr7t4", "tr7t2all"):
            if n not in thread_names:
                continue
            rows = runs.get((n, "100000"), [])
            split = rows[len(rows) // 2]["thread_cpu_s"] if rows else "-"
            print("%-34s %14s %14s %16s" % (desc.get(n, n), fmt(med(runs.get((n, "closed"), []), "replies_per_s")),
                                             fmt(med(rows, "cpu_us_per_reply")), "[" + split + "]"))

    mil = {s: runs.get((s, "million"), []) for s in SERVERS}
    if any(mil.values()):
        print()
        n = next(r for rows in mil.values() for r in rows)["addrs"]
        print("## %s distinct client addresses at 100k/s, each sending once; pass 2 from %s other addresses" % (n, n))
        print("%-10s %5s %12s %12s %10s %12s %12s" % ("server", "pass", "RSS before", "RSS after", "loss", "replies/s",
                                                     "cpu/reply"))
        for s in SERVERS:
            for i, r in enumerate(mil[s]):
                print("%-10s %5d %9s kB %9s kB %10s %12s %12s" % (s, i + 1, r.get("rss_before_kb", "?"), r["rss_kb"],
                                                                fmt(float(r["loss"]), "%"), r["replies_per_s"],
                                                                r["cpu_us_per_reply"]))

    if targets:
        print()
        print("## targets (issue 8)")
        for what, ok, detail in targets:
            print("%-50s %-5s %s" % (what, "PASS" if ok else "FAIL", detail))


if __name__ == "__main__":
    main()
