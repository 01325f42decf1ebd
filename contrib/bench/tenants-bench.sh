#!/bin/bash
# tenants-bench.sh: one tr7ntpd serving 64 tenants, each in a network namespace of its
# own (made here, deleted at the end). Prints the daemon's descriptors, threads and RSS
# with no tenant and with 64, the memory per tenant, the time to start and to add one
# more at run time, and checks that every tenant answers (and counts exactly its own
# request). Run by `make bench`; needs root (namespaces), python3, jq.
# BENCH_TENANTS (default 64) changes the count. Nothing here touches the system clock:
# the daemon runs with clock = none and without CAP_SYS_TIME.
set -u
TR7_SRCDIR=${TR7_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TR7_BUILDDIR=${TR7_BUILDDIR:-$TR7_SRCDIR}
TR7NTPC=${TR7NTPC:-$TR7_BUILDDIR/src/tools/tr7ntpc/tr7ntpc}
export TR7_PRIVSEP=0
. "$TR7_SRCDIR/test/system/lib.sh"
require_root
require_cmd ip setpriv jq
n=${BENCH_TENANTS:-64}
[ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "BENCH_TENANTS must be 1..250"

# rss_kb PID, fds PID, threads PID
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID: user + system time so far (clock ticks)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# idle_cpu PID: percent of one CPU used while idle, over 2 s
idle_cpu() {
  local a b hz
  hz=$(getconf CLK_TCK)
  a=$(cpu_ticks "$1")
  sleep 2
  b=$(cpu_ticks "$1")
  echo "scale=2; ($b - $a) * 100 / $hz / 2" | bc
}

port=$(free_port)
# The baseline: the same daemon without tenants.
base="$(printf '[daemon]\nclock = none\nstate_dir = %s/state0\ncontrol_socket = %s/ctl0.sock\n[server]\nlisten = 127.0.0.1:%s\nthreads = 1\nlocal_stratum = 10\n' "$T_DIR" "$T_DIR" "$port")"
start_tr7ntpd base "$base"
sleep 0.5
rss0=$(rss_kb "$TR7_PID") fd0=$(fds "$TR7_PID") th0=$(threads "$TR7_PID") cpu0=$(idle_cpu "$TR7_PID")
kill "$TR7_PID"
wait "$TR7_PID" 2>/dev/null

log "making $n namespaces"
conf="$(ctl_daemon_conf "$port" "" "threads = 1")
[tenants]
runtime = tr7bx$$ 10.81.0.0/16 port 123"
for i in $(seq 1 "$n"); do
  ns="tr7b$i-$$"
  add_netns "$ns"
  ip -n "$ns" addr add "10.80.$i.1/32" dev lo
  conf+="
[tenant t$i]
netns = $ns
listen = 10.80.$i.1:123"
done
t0=$(date +%s.%N)
start_tr7ntpd d "$conf"
t_start=$(echo "$(date +%s.%N) - $t0" | bc)
sleep 0.5
rss=$(rss_kb "$TR7_PID") fd=$(fds "$TR7_PID") th=$(threads "$TR7_PID") cpu=$(idle_cpu "$TR7_PID")

ok=0
for i in $(seq 1 "$n"); do
  if ip netns exec "tr7b$i-$$" $NTPPROBE query "10.80.$i.1" 123 --timeout 1 >/dev/null 2>&1; then
    ok=$((ok + 1))
  else
    fail "tenant t$i did not answer"
  fi
done
sleep 0.2
exact=$(ctlc --json tenants | jq '[.[] | select((.requests | tostring) == "1" and (.answered | tostring) == "1")] | length')
serving=$(ctlc --json tenants | jq '[.[] | select(.state == "serving")] | length')

add_netns "tr7bx$$"
ip -n "tr7bx$$" addr add 10.81.0.1/32 dev lo
t0=$(date +%s.%N)
ctlc tenant add extra netns "tr7bx$$" listen 10.81.0.1:123 >/dev/null || fail "tenant add"
ip netns exec "tr7bx$$" $NTPPROBE query 10.81.0.1 123 --timeout 1 >/dev/null 2>&1 || fail "the added tenant did not answer"
t_add=$(echo "$(date +%s.%N) - $t0" | bc)
rss_add=$(rss_kb "$TR7_PID")

echo "tenants-bench: $n tenants in one tr7ntpd (one namespace, one VIP, one thread each)"
printf '  %-28s %10s %10s\n' "" "no tenant" "$n tenants"
printf '  %-28s %10s %10s\n' "descriptors" "$fd0" "$fd"
printf '  %-28s %10s %10s\n' "threads" "$th0" "$th"
printf '  %-28s %10s %10s\n' "RSS (KiB)" "$rss0" "$rss"
printf '  %-28s %10s %10s\n' "CPU when idle (% of a CPU)" "$cpu0" "$cpu"
echo "  per tenant: $(((fd - fd0) / n)) descriptor(s), 1 thread, $(((rss - rss0) / n)) KiB RSS" \
  "(max_clients 4096 each: the client table is allocated whole)"
echo "  start-up with $n tenants: ${t_start}s; tenant add + first answer: ${t_add}s (RSS then $rss_add KiB)"
echo "  answered: $ok/$n tenants; counters exact (requests = answered = 1): $exact/$n; serving: $serving/$n"
[ "$ok" = "$n" ] || fail "not every tenant answered"
[ "$exact" = "$n" ] || fail "per-tenant counters do not match"
finish
