#!/bin/bash
# server-bench.sh: tr7ntpd's server path against chronyd -x and the floor (a minimal
# recvmmsg/sendmmsg reflector), on loopback. Run by `make bench`; prints a report
# (medians and ratios) that contrib/bench/RESULTS.md keeps.
#
#   loader (tr7ntp-bench load, busy-polling: it never sleeps, so no server pays for
#   waking it) pinned to CPU 0, every server pinned to CPU 1; the servers run
#   alternately (chronyd, floor, tr7ntpd, variants, chronyd, ...), a warm-up run each
#   first (discarded), then REPS runs per load:
#     50k, 100k, 150k requests/s open loop, closed loop (64 in flight), and a
#     low-load latency probe (1 in flight, kernel transmit timestamps on the loader);
#   then tr7ntpd with several threads (scaling, as far as 2 cores can show it), and a
#   run with 10^6 distinct client addresses (memory: RSS before and after).
#   floorts (probe only) is the reflector with kernel receive timestamps: the T3-T2
#   floor, i.e. what waking an idle server costs here.
#   Variants of tr7ntpd, in some loads only: tr7batch has tx_timestamp = batch (one
#   transmit timestamp per batch) instead of the default spread (each reply's own
#   departure): what that choice does to T3-T2 and to the reply lag T4-T3 (50k, 100k,
#   150k, closed); tr7poll has busy_poll = 50: what busy polling does to T3-T2 and CPU
#   at low and moderate load (probe, 50k, 100k).
#
# Environment: TR7NTPD, TR7_BENCH (set by make bench), BENCH_QUICK=1 (a short smoke
# run), BENCH_DURATION (s per run), BENCH_WARMUP (s discarded per run), BENCH_REPS,
# BENCH_LOADS (e.g. "100000 closed probe"), BENCH_SEED, BENCH_MILLION=0 to skip the 10^6
# addresses run, BENCH_SCALING=0 to skip the thread runs, BENCH_VARIANTS=0 to skip
# tr7batch and tr7poll, BENCH_NICE (default -10), BENCH_OUT (keep the raw RESULT lines there),
# BENCH_KEEP=1 (keep the temporary directory with the logs).
# Needs root (setpriv drops CAP_SYS_TIME from the bounding set), chronyd, taskset,
# python3. Nothing here touches the system clock: chronyd runs with -x, tr7ntpd with
# clock = none, both without CAP_SYS_TIME; all traffic stays on loopback.
set -u
here=$(cd "$(dirname "$0")" && pwd)

# Run in a session of our own: with the kernel's autogroup scheduling (the default on
# this kind of machine) CPU time is shared between sessions first, so nice alone would
# not shield the measurements from other sessions' work; the session's own weight does
# (BENCH_NICE, below). Signals are passed on, so an interrupted run still cleans up.
if [ -z "${TR7_BENCH_SESSION:-}" ] && command -v setsid >/dev/null 2>&1; then
  export TR7_BENCH_SESSION=1
  setsid bash "$0" "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' INT TERM
  wait "$child"
  rc=$?
  wait "$child" 2>/dev/null
  exit "$rc"
fi
TR7NTPD=${TR7NTPD:-$here/../../src/daemon/tr7ntpd}
BENCH=${TR7_BENCH:-$here/tr7ntp-bench}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  dur=${BENCH_DURATION:-1}; warm=${BENCH_WARMUP:-0.3}; reps=${BENCH_REPS:-1}
  loads=${BENCH_LOADS:-"100000 150000 closed probe"}; million_n=${BENCH_MILLION_N:-200000}
  txcompare=${BENCH_VARIANTS:-0}
else
  dur=${BENCH_DURATION:-3}; warm=${BENCH_WARMUP:-1}; reps=${BENCH_REPS:-3}
  loads=${BENCH_LOADS:-"50000 100000 150000 closed probe"}; million_n=${BENCH_MILLION_N:-1000000}
  txcompare=${BENCH_VARIANTS:-1}
fi
seed=${BENCH_SEED:-8}
do_million=${BENCH_MILLION:-1}
do_scaling=${BENCH_SCALING:-1}
NOCLOCK=(setpriv --bounding-set -sys_time --inh-caps -sys_time --)
# Loader and servers run at a higher CFS priority (the same for all of them), and so
# does this session's autogroup, so that other work on the machine (builds, tests of
# other sessions) disturbs the measurements less: at -10 this session gets about 9/10
# of a CPU that one other busy session also wants. BENCH_NICE=0 to turn that off.
nice_level=${BENCH_NICE:--10}
if [ -w /proc/self/autogroup ]; then
  echo "$nice_level" >/proc/self/autogroup 2>/dev/null || true
