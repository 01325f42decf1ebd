#!/bin/bash
# The operator's view of tr7ntpc against a real daemon: `source delete` picks exactly the
# source named by HOST[:PORT] / `port N` (and refuses an ambiguous HOST), JSON output is
# typed (booleans, numbers, null), a usage error under --json is a JSON error object, a
# stale socket says "tr7ntpd is not running" (exit 4), and `reload` names each changed key
# that needs a restart (exit 1).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq setpriv

port=$(free_port)
p1=$(free_port)
p2=$(free_port)
p3=$(free_port)
conf=$(ctl_daemon_conf "$port" "" "[sources]
server = 127.0.0.1 port $p1 minpoll 4")
start_tr7ntpd d "$conf"
j() { ctlc --json "$@"; }
has_port() { j sources | jq -e --argjson p "$1" 'any(.[]; .address == "127.0.0.1" and .port == $p)' >/dev/null; }

# --- source delete by port ------------------------------------------------------------
check "source add 127.0.0.1 port $p2" ctlc source add 127.0.0.1 port "$p2"
check "sources: both ports" bash -c "$(declare -f ctlc j has_port); T_DIR='$T_DIR' TR7NTPC='$TR7NTPC'; has_port $p1 && has_port $p2"
ctlc source delete 127.0.0.1 >"$T_DIR/amb.out" 2>"$T_DIR/amb.err"
rc=$?
check "source delete 127.0.0.1 with two sources on that host: exit 1 ($rc)" test "$rc" = 1
check "... says ambiguous and names both ports ($(cat "$T_DIR/amb.err"))" \
  bash -c "grep -q ambiguous '$T_DIR/amb.err' && grep -q '$p1' '$T_DIR/amb.err' && grep -q '$p2' '$T_DIR/amb.err'"
check "... and deletes nothing" test "$(j sources | jq length)" = 2
check "source delete 127.0.0.1 port $p2" ctlc source delete 127.0.0.1 port "$p2"
check "sources: $p1 kept, $p2 gone" bash -c "test \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -c '[.[].port]')\" = '[$p1]'"
check "runtime state: the added source gone" bash -c "! grep -q '^source=' '$T_DIR/state/runtime.state'"
check "source add 127.0.0.1 port $p2 again (the same host on another port was no duplicate)" ctlc source add 127.0.0.1 port "$p2"
check "source add 127.0.0.1 port $p3 (a third)" ctlc source add 127.0.0.1 port "$p3"
check "source delete 127.0.0.1:$p3" ctlc source delete "127.0.0.1:$p3"
check "sources: $p1 and $p2 remain" bash -c "test \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -c '[.[].port] | sort')\" = '[$(printf '%s\n' "$p1" "$p2" | sort -n | paste -sd,)]'"
ctlc source delete "127.0.0.1:$p3" 2>/dev/null
check "source delete 127.0.0.1:$p3 again: not found, exit 1" test $? = 1
ctlc source delete "127.0.0.1:$p2" port "$p3" 2>/dev/null
check "two different ports: usage error, exit 2" test $? = 2
check "source delete 127.0.0.1 port $p1 (the configured one)" ctlc source delete 127.0.0.1 port "$p1"
check "sources: only $p2" bash -c "test \"\$('$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -c '[.[].port]')\" = '[$p2]'"
check "source delete 127.0.0.1 (now the only one on that host)" ctlc source delete 127.0.0.1
check "sources: none" test "$(j sources | jq length)" = 0
check "source add ::1 port $p3" ctlc source add ::1 port "$p3"
check "source delete [::1]:$p3" ctlc source delete "[::1]:$p3"
check "sources: none again" test "$(j sources | jq length)" = 0
at=$(j audit tail 20)
check "audit: the delete by port" jq -e --arg p "$p2" 'any(.[]; .command == "source delete 127.0.0.1 port " + $p and (.result | startswith("ok")))' <<<"$at"
check "audit: the refused ambiguous delete" jq -e 'any(.[]; .command == "source delete 127.0.0.1" and (.result | test("ambiguous")))' <<<"$at"

# --- people's tables: units, ports, at most 100 columns, no e-notation -----------------
check "source add 127.0.0.1 port $p2" ctlc source add 127.0.0.1 port "$p2"
for c in tracking sources sourcestats selectdata clients serverstats tenants "audit tail" activity rtc "allow list" help; do
  ctlc $c >"$T_DIR/people.txt" 2>&1
  check "'$c' for people: exit 0, at most 100 columns ($(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$T_DIR/people.txt"))" \
    bash -c "awk 'length(\$0) > 100 { bad = 1 } END { exit bad }' '$T_DIR/people.txt'"
  check "'$c' for people: no e-notation" bash -c "! grep -Eq '[0-9]\\.?[eE][-+]?[0-9]' '$T_DIR/people.txt'"
