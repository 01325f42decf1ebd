// Simulation scenarios of issue 3: the real client and discipline under a simulated
// clock and network, each a simulated hour or more, with pass criteria.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>

#include "core/leap.h"
#include "sim.h"
// cmocka's macros last: they clash with the standard library's names.
#include "../unit/testutil.h"

using namespace tr7;
using namespace tr7::sim;

namespace {

uint64_t g_seed = 1;
const core::Timestamp k_start{1'795'000'000LL * core::k_ns_per_s};  // 2026-11-18

core::ClientOptions client_options(size_t min_sources = 1) {
  core::ClientOptions o;
  o.min_sources = min_sources;
  o.discipline.makestep_threshold_s = 0.128;
  o.discipline.makestep_limit = 3;
  o.discipline.max_slew_ppm = 500;
  o.discipline.offset_tolerance_s = 1.0;
  o.precision = -23;
  return o;
}

core::SourceOptions source_options(int8_t minpoll = 4, int8_t maxpoll = 8) {
  core::SourceOptions so;
  so.minpoll = minpoll;
  so.maxpoll = maxpoll;
  so.iburst = true;
  return so;
}

void report(const char* name, const RunResult& r, double from) {
  std::printf("# %-28s sync %.3f s, steps %llu, requests %llu, rms %.1f us, max %.1f us (after %.0f s)\n", name,
              r.sync_tau, static_cast<unsigned long long>(r.steps), static_cast<unsigned long long>(r.requests),
              r.rms(from) * 1e6, r.max_abs(from) * 1e6, from);
}

bool has_event(Simulation& sim, core::NtpClient::Event::Kind k) {
  for (const auto& e : sim.events()) {
    if (e.kind == k) {
      return true;
    }
  }
  return false;
}

}  // namespace

// 4 sources, clock +100 ppm, +-1 ms jitter per leg: synchronised fast, steady RMS far
// below the jitter.
static void test_four_sources(void**) {
  ClockParams cp;
  cp.offset_s = 0.05;
  cp.freq_ppm = 100;
  cp.wander_ppm = 0.01;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    ServerParams sp;
    sp.jitter_s = 0.001;
    sp.delay_out_s = sp.delay_in_s = 0.004 + 0.001 * i;
    sim.add_server(sp, source_options());
  }
  RunResult r = sim.run(3600);
  report("four sources", r, 600);
  assert_true(r.sync_tau >= 0 && r.sync_tau < 0.5);
  // Polled as chronyd polls (164 requests an hour; 712 before the poll rule followed
  // chronyd's): at worst 417 us over 50 seeds (33 us at 712 requests).
  assert_true(r.rms(600) < 0.55e-3);
  assert_true(r.max_abs(600) < 1e-3);
  assert_true(r.steps <= 1);
  assert_true(r.max_backward_s <= 0);
}

ServerParams lan(double jitter = 0.0005) {
  ServerParams sp;
  sp.jitter_s = jitter;
  sp.delay_out_s = sp.delay_in_s = 0.002;
  return sp;
}

// One of four sources is 1 s off: it is a falseticker, never followed.
static void test_falseticker_ignored(void**) {
  ClockParams cp;
  cp.freq_ppm = -30;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    ServerParams sp = lan();
    sp.offset_s = i == 2 ? 1.0 : 0.0;
    sim.add_server(sp, source_options());
  }
  RunResult r = sim.run(3600);
  report("falseticker 1 of 4 +1 s", r, 300);
  assert_true(r.sync_tau >= 0 && r.sync_tau < 2.5);
  assert_true(r.max_abs(0) < 0.01);  // never pulled towards the liar
  assert_true(r.rms(300) < 0.2e-3);
  bool liar_selected = false;
  for (const auto& s : sim.client().sources(sim.clock().served())) {
    liar_selected = liar_selected || (s.refid == 0x0A000003 && s.truechimer);
  }
  assert_false(liar_selected);
}

