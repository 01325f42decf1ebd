#!/bin/bash
# Access through the control socket: the socket file's group and mode; a monitor_group
# member (nobody:nogroup) can read but not change, and each refusal is audited with its
# uid; a user in neither group can do nothing; an admin_group member can change; the
# audit line of a change holds the caller's uid, gid, pid and before/after; junk
# refusals are rate-limited in the audit trail.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq setpriv
getent group adm >/dev/null || skip "no group adm"

port=$(free_port)
start_tr7ntpd d "$(ctl_daemon_conf "$port" "monitor_group = nogroup
admin_group = adm
control_socket_mode = 0666")"
sock=$T_DIR/ctl.sock
audit=$T_DIR/state/audit/audit.log

check "socket group nogroup, mode 666" test "$(stat -c '%G %a' "$sock")" = "nogroup 666"

# monitor_group: reads work.
for c in tracking sources serverstats clients "allow list" "allow check 127.0.0.1" "timezone get" "audit tail" metrics rtc; do
  as_nobody "$TR7NTPC" -s "$sock" $c >/dev/null 2>&1
  check "nobody (monitor_group) may '$c'" test $? = 0
done
check "nobody --json is parsed by jq" bash -c "setpriv --reuid nobody --regid nogroup --clear-groups -- '$TR7NTPC' -s '$sock' --json tracking | jq -e .stratum >/dev/null"

# ... but changes are refused, with code 13, and audited.
before_lines=$(wc -l <"$audit")
for c in "allow add 10.0.0.0/8" "deny add 10.9.0.0/16" "timezone set Europe/Istanbul" reload makestep "source add ntp.example.net"; do
  as_nobody "$TR7NTPC" -s "$sock" --json $c >"$T_DIR/r.json" 2>/dev/null
  rc=$?
  check "nobody may not '$c' (exit $rc)" test "$rc" = 1
  check "'$c' refusal is code 13" jq -e '.error.code == 13 and .error.name == "permission_denied"' "$T_DIR/r.json"
done
nobody_uid=$(id -u nobody)
refusals=$(jq -c "select(.uid == $nobody_uid and (.result | startswith(\"refused: permission denied\")))" "$audit" | wc -l)
check "each refusal is audited with uid $nobody_uid ($refusals)" test "$refusals" = 6
check "refused change left no trace in the rules" bash -c "! '$TR7NTPC' -s '$sock' allow list | grep -q 10.0.0.0/8"
check "refused zone change did not apply" bash -c "'$TR7NTPC' -s '$sock' --json timezone get | jq -e '.zone == \"UTC\"' >/dev/null"
# A non-admin learns nothing about arguments: the daemon checks permission first. (tr7ntpc
# itself refuses the bad prefix before sending, exit 2, so the line goes raw.)
as_nobody "$TR7NTPC" -s "$sock" --json allow add 10.0.0.1/8 >"$T_DIR/r.json" 2>/dev/null
check "bad arguments: tr7ntpc refuses them itself (exit $?, usage)" jq -e '.error.name == "usage"' "$T_DIR/r.json"
as_nobody $PYTHON3 "$TR7_SRCDIR/test/system/ctlprobe.py" raw "$sock" 'allow add 10.0.0.1/8\n' >"$T_DIR/raw.txt"
check "bad arguments from a non-admin, raw: still 13" grep -q '^END [0-9]* ERR 13' "$T_DIR/raw.txt"

# Neither group: nothing but help/quit.
setpriv --reuid daemon --regid daemon --clear-groups -- "$TR7NTPC" -s "$sock" --json tracking >"$T_DIR/r.json" 2>/dev/null
check "a user in no group cannot read (exit 1, code 13)" jq -e '.error.code == 13' "$T_DIR/r.json"

# admin_group (adm) may change; the audit line holds uid, gid, pid and before/after.
setpriv --reuid nobody --regid adm --clear-groups -- "$TR7NTPC" -s "$sock" allow add 10.0.0.0/8 &
cpid=$!
wait $cpid
check "admin_group member may 'allow add'" test $? = 0
line=$(jq -c "select(.command == \"allow add 10.0.0.0/8\" and .result == \"ok\")" "$audit" | tail -n 1)
log "audit: $line"
adm_gid=$(getent group adm | cut -d: -f3)
check "audit line: caller uid" test "$(jq -r .uid <<<"$line")" = "$nobody_uid"
check "audit line: caller gid" test "$(jq -r .gid <<<"$line")" = "$adm_gid"
check "audit line: caller pid" test "$(jq -r .pid <<<"$line")" = "$cpid"
check "audit line: before/after" test "$(jq -r '.before + "|" + .after' <<<"$line")" = "|allow 10.0.0.0/8"
check "audit line: UTC time with ns" bash -c "jq -r .time_utc <<<'$line' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$'"
check "audit line: local time" bash -c "jq -r .time_local <<<'$line' | grep -Eq '^[0-9-]{10}T[0-9:]{8}\.[0-9]{9}[+-][0-9]{2}:[0-9]{2}$'"
check "audit line also in the log (syslog in production)" grep -q '"command":"allow add 10.0.0.0/8"' "$T_DIR/d.log"
check "root may 'timezone set'" ctlc timezone set Europe/Istanbul
line=$(jq -c 'select(.command == "timezone set Europe/Istanbul" and .result == "ok")' "$audit" | tail -n 1)
check "zone change audited before/after" test "$(jq -r '.before + ">" + .after' <<<"$line")" = "UTC>Europe/Istanbul"
check "audit tail reads it back" bash -c "'$TR7NTPC' -s '$sock' --json audit tail 1 | jq -e '.[0].command == \"timezone set Europe/Istanbul\"' >/dev/null"

# A flood of refused changes: at most the burst is written one by one.
n0=$(wc -l <"$audit")
l0=$(grep -c 'audit:' "$T_DIR/d.log")
python3 - "$sock" <<'PY'
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"allow add 10.0.0.0/8\n" * 200)
s.settimeout(5); got = b""
while got.count(b"END ") < 200:
    d = s.recv(65536)
    if not d: break
    got += d
print(got.count(b"ERR 13"))
PY
n1=$(wc -l <"$audit")
l1=$(grep -c 'audit:' "$T_DIR/d.log")
log "200 refused changes wrote $((n1 - n0)) audit lines, $((l1 - l0)) log lines"
check "refusal flood: audit lines bounded ($((n1 - n0)) <= 11)" test $((n1 - n0)) -le 11
check "refusal flood: log lines bounded ($((l1 - l0)) <= 11)" test $((l1 - l0)) -le 11
$NTPPROBE query 127.0.0.1 "$port" >/dev/null
check "NTP still answered" test $? = 0
finish
