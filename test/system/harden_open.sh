#!/bin/bash
# Issue 19 item 12: [server] listen beyond loopback with no allow rule. The daemon runs in
# a network namespace made here, listening on 0.0.0.0; a client address 10.197.0.1 is on
# its loopback device (so a query from it is not a loopback client).
#  * --check-config warns, and says how to open it;
#  * loopback clients are answered, 10.197.0.1 is not (deny by default), the log says why
#    and `allow check` explains it;
#  * `allow add 10.197.0.0/24` opens it for that network (then the usual allow list);
#  * with `allow = 0.0.0.0/0, ::/0` everyone is answered, and nothing is warned.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ip jq

ns="tr7open$$"
add_netns "$ns"
ip -n "$ns" addr add 10.197.0.1/32 dev lo || die "cannot add an address in $ns"
port=$(free_port)
conf=$(printf '[daemon]\nclock = none\ncontrol_socket = %s/ctl.sock\nstate_dir = %s/state\n[server]\nlisten = 0.0.0.0:%s\nlocal_stratum = 9\n' \
  "$T_DIR" "$T_DIR" "$port")
printf '%s\n' "$conf" >"$T_DIR/check.conf"
out=$("$TR7NTPD" --check-config -f "$T_DIR/check.conf" 2>&1)
log "check-config: $out"
check "--check-config warns: only loopback clients answered" grep -q "only loopback clients are answered" <<<"$out"
check "... and says how to answer everyone" grep -q "allow = 0.0.0.0/0, ::/0" <<<"$out"
check "... and still accepts the file" grep -q "configuration OK" <<<"$out"

q() { ip netns exec "$ns" $NTPPROBE query "$1" "$port" --timeout 1 ${2:+--src "$2"} >/dev/null 2>&1; }
start_tr7ntpd open "$conf" ip netns exec "$ns"
check "the start-up log says so" grep -q "only loopback clients are answered" "$T_DIR/open.log"
check "a loopback client is answered" q 127.0.0.1
check "a client from 10.197.0.1 is not (deny by default)" bash -c "$(declare -f q); ns=$ns port=$port NTPPROBE='$NTPPROBE'; ! q 10.197.0.1 10.197.0.1"
why=$(ctlc --json allow check 10.197.0.1)
log "allow check: $why"
check "allow check: denied, and why" jq -e '.action == "deny" and (.reason | test("not loopback and there is no allow rule"))' <<<"$why"
check "allow add 10.197.0.0/24" ctlc allow add 10.197.0.0/24
check "now 10.197.0.1 is answered" q 10.197.0.1 10.197.0.1
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"
rm -rf "$T_DIR/state"

conf2=$(printf '%s\nallow = 0.0.0.0/0, ::/0\n' "$conf")
start_tr7ntpd open2 "$conf2" ip netns exec "$ns"
check "allow = 0.0.0.0/0, ::/0: 10.197.0.1 answered" q 10.197.0.1 10.197.0.1
check "... and loopback" q 127.0.0.1
check "... no loopback-only warning" bash -c "! grep -q 'only loopback clients' '$T_DIR/open2.log'"

finish
