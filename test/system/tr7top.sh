#!/bin/bash
# tr7top inside tmux against a running daemon (clock none, local stratum, no CAP_SYS_TIME):
# at 80x24 and, after a resize (SIGWINCH), 200x50 the screen shows the stratum, reference,
# state and an offset consistent with `tr7ntpc --json tracking`; the keys work; a
# stopped daemon (SIGSTOP) and a terminated one (SIGTERM) are shown as unreachable, and
# tr7top recovers by itself (SIGCONT, restart) and says so; q, Ctrl-C, SIGTERM and a
# terminal error all exit with the terminal restored (stty state unchanged, the
# alternate screen left); NO_COLOR gives monochrome. Last, against a daemon synchronised
# from two chronyd -x servers, the sources table shows their addresses and states.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tmux jq setpriv stty
TR7TOP=${TR7TOP:-$TR7_BUILDDIR/src/tools/tr7top/tr7top}
[ -x "$TR7TOP" ] || die "no tr7top at $TR7TOP"

port=$(free_port)
conf=$(ctl_daemon_conf "$port" "timezone = Europe/Istanbul")
start_tr7ntpd d "$conf"
wait_for 5 test -S "$T_DIR/ctl.sock" || die "no control socket"

# A tmux server of our own, with a plain shell and a known prompt.
TM=(tmux -S "$T_DIR/tmux.sock" -f /dev/null)
tm() { "${TM[@]}" "$@"; }
shell_cmd="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=$T_DIR TERM=screen-256color LANG=C.UTF-8 PS1='tr7test\$ ' bash --norc --noprofile"
tm new-session -d -s top -x 80 -y 24 "$shell_cmd" || die "tmux new-session"
T_PIDS+=("$(tm display-message -p -t top '#{pid}')")
trap 'rc=$?; tm kill-server >/dev/null 2>&1; (exit $rc); cleanup' EXIT
screen() { tm capture-pane -p -t top "$@"; }
# until_screen TIMEOUT PATTERN: waits until the pane shows PATTERN (extended regex).
until_screen() {
  local timeout=$1 pat=$2 deadline=$((SECONDS + $1))
  until screen | grep -Eq -- "$pat"; do
    if [ $SECONDS -ge $deadline ]; then
      log "screen after ${timeout}s, waiting for /$pat/:"
      screen | sed 's/^/#   | /'
      return 1
    fi
    sleep 0.2
  done
}
type_line() { tm send-keys -t top -l "$1" && tm send-keys -t top Enter; }
# Row N of the pane contains TEXT.
row_has() { screen | sed -n "${1}p" | grep -q -- "$2"; }
# No row wider than N columns (display width).
max_width() { [ "$(screen | LC_ALL=C.UTF-8 wc -L)" -le "$1" ]; }
not_on_screen() { ! screen | grep -Eq -- "$1"; }
# Colour SGR sequences (30-37, 40-47, 38;5;n, 48;5;n) in the pane, and reverse video.
colours_shown() {
  screen -e | python3 -c 'import re,sys; sys.exit(0 if re.search(r"\x1b\[(?:[0-9]*;)*(?:3[0-8]|4[0-8])(?:;[0-9]*)*m", sys.stdin.read()) else 1)'
}
reverse_title() { screen -e | head -n1 | grep -q $'\e\\[[0-9;]*7[;m]'; }
until_screen 5 '^tr7test\$' || die "no shell prompt in tmux"

# The terminal state before tr7top, to compare after each exit.
type_line "stty -g > $T_DIR/stty.before; clear"
wait_for 5 test -s "$T_DIR/stty.before" || die "stty -g"
stty_restored() {
  rm -f "$T_DIR/stty.after"
  type_line "stty -g > $T_DIR/stty.after"
  wait_for 5 test -s "$T_DIR/stty.after" && cmp -s "$T_DIR/stty.before" "$T_DIR/stty.after"
}

# Seconds from tr7top's offset text ("0ns", "+1.234ms", "-12.35µs").
to_seconds() {
  sed -E 's/µs$/us/' <<<"$1" | awk '{
    v = $0; u = v; sub(/[a-z]+$/, "", v); sub(/^[-+0-9.]+/, "", u);
    f = (u == "ns") ? 1e-9 : (u == "us") ? 1e-6 : (u == "ms") ? 1e-3 : (u == "s") ? 1 : -1;
    if (f < 0 || v == "") { print "bad"; exit } printf "%.12g\n", v * f }'
}
# Checks the header against tr7ntpc --json tracking.
check_tracking() {
  local what=$1 json stratum ref state offset shown shown_s
  json=$(ctlc --json tracking) || { fail "$what: tr7ntpc tracking"; return; }
  stratum=$(jq -r .stratum <<<"$json")
  ref=$(jq -r .ref_name <<<"$json")
  state=$(jq -r .state <<<"$json")
  offset=$(jq -r .offset_s <<<"$json")
  check "$what: stratum $stratum shown" until_screen 5 " Stratum +$stratum( |$)"
  check "$what: reference $ref shown" until_screen 5 " Reference +$ref \("
  check "$what: state '$state' shown" until_screen 5 " State +$state( |$)"
  shown=$(screen | sed -nE 's/.* Offset +([-+0-9.]+(ns|µs|us|ms|s)).*/\1/p' | head -n1)
  shown_s=$(to_seconds "$shown")
  log "$what: offset on screen '$shown' = $shown_s s, tracking offset_s = $offset"
  check "$what: offset $shown consistent with tracking ($offset s)" \
    awk -v a="$shown_s" -v b="$offset" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "bad" && d <= 1e-6 + 1e-3 * (b < 0 ? -b : b)) }'
}

