// Unit tests: the delay-bounded line fit (core/bound_fit) and its use in the source
// filter (core/source_filter).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/bound_fit.h"
#include "core/random.h"
#include "core/source_filter.h"
// cmocka's macros last: they clash with the standard library's names.
#include "testutil.h"

using namespace tr7::core;

namespace {

uint64_t g_seed = 1;

// A path with independent uniform jitter on both legs (the bench's relay): returns the
// measured offset and the round trip for a true offset `truth`.
struct Leg {
  Rng& rng;
  double base_s;
  double jitter_s;
  double draw() { return base_s + jitter_s * (2 * rng.next_double() - 1); }
};

}  // namespace

// Samples exactly on a line with the same delay: the fit is the line, the set a sliver.
static void test_exact_line(void**) {
  BoundFit f(1e-9);
  for (int i = 0; i < 20; ++i) {
    double t = 100 + 2.0 * i;
    f.add(t, 0.25 + 30e-6 * t, 0.02);
    assert_int_equal(f.valid(), i + 1 >= static_cast<int>(BoundFit::k_min_points));
  }
  assert_near(f.centre_at(140), 0.25 + 30e-6 * 140, 1e-8);
  assert_near(f.centre_at(200), 0.25 + 30e-6 * 200, 1e-7);  // extrapolated
  assert_near(f.slope_centre(), 30e-6, 1e-9);
  assert_true(f.low_at(140) <= f.centre_at(140) + 1e-12);
  assert_true(f.high_at(140) >= f.centre_at(140) - 1e-12);
  assert_true(f.high_at(140) - f.low_at(140) < 1e-7);
  assert_near(f.min_delay_s(), 0.02, 1e-15);
  assert_true(f.slack_s() < 1e-8);
}

// Bad input is ignored; the window keeps the newest samples; shifts and constant delay
// offsets act as they must.
static void test_window_and_input(void**) {
  BoundFit f(1e-7, 8);
  assert_int_equal(f.capacity(), 8);
  assert_false(f.valid());
  f.add(NAN, 0, 0.01);
  f.add(1, INFINITY, 0.01);
  f.add(1, 0, -0.01);
  f.add(1, 0, NAN);
  assert_int_equal(f.size(), 0);
  for (int i = 0; i < 3; ++i) {
    f.add(10, 0.001, 0.01);  // no time span: not valid
  }
  assert_false(f.valid());
  f.add(5, 0.0, 0.01);  // older than the newest: ignored
  assert_int_equal(f.size(), 3);
  Rng rng(g_seed);
  for (int i = 1; i <= 30; ++i) {
    f.add(10 + i, 0.001 + 1e-4 * (rng.next_double() - 0.5), 0.01 + 1e-4 * rng.next_double());
  }
  assert_int_equal(f.size(), 8);
  assert_true(f.full());
  assert_near(f.oldest_time(), 33, 1e-12);
  assert_near(f.newest_time(), 40, 1e-12);
  assert_true(f.valid());
  double c = f.centre_at(40), lo = f.low_at(40), hi = f.high_at(40);
  f.shift(0.5);
  assert_near(f.centre_at(40), c + 0.5, 1e-9);
  assert_near(f.low_at(40), lo + 0.5, 1e-9);
  assert_near(f.high_at(40), hi + 0.5, 1e-9);
  f.keep_newest(4);
  assert_int_equal(f.size(), 4);
  assert_near(f.oldest_time(), 37, 1e-12);
  f.keep_newest(3);
  assert_false(f.valid());
  f.clear();
  assert_int_equal(f.size(), 0);
  assert_false(f.valid());

  // Every delay longer by the same amount (a longer but equally jittery path): nothing
  // changes; every offset larger by the same amount: the fit moves by it.
  BoundFit a(1e-7), b(1e-7), c2(1e-7);
  for (int i = 0; i < 60; ++i) {
    double d1 = 0.01 + 0.002 * (2 * rng.next_double() - 1), d2 = 0.01 + 0.002 * (2 * rng.next_double() - 1);
    double t = i, z = 1e-5 * t + (d1 - d2) / 2;
    a.add(t, z, d1 + d2);
    b.add(t, z, d1 + d2 + 0.05);
    c2.add(t, z - 0.3, d1 + d2);
  }
  assert_near(a.centre_at(70), b.centre_at(70), 1e-9);
  assert_near(a.centre_at(70), c2.centre_at(70) + 0.3, 1e-9);
  assert_near(a.slope_centre(), c2.slope_centre(), 1e-12);
}

