#!/bin/bash
# Bad input: every version 0-7 x mode 0-7 x length 0..1100, plus the THREATS.md packet
# list. Asserts bytes out <= bytes in, replies only where allowed, exactly one reply per
# valid request, the daemon alive and answering afterwards, counters consistent.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv
p=$(free_port)
start_tr7ntpd srv "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p, [::1]:$p
local_stratum = 2"
out=$($NTPPROBE badinput 127.0.0.1 "$p")
rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc -eq 0 ] && pass "IPv4 bad-input matrix" || fail "IPv4 bad-input matrix"
jq -e '.reply_bytes <= .sent_bytes and .answered == .expected_answers and .alive_after' <<<"$out" >/dev/null &&
  pass "bytes out <= bytes in; answers exactly where allowed" || fail "summary"
kill -0 "$TR7_PID" && pass "daemon alive" || fail "daemon died"
s=$(stats_of "$TR7_PID" "$T_DIR/srv.log")
log "$s"
recv=$(stat_value "$s" received)
ans=$(stat_value "$s" answered)
drp=$(stat_value "$s" dropped)
# MAC'd requests without a key this daemon has get crypto-NAKs (never a reply in clear).
nak=$(stat_value "$s" nak_crypto)
[ "$recv" -eq $((ans + drp + nak)) ] && pass "received = answered + dropped + crypto-NAKs ($recv)" || fail "counters: $s"
cases=$(jq .cases <<<"$out")
# Every datagram reached the daemon (the 65507-byte one too) plus the final liveness query.
[ "$recv" -eq $((cases + 1)) ] && pass "every datagram counted" || fail "received $recv of $((cases + 1))"
for r in too_short too_long bad_version bad_format bad_mode; do
  [ "$(stat_value "$s" $r)" -gt 0 ] && pass "dropped as $r: $(stat_value "$s" $r)" || fail "no $r drops"
done
out6=$($NTPPROBE badinput ::1 "$p")
[ $? -eq 0 ] && pass "IPv6 bad-input matrix" || { fail "IPv6 bad-input matrix"; echo "$out6"; }
$NTPPROBE query 127.0.0.1 "$p" >/dev/null && pass "still answering" || fail "not answering"
finish
