#!/bin/bash
# Synchronisation benchmark: tr7ntpd against chronyd -x, same upstreams, same path.
#
#  1. Time to synchronised, with 1 and with 4 LAN sources (chronyd -x servers with
#     `local stratum 2` on 127.0.0.2-5), both clients with `iburst` and default polls.
#     Measured the same way for both: the probe starts the daemon itself, then asks the
#     daemon's own NTP port every 10 ms until a reply says synchronised (LI != 3,
#     stratum 1..15); the time from the start to that reply. Median of BENCH_RUNS runs
#     (default 3).
#  2. Accuracy: a fake upstream whose clock runs +2.5 s and +50 ppm from true time,
#     reached through a userspace relay adding 10 ms +- 2 ms (uniform) each way (one relay
#     per client, same seed), both clients `iburst minpoll 0 maxpoll 4`. Each client's
#     *served* time is probed every 0.5 s on loopback with kernel timestamps and compared
#     with the known true time of the upstream; RMS and max error over the steady state
#     (after BENCH_SKIP s, default 60, for BENCH_STEADY s, default 120), for each seed of
#     BENCH_SEEDS (default: BENCH_SEED, default 1), and the requests each client sent.
#     chronyd -x keeps its corrections in its own (virtual) clock and serves that time,
#     as tr7ntpd does with clock = none: the probe sees what each would tell its clients.
#     The path (fake upstream, relay, probe) is tr7ntp-benchpath (C++, TR7_BENCHPATH):
#     the relay times its delays from the kernel's receive timestamps and spins the last
#     1.5 ms before a send, the probe keeps the fastest of 3 exchanges per observation,
#     all three run SCHED_FIFO (the daemons do not); its noise is a few microseconds,
#     where the Python tools (BENCH_PATH=python: fakentp.py, udprelay.py, syncprobe.py)
#     add hundreds on a loaded machine. BENCH_OUT=DIR keeps the logs and every probe
#     observation (samples-SEED.csv).
#
# Needs root (loopback aliases, setpriv); never touches the system clock (both daemons
# run without CAP_SYS_TIME: chronyd -x, tr7ntpd clock = none).
set -u
TR7_SRCDIR=${TR7_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TR7_SRCDIR/test/system/lib.sh"
require_root
require_cmd chronyd chronyc setpriv
PY=$(command -v /usr/bin/python3 || command -v python3)
PROBE="$PY $TR7_SRCDIR/contrib/bench/syncprobe.py"
RELAY="$TR7_SRCDIR/contrib/bench/udprelay.py"
FAKE="$TR7_SRCDIR/test/system/fakentp.py"
RUNS=${BENCH_RUNS:-3}
SKIP=${BENCH_SKIP:-60}
STEADY=${BENCH_STEADY:-120}
SEEDS=${BENCH_SEEDS:-${BENCH_SEED:-1}}
ONLY=${BENCH_ONLY:-all}  # all | sync | accuracy
[ -x "$TR7NTPD" ] || die "tr7ntpd not built: $TR7NTPD"
BENCHPATH=${TR7_BENCHPATH:-}
PATHKIND=${BENCH_PATH:-c++}
if [ "$PATHKIND" != python ] && [ ! -x "$BENCHPATH" ]; then
  log "tr7ntp-benchpath not built (TR7_BENCHPATH): using the Python path"
  PATHKIND=python
fi

up_port=$(free_port)
if [ "$ONLY" != accuracy ]; then
  for i in 2 3 4 5; do
    start_chronyd "up$i" "local stratum 2
allow 127.0.0.0/8
port $up_port
bindaddress 127.0.0.$i"
  done
  for i in 2 3 4 5; do
    wait_for 10 $PY "$TR7_SRCDIR/test/system/ntpprobe.py" query "127.0.0.$i" "$up_port" --timeout 0.3 ||
      die "upstream chronyd 127.0.0.$i not answering"
  done
fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)]}'; }

# ours_sync N: seconds until tr7ntpd serves synchronised time with N sources.
ours_sync() {
  local n=$1 port lines="" i
  port=$(free_port)
  for i in $(seq 2 $((n + 1))); do lines+="server = 127.0.0.$i port $up_port iburst"$'\n'; done
  printf '[daemon]\nclock = none\nstate_dir = %s\n[server]\nlisten = 127.0.0.1:%s\n[discipline]\ndrift_file = none\n[sources]\n%s' \
    "$T_DIR" "$port" "$lines" >"$T_DIR/ours.conf"
  $PROBE wait-sync --timeout 30 --log "$T_DIR/ours-sync.log" 127.0.0.1 "$port" -- \
    "${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/ours.conf"
}

