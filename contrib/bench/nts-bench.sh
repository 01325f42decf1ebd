#!/bin/bash
# nts-bench.sh: NTS (RFC 8915) on the server side, tr7ntpd against chronyd -x, side by side
# in one run, on loopback. Run by `make bench` (and `make -C contrib/bench bench-nts`).
#
#   * CPU per NTS-authenticated reply: both servers (one thread each, pinned to CPU 1)
#     get the same NTS load from tr7ntp-bench (pinned to CPU 0, busy-polling): requests
#     prepared by tr7ntp-ntsbench from one NTS-KE with each server (its own keys and
#     cookies; 228-byte requests, a fresh cookie back in each 228-byte reply). Open loop
#     at each rate of BENCH_NTS_LOADS, and closed loop (64 in flight): the servers run
#     alternately, REPS runs each; the report gives the medians and the ratio
#     tr7ntpd / chronyd of the server's CPU time per valid reply (goal: <= 0.85).
#   * NTS-KE handshakes: whole sessions (TCP, TLS 1.3 with an ECDSA P-256 certificate,
#     request, eight cookies, close) one after the other from tr7ntp-ntsbench on CPU 0,
#     for BENCH_DURATION s per server and rep: sessions/s, and the server's CPU per
#     session (chronyd's NTS-KE helper processes included).
#
# Environment: TR7NTPD, TR7_BENCH, TR7_NTSBENCH (set by make bench), BENCH_QUICK=1 (a
# short run), BENCH_DURATION, BENCH_WARMUP, BENCH_REPS, BENCH_NTS_LOADS (default
# "20000 40000 closed"), BENCH_NICE (default -10), BENCH_KEEP=1, BENCH_OUT.
# Needs root (setpriv drops CAP_SYS_TIME), chronyd built with NTS, certtool, taskset,
# python3. Nothing touches the system clock: chronyd -x, tr7ntpd clock = none, neither
# with CAP_SYS_TIME.
set -u
here=$(cd "$(dirname "$0")" && pwd)

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
NTSBENCH=${TR7_NTSBENCH:-$here/tr7ntp-ntsbench}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  dur=${BENCH_DURATION:-1}; warm=${BENCH_WARMUP:-0.3}; reps=${BENCH_REPS:-1}
  loads=${BENCH_NTS_LOADS:-"20000 closed"}
else
  dur=${BENCH_DURATION:-3}; warm=${BENCH_WARMUP:-1}; reps=${BENCH_REPS:-3}
  loads=${BENCH_NTS_LOADS:-"20000 40000 closed"}
fi
NOCLOCK=(setpriv --bounding-set -sys_time --inh-caps -sys_time --)
nice_level=${BENCH_NICE:--10}
if [ -w /proc/self/autogroup ]; then
  echo "$nice_level" >/proc/self/autogroup 2>/dev/null || true
