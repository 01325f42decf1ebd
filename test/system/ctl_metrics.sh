#!/bin/bash
# Metrics: `metrics` is OpenMetrics text that a strict OpenMetrics parser accepts,
# `metrics prometheus` passes `promtool check metrics`; the HTTP listener serves both
# (by Accept header) on /metrics and nothing else; counters follow NTP traffic.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd promtool jq
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
  skip "python3-prometheus-client not installed (contrib/install-deps)"

port=$(free_port)
hport=$(free_tcp_port)
start_tr7ntpd d "$(ctl_daemon_conf "$port" "" "")
[metrics]
listen = 127.0.0.1:$hport"
for _ in 1 2 3; do $NTPPROBE query 127.0.0.1 "$port" >/dev/null; done

om_check() {
  /usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
fams = {f.name: f for f in parse(sys.stdin.read())}
req = [s.value for s in fams["tr7_server_requests"].samples if s.name == "tr7_server_requests_total"]
assert fams["tr7_server_requests"].type == "counter", "requests is a counter"
assert req and req[0] >= 3, "requests counted: %r" % req
assert fams["tr7_stratum"].samples[0].value == 10
assert fams["tr7_offset_seconds"].unit == "seconds"
print(len(fams), "families")'
}

ctlc metrics >"$T_DIR/om.txt"
check "metrics: OpenMetrics parser accepts it ($(om_check <"$T_DIR/om.txt" 2>&1 | tail -n 1))" bash -c "$(declare -f om_check); om_check <'$T_DIR/om.txt'"
ctlc metrics prometheus >"$T_DIR/prom.txt"
check "metrics prometheus: promtool check metrics" promtool check metrics <"$T_DIR/prom.txt"
check "metrics --json: the text in one JSON document" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json metrics | jq -e '.text | contains(\"tr7_stratum 10\")' >/dev/null"

get() {  # get PATH [ACCEPT]: prints "STATUS CONTENT-TYPE" then the body
  /usr/bin/python3 -c '
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]))
if len(sys.argv) > 3: req.add_header("Accept", sys.argv[3])
try:
    r = urllib.request.urlopen(req, timeout=5)
    print(r.status, r.headers.get("Content-Type")); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, "-")' "$hport" "$@"
}
get /metrics >"$T_DIR/http.txt"
check "HTTP /metrics: 200, Prometheus text by default" bash -c "head -n 1 '$T_DIR/http.txt' | grep -q '^200 text/plain; version=0.0.4'"
tail -n +2 "$T_DIR/http.txt" >"$T_DIR/http-body.txt"
check "HTTP /metrics passes promtool" promtool check metrics <"$T_DIR/http-body.txt"
get /metrics "application/openmetrics-text; version=1.0.0" >"$T_DIR/http-om.txt"
check "HTTP /metrics with Accept openmetrics: OpenMetrics" bash -c "head -n 1 '$T_DIR/http-om.txt' | grep -q '^200 application/openmetrics-text'"
tail -n +2 "$T_DIR/http-om.txt" >"$T_DIR/http-om-body.txt"
check "HTTP OpenMetrics body parses" bash -c "$(declare -f om_check); om_check <'$T_DIR/http-om-body.txt'"
check "HTTP other path: 404" bash -c "$(declare -f get); hport=$hport; get /etc/passwd | head -n 1 | grep -q '^404'"
# A POST is refused (405) and a junk request does not hurt.
code=$(/usr/bin/python3 -c '
import urllib.request, urllib.error, sys
try:
    urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:'"$hport"'/metrics", data=b"x", method="POST"), timeout=5); print(200)
except urllib.error.HTTPError as e: print(e.code)')
check "HTTP POST refused ($code)" bash -c "[ $code = 405 ] || [ $code = 413 ]"
python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", '"$hport"'), timeout=5)
s.sendall(b"\x16\x03\x01" + bytes(range(256)) * 40 + b"\r\n\r\n")
try: s.recv(100)
except Exception: pass' >/dev/null 2>&1
check "HTTP after junk: still 200" bash -c "$(declare -f get); hport=$hport; get /metrics | head -n 1 | grep -q '^200'"

# Off by default: a daemon without [metrics] listens on no TCP port.
pid2_port=$(free_port)
printf '%s\n' "$(ctl_daemon_conf "$pid2_port")" | sed "s|$T_DIR/ctl.sock|$T_DIR/ctl2.sock|" >"$T_DIR/e.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/e.conf" >"$T_DIR/e.log" 2>&1 &
p2=$!
T_PIDS+=("$p2")
wait_for 10 grep -q "started:" "$T_DIR/e.log"
check "metrics listener off by default" bash -c "! ss -Htlnp | grep -q 'pid=$p2,'"
$NTPPROBE query 127.0.0.1 "$port" >/dev/null
check "NTP still answered" test $? = 0
finish
