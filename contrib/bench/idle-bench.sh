#!/bin/bash
# Idle wake-ups: tr7ntpd and chronyd -x as clients of the same server, side by side,
# both synchronised and otherwise idle (no NTP clients of their own): how often does each
# wake up? Counted as the voluntary context switches of all the process's threads (and,
# for tr7ntpd with privilege separation, of its helper too) over BENCH_IDLE_S seconds
# (default 60) after BENCH_SETTLE_S (default 30) of settling. Both poll the server with
# the same minpoll/maxpoll (BENCH_POLL, default 6): the wake-ups for polling are the same;
# the rest is each daemon's own timers.
#
# The path: BENCH_PATH_DELAY seconds each way (default 0.005, through udprelay.py, like a
# LAN or nearby WAN server). Each poll is then two wake-ups for either daemon (the poll
# timer and the reply). With 0 (the server straight on loopback, a ~0.1 ms round trip)
# the reply is often queued already when chronyd first waits again (its handling of the
# transmit timestamp outlasts the round trip), which is a property of loopback, not of a
# daemon's timers: the figures are printed, but compare them with that in mind.
#
# Needs root (setpriv); never touches the system clock (chronyd -x; tr7ntpd clock = none).
set -u
TR7_SRCDIR=${TR7_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TR7_SRCDIR/test/system/lib.sh"
require_root
require_cmd chronyd setpriv
IDLE=${BENCH_IDLE_S:-60}
SETTLE=${BENCH_SETTLE_S:-30}
POLL=${BENCH_POLL:-6}

up_port=$(free_port)
start_chronyd up "local stratum 2
allow 127.0.0.0/8
port $up_port
bindaddress 127.0.0.1"
DELAY=${BENCH_PATH_DELAY:-0.005}
srv_port=$up_port
if awk -v d="$DELAY" 'BEGIN { exit !(d > 0) }'; then
  srv_port=$(free_port)
  "$PYTHON3" "$TR7_SRCDIR/contrib/bench/udprelay.py" 127.0.0.1 "$srv_port" 127.0.0.1 "$up_port" \
    --delay "$DELAY" --jitter 0 --duration $((SETTLE + IDLE + 60)) &
  T_PIDS+=("$!")
fi
start_chronyd client "server 127.0.0.1 port $srv_port iburst minpoll $POLL maxpoll $POLL"
chrony_pid=$CHRONYD_PID
start_tr7ntpd tr7 "[daemon]
clock = none
[sources]
server = 127.0.0.1 port $srv_port iburst minpoll $POLL maxpoll $POLL"
tr7_pid=$TR7_PID

# switches PID...: voluntary context switches of every thread of these processes.
switches() {
  local p t n=0
  for p in "$@"; do
    for t in /proc/"$p"/task/*/status; do
      n=$((n + $(sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "$t" 2>/dev/null || echo 0)))
    done
  done
  echo "$n"
}
tr7_pids() { echo "$tr7_pid" $(pgrep -P "$tr7_pid" 2>/dev/null); }

log "settling for $SETTLE s (poll $POLL, path delay $DELAY s each way)"
sleep "$SETTLE"
a0=$(switches $(tr7_pids))
b0=$(switches "$chrony_pid")
sleep "$IDLE"
a1=$(switches $(tr7_pids))
b1=$(switches "$chrony_pid")
threads=$(ls /proc/"$tr7_pid"/task | wc -l)
awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v s="$IDLE" -v th="$threads" 'BEGIN {
  printf "idle wake-ups over %d s (voluntary context switches, all threads):\n", s
  printf "  tr7ntpd  %6d  (%.1f per minute, %d threads)\n", a, a * 60 / s, th
  printf "  chronyd  %6d  (%.1f per minute)\n", b, b * 60 / s
  if (b > 0) printf "  ratio tr7ntpd/chronyd: %.2f\n", a / b
}'
