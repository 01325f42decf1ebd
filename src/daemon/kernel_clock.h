// ClockControl over the kernel clock (mode `kernel`): clock_adjtime(2) on CLOCK_REALTIME.
//
// Frequency corrections use ADJ_FREQUENCY (fine part, +-500 ppm in the kernel) plus
// ADJ_TICK (coarse, 100 ppm per tick unit at USER_HZ 100, +-10 %) for larger slew rates; steps
// use ADJ_SETOFFSET; leap seconds STA_INS/STA_DEL. Every value is checked (finite,
// bounded) before any system call. In the privilege-separated daemon the same
// operations are carried out by the helper (issue 4): this class is the single place
// that knows the kernel interface.
//
// Tests never call the writing functions (they would change the real clock): only
// read_frequency_ppm() and read_status(), which use modes = 0 and need no privilege.
#pragma once

#include <string>

#include "core/clock.h"

namespace tr7::daemon {

class KernelClock final : public core::ClockControl {
 public:
  KernelClock();  // reads the current frequency (read-only)

  tr7::Result<void> step(double delta_s) override;
  tr7::Result<void> slew(double delta_s) override;
  tr7::Result<void> set_frequency(double ppm) override;
  double frequency() const override { return m_freq_ppm; }
  tr7::Result<void> set_leap(core::Leap leap) override;
  // STA_UNSYNC cleared while synchronised, set when not; esterror and maxerror (us,
  // clamped to k_max_sync_error_s as chronyd does) set on every call. The kernel adds
  // 500 us/s to maxerror by itself and sets STA_UNSYNC when it passes 16 s. Leap bits
  // and every other status bit are kept; STA_PLL is never used.
  tr7::Result<void> set_sync_status(bool synchronised, double est_error_s, double max_error_s) override;

  // Read-only queries (modes = 0).
  static tr7::Result<double> read_frequency_ppm();
  static tr7::Result<int> read_status();  // the kernel's STA_* bits

  // Frequency + slew, via ADJ_TICK: the kernel accepts tick within +-10 % of nominal.
  // Enough for the base frequency (<= 500 ppm) plus the fastest slew, chronyd's 83333 ppm.
  static constexpr double k_max_ppm = 100000;
  static constexpr double k_max_step_s = 1e9;
  static constexpr double k_max_sync_error_s = 16.0;  // the kernel's NTP_PHASE_LIMIT

 private:
  double m_freq_ppm = 0;
};

}  // namespace tr7::daemon
