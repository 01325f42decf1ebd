# Shared by the clknetsim scenarios (test/clknetsim/*.test) and the bench (bench.sh).
#
# A scenario sets the network and clock variables below, calls cs_run, then checks the
# figures cs_run leaves in CS_* variables with cs_check. Nodes 1..CS_SERVERS are chronyd
# servers with perfect clocks; node CS_SERVERS+1 is the client (tr7ntpd, or chronyd with
# CS_CLIENT=chronyd). Everything lives in a mktemp directory.
#
# Environment: CLKNETSIM_PATH (a built clknetsim: clknetsim, clknetsim.so), TR7NTPD
# (the daemon), CS_CLIENT (tr7ntpd | chronyd), CS_SEED (default 1), CS_LIMIT (simulated s).

set -u
CS_NAME=$(basename "$0" .test)

if [ -z "${CLKNETSIM_PATH:-}" ]; then
  echo "CLKNETSIM_PATH not set: clknetsim suite skipped"
  exit 77
fi
if [ ! -x "$CLKNETSIM_PATH/clknetsim" ] || [ ! -e "$CLKNETSIM_PATH/clknetsim.so" ]; then
  echo "CLKNETSIM_PATH=$CLKNETSIM_PATH: no built clknetsim there: clknetsim suite skipped"
  exit 77
fi
if ! command -v chronyd >/dev/null; then
  echo "chronyd not installed: clknetsim suite skipped"
  exit 77
fi
: "${TR7NTPD:?TR7NTPD (the daemon binary) not set}"
CS_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CS_SHIM:=}"  # pipeshim.so, built by make (see Makefile.am)

CS_CLIENT=${CS_CLIENT:-tr7ntpd}
CS_SEED=${CS_SEED:-1}
CS_LIMIT=${CS_LIMIT:-3000}
CS_DIR=$(mktemp -d "/tmp/tr7-clk-${CS_NAME}.XXXXXX")
cs_cleanup() {
  local p
  for p in ${CS_PIDS:-}; do kill "$p" 2>/dev/null; done
  if [ -z "${CS_KEEP:-}" ]; then rm -rf "$CS_DIR"; else echo "kept $CS_DIR"; fi
}
trap cs_cleanup EXIT
CS_PIDS=""

# The scenario's knobs (clknetsim expressions, see its README).
CS_SERVERS=3
CS_DELAY="(+ 0.01 (* 0.001 (exponential)))"   # each way, every server
CS_DELAY_UP=""                                 # client -> server, if different
CS_OFFSET=0.1                                  # the client's initial offset (s)
CS_WANDER=1e-9                                 # random walk of the client's frequency per s
CS_FREQ=1e-4                                   # the client's frequency error
CS_EXTRA_CONF=""                               # more clknetsim config lines
CS_SOURCE_OPTS="iburst minpoll 4 maxpoll 6"
CS_MAKESTEP="1 3"
CS_SERVER_CONF=""                              # more chronyd server lines
CS_SERVER_REF="local stratum 1"                # the servers' reference (a refclock: SHM 0)
CS_TR7_DISCIPLINE=""                           # more tr7ntpd [discipline] lines
CS_START_DATE=1800000000                       # the simulated time at start (after the build)
CS_CHRONYD_ENV=""                              # more environment for the chronyd servers
CS_CHRONYD_PRELOAD=""                          # a preload for the chronyd servers (leapshim.so)

cs_client_node() { echo $((CS_SERVERS + 1)); }

cs_write_net() {
  local c i up
  c=$(cs_client_node)
  up=${CS_DELAY_UP:-$CS_DELAY}
  {
    for i in $(seq 1 "$CS_SERVERS"); do
      echo "node${i}_delay${c} = $CS_DELAY"
      echo "node${c}_delay${i} = $up"
    done
    echo "node${c}_offset = $CS_OFFSET"
    echo "node${c}_freq = (+ $CS_FREQ (sum (* $CS_WANDER (normal))))"
    printf '%s\n' "$CS_EXTRA_CONF"
  } >"$CS_DIR/net.conf"
}

