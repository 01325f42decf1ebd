#!/bin/bash
# Synchronisation benchmark: tr7ntpd against chronyd -x, same upstreams, same path.
#
#  1. Time to synchronised, with 1 and with 4 LAN sources (chronyd -x servers with
#     `local stratum 2` on 127.0.0.2-5), both clients with `iburst` and default polls.
#     Measured the same way for both: the probe starts the daemon itself, then asks the
#     daemon's own NTP port every 10 ms until a reply says synchronised (LI != 3,
#     stratum 1..15); the time from the start to that reply. Median of BENCH_RUNS runs
#     (default 3).
#  2. Accuracy: a fake upstream (test/system/fakentp.py) whose clock runs +2.5 s and
#     +50 ppm from true time, reached through a userspace relay adding 10 ms +- 2 ms each
#     way (one relay per client, same seed), both clients `minpoll 0 maxpoll 4`. Each
#     client's *served* time is probed every 0.5 s on loopback with kernel timestamps and
#     compared with the known true time of the upstream; RMS and max error over the
#     steady state (after BENCH_SKIP s, default 60, for BENCH_STEADY s, default 120).
#     chronyd -x keeps its corrections in its own (virtual) clock and serves that time,
#     as tr7ntpd does with clock = none: the probe sees what each would tell its clients.
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
SEED=${BENCH_SEED:-1}
[ -x "$TR7NTPD" ] || die "tr7ntpd not built: $TR7NTPD"

up_port=$(free_port)
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

echo "== time to synchronised (LAN sources: chronyd -x local stratum 2; median of $RUNS runs)"
declare -A SYNC
for n in 1 4; do
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

echo
echo "== accuracy: upstream +2.5 s and +50 ppm from true time, relay 10 ms +- 2 ms each way, minpoll 0 maxpoll 4"
fport=$(free_port)
epoch=$(date +%s.%N)
$PY "$FAKE" 127.0.0.6 "$fport" --offset 2.5 --rate 50 --epoch "$epoch" --stats "$T_DIR/fake.json" \
  >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
FAKE_PID=$!
wait_for 10 $PY "$TR7_SRCDIR/test/system/ntpprobe.py" query 127.0.0.6 "$fport" --timeout 0.3 || die "fake upstream"
total=$((SKIP + STEADY))
r1=$(free_port)
r2=$(free_port)
$PY "$RELAY" 127.0.0.1 "$r1" 127.0.0.6 "$fport" --seed "$SEED" --duration $((total + 30)) --stats "$T_DIR/relay-ours.json" &
T_PIDS+=($!)
RELAY1=$!
$PY "$RELAY" 127.0.0.1 "$r2" 127.0.0.6 "$fport" --seed "$SEED" --duration $((total + 30)) --stats "$T_DIR/relay-chrony.json" &
T_PIDS+=($!)
RELAY2=$!
sleep 0.5
p1=$(free_port)
p2=$(free_port)
printf '[daemon]\nclock = none\nstate_dir = %s\nlog_level = info\n[server]\nlisten = 127.0.0.1:%s\n[discipline]\ndrift_file = none\n[sources]\nserver = 127.0.0.1 port %s iburst minpoll 0 maxpoll 4\n' \
  "$T_DIR" "$p1" "$r1" >"$T_DIR/acc-ours.conf"
d="$T_DIR/acc-chrony"
mkdir -p "$d" && chmod 700 "$d"
printf 'server 127.0.0.1 port %s iburst minpoll 0 maxpoll 4\nmakestep 1 3\nport %s\nbindaddress 127.0.0.1\nallow 127.0.0.1\npidfile %s/pid\nbindcmdaddress %s/sock\ncmdport 0\n' \
  "$r2" "$p2" "$d" "$d" >"$d/chrony.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/acc-ours.conf" >"$T_DIR/acc-ours.log" 2>&1 &
T_PIDS+=($!)
OURS=$!
"${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf" >"$T_DIR/acc-chrony.log" 2>&1 &
T_PIDS+=($!)
CHRONY=$!
acc=$($PROBE accuracy --target "tr7ntpd=127.0.0.1:$p1" --target "chronyd=127.0.0.1:$p2" --offset 2.5 --rate 50 \
  --epoch "$epoch" --duration "$total" --interval 0.5 --skip "$SKIP")
kill -TERM "$RELAY1" "$RELAY2" "$OURS" "$CHRONY" 2>/dev/null
wait "$RELAY1" "$RELAY2" 2>/dev/null
$PY - "$acc" "$T_DIR/relay-ours.json" "$T_DIR/relay-chrony.json" "$SKIP" "$STEADY" <<'PYEOF'
import json, sys
acc = json.loads(sys.argv[1])
reqs = []
for f in sys.argv[2:4]:
    try:
        reqs.append(json.load(open(f)).get("requests", 0))
    except Exception:
        reqs.append(-1)
skip, steady = sys.argv[4], sys.argv[5]
print("method: served time probed every 0.5 s on loopback (kernel rx timestamps), minus the true")
print("        time of the upstream (system clock + 2.5 s + 50 ppm since its epoch); steady state")
print("        from %s s after start for %s s" % (skip, steady))
for (name, r), n in zip(sorted(acc.items(), reverse=True), [reqs[0], reqs[1]]):
    if r.get("samples", 0) == 0:
        print("%-8s no synchronised samples (lost %d)" % (name, r["lost"]))
        continue
    print("%-8s RMS %7.1f us   max %7.1f us   mean %+7.1f us   samples %d   requests upstream %d" %
          (name, r["rms"] * 1e6, r["max"] * 1e6, r["mean"] * 1e6, r["samples"], n))
o, c = acc.get("tr7ntpd", {}), acc.get("chronyd", {})
if o.get("samples") and c.get("samples"):
    print("ratio tr7ntpd/chronyd: RMS %.2f   max %.2f   (target RMS <= 0.5)" % (o["rms"] / c["rms"], o["max"] / c["max"]))
PYEOF
finish
