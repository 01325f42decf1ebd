// The virtual clock of mode `none`: served time = system time + a correction that the
// discipline steers; the system clock itself is never touched.
//
// No I/O: the caller passes the raw (system clock) time to every call. The correction
// is piecewise linear in raw time: a phase, a frequency (rate of the correction, s/s;
// positive makes the served clock run faster) and an optional slew in progress. A leap
// second armed with set_leap() is applied when the served time reaches the following
// midnight UTC (insertion: the served clock steps back 1 s; deletion: forward); once
// passed it is part of the phase. Sign conventions as in core/clock.h.
#pragma once

#include "core/clock.h"
#include "core/time.h"

namespace tr7::core {

class VirtualClock final : public ClockControl {
 public:
  // `raw_now` reads the raw clock (the system clock); the daemon passes a function that
  // calls clock_gettime, the tests a fake.
  using RawNow = Timestamp (*)(void* ctx);
  VirtualClock(RawNow raw_now, void* ctx) : m_raw_now(raw_now), m_ctx(ctx) {}

  // The correction at raw time `raw`, seconds (served = raw + correction).
  double correction_at(Timestamp raw) const;
  Timestamp cook(Timestamp raw) const { return add_s(raw, correction_at(raw)); }

  Result<void> step(double delta_s) override;
  Result<void> slew(double delta_s) override;  // at k_slew_rate
  Result<void> set_frequency(double ppm) override;
  double frequency() const override { return m_freq * 1e6; }
  Result<void> set_leap(Leap leap) override;
  Leap leap() const { return m_leap; }

  static constexpr double k_max_freq_ppm = 100000;  // 10 %: nothing sane is beyond
  static constexpr double k_slew_rate = 500e-6;     // slew() rate, s/s
  static constexpr double k_max_step_s = 1e9;

 private:
  // Folds everything up to `raw` into the phase (before a change of rate).
  void rebase(Timestamp raw);
  double leap_part(Timestamp raw, double base_corr) const;

  RawNow m_raw_now;
  void* m_ctx;
  Timestamp m_anchor;  // raw time of the phase
  double m_phase = 0;
  double m_freq = 0;
  double m_slew_left = 0;  // remaining slew at m_anchor (applied at k_slew_rate)
  Leap m_leap = Leap::None;
  Timestamp m_leap_at;  // served midnight
};

}  // namespace tr7::core
