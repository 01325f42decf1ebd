#!/bin/bash
# Fault injection, the host side (issue 19), privilege-separated:
#  * disk full for the state directory (a 512 KiB tmpfs mounted there, filled up): changes
#    are refused with io_error and nothing of them applied, the drift file write fails and
#    is logged once, NTP and reads go on; with room again changes work, and no file is
#    half-written;
#  * the control socket's directory removed under the daemon: NTP served on, a reload
#    survives, the stop is clean, and the next start makes the directory and socket again;
#  * a SIGHUP storm (150 in 3 s) during NTP traffic: every reload audited, every request
#    answered, no descriptor leaked, helper and worker alive.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv python3 jq mount umount
"$TR7NTPD" --version | grep -q "test hooks" || skip "not a test-hooks build (configure --enable-test-hooks)"
ensure_test_user
TR7_PRIVSEP=1
mnt=""
trap 'r=$?; [ -n "$mnt" ] && umount -l "$mnt" 2>/dev/null; (exit $r); cleanup' EXIT

# --- disk full ---------------------------------------------------------------------------------
port=$(free_port)
up=$(free_port)
$PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.1 "$up" >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
mnt=$T_DIR/state
mkdir -p "$mnt"
mount -t tmpfs -o size=512k,mode=0750 tmpfs "$mnt" || skip "cannot mount a tmpfs"
chown "$TR7_TEST_USER:" "$mnt"
export TR7_TEST_DRIFT_INTERVAL=0.5
start_tr7ntpd full "$(ctl_daemon_conf "$port" "")
[sources]
server = 127.0.0.1 port $up iburst minpoll -2 maxpoll 0 burst_interval 0.25
[discipline]
drift_file = drift"
check "a change with room" ctlc allow add 192.0.2.0/24
# Fill it: what is left of 512 KiB.
dd if=/dev/zero of="$mnt/filler" bs=4k >/dev/null 2>&1
log "state directory: $(df -k "$mnt" | tail -n 1)"
out=$(ctlc allow add 198.51.100.0/24 2>&1)
rc=$?
log "allow add on a full disk: exit $rc: $out"
check "disk full: the change is refused" test "$rc" -ne 0
check "... with io_error" grep -q "io_error" <<<"$out"
check "... and not applied" bash -c "! '$TR7NTPC' -s '$T_DIR/ctl.sock' allow list | grep -q 198.51.100.0/24"
check "... source add neither" bash -c "! '$TR7NTPC' -s '$T_DIR/ctl.sock' source add 127.0.0.9 >/dev/null 2>&1"
check "the drift file write failed and was logged" wait_for 5 grep -q "drift file: .*No space left" "$T_DIR/full.log"
sleep 2
check "... once" test "$(grep -c 'drift file: .*No space left' "$T_DIR/full.log")" = 1
check "NTP still served" $NTPPROBE query 127.0.0.1 "$port"
check "reads still work" ctlc tracking
rm -f "$mnt/filler"
check "room again: the change works" ctlc allow add 198.51.100.0/24
check "... and is applied" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' allow list | grep -q 198.51.100.0/24"
check "every audit line whole" jq -e . "$mnt/audit/audit.log"
check "the runtime state whole" grep -q "rule=198.51.100.0/24 action=allow" "$mnt/runtime.state"
check "the drift file whole" wait_for 3 bash -c "head -n 1 '$mnt/drift' | grep -Eq '^[-+]?[0-9.]+'"
w=$(worker_pid_of "$TR7_PID")
check "helper and worker alive" kill -0 "$TR7_PID" "$w"
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"
umount "$mnt" && mnt=""
unset TR7_TEST_DRIFT_INTERVAL

# --- the control socket's directory removed ----------------------------------------------------------
port=$(free_port)
rund=$T_DIR/run
conf=$(printf '[daemon]\nclock = none\nstate_dir = %s/state\ncontrol_socket = %s/ctl.sock\n[server]\nlisten = 127.0.0.1:%s\nlocal_stratum = 10\n' \
  "$T_DIR" "$rund" "$port")
start_tr7ntpd rmdir "$conf"
check "socket made in its own directory" test -S "$rund/ctl.sock"
rm -rf "$rund"
check "directory removed: NTP served on" $NTPPROBE query 127.0.0.1 "$port"
kill -HUP "$TR7_PID"
sleep 0.5
check "... a reload survives" kill -0 "$TR7_PID"
check "... NTP still served" $NTPPROBE query 127.0.0.1 "$port"
h=$TR7_PID
kill -TERM "$h"
check "... the stop is clean" wait_for 10 bash -c "! kill -0 $h 2>/dev/null"
check "... exit 0" grep -q "exited with status 0" "$T_DIR/rmdir.log"
start_tr7ntpd rmdir2 "$conf"
check "the next start makes the directory and the socket again" test -S "$rund/ctl.sock"
"$TR7NTPC" -s "$rund/ctl.sock" tracking >/dev/null
check "... which answers" test $? = 0
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"

# --- a SIGHUP storm during traffic ------------------------------------------------------------
port=$(free_port)
start_tr7ntpd hup "$(ctl_daemon_conf "$port" "")"
h=$TR7_PID
w=$(worker_pid_of "$h")
fds0=$(ls "/proc/$w/fd" | wc -l)
$PYTHON3 "$TR7_SRCDIR/test/system/ctlprobe.py" ntploop 127.0.0.1 "$port" "$T_DIR/stop" --interval 0.01 \
  --max-seconds 30 >"$T_DIR/ntp.json" &
loop=$!
for i in $(seq 1 150); do
  kill -HUP "$h"
  sleep 0.02
done
sleep 1
touch "$T_DIR/stop"
wait "$loop"
log "NTP during the storm: $(cat "$T_DIR/ntp.json")"
check "every request answered during the storm" jq -e '.sent > 100 and .answered == .sent' "$T_DIR/ntp.json"
reloads=$(grep -c '"command":"reload"' "$T_DIR/state/audit/audit.log")
log "reload records: $reloads"
check "reloads audited (coalesced signals may be fewer than 150)" test "$reloads" -ge 10
check "helper and worker alive" kill -0 "$h" "$w"
fds1=$(ls "/proc/$w/fd" | wc -l)
check "no descriptor leaked ($fds0 -> $fds1)" test "$fds1" -le $((fds0 + 1))
check "the control socket answers" ctlc tracking

finish
