#!/bin/bash
# tr7ntpd (clock none) against scriptable fake upstreams (fakentp.py): a falseticker,
# KoD DENY and RATE, a leap indicator on a day without a leap second, every kind of
# malformed reply, random source ports, the initial step and the offset tolerance.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv

# pyenv shims take a second or more per start: use the system interpreter when present.
PY=$(command -v /usr/bin/python3 || command -v python3)
NTPPROBE="$PY $TR7_SRCDIR/test/system/ntpprobe.py"
FAKE="$TR7_SRCDIR/test/system/fakentp.py"
port=$(free_port)
our_port=$(free_port)
FAKES=()

# fake NAME ADDR ARGS...: a fake upstream on ADDR:$port, stats to $T_DIR/NAME.json.
fake() {
  local name=$1 addr=$2
  shift 2
  $PY "$FAKE" "$addr" "$port" --stats "$T_DIR/$name.json" "$@" >"$T_DIR/$name.log" 2>&1 &
  T_PIDS+=($!)
  FAKES+=($!)
}
stop_fakes() {
  local p
  for p in "${FAKES[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${FAKES[@]}"; do wait "$p" 2>/dev/null; done
  FAKES=()
}
wait_fakes() {
  local a
  for a in "$@"; do
    wait_for 10 $NTPPROBE query "$a" "$port" --timeout 0.3 || die "fake upstream on $a not answering"
  done
}
srv() { echo "server = $1 port $port iburst minpoll ${2:--2} maxpoll ${3:-0} burst_interval 0.25"; }
conf() {
  printf '[daemon]\nclock = none\nstate_dir = %s\nlog_level = debug\n[server]\nlisten = 127.0.0.1:%s\n' "$T_DIR" "$our_port"
  printf '[discipline]\ndrift_file = none\n%s\n[sources]\n' "${DISC:-}"
  printf '%s\n' "$@"
}
probe() { $NTPPROBE query 127.0.0.1 "$our_port" --timeout 0.5; }
# The offset of the best of 5 probes (smallest round trip): a loaded machine (parallel
# sanitizer tests) can delay the probe's own user-space timestamps by milliseconds.
best_offset() {
  local i
  for i in 1 2 3 4 5; do probe; done | $PY -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
rs = [r for r in rs if "delay" in r]
print(min(rs, key=lambda r: r["delay"])["offset"] if rs else "nan")'
}
field() { $PY -c "import json,sys; r=json.load(sys.stdin); print(r.get('$1', 'none'))"; }
synced() { probe | $PY -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["leap"]!=3 and r["stratum"]!=0 else 1)'; }
state_dump() {
  local logf=$1 before
  before=$(grep -c "tracking:" "$logf")
  kill -USR1 "$TR7_PID"
  wait_until 5 '[ "$(grep -c "tracking:" "$logf")" -gt "$before" ]'
}
source_line() { grep "source $1:$port " "$2" | tail -n 1; }

# --- A: a falseticker, a spoofer of origins, random source ports --------------------
log "case A: falseticker (+1 s), bad origins, source ports"
fake a2 127.0.0.2
fake a3 127.0.0.3
fake a4 127.0.0.4 --offset 1.0
fake a5 127.0.0.5 --malformed bad_origin --malformed-every 3
wait_fakes 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5
start_tr7ntpd a "$(conf "$(srv 127.0.0.2)" "$(srv 127.0.0.3)" "$(srv 127.0.0.4)" "$(srv 127.0.0.5)" "min_sources = 2")"
check "A: synchronised" wait_for 5 synced
sleep 4
off=$(best_offset)
log "A: served offset vs system clock: $off"
check "A: the falseticker is not followed" $PY -c "import sys; sys.exit(0 if abs(float('$off')) < 0.005 else 1)"
state_dump "$T_DIR/a.log"
l4=$(source_line 127.0.0.4 "$T_DIR/a.log")
l5=$(source_line 127.0.0.5 "$T_DIR/a.log")
log "A: $l4"
log "A: $l5"
check "A: falseticker not selected" bash -c "grep -Eq 'state=(falseticker_or_unusable)' <<<'$l4'"
check "A: bad origins counted" bash -c "grep -Eq 'bad_origin=[1-9]' <<<'$l5'"
kill -TERM "$TR7_PID"
stop_fakes
ports_ok=$($PY - "$T_DIR"/a2.json "$T_DIR"/a3.json "$T_DIR"/a4.json <<'EOF'
import json, sys
req = ports = p123 = 0
for f in sys.argv[1:]:
    s = json.load(open(f))
    req += s["requests"]; ports += s["distinct_ports"]; p123 += s["port_123"]
print("requests=%d distinct_ports=%d port_123=%d" % (req, ports, p123))
sys.exit(0 if req >= 30 and ports >= 0.95 * req and p123 == 0 else 1)
EOF
) && pass "A: fresh random source port per request ($ports_ok)" || fail "A: source ports ($ports_ok)"

