#!/bin/bash
# Every bad input of THREATS.md §2c against the control socket (test/system/ctlprobe.py:
# over-long lines, NUL and binary junk, invalid UTF-8, bare CR, a TLS ClientHello,
# unknown commands, wrong arguments, pipelining, half-close, 1 byte every 10 s, a client
# that never reads, more connections than the limit), while NTP is queried all along:
# NTP keeps answering, with no added latency, and fds and memory return to baseline.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq

port=$(free_port)
# In sanitizer builds, LeakSanitizer checks this daemon at its exit (below).
saved_asan=$ASAN_OPTIONS
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
start_tr7ntpd d "$(ctl_daemon_conf "$port" "monitor_group = nogroup")"
export ASAN_OPTIONS=$saved_asan
pid=$TR7_PID
# ASan's allocator keeps freed memory in quarantine: RSS is not a leak measure there.
rss_limit_kb=4096
grep -q asan "/proc/$pid/maps" && rss_limit_kb=$((128 * 1024))
fds() { ls "/proc/$pid/fd" | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

# Warm up (first replies allocate), then take the baseline.
ctlc timezone list >/dev/null
ctlc metrics >/dev/null
$NTPPROBE query 127.0.0.1 "$port" >/dev/null || die "no NTP answer"
fd0=$(fds)
rss0=$(rss_kb)

# NTP queries all through the attack: one every 50 ms (bounded to 60 s).
$CTLPROBE ntploop 127.0.0.1 "$port" "$T_DIR/stop" --interval 0.05 --max-seconds 60 >"$T_DIR/ntp.json" &
loop_pid=$!

$CTLPROBE badinput "$T_DIR/ctl.sock" --max-conns 24 --line-limit 1024 >"$T_DIR/probe.json"  # root: 16 + 4 admin + 4 root slots
rc=$?
cat "$T_DIR/probe.json"
check "every bad input handled as specified" test "$rc" = 0
touch "$T_DIR/stop"
wait "$loop_pid"

log "NTP during the attack: $(cat "$T_DIR/ntp.json")"
sent=$(jq .sent "$T_DIR/ntp.json")
lost=$(jq .lost "$T_DIR/ntp.json")
maxd=$(jq .max_delay "$T_DIR/ntp.json")
check "NTP answered every query during the attack ($sent sent, $lost lost)" test "$lost" = 0 -a "$sent" -ge 100
meand=$(jq .mean_delay "$T_DIR/ntp.json")
# A blocked loop would show as delays of seconds; the bounds leave room for a loaded
# 2-core machine and sanitizer builds.
check "NTP never stalled (max delay ${maxd} s < 0.25 s)" python3 -c "import sys; sys.exit(0 if float('$maxd') < 0.25 else 1)"
check "NTP delay stayed small (mean ${meand} s < 0.01 s)" python3 -c "import sys; sys.exit(0 if float('$meand') < 0.01 else 1)"

# Back to baseline (the reaper runs on the next loop turn; give it a moment).
wait_until 5 '[ "$(fds)" -le "$fd0" ]'
fd1=$(fds)
rss1=$(rss_kb)
log "fds $fd0 -> $fd1, RSS ${rss0} kB -> ${rss1} kB"
check "fds back to baseline ($fd0 -> $fd1)" test "$fd1" -le "$fd0"
check "memory back near baseline (+$((rss1 - rss0)) kB < $rss_limit_kb kB)" test $((rss1 - rss0)) -lt "$rss_limit_kb"
check "control socket still answers" ctlc tracking
check "still answers NTP" $NTPPROBE query 127.0.0.1 "$port"
kill -TERM "$pid"
wait "$pid"
rc=$?
check "daemon exits cleanly (status $rc; no leak report in sanitizer builds)" test "$rc" = 0
check "no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T_DIR/d.log'"
finish
