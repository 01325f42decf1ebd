#!/bin/bash
# NTS (RFC 8915) against chronyd -x, both ways, with test certificates made now:
#  * chronyd as an NTS client of tr7ntpd's NTS-KE server synchronises with NTS
#    (chronyc authdata: NTS, cookies); one that does not trust our CA does not;
#  * tr7ntpd as an NTS client of chronyd's NTS server synchronises (tr7ntpc authdata
#    --json: mode nts, cookies); with an untrusted CA it does not, and says why;
#  * tr7ntpd's counters (serverstats, metrics), its cookie keys in the state directory
#    (mode 0600) surviving a restart (chronyd gets no NTS NAK), and the client's cookies
#    kept across a restart (no new NTS-KE);
#  * a reload (SIGHUP) reads the certificate and key again (through the helper under
#    privilege separation) and NTS-KE goes on; a restart without the cookie keys makes
#    chronyd's cookies unknown: NTS NAK, a new NTS-KE, synchronised again; and the other
#    way round, chronyd restarted with new keys NAKs tr7ntpd's cookies: tr7ntpd makes a
#    new NTS-KE and synchronises again.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd chronyc setpriv
. "$(dirname "$0")/certs.sh"

make_ca "$T_DIR" ca
make_ca "$T_DIR" other
make_server_cert "$T_DIR" ca srv

# --- tr7ntpd: NTS server ---------------------------------------------------------------
p=$(free_port)
k=$(free_tcp_port)
srv_conf="[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
state_dir = $T_DIR/srv.state
[server]
listen = 127.0.0.1:$p
local_stratum = 4
[nts]
listen = 127.0.0.1:$k
cert = $T_DIR/srv.pem
key = $T_DIR/srv.key"
mkdir -p "$T_DIR/srv.state"
start_tr7ntpd srv "$srv_conf"
SRV=$TR7_PID

# --- chronyd: NTS server ---------------------------------------------------------------
up=$(free_port)
ku=$(free_tcp_port)
start_chronyd up "local stratum 3
allow 127.0.0.0/8
port $up
bindaddress 127.0.0.1
ntsport $ku
ntsserverkey $T_DIR/srv.key
ntsservercert $T_DIR/srv.pem
ntsdumpdir $T_DIR/up"
UP=$CHRONYD_PID

# --- the clients: chronyd of tr7ntpd, tr7ntpd of chronyd; trusting and not -------------
start_chronyd good "server localhost port $p iburst nts ntsport $k minpoll -2 maxpoll -1
ntstrustedcerts $T_DIR/ca.pem
ntsdumpdir $T_DIR/good"
GOOD=$CHRONYC
start_chronyd bad "server localhost port $p iburst nts ntsport $k minpoll -2 maxpoll -1
ntstrustedcerts $T_DIR/other.pem
ntsdumpdir $T_DIR/bad"
BAD=$CHRONYC
cl_conf="[daemon]
clock = none
control_socket = $T_DIR/cl.sock
state_dir = $T_DIR/cl.state
[sources]
server = localhost port $up nts ntsport $ku iburst minpoll -2 maxpoll -1
[nts]
trusted_certs = $T_DIR/ca.pem"
mkdir -p "$T_DIR/cl.state"
start_tr7ntpd cl "$cl_conf"
CL=$TR7_PID
start_tr7ntpd clbad "[daemon]
clock = none
control_socket = $T_DIR/clbad.sock
[sources]
server = localhost port $up nts ntsport $ku iburst minpoll -2 maxpoll -1
[nts]
trusted_certs = $T_DIR/other.pem"

synced() { $1 tracking 2>/dev/null | grep -q '^Leap status *: Normal'; }
tr7_synced() { "$TR7NTPC" -s "$1" sources 2>/dev/null | grep -q '^\^\*'; }
check "chronyd synchronises to tr7ntpd with NTS" wait_for 20 synced "$GOOD"
ad=$($GOOD -n authdata)
echo "$ad" | sed 's/^/#   /'
check "chronyc authdata: NTS with cookies" \
  awk '$1 == "127.0.0.1" && $2 == "NTS" && $9 > 0 { ok = 1 } END { exit !ok }' <<<"$ad"
check "tr7ntpd synchronises to chronyd with NTS" wait_for 20 tr7_synced "$T_DIR/cl.sock"
a=$("$TR7NTPC" -s "$T_DIR/cl.sock" --json authdata)
log "authdata: $a"
check "authdata --json: mode nts, cookies, an NTS-KE, authenticated replies" \
  $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1])[0]; sys.exit(0 if r["mode"]=="nts" and r["cookies"]>0 and r["ke_ok"]>=1 and r["key_id"]==0 and r["authenticated"]>0 and r["cookie_len"]==100 else 1)' "$a"
"$TR7NTPC" -s "$T_DIR/cl.sock" authdata | sed 's/^/#   /'

# The untrusting ones had as long as the trusting ones, and more.
sleep 2
check "chronyd that does not trust our CA does not synchronise" bash -c "! $BAD tracking | grep -q '^Leap status *: Normal'"
check "... and its NTS-KE failed (no cookies)" bash -c "$BAD -n authdata | awk '\$1 == \"127.0.0.1\" && \$9 == 0 { ok = 1 } END { exit !ok }'"
check "tr7ntpd with an untrusted CA does not synchronise" bash -c "! '$TR7NTPC' -s '$T_DIR/clbad.sock' sources | grep -q '^\^\*'"
check "... and says why in its log" grep -q "NTS-KE with 127.0.0.1:$ku failed: certificate not trusted" "$T_DIR/clbad.log"
grep -m1 "certificate not trusted" "$T_DIR/clbad.log" | sed 's/^/#   /'
a=$("$TR7NTPC" -s "$T_DIR/clbad.sock" --json authdata)
check "... and in authdata" $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1])[0]; sys.exit(0 if r["mode"]=="nts" and r["cookies"]==0 and "not trusted" in (r["ke_error"] or "") else 1)' "$a"

