#!/bin/bash
# Issue 19 item 11: a clock stepped from outside the daemon, and a suspend. No test may
# step the real clock: test builds read TR7_TEST_CLOCK_JUMP_FILE ("REAL_S BOOT_S") and
# add it to the clock-jump watcher's readings of CLOCK_REALTIME and CLOCK_BOOTTIME only.
#  * synchronised to a fake upstream, nothing is detected while the daemon runs on;
#  * REALTIME +100 s: detected within 2 s, logged, audited ("external clock step"; the
#    client's ensemble follows the common jump of its sources);
#  * BOOTTIME +3600 s (MONOTONIC not): a suspend: detected, audited, the source's samples
#    discarded (its reach starts over) and a burst resynchronises it.
. "$(dirname "$0")/lib.sh"
require_cmd python3 jq
"$TR7NTPD" --version | grep -q "test hooks" || skip "not a test-hooks build (configure --enable-test-hooks)"

port=$(free_port)
up=$(free_port)
$PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.1 "$up" >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
jump=$T_DIR/jump
export TR7_TEST_CLOCK_JUMP_FILE=$jump
start_tr7ntpd j "$(ctl_daemon_conf "$port" "log_level = debug")
[sources]
server = 127.0.0.1 port $up iburst minpoll 2 maxpoll 2"
synced() { "$TR7NTPC" -s "$T_DIR/ctl.sock" -n sources | grep -Eq '^\^\*'; }
check "synchronised to the fake upstream" wait_for 20 synced
sleep 2
check "nothing detected while nothing happened" bash -c "! grep -q 'from outside\|suspended for' '$T_DIR/j.log'"
reach() { "$TR7NTPC" -s "$T_DIR/ctl.sock" --json sources | jq -r '.[0].reach'; }

echo "100 0" >"$jump"
check "REALTIME +100 s: detected within 2 s" wait_for 2 grep -q 'CLOCK_REALTIME was stepped by +100.0' "$T_DIR/j.log"
check "... audited" wait_for 2 grep -q '"command":"external clock step","before":"","after":"step_s=100.0' "$T_DIR/state/audit/audit.log"
check "... once" test "$(grep -c 'was stepped by' "$T_DIR/j.log")" = 1
sleep 2
before=$(reach)
log "reach before the suspend: $before"

echo "100 3600" >"$jump"
check "BOOTTIME +3600 s: a suspend, detected" wait_for 2 grep -q 'suspended for 3600.0 s' "$T_DIR/j.log"
check "... audited" wait_for 2 grep -q '"command":"suspend detected"' "$T_DIR/state/audit/audit.log"
r=$(reach)
log "reach just after: $r"
check "... the source starts over (reach $r, was $before)" test "$r" -lt "$before"
check "... resynchronised (burst)" wait_for 15 synced
check "NTP still answered" $NTPPROBE query 127.0.0.1 "$port"

finish
