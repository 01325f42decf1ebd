#!/bin/bash
# The compliance history of a daemon with no NTP clients of its own: no interval timer
# wakes it (the NTP client's events close the intervals), yet every interval is written,
# on the grid (each S1 line starts where the one before ended), wholly observed, and the
# last, partial one at exit.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv
FAKE="$PYTHON3 $TR7_SRCDIR/test/system/fakentp.py"
up=$(free_port)
$FAKE 127.0.0.2 "$up" >"$T_DIR/up.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 $NTPPROBE query 127.0.0.2 "$up" --timeout 0.3 || die "fake upstream not answering"
start_tr7ntpd h "[daemon]
clock = none
[sources]
server = 127.0.0.2 port $up iburst minpoll 0 maxpoll 1
[history]
interval = 3"
sleep 11
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID" || die "did not stop"
state=$(sed -n 's/^state_dir = //p' "$T_DIR/h.conf")
cat "$state"/history/sync-* | sed 's/^/# /'
lines=$(cat "$state"/history/sync-* | grep -c '^S1 ')
[ "$lines" -ge 4 ] && pass "$lines intervals written in 11 s of 3 s intervals" || fail "only $lines intervals written"
if cat "$state"/history/sync-* | awk '
    NR > 1 && $2 != prev_end { bad = 1 }
    { prev_end = $2 + $3 }
    $3 == 3 && $4 < 2990 { bad = 1 }   # a whole interval: observed all through (ms rounding)
    END { exit bad }'; then
  pass "each interval starts where the one before ended; whole ones observed for 3 s"
else
  fail "intervals off the grid or not wholly observed"
fi
finish
