// External clock steps and suspends (core/clock_jump.h, issue 19 item 11).
#include "core/clock_jump.h"
#include "testutil.h"

using namespace tr7::core;

namespace {
constexpr int64_t k_s = 1'000'000'000LL;
// Readings: real-time at `real` s (since 1970), monotonic at `mono`, boot at `boot` s.
ClockReadings at(double real, double mono, double boot) {
  ClockReadings r;
  r.realtime_ns = static_cast<int64_t>(real * 1e9);
  r.monotonic_ns = static_cast<int64_t>(mono * 1e9);
  r.boottime_ns = static_cast<int64_t>(boot * 1e9);
  return r;
}
constexpr double k_t = 1'800'000'000.0 + 3600;  // an hour after a midnight
}  // namespace

static void test_quiet_clock(void**) {
  ClockJumpDetector d;
  assert_true(d.check(at(k_t, 100, 100)).kind == JumpKind::None);  // baseline
  for (int i = 1; i < 100; ++i) {
    // Slewed at 83333 ppm: both clocks move the same.
    assert_true(d.check(at(k_t + i * 1.08, 100 + i * 1.08, 100 + i * 1.08)).kind == JumpKind::None);
  }
}

static void test_external_step(void**) {
  ClockJumpDetector d;
  d.check(at(k_t, 100, 100));
  ClockJump j = d.check(at(k_t + 1 + 100, 101, 101));
  assert_true(j.kind == JumpKind::Step);
  assert_near(j.step_s, 100.0, 1e-6);
  j = d.check(at(k_t + 2 + 100 - 0.5, 102, 102));  // -0.5 s
  assert_true(j.kind == JumpKind::Step);
  assert_near(j.step_s, -0.5, 1e-6);
  assert_true(d.check(at(k_t + 3 + 99.5 + 0.05, 103, 103)).kind == JumpKind::None);  // under the threshold
}

static void test_own_step_expected(void**) {
  ClockJumpDetector d;
  d.check(at(k_t, 100, 100));
  d.expect_step(-2.5);
  assert_true(d.check(at(k_t + 1 - 2.5, 101, 101)).kind == JumpKind::None);
  // The expectation is used once.
  assert_true(d.check(at(k_t + 2 - 2.5, 102, 102)).kind == JumpKind::None);
  ClockJump j = d.check(at(k_t + 3, 103, 103));
  assert_true(j.kind == JumpKind::Step);
  assert_near(j.step_s, 2.5, 1e-6);
}

static void test_leap_second_is_not_a_jump(void**) {
  ClockJumpDetector d;
  double midnight = 1'800'000'000.0 - static_cast<double>(1'800'000'000LL % 86400) + 86400;
  d.check(at(midnight - 1, 100, 100));
  assert_true(d.check(at(midnight + 1 - 1, 101, 101)).kind == JumpKind::None);  // inserted
  // The same second away from midnight is a step.
  ClockJumpDetector e;
  e.check(at(k_t, 100, 100));
  assert_true(e.check(at(k_t + 1 - 1, 101, 101)).kind == JumpKind::Step);
}

static void test_suspend(void**) {
  ClockJumpDetector d;
  d.check(at(k_t, 100, 100));
  // 8 h suspended: BOOTTIME jumped, MONOTONIC did not; REALTIME came back 2 s wrong.
  ClockJump j = d.check(at(k_t + 1 + 28800 - 2, 101, 101 + 28800));
  assert_true(j.kind == JumpKind::Suspend);
  assert_near(j.suspended_s, 28800.0, 1e-6);
  assert_near(j.step_s, 28798.0, 1e-6);
  // Without CLOCK_BOOTTIME (a simulator): steps only.
  ClockJumpDetector n;
  ClockReadings r = at(k_t, 100, 100);
  r.boottime_ns.reset();
  n.check(r);
  r = at(k_t + 1, 101, 0);
  r.boottime_ns.reset();
  assert_true(n.check(r).kind == JumpKind::None);
  (void)k_s;
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quiet_clock),       cmocka_unit_test(test_external_step),
      cmocka_unit_test(test_own_step_expected), cmocka_unit_test(test_leap_second_is_not_a_jump),
      cmocka_unit_test(test_suspend),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
