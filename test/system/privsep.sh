#!/bin/bash
# Privilege separation, as root, with clock = none and without CAP_SYS_TIME in the
# bounding set (NOCLOCK), so the real clock is safe whatever happens:
#  * two processes; the worker has no capabilities, NoNewPrivs 1, Seccomp 2 (filter), a
#    non-root uid, and the state directory as its root; the helper keeps only
#    CAP_NET_BIND_SERVICE and CAP_SYS_ADMIN (CAP_SYS_TIME is neither wanted with
#    clock = none nor in the bounding set);
#  * NTP service works through the sandbox (a raw exchange, the bad-input suite, and
#    chronyd -x synchronising to it), reload (the helper opens the configuration for the
#    chrooted worker), statistics, a clean stop that saves the clock;
#  * a saved clock newer than the system clock is found at start (and, clock = none,
#    not applied);
#  * test builds: a forbidden call in the worker (clock_settime, execve, ...) kills it
#    with SIGSYS, and the helper then exits;
#  * the helper killed -> the worker exits; the worker killed -> the helper exits;
#  * the state directory: -d as root and privsep starts alternate on one directory (the
#    privsep start repairs what root left); owned by another user or world-writable:
#    refused with the fix; user root: refused.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv python3 pgrep
ensure_test_user
TR7_PRIVSEP=1

port=$(free_port)
uid=$(id -u "$TR7_TEST_USER")
# make_conf [DAEMON_LINES]: the configuration of every daemon here.
make_conf() {
  printf '[daemon]\nclock = none\nlog_level = debug\n%s\n[server]\nlisten = 127.0.0.1:%s\nallow = 127.0.0.0/8, 10.99.0.0/24\nlocal_stratum = 5\n' \
    "${1:-}" "$port"
}
conf=$(make_conf)

status_of() { grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "/proc/$1/status"; }
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# --- the two processes and their sandboxes -------------------------------------------
start_tr7ntpd main "$conf"
helper=$TR7_PID
state=$(realpath "$T_DIR/main.state")
wait_until 5 '[ -n "$(worker_pid_of "$helper")" ]' || die "no worker process"
worker=$(worker_pid_of "$helper")
children=$(pgrep -P "$helper" | wc -l)
check "exactly two processes (helper $helper, worker $worker)" test "$children" -eq 1
check "no grandchildren" test -z "$(pgrep -P "$worker")"
log "helper /proc/$helper/status:"
status_of "$helper" | sed 's/^/#   /'
log "worker /proc/$worker/status:"
status_of "$worker" | sed 's/^/#   /'
log "worker root: $(readlink "/proc/$worker/root")"

check "worker CapEff is 0" test "$(field "$worker" CapEff)" = 0000000000000000
check "worker CapPrm is 0" test "$(field "$worker" CapPrm)" = 0000000000000000
check "worker CapBnd is 0" test "$(field "$worker" CapBnd)" = 0000000000000000
check "worker CapAmb is 0" test "$(field "$worker" CapAmb)" = 0000000000000000
check "worker NoNewPrivs is 1" test "$(field "$worker" NoNewPrivs)" = 1
check "worker Seccomp is 2 (filter)" test "$(field "$worker" Seccomp)" = 2
check "worker uids are all $uid (not root)" test "$(field "$worker" Uid | tr -s '\t ' ' ')" = "$uid $uid $uid $uid"
check "worker has no supplementary groups" test -z "$(field "$worker" Groups | tr -d ' \t')"
check "worker root is the state directory" test "$(readlink "/proc/$worker/root")" = "$state"
# CAP_KILL (5), CAP_NET_BIND_SERVICE (10) and CAP_SYS_ADMIN (21); CAP_SYS_TIME (25) is
# not in the bounding set the test started it with, and clock = none does not ask for it.
check "helper CapEff is kill+net_bind_service+sys_admin only" test "$(field "$helper" CapEff)" = 0000000000200420
check "helper CapPrm is the same" test "$(field "$helper" CapPrm)" = 0000000000200420
check "helper CapBnd is the same" test "$(field "$helper" CapBnd)" = 0000000000200420
check "helper CapInh/CapAmb are 0" test "$(field "$helper" CapInh)$(field "$helper" CapAmb)" = \
  00000000000000000000000000000000
