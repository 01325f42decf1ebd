#!/bin/bash
# Issue 19 item 7: the audit log is append-only from the worker's side, and rotated by
# size. Privilege-separated, as root:
#  * <state_dir>/audit is root's (group: the worker's, 2750), audit.log root's 0640; the
#    worker holds no descriptor on it; its user can read it but not append, truncate,
#    rename or remove it (nor the directory's entries);
#  * with audit_max_size = 4096 and audit_keep = 3, 120 changes rotate it: audit.log and
#    audit.log.1..3, none beyond, each within 4096 bytes, every line a whole JSON record,
#    the newest records in audit.log, `audit tail` reads them;
#  * SIGHUP after an outside move: the helper starts a new audit.log.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd setpriv jq
ensure_test_user
TR7_PRIVSEP=1

port=$(free_port)
uid=$(id -u "$TR7_TEST_USER")
gid=$(id -g "$TR7_TEST_USER")
start_tr7ntpd audit "$(ctl_daemon_conf "$port" "audit_max_size = 4096
audit_keep = 3")"
helper=$TR7_PID
worker=$(worker_pid_of "$helper")
dir=$T_DIR/state/audit
check "allow add (a first record)" ctlc allow add 192.0.2.0/24
check "the audit directory is root's, group $(id -gn "$TR7_TEST_USER"), 2750" \
  test "$(stat -c '%u %g %a' "$dir")" = "0 $gid 2750"
check "audit.log is root's, 0640" test "$(stat -c '%u %g %a' "$dir/audit.log")" = "0 $gid 640"
check "the worker holds no descriptor on it" \
  bash -c "! ls -l /proc/$worker/fd 2>/dev/null | grep -q 'audit/audit.log'"
as_worker() { setpriv --reuid "$uid" --regid "$gid" --clear-groups -- "$@"; }
# denied CMD...: CMD fails as the worker's user.
denied() { ! as_worker "$@" 2>/dev/null; }
check "the worker's user can read it" as_worker cat "$dir/audit.log"
check "... cannot append to it" denied sh -c "echo forged >>'$dir/audit.log'"
check "... cannot truncate it" denied truncate -s 0 "$dir/audit.log"
check "... cannot rename it" denied mv "$dir/audit.log" "$dir/x"
check "... cannot remove it" denied rm -f "$dir/audit.log"
check "... cannot create files beside it" denied touch "$dir/audit.log.9"
check "... nor rename the directory's entries from outside it" denied mv "$dir/audit.log" "$T_DIR/state/stolen.log"
check "audit.log is still there, whole" jq -e . "$dir/audit.log"
check "the record is in it" grep -q '"command":"allow add 192.0.2.0/24"' "$dir/audit.log"

# --- rotation by size -------------------------------------------------------------------
for i in $(seq 1 60); do
  ctlc allow add "198.18.$i.0/24" >/dev/null || fail "allow add 198.18.$i.0/24"
  ctlc allow delete "198.18.$i.0/24" >/dev/null || fail "allow delete 198.18.$i.0/24"
done
ls -l "$dir" | sed 's/^/#   /'
check "rotated: audit.log.1, .2, .3" test -f "$dir/audit.log.1" -a -f "$dir/audit.log.2" -a -f "$dir/audit.log.3"
check "no more than audit_keep = 3 old files" test ! -e "$dir/audit.log.4"
for f in "$dir"/audit.log*; do
  size=$(stat -c %s "$f")
  [ "$size" -le 4096 ] || fail "$f is $size bytes, over audit_max_size"
  jq -e . "$f" >/dev/null 2>&1 || fail "$f: a line that is not a whole JSON record"
  [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "$f does not end with a whole line"
  [ "$(stat -c '%u %a' "$f")" = "0 640" ] || fail "$f is not root's 0640"
done
pass "every file within 4096 bytes, whole JSON lines, root's 0640"
check "the newest record is in audit.log" grep -q '"command":"allow delete 198.18.60.0/24"' "$dir/audit.log"
check "audit tail reads the current file" \
  bash -c "'$TR7NTPC' -s '$T_DIR/ctl.sock' --json audit tail 1 | jq -e '.[0].command == \"allow delete 198.18.60.0/24\"' >/dev/null"

# --- SIGHUP after an outside move ---------------------------------------------------------
mv "$dir/audit.log" "$dir/moved.log"
kill -HUP "$helper"
check "SIGHUP: a new audit.log" wait_for 5 test -s "$dir/audit.log"
check "... root's" test "$(stat -c %u "$dir/audit.log")" = 0
check "... with the reload record" grep -q '"command":"reload"' "$dir/audit.log"
check "helper and worker alive" kill -0 "$helper" "$worker"

finish
