#!/bin/bash
# bench.sh SCENARIO...: every scenario with tr7ntpd and with chronyd as the client, over
# BENCH_SEEDS seeds (default 3) of BENCH_LIMIT simulated s (default 20000); prints the
# means of both and the ratios tr7ntpd/chronyd (the table of issue 16).
set -u
dir=$(cd "$(dirname "$0")" && pwd)
seeds=${BENCH_SEEDS:-3}
limit=${BENCH_LIMIT:-20000}
out=$(mktemp /tmp/tr7-bench-clock.XXXXXX)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
  for s in $(seq 1 "$seeds"); do
    for c in tr7ntpd chronyd; do
      CS_BENCH=1 CS_CLIENT=$c CS_SEED=$s CS_LIMIT=$limit bash "$dir/$t.test" | grep ' client=' >>"$out"
      r=${PIPESTATUS[0]}
      [ "$r" -eq 77 ] && { echo "$t: skipped"; exit 77; }
    done
  done
done
echo "clknetsim bench: $seeds seed(s), $limit simulated s; mean over seeds; ratio = tr7ntpd/chronyd"
awk '
  { split("", kv); for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    k = $1 SUBSEP kv["client"]
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
    cnt[k]++; rms[k] += kv["rms"]; sd[k] += kv["sd"]; fq[k] += kv["freq_max_ppm"]; cv[k] += kv["conv_s"]
    rq[k] += kv["requests"]; rf[k] += kv["refused"]; bk[k] += kv["back"] }
  function m(x, k) { return x[k] / cnt[k] }
  function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
  END {
    printf "| scenario | steady RMS | steady SD | max freq error | time to \\|offset\\| < 1 ms | requests sent | tr7ntpd: RMS us, SD us, freq ppm, conv s, requests, refused, back steps | chronyd: RMS us, SD us, freq ppm, conv s, requests, back steps |\n"
    printf "|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; i++) {
      s = order[i]; a = s SUBSEP "tr7ntpd"; b = s SUBSEP "chronyd"
      printf "| %s | %s | %s | %s | %s | %s | %.1f, %.1f, %.2f, %.0f, %.0f, %.0f, %.0f | %.1f, %.1f, %.2f, %.0f, %.0f, %.0f |\n", s,
        ratio(m(rms, a), m(rms, b)), ratio(m(sd, a), m(sd, b)), ratio(m(fq, a), m(fq, b)), ratio(m(cv, a), m(cv, b)), ratio(m(rq, a), m(rq, b)),
        m(rms, a) * 1e6, m(sd, a) * 1e6, m(fq, a), m(cv, a), m(rq, a), m(rf, a), m(bk, a),
        m(rms, b) * 1e6, m(sd, b) * 1e6, m(fq, b), m(cv, b), m(rq, b), m(bk, b)
    }
  }' "$out"