# --- 80x24 ---
type_line "$TR7TOP -s $T_DIR/ctl.sock -i 0.5; echo tr7top-exit=\$?"
check "80x24: title with the daemon's version" until_screen 5 "tr7ntpd/[0-9]"
check_tracking "80x24"
check "80x24: local time in the daemon's zone" until_screen 2 "\+03 Europe/Istanbul"
check "80x24: the server panel" until_screen 2 "^ daemon +[0-9.]+/s"
check "80x24: the key line at the bottom" row_has 24 "q quit"
check "80x24: alerts line" until_screen 2 "Alerts +i  no NTP sources: serving the local clock"
check "80x24: nothing wider than 80 columns" max_width 80

# NTP traffic shows up in the counters (3 requests: under the rate limit's burst).
for _ in 1 2 3; do $NTPPROBE query 127.0.0.1 "$port" >/dev/null 2>&1; done
check "80x24: received counter follows NTP requests" until_screen 5 "^ daemon +[0-9.]+/s +3 +3 "

# --- 200x50, by resizing the running tr7top (SIGWINCH) ---
tm resize-window -t top -x 200 -y 50
check "200x50: wide header after the resize" until_screen 5 " RMS offset "
check "200x50: the date in the title" until_screen 2 "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} \+03 Europe/Istanbul"
check "200x50: history plot with axis" until_screen 2 " History +offset over the last 10m"
check "200x50: the key line at the bottom" row_has 50 "q quit"
check "200x50: nothing wider than 200 columns" max_width 200
check_tracking "200x50"

# --- keys ---
tm send-keys -t top t
check "t: UTC first" until_screen 3 "[0-9:]{8} UTC  [0-9:]{8} \+03 Europe/Istanbul"
tm send-keys -t top s
check "s: sort order changes" until_screen 3 "sorted by state"
tm send-keys -t top '?'
check "?: help page" until_screen 3 "Source states:"
tm send-keys -t top x
check "any key leaves help" until_screen 3 " Stratum +10"
tm send-keys -t top p
check "p: paused" until_screen 3 "PAUSED"
tm send-keys -t top p
sleep 1
check "p again: running" not_on_screen PAUSED

# --- a stopped daemon: no reply in time, then recovery ---
kill -STOP "$TR7_PID"
check "SIGSTOP: unreachable shown" until_screen 6 "daemon unreachable"
check "SIGSTOP: the reason" until_screen 2 "no reply within"
kill -CONT "$TR7_PID"
check "SIGCONT: recovered" until_screen 8 " State +local"
check "SIGCONT: says it reconnected" until_screen 3 "reconnected"

# --- a terminated daemon, then a restart ---
kill -TERM "$TR7_PID"
wait "$TR7_PID" 2>/dev/null
check "SIGTERM: unreachable shown" until_screen 5 "daemon unreachable"
check "SIGTERM: cannot connect" until_screen 3 "cannot connect to $T_DIR/ctl.sock"
check "SIGTERM: retrying" until_screen 2 "retrying every"
start_tr7ntpd d "$conf"
check "restart: recovered" until_screen 8 " State +local"
check "restart: says it reconnected" until_screen 3 "reconnected to tr7ntpd/"
check_tracking "after restart"

check "tr7top's requests are all valid (no 'bad request' in the daemon's log)" eval '! grep -q "bad request" "$T_DIR/d.log"'

# --- q: exit 0, terminal restored ---
tm send-keys -t top q
check "q exits 0" until_screen 5 "^tr7top-exit=0$"
check "q: the alternate screen is left (command line visible again)" until_screen 2 "^tr7test\\$ .*tr7top -s"
check "q: terminal modes restored" stty_restored

