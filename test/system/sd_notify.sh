#!/bin/bash
# systemd readiness (Type=notify) and the order of what is reported: tr7ntpd under a
# NOTIFY_SOCKET listener (notifylisten.py, a path socket and an abstract one) with its
# only source (fakentp.py) down: READY=1 within 5 s with STATUS=unsynchronised; the
# source comes up: STATUS=synchronised within 10 s. The served state never lags what is
# reported: a probe sent as soon as STATUS says synchronised, or as soon as
# `tr7ntpc waitsync` returns, gets LI != 3 (it used to get LI=3 for ~0.2 s).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv

FAKE="$TR7_SRCDIR/test/system/fakentp.py"
LISTEN="$TR7_SRCDIR/test/system/notifylisten.py"
up_port=$(free_port)
our_port=$(free_port)

probe_leap() {
  $NTPPROBE query 127.0.0.1 "$our_port" --timeout 0.5 |
    $PYTHON3 -c 'import json,sys; print(json.load(sys.stdin).get("leap", "none"))'
}
conf() {
  printf '[daemon]\nclock = none\nstate_dir = %s/%s.state\ncontrol_socket = %s/%s.sock\n' "$T_DIR" "$1" "$T_DIR" "$1"
  printf '[server]\nlisten = 127.0.0.1:%s\n' "$our_port"
  printf '[discipline]\ndrift_file = none\n'
  printf '[sources]\nserver = 127.0.0.1 port %s iburst minpoll -2 maxpoll 0 burst_interval 0.25\n' "$up_port"
}
# run NAME NOTIFY_SOCKET_NAME: one daemon, one upstream coming up late.
run() {
  local name=$1 sock=$2 out="$T_DIR/$1.notify" t0 fake_pid
  mkdir -p "$T_DIR/$name.state"
  $PYTHON3 "$LISTEN" "$sock" "$out" >"$T_DIR/$name.listener.log" 2>&1 &
  T_PIDS+=($!)
  wait_for 5 grep -q LISTENING "$out" || die "$name: listener did not start"
  t0=$(date +%s.%N)
  start_tr7ntpd "$name" "$(conf "$name")" env NOTIFY_SOCKET="$sock"
  check "$name: READY=1 within 5 s, source down" wait_for 5 grep -q 'READY=1' "$out"
  ready_at=$(awk '/READY=1/ { print $1; exit }' "$out")
  log "$name: READY=1 $($PYTHON3 -c "print('%.3f' % ($ready_at - $t0))") s after the start"
  check "$name: READY=1 comes with STATUS=unsynchronised" grep -q 'READY=1|STATUS=unsynchronised' "$out"
  check "$name: served LI=3 meanwhile" test "$(probe_leap)" = 3
  sleep 1
  # waitsync in the background, then the upstream: the probe right after waitsync returns.
  ( "$TR7NTPC" -s "$T_DIR/$name.sock" waitsync --timeout 20 --interval 0.05 >/dev/null 2>&1 &&
    probe_leap >"$T_DIR/$name.after_waitsync" ) &
  local ws=$!
  t1=$(date +%s.%N)
  $PYTHON3 "$FAKE" 127.0.0.1 "$up_port" >"$T_DIR/$name.fake.log" 2>&1 &
  fake_pid=$!
  T_PIDS+=($fake_pid)
  check "$name: STATUS=synchronised within 10 s of the source coming up" \
    wait_for 10 grep -q 'STATUS=synchronised to 127.0.0.1' "$out"
  # A probe as soon as the listener saw it.
  check "$name: probe right after STATUS=synchronised: LI != 3" test "$(probe_leap)" != 3
  sync_at=$(awk '/STATUS=synchronised/ { print $1; exit }' "$out")
  log "$name: STATUS=synchronised $($PYTHON3 -c "print('%.3f' % ($sync_at - $t1))") s after the source came up"
  wait "$ws"
  check "$name: waitsync returned" test -s "$T_DIR/$name.after_waitsync"
  check "$name: probe right after waitsync returned: LI != 3 (got $(cat "$T_DIR/$name.after_waitsync" 2>/dev/null))" \
    test "$(cat "$T_DIR/$name.after_waitsync" 2>/dev/null)" = 0
  # The source goes away again: READY stays, the state is reported honestly at stop.
  kill -TERM "$fake_pid"
  kill -TERM "$TR7_PID"
  wait_for 10 grep -q 'STOPPING=1' "$out"
  check "$name: STOPPING=1 at stop" grep -q 'STOPPING=1' "$out"
  check "$name: exactly one READY=1" test "$(grep -c 'READY=1' "$out")" = 1
}

run path "$T_DIR/notify.sock"
run abstract "@tr7-notify-test-$$"
finish