# cs_start NODE PROGRAM ARGS...: the simulated node, never with CAP_SYS_TIME (clknetsim
# intercepts every clock call; the bounding set makes sure the real clock stays alone).
# A user other than root has no CAP_SYS_TIME to drop (and may not change the bounding set).
CS_NOCAP=()
[ "$(id -u)" -ne 0 ] || CS_NOCAP=(setpriv --bounding-set -sys_time --inh-caps -sys_time --)
cs_start() {
  local node=$1
  shift
  # A sanitizer build wants its runtime first; here the preloads come first on purpose.
  # (CS_ENV: more variables; no wrapper process may run under the preload: clknetsim
  # would count it as the node.)
  # shellcheck disable=SC2086
  "${CS_NOCAP[@]}" env ${CS_ENV:-} EVENT_NOEPOLL=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0" \
    LD_PRELOAD="${CS_PRELOAD:-}$CLKNETSIM_PATH/clknetsim.so" \
    CLKNETSIM_NODE="$node" CLKNETSIM_SOCKET="$CS_DIR/sock" CLKNETSIM_RANDOM_SEED="$((CS_SEED * 100 + node))" \
    CLKNETSIM_START_DATE="$CS_START_DATE" "$@" >"$CS_DIR/log.$node" 2>&1 &
  CS_PIDS="$CS_PIDS $!"
}

cs_start_chronyd() {
  local node=$1 conf=$2 d="$CS_DIR/n$1"
  mkdir -p "$d"
  printf 'pidfile %s/pid\n%s\n' "$d" "$conf" >"$d/chrony.conf"
  local user=()
  [ "$(id -u)" -ne 0 ] || user=(-u root)  # as root, no drop to _chrony (its dirs are ours)
  CS_ENV="$CS_CHRONYD_ENV" CS_PRELOAD="${CS_CHRONYD_PRELOAD:+$CS_CHRONYD_PRELOAD:}" cs_start "$node" chronyd -d "${user[@]}" -f "$d/chrony.conf"
}

cs_start_client() {
  local c i d
  c=$(cs_client_node)
  d="$CS_DIR/n$c"
  mkdir -p "$d/state"
  if [ "$CS_CLIENT" = chronyd ]; then
    {
      for i in $(seq 1 "$CS_SERVERS"); do echo "server 192.168.123.$i $CS_SOURCE_OPTS"; done
      echo "makestep $CS_MAKESTEP"
      echo "driftfile $d/drift"
    } >"$d/client.conf"
    cs_start_chronyd "$c" "$(cat "$d/client.conf")"
  else
    {
      printf '[daemon]\nclock = kernel\nstate_dir = %s/state\ncontrol_socket = none\nlog_level = debug\n' "$d"
      printf '[sources]\n'
      for i in $(seq 1 "$CS_SERVERS"); do echo "server = 192.168.123.$i $CS_SOURCE_OPTS"; done
      printf '[discipline]\nmakestep = %s\n%s\n' "$CS_MAKESTEP" "$CS_TR7_DISCIPLINE"
    } >"$d/tr7ntpd.conf"
    CS_PRELOAD="${CS_SHIM:+$CS_SHIM:}" cs_start "$c" "$TR7NTPD" -d -f "$d/tr7ntpd.conf"
  fi
}

# An awk rule for the client's log: t = simulated seconds since its first line (the
# simulation's start), from each line's timestamp; a run may cross midnight, and a step
# back of the clock is not a new day.
CS_AWK_LOG_TIME='{
  split($1, a, "T"); split(a[2], h, ":"); sub("Z", "", h[3])
  sod = h[1] * 3600 + h[2] * 60 + h[3]
  if (!started) { first = prev = sod; started = 1 }
  if (sod < prev - 43200) day++
  prev = sod; t = sod + 86400 * day - first
}'

