#!/bin/bash
# Multi-tenant time: one tr7ntpd serving two network namespaces the test builds.
#
#   tA  (VIP 10.71.0.1, veth) <-> tAc (clients 10.71.0.2 allowed, 10.71.0.3 denied)
#   tB  (VIP 10.72.0.1, veth) <-> tBc (client 10.72.0.2)
#   tC  (VIP 10.73.0.1, veth) <-> tCc (client 10.73.0.2)    added at run time
#
# The daemon runs in the test's own namespace; its tenants' sockets are opened inside tA
# and tB (and tC). Checks: each client gets time from its tenant's VIP; nothing of A is
# reachable or visible from B (a capture in B's namespaces sees none of A's traffic); A's
# allow list refuses 10.71.0.3; the `tenants` counters match what was sent; `tenant add`
# answers at once, `tenant delete` stops it, both audited, while A and B keep answering;
# a namespace deleted and re-created is served again.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ip setpriv jq tshark

# The example names the group tr7ntp-admin, which this machine need not have (a start
# would refuse it, and so does --check-config): checked with a group that exists.
sed 's/^admin_group *=.*/admin_group = root/' "$TR7_SRCDIR/etc/tr7ntpd-tenants.conf" >"$T_DIR/example.conf"
check "etc/tr7ntpd-tenants.conf is valid" "$TR7NTPD" --check-config -f "$T_DIR/example.conf"

A="tr7tA$$" B="tr7tB$$" C="tr7tC$$" M="tr7tM$$"
# veth_tenant NS CLIENT_NS NET: NS holds NET.1/24, CLIENT_NS NET.2 (and more added later).
veth_tenant() {
  local ns=$1 cns=$2 net=$3 tag=$4
  add_netns "$ns"
  add_netns "$cns"
  ip link add "v$tag$$s" netns "$ns" type veth peer name "v$tag$$c" netns "$cns" || die "veth $tag"
  ip -n "$ns" addr add "$net.1/24" dev "v$tag$$s"
  ip -n "$ns" link set "v$tag$$s" up
  ip -n "$cns" addr add "$net.2/24" dev "v$tag$$c"
  ip -n "$cns" link set "v$tag$$c" up
}
veth_tenant "$A" "${A}c" 10.71.0 a
ip -n "${A}c" addr add 10.71.0.3/24 dev "va$$c"
veth_tenant "$B" "${B}c" 10.72.0 b
# Wait for the addresses (DAD is off for IPv4; the links need a moment to come up).
link_up() { ip -n "$1" link show dev "$2" | grep -q 'state UP'; }
wait_for 5 link_up "${A}c" "va$$c" || die "tA: no link"
wait_for 5 link_up "${B}c" "vb$$c" || die "tB: no link"

# A management namespace with an upstream server the tenants cannot see (started later).
add_netns "$M"
ip -n "$M" addr add 10.75.0.1/32 dev lo

port=$(free_port)
start_tr7ntpd d "$(ctl_daemon_conf "$port" "" "")
[sources]
server = 10.75.0.1 netns $M iburst minpoll -2 maxpoll 0 burst_interval 0.25
[tenants]
runtime = tr7tC* 10.73.0.0/16 port 123
check_interval = 0.3
[tenant A]
netns = $A
listen = 10.71.0.1:123
allow = 10.71.0.0/24
deny = 10.71.0.3
[tenant B]
netns = $B
listen = 10.72.0.1:123
ratelimit = interval 0.02 burst 16"

q() { # q NS HOST [SRC]: one query, prints the stratum (exit 1 without a reply)
  local out
  out=$(ip netns exec "$1" $NTPPROBE query "$2" 123 --timeout 1 ${3:+--src "$3"} 2>/dev/null) || return 1
  jq -r .stratum <<<"$out"
}
tenant_field() { ctlc --json tenants | jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f]'; }

