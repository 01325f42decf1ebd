#!/bin/bash
# The control socket, audit trail, runtime state and metrics inside the sandbox: a
# privilege-separated daemon (chrooted worker, no capabilities, seccomp kill filter)
# answers every kind of command, writes its audit trail and state file through the
# state directory's fd, survives the bad-input suite and a reload, and its worker is the
# same process at the end (a forbidden system call would have killed it).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv jq pgrep
ensure_test_user
TR7_PRIVSEP=1

port=$(free_port)
hport=$(free_tcp_port)
start_tr7ntpd d "$(ctl_daemon_conf "$port" "monitor_group = nogroup
timezone = UTC")
[metrics]
listen = 127.0.0.1:$hport"
helper=$TR7_PID
wait_until 5 '[ -n "$(worker_pid_of "$helper")" ]' || die "no worker process"
worker=$(worker_pid_of "$helper")
check "worker is sandboxed (Seccomp 2)" test "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$worker/status")" = 2
check "worker is chrooted into the state directory" test "$(readlink "/proc/$worker/root")" = "$(realpath "$T_DIR/state")"
check "worker runs as $TR7_TEST_USER" test "$(stat -c %U "/proc/$worker")" = "$TR7_TEST_USER"

for c in tracking sources sourcestats selectdata activity clients serverstats "allow list" "allow check 127.0.0.1" \
  "timezone list" "timezone get" "audit tail" rtc metrics "metrics prometheus" help; do
  ctlc $c >/dev/null
  check "'$c' in the sandbox" test $? = 0
done
check "allow add (state file + audit, fsync, rename in the chroot)" ctlc allow add 10.0.0.0/8
check "timezone set" ctlc timezone set Europe/Istanbul
check "deny add" ctlc deny add 10.9.0.0/16
check "state file written by the worker" grep -q '^rule=10.0.0.0/8 action=allow$' "$T_DIR/state/runtime.state"
check "audit trail written by the worker" jq -s -e 'any(.[]; .command == "allow add 10.0.0.0/8" and .result == "ok")' "$T_DIR/state/audit/audit.log"
as_nobody "$TR7NTPC" -s "$T_DIR/ctl.sock" allow add 10.1.0.0/16 2>/dev/null
check "nobody refused in the sandbox (exit $?)" test $? = 1
check "the refusal is audited with nobody's uid" jq -s -e "any(.[]; .command == \"allow add 10.1.0.0/16\" and .uid == $(id -u nobody) and (.result | startswith(\"refused\")))" "$T_DIR/state/audit/audit.log"
check "reload in the sandbox (the helper opens the file)" ctlc reload
# A name added at run time resolves in the chroot (the resolver read /etc/hosts before);
# nothing listens on dead_port, so it stays unreachable, but requests go out.
dead_port=$(free_port)
check "source add by name in the sandbox" ctlc source add localhost port "$dead_port" minpoll -2 maxpoll -2
resolved_and_polled() {
  ctlc --json sources | jq -e '.[0].name == "localhost" and .[0].address == "127.0.0.1"' &&
    ctlc --json ntpdata 127.0.0.1 | jq -e '.tx >= 1'
}
check "localhost resolved to 127.0.0.1 and polled from the sandbox" wait_for 5 resolved_and_polled
check "source delete localhost" ctlc source delete localhost
check "still local stratum 10 (an unreachable source changes nothing)" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.state == \"local\" and .stratum == 10' >/dev/null"
check "HTTP /metrics from the sandbox" python3 -c "import urllib.request; assert b'tr7_stratum 10' in urllib.request.urlopen('http://127.0.0.1:$hport/metrics', timeout=5).read()"
$CTLPROBE badinput "$T_DIR/ctl.sock" --max-conns 24 >"$T_DIR/probe.json"  # root: 16 + 4 + 4 slots
rc=$?
check "bad-input suite in the sandbox" test "$rc" = 0
check "worker still the same process" test "$(worker_pid_of "$helper")" = "$worker"
check "NTP still answered" $NTPPROBE query 127.0.0.1 "$port"
check "no seccomp kill logged" bash -c "! grep -qi 'SIGSYS\\|killed' '$T_DIR/d.log'"
finish
