// The real-time clock (the battery-backed hardware clock), as an interface: the daemon
// uses a device (/dev/rtcN, src/sys/rtc.h) through the privileged helper; tests use fakes.
// No I/O here. An RTC keeps UTC with a resolution of one second.
#pragma once

#include "core/result.h"
#include "core/time.h"

namespace tr7::core {

class Rtc {
 public:
  virtual ~Rtc() = default;
  // The RTC's time, or an errno (EINVAL for a time the RTC cannot hold or reports garbage).
  virtual Result<Timestamp, int> read() = 0;
  // Sets the RTC to `t` (truncated to the second by the hardware). Returns an errno on failure.
  virtual Result<void, int> write(Timestamp t) = 0;
};

}  // namespace tr7::core
