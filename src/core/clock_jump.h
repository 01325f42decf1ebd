// Detects a clock stepped from outside the daemon, and a suspend, from readings of three
// clocks. Pure: readings are passed in.
//
// CLOCK_REALTIME - CLOCK_MONOTONIC changes only when the real-time clock is stepped
// (settimeofday, clock_settime, ADJ_SETOFFSET, the kernel's leap second): slews and
// frequency changes move both. The daemon's own steps are announced (expect_step) and
// subtracted, a leap second (exactly one second at a UTC midnight) is not a jump, and
// anything else beyond step_threshold_s is an external step. CLOCK_BOOTTIME -
// CLOCK_MONOTONIC grows only while the system is suspended: beyond suspend_threshold_s it
// is a suspend (THREATS.md §5, issue 19 item 11).
#pragma once

#include <cstdint>
#include <optional>

namespace tr7::core {

struct ClockReadings {
  int64_t realtime_ns = 0;
  int64_t monotonic_ns = 0;
  std::optional<int64_t> boottime_ns;  // nullopt where CLOCK_BOOTTIME cannot be read
};

enum class JumpKind : uint8_t { None, Step, Suspend };

struct ClockJump {
  JumpKind kind = JumpKind::None;
  double step_s = 0.0;       // Step: how far REALTIME moved beyond what was expected
  double suspended_s = 0.0;  // Suspend: how long
};

class ClockJumpDetector {
 public:
  explicit ClockJumpDetector(double step_threshold_s = 0.1, double suspend_threshold_s = 1.0)
      : m_step_threshold_s(step_threshold_s), m_suspend_threshold_s(suspend_threshold_s) {}
  // The daemon stepped the real-time clock by delta_s itself (not a jump).
  void expect_step(double delta_s) { m_expected_s += delta_s; }
  // Compares with the previous readings (the first call only records them). A Suspend
  // wins over a Step when both happened (a resume often brings a step along).
  ClockJump check(const ClockReadings& r);

 private:
  double m_step_threshold_s;
  double m_suspend_threshold_s;
  double m_expected_s = 0.0;
  bool m_started = false;
  int64_t m_real_minus_mono_ns = 0;
  std::optional<int64_t> m_boot_minus_mono_ns;
};

}  // namespace tr7::core