fi

say() { printf '%s\n' "$*"; }
skip() { say "server-bench: SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (setpriv drops CAP_SYS_TIME from the bounding set)"
for c in chronyd taskset setpriv python3; do command -v $c >/dev/null 2>&1 || skip "$c not installed"; done
[ -x "$TR7NTPD" ] || skip "no tr7ntpd at $TR7NTPD (run make first)"
[ -x "$BENCH" ] || skip "no tr7ntp-bench at $BENCH (run make first)"
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then load_cpu=0; srv_cpu=1; else load_cpu=0; srv_cpu=0; fi
# The command prefix that runs on CPUs $1 at the benchmark's priority. nice and taskset
# exec what they run, so "${PIN[@]}" server ... & leaves the server's own PID in $!.
pin() { PIN=(nice -n "$nice_level" taskset -c "$1"); }

dir=$(mktemp -d /tmp/tr7-bench.XXXXXX)
chmod 700 "$dir"
out=${BENCH_OUT:-$dir/results.txt}
: >"$out"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$dir"; else say "server-bench: files kept in $dir"; fi
}
trap cleanup EXIT
trap 'exit 99' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# answers PORT: true once something on 127.0.0.1:PORT gives a valid NTP reply.
answers() {
  "$BENCH" load --server "127.0.0.1:$1" --inflight 1 --batch 1 --sockets 1 --duration 0.2 --warmup 0 \
    --timeout-ms 100 2>/dev/null | grep -q ' valid=[1-9]'
}
wait_answers() {
  local port=$1 name=$2 i
  for i in $(seq 1 100); do answers "$port" && return 0; sleep 0.1; done
  say "server-bench: $name does not answer on port $port"; tail -n 20 "$dir/$name.log" 2>/dev/null
  exit 1
}

# Servers: name -> port, pid.
declare -A PORT PID
start_chronyd() {
  local d=$dir/chronyd p
  p=$(free_port)
  mkdir -p "$d"; chmod 700 "$d"
  cat >"$d/chrony.conf" <<EOF
port $p
local stratum 10
allow
pidfile $d/chronyd.pid
bindcmdaddress $d/chronyd.sock
cmdport 0
EOF
  pin "$srv_cpu"
  "${PIN[@]}" "${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf" >"$dir/chronyd.log" 2>&1 &
  PID[chronyd]=$!; PORT[chronyd]=$p; pids+=("$!")
  wait_answers "$p" chronyd
}
# start_floor NAME [--timestamps]
start_floor() {
  local name=$1 p
  shift
  p=$(free_port)
  pin "$srv_cpu"
  "${PIN[@]}" "$BENCH" reflect --listen "127.0.0.1:$p" "$@" >"$dir/$name.log" 2>&1 &
  PID[$name]=$!; PORT[$name]=$p; pids+=("$!")
  wait_answers "$p" "$name"
}
# start_tr7 NAME THREADS CPUS [EXTRA_SERVER_LINE]
start_tr7() {
  local name=$1 threads=$2 cpus=$3 extra=${4:-} p
  p=$(free_port)
  cat >"$dir/$name.conf" <<EOF
[daemon]
clock = none
state_dir = $dir
log_level = warning
[server]
listen = 127.0.0.1:$p
local_stratum = 10
threads = $threads
$extra
EOF
  pin "$cpus"
  "${PIN[@]}" "${NOCLOCK[@]}" "$TR7NTPD" -d -f "$dir/$name.conf" >"$dir/$name.log" 2>&1 &
  PID[$name]=$!; PORT[$name]=$p; pids+=("$!")
  wait_answers "$p" "$name"
}
stop_server() {
  local name=$1 pid=${PID[$1]}
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# run SERVER LOAD REP [extra loader args...]: one loader run, appended to $out.
run() {
  local srv=$1 load=$2 rep=$3
  shift 3
  local args
  case $load in
    closed) args=(--inflight 64 --batch 16) ;;
    probe) args=(--inflight 1 --batch 1 --txstamp) ;;  # exact T1: offsets mean something
    *) args=(--rate "$load" --batch 16) ;;
  esac
  pin "$load_cpu"
  "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$srv]}" --pid "${PID[$srv]}" "${args[@]}" \
    --duration "$dur" --warmup "$warm" --sockets 16 --spin --seed "$((seed + rep))" --label "$srv:$load:$rep" "$@" \
    2>/dev/null >>"$out" || say "server-bench: loader failed for $srv $load"
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "# tr7ntpd server benchmark ($started)"
say "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
say "# load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
say "# chronyd: $(chronyd -v | head -n1)"
say "# tr7ntpd: $("$TR7NTPD" -V)"
say "# parameters: duration=${dur}s warmup=${warm}s reps=$reps loads='$loads' seed=$seed loader CPU $load_cpu," \
  "servers CPU $srv_cpu, nice $nice_level (autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo none)), 16 source ports, batches of 16, timeout 500 ms, loader busy-polls"