fi
say() { printf '%s\n' "$*"; }
skip() { say "nts-bench: SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (setpriv drops CAP_SYS_TIME from the bounding set)"
for c in chronyd certtool taskset setpriv python3; do command -v $c >/dev/null 2>&1 || skip "$c not installed"; done
chronyd -v | grep -q '+NTS' || skip "chronyd without NTS"
for b in "$TR7NTPD" "$BENCH" "$NTSBENCH"; do [ -x "$b" ] || skip "no $b (run make first)"; done
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then load_cpu=0; srv_cpu=1; else load_cpu=0; srv_cpu=0; fi
pin() { PIN=(nice -n "$nice_level" taskset -c "$1"); }

dir=$(mktemp -d /tmp/tr7-ntsbench.XXXXXX)
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
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$dir"; else say "nts-bench: files kept in $dir"; fi
}
trap cleanup EXIT
trap 'exit 99' INT TERM
free_port() {
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# Test certificates: a CA and an ECDSA P-256 server certificate for localhost.
printf 'cn = "tr7ntp bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$dir/ca.tmpl"
printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 2\n' >"$dir/srv.tmpl"
{ certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/ca.key" &&
  certtool --generate-self-signed --load-privkey "$dir/ca.key" --template "$dir/ca.tmpl" --outfile "$dir/ca.pem" &&
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/srv.key" &&
  certtool --generate-certificate --load-privkey "$dir/srv.key" --load-ca-certificate "$dir/ca.pem" \
    --load-ca-privkey "$dir/ca.key" --template "$dir/srv.tmpl" --outfile "$dir/srv.crt"; } >/dev/null 2>&1 ||
  { say "nts-bench: certtool failed"; exit 1; }
cat "$dir/srv.crt" "$dir/ca.pem" >"$dir/srv.pem"
chmod 600 "$dir/srv.key"

declare -A PORT KEPORT PID
start_chronyd() {
  local d=$dir/chronyd
  PORT[chronyd]=$(free_port SOCK_DGRAM); KEPORT[chronyd]=$(free_port SOCK_STREAM)
  mkdir -p "$d"; chmod 700 "$d"
  cat >"$d/chrony.conf" <<EOF
port ${PORT[chronyd]}
local stratum 10
allow
ntsport ${KEPORT[chronyd]}
ntsserverkey $dir/srv.key
ntsservercert $dir/srv.pem
ntsdumpdir $d
pidfile $d/chronyd.pid
bindcmdaddress $d/chronyd.sock
cmdport 0
EOF
  pin "$srv_cpu"
  "${PIN[@]}" "${NOCLOCK[@]}" chronyd -x -d -u root -f "$d/chrony.conf" >"$dir/chronyd.log" 2>&1 &
  PID[chronyd]=$!; pids+=("$!")
}
start_tr7() {
  PORT[tr7ntpd]=$(free_port SOCK_DGRAM); KEPORT[tr7ntpd]=$(free_port SOCK_STREAM)
  mkdir -p "$dir/tr7.state"
  cat >"$dir/tr7.conf" <<EOF
[daemon]
clock = none
state_dir = $dir/tr7.state
control_socket = none
log_level = warning
[server]
listen = 127.0.0.1:${PORT[tr7ntpd]}
local_stratum = 10
threads = 1
[nts]
listen = 127.0.0.1:${KEPORT[tr7ntpd]}
cert = $dir/srv.pem
key = $dir/srv.key
max_connections = 1000
EOF
  pin "$srv_cpu"
  "${PIN[@]}" "${NOCLOCK[@]}" "$TR7NTPD" -d -f "$dir/tr7.conf" >"$dir/tr7ntpd.log" 2>&1 &
  PID[tr7ntpd]=$!; pids+=("$!")
}
# templates NAME: one NTS-KE with the server, 4096 prepared NTS requests.
templates() {
  local s=$1 i r
  for i in $(seq 1 100); do
    if r=$(taskset -c "$load_cpu" "$NTSBENCH" templates --ke "127.0.0.1:${KEPORT[$s]}" --name localhost \
      --ca "$dir/ca.pem" --count 4096 --out "$dir/$s.req" 2>"$dir/$s.templates.err"); then
      say "# $s: $r"
      [[ $r == *"ntp=127.0.0.1:${PORT[$s]} "* ]] || { say "nts-bench: $s announces another NTP port"; exit 1; }
      return 0
    fi
    sleep 0.1
  done
  say "nts-bench: no NTS-KE with $s: $(cat "$dir/$s.templates.err")"; tail -n 20 "$dir/$s.log"
  exit 1
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "# tr7ntpd NTS benchmark ($started)"
say "# machine: $ncpu CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
say "# load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
say "# chronyd: $(chronyd -v | head -n1)"
say "# tr7ntpd: $("$TR7NTPD" -V)"
say "# parameters: duration=${dur}s warmup=${warm}s reps=$reps loads='$loads', loader CPU $load_cpu, servers CPU $srv_cpu, nice $nice_level"
start_chronyd
start_tr7
servers=(chronyd tr7ntpd)
for s in "${servers[@]}"; do templates "$s"; done

run() {
  local s=$1 load=$2 rep=$3 args
  case $load in
    closed) args=(--inflight 64 --batch 16) ;;
    *) args=(--rate "$load" --batch 16) ;;
  esac
  pin "$load_cpu"
  "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$s]}" --pid "${PID[$s]}" --requests "$dir/$s.req" \
    "${args[@]}" --duration "$dur" --warmup "$warm" --sockets 16 --spin --seed "$rep" \
    --label "$s:$load:$rep" 2>/dev/null >>"$out" || say "nts-bench: loader failed for $s $load"
}
for s in "${servers[@]}"; do  # warm-up, discarded
  pin "$load_cpu"
  "${PIN[@]}" "$BENCH" load --server "127.0.0.1:${PORT[$s]}" --requests "$dir/$s.req" --inflight 64 \
    --duration 1 --warmup 0 >/dev/null 2>&1