# chrony_sync N: the same for chronyd -x.
chrony_sync() {
  local n=$1 port d i
  port=$(free_port)
  d="$T_DIR/cs$n.$RANDOM"
  mkdir -p "$d" && chmod 700 "$d"
  {
    for i in $(seq 2 $((n + 1))); do echo "server 127.0.0.$i port $up_port iburst"; done
    printf 'port %s\nbindaddress 127.0.0.1\nallow 127.0.0.1\n' "$port"
    printf 'pidfile %s/pid\nbindcmdaddress %s/sock\ncmdport 0\n' "$d" "$d"
  } >"$d/chrony.conf"
  $PROBE wait-sync --timeout 30 --log "$T_DIR/chrony-sync.log" 127.0.0.1 "$port" -- \
    "${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf"
}

declare -A SYNC
[ "$ONLY" = accuracy ] || echo "== time to synchronised (LAN sources: chronyd -x local stratum 2; median of $RUNS runs)"
for n in 1 4; do
  [ "$ONLY" = accuracy ] && break
  o=() c=()
  for r in $(seq 1 "$RUNS"); do
    o+=("$(ours_sync $n)")
    c+=("$(chrony_sync $n)")
  done
  SYNC[ours$n]=$(printf '%s\n' "${o[@]}" | median)
  SYNC[chrony$n]=$(printf '%s\n' "${c[@]}" | median)
  printf '%d source(s): tr7ntpd %s s (runs: %s)   chronyd -x %s s (runs: %s)   ratio %s\n' "$n" "${SYNC[ours$n]}" \
    "${o[*]}" "${SYNC[chrony$n]}" "${c[*]}" \
    "$(awk -v a="${SYNC[ours$n]}" -v b="${SYNC[chrony$n]}" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
done

[ "$ONLY" = sync ] && finish

