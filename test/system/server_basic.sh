#!/bin/bash
# tr7ntpd as a server on loopback: replies (IPv4, IPv6), unsynchronised vs local
# stratum, command line, --check-config, SIGUSR1 statistics, SIGHUP reload (a bad file
# is refused whole and the running configuration kept).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv

# --- command line
"$TR7NTPD" --version | grep -q '^tr7ntpd [0-9]' && pass "--version" || fail "--version"
"$TR7NTPD" --help | grep -q -- '--check-config' && pass "--help" || fail "--help"
"$TR7NTPD" --bogus >/dev/null 2>&1; [ $? -eq 2 ] && pass "unknown option exits 2" || fail "unknown option exit code"
"$TR7NTPD" -f >/dev/null 2>&1; [ $? -eq 2 ] && pass "missing -f argument exits 2" || fail "missing -f argument"
"$TR7NTPD" extra-arg >/dev/null 2>&1; [ $? -eq 2 ] && pass "stray argument exits 2" || fail "stray argument"

# --- --check-config
printf '[daemon]\nclock = none\n[server]\nlisten = 127.0.0.1:1234\n' >"$T_DIR/good.conf"
out=$("$TR7NTPD" --check-config -f "$T_DIR/good.conf" 2>&1)
[ $? -eq 0 ] && grep -q "configuration OK" <<<"$out" && pass "--check-config good file" || fail "--check-config good: $out"
printf '[daemon]\nclock = none\nbogus = 1\n[server]\nlisten = 300.0.0.1:123\nlocal_stratum = 16\n' >"$T_DIR/bad.conf"
out=$("$TR7NTPD" --check-config -f "$T_DIR/bad.conf" 2>&1)
rc=$?
[ $rc -eq 1 ] && pass "--check-config bad file exits 1" || fail "--check-config bad file exit $rc"
for want in "bad.conf:3: unknown key 'bogus'" "bad.conf:5: listen: invalid IP address" "bad.conf:6: local_stratum:" \
  "3 errors"; do
  grep -qF "$want" <<<"$out" && pass "reports: $want" || fail "missing '$want' in: $out"
done
# A bad file does not start a daemon either.
"$TR7NTPD" -d -f "$T_DIR/bad.conf" >/dev/null 2>&1
[ $? -eq 1 ] && pass "daemon refuses a bad file (exit 1)" || fail "daemon started with a bad file"
"$TR7NTPD" --check-config -f "$T_DIR/missing.conf" >/dev/null 2>&1
[ $? -eq 1 ] && pass "missing file exits 1" || fail "missing file"

# --- an unsynchronised server says so: LI=3, stratum 0
p1=$(free_port)
start_tr7ntpd unsync "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p1"
r=$($NTPPROBE query 127.0.0.1 "$p1") || fail "no reply from unsynchronised server"
jq -e '.mode == 4 and .leap == 3 and .stratum == 0 and .origin_ok' <<<"$r" >/dev/null &&
  pass "unsynchronised: LI=3 stratum 0, origin echoed" || fail "unsynchronised reply: $r"
kill "$TR7_PID"
wait "$TR7_PID" 2>/dev/null

# --- local stratum, IPv4 and IPv6, NTPv1-4
p2=$(free_port)
start_tr7ntpd local "[daemon]
clock = none
[server]
listen = 127.0.0.1:$p2, [::1]:$p2
local_stratum = 7"
LOCAL_PID=$TR7_PID
for v in 1 2 3 4; do
  mode=3
  [ $v = 1 ] && mode=0
  r=$($NTPPROBE query 127.0.0.1 "$p2" --version $v --mode $mode)
  want_mode=4
  [ $v = 1 ] && want_mode=0
  jq -e --argjson v $v --argjson m $want_mode \
    '.version == $v and .mode == $m and .stratum == 7 and .leap == 0 and .refid == "7F7F0101" and .origin_ok' \
    <<<"$r" >/dev/null && pass "NTPv$v request answered" || fail "NTPv$v: $r"
done
r=$($NTPPROBE query ::1 "$p2")
jq -e '.stratum == 7 and .origin_ok' <<<"$r" >/dev/null && pass "IPv6 reply" || fail "IPv6: $r"
# Served time agrees with the system clock (clock = none, no correction yet), delay sane.
jq -e '(.offset | fabs) < 0.01 and .delay >= 0 and .delay < 0.05 and .server_time >= 0' <<<"$r" >/dev/null &&
  pass "offset and delay sane" || fail "offset/delay: $r"
