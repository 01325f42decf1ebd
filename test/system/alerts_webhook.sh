#!/bin/bash
# Alerts end to end: the only source is lost -> the no_source alert fires, is listed by
# `tr7ntpc alerts`, exported as tr7_alert_active, logged with structured data, and POSTed
# to the webhook with a valid X-Tr7-Signature (the first attempt answered 503: retried);
# the source returns -> resolved, once. A world-readable secret file stops the start.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 setpriv jq
FAKE="$PYTHON3 $TR7_SRCDIR/test/system/fakentp.py"
RECV="$PYTHON3 $TR7_SRCDIR/test/system/webhookrecv.py"
up_port=$(free_port)
our_port=$(free_port)
hook_port=$(free_tcp_port)
hooks="$T_DIR/hooks.jsonl"
secret="$T_DIR/secret"
printf 'tr7-test-key\n' >"$secret"
chmod 600 "$secret"

start_up() {
  $FAKE 127.0.0.2 "$up_port" >"$T_DIR/up.log" 2>&1 &
  UP_PID=$!
  T_PIDS+=("$UP_PID")
  wait_for 10 $NTPPROBE query 127.0.0.2 "$up_port" --timeout 0.3 || die "fake upstream not answering"
}
start_up
$RECV 127.0.0.1 "$hook_port" "$hooks" --secret "$secret" --fail-first 1 >"$T_DIR/recv.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 $PYTHON3 -c "import socket; socket.create_connection(('127.0.0.1', $hook_port), 1)" ||
  die "webhook receiver not listening"

conf="[daemon]
clock = none
control_socket = $T_DIR/ctl.sock
node = node-a
[server]
listen = 127.0.0.1:$our_port
[sources]
server = 127.0.0.2 port $up_port iburst minpoll 0 maxpoll 1
[alerts]
hold = 2
clear_hold = 3
webhook = http://127.0.0.1:$hook_port/tr7/hook
webhook_secret_file = $secret"
start_tr7ntpd a "$conf"
ctlc waitsync --timeout 20 >/dev/null || die "not synchronised"
check "no alert while the source answers" test "$(ctlc alerts)" = "(none)"

# --- the only source is lost ----------------------------------------------------------
t0=$SECONDS
kill "$UP_PID"
fired() { jq -e -s 'map(select(.status == 204 and .body.alert == "no_source" and .body.state == "firing")) | length == 1' "$hooks"; }
check "no_source webhook delivered within 60 s" wait_for 60 fired
log "no_source delivered $((SECONDS - t0)) s after the source stopped"
jq -c -s 'map(select(.body.alert == "no_source"))' "$hooks" | sed 's/^/# /'
check "every webhook body is signed correctly" jq -e -s 'length > 0 and all(.signature_ok)' "$hooks"
check "the first attempt (503) was retried with the same body" \
  jq -e -s '.[0].status == 503 and .[1].status == 204 and .[0].body == .[1].body' "$hooks"
check "webhook body fields" jq -e -s 'map(select(.body.alert == "no_source"))[0].body |
  .state == "firing" and .severity == "critical" and .node == "node-a" and .tenant == null and
  (.value | type) == "number" and (.threshold | type) == "number" and (.time_utc | test("Z$"))' "$hooks"
check "webhook path" jq -e -s 'all(.path == "/tr7/hook")' "$hooks"
ctlc alerts | sed 's/^/# /'
check "tr7ntpc alerts lists no_source firing" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json alerts |
  jq -e 'map(select(.alert == \"no_source\" and .state == \"firing\" and .severity == \"critical\" and (.value | type) == \"number\")) | length == 1'"
check "tr7_alert_active{alert=no_source} 1" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' metrics prometheus | grep -q '^tr7_alert_active{alert=\"no_source\"} 1$'"
check "logged with RFC 5424 structured data" \
  grep -q 'alert no_source firing: \[tr7alert@32473 alert="no_source" state="firing" severity="critical" node="node-a"' "$T_DIR/a.log"

# --- the source returns -----------------------------------------------------------------
start_up
resolved() { jq -e -s 'map(select(.status == 204 and .body.alert == "no_source" and .body.state == "resolved")) | length == 1' "$hooks"; }
check "no_source resolved on the webhook" wait_for 60 resolved
sleep 2
check "fired once and resolved once" jq -e -s 'map(select(.status == 204 and .body.alert == "no_source")) | length == 2' "$hooks"
check "alerts shows it resolved, nothing firing" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json alerts |
  jq -e '(map(select(.state == \"firing\")) == []) and (map(select(.alert == \"no_source\" and .state == \"resolved\" and .resolved_utc != null)) | length == 1)'"
check "tr7_webhook_delivered counts them" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' metrics prometheus | grep -Eq '^tr7_webhook_delivered_total [1-9]'"

# --- a world-readable secret is refused -------------------------------------------------
chmod 644 "$secret"
if [ "$TR7_PRIVSEP" = 1 ]; then conf2=$(privsep_conf b "$conf"); mode=(-n -e); else conf2=$(hermetic_conf b "$conf"); mode=(-d); fi
printf '%s\n' "${conf2/ctl.sock/ctl2.sock}" | sed "s/127.0.0.1:$our_port/127.0.0.1:$(free_port)/" >"$T_DIR/b.conf"
timeout 10 "${NOCLOCK[@]}" "$TR7NTPD" "${mode[@]}" -f "$T_DIR/b.conf" >"$T_DIR/b.log" 2>&1
rc=$?
check "a world-readable webhook_secret_file stops the start" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying why" grep -q "world-readable" "$T_DIR/b.log"
finish
