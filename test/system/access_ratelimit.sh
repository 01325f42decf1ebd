#!/bin/bash
# Access control and rate limiting with real sockets from many loopback addresses:
# longest prefix wins, default deny, KoD DENY (throttled), per-client rate limit that
# rotating source ports cannot evade, KoD RATE at most once per interval, the leak
# (a flood spoofing a victim cannot lock it out), and a bounded client table.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv jq
p=$(free_port)
start_tr7ntpd srv "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p, [::1]:$p
local_stratum = 2
allow = 127.0.0.0/8
deny = 127.0.9.0/24
allow = 127.0.9.9
deny_kod = yes
ratelimit = interval 30 burst 4 kod yes leak 0
max_clients = 100"

q() { $NTPPROBE query 127.0.0.1 "$p" --timeout 0.5 "$@"; }
r=$(q --src 127.0.0.5) && jq -e '.stratum == 2' <<<"$r" >/dev/null && pass "allowed client answered" || fail "allowed: $r"
r=$(q --src 127.0.9.1)
jq -e '.stratum == 0 and .refid_text == "DENY" and .leap == 3 and .origin_ok' <<<"$r" >/dev/null &&
  pass "denied /24: KoD DENY with origin echoed" || fail "deny kod: $r"
q --src 127.0.9.1 >/dev/null && fail "second KoD DENY within the interval" || pass "KoD DENY throttled"
r=$(q --src 127.0.9.9) && jq -e '.stratum == 2' <<<"$r" >/dev/null && pass "/32 allow inside denied /24 (longest prefix)" ||
  fail "longest prefix: $r"
r=$($NTPPROBE query ::1 "$p" --timeout 0.5)
jq -e '.refid_text == "DENY"' <<<"$r" >/dev/null && pass "IPv6 not in the allow list: default deny" || fail "ipv6: $r"

# 20 requests at once from one address over 10 source ports: burst 4, one KoD RATE.
b=$($NTPPROBE burst 127.0.0.1 "$p" --count 20 --src 127.0.0.6 --ports-per-src 10)
log "burst from one client: $b"
jq -e '.reply == 4 and .kod_rate == 1' <<<"$b" >/dev/null && pass "rate limit per address, port rotation does not evade" ||
  fail "rate limit: $b"
b=$($NTPPROBE burst 127.0.0.1 "$p" --count 4 --src 127.0.0.7)
jq -e '.reply == 4' <<<"$b" >/dev/null && pass "another client unaffected" || fail "other client: $b"

s=$(stats_of "$TR7_PID" "$T_DIR/srv.log")
log "$s"
[ "$(stat_value "$s" kod_deny)" = 2 ] && pass "kod_deny=2" || fail "kod_deny"
[ "$(stat_value "$s" kod_rate)" = 1 ] && pass "kod_rate=1" || fail "kod_rate"
[ "$(stat_value "$s" rate_limited)" = 15 ] && pass "rate_limited=15" || fail "rate_limited"
[ "$(stat_value "$s" denied)" = 1 ] && pass "denied (silent, throttled KoD)=1" || fail "denied"

# Bounded client table: 1000 distinct sources, max_clients 100.
$NTPPROBE burst 127.0.0.1 "$p" --count 1000 --src-base 127.1.0.1 --src-count 1000 >/dev/null
s=$(stats_of "$TR7_PID" "$T_DIR/srv.log")
[ "$(stat_value "$s" clients)" = 100 ] && pass "client table bounded at max_clients=100" || fail "clients: $s"
rss1=$(awk '/VmRSS/ {print $2}' /proc/$TR7_PID/status)
$NTPPROBE burst 127.0.0.1 "$p" --count 3000 --src-base 127.2.0.1 --src-count 3000 >/dev/null
rss2=$(awk '/VmRSS/ {print $2}' /proc/$TR7_PID/status)
log "RSS ${rss1} kB -> ${rss2} kB after 3000 more distinct clients"
[ $((rss2 - rss1)) -lt 2048 ] && pass "memory flat (+$((rss2 - rss1)) kB)" || fail "memory grew ${rss1} -> ${rss2} kB"
r=$(q --src 127.0.0.5) && pass "still serving after the churn" || fail "not serving"

# The leak: a flood spoofing a victim's address cannot lock the victim out. With leak 2
# about a quarter of the over-limit requests are still answered.
p2=$(free_port)
start_tr7ntpd leak "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p2
local_stratum = 2
ratelimit = interval 2 burst 4 kod no leak 2"
b=$($NTPPROBE burst 127.0.0.1 "$p2" --count 400 --src 127.0.0.8 --ports-per-src 4)
log "400 requests from one address with leak 2: $b"
jq -e '.reply >= 4 + 60 and .reply <= 4 + 140 and .kod_rate == 0' <<<"$b" >/dev/null &&
  pass "leak lets about 1 in 4 through" || fail "leak: $b"
finish
