#!/bin/bash
# Hardening of the two privilege-separated processes (issue 19), as root, with
# clock = none and without CAP_SYS_TIME in the bounding set (NOCLOCK):
#  * a descriptor inherited at start (fd 7 on /) is open in neither process (item 2);
#  * the helper's real uid is 0, so the worker's user cannot signal it (item 3);
#  * the worker is a new program image: not the helper's address layout (item 10);
#  * the worker can open no IPv4/IPv6 socket, bind nothing, and reach no abstract Unix
#    socket made outside its sandbox (item 6; test builds: forbidden-call hook).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv python3 pgrep
ensure_test_user
TR7_PRIVSEP=1

port=$(free_port)
uid=$(id -u "$TR7_TEST_USER")
conf=$(printf '[daemon]\nclock = none\nlog_level = debug\n[server]\nlisten = 127.0.0.1:%s\nlocal_stratum = 5\n' "$port")
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# fds_to PID TARGET: the descriptors of PID that point at TARGET (readlink), one a line.
fds_to() {
  local f
  for f in /proc/"$1"/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "$2" ] && echo "${f##*/}"
  done
  return 0
}

# --- item 2: inherited descriptors ---------------------------------------------------------
exec 7</
start_tr7ntpd fds "$conf"
exec 7<&-
helper=$TR7_PID
worker=$(worker_pid_of "$helper")
log "helper $helper fds: $(ls /proc/$helper/fd | tr '\n' ' ')"
log "worker $worker fds: $(ls /proc/$worker/fd | tr '\n' ' ')"
check "fd 7 (inherited, on /) is not open in the worker" test -z "$(fds_to "$worker" /)"
check "... nor in the helper" test -z "$(fds_to "$helper" /)"
check "the worker has no descriptor on a directory outside its root" \
  bash -c "for f in /proc/$worker/fd/*; do [ -d \"\$f\" ] || continue; t=\$(readlink \"\$f\"); case \$t in $(realpath "$T_DIR/fds.state")*) ;; *) echo \$t; exit 1;; esac; done"

# --- item 3: the helper's real uid -----------------------------------------------------------
check "helper uids are all 0 (real uid 0: the worker's user cannot signal it)" \
  test "$(field "$helper" Uid | tr -s '\t ' ' ')" = "0 0 0 0"
check "the worker's user cannot signal the helper (kill -0: EPERM)" \
  bash -c "! setpriv --reuid $uid --regid $uid --clear-groups -- kill -0 $helper 2>/dev/null"
check "helper still forwards SIGUSR1 to the worker (statistics)" stats_of "$helper" "$T_DIR/fds.log"

# --- item 10: the worker is a new program image ---------------------------------------------
# base MAP PID: the start address of the first mapping of MAP (a path or [stack]).
base() { awk -v m="$1" '$6 == m { split($1, a, "-"); print a[1]; exit }' "/proc/$2/maps"; }
exe=$(readlink "/proc/$helper/exe")
log "helper: $exe at $(base "$exe" "$helper"), stack $(base '[stack]' "$helper")"
log "worker: $(readlink "/proc/$worker/exe") at $(base "$exe" "$worker"), stack $(base '[stack]' "$worker")"
check "the worker runs the daemon's binary" test "$(readlink "/proc/$worker/exe")" = "$exe"
check "the binary is mapped elsewhere in the worker (re-executed, not only forked)" \
  test "$(base "$exe" "$worker")" != "$(base "$exe" "$helper")"
check "the stack too" test "$(base '[stack]' "$worker")" != "$(base '[stack]' "$helper")"
check "the worker's command line names only its descriptors" grep -q -- "--privsep-worker=" "/proc/$worker/cmdline"

kill -TERM "$helper"
check "clean stop" wait_for 10 gone "$helper"
check "the worker exited 0" grep -q "helper: worker (pid $worker) exited with status 0" "$T_DIR/fds.log"

# --- item 6: no IP sockets, no bind, no abstract Unix sockets from outside ------------------
if "$TR7NTPD" --version | grep -q "test hooks"; then
  for call in socket-udp socket-udp6 socket-tcp bind; do
    TR7_TEST_FORBIDDEN_CALL=$call start_tr7ntpd "forbid-$call" "$conf"
    h=$TR7_PID
    w=$(worker_pid_of "$h")
    kill -USR2 "$w"
    check "$call: worker and helper gone" wait_for 5 bash -c "! kill -0 $h 2>/dev/null && ! kill -0 $w 2>/dev/null"
    check "$call: worker killed by SIGSYS" grep -q "worker (pid $w) killed by signal 31" "$T_DIR/forbid-$call.log"
  done
  # An abstract socket made here, outside the worker's Landlock domain.
  name="tr7-abstract-$$"
  $PYTHON3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind("\0"+sys.argv[1]); s.listen(4); time.sleep(30)' "$name" &
  T_PIDS+=($!)
  sleep 0.3
  check "the test's abstract socket is reachable from here"     $PYTHON3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect("\0"+sys.argv[1])' "$name"
  TR7_TEST_FORBIDDEN_CALL="abstract-unix:$name" start_tr7ntpd forbid-abstract "$conf"
  h=$TR7_PID
  w=$(worker_pid_of "$h")
  kill -USR2 "$w"
  check "abstract-unix: the worker's connect is refused (EPERM)" \
    wait_for 5 grep -q "forbidden call 'abstract-unix:$name' was NOT blocked (1): refused with EPERM" "$T_DIR/forbid-abstract.log"
  check "abstract-unix: the worker is still alive" kill -0 "$w"
  kill -TERM "$h"
  wait_for 10 bash -c "! kill -0 $h 2>/dev/null"
  # Client sockets come from the helper: a source is polled and answers.
  up=$(free_port)
  $PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.1 "$up" >"$T_DIR/fake.log" 2>&1 &
  T_PIDS+=($!)
  start_tr7ntpd client "$conf
[sources]
server = 127.0.0.1 port $up iburst minpoll -2 maxpoll 0 burst_interval 0.25"
  check "a source is polled through helper sockets and synchronises" \
    wait_for 15 bash -c "'$TR7NTPC' -s '$T_DIR/client.sock' -n sources | grep -Eq '^\^\*'"
  log "sources: $("$TR7NTPC" -s "$T_DIR/client.sock" -n sources | tail -n 1)"
  check "the helper opens them (after the first, made before the sandbox)" \
    wait_for 10 grep -q "helper: opened UDP socket 0.0.0.0:0 for the worker" "$T_DIR/client.log"
  kill -TERM "$TR7_PID"
  wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"
  # Item 4: the helper keeps its clock budget in the audit directory, under its filter.
  TR7_TEST_SAVE_BUDGET=1 start_tr7ntpd budget "$conf"
  check "the helper saved its clock budget under its filter" wait_for 5 test -s "$T_DIR/budget.state/audit/clock-budget"
  check "... root's, with the boot id" bash -c "test \"\$(stat -c %u '$T_DIR/budget.state/audit/clock-budget')\" = 0 && grep -q \"^boot \$(cat /proc/sys/kernel/random/boot_id)\" '$T_DIR/budget.state/audit/clock-budget'"
  check "... and is alive" kill -0 "$TR7_PID"
  kill -TERM "$TR7_PID"
fi


finish
