#!/bin/bash
# Fault injection (issue 19): kill -9 of the worker or the helper (at random) at random
# moments while the drift file (every 20 ms), the runtime state and the audit log (each
# change) are being written, FAULT_KILLS times (default 40 here, within the suite's time; `make fault` runs 1000).
# After each kill every file parses, nothing is half-written, every acknowledged change
# is in the audit trail, and the next start is clean (faultkill.py says how).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv python3
"$TR7NTPD" --version | grep -q "test hooks" || skip "not a test-hooks build (configure --enable-test-hooks)"
ensure_test_user
TR7_PRIVSEP=1
kills=${FAULT_KILLS:-40}

port=$(free_port)
up=$(free_port)
$PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.1 "$up" >"$T_DIR/fake.log" 2>&1 &
T_PIDS+=($!)
conf=$(privsep_conf k "$(ctl_daemon_conf "$port" "audit_max_size = 65536
audit_keep = 3")
[sources]
server = 127.0.0.1 port $up iburst minpoll -2 maxpoll 0 burst_interval 0.25
[discipline]
drift_file = drift")
printf '%s\n' "$conf" >"$T_DIR/k.conf"
state=$(conf_key "$conf" state_dir)
export TR7_TEST_DRIFT_INTERVAL=0.02
seed=${FAULT_SEED:-$RANDOM}
log "$kills kills, seed $seed"
$PYTHON3 "$TR7_SRCDIR/test/system/faultkill.py" \
  --cmd "${NOCLOCK[*]} $TR7NTPD -n -e -f $T_DIR/k.conf" --state "$state" --sock "$T_DIR/ctl.sock" \
  --drift drift --kills "$kills" --seed "$seed" --log "$T_DIR/round.log" --max-seconds 540 >"$T_DIR/figures.json"
rc=$?
log "figures: $(cat "$T_DIR/figures.json")"
check "faultkill: every round fine (exit $rc)" test "$rc" = 0
check "all $kills kills made" jq -e --argjson n "$kills" '.kills == $n and .lost == 0 and .unclean_starts == 0' "$T_DIR/figures.json"
check "both processes were killed" jq -e '.worker_kills > 0 and .helper_kills > 0' "$T_DIR/figures.json"
check "the drift file was written and checked" jq -e '.drift_files > 0' "$T_DIR/figures.json"
check "acknowledged changes were checked" jq -e '.acked_checked > 0' "$T_DIR/figures.json"
# The figures for the report: one line the CI log keeps.
echo "FAULT-KILL figures: $(cat "$T_DIR/figures.json")"

finish
