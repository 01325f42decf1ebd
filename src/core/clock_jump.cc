// Clock jump detection (see clock_jump.h).
#include "core/clock_jump.h"

#include <cmath>

namespace tr7::core {

namespace {

constexpr int64_t k_ns = 1'000'000'000LL;

// A leap second: the real-time clock moved by one second, within 10 ms, at most 2 s from a
// UTC midnight (the kernel inserts or deletes it at 23:59:60).
bool leap_second(double step_s, int64_t realtime_ns) {
  if (std::fabs(std::fabs(step_s) - 1.0) > 0.01) {
    return false;
  }
  int64_t of_day = ((realtime_ns / k_ns) % 86400 + 86400) % 86400;
  return of_day <= 2 || of_day >= 86400 - 2;
}

}  // namespace

ClockJump ClockJumpDetector::check(const ClockReadings& r) {
  int64_t rm = r.realtime_ns - r.monotonic_ns;
  std::optional<int64_t> bm;
  if (r.boottime_ns) {
    bm = *r.boottime_ns - r.monotonic_ns;
  }
  ClockJump j;
  if (m_started) {
    double moved_s = static_cast<double>(rm - m_real_minus_mono_ns) / 1e9 - m_expected_s;
    if (std::fabs(moved_s) > m_step_threshold_s && !leap_second(moved_s, r.realtime_ns)) {
      j.kind = JumpKind::Step;
      j.step_s = moved_s;
    }
    if (bm && m_boot_minus_mono_ns) {
      double slept_s = static_cast<double>(*bm - *m_boot_minus_mono_ns) / 1e9;
      if (slept_s > m_suspend_threshold_s) {
        j.kind = JumpKind::Suspend;
        j.suspended_s = slept_s;
      }
    }
  }
  m_started = true;
  m_expected_s = 0.0;
  m_real_minus_mono_ns = rm;
  m_boot_minus_mono_ns = bm;
  return j;
}

}  // namespace tr7::core