# --- B: KoD DENY retires, KoD RATE backs off ------------------------------------------
log "case B: KoD DENY and RATE"
fake b2 127.0.0.2
fake b3 127.0.0.3
fake b4 127.0.0.4 --kod DENY
fake b5 127.0.0.5 --kod RATE --kod-after 2
wait_fakes 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5
start_tr7ntpd b "$(conf "$(srv 127.0.0.2)" "$(srv 127.0.0.3)" "$(srv 127.0.0.4)" "$(srv 127.0.0.5 -2 1)" "min_sources = 2")"
check "B: synchronised" wait_for 5 synced
sleep 3
state_dump "$T_DIR/b.log"
l4=$(source_line 127.0.0.4 "$T_DIR/b.log")
l5=$(source_line 127.0.0.5 "$T_DIR/b.log")
log "B: $l4"
log "B: $l5"
check "B: DENY logged" grep -q "127.0.0.4:$port refused us with a KoD" "$T_DIR/b.log"
check "B: DENY retires the source" bash -c "grep -q 'state=retired' <<<'$l4'"
check "B: RATE raises the poll to maxpoll" bash -c "grep -q 'poll=1 ' <<<'$l5' && grep -Eq 'kod_rate=[1-9]' <<<'$l5'"
sent4=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$l4")
check "B: no request after DENY" test "${sent4:-99}" -le 1
kill -TERM "$TR7_PID"
stop_fakes

# --- C: LI=1 on a day without a leap second; every malformed reply -----------------
log "case C: leap indicator on $(date -u +%F) (not a leap day), malformed replies"
fake c2 127.0.0.2 --leap 1
fake c3 127.0.0.3 --leap 1
fake c4 127.0.0.4 --leap 1
kinds=(short zero_origin zero_transmit mode3 stratum16 li3 bad_version huge_root rx_after_tx duplicate)
lines=("$(srv 127.0.0.2)" "$(srv 127.0.0.3)" "$(srv 127.0.0.4)")
i=10
for k in "${kinds[@]}"; do
  fake "c$i" "127.0.0.$i" --malformed "$k"
  lines+=("$(srv 127.0.0.$i)")
  i=$((i + 1))
done
wait_fakes 127.0.0.2 127.0.0.3 127.0.0.4
start_tr7ntpd c "$(conf "${lines[@]}" "min_sources = 3")"
check "C: synchronised despite the junk" wait_for 5 synced
sleep 3
leap=$(probe | field leap)
check "C: LI=1 outside 30 June / 31 December is ignored (served LI $leap)" test "$leap" = 0
state_dump "$T_DIR/c.log"
declare -A want=([short]=malformed [zero_origin]=bad_origin [zero_transmit]=zero_timestamp [mode3]=bad_mode
  [stratum16]=bad_stratum [li3]=unsynchronised [bad_version]=malformed [huge_root]=root_distance
  [rx_after_tx]=bad_delay [duplicate]=not_requested)
i=10
for k in "${kinds[@]}"; do
  l=$(source_line "127.0.0.$i" "$T_DIR/c.log")
  if [ "$k" = duplicate ]; then
    check "C: duplicate replies: one used, the second refused" bash -c "grep -Eq 'not_requested=[1-9]' <<<'$l' && grep -Eq 'accepted=[1-9]' <<<'$l'"
  else
    check "C: $k refused as ${want[$k]}, never used" bash -c "grep -Eq '${want[$k]}=[1-9]' <<<'$l' && grep -q 'accepted=0 ' <<<'$l'"
  fi
  i=$((i + 1))
done
kill -0 "$TR7_PID" || fail "C: tr7ntpd died"
kill -TERM "$TR7_PID"
stop_fakes

# --- D: 500 s behind: one step; then all sources jump +10 s: held -------------------
log "case D: initial step of +500 s, then a +10 s jump held by offset_tolerance"
for a in 2 3 4; do
  fake "d$a" "127.0.0.$a" --offset 500 --jump-file "$T_DIR/jump" --jump 10
done
wait_fakes 127.0.0.2 127.0.0.3 127.0.0.4
DISC="makestep = 0.128 3
offset_tolerance = 1.0" start_tr7ntpd d "$(DISC="makestep = 0.128 3
offset_tolerance = 1.0" conf "$(srv 127.0.0.2)" "$(srv 127.0.0.3)" "$(srv 127.0.0.4)" "min_sources = 2")"
check "D: synchronised" wait_for 5 synced
off=$(best_offset)
log "D: served offset after the step: $off"
check "D: stepped to +500 s" $PY -c "import sys; sys.exit(0 if abs(float('$off') - 500) < 0.005 else 1)"
touch "$T_DIR/jump"
check "D: held after the jump" wait_for 10 grep -q "is held" "$T_DIR/d.log"
sleep 1
off=$(best_offset)
rd=$(probe | field root_dispersion)
log "D: served offset while held: $off, root dispersion $rd"
check "D: the jump is not followed" $PY -c "import sys; sys.exit(0 if abs(float('$off') - 500) < 0.005 else 1)"
check "D: honest dispersion while held" $PY -c "import sys; sys.exit(0 if float('$rd') >= 9.9 else 1)"
check "D: exactly one step" test "$(grep -c 'clock stepped' "$T_DIR/d.log")" -eq 1
check "D: the start-up step is audited (makestep policy)" \
  test "$(grep '"command":"clock step"' "$T_DIR/audit/audit.log" | grep -c '"result":"ok: makestep policy')" -eq 1
check "D: the held correction is audited with its id" \
  grep -Eq '"via":"ntp","command":"correction held","before":"","after":"id=[0-9]+ offset_s=(9\.9|10)' "$T_DIR/audit/audit.log"
kill -TERM "$TR7_PID"
stop_fakes
finish
