// The virtual clock of mode `none`: frequency, steps, slews, leap seconds, refusals.
#include "core/virtual_clock.h"

#include <cmath>

#include "core/leap.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

struct FakeRaw {
  Timestamp t{1'795'000'000LL * k_ns_per_s};
  static Timestamp read(void* ctx) { return static_cast<FakeRaw*>(ctx)->t; }
  void advance(double s) { t = add_s(t, s); }
};

}  // namespace

static void test_frequency_and_step(void**) {
  FakeRaw raw;
  VirtualClock vc(&FakeRaw::read, &raw);
  assert_near(vc.correction_at(raw.t), 0.0, 0);
  assert_true(vc.set_frequency(100.0).has_value());
  assert_near(vc.frequency(), 100.0, 1e-12);
  raw.advance(10);
  assert_near(vc.correction_at(raw.t), 1e-3, 1e-12);
  assert_true(vc.step(0.5).has_value());
  assert_near(vc.correction_at(raw.t), 0.501, 1e-12);
  raw.advance(10);
  assert_near(vc.correction_at(raw.t), 0.502, 1e-12);
  assert_true(vc.cook(raw.t) == add_s(raw.t, 0.502));
  // A raw clock stepped backwards (someone else set it): the correction stays.
  assert_near(vc.correction_at(add_s(raw.t, -100)), 0.501, 1e-9);
}

static void test_slew(void**) {
  FakeRaw raw;
  VirtualClock vc(&FakeRaw::read, &raw);
  assert_true(vc.slew(0.001).has_value());  // at 500 ppm: 2 s
  raw.advance(1);
  assert_near(vc.correction_at(raw.t), 0.0005, 1e-12);
  raw.advance(5);
  assert_near(vc.correction_at(raw.t), 0.001, 1e-12);
  assert_true(vc.slew(-0.002).has_value());
  raw.advance(10);
  assert_near(vc.correction_at(raw.t), -0.001, 1e-12);
}

static void test_refusals(void**) {
  FakeRaw raw;
  VirtualClock vc(&FakeRaw::read, &raw);
  assert_false(vc.set_frequency(NAN).has_value());
  assert_false(vc.set_frequency(1e6).has_value());
  assert_false(vc.step(INFINITY).has_value());
  assert_false(vc.step(2e9).has_value());
  assert_false(vc.slew(NAN).has_value());
  raw.advance(100);
  assert_near(vc.correction_at(raw.t), 0.0, 0);  // nothing was applied
}

static void test_leap(void**) {
  const Timestamp before{(1483228800LL - 10) * k_ns_per_s};  // 2016-12-31T23:59:50Z
  FakeRaw raw;
  raw.t = before;
  VirtualClock vc(&FakeRaw::read, &raw);
  assert_true(vc.set_leap(Leap::Insert).has_value());
  assert_true(vc.leap() == Leap::Insert);
  raw.advance(9.5);
  assert_near(vc.correction_at(raw.t), 0.0, 0);  // 23:59:59.5: not yet
  raw.advance(1.0);                              // 00:00:00.5 raw
  assert_near(vc.correction_at(raw.t), -1.0, 0);  // served repeats 23:59:59
  // Disarming after midnight keeps the applied leap.
  assert_true(vc.set_leap(Leap::None).has_value());
  raw.advance(5);
  assert_near(vc.correction_at(raw.t), -1.0, 0);
  // Disarming before midnight cancels it.
  FakeRaw raw2;
  raw2.t = before;
  VirtualClock v2(&FakeRaw::read, &raw2);
  assert_true(v2.set_leap(Leap::Insert).has_value());
  raw2.advance(5);
  assert_true(v2.set_leap(Leap::None).has_value());
  raw2.advance(10);
  assert_near(v2.correction_at(raw2.t), 0.0, 0);
  // A deletion: 23:59:59 is skipped.
  FakeRaw raw3;
  raw3.t = before;
  VirtualClock v3(&FakeRaw::read, &raw3);
  assert_true(v3.set_leap(Leap::Delete).has_value());
  raw3.advance(9.5);
  assert_near(v3.correction_at(raw3.t), 1.0, 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frequency_and_step),
      cmocka_unit_test(test_slew),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_leap),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
