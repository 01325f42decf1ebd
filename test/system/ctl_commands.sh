#!/bin/bash
# Every command of the command table against a running daemon: people's output, --json
# (parsed by jq) and --csv, with the exit status each must have; timezone set/get;
# usage errors (2), refusals (1) and an unreachable daemon (3).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd jq setpriv

port=$(free_port)
start_tr7ntpd d "$(ctl_daemon_conf "$port" "monitor_group = nogroup
timezone = UTC")"
$NTPPROBE query 127.0.0.1 "$port" >/dev/null || die "no NTP answer"

# The example argument of each kind, as in the synopsis.
example() {
  case $1 in
    PREFIX) echo 192.0.2.0/24 ;; ADDR) echo 127.0.0.1 ;; HOST | 'HOST[:PORT]') echo 127.0.0.1 ;;
    ZONE) echo Europe/Istanbul ;; N | '[N]') echo 5 ;; ID | '[ID]') echo 1 ;;
    FORMAT | '[FORMAT]') echo prometheus ;; 'OPTION...' | '[OPTION...]') echo iburst ;;
    TENANT) echo tx ;; '[TENANT]') echo default ;; 'SETTING...') echo netns ;;
  esac
}
# The exit status each command must have on a daemon without NTP sources (sources
# can be added and deleted; nothing to burst, step or approve).
expected_rc() {
  case $1 in
    burst | makestep | approve | ntpdata) echo 1 ;;
    "tenant add" | "tenant delete") echo 1 ;;  # not allowed for runtime tenants; no such tenant
    quit) echo 3 ;;  # closes without a reply... handled below
    *) echo 0 ;;
  esac
}

cmds=$(ctlc --json help | jq -r '.[].command') || die "help --json"
n=$(wc -l <<<"$cmds")
check "help lists the commands ($n)" test "$n" -ge 25
while IFS= read -r c; do
  [ "$c" = quit ] && continue
  args=$(ctlc --json help | jq -r --arg c "$c" '.[] | select(.command == $c) | .args')
  line=($c)
  # Words without an example (the optional "[port PORT]") are left out.
  for a in $args; do e=$(example "$a"); [ -n "$e" ] && line+=("$e"); done
  want=$(expected_rc "$c")
  # Each run starts from the same state: a delete needs its rule, an add must not find it.
  prep() { case $c in "allow delete") ctlc allow add 192.0.2.0/24 ;; "deny delete") ctlc deny add 192.0.2.0/24 ;;
    "source delete") ctlc source add 127.0.0.1 >/dev/null ;; esac; }
  undo() { case $c in "allow add") ctlc allow delete 192.0.2.0/24 ;; "deny add") ctlc deny delete 192.0.2.0/24 ;;
    "source add") ctlc source delete 127.0.0.1 >/dev/null ;; esac; }
  prep
  ctlc "${line[@]}" >"$T_DIR/out.txt" 2>"$T_DIR/err.txt"
  rc=$?
  undo
  check "'${line[*]}' exits $want (got $rc)" test "$rc" = "$want"
  prep
  ctlc --json "${line[@]}" >"$T_DIR/out.json" 2>/dev/null
  undo
  check "'${line[*]}' --json is one JSON document" jq -e . "$T_DIR/out.json" >/dev/null
  prep
  ctlc --csv "${line[@]}" >/dev/null 2>&1
  rc=$?
  undo
  check "'${line[*]}' --csv exits $want" test "$rc" = "$want"
done <<<"$cmds"

# Specific answers.
check "tracking: local stratum 10" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.state == \"local\" and .stratum == 10 and .synchronised == true'"
check "sources: none configured" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e 'length == 0'"
check "rtc: none configured, not managed, saved-clock counters" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json rtc | jq -e '.device == \"none\" and .managed == false and .writes == 0 and .saved_clock_saves >= 0 and (.mode | test(\"saved clock\"))'"
check "activity: zero sources" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json activity | jq -e '.online == 0 and .offline == 0'"
ctlc --json burst >"$T_DIR/b.json"
check "burst without sources: not_found, says why" jq -e '.error.code == 2 and (.error.message | test("no NTP source"))' "$T_DIR/b.json"
check "source add 127.0.0.2 minpoll 4" ctlc source add 127.0.0.2 minpoll 4
check "sources: the added one" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json sources | jq -e 'length == 1 and .[0].address == \"127.0.0.2\" and .[0].poll == 4'"
ctlc --json source add 127.0.0.2 >"$T_DIR/sa.json"
check "source add of the same source again: exists" jq -e '.error.code == 17' "$T_DIR/sa.json"
check "source delete 127.0.0.2" ctlc source delete 127.0.0.2
check "tracking: still local stratum 10 with the client idle" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json tracking | jq -e '.state == \"local\" and .stratum == 10'"
check "clients: the probe's address" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json clients | jq -e '.[0].address == \"127.0.0.1\" and .[0].requests >= 1'"
check "serverstats: answered >= 1" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json serverstats | jq -e '.answered >= 1 and .received >= .answered'"
check "allow check 127.0.0.1: allowed by 127.0.0.0/8" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check 127.0.0.1 | jq -e '.action == \"allow\" and .rule == \"127.0.0.0/8\" and (.reason | test(\"longest matching prefix\"))'"
check "allow check 10.1.1.1: default deny, and why" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check 10.1.1.1 | jq -e '.action == \"deny\" and .rule == null and (.reason | test(\"default is deny\"))'"
ctlc deny add 127.0.0.2/32 && check "allow check: a longer deny prefix wins" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json allow check 127.0.0.2 | jq -e '.action == \"deny\" and .rule == \"127.0.0.2/32\" and .origin == \"runtime\"'"
ctlc deny delete 127.0.0.2/32
ctlc allow add 127.0.0.0/8 2>/dev/null
check "allow add of an existing rule exits 1" test $? = 1
ctlc allow delete 198.51.100.0/24 2>/dev/null
check "allow delete of a missing rule exits 1" test $? = 1