done
t_start=$SECONDS
for load in $loads; do
  for rep in $(seq 1 "$reps"); do
    for s in "${servers[@]}"; do run "$s" "$load" "$rep"; done
  done
  say "# load $load done ($((SECONDS - t_start)) s)"
done
for rep in $(seq 1 "$reps"); do
  for s in "${servers[@]}"; do
    pin "$load_cpu"
    r=$("${PIN[@]}" "$NTSBENCH" handshakes --ke "127.0.0.1:${KEPORT[$s]}" --name localhost --ca "$dir/ca.pem" \
      --duration "$dur" --pid "${PID[$s]}")
    say "RESULT label=$s:handshakes:$rep ${r#RESULT }" >>"$out"
  done
done
say "# handshakes done ($((SECONDS - t_start)) s)"
say "# load after: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"

python3 - "$out" "$loads" <<'PY'
import statistics, sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
loads = sys.argv[2].split()
def med(server, load, key):
    v = [float(r[key]) for r in rows if r["label"].split(":")[:2] == [server, load] and key in r and float(r[key]) >= 0]
    return statistics.median(v) if v else float("nan")
print("\n| load | server | replies/s | loss | CPU us/reply | T3-T2 p50 us | RTT p50 us |")
print("|---|---|---|---|---|---|---|")
for load in loads:
    for s in ("chronyd", "tr7ntpd"):
        print("| %s | %s | %.0f | %.4f | %.2f | %.2f | %.1f |" % (
            load, s, med(s, load, "replies_per_s"), med(s, load, "loss"), med(s, load, "cpu_us_per_reply"),
            med(s, load, "srv_p50_us"), med(s, load, "rtt_p50_us")))
print("\nCPU per NTS reply, tr7ntpd / chronyd (goal <= 0.85):")
for load in loads:
    c, t = med("chronyd", load, "cpu_us_per_reply"), med("tr7ntpd", load, "cpu_us_per_reply")
    print("  %-8s %.2f us / %.2f us = %.2fx" % (load, t, c, t / c if c == c and c > 0 else float("nan")))
print("\n| server | NTS-KE sessions/s | failed | server CPU us/session |")
print("|---|---|---|---|")
for s in ("chronyd", "tr7ntpd"):
    print("| %s | %.0f | %.0f | %.0f |" % (s, med(s, "handshakes", "per_s"), med(s, "handshakes", "failed"),
                                          med(s, "handshakes", "server_cpu_us_per_handshake")))
c, t = med("chronyd", "handshakes", "server_cpu_us_per_handshake"), med("tr7ntpd", "handshakes", "server_cpu_us_per_handshake")
print("NTS-KE server CPU per session, tr7ntpd / chronyd: %.2fx" % (t / c if c == c and c > 0 else float("nan")))
PY
