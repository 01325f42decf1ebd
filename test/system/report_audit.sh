#!/bin/bash
# Compliance evidence: the report after a restart still covers the clients (of the
# daemon's own server and of a tenant) and the change made before it; `clients` covers
# the tenant; `audit verify` passes on the intact trail and names the record with one
# altered byte, and a deleted record, exiting 1.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv jq ip sha256sum
FAKE="$PYTHON3 $TR7_SRCDIR/test/system/fakentp.py"
up=$(free_port)
port=$(free_port)
tport=$(free_port)
$FAKE 127.0.0.2 "$up" >"$T_DIR/up.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 $NTPPROBE query 127.0.0.2 "$up" --timeout 0.3 || die "fake upstream not answering"
ns=tr7rp$$
add_netns "$ns"
ip -n "$ns" addr add 10.78.0.1/32 dev lo

conf="[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
node = node-r
[server]
listen = 127.0.0.1:$port
[sources]
server = 127.0.0.2 port $up iburst minpoll 0 maxpoll 1
[history]
interval = 2
[tenant t1]
netns = $ns
listen = 10.78.0.1:$tport"
start_tr7ntpd r "$conf"
ctlc waitsync --timeout 20 >/dev/null || die "not synchronised"
for src in 127.0.0.1 127.0.0.5 127.0.0.5; do $NTPPROBE query 127.0.0.1 "$port" --src "$src" >/dev/null; done
ip netns exec "$ns" $NTPPROBE query 10.78.0.1 "$tport" >/dev/null || fail "tenant t1 not answering"
check "clients covers the tenant" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json clients |
  jq -e 'map(select(.tenant == \"t1\" and .address == \"10.78.0.1\")) | length == 1'"
ctlc clients | sed 's/^/# /'
ctlc allow add 10.9.0.0/16 >/dev/null || fail "allow add"
sleep 3  # one history interval at least

# --- a restart ------------------------------------------------------------------------
kill -TERM "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID" || die "did not stop"
start_tr7ntpd r "$conf"
ctlc waitsync --timeout 20 >/dev/null || die "not synchronised after the restart"
ctlc -j report --since -1h >"$T_DIR/report.json" || fail "report"
check "the report is JSON" jq -e . "$T_DIR/report.json" >/dev/null
jq -c '{period, node, sync, sources, tenants: [.tenants[] | {name, clients_distinct, clients}]}' "$T_DIR/report.json" | sed 's/^/# /'
check "report: both clients of the default server, with their requests (before the restart)" jq -e '
  .tenants | map(select(.name == "default"))[0].clients |
  (map(select(.address == "127.0.0.1"))[0].requests >= 1) and (map(select(.address == "127.0.0.5"))[0].requests == 2)' "$T_DIR/report.json"
check "report: the tenant's client" jq -e '.tenants | map(select(.name == "t1"))[0] |
  .clients_distinct == 1 and .clients[0].address == "10.78.0.1" and .clients[0].requests == 1' "$T_DIR/report.json"
check "report: the change made before the restart" jq -e '.changes | map(select(.command == "allow add 10.9.0.0/16" and .seq >= 1)) | length == 1' "$T_DIR/report.json"
check "report: synchronised, offsets, the source" jq -e '.sync.synchronised_fraction > 0 and .sync.max_abs_offset_s < 0.01 and
  .sync.p99_abs_offset_s <= .sync.max_abs_offset_s and (.sources[0].address | startswith("127.0.0.2")) and .sources[0].stratum == 1' "$T_DIR/report.json"
sum=$(sha256sum "$T_DIR/r.conf" | cut -d' ' -f1)
check "report: node and the configuration's SHA-256" jq -e --arg s "$sum" '.node == "node-r" and .config_sha256 == $s' "$T_DIR/report.json"
check "report --tenant t1: that tenant only" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' report --tenant t1 --format json | jq -e '.tenants | length == 1 and .[0].name == \"t1\"'"
check "report --format md" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' report | grep -q '^| .* | allow add 10.9.0.0/16 |'"
state=$(sed -n 's/^state_dir = //p' "$T_DIR/r.conf")
[ -n "$state" ] || state="$T_DIR/r.state"
log "history on disk: $(du -sb "$state/history" | cut -f1) bytes ($(ls "$state/history" | tr '\n' ' '))"

# --- the audit trail's chain ------------------------------------------------------------
ctlc allow add 10.10.0.0/16 >/dev/null && ctlc allow add 10.11.0.0/16 >/dev/null || fail "more changes"
check "audit verify: intact" ctlc audit verify
log "$(ctlc audit verify | tr -s ' ' | tr '\n' ';')"
# Edit the files in place (the daemon keeps its file open).
inplace() { $PYTHON3 -c '
import sys
p, what = sys.argv[1], sys.argv[2]
b = open(p, "rb").read()
lines = b.split(b"\n")
if what == "alter":
    i = next(k for k, l in enumerate(lines) if b"allow add 10.10.0.0/16" in l)
    lines[i] = lines[i].replace(b"10.10.0.0/16", b"10.12.0.0/16", 1)
else:
    i = next(k for k, l in enumerate(lines) if b"allow add 10.10.0.0/16" in l)
    del lines[i]
f = open(p, "r+b"); f.write(b"\n".join(lines)); f.truncate(); f.close()
print(i + 1)' "$state/audit/audit.log" "$1"; }
seq_of() { jq -r 'select(.command == "allow add 10.10.0.0/16") | .seq' "$state/audit/audit.log"; }
bad_seq=$(seq_of)
cp "$state/audit/audit.log" "$T_DIR/audit.good"
inplace alter >/dev/null
out=$(ctlc audit verify 2>&1); rc=$?
log "altered byte: $(tr -s ' ' <<<"$out" | tr '\n' ';')"
check "audit verify: one altered byte -> exit 1" test "$rc" = 1
check "... naming seq $bad_seq" grep -q "audit trail broken at seq $bad_seq: record altered" <<<"$out"
cat "$T_DIR/audit.good" >"$state/audit/audit.log"  # same inode, intact again
check "audit verify: intact again" ctlc audit verify
inplace delete >/dev/null
out=$(ctlc audit verify 2>&1); rc=$?
log "deleted record: $(tr -s ' ' <<<"$out" | tr '\n' ';')"
check "audit verify: one deleted record -> exit 1" test "$rc" = 1
check "... naming seq $bad_seq as missing" grep -q "audit trail broken at seq $bad_seq: record missing (deleted)" <<<"$out"
finish