# accuracy_run SEED: one accuracy measurement; prints the report, appends a summary line
# to $T_DIR/summary.
accuracy_run() {
  local seed=$1 fport epoch total r1 r2 p1 p2 d acc pids=() relay1 relay2 ours chrony
  fport=$(free_port)
  epoch=$(date +%s.%N)
  total=$((SKIP + STEADY))
  if [ "$PATHKIND" = python ]; then
    $PY "$FAKE" 127.0.0.6 "$fport" --offset 2.5 --rate 50 --epoch "$epoch" --stats "$T_DIR/fake-$seed.json" \
      >"$T_DIR/fake-$seed.log" 2>&1 &
  else
    "$BENCHPATH" server 127.0.0.6 "$fport" --offset 2.5 --rate 50 --epoch "$epoch" --duration $((total + 60)) \
      --rt --stats "$T_DIR/fake-$seed.json" >"$T_DIR/fake-$seed.log" 2>&1 &
  fi
  T_PIDS+=($!)
  pids+=($!)
  wait_for 10 $PY "$TR7_SRCDIR/test/system/ntpprobe.py" query 127.0.0.6 "$fport" --timeout 0.3 || die "fake upstream"
  r1=$(free_port)
  r2=$(free_port)
  for r in "$r1:ours" "$r2:chrony"; do
    if [ "$PATHKIND" = python ]; then
      $PY "$RELAY" 127.0.0.1 "${r%%:*}" 127.0.0.6 "$fport" --seed "$seed" --duration $((total + 30)) \
        --stats "$T_DIR/relay-${r##*:}-$seed.json" &
    else
      "$BENCHPATH" relay 127.0.0.1 "${r%%:*}" 127.0.0.6 "$fport" --seed "$seed" --duration $((total + 30)) --rt \
        --stats "$T_DIR/relay-${r##*:}-$seed.json" &
    fi
    T_PIDS+=($!)
    pids+=($!)
  done
  relay1=${pids[1]}
  relay2=${pids[2]}
  sleep 0.5
  p1=$(free_port)
  p2=$(free_port)
  printf '[daemon]\nclock = none\nstate_dir = %s\nlog_level = info\n[server]\nlisten = 127.0.0.1:%s\n[discipline]\ndrift_file = none\n[sources]\nserver = 127.0.0.1 port %s iburst minpoll 0 maxpoll 4\n' \
    "$T_DIR" "$p1" "$r1" >"$T_DIR/acc-ours-$seed.conf"
  d="$T_DIR/acc-chrony-$seed"
  mkdir -p "$d" && chmod 700 "$d"
  printf 'server 127.0.0.1 port %s iburst minpoll 0 maxpoll 4\nmakestep 1 3\nport %s\nbindaddress 127.0.0.1\nallow 127.0.0.1\npidfile %s/pid\nbindcmdaddress %s/sock\ncmdport 0\n' \
    "$r2" "$p2" "$d" "$d" >"$d/chrony.conf"
  "${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/acc-ours-$seed.conf" >"$T_DIR/acc-ours-$seed.log" 2>&1 &
  T_PIDS+=($!)
  ours=$!
  "${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf" >"$T_DIR/acc-chrony-$seed.log" 2>&1 &
  T_PIDS+=($!)
  chrony=$!
  if [ "$PATHKIND" = python ]; then
    acc=$($PROBE accuracy --target "tr7ntpd=127.0.0.1:$p1" --target "chronyd=127.0.0.1:$p2" --offset 2.5 --rate 50 \
      --epoch "$epoch" --duration "$total" --interval 0.5 --skip "$SKIP")
  else
    acc=$("$BENCHPATH" probe --target "tr7ntpd=127.0.0.1:$p1" --target "chronyd=127.0.0.1:$p2" --offset 2.5 \
      --rate 50 --epoch "$epoch" --duration "$total" --interval 0.5 --skip "$SKIP" --tries 3 --rt \
      --samples "$T_DIR/samples-$seed.csv")
  fi
  kill -TERM "$relay1" "$relay2" "$ours" "$chrony" "${pids[0]}" 2>/dev/null
  wait "$relay1" "$relay2" "${pids[0]}" 2>/dev/null
  $PY - "$acc" "$T_DIR/relay-ours-$seed.json" "$T_DIR/relay-chrony-$seed.json" "$SKIP" "$STEADY" "$seed" \
    "$PATHKIND" "$T_DIR/summary" <<'PYEOF'
import json, sys
acc = json.loads(sys.argv[1])
relays = []
for f in sys.argv[2:4]:
    try:
        relays.append(json.load(open(f)))
    except Exception:
        relays.append({})
skip, steady, seed, kind, summary = sys.argv[4:9]
print("seed %s (%s path): served time probed every 0.5 s on loopback (kernel rx timestamps), minus the"
      % (seed, kind))
print("        true time of the upstream (system clock + 2.5 s + 50 ppm since its epoch); steady state")
print("        from %s s after start for %s s" % (skip, steady))
for name, rel in (("tr7ntpd", relays[0]), ("chronyd", relays[1])):
    r = acc.get(name, {})
    n = rel.get("requests", -1)
    late = (" (relay late p50/p99 %.0f/%.0f us)" % (rel["late_us_p50"], rel["late_us_p99"])
            if "late_us_p50" in rel else "")
    if r.get("samples", 0) == 0:
        print("%-8s no synchronised samples (lost %d)" % (name, r.get("lost", -1)))
        continue
    print("%-8s RMS %7.1f us   max %7.1f us   mean %+7.1f us   samples %d   requests upstream %d%s" %
          (name, r["rms"] * 1e6, r["max"] * 1e6, r["mean"] * 1e6, r["samples"], n, late))
o, c = acc.get("tr7ntpd", {}), acc.get("chronyd", {})
if o.get("samples") and c.get("samples"):
    ratio = o["rms"] / c["rms"]
    print("ratio tr7ntpd/chronyd: RMS %.2f   max %.2f   (target RMS <= 0.5)" % (ratio, o["max"] / c["max"]))
    with open(summary, "a") as f:
        f.write("%s %.1f %.1f %.1f %.1f %.2f %d %d\n" % (seed, o["rms"] * 1e6, o["max"] * 1e6, c["rms"] * 1e6,
                c["max"] * 1e6, ratio, relays[0].get("requests", -1), relays[1].get("requests", -1)))
PYEOF
}

echo
echo "== accuracy: upstream +2.5 s and +50 ppm from true time, relay 10 ms +- 2 ms each way, minpoll 0 maxpoll 4"
echo "   (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
for seed in $SEEDS; do
  accuracy_run "$seed"
  echo "   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
done
if [ -s "$T_DIR/summary" ]; then
  echo
  echo "seed  tr7ntpd RMS/max (us)  chronyd RMS/max (us)  ratio  requests tr7ntpd/chronyd"
  awk '{printf "%-5s %8s / %-8s   %8s / %-8s   %5s  %s / %s\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$T_DIR/summary"
  awk '{if ($6 > w) w = $6} END {printf "worst ratio %.2f (target <= 0.5 on each seed)\n", w}' "$T_DIR/summary"
fi
if [ -n "${BENCH_OUT:-}" ]; then
  # Keep the logs and the per-probe samples for analysis.
  mkdir -p "$BENCH_OUT" && cp -r "$T_DIR"/. "$BENCH_OUT"/ 2>/dev/null
fi
finish