// Bounded jitter (the bench's relay: 10 ms +- 2 ms uniform each way): the fit's error is
// far below the error of a least-squares line through the same samples, and the slope
// is found.
static void test_beats_least_squares(void**) {
  Rng rng(g_seed ^ 0xB0D);
  double se_fit = 0, se_ls = 0;
  int n = 0;
  for (int trial = 0; trial < 40; ++trial) {
    Leg leg{rng, 0.010, 0.002};
    double a0 = 0.01 * (rng.next_double() - 0.5), f0 = 100e-6 * (rng.next_double() - 0.5);
    BoundFit f(1e-7);
    double sw = 0, st = 0, sz = 0, stt = 0, stz = 0;
    for (int i = 0; i < 120; ++i) {
      double d1 = leg.draw(), d2 = leg.draw();
      double t = i, z = a0 + f0 * t + (d1 - d2) / 2;
      f.add(t, z, d1 + d2);
      sw += 1;
      st += t;
      sz += z;
      stt += t * t;
      stz += t * z;
    }
    double b = (sw * stz - st * sz) / (sw * stt - st * st);
    double a = (sz - b * st) / sw;
    double truth = a0 + f0 * 120;
    se_fit += std::pow(f.centre_at(120) - truth, 2);
    se_ls += std::pow(a + b * 120 - truth, 2);
    ++n;
    assert_near(f.slope_centre(), f0, 5e-6);
    assert_true(f.low_at(120) <= f.centre_at(120) && f.centre_at(120) <= f.high_at(120));
  }
  double rms_fit = std::sqrt(se_fit / n), rms_ls = std::sqrt(se_ls / n);
  std::printf("# bounded jitter, 120 samples: fit %.1f us, least squares %.1f us (RMS at the newest sample)\n",
              rms_fit * 1e6, rms_ls * 1e6);
  assert_true(rms_fit < 0.6 * rms_ls);
  assert_true(rms_fit < 100e-6);
}

// A sample that breaks its bound (a clock error, not a delay): the slack absorbs it, the
// fit stays finite and bounded by the data.
static void test_violating_sample(void**) {
  Rng rng(g_seed ^ 0x71);
  Leg leg{rng, 0.005, 0.001};
  BoundFit f(1e-7);
  for (int i = 0; i < 50; ++i) {
    double d1 = leg.draw(), d2 = leg.draw();
    double z = (d1 - d2) / 2;
    if (i == 25) {
      z += 0.05;  // 50 ms off with a normal delay
    }
    f.add(i, z, d1 + d2);
  }
  assert_true(f.valid());
  assert_true(f.slack_s() > 0.01);
  assert_true(std::isfinite(f.centre_at(50)));
  assert_true(std::fabs(f.centre_at(50)) < 0.05);
}

