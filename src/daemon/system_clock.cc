#include "daemon/system_clock.h"

#include "sys/clock.h"

namespace tr7::daemon {

core::Timestamp SystemClock::now() const { return cook(sys::realtime_now()); }

core::Timestamp SystemClock::cook(core::Timestamp raw) const {
  // No correction exists yet: both modes serve the system clock as it is.
  return raw;
}

}  // namespace tr7::daemon
