// The kernel clock as the privileged helper drives it: core::ClockControl over
// clock_adjtime(CLOCK_REALTIME) (needs CAP_SYS_TIME). Only the helper, and only with
// clock = kernel, ever constructs one; tests never do (they use fakes and clock = none).
//
// Mapping (sign conventions as in core/clock.h):
//  * step(delta_s):   ADJ_SETOFFSET | ADJ_NANO, an atomic relative step;
//  * slew(delta_s):   ADJ_OFFSET_SINGLESHOT (adjtime(3) semantics: the kernel slews at
//                     500 ppm until delta_s is absorbed; a new slew replaces the rest);
//  * set_frequency:   ADJ_FREQUENCY (ppm, scaled by 2^16);
//  * set_leap:        ADJ_STATUS with STA_INS / STA_DEL (other status bits kept).
//
// NOTE for the merge: the client/discipline work (issue 3) has its own direct kernel
// ClockControl for single-process mode; the helper can use that one instead, as long as it
// implements core::ClockControl.
#pragma once

#include "core/clock.h"

namespace tr7::daemon {

class HelperKernelClock final : public core::ClockControl {
 public:
  HelperKernelClock();  // reads the current frequency (read only)
  Result<void> step(double delta_s) override;
  Result<void> slew(double delta_s) override;
  Result<void> set_frequency(double ppm) override;
  double frequency() const override { return m_freq_ppm; }
  Result<void> set_leap(core::Leap leap) override;

 private:
  double m_freq_ppm = 0.0;
};

}  // namespace tr7::daemon