// Three of five disagree with everyone: no majority, never synchronised, an alarm.
static void test_no_majority(void**) {
  ClockParams cp;
  Simulation sim(cp, client_options(1), k_start, g_seed);
  const double offs[5] = {0.0, 0.0, 0.5, 1.0, 1.5};
  for (double o : offs) {
    ServerParams sp = lan();
    sp.offset_s = o;
    sim.add_server(sp, source_options());
  }
  RunResult r = sim.run(3600);
  report("3 of 5 disagree", r, 0);
  assert_true(r.sync_tau < 0);
  assert_int_equal(r.steps, 0);
  auto t = sim.client().tracking(sim.clock().served());
  assert_false(t.synchronised);
  assert_int_equal(static_cast<int>(t.selection), static_cast<int>(core::SelectStatus::NoMajority));
  assert_true(has_event(sim, core::NtpClient::Event::NoMajority));
  assert_true(sim.client().reference(sim.clock().served()).leap == core::Leap::None);
  assert_false(sim.client().reference(sim.clock().served()).synchronised);
}

// 30 % of the packets lost in each direction: still synchronised and accurate.
static void test_loss(void**) {
  ClockParams cp;
  cp.freq_ppm = 50;
  cp.wander_ppm = 0.01;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    ServerParams sp = lan(0.001);
    sp.loss = 0.3;
    sim.add_server(sp, source_options());
  }
  RunResult r = sim.run(3600);
  report("30% loss", r, 600);
  // An exchange succeeds with p = 0.7^2 = 0.49 and a source is asked every 2 s during
  // its burst; synchronising needs 2 sources. Still without 2 after the rounds at 0, 2,
  // 4 and 6 s: about 0.1 % of seeds (after 3 rounds, 0.9 %: seed 11 is one of those).
  assert_true(r.sync_tau >= 0 && r.sync_tau < 8);
  // 170-180 requests an hour as chronyd would send (911 before): RMS at worst 596 us,
  // max 1.26 ms over 50 seeds (49 and 206 us at 911 requests).
  assert_true(r.rms(600) < 0.8e-3);
  assert_true(r.max_abs(600) < 1.7e-3);
}

// The clock starts 500 s off: exactly one step, then slewing only.
static void test_initial_step(void**) {
  ClockParams cp;
  cp.offset_s = -500;
  cp.freq_ppm = 20;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    sim.add_server(lan(), source_options());
  }
  RunResult r = sim.run(3600);
  report("initial -500 s", r, 300);
  assert_int_equal(r.steps, 1);
  assert_true(r.sync_tau >= 0 && r.sync_tau < 0.5);
  double max_back = 0;
  for (size_t i = 1; i < r.samples.size(); ++i) {
    if (r.samples[i].tau > 1.0) {
      double d = (r.samples[i - 1].tau + r.samples[i - 1].error_s) - (r.samples[i].tau + r.samples[i].error_s);
      max_back = std::max(max_back, d);
    }
  }
  assert_true(max_back <= 0);  // after the step the served time never goes back
  assert_true(r.max_abs(10) < 0.01);
  assert_true(r.rms(300) < 0.2e-3);
}

// All sources jump +10 s after synchronisation: the correction is held (tolerance 1 s),
// flagged, with honest dispersion, until an admin approves it.
static void test_jump_held(void**) {
  ClockParams cp;
  cp.freq_ppm = 10;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    ServerParams sp = lan();
    sp.jump_at_s = 1800;
    sp.jump_s = 10;
    sim.add_server(sp, source_options(2, 6));
  }
  RunResult r = sim.run(3600);
  report("sources jump +10 s", r, 0);
  assert_int_equal(r.steps, 0);
  assert_true(r.max_abs(0) < 0.01);  // our clock did not follow the jump
  auto t = sim.client().tracking(sim.clock().served());
  assert_true(t.held);
  assert_near(t.held_offset_s, 10.0, 0.01);
  assert_true(has_event(sim, core::NtpClient::Event::Held));
  core::ReferenceState ref = sim.client().reference(sim.clock().served());
  assert_true(ref.synchronised);
  assert_true(ref.root_dispersion_s >= 10.0);
  // The admin approves: the next update applies it (a forward step).
  assert_true(sim.client().approve());
  RunResult r2 = sim.run(3600 + 600);
  assert_true(std::fabs(sim.clock().served_minus_true() - 10.0) < 0.01);
  assert_false(sim.client().tracking(sim.clock().served()).held);
  (void)r2;
}