// The source filter on a bounded-jitter path: its estimate beats its own Kalman filter's
// once the window has samples, and it reports a variance of the right size.
static void test_filter_uses_bounds(void**) {
  Rng rng(g_seed ^ 0xF1);
  double se_out = 0, se_kal = 0, var_sum = 0;
  int n = 0;
  for (int trial = 0; trial < 10; ++trial) {
    Leg leg{rng, 0.010, 0.002};
    SourceFilter filt(0, 500e-6, 1e-7);
    double a0 = 2.5, f0 = 50e-6;
    for (int i = 0; i < 180; ++i) {
      double d1 = leg.draw(), d2 = leg.draw();
      double t = i + (d1 + d2) / 2;
      filt.add(t, a0 + f0 * t + (d1 - d2) / 2, d1 + d2);
      if (i >= 90) {
        double tp = t + 0.5, truth = a0 + f0 * tp;
        FilterEstimate e = filt.estimate_at(tp);
        se_out += std::pow(e.offset_s - truth, 2);
        se_kal += std::pow(filt.kalman_at(tp).offset_s - truth, 2);
        var_sum += e.offset_var;
        ++n;
        assert_near(e.freq, f0, 10e-6);
      }
    }
    assert_true(filt.window_full());
  }
  double rms_out = std::sqrt(se_out / n), rms_kal = std::sqrt(se_kal / n), sd = std::sqrt(var_sum / n);
  std::printf("# filter, bounded jitter: output %.1f us, Kalman alone %.1f us, reported sd %.1f us\n", rms_out * 1e6,
              rms_kal * 1e6, sd * 1e6);
  assert_true(rms_out < 0.75 * rms_kal);
  assert_true(sd > rms_out / 3 && sd < rms_out * 3);
}

// Symmetric (gaussian) jitter, where a round trip says nothing about the asymmetry: the
// filter does not do much worse than its Kalman filter alone.
static void test_filter_gaussian_jitter(void**) {
  Rng rng(g_seed ^ 0x6A);
  double se_out = 0, se_kal = 0;
  int n = 0;
  for (int trial = 0; trial < 10; ++trial) {
    SourceFilter filt(0, 500e-6, 1e-7);
    for (int i = 0; i < 300; ++i) {
      double d1 = std::max(1e-4, 0.01 + 0.001 * rng.next_gaussian());
      double d2 = std::max(1e-4, 0.01 + 0.001 * rng.next_gaussian());
      double t = 4.0 * i;
      filt.add(t, 1e-5 * t + (d1 - d2) / 2, d1 + d2);
      if (i >= 100) {
        double tp = t + 2, truth = 1e-5 * tp;
        se_out += std::pow(filt.estimate_at(tp).offset_s - truth, 2);
        se_kal += std::pow(filt.kalman_at(tp).offset_s - truth, 2);
        ++n;
      }
    }
  }
  double rms_out = std::sqrt(se_out / n), rms_kal = std::sqrt(se_kal / n);
  std::printf("# filter, gaussian jitter: output %.1f us, Kalman alone %.1f us\n", rms_out * 1e6, rms_kal * 1e6);
  assert_true(rms_out < 1.5 * rms_kal);
}

// A known shift of the server's time scale (a leap second applied at both ends) moves
// the whole estimate, the fit's halves included: what follows agrees with it.
static void test_filter_shift(void**) {
  Rng rng(g_seed ^ 0x5F);
  Leg leg{rng, 0.010, 0.002};
  SourceFilter a(0, 500e-6, 1e-7), b(0, 500e-6, 1e-7);
  double f0 = 20e-6;
  for (int i = 0; i < 200; ++i) {
    double d1 = leg.draw(), d2 = leg.draw();
    double t = i, z = f0 * t + (d1 - d2) / 2;
    a.add(t, z, d1 + d2);
    b.add(t, z + (i >= 100 ? 1.0 : 0.0), d1 + d2);
    if (i == 99) {
      b.shift(1.0);
    }
  }
  FilterEstimate ea = a.estimate_at(200), eb = b.estimate_at(200);
  assert_near(eb.offset_s - ea.offset_s, 1.0, 1e-9);
  assert_near(eb.freq, ea.freq, 1e-12);
  assert_near(b.bound_var(), a.bound_var(), 1e-15);
}

int main() {
  g_seed = test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_line),          cmocka_unit_test(test_window_and_input),
      cmocka_unit_test(test_beats_least_squares), cmocka_unit_test(test_violating_sample),
      cmocka_unit_test(test_filter_uses_bounds),  cmocka_unit_test(test_filter_gaussian_jitter),
      cmocka_unit_test(test_filter_shift),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