check "A's client gets time from A's VIP (stratum 10)" test "$(q "${A}c" 10.71.0.1 10.71.0.2)" = 10
check "B's client gets time from B's VIP (stratum 10)" test "$(q "${B}c" 10.72.0.1)" = 10
check "the default listener still answers" bash -c "$NTPPROBE query 127.0.0.1 $port >/dev/null"
check "no path from B's client to A's VIP" bash -c "! ip netns exec '${B}c' $NTPPROBE query 10.71.0.1 123 --timeout 0.5 >/dev/null 2>&1"
check "no path from B's namespace to A's VIP" bash -c "! ip netns exec '$B' $NTPPROBE query 10.71.0.1 123 --timeout 0.5 >/dev/null 2>&1"
check "A's denied address (10.71.0.3) gets no reply" bash -c "! ip netns exec '${A}c' $NTPPROBE query 10.71.0.1 123 --src 10.71.0.3 --timeout 0.5 >/dev/null 2>&1"

# A capture in both of B's namespaces while A is busy: none of A's addresses may show up;
# B's own traffic, sent during the capture, must (the capture works).
for ns in "$B" "${B}c"; do
  ip netns exec "$ns" tshark -q -i any -f "udp" -w "$T_DIR/cap-$ns.pcap" >"$T_DIR/tshark-$ns.log" 2>&1 &
  T_PIDS+=($!)
done
wait_for 10 grep -q "Capturing on" "$T_DIR/tshark-$B.log" "$T_DIR/tshark-${B}c.log" || log "tshark is slow to start"
sleep 0.5
ip netns exec "${A}c" $NTPPROBE burst 10.71.0.1 123 --count 20 --src 10.71.0.2 --interval 0.01 >/dev/null
ip netns exec "${B}c" $NTPPROBE burst 10.72.0.1 123 --count 3 >/dev/null
sleep 0.5
for p in "${T_PIDS[@]: -2}"; do kill -INT "$p"; done
for p in "${T_PIDS[@]: -2}"; do wait "$p" 2>/dev/null; done
for ns in "$B" "${B}c"; do
  pkts=$(tshark -r "$T_DIR/cap-$ns.pcap" -T fields -e ip.src -e ip.dst 2>/dev/null)
  check "capture in $ns: none of A's traffic" bash -c "! grep -q '10\.71\.' <<<'$pkts'"
  check "capture in $ns: B's own requests seen ($(grep -c '10\.72\.0\.1' <<<"$pkts") packets)" grep -q '10\.72\.0\.1' <<<"$pkts"
done

# Per-tenant counters: exactly what was sent. A: 1 + 1 (denied) + 20; B: 1 + 3.
sent_a=$(ip netns exec "${A}c" $NTPPROBE burst 10.71.0.1 123 --count 10 --src 10.71.0.2)
denied_a=$(ip netns exec "${A}c" $NTPPROBE burst 10.71.0.1 123 --count 5 --src 10.71.0.3 --wait 0.3)
check "A: 10 answered in a burst" test "$(jq .reply <<<"$sent_a")" = 10
check "A: 5 denied in a burst" test "$(jq .reply <<<"$denied_a")" = 0
sleep 0.2 # the server threads publish their counters after each batch
ctlc tenants | sed 's/^/#   /'
check "tenants: A requests = 37" test "$(tenant_field A requests)" = 37
check "tenants: A answered = 31" test "$(tenant_field A answered)" = 31
check "tenants: A denied = 6" test "$(tenant_field A denied)" = 6
check "tenants: A clients = 1 (a denied address takes no place)" test "$(tenant_field A clients)" = 1
check "tenants: B requests = 4, answered = 4" test "$(tenant_field B requests)/$(tenant_field B answered)" = 4/4
check "tenants: B denied = 0, rate-limited = 0" test "$(tenant_field B denied)/$(tenant_field B ratelimited)" = 0/0
check "tenants: A serving in $A" test "$(tenant_field A state)/$(tenant_field A netns)" = "serving/$A"
check "serverstats (the default listener) saw none of it" test "$(ctlc --json serverstats | jq -r .received)" = 1
check "allow check A 10.71.0.3: deny by 10.71.0.3/32" \
  bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check A 10.71.0.3 | jq -e '.action == \"deny\" and .rule == \"10.71.0.3/32\" and .tenant == \"A\"' >/dev/null"
