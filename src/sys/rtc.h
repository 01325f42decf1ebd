// A Linux RTC device (/dev/rtcN) through RTC_RD_TIME / RTC_SET_TIME. Thin wrapper: the
// RTC keeps UTC. Writing needs CAP_SYS_TIME (only the privileged helper writes).
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "core/rtc.h"
#include "sys/fd.h"

namespace tr7::sys {

class DeviceRtc final : public core::Rtc {
 public:
  // Opens the device read-only, close-on-exec; it must be a character device. Returns an
  // errno (ENODEV when it is something else).
  static Result<std::unique_ptr<DeviceRtc>, int> open(const std::string& path);

  Result<core::Timestamp, int> read() override;
  Result<void, int> write(core::Timestamp t) override;
  int fd() const { return m_fd.get(); }

 private:
  explicit DeviceRtc(Fd fd) : m_fd(std::move(fd)) {}
  Fd m_fd;
};

}  // namespace tr7::sys