# cs_run: the simulation of CS_LIMIT s, then the figures of the client node, relative to
# the last server (never a falseticker in the scenarios; it steps with the others):
#   CS_RMS CS_MAX    steady offset RMS and max |offset| (s), second half of the run
#   CS_SD            steady offset standard deviation (s): the RMS about the mean offset.
#                    Where the path is asymmetric the mean is a bias no NTP client can
#                    see (half the asymmetry); the SD is the part a client's work decides.
#   CS_FREQ_MAX      max |frequency error| in the second half (ppm)
#   CS_MAX_ALL       max |offset| over the whole run (s)
#   CS_CONV          time until |offset| < 1 ms for good (s; CS_LIMIT if never)
#   CS_REQUESTS      requests sent by the client
#   CS_BACK          backward jumps (> 0.1 s in 1 s: a step, not a slew) after the first one
#   CS_REFUSED       valid replies refused (tr7ntpd only: its "refused" debug lines)
cs_run() {
  local i c p
  c=$(cs_client_node)
  cs_write_net
  rm -f "$CS_DIR/sock"
  for i in $(seq 1 "$CS_SERVERS"); do
    cs_start_chronyd "$i" "$CS_SERVER_REF
allow
$CS_SERVER_CONF"
  done
  cs_start_client
  if ! CLKNETSIM_RANDOM_SEED=$CS_SEED timeout 120 "$CLKNETSIM_PATH/clknetsim" -o "$CS_DIR/log.offset" -f "$CS_DIR/log.freq" \
    -p "$CS_DIR/log.packets" -l "$CS_LIMIT" -s "$CS_DIR/sock" "$CS_DIR/net.conf" "$c" \
    >"$CS_DIR/stats" 2>"$CS_DIR/log"; then
    echo "clknetsim failed:"
    cat "$CS_DIR/log" "$CS_DIR/log.$c"
    exit 1
  fi
  for p in $CS_PIDS; do
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
  done
  CS_PIDS=""
  read -r CS_RMS CS_MAX CS_FREQ_MAX CS_CONV CS_BACK CS_MAX_ALL CS_SD < <(
    paste "$CS_DIR/log.offset" "$CS_DIR/log.freq" | awk -v c="$c" -v r="$CS_SERVERS" -v n="$(cs_client_node)" -v lim="$CS_LIMIT" '
      { off = $c - $r; fr = $(c + n) - $(r + n); t = NR
        a = off < 0 ? -off : off
        if (a > mall) mall = a
        if (a >= 1e-3) last = t
        if (NR > 1 && off - prev < -0.1) { jumps++ }
        prev = off
        if (t > lim / 2) { s1 += off; s2 += off * off; k++; if (a > mx) mx = a
          f = (fr < 0 ? -fr : fr) * 1e6; if (f > fm) fm = f } }
      END { v = s2 / k - (s1 / k) ^ 2
        printf "%.3e %.3e %.3f %d %d %.3e %.3e\n", sqrt(s2 / k), mx, fm, last, (jumps > 0 ? jumps - 1 : 0), mall,
          sqrt(v > 0 ? v : 0) }')
  CS_REQUESTS=$(awk -v c="$c" '$2 == c && $6 == 123 { n++ } END { print n + 0 }' "$CS_DIR/log.packets")
  if [ "$CS_CLIENT" = chronyd ]; then
    CS_REFUSED=0
  else
    # Not counted: replies in the first 0.1 s of simulated time, while clknetsim
    # skews clock reads on purpose (its hack for chronyd's precision measurement: each
    # read before the first packet or 0.1 s adds a growing few hundred ns), so a T1
    # read at start-up was ~80 us late and the round trip came out negative. The
    # daemon's refusal is right for what it measured; the simulator's clock went back.
    # Also not counted: a KoD or an unsynchronised server's reply (kod_*: a chronyd server
    # on a reference clock answers stratum 0 until its clock is selected): it carries no
    # time, and refusing it is right. The time is counted from the log's first line (its
    # first second is the simulation's start; a run may cross midnight).
    CS_REFUSED=$(awk "$CS_AWK_LOG_TIME"'
      /refused:/ && !/refused: kod_/ { if (t >= 0.1) n++ }
      END { print n + 0 }' "$CS_DIR/log.$c")
  fi
  # The simulated kernel's timex in the second half, as the client's adjtimex calls read it
  # back at each update ("kernel timex: was ... now ..."; tr7ntpd only): updates where it
  # was or was left STA_UNSYNC, the smallest maximum error and the RMS estimated error set.
  CS_TIMEX_UPDATES=0 CS_TIMEX_UNSYNC=0 CS_MAXERR_MIN=0 CS_ESTERR_RMS=0
  if [ "$CS_CLIENT" != chronyd ]; then
    read -r CS_TIMEX_UPDATES CS_TIMEX_UNSYNC CS_MAXERR_MIN CS_ESTERR_RMS < <(awk -v lim="$CS_LIMIT" "$CS_AWK_LOG_TIME"'
      /kernel timex: was/ && t > lim / 2 {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] + 0 }
        # the fields after "now": the last unsync=, maxerror=, esterror= on the line win
        n++; if (v["unsync"] || $0 ~ /was unsync=1/) u++
        if (!mn || v["maxerror"] < mn) mn = v["maxerror"]
        e2 += (v["esterror"] * 1e-6) ^ 2
      }
      END { printf "%d %d %.3e %.3e\n", n, u, mn * 1e-6, n ? sqrt(e2 / n) : 0 }' "$CS_DIR/log.$c")
  fi
  echo "$CS_NAME client=$CS_CLIENT seed=$CS_SEED limit=$CS_LIMIT rms=$CS_RMS sd=$CS_SD max=$CS_MAX freq_max_ppm=$CS_FREQ_MAX conv_s=$CS_CONV requests=$CS_REQUESTS back=$CS_BACK refused=$CS_REFUSED max_all=$CS_MAX_ALL timex_updates=$CS_TIMEX_UPDATES timex_unsync=$CS_TIMEX_UNSYNC maxerror_min=$CS_MAXERR_MIN esterror_rms=$CS_ESTERR_RMS"
}

# cs_leap_zone +|- DIR: a time zone UTC in DIR (for TZDIR) whose leap second table is the
# system's plus one more at the end of 2027-06-30 (+ inserted, - deleted), made by zic.
cs_leap_zone() {
  local sign=$1 dir=$2 when
  mkdir -p "$dir"
  [ "$sign" = + ] && when="23:59:60" || when="23:59:59"
  grep -v -i expires /usr/share/zoneinfo/leapseconds >"$dir/leapseconds" || { echo "no leapseconds file"; exit 77; }
  printf 'Leap\t2027\tJun\t30\t%s\t%s\tS\n' "$when" "$sign" >>"$dir/leapseconds"
  printf 'Zone\tUTC\t0\t-\tUTC\n' >"$dir/zone"
  zic -d "$dir" -L "$dir/leapseconds" "$dir/zone" || { echo "zic failed"; exit 77; }
}

# cs_leap_check [insertion|deletion]: the client armed that leap second and saw it applied
# (tr7ntpd's log: "leap second insertion armed ...", "leap second applied (-1 s)"; a
# deletion is applied as +1 s).
cs_leap_check() {
  [ -n "${CS_BENCH:-}" ] && return 0
  [ "$CS_CLIENT" = tr7ntpd ] || return 0
  local c kind=${1:-insertion} delta
  c=$(cs_client_node)
  [ "$kind" = insertion ] && delta="-1 s" || delta="+1 s"
  if grep -q "leap second $kind armed" "$CS_DIR/log.$c" && grep -qF "leap second applied ($delta)" "$CS_DIR/log.$c"; then
    echo "ok   leap second ($kind) armed and applied"
  else
    echo "FAIL leap second ($kind) not armed and applied:"
    grep -i leap "$CS_DIR/log.$c" | head -5
    CS_FAIL=1
  fi
}

# cs_check NAME VALUE MAX: VALUE <= MAX, or the test fails (all checks are reported).
CS_FAIL=0
cs_check() {
  if awk -v v="$2" -v m="$3" 'BEGIN { exit !(v + 0 <= m + 0) }'; then
    echo "ok   $1 = $2 (<= $3)"
  else
    echo "FAIL $1 = $2 (> $3)"
    CS_FAIL=1
  fi
}

# cs_bounds RMS MAX FREQ_PPM CONV_S REQUESTS: the checks every scenario makes (steady
# offset RMS and max, max frequency error, convergence, requests sent, no backward step
# after the first one). In the bench (CS_BENCH=1) only the figures are printed.
cs_bounds() {
  [ -z "${CS_BENCH:-}" ] || exit 0
  cs_check rms_s "$CS_RMS" "$1"
  cs_check max_s "$CS_MAX" "$2"
  cs_check freq_max_ppm "$CS_FREQ_MAX" "$3"
  cs_check conv_s "$CS_CONV" "$4"
  cs_check requests "$CS_REQUESTS" "$5"
  cs_check back_steps "$CS_BACK" 0
  cs_timex_bounds
  cs_done
}

# cs_timex_bounds: what the client told the simulated kernel, second half of the run
# (tr7ntpd only): STA_UNSYNC clear at every update and never set by the kernel in between
# (its maxerror grows by 500 ppm until 16 s); the maximum error a true bound of the
# offset the simulator measured; the estimated error near that offset's RMS, neither
# below half of it nor above 5 times it. The asymmetric scenario skips the lower bound:
# no daemon can see a path asymmetry, only the maximum error (half the delay) covers it.
cs_timex_bounds() {
  [ "$CS_CLIENT" = tr7ntpd ] || return 0
  awk -v n="$CS_TIMEX_UPDATES" 'BEGIN { exit !(n > 0) }' || { echo "FAIL no kernel timex record in the second half"; CS_FAIL=1; return; }
  cs_check timex_unsync "$CS_TIMEX_UNSYNC" 0
  cs_check max_s_over_maxerror "$(awk -v a="$CS_MAX" -v b="$CS_MAXERR_MIN" 'BEGIN { printf "%.3f", a / b }')" 1
  cs_check esterror_over_rms "$(awk -v a="$CS_ESTERR_RMS" -v b="$CS_RMS" 'BEGIN { printf "%.2f", a / b }')" 5
  if [ -z "$CS_DELAY_UP" ]; then
    cs_check rms_over_esterror "$(awk -v a="$CS_RMS" -v b="$CS_ESTERR_RMS" 'BEGIN { printf "%.2f", a / b }')" 2
  fi
}

cs_done() {
  [ "$CS_FAIL" -eq 0 ] || { CS_KEEP=1; exit 1; }
  exit 0
}
