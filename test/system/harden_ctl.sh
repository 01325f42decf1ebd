#!/bin/bash
# Hardening of the control socket (issue 19):
#  * item 9: the socket gets its mode and group where only the daemon can reach it (a
#    private directory, then a rename): no chmod/chown family call names its public path
#    (strace), and it ends up with the configured group and mode;
#  * item 8: slots kept for root and admins: with every per-user slot held by monitors,
#    and with 300 idle root connections, root's `tracking` still answers;
#  * item 5: with the audit log immutable (chattr +i), `allow add`, `source add`,
#    `burst` are refused and nothing of them is applied.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq setpriv strace
getent group adm >/dev/null || skip "no group adm"

port=$(free_port)
conf=$(ctl_daemon_conf "$port" "monitor_group = nogroup
admin_group = adm
control_socket_mode = 0660")
sock=$T_DIR/ctl.sock

# --- item 9 ------------------------------------------------------------------------------------
start_tr7ntpd d "$conf" strace -f -qq -e trace=chmod,fchmod,fchmodat,chown,fchown,lchown,fchownat -o "$T_DIR/strace.txt"
log "chmod/chown calls: $(grep -c . "$T_DIR/strace.txt")"
grep -E 'chmod|chown' "$T_DIR/strace.txt" | sed 's/^/#   /' | head -n 10
check "no chmod or chown names the socket's path" bash -c "! grep -F '\"$sock\"' '$T_DIR/strace.txt'"
check "socket group nogroup, mode 660, made at bind" test "$(stat -c '%G %a' "$sock")" = "nogroup 660"
check "no private directory left beside it" test -z "$(find "$T_DIR" -maxdepth 1 -name '.tr7ntpd.*')"
check "the socket answers" ctlc tracking
daemon=$(pgrep -P "$TR7_PID" | head -n 1)  # strace's child: the daemon
T_PIDS+=("$daemon")
kill -TERM "$daemon"
wait_for 10 bash -c "! kill -0 $daemon 2>/dev/null"
check "socket removed at stop" test ! -e "$sock"

# --- item 8 ------------------------------------------------------------------------------------
start_tr7ntpd slots "$conf"
HOLD="$PYTHON3 $TR7_SRCDIR/test/system/ctlhold.py"
# hold UID GID N NAME: N idle connections as UID:GID in the background; waits until held.
hold() {
  setpriv --reuid "$1" --regid "$2" --clear-groups -- $HOLD "$sock" "$3" 60 >"$T_DIR/$4.ready" &
  T_PIDS+=($!)
  wait_for 20 test -s "$T_DIR/$4.ready" || fail "holder $4 did not report"
  log "$4: $(cat "$T_DIR/$4.ready")"
}
nogroup=$(getent group nogroup | cut -d: -f3)
for u in 60001 60002 60003 60004; do
  hold "$u" "$nogroup" 5 "mon$u"
  check "monitor uid $u holds 4 slots (its cap), the 5th is refused" grep -q "held=4 busy=1" "$T_DIR/mon$u.ready"
done
out=$(setpriv --reuid 60005 --regid "$nogroup" --clear-groups -- "$TR7NTPC" -s "$sock" tracking 2>&1)
rc=$?
log "fifth monitor (exit $rc): $out"
check "a fifth monitor uid finds no slot (refused, no answer)" test "$rc" -ne 0 -a -n "$out"
check "root's tracking answers (a slot kept for root)" ctlc tracking
check "an admin's tracking answers (a slot kept for admins)" \
  setpriv --reuid 60010 --regid adm --groups nogroup -- "$TR7NTPC" -s "$sock" tracking
hold 0 0 300 rootflood
check "300 idle root connections: every slot taken, the rest refused" grep -q "held=24 busy=276" "$T_DIR/rootflood.ready"
sleep 1.2  # longer than evict_idle_s: they are idle now
t0=$(date +%s%N)
check "root's tracking still answers" ctlc tracking
log "root's tracking took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "NTP still served" $NTPPROBE query 127.0.0.1 "$port"
kill -TERM "$TR7_PID"

# --- item 5 ------------------------------------------------------------------------------------
# A source (a fake upstream) so that burst, makestep and source delete have something to act on.
up=$(free_port)
$PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.1 "$up" >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
start_tr7ntpd audit "$(ctl_daemon_conf "$port" "" )
[sources]
server = 127.0.0.1 port $up minpoll 4 maxpoll 4"
audit=$T_DIR/state/audit/audit.log
check "an audit log to make immutable" test -f "$audit"
check "allow add works before" ctlc allow add 192.0.2.0/24
chattr +i "$audit" || skip "chattr +i not supported here"
lines=$(wc -l <"$audit")
state_before=$(cat "$T_DIR/state/runtime.state" 2>/dev/null | md5sum)
for c in "allow add 10.0.0.0/8" "source add 127.0.0.2 port $up" burst makestep "source delete 127.0.0.1" \
  "allow delete 192.0.2.0/24" "timezone set Europe/Istanbul"; do
  out=$(ctlc $c 2>&1)
  rc=$?
  log "$c: exit $rc: $out"
  check "audit log immutable: '$c' refused" test "$rc" -ne 0
done
check "allow add: no rule for 10.0.0.0/8" bash -c "! '$TR7NTPC' -s '$sock' allow list | grep -q 10.0.0.0/8"
check "allow delete: 192.0.2.0/24 still allowed" bash -c "'$TR7NTPC' -s '$sock' allow list | grep -q 192.0.2.0/24"
check "source add: no source 127.0.0.2" bash -c "! '$TR7NTPC' -s '$sock' -n sources | grep -q 127.0.0.2"
check "source delete: 127.0.0.1 still a source" bash -c "'$TR7NTPC' -s '$sock' -n sources | grep -q 127.0.0.1"
check "the runtime state file unchanged" test "$(cat "$T_DIR/state/runtime.state" 2>/dev/null | md5sum)" = "$state_before"
check "the zone unchanged" bash -c "'$TR7NTPC' -s '$sock' --json timezone get | jq -e '.zone == \"UTC\"' >/dev/null"
chattr -i "$audit"
check "audit log writable again: source add works" ctlc source add 127.0.0.2 port "$up"
check "... and is audited" grep -q '"command":"source add 127.0.0.2' "$audit"

finish