start_chronyd
start_floor floor
start_floor floorts --timestamps
start_tr7 tr7ntpd 1 "$srv_cpu"
servers=(chronyd floor tr7ntpd)
declare -A VARIANT_LOADS
if [ "$txcompare" = 1 ]; then
  start_tr7 tr7batch 1 "$srv_cpu" "tx_timestamp = batch"
  start_tr7 tr7poll 1 "$srv_cpu" "busy_poll = 50"
  servers+=(tr7batch tr7poll)
  VARIANT_LOADS[tr7batch]=" 50000 100000 150000 closed "
  VARIANT_LOADS[tr7poll]=" probe 50000 100000 "
fi
# runs_in SERVER LOAD: whether SERVER takes part at LOAD.
runs_in() { [ -z "${VARIANT_LOADS[$1]:-}" ] || [[ ${VARIANT_LOADS[$1]} == *" $2 "* ]]; }

# Warm-up: one discarded run per server.
for s in "${servers[@]}"; do
  pin "$load_cpu"
  "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$s]}" --inflight 64 --duration 1 --warmup 0 \
    >/dev/null 2>&1
done

t_start=$SECONDS
for load in $loads; do
  for rep in $(seq 1 "$reps"); do
    for s in "${servers[@]}"; do runs_in "$s" "$load" && run "$s" "$load" "$rep"; done
    # The floor of T3-T2 itself: the reflector with kernel receive timestamps (T3 read
    # right after recvmmsg returns) shows what waking up costs on this machine.
    [ "$load" = probe ] && run floorts "$load" "$rep"
  done
  say "# load $load done ($((SECONDS - t_start)) s)"
done

if [ "$do_scaling" = 1 ]; then
  # Threads: 2 and 4 threads on the server core (what threads cost when they share a
  # core), and 2 threads spread over both cores (the loader shares CPU 0 with one).
  stop_server tr7ntpd
  for cfg in "tr7t1:1:$srv_cpu" "tr7t2:2:$srv_cpu" "tr7t4:4:$srv_cpu" "tr7t2all:2:0-$((ncpu - 1))"; do
    IFS=: read -r name threads cpus <<<"$cfg"
    start_tr7 "$name" "$threads" "$cpus"
    pin "$load_cpu"
    "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$name]}" --inflight 64 --duration 1 \
      --warmup 0 >/dev/null 2>&1
    for rep in $(seq 1 "$reps"); do
      run "$name" closed "$rep" --addrs 4096
      run "$name" 100000 "$rep" --addrs 4096
    done
    stop_server "$name"
  done
  start_tr7 tr7ntpd 1 "$srv_cpu"
  say "# thread runs done ($((SECONDS - t_start)) s)"
fi

if [ "$do_million" = 1 ]; then
  # 10^6 distinct source addresses, each sending once, at 100k/s: twice, the second
  # time from 10^6 other addresses (127.1.0.1... then 127.64.0.1...). A bounded client
  # table shows as an RSS that stops growing.
  mdur=$(python3 -c "print(max(1.0, $million_n / 100000.0))")
  for s in chronyd floor tr7ntpd; do
    for pass in 1 2; do
      src=127.1.0.1
      [ "$pass" = 2 ] && src=127.64.0.1
      rss0=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/${PID[$s]}/status")
      pin "$load_cpu"
      "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$s]}" --pid "${PID[$s]}" --rate 100000 \
        --batch 16 --duration "$mdur" --warmup 0 --addrs "$million_n" --src "$src" --sockets 16 --spin \
        --seed "$seed" --label "$s:million:$pass" 2>/dev/null | sed "s/\$/ rss_before_kb=$rss0/" >>"$out"
    done
  done
  say "# 10^6 addresses runs done ($((SECONDS - t_start)) s)"
fi

say "# load after: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min); run time $((SECONDS - t_start)) s"
python3 "$here/server_bench_report.py" "$out"