// The admin's commands on the core: makestep (refused without a selection, while held
// and over the tolerance; otherwise a step by the combined offset), held-correction ids,
// approve applying at once (Approved + approved Stepped events), and a later hold
// released by the sources themselves (Released).
static void test_admin_step_and_approve(void**) {
  using K = core::NtpClient::Event;
  auto take = [](Simulation& sim) { return sim.client().take_events(); };
  auto find = [](const std::vector<K>& ev, K::Kind k) -> std::optional<K> {
    for (const auto& e : ev) {
      if (e.kind == k) {
        return e;
      }
    }
    return std::nullopt;
  };
  ClockParams cp;
  cp.freq_ppm = 10;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  // Nothing to step by before any source answered.
  auto none = sim.client().make_step(0, sim.clock().served());
  assert_false(none.has_value());
  assert_int_equal(static_cast<int>(none.error()), static_cast<int>(core::StepRefusal::NoSelection));
  for (int i = 0; i < 3; ++i) {
    ServerParams sp = lan();
    sp.jump_at_s = 1800;
    sp.jump_s = 10;
    sim.add_server(sp, source_options(2, 6));
  }
  sim.run(600);
  (void)take(sim);
  // makestep while synchronised: a step by the (small) combined offset.
  core::Timestamp now = sim.clock().served();
  double cur = sim.client().tracking(now).current_offset_s;
  auto st = sim.client().make_step(sim.clock().tau(), now);
  assert_true(st.has_value());
  assert_near(*st, cur, 1e-9);
  assert_true(std::fabs(*st) < 0.001);
  auto ev = take(sim);
  auto ms = find(ev, K::ManualStep);
  assert_true(ms.has_value());
  assert_near(ms->value, *st, 1e-12);
  assert_false(find(ev, K::Stepped).has_value());  // not a policy step
  assert_true(std::fabs(sim.clock().served_minus_true()) < 0.002);
  // The jump: held, with an id from the time it was held.
  sim.run(2400);
  now = sim.clock().served();
  auto t = sim.client().tracking(now);
  assert_true(t.held);
  assert_true(t.held_id >= k_start.ns / core::k_ns_per_s + 1800);
  assert_true(t.held_since > k_start);
  auto refused = sim.client().make_step(sim.clock().tau(), now);
  assert_false(refused.has_value());
  assert_int_equal(static_cast<int>(refused.error()), static_cast<int>(core::StepRefusal::Held));
  bool found_held = false;
  for (const auto& e : sim.events()) {
    found_held = found_held || (e.kind == K::Held && e.id == t.held_id && std::fabs(e.value - 10) < 0.01);
  }
  assert_true(found_held);
  // Approve: applied at once (a forward step), events carry the id.
  assert_true(sim.client().approve(sim.clock().tau(), now));
  ev = take(sim);
  auto ap = find(ev, K::Approved);
  assert_true(ap.has_value());
  assert_int_equal(ap->id, t.held_id);
  assert_near(ap->value, 10.0, 0.01);
  auto stp = find(ev, K::Stepped);
  assert_true(stp.has_value());
  assert_true(stp->approved);
  assert_int_equal(stp->id, t.held_id);
  assert_false(sim.client().tracking(sim.clock().served()).held);
  assert_true(std::fabs(sim.clock().served_minus_true() - 10.0) < 0.01);
  assert_false(sim.client().approve(sim.clock().tau(), sim.clock().served()));  // nothing left
  // The sources jump back: held again with a larger id, then released by the sources.
  for (size_t i = 0; i < 3; ++i) {
    sim.at(3000, [&sim, i] { sim.server(i).offset_s = -10; });
    sim.at(4200, [&sim, i] { sim.server(i).offset_s = 0; });
  }
  sim.run(4000);
  auto t2 = sim.client().tracking(sim.clock().served());
  assert_true(t2.held);
  assert_true(t2.held_id > t.held_id);
  sim.run(5400);
  assert_false(sim.client().tracking(sim.clock().served()).held);
  bool released = false;
  for (const auto& e : sim.events()) {
    released = released || (e.kind == K::Released && e.id == t2.held_id && std::fabs(e.value + 10) < 0.01);
  }
  assert_true(released);
  assert_true(std::fabs(sim.clock().served_minus_true() - 10.0) < 0.01);

  // Over the tolerance but not (yet) held: makestep refuses too.
  core::ClientOptions o = client_options(2);
  o.discipline.tolerance_updates = 1000000;
  Simulation sim2(cp, o, k_start, g_seed + 1);
  for (int i = 0; i < 3; ++i) {
    ServerParams sp = lan();
    sp.jump_at_s = 600;
    sp.jump_s = 5;
    sim2.add_server(sp, source_options(2, 6));
  }
  sim2.run(900);
  auto over = sim2.client().make_step(sim2.clock().tau(), sim2.clock().served());
  assert_false(over.has_value());
  assert_int_equal(static_cast<int>(over.error()), static_cast<int>(core::StepRefusal::OverTolerance));
  assert_true(std::fabs(sim2.clock().served_minus_true()) < 0.01);
}

