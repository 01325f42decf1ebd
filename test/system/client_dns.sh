#!/bin/bash
# Names through a real DNS exchange: in a network namespace of its own the test runs a
# DNS responder (fakedns.py, the namespace's only name server via /etc/netns/NS/resolv.conf)
# and fake upstreams; tr7ntpd (clock none) there has
#   pool = pool.tr7.test maxsources 4   (4 A records: the pool is expanded to 4 sources)
#   server = late.tr7.test              (NXDOMAIN for 3 s: retried with backoff, then found)
#   server = slow.tr7.test              (answered after 4 s: nothing waits for it)
# and must serve NTP at once, expand the pool, retry the failing name, pick up the slow
# one, and synchronise.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ip jq setpriv

PY=$(command -v /usr/bin/python3 || command -v python3)
NTPPROBE="$PY $TR7_SRCDIR/test/system/ntpprobe.py"
ns="tr7dns$$"
add_netns "$ns"
NX=(ip netns exec "$ns")
# ip netns exec bind-mounts /etc/netns/NS/* over /etc/* for the commands it runs.
mkdir -p "/etc/netns/$ns"
printf 'nameserver 127.0.0.1\noptions timeout:6 attempts:2\n' >"/etc/netns/$ns/resolv.conf"
printf '127.0.0.1 localhost\n' >"/etc/netns/$ns/hosts"
trap 'rc=$?; rm -rf "/etc/netns/$ns"; (exit $rc); cleanup' EXIT

"${NX[@]}" $PY "$TR7_SRCDIR/test/system/fakedns.py" 127.0.0.1 53 \
  --a pool.tr7.test=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 \
  --a late.tr7.test=127.0.0.6 --missing-for late.tr7.test=3 \
  --a slow.tr7.test=127.0.0.7 --delay slow.tr7.test=4 \
  --log "$T_DIR/dns.queries" >"$T_DIR/dns.log" 2>&1 &
T_PIDS+=($!)
for i in 2 3 4 5 6 7; do
  "${NX[@]}" $PY "$TR7_SRCDIR/test/system/fakentp.py" "127.0.0.$i" 123 --stratum 2 >"$T_DIR/fake$i.log" 2>&1 &
  T_PIDS+=($!)
done
for i in 2 3 4 5 6 7; do
  wait_for 10 "${NX[@]}" $NTPPROBE query "127.0.0.$i" 123 --timeout 0.3 || die "fake upstream 127.0.0.$i not answering"
done

opts="iburst minpoll -2 maxpoll 0 burst_interval 0.25"
start_tr7ntpd d "[daemon]
clock = none
state_dir = $T_DIR/state
control_socket = $T_DIR/ctl.sock
log_level = debug
[server]
listen = 127.0.0.1:1123
allow = 127.0.0.0/8
[discipline]
drift_file = none
[sources]
min_sources = 1
pool = pool.tr7.test maxsources 4 $opts
server = late.tr7.test $opts
server = slow.tr7.test $opts" "${NX[@]}"
t0=$SECONDS

j() { ctlc --json "$@"; }
# While slow.tr7.test is still unanswered, the daemon answers NTP and the pool is in.
check "NTP answers at once (a name still being resolved blocks nothing)" \
  "${NX[@]}" $NTPPROBE query 127.0.0.1 1123 --timeout 0.5
pool_addrs() { j sources | jq -r '[.[] | select(.name == "pool.tr7.test") | .address] | sort | join(",")'; }
check "the pool expands to its 4 addresses" \
  wait_until 3 '[ "$(pool_addrs)" = "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" ]'
pool_now=$(pool_addrs)
[ "$pool_now" = "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" ] || log "pool addresses: $pool_now"
resolved() { j sources | jq -e --arg n "$1" --arg a "$2" 'any(.[]; .name == $n and .address == $a)' >/dev/null; }
if [ $((SECONDS - t0)) -lt 3 ]; then
  if resolved slow.tr7.test 127.0.0.7; then fail "slow.tr7.test resolved before its answer"; else
    pass "slow.tr7.test not resolved yet (its answer comes after 4 s)"; fi
fi
check "slow.tr7.test resolves when its answer comes" wait_for 10 resolved slow.tr7.test 127.0.0.7
check "late.tr7.test resolves once its record exists (retried)" wait_for 20 resolved late.tr7.test 127.0.0.6
synced() { j tracking | jq -e '.synchronised == true and .stratum == 3' >/dev/null; }
check "synchronised (stratum 3) from the resolved sources" wait_for 15 synced
reachable() { j sources | jq -e '[.[] | select(.reach != 0)] | length == 6' >/dev/null; }
check "all 6 resolved sources reachable" wait_for 10 reachable

# What the name server saw.
q() { awk -v n="$1" -v r="$2" '$2 == 1 && $3 == n && $4 == r' "$T_DIR/dns.queries" | wc -l; }
check "late.tr7.test: NXDOMAIN, then an answer" test "$(q late.tr7.test 3)" -ge 1 -a "$(q late.tr7.test 0)" -ge 1
check "pool.tr7.test asked over DNS" test "$(q pool.tr7.test 0)" -ge 1
grep -q 'cannot resolve late.tr7.test' "$T_DIR/d.log" && pass "the failed resolution is logged" ||
  fail "no log line for the failed resolution"
finish