done
ctlc tracking >"$T_DIR/tracking.txt"
log "$(cat "$T_DIR/tracking.txt")"
check "tracking: seconds fast/slow of NTP time" grep -Eq '^System time +: [0-9]+\.[0-9]{9} seconds (fast|slow) of NTP time$' "$T_DIR/tracking.txt"
check "tracking: local, stratum 10" bash -c "grep -q '^Stratum *: 10$' '$T_DIR/tracking.txt' && grep -q '^State *: local' '$T_DIR/tracking.txt'"
COLUMNS=80 ctlc sources >"$T_DIR/sources.txt"
log "$(cat "$T_DIR/sources.txt")"
check "sources: ADDR:PORT for the ports that are not 123" grep -q "^^. 127.0.0.1:$p2 " "$T_DIR/sources.txt"
check "sources -v: the legend" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' -v sources | grep -q \"Source state '\\*' = selected\""
check "sources -n: accepted" ctlc -n sources
ctlc source delete 127.0.0.1 >/dev/null

# --- JSON: typed values ------------------------------------------------------------------
t=$(j tracking)
log "tracking: $t"
check "tracking --json: synchronised is a boolean, stratum a number, nothing held is null" \
  jq -e '(.synchronised | type) == "boolean" and .synchronised == true and (.stratum | type) == "number" and
         .held_id == null and .held_offset_s == null and .held_since_utc == null and (.offset_s | type) == "number"' <<<"$t"
w=$(ctlc --json waitsync --timeout 3)
check "waitsync --json: synchronised is the same boolean ($w)" jq -e '.synchronised == true' <<<"$w"
check "rtc --json: never written is null, not \"never\"" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json rtc | jq -e '.last_write_age_s == null and .present == false and .managed == false'"
check "source add 127.0.0.1 port $p1" ctlc source add 127.0.0.1 port "$p1"
check "sources --json: reach is a number, port a number" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e '(.[0].reach | type) == \"number\" and .[0].port == $p1 and .[0].last_rx_ago_s == null'"
ctlc source delete 127.0.0.1 >/dev/null
ctlc --json frobnicate >"$T_DIR/u.json" 2>"$T_DIR/u.err"
rc=$?
check "usage error under --json: exit 2 ($rc)" test "$rc" = 2
check "... a JSON error object on stdout ($(cat "$T_DIR/u.json"))" jq -e '.error.name == "usage" and .error.exit_status == 2 and (.error.message | test("frobnicate"))' "$T_DIR/u.json"
check "... and the message on stderr" grep -q frobnicate "$T_DIR/u.err"
ctlc --json --timeout x tracking >"$T_DIR/u2.json" 2>/dev/null
check "a bad option value under --json: a JSON error too" jq -e '.error.name == "usage"' "$T_DIR/u2.json"
ctlc -j source delete 127.0.0.1:0 >"$T_DIR/u3.json" 2>/dev/null
check "a bad argument under -j: a JSON error (exit $?)" jq -e '.error.code == 22' "$T_DIR/u3.json"

# --- reload: names each changed key that needs a restart, exit 1 ------------------------
check "reload with nothing changed: exit 0" ctlc reload
check "... restart_needed false" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json reload | jq -e '.restart_needed == false and .restart_keys == null'"
newport=$(free_port)
sed -e "s/^listen = 127.0.0.1:$port\$/listen = 127.0.0.1:$newport/" -e 's/^local_stratum = 10$/local_stratum = 9/' \
  "$T_DIR/d.conf" >"$T_DIR/d.conf.new" && mv "$T_DIR/d.conf.new" "$T_DIR/d.conf"
check "the test changed listen and local_stratum" grep -q "listen = 127.0.0.1:$newport" "$T_DIR/d.conf"
ctlc reload >"$T_DIR/reload.out" 2>"$T_DIR/reload.err"
rc=$?
log "reload: $(cat "$T_DIR/reload.out" "$T_DIR/reload.err")"
check "reload with a changed listen: exit 1 ($rc)" test "$rc" = 1
check "... names [server] listen" grep -q '\[server\] listen' "$T_DIR/reload.err"
check "... and only the changed key (not every restart-only key)" bash -c "! grep -Eq 'threads|clock|state_dir|admin_group' '$T_DIR/reload.err' '$T_DIR/reload.out'"
check "... the rest applied: stratum 9 now" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.stratum == 9'"
check "reload --json: restart_needed true, restart_keys" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json reload; test \$? = 1" 
check "... JSON body" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json reload | jq -e '.restart_needed == true and .restart_keys == \"[server] listen\"'"
check "the log names only the changed key" bash -c "grep 'warning: reload: changed, takes effect' '$T_DIR/d.log' | tail -n 1 | grep -q 'restart: \[server\] listen\$'"
kill -HUP "$TR7_PID"
check "SIGHUP: the log names it too" wait_until 5 '[ "$(grep -c "takes effect at the next restart: \[server\] listen$" "$T_DIR/d.log")" -ge 4 ]'

# --- --check-config: what a start would refuse, with file:line; fatal errors on stderr ---
printf '[daemon]\nclock = none\nstate_dir = %s/cc.state\ncontrol_socket = %s/cc.sock\nadmin_group = nosuchgroup_tr7\nmonitor_group = nosuchgroup2_tr7\ntimezone = Mars/Olympus\nuser = nosuchuser_tr7\n[server]\nlisten = 127.0.0.1:%s\n' \
  "$T_DIR" "$T_DIR" "$(free_port)" >"$T_DIR/cc.conf"