// 24 h without any reply after an hour of synchronisation: frequency kept, dispersion
// growing, still serving; past the bound (1.5 s root distance) unsynchronised; when the
// sources come back, recovery by slewing, no step.
static void test_holdover(void**) {
  ClockParams cp;
  cp.freq_ppm = 80;
  Simulation sim(cp, client_options(2), k_start, g_seed);
  for (int i = 0; i < 4; ++i) {
    ServerParams sp = lan();
    sp.dead_from_s = 3600;
    sp.dead_until_s = 3600 + 30 * 3600;
    sim.add_server(sp, source_options(4, 8));
  }
  double freq_before = 0;
  sim.at(3599, [&] { freq_before = sim.client().frequency_ppm(); });
  // The kernel status (STA_UNSYNC, esterror, maxerror): unsynchronised at start,
  // synchronised with the served root distance as maxerror at every update, an error
  // estimate below it, and both bounding the true error.
  assert_false(sim.clock().sync_status().synchronised);
  assert_true(sim.clock().sync_status().reports >= 1);
  uint64_t reports_at_1h = 0;
  sim.at(3590, [&] {
    const auto& st = sim.clock().sync_status();
    assert_true(st.synchronised);
    assert_true(st.max_error_s > 0 && st.max_error_s < 0.01);
    assert_true(st.est_error_s > 0 && st.est_error_s <= st.max_error_s);
    assert_true(std::fabs(sim.clock().served_minus_true()) <= st.max_error_s);
    reports_at_1h = st.reports;
    std::printf("# kernel status after 1 h: synchronised, est error %.1f us, max error %.1f us, %llu reports\n",
                st.est_error_s * 1e6, st.max_error_s * 1e6, static_cast<unsigned long long>(st.reports));
  });
  RunResult r = sim.run(3600 + 24 * 3600, 10);
  // No update in holdover: the kernel's own maxerror growth (500 us/s) takes over.
  assert_true(sim.clock().sync_status().synchronised);
  assert_true(reports_at_1h > 10);
  report("24 h holdover", r, 3600);
  double freq_after = sim.client().frequency_ppm();
  std::printf("# holdover: freq before %.4f ppm, after %.4f ppm, error after 24 h %.1f ms\n", freq_before, freq_after,
              r.samples.back().error_s * 1e3);
  assert_near(freq_after, freq_before, 0.01);
  assert_int_equal(r.steps, 0);
  // Unreachable sources are asked at maxpoll (256 s) after 8 unanswered requests: 4 x
  // 24 h / 256 s = 1350 requests, plus the first hour's.
  assert_true(r.requests < 2600);
  // Dispersion rises, still synchronised after 24 h.
  const Sample& last = r.samples.back();
  assert_true(last.synchronised);
  assert_true(last.root_disp_s > 1.2);
  double prev = 0;
  for (const auto& s : r.samples) {
    if (s.tau > 3700) {
      assert_true(s.root_disp_s >= prev);
      prev = s.root_disp_s;
    }
  }
  // The learned frequency keeps the error small: 20 ms after 24 h is 0.23 ppm, while the
  // served dispersion honestly says 1.3 s.
  assert_true(std::fabs(last.error_s) < 0.02);
  // Past the bound: unsynchronised.
  RunResult r2 = sim.run(3600 + 29 * 3600, 10);
  assert_false(r2.samples.back().synchronised);
  assert_true(has_event(sim, core::NtpClient::Event::Lost));
  assert_false(sim.clock().sync_status().synchronised);
  // Recovery: slews back without a step.
  RunResult r3 = sim.run(3600 + 31 * 3600, 10);
  assert_true(r3.samples.back().synchronised);
  assert_true(sim.clock().sync_status().synchronised);
  assert_int_equal(r3.steps, 0);
  assert_true(std::fabs(r3.samples.back().error_s) < 0.001);
}

