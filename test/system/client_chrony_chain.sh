#!/bin/bash
# A chain of real peers: four `chronyd -x` servers (local stratum 2) on 127.0.0.2-5,
# tr7ntpd (clock none) synchronising from them, and a `chronyd -x` client synchronising
# from tr7ntpd. Checks the reference state tr7ntpd serves (stratum, refid, LI, root
# values), that its served time agrees with the system clock all of them share, the
# drift file written at exit, and that the downstream chronyd accepts us as its source.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd chronyc python3 setpriv

# pyenv shims take a second or more per start: use the system interpreter when present.
PY=$(command -v /usr/bin/python3 || command -v python3)
NTPPROBE="$PY $TR7_SRCDIR/test/system/ntpprobe.py"
up_port=$(free_port)
our_port=$(free_port)
for i in 2 3 4 5; do
  start_chronyd "up$i" "local stratum 2
allow 127.0.0.0/8
port $up_port
bindaddress 127.0.0.$i
driftfile $T_DIR/up$i/drift"
done
# chronyd needs a moment to bind its NTP port after the command socket.
wait_for 10 $NTPPROBE query 127.0.0.5 "$up_port" --timeout 0.5 || die "upstream chronyd not answering"

mkdir -p "$T_DIR/state"
srv() { echo "server = 127.0.0.$1 port $up_port iburst minpoll -2 maxpoll 0 burst_interval 0.25"; }
start_tr7ntpd tr7 "[daemon]
clock = none
state_dir = $T_DIR/state
log_level = debug
[server]
listen = 127.0.0.1:$our_port
[sources]
$(srv 2)
$(srv 3)
$(srv 4)
$(srv 5)
min_sources = 3"
TR7=$TR7_PID

synced() { $NTPPROBE query 127.0.0.1 "$our_port" --timeout 0.5 | $PY -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["leap"]!=3 and r["stratum"]==3 else 1)'; }
check "tr7ntpd synchronises from four chronyd servers" wait_for 5 synced
grep -q "synchronised (offset" "$T_DIR/tr7.log" || fail "no 'synchronised' log line"
start_ms=$(grep -m1 "started:" "$T_DIR/tr7.log" | sed 's/^[^T]*T\([0-9:.]*\)Z.*/\1/')
sync_ms=$(grep -m1 "synchronised (offset" "$T_DIR/tr7.log" | sed 's/^[^T]*T\([0-9:.]*\)Z.*/\1/')
log "started $start_ms, synchronised $sync_ms"

sleep 3
# The best of 5 probes (smallest round trip): a loaded machine can delay the probe's
# own user-space timestamps by milliseconds.
reply=$(for i in 1 2 3 4 5; do $NTPPROBE query 127.0.0.1 "$our_port"; done | $PY -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
print(json.dumps(min((r for r in rs if "delay" in r), key=lambda r: r["delay"])))')
log "our reply: $reply"
$PY - "$reply" <<'EOF' || fail "reference state served by tr7ntpd"
import json, sys
r = json.loads(sys.argv[1])
ok = True
def need(cond, what):
    global ok
    if not cond:
        print("FAIL: " + what); ok = False
need(r["leap"] == 0, "LI 0")
need(r["stratum"] == 3, "stratum 3 (chronyd's 2 + 1)")
need(r["refid"] in ("7F000002", "7F000003", "7F000004", "7F000005"), "refid is one of the upstreams")
need(r["root_delay"] < 0.01, "root delay small")
need(r["root_dispersion"] < 0.01, "root dispersion small")
# Every daemon here serves the same system clock: the served time must agree with it.
need(abs(r["offset"]) < 0.001, "served time within 1 ms of the system clock (%.6f)" % r["offset"])
sys.exit(0 if ok else 1)
EOF

# The downstream chronyd -x client.
start_chronyd down "server 127.0.0.1 port $our_port iburst minpoll -2 maxpoll 0"
DOWN=$CHRONYC
down_synced() { $DOWN tracking 2>/dev/null | grep -q "^Reference ID *: 7F000001"; }
check "chronyd -x synchronises from tr7ntpd" wait_for 15 down_synced
tracking=$($DOWN tracking 2>/dev/null)
log "$(grep -E 'Reference|Stratum|Leap' <<<"$tracking" | tr '\n' ' ')"
check "downstream stratum 4" grep -q "^Stratum *: 4" <<<"$tracking"
check "downstream leap status normal" grep -q "^Leap status *: Normal" <<<"$tracking"

# Statistics: every upstream selected or a truechimer, no steps (all serve one clock).
kill -USR1 "$TR7"
wait_for 5 grep -q "tracking: synchronised" "$T_DIR/tr7.log" || fail "no tracking line"
grep "tracking:\|source 127" "$T_DIR/tr7.log" | tail -n 5 | while read -r l; do log "$l"; done
check "no step" bash -c "! grep -q 'clock stepped' '$T_DIR/tr7.log'"
# reach=376: the dump can come while a poll is in flight (its bit is shifted in at the
# send and set at the reply; at poll -2 a run caught one). timeouts=0 says none was lost.
# The source lines follow the tracking line: wait for the dump's last four.
four_reachable() {
  [ "$(grep 'source 127.0.0' "$T_DIR/tr7.log" | tail -n 4 | grep -E 'reach=37[67] ' | grep -c ' timeouts=0')" -ge 4 ]
}
check "four reachable sources, none timed out" wait_for 5 four_reachable

# The drift file is written at exit.
kill -TERM "$TR7"
wait_for 5 bash -c "! kill -0 $TR7 2>/dev/null" || fail "tr7ntpd did not stop"
check "drift file written at exit" grep -Eq '^-?[0-9]+\.[0-9]+$' "$T_DIR/state/drift"
finish
