// The daemon's clock over CLOCK_REALTIME (read-only in this module).
//
// Mode `kernel`: the served time is the system clock; corrections go to the kernel
// through the clock-control path. Mode `none`: no clock control at all; the served time
// is the system clock plus the daemon's own correction (a virtual clock), so the daemon
// can keep and serve good time without CAP_SYS_TIME, and tests never touch the real clock.
#pragma once

#include "core/clock.h"
#include "daemon/config.h"

namespace tr7::daemon {

class SystemClock final : public core::Clock {
 public:
  explicit SystemClock(ClockMode mode) : m_mode(mode) {}
  core::Timestamp now() const override;
  core::Timestamp cook(core::Timestamp raw) const override;
  ClockMode mode() const { return m_mode; }

 private:
  ClockMode m_mode;
};

}  // namespace tr7::daemon
