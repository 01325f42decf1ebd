#!/bin/bash
# HA: two nodes, B following an upstream 50 ms off. A polls B as a `peer`: it shows B's
# offset in `peers`, fires peer_disagreement, and keeps its own reference (B is never
# selected). A mode-1 (symmetric active) request gets a mode-2 reply. A [server]
# address not on the host yet (a standby's VIP) does not stop the start; it is served
# once it arrives.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv jq ip
FAKE="$PYTHON3 $TR7_SRCDIR/test/system/fakentp.py"
up=$(free_port)
pa=$(free_port)
pb=$(free_port)
$FAKE 127.0.0.2 "$up" >"$T_DIR/u1.log" 2>&1 &
T_PIDS+=($!)
$FAKE 127.0.0.3 "$up" --offset 0.05 >"$T_DIR/u2.log" 2>&1 &
T_PIDS+=($!)
for a in 127.0.0.2 127.0.0.3; do
  wait_for 10 $NTPPROBE query "$a" "$up" --timeout 0.3 || die "fake upstream $a not answering"
done
node() {  # NAME OUR_PORT UPSTREAM PEER_PORT
  printf '[daemon]\nclock = none\ncontrol_socket = %s/%s.sock\nnode = %s\n[server]\nlisten = 127.0.0.1:%s\n' \
    "$T_DIR" "$1" "$1" "$2"
  printf '[sources]\nserver = %s port %s iburst minpoll 0 maxpoll 1\npeer = 127.0.0.1 port %s minpoll 0 maxpoll 2\n' \
    "$3" "$up" "$4"
  printf '[alerts]\npeer_max_offset = 0.02\nhold = 2\n'
}
start_tr7ntpd a "$(node a "$pa" 127.0.0.2 "$pb")"
start_tr7ntpd b "$(node b "$pb" 127.0.0.3 "$pa")"
ca() { "$TR7NTPC" -s "$T_DIR/a.sock" "$@"; }
cb() { "$TR7NTPC" -s "$T_DIR/b.sock" "$@"; }
ca waitsync --timeout 20 >/dev/null || die "a not synchronised"
cb waitsync --timeout 20 >/dev/null || die "b not synchronised"

peer_off() { ca --json peers | jq -r '.[0].offset_s // empty'; }
check "A measures B in peers" wait_until 20 '[ -n "$(peer_off)" ] && jq -en "($(peer_off) - 0.05 | fabs) < 0.01"'
ca peers | sed 's/^/# /'
log "A: peer B offset $(peer_off) s (B follows an upstream 50 ms ahead)"
firing() { "$TR7NTPC" -s "$T_DIR/$1.sock" --json alerts | jq -e 'map(select(.alert == "peer_disagreement" and .state == "firing" and .subject == "127.0.0.1:'"$2"'")) | length == 1'; }
check "A fires peer_disagreement about B" wait_for 20 firing a "$pb"
check "B fires peer_disagreement about A" wait_for 20 firing b "$pa"
ca alerts | sed 's/^/# /'
check "peers marks the disagreement" bash -c "'$TR7NTPC' -s '$T_DIR/a.sock' --json peers | jq -e '.[0].disagrees == true and .[0].state == \"ok\" and .[0].stratum == 2'"
check "A keeps its own reference (the upstream, not B)" bash -c "'$TR7NTPC' -s '$T_DIR/a.sock' --json tracking | jq -e '.ref_id == \"0x7F000002\" and .stratum == 2'"
check "B is not among A's sources" bash -c "'$TR7NTPC' -s '$T_DIR/a.sock' --json sources | jq -e 'length == 1 and .[0].address == \"127.0.0.2\"'"
best() {  # the offset of A's served time against the system clock, best of 5
  for _ in 1 2 3 4 5; do $NTPPROBE query 127.0.0.1 "$pa" --timeout 0.5; done | jq -s 'map(select(.delay != null)) | min_by(.delay) | .offset'
}
off=$(best)
log "A serves $off s from the system clock"
check "A's served time follows its upstream, not B (|offset| < 10 ms)" jq -en "($off | fabs) < 0.01"

r=$($NTPPROBE query 127.0.0.1 "$pa" --mode 1)
log "mode-1 request: $r"
check "a mode-1 request gets a mode-2 reply" jq -e '.mode == 2 and .stratum == 2 and .leap == 0 and .origin_ok' <<<"$r"

# --- a listen address that is not there yet (a floating VIP) -----------------------------
ns=tr7ha$$
add_netns "$ns"
pv=$(free_port)
start_tr7ntpd vip "[daemon]
clock = none
[server]
listen = 127.0.0.1:$pv, 10.77.0.1:$pv
allow = 10.77.0.0/24
local_stratum = 5" ip netns exec "$ns"
check "the start goes on without the VIP (IP_FREEBIND), saying so" grep -q "10.77.0.1:$pv is not on this host" "$T_DIR/vip.log"
ip -n "$ns" addr add 10.77.0.1/32 dev lo
check "the VIP is served once it arrives" wait_for 5 ip netns exec "$ns" $NTPPROBE query 10.77.0.1 "$pv" --timeout 0.5
finish