check "allow check A 10.71.0.2: allow by 10.71.0.0/24" \
  bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check A 10.71.0.2 | jq -e '.action == \"allow\" and .rule == \"10.71.0.0/24\"' >/dev/null"
check "allow check B 10.1.2.3: allow by default" \
  bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check B 10.1.2.3 | jq -e '.action == \"allow\" and .origin == \"default\"' >/dev/null"
check "metrics: per-tenant series" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' metrics | grep -q 'tenant=\"A\"'"

# Runtime: tenant C added and deleted while A and B keep being asked.
veth_tenant "$C" "${C}c" 10.73.0 c
wait_for 5 link_up "${C}c" "vc$$c" || die "tC: no link"
ip netns exec "${A}c" $NTPPROBE burst 10.71.0.1 123 --count 60 --src 10.71.0.2 --interval 0.05 >"$T_DIR/bgA.json" &
bg_a=$!
ip netns exec "${B}c" $NTPPROBE burst 10.72.0.1 123 --count 60 --interval 0.05 >"$T_DIR/bgB.json" &
bg_b=$!
check "tenant add outside [tenants] runtime is refused" bash -c "! '$TR7NTPC' -s '$T_DIR/ctl.sock' tenant add X netns $A listen 10.71.0.9:123 2>/dev/null"
t0=$(date +%s.%N)
ctlc tenant add C netns "$C" listen 10.73.0.1:123 allow 10.73.0.0/24 || fail "tenant add C"
got=""
for _ in $(seq 1 20); do
  got=$(q "${C}c" 10.73.0.1) && break
  [ "$(echo "$(date +%s.%N) - $t0 > 1" | bc)" = 1 ] && break
done
elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
check "tenant C answers within a second of 'tenant add' (${elapsed}s)" test "$got" = 10 -a "$(echo "$elapsed < 1" | bc)" = 1
check "tenant list: C from runtime" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tenant list | jq -e '.[] | select(.name == \"C\") | .origin == \"runtime\"' >/dev/null"
ctlc tenant delete C || fail "tenant delete C"
check "after 'tenant delete C' C no longer answers" bash -c "! ip netns exec '${C}c' $NTPPROBE query 10.73.0.1 123 --timeout 0.5 >/dev/null"
wait $bg_a $bg_b
check "A answered every request during add/delete ($(jq -c . "$T_DIR/bgA.json"))" test "$(jq .reply "$T_DIR/bgA.json")" = 60
check "B answered every request during add/delete ($(jq -c . "$T_DIR/bgB.json"))" test "$(jq .reply "$T_DIR/bgB.json")" = 60
check "audit: tenant add C" grep -q '"command":"tenant add C netns' "$T_DIR/state/audit/audit.log"
check "audit: tenant delete C" grep -q '"command":"tenant delete C"' "$T_DIR/state/audit/audit.log"
check "runtime state no longer has C" bash -c "! grep -q '^tenant=C' '$T_DIR/state/runtime.state'"

# A tenant added to the file and reloaded, on an address no runtime rule admits (under
# privilege separation the helper must read the file again to open it).
ip -n "$C" addr add 10.74.0.1/24 dev "vc$$s"
ip -n "${C}c" addr add 10.74.0.2/24 dev "vc$$c"
printf '[tenant D]\nnetns = %s\nlisten = 10.74.0.1:123\n' "$C" >>"$T_DIR/d.conf"
ctlc reload >/dev/null || fail "reload"
check "tenant D (added by reload) answers" test "$(q "${C}c" 10.74.0.1)" = 10
check "tenant list: D from config" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tenant list | jq -e '.[] | select(.name == \"D\") | .origin == \"config\"' >/dev/null"

