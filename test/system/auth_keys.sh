#!/bin/bash
# Symmetric keys (chrony's keyfile format; RFC 8573 AES-CMAC) against chronyd -x, both ways:
#  * chronyd -> tr7ntpd with an AES128 key: synchronises; with the wrong secret for the
#    same key id it gets crypto-NAKs and never synchronises;
#  * tr7ntpd -> chronyd with a SHA256 key: synchronises (tr7ntpc authdata: mode key,
#    key_id 2); with the wrong secret it never does;
#  * serverstats and the metrics count the MAC'd replies and the crypto-NAKs;
#  * a keyfile other users may read is refused at start (and on reload, which keeps the
#    running keys); a good reload (SIGHUP) takes the new file.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd chronyd chronyc setpriv

good="1 AES128 HEX:000102030405060708090a0b0c0d0e0f
2 SHA256 HEX:11223344556677889900aabbccddeeff00112233
3 AES128 HEX:f0e0d0c0b0a090807060504030201000"
# The same ids with other secrets: what a peer with the wrong key has.
wrong="1 AES128 HEX:ffffffffffffffffffffffffffffffff
3 AES128 HEX:00000000000000000000000000000001"
printf '%s\n' "$good" >"$T_DIR/keys"
printf '%s\n' "$wrong" >"$T_DIR/wrong.keys"
chmod 600 "$T_DIR/keys" "$T_DIR/wrong.keys"

# --- tr7ntpd serves, chronyd -x asks with AES128 (right and wrong secret) ------------
p=$(free_port)
start_tr7ntpd srv "[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
keyfile = $T_DIR/keys
[server]
listen = 127.0.0.1:$p
local_stratum = 4"
SRV=$TR7_PID
start_chronyd good "server 127.0.0.1 port $p iburst key 1 minpoll -2 maxpoll -1
keyfile $T_DIR/keys"
GOOD=$CHRONYC
start_chronyd bad "server 127.0.0.1 port $p iburst key 1 minpoll -2 maxpoll -1
keyfile $T_DIR/wrong.keys"
BAD=$CHRONYC

# --- chronyd -x serves with the keys, tr7ntpd asks with SHA256 (and a wrong key) -----
up=$(free_port)
start_chronyd up "local stratum 3
allow 127.0.0.0/8
port $up
bindaddress 127.0.0.1
keyfile $T_DIR/keys"
wait_for 10 $NTPPROBE query 127.0.0.1 "$up" --timeout 0.5 || die "upstream chronyd not answering"
mkdir -p "$T_DIR/cl.state"
start_tr7ntpd cl "[daemon]
clock = none
control_socket = $T_DIR/cl.sock
keyfile = $T_DIR/keys
[sources]
server = 127.0.0.1 port $up key 2 iburst minpoll -2 maxpoll -1"
CL=$TR7_PID
start_tr7ntpd clbad "[daemon]
clock = none
control_socket = $T_DIR/clbad.sock
keyfile = $T_DIR/wrong.keys
[sources]
server = 127.0.0.1 port $up key 3 iburst minpoll -2 maxpoll -1"

synced() { $1 tracking 2>/dev/null | grep -q '^Leap status *: Normal'; }
tr7_synced() { "$TR7NTPC" -s "$1" sources 2>/dev/null | grep -q '^\^\*'; }
check "chronyd (AES128 key 1) synchronises to tr7ntpd" wait_for 20 synced "$GOOD"
$GOOD -n authdata | sed 's/^/#   /'
check "chronyd authdata: symmetric key 1" bash -c "$GOOD -n authdata | grep -Eq '^127.0.0.1 +SK +1 '"
check "tr7ntpd (SHA256 key 2) synchronises to chronyd" wait_for 20 tr7_synced "$T_DIR/cl.sock"
a=$("$TR7NTPC" -s "$T_DIR/cl.sock" --json authdata)
log "authdata: $a"
check "authdata --json: mode key, key_id 2, SHA256, authenticated replies" \
  $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1])[0]; sys.exit(0 if r["mode"]=="key" and r["key_id"]==2 and r["key_type"]=="SHA256" and r["key_bits"]==160 and r["authenticated"]>0 and r["cookies"]==0 else 1)' "$a"
"$TR7NTPC" -s "$T_DIR/cl.sock" authdata | sed 's/^/#   /'

# The wrong keys: by now (the good ones synchronised) they had as many chances.
sleep 3
check "chronyd with the wrong AES128 secret does not synchronise" bash -c "! $BAD tracking | grep -q '^Leap status *: Normal'"
check "... and does not select tr7ntpd" bash -c "! $BAD -n sources | grep -q '^\^\*'"
check "tr7ntpd with the wrong key does not synchronise" bash -c "! '$TR7NTPC' -s '$T_DIR/clbad.sock' sources | grep -q '^\^\*'"
a=$("$TR7NTPC" -s "$T_DIR/clbad.sock" --json authdata)
log "wrong key authdata: $a"
check "the wrong key's source: nothing authenticated" \
  $PYTHON3 -c 'import json,sys; r=json.loads(sys.argv[1])[0]; sys.exit(0 if r["mode"]=="key" and r["authenticated"]==0 else 1)' "$a"

st=$(ctlc serverstats)
log "$(grep -E 'auth|nak' <<<"$st" | tr -s ' ' | tr '\n' ' ')"
n_mac=$(sed -n 's/^auth_mac *: *//p' <<<"$st")
n_nak=$(sed -n 's/^nak_crypto *: *//p' <<<"$st")
check "serverstats: MAC'd replies ($n_mac)" test "${n_mac:-0}" -gt 0
check "serverstats: crypto-NAKs to the wrong key ($n_nak)" test "${n_nak:-0}" -gt 0
m=$(ctlc metrics)
check "metrics: tr7_server_authenticated{kind=mac}" grep -Eq '^tr7_server_authenticated_total\{tenant="default",kind="mac"\} [1-9]' <<<"$m"
check "metrics: tr7_server_naks{kind=crypto}" grep -Eq '^tr7_server_naks_total\{tenant="default",kind="crypto"\} [1-9]' <<<"$m"

# --- reload: a keyfile others may read is refused and the old keys stay ---------------
printf '%s\n4 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n' "$good" >"$T_DIR/keys"
chmod 644 "$T_DIR/keys"
kill -HUP "$SRV"
check "reload with a world-readable keyfile refused" wait_for 5 grep -q "reload refused.*keys: mode 0644" "$T_DIR/srv.log"
chmod 600 "$T_DIR/keys"
kill -HUP "$SRV"
check "reload with the fixed keyfile accepted" wait_for 5 grep -q "configuration reloaded" "$T_DIR/srv.log"
sleep 1
check "still serving chronyd after the reloads" synced "$GOOD"

# --- start-up: a keyfile others may read stops the start, with the reason --------------
chmod 604 "$T_DIR/keys"
conf=$(hermetic_conf refused "[daemon]
clock = none
keyfile = $T_DIR/keys")
printf '%s\n' "$conf" >"$T_DIR/refused.conf"
out=$("${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/refused.conf" 2>&1)
rc=$?
log "$(tail -n 1 <<<"$out")"
check "start refused (exit 1) with a world-readable keyfile" test "$rc" -eq 1
check "... naming the file, its mode and the fix" grep -q "keys: mode 0604 lets other users read.*chmod o-rwx" <<<"$out"
finish
