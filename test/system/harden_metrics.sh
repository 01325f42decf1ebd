#!/bin/bash
# Issue 19 item 1: a flood of connections to the [metrics] listener. The daemon runs
# privilege-separated with 128 descriptors (prlimit), so a listener without a connection
# cap runs out of them (EMFILE) within the first hundred connections. 3000 silent
# connections within 5 s (at most 800 open at once): fewer than 200 log lines about it;
# during the flood NTP, the control socket and admin commands (allow add, reload: the
# configuration comes from the helper as a descriptor) work; /metrics answers during and
# after it; helper and worker alive, the worker's descriptors back to their number.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv prlimit python3
ensure_test_user
TR7_PRIVSEP=1

port=$(free_port)
hport=$(free_tcp_port)
conf=$(ctl_daemon_conf "$port" "" "")
conf+=$'\n'"[metrics]"$'\n'"listen = 127.0.0.1:$hport"
start_tr7ntpd flood "$conf" prlimit --nofile=128 --
helper=$TR7_PID
worker=$(worker_pid_of "$helper")
logf=$T_DIR/flood.log
fds_before=$(ls "/proc/$worker/fd" | wc -l)
lines_before=$(wc -l <"$logf")
# get PATH: "STATUS CONTENT-TYPE" of a GET on the metrics port (5 s at most).
get() {
  $PYTHON3 - "$hport" "$1" <<'EOF'
import sys, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=5)
    body = r.read()
    print(r.status, r.headers.get("Content-Type"), len(body))
except Exception as e:
    print("error", e)
EOF
}
check "/metrics before the flood" bash -c "$(declare -f get); hport=$hport; PYTHON3=$PYTHON3; get /metrics | grep -q '^200 text/plain'"

$PYTHON3 "$TR7_SRCDIR/test/system/tcpflood.py" 127.0.0.1 "$hport" 3000 5 800 >"$T_DIR/tcpflood.out" 2>&1 &
flood=$!
T_PIDS+=("$flood")
sleep 1.5  # in the thick of it
check "during the flood: NTP answered" $NTPPROBE query 127.0.0.1 "$port"
check "during the flood: tracking" ctlc tracking
check "during the flood: allow add (admin)" ctlc allow add 198.51.100.0/24
check "during the flood: reload (a descriptor from the helper)" ctlc reload
during=$(get /metrics)
log "during the flood: /metrics: $during"
check "during the flood: /metrics answers" grep -q '^200 text/plain' <<<"$during"
wait "$flood"
log "flood: $(cat "$T_DIR/tcpflood.out")"
check "3000 connections were made within the time" grep -Eq 'opened=3000 failed=0 seconds=[0-5]\.' "$T_DIR/tcpflood.out"
check "after the flood: /metrics" bash -c "$(declare -f get); hport=$hport; PYTHON3=$PYTHON3; get /metrics | grep -q '^200 text/plain'"
check "after the flood: NTP answered" $NTPPROBE query 127.0.0.1 "$port"
check "after the flood: allow list has the rule" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' allow list | grep -q 198.51.100.0/24"
check "helper alive" kill -0 "$helper"
check "worker alive" kill -0 "$worker"
check "the helper channel was never broken" bash -c "! grep -q 'helper channel' '$logf'"
sleep 0.5
fds_after=$(ls "/proc/$worker/fd" | wc -l)
log "worker descriptors: $fds_before before, $fds_after after"
check "worker descriptors back to their number (+-2)" test "$fds_after" -le $((fds_before + 2))
lines=$(($(wc -l <"$logf") - lines_before))
about=$(tail -n +"$((lines_before + 1))" "$logf" | grep -Eci 'metrics|accept|libevent|open files|evhttp')
log "log lines during the flood: $lines in all, $about about it"
tail -n +"$((lines_before + 1))" "$logf" | grep -Ei 'metrics|accept|libevent|open files|evhttp' | head -n 5 | sed 's/^/#   /'
check "fewer than 200 log lines about the flood" test "$about" -lt 200
check "fewer than 200 log lines in all" test "$lines" -lt 200

finish