// A leap second inserted at the end of 2016: announced by the sources on 31 December,
// served as LI=1 until midnight, applied by the clock at midnight, then cleared.
static void test_leap_insert(void**) {
  const core::Timestamp start{(1483228800LL - 4 * 3600) * core::k_ns_per_s};  // 2016-12-31T20:00Z
  const core::Timestamp midnight{1483228800LL * core::k_ns_per_s};
  ClockParams cp;
  cp.freq_ppm = 15;
  Simulation sim(cp, client_options(2), start, g_seed);
  sim.set_leap_at(midnight);
  for (int i = 0; i < 3; ++i) {
    ServerParams sp = lan();
    sp.leap_announce_from_s = 0;
    sim.add_server(sp, source_options(2, 6));
  }
  RunResult r = sim.run(4 * 3600 + 3600, 1);
  report("leap insertion", r, 600);
  bool announced = false;
  for (const auto& s : r.samples) {
    if (s.tau > 600 && s.tau < 4 * 3600 - 10) {
      announced = announced || s.leap == core::Leap::Insert;
    }
    if (s.tau > 4 * 3600 + 2) {
      assert_true(s.leap == core::Leap::None);
    }
  }
  assert_true(announced);
  assert_int_equal(sim.clock().leaps_applied(), 1);
  assert_true(has_event(sim, core::NtpClient::Event::LeapApplied));
  // Served POSIX time followed the leap (the probe at the very instant of the leap sees
  // the true clock step before ours, by our offset of some microseconds: skipped).
  double worst = 0;
  for (const auto& s : r.samples) {
    if (s.tau > 600 && std::fabs(s.tau - 4 * 3600) > 0.5) {
      worst = std::max(worst, std::fabs(s.error_s));
    }
  }
  std::printf("# leap: worst error outside the leap instant %.1f us\n", worst * 1e6);
  assert_true(worst < 2e-3);
  assert_int_equal(r.steps, 0);
}

// A leap announced by only one of three sources, or on a day that cannot have one, is
// not armed.
static void test_leap_minority_and_wrong_day(void**) {
  const core::Timestamp start{(1483228800LL - 2 * 3600) * core::k_ns_per_s};
  ClockParams cp;
  Simulation sim(cp, client_options(2), start, g_seed);
  for (int i = 0; i < 3; ++i) {
    ServerParams sp = lan();
    sp.leap_announce_from_s = i == 0 ? 0 : -1;
    sim.add_server(sp, source_options(2, 6));
  }
  RunResult r = sim.run(3 * 3600, 10);
  for (const auto& s : r.samples) {
    assert_true(s.leap == core::Leap::None);
  }
  assert_int_equal(sim.clock().leaps_applied(), 0);
  const core::Timestamp march{(1489579200LL) * core::k_ns_per_s};  // 2017-03-15T12:00Z
  Simulation sim2(cp, client_options(2), march, g_seed);
  for (int i = 0; i < 3; ++i) {
    ServerParams sp = lan();
    sp.leap_announce_from_s = 0;
    sim2.add_server(sp, source_options(2, 6));
  }
  RunResult r2 = sim2.run(3600, 10);
  for (const auto& s : r2.samples) {
    assert_true(s.leap == core::Leap::None);
  }
  assert_false(has_event(sim2, core::NtpClient::Event::LeapArmed));
}

