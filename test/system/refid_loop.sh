#!/bin/bash
# The refid of an IPv6 reference is the first 32 bits of the MD5 of its address (RFC
# 5905), and timing loops between chronyd and tr7ntpd are detected over IPv6 as over
# IPv4, in both directions:
#   A  chronyd (local stratum 3) <- tr7ntpd follows it; chronyd polls tr7ntpd and must
#      see itself as tr7ntpd's reference (its test D) and not use it;
#   B  tr7ntpd (local_stratum 3) <- chronyd follows it; tr7ntpd polls chronyd and must
#      see itself as chronyd's reference (sync_loop) and not use it.
# Two namespaces joined by a veth (tr7ntpd's side .1, chronyd's side .2), so each
# daemon's address is its own, as on two hosts. All four pairs run at once.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd chronyc ip jq python3 setpriv
NA=tr7la$$ NB=tr7lb$$
add_netns "$NA"
add_netns "$NB"
ip link add "v7a$$" netns "$NA" type veth peer name "v7b$$" netns "$NB" || die "veth"
ip -n "$NA" addr add 10.79.0.1/24 dev "v7a$$"
ip -n "$NA" addr add fd79::1/64 dev "v7a$$" nodad
ip -n "$NB" addr add 10.79.0.2/24 dev "v7b$$"
ip -n "$NB" addr add fd79::2/64 dev "v7b$$" nodad
ip -n "$NA" link set "v7a$$" up
ip -n "$NB" link set "v7b$$" up
link_up() { ip -n "$1" link show dev "$2" | grep -q 'state UP'; }
wait_for 5 link_up "$NA" "v7a$$" || die "no link"
wait_for 5 link_up "$NB" "v7b$$" || die "no link"

md5_refid() { $PYTHON3 -c "import hashlib, ipaddress, sys; print(hashlib.md5(ipaddress.ip_address(sys.argv[1]).packed).hexdigest()[:8].upper())" "$1"; }
v4_refid() { printf '%02X%02X%02X%02X' $(tr . ' ' <<<"$1"); }
bracket() { [[ "$1" == *:* ]] && echo "[$1]" || echo "$1"; }

# pair NAME FAMILY_ADDR_A FAMILY_ADDR_B DIRECTION: ports, configs, starts both daemons.
declare -A TPORT CPORT
pair() {
  local name=$1 a=$2 b=$3 dir=$4 tp cp
  tp=$(free_port)
  cp=$(free_port)
  TPORT[$name]=$tp
  CPORT[$name]=$cp
  local local_line="" chrony_local=""
  if [ "$dir" = A ]; then chrony_local="local stratum 3"; else local_line="local_stratum = 3"; fi
  local tconf="[daemon]
clock = none
control_socket = $T_DIR/$name.sock
log_level = debug
[server]
listen = $(bracket "$a"):$tp
allow = 10.79.0.0/24, fd79::/64
$local_line
[sources]
server = $b port $cp iburst minpoll -2 maxpoll 0 burst_interval 0.25"
  local clines="port $cp
allow all
server $a port $tp iburst minpoll -2 maxpoll -2
$chrony_local"
  start_chronyd "c$name" "$clines" ip netns exec "$NB"
  eval "CHRONYC_$name=\"\$CHRONYC\""
  start_tr7ntpd "t$name" "$tconf" ip netns exec "$NA"
}
pair A4 10.79.0.1 10.79.0.2 A
pair A6 fd79::1 fd79::2 A
pair B4 10.79.0.1 10.79.0.2 B
pair B6 fd79::1 fd79::2 B
tc() { "$TR7NTPC" -s "$T_DIR/$1.sock" "${@:2}"; }
cc() { local v="CHRONYC_$1"; ${!v} "${@:2}"; }

# --- A: tr7ntpd follows chronyd; chronyd must refuse tr7ntpd (test D) ------------------
for p in A4 A6; do
  tc "$p" waitsync --timeout 30 >/dev/null || fail "$p: tr7ntpd did not synchronise to chronyd"
done
r6=$(ip netns exec "$NB" $NTPPROBE query fd79::1 "${TPORT[A6]}")
log "A6: tr7ntpd's reply: $r6"
check "IPv6 reference: served refid = MD5(fd79::2)[0:4] = $(md5_refid fd79::2)" \
  jq -e --arg r "$(md5_refid fd79::2)" '.refid == $r and .stratum == 4' <<<"$r6"
check "IPv4 reference: served refid = the address" \
  jq -e --arg r "$(v4_refid 10.79.0.2)" '.refid == $r' <<<"$(ip netns exec "$NB" $NTPPROBE query 10.79.0.1 "${TPORT[A4]}")"
testd() {  # chronyd's "NTP tests" for tr7ntpd: tests 1-3, 5-7 pass, D (the last) fails
  cc "$1" ntpdata "$2" 2>/dev/null | grep -Eq '^NTP tests *: 111 111 [01]{3}0$'
}
for p in A4 A6; do
  a=$([ "$p" = A4 ] && echo 10.79.0.1 || echo fd79::1)
  check "$p: chronyd sees the loop (test D fails for tr7ntpd)" wait_for 20 testd "$p" "$a"
  cc "$p" ntpdata "$a" | grep -E 'Remote address|Local address|Stratum|Reference ID|NTP tests|Total (valid|good) RX' | sed "s/^/# $p chronyd: /"
  check "$p: chronyd keeps its local reference (tr7ntpd not selected)" bash -c "! chronyc -h '$T_DIR/c$p/chronyd.sock' -n sources | grep -q '^\^\*'"
done

# --- B: chronyd follows tr7ntpd; tr7ntpd must refuse chronyd (sync_loop) ---------------
for p in B4 B6; do
  a=$([ "$p" = B4 ] && echo 10.79.0.1 || echo fd79::1)
  b=$([ "$p" = B4 ] && echo 10.79.0.2 || echo fd79::2)
  want=$([ "$p" = B4 ] && v4_refid "$a" || md5_refid "$a")
  refid() { cc "$1" -n tracking | sed -n 's/^Reference ID *: \([0-9A-F]*\).*/\1/p'; }
  check "$p: chronyd follows tr7ntpd (its refid $want names tr7ntpd's address)" wait_until 30 "[ \"\$(refid $p)\" = $want ]"
  check "$p: tr7ntpd sees the loop" wait_for 20 grep -qF "source $(bracket "$b"):${CPORT[$p]} is synchronised to us" "$T_DIR/t$p.log"
  check "$p: tr7ntpd keeps its own reference (local, not chronyd)" bash -c "'$TR7NTPC' -s '$T_DIR/$p.sock' --json tracking | jq -e '.state == \"local\"'"
done
grep -h 'is synchronised to us' "$T_DIR"/tB*.log | sed 's/^/# /'
finish