check "helper NoNewPrivs is 1" test "$(field "$helper" NoNewPrivs)" = 1
check "helper Seccomp is 2 (its own filter)" test "$(field "$helper" Seccomp)" = 2
check "helper uids are all 0 (the worker's user cannot signal it)" \
  test "$(field "$helper" Uid | tr -s '\t ' ' ')" = "0 0 0 0"

# --- NTP through the sandbox -------------------------------------------------------------
reply=$($NTPPROBE query 127.0.0.1 "$port") || fail "no NTP reply"
check "NTP reply from the sandboxed worker (stratum 5)" \
  $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["stratum"]==5 and r["origin_ok"] else 1)' "$reply"
check "bad-input suite passes under the filter" $NTPPROBE badinput 127.0.0.1 "$port"
check "worker still alive after the bad-input suite" kill -0 "$worker"

if command -v chronyd >/dev/null 2>&1; then
  start_chronyd client "server 127.0.0.1 port $port iburst minpoll 0 maxpoll 1"
  synced() { $CHRONYC tracking 2>/dev/null | grep -q '^Leap status *: Normal'; }
  if wait_for 40 synced; then
    pass "chronyd -x synchronised to the privilege-separated tr7ntpd"
    $CHRONYC tracking | grep -E '^(Reference ID|Stratum|System time)' | sed 's/^/#   /'
  else
    fail "chronyd -x did not synchronise"
    $CHRONYC sources 2>&1 | sed 's/^/#   /'
  fi
  kill "$CHRONYD_PID" 2>/dev/null
fi

# --- signals through the helper: statistics, reload, stop --------------------------------
stats=$(stats_of "$helper" "$T_DIR/main.log") || fail "no statistics after SIGUSR1 to the helper"
check "statistics count the requests" test "$(stat_value "$stats" received)" -gt 0
kill -HUP "$helper"
check "reload through the helper (configuration reopened for the chroot)" \
  wait_for 5 grep -q "configuration reloaded" "$T_DIR/main.log"
kill -TERM "$helper"
check "helper exits after SIGTERM" wait_for 10 gone "$helper"
check "worker exits after SIGTERM" wait_for 10 gone "$worker"
check "the worker stopped cleanly" grep -q "helper: worker (pid $worker) exited with status 0" "$T_DIR/main.log"
check "clock saved at exit" test -f "$state/saved-clock"
check "saved clock owned by the worker's user" test "$(stat -c %u "$state/saved-clock")" = "$uid"
saved_ns=$(sed -n 's/^tr7ntp-clock 1 \([0-9]*\)$/\1/p' "$state/saved-clock")
now_ns=$(date +%s%N)
check "saved clock is the time of the stop" \
  $PYTHON3 -c 'import sys; sys.exit(0 if abs(int(sys.argv[1]) - int(sys.argv[2])) < 60e9 else 1)' "${saved_ns:-0}" "$now_ns"
check "no temporary file left" test ! -e "$state/saved-clock.tmp"

# --- a saved clock newer than the system clock (clock = none: found, never applied) ------
future=$(( $(date +%s) + 86400 ))
printf 'tr7ntp-clock 1 %s000000000\n' "$future" >"$state/saved-clock"
chown "$TR7_TEST_USER:" "$state/saved-clock"
before=$(date +%s)
start_tr7ntpd future "$(make_conf "state_dir = $state")"
check "start-up finds the system clock before the saved clock, does not step (clock = none)" \
  grep -q "before .*clock = none: not stepped (would step +86" "$T_DIR/future.log"
