// The joint clock filter over the selected sources (core/clock_ensemble.h).
#include <cmath>
#include <vector>

#include "core/clock_ensemble.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

// Sources with fixed biases measure one clock: offset x0 + f * t plus their bias, with
// white noise sd. Feeds `rounds` rounds, one sample of each member per round, dt apart.
struct World {
  double x0 = 0.01, f = 20e-6;
  std::vector<uint32_t> ids;
  std::vector<double> bias;
  double sd = 100e-6;
  double truth(double t) const { return x0 + f * t; }
};

double feed(ClockEnsemble& e, const World& w, Rng& r, double t, int rounds, double dt) {
  for (int k = 0; k < rounds; ++k) {
    for (size_t i = 0; i < w.ids.size(); ++i) {
      double tt = t + 0.001 * static_cast<double>(i);
      (void)e.add(w.ids[i], tt, w.truth(tt) + w.bias[i] + w.sd * r.next_gaussian(), w.sd * w.sd);
    }
    t += dt;
  }
  return t;
}

ClockEnsemble seeded(const World& w, double t, double weight_of_first = 1.0) {
  ClockEnsemble e;
  std::vector<ClockEnsemble::Seed> s;
  double wsum = 0, osum = 0;
  for (size_t i = 0; i < w.ids.size(); ++i) {
    double wt = i == 0 ? weight_of_first : 1.0;
    s.push_back({w.ids[i], w.truth(t) + w.bias[i], wt});
    wsum += wt;
    osum += wt * (w.truth(t) + w.bias[i]);
  }
  e.seed(t, osum / wsum, 1e-8, 0, 1e-10, s.data(), s.size());
  return e;
}

}  // namespace

// Three sources, biases +1 ms, 0, -1 ms: the consensus is their weighted mean (here the
// truth), the biases are learned, the frequency too; and the estimate is better than any
// one source's noise allows alone.
static void test_consensus_and_biases(void**) {
  Rng r(test_seed());
  World w;
  w.ids = {1, 2, 3};
  w.bias = {1e-3, 0, -1e-3};
  ClockEnsemble e = seeded(w, 0);
  assert_true(e.seeded());
  double t = feed(e, w, r, 16, 200, 16);
  EnsembleEstimate est = e.estimate_at(t);
  assert_near(est.offset_s, w.truth(t), 40e-6);
  assert_near(est.freq, w.f, 0.05e-6);
  double b = 0, v = 0;
  assert_true(e.bias(1, b, v));
  assert_near(b, 1e-3, 40e-6);
  assert_true(e.bias(3, b, v));
  assert_near(b, -1e-3, 40e-6);
  assert_true(std::sqrt(est.offset_var) < 100e-6);
  assert_int_equal(e.members(), 3);
  assert_true(e.samples() >= 590);
}

// Weights set the consensus: the first source weighs 3 times the others, so it is
// the weighted mean of (+1 ms, 0, -1 ms) with weights 3, 1, 1: +0.4 ms.
static void test_weighted_consensus(void**) {
  Rng r(test_seed() + 1);
  World w;
  w.ids = {1, 2, 3};
  w.bias = {1e-3, 0, -1e-3};
  ClockEnsemble e = seeded(w, 0, 3.0);
  double t = feed(e, w, r, 16, 200, 16);
  assert_near(e.estimate_at(t).offset_s, w.truth(t) + 0.4e-3, 40e-6);
}

// A member that leaves: the consensus is the weighted mean of the rest (+0.5 ms here);
// a member that joins later never moves it.
static void test_leave_and_join(void**) {
  Rng r(test_seed() + 2);
  World w;
  w.ids = {1, 2, 3};
  w.bias = {1e-3, 0, -1e-3};
  ClockEnsemble e = seeded(w, 0);
  double t = feed(e, w, r, 16, 100, 16);
  e.remove(3);
  assert_false(e.has(3));
  assert_int_equal(e.members(), 2);
  World w2 = w;
  w2.ids = {1, 2};
  w2.bias = {1e-3, 0};
  t = feed(e, w2, r, t, 50, 16);
  // (Two sources of 100 us noise: within 120 us on 199 of 200 seeds.)
  assert_near(e.estimate_at(t).offset_s, w.truth(t) + 0.5e-3, 160e-6);
  // A newcomer 5 ms off: it sharpens, never moves (as a third equal member of the
  // consensus it would move it by 1.7 ms).
  World w3 = w2;
  w3.ids = {1, 2, 9};
  w3.bias = {1e-3, 0, 5e-3};
  t = feed(e, w3, r, t, 50, 16);
  assert_true(e.has(9));
  assert_near(e.estimate_at(t).offset_s, w.truth(t) + 0.5e-3, 160e-6);
  // The last two of the seed's members gone: nothing anchors the consensus any more.
  e.remove(1);
  assert_true(e.seeded());
  e.remove(2);
  assert_false(e.seeded());
}

// A sample far outside the prediction is not used (the sources' own filters may let one
// through); a known jump of the servers' scale moves the estimate.
static void test_outlier_and_shift(void**) {
  Rng r(test_seed() + 3);
  World w;
  w.ids = {1, 2};
  w.bias = {0, 0};
  ClockEnsemble e = seeded(w, 0);
  double t = feed(e, w, r, 16, 100, 16);
  uint64_t n = e.samples();
  double before = e.estimate_at(t).offset_s;
  assert_near(before, w.truth(t), 80e-6);
  assert_false(e.add(1, t, w.truth(t) + 0.05, w.sd * w.sd));
  assert_int_equal(e.samples(), n);
  assert_near(e.estimate_at(t).offset_s, before, 1e-12);
  e.shift(-1.0);
  assert_near(e.estimate_at(t).offset_s, before - 1.0, 1e-9);
  // Not finite, no variance, going back in time: refused.
  assert_false(e.add(1, t + 1, NAN, 1e-8));
  assert_false(e.add(1, t + 1, 0, 0));
  assert_false(e.add(1, t - 100, 0, 1e-8));
}

// A clock whose frequency wanders: the ensemble's bank finds a larger process noise than
// for a steady one, and follows.
static void test_wander_followed(void**) {
  Rng r(test_seed() + 4);
  World w;
  w.ids = {1, 2, 3};
  w.bias = {0, 0, 0};
  w.sd = 20e-6;
  ClockEnsemble steady = seeded(w, 0);
  double t = feed(steady, w, r, 16, 300, 16);
  // The same, with the frequency a random walk of 1e-8 per sqrt(s) (q = 1e-16).
  ClockEnsemble e = seeded(w, 0);
  double x = w.x0, f = 0, tt = 16, worst = 0;
  for (int k = 0; k < 300; ++k) {
    for (uint32_t id = 1; id <= 3; ++id) {
      (void)e.add(id, tt, x + w.sd * r.next_gaussian(), w.sd * w.sd);
    }
    f += 1e-8 * std::sqrt(16.0) * r.next_gaussian();
    x += f * 16;
    tt += 16;
    if (k > 100) {
      worst = std::max(worst, std::fabs(e.estimate_at(tt - 16).offset_s - (x - f * 16)));
    }
  }
  assert_true(e.process_noise() > 100 * steady.process_noise());
  assert_true(worst < 200e-6);
  (void)t;
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_consensus_and_biases), cmocka_unit_test(test_weighted_consensus),
      cmocka_unit_test(test_leave_and_join),       cmocka_unit_test(test_outlier_and_shift),
      cmocka_unit_test(test_wander_followed),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
