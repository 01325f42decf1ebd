# Shared helpers for the system tests (sourced by each test script, bash).
#
# Conventions (automake): exit 0 pass, 1 fail, 77 skip, 99 hard error.
# Every daemon runs under setpriv without CAP_SYS_TIME in its bounding set, so that not
# even a bug can change the real clock. Everything a test starts is killed on exit, and
# the network namespaces it creates are deleted.

set -u
TR7NTPD=${TR7NTPD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/daemon/tr7ntpd}
TR7_SRCDIR=${TR7_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TR7_BUILDDIR=${TR7_BUILDDIR:-$TR7_SRCDIR}
# /usr/bin/python3 first: a python3 shim on PATH (pyenv) can take seconds to start.
PYTHON3=$(command -v /usr/bin/python3 || command -v python3)
NTPPROBE="$PYTHON3 $TR7_SRCDIR/test/system/ntpprobe.py"
NOCLOCK=(setpriv --bounding-set -sys_time --inh-caps -sys_time --)
# Sanitizer builds: leak reports at exit are not what these tests check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/tr7-${T_NAME}.XXXXXX")
chmod 755 "$T_DIR"
T_PIDS=()
T_NETNS=()
T_FAILED=0

log() { printf '# %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*"
  T_FAILED=1
}
die() {
  printf 'FAIL: %s\n' "$*"
  exit 1
}
skip() {
  printf 'SKIP: %s\n' "$*"
  exit 77
}
pass() { printf 'ok: %s\n' "$*"; }

# check DESCRIPTION COMMAND...: runs the command, records pass/fail.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

cleanup() {
  local rc=$?
  local p
  for p in "${T_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${T_PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
  done
  local ns
  for ns in "${T_NETNS[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$rc" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
    log "logs kept in $T_DIR"
    for f in "$T_DIR"/*.log; do
      [ -f "$f" ] || continue
      echo "----- $f (last 40 lines)"
      tail -n 40 "$f"
    done
  else
    rm -rf "$T_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 99' INT TERM

finish() {
  if [ "$T_FAILED" -ne 0 ]; then exit 1; fi
  exit 0
}

require_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
require_cmd() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "$c not installed"; done
}

# A free UDP port on loopback (racy in theory; the tests use distinct ranges anyway).
free_port() {
  $PYTHON3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for TIMEOUT_S COMMAND...: polls every 0.1 s until the command succeeds.
wait_for() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
  return 0
}
# wait_until TIMEOUT EXPR: like wait_for, but the shell expression EXPR (for example
# '[ "$(f)" -gt "$n" ]', in single quotes) is evaluated anew each time. Beware of
# `wait_for N test "$(f)" -gt "$n"`: the shell expands "$(f)" once, before the first try.
wait_until() {
  local __timeout=$1
  shift
  wait_for "$__timeout" eval "$1"
}

# Privilege separation: with TR7_PRIVSEP=1 every tr7ntpd a test starts runs as it does in
# production when started as root: a privileged helper and a sandboxed worker (chroot,
# no capabilities, seccomp), in the foreground with the log on stderr (-n -e) instead of
# -d. The worker runs as TR7_TEST_USER (created with useradd --system if missing) in the
# state directory $T_DIR/NAME.state, unless the configuration names one. TR7_PID is the
# helper (it forwards SIGTERM/SIGINT/SIGHUP/SIGUSR1 to the worker);
# worker_pid_of HELPER prints the worker's pid.
TR7_PRIVSEP=${TR7_PRIVSEP:-0}
TR7_TEST_USER=${TR7_TEST_USER:-_tr7ntp}

# ensure_test_user: the worker's user exists (creates a system user if not).
ensure_test_user() {
  getent passwd "$TR7_TEST_USER" >/dev/null && return 0
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$TR7_TEST_USER" ||
    die "cannot create user $TR7_TEST_USER (set TR7_TEST_USER to an existing unprivileged user)"
}

# daemon_conf_add CONF_TEXT LINES: prints CONF_TEXT with LINES (newline-terminated) added
# at the top of its [daemon] section (a [daemon] section is made if there is none).
daemon_conf_add() {
  local conf=$1 extra=$2
  if [ -z "$extra" ]; then
    printf '%s\n' "$conf"
  elif grep -q '^[[:space:]]*\[daemon\]' <<<"$conf"; then
    awk -v extra="$extra" '{ print } /^[[:space:]]*\[daemon\]/ && !done { printf "%s", extra; done = 1 }' <<<"$conf"
  else
    printf '[daemon]\n%s\n%s\n' "$extra" "$conf"
  fi
}
# conf_key CONF_TEXT KEY: the last value of KEY in CONF_TEXT (empty if absent).
conf_key() {
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\([^;#[:space:]]*\).*/\1/p" <<<"$1" | tail -n 1
}

# hermetic_conf NAME CONF_TEXT: prints CONF_TEXT with state_dir ($T_DIR/NAME.state) and
# control_socket ($T_DIR/NAME.sock) added to [daemon] where it names none, so that no
# daemon a test starts uses the host's /var/lib/tr7ntp or /run/tr7ntp (the defaults).
hermetic_conf() {
  local name=$1 conf=$2 extra=""
  [ -n "$(conf_key "$conf" state_dir)" ] || extra+="state_dir = $T_DIR/$name.state"$'\n'
  [ -n "$(conf_key "$conf" control_socket)" ] || extra+="control_socket = $T_DIR/$name.sock"$'\n'
  daemon_conf_add "$conf" "$extra"
}

# privsep_conf NAME CONF_TEXT: prints CONF_TEXT made hermetic (above), with user added
# to [daemon] when missing, and makes the state directory (owned by the test user).
privsep_conf() {
  local name=$1 conf state
  conf=$(hermetic_conf "$name" "$2")
  state=$(conf_key "$conf" state_dir)
  mkdir -p "$state"
  chown "$TR7_TEST_USER:" "$state"
  chmod 750 "$state"
  if grep -q '^[[:space:]]*user[[:space:]]*=' <<<"$conf"; then
    printf '%s\n' "$conf"
  else
    daemon_conf_add "$conf" "user = $TR7_TEST_USER"$'\n'
  fi
}

# worker_pid_of HELPER_PID: the worker (the helper's only child).
worker_pid_of() { pgrep -P "$1" | head -n 1; }

# start_tr7ntpd NAME CONF_TEXT [EXTRA_PREFIX...]: writes $T_DIR/NAME.conf, starts
# tr7ntpd -d in the background (log $T_DIR/NAME.log), waits until it serves.
# Sets TR7_PID. With a prefix (e.g. "ip netns exec ns"), runs inside it. With
# TR7_PRIVSEP=1, privilege-separated instead of -d (see above).
start_tr7ntpd() {
  local name=$1 conf=$2
  shift 2
  local mode=(-d)
  if [ "$TR7_PRIVSEP" = 1 ]; then
    ensure_test_user
    conf=$(privsep_conf "$name" "$conf")
    mode=(-n -e)
  else
    conf=$(hermetic_conf "$name" "$conf")
  fi
  printf '%s\n' "$conf" >"$T_DIR/$name.conf"
  "$@" "${NOCLOCK[@]}" "$TR7NTPD" "${mode[@]}" -f "$T_DIR/$name.conf" >"$T_DIR/$name.log" 2>&1 &
  TR7_PID=$!
  T_PIDS+=("$TR7_PID")
  if ! wait_for 10 grep -q "started:" "$T_DIR/$name.log"; then
    cat "$T_DIR/$name.log"
    die "tr7ntpd ($name) did not start"
  fi
  kill -0 "$TR7_PID" 2>/dev/null || die "tr7ntpd ($name) exited"
  if [ "$TR7_PRIVSEP" = 1 ]; then
    local w
    w=$(worker_pid_of "$TR7_PID")
    grep -q '^Seccomp:[[:space:]]*2' "/proc/$w/status" 2>/dev/null || die "tr7ntpd ($name): worker not sandboxed"
    log "tr7ntpd ($name): helper $TR7_PID, sandboxed worker $w"
  fi
}

# stats_of PID LOG: asks the daemon for its statistics (SIGUSR1) and prints the newest
# "server stats:" line of its log.
stats_of() {
  local pid=$1 logf=$2 before
  before=$(grep -c "server stats:" "$logf")
  kill -USR1 "$pid"
  wait_until 5 '[ "$(grep -c "server stats:" "$logf")" -gt "$before" ]' || return 1
  grep "server stats:" "$logf" | tail -n 1
}
# stat_value LINE KEY: the number after KEY= in a stats line.
stat_value() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

# start_chronyd NAME CONF_LINES [PREFIX...]: a chronyd -x with its own 0700 directory,
# pidfile and command socket, no NTP port unless CONF_LINES sets one. Sets CHRONYC
# (a command prefix for chronyc against it) and CHRONYD_PID.
start_chronyd() {
  local name=$1 lines=$2
  shift 2
  local d="$T_DIR/$name"
  mkdir -p "$d"
  chmod 700 "$d"
  {
    printf '%s\n' "$lines"
    printf 'pidfile %s/chronyd.pid\nbindcmdaddress %s/chronyd.sock\ncmdport 0\n' "$d" "$d"
    grep -q '^port ' <<<"$lines" || printf 'port 0\n'
  } >"$d/chrony.conf"
  "$@" "${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf" >"$T_DIR/$name.log" 2>&1 &
  CHRONYD_PID=$!
  T_PIDS+=("$CHRONYD_PID")
  CHRONYC="chronyc -h $d/chronyd.sock"
  wait_for 10 test -S "$d/chronyd.sock" || die "chronyd ($name) did not start"
}

# add_netns NAME: creates a network namespace with loopback up; deleted at exit.
add_netns() {
  local ns=$1
  ip netns add "$ns" || die "cannot create netns $ns"
  T_NETNS+=("$ns")
  ip -n "$ns" link set lo up
}

# --- control socket (tr7ntpc) ---
TR7NTPC=${TR7NTPC:-$TR7_BUILDDIR/src/tools/tr7ntpc/tr7ntpc}
CTLPROBE="python3 $TR7_SRCDIR/test/system/ctlprobe.py"

# free_tcp_port: a free TCP port on loopback.
free_tcp_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ctl_daemon_conf PORT [EXTRA_DAEMON_LINES] [EXTRA_SERVER_LINES]: a config with a control
# socket at $T_DIR/ctl.sock, state in $T_DIR/state, serving local stratum 10 on PORT.
ctl_daemon_conf() {
  printf '[daemon]\nclock = none\nstate_dir = %s/state\ncontrol_socket = %s/ctl.sock\n%s\n[server]\nlisten = 127.0.0.1:%s\nlocal_stratum = 10\nallow = 127.0.0.0/8\n%s\n' \
    "$T_DIR" "$T_DIR" "${2:-}" "$1" "${3:-}"
}

# ctlc ARGS...: tr7ntpc on the test's control socket.
ctlc() { "$TR7NTPC" -s "$T_DIR/ctl.sock" "$@"; }
# as_nobody CMD...: runs a command as nobody:nogroup with no supplementary groups.
as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups -- "$@"; }