st=$(ctlc serverstats)
log "$(grep -E 'auth|nak|nts_ke' <<<"$st" | tr -s ' ' | tr '\n' ' ')"
v() { sed -n "s/^$1 *: *//p" <<<"$st"; }
check "serverstats: NTS replies ($(v auth_nts))" test "$(v auth_nts)" -gt 0
check "serverstats: NTS-KE sessions completed ($(v nts_ke_completed))" test "$(v nts_ke_completed)" -ge 1
check "serverstats: NTS-KE sessions failed (the untrusting client) ($(v nts_ke_failed))" test "$(v nts_ke_failed)" -ge 1
check "metrics: tr7_server_authenticated{kind=nts}" bash -c "ctlc() { '$TR7NTPC' -s '$T_DIR/ctl.sock' \"\$@\"; }; ctlc metrics | grep -Eq '^tr7_server_authenticated_total\{tenant=\"default\",kind=\"nts\"\} [1-9]'"
check "cookie keys kept in the state directory, mode 0600" test "$(stat -c %a "$T_DIR/srv.state/nts-cookie-keys")" = 600

# --- restarts: the server's cookie keys and the client's cookies survive -----------------
kill -TERM "$SRV"
wait_for 10 bash -c "! kill -0 $SRV 2>/dev/null" || fail "tr7ntpd (srv) did not stop"
start_tr7ntpd srv2 "$srv_conf"
SRV2=$TR7_PID
kill -TERM "$CL"
wait_for 10 bash -c "! kill -0 $CL 2>/dev/null" || fail "tr7ntpd (cl) did not stop"
check "the client's cookies saved at exit" test -s "$T_DIR/cl.state/nts-localhost-$ku.state"
check "... mode 0600" test "$(stat -c %a "$T_DIR/cl.state/nts-localhost-$ku.state")" = 600
start_tr7ntpd cl2 "$cl_conf"
check "tr7ntpd synchronises again after a restart" wait_for 20 tr7_synced "$T_DIR/cl.sock"
check "... with its saved cookies" grep -q "NTS cookies from" "$T_DIR/cl2.log"
check "... and no new NTS-KE" bash -c "! grep -q 'NTS-KE with' '$T_DIR/cl2.log'"
sleep 2
ad=$($GOOD -n authdata)
echo "$ad" | sed 's/^/#   /'
check "chronyd got no NTS NAK across our restart (cookie keys kept)" \
  awk '$1 == "127.0.0.1" && $2 == "NTS" && $8 == 0 { ok = 1 } END { exit !ok }' <<<"$ad"
check "chronyd still synchronised" synced "$GOOD"

# --- SIGHUP: the certificate and key read again; NTS-KE still works ----------------------
kill -HUP "$SRV2"
check "reload with [nts] accepted" wait_for 5 grep -q "configuration reloaded" "$T_DIR/srv2.log"
check "NTS-KE after the reload: 8 cookies" \
  bash -c "[ \"\$($PYTHON3 '$TR7_SRCDIR/test/system/ntsprobe.py' ke 127.0.0.1 $k '$T_DIR/ca.pem')\" = 8 ]"

# --- lost cookie keys: chronyd's cookies are refused (NTS NAK), it starts over ----------
kill -TERM "$SRV2"
wait_for 10 bash -c "! kill -0 $SRV2 2>/dev/null" || fail "tr7ntpd (srv2) did not stop"
rm -f "$T_DIR/srv.state/nts-cookie-keys"
start_tr7ntpd srv3 "$srv_conf"
nak() { $GOOD -n authdata | awk '$1 == "127.0.0.1" && $8 > 0 { ok = 1 } END { exit !ok }'; }
check "chronyd got an NTS NAK for a cookie we cannot open" wait_for 15 nak
check "... made a new NTS-KE and is synchronised again" wait_for 15 bash -c "$GOOD tracking | grep -q '^Leap status *: Normal' && [ \$($GOOD -n authdata | awk '\$1 == \"127.0.0.1\" { print \$9 }') -gt 0 ]"
$GOOD -n authdata | sed 's/^/#   /'
st=$(ctlc serverstats)
check "serverstats: NTS NAKs sent ($(sed -n 's/^nak_nts *: *//p' <<<"$st"))" test "$(sed -n 's/^nak_nts *: *//p' <<<"$st")" -ge 1

# --- chronyd restarted with new cookie keys: it NAKs our cookies, we start over ----------
kill -TERM "$UP"
wait_for 10 bash -c "! kill -0 $UP 2>/dev/null" || fail "chronyd (up) did not stop"
start_chronyd up2 "local stratum 3
allow 127.0.0.0/8
port $up
bindaddress 127.0.0.1
ntsport $ku
ntsserverkey $T_DIR/srv.key
ntsservercert $T_DIR/srv.pem
ntsdumpdir $T_DIR/up2"
check "tr7ntpd got an NTS NAK for its old cookies" wait_for 15 grep -q "NTS NAK" "$T_DIR/cl2.log"
a=$("$TR7NTPC" -s "$T_DIR/cl.sock" --json authdata)
log "authdata: $a"
ke_again() { "$TR7NTPC" -s "$T_DIR/cl.sock" --json authdata | jq -e '.[0].naks >= 1 and .[0].ke_ok >= 1 and .[0].cookies > 0' >/dev/null; }
check "... made a new NTS-KE (authdata: naks, ke_ok, cookies)" wait_for 15 ke_again
check "... and is synchronised again" wait_for 15 tr7_synced "$T_DIR/cl.sock"
finish