# Time zones.
nz=$(ctlc --json timezone list | jq length)
check "timezone list: >= 400 zones ($nz)" test "${nz:-0}" -ge 400
check "timezone set Europe/Istanbul" ctlc timezone set Europe/Istanbul
check "timezone get: Europe/Istanbul, +03:00" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json timezone get | jq -e '.zone == \"Europe/Istanbul\" and .utc_offset_s == 10800 and (.local_time | endswith(\"+03:00\"))'"
ctlc tracking | grep -q '^Ref time *: .* +03$'
check "people see times in the daemon's zone" test $? = 0
ctlc --utc tracking | grep -q '^Ref time *: .* UTC$'
check "--utc shows UTC" test $? = 0
ctlc timezone set Mars/Olympus 2>/dev/null
check "invalid zone: exit 1" test $? = 1
ctlc timezone set ../../etc/passwd 2>/dev/null
check "zone with a path: exit 2 (usage)" test $? = 2
check "zone unchanged after the refusals" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json timezone get | jq -e '.zone == \"Europe/Istanbul\"'"

# Exit statuses.
ctlc frobnicate 2>/dev/null; check "unknown command: exit 2" test $? = 2
ctlc clients 0x10 2>/dev/null; check "bad argument: exit 2" test $? = 2
ctlc 2>/dev/null; check "no command: exit 2" test $? = 2
"$TR7NTPC" -s "$T_DIR/nonexistent.sock" tracking 2>/dev/null; check "no socket: not running, exit 4" test $? = 4
"$TR7NTPC" -s "$T_DIR/nonexistent.sock" --json tracking | jq -e '.error.name == "not_running"' >/dev/null
check "not running --json names it" test $? = 0
: >"$T_DIR/plain.file"
"$TR7NTPC" -s "$T_DIR/plain.file" tracking 2>/dev/null; check "unreachable (not a socket): exit 3" test $? = 3
check "waitsync on a synchronised daemon: exit 0" ctlc waitsync --timeout 3 --max-offset 0.1
"$TR7NTPC" -s "$T_DIR/nonexistent.sock" waitsync --timeout 1 --interval 0.2 2>/dev/null
check "waitsync with no daemon: exit 4 (not running)" test $? = 4
check "CSV of tracking: one line" test "$(ctlc --csv tracking | wc -l)" = 1
check "metrics: OpenMetrics text ending in # EOF" bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' metrics | tail -n 1 | grep -qx '# EOF'"

# A daemon with no source and no local_stratum: unsynchronised, and says so.
port2=$(free_port)
printf '[daemon]\nclock = none\nstate_dir = %s/state2\ncontrol_socket = %s/ctl2.sock\n[server]\nlisten = 127.0.0.1:%s\n' \
  "$T_DIR" "$T_DIR" "$port2" >"$T_DIR/u.conf"
"${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/u.conf" >"$T_DIR/u.log" 2>&1 &
T_PIDS+=("$!")
wait_for 10 test -S "$T_DIR/ctl2.sock" || die "second daemon did not start"
check "unsynchronised daemon: tracking says so" bash -c "'$TR7NTPC' -s '$T_DIR/ctl2.sock' --json tracking | jq -e '.state == \"unsynchronised\" and .synchronised == false and .stratum == 0 and .leap == \"unsynchronised\"' >/dev/null"
"$TR7NTPC" -s "$T_DIR/ctl2.sock" waitsync --timeout 1 --interval 0.2 2>/dev/null
check "waitsync on an unsynchronised daemon: exit 1 after the timeout" test $? = 1
check "metrics: tr7_synchronised 0" bash -c "'$TR7NTPC' -s '$T_DIR/ctl2.sock' metrics | grep -qx 'tr7_synchronised 0'"

# Completion and help come from the same table.
check "completion: top level" bash -c "'$TR7NTPC' --complete tim | grep -qx timezone"
check "completion: second word" bash -c "'$TR7NTPC' --complete timezone s | grep -qx set"
check "completion: zones from the daemon" bash -c "'$TR7NTPC' --complete -s '$T_DIR/ctl.sock' timezone set Europe/Ist | grep -qx Europe/Istanbul"
missing=$(ctlc --json help | jq -r '.[].command' | while read -r c; do "$TR7NTPC" --help | grep -q "^  $c" || echo "$c"; done)
check "every command is in --help" test -z "$missing"

# The man pages follow the table.
for c in $(ctlc --json help | jq -r '.[].command' | tr ' ' '_'); do
  c=${c//_/ }
  grep -q "^\..*${c}" "$TR7_SRCDIR/man/tr7ntp-control.7" || fail "tr7ntp-control(7) lacks '$c'"
  [ "$c" = quit ] || grep -q "^\..*${c}" "$TR7_SRCDIR/man/tr7ntpc.1" || fail "tr7ntpc(1) lacks '$c'"
done
pass "man pages name every command"
check "bash completion registers" bash -c "source '$TR7_SRCDIR/contrib/tr7ntpc.bash-completion' && complete -p tr7ntpc | grep -q _tr7ntpc"
check "bash completion completes" bash -c "PATH='$(dirname "$TR7NTPC")':\$PATH; source '$TR7_SRCDIR/contrib/tr7ntpc.bash-completion'; COMP_WORDS=(tr7ntpc allow c); COMP_CWORD=2; _tr7ntpc; [ \"\${COMPREPLY[*]}\" = check ]"

$NTPPROBE query 127.0.0.1 "$port" >/dev/null
check "NTP still answered" test $? = 0
finish
