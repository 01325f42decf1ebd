#include "daemon/system_clock.h"

#include "daemon/kernel_clock.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {
core::Timestamp raw_now(void*) { return sys::realtime_now(); }
}  // namespace

SystemClock::SystemClock(ClockMode mode, core::ClockControl* kernel_control) : m_mode(mode) {
  if (mode == ClockMode::None) {
    m_virtual = std::make_unique<core::VirtualClock>(&raw_now, nullptr);
    m_control = m_virtual.get();
  } else if (kernel_control != nullptr) {
    m_control = kernel_control;  // the privileged helper (privilege separation)
  } else {
    m_control_owner = std::make_unique<KernelClock>();  // one process: clock_adjtime here
    m_control = m_control_owner.get();
  }
}

core::Timestamp SystemClock::now() const { return cook(sys::realtime_now()); }

core::Timestamp SystemClock::cook(core::Timestamp raw) const {
  // Kernel mode: the system clock is the disciplined clock. None: add our correction.
  return m_virtual ? m_virtual->cook(raw) : raw;
}

}  // namespace tr7::daemon