# --- Ctrl-C and SIGTERM: the same ---
type_line "clear; $TR7TOP -s $T_DIR/ctl.sock; echo tr7top-exit=\$?"
until_screen 5 " Stratum +10" || fail "tr7top restarted"
tm send-keys -t top C-c
check "Ctrl-C exits 0" until_screen 5 "^tr7top-exit=0$"
check "Ctrl-C: terminal modes restored" stty_restored
type_line "clear; $TR7TOP -s $T_DIR/ctl.sock; echo tr7top-exit=\$?"
until_screen 5 " Stratum +10" || fail "tr7top restarted"
shell_pid=$(tm display-message -p -t top '#{pane_pid}')
top_pid=$(pgrep -P "$shell_pid" -x tr7top)
check "SIGTERM: tr7top found" test -n "$top_pid"
kill -TERM $top_pid
check "SIGTERM exits 143" until_screen 5 "^tr7top-exit=143$"
check "SIGTERM: terminal modes restored" stty_restored

# --- errors: a terminal type curses does not know; bad usage ---
type_line "clear; TERM=no-such-terminal $TR7TOP -s $T_DIR/ctl.sock; echo tr7top-exit=\$?"
check "unknown terminal: exit 1 with a message" until_screen 5 "^tr7top-exit=1$"
check "unknown terminal: the message" until_screen 1 "cannot use the terminal type"
check "unknown terminal: terminal modes unchanged" stty_restored
"$TR7TOP" --interval 0 >/dev/null 2>&1
check "bad interval: exit 2" test $? -eq 2
"$TR7TOP" -s "$T_DIR/ctl.sock" </dev/null >/dev/null 2>&1
check "no terminal: exit 1" test $? -eq 1

# --- colour, and NO_COLOR ---
type_line "clear; $TR7TOP -s $T_DIR/ctl.sock; echo tr7top-exit=\$?"
until_screen 5 " Stratum +10" || fail "tr7top restarted"
check "colours by default" colours_shown
tm send-keys -t top q
until_screen 5 "^tr7top-exit=0$" || fail "q"
type_line "clear; NO_COLOR=1 $TR7TOP -s $T_DIR/ctl.sock; echo tr7top-exit=\$?"
until_screen 5 " Stratum +10" || fail "tr7top with NO_COLOR"
check "NO_COLOR: no colours" eval '! colours_shown'
check "NO_COLOR: reverse title" reverse_title
tm send-keys -t top q
check "NO_COLOR: q exits 0" until_screen 5 "^tr7top-exit=0$"

# --- a daemon with real sources (two chronyd -x, local stratum 2): the sources table ---
if command -v chronyd >/dev/null 2>&1; then
  up_port=$(free_port)
  for i in 2 3; do
    start_chronyd "up$i" "local stratum 2
allow 127.0.0.0/8
port $up_port
bindaddress 127.0.0.$i"
  done
  for i in 2 3; do
    wait_for 10 $NTPPROBE query "127.0.0.$i" "$up_port" --timeout 0.5 || die "chronyd 127.0.0.$i not answering"
  done
  sport=$(free_port)
  mkdir -p "$T_DIR/state_s"
  start_tr7ntpd s "[daemon]
clock = none
state_dir = $T_DIR/state_s
control_socket = $T_DIR/ctl_s.sock
[server]
listen = 127.0.0.1:$sport
[sources]
server = 127.0.0.2 port $up_port minpoll -2 maxpoll 0 burst_interval 0.25
server = 127.0.0.3 port $up_port minpoll -2 maxpoll 0 burst_interval 0.25
min_sources = 2"
  "$TR7NTPC" -s "$T_DIR/ctl_s.sock" waitsync --timeout 10 >/dev/null || fail "sources: daemon not synchronised"
  type_line "clear; $TR7TOP -s $T_DIR/ctl_s.sock -i 0.5; echo tr7top-exit=\$?"
  check "sources 200x50: synchronised, stratum 3" until_screen 8 " Stratum +3( |$)"
  check "sources 200x50: state synchronised" until_screen 3 " State +synchronised( |$)"
  check "sources 200x50: a chronyd server is the reference" until_screen 3 " Reference +127\.0\.0\.[23] \("
  check "sources 200x50: heading counts 2 usable" until_screen 5 " Sources: 2, 2 usable"
  for a in 2 3; do
    check "sources 200x50: 127.0.0.$a with name, address, state, stratum 2, reach" \
      until_screen 5 "^[*+-] 127\.0\.0\.$a +127\.0\.0\.$a +(selected|combined|candidate) +2 "
  done
  check "sources 200x50: one of them selected" until_screen 3 "^\* 127\.0\.0\.[23] +127\.0\.0\.[23] +selected "
  check "sources 200x50: no 'no NTP sources' alert" not_on_screen "no NTP sources"
  tm resize-window -t top -x 80 -y 24
  for a in 2 3; do
    check "sources 80x24: 127.0.0.$a and its state" until_screen 5 "^[*+-] 127\.0\.0\.$a +(selected|combined|candidate) +2 "
  done
  check "sources 80x24: nothing wider than 80 columns" max_width 80
  tm send-keys -t top q
  check "sources: q exits 0" until_screen 5 "^tr7top-exit=0$"
else
  log "chronyd not installed: the sources table against real peers is not checked"
fi

finish
