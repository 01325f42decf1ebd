#!/bin/bash
# The monitoring kit: `promtool check rules` and `promtool test rules` pass, the
# dashboard is valid JSON, and every tr7_* metric the rules and the dashboard name is in
# a running daemon's output (with a source, a peer and a webhook configured: the
# families that exist only then are there), which promtool check metrics accepts.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv jq promtool
KIT="$TR7_SRCDIR/contrib/monitoring"
check "promtool check rules" promtool check rules "$KIT/prometheus-rules.yml"
# promtool resolves rule_files relative to the test file: run it from a copy.
cp "$KIT/prometheus-rules.yml" "$KIT/prometheus-rules.test.yml" "$T_DIR/"
check "promtool test rules (one case per alert)" promtool test rules "$T_DIR/prometheus-rules.test.yml"
tested=$(grep -c 'alertname:' "$KIT/prometheus-rules.test.yml")
rules=$(grep -c -- '- alert:' "$KIT/prometheus-rules.yml")
untested=$(comm -23 <(grep -- '- alert:' "$KIT/prometheus-rules.yml" | awk '{print $3}' | sort -u) \
  <(grep 'alertname:' "$KIT/prometheus-rules.test.yml" | awk '{print $2}' | sort -u))
check "every rule has a test case ($rules rules, $tested cases)" test -z "$untested"
check "the dashboard is JSON with panels" jq -e '.panels | length >= 8' "$KIT/grafana-dashboard.json"

up=$(free_port)
port=$(free_port)
$PYTHON3 "$TR7_SRCDIR/test/system/fakentp.py" 127.0.0.2 "$up" >"$T_DIR/up.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 $NTPPROBE query 127.0.0.2 "$up" --timeout 0.3 || die "fake upstream not answering"
printf 'k\n' >"$T_DIR/secret"
chmod 600 "$T_DIR/secret"
start_tr7ntpd m "[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
[server]
listen = 127.0.0.1:$port
[sources]
server = 127.0.0.2 port $up iburst minpoll 0 maxpoll 1
peer = 127.0.0.2 port $up minpoll 0
[alerts]
webhook = http://127.0.0.1:9/hook
webhook_secret_file = $T_DIR/secret"
ctlc waitsync --timeout 20 >/dev/null || die "not synchronised"
wait_until 10 "ctlc --json peers | jq -e '.[0].state == \"ok\"' >/dev/null"
ctlc metrics prometheus >"$T_DIR/metrics.txt"
check "promtool check metrics" bash -c "promtool check metrics <'$T_DIR/metrics.txt'"
# Sample names of the output; `up` is Prometheus' own.
have=$(sed -n 's/^\(tr7_[a-z0-9_]*\).*/\1/p' "$T_DIR/metrics.txt" | sort -u)
named=$( (grep -o 'tr7_[a-z0-9_]*' "$KIT/prometheus-rules.yml"; jq -r '.panels[].targets[].expr' "$KIT/grafana-dashboard.json" | grep -o 'tr7_[a-z0-9_]*';
  jq -r '.templating.list[].query' "$KIT/grafana-dashboard.json" | grep -o 'tr7_[a-z0-9_]*') | sort -u)
missing=$(comm -23 <(echo "$named") <(echo "$have"))
log "metrics named by the kit: $(echo $named | wc -w); missing: ${missing:-none}"
check "every metric the rules and the dashboard name exists" test -z "$missing"
for panel in "Offset" "Frequency" "Root distance" "Requests/s per tenant" "Drops and KoD/s" "Alerts firing" "Sources: offset"; do
  check "dashboard panel '$panel'" jq -e --arg t "$panel" '.panels | map(select(.title == $t)) | length == 1' "$KIT/grafana-dashboard.json"
done
finish
