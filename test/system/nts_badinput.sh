#!/bin/bash
# Bad input to the NTS-KE server (THREATS.md "NTS"): unknown critical records, records a
# client may not send, a missing negotiation, an AEAD we do not have, a request in
# one-byte pieces, a 20 KB message with no end, no ALPN, TLS 1.2, plain text, a silent
# client (slowloris), more connections than max_connections. Each gets the answer
# RFC 8915 asks for (an error record, an empty AEAD record) or a close, within the
# session timeout; nothing amplifies; the daemon stays up, serves NTS-KE and NTP after
# it all, and counts what happened.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv
. "$(dirname "$0")/certs.sh"

make_ca "$T_DIR" ca
make_server_cert "$T_DIR" ca srv
p=$(free_port)
k=$(free_tcp_port)
start_tr7ntpd srv "[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
[server]
listen = 127.0.0.1:$p
local_stratum = 4
[nts]
listen = 127.0.0.1:$k
cert = $T_DIR/srv.pem
key = $T_DIR/srv.key
timeout = 1
max_connections = 4"

out=$($PYTHON3 "$TR7_SRCDIR/test/system/ntsprobe.py" badke 127.0.0.1 "$k" "$T_DIR/ca.pem")
log "$out"
$PYTHON3 - "$out" "$p" <<'PY' || fail "NTS-KE bad-input cases"
import json, sys
c = json.loads(sys.argv[1])["cases"]
ntp_port = int(sys.argv[2])
ok = True
def need(cond, what):
    global ok
    print(("ok: " if cond else "FAIL: ") + what)
    ok = ok and cond
def recs(name):
    return c[name].get("records") or []
def of(name, t):
    return [bytes.fromhex(b) for crit, typ, b in recs(name) if typ == t]
for name in ("good", "split", "unknown_noncritical", "good_after"):
    cookies = of(name, 5)
    need(len(cookies) == 8 and all(len(x) == 100 for x in cookies), name + ": 8 cookies of 100 bytes")
    need(of(name, 1) == [b"\0\0"] and of(name, 4) == [b"\0\x0f"], name + ": NTPv4 and AES-SIV-CMAC-256")
    need(of(name, 7) == [ntp_port.to_bytes(2, "big")], name + ": our NTP port")
    need(c[name]["bytes"] < 1100, name + ": a bounded response (%d bytes)" % c[name]["bytes"])
need(of("unknown_critical", 2) == [b"\0\0"] and not of("unknown_critical", 5),
     "unknown critical record: error 0 (unrecognized critical record), no cookies")
need(of("error_record", 2) == [b"\0\x01"], "an error record from a client: error 1 (bad request)")
need(of("no_next_protocol", 2) == [b"\0\x01"], "no next protocol record: error 1")
need(of("other_aead", 4) == [b""] and not of("other_aead", 5), "only an AEAD we lack: an empty AEAD record, no cookies")
o = c["oversized"]
need(("closed" in o and o["bytes"] < 100) or of("oversized", 2) == [b"\0\x01"], "20 KB without an end: refused (%s)" % o)
n = c["no_alpn"]
need("handshake_failed" in n or (n.get("closed") and n["bytes"] == 0), "no ALPN: no handshake, or closed at once (%s)" % n)
need("handshake_failed" in c["tls12"], "TLS 1.2: no handshake")
need(c["not_tls"].get("closed") and c["not_tls"]["bytes"] < 100, "plain text: closed")
t = c["slowloris_closed_after_s"]
need(t is not None and t < 3.0, "a silent client is cut off after the 1 s timeout (%s s)" % t)
need(c["flood_closed_at_once"] >= 8, "over max_connections (4): the rest closed at once (%d of 12)" % c["flood_closed_at_once"])
sys.exit(0 if ok else 1)
PY
kill -0 "$TR7_PID" && pass "daemon alive" || fail "daemon died"
check "NTP still answered" $NTPPROBE query 127.0.0.1 "$p"
st=$(ctlc serverstats)
log "$(grep -E 'nts_ke' <<<"$st" | tr -s ' ' | tr '\n' ' ')"
v() { sed -n "s/^$1 *: *//p" <<<"$st"; }
check "counted: completed ($(v nts_ke_completed)), error records ($(v nts_ke_errors)), failed ($(v nts_ke_failed)), refused ($(v nts_ke_refused))" \
  test "$(v nts_ke_completed)" -ge 4 -a "$(v nts_ke_errors)" -ge 4 -a "$(v nts_ke_failed)" -ge 3 -a "$(v nts_ke_refused)" -ge 8
check "no session left open" wait_until 5 '[ "$(ctlc serverstats | sed -n "s/^nts_ke_active *: *//p")" = 0 ]'
finish
