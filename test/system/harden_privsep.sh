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

finish
