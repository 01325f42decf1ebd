#!/bin/bash
# Runtime changes survive a restart (state file written atomically, applied over the
# configuration); `reload` and SIGHUP re-read the file with the same semantics (a bad
# file is refused whole, the running configuration kept), and both are audited with the
# diff; a corrupt state file is set aside, never half-applied.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq

port=$(free_port)
conf=$(ctl_daemon_conf "$port" "timezone = UTC" "deny = 127.0.0.9/32")
start_tr7ntpd d "$conf"
audit=$T_DIR/state/audit/audit.log
state=$T_DIR/state/runtime.state

ctlc allow add 10.0.0.0/8 && ctlc deny add 10.9.0.0/16 && ctlc deny delete 127.0.0.9/32 &&
  ctlc timezone set Asia/Tokyo
check "changes accepted" test $? = 0
check "state file written" grep -q '^rule=10.0.0.0/8 action=allow$' "$state"
check "config rule deletion persisted as 'remove'" grep -q '^rule=127.0.0.9/32 action=remove$' "$state"
check "no temporary file left" bash -c "! ls '$T_DIR/state' | grep -q tmp"
check "NTP follows the runtime rules: 127.0.0.9 served now" $NTPPROBE query 127.0.0.1 "$port" --src 127.0.0.9

kill -TERM "$TR7_PID"
wait "$TR7_PID" 2>/dev/null
# (Under privilege separation the chrooted worker cannot reach the path; the next start
# replaces the stale socket.)
[ "$TR7_PRIVSEP" = 1 ] || check "socket removed at exit" test ! -e "$T_DIR/ctl.sock"
start_tr7ntpd d2 "$conf"
ctlc --json allow list >"$T_DIR/list.json"
check "after restart: runtime allow kept" jq -e 'any(.[]; .prefix == "10.0.0.0/8" and .action == "allow" and .origin == "runtime")' "$T_DIR/list.json"
check "after restart: runtime deny kept" jq -e 'any(.[]; .prefix == "10.9.0.0/16" and .action == "deny")' "$T_DIR/list.json"
check "after restart: deleted config rule stays deleted" jq -e 'all(.[]; .prefix != "127.0.0.9/32")' "$T_DIR/list.json"
check "after restart: zone kept" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json timezone get | jq -e '.zone == \"Asia/Tokyo\" and .origin == \"runtime\"' >/dev/null"
check "after restart: audit log kept and appended" test "$(jq -s length "$audit")" -ge 4

# reload: the file gains a rule; audited with before/after.
printf '%s\n' "$(ctl_daemon_conf "$port" "timezone = UTC" "deny = 127.0.0.9/32
deny = 127.0.0.8/32")" >"$T_DIR/d2.conf"
check "reload accepted" ctlc reload
line=$(jq -c 'select(.command == "reload")' "$audit" | tail -n 1)
log "reload audit: $line"
check "reload audit: after holds the new rule" bash -c "jq -r .after <<<'$line' | grep -qx 'server.deny = 127.0.0.8/32'"
check "reload audit: caller uid 0" test "$(jq -r .uid <<<"$line")" = 0
check "reload keeps the runtime changes on top" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow list | jq -e 'any(.[]; .prefix == \"10.0.0.0/8\") and all(.[]; .prefix != \"127.0.0.9/32\") and any(.[]; .prefix == \"127.0.0.8/32\")' >/dev/null"

# A bad file: refused whole, nothing applied, exit 1, audited as refused.
printf '[daemon]\nclock = none\nstate_dir = %s/state\ncontrol_socket = %s/ctl.sock\n[server]\nlisten = 127.0.0.1:%s\nallow = 10.0.0.1/8\nlocal_stratum = 99\n' \
  "$T_DIR" "$T_DIR" "$port" >"$T_DIR/d2.conf"
ctlc reload 2>"$T_DIR/err.txt"
check "bad reload: exit 1" test $? = 1
check "bad reload: the error names file:line" grep -q 'd2.conf:[0-9]' "$T_DIR/err.txt"
line=$(jq -c 'select(.command == "reload")' "$audit" | tail -n 1)
check "bad reload audited as refused" bash -c "jq -r .result <<<'$line' | grep -q '^refused: .*d2.conf:'"
check "bad reload: running rules kept" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow list | jq -e 'any(.[]; .prefix == \"127.0.0.8/32\")' >/dev/null"
check "bad reload: NTP still served at stratum 10" bash -c "$NTPPROBE query 127.0.0.1 $port | jq -e '.stratum == 10' >/dev/null"

# SIGHUP: the same, audited without a caller.
printf '%s\n' "$(ctl_daemon_conf "$port" "timezone = UTC" "deny = 127.0.0.7/32")" >"$T_DIR/d2.conf"
reloads() { jq -s 'map(select(.command == "reload")) | length' "$audit"; }
n=$(reloads)
kill -HUP "$TR7_PID"
wait_until 5 '[ "$(reloads)" -gt "$n" ]'
line=$(jq -c 'select(.command == "reload")' "$audit" | tail -n 1)
log "SIGHUP audit: $line"
check "SIGHUP reload audited, via signal, no uid" test "$(jq -r '.via + " " + (.uid|tostring)' <<<"$line")" = "signal null"
check "SIGHUP diff: 127.0.0.8 removed, 127.0.0.7 added" bash -c "jq -r .before <<<'$line' | grep -qx 'server.deny = 127.0.0.8/32' && jq -r .after <<<'$line' | grep -qx 'server.deny = 127.0.0.7/32'"

# A corrupt state file is set aside at start, not half-applied.
kill -TERM "$TR7_PID"
wait "$TR7_PID" 2>/dev/null
printf 'version=1\nrule=10.0.0.0/8 action=allow\nrule=junk action=allow\n' >"$state"
start_tr7ntpd d3 "$conf"
check "corrupt state: renamed to .bad" test -f "$T_DIR/state/runtime.state.bad"
check "corrupt state: nothing of it applied" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow list | jq -e 'all(.[]; .prefix != \"10.0.0.0/8\")' >/dev/null"
check "corrupt state: the error is logged with file:line" grep -q 'runtime.state:3' "$T_DIR/d3.log"

# A second daemon on the same explicit socket path refuses to start.
printf '%s\n' "$conf" >"$T_DIR/d4.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/d4.conf" >"$T_DIR/d4.log" 2>&1
check "second daemon on a live socket: exit 1" test $? = 1
check "... saying the socket is in use" grep -q 'in use' "$T_DIR/d4.log"
check "first daemon still answers" ctlc tracking
# A regular file at the socket path is never removed.
touch "$T_DIR/notasocket"
sed "s|control_socket = .*|control_socket = $T_DIR/notasocket|; s|listen = .*|listen = 127.0.0.1:$(free_port)|" "$T_DIR/d4.conf" >"$T_DIR/d5.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/d5.conf" >"$T_DIR/d5.log" 2>&1
check "a file at the socket path: refused" test $? = 1
check "... and left in place" test -f "$T_DIR/notasocket"
finish
