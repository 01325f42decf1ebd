#!/bin/bash
# The multi-threaded server (threads = 2..4, SO_REUSEPORT steered by client address):
#  * the bad-input matrix (ntpprobe badinput) from several client addresses, so every
#    thread sees it: only valid requests answered, bytes out <= bytes in, still alive;
#  * rate limiting per client across threads: clients that rotate their source port
#    over many sockets get exactly their burst, not burst x threads; the statistics
#    show the load spread over the threads and no datagram on the wrong thread;
#  * a reload (SIGHUP) reaches every thread; one thread per configured thread exists;
#    a second daemon cannot join the port's SO_REUSEPORT group; all of it also with
#    busy polling (3 threads, busy_poll = 50).
source "$(dirname "$0")/lib.sh"
require_cmd python3 setpriv

port=$(free_port)
start_tr7ntpd mt "[daemon]
clock = none
[server]
listen = 127.0.0.1:$port
local_stratum = 10
threads = 4"
pid=$TR7_PID
# The process with the server threads: the worker under privilege separation.
srv=$pid
[ "$TR7_PRIVSEP" = 1 ] && srv=$(worker_pid_of "$pid")
grep -q "(4 threads)" "$T_DIR/mt.log" || fail "start-up line does not say 4 threads"
tasks() { ls "/proc/$srv/task" | wc -l; }
wait_until 5 '[ "$(tasks)" -eq 5 ]'
check "1 main + 4 server threads ($(tasks) tasks)" test "$(tasks)" -eq 5
check "server threads are named" grep -q "tr7ntpd-srv3" /proc/"$srv"/task/*/comm

# SO_REUSEPORT must not let a second daemon (same user) join the group silently.
# (its own control socket and state: the port is what they share)
sed "s|mt\.sock|mt2.sock|; s|mt\.state|mt2.state|" "$T_DIR/mt.conf" >"$T_DIR/mt2.conf"
if "${NOCLOCK[@]}" "$TR7NTPD" -d -f "$T_DIR/mt2.conf" >"$T_DIR/second.log" 2>&1; then
  fail "a second daemon on the same port started"
else
  check "a second daemon on the same port is refused" grep -q "Address already in use" "$T_DIR/second.log"
fi

# Bad input from 8 client addresses (each steered to one thread). The steering key is
# random per start, so which thread a client lands on is chance: with 8 clients on 4
# threads all on one thread has odds 4^-7 (with 6 it was 4^-5).
if $NTPPROBE badinput 127.0.0.1 "$port" --src 127.0.0.1 --src 127.0.0.2 --src 127.0.0.3 --src 127.0.0.4 \
  --src 127.0.0.5 --src 127.0.0.6 --src 127.0.0.7 --src 127.0.0.8 >"$T_DIR/badinput.json"; then
  pass "bad-input matrix with 4 threads"
else
  fail "bad-input matrix with 4 threads"
  head -c 3000 "$T_DIR/badinput.json"
fi
line=$(stats_of "$pid" "$T_DIR/mt.log") || die "no statistics"
log "$line"
per_thread=$(sed -n 's/.* received_per_thread=\([0-9,]*\).*/\1/p' <<<"$line")
busy=$(tr ',' '\n' <<<"$per_thread" | awk '$1 > 0' | wc -l)
check "bad input reached several threads ($per_thread)" test "$busy" -ge 2
check "no datagram on the wrong thread" test "$(stat_value "$line" steering_misses)" = 0
kill -0 "$pid" 2>/dev/null || die "tr7ntpd died"

# Rate limit: burst 4, one request per 100 s sustained, no leak, no KoD.
kill -TERM "$pid"
wait "$pid" 2>/dev/null
for threads in 2 3; do
  port=$(free_port)
  start_tr7ntpd "rl$threads" "[daemon]
clock = none
[server]
listen = 127.0.0.1:$port
local_stratum = 10
threads = $threads
busy_poll = $(( (threads - 2) * 50 ))
ratelimit = interval 100 burst 4 leak 0 kod no"
  pid=$TR7_PID
  # 16 clients (127.0.1.1-16), each rotating over 16 source ports, 20 requests each.
  # 16, not 8: the steering key is random per start, and 8 clients all landed on one of
  # 2 threads in a run (odds 2^-7); with 16 the odds are 2^-15.
  srcs=()
  for i in $(seq 1 16); do srcs+=(--src "127.0.1.$i"); done
  out=$($NTPPROBE burst 127.0.0.1 "$port" --count 320 "${srcs[@]}" --ports-per-src 16 --wait 1.5)
  log "$threads threads: $out"
  replies=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["reply"])' "$out")
  check "$threads threads: 16 port-rotating clients get 16 x burst 4 = 64 replies (got $replies)" test "$replies" -eq 64
  line=$(stats_of "$pid" "$T_DIR/rl$threads.log") || die "no statistics"
  log "$line"
  check "$threads threads: 256 requests rate limited" test "$(stat_value "$line" rate_limited)" = 256
  check "$threads threads: 16 clients in the tables" test "$(stat_value "$line" clients)" = 16
  check "$threads threads: no datagram on the wrong thread" test "$(stat_value "$line" steering_misses)" = 0
  per_thread=$(sed -n 's/.* received_per_thread=\([0-9,]*\).*/\1/p' <<<"$line")
  busy=$(tr ',' '\n' <<<"$per_thread" | awk '$1 > 0' | wc -l)
  check "$threads threads: the clients are spread over the threads ($per_thread)" test "$busy" -ge 2
  if [ "$threads" = 3 ]; then
    # Reload with a burst of 10: the same clients get 6 more each, on every thread.
    sed -i 's/burst 4/burst 10/' "$T_DIR/rl$threads.conf"
    kill -HUP "$pid"
    wait_for 5 grep -q "configuration reloaded" "$T_DIR/rl$threads.log" || fail "no reload"
    out=$($NTPPROBE burst 127.0.0.1 "$port" --count 320 "${srcs[@]}" --ports-per-src 16 --wait 1.5)
    replies=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["reply"])' "$out")
    check "after reload to burst 10: 16 x 6 = 96 more replies (got $replies)" test "$replies" -eq 96
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null
done
finish