# Precision field is the measured one (a negative power of two).
jq -e '.precision < -10 and .precision > -31' <<<"$r" >/dev/null && pass "precision measured" || fail "precision: $r"
# Mode 1 (symmetric active: an HA peer) gets a mode-2 reply; 2, 4-7 get silence.
r=$($NTPPROBE query 127.0.0.1 "$p2" --mode 1 --timeout 0.5) && jq -e '.mode == 2' <<<"$r" >/dev/null &&
  pass "mode 1 answered with mode 2" || fail "mode 1: $r"
for m in 2 4 5 6 7; do
  $NTPPROBE query 127.0.0.1 "$p2" --mode $m --timeout 0.5 >/dev/null && fail "mode $m answered" || pass "mode $m silent"
done

# --- statistics
s=$(stats_of "$LOCAL_PID" "$T_DIR/local.log")
[ "$(stat_value "$s" answered)" = 6 ] && pass "stats: answered=6" || fail "stats answered: $s"
[ "$(stat_value "$s" bad_mode)" = 5 ] && pass "stats: bad_mode=5" || fail "stats bad_mode: $s"
[ "$(stat_value "$s" received)" = 11 ] && pass "stats: received=11" || fail "stats received: $s"

# --- reload: a bad file is refused whole; a good one applies (allow list)
cp "$T_DIR/local.conf" "$T_DIR/local.conf.orig"
printf '[daemon]\nclock = none\n[server]\nlisten = 127.0.0.1:%s, [::1]:%s\nlocal_stratum = 7\nallow = 10.0.0.0/8\nbogus = x\n' \
  "$p2" "$p2" >"$T_DIR/local.conf"
kill -HUP "$LOCAL_PID"
wait_for 5 grep -q "reload refused" "$T_DIR/local.log" && pass "bad reload refused" || fail "bad reload not refused"
$NTPPROBE query 127.0.0.1 "$p2" >/dev/null && pass "old config kept after bad reload" || fail "bad reload applied partially"
printf '[daemon]\nclock = none\n[server]\nlisten = 127.0.0.1:%s, [::1]:%s\nlocal_stratum = 7\nallow = 10.0.0.0/8\n' \
  "$p2" "$p2" >"$T_DIR/local.conf"
kill -HUP "$LOCAL_PID"
wait_for 5 grep -q "configuration reloaded" "$T_DIR/local.log" && pass "good reload applied" || fail "good reload"
$NTPPROBE query 127.0.0.1 "$p2" --timeout 0.5 >/dev/null && fail "denied after reload but answered" ||
  pass "new allow list in force (loopback now denied)"
s=$(stats_of "$LOCAL_PID" "$T_DIR/local.log")
[ "$(stat_value "$s" denied)" = 1 ] && pass "stats: denied=1" || fail "stats denied: $s"

# --- SIGTERM stops cleanly with exit 0
kill -TERM "$LOCAL_PID"
wait "$LOCAL_PID"
rc=$?
[ $rc -eq 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM exit $rc"

# --- daemon mode: forks, parent exits 0 once ready, child serves
p3=$(free_port)
printf '[daemon]\nclock = none\nstate_dir = %s/bg.state\ncontrol_socket = %s/bg.sock\n[server]\nlisten = 127.0.0.1:%s\nlocal_stratum = 3\n' \
  "$T_DIR" "$T_DIR" "$p3" >"$T_DIR/bg.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -f "$T_DIR/bg.conf"
rc=$?
[ $rc -eq 0 ] && pass "background start exits 0" || fail "background start exit $rc"
bgpid=$(pgrep -f "tr7ntpd -f $T_DIR/bg.conf" | head -n1)
[ -n "$bgpid" ] && T_PIDS+=("$bgpid")
$NTPPROBE query 127.0.0.1 "$p3" >/dev/null && pass "background daemon serves" || fail "background daemon silent"
# A second instance on the same port fails with a clear error and exit 1.
# (its own control socket and state: the port is what they share)
sed "s|bg\.sock|bg2.sock|; s|bg\.state|bg2.state|" "$T_DIR/bg.conf" >"$T_DIR/bg2.conf"
out=$("${NOCLOCK[@]}" "$TR7NTPD" -f "$T_DIR/bg2.conf" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$p3" <<<"$out" && pass "port in use: clear error, exit 1" ||
  fail "port in use: rc=$rc out=$out"
finish
