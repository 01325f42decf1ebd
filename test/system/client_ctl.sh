#!/bin/bash
# The control commands against the real NTP client: tr7ntpd (clock none) synchronised
# from three `chronyd -x` servers (local stratum 2); tracking, sources, sourcestats,
# selectdata, activity and ntpdata show them; `source add` of a fourth chronyd at run
# time (by name, as a pool; then by address) shows up and becomes reachable, the added
# source survives a restart (runtime state), `source delete` removes it; burst;
# makestep (audited as a clock step); the metrics pass promtool with per-source series.
# Then, against fake upstreams that jump +10 s: the correction is held (tracking shows
# its id, makestep refuses), `approve ID` applies it (a forward step), the sources
# jumping back give a new held correction that the sources release by themselves; every
# one of these is in `audit tail`.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd jq python3 setpriv promtool

PY=$PYTHON3
up_port=$(free_port)
our_port=$(free_port)
for i in 1 2 3 4; do
  start_chronyd "up$i" "local stratum 2
allow 127.0.0.0/8
port $up_port
bindaddress 127.0.0.$i"
done
for i in 1 2 3 4; do
  wait_for 10 $NTPPROBE query "127.0.0.$i" "$up_port" --timeout 0.5 || die "upstream chronyd 127.0.0.$i not answering"
done

