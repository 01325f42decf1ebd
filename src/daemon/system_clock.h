// The daemon's clock over CLOCK_REALTIME.
//
// Mode `kernel`: the served time is the system clock; corrections go to the kernel:
// through the privileged helper under privilege separation (its core::ClockControl is
// passed in), or with clock_adjtime from this process (KernelClock) in one process.
// Mode `none`: no clock control at all; the served time is the system clock plus the
// daemon's own correction (core::VirtualClock), so the daemon can keep and serve good
// time without CAP_SYS_TIME, and tests never touch the real clock.
//
// Threads: now() and cook() may be called from any thread at once (every NTP server
// thread reads the clock for every batch); control() belongs to the event loop. In mode
// `none` each correction replaces an immutable copy of the virtual clock that readers
// pick up (one atomic load while nothing changed, a short lock once after a change), so
// no reader ever sees a correction half applied and none waits for the discipline.
#pragma once

#include <memory>

#include "core/clock.h"
#include "core/virtual_clock.h"
#include "daemon/config.h"

namespace tr7::daemon {

class SystemClock final : public core::Clock {
 public:
  // kernel_control: where kernel-mode corrections go (not owned); nullptr: KernelClock.
  explicit SystemClock(ClockMode mode, core::ClockControl* kernel_control = nullptr);
  ~SystemClock() override;
  core::Timestamp now() const override;
  core::Timestamp cook(core::Timestamp raw) const override;
  ClockMode mode() const { return m_mode; }
  // Where the discipline's corrections go: the virtual clock (none) or the kernel.
  core::ClockControl& control() { return *m_control; }

 private:
  class SharedVirtual;
  ClockMode m_mode;
  std::unique_ptr<SharedVirtual> m_virtual;
  std::unique_ptr<core::ClockControl> m_control_owner;
  core::ClockControl* m_control = nullptr;
};

}  // namespace tr7::daemon