# A flood towards A (2000 requests from 50 addresses, as fast as one sender goes) does
# not keep B from answering: separate sockets, separate queues, separate threads.
for i in $(seq 10 59); do ip -n "${A}c" addr add "10.71.0.$i/24" dev "va$$c"; done
ip netns exec "${A}c" $NTPPROBE burst 10.71.0.1 123 --count 2000 --src-base 10.71.0.10 --src-count 50 --wait 0.5 >"$T_DIR/flood.json" &
flood=$!
ip netns exec "${B}c" $NTPPROBE burst 10.72.0.1 123 --count 20 --interval 0.02 >"$T_DIR/during.json"
wait $flood
log "flood towards A: $(jq -c . "$T_DIR/flood.json")"
check "B answered all 20 requests during A's flood" test "$(jq .reply "$T_DIR/during.json")" = 20

# B's namespace deleted and made again: detected, logged, served again.
ip netns del "$B"
wait_for 5 grep -q "tenant B: network namespace $B is gone" "$T_DIR/d.log" || fail "namespace B gone: not logged"
check "tenants: B waiting" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tenants | jq -e '.[] | select(.name == \"B\") | .state | startswith(\"waiting\")' >/dev/null"
ip netns add "$B"
ip -n "$B" link set lo up
ip -n "${B}c" link del "vb$$c" 2>/dev/null
ip link add "vb$$s" netns "$B" type veth peer name "vb$$c" netns "${B}c"
ip -n "$B" addr add 10.72.0.1/24 dev "vb$$s"
ip -n "$B" link set "vb$$s" up
ip -n "${B}c" addr add 10.72.0.2/24 dev "vb$$c"
ip -n "${B}c" link set "vb$$c" up
wait_for 5 grep -q "tenant B: serving again" "$T_DIR/d.log" || fail "tenant B: not re-bound"
check "B's client gets time again from the new namespace" wait_for 5 q "${B}c" 10.72.0.1
check "A kept answering" test "$(q "${A}c" 10.71.0.1 10.71.0.2)" = 10
check "tenants: B rebinds = 1" test "$(tenant_field B rebinds)" = 1

# The upstream in the management namespace: reached from there (`server = ... netns`).
ip netns exec "$M" $PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 10.75.0.1 123 >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
rx_ok() { [ "$(ctlc --json ntpdata 10.75.0.1 | jq -r '.valid_rx')" -gt 0 ]; }
check "the upstream in netns $M answers the daemon's polls" wait_for 8 rx_ok
check "B's namespace cannot reach the management upstream" \
  bash -c "! ip netns exec '$B' $NTPPROBE query 10.75.0.1 123 --timeout 0.5 >/dev/null 2>&1"

# A tenant added at run time is served again after a restart (runtime state).
ctlc tenant add E netns "$C" listen 10.73.0.1:123 >/dev/null || fail "tenant add E"
kill "$TR7_PID"
wait "$TR7_PID" 2>/dev/null
start_tr7ntpd d2 "$(cat "$T_DIR/d.conf")"
check "runtime tenant E is served again after a restart" wait_for 3 q "${C}c" 10.73.0.1
check "tenant list after the restart: E (runtime), A, B, D" \
  test "$(ctlc --json tenant list | jq -r '[.[] | .name + ":" + .origin] | sort | join(",")')" = \
  "A:config,B:config,D:config,E:runtime"
# tr7top shows a row per tenant (with its counters) under the daemon's own server.
TR7TOP=${TR7TOP:-$TR7_BUILDDIR/src/tools/tr7top/tr7top}
if command -v tmux >/dev/null 2>&1 && [ -x "$TR7TOP" ]; then
  TM=(tmux -S "$T_DIR/tmux.sock" -f /dev/null)
  "${TM[@]}" new-session -d -s top -x 200 -y 50 "env TERM=screen-256color $TR7TOP -s $T_DIR/ctl.sock -i 0.5" ||
    fail "tmux new-session"
  tenant_rows() { "${TM[@]}" capture-pane -p -t top | grep -Eq '^ A +[0-9]' && "${TM[@]}" capture-pane -p -t top | grep -Eq '^ E +[0-9]'; }
  check "tr7top: rows for tenants A and E" wait_for 5 tenant_rows || "${TM[@]}" capture-pane -p -t top | sed 's/^/#   | /'
  "${TM[@]}" kill-server >/dev/null 2>&1
fi
finish
