#!/bin/bash
# Interop with sntp (NTPsec's ntpdig in Debian 12), which only queries port 123: the test
# creates a network namespace, runs tr7ntpd inside it on 127.0.0.1:123 and [::1]:123,
# and queries it with sntp there. An unsynchronised server must be refused.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd sntp ip setpriv

ns="tr7sntp$$"
add_netns "$ns"
start_tr7ntpd srv "[daemon]
clock = none
[server]
listen = 127.0.0.1:123, [::1]:123
local_stratum = 3" ip netns exec "$ns"

out=$(ip netns exec "$ns" sntp -t 2 127.0.0.1 2>&1)
echo "$out" | sed 's/^/#   /'
# ntpdig prints: DATE TIME (+|-)OFFSET +/- ERROR 127.0.0.1 s3 no-leap
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} .* [+-][0-9.]+ \+/- [0-9.]+ 127\.0\.0\.1 s3 no-leap' <<<"$out" &&
  pass "sntp: answer with stratum 3, no leap" || fail "sntp output"
off=$(awk '{for (i = 2; i <= NF; i++) if ($i == "+/-") { print $(i - 1); exit }}' <<<"$out")
$PYTHON3 -c "import sys; sys.exit(0 if abs(float('$off')) < 0.01 else 1)" && pass "sntp offset $off s" || fail "offset $off"
out6=$(ip netns exec "$ns" sntp -t 2 ::1 2>&1)
grep -q ' ::1 s3 no-leap' <<<"$out6" && pass "sntp over IPv6" || fail "sntp IPv6: $out6"
json=$(ip netns exec "$ns" sntp -j -t 2 127.0.0.1 2>&1)
jq -e '.stratum == 3' <<<"$json" >/dev/null 2>&1 && pass "sntp -j: stratum 3" || log "sntp -j output: $json"

kill "$TR7_PID"
wait "$TR7_PID" 2>/dev/null
start_tr7ntpd unsync "[daemon]
clock = none
[server]
listen = 127.0.0.1:123" ip netns exec "$ns"
out=$(ip netns exec "$ns" sntp -t 2 127.0.0.1 2>&1)
rc=$?
echo "$out" | sed 's/^/#   /'
if grep -Eq ' s3 | no-leap' <<<"$out"; then
  fail "sntp accepted an unsynchronised server"
else
  pass "sntp refuses the unsynchronised server (rc=$rc)"
fi
finish
