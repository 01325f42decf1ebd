// The alert engine: thresholds with hysteresis, hold times, fire once and resolve once,
// per-subject alerts, the start-up grace, and random input never giving two firings
// (or two resolutions) in a row for one alert.
#include <map>
#include <string>
#include <vector>

#include "core/alerts.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

AlertSettings settings() {
  AlertSettings s;
  s.offset_s = 0.1;
  s.hysteresis = 0.5;
  s.hold_s = 10;
  s.clear_hold_s = 30;
  s.startup_grace_s = 300;
  s.min_sources = 2;
  s.peer_max_offset_s = 0.02;
  return s;
}

AlertInput healthy(double t) {
  AlertInput in;
  in.mono_s = t;
  in.sources = 2;
  in.usable_sources = 2;
  in.reachable_sources = 2;
  in.synchronised = true;
  in.offset_s = 0.001;
  in.freq_ppm = 12.0;
  in.stratum = 2;
  return in;
}

std::vector<AlertEvent> run(AlertEngine& e, double from, double to, AlertInput in) {
  std::vector<AlertEvent> all;
  for (double t = from; t <= to; t += 1) {
    in.mono_s = t;
    auto ev = e.update(in);
    all.insert(all.end(), ev.begin(), ev.end());
  }
  return all;
}

}  // namespace

static void test_offset_hysteresis(void**) {
  AlertEngine e(settings(), 0);
  assert_true(run(e, 0, 100, healthy(0)).empty());
  AlertInput bad = healthy(0);
  bad.offset_s = -0.15;
  auto ev = run(e, 101, 109, bad);
  assert_true(ev.empty());  // held for less than hold_s
  ev = run(e, 110, 200, bad);
  assert_int_equal(ev.size(), 1);  // once
  assert_true(ev[0].firing && ev[0].kind == AlertKind::Offset);
  assert_near(ev[0].value, 0.15, 1e-12);
  assert_near(ev[0].threshold, 0.1, 1e-12);
  assert_near(ev[0].mono_s, 111, 1e-9);
  assert_true(e.firing(AlertKind::Offset));
  // 0.07 s is below the threshold but above threshold * hysteresis: still firing.
  AlertInput mid = healthy(0);
  mid.offset_s = 0.07;
  assert_true(run(e, 201, 400, mid).empty());
  assert_true(e.firing(AlertKind::Offset));
  // Below 0.05 s for clear_hold_s: resolved, once.
  ev = run(e, 401, 600, healthy(0));
  assert_int_equal(ev.size(), 1);
  assert_false(ev[0].firing);
  assert_near(ev[0].mono_s, 431, 1e-9);
  assert_near(ev[0].since_mono_s, 111, 1e-9);
  assert_false(e.firing(AlertKind::Offset));
  assert_true(e.active().empty());
}

static void test_blip_and_return(void**) {
  AlertEngine e(settings(), 0);
  AlertInput bad = healthy(0);
  bad.offset_s = 0.5;
  // A blip shorter than hold_s: nothing.
  assert_true(run(e, 400, 405, bad).empty());
  assert_true(run(e, 406, 420, healthy(0)).empty());
  // Firing, gone for less than clear_hold_s, back: no new events.
  auto ev = run(e, 421, 440, bad);
  assert_int_equal(ev.size(), 1);
  assert_true(run(e, 441, 460, healthy(0)).empty());
  assert_true(run(e, 461, 480, bad).empty());
  ev = run(e, 481, 600, healthy(0));
  assert_int_equal(ev.size(), 1);
  assert_false(ev[0].firing);
}

// The lost only source: no_source (and unsynchronised once the client gives up) fire,
// the return resolves them.
static void test_lost_source_and_grace(void**) {
  AlertSettings s = settings();
  s.min_sources = 1;
  AlertEngine e(s, 0);
  AlertInput start = healthy(0);
  start.sources = 1;
  start.usable_sources = 0;
  start.reachable_sources = 0;
  start.synchronised = false;
  start.stratum = 0;
  // Within the start-up grace nothing fires although nothing answers yet.
  assert_true(run(e, 0, 290, start).empty());
  AlertInput ok = healthy(0);
  ok.sources = 1;
  ok.usable_sources = 1;
  ok.reachable_sources = 1;
  assert_true(run(e, 291, 1000, ok).empty());
  AlertInput lost = ok;
  lost.reachable_sources = 0;
  auto ev = run(e, 1001, 1011, lost);
  assert_int_equal(ev.size(), 1);
  assert_true(ev[0].kind == AlertKind::NoSource && ev[0].firing);
  assert_true(severity_of(AlertKind::NoSource) == AlertSeverity::Critical);
  lost.usable_sources = 0;
  lost.synchronised = false;
  lost.stratum = 0;
  ev = run(e, 1012, 1100, lost);
  assert_int_equal(ev.size(), 2);  // sources_low, unsynchronised
  ev = run(e, 1101, 1200, ok);
  assert_int_equal(ev.size(), 3);
  for (const auto& x : ev) {
    assert_false(x.firing);
  }
}

