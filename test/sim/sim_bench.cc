// sim_bench: the accuracy benchmark of contrib/bench/sync-bench.sh, simulated over many
// seeds (deterministic, seconds of CPU). Not a test: a tool to compare estimators.
//
// The bench: one upstream whose clock runs +2.5 s and +50 ppm from true time (here: our
// raw clock runs -2.5 s and -50 ppm, the same thing seen from the client), reached through
// a relay adding 10 ms +- 2 ms (uniform) each way (contrib/bench/udprelay), minpoll 0
// maxpoll 4 (burst_interval 1 s, as the daemon derives it from minpoll 0), iburst; the
// served time observed every 0.5 s; RMS and max error from `skip` to `duration`.
//
//   sim_bench [--seeds N] [--seed0 S] [--duration S] [--skip S] [--extra MEAN_S] [--extra-p P]
//             [--minpoll N] [--maxpoll N] [--jitter S] [--delay S] [--gauss] [--wander PPM]
//             [--freq PPM] [--sources N] [--server-step-at S --server-step S] [--quiet]
//             [--trace]  (every 10 s of each run: the error and the first source's filter state)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim.h"

using namespace tr7;
using namespace tr7::sim;

int main(int argc, char** argv) {
  int seeds = 20;
  uint64_t seed0 = 1;
  double duration = 180, skip = 60, extra = 0, extra_p = 1, jitter = 0.002, delay = 0.010, wander = 0, freq = -50;
  int minpoll = 0, maxpoll = 4, sources = 1;
  double step_at = -1, step = 0;
  bool gauss = false, quiet = false, trace = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto num = [&]() { return i + 1 < argc ? std::atof(argv[++i]) : 0.0; };
    if (a == "--seeds") {
      seeds = static_cast<int>(num());
    } else if (a == "--seed0") {
      seed0 = static_cast<uint64_t>(num());
    } else if (a == "--duration") {
      duration = num();
    } else if (a == "--skip") {
      skip = num();
    } else if (a == "--extra") {
      extra = num();
    } else if (a == "--extra-p") {
      extra_p = num();
    } else if (a == "--minpoll") {
      minpoll = static_cast<int>(num());
    } else if (a == "--maxpoll") {
      maxpoll = static_cast<int>(num());
    } else if (a == "--jitter") {
      jitter = num();
    } else if (a == "--delay") {
      delay = num();
    } else if (a == "--gauss") {
      gauss = true;
    } else if (a == "--wander") {
      wander = num();
    } else if (a == "--freq") {
      freq = num();
    } else if (a == "--sources") {
      sources = static_cast<int>(num());
    } else if (a == "--server-step-at") {
      step_at = num();
    } else if (a == "--server-step") {
      step = num();
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--trace") {
      trace = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const core::Timestamp start{1'795'000'000LL * core::k_ns_per_s};
  std::vector<double> rmss, maxs, reqs;
  size_t total_dishonest = 0;  // probes whose error was outside the root distance served
  for (int k = 0; k < seeds; ++k) {
    uint64_t seed = seed0 + static_cast<uint64_t>(k);
    ClockParams cp;
    cp.offset_s = -2.5;
    cp.freq_ppm = freq;
    cp.wander_ppm = wander;
    core::ClientOptions o;
    o.min_sources = sources >= 3 ? 2 : 1;
    o.precision = -23;
    if (const char* m = std::getenv("SIM_MIN_SLEW")) {
      o.discipline.min_slew_s = std::atof(m);
    }
    Simulation sim(cp, o, start, seed);
    for (int i = 0; i < sources; ++i) {
      ServerParams sp;
      sp.jump_at_s = step_at;
      sp.jump_s = step;
      sp.delay_out_s = sp.delay_in_s = delay + 0.001 * i;
      sp.jitter_s = jitter;
      sp.jitter_gauss = gauss;
      sp.extra_mean_s = extra;
      sp.extra_p = extra_p;
      core::SourceOptions so;
      so.minpoll = static_cast<int8_t>(minpoll);
      so.maxpoll = static_cast<int8_t>(maxpoll);
      so.iburst = true;
      so.min_interval_s = minpoll >= 1 ? 2.0 : std::ldexp(1.0, minpoll);
      sim.add_server(sp, so);
    }
    RunResult r;
    if (trace) {
      // Every 10 s: the served time's error and the first source's filter state; the
      // segments together make the run (requests and steps are counted over the run).
      for (double tau = 10; tau <= duration; tau += 10) {
        RunResult seg = sim.run(tau, 0.5);
        r.samples.insert(r.samples.end(), seg.samples.begin(), seg.samples.end());
        if (r.sync_tau < 0) {
          r.sync_tau = seg.sync_tau;
        }
        r.steps = seg.steps;
        r.requests = seg.requests;
        auto src = sim.client().sources(sim.clock().served());
        const auto& f = src.front();
        std::printf(
            "trace %6.0f err %8.1f us poll %d n %zu sd %6.1f us freq %9.4f ppm fsd %7.4f jit %6.1f q %.2g r %.2f\n",
            tau, seg.samples.back().error_s * 1e6, f.poll, f.filter_samples, f.offset_sd_s * 1e6, f.freq_ppm,
            std::sqrt(f.freq_var) * 1e6, f.jitter_s * 1e6, f.wander, f.noise_scale);
      }
    } else {
      r = sim.run(duration, 0.5);
    }
    double rms = r.rms(skip), mx = r.max_abs(skip);
    size_t dishonest = 0;
    for (const auto& smp : r.samples) {
      dishonest += smp.honest() ? 0 : 1;
    }
    total_dishonest += dishonest;
    rmss.push_back(rms);
    maxs.push_back(mx);
    reqs.push_back(static_cast<double>(r.requests));
    if (!quiet) {
      double mid = (skip + duration) / 2;
      std::printf(
          "seed %3llu  rms %7.1f us (%.0f-%.0f s: %.1f, then %.1f)  max %7.1f us  requests %llu  sync %.3f s  "
          "steps %llu  outside root distance %zu\n",
          static_cast<unsigned long long>(seed), rms * 1e6, skip, mid, r.rms(skip, mid) * 1e6, r.rms(mid) * 1e6,
          mx * 1e6, static_cast<unsigned long long>(r.requests), r.sync_tau, static_cast<unsigned long long>(r.steps),
          dishonest);
    }
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  };
  std::vector<double> sorted = rmss;
  std::sort(sorted.begin(), sorted.end());
  double p90 = sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, sorted.size() * 9 / 10)];
  std::printf(
      "summary: %d seeds  rms mean %.1f us  p90 %.1f us  worst %.1f us  max mean %.1f us  worst %.1f us  "
      "requests %.0f  outside root distance %zu\n",
      seeds, mean(rmss) * 1e6, p90 * 1e6, sorted.empty() ? 0 : sorted.back() * 1e6, mean(maxs) * 1e6,
      *std::max_element(maxs.begin(), maxs.end()) * 1e6, mean(reqs), total_dishonest);
  return 0;
}