opts="port $up_port minpoll -2 maxpoll 0 burst_interval 0.25"
srv() { echo "server = 127.0.0.$1 $opts"; }
conf=$(ctl_daemon_conf "$our_port" "log_level = debug" "[sources]
$(srv 2)
$(srv 3)
$(srv 4)
min_sources = 2")
# No local_stratum: while not synchronised the daemon must say so.
conf=$(sed '/^local_stratum/d' <<<"$conf")
start_tr7ntpd d "$conf"

j() { ctlc --json "$@"; }
check "waitsync" ctlc waitsync --timeout 10 --max-offset 0.01
t=$(j tracking)
log "tracking: $(jq -c '{state, stratum, ref_id, ref_name, offset_s, root_delay_s}' <<<"$t")"
check "tracking: synchronised, stratum 3" jq -e '.state == "synchronised" and .synchronised == true and .stratum == 3' <<<"$t"
check "tracking: the reference is one of the chronyd servers, refid = its address" \
  jq -e '(.ref_name | test("^127\\.0\\.0\\.[234]$")) and
         (.ref_id == ("0x7F0000" + ("0" + (.ref_name | split(".")[3])) ))' <<<"$t"
check "tracking: offset small, leap none, clock none, nothing held" \
  jq -e '(.offset_s | fabs) < 0.01 and .leap == "none" and .clock_mode == "none" and .held_id == null' <<<"$t"

# A few polls so that every source has samples.
sleep 2
s=$(j sources)
log "sources: $(jq -c '[.[] | {address, state, reach, offset_s}]' <<<"$s")"
check "sources: the three servers" jq -e 'length == 3 and ([.[].address] | sort) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]' <<<"$s"
check "sources: selected or combined, exactly one selected" \
  jq -e 'all(.[]; .state == "selected" or .state == "combined" or .state == "candidate") and
         ([.[] | select(.state == "selected")] | length) == 1' <<<"$s"
check "sources: reachable, stratum 2, small offsets, positive delays" \
  jq -e 'all(.[]; .reach != 0 and .stratum == 2 and (.offset_s | fabs) < 0.01 and .delay_s > 0 and .poll == -2 and .mode == "server")' <<<"$s"
# The system peer may change with every sample (the best root distance): compare the
# two answers until they come from one selection.
ref_is_selected() {
  local sel ref
  sel=$(j sources | jq -r '.[] | select(.state == "selected") | .address')
  ref=$(j tracking | jq -r .ref_name)
  [ -n "$sel" ] && [ "$sel" = "$ref" ]
}
check "tracking's reference is the selected source" wait_for 5 ref_is_selected
check "sourcestats: samples, span" jq -e 'length == 3 and all(.[]; .samples >= 2 and .span_s > 0 and .std_dev_s >= 0)' <<<"$(j sourcestats)"
sd=$(j selectdata)
log "selectdata: $(jq -c '[.[] | {address, state, reasons}]' <<<"$sd")"
check "selectdata: the selected one has no reason, the others say why" \
  jq -e 'all(.[]; (.state == "selected") == (.reasons == null)) and all(.[]; .lower_s <= .upper_s and .root_distance_s > 0)' <<<"$sd"
check "activity: 3 online" jq -e '.online + .burst_online == 3 and .offline == 0 and .unresolved == 0' <<<"$(j activity)"
nd=$(j ntpdata 127.0.0.2)
log "ntpdata: $(jq -c . <<<"$nd")"
check "ntpdata 127.0.0.2: the last exchange" \
  jq -e --argjson p "$up_port" '.address == "127.0.0.2" and .remote_port == $p and .local_address != "" and .version == 4 and
        .mode == 4 and .stratum == 2 and .valid_rx >= 2 and .tx >= .valid_rx and .kod_rx == 0 and .delay_s > 0' <<<"$nd"
ctlc ntpdata 127.0.0.9 >/dev/null 2>&1
check "ntpdata of an unknown address: exit 1" test $? = 1

# --- source add: by name, as a pool, then by address ---------------------------------
check "source add localhost pool" ctlc source add localhost pool maxsources 2 $opts
reach_of() { j sources | jq -e --arg n "$1" --arg s "$2" 'any(.[]; .name == $n and .reach != 0 and (.state | test($s)))'; }
check "the pool resolves to 127.0.0.1 and becomes reachable" wait_for 8 reach_of localhost 'selected|combined|candidate'
check "sources: mode pool, address 127.0.0.1" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e 'any(.[]; .name == \"localhost\" and .mode == \"pool\" and .address == \"127.0.0.1\")'"
ctlc source add localhost pool $opts >/dev/null 2>&1
check "source add of the same name again: exit 1" test $? = 1
ctlc source add 127.0.0.9 minpoll 5 maxpoll 4 >/dev/null 2>&1
check "source add with minpoll > maxpoll: exit 1 (the configuration's check)" test $? = 1
ctlc source add 127.0.0.9 frobnicate >/dev/null 2>&1
check "source add with an unknown option: exit 1" test $? = 1
check "source delete localhost" ctlc source delete localhost
check "sources: localhost gone" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e 'length == 3 and all(.[]; .name != \"localhost\")'"
ctlc source delete localhost >/dev/null 2>&1
check "source delete of a missing source: exit 1" test $? = 1

check "source add 127.0.0.1 (address)" ctlc source add 127.0.0.1 $opts
check "127.0.0.1 becomes reachable" wait_for 8 reach_of 127.0.0.1 'selected|combined|candidate'
check "runtime state holds the added source" grep -q "^source=127.0.0.1 " "$T_DIR/state/runtime.state"

# --- metrics ---------------------------------------------------------------------------
ctlc metrics prometheus >"$T_DIR/metrics.prom"
check "metrics: promtool accepts them" promtool check metrics <"$T_DIR/metrics.prom"
check "metrics: synchronised" grep -qx 'tr7_sync_state{state="synchronised"} 1' "$T_DIR/metrics.prom"
check "metrics: stratum 3" grep -qx 'tr7_stratum 3' "$T_DIR/metrics.prom"
# Each source's series. Its state is read until it is a good one (at most 10 s): on a
# loaded machine (the sanitizer build) a source's estimate can leave the others'
# intervals for a moment and be marked falseticker in one snapshot.
source_series_ok() {
  ctlc metrics prometheus >"$T_DIR/metrics.one" || return 1
  grep -Eq "^tr7_source_reach\\{source=\"$1\",address=\"$1\"\\} [1-9]" "$T_DIR/metrics.one" &&
    grep -Eq "^tr7_source_offset_seconds\\{source=\"$1\",address=\"$1\"\\} " "$T_DIR/metrics.one" &&
    grep -Eq "^tr7_source_delay_seconds\\{source=\"$1\",address=\"$1\"\\} [0-9]" "$T_DIR/metrics.one" &&
    grep -Eq "^tr7_source_state\\{source=\"$1\",address=\"$1\",state=\"(selected|combined|candidate)\"\\} 1" "$T_DIR/metrics.one"
}
for a in 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4; do
  check "metrics: reach, offset, delay, state of $a" wait_for 10 source_series_ok "$a"
done
check "metrics: one selected source" test "$(grep -c '^tr7_source_selected{.*} 1$' "$T_DIR/metrics.prom")" = 1

# --- burst, makestep ---------------------------------------------------------------------
tx_before=$(j ntpdata 127.0.0.2 | jq .tx)
check "burst" ctlc burst
check "burst: requests go out" wait_for 5 bash -c "test \$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json ntpdata 127.0.0.2 | jq .tx) -gt $tx_before"
ms=$(j makestep)
log "makestep: $ms"
check "makestep: stepped by a small offset" jq -e '.result | test("^stepped by [-+]0\\.0000")' <<<"$ms"
at=$(j audit tail 10)
check "audit: the makestep command (recorded before it ran)" jq -e 'any(.[]; .command == "makestep" and .via == "control" and .result == "ok")' <<<"$at"
check "audit: the clock step it made" jq -e 'any(.[]; .command == "clock step" and .via == "ntp" and .result == "ok: makestep command" and (.after | startswith("step_s=")))' <<<"$at"
check "still synchronised after makestep" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.state == \"synchronised\"'"

# --- restart: the added source comes back ---------------------------------------------
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null" || fail "tr7ntpd did not stop"
start_tr7ntpd d2 "$conf"
check "restart: restored from the runtime state" grep -q "runtime state: 0 rule change(s), 1 source(s)" "$T_DIR/d2.log"
check "restart: 127.0.0.1 is a source again and reachable" wait_for 8 reach_of 127.0.0.1 'selected|combined|candidate'
check "restart: synchronised again" ctlc waitsync --timeout 10
check "source delete 127.0.0.1" ctlc source delete 127.0.0.1
check "runtime state: no source any more" bash -c "! grep -q '^source=' '$T_DIR/state/runtime.state'"
check "sources: three again" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e 'length == 3'"
at=$(j audit tail 20)
check "audit: source add and delete" jq -e 'any(.[]; .command | startswith("source add 127.0.0.1")) and any(.[]; .command == "source delete 127.0.0.1" and (.result | startswith("ok")))' <<<"$at"
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"

# --- held corrections: approve, and release by the sources ------------------------------
log "held corrections (fake upstreams jumping +10 s)"
FAKE="$TR7_SRCDIR/test/system/fakentp.py"
fport=$(free_port)
fake_pids=()
for a in 6 7 8; do
  $PY "$FAKE" "127.0.0.$a" "$fport" --jump-file "$T_DIR/jump" --jump 10 >"$T_DIR/fake$a.log" 2>&1 &
  T_PIDS+=($!)
  fake_pids+=($!)
done
for a in 6 7 8; do
  wait_for 10 $NTPPROBE query "127.0.0.$a" "$fport" --timeout 0.3 || die "fake upstream 127.0.0.$a not answering"
done
our2=$(free_port)
rm -rf "$T_DIR/state"
fsrv() { echo "server = 127.0.0.$1 port $fport minpoll -2 maxpoll 0 burst_interval 0.25"; }
conf2=$(ctl_daemon_conf "$our2" "log_level = debug" "[discipline]
offset_tolerance = 1.0
drift_file = none
[sources]
$(fsrv 6)
$(fsrv 7)
$(fsrv 8)
min_sources = 2")
conf2=$(sed '/^local_stratum/d' <<<"$conf2")
start_tr7ntpd h "$conf2"
check "fakes: synchronised" ctlc waitsync --timeout 10
best_offset() {
  local i
  for i in 1 2 3 4 5; do $NTPPROBE query 127.0.0.1 "$our2" --timeout 0.5; done | $PY -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
rs = [r for r in rs if "delay" in r]
print(min(rs, key=lambda r: r["delay"])["offset"] if rs else "nan")'
}
near() { $PY -c "import sys; sys.exit(0 if abs(float('$1') - $2) < 0.01 else 1)"; }
held_id() { j tracking | jq -r .held_id//empty; }
touch "$T_DIR/jump"
check "the +10 s jump is held" wait_for 15 bash -c "test -n \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -r .held_id//empty)\""
t=$(j tracking)
id=$(jq -r .held_id//empty <<<"$t")
log "held: $(jq -c '{state, held_id, held_offset_s, held_since_utc}' <<<"$t")"
check "tracking: held id, offset +10 s, since" jq -e '(.held_id | tostring | test("^[0-9]+$")) and (.held_offset_s - 10 | fabs) < 0.1 and .held_since_utc != null' <<<"$t"
check "metrics: correction held" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' metrics | grep -qx 'tr7_correction_held 1'"
off=$(best_offset)
check "the jump is not followed while held (served offset $off)" near "$off" 0
ctlc makestep >"$T_DIR/ms.txt" 2>&1
rc=$?
check "makestep while held: exit 1, says approve ($(cat "$T_DIR/ms.txt"))" bash -c "test $rc = 1 && grep -q 'approve $id' '$T_DIR/ms.txt'"
ctlc approve $((id + 1)) >/dev/null 2>&1
check "approve of another id: exit 1" test $? = 1
check "still held after the refusals" test "$(held_id)" = "$id"
check "approve $id" ctlc approve "$id"
check "no longer held" wait_for 5 bash -c "test -z \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -r .held_id//empty)\""
sleep 0.5
off=$(best_offset)
check "the approved correction is applied: served offset $off ~ +10 s" near "$off" 10
at=$(j audit tail 20)
check "audit: correction $id held" jq -e --arg id "$id" 'any(.[]; .command == "correction held" and .via == "ntp" and (.after | test("^id=" + $id + " offset_s=(9\\.9|10)")))' <<<"$at"
check "audit: approve $id by the admin" jq -e --arg id "$id" 'any(.[]; .command == "approve " + $id and .via == "control" and (.result | startswith("ok")))' <<<"$at"
check "audit: correction $id released by approval" jq -e --arg id "$id" 'any(.[]; .command == "correction released" and (.before | startswith("id=" + $id + " ")) and .result == "ok: approved by an admin")' <<<"$at"
check "audit: the forward step of the approved correction" jq -e --arg id "$id" 'any(.[]; .command == "clock step" and .result == "ok: approved correction " + $id and (.after | test("^step_s=(9\\.9|10)")))' <<<"$at"

# The sources jump back: held again (a new, larger id); back once more: released.
rm -f "$T_DIR/jump"
check "the jump back is held too" wait_for 15 bash -c "id2=\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -r .held_id//empty); test -n \"\$id2\" && test \"\$id2\" -gt $id"
id2=$(held_id)
touch "$T_DIR/jump"
check "released when the sources come back within tolerance" wait_for 15 bash -c "test -z \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -r .held_id//empty)\""
at=$(j audit tail 20)
check "audit: correction $id2 released by the sources" jq -e --arg id "$id2" 'any(.[]; .command == "correction released" and (.before | startswith("id=" + $id + " ")) and .result == "ok: sources back within offset_tolerance")' <<<"$at"
check "exactly one step (the approved one)" test "$(grep -c 'clock stepped' "$T_DIR/h.log")" = 1
kill -0 "$TR7_PID" || fail "tr7ntpd died"
finish