static void test_per_subject(void**) {
  AlertEngine e(settings(), 0);
  AlertInput in = healthy(0);
  in.peers = {{"b", true, 0.05}, {"c", true, 0.001}};
  in.tenants = {{"acme", true}, {"beta", false}};
  auto ev = run(e, 0, 20, in);
  assert_int_equal(ev.size(), 2);
  std::map<std::string, AlertKind> got;
  for (const auto& x : ev) {
    got[x.subject] = x.kind;
  }
  assert_true(got["b"] == AlertKind::PeerDisagreement);
  assert_true(got["beta"] == AlertKind::TenantDown);
  assert_int_equal(e.active().size(), 2);
  // Peer b removed from the configuration, tenant beta back: both resolve.
  in.peers = {{"c", true, 0.001}};
  in.tenants = {{"acme", true}, {"beta", true}};
  ev = run(e, 21, 100, in);
  assert_int_equal(ev.size(), 2);
  assert_true(e.active().empty());
  // An unmeasured peer is no disagreement.
  in.peers = {{"d", false, 5.0}};
  assert_true(run(e, 101, 200, in).empty());
}

static void test_stratum_drift_held_audit(void**) {
  AlertSettings s = settings();
  s.stratum_settle_s = 100;
  s.drift_ppm = 1.0;
  s.drift_window_s = 600;
  AlertEngine e(s, 0);
  assert_true(run(e, 0, 200, healthy(0)).empty());
  AlertInput st3 = healthy(0);
  st3.stratum = 3;
  // Fires after hold_s (211), resolves once the new stratum settled (301) + clear_hold_s.
  auto ev = run(e, 201, 500, st3);
  assert_int_equal(ev.size(), 2);
  assert_true(ev[0].kind == AlertKind::StratumChange && ev[0].firing && ev[0].value == 3 && ev[0].threshold == 2);
  assert_near(ev[0].mono_s, 211, 1e-9);
  assert_false(ev[1].firing);
  assert_near(ev[1].mono_s, 331, 1e-9);
  AlertInput drift = st3;
  drift.freq_ppm = 14.5;  // 2.5 ppm away from the last hour's 12
  ev = run(e, 501, 520, drift);
  assert_int_equal(ev.size(), 1);
  assert_true(ev[0].kind == AlertKind::Drift);
  AlertInput held = drift;
  held.held = true;
  held.held_offset_s = 2.5;
  held.offset_tolerance_s = 1.0;
  held.audit_failing = true;
  held.audit_failures = 3;
  ev = run(e, 521, 540, held);
  assert_int_equal(ev.size(), 2);
}

// The engine says when it must look again although nothing changed: hold and clear-hold
// times, the start-up grace.
static void test_deadlines(void**) {
  AlertEngine e(settings(), 0);
  AlertInput ok = healthy(0);
  e.update(ok);
  assert_near(*e.next_deadline(), 300, 1e-9);  // the grace
  ok.mono_s = 400;
  e.update(ok);
  assert_false(e.next_deadline().has_value() && *e.next_deadline() < 400);
  AlertInput bad = healthy(500);
  bad.offset_s = 1;
  assert_true(e.update(bad).empty());
  assert_near(*e.next_deadline(), 510, 1e-9);  // hold
  bad.mono_s = 510;
  assert_int_equal(e.update(bad).size(), 1);
  ok.mono_s = 520;
  e.update(ok);
  assert_near(*e.next_deadline(), 550, 1e-9);  // clear_hold
  ok.mono_s = 550;
  assert_int_equal(e.update(ok).size(), 1);
}

// Random observations: for each alert, events alternate firing/resolved, starting with
// firing, and active() agrees with the last event.
static void test_random_alternation(void**) {
  Rng rng(test_seed());
  AlertEngine e(settings(), 0);
  std::map<std::pair<AlertKind, std::string>, bool> last;
  for (int t = 0; t < 20000; ++t) {
    AlertInput in = healthy(t);
    in.offset_s = (rng.next_u32() % 100) / 500.0;
    in.reachable_sources = rng.next_u32() % 3;
    in.usable_sources = rng.next_u32() % 3;
    in.synchronised = rng.next_u32() % 4 != 0;
    in.held = rng.next_u32() % 8 == 0;
    if (rng.next_u32() % 2) {
      in.peers = {{"p", true, (rng.next_u32() % 100) / 1000.0}};
    }
    for (const auto& ev : e.update(in)) {
      auto key = std::make_pair(ev.kind, ev.subject);
      auto it = last.find(key);
      bool was = it != last.end() && it->second;
      if (ev.firing == was) {
        fail_msg("t=%d %s %s twice in a row", t, to_string(ev.kind), ev.firing ? "fired" : "resolved");
      }
      last[key] = ev.firing;
    }
  }
  size_t firing = 0;
  for (const auto& [k, f] : last) {
    firing += f;
  }
  assert_int_equal(e.active().size(), firing);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offset_hysteresis),
      cmocka_unit_test(test_blip_and_return),
      cmocka_unit_test(test_lost_source_and_grace),
      cmocka_unit_test(test_per_subject),
      cmocka_unit_test(test_stratum_drift_held_audit),
      cmocka_unit_test(test_random_alternation),
      cmocka_unit_test(test_deadlines),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