// A restart with the drift file's frequency converges faster than a cold start.
static void test_drift_file(void**) {
  ClockParams cp;
  cp.freq_ppm = 120;
  auto run = [&](std::optional<double> drift) {
    core::ClientOptions o = client_options(2);
    o.drift_ppm = drift;
    Simulation sim(cp, o, k_start, g_seed);
    for (int i = 0; i < 4; ++i) {
      sim.add_server(lan(), source_options(4, 8));
    }
    RunResult r = sim.run(3600);
    return std::make_pair(r, sim.client().frequency_ppm());
  };
  auto [cold, freq] = run(std::nullopt);
  auto [warm, freq2] = run(freq);
  double t_cold = cold.settled_tau(300e-6);
  double t_warm = warm.settled_tau(300e-6);
  std::printf(
      "# drift file: settled within 300 us: cold start at %.0f s, with the drift file at %.0f s; max error "
      "in the first 5 min %.0f us vs %.0f us (learned %.3f ppm)\n",
      t_cold, t_warm, cold.max_abs(0, 300) * 1e6, warm.max_abs(0, 300) * 1e6, freq);
  assert_true(t_warm >= 0 && t_cold >= 0);
  // On a quiet LAN a cold start may settle within 300 us as early (after 1 s, seeds 15,
  // 21, 28); the frequency known from the start still shows as a smaller error meanwhile.
  assert_true(t_warm <= t_cold);
  assert_true(warm.max_abs(1, 300) < cold.max_abs(1, 300));
  // 0.2 ppm off at worst over 50 seeds (polled as chronyd polls: 4x fewer samples).
  assert_near(freq, -120.0, 0.3);
  (void)freq2;
}

// The accuracy bench's path (contrib/bench/sync-bench.sh): one upstream whose clock is
// +2.5 s and +50 ppm from ours, behind a relay adding 10 ms +- 2 ms (uniform) each way,
// minpoll 0 maxpoll 4 (requests at most every second), the served time observed every
// 0.5 s from 60 s to 180 s. Delay-bounded fitting keeps the RMS near 0.1 ms (chronyd: 0.2 to
// 0.6 ms on the real bench); the poll stays at 1 s until the filter's window is full.
static void test_bench_path(void**) {
  double worst = 0, sum = 0;
  const int k_runs = 4;
  for (int k = 0; k < k_runs; ++k) {
    ClockParams cp;
    cp.offset_s = -2.5;
    cp.freq_ppm = -50;
    core::ClientOptions o = client_options(1);
    Simulation sim(cp, o, k_start, g_seed + static_cast<uint64_t>(k));
    ServerParams sp;
    sp.delay_out_s = sp.delay_in_s = 0.010;
    sp.jitter_s = 0.002;
    core::SourceOptions so = source_options(0, 4);
    so.min_interval_s = 1.0;  // what the daemon derives from minpoll 0
    sim.add_server(sp, so);
    RunResult r = sim.run(180, 0.5);
    report("bench path", r, 60);
    assert_int_equal(r.steps, 1);
    assert_true(r.requests <= 160);  // at most one a second, fewer once the window is full
    assert_true(r.max_backward_s <= 0);
    worst = std::max(worst, r.rms(60));
    sum += r.rms(60);
    // Later, with a full window and a longer poll, it stays accurate.
    RunResult r2 = sim.run(900, 0.5);
    report("bench path, 300-900 s", r2, 300);
    // Polled as chronyd polls (83 requests in 900 s; 305 before): at worst 619 us over
    // 50 seeds (mean 76 us, worst 170 us over 40 seeds at 305 requests). The real bench
    // runs chronyd beside us on this path: RMS 385 us against chronyd's 488 us, with 38
    // requests against its 37.
    assert_true(r2.rms(300) < 800e-6);
    assert_true(r2.requests < 360);
  }
  std::printf("# bench path: mean RMS %.1f us, worst %.1f us over %d seeds\n", sum / k_runs * 1e6, worst * 1e6, k_runs);
  // 60-180 s after start, 38 requests (155 before): a mean of 4 runs at worst 854 us,
  // one run 1.08 ms, over 50 seeds.
  assert_true(sum / k_runs < 1.1e-3);
  assert_true(worst < 1.5e-3);
}

