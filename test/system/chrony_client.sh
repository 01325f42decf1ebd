#!/bin/bash
# Interop with a real NTP client: chronyd -x (never touches the clock) configured with
# `server 127.0.0.1 port N iburst` synchronises to tr7ntpd serving local_stratum N: its
# tracking shows our address and stratum N+1. Without local_stratum our replies say
# "unsynchronised" and chronyd must refuse us.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd chronyc setpriv

# --- synchronised server: chronyd follows us
p=$(free_port)
start_tr7ntpd srv "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p
local_stratum = 4"
start_chronyd client "server 127.0.0.1 port $p iburst"
synced() { $CHRONYC tracking 2>/dev/null | grep -q '^Leap status *: Normal'; }
if wait_for 30 synced; then
  pass "chronyd synchronised to tr7ntpd"
else
  fail "chronyd did not synchronise"
  $CHRONYC -n sources
fi
t=$($CHRONYC tracking)
echo "$t" | sed 's/^/#   /'
grep -q '^Reference ID *: 7F000001 ' <<<"$t" && pass "reference is 127.0.0.1" || fail "reference ID"
grep -q '^Stratum *: 5$' <<<"$t" && pass "chronyd at stratum 4+1" || fail "stratum"
$CHRONYC -n sources | grep -q '^\^\* 127.0.0.1 *4 ' && pass "source selected ('^*'), stratum 4" || fail "sources"
# chronyd's view of our time: the offset it measured is tiny (same clock, loopback).
off=$($CHRONYC -c sourcestats | awk -F, '$1 == "127.0.0.1" {print $7}')
$PYTHON3 -c "import sys; sys.exit(0 if abs(float('$off')) < 1e-3 else 1)" 2>/dev/null &&
  pass "measured offset ${off} s < 1 ms" || fail "offset $off"
s=$(stats_of "$TR7_PID" "$T_DIR/srv.log")
[ "$(stat_value "$s" answered)" -ge 3 ] && pass "server answered $(stat_value "$s" answered) requests" || fail "stats: $s"

# --- unsynchronised server: chronyd must refuse it
p2=$(free_port)
start_tr7ntpd unsync "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p2"
UNSYNC_PID=$TR7_PID
start_chronyd client2 "server 127.0.0.1 port $p2 iburst minpoll -1 maxpoll 0"
# Give it a full iburst plus several polls.
sleep 10
t=$($CHRONYC tracking)
grep -q '^Leap status *: Not synchronised' <<<"$t" && pass "chronyd stays unsynchronised" || fail "chronyd accepted an unsynchronised server: $t"
grep -q '^Reference ID *: 00000000' <<<"$t" && pass "no reference" || fail "reference set: $t"
$CHRONYC -n sources | grep -q '^\^\* ' && fail "source selected" || pass "source not selected"
s=$(stats_of "$UNSYNC_PID" "$T_DIR/unsync.log")
[ "$(stat_value "$s" answered)" -ge 3 ] && pass "it did get (LI=3) answers: $(stat_value "$s" answered)" || fail "no answers: $s"
finish