after=$(date +%s)
check "the real clock did not move" test $((after - before)) -lt 30 -a $((after - before)) -ge 0
kill -TERM "$TR7_PID"
wait_for 10 gone "$TR7_PID"

# --- a corrupt saved clock is ignored ----------------------------------------------------
printf 'tr7ntp-clock 1 garbage\n' >"$state/saved-clock"
start_tr7ntpd corrupt "$(make_conf "state_dir = $state")"
check "corrupt saved clock reported and ignored" grep -q "saved clock .* is corrupt: ignored" "$T_DIR/corrupt.log"
kill -TERM "$TR7_PID"
wait_for 10 gone "$TR7_PID"

# --- forbidden calls kill the worker, then the helper exits -------------------------------
if "$TR7NTPD" --version | grep -q "test hooks"; then
  for call in clock_settime adjtimex settimeofday execve ptrace socket-raw socket-packet; do
    TR7_TEST_FORBIDDEN_CALL=$call start_tr7ntpd "forbid-$call" "$conf"
    h=$TR7_PID
    w=$(worker_pid_of "$h")
    kill -USR2 "$w"
    if wait_for 5 gone "$h" && gone "$w"; then
      pass "$call: worker and helper gone"
    else
      fail "$call: still running (helper $h, worker $w)"
    fi
    check "$call: worker killed by SIGSYS, helper exited" \
      grep -q "worker (pid $w) killed by signal 31" "$T_DIR/forbid-$call.log"
    check "$call: the call never returned" bash -c "! grep -q 'NOT blocked' '$T_DIR/forbid-$call.log'"
  done
else
  log "not a test-hooks build (configure --enable-test-hooks): forbidden-call checks skipped"
fi

# --- the broker: a socket bound to port 123 inside a network namespace ------------------
if "$TR7NTPD" --version | grep -q "test hooks" && command -v ip >/dev/null 2>&1; then
  ns="tr7ps$$"
  add_netns "$ns"
  ip -n "$ns" addr add 10.99.0.1/32 dev lo || die "cannot add an address in $ns"
  TR7_TEST_BROKER="$ns 10.99.0.1:123" start_tr7ntpd broker "$conf"
  h=$TR7_PID
  kill -USR2 "$(worker_pid_of "$h")"
  check "helper opened 10.99.0.1:123 in netns $ns" \
    wait_for 5 grep -q "helper: opened UDP socket 10.99.0.1:123 in netns $ns" "$T_DIR/broker.log"
  # The helper logs before it sends the socket, the worker after it receives it: wait for both.
  check "worker serves on it" wait_for 5 grep -q "test hook: serving on 10.99.0.1:123 in netns $ns" "$T_DIR/broker.log"
  reply=$(ip netns exec "$ns" $PYTHON3 "$TR7_SRCDIR/test/system/ntpprobe.py" query 10.99.0.1 123) || fail "no reply in $ns"
  check "NTP reply inside the namespace, port 123, from the sandboxed worker" \
    $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["stratum"]==5 else 1)' "${reply:-{\}}"
  check "the main namespace has no such socket" bash -c "! ss -uln | grep -q '10.99.0.1:123'"
  kill -TERM "$h"
  wait_for 10 gone "$h"
fi

# --- either process dies, the other follows ----------------------------------------------
start_tr7ntpd killhelper "$conf"
h=$TR7_PID
w=$(worker_pid_of "$h")
kill -KILL "$h"
check "helper killed: the worker exits" wait_for 5 gone "$w"
check "worker noticed the helper's exit" grep -q "privileged helper has exited" "$T_DIR/killhelper.log"

start_tr7ntpd killworker "$conf"
h=$TR7_PID
w=$(worker_pid_of "$h")
kill -KILL "$w"
check "worker killed: the helper exits" wait_for 5 gone "$h"
check "helper reported the worker's death" grep -q "worker (pid $w) killed by signal 9" "$T_DIR/killworker.log"