// A clock whose frequency wanders (1 ppm per sqrt(hour), a cheap oscillator in a room
// whose temperature moves), one upstream behind the bench's path (10 ms +- 2 ms each
// way), polled every 64 to 1024 s: the filter must learn how fast the frequency moves
// and follow it. The former rule (innovation correlation) gave 1.2 and 2.0 ms RMS on
// these two seeds (mean 0.9 ms over 10 seeds); the bank of process noises 0.44 and
// 0.47 ms (0.47 ms over 20, worst 0.73 ms), polled 4 times as often as chronyd would
// (178 requests in 4 h). Polled as chronyd polls (41 requests), at worst 8.1 ms over
// 100 runs; chronyd 4.3 itself, in the same regime under clknetsim (1 source, 2 ms
// normal jitter each way, 1 ppm/sqrt(h), poll 6-10, 30000 s), 1.5-3.9 ms (mean 2.3),
// tr7ntpd there 0.9-2.6 ms (mean 1.7).
static void test_wander(void**) {
  double sum = 0;
  for (uint64_t k = 0; k < 2; ++k) {
    ClockParams cp;
    cp.offset_s = -2.5;
    cp.freq_ppm = -50;
    cp.wander_ppm = 1;
    Simulation sim(cp, client_options(1), k_start, g_seed + k);
    ServerParams sp;
    sp.delay_out_s = sp.delay_in_s = 0.010;
    sp.jitter_s = 0.002;
    sim.add_server(sp, source_options(6, 10));
    RunResult r = sim.run(4 * 3600.0, 2);
    report("wander 1 ppm/sqrt(h)", r, 3600);
    assert_true(r.rms(3600) < 10e-3);
    assert_true(r.max_backward_s <= 0);
    sum += r.rms(3600);
  }
  assert_true(sum / 2 < 8e-3);
}

// Heavy queueing (20 ms mean, exponential, on 10 % of the legs) behind the bench path: a
// first sample that queued puts the first step off by up to half its round trip (seed 20:
// 50 ms), which then slews out at max_slew_ppm. Meanwhile the root distance served must
// cover the error (before: 162 probes of these 20 seeds outside it); what a client of
// ours is told may be wide, never wrong.
static void test_root_distance_honest(void**) {
  size_t outside = 0;
  double worst = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ClockParams cp;
    cp.offset_s = -2.5;
    cp.freq_ppm = -50;
    core::ClientOptions o;
    o.min_sources = 1;
    o.precision = -23;
    Simulation sim(cp, o, k_start, seed);
    ServerParams sp;
    sp.delay_out_s = sp.delay_in_s = 0.010;
    sp.jitter_s = 0.002;
    sp.extra_mean_s = 0.020;
    sp.extra_p = 0.1;
    core::SourceOptions so = source_options(0, 4);
    so.min_interval_s = 1.0;
    sim.add_server(sp, so);
    RunResult r = sim.run(180, 0.5);
    for (const auto& smp : r.samples) {
      outside += smp.honest() ? 0 : 1;
    }
    worst = std::max(worst, r.max_abs(1));
    assert_true(r.max_backward_s <= 0);
  }
  std::printf("# heavy queueing, 20 seeds: worst error %.1f ms, %zu probes outside the root distance\n", worst * 1e3,
              outside);
  assert_int_equal(outside, 0);
}

int main() {
  g_seed = test_seed(7);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_four_sources),
      cmocka_unit_test(test_falseticker_ignored),
      cmocka_unit_test(test_no_majority),
      cmocka_unit_test(test_loss),
      cmocka_unit_test(test_initial_step),
      cmocka_unit_test(test_jump_held),
      cmocka_unit_test(test_admin_step_and_approve),
      cmocka_unit_test(test_holdover),
      cmocka_unit_test(test_leap_insert),
      cmocka_unit_test(test_wander),
      cmocka_unit_test(test_root_distance_honest),
      cmocka_unit_test(test_leap_minority_and_wrong_day),
      cmocka_unit_test(test_drift_file),
      cmocka_unit_test(test_bench_path),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