"$TR7NTPD" --check-config -f "$T_DIR/cc.conf" >"$T_DIR/cc.out" 2>"$T_DIR/cc.err"
rc=$?
log "check-config: $(cat "$T_DIR/cc.err")"
check "--check-config with a missing user, groups and zone: exit 1 ($rc)" test "$rc" = 1
check "... the zone, with file:line" grep -q "cc.conf:7: timezone: 'Mars/Olympus'" "$T_DIR/cc.err"
check "... admin_group, with file:line" grep -q "cc.conf:5: admin_group: no such group" "$T_DIR/cc.err"
check "... monitor_group, with file:line" grep -q "cc.conf:6: monitor_group: no such group" "$T_DIR/cc.err"
check "... the user (as root), with file:line" grep -q "cc.conf:8: user: no such user" "$T_DIR/cc.err"
# -n (syslog) where no syslog listens: the fatal error is on stderr.
TR7_TEST_SYSLOG_PATH="$T_DIR/no-syslog" timeout 10 "${NOCLOCK[@]}" "$TR7NTPD" -n -f "$T_DIR/cc.conf" >"$T_DIR/n.out" 2>"$T_DIR/n.err"
rc=$?
check "-n start refused: exit 1 ($rc)" test "$rc" = 1
check "... and the fatal error is visible on stderr without syslog" grep -q "fatal: .*nosuchuser_tr7" "$T_DIR/n.err"
check "... with the note that syslog is unreachable" grep -q "syslog is not reachable" "$T_DIR/n.err"
check "the tracking log line says local stratum 10 as tracking does" wait_for 10 bash -c "kill -USR1 $TR7_PID; grep -q 'tracking: local stratum=9 ' '$T_DIR/d.log'"

# --- SIGHUP reopens audit.log (logrotate) ------------------------------------------------
mv "$T_DIR/state/audit/audit.log" "$T_DIR/state/audit/audit.log.1"
kill -HUP "$TR7_PID"
check "SIGHUP: a new audit.log is created" wait_for 5 test -s "$T_DIR/state/audit/audit.log"
check "... with the reload record in it" grep -q '"command":"reload"' "$T_DIR/state/audit/audit.log"
check "later changes go to the new file" ctlc allow add 192.0.2.0/24
check "... there, not in the rotated one" bash -c "grep -q 'allow add 192.0.2.0/24' '$T_DIR/state/audit/audit.log' && ! grep -q 'allow add 192.0.2.0/24' '$T_DIR/state/audit/audit.log.1'"

# --- make install: never overwrites a configuration; completion and logrotate installed --
if [ -f "$TR7_BUILDDIR/etc/Makefile" ]; then
  R="$T_DIR/root"
  make -s -C "$TR7_BUILDDIR/etc" install DESTDIR="$R" >"$T_DIR/inst1.log" 2>&1
  make -s -C "$TR7_BUILDDIR/contrib" install-data-local DESTDIR="$R" >>"$T_DIR/inst1.log" 2>&1
  conf=$(find "$R" -name tr7ntpd.conf | head -n 1)
  check "make install: tr7ntpd.conf installed" test -f "$conf"
  echo "; edited by the admin" >>"$conf"
  make -s -C "$TR7_BUILDDIR/etc" install DESTDIR="$R" >"$T_DIR/inst2.log" 2>&1
  check "make install again: the edited config kept" grep -q "edited by the admin" "$conf"
  check "... the new one beside it as .conf.new" cmp -s "$TR7_SRCDIR/etc/tr7ntpd.conf" "$conf.new"
  check "... and make says so" grep -q "exists: kept" "$T_DIR/inst2.log"
  check "bash completion installed" test -n "$(find "$R" -path '*bash-completion/completions/tr7ntpc')"
  check "logrotate snippet installed" test -n "$(find "$R" -path '*logrotate.d/tr7ntpd')"
fi

# --- a stale socket: "tr7ntpd is not running", exit 4 ------------------------------------
kill -0 "$TR7_PID" || fail "tr7ntpd died"
kill -KILL "$TR7_PID"
wait_for 10 bash -c "! kill -0 $TR7_PID 2>/dev/null"
check "the killed daemon left its socket" test -S "$T_DIR/ctl.sock"
ctlc tracking >/dev/null 2>"$T_DIR/stale.err"
rc=$?
check "stale socket: exit 4 ($rc)" test "$rc" = 4
check "stale socket: 'tr7ntpd is not running' ($(cat "$T_DIR/stale.err"))" grep -q "tr7ntpd is not running" "$T_DIR/stale.err"
check "... not 'Connection refused'" bash -c "! grep -qi 'connection refused' '$T_DIR/stale.err'"
check "stale socket --json: not_running" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.error.name == \"not_running\"'"
ctlc waitsync --timeout 1 --interval 0.2 2>/dev/null
check "waitsync on a stale socket: exit 4" test $? = 4
finish