# --- start-up refusals -------------------------------------------------------------------
# The state directory: a one-process run as root (-d) and a privilege-separated start
# alternate on one fresh directory without a chown by hand; anything suspicious is refused
# with the command that fixes it.
port=$(free_port)
alt="$T_DIR/alternate"
# run_alt MODE LOG: starts tr7ntpd on alt.conf directly (not through start_tr7ntpd, which
# would prepare the state directory itself) and waits until it has started.
run_alt() {
  "${NOCLOCK[@]}" "$TR7NTPD" "$1" ${2:+-e} -f "$T_DIR/alt.conf" >"$T_DIR/$3.log" 2>&1 &
  ALT_PID=$!
  T_PIDS+=("$ALT_PID")
  wait_for 10 grep -q "started:" "$T_DIR/$3.log"
}
stop_alt() {
  kill -TERM "$ALT_PID"
  wait "$ALT_PID" 2>/dev/null
}
alt_conf() { make_conf "state_dir = $alt
control_socket = $T_DIR/alt.sock
user = $TR7_TEST_USER"; }
alt_conf >"$T_DIR/alt.conf"
check "-d as root on a fresh state directory" run_alt -d "" alt-d1
wait_for 5 test -f "$alt/saved-clock" -o -d "$alt/audit"
stop_alt
check "-d as root left root-owned files (what the next start must repair)" \
  test -n "$(find "$alt" -user root | head -n 1)"
check "privsep start after -d" run_alt -n e alt-p1
check "  repaired it, no chown by hand" grep -q "state_dir $alt: .*given to $TR7_TEST_USER" "$T_DIR/alt-p1.log"
check "  nothing in it owned by root any more but the audit directory" \
  test -z "$(find "$alt" -path "$alt/audit" -prune -o -user root -print | head -n 1)"
check "  the audit directory is root's, group the worker's, 2750" test "$(stat -c '%U %G %a' "$alt/audit")" = "root $(id -gn "$TR7_TEST_USER") 2750"
check "  the worker is sandboxed" grep -q '^Seccomp:[[:space:]]*2' "/proc/$(worker_pid_of "$ALT_PID")/status"
stop_alt
check "-d again after privsep" run_alt -d "" alt-d2
stop_alt
check "privsep again after -d" run_alt -n e alt-p2
stop_alt

mkdir -p "$T_DIR/otherowned"
chown nobody "$T_DIR/otherowned"
make_conf "state_dir = $T_DIR/otherowned
control_socket = $T_DIR/bad.sock
user = $TR7_TEST_USER" >"$T_DIR/bad.conf"
out=$("${NOCLOCK[@]}" "$TR7NTPD" -n -e -f "$T_DIR/bad.conf" 2>&1)
rc=$?
check "state directory owned by another user: refused (exit 1)" test "$rc" -eq 1
check "  with the command that fixes it" grep -q "is owned by uid $(id -u nobody), not by $TR7_TEST_USER .*chown -R $TR7_TEST_USER: $T_DIR/otherowned" <<<"$out"
mkdir -p "$T_DIR/open"
chmod 0777 "$T_DIR/open"
sed "s|otherowned|open|" "$T_DIR/bad.conf" >"$T_DIR/open.conf"
out=$("${NOCLOCK[@]}" "$TR7NTPD" -n -e -f "$T_DIR/open.conf" 2>&1)
rc=$?
check "state directory writable by everyone: refused (exit 1)" test "$rc" -eq 1
check "  with the command that fixes it" grep -q "writable by everyone: chmod 0750" <<<"$out"
make_conf "user = root" >"$T_DIR/root.conf"
out=$("$TR7NTPD" --check-config -f "$T_DIR/root.conf" 2>&1)
rc=$?
check "user = root: configuration refused" test "$rc" -eq 1
check "  because the worker must not run as root" grep -q "must not run as root" <<<"$out"

finish
